//! `netlab dns-trace NAME`: the DNS workflow of Q4, stage by stage.
//!
//! 1. the hosts file;
//! 2. the stub resolver and its cache;
//! 3. the local recursive server asked twice (the cache, seen as a falling TTL);
//! 4. the iterative walk from the root that the recursive server did on its
//!    miss, every query and reply shown with its bytes.
//!
//! By default everything runs against the built-in lab on loopback; `--live`
//! walks the real Internet.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::{RData, Record, RecordType};
use serde_json::{json, Value};

use crate::cli::{DnsTraceArgs, QType};
use crate::dns::client::{build_query, exchange, Exchange, Failure, Transport};
use crate::dns::name::{self, CheckedName};
use crate::dns::walk::{self, cname_target, Config, Event, Server, Status, Verdict};
use crate::error::{exit, Error, Result};
use crate::lab::capture::Capture;
use crate::lab::dns::DnsLab;
use crate::lab::zones::ZoneSet;
use crate::narrate::{tx, Direction, Narrator, Packet, Step, Summary, Text, Wire};
use crate::wire;

/// IANA's root servers (IPv4), for `--live`.
pub const IANA_ROOTS: [(&str, &str); 13] = [
    ("a.root-servers.net.", "198.41.0.4"),
    ("b.root-servers.net.", "170.247.170.2"),
    ("c.root-servers.net.", "192.33.4.12"),
    ("d.root-servers.net.", "199.7.91.13"),
    ("e.root-servers.net.", "192.203.230.10"),
    ("f.root-servers.net.", "192.5.5.241"),
    ("g.root-servers.net.", "192.112.36.4"),
    ("h.root-servers.net.", "198.97.190.53"),
    ("i.root-servers.net.", "192.36.148.17"),
    ("j.root-servers.net.", "192.58.128.30"),
    ("k.root-servers.net.", "193.0.14.129"),
    ("l.root-servers.net.", "199.7.83.42"),
    ("m.root-servers.net.", "202.12.27.33"),
];

fn record_type(t: QType) -> RecordType {
    match t {
        QType::A => RecordType::A,
        QType::Aaaa => RecordType::AAAA,
        QType::Cname => RecordType::CNAME,
        QType::Mx => RecordType::MX,
        QType::Ns => RecordType::NS,
        QType::Txt => RecordType::TXT,
    }
}

/// Where the walk starts and who plays the local recursive server.
enum Mode {
    /// The built-in lab (or `--lab-zones`).
    Lab(DnsLab),
    /// `--root-servers` without `--live`: an instructor's hierarchy on this machine.
    Custom(Vec<Server>, u16),
    /// `--live`: the real Internet.
    Live(Vec<Server>, u16, Option<SocketAddr>),
}

/// Decide what to do from the arguments; nothing is sent yet.
fn plan(args: &DnsTraceArgs, port_53: bool) -> Result<(CheckedName, Mode)> {
    let name = name::check(&args.name)?;
    if let Some(h) = &args.hosts {
        // Any readable file will do (/dev/null is an empty hosts file); a folder will not.
        match std::fs::metadata(h) {
            Ok(m) if m.is_dir() => {
                return Err(Error::usage(tx(
                    format!("--hosts {}: a folder; give a file in hosts format (the default is /etc/hosts)", h.display()),
                    format!("--hosts {}：这是一个目录；请给一个 hosts 格式的文件（默认是 /etc/hosts）", h.display()),
                )))
            }
            Ok(_) => {}
            Err(_) => {
                return Err(Error::usage(tx(
                format!("--hosts {}: no such file; give a file in hosts format (the default is /etc/hosts)", h.display()),
                format!("--hosts {}：没有这个文件；请给一个 hosts 格式的文件（默认是 /etc/hosts）", h.display()),
            )))
            }
        }
    }
    let mode = if args.live {
        let (roots, port) = match &args.root_servers {
            Some(r) => (r.addrs.iter().copied().map(Server::at).collect(), r.port),
            None => (
                IANA_ROOTS
                    .iter()
                    .map(|(n, a)| Server {
                        name: hickory_proto::rr::Name::from_ascii(n).ok(),
                        addr: SocketAddr::new(a.parse().expect("literal"), 53),
                    })
                    .collect(),
                53,
            ),
        };
        Mode::Live(
            roots,
            port,
            crate::host::system_nameservers()
                .first()
                .map(|ip| SocketAddr::new(*ip, 53)),
        )
    } else if let Some(r) = &args.root_servers {
        if let Some(a) = r.addrs.iter().find(|a| !a.ip().is_loopback()) {
            return Err(Error::usage(tx(
                format!("--root-servers {a} is off this machine; add --live to send packets beyond loopback"),
                format!("--root-servers {a} 不在本机；要把包发到回环之外，请加 --live"),
            )));
        }
        Mode::Custom(r.addrs.iter().copied().map(Server::at).collect(), r.port)
    } else {
        let zones = match &args.lab_zones {
            Some(dir) => ZoneSet::from_dir(dir)?,
            None => ZoneSet::builtin()?,
        };
        // For a capture, port 53 lets Wireshark decode DNS by itself; it needs root
        // and a free port, else any free port (and the capture's comment says which).
        let lab = if port_53 {
            DnsLab::start(&zones, 53, true).or_else(|_| DnsLab::start(&zones, 0, true))?
        } else {
            DnsLab::start(&zones, 0, true)?
        };
        Mode::Lab(lab)
    };
    Ok((name, mode))
}

