//! ARP for IPv4 over Ethernet (RFC 826), 28 bytes after the Ethernet header.
//!
//! ```text
//! 0        2        4    5    6        8          14       18         24       28
//! +--------+--------+----+----+--------+----------+--------+----------+--------+
//! | HTYPE  | PTYPE  |HLEN|PLEN|  OPER  |   SHA    |  SPA   |   THA    |  TPA   |
//! +--------+--------+----+----+--------+----------+--------+----------+--------+
//! ```

use pnet_packet::arp::ArpPacket;

use super::{fv, shift, WireError};
use crate::record::FieldView;
use crate::text::{tx, Text};

/// Byte ranges inside the ARP packet.
pub mod field {
    use std::ops::Range;
    /// Hardware type (1 = Ethernet).
    pub const HTYPE: Range<usize> = 0..2;
    /// Protocol type (0x0800 = IPv4).
    pub const PTYPE: Range<usize> = 2..4;
    /// Hardware address length.
    pub const HLEN: Range<usize> = 4..5;
    /// Protocol address length.
    pub const PLEN: Range<usize> = 5..6;
    /// Operation.
    pub const OPER: Range<usize> = 6..8;
    /// Sender hardware address.
    pub const SHA: Range<usize> = 8..14;
    /// Sender protocol address.
    pub const SPA: Range<usize> = 14..18;
    /// Target hardware address.
    pub const THA: Range<usize> = 18..24;
    /// Target protocol address.
    pub const TPA: Range<usize> = 24..28;
}

/// Length of an IPv4-over-Ethernet ARP packet.
pub const LEN: usize = 28;

/// Operation as a name; unknown values keep their number.
pub fn oper_name(op: u16) -> Text {
    match op {
        1 => tx("1 (request)", "1（请求）"),
        2 => tx("2 (reply)", "2（应答）"),
        3 => tx("3 (RARP request)", "3（RARP 请求）"),
        4 => tx("4 (RARP reply)", "4（RARP 应答）"),
        n => Text::from(format!("Unknown({n})")),
    }
}

/// The ARP fields, with ranges offset by `at` (where ARP starts in the frame).
pub fn explain(bytes: &[u8], at: usize) -> Result<Vec<FieldView>, WireError> {
    if bytes.len() < LEN {
        return Err(WireError::TooShort {
            what: "ARP packet",
            have: bytes.len(),
            need: LEN,
        });
    }
    let p = ArpPacket::new(bytes).ok_or(WireError::TooShort {
        what: "ARP packet",
        have: bytes.len(),
        need: LEN,
    })?;
    let op = p.get_operation().0;
    let f = vec![
        fv(
            "arp.htype",
            field::HTYPE,
            p.get_hardware_type().0.to_string(),
            tx("1 = Ethernet", "硬件类型：1 表示以太网"),
        ),
        fv(
            "arp.ptype",
            field::PTYPE,
            format!("0x{:04x}", p.get_protocol_type().0),
            tx("0x0800 = IPv4", "协议类型：0x0800 表示 IPv4"),
        ),
        fv(
            "arp.hlen",
            field::HLEN,
            p.get_hw_addr_len().to_string(),
            tx("MAC address length", "MAC 地址长度"),
        ),
        fv(
            "arp.plen",
            field::PLEN,
            p.get_proto_addr_len().to_string(),
            tx("IPv4 address length", "IPv4 地址长度"),
        ),
        fv(
            "arp.oper",
            field::OPER,
            oper_name(op),
            if op == 1 {
                tx("who has the target IP?", "请求：谁拥有目标 IP？")
            } else {
                tx("I have it: here is my MAC", "应答：是我，这是我的 MAC")
            },
        ),
        fv(
            "arp.sha",
            field::SHA,
            p.get_sender_hw_addr().to_string(),
            tx("sender MAC", "发送方 MAC"),
        ),
        fv(
            "arp.spa",
            field::SPA,
            p.get_sender_proto_addr().to_string(),
            tx("sender IP", "发送方 IP"),
        ),
        fv(
            "arp.tha",
            field::THA,
            p.get_target_hw_addr().to_string(),
            if op == 1 {
                tx("unknown yet: zeros", "尚不知道：填 0")
            } else {
                tx("the asker", "目标 MAC：提问的一方")
            },
        ),
        fv(
            "arp.tpa",
            field::TPA,
            p.get_target_proto_addr().to_string(),
            tx("target IP", "目标 IP"),
        ),
    ];
    Ok(shift(f, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// h1 asks who has 198.51.100.20.
    const REQUEST: [u8; 28] = [
        0x00, 0x01, // HTYPE Ethernet
        0x08, 0x00, // PTYPE IPv4
        6,    // HLEN
        4,    // PLEN
        0x00, 0x01, // OPER request
        0x02, 0, 0, 0, 0, 0x10, // SHA
        198, 51, 100, 10, // SPA
        0, 0, 0, 0, 0, 0, // THA unknown
        198, 51, 100, 20, // TPA
    ];

    #[test]
    fn request_fields() {
        let f = explain(&REQUEST, 14).unwrap();
        assert_eq!(f.len(), 9);
        assert_eq!(f[4].value.en, "1 (request)");
        assert_eq!(f[4].range, 20..22, "offset by the Ethernet header");
        assert_eq!(f[6].value.en, "198.51.100.10");
        assert_eq!(f[8].value.en, "198.51.100.20");
        assert_eq!(f[8].range.end, 14 + LEN);
    }

    #[test]
    fn short_and_unknown() {
        assert!(explain(&REQUEST[..27], 0).is_err());
        assert_eq!(oper_name(9).en, "Unknown(9)");
    }
}
