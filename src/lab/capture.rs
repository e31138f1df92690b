//! Capturing frames on a lab link (a [`PacketSocket`], kernel-timestamped).
//!
//! A capture runs on its own thread inside the host's namespace and keeps every
//! frame seen on one interface, in both directions, with its arrival time,
//! until stopped. What it keeps is exactly what crossed the link: the byte
//! views and pcap files are made from these frames.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use super::netns::Netns;
use super::topology;
use crate::error::{Error, Result};
use crate::packet_socket::PacketSocket;
use crate::record::{Direction, Packet, Wire};
use crate::text::Text;
use crate::wire::frame;

/// One captured frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// When it was seen.
    pub at: SystemTime,
    /// Host and interface, e.g. "h1:eth0".
    pub link: String,
    /// The Ethernet frame, header included (its first bytes only, when the
    /// capture had a snap length).
    pub bytes: Vec<u8>,
    /// Its length on the wire.
    pub len: usize,
}

impl Frame {
    /// This frame as a packet record: its ends are the lab hosts that own
    /// its MAC addresses (the hop on this link, not the IP ends).
    pub fn record(&self, show: bool) -> Packet {
        let d = frame::ethernet_frame(&self.bytes);
        let (from, to, label) = match &d {
            Ok(d) => {
                let end = |m: &Option<String>| {
                    m.as_deref()
                        .map(|m| {
                            topology::host_of_mac(m).map_or_else(|| m.to_string(), str::to_string)
                        })
                        .unwrap_or_default()
                };
                let from = end(&d.src_mac);
                let mut to = end(&d.dst_mac);
                if to == "*" {
                    to = topology::broadcast_receivers(&self.link, &from);
                }
                (from, to, frame::label(d))
            }
            Err(e) => (String::new(), String::new(), Text::from(e.to_string())),
        };
        Packet {
            direction: Direction::Captured,
            transport: "ethernet".into(),
            peer: self.link.clone(),
            summary: d
                .as_ref()
                .map(frame::summary)
                .unwrap_or_else(|e| e.to_string().into()),
            fields: d.map(|d| d.fields).unwrap_or_default(),
            bytes: self.bytes.clone(),
            show_bytes: show,
            // The ladder lists every frame; the text lists only those it explains.
            quiet: !show,
            at: Some(self.at),
            wire: Some(Wire {
                original_len: (self.len > self.bytes.len()).then_some(self.len),
                ..Wire::frame(&self.link, &self.bytes)
            }),
            ..Packet::default()
        }
        .between(from, to, label)
    }
}

/// The frames of a capture to or from one of `ports` (TCP or UDP): what
/// loopback carried for one conversation, without the rest of the machine's.
pub fn to_or_from(frames: Vec<Frame>, ports: &[u16]) -> Vec<Frame> {
    frames
        .into_iter()
        .filter(|f| {
            let (a, b) = match frame::ethernet_frame(&f.bytes).map(|d| d.kind) {
                Ok(frame::Kind::Ipv4 { tcp: Some(h), .. }) => (h.src_port, h.dst_port),
                Ok(frame::Kind::Ipv4 {
                    udp: Some((a, b, _)),
                    ..
                }) => (a, b),
                _ => return false,
            };
            ports.contains(&a) || ports.contains(&b)
        })
        .collect()
}

/// Frames cut into consecutive parts at the given times, each part in wire
/// order: part 0 holds what was seen before `cuts[0]`, part `i` what was seen
/// from `cuts[i - 1]` up to `cuts[i]`, the last part everything after. Every
/// frame lands in exactly one part, so steps built from the parts draw the
/// frames in the order they crossed, and none is dropped.
pub fn split_at(frames: impl IntoIterator<Item = Frame>, cuts: &[SystemTime]) -> Vec<Vec<Frame>> {
    let mut parts: Vec<Vec<Frame>> = vec![Vec::new(); cuts.len() + 1];
    for f in frames {
        let i = cuts.iter().take_while(|c| **c <= f.at).count();
        parts[i].push(f);
    }
    for p in &mut parts {
        p.sort_by_key(|f| f.at);
    }
    parts
}

/// A running capture; [`Capture::stop`] returns the frames.
pub struct Capture {
    shared: Arc<Shared>,
    handle: JoinHandle<Result<Result<()>>>,
}

/// What a capture's thread and its owner share.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    frames: Mutex<Vec<Frame>>,
    /// Frames the kernel dropped because the socket's buffer was full.
    missed: AtomicU64,
}

/// Bytes kept of each frame by default: all of it.
const WHOLE: usize = 65_536;

type Ready = mpsc::Sender<Result<()>>;

/// An AF_PACKET socket for every protocol, bound to `iface` of the calling
/// thread's namespace: what the delay line forwards with.
pub fn bound_packet_socket(iface: &str) -> std::io::Result<std::os::fd::OwnedFd> {
    PacketSocket::bind(iface).map(Into::into)
}

/// How long a read waits before the capture checks whether to stop.
const TICK: Duration = Duration::from_millis(20);

