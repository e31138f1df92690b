//! Packets built from a socket's addresses, for the capture file: where netlab
//! saw only a payload at a socket, its IPv4 and UDP/TCP headers are rebuilt
//! here (pnet_packet builds them and their checksums), so Wireshark can open it.

use std::net::{Ipv4Addr, SocketAddr};

use pnet_packet::ip::IpNextHeaderProtocol;
use pnet_packet::ipv4::{self, Ipv4Flags, MutableIpv4Packet};
use pnet_packet::tcp::{self, MutableTcpPacket, TcpFlags};
use pnet_packet::udp::{self, MutableUdpPacket};

/// An IPv4 packet around `payload` (protocol number `proto`): version 4, no
/// options, DF, TTL 64, built by pnet_packet with its header checksum.
pub fn ip_packet(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 20 + payload.len()];
    if let Some(mut h) = MutableIpv4Packet::new(&mut p) {
        h.set_version(4);
        h.set_header_length(5);
        h.set_total_length((20 + payload.len()) as u16);
        h.set_flags(Ipv4Flags::DontFragment);
        h.set_ttl(64);
        h.set_next_level_protocol(IpNextHeaderProtocol(proto));
        h.set_source(src);
        h.set_destination(dst);
        h.set_payload(payload);
        let sum = ipv4::checksum(&h.to_immutable());
        h.set_checksum(sum);
    }
    p
}

fn v4(a: SocketAddr) -> Option<(Ipv4Addr, u16)> {
    match a {
        SocketAddr::V4(s) => Some((*s.ip(), s.port())),
        SocketAddr::V6(_) => None,
    }
}

/// A UDP datagram between two IPv4 sockets, wrapped in IPv4 and UDP headers
/// (checksums computed by pnet_packet) so Wireshark can open it.
pub fn udp_packet(from: SocketAddr, to: SocketAddr, payload: &[u8]) -> Option<Vec<u8>> {
    let (sip, sport) = v4(from)?;
    let (dip, dport) = v4(to)?;
    let mut d = vec![0u8; 8 + payload.len()];
    let mut u = MutableUdpPacket::new(&mut d)?;
    u.set_source(sport);
    u.set_destination(dport);
    u.set_length((8 + payload.len()) as u16);
    u.set_payload(payload);
    // RFC 768: a computed 0 is sent as all ones (0 means "no checksum").
    let sum = match udp::ipv4_checksum(&u.to_immutable(), &sip, &dip) {
        0 => 0xffff,
        c => c,
    };
    u.set_checksum(sum);
    Some(ip_packet(sip, dip, 17, &d))
}

/// A TCP segment (PSH+ACK, window 65535) carrying `payload` between two IPv4
/// sockets, for DNS over TCP. Sequence numbers are chosen by netlab, not the kernel's.
pub fn tcp_packet(
    from: SocketAddr,
    to: SocketAddr,
    seq: u32,
    ack: u32,
    payload: &[u8],
) -> Option<Vec<u8>> {
    let (sip, sport) = v4(from)?;
    let (dip, dport) = v4(to)?;
    let mut d = vec![0u8; 20 + payload.len()];
    let mut t = MutableTcpPacket::new(&mut d)?;
    t.set_source(sport);
    t.set_destination(dport);
    t.set_sequence(seq);
    t.set_acknowledgement(ack);
    t.set_data_offset(5);
    t.set_flags(TcpFlags::PSH | TcpFlags::ACK);
    t.set_window(0xffff);
    t.set_payload(payload);
    let sum = tcp::ipv4_checksum(&t.to_immutable(), &sip, &dip);
    t.set_checksum(sum);
    Some(ip_packet(sip, dip, 6, &d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pnet_packet::ipv4::Ipv4Packet;
    use pnet_packet::tcp::TcpPacket;
    use pnet_packet::udp::UdpPacket;
    use pnet_packet::Packet as _;

    #[test]
    fn udp_round_trip_keeps_every_field_and_checksums_verify() {
        let (from, to) = (
            "127.0.0.1:40000".parse().unwrap(),
            "127.53.0.1:5300".parse().unwrap(),
        );
        let p = udp_packet(from, to, b"hello").unwrap();
        assert_eq!(p.len(), 20 + 8 + 5);
        let ip = Ipv4Packet::new(&p).unwrap();
        assert_eq!(
            (ip.get_version(), ip.get_header_length(), ip.get_ttl()),
            (4, 5, 64)
        );
        assert_eq!(ip.get_total_length(), 33);
        assert_eq!(ip.get_next_level_protocol().0, 17);
        assert_eq!(ip.get_source(), Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(
            ipv4::checksum(&ip),
            ip.get_checksum(),
            "IPv4 header checksum"
        );
        let u = UdpPacket::new(ip.payload()).unwrap();
        assert_eq!(
            (u.get_source(), u.get_destination(), u.get_length()),
            (40000, 5300, 13)
        );
        assert_eq!(u.payload(), b"hello");
        let sum = udp::ipv4_checksum(&u, &ip.get_source(), &ip.get_destination());
        assert_eq!(sum, u.get_checksum(), "UDP checksum over the pseudo-header");
        // The same fields through netlab's own field tables.
        let (fields, sp, dp) = crate::wire::udp::explain(ip.payload(), 20).unwrap();
        assert_eq!((sp, dp), (40000, 5300));
        assert_eq!(fields[2].value.en, "13");
        assert!(udp_packet("[::1]:1".parse().unwrap(), to, b"").is_none());
    }

    #[test]
    fn tcp_round_trip_keeps_every_field_and_checksums_verify() {
        let (from, to) = (
            "127.0.0.1:40000".parse().unwrap(),
            "127.53.0.1:53".parse().unwrap(),
        );
        let p = tcp_packet(from, to, 1, 17, b"\x00\x03abc").unwrap();
        let ip = Ipv4Packet::new(&p).unwrap();
        assert_eq!(ip.get_next_level_protocol().0, 6);
        assert_eq!(ipv4::checksum(&ip), ip.get_checksum());
        let t = TcpPacket::new(ip.payload()).unwrap();
        assert_eq!(
            tcp::ipv4_checksum(&t, &ip.get_source(), &ip.get_destination()),
            t.get_checksum()
        );
        let h = crate::wire::tcp::header(ip.payload()).unwrap();
        assert_eq!(
            (
                h.src_port,
                h.dst_port,
                h.seq,
                h.ack,
                h.flags,
                h.window,
                h.header_len
            ),
            (40000, 53, 1, 17, 0x18, 0xffff, 20)
        );
        assert_eq!(t.payload(), b"\x00\x03abc");
    }

    #[test]
    fn an_ip_packet_carries_its_payload_untouched() {
        let icmp = crate::wire::icmp::echo_request(1, 2, b"x");
        let p = ip_packet(Ipv4Addr::LOCALHOST, Ipv4Addr::new(127, 0, 0, 2), 1, &icmp);
        let d = crate::wire::frame::ip_packet(&p).unwrap();
        assert!(matches!(
            d.kind,
            crate::wire::frame::Kind::Ipv4 {
                icmp_type: Some(8),
                icmp_seq: Some(2),
                ..
            }
        ));
    }
}
