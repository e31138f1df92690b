//! The engine of `netlab ipc`: two real processes talk through every
//! inter-process mechanism Linux offers, one after another, and each round
//! trip is timed. No narration here (that is `demos::ipc`).
//!
//! The second process is netlab itself, started again from its own binary in
//! a hidden mode (`netlab ipc-peer`, [`peer`]): fork + exec, as a shell starts
//! a pipeline. It inherits the ends of two pipes, one end of a socketpair and
//! a memfd (close-on-exec cleared for just those four, their numbers on its
//! command line); everything else it finds by name (a FIFO, a socket path, a
//! message queue), by port (TCP) or by process id (signals). A control pipe
//! (its stdin and stdout) says which mechanism comes next.
//!
//! For each mechanism the parent sends K messages, the child echoes each one
//! back, and the parent checks every echo is the message it sent; the child
//! then reports a checksum of everything it received, which must equal the
//! parent's of everything sent. A signal carries no bytes: it carries the
//! message's checksum as its 8-byte value, and that value comes back.
//!
//! Nothing is left behind: names (the FIFOs, socket paths, queue names, the
//! private directory holding them) are removed as soon as both ends hold the
//! object open — an open pipe, socket or queue needs no name — so a run killed
//! at almost any moment leaves none; SIGINT and SIGTERM remove whatever exists
//! at that instant and kill the child; the child dies with its parent
//! (PR_SET_PDEATHSIG), even by SIGKILL; and a run removes what a killed one
//! left in the few microseconds a name exists ([`sweep_stale`]).

pub mod peer;

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use nix::mqueue::{mq_open, mq_send, mq_timedreceive, mq_unlink, MQ_OFlag, MqAttr, MqdT};
use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
use nix::sys::stat::Mode;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::lab::capture::{Capture, Frame};
use crate::private::RunDir;
use crate::sys::ipc::{futex_wait, futex_wake, set_inherited, sigqueue, sigtimedwait, SharedPage};
use crate::text::tx;

/// The mechanisms, in the order a run uses them: loopback TCP last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    /// An anonymous pipe (two, one each way), inherited across fork + exec.
    Pipe,
    /// A named pipe: mkfifo, found by its path (two, one each way).
    Fifo,
    /// A Unix domain stream socket, found by its path.
    UnixStream,
    /// Unix domain datagram sockets, each end bound to a path.
    UnixDgram,
    /// socketpair(): two connected Unix sockets, one end inherited.
    Socketpair,
    /// POSIX message queues (two, one each way), found by name.
    Mqueue,
    /// Shared memory: a memfd mapped by both, a futex word to wake the other.
    Shm,
    /// A signal (SIGUSR1) with a queued 8-byte value.
    Signal,
    /// TCP over loopback (127.0.0.1).
    Tcp,
}

impl Mechanism {
    /// Every mechanism, in the order a run uses them.
    pub const ALL: [Mechanism; 9] = [
        Mechanism::Pipe,
        Mechanism::Fifo,
        Mechanism::UnixStream,
        Mechanism::UnixDgram,
        Mechanism::Socketpair,
        Mechanism::Mqueue,
        Mechanism::Shm,
        Mechanism::Signal,
        Mechanism::Tcp,
    ];

    /// The name JSON and the control pipe use (`unix_stream`).
    pub fn key(self) -> &'static str {
        match self {
            Mechanism::Pipe => "pipe",
            Mechanism::Fifo => "fifo",
            Mechanism::UnixStream => "unix_stream",
            Mechanism::UnixDgram => "unix_dgram",
            Mechanism::Socketpair => "socketpair",
            Mechanism::Mqueue => "mqueue",
            Mechanism::Shm => "shm",
            Mechanism::Signal => "signal",
            Mechanism::Tcp => "tcp",
        }
    }
}

/// The longest message a run sends, in bytes (a message queue's message
/// size and the shared page's halves are set from it).
pub const MAX_MESSAGE: usize = 1024;
/// How long the parent waits for any one answer of the child.
const PATIENCE: Duration = Duration::from_secs(10);
/// The shared page: its size and where each field lives. The two sequence
/// words are what the futex waits on.
pub(crate) const PAGE: usize = 4096;
pub(crate) const REQ_SEQ: usize = 0;
pub(crate) const REP_SEQ: usize = 4;
pub(crate) const REQ_LEN: usize = 8;
pub(crate) const REP_LEN: usize = 12;
pub(crate) const REQ_AT: usize = 64;
pub(crate) const REP_AT: usize = 64 + MAX_MESSAGE + 64;

