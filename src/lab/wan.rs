//! The lab's WAN: r1 joined to a second router r2 by a slow link, and LAN C
//! behind r2, masqueraded (NAT).
//!
//! ```text
//!  LAN A 198.51.100.0/24   LAN B 203.0.113.0/25
//!  h1, h2 ── sw1 ── r1 ── h3
//!                   │ eth2 203.0.113.129/30
//!              WAN  │  (wan-r1 ⇄ wan-r2 in namespace "wan": the delay line)
//!                   │ eth0 203.0.113.130/30
//!                   r2 ── h4          LAN C 203.0.113.192/26, masqueraded by r2
//! ```
//!
//! This kernel has no sch_netem (LAB-NOTES.md), so the WAN's delay is a
//! delay line in user space: the link's two halves end in a namespace of
//! their own, and netlab forwards each frame from one half to the other after
//! the delay. Its rate is a tbf qdisc on both routers' WAN interfaces. The
//! WAN shares 203.0.113.0/24 with LAN B, whose prefix becomes /25 while the
//! WAN is up. Everything lives in anonymous namespaces: gone with the process.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::capture::bound_packet_socket;
use super::netns::Netns;
use super::topology::{NetLab, H3, R1_B};
use crate::error::{Error, Result};

/// r1's end of the WAN.
pub const R1_W: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 129);
/// r2's end of the WAN.
pub const R2_W: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 130);
/// r2 on LAN C.
pub const R2_C: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 193);
/// h4, on LAN C behind r2's NAT.
pub const H4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 200);
/// LAN C.
pub const LAN_C: &str = "203.0.113.192/26";

/// The WAN's MAC addresses, by host: r1 eth2, r2 eth0, r2 eth1, h4 eth0.
pub const MACS: [(&str, &str); 4] = [
    ("r1", "02:00:00:00:02:01"),
    ("r2", "02:00:00:00:02:02"),
    ("r2", "02:00:00:00:03:01"),
    ("h4", "02:00:00:00:03:10"),
];

/// The WAN's addresses, by host.
pub const ADDRS: [(&str, Ipv4Addr); 4] = [("r1", R1_W), ("r2", R2_W), ("r2", R2_C), ("h4", H4)];

/// How slow the WAN is.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Shape {
    /// One-way delay, milliseconds.
    pub delay_ms: u32,
    /// Rate, megabits per second.
    pub rate_mbit: u32,
}

/// The default WAN: 20 ms each way, 10 Mbit/s.
pub const DEFAULT_SHAPE: Shape = Shape {
    delay_ms: 20,
    rate_mbit: 10,
};

/// The WAN, alive as long as this value (with the lab it extends).
pub struct Wan {
    /// The second router.
    pub r2: Netns,
    /// The host behind r2's NAT.
    pub h4: Netns,
    /// The namespace the WAN's two halves end in (held open: the link lives in it).
    pub wan: Netns,
    line: DelayLine,
}

