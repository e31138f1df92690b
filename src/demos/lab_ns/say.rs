//! What `netlab lab` says, in both languages: each message with arguments is
//! one function, its English and Chinese side by side; the story only chooses.

use crate::narrate::{tx, Text};

/// A rootless lab is up, kept by its holder process.
pub fn rootless_up(pid: u32) -> Text {
    tx(
        format!("Five network namespaces joined by veth cables, in a user namespace of your own, kept by process {pid} until `netlab lab down`. Only you can enter it: `netlab lab exec h1 -- ping -c 1 203.0.113.10`."),
        format!("五个由 veth 虚拟网线相连的网络命名空间，位于你自己的用户命名空间里，由进程 {pid} 保持，直到执行 `netlab lab down`。只有你能进入：`netlab lab exec h1 -- ping -c 1 203.0.113.10`。"),
    )
}

/// What was left of a broken lab was removed.
pub fn removed_broken(n: usize) -> Text {
    tx(
        format!("Removed {n} namespaces of a broken lab"),
        format!("已删除一个不完整实验网络的 {n} 个命名空间"),
    )
}

/// `lab down` removed these.
pub fn removed(n: usize) -> Text {
    tx(
        format!("Removed {n} namespaces"),
        format!("已删除 {n} 个命名空间"),
    )
}

/// The lab is broken: what is missing.
pub fn broken(missing: &[String]) -> Text {
    tx(
        format!(
            "the lab is broken ({}): `netlab lab up` rebuilds it",
            missing.join("; ")
        ),
        format!(
            "实验网络不完整（缺少：{}）：`netlab lab up` 可重建",
            missing.join("；")
        ),
    )
}

/// One thing a broken lab lacks.
pub fn missing(what: &str) -> Text {
    tx(format!("missing: {what}"), format!("缺少：{what}"))
}

/// A host's heading in `lab status`: its name and what it is.
pub fn host(name: &str) -> Text {
    let (en, zh) = match name {
        "sw1" => (
            "switch (Linux bridge br0, layer 2)",
            "交换机（Linux 网桥 br0，二层）",
        ),
        "h1" | "h2" => ("host on LAN A", "局域网 A 上的主机"),
        "r1" => (
            "router between LAN A and LAN B (layer 3)",
            "局域网 A 与 B 之间的路由器（三层）",
        ),
        "h3" => ("host on LAN B", "局域网 B 上的主机"),
        _ => ("lab host", "实验主机"),
    };
    tx(format!("{name} — {en}"), format!("{name} — {zh}"))
}

/// The shaping step's title.
pub fn shaped(host: &str, s: &crate::lab::link::Shaping, by_line: bool) -> Text {
    let mut en = Vec::new();
    let mut zh = Vec::new();
    if s.loss > 0 {
        en.push(format!("{} % loss", s.loss));
        zh.push(format!("丢包 {} %", s.loss));
    }
    if let Some(d) = s.delay_ms {
        if by_line {
            en.push(format!("{d} ms delay (netlab's delay line: no netem here)"));
            zh.push(format!("延迟 {d} ms（netlab 的延迟线：本机没有 netem）"));
        } else {
            en.push(format!("{d} ms delay"));
            zh.push(format!("延迟 {d} ms"));
        }
    }
    if let Some(r) = s.rate_mbit {
        en.push(format!("{r} Mbit/s"));
        zh.push(format!("{r} Mbit/s"));
    }
    tx(
        format!("{host}'s cable, each way: {}", en.join(", ")),
        format!("{host} 的网线，双向：{}", zh.join("，")),
    )
}

/// What to try on a shaped cable: a ping across it.
pub fn shaped_detail(host: &str) -> Text {
    let to = match host {
        "h1" => "198.51.100.20",
        "h2" => "198.51.100.10",
        _ => "198.51.100.10",
    };
    tx(
        format!("Every packet through that cable now meets the same conditions, whatever program sends it: try `netlab lab exec {host} -- ping -c 20 {to}`. `netlab lab up` again without these flags makes it clean."),
        format!("经过这根网线的每个包都受同样的影响，不管是哪个程序发的：试试 `netlab lab exec {host} -- ping -c 20 {to}`。不带这些参数再运行一次 `netlab lab up` 就恢复正常。"),
    )
}

/// One interface in `lab status`: MAC, addresses, state and the far end of
/// its cable, single-spaced (the text view aligns the labels, not values).
pub fn iface(i: &crate::lab::topology::IfaceState) -> Text {
    let ip = if i.ip.is_empty() {
        String::new()
    } else {
        format!(" {}", i.ip.join(" "))
    };
    let peer = if i.peer.is_empty() {
        String::new()
    } else {
        format!(" ↔ {}", i.peer)
    };
    Text::from(format!("{}{ip} {}{peer}", i.mac, i.state))
}
