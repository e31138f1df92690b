//! What `netlab traceroute` says, in both languages: each message with
//! arguments is one function, its English and Chinese side by side.

use std::net::Ipv4Addr;

use crate::icmp::trace::{Probe, Reply};
use crate::lab::wan::Shape;
use crate::narrate::{tx, Text};

/// Who an address is in the lab.
pub fn who(a: Ipv4Addr) -> String {
    match crate::lab::topology::host_of_ip(a) {
        Some(h) => format!("{h} {a}"),
        None => a.to_string(),
    }
}

/// The RTTs of one TTL's probes, traceroute style (`*` for none), two
/// spaces apart (a no-break space keeps the wrapper from folding them).
pub fn rtts(probes: &[&Probe]) -> String {
    probes
        .iter()
        .map(|p| match p.rtt_ms {
            Some(ms) => format!("{ms:.2}\u{a0}ms"),
            None => "*".into(),
        })
        .collect::<Vec<_>>()
        .join("\u{a0} ")
}

/// The first probe of a hop took much longer than the rest: its router had
/// to ask ARP for the next hop first.
pub fn first_slower(first: f64, rest: f64) -> Text {
    tx(
        format!("the first probe took {first:.1} ms, the others about {rest:.1} ms: the router first asked ARP for the next hop, across the same link"),
        format!("第一个探测包用了 {first:.1} ms，其余约 {rest:.1} ms：路由器要先用 ARP 问下一跳的 MAC，也要走这段链路"),
    )
}

/// What answered, in words.
pub fn reply(r: Reply) -> Text {
    match r {
        Reply::TimeExceeded => tx("time exceeded", "超时（time exceeded）"),
        Reply::PortUnreachable => tx("port unreachable", "端口不可达"),
        Reply::EchoReply => tx("echo reply", "回显应答"),
        Reply::Unreachable => tx("unreachable", "不可达"),
        Reply::None => tx("no answer", "无应答"),
    }
}

/// The WAN step's title.
pub fn wan_title(s: &Shape) -> Text {
    tx(
        format!(
            "The lab grows a WAN: r1 —{} ms, {} Mbit/s— r2, and LAN C behind r2's NAT",
            s.delay_ms, s.rate_mbit
        ),
        format!(
            "实验网络加上一段广域网：r1 —{} ms、{} Mbit/s— r2，r2 的 NAT 后面是局域网 C",
            s.delay_ms, s.rate_mbit
        ),
    )
}

/// The WAN link's line.
pub fn wan_link(s: &Shape) -> Text {
    tx(
        format!(
            "203.0.113.128/30: r1 eth2 .129 ⇄ r2 eth0 .130; {} ms each way (netlab's delay line: this kernel has no netem), {} Mbit/s (tc tbf)",
            s.delay_ms, s.rate_mbit
        ),
        format!(
            "203.0.113.128/30：r1 eth2 .129 ⇄ r2 eth0 .130；单向 {} ms（netlab 的延迟线：本机内核没有 netem），{} Mbit/s（tc tbf）",
            s.delay_ms, s.rate_mbit
        ),
    )
}

/// One TTL's title.
pub fn hop(ttl: u8, probes: &[&Probe]) -> Text {
    let first = probes.iter().find(|p| p.address.is_some());
    let (addr, r) = match first {
        Some(p) => (p.address.map(who).unwrap_or_default(), reply(p.reply)),
        None => ("*".into(), reply(Reply::None)),
    };
    let t = rtts(probes);
    tx(
        format!("TTL {ttl}: {addr}, {}:\u{a0} {t}", r.en),
        format!("TTL {ttl}：{addr}，{}：{t}", r.zh),
    )
}

