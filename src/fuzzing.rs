//! The bodies of the fuzz targets in `fuzz/`, kept in the library so that the
//! inputs the fuzzer once crashed on are replayed by `cargo test`
//! (`fuzz/regressions/TARGET/*`). Each function panics only on a real bug.

use std::sync::OnceLock;

use hickory_proto::op::Message;

use crate::lab::zones::{Zone, ZoneSet};

/// The DNS byte view: explains or refuses; every field range inside the message.
pub fn dns_message(data: &[u8]) {
    if let Ok(fields) = crate::wire::dns::explain(data) {
        for f in fields {
            assert!(f.range.start <= f.range.end && f.range.end <= data.len());
        }
    }
}

/// Captured frames and bare IP packets.
pub fn frame(data: &[u8]) {
    for d in [
        crate::wire::frame::ethernet_frame(data),
        crate::wire::frame::ip_packet(data),
    ]
    .into_iter()
    .flatten()
    {
        let _ = crate::wire::frame::summary(&d);
        for f in d.fields {
            assert!(f.range.start <= f.range.end && f.range.end <= data.len());
        }
    }
}

/// An instructor's zone file.
pub fn zone_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(zone) = Zone::parse("fuzz.example.zone", &text) {
        let _ = zone.soa();
        let _ = zone.ns_names();
        let _ = ZoneSet::new(vec![zone]);
    }
}

fn zones() -> &'static ZoneSet {
    static Z: OnceLock<ZoneSet> = OnceLock::new();
    Z.get_or_init(|| ZoneSet::builtin().expect("built-in zones load"))
}

/// Any query a client could send to the lab's authoritative servers.
pub fn lab_server(data: &[u8]) {
    if let Ok(req) = Message::from_vec(data) {
        let refs: Vec<_> = zones().zones.iter().map(|z| &**z).collect();
        let reply = crate::lab::dns::respond(&refs, &req);
        let bytes = crate::lab::dns::encode_udp(&req, reply);
        assert!(bytes.len() <= crate::lab::dns::MAX_EDNS_UDP);
    }
}

/// Every parser of free text: names, --root-servers, durations, `ip -j neigh`,
/// /etc/services, /etc/resolv.conf, /etc/hosts.
pub fn text_inputs(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    if let Ok(n) = crate::dns::name::check(&s) {
        assert!(n.ascii.len() <= 254 && n.ascii.ends_with('.'));
    }
    let _ = crate::cli::parse_root_servers(&s);
    if let Ok(d) = crate::cli::parse_duration(&s) {
        assert!(!d.is_zero(), "a parsed duration is never zero");
    }
    let _ = crate::host::neigh::parse(&s);
    let _ = crate::host::parse_services(&s);
    let _ = crate::host::hosts_matches(&s, "www.baidu.com.");
}

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// The targets by name.
pub const TARGETS: [(&str, Target); 5] = [
    ("dns_message", dns_message),
    ("frame", frame),
    ("zone_file", zone_file),
    ("lab_server", lab_server),
    ("text_inputs", text_inputs),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every input a fuzzer once crashed on, replayed through its target.
    #[test]
    fn fuzz_regressions_stay_fixed() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
        let mut replayed = 0;
        for (name, target) in TARGETS {
            let Ok(dir) = std::fs::read_dir(root.join(name)) else {
                continue;
            };
            for e in dir.flatten() {
                let data = std::fs::read(e.path()).unwrap();
                target(&data);
                replayed += 1;
            }
        }
        assert!(
            replayed >= 1,
            "the regression corpus is in fuzz/regressions"
        );
    }

    #[test]
    fn targets_accept_empty_and_typical_input() {
        for (_, t) in TARGETS {
            t(b"");
            t(b"www.baidu.com");
            t(&[0xff; 64]);
        }
    }
}
