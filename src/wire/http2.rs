//! HTTP/2 frames (RFC 9113) and gRPC's length-prefixed messages, from the
//! bytes of one direction of a connection.
//!
//! ```text
//! +-----------------------------------------------+
//! |                 Length (24)                   |
//! +---------------+---------------+---------------+
//! |   Type (8)    |   Flags (8)   |
//! +-+-------------+---------------+-------------------------------+
//! |R|                 Stream Identifier (31)                      |
//! +=+=============================================================+
//! |                   Frame Payload (0...)                      ...
//! +---------------------------------------------------------------+
//! ```
//!
//! A client opens with the 24-byte preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`,
//! then frames follow on both sides. A HEADERS frame's payload is an HPACK
//! block (RFC 7541): each header is one representation, found here by its
//! first bits and lengths and decoded by loona-hpack (the decoder keeps the
//! dynamic table, so one [`Reader`] reads one direction from its start). A
//! gRPC message inside DATA (the gRPC over HTTP/2 spec) is
//!
//! ```text
//! +------------+---------------------+-----------------------+
//! | compressed |  length (u32, BE)   |  protobuf message …   |
//! |   1 byte   |      4 bytes        |  length bytes         |
//! +------------+---------------------+-----------------------+
//! ```
//!
//! and the protobuf message is read field by field with prost's own
//! key and varint decoders.

use std::ops::Range;

use super::{bytes_text, fv, WireError};
use crate::record::FieldView;
use crate::text::{tx, Text};

/// What every client connection starts with.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// A frame header's size.
pub const FRAME_HEADER: usize = 9;
/// gRPC's message prefix: compressed flag and length.
pub const GRPC_PREFIX: usize = 5;

/// Frame types (RFC 9113 §6).
pub mod kind {
    /// Request or response body bytes.
    pub const DATA: u8 = 0;
    /// A header block (request, response, trailers).
    pub const HEADERS: u8 = 1;
    /// Stream priority (deprecated).
    pub const PRIORITY: u8 = 2;
    /// Cancels one stream.
    pub const RST_STREAM: u8 = 3;
    /// Connection parameters.
    pub const SETTINGS: u8 = 4;
    /// Server push.
    pub const PUSH_PROMISE: u8 = 5;
    /// Liveness and round-trip time.
    pub const PING: u8 = 6;
    /// The connection is closing.
    pub const GOAWAY: u8 = 7;
    /// Flow-control credit.
    pub const WINDOW_UPDATE: u8 = 8;
    /// The rest of a header block.
    pub const CONTINUATION: u8 = 9;
}

/// Flag bits.
pub mod flag {
    /// DATA, HEADERS: the last frame of this stream from this side.
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING: an acknowledgement.
    pub const ACK: u8 = 0x1;
    /// HEADERS, CONTINUATION: the header block ends here.
    pub const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS: padding follows.
    pub const PADDED: u8 = 0x8;
    /// HEADERS: a priority block comes first.
    pub const PRIORITY: u8 = 0x20;
}

/// A frame type's name as the RFC spells it (`Unknown(n)` otherwise).
pub fn type_name(t: u8) -> String {
    match t {
        kind::DATA => "DATA".into(),
        kind::HEADERS => "HEADERS".into(),
        kind::PRIORITY => "PRIORITY".into(),
        kind::RST_STREAM => "RST_STREAM".into(),
        kind::SETTINGS => "SETTINGS".into(),
        kind::PUSH_PROMISE => "PUSH_PROMISE".into(),
        kind::PING => "PING".into(),
        kind::GOAWAY => "GOAWAY".into(),
        kind::WINDOW_UPDATE => "WINDOW_UPDATE".into(),
        kind::CONTINUATION => "CONTINUATION".into(),
        t => format!("Unknown({t})"),
    }
}

/// A SETTINGS parameter's name (RFC 9113 §6.5.2).
pub fn setting_name(id: u16) -> String {
    match id {
        1 => "HEADER_TABLE_SIZE".into(),
        2 => "ENABLE_PUSH".into(),
        3 => "MAX_CONCURRENT_STREAMS".into(),
        4 => "INITIAL_WINDOW_SIZE".into(),
        5 => "MAX_FRAME_SIZE".into(),
        6 => "MAX_HEADER_LIST_SIZE".into(),
        8 => "ENABLE_CONNECT_PROTOCOL".into(),
        id => format!("Unknown({id})"),
    }
}

