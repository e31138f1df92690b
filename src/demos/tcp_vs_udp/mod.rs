//! `netlab tcp-vs-udp`: the transport layer, live (Q9, Q10, Q12).
//!
//! A server and a client for each protocol, side by side, in the namespace lab
//! (client h1, server h2 across switch sw1) or, without privileges, on loopback:
//!
//! 1. connection: TCP's three-way handshake and FIN teardown captured on the
//!    link; UDP sends with no setup at all;
//! 2. boundaries: three sends; TCP's reader gets one byte stream, UDP's three
//!    datagrams;
//! 3. reliability over a link that drops `--loss` percent each way (the same
//!    packets every run unless `--random-loss`): TCP delivers every numbered
//!    message in order, TCP_INFO counts the retransmissions it took and the
//!    capture the messages held back behind them; UDP shows what never
//!    arrived or came out of order;
//! 4. cost: bulk throughput and per-message round trips on the same link, the
//!    work behind them (system calls, TCP's large frames, the datagrams the
//!    receiver's buffer dropped), and what TCP's slowness really is (the
//!    handshake before the first byte, head-of-line blocking);
//! 5. one-to-many: a UDP broadcast reaches every host on the LAN; TCP cannot;
//! 6. ports: the notes' well-known ports checked against /etc/services.
//!
//! The exchanges themselves are in transport::ends; this file tells them.

use std::collections::HashSet;

use crate::cli::TcpUdpArgs;
use crate::error::{exit, Error, Result};
use crate::lab::capture::Frame;
use crate::lab::link::Pattern;
use crate::lab::topology::NetLab;
use crate::narrate::{tx, Narrator, Packet, Step, Summary, Text};
use crate::privilege::Privileges;
use crate::transport::ends::{self, Ends, TcpRun};
use crate::transport::{seen, seq_of, Cost, Delivery, TcpResult, UdpResult};
use crate::wire::frame::{self, Kind};
use crate::wire::tcp as tcpw;

mod say;

const QS: &[&str] = &["Q9", "Q12"];

/// TCP flag bits, as wire::tcp::Header::flags holds them.
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

/// The first step: where the two ends run.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Setup {
    /// Client h1 and server h2 in the namespace lab (false: both on loopback).
    lab: bool,
    /// The lab was built without root, in a user namespace.
    rootless: bool,
}

/// One segment of the handshake, from its captured header.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct HandshakeOut {
    /// `SYN`, `SYN-ACK` or `ACK`.
    segment: &'static str,
    /// TCP source port.
    src_port: u16,
    /// TCP destination port.
    dst_port: u16,
    /// Sequence number.
    seq: u32,
    /// Acknowledgement number.
    ack: u32,
    /// Flags as tcpdump names them (`SYN`, `SYN,ACK`, `ACK`).
    flags: String,
    /// The window field as sent (unscaled).
    window: u16,
}

/// Phase 1, the handshake step.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Handshake {
    /// The three segments, in order (empty without a capture).
    handshake: Vec<HandshakeOut>,
    /// The client's link was captured (needs CAP_NET_RAW on loopback).
    captured: bool,
}

/// Phase 1, the teardown step.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Teardown {
    /// Segments with FIN set (one each way, unless a FIN was lost).
    fin_segments: usize,
}

/// Phase 1, UDP's step.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct FirstDatagram {
    /// UDP packets captured: the one datagram, with no setup before it.
    udp_packets: usize,
}

/// Phase 2: three sends over each protocol, read late.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct BoundariesOut {
    /// What was sent, three times over each protocol.
    sent: Vec<String>,
    /// What each TCP read returned.
    tcp_reads: Vec<String>,
    /// What each UDP recv returned.
    udp_datagrams: Vec<String>,
}

/// Phase 3's first step: the lossy link and what will cross it.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct LossSetup {
    /// Numbered messages each way, over each protocol.
    messages_each_way: u32,
    /// Bytes in each message.
    size: usize,
    /// Percent of TCP and UDP packets dropped, each way.
    loss_percent: u8,
    /// How the dropped packets are chosen: `fixed` (the same share every run) or `random`.
    loss_pattern: Pattern,
    /// The nft expression that chooses them, in each host's input chain,
    /// once for TCP and once for UDP (empty at 0 and 100 %).
    rule: String,
}

/// Phase 3, when TCP could not even connect.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct NoConnection {
    /// Why connect() or accept() gave up (English).
    connect_error: String,
}

/// Phase 3, TCP's result.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct TcpLoss {
    /// What TCP delivered (`bytes_per_s` is filled in the summary).
    tcp: TcpResult,
}

/// Phase 3, UDP's result.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct UdpLoss {
    /// What UDP delivered (`bytes_per_s` and `bulk_lost_percent` are filled in the summary).
    udp: UdpResult,
}

