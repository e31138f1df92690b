//! What `netlab traceroute` says, in both languages: each message with
//! arguments is one function, its English and Chinese side by side.

use std::net::Ipv4Addr;

use crate::icmp::trace::{Probe, Reply};
use crate::lab::wan::Shape;
use crate::narrate::{plural, tx, Text};

/// Who an address is in the lab.
pub fn who(a: Ipv4Addr) -> String {
    match crate::lab::topology::host_of_ip(a) {
        Some(h) => format!("{h} {a}"),
        None => a.to_string(),
    }
}

/// A lab host's name for an address (the address itself if no host has it).
pub fn name(a: Ipv4Addr) -> String {
    crate::lab::topology::host_of_ip(a).map_or_else(|| a.to_string(), str::to_string)
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

/// What a hop's answer means; `udp` when the probes are UDP datagrams
/// (else ICMP echo requests, `-I`), `sent` how many left with this TTL.
pub fn hop_detail(
    p: Option<&Probe>,
    target: Ipv4Addr,
    first_router: bool,
    udp: bool,
    sent: usize,
) -> Text {
    let ttl = p.map_or(0, |p| p.ttl);
    let n = plural(sent as u64, "probe", "probes");
    let probes = match (udp, first_router) {
        (true, true) => (
            format!("{n} with TTL {ttl}: UDP datagrams to port 33434 and up, where nothing listens"),
            format!("{sent} 个 TTL 为 {ttl} 的探测包：发往 33434 及以上端口的 UDP 数据报，那里没有程序监听"),
        ),
        (true, false) => (
            format!("{} with TTL {ttl}", plural(sent as u64, "UDP probe", "UDP probes")),
            format!("{sent} 个 TTL 为 {ttl} 的 UDP 探测包"),
        ),
        (false, true) => (
            format!("{n} with TTL {ttl}: ICMP echo requests"),
            format!("{sent} 个 TTL 为 {ttl} 的探测包：ICMP 回显请求"),
        ),
        (false, false) => (
            format!("{} with TTL {ttl}", plural(sent as u64, "ICMP echo probe", "ICMP echo probes")),
            format!("{sent} 个 TTL 为 {ttl} 的 ICMP 回显探测包"),
        ),
    };
    match p.map(|p| (p.reply, p.address)) {
        Some((Reply::TimeExceeded, _)) if first_router => tx(
            format!("h1 sends {}. Each router lowers the TTL by one; the one that brings it to zero drops the probe and sends back ICMP time exceeded (type 11) from its own address: that is how a hop shows itself.", probes.0),
            format!("h1 发出 {}。每个路由器把 TTL 减一；减到零的那个路由器丢掉探测包，并从自己的地址发回 ICMP 超时（类型 11）：路由器就这样现身。", probes.1),
        ),
        Some((Reply::TimeExceeded, _)) => tx(
            format!("h1 sends {}. They last one hop longer: the next router sends back ICMP time exceeded.", probes.0),
            format!("h1 发出 {}。它们多撑了一跳：下一个路由器发回 ICMP 超时。", probes.1),
        ),
        Some((Reply::PortUnreachable, Some(a))) if a == target => tx(
            format!("h1 sends {}. They reach the target, whose kernel answers ICMP port unreachable (type 3, code 3): the trace is over.", probes.0),
            format!("h1 发出 {}。它们到达了目标，目标的内核回 ICMP 端口不可达（类型 3，代码 3）：追踪结束。", probes.1),
        ),
        Some((Reply::EchoReply, _)) => tx(
            format!("h1 sends {}. The target answers them itself, with ICMP echo replies: the trace is over.", probes.0),
            format!("h1 发出 {}。目标自己回了 ICMP 回显应答：追踪结束。", probes.1),
        ),
        _ => tx(
            format!("h1 sends {}. Nothing came back within the wait: a router that sends no ICMP, or a filter.", probes.0),
            format!("h1 发出 {}。等待时间内没有任何回应：可能是不发 ICMP 的路由器，或被过滤了。", probes.1),
        ),
    }
}

/// The ARP requests a TTL's window carried, asker and asked (lab host
/// names): the first probe of that TTL waited for them.
pub fn arp_first(asked: &[(String, String)]) -> Option<Text> {
    if asked.is_empty() {
        return None;
    }
    let en: Vec<String> = asked
        .iter()
        .map(|(who, whom)| format!("{who} asked ARP for {whom}'s MAC"))
        .collect();
    let zh: Vec<String> = asked
        .iter()
        .map(|(who, whom)| format!("{who} 先用 ARP 问了 {whom} 的 MAC"))
        .collect();
    Some(tx(
        format!("Before the first probe could go on, {}.", en.join(", and ")),
        format!("第一个探测包能继续前进之前，{}。", zh.join("，")),
    ))
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

/// The LAN/WAN step's title, from the frames: ARP broadcasts and unicast
/// replies on h1's link, and the ARP frames on the WAN that name a LAN A address.
pub fn lan_wan_title(broadcasts: usize, replies: usize, wan_from_lan: usize) -> Text {
    let replied = match replies {
        0 => (String::from("with no reply"), String::from("没有得到应答")),
        n => (
            format!(
                "answered by {}",
                plural(n as u64, "unicast reply", "unicast replies")
            ),
            format!("得到 {n} 个单播应答"),
        ),
    };
    tx(
        format!(
            "{} on LAN A, {}; {wan_from_lan} of them on the WAN: a broadcast stops at the router",
            plural(broadcasts as u64, "ARP broadcast", "ARP broadcasts"),
            replied.0
        ),
        format!(
            "局域网 A 上有 {broadcasts} 个 ARP 广播，{}；广域网上{}：广播止于路由器",
            replied.1,
            if wan_from_lan == 0 {
                "一个也没有".to_string()
            } else {
                format!("有 {wan_from_lan} 个")
            }
        ),
    )
}

/// What ARP h1's link carried during the trace.
pub fn lan_arp(broadcasts: usize, replies: usize, others: usize) -> Text {
    let mut en = vec![
        plural(broadcasts as u64, "broadcast request", "broadcast requests"),
        plural(replies as u64, "unicast reply", "unicast replies"),
    ];
    let mut zh = vec![
        format!("{broadcasts} 个广播请求"),
        format!("{replies} 个单播应答"),
    ];
    if others > 0 {
        en.push(plural(others as u64, "unicast request", "unicast requests"));
        zh.push(format!("{others} 个单播请求"));
    }
    tx(
        format!("ARP on h1's link: {}", en.join(", ")),
        format!("h1 链路上的 ARP：{}", zh.join("，")),
    )
}

/// What the WAN link carried during the trace.
pub fn wan_frames(frames: usize, requests: usize, replies: usize) -> Text {
    tx(
        format!(
            "{}; ARP among them: {} and {}, between r1 and r2 (the WAN's own link)",
            plural(frames as u64, "frame", "frames"),
            plural(requests as u64, "request", "requests"),
            plural(replies as u64, "reply", "replies")
        ),
        format!(
            "{frames} 个帧；其中 ARP 有 {requests} 个请求、{replies} 个应答，都在 r1 与 r2 之间（广域网自己这段链路上的）"
        ),
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
pub fn summary(target: &str, delivered: Option<Ipv4Addr>, reached: bool, hops: u8) -> Text {
    match (reached, delivered) {
        (true, Some(h)) => tx(
            format!(
                "{target} reached in {}: {h} answered, this host itself",
                plural(hops, "hop", "hops")
            ),
            format!("{hops} 跳到达 {target}：应答的是 {h}，也就是本机自己"),
        ),
        (true, None) => tx(
            format!("{target} reached in {}", plural(hops, "hop", "hops")),
            format!("{hops} 跳到达 {target}"),
        ),
        (false, _) => tx(
            format!("{target} not reached within {hops} hops"),
            format!("{hops} 跳之内没有到达 {target}"),
        ),
    }
}

/// The target is a broadcast address: refused before any probe.
pub fn broadcast(ip: Ipv4Addr) -> Text {
    tx(
        format!("{ip} is a broadcast address: the kernel sends there only when a program asks to broadcast (SO_BROADCAST), and then every host on the link gets it; traceroute follows the path to one host, so give a host's address"),
        format!("{ip} 是广播地址：只有程序明确要求广播（SO_BROADCAST）时内核才会往那里发，那样链路上每台主机都会收到；traceroute 跟踪的是到一台主机的路径，请给出一台主机的地址"),
    )
}

/// The target stands for this host (0.0.0.0): where the kernel sends the probes.
pub fn this_host(target: Ipv4Addr, host: Ipv4Addr) -> Text {
    tx(
        format!("{target} as a destination means \"this host\": the kernel delivers the probes to its own address {host}, so the trace ends at this machine"),
        format!("{target} 作为目的地址表示“本机”：内核把探测包交给自己的地址 {host}，所以路径终点就是这台机器"),
    )
}

/// An IPv6 target.
pub fn ipv6(target: &str) -> Text {
    tx(
        format!("{target}: IPv6 is not supported by netlab traceroute yet; give an IPv4 address"),
        format!("{target}：netlab traceroute 还不支持 IPv6；请给一个 IPv4 地址"),
    )
}
