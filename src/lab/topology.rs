//! The namespace lab: two LANs and a router, built from real links.
//!
//! ```text
//!   LAN A 198.51.100.0/24                         LAN B 203.0.113.0/24
//!   h1 .10 ─┐
//!           ├─ sw1 (a Linux bridge: layer 2) ─ r1 .1 │ r1 .1 ─── h3 .10
//!   h2 .20 ─┘                                  eth0  │ eth1
//! ```
//!
//! Every host is a network namespace; every cable a veth pair; the switch a
//! bridge in a namespace of its own; r1 forwards between its two legs
//! (`ip_forward=1`). MAC addresses are set by netlab (locally administered,
//! so they are easy to read). IPv6 is off in the lab so captures show only
//! what the demo caused. Addresses come from RFC 5737 documentation ranges;
//! never 192.0.2.0/24, this machine's own uplink.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde::Serialize;

use super::netns::Netns;
use crate::error::{Error, Result};

/// One interface of a lab host.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Iface {
    /// Its name inside the host.
    pub name: &'static str,
    /// Its IPv4 address (none on a switch port).
    pub ip: Option<Ipv4Addr>,
    /// Its MAC address, set by netlab.
    pub mac: &'static str,
    /// What the other end of its cable is (`sw1:p1`).
    pub peer: &'static str,
}

/// One lab host as planned: its role, interfaces and gateway.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct HostPlan {
    /// `h1`, `h2`, `h3`, `r1`, `sw1`.
    pub name: &'static str,
    /// What it is.
    pub role: &'static str,
    /// Its interfaces.
    pub ifaces: Vec<Iface>,
    /// Its default gateway, if it has one.
    pub gateway: Option<Ipv4Addr>,
}

/// Address of h1.
pub const H1: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
/// Address of h2.
pub const H2: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 20);
/// r1's leg in LAN A (the gateway of h1 and h2).
pub const R1_A: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// r1's leg in LAN B.
pub const R1_B: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// Address of h3.
pub const H3: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
/// A LAN A address where no host answers.
pub const NOBODY: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 99);

/// The lab's hosts in build order.
pub fn plan() -> Vec<HostPlan> {
    vec![
        HostPlan {
            name: "sw1",
            role: "switch (Linux bridge br0, layer 2)",
            ifaces: vec![
                Iface {
                    name: "p1",
                    ip: None,
                    mac: "02:00:00:00:aa:01",
                    peer: "h1:eth0",
                },
                Iface {
                    name: "p2",
                    ip: None,
                    mac: "02:00:00:00:aa:02",
                    peer: "h2:eth0",
                },
                Iface {
                    name: "p3",
                    ip: None,
                    mac: "02:00:00:00:aa:03",
                    peer: "r1:eth0",
                },
            ],
            gateway: None,
        },
        HostPlan {
            name: "h1",
            role: "host on LAN A",
            ifaces: vec![Iface {
                name: "eth0",
                ip: Some(H1),
                mac: "02:00:00:00:00:10",
                peer: "sw1:p1",
            }],
            gateway: Some(R1_A),
        },
        HostPlan {
            name: "h2",
            role: "host on LAN A",
            ifaces: vec![Iface {
                name: "eth0",
                ip: Some(H2),
                mac: "02:00:00:00:00:20",
                peer: "sw1:p2",
            }],
            gateway: Some(R1_A),
        },
        HostPlan {
            name: "r1",
            role: "router between LAN A and LAN B (layer 3)",
            ifaces: vec![
                Iface {
                    name: "eth0",
                    ip: Some(R1_A),
                    mac: "02:00:00:00:00:01",
                    peer: "sw1:p3",
                },
                Iface {
                    name: "eth1",
                    ip: Some(R1_B),
                    mac: "02:00:00:00:01:01",
                    peer: "h3:eth0",
                },
            ],
            gateway: None,
        },
        HostPlan {
            name: "h3",
            role: "host on LAN B",
            ifaces: vec![Iface {
                name: "eth0",
                ip: Some(H3),
                mac: "02:00:00:00:01:10",
                peer: "r1:eth1",
            }],
            gateway: Some(R1_B),
        },
    ]
}

