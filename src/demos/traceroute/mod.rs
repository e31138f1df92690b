//! `netlab traceroute [TARGET]`: probes with TTL 1, 2, 3 … and the ICMP each
//! router sends back (Q7, Q8; Q10's NAT; Q11).
//!
//! Without TARGET, the namespace lab grows a WAN (lab::wan): r1 joined to r2
//! by a link with delay and a rate, LAN C behind r2's NAT. Then:
//!
//! 1. the WAN described;
//! 2. a trace from h1 to h4: each TTL's probes and ICMP answers captured on
//!    h1's link, the WAN's cost seen between hop 1 and hop 2;
//! 3. LAN against WAN: the ARP broadcasts of LAN A never reach the WAN link;
//! 4. NAT: h4's connection to h1 leaves LAN C with h4's address and arrives
//!    with r2's, shown from both sides with r2's conntrack entry.
//!
//! With TARGET, a trace on the real network printed as traceroute prints it
//! (UDP probes, `-I` for ICMP echo, `-m`, `-q`, `-w`).

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, SystemTime};

use schemars::JsonSchema;
use serde::Serialize;

use crate::cli::TracerouteArgs;
use crate::error::{exit, Error, Result};
use crate::icmp::trace::{self, Method, Probe, Reply};
use crate::lab::capture::{split_at, Capture, Frame};
use crate::lab::firewall::Tracked;
use crate::lab::topology::{NetLab, H1};
use crate::lab::wan::{self, Shape, H4};
use crate::narrate::{tx, Narrator, Step, Summary, Text};
use crate::privilege::Privileges;
use crate::wire::frame::{self, Kind};

mod say;

const QS: &[&str] = &["Q7", "Q8"];

/// One hop as the JSON summary gives it: the first probe that was answered.
#[derive(Serialize, JsonSchema)]
struct HopOut {
    /// The probes' TTL.
    ttl: u8,
    /// Who answered (null: no probe of this TTL was answered).
    address: Option<Ipv4Addr>,
    /// The answered probe's round trip, milliseconds.
    rtt_ms: Option<f64>,
    /// What answered.
    reply: Reply,
    /// Every probe's round trip, milliseconds (null: no answer within the wait).
    rtts_ms: Vec<Option<f64>>,
}

/// How slow the lab's WAN link is.
#[derive(Clone, Copy, Serialize, JsonSchema)]
struct WanOut {
    /// One-way delay, milliseconds (netlab's delay line).
    delay_ms: u32,
    /// Rate, megabits per second (tc tbf).
    rate_mbit: u32,
}

impl From<Shape> for WanOut {
    fn from(s: Shape) -> Self {
        WanOut {
            delay_ms: s.delay_ms,
            rate_mbit: s.rate_mbit,
        }
    }
}

/// h4's connection to h1, seen from both sides of r2's NAT.
#[derive(Serialize, JsonSchema)]
struct NatOut {
    /// h4's own address and port, as the connection left it.
    inside: String,
    /// The address and port h1 saw: r2's.
    outside: String,
    /// r2's conntrack entries for h1 (null when r2 has no nf_conntrack to read).
    conntrack: Option<Vec<Tracked>>,
}

/// traceroute's result.
#[derive(Serialize, JsonSchema)]
struct TraceOut {
    /// The address traced to.
    target: Ipv4Addr,
    /// Each TTL tried, in order.
    hops: Vec<HopOut>,
    /// Whether the target itself answered.
    reached: bool,
    /// The lab's WAN link (lab only).
    #[serde(skip_serializing_if = "Option::is_none")]
    wan: Option<WanOut>,
    /// ARP frames on h1's link during the trace (lab only).
    #[serde(skip_serializing_if = "Option::is_none")]
    lan_arp: Option<usize>,
    /// ARP frames on the WAN that name an address of LAN A: 0, a broadcast stops at the router (lab only).
    #[serde(skip_serializing_if = "Option::is_none")]
    wan_arp_from_lan: Option<usize>,
    /// NAT seen from both sides (lab only).
    #[serde(skip_serializing_if = "Option::is_none")]
    nat: Option<NatOut>,
}

