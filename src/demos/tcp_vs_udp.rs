//! `netlab tcp-vs-udp`: the transport layer, live (Q9, Q10, Q12).
//!
//! A server and a client for each protocol, side by side, in the namespace lab
//! (client h1, server h2 across switch sw1) or, without privileges, on loopback:
//!
//! 1. connection: TCP's three-way handshake and FIN teardown captured on the
//!    link; UDP sends with no setup at all;
//! 2. boundaries: three sends; TCP's reader gets one byte stream, UDP's three
//!    datagrams;
//! 3. reliability over a link that drops `--loss` percent each way: TCP
//!    delivers every numbered message in order and TCP_INFO counts the
//!    retransmissions it took; UDP shows what never arrived or came out of order;
//! 4. cost: bulk throughput and per-message round trips on the same link;
//! 5. one-to-many: a UDP broadcast reaches every host on the LAN; TCP cannot;
//! 6. ports: the notes' well-known ports checked against /etc/services.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::cli::TcpUdpArgs;
use crate::error::{exit, Error, Result};
use crate::lab::capture::{Capture, Frame};
use crate::lab::link;
use crate::lab::netns::Netns;
use crate::lab::topology::{NetLab, H2};
use crate::narrate::{tx, Narrator, Packet, Step, Summary, Text};
use crate::privilege::Privileges;
use crate::sys::tcp_info;
use crate::transport::{
    seq_of, tcp_receive, tcp_send, udp_receive, udp_send, Cost, Delivery, TcpResult, UdpResult,
    PHASE_LIMIT,
};
use crate::wire::frame::{self, Kind};
use crate::wire::tcp as tcpw;

const QS: &[&str] = &["Q9", "Q12"];
/// The interfaces on the path h1 → sw1 → h2.
const LINK_ENDS: [(&str, &str); 4] = [("h1", "eth0"), ("h2", "eth0"), ("sw1", "p1"), ("sw1", "p2")];

/// A socket call between the demo's own two ends failed.
fn lab_err(e: std::io::Error) -> Error {
    Error::system(
        tx("exchange data between", "在测试的两端之间收发数据："),
        "the test's two ends",
        e,
    )
}

/// Where the two ends run.
enum Env {
    /// Client in h1, server in h2.
    Lab(NetLab),
    /// Both on 127.0.0.1.
    Loopback,
}

impl Env {
    fn server_ip(&self) -> Ipv4Addr {
        match self {
            Env::Lab(_) => H2,
            Env::Loopback => Ipv4Addr::LOCALHOST,
        }
    }

    fn ns(&self, host: &str) -> Option<&Netns> {
        match self {
            Env::Lab(l) => l.host(host).ok(),
            Env::Loopback => None,
        }
    }

    /// Run `f` in `host` (lab) or right here (loopback).
    fn on<T: Send>(&self, host: &str, f: impl FnOnce() -> T + Send) -> Result<T> {
        match self.ns(host) {
            Some(ns) => ns.run(f),
            None => Ok(f()),
        }
    }

    fn capture(&self) -> Option<Capture> {
        match self {
            Env::Lab(l) => l
                .host("h1")
                .ok()
                .and_then(|h1| Capture::start(h1, "eth0").ok()),
            Env::Loopback if Privileges::probe().net_raw => Capture::start_here("lo").ok(),
            Env::Loopback => None,
        }
    }
}

/// Accept one connection, or fail after `limit`: over a lossy link the client
/// can believe it is connected while the server's end of the handshake never
/// completed (its SYN-ACK retries all lost), and a blocking accept would wait forever.
fn accept_within(listener: &TcpListener, limit: Duration) -> Result<TcpStream> {
    listener.set_nonblocking(true).map_err(lab_err)?;
    let start = Instant::now();
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).map_err(lab_err)?;
                return Ok(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && start.elapsed() < limit => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(lab_err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the server saw no completed TCP handshake within {} s",
                        limit.as_secs()
                    ),
                )));
            }
            Err(e) => return Err(lab_err(e)),
        }
    }
}

fn tcp_pair(env: &Env) -> Result<(TcpStream, TcpStream)> {
    let ip = env.server_ip();
    let listener = env
        .on("h2", move || TcpListener::bind((ip, 0)))?
        .map_err(lab_err)?;
    let addr = listener.local_addr().map_err(lab_err)?;
    let client = env
        .on("h1", move || {
            TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        })?
        .map_err(lab_err)?;
    let server = accept_within(&listener, Duration::from_secs(30))?;
    for s in [&client, &server] {
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(lab_err)?;
        s.set_write_timeout(Some(Duration::from_secs(10)))
            .map_err(lab_err)?;
    }
    Ok((client, server))
}

