//! `netlab url [URL]`: what happens when you open a URL (Q1, Q2, Q3; also
//! Q4, Q5, Q6, Q9), in the namespace lab.
//!
//! h1 is the browser; h2 serves the lab.edu.cn zone (the LAN's DNS server);
//! h3, across r1, runs a web server (tiny_http). Every frame on h1's link is
//! captured and told in order; a segment between h1 and h3 is drawn between
//! the TCP connection's two ends, labelled as going via r1 (the frame's own
//! end on h1's link):
//!
//! 1. the URL taken apart (the url crate), beside a URN and a mailto: URI;
//! 2. the host looked up at h2 (ARP for h2 first: same LAN);
//! 3. ARP for the gateway: the server is on another network;
//! 4. the TCP handshake; 5. the request; 6. the response; 7. the close;
//! 8. the request's frame peeled layer by layer, and which part of the URL
//!    went into which layer.
//!
//! The services and the fetch are in lab::web; this file tells them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime};

use schemars::JsonSchema;
use serde::Serialize;

use crate::cli::UrlArgs;
use crate::error::{exit, Error, Result};
use crate::lab::capture::{split_at, Frame};
use crate::lab::topology::{NetLab, H2, H3, R1_A};
use crate::lab::web::{self, Exchange, Layer, Lookup, Phases};
use crate::narrate::{tx, Narrator, Packet, Step, Summary, Text};
use crate::privilege::Privileges;
use crate::wire::frame::{self, Kind};

mod say;

/// The other URIs shown beside the URL.
const URN: &str = "urn:isbn:9787111213826";
const MAILTO: &str = "mailto:teacher@lab.edu.cn";

/// The URL taken apart.
#[derive(Clone, Serialize, JsonSchema)]
struct UrlParts {
    /// The protocol (`http`).
    scheme: String,
    /// The machine: a name or an address.
    host: String,
    /// The port: the URL's, or the scheme's default.
    port: u16,
    /// The resource on the machine.
    path: String,
    /// What follows `?`, if anything.
    query: Option<String>,
    /// What follows `#`, if anything: it stays in the browser.
    fragment: Option<String>,
}

/// The first step: the URL taken apart.
#[derive(Serialize, JsonSchema)]
struct UrlStep {
    /// Its parts.
    url: UrlParts,
}

/// The lookup step.
#[derive(Serialize, JsonSchema)]
struct LookupStep {
    /// What h2 answered.
    lookup: Lookup,
}

/// The handshake step.
#[derive(Serialize, JsonSchema)]
struct ExchangeStep {
    /// The whole exchange it opens.
    exchange: Exchange,
}

/// The step that peels the request's frame.
#[derive(Serialize, JsonSchema)]
struct LayersStep {
    /// Its layers, outermost first, each right after the one before.
    layers: Vec<Layer>,
}

/// url's result.
#[derive(Serialize, JsonSchema)]
struct UrlOut {
    /// The URL taken apart.
    url: UrlParts,
    /// The server's address (null: the name had none).
    address: Option<Ipv4Addr>,
    /// The response's status code (null: no response).
    status: Option<u16>,
    /// The response body's length in bytes (null: no response).
    body_bytes: Option<usize>,
    /// The request frame's layers, outermost first (empty: no request was sent).
    layers: Vec<&'static str>,
}

/// The frames of each step, in wire order: the phases' frames cut where
/// each phase begins, so every frame lands in the step of its time (none is
/// dropped, none drawn before one that crossed earlier).
fn by_step(frames: Vec<Frame>, phases: &[&[Frame]]) -> Vec<Vec<Frame>> {
    let starts: Vec<Option<SystemTime>> = phases
        .iter()
        .map(|p| p.iter().map(|f| f.at).min())
        .collect();
    // A phase that saw nothing begins where the next one does; after the last, nothing.
    let end = frames
        .iter()
        .map(|f| f.at)
        .max()
        .map_or(SystemTime::UNIX_EPOCH, |t| t + Duration::from_micros(1));
    let mut cuts: Vec<SystemTime> = Vec::new();
    for i in 1..phases.len() {
        let next = starts[i..].iter().flatten().next().copied().unwrap_or(end);
        cuts.push(cuts.last().map_or(next, |c| next.max(*c)));
    }
    split_at(frames, &cuts)
}

