//! IPv4 header (RFC 791), 20 bytes without options.
//!
//! ```text
//!  0       4       8              16      19             31
//! +-------+-------+---------------+-------------------------+
//! |Version|  IHL  |      TOS      |       Total Length      |
//! |         Identification        |Flags|  Fragment Offset  |
//! |      TTL      |   Protocol    |     Header Checksum     |
//! |                      Source Address                     |
//! |                   Destination Address                   |
//! +---------------------------------------------------------+
//! ```

use pnet_packet::ipv4::Ipv4Packet;

use super::{bytes_text, fv, shift, WireError};
use crate::record::FieldView;
use crate::text::tx;

/// Byte ranges of the fixed header.
pub mod field {
    use std::ops::Range;
    /// Version and header length (one byte, two nibbles).
    pub const VER_IHL: Range<usize> = 0..1;
    /// Type of service / DSCP+ECN.
    pub const TOS: Range<usize> = 1..2;
    /// Total length.
    pub const LEN: Range<usize> = 2..4;
    /// Identification.
    pub const ID: Range<usize> = 4..6;
    /// Flags and fragment offset.
    pub const FLAGS_FRAG: Range<usize> = 6..8;
    /// Time to live.
    pub const TTL: Range<usize> = 8..9;
    /// Protocol of the payload.
    pub const PROTOCOL: Range<usize> = 9..10;
    /// Header checksum.
    pub const CHECKSUM: Range<usize> = 10..12;
    /// Source address.
    pub const SRC: Range<usize> = 12..16;
    /// Destination address.
    pub const DST: Range<usize> = 16..20;
}

/// Length of a header without options.
pub const MIN_LEN: usize = 20;

/// IP protocol number as a name; unknown values keep their number.
pub fn protocol_name(p: u8) -> String {
    match p {
        1 => "1 (ICMP)".into(),
        6 => "6 (TCP)".into(),
        17 => "17 (UDP)".into(),
        112 => "112 (VRRP)".into(),
        n => format!("Unknown({n})"),
    }
}

/// The header fields (offset by `at`), the header length and the payload protocol.
pub fn explain(bytes: &[u8], at: usize) -> Result<(Vec<FieldView>, usize, u8), WireError> {
    let p = Ipv4Packet::new(bytes).ok_or(WireError::TooShort {
        what: "IPv4 header",
        have: bytes.len(),
        need: MIN_LEN,
    })?;
    let ihl = p.get_header_length() as usize * 4;
    if ihl < MIN_LEN || bytes.len() < ihl {
        return Err(WireError::TooShort {
            what: "IPv4 header",
            have: bytes.len(),
            need: ihl.max(MIN_LEN),
        });
    }
    let proto = p.get_next_level_protocol().0;
    let mut f = vec![
        fv(
            "ip.ver_ihl",
            field::VER_IHL,
            tx(
                format!("v{} · {} bytes", p.get_version(), ihl),
                format!("v{} · {} 字节", p.get_version(), ihl),
            ),
            tx("version · header length", "版本 · 头部长度"),
        ),
        fv(
            "ip.tos",
            field::TOS,
            format!("0x{:02x}", (p.get_dscp() << 2) | p.get_ecn()),
            tx("DSCP/ECN", "服务类型（DSCP/ECN）"),
        ),
        fv(
            "ip.len",
            field::LEN,
            p.get_total_length().to_string(),
            tx("header + payload", "头部 + 载荷"),
        ),
        fv(
            "ip.id",
            field::ID,
            format!("0x{:04x}", p.get_identification()),
            tx("ties fragments together", "把分片连在一起"),
        ),
        fv(
            "ip.flags",
            field::FLAGS_FRAG,
            tx(
                format!(
                    "0b{:03b} · offset {}",
                    p.get_flags(),
                    p.get_fragment_offset()
                ),
                format!("0b{:03b} · 偏移 {}", p.get_flags(), p.get_fragment_offset()),
            ),
            tx("DF/MF flags, fragment offset", "DF/MF 标志，分片偏移"),
        ),
        fv(
            "ip.ttl",
            field::TTL,
            p.get_ttl().to_string(),
            tx("each router takes one off", "每个路由器减一"),
        ),
        fv(
            "ip.proto",
            field::PROTOCOL,
            protocol_name(proto),
            if proto == 1 {
                tx("ICMP: no TCP or UDP follows", "ICMP：后面没有 TCP/UDP")
            } else {
                tx("the protocol of the payload", "载荷的协议")
            },
        ),
        fv(
            "ip.checksum",
            field::CHECKSUM,
            format!("0x{:04x}", p.get_checksum()),
            tx("of this header only", "只覆盖本头部"),
        ),
        fv(
            "ip.src",
            field::SRC,
            p.get_source().to_string(),
            tx("same end to end", "端到端不变"),
        ),
        fv(
            "ip.dst",
            field::DST,
            p.get_destination().to_string(),
            tx("same end to end", "端到端不变"),
        ),
    ];
    if ihl > MIN_LEN {
        f.push(fv(
            "ip.options",
            MIN_LEN..ihl,
            bytes_text(ihl - MIN_LEN),
            tx("options", "选项"),
        ));
    }
    Ok((shift(f, at), ihl, proto))
}
