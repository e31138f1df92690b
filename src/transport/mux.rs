//! The engine of `io-mux`: blocking and non-blocking reads, the cost of one
//! `select`, `poll` and `epoll_wait` call over many idle connections, level-
//! against edge-triggered epoll, and a thread per connection against one
//! epoll thread. All on loopback, with real sockets; no narration here.
//!
//! The idle connections' far ends live in a second process (`netlab
//! io-mux-peer`), as real clients would: this process then holds one
//! descriptor per connection, not two, so 10 000 connections fit a
//! descriptor limit of 20 000.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::select::{FdSet, FD_SETSIZE};
use nix::sys::time::TimeVal;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::lab::capture::{Capture, Frame};
use crate::text::tx;
use crate::transport::stream::{exchange_error as io, pair};

/// Descriptors this process keeps for itself beyond the watched ones
/// (stdio, the listener, the active pair, epoll, a capture, the peer's pipes).
pub const SPARE_FDS: u64 = 64;

/// The descriptor limit before and after raising the soft limit to the hard one.
#[derive(Clone, Copy, Debug, Serialize, schemars::JsonSchema)]
pub struct FdLimit {
    /// The soft limit the process started with.
    pub before: u64,
    /// The soft limit now.
    pub after: u64,
    /// The hard limit (the most an unprivileged process may set).
    pub hard: u64,
}

/// Raise RLIMIT_NOFILE's soft limit to its hard limit.
pub fn raise_fd_limit() -> Result<FdLimit> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)
        .map_err(|e| Error::system(tx("getrlimit", "getrlimit"), "RLIMIT_NOFILE", e.into()))?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
            .map_err(|e| Error::system(tx("setrlimit", "setrlimit"), "RLIMIT_NOFILE", e.into()))?;
    }
    Ok(FdLimit {
        before: soft,
        after: hard.max(soft),
        hard,
    })
}

/// A blocking read against a non-blocking one on the same connection.
#[derive(Clone, Debug)]
pub struct Blocking {
    /// How long the blocking recv() slept until data came.
    pub slept: Duration,
    /// The reading thread's state while it slept (`S`: sleeping), from /proc.
    pub state: Option<char>,
    /// Where in the kernel it slept (/proc/…/wchan), when the kernel says.
    pub wchan: Option<String>,
    /// Bytes the blocking recv() returned.
    pub got: usize,
    /// How long the non-blocking recv() took to say there was nothing.
    pub eagain: Duration,
    /// Its errno (EAGAIN, 11 on Linux).
    pub errno: i32,
    /// Loopback during the step, when captured.
    pub frames: Vec<Frame>,
    /// The client's port in those frames (the other end is the server).
    pub client_ports: Vec<u16>,
}

/// How long the writer waits before sending to the blocked reader.
pub const WRITER_DELAY: Duration = Duration::from_millis(300);

/// One message to a blocking reader after [`WRITER_DELAY`], then a
/// non-blocking read with nothing there.
pub fn blocking_vs_nonblocking(capture: bool) -> Result<Blocking> {
    let (mut c, mut s) = pair().map_err(io)?;
    let ports = [port(&c), port(&s)];
    let cap = capture.then(|| Capture::start_here("lo").ok()).flatten();
    let tid = nix::unistd::gettid().as_raw();
    let writer = std::thread::spawn(
        move || -> std::io::Result<(Option<char>, Option<String>, TcpStream)> {
            std::thread::sleep(WRITER_DELAY / 2);
            let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok();
            let state = stat.as_deref().and_then(thread_state);
            let wchan = std::fs::read_to_string(format!("/proc/self/task/{tid}/wchan"))
                .ok()
                .filter(|w| !w.is_empty() && w != "0");
            std::thread::sleep(WRITER_DELAY / 2);
            c.write_all(b"hello\n")?;
            // The connection stays open: a close would make the next read return 0.
            Ok((state, wchan, c))
        },
    );
    let mut buf = [0u8; 64];
    let t = Instant::now();
    let got = s.read(&mut buf).map_err(io)?;
    let slept = t.elapsed();
    let (state, wchan, _client) = writer
        .join()
        .map_err(|_| Error::Internal("writer panicked".into()))?
        .map_err(io)?;
    s.set_nonblocking(true).map_err(io)?;
    let t = Instant::now();
    let r = s.read(&mut buf);
    let eagain = t.elapsed();
    let errno = match r {
        Err(e) if e.kind() == ErrorKind::WouldBlock => e.raw_os_error().unwrap_or(0),
        Err(e) => return Err(io(e)),
        Ok(k) => {
            return Err(Error::Internal(format!(
                "a non-blocking read with nothing sent returned {k} bytes"
            )))
        }
    };
    Ok(Blocking {
        slept,
        state,
        wchan,
        got,
        eagain,
        errno,
        frames: keep(cap, &ports),
        client_ports: vec![ports[0]],
    })
}

