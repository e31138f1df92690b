//! What ping says, in both languages: each message is one function, so its
//! English and Chinese are written side by side and the story only chooses.

use std::net::Ipv4Addr;

use crate::narrate::{tx, Text};

/// A reply line; the English is iputils' own, so scripts written for ping can read it.
pub fn reply(bytes: usize, from: Ipv4Addr, seq: u16, ttl: Option<u8>, time: &str) -> Text {
    let ttl = opt(ttl);
    tx(
        format!("{bytes} bytes from {from}: icmp_seq={seq} ttl={ttl} time={time}"),
        format!("{bytes} 字节，来自 {from}：icmp_seq={seq} ttl={ttl} 时间={time}"),
    )
}

/// iputils' first line (the same in both languages: it is ping's own output).
pub fn head(target: &str, ip: Ipv4Addr, size: usize, total: usize) -> Text {
    let head = format!("PING {target} ({ip}) {size}({total}) bytes of data.");
    tx(head.clone(), head)
}

/// The statistics' title.
pub fn statistics(target: &Text) -> Text {
    tx(
        format!("--- {} ping statistics ---", target.en),
        format!("--- {} 的 ping 统计 ---", target.zh),
    )
}

/// The statistics' counts.
pub fn counts(sent: u32, received: u32, loss: f64, ms: u128) -> Text {
    tx(
        format!(
            "{sent} packets transmitted, {received} received, {loss}% packet loss, time {ms}ms"
        ),
        format!("已发送 {sent} 个，收到 {received} 个，丢包 {loss}%，用时 {ms}ms"),
    )
}

/// The statistics' round-trip times.
pub fn rtt(min: f64, avg: f64, max: f64, mdev: f64) -> Text {
    tx(
        format!("rtt min/avg/max/mdev = {min:.3}/{avg:.3}/{max:.3}/{mdev:.3} ms"),
        format!("rtt 最小/平均/最大/偏差 = {min:.3}/{avg:.3}/{max:.3}/{mdev:.3} ms"),
    )
}

/// TARGET is an IPv6 address.
pub fn ipv6(target: &str) -> Text {
    tx(
        format!("{target}: IPv6 is not supported by netlab ping yet; give an IPv4 address"),
        format!("{target}：netlab ping 还不支持 IPv6；请给一个 IPv4 地址"),
    )
}

/// TARGET is neither an address nor a name.
pub fn not_a_target(target: &str) -> Text {
    tx(
        format!("{target:?} is not an IPv4 address (a.b.c.d, each 0-255) or a host name"),
        format!("{target:?} 既不是 IPv4 地址（a.b.c.d，每段 0-255），也不是主机名"),
    )
}

/// The system resolver failed.
pub fn cannot_resolve(target: &str, e: &std::io::Error) -> Text {
    tx(
        format!("cannot resolve {target}: {e}"),
        format!("无法解析 {target}：{}", crate::error::os_error_text(e).zh),
    )
}

/// The name has addresses, none of them IPv4.
pub fn no_ipv4(target: &str) -> Text {
    tx(
        format!("{target} has no IPv4 address"),
        format!("{target} 没有 IPv4 地址"),
    )
}

/// The name was resolved before pinging.
pub fn resolved(target: &str, ip: Ipv4Addr) -> Text {
    tx(
        format!("Resolved {target} to {ip}"),
        format!("已将 {target} 解析为 {ip}"),
    )
}

/// -i below what an unprivileged user may ask for.
pub fn interval_too_short(seconds: f64) -> Text {
    tx(
        format!("-i {seconds}: the shortest interval for an unprivileged user is 0.2 s, as with iputils ping; give -i 0.2 or more, or run with sudo"),
        format!("-i {seconds}：非特权用户的最短间隔是 0.2 秒，与 iputils ping 相同；请给 -i 0.2 或更长，或用 sudo 运行"),
    )
}

/// The kernel refused to send to a broadcast address.
pub fn broadcast(ip: Ipv4Addr) -> Text {
    tx(
        format!("{ip} is a broadcast address: the kernel sends there only when asked to (iputils' -b, which netlab ping does not offer); ping one host"),
        format!("{ip} 是广播地址：只有明确要求时内核才会往那里发（iputils 的 -b，netlab ping 不提供）；请 ping 一台主机"),
    )
}

/// The request netlab wrote (the kernel adds the IP header).
pub fn request(seq: u16, bytes: usize) -> Text {
    tx(
        format!("ICMP echo request seq={seq} ({bytes} bytes; the kernel adds the IP header)"),
        format!("ICMP 回显请求 seq={seq}（{bytes} 字节；IP 头由内核添加）"),
    )
}

