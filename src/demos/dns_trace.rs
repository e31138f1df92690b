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
use crate::lab::dns::DnsLab;
use crate::lab::zones::ZoneSet;
use crate::narrate::{tx, Direction, Narrator, Packet, Step, Summary, Text};
use crate::pcap::PcapOut;
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
fn plan(args: &DnsTraceArgs) -> Result<(CheckedName, Mode)> {
    let name = name::check(&args.name)?;
    if let Some(h) = &args.hosts {
        if !h.is_file() {
            return Err(Error::usage(format!(
                "--hosts {}: no such file; give a file in hosts format (the default is /etc/hosts)",
                h.display()
            )));
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
            system_nameservers()
                .first()
                .map(|ip| SocketAddr::new(*ip, 53)),
        )
    } else if let Some(r) = &args.root_servers {
        if let Some(a) = r.addrs.iter().find(|a| !a.ip().is_loopback()) {
            return Err(Error::usage(format!(
                "--root-servers {a} is off this machine; add --live to send packets beyond loopback"
            )));
        }
        Mode::Custom(r.addrs.iter().copied().map(Server::at).collect(), r.port)
    } else {
        let zones = match &args.lab_zones {
            Some(dir) => ZoneSet::from_dir(dir)?,
            None => ZoneSet::builtin()?,
        };
        Mode::Lab(DnsLab::start(&zones, 0, true)?)
    };
    Ok((name, mode))
}

/// Add one exchange to the pcap: UDP datagrams, or TCP segments with the 2-byte length.
fn record(pcap: &mut Option<&mut PcapOut>, ex: &Exchange, what: &str) {
    let Some(p) = pcap.as_deref_mut() else {
        return;
    };
    let Some(local) = ex.source() else {
        return;
    };
    let name = "netlab DNS sockets";
    let note = "DNS message exactly as netlab sent/received it; IPv4 and UDP/TCP headers rebuilt from the socket addresses";
    let reply_at = ex.sent_at + ex.rtt;
    match ex.transport {
        Transport::Udp => {
            if let Some(q) = crate::pcap::udp_packet(local, ex.server, &ex.query_bytes) {
                p.ipv4(name, ex.sent_at, q, &format!("{what}: query. {note}"));
            }
            if let Some(r) = ex
                .reply_bytes
                .as_ref()
                .and_then(|b| crate::pcap::udp_packet(ex.server, local, b))
            {
                p.ipv4(name, reply_at, r, &format!("{what}: reply. {note}"));
            }
        }
        Transport::Tcp => {
            let framed = |b: &[u8]| {
                let mut v = (b.len() as u16).to_be_bytes().to_vec();
                v.extend_from_slice(b);
                v
            };
            let q = framed(&ex.query_bytes);
            if let Some(pk) = crate::pcap::tcp_packet(local, ex.server, 1, 1, &q) {
                p.ipv4(
                    name,
                    ex.sent_at,
                    pk,
                    &format!("{what}: query over TCP (handshake not shown). {note}"),
                );
            }
            if let Some(b) = &ex.reply_bytes {
                if let Some(pk) =
                    crate::pcap::tcp_packet(ex.server, local, 1, 1 + q.len() as u32, &framed(b))
                {
                    p.ipv4(
                        name,
                        reply_at,
                        pk,
                        &format!("{what}: reply over TCP. {note}"),
                    );
                }
            }
        }
    }
}

