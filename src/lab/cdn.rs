//! The lab of `netlab cdn`: two LANs with a client and an edge cache each,
//! a DNS server that answers by the asking client's subnet, and the origin
//! web server across a slow WAN. No narration here.
//!
//! ```text
//!  LAN 1 198.51.100.0/26        LAN 2 198.51.100.64/26
//!  c1 .10  e1 .20               c2 .74  e2 .84
//!     └─ br1 .1 ─┐        ┌─ br2 .65 ─┘
//!                r1 (router; both bridges are in it)
//!   dns .153 ── eth3 .129 │ eth0 203.0.113.1/24
//!   (198.51.100.128/26)   │ WAN: netlab's delay line, 20 ms each way
//!                         origin 203.0.113.80/24
//! ```
//!
//! Every host is an anonymous network namespace, gone with the process. The
//! WAN's two halves end in a namespace of their own where
//! [`super::wan::DelayLine`] forwards each frame after the delay (this
//! kernel has no netem). The WAN stands for a long point-to-point link, which
//! has no ARP: r1 and the origin know each other's MAC from the start.
//!
//! The DNS server is the lab's authoritative one ([`super::dns`]) with two
//! views ([`super::dns::View`]): clients on LAN 1 get e1 for the CDN's name,
//! clients on LAN 2 get e2. The zones are data in `lab/cdn/`.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RData, RecordType};

use super::capture::Capture;
use super::dns::{self as labdns, View};
use super::edge;
use super::netns::Netns;
use super::wan::DelayLine;
use super::zones::Zone;
use crate::dns::client::{self, Transport};
use crate::error::{Error, Result};
use crate::text::tx;

/// The site's name, which the site's zone hands to the CDN with a CNAME.
pub const SITE: &str = "www.course.cn";
/// How long the origin lets a copy be served without asking it (seconds).
pub const MAX_AGE: u64 = 1;
/// The WAN's delay, each way.
pub const WAN_DELAY: Duration = Duration::from_millis(20);

/// c1, the client on LAN 1.
pub const C1: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
/// e1, the edge on LAN 1.
pub const E1: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 20);
/// r1 on LAN 1 (the bridge br1).
pub const R1_LAN1: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// c2, the client on LAN 2.
pub const C2: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 74);
/// e2, the edge on LAN 2.
pub const E2: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 84);
/// r1 on LAN 2 (the bridge br2).
pub const R1_LAN2: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 65);
/// r1 on the DNS server's link.
pub const R1_DNS: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 129);
/// The DNS server.
pub const DNS: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 153);
/// r1 on the WAN.
pub const R1_WAN: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// The origin web server.
pub const ORIGIN: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 80);
/// LAN 1.
pub const LAN1: (Ipv4Addr, u8) = (Ipv4Addr::new(198, 51, 100, 0), 26);
/// LAN 2.
pub const LAN2: (Ipv4Addr, u8) = (Ipv4Addr::new(198, 51, 100, 64), 26);

/// One interface of the CDN lab.
pub struct Iface {
    /// Its host.
    pub host: &'static str,
    /// Its name there.
    pub name: &'static str,
    /// Its MAC address, set by netlab.
    pub mac: &'static str,
    /// Its address and prefix length.
    pub ip: (Ipv4Addr, u8),
}

const fn iface(
    host: &'static str,
    name: &'static str,
    mac: &'static str,
    ip: Ipv4Addr,
    len: u8,
) -> Iface {
    Iface {
        host,
        name,
        mac,
        ip: (ip, len),
    }
}

/// The lab's interfaces (r1's bridges stand for its legs on the two LANs).
pub const IFACES: [Iface; 10] = [
    iface("c1", "eth0", "02:00:00:cd:01:10", C1, 26),
    iface("e1", "eth0", "02:00:00:cd:01:20", E1, 26),
    iface("r1", "br1", "02:00:00:cd:01:01", R1_LAN1, 26),
    iface("c2", "eth0", "02:00:00:cd:02:74", C2, 26),
    iface("e2", "eth0", "02:00:00:cd:02:84", E2, 26),
    iface("r1", "br2", "02:00:00:cd:02:01", R1_LAN2, 26),
    iface("dns", "eth0", "02:00:00:cd:03:53", DNS, 26),
    iface("r1", "eth3", "02:00:00:cd:03:01", R1_DNS, 26),
    iface("r1", "eth0", "02:00:00:cd:04:01", R1_WAN, 24),
    iface("origin", "eth0", "02:00:00:cd:04:80", ORIGIN, 24),
];

