//! Capturing frames on a lab link (an AF_PACKET socket, kernel-timestamped).
//!
//! A capture runs on its own thread inside the host's namespace and keeps every
//! frame seen on one interface, in both directions, with its arrival time,
//! until stopped. What it keeps is exactly what crossed the link: the byte
//! views and pcap files are made from these frames.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

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

/// A packet socket bound to one interface, with kernel receive timestamps.
fn packet_socket(iface: &str) -> std::io::Result<std::os::fd::OwnedFd> {
    use nix::sys::socket::{
        setsockopt, socket, sockopt, AddressFamily, SockFlag, SockProtocol, SockType,
    };
    let index = nix::net::if_::if_nametoindex(iface).map_err(std::io::Error::from)?;
    let fd = socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::EthAll,
    )
    .map_err(std::io::Error::from)?;
    crate::sys::bind_packet(&fd, index)?;
    setsockopt(&fd, sockopt::ReceiveTimestampns, &true).map_err(std::io::Error::from)?;
    let tick = nix::sys::time::TimeVal::new(0, 20_000);
    setsockopt(&fd, sockopt::ReceiveTimeout, &tick).map_err(std::io::Error::from)?;
    Ok(fd)
}

fn capture_loop(
    link: String,
    iface: String,
    ready_tx: Ready,
    flag: Arc<AtomicBool>,
    sink: Arc<Mutex<Vec<Frame>>>,
) -> Result<()> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, LinkAddr, MsgFlags};
    use std::os::fd::AsRawFd;
    let fd = match packet_socket(&iface) {
        Ok(fd) => fd,
        Err(e) => {
            let msg = if e.raw_os_error() == Some(libc::ENODEV) {
                format!("no interface {iface} in {link}")
            } else {
                format!("cannot capture on {link}: {e} (needs CAP_NET_RAW)")
            };
            let _ = ready_tx.send(Err(msg.clone()));
            return Err(Error::Lab(msg));
        }
    };
    let _ = ready_tx.send(Ok(()));
    let mut buf = vec![0u8; 65_536];
    let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
    while !flag.load(Ordering::Relaxed) {
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let got = recvmsg::<LinkAddr>(fd.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty());
        let r = match got {
            Ok(r) => r,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::Lab(format!("capture on {link}: {e}"))),
        };
        // A packet socket on loopback sees every frame twice, leaving
        // (PACKET_OUTGOING) and arriving: keep the first.
        if iface == "lo"
            && r.address
                .is_some_and(|a| a.pkttype() != libc::PACKET_OUTGOING)
        {
            continue;
        }
        // The kernel's time of arrival orders frames from several links truly.
        let mut at = None;
        if let Ok(cms) = r.cmsgs() {
            for c in cms {
                if let ControlMessageOwned::ScmTimestampns(ts) = c {
                    let d = Duration::new(ts.tv_sec().max(0) as u64, ts.tv_nsec().max(0) as u32);
                    at = Some(std::time::UNIX_EPOCH + d);
                }
            }
        }
        let n = r.bytes;
        let frame = Frame {
            at: at.unwrap_or_else(SystemTime::now),
            link: link.clone(),
            bytes: buf[..n].to_vec(),
        };
        if let Ok(mut v) = sink.lock() {
            v.push(frame);
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
