//! r1 as a firewall: nftables rules in r1's namespace (table `inet netlab`,
//! chain `forward`), services on h1 and h3, and probes that say what a client
//! saw: connected, a timeout, a reset, or ICMP unreachable. For `netlab
//! firewall` (Q16); nothing here narrates.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::netns::Netns;
use super::topology::NetLab;
use crate::error::{Error, Result};

/// The TCP ports the servers listen on (web, ssh).
pub const TCP_PORTS: [u16; 2] = [80, 22];
/// The UDP ports the servers answer on (dns, ntp).
pub const UDP_PORTS: [u16; 2] = [53, 123];
/// How long a client waits for a TCP connection: long enough to see the SYN
/// sent again twice (Linux waits 1 s, then 2 s).
pub const TCP_WAIT: Duration = Duration::from_millis(3500);
/// How long a client waits for a UDP answer.
pub const UDP_WAIT: Duration = Duration::from_millis(1000);

/// What the client saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// TCP connected, or the UDP service answered.
    Connected,
    /// Nothing came back in time.
    Timeout,
    /// A TCP RST: connection refused at once.
    Reset,
    /// An ICMP destination unreachable came back.
    Unreachable,
}

/// One probe: its result and how long the client waited for it.
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    /// What came back.
    pub outcome: Outcome,
    /// From the first packet to the verdict.
    pub elapsed: Duration,
}

use super::link::nft as run_nft;

/// Start over with an empty forward chain in r1 (policy accept): every
/// earlier rule gone.
pub fn reset(r1: &Netns) -> Result<()> {
    let _ = r1.command("nft", &["delete", "table", "inet", "netlab"]);
    run_nft(r1, &["add", "table", "inet", "netlab"])?;
    run_nft(
        r1,
        &[
            "add", "chain", "inet", "netlab", "forward", "{", "type", "filter", "hook", "forward",
            "priority", "0", ";", "policy", "accept", ";", "}",
        ],
    )?;
    // Conntrack entries of earlier cases stay, but every probe opens a new
    // socket (a new source port), so none of them is "established" again.
    Ok(())
}

/// Add one rule to r1's forward chain; `rule` is what follows
/// `nft add rule inet netlab forward`, word by word.
pub fn add_rule(r1: &Netns, rule: &str) -> Result<()> {
    let mut args = vec!["add", "rule", "inet", "netlab", "forward"];
    args.extend(rule.split_whitespace());
    run_nft(r1, &args)
}

/// r1's ruleset as nft prints it.
pub fn ruleset(r1: &Netns) -> Result<String> {
    let out = r1.command("nft", &["list", "table", "inet", "netlab"])?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// One connection-tracking entry: the flow as it was opened, and the reply
/// direction the firewall will let back in.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Tracked {
    /// tcp or udp.
    pub proto: String,
    /// The TCP state (ESTABLISHED, TIME_WAIT …); none for UDP.
    pub state: Option<String>,
    /// Seconds until the entry expires.
    pub timeout_s: u32,
    /// Who opened it: `198.51.100.10:40000 → 203.0.113.10:80`.
    pub original: String,
    /// What a reply looks like.
    pub reply: String,
    /// Seen in both directions ([ASSURED]).
    pub assured: bool,
}

/// An entry of /proc/net/nf_conntrack, e.g. `ipv4 2 tcp 6 117 TIME_WAIT
/// src=… dst=… sport=… dport=… src=… dst=… sport=… dport=… [ASSURED] mark=0 …`.
pub fn parse_tracked(line: &str) -> Option<Tracked> {
    let w: Vec<&str> = line.split_whitespace().collect();
    let proto = w.get(2)?.to_string();
    let timeout_s = w.get(4)?.parse().ok()?;
    let state = w.get(5).filter(|s| !s.contains('=')).map(|s| s.to_string());
    let value = |key: &str, nth: usize| {
        w.iter()
            .filter_map(|x| x.strip_prefix(key))
            .nth(nth)
            .map(str::to_string)
    };
    let flow = |nth: usize| -> Option<String> {
        Some(format!(
            "{}:{} → {}:{}",
            value("src=", nth)?,
            value("sport=", nth)?,
            value("dst=", nth)?,
            value("dport=", nth)?
        ))
    };
    Some(Tracked {
        proto,
        state,
        timeout_s,
        original: flow(0)?,
        reply: flow(1)?,
        assured: w.contains(&"[ASSURED]"),
    })
}

/// r1's connection-tracking entries that involve `addr` (from its own
/// /proc/thread-self/net/nf_conntrack); None where the kernel offers no such file.
pub fn conntrack(r1: &Netns, addr: Ipv4Addr) -> Result<Option<Vec<Tracked>>> {
    let text = r1.run(|| std::fs::read_to_string("/proc/thread-self/net/nf_conntrack"))?;
    let Ok(text) = text else { return Ok(None) };
    let needle = format!("={addr} ");
    let mut entries: Vec<Tracked> = text
        .lines()
        .filter(|l| l.contains(&needle))
        .filter_map(parse_tracked)
        .collect();
    // The kernel lists them by hash; TCP first, then UDP, reads better.
    entries.sort_by(|a, b| (&a.proto, &a.original).cmp(&(&b.proto, &b.original)));
    Ok(Some(entries))
}

