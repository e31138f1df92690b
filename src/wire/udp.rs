//! UDP header (RFC 768): four 16-bit fields, then the datagram.
//!
//! ```text
//! +-------------+-------------+
//! | Source Port |  Dest Port  |
//! |   Length    |  Checksum   |
//! +-------------+-------------+
//! ```

use pnet_packet::udp::UdpPacket;

use super::{bytes_text, fv, shift, WireError};
use crate::record::FieldView;
use crate::text::tx;

/// Byte ranges of the header.
pub mod field {
    use std::ops::Range;
    /// Source port.
    pub const SRC_PORT: Range<usize> = 0..2;
    /// Destination port.
    pub const DST_PORT: Range<usize> = 2..4;
    /// Length of header and data.
    pub const LENGTH: Range<usize> = 4..6;
    /// Checksum.
    pub const CHECKSUM: Range<usize> = 6..8;
}

/// Header length.
pub const LEN: usize = 8;

/// The header fields (offset by `at`), and the ports.
pub fn explain(b: &[u8], at: usize) -> Result<(Vec<FieldView>, u16, u16), WireError> {
    let p = UdpPacket::new(b).ok_or(WireError::TooShort {
        what: "UDP header",
        have: b.len(),
        need: LEN,
    })?;
    let (sp, dp) = (p.get_source(), p.get_destination());
    let mut f = vec![
        fv(
            "udp.srcport",
            field::SRC_PORT,
            sp.to_string(),
            tx("source port", "源端口"),
        ),
        fv(
            "udp.dstport",
            field::DST_PORT,
            dp.to_string(),
            tx("destination port", "目的端口"),
        ),
        fv(
            "udp.length",
            field::LENGTH,
            p.get_length().to_string(),
            tx("the boundary travels with it", "边界随报文一起传送"),
        ),
        fv(
            "udp.checksum",
            field::CHECKSUM,
            format!("0x{:04x}", p.get_checksum()),
            tx("checksum (UDP has one too)", "校验和（UDP 也有）"),
        ),
    ];
    if b.len() > LEN {
        f.push(fv(
            "udp.payload",
            LEN..b.len(),
            bytes_text(b.len() - LEN),
            tx("data: one whole message", "数据：一条完整的消息"),
        ));
    }
    Ok((shift(f, at), sp, dp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagram() {
        let d = [
            0x9c, 0x40, // source port 40000
            0x23, 0x28, // destination port 9000
            0, 11, // length: 8 + 3
            0, 0, // checksum (none)
            b'o', b'n', b'e', // data
        ];
        let (f, sp, dp) = explain(&d, 34).unwrap();
        assert_eq!((sp, dp), (40000, 9000));
        assert_eq!(f[2].value.en, "11");
        assert_eq!(f[4].range, 42..45);
        assert!(explain(&d[..7], 0).is_err(), "too short for the header");
        // Longer than its length field says: the rest is shown as data, no panic.
        let mut long = d.to_vec();
        long.extend_from_slice(&[0xee; 2000]);
        let (f, _, _) = explain(&long, 0).unwrap();
        assert_eq!(f[2].value.en, "11", "the field as sent");
        assert_eq!(f.last().unwrap().range, 8..long.len());
    }
}
