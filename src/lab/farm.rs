//! The server farm: the lab of `netlab load-balance`, built from real links
//! in anonymous namespaces of its own (gone when netlab is).
//!
//! ```text
//!   client LAN 198.51.100.64/26 (swa)          backend LAN 203.0.113.64/26 (swb)
//!   c1 .70 ─┐                                ┌─ web1 .81
//!   c2 .71 ─┼─ swa ─┬─ lb eth0 .66    lb eth1 .66 ─┬─ swb ─┼─ web2 .82
//!           │       │   + VIP .80              │       └─ web3 .83
//!           │       └─ r1 eth0 .65    r1 eth1 .65 ─┘
//! ```
//!
//! lb, the balancer, stands between the two LANs and holds the virtual
//! address (VIP) the clients ask for. r1 is a plain router beside it: the way
//! back to the clients that does not go through lb (direct routing's replies
//! take it). Both switches are bridges in one namespace, `sw`. Which gateway
//! the backends use is the balancing mode's business ([`Farm::backends_via`]).
//! MAC addresses are set by netlab and differ from the class lab's, so a
//! frame's ends are read from the table here.

use std::net::Ipv4Addr;

use super::netns::Netns;
use crate::error::{Error, Result};
use crate::text::tx;

/// The virtual address the clients connect to (on lb's client leg).
pub const VIP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 80);
/// lb's address on the client LAN.
pub const LB_A: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 66);
/// lb's address on the backend LAN (the source of a proxy's connections).
pub const LB_B: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 66);
/// r1's address on the client LAN.
pub const R1_A: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 65);
/// r1's address on the backend LAN.
pub const R1_B: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 65);
/// The first client.
pub const C1: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 70);
/// The second client.
pub const C2: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 71);
/// Both LANs' prefix length (each a quarter of a documentation /24).
pub const PREFIX: u8 = 26;

/// The three web backends: name, address, MAC.
pub const BACKENDS: [(&str, Ipv4Addr, &str); 3] = [
    ("web1", Ipv4Addr::new(203, 0, 113, 81), "02:00:00:00:0b:81"),
    ("web2", Ipv4Addr::new(203, 0, 113, 82), "02:00:00:00:0b:82"),
    ("web3", Ipv4Addr::new(203, 0, 113, 83), "02:00:00:00:0b:83"),
];

/// One interface of the farm: host, name, address, MAC, switch port.
pub struct Port {
    /// The host (namespace) it is in.
    pub host: &'static str,
    /// Its name there.
    pub name: &'static str,
    /// Its address (the VIP is added to lb's eth0 besides).
    pub ip: Ipv4Addr,
    /// Its MAC address.
    pub mac: &'static str,
    /// The bridge port on `sw` at the cable's other end, and its bridge.
    pub sw: (&'static str, &'static str),
}

/// Every interface of the farm, in build order.
pub const PORTS: [Port; 9] = [
    Port {
        host: "c1",
        name: "eth0",
        ip: C1,
        mac: "02:00:00:00:0a:70",
        sw: ("a1", "swa"),
    },
    Port {
        host: "c2",
        name: "eth0",
        ip: C2,
        mac: "02:00:00:00:0a:71",
        sw: ("a2", "swa"),
    },
    Port {
        host: "lb",
        name: "eth0",
        ip: LB_A,
        mac: "02:00:00:00:0a:66",
        sw: ("a3", "swa"),
    },
    Port {
        host: "r1",
        name: "eth0",
        ip: R1_A,
        mac: "02:00:00:00:0a:65",
        sw: ("a4", "swa"),
    },
    Port {
        host: "lb",
        name: "eth1",
        ip: LB_B,
        mac: "02:00:00:00:0b:66",
        sw: ("b1", "swb"),
    },
    Port {
        host: "r1",
        name: "eth1",
        ip: R1_B,
        mac: "02:00:00:00:0b:65",
        sw: ("b2", "swb"),
    },
    Port {
        host: "web1",
        name: "eth0",
        ip: BACKENDS[0].1,
        mac: BACKENDS[0].2,
        sw: ("b3", "swb"),
    },
    Port {
        host: "web2",
        name: "eth0",
        ip: BACKENDS[1].1,
        mac: BACKENDS[1].2,
        sw: ("b4", "swb"),
    },
    Port {
        host: "web3",
        name: "eth0",
        ip: BACKENDS[2].1,
        mac: BACKENDS[2].2,
        sw: ("b5", "swb"),
    },
];

/// The farm's hosts, in build order.
pub const HOSTS: [&str; 8] = ["sw", "c1", "c2", "lb", "r1", "web1", "web2", "web3"];

/// The farm host that owns a MAC address (`*` for broadcast).
pub fn host_of_mac(mac: &str) -> Option<&'static str> {
    if mac.eq_ignore_ascii_case("ff:ff:ff:ff:ff:ff") {
        return Some("*");
    }
    PORTS
        .iter()
        .find(|p| p.mac.eq_ignore_ascii_case(mac))
        .map(|p| p.host)
}