/// The state letter in /proc/…/stat (the field after the command's closing parenthesis).
pub fn thread_state(stat: &str) -> Option<char> {
    stat.rsplit_once(") ")?.1.chars().next()
}

fn port(s: &TcpStream) -> u16 {
    s.local_addr().map(|a| a.port()).unwrap_or(0)
}

/// The frames of a capture to or from these ports (loopback carries other programs' traffic too).
fn keep(cap: Option<Capture>, ports: &[u16]) -> Vec<Frame> {
    let Some(cap) = cap else {
        return Vec::new();
    };
    std::thread::sleep(Duration::from_millis(10));
    crate::lab::capture::to_or_from(cap.stop().unwrap_or_default(), ports)
}

/// The client ends of the idle connections: `netlab io-mux-peer`, a second
/// process. It is killed when this is dropped.
pub struct Peer {
    child: Child,
    to: ChildStdin,
    from: BufReader<ChildStdout>,
}

impl Peer {
    /// Start the peer, connecting to `addr` on request.
    pub fn start(addr: SocketAddr) -> Result<Peer> {
        let exe = std::env::current_exe()
            .map_err(|e| Error::system(tx("find netlab itself", "找到 netlab 自身"), "", e))?;
        let mut child = Command::new(&exe)
            .arg("io-mux-peer")
            .arg(addr.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::system(tx("start", "启动"), exe.display(), e))?;
        let to = child
            .stdin
            .take()
            .ok_or_else(|| Error::Internal("no stdin".into()))?;
        let from = BufReader::new(
            child
                .stdout
                .take()
                .ok_or_else(|| Error::Internal("no stdout".into()))?,
        );
        Ok(Peer { child, to, from })
    }

    /// Ask for `k` more connections; `accept` takes them on this side
    /// meanwhile. Returns the peer's total.
    fn more(&mut self, k: usize, accept: impl FnOnce(usize) -> Result<()>) -> Result<usize> {
        writeln!(self.to, "{k}").map_err(io)?;
        self.to.flush().map_err(io)?;
        let accepted = accept(k);
        let mut line = String::new();
        self.from.read_line(&mut line).map_err(io)?;
        accepted?;
        match line.trim().split_once(' ') {
            Some(("ok", n)) => n
                .parse()
                .map_err(|_| Error::Internal(format!("io-mux-peer said {line:?}"))),
            _ => Err(Error::lab(tx(
                format!("the client process could not connect: {}", line.trim()),
                format!("客户端进程无法建立连接：{}", line.trim()),
            ))),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `netlab io-mux-peer ADDR`: read counts from stdin, open that many more
/// connections to ADDR each time, answer `ok TOTAL`; exit at end of input,
/// which closes them all.
pub fn peer_main(addr: SocketAddr) -> Result<i32> {
    let _ = raise_fd_limit();
    let mut held: Vec<TcpStream> = Vec::new();
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line.map_err(io)?;
        let Ok(k) = line.trim().parse::<usize>() else {
            let _ = writeln!(out, "err not a count: {line:?}");
            return Ok(crate::error::exit::LOCAL);
        };
        for _ in 0..k {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
                Ok(s) => held.push(s),
                Err(e) => {
                    let _ = writeln!(out, "err after {}: {e}", held.len());
                    let _ = out.flush();
                    return Ok(crate::error::exit::LOCAL);
                }
            }
        }
        writeln!(out, "ok {}", held.len()).map_err(Error::Output)?;
        out.flush().map_err(Error::Output)?;
    }
    Ok(crate::error::exit::OK)
}

/// The measured cost of one wait call with `n` idle connections and one ready.
#[derive(Clone, Copy, Debug, Serialize, schemars::JsonSchema)]
pub struct Point {
    /// Idle connections watched (plus the one active).
    pub n: usize,
    /// select(): microseconds per call, None where a descriptor is past FD_SETSIZE.
    pub select_us: Option<f64>,
    /// poll(): microseconds per call.
    pub poll_us: f64,
    /// epoll_wait(): microseconds per call.
    pub epoll_us: f64,
    /// The highest descriptor number watched.
    pub highest_fd: RawFd,
    /// The lowest watched descriptor select cannot take (≥ FD_SETSIZE), if any.
    pub first_beyond: Option<RawFd>,
}

/// What the scaling run measured.
#[derive(Clone, Debug, Serialize)]
pub struct Scaling {
    /// One point per size that fitted the descriptor limit.
    pub points: Vec<Point>,
    /// Sizes left out: more descriptors than the limit allows.
    pub skipped: Vec<usize>,
    /// The first watched descriptor select could not take (≥ FD_SETSIZE), if any.
    pub first_beyond: Option<RawFd>,
    /// epoll_wait() with nothing but the one ready descriptor: the kernel's floor.
    pub floor_us: f64,
}

/// The median of a few timed batches of `call`, in microseconds per call.
/// Each batch runs about a millisecond or `min_reps` calls, whichever is more.
fn cost(mut call: impl FnMut() -> Result<()>) -> Result<f64> {
    let t = Instant::now();
    call()?;
    let one = t.elapsed().max(Duration::from_nanos(50));
    let reps = (Duration::from_millis(2).as_nanos() / one.as_nanos()).clamp(5, 20_000) as u32;
    let mut batches = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        for _ in 0..reps {
            call()?;
        }
        batches.push(t.elapsed().as_secs_f64() * 1e6 / f64::from(reps));
    }
    batches.sort_by(f64::total_cmp);
    Ok(batches[batches.len() / 2])
}

