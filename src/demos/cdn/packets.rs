//! What the captured frames say: TCP payloads put back in order, the HTTP
//! heads inside them, a connection's handshake and timing, the DNS answers.
//! Pure functions over frames, so every number the demo prints comes from
//! the packets themselves.

use std::net::Ipv4Addr;
use std::time::SystemTime;

use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::RData;

use crate::lab::capture::Frame;
use crate::wire::tcp;

/// A TCP segment of a captured frame: its IP ends, header and payload.
pub struct Segment<'f> {
    /// When it was seen.
    pub at: SystemTime,
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Its TCP header.
    pub tcp: tcp::Header,
    /// The data it carries (the IP packet's length, not the frame's, decides).
    pub payload: &'f [u8],
}

/// The TCP segment a frame (Ethernet + IPv4) carries, if any.
pub fn segment(f: &Frame) -> Option<Segment<'_>> {
    let b = &f.bytes;
    let ip = b.get(14..)?;
    if b.get(12..14)? != [0x08, 0x00] || ip.first()? >> 4 != 4 || *ip.get(9)? != 6 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
    let seg = ip.get(ihl..total.min(ip.len()))?;
    let h = tcp::header(seg).ok()?;
    Some(Segment {
        at: f.at,
        src: Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
        dst: Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
        payload: seg.get(h.header_len..)?,
        tcp: h,
    })
}

/// One TCP connection's two ends: (address, port) each.
pub type Ends = ((Ipv4Addr, u16), (Ipv4Addr, u16));

/// The segments of one connection going from `ends.0` to `ends.1`.
pub fn one_way<'f>(frames: &'f [Frame], ends: Ends) -> Vec<Segment<'f>> {
    frames
        .iter()
        .filter_map(segment)
        .filter(|s| (s.src, s.tcp.src_port) == ends.0 && (s.dst, s.tcp.dst_port) == ends.1)
        .collect()
}

/// The bytes sent from `ends.0` to `ends.1`, in sequence order, each byte
/// once (a segment seen twice, or sent again, counts once).
pub fn stream(frames: &[Frame], ends: Ends) -> Vec<u8> {
    let mut segs: Vec<(u32, &[u8])> = one_way(frames, ends)
        .into_iter()
        .filter(|s| !s.payload.is_empty())
        .map(|s| (s.tcp.seq, s.payload))
        .collect();
    let Some(first) = segs.iter().map(|(q, _)| *q).min() else {
        return Vec::new();
    };
    segs.sort_by_key(|(q, _)| q.wrapping_sub(first));
    let mut out: Vec<u8> = Vec::new();
    for (q, p) in segs {
        let at = q.wrapping_sub(first) as usize;
        if at + p.len() > out.len() && at <= out.len() {
            out.extend_from_slice(&p[out.len() - at..]);
        }
    }
    out
}

/// An HTTP message's head read from bytes: its first line and its headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Head {
    /// `GET / HTTP/1.1` or `HTTP/1.1 200 OK`.
    pub first: String,
    /// The header lines, name and value, in order.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// A header's value (the first of that name).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A response's status code.
    pub fn status(&self) -> Option<u16> {
        let mut w = self.first.split(' ');
        w.next().filter(|v| v.starts_with("HTTP/"))?;
        w.next()?.parse().ok()
    }
}

/// The head of the HTTP message at the start of `bytes` (request or response).
pub fn head(bytes: &[u8]) -> Option<Head> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let text = String::from_utf8_lossy(&bytes[..end]);
    let mut lines = text.split("\r\n");
    let first = lines.next()?.to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Head { first, headers })
}

/// The segments with SYN alone (connection openings) from `from` to `to_port` at `to`.
pub fn syns<'f>(
    frames: &'f [Frame],
    from: Ipv4Addr,
    to: Ipv4Addr,
    to_port: u16,
) -> Vec<Segment<'f>> {
    frames
        .iter()
        .filter_map(segment)
        .filter(|s| {
            s.src == from && s.dst == to && s.tcp.dst_port == to_port && s.tcp.flags & 0x12 == 0x02
        })
        .collect()
}

/// Milliseconds from `a` to `b`, to the microsecond.
pub fn ms(a: SystemTime, b: SystemTime) -> f64 {
    b.duration_since(a).unwrap_or_default().as_micros() as f64 / 1e3
}

/// What one connection showed: its handshake's round trip, and how long
/// the server took from the request's first data to the response's last.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timing {
    /// SYN to SYN+ACK, as the client's link saw them (ms).
    pub handshake_ms: Option<f64>,
    /// The request's first data segment to the response's last (ms).
    pub exchange_ms: Option<f64>,
}

/// The timing of the connection `ends` (client first) in `frames`.
pub fn timing(frames: &[Frame], ends: Ends) -> Timing {
    let out = one_way(frames, ends);
    let back = one_way(frames, (ends.1, ends.0));
    let syn = out
        .iter()
        .find(|s| s.tcp.flags & 0x12 == 0x02)
        .map(|s| s.at);
    let synack = back
        .iter()
        .find(|s| s.tcp.flags & 0x12 == 0x12)
        .map(|s| s.at);
    let req = out.iter().find(|s| !s.payload.is_empty()).map(|s| s.at);
    let resp = back
        .iter()
        .filter(|s| !s.payload.is_empty())
        .map(|s| s.at)
        .max();
    Timing {
        handshake_ms: syn.zip(synack).map(|(a, b)| ms(a, b)),
        exchange_ms: req.zip(resp).map(|(a, b)| ms(a, b)),
    }
}

