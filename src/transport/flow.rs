//! TCP flow control, captured: the engine of `producer-consumer`'s second
//! half (Q29). A sender writes fast; a receiver with a small receive buffer
//! stops reading; its advertised window shrinks to zero, the sender probes,
//! and the window reopens when the receiver reads again. No narration here.
//!
//! Everything runs in an anonymous network namespace of its own (only its
//! loopback, up): the capture holds this conversation and nothing else,
//! and the namespace's TCP settings are the kernel's defaults whatever the
//! host was tuned to. It disappears with the process, however it ends.
//!
//! The receiver stays paused until the capture shows the zero window and
//! the probes asked for (bounded by a time limit), so every run shows them:
//! the pause is decided by the packets, not by a guess at the kernel's timers.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::Serialize;
use socket2::{Domain, Protocol, Socket, Type};

use crate::error::{Error, Result};
use crate::lab::capture::{self, Capture, Frame};
use crate::lab::netns::Netns;
use crate::text::tx;
use crate::wire::frame::{self, Kind};
use crate::wire::tcp as tcpw;

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const FIN: u8 = 0x01;
const RST: u8 = 0x04;

/// What a captured segment is in the flow-control story.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The sender's SYN.
    Syn,
    /// The receiver's SYN-ACK.
    SynAck,
    /// Data from the sender.
    Data,
    /// An acknowledgement with a window above zero.
    Ack,
    /// The receiver advertising a window of 0.
    ZeroWindow,
    /// A segment the sender sent while the receiver's window was 0, with 0
    /// or 1 byte: a zero-window probe.
    Probe,
    /// The receiver's first window above 0 after a zero window.
    WindowUpdate,
    /// A FIN.
    Fin,
    /// Anything else (a RST).
    Other,
}

/// One TCP segment of the conversation, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seg {
    /// Its index in the frames given to [`analyse`].
    pub frame: usize,
    /// Sent by the sender (else by the receiver).
    pub from_sender: bool,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flag bits.
    pub flags: u8,
    /// Payload bytes.
    pub len: usize,
    /// The window field as sent (bytes 14–15 of the TCP header).
    pub field: u16,
    /// The window in bytes: the field scaled by the shift its sender
    /// offered in the handshake (not scaled in a SYN).
    pub window: u64,
    /// Where the window field sits in the frame (its first byte).
    pub field_at: usize,
    /// What it is in the story.
    pub role: Role,
}

/// The conversation read from the capture.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flow {
    /// Every segment, in wire order.
    pub segs: Vec<Seg>,
    /// The window-scale shift the sender offered in its SYN.
    pub sender_shift: Option<u8>,
    /// The shift the receiver offered in its SYN-ACK.
    pub receiver_shift: Option<u8>,
    /// Segments from the receiver advertising a window of 0.
    pub zero_windows: usize,
    /// Zero-window probes from the sender.
    pub probes: usize,
    /// Windows reopened (0, then above 0).
    pub window_updates: usize,
}

impl Flow {
    /// The first segment with this role.
    pub fn first(&self, role: Role) -> Option<&Seg> {
        self.segs.iter().find(|s| s.role == role)
    }

    /// The segments with this role.
    pub fn all(&self, role: Role) -> impl Iterator<Item = &Seg> {
        self.segs.iter().filter(move |s| s.role == role)
    }

    /// Whether the window reopened after it was 0.
    pub fn reopened(&self) -> bool {
        match (
            self.segs.iter().position(|s| s.role == Role::ZeroWindow),
            self.segs.iter().rposition(|s| s.role == Role::WindowUpdate),
        ) {
            (Some(z), Some(u)) => u > z,
            _ => false,
        }
    }
}

