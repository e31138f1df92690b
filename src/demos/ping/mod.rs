//! `netlab ping [TARGET]`: ICMP echo, as iputils ping does it, then explained (Q7).
//!
//! With a TARGET it behaves like iputils ping (-c -i -s -t -W -w, a line per
//! reply, Ctrl-C prints the statistics) and shows the first request and reply
//! field by field. Without one it runs in the namespace lab: h1 → h2 on the
//! same LAN, h1 → h3 across r1 (the reply's TTL one lower: the router hop),
//! and h1 → h2 over a link that drops `--loss` percent of requests.

use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::Serialize;

use crate::cli::PingArgs;
use crate::error::{exit, Error, Result};
use crate::icmp::series::{io, Outcome, Series};
use crate::icmp::{Echo, Pinger, Reply, Stats, OVERHEAD};
use crate::lab::capture::{Capture, Frame};
use crate::lab::netns::Netns;
use crate::lab::topology::{NetLab, H2, H3, R1_A};
use crate::narrate::{tx, Direction, Narrator, Packet, Step, Summary, Text, Wire};
use crate::privilege::{PingSocket, Privileges};
use crate::wire::{frame, icmp};

mod say;

const QS: &[&str] = &["Q7"];
/// iputils refuses shorter intervals to users without CAP_NET_RAW (no flooding).
const MIN_USER_INTERVAL: Duration = Duration::from_millis(200);

/// ping's first line: whom it asks, over which socket.
#[derive(Serialize, JsonSchema)]
struct Head {
    /// The target's IPv4 address (a name is resolved first).
    target: Ipv4Addr,
    /// The kind of ICMP socket: raw (CAP_NET_RAW) or unprivileged (ping_group_range).
    socket: &'static str,
}

/// One reply line, as iputils prints it.
#[derive(Serialize, JsonSchema)]
struct ReplyLine {
    /// The reply's sequence number.
    icmp_seq: u16,
    /// The TTL of the reply's IP header (null when the socket did not say).
    ttl: Option<u8>,
    /// Round-trip time in milliseconds, from the kernel's arrival stamp.
    rtt_ms: f64,
    /// The ICMP message's length: 8 header bytes and the payload.
    bytes: usize,
    /// Who answered.
    from: Ipv4Addr,
}

/// The lab run's opening step.
#[derive(Serialize, JsonSchema)]
struct LabIntro {
    /// The lab runs in a user namespace of netlab's own (no root).
    rootless: bool,
}

/// The TTLs of the first replies from the same LAN and from across r1.
#[derive(Serialize, JsonSchema)]
struct RouterHop {
    /// TTL of h2's first reply (null if it did not come).
    ttl_same_lan: Option<u8>,
    /// TTL of h3's first reply: one lower, r1 took one off (null if it did not come).
    ttl_across_router: Option<u8>,
}

/// The lossy link's rule.
#[derive(Serialize, JsonSchema)]
struct LossyLink {
    /// The share of echo requests h2's nftables rule drops, in percent.
    loss_percent_configured: u8,
    /// How the rule picks the requests it drops.
    loss_mode: LossMode,
    /// The fixed pattern's sequence numbers among this phase's requests
    /// (empty with `random`, or when nothing is dropped).
    pattern_seqs: Vec<u32>,
}

/// How h2's rule picks the echo requests it drops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum LossMode {
    /// A fixed pattern (nftables `numgen inc`): the same requests in every
    /// run, spread evenly, the first request always among them, so every
    /// run with any loss shows it.
    Fixed,
    /// Chance (nftables `numgen random`): each request independently, as on
    /// a noisy link; a short run may lose none.
    Random,
}

/// The values of h2's counter (`numgen inc mod 100`: 0 for the first
/// request the rule sees, 1 for the next …) whose request a fixed pattern of
/// `pct` percent drops: `pct` of every 100, spread evenly, 0 among them.
fn pattern(pct: u8) -> Vec<u8> {
    let pct = u32::from(pct.min(100));
    (0..pct).map(|k| (k * 100 / pct) as u8).collect()
}

/// The nft expression that picks the echo requests h2 drops: `pct` percent
/// by chance, or ping's fixed pattern (`numgen inc mod 100 { … }`, the first
/// request among them, so even a short run shows a loss); empty at 100 %.
fn loss_choice(pct: u8, random: bool) -> String {
    if pct >= 100 {
        String::new()
    } else if random {
        format!("numgen random mod 100 lt {pct}")
    } else {
        let values: Vec<String> = pattern(pct).iter().map(u8::to_string).collect();
        format!("numgen inc mod 100 {{ {} }}", values.join(", "))
    }
}