/// FNV-1a (64 bits) of `bytes`, continuing from `h` ([`FNV0`] to start):
/// the checksum both processes keep of what they received.
pub fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// FNV-1a's starting value.
pub const FNV0: u64 = 0xcbf2_9ce4_8422_2325;

/// One message on a byte stream (pipe, FIFO, stream socket, TCP): its
/// length in 4 bytes, then the bytes, in one write. A stream keeps no
/// message boundaries (Q14), so the reader needs the length.
pub fn write_framed(w: &mut impl Write, msg: &[u8]) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4 + msg.len());
    buf.extend_from_slice(&u32::try_from(msg.len()).unwrap_or(u32::MAX).to_le_bytes());
    buf.extend_from_slice(msg);
    w.write_all(&buf)
}

/// Read one message written by [`write_framed`], in one read() when it
/// has all arrived (the usual case: a message is one write). The two
/// processes take turns, so nothing follows a message before its echo:
/// bytes beyond it are an error, not the next message.
pub fn read_framed(r: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 4 + MAX_MESSAGE + 16];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut buf[got..])? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => got += n,
        }
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len > MAX_MESSAGE + 16 {
        return Err(std::io::Error::other(format!("a message of {len} bytes")));
    }
    if got > 4 + len {
        return Err(std::io::Error::other("bytes after the message"));
    }
    r.read_exact(&mut buf[got..4 + len])?;
    buf.truncate(4 + len);
    buf.drain(..4);
    Ok(buf)
}

/// An open message queue, closed (mq_close) when dropped: nix's MqdT is not.
pub(crate) struct Queue(Option<MqdT>);

impl Queue {
    pub(crate) fn new(q: MqdT) -> Queue {
        Queue(Some(q))
    }

    pub(crate) fn get(&self) -> &MqdT {
        self.0.as_ref().expect("open until dropped")
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        if let Some(q) = self.0.take() {
            let _ = nix::mqueue::mq_close(q);
        }
    }
}

/// A path as the control pipe carries it: hex, so any byte survives.
fn hex_path(p: &Path) -> String {
    use std::os::unix::ffi::OsStrExt as _;
    crate::record::to_hex(p.as_os_str().as_bytes())
}

/// What one mechanism did.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// Which mechanism.
    pub mechanism: Mechanism,
    /// Each round trip as the parent timed it, µs, in order.
    pub samples_us: Vec<f64>,
    /// Replies identical to their message (for a signal: the value).
    pub replies_exact: usize,
    /// The parent's checksum of all it sent (FNV-1a).
    pub checksum: u64,
    /// The child's checksum of all it received.
    pub child_checksum: u64,
    /// The value the first signal carried (signals only).
    pub first_value: Option<u64>,
    /// When the mechanism's turn began (its setup included).
    pub started: SystemTime,
    /// TCP only: the parent's (listening) port and the child's.
    pub tcp_ports: Option<(u16, u16)>,
}

impl Exchange {
    /// Round trips made.
    pub fn round_trips(&self) -> usize {
        self.samples_us.len()
    }

    /// The median round trip, µs.
    pub fn median_us(&self) -> f64 {
        median(&self.samples_us)
    }

    /// The fastest round trip, µs.
    pub fn min_us(&self) -> f64 {
        self.samples_us
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
    }

    /// Every message went and came back exactly: each echo equal to its
    /// message, and the child's checksum of all it got equal to the parent's.
    pub fn exact(&self) -> bool {
        self.replies_exact == self.samples_us.len() && self.checksum == self.child_checksum
    }
}

/// The median of some values (the mean of the middle two for an even count).
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if !s.len().is_multiple_of(2) {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

/// Where the run's loopback is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// A network namespace of netlab's own, made by `main` (no root: inside
    /// a user namespace) or by this run (root): lo is its only interface
    /// and carries nothing but this run's packets.
    Own,
    /// The host's network: no capture (other programs use its lo too, and
    /// capturing needs CAP_NET_RAW).
    Host,
}

/// Move this thread (and the threads and processes it starts) into a
/// network namespace of its own with lo up, unless it already is in one.
/// Where that is not allowed, the run stays in the host's network.
pub fn own_network() -> Result<Place> {
    if crate::lab::userns::in_private_net() {
        return Ok(Place::Own);
    }
    if !crate::privilege::Privileges::probe().can_build_lab() {
        return Ok(Place::Host);
    }
    crate::lab::userns::private_net()?;
    Ok(Place::Own)
}

