//! The two ends of `tcp-vs-udp` and what they do: a client in h1 and a server
//! in h2 (or both on loopback), and each phase's exchange, returned as typed
//! results and the frames captured meanwhile. The story (demos/tcp_vs_udp)
//! reads them; nothing here narrates.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::lab::capture::{Capture, Frame};
use crate::lab::link;
use crate::lab::netns::Netns;
use crate::lab::topology::{NetLab, H1, H2};
use crate::privilege::Privileges;
use crate::sys::{tcp_info, TcpInfo};
use crate::text::tx;

use super::{tcp_receive, tcp_send, udp_receive, udp_send, PHASE_LIMIT};

/// The interfaces on the path h1 → sw1 → h2.
const LINK_ENDS: [(&str, &str); 4] = [("h1", "eth0"), ("h2", "eth0"), ("sw1", "p1"), ("sw1", "p2")];

/// A socket call between the demo's own two ends failed.
pub fn io(e: std::io::Error) -> Error {
    Error::system(
        tx("exchange data between", "在测试的两端之间收发数据："),
        "the test's two ends",
        e,
    )
}

/// Where the two ends run.
pub enum Ends {
    /// Client in h1, server in h2.
    Lab(NetLab),
    /// Both on 127.0.0.1.
    Loopback,
}

impl Ends {
    /// The server's address.
    pub fn server_ip(&self) -> Ipv4Addr {
        match self {
            Ends::Lab(_) => H2,
            Ends::Loopback => Ipv4Addr::LOCALHOST,
        }
    }

    /// The client's address.
    pub fn client_ip(&self) -> Ipv4Addr {
        match self {
            Ends::Lab(_) => H1,
            Ends::Loopback => Ipv4Addr::LOCALHOST,
        }
    }

    /// The two ends' names, client first.
    pub fn names(&self) -> (&'static str, &'static str) {
        match self {
            Ends::Lab(_) => ("h1", "h2"),
            Ends::Loopback => ("client", "server"),
        }
    }

    fn ns(&self, host: &str) -> Option<&Netns> {
        match self {
            Ends::Lab(l) => l.host(host).ok(),
            Ends::Loopback => None,
        }
    }

    /// Run `f` in `host` (lab) or right here (loopback).
    fn on<T: Send>(&self, host: &str, f: impl FnOnce() -> T + Send) -> Result<T> {
        match self.ns(host) {
            Some(ns) => ns.run(f),
            None => Ok(f()),
        }
    }

    /// A capture of the client's link, where the process may capture.
    pub fn capture(&self) -> Option<Capture> {
        match self {
            Ends::Lab(l) => l
                .host("h1")
                .ok()
                .and_then(|h1| Capture::start(h1, "eth0").ok()),
            Ends::Loopback if Privileges::probe().net_raw => Capture::start_here("lo").ok(),
            Ends::Loopback => None,
        }
    }

    /// A bounded capture of the client's link in the lab for a bulk
    /// transfer: the first `snap` bytes of each frame (headers, as `tcpdump
    /// -s`), and at most `max` frames, so a transfer of any size costs bounded
    /// memory. None on loopback, where a capture keeps whole frames of up to
    /// 64 KiB.
    pub fn capture_bulk(&self, snap: usize, max: usize) -> Result<Option<BoundedCapture>> {
        match self {
            Ends::Lab(l) => {
                let cap = Capture::start_snap(l.host("h1")?, "eth0", snap)?;
                Ok(Some(BoundedCapture::start(cap, max)))
            }
            Ends::Loopback => Ok(None),
        }
    }

    /// A connected TCP client and server (timeouts of 10 s on both).
    pub fn tcp_pair(&self) -> Result<(TcpStream, TcpStream)> {
        let ip = self.server_ip();
        let listener = self
            .on("h2", move || TcpListener::bind((ip, 0)))?
            .map_err(io)?;
        let addr = listener.local_addr().map_err(io)?;
        let client = self
            .on("h1", move || {
                TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            })?
            .map_err(io)?;
        let server = accept_within(&listener, Duration::from_secs(30))?;
        for s in [&client, &server] {
            s.set_read_timeout(Some(Duration::from_secs(10)))
                .map_err(io)?;
            s.set_write_timeout(Some(Duration::from_secs(10)))
                .map_err(io)?;
        }
        Ok((client, server))
    }

