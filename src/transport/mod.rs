//! The transport engine behind `tcp-vs-udp`: numbered messages over TCP and
//! UDP, what each side received, and the typed results the story tells and
//! the JSON summary carries. No narration here.

use std::collections::HashSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::Serialize;

pub mod aio;
pub mod ends;
pub mod flow;
pub mod framing;
pub mod mux;
pub mod seen;
pub mod stream;

/// Gap between numbered messages in the loss test: each becomes its own packet.
pub const GAP: Duration = Duration::from_millis(2);
/// Bounds on every phase, so a broken link cannot hang the demo.
pub const PHASE_LIMIT: Duration = Duration::from_secs(60);

/// Message number `i`, `size` bytes: eight digits, then filler.
pub fn message(i: u32, size: usize) -> Vec<u8> {
    let mut m = format!("{i:08}").into_bytes();
    m.resize(size, b'.');
    m
}

pub fn seq_of(m: &[u8]) -> Option<u32> {
    std::str::from_utf8(m.get(..8)?).ok()?.parse().ok()
}

/// Write `count` numbered messages, one every [`GAP`], then close this direction.
pub fn tcp_send(mut w: TcpStream, count: u32, size: usize) -> std::io::Result<TcpStream> {
    for i in 0..count {
        w.write_all(&message(i, size))?;
        std::thread::sleep(GAP);
    }
    w.shutdown(Shutdown::Write)?;
    Ok(w)
}

/// Read until the other side closes its direction (or the phase limit).
pub fn tcp_receive(mut r: TcpStream) -> std::io::Result<Vec<u8>> {
    // Long enough for TCP to recover from several losses of one segment in a row
    // (the retransmission timeout doubles each time); the phase limit still bounds it.
    r.set_read_timeout(Some(PHASE_LIMIT))?;
    let start = Instant::now();
    let mut stream = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => stream.extend_from_slice(&buf[..k]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => return Err(e),
        }
        if start.elapsed() > PHASE_LIMIT {
            break;
        }
    }
    Ok(stream)
}

/// Send `count` numbered datagrams, one every [`GAP`].
pub fn udp_send(sock: UdpSocket, to: SocketAddr, count: u32, size: usize) -> std::io::Result<()> {
    for i in 0..count {
        sock.send_to(&message(i, size), to)?;
        std::thread::sleep(GAP);
    }
    Ok(())
}

/// Receive numbered datagrams until the sender is done and the line is quiet: their order.
pub fn udp_receive(sock: UdpSocket, sender_done: &AtomicBool) -> std::io::Result<Vec<u32>> {
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    let start = Instant::now();
    let mut order = Vec::new();
    let mut buf = vec![0u8; 2048];
    let mut idle_since = Instant::now();
    loop {
        match sock.recv_from(&mut buf) {
            Ok((k, _)) => {
                if let Some(q) = seq_of(&buf[..k]) {
                    order.push(q);
                }
                idle_since = Instant::now();
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if sender_done.load(Ordering::Relaxed)
                    && idle_since.elapsed() >= Duration::from_millis(400)
                {
                    break;
                }
            }
            Err(e) => return Err(e),
        }
        if start.elapsed() > PHASE_LIMIT {
            break;
        }
    }
    Ok(order)
}

/// What one direction of the loss test delivered.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Delivery {
    /// The sender's participant id (`h1`, `h2`; `client`, `server` on loopback).
    pub from: &'static str,
    /// The receiver's participant id.
    pub to: &'static str,
    /// Numbered messages sent this way.
    pub sent: u32,
    /// Messages that arrived (distinct numbers).
    pub delivered: u32,
    /// What arrived, arrived in the order it was sent.
    pub in_order: bool,
    /// Every message arrived.
    pub complete: bool,
    /// How many numbers never arrived.
    #[serde(serialize_with = "count")]
    #[schemars(with = "u32")]
    pub lost: Vec<u32>,
    /// Messages that arrived after a higher number had (UDP; 0 for TCP).
    pub reordered: u32,
}

fn count<S: serde::Serializer>(v: &[u32], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_u64(v.len() as u64)
}

impl Delivery {
    pub fn tcp(
        from: &'static str,
        to: &'static str,
        stream: &[u8],
        count: u32,
        size: usize,
    ) -> Delivery {
        let seqs: Vec<Option<u32>> = stream.chunks(size).map(seq_of).collect();
        let delivered = seqs.iter().flatten().count() as u32;
        let in_order = seqs.iter().enumerate().all(|(i, q)| *q == Some(i as u32));
        Delivery {
            from,
            to,
            sent: count,
            delivered,
            in_order,
            complete: delivered == count,
            // A byte stream has no holes: what is missing is the tail not yet delivered.
            lost: (delivered..count).collect(),
            reordered: 0,
        }
    }

