//! Layer-4 balancing with nftables on lb: the rules, each the command a
//! student could type, and the engine check (IPVS where the kernel has it).
//!
//! - NAT (LVS-NAT): a `dnat` in a prerouting nat chain picks a backend for
//!   each new connection, by a counter (`numgen inc`: round robin) or a hash
//!   of the client's address (`jhash ip saddr`: source hash); conntrack
//!   remembers the choice, so every later packet of the connection goes the
//!   same way, and rewrites the replies' source back to the VIP.
//! - Direct routing (LVS-DR): in lb's ingress hook (netdev family, before
//!   IP and before conntrack) the packet is sent on unchanged out of the
//!   backend leg to a backend's MAC (`fwd ip to ADDRESS device eth1`: ARP
//!   finds the MAC; the new frame is from lb's own). No connection table
//!   there, so the choice is a hash of the connection's own address and
//!   port (every packet of it hashes alike). `ether daddr set …` would
//!   leave even the source MAC alone, but a user namespace may not rewrite
//!   link-layer bytes (EPERM), and lb must work without root too.

use std::net::Ipv4Addr;

use crate::error::Result;
use crate::lab::farm::{BACKENDS, VIP};
use crate::lab::link::nft;
use crate::lab::netns::Netns;

/// The nftables table the NAT rules live in.
pub const NAT_TABLE: &str = "ip lvs";
/// The nftables table of direct routing.
pub const DR_TABLE: &str = "netdev lvsdr";

/// How a layer-4 rule picks a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// A counter, one step per new connection.
    RoundRobin,
    /// A hash of the client's address, with a fixed seed (the same client,
    /// the same backend, every run).
    SourceHash,
    /// A hash of the client's address and port: one connection, one backend.
    FlowHash,
}

/// The seed of the source hash: with it, c1 and c2 land on different backends.
pub const SEED: u32 = 0x6c62;

/// The nft expression that picks 0, 1 or 2.
pub fn chooser(p: Pick) -> String {
    match p {
        Pick::RoundRobin => "numgen inc mod 3".into(),
        Pick::SourceHash => format!("jhash ip saddr mod 3 seed {SEED:#x}"),
        Pick::FlowHash => "jhash ip saddr . tcp sport mod 3".into(),
    }
}

/// The `map { 0 : …, 1 : …, 2 : … }` from the chooser's number to a backend.
fn map(of: impl Fn(usize) -> String) -> String {
    let items: Vec<String> = (0..BACKENDS.len())
        .map(|i| format!("{i} : {}", of(i)))
        .collect();
    format!("map {{ {} }}", items.join(", "))
}

/// The commands that make the NAT balancer, in order.
pub fn nat_commands(p: Pick) -> Vec<String> {
    vec![
        format!("nft add table {NAT_TABLE}"),
        format!("nft add chain {NAT_TABLE} pre {{ type nat hook prerouting priority dstnat ; }}"),
        format!(
            "nft add rule {NAT_TABLE} pre ip daddr {VIP} tcp dport 80 dnat to {} {}",
            chooser(p),
            map(|i| BACKENDS[i].1.to_string())
        ),
    ]
}

/// The commands that make the direct-routing balancer, in order.
pub fn dr_commands() -> Vec<String> {
    vec![
        format!("nft add table {DR_TABLE}"),
        format!(
            "nft add chain {DR_TABLE} in {{ type filter hook ingress device eth0 priority 0 ; }}"
        ),
        format!(
            "nft add rule {DR_TABLE} in ip daddr {VIP} tcp dport 80 fwd ip to {} {} device eth1",
            chooser(Pick::FlowHash),
            map(|i| BACKENDS[i].1.to_string())
        ),
    ]
}

/// The commands each backend runs for direct routing: the VIP on its
/// loopback (so it accepts packets for it and answers from it), and ARP
/// kept quiet about it (so only lb answers for the VIP on the LAN).
pub fn dr_backend_commands() -> Vec<String> {
    vec![
        format!("ip addr add {VIP}/32 dev lo"),
        "sysctl -w net.ipv4.conf.all.arp_ignore=1".into(),
        "sysctl -w net.ipv4.conf.all.arp_announce=2".into(),
    ]
}

/// Run `commands` (each `nft …`) in `ns`.
pub fn apply(ns: &Netns, commands: &[String]) -> Result<()> {
    for c in commands {
        let words: Vec<&str> = c.split_whitespace().skip(1).collect();
        nft(ns, &words)?;
    }
    Ok(())
}

/// Remove lb's balancing tables, whichever there are.
pub fn clear(lb: &Netns) {
    for t in [NAT_TABLE, DR_TABLE] {
        let mut args = vec!["delete", "table"];
        args.extend(t.split(' '));
        let _ = lb.command("nft", &args);
    }
}

/// Set up direct routing on a backend (see [`dr_backend_commands`]).
pub fn dr_backend(ns: &Netns) -> Result<()> {
    ns.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "lo"])?;
    ns.sysctl("net.ipv4.conf.all.arp_ignore", "1")?;
    ns.sysctl("net.ipv4.conf.all.arp_announce", "2")
}

/// Whether this kernel has IPVS (LVS's own balancer): /proc/net/ip_vs exists
/// where the module is built in or loaded. Read in `ns`.
pub fn has_ipvs(ns: &Netns) -> bool {
    ns.run(|| std::path::Path::new("/proc/net/ip_vs").exists())
        .unwrap_or(false)
}

/// The backend an address belongs to.
pub fn backend_of(ip: Ipv4Addr) -> Option<&'static str> {
    BACKENDS.iter().find(|b| b.1 == ip).map(|b| b.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_read_as_typed() {
        let rr = nat_commands(Pick::RoundRobin);
        assert_eq!(
            rr[2],
            "nft add rule ip lvs pre ip daddr 198.51.100.80 tcp dport 80 dnat to numgen inc mod 3 map { 0 : 203.0.113.81, 1 : 203.0.113.82, 2 : 203.0.113.83 }"
        );
        assert!(nat_commands(Pick::SourceHash)[2].contains("jhash ip saddr mod 3 seed 0x6c62 map"));
        assert!(dr_commands()[2]
            .contains("fwd ip to jhash ip saddr . tcp sport mod 3 map { 0 : 203.0.113.81,"));
        assert!(dr_commands()[2].ends_with("device eth1"));
        assert_eq!(backend_of(BACKENDS[2].1), Some("web3"));
    }
}
