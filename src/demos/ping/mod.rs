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

use serde_json::{Map, Value};

use crate::cli::PingArgs;
use crate::error::{exit, Error, Result};
use crate::icmp::series::{io, First, Series};
use crate::icmp::{Echo, Pinger, Stats, OVERHEAD};
use crate::lab::capture::{Capture, Frame};
use crate::lab::netns::Netns;
use crate::lab::topology::{NetLab, H2, H3};
use crate::narrate::{fields, tx, Direction, Narrator, Packet, Step, Summary, Text, Wire};
use crate::privilege::{PingSocket, Privileges};
use crate::wire::{frame, icmp};

mod say;

const QS: &[&str] = &["Q7"];
/// iputils refuses shorter intervals to users without CAP_NET_RAW (no flooding).
const MIN_USER_INTERVAL: Duration = Duration::from_millis(200);

/// Run one series, printing a line per reply as ping does (`lines`), or
/// folding them away for a later step to sum up.
fn series(
    p: &Pinger,
    s: Series,
    lines: bool,
    stop: &AtomicBool,
    n: &mut Narrator,
) -> Result<(Stats, Option<First>, Duration)> {
    let out = crate::icmp::series::run(p, s, stop, |r, rtt| {
        let mut reply = Step::line(
            say::reply(r.icmp_len, r.from, r.seq, r.ttl, &fmt_ms(rtt)),
            QS,
        );
        reply.folded = !lines;
        n.step(
            reply
                .data("icmp_seq", r.seq)
                .data("ttl", r.ttl.map(Value::from).unwrap_or(Value::Null))
                .data("rtt_ms", round3(rtt))
                .data("bytes", r.icmp_len)
                .data("from", r.from.to_string()),
        )
    })?;
    Ok((out.stats, out.first, out.elapsed))
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

/// A series' figures as the JSON summary's object.
fn stats_data(s: &Stats, elapsed: Duration) -> Map<String, Value> {
    fields(&Echo::of(s, elapsed))
}

/// The lab run's JSON summary: the lossy phase's figures, and every phase.
#[derive(serde::Serialize)]
struct LabOut {
    #[serde(flatten)]
    lossy: Echo,
    loss_percent_configured: u8,
    runs: Vec<Run>,
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

fn teaching_step(first: &First, kind: PingSocket) -> Step {
    let mut s = Step::new(
        tx("The first echo request and reply, field by field", "第一对回显请求与应答，逐字段"),
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
    .fact(tx("socket", "套接字"), socket_name(kind));
    s.packets.push(
        Packet {
            direction: Direction::Sent,
            transport: "icmp".into(),
            peer: first.reply.from.to_string(),
            summary: say::request(first.sent.len()),
            fields: icmp::explain(&first.sent, 0).unwrap_or_default(),
            bytes: first.sent.clone(),
            show_bytes: true,
            ..Packet::default()
        }
        .between(
            "this host",
            first.reply.from.to_string(),
            "ICMP echo request seq=1",
        ),
    );
    let (fields, summary) = if first.reply.has_ip_header {
        match frame::ip_packet(&first.reply.bytes) {
            Ok(d) => (d.fields.clone(), frame::summary(&d)),
            Err(e) => (vec![], e.to_string().into()),
        }
    } else {
        (
            icmp::explain(&first.reply.bytes, 0).unwrap_or_default(),
            "ICMP echo reply (this socket does not show the IP header)".into(),
        )
    };
    s.packets.push(
        Packet {
            direction: Direction::Received,
            transport: if first.reply.has_ip_header {
                "ipv4".into()
            } else {
                "icmp".into()
            },
            peer: first.reply.from.to_string(),
            summary,
            fields,
            bytes: first.reply.bytes.clone(),
            show_bytes: true,
            ..Packet::default()
        }
        .between(
            first.reply.from.to_string(),
            "this host",
            "ICMP echo reply seq=1",
        ),
    );
    s
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
        Step::line(say::head(target, ip, size, size + OVERHEAD), QS)
            .data("target", ip.to_string())
            .data("socket", socket_name(p.kind())),
    )?;
    let s = Series {
        count: args.count,
        interval: args.interval,
        size,
        timeout: args.timeout,
        deadline: args.deadline.map(|d| Instant::now() + d),
    };
    let (stats, first, elapsed) = series(&p, s, true, stop, n).map_err(refuse_broadcast)?;
    if let Some(f) = &first {
        let mut step = teaching_step(f, p.kind());
        // For --pcap: the request with an IPv4 header netlab writes (the kernel adds
        // the real one), the reply as the raw socket got it (or its header rebuilt).
        let src = if f.reply.has_ip_header {
            Ipv4Addr::new(
                f.reply.bytes[16],
                f.reply.bytes[17],
                f.reply.bytes[18],
                f.reply.bytes[19],
            )
        } else {
            Ipv4Addr::LOCALHOST
        };
        let link = "netlab ping socket".to_string();
        step.packets[0].wire = Some(Wire {
            link: link.clone(),
            ethernet: false,
            bytes: crate::wire::build::ip_packet(src, ip, 1, &f.sent),
            rebuilt: true,
            original_len: None,
        });
        step.packets[0].at = Some(f.sent_at);
        step.packets[1].wire = Some(Wire {
            link,
            ethernet: false,
            bytes: if f.reply.has_ip_header {
                f.reply.bytes.clone()
            } else {
                crate::wire::build::ip_packet(ip, src, 1, &f.reply.bytes)
            },
            rebuilt: !f.reply.has_ip_header,
            original_len: None,
        });
        step.packets[1].at = Some(f.reply_at);
        n.step(step)?;
    }
    summary(
        n,
        &Text::from(target.to_string()),
        &stats,
        elapsed,
        stats_data(&stats, elapsed),
    )
}

/// One series of the lab run, for the JSON summary's `runs`.
#[derive(serde::Serialize)]
struct Run {
    name: &'static str,
    stats: Echo,
    /// The first reply's TTL (across the router only).
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<Option<u8>>,
}

fn summary(
    n: &mut Narrator,
    target: &Text,
    stats: &Stats,
    elapsed: Duration,
    data: Map<String, Value>,
) -> Result<i32> {
    let mut lines = stats_lines(target, stats, elapsed);
    let title = lines.remove(0);
    n.summary(Summary {
        title,
        lines,
        questions: crate::record::qs(&["Q7"]),
        ok: stats.received > 0,
        data,
    })?;
    Ok(if stats.received > 0 {
        exit::OK
    } else {
        exit::NETWORK_NO
    })
}

fn open_in(ns: &Netns, target: Ipv4Addr) -> Result<Pinger> {
    ns.run(|| Pinger::open(PingSocket::Raw, target, None))?
        .map_err(io)
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
        .data("rootless", crate::lab::userns::rootless()),
    )?;
    let cap = Capture::start(h1, "eth0")?;
    let p = open_in(h1, H2)?;
    let (s1, first1, e1) = series(&p, quick, true, stop, n)?;
    let frames = cap.stop()?;
    // Interrupted (Ctrl-C): the statistics of the phase that was running, as iputils does.
    if stop.load(Ordering::Relaxed) {
        let data = stats_data(&s1, e1);
        return summary(n, &Text::from(H2.to_string()), &s1, e1, data);
    }
    let mut rest1 = Vec::new();
    let (req, rep) = echo_frames(&frames);
    if let (Some(req), Some(rep)) = (req, rep) {
        let mut s = Step::new(
            tx("The first echo request and reply as they crossed h1's link", "第一对回显请求与应答，在 h1 链路上抓到的原样"),
            tx(
                "Ethernet, then IPv4 with protocol 1, then ICMP: type 8 out, type 0 back, same id and sequence. No TCP or UDP header anywhere.",
                "以太网头，然后是协议号为 1 的 IPv4，再是 ICMP：去程类型 8，回程类型 0，标识符和序号相同。哪里都没有 TCP 或 UDP 头。",
            ),
            &["Q7", "Q10"],
        )
        .correction(tx(
            "the notes file ICMP under TCP (Q10); here IP protocol 1 carries it directly.",
            "笔记（Q10）把 ICMP 归在 TCP 下；这里 IP 协议号 1 直接承载它。",
        ));
        // Every frame of the phase is a record; the first request is the one explained.
        s.packets = frames.iter().map(|f| f.record(false)).collect();
        let _ = rep;
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
    let ttl1 = first1.as_ref().and_then(|f| f.reply.ttl);
    runs.push(Run {
        name: "h1 -> h2",
        stats: Echo::of(&s1, e1),
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
    let (s2, first2, e2) = series(&p, quick, true, stop, n)?;
    if stop.load(Ordering::Relaxed) {
        let data = stats_data(&s2, e2);
        return summary(n, &Text::from(H3.to_string()), &s2, e2, data);
    }
    let mut frames2 = Vec::new();
    for c in caps {
        frames2.extend(c.stop()?);
    }
    frames2.sort_by_key(|f| f.at);
    let ttl2 = first2.as_ref().and_then(|f| f.reply.ttl);
    let mut ttl_step = Step::new(
            say::ttls(ttl1, ttl2),
            tx(
                "Both replies leave with TTL 64; h3's passed r1, which took one off. traceroute counts routers this way, and no packet can loop forever.",
                "两个应答出发时 TTL 都是 64；h3 的经过 r1，被减了一。traceroute 就靠它数路由器，包也因此不会无限循环。",
            ),
            &["Q7", "Q8"],
        )
        .data("ttl_same_lan", ttl1.map(Value::from).unwrap_or(Value::Null))
        .data("ttl_across_router", ttl2.map(Value::from).unwrap_or(Value::Null));
    ttl_step.packets = rest1
        .iter()
        .chain(frames2.iter())
        .map(|f| f.record(false))
        .collect();
    n.step(ttl_step)?;
    runs.push(Run {
        name: "h1 -> h3",
        stats: Echo::of(&s2, e2),
        ttl: Some(ttl2),
    });

    // 3. A lossy link.
    let h2 = lab.host("h2")?;
    let pct = args.loss;
    crate::lab::link::drop_incoming_icmp(h2, pct)?;
    n.step(
        Step::new(say::lossy(pct), say::lossy_rule(pct), &["Q7"])
            .section(say::lossy_section(pct))
            .data("loss_percent_configured", pct),
    )?;
    let cap = Capture::start(h1, "eth0")?;
    let p = open_in(h1, H2)?;
    let lossy = Series {
        count: Some(args.count.unwrap_or(10)),
        interval: Duration::from_millis(20),
        size,
        timeout: Duration::from_millis(300),
        deadline: args.deadline.map(|d| Instant::now() + d),
    };
    let (s3, _, e3) = series(&p, lossy, false, stop, n)?;
    let frames3 = cap.stop()?;
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
                "The capture on h1's link: every request was answered",
                "h1 链路上的抓包：每个请求都得到了应答",
            )
        } else {
            say::unanswered(&dropped)
        },
        if dropped.is_empty() {
            tx(
                "h2's rule drops by chance, and this time it dropped none: run again, or raise --loss.",
                "h2 的规则按概率丢包，这一次一个也没丢：再运行一次，或调高 --loss。",
            )
        } else {
            tx(
                "h2's rule dropped them; ping only sees silence.",
                "它们到达 h2 时被规则丢弃；ping 只看到没有回音。",
            )
        },
        &["Q7"],
    )
    .data("dropped_seqs", dropped.clone());
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
        stats: Echo::of(&s3, e3),
        ttl: None,
    });
    let data = fields(&LabOut {
        lossy: Echo::of(&s3, e3),
        loss_percent_configured: pct,
        runs,
    });
    drop(lab);
    summary(n, &say::lossy_target(H2), &s3, e3, data)
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
    fn times_like_iputils() {
        assert_eq!(fmt_ms(0.0456), "0.046 ms");
        assert_eq!(fmt_ms(12.34), "12.3 ms");
        assert_eq!(fmt_ms(123.4), "123 ms");
    }
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "ping",
        "ICMP echo across the lab router (or to a TARGET), each echo and reply a packet.",
    )
}