/// An error code's name (RFC 9113 §7).
pub fn error_name(code: u32) -> String {
    const NAMES: [&str; 14] = [
        "NO_ERROR",
        "PROTOCOL_ERROR",
        "INTERNAL_ERROR",
        "FLOW_CONTROL_ERROR",
        "SETTINGS_TIMEOUT",
        "STREAM_CLOSED",
        "FRAME_SIZE_ERROR",
        "REFUSED_STREAM",
        "CANCEL",
        "COMPRESSION_ERROR",
        "CONNECT_ERROR",
        "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY",
        "HTTP_1_1_REQUIRED",
    ];
    NAMES
        .get(code as usize)
        .map_or_else(|| format!("Unknown({code})"), |n| n.to_string())
}

/// One gRPC message found in a DATA frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrpcMessage {
    /// The compressed flag (0: the message is as it is).
    pub compressed: u8,
    /// The protobuf message's bytes.
    pub message: Vec<u8>,
    /// Its fields: (number, value as text).
    pub fields: Vec<(u32, String)>,
}

/// What a stretch of the stream is: the preface or one frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// Where it is in the stream (a frame's header included).
    pub range: Range<usize>,
    /// The client preface (else a frame).
    pub preface: bool,
    /// Frame type.
    pub kind: u8,
    /// Flag bits.
    pub flags: u8,
    /// Stream id (0: the connection itself).
    pub stream: u32,
    /// HEADERS: the decoded header list, in order.
    pub headers: Headers,
    /// SETTINGS: (parameter, value).
    pub settings: Vec<(u16, u32)>,
    /// DATA: the gRPC messages in it.
    pub grpc: Vec<GrpcMessage>,
    /// RST_STREAM, GOAWAY: the error code.
    pub error: Option<u32>,
}

impl Item {
    /// The value of a decoded header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A short label: `HEADERS s1`, `SETTINGS ACK`, `DATA s1`.
    pub fn label(&self) -> String {
        if self.preface {
            return "preface".into();
        }
        let mut s = type_name(self.kind);
        let ack = matches!(self.kind, kind::SETTINGS | kind::PING) && self.flags & flag::ACK != 0;
        if ack {
            s.push_str(" ACK");
        }
        if self.stream != 0 {
            s.push_str(&format!(" s{}", self.stream));
        }
        s
    }
}

/// A decoded header list: (name, value), in order.
pub type Headers = Vec<(String, String)>;