    /// A UDP client, a server (reads time out after 500 ms) and its address.
    pub fn udp_pair(&self) -> Result<(UdpSocket, UdpSocket, SocketAddr)> {
        let ip = self.server_ip();
        let server = self
            .on("h2", move || UdpSocket::bind((ip, 0)))?
            .map_err(io)?;
        let addr = server.local_addr().map_err(io)?;
        let client = self
            .on("h1", || UdpSocket::bind("0.0.0.0:0"))?
            .map_err(io)?;
        server
            .set_read_timeout(Some(Duration::from_millis(500)))
            .map_err(io)?;
        Ok((client, server, addr))
    }

    /// Make the link drop `pct` % of TCP and UDP packets each way, segment by
    /// segment (no GSO, so one lost packet is one lost segment), chosen by
    /// `pattern` (each protocol counted on its own at each end).
    pub fn make_lossy(&self, pct: u8, pattern: link::Pattern) -> Result<()> {
        if let Ends::Lab(lab) = self {
            for (host, iface) in LINK_ENDS {
                link::segment_by_segment(lab.host(host)?, iface)?;
            }
            for host in ["h1", "h2"] {
                link::drop_incoming_transport(lab.host(host)?, pct, pattern)?;
            }
        }
        Ok(())
    }

    /// Undo [`Ends::make_lossy`].
    pub fn make_clean(&self) -> Result<()> {
        if let Ends::Lab(lab) = self {
            for host in ["h1", "h2"] {
                link::clear(lab.host(host)?)?;
            }
            for (host, iface) in LINK_ENDS {
                link::restore_segmentation(lab.host(host)?, iface)?;
            }
        }
        Ok(())
    }
}

/// Accept one connection, or fail after `limit`: over a lossy link the client
/// can believe it is connected while the server's end of the handshake never
/// completed (its SYN-ACK retries all lost), and a blocking accept would wait forever.
fn accept_within(listener: &TcpListener, limit: Duration) -> Result<TcpStream> {
    listener.set_nonblocking(true).map_err(io)?;
    let start = Instant::now();
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).map_err(io)?;
                return Ok(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && start.elapsed() < limit => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the server saw no completed TCP handshake within {} s",
                        limit.as_secs()
                    ),
                )));
            }
            Err(e) => return Err(io(e)),
        }
    }
}

/// A capture that stops itself once it holds `max` frames (see [`Ends::capture_bulk`]).
pub struct BoundedCapture {
    done: Arc<AtomicBool>,
    watcher: std::thread::JoinHandle<Result<(Vec<Frame>, u64)>>,
    max: usize,
}

/// What a [`BoundedCapture`] kept.
pub struct Bulk {
    /// The frames, at most the bound, in the order they crossed the link.
    pub frames: Vec<Frame>,
    /// Frames the kernel dropped because the capture could not keep up.
    pub missed: u64,
    /// The bound was reached: later frames of the phase were not kept.
    pub full: bool,
}

impl BoundedCapture {
    fn start(cap: Capture, max: usize) -> BoundedCapture {
        let done = Arc::new(AtomicBool::new(false));
        let stop = done.clone();
        let watcher = std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if cap.wait_for(Duration::from_millis(20), |f| f.len() >= max) {
                    break;
                }
            }
            cap.stop_counted()
        });
        BoundedCapture { done, watcher, max }
    }

    /// Stop (if the bound has not stopped it already) and return what it kept.
    pub fn stop(self) -> Result<Bulk> {
        self.done.store(true, Ordering::Relaxed);
        let (mut frames, missed) = self
            .watcher
            .join()
            .map_err(|_| Error::Internal("a capture thread panicked".into()))??;
        frames.sort_by_key(|f| f.at);
        let full = frames.len() >= self.max;
        frames.truncate(self.max);
        Ok(Bulk {
            frames,
            missed,
            full,
        })
    }
}

/// Wait until the connection on `port` has been quiet for a while (at most a
/// few seconds): over a lossy link its last ACK may be lost and a FIN sent
/// again a retransmission timeout later, and that belongs to this phase's
/// packets, not to whatever the next phase captures.
fn settle(cap: Option<&Capture>, port: u16) {
    /// Longer than Linux's shortest retransmission timeout (200 ms).
    const QUIET: Duration = Duration::from_millis(300);
    const LIMIT: Duration = Duration::from_secs(3);
    let Some(cap) = cap else {
        std::thread::sleep(Duration::from_millis(20));
        return;
    };
    let ours = |f: &Frame| !crate::lab::capture::to_or_from(vec![f.clone()], &[port]).is_empty();
    cap.wait_for(LIMIT, |frames| {
        frames
            .iter()
            .rev()
            .find(|f| ours(f))
            .is_none_or(|f| f.at.elapsed().is_ok_and(|e| e >= QUIET))
    });
}