/// Read the conversation with the receiver on `receiver_port` out of
/// `frames` (other frames are skipped): each segment's role, the windows
/// scaled by the handshake's shifts (RFC 7323: only when both SYNs carried
/// the option), the zero windows, the probes and the window updates.
pub fn analyse(frames: &[Frame], receiver_port: u16) -> Flow {
    struct Raw {
        frame: usize,
        h: tcpw::Header,
        len: usize,
        shift: Option<u8>,
        field_at: usize,
        from_sender: bool,
    }
    let mut raw = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let Ok(d) = frame::ethernet_frame(&f.bytes) else {
            continue;
        };
        let Kind::Ipv4 {
            tcp: Some(h),
            payload_len,
            ..
        } = d.kind
        else {
            continue;
        };
        let from_sender = h.dst_port == receiver_port;
        if !from_sender && h.src_port != receiver_port {
            continue;
        }
        let Some((_, tcp)) = frame::transport(&f.bytes) else {
            continue;
        };
        raw.push(Raw {
            frame: i,
            h,
            len: payload_len,
            shift: tcpw::window_scale(tcp),
            field_at: f.bytes.len() - tcp.len() + tcpw::field::WINDOW.start,
            from_sender,
        });
    }
    let sender_shift = raw
        .iter()
        .find(|r| r.from_sender && r.h.flags & (SYN | ACK) == SYN)
        .and_then(|r| r.shift);
    let receiver_shift = raw
        .iter()
        .find(|r| !r.from_sender && r.h.flags & (SYN | ACK) == SYN | ACK)
        .and_then(|r| r.shift);
    // Window scaling is on only if both ends offered it.
    let (tx_shift, rx_shift) = match (sender_shift, receiver_shift) {
        (Some(s), Some(r)) => (s, r),
        _ => (0, 0),
    };
    let mut flow = Flow {
        sender_shift,
        receiver_shift,
        ..Flow::default()
    };
    // The receiver's latest window, in bytes.
    let mut rx_window: Option<u64> = None;
    for r in raw {
        let h = r.h;
        let syn = h.flags & SYN != 0;
        let shift = if syn {
            0
        } else if r.from_sender {
            tx_shift
        } else {
            rx_shift
        };
        let window = u64::from(h.window) << shift;
        let role = if syn {
            if r.from_sender {
                Role::Syn
            } else {
                Role::SynAck
            }
        } else if h.flags & RST != 0 {
            Role::Other
        } else if h.flags & FIN != 0 {
            Role::Fin
        } else if r.from_sender {
            if rx_window == Some(0) && r.len <= 1 {
                Role::Probe
            } else if r.len > 0 {
                Role::Data
            } else {
                Role::Ack
            }
        } else if window == 0 {
            Role::ZeroWindow
        } else if rx_window == Some(0) {
            Role::WindowUpdate
        } else if r.len > 0 {
            Role::Data
        } else {
            Role::Ack
        };
        match role {
            Role::ZeroWindow => flow.zero_windows += 1,
            Role::Probe => flow.probes += 1,
            Role::WindowUpdate => flow.window_updates += 1,
            _ => {}
        }
        if !r.from_sender && !syn {
            rx_window = Some(window);
        } else if !r.from_sender {
            // The SYN-ACK's window is never scaled.
            rx_window = Some(u64::from(h.window));
        }
        flow.segs.push(Seg {
            frame: r.frame,
            from_sender: r.from_sender,
            seq: h.seq,
            ack: h.ack,
            flags: h.flags,
            len: r.len,
            field: h.window,
            window,
            field_at: r.field_at,
            role,
        });
    }
    flow
}

/// The run's settings.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Bytes the sender writes in all.
    pub total: usize,
    /// SO_RCVBUF asked for on the receiver's listening socket, before listen().
    pub rcvbuf: usize,
    /// SO_SNDBUF asked for on the sender's socket, before connect().
    pub sndbuf: usize,
    /// Probes to see before the receiver reads again.
    pub probes: usize,
    /// The longest the receiver stays paused, whatever the capture shows.
    pub limit: Duration,
}

/// A socket buffer: asked for with setsockopt, and what the kernel set.
#[derive(Clone, Copy, Debug, Serialize, JsonSchema)]
pub struct Buffer {
    /// Bytes asked for.
    pub asked: usize,
    /// Bytes getsockopt reported afterwards (Linux doubles the request, for
    /// its bookkeeping).
    pub got: usize,
}

/// What the sender's write() calls did.
#[derive(Clone, Copy, Debug, Default, Serialize, JsonSchema)]
pub struct Writes {
    /// write() calls that took bytes.
    pub calls: u32,
    /// Bytes taken in all.
    pub bytes: usize,
    /// Bytes taken before the first EAGAIN: what the two buffers held.
    pub before_full: Option<usize>,
    /// write() calls that returned EAGAIN (the send buffer was full), each
    /// followed by a poll() for POLLOUT that slept until there was room.
    pub eagain: u32,
}

/// One flow-control run.
pub struct FlowRun {
    /// The conversation's frames as captured on loopback, in wire order.
    pub frames: Vec<Frame>,
    /// Frames the capture could not keep (the kernel dropped them).
    pub missed: u64,
    /// Them, read.
    pub flow: Flow,
    /// The receiver's port.
    pub receiver_port: u16,
    /// The receiver's buffer.
    pub rcvbuf: Buffer,
    /// The sender's buffer.
    pub sndbuf: Buffer,
    /// The sender's writes.
    pub writes: Writes,
    /// Bytes the receiver read in all.
    pub received: usize,
    /// read() calls the receiver made once it read again.
    pub reads: u32,
    /// How long the receiver did not read, from accept() to its first read.
    pub paused: Duration,
    /// The capture showed the probes asked for before the limit.
    pub probes_seen: bool,
}

