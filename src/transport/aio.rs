//! The engine of `async`: readiness (epoll says a socket may be read, then
//! read() copies) against completion (io_uring says the recv is done, the
//! bytes already copied), with every system call counted as it is made; one
//! tokio thread serving many connections at once; the same served by
//! Python's asyncio, with a script netlab writes and the system's python3
//! runs. Real sockets on loopback; no narration here.
//!
//! The clients of the served connections live in a second process (`netlab
//! async-peer`), so that the serving process holds one descriptor per
//! connection and its thread count is the server's alone. It and the Python
//! server end with netlab: they ask the kernel for SIGKILL when their parent
//! dies (PR_SET_PDEATHSIG), and the Python server also stops when its
//! standard input, a pipe from netlab, reaches its end.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::sys::uring;
use crate::text::tx;
use crate::transport::mux::{raise_fd_limit, FdLimit};
use crate::transport::stream::exchange_error as io;

/// A request and its reply: 16 bytes each way.
pub const REQUEST: &[u8; 16] = b"GET /index.html\n";
/// The reply to [`REQUEST`].
pub const REPLY: &[u8; 16] = b"200 OK here you\n";

/// How long the writer waits before the clients send, so the reads are
/// waiting (in epoll_wait, or handed to the kernel) before the data comes.
pub const WRITER_DELAY: Duration = Duration::from_millis(50);

/// Descriptors the serving process keeps beyond one per connection (stdio,
/// the listener, the runtime's epoll and waker, the peer's pipes, /proc reads).
pub const SPARE_FDS: u64 = 64;

/// One system call and how many times this run made it, counted by netlab
/// as it made them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Call {
    /// The system call's name.
    pub call: String,
    /// How many times it was made.
    pub count: u32,
}

fn call(name: &str, count: u32) -> Call {
    Call {
        call: name.to_string(),
        count,
    }
}

/// Message `i` of the readiness and completion steps: 16 bytes.
pub fn message(i: usize) -> Vec<u8> {
    format!("request {i:08}").into_bytes()
}

/// `k` loopback connections: (client ends, server ends).
fn pairs(k: usize) -> std::io::Result<(Vec<TcpStream>, Vec<TcpStream>)> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    socket2::SockRef::from(&l).listen(4096)?;
    let addr = l.local_addr()?;
    let (mut clients, mut servers) = (Vec::with_capacity(k), Vec::with_capacity(k));
    for _ in 0..k {
        clients.push(TcpStream::connect(addr)?);
        servers.push(l.accept()?.0);
    }
    Ok((clients, servers))
}

/// A thread that waits [`WRITER_DELAY`], then sends message `i` on client `i`.
fn writer(mut clients: Vec<TcpStream>) -> std::thread::JoinHandle<std::io::Result<Vec<TcpStream>>> {
    std::thread::spawn(move || {
        std::thread::sleep(WRITER_DELAY);
        for (i, c) in clients.iter_mut().enumerate() {
            c.write_all(&message(i))?;
        }
        // Kept open: a close would end the connections under the reads.
        Ok(clients)
    })
}

fn join<T>(h: std::thread::JoinHandle<std::io::Result<T>>) -> Result<T> {
    h.join()
        .map_err(|_| Error::Internal("the writer panicked".into()))?
        .map_err(io)
}

/// What the readiness model did: epoll said which sockets could be read,
/// then read() copied each one's bytes.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Readiness {
    /// Sockets read, one message each.
    pub sockets: usize,
    /// The system calls made, counted.
    pub calls: Vec<Call>,
    /// Bytes the kernel held for the first socket epoll_wait reported, not
    /// yet in netlab's buffer (ioctl FIONREAD, not counted among the calls).
    pub first_queued: usize,
    /// Bytes the read() calls copied into netlab's buffers.
    pub bytes_read: usize,
    /// Messages read whole and as sent.
    pub intact: usize,
}

