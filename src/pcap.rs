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

use crate::error::{Error, Result};
use crate::wire::icmp::checksum;

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

fn ipv4_header(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload_len: usize) -> Vec<u8> {
    let total = (20 + payload_len) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    let c = checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

fn v4(a: SocketAddr) -> Option<(Ipv4Addr, u16)> {
    match a {
        SocketAddr::V4(s) => Some((*s.ip(), s.port())),
        SocketAddr::V6(_) => None,
    }
}

/// An IPv4 packet around `payload` (protocol number `proto`), header checksum computed.
pub fn ip_packet(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = ipv4_header(src, dst, proto, payload.len());
    p.extend_from_slice(payload);
    p
}

/// A UDP datagram between two IPv4 sockets, wrapped in IPv4 and UDP headers
/// (checksums computed) so Wireshark can open it.
pub fn udp_packet(from: SocketAddr, to: SocketAddr, payload: &[u8]) -> Option<Vec<u8>> {
    let (sip, sport) = v4(from)?;
    let (dip, dport) = v4(to)?;
    let ulen = (8 + payload.len()) as u16;
    let mut udp = Vec::with_capacity(8 + payload.len());
    udp.extend_from_slice(&sport.to_be_bytes());
    udp.extend_from_slice(&dport.to_be_bytes());
    udp.extend_from_slice(&ulen.to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&sip.octets());
    pseudo.extend_from_slice(&dip.octets());
    pseudo.extend_from_slice(&[0, 17]);
    pseudo.extend_from_slice(&ulen.to_be_bytes());
    pseudo.extend_from_slice(&udp);
    let c = match checksum(&pseudo) {
        0 => 0xffff,
        c => c,
    };
    udp[6..8].copy_from_slice(&c.to_be_bytes());
    let mut p = ipv4_header(sip, dip, 17, udp.len());
    p.extend_from_slice(&udp);
    Some(p)
}

/// A TCP segment (PSH+ACK) carrying `payload` between two IPv4 sockets, for
/// DNS over TCP. Sequence numbers are chosen by netlab, not the kernel's.
pub fn tcp_packet(
    from: SocketAddr,
    to: SocketAddr,
    seq: u32,
    ack: u32,
    payload: &[u8],
) -> Option<Vec<u8>> {
    let (sip, sport) = v4(from)?;
    let (dip, dport) = v4(to)?;
    let mut tcp = Vec::with_capacity(20 + payload.len());
    tcp.extend_from_slice(&sport.to_be_bytes());
    tcp.extend_from_slice(&dport.to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&ack.to_be_bytes());
    tcp.extend_from_slice(&[0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    tcp.extend_from_slice(payload);
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&sip.octets());
    pseudo.extend_from_slice(&dip.octets());
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
    pseudo.extend_from_slice(&tcp);
    let c = checksum(&pseudo);
    tcp[16..18].copy_from_slice(&c.to_be_bytes());
    let mut p = ipv4_header(sip, dip, 6, tcp.len());
    p.extend_from_slice(&tcp);
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_wrapping_has_valid_checksums() {
        let p = udp_packet(
            "127.0.0.1:40000".parse().unwrap(),
            "127.53.0.1:5300".parse().unwrap(),
            b"hello",
        )
        .unwrap();
        assert_eq!(p.len(), 20 + 8 + 5);
        assert_eq!(checksum(&p[..20]), 0, "IPv4 header checksum");
        let mut pseudo = p[12..20].to_vec();
        pseudo.extend_from_slice(&[0, 17, 0, 13]);
        pseudo.extend_from_slice(&p[20..]);
        assert_eq!(checksum(&pseudo), 0, "UDP checksum over the pseudo-header");
        assert!(udp_packet(
            "[::1]:1".parse().unwrap(),
            "127.0.0.1:1".parse().unwrap(),
            b""
        )
        .is_none());
    }
}