fn io(e: std::io::Error) -> Error {
    Error::system(
        tx("run the flow-control conversation:", "运行流量控制的会话："),
        "the sender and the receiver",
        e,
    )
}

/// Run the conversation in a namespace of its own and capture it.
pub fn zero_window(s: Settings) -> Result<FlowRun> {
    let ns = Netns::anonymous("flow")?;
    ns.ip(&["link", "set", "lo", "up"])?;
    ns.run(|| converse(s))?
}

/// The conversation, in the calling thread's namespace.
fn converse(s: Settings) -> Result<FlowRun> {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).map_err(io)?;
    // Before listen(): the SYN-ACK's window and window scale come from it,
    // and the accepted socket inherits it.
    listener.set_recv_buffer_size(s.rcvbuf).map_err(io)?;
    listener
        .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .map_err(io)?;
    listener.listen(1).map_err(io)?;
    let addr = listener
        .local_addr()
        .map_err(io)?
        .as_socket()
        .ok_or_else(|| io(std::io::Error::other("no address")))?;
    let cap = Capture::start_here("lo")?;
    let client = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).map_err(io)?;
    client.set_send_buffer_size(s.sndbuf).map_err(io)?;
    client.connect(&addr.into()).map_err(io)?;
    let (server, _) = listener.accept().map_err(io)?;
    let accepted = Instant::now();
    let rcvbuf = Buffer {
        asked: s.rcvbuf,
        got: server.recv_buffer_size().map_err(io)?,
    };
    let sndbuf = Buffer {
        asked: s.sndbuf,
        got: client.send_buffer_size().map_err(io)?,
    };
    client.set_nonblocking(true).map_err(io)?;
    let client: TcpStream = client.into();
    let mut server: TcpStream = server.into();
    let (total, limit) = (s.total, s.limit);
    let sender = std::thread::Builder::new()
        .name("sender".into())
        .spawn(move || send(client, total, limit))
        .map_err(io)?;

    // The receiver does not read until the capture shows the zero window
    // and the probes asked for.
    let port = addr.port();
    let probes_seen = cap.wait_for(limit, |fs| analyse(fs, port).probes >= s.probes);
    let paused = accepted.elapsed();

    // Read again, all of it, until the sender's FIN.
    server.set_read_timeout(Some(limit)).map_err(io)?;
    let mut buf = vec![0u8; 64 * 1024];
    let (mut received, mut reads) = (0, 0);
    loop {
        match server.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                received += k;
                reads += 1;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        }
    }
    let (writes, client) = sender
        .join()
        .map_err(|_| Error::Internal("the sender thread panicked".into()))?
        .map_err(io)?;
    drop(server);
    drop(client);
    let (frames, missed) = cap.stop_counted()?;
    let mut frames = capture::to_or_from(frames, &[port]);
    frames.sort_by_key(|f| f.at);
    let flow = analyse(&frames, port);
    Ok(FlowRun {
        frames,
        missed,
        flow,
        receiver_port: port,
        rcvbuf,
        sndbuf,
        writes,
        received,
        reads,
        paused,
        probes_seen,
    })
}