/// Make h2 drop `pct` percent of the echo requests it receives (nothing at
/// 0), through lab::link's table and chain.
fn make_lossy(h2: &Netns, pct: u8, random: bool) -> Result<()> {
    if pct == 0 {
        return Ok(());
    }
    crate::lab::link::drop_incoming_choosing(h2, &loss_choice(pct, random), &[ECHO_REQUEST])
}

/// What the loss rule matches: the echo requests h2 receives.
const ECHO_REQUEST: &[&str] = &["icmp", "type", "echo-request"];

/// What the capture of the lossy phase showed.
#[derive(Serialize, JsonSchema)]
struct Dropped {
    /// Sequence numbers of the requests that left h1 and got no reply.
    dropped_seqs: Vec<u16>,
}

/// ping's result: iputils' closing figures (of the lossy phase, in the lab),
/// and in the lab each phase.
#[derive(Serialize, JsonSchema)]
struct PingOut {
    /// The series' figures.
    #[serde(flatten)]
    figures: Echo,
    /// The lab's lossy link: the share of requests h2 drops, in percent (lab only).
    #[serde(skip_serializing_if = "Option::is_none")]
    loss_percent_configured: Option<u8>,
    /// How h2's rule picked what it dropped (lab only).
    #[serde(skip_serializing_if = "Option::is_none")]
    loss_mode: Option<LossMode>,
    /// Each phase of the lab run, in order (lab only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    runs: Vec<Run>,
}

/// One phase of the lab run.
#[derive(Serialize, JsonSchema)]
struct Run {
    /// `h1 -> h2`, `h1 -> h3` or `h1 -> h2 lossy`.
    name: &'static str,
    /// Its figures.
    stats: Echo,
    /// The first reply's TTL (across the router only; null if it did not come).
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<Option<u8>>,
}

/// Run one series, printing a line per reply as ping does (`lines`), or
/// folding them away for a later step to sum up.
fn series(
    p: &Pinger,
    s: Series,
    lines: bool,
    stop: &AtomicBool,
    n: &mut Narrator,
) -> Result<Outcome> {
    crate::icmp::series::run(p, s, stop, |r, rtt| {
        let mut reply = Step::line(
            say::reply(r.icmp_len, r.from, r.seq, r.ttl, &fmt_ms(rtt)),
            QS,
        );
        reply.folded = !lines;
        n.step(reply.with(&ReplyLine {
            icmp_seq: r.seq,
            ttl: r.ttl,
            rtt_ms: round3(rtt),
            bytes: r.icmp_len,
            from: r.from,
        }))
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// iputils formats times with 3 significant digits below 100 ms.
fn fmt_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.3} ms")
    }
}

/// iputils' closing statistics (its exact words in English).
fn stats_lines(target: &Text, s: &Stats, elapsed: Duration) -> Vec<Text> {
    let (t, r, loss, ms) = (
        s.transmitted,
        s.received,
        s.loss_percent(),
        elapsed.as_millis(),
    );
    let mut v = vec![say::statistics(target), say::counts(t, r, loss, ms)];
    if let Some((a, b, c, d)) = s.rtt() {
        v.push(say::rtt(a, b, c, d));
    }
    v
}

/// Resolve TARGET: an IPv4 literal, or a name through the system resolver.
fn resolve(target: &str) -> Result<(Ipv4Addr, bool)> {
    if let Ok(ip) = target.parse::<Ipv4Addr>() {
        return Ok((ip, false));
    }
    if target.parse::<IpAddr>().is_ok() {
        return Err(Error::usage(say::ipv6(target)));
    }
    let looks_numeric = target.chars().all(|c| c.is_ascii_digit() || c == '.');
    if looks_numeric || target.is_empty() || target.starts_with('-') {
        return Err(Error::usage(say::not_a_target(target)));
    }
    crate::dns::name::check(target)?;
    let addrs = (target, 0)
        .to_socket_addrs()
        .map_err(|e| Error::usage(say::cannot_resolve(target, &e)))?;
    addrs
        .filter_map(|a| match a.ip() {
            IpAddr::V4(v) => Some(v),
            IpAddr::V6(_) => None,
        })
        .next()
        .map(|ip| (ip, true))
        .ok_or_else(|| Error::usage(say::no_ipv4(target)))
}

fn socket_name(k: PingSocket) -> &'static str {
    match k {
        PingSocket::Raw => "raw ICMP socket (CAP_NET_RAW)",
        PingSocket::Dgram => "unprivileged ICMP socket (ping_group_range)",
    }
}