/// Field names of a protobuf message, for the byte view: (number, name).
pub type ProtoNames = Vec<(u32, &'static str)>;

/// Reads one direction of an HTTP/2 connection, from its first byte.
pub struct Reader {
    decoder: loona_hpack::Decoder<'static>,
    /// Whether this side opens with the preface (the client's).
    client: bool,
    /// A header block waiting for its CONTINUATION frames.
    block: Vec<u8>,
    /// Names of the fields of the protobuf messages this side sends.
    names: ProtoNames,
}

impl Reader {
    /// A reader of the client's side (`client`) or the server's, naming
    /// the protobuf fields of the messages that side sends with `names`.
    pub fn new(client: bool, names: ProtoNames) -> Reader {
        Reader {
            decoder: loona_hpack::Decoder::new(),
            client,
            block: Vec::new(),
            names,
        }
    }

    /// Everything in `stream` (this side's bytes from the start): the items,
    /// and their fields over the stream. Stops at a frame not all there.
    pub fn read(&mut self, stream: &[u8]) -> Result<(Vec<Item>, Vec<FieldView>), WireError> {
        let mut items = Vec::new();
        let mut fields = Vec::new();
        let mut at = 0;
        if self.client {
            if !stream.starts_with(PREFACE) {
                return Err(WireError::Malformed {
                    section: "HTTP/2 client preface",
                    offset: 0,
                    reason: "the client's first bytes are not PRI * HTTP/2.0".into(),
                });
            }
            fields.push(fv(
                "http2.preface",
                0..PREFACE.len(),
                "PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n",
                tx(
                    "the client's first 24 bytes: HTTP/2 from the start (h2c, no TLS, no Upgrade)",
                    "客户端的前 24 个字节：一开始就说 HTTP/2（h2c：不加密，也不用 Upgrade）",
                ),
            ));
            items.push(Item {
                range: 0..PREFACE.len(),
                preface: true,
                kind: 0,
                flags: 0,
                stream: 0,
                headers: Vec::new(),
                settings: Vec::new(),
                grpc: Vec::new(),
                error: None,
            });
            at = PREFACE.len();
        }
        while stream.len() - at >= FRAME_HEADER {
            let h = &stream[at..at + FRAME_HEADER];
            let len = (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
            let end = at + FRAME_HEADER + len;
            if end > stream.len() {
                break;
            }
            let (item, f) = self.frame(&stream[at..end], at)?;
            items.push(item);
            fields.extend(f);
            at = end;
        }
        Ok((items, fields))
    }

    /// One whole frame at stream offset `at`.
    fn frame(&mut self, b: &[u8], at: usize) -> Result<(Item, Vec<FieldView>), WireError> {
        let len = b.len() - FRAME_HEADER;
        let (t, flags) = (b[3], b[4]);
        let stream = u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff;
        let mut item = Item {
            range: at..at + b.len(),
            preface: false,
            kind: t,
            flags,
            stream,
            headers: Vec::new(),
            settings: Vec::new(),
            grpc: Vec::new(),
            error: None,
        };
        let mut f = vec![
            fv(
                "http2.length",
                at..at + 3,
                bytes_text(len),
                tx("payload length (24 bits)", "负载长度（24 位）"),
            ),
            fv(
                "http2.type",
                at + 3..at + 4,
                format!("{t} = {}", type_name(t)),
                type_meaning(t),
            ),
            fv(
                "http2.flags",
                at + 4..at + 5,
                flags_text(t, flags),
                tx(
                    "bits whose meaning depends on the type",
                    "含义随帧类型而定的标志位",
                ),
            ),
            fv(
                "http2.stream",
                at + 5..at + 9,
                stream.to_string(),
                if stream == 0 {
                    tx("0: the connection itself", "0：整个连接本身")
                } else {
                    tx(
                        "stream id: one per call, odd when the client opens it; HTTP/2's request id",
                        "流编号：每次调用一个，客户端发起的为奇数；相当于 HTTP/2 的请求编号",
                    )
                },
            ),
        ];
        let p = at + FRAME_HEADER;
        let payload = &b[FRAME_HEADER..];
        match t {
            kind::SETTINGS => {
                for (i, c) in payload.chunks_exact(6).enumerate() {
                    let id = u16::from_be_bytes([c[0], c[1]]);
                    let v = u32::from_be_bytes([c[2], c[3], c[4], c[5]]);
                    item.settings.push((id, v));
                    f.push(fv(
                        "http2.setting",
                        p + 6 * i..p + 6 * i + 6,
                        format!("{} = {v}", setting_name(id)),
                        tx(
                            "a parameter of this side: 2 bytes id, 4 bytes value",
                            "本端的一个参数：2 字节编号，4 字节取值",
                        ),
                    ));
                }
                if payload.is_empty() && flags & flag::ACK != 0 {
                    f[2].meaning = tx(
                        "ACK: the other side's settings are now in force",
                        "ACK：对方的设置已经生效",
                    );
                }
            }
            kind::WINDOW_UPDATE if len >= 4 => {
                let v = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
                    & 0x7fff_ffff;
                f.push(fv(
                    "http2.window_update",
                    p..p + 4,
                    v.to_string(),
                    tx(
                        "more bytes the other side may send (flow control)",
                        "对方还可以多发的字节数（流量控制）",
                    ),
                ));
            }
            kind::PING if len >= 8 => f.push(fv(
                "http2.ping",
                p..p + 8,
                crate::record::to_hex(&payload[..8]),
                tx("opaque bytes the answer echoes", "应答原样带回的 8 个字节"),
            )),
            kind::RST_STREAM if len >= 4 => {
                let code = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
                item.error = Some(code);
                f.push(fv(
                    "http2.rst_stream",
                    p..p + 4,
                    error_name(code),
                    tx("why this stream was cancelled", "这个流为什么被取消"),
                ));
            }
            kind::GOAWAY if len >= 8 => {
                let last = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
                    & 0x7fff_ffff;
                let code = u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]);
                item.error = Some(code);
                f.push(fv(
                    "http2.goaway.last_stream",
                    p..p + 4,
                    last.to_string(),
                    tx(
                        "the last stream this side handled",
                        "本端处理过的最后一个流",
                    ),
                ));
                f.push(fv(
                    "http2.goaway.error",
                    p + 4..p + 8,
                    error_name(code),
                    tx("why the connection closes", "连接为什么关闭"),
                ));
            }
            kind::HEADERS | kind::CONTINUATION => {
                let (skip, pad) = if t == kind::HEADERS {
                    let pad = if flags & flag::PADDED != 0 {
                        usize::from(*payload.first().unwrap_or(&0))
                    } else {
                        0
                    };
                    let skip = usize::from(flags & flag::PADDED != 0)
                        + if flags & flag::PRIORITY != 0 { 5 } else { 0 };
                    (skip, pad)
                } else {
                    (0, 0)
                };
                if skip + pad > len {
                    return Err(WireError::Malformed {
                        section: "HTTP/2 HEADERS",
                        offset: at,
                        reason: "padding longer than the frame".into(),
                    });
                }
                if skip > 0 {
                    f.push(fv(
                        "http2.pad_priority",
                        p..p + skip,
                        bytes_text(skip),
                        tx("pad length, priority", "填充长度、优先级"),
                    ));
                }
                let frag = &payload[skip..len - pad];
                if t == kind::HEADERS {
                    self.block.clear();
                }
                let start = self.block.len();
                self.block.extend_from_slice(frag);
                if flags & flag::END_HEADERS != 0 {
                    let block = std::mem::take(&mut self.block);
                    let (hs, hf) = self.hpack(&block, start, p + skip)?;
                    item.headers = hs;
                    f.extend(hf);
                }
            }
            kind::DATA => {
                let (skip, pad) = if flags & flag::PADDED != 0 {
                    (1, usize::from(*payload.first().unwrap_or(&0)))
                } else {
                    (0, 0)
                };
                if skip + pad > len {
                    return Err(WireError::Malformed {
                        section: "HTTP/2 DATA",
                        offset: at,
                        reason: "padding longer than the frame".into(),
                    });
                }
                let body = &payload[skip..len - pad];
                let (msgs, gf) = grpc(body, p + skip, &self.names);
                item.grpc = msgs;
                f.extend(gf);
            }
            _ if len > 0 => f.push(fv(
                "http2.payload",
                p..p + len,
                bytes_text(len),
                tx("payload", "负载"),
            )),
            _ => {}
        }
        Ok((item, f))
    }

    /// Decode a whole header block; `from` is where this frame's fragment
    /// starts in the block and `p` where that fragment is in the stream.
    /// Fields are made for the representations inside this fragment.
    fn hpack(
        &mut self,
        block: &[u8],
        from: usize,
        p: usize,
    ) -> Result<(Headers, Vec<FieldView>), WireError> {
        let reps = representations(block)?;
        let mut headers = Vec::new();
        let mut fields = Vec::new();
        // A size update is decoded with the representation after it: the
        // decoder refuses one at the end of what it is given.
        let mut pending = 0;
        for (range, rep, huffman) in reps {
            if rep == Rep::SizeUpdate {
                continue;
            }
            let start = pending.min(range.start);
            let got = self.decoder.decode(&block[start..range.end]).map_err(|e| {
                WireError::Malformed {
                    section: "HPACK header block",
                    offset: p + range.start.saturating_sub(from),
                    reason: e.to_string(),
                }
            })?;
            pending = range.end;
            for (n, v) in got {
                let (n, v) = (
                    String::from_utf8_lossy(&n).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                );
                if range.start >= from {
                    let r = p + range.start - from..p + range.end - from;
                    fields.push(fv(
                        "hpack",
                        r,
                        format!("{n}: {v}"),
                        rep.meaning(range.len(), huffman),
                    ));
                }
                headers.push((n, v));
            }
        }
        Ok((headers, fields))
    }
}