/// `k` sockets, each with a 16-byte message coming [`WRITER_DELAY`] after
/// the wait began: epoll_wait until each has been reported, and one read()
/// per report.
pub fn readiness(k: usize) -> Result<Readiness> {
    let (clients, servers) = pairs(k).map_err(io)?;
    let nix_err =
        |call: &'static str| move |e: nix::Error| Error::system(tx(call, call), "", e.into());
    let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(nix_err("epoll_create1"))?;
    let mut ctl = 0;
    for (i, s) in servers.iter().enumerate() {
        s.set_nonblocking(true).map_err(io)?;
        ep.add(s, EpollEvent::new(EpollFlags::EPOLLIN, i as u64))
            .map_err(nix_err("epoll_ctl"))?;
        ctl += 1;
    }
    let w = writer(clients);
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); k];
    let mut events = vec![EpollEvent::empty(); k.max(1)];
    let (mut waits, mut reads, mut bytes) = (0u32, 0u32, 0usize);
    let mut first_queued = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.iter().any(|g| g.len() < 16) {
        if Instant::now() > deadline {
            return Err(Error::Internal("the messages never all came".into()));
        }
        waits += 1;
        let ready = ep
            .wait(&mut events, 1000u16)
            .map_err(nix_err("epoll_wait"))?;
        for ev in &events[..ready] {
            let i = ev.data() as usize;
            let s = &servers[i];
            if first_queued.is_none() {
                // Told "you may read": the bytes are still the kernel's.
                first_queued = Some(uring::queued(s.as_fd()).map_err(io)?);
            }
            let mut buf = [0u8; 64];
            reads += 1;
            match (&*s).read(&mut buf) {
                Ok(n) => {
                    bytes += n;
                    got[i].extend_from_slice(&buf[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(io(e)),
            }
        }
    }
    let _clients = join(w)?;
    let intact = got
        .iter()
        .enumerate()
        .filter(|(i, g)| **g == message(*i))
        .count();
    Ok(Readiness {
        sockets: k,
        calls: vec![
            call("epoll_create1", 1),
            call("epoll_ctl", ctl),
            call("epoll_wait", waits),
            call("read", reads),
        ],
        first_queued: first_queued.unwrap_or(0),
        bytes_read: bytes,
        intact,
    })
}

/// What the completion model did: every recv handed to the kernel at once,
/// each completing with its bytes already in netlab's buffer.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Completion {
    /// Sockets read, one message each.
    pub sockets: usize,
    /// The system calls made, counted (read: none).
    pub calls: Vec<Call>,
    /// Requests the first io_uring_enter handed to the kernel.
    pub submitted: usize,
    /// Completions already posted when that submit returned (the data had
    /// not been sent yet).
    pub done_at_submit: usize,
    /// Requests that completed with bytes.
    pub completed: usize,
    /// Bytes the kernel copied into netlab's buffers.
    pub bytes: usize,
    /// Messages that arrived whole and as sent.
    pub intact: usize,
}

/// `k` sockets, a recv for each submitted in one io_uring_enter before the
/// data comes; then wait for the completions.
pub fn completion(k: usize) -> Result<Completion> {
    let (clients, servers) = pairs(k).map_err(io)?;
    let fds: Vec<_> = servers.iter().map(AsFd::as_fd).collect();
    let mut w = None;
    let run = uring::recv_each(&fds, 64, Duration::from_secs(10), || {
        w = Some(writer(clients));
    })
    .map_err(|e| Error::system(tx("read with", "读取，用"), "io_uring", e))?;
    if let Some(w) = w {
        join(w)?;
    }
    let completed = run.results.iter().filter(|r| **r > 0).count();
    let bytes = run
        .results
        .iter()
        .filter(|r| **r > 0)
        .map(|r| *r as usize)
        .sum();
    let intact = run
        .results
        .iter()
        .zip(&run.buffers)
        .enumerate()
        .filter(|(i, (r, b))| **r == 16 && b[..16] == message(*i)[..])
        .count();
    Ok(Completion {
        sockets: k,
        calls: vec![
            call("io_uring_setup", run.setups),
            call("mmap", run.mmaps),
            call("io_uring_enter", run.enters),
            call("read", 0),
        ],
        submitted: run.submitted,
        done_at_submit: run.done_at_submit,
        completed,
        bytes,
        intact,
    })
}

/// Whether this process may use io_uring, and why not.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct UringAccess {
    /// io_uring_setup made a ring.
    pub allowed: bool,
    /// Its errno when it did not (EPERM 1, ENOSYS 38, …).
    pub errno: Option<i32>,
    /// /proc/sys/kernel/io_uring_disabled: 0 all may, 1 only root and
    /// kernel.io_uring_group, 2 nobody; absent before Linux 6.6.
    pub disabled_sysctl: Option<u8>,
    /// Why not, in a word: `sysctl`, `not_built`, `sandbox`, `other`; null when allowed.
    pub reason: Option<Refusal>,
}