/// Run the demo.
pub fn run(args: &PingArgs, n: &mut Narrator) -> Result<i32> {
    let stop = crate::sys::stop_flag()?;
    match &args.target {
        Some(t) => host(t, args, n, &stop),
        None => {
            if Privileges::probe().can_build_lab() {
                lab(args, n, &stop)
            } else {
                Err(crate::privilege::lab_privilege())
            }
        }
    }
}

/// The request `sent` as a packet record: the ICMP message netlab wrote, and
/// for the capture file the IPv4 packet the kernel sent (its header rebuilt
/// from the addresses).
fn request_record(
    sent: &crate::icmp::series::Sent,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    lost: bool,
) -> Packet {
    Packet {
        direction: Direction::Sent,
        transport: "icmp".into(),
        peer: dst.to_string(),
        summary: say::request(sent.seq, sent.msg.len()),
        fields: icmp::explain(&sent.msg, 0).unwrap_or_default(),
        bytes: sent.msg.clone(),
        at: Some(sent.at),
        lost,
        wire: Some(Wire {
            link: SOCKET_LINK.into(),
            ethernet: false,
            bytes: crate::wire::build::ip_packet(src, dst, 1, &sent.msg),
            rebuilt: true,
            original_len: None,
        }),
        ..Packet::default()
    }
    .between(LOCAL, TARGET, format!("ICMP echo request seq={}", sent.seq))
}

/// A reply as a packet record: the whole IPv4 packet a raw socket got (or
/// the ICMP message a ping socket got, its header rebuilt for the capture file).
fn reply_record(r: &Reply, src: Ipv4Addr) -> Packet {
    let (fields, summary) = if r.has_ip_header {
        match frame::ip_packet(&r.bytes) {
            Ok(d) => (d.fields.clone(), frame::summary(&d)),
            Err(e) => (vec![], e.to_string().into()),
        }
    } else {
        (
            icmp::explain(&r.bytes, 0).unwrap_or_default(),
            tx(
                "ICMP echo reply (this socket does not show the IP header)",
                "ICMP 回显应答（这种套接字不给出 IP 头）",
            ),
        )
    };
    Packet {
        direction: Direction::Received,
        transport: if r.has_ip_header { "ipv4" } else { "icmp" }.into(),
        peer: r.from.to_string(),
        summary,
        fields,
        bytes: r.bytes.clone(),
        at: Some(r.received),
        wire: Some(Wire {
            link: SOCKET_LINK.into(),
            ethernet: false,
            bytes: if r.has_ip_header {
                r.bytes.clone()
            } else {
                crate::wire::build::ip_packet(r.from, src, 1, &r.bytes)
            },
            rebuilt: !r.has_ip_header,
            original_len: None,
        }),
        ..Packet::default()
    }
    .between(TARGET, LOCAL, format!("ICMP echo reply seq={}", r.seq))
}

/// Where the capture file says a host ping's packets were seen.
const SOCKET_LINK: &str = "netlab ping socket";
/// Participant id of this host (with a TARGET).
const LOCAL: &str = "local";
/// Participant id of the target (with a TARGET).
const TARGET: &str = "target";

/// The source address a host series' requests carried: what the replies
/// were sent to, else what the kernel would pick.
fn source_of(out: &Outcome, p: &Pinger) -> Ipv4Addr {
    out.replies
        .iter()
        .find(|r| r.has_ip_header && r.bytes.len() >= 20)
        .map(|r| Ipv4Addr::new(r.bytes[16], r.bytes[17], r.bytes[18], r.bytes[19]))
        .or_else(|| p.source())
        .unwrap_or(Ipv4Addr::UNSPECIFIED)
}

/// Every request and reply of a host series as packet records, in wire
/// order, a request without a reply marked lost; the first request and the
/// first reply show their byte view.
fn echo_records(out: &Outcome, src: Ipv4Addr, target: Ipv4Addr) -> Vec<Packet> {
    let mut packets: Vec<Packet> = out
        .sent
        .iter()
        .map(|s| request_record(s, src, target, out.reply_to(s.seq).is_none()))
        .chain(out.replies.iter().map(|r| reply_record(r, src)))
        .collect();
    packets.sort_by_key(|p| p.at);
    for dir in [Direction::Sent, Direction::Received] {
        let mut first = true;
        for pk in packets.iter_mut().filter(|pk| pk.direction == dir) {
            pk.show_bytes = first;
            // The ladder, JSON, pcap and page list every echo; the text
            // explains the first of each (`--bytes` shows them all).
            pk.quiet = !first;
            first = false;
        }
    }
    packets
}

