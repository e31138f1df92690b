//! What `netlab cdn` says, in both languages: each message with arguments is
//! one function, its English and Chinese side by side.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::{FetchOut, OriginOut, ViewOut};
use crate::lab::edge::CacheStatus;
use crate::narrate::{tx, Text};

/// Step 1's title.
pub fn lab_title() -> Text {
    crate::lab::userns::titled(tx(
        "A CDN in the lab: two LANs with an edge each, the origin across a WAN",
        "实验网络里的 CDN：两个局域网各有一个边缘节点，源站在 WAN 另一头",
    ))
}

/// Step 1's detail: what a CDN is, and this lab's shape.
pub fn lab_detail(delay_ms: u64) -> Text {
    tx(
        format!("A CDN (content delivery network) keeps copies of a site on edge servers near its users, so most requests never travel to the origin far away. Here the origin is {delay_ms} ms away each way across a WAN; each LAN has its own edge."),
        format!("CDN（内容分发网络）把网站内容复制到靠近用户的边缘服务器上，大多数请求因此不必远赴源站。这里源站隔着一条单程 {delay_ms} ms 的 WAN；每个局域网各有一个边缘节点。"),
    )
}

/// One LAN: its prefix, client and edge.
pub fn lan(net: (Ipv4Addr, u8), client: Ipv4Addr, edge: Ipv4Addr) -> Text {
    let n = format!("{}/{}", net.0, net.1);
    tx(
        format!("{n}: client {client}, edge cache {edge}"),
        format!("{n}：客户端 {client}，边缘缓存 {edge}"),
    )
}

/// The origin and its WAN.
pub fn origin(delay_ms: u64) -> Text {
    let o = crate::lab::cdn::ORIGIN;
    tx(
        format!("{o}, behind r1's WAN (a delay line: {delay_ms} ms each way)"),
        format!("{o}，在 r1 的 WAN 后面（延迟线：单程 {delay_ms} ms）"),
    )
}

/// The DNS server and its views.
pub fn views(v: &[ViewOut]) -> Text {
    let each = |zh: bool| {
        v.iter()
            .map(|v| {
                let a = v
                    .edge_address
                    .map_or_else(|| "-".to_string(), |a| a.to_string());
                if zh {
                    format!("{} 来的问 → {a}", v.clients)
                } else {
                    format!("asked from {} → {a}", v.clients)
                }
            })
            .collect::<Vec<_>>()
    };
    let d = crate::lab::cdn::DNS;
    tx(
        format!("{d}, one view per LAN: {}", each(false).join("; ")),
        format!("{d}，每个局域网一个视图：{}", each(true).join("；")),
    )
}

/// A lookup's title.
pub fn lookup_title(client: &str, answers: &str, edge: Option<&str>) -> Text {
    let site = crate::lab::cdn::SITE;
    match edge {
        Some(e) => tx(
            format!("{client} looks up {site}: {answers} ({e})"),
            format!("{client} 查询 {site}：{answers}（{e}）"),
        ),
        None => tx(
            format!("{client} looks up {site}: no address ({answers})"),
            format!("{client} 查询 {site}：没有地址（{answers}）"),
        ),
    }
}

/// One DNS answer.
pub fn answer(cname: Option<&str>, address: Option<Ipv4Addr>, ttl: Option<u32>) -> Text {
    let ttl = ttl.map_or_else(String::new, |t| format!(", TTL {t} s"));
    match (cname, address) {
        (Some(c), _) => tx(
            format!("CNAME {c}{ttl}: the CDN's name"),
            format!("CNAME {c}{ttl}：CDN 的名字"),
        ),
        (None, Some(a)) => tx(format!("A {a}{ttl}"), format!("A {a}{ttl}")),
        _ => tx("no record", "没有记录"),
    }
}

fn cache_word(c: Option<CacheStatus>) -> &'static str {
    c.map_or("no X-Cache", CacheStatus::as_str)
}

/// A number of milliseconds as the text shows it.
fn ms(v: Option<f64>) -> String {
    match v {
        Some(v) if v < 1.0 => format!("{v:.3} ms"),
        Some(v) => format!("{v:.1} ms"),
        None => "?".into(),
    }
}

/// A fetch's title: who, where, what the edge said, how long it took.
pub fn fetch_title(f: &FetchOut) -> Text {
    let status = f
        .status
        .map_or_else(|| "no response".into(), |s| s.to_string());
    let c = cache_word(f.cache);
    let t = ms(f.ms);
    tx(
        format!("{} GET / from {}: {status}, {c}, {t}", f.client, f.edge),
        format!("{} 向 {} GET /：{status}，{c}，{t}", f.client, f.edge),
    )
}