/// One line of a trace on the real network.
#[derive(Serialize, JsonSchema)]
struct TtlLine {
    /// The TTL this line's probes left with.
    ttl: u8,
}

/// The lab's opening step.
#[derive(Serialize, JsonSchema)]
struct LabIntro {
    /// The lab runs in a user namespace of netlab's own (no root).
    rootless: bool,
    /// The WAN link's delay and rate.
    wan: WanOut,
}

/// One TTL of the lab's trace.
#[derive(Serialize, JsonSchema)]
struct HopStep {
    /// The probes' TTL.
    ttl: u8,
    /// Each probe of this TTL and its answer.
    probes: Vec<Probe>,
}

/// Where the trace's ARP frames went.
#[derive(Serialize, JsonSchema)]
struct LanWan {
    /// ARP frames on h1's link during the trace.
    lan_arp: usize,
    /// Of them, requests sent to the broadcast address (ff:ff:ff:ff:ff:ff).
    lan_arp_broadcasts: usize,
    /// Of them, replies (each unicast, to the asker).
    lan_arp_replies: usize,
    /// ARP frames on the WAN that name an address of LAN A (a broadcast stops at r1).
    wan_arp_from_lan: usize,
}

fn hops(probes: &[Probe]) -> Vec<HopOut> {
    let mut out: Vec<HopOut> = Vec::new();
    for p in probes {
        match out.last_mut() {
            Some(h) if h.ttl == p.ttl => {
                h.rtts_ms.push(p.rtt_ms);
                if h.address.is_none() && p.address.is_some() {
                    (h.address, h.rtt_ms, h.reply) = (p.address, p.rtt_ms, p.reply);
                }
            }
            _ => out.push(HopOut {
                ttl: p.ttl,
                address: p.address,
                rtt_ms: p.rtt_ms,
                reply: p.reply,
                rtts_ms: vec![p.rtt_ms],
            }),
        }
    }
    out
}

fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

fn trace_error(m: Method, e: std::io::Error) -> Error {
    // Only an echo probe needs a privilege (an ICMP socket); a UDP socket
    // needs none, so a refusal there is not a matter of sudo.
    if m == Method::Icmp && e.kind() == std::io::ErrorKind::PermissionDenied {
        return crate::privilege::ping_privilege();
    }
    Error::system(tx("send a probe", "发送探测包"), "traceroute", e)
}

/// Run the demo.
pub fn run(args: &TracerouteArgs, n: &mut Narrator) -> Result<i32> {
    match &args.target {
        Some(t) => live(args, t, n),
        None => lab(args, n),
    }
}

fn method(args: &TracerouteArgs) -> Method {
    if args.icmp {
        Method::Icmp
    } else {
        Method::Udp
    }
}

