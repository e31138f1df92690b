//! netlab's own RPC frame (`netlab rpc`), carried over TCP.
//!
//! A call and its answer are each one frame: a 4-byte length first (what
//! tokio-util's `LengthDelimitedCodec` writes and reads), then the request id
//! that matches a reply to its call, what kind of message it is, the method
//! name, and the arguments or result as JSON. A reply carries no method
//! (length 0): its id alone says which call it answers.
//!
//! ```text
//!  0               4       5               9       10
//! +---------------+-------+---------------+-------+------------+-----------+
//! |    length     | kind  |  request id   | mlen  | method …   | JSON …    |
//! |  (u32, BE)    | 0/1/2 |  (u32, BE)    |       | mlen bytes | to the end|
//! +---------------+-------+---------------+-------+------------+-----------+
//! ```
//!
//! `length` counts everything after itself. The kind comes before the id so
//! that no common dissector takes the frame for its own: with the id right
//! after the length, Wireshark's SMPP heuristic read ids 1 to 9 as SMPP
//! commands and marked every frame malformed. This module builds and parses
//! the frame and explains its bytes; sending it is the engine's (src/rpc).

use std::ops::Range;

use super::{bytes_text, fv, shift, WireError};
use crate::record::FieldView;
use crate::text::{tx, Text};

/// Byte ranges of the fixed part, counted from the length prefix.
pub mod field {
    use std::ops::Range;
    /// Bytes that follow the length prefix.
    pub const LENGTH: Range<usize> = 0..4;
    /// Request, reply or error.
    pub const KIND: usize = 4;
    /// Request id: a reply repeats its call's.
    pub const ID: Range<usize> = 5..9;
    /// Length of the method name.
    pub const METHOD_LEN: usize = 9;
}

/// The length prefix's size.
pub const PREFIX: usize = 4;
/// The fixed part: length, id, kind, method length.
pub const HEADER: usize = 10;

/// What a frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A call (0).
    Request,
    /// The result of a call (1).
    Reply,
    /// A call that failed (2).
    Error,
    /// Any other value, kept as it was.
    Unknown(u8),
}

impl Kind {
    /// The byte on the wire.
    pub fn byte(self) -> u8 {
        match self {
            Kind::Request => 0,
            Kind::Reply => 1,
            Kind::Error => 2,
            Kind::Unknown(b) => b,
        }
    }

    /// The kind a byte names.
    pub fn of(b: u8) -> Kind {
        match b {
            0 => Kind::Request,
            1 => Kind::Reply,
            2 => Kind::Error,
            b => Kind::Unknown(b),
        }
    }

    fn name(self) -> Text {
        match self {
            Kind::Request => tx("0 = request", "0 = 请求"),
            Kind::Reply => tx("1 = reply", "1 = 应答"),
            Kind::Error => tx("2 = error", "2 = 错误"),
            Kind::Unknown(b) => tx(format!("Unknown({b})"), format!("未知（{b}）")),
        }
    }
}

/// One frame, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Request id.
    pub id: u32,
    /// Request, reply or error.
    pub kind: Kind,
    /// The method called (empty in a reply).
    pub method: String,
    /// Arguments (request) or result (reply), JSON.
    pub body: Vec<u8>,
}

impl Message {
    /// The frame without its length prefix: what `LengthDelimitedCodec` is given.
    pub fn encode(&self) -> Vec<u8> {
        let m = self.method.as_bytes();
        let mlen = m.len().min(255);
        let mut out = Vec::with_capacity(HEADER - PREFIX + mlen + self.body.len());
        out.push(self.kind.byte());
        out.extend_from_slice(&self.id.to_be_bytes());
        out.push(mlen as u8);
        out.extend_from_slice(&m[..mlen]);
        out.extend_from_slice(&self.body);
        out
    }

    /// The whole frame, length prefix included: the bytes on the wire.
    pub fn to_wire(&self) -> Vec<u8> {
        let body = self.encode();
        let mut out = (body.len() as u32).to_be_bytes().to_vec();
        out.extend(body);
        out
    }

    /// Decode a frame without its length prefix (what the codec hands over).
    pub fn decode(b: &[u8]) -> Result<Message, WireError> {
        let need = HEADER - PREFIX;
        if b.len() < need {
            return Err(WireError::TooShort {
                what: "netlab RPC frame",
                have: b.len(),
                need,
            });
        }
        let mlen = usize::from(b[5]);
        if b.len() < need + mlen {
            return Err(WireError::TooShort {
                what: "netlab RPC method name",
                have: b.len(),
                need: need + mlen,
            });
        }
        let method = std::str::from_utf8(&b[need..need + mlen])
            .map_err(|e| WireError::Malformed {
                section: "method name",
                offset: need,
                reason: e.to_string(),
            })?
            .to_string();
        Ok(Message {
            id: u32::from_be_bytes([b[1], b[2], b[3], b[4]]),
            kind: Kind::of(b[0]),
            method,
            body: b[need + mlen..].to_vec(),
        })
    }
}