/// Why a fetch went as it did.
pub fn fetch_detail(f: &FetchOut, k: usize, delay_ms: u64) -> Text {
    match (f.cache, k) {
        (Some(CacheStatus::Miss), 0) => tx(
            format!("e1 has no copy: it opens a second TCP connection, to the origin across the WAN, fetches the page and keeps it, because Cache-Control lets it (max-age). The user waits for two WAN round trips ({delay_ms} ms each way): the handshake and the request."),
            format!("e1 没有副本：它另开一条 TCP 连接，穿过 WAN 去源站取页面，并按 Cache-Control（max-age）的许可留下副本。用户要等 WAN 上的两个往返（单程 {delay_ms} ms）：握手一次，请求一次。"),
        ),
        (Some(CacheStatus::Hit), _) => tx(
            "The copy is younger than max-age, so e1 answers from memory without asking the origin: no connection crosses the WAN. Age says how many whole seconds the copy has been kept.",
            "副本的年龄还没超过 max-age，e1 直接从内存作答，不去问源站：没有连接穿过 WAN。Age 表示副本已经存了几整秒。",
        ),
        (Some(CacheStatus::Miss), _) => tx(
            "Each edge keeps its own copies: e1's copy does not help e2, so c2's first request is a MISS at e2, and e2 fetches the page from the origin itself.",
            "每个边缘节点各存各的副本：e1 的副本帮不了 e2，所以 c2 的第一次请求在 e2 上是 MISS，e2 自己去源站取页面。",
        ),
        (Some(CacheStatus::Revalidated), _) => tx(
            "max-age has passed, so the copy is stale. e1 does not throw it away: it asks the origin whether it changed (If-None-Match with the copy's ETag). 304 Not Modified carries no page, only the verdict; e1 serves its copy, fresh again. One WAN exchange, but no body across it.",
            "max-age 已过，副本过期了。e1 并不丢掉它，而是问源站内容变了没有（If-None-Match 带上副本的 ETag）。304 Not Modified 不带页面，只带结论；e1 把副本重新当作新鲜的交给用户。仍要走一趟 WAN，但正文不必再传。",
        ),
        (None, _) => tx(
            "The response carried no X-Cache header (or none was seen).",
            "响应里没有 X-Cache 头部（或没有看到响应）。",
        ),
    }
}

/// The edge's request to the origin, and the origin's status.
pub fn upstream(o: &OriginOut) -> Text {
    let status = o.status.map_or_else(|| "?".into(), |s| s.to_string());
    match &o.if_none_match {
        Some(t) => tx(
            format!("{} · If-None-Match: {t} → {status}", o.request),
            format!("{} · If-None-Match: {t} → {status}", o.request),
        ),
        None => tx(
            format!("{} → {status}", o.request),
            format!("{} → {status}", o.request),
        ),
    }
}

/// The WAN's round trip, from the edge's SYN and the origin's SYN+ACK.
pub fn wan(handshake_ms: Option<f64>, delay_ms: u64) -> Text {
    tx(
        format!(
            "SYN → SYN+ACK {} on the edge's link: the WAN's round trip ({delay_ms} ms each way)",
            ms(handshake_ms)
        ),
        format!(
            "边缘节点链路上 SYN → SYN+ACK 用了 {}：WAN 的一个往返（单程 {delay_ms} ms）",
            ms(handshake_ms)
        ),
    )
}

/// The summary's title.
pub fn summary_title(dns: &BTreeMap<String, String>, f: &[FetchOut]) -> Text {
    let d: Vec<String> = dns.iter().map(|(c, e)| format!("{c} → {e}")).collect();
    let seq: Vec<&str> = f.iter().map(|f| cache_word(f.cache)).collect();
    tx(
        format!(
            "{}: {}; {}",
            crate::lab::cdn::SITE,
            d.join(", "),
            seq.join(", ")
        ),
        format!(
            "{}：{}；{}",
            crate::lab::cdn::SITE,
            d.join("，"),
            seq.join("、")
        ),
    )
}

/// The summary's lines: the MISS against the HIT.
pub fn summary_lines(miss: Option<f64>, hit: Option<f64>) -> Vec<Text> {
    match (miss, hit) {
        (Some(m), Some(h)) if h > 0.0 => vec![tx(
            format!(
                "A HIT took {} at the edge, a MISS {} through it to the origin: {:.0}× longer.",
                ms(Some(h)),
                ms(Some(m)),
                m / h
            ),
            format!(
                "命中（HIT）在边缘节点用了 {}，未命中（MISS）经它到源站用了 {}：慢 {:.0} 倍。",
                ms(Some(h)),
                ms(Some(m)),
                m / h
            ),
        )],
        _ => vec![],
    }
}