/// How one header is written in an HPACK block (RFC 7541 §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rep {
    /// One index into the static or dynamic table.
    Indexed(u64),
    /// Name (indexed if non-zero) and value, added to the dynamic table.
    Incremental(u64),
    /// Name and value, not added.
    Literal(u64),
    /// Name and value, never to be added by any intermediary.
    NeverIndexed(u64),
    /// A change of the dynamic table's size.
    SizeUpdate,
}

impl Rep {
    fn meaning(self, len: usize, huffman: bool) -> Text {
        let table = |i: u64| {
            if i <= 61 {
                tx(
                    format!("static table entry {i}"),
                    format!("静态表第 {i} 项"),
                )
            } else {
                tx(
                    format!("dynamic table entry {i}"),
                    format!("动态表第 {i} 项"),
                )
            }
        };
        let name = |i: u64| {
            if i == 0 {
                tx("name and value spelled out", "名字和值都直接写出")
            } else {
                let t = table(i);
                tx(
                    format!("name from {}, value spelled out", t.en),
                    format!("名字取自{}，值直接写出", t.zh),
                )
            }
        };
        let h = if huffman {
            tx(" (Huffman-coded)", "（霍夫曼编码）")
        } else {
            tx("", "")
        };
        let (en, zh) = match self {
            Rep::Indexed(i) => {
                let t = table(i);
                return tx(
                    format!("indexed: the whole header is {} ({len} B)", t.en),
                    format!("索引：整个头部就是{}（{len} 字节）", t.zh),
                );
            }
            Rep::Incremental(i) => {
                let n = name(i);
                (
                    format!(
                        "{}{}; added to the dynamic table, so next time it is 1 byte",
                        n.en, h.en
                    ),
                    format!("{}{}；加入动态表，下次只需 1 个字节", n.zh, h.zh),
                )
            }
            Rep::Literal(i) | Rep::NeverIndexed(i) => {
                let n = name(i);
                (
                    format!("{}{}; not added to the table", n.en, h.en),
                    format!("{}{}；不加入动态表", n.zh, h.zh),
                )
            }
            Rep::SizeUpdate => ("dynamic table size update".into(), "动态表大小更新".into()),
        };
        tx(en, zh)
    }
}

