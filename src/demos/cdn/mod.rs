//! `netlab cdn`: what a CDN is (Q30), with real packets in a lab of its own.
//!
//! Two LANs each hold a client and an edge cache; the origin web server is
//! across a slow WAN (20 ms each way, netlab's delay line); the DNS server
//! answers the CDN's name by the asking client's subnet. The story:
//!
//! 1. the lab;
//! 2. c1 and c2 look up www.course.cn: a CNAME into the CDN's zone, then its
//!    address, a different edge for each LAN;
//! 3. c1's first fetch: a MISS, e1 fetches from the origin across the WAN
//!    (two TCP connections); the second: a HIT from e1's memory; c2's fetch:
//!    a MISS at e2, which keeps its own copy; after max-age, e1 asks the
//!    origin conditionally and gets 304: REVALIDATED.
//!
//! Every fact shown is read from the captured frames (the clients' and the
//! edges' links): DNS answers from their datagrams, `X-Cache`, `Age` and
//! `Cache-Control` from the response bytes, times from kernel timestamps.
//! The lab and its servers are in lab::cdn and lab::edge; this file tells them.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use schemars::JsonSchema;
use serde::Serialize;

use crate::cli::CdnArgs;
use crate::error::{exit, Result};
use crate::lab::capture::{split_at, Frame};
use crate::lab::cdn::{self, CdnLab};
use crate::lab::edge::CacheStatus;
use crate::lab::web;
use crate::narrate::{tx, Narrator, Packet, Step, Summary, Text};
use crate::privilege::Privileges;
use crate::wire::frame::{self, Kind};

mod packets;
mod say;

const QS: &[&str] = &["Q30"];

/// One view of the DNS server.
#[derive(Serialize, JsonSchema)]
struct ViewOut {
    /// Its name.
    name: String,
    /// The clients it answers, as a prefix (`198.51.100.0/26`).
    clients: String,
    /// The address its copy of the CDN's zone gives for the site.
    edge_address: Option<Ipv4Addr>,
}

/// The first step: the lab.
#[derive(Serialize, JsonSchema)]
struct Setup {
    /// The lab was built without root, in a user namespace.
    rootless: bool,
    /// The site's name.
    site: &'static str,
    /// The WAN's delay each way, as configured, in milliseconds.
    wan_delay_ms: u64,
    /// The origin's `Cache-Control: max-age`, in seconds.
    max_age_s: u64,
    /// The DNS server's views.
    views: Vec<ViewOut>,
}

/// One DNS answer, as the datagram that carried it says.
#[derive(Clone, Serialize, JsonSchema)]
struct AnswerOut {
    /// The name asked for.
    name: String,
    /// The alias target, if the answer was a CNAME.
    cname: Option<String>,
    /// The address, if the answer had one.
    address: Option<Ipv4Addr>,
    /// The TTL of the record that answered, seconds.
    ttl: Option<u32>,
}

/// A client's lookup of the site.
#[derive(Serialize, JsonSchema)]
struct LookupStep {
    /// The client (`c1`, `c2`).
    client: &'static str,
    /// Every answer it received, in order: the CNAME, then the address.
    answers: Vec<AnswerOut>,
    /// The lab host that owns the final address (`e1`, `e2`).
    edge: Option<String>,
}

/// One fetch of the site's page, as the packets show it.
#[derive(Clone, Serialize, JsonSchema)]
struct FetchOut {
    /// Who fetched (`c1`, `c2`).
    client: &'static str,
    /// The edge that answered (`e1`, `e2`).
    edge: String,
    /// The edge's `X-Cache` header, from the response's bytes (null: none seen).
    cache: Option<CacheStatus>,
    /// The response's status code, from its bytes (null: no response seen).
    status: Option<u16>,
    /// From the request's first data segment to the response's last, on the
    /// client's link (kernel timestamps), milliseconds.
    ms: Option<f64>,
    /// The response's `Age` header, seconds.
    age: Option<u64>,
    /// The response's `Cache-Control` header.
    cache_control: Option<String>,
    /// The edge's request to the origin, if the edge's link carried one.
    origin: Option<OriginOut>,
}