/// One DNS answer a client received, from its datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsAnswer {
    /// Who it went to.
    pub client: Ipv4Addr,
    /// The name asked for.
    pub name: String,
    /// The CNAME it carried (its target), if any.
    pub cname: Option<String>,
    /// The address it carried, if any.
    pub address: Option<Ipv4Addr>,
    /// The record's TTL (of the CNAME or the address).
    pub ttl: Option<u32>,
}

/// The DNS answers (UDP from port 53) among `frames`, in order.
pub fn dns_answers(frames: &[Frame]) -> Vec<DnsAnswer> {
    frames
        .iter()
        .filter_map(|f| {
            let (17, udp) = crate::wire::frame::transport(&f.bytes)? else {
                return None;
            };
            if udp.get(0..2)? != [0, 53] {
                return None;
            }
            let ip = f.bytes.get(14..34)?;
            let client = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
            let m = Message::from_vec(udp.get(8..)?).ok()?;
            if m.metadata.message_type != MessageType::Response {
                return None;
            }
            let name = m.queries.first()?.name().to_string();
            let mut a = DnsAnswer {
                client,
                name,
                cname: None,
                address: None,
                ttl: None,
            };
            for r in &m.answers {
                match &r.data {
                    RData::CNAME(c) if a.cname.is_none() && a.address.is_none() => {
                        a.cname = Some(c.0.to_string());
                        a.ttl = Some(r.ttl);
                    }
                    RData::A(x) if a.address.is_none() => {
                        a.address = Some(x.0);
                        if a.cname.is_none() {
                            a.ttl = Some(r.ttl);
                        }
                    }
                    _ => {}
                }
            }
            Some(a)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// An Ethernet + IPv4 + TCP frame from 10.0.0.1:1000 to 10.0.0.2:80.
    fn frame(us: u64, seq: u32, flags: u8, data: &[u8], back: bool) -> Frame {
        let mut b = vec![0u8; 14];
        b[12..14].copy_from_slice(&[0x08, 0x00]);
        let total = 20 + 20 + data.len();
        let mut ip = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0,
            0,
            64,
            6,
            0,
            0,
        ];
        let (a, z) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let (s, d, sp, dp) = if back {
            (z, a, 80u16, 1000u16)
        } else {
            (a, z, 1000, 80)
        };
        ip.extend_from_slice(&s);
        ip.extend_from_slice(&d);
        b.extend_from_slice(&ip);
        let mut t = Vec::new();
        t.extend_from_slice(&sp.to_be_bytes()); // source port
        t.extend_from_slice(&dp.to_be_bytes()); // destination port
        t.extend_from_slice(&seq.to_be_bytes()); // sequence number
        t.extend_from_slice(&0u32.to_be_bytes()); // acknowledgement number
        t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]); // offset 5, flags, window, checksum, urgent
        b.extend_from_slice(&t);
        b.extend_from_slice(data);
        b.extend_from_slice(&[0; 6]); // Ethernet padding: not data
        Frame {
            at: UNIX_EPOCH + Duration::from_micros(us),
            link: "c1:eth0".into(),
            len: b.len(),
            bytes: b,
        }
    }

    const ENDS: Ends = (
        (Ipv4Addr::new(10, 0, 0, 1), 1000),
        (Ipv4Addr::new(10, 0, 0, 2), 80),
    );

    #[test]
    fn a_stream_is_put_back_in_order_once_without_padding() {
        let f = [
            frame(0, 100, 0x02, b"", false),
            frame(10, 500, 0x12, b"", true),
            frame(20, 101, 0x18, b"GET / HTTP/1.1\r\n\r\n", false),
            frame(300, 528, 0x18, b"k: v\r\n\r\nbody", true),
            frame(250, 501, 0x18, b"HTTP/1.1 304 Not Modified\r\n", true),
            frame(260, 501, 0x18, b"HTTP/1.1 304 Not Modified\r\n", true),
        ];
        let s = stream(&f, (ENDS.1, ENDS.0));
        let h = head(&s).unwrap();
        assert_eq!(h.first, "HTTP/1.1 304 Not Modified");
        assert_eq!(h.status(), Some(304));
        assert_eq!(h.get("K"), Some("v"));
        assert!(s.ends_with(b"body"), "{:?}", String::from_utf8_lossy(&s));
        let t = timing(&f, ENDS);
        assert_eq!(t.handshake_ms, Some(0.01));
        assert_eq!(t.exchange_ms, Some(0.28), "to the response's last data");
        assert_eq!(head(b"GET / HTTP/1.1\r\nHost: x").map(|h| h.first), None);
        assert_eq!(head(b"GET / HTTP/1.1\r\n\r\n").unwrap().status(), None);
    }
}