/// An HPACK integer with an `n`-bit prefix at `b[at]` (RFC 7541 §5.1): its
/// value and the index just past it.
fn integer(b: &[u8], at: usize, n: u32) -> Result<(u64, usize), WireError> {
    let bad = |reason: &str| WireError::Malformed {
        section: "HPACK integer",
        offset: at,
        reason: reason.into(),
    };
    let max = (1u64 << n) - 1;
    let first = u64::from(*b.get(at).ok_or_else(|| bad("missing"))?) & max;
    if first < max {
        return Ok((first, at + 1));
    }
    let (mut v, mut shift, mut i) = (max, 0u32, at + 1);
    loop {
        let c = *b.get(i).ok_or_else(|| bad("cut short"))?;
        if shift > 56 {
            return Err(bad("too long"));
        }
        v += u64::from(c & 0x7f) << shift;
        shift += 7;
        i += 1;
        if c & 0x80 == 0 {
            return Ok((v, i));
        }
    }
}

/// An HPACK string literal at `at`: the index just past it.
fn string_end(b: &[u8], at: usize) -> Result<usize, WireError> {
    let (len, i) = integer(b, at, 7)?;
    let end = i.checked_add(len as usize).filter(|e| *e <= b.len());
    end.ok_or(WireError::Malformed {
        section: "HPACK string",
        offset: at,
        reason: format!("{len} bytes announced, fewer there"),
    })
}

