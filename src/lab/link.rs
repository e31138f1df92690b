//! Loss on a lab link, with nftables inside a host's namespace; rate and
//! delay with a qdisc (or netlab's delay line); and reading back what a
//! cable carries, for `lab status`.
//!
//! netem is not available on this kernel (LAB-NOTES.md), so loss is an nft
//! rule. By default it is a fixed pattern ([`Pattern::Fixed`]): of every M
//! packets the rule counts, the same K are dropped (`numgen inc mod M`), so a
//! lesson that needs loss shows it on every run and a test can count it.
//! [`Pattern::Random`] drops each packet on its own with the chance asked
//! (`numgen random mod 100 < PCT`). Tables live in the namespace and vanish
//! with it. Owns no demo's story.

use schemars::JsonSchema;
use serde::Serialize;

use super::netns::Netns;
use crate::error::{Error, Result};

/// Run `nft ARGS` in `ns`; a failure carries nft's own message.
pub fn nft(ns: &Netns, args: &[&str]) -> Result<()> {
    let out = ns.command("nft", args)?;
    if !out.status.success() {
        return Err(Error::Command {
            host: ns.name.clone(),
            command: format!("nft {}", args.join(" ")),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// How a lossy link chooses the packets it drops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Pattern {
    /// The same packets every run: of every M packets the rule counts, the
    /// same K go (nft `numgen inc mod M`), exactly PCT % of them.
    #[default]
    Fixed,
    /// Each packet dropped on its own with a chance of PCT % (nft `numgen
    /// random`): runs differ, and a short one may lose nothing.
    Random,
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// `pct` % as K of every M packets, in lowest terms: 20 → (1, 5), 30 → (3, 10).
pub fn period(pct: u8) -> (u32, u32) {
    let p = u32::from(pct.min(100));
    if p == 0 {
        return (0, 1);
    }
    let g = gcd(p, 100);
    (p / g, 100 / g)
}

/// Which of every M packets the fixed pattern drops (0-based, as `numgen inc`
/// counts them from the rule's first packet): K of them, spread evenly, each
/// the last of its share, so the very first packet (a SYN, the first echo
/// request) goes through below 50 %: 20 % → [4]; 30 % → [2, 5, 9].
pub fn fixed_residues(pct: u8) -> Vec<u32> {
    let (k, m) = period(pct);
    (0..k).map(|j| (j + 1) * m / k - 1).collect()
}

/// Whether the fixed pattern drops the `n`-th packet its rule counts (0-based).
pub fn fixed_drops(pct: u8, n: u64) -> bool {
    let (_, m) = period(pct);
    fixed_residues(pct).contains(&((n % u64::from(m)) as u32))
}

/// How many of `n` packets counted from the rule's start the fixed pattern drops.
pub fn fixed_count(pct: u8, n: u64) -> u64 {
    let (k, m) = period(pct);
    let (whole, rest) = (n / u64::from(m), n % u64::from(m));
    let tail = fixed_residues(pct)
        .iter()
        .filter(|&&r| u64::from(r) < rest)
        .count() as u64;
    whole * u64::from(k) + tail
}

/// The nft expression that picks `pct` % of packets, as nft lists it:
/// `numgen inc mod 5 4`, `numgen inc mod 10 { 2, 5, 9 }`,
/// `numgen random mod 100 < 20`. Empty for 0 and 100 % (all or nothing
/// needs no choosing). The rule a demo shows is `… {this} drop`.
pub fn loss_rule(pct: u8, pattern: Pattern) -> String {
    if pct == 0 || pct >= 100 {
        return String::new();
    }
    match pattern {
        Pattern::Random => format!("numgen random mod 100 < {pct}"),
        Pattern::Fixed => {
            let (_, m) = period(pct);
            let r: Vec<String> = fixed_residues(pct).iter().map(u32::to_string).collect();
            if r.len() == 1 {
                format!("numgen inc mod {m} {}", r[0])
            } else {
                format!("numgen inc mod {m} {{ {} }}", r.join(", "))
            }
        }
    }
}

/// The loss a rule line of `nft list` selects, read back: `… numgen inc mod
/// 5 4 drop` → (20, Fixed); `… numgen random mod 100 < 20 drop` → (20,
/// Random); a bare `… drop` → (100, Fixed). None for a line that drops nothing.
pub fn parse_loss(line: &str) -> Option<(u8, Pattern)> {
    let w: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || c == ',' || c == '{' || c == '}')
        .filter(|x| !x.is_empty())
        .collect();
    if w.last() != Some(&"drop") {
        return None;
    }
    let Some(at) = w.iter().position(|x| *x == "numgen") else {
        return Some((100, Pattern::Fixed));
    };
    let num = |i: usize| w.get(i).and_then(|x| x.parse::<u32>().ok());
    match w.get(at + 1) {
        Some(&"random") => {
            // numgen random mod 100 < PCT
            let pct = num(at + 5)?;
            Some((pct.min(100) as u8, Pattern::Random))
        }
        Some(&"inc") => {
            let m = num(at + 3)?;
            let k = w[at + 4..w.len() - 1]
                .iter()
                .filter(|x| x.parse::<u32>().is_ok())
                .count() as u32;
            (m > 0).then(|| ((100 * k / m).min(100) as u8, Pattern::Fixed))
        }
        _ => None,
    }
}

/// The words of a rule after the table and chain: `what`, the choice of
/// `pct` % under `pattern`, then `drop`.
fn drop_words<'a>(what: &[&'a str], choice: &'a str) -> Vec<&'a str> {
    let mut rule = what.to_vec();
    rule.extend(choice.split_whitespace());
    rule.push("drop");
    rule
}

/// The nft command that adds the input rule dropping what matches `what`
/// and `choice`: `add rule ip netlab input icmp type echo-request numgen … drop`.
pub fn drop_rule<'a>(what: &[&'a str], choice: &'a str) -> Vec<&'a str> {
    let mut rule = vec!["add", "rule", "ip", "netlab", "input"];
    rule.extend(drop_words(what, choice));
    rule
}

/// Drop `pct` percent of the packets matching each of `what` that arrive at
/// this host, one rule (and so one count) for each.
fn drop_incoming(ns: &Netns, pct: u8, pattern: Pattern, what: &[&[&str]]) -> Result<()> {
    if pct == 0 {
        return Ok(());
    }
    drop_incoming_choosing(ns, &loss_rule(pct, pattern), what)
}

/// Drop the packets matching each of `what` that arrive at this host and
/// that `choice` picks (an nft expression such as `numgen inc mod 5 4`;
/// empty: every one), one rule for each, in the input chain of the
/// `netlab` table (made here if missing).
pub fn drop_incoming_choosing(ns: &Netns, choice: &str, what: &[&[&str]]) -> Result<()> {
    nft(ns, &["add", "table", "ip", "netlab"])?;
    nft(
        ns,
        &[
            "add", "chain", "ip", "netlab", "input", "{", "type", "filter", "hook", "input",
            "priority", "0", ";", "}",
        ],
    )?;
    for w in what {
        nft(ns, &drop_rule(w, choice))?;
    }
    Ok(())
}

/// The match of [`drop_incoming_icmp_with`]'s rule.
pub const ECHO_REQUESTS: &str = "icmp type echo-request";

/// Drop `pct` percent of the ICMP echo requests arriving at this host, each
/// on its own chance (`numgen random`). Kept for callers written before
/// [`Pattern`]: it is [`drop_incoming_icmp_with`]`(ns, pct, Pattern::Random)`.
pub fn drop_incoming_icmp(ns: &Netns, pct: u8) -> Result<()> {
    drop_incoming_icmp_with(ns, pct, Pattern::Random)
}

/// Drop `pct` percent of the ICMP echo requests arriving at this host, chosen
/// by `pattern`. The rule is `icmp type echo-request {loss_rule(pct, pattern)}
/// drop` ([`ECHO_REQUESTS`], [`loss_rule`]): with [`Pattern::Fixed`] at 20 %,
/// requests 5, 10, 15 … (the 5th of every 5) never get an answer.
pub fn drop_incoming_icmp_with(ns: &Netns, pct: u8, pattern: Pattern) -> Result<()> {
    let what: Vec<&str> = ECHO_REQUESTS.split_whitespace().collect();
    drop_incoming(ns, pct, pattern, &[&what])
}

/// Drop `pct` percent of the TCP and UDP packets arriving at this host, each
/// protocol counted on its own (so with [`Pattern::Fixed`] the datagrams of a
/// UDP exchange lose exactly the pattern's share, whatever TCP did before).
///
/// Each packet is judged separately only if the kernel hands nft one packet per
/// segment, so call [`segment_by_segment`] on the link first (LAB-NOTES.md:
/// with GSO a 64 KB "superpacket" is one verdict).
pub fn drop_incoming_transport(ns: &Netns, pct: u8, pattern: Pattern) -> Result<()> {
    drop_incoming(
        ns,
        pct,
        pattern,
        &[&["meta", "l4proto", "tcp"], &["meta", "l4proto", "udp"]],
    )
}

/// Remove netlab's nft table from this host (no-op when there is none).
pub fn clear(ns: &Netns) -> Result<()> {
    let out = ns.command("nft", &["list", "tables"])?;
    if String::from_utf8_lossy(&out.stdout).contains("netlab") {
        nft(ns, &["delete", "table", "ip", "netlab"])?;
    }
    Ok(())
}

fn set_gso(ns: &Netns, iface: &str, segs: &str, size: &str) -> Result<()> {
    ns.ip(&[
        "link",
        "set",
        "dev",
        iface,
        "gso_max_segs",
        segs,
        "gso_max_size",
        size,
    ])?;
    Ok(())
}

/// Make an interface hand out one packet per TCP segment (no GSO superpackets).
pub fn segment_by_segment(ns: &Netns, iface: &str) -> Result<()> {
    set_gso(ns, iface, "1", "1500")
}

/// Undo [`segment_by_segment`]: the kernel's defaults for a veth.
pub fn restore_segmentation(ns: &Netns, iface: &str) -> Result<()> {
    set_gso(ns, iface, "65535", "65536")
}

/// How one cable is made worse for a class (`lab up --loss --delay --rate`),
/// each way; what `lab status` reads back from the kernel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Shaping {
    /// Percent of packets dropped, each way (0: none).
    pub loss: u8,
    /// How the dropped packets are chosen: `fixed` (the same share every
    /// run, nft `numgen inc`) or `random` (`--random-loss`, `numgen random`).
    pub loss_pattern: Pattern,
    /// Delay each way, milliseconds (netem, or netlab's delay line).
    pub delay_ms: Option<u32>,
    /// Rate each way, Mbit/s (tc tbf, or netem's rate).
    pub rate_mbit: Option<u32>,
}

