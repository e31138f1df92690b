//! What `netlab failover` says, in both languages: each message with
//! arguments is one function, its English and Chinese side by side.

use crate::cli::VrrpSpeaker;
use crate::lab::failover::Neighbour;
use crate::narrate::{tx, Text};

/// The first step's detail.
pub fn setup(advert_ms: u32) -> Text {
    tx(
        format!("h1's default gateway is 198.51.100.65, an address neither router owns: r1 and r2 agree with VRRP which of them holds it. The master says so every {advert_ms} ms to 224.0.0.18 (IP protocol 112, TTL 255, so an advert never comes from beyond the LAN); a backup that hears nothing for 3 intervals and a little more takes the address over. h1 pings h3, which lies beyond both."),
        format!("h1 的默认网关是 198.51.100.65，这个地址不属于任何一台路由器：r1 和 r2 用 VRRP 商定由谁持有它。主路由器每 {advert_ms} ms 向 224.0.0.18 宣告一次（IP 协议号 112，TTL 255，因此通告不可能来自局域网之外）；备用路由器若 3 个间隔再多一点都没听到通告，就接管这个地址。h1 去 ping 两台路由器之后的 h3。"),
    )
}

/// Who speaks VRRP.
pub fn speaker(s: VrrpSpeaker) -> Text {
    match s {
        VrrpSpeaker::Netlab => tx(
            "netlab's own VRRP speaker (RFC 5798, version 3)",
            "netlab 自己实现的 VRRP（RFC 5798，第 3 版）",
        ),
        VrrpSpeaker::Keepalived => tx(
            "the system's keepalived, in each router's namespace, with this configuration (r1's; r2's differs only in router_id and priority 100):",
            "系统自带的 keepalived，在每台路由器的命名空间里运行，配置如下（r1 的；r2 的只有 router_id 和 priority 100 不同）：",
        ),
    }
}

/// A router's line: address, priority, MAC, master-down interval.
pub fn router(addr: &str, priority: u8, mac: &str, down_ms: u64) -> Text {
    tx(
        format!("{addr}, priority {priority}, MAC {mac}; waits {down_ms} ms without adverts"),
        format!("{addr}，优先级 {priority}，MAC {mac}；{down_ms} ms 听不到通告就接管"),
    )
}

/// The election's detail.
pub fn election(r1_down: u64, r2_down: u64) -> Text {
    tx(
        format!("Both routers start as Backup and wait out the master-down interval, 3 × interval + (256 − priority) / 256 × interval: {r1_down} ms for r1, {r2_down} ms for r2. The higher priority waits less, so r1 goes first: it takes the address, advertises, and broadcasts a gratuitous ARP (\"198.51.100.65 is at my MAC\"). r2 hears an advert of a higher priority and stays Backup."),
        format!("两台路由器都以备用（Backup）状态启动，先等满“主路由器失效间隔”：3 × 间隔 + (256 − 优先级) / 256 × 间隔，r1 是 {r1_down} ms，r2 是 {r2_down} ms。优先级越高等得越短，所以 r1 先到：它拿下地址、发出通告，并广播一个免费 ARP（“198.51.100.65 在我的 MAC 上”）。r2 听到更高优先级的通告，继续当备用。"),
    )
}

/// When the first advert came, against the prediction.
pub fn first_advert(host: &str, after_ms: u64, predicted_ms: u64) -> Text {
    tx(
        format!("{host}, {after_ms} ms after the speakers started (its master-down interval: {predicted_ms} ms)"),
        format!("{host}，在 VRRP 启动后 {after_ms} ms（它的主路由器失效间隔：{predicted_ms} ms）"),
    )
}

/// How many adverts a router sent in a part, and how far apart.
pub fn adverts(host: &str, n: usize, every_ms: Option<u64>) -> Text {
    match every_ms {
        Some(ms) => tx(
            format!("{host} sent {n}, about {ms} ms apart"),
            format!("{host} 发了 {n} 个，间隔约 {ms} ms"),
        ),
        None => tx(format!("{host} sent {n}"), format!("{host} 发了 {n} 个")),
    }
}

/// The pings' detail.
pub fn through(ping_ms: u16, master: &str) -> Text {
    tx(
        format!("h1 sends an echo to h3 (203.0.113.100) every {ping_ms} ms. Its gateway is the virtual address, so it asks who has 198.51.100.65: {master}, the master, answers with its own MAC, and forwards the echoes to h3."),
        format!("h1 每 {ping_ms} ms 向 h3（203.0.113.100）发一个回显请求。它的网关是那个虚拟地址，于是先问谁有 198.51.100.65：主路由器 {master} 用自己的 MAC 作答，并把回显转发给 h3。"),
    )
}

/// Echoes sent and answered.
pub fn echoes(sent: usize, answered: usize) -> Text {
    tx(
        format!("{sent} sent, {answered} answered"),
        format!("发出 {sent} 个，收到 {answered} 个应答"),
    )
}

/// A neighbour entry, and whose MAC it is.
pub fn neighbour(n: Option<&Neighbour>, owner: Option<&str>) -> Text {
    match n {
        Some(n) => {
            let who = owner.map(|o| format!(" ({o})")).unwrap_or_default();
            let who_zh = owner.map(|o| format!("（{o}）")).unwrap_or_default();
            tx(
                format!("198.51.100.65 → {}{who}, {}", n.mac, n.state),
                format!("198.51.100.65 → {}{who_zh}，{}", n.mac, n.state),
            )
        }
        None => tx("no entry for 198.51.100.65", "没有 198.51.100.65 的条目"),
    }
}

