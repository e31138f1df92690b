//! The failover lab: two routers share one gateway address on a LAN, and a
//! host beyond them that h1 reaches through whichever of them is master.
//!
//! ```text
//!                LAN 198.51.100.64/26              beyond
//!   h1 .70 ─┐                                ┌─ r1 eth1 .65 ─── h3 eth0 .66
//!           ├─ sw1 (bridge br0) ── r1 .66 ───┘   203.0.113.64/30
//!           │                  └── r2 .67 ───┐   203.0.113.68/30
//!           │   VIP .65 on the master        └─ r2 eth1 .69 ─── h3 eth1 .70
//!                                                 h3 serves 203.0.113.100 (lo)
//! ```
//!
//! h1's default gateway is the virtual address [`VIP`]; only the master
//! carries it (on its eth0, with its own MAC: keepalived's default), so h1's
//! packets go to whichever router is master. h3 has a leg to each router and
//! a route back to the LAN through each, r1's preferred; a leg whose link is
//! down is skipped (`ignore_routes_with_linkdown`), so when r1 dies h3
//! answers through r2. Every host is an anonymous namespace: gone with the
//! process. Nothing here speaks VRRP: that is [`crate::ha`]'s.

use std::net::Ipv4Addr;

use super::netns::Netns;
use crate::error::Result;

/// The LAN.
pub const LAN: &str = "198.51.100.64/26";
/// The LAN's prefix length.
pub const LAN_PREFIX: u8 = 26;
/// The virtual gateway address the routers share.
pub const VIP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 65);
/// h1.
pub const H1: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 70);
/// r1 on the LAN.
pub const R1: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 66);
/// r2 on the LAN.
pub const R2: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 67);
/// The address h1 pings, on h3's loopback: reachable through either router.
pub const H3: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 100);
/// r1's and h3's ends of their link.
const R1_B: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 65);
const H3_R1: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 66);
/// r2's and h3's ends of theirs.
const R2_B: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 69);
const H3_R2: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 70);

/// The MAC addresses netlab gives the LAN's interfaces, by host.
pub const MACS: [(&str, &str); 3] = [
    ("h1", "02:00:00:00:33:10"),
    ("r1", "02:00:00:00:33:01"),
    ("r2", "02:00:00:00:33:02"),
];

/// The LAN's hosts (those whose frames h1's link carries).
pub const LAN_HOSTS: [&str; 3] = ["h1", "r1", "r2"];

/// The MAC of a LAN host.
pub fn mac_of(host: &str) -> &'static str {
    MACS.iter().find(|(h, _)| *h == host).map_or("", |(_, m)| m)
}

/// The LAN host that owns a MAC address.
pub fn host_of_mac(mac: &str) -> Option<&'static str> {
    MACS.iter()
        .find(|(_, m)| m.eq_ignore_ascii_case(mac))
        .map(|(h, _)| *h)
}

/// The LAN host that owns an address on the LAN (not the VIP, which moves).
pub fn host_of_ip(ip: Ipv4Addr) -> Option<&'static str> {
    match ip {
        H1 => Some("h1"),
        R1 => Some("r1"),
        R2 => Some("r2"),
        _ => None,
    }
}

/// The lab, alive as long as this value.
pub struct HaLab {
    /// The switch.
    pub sw1: Netns,
    /// The host that pings.
    pub h1: Netns,
    /// The first router (master to begin with).
    pub r1: Netns,
    /// The second router (backup).
    pub r2: Netns,
    /// The host beyond the routers.
    pub h3: Netns,
}

impl HaLab {
    /// Build it in anonymous namespaces.
    pub fn build() -> Result<HaLab> {
        let lab = HaLab {
            sw1: Netns::anonymous("sw1")?,
            h1: Netns::anonymous("h1")?,
            r1: Netns::anonymous("r1")?,
            r2: Netns::anonymous("r2")?,
            h3: Netns::anonymous("h3")?,
        };
        let t = std::time::Instant::now();
        lab.wire()?;
        tracing::info!(
            "built the failover lab (h1, sw1, r1, r2, h3) in {} ms",
            t.elapsed().as_millis()
        );
        Ok(lab)
    }

    /// A router by name.
    pub fn router(&self, name: &str) -> &Netns {
        if name == "r2" {
            &self.r2
        } else {
            &self.r1
        }
    }