impl Shaping {
    /// Whether it changes anything.
    pub fn any(&self) -> bool {
        self.loss > 0 || self.delay_ms.is_some() || self.rate_mbit.is_some()
    }

    /// The share of pings across this cable that get no answer: a request
    /// crosses it once and its reply once more, each losing `loss` %, so
    /// 1 − (1 − p)² of them (20 % → 36 %), in percent.
    pub fn echoes_lost_percent(&self) -> f64 {
        let p = f64::from(self.loss.min(100)) / 100.0;
        100.0 * (1.0 - (1.0 - p) * (1.0 - p))
    }
}

/// The delay and rate of a qdisc as `tc qdisc show` prints it (`qdisc tbf
/// 80b7: root refcnt 3 rate 10Mbit burst 4Kb lat 400ms`, `qdisc netem 8001:
/// root refcnt 2 limit 1000 delay 50ms rate 10Mbit`): (delay ms, rate Mbit/s).
pub fn parse_qdisc(line: &str) -> (Option<u32>, Option<u32>) {
    let w: Vec<&str> = line.split_whitespace().collect();
    let after = |key: &str| {
        w.iter()
            .position(|x| *x == key)
            .and_then(|i| w.get(i + 1))
            .copied()
    };
    let netem = w.get(1) == Some(&"netem");
    let delay = netem.then(|| after("delay")).flatten().and_then(|d| {
        let (num, scale) = if let Some(ms) = d.strip_suffix("ms") {
            (ms, 1.0)
        } else if let Some(us) = d.strip_suffix("us") {
            (us, 0.001)
        } else if let Some(s) = d.strip_suffix('s') {
            (s, 1000.0)
        } else {
            (d, 1.0)
        };
        num.parse::<f64>().ok().map(|v| (v * scale).round() as u32)
    });
    let rate = after("rate").and_then(|r| {
        let r = r.strip_suffix("bit")?;
        let (num, scale) = match r.char_indices().last() {
            Some((i, 'K')) => (&r[..i], 1e-3),
            Some((i, 'M')) => (&r[..i], 1.0),
            Some((i, 'G')) => (&r[..i], 1e3),
            _ => (r, 1e-6),
        };
        num.parse::<f64>()
            .ok()
            .map(|v| (v * scale).round().max(1.0) as u32)
    });
    (delay, rate)
}