impl Drop for Wan {
    fn drop(&mut self) {
        self.line.stop.store(true, Ordering::Relaxed);
        for t in self.line.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn sh(ns: &Netns, args: &[&str]) -> Result<()> {
    ns.ip(args).map(drop)
}

/// Build the WAN onto `lab`.
pub fn build(lab: &NetLab, shape: Shape) -> Result<Wan> {
    let r1 = lab.host("r1")?;
    let h3 = lab.host("h3")?;
    let wan = Netns::anonymous("wan")?;
    let r2 = Netns::anonymous("r2")?;
    let h4 = Netns::anonymous("h4")?;
    for ns in [&wan, &r2, &h4] {
        ns.quiet()?;
    }
    // LAN B shrinks to /25 so the WAN can take part of 203.0.113.0/24.
    sh(r1, &["addr", "del", &format!("{R1_B}/24"), "dev", "eth1"])?;
    sh(r1, &["addr", "add", &format!("{R1_B}/25"), "dev", "eth1"])?;
    sh(h3, &["addr", "del", &format!("{H3}/24"), "dev", "eth0"])?;
    sh(h3, &["addr", "add", &format!("{H3}/25"), "dev", "eth0"])?;
    sh(
        h3,
        &["route", "replace", "default", "via", &R1_B.to_string()],
    )?;
    // The cables: r1 eth2 ⇄ wan wan-r1, r2 eth0 ⇄ wan wan-r2, r2 eth1 ⇄ h4 eth0.
    let wp = wan.path();
    sh(
        r1,
        &[
            "link", "add", "eth2", "type", "veth", "peer", "name", "wan-r1", "netns", &wp,
        ],
    )?;
    sh(
        &r2,
        &[
            "link", "add", "eth0", "type", "veth", "peer", "name", "wan-r2", "netns", &wp,
        ],
    )?;
    sh(
        &r2,
        &[
            "link",
            "add",
            "eth1",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &h4.path(),
        ],
    )?;
    let ifaces: [(&Netns, &str, Option<String>, &str); 4] = [
        (r1, "eth2", Some(format!("{R1_W}/30")), MACS[0].1),
        (&r2, "eth0", Some(format!("{R2_W}/30")), MACS[1].1),
        (&r2, "eth1", Some(format!("{R2_C}/26")), MACS[2].1),
        (&h4, "eth0", Some(format!("{H4}/26")), MACS[3].1),
    ];
    for (ns, name, ip, mac) in &ifaces {
        sh(ns, &["link", "set", name, "address", mac])?;
        if let Some(ip) = ip {
            sh(ns, &["addr", "add", ip, "dev", name])?;
        }
        sh(ns, &["link", "set", name, "up"])?;
    }
    for end in ["wan-r1", "wan-r2"] {
        sh(&wan, &["link", "set", end, "up"])?;
    }
    sh(&r2, &["route", "add", "default", "via", &R1_W.to_string()])?;
    sh(&h4, &["route", "add", "default", "via", &R2_C.to_string()])?;
    sh(r1, &["route", "add", LAN_C, "via", &R2_W.to_string()])?;
    r2.sysctl("net.ipv4.ip_forward", "1")?;
    // NAT: what leaves LAN C over the WAN leaves with r2's address.
    super::link::nft(&r2, &["add", "table", "ip", "netlab_nat"])?;
    super::link::nft(
        &r2,
        &[
            "add",
            "chain",
            "ip",
            "netlab_nat",
            "post",
            "{",
            "type",
            "nat",
            "hook",
            "postrouting",
            "priority",
            "100",
            ";",
            "}",
        ],
    )?;
    super::link::nft(
        &r2,
        &[
            "add",
            "rule",
            "ip",
            "netlab_nat",
            "post",
            "oifname",
            "eth0",
            "ip",
            "saddr",
            LAN_C,
            "masquerade",
        ],
    )?;
    // One frame per segment, so each frame fits the other half's MTU, and the
    // WAN's rate on both routers' ends.
    super::link::segment_by_segment(r1, "eth2")?;
    super::link::segment_by_segment(&r2, "eth0")?;
    let rate = format!("{}mbit", shape.rate_mbit);
    super::link::tbf(r1, "eth2", &rate)?;
    super::link::tbf(&r2, "eth0", &rate)?;
    let line = DelayLine::start(
        &wan,
        ("wan-r1", "wan-r2"),
        Duration::from_millis(u64::from(shape.delay_ms)),
    )?;
    Ok(Wan { r2, h4, wan, line })
}

/// Forwards frames between two interfaces of one namespace, each after a
/// delay: the WAN's two halves, or (`lab up --delay`) a host's stack and its
/// cable.
pub struct DelayLine {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Result<()>>>,
}

impl DelayLine {
    /// Start forwarding between `ends` inside `ns`.
    pub fn start(ns: &Netns, ends: (&str, &str), delay: Duration) -> Result<DelayLine> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ea, eb) = (ends.0.to_string(), ends.1.to_string());
        let sockets = ns.run(move || -> std::io::Result<(OwnedFd, OwnedFd)> {
            Ok((bound_packet_socket(&ea)?, bound_packet_socket(&eb)?))
        })?;
        let (a, b) = sockets.map_err(|e| Error::sys("open", "打开", "the WAN's delay line", e))?;
        let (a2, b2) = (
            a.try_clone()
                .map_err(|e| Error::sys("open", "打开", "the WAN's delay line", e))?,
            b.try_clone()
                .map_err(|e| Error::sys("open", "打开", "the WAN's delay line", e))?,
        );
        let mut threads = Vec::new();
        for (from, to) in [(a, b2), (b, a2)] {
            let stop = stop.clone();
            threads.push(std::thread::spawn(move || {
                forward(&from, &to, delay, &stop)
            }));
        }
        Ok(DelayLine { stop, threads })
    }