fn stop(cap: Option<Capture>) -> Vec<Frame> {
    cap.and_then(|c| c.stop().ok()).unwrap_or_default()
}

impl Ends {
    /// The frames of a phase whose servers listen on `ports`. In the lab the
    /// client's link carries only the lab's traffic; loopback carries every
    /// program's, so there only the frames to or from those ports are kept.
    fn ours(&self, cap: Option<Capture>, ports: &[u16]) -> Vec<Frame> {
        self.keep_ours(stop(cap), ports)
    }

    fn keep_ours(&self, frames: Vec<Frame>, ports: &[u16]) -> Vec<Frame> {
        if matches!(self, Ends::Lab(_)) {
            return frames;
        }
        crate::lab::capture::to_or_from(frames, ports)
    }
}

fn join<T>(h: std::thread::JoinHandle<std::io::Result<T>>) -> Result<T> {
    h.join()
        .map_err(|_| Error::Internal("a worker thread panicked".into()))?
        .map_err(io)
}

/// Phase 1: a TCP conversation from connect() to close, then one datagram.
pub struct Connection {
    /// How long connect() took: the handshake.
    pub connect_time: Duration,
    /// The TCP server's port.
    pub tcp_port: u16,
    /// The UDP server's port.
    pub udp_port: u16,
    /// The client's link meanwhile (none without a capture).
    pub frames: Vec<Frame>,
}

/// Connect, send "hello", close both ways; then send one datagram.
pub fn connection(ends: &Ends) -> Result<Connection> {
    let cap = ends.capture();
    let ip = ends.server_ip();
    let listener = ends
        .on("h2", move || TcpListener::bind((ip, 0)))?
        .map_err(io)?;
    let tcp_port = listener.local_addr().map_err(io)?.port();
    let addr = SocketAddr::from((ip, tcp_port));
    let t0 = Instant::now();
    let mut client = ends
        .on("h1", move || {
            TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        })?
        .map_err(io)?;
    let connect_time = t0.elapsed();
    // The first byte leaves as soon as connect() returns (the server's
    // kernel queues it before accept()), so the capture times the
    // handshake's cost to the first byte and nothing else.
    client.write_all(b"hello").map_err(io)?;
    let mut server = accept_within(&listener, Duration::from_secs(30))?;
    let mut buf = [0u8; 16];
    let _ = server.read(&mut buf).map_err(io)?;
    client.shutdown(Shutdown::Write).map_err(io)?;
    let _ = server.read(&mut buf);
    drop(server);
    let _ = client.read(&mut buf);
    drop(client);
    // UDP: one datagram, nothing before it.
    let (uc, us, uaddr) = ends.udp_pair()?;
    uc.send_to(b"hello", uaddr).map_err(io)?;
    let _ = us.recv_from(&mut buf);
    std::thread::sleep(Duration::from_millis(20));
    Ok(Connection {
        connect_time,
        tcp_port,
        udp_port: uaddr.port(),
        frames: ends.ours(cap, &[tcp_port, uaddr.port()]),
    })
}

/// Phase 2: three sends over each protocol, read late.
pub struct Boundaries {
    /// What was sent, three times.
    pub sent: Vec<String>,
    /// What each TCP read returned.
    pub reads: Vec<String>,
    /// What each UDP recv returned.
    pub datagrams: Vec<String>,
    /// The servers' ports (TCP, then UDP).
    pub server_ports: Vec<u16>,
    /// The client's link meanwhile.
    pub frames: Vec<Frame>,
}