/// The bytes of one DNS message as a capture file holds them: an IPv4 packet
/// with UDP, or TCP with the 2-byte length, around the exact message; the IP and
/// UDP/TCP headers are rebuilt from the socket addresses (netlab saw the message
/// at its socket, not on a link).
fn wire(ex: &Exchange, reply: bool, lo: Option<&Capture>) -> Option<Wire> {
    let local = ex.source()?;
    let (from, to, payload) = if reply {
        (ex.server, local, ex.reply_bytes.as_deref()?)
    } else {
        (local, ex.server, &ex.query_bytes[..])
    };
    // Over UDP, the real frame from the loopback capture when there is one.
    if let (Some(cap), Transport::Udp) = (lo, ex.transport) {
        let frame = cap.find(Duration::from_millis(200), |f| {
            udp_frame_carries(&f.bytes, from.port(), to.port(), payload)
        });
        if let Some(f) = frame {
            return Some(Wire::frame("lo", &f.bytes));
        }
    }
    let bytes = match ex.transport {
        Transport::Udp => crate::pcap::udp_packet(from, to, payload)?,
        Transport::Tcp => {
            let mut framed = (payload.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(payload);
            // Sequence numbers are netlab's: the query is byte 1, the reply answers it.
            let q = ex.query_bytes.len() as u32 + 2;
            let (seq, ack) = if reply { (1, 1 + q) } else { (1, 1) };
            crate::pcap::tcp_packet(from, to, seq, ack, &framed)?
        }
    };
    Some(Wire {
        link: "netlab DNS sockets".into(),
        ethernet: false,
        bytes,
        rebuilt: true,
        original_len: None,
    })
}

/// Whether an Ethernet + IPv4 frame is a UDP datagram between these ports carrying `payload`.
fn udp_frame_carries(frame: &[u8], sport: u16, dport: u16, payload: &[u8]) -> bool {
    let Some((17, udp)) = crate::wire::frame::transport(frame) else {
        return false;
    };
    let port = |at: usize| {
        udp.get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    port(0) == Some(sport) && port(2) == Some(dport) && udp.get(8..) == Some(payload)
}

/// Run the demo; returns the exit code.
pub fn run(args: &DnsTraceArgs, n: &mut Narrator) -> Result<i32> {
    let started = Instant::now();
    let (name, mode) = plan(args, n.capturing())?;
    // With --pcap and CAP_NET_RAW, loopback is captured so the file holds real frames.
    let lo = if n.capturing() && crate::privilege::Privileges::probe().net_raw {
        Capture::start_here("lo").ok()
    } else {
        None
    };
    if n.capturing() {
        let port = match &mode {
            Mode::Lab(lab) => lab.port,
            Mode::Custom(_, p) | Mode::Live(_, p, _) => *p,
        };
        if crate::lab::userns::in_private_net() {
            n.pcap_note("Without root, the lab ran in a network namespace of netlab's own (inside a user namespace), where it could listen on port 53 and capture its loopback.");
        }
        if lo.is_some() {
            n.pcap_note("Every frame is real, captured on loopback: DNS over UDP, and DNS over TCP with its handshake, ACKs and FINs.");
        } else {
            n.pcap_note("DNS messages exactly as netlab sent and received them at its sockets (capturing loopback needs CAP_NET_RAW); their IPv4 and UDP/TCP headers are rebuilt from the socket addresses, and DNS over TCP is shown without its handshake.");
        }
        if port != 53 {
            n.pcap_note(format!("The DNS servers listened on port {port}: open with `wireshark -d udp.port=={port},dns -d tcp.port=={port},dns` (tshark: the same -d) to decode them as DNS."));
        }
    }
    let wire_wanted = n.capturing();
    let qtype = record_type(args.qtype);
    let (roots, port, recursive, loopback_only) = match &mode {
        Mode::Lab(lab) => (lab.roots.clone(), lab.port, lab.resolver, true),
        Mode::Custom(r, p) => (r.clone(), *p, None, true),
        Mode::Live(r, p, sys) => (r.clone(), *p, *sys, false),
    };
    intro(n, &name, qtype, &mode)?;
    let mut shown: HashSet<&'static str> = HashSet::new();
    if !args.walk_only {
        stage_hosts(n, &name, args.hosts.as_deref())?;
        stage_stub(n, &mode)?;
        if let Some(server) = recursive {
            let fresh = matches!(mode, Mode::Lab(_));
            stage_recursive(n, &name, qtype, server, args.timeout, fresh, lo.as_ref())?;
        }
    }
    let cfg = Config {
        roots,
        port,
        timeout: args.timeout,
        deadline: started + args.deadline,
        max_referrals: 16,
        max_cnames: 8,
        loopback_only,
    };
    let mut out_err: Option<Error> = None;
    let outcome = {
        let mut observe = |ev: Event<'_>| {
            if out_err.is_some() {
                return;
            }
            for step in walk_step(ev, qtype, &mut shown, wire_wanted, lo.as_ref()) {
                if let Err(e) = n.step(step) {
                    out_err = Some(e);
                    break;
                }
            }
        };
        walk::walk(&cfg, &name.name, qtype, &mut observe)
    };
    if let Some(e) = out_err {
        return Err(e);
    }
    let elapsed = started.elapsed();
    n.summary(summary(&name, qtype, &outcome, elapsed))?;
    drop(mode);
    Ok(match outcome.status {
        Status::Answer => exit::OK,
        _ => exit::NETWORK_NO,
    })
}

fn section(stage: u8) -> Text {
    match stage {
        0 => tx("The question", "问题"),
        1 => tx("Stage 1 · the hosts file", "阶段 1 · hosts 文件"),
        2 => tx(
            "Stage 2 · the stub resolver and its cache",
            "阶段 2 · 存根解析器及其缓存",
        ),
        3 => tx(
            "Stage 3 · the local recursive server (RD=1)",
            "阶段 3 · 本地递归服务器（RD=1）",
        ),
        _ => tx(
            "Stage 4 · the iterative walk: root → TLD → authoritative",
            "阶段 4 · 迭代查询：根 → 顶级域 → 权威",
        ),
    }
}

fn intro(n: &mut Narrator, name: &CheckedName, qtype: RecordType, mode: &Mode) -> Result<()> {
    let (where_en, where_zh, servers) = match mode {
        Mode::Lab(lab) => (
            format!(
                "the built-in lab: {} DNS servers on 127.53.0.0/16 port {}, started for this run. Nothing leaves this machine.",
                lab.servers.len(),
                lab.port
            ),
            format!(
                "内置实验网络：本次运行在 127.53.0.0/16 的 {} 端口上启动了 {} 台真实的 DNS 服务器，数据包不会离开本机。",
                lab.port,
                lab.servers.len()
            ),
            lab.servers
                .iter()
                .map(|s| {
                    let zones: Vec<String> = s.zones.iter().map(|z| z.to_string()).collect();
                    format!("{}  {}{}", s.addr, zones.join(" "), s.note())
                })
                .collect::<Vec<_>>(),
        ),
        Mode::Custom(r, _) => (
            "the servers given with --root-servers, on this machine.".to_string(),
            "--root-servers 指定的本机服务器。".to_string(),
            r.iter().map(|s| s.addr.to_string()).collect(),
        ),
        Mode::Live(..) => (
            "the real Internet (--live), starting at IANA's root servers.".to_string(),
            "真实的互联网（--live），从 IANA 的根服务器开始。".to_string(),
            vec![],
        ),
    };
    let mut step = Step::new(
        tx(
            format!("Look up {} {qtype}", name.ascii),
            format!("查询 {} 的 {qtype} 记录", name.ascii),
        ),
        tx(
            format!("Real packets, against {where_en}"),
            format!("全是真实的数据包，对象是{where_zh}"),
        ),
        &["Q4", "Q27", "Q35"],
    )
    .data("name", name.ascii.clone())
    .data("type", qtype.to_string());
    if name.converted {
        step = step
            .fact(tx("typed", "输入"), name.input.clone())
            .fact(
                tx("punycode (IDNA)", "punycode（IDNA）"),
                name.ascii.clone(),
            )
            .data(
                "punycode",
                json!({"input": name.input, "ascii": name.ascii}),
            );
        step.detail.en.push_str(
            "\nDNS carries only ASCII labels, so the internationalised name was converted to punycode (IDNA) first.",
        );
        step.detail
            .zh
            .push_str("\nDNS 报文里只能放 ASCII 标签，所以中文域名先按 IDNA 转换成 punycode。");
    }
    n.step(step.data("servers", servers))
}

/// A server as `name (address)`, without the port (the intro names the one port).
fn short_label(s: &Server) -> String {
    match &s.name {
        Some(n) => format!("{n} {}", s.addr.ip()),
        None => s.addr.ip().to_string(),
    }
}

fn stage_hosts(n: &mut Narrator, name: &CheckedName, hosts: Option<&Path>) -> Result<()> {
    let path: PathBuf = hosts
        .map(Path::to_path_buf)
        .unwrap_or_else(|| "/etc/hosts".into());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if hosts.is_none() => {
            return n.step(
                Step::new(
                    tx("No hosts file to read", "没有可读的 hosts 文件"),
                    tx(
                        format!(
                            "{} could not be read ({e}); the lookup goes straight to DNS.",
                            path.display()
                        ),
                        format!("无法读取 {}（{e}），查询直接交给 DNS。", path.display()),
                    ),
                    &["Q4", "Q28"],
                )
                .section(section(1))
                .data("file", path.display().to_string())
                .data("matches", json!([])),
            )
        }
        Err(source) => return Err(Error::Read { path, source }),
    };
    let found = crate::host::hosts_matches(&text, &name.ascii);
    let nsswitch = crate::host::nsswitch_hosts();
    let mut step = if let Some(crate::host::HostsLine {
        line: line_no,
        text: line,
        address: ip,
    }) = found.first()
    {
        Step::new(
            tx(
                format!("{} line {line_no} maps the name to {ip}", path.display()),
                format!("{} 第 {line_no} 行把这个名字映射到 {ip}", path.display()),
            ),
            tx(
                "With `files` first in nsswitch.conf, a match here ends the lookup: no packet is sent. netlab goes on anyway, to show what DNS would answer.",
                "nsswitch.conf 里 files 排在前面时，在这里匹配就结束查询，不发任何数据包。netlab 仍然继续，演示 DNS 会怎样回答。",
            ),
            &["Q4", "Q28"],
        )
        .fact(tx("line", "行"), line.clone())
    } else {
        Step::new(
            tx(
                format!("{} has no line for this name", path.display()),
                format!("{} 里没有这个名字", path.display()),
            ),
            tx(
                "No match, so the lookup moves on to DNS. A line `IP NAME` added here (as root) would override DNS for this machine only.",
                "没有匹配，查询转向 DNS。以 root 身份在这里加一行「IP 名字」，就能只在本机覆盖 DNS 的结果。",
            ),
            &["Q4", "Q28"],
        )
    };
    step = step.section(section(1));
    if let Some(l) = &nsswitch {
        step = step.fact(tx("nsswitch.conf", "nsswitch.conf"), format!("`{l}`"));
    }
    n.step(
        step.correction(tx(
            "the notes have hosts always checked first; nsswitch.conf's `hosts:` line sets the order.",
            "笔记认为总是先查 hosts；实际顺序由 nsswitch.conf 的 hosts: 行决定。",
        ))
        .data("file", path.display().to_string())
        .data("matches", serde_json::to_value(&found).unwrap_or_default())
        .data("nsswitch", nsswitch.map(Value::from).unwrap_or(Value::Null)),
    )
}

