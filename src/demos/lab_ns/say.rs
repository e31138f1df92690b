//! What `netlab lab` says, in both languages: each message with arguments is
//! one function, its English and Chinese side by side; the story only chooses.

use crate::lab::link::{period, Pattern, Shaping};
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

/// A rootless lab that was broken was replaced: what was wrong with it.
pub fn replaced_broken(missing: &[String]) -> Text {
    let shown: Vec<&str> = missing.iter().take(3).map(String::as_str).collect();
    let more = missing.len().saturating_sub(shown.len());
    let (en_more, zh_more) = if more > 0 {
        (format!(" and {more} more"), format!(" 等另外 {more} 处"))
    } else {
        (String::new(), String::new())
    };
    tx(
        format!(
            "Your lab was broken ({}{en_more}): replaced",
            shown.join("; ")
        ),
        format!(
            "你的实验网络不完整（{}{zh_more}）：已替换",
            shown.join("；")
        ),
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

/// Which packets a loss drops: "every 5th packet", "3 of every 10 packets", "at random".
fn chosen(s: &Shaping) -> Text {
    let (k, m) = period(s.loss);
    match s.loss_pattern {
        _ if s.loss >= 100 => tx("every packet", "全部丢弃"),
        Pattern::Random => tx("at random", "随机丢弃"),
        Pattern::Fixed if k == 1 => tx(
            format!("every {}{} packet", m, ordinal(m)),
            format!("每 {m} 个包丢 1 个"),
        ),
        Pattern::Fixed => tx(
            format!("{k} of every {m} packets"),
            format!("每 {m} 个包丢 {k} 个"),
        ),
    }
}

/// "st", "nd", "rd" or "th" after a number in English.
fn ordinal(n: u32) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

/// How a cable is shaped, each way: `20 % loss, 30 ms delay, 5 Mbit/s`
/// (with `which`, the loss says which packets: `20 % loss (every 5th
/// packet)`); `by_line` says the delay is netlab's delay line.
pub fn shaping(s: &Shaping, by_line: bool, which: bool) -> Text {
    let mut en = Vec::new();
    let mut zh = Vec::new();
    if s.loss > 0 && which {
        let c = chosen(s);
        en.push(format!("{} % loss ({})", s.loss, c.en));
        zh.push(format!("丢包 {} %（{}）", s.loss, c.zh));
    } else if s.loss > 0 {
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
        format!("each way: {}", en.join(", ")),
        format!("双向：{}", zh.join("，")),
    )
}

/// The shaping step's title.
pub fn shaped(host: &str, s: &Shaping, by_line: bool) -> Text {
    let t = shaping(s, by_line, false);
    tx(
        format!("{host}'s cable, {}", t.en),
        format!("{host} 的网线，{}", t.zh),
    )
}

/// What to try on a shaped cable: a ping across it, and, with loss, how
/// many of its echoes will go unanswered (the cable is crossed twice).
pub fn shaped_detail(host: &str, s: &Shaping) -> Text {
    let to = match host {
        "h1" => "198.51.100.20",
        "h2" => "198.51.100.10",
        _ => "198.51.100.10",
    };
    let mut t = tx(
        format!("Every packet through that cable now meets the same conditions, whatever program sends it: try `netlab lab exec {host} -- ping -c 20 {to}`."),
        format!("经过这根网线的每个包都受同样的影响，不管是哪个程序发的：试试 `netlab lab exec {host} -- ping -c 20 {to}`。"),
    );
    let echoes = ping_sees(s);
    t.en.push_str(&echoes.en);
    t.zh.push_str(&echoes.zh);
    t.en.push_str(" `netlab lab up` again without these flags makes it clean.");
    t.zh.push_str("不带这些参数再运行一次 `netlab lab up` 就恢复正常。");
    t
}

/// What a student's ping will see: a request crosses the cable and its reply
/// crosses it again, each losing p, so 1 − (1 − p)² of echoes go unanswered.
pub fn ping_sees(s: &Shaping) -> Text {
    let p = s.loss;
    if p == 0 {
        return tx("", "");
    }
    if p >= 100 {
        return tx(
            " No ping gets through: every request is dropped.",
            "ping 一个也过不去：每个请求都被丢弃。",
        );
    }
    let lost = s.echoes_lost_percent();
    let q = f64::from(p) / 100.0;
    let rule = crate::lab::link::loss_rule(p, s.loss_pattern);
    let c = chosen(s);
    let shown = if (lost - lost.round()).abs() < 0.05 {
        format!("{lost:.0}")
    } else {
        format!("{lost:.1}")
    };
    match s.loss_pattern {
        Pattern::Fixed => {
            // Over M² pings the pattern loses exactly K·M requests and K·(M − K) replies.
            let (k, m) = period(p);
            let (pings, req, rep) = (m * m, k * m, k * (m - k));
            tx(
                format!(" Each way it drops {} (nft `{rule}`), the same ones every time; --random-loss throws dice instead. A ping crosses it twice, request and reply, so 1 − (1 − {q})² = {shown} % of echoes go unanswered: of every {pings} pings, {req} requests and {rep} replies are dropped.", c.en),
                format!("每个方向{}（nft `{rule}`），每次丢的都是同一批；--random-loss 改为随机丢弃。一次 ping 要两次经过这根网线（请求和应答），所以有 1 − (1 − {q})² = {shown} % 的回显得不到应答：每 {pings} 次 ping，丢 {req} 个请求和 {rep} 个应答。", c.zh),
            )
        }
        Pattern::Random => tx(
            format!(" Each packet is dropped at random (nft `{rule}`). A ping crosses the cable twice, request and reply, so about 1 − (1 − {q})² = {shown} % of echoes go unanswered; which ones differs from run to run."),
            format!("每个包是否丢弃随机决定（nft `{rule}`）。一次 ping 要两次经过这根网线（请求和应答），所以约有 1 − (1 − {q})² = {shown} % 的回显得不到应答；丢哪些每次都不同。"),
        ),
    }
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
