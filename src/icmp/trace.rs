//! The engine of `traceroute`: probes with a growing TTL, and the ICMP error
//! each one draws, read from the socket's error queue (IP_RECVERR), which
//! needs no privilege: what Linux's own traceroute does for UDP.
//!
//! UDP probes go to port 33434 + n (traceroute's base port), one socket each,
//! so an error is matched to its probe by the socket it arrives on. ICMP echo
//! probes (`-I`) use an unprivileged ICMP socket: an echo reply arrives as a
//! datagram, a time-exceeded in the error queue.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrIn};
use serde::Serialize;

/// traceroute's first UDP port.
pub const BASE_PORT: u16 = 33434;

/// What came back for one probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Reply {
    /// ICMP time exceeded: a router on the way, whose TTL reached zero.
    TimeExceeded,
    /// ICMP port unreachable: the target itself (no one listens on the port).
    PortUnreachable,
    /// ICMP echo reply: the target itself, to an echo probe.
    EchoReply,
    /// Another ICMP destination unreachable (code in `Probe::code`).
    Unreachable,
    /// Nothing within the wait.
    None,
}

/// Which probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// UDP datagrams to an unused port (traceroute's default).
    Udp,
    /// ICMP echo requests (`-I`).
    Icmp,
}

/// One probe and its answer.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Probe {
    /// The TTL it left with.
    pub ttl: u8,
    /// Who answered (null: nothing within the wait).
    pub address: Option<Ipv4Addr>,
    /// Round trip, milliseconds (null: nothing within the wait).
    pub rtt_ms: Option<f64>,
    /// What answered.
    pub reply: Reply,
    /// The ICMP code of the answer (0 for time exceeded, 3 for port unreachable).
    pub code: Option<u8>,
    /// The probe's destination port (UDP) or sequence number (ICMP).
    pub port: u16,
}

fn io(e: nix::Error) -> std::io::Error {
    std::io::Error::from(e)
}

/// Send one probe to `dst` with `ttl`, wait up to `wait` for its answer.
/// `n` numbers the probe (its port or sequence).
pub fn probe(
    method: Method,
    dst: Ipv4Addr,
    ttl: u8,
    n: u16,
    wait: Duration,
) -> std::io::Result<Probe> {
    match method {
        Method::Udp => udp_probe(dst, ttl, n, wait),
        Method::Icmp => icmp_probe(dst, ttl, n, wait),
    }
}

fn udp_probe(dst: Ipv4Addr, ttl: u8, n: u16, wait: Duration) -> std::io::Result<Probe> {
    let port = BASE_PORT.wrapping_add(n);
    let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    s.set_ttl(u32::from(ttl))?;
    setsockopt(&s, sockopt::Ipv4RecvErr, &true).map_err(io)?;
    s.connect(SocketAddr::from((dst, port)))?;
    let t = Instant::now();
    // 32 bytes, as traceroute's default probe carries.
    s.send(b"netlab traceroute probe ........")?;
    let fd = s.as_fd().try_clone_to_owned()?;
    let mut p = wait_error(&fd, t, wait, false)?;
    p.ttl = ttl;
    p.port = port;
    Ok(p)
}

fn icmp_probe(dst: Ipv4Addr, ttl: u8, n: u16, wait: Duration) -> std::io::Result<Probe> {
    let s = match socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::ICMPV4),
    ) {
        Ok(s) => s,
        // No ICMP socket for this group (ping_group_range): a raw socket, where allowed.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return raw_icmp_probe(dst, ttl, n, wait).map_err(|raw| {
                if raw.kind() == std::io::ErrorKind::PermissionDenied {
                    e
                } else {
                    raw
                }
            })
        }
        Err(e) => return Err(e),
    };
    s.set_ttl_v4(u32::from(ttl))?;
    let fd: OwnedFd = s.into();
    setsockopt(&fd, sockopt::Ipv4RecvErr, &true).map_err(io)?;
    let mut req = [0u8; 40];
    {
        use pnet_packet::icmp::echo_request::MutableEchoRequestPacket;
        use pnet_packet::icmp::IcmpTypes;
        let mut e = MutableEchoRequestPacket::new(&mut req).expect("40 bytes");
        e.set_icmp_type(IcmpTypes::EchoRequest);
        e.set_sequence_number(n);
        // The kernel sets the identifier and the checksum on an ICMP socket.
    }
    let to = SockaddrIn::from(std::net::SocketAddrV4::new(dst, 0));
    let t = Instant::now();
    nix::sys::socket::sendto(fd.as_raw_fd(), &req, &to, MsgFlags::empty()).map_err(io)?;
    let mut p = wait_error(&fd, t, wait, true)?;
    p.ttl = ttl;
    p.port = n;
    Ok(p)
}