fn wait_error(call: &'static str) -> impl Fn(nix::Error) -> Error {
    move |e| Error::system(tx(call, call), "", e.into())
}

/// One select() with zero timeout over `fds`, the set built afresh as select requires.
fn select_once(fds: &[std::os::fd::BorrowedFd<'_>]) -> Result<usize> {
    let mut set = FdSet::new();
    for fd in fds {
        set.insert(*fd);
    }
    let mut zero = TimeVal::new(0, 0);
    // nfds is the highest descriptor plus one, as a C program passes it.
    let nfds = fds.iter().map(AsRawFd::as_raw_fd).max().unwrap_or(-1) + 1;
    let n = nix::sys::select::select(nfds, &mut set, None, None, &mut zero)
        .map_err(wait_error("select"))?;
    Ok(n as usize)
}

/// Time select, poll and epoll_wait over `n` = each of `sizes` idle
/// connections plus one that has data, growing the connections as it goes.
pub fn wait_cost(sizes: &[usize], limit: u64) -> Result<Scaling> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io)?;
    let sock = socket2::SockRef::from(&listener);
    sock.listen(4096).map_err(io)?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(io)?;
    let addr = listener.local_addr().map_err(io)?;
    // The active connection: its client has written one byte, so it is always ready.
    let (mut active_c, active) = pair().map_err(io)?;
    active_c.write_all(b"!").map_err(io)?;

    let epoll_floor =
        Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(wait_error("epoll_create1"))?;
    epoll_floor
        .add(&active, EpollEvent::new(EpollFlags::EPOLLIN, 0))
        .map_err(wait_error("epoll_ctl"))?;
    let mut events = [EpollEvent::empty(); 16];
    let floor_us = cost(|| {
        epoll_floor
            .wait(&mut events, EpollTimeout::ZERO)
            .map(drop)
            .map_err(wait_error("epoll_wait"))
    })?;

    let mut peer = Peer::start(addr)?;
    let mut idle: Vec<TcpStream> = Vec::new();
    let mut points = Vec::new();
    let mut skipped = Vec::new();
    let mut first_beyond = None;
    let mut sorted: Vec<usize> = sizes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    for &n in &sorted {
        if n as u64 + SPARE_FDS > limit {
            skipped.push(n);
            continue;
        }
        if n > idle.len() {
            let more = n - idle.len();
            peer.more(more, |k| {
                for _ in 0..k {
                    let (s, _) = listener.accept().map_err(io)?;
                    idle.push(s);
                }
                Ok(())
            })?;
        }
        let watched: Vec<_> = idle[..n]
            .iter()
            .map(AsFd::as_fd)
            .chain(std::iter::once(active.as_fd()))
            .collect();
        let highest_fd = watched.iter().map(AsRawFd::as_raw_fd).max().unwrap_or(0);
        let beyond = watched
            .iter()
            .map(AsRawFd::as_raw_fd)
            .filter(|&fd| fd as usize >= FD_SETSIZE)
            .min();
        let select_us = match beyond {
            Some(fd) => {
                first_beyond = first_beyond.or(Some(fd));
                None
            }
            None => Some(cost(|| expect_one("select", select_once(&watched)?))?),
        };
        let mut pollfds: Vec<PollFd> = watched
            .iter()
            .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
            .collect();
        let poll_us = cost(|| {
            let k = nix::poll::poll(&mut pollfds, PollTimeout::ZERO).map_err(wait_error("poll"))?;
            expect_one("poll", k as usize)
        })?;
        let ep =
            Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(wait_error("epoll_create1"))?;
        for (i, fd) in watched.iter().enumerate() {
            ep.add(fd, EpollEvent::new(EpollFlags::EPOLLIN, i as u64))
                .map_err(wait_error("epoll_ctl"))?;
        }
        let epoll_us = cost(|| {
            let k = ep
                .wait(&mut events, EpollTimeout::ZERO)
                .map_err(wait_error("epoll_wait"))?;
            expect_one("epoll_wait", k)
        })?;
        points.push(Point {
            n,
            select_us,
            poll_us,
            epoll_us,
            highest_fd,
            first_beyond: beyond,
        });
    }
    drop(peer);
    Ok(Scaling {
        points,
        skipped,
        first_beyond,
        floor_us,
    })
}