    fn wire(&self) -> Result<()> {
        for ns in [&self.sw1, &self.h1, &self.r1, &self.r2, &self.h3] {
            ns.quiet()?;
        }
        let sw = &self.sw1;
        sw.ip(&["link", "add", "br0", "type", "bridge"])?;
        // No IGMP of the bridge's own, and multicast (the adverts) flooded to
        // every port, as an unmanaged switch does.
        sw.ip(&["link", "set", "br0", "multicast", "off"])?;
        sw.ip(&[
            "link",
            "set",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ])?;
        sw.ip(&["link", "set", "br0", "up"])?;
        let lan: [(&Netns, &str, Ipv4Addr); 3] = [
            (&self.h1, "p1", H1),
            (&self.r1, "p2", R1),
            (&self.r2, "p3", R2),
        ];
        for (ns, port, ip) in lan {
            ns.ip(&[
                "link",
                "add",
                "eth0",
                "type",
                "veth",
                "peer",
                "name",
                port,
                "netns",
                &sw.path(),
            ])?;
            sw.ip(&["link", "set", port, "master", "br0"])?;
            sw.ip(&["link", "set", port, "up"])?;
            ns.ip(&["link", "set", "eth0", "address", mac_of(&ns.name)])?;
            ns.ip(&["addr", "add", &format!("{ip}/{LAN_PREFIX}"), "dev", "eth0"])?;
            ns.ip(&["link", "set", "eth0", "up"])?;
        }
        let beyond: [(&Netns, &str, Ipv4Addr, Ipv4Addr); 2] = [
            (&self.r1, "eth0", R1_B, H3_R1),
            (&self.r2, "eth1", R2_B, H3_R2),
        ];
        for (r, h3_if, r_ip, h3_ip) in beyond {
            r.ip(&[
                "link",
                "add",
                "eth1",
                "type",
                "veth",
                "peer",
                "name",
                h3_if,
                "netns",
                &self.h3.path(),
            ])?;
            r.ip(&["addr", "add", &format!("{r_ip}/30"), "dev", "eth1"])?;
            r.ip(&["link", "set", "eth1", "up"])?;
            self.h3
                .ip(&["addr", "add", &format!("{h3_ip}/30"), "dev", h3_if])?;
            self.h3.ip(&["link", "set", h3_if, "up"])?;
            r.ip(&[
                "route",
                "add",
                &format!("{H3}/32"),
                "via",
                &h3_ip.to_string(),
            ])?;
            r.sysctl("net.ipv4.ip_forward", "1")?;
            // Joining 224.0.0.18 sends no IGMP report: a link-local group
            // needs none, and the capture stays the story's.
            r.sysctl("net.ipv4.igmp_link_local_mcast_reports", "0")?;
        }
        self.h3
            .ip(&["addr", "add", &format!("{H3}/32"), "dev", "lo"])?;
        // Back to the LAN: through r1 first, r2 when r1's link is down.
        self.h3
            .sysctl("net.ipv4.conf.all.ignore_routes_with_linkdown", "1")?;
        for (via, metric) in [(R1_B, "10"), (R2_B, "20")] {
            self.h3.ip(&[
                "route",
                "add",
                LAN,
                "via",
                &via.to_string(),
                "metric",
                metric,
            ])?;
        }
        self.h1
            .ip(&["route", "add", "default", "via", &VIP.to_string()])?;
        Ok(())
    }

    /// A crash of `router`: both its links go down at once, as when the box
    /// dies (what runs on it is stopped by the caller). The command that did it.
    pub fn cut(&self, router: &str) -> Result<Vec<String>> {
        let r = self.router(router);
        let mut said = Vec::new();
        for i in ["eth0", "eth1"] {
            r.ip(&["link", "set", i, "down"])?;
            said.push(format!("ip link set {i} down"));
        }
        Ok(said)
    }

    /// h1's neighbour entry for `ip`: its MAC and state, if it has one.
    pub fn neighbour(&self, ip: Ipv4Addr) -> Result<Option<Neighbour>> {
        let out = self
            .h1
            .ip(&["-j", "neigh", "show", &ip.to_string(), "dev", "eth0"])?;
        Ok(parse_neigh(&out))
    }
}

/// One neighbour-table entry.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Neighbour {
    /// The MAC address it maps to.
    pub mac: String,
    /// The kernel's state (REACHABLE, STALE, DELAY …).
    pub state: String,
}

/// The first entry of `ip -j neigh show` output that has a MAC.
pub fn parse_neigh(json: &str) -> Option<Neighbour> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    v.as_array()?.iter().find_map(|e| {
        Some(Neighbour {
            mac: e["lladdr"].as_str()?.to_string(),
            state: e["state"]
                .as_array()
                .and_then(|s| s.first())
                .and_then(|s| s.as_str())
                .unwrap_or("")
                .to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbour_entries_are_read_from_ip_json() {
        let json = r#"[{"dst":"198.51.100.65","dev":"eth0","lladdr":"02:00:00:00:33:01","state":["REACHABLE"]}]"#;
        assert_eq!(
            parse_neigh(json),
            Some(Neighbour {
                mac: "02:00:00:00:33:01".into(),
                state: "REACHABLE".into()
            })
        );
        // An entry still being resolved has no MAC yet.
        assert_eq!(
            parse_neigh(r#"[{"dst":"198.51.100.65","state":["INCOMPLETE"]}]"#),
            None
        );
        assert_eq!(parse_neigh("[]"), None);
        assert_eq!(host_of_mac("02:00:00:00:33:02"), Some("r2"));
        assert_eq!(
            host_of_ip(VIP),
            None,
            "the VIP belongs to whoever is master"
        );
    }
}