fn stage_stub(n: &mut Narrator, mode: &Mode) -> Result<()> {
    let system = crate::host::system_nameservers();
    let cache_en;
    let cache_zh;
    if system.iter().any(|ip| *ip == IpAddr::from([127, 0, 0, 53])) {
        cache_en = "127.0.0.53 is systemd-resolved, a caching stub: a repeat lookup is answered from its cache.";
        cache_zh = "127.0.0.53 是 systemd-resolved，一个带缓存的存根：重复查询由它的缓存回答。";
    } else if Path::new("/var/run/nscd/socket").exists() {
        cache_en = "nscd runs here: it caches host lookups for the resolver library.";
        cache_zh = "本机运行着 nscd：它为解析库缓存主机名查询结果。";
    } else {
        cache_en = "glibc keeps no cache, and no caching stub runs here.";
        cache_zh = "本机没有带缓存的存根，glibc 自己也不缓存。";
    }
    let (target_en, target_zh) = match mode {
        Mode::Lab(lab) => {
            let r = lab.resolver.map(|a| a.to_string()).unwrap_or_default();
            (format!("In the lab: {r}."), format!("在实验网络里：{r}。"))
        }
        Mode::Custom(..) => (
            "With --root-servers there is no local recursive server: stage 4 plays its part."
                .to_string(),
            "使用 --root-servers 时没有本地递归服务器：由第 4 阶段扮演它的角色。".to_string(),
        ),
        Mode::Live(..) => (
            "With --live, stage 3 asks the first of these servers.".to_string(),
            "使用 --live 时，第 3 阶段会询问其中第一台服务器。".to_string(),
        ),
    };
    let list: Vec<String> = system.iter().map(|i| i.to_string()).collect();
    n.step(
        Step::new(
            tx("The stub resolver hands the question to a recursive server", "存根解析器把问题交给递归服务器"),
            tx(
                format!("Programs do not walk DNS: their stub resolver (glibc's getaddrinfo) sends one query with RD=1 to a server in /etc/resolv.conf. {cache_en} {target_en}"),
                format!("程序里的存根解析器（glibc 的 getaddrinfo）自己不逐级查询：它向 /etc/resolv.conf 里的服务器发一个 RD=1（期望递归）的查询。{cache_zh}{target_zh}"),
            ),
            &["Q4", "Q27"],
        )
        .section(section(2))
        .fact(
            tx("/etc/resolv.conf", "/etc/resolv.conf"),
            if list.is_empty() { "-".to_string() } else { list.join(", ") },
        )
        .data("system_nameservers", list),
    )
}

/// The query and reply of one exchange as packet records: `from` asked `to`;
/// `reply_label` names what came back.
fn packets(
    ex: &Exchange,
    show: bool,
    from: &str,
    to: &str,
    reply_label: &Text,
    with_wire: bool,
    lo: Option<&Capture>,
) -> Vec<Packet> {
    let question = Message::from_vec(&ex.query_bytes)
        .ok()
        .and_then(|m| m.queries.first().cloned());
    let mut qlabel = match &question {
        Some(q) => tx(
            format!("query {} {}", q.query_type(), q.name()),
            format!("查询 {} {}", q.query_type(), q.name()),
        ),
        None => tx("query", "查询"),
    };
    if ex.transport == Transport::Tcp {
        qlabel.en.push_str(" (TCP)");
        qlabel.zh.push_str("（TCP）");
    }
    if ex.reply_bytes.is_none() {
        let (en, zh) = match ex.failure {
            Some(Failure::Timeout) => (" — no reply", "——没有应答"),
            _ => (" — no usable reply", "——没有可用的应答"),
        };
        qlabel.en.push_str(en);
        qlabel.zh.push_str(zh);
    }
    let at_reply = ex.sent_at + ex.rtt;
    let mut v = vec![Packet {
        direction: Direction::Sent,
        transport: ex.transport.as_str(),
        peer: ex.server.to_string(),
        fields: wire::dns::explain(&ex.query_bytes).unwrap_or_default(),
        bytes: ex.query_bytes.clone(),
        show_bytes: show,
        quiet: !show,
        at: Some(ex.sent_at),
        wire: if with_wire { wire(ex, false, lo) } else { None },
        ..Packet::default()
    }
    .between(from, to, qlabel)];
    if let Some(b) = &ex.reply_bytes {
        v.push(
            Packet {
                direction: Direction::Received,
                transport: ex.transport.as_str(),
                peer: ex.server.to_string(),
                fields: wire::dns::explain(b).unwrap_or_default(),
                bytes: b.clone(),
                show_bytes: show,
                quiet: !show,
                at: Some(at_reply),
                wire: if with_wire { wire(ex, true, lo) } else { None },
                ..Packet::default()
            }
            .between(to, from, reply_label.clone()),
        );
    }
    if let (true, Some(cap), Transport::Tcp) = (with_wire, lo, ex.transport) {
        return tcp_conversation(ex, v, cap, from, to);
    }
    v
}