/// Phase 4: throughput and round trips on the same link.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct CostOut {
    /// TCP's bulk rate, bytes per second.
    tcp_bytes_per_s: f64,
    /// UDP's bulk rate as received, bytes per second.
    udp_bytes_per_s: f64,
    /// Percent of the bulk datagrams that never arrived.
    udp_bulk_lost_percent: f64,
    /// Mean round trip of a 64-byte message over TCP, microseconds.
    tcp_round_trip_us: f64,
    /// The same over UDP, microseconds.
    udp_round_trip_us: f64,
    /// UDP round trips that came back (of 200).
    udp_round_trips_answered: u32,
    /// write() calls TCP's sender made for the bulk transfer.
    tcp_writes: u64,
    /// Bytes each write() offered.
    tcp_write_bytes: usize,
    /// read() calls that returned data to TCP's receiver.
    tcp_reads: u64,
    /// The data frames TCP's sender handed the link, from the capture (in
    /// the lab): fewer and larger than 1500-byte segments, since the kernel
    /// segments as late as it can (GSO) and a veth link never has to.
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp_frames: Option<seen::DataFrames>,
    /// sendto() calls UDP's sender made: one per datagram.
    udp_sends: u64,
    /// Of those, the ones the sender's kernel refused.
    udp_send_errors: u64,
    /// Bytes of each datagram.
    udp_datagram_bytes: usize,
    /// Datagrams the receiver got (one recvfrom() each).
    udp_received: u64,
    /// Datagrams the receiver's kernel dropped with the socket's buffer full
    /// (`Udp: RcvbufErrors` in its namespace's /proc/net/snmp, before and
    /// after; absent where it could not be read): UDP has no flow control.
    udp_rcvbuf_errors: Option<u64>,
    /// How long connect() took in phase 1, microseconds.
    connect_us: u64,
    /// From phase 1's SYN to its first data byte on the link, microseconds:
    /// what the handshake costs the first byte (absent without a capture).
    first_byte_after_syn_us: Option<u64>,
    /// The phase's frames were captured (in the lab; not on loopback).
    captured: bool,
    /// Frames the kernel dropped because the capture could not keep up.
    capture_missed: u64,
    /// Bytes kept of each frame (the snap length, as `tcpdump -s`).
    capture_snap: usize,
    /// The capture reached its bound (`capture_limit` frames) and kept no more.
    capture_full: bool,
    /// The most frames the phase's capture keeps.
    capture_limit: usize,
}

/// One host's part in the broadcast.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Heard {
    /// The listening host (`h2`, `r1`, `h3`).
    host: &'static str,
    /// The datagram reached it.
    received: bool,
}

/// Phase 5: one broadcast datagram, and a TCP attempt at the same address.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct BroadcastOut {
    /// Who heard the datagram sent to 198.51.100.255.
    broadcast: Vec<Heard>,
    /// Why connect() to the broadcast address failed (English).
    tcp_error: String,
}

/// One of the notes' ports against /etc/services.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct PortOut {
    /// The service as the notes name it.
    notes: &'static str,
    /// Its port.
    port: u16,
    /// `tcp` or `udp`.
    transport: &'static str,
    /// The name /etc/services gives that port and transport, if it lists it.
    services_name: Option<String>,
}

/// Phase 6: the notes' ports checked.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct PortsOut {
    /// Each port of the notes, as this machine names it.
    ports: Vec<PortOut>,
    /// This machine has an /etc/services.
    services_file: bool,
    /// ICMP's line in /etc/protocols (name, number, aliases), if there is one.
    icmp_protocols_line: Option<String>,
}

fn tcp_of(f: &Frame, port: u16) -> Option<(tcpw::Header, usize)> {
    match frame::ethernet_frame(&f.bytes).ok()?.kind {
        Kind::Ipv4 {
            tcp: Some(h),
            payload_len,
            ..
        } if h.src_port == port || h.dst_port == port => Some((h, payload_len)),
        _ => None,
    }
}

/// The TCP header and payload of an Ethernet + IPv4 frame.
fn tcp_bytes(frame: &[u8]) -> Option<&[u8]> {
    frame::transport(frame)
        .filter(|(p, _)| *p == 6)
        .map(|(_, b)| b)
}

fn udp_of(f: &Frame, port: u16) -> bool {
    matches!(frame::ethernet_frame(&f.bytes).map(|d| d.kind), Ok(Kind::Ipv4 { udp: Some((s, d, _)), .. }) if s == port || d == port)
}

/// The source port of a TCP or UDP frame.
fn src_port(f: &Frame) -> Option<u16> {
    match frame::ethernet_frame(&f.bytes).ok()?.kind {
        Kind::Ipv4 { tcp: Some(h), .. } => Some(h.src_port),
        Kind::Ipv4 {
            udp: Some((s, _, _)),
            ..
        } => Some(s),
        _ => None,
    }
}

/// A frame as a packet record. In the lab its ends are the hosts owning its
/// MAC addresses; on loopback (no MACs) they are `client` and `server`, told
/// apart by the servers' ports.
fn record(env: &Ends, f: &Frame, server_ports: &[u16]) -> Packet {
    let mut p = f.record(false);
    if let Ends::Loopback = env {
        let from_server = src_port(f).is_some_and(|s| server_ports.contains(&s));
        let (from, to) = if from_server {
            (SERVER, CLIENT)
        } else {
            (CLIENT, SERVER)
        };
        p.from = from.into();
        p.to = to.into();
    }
    p
}

/// Frames as packet records, in the order they crossed the link.
fn records(env: &Ends, frames: &[Frame], server_ports: &[u16]) -> Vec<Packet> {
    let mut sorted: Vec<&Frame> = frames.iter().collect();
    sorted.sort_by_key(|f| f.at);
    sorted
        .into_iter()
        .map(|f| record(env, f, server_ports))
        .collect()
}

/// Lab frames as packet records (ends from their MAC addresses), in wire order.
fn lab_records(frames: &[Frame]) -> Vec<Packet> {
    let mut sorted: Vec<&Frame> = frames.iter().collect();
    sorted.sort_by_key(|f| f.at);
    sorted.into_iter().map(|f| f.record(false)).collect()
}