/// The edge's own request to the origin, across the WAN.
#[derive(Clone, Serialize, JsonSchema)]
struct OriginOut {
    /// The request line the edge sent.
    request: String,
    /// The `If-None-Match` it carried (null: an unconditional request).
    if_none_match: Option<String>,
    /// The origin's status code (304: the copy is still good).
    status: Option<u16>,
    /// SYN to SYN+ACK on the edge's link: the WAN's round trip, milliseconds.
    handshake_ms: Option<f64>,
}

/// A fetch step.
#[derive(Serialize, JsonSchema)]
struct FetchStep {
    /// The fetch.
    fetch: FetchOut,
    /// The response's header lines as the client received them.
    headers: Vec<(String, String)>,
}

/// cdn's result.
#[derive(Serialize, JsonSchema)]
struct CdnOut {
    /// The site's name.
    site: &'static str,
    /// Which edge each client's lookup gave: client → edge, from the DNS answers' bytes.
    dns_answers: BTreeMap<String, String>,
    /// Every fetch, in order.
    fetches: Vec<FetchOut>,
    /// The WAN's delay each way, as configured, in milliseconds.
    wan_delay_ms: u64,
    /// The origin's `Cache-Control: max-age`, in seconds.
    max_age_s: u64,
}

/// The clients, their edges' addresses as the plan has them.
const CLIENTS: [(&str, Ipv4Addr); 2] = [("c1", cdn::C1), ("c2", cdn::C2)];

/// Label the lab's participants on a step.
fn who(s: Step) -> Step {
    let mut s = s;
    for (id, en, zh) in [
        ("c1", "c1 (client)", "c1（客户端）"),
        ("e1", "e1 (edge)", "e1（边缘）"),
        ("c2", "c2 (client)", "c2（客户端）"),
        ("e2", "e2 (edge)", "e2（边缘）"),
        ("r1", "r1 (router)", "r1（路由器）"),
        ("dns", "dns (geo DNS)", "dns（地域 DNS）"),
        ("origin", "origin", "origin（源站）"),
    ] {
        s = s.who(id, tx(en, zh));
    }
    s
}

/// Frames seen on several links are one packet: a broadcast flooded by
/// r1's bridge, a frame between a client and its edge seen on both their
/// links. The client's link is the one that counts (the times a client
/// sees are what its user waits for), so a frame on an edge's link is
/// dropped when a client's link carried the same bytes within a few
/// milliseconds: a bridge forwards a frame unchanged.
fn once(frames: Vec<Frame>) -> Vec<Frame> {
    use std::collections::HashMap;
    let on_client = |f: &Frame| f.link.starts_with('c');
    let mut seen: HashMap<&[u8], Vec<SystemTime>> = HashMap::new();
    for f in frames.iter().filter(|f| on_client(f)) {
        seen.entry(&f.bytes).or_default().push(f.at);
    }
    let near = |a: SystemTime, b: SystemTime| {
        a.duration_since(b)
            .or_else(|_| b.duration_since(a))
            .unwrap_or_default()
            < Duration::from_millis(5)
    };
    let dup: Vec<bool> = frames
        .iter()
        .map(|f| {
            !on_client(f)
                && seen
                    .get(f.bytes.as_slice())
                    .is_some_and(|ts| ts.iter().any(|t| near(*t, f.at)))
        })
        .collect();
    let mut kept: Vec<Frame> = frames
        .into_iter()
        .zip(dup)
        .filter(|(_, d)| !d)
        .map(|(f, _)| f)
        .collect();
    kept.sort_by_key(|f| f.at);
    kept
}

