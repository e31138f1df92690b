//! A whole captured frame or IP packet: Ethernet → ARP, or IPv4 → ICMP,
//! TCP, UDP or VRRP.
//!
//! Returns one field table across every header (ranges relative to the first
//! byte) and a one-line summary in the style of tcpdump.

use std::net::Ipv4Addr;

use pnet_packet::arp::ArpPacket;
use pnet_packet::ethernet::EthernetPacket;
use pnet_packet::ipv4::Ipv4Packet;

use super::{arp, ethernet, icmp, ipv4, tcp, udp, vrrp, WireError};
use crate::record::FieldView;
use crate::text::{tx, Text};

/// What a frame is, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// ARP request or reply.
    Arp {
        /// 1 request, 2 reply.
        op: u16,
        /// Sender MAC (`arp.sha`): in a reply, the answer.
        sha: String,
        /// Sender IP.
        spa: Ipv4Addr,
        /// Target IP.
        tpa: Ipv4Addr,
    },
    /// An IPv4 packet.
    Ipv4 {
        /// Source.
        src: Ipv4Addr,
        /// Destination.
        dst: Ipv4Addr,
        /// TTL.
        ttl: u8,
        /// ICMP type if the payload is ICMP.
        icmp_type: Option<u8>,
        /// Echo sequence number if it is an echo.
        icmp_seq: Option<u16>,
        /// The TCP header, if the payload is TCP.
        tcp: Option<tcp::Header>,
        /// Ports and payload length, if the payload is UDP.
        udp: Option<(u16, u16, usize)>,
        /// Transport payload length (TCP data or UDP data).
        payload_len: usize,
    },
    /// Something else (the EtherType).
    Other(u16),
}

/// A decoded frame: its kind, MACs, and the field table.
#[derive(Clone, Debug)]
pub struct Dissected {
    /// What it is.
    pub kind: Kind,
    /// Source MAC (Ethernet frames only).
    pub src_mac: Option<String>,
    /// Destination MAC (Ethernet frames only).
    pub dst_mac: Option<String>,
    /// Every field.
    pub fields: Vec<FieldView>,
}

/// Dissect an Ethernet frame.
pub fn ethernet_frame(bytes: &[u8]) -> Result<Dissected, WireError> {
    let (mut fields, t) = ethernet::explain(bytes)?;
    let eth = EthernetPacket::new(bytes).expect("length checked by explain");
    let payload = &bytes[ethernet::HEADER_LEN..];
    let kind = match t {
        0x0806 => {
            fields.extend(arp::explain(payload, ethernet::HEADER_LEN)?);
            let a = ArpPacket::new(payload).expect("length checked");
            Kind::Arp {
                op: a.get_operation().0,
                sha: a.get_sender_hw_addr().to_string(),
                spa: a.get_sender_proto_addr(),
                tpa: a.get_target_proto_addr(),
            }
        }
        0x0800 => {
            let (f, kind) = ip(payload, ethernet::HEADER_LEN)?;
            fields.extend(f);
            kind
        }
        other => Kind::Other(other),
    };
    Ok(Dissected {
        kind,
        src_mac: Some(eth.get_source().to_string()),
        dst_mac: Some(eth.get_destination().to_string()),
        fields,
    })
}

/// Dissect a bare IPv4 packet (a raw socket's view).
pub fn ip_packet(bytes: &[u8]) -> Result<Dissected, WireError> {
    let (fields, kind) = ip(bytes, 0)?;
    Ok(Dissected {
        kind,
        src_mac: None,
        dst_mac: None,
        fields,
    })
}

fn ip(bytes: &[u8], at: usize) -> Result<(Vec<FieldView>, Kind), WireError> {
    let (mut fields, ihl, proto) = ipv4::explain(bytes, at)?;
    let p = Ipv4Packet::new(bytes).expect("length checked");
    let mut icmp_type = None;
    let mut icmp_seq = None;
    let mut tcp_h = None;
    let mut udp_h = None;
    let mut payload_len = 0;
    let end = (p.get_total_length() as usize).clamp(ihl, bytes.len());
    // The payload's length on the wire, from the IP header: a capture with a
    // snap length keeps fewer bytes than the packet had.
    let on_wire = (p.get_total_length() as usize).max(end);
    if proto == 6 {
        let seg = &bytes[ihl..end];
        fields.extend(tcp::explain(seg, at + ihl)?);
        let h = tcp::header(seg)?;
        payload_len = on_wire.saturating_sub(ihl + h.header_len);
        tcp_h = Some(h);
    } else if proto == 17 {
        let d = &bytes[ihl..end];
        let (f, sp, dp) = udp::explain(d, at + ihl)?;
        fields.extend(f);
        payload_len = on_wire.saturating_sub(ihl + udp::LEN);
        udp_h = Some((sp, dp, payload_len));
    } else if proto == vrrp::PROTOCOL {
        let m = &bytes[ihl..end];
        fields.extend(vrrp::explain(
            m,
            at + ihl,
            p.get_source(),
            p.get_destination(),
        )?);
    } else if proto == 1 {
        let m = &bytes[ihl..end];
        fields.extend(icmp::explain(m, at + ihl)?);
        // explain() checked the echo header's 8 bytes; a reply has the request's layout.
        let t = pnet_packet::icmp::IcmpPacket::new(m).map(|p| p.get_icmp_type().0);
        icmp_type = t;
        if matches!(t, Some(0 | 8)) {
            icmp_seq = pnet_packet::icmp::echo_request::EchoRequestPacket::new(m)
                .map(|e| e.get_sequence_number());
        }
    }
    Ok((
        fields,
        Kind::Ipv4 {
            src: p.get_source(),
            dst: p.get_destination(),
            ttl: p.get_ttl(),
            icmp_type,
            icmp_seq,
            tcp: tcp_h,
            udp: udp_h,
            payload_len,
        },
    ))
}

