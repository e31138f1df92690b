//! `netlab failover`: two routers share a gateway address with VRRP, the
//! master dies mid-ping, and the backup takes over (Q33: what keepalived is).
//!
//! In a lab of its own (lab::failover): h1 on a LAN with r1 and r2, h3
//! beyond them. r1 (priority 200) and r2 (100) run netlab's VRRP speaker, or
//! with `--with keepalived` the system's keepalived (ha::keepalived); h1
//! pings h3 through the virtual address at a steady interval (ha::ping); r1
//! is crashed mid-ping. Everything the run says is read from h1's link,
//! captured throughout: the adverts, the gratuitous ARPs, the echoes and the
//! takeover time. This file tells it.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime};

use schemars::JsonSchema;
use serde::Serialize;

use crate::cli::{FailoverArgs, VrrpSpeaker};
use crate::error::{exit, Error, Result};
use crate::ha::keepalived::{self, Keepalived};
use crate::ha::ping::Pinger;
use crate::ha::vrrp::{self as speaker, Speaker};
use crate::lab::capture::{self, Capture, Frame};
use crate::lab::failover::{self as ha_lab, HaLab, Neighbour, H3, LAN_PREFIX, VIP};
use crate::narrate::{tx, Narrator, Packet, Step, Summary, Text};
use crate::privilege::Privileges;
use crate::wire::frame::{self, Kind};
use crate::wire::vrrp;

mod say;

const QS: &[&str] = &["Q33"];
/// The virtual router id.
const VRID: u8 = 1;
/// The routers: name, priority, own address.
const ROUTERS: [(&str, u8, Ipv4Addr); 2] = [("r1", 200, ha_lab::R1), ("r2", 100, ha_lab::R2)];

/// One router as the run set it up.
#[derive(Serialize, JsonSchema)]
struct RouterOut {
    /// `r1` or `r2`.
    name: &'static str,
    /// Its VRRP priority (higher wins).
    priority: u8,
    /// Its own address on the LAN (the adverts' source).
    addr: Ipv4Addr,
    /// Its LAN interface's MAC address.
    mac: &'static str,
    /// Its master-down interval, 3 × interval + skew, in ms: how long it
    /// waits without an advert before taking over.
    master_down_ms: u64,
}

/// keepalived.conf of one router, as written.
#[derive(Serialize, JsonSchema)]
struct ConfigOut {
    /// `r1` or `r2`.
    router: &'static str,
    /// The file's text.
    text: String,
}

/// The first step: the lab, the shared address, who speaks VRRP.
#[derive(Serialize, JsonSchema)]
struct Setup {
    /// The lab was built without root, in a user namespace.
    rootless: bool,
    /// The virtual gateway address.
    vip: Ipv4Addr,
    /// The virtual router id.
    vrid: u8,
    /// Who speaks VRRP.
    speaker: VrrpSpeaker,
    /// Milliseconds between a master's adverts.
    advert_interval_ms: u64,
    /// Milliseconds between h1's pings.
    ping_interval_ms: u64,
    /// The two routers.
    routers: Vec<RouterOut>,
    /// Each router's keepalived.conf (with keepalived only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    configs: Vec<ConfigOut>,
}

/// The election: who became master first, from the capture.
#[derive(Serialize, JsonSchema)]
struct Election {
    /// The router whose adverts h1's link carried first.
    master: Option<&'static str>,
    /// Its first advert, ms after the speakers were started.
    first_advert_ms: Option<u64>,
    /// Adverts seen in this part.
    adverts: usize,
    /// Gratuitous ARPs for the virtual address seen in this part.
    gratuitous_arps: usize,
}

/// The pings through the first master.
#[derive(Serialize, JsonSchema)]
struct Through {
    /// The router that forwarded them.
    router: &'static str,
    /// Echo requests h1 sent in this part.
    echoes: usize,
    /// Of them, answered.
    answered: usize,
    /// h1's neighbour entry for the virtual address at the end of this part.
    neighbour: Option<Neighbour>,
}

