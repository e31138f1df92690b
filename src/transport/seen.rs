//! What a capture shows of a transfer, beyond what the sockets said: how big
//! the frames TCP handed the link were (segmentation offload), how long the
//! first byte waited for the handshake, and how long data that had already
//! arrived waited behind a lost segment (head-of-line blocking).
//!
//! Pure functions over captured frames (each frame's own header fields and
//! capture time); no sockets, no narration. `tcp-vs-udp` tells the results.

use std::time::{Duration, SystemTime};

use schemars::JsonSchema;
use serde::Serialize;

use crate::lab::capture::Frame;
use crate::wire::frame::{self, Kind};
use crate::wire::tcp::Header;

/// The TCP header and payload length of a frame, with its time.
fn tcp(f: &Frame) -> Option<(Header, usize)> {
    match frame::ethernet_frame(&f.bytes).ok()?.kind {
        Kind::Ipv4 {
            tcp: Some(h),
            payload_len,
            ..
        } => Some((h, payload_len)),
        _ => None,
    }
}

/// The data-carrying TCP frames one side sent, as a capture saw them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct DataFrames {
    /// Frames with TCP data from that side (retransmissions included).
    pub frames: u64,
    /// Their TCP payload, bytes (as the IP header gives it: a capture with a
    /// snap length keeps fewer).
    pub bytes: u64,
    /// The largest payload one frame carried, bytes.
    pub largest: u64,
}

/// The TCP data frames sent to `port` (the receiver's port) in `frames`.
pub fn data_frames(frames: &[Frame], port: u16) -> DataFrames {
    let mut d = DataFrames::default();
    for (h, len) in frames.iter().filter_map(tcp) {
        if h.dst_port == port && len > 0 {
            d.frames += 1;
            d.bytes += len as u64;
            d.largest = d.largest.max(len as u64);
        }
    }
    d
}

/// How long after the SYN to `port` the client's first data byte left: the
/// handshake's cost to the first byte (None without both in the capture).
pub fn first_byte_after_syn(frames: &[Frame], port: u16) -> Option<Duration> {
    let mut sorted: Vec<&Frame> = frames.iter().collect();
    sorted.sort_by_key(|f| f.at);
    let syn = sorted
        .iter()
        .find(|f| tcp(f).is_some_and(|(h, _)| h.dst_port == port && h.flags & 0x12 == 0x02))?;
    let data = sorted
        .iter()
        .find(|f| tcp(f).is_some_and(|(h, len)| h.dst_port == port && len > 0))?;
    data.at.duration_since(syn.at).ok()
}

/// Messages that had arrived whole but waited for an earlier, lost one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct HeldBack {
    /// Messages whose bytes were all in, yet not readable: an earlier
    /// message's segment had to be sent again first.
    pub messages: u32,
    /// The longest such wait, microseconds.
    pub longest_us: u64,
    /// The median of those waits, microseconds (0 when none waited).
    pub median_us: u64,
}

impl HeldBack {
    /// The waits of every held-back message (of one direction or several).
    pub fn of(mut waits: Vec<Duration>) -> HeldBack {
        waits.sort();
        HeldBack {
            messages: waits.len() as u32,
            longest_us: waits.last().map_or(0, |w| w.as_micros() as u64),
            median_us: waits
                .get(waits.len() / 2)
                .map_or(0, |w| w.as_micros() as u64),
        }
    }
}