/// The lab host that owns a MAC address; `*` for broadcast.
pub fn host_of_mac(mac: &str) -> Option<&'static str> {
    if mac.eq_ignore_ascii_case("ff:ff:ff:ff:ff:ff") {
        return Some("*");
    }
    IFACES
        .iter()
        .find(|i| i.mac.eq_ignore_ascii_case(mac))
        .map(|i| i.host)
}

/// The lab host that owns an address.
pub fn host_of_ip(ip: Ipv4Addr) -> Option<&'static str> {
    IFACES.iter().find(|i| i.ip.0 == ip).map(|i| i.host)
}

/// The hosts that share a link with `host` (its LAN's other members): who
/// hears its broadcasts.
pub fn neighbours(host: &str) -> &'static [&'static str] {
    match host {
        "c1" => &["e1", "r1"],
        "e1" => &["c1", "r1"],
        "c2" => &["e2", "r1"],
        "e2" => &["c2", "r1"],
        "dns" => &["r1"],
        "origin" => &["r1"],
        _ => &[],
    }
}

/// The zone files of the CDN lab, compiled in: the site's zone (in both
/// views) and the CDN's zone as each LAN's view has it.
pub const ZONES: [(&str, &str); 3] = [
    (
        "course.cn.zone",
        include_str!("../../lab/cdn/course.cn.zone"),
    ),
    (
        "lan1/cdnlab.net.zone",
        include_str!("../../lab/cdn/lan1/cdnlab.net.zone"),
    ),
    (
        "lan2/cdnlab.net.zone",
        include_str!("../../lab/cdn/lan2/cdnlab.net.zone"),
    ),
];

/// The DNS server's views: LAN 1 and LAN 2, each with the site's zone and
/// its own copy of the CDN's.
pub fn views() -> Result<Vec<View>> {
    let zone = |i: usize| Zone::parse(ZONES[i].0.rsplit('/').next().unwrap_or(""), ZONES[i].1);
    let site = zone(0)?;
    Ok(vec![
        View {
            name: "lan1".into(),
            clients: LAN1,
            zones: vec![site.clone(), zone(1)?],
        },
        View {
            name: "lan2".into(),
            clients: LAN2,
            zones: vec![site, zone(2)?],
        },
    ])
}

/// The lab, alive as long as this value.
pub struct CdnLab {
    /// c1, c2, e1, e2, r1, dns, wan, origin.
    pub hosts: Vec<Netns>,
    line: Option<DelayLine>,
}

impl Drop for CdnLab {
    fn drop(&mut self) {
        if let Some(l) = self.line.take() {
            l.stop();
        }
    }
}

fn sh(ns: &Netns, args: &[&str]) -> Result<()> {
    ns.ip(args).map(drop)
}

impl CdnLab {
    /// The namespace of a host.
    pub fn host(&self, name: &str) -> Result<&Netns> {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .ok_or_else(|| Error::Internal(format!("no host {name} in the CDN lab")))
    }

    /// Build the lab.
    pub fn build() -> Result<CdnLab> {
        let mut hosts = Vec::new();
        for name in ["c1", "c2", "e1", "e2", "r1", "dns", "wan", "origin"] {
            let ns = Netns::anonymous(name)?;
            ns.quiet()?;
            hosts.push(ns);
        }
        let mut lab = CdnLab { hosts, line: None };
        lab.wire()?;
        lab.line = Some(DelayLine::start(
            lab.host("wan")?,
            ("wan-r1", "wan-o"),
            WAN_DELAY,
        )?);
        Ok(lab)
    }

