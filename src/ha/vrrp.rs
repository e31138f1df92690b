//! netlab's own VRRP speaker (RFC 5798, version 3, IPv4), one per router.
//!
//! A small state machine on a thread inside the router's namespace:
//!
//! - **Initialize**: the address owner (priority 255) becomes Master at
//!   once; anyone else becomes Backup.
//! - **Backup**: listens for adverts. Each one from a master at least as
//!   important (or any, without preempt) restarts the master-down timer,
//!   `3 × interval + skew` with `skew = (256 − priority) × interval / 256`,
//!   so the highest-priority backup's timer runs out first. A priority-0
//!   advert (the master leaving politely) cuts the wait to the skew. When
//!   the timer runs out: Master.
//! - **Master**: adds the virtual address to its LAN interface, broadcasts a
//!   gratuitous ARP so the LAN's caches point at its MAC, and advertises every
//!   interval. An advert of a higher priority (or of an equal one from a
//!   higher address) sends it back to Backup, giving the address up.
//!
//! Adverts travel over a raw IP socket (protocol 112) to 224.0.0.18 with TTL
//! 255, on the LAN interface only; a received advert with another TTL, a bad
//! checksum, another version or another VRID is ignored. [`Speaker::crash`]
//! stops it the way a crash does: no priority-0 goodbye. Nothing here
//! narrates; the demo reads the adverts back from the capture.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use pnet_packet::ipv4::Ipv4Packet;
use socket2::{Domain, Protocol, Socket, Type};

use crate::error::{Error, Result};
use crate::lab::netns::{ip_here, Netns};
use crate::wire::vrrp::{self, GROUP};

/// One router's settings.
#[derive(Clone, Debug)]
pub struct Params {
    /// The router's name (for errors and the log).
    pub name: String,
    /// Virtual router id.
    pub vrid: u8,
    /// Its priority (1 to 254; 255 would mean it owns the address).
    pub priority: u8,
    /// Advertisement interval, centiseconds.
    pub interval_cs: u16,
    /// Take over from a lower-priority master.
    pub preempt: bool,
    /// The virtual address and its prefix length.
    pub vip: (Ipv4Addr, u8),
    /// The LAN interface.
    pub iface: String,
    /// The router's own address on it (the adverts' source).
    pub addr: Ipv4Addr,
    /// The interface's MAC address (the gratuitous ARP's).
    pub mac: [u8; 6],
}

/// The three states of RFC 5798.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Starting.
    Initialize,
    /// Listening, ready to take over.
    Backup,
    /// Holding the address and advertising.
    Master,
}

/// A change of state and when it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// When.
    pub at: SystemTime,
    /// The new state.
    pub to: State,
}

/// `skew = (256 − priority) × interval / 256`, centiseconds.
pub fn skew_cs(priority: u8, interval_cs: u16) -> u32 {
    (256 - u32::from(priority)) * u32::from(interval_cs) / 256
}

/// `3 × interval + skew`: how long a backup waits without an advert.
pub fn master_down(priority: u8, interval_cs: u16) -> Duration {
    cs(3 * u32::from(interval_cs) + skew_cs(priority, interval_cs))
}

fn cs(n: u32) -> Duration {
    Duration::from_millis(u64::from(n) * 10)
}

/// A running speaker; stopped (as by a crash) when dropped.
pub struct Speaker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<Result<()>>>>,
    log: Arc<Mutex<Vec<Transition>>>,
}

impl Speaker {
    /// Start speaking on `p.iface` inside `ns`; returns once the socket is open.
    pub fn start(ns: &Netns, p: Params) -> Result<Speaker> {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let (s, l) = (stop.clone(), log.clone());
        let thread = ns.spawn(move || -> Result<()> {
            let name = p.name.clone();
            let sock = match open(&p) {
                Ok(sock) => {
                    let _ = ready_tx.send(Ok(()));
                    sock
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e.raw_os_error()));
                    return Err(socket_error(&name, e));
                }
            };
            Machine::new(p, sock, l).run(&s)
        })?;
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => Ok(Speaker {
                stop,
                thread: Some(thread),
                log,
            }),
            Ok(Err(_)) => match thread.join() {
                Ok(Err(e)) => Err(e),
                _ => Err(Error::Internal("the VRRP speaker did not start".into())),
            },
            Err(_) => Err(Error::Internal("the VRRP speaker did not start".into())),
        }
    }

    /// Its changes of state so far.
    pub fn transitions(&self) -> Vec<Transition> {
        self.log.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Stop at once, as a crash: no goodbye advert, the address left as it was.
    pub fn crash(&mut self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r??,
            Some(Err(_)) => return Err(Error::Internal("the VRRP speaker panicked".into())),
            None => {}
        }
        Ok(())
    }
}

impl Drop for Speaker {
    fn drop(&mut self) {
        let _ = self.crash();
    }
}

fn socket_error(name: &str, e: std::io::Error) -> Error {
    Error::sys(
        "open the VRRP socket (raw IP, protocol 112) in",
        "打开 VRRP 套接字（原始 IP，协议 112）：",
        name,
        e,
    )
}