/// The IP protocol number of an Ethernet + IPv4 frame and its transport bytes
/// (the TCP or UDP header and what follows).
pub fn transport(frame: &[u8]) -> Option<(u8, &[u8])> {
    let eth = EthernetPacket::new(frame)?;
    if eth.get_ethertype() != pnet_packet::ethernet::EtherTypes::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new(frame.get(14..)?)?;
    let ihl = usize::from(ip.get_header_length()) * 4;
    Some((ip.get_next_level_protocol().0, frame.get(14 + ihl..)?))
}

/// One line, tcpdump style, in both languages (field names and numbers stay).
pub fn summary(d: &Dissected) -> Text {
    let macs = match (&d.src_mac, &d.dst_mac) {
        (Some(s), Some(t)) => format!("{s} > {t}, "),
        _ => String::new(),
    };
    let (en, zh) = match &d.kind {
        Kind::Arp {
            op: 1, spa, tpa, ..
        } => (
            format!("ARP request: who has {tpa}? tell {spa}"),
            format!("ARP 请求：谁有 {tpa}？请告诉 {spa}"),
        ),
        // The answer is the sender MAC inside ARP (what tcpdump prints), not
        // the frame's source: a proxy or a spoofer may make them differ.
        Kind::Arp {
            op: 2, sha, spa, ..
        } => (
            format!("ARP reply: {spa} is at {sha}"),
            format!("ARP 应答：{spa} 在 {sha}"),
        ),
        Kind::Arp { op, .. } => (format!("ARP op {op}"), format!("ARP 操作 {op}")),
        Kind::Ipv4 {
            src,
            dst,
            ttl,
            icmp_type,
            icmp_seq,
            tcp,
            udp,
            payload_len,
        } => {
            let (l4_en, l4_zh) = match (icmp_type, icmp_seq, tcp, udp) {
                (Some(8), Some(s), _, _) => (
                    format!(" ICMP echo request seq={s}"),
                    format!(" ICMP 回显请求 seq={s}"),
                ),
                (Some(0), Some(s), _, _) => (
                    format!(" ICMP echo reply seq={s}"),
                    format!(" ICMP 回显应答 seq={s}"),
                ),
                (Some(t), _, _, _) => (format!(" ICMP type {t}"), format!(" ICMP 类型 {t}")),
                (_, _, Some(h), _) => {
                    let l = format!(
                        " TCP {} > {} [{}] seq={} ack={} win={} len={payload_len}",
                        h.src_port,
                        h.dst_port,
                        tcp::flags_text(h.flags),
                        h.seq,
                        h.ack,
                        h.window
                    );
                    (l.clone(), l)
                }
                (_, _, _, Some((sp, dp, n))) => {
                    let l = format!(" UDP {sp} > {dp} len={n}");
                    (l.clone(), l)
                }
                _ => (String::new(), String::new()),
            };
            let head = format!("IPv4 {src} > {dst} ttl={ttl}");
            (format!("{head}{l4_en}"), format!("{head}{l4_zh}"))
        }
        Kind::Other(t) => {
            let n = ethernet::ethertype_name(*t);
            (n.clone(), n)
        }
    };
    tx(format!("{macs}{en}"), format!("{macs}{zh}"))
}

