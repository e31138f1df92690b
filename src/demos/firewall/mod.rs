//! `netlab firewall`: r1 becomes a firewall (Q16; also Q12).
//!
//! In the namespace lab, nftables rules in r1's forward chain, each shown as
//! the command a student could type, and for each rule set TCP and UDP probes
//! between h1 (LAN A) and h3 (LAN B), captured on both LANs:
//!
//! 1. no rules: everything passes;
//! 2. `drop`: the client waits; TCP's SYN is sent again, later each time;
//! 3. `reject`: a TCP reset, or ICMP port unreachable for UDP, at once;
//! 4. stateful: replies to h1's connections pass, nothing new from LAN B;
//! 5. a port rule: TCP 80 and UDP 53 to h3 allowed, everything else dropped.
//!
//! The rules and probes are in lab::firewall; this file tells them.

use std::net::SocketAddr;

use schemars::JsonSchema;
use serde::Serialize;

use crate::cli::{FirewallArgs, FirewallCase};
use crate::error::{exit, Result};
use crate::lab::capture::{Capture, Frame};
use crate::lab::firewall::{self as fw, Outcome, Probe};
use crate::lab::topology::{NetLab, H1, H3};
use crate::narrate::{tx, Narrator, Step, Summary, Text};
use crate::privilege::Privileges;
use crate::wire::frame::{self, Kind};

mod say;

const QS: &[&str] = &["Q16"];

/// Which way a probe goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
enum Way {
    /// h1 (LAN A) to h3 (LAN B).
    #[serde(rename = "h1->h3")]
    Out,
    /// h3 to h1: from the outside in.
    #[serde(rename = "h3->h1")]
    In,
}

/// One probe a case makes, and what its rules predict.
struct Plan {
    proto: &'static str,
    port: u16,
    way: Way,
    expect: Outcome,
}

const fn plan(proto: &'static str, port: u16, way: Way, expect: Outcome) -> Plan {
    Plan {
        proto,
        port,
        way,
        expect,
    }
}

/// A case: its rules (what follows `nft add rule inet netlab forward`), its probes.
fn case(c: FirewallCase) -> (&'static [&'static str], Vec<Plan>) {
    use Outcome::*;
    use Way::*;
    match c {
        FirewallCase::None => (
            &[],
            vec![
                plan("tcp", 80, Out, Connected),
                plan("udp", 53, Out, Connected),
            ],
        ),
        FirewallCase::Drop => (
            &["ip daddr 203.0.113.10 drop"],
            vec![plan("tcp", 80, Out, Timeout), plan("udp", 53, Out, Timeout)],
        ),
        FirewallCase::Reject => (
            &[
                "ip daddr 203.0.113.10 meta l4proto tcp reject with tcp reset",
                "ip daddr 203.0.113.10 reject with icmpx port-unreachable",
            ],
            vec![
                plan("tcp", 80, Out, Reset),
                plan("udp", 53, Out, Unreachable),
            ],
        ),
        FirewallCase::Stateful => (
            &[
                "ct state established,related accept",
                "iifname eth1 ct state new drop",
            ],
            vec![
                plan("tcp", 80, Out, Connected),
                plan("udp", 53, Out, Connected),
                plan("tcp", 80, In, Timeout),
                plan("udp", 53, In, Timeout),
            ],
        ),
        FirewallCase::Ports => (
            &[
                "ct state established,related accept",
                "ip daddr 203.0.113.10 tcp dport 80 accept",
                "ip daddr 203.0.113.10 udp dport 53 accept",
                "ip daddr 203.0.113.10 drop",
            ],
            vec![
                plan("tcp", 80, Out, Connected),
                plan("tcp", 22, Out, Timeout),
                plan("udp", 53, Out, Connected),
                plan("udp", 123, Out, Timeout),
            ],
        ),
    }
}