/// The step that holds every echo of a host series, the first request and
/// reply explained field by field.
fn echoes_step(out: &Outcome, p: &Pinger, target: Ipv4Addr) -> Option<Step> {
    if out.sent.is_empty() {
        return None;
    }
    let title = if out.replies.is_empty() {
        say::no_reply(out.sent.len())
    } else {
        tx(
            "The first echo request and reply, field by field",
            "第一对回显请求与应答，逐字段",
        )
    };
    let s = Step::new(
        title,
        tx(
            "ping sends ICMP type 8 (echo request) with an identifier and a sequence number; the target sends back type 0 (echo reply) with the same identifier, sequence and payload. The round-trip time is reply time minus send time. The IP header says protocol 1: ICMP sits directly on IP, with no TCP or UDP header and no port.",
            "ping 发送 ICMP 类型 8（回显请求），带标识符和序号；目标回送类型 0（回显应答），标识符、序号和载荷都相同。往返时间 = 收到应答的时刻 − 发出请求的时刻。IP 头里协议号为 1：ICMP 直接装在 IP 里，没有 TCP 或 UDP 头，也没有端口。",
        ),
        &["Q7", "Q10"],
    )
    .correction(tx(
        "the notes list ICMP among the TCP protocols (Q10); the reply's bytes show IP protocol 1 followed directly by the ICMP header.",
        "笔记（Q10）把 ICMP 列为 TCP 协议；应答的字节显示 IP 协议号 1 后面紧跟着 ICMP 头。",
    ))
    .fact(tx("socket", "套接字"), socket_name(p.kind()))
    .who(LOCAL, tx("this host", "本机"))
    .who(TARGET, Text::from(target.to_string()))
    .with_packets(echo_records(out, source_of(out, p), target));
    Some(s)
}

fn host(target: &str, args: &PingArgs, n: &mut Narrator, stop: &AtomicBool) -> Result<i32> {
    let (ip, was_name) = resolve(target)?;
    if was_name {
        n.step(Step::new(
            say::resolved(target, ip),
            tx("ping needs an address: the name went through the system resolver (hosts file, then DNS) first.", "ping 需要地址：名字先经过系统解析器（先 hosts 文件，再 DNS）。"),
            &["Q7", "Q27"],
        ))?;
    }
    let kind = Privileges::probe()
        .ping_socket()
        .ok_or_else(crate::privilege::ping_privilege)?;
    if kind == PingSocket::Dgram && args.interval < MIN_USER_INTERVAL {
        let i = args.interval.as_secs_f64();
        return Err(Error::usage(say::interval_too_short(i)));
    }
    // The socket is open, so a refused send is not a missing privilege: the kernel
    // refuses to send to a broadcast address without SO_BROADCAST (iputils' -b).
    let refuse_broadcast = |e: Error| match e {
        Error::Privilege(_) => Error::usage(say::broadcast(ip)),
        other => other,
    };
    let p = Pinger::open(kind, ip, args.ttl).map_err(io)?;
    let size = usize::from(args.size);
    n.step(
        Step::line(say::head(target, ip, size, size + OVERHEAD), QS).with(&Head {
            target: ip,
            socket: socket_name(p.kind()),
        }),
    )?;
    let s = Series {
        count: args.count,
        interval: args.interval,
        size,
        timeout: args.timeout,
        deadline: args.deadline.map(|d| Instant::now() + d),
    };
    let out = series(&p, s, true, stop, n).map_err(refuse_broadcast)?;
    if let Some(step) = echoes_step(&out, &p, ip) {
        n.step(step)?;
    }
    summary(
        n,
        &Text::from(target.to_string()),
        &out.stats,
        out.elapsed,
        PingOut {
            figures: Echo::of(&out.stats, out.elapsed),
            loss_percent_configured: None,
            loss_mode: None,
            runs: Vec::new(),
        },
    )
}

fn summary(
    n: &mut Narrator,
    target: &Text,
    stats: &Stats,
    elapsed: Duration,
    result: PingOut,
) -> Result<i32> {
    let mut lines = stats_lines(target, stats, elapsed);
    let title = lines.remove(0);
    n.summary(
        Summary {
            title,
            lines,
            questions: crate::record::qs(&["Q7"]),
            ok: stats.received > 0,
            ..Summary::default()
        }
        .with(&result),
    )?;
    Ok(if stats.received > 0 {
        exit::OK
    } else {
        exit::NETWORK_NO
    })
}

