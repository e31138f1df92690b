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

/// The two replies' TTLs: one router between h1 and h3.
pub fn ttls(same_lan: Option<u8>, across: Option<u8>) -> Text {
    let (a, b) = (opt(same_lan), opt(across));
    tx(
        format!("Reply TTL {a} from h2, {b} from h3: one router hop"),
        format!("h2 的应答 TTL 为 {a}，h3 的为 {b}：经过一个路由器"),
    )
}

/// Phase 3's title.
pub fn lossy(pct: u8) -> Text {
    tx(
        format!("h2 now drops {pct}% of incoming echo requests"),
        format!("h2 现在丢弃 {pct}% 的回显请求"),
    )
}

/// Phase 3's rule, as a student could type it.
pub fn lossy_rule(pct: u8) -> Text {
    tx(
        format!("A firewall (nftables) rule in h2 drops each request with that chance, like a noisy link: `icmp type echo-request numgen random mod 100 < {pct} drop`"),
        format!("h2 里的一条防火墙（nftables）规则以这个概率丢弃每个请求，就像一条有噪声的链路：`icmp type echo-request numgen random mod 100 < {pct} drop`"),
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
    tx(
        format!(
            "The capture on h1's link: requests {} left h1 and got no reply",
            list(", ")
        ),
        format!("h1 链路上的抓包：请求 {} 发出后没有应答", list("、")),
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