/// Run the demo; returns the exit code.
pub fn run(args: &DnsTraceArgs, n: &mut Narrator, mut pcap: Option<&mut PcapOut>) -> Result<i32> {
    let started = Instant::now();
    let (name, mode) = plan(args)?;
    let qtype = record_type(args.qtype);
    let (roots, port, recursive, loopback_only) = match &mode {
        Mode::Lab(lab) => (lab.roots.clone(), lab.port, lab.resolver, true),
        Mode::Custom(r, p) => (r.clone(), *p, None, true),
        Mode::Live(r, p, sys) => (r.clone(), *p, *sys, false),
    };
    intro(n, &name, qtype, &mode)?;
    if !args.walk_only {
        stage_hosts(n, &name, args.hosts.as_deref())?;
        stage_stub(n, &mode)?;
        if let Some(server) = recursive {
            stage_recursive(n, &name, qtype, server, args.timeout, &mut pcap)?;
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
    let mut shown: HashSet<&'static str> = HashSet::new();
    let mut out_err: Option<Error> = None;
    let outcome = {
        let mut observe = |ev: Event<'_>| {
            if out_err.is_some() {
                return;
            }
            if let Event::Exchanged {
                zone,
                server,
                exchange,
                ..
            } = &ev
            {
                record(
                    &mut pcap,
                    exchange,
                    &format!(
                        "stage 4, iterative walk: {} for zone {zone}",
                        server.label()
                    ),
                );
            }
            if let Some(step) = walk_step(ev, qtype, &mut shown) {
                if let Err(e) = n.step(step) {
                    out_err = Some(e);
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
        1 => tx("Stage 1 · the hosts file", "第 1 步 · hosts 文件"),
        2 => tx(
            "Stage 2 · the stub resolver and its cache",
            "第 2 步 · 存根解析器及其缓存",
        ),
        3 => tx(
            "Stage 3 · the local recursive server (RD=1)",
            "第 3 步 · 本地递归服务器（RD=1）",
        ),
        _ => tx(
            "Stage 4 · the iterative walk: root → TLD → authoritative",
            "第 4 步 · 迭代查询：根 → 顶级域 → 权威",
        ),
    }
}

fn intro(n: &mut Narrator, name: &CheckedName, qtype: RecordType, mode: &Mode) -> Result<()> {
    let (where_en, where_zh, servers) = match mode {
        Mode::Lab(lab) => (
            format!(
                "the built-in lab: {} real DNS servers on 127.53.0.0/16 port {}, started for this run; nothing leaves this machine",
                lab.servers.len(),
                lab.port
            ),
            format!(
                "内置实验网络：本次运行在 127.53.0.0/16 端口 {} 上启动了 {} 台真实 DNS 服务器，数据包不会离开本机",
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
            "the servers given with --root-servers, on this machine".to_string(),
            "--root-servers 指定的本机服务器".to_string(),
            r.iter().map(|s| s.addr.to_string()).collect(),
        ),
        Mode::Live(..) => (
            "the real Internet (--live), starting at IANA's root servers".to_string(),
            "真实互联网（--live），从 IANA 的根服务器开始".to_string(),
            vec![],
        ),
    };
    let mut step = Step::new(
        tx(
            format!("Look up {} {qtype}", name.ascii),
            format!("查询 {} 的 {qtype} 记录", name.ascii),
        ),
        tx(
            format!("netlab follows the path a lookup takes, against {where_en}."),
            format!("netlab 沿着一次域名查询的真实路径走一遍，对象是{where_zh}。"),
        ),
        &["Q4", "Q27"],
    )
    .section(section(0))
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
    if let Mode::Lab(lab) = mode {
        step = step
            .fact(
                tx("root servers", "根服务器"),
                lab.roots
                    .iter()
                    .map(Server::label)
                    .collect::<Vec<_>>()
                    .join(", "),
            )
            .fact(
                tx("misbehaving servers", "行为异常的服务器"),
                lab.servers
                    .iter()
                    .filter_map(|s| Some(format!("{} {}", s.addr.ip(), s.misbehaviour_name()?)))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
    }
    n.step(step.data("servers", servers))
}

/// Lines of a hosts file that name `host`, with line numbers.
pub fn hosts_matches(text: &str, host: &str) -> Vec<(usize, String, IpAddr)> {
    let want = host.trim_end_matches('.').to_ascii_lowercase();
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let content = line.split('#').next().unwrap_or("");
            let mut words = content.split_whitespace();
            let ip: IpAddr = words.next()?.parse().ok()?;
            words
                .any(|w| w.trim_end_matches('.').eq_ignore_ascii_case(&want))
                .then(|| (i + 1, line.trim().to_string(), ip))
        })
        .collect()
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
    let found = hosts_matches(&text, &name.ascii);
    let nsswitch = std::fs::read_to_string("/etc/nsswitch.conf")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.trim_start().starts_with("hosts:"))
                .map(|l| l.trim().to_string())
        });
    let mut step = if let Some((line_no, line, ip)) = found.first() {
        Step::new(
            tx(
                format!("{} line {line_no} maps the name to {ip}", path.display()),
                format!("{} 第 {line_no} 行把这个名字映射到 {ip}", path.display()),
            ),
            tx(
                "The resolver library reads the hosts file before DNS (when nsswitch.conf says `files` first). A match ends the lookup here: no packet is sent. netlab goes on anyway, to show what DNS itself would answer.",
                "解析库在问 DNS 之前先读 hosts 文件（nsswitch.conf 里 files 排在前面时）。一旦匹配，查询到此结束，不发任何数据包。netlab 仍然继续，演示 DNS 本身会怎样回答。",
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
                "The resolver library checks the hosts file first; with no match it moves on to DNS. Add a line `IP NAME` (as root) to override DNS for this machine only.",
                "解析库先查 hosts 文件，没有匹配就转向 DNS。以 root 身份加一行「IP 名字」，就能只在本机覆盖 DNS 的结果。",
            ),
            &["Q4", "Q28"],
        )
    };
    step = step
        .section(section(1))
        .fact(tx("file", "文件"), path.display().to_string());
    if let Some(l) = &nsswitch {
        step = step.fact(tx("/etc/nsswitch.conf", "/etc/nsswitch.conf"), l.clone());
    }
    let matches: Vec<Value> = found
        .iter()
        .map(|(no, line, ip)| json!({"line": no, "text": line, "address": ip.to_string()}))
        .collect();
    n.step(
        step.correction(tx(
            "the notes say the OS always checks hosts first; the order is whatever the `hosts:` line of /etc/nsswitch.conf says.",
            "笔记说操作系统总是先查 hosts；实际顺序由 /etc/nsswitch.conf 的 hosts: 行决定。",
        ))
        .data("file", path.display().to_string())
        .data("matches", matches)
        .data("nsswitch", nsswitch.map(Value::from).unwrap_or(Value::Null)),
    )
}

/// Nameservers from /etc/resolv.conf.
pub fn system_nameservers() -> Vec<IpAddr> {
    std::fs::read_to_string("/etc/resolv.conf")
        .map(|t| parse_resolv_conf(&t))
        .unwrap_or_default()
}

/// The `nameserver` addresses of resolv.conf text.
pub fn parse_resolv_conf(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next()? == "nameserver").then_some(())?;
            w.next()?.parse().ok()
        })
        .collect()
}