/// A trace on the real network, printed as traceroute prints it.
fn live(args: &TracerouteArgs, target: &str, n: &mut Narrator) -> Result<i32> {
    if target.parse::<std::net::Ipv6Addr>().is_ok() {
        return Err(Error::usage(say::ipv6(target)));
    }
    let dst = match target.parse::<Ipv4Addr>() {
        Ok(a) => a,
        // A name must be one DNS can carry before the resolver is asked (as ping checks it).
        Err(_) => (crate::dns::name::check(target)?.input.as_str(), 0)
            .to_socket_addrs()
            .ok()
            .and_then(|mut it| {
                it.find_map(|a| match a {
                    SocketAddr::V4(v4) => Some(*v4.ip()),
                    SocketAddr::V6(_) => None,
                })
            })
            .ok_or_else(|| {
                let q = crate::error::quote(target);
                Error::usage(tx(
                    format!("{} is not an IPv4 address or a name with one", q.en),
                    format!("{} 不是 IPv4 地址，也不是有 IPv4 地址的名字", q.zh),
                ))
            })?,
    };
    let m = method(args);
    // Ask the kernel where the target leads before anything is sent: a
    // broadcast address is refused here, as ping refuses it, and 0.0.0.0
    // turns out to be this host.
    let host = match trace::destination(dst).map_err(|e| trace_error(m, e))? {
        trace::Destination::Broadcast => return Err(Error::usage(say::broadcast(dst))),
        trace::Destination::Host(h) => h,
    };
    let probe_size = if args.icmp { 40 } else { 32 };
    n.step(Step::line(
        tx(
            format!(
                "traceroute to {target} ({dst}), {} hops max, {probe_size} byte packets",
                args.max_ttl
            ),
            format!(
                "traceroute 到 {target}（{dst}），最多 {} 跳，每个探测包 {probe_size} 字节",
                args.max_ttl
            ),
        ),
        QS,
    ))?;
    if host != dst {
        n.step(Step::line(say::this_host(dst, host), QS))?;
    }
    let mut all = Vec::new();
    let mut k: u16 = 0;
    for ttl in 1..=args.max_ttl {
        let mut these = Vec::new();
        for _ in 0..args.queries {
            let p = trace::probe(m, dst, ttl, k, args.wait).map_err(|e| trace_error(m, e))?;
            k = k.wrapping_add(1);
            these.push(p);
        }
        // As traceroute lays it out: each answering address once, where it
        // changes (routes that share the load), then each probe's time or *.
        // No-break spaces, which the wrapper keeps.
        let mut line = format!("{ttl:>2}").replace(' ', "\u{a0}");
        let mut last = None;
        for p in &these {
            if p.address.is_some() && p.address != last {
                last = p.address;
                line.push_str(&format!(
                    "\u{a0} {}",
                    p.address.map(|a| a.to_string()).unwrap_or_default()
                ));
            }
            match p.rtt_ms {
                Some(ms) => line.push_str(&format!("\u{a0} {ms:.3}\u{a0}ms")),
                None => line.push_str("\u{a0} *"),
            }
        }
        n.step(Step::line(tx(line.clone(), line), QS).with(&TtlLine { ttl }))?;
        let done = trace::reached(&these, host);
        all.extend(these);
        if done {
            break;
        }
    }
    let reached = trace::reached(&all, host);
    let h = hops(&all);
    n.summary(
        Summary {
            title: say::summary(
                target,
                (host != dst).then_some(host),
                reached,
                h.len() as u8,
            ),
            lines: vec![],
            questions: crate::record::qs(QS),
            ok: reached,
            ..Summary::default()
        }
        .with(&TraceOut {
            target: dst,
            hops: h,
            reached,
            wan: None,
            lan_arp: None,
            wan_arp_from_lan: None,
            nat: None,
        }),
    )?;
    Ok(if reached { exit::OK } else { exit::NETWORK_NO })
}

fn records(frames: &[Frame]) -> Vec<crate::narrate::Packet> {
    frames.iter().map(|f| f.record(false)).collect()
}

/// The ARP operation of a frame (1 request, 2 reply), if it is ARP.
fn arp_op(f: &Frame) -> Option<u16> {
    match frame::ethernet_frame(&f.bytes).ok()?.kind {
        Kind::Arp { op, .. } => Some(op),
        _ => None,
    }
}

/// Whether a frame went to the Ethernet broadcast address.
fn is_broadcast(f: &Frame) -> bool {
    f.bytes.get(..6) == Some(&[0xff; 6][..])
}

fn is_arp(f: &Frame) -> Option<(Ipv4Addr, Ipv4Addr)> {
    match frame::ethernet_frame(&f.bytes).ok()?.kind {
        Kind::Arp { spa, tpa, .. } => Some((spa, tpa)),
        _ => None,
    }
}