/// Send "one", "two", "three" over TCP and over UDP; read each 50 ms later.
pub fn boundaries(ends: &Ends) -> Result<Boundaries> {
    let sends: [&[u8]; 3] = [b"one", b"two", b"three"];
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let cap = ends.capture();
    let (mut c, mut s) = ends.tcp_pair()?;
    let tcp_port = s.local_addr().map_err(io)?.port();
    c.set_nodelay(true).map_err(io)?;
    for m in sends {
        c.write_all(m).map_err(io)?;
    }
    std::thread::sleep(Duration::from_millis(50));
    let mut reads = Vec::new();
    let mut buf = [0u8; 1024];
    let total: usize = sends.iter().map(|m| m.len()).sum();
    let mut got = 0;
    while got < total {
        let k = s.read(&mut buf).map_err(io)?;
        if k == 0 {
            break;
        }
        reads.push(text(&buf[..k]));
        got += k;
    }
    let (uc, us, uaddr) = ends.udp_pair()?;
    for m in sends {
        uc.send_to(m, uaddr).map_err(io)?;
    }
    std::thread::sleep(Duration::from_millis(50));
    let mut datagrams = Vec::new();
    for _ in 0..3 {
        match us.recv_from(&mut buf) {
            Ok((k, _)) => datagrams.push(text(&buf[..k])),
            Err(_) => break,
        }
    }
    drop((c, s));
    std::thread::sleep(Duration::from_millis(20));
    Ok(Boundaries {
        sent: sends.iter().map(|m| text(m)).collect(),
        reads,
        datagrams,
        server_ports: vec![tcp_port, uaddr.port()],
        frames: ends.ours(cap, &[tcp_port, uaddr.port()]),
    })
}

/// Phase 3 over TCP: both directions at once on one connection.
pub enum TcpRun {
    /// Even the handshake failed.
    Unconnected {
        /// Why connect() or accept() gave up.
        error: Error,
        /// The client's link: the SYNs and their retries.
        frames: Vec<Frame>,
    },
    /// The connection carried what it could within the phase's bound.
    Ran {
        /// The byte stream the server read.
        at_server: Vec<u8>,
        /// The byte stream the client read.
        at_client: Vec<u8>,
        /// From the first message to both ends' end of stream.
        elapsed: Duration,
        /// TCP_INFO of the client's socket, afterwards.
        client: TcpInfo,
        /// TCP_INFO of the server's socket, afterwards.
        server: TcpInfo,
        /// The server's port.
        server_port: u16,
        /// The client's link meanwhile.
        frames: Vec<Frame>,
    },
}

/// `count` numbered messages of `size` bytes each way over one TCP connection.
pub fn tcp_both_ways(ends: &Ends, count: u32, size: usize) -> Result<TcpRun> {
    let cap = ends.capture();
    let (c, s) = match ends.tcp_pair() {
        Ok(p) => p,
        Err(error) => {
            return Ok(TcpRun::Unconnected {
                error,
                frames: stop(cap),
            })
        }
    };
    let tcp_port = s.local_addr().map_err(io)?.port();
    c.set_nodelay(true).map_err(io)?;
    s.set_nodelay(true).map_err(io)?;
    let (c_r, s_r) = (c.try_clone().map_err(io)?, s.try_clone().map_err(io)?);
    let start = Instant::now();
    let up = std::thread::spawn(move || tcp_send(c, count, size));
    let down = std::thread::spawn(move || tcp_send(s, count, size));
    let at_server = std::thread::spawn(move || tcp_receive(s_r));
    let at_client = tcp_receive(c_r).map_err(io)?;
    let at_server = join(at_server)?;
    let elapsed = start.elapsed();
    let (c, s) = (join(up)?, join(down)?);
    let (client, server) = (tcp_info(&c).map_err(io)?, tcp_info(&s).map_err(io)?);
    drop((c, s));
    settle(cap.as_ref(), tcp_port);
    Ok(TcpRun::Ran {
        at_server,
        at_client,
        elapsed,
        client,
        server,
        server_port: tcp_port,
        frames: ends.ours(cap, &[tcp_port]),
    })
}

/// Phase 3 over UDP: both sockets send and receive at once.
pub struct UdpRun {
    /// The numbers the server received, in arrival order.
    pub at_server: Vec<u32>,
    /// The numbers the client received, in arrival order.
    pub at_client: Vec<u32>,
    /// The client's address as the server sees it.
    pub client: SocketAddr,
    /// The server's address.
    pub server: SocketAddr,
    /// The client's link meanwhile.
    pub frames: Vec<Frame>,
}

