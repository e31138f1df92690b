//! `--pcap FILE`: the packets of a run, for Wireshark.
//!
//! A renderer of the run's packet records: the narrator hands it each step,
//! and every record that carries wire bytes becomes one enhanced packet block,
//! commented with its step's title (the step's explanation once, on its first
//! packet). Writes pcapng: one interface block per link or socket. Captured
//! frames are exact; where netlab saw a packet only at a socket, its IPv4 and
//! UDP/TCP headers were rebuilt from the socket's addresses, and the comment
//! says so. The file's section comment says how the packets were obtained.

use std::borrow::Cow;
use std::fs::File;
use std::io::BufWriter;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

use pnet_packet::ip::IpNextHeaderProtocol;
use pnet_packet::ipv4::{self, Ipv4Flags, MutableIpv4Packet};
use pnet_packet::tcp::{self, MutableTcpPacket, TcpFlags};
use pnet_packet::udp::{self, MutableUdpPacket};

use crate::error::{Error, Result};

struct Pkt {
    iface: u32,
    at: SystemTime,
    bytes: Vec<u8>,
    /// Length on the wire (more than `bytes` when the capture kept only the headers).
    len: usize,
    comment: String,
}

/// Packets collected during a run, written by [`PcapOut::finish`].
pub struct PcapOut {
    path: PathBuf,
    /// Opened once, when the run starts (a named pipe with a reader works too).
    file: File,
    ifaces: Vec<(String, DataLink)>,
    packets: Vec<Pkt>,
    notes: Vec<String>,
}

impl PcapOut {
    /// Check that `path` can be written (created now, so a bad path fails before the demo runs).
    pub fn create(path: &Path) -> Result<PcapOut> {
        let file = crate::private::create_output(path)?;
        Ok(PcapOut {
            path: path.to_path_buf(),
            file,
            ifaces: Vec::new(),
            packets: Vec::new(),
            notes: Vec::new(),
        })
    }

    /// A sentence for the file's section comment (what Wireshark shows under
    /// Statistics → Capture File Properties): how the packets were obtained.
    pub fn note(&mut self, s: impl Into<String>) {
        let s = s.into();
        if !self.notes.contains(&s) {
            self.notes.push(s);
        }
    }

    /// The interface id for a link name and type, adding it on first use.
    fn iface(&mut self, name: &str, link: DataLink) -> u32 {
        if let Some(i) = self
            .ifaces
            .iter()
            .position(|(n, l)| n == name && *l == link)
        {
            return i as u32;
        }
        self.ifaces.push((name.to_string(), link));
        (self.ifaces.len() - 1) as u32
    }

    fn push(&mut self, iface: u32, at: SystemTime, bytes: Vec<u8>, comment: &str) {
        self.packets.push(Pkt {
            iface,
            at,
            len: bytes.len(),
            bytes,
            comment: comment.to_string(),
        });
    }

    /// Add the packet records of a step that carry wire bytes. Each packet's
    /// comment is its step's title (and its own label); the step's explanation
    /// goes once, on the step's first packet; rebuilt headers are said so.
    pub fn step(&mut self, step: &crate::narrate::Step) {
        let mut first = true;
        for p in step.packets.iter().filter(|p| !p.echo) {
            let Some(w) = &p.wire else { continue };
            let mut comment = format!("{} — {}", step.title.en, p.label.en);
            if first && !step.detail.en.is_empty() {
                comment.push('\n');
                comment.push_str(&step.detail.en);
            }
            if w.rebuilt {
                comment.push_str("\n(IPv4 and UDP/TCP headers rebuilt by netlab from the socket addresses; the payload is exact)");
            }
            if p.lost {
                comment.push_str("\n(lost: it never arrived)");
            }
            first = false;
            let at = p.at.unwrap_or_else(SystemTime::now);
            let link = if w.ethernet {
                DataLink::ETHERNET
            } else {
                DataLink::IPV4
            };
            let iface = self.iface(&w.link, link);
            self.push(iface, at, w.bytes.clone(), &comment);
            if let (Some(len), Some(last)) = (w.original_len, self.packets.last_mut()) {
                last.len = len.max(last.bytes.len());
            }
        }
    }

    /// Write the file.
    pub fn finish(mut self) -> Result<PathBuf> {
        let path = self.path.clone();
        let io = |source: std::io::Error| Error::Write {
            path: path.clone(),
            source,
        };
        let pcap = |e: pcap_file::PcapError| match e {
            pcap_file::PcapError::IoError(e) => io(e),
            other => io(std::io::Error::other(other.to_string())),
        };
        let mut notes = vec![format!(
            "netlab {}: each packet's comment is the step it belongs to",
            env!("CARGO_PKG_VERSION")
        )];
        notes.extend(self.notes.iter().cloned());
        let section = SectionHeaderBlock {
            options: vec![
                SectionHeaderOption::Comment(Cow::Owned(notes.join("\n"))),
                SectionHeaderOption::UserApplication(Cow::Borrowed("netlab")),
            ],
            ..Default::default()
        };
        let mut w =
            PcapNgWriter::with_section_header(BufWriter::new(self.file), section).map_err(pcap)?;
        for (name, link) in &self.ifaces {
            w.write_pcapng_block(InterfaceDescriptionBlock {
                linktype: *link,
                snaplen: 0,
                options: vec![
                    InterfaceDescriptionOption::IfName(Cow::Owned(name.clone())),
                    // pcap-file writes timestamps in nanoseconds; say so (the default is microseconds).
                    InterfaceDescriptionOption::IfTsResol(9),
                ],
            })
            .map_err(pcap)?;
        }
        self.packets.sort_by_key(|p| p.at);
        for p in &self.packets {
            w.write_pcapng_block(EnhancedPacketBlock {
                interface_id: p.iface,
                timestamp: p.at.duration_since(UNIX_EPOCH).unwrap_or_default(),
                original_len: p.len as u32,
                data: Cow::Borrowed(&p.bytes),
                options: vec![EnhancedPacketOption::Comment(Cow::Borrowed(&p.comment))],
            })
            .map_err(pcap)?;
        }
        w.into_inner()
            .into_inner()
            .map_err(|e| io(e.into_error()))?;
        Ok(path)
    }
}

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