/// Participant ids of the two ends on loopback (in the lab: `h1`, `h2`).
const CLIENT: &str = "client";
const SERVER: &str = "server";

/// Name the loopback ends' participants on the first step that draws them.
fn who(step: Step, env: &Ends) -> Step {
    match env {
        Ends::Loopback => step
            .who(CLIENT, say::end(CLIENT))
            .who(SERVER, say::end(SERVER)),
        Ends::Lab(_) => step,
    }
}

/// Run the demo.
pub fn run(args: &TcpUdpArgs, n: &mut Narrator) -> Result<i32> {
    if !args.loopback && !Privileges::probe().can_build_lab() {
        return Err(crate::privilege::lab_privilege());
    }
    let lab_ok = !args.loopback;
    let env = if lab_ok {
        Ends::Lab(NetLab::build()?)
    } else {
        Ends::Loopback
    };
    let intro = match &env {
        Ends::Lab(_) => Step::new(
            crate::lab::userns::titled(tx(
                "Client h1, server h2, one switch",
                "客户端 h1，服务器 h2，一台交换机",
            )),
            tx(
                "One real lab link for both: every difference below is TCP's or UDP's own.",
                "两种协议走实验网络里同一条真实链路：下面的差别全部来自协议本身。",
            ),
            QS,
        ),
        Ends::Loopback => Step::new(
            tx(
                "On loopback: no lab, no loss",
                "在回环接口上：没有实验网络，也没有丢包",
            ),
            tx(
                "--loopback: both ends run on 127.0.0.1. The loss test then shows what TCP and UDP do on a link that never drops; run without --loopback to add a lossy link, the handshake capture and the broadcast.",
                "--loopback：两端都在 127.0.0.1 上。丢包测试因此展示的是在从不丢包的链路上 TCP 和 UDP 的表现；不加 --loopback，可得到有丢包的链路、握手抓包和广播演示。",
            ),
            QS,
        ),
    };
    n.step(intro.with(&Setup {
        lab: lab_ok,
        rootless: crate::lab::userns::rootless(),
    }))?;

    let first = connection(&env, n)?;
    boundaries(&env, n)?;
    let loss = if lab_ok { args.loss } else { 0 };
    let (mut tcp, mut udp) = reliability(&env, args, loss, n)?;
    let cost = cost(&env, args, &first, tcp.held_back.as_ref(), n)?;
    if let Ends::Lab(lab) = &env {
        broadcast(lab, n)?;
    }
    ports(n)?;

    tcp.bytes_per_s = cost.tcp_bytes_per_s;
    udp.bytes_per_s = cost.udp_bytes_per_s;
    udp.bulk_lost_percent = cost.udp_bulk_lost_percent;
    let delivered_all = tcp.delivered_all();
    let result = crate::transport::Summary {
        loss_percent: loss,
        loss_pattern: pattern_of(args),
        lab: lab_ok,
        tcp,
        udp,
    };
    n.summary(
        Summary {
            title: say::summary(&result),
            lines: vec![tx(
                "TCP pays for order and completeness; UDP pays nothing and promises nothing.",
                "TCP 为有序和完整付出代价；UDP 不付出，也不承诺。",
            )],
            questions: crate::record::qs(&["Q9", "Q10", "Q12"]),
            ok: delivered_all,
            ..Summary::default()
        }
        .with(&result),
    )?;
    drop(env);
    Ok(if delivered_all {
        exit::OK
    } else {
        exit::NETWORK_NO
    })
}

/// What the handshake cost the first byte, from phase 1.
struct FirstByte {
    /// How long connect() took.
    connect: std::time::Duration,
    /// From the SYN to the first data byte on the link (with a capture).
    after_syn: Option<std::time::Duration>,
}

