//! Ethernet II header (IEEE 802.3): 6 bytes destination, 6 source, 2 EtherType.
//!
//! ```text
//! +-------------------+-------------------+-----------+----------
//! | destination MAC 6 |   source MAC 6    | EtherType | payload …
//! +-------------------+-------------------+-----------+----------
//! ```

use pnet_packet::ethernet::{EtherTypes, EthernetPacket};

use super::{fv, WireError};
use crate::narrate::{tx, FieldView};

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
                tx(
                    "broadcast: every host on the LAN receives it",
                    "广播：局域网内每台主机都会收到",
                )
            } else {
                tx("the next hop's MAC on this link", "本链路上下一跳的 MAC")
            },
        ),
        fv(
            "eth.src",
            field::SRC,
            p.get_source().to_string(),
            tx("the sender's MAC on this link", "本链路上发送方的 MAC"),
        ),
        fv(
            "eth.type",
            field::ETHERTYPE,
            ethertype_name(t),
            if t == EtherTypes::Arp.0 {
                tx(
                    "ARP rides directly in Ethernet, not inside IP",
                    "ARP 直接装在以太网帧里，不在 IP 之内",
                )
            } else {
                tx("what the payload is", "载荷是什么协议")
            },
        ),
    ];
    Ok((fields, t))
}