/// Exactly the active descriptor must be ready; anything else means the
/// measurement is not of what it claims.
fn expect_one(call: &str, ready: usize) -> Result<()> {
    if ready == 1 {
        Ok(())
    } else {
        Err(Error::Internal(format!(
            "{call} reported {ready} ready descriptors where exactly one has data"
        )))
    }
}

/// Level- against edge-triggered epoll on data left unread.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Triggers {
    /// Waits made in each mode.
    pub waits: u32,
    /// Bytes the client wrote at the start.
    pub written: usize,
    /// Bytes read at each wake-up (the rest stays in the buffer).
    pub read_each: usize,
    /// Wake-ups, level-triggered.
    pub lt_wakeups: u32,
    /// Wake-ups, edge-triggered.
    pub et_wakeups: u32,
    /// Bytes still unread at the end, level-triggered.
    pub lt_left: usize,
    /// Bytes still unread at the end, edge-triggered.
    pub et_left: usize,
    /// Whether edge-triggered woke again once new data came.
    pub et_new_data_wakes: bool,
    /// How long each wait that found nothing waited, milliseconds.
    pub wait_ms: u64,
    /// Loopback during the step, when captured.
    #[serde(skip)]
    pub frames: Vec<Frame>,
    /// The clients' ports in those frames.
    #[serde(skip)]
    pub client_ports: Vec<u16>,
}

/// Write `written` bytes; then `waits` times wait (up to `wait`) and read
/// `read_each` bytes per wake-up, in each mode.
pub fn triggers(capture: bool) -> Result<Triggers> {
    const WAITS: u32 = 3;
    const WRITTEN: usize = 100;
    const READ_EACH: usize = 10;
    const WAIT: u16 = 100;
    let cap = capture.then(|| Capture::start_here("lo").ok()).flatten();
    let mut ports = Vec::new();
    let mut run = |edge: bool| -> Result<(u32, usize, bool)> {
        let (mut c, mut s) = pair().map_err(io)?;
        ports.extend([port(&c), port(&s)]);
        s.set_nonblocking(true).map_err(io)?;
        let ep =
            Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(wait_error("epoll_create1"))?;
        let flags = if edge {
            EpollFlags::EPOLLIN | EpollFlags::EPOLLET
        } else {
            EpollFlags::EPOLLIN
        };
        ep.add(&s, EpollEvent::new(flags, 1))
            .map_err(wait_error("epoll_ctl"))?;
        c.write_all(&[b'x'; WRITTEN]).map_err(io)?;
        let mut events = [EpollEvent::empty(); 4];
        let mut wakeups = 0;
        let mut left = 0;
        for _ in 0..WAITS {
            let k = ep
                .wait(&mut events, WAIT)
                .map_err(wait_error("epoll_wait"))?;
            if k > 0 {
                wakeups += 1;
                let mut b = [0u8; READ_EACH];
                s.read_exact(&mut b).map_err(io)?;
            }
        }
        let mut probe = [0u8; WRITTEN];
        // What is still there, without taking it.
        if let Ok(k) = nix::sys::socket::recv(
            s.as_raw_fd(),
            &mut probe,
            nix::sys::socket::MsgFlags::MSG_PEEK | nix::sys::socket::MsgFlags::MSG_DONTWAIT,
        ) {
            left = k;
        }
        // New data: an edge, so edge-triggered wakes again.
        c.write_all(b"y").map_err(io)?;
        let again = ep
            .wait(&mut events, WAIT)
            .map_err(wait_error("epoll_wait"))?
            > 0;
        Ok((wakeups, left, again))
    };
    let (lt_wakeups, lt_left, _) = run(false)?;
    let (et_wakeups, et_left, et_new_data_wakes) = run(true)?;
    Ok(Triggers {
        waits: WAITS,
        written: WRITTEN,
        read_each: READ_EACH,
        lt_wakeups,
        et_wakeups,
        lt_left,
        et_left,
        et_new_data_wakes,
        wait_ms: u64::from(WAIT),
        frames: keep(cap, &ports),
        client_ports: ports.iter().step_by(2).copied().collect(),
    })
}

