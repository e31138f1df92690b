//! What `netlab load-balance` says, in both languages: each message with
//! arguments is one function, its English and Chinese side by side.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::Seen;
use crate::balance::backend;
use crate::balance::client::Answer;
use crate::cli::{LbMode, ProxyKind};
use crate::lab::firewall::Tracked;
use crate::narrate::{plural, tx, Text};

/// Which engine balances at layer 4, and why.
pub fn engine(ipvs: bool) -> Text {
    if ipvs {
        tx(
            "IPVS is in this kernel (/proc/net/ip_vs), but netlab's rules are nftables: the same here and everywhere",
            "本机内核有 IPVS（/proc/net/ip_vs），但 netlab 的规则用 nftables：在哪里都一样",
        )
    } else {
        tx(
            "nftables: this kernel has no IPVS (no /proc/net/ip_vs, no ip_vs module), so LVS's modes are built from nft dnat, numgen and jhash",
            "nftables：本机内核没有 IPVS（没有 /proc/net/ip_vs，也没有 ip_vs 模块），所以 LVS 的几种模式用 nft 的 dnat、numgen 和 jhash 搭出来",
        )
    }
}

/// A mode's section heading.
pub fn section(n: usize, m: LbMode, proxy: ProxyKind) -> Text {
    let p = match proxy {
        ProxyKind::Netlab => "netlab",
        ProxyKind::Nginx => "nginx",
        ProxyKind::Haproxy => "HAProxy",
    };
    match m {
        LbMode::L4Nat => tx(
            format!("{n} · Layer 4, NAT (LVS-NAT)"),
            format!("{n} · 四层，NAT 模式（LVS-NAT）"),
        ),
        LbMode::L4Dr => tx(
            format!("{n} · Layer 4, direct routing (LVS-DR)"),
            format!("{n} · 四层，直接路由（LVS-DR）"),
        ),
        LbMode::L7 => tx(
            format!("{n} · Layer 7, a reverse proxy ({p})"),
            format!("{n} · 七层，反向代理（{p}）"),
        ),
    }
}

fn counts(per: &BTreeMap<String, usize>, sep: &str) -> String {
    per.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(sep)
}

fn scheduler_words(s: &str) -> (&'static str, &'static str) {
    match s {
        "round-robin" => ("round robin", "轮询"),
        "source-hash" => ("source hash", "源地址哈希"),
        "flow-hash" => ("hash of address and port", "按地址和端口哈希"),
        "least-conn" => ("least connections", "最少连接"),
        _ => ("a rule by path", "按路径分流"),
    }
}

/// A run's title: mode, scheduler, who answered.
pub fn run_title(m: LbMode, scheduler: &str, per: &BTreeMap<String, usize>) -> Text {
    let (en, zh) = scheduler_words(scheduler);
    let (men, mzh) = match m {
        LbMode::L4Nat => ("NAT", "NAT"),
        LbMode::L4Dr => ("Direct routing", "直接路由"),
        LbMode::L7 => ("Proxy", "代理"),
    };
    tx(
        format!("{men}, {en}: {}", counts(per, " · ")),
        format!("{mzh}，{zh}：{}", counts(per, " · ")),
    )
}

/// Who answered each request, in order: `c1→web1 c2→web2 …`.
pub fn answers(a: &[Answer]) -> Text {
    let one = |x: &Answer| {
        let who = match (x.ok(), backend::answered_by(&x.body)) {
            (true, Some(b)) => b.to_string(),
            _ => x
                .status
                .map_or_else(|| "✗".to_string(), |s| format!("✗{s}")),
        };
        format!("{}→{who}", x.client)
    };
    Text::from(a.iter().map(one).collect::<Vec<_>>().join(" "))
}

/// Answers by backend, one line.
pub fn tallies(per: &BTreeMap<String, usize>) -> Text {
    Text::from(counts(per, ", "))
}

/// A segment's ends and flags.
pub fn segment(s: &Seen) -> Text {
    Text::from(format!("{} → {} {}", s.src, s.dst, s.flags))
}

/// A conntrack entry: the flow as opened, and the reply it expects.
pub fn tracked(t: &Tracked) -> Text {
    tx(
        format!("{}  reply {}", t.original, t.reply),
        format!("{}  回程 {}", t.original, t.reply),
    )
}