/// Where each representation of an HPACK block starts and ends.
/// (A literal's value is Huffman-coded when its length byte's top bit is set.)
fn representations(b: &[u8]) -> Result<Vec<(Range<usize>, Rep, bool)>, WireError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let c = b[at];
        let huffman = |v: usize| b.get(v).is_some_and(|c| c & 0x80 != 0);
        let (rep, end, h) = if c & 0x80 != 0 {
            let (i, end) = integer(b, at, 7)?;
            (Rep::Indexed(i), end, false)
        } else if c & 0x40 != 0 {
            let (i, mut end) = integer(b, at, 6)?;
            if i == 0 {
                end = string_end(b, end)?;
            }
            (Rep::Incremental(i), string_end(b, end)?, huffman(end))
        } else if c & 0x20 != 0 {
            (Rep::SizeUpdate, integer(b, at, 5)?.1, false)
        } else {
            let (i, mut end) = integer(b, at, 4)?;
            if i == 0 {
                end = string_end(b, end)?;
            }
            let rep = if c & 0x10 != 0 {
                Rep::NeverIndexed(i)
            } else {
                Rep::Literal(i)
            };
            (rep, string_end(b, end)?, huffman(end))
        };
        out.push((at..end, rep, h));
        at = end;
    }
    Ok(out)
}

fn type_meaning(t: u8) -> Text {
    match t {
        kind::DATA => tx("body bytes of one stream", "某个流的消息体字节"),
        kind::HEADERS => tx(
            "a header block: a request, a response or trailers",
            "头部块：请求、响应或尾部（trailers）",
        ),
        kind::SETTINGS => tx("this side's connection parameters", "本端的连接参数"),
        kind::WINDOW_UPDATE => tx("flow-control credit", "流量控制额度"),
        kind::PING => tx(
            "are you there? (answered with ACK)",
            "还在吗？（对方以 ACK 回答）",
        ),
        kind::GOAWAY => tx("the connection is closing", "连接即将关闭"),
        kind::RST_STREAM => tx("one stream cancelled", "取消一个流"),
        kind::CONTINUATION => tx("the rest of a header block", "头部块的后续部分"),
        _ => tx("frame type", "帧类型"),
    }
}

fn flags_text(t: u8, f: u8) -> String {
    let mut v = Vec::new();
    match t {
        kind::SETTINGS | kind::PING if f & flag::ACK != 0 => v.push("ACK"),
        kind::DATA | kind::HEADERS if f & flag::END_STREAM != 0 => v.push("END_STREAM"),
        _ => {}
    }
    if matches!(t, kind::HEADERS | kind::CONTINUATION) && f & flag::END_HEADERS != 0 {
        v.push("END_HEADERS");
    }
    if matches!(t, kind::HEADERS | kind::DATA) && f & flag::PADDED != 0 {
        v.push("PADDED");
    }
    if t == kind::HEADERS && f & flag::PRIORITY != 0 {
        v.push("PRIORITY");
    }
    if v.is_empty() {
        format!("0x{f:02x}")
    } else {
        format!("0x{f:02x} {}", v.join(","))
    }
}

/// The gRPC messages in a DATA payload at stream offset `p`, and their fields.
fn grpc(body: &[u8], p: usize, names: &ProtoNames) -> (Vec<GrpcMessage>, Vec<FieldView>) {
    let mut msgs = Vec::new();
    let mut f = Vec::new();
    let mut at = 0;
    while body.len() - at >= GRPC_PREFIX {
        let compressed = body[at];
        let len =
            u32::from_be_bytes([body[at + 1], body[at + 2], body[at + 3], body[at + 4]]) as usize;
        let start = at + GRPC_PREFIX;
        let Some(end) = start.checked_add(len).filter(|e| *e <= body.len()) else {
            break;
        };
        f.push(fv(
            "grpc.compressed",
            p + at..p + at + 1,
            compressed.to_string(),
            if compressed == 0 {
                tx("0: the message is not compressed", "0：消息没有压缩")
            } else {
                tx(
                    "compressed with the grpc-encoding header's method",
                    "按 grpc-encoding 头部指定的方法压缩",
                )
            },
        ));
        f.push(fv(
            "grpc.length",
            p + at + 1..p + start,
            bytes_text(len),
            tx(
                "the protobuf message's length: gRPC's own frame inside the stream",
                "protobuf 消息的长度：gRPC 在流里自己的定界",
            ),
        ));
        let message = &body[start..end];
        let (fields, pf) = protobuf(message, p + start, names);
        f.extend(pf);
        msgs.push(GrpcMessage {
            compressed,
            message: message.to_vec(),
            fields,
        });
        at = end;
    }
    if at < body.len() {
        f.push(fv(
            "http2.data",
            p + at..p + body.len(),
            bytes_text(body.len() - at),
            tx("body bytes", "消息体字节"),
        ));
    }
    (msgs, f)
}

