//! The kernel's neighbour (ARP) table, as `ip -j neigh` reports it.
//!
//! Each entry: IP, MAC, interface and NUD state (REACHABLE, STALE, DELAY,
//! PROBE, FAILED, INCOMPLETE, PERMANENT, ...). Unknown states are kept as
//! the kernel names them.

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// One entry of a neighbour table, as `ip neigh` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Entry {
    /// The neighbour's IP address.
    pub ip: String,
    /// Its MAC address; empty while unresolved.
    pub mac: String,
    /// The interface it was learned on.
    pub iface: String,
    /// The kernel's neighbour state (REACHABLE, STALE, DELAY, FAILED …), several joined with `,`.
    pub state: String,
}

/// Parse `ip -j neigh show` output.
pub fn parse(json: &str) -> Result<Vec<Entry>> {
    let v: Value = serde_json::from_str(if json.trim().is_empty() { "[]" } else { json })
        .map_err(|e| Error::Internal(format!("`ip -j neigh` printed what is not JSON: {e}")))?;
    let list = v.as_array().cloned().unwrap_or_default();
    Ok(list
        .iter()
        .map(|e| Entry {
            ip: e["dst"].as_str().unwrap_or_default().to_string(),
            mac: e["lladdr"].as_str().unwrap_or_default().to_string(),
            iface: e["dev"].as_str().unwrap_or_default().to_string(),
            state: e["state"]
                .as_array()
                .map(|s| {
                    s.iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default(),
        })
        .collect())
}

/// IPv4 entries of the table seen by the calling thread's namespace.
pub fn read() -> Result<Vec<Entry>> {
    parse(&crate::lab::netns::ip_here(
        "this host",
        &["-4", "-j", "neigh", "show"],
    )?)
}

/// Lines for display: "198.51.100.20  02:00:00:00:00:20  eth0  REACHABLE".
pub fn lines(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| {
            let mac = if e.mac.is_empty() {
                "(incomplete)"
            } else {
                &e.mac
            };
            format!("{:<16} {:<18} {:<8} {}", e.ip, mac, e.iface, e.state)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ip_json() {
        let j = r#"[{"dst":"198.51.100.20","dev":"eth0","lladdr":"02:00:00:00:00:20","state":["REACHABLE"]},
                   {"dst":"198.51.100.99","dev":"eth0","state":["FAILED"]}]"#;
        let e = parse(j).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].mac, "02:00:00:00:00:20");
        assert_eq!(e[0].state, "REACHABLE");
        assert_eq!(e[1].mac, "");
        assert!(lines(&e)[1].contains("(incomplete)"));
        assert!(parse("").unwrap().is_empty());
        assert!(parse("{not json").is_err());
    }
}