fn connection(env: &Ends, n: &mut Narrator) -> Result<FirstByte> {
    let section = tx(
        "1 · Connection: handshake versus nothing",
        "1 · 连接：握手与不握手",
    );
    let ends::Connection {
        connect_time,
        tcp_port: port,
        udp_port,
        mut frames,
    } = ends::connection(env)?;
    // Everything the client's link carried, in the order it crossed it; the
    // three steps below take consecutive runs of it, so no frame is told
    // before one that preceded it on the wire.
    frames.sort_by_key(|f| f.at);
    let servers = [port, udp_port];
    let is_bare =
        |f: &Frame, flags: u8| tcp_of(f, port).is_some_and(|(h, len)| h.flags == flags && len == 0);
    let syn_at = frames.iter().position(|f| is_bare(f, SYN));
    let synack_at = frames.iter().position(|f| is_bare(f, SYN | ACK));
    let ack_at = synack_at.and_then(|sa| {
        let (h, _) = tcp_of(&frames[sa], port)?;
        frames
            .iter()
            .skip(sa + 1)
            .position(|f| {
                tcp_of(f, port).is_some_and(|(a, len)| {
                    a.flags == ACK && len == 0 && a.ack == h.seq.wrapping_add(1)
                })
            })
            .map(|i| i + sa + 1)
    });
    let (syn, synack, ack) = (
        syn_at.map(|i| &frames[i]),
        synack_at.map(|i| &frames[i]),
        ack_at.map(|i| &frames[i]),
    );
    // Where the handshake ends and where UDP's datagram starts.
    let handshake_end = [syn_at, synack_at, ack_at]
        .into_iter()
        .flatten()
        .max()
        .map_or(0, |i| i + 1);
    let udp_start = frames[handshake_end..]
        .iter()
        .position(|f| udp_of(f, udp_port))
        .map_or(frames.len(), |i| i + handshake_end);

    let mut s = Step::new(
        say::handshake(connect_time),
        tx(
            "SYN: the client's first sequence number x; SYN-ACK: the server's y, ack x+1; ACK: y+1: where each side's bytes start.",
            "SYN 带客户端的初始序号 x；SYN-ACK 带服务器的 y 和确认号 x+1；ACK 为 y+1。双方由此知道对方的字节从哪里开始。",
        ),
        &["Q9", "Q12", "Q13"],
    )
    .section(section.clone());
    let mut hs = Vec::new();
    // The window field of segments after the SYNs counts in units of 2^shift,
    // the shift each side offered in its SYN (window scale, RFC 7323).
    let shift_of = |f: Option<&Frame>| f.and_then(|f| tcpw::window_scale(tcp_bytes(&f.bytes)?));
    let client_shift = shift_of(syn);
    let server_shift = shift_of(synack);
    for (name, f) in [("SYN", syn), ("SYN-ACK", synack), ("ACK", ack)] {
        if let Some((h, _)) = f.and_then(|f| tcp_of(f, port)) {
            let win = match (name, client_shift, server_shift) {
                ("ACK", Some(c), Some(_)) => say::scaled_window(h.window, c),
                (_, _, _) => match shift_of(f) {
                    Some(sh) => say::offered_window(h.window, sh),
                    None => Text::from(h.window.to_string()),
                },
            };
            s = s.fact(tx(name, name), say::segment(h.seq, h.ack, &win));
            hs.push(HandshakeOut {
                segment: name,
                src_port: h.src_port,
                dst_port: h.dst_port,
                seq: h.seq,
                ack: h.ack,
                flags: tcpw::flags_text(h.flags),
                window: h.window,
            });
        }
    }
    let first = &frames[..handshake_end];
    if first.iter().any(is_arp) {
        s.detail.en.push_str(" First, ARP found h2's MAC.");
        s.detail.zh.push_str("此前 h1 先用 ARP 问到了 h2 的 MAC。");
    }
    s.packets = records(env, first, &servers);
    if frames.is_empty() {
        s.detail.en.push_str(" (No capture here: capturing needs CAP_NET_RAW; the handshake still happened inside connect().)");
        s.detail
            .zh
            .push_str("（这里无法抓包：抓包需要 CAP_NET_RAW；握手仍然在 connect() 内部完成了。）");
    }
    n.step(who(s, env).with(&Handshake {
        handshake: hs,
        captured: !frames.is_empty(),
    }))?;
    if let Some(f) = syn {
        // A second look at the SYN, for its bytes: not a packet of its own.
        let mut v = record(env, f, &servers).echo();
        // The layers below, and the fields the lesson does not need (the
        // options' window scale is read out in the handshake step).
        v.hide = ["eth.", "ip.", "tcp.checksum", "tcp.urgent", "tcp.options"]
            .map(String::from)
            .to_vec();
        let mut view = Step::new(
            tx(
                "The SYN, field by field: the transport layer's header",
                "SYN 报文段，逐字段：传输层的头部",
            ),
            Text::default(),
            &["Q2", "Q9", "Q12"],
        )
        .section(section.clone());
        view.packets = vec![v];
        n.step(view)?;
    }

    // Everything after the handshake: the 5-byte hello and its ACK, then the FINs.
    let after = &frames[handshake_end..udp_start];
    let fins = after
        .iter()
        .filter(|f| tcp_of(f, port).is_some_and(|(h, _)| h.flags & FIN != 0))
        .count();
    let mut s = Step::new(
        tx("TCP: the FIN teardown", "TCP：FIN 挥手释放"),
        tx(
            "Each side closes its own direction: FIN, then ACK (the middle two may share a packet).",
            "每一方关闭自己的方向：FIN，然后 ACK（中间两个可以合在一个包里）。",
        ),
        &["Q9", "Q13"],
    )
    .section(section.clone());
    if after
        .iter()
        .any(|f| tcp_of(f, port).is_some_and(|(_, len)| len > 0))
    {
        s.detail
            .en
            .push_str(" The FIN's seq is 5 past the ACK's: \"hello\" went first.");
        s.detail
            .zh
            .push_str("FIN 的序号比握手的 ACK 大 5：\"hello\" 先发了出去。");
    }
    s.packets = records(env, after, &servers);
    n.step(s.with(&Teardown { fin_segments: fins }))?;

    let mut s = Step::new(
        tx(
            "UDP: the first packet already carries the data",
            "UDP：第一个包就带着数据",
        ),
        tx(
            "No handshake, no state: sendto() hands the datagram to IP; off it goes.",
            "没有握手，也不记连接状态：sendto() 把数据报交给 IP 层，立刻就发出去了。",
        ),
        QS,
    )
    .section(section);
    let last = &frames[udp_start..];
    for f in last {
        let mut p = record(env, f, &servers);
        if udp_of(f, udp_port) {
            p.show_bytes = true;
            p.quiet = false;
            p.hide = ["eth.", "ip."].map(String::from).to_vec();
        }
        s.packets.push(p);
    }
    let udp_packets = last.iter().filter(|f| udp_of(f, udp_port)).count();
    n.step(s.with(&FirstDatagram { udp_packets }))?;
    Ok(FirstByte {
        connect: connect_time,
        after_syn: crate::transport::seen::first_byte_after_syn(&frames, port),
    })
}

