//! `netlab load-balance`: what LVS, nginx and HAProxy do, and what load
//! balancing is (Q31, Q32, Q34, Q35), in a server farm of namespaces.
//!
//! Two clients on one LAN ask for a virtual address (VIP) held by lb; three
//! web backends on a second LAN answer with their own names, so every answer
//! says who served it. Captured on both of lb's legs (and on r1's, where the
//! replies go around lb):
//!
//! 1. layer 4, NAT (LVS-NAT) with nftables: round robin, then source hash;
//!    one connection seen on both sides (destination rewritten in, source
//!    rewritten out) and the conntrack entry that remembers it;
//! 2. layer 4, direct routing (LVS-DR): the packet, still addressed to the
//!    VIP, sent on in a new frame to a backend's MAC; the backends hold the
//!    VIP on a silent loopback and answer the client directly, around lb;
//! 3. layer 7, a reverse proxy (netlab's on hyper, or the system's nginx or
//!    haproxy with the configuration shown): two TCP connections per
//!    request, X-Forwarded-For, a rule by path, round robin against least
//!    connections, and a backend killed mid-run under health checks.
//!
//! The network work is in crate::balance and lab::farm; this file tells it.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime};

use schemars::JsonSchema;
use serde::Serialize;

use crate::balance::backend::{self, PORT};
use crate::balance::client::{self, Answer};
use crate::balance::rules::{self, Pick};
use crate::cli::{LbMode, LoadBalanceArgs, ProxyKind};
use crate::error::{exit, Result};
use crate::lab::capture::{Capture, Frame};
use crate::lab::farm::{self, Farm, BACKENDS, LB_B, R1_B, VIP};
use crate::lab::firewall::{self as fw, Tracked};
use crate::narrate::{tx, Narrator, Packet, Step, Summary, Text};
use crate::privilege::Privileges;
use crate::wire::frame::{self, Kind};

mod l7;
mod say;

/// The name the clients ask for (the Host header).
const HOST: &str = "www.lab.edu.cn";
/// Requests in each layer-4 run, alternating between c1 and c2.
const L4_REQUESTS: usize = 6;

const QS: &[&str] = &["Q35"];
const LVS: &[&str] = &["Q31", "Q35"];

/// The VIP's web port.
fn vip() -> SocketAddr {
    SocketAddr::from((VIP, PORT))
}

/// One backend as the farm has it.
#[derive(Serialize, JsonSchema)]
struct BackendOut {
    /// `web1`, `web2`, `web3`.
    name: &'static str,
    /// Its address on the backend LAN.
    ip: Ipv4Addr,
    /// Its MAC address.
    mac: &'static str,
}

/// The first step: the farm.
#[derive(Serialize, JsonSchema)]
struct Setup {
    /// The farm was built without root, in a user namespace.
    rootless: bool,
    /// The virtual address the clients connect to (lb holds it).
    vip: Ipv4Addr,
    /// The three backends.
    backends: Vec<BackendOut>,
    /// This kernel has IPVS (/proc/net/ip_vs exists).
    ipvs: bool,
    /// What balances at layer 4: `ipvs` or `nftables`.
    engine: &'static str,
}

