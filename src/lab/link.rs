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