/// An ARP frame.
fn is_arp(f: &Frame) -> bool {
    f.bytes.get(12..14) == Some(&[0x08, 0x06])
}

fn boundaries(env: &Ends, n: &mut Narrator) -> Result<()> {
    let b = ends::boundaries(env)?;
    let mut step = Step::new(
        say::boundaries(&b.reads, &b.datagrams),
        tx(
            "TCP carries bytes: the sends left no mark in the stream, so a later reader gets them run together. UDP carries messages: one send(), one recv().",
            "TCP 传送的是字节：几次 send() 在字节流里不留边界，稍晚读取就连在一起。UDP 传送的是报文：一次 send() 对应一次 recv()。",
        ),
        &["Q9", "Q14"],
    )
    .section(tx(
        "2 · Boundaries: a byte stream versus messages",
        "2 · 边界：字节流与报文",
    ))
    .with(&BoundariesOut {
        sent: b.sent,
        tcp_reads: b.reads,
        udp_datagrams: b.datagrams,
    });
    step.packets = records(env, &b.frames, &b.server_ports);
    n.step(step)
}

/// Records of a loss phase's frames, in wire order: a TCP data segment seen
/// before is marked as a retransmission; a UDP datagram whose number never
/// arrived, as lost.
fn loss_records(
    env: &Ends,
    frames: &[Frame],
    server_ports: &[u16],
    lost_udp: &[(u16, Vec<u32>)],
) -> Vec<Packet> {
    let mut seen: HashSet<(u16, u32)> = HashSet::new();
    let mut sorted: Vec<&Frame> = frames.iter().collect();
    sorted.sort_by_key(|f| f.at);
    sorted
        .into_iter()
        .map(|f| {
            let mut p = record(env, f, server_ports);
            match frame::ethernet_frame(&f.bytes).map(|d| d.kind) {
                Ok(Kind::Ipv4 {
                    tcp: Some(h),
                    payload_len,
                    ..
                }) if payload_len > 0 && !seen.insert((h.src_port, h.seq)) => {
                    p.label.en.push_str(" (retransmission)");
                    p.label.zh.push_str("（重传）");
                }
                Ok(Kind::Ipv4 {
                    udp: Some((sport, _, _)),
                    ..
                }) => {
                    let payload = udp_payload(&f.bytes);
                    if let (Some(q), Some((_, lost))) = (
                        payload.and_then(seq_of),
                        lost_udp.iter().find(|(port, _)| *port == sport),
                    ) {
                        p.lost = lost.contains(&q);
                    }
                }
                _ => {}
            }
            p
        })
        .collect()
}

/// The UDP payload of an Ethernet + IPv4 frame.
fn udp_payload(frame: &[u8]) -> Option<&[u8]> {
    frame::transport(frame)
        .filter(|(p, _)| *p == 17)
        .and_then(|(_, b)| b.get(8..))
}

/// The loss test when TCP could not even connect: the SYNs the capture saw, a
/// step that says so, and TCP's result (nothing delivered).
fn unconnected(
    env: &Ends,
    n: &mut Narrator,
    section: &Text,
    frames: &[Frame],
    count: u32,
    e: Error,
) -> Result<TcpResult> {
    let syn_times: Vec<std::time::SystemTime> = frames
        .iter()
        .filter(|f| {
            matches!(frame::ethernet_frame(&f.bytes).map(|d| d.kind),
                Ok(Kind::Ipv4 { tcp: Some(h), .. }) if h.flags & (SYN | ACK) == SYN)
        })
        .map(|f| f.at)
        .collect();
    let syns = syn_times.len();
    // When each SYN left, from the first: the retransmission timer as it ran.
    let at = syn_times
        .iter()
        .map(|t| {
            let d = t.duration_since(syn_times[0]).unwrap_or_default();
            format!("{:.1}", d.as_secs_f64())
        })
        .collect::<Vec<_>>()
        .join(", ");
    n.step(
        Step::new(
            say::no_connection(syns),
            say::syn_backoff(&at),
            &["Q9", "Q12"],
        )
        .section(section.clone())
        .with(&NoConnection {
            connect_error: e.to_string(),
        })
        .with_packets(loss_records(env, frames, &[], &[])),
    )?;
    Ok(TcpResult {
        sent: 2 * count,
        in_order: true,
        retransmits: syns.saturating_sub(1) as u32,
        ..TcpResult::default()
    })
}

/// The loss pattern the command line asks for.
fn pattern_of(args: &TcpUdpArgs) -> Pattern {
    if args.random_loss {
        Pattern::Random
    } else {
        Pattern::Fixed
    }
}