/// The frames of h1's link as packet records. A DNS datagram is labelled
/// with its question or answer. A packet between h1 and a host beyond r1 is
/// drawn between its IP ends (the TCP connection's two ends), and that host
/// is labelled as reached via r1: on this link the frame's other end is r1,
/// which forwards the packet in a new frame (the peeled frame's step shows it).
fn records(frames: &[Frame]) -> Vec<Packet> {
    frames
        .iter()
        .map(|f| {
            let p = f.record(false);
            let (from, to) = (p.from.clone(), p.to.clone());
            if let Some(label) = dns_label(&f.bytes) {
                return p.between(from, to, label);
            }
            match beyond_router(f) {
                Some((src, dst)) => {
                    let label = p.label.clone();
                    p.between(src, dst, label)
                }
                None => p,
            }
        })
        .collect()
}

/// The IP ends of a frame that crossed h1's link to or from r1 for a host
/// beyond it (the frame's MAC end is r1, its IP end is not): the lab hosts
/// of its source and destination addresses.
fn beyond_router(f: &Frame) -> Option<(String, String)> {
    let d = frame::ethernet_frame(&f.bytes).ok()?;
    let Kind::Ipv4 { src, dst, .. } = d.kind else {
        return None;
    };
    let (mac_src, mac_dst) = (d.src_mac?, d.dst_mac?);
    let host = |m: &str| crate::lab::topology::host_of_mac(m);
    let ip_host = |a: Ipv4Addr| crate::lab::topology::host_of_ip(a);
    let (s, t) = (ip_host(src)?, ip_host(dst)?);
    // Only when r1 is a MAC end and not an IP end: the packet goes through it.
    let via = host(&mac_src) == Some("r1") || host(&mac_dst) == Some("r1");
    (via && s != "r1" && t != "r1").then(|| (s.to_string(), t.to_string()))
}

/// How many TCP segments on h1's link carried data from the client
/// (`from_client`) or from the server.
fn segments(frames: &[Frame], client_port: u16, from_client: bool) -> usize {
    frames
        .iter()
        .filter(|f| f.link.starts_with("h1:"))
        .filter(|f| {
            matches!(frame::ethernet_frame(&f.bytes).map(|d| d.kind),
                Ok(Kind::Ipv4 { tcp: Some(h), payload_len, .. })
                    if payload_len > 0 && (h.src_port == client_port) == from_client)
        })
        .count()
}

/// A DNS query or answer's ladder label, from the datagram's own bytes.
fn dns_label(bytes: &[u8]) -> Option<Text> {
    let (17, udp) = frame::transport(bytes)? else {
        return None;
    };
    let m = hickory_proto::op::Message::from_vec(udp.get(8..)?).ok()?;
    let q = m.queries.first()?;
    if m.metadata.message_type == hickory_proto::op::MessageType::Query {
        let (t, name) = (q.query_type(), q.name());
        return Some(tx(format!("query {t} {name}"), format!("查询 {t} {name}")));
    }
    let a: Vec<String> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            hickory_proto::rr::RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect();
    Some(if a.is_empty() {
        let rc = crate::wire::dns::rcode_name(u16::from(m.metadata.response_code));
        tx(format!("answer {rc}"), format!("应答 {rc}"))
    } else {
        tx(
            format!("answer {}", a.join(", ")),
            format!("应答 {}", a.join("、")),
        )
    })
}

