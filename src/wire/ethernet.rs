//! Ethernet II header (IEEE 802.3): 6 bytes destination, 6 source, 2 EtherType.
//!
//! ```text
//! +-------------------+-------------------+-----------+----------
//! | destination MAC 6 |   source MAC 6    | EtherType | payload …
//! +-------------------+-------------------+-----------+----------
//! ```

use pnet_packet::ethernet::{EtherTypes, EthernetPacket};

use super::{fv, WireError};
use crate::record::FieldView;
use crate::text::tx;

/// Byte ranges of the header fields.
pub mod field {
    use std::ops::Range;
    /// Destination MAC.
    pub const DST: Range<usize> = 0..6;
    /// Source MAC.
    pub const SRC: Range<usize> = 6..12;
    /// EtherType.
    pub const ETHERTYPE: Range<usize> = 12..14;
}

/// Length of the header.
pub const HEADER_LEN: usize = 14;

/// EtherType as a name; unknown values keep their number.
pub fn ethertype_name(t: u16) -> String {
    match t {
        0x0800 => "IPv4 (0x0800)".into(),
        0x0806 => "ARP (0x0806)".into(),
        0x8035 => "RARP (0x8035)".into(),
        0x86dd => "IPv6 (0x86dd)".into(),
        n => format!("Unknown(0x{n:04x})"),
    }
}

/// The header's fields, and the EtherType that says what follows.
pub fn explain(bytes: &[u8]) -> Result<(Vec<FieldView>, u16), WireError> {
    let p = EthernetPacket::new(bytes).ok_or(WireError::TooShort {
        what: "Ethernet header",
        have: bytes.len(),
        need: HEADER_LEN,
    })?;
    let dst = p.get_destination();
    let t = p.get_ethertype().0;
    let fields = vec![
        fv(
            "eth.dst",
            field::DST,
            dst.to_string(),
            if dst.is_broadcast() {
                tx("broadcast: the whole LAN", "广播：整个局域网")
            } else {
                tx("next hop on this link", "本链路的下一跳")
            },
        ),
        fv(
            "eth.src",
            field::SRC,
            p.get_source().to_string(),
            tx("sender on this link", "本链路的发送方"),
        ),
        fv(
            "eth.type",
            field::ETHERTYPE,
            ethertype_name(t),
            if t == EtherTypes::Arp.0 {
                tx("ARP sits in Ethernet, not IP", "ARP 在以太网里，不在 IP 里")
            } else {
                tx("what the payload is", "载荷是什么协议")
            },
        ),
    ];
    Ok((fields, t))
}
