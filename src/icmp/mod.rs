//! ICMP echo, the operation behind ping (RFC 792).
//!
//! Opens a raw ICMP socket when the process has CAP_NET_RAW (it then sees the
//! whole IP packet of each reply, header included), else an unprivileged
//! "ping socket" (SOCK_DGRAM, IPPROTO_ICMP) when net.ipv4.ping_group_range
//! allows our group (the TTL then comes from an IP_RECVTTL control message).
//! A reply counts only if it is an echo reply from the target with our
//! identifier; everything else a raw socket sees is ignored.
//!
//! Why its own sockets and not surge-ping: the demo shows the exact bytes it
//! sent and got (the byte view, `--pcap`) and measures RTT from the kernel's
//! arrival stamp (SO_TIMESTAMPNS), as iputils does; surge-ping hands back
//! neither. The messages themselves are built and parsed with pnet_packet
//! ([`crate::wire::icmp`]).

use std::io::IoSliceMut;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrIn};
use socket2::{Domain, Protocol, Socket, Type};

use crate::privilege::PingSocket;
use crate::wire::icmp;

pub mod series;
pub mod trace;

/// Bytes of IPv4 + ICMP header around a payload.
pub const OVERHEAD: usize = 28;
/// Largest payload: 65535 - 20 (IP) - 8 (ICMP).
pub const MAX_PAYLOAD: usize = 65507;

/// An echo reply that matched one of our requests.
#[derive(Clone, Debug)]
pub struct Reply {
    /// Sequence number.
    pub seq: u16,
    /// Who answered.
    pub from: Ipv4Addr,
    /// TTL of the reply's IP header, if known.
    pub ttl: Option<u8>,
    /// ICMP message length (header + payload).
    pub icmp_len: usize,
    /// Arrival time (when netlab read it).
    pub at: Instant,
    /// Arrival time stamped by the kernel (SO_TIMESTAMPNS), as iputils uses it.
    pub kernel_at: Option<std::time::SystemTime>,
    /// When it arrived: the kernel's stamp, else when netlab read it.
    pub received: std::time::SystemTime,
    /// The whole IP packet (raw sockets) or the ICMP message alone (ping sockets).
    pub bytes: Vec<u8>,
    /// True when `bytes` starts with the IP header.
    pub has_ip_header: bool,
}

/// An open ICMP socket aimed at one target.
pub struct Pinger {
    sock: Socket,
    kind: PingSocket,
    ident: u16,
    target: Ipv4Addr,
}

impl Pinger {
    /// Open a socket of `kind` towards `target`, with an outgoing TTL if given.
    pub fn open(kind: PingSocket, target: Ipv4Addr, ttl: Option<u32>) -> std::io::Result<Pinger> {
        let ty = match kind {
            PingSocket::Raw => Type::RAW,
            PingSocket::Dgram => Type::DGRAM,
        };
        let sock = Socket::new(Domain::IPV4, ty, Some(Protocol::ICMPV4))?;
        if let Some(t) = ttl {
            sock.set_ttl_v4(t)?;
        }
        if kind == PingSocket::Dgram {
            setsockopt(&sock, sockopt::Ipv4RecvTtl, &true).map_err(std::io::Error::from)?;
        }
        // Like iputils: the kernel stamps each reply's arrival, so the RTT does not
        // include the time this process took to wake up.
        setsockopt(&sock, sockopt::ReceiveTimestampns, &true).map_err(std::io::Error::from)?;
        Ok(Pinger {
            sock,
            kind,
            ident: rand::random(),
            target,
        })
    }

    /// The socket kind in use.
    pub fn kind(&self) -> PingSocket {
        self.kind
    }

    /// The target.
    pub fn target(&self) -> Ipv4Addr {
        self.target
    }