/// Why a case does what it does.
fn detail(c: FirewallCase) -> Text {
    match c {
        FirewallCase::None => tx(
            "r1's forward chain is empty, policy accept: it forwards everything. h1 reaches h3's TCP and UDP services.",
            "r1 的 forward 链是空的，默认策略 accept：什么都转发。h1 能访问 h3 的 TCP 和 UDP 服务。",
        ),
        FirewallCase::Drop => tx(
            "drop throws the packet away and says nothing, so the client cannot tell a firewall from a dead host: TCP sends its SYN again, waiting longer each time; UDP hears nothing.",
            "drop 直接丢弃数据包，一声不吭，客户端分不清是防火墙还是主机宕机：TCP 一次次重发 SYN，间隔越来越长；UDP 什么也收不到。",
        ),
        FirewallCase::Reject => tx(
            "reject answers at once: a TCP RST that carries h3's address, and for UDP an ICMP port unreachable from r1 itself. The client knows at once; the probes never reached h3.",
            "reject 立即作答：TCP 回一个带着 h3 地址的 RST；UDP 则由 r1 自己回一个 ICMP 端口不可达。客户端立刻就知道；探测包根本没有到达 h3。",
        ),
        FirewallCase::Stateful => tx(
            "A stateful firewall tracks connections (conntrack): replies to what h1 opened are \"established\" and pass; anything new from LAN B is dropped.",
            "有状态防火墙跟踪连接（conntrack）：h1 发起的连接，其回程数据属于 established，放行；从局域网 B 新发起的一律丢弃。",
        ),
        FirewallCase::Ports => tx(
            "Allow what h3 should offer (web on TCP 80, DNS on UDP 53) and drop everything else to it, ssh and NTP included: a server's usual firewall.",
            "只放行 h3 应当对外提供的服务（TCP 80 网页、UDP 53 DNS），其余发往它的一律丢弃，包括 ssh 和 NTP：服务器防火墙的常见做法。",
        ),
    }
}

/// One probe: what the rules predict and what the client saw.
#[derive(Serialize, JsonSchema)]
struct CaseOut {
    /// The rule set it ran under.
    case: FirewallCase,
    /// The case's rules, `; `-separated, as typed after `nft add rule inet netlab forward` (empty: none).
    rule: String,
    /// `tcp` or `udp`.
    proto: &'static str,
    /// The service's port on the far host.
    port: u16,
    /// Which way it went.
    direction: Way,
    /// What the client saw.
    outcome: Outcome,
    /// What the rules predict.
    expected: Outcome,
    /// From the first packet to the verdict, ms.
    elapsed_ms: u64,
}

/// The summary's fields.
#[derive(Serialize, JsonSchema)]
struct FirewallOut {
    /// Every probe of every case, in the order they were made.
    cases: Vec<CaseOut>,
    /// Every probe did what its rules predict.
    as_predicted: bool,
}

/// The first step: the lab and r1's empty chain.
#[derive(Serialize, JsonSchema)]
struct Setup {
    /// The lab was built without root, in a user namespace.
    rootless: bool,
    /// The command that made r1's forward chain.
    chain: &'static str,
}

/// One case: its rules, its probes, and (stateful) the connection table.
#[derive(Serialize, JsonSchema)]
struct CaseStep {
    /// Which rule set.
    case: FirewallCase,
    /// The commands that set it, in order, each a whole `nft add rule …` line
    /// (empty: no rules).
    rules: Vec<String>,
    /// The case's probes and what each did.
    probes: Vec<CaseOut>,
    /// r1's connection-tracking entries for h3 right after h1's probes
    /// (stateful case only; absent where the kernel offers no table).
    #[serde(skip_serializing_if = "Option::is_none")]
    conntrack: Option<Vec<fw::Tracked>>,
}

/// What `nft` is given to make r1's forward chain.
const CHAIN: &str =
    "nft add chain inet netlab forward { type filter hook forward priority 0 ; policy accept ; }";

/// When each TCP SYN from `from` (as `host`'s link saw it) to `port` left,
/// seconds after the first.
fn syn_times(frames: &[Frame], host: &str, from: std::net::Ipv4Addr, port: u16) -> Vec<f64> {
    let times: Vec<std::time::SystemTime> = frames
        .iter()
        .filter(|f| f.link.starts_with(host))
        .filter(|f| {
            matches!(frame::ethernet_frame(&f.bytes).map(|d| d.kind),
                Ok(Kind::Ipv4 { src, tcp: Some(h), .. })
                    if src == from && h.flags & 0x12 == 0x02 && h.dst_port == port)
        })
        .map(|f| f.at)
        .collect();
    times
        .iter()
        .map(|t| t.duration_since(times[0]).unwrap_or_default().as_secs_f64())
        .collect()
}