/// Only the figures of a series (a lab run stopped by Ctrl-C in a phase).
fn figures_only(out: &Outcome) -> PingOut {
    PingOut {
        figures: Echo::of(&out.stats, out.elapsed),
        loss_percent_configured: None,
        loss_mode: None,
        runs: Vec::new(),
    }
}

fn open_in(ns: &Netns, target: Ipv4Addr) -> Result<Pinger> {
    ns.run(|| Pinger::open(PingSocket::Raw, target, None))?
        .map_err(io)
}

/// Whether an ARP request for `target` was captured on `link` (`h1:eth0`).
fn has_arp(frames: &[Frame], link: &str, target: Ipv4Addr) -> bool {
    frames.iter().any(|f| {
        f.link == link
            && matches!(
                frame::ethernet_frame(&f.bytes).map(|d| d.kind),
                Ok(frame::Kind::Arp { op: 1, tpa, .. }) if tpa == target
            )
    })
}

fn echo_frames(frames: &[Frame]) -> (Option<&Frame>, Option<&Frame>) {
    let find = |t: u8| {
        frames.iter().find(|f| {
            matches!(frame::ethernet_frame(&f.bytes).map(|d| d.kind), Ok(frame::Kind::Ipv4 { icmp_type: Some(x), icmp_seq: Some(1), .. }) if x == t)
        })
    };
    (find(8), find(0))
}