/// A server's cost for the same clients: threads and memory it added, and
/// the time until every client had its reply.
#[derive(Clone, Copy, Debug, Serialize, schemars::JsonSchema)]
pub struct Served {
    /// Threads the server added to the process (read from /proc/self/status).
    pub threads: u64,
    /// Resident memory it added, KiB (VmRSS).
    pub rss_kb: u64,
    /// Address space it added, KiB (VmSize): mostly thread stacks reserved.
    pub vm_kb: u64,
    /// Milliseconds from the first connect to the last reply.
    pub ms: f64,
    /// Clients that got their reply.
    pub served: usize,
}

/// Which server design.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Design {
    /// accept(), then a thread of its own for each connection, blocking reads.
    ThreadPerConn,
    /// One thread, non-blocking sockets, one epoll set.
    Epoll,
}

/// A request and its reply: 16 bytes each way.
const REQUEST: &[u8; 16] = b"GET /index.html\n";
const REPLY: &[u8; 16] = b"200 OK here you\n";

/// (Threads, VmRSS KiB, VmSize KiB) of this process now.
pub fn process_status() -> Option<(u64, u64, u64)> {
    parse_status(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// Threads, VmRSS and VmSize from a /proc/…/status text.
pub fn parse_status(text: &str) -> Option<(u64, u64, u64)> {
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some((field("Threads:")?, field("VmRSS:")?, field("VmSize:")?))
}

/// Serve `clients` connections on loopback with `design`; every client
/// connects, sends one request and reads one reply, all connections open at
/// once. The figures are read while they are.
pub fn serve(design: Design, clients: usize) -> Result<Served> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io)?;
    socket2::SockRef::from(&listener).listen(4096).map_err(io)?;
    let addr = listener.local_addr().map_err(io)?;
    let (t0, r0, v0) = process_status().unwrap_or_default();
    let server = match design {
        Design::ThreadPerConn => std::thread::spawn(move || thread_per_conn(listener, clients)),
        Design::Epoll => std::thread::spawn(move || one_epoll_thread(listener, clients)),
    };
    let start = Instant::now();
    let mut conns = Vec::with_capacity(clients);
    let connected = (|| -> std::io::Result<usize> {
        for _ in 0..clients {
            let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            conns.push(s);
        }
        for s in &mut conns {
            s.write_all(REQUEST)?;
        }
        let mut served = 0;
        for s in &mut conns {
            let mut b = [0u8; 16];
            s.read_exact(&mut b)?;
            served += usize::from(&b == REPLY);
        }
        Ok(served)
    })();
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let (t1, r1, v1) = process_status().unwrap_or_default();
    drop(conns);
    let done = server
        .join()
        .map_err(|_| Error::Internal("server thread panicked".into()))?;
    // The server's own failure first: the clients' errors follow from it.
    let design = match design {
        Design::ThreadPerConn => "a thread per connection",
        Design::Epoll => "one epoll thread",
    };
    done.map_err(|e| {
        Error::system(
            tx("serve the clients with", "服务客户端："),
            format!("{design}, {clients} clients"),
            e,
        )
    })?;
    let served = connected.map_err(io)?;
    Ok(Served {
        threads: t1.saturating_sub(t0),
        rss_kb: r1.saturating_sub(r0),
        vm_kb: v1.saturating_sub(v0),
        ms,
        served,
    })
}

/// Answer one connection: read the request, reply, wait for the close.
fn answer(mut s: TcpStream) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut b = [0u8; 16];
    s.read_exact(&mut b)?;
    s.write_all(REPLY)?;
    while s.read(&mut b)? > 0 {}
    Ok(())
}