/// An echo probe over a raw socket (CAP_NET_RAW): the request built whole,
/// and the answer picked out of every ICMP message by identifier and sequence
/// (an error quotes the request's first 8 bytes after its IP header).
fn raw_icmp_probe(dst: Ipv4Addr, ttl: u8, n: u16, wait: Duration) -> std::io::Result<Probe> {
    use pnet_packet::icmp::echo_request::MutableEchoRequestPacket;
    use pnet_packet::icmp::{IcmpPacket, IcmpTypes};
    let s = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::RAW,
        Some(socket2::Protocol::ICMPV4),
    )?;
    s.set_ttl_v4(u32::from(ttl))?;
    let id = (std::process::id() as u16) ^ 0x4e4c;
    let mut req = [0u8; 40];
    {
        let mut e = MutableEchoRequestPacket::new(&mut req).expect("40 bytes");
        e.set_icmp_type(IcmpTypes::EchoRequest);
        e.set_identifier(id);
        e.set_sequence_number(n);
    }
    let c = pnet_packet::icmp::checksum(&IcmpPacket::new(&req).expect("40 bytes"));
    req[2..4].copy_from_slice(&c.to_be_bytes());
    let t = Instant::now();
    s.send_to(&req, &SocketAddr::from((dst, 0)).into())?;
    let mut none = Probe {
        ttl,
        address: None,
        rtt_ms: None,
        reply: Reply::None,
        code: None,
        port: n,
    };
    let mut buf = [0u8; 1500];
    loop {
        let left = wait.saturating_sub(t.elapsed());
        if left.is_zero() {
            return Ok(none);
        }
        s.set_read_timeout(Some(left))?;
        let len = match nix::sys::socket::recv(s.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(len) => len,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(io(e)),
        };
        let rtt = t.elapsed().as_secs_f64() * 1e3;
        let bytes = &buf[..len];
        if let Some((from, reply, code)) = match_echo(bytes, id, n) {
            none.address = Some(from);
            none.rtt_ms = Some(rtt);
            none.reply = reply;
            none.code = code;
            return Ok(none);
        }
    }
}

/// Which answer, if any, an ICMP packet (IPv4 header included) is to the
/// echo request `id`/`seq`: its sender, the kind of reply, the code.
pub fn match_echo(pkt: &[u8], id: u16, seq: u16) -> Option<(Ipv4Addr, Reply, Option<u8>)> {
    let ihl = usize::from(*pkt.first()? & 0x0f) * 4;
    let from = Ipv4Addr::new(*pkt.get(12)?, *pkt.get(13)?, *pkt.get(14)?, *pkt.get(15)?);
    let icmp = pkt.get(ihl..)?;
    let (t, code) = (*icmp.first()?, *icmp.get(1)?);
    let ids = |b: &[u8]| -> Option<(u16, u16)> {
        Some((
            u16::from_be_bytes([*b.get(4)?, *b.get(5)?]),
            u16::from_be_bytes([*b.get(6)?, *b.get(7)?]),
        ))
    };
    match t {
        0 if ids(icmp)? == (id, seq) => Some((from, Reply::EchoReply, None)),
        3 | 11 => {
            let inner = icmp.get(8..)?;
            let ihl2 = usize::from(*inner.first()? & 0x0f) * 4;
            let quoted = inner.get(ihl2..)?;
            if *quoted.first()? != 8 || ids(quoted)? != (id, seq) {
                return None;
            }
            let reply = match (t, code) {
                (11, _) => Reply::TimeExceeded,
                (3, 3) => Reply::PortUnreachable,
                _ => Reply::Unreachable,
            };
            Some((from, reply, Some(code)))
        }
        _ => None,
    }
}

/// Wait for the probe's answer: an ICMP error in the error queue, or (echo
/// probes) a reply as a datagram.
fn wait_error(fd: &OwnedFd, sent: Instant, wait: Duration, echo: bool) -> std::io::Result<Probe> {
    let none = Probe {
        ttl: 0,
        address: None,
        rtt_ms: None,
        reply: Reply::None,
        code: None,
        port: 0,
    };
    loop {
        let left = wait.saturating_sub(sent.elapsed());
        if left.is_zero() {
            return Ok(none);
        }
        let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(
            fd.as_fd(),
            PollFlags::POLLIN | PollFlags::POLLERR,
        )];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) => return Ok(none),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(io(e)),
            Ok(_) => {}
        }
        let rtt = sent.elapsed().as_secs_f64() * 1e3;
        let ev = fds[0].revents().unwrap_or(PollFlags::empty());
        if ev.contains(PollFlags::POLLERR) {
            let mut buf = [0u8; 512];
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            let mut cmsg = nix::cmsg_space!(libc::sock_extended_err, libc::sockaddr_in);
            let r = recvmsg::<SockaddrIn>(
                fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_ERRQUEUE,
            )
            .map_err(io)?;
            for c in r.cmsgs().map_err(io)? {
                if let ControlMessageOwned::Ipv4RecvErr(err, from) = c {
                    if err.ee_origin != libc::SO_EE_ORIGIN_ICMP {
                        continue;
                    }
                    let address = from.map(|a| Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)));
                    let reply = match (err.ee_type, err.ee_code) {
                        (11, _) => Reply::TimeExceeded,
                        (3, 3) => Reply::PortUnreachable,
                        (3, _) => Reply::Unreachable,
                        _ => continue,
                    };
                    return Ok(Probe {
                        address,
                        rtt_ms: Some(rtt),
                        reply,
                        code: Some(err.ee_code),
                        ..none
                    });
                }
            }
        } else if echo && ev.contains(PollFlags::POLLIN) {
            let mut buf = [0u8; 512];
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            let r = recvmsg::<SockaddrIn>(fd.as_raw_fd(), &mut iov, None, MsgFlags::MSG_DONTWAIT)
                .map_err(io)?;
            return Ok(Probe {
                address: r.address.map(|a| a.ip()),
                rtt_ms: Some(rtt),
                reply: Reply::EchoReply,
                ..none
            });
        } else if ev.contains(PollFlags::POLLIN) {
            // A UDP answer from a service that does listen there: drain it.
            let mut b = [0u8; 512];
            let _ = nix::sys::socket::recv(fd.as_raw_fd(), &mut b, MsgFlags::MSG_DONTWAIT);
        }
    }
}