/// What `host`'s cable carries, read from the kernel: the loss of
/// [`shape`]'s nft table in `host` (its far end drops the same share the
/// other way) and the qdisc on `iface` (or, with a delay line, on `wire0`,
/// the cable's end). A delay kept by netlab's delay line is not a qdisc: the
/// caller knows it from the line's process.
pub fn shaping_of(host: &Netns, iface: &str) -> Result<Shaping> {
    let mut s = Shaping::default();
    let out = host.command("nft", &["list", "table", "ip", SHAPE_TABLE])?;
    if out.status.success() {
        let text = String::from_utf8_lossy(&out.stdout);
        // One rule each way; both say the same.
        if let Some((loss, pattern)) = text.lines().find_map(parse_loss) {
            s.loss = loss;
            s.loss_pattern = pattern;
        }
    }
    let dev = if has_line(host) { LINE_ENDS.1 } else { iface };
    let out = host.command("tc", &["qdisc", "show", "dev", dev])?;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (delay, rate) = parse_qdisc(line);
        s.delay_ms = s.delay_ms.or(delay);
        s.rate_mbit = s.rate_mbit.or(rate);
    }
    Ok(s)
}

/// The nft table [`shape`] keeps a cable's loss in.
const SHAPE_TABLE: &str = "netlab_shape";