/// The crash.
#[derive(Serialize, JsonSchema)]
struct Crash {
    /// The router crashed.
    router: &'static str,
    /// What was done to it, in order (commands as typed).
    actions: Vec<String>,
    /// From its last advert to the next advert of anyone, ms (none: no advert came).
    silence_ms: Option<u64>,
    /// Echo requests in this part that no reply answered.
    unanswered: usize,
}

/// The takeover.
#[derive(Serialize, JsonSchema)]
struct Takeover {
    /// The new master.
    master: Option<&'static str>,
    /// From the old master's last advert to the new one's first, ms.
    takeover_ms: Option<u64>,
    /// The new master's master-down interval as configured, ms: the prediction.
    master_down_ms: u64,
    /// Gratuitous ARPs for the virtual address seen in this part.
    gratuitous_arps: usize,
    /// h1's neighbour entry for the virtual address before the crash.
    neighbour_before: Option<Neighbour>,
    /// And after the takeover.
    neighbour_after: Option<Neighbour>,
    /// From the last reply before the loss to the first after it, ms.
    reply_gap_ms: Option<u64>,
}

/// The summary's fields: every count read from this run's packets on h1's link.
#[derive(Serialize, JsonSchema)]
struct FailoverOut {
    /// The virtual gateway address.
    vip: Ipv4Addr,
    /// The router that advertised before the crash.
    master_before: Option<&'static str>,
    /// The router that advertised last.
    master_after: Option<&'static str>,
    /// VRRP adverts h1's link carried during the run.
    adverts_seen: usize,
    /// Gratuitous ARPs for the virtual address h1's link carried.
    gratuitous_arps: usize,
    /// Echo requests h1 sent.
    pings_sent: usize,
    /// Echo requests no reply answered.
    pings_lost: usize,
    /// From the old master's last advert to the new master's first, ms
    /// (none: no takeover).
    takeover_ms: Option<u64>,
    /// From the last echo reply before the loss to the first after it, ms.
    reply_gap_ms: Option<u64>,
    /// Who spoke VRRP: `netlab` or `keepalived`.
    speaker: VrrpSpeaker,
    /// Milliseconds between a master's adverts.
    advert_interval_ms: u64,
    /// What the pinger itself counted: echoes sent.
    pinger_sent: usize,
    /// And echoes it got no reply to.
    pinger_lost: usize,
}