/// What direct routing changed in the frame: (destination, source) MACs
/// before and after, and the offsets of the bytes that differ.
pub fn mac_rewrite(before: (&str, &str), after: (&str, &str), differing: &[usize]) -> Text {
    let n = differing.len();
    let ttl = differing.contains(&22);
    // Ethernet addresses, the TTL (22) and the header checksum (24, 25) only.
    let known = differing
        .iter()
        .all(|&i| i < 12 || i == 22 || i == 24 || i == 25);
    let macs_en = format!(
        "destination {} → {}, source {} → {}",
        before.0, after.0, before.1, after.1
    );
    let macs_zh = format!(
        "目的 {} → {}，源 {} → {}",
        before.0, after.0, before.1, after.1
    );
    match (known && n > 0, ttl) {
        (true, true) => tx(
            format!("{n} bytes differ: the Ethernet header ({macs_en}) and the TTL, one less for the hop, with the IP checksum; addresses and ports untouched"),
            format!("有 {n} 个字节不同：以太网头（{macs_zh}），以及 TTL（这一跳减一）和随之更新的 IP 校验和；地址和端口都没动"),
        ),
        (true, false) => tx(
            format!("{n} bytes differ, all in the Ethernet header ({macs_en}): not one byte of the IP packet"),
            format!("有 {n} 个字节不同，全在以太网头里（{macs_zh}）：IP 包一个字节都没变"),
        ),
        _ => tx(
            format!("{macs_en}; {n} bytes differ (offsets {differing:?})"),
            format!("{macs_zh}；有 {n} 个字节不同（偏移 {differing:?}）"),
        ),
    }
}

/// Where direct routing's replies went.
pub fn bypass(through_lb: usize, via_r1: usize) -> Text {
    tx(
        format!(
            "backend segments from the VIP: {through_lb} crossed lb's links, {via_r1} reached the clients through r1"
        ),
        format!("后端以 VIP 为源发出的报文段：经过 lb 链路的 {through_lb} 个，经 r1 到达客户端的 {via_r1} 个"),
    )
}

/// The proxy step's title.
pub fn proxy_title(kind: ProxyKind) -> Text {
    match kind {
        ProxyKind::Netlab => tx(
            "lb runs a reverse proxy on the VIP's port 80: netlab's own, built on hyper",
            "lb 在 VIP 的 80 端口上运行反向代理：netlab 自己的，基于 hyper",
        ),
        ProxyKind::Nginx => tx(
            "lb runs the system's nginx on the VIP's port 80, with this configuration",
            "lb 在 VIP 的 80 端口上运行系统里的 nginx，配置如下",
        ),
        ProxyKind::Haproxy => tx(
            "lb runs the system's HAProxy on the VIP's port 80, with this configuration",
            "lb 在 VIP 的 80 端口上运行系统里的 HAProxy，配置如下",
        ),
    }
}

/// What the proxy is.
pub fn proxy_detail(kind: ProxyKind) -> Text {
    match kind {
        ProxyKind::Netlab => tx(
            "What nginx and HAProxy are: a program that accepts the client's connection, reads the request, and fetches the answer from a backend it chooses.",
            "nginx 和 HAProxy 就是这样的程序：接受客户端的连接，读出请求，再从自己选中的后端取回应答。",
        ),
        ProxyKind::Nginx => tx(
            "nginx is an event-driven (epoll) web server; with upstream and proxy_pass it is a reverse proxy and layer-7 balancer. The file is real and complete: a student could type it.",
            "nginx 是事件驱动（epoll）的 Web 服务器；配上 upstream 和 proxy_pass 就是反向代理和七层负载均衡器。这份配置是真实完整的，学生可以照着敲。",
        ),
        ProxyKind::Haproxy => tx(
            "HAProxy is a dedicated load balancer: frontends take connections, backends hold the server pools, each server health-checked. The file is real and complete: a student could type it.",
            "HAProxy 是专门的负载均衡器：frontend 接收连接，backend 管理服务器池，每台服务器都做健康检查。这份配置是真实完整的，学生可以照着敲。",
        ),
    }
}

/// The two-connection step's title.
pub fn two_connections(handshakes: usize) -> Text {
    tx(
        format!("One request, two TCP connections: {handshakes} handshakes, client → proxy and proxy → backend"),
        format!("一个请求，两条 TCP 连接：{handshakes} 次握手，客户端 → 代理，代理 → 后端"),
    )
}

/// The X-Forwarded-For line as captured on the backend side.
pub fn xff_on_wire(line: &str) -> Text {
    tx(
        format!("lb:eth1 carried \"{line}\""),
        format!("lb:eth1 上的请求带着「{line}」"),
    )
}

/// What the backend says it saw.
pub fn backend_saw(name: &str, saw: Option<&str>, xff: Option<&str>) -> Text {
    let saw = saw.unwrap_or("?");
    match xff {
        Some(x) => tx(
            format!("{name} saw the connection come from {saw}, and X-Forwarded-For: {x}"),
            format!("{name} 看到连接来自 {saw}，X-Forwarded-For 为 {x}"),
        ),
        None => tx(
            format!("{name} saw the connection come from {saw}, and no X-Forwarded-For"),
            format!("{name} 看到连接来自 {saw}，没有 X-Forwarded-For"),
        ),
    }
}