    /// The source address the kernel picks for the target (what the request's
    /// IP header carries), found as iputils does: a UDP socket connected to the
    /// target, which sends nothing. None if there is no route.
    pub fn source(&self) -> Option<Ipv4Addr> {
        let s = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
        s.connect((self.target, 1025)).ok()?;
        match s.local_addr().ok()?.ip() {
            std::net::IpAddr::V4(a) if !a.is_unspecified() => Some(a),
            _ => None,
        }
    }

    /// Send echo request `seq` with `size` payload bytes; returns the ICMP message
    /// sent and the wall-clock time just before it was handed to the kernel.
    pub fn send(
        &self,
        seq: u16,
        size: usize,
    ) -> std::io::Result<(Vec<u8>, Instant, std::time::SystemTime)> {
        // Payload like iputils: a timestamp, then a counting pattern.
        let mut payload: Vec<u8> = (0..size).map(|i| (i % 256) as u8).collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let stamp = now.as_micros().to_be_bytes();
        let n = payload.len().min(8);
        payload[..n].copy_from_slice(&stamp[16 - 8..16 - 8 + n]);
        let msg = icmp::echo_request(self.ident, seq, &payload);
        let dst = SocketAddr::V4(SocketAddrV4::new(self.target, 0));
        let (at, wall) = (Instant::now(), std::time::SystemTime::now());
        self.sock.send_to(&msg, &dst.into())?;
        Ok((msg, at, wall))
    }

    /// Wait until `deadline` for the next echo reply to one of our requests.
    pub fn recv(&self, deadline: Instant) -> std::io::Result<Option<Reply>> {
        let mut buf = vec![0u8; MAX_PAYLOAD + 128];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.sock
                .set_read_timeout(Some(left.max(Duration::from_micros(100))))?;
            let mut cmsg = nix::cmsg_space!(nix::libc::c_int, nix::sys::time::TimeSpec);
            let (n, from, cttl, kernel_at) = {
                let mut iov = [IoSliceMut::new(&mut buf)];
                let r = match recvmsg::<SockaddrIn>(
                    self.sock.as_raw_fd(),
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::empty(),
                ) {
                    Ok(r) => r,
                    Err(nix::errno::Errno::EAGAIN) => return Ok(None),
                    Err(nix::errno::Errno::EINTR) => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                let mut ttl = None;
                let mut stamp = None;
                if let Ok(cms) = r.cmsgs() {
                    for c in cms {
                        match c {
                            ControlMessageOwned::Ipv4Ttl(t) => ttl = u8::try_from(t).ok(),
                            ControlMessageOwned::ScmTimestampns(ts) => {
                                let d = Duration::new(
                                    ts.tv_sec().max(0) as u64,
                                    ts.tv_nsec().max(0) as u32,
                                );
                                stamp = Some(std::time::UNIX_EPOCH + d);
                            }
                            _ => {}
                        }
                    }
                }
                (r.bytes, r.address.map(|a| a.ip()), ttl, stamp)
            };
            let at = Instant::now();
            let data = &buf[..n];
            let (icmp_at, ttl, src) = match self.kind {
                PingSocket::Raw => {
                    if n < 20 {
                        continue;
                    }
                    let ihl = usize::from(data[0] & 0x0f) * 4;
                    let src = Ipv4Addr::new(data[12], data[13], data[14], data[15]);
                    (ihl, Some(data[8]), src)
                }
                PingSocket::Dgram => (0, cttl, from.unwrap_or(self.target)),
            };
            if data.len() < icmp_at + icmp::ECHO_HEADER_LEN {
                continue;
            }
            let m = &data[icmp_at..];
            let ident = u16::from_be_bytes([m[4], m[5]]);
            // A ping socket's identifier is chosen by the kernel, which already filtered for us.
            let ours = self.kind == PingSocket::Dgram || ident == self.ident;
            // 0.0.0.0 means this host: the reply comes from one of its own addresses,
            // which iputils accepts too.
            let from_target = src == self.target || self.target.is_unspecified();
            if m[0] != 0 || !ours || !from_target {
                continue;
            }
            return Ok(Some(Reply {
                seq: u16::from_be_bytes([m[6], m[7]]),
                from: src,
                ttl,
                icmp_len: m.len(),
                at,
                kernel_at,
                received: kernel_at.unwrap_or_else(std::time::SystemTime::now),
                bytes: data.to_vec(),
                has_ip_header: self.kind == PingSocket::Raw,
            }));
        }
    }
}