/// A frame's ends as lab participants: the IP ends of an IP packet (a
/// packet between a LAN and another network crossed r1), the MAC ends of ARP.
fn ends(d: &frame::Dissected, link: &str) -> (String, String) {
    let mac = |m: &Option<String>| {
        m.as_deref()
            .map(|m| cdn::host_of_mac(m).map_or_else(|| m.to_string(), str::to_string))
            .unwrap_or_default()
    };
    match &d.kind {
        Kind::Ipv4 { src, dst, .. } => {
            let ip =
                |a: &Ipv4Addr| cdn::host_of_ip(*a).map_or_else(|| a.to_string(), str::to_string);
            (ip(src), ip(dst))
        }
        _ => {
            let from = mac(&d.src_mac);
            let mut to = mac(&d.dst_mac);
            if to == "*" {
                let host = link.split(':').next().unwrap_or("");
                let sender = if from.is_empty() { host } else { from.as_str() };
                to = cdn::neighbours(sender).join(",");
            }
            (from, to)
        }
    }
}

/// A ladder label that says what a packet carried: the DNS question or
/// answer, the HTTP request or status line (with `X-Cache`).
fn label(f: &Frame) -> Option<Text> {
    if let Some(a) = packets::dns_answers(std::slice::from_ref(f)).first() {
        return Some(match (&a.cname, a.address) {
            (Some(c), _) => tx(format!("CNAME {c}"), format!("别名 {c}")),
            (None, Some(ip)) => tx(format!("A {ip}"), format!("地址 {ip}")),
            _ => tx("answer: none", "应答：无"),
        });
    }
    if let Some((17, udp)) = frame::transport(&f.bytes) {
        if udp.get(2..4) == Some(&[0, 53]) {
            let m = hickory_proto::op::Message::from_vec(udp.get(8..)?).ok()?;
            let q = m.queries.first()?;
            let (t, n) = (q.query_type(), q.name());
            return Some(tx(format!("query {t} {n}"), format!("查询 {t} {n}")));
        }
    }
    let s = packets::segment(f)?;
    let h = packets::head(s.payload)?;
    Some(match h.get("X-Cache") {
        Some(x) => Text::from(format!("{} · X-Cache: {x}", h.first)),
        None => Text::from(h.first.clone()),
    })
}

/// The frames as packet records, in wire order.
fn records(frames: &[Frame]) -> Vec<Packet> {
    frames
        .iter()
        .map(|f| {
            let p = f.record(false);
            match frame::ethernet_frame(&f.bytes) {
                Ok(d) => {
                    let (from, to) = ends(&d, &f.link);
                    let l = label(f).unwrap_or_else(|| p.label.clone());
                    p.between(from, to, l)
                }
                Err(_) => p,
            }
        })
        .collect()
}

/// What one fetch shows: the client's connection on its link, the edge's
/// connection to the origin on the edge's link.
fn fetch_out(
    part: &[Frame],
    client: &'static str,
    client_at: SocketAddr,
    edge_ip: Ipv4Addr,
) -> (FetchOut, Vec<(String, String)>) {
    let SocketAddr::V4(c) = client_at else {
        unreachable!("the lab is IPv4")
    };
    let ends = ((*c.ip(), c.port()), (edge_ip, 80));
    let on = |prefix: &str| -> Vec<Frame> {
        part.iter()
            .filter(|f| f.link.starts_with(prefix))
            .cloned()
            .collect()
    };
    let edge = cdn::host_of_ip(edge_ip).unwrap_or("?").to_string();
    // The client's connection, from whichever link saw it first.
    let resp = packets::head(&packets::stream(part, (ends.1, ends.0))).unwrap_or_default();
    let t = packets::timing(part, ends);
    // The edge's connection to the origin: the SYN from the edge to port 80 there.
    let edge_frames = on(&format!("{edge}:"));
    let origin = packets::syns(&edge_frames, edge_ip, cdn::ORIGIN, 80)
        .first()
        .map(|syn| {
            let up = ((edge_ip, syn.tcp.src_port), (cdn::ORIGIN, 80));
            let req = packets::head(&packets::stream(&edge_frames, up)).unwrap_or_default();
            let back = packets::head(&packets::stream(&edge_frames, (up.1, up.0)));
            OriginOut {
                request: req.first.clone(),
                if_none_match: req.get("If-None-Match").map(str::to_string),
                status: back.and_then(|h| h.status()),
                handshake_ms: packets::timing(&edge_frames, up).handshake_ms,
            }
        });
    let out = FetchOut {
        client,
        edge,
        cache: resp.get("X-Cache").and_then(CacheStatus::parse),
        status: resp.status(),
        ms: t.exchange_ms,
        age: resp.get("Age").and_then(|a| a.parse().ok()),
        cache_control: resp.get("Cache-Control").map(str::to_string),
        origin,
    };
    (out, resp.headers)
}

