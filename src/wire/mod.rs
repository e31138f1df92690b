//! Packets explained from their own bytes.
//!
//! One file per protocol. Each turns the bytes netlab sent, received or
//! captured into a table of fields (name, byte range, decoded value, meaning)
//! for the byte view, with smoltcp-style `field` ranges. Parsing is done by the
//! protocol libraries (hickory-proto for DNS, pnet_packet for Ethernet, ARP,
//! IPv4, ICMP, UDP and TCP, checksums included; VRRP's checksum too);
//! this module owns only the explanation. [`frame`] walks a whole frame;
//! [`segments`] joins a TCP connection's segments into its byte stream, over
//! which [`rpc`] (netlab's own RPC frame) and [`http2`] (HTTP/2 and gRPC,
//! HPACK decoded by loona-hpack, protobuf by prost) are explained.

pub mod arp;
pub mod build;
pub mod dns;
pub mod ethernet;
pub mod frame;
pub mod http2;
pub mod icmp;
pub mod ipv4;
pub mod rpc;
pub mod segments;
pub mod tcp;
pub mod udp;
pub mod vrrp;

use std::ops::Range;

use crate::record::FieldView;
use crate::text::Text;

/// Why bytes could not be explained.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes than the header needs.
    #[error("too short for {what}: {have} bytes, need {need}")]
    TooShort {
        /// Which header.
        what: &'static str,
        /// Bytes there.
        have: usize,
        /// Bytes needed.
        need: usize,
    },
    /// A part could not be decoded.
    #[error("malformed {section} at byte {offset}: {reason}")]
    Malformed {
        /// Which part.
        section: &'static str,
        /// Where decoding stopped.
        offset: usize,
        /// The decoder's complaint.
        reason: String,
    },
    /// Bytes left over after the last part the header announced.
    #[error("{0} trailing bytes after the last record")]
    Trailing(usize),
}

pub(crate) fn fv(
    name: &str,
    range: Range<usize>,
    value: impl Into<Text>,
    meaning: Text,
) -> FieldView {
    FieldView {
        name: name.to_string(),
        range,
        value: value.into(),
        meaning,
    }
}

/// "56 bytes" in each language.
pub(crate) fn bytes_text(n: usize) -> Text {
    crate::text::tx(format!("{n} bytes"), format!("{n} 字节"))
}

/// Move field ranges by `at` bytes (a header inside a larger frame).
pub(crate) fn shift(mut fields: Vec<FieldView>, at: usize) -> Vec<FieldView> {
    for f in &mut fields {
        f.range = f.range.start + at..f.range.end + at;
    }
    fields
}