/// The packets step when no reply came at all.
pub fn no_reply(sent: usize) -> Text {
    tx(
        format!(
            "{}, no reply: the first, field by field",
            crate::text::plural(sent as u64, "echo request", "echo requests")
        ),
        format!("{sent} 个回显请求，没有应答：第一个，逐字段"),
    )
}

/// The two replies' TTLs, and the routers h3's crossed (from the TTL it
/// left with, `start`).
pub fn ttls(start: Option<u8>, same_lan: Option<u8>, across: Option<u8>) -> Text {
    let (a, b) = (opt(same_lan), opt(across));
    match (start, across) {
        (Some(s), Some(t)) if s >= t => tx(
            format!(
                "Reply TTL {a} from h2, {b} from h3: {} on the way back",
                crate::text::plural(s - t, "router", "routers")
            ),
            format!(
                "h2 的应答 TTL 为 {a}，h3 的为 {b}：回程经过 {} 个路由器",
                s - t
            ),
        ),
        _ => tx(
            format!("Reply TTL {a} from h2, {b} from h3"),
            format!("h2 的应答 TTL 为 {a}，h3 的为 {b}"),
        ),
    }
}

/// What the router hop step explains, from the run's own TTLs: `start` is
/// h3's net.ipv4.ip_default_ttl (the TTL its replies leave with), `across`
/// the TTL h3's first reply arrived with.
pub fn ttl_detail(start: Option<u8>, across: Option<u8>) -> Text {
    let (en, zh) = match (start, across) {
        (Some(s), Some(b)) if s >= b => (
            format!("h3 starts its replies at TTL {s}, and each router takes one off."),
            format!("h3 的应答从 TTL {s} 出发，沿途每个路由器减一。"),
        ),
        _ => (
            "Each router takes one off a packet's TTL.".to_string(),
            "每经过一个路由器，包的 TTL 减一。".to_string(),
        ),
    };
    tx(
        format!("{en} A reply's TTL tells how far it came only if you guess the TTL it started with; traceroute does not guess: it sends probes with TTL 1, 2, 3 … and reads each router's ICMP time exceeded."),
        format!("{zh}应答的 TTL 只有在猜对它出发时的值时，才说明它走了多远；traceroute 不靠猜：它发出 TTL 为 1、2、3……的探测包，读各路由器发回的 ICMP 超时。"),
    )
}

/// A step's detail, after what ARP did first on h1's link (`lan_a`) and
/// on h3's (`lan_b`), as the frames show it.
pub fn arp_first(lan_a: bool, lan_b: bool, rest: Text) -> Text {
    let (en, zh) = match (lan_a, lan_b) {
        (true, true) => (
            "h1 first asked ARP for r1's MAC, r1 for h3's. ",
            "h1 先用 ARP 问了 r1 的 MAC，r1 又在局域网 B 上问了 h3 的。",
        ),
        (true, false) => (
            "h1 first asked ARP for the next hop's MAC. ",
            "h1 先用 ARP 问了下一跳的 MAC。",
        ),
        (false, true) => (
            "r1 first asked ARP for h3's MAC. ",
            "r1 先在局域网 B 上用 ARP 问了 h3 的 MAC。",
        ),
        (false, false) => ("", ""),
    };
    tx(format!("{en}{}", rest.en), format!("{zh}{}", rest.zh))
}

/// The lossy capture's detail: what dropped the requests (`dropped` of
/// them), or why none was.
pub fn lossy_outcome(pct: u8, random: bool, dropped: usize) -> Text {
    let (them, ta) = if dropped == 1 {
        ("it", "它")
    } else {
        ("them", "它们")
    };
    match (pct, random, dropped > 0) {
        (0, _, false) => tx(
            "With --loss 0 h2 has no rule: nothing was dropped.",
            "--loss 0 时 h2 没有规则：什么也没丢。",
        ),
        (_, true, false) => tx(
            "h2's rule drops by chance, and this time it dropped none: run again, or raise --loss.",
            "h2 的规则按概率丢包，这一次一个也没丢：再运行一次，或调高 --loss。",
        ),
        (_, _, false) => tx(
            "No request went unanswered in this capture.",
            "这次抓包里没有哪个请求没得到应答。",
        ),
        (_, true, true) => tx(
            format!("h2's rule dropped {them} by chance; ping only sees silence."),
            format!("{ta}到达 h2 时被规则按概率丢弃；ping 只看到没有回音。"),
        ),
        (_, false, true) => tx(
            format!("h2's rule dropped {them}, as its pattern says; ping only sees silence."),
            format!("{ta}到达 h2 时按规则的模式被丢弃；ping 只看到没有回音。"),
        ),
    }
}