fn reliability(
    env: &Ends,
    args: &TcpUdpArgs,
    loss: u8,
    n: &mut Narrator,
) -> Result<(TcpResult, UdpResult)> {
    let section = say::reliability_section(loss);
    let size = usize::from(args.size);
    let count = args.messages;
    let (client, server) = env.names();
    let pattern = pattern_of(args);
    env.make_lossy(loss, pattern)?;
    n.step(
        Step::new(
            say::lossy(loss, pattern),
            say::numbered(count, size, loss, pattern),
            QS,
        )
        .section(section.clone())
        .with(&LossSetup {
            messages_each_way: count,
            size,
            loss_percent: loss,
            loss_pattern: pattern,
            rule: crate::lab::link::loss_rule(loss, pattern),
        }),
    )?;

    // TCP: one connection, both directions at once (it is full duplex).
    let tcp = match ends::tcp_both_ways(env, count, size)? {
        TcpRun::Unconnected { error, frames } => {
            unconnected(env, n, &section, &frames, count, error)?
        }
        TcpRun::Ran {
            at_server,
            at_client,
            elapsed,
            client: ic,
            server: is,
            server_port,
            frames,
        } => {
            let dirs = [
                Delivery::tcp(client, server, &at_server, count, size),
                Delivery::tcp(server, client, &at_client, count, size),
            ];
            let delivered: u32 = dirs.iter().map(|d| d.delivered).sum();
            let in_order = dirs.iter().all(|d| d.in_order);
            let complete = dirs.iter().all(|d| d.complete);
            let retrans = ic.total_retrans + is.total_retrans;
            // Head-of-line blocking, each way, from the capture (which saw
            // every transmission: h1's link, before either host's filter).
            let held = (!frames.is_empty()).then(|| {
                let mut w = seen::waits(&frames, |h| h.dst_port == server_port, size, count);
                w.extend(seen::waits(
                    &frames,
                    |h| h.src_port == server_port,
                    size,
                    count,
                ));
                seen::HeldBack::of(w)
            });
            let tcp = TcpResult {
                sent: 2 * count,
                delivered,
                in_order,
                complete,
                connected: true,
                retransmits: retrans,
                data_segments: Some(ic.data_segs_out + is.data_segs_out),
                elapsed_ms: Some(elapsed.as_millis() as u64),
                directions: dirs.to_vec(),
                bytes_per_s: 0.0,
                held_back: held,
            };
            let whole = complete && in_order;
            // Both directions whole: one line says it; else one line each.
            let facts = if whole {
                vec![(
                    say::both_ways(client, server),
                    say::tcp_both_whole(count, client, ic.total_retrans, server, is.total_retrans),
                )]
            } else {
                vec![
                    (
                        say::way(client, server),
                        say::tcp_direction(&dirs[0], ic.total_retrans),
                    ),
                    (
                        say::way(server, client),
                        say::tcp_direction(&dirs[1], is.total_retrans),
                    ),
                ]
            };
            let mut step = Step::new(
                    say::tcp_delivered(whole, delivered, 2 * count, retrans, elapsed.as_millis()),
                    if whole {
                        say::repaired(held.as_ref())
                    } else {
                        tx(
                            "TCP had not finished when the phase's time ran out: at this loss every repair waits for a retransmission timer that doubles each time. What did arrive arrived in order, with nothing missing before it; the rest was still being retried.",
                            "时限到时 TCP 还没有传完：在这样的丢包率下，每次修补都要等一个每次翻倍的重传计时器。已经到达的数据顺序正确，前面没有缺口；其余的仍在重试。",
                        )
                    },
                    &["Q9", "Q12"],
                )
                .section(section.clone());
            for (label, value) in facts {
                step = step.fact(label, value);
            }
            n.step(
                step.with(&TcpLoss { tcp: tcp.clone() })
                    .with_packets(loss_records(env, &frames, &[server_port], &[])),
            )?;
            tcp
        }
    };

    // UDP: both sockets send and receive at once.
    let u = ends::udp_both_ways(env, count, size)?;
    let dirs = [
        Delivery::udp(client, server, &u.at_server, count),
        Delivery::udp(server, client, &u.at_client, count),
    ];
    let lost_by_port = [
        (u.client.port(), dirs[0].lost.clone()),
        (u.server.port(), dirs[1].lost.clone()),
    ];
    let delivered: u32 = dirs.iter().map(|d| d.delivered).sum();
    let lost: usize = dirs.iter().map(|d| d.lost.len()).sum();
    let reordered: u32 = dirs.iter().map(|d| d.reordered).sum();
    let udp = UdpResult {
        sent: 2 * count,
        delivered,
        lost: lost as u32,
        lost_messages: dirs[0].lost.iter().take(50).copied().collect(),
        reordered,
        directions: dirs.to_vec(),
        ..UdpResult::default()
    };
    // The fixed pattern loses the same numbers each way: then one line says it.
    let lines = if dirs[0].lost == dirs[1].lost {
        vec![(say::both_ways(client, server), say::udp_both(&dirs[0]))]
    } else {
        vec![
            (say::way(client, server), say::udp_direction(&dirs[0])),
            (say::way(server, client), say::udp_direction(&dirs[1])),
        ]
    };
    let mut step = Step::new(
        say::udp_delivered(delivered, 2 * count, lost, reordered),
        tx(
            "Nobody noticed, nobody resent: a lost datagram is gone. An application that needs more must number, acknowledge and resend itself (QUIC does, over UDP).",
            "没人察觉，也没人重发：丢失的数据报就没了。需要更多保证的应用只能自己编号、确认、重传（QUIC 就在 UDP 上这样做）。",
        ),
        &["Q9", "Q12"],
    )
    .section(section);
    for (label, value) in lines {
        step = step.fact(label, value);
    }
    n.step(
        step.with(&UdpLoss { udp: udp.clone() })
            .with_packets(loss_records(
                env,
                &u.frames,
                &[u.server.port()],
                &lost_by_port,
            )),
    )?;
    env.make_clean()?;
    Ok((tcp, udp))
}

/// Bytes kept of each frame captured in the throughput phase: Ethernet, IPv4
/// and TCP with its options, and the first bytes of payload.
const SNAP: usize = 128;

