//! TCP header (RFC 9293), 20 bytes plus options.
//!
//! ```text
//!  0               16              31
//! +---------------+---------------+
//! |  Source Port  |   Dest Port   |
//! |        Sequence Number        |
//! |     Acknowledgment Number     |
//! |Off|Rsv| Flags |    Window     |
//! |   Checksum    |  Urgent Ptr   |
//! |   Options …                   |
//! ```

use pnet_packet::tcp::{TcpOptionNumbers, TcpPacket};
use pnet_packet::Packet as _;

use super::{bytes_text, fv, shift, WireError};
use crate::record::FieldView;
use crate::text::tx;

/// Byte ranges of the fixed header.
pub mod field {
    use std::ops::Range;
    /// Source port.
    pub const SRC_PORT: Range<usize> = 0..2;
    /// Destination port.
    pub const DST_PORT: Range<usize> = 2..4;
    /// Sequence number.
    pub const SEQ: Range<usize> = 4..8;
    /// Acknowledgement number.
    pub const ACK: Range<usize> = 8..12;
    /// Data offset and flags.
    pub const OFF_FLAGS: Range<usize> = 12..14;
    /// Receive window.
    pub const WINDOW: Range<usize> = 14..16;
    /// Checksum.
    pub const CHECKSUM: Range<usize> = 16..18;
    /// Urgent pointer.
    pub const URGENT: Range<usize> = 18..20;
}

/// Length of the fixed header.
pub const MIN_LEN: usize = 20;

/// The decoded header values netlab reasons about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flag bits (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20).
    pub flags: u8,
    /// Window.
    pub window: u16,
    /// Header length in bytes.
    pub header_len: usize,
}

/// The window-scale shift a SYN offers (option kind 3, RFC 7323), from the
/// TCP header's bytes; `None` when the segment carries no such option.
pub fn window_scale(tcp: &[u8]) -> Option<u8> {
    let hlen = usize::from(*tcp.get(12)? >> 4) * 4;
    if hlen < MIN_LEN {
        return None;
    }
    // Only the header, so no option can run into the payload.
    let p = TcpPacket::new(tcp.get(..hlen)?)?;
    p.get_options_iter()
        .take_while(|o| o.get_number() != TcpOptionNumbers::EOL)
        .find(|o| o.get_number() == TcpOptionNumbers::WSCALE)
        .and_then(|o| o.payload().first().copied())
}

/// Flags as text: "SYN,ACK".
pub fn flags_text(f: u8) -> String {
    let names = [
        (0x02, "SYN"),
        (0x10, "ACK"),
        (0x08, "PSH"),
        (0x01, "FIN"),
        (0x04, "RST"),
        (0x20, "URG"),
    ];
    let v: Vec<&str> = names
        .iter()
        .filter(|(b, _)| f & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(",")
    }
}

/// Decode the fixed header.
pub fn header(b: &[u8]) -> Result<Header, WireError> {
    if b.len() < MIN_LEN {
        return Err(WireError::TooShort {
            what: "TCP header",
            have: b.len(),
            need: MIN_LEN,
        });
    }
    let header_len = usize::from(b[12] >> 4) * 4;
    if header_len < MIN_LEN || b.len() < header_len {
        return Err(WireError::TooShort {
            what: "TCP header",
            have: b.len(),
            need: header_len.max(MIN_LEN),
        });
    }
    let p = TcpPacket::new(b).ok_or(WireError::TooShort {
        what: "TCP header",
        have: b.len(),
        need: MIN_LEN,
    })?;
    Ok(Header {
        src_port: p.get_source(),
        dst_port: p.get_destination(),
        seq: p.get_sequence(),
        ack: p.get_acknowledgement(),
        flags: p.get_flags(),
        window: p.get_window(),
        header_len,
    })
}