/// Run the demo.
pub fn run(_args: &CdnArgs, n: &mut Narrator) -> Result<i32> {
    if !Privileges::probe().can_build_lab() {
        return Err(crate::privilege::lab_privilege());
    }
    let lab = CdnLab::build()?;
    let services = cdn::serve(&lab)?;
    let caps = cdn::capture(&lab)?;
    let views = cdn::views()?;

    // 1. The lab.
    let view_out: Vec<ViewOut> = views
        .iter()
        .map(|v| {
            let name =
                hickory_proto::rr::Name::from_ascii(format!("{}.cdnlab.net.", cdn::SITE)).ok();
            let edge_address = v.zones.iter().find_map(|z| {
                z.rrset(name.as_ref()?, hickory_proto::rr::RecordType::A)
                    .iter()
                    .find_map(|r| match &r.data {
                        hickory_proto::rr::RData::A(a) => Some(a.0),
                        _ => None,
                    })
            });
            ViewOut {
                name: v.name.clone(),
                clients: format!("{}/{}", v.clients.0, v.clients.1),
                edge_address,
            }
        })
        .collect();
    let delay_ms = cdn::WAN_DELAY.as_millis() as u64;
    let mut s = who(Step::new(say::lab_title(), say::lab_detail(delay_ms), QS)
        .section(tx("1 · The lab", "1 · 实验网络")))
    .fact(tx("LAN 1", "LAN 1"), say::lan(cdn::LAN1, cdn::C1, cdn::E1))
    .fact(tx("LAN 2", "LAN 2"), say::lan(cdn::LAN2, cdn::C2, cdn::E2))
    .fact(tx("origin", "源站"), say::origin(delay_ms))
    .fact(tx("DNS", "DNS"), say::views(&view_out));
    s = s.with(&Setup {
        rootless: crate::lab::userns::rootless(),
        site: cdn::SITE,
        wan_delay_ms: delay_ms,
        max_age_s: cdn::MAX_AGE,
        views: view_out,
    });
    n.step(s)?;

    // The run: two lookups, then four fetches; each phase's start cuts the capture.
    let mut cuts: Vec<SystemTime> = Vec::new();
    let mut asked = Vec::new();
    for (i, (c, _)) in CLIENTS.iter().enumerate() {
        if i > 0 {
            cuts.push(SystemTime::now());
        }
        asked.push(cdn::resolve(lab.host(c)?, cdn::SITE)?);
    }
    let edge_of = |i: usize| asked[i].last().and_then(|a| a.address);
    // c1 twice (MISS, HIT), c2 once (MISS at its own edge), c1 after max-age.
    let plan: [usize; 4] = [0, 0, 1, 0];
    let mut fetched = Vec::new();
    let mut first_fetch = None;
    for (k, &i) in plan.iter().enumerate() {
        if k == 3 {
            // Wait until e1's copy is older than max-age.
            let due = first_fetch.unwrap_or_else(Instant::now)
                + Duration::from_secs(cdn::MAX_AGE)
                + Duration::from_millis(100);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        cuts.push(SystemTime::now());
        let Some(edge) = edge_of(i) else {
            fetched.push(None);
            continue;
        };
        if first_fetch.is_none() {
            first_fetch = Some(Instant::now());
        }
        let req = web::request(cdn::SITE, "/");
        let e = web::fetch(lab.host(CLIENTS[i].0)?, SocketAddr::from((edge, 80)), req);
        fetched.push(Some((edge, e)));
        // Let the connections' last ACKs cross the WAN before the next
        // fetch, so each step's frames are its own.
        std::thread::sleep(cdn::WAN_DELAY * 3);
    }
    let mut frames = Vec::new();
    for c in caps {
        frames.extend(c.stop()?);
    }
    drop(services);
    let frames = once(frames);
    let mut parts = split_at(frames, &cuts).into_iter();

    // 2. The lookups.
    let mut dns_answers = BTreeMap::new();
    for (i, (client, _)) in CLIENTS.iter().enumerate() {
        let part = parts.next().unwrap_or_default();
        let answers: Vec<AnswerOut> = packets::dns_answers(&part)
            .into_iter()
            .filter(|a| a.client == CLIENTS[i].1)
            .map(|a| AnswerOut {
                name: a.name,
                cname: a.cname,
                address: a.address,
                ttl: a.ttl,
            })
            .collect();
        let edge = answers
            .iter()
            .find_map(|a| a.address)
            .and_then(cdn::host_of_ip)
            .map(str::to_string);
        if let Some(e) = &edge {
            dns_answers.insert(client.to_string(), e.clone());
        }
        let mut s = Step::new(
            say::lookup_title(client, &answers_text(&answers), edge.as_deref()),
            if i == 0 {
                tx(
                    "The site's zone hands www.course.cn to the CDN with a CNAME, as www.baidu.com is handed to www.a.shifen.com; the CDN's DNS then gives an address. It answers by who asks: its view for LAN 1 names e1, the edge on c1's own LAN. Here the clients ask it directly; in the wild it sees their resolver's address, or the client subnet the resolver passes on (EDNS Client Subnet, RFC 7871).",
                    "网站自己的区用 CNAME 把 www.course.cn 交给 CDN，就像 www.baidu.com 交给 www.a.shifen.com 一样；再由 CDN 的 DNS 给出地址。它看提问者是谁来作答：LAN 1 的视图给出 e1，即 c1 所在局域网里的边缘节点。这里客户端直接问它；现实中它看到的是客户端所用递归解析器的地址，或解析器转交的客户端子网（EDNS Client Subnet，RFC 7871）。",
                )
            } else {
                tx(
                    "The same name, asked from LAN 2: the view for LAN 2 answers, with the edge on c2's LAN. Steering each user to a nearby copy is how a CDN cuts the distance.",
                    "同一个名字，从 LAN 2 来问：由 LAN 2 的视图作答，给出 c2 所在局域网里的边缘节点。把每个用户引到就近的副本，CDN 就是这样缩短距离的。",
                )
            },
            QS,
        );
        if i == 0 {
            s = s.section(tx("2 · Which edge?", "2 · 去哪个边缘节点？"));
        }
        for a in &answers {
            s = s.fact(
                Text::from(a.name.as_str()),
                say::answer(a.cname.as_deref(), a.address, a.ttl),
            );
        }
        s.packets = records(&part);
        n.step(who(s).with(&LookupStep {
            client,
            answers,
            edge,
        }))?;
    }

    // 3. The fetches.
    let mut outs: Vec<FetchOut> = Vec::new();
    for (k, (&i, f)) in plan.iter().zip(fetched).enumerate() {
        let part = parts.next().unwrap_or_default();
        let client = CLIENTS[i].0;
        let Some((edge_ip, e)) = f else {
            continue;
        };
        let e = e?;
        let (out, headers) = fetch_out(&part, client, e.from, edge_ip);
        let mut s = Step::new(
            say::fetch_title(&out),
            say::fetch_detail(&out, k, delay_ms),
            QS,
        );
        if k == 0 {
            s = s.section(tx("3 · Fetching through the CDN", "3 · 经由 CDN 取页面"));
        }
        if let Some(o) = &out.origin {
            s = s
                .fact(tx("edge → origin", "边缘 → 源站"), say::upstream(o))
                .fact(tx("WAN", "WAN"), say::wan(o.handshake_ms, delay_ms));
        } else {
            s = s.fact(
                tx("edge → origin", "边缘 → 源站"),
                tx(
                    "no packet: the origin was not asked",
                    "没有报文：根本没去问源站",
                ),
            );
        }
        let shown: Vec<String> = headers
            .iter()
            .filter(|(k, _)| {
                ["Cache-Control", "Age", "X-Cache", "ETag", "Via"]
                    .iter()
                    .any(|w| k.eq_ignore_ascii_case(w))
            })
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        s = s.fact(tx("edge → client", "边缘 → 客户端"), shown.join(" · "));
        s.packets = records(&part);
        n.step(who(s).with(&FetchStep {
            fetch: out.clone(),
            headers,
        }))?;
        outs.push(out);
    }

    let ok = outs.len() == plan.len() && outs.iter().all(|o| o.status == Some(200));
    let hit = outs
        .iter()
        .find(|o| o.cache == Some(CacheStatus::Hit))
        .and_then(|o| o.ms);
    let miss = outs
        .iter()
        .find(|o| o.cache == Some(CacheStatus::Miss))
        .and_then(|o| o.ms);
    n.summary(
        Summary {
            title: say::summary_title(&dns_answers, &outs),
            lines: say::summary_lines(miss, hit),
            questions: crate::record::qs(QS),
            ok,
            ..Summary::default()
        }
        .with(&CdnOut {
            site: cdn::SITE,
            dns_answers,
            fetches: outs,
            wan_delay_ms: delay_ms,
            max_age_s: cdn::MAX_AGE,
        }),
    )?;
    drop(lab);
    Ok(if ok { exit::OK } else { exit::NETWORK_NO })
}

/// The answers a client received, one phrase (`CNAME x → A y`).
fn answers_text(a: &[AnswerOut]) -> String {
    a.iter()
        .filter_map(|a| match (&a.cname, a.address) {
            (Some(c), _) => Some(format!("CNAME {}", c.trim_end_matches('.'))),
            (None, Some(ip)) => Some(format!("A {ip}")),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "cdn",
        "A CDN in the lab: geo DNS through a CNAME, an edge cache's MISS, HIT and REVALIDATED, the origin across a slow WAN.",
    )
    .step::<Setup>("the first step: the lab")
    .step::<LookupStep>("a client's lookup")
    .step::<FetchStep>("a fetch")
    .summary::<CdnOut>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn f(link: &str, us: u64, bytes: &[u8]) -> Frame {
        Frame {
            at: UNIX_EPOCH + Duration::from_micros(us),
            link: link.into(),
            bytes: bytes.to_vec(),
            len: bytes.len(),
        }
    }

    #[test]
    fn a_frame_seen_on_a_client_and_an_edge_link_is_one_packet() {
        let kept = once(vec![
            f("e1:eth0", 90, b"from e1"),    // first seen on the edge's link
            f("c1:eth0", 100, b"from e1"),   // the client's sighting counts
            f("e1:eth0", 120, b"to origin"), // only on the edge's link
            f("e1:eth0", 110, b"from c1"),   // the same frame, bridged
            f("c1:eth0", 105, b"from c1"),
            f("e1:eth0", 90_000, b"from c1"), // the same bytes much later: another frame
        ]);
        let got: Vec<(&str, u64)> = kept
            .iter()
            .map(|k| {
                let us = k.at.duration_since(UNIX_EPOCH).unwrap().as_micros() as u64;
                (k.link.as_str(), us)
            })
            .collect();
        assert_eq!(
            got,
            [
                ("c1:eth0", 100),
                ("c1:eth0", 105),
                ("e1:eth0", 120),
                ("e1:eth0", 90_000)
            ]
        );
    }
}