/// The lab host that owns a MAC address (`02:00:00:00:00:10` → `h1`);
/// `*` for the broadcast address.
pub fn host_of_mac(mac: &str) -> Option<&'static str> {
    // Broadcast, and IPv4 multicast (01:00:5e:…): every host on the link.
    if mac.eq_ignore_ascii_case("ff:ff:ff:ff:ff:ff")
        || mac.to_ascii_lowercase().starts_with("01:00:5e:")
    {
        return Some("*");
    }
    plan()
        .into_iter()
        .find(|h| h.ifaces.iter().any(|i| i.mac.eq_ignore_ascii_case(mac)))
        .map(|h| h.name)
        .or_else(|| {
            super::wan::MACS
                .iter()
                .find(|(_, m)| m.eq_ignore_ascii_case(mac))
                .map(|(h, _)| *h)
        })
}

/// Who receives a broadcast sent on a link (`h1:eth0`): every other lab host
/// with an address in that interface's /24, comma-separated (`h2,r1`).
pub fn broadcast_receivers(link: &str, sender: &str) -> String {
    let (host, ifname) = link.split_once(':').unwrap_or((link, ""));
    let plan = plan();
    let Some(ip) = plan
        .iter()
        .find(|h| h.name == host)
        .and_then(|h| h.ifaces.iter().find(|i| i.name == ifname))
        .and_then(|i| i.ip)
    else {
        // The WAN's links: the routers at either end, LAN C's two hosts.
        let members: &[&str] = match link {
            "r1:eth2" | "r2:eth0" | "wan:wan-r1" | "wan:wan-r2" => &["r1", "r2"],
            "r2:eth1" | "h4:eth0" => &["r2", "h4"],
            _ => return "*".into(),
        };
        return members
            .iter()
            .filter(|h| **h != sender)
            .copied()
            .collect::<Vec<_>>()
            .join(",");
    };
    let net = |a: Ipv4Addr| u32::from(a) >> 8;
    plan.iter()
        .filter(|h| h.name != sender)
        .filter(|h| {
            h.ifaces
                .iter()
                .any(|i| i.ip.is_some_and(|a| net(a) == net(ip)))
        })
        .map(|h| h.name)
        .collect::<Vec<_>>()
        .join(",")
}

/// The lab host that owns an IPv4 address.
pub fn host_of_ip(ip: Ipv4Addr) -> Option<&'static str> {
    plan()
        .into_iter()
        .find(|h| h.ifaces.iter().any(|i| i.ip == Some(ip)))
        .map(|h| h.name)
        .or_else(|| {
            super::wan::ADDRS
                .iter()
                .find(|(_, a)| *a == ip)
                .map(|(h, _)| *h)
        })
}

/// A built lab: its namespaces, alive as long as this value.
pub struct NetLab {
    /// Namespaces by host name, in [`plan`] order.
    pub hosts: Vec<Netns>,
    /// Named (`lab up`) or anonymous.
    pub named: bool,
}

/// Prefix of named lab namespaces in /run/netns.
pub const NAMED_PREFIX: &str = "netlab-";

fn named_path(host: &str) -> PathBuf {
    PathBuf::from(format!("/run/netns/{NAMED_PREFIX}{host}"))
}

/// One interface of a lab host as the kernel reports it (`ip -j addr show`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct IfaceState {
    /// Its name inside the host.
    pub name: String,
    /// Its MAC address.
    pub mac: String,
    /// Its IPv4 addresses with prefix, e.g. `198.51.100.10/24`.
    pub ip: Vec<String>,
    /// The kernel's operstate: UP, DOWN, LOWERLAYERDOWN …
    pub state: String,
    /// What the other end of its cable is, from the plan (empty if none).
    pub peer: &'static str,
}