/// Which of `frames` (both LANs' captures) r1 stopped: a packet between h1
/// and h3 seen on its sender's own link and never on the other LAN's. A
/// forwarded packet keeps its IP addresses, its IP id and every byte after
/// the IP header (r1 changes only the TTL and the header checksum), so those
/// find it on the far side.
fn stopped_at_r1(frames: &[Frame]) -> Vec<bool> {
    fn key(f: &Frame) -> Option<([u8; 10], &[u8])> {
        let ip = f.bytes.get(14..34)?;
        let (_, transport) = frame::transport(&f.bytes)?;
        let mut k = [0u8; 10];
        k[..2].copy_from_slice(&ip[4..6]); // identification
        k[2..].copy_from_slice(&ip[12..20]); // source, destination
        Some((k, transport))
    }
    // Which host's link a frame was seen on, and the ends of its IP packet.
    let ends = |f: &Frame| match frame::ethernet_frame(&f.bytes).map(|d| d.kind) {
        Ok(Kind::Ipv4 { src, dst, .. }) => Some((src, dst)),
        _ => None,
    };
    let on = |f: &Frame, host: &str| f.link.split(':').next() == Some(host);
    let mut far = std::collections::HashSet::new();
    for f in frames {
        match ends(f) {
            Some((H1, H3)) if on(f, "h3") => {}
            Some((H3, H1)) if on(f, "h1") => {}
            _ => continue,
        }
        if let Some(k) = key(f) {
            far.insert(k);
        }
    }
    frames
        .iter()
        .map(|f| {
            let sent_here = match ends(f) {
                Some((H1, H3)) => on(f, "h1"),
                Some((H3, H1)) => on(f, "h3"),
                _ => false,
            };
            sent_here && key(f).is_some_and(|k| !far.contains(&k))
        })
        .collect()
}