/// `count` numbered datagrams of `size` bytes each way.
pub fn udp_both_ways(ends: &Ends, count: u32, size: usize) -> Result<UdpRun> {
    let cap = ends.capture();
    let (uc, us, server) = ends.udp_pair()?;
    let client = SocketAddr::from((ends.client_ip(), uc.local_addr().map_err(io)?.port()));
    let (uc_r, us_r) = (uc.try_clone().map_err(io)?, us.try_clone().map_err(io)?);
    let (up_done, down_done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (u1, d1) = (up_done.clone(), down_done.clone());
    let up = std::thread::spawn(move || {
        let r = udp_send(uc, server, count, size);
        u1.store(true, Ordering::Relaxed);
        r
    });
    let down = std::thread::spawn(move || {
        let r = udp_send(us, client, count, size);
        d1.store(true, Ordering::Relaxed);
        r
    });
    let at_server = std::thread::spawn(move || udp_receive(us_r, &up_done));
    let at_client = udp_receive(uc_r, &down_done).map_err(io)?;
    let at_server = join(at_server)?;
    join(up)?;
    join(down)?;
    std::thread::sleep(Duration::from_millis(20));
    Ok(UdpRun {
        at_server,
        at_client,
        client,
        server,
        frames: ends.ours(cap, &[server.port()]),
    })
}

/// Phase 4: bulk throughput and small round trips, and the system calls and
/// drops behind them.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    /// TCP's bulk rate.
    pub tcp_bytes_per_s: f64,
    /// UDP's bulk rate, as received.
    pub udp_bytes_per_s: f64,
    /// Share of the bulk datagrams that never arrived, %.
    pub udp_lost_percent: f64,
    /// Mean round trip of a 64-byte message over TCP, µs.
    pub tcp_rtt_us: f64,
    /// The same over UDP, µs.
    pub udp_rtt_us: f64,
    /// UDP round trips that came back.
    pub udp_answered: u32,
    /// The TCP bulk connection's server port (its frames in a capture).
    pub tcp_port: u16,
    /// write() calls the TCP sender made, each of at most [`WRITE`] bytes.
    pub tcp_writes: u64,
    /// read() calls that returned data to the TCP receiver.
    pub tcp_reads: u64,
    /// The UDP bulk's server port.
    pub udp_port: u16,
    /// sendto() calls the UDP sender made: one per datagram.
    pub udp_sends: u64,
    /// Of those, the ones the kernel refused (a full buffer: lost at once).
    pub udp_send_errors: u64,
    /// Datagrams the receiver got: one recvfrom() each.
    pub udp_received: u64,
    /// Datagrams the receiver's kernel dropped because the socket's buffer
    /// was full (`Udp: RcvbufErrors` of /proc/net/snmp in its namespace,
    /// before and after; None where the file cannot be read).
    pub udp_rcvbuf_errors: Option<u64>,
}

/// Round trips measured in phase 4.
pub const ROUNDS: u32 = 200;
/// Bytes the TCP sender hands write() at a time in phase 4.
pub const WRITE: usize = 128 * 1024;
/// Bytes of each UDP datagram in phase 4.
pub const DATAGRAM: usize = 1400;

/// A counter of the `Udp:` lines of /proc/net/snmp (a header line of names,
/// then a line of values): `RcvbufErrors`, `InDatagrams` …
pub fn udp_counter(snmp: &str, name: &str) -> Option<u64> {
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let names = udp.next()?;
    let values = udp.next()?;
    let at = names.split_whitespace().position(|n| n == name)?;
    values.split_whitespace().nth(at)?.parse().ok()
}

impl Ends {
    /// `Udp: RcvbufErrors` in `host`'s namespace (here, on loopback).
    fn rcvbuf_errors(&self, host: &str) -> Option<u64> {
        let snmp = self
            .on(host, || {
                std::fs::read_to_string("/proc/thread-self/net/snmp")
            })
            .ok()?
            .ok()?;
        udp_counter(&snmp, "RcvbufErrors")
    }
}

