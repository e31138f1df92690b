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

use super::{bytes_text, fv, shift, WireError};
use crate::narrate::{tx, FieldView, Text};

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
    if bytes.len() < ECHO_HEADER_LEN {
        return Err(WireError::TooShort {
            what: "ICMP header",
            have: bytes.len(),
            need: ECHO_HEADER_LEN,
        });
    }
    let t = bytes[0];
    let u16_at =
        |r: std::ops::Range<usize>| u16::from_be_bytes([bytes[r.start], bytes[r.start + 1]]);
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
            bytes[1].to_string(),
            tx("sub-type; 0 for echo", "子类型；回显为 0"),
        ),
        fv(
            "icmp.checksum",
            field::CHECKSUM,
            format!("0x{:04x}", u16_at(field::CHECKSUM)),
            tx("over the whole ICMP message", "覆盖整个 ICMP 报文"),
        ),
    ];
    if t == 0 || t == 8 {
        f.push(fv(
            "icmp.id",
            field::IDENT,
            format!("0x{:04x}", u16_at(field::IDENT)),
            tx("which ping process", "哪个 ping 进程"),
        ));
        f.push(fv(
            "icmp.seq",
            field::SEQ,
            u16_at(field::SEQ).to_string(),
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

/// The Internet checksum (RFC 1071) of `bytes`.
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request: type 8, code 0, identifier, sequence, payload; checksum filled in.
pub fn echo_request(ident: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![8, 0, 0, 0];
    m.extend_from_slice(&ident.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(payload);
    let c = checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request_checksums_to_zero() {
        let m = echo_request(0x1234, 7, b"netlab!!");
        assert_eq!(checksum(&m), 0, "a correct checksum sums to zero");
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
        assert_eq!(type_name(42).en, "Unknown(42)");
    }
}