/// The raw socket: protocol 112 on the LAN interface only, in the group,
/// sending with TTL 255 from the router's own address.
fn open(p: &Params) -> std::io::Result<std::net::UdpSocket> {
    let s = Socket::new(
        Domain::IPV4,
        Type::RAW,
        Some(Protocol::from(i32::from(vrrp::PROTOCOL))),
    )?;
    s.bind_device(Some(p.iface.as_bytes()))?;
    s.join_multicast_v4(&GROUP, &p.addr)?;
    s.set_multicast_if_v4(&p.addr)?;
    s.set_multicast_ttl_v4(u32::from(vrrp::TTL))?;
    s.set_multicast_loop_v4(false)?;
    s.set_read_timeout(Some(Duration::from_millis(10)))?;
    // A datagram socket's send_to and recv_from are what a raw socket needs.
    Ok(s.into())
}

struct Machine {
    p: Params,
    sock: std::net::UdpSocket,
    log: Arc<Mutex<Vec<Transition>>>,
    state: State,
    /// The interval the master advertises (a backup learns it from adverts).
    master_interval_cs: u16,
    /// Backup: when the master is declared down. Master: the next advert.
    deadline: Instant,
}

impl Machine {
    fn new(p: Params, sock: std::net::UdpSocket, log: Arc<Mutex<Vec<Transition>>>) -> Self {
        let interval = p.interval_cs;
        Machine {
            p,
            sock,
            log,
            state: State::Initialize,
            master_interval_cs: interval,
            deadline: Instant::now(),
        }
    }

    fn enter(&mut self, to: State) {
        self.state = to;
        tracing::info!("{}: VRRP {:?}", self.p.name, to);
        if let Ok(mut v) = self.log.lock() {
            v.push(Transition {
                at: SystemTime::now(),
                to,
            });
        }
    }

    fn run(mut self, stop: &AtomicBool) -> Result<()> {
        self.enter(State::Initialize);
        if self.p.priority == 255 {
            self.become_master()?;
        } else {
            self.become_backup();
        }
        let mut buf = [0u8; 1500];
        while !stop.load(Ordering::Relaxed) {
            if Instant::now() >= self.deadline {
                match self.state {
                    State::Backup => self.become_master()?,
                    State::Master => {
                        self.advertise(self.p.priority);
                        self.deadline += cs(u32::from(self.p.interval_cs));
                    }
                    State::Initialize => {}
                }
            }
            // Wake at the deadline, not up to a tick after it (the takeover
            // time is what the demo measures), and every 10 ms to see `stop`.
            let left = self.deadline.saturating_duration_since(Instant::now());
            let tick = left.clamp(Duration::from_millis(1), Duration::from_millis(10));
            let _ = self.sock.set_read_timeout(Some(tick));
            let Ok((n, _)) = self.sock.recv_from(&mut buf) else {
                continue;
            };
            if let Some((src, a)) = self.valid(&buf[..n]) {
                self.heard(src, &a)?;
            }
        }
        // A crash: no priority-0 advert, nothing undone.
        Ok(())
    }

    /// An advert worth acting on: TTL 255, from another router, version 3,
    /// our VRID, checksum right.
    fn valid(&self, packet: &[u8]) -> Option<(Ipv4Addr, vrrp::Advert)> {
        let ip = Ipv4Packet::new(packet)?;
        let ihl = usize::from(ip.get_header_length()) * 4;
        let src = ip.get_source();
        if ip.get_ttl() != vrrp::TTL || src == self.p.addr {
            return None;
        }
        let a = vrrp::parse(packet.get(ihl..)?, src, ip.get_destination()).ok()?;
        (a.version == 3 && a.kind == 1 && a.vrid == self.p.vrid && a.checksum_ok)
            .then_some((src, a))
    }

    fn heard(&mut self, src: Ipv4Addr, a: &vrrp::Advert) -> Result<()> {
        match self.state {
            State::Backup => {
                if a.priority == 0 {
                    self.deadline = Instant::now() + cs(skew_cs(self.p.priority, a.interval_cs));
                } else if !self.p.preempt || a.priority >= self.p.priority {
                    self.master_interval_cs = a.interval_cs;
                    self.deadline = Instant::now() + master_down(self.p.priority, a.interval_cs);
                }
            }
            State::Master => {
                if a.priority == 0 {
                    self.advertise(self.p.priority);
                    self.deadline = Instant::now() + cs(u32::from(self.p.interval_cs));
                } else if a.priority > self.p.priority
                    || (a.priority == self.p.priority && src > self.p.addr)
                {
                    self.give_up_address();
                    self.master_interval_cs = a.interval_cs;
                    self.enter(State::Backup);
                    self.deadline = Instant::now() + master_down(self.p.priority, a.interval_cs);
                }
            }
            State::Initialize => {}
        }
        Ok(())
    }