/// What one captured frame is, for this story.
#[derive(Clone, Debug, PartialEq)]
enum What {
    /// A VRRP advert from a router.
    Advert {
        from: &'static str,
        advert: vrrp::Advert,
    },
    /// A gratuitous ARP for the virtual address, from the owner of `mac`.
    Garp { from: Option<&'static str> },
    /// h1's echo request.
    Request(u16),
    /// h3's echo reply.
    Reply(u16),
    /// Anything else (h1's ARP requests, replies to them).
    Other,
}

fn classify(f: &Frame) -> What {
    let Ok(d) = frame::ethernet_frame(&f.bytes) else {
        return What::Other;
    };
    match d.kind {
        Kind::Arp { sha, spa, tpa, .. } if spa == VIP && tpa == VIP => What::Garp {
            from: ha_lab::host_of_mac(&sha),
        },
        Kind::Ipv4 {
            src,
            dst,
            icmp_type,
            icmp_seq,
            ..
        } => match (icmp_type, icmp_seq) {
            (Some(8), Some(s)) if dst == H3 => What::Request(s),
            (Some(0), Some(s)) if src == H3 => What::Reply(s),
            _ => {
                let advert = frame::transport(&f.bytes)
                    .filter(|(p, _)| *p == vrrp::PROTOCOL)
                    .and_then(|(_, b)| vrrp::parse(b, src, dst).ok());
                match (advert, ha_lab::host_of_ip(src)) {
                    (Some(advert), Some(from)) => What::Advert { from, advert },
                    _ => What::Other,
                }
            }
        },
        _ => What::Other,
    }
}

/// What the whole capture shows.
#[derive(Default)]
struct Seen {
    /// Adverts: when, from whom.
    adverts: Vec<(SystemTime, &'static str)>,
    /// Gratuitous ARPs: when, from whom.
    garps: Vec<(SystemTime, Option<&'static str>)>,
    /// Echo requests by sequence number: when each was sent.
    requests: BTreeMap<u16, SystemTime>,
    /// Echo replies by sequence number.
    replies: BTreeMap<u16, SystemTime>,
}

impl Seen {
    fn of(frames: &[Frame]) -> Seen {
        let mut s = Seen::default();
        for f in frames {
            match classify(f) {
                What::Advert { from, .. } => s.adverts.push((f.at, from)),
                What::Garp { from } => s.garps.push((f.at, from)),
                What::Request(q) => {
                    s.requests.entry(q).or_insert(f.at);
                }
                What::Reply(q) => {
                    s.replies.entry(q).or_insert(f.at);
                }
                What::Other => {}
            }
        }
        s
    }

    fn lost(&self) -> usize {
        self.requests
            .keys()
            .filter(|q| !self.replies.contains_key(q))
            .count()
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

fn between(a: SystemTime, b: SystemTime) -> u64 {
    ms(b.duration_since(a).unwrap_or_default())
}

/// A frame as a packet record: its ends are the LAN's hosts by MAC (a
/// broadcast or an advert goes to every other host on the LAN); adverts and
/// gratuitous ARPs labelled as what they are; unanswered echoes lost.
fn record(f: &Frame, seen: &Seen) -> Packet {
    let mut p = f.record(false);
    let Ok(d) = frame::ethernet_frame(&f.bytes) else {
        return p;
    };
    let end = |m: &Option<String>| {
        m.as_deref()
            .and_then(ha_lab::host_of_mac)
            .map_or_else(|| m.clone().unwrap_or_default(), str::to_string)
    };
    let from = end(&d.src_mac);
    let group = d
        .dst_mac
        .as_deref()
        .is_some_and(|m| m == "ff:ff:ff:ff:ff:ff" || m.starts_with("01:00:5e:"));
    let to = if group {
        ha_lab::LAN_HOSTS
            .iter()
            .filter(|h| **h != from)
            .copied()
            .collect::<Vec<_>>()
            .join(",")
    } else {
        end(&d.dst_mac)
    };
    p.from = from;
    p.to = to;
    match classify(f) {
        What::Advert { advert, .. } => {
            let l = vrrp::label(&advert);
            p.summary = tx(
                format!("{} VRRPv{} advert {}", p.summary.en, advert.version, l.en),
                format!("{} VRRPv{} 通告 {}", p.summary.zh, advert.version, l.zh),
            );
            p.label = l;
        }
        What::Garp { .. } => {
            p.label = tx(format!("gratuitous ARP {VIP}"), format!("免费 ARP {VIP}"));
        }
        What::Request(q) => p.lost = !seen.replies.contains_key(&q),
        _ => {}
    }
    p
}

/// The record of the first frame of `frames` that `pick` accepts.
fn first_of(packets: &[Packet], frames: &[Frame], pick: impl Fn(&What) -> bool) -> Option<Packet> {
    let i = frames.iter().position(|f| pick(&classify(f)))?;
    packets.get(i).cloned()
}

/// A second look at a packet for its byte view, the Ethernet and IPv4
/// headers folded into a line each (the other demos explain them).
fn folded(p: Packet) -> Packet {
    let mut e = p.echo();
    e.hide = vec!["eth.".into(), "ip.".into()];
    e
}

/// Adverts of `host` in `frames`, and their mean spacing in ms.
fn advert_rate(frames: &[Frame], host: &str) -> (usize, Option<u64>) {
    let at: Vec<SystemTime> = frames
        .iter()
        .filter(|f| matches!(classify(f), What::Advert { from, .. } if from == host))
        .map(|f| f.at)
        .collect();
    let every = (at.len() > 1).then(|| between(at[0], at[at.len() - 1]) / (at.len() as u64 - 1));
    (at.len(), every)
}

/// What speaks VRRP on the routers.
enum Speakers {
    Netlab(Vec<Speaker>),
    /// The daemons, and the private directory of their configuration,
    /// pid files and logs (removed when dropped, after them).
    Keepalived {
        daemons: Vec<Keepalived>,
        _dir: crate::private::RunDir,
    },
}

impl Speakers {
    /// Crash r1's speaker (its links are already down).
    /// What was done, as data and as the step says it.
    fn crash_first(&mut self) -> Result<(String, Text)> {
        Ok(match self {
            Speakers::Netlab(s) => {
                s[0].crash()?;
                (
                    "its VRRP speaker stopped, no goodbye advert".into(),
                    tx(
                        "its VRRP speaker stopped, no goodbye advert",
                        "VRRP 进程停止，没有告别通告",
                    ),
                )
            }
            Speakers::Keepalived { daemons, .. } => {
                daemons[0].crash();
                (
                    "kill -KILL keepalived".into(),
                    Text::from("`kill -KILL keepalived`"),
                )
            }
        })
    }

    /// keepalived's log of `router`, for an error message.
    fn log(&self, router: usize) -> String {
        match self {
            Speakers::Keepalived { daemons, .. } => daemons[router].log_text(),
            Speakers::Netlab(_) => String::new(),
        }
    }
}

/// Run the demo.
pub fn run(args: &FailoverArgs, n: &mut Narrator) -> Result<i32> {
    if args.ping_ms > args.advert_ms {
        return Err(Error::usage(tx(
            format!("--ping-ms {} is longer than --advert-ms {}: ping at least as often as the routers advertise, or the takeover's gap may fall between two echoes", args.ping_ms, args.advert_ms),
            format!("--ping-ms {} 比 --advert-ms {} 还长：ping 的频率至少要和路由器通告一样高，否则接管的空档可能正好落在两次回显之间", args.ping_ms, args.advert_ms),
        )));
    }
    if !Privileges::probe().can_build_lab() {
        return Err(crate::privilege::lab_privilege());
    }
    if args.speaker == VrrpSpeaker::Keepalived && !keepalived::available() {
        return Err(keepalived::missing());
    }
    let interval_cs = args.advert_ms / 10;
    let advert = Duration::from_millis(u64::from(args.advert_ms));
    let ping_every = Duration::from_millis(u64::from(args.ping_ms));
    let down = |prio| speaker::master_down(prio, interval_cs);
    let lab = HaLab::build()?;
    let cap = Capture::start(&lab.h1, "eth0")?;
    let started = SystemTime::now();
    let mut configs = Vec::new();
    let mut speakers = match args.speaker {
        VrrpSpeaker::Netlab => {
            let mut v = Vec::new();
            for (name, priority, addr) in ROUTERS {
                let mac = speaker::mac_bytes(ha_lab::mac_of(name))
                    .ok_or_else(|| Error::Internal(format!("{name} has no MAC")))?;
                v.push(Speaker::start(
                    lab.router(name),
                    speaker::Params {
                        name: name.into(),
                        vrid: VRID,
                        priority,
                        interval_cs,
                        preempt: true,
                        vip: (VIP, LAN_PREFIX),
                        iface: "eth0".into(),
                        addr,
                        mac,
                    },
                )?);
            }
            Speakers::Netlab(v)
        }
        VrrpSpeaker::Keepalived => {
            // The directories of runs that were killed, then this run's own.
            for p in crate::private::remove_stale("keepalived") {
                tracing::info!("removed {} (a killed run's keepalived files)", p.display());
            }
            let dir = crate::private::RunDir::create("keepalived")?;
            let shared = keepalived::Shared {
                vrid: VRID,
                interval_cs,
                vip: (VIP, LAN_PREFIX),
            };
            let mut v = Vec::new();
            for (name, priority, _) in ROUTERS {
                let text = keepalived::config(
                    &keepalived::Router {
                        name,
                        priority,
                        iface: "eth0",
                    },
                    &shared,
                );
                v.push(Keepalived::start(lab.router(name), &dir, name, &text)?);
                configs.push(ConfigOut { router: name, text });
            }
            Speakers::Keepalived {
                daemons: v,
                _dir: dir,
            }
        }
    };
    // The story's first step, while the routers elect a master.
    let mut s = Step::new(
        crate::lab::userns::titled(tx(
            "Two routers, one gateway address: 198.51.100.65",
            "两台路由器，一个网关地址：198.51.100.65",
        )),
        say::setup(u64::from(args.advert_ms) as u32),
        QS,
    )
    .who("h1", tx("h1", "h1"))
    .who("r1", tx("r1 (priority 200)", "r1（优先级 200）"))
    .who("r2", tx("r2 (priority 100)", "r2（优先级 100）"))
    .fact(tx("VIP", "虚拟地址"), format!("{VIP} (VRID {VRID})"));
    let mut routers = Vec::new();
    for (name, priority, addr) in ROUTERS {
        let mac = ha_lab::mac_of(name);
        let down_ms = ms(down(priority));
        s = s.fact(
            Text::from(name),
            say::router(&addr.to_string(), priority, mac, down_ms),
        );
        routers.push(RouterOut {
            name,
            priority,
            addr,
            mac,
            master_down_ms: down_ms,
        });
    }
    s = s.fact(tx("speaker", "VRRP"), say::speaker(args.speaker));
    if let Some(c) = configs.first() {
        for line in c.text.lines().filter(|l| !l.trim().is_empty()) {
            s = s.fact(Text::from(""), format!("`{}`", line.trim()));
        }
    }
    n.step(s.with(&Setup {
        rootless: crate::lab::userns::rootless(),
        vip: VIP,
        vrid: VRID,
        speaker: args.speaker,
        advert_interval_ms: u64::from(args.advert_ms),
        ping_interval_ms: u64::from(args.ping_ms),
        routers,
        configs,
    }))?;

    // r1's master-down interval runs out first: wait for its advert.
    let is_advert_of = |f: &Frame, host: &str| matches!(classify(f), What::Advert { from, advert } if from == host && advert.priority > 0);
    let wait = down(100) + Duration::from_secs(5);
    if cap.find(wait, |f| is_advert_of(f, "r1")).is_none() {
        let log = speakers.log(0);
        return Err(Error::lab(tx(
            format!(
                "no VRRP advert from r1 within {} ms{}",
                ms(wait),
                tail(&log)
            ),
            format!("{} ms 内没有收到 r1 的 VRRP 通告{}", ms(wait), tail(&log)),
        )));
    }
    // And its gratuitous ARP, before h1 starts.
    let garp_of =
        |f: &Frame, host: &str| matches!(classify(f), What::Garp { from } if from == Some(host));
    cap.find(Duration::from_secs(2), |f| garp_of(f, "r1"));
    // Pings through r1, long enough for a few adverts between them.
    let pinger = Pinger::start(&lab.h1, H3, ping_every, Duration::from_secs(1))?;
    let ping_start = SystemTime::now();
    std::thread::sleep((advert * 2).max(ping_every * 10));
    let neighbour_before = lab.neighbour(VIP)?;
    // The crash lands half an interval after one of r1's adverts, whichever
    // speaker runs, so their runs compare: the backup's clock starts at the
    // last advert it heard, not at the crash.
    let now = SystemTime::now();
    if cap
        .find(advert * 2, |f| f.at > now && is_advert_of(f, "r1"))
        .is_some()
    {
        std::thread::sleep(advert / 2);
    }
    // The crash: r1's links go down, then its speaker dies.
    let crash_at = SystemTime::now();
    // Commands as typed, and each as the step shows it (code in backquotes).
    let mut actions: Vec<(String, Text)> = lab
        .cut("r1")?
        .into_iter()
        .map(|c| (c.clone(), Text::from(format!("`{c}`"))))
        .collect();
    actions.push(speakers.crash_first()?);
    // r2 waits out its master-down interval, then advertises.
    let wait = down(100) + Duration::from_secs(5);
    let new_advert = cap.find(wait, |f| f.at > crash_at && is_advert_of(f, "r2"));
    if let Some(a) = &new_advert {
        let replied = |f: &Frame| f.at > a.at && matches!(classify(f), What::Reply(_));
        cap.find(Duration::from_secs(3), replied);
    }
    // The echoes through r2 for a while.
    std::thread::sleep(advert.max(ping_every * 10));
    let echoes = pinger.stop()?;
    let neighbour_after = lab.neighbour(VIP)?;
    let frames = cap.stop()?;
    drop(speakers);

    let seen = Seen::of(&frames);
    let takeover_at = new_advert
        .as_ref()
        .map(|f| f.at)
        .unwrap_or(SystemTime::now());
    let mut parts = capture::split_at(frames, &[ping_start, crash_at, takeover_at]).into_iter();
    let mut part = || parts.next().unwrap_or_default();

    // Part 1: the election.
    let p1 = part();
    let packets: Vec<Packet> = p1.iter().map(|f| record(f, &seen)).collect();
    let first_advert = first_of(&packets, &p1, |w| matches!(w, What::Advert { .. }));
    let first = seen.adverts.first().copied();
    let master_before = seen
        .adverts
        .iter()
        .rev()
        .find(|(at, _)| *at <= crash_at)
        .map(|(_, h)| *h);
    let election = Election {
        master: first.map(|(_, h)| h),
        first_advert_ms: first.map(|(at, _)| between(started, at)),
        adverts: p1
            .iter()
            .filter(|f| matches!(classify(f), What::Advert { .. }))
            .count(),
        gratuitous_arps: p1
            .iter()
            .filter(|f| matches!(classify(f), What::Garp { .. }))
            .count(),
    };
    let mut s = Step::new(
        tx("r1 wins the election", "r1 当选主路由器"),
        say::election(ms(down(200)), ms(down(100))),
        QS,
    )
    .concept("vrrp-election")
    .section(tx("1 · election", "1 · 选举"));
    if let (Some(h), Some(after)) = (election.master, election.first_advert_ms) {
        let prio = ROUTERS.iter().find(|r| r.0 == h).map_or(0, |r| r.1);
        s = s.fact(
            tx("first advert", "第一个通告"),
            say::first_advert(h, after, ms(down(prio))),
        );
    }
    s = s.fact(
        tx("gratuitous ARP", "免费 ARP"),
        election.gratuitous_arps.to_string(),
    );
    s.packets = packets;
    n.step(s.with(&election))?;
    if let Some(p) = first_advert {
        n.step(
            Step::new(
                tx("An advert, field by field", "一个通告，逐字段"),
                tx(
                    "Eight bytes and the address: who (VRID), how important (priority), how often (the interval, from which a backup works out how long to wait), and a checksum over the message and the IPv4 pseudo-header. Nothing else: no sequence number, no acknowledgement.",
                    "八个字节加上地址：哪个虚拟路由器（VRID）、多重要（优先级）、多久一次（间隔，备用路由器据此算出要等多久），以及覆盖报文和 IPv4 伪首部的校验和。别无其他：没有序号，也没有确认。",
                ),
                QS,
            )
            .concept("vrrp-advert")
            .with_packets(vec![folded(p)]),
        )?;
    }

    // Part 2: pings through r1.
    let p2 = part();
    let packets: Vec<Packet> = p2.iter().map(|f| record(f, &seen)).collect();
    let requests = p2
        .iter()
        .filter(|f| matches!(classify(f), What::Request(_)))
        .count();
    let answered = p2
        .iter()
        .filter(|f| matches!(classify(f), What::Request(q) if seen.replies.contains_key(&q)))
        .count();
    let old = master_before.unwrap_or("r1");
    let (n_adv, every) = advert_rate(&p2, old);
    let mut s = Step::new(
        tx(
            "h1 pings h3 through the virtual gateway",
            "h1 经由虚拟网关 ping h3",
        ),
        say::through(args.ping_ms, old),
        QS,
    )
    .fact(tx("echoes", "回显"), say::echoes(requests, answered))
    .fact(tx("adverts", "通告"), say::adverts(old, n_adv, every))
    .fact(
        tx("h1's ARP cache", "h1 的 ARP 缓存"),
        say::neighbour(
            neighbour_before.as_ref(),
            neighbour_before
                .as_ref()
                .and_then(|x| ha_lab::host_of_mac(&x.mac)),
        ),
    );
    s.packets = packets;
    n.step(s.with(&Through {
        router: old,
        echoes: requests,
        answered,
        neighbour: neighbour_before.clone(),
    }))?;

    // Part 3: the crash and the silence.
    let p3 = part();
    let packets: Vec<Packet> = p3.iter().map(|f| record(f, &seen)).collect();
    let last_old = seen
        .adverts
        .iter()
        .rev()
        .find(|(at, h)| *h == old && *at <= takeover_at)
        .map(|(at, _)| *at);
    let first_new = seen
        .adverts
        .iter()
        .find(|(at, h)| *h != old && last_old.is_some_and(|l| *at > l))
        .copied();
    let silence_ms = last_old.zip(first_new).map(|(l, (f, _))| between(l, f));
    let unanswered = p3
        .iter()
        .filter(|f| matches!(classify(f), What::Request(q) if !seen.replies.contains_key(&q)))
        .count();
    let mut s = Step::new(
        tx(format!("{old} crashes"), format!("{old} 崩溃")),
        say::crash(args.speaker, old),
        QS,
    )
    .section(tx("2 · failover", "2 · 故障切换"));
    for (_, a) in &actions {
        s = s.fact(
            tx("crash", "崩溃"),
            tx(format!("{old}: {}", a.en), format!("{old}：{}", a.zh)),
        );
    }
    s = s.fact(
        tx("silence", "沉默"),
        say::silence(old, silence_ms, unanswered),
    );
    s.packets = packets;
    n.step(s.with(&Crash {
        router: old,
        actions: actions.into_iter().map(|(a, _)| a).collect(),
        silence_ms,
        unanswered,
    }))?;

    // Part 4: the takeover.
    let p4 = part();
    // The new master's advert is r1's with another priority: the ladder
    // shows it, --bytes its bytes; its gratuitous ARP gets a step of its own.
    let packets: Vec<Packet> = p4.iter().map(|f| record(f, &seen)).collect();
    let new_garp = first_of(&packets, &p4, |w| matches!(w, What::Garp { .. }));
    let new = first_new.map(|(_, h)| h);
    let master_after = seen.adverts.last().map(|(_, h)| *h);
    let new_prio = ROUTERS
        .iter()
        .find(|r| Some(r.0) == new)
        .map_or(100, |r| r.1);
    let takeover_ms = silence_ms.filter(|_| new.is_some());
    let lost = seen.lost();
    let sent = seen.requests.len();
    // The gap: the last reply before the first lost echo, to the first reply after it.
    let first_lost = seen
        .requests
        .iter()
        .find(|(q, _)| !seen.replies.contains_key(q))
        .map(|(_, at)| *at);
    let reply_gap_ms = first_lost.and_then(|l| {
        let before = seen.replies.values().filter(|r| **r < l).max()?;
        let after = seen.replies.values().filter(|r| **r > l).min()?;
        Some(between(*before, *after))
    });
    let pinger_lost = echoes.iter().filter(|e| e.rtt.is_none()).count();
    let new_name = new.unwrap_or("r2");
    let mut s = Step::new(
        tx(format!("{new_name} takes over"), format!("{new_name} 接管")),
        say::takeover(
            new_name,
            neighbour_after
                .as_ref()
                .is_some_and(|x| x.mac == ha_lab::mac_of(new_name)),
        ),
        QS,
    );
    if let Some(t) = takeover_ms {
        s = s.fact(
            tx("takeover", "接管"),
            say::took(old, new_name, t, ms(down(new_prio))),
        );
    }
    let garps_new = p4
        .iter()
        .filter(|f| matches!(classify(f), What::Garp { .. }))
        .count();
    s = s
        .fact(tx("gratuitous ARP", "免费 ARP"), garps_new.to_string())
        .fact(
            tx("h1's ARP cache", "h1 的 ARP 缓存"),
            say::neighbour(
                neighbour_after.as_ref(),
                neighbour_after
                    .as_ref()
                    .and_then(|x| ha_lab::host_of_mac(&x.mac)),
            ),
        )
        .fact(tx("echoes", "回显"), say::gap(reply_gap_ms, lost, sent))
        .fact(tx("ping", "ping"), say::pinger(echoes.len(), pinger_lost));
    s.packets = packets;
    n.step(s.with(&Takeover {
        master: new,
        takeover_ms,
        master_down_ms: ms(down(new_prio)),
        gratuitous_arps: garps_new,
        neighbour_before,
        neighbour_after,
        reply_gap_ms,
    }))?;

    if let Some(p) = new_garp {
        n.step(
            Step::new(
                tx("The gratuitous ARP, field by field", "免费 ARP，逐字段"),
                tx(
                    "An ARP request nobody needs to answer: sender and target address are both 198.51.100.65, sent to every host. It is an announcement, not a question: a host that has the address in its cache takes the new sender MAC; the switch learns which port that MAC is on.",
                    "一个无须应答的 ARP 请求：发送方地址和目标地址都是 198.51.100.65，发给所有主机。这是通告，不是提问：缓存里有这个地址的主机换上新的发送方 MAC；交换机也借此学到这个 MAC 在哪个端口。",
                ),
                QS,
            )
            .concept("gratuitous-arp")
            .with_packets(vec![folded(p)]),
        )?;
    }

    let ok = takeover_ms.is_some() && master_after.is_some() && master_after != master_before;
    n.summary(
        Summary {
            title: say::summary(old, new, takeover_ms, lost, sent),
            lines: vec![tx(
                "VRRP in one sentence: the master advertises, a backup that stops hearing it takes the address and says so with a gratuitous ARP. keepalived is this, plus health checks that lower a router's priority.",
                "一句话说 VRRP：主路由器不断通告，备用路由器一旦听不到就接管地址，并用免费 ARP 告诉大家。keepalived 就是这个，再加上能降低路由器优先级的健康检查。",
            )],
            questions: crate::record::qs(QS),
            ok,
            ..Summary::default()
        }
        .with(&FailoverOut {
            vip: VIP,
            master_before,
            master_after,
            adverts_seen: seen.adverts.len(),
            gratuitous_arps: seen.garps.len(),
            pings_sent: sent,
            pings_lost: lost,
            takeover_ms,
            reply_gap_ms,
            speaker: args.speaker,
            advert_interval_ms: u64::from(args.advert_ms),
            pinger_sent: echoes.len(),
            pinger_lost,
        }),
    )?;
    drop(lab);
    Ok(if ok { exit::OK } else { exit::NETWORK_NO })
}

/// The last lines of a log, after a colon, for an error message.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().rev().take(5).collect();
    if lines.is_empty() {
        return String::new();
    }
    let mut l = lines;
    l.reverse();
    format!(": {}", l.join(" | "))
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "failover",
        "Two routers share a gateway address with VRRP (netlab's speaker or keepalived); the master crashes mid-ping and the backup takes over.",
    )
    .step::<Setup>("the first step: the lab, the shared address, who speaks VRRP")
    .step::<Election>("the election (its packets: h1's link from the start)")
    .step::<Through>("the pings through the first master")
    .step::<Crash>("the crash and the silence")
    .step::<Takeover>("the takeover and the pings through the new master")
    .summary::<FailoverOut>()
}