/// The lab demo: h1 to h4 across the WAN.
fn lab(args: &TracerouteArgs, n: &mut Narrator) -> Result<i32> {
    if !Privileges::probe().can_build_lab() {
        return Err(crate::privilege::lab_privilege());
    }
    let shape = Shape {
        delay_ms: args.delay,
        rate_mbit: args.rate,
    };
    let lab = NetLab::build()?;
    let w = wan::build(&lab, shape)?;
    let h1 = lab.host("h1")?;
    // ICMP echo probes from an unprivileged socket: open the lab host's range.
    // In a user namespace the range cannot name unmapped groups; -I then falls
    // back to a raw socket, which the namespace's CAP_NET_RAW allows.
    let _ = h1.sysctl("net.ipv4.ping_group_range", "0 2147483647");

    n.step(
        Step::new(
            crate::lab::userns::titled(say::wan_title(&shape)),
            tx(
                "A LAN is one organisation's network: one switch, every host a frame away, fast. A WAN joins networks far apart over a slower, costlier link between routers. r2 hides LAN C behind its own address (NAT), as a home router does.",
                "局域网是一个机构自己的网络：主机都接在同一台交换机上，帧直接送到，速度快。广域网用路由器之间更慢、更贵的链路把相距遥远的网络连起来。r2 用自己的地址把局域网 C 藏在后面（NAT），就像家用路由器那样。",
            ),
            &["Q11", "Q8"],
        )
        .section(tx("1 · The lab's WAN", "1 · 实验网络的广域网"))
        .fact(
            tx("LAN A", "局域网 A"),
            tx(
                "198.51.100.0/24: h1 .10, h2 .20, r1 .1 (switch sw1)",
                "198.51.100.0/24：h1 .10，h2 .20，r1 .1（交换机 sw1）",
            ),
        )
        .fact(
            tx("LAN B", "局域网 B"),
            tx("203.0.113.0/25: r1 .1, h3 .10", "203.0.113.0/25：r1 .1，h3 .10"),
        )
        .fact(tx("WAN", "广域网"), say::wan_link(&shape))
        .fact(
            tx("LAN C", "局域网 C"),
            tx(
                "203.0.113.192/26: r2 .193, h4 .200; what leaves over the WAN leaves with r2's address",
                "203.0.113.192/26：r2 .193，h4 .200；经广域网出去的包都换成 r2 的地址",
            ),
        )
        .who("h1", Text::from("h1"))
        .who("h2", Text::from("h2"))
        .who("r1", Text::from("r1"))
        .who("r2", Text::from("r2"))
        .who("h4", Text::from("h4"))
        .with(&LabIntro {
            rootless: crate::lab::userns::rootless(),
            wan: shape.into(),
        }),
    )?;

    // 2. The trace, captured on LAN A and on the WAN.
    let caps = [Capture::start(h1, "eth0")?, Capture::start(&w.r2, "eth0")?];
    let m = method(args);
    let (max, q, wait) = (args.max_ttl.min(8), args.queries, args.wait);
    let traced = h1.run(move || -> std::io::Result<(Vec<Probe>, Vec<SystemTime>)> {
        let mut probes = Vec::new();
        let mut starts = Vec::new();
        let mut k = 0u16;
        for ttl in 1..=max {
            starts.push(SystemTime::now());
            let mut these = Vec::new();
            for _ in 0..q {
                these.push(trace::probe(m, H4, ttl, k, wait)?);
                k = k.wrapping_add(1);
            }
            let done = trace::reached(&these, H4);
            probes.extend(these);
            if done {
                break;
            }
        }
        starts.push(SystemTime::now());
        Ok((probes, starts))
    })?;
    let (probes, starts) = traced.map_err(|e| trace_error(m, e))?;
    std::thread::sleep(Duration::from_millis(20));
    let [lan_cap, wan_cap] = caps;
    let lan_frames = lan_cap.stop()?;
    let wan_frames = wan_cap.stop()?;
    let ttls: Vec<u8> = {
        let mut t: Vec<u8> = probes.iter().map(|p| p.ttl).collect();
        t.dedup();
        t
    };
    // Each TTL's step holds what both links carried while its probes were
    // out, in wire order: the WAN's frames of TTL 2 are drawn before r2's
    // answer reaches h1, as they happened. The first step also holds what
    // came before the first probe, the last what came after its own.
    let cuts: Vec<SystemTime> = starts
        .iter()
        .skip(1)
        .take(ttls.len().saturating_sub(1))
        .copied()
        .collect();
    let both = lan_frames.iter().chain(wan_frames.iter()).cloned();
    let mut windows = split_at(both, &cuts).into_iter();
    let mut hop_rtt: Vec<Option<f64>> = Vec::new();
    let mut first_router = true;
    for (i, &ttl) in ttls.iter().enumerate() {
        let these: Vec<&Probe> = probes.iter().filter(|p| p.ttl == ttl).collect();
        let answered = these.iter().copied().find(|p| p.address.is_some());
        let rtts: Vec<f64> = these.iter().filter_map(|p| p.rtt_ms).collect();
        // The least disturbed probe: the first of a hop may also wait for an ARP.
        hop_rtt.push(rtts.iter().copied().reduce(f64::min));
        let window = windows.next().unwrap_or_default();
        // Who asked ARP for whom while this TTL's probes were out, from the frames.
        let asked: Vec<(String, String)> = window
            .iter()
            .filter(|f| arp_op(f) == Some(1))
            .filter_map(is_arp)
            .map(|(spa, tpa)| (say::name(spa), say::name(tpa)))
            .collect();
        let mut detail = say::hop_detail(
            answered.or(these.first().copied()),
            H4,
            first_router,
            m == Method::Udp,
            these.len(),
        );
        if let Some(a) = say::arp_first(&asked) {
            detail = tx(
                format!("{} {}", detail.en, a.en),
                format!("{}{}", detail.zh, a.zh),
            );
        }
        let mut s = Step::new(say::hop(ttl, &these), detail, QS);
        if answered.is_some_and(|p| p.reply == Reply::TimeExceeded) {
            first_router = false;
        }
        if i == 0 {
            s = s.section(tx(
                format!("2 · traceroute from h1 to h4 ({H4})"),
                format!("2 · 从 h1 到 h4（{H4}）的 traceroute"),
            ));
        }
        if i == 1 {
            if let (Some(Some(a)), Some(Some(b))) = (hop_rtt.first(), hop_rtt.get(1)) {
                // One probe only, and it paid for r1's ARP across the WAN too.
                let with_arp = these.len() == 1 && b - a > 3.0 * f64::from(shape.delay_ms) + 1.0;
                s = s.fact(
                    tx("WAN", "广域网"),
                    say::wan_cost(*a, *b, shape.delay_ms, with_arp),
                );
            }
        }
        if let (Some(first), Some(m)) = (these.first().and_then(|p| p.rtt_ms), median(&rtts)) {
            if these.len() > 1 && first > m * 1.5 && first - m > 5.0 {
                s = s.fact(tx("first", "第一个"), say::first_slower(first, m));
            }
        }
        s.packets = records(&window);
        n.step(s.with(&HopStep {
            ttl,
            probes: these.into_iter().cloned().collect(),
        }))?;
    }
    let reached = trace::reached(&probes, H4);

    // 3. LAN and WAN: where the broadcasts went, counted from the frames.
    let lan_arps: Vec<&Frame> = lan_frames.iter().filter(|f| is_arp(f).is_some()).collect();
    let lan_arp = lan_arps.len();
    let broadcasts = lan_arps.iter().filter(|f| is_broadcast(f)).count();
    let lan_replies = lan_arps.iter().filter(|f| arp_op(f) == Some(2)).count();
    let unicast_requests = lan_arps
        .iter()
        .filter(|f| arp_op(f) == Some(1) && !is_broadcast(f))
        .count();
    let in_lan_a = |a: Ipv4Addr| a.octets()[..3] == H1.octets()[..3];
    let wan_arp_frames: Vec<&Frame> = wan_frames.iter().filter(|f| is_arp(f).is_some()).collect();
    let wan_from_lan = wan_arp_frames
        .iter()
        .filter_map(|f| is_arp(f))
        .filter(|(s, t)| in_lan_a(*s) || in_lan_a(*t))
        .count();
    let wan_requests = wan_arp_frames
        .iter()
        .filter(|f| arp_op(f) == Some(1))
        .count();
    let wan_replies = wan_arp_frames
        .iter()
        .filter(|f| arp_op(f) == Some(2))
        .count();
    let s = Step::new(
        say::lan_wan_title(broadcasts, lan_replies, wan_from_lan),
        tx(
            "An ARP request is a broadcast: every host on the LAN hears it, and the router does not forward it. The reply is unicast, to the asker alone. The WAN link is a network of its own: there r1 and r2 ask ARP only about each other.",
            "ARP 请求是广播：局域网里的每台主机都听得到，路由器却不转发。应答是单播，只发给提问的那台主机。广域网这段链路自成一个网络：在那里，r1 和 r2 只用 ARP 询问彼此。",
        ),
        &["Q11", "Q8"],
    )
    .section(tx("3 · LAN and WAN", "3 · 局域网与广域网"))
    .fact(
        tx("LAN A", "局域网 A"),
        say::lan_arp(broadcasts, lan_replies, unicast_requests),
    )
    .fact(
        tx("WAN", "广域网"),
        say::wan_frames(wan_frames.len(), wan_requests, wan_replies),
    )
    .with(&LanWan {
        lan_arp,
        lan_arp_broadcasts: broadcasts,
        lan_arp_replies: lan_replies,
        wan_arp_from_lan: wan_from_lan,
    });
    // The frames it counts were drawn with the TTL they crossed for.
    n.step(s)?;

    // 4. NAT, from both sides.
    let listener = h1
        .run(|| TcpListener::bind((H1, 8080)))?
        .map_err(|e| Error::system(tx("listen", "监听"), "h1:8080", e))?;
    let caps = [Capture::start(&w.h4, "eth0")?, Capture::start(h1, "eth0")?];
    let accept = std::thread::spawn(move || -> std::io::Result<SocketAddr> {
        let (mut s, peer) = listener.accept()?;
        let mut b = [0u8; 8];
        let _ = s.read(&mut b);
        Ok(peer)
    });
    let conn = w
        .h4
        .run(|| TcpStream::connect_timeout(&SocketAddr::from((H1, 8080)), Duration::from_secs(5)))?
        .map_err(|e| Error::system(tx("connect", "连接"), "h4 → h1:8080", e))?;
    let inside = conn
        .local_addr()
        .map_err(|e| Error::system(tx("read", "读取"), "h4's address", e))?;
    let conntrack = crate::lab::firewall::conntrack(&w.r2, H1)?;
    drop(conn);
    let outside = accept
        .join()
        .map_err(|_| Error::Internal("accept panicked".into()))?
        .map_err(|e| Error::system(tx("accept", "接受连接"), "h1:8080", e))?;
    std::thread::sleep(Duration::from_millis(20));
    let mut nat_frames = Vec::new();
    for c in caps {
        nat_frames.extend(c.stop()?);
    }
    nat_frames.sort_by_key(|f| f.at);
    let syn_from = |link: &str| {
        nat_frames.iter().find_map(|f| {
            if !f.link.starts_with(link) {
                return None;
            }
            match frame::ethernet_frame(&f.bytes).ok()?.kind {
                Kind::Ipv4 {
                    src, tcp: Some(h), ..
                } if h.flags & 0x12 == 0x02 => Some(format!("{src}:{}", h.src_port)),
                _ => None,
            }
        })
    };
    let mut s = Step::new(
        say::nat_title(&inside.to_string(), &outside.to_string()),
        tx(
            "r2 rewrites the source address (and, if it must, the port) of what leaves LAN C, and remembers the pair in conntrack, so the replies are rewritten back. h1 never learns h4's address. A real home or office LAN behind NAT uses private addresses (RFC 1918: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16): countless networks reuse them and no router on the Internet forwards them, so NAT is what lets them out. The lab's LAN C uses documentation addresses instead (RFC 5737's 203.0.113.0/24): they never collide with a real network, while a private range could be the very one the machine running netlab sits on, so netlab keeps private ranges out of the lab.",
            "r2 改写从局域网 C 出去的包的源地址（必要时连端口一起改），并把这对映射记在 conntrack 里，回程包再改回来。h1 始终不知道 h4 的地址。真实的家庭或办公室网络里，NAT 后面的局域网用的是私有地址（RFC 1918：10.0.0.0/8、172.16.0.0/12、192.168.0.0/16）：无数网络重复使用这些地址，互联网上的路由器也不转发它们，所以要靠 NAT 才能出去。实验网络的局域网 C 用的却是文档地址（RFC 5737 的 203.0.113.0/24）：它们不会与任何真实网络冲突；私有地址则可能正是运行 netlab 的这台机器所在网络的地址，所以 netlab 不在实验网络里使用私有地址。",
        ),
        &["Q10", "Q11"],
    )
    .section(tx("4 · NAT", "4 · NAT"));
    if let Some(a) = syn_from("h4") {
        s = s.fact(tx("LAN C", "局域网 C"), say::nat_side("h4", &a, "h4:eth0"));
    }
    if let Some(a) = syn_from("h1") {
        s = s.fact(tx("LAN A", "局域网 A"), say::nat_side("h4", &a, "h1:eth0"));
    }
    if let Some(Some(t)) = conntrack.as_ref().map(|c| c.first()) {
        s = s.fact(
            tx("conntrack", "conntrack"),
            tx(
                format!("r2: {} → replies expected as {}", t.original, t.reply),
                format!("r2：{} → 回程应为 {}", t.original, t.reply),
            ),
        );
    }
    s = s.correction(tx(
        "the notes list NAT among the UDP protocols. NAT is no protocol and rides on nothing: it is a router rewriting addresses and ports in the packets it forwards, here in TCP.",
        "笔记把 NAT 列为 UDP 协议。NAT 不是协议，也不由谁承载：它是路由器改写所转发的包里的地址和端口，这里改的是 TCP。",
    ));
    s.packets = records(&nat_frames);
    n.step(s)?;

    let h = hops(&probes);
    let count = h.len() as u8;
    n.summary(
        Summary {
            title: say::summary("h4", None, reached, count),
            lines: vec![tx(
                "Each router on the way shows itself by the ICMP it sends back when a TTL runs out; the WAN shows itself by its delay.",
                "沿途每个路由器在 TTL 耗尽时发回 ICMP，以此现身；广域网则以它的延迟现身。",
            )],
            questions: crate::record::qs(&["Q7", "Q8", "Q10", "Q11"]),
            ok: reached,
            ..Summary::default()
        }
        .with(&TraceOut {
            target: H4,
            hops: h,
            reached,
            wan: Some(shape.into()),
            lan_arp: Some(lan_arp),
            wan_arp_from_lan: Some(wan_from_lan),
            nat: Some(NatOut {
                inside: inside.to_string(),
                outside: outside.to_string(),
                conntrack,
            }),
        }),
    )?;
    drop(w);
    drop(lab);
    Ok(if reached { exit::OK } else { exit::NETWORK_NO })
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "traceroute",
        "Probes with a growing TTL across the lab's WAN, and NAT seen from both sides.",
    )
    .step::<TtlLine>("each line of a trace to a TARGET")
    .step::<LabIntro>("the lab's first step")
    .step::<HopStep>("each TTL of the lab's trace")
    .step::<LanWan>("the lab's step on where the ARP broadcasts went")
    .summary::<TraceOut>()
}