    fn become_backup(&mut self) {
        self.enter(State::Backup);
        self.deadline = Instant::now() + master_down(self.p.priority, self.master_interval_cs);
    }

    /// RFC 5798 §6.4.2's order: advertise, then take the address and
    /// broadcast the gratuitous ARP for it.
    fn become_master(&mut self) -> Result<()> {
        self.advertise(self.p.priority);
        let (vip, prefix) = self.p.vip;
        ip_here(
            &self.p.name,
            &[
                "addr",
                "replace",
                &format!("{vip}/{prefix}"),
                "dev",
                &self.p.iface,
            ],
        )?;
        self.enter(State::Master);
        self.gratuitous_arp();
        self.deadline = Instant::now() + cs(u32::from(self.p.interval_cs));
        Ok(())
    }

    fn give_up_address(&self) {
        let (vip, prefix) = self.p.vip;
        let _ = ip_here(
            &self.p.name,
            &[
                "addr",
                "del",
                &format!("{vip}/{prefix}"),
                "dev",
                &self.p.iface,
            ],
        );
    }

    /// One advert; a failed send (the link just went down) is only logged.
    fn advertise(&self, priority: u8) {
        let msg = vrrp::build(
            self.p.vrid,
            priority,
            self.p.interval_cs,
            &[self.p.vip.0],
            self.p.addr,
        );
        if let Err(e) = self.sock.send_to(&msg, SocketAddrV4::new(GROUP, 0)) {
            tracing::debug!("{}: advert not sent: {e}", self.p.name);
        }
    }

    /// "198.51.100.65 is at my MAC", broadcast: an ARP request for the
    /// virtual address from the virtual address (RFC 5798 §6.4.2).
    fn gratuitous_arp(&self) {
        let frame = gratuitous_arp(self.p.mac, self.p.vip.0);
        let sent = crate::lab::capture::bound_packet_socket(&self.p.iface)
            .and_then(|fd| nix::unistd::write(&fd, &frame).map_err(std::io::Error::from));
        if let Err(e) = sent {
            tracing::debug!("{}: gratuitous ARP not sent: {e}", self.p.name);
        }
    }
}

/// A gratuitous ARP: an Ethernet broadcast carrying an ARP request whose
/// sender and target address are both `ip`, from `mac`.
pub fn gratuitous_arp(mac: [u8; 6], ip: Ipv4Addr) -> Vec<u8> {
    use pnet_datalink::MacAddr;
    use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, MutableArpPacket};
    use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
    let mut frame = vec![0u8; 14 + 28];
    let m = MacAddr::from(mac);
    if let Some(mut e) = MutableEthernetPacket::new(&mut frame) {
        e.set_destination(MacAddr::broadcast());
        e.set_source(m);
        e.set_ethertype(EtherTypes::Arp);
    }
    if let Some(mut a) = MutableArpPacket::new(&mut frame[14..]) {
        a.set_hardware_type(ArpHardwareTypes::Ethernet);
        a.set_protocol_type(EtherTypes::Ipv4);
        a.set_hw_addr_len(6);
        a.set_proto_addr_len(4);
        a.set_operation(ArpOperations::Request);
        a.set_sender_hw_addr(m);
        a.set_sender_proto_addr(ip);
        a.set_target_hw_addr(MacAddr::zero());
        a.set_target_proto_addr(ip);
    }
    frame
}

/// A MAC address `aa:bb:…` as bytes.
pub fn mac_bytes(mac: &str) -> Option<[u8; 6]> {
    let v: Vec<u8> = mac
        .split(':')
        .map(|x| u8::from_str_radix(x, 16).ok())
        .collect::<Option<_>>()?;
    v.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_higher_priority_waits_less() {
        // RFC 5798 §6.1 with a one-second interval: skew 0.21 s at 200, 0.60 s at 100.
        assert_eq!(skew_cs(200, 100), 21);
        assert_eq!(skew_cs(100, 100), 60);
        assert_eq!(master_down(100, 100), Duration::from_millis(3600));
        assert_eq!(master_down(200, 100), Duration::from_millis(3210));
        assert_eq!(skew_cs(255, 100), 0);
    }

    #[test]
    fn a_gratuitous_arp_asks_for_its_own_address() {
        let f = gratuitous_arp([2, 0, 0, 0, 0x33, 1], Ipv4Addr::new(198, 51, 100, 65));
        let d = crate::wire::frame::ethernet_frame(&f).unwrap();
        assert_eq!(d.dst_mac.as_deref(), Some("ff:ff:ff:ff:ff:ff"));
        assert_eq!(
            d.kind,
            crate::wire::frame::Kind::Arp {
                op: 1,
                sha: "02:00:00:00:33:01".into(),
                spa: Ipv4Addr::new(198, 51, 100, 65),
                tpa: Ipv4Addr::new(198, 51, 100, 65),
            }
        );
        assert_eq!(mac_bytes("02:00:00:00:33:01"), Some([2, 0, 0, 0, 0x33, 1]));
        assert_eq!(mac_bytes("02:00"), None);
    }
}