fn tc(ns: &Netns, args: &[&str]) -> std::result::Result<(), String> {
    let out = ns.command("tc", args).map_err(|e| e.text().en)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// How a delay was put on a cable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delay {
    /// No delay asked for.
    None,
    /// The kernel's netem qdisc does it.
    Netem,
    /// This kernel has no netem: the caller puts netlab's delay line
    /// ([`insert_line`]) on the cable, this many milliseconds each way.
    Line(u32),
}

/// Shape the cable between `host`'s `iface` and `peer`'s `peer_if`, both
/// ways: loss with nft, chosen by `s.loss_pattern`, where each direction
/// comes off the cable (what reaches `host`, in its input chain; what `host`
/// sends, at `peer_if`'s ingress, so the sender's own send never fails as an
/// output rule would make it); delay and rate with a qdisc on both ends'
/// egress (netem where the kernel has it; rate alone with tbf). Replaces
/// what an earlier call set for this cable.
pub fn shape(host: &Netns, iface: &str, peer: &Netns, peer_if: &str, s: &Shaping) -> Result<Delay> {
    // Loss into the host: one table of its own, rebuilt each time.
    let out = host.command("nft", &["list", "tables"])?;
    if String::from_utf8_lossy(&out.stdout).contains(SHAPE_TABLE) {
        // (A lab shaped by an older netlab may hold no ip table: only ask.)
        let _ = host.command("nft", &["delete", "table", "ip", SHAPE_TABLE]);
    }
    // Loss out of the host: a chain of its own at the far end, which other
    // cables share (sw1 holds p1 and p2).
    let from_host = format!("from_{peer_if}");
    let listed = peer.command("nft", &["list", "chain", "netdev", SHAPE_TABLE, &from_host])?;
    if listed.status.success() {
        nft(
            peer,
            &["delete", "chain", "netdev", SHAPE_TABLE, &from_host],
        )?;
    }
    if s.loss > 0 {
        segment_by_segment(host, iface)?;
        segment_by_segment(peer, peer_if)?;
        let choice = loss_rule(s.loss, s.loss_pattern);
        // Each chain counts its own packets: with the fixed pattern, the
        // same share of each direction. IPv4 only: ARP keeps working.
        nft(host, &["add", "table", "ip", SHAPE_TABLE])?;
        nft(
            host,
            &[
                "add",
                "chain",
                "ip",
                SHAPE_TABLE,
                "in",
                "{",
                "type",
                "filter",
                "hook",
                "input",
                "priority",
                "0",
                ";",
                "}",
            ],
        )?;
        let mut rule = vec!["add", "rule", "ip", SHAPE_TABLE, "in"];
        rule.extend(drop_words(&["iifname", iface], &choice));
        nft(host, &rule)?;
        nft(peer, &["add", "table", "netdev", SHAPE_TABLE])?;
        nft(
            peer,
            &[
                "add",
                "chain",
                "netdev",
                SHAPE_TABLE,
                &from_host,
                "{",
                "type",
                "filter",
                "hook",
                "ingress",
                "device",
                peer_if,
                "priority",
                "0",
                ";",
                "}",
            ],
        )?;
        let mut rule = vec!["add", "rule", "netdev", SHAPE_TABLE, &from_host];
        rule.extend(drop_words(&["meta", "protocol", "ip"], &choice));
        nft(peer, &rule)?;
    }
    // Delay and rate: the qdisc on both ends.
    let mut delay = match s.delay_ms {
        Some(_) => Delay::Netem,
        None => Delay::None,
    };
    let rate = s.rate_mbit.map(|r| format!("{r}mbit"));
    for (ns, dev) in [(host, iface), (peer, peer_if)] {
        let _ = tc(ns, &["qdisc", "del", "dev", dev, "root"]);
        let netem = match delay {
            Delay::Line(_) => None,
            _ => s.delay_ms,
        };
        match (netem, &rate) {
            (Some(d), _) => {
                let ms = format!("{d}ms");
                let mut args = vec!["qdisc", "add", "dev", dev, "root", "netem", "delay", &ms];
                if let Some(r) = &rate {
                    args.extend_from_slice(&["rate", r]);
                }
                match tc(ns, &args) {
                    Ok(()) => {}
                    // No netem in this kernel: the delay line takes the delay, tbf the rate.
                    Err(detail) if detail.contains("Specified qdisc kind is unknown") => {
                        delay = Delay::Line(d);
                        if let Some(r) = &rate {
                            tbf(ns, dev, r)?;
                        }
                    }
                    Err(detail) => {
                        return Err(Error::Command {
                            host: ns.name.clone(),
                            command: format!("tc {}", args.join(" ")),
                            detail,
                        })
                    }
                }
            }
            (None, Some(r)) => tbf(ns, dev, r)?,
            (None, None) => {}
        }
    }
    Ok(delay)
}