/// A series' statistics as the JSON summary carries them (iputils' closing
/// figures; RTTs in ms rounded to the microsecond, null when nothing came back).
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Echo {
    /// Echo requests sent.
    pub transmitted: u32,
    /// Echo replies received (duplicates not counted).
    pub received: u32,
    /// Share of requests unanswered, in percent, rounded down as iputils does.
    pub loss_percent: f64,
    /// From the first request to the end of the series, milliseconds.
    pub time_ms: u64,
    /// Shortest round trip, milliseconds (null when nothing came back).
    pub rtt_min_ms: Option<f64>,
    /// Mean round trip, milliseconds.
    pub rtt_avg_ms: Option<f64>,
    /// Longest round trip, milliseconds.
    pub rtt_max_ms: Option<f64>,
    /// Mean deviation of the round trips (iputils' mdev), milliseconds.
    pub rtt_mdev_ms: Option<f64>,
}

impl Echo {
    /// The figures of `s`, a series that took `elapsed`.
    pub fn of(s: &Stats, elapsed: std::time::Duration) -> Echo {
        let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
        let rtt = s.rtt();
        Echo {
            transmitted: s.transmitted,
            received: s.received,
            loss_percent: s.loss_percent(),
            time_ms: elapsed.as_millis() as u64,
            rtt_min_ms: rtt.map(|r| r3(r.0)),
            rtt_avg_ms: rtt.map(|r| r3(r.1)),
            rtt_max_ms: rtt.map(|r| r3(r.2)),
            rtt_mdev_ms: rtt.map(|r| r3(r.3)),
        }
    }
}

/// Round-trip statistics as iputils prints them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Requests sent.
    pub transmitted: u32,
    /// Replies received.
    pub received: u32,
    /// Every RTT, ms.
    pub rtts: Vec<f64>,
}

impl Stats {
    /// Lost share in percent, rounded down like iputils.
    pub fn loss_percent(&self) -> f64 {
        if self.transmitted == 0 {
            return 0.0;
        }
        let lost = self.transmitted.saturating_sub(self.received);
        (f64::from(lost) * 100.0 / f64::from(self.transmitted)).floor()
    }

    /// (min, avg, max, mdev) in ms; mdev = sqrt(mean(x²) − mean(x)²) as iputils computes it.
    pub fn rtt(&self) -> Option<(f64, f64, f64, f64)> {
        if self.rtts.is_empty() {
            return None;
        }
        let n = self.rtts.len() as f64;
        let min = self.rtts.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.rtts.iter().copied().fold(0.0, f64::max);
        let avg = self.rtts.iter().sum::<f64>() / n;
        let sq = self.rtts.iter().map(|x| x * x).sum::<f64>() / n;
        let mdev = (sq - avg * avg).max(0.0).sqrt();
        Some((min, avg, max, mdev))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_like_iputils() {
        let s = Stats {
            transmitted: 4,
            received: 3,
            rtts: vec![1.0, 2.0, 3.0],
        };
        assert_eq!(s.loss_percent(), 25.0);
        let (min, avg, max, mdev) = s.rtt().unwrap();
        assert_eq!((min, avg, max), (1.0, 2.0, 3.0));
        assert!((mdev - 0.816).abs() < 0.001);
        let none = Stats {
            transmitted: 3,
            received: 0,
            rtts: vec![],
        };
        assert_eq!(none.loss_percent(), 100.0);
        assert!(none.rtt().is_none());
        let third = Stats {
            transmitted: 3,
            received: 2,
            rtts: vec![1.0, 1.0],
        };
        assert_eq!(third.loss_percent(), 33.0);
    }
}