    fn wire(&self) -> Result<()> {
        let r1 = self.host("r1")?;
        for br in ["br1", "br2"] {
            sh(r1, &["link", "add", br, "type", "bridge"])?;
            sh(
                r1,
                &["link", "set", br, "type", "bridge", "mcast_snooping", "0"],
            )?;
        }
        // The cables: each host's eth0 to a port of r1 (or to the WAN's namespace).
        let r1p = r1.path();
        let wan = self.host("wan")?;
        let wp = wan.path();
        for (host, peer, netns, bridge) in [
            ("c1", "p-c1", &r1p, Some("br1")),
            ("e1", "p-e1", &r1p, Some("br1")),
            ("c2", "p-c2", &r1p, Some("br2")),
            ("e2", "p-e2", &r1p, Some("br2")),
            ("dns", "eth3", &r1p, None),
            ("origin", "wan-o", &wp, None),
        ] {
            let ns = self.host(host)?;
            sh(
                ns,
                &[
                    "link", "add", "eth0", "type", "veth", "peer", "name", peer, "netns", netns,
                ],
            )?;
            if let Some(br) = bridge {
                sh(r1, &["link", "set", peer, "master", br])?;
            }
        }
        sh(
            r1,
            &[
                "link", "add", "eth0", "type", "veth", "peer", "name", "wan-r1", "netns", &wp,
            ],
        )?;
        for i in &IFACES {
            let ns = self.host(i.host)?;
            let (a, len) = i.ip;
            sh(ns, &["link", "set", i.name, "address", i.mac])?;
            sh(ns, &["addr", "add", &format!("{a}/{len}"), "dev", i.name])?;
            sh(ns, &["link", "set", i.name, "up"])?;
        }
        for port in ["p-c1", "p-e1", "p-c2", "p-e2"] {
            sh(r1, &["link", "set", port, "up"])?;
        }
        for end in ["wan-r1", "wan-o"] {
            sh(wan, &["link", "set", end, "up"])?;
        }
        for (host, gw) in [
            ("c1", R1_LAN1),
            ("e1", R1_LAN1),
            ("c2", R1_LAN2),
            ("e2", R1_LAN2),
            ("dns", R1_DNS),
            ("origin", R1_WAN),
        ] {
            sh(
                self.host(host)?,
                &["route", "add", "default", "via", &gw.to_string()],
            )?;
        }
        r1.sysctl("net.ipv4.ip_forward", "1")?;
        // A point-to-point WAN has no ARP: each end knows the other's MAC.
        let origin = self.host("origin")?;
        for (ns, peer, mac) in [(r1, ORIGIN, IFACES[9].mac), (origin, R1_WAN, IFACES[8].mac)] {
            sh(
                ns,
                &[
                    "neigh",
                    "replace",
                    &peer.to_string(),
                    "lladdr",
                    mac,
                    "dev",
                    "eth0",
                    "nud",
                    "permanent",
                ],
            )?;
        }
        // One frame per segment, so each fits the other half's MTU.
        super::link::segment_by_segment(r1, "eth0")?;
        super::link::segment_by_segment(origin, "eth0")?;
        Ok(())
    }
}

/// The page the origin serves.
pub const PAGE: &str = "<!doctype html>\n<html lang=\"zh\">\n<head><meta charset=\"utf-8\"><title>www.course.cn</title></head>\n<body><h1>课程主页 · course.cn</h1><p>origin 203.0.113.80, through the CDN</p></body>\n</html>\n";

/// The page's entity tag: a hash of its bytes (FNV-1a), quoted.
pub fn etag(body: &[u8]) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in body {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("\"{h:08x}\"")
}

/// The lab's servers (DNS, the origin, the two edges), running until dropped.
pub struct Services {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Result<()>>>,
    origin: Arc<tiny_http::Server>,
    /// e1 and e2.
    pub edges: Vec<edge::Running>,
}

impl Drop for Services {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.origin.unblock();
        self.edges.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Start the DNS server, the origin and the edges.
pub fn serve(lab: &CdnLab) -> Result<Services> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    // DNS on the dns host, port 53, answering from the views.
    let views = views()?;
    let at = SocketAddr::from((DNS, 53));
    let dns = lab.host("dns")?;
    let udp = dns
        .run(move || UdpSocket::bind(at))?
        .map_err(|e| Error::system(tx("listen on", "监听"), at, e))?;
    udp.set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(|e| Error::system(tx("listen on", "监听"), at, e))?;
    let s = stop.clone();
    threads.push(dns.spawn(move || {
        let mut buf = [0u8; 512];
        while !s.load(Ordering::Relaxed) {
            let Ok((n, from)) = udp.recv_from(&mut buf) else {
                continue;
            };
            let Ok(req) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let via = labdns::Via {
                client: from,
                tcp: false,
            };
            let reply = match labdns::answer_in_view(
                &views,
                "ns.cdnlab.net",
                labdns::Options::default(),
                &req,
                via,
            ) {
                labdns::Reply::One(m) => m,
                _ => continue,
            };
            let _ = udp.send_to(&labdns::encode_udp(&req, reply), from);
        }
    })?);
    // The origin: the page, cacheable for MAX_AGE seconds, with its ETag.
    let at = SocketAddr::from((ORIGIN, 80));
    let listener = lab
        .host("origin")?
        .run(move || std::net::TcpListener::bind(at))?
        .map_err(|e| Error::system(tx("listen on", "监听"), at, e))?;
    let origin = Arc::new(
        tiny_http::Server::from_listener(listener, None)
            .map_err(|e| Error::Internal(format!("tiny_http: {e}")))?,
    );
    let (server, s) = (origin.clone(), stop.clone());
    threads.push(lab.host("origin")?.spawn(move || {
        while !s.load(Ordering::Relaxed) {
            match server.recv_timeout(Duration::from_millis(100)) {
                Ok(Some(req)) => {
                    let _ = origin_answer(req);
                }
                Ok(None) => {}
                Err(_) => break,
            }
        }
    })?);
    let origin_at = SocketAddr::from((ORIGIN, 80));
    let edges = vec![
        edge::start(
            lab.host("e1")?,
            "e1",
            SocketAddr::from((E1, 80)),
            origin_at,
            SITE,
        )?,
        edge::start(
            lab.host("e2")?,
            "e2",
            SocketAddr::from((E2, 80)),
            origin_at,
            SITE,
        )?,
    ];
    Ok(Services {
        stop,
        threads,
        origin,
        edges,
    })
}