/// A token-bucket rate limit (`tc qdisc add … tbf`) on `dev`'s egress.
pub fn tbf(ns: &Netns, dev: &str, rate: &str) -> Result<()> {
    tc(
        ns,
        &[
            "qdisc", "add", "dev", dev, "root", "tbf", "rate", rate, "burst", "32kbit", "latency",
            "400ms",
        ],
    )
    .map_err(|detail| Error::Command {
        host: ns.name.clone(),
        command: format!("tc qdisc add dev {dev} root tbf rate {rate}"),
        detail,
    })
}

/// The delay line's two ends inside a host: `dl0` faces the host's own
/// stack (the new `eth0`'s peer), `wire0` is the cable to the switch or router.
pub const LINE_ENDS: (&str, &str) = ("dl0", "wire0");

/// Whether `ns` has a delay line on its cable.
pub fn has_line(ns: &Netns) -> bool {
    ns.ip(&["link", "show", "dev", LINE_ENDS.1]).is_ok()
}

/// The delay-line daemons of `host`'s cable (`netlab lab line HOST …`), for
/// the root lab or the rootless one held by `holder`.
pub fn line_pids(host: &str, holder: Option<u32>) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let want_holder = holder.map(|p| p.to_string());
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(c) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<String> = c
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let at = args.windows(3).position(|w| w == ["lab", "line", host]);
            let h = args
                .iter()
                .position(|a| a == "--holder")
                .and_then(|i| args.get(i + 1));
            at.is_some() && h == want_holder.as_ref()
        })
        .collect()
}