/// Why io_uring was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// kernel.io_uring_disabled forbids it (to everyone, or to this user).
    Sysctl,
    /// The kernel has no io_uring (ENOSYS with no sysctl saying so).
    NotBuilt,
    /// Refused with io_uring enabled: a seccomp filter (a container's
    /// default profile) or a security module.
    Sandbox,
    /// Another error (out of memory, the locked-memory limit).
    Other,
}

/// Decide why io_uring_setup failed with `errno`, given the sysctl's value
/// and whether the process is root. Pure: table-tested.
pub fn refusal(errno: i32, disabled: Option<u8>, root: bool) -> Refusal {
    match (errno, disabled) {
        (libc::EPERM, Some(2)) => Refusal::Sysctl,
        (libc::EPERM, Some(1)) if !root => Refusal::Sysctl,
        (libc::ENOSYS, None) => Refusal::NotBuilt,
        (libc::EPERM | libc::ENOSYS | libc::EACCES, _) => Refusal::Sandbox,
        _ => Refusal::Other,
    }
}

/// Ask the kernel for a ring, and read the sysctl that may forbid it.
pub fn uring_access() -> UringAccess {
    let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()
        .and_then(|s| s.trim().parse().ok());
    match uring::probe() {
        Ok(()) => UringAccess {
            allowed: true,
            errno: None,
            disabled_sysctl: disabled,
            reason: None,
        },
        Err(e) => {
            let errno = e.raw_os_error().unwrap_or(0);
            UringAccess {
                allowed: false,
                errno: Some(errno),
                disabled_sysctl: disabled,
                reason: Some(refusal(errno, disabled, nix::unistd::geteuid().is_root())),
            }
        }
    }
}

/// A loop serving `connections` clients, all connected at once.
#[derive(Clone, Debug, Default, Serialize, schemars::JsonSchema)]
pub struct Served {
    /// Clients that got the right reply, counted by the clients.
    pub connections: usize,
    /// Replies the server sent, counted by the server.
    pub replied: usize,
    /// Connections the server had open at once, at most.
    pub peak_open: usize,
    /// Threads in the serving process with every connection open (/proc/self/task).
    pub threads: usize,
    /// Distinct threads that ran a request handler.
    pub serving_threads: usize,
    /// Descriptors the serving process had open then (/proc/self/fd).
    pub fds: usize,
    /// Milliseconds from the first connect to the last reply, timed by the clients.
    pub ms: f64,
}

/// Threads and descriptors of this process now (the directory read's own
/// descriptor left out).
pub fn tasks_and_fds() -> (usize, usize) {
    let count = |d: &str| std::fs::read_dir(d).map(|r| r.count()).unwrap_or(0);
    (
        count("/proc/self/task"),
        count("/proc/self/fd").saturating_sub(1),
    )
}

/// Check the descriptor limit fits `conns` connections (raising the soft
/// limit to the hard one); refuse clearly when even the hard one is too low.
pub fn fit_fd_limit(conns: usize) -> Result<FdLimit> {
    let limit = raise_fd_limit()?;
    let need = conns as u64 + SPARE_FDS;
    if limit.after < need {
        return Err(Error::usage(tx(
            format!(
                "--conns {conns} needs {need} descriptors, but the hard limit (ulimit -Hn) is {}: ask for at most {} connections, or raise the hard limit as root",
                limit.hard,
                limit.hard.saturating_sub(SPARE_FDS)
            ),
            format!(
                "--conns {conns} 需要 {need} 个描述符，但硬限制（ulimit -Hn）只有 {}：最多要 {} 个连接，或以 root 身份提高硬限制",
                limit.hard,
                limit.hard.saturating_sub(SPARE_FDS)
            ),
        )));
    }
    Ok(limit)
}

/// The clients: `netlab async-peer`, a second process; killed when dropped.
struct Peer {
    child: Child,
    from: BufReader<ChildStdout>,
}