fn lab(args: &PingArgs, n: &mut Narrator, stop: &AtomicBool) -> Result<i32> {
    let lab = NetLab::build()?;
    let h1 = lab.host("h1")?;
    let size = usize::from(args.size);
    let quick = Series {
        count: Some(3),
        interval: Duration::from_millis(50),
        size,
        timeout: Duration::from_secs(1),
        deadline: None,
    };
    let mut runs = Vec::new();

    // 1. Same LAN.
    n.step(
        Step::new(
            crate::lab::userns::titled(tx(
                "h1 pings h2 on the same LAN",
                "h1 ping 同一局域网的 h2",
            )),
            tx(
                "Same switch, no router: the echo goes straight to h2.",
                "同一台交换机，没有路由器：回显直接到达 h2。",
            ),
            QS,
        )
        .section(tx("1 · same LAN: h1 → h2", "1 · 同一局域网：h1 → h2"))
        .who("h1", Text::from("h1"))
        .who("h2", Text::from("h2"))
        .who("r1", Text::from("r1"))
        .who("h3", Text::from("h3"))
        .with(&LabIntro {
            rootless: crate::lab::userns::rootless(),
        }),
    )?;
    let cap = Capture::start(h1, "eth0")?;
    let p = open_in(h1, H2)?;
    let o1 = series(&p, quick, true, stop, n)?;
    let mut frames = cap.stop()?;
    frames.sort_by_key(|f| f.at);
    // Interrupted (Ctrl-C): the statistics of the phase that was running, as iputils does.
    if stop.load(Ordering::Relaxed) {
        let (s1, e1) = (&o1.stats, o1.elapsed);
        return summary(n, &Text::from(H2.to_string()), s1, e1, figures_only(&o1));
    }
    let mut rest1 = Vec::new();
    if let (Some(req), Some(_)) = echo_frames(&frames) {
        let mut s = Step::new(
            tx("The first echo request and reply as they crossed h1's link", "第一对回显请求与应答，在 h1 链路上抓到的原样"),
            say::arp_first(
                has_arp(&frames, "h1:eth0", H2),
                false,
                tx(
                    "Then Ethernet, IPv4 with protocol 1, ICMP: type 8 out, type 0 back, same id and sequence; no TCP or UDP.",
                    "帧里依次是以太网头、协议号为 1 的 IPv4 头、ICMP：去程类型 8，回程类型 0，标识符和序号相同；没有 TCP 或 UDP 头。",
                ),
            ),
            &["Q7", "Q10"],
        )
        .correction(tx(
            "the notes file ICMP under TCP (Q10); here IP protocol 1 carries it directly.",
            "笔记（Q10）把 ICMP 归在 TCP 下；这里 IP 协议号 1 直接承载它。",
        ));
        // Every frame of the phase is a record; the first request is the one explained.
        s.packets = frames.iter().map(|f| f.record(false)).collect();
        n.step(s)?;
        let mut view = Step::new(
            tx(
                "The echo request, field by field: one header per layer",
                "回显请求，逐字段：每层一个头部",
            ),
            Text::default(),
            &["Q1", "Q2", "Q7", "Q10"],
        );
        let mut shown = req.record(true).echo();
        // Ethernet is arp-table's subject; here the IP and ICMP headers are.
        // Of IPv4, the fields ping is about (TTL, protocol, addresses) stay;
        // the rest folds to one line that `--bytes` opens.
        shown.hide = [
            "eth.",
            "ip.ver_ihl",
            "ip.tos",
            "ip.len",
            "ip.id",
            "ip.flags",
        ]
        .map(String::from)
        .to_vec();
        // The title says what it is; the field table shows the addresses.
        shown.summary = Default::default();
        view.packets = vec![shown];
        n.step(view)?;
    } else {
        rest1 = frames;
    }
    let ttl1 = o1.first_ttl();
    runs.push(Run {
        name: "h1 -> h2",
        stats: Echo::of(&o1.stats, o1.elapsed),
        ttl: None,
    });

    // 2. Across the router.
    n.step(
        Step::new(
            tx("h1 pings h3 across router r1", "h1 跨过路由器 r1 ping h3"),
            tx(
                "h3 is on another LAN: r1 forwards the echo and its reply.",
                "h3 在另一个局域网：r1 转发回显和应答。",
            ),
            &["Q7", "Q8"],
        )
        .section(tx(
            "2 · across a router: h1 → h3",
            "2 · 跨越路由器：h1 → h3",
        )),
    )?;
    let caps = [
        Capture::start(h1, "eth0")?,
        Capture::start(lab.host("h3")?, "eth0")?,
    ];
    let p = open_in(h1, H3)?;
    let o2 = series(&p, quick, true, stop, n)?;
    if stop.load(Ordering::Relaxed) {
        let (s2, e2) = (&o2.stats, o2.elapsed);
        return summary(n, &Text::from(H3.to_string()), s2, e2, figures_only(&o2));
    }
    let mut frames2 = Vec::new();
    for c in caps {
        frames2.extend(c.stop()?);
    }
    frames2.sort_by_key(|f| f.at);
    let ttl2 = o2.first_ttl();
    // The TTL h3's replies left with: its own setting, read, not assumed.
    let start = lab
        .host("h3")?
        .run(|| std::fs::read_to_string("/proc/sys/net/ipv4/ip_default_ttl"))?
        .ok()
        .and_then(|t| t.trim().parse::<u8>().ok());
    // Phase 1's frames, if its step did not hold them, then phase 2's: in wire order.
    let mut frames2: Vec<Frame> = rest1.into_iter().chain(frames2).collect();
    frames2.sort_by_key(|f| f.at);
    let mut ttl_step = Step::new(
        say::ttls(start, ttl1, ttl2),
        say::arp_first(
            has_arp(&frames2, "h1:eth0", R1_A),
            has_arp(&frames2, "h3:eth0", H3),
            say::ttl_detail(start, ttl2),
        ),
        &["Q7", "Q8"],
    )
    .with(&RouterHop {
        ttl_same_lan: ttl1,
        ttl_across_router: ttl2,
    });
    ttl_step.packets = frames2.iter().map(|f| f.record(false)).collect();
    n.step(ttl_step)?;
    runs.push(Run {
        name: "h1 -> h3",
        stats: Echo::of(&o2.stats, o2.elapsed),
        ttl: Some(ttl2),
    });

    // 3. A lossy link.
    let h2 = lab.host("h2")?;
    let pct = args.loss;
    // The fixed pattern, so the loss shows in every run; chance only when
    // asked for (`--random-loss`).
    let random = args.random_loss;
    let mode = if random {
        LossMode::Random
    } else {
        LossMode::Fixed
    };
    make_lossy(h2, pct, random)?;
    let count = args.count.unwrap_or(10);
    let values = if random || pct == 0 {
        Vec::new()
    } else {
        pattern(pct)
    };
    n.step(
        Step::new(
            say::lossy(pct, random),
            say::lossy_rule(pct, random, &values, count),
            &["Q7"],
        )
        .section(say::lossy_section(pct))
        .with(&LossyLink {
            loss_percent_configured: pct,
            loss_mode: mode,
            pattern_seqs: say::pattern_seqs(&values, count),
        }),
    )?;
    let cap = Capture::start(h1, "eth0")?;
    let p = open_in(h1, H2)?;
    let lossy = Series {
        count: Some(count),
        interval: Duration::from_millis(20),
        size,
        timeout: Duration::from_millis(300),
        deadline: args.deadline.map(|d| Instant::now() + d),
    };
    let o3 = series(&p, lossy, false, stop, n)?;
    let (s3, e3) = (&o3.stats, o3.elapsed);
    let mut frames3 = cap.stop()?;
    frames3.sort_by_key(|f| f.at);
    // A request whose sequence number never came back was dropped at h2.
    let seq_of = |f: &Frame, t: u8| match frame::ethernet_frame(&f.bytes).map(|d| d.kind) {
        Ok(frame::Kind::Ipv4 {
            icmp_type: Some(x),
            icmp_seq: Some(q),
            ..
        }) if x == t => Some(q),
        _ => None,
    };
    let answered: std::collections::HashSet<u16> =
        frames3.iter().filter_map(|f| seq_of(f, 0)).collect();
    let mut dropped: Vec<u16> = Vec::new();
    let records: Vec<_> = frames3
        .iter()
        .map(|f| {
            let mut pk = f.record(false);
            if let Some(q) = seq_of(f, 8) {
                if !answered.contains(&q) {
                    pk.lost = true;
                    dropped.push(q);
                }
            }
            pk
        })
        .collect();
    let mut s = Step::new(
        if dropped.is_empty() {
            tx(
                "On h1's link: every ICMP echo request was answered",
                "h1 的链路上：每个 ICMP 回显请求都得到了应答",
            )
        } else {
            say::unanswered(&dropped)
        },
        say::lossy_outcome(pct, random, dropped.len()),
        &["Q7"],
    )
    .with(&Dropped {
        dropped_seqs: dropped.clone(),
    });
    // The replies as one strip, each sequence number marked: the gaps show.
    let strip = (1..=s3.transmitted)
        .map(|q| {
            let back = u16::try_from(q).is_ok_and(|q| answered.contains(&q));
            format!("{q}{}", if back { "✓" } else { "✗" })
        })
        .collect::<Vec<_>>()
        .join(" ");
    s = s.fact(tx("icmp_seq", "icmp_seq"), strip);
    s.packets = records;
    n.step(s)?;
    runs.push(Run {
        name: "h1 -> h2 lossy",
        stats: Echo::of(s3, e3),
        ttl: None,
    });
    let result = PingOut {
        figures: Echo::of(s3, e3),
        loss_percent_configured: Some(pct),
        loss_mode: Some(mode),
        runs,
    };
    drop(lab);
    summary(n, &say::lossy_target(H2), s3, e3, result)
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "ping",
        "ICMP echo across the lab router (or to a TARGET), each echo and reply a packet.",
    )
    .step::<Head>("the first line, with a TARGET")
    .step::<ReplyLine>("each reply line")
    .step::<LabIntro>("the lab's first step")
    .step::<RouterHop>("the lab's step comparing the replies' TTLs")
    .step::<LossyLink>("the lab's step that makes h2's link lossy")
    .step::<Dropped>("the lab's capture of the lossy phase")
    .summary::<PingOut>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_checked_before_any_lookup() {
        assert_eq!(resolve("127.0.0.1").unwrap(), (Ipv4Addr::LOCALHOST, false));
        for bad in ["999.1.1.1", "1.2.3", "", "-x", "::1"] {
            assert!(resolve(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_echo_is_a_record_in_wire_order_and_the_unanswered_are_lost() {
        use crate::icmp::series::Sent;
        use std::time::UNIX_EPOCH;
        let t = |us: u64| UNIX_EPOCH + Duration::from_micros(1_700_000_000_000_000 + us);
        let sent = |seq: u16, us: u64| Sent {
            seq,
            msg: icmp::echo_request(0x4e4c, seq, &[0; 8]),
            at: t(us),
        };
        let reply = |seq: u16, us: u64| Reply {
            seq,
            from: Ipv4Addr::LOCALHOST,
            ttl: Some(64),
            icmp_len: 16,
            at: Instant::now(),
            kernel_at: Some(t(us)),
            received: t(us),
            bytes: crate::wire::build::ip_packet(
                Ipv4Addr::LOCALHOST,
                Ipv4Addr::LOCALHOST,
                1,
                &icmp::echo_request(0x4e4c, seq, &[0; 8]),
            ),
            has_ip_header: true,
        };
        // Reply 1 comes after request 2 left; request 2 is never answered.
        let out = Outcome {
            stats: Stats::default(),
            sent: vec![sent(1, 0), sent(2, 10), sent(3, 20)],
            replies: vec![reply(1, 15), reply(3, 25)],
            elapsed: Duration::from_millis(30),
        };
        let p = echo_records(&out, Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST);
        let labels: Vec<&str> = p.iter().map(|p| p.label.en.as_str()).collect();
        assert_eq!(
            labels,
            [
                "ICMP echo request seq=1",
                "ICMP echo request seq=2",
                "ICMP echo reply seq=1",
                "ICMP echo request seq=3",
                "ICMP echo reply seq=3",
            ]
        );
        let lost: Vec<bool> = p.iter().map(|p| p.lost).collect();
        assert_eq!(lost, [false, true, false, false, false]);
        let shown: Vec<bool> = p.iter().map(|p| p.show_bytes).collect();
        assert_eq!(
            shown,
            [true, false, true, false, false],
            "the first of each"
        );
        assert!(p
            .iter()
            .all(|p| p.wire.is_some() && p.quiet != p.show_bytes));
        assert_eq!((p[0].from.as_str(), p[0].to.as_str()), (LOCAL, TARGET));
    }

    #[test]
    fn the_fixed_pattern_spreads_its_drops_and_always_shows_one() {
        let p20 = pattern(20);
        assert_eq!(p20, (0..20).map(|k| k * 5).collect::<Vec<u8>>());
        assert_eq!(say::pattern_seqs(&p20, 10), [1, 6]);
        for pct in 1..=100u8 {
            let p = pattern(pct);
            assert_eq!(p.len(), usize::from(pct), "{pct}% of every 100");
            assert!(p.windows(2).all(|w| w[0] < w[1]) && p.iter().all(|v| *v < 100));
            // The first request is always dropped: any run with any loss shows it.
            assert_eq!(say::pattern_seqs(&p, 10).first(), Some(&1), "{pct}");
        }
        assert_eq!(say::pattern_seqs(&pattern(50), 6), [1, 3, 5]);
        assert_eq!(
            say::pattern_seqs(&p20, 105),
            [1, 6, 11, 16, 21, 26, 31, 36, 41, 46, 51, 56, 61, 66, 71, 76, 81, 86, 91, 96, 101]
        );
    }

    #[test]
    fn the_loss_rule_is_a_pattern_unless_chance_is_asked_for() {
        let loss_rule = |pct, random| {
            let choice = loss_choice(pct, random);
            crate::lab::link::drop_rule(ECHO_REQUEST, &choice).join(" ")
        };
        let fixed = loss_rule(20, false);
        assert!(
            fixed.starts_with(
                "add rule ip netlab input icmp type echo-request numgen inc mod 100 { 0, 5, 10, "
            ),
            "{fixed}"
        );
        assert!(fixed.ends_with(", 95 } drop"), "{fixed}");
        assert_eq!(
            loss_rule(20, true),
            "add rule ip netlab input icmp type echo-request numgen random mod 100 lt 20 drop"
        );
        assert_eq!(
            loss_rule(100, false),
            "add rule ip netlab input icmp type echo-request drop"
        );
        // The step says which was used.
        assert!(say::lossy(20, false).en.contains("fixed pattern"));
        assert!(say::lossy(20, true).en.contains("chance"));
        assert!(say::lossy_rule(20, false, &pattern(20), 10)
            .en
            .contains("here 1, 6 of 10"));
        assert!(say::lossy_rule(20, true, &[], 10)
            .en
            .contains("numgen random"));
    }

    #[test]
    fn the_ttl_step_says_what_traceroute_really_reads() {
        let t = say::ttl_detail(Some(64), Some(63));
        assert!(!t.en.contains("counts routers this way"), "{}", t.en);
        assert!(
            t.en.contains("TTL 1, 2, 3") && t.en.contains("time exceeded"),
            "{}",
            t.en
        );
        assert!(
            t.en.contains("only if you guess the TTL it started with"),
            "{}",
            t.en
        );
        assert!(t.en.contains("h3 starts its replies at TTL 64"), "{}", t.en);
        assert!(!t.zh.contains("traceroute 就靠它数路由器"), "{}", t.zh);
        assert!(
            t.zh.contains("ICMP 超时") && t.zh.contains("1、2、3"),
            "{}",
            t.zh
        );
        assert_eq!(
            say::ttls(Some(64), Some(64), Some(62)).en,
            "Reply TTL 64 from h2, 62 from h3: 2 routers on the way back"
        );
    }

    #[test]
    fn times_like_iputils() {
        assert_eq!(fmt_ms(0.0456), "0.046 ms");
        assert_eq!(fmt_ms(12.34), "12.3 ms");
        assert_eq!(fmt_ms(123.4), "123 ms");
    }
}