    /// Whether a direction has stopped (an end's interface went away).
    pub fn broken(&self) -> bool {
        self.threads
            .iter()
            .any(std::thread::JoinHandle::is_finished)
    }

    /// Stop forwarding.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Receive on `from`, send on `to` once `delay` has passed: a queue in
/// arrival order, so frames keep their order and spacing.
fn forward(from: &OwnedFd, to: &OwnedFd, delay: Duration, stop: &AtomicBool) -> Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use nix::sys::socket::{recvmsg, send, LinkAddr, MsgFlags};
    let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        while queue.front().is_some_and(|(due, _)| *due <= now) {
            if let Some((_, frame)) = queue.pop_front() {
                // A full queue on the other side drops the frame, as a wire would.
                let _ = send(to.as_raw_fd(), &frame, MsgFlags::empty());
            }
        }
        let wait = queue
            .front()
            .map(|(due, _)| due.saturating_duration_since(now))
            .unwrap_or(Duration::from_millis(20))
            .min(Duration::from_millis(20));
        let ms = u16::try_from(wait.as_millis().max(1)).unwrap_or(20);
        let mut fds = [PollFd::new(from.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(Error::sys("poll", "poll", "the WAN's delay line", e)),
        }
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let r = match recvmsg::<LinkAddr>(from.as_raw_fd(), &mut iov, None, MsgFlags::MSG_DONTWAIT)
        {
            Ok(r) => r,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
            // The interface is gone (ENETDOWN, ENODEV …): the line ends.
            Err(e) => return Err(Error::sys("read", "读取", "the delay line's end", e)),
        };
        // What this socket sent itself comes back as outgoing: not ours to forward.
        if r.address
            .is_some_and(|a| a.pkttype() == libc::PACKET_OUTGOING)
        {
            continue;
        }
        let len = r.bytes;
        let mut frame = buf[..len.min(buf.len())].to_vec();
        complete_checksum(&mut frame);
        queue.push_back((Instant::now() + delay, frame));
    }
    Ok(())
}

/// A frame a veth handed over may carry a TCP or UDP checksum the sender's
/// card was to finish (checksum offload); finish it, or the far router drops it.
pub fn complete_checksum(frame: &mut [u8]) {
    use pnet_packet::ethernet::{EtherTypes, EthernetPacket};
    use pnet_packet::ip::IpNextHeaderProtocols;
    use pnet_packet::ipv4::Ipv4Packet;
    use pnet_packet::Packet as _;
    let Some(eth) = EthernetPacket::new(frame) else {
        return;
    };
    if eth.get_ethertype() != EtherTypes::Ipv4 {
        return;
    }
    let Some(ip) = Ipv4Packet::new(&frame[14..]) else {
        return;
    };
    let (src, dst, proto) = (
        ip.get_source(),
        ip.get_destination(),
        ip.get_next_level_protocol(),
    );
    let ihl = usize::from(ip.get_header_length()) * 4;
    let total = usize::from(ip.get_total_length());
    // Fragments after the first carry no transport header.
    if ip.get_fragment_offset() != 0 || total < ihl || 14 + total > frame.len() {
        return;
    }
    let _ = ip.payload();
    let seg = &mut frame[14 + ihl..14 + total];
    if proto == IpNextHeaderProtocols::Tcp {
        if let Some(mut t) = pnet_packet::tcp::MutableTcpPacket::new(seg) {
            let c = pnet_packet::tcp::ipv4_checksum(&t.to_immutable(), &src, &dst);
            t.set_checksum(c);
        }
    } else if proto == IpNextHeaderProtocols::Udp {
        if let Some(mut u) = pnet_packet::udp::MutableUdpPacket::new(seg) {
            let c = pnet_packet::udp::ipv4_checksum(&u.to_immutable(), &src, &dst);
            u.set_checksum(c);
        }
    }
}