    pub fn udp(from: &'static str, to: &'static str, order: &[u32], count: u32) -> Delivery {
        let got: HashSet<u32> = order.iter().copied().collect();
        let lost: Vec<u32> = (0..count).filter(|q| !got.contains(q)).collect();
        let mut max = None;
        let mut reordered = 0u32;
        for q in order {
            if max.is_some_and(|m| *q < m) {
                reordered += 1;
            }
            max = max.max(Some(*q));
        }
        Delivery {
            from,
            to,
            sent: count,
            delivered: got.len() as u32,
            in_order: reordered == 0,
            complete: lost.is_empty(),
            lost,
            reordered,
        }
    }
}

/// What TCP did in the loss test (the JSON summary's `tcp`).
#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
pub struct TcpResult {
    /// Numbered messages sent, both ways together.
    pub sent: u32,
    /// Messages delivered, both ways together.
    pub delivered: u32,
    /// Each direction's stream held the messages in the order sent.
    pub in_order: bool,
    /// Everything arrived within the time bound.
    pub complete: bool,
    /// False when even the handshake failed.
    pub connected: bool,
    /// From TCP_INFO of both ends; the SYN retransmissions when not connected.
    pub retransmits: u32,
    /// Data segments both ends sent (TCP_INFO's `tcpi_data_segs_out`), when connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_segments: Option<u32>,
    /// Milliseconds from the first message to both ends' end of stream, when connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
    /// Each direction, client to server first (absent when not connected).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub directions: Vec<Delivery>,
    /// The bulk transfer's rate, bytes per second (0 until the throughput phase).
    pub bytes_per_s: f64,
    /// Messages (both ways) that had arrived but waited for an earlier, lost
    /// one to be sent again: head-of-line blocking, from the capture
    /// (absent without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_back: Option<seen::HeldBack>,
}

impl TcpResult {
    /// Every message arrived, in order.
    pub fn delivered_all(&self) -> bool {
        self.connected && self.delivered == self.sent && self.in_order
    }
}

/// What UDP did in the loss test (the JSON summary's `udp`).
#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
pub struct UdpResult {
    /// Numbered datagrams sent, both ways together.
    pub sent: u32,
    /// Datagrams received, both ways together.
    pub delivered: u32,
    /// Datagrams that never arrived, both ways together.
    pub lost: u32,
    /// The first 50 numbers lost, client to server.
    pub lost_messages: Vec<u32>,
    /// Datagrams that arrived after a higher number had, both ways together.
    pub reordered: u32,
    /// Each direction, client to server first.
    pub directions: Vec<Delivery>,
    /// The bulk transfer's rate as received, bytes per second (0 until the throughput phase).
    pub bytes_per_s: f64,
    /// Percent of the bulk datagrams that never arrived.
    pub bulk_lost_percent: f64,
}

/// The throughput phase's figures.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cost {
    /// TCP's bulk rate, bytes per second.
    pub tcp_bytes_per_s: f64,
    /// UDP's bulk rate as received, bytes per second.
    pub udp_bytes_per_s: f64,
    /// Percent of the bulk datagrams that never arrived.
    pub udp_bulk_lost_percent: f64,
}

/// The summary of `tcp-vs-udp`: what each protocol did over the same link.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Summary {
    /// The loss test's drop rate, percent each way (0 on loopback).
    pub loss_percent: u8,
    /// How the loss test's link chose what to drop: `fixed` (the same share
    /// every run, the default) or `random` (`--random-loss`).
    pub loss_pattern: crate::lab::link::Pattern,
    /// The run used the namespace lab (false: `--loopback`).
    pub lab: bool,
    /// TCP's loss test, and its bulk rate.
    pub tcp: TcpResult,
    /// UDP's loss test, and its bulk rate and loss.
    pub udp: UdpResult,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_their_number() {
        let m = message(42, 16);
        assert_eq!(m.len(), 16);
        assert_eq!(seq_of(&m), Some(42));
        assert_eq!(seq_of(b"xx"), None);
    }

    #[test]
    fn a_tcp_stream_has_no_holes_and_udp_counts_what_came_late() {
        let stream: Vec<u8> = (0..3).flat_map(|i| message(i, 16)).collect();
        let d = Delivery::tcp("h1", "h2", &stream, 5, 16);
        assert_eq!((d.delivered, d.in_order, d.complete), (3, true, false));
        assert_eq!(d.lost, vec![3, 4]);
        let u = Delivery::udp("h1", "h2", &[0, 2, 1, 4], 5);
        assert_eq!((u.delivered, u.reordered, u.in_order), (4, 1, false));
        assert_eq!(u.lost, vec![3]);
        let v = serde_json::to_value(&u).unwrap();
        assert_eq!(v["lost"], 1, "JSON carries the count: {v}");
    }
}