/// Which echo requests a fixed pattern drops among the first `count`:
/// request n is the rule's (n − 1)th match, dropped when that number
/// modulo 100 is one of `values`.
pub fn pattern_seqs(values: &[u8], count: u32) -> Vec<u32> {
    (1..=count)
        .filter(|n| values.contains(&(((n - 1) % 100) as u8)))
        .collect()
}

/// Phase 3's title.
pub fn lossy(pct: u8, random: bool) -> Text {
    if pct == 0 {
        return tx(
            "h2 drops no echo requests (--loss 0)",
            "h2 不丢弃任何回显请求（--loss 0）",
        );
    }
    if random {
        tx(
            format!("h2 drops each echo request with a {pct}% chance"),
            format!("h2 以 {pct}% 的概率丢弃每个回显请求"),
        )
    } else {
        tx(
            format!("h2 drops {pct}% of echo requests in a fixed pattern: every run shows loss"),
            format!("h2 按固定模式丢弃 {pct}% 的回显请求：每次运行都能看到丢包"),
        )
    }
}

/// Phase 3's rule, as a student could type it; `values` are the fixed
/// pattern's (empty with `random`), `count` the requests the phase sends.
pub fn lossy_rule(pct: u8, random: bool, values: &[u8], count: u32) -> Text {
    if pct == 0 {
        return tx(
            "No rule is added, so every request should be answered: give --loss to see loss.",
            "没有添加规则，所以每个请求都应得到应答：给出 --loss 才能看到丢包。",
        );
    }
    if pct == 100 {
        return tx(
            "A firewall (nftables) rule in h2 drops every echo request: `icmp type echo-request drop`",
            "h2 里的一条防火墙（nftables）规则丢弃所有回显请求：`icmp type echo-request drop`",
        );
    }
    if random {
        return tx(
            format!("A firewall (nftables) rule in h2 drops each request with that chance, independently, like a noisy link: `icmp type echo-request numgen random mod 100 < {pct} drop`. Chance can drop none in a short run, or many."),
            format!("h2 里的一条防火墙（nftables）规则以这个概率逐个丢弃请求，彼此独立，就像一条有噪声的链路：`icmp type echo-request numgen random mod 100 < {pct} drop`。次数少时，可能一个也没丢，也可能丢很多。"),
        );
    }
    let seqs = pattern_seqs(values, count);
    let list = |sep: &str| {
        seqs.iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(sep)
    };
    let set: Vec<String> = values.iter().take(3).map(u8::to_string).collect();
    let set = if values.len() > 3 {
        format!("{}, …", set.join(", "))
    } else {
        set.join(", ")
    };
    let which = if seqs.is_empty() {
        (
            format!("none of these {count}"),
            format!("这 {count} 个里一个也不丢"),
        )
    } else {
        (
            format!("here {} of {count}", list(", ")),
            format!("这次的 {count} 个里是第 {} 个", list("、")),
        )
    };
    tx(
        format!("h2's nftables rule drops {pct} of every 100 echo requests, evenly ({}): `icmp type echo-request numgen inc mod 100 {{ {set} }} drop`", which.0),
        format!("h2 的 nftables 规则每 100 个回显请求均匀地丢掉 {pct} 个（{}）：`icmp type echo-request numgen inc mod 100 {{ {set} }} drop`", which.1),
    )
}

/// Phase 3's section heading.
pub fn lossy_section(pct: u8) -> Text {
    tx(
        format!("3 · a lossy link: h1 → h2, {pct}% loss"),
        format!("3 · 有丢包的链路：h1 → h2，丢包率 {pct}%"),
    )
}

/// The requests that got no reply.
pub fn unanswered(seqs: &[u16]) -> Text {
    let list = |sep: &str| {
        seqs.iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(sep)
    };
    let requests = if seqs.len() == 1 {
        "ICMP echo request"
    } else {
        "ICMP echo requests"
    };
    tx(
        format!("On h1's link: {requests} {} got no reply", list(", ")),
        format!("h1 的链路上：ICMP 回显请求 {} 没有得到应答", list("、")),
    )
}

/// The lossy phase's target, in the statistics' title.
pub fn lossy_target(h2: Ipv4Addr) -> Text {
    tx(
        format!("{h2} (lossy link)"),
        format!("{h2}（有丢包的链路）"),
    )
}

fn opt(t: Option<u8>) -> String {
    t.map(|t| t.to_string()).unwrap_or_else(|| "?".into())
}