fn udp_pair(env: &Env) -> Result<(UdpSocket, UdpSocket, SocketAddr)> {
    let ip = env.server_ip();
    let server = env
        .on("h2", move || UdpSocket::bind((ip, 0)))?
        .map_err(lab_err)?;
    let addr = server.local_addr().map_err(lab_err)?;
    let client = env
        .on("h1", || UdpSocket::bind("0.0.0.0:0"))?
        .map_err(lab_err)?;
    server
        .set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(lab_err)?;
    Ok((client, server, addr))
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

/// Run the demo.
pub fn run(args: &TcpUdpArgs, n: &mut Narrator) -> Result<i32> {
    if !args.loopback && !Privileges::probe().can_build_lab() {
        return Err(crate::privilege::lab_privilege());
    }
    let lab_ok = !args.loopback;
    let env = if lab_ok {
        Env::Lab(NetLab::build()?)
    } else {
        Env::Loopback
    };
    let intro = match &env {
        Env::Lab(_) => Step::new(
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
        Env::Loopback => Step::new(
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
    n.step(
        intro
            .data("lab", lab_ok)
            .data("rootless", crate::lab::userns::rootless()),
    )?;

    connection(&env, n)?;
    boundaries(&env, n)?;
    let loss = if lab_ok { args.loss } else { 0 };
    let (mut tcp, mut udp) = reliability(&env, args, loss, n)?;
    let cost = cost(&env, args, n)?;
    if let Env::Lab(lab) = &env {
        broadcast(lab, n)?;
    }
    ports(n)?;

    tcp.bytes_per_s = cost.tcp_bytes_per_s;
    udp.bytes_per_s = cost.udp_bytes_per_s;
    udp.bulk_lost_percent = cost.udp_bulk_lost_percent;
    let delivered_all = tcp.delivered_all();
    let result = crate::transport::Summary {
        loss_percent: loss,
        lab: lab_ok,
        tcp,
        udp,
    };
    let title = summary_title(&result);
    let data = match serde_json::to_value(&result) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    n.summary(Summary {
        title,
        lines: vec![tx(
            "TCP pays for order and completeness; UDP pays nothing and promises nothing.",
            "TCP 为有序和完整付出代价；UDP 不付出，也不承诺。",
        )],
        questions: vec!["Q9", "Q10", "Q12"],
        ok: delivered_all,
        data,
    })?;
    drop(env);
    Ok(if delivered_all {
        exit::OK
    } else {
        exit::NETWORK_NO
    })
}

/// The run in one line: what TCP and UDP each got through, at this loss.
fn summary_title(r: &crate::transport::Summary) -> Text {
    let (t, u, loss) = (&r.tcp, &r.udp, r.loss_percent);
    let (t_en, t_zh) = if !t.connected {
        (
            format!("TCP could not connect ({} SYNs resent)", t.retransmits),
            format!("TCP 没能建立连接（SYN 重传 {} 次）", t.retransmits),
        )
    } else if t.delivered_all() {
        (
            format!(
                "TCP delivered {}/{} in order ({} resent)",
                t.delivered, t.sent, t.retransmits
            ),
            format!(
                "TCP 按序送达 {}/{}（重传 {} 次）",
                t.delivered, t.sent, t.retransmits
            ),
        )
    } else {
        (
            format!(
                "TCP delivered {}/{} before the time bound ({} resent)",
                t.delivered, t.sent, t.retransmits
            ),
            format!(
                "TCP 在时限内送达 {}/{}（重传 {} 次）",
                t.delivered, t.sent, t.retransmits
            ),
        )
    };
    tx(
        format!("{loss}% loss: {t_en}, UDP {}/{}", u.delivered, u.sent),
        format!(
            "丢包率 {loss}%：{t_zh}；UDP 送达 {}/{}",
            u.delivered, u.sent
        ),
    )
}

fn connection(env: &Env, n: &mut Narrator) -> Result<()> {
    let section = tx(
        "1 · Connection: handshake versus nothing",
        "1 · 连接：握手与不握手",
    );
    let cap = env.capture();
    let ip = env.server_ip();
    let listener = env
        .on("h2", move || TcpListener::bind((ip, 0)))?
        .map_err(lab_err)?;
    let port = listener.local_addr().map_err(lab_err)?.port();
    let addr = SocketAddr::from((ip, port));
    let t0 = Instant::now();
    let mut client = env
        .on("h1", move || {
            TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        })?
        .map_err(lab_err)?;
    let connect_time = t0.elapsed();
    let mut server = accept_within(&listener, Duration::from_secs(30))?;
    client.write_all(b"hello").map_err(lab_err)?;
    let mut buf = [0u8; 16];
    let _ = server.read(&mut buf).map_err(lab_err)?;
    client.shutdown(Shutdown::Write).map_err(lab_err)?;
    let _ = server.read(&mut buf);
    drop(server);
    let _ = client.read(&mut buf);
    drop(client);
    // UDP: one datagram, nothing before it.
    let (uc, us, uaddr) = udp_pair(env)?;
    uc.send_to(b"hello", uaddr).map_err(lab_err)?;
    let _ = us.recv_from(&mut buf);
    std::thread::sleep(Duration::from_millis(20));
    let frames = match cap {
        Some(c) => c.stop()?,
        None => vec![],
    };
    let tcp_frames: Vec<&Frame> = frames
        .iter()
        .filter(|f| tcp_of(f, port).is_some())
        .collect();
    let udp_frames: Vec<&Frame> = frames.iter().filter(|f| udp_of(f, uaddr.port())).collect();

    let find = |flags: u8| {
        tcp_frames
            .iter()
            .find(|f| tcp_of(f, port).is_some_and(|(h, len)| h.flags == flags && len == 0))
            .copied()
    };
    let syn = find(0x02);
    let synack = find(0x12);
    let ack = synack.and_then(|sa| {
        let (h, _) = tcp_of(sa, port)?;
        tcp_frames
            .iter()
            .find(|f| {
                tcp_of(f, port).is_some_and(|(a, len)| {
                    a.flags == 0x10 && len == 0 && a.ack == h.seq.wrapping_add(1)
                })
            })
            .copied()
    });
    let mut s = Step::new(
        tx(format!("TCP: the three-way handshake, inside connect() ({:.3} ms)", connect_time.as_secs_f64() * 1000.0), format!("TCP：三次握手，在 connect() 内完成（{:.3} ms）", connect_time.as_secs_f64() * 1000.0)),
        tx(
            "SYN: the client's first sequence number x; SYN-ACK: the server's y, ack x+1; ACK: y+1. Each side learns where the other's bytes start.",
            "SYN 带客户端的初始序号 x；SYN-ACK 带服务器的 y 和确认号 x+1；ACK 为 y+1。双方由此知道对方字节从哪里开始。",
        ),
        &["Q9", "Q12", "Q13"],
    )
    .section(section.clone())
;
    let mut hs = Vec::new();
    // The window field of segments after the SYNs counts in units of 2^shift,
    // the shift each side offered in its SYN (window scale, RFC 7323).
    let shift_of = |f: Option<&Frame>| f.and_then(|f| tcpw::window_scale(tcp_bytes(&f.bytes)?));
    let client_shift = shift_of(syn);
    let server_shift = shift_of(synack);
    for (name, f) in [("SYN", syn), ("SYN-ACK", synack), ("ACK", ack)] {
        if let Some((h, _)) = f.and_then(|f| tcp_of(f, port)) {
            let win = match (name, client_shift, server_shift) {
                ("ACK", Some(c), Some(_)) => tx(
                    format!(
                        "{} × 2^{c} = {} (scaled)",
                        h.window,
                        u32::from(h.window) << c
                    ),
                    format!(
                        "{} × 2^{c} = {}（已放大）",
                        h.window,
                        u32::from(h.window) << c
                    ),
                ),
                (_, _, _) => match shift_of(f) {
                    Some(sh) => tx(
                        format!("{} (offers scale {sh})", h.window),
                        format!("{}（提议扩大因子 {sh}）", h.window),
                    ),
                    None => Text::from(h.window.to_string()),
                },
            };
            s = s.fact(
                tx(name, name),
                tx(
                    format!("seq={} ack={} win={}", h.seq, h.ack, win.en),
                    format!("seq={} ack={} win={}", h.seq, h.ack, win.zh),
                ),
            );
            hs.push(json!({"segment": name, "src_port": h.src_port, "dst_port": h.dst_port, "seq": h.seq, "ack": h.ack, "flags": tcpw::flags_text(h.flags), "window": h.window}));
        }
    }
    for f in [syn, synack, ack].into_iter().flatten() {
        s.packets.push(f.record(false));
    }
    let syn_view = s.packets.first().map(Packet::echo);
    if frames.is_empty() {
        s.detail.en.push_str(" (No capture here: capturing needs CAP_NET_RAW; the handshake still happened inside connect().)");
        s.detail
            .zh
            .push_str("（这里无法抓包：抓包需要 CAP_NET_RAW；握手仍然在 connect() 内部完成了。）");
    }
    n.step(s.data("handshake", hs).data("captured", !frames.is_empty()))?;
    if let Some(mut v) = syn_view {
        v.hide = vec!["eth.", "ip."];
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

    let fins: Vec<&Frame> = tcp_frames
        .iter()
        .filter(|f| tcp_of(f, port).is_some_and(|(h, _)| h.flags & 0x01 != 0))
        .copied()
        .collect();
    let mut s = Step::new(
        tx("TCP: the FIN teardown", "TCP：FIN 挥手释放"),
        tx(
            "Each side closes its own direction: FIN, then ACK (the middle two may share a packet).",
            "每一方关闭自己的方向：FIN，然后 ACK（中间两个可以合在一个包里）。",
        ),
        &["Q9", "Q13"],
    )
    .section(section.clone());
    // Everything after the handshake: the 5-byte hello and its ACK, then the FINs.
    let after: Vec<&Frame> = tcp_frames
        .iter()
        .skip_while(|f| ack.is_none_or(|a| !std::ptr::eq(**f, a)))
        .skip(1)
        .copied()
        .collect();
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
    for f in &after {
        s.packets.push(f.record(false));
    }
    n.step(s.data("fin_segments", fins.len()))?;

    let mut s = Step::new(
        tx(
            "UDP: the first packet already carries the data",
            "UDP：第一个包就带着数据",
        ),
        tx(
            "No handshake, no state: sendto() puts the datagram on the wire. That is all.",
            "没有握手，没有连接状态：sendto() 把报文发上线路，仅此而已。",
        ),
        QS,
    )
    .section(section);
    for f in &udp_frames {
        let mut p = f.record(true);
        p.hide = vec!["eth.", "ip."];
        s.packets.push(p);
    }
    n.step(s.data("udp_packets", udp_frames.len()))
}

fn boundaries(env: &Env, n: &mut Narrator) -> Result<()> {
    let section = tx(
        "2 · Boundaries: a byte stream versus messages",
        "2 · 边界：字节流与报文",
    );
    let sends: [&[u8]; 3] = [b"one", b"two", b"three"];
    let cap = env.capture();
    let (mut c, mut s) = tcp_pair(env)?;
    c.set_nodelay(true).map_err(lab_err)?;
    for m in sends {
        c.write_all(m).map_err(lab_err)?;
    }
    std::thread::sleep(Duration::from_millis(50));
    let mut reads = Vec::new();
    let mut buf = [0u8; 1024];
    let total: usize = sends.iter().map(|m| m.len()).sum();
    let mut got = 0;
    while got < total {
        let k = s.read(&mut buf).map_err(lab_err)?;
        if k == 0 {
            break;
        }
        reads.push(String::from_utf8_lossy(&buf[..k]).into_owned());
        got += k;
    }
    let (uc, us, uaddr) = udp_pair(env)?;
    for m in sends {
        uc.send_to(m, uaddr).map_err(lab_err)?;
    }
    std::thread::sleep(Duration::from_millis(50));
    let mut dgrams = Vec::new();
    for _ in 0..3 {
        match us.recv_from(&mut buf) {
            Ok((k, _)) => dgrams.push(String::from_utf8_lossy(&buf[..k]).into_owned()),
            Err(_) => break,
        }
    }
    let sent: Vec<String> = sends
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    drop((c, s));
    std::thread::sleep(Duration::from_millis(20));
    let frames = stop_capture(cap);
    let quoted = |v: &[String]| {
        v.iter()
            .map(|x| format!("\"{x}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut step = Step::new(
            tx(
                format!("Three sends: TCP's reader got {}: {}; UDP's got {}: {}", crate::narrate::plural(reads.len() as u64, "read", "reads"), quoted(&reads), crate::narrate::plural(dgrams.len() as u64, "datagram", "datagrams"), quoted(&dgrams)),
                format!("三次发送：TCP 接收方读了 {} 次：{}；UDP 接收方收到 {} 个报文：{}", reads.len(), quoted(&reads), dgrams.len(), quoted(&dgrams)),
            ),
            tx(
                "TCP carries bytes: the sends left no mark in the stream, so a later reader gets them run together. UDP carries messages: one send(), one recv().",
                "TCP 传送的是字节：几次 send() 在字节流里不留边界，稍晚读取就连在一起。UDP 传送的是报文：一次 send() 对应一次 recv()。",
            ),
            &["Q9", "Q14"],
        )
        .section(section)

        .data("sent", sent)
        .data("tcp_reads", reads)
        .data("udp_datagrams", dgrams);
    step.packets = frames.iter().map(|f| f.record(false)).collect();
    n.step(step)
}

/// The frames a capture saw, or none when there was no capture.
fn stop_capture(cap: Option<Capture>) -> Vec<Frame> {
    cap.and_then(|c| c.stop().ok()).unwrap_or_default()
}

/// Records of a loss phase's frames: a TCP data segment seen before is marked
/// as a retransmission; a UDP datagram whose number never arrived, as lost.
fn loss_records(frames: &[Frame], lost_udp: &[(u16, Vec<u32>)]) -> Vec<Packet> {
    let mut seen: HashSet<(u16, u32)> = HashSet::new();
    frames
        .iter()
        .map(|f| {
            let mut p = f.record(false);
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
    n: &mut Narrator,
    section: &Text,
    cap: Option<Capture>,
    count: u32,
    e: Error,
) -> Result<TcpResult> {
    let frames = stop_capture(cap);
    let syn_times: Vec<std::time::SystemTime> = frames
        .iter()
        .filter(|f| {
            matches!(frame::ethernet_frame(&f.bytes).map(|d| d.kind),
                Ok(Kind::Ipv4 { tcp: Some(h), .. }) if h.flags & 0x12 == 0x02)
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
            tx(
                format!("TCP: no connection: {} sent, none answered in time", crate::narrate::plural(syns as u64, "SYN", "SYNs")),
                format!("TCP：没能建立连接：发出 {syns} 个 SYN，都没有及时得到应答"),
            ),
            tx(
                format!("At this loss the handshake itself failed: the client resent its SYN, each time its retransmission timer ran out (SYNs at {at} s; Linux waits 1 s for the first few, then twice as long each time), until connect() gave up. Without a connection TCP delivers nothing."),
                format!("在这样的丢包率下，握手本身就失败了：每当重传计时器到期，客户端就重发 SYN（SYN 发出于 {at} 秒；Linux 前几次各等 1 秒，之后每次翻倍），直到 connect() 放弃。没有连接，TCP 什么也送不到。"),
            ),
            &["Q9", "Q12"],
        )
        .section(section.clone())
        .data("connect_error", e.to_string())
        .with_packets(loss_records(&frames, &[])),
    )?;
    Ok(TcpResult {
        sent: 2 * count,
        in_order: true,
        retransmits: syns.saturating_sub(1) as u32,
        ..TcpResult::default()
    })
}

/// One TCP direction of the loss test, as a sentence.
fn tcp_dir_text(d: &Delivery, retrans: u32) -> Text {
    let by = d.from;
    if d.complete && d.in_order {
        tx(
            format!(
                "all {}, in order; {by} retransmitted {retrans}",
                d.delivered
            ),
            format!("全部 {} 条，顺序正确；{by} 重传 {retrans} 次", d.delivered),
        )
    } else {
        tx(
            format!(
                "{} of {} so far; {by} retransmitted {retrans}",
                d.delivered, d.sent
            ),
            format!("目前 {}/{} 条；{by} 重传 {retrans} 次", d.delivered, d.sent),
        )
    }
}

fn join<T>(h: std::thread::JoinHandle<std::io::Result<T>>) -> Result<T> {
    h.join()
        .map_err(|_| Error::Internal("a worker thread panicked".into()))?
        .map_err(lab_err)
}

fn reliability(
    env: &Env,
    args: &TcpUdpArgs,
    loss: u8,
    n: &mut Narrator,
) -> Result<(TcpResult, UdpResult)> {
    let section = tx(
        format!("3 · Reliability: {loss}% loss each way"),
        format!("3 · 可靠性：每个方向丢包 {loss}%"),
    );
    let size = usize::from(args.size);
    let count = args.messages;
    let (client, server) = match env {
        Env::Lab(_) => ("h1", "h2"),
        Env::Loopback => ("client", "server"),
    };
    if let Env::Lab(lab) = env {
        for (host, iface) in LINK_ENDS {
            link::segment_by_segment(lab.host(host)?, iface)?;
        }
        for host in ["h1", "h2"] {
            link::drop_incoming_transport(lab.host(host)?, loss)?;
        }
    }
    n.step(
        Step::new(
            tx(
                format!("The link now drops {loss}% of TCP and UDP packets in each direction"),
                format!("链路现在在每个方向丢弃 {loss}% 的 TCP 和 UDP 包"),
            ),
            tx(
                format!("Each way, {count} numbered {size}-byte messages every 2 ms: data and ACKs get lost."),
                format!("两个方向同时各发 {count} 条 {size} 字节的编号消息，每 2 ms 一条：数据和确认都会丢。"),
            ),
            QS,
        )
        .section(section.clone())
        .data("messages_each_way", count)
        .data("size", size),
    )?;

    // TCP: one connection, both directions at once (it is full duplex).
    let cap = env.capture();
    let tcp = match tcp_pair(env) {
        Err(e) => unconnected(n, &section, cap, count, e)?,
        Ok((c, s)) => {
            c.set_nodelay(true).map_err(lab_err)?;
            s.set_nodelay(true).map_err(lab_err)?;
            let (c_r, s_r) = (
                c.try_clone().map_err(lab_err)?,
                s.try_clone().map_err(lab_err)?,
            );
            let start = Instant::now();
            let up = std::thread::spawn(move || tcp_send(c, count, size));
            let down = std::thread::spawn(move || tcp_send(s, count, size));
            let at_server = std::thread::spawn(move || tcp_receive(s_r));
            let at_client = tcp_receive(c_r).map_err(lab_err)?;
            let at_server = join(at_server)?;
            let tcp_elapsed = start.elapsed();
            let (c, s) = (join(up)?, join(down)?);
            let (ic, is) = (
                tcp_info(&c).map_err(lab_err)?,
                tcp_info(&s).map_err(lab_err)?,
            );
            drop((c, s));
            std::thread::sleep(Duration::from_millis(20));
            let tcp_frames = stop_capture(cap);
            let dirs = [
                Delivery::tcp(client, server, &at_server, count, size),
                Delivery::tcp(server, client, &at_client, count, size),
            ];
            let delivered: u32 = dirs.iter().map(|d| d.delivered).sum();
            let in_order = dirs.iter().all(|d| d.in_order);
            let complete = dirs.iter().all(|d| d.complete);
            let retrans = ic.total_retrans + is.total_retrans;
            let tcp = TcpResult {
                sent: 2 * count,
                delivered,
                in_order,
                complete,
                connected: true,
                retransmits: retrans,
                data_segments: Some(ic.data_segs_out + is.data_segs_out),
                elapsed_ms: Some(tcp_elapsed.as_millis() as u64),
                directions: dirs.to_vec(),
                bytes_per_s: 0.0,
            };
            n.step(
        Step::new(
            if complete && in_order {
                tx(
                    format!("TCP: all {delivered} delivered in order, {retrans} segments resent, {} ms", tcp_elapsed.as_millis()),
                    format!("TCP：{delivered} 条全部按序送达，重传 {retrans} 个报文段，{} ms", tcp_elapsed.as_millis()),
                )
            } else {
                tx(
                    format!("TCP: {delivered} of {} messages delivered in {} ms; {retrans} segments resent", 2 * count, tcp_elapsed.as_millis()),
                    format!("TCP：{} ms 内送达 {delivered}/{} 条消息；重传 {retrans} 个报文段", tcp_elapsed.as_millis(), 2 * count),
                )
            },
            if complete && in_order {
                tx(
                    "Each lost segment was noticed (no ACK in time, or duplicate ACKs) and sent again; early data waited for the gap to fill. The price is time.",
                    "每个丢失的报文段都被发现（超时未确认或重复确认）并重传；提前到达的数据等空缺补上。代价是时间。",
                )
            } else {
                tx(
                    "TCP had not finished when the phase's time ran out: at this loss every repair waits for a retransmission timer that doubles each time. What did arrive arrived in order, with nothing missing before it; the rest was still being retried.",
                    "时限到时 TCP 还没有传完：在这样的丢包率下，每次修补都要等一个每次翻倍的重传计时器。已经到达的数据顺序正确，前面没有缺口；其余的仍在重试。",
                )
            },
            &["Q9", "Q12"],
        )
        .section(section.clone())
        .fact(Text::from(format!("{client} → {server}")), tcp_dir_text(&dirs[0], ic.total_retrans))
        .fact(Text::from(format!("{server} → {client}")), tcp_dir_text(&dirs[1], is.total_retrans))
        .data("tcp", serde_json::to_value(&tcp).unwrap_or_default())
        .with_packets(loss_records(&tcp_frames, &[])),
    )?;

            tcp
        }
    };

    // UDP: both sockets send and receive at once.
    let cap = env.capture();
    let (uc, us, uaddr) = udp_pair(env)?;
    let client_ip = match env {
        Env::Lab(_) => crate::lab::topology::H1,
        Env::Loopback => Ipv4Addr::LOCALHOST,
    };
    let caddr = SocketAddr::from((client_ip, uc.local_addr().map_err(lab_err)?.port()));
    let (uc_r, us_r) = (
        uc.try_clone().map_err(lab_err)?,
        us.try_clone().map_err(lab_err)?,
    );
    let (up_done, down_done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (u1, d1) = (up_done.clone(), down_done.clone());
    let up = std::thread::spawn(move || {
        let r = udp_send(uc, uaddr, count, size);
        u1.store(true, Ordering::Relaxed);
        r
    });
    let down = std::thread::spawn(move || {
        let r = udp_send(us, caddr, count, size);
        d1.store(true, Ordering::Relaxed);
        r
    });
    let at_server = std::thread::spawn(move || udp_receive(us_r, &up_done));
    let at_client = udp_receive(uc_r, &down_done).map_err(lab_err)?;
    let at_server = join(at_server)?;
    join(up)?;
    join(down)?;
    let dirs = [
        Delivery::udp(client, server, &at_server, count),
        Delivery::udp(server, client, &at_client, count),
    ];
    std::thread::sleep(Duration::from_millis(20));
    let udp_frames = stop_capture(cap);
    let lost_by_port = [
        (caddr.port(), dirs[0].lost.clone()),
        (uaddr.port(), dirs[1].lost.clone()),
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
    let shown = |d: &Delivery| -> Text {
        if d.lost.is_empty() {
            tx("none lost", "没有丢失")
        } else {
            let v: Vec<String> = d.lost.iter().take(10).map(|q| q.to_string()).collect();
            let more = if d.lost.len() > 10 { ", …" } else { "" };
            tx(
                format!("{} lost: {}{more}", d.lost.len(), v.join(", ")),
                format!("丢失 {} 条：{}{more}", d.lost.len(), v.join(", ")),
            )
        }
    };
    n.step(
        Step::new(
            tx(
                format!("UDP: {delivered}/{} delivered, {lost} lost, {reordered} out of order", 2 * count),
                format!("UDP：送达 {delivered}/{}，丢失 {lost}，乱序 {reordered}", 2 * count),
            ),
            tx(
                "Nobody noticed, nobody resent: a lost datagram is gone. An application that needs more must number, acknowledge and resend itself (QUIC does, over UDP).",
                "没人察觉，也没人重发：丢失的报文就没了。需要更多保证的应用只能自己编号、确认、重传（QUIC 就在 UDP 上这样做）。",
            ),
            &["Q9", "Q12"],
        )
        .section(section)
        .fact(Text::from(format!("{client} → {server}")), shown(&dirs[0]))
        .fact(Text::from(format!("{server} → {client}")), shown(&dirs[1]))
        .data("udp", serde_json::to_value(&udp).unwrap_or_default())
        .with_packets(loss_records(&udp_frames, &lost_by_port)),
    )?;
    if let Env::Lab(lab) = env {
        for host in ["h1", "h2"] {
            link::clear(lab.host(host)?)?;
        }
        for (host, iface) in LINK_ENDS {
            link::restore_segmentation(lab.host(host)?, iface)?;
        }
    }
    Ok((tcp, udp))
}

/// Bytes kept of each frame captured in the throughput phase: Ethernet, IPv4
/// and TCP with its options, and the first bytes of payload.
const SNAP: usize = 128;

fn cost(env: &Env, args: &TcpUdpArgs, n: &mut Narrator) -> Result<Cost> {
    let section = tx(
        "4 · Cost: throughput and round trips on the same link",
        "4 · 代价：同一链路上的吞吐量与往返时间",
    );
    let total = u64::from(args.bulk) * 1024 * 1024;
    // The phase's frames are captured when a file will hold them (--pcap,
    // --html): headers only, as `tcpdump -s 128` would, since the payload is
    // megabytes of filler. Capturing costs time, so the numbers say so.
    let cap = match env {
        Env::Lab(lab) if n.keeps_files() => {
            Some(Capture::start_snap(lab.host("h1")?, "eth0", SNAP)?)
        }
        _ => None,
    };
    // TCP bulk
    let (mut c, mut s) = tcp_pair(env)?;
    let start = Instant::now();
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let chunk = vec![0x5au8; 128 * 1024];
        let mut left = total;
        while left > 0 {
            let k = left.min(chunk.len() as u64) as usize;
            c.write_all(&chunk[..k])?;
            left -= k as u64;
        }
        c.shutdown(Shutdown::Write)
    });
    let mut buf = vec![0u8; 128 * 1024];
    let mut got = 0u64;
    while let Ok(k) = s.read(&mut buf) {
        if k == 0 || start.elapsed() > PHASE_LIMIT {
            break;
        }
        got += k as u64;
    }
    let tcp_time = start.elapsed().as_secs_f64();
    writer
        .join()
        .map_err(|_| Error::Internal("writer panicked".into()))?
        .map_err(lab_err)?;
    let tcp_bps = got as f64 / tcp_time;

    // UDP bulk: as fast as the sender can; whatever the receiver keeps up with.
    let (uc, us, uaddr) = udp_pair(env)?;
    us.set_read_timeout(Some(Duration::from_millis(300)))
        .map_err(lab_err)?;
    let dsize = 1400usize;
    let count = total.div_ceil(dsize as u64);
    let start = Instant::now();
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        let d = vec![0x5au8; dsize];
        for _ in 0..count {
            // A full socket buffer is loss too: keep going, as UDP does.
            let _ = uc.send_to(&d, uaddr);
        }
        Ok(())
    });
    let mut ubuf = vec![0u8; 2048];
    let mut ugot = 0u64;
    let mut last = start;
    while let Ok((k, _)) = us.recv_from(&mut ubuf) {
        ugot += k as u64;
        last = Instant::now();
        if start.elapsed() > PHASE_LIMIT {
            break;
        }
    }
    sender
        .join()
        .map_err(|_| Error::Internal("sender panicked".into()))?
        .map_err(lab_err)?;
    let udp_time = last.duration_since(start).as_secs_f64().max(1e-6);
    let udp_bps = ugot as f64 / udp_time;
    let udp_loss = 100.0 * (1.0 - ugot as f64 / (count * dsize as u64) as f64);

    // Round trips
    let rounds = 200u32;
    let (mut c, mut s) = tcp_pair(env)?;
    c.set_nodelay(true).map_err(lab_err)?;
    s.set_nodelay(true).map_err(lab_err)?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let mut b = [0u8; 64];
        for _ in 0..rounds {
            s.read_exact(&mut b)?;
            s.write_all(&b)?;
        }
        Ok(())
    });
    let t = Instant::now();
    let mut b = [7u8; 64];
    for _ in 0..rounds {
        c.write_all(&b).map_err(lab_err)?;
        c.read_exact(&mut b).map_err(lab_err)?;
    }
    let tcp_rtt = t.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
    echo.join()
        .map_err(|_| Error::Internal("echo panicked".into()))?
        .map_err(lab_err)?;
    let (uc, us, uaddr) = udp_pair(env)?;
    uc.set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(lab_err)?;
    let echo = std::thread::spawn(move || {
        let mut b = [0u8; 64];
        for _ in 0..rounds {
            match us.recv_from(&mut b) {
                Ok((k, from)) => {
                    let _ = us.send_to(&b[..k], from);
                }
                Err(_) => return,
            }
        }
    });
    let t = Instant::now();
    let mut answered = 0u32;
    for _ in 0..rounds {
        uc.send_to(&b, uaddr).map_err(lab_err)?;
        if uc.recv_from(&mut b).is_ok() {
            answered += 1;
        }
    }
    let udp_rtt = t.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
    let _ = echo.join();
    let mb = |bps: f64| format!("{:.0} MB/s", bps / 1e6);
    let (frames, missed) = match cap {
        Some(c) => c.stop_counted()?,
        None => (Vec::new(), 0),
    };
    let captured = !frames.is_empty();
    if captured {
        n.pcap_note(format!(
            "tcp-vs-udp: the throughput phase's frames keep their first {SNAP} bytes (headers; the payload is filler){}",
            if missed > 0 {
                format!("; the capture could not keep up and the kernel dropped {missed} of them")
            } else {
                String::new()
            }
        ));
    }
    let mut detail = cost_text(tcp_bps >= udp_bps * 0.8, udp_loss);
    if captured {
        detail
            .en
            .push_str(" (Measured while capturing, which slows both.)");
        detail.zh.push_str("（边抓包边测，两者都会变慢。）");
    }
    n.step(
        Step::new(
            tx(
                format!("Throughput: TCP {}, UDP {} ({udp_loss:.0}% of datagrams lost); round trip: TCP {tcp_rtt:.0} µs, UDP {udp_rtt:.0} µs", mb(tcp_bps), mb(udp_bps)),
                format!("吞吐量：TCP {}，UDP {}（丢失 {udp_loss:.0}% 的报文）；往返：TCP {tcp_rtt:.0} µs，UDP {udp_rtt:.0} µs", mb(tcp_bps), mb(udp_bps)),
            ),
            detail,
            &["Q9"],
        )
        .section(section)
        .correction(if tcp_bps >= udp_bps * 0.8 {
            tx(
                "the notes call TCP slow and UDP fast; on one link, bulk TCP kept up, and UDP paid for its speed in lost datagrams.",
                "笔记认为 TCP 慢、UDP 快；同一链路上实测，大批量传输时 TCP 并不落后，UDP 的快是用丢失的报文换来的。",
            )
        } else {
            tx(
                "the notes call TCP slow and UDP fast; UDP did move more here, but only by ignoring loss and congestion.",
                "笔记认为 TCP 慢、UDP 快；这里 UDP 确实传得多，但那是因为它不管丢包和拥塞。",
            )
        })
        .data("tcp_bytes_per_s", tcp_bps.round())
        .data("udp_bytes_per_s", udp_bps.round())
        .data("udp_bulk_lost_percent", (udp_loss * 10.0).round() / 10.0)
        .data("tcp_round_trip_us", tcp_rtt.round())
        .data("udp_round_trip_us", udp_rtt.round())
        .data("udp_round_trips_answered", answered)
        .data("captured", captured)
        .data("capture_missed", missed)
        .with_packets(frames.iter().map(|f| f.record(false)).collect()),
    )?;
    Ok(Cost {
        tcp_bytes_per_s: tcp_bps.round(),
        udp_bytes_per_s: udp_bps.round(),
        udp_bulk_lost_percent: (udp_loss * 10.0).round() / 10.0,
    })
}

/// What the cost figures teach, following what was measured.
fn cost_text(tcp_kept_up: bool, udp_loss: f64) -> Text {
    let (a_en, a_zh) = if tcp_kept_up {
        (
            "Bulk TCP fills the link, sparing the receiver.",
            "大批量的 TCP 占满链路；流量控制照顾接收方。",
        )
    } else {
        (
            "Here UDP moved data faster than TCP: it skips acknowledgements and congestion control, which is exactly what makes it unsafe on a busy network.",
            "这里 UDP 传得比 TCP 快：它省掉了确认和拥塞控制，而这正是它在繁忙网络上不安全的原因。",
        )
    };
    let (b_en, b_zh) = if udp_loss > 0.5 {
        (
            format!(" UDP, with no flow control, lost {udp_loss:.0}%."),
            format!("UDP 没有流量控制：发送方跑在接收方前面，丢了 {udp_loss:.0}%。"),
        )
    } else {
        (
            " UDP, with no flow control, can lose datagrams (none this time).".to_string(),
            "UDP 没有流量控制：发送方比接收方快时就会丢报文（这次没有）。".to_string(),
        )
    };
    tx(
        format!("No loss now. {a_en}{b_en}"),
        format!("现在没有丢包。{a_zh}{b_zh}"),
    )
}

fn broadcast(lab: &NetLab, n: &mut Narrator) -> Result<()> {
    let section = tx("5 · One-to-many: broadcast", "5 · 一对多：广播");
    let port = 9999u16;
    let mut receivers = Vec::new();
    for host in ["h2", "r1", "h3"] {
        let s = lab
            .host(host)?
            .run(move || UdpSocket::bind(("0.0.0.0", port)))?
            .map_err(lab_err)?;
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .map_err(lab_err)?;
        receivers.push((host, s));
    }
    let h1 = lab.host("h1")?;
    let caps = [
        Capture::start(h1, "eth0")?,
        Capture::start(lab.host("h3")?, "eth0")?,
    ];
    let bcast = Ipv4Addr::new(198, 51, 100, 255);
    h1.run(move || -> std::io::Result<()> {
        let s = UdpSocket::bind("0.0.0.0:0")?;
        s.set_broadcast(true)?;
        s.send_to(b"hello, LAN A", (bcast, port))?;
        Ok(())
    })?
    .map_err(lab_err)?;
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    for (host, s) in &receivers {
        let ok = s.recv_from(&mut buf).is_ok();
        got.push(json!({"host": host, "received": ok}));
    }
    let tcp_err = h1
        .run(move || {
            TcpStream::connect_timeout(&SocketAddr::from((bcast, port)), Duration::from_millis(500))
        })?
        .err()
        .map(|e| crate::error::os_error_text(&e))
        .unwrap_or_else(|| tx("connected (unexpected)", "竟然连上了（出乎意料）"));
    let reached: Vec<&str> = got
        .iter()
        .filter(|g| g["received"] == true)
        .filter_map(|g| g["host"].as_str())
        .collect();
    let mut frames: Vec<Frame> = Vec::new();
    for c in caps {
        frames.extend(c.stop()?);
    }
    frames.sort_by_key(|f| f.at);
    n.step(
        Step::new(
            tx(
                format!("Broadcast: UDP reached {}; TCP: {}", reached.join(" and "), without_errno(&tcp_err.en)),
                format!("广播：UDP 到达了 {}；TCP：{}", reached.join(" 和 "), without_errno(&tcp_err.zh)),
            ),
            tx(
                "One send to 198.51.100.255 reaches every host on the LAN but stops at the router: h3 heard nothing. A TCP connection has two ends only; the kernel refuses.",
                "发往 198.51.100.255 的一次发送到达局域网里的每台主机，但止于路由器：h3 什么也没收到。TCP 连接只有两个端点，所以内核拒绝。",
            ),
            &["Q9"],
        )
        .section(section)
        .data("broadcast", got)
        .data("tcp_error", tcp_err.en)
        .with_packets(frames.iter().map(|f| f.record(false)).collect()),
    )
}

/// An OS error's text without its "(os error N)" tail, for a title.
fn without_errno(text: &str) -> &str {
    let cut = [" (os error", "（系统错误"]
        .iter()
        .filter_map(|m| text.find(m))
        .min()
        .unwrap_or(text.len());
    text[..cut].trim_end()
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
        tx("Well-known ports, as this machine's /etc/services names them", "知名端口：本机 /etc/services 中的名字"),
        tx(
            "A port tells the receiving host which program the data is for; IANA assigns the well-known ones. In `quotes`: /etc/services' own name where it differs.",
            "端口告诉接收主机数据交给哪个程序；知名端口由 IANA 分配。反引号里是 /etc/services 中不同的名字。",
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
            let (e, z) = match (&found, services.is_some()) {
                (Some(n), _) if n.eq_ignore_ascii_case(name) => {
                    (format!("{name} {port}"), format!("{name} {port}"))
                }
                (Some(n), _) => (
                    format!("{name} {port} `{n}`"),
                    format!("{name} {port} `{n}`"),
                ),
                (None, true) => (
                    format!("{name} {port} (not listed)"),
                    format!("{name} {port}（未列出）"),
                ),
                (None, false) => (
                    format!("{name} {port} (no /etc/services)"),
                    format!("{name} {port}（本机没有 /etc/services）"),
                ),
            };
            en.push(e);
            zh.push(z);
            rows.push(
                json!({"notes": name, "port": port, "transport": proto, "services_name": found}),
            );
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
    n.step(
        s.data("ports", rows)
            .data("services_file", services.is_some())
            .data("icmp_protocols_line", icmp_line),
    )
}