/// TCP and UDP services on one host, running until dropped.
pub struct Services {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for Services {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn io(e: std::io::Error) -> Error {
    Error::system(
        crate::text::tx("serve in the lab", "在实验网络里提供服务："),
        "the firewall demo's services",
        e,
    )
}

/// Listen on [`TCP_PORTS`] (accept, write "hello", close) and answer on
/// [`UDP_PORTS`] (echo each datagram) at `ip` inside `ns`.
pub fn serve(ns: &Netns, ip: Ipv4Addr) -> Result<Services> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for port in TCP_PORTS {
        let l = ns.run(move || TcpListener::bind((ip, port)))?.map_err(io)?;
        l.set_nonblocking(true).map_err(io)?;
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.write_all(b"hello\n");
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }));
    }
    for port in UDP_PORTS {
        let u = ns.run(move || UdpSocket::bind((ip, port)))?.map_err(io)?;
        u.set_read_timeout(Some(Duration::from_millis(50)))
            .map_err(io)?;
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !stop.load(Ordering::Relaxed) {
                if let Ok((n, from)) = u.recv_from(&mut buf) {
                    let _ = u.send_to(&buf[..n], from);
                }
            }
        }));
    }
    Ok(Services { stop, threads })
}

/// Connect from `from` to `to`, waiting up to [`TCP_WAIT`].
pub fn tcp_probe(from: &Netns, to: SocketAddr) -> Result<Probe> {
    let t = Instant::now();
    let got = from.run(move || {
        TcpStream::connect_timeout(&to, TCP_WAIT).and_then(|mut s| {
            let mut b = [0u8; 6];
            s.set_read_timeout(Some(Duration::from_secs(1)))?;
            let _ = s.read(&mut b)?;
            Ok(())
        })
    })?;
    verdict(got, to, Outcome::Reset, t)
}

/// What a probe's result means: `refused` is what ECONNREFUSED says (a TCP
/// RST, or for a connected UDP socket an ICMP port unreachable).
fn verdict(
    got: std::io::Result<()>,
    to: SocketAddr,
    refused: Outcome,
    t: Instant,
) -> Result<Probe> {
    let outcome = match got {
        Ok(()) => Outcome::Connected,
        Err(e) => match e.kind() {
            ErrorKind::ConnectionRefused => refused,
            ErrorKind::TimedOut | ErrorKind::WouldBlock => Outcome::Timeout,
            ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => Outcome::Unreachable,
            _ => {
                return Err(Error::Send {
                    to: to.to_string(),
                    source: e,
                })
            }
        },
    };
    Ok(Probe {
        outcome,
        elapsed: t.elapsed(),
    })
}

/// A datagram a capture tool decodes as what the port is for: a DNS query
/// to 53, an NTP client request to 123 (anything else: a few bytes).
fn payload(port: u16) -> Vec<u8> {
    match port {
        53 => crate::dns::client::build_query(
            &hickory_proto::rr::Name::from_ascii("www.lab.edu.cn.").unwrap_or_default(),
            hickory_proto::rr::RecordType::A,
            true,
        )
        .to_vec()
        .unwrap_or_default(),
        // LI 0, version 3, mode 3 (client); the rest zero: RFC 5905's minimum.
        123 => {
            let mut m = vec![0u8; 48];
            m[0] = 0x1b;
            m
        }
        _ => b"netlab".to_vec(),
    }
}

/// Send one datagram from `from` to `to` on a connected socket (so an ICMP
/// error comes back as an error) and wait up to [`UDP_WAIT`] for the echo.
pub fn udp_probe(from: &Netns, to: SocketAddr) -> Result<Probe> {
    let t = Instant::now();
    let data = payload(to.port());
    let got = from.run(move || -> std::io::Result<()> {
        let s = UdpSocket::bind("0.0.0.0:0")?;
        s.connect(to)?;
        s.set_read_timeout(Some(UDP_WAIT))?;
        s.send(&data)?;
        let mut b = [0u8; 64];
        s.recv(&mut b).map(|_| ())
    })?;
    verdict(got, to, Outcome::Unreachable, t)
}

/// The lab's r1, h1 and h3.
pub fn hosts(lab: &NetLab) -> Result<(&Netns, &Netns, &Netns)> {
    Ok((lab.host("r1")?, lab.host("h1")?, lab.host("h3")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conntrack_lines_are_read_into_flows() {
        let tcp = "ipv4     2 tcp      6 117 TIME_WAIT src=198.51.100.10 dst=203.0.113.10 sport=38602 dport=80 src=203.0.113.10 dst=198.51.100.10 sport=80 dport=38602 [ASSURED] mark=0 zone=0 use=2";
        let t = parse_tracked(tcp).unwrap();
        assert_eq!(t.proto, "tcp");
        assert_eq!(t.state.as_deref(), Some("TIME_WAIT"));
        assert_eq!(t.timeout_s, 117);
        assert_eq!(t.original, "198.51.100.10:38602 → 203.0.113.10:80");
        assert_eq!(t.reply, "203.0.113.10:80 → 198.51.100.10:38602");
        assert!(t.assured);
        let udp = "ipv4 2 udp 17 29 src=198.51.100.10 dst=203.0.113.10 sport=38978 dport=53 src=203.0.113.10 dst=198.51.100.10 sport=53 dport=38978 mark=0 zone=0 use=2";
        let u = parse_tracked(udp).unwrap();
        assert_eq!((u.state, u.assured), (None, false));
        assert!(parse_tracked("garbage").is_none());
        assert!(parse_tracked("ipv4 2 tcp 6 x").is_none());
    }
}