impl Peer {
    fn start(addr: SocketAddr, n: usize) -> Result<Peer> {
        let exe = std::env::current_exe()
            .map_err(|e| Error::system(tx("find netlab itself", "找到 netlab 自身"), "", e))?;
        let mut child = Command::new(&exe)
            .arg("async-peer")
            .arg(addr.to_string())
            .arg(n.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::system(tx("start", "启动"), exe.display(), e))?;
        let from = BufReader::new(
            child
                .stdout
                .take()
                .ok_or_else(|| Error::Internal("no stdout".into()))?,
        );
        Ok(Peer { child, from })
    }

    /// The clients' result: (answered, ms).
    fn result(mut self) -> Result<(usize, f64)> {
        let mut line = String::new();
        self.from.read_line(&mut line).map_err(io)?;
        let _ = self.child.wait();
        let mut w = line.split_whitespace();
        match (w.next(), w.next().map(str::parse), w.next().map(str::parse)) {
            (Some("ok"), Some(Ok(n)), Some(Ok(ms))) => Ok((n, ms)),
            _ => Err(Error::lab(tx(
                format!("the client process failed: {}", line.trim()),
                format!("客户端进程失败：{}", line.trim()),
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

/// `netlab async-peer ADDR N`: connect N clients to ADDR, all of them
/// first; then send each its request; then read every reply. Prints `ok
/// ANSWERED MS` (MS from the first connect to the last reply), or `err …`.
pub fn peer_main(addr: SocketAddr, n: usize) -> Result<i32> {
    // End with the process that started this one, even if it is killed.
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    let _ = raise_fd_limit();
    let start = Instant::now();
    let run = || -> std::io::Result<usize> {
        let mut conns = Vec::with_capacity(n);
        for _ in 0..n {
            let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
            s.set_read_timeout(Some(Duration::from_secs(20)))?;
            conns.push(s);
        }
        for s in &mut conns {
            s.write_all(REQUEST)?;
        }
        let mut answered = 0;
        for s in &mut conns {
            let mut b = [0u8; 16];
            s.read_exact(&mut b)?;
            answered += usize::from(&b == REPLY);
        }
        Ok(answered)
    };
    let r = run();
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let mut out = std::io::stdout().lock();
    match r {
        Ok(answered) => {
            writeln!(out, "ok {answered} {ms:.3}").map_err(Error::Output)?;
            Ok(crate::error::exit::OK)
        }
        Err(e) => {
            let _ = writeln!(out, "err {e}");
            Ok(crate::error::exit::LOCAL)
        }
    }
}

/// What the server side counts while it serves.
#[derive(Default)]
struct Tally {
    open: usize,
    peak: usize,
    replied: usize,
    tids: BTreeSet<i32>,
    at_peak: Option<(usize, usize)>,
}

/// The handler: read the request, send the reply, wait for the close.
async fn answer(
    mut s: tokio::net::TcpStream,
    tally: Rc<RefCell<Tally>>,
    n: usize,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    {
        let mut t = tally.borrow_mut();
        t.open += 1;
        t.peak = t.peak.max(t.open);
        t.tids.insert(nix::unistd::gettid().as_raw());
        if t.open == n && t.at_peak.is_none() {
            t.at_peak = Some(tasks_and_fds());
        }
    }
    let mut req = [0u8; 16];
    s.read_exact(&mut req).await?;
    if &req == REQUEST {
        s.write_all(REPLY).await?;
        tally.borrow_mut().replied += 1;
    }
    let mut b = [0u8; 16];
    while s.read(&mut b).await? > 0 {}
    tally.borrow_mut().open -= 1;
    Ok(())
}

/// Serve `n` clients on loopback with one tokio current-thread runtime, in
/// the calling thread. The clients are `netlab async-peer`.
pub fn serve_tokio(n: usize) -> Result<Served> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error::system(tx("start", "启动"), "the tokio runtime", e))?;
    let local = tokio::task::LocalSet::new();
    let tally = Rc::new(RefCell::new(Tally::default()));
    let t = tally.clone();
    let peer = local.block_on(&rt, async move {
        let sock = tokio::net::TcpSocket::new_v4()?;
        sock.bind((Ipv4Addr::LOCALHOST, 0).into())?;
        let listener = sock.listen(4096)?;
        let addr = listener.local_addr()?;
        let peer = Peer::start(addr, n).map_err(|e| std::io::Error::other(e.text().en))?;
        let serve = async {
            let mut handlers = Vec::with_capacity(n);
            for _ in 0..n {
                let (s, _) = listener.accept().await?;
                handlers.push(tokio::task::spawn_local(answer(s, t.clone(), n)));
            }
            for h in handlers {
                h.await.map_err(std::io::Error::other)??;
            }
            std::io::Result::Ok(())
        };
        tokio::time::timeout(Duration::from_secs(60), serve)
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "the clients never finished")
            })??;
        std::io::Result::Ok(peer)
    });
    let peer = peer.map_err(|e| {
        Error::system(
            tx("serve the clients with", "服务客户端："),
            format!("one tokio thread, {n} clients"),
            e,
        )
    })?;
    let (connections, ms) = peer.result()?;
    let t = tally.borrow();
    let (threads, fds) = t.at_peak.unwrap_or_default();
    Ok(Served {
        connections,
        replied: t.replied,
        peak_open: t.peak,
        threads,
        serving_threads: t.tids.len(),
        fds,
        ms,
    })
}

/// The asyncio server netlab writes and python3 runs: it counts what it
/// does and prints it as one JSON line at the end.
pub const PYTHON_SERVER: &str = r#"# netlab async: one asyncio event loop serving N connections.
import asyncio, importlib.util, json, os, socket, sys, threading

N, PARENT = int(sys.argv[1]), int(sys.argv[2])
try:  # end with netlab, even if it is killed: PR_SET_PDEATHSIG, SIGKILL
    import ctypes
    ctypes.CDLL(None).prctl(1, 9)
except Exception:
    pass
if os.getppid() != PARENT:
    sys.exit(1)

REQUEST, REPLY = b"GET /index.html\n", b"200 OK here you\n"
tally = {"open": 0, "peak": 0, "replied": 0, "closed": 0, "at_peak": None, "tids": set()}

def tasks_and_fds():
    return (len(os.listdir("/proc/self/task")), len(os.listdir("/proc/self/fd")) - 1)

async def answer(reader, writer):
    tally["open"] += 1
    tally["peak"] = max(tally["peak"], tally["open"])
    tally["tids"].add(threading.get_ident())
    if tally["open"] == N and tally["at_peak"] is None:
        tally["at_peak"] = tasks_and_fds()
    try:
        request = await reader.readexactly(16)
        if request == REQUEST:
            writer.write(REPLY)
            await writer.drain()
            tally["replied"] += 1
        await reader.read()
    finally:
        writer.close()
        tally["open"] -= 1
        tally["closed"] += 1
        if tally["closed"] == N:
            done.set()

async def main():
    global done
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    # netlab's pipe: its end means netlab has gone.
    loop.add_reader(0, lambda: os.read(0, 64) or os._exit(1))
    # A socket of our own: start_server(host=...) would resolve the name in a thread.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(min(N, 4096))
    server = await asyncio.start_server(answer, sock=listener, backlog=min(N, 4096))
    print("ready", listener.getsockname()[1], flush=True)
    await done.wait()
    server.close()
    threads, fds = tally["at_peak"] or (0, 0)
    print(json.dumps({"version": sys.version.split()[0], "replied": tally["replied"],
                      "peak": tally["peak"], "threads": threads, "fds": fds,
                      "serving_threads": len(tally["tids"]),
                      "gevent": importlib.util.find_spec("gevent") is not None,
                      "twisted": importlib.util.find_spec("twisted") is not None}), flush=True)

asyncio.run(main())
"#;

/// What the asyncio server said at its end.
#[derive(serde::Deserialize)]
struct PyReport {
    version: String,
    replied: usize,
    peak: usize,
    threads: usize,
    serving_threads: usize,
    fds: usize,
    gevent: bool,
    twisted: bool,
}

/// The same clients served by Python's asyncio.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct PyServed {
    /// The python3 that ran the server.
    pub python: String,
    /// Its version.
    pub version: String,
    /// gevent is installed in that python3 (shown, not run).
    pub gevent: bool,
    /// Twisted is installed in that python3 (shown, not run).
    pub twisted: bool,
    /// What it served, counted the same way as the tokio loop.
    #[serde(flatten)]
    pub served: Served,
}