/// Head-of-line blocking in one direction of a TCP connection: how long
/// each message that waited had to wait. From a capture that saw every
/// transmission (a lost segment included: the capture is on the sender's
/// side of the loss, or before the receiver's filter).
///
/// The data of the segments `ours` picks (by their ports) is `count`
/// messages of `size` bytes, in order. A byte arrives with the last
/// transmission that carried it (the ones before were lost); a message
/// arrives with its last byte, and becomes readable only when every byte
/// before it has arrived. The wait between the two is head-of-line blocking;
/// UDP has none.
pub fn waits(
    frames: &[Frame],
    ours: impl Fn(&Header) -> bool,
    size: usize,
    count: u32,
) -> Vec<Duration> {
    let mut sends: Vec<(SystemTime, u32, usize)> = frames
        .iter()
        .filter_map(|f| tcp(f).map(|(h, len)| (f.at, h, len)))
        .filter(|(_, h, len)| ours(h) && *len > 0)
        .map(|(at, h, len)| (at, h.seq, len))
        .collect();
    sends.sort_by_key(|s| s.0);
    let Some(&(_, base, _)) = sends.first() else {
        return Vec::new();
    };
    let size = size.max(1) as u64;
    // When each message's last byte arrived.
    let mut arrived: Vec<Option<SystemTime>> = vec![None; count as usize];
    for (at, seq, len) in sends {
        let start = u64::from(seq.wrapping_sub(base));
        let end = start + len as u64;
        let first = (start / size) as usize;
        let last = (end.div_ceil(size) as usize).min(arrived.len());
        for a in arrived.iter_mut().take(last).skip(first) {
            *a = Some(a.map_or(at, |t| t.max(at)));
        }
    }
    // Readable when it and everything before it has arrived.
    let mut out = Vec::new();
    let mut readable: Option<SystemTime> = None;
    for a in arrived.into_iter().map_while(|a| a) {
        let r = readable.map_or(a, |r| r.max(a));
        readable = Some(r);
        if let Ok(w) = r.duration_since(a) {
            if !w.is_zero() {
                out.push(w);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    /// A captured frame of a TCP segment `sport → dport`, `flags`, with `len`
    /// payload bytes at sequence number `seq`, seen at `ms`.
    fn seg(ms: u64, sport: u16, dport: u16, seq: u32, flags: u8, len: usize) -> Frame {
        let mut b = vec![0u8; 12];
        b.extend_from_slice(&[0x08, 0x00]);
        let total = 20 + 20 + len;
        let mut ip = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            6,
            0,
            0,
            198,
            51,
            100,
            10,
            198,
            51,
            100,
            20,
        ];
        let mut t = vec![0u8; 20];
        t[0..2].copy_from_slice(&sport.to_be_bytes());
        t[2..4].copy_from_slice(&dport.to_be_bytes());
        t[4..8].copy_from_slice(&seq.to_be_bytes());
        t[12] = 0x50; // data offset 5 words
        t[13] = flags;
        t[14..16].copy_from_slice(&1000u16.to_be_bytes());
        ip.extend(t);
        ip.extend(vec![b'.'; len]);
        b.extend(ip);
        Frame {
            at: UNIX_EPOCH + Duration::from_millis(ms),
            link: "h1:eth0".into(),
            len: b.len(),
            bytes: b,
        }
    }

    #[test]
    fn a_lost_segment_holds_back_the_ones_behind_it() {
        // Messages 0..5 of 100 bytes at 2 ms each; message 1 is lost and sent
        // again at 30 ms: messages 2, 3 and 4 had arrived but wait for it.
        let mut f: Vec<Frame> = (0..5)
            .map(|i| seg(2 * i, 40000, 80, 1000 + 100 * i as u32, 0x18, 100))
            .collect();
        f.push(seg(30, 40000, 80, 1100, 0x18, 100));
        // the other direction's ACKs do not count
        f.push(seg(31, 80, 40000, 7, 0x10, 0));
        let from = |h: &Header| h.src_port == 40000;
        let h = HeldBack::of(waits(&f, from, 100, 5));
        assert_eq!(h.messages, 3, "{h:?}");
        assert_eq!(
            h.longest_us, 26_000,
            "message 2 sent at 4 ms, readable at 30 ms"
        );
        assert_eq!(h.median_us, 24_000);
        // Nothing lost: nothing waits.
        let clean: Vec<Frame> = (0..5)
            .map(|i| seg(2 * i, 40000, 80, 1000 + 100 * i as u32, 0x18, 100))
            .collect();
        assert_eq!(
            HeldBack::of(waits(&clean, from, 100, 5)),
            HeldBack::default()
        );
        // A retransmission that carries two messages at once.
        let mut g = clean.clone();
        g.push(seg(50, 40000, 80, 1000, 0x18, 200));
        let h = HeldBack::of(waits(&g, from, 100, 5));
        assert_eq!(h.messages, 3);
        assert_eq!(h.longest_us, 46_000);
    }

    #[test]
    fn frames_and_the_first_byte_are_read_from_the_capture() {
        let f = vec![
            seg(0, 40000, 80, 999, 0x02, 0),
            seg(1, 80, 40000, 5, 0x12, 0),
            seg(2, 40000, 80, 1000, 0x10, 0),
            seg(3, 40000, 80, 1000, 0x18, 1448),
            seg(4, 40000, 80, 2448, 0x18, 500),
        ];
        assert_eq!(first_byte_after_syn(&f, 80), Some(Duration::from_millis(3)));
        let d = data_frames(&f, 80);
        assert_eq!((d.frames, d.bytes, d.largest), (2, 1948, 1448));
        assert_eq!(first_byte_after_syn(&f[1..], 80), None);
    }
}