/// The frames in a stretch of a TCP byte stream: each whole frame's range
/// (length prefix included) and what it decodes to. Stops at the first
/// frame that is not all there.
pub fn frames(stream: &[u8]) -> Vec<(Range<usize>, Result<Message, WireError>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while stream.len() - at >= PREFIX {
        let len = u32::from_be_bytes([stream[at], stream[at + 1], stream[at + 2], stream[at + 3]])
            as usize;
        let end = at + PREFIX + len;
        if end > stream.len() {
            break;
        }
        out.push((at..end, Message::decode(&stream[at + PREFIX..end])));
        at = end;
    }
    out
}

/// The field table of one whole frame (`b` starts at its length prefix),
/// offset by `at`.
pub fn explain(b: &[u8], at: usize) -> Result<Vec<FieldView>, WireError> {
    if b.len() < PREFIX {
        return Err(WireError::TooShort {
            what: "netlab RPC length",
            have: b.len(),
            need: PREFIX,
        });
    }
    let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    if b.len() != PREFIX + len {
        return Err(WireError::Malformed {
            section: "netlab RPC frame",
            offset: 0,
            reason: format!(
                "the length prefix says {len} bytes follow, {} do",
                b.len() - PREFIX
            ),
        });
    }
    let m = Message::decode(&b[PREFIX..])?;
    let mlen = m.method.len();
    let mut f = vec![
        fv(
            "rpc.length",
            field::LENGTH,
            bytes_text(len),
            tx("where this message ends", "这条消息在哪里结束"),
        ),
        fv(
            "rpc.kind",
            field::KIND..field::KIND + 1,
            m.kind.name(),
            tx("request, reply or error", "请求、应答还是错误"),
        ),
        fv(
            "rpc.id",
            field::ID,
            m.id.to_string(),
            tx("the reply repeats it", "应答原样带回"),
        ),
        fv(
            "rpc.method_len",
            field::METHOD_LEN..field::METHOD_LEN + 1,
            mlen.to_string(),
            if mlen == 0 {
                tx("none: a reply has only its id", "0：应答只靠编号")
            } else {
                tx("length of the method name", "方法名的长度")
            },
        ),
    ];
    if mlen > 0 {
        f.push(fv(
            "rpc.method",
            HEADER..HEADER + mlen,
            m.method.clone(),
            tx("the procedure to run", "要执行的过程"),
        ));
    }
    if !m.body.is_empty() {
        f.push(fv(
            "rpc.body",
            HEADER + mlen..b.len(),
            String::from_utf8_lossy(&m.body).into_owned(),
            match m.kind {
                Kind::Request => tx("arguments, JSON", "参数，JSON"),
                _ => tx("result, JSON", "结果，JSON"),
            },
        ));
    }
    Ok(shift(f, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// get_balance {"account":"alice"}, request id 2.
    fn call() -> Vec<u8> {
        let mut b = vec![0, 0, 0, 36]; // length: 36 bytes follow
        b.push(0); // kind: request
        b.extend_from_slice(&[0, 0, 0, 2]); // request id 2
        b.push(11); // method name: 11 bytes
        b.extend_from_slice(b"get_balance");
        b.extend_from_slice(br#"{"account":"alice"}"#); // 19 bytes of JSON
        b
    }

    #[test]
    fn a_call_is_explained_field_by_field() {
        let b = call();
        assert_eq!(b.len(), 4 + 36);
        let f = explain(&b, 100).unwrap();
        let names: Vec<&str> = f.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "rpc.length",
                "rpc.kind",
                "rpc.id",
                "rpc.method_len",
                "rpc.method",
                "rpc.body"
            ]
        );
        assert_eq!(f[2].value.en, "2");
        assert_eq!(f[2].range, 105..109);
        assert_eq!(f[4].value.en, "get_balance");
        assert_eq!(f[4].range, 110..121);
        assert_eq!(f[5].range, 121..140);
        assert_eq!(f[1].value.en, "0 = request");
    }

    #[test]
    fn encode_and_decode_agree() {
        let m = Message {
            id: 2,
            kind: Kind::Request,
            method: "get_balance".into(),
            body: br#"{"account":"alice"}"#.to_vec(),
        };
        assert_eq!(m.to_wire(), call());
        assert_eq!(Message::decode(&call()[4..]).unwrap(), m);
        let reply = Message {
            id: 2,
            kind: Kind::Reply,
            method: String::new(),
            body: b"{}".to_vec(),
        };
        // A reply: no method, so the method length is 0.
        assert_eq!(reply.to_wire(), [0, 0, 0, 8, 1, 0, 0, 0, 2, 0, b'{', b'}']);
        assert_eq!(Kind::of(7), Kind::Unknown(7), "an unknown kind is kept");
    }

    #[test]
    fn a_stream_splits_into_whole_frames() {
        let mut s = call();
        s.extend(call());
        s.extend_from_slice(&[0, 0, 0, 9, 0]); // a third frame, cut short
        let got = frames(&s);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].0, 40..80);
        assert!(got.iter().all(|(_, m)| m.as_ref().unwrap().id == 2));
    }

    #[test]
    fn short_or_inconsistent_frames_are_errors() {
        assert!(explain(&[0, 0], 0).is_err());
        let mut b = call();
        b.push(0); // one byte more than the length says
        assert!(explain(&b, 0).is_err());
        assert!(Message::decode(&[0, 0, 0, 0, 1]).is_err(), "too short");
        // The method length runs past the end.
        assert!(Message::decode(&[0, 0, 0, 1, 0, 9, b'a']).is_err());
    }
}
