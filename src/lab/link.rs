//! Loss on a lab link, with nftables inside a host's namespace.
//!
//! netem is not available on this kernel (LAB-NOTES.md), so loss is an nft rule
//! `numgen random mod 100 < PCT drop`: each packet is dropped independently
//! with that chance. The table lives in the namespace and vanishes with it.

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

/// Drop `pct` percent of the packets matching `what` that arrive at this host.
/// numgen gives 0..=99, so "< 100" is not a valid nft value: 100 % needs no dice.
fn drop_incoming(ns: &Netns, pct: u8, what: &[&str]) -> Result<()> {
    if pct == 0 {
        return Ok(());
    }
    nft(ns, &["add", "table", "ip", "netlab"])?;
    nft(
        ns,
        &[
            "add", "chain", "ip", "netlab", "input", "{", "type", "filter", "hook", "input",
            "priority", "0", ";", "}",
        ],
    )?;
    let below = pct.to_string();
    let mut rule = vec!["add", "rule", "ip", "netlab", "input"];
    rule.extend_from_slice(what);
    if pct < 100 {
        rule.extend_from_slice(&["numgen", "random", "mod", "100", "lt", &below]);
    }
    rule.push("drop");
    nft(ns, &rule)
}

/// Drop `pct` percent of the ICMP echo requests arriving at this host.
pub fn drop_incoming_icmp(ns: &Netns, pct: u8) -> Result<()> {
    drop_incoming(ns, pct, &["icmp", "type", "echo-request"])
}

/// Drop `pct` percent of the TCP and UDP packets arriving at this host.
///
/// Each packet is judged separately only if the kernel hands nft one packet per
/// segment, so call [`segment_by_segment`] on the link first (LAB-NOTES.md:
/// with GSO a 64 KB "superpacket" is one verdict).
pub fn drop_incoming_transport(ns: &Netns, pct: u8) -> Result<()> {
    drop_incoming(ns, pct, &["meta", "l4proto", "{", "tcp", ",", "udp", "}"])
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

/// How one cable is made worse for a class (`lab up --loss --delay --rate`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Shaping {
    /// Percent dropped, each way.
    pub loss: u8,
    /// Delay each way, milliseconds (netem).
    pub delay_ms: Option<u32>,
    /// Rate each way, Mbit/s.
    pub rate_mbit: Option<u32>,
}

impl Shaping {
    /// Whether it changes anything.
    pub fn any(&self) -> bool {
        self.loss > 0 || self.delay_ms.is_some() || self.rate_mbit.is_some()
    }
}

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
/// ways: loss with nft at `host` (in and out), delay and rate with a qdisc on
/// both ends' egress (netem where the kernel has it; rate alone with tbf).
/// Replaces what an earlier call set.
pub fn shape(host: &Netns, iface: &str, peer: &Netns, peer_if: &str, s: &Shaping) -> Result<Delay> {
    // Loss: one table of its own, rebuilt each time.
    let out = host.command("nft", &["list", "tables"])?;
    if String::from_utf8_lossy(&out.stdout).contains("netlab_shape") {
        nft(host, &["delete", "table", "ip", "netlab_shape"])?;
    }
    if s.loss > 0 {
        segment_by_segment(host, iface)?;
        segment_by_segment(peer, peer_if)?;
        nft(host, &["add", "table", "ip", "netlab_shape"])?;
        let pct = s.loss.to_string();
        for (chain, hook, dir) in [("in", "input", "iifname"), ("out", "output", "oifname")] {
            nft(
                host,
                &[
                    "add",
                    "chain",
                    "ip",
                    "netlab_shape",
                    chain,
                    "{",
                    "type",
                    "filter",
                    "hook",
                    hook,
                    "priority",
                    "0",
                    ";",
                    "}",
                ],
            )?;
            let mut rule = vec!["add", "rule", "ip", "netlab_shape", chain, dir, iface];
            if s.loss < 100 {
                rule.extend_from_slice(&["numgen", "random", "mod", "100", "lt", &pct]);
            }
            rule.push("drop");
            nft(host, &rule)?;
        }
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
