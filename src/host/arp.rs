//! ARP on real links, for `arp-table`: a first ping on a lab LAN and the
//! exchange it causes, one echo across a router captured on both LANs, and a
//! real request on one of this host's interfaces (`--iface IF --resolve IP`:
//! the kernel's own, or an Ethernet broadcast built with pnet_packet and sent
//! on a [`PacketSocket`], CAP_NET_RAW on the host). The story is in
//! demos/arp_table.

use std::net::{Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::lab::capture::{Capture, Frame};
use crate::lab::netns::Netns;
use crate::packet_socket::PacketSocket;
use crate::text::tx;
use crate::wire::frame::{self, Kind};

/// Broadcast "who has `target`? tell `src_ip`" on `nic`.
pub fn send_request(
    nic: &pnet_datalink::NetworkInterface,
    src_ip: Ipv4Addr,
    target: Ipv4Addr,
) -> Result<()> {
    use pnet_datalink::MacAddr;
    use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, MutableArpPacket};
    use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
    let mac = nic.mac.ok_or_else(|| {
        Error::usage(tx(
            format!("interface {} has no MAC address", nic.name),
            format!("接口 {} 没有 MAC 地址", nic.name),
        ))
    })?;
    let mut buf = [0u8; 42];
    {
        let mut eth = MutableEthernetPacket::new(&mut buf).expect("42 bytes");
        eth.set_destination(MacAddr::broadcast());
        eth.set_source(mac);
        eth.set_ethertype(EtherTypes::Arp);
    }
    {
        let mut arp = MutableArpPacket::new(&mut buf[14..]).expect("28 bytes");
        arp.set_hardware_type(ArpHardwareTypes::Ethernet);
        arp.set_protocol_type(EtherTypes::Ipv4);
        arp.set_hw_addr_len(6);
        arp.set_proto_addr_len(4);
        arp.set_operation(ArpOperations::Request);
        arp.set_sender_hw_addr(mac);
        arp.set_sender_proto_addr(src_ip);
        arp.set_target_hw_addr(MacAddr::zero());
        arp.set_target_proto_addr(target);
    }
    let sock = PacketSocket::bind(&nic.name).map_err(|e| Error::Socket {
        op: "open packet socket on",
        addr: nic.name.clone(),
        source: e,
    })?;
    sock.send(&buf).map_err(|e| Error::Socket {
        op: "send ARP on",
        addr: nic.name.clone(),
        source: e,
    })
}

/// What kind of frame a capture saw, if it parses.
pub fn kind(f: &Frame) -> Option<Kind> {
    frame::ethernet_frame(&f.bytes).ok().map(|d| d.kind)
}

/// An ARP request for `about` (op 1) or a reply from `about` (op 2).
pub fn is_arp(f: &Frame, op: u16, about: Ipv4Addr) -> bool {
    matches!(kind(f), Some(Kind::Arp { op: o, spa, tpa, .. })
        if o == op && (if op == 1 { tpa == about } else { spa == about }))
}

/// An ICMP echo request from `src` to `dst`.
pub fn is_echo(f: &Frame, from: Ipv4Addr, to: Ipv4Addr) -> bool {
    matches!(kind(f), Some(Kind::Ipv4 { src, dst, icmp_type: Some(8), .. }) if src == from && dst == to)
}

/// An ICMP echo reply from `from` to `to`.
pub fn is_echo_reply(f: &Frame, from: Ipv4Addr, to: Ipv4Addr) -> bool {
    matches!(kind(f), Some(Kind::Ipv4 { src, dst, icmp_type: Some(0), .. }) if src == from && dst == to)
}

/// What crossed `ns`'s eth0 (address `me`) when it pinged `to`, a host on
/// the same LAN, for the first time: the kernel's ARP request and the reply,
/// then the echo request that waited for them and the echo reply.
pub fn first_contact(ns: &Netns, me: Ipv4Addr, to: Ipv4Addr) -> Result<Vec<Frame>> {
    let cap = Capture::start(ns, "eth0")?;
    ping_once(ns, to)?;
    cap.wait_for(Duration::from_secs(1), |fs| {
        fs.iter().any(|f| is_echo_reply(f, to, me))
    });
    cap.stop()
}

/// One echo request from inside `ns` to `to`; whether its reply came within 3 s.
fn ping_once(ns: &Netns, to: Ipv4Addr) -> Result<bool> {
    let pinger = ns
        .run(|| crate::icmp::Pinger::open(crate::privilege::PingSocket::Raw, to, None))?
        .map_err(|e| Error::Socket {
            op: "open an ICMP socket to",
            addr: to.to_string(),
            source: e,
        })?;
    pinger.send(1, 56).map_err(|e| Error::Send {
        to: to.to_string(),
        source: e,
    })?;
    let got = pinger
        .recv(Instant::now() + Duration::from_secs(3))
        .map_err(|e| Error::Socket {
            op: "receive from",
            addr: to.to_string(),
            source: e,
        })?;
    Ok(got.is_some())
}

/// One echo from `from` to a host behind a router, captured on both LANs.
pub struct Across {
    /// Whether the echo reply came back.
    pub answered: bool,
    /// What the sender's link carried.
    pub near: Vec<Frame>,
    /// What the far host's link carried.
    pub far: Vec<Frame>,
}

/// Ping `to` once from `from`, capturing `from`'s and `far`'s eth0.
pub fn echo_across(from: &Netns, far: &Netns, to: Ipv4Addr) -> Result<Across> {
    let cap_near = Capture::start(from, "eth0")?;
    let cap_far = Capture::start(far, "eth0")?;
    let answered = ping_once(from, to)?;
    Ok(Across {
        answered,
        near: cap_near.stop()?,
        far: cap_far.stop()?,
    })
}

/// Who sent the request on the host's own link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asker {
    /// The kernel, resolving for a datagram netlab sent.
    Kernel,
    /// netlab, because the kernel already had an entry (as arping does).
    Netlab,
}

/// Resolve `ip` on the host's interface `nic` (address `src_ip`), capturing
/// the exchange: the kernel asks if it has no entry; otherwise netlab does.
pub fn resolve_here(
    nic: &pnet_datalink::NetworkInterface,
    src_ip: Ipv4Addr,
    ip: Ipv4Addr,
    has_entry: bool,
) -> Result<(Asker, Vec<Frame>)> {
    let cap = Capture::start_here(&nic.name)?;
    let asker = if has_entry {
        send_request(nic, src_ip, ip)?;
        Asker::Netlab
    } else {
        let s = UdpSocket::bind((src_ip, 0)).map_err(|e| Error::Socket {
            op: "bind",
            addr: src_ip.to_string(),
            source: e,
        })?;
        // The datagram itself may be refused; the ARP request is what counts.
        let _ = s.send_to(b"netlab", (ip, 9));
        Asker::Kernel
    };
    cap.wait_for(Duration::from_secs(2), |fs| {
        fs.iter().any(|f| is_arp(f, 2, ip))
    });
    Ok((asker, cap.stop()?))
}
