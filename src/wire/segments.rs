//! One direction of a captured TCP connection as the byte stream it carried,
//! and an application's field table placed back on the segments.
//!
//! An application protocol over TCP (netlab's RPC frames, HTTP/2) is framed
//! in the stream, not in the segments: one segment may carry two messages,
//! or a message may start in one segment and end in the next. So its bytes
//! are explained over the reassembled stream, and each field is then moved
//! onto the frame whose payload holds it, as Wireshark's "reassembled TCP"
//! view does.

use std::ops::Range;

use super::frame::{self, Kind};
use crate::record::FieldView;

/// Where one segment's payload sits in the stream and in its frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    /// Index of the frame in the list given to [`flow`].
    pub frame: usize,
    /// Its bytes' place in the stream.
    pub stream: Range<usize>,
    /// Where its payload starts inside the frame.
    pub offset: usize,
}

/// One direction's stream: the bytes in sequence order, and the segments
/// that carried them (a retransmitted stretch counts once, with the segment
/// that first carried it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flow {
    /// The payload bytes, in order.
    pub bytes: Vec<u8>,
    /// Which frame carried which stretch.
    pub pieces: Vec<Piece>,
    /// The capture missed a stretch: the stream stops before it.
    pub gap: bool,
}

/// The stream sent from port `src_port` in `frames` (Ethernet frames of one
/// connection, in wire order).
pub fn flow(frames: &[&[u8]], src_port: u16) -> Flow {
    let mut out = Flow::default();
    // The first byte's sequence number: the SYN's plus one, or else the
    // first data segment's.
    let mut base: Option<u32> = None;
    for (i, bytes) in frames.iter().enumerate() {
        let Ok(d) = frame::ethernet_frame(bytes) else {
            continue;
        };
        let Kind::Ipv4 { tcp: Some(h), .. } = d.kind else {
            continue;
        };
        if h.src_port != src_port {
            continue;
        }
        if h.flags & 0x02 != 0 {
            base = Some(h.seq.wrapping_add(1));
            continue;
        }
        let Some((6, seg)) = frame::transport(bytes) else {
            continue;
        };
        // Only what the IP header counts: no Ethernet padding.
        let payload = match seg.get(h.header_len..) {
            Some(p) => &p[..p.len().min(ip_payload(bytes).saturating_sub(h.header_len))],
            None => continue,
        };
        if payload.is_empty() {
            continue;
        }
        let start = h.seq.wrapping_sub(*base.get_or_insert(h.seq)) as usize;
        let have = out.bytes.len();
        if start > have {
            out.gap = true;
            break;
        }
        let skip = have - start;
        if skip >= payload.len() {
            continue; // a retransmission of bytes already there
        }
        let offset = bytes.len() - seg.len() + h.header_len + skip;
        out.pieces.push(Piece {
            frame: i,
            stream: have..have + payload.len() - skip,
            offset,
        });
        out.bytes.extend_from_slice(&payload[skip..]);
    }
    out
}

/// The IPv4 packet's transport bytes as its header counts them.
fn ip_payload(frame: &[u8]) -> usize {
    let Some(ip) = frame.get(14..) else { return 0 };
    if ip.len() < 20 {
        return 0;
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    total.min(ip.len()).saturating_sub(ihl)
}

impl Flow {
    /// The piece that holds stream byte `at`.
    pub fn piece_at(&self, at: usize) -> Option<&Piece> {
        self.pieces.iter().find(|p| p.stream.contains(&at))
    }

    /// Fields over the stream, moved onto the frames that carried their
    /// bytes: (frame index, its fields). A field split across two segments
    /// is shown in each, over the part that segment holds.
    pub fn place(&self, fields: &[FieldView]) -> Vec<(usize, Vec<FieldView>)> {
        let mut out: Vec<(usize, Vec<FieldView>)> = Vec::new();
        for p in &self.pieces {
            let mut mine = Vec::new();
            for f in fields {
                let start = f.range.start.max(p.stream.start);
                let end = f.range.end.min(p.stream.end);
                if start < end {
                    let mut g = f.clone();
                    g.range = start - p.stream.start + p.offset..end - p.stream.start + p.offset;
                    mine.push(g);
                }
            }
            if !mine.is_empty() {
                out.push((p.frame, mine));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet + IPv4 + TCP frame from port 9000 to 40000 with `flags`,
    /// sequence number `seq` and `data`.
    fn seg(seq: u32, flags: u8, data: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]); // IPv4
        let total = (20 + 20 + data.len()) as u16;
        f.extend_from_slice(&[0x45, 0]); // version 4, header 20 bytes
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0, 64, 6, 0, 0]); // id, frag, TTL, TCP, checksum
        f.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
        f.extend_from_slice(&[0x23, 0x28, 0x9c, 0x40]); // 9000 → 40000
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(data);
        f
    }

    #[test]
    fn segments_join_into_one_stream_and_fields_go_back() {
        let syn = seg(99, 0x12, b"");
        let a = seg(100, 0x18, b"hello ");
        let again = seg(100, 0x18, b"hello "); // a retransmission
        let b = seg(106, 0x18, b"world");
        let frames: Vec<&[u8]> = vec![&syn, &a, &again, &b];
        let f = flow(&frames, 9000);
        assert_eq!(f.bytes, b"hello world");
        assert!(!f.gap);
        assert_eq!(f.pieces.len(), 2, "the retransmission adds nothing");
        assert_eq!(f.pieces[1].frame, 3);
        assert_eq!(f.pieces[1].offset, 54);
        assert_eq!(f.piece_at(7).unwrap().frame, 3);
        // A field over "o w" spans both segments: one part in each.
        let field = FieldView {
            name: "x".into(),
            range: 4..7,
            ..FieldView::default()
        };
        let placed = f.place(&[field]);
        assert_eq!(placed.len(), 2);
        assert_eq!(placed[0].0, 1);
        assert_eq!(placed[0].1[0].range, 58..60, "\"o \" in the first");
        assert_eq!(placed[1].1[0].range, 54..55, "\"w\" in the second");
        assert!(flow(&frames, 1234).bytes.is_empty(), "another sender");
    }

    #[test]
    fn a_missing_stretch_ends_the_stream() {
        let a = seg(100, 0x18, b"ab");
        let c = seg(110, 0x18, b"cd");
        let f = flow(&[&a, &c], 9000);
        assert_eq!(f.bytes, b"ab");
        assert!(f.gap);
    }
}