fn stage_stub(n: &mut Narrator, mode: &Mode) -> Result<()> {
    let system = system_nameservers();
    let cache_en;
    let cache_zh;
    if system.iter().any(|ip| *ip == IpAddr::from([127, 0, 0, 53])) {
        cache_en = "127.0.0.53 is systemd-resolved: a local caching stub, so a repeat lookup is answered from its cache without any packet leaving the machine.";
        cache_zh = "127.0.0.53 是 systemd-resolved：一个带缓存的本地存根，重复查询直接由缓存回答，不出本机。";
    } else if Path::new("/var/run/nscd/socket").exists() {
        cache_en = "nscd is running: it caches host lookups for the resolver library.";
        cache_zh = "nscd 正在运行：它为解析库缓存主机名查询结果。";
    } else {
        cache_en = "No caching stub is running here (no systemd-resolved, no nscd): glibc itself keeps no DNS cache, so every lookup goes to the recursive server, whose cache does the work.";
        cache_zh = "本机没有带缓存的存根（没有 systemd-resolved，也没有 nscd）：glibc 自己不缓存 DNS，每次都去问递归服务器，缓存由递归服务器负责。";
    }
    let (target_en, target_zh) = match mode {
        Mode::Lab(lab) => {
            let r = lab.resolver.map(|a| a.to_string()).unwrap_or_default();
            (
                format!("In the lab, netlab's stub sends to the lab's recursive server {r} instead; nothing is sent to the system's servers."),
                format!("在实验网络里，netlab 的存根改为发往实验网络的递归服务器 {r}，不会向系统配置的服务器发送任何东西。"),
            )
        }
        Mode::Custom(..) => (
            "With --root-servers there is no local recursive server: stage 4 plays its part."
                .to_string(),
            "使用 --root-servers 时没有本地递归服务器：由第 4 步扮演它的角色。".to_string(),
        ),
        Mode::Live(..) => (
            "With --live, stage 3 asks the first of these servers.".to_string(),
            "使用 --live 时，第 3 步会询问其中第一台服务器。".to_string(),
        ),
    };
    let list: Vec<String> = system.iter().map(|i| i.to_string()).collect();
    n.step(
        Step::new(
            tx("The stub resolver hands the question to a recursive server", "存根解析器把问题交给递归服务器"),
            tx(
                format!("The stub resolver in every program (glibc's getaddrinfo) does not walk DNS itself: it sends one query with RD=1 (recursion desired) to the servers in /etc/resolv.conf. {cache_en} {target_en}"),
                format!("每个程序里的存根解析器（glibc 的 getaddrinfo）自己不做逐级查询：它按 /etc/resolv.conf 向服务器发一个 RD=1（期望递归）的查询。{cache_zh}{target_zh}"),
            ),
            &["Q4", "Q27"],
        )
        .section(section(2))
        .fact(
            tx("/etc/resolv.conf", "/etc/resolv.conf"),
            if list.is_empty() { "(none)".to_string() } else { list.join(", ") },
        )
        .data("system_nameservers", list),
    )
}