/// DNS over TCP with a loopback capture: the connection's real segments, in
/// order. The segment that carries the query is the query's record, the one
/// that carries the reply the reply's; the handshake, ACKs and FINs around
/// them are records of their own.
fn tcp_conversation(
    ex: &Exchange,
    mut dns: Vec<Packet>,
    cap: &Capture,
    from: &str,
    to: &str,
) -> Vec<Packet> {
    use crate::wire::frame::{self, Kind};
    let (Some(local), server) = (ex.local, ex.server) else {
        return dns;
    };
    let ports =
        |f: &crate::lab::capture::Frame| match frame::ethernet_frame(&f.bytes).map(|d| d.kind) {
            Ok(Kind::Ipv4 {
                tcp: Some(h),
                payload_len,
                ..
            }) => Some((h.src_port, h.dst_port, h.flags, payload_len)),
            _ => None,
        };
    let ours = |f: &crate::lab::capture::Frame| {
        ports(f).is_some_and(|(s, d, _, _)| {
            (s, d) == (local.port(), server.port()) || (s, d) == (server.port(), local.port())
        })
    };
    // Wait until both FINs have gone by (the socket closed as the exchange ended).
    let mut frames: Vec<crate::lab::capture::Frame> = Vec::new();
    cap.wait_for(Duration::from_millis(200), |fs| {
        frames = fs.iter().filter(|f| ours(f)).cloned().collect();
        frames
            .iter()
            .filter(|f| ports(f).is_some_and(|(_, _, fl, _)| fl & 0x01 != 0))
            .count()
            >= 2
    });
    if frames.is_empty() {
        return dns;
    }
    let reply = if dns.len() > 1 {
        Some(dns.remove(1))
    } else {
        None
    };
    let mut query = Some(dns.remove(0));
    let mut reply = reply;
    let mut out = Vec::new();
    for f in &frames {
        let Some((sport, _, _, len)) = ports(f) else {
            continue;
        };
        let outbound = sport == local.port();
        let slot = if outbound { &mut query } else { &mut reply };
        if len > 0 {
            if let Some(mut p) = slot.take() {
                p.wire = Some(Wire::frame("lo", &f.bytes));
                p.at = Some(f.at);
                out.push(p);
                continue;
            }
        }
        let (a, b) = if outbound { (from, to) } else { (to, from) };
        let p = f.record(false);
        let label = p.label.clone();
        out.push(p.between(a, b, label));
    }
    // A message no captured segment carried keeps its rebuilt bytes.
    out.extend(query);
    out.extend(reply);
    out
}

/// The ladder's name for a server of the walk: the zone it serves.
fn participant(zone: &hickory_proto::rr::Name) -> String {
    if zone.is_root() {
        "root".into()
    } else {
        zone.to_string()
    }
}