/// The interfaces (not lo) in `ip -j addr show` output, peers from `plan`.
pub fn parse_ifaces(json: &str, plan: &HostPlan) -> Vec<IfaceState> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let text = |x: &serde_json::Value| x.as_str().unwrap_or_default().to_string();
    v.as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["ifname"] != "lo")
        .map(|i| {
            let name = text(&i["ifname"]);
            let ip = i["addr_info"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["family"] == "inet")
                .map(|a| format!("{}/{}", text(&a["local"]), a["prefixlen"]))
                .collect();
            let peer = plan
                .ifaces
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.peer)
                .unwrap_or("");
            IfaceState {
                mac: text(&i["address"]),
                state: text(&i["operstate"]),
                ip,
                peer,
                name,
            }
        })
        .collect()
}

impl NetLab {
    /// The interfaces of the host `plan` describes, as its kernel reports them.
    pub fn ifaces(&self, plan: &HostPlan) -> Result<Vec<IfaceState>> {
        let out = self.host(plan.name)?.ip(&["-j", "addr", "show"])?;
        Ok(parse_ifaces(&out, plan))
    }

    /// Build the lab in anonymous namespaces: gone when this value is dropped or the process dies.
    pub fn build() -> Result<NetLab> {
        let mut hosts = Vec::new();
        for h in plan() {
            hosts.push(Netns::anonymous(h.name)?);
        }
        let lab = NetLab {
            hosts,
            named: false,
        };
        let t = std::time::Instant::now();
        lab.wire()?;
        tracing::info!(
            "built the namespace lab (h1, h2, sw1, r1, h3) in {} ms",
            t.elapsed().as_millis()
        );
        Ok(lab)
    }

    /// Build the lab in named namespaces (`netlab-h1`, ...) that outlive this
    /// process: all or nothing. Under the lab's lock, a lab that is already up
    /// and whole is kept; a broken one is removed (its names returned); a new
    /// one is built and wired in anonymous namespaces, which vanish if netlab
    /// dies, and only when whole given their names.
    pub fn build_named() -> Result<Built> {
        let _lock = lock()?;
        if check_named().whole() {
            return Ok(Built::AlreadyUp);
        }
        let stale = remove_named();
        let mut lab = NetLab::build()?;
        for ns in &mut lab.hosts {
            if let Err(e) = ns.publish(&named_path(&ns.name)) {
                remove_named();
                return Err(e);
            }
        }
        lab.named = true;
        Ok(Built::New { lab, stale })
    }

    /// Open the named lab if it is up.
    pub fn open_named() -> Result<Option<NetLab>> {
        if !named_path("h1").exists() {
            return Ok(None);
        }
        let mut hosts = Vec::new();
        for h in plan() {
            hosts.push(Netns::open_named(h.name, &named_path(h.name))?);
        }
        Ok(Some(NetLab { hosts, named: true }))
    }

    /// The namespace of a host.
    pub fn host(&self, name: &str) -> Result<&Netns> {
        self.hosts.iter().find(|h| h.name == name).ok_or_else(|| {
            Error::usage(crate::text::tx(
                format!("unknown lab host {name:?}: the hosts are h1, h2, h3, r1, sw1"),
                format!("实验网络里没有主机 {name:?}：主机有 h1、h2、h3、r1、sw1"),
            ))
        })
    }