/// The most frames the throughput phase keeps: its default run (8 MiB each
/// way) crosses the link in about 7 200; a run with `--bulk 4096` would
/// otherwise hold millions.
const BULK_FRAMES: usize = 10_000;

/// The throughput phase's frames as records, in wire order. They are look-
/// alikes by the thousand: the first of each kind (same ends, same label but
/// for its numbers) keeps its field table, the others only their bytes, so a
/// run's record stays a few megabytes.
fn bulk_records(env: &Ends, frames: &[Frame]) -> Vec<Packet> {
    let shape = |p: &Packet| {
        let label: String = p.label.en.chars().filter(|c| !c.is_ascii_digit()).collect();
        (p.from.clone(), p.to.clone(), label)
    };
    let mut seen = HashSet::new();
    records(env, frames, &[])
        .into_iter()
        .map(|mut p| {
            if !seen.insert(shape(&p)) {
                p.fields.clear();
            }
            p
        })
        .collect()
}

fn cost(
    env: &Ends,
    args: &TcpUdpArgs,
    first: &FirstByte,
    held: Option<&seen::HeldBack>,
    n: &mut Narrator,
) -> Result<Cost> {
    let total = u64::from(args.bulk) * 1024 * 1024;
    // The phase's frames are captured in the lab, always: headers only, as
    // `tcpdump -s 128` would, since the payload is megabytes of filler, and
    // no more than BULK_FRAMES of them. Capturing costs time, so the numbers
    // say so. (Loopback's capture keeps whole 64 KiB frames: not this phase.)
    let cap = env.capture_bulk(SNAP, BULK_FRAMES)?;
    let lab = cap.is_some();
    let m = ends::measure(env, total)?;
    let bulk = match cap {
        Some(c) => c.stop()?,
        None => ends::Bulk {
            frames: Vec::new(),
            missed: 0,
            full: false,
        },
    };
    let captured = !bulk.frames.is_empty();
    n.pcap_note(say::snap_note(
        SNAP,
        bulk.missed,
        lab,
        bulk.full.then_some(BULK_FRAMES),
    ));
    let kept_up = m.tcp_bytes_per_s >= m.udp_bytes_per_s * 0.8;
    let mut detail = say::cost_lesson(kept_up, captured);
    if bulk.full {
        let kept = say::capture_bound(BULK_FRAMES);
        detail.en.push(' ');
        detail.en.push_str(&kept.en);
        detail.zh.push_str(&kept.zh);
    }
    // What the capture saw of TCP's bulk: the frames h1 handed the link.
    let tcp_frames = captured.then(|| seen::data_frames(&bulk.frames, m.tcp_port));
    let (_, server) = env.names();
    let lost_percent = (m.udp_lost_percent * 10.0).round() / 10.0;
    let first_us = first.after_syn.map(|d| d.as_micros() as u64);
    n.step(
        Step::new(
            say::cost(
                m.tcp_bytes_per_s,
                m.udp_bytes_per_s,
                m.udp_lost_percent,
                m.tcp_rtt_us,
                m.udp_rtt_us,
            ),
            detail,
            &["Q9"],
        )
        .section(tx(
            "4 · Cost: throughput and round trips on the same link",
            "4 · 代价：同一链路上的吞吐量与往返时间",
        ))
        .fact(
            tx("TCP", "TCP"),
            say::tcp_work(m.tcp_writes, ends::WRITE, tcp_frames.as_ref()),
        )
        .fact(
            tx("UDP", "UDP"),
            say::udp_work(
                m.udp_sends,
                ends::DATAGRAM,
                m.udp_received,
                m.udp_rcvbuf_errors,
                m.udp_send_errors,
                server,
            ),
        )
        .correction(say::slow_means(
            kept_up,
            first.after_syn,
            first.connect,
            held,
        ))
        .with(&CostOut {
            tcp_bytes_per_s: m.tcp_bytes_per_s.round(),
            udp_bytes_per_s: m.udp_bytes_per_s.round(),
            udp_bulk_lost_percent: lost_percent,
            tcp_round_trip_us: m.tcp_rtt_us.round(),
            udp_round_trip_us: m.udp_rtt_us.round(),
            udp_round_trips_answered: m.udp_answered,
            tcp_writes: m.tcp_writes,
            tcp_write_bytes: ends::WRITE,
            tcp_reads: m.tcp_reads,
            tcp_frames,
            udp_sends: m.udp_sends,
            udp_send_errors: m.udp_send_errors,
            udp_datagram_bytes: ends::DATAGRAM,
            udp_received: m.udp_received,
            udp_rcvbuf_errors: m.udp_rcvbuf_errors,
            connect_us: first.connect.as_micros() as u64,
            first_byte_after_syn_us: first_us,
            captured,
            capture_missed: bulk.missed,
            capture_snap: SNAP,
            capture_full: bulk.full,
            capture_limit: BULK_FRAMES,
        })
        .with_packets(bulk_records(env, &bulk.frames)),
    )?;
    Ok(Cost {
        tcp_bytes_per_s: m.tcp_bytes_per_s.round(),
        udp_bytes_per_s: m.udp_bytes_per_s.round(),
        udp_bulk_lost_percent: lost_percent,
    })
}