fn packets(ex: &Exchange, show: bool) -> Vec<Packet> {
    let mut v = vec![Packet {
        direction: Direction::Sent,
        transport: ex.transport.as_str(),
        peer: ex.server.to_string(),
        summary: String::new(),
        fields: wire::dns::explain(&ex.query_bytes).unwrap_or_default(),
        bytes: ex.query_bytes.clone(),
        show_bytes: show,
    }];
    if let Some(b) = &ex.reply_bytes {
        v.push(Packet {
            direction: Direction::Received,
            transport: ex.transport.as_str(),
            peer: ex.server.to_string(),
            summary: String::new(),
            fields: wire::dns::explain(b).unwrap_or_default(),
            bytes: b.clone(),
            show_bytes: show,
        });
    }
    v
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

fn min_ttl(m: &Message) -> Option<u32> {
    m.answers.iter().map(|r| r.ttl).min()
}

fn ask_recursive(
    name: &CheckedName,
    qtype: RecordType,
    server: SocketAddr,
    timeout: Duration,
) -> Exchange {
    let q = build_query(&name.name, qtype, true);
    let ex = exchange(server, &q, Transport::Udp, timeout);
    if ex.reply.as_ref().is_some_and(|m| m.metadata.truncation) {
        return exchange(server, &q, Transport::Tcp, timeout);
    }
    ex
}

fn stage_recursive(
    n: &mut Narrator,
    name: &CheckedName,
    qtype: RecordType,
    server: SocketAddr,
    timeout: Duration,
    pcap: &mut Option<&mut PcapOut>,
) -> Result<()> {
    // The lab resolver walks on a miss, which can take a while with a lame server in the way.
    let timeout = timeout.max(Duration::from_secs(5));
    let first = ask_recursive(name, qtype, server, timeout);
    record(
        pcap,
        &first,
        "stage 3, recursive server, first ask (cache miss)",
    );
    let Some(reply1) = first.reply.clone() else {
        let why = first.failure.map(|f| f.to_string()).unwrap_or_default();
        return n.step(
            Step::new(
                tx(
                    format!("The recursive server {server} did not answer: {why}"),
                    format!("递归服务器 {server} 没有应答：{why}"),
                ),
                tx(
                    "Stage 4 still shows the walk it would have done.",
                    "第 4 步仍会展示它本该进行的逐级查询。",
                ),
                &["Q4"],
            )
            .section(section(3)),
        );
    };
    let rcode = rcode_str(reply1.metadata.response_code);
    let records: Vec<String> = reply1.answers.iter().map(wire::dns::record_line).collect();
    let mut step = Step::new(
        tx(
            format!("Ask {server} with RD=1: {rcode}, {} record(s) in {:.3} ms", records.len(), ms(first.rtt)),
            format!("以 RD=1 询问 {server}：{rcode}，{} 条记录，用时 {:.3} ms", records.len(), ms(first.rtt)),
        ),
        tx(
            "RD=1 asks the server to do all the work. Its cache was empty for this name, so before answering it walked from the root itself (stage 4 shows that walk). RA=1 in the reply says it offers recursion.",
            "RD=1 请服务器替我们完成全部查询。它的缓存里还没有这个名字，所以先自己从根开始逐级查询（第 4 步展示这一过程）再回答。应答里的 RA=1 表示它提供递归服务。",
        ),
        &["Q4", "Q27"],
    )
    .section(section(3));
    for r in &records {
        step = step.fact(tx("answer", "回答"), r.clone());
    }
    step.packets = packets(&first, true);
    n.step(
        step.data("rcode", rcode.clone())
            .data("rtt_ms", ms(first.rtt))
            .data(
                "ttl",
                min_ttl(&reply1).map(Value::from).unwrap_or(Value::Null),
            )
            .data("cached", false),
    )?;

    let second = ask_recursive(name, qtype, server, timeout);
    record(
        pcap,
        &second,
        "stage 3, recursive server, second ask (from cache)",
    );
    let Some(reply2) = second.reply.clone() else {
        return Ok(());
    };
    let (t1, t2) = (min_ttl(&reply1), min_ttl(&reply2));
    let ttl_text = match (t1, t2) {
        (Some(a), Some(b)) => format!("TTL {a} → {b}"),
        _ => "no TTL to compare (negative answer)".into(),
    };
    let speed = if second.rtt.is_zero() {
        0.0
    } else {
        first.rtt.as_secs_f64() / second.rtt.as_secs_f64()
    };
    let mut step = Step::new(
        tx(
            format!("Ask again: {:.3} ms ({speed:.0}× faster), {ttl_text}", ms(second.rtt)),
            format!("再问一次：{:.3} ms（快 {speed:.0} 倍），{ttl_text}", ms(second.rtt)),
        ),
        tx(
            "This time the answer came from the server's cache: no walk, so it is much faster. The TTL is the remaining lifetime of the cached records, counting down in whole seconds; when it reaches 0 the server forgets them and walks again. This is why DNS is fast despite its many servers.",
            "这次答案直接来自服务器缓存，不再逐级查询，所以快得多。TTL 是缓存记录剩余的寿命，按整秒倒数；归零后服务器丢弃它们，下次重新查询。这就是 DNS 服务器众多却依然很快的原因。",
        ),
        &["Q4", "Q27"],
    )
    .section(section(3));
    step.packets = packets(&second, false);
    n.step(
        step.data("rtt_ms", ms(second.rtt))
            .data("ttl", t2.map(Value::from).unwrap_or(Value::Null))
            .data("first_ttl", t1.map(Value::from).unwrap_or(Value::Null))
            .data("cached", true),
    )
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
    json!({"name": r.name.to_string(), "type": r.record_type().to_string(), "ttl": r.ttl, "data": r.data.to_string()})
}

fn walk_step(ev: Event<'_>, qtype: RecordType, shown: &mut HashSet<&'static str>) -> Option<Step> {
    match ev {
        Event::Start { name, via, roots } => {
            let (title, detail) = match via {
                None => (
                    tx(format!("Start at the root for {name}"), format!("从根开始查 {name}")),
                    tx(
                        "A recursive server with an empty cache knows only the root servers' addresses (its root hints). It asks one with RD=0: each server answers only from its own zones, and refers us further down.",
                        "缓存为空的递归服务器只知道根服务器的地址（根提示）。它以 RD=0 询问其中一台：每台服务器只根据自己的区回答，或者把我们指向更下一级。",
                    ),
                ),
                Some(alias) => (
                    tx(format!("{alias} is an alias: start again at the root for {name}"), format!("{alias} 是别名：从根开始重新查 {name}")),
                    tx(
                        "The CNAME's target lives in another zone, so the walk restarts from the root for the new name. This is how a site hands its name to a CDN.",
                        "CNAME 的目标在另一个区里，所以对新名字从根重新开始查询。网站正是这样把自己的域名交给 CDN 的。",
                    ),
                ),
            };
            let mut s = Step::new(title, detail, &["Q4", "Q27"]).section(section(4));
            if via.is_some() {
                s.questions.push("Q30");
                s = s.correction(tx(
                    "the notes resolve www.baidu.com straight to one address; the real answer starts with this CNAME into another zone.",
                    "笔记把 www.baidu.com 直接解析成一个地址；真实的查询从这条指向另一个区的 CNAME 开始。",
                ));
            }
            for r in roots {
                s = s.fact(tx("root server", "根服务器"), r.label());
            }
            Some(
                s.data("name", name.to_string())
                    .data("via", via.map(|v| Value::from(v.to_string())).unwrap_or(Value::Null))
                    .data("roots", roots.iter().map(|r| r.addr.to_string()).collect::<Vec<_>>()),
            )
        }
        Event::Exchanged { zone, server, exchange: ex, verdict, remaining } => {
            let kind = verdict_kind(verdict);
            let show = shown.insert(kind);
            let zone_label = if zone.is_root() { ".".to_string() } else { zone.to_string() };
            let head_en = format!("Ask {} — a server for {zone_label} — over {}", server.label(), ex.transport.as_str().to_uppercase());
            let head_zh = format!("通过 {} 询问 {}（{zone_label} 区的服务器）", ex.transport.as_str().to_uppercase(), server.label());
            let (res_en, res_zh, detail, mut qs, corr): (String, String, Text, Vec<&'static str>, Option<Text>) = match verdict {
                Verdict::Referral { zone: child, ns } => {
                    let list: Vec<String> = ns
                        .iter()
                        .map(|(n, ips)| {
                            let ips: Vec<String> = ips.iter().map(|i| i.to_string()).collect();
                            if ips.is_empty() { format!("{n} (no glue)") } else { format!("{n} {}", ips.join(" ")) }
                        })
                        .collect();
                    (
                        format!("referral to {child}: {}", list.join(", ")),
                        format!("转介到 {child}：{}", list.join("，")),
                        tx(
                            format!("Not an answer but a referral: AA=0, the NS records of {child} in the AUTHORITY section and their addresses (glue) in ADDITIONAL. Glue breaks the chicken-and-egg problem of a server named inside the zone it serves. Next: ask one of those servers."),
                            format!("这不是答案而是转介：AA=0，AUTHORITY 段给出 {child} 的 NS 记录，ADDITIONAL 段给出它们的地址（胶水记录）。胶水记录解决了「服务器的名字就在它所服务的区里」的先有鸡还是先有蛋问题。下一步：询问这些服务器之一。"),
                        ),
                        vec!["Q4", "Q27"],
                        None,
                    )
                }
                Verdict::Answer(records) => {
                    let l: Vec<String> = records.iter().map(|r| r.data.to_string()).collect();
                    (
                        format!("answer (AA=1): {qtype} {}", l.join(", ")),
                        format!("答案（AA=1）：{qtype} {}", l.join("，")),
                        tx(
                            "An authoritative server for the zone answers from its own data: AA=1 and the records in the ANSWER section, each with the TTL for which caches may keep it.",
                            "该区的权威服务器用自己的数据回答：AA=1，记录放在 ANSWER 段，每条都带有缓存可以保存它的时长 TTL。",
                        ),
                        vec!["Q4", "Q27"],
                        None,
                    )
                }
                Verdict::Cname { chain, records } => {
                    let l: Vec<String> = chain.iter().filter_map(cname_target).map(|t| t.to_string()).collect();
                    let extra = if records.is_empty() { String::new() } else { format!(" (+{} {qtype})", records.len()) };
                    (
                        format!("CNAME → {}{extra}", l.join(" → ")),
                        format!("CNAME → {}{extra}", l.join(" → ")),
                        tx(
                            "The name is an alias (CNAME): its owner says 'ask for this other name instead'. A resolver follows it, up to a limit, to avoid loops.",
                            "这个名字是别名（CNAME）：它的所有者说「请改查另一个名字」。解析器会跟着走，但有次数上限，以免陷入循环。",
                        ),
                        vec!["Q4", "Q27", "Q30"],
                        None,
                    )
                }
                Verdict::NxDomain { soa } => (
                    format!("NXDOMAIN: the name does not exist{}", soa_text(soa)),
                    format!("NXDOMAIN：该名字不存在{}", soa_text(soa)),
                    tx(
                        "The authoritative server says no such name exists (RCODE 3). The SOA record in AUTHORITY proves which zone said so, and its TTL/MINIMUM bounds how long resolvers may cache this 'no' (RFC 2308).",
                        "权威服务器说这个名字不存在（RCODE 3）。AUTHORITY 段的 SOA 记录表明是哪个区作出的否定，其 TTL/MINIMUM 决定解析器可以把这个「否」缓存多久（RFC 2308）。",
                    ),
                    vec!["Q4", "Q27"],
                    None,
                ),
                Verdict::NoData { soa } => (
                    format!("NODATA: the name exists but has no {qtype} record{}", soa_text(soa)),
                    format!("NODATA：名字存在，但没有 {qtype} 记录{}", soa_text(soa)),
                    tx(
                        "RCODE is NOERROR but the ANSWER section is empty and the zone's SOA is in AUTHORITY: the name exists, just not with this type.",
                        "RCODE 为 NOERROR，但 ANSWER 段为空，AUTHORITY 段带着该区的 SOA：名字存在，只是没有这种类型的记录。",
                    ),
                    vec!["Q4", "Q27"],
                    None,
                ),
                Verdict::Truncated => (
                    "TC=1: the reply did not fit in UDP — asking again over TCP".into(),
                    "TC=1：应答装不进 UDP——改用 TCP 重新询问".into(),
                    tx(
                        "Without EDNS a DNS reply over UDP may be at most 512 bytes. The server sent what fits and set TC (truncated); the resolver repeats the question over TCP port 53, where each message is preceded by its 2-byte length.",
                        "不带 EDNS 时，UDP 上的 DNS 应答最多 512 字节。服务器只发了放得下的部分并置 TC（截断）位；解析器改用 TCP 53 重问，TCP 上每条消息前有 2 字节长度。",
                    ),
                    vec!["Q4", "Q9", "Q10"],
                    Some(tx(
                        "the notes list DNS under UDP only; a truncated reply (and a zone transfer) moves to TCP on the same port 53.",
                        "笔记只把 DNS 列在 UDP 下；应答被截断（以及区传送）时改用同一端口 53 上的 TCP。",
                    )),
                ),
                Verdict::NoReply(f) => (
                    format!("no usable reply: {f}{}", next_text(remaining)),
                    format!("没有可用的应答：{f}{}", next_text_zh(remaining)),
                    no_reply_text(f, ex),
                    vec!["Q4"],
                    None,
                ),
                Verdict::ServerError(rc) => (
                    format!("{rc}{}", next_text(remaining)),
                    format!("{rc}{}", next_text_zh(remaining)),
                    tx("The server refused or failed; the resolver tries another server of the same zone.", "服务器拒绝或出错；解析器换同一区的另一台服务器。"),
                    vec!["Q4"],
                    None,
                ),
                Verdict::Lame(why) => (
                    format!("unusable reply: {why}{}", next_text(remaining)),
                    format!("无法使用的应答：{why}{}", next_text_zh(remaining)),
                    tx("The reply neither answers nor leads closer to the name; a resolver discards it and tries another server.", "这个应答既没有回答，也没有更接近目标；解析器丢弃它并换一台服务器。"),
                    vec!["Q4"],
                    None,
                ),
            };
            if ex.ignored > 0 {
                qs.push("Q4");
            }
            let mut s = Step::new(
                tx(format!("{head_en}: {res_en}"), format!("{head_zh}：{res_zh}")),
                detail,
                &[],
            )
            .section(section(4))
            .fact(tx("round trip", "往返时间"), format!("{:.3} ms", ms(ex.rtt)));
            s.questions = qs;
            s.questions.dedup();
            if let Some(c) = corr {
                s = s.correction(c);
            }
            if let Some(m) = &ex.reply {
                s = s.fact(
                    tx("reply", "应答"),
                    format!(
                        "{} {}  answer {} · authority {} · additional {}",
                        rcode_str(m.metadata.response_code),
                        flags(m),
                        m.answers.len(),
                        m.authorities.len(),
                        m.additionals.len()
                    ),
                );
            }
            if ex.ignored > 0 {
                s = s.fact(tx("ignored datagrams", "忽略的数据报"), ex.ignored.to_string());
            }
            s.packets = packets(ex, show);
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
            Some(s)
        }
        Event::Skipped { server } => Some(
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
        ),
        Event::GluelessLookup { ns } => Some(
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
        ),
    }
}

/// Why a server gave nothing usable, in words that fit what happened.
fn no_reply_text(f: &Failure, ex: &Exchange) -> Text {
    let failover_en = "Every zone has several name servers, so a resolver simply tries the next one of the NS set: DNS is a cluster, not a single point of failure.";
    let failover_zh =
        "每个区都有多台名字服务器，解析器就换 NS 集合里的下一台：DNS 是集群式的，没有单点故障。";
    match f {
        Failure::Timeout if ex.ignored > 0 => tx(
            format!("{} datagram(s) arrived, but none was our answer ({}). A resolver takes a reply only from the address it asked, with its own query id and its own question: anything else could be a forgery meant to poison its cache (RFC 5452). So it kept waiting, timed out, and moves on. {failover_en}", ex.ignored, ex.ignored_why.join(", ")),
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
        _ => tx(format!("No usable reply. {failover_en}"), format!("没有可用的应答。{failover_zh}")),
    }
}

fn rcode_str(rc: hickory_proto::op::ResponseCode) -> String {
    wire::dns::rcode_name(u16::from(rc))
}

fn flags(m: &Message) -> String {
    let f = m.metadata.flags().to_string();
    if f.is_empty() {
        "(no flags)".into()
    } else {
        f.trim_end_matches(';').to_string()
    }
}

fn soa_text(soa: &Option<Record>) -> String {
    match soa {
        Some(r) => match &r.data {
            RData::SOA(s) => format!(
                " (SOA of {}, negative TTL {})",
                r.name,
                r.ttl.min(s.minimum)
            ),
            _ => String::new(),
        },
        None => String::new(),
    }
}

fn next_text(remaining: usize) -> String {
    if remaining > 0 {
        format!(" — trying the next of {remaining} server(s) left")
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
    let answers: Vec<Value> = out.answers.iter().map(record_json).collect();
    let chain: Vec<Value> = out
        .cname_chain
        .iter()
        .map(|r| json!({"name": r.name.to_string(), "target": cname_target(r).map(|t| t.to_string()), "ttl": r.ttl}))
        .collect();
    let (title, ok) = match &out.status {
        Status::Answer => {
            let l: Vec<String> = out.answers.iter().map(|r| r.data.to_string()).collect();
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
    let mut lines = vec![tx(
        format!(
            "{} queries to {} server address(es) in {:.1} ms",
            out.queries,
            unique(&out.servers),
            ms(elapsed)
        ),
        format!(
            "共 {} 次查询，涉及 {} 个服务器地址，用时 {:.1} ms",
            out.queries,
            unique(&out.servers),
            ms(elapsed)
        ),
    )];
    for r in &out.cname_chain {
        if let Some(t) = cname_target(r) {
            lines.push(tx(
                format!("alias: {} → {t}", r.name),
                format!("别名：{} → {t}", r.name),
            ));
        }
    }
    let mut data = serde_json::Map::new();
    data.insert("name".into(), name.ascii.clone().into());
    data.insert("type".into(), qtype.to_string().into());
    data.insert(
        "status".into(),
        match &out.status {
            Status::Answer => "answer",
            Status::NxDomain => "nxdomain",
            Status::NoData => "nodata",
            Status::Failed(_) => "failed",
        }
        .into(),
    );
    if let Status::Failed(why) = &out.status {
        data.insert("reason".into(), why.reason.clone().into());
        data.insert("cause".into(), why.cause.into());
    }
    data.insert("answers".into(), answers.into());
    data.insert("cname_chain".into(), chain.into());
    data.insert(
        "servers".into(),
        out.servers
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .into(),
    );
    data.insert("queries".into(), out.queries.into());
    data.insert("rcode".into(), out.rcode().into());
    data.insert(
        "soa".into(),
        out.soa.as_ref().map(record_json).unwrap_or(Value::Null),
    );
    data.insert("elapsed_ms".into(), ms(elapsed).into());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lines_match_names_not_comments() {
        let text = "127.0.0.1 localhost\n# 203.0.113.5 www.baidu.com\n203.0.113.9 intranet www.baidu.com # pinned\nbogus www.baidu.com\n";
        let m = hosts_matches(text, "www.baidu.com.");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].0, 3);
        assert_eq!(m[0].2, "203.0.113.9".parse::<IpAddr>().unwrap());
        assert!(hosts_matches(text, "nothere.example").is_empty());
    }

    #[test]
    fn resolv_conf_nameservers() {
        let t = "# comment\nsearch lab\nnameserver 127.0.0.53\nnameserver ::1\nnameserver bogus\noptions edns0\n";
        assert_eq!(parse_resolv_conf(t).len(), 2);
    }
}