/// The interfaces of the calling thread's network namespace.
pub fn interfaces() -> Vec<String> {
    nix::net::if_::if_nameindex()
        .map(|l| {
            l.iter()
                .map(|i| i.name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// What a run did: every exchange, and what loopback carried meanwhile.
pub struct Outcome {
    /// This process.
    pub parent_pid: u32,
    /// The child it started.
    pub child_pid: u32,
    /// One per mechanism, in [`Mechanism::ALL`]'s order.
    pub exchanges: Vec<Exchange>,
    /// Where the run's loopback was.
    pub place: Place,
    /// The network namespace's interfaces.
    pub interfaces: Vec<String>,
    /// Frames captured on lo during each exchange (same order), or None when
    /// there was no capture. A frame belongs to the exchange whose turn had
    /// begun when the kernel stamped it and the next one's had not.
    pub frames: Option<Vec<Vec<Frame>>>,
    /// Frames captured before the first exchange began.
    pub frames_before: usize,
    /// What a killed run had left and this one removed.
    pub removed: Vec<String>,
}

/// Run every mechanism: `messages` (each at most [`MAX_MESSAGE`] bytes) go
/// to the child and come back, one round trip each.
pub fn run(messages: &[Vec<u8>]) -> Result<Outcome> {
    let removed = sweep_stale();
    let place = own_network()?;
    let interfaces = interfaces();
    let capture = match place {
        Place::Own => Some(Capture::start_here("lo")?),
        Place::Host => None,
    };
    let mut session = Session::start()?;
    let child_pid = session.child.id();
    let mut exchanges = Vec::new();
    for m in Mechanism::ALL {
        exchanges.push(session.exchange(m, messages)?);
    }
    session.finish()?;
    let (frames, frames_before) = match capture {
        Some(c) => {
            let cuts: Vec<SystemTime> = exchanges.iter().map(|e| e.started).collect();
            let mut parts = crate::lab::capture::split_at(c.stop()?, &cuts);
            let before = parts.remove(0).len();
            (Some(parts), before)
        }
        None => (None, 0),
    };
    Ok(Outcome {
        parent_pid: std::process::id(),
        child_pid,
        exchanges,
        place,
        interfaces,
        frames,
        frames_before,
        removed,
    })
}

/// What exists by name at this instant, for SIGINT and SIGTERM to remove.
struct Leftovers {
    dirs: Vec<PathBuf>,
    queues: Vec<String>,
    child: Option<i32>,
}

static LEFT: Mutex<Leftovers> = Mutex::new(Leftovers {
    dirs: Vec::new(),
    queues: Vec::new(),
    child: None,
});

fn left() -> MutexGuard<'static, Leftovers> {
    LEFT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Remove what exists by name and kill the child: what SIGINT and SIGTERM do
/// before the process ends as the signal says.
fn clean_up() {
    let l = left();
    for q in &l.queues {
        let _ = mq_unlink(q.as_str());
    }
    for d in &l.dirs {
        let _ = std::fs::remove_dir_all(d);
    }
    if let Some(pid) = l.child {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Catch SIGINT and SIGTERM for the rest of the run: clean up, then end the
/// process as the signal would have.
fn watch_interrupts() -> Result<()> {
    static WATCHING: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    if WATCHING.get().is_some() {
        return Ok(());
    }
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| Error::sys("catch", "捕获", "SIGINT and SIGTERM", e))?;
    let _ = WATCHING.set(());
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            clean_up();
            let _ = signal_hook::low_level::emulate_default_handler(sig);
            std::process::exit(128 + sig);
        }
    });
    Ok(())
}

/// Remove what killed runs of this user left: queues named in the
/// `mqueues` file of an `netlab-ipc-*` directory whose process is gone, then
/// those directories (with any FIFO or socket path in them). Returns what
/// was removed.
pub fn sweep_stale() -> Vec<String> {
    let mut removed = Vec::new();
    let uid = nix::unistd::geteuid().as_raw();
    if let Ok(entries) = std::fs::read_dir(crate::private::base()) {
        for e in entries.flatten() {
            if !e.file_name().to_string_lossy().starts_with("netlab-ipc-") {
                continue;
            }
            let dir = e.path();
            let ours = std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir() && m.uid() == uid);
            let pid = std::fs::read_to_string(dir.join("owner.pid"))
                .ok()
                .and_then(|p| p.trim().parse::<u32>().ok());
            let gone = pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists());
            if !ours || !gone {
                continue;
            }
            let names = std::fs::read_to_string(dir.join("mqueues")).unwrap_or_default();
            for q in names.lines().filter(|q| q.starts_with("/netlab-ipc-")) {
                if mq_unlink(q).is_ok() {
                    removed.push(format!("mqueue {q}"));
                }
            }
        }
    }
    removed.extend(
        crate::private::remove_stale("ipc")
            .into_iter()
            .map(|p| p.display().to_string()),
    );
    removed
}

