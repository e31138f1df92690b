//! DNS message byte view (RFC 1035 §4.1).
//!
//! ```text
//!  0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |                      ID                       |  bytes 0..2
//! |QR|  OPCODE   |AA|TC|RD|RA| Z|AD|CD|  RCODE    |  bytes 2..4
//! |                    QDCOUNT                    |  bytes 4..6
//! |                    ANCOUNT                    |  bytes 6..8
//! |                    NSCOUNT                    |  bytes 8..10
//! |                    ARCOUNT                    |  bytes 10..12
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! then QDCOUNT questions, then ANCOUNT + NSCOUNT + ARCOUNT resource records
//! ```
//!
//! hickory-proto decodes every part; the decoder's position before and after
//! each part gives the byte range this view underlines.

use hickory_proto::op::{Header, Query};
use hickory_proto::rr::{Name, Record};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use super::fv;
use crate::record::FieldView;
use crate::text::tx;

/// Byte ranges of the fixed header fields.
mod field {
    use std::ops::Range;
    pub const ID: Range<usize> = 0..2;
    pub const FLAGS: Range<usize> = 2..4;
    pub const QDCOUNT: Range<usize> = 4..6;
    pub const ANCOUNT: Range<usize> = 6..8;
    pub const NSCOUNT: Range<usize> = 8..10;
    pub const ARCOUNT: Range<usize> = 10..12;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = 12;

pub use super::WireError;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Explain the flags word, bit by bit.
pub fn flags_text(flags: u16) -> String {
    let qr = flags >> 15;
    let opcode = (flags >> 11) & 0xf;
    let bit = |n: u16| (flags >> n) & 1;
    format!(
        "QR={qr} OPCODE={opcode} AA={} TC={} RD={} RA={} RCODE={}",
        bit(10),
        bit(9),
        bit(8),
        bit(7),
        rcode_name(flags & 0xf)
    )
}

/// RCODE as a name; unknown codes keep their number.
pub fn rcode_name(code: u16) -> String {
    match code {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        n => format!("Unknown({n})"),
    }
}

/// One record in zone-file form: `name ttl class type data`.
pub fn record_line(r: &Record) -> String {
    format!(
        "{} {} {} {} {}",
        r.name,
        r.ttl,
        r.dns_class,
        r.record_type(),
        r.data
    )
}

/// The field table of a whole DNS message.
pub fn explain(bytes: &[u8]) -> Result<Vec<FieldView>, WireError> {
    if bytes.len() < HEADER_LEN {
        return Err(WireError::TooShort {
            what: "DNS header",
            have: bytes.len(),
            need: HEADER_LEN,
        });
    }
    let mut d = BinDecoder::new(bytes);
    let header = Header::read(&mut d).map_err(|e| WireError::Malformed {
        section: "header",
        offset: d.index(),
        reason: e.to_string(),
    })?;
    let flags = u16_at(bytes, 2);
    let qr_query = flags >> 15 == 0;
    let mut out = vec![
        fv(
            "ID",
            field::ID,
            format!("0x{:04x}", header.metadata.id),
            tx("the reply must echo it", "应答必须原样带回"),
        ),
        fv(
            "FLAGS",
            field::FLAGS,
            flags_text(flags),
            if qr_query {
                tx(
                    "QR=0: a query; RD=1: please recurse for me",
                    "QR=0：查询；RD=1：请替我递归",
                )
            } else {
                tx(
                    "QR=1: a reply; AA=1 only from an authoritative server",
                    "QR=1：应答；只有权威服务器才置 AA=1",
                )
            },
        ),
    ];
    let counts = [
        ("QDCOUNT", field::QDCOUNT, "questions", "问题数"),
        ("ANCOUNT", field::ANCOUNT, "answer records", "回答记录数"),
        ("NSCOUNT", field::NSCOUNT, "authority records", "授权记录数"),
        (
            "ARCOUNT",
            field::ARCOUNT,
            "additional records",
            "附加记录数",
        ),
    ];
    for (name, range, en, zh) in counts {
        let v = u16_at(bytes, range.start);
        out.push(fv(name, range, v.to_string(), tx(en, zh)));
    }
    for _ in 0..u16_at(bytes, 4) {
        let start = d.index();
        let q = Query::read(&mut d).map_err(|e| WireError::Malformed {
            section: "question",
            offset: start,
            reason: e.to_string(),
        })?;
        let name_end = name_end(bytes, start)?;
        out.push(fv(
            "QNAME",
            start..name_end,
            q.name().to_string(),
            tx(
                "labels, each after its length",
                "各个标签，每个前面是它的长度",
            ),
        ));
        out.push(fv(
            "QTYPE",
            name_end..name_end + 2,
            q.query_type().to_string(),
            tx("record type wanted", "想要的记录类型"),
        ));
        out.push(fv(
            "QCLASS",
            name_end + 2..name_end + 4,
            q.query_class().to_string(),
            tx("the Internet class", "互联网类"),
        ));
    }
    let sections = [
        ("AN", u16_at(bytes, 6), tx("answer", "回答"), "answer"),
        ("NS", u16_at(bytes, 8), tx("authority", "授权"), "authority"),
        (
            "AR",
            u16_at(bytes, 10),
            tx("additional", "附加"),
            "additional",
        ),
    ];
    for (tag, count, meaning, section) in sections {
        for i in 0..count {
            let start = d.index();
            let r = Record::read(&mut d).map_err(|e| WireError::Malformed {
                section,
                offset: start,
                reason: e.to_string(),
            })?;
            let value = if r.record_type() == hickory_proto::rr::RecordType::OPT {
                "OPT (EDNS0 pseudo-record)".to_string()
            } else {
                record_line(&r)
            };
            out.push(fv(
                &format!("{tag}[{i}]"),
                start..d.index(),
                value,
                meaning.clone(),
            ));
        }
    }
    if d.index() < bytes.len() {
        return Err(WireError::Trailing(bytes.len() - d.index()));
    }
    Ok(out)
}

/// Where the (possibly compressed) name starting at `start` ends.
fn name_end(bytes: &[u8], start: usize) -> Result<usize, WireError> {
    let mut d = BinDecoder::new(bytes);
    d.read_slice(start).map_err(|e| WireError::Malformed {
        section: "name",
        offset: start,
        reason: e.to_string(),
    })?;
    Name::read(&mut d).map_err(|e| WireError::Malformed {
        section: "name",
        offset: start,
        reason: e.to_string(),
    })?;
    Ok(d.index())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for www.baidu.com A, RD=0, as netlab's walker sends it.
    const QUERY: [u8; 31] = [
        0x3a, 0x7f, // ID
        0x00, 0x00, // flags: QR=0 OPCODE=0 RD=0
        0x00, 0x01, // QDCOUNT 1
        0x00, 0x00, // ANCOUNT
        0x00, 0x00, // NSCOUNT
        0x00, 0x00, // ARCOUNT
        3, b'w', b'w', b'w', // label "www"
        5, b'b', b'a', b'i', b'd', b'u', // label "baidu"
        3, b'c', b'o', b'm', // label "com"
        0,    // root
        0x00, 0x01, // QTYPE A
        0x00, 0x01, // QCLASS IN
    ];

    #[test]
    fn query_fields_cover_every_byte() {
        let f = explain(&QUERY).unwrap();
        let names: Vec<_> = f.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ID", "FLAGS", "QDCOUNT", "ANCOUNT", "NSCOUNT", "ARCOUNT", "QNAME", "QTYPE",
                "QCLASS"
            ]
        );
        assert_eq!(f[0].value.en, "0x3a7f");
        assert_eq!(f[6].range, 12..27);
        assert_eq!(f[6].value.en, "www.baidu.com.");
        assert_eq!(f[7].value.en, "A");
        assert_eq!(f.last().unwrap().range.end, QUERY.len());
        assert!(f[1].value.en.contains("RD=0"));
    }

    #[test]
    fn too_short_is_an_error_not_a_panic() {
        assert_eq!(
            explain(&QUERY[..5]),
            Err(WireError::TooShort {
                what: "DNS header",
                have: 5,
                need: 12
            })
        );
        assert!(matches!(
            explain(&QUERY[..20]),
            Err(WireError::Malformed { .. })
        ));
    }

    #[test]
    fn trailing_bytes_are_reported() {
        let mut long = QUERY.to_vec();
        long.extend_from_slice(&[0, 0]);
        assert_eq!(explain(&long), Err(WireError::Trailing(2)));
    }

    #[test]
    fn unknown_rcode_keeps_its_number() {
        assert_eq!(rcode_name(3), "NXDOMAIN");
        assert_eq!(rcode_name(11), "Unknown(11)");
    }
}