/// The origin's answer: the page with `Cache-Control: max-age` and its
/// `ETag`; `304 Not Modified` to a request whose `If-None-Match` names it.
fn origin_answer(req: tiny_http::Request) -> std::io::Result<()> {
    let h = |k: &str, v: &str| tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).ok();
    let tag = etag(PAGE.as_bytes());
    let cc = format!("max-age={MAX_AGE}");
    let path = req.url().split(['?', '#']).next().unwrap_or("/");
    if req.method() != &tiny_http::Method::Get || !(path == "/" || path == "/index.html") {
        return req.respond(tiny_http::Response::empty(404));
    }
    let unchanged = req
        .headers()
        .iter()
        .filter(|x| x.field.equiv("If-None-Match"))
        .flat_map(|x| x.value.as_str().split(','))
        .any(|t| t.trim() == tag || t.trim() == "*");
    let mut r = if unchanged {
        // No body; Content-Length gives the length of the page the copy
        // holds, as RFC 9110 §8.6 allows (tiny_http sends no body with a 304).
        tiny_http::Response::from_data(Vec::new())
            .with_status_code(304)
            .with_data(std::io::Cursor::new(Vec::new()), Some(PAGE.len()))
    } else {
        tiny_http::Response::from_data(PAGE.as_bytes().to_vec())
    };
    for (k, v) in [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Cache-Control", cc.as_str()),
        ("ETag", tag.as_str()),
        ("Server", "netlab-origin"),
    ] {
        if let Some(x) = h(k, v) {
            r = r.with_header(x);
        }
    }
    req.respond(r)
}

/// One DNS question a client asked, and the records of the answer.
#[derive(Clone, Debug)]
pub struct Asked {
    /// The name asked for.
    pub name: Name,
    /// The answer's records, presentation form (`www.course.cn. 600 IN CNAME …`).
    pub records: Vec<String>,
    /// The CNAME's target, if the answer was one.
    pub cname: Option<Name>,
    /// The address, if the answer had one.
    pub address: Option<Ipv4Addr>,
}

/// Look up `name`'s address from inside `ns` at the lab's DNS server as a
/// stub resolver asking an authoritative server would: the A question, and
/// when the answer is only a CNAME into another zone, the A question again
/// for its target (up to four aliases).
pub fn resolve(ns: &Netns, name: &str) -> Result<Vec<Asked>> {
    let server = SocketAddr::from((DNS, 53));
    let mut qname = Name::from_ascii(format!("{}.", name.trim_end_matches('.')))
        .map_err(|e| Error::Internal(format!("{name}: {e}")))?;
    let mut out = Vec::new();
    for _ in 0..4 {
        let query = client::build_query(&qname, RecordType::A, false);
        let ex = ns.run(move || {
            client::exchange(server, &query, Transport::Udp, Duration::from_secs(2))
        })?;
        let Some(reply) = ex.reply else {
            break;
        };
        let cname = reply.answers.iter().find_map(|r| match &r.data {
            RData::CNAME(c) => Some(c.0.clone()),
            _ => None,
        });
        let address = reply.answers.iter().find_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        });
        out.push(Asked {
            name: qname.clone(),
            records: reply.answers.iter().map(|r| r.to_string()).collect(),
            cname: cname.clone(),
            address,
        });
        match (address, cname) {
            (None, Some(target)) => qname = target,
            _ => break,
        }
    }
    Ok(out)
}

/// Start capturing on the clients' and the edges' links.
pub fn capture(lab: &CdnLab) -> Result<Vec<Capture>> {
    ["c1", "c2", "e1", "e2"]
        .iter()
        .map(|h| Capture::start(lab.host(h)?, "eth0"))
        .collect()
}