fn io(e: std::io::Error) -> Error {
    Error::system(
        tx(
            "exchange messages with the child process",
            "与子进程交换消息",
        ),
        "netlab ipc-peer",
        e,
    )
}

fn nix_io(e: nix::errno::Errno) -> Error {
    io(e.into())
}

/// A private directory for names that exist only until both ends have
/// opened what they name; registered for SIGINT and SIGTERM meanwhile.
struct Names {
    dir: Option<RunDir>,
    queues: Vec<String>,
}

impl Names {
    fn new() -> Result<Names> {
        let dir = RunDir::create("ipc")?;
        left().dirs.push(dir.path().to_path_buf());
        Ok(Names {
            dir: Some(dir),
            queues: Vec::new(),
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir
            .as_ref()
            .map(|d| d.path().join(name))
            .unwrap_or_default()
    }

    /// Two queue names from the directory's own random suffix, written into
    /// it first (so a run that finds the directory orphaned knows them).
    fn queues(&mut self) -> Result<(String, String)> {
        let dir = self
            .dir
            .as_ref()
            .ok_or_else(|| Error::Internal("names already removed".into()))?;
        let suffix = dir
            .path()
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .trim_start_matches("netlab-ipc-")
                    .to_string()
            })
            .unwrap_or_default();
        let down = format!("/netlab-ipc-{suffix}-down");
        let up = format!("/netlab-ipc-{suffix}-up");
        dir.write_new("mqueues", &format!("{down}\n{up}\n"))?;
        left().queues.extend([down.clone(), up.clone()]);
        self.queues = vec![down.clone(), up.clone()];
        Ok((down, up))
    }

    /// Both ends hold what the names named: remove every name, then the directory.
    fn remove(&mut self) -> Result<()> {
        for q in std::mem::take(&mut self.queues) {
            mq_unlink(q.as_str()).map_err(|e| Error::sys("remove", "删除", &q, e))?;
            left().queues.retain(|x| *x != q);
        }
        if let Some(d) = self.dir.take() {
            let path = d.path().to_path_buf();
            drop(d);
            left().dirs.retain(|x| *x != path);
            if path.exists() {
                return Err(Error::sys(
                    "remove",
                    "删除",
                    path.display(),
                    std::io::Error::other("still there"),
                ));
            }
        }
        Ok(())
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        let _ = self.remove();
    }
}

/// The child process and everything the two share from its start.
pub struct Session {
    child: Child,
    ctl_in: ChildStdin,
    ctl_out: BufReader<ChildStdout>,
    /// The pipe to the child (write end) and from it (read end).
    pipe_w: File,
    pipe_r: File,
    /// The parent's end of the socketpair.
    pair: UnixStream,
    /// The shared page (the memfd stays open in both).
    page: SharedPage,
    _memfd: OwnedFd,
    /// The last sequence number written to the shared page.
    shm_seq: u32,
}

