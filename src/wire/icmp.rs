//! ICMP echo request and reply (RFC 792), the messages of ping.
//!
//! ```text
//! +--------+--------+-----------------+
//! |  Type  |  Code  |    Checksum     |
//! +--------+--------+-----------------+
//! |   Identifier    | Sequence Number |
//! +-----------------+-----------------+
//! |  Data …                           |
//! ```

use pnet_packet::icmp::echo_request::MutableEchoRequestPacket;
use pnet_packet::icmp::{IcmpCode, IcmpPacket, IcmpTypes};

use super::{bytes_text, fv, shift, WireError};
use crate::record::FieldView;
use crate::text::{tx, Text};

/// Byte ranges inside the ICMP message.
pub mod field {
    use std::ops::Range;
    /// Type.
    pub const TYPE: Range<usize> = 0..1;
    /// Code.
    pub const CODE: Range<usize> = 1..2;
    /// Checksum.
    pub const CHECKSUM: Range<usize> = 2..4;
    /// Identifier (echo).
    pub const IDENT: Range<usize> = 4..6;
    /// Sequence number (echo).
    pub const SEQ: Range<usize> = 6..8;
}

/// Length of the echo header.
pub const ECHO_HEADER_LEN: usize = 8;

/// ICMP type as a name; unknown values keep their number.
pub fn type_name(t: u8) -> Text {
    match t {
        0 => tx("0 (echo reply)", "0（回显应答）"),
        3 => tx("3 (destination unreachable)", "3（目的不可达）"),
        8 => tx("8 (echo request)", "8（回显请求）"),
        11 => tx("11 (time exceeded)", "11（超时）"),
        n => Text::from(format!("Unknown({n})")),
    }
}

/// The ICMP fields (offset by `at`).
pub fn explain(bytes: &[u8], at: usize) -> Result<Vec<FieldView>, WireError> {
    let too_short = WireError::TooShort {
        what: "ICMP header",
        have: bytes.len(),
        need: ECHO_HEADER_LEN,
    };
    if bytes.len() < ECHO_HEADER_LEN {
        return Err(too_short);
    }
    let p = IcmpPacket::new(bytes).ok_or(too_short)?;
    let t = p.get_icmp_type().0;
    // Identifier and sequence: the first four bytes after the checksum (echo).
    let rest = |i: usize| u16::from_be_bytes([bytes[4 + i], bytes[5 + i]]);
    let mut f = vec![
        fv(
            "icmp.type",
            field::TYPE,
            type_name(t),
            tx("8 request, 0 reply", "8 请求，0 应答"),
        ),
        fv(
            "icmp.code",
            field::CODE,
            p.get_icmp_code().0.to_string(),
            tx("sub-type; 0 for echo", "子类型；回显为 0"),
        ),
        fv(
            "icmp.checksum",
            field::CHECKSUM,
            format!("0x{:04x}", p.get_checksum()),
            tx("over the whole ICMP message", "覆盖整个 ICMP 报文"),
        ),
    ];
    if t == 0 || t == 8 {
        f.push(fv(
            "icmp.id",
            field::IDENT,
            format!("0x{:04x}", rest(0)),
            tx("which ping process", "哪个 ping 进程"),
        ));
        f.push(fv(
            "icmp.seq",
            field::SEQ,
            rest(2).to_string(),
            tx("pairs reply with request", "把应答与请求配对"),
        ));
        if bytes.len() > ECHO_HEADER_LEN {
            f.push(fv(
                "icmp.data",
                ECHO_HEADER_LEN..bytes.len(),
                bytes_text(bytes.len() - ECHO_HEADER_LEN),
                tx("echoed back unchanged", "原样回显"),
            ));
        }
    } else if bytes.len() > 4 {
        f.push(fv(
            "icmp.rest",
            4..bytes.len(),
            bytes_text(bytes.len() - 4),
            tx("rest of the message", "报文其余部分"),
        ));
    }
    Ok(shift(f, at))
}

/// An echo request: type 8, code 0, identifier, sequence, payload; checksum
/// filled in (pnet_packet builds it and computes the RFC 1071 checksum).
pub fn echo_request(ident: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![0u8; ECHO_HEADER_LEN + payload.len()];
    if let Some(mut e) = MutableEchoRequestPacket::new(&mut m) {
        e.set_icmp_type(IcmpTypes::EchoRequest);
        e.set_icmp_code(IcmpCode(0));
        e.set_identifier(ident);
        e.set_sequence_number(seq);
        e.set_payload(payload);
    }
    let sum = IcmpPacket::new(&m).map_or(0, |p| pnet_packet::icmp::checksum(&p));
    m[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo request as iputils sends it: id 0x1234, seq 7, 8 bytes of data.
    const REQUEST: [u8; 16] = [
        8, 0, // type 8 (echo request), code 0
        0x80, 0x6f, // checksum (RFC 1071, worked out by hand)
        0x12, 0x34, // identifier
        0x00, 0x07, // sequence number
        b'n', b'e', b't', b'l', b'a', b'b', b'!', b'!', // data
    ];

    #[test]
    fn built_and_parsed_agree_with_the_bytes() {
        let m = echo_request(0x1234, 7, b"netlab!!");
        assert_eq!(m, REQUEST, "pnet builds exactly these bytes");
        let p = IcmpPacket::new(&m).unwrap();
        assert_eq!(
            pnet_packet::icmp::checksum(&p),
            p.get_checksum(),
            "the checksum verifies"
        );
        let e = pnet_packet::icmp::echo_request::EchoRequestPacket::new(&m).unwrap();
        assert_eq!((e.get_identifier(), e.get_sequence_number()), (0x1234, 7));
        let f = explain(&m, 20).unwrap();
        assert_eq!(f[0].value.en, "8 (echo request)");
        assert_eq!(f[3].value.en, "0x1234");
        assert_eq!(f[4].value.en, "7");
        assert_eq!(f[4].range, 26..28);
        assert_eq!(f[5].range.end, 20 + m.len());
    }

    #[test]
    fn short_and_unknown() {
        assert!(explain(&[8, 0, 0], 0).is_err());
        assert!(
            explain(&REQUEST[..7], 0).is_err(),
            "one byte short of the echo header"
        );
        // Too long: trailing bytes are data, never a panic.
        let mut long = REQUEST.to_vec();
        long.extend_from_slice(&[0u8; 1000]);
        let f = explain(&long, 0).unwrap();
        assert_eq!(f.last().unwrap().range, 8..long.len());
        assert_eq!(type_name(42).en, "Unknown(42)");
    }
}
