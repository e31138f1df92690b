//! One series of echoes, as iputils ping runs it: a request every interval,
//! replies matched by sequence number (duplicates ignored), RTT from the
//! kernel's arrival stamp, until the count, the deadline, a stop signal or
//! the last reply's timeout. The caller hears of each reply as it arrives,
//! and gets every request and reply back at the end (each is a packet of
//! the run).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::{Pinger, Reply, Stats};
use crate::error::{Error, Result};

/// How one series of echoes is run.
#[derive(Clone, Copy, Debug)]
pub struct Series {
    /// Requests to send (None: until stopped).
    pub count: Option<u32>,
    /// Between requests.
    pub interval: Duration,
    /// Payload bytes.
    pub size: usize,
    /// Wait for a reply this long after the last request.
    pub timeout: Duration,
    /// Stop everything by then.
    pub deadline: Option<Instant>,
}

/// One echo request as it was sent.
#[derive(Clone, Debug)]
pub struct Sent {
    /// Its sequence number.
    pub seq: u16,
    /// The ICMP message (no IP header: the kernel adds it).
    pub msg: Vec<u8>,
    /// The wall-clock time just before it was handed to the kernel.
    pub at: SystemTime,
}

/// What one series did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Sent, received, every RTT.
    pub stats: Stats,
    /// Every request, in the order sent.
    pub sent: Vec<Sent>,
    /// Every reply that counted (one per sequence number), in the order read.
    pub replies: Vec<Reply>,
    /// From the first request to the end.
    pub elapsed: Duration,
}

impl Outcome {
    /// The reply to request `seq`, if it came.
    pub fn reply_to(&self, seq: u16) -> Option<&Reply> {
        self.replies.iter().find(|r| r.seq == seq)
    }

    /// The first reply's TTL, if request 1 was answered.
    pub fn first_ttl(&self) -> Option<u8> {
        self.reply_to(1).and_then(|r| r.ttl)
    }
}

/// A failed ICMP socket call: a missing privilege, or the send or receive
/// that failed (unreachable networks end the run with exit 1).
pub fn io(e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        crate::privilege::ping_privilege()
    } else {
        Error::Send {
            to: "the ping target".into(),
            source: e,
        }
    }
}

/// Run one series on `p`; `on_reply` hears each new reply with its RTT in ms.
pub fn run(
    p: &Pinger,
    s: Series,
    stop: &AtomicBool,
    mut on_reply: impl FnMut(&Reply, f64) -> Result<()>,
) -> Result<Outcome> {
    let start = Instant::now();
    let mut stats = Stats::default();
    let mut sent_at: Vec<(Instant, SystemTime)> = Vec::new();
    let mut sent: Vec<Sent> = Vec::new();
    let mut replies: Vec<Reply> = Vec::new();
    let mut seen = HashSet::new();
    let mut seq: u16 = 0;
    let mut next_send = start;
    let mut last_send = start;
    loop {
        if stop.load(Ordering::Relaxed) || s.deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let done_sending = s.count.is_some_and(|c| stats.transmitted >= c);
        if done_sending
            && (stats.received >= stats.transmitted || Instant::now() >= last_send + s.timeout)
        {
            break;
        }
        if !done_sending && Instant::now() >= next_send {
            seq = seq.wrapping_add(1);
            let (msg, t0, wall) = p.send(seq, s.size).map_err(io)?;
            sent_at.push((t0, wall));
            let now = Instant::now();
            sent.push(Sent { seq, msg, at: wall });
            stats.transmitted += 1;
            last_send = now;
            next_send = start + s.interval * stats.transmitted;
            continue;
        }
        let mut wake = if done_sending {
            last_send + s.timeout
        } else {
            next_send
        };
        wake = wake.min(Instant::now() + Duration::from_millis(100));
        if let Some(d) = s.deadline {
            wake = wake.min(d);
        }
        let Some(r) = p.recv(wake).map_err(io)? else {
            continue;
        };
        let idx = usize::from(r.seq.wrapping_sub(1));
        let Some((t0, wall0)) = sent_at.get(idx) else {
            continue;
        };
        if !seen.insert(r.seq) {
            continue;
        }
        // As iputils measures: the kernel's arrival stamp minus the time just before
        // sending; without a stamp, when netlab read the reply.
        let rtt = match r.kernel_at.and_then(|k| k.duration_since(*wall0).ok()) {
            Some(d) => d.as_secs_f64() * 1000.0,
            None => r.at.duration_since(*t0).as_secs_f64() * 1000.0,
        };
        stats.received += 1;
        stats.rtts.push(rtt);
        on_reply(&r, rtt)?;
        replies.push(r);
    }
    Ok(Outcome {
        stats,
        sent,
        replies,
        elapsed: start.elapsed(),
    })
}