/// Send `total` bytes over TCP (writes of [`WRITE`] bytes) and over UDP
/// ([`DATAGRAM`]-byte datagrams, as fast as the sender can), then [`ROUNDS`]
/// 64-byte round trips over each; count the system calls each side made.
pub fn measure(ends: &Ends, total: u64) -> Result<Measured> {
    // TCP bulk
    let (mut c, mut s) = ends.tcp_pair()?;
    let tcp_port = s.local_addr().map_err(io)?.port();
    let start = Instant::now();
    let writer = std::thread::spawn(move || -> std::io::Result<u64> {
        let chunk = vec![0x5au8; WRITE];
        let mut left = total;
        let mut calls = 0u64;
        while left > 0 {
            let k = left.min(chunk.len() as u64) as usize;
            // write(), not write_all(): each call counted.
            let n = c.write(&chunk[..k])?;
            calls += 1;
            left -= n as u64;
        }
        c.shutdown(Shutdown::Write)?;
        Ok(calls)
    });
    let mut buf = vec![0u8; WRITE];
    let mut got = 0u64;
    let mut tcp_reads = 0u64;
    while let Ok(k) = s.read(&mut buf) {
        if k == 0 || start.elapsed() > PHASE_LIMIT {
            break;
        }
        tcp_reads += 1;
        got += k as u64;
    }
    let tcp_time = start.elapsed().as_secs_f64();
    let tcp_writes = join(writer)?;
    let tcp_bytes_per_s = got as f64 / tcp_time;

    // UDP bulk: as fast as the sender can; whatever the receiver keeps up with.
    let (uc, us, uaddr) = ends.udp_pair()?;
    us.set_read_timeout(Some(Duration::from_millis(300)))
        .map_err(io)?;
    let count = total.div_ceil(DATAGRAM as u64);
    let drops_before = ends.rcvbuf_errors("h2");
    let start = Instant::now();
    let sender = std::thread::spawn(move || -> std::io::Result<u64> {
        let d = vec![0x5au8; DATAGRAM];
        let mut refused = 0u64;
        for _ in 0..count {
            // A full socket buffer is loss too: keep going, as UDP does.
            if uc.send_to(&d, uaddr).is_err() {
                refused += 1;
            }
        }
        Ok(refused)
    });
    let mut ubuf = vec![0u8; 2048];
    let mut ugot = 0u64;
    let mut udp_received = 0u64;
    let mut last = start;
    while let Ok((k, _)) = us.recv_from(&mut ubuf) {
        ugot += k as u64;
        udp_received += 1;
        last = Instant::now();
        if start.elapsed() > PHASE_LIMIT {
            break;
        }
    }
    let udp_send_errors = join(sender)?;
    let udp_rcvbuf_errors = drops_before
        .zip(ends.rcvbuf_errors("h2"))
        .map(|(a, b)| b.saturating_sub(a));
    let udp_time = last.duration_since(start).as_secs_f64().max(1e-6);
    let udp_bytes_per_s = ugot as f64 / udp_time;
    let udp_lost_percent = 100.0 * (1.0 - ugot as f64 / (count * DATAGRAM as u64) as f64);

    // Round trips
    let (mut c, mut s) = ends.tcp_pair()?;
    c.set_nodelay(true).map_err(io)?;
    s.set_nodelay(true).map_err(io)?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let mut b = [0u8; 64];
        for _ in 0..ROUNDS {
            s.read_exact(&mut b)?;
            s.write_all(&b)?;
        }
        Ok(())
    });
    let t = Instant::now();
    let mut b = [7u8; 64];
    for _ in 0..ROUNDS {
        c.write_all(&b).map_err(io)?;
        c.read_exact(&mut b).map_err(io)?;
    }
    let tcp_rtt_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
    join(echo)?;
    let (uc, us, uaddr_rtt) = ends.udp_pair()?;
    uc.set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(io)?;
    let echo = std::thread::spawn(move || {
        let mut b = [0u8; 64];
        for _ in 0..ROUNDS {
            match us.recv_from(&mut b) {
                Ok((k, from)) => {
                    let _ = us.send_to(&b[..k], from);
                }
                Err(_) => return,
            }
        }
    });
    let t = Instant::now();
    let mut udp_answered = 0u32;
    for _ in 0..ROUNDS {
        uc.send_to(&b, uaddr_rtt).map_err(io)?;
        if uc.recv_from(&mut b).is_ok() {
            udp_answered += 1;
        }
    }
    let udp_rtt_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
    let _ = echo.join();
    Ok(Measured {
        tcp_bytes_per_s,
        udp_bytes_per_s,
        udp_lost_percent,
        tcp_rtt_us,
        udp_rtt_us,
        udp_answered,
        tcp_port,
        tcp_writes,
        tcp_reads,
        udp_port: uaddr.port(),
        udp_sends: count,
        udp_send_errors,
        udp_received,
        udp_rcvbuf_errors,
    })
}

/// LAN A's broadcast address.
pub const BROADCAST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 255);