/// A protobuf message's fields: (number, value) and their byte views.
fn protobuf(m: &[u8], p: usize, names: &ProtoNames) -> (Vec<(u32, String)>, Vec<FieldView>) {
    use prost::encoding::{decode_key, decode_varint, WireType};
    let mut out = Vec::new();
    let mut f = Vec::new();
    let mut buf: &[u8] = m;
    while !buf.is_empty() {
        let start = m.len() - buf.len();
        let Ok((tag, wt)) = decode_key(&mut buf) else {
            break;
        };
        let (value, ok) = match wt {
            WireType::Varint => match decode_varint(&mut buf) {
                Ok(v) => (v.to_string(), true),
                Err(_) => (String::new(), false),
            },
            WireType::LengthDelimited => match decode_varint(&mut buf) {
                Ok(n) if (n as usize) <= buf.len() => {
                    let (s, rest) = buf.split_at(n as usize);
                    buf = rest;
                    match std::str::from_utf8(s) {
                        Ok(s) => (format!("\"{s}\""), true),
                        Err(_) => (crate::record::to_hex(s), true),
                    }
                }
                _ => (String::new(), false),
            },
            WireType::ThirtyTwoBit if buf.len() >= 4 => {
                let v = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
                buf = &buf[4..];
                (v.to_string(), true)
            }
            WireType::SixtyFourBit if buf.len() >= 8 => {
                let mut b8 = [0u8; 8];
                b8.copy_from_slice(&buf[..8]);
                buf = &buf[8..];
                (u64::from_le_bytes(b8).to_string(), true)
            }
            _ => (String::new(), false),
        };
        if !ok {
            break;
        }
        let end = m.len() - buf.len();
        let name = names
            .iter()
            .find(|(n, _)| *n == tag)
            .map_or_else(String::new, |(_, s)| format!(" ({s})"));
        let wire = match wt {
            WireType::Varint => tx("varint", "变长整数"),
            WireType::LengthDelimited => tx("length-delimited", "带长度"),
            _ => tx("fixed width", "定长"),
        };
        f.push(fv(
            "protobuf.field",
            p + start..p + end,
            format!("{tag}{name} = {value}"),
            tx(
                format!(
                    "key byte(s): field number {tag}, wire type {}; then the value",
                    wire.en
                ),
                format!("键：字段号 {tag}，线路类型{}；然后是值", wire.zh),
            ),
        ));
        out.push((tag, value));
    }
    (out, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame: 9-byte header, then the payload.
    fn frame(t: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut b = len.to_be_bytes()[1..].to_vec(); // 24-bit length
        b.push(t);
        b.push(flags);
        b.extend_from_slice(&stream.to_be_bytes());
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn a_client_stream_reads_preface_settings_headers_and_grpc_data() {
        let mut s = PREFACE.to_vec();
        // SETTINGS: ENABLE_PUSH = 0, INITIAL_WINDOW_SIZE = 65535.
        s.extend(frame(
            kind::SETTINGS,
            0,
            0,
            &[0, 2, 0, 0, 0, 0, 0, 4, 0, 0, 0xff, 0xff],
        ));
        // HEADERS on stream 1: indexed :method POST (static 3), :scheme http
        // (static 6), then :path as a literal with indexed name 4, not
        // Huffman-coded, added to the dynamic table.
        let mut block = vec![0x83, 0x86, 0x44, 15];
        block.extend_from_slice(b"/pkg.Svc/Method");
        s.extend(frame(kind::HEADERS, flag::END_HEADERS, 1, &block));
        // The same :path again: now dynamic table entry 62, one byte.
        s.extend(frame(kind::HEADERS, flag::END_HEADERS, 3, &[0xbe]));
        // DATA on stream 1: gRPC prefix (not compressed, 9 bytes), then
        // protobuf field 1 = "alice" (0x0a, 5, …), field 2 = 10 (0x10, 10).
        let mut body = vec![0, 0, 0, 0, 9, 0x0a, 5];
        body.extend_from_slice(b"alice");
        body.extend_from_slice(&[0x10, 10]);
        s.extend(frame(kind::DATA, flag::END_STREAM, 1, &body));
        let mut r = Reader::new(true, vec![(1, "account"), (2, "amount")]);
        let (items, fields) = r.read(&s).unwrap();
        let labels: Vec<String> = items.iter().map(Item::label).collect();
        assert_eq!(
            labels,
            ["preface", "SETTINGS", "HEADERS s1", "HEADERS s3", "DATA s1"]
        );
        assert_eq!(items[1].settings, [(2, 0), (4, 65535)]);
        assert_eq!(items[2].header(":path"), Some("/pkg.Svc/Method"));
        assert_eq!(items[2].header(":method"), Some("POST"));
        assert_eq!(
            items[3].header(":path"),
            Some("/pkg.Svc/Method"),
            "the dynamic table is kept from one block to the next"
        );
        assert_eq!(
            items[4].grpc[0].fields,
            [(1, "\"alice\"".into()), (2, "10".into())]
        );
        let path = fields
            .iter()
            .find(|f| f.value.en == ":path: /pkg.Svc/Method")
            .unwrap();
        assert_eq!(path.range.len(), 2 + 15);
        assert!(
            path.meaning.en.contains("static table entry 4"),
            "{}",
            path.meaning.en
        );
        let again = fields.iter().filter(|f| f.name == "hpack").nth(3).unwrap();
        assert!(again.meaning.en.contains("dynamic table entry 62"));
        let len = fields.iter().find(|f| f.name == "grpc.length").unwrap();
        assert_eq!(len.value.en, "9 bytes");
        let acct = fields.iter().find(|f| f.name == "protobuf.field").unwrap();
        assert_eq!(acct.value.en, "1 (account) = \"alice\"");
    }

    #[test]
    fn trailers_goaway_and_unknown_types() {
        // Trailers: grpc-status 0 as a literal without indexing, new name.
        let mut block = vec![0x00, 11];
        block.extend_from_slice(b"grpc-status");
        block.extend_from_slice(&[1, b'0']);
        let mut s = frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            1,
            &block,
        );
        s.extend(frame(kind::GOAWAY, 0, 0, &[0, 0, 0, 1, 0, 0, 0, 0]));
        s.extend(frame(0x42, 0, 0, &[1, 2]));
        s.extend_from_slice(&[0, 0, 9, 0]); // a frame cut short: not read
        let (items, fields) = Reader::new(false, Vec::new()).read(&s).unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].header("grpc-status"), Some("0"));
        assert_eq!(items[1].error, Some(0));
        assert_eq!(type_name(0x42), "Unknown(66)");
        assert!(fields.iter().any(|f| f.value.en == "NO_ERROR"));
        assert!(fields
            .iter()
            .any(|f| f.name == "http2.flags" && f.value.en == "0x05 END_STREAM,END_HEADERS"));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(Reader::new(true, Vec::new())
            .read(b"GET / HTTP/1.1\r\n")
            .is_err());
        // An HPACK string longer than the block.
        let s = frame(kind::HEADERS, flag::END_HEADERS, 1, &[0x00, 50, b'a']);
        assert!(Reader::new(false, Vec::new()).read(&s).is_err());
        // Padding longer than the frame.
        let s = frame(kind::DATA, flag::PADDED, 1, &[9, 1]);
        assert!(Reader::new(false, Vec::new()).read(&s).is_err());
        assert!(integer(
            &[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            0,
            7
        )
        .is_err());
        assert_eq!(
            integer(&[0x1f, 0x9a, 0x0a], 0, 5).unwrap(),
            (1337, 3),
            "RFC 7541 C.1.2"
        );
    }
}