fn thread_per_conn(listener: TcpListener, clients: usize) -> std::io::Result<()> {
    let mut threads = Vec::with_capacity(clients);
    for i in 0..clients {
        let (s, _) = listener.accept()?;
        // A thread the system will not give (ulimit -u, memory) is an error, not a panic.
        let t = std::thread::Builder::new()
            .spawn(move || answer(s))
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "the system gave no thread for connection {} ({e}; see ulimit -u)",
                        i + 1
                    ),
                )
            })?;
        threads.push(t);
    }
    for t in threads {
        t.join()
            .map_err(|_| std::io::Error::other("a connection's thread panicked"))??;
    }
    Ok(())
}

fn one_epoll_thread(listener: TcpListener, clients: usize) -> std::io::Result<()> {
    let nix_io = |e: nix::Error| std::io::Error::from(e);
    listener.set_nonblocking(true)?;
    let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(nix_io)?;
    const LISTENER: u64 = u64::MAX;
    ep.add(&listener, EpollEvent::new(EpollFlags::EPOLLIN, LISTENER))
        .map_err(nix_io)?;
    let mut conns: Vec<Option<(TcpStream, usize)>> = Vec::with_capacity(clients);
    let mut accepted = 0;
    let mut closed = 0;
    let mut events = vec![EpollEvent::empty(); 256];
    let deadline = Instant::now() + Duration::from_secs(30);
    while closed < clients {
        if Instant::now() > deadline {
            return Err(std::io::Error::new(
                ErrorKind::TimedOut,
                "clients never finished",
            ));
        }
        let k = ep.wait(&mut events, 1000u16).map_err(nix_io)?;
        for ev in &events[..k] {
            if ev.data() == LISTENER {
                while accepted < clients {
                    match listener.accept() {
                        Ok((s, _)) => {
                            s.set_nonblocking(true)?;
                            ep.add(&s, EpollEvent::new(EpollFlags::EPOLLIN, conns.len() as u64))
                                .map_err(nix_io)?;
                            conns.push(Some((s, 0)));
                            accepted += 1;
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
                continue;
            }
            let i = ev.data() as usize;
            let Some((s, got)) = conns.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            let mut b = [0u8; 64];
            loop {
                match s.read(&mut b) {
                    Ok(0) => {
                        ep.delete(&*s).map_err(nix_io)?;
                        conns[i] = None;
                        closed += 1;
                        break;
                    }
                    Ok(k) => {
                        let before = *got;
                        *got += k;
                        if before < REQUEST.len() && *got >= REQUEST.len() {
                            s.write_all(REPLY)?;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_letter_follows_the_last_parenthesis() {
        assert_eq!(thread_state("1234 (a) b) S 1 2 3"), Some('S'));
        assert_eq!(thread_state("garbage"), None);
    }

    #[test]
    fn status_fields_are_read() {
        let t = "Name:\tnetlab\nVmSize:\t  12000 kB\nVmRSS:\t   3400 kB\nThreads:\t5\n";
        assert_eq!(parse_status(t), Some((5, 3400, 12000)));
        assert_eq!(parse_status("Threads:\t5\n"), None);
    }

    #[test]
    fn a_blocking_read_sleeps_and_a_non_blocking_one_does_not() {
        let b = blocking_vs_nonblocking(false).unwrap();
        assert!(b.slept >= WRITER_DELAY - Duration::from_millis(5), "{b:?}");
        assert_eq!(b.got, 6);
        assert_eq!(b.errno, libc::EAGAIN);
        assert!(b.eagain < b.slept, "{b:?}");
        assert_eq!(b.state, Some('S'), "the reader sleeps in recv()");
    }

    #[test]
    fn level_triggered_wakes_again_and_edge_triggered_does_not() {
        let t = triggers(false).unwrap();
        assert_eq!(t.lt_wakeups, t.waits);
        assert_eq!(t.et_wakeups, 1);
        assert_eq!(t.lt_left, t.written - t.read_each * t.waits as usize);
        assert_eq!(t.et_left, t.written - t.read_each);
        assert!(t.et_new_data_wakes);
    }

    #[test]
    fn both_servers_answer_every_client() {
        for d in [Design::ThreadPerConn, Design::Epoll] {
            let s = serve(d, 50).unwrap();
            assert_eq!(s.served, 50, "{d:?}");
        }
    }
}
