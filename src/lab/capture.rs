//! Capturing frames on a lab link (AF_PACKET through pnet's datalink channel).
//!
//! A capture runs on its own thread inside the host's namespace and keeps every
//! frame seen on one interface, in both directions, with its arrival time,
//! until stopped. What it keeps is exactly what crossed the link: the byte
//! views and pcap files are made from these frames.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use pnet_datalink::Channel;

use super::netns::Netns;
use super::topology;
use crate::error::{Error, Result};
use crate::narrate::{Direction, Packet, Text, Wire};
use crate::wire::frame;

/// One captured frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// When it was seen.
    pub at: SystemTime,
    /// Host and interface, e.g. "h1:eth0".
    pub link: String,
    /// The Ethernet frame, header included.
    pub bytes: Vec<u8>,
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
            transport: "ethernet",
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
            wire: Some(Wire::frame(&self.link, &self.bytes)),
            ..Packet::default()
        }
        .between(from, to, label)
    }
}

/// A running capture; [`Capture::stop`] returns the frames.
pub struct Capture {
    stop: Arc<AtomicBool>,
    frames: Arc<Mutex<Vec<Frame>>>,
    handle: JoinHandle<Result<Result<()>>>,
}

type Ready = mpsc::Sender<std::result::Result<(), String>>;

fn capture_loop(
    link: String,
    iface: String,
    ready_tx: Ready,
    flag: Arc<AtomicBool>,
    sink: Arc<Mutex<Vec<Frame>>>,
) -> Result<()> {
    let found = pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.name == iface);
    let Some(nic) = found else {
        let _ = ready_tx.send(Err(format!("no interface {iface} to capture on")));
        return Err(Error::Lab(format!("no interface {iface} in {link}")));
    };
    let cfg = pnet_datalink::Config {
        read_timeout: Some(Duration::from_millis(20)),
        ..Default::default()
    };
    let mut rx = match pnet_datalink::channel(&nic, cfg) {
        Ok(Channel::Ethernet(_, rx)) => rx,
        Ok(_) => {
            let _ = ready_tx.send(Err("unsupported channel".into()));
            return Err(Error::Lab("unsupported datalink channel".into()));
        }
        Err(e) => {
            let msg = format!("cannot capture on {link}: {e} (needs CAP_NET_RAW)");
            let _ = ready_tx.send(Err(msg.clone()));
            return Err(Error::Lab(msg));
        }
    };
    let _ = ready_tx.send(Ok(()));
    // A packet socket on loopback sees every frame twice, leaving and arriving;
    // the pnet channel does not say which, so the second copy is dropped.
    let loopback = nic.is_loopback();
    while !flag.load(Ordering::Relaxed) {
        match rx.next() {
            Ok(bytes) => {
                if let Ok(mut v) = sink.lock() {
                    let now = SystemTime::now();
                    // The second copy follows the first within microseconds, though
                    // other loopback traffic may come in between.
                    let copy = loopback
                        && v.iter().rev().take(16).any(|l| {
                            l.bytes == bytes
                                && now
                                    .duration_since(l.at)
                                    .is_ok_and(|d| d < Duration::from_millis(5))
                        });
                    if copy {
                        continue;
                    }
                    v.push(Frame {
                        at: now,
                        link: link.clone(),
                        bytes: bytes.to_vec(),
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => return Err(Error::Lab(format!("capture on {link}: {e}"))),
        }
    }
    Ok(())
}

impl Capture {
    /// Start capturing on `iface` inside `ns`; returns once the socket is open.
    pub fn start(ns: &Netns, iface: &str) -> Result<Capture> {
        let link = format!("{}:{iface}", ns.name);
        let iface = iface.to_string();
        Self::begin(|ready, flag, sink| {
            ns.spawn(move || capture_loop(link, iface, ready, flag, sink))
        })
    }

    /// Start capturing on `iface` in the namespace netlab runs in.
    pub fn start_here(iface: &str) -> Result<Capture> {
        let iface = iface.to_string();
        Self::begin(|ready, flag, sink| {
            let link = iface.clone();
            Ok(std::thread::spawn(move || {
                Ok(capture_loop(link, iface, ready, flag, sink))
            }))
        })
    }

    fn begin(
        spawn: impl FnOnce(
            Ready,
            Arc<AtomicBool>,
            Arc<Mutex<Vec<Frame>>>,
        ) -> Result<JoinHandle<Result<Result<()>>>>,
    ) -> Result<Capture> {
        let stop = Arc::new(AtomicBool::new(false));
        let frames = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let handle = spawn(ready_tx, stop.clone(), frames.clone())?;
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => Ok(Capture {
                stop,
                frames,
                handle,
            }),
            Ok(Err(e)) => Err(Error::Lab(e)),
            Err(_) => Err(Error::Lab("capture did not start".into())),
        }
    }

    /// Wait until the frames so far satisfy `done`, or `timeout` passes; true if satisfied.
    pub fn wait_for(&self, timeout: Duration, mut done: impl FnMut(&[Frame]) -> bool) -> bool {
        let end = std::time::Instant::now() + timeout;
        loop {
            if self.frames.lock().is_ok_and(|v| done(&v)) {
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
        // Let frames already on the wire arrive.
        std::thread::sleep(Duration::from_millis(30));
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .join()
            .map_err(|_| Error::Lab("capture thread panicked".into()))???;
        let frames = self.frames.lock().map(|v| v.clone()).unwrap_or_default();
        Ok(frames)
    }
}