fn capture_loop(
    link: String,
    iface: String,
    snap: usize,
    ready_tx: Ready,
    shared: Arc<Shared>,
) -> Result<()> {
    let mut sock = match PacketSocket::capturing(&iface, TICK) {
        Ok(s) => s,
        Err(e) => {
            let err = |source| Error::Capture {
                link: link.clone(),
                source,
            };
            let again = e.raw_os_error().map(std::io::Error::from_raw_os_error);
            let _ = ready_tx.send(Err(err(e)));
            return Err(err(
                again.unwrap_or_else(|| std::io::Error::other("capture failed"))
            ));
        }
    };
    let _ = ready_tx.send(Ok(()));
    let mut buf = vec![0u8; snap.min(WHOLE)];
    while !shared.stop.load(Ordering::Relaxed) {
        let r = match sock.recv(&mut buf) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(source) => return Err(Error::Capture { link, source }),
        };
        // A packet socket on loopback sees every frame twice, leaving
        // (PACKET_OUTGOING) and arriving: keep the first.
        if iface == "lo" && r.outgoing == Some(false) {
            continue;
        }
        // The kernel's time of arrival orders frames from several links truly.
        let frame = Frame {
            at: r.at.unwrap_or_else(SystemTime::now),
            link: link.clone(),
            bytes: buf[..r.len.min(buf.len())].to_vec(),
            len: r.len,
        };
        if let Ok(mut v) = shared.frames.lock() {
            v.push(frame);
        }
    }
    if let Ok(n) = sock.drops() {
        shared.missed.store(u64::from(n), Ordering::Relaxed);
    }
    Ok(())
}

impl Capture {
    /// Start capturing on `iface` inside `ns`; returns once the socket is open.
    pub fn start(ns: &Netns, iface: &str) -> Result<Capture> {
        Self::start_snap(ns, iface, WHOLE)
    }

    /// Like [`Capture::start`], keeping only the first `snap` bytes of each
    /// frame (`tcpdump -s`): the headers of a bulk transfer, not its megabytes.
    pub fn start_snap(ns: &Netns, iface: &str, snap: usize) -> Result<Capture> {
        let link = format!("{}:{iface}", ns.name);
        let iface = iface.to_string();
        Self::begin(|ready, shared| {
            ns.spawn(move || capture_loop(link, iface, snap, ready, shared))
        })
    }

    /// Start capturing on `iface` in the namespace netlab runs in.
    pub fn start_here(iface: &str) -> Result<Capture> {
        let iface = iface.to_string();
        Self::begin(|ready, shared| {
            let link = iface.clone();
            Ok(std::thread::spawn(move || {
                Ok(capture_loop(link, iface, WHOLE, ready, shared))
            }))
        })
    }

    fn begin(
        spawn: impl FnOnce(Ready, Arc<Shared>) -> Result<JoinHandle<Result<Result<()>>>>,
    ) -> Result<Capture> {
        let shared = Arc::new(Shared::default());
        let (ready_tx, ready_rx) = mpsc::channel();
        let handle = spawn(ready_tx, shared.clone())?;
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => Ok(Capture { shared, handle }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Internal("a capture thread did not start".into())),
        }
    }

    /// Wait until the frames so far satisfy `done`, or `timeout` passes; true if satisfied.
    pub fn wait_for(&self, timeout: Duration, mut done: impl FnMut(&[Frame]) -> bool) -> bool {
        let end = std::time::Instant::now() + timeout;
        loop {
            if self.shared.frames.lock().is_ok_and(|v| done(&v)) {
                return true;
            }
            if std::time::Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The first frame so far that `pick` accepts, waiting up to `timeout` for it.
    pub fn find(&self, timeout: Duration, pick: impl Fn(&Frame) -> bool) -> Option<Frame> {
        let mut found = None;
        self.wait_for(timeout, |fs| {
            found = fs.iter().find(|f| pick(f)).cloned();
            found.is_some()
        });
        found
    }

    /// Stop and return every frame captured.
    pub fn stop(self) -> Result<Vec<Frame>> {
        self.stop_counted().map(|(frames, _)| frames)
    }

    /// Stop; every frame captured, and how many the kernel dropped because
    /// the capture could not keep up.
    pub fn stop_counted(self) -> Result<(Vec<Frame>, u64)> {
        // Let frames already on the wire arrive.
        std::thread::sleep(Duration::from_millis(30));
        self.shared.stop.store(true, Ordering::Relaxed);
        self.handle
            .join()
            .map_err(|_| Error::Internal("a capture thread panicked".into()))???;
        let frames = self
            .shared
            .frames
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        let missed = self.shared.missed.load(Ordering::Relaxed);
        tracing::debug!(
            "capture stopped: {} frames kept, {missed} dropped by the kernel",
            frames.len()
        );
        Ok((frames, missed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn at(us: u64) -> Frame {
        Frame {
            at: UNIX_EPOCH + Duration::from_micros(us),
            link: "h1:eth0".into(),
            bytes: vec![],
            len: 0,
        }
    }

    #[test]
    fn split_keeps_every_frame_once_and_in_wire_order() {
        let cuts = [at(10).at, at(20).at];
        let parts = split_at([at(25), at(3), at(10), at(12), at(1), at(30)], &cuts);
        let us = |p: &Vec<Frame>| -> Vec<u128> {
            p.iter()
                .map(|f| f.at.duration_since(UNIX_EPOCH).unwrap().as_micros())
                .collect()
        };
        assert_eq!(us(&parts[0]), [1, 3]);
        assert_eq!(
            us(&parts[1]),
            [10, 12],
            "a frame at a cut opens the next part"
        );
        assert_eq!(us(&parts[2]), [25, 30]);
        assert_eq!(split_at([at(5)], &[]).len(), 1);
    }
}