/// Where the kernel delivers what is sent to a trace's target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    /// A broadcast address (255.255.255.255, or a subnet's broadcast such as
    /// 127.255.255.255 on lo): the kernel refuses to send there unless the
    /// socket asks for it (SO_BROADCAST), and then every host on the link
    /// would answer. A trace follows the path to one host.
    Broadcast,
    /// One host. Usually the target itself; for 0.0.0.0 ("this host", RFC 1122
    /// 3.2.1.3) the kernel's own address, 127.0.0.1, which then answers.
    Host(Ipv4Addr),
}

/// Ask the kernel where `dst` leads, as a UDP socket's connect() finds it: the
/// route lookup, and nothing sent. connect() refuses a broadcast route with
/// EACCES, and turns 0.0.0.0 into the loopback address it will really use.
pub fn destination(dst: Ipv4Addr) -> std::io::Result<Destination> {
    let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    match s.connect(SocketAddr::from((dst, BASE_PORT))) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EACCES) => return Ok(Destination::Broadcast),
        Err(e) => return Err(e),
    }
    match s.peer_addr()? {
        SocketAddr::V4(a) => Ok(Destination::Host(*a.ip())),
        SocketAddr::V6(_) => Ok(Destination::Host(dst)),
    }
}

/// Whether a trace reached its target.
pub fn reached(probes: &[Probe], dst: Ipv4Addr) -> bool {
    probes.iter().any(|p| {
        p.address == Some(dst) && matches!(p.reply, Reply::PortUnreachable | Reply::EchoReply)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_icmp_error_is_matched_by_the_request_it_quotes() {
        // IPv4 header from 198.51.100.1, ICMP time exceeded quoting an IPv4
        // header and an echo request with id 0x1234, seq 7.
        let mut p = vec![
            0x45, 0, 0, 56, 0, 0, 0, 0, 64, 1, 0, 0, 198, 51, 100, 1, 198, 51, 100, 10,
        ];
        p.extend([11, 0, 0, 0, 0, 0, 0, 0]);
        p.extend([
            0x45, 0, 0, 60, 0, 0, 0, 0, 1, 1, 0, 0, 198, 51, 100, 10, 203, 0, 113, 200,
        ]);
        p.extend([8, 0, 0, 0, 0x12, 0x34, 0, 7]);
        assert_eq!(
            match_echo(&p, 0x1234, 7),
            Some((Ipv4Addr::new(198, 51, 100, 1), Reply::TimeExceeded, Some(0)))
        );
        assert_eq!(match_echo(&p, 0x1234, 8), None, "another probe's");
        assert_eq!(match_echo(&p[..30], 0x1234, 7), None, "cut short");
        // An echo reply: type 0, same id and seq.
        let mut r = p[..20].to_vec();
        r.extend([0, 0, 0, 0, 0x12, 0x34, 0, 7]);
        assert_eq!(
            match_echo(&r, 0x1234, 7).map(|m| m.1),
            Some(Reply::EchoReply)
        );
    }

    #[test]
    fn a_udp_probe_to_loopback_draws_a_port_unreachable() {
        // Nobody listens on 127.0.0.1:33434 + n (a free port is picked below).
        let free = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let n = port.wrapping_sub(BASE_PORT);
        let p = probe(
            Method::Udp,
            Ipv4Addr::LOCALHOST,
            64,
            n,
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(p.reply, Reply::PortUnreachable, "{p:?}");
        assert_eq!(p.address, Some(Ipv4Addr::LOCALHOST));
        assert!(reached(&[p], Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn the_kernel_says_where_a_target_leads() {
        use Destination::*;
        let d = |a: [u8; 4]| destination(Ipv4Addr::from(a)).unwrap();
        assert_eq!(d([127, 0, 0, 1]), Host(Ipv4Addr::LOCALHOST));
        assert_eq!(d([127, 1, 2, 3]), Host(Ipv4Addr::new(127, 1, 2, 3)));
        // lo carries 127.0.0.1/8, and with it the route to its subnet's broadcast.
        assert_eq!(d([127, 255, 255, 255]), Broadcast);
        // "This host": the kernel sends it to its loopback address.
        assert_eq!(d([0, 0, 0, 0]), Host(Ipv4Addr::LOCALHOST));
    }
}
