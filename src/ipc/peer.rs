//! The child of `netlab ipc` (`netlab ipc-peer`, started by [`super::Session`],
//! never by hand): it echoes every message back through the mechanism it
//! came by and keeps a checksum of what it received.
//!
//! Its stdin and stdout are the control pipe: a line such as `fifo 50
//! HEX HEX` says which mechanism comes next, how many messages, and where to
//! find it; the child answers `ready` once its end is open, then `done
//! CHECKSUM` after the last echo (`err …` if something failed). It dies
//! with its parent (PR_SET_PDEATHSIG), and ends at `quit` or when the
//! control pipe closes.

use std::fs::File;
use std::io::{BufRead, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use nix::mqueue::{mq_open, mq_receive, mq_send, MQ_OFlag};
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::stat::Mode;

use super::layout::*;
use super::{fnv, read_framed, wait_for, write_framed, Mechanism, Queue, FNV0, MAX_MESSAGE};
use crate::error::{exit, Error, Result};
use crate::sys::ipc::{adopt_fd, futex_wake, sigqueue_thread, sigtimedwait, SharedPage};

/// How long the child waits for the parent's next message: the parent's
/// death kills it sooner (PR_SET_PDEATHSIG), this only ends a stuck run.
const PATIENCE: Duration = Duration::from_secs(60);

/// What the child inherited: the pipe from the parent (read end), the
/// pipe to it (write end), its end of the socketpair, the memfd.
struct Inherited {
    pipe_r: File,
    pipe_w: File,
    pair: UnixStream,
    page: SharedPage,
    shm_seq: u32,
}

/// The child's main: `parent` is the process that started it, `fds` the
/// four descriptor numbers it inherited (pipe in, pipe out, socketpair, memfd).
pub fn peer_main(parent: u32, fds: &[i32]) -> Result<i32> {
    // Die with the parent, even by SIGKILL; if it is already gone, stop.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| Error::sys("call", "调用", "prctl(PR_SET_PDEATHSIG)", e))?;
    if nix::unistd::getppid().as_raw() != parent as i32 {
        return Ok(exit::LOCAL);
    }
    // Signals from the parent are taken with sigtimedwait: blocked, never delivered.
    let mut usr1 = SigSet::empty();
    usr1.add(Signal::SIGUSR1);
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&usr1), None)
        .map_err(|e| Error::sys("block", "屏蔽", "SIGUSR1", e))?;
    let [a, b, c, d] = fds[..] else {
        return Err(Error::usage(
            "ipc-peer: --fds takes four descriptor numbers",
        ));
    };
    let adopt = |fd| adopt_fd(fd).map_err(|e| Error::sys("take", "接管", format!("fd {fd}"), e));
    let memfd = adopt(d)?;
    let mut own = Inherited {
        pipe_r: File::from(adopt(a)?),
        pipe_w: File::from(adopt(b)?),
        pair: UnixStream::from(adopt(c)?),
        page: SharedPage::map(&memfd, PAGE)
            .map_err(|e| Error::sys("map", "映射", "the memfd", e))?,
        shm_seq: 0,
    };
    drop(memfd);
    let mut out = std::io::stdout().lock();
    let say = |out: &mut std::io::StdoutLock, line: &str| -> Result<()> {
        writeln!(out, "{line}").map_err(Error::Output)?;
        out.flush().map_err(Error::Output)
    };
    say(&mut out, &format!("hello {}", std::process::id()))?;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(Error::Output)?;
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"quit") {
            break;
        }
        match turn(&mut own, &words, &mut |l| say(&mut out, l)) {
            Ok(sum) => say(&mut out, &format!("done {sum:016x}"))?,
            Err(e) => {
                say(&mut out, &format!("err {e}"))?;
                return Ok(exit::LOCAL);
            }
        }
    }
    Ok(exit::OK)
}

fn io(e: impl Into<std::io::Error>) -> Error {
    Error::system(
        crate::text::tx("echo", "回送"),
        "the parent's messages",
        e.into(),
    )
}