impl Session {
    /// Start the child with its inherited ends. The calling thread blocks
    /// SIGUSR1 from now on: it receives the child's signals with sigtimedwait.
    pub fn start() -> Result<Session> {
        watch_interrupts()?;
        let mut usr1 = SigSet::empty();
        usr1.add(Signal::SIGUSR1);
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&usr1), None)
            .map_err(|e| Error::sys("block", "屏蔽", "SIGUSR1", e))?;
        let cloexec = nix::fcntl::OFlag::O_CLOEXEC;
        let (to_r, to_w) = nix::unistd::pipe2(cloexec).map_err(nix_io)?;
        let (from_r, from_w) = nix::unistd::pipe2(cloexec).map_err(nix_io)?;
        let (pair, pair_child) = UnixStream::pair().map_err(io)?;
        let memfd =
            nix::sys::memfd::memfd_create(c"netlab-ipc", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
                .map_err(nix_io)?;
        nix::unistd::ftruncate(&memfd, PAGE as i64).map_err(nix_io)?;
        let page = SharedPage::map(&memfd, PAGE).map_err(io)?;
        let inherited: [&dyn AsFd; 4] = [&to_r, &from_w, &pair_child, &memfd];
        let mut numbers = Vec::new();
        for fd in inherited {
            let fd = fd.as_fd();
            set_inherited(&fd, true).map_err(io)?;
            numbers.push(std::os::fd::AsRawFd::as_raw_fd(&fd).to_string());
        }
        let exe = std::env::current_exe()
            .map_err(|e| Error::sys("find netlab itself", "找到 netlab 自身", "", e))?;
        let spawned = Command::new(&exe)
            .args(["ipc-peer", "--parent"])
            .arg(std::process::id().to_string())
            .arg("--fds")
            .arg(numbers.join(","))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Its own process group: Ctrl-C reaches the parent, which ends it.
            .process_group(0)
            .spawn();
        // Whether or not it started, nothing else may inherit the memfd.
        set_inherited(&memfd, false).map_err(io)?;
        let mut child = spawned.map_err(|e| Error::sys("start", "启动", exe.display(), e))?;
        left().child = i32::try_from(child.id()).ok();
        // The child's ends are the child's now.
        drop((to_r, from_w, pair_child));
        let (Some(ctl_in), Some(out)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(Error::Internal("the child's control pipe".into()));
        };
        pair.set_read_timeout(Some(PATIENCE)).map_err(io)?;
        let mut s = Session {
            child,
            ctl_in,
            ctl_out: BufReader::new(out),
            pipe_w: File::from(to_w),
            pipe_r: File::from(from_r),
            pair,
            page,
            _memfd: memfd,
            shm_seq: 0,
        };
        let hello = s.line()?;
        if hello.trim() != format!("hello {}", s.child.id()) {
            return Err(Error::Internal(format!("the child said {hello:?}")));
        }
        Ok(s)
    }

    /// The child's process id.
    pub fn child_pid(&self) -> u32 {
        self.child.id()
    }

    /// Tell the child what comes next.
    fn command(&mut self, words: &str) -> Result<()> {
        writeln!(self.ctl_in, "{words}").map_err(io)?;
        self.ctl_in.flush().map_err(io)
    }

    /// One line from the child, waiting at most [`PATIENCE`].
    fn line(&mut self) -> Result<String> {
        if !self.ctl_out.buffer().contains(&b'\n') {
            use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
            let fd = self.ctl_out.get_ref().as_fd();
            let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
            let ms = PollTimeout::try_from(PATIENCE).unwrap_or(PollTimeout::MAX);
            if poll(&mut fds, ms).map_err(nix_io)? == 0 {
                return Err(Error::Internal(format!(
                    "the child process said nothing for {} s",
                    PATIENCE.as_secs()
                )));
            }
        }
        let mut l = String::new();
        self.ctl_out.read_line(&mut l).map_err(io)?;
        if l.is_empty() {
            return Err(Error::Internal("the child process ended".into()));
        }
        if let Some(e) = l.strip_prefix("err ") {
            return Err(Error::Internal(format!("the child process: {}", e.trim())));
        }
        Ok(l)
    }

    /// Wait for the child's `ready`.
    fn ready(&mut self) -> Result<()> {
        let l = self.line()?;
        if l.trim() != "ready" {
            return Err(Error::Internal(format!("the child said {l:?}")));
        }
        Ok(())
    }

    /// Wait for the child's `done CHECKSUM`.
    fn done(&mut self) -> Result<u64> {
        let l = self.line()?;
        l.trim()
            .strip_prefix("done ")
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .ok_or_else(|| Error::Internal(format!("the child said {l:?}")))
    }

    /// One mechanism's turn: its setup, a round trip per message, the
    /// child's checksum.
    pub fn exchange(&mut self, m: Mechanism, messages: &[Vec<u8>]) -> Result<Exchange> {
        let started = SystemTime::now();
        let k = messages.len();
        let key = m.key();
        let mut tcp_ports = None;
        let (samples, exact) = match m {
            Mechanism::Pipe => {
                self.command(&format!("{key} {k}"))?;
                self.ready()?;
                let (mut w, mut r) = (&self.pipe_w, &self.pipe_r);
                trips(messages, |msg| {
                    write_framed(&mut w, msg)?;
                    read_framed(&mut r)
                })?
            }
            Mechanism::Socketpair => {
                self.command(&format!("{key} {k}"))?;
                self.ready()?;
                let mut s = &self.pair;
                trips(messages, |msg| {
                    write_framed(&mut s, msg)?;
                    read_framed(&mut s)
                })?
            }
            Mechanism::Fifo => {
                let mut names = Names::new()?;
                let (down, up) = (names.path("down"), names.path("up"));
                for p in [&down, &up] {
                    nix::unistd::mkfifo(p.as_path(), Mode::S_IRUSR | Mode::S_IWUSR)
                        .map_err(|e| Error::sys("mkfifo", "创建命名管道", p.display(), e))?;
                }
                // Ours first, without waiting for a writer.
                let up_r = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
                    .open(&up)
                    .map_err(io)?;
                self.command(&format!("{key} {k} {} {}", hex_path(&down), hex_path(&up)))?;
                let down_w = self.open_fifo_writer(&down)?;
                self.ready()?;
                for f in [&up_r, &down_w] {
                    blocking(f)?;
                }
                names.remove()?;
                let (mut w, mut r) = (&down_w, &up_r);
                trips(messages, |msg| {
                    write_framed(&mut w, msg)?;
                    read_framed(&mut r)
                })?
            }
            Mechanism::UnixStream => {
                let mut names = Names::new()?;
                let path = names.path("parent.sock");
                let l = UnixListener::bind(&path)
                    .map_err(|e| Error::sys("bind", "绑定", path.display(), e))?;
                self.command(&format!("{key} {k} {}", hex_path(&path)))?;
                // The child has connected: its connection waits in the backlog.
                self.ready()?;
                let (s, _) = l.accept().map_err(io)?;
                drop(l);
                names.remove()?;
                s.set_read_timeout(Some(PATIENCE)).map_err(io)?;
                let mut s = &s;
                trips(messages, |msg| {
                    write_framed(&mut s, msg)?;
                    read_framed(&mut s)
                })?
            }
            Mechanism::UnixDgram => {
                let mut names = Names::new()?;
                let (p, c) = (names.path("parent.sock"), names.path("child.sock"));
                let s = UnixDatagram::bind(&p)
                    .map_err(|e| Error::sys("bind", "绑定", p.display(), e))?;
                self.command(&format!("{key} {k} {} {}", hex_path(&p), hex_path(&c)))?;
                self.ready()?;
                s.connect(&c).map_err(io)?;
                names.remove()?;
                s.set_read_timeout(Some(PATIENCE)).map_err(io)?;
                let mut buf = vec![0u8; MAX_MESSAGE + 16];
                trips(messages, |msg| {
                    s.send(msg)?;
                    let n = s.recv(&mut buf)?;
                    Ok(buf[..n].to_vec())
                })?
            }
            Mechanism::Mqueue => {
                let mut names = Names::new()?;
                let (down, up) = names.queues()?;
                let attr = MqAttr::new(0, 4, MAX_MESSAGE as i64 + 16, 0);
                let mode = Mode::S_IRUSR | Mode::S_IWUSR;
                let open = |name: &str, how: MQ_OFlag| -> Result<Queue> {
                    mq_open(
                        name,
                        how | MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_CLOEXEC,
                        mode,
                        Some(&attr),
                    )
                    .map(Queue::new)
                    .map_err(|e| Error::sys("mq_open", "mq_open", name, e))
                };
                let down_q = open(&down, MQ_OFlag::O_WRONLY)?;
                let up_q = open(&up, MQ_OFlag::O_RDONLY)?;
                self.command(&format!("{key} {k} {down} {up}"))?;
                self.ready()?;
                names.remove()?;
                let mut buf = vec![0u8; MAX_MESSAGE + 16];
                trips(messages, |msg| {
                    mq_send(down_q.get(), msg, 0)?;
                    let deadline = SystemTime::now() + PATIENCE;
                    let d = deadline
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .unwrap_or_default();
                    let ts = nix::sys::time::TimeSpec::new(
                        i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                        i64::from(d.subsec_nanos()),
                    );
                    let mut prio = 0;
                    let n = mq_timedreceive(up_q.get(), &mut buf, &mut prio, &ts)?;
                    Ok(buf[..n].to_vec())
                })?
            }
            Mechanism::Shm => {
                self.command(&format!("{key} {k}"))?;
                self.ready()?;
                let page = &self.page;
                let mut seq = self.shm_seq;
                let r = trips(messages, |msg| {
                    seq += 1;
                    page.write(REQ_AT, msg);
                    page.word(REQ_LEN)
                        .store(msg.len() as u32, std::sync::atomic::Ordering::Relaxed);
                    page.word(REQ_SEQ)
                        .store(seq, std::sync::atomic::Ordering::Release);
                    futex_wake(page.word(REQ_SEQ))?;
                    wait_for(page.word(REP_SEQ), seq, PATIENCE)?;
                    let len = page
                        .word(REP_LEN)
                        .load(std::sync::atomic::Ordering::Relaxed);
                    Ok(page.read(REP_AT, (len as usize).min(MAX_MESSAGE)))
                })?;
                self.shm_seq = seq;
                r
            }
            Mechanism::Signal => {
                let tid = nix::unistd::gettid().as_raw();
                self.command(&format!("{key} {k} {tid}"))?;
                self.ready()?;
                let child = i32::try_from(self.child.id()).unwrap_or(0);
                let sig = Signal::SIGUSR1 as i32;
                // The reply is the value the signal carried: the message's checksum.
                let value = |msg: &[u8]| fnv(FNV0, msg).to_le_bytes().to_vec();
                trips_expecting(messages, value, |msg| {
                    sigqueue(child, sig, fnv(FNV0, msg))?;
                    match sigtimedwait(sig, PATIENCE)? {
                        Some((v, _)) => Ok(v.to_le_bytes().to_vec()),
                        None => Err(std::io::Error::from(std::io::ErrorKind::TimedOut)),
                    }
                })?
            }
            Mechanism::Tcp => {
                let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                    .map_err(|e| Error::sys("bind", "绑定", "127.0.0.1:0", e))?;
                let port = l.local_addr().map_err(io)?.port();
                self.command(&format!("{key} {k} {port}"))?;
                self.ready()?;
                let (s, peer): (TcpStream, SocketAddr) = l.accept().map_err(io)?;
                drop(l);
                tcp_ports = Some((port, peer.port()));
                s.set_nodelay(true).map_err(io)?;
                s.set_read_timeout(Some(PATIENCE)).map_err(io)?;
                let mut s = &s;
                trips(messages, |msg| {
                    write_framed(&mut s, msg)?;
                    read_framed(&mut s)
                })?
            }
        };
        let child_checksum = self.done()?;
        let (checksum, first_value) = if m == Mechanism::Signal {
            let values: Vec<u64> = messages.iter().map(|m| fnv(FNV0, m)).collect();
            let sum = values.iter().fold(FNV0, |h, v| fnv(h, &v.to_le_bytes()));
            (sum, values.first().copied())
        } else {
            (messages.iter().fold(FNV0, |h, m| fnv(h, m)), None)
        };
        Ok(Exchange {
            mechanism: m,
            samples_us: samples,
            replies_exact: exact,
            checksum,
            child_checksum,
            first_value,
            started,
            tcp_ports,
        })
    }

    /// Open a FIFO for writing once the child has it open for reading: a
    /// non-blocking open says ENXIO until then (a blocking one would wait
    /// forever for a child that failed).
    fn open_fifo_writer(&mut self, path: &Path) -> Result<File> {
        let t = Instant::now();
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
                .open(path)
            {
                Ok(f) => return Ok(f),
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) && t.elapsed() < PATIENCE => {
                    if let Ok(Some(_)) = self.child.try_wait() {
                        return Err(Error::Internal("the child process ended".into()));
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err(e) => return Err(io(e)),
            }
        }
    }

    /// Tell the child to end, and wait for it.
    pub fn finish(mut self) -> Result<()> {
        self.command("quit")?;
        let t = Instant::now();
        loop {
            if self.child.try_wait().map_err(io)?.is_some() {
                left().child = None;
                return Ok(());
            }
            if t.elapsed() > PATIENCE {
                return Err(Error::Internal("the child process did not end".into()));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        left().child = None;
    }
}

/// Clear O_NONBLOCK: from here on reads and writes wait.
fn blocking(f: &File) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = fcntl(f, FcntlArg::F_GETFL).map_err(nix_io)?;
    let flags = OFlag::from_bits_truncate(flags) & !OFlag::O_NONBLOCK;
    fcntl(f, FcntlArg::F_SETFL(flags)).map_err(nix_io)?;
    Ok(())
}