/// The delay of the line on `host`'s cable, from its process's arguments
/// (`netlab lab line HOST MS`).
pub fn line_delay(host: &str, holder: Option<u32>) -> Option<u32> {
    line_pids(host, holder).into_iter().find_map(|pid| {
        let c = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let args: Vec<String> = c
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let at = args
            .windows(3)
            .position(|w| w[0] == "lab" && w[1] == "line")?;
        args.get(at + 3)?.parse().ok()
    })
}

/// Put a delay line on a host's cable: the cable's end becomes `wire0`, and a
/// new `eth0` (same MAC and address) reaches it only through `dl0`, where
/// netlab forwards each frame after the delay. Nothing changes for the rest
/// of the lab: the same MAC and address answer on the same cable.
pub fn insert_line(
    ns: &Netns,
    mac: &str,
    cidr: &str,
    gateway: Option<std::net::Ipv4Addr>,
) -> Result<()> {
    if has_line(ns) {
        return Ok(());
    }
    let ip = |a: &[&str]| ns.ip(a).map(drop);
    ip(&["link", "set", "dev", "eth0", "down"])?;
    ip(&["addr", "flush", "dev", "eth0"])?;
    ip(&["link", "set", "dev", "eth0", "name", LINE_ENDS.1])?;
    ip(&[
        "link",
        "set",
        "dev",
        LINE_ENDS.1,
        "address",
        "02:00:00:00:dd:01",
    ])?;
    ip(&[
        "link",
        "add",
        "eth0",
        "type",
        "veth",
        "peer",
        "name",
        LINE_ENDS.0,
    ])?;
    ip(&["link", "set", "dev", "eth0", "address", mac])?;
    ip(&["addr", "add", cidr, "dev", "eth0"])?;
    for dev in [LINE_ENDS.0, LINE_ENDS.1, "eth0"] {
        ip(&["link", "set", "dev", dev, "up"])?;
    }
    // One frame per segment, so each fits the cable (the line completes checksums).
    segment_by_segment(ns, "eth0")?;
    if let Some(gw) = gateway {
        ip(&["route", "replace", "default", "via", &gw.to_string()])?;
    }
    Ok(())
}