/// One request and who answered it.
#[derive(Clone, Serialize, JsonSchema)]
struct RequestOut {
    /// The client: `c1` or `c2`.
    client: String,
    /// The client's TCP port (its connection in the capture).
    port: u16,
    /// The path asked for.
    path: String,
    /// The backend that answered, from the answer's own body (null: none did).
    backend: Option<&'static str>,
    /// The response's status (null: no response).
    status: Option<u16>,
    /// What went wrong when no response came (English).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// One balancing run: its rules, its requests, who answered.
#[derive(Serialize, JsonSchema)]
struct RunStep {
    /// `l4-nat`, `l4-dr` or `l7`.
    mode: LbMode,
    /// How a backend was chosen (see the summary's `modes`).
    scheduler: &'static str,
    /// The commands that set it up, in order (empty: nothing new).
    commands: Vec<String>,
    /// Every request, in the order made.
    requests: Vec<RequestOut>,
    /// Answers by backend.
    per_backend: BTreeMap<String, usize>,
}

/// A TCP segment's ends and flags as one link saw it.
#[derive(Clone, Serialize, JsonSchema)]
struct Seen {
    /// The link: `lb:eth0` (client side) or `lb:eth1` (backend side).
    link: String,
    /// Source address and port.
    src: String,
    /// Destination address and port.
    dst: String,
    /// TCP flags as tcpdump names them.
    flags: String,
}

/// One NAT connection, seen on both sides of lb.
#[derive(Serialize, JsonSchema)]
struct RewriteStep {
    /// The SYN as it arrived from the client, then as lb sent it on, then
    /// the SYN-ACK as the backend sent it, then as lb sent it back.
    segments: Vec<Seen>,
    /// lb's conntrack entries for the VIP right after the run (absent where
    /// the kernel offers no table).
    #[serde(skip_serializing_if = "Option::is_none")]
    conntrack: Option<Vec<Tracked>>,
    /// Where the entries were read.
    conntrack_source: &'static str,
}

/// Direct routing's evidence, from the frames.
#[derive(Serialize, JsonSchema)]
struct DrStep {
    /// The first SYN's destination MAC on lb:eth0 (lb's own).
    mac_in: String,
    /// The same packet's destination MAC on lb:eth1 (a backend's).
    mac_out: String,
    /// The first SYN's source MAC on lb:eth0 (the client's).
    src_mac_in: String,
    /// The same packet's source MAC on lb:eth1 (lb's backend leg).
    src_mac_out: String,
    /// Offsets of the bytes that differ between the two frames: below 12
    /// the Ethernet addresses, 22 the TTL, 24 and 25 the IP header checksum.
    differing_bytes: Vec<usize>,
    /// Backend replies (from the VIP's port 80) seen on lb's two links.
    replies_through_lb: usize,
    /// Backend replies seen on r1's client-side link, on their way to a client.
    replies_via_r1: usize,
}

/// The layer-7 proxy and its configuration.
#[derive(Serialize, JsonSchema)]
struct ProxyStep {
    /// `netlab`, `nginx` or `haproxy`.
    proxy: ProxyKind,
    /// The configuration file as written (empty for netlab's own).
    config: String,
    /// The command that started it (empty for netlab's own).
    command: String,
}

/// One proxied request, seen on both of lb's links.
#[derive(Serialize, JsonSchema)]
struct TwoConnections {
    /// Connection 1: client → proxy, its SYN as lb:eth0 saw it.
    client_side: Option<Seen>,
    /// Connection 2: proxy → backend, its SYN as lb:eth1 saw it.
    backend_side: Option<Seen>,
    /// TCP handshakes (SYNs without ACK) the request caused on lb's links.
    handshakes: usize,
    /// The address the backend says the connection came from.
    backend_saw: Option<String>,
    /// The X-Forwarded-For the backend says it received.
    x_forwarded_for: Option<String>,
}

/// The health-check run: a backend killed mid-run.
#[derive(Serialize, JsonSchema)]
struct HealthStep {
    /// The backend that was stopped.
    killed: String,
    /// From the kill to the moment the proxy took it out, ms (null: never).
    noticed_after_ms: Option<u64>,
    /// How the proxy noticed: its own check, or the daemon's log line.
    noticed_by: String,
    /// Requests that failed before it was taken out.
    failed_before_health_check: usize,
    /// Requests that failed after.
    failed_after_health_check: usize,
}

/// One balancing mode's result.
#[derive(Clone, Serialize, JsonSchema)]
struct ModeOut {
    /// `l4-nat`, `l4-dr` or `l7`.
    mode: LbMode,
    /// How a backend was chosen: `round-robin`, `source-hash`, `flow-hash`
    /// (a hash of the client's address and port), `least-conn` or
    /// `path-rule` (`/static/` to web3).
    scheduler: &'static str,
    /// Requests made.
    requests: usize,
    /// Answers by backend, counted from the answers' own bodies (every
    /// backend listed, 0 included).
    per_backend: BTreeMap<String, usize>,
    /// Requests that got no answer from a backend, before the health check
    /// took the failed backend out (with no health check: every failure).
    failed_before_health_check: usize,
    /// Requests that failed after the health check took it out.
    failed_after_health_check: usize,
    /// A backend was killed in this run (its failures before the health
    /// check are expected).
    #[serde(skip)]
    #[schemars(skip)]
    killed: bool,
}

/// The summary's fields.
#[derive(Serialize, JsonSchema)]
struct LoadBalanceOut {
    /// Every run, in order.
    modes: Vec<ModeOut>,
    /// The layer-7 proxy: `netlab`, `nginx` or `haproxy`.
    proxy: ProxyKind,
    /// What balanced at layer 4: `ipvs` or `nftables`.
    engine: &'static str,
}

/// Answers by backend, every backend listed.
fn tally(answers: &[Answer]) -> BTreeMap<String, usize> {
    let mut m: BTreeMap<String, usize> = BACKENDS.iter().map(|b| (b.0.to_string(), 0)).collect();
    for a in answers.iter().filter(|a| a.ok()) {
        if let Some(b) = backend::answered_by(&a.body) {
            *m.entry(b.to_string()).or_default() += 1;
        }
    }
    m
}

fn requests_out(answers: &[Answer]) -> Vec<RequestOut> {
    answers
        .iter()
        .map(|a| RequestOut {
            client: a.client.clone(),
            port: a.port,
            path: a.path.clone(),
            backend: a.ok().then(|| backend::answered_by(&a.body)).flatten(),
            status: a.status,
            error: a.error.clone(),
        })
        .collect()
}

fn mode_out(mode: LbMode, scheduler: &'static str, answers: &[Answer]) -> ModeOut {
    ModeOut {
        mode,
        scheduler,
        requests: answers.len(),
        per_backend: tally(answers),
        failed_before_health_check: answers.iter().filter(|a| !a.ok()).count(),
        failed_after_health_check: 0,
        killed: false,
    }
}

/// Captures on the given links of the farm.
fn capture(farm: &Farm, links: &[(&str, &str)]) -> Result<Vec<Capture>> {
    links
        .iter()
        .map(|(h, i)| Capture::start(farm.host(h)?, i))
        .collect()
}

/// Stop every capture: all their frames, in the order seen.
fn stop(caps: Vec<Capture>) -> Result<Vec<Frame>> {
    let mut frames = Vec::new();
    for c in caps {
        frames.extend(c.stop()?);
    }
    frames.sort_by_key(|f| f.at);
    Ok(frames)
}

/// The first line of an HTTP message a TCP segment starts with.
fn http_line(bytes: &[u8]) -> Option<String> {
    let (6, seg) = frame::transport(bytes)? else {
        return None;
    };
    let off = usize::from(seg.get(12)? >> 4) * 4;
    let data = seg.get(off..)?;
    let line = data.split(|b| *b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let http = ["GET ", "HEAD ", "POST ", "HTTP/1."]
        .iter()
        .any(|m| line.starts_with(m));
    http.then(|| {
        match line
            .strip_prefix("HTTP/1.1 ")
            .or(line.strip_prefix("HTTP/1.0 "))
        {
            Some(status) => format!("HTTP {status}"),
            None => line
                .trim_end_matches(" HTTP/1.1")
                .trim_end_matches(" HTTP/1.0")
                .to_string(),
        }
    })
}

/// The frames as packet records between the farm's hosts (the MAC ends: the
/// hop on that link); an HTTP message labelled with its first line.
fn records(frames: &[Frame]) -> Vec<Packet> {
    frames
        .iter()
        .map(|f| {
            let p = f.record(false);
            let d = frame::ethernet_frame(&f.bytes).ok();
            let end = |m: Option<&String>| {
                m.and_then(|m| farm::host_of_mac(m))
                    .map(str::to_string)
                    .unwrap_or_default()
            };
            let from = end(d.as_ref().and_then(|d| d.src_mac.as_ref()));
            let mut to = end(d.as_ref().and_then(|d| d.dst_mac.as_ref()));
            if to == "*" {
                let (h, i) = f.link.split_once(':').unwrap_or((&f.link, ""));
                to = farm::neighbours(h, i);
            }
            let label = http_line(&f.bytes).map_or_else(|| p.label.clone(), Text::from);
            p.between(from, to, label)
        })
        .collect()
}

/// A TCP segment's ends and flags, from its bytes.
fn seen(f: &Frame) -> Option<Seen> {
    let Kind::Ipv4 {
        src,
        dst,
        tcp: Some(h),
        ..
    } = frame::ethernet_frame(&f.bytes).ok()?.kind
    else {
        return None;
    };
    Some(Seen {
        link: f.link.clone(),
        src: format!("{src}:{}", h.src_port),
        dst: format!("{dst}:{}", h.dst_port),
        flags: crate::wire::tcp::flags_text(h.flags),
    })
}

/// The TCP header and addresses of a frame.
fn tcp_of(f: &Frame) -> Option<(Ipv4Addr, Ipv4Addr, crate::wire::tcp::Header)> {
    match frame::ethernet_frame(&f.bytes).ok()?.kind {
        Kind::Ipv4 {
            src,
            dst,
            tcp: Some(h),
            ..
        } => Some((src, dst, h)),
        _ => None,
    }
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

/// The first frame on `link` with the client port `port` on one end and
/// exactly these SYN/ACK flags.
fn segment<'a>(frames: &'a [Frame], link: &str, port: u16, flags: u8) -> Option<&'a Frame> {
    frames.iter().find(|f| {
        f.link == link
            && tcp_of(f).is_some_and(|(_, _, h)| {
                (h.src_port == port || h.dst_port == port) && h.flags & (SYN | ACK) == flags
            })
    })
}

/// Run the demo.
pub fn run(args: &LoadBalanceArgs, n: &mut Narrator) -> Result<i32> {
    if !Privileges::probe().can_build_lab() {
        return Err(crate::privilege::lab_privilege());
    }
    let modes = if args.mode.is_empty() {
        vec![LbMode::L4Nat, LbMode::L4Dr, LbMode::L7]
    } else {
        args.mode.clone()
    };
    // A daemon that is not installed is a usage error, before anything is built.
    if modes.contains(&LbMode::L7) {
        l7::check_installed(args.proxy)?;
    }
    let farm = Farm::build()?;
    let mut backends = backend::start(&farm)?;
    let lb = farm.host("lb")?;
    let ipvs = rules::has_ipvs(lb);
    let engine = if ipvs { "ipvs" } else { "nftables" };
    let mut s = Step::new(
        crate::lab::userns::titled(tx(
            "A server farm: two clients, a balancer holding the VIP, three web backends",
            "一个服务器群：两台客户端，一台持有 VIP 的负载均衡器，三台 Web 后端",
        )),
        tx(
            "c1 and c2 ask for one address, the VIP, which lb holds on the client LAN; web1, web2 and web3 on the backend LAN each answer with their own name, so every answer says who served it. r1 is a plain router beside lb.",
            "c1 和 c2 访问同一个地址——VIP，它由 lb 持有，位于客户端局域网；后端局域网上的 web1、web2、web3 各自用自己的名字作答，所以每个应答都说明了是谁服务的。r1 是 lb 旁边的一台普通路由器。",
        ),
        QS,
    )
    .fact(tx("VIP", "VIP"), format!("{VIP}:{PORT} (lb eth0)"))
    .fact(
        tx("backends", "后端"),
        BACKENDS
            .iter()
            .map(|b| format!("{} {}", b.0, b.1))
            .collect::<Vec<_>>()
            .join(", "),
    )
    .fact(tx("engine", "引擎"), say::engine(ipvs));
    for (id, en, zh) in [
        ("c1", "c1 (client)", "c1（客户端）"),
        ("c2", "c2 (client)", "c2（客户端）"),
        ("lb", "lb (balancer)", "lb（均衡器）"),
        ("r1", "r1 (router)", "r1（路由器）"),
    ] {
        s = s.who(id, tx(en, zh));
    }
    for b in BACKENDS {
        s = s.who(b.0, Text::from(b.0));
    }
    n.step(
        s.with(&Setup {
            rootless: crate::lab::userns::rootless(),
            vip: VIP,
            backends: BACKENDS
                .iter()
                .map(|b| BackendOut {
                    name: b.0,
                    ip: b.1,
                    mac: b.2,
                })
                .collect(),
            ipvs,
            engine,
        }),
    )?;
    let mut out = Vec::new();
    for (i, m) in modes.iter().enumerate() {
        let section = say::section(i + 1, *m, args.proxy);
        match m {
            LbMode::L4Nat => out.extend(nat(&farm, n, section)?),
            LbMode::L4Dr => out.push(dr(&farm, n, section)?),
            LbMode::L7 => out.extend(l7::run(&farm, &mut backends, args.proxy, n, section)?),
        }
    }
    rules::clear(lb);
    // Failures are expected only where a backend was killed, and only
    // before the health check took it out.
    let failed: usize = out
        .iter()
        .map(|m| {
            let expected = if m.killed {
                0
            } else {
                m.failed_before_health_check
            };
            m.failed_after_health_check + expected
        })
        .sum();
    let answered: usize = out
        .iter()
        .map(|m| m.per_backend.values().sum::<usize>())
        .sum();
    let requests: usize = out.iter().map(|m| m.requests).sum();
    let ok = failed == 0 && answered > 0;
    n.summary(
        Summary {
            title: say::summary(out.len(), requests, answered),
            lines: vec![tx(
                "Layer 4 (LVS) moves packets and never reads them: NAT rewrites addresses, direct routing only the frame around the packet. Layer 7 (nginx, HAProxy) ends the client's connection and opens its own, so it can read the request, route by it, and tell the backend who asked.",
                "四层（LVS）只搬运数据包、从不读内容：NAT 改写地址，直接路由只换掉包外面的帧。七层（nginx、HAProxy）终结客户端的连接、自己另开一条，所以能读懂请求、按请求分流，还能告诉后端是谁在问。",
            )],
            questions: crate::record::qs(&["Q31", "Q32", "Q34", "Q35"]),
            ok,
            ..Summary::default()
        }
        .with(&LoadBalanceOut {
            modes: out,
            proxy: args.proxy,
            engine,
        }),
    )?;
    drop(backends);
    drop(farm);
    Ok(if ok { exit::OK } else { exit::NETWORK_NO })
}

/// `count` requests from c1 and c2 in turn.
fn alternate(farm: &Farm, count: usize, path: &str) -> Result<Vec<Answer>> {
    let (c1, c2) = (farm.host("c1")?, farm.host("c2")?);
    (0..count)
        .map(|i| client::get(if i % 2 == 0 { c1 } else { c2 }, vip(), HOST, path))
        .collect()
}

/// Layer 4, NAT: round robin, one connection on both sides, source hash.
fn nat(farm: &Farm, n: &mut Narrator, section: Text) -> Result<Vec<ModeOut>> {
    let lb = farm.host("lb")?;
    rules::clear(lb);
    farm.backends_via(LB_B)?;
    let mut out = Vec::new();
    for (k, pick) in [Pick::RoundRobin, Pick::SourceHash].into_iter().enumerate() {
        let commands = rules::nat_commands(pick);
        rules::clear(lb);
        rules::apply(lb, &commands)?;
        let caps = capture(farm, &[("lb", "eth0"), ("lb", "eth1")])?;
        let answers = alternate(farm, L4_REQUESTS, "/")?;
        // Right after the run: every connection still in TIME_WAIT.
        let conntrack = fw::conntrack(lb, VIP)?;
        let frames = stop(caps)?;
        let scheduler = if pick == Pick::RoundRobin {
            "round-robin"
        } else {
            "source-hash"
        };
        let m = mode_out(LbMode::L4Nat, scheduler, &answers);
        let mut s = Step::new(
            say::run_title(LbMode::L4Nat, scheduler, &m.per_backend),
            if pick == Pick::RoundRobin {
                tx(
                    "lb rewrites the destination of each new connection to the VIP to one backend's address (DNAT), here by a counter: round robin. This is LVS's NAT mode; this kernel has no IPVS, so nftables does it, with conntrack remembering each choice.",
                    "lb 把每条发往 VIP 的新连接的目的地址改写成某台后端的地址（DNAT），这里按计数器轮流选：轮询。这就是 LVS 的 NAT 模式；本机内核没有 IPVS，所以由 nftables 完成，conntrack 记住每次的选择。",
                )
            } else {
                tx(
                    "Now a hash of the client's address picks the backend: the same client always lands on the same backend (session stickiness without cookies), whatever its port.",
                    "现在按客户端地址的哈希选后端：同一个客户端总落在同一台后端上（不用 cookie 的会话保持），不管它用哪个端口。",
                )
            },
            LVS,
        );
        if k == 0 {
            s = s.section(section.clone());
        }
        // The table and chain are made again as before: the second run shows
        // only its new rule (its data keeps every command).
        for c in commands.iter().skip(if k == 0 { 0 } else { 2 }) {
            s = s.fact(tx("rule", "规则"), c.as_str());
        }
        s = s.fact(tx("answers", "应答"), say::answers(&answers));
        s.packets = records(&frames);
        n.step(s.with(&RunStep {
            mode: LbMode::L4Nat,
            scheduler,
            commands,
            requests: requests_out(&answers),
            per_backend: m.per_backend.clone(),
        }))?;
        if pick == Pick::RoundRobin {
            if let Some(a) = answers.first() {
                n.step(rewrite_step(a, &frames, &records(&frames), conntrack))?;
            }
        }
        out.push(m);
    }
    rules::clear(lb);
    Ok(out)
}

/// One NAT connection on both sides of lb, and its conntrack entry.
fn rewrite_step(
    a: &Answer,
    frames: &[Frame],
    packets: &[Packet],
    conntrack: Option<Vec<Tracked>>,
) -> Step {
    let picks = [
        ("lb:eth0", SYN),
        ("lb:eth1", SYN),
        ("lb:eth1", SYN | ACK),
        ("lb:eth0", SYN | ACK),
    ];
    let mut s = Step::new(
        tx(
            "One connection on both sides of lb: DNAT in, source back out",
            "同一条连接在 lb 两侧：进来改写目的地址，出去改回源地址",
        ),
        tx(
            "The backend sees the client's real address; its reply must return through lb, its gateway, to have its source turned back into the VIP: else the client would get an answer from an address it never called.",
            "后端看到的是客户端的真实地址（NAT 只改 VIP 那一侧），它的回包必须经过 lb（它的网关）回来，源地址才会被改回 VIP；否则客户端会收到一个它从没访问过的地址发来的应答。",
        ),
        LVS,
    );
    let mut segments = Vec::new();
    for (link, flags) in picks {
        let Some(f) = segment(frames, link, a.port, flags) else {
            continue;
        };
        let Some(sn) = seen(f) else { continue };
        s = s.fact(Text::from(link), say::segment(&sn));
        // The byte views of the two SYNs teach it; the facts say the rest.
        if let Some(i) = frames.iter().position(|x| x == f).filter(|_| flags == SYN) {
            let mut p = packets[i].echo();
            p.hide = [
                "eth.",
                "tcp.",
                "ip.ver_ihl",
                "ip.tos",
                "ip.len",
                "ip.id",
                "ip.flags",
                "ip.proto",
            ]
            .map(String::from)
            .to_vec();
            // On the way in only the addresses matter; the way out shows
            // what routing changed too.
            if link == "lb:eth0" {
                p.hide.extend(["ip.ttl", "ip.checksum"].map(String::from));
            }
            // What each field says here, not in general ("same end to end"
            // is what NAT breaks).
            let notes: &[(&str, Text)] = if link == "lb:eth0" {
                &[
                    ("ip.src", tx("the client", "客户端")),
                    ("ip.dst", tx("the VIP it asked for", "客户端访问的 VIP")),
                ]
            } else {
                &[
                    (
                        "ip.ttl",
                        tx("one less: lb routed it", "少了一：lb 转发了它"),
                    ),
                    ("ip.checksum", tx("recomputed", "重新计算")),
                    ("ip.src", tx("kept: still the client", "未变：仍是客户端")),
                    ("ip.dst", tx("DNAT: the chosen backend", "DNAT：选中的后端")),
                ]
            };
            for (name, meaning) in notes {
                if let Some(field) = p.fields.iter_mut().find(|x| x.name == *name) {
                    field.meaning = meaning.clone();
                }
            }
            s.packets.push(p);
        }
        segments.push(sn);
    }
    let entry = conntrack.as_ref().and_then(|c| {
        c.iter()
            .find(|t| t.original.contains(&format!(":{} ", a.port)))
    });
    s = s.fact(
        tx("conntrack", "conntrack"),
        match entry {
            Some(t) => say::tracked(t),
            None => tx(
                "(no entry found in /proc/net/nf_conntrack)",
                "（/proc/net/nf_conntrack 里没有找到这条记录）",
            ),
        },
    );
    s.with(&RewriteStep {
        segments,
        conntrack,
        conntrack_source: "/proc/net/nf_conntrack (lb's namespace)",
    })
}

/// Layer 4, direct routing.
fn dr(farm: &Farm, n: &mut Narrator, section: Text) -> Result<ModeOut> {
    let lb = farm.host("lb")?;
    rules::clear(lb);
    for b in BACKENDS {
        rules::dr_backend(farm.host(b.0)?)?;
    }
    let route = farm.backends_via(R1_B)?;
    let commands = rules::dr_commands();
    rules::apply(lb, &commands)?;
    let caps = capture(farm, &[("lb", "eth0"), ("lb", "eth1"), ("r1", "eth0")])?;
    let answers = alternate(farm, L4_REQUESTS, "/")?;
    let frames = stop(caps)?;
    rules::clear(lb);
    farm.backends_via(LB_B)?;
    let m = mode_out(LbMode::L4Dr, "flow-hash", &answers);
    // The first connection's SYN on both of lb's legs, byte for byte.
    let port = answers.first().map_or(0, |a| a.port);
    let syn_in = segment(&frames, "lb:eth0", port, SYN);
    let syn_out = segment(&frames, "lb:eth1", port, SYN);
    let macs = |f: Option<&Frame>| {
        f.and_then(|f| frame::ethernet_frame(&f.bytes).ok())
            .map(|d| (d.dst_mac.unwrap_or_default(), d.src_mac.unwrap_or_default()))
            .unwrap_or_default()
    };
    let (m_in, m_out) = (macs(syn_in), macs(syn_out));
    let differing: Vec<usize> = match (syn_in, syn_out) {
        (Some(a), Some(b)) if a.bytes.len() == b.bytes.len() => (0..a.bytes.len())
            .filter(|&i| a.bytes[i] != b.bytes[i])
            .collect(),
        _ => Vec::new(),
    };
    let reply = |f: &Frame| tcp_of(f).is_some_and(|(src, _, h)| src == VIP && h.src_port == PORT);
    let through_lb = frames
        .iter()
        .filter(|f| f.link.starts_with("lb:") && reply(f))
        .count();
    let via_r1 = frames
        .iter()
        .filter(|f| f.link == "r1:eth0" && reply(f))
        .count();
    let mut all = commands.clone();
    all.extend(
        rules::dr_backend_commands()
            .into_iter()
            .map(|c| format!("(web1–3) {c}")),
    );
    all.push(format!("(web1–3) {route}"));
    let mut s = Step::new(
        say::run_title(LbMode::L4Dr, "flow-hash", &m.per_backend),
        tx(
            "lb forwards each packet, still addressed to the VIP, out of its backend leg in a new frame to one backend's MAC. Each backend holds the VIP on its loopback with ARP kept quiet, so it accepts the packet and answers the client straight through r1.",
            "lb 把每个包原样转发（目的地址仍是 VIP），装进发往某台后端 MAC 的新帧，从后端那条腿发出。每台后端把 VIP 配在环回口上并让 ARP 保持沉默，于是它收下这个包，经 r1 直接回给客户端。",
        ),
        &["Q31", "Q35"],
    )
    .section(section);
    // The table line says nothing the rules don't; the JSON keeps every command.
    for c in commands.iter().filter(|c| !c.starts_with("nft add table")) {
        s = s.fact(tx("rule", "规则"), c.as_str());
    }
    let mut on_backends = rules::dr_backend_commands();
    on_backends.push(route.clone());
    s = s
        .fact(tx("backends", "后端"), on_backends.join(" · "))
        .fact(tx("answers", "应答"), say::answers(&answers));
    s.packets = records(&frames);
    let run = s.with(&RunStep {
        mode: LbMode::L4Dr,
        scheduler: "flow-hash",
        commands: all,
        requests: requests_out(&answers),
        per_backend: m.per_backend.clone(),
    });
    // The two SYNs' byte views, a second look: the Ethernet header is the point.
    let mut looks = Vec::new();
    for f in [syn_in, syn_out].into_iter().flatten() {
        if let Some(i) = frames.iter().position(|x| x == f) {
            let mut p = run.packets[i].echo();
            p.show_bytes = true;
            p.hide = ["ip.", "tcp.", "eth.type"].map(String::from).to_vec();
            looks.push(p);
        }
    }
    n.step(run)?;
    let mut step = Step::new(
        tx(
            "One SYN on both legs of lb: a new Ethernet header, the same IP packet",
            "同一个 SYN 在 lb 两条腿上：以太网头换了，IP 包没变",
        ),
        tx(
            "Only the MACs change, and the TTL (one hop less): replies never cross lb. A MAC is per hop, an IP end to end (Q5, Q6).",
            "只有 MAC 变了，外加 TTL（少了一跳）：回包从不经过 lb。MAC 只管一跳，IP 管端到端（Q5、Q6）。",
        ),
        &["Q31"],
    )
    .fact(
        tx("rewritten", "改写"),
        say::mac_rewrite((&m_in.0, &m_in.1), (&m_out.0, &m_out.1), &differing),
    )
    .fact(tx("replies", "回包"), say::bypass(through_lb, via_r1))
    .with(&DrStep {
        mac_in: m_in.0.clone(),
        mac_out: m_out.0.clone(),
        src_mac_in: m_in.1.clone(),
        src_mac_out: m_out.1.clone(),
        differing_bytes: differing,
        replies_through_lb: through_lb,
        replies_via_r1: via_r1,
    });
    step.packets = looks;
    n.step(step)?;
    Ok(m)
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "load-balance",
        "A server farm: LVS-style NAT and direct routing with nftables, a layer-7 reverse proxy (netlab's, nginx or haproxy), schedulers and health checks.",
    )
    .step::<Setup>("the first step: the farm")
    .step::<RunStep>("each balancing run (its packets: lb's links, and r1's client-side link for direct routing)")
    .step::<RewriteStep>("one NAT connection on both sides of lb, and its conntrack entry")
    .step::<DrStep>("direct routing: one SYN on both legs of lb (the MAC rewrite) and the replies around lb")
    .step::<ProxyStep>("the layer-7 proxy and its configuration")
    .step::<TwoConnections>("one proxied request: two connections")
    .step::<HealthStep>("a backend killed under health checks")
    .summary::<LoadBalanceOut>()
}

/// Wait `d` (between the health run's requests).
fn pause(d: Duration) {
    std::thread::sleep(d);
}

/// Milliseconds from `a` to `b` (0 if `b` is earlier).
fn ms_between(a: SystemTime, b: SystemTime) -> u64 {
    b.duration_since(a).unwrap_or_default().as_millis() as u64
}