/// The sender: non-blocking writes of `total` bytes, a poll() for POLLOUT
/// after each EAGAIN; then its FIN. Returns the stream so it stays open
/// until the receiver has read everything.
fn send(mut c: TcpStream, total: usize, limit: Duration) -> std::io::Result<(Writes, TcpStream)> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let chunk = vec![b'p'; 4096];
    let mut w = Writes::default();
    let end = Instant::now() + limit * 2;
    while w.bytes < total {
        let n = chunk.len().min(total - w.bytes);
        match c.write(&chunk[..n]) {
            Ok(k) => {
                w.calls += 1;
                w.bytes += k;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                w.eagain += 1;
                w.before_full.get_or_insert(w.bytes);
                let ms = end.saturating_duration_since(Instant::now()).as_millis();
                if ms == 0 {
                    return Err(std::io::Error::new(
                        ErrorKind::TimedOut,
                        "the receiver's window never reopened",
                    ));
                }
                let mut fds = [PollFd::new(c.as_fd(), PollFlags::POLLOUT)];
                let t = PollTimeout::try_from(ms.min(60_000) as i32).unwrap_or(PollTimeout::MAX);
                match poll(&mut fds, t) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    c.shutdown(Shutdown::Write)?;
    Ok((w, c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    /// An Ethernet + IPv4 + TCP frame on loopback from port `src` to `dst`.
    fn seg(
        (src, dst): (u16, u16),
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
        opts: &[u8],
        len: usize,
    ) -> Frame {
        let hlen = 20 + opts.len();
        let mut b = vec![0u8; 14];
        b[12] = 0x08; // EtherType IPv4
        let total = 20 + hlen + len;
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
            127,
            0,
            0,
            1,
            127,
            0,
            0,
            1,
        ];
        b.append(&mut ip);
        b.extend_from_slice(&src.to_be_bytes());
        b.extend_from_slice(&dst.to_be_bytes());
        b.extend_from_slice(&seq.to_be_bytes());
        b.extend_from_slice(&ack.to_be_bytes());
        b.push(((hlen / 4) as u8) << 4);
        b.push(flags);
        b.extend_from_slice(&window.to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
        b.extend_from_slice(opts);
        b.extend(std::iter::repeat_n(b'p', len));
        Frame {
            at: UNIX_EPOCH,
            link: "lo".into(),
            len: b.len(),
            bytes: b,
        }
    }

    /// Window scale 7, then NOP padding to 4 bytes.
    const WS7: [u8; 4] = [3, 3, 7, 1];
    const WS0: [u8; 4] = [3, 3, 0, 1];

    #[test]
    fn the_zero_window_the_probes_and_the_update_are_found() {
        let (tx, rx) = (40000, 5000);
        let frames = vec![
            seg((tx, rx), 100, 0, SYN, 65495, &WS7, 0),
            seg((rx, tx), 900, 101, SYN | ACK, 4096, &WS0, 0),
            seg((tx, rx), 101, 901, ACK, 512, &[], 0),
            seg((tx, rx), 101, 901, ACK, 512, &[], 2048),
            seg((rx, tx), 901, 2149, ACK, 2048, &[], 0),
            seg((tx, rx), 2149, 901, ACK, 512, &[], 2048),
            seg((rx, tx), 901, 4197, ACK, 0, &[], 0),
            seg((tx, rx), 4196, 901, ACK, 512, &[], 0), // probe: seq = ack − 1, 0 bytes
            seg((rx, tx), 901, 4197, ACK, 0, &[], 0),
            seg((tx, rx), 4196, 901, ACK, 512, &[], 0),
            seg((rx, tx), 901, 4197, ACK, 4096, &[], 0), // window update
            seg((tx, rx), 4197, 901, ACK, 512, &[], 4096),
            seg((9, 9), 0, 0, ACK, 0, &[], 0), // another conversation
            seg((tx, rx), 8293, 901, FIN | ACK, 512, &[], 0),
        ];
        let f = analyse(&frames, rx);
        assert_eq!((f.sender_shift, f.receiver_shift), (Some(7), Some(0)));
        let roles: Vec<Role> = f.segs.iter().map(|s| s.role).collect();
        use Role::*;
        assert_eq!(
            roles,
            [
                Syn,
                SynAck,
                Ack,
                Data,
                Ack,
                Data,
                ZeroWindow,
                Probe,
                ZeroWindow,
                Probe,
                WindowUpdate,
                Data,
                Fin
            ]
        );
        assert_eq!((f.zero_windows, f.probes, f.window_updates), (2, 2, 1));
        assert!(f.reopened());
        // The sender's window field counts in units of 2^7.
        assert_eq!(f.segs[2].window, 512 << 7);
        assert_eq!(f.segs[10].window, 4096, "the receiver's shift is 0");
        assert_eq!(f.segs[12].frame, 13, "indices are into the frames given");
        // The window field's bytes, where the segment says.
        let z = f.first(ZeroWindow).unwrap();
        assert_eq!(&frames[z.frame].bytes[z.field_at..z.field_at + 2], &[0, 0]);
        let u = f.first(WindowUpdate).unwrap();
        assert_eq!(
            &frames[u.frame].bytes[u.field_at..u.field_at + 2],
            &[0x10, 0]
        );
    }

    #[test]
    fn without_both_shifts_no_window_is_scaled() {
        let frames = vec![
            seg((1, 2), 0, 0, SYN, 100, &WS7, 0),
            seg((2, 1), 0, 1, SYN | ACK, 100, &[], 0),
            seg((1, 2), 1, 1, ACK, 100, &[], 0),
        ];
        let f = analyse(&frames, 2);
        assert_eq!(f.segs[2].window, 100);
        assert!(!f.reopened());
        assert_eq!(f.probes, 0);
    }

    #[test]
    fn a_window_that_is_never_zero_has_no_probes() {
        let frames = vec![
            seg((1, 2), 0, 0, SYN, 100, &[], 0),
            seg((2, 1), 0, 1, SYN | ACK, 100, &[], 0),
            seg((1, 2), 1, 1, ACK, 100, &[], 1),
            seg((2, 1), 1, 2, ACK, 99, &[], 0),
        ];
        let f = analyse(&frames, 2);
        assert_eq!((f.zero_windows, f.probes, f.window_updates), (0, 0, 0));
        assert_eq!(
            f.segs[2].role,
            Role::Data,
            "1 byte into an open window is data"
        );
    }
}
