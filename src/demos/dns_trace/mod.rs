//! `netlab dns-trace NAME`: the DNS workflow of Q4, stage by stage.
//!
//! 1. the hosts file;
//! 2. a real stub lookup (hickory-resolver, [`crate::dns::stub`]), its
//!    datagrams recorded at the socket, with the walk the lab resolver made on
//!    its miss between query and reply (its packets quiet, one folded line in
//!    the text view), and the same lookup again from its cache with no packet;
//! 3. the local recursive server asked directly, as dig asks: its cache,
//!    filled by stage 2's walk, seen as a faster answer and a falling TTL;
//! 4. the iterative walk from the root that the recursive server did on its
//!    miss, every query and reply shown with its bytes.
//!
//! By default everything runs against the built-in lab on loopback; `--live`
//! walks the real Internet.

use std::collections::{HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::{RData, Record, RecordType};

use crate::cli::{DnsTraceArgs, QType};
use crate::dns::client::{ask_recursive, Exchange, Failure, Transport};
use crate::dns::name::{self, CheckedName};
use crate::dns::stub::{Datagram, Source, Stub};
use crate::dns::walk::{self, cname_target, Config, Event, Server, Status, Verdict};
use crate::error::{exit, Error, Result};
use crate::lab::capture::Capture;
use crate::lab::dns::DnsLab;
use crate::lab::resolver::WalkExchange;
use crate::lab::zones::ZoneSet;
use crate::narrate::{tx, Direction, Narrator, Packet, Step, Summary, Text, Wire};
use crate::wire;

mod data;
mod say;

use data::{
    AnswerFrom, CnameOut, ExchangeOut, GluelessOut, HostsOut, Intro, Punycode, RecordOut,
    Recursive, RecursiveSilent, ReplyOut, ResolverWalkOut, ServerOut, SkippedOut, StubAgain,
    StubFirst, StubOut, TraceOut, WalkStart,
};

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
            Ok(m) if m.is_dir() => return Err(Error::usage(say::hosts_is_folder(h))),
            Ok(_) => {}
            Err(_) => return Err(Error::usage(say::hosts_missing(h))),
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
            crate::host::first_nameserver().map(|ip| SocketAddr::new(ip, 53)),
        )
    } else if let Some(r) = &args.root_servers {
        if let Some(a) = r.addrs.iter().find(|a| !a.ip().is_loopback()) {
            return Err(Error::usage(say::root_off_machine(*a)));
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
/// at its socket, not on a link). Over UDP with a loopback capture, the real frame.
fn wire(ex: &Exchange, reply: bool, lo: Option<&Capture>) -> Option<Wire> {
    let local = ex.source()?;
    let (from, to, payload) = if reply {
        (ex.server, local, ex.reply_bytes.as_deref()?)
    } else {
        (local, ex.server, &ex.query_bytes[..])
    };
    match ex.transport {
        Transport::Udp => datagram_wire(from, to, payload, lo),
        Transport::Tcp => {
            // Sequence numbers are netlab's: the query is byte 1, the reply answers it.
            let q = ex.query_bytes.len() as u32 + 2;
            let seq_ack = if reply { (1, 1 + q) } else { (1, 1) };
            tcp_wire(from, to, payload, seq_ack)
        }
    }
}

/// One DNS message over TCP as an IPv4 packet rebuilt around it, with its
/// 2-byte length and the given relative sequence and acknowledgement numbers.
fn tcp_wire(from: SocketAddr, to: SocketAddr, payload: &[u8], seq_ack: (u32, u32)) -> Option<Wire> {
    let mut framed = (payload.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(payload);
    Some(Wire {
        link: "netlab DNS sockets".into(),
        ethernet: false,
        bytes: crate::wire::build::tcp_packet(from, to, seq_ack.0, seq_ack.1, &framed)?,
        rebuilt: true,
        original_len: None,
    })
}

/// Whether an Ethernet + IPv4 frame is a UDP datagram between these ports carrying `payload`.
fn udp_frame_carries(frame: &[u8], sport: u16, dport: u16, payload: &[u8]) -> bool {
    use pnet_packet::Packet as _;
    let Some((17, udp)) = crate::wire::frame::transport(frame) else {
        return false;
    };
    pnet_packet::udp::UdpPacket::new(udp).is_some_and(|u| {
        u.get_source() == sport && u.get_destination() == dport && u.payload() == payload
    })
}

/// Run the demo; returns the exit code.
pub fn run(args: &DnsTraceArgs, n: &mut Narrator) -> Result<i32> {
    let mut n = Teller::new(n);
    let n = &mut n;
    // Whether a capture file was asked for: then the lab prefers port 53 and
    // loopback is captured. Every packet record carries its wire bytes anyway.
    let capturing = args.capture_file;
    let (name, mode) = plan(args, capturing)?;
    // With --pcap and CAP_NET_RAW, loopback is captured so the file holds real frames.
    let lo = if capturing && crate::privilege::Privileges::probe().net_raw {
        Capture::start_here("lo").ok()
    } else {
        None
    };
    if let Mode::Lab(lab) = &mode {
        // Stage 2's lookup makes the lab resolver walk: its packets are records too.
        lab.record_resolver_walks();
    }
    if capturing {
        let port = match &mode {
            Mode::Lab(lab) => lab.port,
            Mode::Custom(_, p) | Mode::Live(_, p, _) => *p,
        };
        if crate::lab::userns::in_private_net() {
            n.n.pcap_note("Without root, the lab ran in a network namespace of netlab's own (inside a user namespace), where it could listen on port 53 and capture its loopback.");
        }
        if lo.is_some() {
            n.n.pcap_note("Every frame is real, captured on loopback: DNS over UDP, and DNS over TCP with its handshake, ACKs and FINs.");
        } else {
            n.n.pcap_note("DNS messages exactly as netlab sent and received them at its sockets (capturing loopback needs CAP_NET_RAW); their IPv4 and UDP/TCP headers are rebuilt from the socket addresses, and DNS over TCP is shown without its handshake.");
        }
        if port != 53 {
            n.n.pcap_note(say::port_note(port));
        }
    }
    let qtype = record_type(args.qtype);
    let (roots, port, recursive, loopback_only) = match &mode {
        Mode::Lab(lab) => (lab.roots.clone(), lab.port, lab.resolver, true),
        Mode::Custom(r, p) => (r.clone(), *p, None, true),
        Mode::Live(r, p, sys) => (r.clone(), *p, *sys, false),
    };
    intro(n, &name, qtype, &mode)?;
    let mut shown: HashSet<&'static str> = HashSet::new();
    let mut hosts_answer: Option<HostsAnswer> = None;
    if !args.walk_only {
        hosts_answer = stage_hosts(n, &name, qtype, args.hosts.as_deref())?;
        let stub = stage_stub(n, &name, qtype, &mode, args.timeout, lo.as_ref())?;
        if let Some(server) = recursive {
            let lab = match &mode {
                Mode::Lab(l) => Some(l),
                _ => None,
            };
            stage_recursive(
                n,
                &name,
                qtype,
                server,
                args.timeout,
                lab,
                stub.as_ref(),
                lo.as_ref(),
            )?;
        }
    }
    let cfg = Config {
        roots,
        port,
        timeout: args.timeout,
        // The whole trace's deadline, less what stages 1 to 3 took (their
        // network work, not the pauses between steps).
        deadline: Instant::now() + args.deadline.saturating_sub(n.work()),
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
            for step in walk_step(ev, qtype, &mut shown, lo.as_ref()) {
                if let Err(e) = n.tell(step) {
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
    n.n.summary(summary(&name, qtype, &outcome, hosts_answer.as_ref()))?;
    drop(mode);
    // As a program's lookup: the hosts file's answer counts as an answer.
    Ok(match (&outcome.status, &hosts_answer) {
        (Status::Answer, _) | (_, Some(_)) => exit::OK,
        _ => exit::NETWORK_NO,
    })
}

/// The narrator as this demo uses it: each participant id a step's packets
/// name gets its label on the first step that uses it, and the time spent
/// telling (the pauses of `--step` and `--pace`) is kept off the run's clock.
struct Teller<'n> {
    n: &'n mut Narrator,
    /// Participant ids already given their label.
    named: HashSet<String>,
    /// When the run began.
    started: Instant,
    /// Time spent in the narrator so far.
    telling: Duration,
}

impl<'n> Teller<'n> {
    fn new(n: &'n mut Narrator) -> Self {
        Teller {
            n,
            named: HashSet::new(),
            started: Instant::now(),
            telling: Duration::ZERO,
        }
    }

    /// The run's own time so far: its work, not the narration's pauses.
    fn work(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.telling)
    }

    /// Emit one step (and pause, as the narrator is set to).
    fn tell(&mut self, mut step: Step) -> Result<()> {
        let ids: Vec<String> = step
            .packets
            .iter()
            .filter(|p| !p.echo)
            .flat_map(|p| [p.from.clone(), p.to.clone()])
            .collect();
        for id in ids {
            if self.named.insert(id.clone()) {
                step = step.who(&id, participant_label(&id));
            }
        }
        let t = Instant::now();
        let told = self.n.step(step);
        self.telling += t.elapsed();
        told
    }
}

/// What the ladder and the page call a participant: the stub, the recursive
/// resolver, the root's servers, or a zone's servers by the zone's name.
fn participant_label(id: &str) -> Text {
    match id {
        "stub" => tx("stub", "存根解析器"),
        "resolver" => tx("resolver", "递归服务器"),
        "root" => tx("root", "根服务器"),
        zone => Text::from(zone),
    }
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

fn intro(n: &mut Teller, name: &CheckedName, qtype: RecordType, mode: &Mode) -> Result<()> {
    let (place, servers, port) = match mode {
        Mode::Lab(lab) => (
            say::where_lab(lab.servers.len(), lab.port),
            lab.servers
                .iter()
                .map(|s| ServerOut {
                    address: s.addr,
                    zones: s.zones.iter().map(|z| z.to_string()).collect(),
                    misbehaves: s.misbehaviour_name().map(String::from),
                })
                .collect::<Vec<_>>(),
            lab.port,
        ),
        Mode::Custom(r, port) => (
            say::where_custom(),
            r.iter()
                .map(|s| ServerOut {
                    address: s.addr,
                    zones: Vec::new(),
                    misbehaves: None,
                })
                .collect(),
            *port,
        ),
        Mode::Live(_, port, _) => (say::where_live(), vec![], *port),
    };
    let mut step = Step::new(
        say::look_up(&name.ascii, qtype),
        say::real_packets(&place),
        &["Q4", "Q27"],
    );
    if name.converted {
        step = step.fact(tx("typed", "输入"), name.input.clone()).fact(
            tx("punycode (IDNA)", "punycode（IDNA）"),
            name.ascii.clone(),
        );
        step.detail.en.push_str(
            "\nDNS carries only ASCII labels, so the internationalised name was converted to punycode (IDNA) first.",
        );
        step.detail
            .zh
            .push_str("\nDNS 报文里只能放 ASCII 标签，所以中文域名先按 IDNA 转换成 punycode。");
    }
    n.tell(step.with(&Intro {
        name: name.ascii.clone(),
        qtype: qtype.to_string(),
        punycode: name.converted.then(|| Punycode {
            input: name.input.clone(),
            ascii: name.ascii.clone(),
        }),
        port,
        servers,
    }))
}

/// A server as `name (address)`, without the port (the intro names the one port).
fn short_label(s: &Server) -> String {
    match &s.name {
        Some(n) => format!("{n} {}", s.addr.ip()),
        None => s.addr.ip().to_string(),
    }
}

/// The hosts-file line that answers the lookup before DNS is asked, and its file.
struct HostsAnswer {
    path: PathBuf,
    line: crate::host::HostsLine,
}

/// Whether a hosts-file address answers a lookup of `qtype`: the file holds
/// addresses only, an A lookup takes IPv4 and an AAAA lookup IPv6.
fn answers_type(ip: IpAddr, qtype: RecordType) -> bool {
    matches!(
        (ip, qtype),
        (IpAddr::V4(_), RecordType::A) | (IpAddr::V6(_), RecordType::AAAA)
    )
}

/// Stage 1: the hosts file. Returns the line that answers, when nsswitch.conf
/// reads the file before DNS and a line gives an address of the asked family.
fn stage_hosts(
    n: &mut Teller,
    name: &CheckedName,
    qtype: RecordType,
    hosts: Option<&Path>,
) -> Result<Option<HostsAnswer>> {
    let path: PathBuf = hosts
        .map(Path::to_path_buf)
        .unwrap_or_else(|| "/etc/hosts".into());
    let nsswitch = crate::host::nsswitch_hosts();
    let files_first = crate::host::files_before_dns(nsswitch.as_deref());
    // A file the user named is read with a cap, and only if it is a regular
    // file (--hosts /dev/zero would otherwise grow without end).
    let read = match hosts {
        Some(p) => Some(crate::private::read_input(
            p,
            16 << 20,
            &tx("--hosts", "--hosts"),
        )?),
        None => None,
    };
    let text = match read.map_or_else(|| std::fs::read_to_string(&path), Ok) {
        Ok(t) => t,
        Err(e) if hosts.is_none() => {
            return n
                .tell(
                    Step::new(
                        tx("No hosts file to read", "没有可读的 hosts 文件"),
                        say::hosts_unreadable(&path, &e),
                        &["Q4", "Q28"],
                    )
                    .section(section(1))
                    .with(&HostsOut {
                        file: path.display().to_string(),
                        matches: Vec::new(),
                        nsswitch,
                        files_first,
                        answer: None,
                    }),
                )
                .map(|_| None)
        }
        Err(source) => return Err(Error::Read { path, source }),
    };
    let found = crate::host::hosts_matches(&text, &name.ascii);
    let fitting = found.iter().find(|l| answers_type(l.address, qtype));
    let answer = fitting.filter(|_| files_first).cloned();
    let mut step = match (fitting, found.first()) {
        (Some(l), _) => Step::new(
            say::hosts_maps(&path, l.line, l.address),
            say::hosts_line_read(files_first),
            &["Q4", "Q28"],
        )
        .fact(tx("line", "行"), l.text.clone()),
        (None, Some(l)) => Step::new(
            say::hosts_maps(&path, l.line, l.address),
            say::hosts_line_not_this_type(l.address, qtype),
            &["Q4", "Q28"],
        )
        .fact(tx("line", "行"), l.text.clone()),
        (None, None) => Step::new(
            say::hosts_no_line(&path),
            say::hosts_no_match(files_first),
            &["Q4", "Q28"],
        ),
    };
    step = step.section(section(1));
    if let Some(l) = &nsswitch {
        step = step.fact(tx("nsswitch.conf", "nsswitch.conf"), format!("`{l}`"));
    }
    n.tell(
        step.correction(tx(
            "the notes have hosts always checked first; nsswitch.conf's `hosts:` line sets the order.",
            "笔记认为总是先查 hosts；实际顺序由 nsswitch.conf 里的 `hosts:` 行决定。",
        ))
        .with(&HostsOut {
            file: path.display().to_string(),
            matches: found,
            nsswitch,
            files_first,
            answer: answer.clone(),
        }),
    )?;
    Ok(answer.map(|line| HostsAnswer { path, line }))
}

/// What stage 2's stub got, for stage 3 to compare with.
struct StubSeen {
    /// The first lookup's time (the recursive server's walk included).
    took: Duration,
    /// The answer's TTL then.
    ttl: Option<u32>,
    /// Where its answer came from: the recursive server only if `Network`.
    source: Source,
    /// The RCODE of the recursive server's reply, when it asked.
    rcode: Option<String>,
}

impl StubSeen {
    /// Whether the stub's answer came from the recursive server stage 3 asks.
    fn asked_resolver(&self) -> bool {
        self.source == Source::Network
    }
}

/// One message the stub's socket recorded, as a packet record.
fn datagram_packet(d: &Datagram, lo: Option<&Capture>) -> Packet {
    let m = Message::from_vec(&d.bytes).ok();
    let mut label = match (&m, d.sent) {
        (Some(m), true) => match m.queries.first() {
            Some(q) => say::query(q.query_type(), q.name()),
            None => tx("query", "查询"),
        },
        (Some(m), false) => reply_label(m),
        (None, _) => tx("malformed", "格式错误"),
    };
    let (from, to) = if d.sent {
        (d.local, d.peer)
    } else {
        (d.peer, d.local)
    };
    let wire = match (d.transport, d.seq_ack) {
        (Transport::Tcp, Some(seq_ack)) => {
            if d.sent {
                label.en.push_str(" (TCP)");
                label.zh.push_str("（TCP）");
            }
            tcp_wire(from, to, &d.bytes, seq_ack)
        }
        _ => datagram_wire(from, to, &d.bytes, lo),
    };
    let (a, b) = if d.sent {
        ("stub", "resolver")
    } else {
        ("resolver", "stub")
    };
    Packet {
        direction: if d.sent {
            Direction::Sent
        } else {
            Direction::Received
        },
        transport: d.transport.as_str().into(),
        peer: d.peer.to_string(),
        fields: wire::dns::explain(&d.bytes).unwrap_or_default(),
        bytes: d.bytes.clone(),
        quiet: true,
        at: Some(d.at),
        wire,
        ..Packet::default()
    }
    .between(a, b, label)
}

/// What the stub's sockets recorded, as packet records. With a loopback
/// capture, each TCP connection is shown with its real segments (handshake,
/// ACKs, FINs), as the walk's TCP exchanges are.
fn stub_packets(datagrams: &[Datagram], lo: Option<&Capture>) -> Vec<Packet> {
    let mut out: Vec<Packet> = Vec::new();
    let mut connections: Vec<(SocketAddr, SocketAddr, Vec<Packet>)> = Vec::new();
    for d in datagrams {
        let p = datagram_packet(d, lo);
        match (d.transport, lo) {
            (Transport::Tcp, Some(_)) => {
                match connections.iter_mut().find(|(l, _, _)| *l == d.local) {
                    Some((_, _, ps)) => ps.push(p),
                    None => connections.push((d.local, d.peer, vec![p])),
                }
            }
            _ => out.push(p),
        }
    }
    if let Some(cap) = lo {
        for (local, server, dns) in connections {
            out.extend(tcp_conversation(
                local, server, dns, cap, "stub", "resolver",
            ));
        }
    }
    in_wire_order(out)
}

/// A UDP datagram's wire form: the loopback frame when captured, else an
/// IPv4/UDP packet rebuilt around the exact message.
fn datagram_wire(
    from: SocketAddr,
    to: SocketAddr,
    payload: &[u8],
    lo: Option<&Capture>,
) -> Option<Wire> {
    if let Some(cap) = lo {
        let frame = cap.find(Duration::from_millis(200), |f| {
            udp_frame_carries(&f.bytes, from.port(), to.port(), payload)
        });
        if let Some(f) = frame {
            return Some(Wire::frame("lo", &f.bytes));
        }
    }
    Some(Wire {
        link: "netlab DNS sockets".into(),
        ethernet: false,
        bytes: crate::wire::build::udp_packet(from, to, payload)?,
        rebuilt: true,
        original_len: None,
    })
}

/// The lab resolver's walk on a miss, as packet records from `resolver` to
/// each zone's server: quiet (the text view folds them into one line).
fn walk_packets(walks: &[WalkExchange], lo: Option<&Capture>) -> Vec<Packet> {
    walks
        .iter()
        .flat_map(|w| {
            let rl = w
                .exchange
                .reply
                .as_ref()
                .map(reply_label)
                .unwrap_or_default();
            packets(
                &w.exchange,
                false,
                "resolver",
                &participant(&w.zone),
                &rl,
                lo,
            )
        })
        .collect()
}

/// A stub's (or dig-like client's) packets with the walk the resolver made
/// between its query and its reply, in the order they crossed the sockets.
fn in_wire_order(mut packets: Vec<Packet>) -> Vec<Packet> {
    // Each record is stamped at its socket: before the send, after the receive.
    packets.sort_by_key(|p| p.at);
    packets
}

impl ResolverWalkOut {
    /// The walk in numbers; none when the resolver did not walk.
    fn of(walks: &[WalkExchange]) -> Option<ResolverWalkOut> {
        if walks.is_empty() {
            return None;
        }
        let mut zones: Vec<String> = Vec::new();
        for w in walks {
            let z = w.zone.to_string();
            if !zones.contains(&z) {
                zones.push(z);
            }
        }
        Some(ResolverWalkOut {
            queries: walks.len(),
            zones,
            servers: walks.iter().map(|w| w.exchange.server).collect(),
        })
    }
}

/// The folded line of a step whose packets include the resolver's walk.
fn resolver_walked(walks: &[WalkExchange]) -> Text {
    let mut who: Vec<String> = Vec::new();
    for w in walks {
        let p = participant(&w.zone);
        if !who.contains(&p) {
            who.push(p);
        }
    }
    say::resolver_walked(walks.len(), &who)
}

impl StubOut {
    fn of(lookup: u8, l: &crate::dns::stub::Lookup) -> StubOut {
        StubOut {
            lookup,
            records: l.records.iter().map(RecordOut::of).collect(),
            error: l.error.clone(),
            packets: l.datagrams.len(),
            took_us: l.took.as_micros() as u64,
            cached: l.source == Source::Cache,
            answered_by: l.source,
        }
    }
}

fn stage_stub(
    n: &mut Teller,
    name: &CheckedName,
    qtype: RecordType,
    mode: &Mode,
    timeout: Duration,
    lo: Option<&Capture>,
) -> Result<Option<StubSeen>> {
    let host_cache = crate::host::host_cache();
    let stub = match mode {
        // The lab resolver walks on a miss, which takes a while with a lame server in the way.
        Mode::Lab(lab) => match lab.resolver {
            Some(r) => Some(Stub::towards(r, timeout.max(Duration::from_secs(5)))?),
            None => None,
        },
        Mode::Live(..) => Some(Stub::system()?),
        Mode::Custom(..) => None,
    };
    let Some(stub) = stub else {
        return n
            .tell(
                Step::new(say::no_stub(), say::no_stub_detail(), &["Q4", "Q27"])
                    .section(section(2)),
            )
            .map(|_| None);
    };
    let live = matches!(mode, Mode::Live(..));
    let lab = match mode {
        Mode::Lab(l) => Some(l),
        _ => None,
    };
    let first = stub.lookup(&name.name, qtype);
    let walks = lab.map(DnsLab::resolver_walks).unwrap_or_default();
    let server = stub.setup.servers.first().copied();
    let (title, detail) = match first.source {
        Source::Itself => (
            say::stub_itself(&name.ascii, first.records.len(), first.took),
            say::stub_itself_detail(!first.records.is_empty()),
        ),
        _ => (
            say::stub_asked(
                server,
                first.records.len(),
                first.error.is_some(),
                first.took,
            ),
            say::stub_detail(live),
        ),
    };
    let mut step = Step::new(title, detail, &["Q4", "Q27"])
        .section(section(2))
        .fact(
            tx("stub", "存根"),
            format!(
                "{} · ndots:{} timeout:{} attempts:{}",
                stub.setup
                    .servers
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                stub.setup.ndots,
                stub.setup.timeout_s,
                stub.setup.attempts
            ),
        );
    if !stub.setup.ignored.is_empty() {
        step = step.fact(
            tx("left out", "未采用"),
            say::beyond_maxns(&stub.setup.ignored),
        );
    }
    if live {
        step = step.fact(
            tx("search", "搜索列表"),
            if stub.setup.search.is_empty() {
                "-".to_string()
            } else {
                stub.setup.search.join(" ")
            },
        );
    }
    let step = with_walk(step, &walks).with(&StubFirst {
        setup: stub.setup.clone(),
        stub: StubOut::of(1, &first),
        resolver_walk: ResolverWalkOut::of(&walks),
    });
    let mut records = stub_packets(&first.datagrams, lo);
    records.extend(walk_packets(&walks, lo));
    n.tell(step.with_packets(in_wire_order(records)))?;
    let second = stub.lookup(&name.name, qtype);
    n.tell(
        Step::new(
            say::stub_again(second.datagrams.len(), second.took, second.source),
            say::stub_cache(host_cache, second.source),
            &["Q4", "Q27"],
        )
        .section(section(2))
        .with(&StubAgain {
            host_cache: host_cache.into(),
            stub: StubOut::of(2, &second),
        })
        .with_packets(stub_packets(&second.datagrams, lo)),
    )?;
    let reply = first
        .datagrams
        .iter()
        .rev()
        .find(|d| !d.sent)
        .and_then(|d| Message::from_vec(&d.bytes).ok());
    Ok(Some(StubSeen {
        took: first.took,
        ttl: first.records.iter().map(|r| r.ttl).min(),
        source: first.source,
        rcode: reply.map(|m| rcode_str(m.metadata.response_code)),
    }))
}

/// The query and reply of one exchange as packet records: `from` asked `to`;
/// `reply_label` names what came back.
fn packets(
    ex: &Exchange,
    show: bool,
    from: &str,
    to: &str,
    reply_label: &Text,
    lo: Option<&Capture>,
) -> Vec<Packet> {
    let question = Message::from_vec(&ex.query_bytes)
        .ok()
        .and_then(|m| m.queries.first().cloned());
    let mut qlabel = match &question {
        Some(q) => say::query(q.query_type(), q.name()),
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
    let at_reply = ex.received_at.unwrap_or(ex.sent_at + ex.rtt);
    let mut v = vec![Packet {
        direction: Direction::Sent,
        transport: ex.transport.as_str().to_string(),
        peer: ex.server.to_string(),
        fields: wire::dns::explain(&ex.query_bytes).unwrap_or_default(),
        bytes: ex.query_bytes.clone(),
        show_bytes: show,
        quiet: !show,
        at: Some(ex.sent_at),
        wire: wire(ex, false, lo),
        ..Packet::default()
    }
    .between(from, to, qlabel)];
    if let Some(b) = &ex.reply_bytes {
        v.push(
            Packet {
                direction: Direction::Received,
                transport: ex.transport.as_str().to_string(),
                peer: ex.server.to_string(),
                fields: wire::dns::explain(b).unwrap_or_default(),
                bytes: b.clone(),
                show_bytes: show,
                quiet: !show,
                at: Some(at_reply),
                wire: wire(ex, true, lo),
                ..Packet::default()
            }
            .between(to, from, reply_label.clone()),
        );
    }
    if let (Some(cap), Some(local), Transport::Tcp) = (lo, ex.local, ex.transport) {
        return tcp_conversation(local, ex.server, v, cap, from, to);
    }
    v
}

/// DNS over TCP with a loopback capture: the connection's real segments, in
/// order. A DNS message's record is the segment that completes it (its 2-byte
/// length and its bytes may come in two writes, so two segments); `dns` holds
/// the messages as sent and received, in order. The handshake, ACKs, FINs and
/// any first part of a message are records of their own.
fn tcp_conversation(
    local: SocketAddr,
    server: SocketAddr,
    dns: Vec<Packet>,
    cap: &Capture,
    from: &str,
    to: &str,
) -> Vec<Packet> {
    use crate::wire::frame::{self, Kind};
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
    let (mut sent, mut received): (VecDeque<Packet>, VecDeque<Packet>) = dns
        .into_iter()
        .partition(|p| p.direction == Direction::Sent);
    // Stream bytes seen in each direction and not yet given to a message.
    let (mut sent_bytes, mut received_bytes) = (0usize, 0usize);
    let mut out = Vec::new();
    for f in &frames {
        let Some((sport, _, _, len)) = ports(f) else {
            continue;
        };
        let outbound = sport == local.port();
        let (queue, seen) = if outbound {
            (&mut sent, &mut sent_bytes)
        } else {
            (&mut received, &mut received_bytes)
        };
        *seen += len;
        let whole = queue.front().is_some_and(|p| 2 + p.bytes.len() <= *seen);
        if len > 0 && whole {
            if let Some(mut p) = queue.pop_front() {
                *seen -= 2 + p.bytes.len();
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
    out.extend(sent);
    out.extend(received);
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
            return say::referral_to(&ns.name);
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

#[allow(clippy::too_many_arguments)]
fn stage_recursive(
    n: &mut Teller,
    name: &CheckedName,
    qtype: RecordType,
    server: SocketAddr,
    timeout: Duration,
    lab: Option<&DnsLab>,
    stub: Option<&StubSeen>,
    lo: Option<&Capture>,
) -> Result<()> {
    // The lab resolver walks on a miss, which can take a while with a lame server in the way.
    let timeout = timeout.max(Duration::from_secs(5));
    let hits_before = lab.map(DnsLab::cache_hits);
    let asks = ask_recursive(&name.name, qtype, server, timeout);
    // Whether the lab's resolver answered from its cache (unknown for a real one).
    let cached = lab.zip(hits_before).map(|(l, b)| l.cache_hits() > b);
    // On a miss it walked again: those packets are this step's too.
    let walks = lab.map(DnsLab::resolver_walks).unwrap_or_default();
    let last = asks.last().expect("at least one exchange");
    let mut records_out: Vec<Packet> = Vec::new();
    for ex in &asks {
        let rl = ex.reply.as_ref().map(reply_label).unwrap_or_default();
        records_out.extend(packets(ex, false, "stub", "resolver", &rl, lo));
    }
    records_out.extend(walk_packets(&walks, lo));
    let records_out = in_wire_order(records_out);
    let Some(reply) = last.reply.clone() else {
        let why = last.failure.clone().unwrap_or(Failure::Timeout);
        let mut s = Step::new(
            say::resolver_silent(server, &why),
            tx(
                "Stage 4 still walks from the root, as the server would have.",
                "第 4 阶段仍然从根开始逐级查询，就像服务器本该做的那样。",
            ),
            &["Q4"],
        )
        .section(section(3))
        .with(&RecursiveSilent {
            failure: why.to_string(),
            resolver_walk: ResolverWalkOut::of(&walks),
        });
        s.packets = records_out;
        return n.tell(with_walk(s, &walks));
    };
    let rcode = rcode_str(reply.metadata.response_code);
    // Long record data (a TXT of hundreds of bytes) is cut for the screen; JSON has it whole.
    let records: Vec<String> = reply
        .answers
        .iter()
        .map(|r| crate::narrate::wrap::truncate(&wire::dns::record_line(r), 64))
        .collect();
    let over_tcp = asks.len() > 1;
    let ttl = cache_ttl(&reply);
    // Stage 2's figures compare with this answer only when the stub's answer
    // came from this server.
    let asked = stub.filter(|s| s.asked_resolver());
    let speedup = asked.and_then(|s| {
        let r = s.took.as_secs_f64() / last.rtt.as_secs_f64().max(1e-9);
        (r >= 1.5).then_some(r)
    });
    let ttls = asked.and_then(|s| s.ttl).zip(ttl);
    let cache = match cached {
        None => say::Cache::Unknown,
        Some(true) if reply.answers.is_empty() && rcode != "SERVFAIL" => say::Cache::HitNegative,
        Some(true) => say::Cache::Hit,
        Some(false) => match stub {
            Some(s) if !s.asked_resolver() => say::Cache::MissNeverAsked,
            Some(s) if s.rcode.as_deref() == Some("SERVFAIL") => say::Cache::MissAfterFailure,
            _ => say::Cache::Miss,
        },
    };
    let mut step = Step::new(
        say::ask_rd1(server.ip(), &rcode, records.len(), ms(last.rtt)),
        say::rd1_detail(cache, speedup, ttls, over_tcp),
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
    step.packets = records_out;
    n.tell(with_walk(step, &walks).with(&Recursive {
        rcode,
        rtt_ms: ms(last.rtt),
        ttl,
        stub_ttl: asked.and_then(|s| s.ttl),
        truncated_then_tcp: over_tcp,
        cached,
        resolver_walk: ResolverWalkOut::of(&walks),
    }))
}

/// A step whose packets hold a walk of the lab resolver's: its folded line.
fn with_walk(step: Step, walks: &[WalkExchange]) -> Step {
    if walks.is_empty() {
        return step;
    }
    step.fact(tx("resolver", "递归服务器"), resolver_walked(walks))
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
            say::no_usable(f, remaining),
            say::no_reply(f, ex),
            &["Q4"],
        ),
        Verdict::ServerError(rc) => Reading::new(
            say::server_error(rc, remaining),
            tx(
                "The server refused or failed; the resolver tries another server of the same zone.",
                "服务器拒绝或出错；解析器换同一区的另一台服务器。",
            ),
            &["Q4"],
        ),
        Verdict::Lame(why) => Reading::new(
            say::unusable(why, remaining),
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
    let glue = ns.iter().any(|(_, ips)| !ips.is_empty());
    let in_zone = ns
        .iter()
        .find(|(n, ips)| !ips.is_empty() && child.zone_of(n));
    let (concept, mut detail) = if glue {
        ("referral", say::referral_glue(child))
    } else {
        ("referral-noglue", say::referral_no_glue(child))
    };
    if let Some((n, _)) = in_zone {
        let why = say::glue_needed(n, child);
        detail.en.push_str(&why.en);
        detail.zh.push_str(&why.zh);
    }
    Reading {
        concept: Some(concept),
        ns: Some(say::ns_set(ns)),
        ..Reading::new(say::referral_to(child), detail, &["Q4", "Q27"])
    }
}

fn answer_reading(records: &[Record], qtype: RecordType) -> Reading {
    let l: Vec<String> = records
        .iter()
        .map(|r| crate::narrate::wrap::truncate(&r.data.to_string(), 40))
        .collect();
    Reading::new(
        say::answer(qtype, &l),
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
        &["Q4", "Q27"],
    )
}

fn nxdomain_reading(soa: &Option<Record>) -> Reading {
    Reading::new(
        say::nxdomain(&soa_text(soa)),
        tx(
            "The authoritative server says no such name exists (RCODE 3). The SOA record in AUTHORITY proves which zone said so, and its TTL/MINIMUM bounds how long resolvers may cache this 'no' (RFC 2308).",
            "权威服务器说这个名字不存在（RCODE 3）。AUTHORITY 段的 SOA 记录表明是哪个区作出的否定，其 TTL/MINIMUM 决定解析器可以把这个「不存在」缓存多久（RFC 2308）。",
        ),
        &["Q4", "Q27"],
    )
}

fn nodata_reading(soa: &Option<Record>, qtype: RecordType) -> Reading {
    Reading::new(
        say::nodata(qtype, &soa_text(soa)),
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
                "TC=1, the reply did not fit in UDP — asking again over TCP",
                "TC=1，应答装不进 UDP——改用 TCP 重新询问",
            ),
            tx(
                "Without EDNS a DNS reply over UDP may be at most 512 bytes. The server sent what fits and set TC (truncated); the resolver repeats the question over TCP port 53, where each message is preceded by its 2-byte length.",
                "不带 EDNS 时，UDP 上的 DNS 应答最多 512 字节。服务器只发了放得下的部分并置 TC（截断）位；解析器改用 TCP 53 重问，TCP 上每个 DNS 报文前面都有一个 2 字节的长度字段。",
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

fn walk_step(
    ev: Event<'_>,
    qtype: RecordType,
    shown: &mut HashSet<&'static str>,
    lo: Option<&Capture>,
) -> Vec<Step> {
    match ev {
        Event::Start { name, via, roots } => {
            let (title, detail) = match via {
                None => (
                    say::start(name),
                    tx(
                        "Now netlab plays a recursive server with an empty cache: it knows only the root servers (its root hints). It asks with RD=0: each server answers from its own zones or refers it further down.",
                        "现在由 netlab 扮演缓存为空的递归服务器：它只知道根服务器的地址（根提示）。它以 RD=0 询问，每台服务器只根据自己的区回答，或者把它指向更下一级。",
                    ),
                ),
                Some(alias) => (
                    say::restart(alias, name),
                    tx(
                        "The target is in another zone, so the walk begins again. A resolver starts from the closest servers it already knows (here com.'s); netlab starts at the root to show the whole path.",
                        "目标在另一个区里，所以要重新查询。真实的解析器会从它已经知道的、离目标最近的服务器开始（这里是 com. 的）；netlab 从根开始，好把完整路径展示出来。",
                    ),
                ),
            };
            let mut s = Step::new(title, detail, &["Q4", "Q27"])
                .section(section(4))
                .concept(if via.is_some() { "cname-restart" } else { "walk-start" });
            if via.is_some() {
                s = s.correction(tx(
                    "the notes have www.baidu.com resolve straight to one address; the real answer begins with a CNAME.",
                    "笔记认为 www.baidu.com 直接解析成一个地址；真实的答案以一条 CNAME 开头。",
                ));
            }
            if via.is_none() {
                s = s.fact(
                    tx("root hints", "根提示"),
                    say::root_hints(&roots.iter().map(short_label).collect::<Vec<_>>()),
                );
            }
            vec![s.with(&WalkStart {
                name: name.to_string(),
                via: via.map(|v| v.to_string()),
                roots: roots.iter().map(|r| r.addr).collect(),
            })]
        }
        Event::Exchanged { zone, server, exchange: ex, verdict, remaining } => {
            let kind = verdict_kind(verdict);
            let zone_label = if zone.is_root() { ".".to_string() } else { zone.to_string() };
            let sname = server.name.as_ref().map(|n| n.to_string()).unwrap_or_else(|| ex.server.ip().to_string());
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
                say::asked(&sname, zone, ex.transport, &result),
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
            s.questions = qs.into_iter().map(String::from).collect();
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
                        say::none_after(ex.rtt.as_secs_f64()),
                    );
                }
            }
            if ex.ignored > 0 {
                s = s.fact(tx("ignored datagrams", "忽略的数据报"), ex.ignored.to_string());
            }
            let rl = ex.reply.as_ref().map(reply_label).unwrap_or_default();
            s.packets = packets(ex, false, "resolver", &participant(zone), &rl, lo);
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
            let records = |v: &[Record]| v.iter().map(RecordOut::of).collect::<Vec<_>>();
            let reply = ex.reply.as_ref().map(|m| ReplyOut {
                rcode: rcode_str(m.metadata.response_code),
                aa: m.metadata.authoritative,
                tc: m.metadata.truncation,
                answer: records(&m.answers),
                authority: records(&m.authorities),
                additional: records(&m.additionals),
            });
            s = s.with(&ExchangeOut {
                server: ex.server,
                server_name: server.name.as_ref().map(|n| n.to_string()),
                zone: zone_label,
                transport: ex.transport.as_str(),
                rtt_ms: ms(ex.rtt),
                verdict: kind,
                ignored: ex.ignored,
                ignored_why: ex.ignored_why.clone(),
                reply,
                failure: ex.failure.as_ref().map(|f| f.to_string()),
                referral_zone: match verdict {
                    Verdict::Referral { zone: child, .. } => Some(child.to_string()),
                    _ => None,
                },
            });
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
                say::skip(&server.label()),
                tx(
                    "Without --live netlab never sends a packet beyond loopback, so a referral to an outside address is not followed.",
                    "不加 --live 时 netlab 绝不向本机以外发包，所以不跟随指向外部地址的转介。",
                ),
                &["Q4"],
            )
            .section(section(4))
            .with(&SkippedOut { server: server.addr }),
        ],
        Event::GluelessLookup { ns } => vec![
            Step::new(
                say::glueless(ns),
                tx(
                    "The referral named a server outside the delegated zone without an address, so the resolver resolves that server's name with a walk of its own before it can continue.",
                    "转介给出的服务器名字不在被委派的区内，也没有附带地址，所以解析器要先为这个服务器名单独查一次，才能继续。",
                ),
                &["Q4"],
            )
            .section(section(4))
            .with(&GluelessOut { ns: ns.to_string() }),
        ],
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
    let counts = (m.answers.len(), m.authorities.len(), m.additionals.len());
    say::reply_counts(
        &rcode_str(m.metadata.response_code),
        &flags(m),
        counts,
        ms(rtt),
    )
}

fn soa_text(soa: &Option<Record>) -> Text {
    match soa {
        Some(r) => match &r.data {
            RData::SOA(s) => say::soa(&r.name, r.ttl.min(s.minimum)),
            _ => Text::default(),
        },
        None => Text::default(),
    }
}

fn summary(
    name: &CheckedName,
    qtype: RecordType,
    out: &walk::Outcome,
    hosts: Option<&HostsAnswer>,
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
    let dns = match &out.status {
        Status::Answer => {
            let l: Vec<String> = out
                .answers
                .iter()
                .map(|r| crate::narrate::wrap::truncate(&r.data.to_string(), 40))
                .collect();
            let via = out.cname_chain.last().and_then(cname_target);
            say::dns_found(qtype, &l, via.as_ref())
        }
        Status::NxDomain => say::dns_no_such_name(),
        Status::NoData => say::dns_no_record(qtype),
        Status::Failed(why) => say::dns_failed(&why.reason, why.cause),
    };
    let totals = say::totals(out.queries, unique(&out.servers), ms(out.elapsed));
    // A program's resolver takes the hosts file's line when nsswitch.conf reads
    // it first: that is the run's answer, and DNS's is what it would have been.
    let (title, lines, ok) = match hosts {
        Some(h) => (
            say::from_hosts(&name.ascii, qtype, h.line.address, &h.path, h.line.line),
            vec![say::dns_alone(&dns), totals],
            true,
        ),
        None => {
            let answered = out.status == Status::Answer;
            (
                say::headline(&name.ascii, &dns, answered),
                vec![totals],
                answered,
            )
        }
    };
    let failed = match &out.status {
        Status::Failed(why) => Some(why),
        _ => None,
    };
    let result = TraceOut {
        name: name.ascii.clone(),
        qtype: qtype.to_string(),
        answer_from: if hosts.is_some() {
            AnswerFrom::Hosts
        } else {
            AnswerFrom::Dns
        },
        hosts: hosts.map(|h| h.line.clone()),
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
        elapsed_ms: ms(out.elapsed),
    };
    Summary {
        title,
        lines,
        // The narrator lists the questions the run's steps showed.
        ok,
        ..Summary::default()
    }
    .with(&result)
}

fn unique(v: &[SocketAddr]) -> usize {
    v.iter().collect::<HashSet<_>>().len()
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "dns-trace",
        "A name looked up from the hosts file through the stub, the local resolver and the walk from the root.",
    )
    .step::<Intro>("the first step: the name and the run's DNS servers")
    .step::<HostsOut>("1 · the hosts file")
    .step::<StubFirst>("2 · the stub's first lookup (its packets: the stub's query and reply, and the lab resolver's walk between them)")
    .step::<StubAgain>("2 · the same lookup again")
    .step::<Recursive>("3 · the local recursive server asked with RD=1")
    .step::<RecursiveSilent>("3 · the recursive server gave no reply (instead of the above)")
    .step::<WalkStart>("4 · a walk from the root begins (again after a CNAME)")
    .step::<ExchangeOut>("4 · each server asked (its packets: the query and the reply)")
    .step::<SkippedOut>("4 · a server off this machine, not asked")
    .step::<GluelessOut>("4 · a name server's address looked up first (no glue)")
    .summary::<TraceOut>()
}