/// A short name for what a reply said, for the ladder.
fn reply_label(m: &Message) -> Text {
    let rcode = rcode_str(m.metadata.response_code);
    if m.metadata.truncation {
        return tx("TC=1: truncated", "TC=1：被截断");
    }
    if rcode != "NOERROR" {
        return Text::from(rcode);
    }
    if m.answers.is_empty() {
        if let Some(ns) = m
            .authorities
            .iter()
            .find(|r| r.record_type() == RecordType::NS)
        {
            return tx(
                format!("referral to {}", ns.name),
                format!("转介到 {}", ns.name),
            );
        }
        return Text::from("NODATA");
    }
    let qtype = m.queries.first().map(|q| q.query_type());
    let finals: Vec<String> = m
        .answers
        .iter()
        .filter(|r| Some(r.record_type()) == qtype)
        .map(|r| r.data.to_string())
        .collect();
    Text::from(
        match (finals.is_empty(), m.answers.iter().find_map(cname_target)) {
            (true, Some(t)) => format!("CNAME {t}"),
            _ => format!(
                "{} {}",
                qtype.map(|t| t.to_string()).unwrap_or_default(),
                finals.join(" ")
            ),
        },
    )
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

fn min_ttl(m: &Message) -> Option<u32> {
    m.answers.iter().map(|r| r.ttl).min()
}

/// Ask the recursive server; a truncated UDP reply is asked again over TCP.
/// Every exchange is returned, the UDP one first.
fn ask_recursive(
    name: &CheckedName,
    qtype: RecordType,
    server: SocketAddr,
    timeout: Duration,
) -> Vec<Exchange> {
    let q = build_query(&name.name, qtype, true);
    let ex = exchange(server, &q, Transport::Udp, timeout);
    if ex.reply.as_ref().is_some_and(|m| m.metadata.truncation) {
        let tcp = exchange(server, &q, Transport::Tcp, timeout);
        return vec![ex, tcp];
    }
    vec![ex]
}

/// The TTL a reply's data may be cached for: the answers' smallest TTL, or
/// for a negative answer the SOA's negative TTL (RFC 2308).
fn cache_ttl(m: &Message) -> Option<u32> {
    min_ttl(m).or_else(|| {
        m.authorities.iter().find_map(|r| match &r.data {
            RData::SOA(s) => Some(r.ttl.min(s.minimum)),
            _ => None,
        })
    })
}

fn stage_recursive(
    n: &mut Narrator,
    name: &CheckedName,
    qtype: RecordType,
    server: SocketAddr,
    timeout: Duration,
    fresh_cache: bool,
    lo: Option<&Capture>,
) -> Result<()> {
    let with_wire = n.capturing();
    // The lab resolver walks on a miss, which can take a while with a lame server in the way.
    let timeout = timeout.max(Duration::from_secs(5));
    let firsts = ask_recursive(name, qtype, server, timeout);
    let first = firsts.last().expect("at least one exchange");
    let mut first_packets: Vec<Packet> = Vec::new();
    for ex in &firsts {
        let rl = ex.reply.as_ref().map(reply_label).unwrap_or_default();
        first_packets.extend(packets(ex, false, "stub", "resolver", &rl, with_wire, lo));
    }
    let Some(reply1) = first.reply.clone() else {
        let why = first
            .failure
            .as_ref()
            .map(|f| f.to_string())
            .unwrap_or_default();
        let mut s = Step::new(
            tx(
                format!("The recursive server {server} did not answer: {why}"),
                format!("递归服务器 {server} 没有应答：{why}"),
            ),
            tx(
                "Stage 4 still walks from the root, as the server would have.",
                "第 4 阶段仍然从根开始逐级查询，就像服务器本该做的那样。",
            ),
            &["Q4"],
        )
        .section(section(3));
        s.packets = first_packets;
        return n.step(s);
    };
    let rcode = rcode_str(reply1.metadata.response_code);
    // Long record data (a TXT of hundreds of bytes) is cut for the screen; JSON has it whole.
    let records: Vec<String> = reply1
        .answers
        .iter()
        .map(|r| crate::narrate::wrap::truncate(&wire::dns::record_line(r), 64))
        .collect();
    let over_tcp = firsts.len() > 1;
    let (walked_en, walked_zh) = if fresh_cache {
        (
            "Its cache was empty (it started with this run), so it first walked from the root, as stage 4 does below.",
            "它的缓存是空的（随本次运行启动），所以回答之前它自己从根开始逐级查询，就像下面第 4 阶段做的那样。",
        )
    } else {
        (
            "If its cache had nothing for this name, it walked from the root itself before answering, as stage 4 does below.",
            "如果它的缓存里没有这个名字，它会先自己从根开始逐级查询（就像下面第 4 阶段那样）再回答。",
        )
    };
    let (tcp_en, tcp_zh) = if over_tcp {
        (
            " The UDP reply came back with TC=1 (truncated), so the stub asked again over TCP.",
            "UDP 应答带着 TC=1（被截断），所以存根改用 TCP 再问了一次。",
        )
    } else {
        ("", "")
    };
    let mut step = Step::new(
        tx(
            format!("Ask {} with RD=1: {rcode}, {}, {:.3} ms", server.ip(), crate::narrate::plural(records.len() as u64, "record", "records"), ms(first.rtt)),
            format!("以 RD=1 询问 {}：{rcode}，{} 条记录，{:.3} ms", server.ip(), records.len(), ms(first.rtt)),
        ),
        tx(
            format!("RD=1: do all the work for me; RA=1 in the reply: I offer recursion. {walked_en}{tcp_en}"),
            format!("RD=1：请替我完成全部查询；应答里的 RA=1：我提供递归。{walked_zh}{tcp_zh}"),
        ),
        &["Q4", "Q27"],
    )
    .section(section(3));
    for (i, r) in records.iter().enumerate() {
        let label = if i == 0 {
            tx("answer", "回答")
        } else {
            Text::default()
        };
        step = step.fact(label, r.clone());
    }
    step.packets = first_packets;
    n.step(
        step.data("rcode", rcode.clone())
            .data("rtt_ms", ms(first.rtt))
            .data(
                "ttl",
                cache_ttl(&reply1).map(Value::from).unwrap_or(Value::Null),
            )
            .data("truncated_then_tcp", over_tcp)
            .data("cached", false),
    )?;
    let seconds = ask_recursive(name, qtype, server, timeout);
    let second = seconds.last().expect("at least one exchange");
    let mut second_packets = Vec::new();
    for ex in &seconds {
        let rl = ex.reply.as_ref().map(reply_label).unwrap_or_default();
        second_packets.extend(packets(ex, false, "stub", "resolver", &rl, with_wire, lo));
    }
    let Some(reply2) = second.reply.clone() else {
        let mut s = Step::new(
            tx("Ask again: no reply", "再问一次：没有应答"),
            Text::default(),
            &["Q4"],
        )
        .section(section(3));
        s.packets = second_packets;
        return n.step(s);
    };
    let (t1, t2) = (cache_ttl(&reply1), cache_ttl(&reply2));
    let negative = min_ttl(&reply1).is_none();
    let (ttl_en, ttl_zh) = match (t1, t2, negative) {
        (Some(a), Some(b), false) => (format!("TTL {a} → {b}"), format!("TTL {a} → {b}")),
        (Some(a), Some(b), true) => (
            format!("negative TTL {a} → {b}"),
            format!("否定应答的 TTL {a} → {b}"),
        ),
        _ => ("no TTL to compare".into(), "没有可比较的 TTL".into()),
    };
    let ratio = if second.rtt.is_zero() {
        0.0
    } else {
        first.rtt.as_secs_f64() / second.rtt.as_secs_f64()
    };
    let (speed_en, speed_zh) = if ratio >= 1.5 {
        (
            format!(" ({ratio:.0}× faster)"),
            format!("（快 {ratio:.0} 倍）"),
        )
    } else {
        (String::new(), String::new())
    };
    let mut detail = tx(
        "From the cache this time, with no walk. The TTL says how long the data may still be kept.",
        "这次答案来自缓存，没有逐级查询。TTL 表示数据还能保留多久。",
    );
    if let (Some(a), Some(b)) = (t1, t2) {
        if b < a {
            let gap = ms(second
                .sent_at
                .duration_since(first.sent_at)
                .unwrap_or_default());
            detail.en.push_str(&format!(
                " It fell by {} after only {gap:.1} ms: whole seconds, rounded down.",
                a - b
            ));
            detail.zh.push_str(&format!(
                "只过了 {gap:.1} ms，TTL 却少了 {}：它按整秒计，向下取整。",
                a - b
            ));
        }
    }
    if ratio < 1.5 {
        detail.en.push_str(" This time the cached answer was not noticeably faster: on loopback both asks take well under a millisecond, and noise decides.");
        detail.zh.push_str(
            "这一次缓存的应答并没有明显更快：在回环接口上两次询问都远不到一毫秒，快慢由噪声决定。",
        );
    }
    let mut step = Step::new(
        tx(
            format!("Ask again: {:.3} ms{speed_en}, {ttl_en}", ms(second.rtt)),
            format!("再问一次：{:.3} ms{speed_zh}，{ttl_zh}", ms(second.rtt)),
        ),
        detail,
        &["Q4", "Q27"],
    )
    .section(section(3));
    step.packets = second_packets;
    n.step(
        step.data("rtt_ms", ms(second.rtt))
            .data("ttl", t2.map(Value::from).unwrap_or(Value::Null))
            .data("first_ttl", t1.map(Value::from).unwrap_or(Value::Null))
            .data("cached", true),
    )
}

/// What one verdict of the walk says: the result in a few words, why it
/// happened, the questions it answers, a correction where the notes are wrong,
/// the concept it explains (once per run) and, for a referral, the NS set.
struct Reading {
    result: Text,
    detail: Text,
    questions: Vec<&'static str>,
    correction: Option<Text>,
    concept: Option<&'static str>,
    ns: Option<Text>,
}

impl Reading {
    fn new(result: Text, detail: Text, questions: &[&'static str]) -> Reading {
        Reading {
            result,
            detail,
            questions: questions.to_vec(),
            correction: None,
            concept: None,
            ns: None,
        }
    }
}

/// The reading of a verdict: one function per kind.
fn reading(verdict: &Verdict, qtype: RecordType, ex: &Exchange, remaining: usize) -> Reading {
    match verdict {
        Verdict::Referral { zone, ns } => referral_reading(zone, ns),
        Verdict::Answer(records) => answer_reading(records, qtype),
        Verdict::Cname { chain, records } => cname_reading(chain, records, qtype),
        Verdict::NxDomain { soa } => nxdomain_reading(soa),
        Verdict::NoData { soa } => nodata_reading(soa, qtype),
        Verdict::Truncated => truncated_reading(),
        Verdict::NoReply(f) => Reading::new(
            tx(
                format!("no usable reply: {f}{}", next_text(remaining)),
                format!("没有可用的应答：{f}{}", next_text_zh(remaining)),
            ),
            no_reply_text(f, ex),
            &["Q4"],
        ),
        Verdict::ServerError(rc) => Reading::new(
            tx(
                format!("{rc}{}", next_text(remaining)),
                format!("{rc}{}", next_text_zh(remaining)),
            ),
            tx(
                "The server refused or failed; the resolver tries another server of the same zone.",
                "服务器拒绝或出错；解析器换同一区的另一台服务器。",
            ),
            &["Q4"],
        ),
        Verdict::Lame(why) => Reading::new(
            tx(
                format!("unusable reply: {why}{}", next_text(remaining)),
                format!("无法使用的应答：{why}{}", next_text_zh(remaining)),
            ),
            tx(
                "The reply neither answers nor leads closer to the name; a resolver discards it and tries another server.",
                "这个应答既没有回答，也没有更接近目标；解析器丢弃它并换一台服务器。",
            ),
            &["Q4"],
        ),
    }
}

fn referral_reading(
    child: &hickory_proto::rr::Name,
    ns: &[(hickory_proto::rr::Name, Vec<IpAddr>)],
) -> Reading {
    let list = |no_glue: &str| -> String {
        ns.iter()
            .map(|(n, ips)| {
                let ips: Vec<String> = ips.iter().map(|i| i.to_string()).collect();
                if ips.is_empty() {
                    format!("{n} {no_glue}")
                } else {
                    format!("{n} {}", ips.join(" "))
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let glue = ns.iter().any(|(_, ips)| !ips.is_empty());
    let in_zone = ns
        .iter()
        .find(|(n, ips)| !ips.is_empty() && child.zone_of(n));
    let (concept, mut detail) = if glue {
        (
            "referral",
            tx(
                format!("Not an answer but a referral (AA=0): the NS records of {child} in AUTHORITY, and their addresses (glue) in ADDITIONAL. Next: ask one of those servers."),
                format!("这不是答案而是转介（AA=0）：AUTHORITY 段给出 {child} 的 NS 记录，ADDITIONAL 段给出它们的地址（胶水记录）。下一步：询问其中一台。"),
            ),
        )
    } else {
        (
            "referral-noglue",
            tx(
                format!("A referral (AA=0) to {child} whose NS records come with no addresses: ADDITIONAL holds no glue, because the servers are named outside {child}. Their addresses must be looked up first."),
                format!("转介（AA=0）到 {child}，但 NS 记录没有附带地址：ADDITIONAL 段没有胶水记录，因为这些服务器的名字不在 {child} 之内。必须先查出它们的地址。"),
            ),
        )
    };
    if let Some((n, _)) = in_zone {
        detail.en.push_str(&format!(" Glue breaks a chicken-and-egg problem: {n} is named inside {child}, the very zone it serves."));
        detail.zh.push_str(&format!(
            "胶水记录打破了先有鸡还是先有蛋的困境：{n} 的名字就在它所服务的 {child} 区之内。"
        ));
    }
    Reading {
        concept: Some(concept),
        ns: Some(tx(list("(no glue)"), list("（无胶水记录）"))),
        ..Reading::new(
            tx(format!("referral to {child}"), format!("转介到 {child}")),
            detail,
            &["Q4", "Q27"],
        )
    }
}

fn answer_reading(records: &[Record], qtype: RecordType) -> Reading {
    let l: Vec<String> = records
        .iter()
        .map(|r| crate::narrate::wrap::truncate(&r.data.to_string(), 40))
        .collect();
    Reading::new(
        tx(
            format!("answer {qtype} {}", l.join(", ")),
            format!("答案 {qtype} {}", l.join("，")),
        ),
        tx(
            "AA=1: the zone's own server answers from its data, each record with its TTL.",
            "AA=1：该区自己的服务器用自己的数据回答，每条记录带着 TTL。",
        ),
        &["Q4", "Q27"],
    )
}

fn cname_reading(chain: &[Record], records: &[Record], qtype: RecordType) -> Reading {
    let l: Vec<String> = chain
        .iter()
        .filter_map(cname_target)
        .map(|t| t.to_string())
        .collect();
    let extra = if records.is_empty() {
        String::new()
    } else {
        format!(" (+{} {qtype})", records.len())
    };
    Reading::new(
        Text::from(format!("CNAME → {}{extra}", l.join(" → "))),
        tx(
            "The name is an alias (CNAME): its owner says 'ask for this other name instead'. A resolver follows it, up to a limit, to avoid loops.",
            "这个名字是别名（CNAME）：它的所有者说「请改查另一个名字」。解析器会跟着走，但有次数上限，以免陷入循环。",
        ),
        &["Q4", "Q27", "Q30"],
    )
}

fn nxdomain_reading(soa: &Option<Record>) -> Reading {
    Reading::new(
        tx(
            format!("NXDOMAIN: the name does not exist{}", soa_text(soa).en),
            format!("NXDOMAIN：该名字不存在{}", soa_text(soa).zh),
        ),
        tx(
            "The authoritative server says no such name exists (RCODE 3). The SOA record in AUTHORITY proves which zone said so, and its TTL/MINIMUM bounds how long resolvers may cache this 'no' (RFC 2308).",
            "权威服务器说这个名字不存在（RCODE 3）。AUTHORITY 段的 SOA 记录表明是哪个区作出的否定，其 TTL/MINIMUM 决定解析器可以把这个「否」缓存多久（RFC 2308）。",
        ),
        &["Q4", "Q27"],
    )
}

fn nodata_reading(soa: &Option<Record>, qtype: RecordType) -> Reading {
    Reading::new(
        tx(
            format!("NODATA: the name exists but has no {qtype} record{}", soa_text(soa).en),
            format!("NODATA：名字存在，但没有 {qtype} 记录{}", soa_text(soa).zh),
        ),
        tx(
            "RCODE is NOERROR but the ANSWER section is empty and the zone's SOA is in AUTHORITY: the name exists, just not with this type.",
            "RCODE 为 NOERROR，但 ANSWER 段为空，AUTHORITY 段带着该区的 SOA：名字存在，只是没有这种类型的记录。",
        ),
        &["Q4", "Q27"],
    )
}

fn truncated_reading() -> Reading {
    Reading {
        correction: Some(tx(
            "the notes list DNS under UDP only; a truncated reply (and a zone transfer) moves to TCP on the same port 53.",
            "笔记只把 DNS 列在 UDP 下；应答被截断（以及区传送）时改用同一端口 53 上的 TCP。",
        )),
        ..Reading::new(
            tx(
                "TC=1: the reply did not fit in UDP — asking again over TCP",
                "TC=1：应答装不进 UDP——改用 TCP 重新询问",
            ),
            tx(
                "Without EDNS a DNS reply over UDP may be at most 512 bytes. The server sent what fits and set TC (truncated); the resolver repeats the question over TCP port 53, where each message is preceded by its 2-byte length.",
                "不带 EDNS 时，UDP 上的 DNS 应答最多 512 字节。服务器只发了放得下的部分并置 TC（截断）位；解析器改用 TCP 53 重问，TCP 上每条消息前有 2 字节长度。",
            ),
            &["Q4", "Q9", "Q10"],
        )
    }
}

fn verdict_kind(v: &Verdict) -> &'static str {
    match v {
        Verdict::Answer(_) => "answer",
        Verdict::Cname { .. } => "cname",
        Verdict::Referral { .. } => "referral",
        Verdict::NxDomain { .. } => "nxdomain",
        Verdict::NoData { .. } => "nodata",
        Verdict::Truncated => "truncated",
        Verdict::ServerError(_) => "server_error",
        Verdict::Lame(_) => "lame",
        Verdict::NoReply(_) => "no_reply",
    }
}

fn record_json(r: &Record) -> Value {
    serde_json::to_value(RecordOut::of(r)).unwrap_or_default()
}

/// A record as JSON carries it.
#[derive(serde::Serialize)]
struct RecordOut {
    name: String,
    #[serde(rename = "type")]
    rtype: String,
    ttl: u32,
    data: String,
}

impl RecordOut {
    fn of(r: &Record) -> RecordOut {
        RecordOut {
            name: r.name.to_string(),
            rtype: r.record_type().to_string(),
            ttl: r.ttl,
            data: r.data.to_string(),
        }
    }
}

/// One link of a CNAME chain.
#[derive(serde::Serialize)]
struct CnameOut {
    name: String,
    target: Option<String>,
    ttl: u32,
}

/// The walk's result: the JSON summary of dns-trace.
#[derive(serde::Serialize)]
struct WalkOut {
    name: String,
    #[serde(rename = "type")]
    qtype: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<&'static str>,
    answers: Vec<RecordOut>,
    cname_chain: Vec<CnameOut>,
    servers: Vec<String>,
    queries: u32,
    rcode: &'static str,
    soa: Option<RecordOut>,
    elapsed_ms: f64,
}

fn walk_step(
    ev: Event<'_>,
    qtype: RecordType,
    shown: &mut HashSet<&'static str>,
    with_wire: bool,
    lo: Option<&Capture>,
) -> Vec<Step> {
    match ev {
        Event::Start { name, via, roots } => {
            let (title, detail) = match via {
                None => (
                    tx(format!("Start at the root for {name}"), format!("从根开始查 {name}")),
                    tx(
                        "Now netlab plays a recursive server with an empty cache: it knows only the root servers (its root hints). It asks with RD=0: each server answers from its own zones or refers it further down.",
                        "现在由 netlab 扮演缓存为空的递归服务器：它只知道根服务器的地址（根提示）。它以 RD=0 询问，每台服务器只根据自己的区回答，或者把它指向更下一级。",
                    ),
                ),
                Some(alias) => (
                    tx(format!("{alias} is an alias: start again at the root for {name}"), format!("{alias} 是别名：从根开始重新查 {name}")),
                    tx(
                        "The target is in another zone, so the walk begins again. A resolver starts from the closest servers it already knows (here com.'s); netlab starts at the root to show the whole path. This is how a site hands its name to a CDN.",
                        "目标在另一个区里，所以要重新查询。真实的解析器从它已知的最近的服务器开始（这里是 com. 的）；netlab 从根开始，好展示完整路径。网站正是这样把域名交给 CDN 的。",
                    ),
                ),
            };
            let mut s = Step::new(title, detail, &["Q4", "Q27"])
                .section(section(4))
                .concept(if via.is_some() { "cname-restart" } else { "walk-start" });
            if via.is_some() {
                s.questions.push("Q30");
                s = s.correction(tx(
                    "the notes have www.baidu.com resolve straight to one address; the real answer begins with a CNAME.",
                    "笔记认为 www.baidu.com 直接解析成一个地址；真实的答案以一条 CNAME 开头。",
                ));
            }
            if via.is_none() {
                s = s.fact(
                    tx("root hints", "根提示"),
                    roots.iter().map(short_label).collect::<Vec<_>>().join(", "),
                );
            }
            vec![
                s.data("name", name.to_string())
                    .data("via", via.map(|v| Value::from(v.to_string())).unwrap_or(Value::Null))
                    .data("roots", roots.iter().map(|r| r.addr.to_string()).collect::<Vec<_>>()),
            ]
        }
        Event::Exchanged { zone, server, exchange: ex, verdict, remaining } => {
            let kind = verdict_kind(verdict);
            let zone_label = if zone.is_root() { ".".to_string() } else { zone.to_string() };
            let sname = server.name.as_ref().map(|n| n.to_string()).unwrap_or_else(|| ex.server.ip().to_string());
            let (zone_word, zone_word_zh) = if zone.is_root() {
                ("a root server".to_string(), "根服务器".to_string())
            } else {
                (format!("for {zone_label}"), format!("{zone_label} 区"))
            };
            let (head_en, head_zh) = if ex.transport == Transport::Tcp {
                (format!("Ask {sname} ({zone_word}) over TCP"), format!("通过 TCP 询问 {sname}（{zone_word_zh}）"))
            } else {
                (format!("Ask {sname} ({zone_word})"), format!("询问 {sname}（{zone_word_zh}）"))
            };
            let Reading {
                result,
                detail,
                questions: mut qs,
                correction: corr,
                concept: own_concept,
                ns: ns_fact,
            } = reading(verdict, qtype, ex, remaining);
            let mut concept: Option<&'static str> = own_concept.or(Some(kind));
            if ex.ignored > 0 {
                qs.push("Q4");
                concept = None;
            }
            if matches!(verdict, Verdict::NoReply(_) | Verdict::ServerError(_) | Verdict::Lame(_)) {
                concept = None;
            }
            let mut s = Step::new(
                tx(format!("{head_en}: {}", result.en), format!("{head_zh}：{}", result.zh)),
                detail,
                &[],
            )
            .section(section(4));
            if let Some(c) = concept {
                s = s.concept(c);
            }
            if let Some(l) = ns_fact {
                s = s.fact(tx("NS", "NS"), l);
            }
            s.questions = qs;
            s.questions.dedup();
            if let Some(c) = corr {
                s = s.correction(c);
            }
            match &ex.reply {
                Some(m) => {
                    s = s.fact(
                        tx("reply", "应答"),
                        reply_counts(m, ex.rtt),
                    );
                }
                None => {
                    s = s.fact(
                        tx("reply", "应答"),
                        Text {
                            en: format!("none after {:.1} s", ex.rtt.as_secs_f64()),
                            zh: format!("{:.1} 秒内没有应答", ex.rtt.as_secs_f64()),
                        },
                    );
                }
            }
            if ex.ignored > 0 {
                s = s.fact(tx("ignored datagrams", "忽略的数据报"), ex.ignored.to_string());
            }
            let rl = ex.reply.as_ref().map(reply_label).unwrap_or_default();
            s.packets = packets(ex, false, "resolver", &participant(zone), &rl, with_wire, lo);
            // One byte view of each thing that teaches: the query (when stage 3 did
            // not show one), the first referral, the first truncated reply.
            let mut views = Vec::new();
            if matches!(kind, "referral" | "truncated") && s.packets.len() > 1 && shown.insert(kind) {
                let t = if kind == "referral" {
                    tx("The referral, field by field", "转介应答，逐字段")
                } else {
                    tx("The truncated reply, field by field", "被截断的应答，逐字段")
                };
                views.push((s.packets[1].echo(), t));
            }
            let mut data = json!({
                "server": ex.server.to_string(),
                "server_name": server.name.as_ref().map(|n| n.to_string()),
                "zone": zone_label,
                "transport": ex.transport.as_str(),
                "rtt_ms": ms(ex.rtt),
                "verdict": kind,
                "ignored": ex.ignored,
                "ignored_why": ex.ignored_why,
            });
            if let Some(m) = &ex.reply {
                data["rcode"] = rcode_str(m.metadata.response_code).into();
                data["aa"] = m.metadata.authoritative.into();
                data["tc"] = m.metadata.truncation.into();
                data["answer"] = m.answers.iter().map(record_json).collect::<Vec<_>>().into();
                data["authority"] = m.authorities.iter().map(record_json).collect::<Vec<_>>().into();
                data["additional"] = m.additionals.iter().map(record_json).collect::<Vec<_>>().into();
            }
            if let Some(f) = &ex.failure {
                data["failure"] = f.to_string().into();
            }
            if let Verdict::Referral { zone: child, .. } = verdict {
                data["referral_zone"] = child.to_string().into();
            }
            if let Value::Object(m) = data {
                s.data = m;
            }
            let mut steps = vec![s];
            for (p, title) in views {
                let mut v = Step::new(title, tx(
                    "A DNS message: a 12-byte header (id, flags, four counts), the question (the reply repeats the query's), then the ANSWER, AUTHORITY and ADDITIONAL records.",
                    "DNS 报文：12 字节的头部（标识、标志、四个计数），问题部分（应答会重复查询的问题），然后是 ANSWER、AUTHORITY 和 ADDITIONAL 三段记录。",
                ), &["Q4"]).section(section(4)).concept("dns-message");
                v.packets = vec![p];
                steps.push(v);
            }
            steps
        }
        Event::Skipped { server } => vec![
            Step::new(
                tx(format!("Skip {}: off this machine", server.label()), format!("跳过 {}：不在本机", server.label())),
                tx(
                    "Without --live netlab never sends a packet beyond loopback, so a referral to an outside address is not followed.",
                    "不加 --live 时 netlab 绝不向本机以外发包，所以不跟随指向外部地址的转介。",
                ),
                &["Q4"],
            )
            .section(section(4))
            .data("server", server.addr.to_string()),
        ],
        Event::GluelessLookup { ns } => vec![
            Step::new(
                tx(format!("No glue for {ns}: look up its address first"), format!("{ns} 没有胶水记录：先查它的地址")),
                tx(
                    "The referral named a server outside the delegated zone without an address, so the resolver resolves that server's name with a walk of its own before it can continue.",
                    "转介给出的服务器名字不在被委派的区内，也没有附带地址，所以解析器要先为这个服务器名单独查一次，才能继续。",
                ),
                &["Q4"],
            )
            .section(section(4))
            .data("ns", ns.to_string()),
        ],
    }
}

/// Why a server gave nothing usable, in words that fit what happened.
fn no_reply_text(f: &Failure, ex: &Exchange) -> Text {
    let failover_en = "Every zone has several name servers, so a resolver simply tries the next one of the NS set: DNS is a cluster, not a single point of failure.";
    let failover_zh =
        "每个区都有多台名字服务器，解析器就换 NS 集合里的下一台：DNS 是集群式的，没有单点故障。";
    match f {
        Failure::Timeout if ex.ignored > 0 => tx(
            format!("{} arrived, but none was our answer ({}). A resolver takes a reply only from the address it asked, with its own query id and its own question: anything else could be a forgery meant to poison its cache (RFC 5452). So it kept waiting, timed out, and moves on. {failover_en}", crate::narrate::plural(ex.ignored as u64, "datagram", "datagrams"), ex.ignored_why.join(", ")),
            format!("收到了 {} 个数据报，但没有一个是我们要的应答（{}）。解析器只接受来自被询问地址、带着自己的查询标识和自己的问题的应答：其他任何东西都可能是企图污染缓存的伪造（RFC 5452）。所以它继续等待直到超时，然后换下一台。{failover_zh}", ex.ignored, ex.ignored_why.join("，")),
        ),
        Failure::Timeout => tx(
            format!("This server is silent (a lame or dead server, or one far too slow). {failover_en}"),
            format!("这台服务器没有响应（失效、宕机或慢得离谱）。{failover_zh}"),
        ),
        Failure::Malformed(_) => tx(
            format!("The reply carried our id but is not a valid DNS message; a resolver drops it. {failover_en}"),
            format!("应答带着我们的标识，却不是合法的 DNS 报文；解析器丢弃它。{failover_zh}"),
        ),
        Failure::Oversized(_) => tx(
            format!("Without EDNS a UDP answer may be at most 512 bytes; a compliant server sends what fits and sets TC=1. This one broke the rule, so the reply is refused. {failover_en}"),
            format!("不带 EDNS 时，UDP 应答最多 512 字节；守规矩的服务器只发放得下的部分并置 TC=1。这台服务器违反了规则，所以应答被拒收。{failover_zh}"),
        ),
        Failure::Refused if ex.transport == Transport::Tcp => tx(
            format!("TC=1 told us to ask again over TCP, but nothing listens on TCP port {} there: the answer cannot be had from this server. {failover_en}", ex.server.port()),
            format!("TC=1 要求我们改用 TCP 重问，但那里的 TCP 端口 {} 没有人监听：从这台服务器拿不到答案。{failover_zh}", ex.server.port()),
        ),
        Failure::Refused => tx(
            format!("Nothing listens on UDP port {} there: the host answered at once with ICMP port unreachable, so this is no silent server but a closed port. {failover_en}", ex.server.port()),
            format!("那里的 UDP 端口 {} 没有人监听：主机立刻回了 ICMP 端口不可达，所以这不是沉默的服务器，而是关着的端口。{failover_zh}", ex.server.port()),
        ),
        _ => tx(format!("No usable reply. {failover_en}"), format!("没有可用的应答。{failover_zh}")),
    }
}

fn rcode_str(rc: hickory_proto::op::ResponseCode) -> String {
    wire::dns::rcode_name(u16::from(rc))
}

/// The header flags that are set, by name: `QR AA RD RA`.
fn flags(m: &Message) -> String {
    let md = &m.metadata;
    let set = [
        (
            md.message_type == hickory_proto::op::MessageType::Response,
            "QR",
        ),
        (md.authoritative, "AA"),
        (md.truncation, "TC"),
        (md.recursion_desired, "RD"),
        (md.recursion_available, "RA"),
    ];
    set.iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a reply held, one line in each language: rcode, flags, section counts, time.
fn reply_counts(m: &Message, rtt: Duration) -> Text {
    let rc = rcode_str(m.metadata.response_code);
    let f = flags(m);
    let (a, ns, ar) = (m.answers.len(), m.authorities.len(), m.additionals.len());
    tx(
        format!(
            "{rc} · {f} · answer {a} · authority {ns} · additional {ar} · {:.3} ms",
            ms(rtt)
        ),
        format!(
            "{rc} · {f} · 回答 {a} 条 · 授权 {ns} 条 · 附加 {ar} 条 · {:.3} ms",
            ms(rtt)
        ),
    )
}

fn soa_text(soa: &Option<Record>) -> Text {
    match soa {
        Some(r) => match &r.data {
            RData::SOA(s) => tx(
                format!(
                    " (SOA of {}, negative TTL {})",
                    r.name,
                    r.ttl.min(s.minimum)
                ),
                format!("（{} 的 SOA，否定 TTL {}）", r.name, r.ttl.min(s.minimum)),
            ),
            _ => Text::default(),
        },
        None => Text::default(),
    }
}

fn next_text(remaining: usize) -> String {
    if remaining > 0 {
        format!(
            " — trying the next of {} left",
            crate::narrate::plural(remaining as u64, "server", "servers")
        )
    } else {
        " — no server of this zone left".into()
    }
}

fn next_text_zh(remaining: usize) -> String {
    if remaining > 0 {
        format!("——换下一台（还剩 {remaining} 台）")
    } else {
        "——该区已没有别的服务器".into()
    }
}

fn summary(
    name: &CheckedName,
    qtype: RecordType,
    out: &walk::Outcome,
    elapsed: Duration,
) -> Summary {
    let answers: Vec<RecordOut> = out.answers.iter().map(RecordOut::of).collect();
    let chain: Vec<CnameOut> = out
        .cname_chain
        .iter()
        .map(|r| CnameOut {
            name: r.name.to_string(),
            target: cname_target(r).map(|t| t.to_string()),
            ttl: r.ttl,
        })
        .collect();
    let (title, ok) = match &out.status {
        Status::Answer => {
            let l: Vec<String> = out
                .answers
                .iter()
                .map(|r| crate::narrate::wrap::truncate(&r.data.to_string(), 40))
                .collect();
            let (via_en, via_zh) = match out.cname_chain.last().and_then(cname_target) {
                Some(t) => (format!(" (via {t})"), format!("（经由 {t}）")),
                None => (String::new(), String::new()),
            };
            (
                tx(
                    format!("{} {qtype} → {}{via_en}", name.ascii, l.join(", ")),
                    format!("{} {qtype} → {}{via_zh}", name.ascii, l.join("，")),
                ),
                true,
            )
        }
        Status::NxDomain => (
            tx(
                format!("{}: NXDOMAIN, no such name", name.ascii),
                format!("{}：NXDOMAIN，不存在该名字", name.ascii),
            ),
            false,
        ),
        Status::NoData => (
            tx(
                format!("{}: no {qtype} record (NODATA)", name.ascii),
                format!("{}：没有 {qtype} 记录（NODATA）", name.ascii),
            ),
            false,
        ),
        Status::Failed(why) => (
            tx(
                format!("{}: no answer — {}", name.ascii, why.reason),
                format!("{}：没有得到答案——{}", name.ascii, why.reason),
            ),
            false,
        ),
    };
    let lines = vec![tx(
        format!(
            "{} to {} in {:.1} ms",
            crate::narrate::plural(out.queries as u64, "query", "queries"),
            crate::narrate::plural(
                unique(&out.servers) as u64,
                "server address",
                "server addresses"
            ),
            ms(elapsed)
        ),
        format!(
            "共 {} 次查询，涉及 {} 个服务器地址，用时 {:.1} ms",
            out.queries,
            unique(&out.servers),
            ms(elapsed)
        ),
    )];
    let failed = match &out.status {
        Status::Failed(why) => Some(why),
        _ => None,
    };
    let result = WalkOut {
        name: name.ascii.clone(),
        qtype: qtype.to_string(),
        status: match &out.status {
            Status::Answer => "answer",
            Status::NxDomain => "nxdomain",
            Status::NoData => "nodata",
            Status::Failed(_) => "failed",
        },
        reason: failed.map(|w| w.reason.clone()),
        cause: failed.map(|w| w.cause),
        answers,
        cname_chain: chain,
        servers: out.servers.iter().map(|s| s.to_string()).collect(),
        queries: out.queries,
        rcode: out.rcode(),
        soa: out.soa.as_ref().map(RecordOut::of),
        elapsed_ms: ms(elapsed),
    };
    let data = match serde_json::to_value(&result) {
        Ok(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    Summary {
        title,
        lines,
        questions: vec!["Q4", "Q27", "Q28"],
        data,
        ok,
    }
}

fn unique(v: &[SocketAddr]) -> usize {
    v.iter().collect::<HashSet<_>>().len()
}