/// Run the demo.
pub fn run(args: &UrlArgs, n: &mut Narrator) -> Result<i32> {
    if !Privileges::probe().can_build_lab() {
        return Err(crate::privilege::lab_privilege());
    }
    let u = &args.url;
    let host = u.host_str().unwrap_or("").to_string();
    let port = u.port_or_known_default().unwrap_or(80);
    let url_parts = UrlParts {
        scheme: u.scheme().to_string(),
        host: host.clone(),
        port,
        path: u.path().to_string(),
        query: u.query().map(str::to_string),
        fragment: u.fragment().map(str::to_string),
    };

    // 1. The URL, beside two URIs that are not URLs.
    let mut s = Step::new(
        say::anatomy(u),
        tx(
            "A URL is a URI that says how and where: the scheme names the protocol, the host the machine, the port the program on it, the path the resource. Beside it, two URIs the same parser takes apart that locate nothing.",
            "URL 是写明了「用什么方式、到哪里取」的 URI：开头的协议名指出用哪种协议，主机指出哪台机器，端口指出机器上的哪个程序，路径指出哪个资源。旁边是同一个解析器拆开的两个 URI，它们不指向任何位置。",
        ),
        &["Q3"],
    )
    .section(tx("1 · The URL", "1 · URL"))
    .fact(tx("scheme", "协议"), u.scheme())
    .fact(tx("host", "主机"), host.as_str())
    .fact(tx("port", "端口"), say::port(u))
    .fact(tx("path", "路径"), u.path())
    .fact(tx("query", "查询"), say::optional(u.query()))
    .fact(tx("fragment", "片段"), say::optional(u.fragment()));
    for (text, urn) in [(URN, true), (MAILTO, false)] {
        if let Ok(o) = url::Url::parse(text) {
            s = s.fact(
                if urn {
                    tx("URN", "URN")
                } else {
                    tx("mailto", "mailto")
                },
                say::other_uri(text, o.scheme(), o.path(), urn),
            );
        }
    }
    s = s.correction(tx(
        "the notes set URI and URL side by side. Every URL is a URI; the URN above is a URI that is not a URL.",
        "笔记把 URI 和 URL 并列。每个 URL 都是 URI；上面的 URN 是 URI，却不是 URL。",
    ));
    // The lab hosts of the conversation: the browser, the DNS server, the
    // router, and the web server behind it, whose packets cross h1's link
    // in frames to and from r1.
    for h in ["h1", "h2", "r1"] {
        s = s.who(h, Text::from(h));
    }
    s = s.who("h3", tx("h3 via r1", "h3（经 r1）"));
    n.step(s.with(&UrlStep {
        url: url_parts.clone(),
    }))?;

    // The lab: DNS on h2, the web server on h3, the capture on h1's link.
    let lab = NetLab::build()?;
    let (h1, h2, h3) = (lab.host("h1")?, lab.host("h2")?, lab.host("h3")?);
    // h3 serves on its own port, not on whichever the URL names.
    let _services = web::serve(h2, H2, h3, SocketAddr::from((H3, web::PORT)))?;
    let cap = web::capture(h1)?;

    // 2. The name.
    let dns = SocketAddr::from((H2, 53));
    let (address, lookup) = match u.host() {
        Some(url::Host::Ipv4(a)) => (Some(a), None),
        _ => {
            let l = web::lookup(h1, dns, &host)?;
            (l.address, Some(l))
        }
    };
    let Some(address) = address else {
        let frames = web::stop(cap)?;
        let rcode = lookup.as_ref().map_or("", |l| l.rcode.as_str()).to_string();
        let mut s = Step::new(
            say::no_address(&host, &rcode),
            tx(
                "h2 is the authoritative server of lab.edu.cn, not a recursive resolver: a name in that zone it does not hold is NXDOMAIN, a name outside it is REFUSED.",
                "h2 是 lab.edu.cn 区的权威服务器，不是递归解析器：该区里没有的名字答 NXDOMAIN，区外的名字答 REFUSED。",
            ),
            &["Q4"],
        )
        .section(tx("2 · From name to address", "2 · 从名字到地址"));
        s.packets = records(&frames);
        n.step(s)?;
        n.summary(
            Summary {
                title: say::no_address(&host, &rcode),
                lines: vec![],
                questions: crate::record::qs(&["Q3", "Q4"]),
                ok: false,
                ..Summary::default()
            }
            .with(&UrlOut {
                url: url_parts,
                address: None,
                status: None,
                body_bytes: None,
                layers: vec![],
            }),
        )?;
        return Ok(exit::NETWORK_NO);
    };

    let request = web::request(&host_header(u), &path_and_query(u));
    let to = SocketAddr::from((address, port));
    let fetched = web::fetch(h1, to, request.clone());
    let frames = web::stop(cap)?;
    // The client's port: the fetch's, or (when it failed) its SYN's.
    let client_port = match &fetched {
        Ok(e) => e.from.port(),
        Err(_) => frames
            .iter()
            .find_map(|f| match frame::ethernet_frame(&f.bytes).ok()?.kind {
                Kind::Ipv4 {
                    dst, tcp: Some(h), ..
                } if dst == address && h.dst_port == port && h.flags & 0x12 == 0x02 => {
                    Some(h.src_port)
                }
                _ => None,
            })
            .unwrap_or(0),
    };
    let p: Phases = web::phases(&frames, lookup.as_ref().map(|_| H2), client_port);
    // One part of the capture per step to come, cut where each phase begins.
    let failed: Vec<Frame> = [p.handshake.as_slice(), &p.request, &p.response, &p.close].concat();
    let mut phases: Vec<&[Frame]> = Vec::new();
    if lookup.is_some() {
        phases.push(&p.lookup);
    }
    phases.push(&p.arp);
    if fetched.is_ok() {
        phases.extend([p.handshake.as_slice(), &p.request, &p.response, &p.close]);
    } else {
        phases.push(&failed);
    }
    let mut parts = by_step(frames, &phases).into_iter();

    if let Some(l) = &lookup {
        let mut s = Step::new(
            say::looked_up(&host, l),
            tx(
                "Before any connection, the name must become an address. h2 is on the same LAN, so h1 first asks ARP for h2's MAC, then sends one UDP query to port 53.",
                "连接之前，名字得先变成地址。h2 与 h1 在同一个局域网，所以 h1 先用 ARP 问到 h2 的 MAC，再向 53 端口发一个 UDP 查询。",
            ),
            &["Q4"],
        )
        .section(tx("2 · From name to address", "2 · 从名字到地址"))
        .fact(tx("answer", "应答"), say::answer(l))
        .fact(tx("more", "更多"), say::walk(&host))
        .with(&LookupStep { lookup: l.clone() });
        s.packets = records(&parts.next().unwrap_or_default());
        n.step(s)?;
    }

    // 3. ARP for the next hop.
    let same_lan =
        matches!(IpAddr::V4(address), IpAddr::V4(a) if a.octets()[..3] == H2.octets()[..3]);
    let mut s = Step::new(
        say::arp_title(address, (!same_lan).then_some(R1_A)),
        say::arp_detail(same_lan),
        &["Q5", "Q6"],
    );
    if lookup.is_none() {
        s = s.section(tx("2 · From name to address", "2 · 从名字到地址"));
    }
    s.packets = records(&parts.next().unwrap_or_default());
    n.step(s)?;

    let e = match fetched {
        Ok(e) => e,
        Err(err) => {
            let tried = parts.next().unwrap_or_default();
            // What the frames show of the attempt: an RST back, or silence.
            let reset = tried.iter().any(|f| {
                matches!(frame::ethernet_frame(&f.bytes).map(|d| d.kind),
                    Ok(Kind::Ipv4 { src, tcp: Some(h), .. }) if h.flags & 0x04 != 0 && src == address)
            });
            // A loopback address is h1 itself: its SYN and RST cross h1's lo,
            // never the link the capture watches, and connect() says refused.
            let refused_at_home = address.is_loopback()
                && matches!(&err, Error::System { source, .. }
                    if source.kind() == std::io::ErrorKind::ConnectionRefused);
            let (title, detail) = if refused_at_home {
                (say::refused_by_itself(to), say::loopback_refused(address))
            } else {
                (say::no_connection(to, reset), say::refused(reset))
            };
            let mut s = Step::new(title, detail, &["Q9"])
                .fact(tx("error", "错误"), err.text())
                .section(tx("3 · The conversation", "3 · 会话"));
            s.packets = records(&tried);
            n.step(s)?;
            n.summary(
                Summary {
                    title: tx(
                        format!("GET {u}: no connection"),
                        format!("GET {u}：连接失败"),
                    ),
                    lines: vec![],
                    questions: crate::record::qs(&["Q3", "Q4", "Q9"]),
                    ok: false,
                    ..Summary::default()
                }
                .with(&UrlOut {
                    url: url_parts,
                    address: Some(address),
                    status: None,
                    body_bytes: None,
                    layers: vec![],
                }),
            )?;
            return Ok(exit::NETWORK_NO);
        }
    };

    // 4–7. The conversation.
    let handshake = parts.next().unwrap_or_default();
    let mut s = Step::new(
        say::handshake(&e),
        say::handshake_detail(!same_lan),
        &["Q9"],
    )
    .section(tx("3 · The conversation", "3 · 会话"))
    .with(&ExchangeStep {
        exchange: e.clone(),
    });
    s.packets = records(&handshake);
    n.step(s)?;

    let text = String::from_utf8_lossy(&e.request).into_owned();
    let first = text.lines().next().unwrap_or("").to_string();
    let others: Vec<&str> = text
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty() && !l.starts_with("Host:"))
        .collect();
    let request = parts.next().unwrap_or_default();
    let data = segments(&request, client_port, true);
    let mut s = Step::new(
        say::request_title(&first, e.request.len(), data),
        say::request_detail(),
        &["Q2"],
    )
    .fact(tx("request line", "请求行"), first.as_str())
    .fact(tx("Host", "Host"), host_header(u))
    .fact(tx("headers", "其他头部"), others.join(" · "));
    s.packets = records(&request);
    n.step(s)?;

    let body = String::from_utf8_lossy(&e.body);
    let title_line = body
        .lines()
        .find(|l| l.contains("<h1>") || l.contains("<p>"))
        .unwrap_or("")
        .trim()
        .to_string();
    // Date changes with every run (JSON keeps it); the others describe the body.
    let headers: Vec<String> = e
        .headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("date"))
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    let response = parts.next().unwrap_or_default();
    let data = segments(&response, client_port, false);
    let mut s = Step::new(say::response_title(&e), say::response_detail(data), &["Q2"])
        .fact(
            tx("status line", "状态行"),
            format!("HTTP/1.1 {} {}", e.status, e.reason),
        )
        .fact(tx("headers", "头部"), headers.join(" · "))
        .fact(tx("body", "正文"), title_line);
    s.packets = records(&response);
    n.step(s)?;

    let mut s = Step::new(
        say::close_title(e.total_ms),
        tx(
            "Each side's TCP sends a FIN and acknowledges the other's; the side that closed first waits in TIME_WAIT.",
            "双方的 TCP 各发一个 FIN，并确认对方的 FIN；先关闭的一方进入 TIME_WAIT 等待。",
        ),
        &["Q9"],
    );
    s.packets = records(&parts.next().unwrap_or_default());
    n.step(s)?;

    // 8. One frame, peeled.
    let req_frame = p.request.iter().find(|f| {
        matches!(frame::ethernet_frame(&f.bytes).map(|d| d.kind),
            Ok(Kind::Ipv4 { tcp: Some(h), payload_len, .. }) if payload_len > 0 && h.src_port == client_port)
    });
    let mut layer_names = Vec::new();
    if let Some(f) = req_frame {
        if let (Some(layers), Ok(d)) = (web::layers(&f.bytes), frame::ethernet_frame(&f.bytes)) {
            layer_names = layers.iter().map(|l| l.name).collect();
            let sizes: Vec<(&str, usize)> =
                layers.iter().map(|l| (l.name, l.end - l.start)).collect();
            let mut s = Step::new(
                say::peeled(&sizes),
                tx(
                    "Each layer puts its own header before what the layer above handed it, and the layer below carries the lot.",
                    "每一层都在上一层交来的内容前加上自己的头部，再由下一层整个运走。",
                ),
                &["Q1", "Q2"],
            )
            .section(tx(
                "4 · One packet, layer by layer",
                "4 · 一个包，一层一层",
            ));
            if let Kind::Ipv4 {
                src,
                dst,
                ttl,
                tcp: Some(h),
                ..
            } = &d.kind
            {
                let dst_mac = d.dst_mac.clone().unwrap_or_default();
                let dst_host = crate::lab::topology::host_of_mac(&dst_mac).unwrap_or("?");
                let holds: [(Text, Text); 4] = [
                    (
                        say::ethernet_holds(&dst_mac, dst_host, d.src_mac.as_deref().unwrap_or("")),
                        tx(
                            "Link layer: across this one link, to the next hop r1 (not h3)",
                            "链路层：送过这一条链路，交给下一跳 r1（不是 h3）",
                        ),
                    ),
                    (
                        say::ip_holds(*src, *dst, *ttl),
                        tx(
                            "Network layer: from h1 to h3 across networks, router by router",
                            "网络层：从 h1 跨网络到 h3，逐个路由器转发",
                        ),
                    ),
                    (
                        say::tcp_holds(h.src_port, h.dst_port, &crate::wire::tcp::flags_text(h.flags)),
                        tx(
                            "Transport layer: program to program by port; a whole, ordered byte stream",
                            "传输层：按端口连接两个程序；字节流完整有序",
                        ),
                    ),
                    (
                        say::http_holds(&first, &host_header(u)),
                        tx(
                            "Application layer: what the programs say",
                            "应用层：程序之间说的话",
                        ),
                    ),
                ];
                for (l, (h, purpose)) in layers.iter().zip(holds.iter()) {
                    s = s.fact(Text::from(l.name), say::layer((l.start, l.end), h, purpose));
                }
            }
            s = s
                .fact(tx("URL", "URL"), say::mapping(u, address))
                .correction(tx(
                    "the notes call the layers independent; this request needed every layer below it. What layering allows is replacing one (Wi-Fi for Ethernet) without changing the others.",
                    "笔记说各层彼此独立；这个请求却离不开它下面的每一层。分层真正允许的是替换其中一层（用 Wi-Fi 换以太网）而不改动其他层。",
                ))
                .with(&LayersStep {
                    layers: layers.clone(),
                });
            // The frame itself is step 5's; a second record would be a duplicate in the pcap.
            n.step(s)?;
        }
    }

    let ok = (200..300).contains(&e.status);
    n.summary(
        Summary {
            title: say::summary(u, &e),
            lines: vec![tx(
                "Opening a URL is DNS, ARP, TCP and HTTP in turn, each riding on the layer below.",
                "打开一个 URL，就是依次用到 DNS、ARP、TCP 和 HTTP，每一层都由下一层承载。",
            )],
            questions: crate::record::qs(&["Q1", "Q2", "Q3", "Q4", "Q5", "Q6", "Q9"]),
            ok,
            ..Summary::default()
        }
        .with(&UrlOut {
            url: url_parts,
            address: Some(address),
            status: Some(e.status),
            body_bytes: Some(e.body_bytes),
            layers: layer_names,
        }),
    )?;
    drop(_services);
    drop(lab);
    Ok(exit::OK)
}

/// The Host header: the host, and the port when it is not the default.
fn host_header(u: &url::Url) -> String {
    let host = u.host_str().unwrap_or("");
    match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// What the request line asks for: the path and the query; never the fragment.
fn path_and_query(u: &url::Url) -> String {
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    }
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "url",
        "What happens when a URL is opened: DNS, ARP, the handshake, HTTP, the frame peeled layer by layer.",
    )
    .step::<UrlStep>("the first step")
    .step::<LookupStep>("the lookup at h2 (a URL with a name)")
    .step::<ExchangeStep>("the handshake")
    .step::<LayersStep>("the request's frame peeled")
    .summary::<UrlOut>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_header_carries_a_port_only_when_the_url_names_one() {
        let h = |s: &str| host_header(&url::Url::parse(s).unwrap());
        assert_eq!(h("http://www.lab.edu.cn:8080/x"), "www.lab.edu.cn:8080");
        assert_eq!(h("http://www.lab.edu.cn/x"), "www.lab.edu.cn");
        // The scheme's own port is no port at all to the URL parser.
        assert_eq!(h("http://www.lab.edu.cn:80/x"), "www.lab.edu.cn");
    }
}