/// A short label for a sequence diagram: `ARP who-has 198.51.100.1`,
/// `ICMP echo request seq=1`, `SYN`, `TCP 100 B seq=…`, `UDP 100 B`.
pub fn label(d: &Dissected) -> Text {
    let same = |s: String| Text::from(s);
    match &d.kind {
        Kind::Arp { op: 1, tpa, .. } => tx(format!("ARP who-has {tpa}"), format!("ARP 谁有 {tpa}")),
        // The answer, as tcpdump words it (`is-at MAC`); the address asked
        // about is the request's, drawn just above, and in the summary.
        // Short enough that no ladder width cuts the MAC off.
        Kind::Arp { op: 2, sha, .. } => tx(format!("ARP is-at {sha}"), format!("ARP 应答 {sha}")),
        Kind::Arp { op, .. } => tx(format!("ARP op {op}"), format!("ARP 操作 {op}")),
        Kind::Ipv4 {
            dst,
            icmp_type,
            icmp_seq,
            tcp,
            udp,
            payload_len,
            ..
        } => match (icmp_type, icmp_seq, tcp, udp) {
            (Some(8), Some(s), _, _) => tx(
                format!("ICMP echo request seq={s}"),
                format!("ICMP 回显请求 seq={s}"),
            ),
            (Some(0), Some(s), _, _) => tx(
                format!("ICMP echo reply seq={s}"),
                format!("ICMP 回显应答 seq={s}"),
            ),
            (Some(11), _, _, _) => tx("ICMP time exceeded", "ICMP 超时"),
            (Some(3), _, _, _) => tx("ICMP unreachable", "ICMP 不可达"),
            (Some(t), _, _, _) => tx(format!("ICMP type {t}"), format!("ICMP 类型 {t}")),
            (_, _, Some(h), _) => {
                let f = tcp::flags_text(h.flags & !0x08).replace(',', "+");
                if *payload_len > 0 {
                    tx(
                        format!("TCP {payload_len} B seq={}", h.seq),
                        format!("TCP {payload_len} 字节 seq={}", h.seq),
                    )
                } else if f == "ACK" {
                    same(format!("ACK {}", h.ack))
                } else {
                    same(f)
                }
            }
            (_, _, _, Some((_, _, n))) => tx(format!("UDP {n} B"), format!("UDP {n} 字节")),
            _ if dst.is_multicast() => tx("IPv4 multicast", "IPv4 组播"),
            _ => same("IPv4".into()),
        },
        Kind::Other(t) => same(ethernet::ethertype_name(*t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arp_request_frame() {
        let mut f = vec![0xff; 6]; // broadcast
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x10]); // h1
        f.extend_from_slice(&[0x08, 0x06]); // ARP
        f.extend_from_slice(&[
            0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 0x10, 198, 51, 100, 10, 0, 0, 0, 0, 0, 0, 198,
            51, 100, 20,
        ]);
        let d = ethernet_frame(&f).unwrap();
        assert_eq!(
            d.kind,
            Kind::Arp {
                op: 1,
                sha: "02:00:00:00:00:10".into(),
                spa: Ipv4Addr::new(198, 51, 100, 10),
                tpa: Ipv4Addr::new(198, 51, 100, 20)
            }
        );
        assert_eq!(d.dst_mac.as_deref(), Some("ff:ff:ff:ff:ff:ff"));
        assert_eq!(d.fields.len(), 3 + 9);
        assert!(summary(&d)
            .en
            .contains("who has 198.51.100.20? tell 198.51.100.10"));
    }

    #[test]
    fn an_arp_reply_is_labelled_with_the_mac_it_answers() {
        let mut f = vec![0x02, 0, 0, 0, 0, 0x10]; // to h1
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x20]); // from h2
        f.extend_from_slice(&[0x08, 0x06]); // ARP
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 2]); // Ethernet, IPv4, 6, 4, reply
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x20, 198, 51, 100, 20]); // sha, spa: the answer
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x10, 198, 51, 100, 10]); // tha, tpa: the asker
        let d = ethernet_frame(&f).unwrap();
        // As tcpdump words the answer: `is-at 02:00:00:00:00:20`; the whole
        // line, with the address, is the summary.
        assert_eq!(label(&d).en, "ARP is-at 02:00:00:00:00:20");
        assert_eq!(label(&d).zh, "ARP 应答 02:00:00:00:00:20");
        // Within the ladder's narrowest label (31 columns): the MAC is never cut.
        assert!(label(&d).en.chars().count() <= 31 && label(&d).zh.chars().count() <= 29);
        assert!(summary(&d)
            .en
            .contains("ARP reply: 198.51.100.20 is at 02:00:00:00:00:20"));
    }

    #[test]
    fn transport_bytes_follow_the_ip_header() {
        // Ethernet (14 bytes, type IPv4), IPv4 (20 bytes, protocol 17), then 8 bytes of UDP.
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&[
            0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ]);
        f.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0]);
        let (proto, l4) = transport(&f).unwrap();
        assert_eq!(proto, 17);
        assert_eq!(l4, &[0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0]);
        f[12] = 0x08;
        f[13] = 0x06; // ARP: no transport
        assert!(transport(&f).is_none());
        assert!(transport(&f[..10]).is_none(), "too short");
    }

    #[test]
    fn truncated_frames_are_errors() {
        assert!(ethernet_frame(&[0; 10]).is_err());
        let mut f = vec![0; 12];
        f.extend_from_slice(&[0x08, 0x06, 0, 1]);
        assert!(ethernet_frame(&f).is_err());
        assert!(ip_packet(&[0x45, 0, 0]).is_err());
    }
}