/// The header fields (offset by `at`).
pub fn explain(b: &[u8], at: usize) -> Result<Vec<FieldView>, WireError> {
    let h = header(b)?;
    // header() checked the length: 20 bytes at least.
    let (checksum, urgent) =
        TcpPacket::new(b).map_or((0, 0), |p| (p.get_checksum(), p.get_urgent_ptr()));
    let mut f = vec![
        fv(
            "tcp.srcport",
            field::SRC_PORT,
            h.src_port.to_string(),
            tx("which socket sent it", "源端口：哪个套接字发出的"),
        ),
        fv(
            "tcp.dstport",
            field::DST_PORT,
            h.dst_port.to_string(),
            tx("which socket gets it", "目的端口：交给哪个套接字"),
        ),
        fv(
            "tcp.seq",
            field::SEQ,
            h.seq.to_string(),
            tx("first byte's number", "首字节的序号"),
        ),
        fv(
            "tcp.ack",
            field::ACK,
            h.ack.to_string(),
            tx("next byte expected", "期望的下一个字节"),
        ),
        fv(
            "tcp.flags",
            field::OFF_FLAGS,
            tx(
                format!("header {} bytes · {}", h.header_len, flags_text(h.flags)),
                format!("头部 {} 字节 · {}", h.header_len, flags_text(h.flags)),
            ),
            tx("length, flags", "头部长度和标志"),
        ),
        fv(
            "tcp.window",
            field::WINDOW,
            h.window.to_string(),
            tx("bytes it can still take", "还能接收的字节数"),
        ),
        fv(
            "tcp.checksum",
            field::CHECKSUM,
            format!("0x{checksum:04x}"),
            tx("header, data, pseudo-header", "头部、数据、伪首部"),
        ),
        fv(
            "tcp.urgent",
            field::URGENT,
            urgent.to_string(),
            tx("urgent pointer (unused)", "紧急指针（不用）"),
        ),
    ];
    if h.header_len > MIN_LEN {
        f.push(fv(
            "tcp.options",
            MIN_LEN..h.header_len,
            bytes_text(h.header_len - MIN_LEN),
            tx("MSS, window scale, SACK, …", "MSS、窗口扩大、SACK 等"),
        ));
    }
    if b.len() > h.header_len {
        f.push(fv(
            "tcp.payload",
            h.header_len..b.len(),
            bytes_text(b.len() - h.header_len),
            tx("data", "数据"),
        ));
    }
    Ok(shift(f, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_scale_is_read_from_the_options() {
        // 20-byte header (data offset 8 → 32 bytes), then options:
        let mut h = vec![0u8; 20];
        h[12] = 8 << 4;
        h.extend_from_slice(&[
            0x02, 0x04, 0x05, 0xb4, // MSS 1460
            0x01, // NOP
            0x03, 0x03, 0x07, // window scale: shift 7
            0x04, 0x02, // SACK permitted
            0x00, 0x00, // end of options, padding
        ]);
        assert_eq!(window_scale(&h), Some(7));
        h[25] = 0x00; // the window-scale kind byte now ends the list
        assert_eq!(window_scale(&h), None);
        assert_eq!(window_scale(&h[..10]), None, "too short");
    }

    /// A SYN from port 40000 to 9000, seq 1000, window 64240, no options.
    const SYN: [u8; 20] = [
        0x9c, 0x40, // source port 40000
        0x23, 0x28, // destination port 9000
        0, 0, 0x03, 0xe8, // seq 1000
        0, 0, 0, 0, // ack 0
        0x50, 0x02, // offset 5 (20 bytes), flags SYN
        0xfa, 0xf0, // window 64240
        0, 0, // checksum
        0, 0, // urgent
    ];

    #[test]
    fn syn_header() {
        let h = header(&SYN).unwrap();
        assert_eq!(
            (h.src_port, h.dst_port, h.seq, h.flags, h.window),
            (40000, 9000, 1000, 0x02, 64240)
        );
        assert_eq!(flags_text(0x12), "SYN,ACK");
        assert_eq!(flags_text(0x11), "ACK,FIN");
        let f = explain(&SYN, 34).unwrap();
        assert_eq!(f[4].value.en, "header 20 bytes · SYN");
        assert_eq!(f[4].range, 46..48);
    }

    #[test]
    fn short_or_bad_offset() {
        assert!(header(&SYN[..19]).is_err());
        let mut bad = SYN;
        bad[12] = 0x30; // offset 12 bytes: less than the fixed header
        assert!(header(&bad).is_err());
        let mut past = SYN;
        past[12] = 0xf0; // offset 60 bytes: more than there is
        assert!(header(&past).is_err());
        assert_eq!(
            window_scale(&past),
            None,
            "options past the end are not read"
        );
        // A segment with 2000 bytes of payload: the payload is one field.
        let mut long = SYN.to_vec();
        long.extend_from_slice(&[0xab; 2000]);
        let f = explain(&long, 0).unwrap();
        assert_eq!(f.last().unwrap().range, 20..2020);
    }
}