/// Take a delay line off a host's cable: `wire0` is `eth0` again.
pub fn remove_line(
    ns: &Netns,
    mac: &str,
    cidr: &str,
    gateway: Option<std::net::Ipv4Addr>,
) -> Result<()> {
    if !has_line(ns) {
        return Ok(());
    }
    let ip = |a: &[&str]| ns.ip(a).map(drop);
    ip(&["link", "del", "dev", "eth0"])?;
    ip(&["link", "set", "dev", LINE_ENDS.1, "down"])?;
    ip(&["link", "set", "dev", LINE_ENDS.1, "name", "eth0"])?;
    ip(&["link", "set", "dev", "eth0", "address", mac])?;
    ip(&["addr", "add", cidr, "dev", "eth0"])?;
    ip(&["link", "set", "dev", "eth0", "up"])?;
    if let Some(gw) = gateway {
        ip(&["route", "replace", "default", "via", &gw.to_string()])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_pattern_drops_exactly_the_share_asked() {
        assert_eq!(period(20), (1, 5));
        assert_eq!(period(30), (3, 10));
        assert_eq!(period(33), (33, 100));
        assert_eq!(fixed_residues(20), [4]);
        assert_eq!(fixed_residues(10), [9]);
        assert_eq!(fixed_residues(30), [2, 5, 9]);
        assert_eq!(fixed_residues(50), [1]);
        for pct in 1..100u8 {
            // Every 100 packets lose exactly pct, and the first one goes through below 50 %.
            assert_eq!(fixed_count(pct, 100), u64::from(pct), "{pct}");
            let by_hand = (0..1000).filter(|&i| fixed_drops(pct, i)).count() as u64;
            assert_eq!(fixed_count(pct, 1000), by_hand, "{pct}");
            if pct <= 50 {
                assert!(!fixed_drops(pct, 0), "{pct}");
            }
        }
        // 200 numbered datagrams at 10 %: 9, 19, … 199.
        let lost: Vec<u64> = (0..200).filter(|&i| fixed_drops(10, i)).collect();
        assert_eq!(lost.len(), 20);
        assert!(lost.iter().all(|i| i % 10 == 9));
    }

    #[test]
    fn rules_are_written_as_nft_lists_them_and_read_back() {
        assert_eq!(loss_rule(20, Pattern::Fixed), "numgen inc mod 5 4");
        assert_eq!(
            loss_rule(30, Pattern::Fixed),
            "numgen inc mod 10 { 2, 5, 9 }"
        );
        assert_eq!(loss_rule(20, Pattern::Random), "numgen random mod 100 < 20");
        assert_eq!(loss_rule(100, Pattern::Fixed), "");
        assert_eq!(loss_rule(0, Pattern::Random), "");
        for pct in [1u8, 10, 20, 30, 33, 50, 99] {
            for pattern in [Pattern::Fixed, Pattern::Random] {
                let listed = format!("iifname \"eth0\" {} drop", loss_rule(pct, pattern));
                assert_eq!(parse_loss(&listed), Some((pct, pattern)), "{listed}");
            }
        }
        assert_eq!(
            parse_loss("oifname \"eth0\" drop"),
            Some((100, Pattern::Fixed))
        );
        assert_eq!(
            parse_loss("type filter hook input priority filter; policy accept;"),
            None
        );
    }

    #[test]
    fn qdiscs_are_read_back_as_delay_and_rate() {
        assert_eq!(
            parse_qdisc("qdisc tbf 80b7: root refcnt 3 rate 10Mbit burst 4Kb lat 400ms"),
            (None, Some(10))
        );
        assert_eq!(
            parse_qdisc("qdisc netem 8001: root refcnt 2 limit 1000 delay 50ms rate 5Mbit"),
            (Some(50), Some(5))
        );
        assert_eq!(
            parse_qdisc("qdisc tbf 1: root refcnt 2 rate 1Gbit burst 4Kb lat 400ms"),
            (None, Some(1000))
        );
        assert_eq!(parse_qdisc("qdisc noqueue 0: root refcnt 2"), (None, None));
    }

    #[test]
    fn a_ping_crosses_a_lossy_cable_twice() {
        let s = Shaping {
            loss: 20,
            ..Shaping::default()
        };
        assert!((s.echoes_lost_percent() - 36.0).abs() < 1e-9);
    }
}