/// The crash's detail.
pub fn crash(s: VrrpSpeaker, old: &str) -> Text {
    let (how, how_zh) = match s {
        VrrpSpeaker::Netlab => ("its VRRP speaker is stopped", "它的 VRRP 进程被停掉"),
        VrrpSpeaker::Keepalived => (
            "its keepalived is killed (SIGKILL)",
            "它的 keepalived 被杀掉（SIGKILL）",
        ),
    };
    tx(
        format!("{old}'s links go down and {how}: no goodbye advert with priority 0, just silence, as when a router loses power. h1 still sends to {old}'s MAC, and the echoes vanish. The backup hears no advert and waits out its master-down interval."),
        format!("{old} 的链路断开，{how_zh}：没有优先级为 0 的告别通告，只有沉默，就像路由器断电。h1 仍然发往 {old} 的 MAC，回显请求石沉大海。备用路由器听不到通告，开始等满它的主路由器失效间隔。"),
    )
}

/// How long the LAN went without an advert, and the echoes lost meanwhile.
pub fn silence(old: &str, ms: Option<u64>, lost: usize) -> Text {
    match ms {
        Some(ms) => tx(
            format!("no advert for {ms} ms after {old}'s last; {lost} echoes unanswered meanwhile"),
            format!("{old} 的最后一个通告之后 {ms} ms 没有任何通告；其间 {lost} 个回显没有应答"),
        ),
        None => tx(
            format!("no advert after {old}'s last; {lost} echoes unanswered"),
            format!("{old} 的最后一个通告之后再无通告；{lost} 个回显没有应答"),
        ),
    }
}

/// The takeover's detail.
pub fn takeover(new: &str, moved: bool) -> Text {
    let (h1, h1_zh) = if moved {
        (format!("h1 updates its entry for the virtual address to {new}'s MAC, and the echoes come back, now through {new}."),
         format!("h1 把虚拟地址对应的条目改成 {new} 的 MAC，回显应答恢复，这回经由 {new}。"))
    } else {
        (
            format!(
                "Yet h1's entry for the virtual address does not point at {new}'s MAC (see below)."
            ),
            format!("然而 h1 里虚拟地址对应的条目并没有指向 {new} 的 MAC（见下）。"),
        )
    };
    tx(
        format!("{new}'s master-down timer ran out: it adds 198.51.100.65 to its eth0, advertises, and broadcasts a gratuitous ARP. {h1} Here the master answers with its own MAC, keepalived's default; with RFC 5798's virtual MAC 00:00:5e:00:01:01 (keepalived's use_vmac) h1's entry would not change at all, and the gratuitous ARP would only teach the switch which port that MAC is on now."),
        format!("{new} 的主路由器失效计时器到期：它把 198.51.100.65 加到自己的 eth0 上，发出通告，并广播免费 ARP。{h1_zh}这里主路由器用自己的 MAC 应答，这是 keepalived 的默认做法；若用 RFC 5798 的虚拟 MAC 00:00:5e:00:01:01（keepalived 的 use_vmac），h1 的条目根本不变，免费 ARP 只是告诉交换机这个 MAC 现在在哪个端口。"),
    )
}

/// The takeover time, against the prediction.
pub fn took(old: &str, new: &str, ms: u64, predicted: u64) -> Text {
    tx(
        format!("{ms} ms from {old}'s last advert to {new}'s first (3 intervals + skew: {predicted} ms)"),
        format!("从 {old} 的最后一个通告到 {new} 的第一个通告 {ms} ms（3 个间隔 + 偏移：{predicted} ms）"),
    )
}

/// The gap in replies, and the echoes lost in it.
pub fn gap(ms: Option<u64>, lost: usize, sent: usize) -> Text {
    match ms {
        Some(ms) => tx(
            format!("no reply for {ms} ms; {lost} of {sent} echoes lost"),
            format!("{ms} ms 没有应答；{sent} 个回显丢了 {lost} 个"),
        ),
        None => tx(
            format!("{lost} of {sent} echoes lost"),
            format!("{sent} 个回显丢了 {lost} 个"),
        ),
    }
}

/// What the pinger itself counted.
pub fn pinger(sent: usize, lost: usize) -> Text {
    tx(
        format!("the pinger's own count: {lost} of {sent} without a reply"),
        format!("ping 程序自己的统计：{sent} 个里 {lost} 个没有应答"),
    )
}

/// The run's headline.
pub fn summary(
    old: &str,
    new: Option<&str>,
    takeover_ms: Option<u64>,
    lost: usize,
    sent: usize,
) -> Text {
    match (new, takeover_ms) {
        (Some(new), Some(ms)) => tx(
            format!(
                "{new} took 198.51.100.65 over from {old} in {ms} ms; {lost} of {sent} echoes lost"
            ),
            format!(
                "{new} 用 {ms} ms 从 {old} 手里接管了 198.51.100.65；{sent} 个回显丢了 {lost} 个"
            ),
        ),
        _ => tx(
            format!("no router took 198.51.100.65 over from {old}; {lost} of {sent} echoes lost"),
            format!("没有路由器从 {old} 手里接管 198.51.100.65；{sent} 个回显丢了 {lost} 个"),
        ),
    }
}