/// python3's outcome: run, or not found.
pub enum Python {
    /// It served the clients.
    Ran(PyServed),
    /// No python3 on PATH that this user may run.
    Missing,
}

/// The first `python3` on PATH this user may execute.
pub fn find_python() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("python3"))
        .find(|p| p.is_file() && nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok())
}

/// The Python server, killed when dropped.
struct PyServer {
    child: Child,
    // Held open: its end tells the script netlab has gone.
    _to: ChildStdin,
    from: BufReader<ChildStdout>,
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serve `n` clients with asyncio: the script written to a private
/// directory, run by python3, its figures read back from its output.
pub fn serve_python(n: usize) -> Result<Python> {
    let Some(python) = find_python() else {
        return Ok(Python::Missing);
    };
    for _ in crate::private::remove_stale("async") {}
    let dir = crate::private::RunDir::create("async")?;
    let script = dir.write_new("server.py", PYTHON_SERVER)?;
    let mut child = Command::new(&python)
        .arg("-I")
        .arg(&script)
        .arg(n.to_string())
        .arg(std::process::id().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::system(tx("start", "启动"), python.display(), e))?;
    let (to, from, err) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let (Some(to), Some(from)) = (to, from) else {
        return Err(Error::Internal("python3's pipes".into()));
    };
    let mut server = PyServer {
        child,
        _to: to,
        from: BufReader::new(from),
    };
    let failed = |what: &str, err: Option<std::process::ChildStderr>| {
        let mut text = String::new();
        if let Some(mut e) = err {
            let _ = e.read_to_string(&mut text);
        }
        let last = text.lines().last().unwrap_or("").to_string();
        Error::lab(tx(
            format!("{} {what}: {last}", python.display()),
            format!("{} {what}：{last}", python.display()),
        ))
    };
    let mut line = String::new();
    server.from.read_line(&mut line).map_err(io)?;
    let Some(port) = line
        .strip_prefix("ready ")
        .and_then(|p| p.trim().parse::<u16>().ok())
    else {
        let _ = server.child.kill();
        return Err(failed("did not start the asyncio server", err));
    };
    // The script has been read: its directory can go.
    drop(dir);
    let peer = Peer::start((Ipv4Addr::LOCALHOST, port).into(), n)?;
    let (connections, ms) = peer.result()?;
    line.clear();
    server.from.read_line(&mut line).map_err(io)?;
    let Ok(r) = serde_json::from_str::<PyReport>(&line) else {
        let _ = server.child.kill();
        return Err(failed("gave no figures", err));
    };
    let _ = server.child.wait();
    Ok(Python::Ran(PyServed {
        python: python.display().to_string(),
        version: r.version,
        gevent: r.gevent,
        twisted: r.twisted,
        served: Served {
            connections,
            replied: r.replied,
            peak_open: r.peak,
            threads: r.threads,
            serving_threads: r.serving_threads,
            fds: r.fds,
            ms,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_sixteen_bytes() {
        assert_eq!(message(0).len(), 16);
        assert_eq!(message(99_999_999).len(), 16);
    }

    #[test]
    fn refusals_are_told_apart() {
        use Refusal::*;
        for (errno, sysctl, root, want) in [
            (libc::EPERM, Some(2), true, Sysctl),
            (libc::EPERM, Some(2), false, Sysctl),
            (libc::EPERM, Some(1), false, Sysctl),
            // Root may when the sysctl is 1: an EPERM then is a sandbox's.
            (libc::EPERM, Some(1), true, Sandbox),
            (libc::EPERM, Some(0), false, Sandbox),
            (libc::ENOSYS, Some(0), true, Sandbox),
            (libc::ENOSYS, None, true, NotBuilt),
            (libc::ENOMEM, Some(0), true, Other),
        ] {
            assert_eq!(
                refusal(errno, sysctl, root),
                want,
                "{errno} {sysctl:?} {root}"
            );
        }
    }

    #[test]
    fn readiness_reads_every_message_once_told() {
        let r = readiness(20).unwrap();
        assert_eq!(r.intact, 20);
        assert_eq!(r.bytes_read, 20 * 16);
        assert_eq!(r.first_queued, 16, "told: the bytes wait in the kernel");
        let n = |c: &str| r.calls.iter().find(|x| x.call == c).unwrap().count;
        assert_eq!(n("epoll_ctl"), 20);
        assert!(n("read") >= 20);
        assert!(n("epoll_wait") >= 1);
    }
}