    fn wire(&self) -> Result<()> {
        for ns in &self.hosts {
            ns.quiet()?;
        }
        let sw = self.host("sw1")?;
        sw.ip(&["link", "add", "br0", "type", "bridge"])?;
        // The bridge carries no address: keep it from sending IGMP reports of its own.
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
        for h in plan() {
            let ns = self.host(h.name)?;
            for i in &h.ifaces {
                let Some((peer_host, peer_if)) = i.peer.split_once(':') else {
                    continue;
                };
                // Each cable is created once, from the end whose host comes later in the plan.
                if h.name == "sw1" || (h.name == "h3") {
                    continue;
                }
                let peer = self.host(peer_host)?;
                ns.ip(&[
                    "link",
                    "add",
                    i.name,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    peer_if,
                    "netns",
                    &peer.path(),
                ])?;
            }
        }
        for h in plan() {
            let ns = self.host(h.name)?;
            for i in &h.ifaces {
                ns.ip(&["link", "set", i.name, "address", i.mac])?;
                if let Some(ip) = i.ip {
                    ns.ip(&["addr", "add", &format!("{ip}/24"), "dev", i.name])?;
                }
                if h.name == "sw1" {
                    ns.ip(&["link", "set", i.name, "master", "br0"])?;
                }
                ns.ip(&["link", "set", i.name, "up"])?;
            }
            if let Some(gw) = h.gateway {
                ns.ip(&["route", "add", "default", "via", &gw.to_string()])?;
            }
        }
        self.host("r1")?.sysctl("net.ipv4.ip_forward", "1")?;
        Ok(())
    }
}

/// What `lab up` did.
pub enum Built {
    /// A lab was built; the names of a broken one removed first.
    New { lab: NetLab, stale: Vec<String> },
    /// The lab was up and whole already, and is kept.
    AlreadyUp,
}

/// The named lab's lock: `lab up` and `lab down` hold it, so two at once make
/// one lab (the second finds it whole), not two halves.
fn lock() -> Result<nix::fcntl::Flock<std::fs::File>> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = std::path::Path::new("/run/netlab");
    std::fs::create_dir_all(dir).map_err(|e| Error::sys("create", "创建", dir.display(), e))?;
    let path = dir.join("lab.lock");
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| Error::sys("open", "打开", path.display(), e))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| Error::sys("lock", "锁定", path.display(), e))
}

/// What is there of the named lab, checked against the plan.
#[derive(Debug, Default)]
pub struct Check {
    /// Hosts whose namespace exists.
    pub present: Vec<&'static str>,
    /// What is missing or wrong, one phrase each (`h2: no namespace`,
    /// `h1 eth0: no address 198.51.100.10/24`).
    pub missing: Vec<String>,
}

impl Check {
    /// Nothing of the lab is there.
    pub fn absent(&self) -> bool {
        self.present.is_empty()
    }

    /// Every host, link and address of the plan is there.
    pub fn whole(&self) -> bool {
        self.missing.is_empty() && !self.present.is_empty()
    }
}

/// Check the named lab: every host's namespace, and in it what [`check_host`] checks.
pub fn check_named() -> Check {
    let mut c = Check::default();
    for h in plan() {
        let path = named_path(h.name);
        if !Netns::is_namespace(&path) {
            if path.exists() {
                c.missing
                    .push(format!("{}: a file but no namespace", h.name));
            } else {
                c.missing.push(format!("{}: no namespace", h.name));
            }
            continue;
        }
        c.present.push(h.name);
        let Ok(ns) = Netns::open_named(h.name, &path) else {
            c.missing
                .push(format!("{}: cannot open its namespace", h.name));
            continue;
        };
        check_host(&h, &ns, None, &mut c);
    }
    c
}

/// Check an open lab (the rootless one, held by process `holder`), host by host.
pub fn check(lab: &NetLab, holder: Option<u32>) -> Check {
    let mut c = Check::default();
    for h in plan() {
        match lab.host(h.name) {
            Ok(ns) => {
                c.present.push(h.name);
                check_host(&h, ns, holder, &mut c);
            }
            Err(_) => c.missing.push(format!("{}: no namespace", h.name)),
        }
    }
    c
}