/// What a hop's answer means.
pub fn hop_detail(p: Option<&Probe>, target: Ipv4Addr, first_router: bool) -> Text {
    match p.map(|p| (p.reply, p.address)) {
        Some((Reply::TimeExceeded, _)) if first_router => tx(
            "Each router lowers the TTL by one; the one that brings it to zero drops the probe and sends back ICMP time exceeded (type 11) from its own address: that is how a hop shows itself.",
            "每个路由器把 TTL 减一；减到零的那个路由器丢掉探测包，并从自己的地址发回 ICMP 超时（类型 11）：路由器就这样现身。",
        ),
        Some((Reply::TimeExceeded, _)) => tx(
            "The TTL lasted one hop longer: the next router answers.",
            "TTL 多撑了一跳：下一个路由器应答。",
        ),
        Some((Reply::PortUnreachable, Some(a))) if a == target => tx(
            "The probe reached the target, where no program listens on port 33434 and up: its kernel answers ICMP port unreachable (type 3, code 3), and the trace is over.",
            "探测包到达了目标，目标上没有程序监听 33434 及以上的端口：它的内核回 ICMP 端口不可达（类型 3，代码 3），追踪结束。",
        ),
        Some((Reply::EchoReply, _)) => tx(
            "The target answers the echo request itself: the trace is over.",
            "目标自己回了回显应答：追踪结束。",
        ),
        _ => tx(
            "Nothing came back within the wait: a router that sends no ICMP, or a filter.",
            "等待时间内没有任何回应：可能是不发 ICMP 的路由器，或被过滤了。",
        ),
    }
}

/// The WAN's cost, from the fastest probes on either side of it; `with_arp`
/// when the only probe also waited for r1's ARP across the WAN.
pub fn wan_cost(before: f64, after: f64, delay_ms: u32, with_arp: bool) -> Text {
    let d = after - before;
    if with_arp {
        return tx(
            format!("+{d:.1} ms from hop 1 to hop 2: the WAN's {delay_ms} ms there and back, twice, since r1 first asked ARP for r2 across it"),
            format!("从第 1 跳到第 2 跳多了 {d:.1} ms：广域网单向 {delay_ms} ms 的一去一回走了两遍，因为 r1 先要隔着它用 ARP 问 r2"),
        );
    }
    tx(
        format!("+{d:.1} ms from hop 1 to hop 2: the WAN's {delay_ms} ms, there and back"),
        format!("从第 1 跳到第 2 跳多了 {d:.1} ms：广域网单向 {delay_ms} ms，一去一回"),
    )
}

/// The LAN/WAN step's title.
pub fn lan_wan_title(lan: usize, wan_from_lan: usize) -> Text {
    tx(
        format!("{lan} ARP broadcasts on LAN A, {wan_from_lan} of them on the WAN: a broadcast stops at the router"),
        format!("局域网 A 上有 {lan} 个 ARP 广播，广域网上有 {wan_from_lan} 个：广播止于路由器"),
    )
}

/// What the WAN link carried during the trace.
pub fn wan_frames(frames: usize, arps: usize) -> Text {
    tx(
        format!("{frames} frames, {arps} of them ARP between r1 and r2 for each other (the WAN's own link)"),
        format!("{frames} 个帧，其中 {arps} 个是 r1 和 r2 互相询问的 ARP（广域网自己这段链路上的）"),
    )
}

/// The NAT step's title.
pub fn nat_title(inside: &str, outside: &str) -> Text {
    tx(
        format!("h4 connects from {inside}; h1 sees {outside}: r2's address"),
        format!("h4 从 {inside} 发起连接；h1 看到的是 {outside}：r2 的地址"),
    )
}

/// A side of the NAT.
pub fn nat_side(host: &str, addr: &str, link: &str) -> Text {
    tx(
        format!("{host}'s SYN on {link}: from {addr}"),
        format!("{host} 的 SYN，在 {link} 上：源 {addr}"),
    )
}

/// The summary's headline.
pub fn summary(target: &str, reached: bool, hops: u8) -> Text {
    if reached {
        tx(
            format!(
                "{target} reached in {}",
                crate::narrate::plural(hops, "hop", "hops")
            ),
            format!("{hops} 跳到达 {target}"),
        )
    } else {
        tx(
            format!("{target} not reached within {hops} hops"),
            format!("{hops} 跳之内没有到达 {target}"),
        )
    }
}