fn path(hex: Option<&&str>) -> Result<PathBuf> {
    use std::os::unix::ffi::OsStringExt as _;
    let bytes = hex
        .and_then(|h| crate::record::from_hex(h))
        .ok_or_else(|| Error::Internal("a path".into()))?;
    Ok(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

/// One mechanism's turn: open its end, say `ready`, echo `k` messages;
/// returns the checksum of what came.
fn turn(
    own: &mut Inherited,
    words: &[&str],
    ready: &mut dyn FnMut(&str) -> Result<()>,
) -> Result<u64> {
    let m = Mechanism::ALL
        .into_iter()
        .find(|m| Some(&m.key()) == words.first())
        .ok_or_else(|| Error::Internal(format!("unknown command {words:?}")))?;
    let k: usize = words
        .get(1)
        .and_then(|k| k.parse().ok())
        .ok_or_else(|| Error::Internal("a count".into()))?;
    let mut sum = FNV0;
    match m {
        Mechanism::Pipe => {
            ready("ready")?;
            let (mut r, mut w) = (&own.pipe_r, &own.pipe_w);
            for _ in 0..k {
                let msg = read_framed(&mut r).map_err(io)?;
                sum = fnv(sum, &msg);
                write_framed(&mut w, &msg).map_err(io)?;
            }
        }
        Mechanism::Socketpair => {
            ready("ready")?;
            let mut s = &own.pair;
            for _ in 0..k {
                let msg = read_framed(&mut s).map_err(io)?;
                sum = fnv(sum, &msg);
                write_framed(&mut s, &msg).map_err(io)?;
            }
        }
        Mechanism::Fifo => {
            let (down, up) = (path(words.get(2))?, path(words.get(3))?);
            // The parent opens `down` for writing once this open waits for it.
            let mut r = File::open(&down).map_err(io)?;
            let mut w = std::fs::OpenOptions::new()
                .write(true)
                .open(&up)
                .map_err(io)?;
            ready("ready")?;
            for _ in 0..k {
                let msg = read_framed(&mut r).map_err(io)?;
                sum = fnv(sum, &msg);
                write_framed(&mut w, &msg).map_err(io)?;
            }
        }
        Mechanism::UnixStream => {
            let mut s = UnixStream::connect(path(words.get(2))?).map_err(io)?;
            ready("ready")?;
            for _ in 0..k {
                let msg = read_framed(&mut s).map_err(io)?;
                sum = fnv(sum, &msg);
                write_framed(&mut s, &msg).map_err(io)?;
            }
        }
        Mechanism::UnixDgram => {
            let (p, c) = (path(words.get(2))?, path(words.get(3))?);
            let s = UnixDatagram::bind(&c).map_err(io)?;
            s.connect(&p).map_err(io)?;
            ready("ready")?;
            let mut buf = vec![0u8; MAX_MESSAGE + 16];
            for _ in 0..k {
                let n = s.recv(&mut buf).map_err(io)?;
                sum = fnv(sum, &buf[..n]);
                s.send(&buf[..n]).map_err(io)?;
            }
        }
        Mechanism::Mqueue => {
            let name = |i: usize| -> Result<&str> {
                words
                    .get(i)
                    .copied()
                    .ok_or_else(|| Error::Internal("a queue name".into()))
            };
            let flags = MQ_OFlag::O_CLOEXEC;
            let open = |i, how| -> Result<Queue> {
                let q = mq_open(name(i)?, how | flags, Mode::empty(), None).map_err(io)?;
                Ok(Queue::new(q))
            };
            let (down, up) = (open(2, MQ_OFlag::O_RDONLY)?, open(3, MQ_OFlag::O_WRONLY)?);
            ready("ready")?;
            let mut buf = vec![0u8; MAX_MESSAGE + 16];
            for _ in 0..k {
                let mut prio = 0;
                let n = mq_receive(down.get(), &mut buf, &mut prio).map_err(io)?;
                sum = fnv(sum, &buf[..n]);
                mq_send(up.get(), &buf[..n], 0).map_err(io)?;
            }
        }
        Mechanism::Shm => {
            ready("ready")?;
            let page = &own.page;
            for _ in 0..k {
                own.shm_seq += 1;
                let seq = own.shm_seq;
                wait_for(page.word(REQ_SEQ), seq, PATIENCE).map_err(io)?;
                let len = page.word(REQ_LEN).load(Ordering::Relaxed) as usize;
                let msg = page.read(REQ_AT, len.min(MAX_MESSAGE));
                sum = fnv(sum, &msg);
                page.write(REP_AT, &msg);
                page.word(REP_LEN)
                    .store(msg.len() as u32, Ordering::Relaxed);
                page.word(REP_SEQ).store(seq, Ordering::Release);
                futex_wake(page.word(REP_SEQ)).map_err(io)?;
            }
        }
        Mechanism::Signal => {
            let tid: i32 = words
                .get(2)
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| Error::Internal("a thread id".into()))?;
            let parent = nix::unistd::getppid().as_raw();
            let sig = Signal::SIGUSR1 as i32;
            ready("ready")?;
            for _ in 0..k {
                let (v, _) = sigtimedwait(sig, PATIENCE)
                    .map_err(io)?
                    .ok_or_else(|| io(std::io::Error::from(std::io::ErrorKind::TimedOut)))?;
                sum = fnv(sum, &v.to_le_bytes());
                sigqueue_thread(parent, tid, sig, v).map_err(io)?;
            }
        }
        Mechanism::Tcp => {
            let port: u16 = words
                .get(2)
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| Error::Internal("a port".into()))?;
            let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).map_err(io)?;
            s.set_nodelay(true).map_err(io)?;
            ready("ready")?;
            for _ in 0..k {
                let msg = read_framed(&mut s).map_err(io)?;
                sum = fnv(sum, &msg);
                write_framed(&mut s, &msg).map_err(io)?;
            }
        }
    }
    Ok(sum)
}