/// Run the demo.
pub fn run(args: &FirewallArgs, n: &mut Narrator) -> Result<i32> {
    if !Privileges::probe().can_build_lab() {
        return Err(crate::privilege::lab_privilege());
    }
    let cases = if args.case.is_empty() {
        vec![
            FirewallCase::None,
            FirewallCase::Drop,
            FirewallCase::Reject,
            FirewallCase::Stateful,
            FirewallCase::Ports,
        ]
    } else {
        args.case.clone()
    };
    let lab = NetLab::build()?;
    let (r1, h1, h3) = fw::hosts(&lab)?;
    let _on_h3 = fw::serve(h3, H3)?;
    let _on_h1 = fw::serve(h1, H1)?;
    n.step(
        Step::new(
            crate::lab::userns::titled(tx(
                "r1 becomes a firewall between LAN A and LAN B",
                "r1 成为局域网 A 与 B 之间的防火墙",
            )),
            tx(
                "h1 and h3 serve TCP 80 (web), 22 (ssh), UDP 53 (DNS), 123 (NTP). All traffic between them crosses r1, whose forward chain (nftables) decides; each rule is the command to type.",
                "h1 和 h3 提供 TCP 80（网页）、22（ssh）与 UDP 53（DNS）、123（NTP）服务。它们之间的流量都经过 r1，由它的 forward 链（nftables）决定去留；每条规则都是可直接输入的命令。",
            ),
            QS,
        )
        .fact(tx("chain", "链"), CHAIN)
        .with(&Setup {
            rootless: crate::lab::userns::rootless(),
            chain: CHAIN,
        }),
    )?;
    let mut out = Vec::new();
    for (i, &c) in cases.iter().enumerate() {
        let (rules, plans) = case(c);
        fw::reset(r1)?;
        for r in rules {
            fw::add_rule(r1, r)?;
        }
        let caps = [Capture::start(h1, "eth0")?, Capture::start(h3, "eth0")?];
        let mut probes: Vec<(&Plan, Probe)> = Vec::new();
        let mut conntrack = None;
        for p in &plans {
            let (from, to_ip) = match p.way {
                Way::Out => (h1, H3),
                Way::In => (h3, H1),
            };
            let to = SocketAddr::from((to_ip, p.port));
            let got = if p.proto == "tcp" {
                fw::tcp_probe(from, to)?
            } else {
                fw::udp_probe(from, to)?
            };
            probes.push((p, got));
            // The table right after h1's flows, before anything else is tried.
            if c == FirewallCase::Stateful && p.way == Way::Out && p.proto == "udp" {
                conntrack = Some(fw::conntrack(r1, H3)?);
            }
        }
        // A last ACK on its way through r1 is on both links before they stop.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut frames = Vec::new();
        for cap in caps {
            frames.extend(cap.stop()?);
        }
        // Both links' frames in the order they were seen.
        frames.sort_by_key(|f| f.at);
        let rule_text = rules.join("; ");
        let commands: Vec<String> = rules
            .iter()
            .map(|r| format!("nft add rule inet netlab forward {r}"))
            .collect();
        let mut probes_out = Vec::new();
        let mut s = Step::new(
            say::title(c),
            detail(c),
            if c == FirewallCase::Stateful {
                &["Q16", "Q12"]
            } else {
                QS
            },
        )
        .section(say::section(i + 1, c));
        // Each rule as the command an instructor types: the step's facts
        // (what the page and the text show), and its data.
        for c in &commands {
            s = s.fact(tx("rule", "规则"), c.as_str());
        }
        if rules.is_empty() {
            s = s.fact(
                tx("rule", "规则"),
                tx("(none: policy accept)", "（无：默认策略 accept）"),
            );
        }
        for (p, got) in &probes {
            let (from, to, from_ip) = match p.way {
                Way::Out => ("h1", "h3", H1),
                Way::In => ("h3", "h1", H3),
            };
            let tcp = p.proto == "tcp";
            let syns = (tcp && got.outcome == Outcome::Timeout)
                .then(|| syn_times(&frames, from, from_ip, p.port));
            let seen = say::outcome(got, tcp, syns.as_ref().map(Vec::len));
            s = s.fact(
                Text::from(p.proto.to_uppercase()),
                say::probe(p.proto, p.port, from, to, &seen),
            );
            if let Some(t) = syns.filter(|t| t.len() > 2) {
                // Linear when no wait was much longer than the one before it.
                let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
                let linear = gaps.windows(2).all(|g| g[1] < g[0] * 1.5);
                s = s.fact(tx("SYN", "SYN"), say::syn_times(&t, linear));
            }
            if got.outcome != p.expect {
                s = s.fact(
                    tx("note", "注意"),
                    say::unexpected(p.proto, p.port, p.expect, got.outcome),
                );
            }
            probes_out.push(CaseOut {
                case: c,
                rule: rule_text.clone(),
                proto: p.proto,
                port: p.port,
                direction: p.way,
                outcome: got.outcome,
                expected: p.expect,
                elapsed_ms: got.elapsed.as_millis() as u64,
            });
        }
        match &conntrack {
            Some(Some(entries)) => {
                for t in entries.iter().take(2) {
                    s = s.fact(tx("conntrack", "conntrack"), say::tracked(t));
                }
            }
            Some(None) => {
                s = s.fact(
                    tx("conntrack", "conntrack"),
                    tx(
                        "(this kernel offers no /proc/net/nf_conntrack)",
                        "（本机内核没有 /proc/net/nf_conntrack）",
                    ),
                );
            }
            None => {}
        }
        let stopped = stopped_at_r1(&frames);
        s.packets = frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let mut p = f.record(false);
                p.lost = stopped[i];
                p
            })
            .collect();
        let step = CaseStep {
            case: c,
            rules: commands,
            probes: probes_out,
            conntrack: conntrack.flatten(),
        };
        n.step(s.with(&step))?;
        out.extend(step.probes);
    }
    fw::reset(r1)?;
    let as_predicted = out.iter().filter(|o| o.outcome == o.expected).count();
    let total = out.len();
    let ok = as_predicted == total;
    n.summary(
        Summary {
            title: say::summary(cases.len(), total, as_predicted),
            lines: vec![tx(
                "A firewall is rules on a router: drop is silence, reject is an answer, and state lets replies back in.",
                "防火墙就是路由器上的规则：drop 是沉默，reject 是回答，而状态让回程流量得以进入。",
            )],
            questions: crate::record::qs(&["Q16", "Q12"]),
            ok,
            ..Summary::default()
        }
        .with(&FirewallOut {
            cases: out,
            as_predicted: ok,
        }),
    )?;
    drop(lab);
    Ok(if ok { exit::OK } else { exit::NETWORK_NO })
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "firewall",
        "nftables on the lab router: drop, reject, stateful and port rules, probed with TCP and UDP.",
    )
    .step::<Setup>("the first step: r1 becomes a firewall")
    .step::<CaseStep>("each case (its packets: h1's and h3's links during the case, in the order seen)")
    .summary::<FirewallOut>()
}