/// The farm host that owns an address (the VIP is lb's).
pub fn host_of_ip(ip: Ipv4Addr) -> Option<&'static str> {
    if ip == VIP {
        return Some("lb");
    }
    PORTS.iter().find(|p| p.ip == ip).map(|p| p.host)
}

/// The hosts on the same LAN as `host`'s interface `iface`, but `host`:
/// who hears its broadcast there (comma-separated).
pub fn neighbours(host: &str, iface: &str) -> String {
    let Some(lan) = PORTS
        .iter()
        .find(|p| p.host == host && p.name == iface)
        .map(|p| p.sw.1)
    else {
        return "*".into();
    };
    PORTS
        .iter()
        .filter(|p| p.sw.1 == lan && p.host != host)
        .map(|p| p.host)
        .collect::<Vec<_>>()
        .join(",")
}

/// A built farm: its namespaces, alive as long as this value.
pub struct Farm {
    hosts: Vec<Netns>,
}

impl Farm {
    /// Build the farm in anonymous namespaces.
    pub fn build() -> Result<Farm> {
        let mut hosts = Vec::new();
        for h in HOSTS {
            hosts.push(Netns::anonymous(h)?);
        }
        let farm = Farm { hosts };
        let t = std::time::Instant::now();
        farm.wire()?;
        tracing::info!(
            "built the server farm ({}) in {} ms",
            HOSTS.join(", "),
            t.elapsed().as_millis()
        );
        Ok(farm)
    }

    /// The namespace of a host.
    pub fn host(&self, name: &str) -> Result<&Netns> {
        self.hosts.iter().find(|h| h.name == name).ok_or_else(|| {
            Error::usage(tx(
                format!(
                    "unknown farm host {name:?}: the hosts are {}",
                    HOSTS.join(", ")
                ),
                format!("服务器群里没有主机 {name:?}：主机有 {}", HOSTS.join("、")),
            ))
        })
    }

    fn wire(&self) -> Result<()> {
        for ns in &self.hosts {
            ns.quiet()?;
        }
        let sw = self.host("sw")?;
        for br in ["swa", "swb"] {
            sw.ip(&["link", "add", br, "type", "bridge"])?;
            sw.ip(&["link", "set", br, "multicast", "off"])?;
            sw.ip(&["link", "set", br, "type", "bridge", "mcast_snooping", "0"])?;
            sw.ip(&["link", "set", br, "up"])?;
        }
        for p in &PORTS {
            let ns = self.host(p.host)?;
            ns.ip(&[
                "link",
                "add",
                p.name,
                "type",
                "veth",
                "peer",
                "name",
                p.sw.0,
                "netns",
                &sw.path(),
            ])?;
            ns.ip(&["link", "set", p.name, "address", p.mac])?;
            ns.ip(&["addr", "add", &format!("{}/{PREFIX}", p.ip), "dev", p.name])?;
            ns.ip(&["link", "set", p.name, "up"])?;
            sw.ip(&["link", "set", p.sw.0, "master", p.sw.1])?;
            sw.ip(&["link", "set", p.sw.0, "up"])?;
        }
        let lb = self.host("lb")?;
        lb.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "eth0"])?;
        for h in ["lb", "r1"] {
            self.host(h)?.sysctl("net.ipv4.ip_forward", "1")?;
        }
        for c in ["c1", "c2"] {
            self.host(c)?
                .ip(&["route", "add", "default", "via", &R1_A.to_string()])?;
        }
        // r1 routes the client LAN, lb both: nothing more to add there.
        self.backends_via(LB_B)?;
        Ok(())
    }

    /// Point every backend's default route at `gw` (lb for NAT and a proxy,
    /// r1 for direct routing); the command each ran.
    pub fn backends_via(&self, gw: Ipv4Addr) -> Result<String> {
        let args = ["route", "replace", "default", "via", &gw.to_string()];
        for (name, _, _) in BACKENDS {
            self.host(name)?.ip(&args)?;
        }
        Ok(format!("ip {}", args.join(" ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_address_and_mac_has_one_owner() {
        assert_eq!(host_of_mac("02:00:00:00:0B:82"), Some("web2"));
        assert_eq!(host_of_mac("ff:ff:ff:ff:ff:ff"), Some("*"));
        assert_eq!(host_of_mac("02:00:00:00:00:10"), None, "the class lab's h1");
        assert_eq!(host_of_ip(VIP), Some("lb"));
        assert_eq!(host_of_ip(R1_B), Some("r1"));
        let mut macs: Vec<_> = PORTS.iter().map(|p| p.mac).collect();
        macs.sort();
        macs.dedup();
        assert_eq!(macs.len(), PORTS.len());
        assert_eq!(neighbours("c1", "eth0"), "c2,lb,r1");
        assert_eq!(neighbours("lb", "eth1"), "r1,web1,web2,web3");
    }
}