/// Sleep on a shared word until it holds `want` (FUTEX_WAIT while it holds
/// anything else), at most `patience`.
pub fn wait_for(
    word: &std::sync::atomic::AtomicU32,
    want: u32,
    patience: Duration,
) -> std::io::Result<()> {
    let t = Instant::now();
    loop {
        let v = word.load(std::sync::atomic::Ordering::Acquire);
        if v == want {
            return Ok(());
        }
        let left = patience.saturating_sub(t.elapsed());
        if left.is_zero() || !futex_wait(word, v, left)? {
            return Err(std::io::Error::from(std::io::ErrorKind::TimedOut));
        }
    }
}

/// A round trip per message, each timed: (µs each, replies equal to their message).
fn trips(
    messages: &[Vec<u8>],
    once: impl FnMut(&[u8]) -> std::io::Result<Vec<u8>>,
) -> Result<(Vec<f64>, usize)> {
    trips_expecting(messages, |m| m.to_vec(), once)
}

/// [`trips`], each reply compared with `expected(message)`.
fn trips_expecting(
    messages: &[Vec<u8>],
    expected: impl Fn(&[u8]) -> Vec<u8>,
    mut once: impl FnMut(&[u8]) -> std::io::Result<Vec<u8>>,
) -> Result<(Vec<f64>, usize)> {
    let mut samples = Vec::with_capacity(messages.len());
    let mut exact = 0;
    for msg in messages {
        let t = Instant::now();
        let reply = once(msg).map_err(io)?;
        samples.push(t.elapsed().as_secs_f64() * 1e6);
        if reply == expected(msg) {
            exact += 1;
        }
    }
    Ok((samples, exact))
}

