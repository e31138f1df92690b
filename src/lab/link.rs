//! Loss on a lab link, with nftables inside a host's namespace.
//!
//! netem is not available on this kernel (LAB-NOTES.md), so loss is an nft rule
//! `numgen random mod 100 < PCT drop`: each packet is dropped independently
//! with that chance. The table lives in the namespace and vanishes with it.

use super::netns::Netns;
use crate::error::{Error, Result};

fn nft(ns: &Netns, args: &[&str]) -> Result<()> {
    let out = ns.command("nft", args)?;
    if !out.status.success() {
        return Err(Error::Lab(format!(
            "{}: nft {}: {} (is nftables installed? apt-get install nftables)",
            ns.name,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Drop `pct` percent of the ICMP echo requests arriving at this host.
pub fn drop_incoming_icmp(ns: &Netns, pct: u8) -> Result<()> {
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
    // numgen gives 0..=99, so "< 100" is not a valid nft value; 100 % needs no dice.
    let pct = pct.to_string();
    let mut rule = vec![
        "add",
        "rule",
        "ip",
        "netlab",
        "input",
        "icmp",
        "type",
        "echo-request",
    ];
    if pct != "100" {
        rule.extend_from_slice(&["numgen", "random", "mod", "100", "lt", &pct]);
    }
    rule.push("drop");
    nft(ns, &rule)
}