fn broadcast(lab: &NetLab, n: &mut Narrator) -> Result<()> {
    let b = ends::broadcast(lab)?;
    let tcp_err = b
        .tcp_error
        .as_ref()
        .map(crate::error::os_error_text)
        .unwrap_or_else(|| tx("connected (unexpected)", "竟然连上了（出乎意料）"));
    let reached: Vec<&str> = b.heard.iter().filter(|h| h.1).map(|h| h.0).collect();
    let heard: Vec<Heard> = b
        .heard
        .iter()
        .map(|&(host, received)| Heard { host, received })
        .collect();
    n.step(
        Step::new(
            say::broadcast(&reached, &tcp_err),
            tx(
                "LAN A heard one send, h3 past the router did not; TCP has two ends only.",
                "局域网 A 都收到了这一次发送，路由器后的 h3 没收到；TCP 只有两个端点。",
            ),
            &["Q9"],
        )
        .section(tx("5 · One-to-many: broadcast", "5 · 一对多：广播"))
        .with(&BroadcastOut {
            broadcast: heard,
            tcp_error: tcp_err.en,
        })
        .with_packets(lab_records(&b.frames)),
    )
}

/// (name in the notes, port, transport) as the notes list them; and the notes' slips.
const NOTES_PORTS: &[(&str, u16, &str)] = &[
    ("FTP", 21, "tcp"),
    ("Telnet", 23, "tcp"),
    ("SMTP", 25, "tcp"),
    ("POP3", 110, "tcp"),
    ("HTTP", 80, "tcp"),
    ("DNS", 53, "udp"),
    ("DNS", 53, "tcp"),
    ("SNMP", 161, "udp"),
    ("TFTP", 69, "udp"),
    ("DHCP", 67, "udp"),
    ("DHCP", 68, "udp"),
];

fn ports(n: &mut Narrator) -> Result<()> {
    let section = tx(
        "6 · Ports: the notes' list checked",
        "6 · 端口：核对笔记里的列表",
    );
    let services = std::fs::read_to_string("/etc/services").ok();
    let table = services
        .as_deref()
        .map(crate::host::parse_services)
        .unwrap_or_default();
    let protocols = std::fs::read_to_string("/etc/protocols").unwrap_or_default();
    let mut s = Step::new(
        tx(
            "Well-known ports (assigned by IANA), as /etc/services names them",
            "知名端口（由 IANA 分配）与本机 /etc/services 中的名字",
        ),
        tx(
            "A port picks the receiving program; `quoted`: /etc/services' own name.",
            "端口指明数据交给哪个程序；反引号里是 /etc/services 自己的叫法。",
        ),
        &["Q10"],
    )
    .section(section);
    let mut rows = Vec::new();
    // One line per transport: each service with its port and the name
    // /etc/services gives it (quoted as the file's own text).
    for transport in ["tcp", "udp"] {
        let mut en = Vec::new();
        let mut zh = Vec::new();
        for (name, port, proto) in NOTES_PORTS.iter().filter(|(_, _, p)| *p == transport) {
            let found = table
                .iter()
                .find(|s| s.port == *port && s.transport == *proto)
                .map(|s| s.name.clone());
            let said = say::port(name, *port, found.as_deref(), services.is_some());
            en.push(said.en);
            zh.push(said.zh);
            rows.push(PortOut {
                notes: name,
                port: *port,
                transport: proto,
                services_name: found,
            });
        }
        s = s.fact(
            Text::from(transport.to_uppercase()),
            tx(en.join(", "), zh.join("，")),
        );
    }
    let icmp_line = protocols
        .lines()
        .find(|l| l.split_whitespace().next() == Some("icmp"))
        .map(|l| {
            // The line without its trailing comment: name, number, aliases.
            let l = l.split('#').next().unwrap_or("");
            l.split_whitespace().collect::<Vec<_>>().join(" ")
        });
    s = s
        .fact(
            tx("ICMP", "ICMP"),
            match &icmp_line {
                Some(l) => Text::from(format!("`{l}`")),
                None => tx("IP protocol 1 (no /etc/protocols here)", "IP 协议号 1（本机没有 /etc/protocols）"),
            },
        )
        .fact(tx("RARP", "RARP"), tx("EtherType 0x8035, inside Ethernet · NAT: a router rewriting addresses", "EtherType 0x8035，装在以太网帧里 · NAT：路由器改写地址"))
        .correction(tx(
            "the notes file ICMP under TCP, and NAT and RARP under UDP; none of the three has a port.",
            "笔记把 ICMP 归在 TCP 下，把 NAT 和 RARP 归在 UDP 下；三者都没有端口。",
        ));
    n.step(s.with(&PortsOut {
        ports: rows,
        services_file: services.is_some(),
        icmp_protocols_line: icmp_line,
    }))
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "tcp-vs-udp",
        "TCP and UDP side by side: handshake, boundaries, loss, throughput, broadcast.",
    )
    .step::<Setup>("the first step: where the two ends run")
    .step::<Handshake>("1 · the three-way handshake")
    .step::<Teardown>("1 · the FIN teardown")
    .step::<FirstDatagram>("1 · UDP's first packet")
    .step::<BoundariesOut>("2 · boundaries")
    .step::<LossSetup>("3 · the lossy link")
    .step::<NoConnection>("3 · TCP could not connect (instead of TCP's result)")
    .step::<TcpLoss>("3 · TCP's result")
    .step::<UdpLoss>("3 · UDP's result")
    .step::<CostOut>("4 · throughput and round trips (its packets: the phase's frames, `capture_snap` bytes each)")
    .step::<BroadcastOut>("5 · broadcast (in the lab)")
    .step::<PortsOut>("6 · ports")
    .summary::<crate::transport::Summary>()
}