/// TCP's flag bits as the header carries them (RFC 9293).
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

/// What a TCP conversation put on lo, by kind of segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Tally {
    /// The three-way handshake: the segments with SYN set, and the bare ACK after the SYN-ACK.
    pub handshake: usize,
    /// Segments carrying data (the messages and their echoes).
    pub data: usize,
    /// Segments without data or SYN with FIN set: the close.
    pub close: usize,
    /// The rest: bare acknowledgements.
    pub acks: usize,
}

/// Count the TCP segments among `frames` (in wire order) by kind; the
/// bare ACK that answers a SYN-ACK completes the handshake.
pub fn tally(frames: &[Frame]) -> Tally {
    use crate::wire::frame::{ethernet_frame, Kind};
    let mut t = Tally::default();
    let mut syn_acked = false;
    for f in frames {
        let Ok(d) = ethernet_frame(&f.bytes) else {
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
        if h.flags & SYN != 0 {
            t.handshake += 1;
            syn_acked |= h.flags & ACK != 0;
        } else if payload_len == 0 && h.flags & FIN == 0 && std::mem::take(&mut syn_acked) {
            t.handshake += 1;
        } else if payload_len > 0 {
            t.data += 1;
        } else if h.flags & FIN != 0 {
            t.close += 1;
        } else {
            t.acks += 1;
        }
    }
    t
}

/// The shared page's layout, for the child.
pub(crate) mod layout {
    pub(crate) use super::{PAGE, REP_AT, REP_LEN, REP_SEQ, REQ_AT, REQ_LEN, REQ_SEQ};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_reads_back_what_was_written() {
        let mut buf = Vec::new();
        write_framed(&mut buf, b"hello").unwrap();
        write_framed(&mut buf, b"").unwrap();
        assert_eq!(&buf[..4], &5u32.to_le_bytes());
        // One message at a time, as the two processes take turns.
        assert_eq!(read_framed(&mut &buf[..9]).unwrap(), b"hello");
        assert_eq!(read_framed(&mut &buf[9..]).unwrap(), b"");
        assert!(read_framed(&mut &buf[..]).is_err(), "two at once");
        assert!(read_framed(&mut &buf[..7]).is_err(), "cut short");
        assert!(read_framed(&mut &b""[..]).is_err(), "nothing");
        let big = (u32::MAX).to_le_bytes();
        assert!(read_framed(&mut &big[..]).is_err(), "no 4 GiB allocation");
        // A reader that returns a byte at a time still gets the whole message.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(1).min(b.len());
                b[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        assert_eq!(read_framed(&mut Trickle(&buf[..9])).unwrap(), b"hello");
    }

    #[test]
    fn median_and_checksum() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
        // FNV-1a's published test vectors.
        assert_eq!(fnv(FNV0, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv(FNV0, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv(fnv(FNV0, b"fo"), b"o"), fnv(FNV0, b"foo"));
    }

    #[test]
    fn every_mechanism_has_its_own_key() {
        let keys: std::collections::BTreeSet<_> = Mechanism::ALL.iter().map(|m| m.key()).collect();
        assert_eq!(keys.len(), Mechanism::ALL.len());
        assert_eq!(Mechanism::ALL.last(), Some(&Mechanism::Tcp), "TCP last");
    }
}