/// The path rule's title.
pub fn path_title(per: &BTreeMap<String, usize>) -> Text {
    tx(
        format!("A rule by path: /static/ → web3 ({})", counts(per, " · ")),
        format!("按路径分流：/static/ → web3（{}）", counts(per, " · ")),
    )
}

/// A scheduler run's title.
pub fn sched_title(name: &str, per: &BTreeMap<String, usize>, slow_ms: u64) -> Text {
    let (en, zh) = scheduler_words(name);
    tx(
        format!("{en}, web1 {slow_ms} ms slow: {}", counts(per, " · ")),
        format!("{zh}，web1 慢 {slow_ms} ms：{}", counts(per, " · ")),
    )
}

/// The health run's title.
pub fn health_title(victim: &str, before: usize, after: usize) -> Text {
    tx(
        format!(
            "{victim} killed mid-run: {} failed before the health check took it out, {after} after",
            plural(before as u64, "request", "requests")
        ),
        format!("中途停掉 {victim}：健康检查把它摘掉之前失败了 {before} 个请求，之后 {after} 个"),
    )
}

/// Why requests fail, and then stop failing.
pub fn health_detail(kind: ProxyKind) -> Text {
    match kind {
        ProxyKind::Nginx => tx(
            "web2's server stops: its port answers SYN with RST. Open-source nginx checks passively: the first request that fails (502, since proxy_next_upstream is off) takes web2 out for fail_timeout, and no later request goes there.",
            "web2 的服务停了：它的端口对 SYN 回 RST。开源版 nginx 只做被动检查：第一个失败的请求（返回 502，因为关了 proxy_next_upstream）就把 web2 摘掉 fail_timeout 那么久，之后的请求不再发往它。",
        ),
        _ => tx(
            "web2's server stops: its port answers SYN with RST. Until the next health check, requests the scheduler gives web2 fail; once the check fails, web2 is out of rotation and every request succeeds on the other two.",
            "web2 的服务停了：它的端口对 SYN 回 RST。在下一次健康检查之前，分给 web2 的请求都会失败；检查一失败，web2 就被移出轮转，之后所有请求都由另外两台成功处理。",
        ),
    }
}

/// netlab's proxy's health check.
pub fn active_check(every_ms: u128) -> Text {
    tx(
        format!(
            "active: GET /health to each backend every {every_ms} ms; one failure takes it out"
        ),
        format!("主动检查：每 {every_ms} ms 向每台后端发一次 GET /health；失败一次就摘掉"),
    )
}

/// How a daemon notices a dead backend.
pub fn health_how(kind: crate::balance::daemon::Kind) -> Text {
    match kind {
        crate::balance::daemon::Kind::Nginx => tx(
            "passive: max_fails=1, so one failed request takes the server out for fail_timeout=60s; nginx logs \"upstream server temporarily disabled\"",
            "被动检查：max_fails=1，一个请求失败就把这台服务器摘掉 fail_timeout=60s；nginx 日志写「upstream server temporarily disabled」",
        ),
        crate::balance::daemon::Kind::Haproxy => tx(
            "active: GET /health every 500 ms (check inter 500ms fall 1); HAProxy logs \"Server app/web2 is DOWN\"",
            "主动检查：每 500 ms 一次 GET /health（check inter 500ms fall 1）；HAProxy 日志写「Server app/web2 is DOWN」",
        ),
    }
}

/// The health run in order: each request's outcome, the kill and the notice marked.
pub fn timeline(a: &[Answer], killed: Option<SystemTime>, noticed: Option<SystemTime>) -> Text {
    let mut parts = Vec::new();
    let (mut k, mut n) = (killed, noticed);
    for x in a {
        if k.is_some_and(|t| x.at >= t) {
            parts.push("[kill]".to_string());
            k = None;
        }
        if n.is_some_and(|t| x.at >= t) {
            parts.push("[check]".to_string());
            n = None;
        }
        parts.push(match (x.ok(), backend::answered_by(&x.body)) {
            (true, Some(b)) => b.trim_start_matches("web").to_string(),
            _ => "✗".to_string(),
        });
    }
    let s = parts.join(" ");
    tx(
        format!("{s}  (1 2 3: the backend that answered; ✗: failed)"),
        format!("{s}（1 2 3：作答的后端；✗：失败）"),
    )
}

/// The summary's headline.
pub fn summary(runs: usize, requests: usize, answered: usize) -> Text {
    tx(
        format!("{runs} balancing runs, {requests} requests, {answered} answered by a backend"),
        format!("{runs} 轮负载均衡，{requests} 个请求，{answered} 个由后端作答"),
    )
}