/// Check one host against the plan: every interface with its MAC address,
/// its IPv4 address and its link up; its default route; and, where its
/// cable has netlab's delay line (`wire0`), that the line's process runs
/// (without it no frame crosses the cable).
pub fn check_host(h: &HostPlan, ns: &Netns, holder: Option<u32>, c: &mut Check) {
    let shown = ns.ip(&["-j", "addr", "show"]).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap_or_default();
    for i in &h.ifaces {
        let found = v
            .as_array()
            .into_iter()
            .flatten()
            .find(|x| x["ifname"] == i.name);
        let Some(x) = found else {
            c.missing
                .push(format!("{} {}: no such interface", h.name, i.name));
            continue;
        };
        if x["address"] != i.mac {
            c.missing
                .push(format!("{} {}: MAC is not {}", h.name, i.name, i.mac));
        }
        if let Some(ip) = i.ip {
            let has = x["addr_info"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a["local"] == ip.to_string().as_str());
            if !has {
                c.missing
                    .push(format!("{} {}: no address {ip}/24", h.name, i.name));
            }
        }
        let up = x["flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f == "UP"));
        if !up {
            c.missing.push(format!("{} {}: down", h.name, i.name));
        }
    }
    if let Some(gw) = h.gateway {
        let routes = ns
            .ip(&["-j", "route", "show", "default"])
            .unwrap_or_default();
        let r: serde_json::Value = serde_json::from_str(&routes).unwrap_or_default();
        let via = r
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| x["gateway"] == gw.to_string().as_str());
        if !via {
            c.missing
                .push(format!("{}: no default route via {gw}", h.name));
        }
    }
    let has_wire = v
        .as_array()
        .into_iter()
        .flatten()
        .any(|x| x["ifname"] == super::link::LINE_ENDS.1);
    if has_wire && super::link::line_pids(h.name, holder).is_empty() {
        c.missing.push(format!(
            "{} eth0: its delay line (netlab lab line) is not running",
            h.name
        ));
    }
}

/// Whether any host of the named lab has a namespace file (no privilege needed).
pub fn named_lab_present() -> bool {
    plan().iter().any(|h| named_path(h.name).exists())
}

/// `lab down`: remove the named lab under its lock.
pub fn remove_named_locked() -> Result<Vec<String>> {
    let _lock = lock()?;
    Ok(remove_named())
}

/// Remove the named lab's namespaces (and with them every link in them).
/// A `lab up` killed half-way can leave a namespace file that was created but
/// never mounted, which `ip netns del` refuses: such a file is unmounted if
/// need be and unlinked directly.
pub fn remove_named() -> Vec<String> {
    let mut removed = Vec::new();
    for h in plan() {
        let name = format!("{NAMED_PREFIX}{}", h.name);
        let path = named_path(h.name);
        if !path.exists() {
            continue;
        }
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(std::process::Stdio::null())
            .status();
        if path.exists() {
            let _ = nix::mount::umount2(&path, nix::mount::MntFlags::MNT_DETACH);
            let _ = std::fs::remove_file(&path);
        }
        if !path.exists() {
            removed.push(name);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_are_read_from_ip_json() {
        let h1 = plan().into_iter().find(|h| h.name == "h1").unwrap();
        let json = r#"[{"ifname":"lo","address":"00:00:00:00:00:00","operstate":"UNKNOWN","addr_info":[]},
            {"ifname":"eth0","address":"02:00:00:00:00:10","operstate":"UP","addr_info":[
              {"family":"inet","local":"198.51.100.10","prefixlen":24},
              {"family":"inet6","local":"fe80::1","prefixlen":64}]}]"#;
        let got = parse_ifaces(json, &h1);
        assert_eq!(got.len(), 1, "lo is left out");
        assert_eq!(got[0].ip, ["198.51.100.10/24"], "IPv4 only");
        assert_eq!((got[0].state.as_str(), got[0].peer), ("UP", "sw1:p1"));
        assert!(parse_ifaces("not json", &h1).is_empty());
    }
}