/// Phase 5: one datagram to LAN A's broadcast address, and a TCP attempt.
pub struct Broadcast {
    /// Each listening host and whether the datagram reached it.
    pub heard: Vec<(&'static str, bool)>,
    /// Why connect() to the broadcast address failed (None: it connected).
    pub tcp_error: Option<std::io::Error>,
    /// h1's and h3's links, in time order.
    pub frames: Vec<Frame>,
}

/// h1 sends to 198.51.100.255 while h2, r1 and h3 listen; then tries TCP there.
pub fn broadcast(lab: &NetLab) -> Result<Broadcast> {
    let port = 9999u16;
    let mut receivers = Vec::new();
    for host in ["h2", "r1", "h3"] {
        let s = lab
            .host(host)?
            .run(move || UdpSocket::bind(("0.0.0.0", port)))?
            .map_err(io)?;
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .map_err(io)?;
        receivers.push((host, s));
    }
    let h1 = lab.host("h1")?;
    let caps = [
        Capture::start(h1, "eth0")?,
        Capture::start(lab.host("h3")?, "eth0")?,
    ];
    h1.run(move || -> std::io::Result<()> {
        let s = UdpSocket::bind("0.0.0.0:0")?;
        s.set_broadcast(true)?;
        s.send_to(b"hello, LAN A", (BROADCAST, port))?;
        Ok(())
    })?
    .map_err(io)?;
    let mut buf = [0u8; 64];
    let heard = receivers
        .iter()
        .map(|(host, s)| (*host, s.recv_from(&mut buf).is_ok()))
        .collect();
    let tcp_error = h1
        .run(move || {
            TcpStream::connect_timeout(
                &SocketAddr::from((BROADCAST, port)),
                Duration::from_millis(500),
            )
        })?
        .err();
    let mut frames: Vec<Frame> = Vec::new();
    for c in caps {
        frames.extend(c.stop()?);
    }
    frames.sort_by_key(|f| f.at);
    Ok(Broadcast {
        heard,
        tcp_error,
        frames,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_loopback_only_the_phases_own_frames_are_kept() {
        let frame = |from: &str, to: &str| {
            let mut b = vec![0u8; 12];
            b.extend_from_slice(&[0x08, 0x00]);
            let ip =
                crate::wire::build::udp_packet(from.parse().unwrap(), to.parse().unwrap(), b"x");
            b.extend(ip.unwrap());
            Frame {
                at: std::time::SystemTime::now(),
                link: "lo".into(),
                len: b.len(),
                bytes: b,
            }
        };
        let frames = vec![
            frame("127.0.0.1:40000", "127.0.0.1:5300"),
            frame("127.0.0.1:5300", "127.0.0.1:40000"),
            // another program's datagram on the same loopback
            frame("127.0.0.1:41000", "127.0.0.1:9999"),
        ];
        let kept = Ends::Loopback.keep_ours(frames, &[5300]);
        assert_eq!(kept.len(), 2);
    }

    #[test]
    fn udp_counters_are_read_by_name() {
        let snmp = "Tcp: RtoAlgorithm RtoMin\nTcp: 1 200\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 4310 2 1678 5992 1678 0\nUdpLite: InDatagrams\nUdpLite: 0\n";
        assert_eq!(udp_counter(snmp, "RcvbufErrors"), Some(1678));
        assert_eq!(udp_counter(snmp, "InDatagrams"), Some(4310));
        assert_eq!(udp_counter(snmp, "Nope"), None);
        assert_eq!(udp_counter("", "RcvbufErrors"), None);
    }

    #[test]
    fn on_loopback_each_protocol_keeps_its_nature() {
        let ends = Ends::Loopback;
        let b = boundaries(&ends).unwrap();
        assert_eq!(b.sent, ["one", "two", "three"]);
        assert_eq!(b.reads.concat(), "onetwothree", "TCP is one byte stream");
        assert_eq!(b.datagrams, b.sent, "UDP keeps each send whole");
        let u = udp_both_ways(&ends, 20, 32).unwrap();
        assert_eq!(u.at_server.len(), 20);
        assert_eq!(u.at_client.len(), 20);
        match tcp_both_ways(&ends, 20, 32).unwrap() {
            TcpRun::Ran {
                at_server,
                at_client,
                ..
            } => {
                assert_eq!(at_server.len(), 20 * 32);
                assert_eq!(at_client, at_server);
            }
            TcpRun::Unconnected { error, .. } => panic!("loopback refused: {error}"),
        }
    }
}
