//! N processes, N threads, N tokio tasks: each started and kept waiting
//! until all N are up, so their memory and context switches can be read
//! while they live.
//!
//! - a process is `/bin/cat` reading an empty pipe: a small real program that
//!   sleeps in read() until its pipe closes. It is started by fork() then
//!   execv(), or by posix_spawn(); either way the time runs until its exec
//!   has succeeded. Its memory and switches come from /proc/PID/status.
//! - a thread is std::thread::spawn (glibc's pthread_create, a clone() of
//!   this process) waiting on a condition variable; it counts as up once it
//!   runs. Memory is what the process gained (/proc/self/status), switches
//!   come from /proc/self/task/TID/status.
//! - a task is tokio::spawn on a runtime of one thread, waiting on a gate;
//!   up once polled. The runtime switches between tasks in user space: the
//!   switches counted are its polls, and the thread's own kernel context
//!   switches are read beside them.

use std::ffi::CString;
use std::future::Future;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use serde::Serialize;

use super::{self_status, stat_state, status, thread_status, Status};
use crate::error::{Error, Result};
use crate::text::tx;

/// What was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A process: an address space of its own.
    Process,
    /// A thread: shares this process's memory, scheduled by the kernel.
    Thread,
    /// A tokio task: a future, switched by the runtime in user space.
    Task,
}

/// How a process is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessCall {
    /// fork(), then execv() in the child.
    ForkExec,
    /// posix_spawn() (glibc: a clone of the caller that shares its memory
    /// until the exec, so nothing is copied).
    PosixSpawn,
}

impl ProcessCall {
    /// The call's name as the record shows it.
    pub fn name(self) -> &'static str {
        match self {
            ProcessCall::ForkExec => "fork+exec",
            ProcessCall::PosixSpawn => "posix_spawn",
        }
    }
}

/// N of one kind, started and measured.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Spawned {
    /// process, thread or task.
    pub kind: Kind,
    /// The call that started each: `fork+exec`, `posix_spawn`, `std::thread::spawn`, `tokio::spawn`.
    pub call: String,
    /// How many were started.
    pub n: usize,
    /// How many were seen up and waiting (a process asleep in read(), a thread or task that ran).
    pub up: usize,
    /// Time from the first start until all N were up, divided by N, µs.
    pub us_each: f64,
    /// Resident memory each, KiB: a process's own VmRSS; for threads and tasks,
    /// what this process's VmRSS grew by, divided by N.
    pub rss_kb_each: f64,
    /// The anonymous part of that (RssAnon: heap and stacks, not shared file pages), KiB each.
    pub anon_kb_each: f64,
    /// Address space reserved each (VmSize, or its growth), KiB.
    pub vm_kb_each: f64,
    /// Voluntary context switches, summed over the N (for tasks: their one thread's, during the run).
    pub voluntary: u64,
    /// Involuntary context switches, summed likewise.
    pub involuntary: u64,
    /// Distinct kernel ids among the N: process ids, thread ids; for tasks, the one thread they shared.
    pub kernel_ids: usize,
    /// Tasks only: the times the runtime switched to a task (its polls): switches in user space.
    pub user_switches: Option<u64>,
    /// Tasks only: the size of one task's future, bytes (tokio adds its own task header).
    pub future_bytes: Option<usize>,
}

/// The program each process runs: cat, which sleeps in read() on an empty pipe.
pub fn child_program() -> Option<PathBuf> {
    ["/bin/cat", "/usr/bin/cat"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn os(op: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::system(tx(op, op), "", e)
}

/// Children started here: their pipes are closed and they are reaped on drop,
/// whatever happened meanwhile.
struct Children(Vec<(Pid, Option<OwnedFd>)>);

impl Drop for Children {
    fn drop(&mut self) {
        // cat reads end of file and exits when its pipe closes.
        for (_, w) in &mut self.0 {
            w.take();
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut left: Vec<Pid> = self.0.iter().map(|(p, _)| *p).collect();
        while !left.is_empty() && Instant::now() < deadline {
            left.retain(|p| {
                !matches!(
                    waitpid(*p, Some(WaitPidFlag::WNOHANG)),
                    Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(_)
                )
            });
            if !left.is_empty() {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        for p in left {
            let _ = kill(p, Signal::SIGKILL);
            let _ = waitpid(p, None);
        }
    }
}

/// Start `n` processes with `call`, wait until each sleeps in read(), read
/// their /proc status, then let them go.
pub fn processes(call: ProcessCall, n: usize) -> Result<Spawned> {
    let prog = child_program().ok_or_else(|| {
        Error::lab(tx(
            "no /bin/cat to start as a child process: install coreutils",
            "找不到用作子进程的 /bin/cat：请安装 coreutils",
        ))
    })?;
    let path = CString::new(prog.as_os_str().as_bytes())
        .map_err(|_| Error::Internal("a NUL in cat's path".into()))?;
    let devnull = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .map_err(os("open /dev/null"))?;
    // posix_spawn's environment: this process's, prepared before the clock starts.
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    let attr =
        nix::spawn::PosixSpawnAttr::init().map_err(|e| os("posix_spawnattr_init")(e.into()))?;
    let mut kids = Children(Vec::with_capacity(n));
    let start = Instant::now();
    for _ in 0..n {
        let (r, w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| os("pipe2")(e.into()))?;
        let pid = match call {
            ProcessCall::ForkExec => {
                crate::sys::fork_exec(&path, &[&path], r.as_fd(), devnull.as_fd())
                    .map_err(os("fork+exec"))?
            }
            ProcessCall::PosixSpawn => {
                let mut fa = nix::spawn::PosixSpawnFileActions::init()
                    .map_err(|e| os("posix_spawn_file_actions_init")(e.into()))?;
                fa.add_dup2(r.as_raw_fd(), 0)
                    .and_then(|()| fa.add_dup2(devnull.as_raw_fd(), 1))
                    .map_err(|e| os("posix_spawn_file_actions_adddup2")(e.into()))?;
                nix::spawn::posix_spawn(path.as_c_str(), &fa, &attr, &[&path], &env)
                    .map_err(|e| os("posix_spawn")(e.into()))?
            }
        };
        drop(r);
        kids.0.push((pid, Some(w)));
    }
    // Each call returned after its child's exec succeeded: all N are started.
    let took = start.elapsed();
    // Up: asleep in read() on the empty pipe (state S), past the dynamic loader.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut up = 0;
    let mut statuses: Vec<Status> = Vec::with_capacity(n);
    for (pid, _) in &kids.0 {
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat_state(&stat) == Some('S') {
                up += 1;
                break;
            }
            if Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        statuses.push(status(&format!("/proc/{pid}/status")).unwrap_or_default());
    }
    let sum = |f: fn(&Status) -> u64| statuses.iter().map(f).sum::<u64>();
    let each = |f: fn(&Status) -> u64| sum(f) as f64 / n as f64;
    let out = Spawned {
        kind: Kind::Process,
        call: call.name().into(),
        n,
        up,
        us_each: took.as_secs_f64() * 1e6 / n as f64,
        rss_kb_each: each(|s| s.rss_kb),
        anon_kb_each: each(|s| s.rss_anon_kb),
        vm_kb_each: each(|s| s.vm_kb),
        voluntary: sum(|s| s.voluntary),
        involuntary: sum(|s| s.involuntary),
        kernel_ids: {
            let mut ids: Vec<i32> = kids.0.iter().map(|(p, _)| p.as_raw()).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.len()
        },
        user_switches: None,
        future_bytes: None,
    };
    drop(kids);
    Ok(out)
}

/// The threads started here, released and joined on drop.
struct Threads {
    release: Arc<(Mutex<bool>, Condvar)>,
    handles: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for Threads {
    fn drop(&mut self) {
        let (m, cv) = &*self.release;
        *m.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// Growth of a figure, never below zero, divided by `n`.
fn per(before: u64, after: u64, n: usize) -> f64 {
    after.saturating_sub(before) as f64 / n as f64
}

/// Start `n` threads, each waiting on a condition variable; read what the
/// process gained and each thread's switches; then release and join them.
/// The threads allocate nothing (glibc would give each its own malloc arena,
/// a cost of the allocator, not of the thread), and one thread is started
/// and joined first so one-time costs fall outside the count.
pub fn threads(n: usize) -> Result<Spawned> {
    std::thread::spawn(|| ())
        .join()
        .map_err(|_| Error::Internal("the warm-up thread panicked".into()))?;
    // Slot i gets thread i's kernel id; `up` counts the threads that ran.
    let tids: Arc<Vec<AtomicI32>> = Arc::new((0..n).map(|_| AtomicI32::new(0)).collect());
    let up = Arc::new((Mutex::new(0usize), Condvar::new()));
    let mut ts = Threads {
        release: Arc::new((Mutex::new(false), Condvar::new())),
        handles: Vec::with_capacity(n),
    };
    let before = self_status();
    let start = Instant::now();
    for i in 0..n {
        let (tids, up, release) = (tids.clone(), up.clone(), ts.release.clone());
        let h = std::thread::Builder::new()
            .name(format!("netlab-t{i}"))
            .spawn(move || {
                tids[i].store(nix::unistd::gettid().as_raw(), Ordering::Relaxed);
                {
                    let (m, cv) = &*up;
                    *m.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                    cv.notify_one();
                }
                let (m, cv) = &*release;
                let mut go = m.lock().unwrap_or_else(|e| e.into_inner());
                while !*go {
                    go = cv.wait(go).unwrap_or_else(|e| e.into_inner());
                }
            })
            .map_err(os("std::thread::spawn"))?;
        ts.handles.push(h);
    }
    let seen = {
        let (m, cv) = &*up;
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut k = m.lock().unwrap_or_else(|e| e.into_inner());
        while *k < n && Instant::now() < deadline {
            k = cv
                .wait_timeout(k, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *k
    };
    let took = start.elapsed();
    let after = self_status();
    let tids: Vec<i32> = tids
        .iter()
        .map(|t| t.load(Ordering::Relaxed))
        .filter(|t| *t != 0)
        .collect();
    // Each thread's switches: it slept on the condition variable at least once.
    let own: Vec<Status> = tids
        .iter()
        .filter_map(|t| status(&format!("/proc/self/task/{t}/status")))
        .collect();
    let mut ids = tids.clone();
    ids.sort_unstable();
    ids.dedup();
    drop(ts);
    Ok(Spawned {
        kind: Kind::Thread,
        call: "std::thread::spawn".into(),
        n,
        up: seen,
        us_each: took.as_secs_f64() * 1e6 / n as f64,
        rss_kb_each: per(before.rss_kb, after.rss_kb, n),
        anon_kb_each: per(before.rss_anon_kb, after.rss_anon_kb, n),
        vm_kb_each: per(before.vm_kb, after.vm_kb, n),
        voluntary: own.iter().map(|s| s.voluntary).sum(),
        involuntary: own.iter().map(|s| s.involuntary).sum(),
        kernel_ids: ids.len(),
        user_switches: None,
        future_bytes: None,
    })
}

/// A gate tasks wait at: pending until opened, then ready for all.
#[derive(Clone, Default)]
struct Gate(Arc<Mutex<(bool, Vec<Waker>)>>);

impl Gate {
    fn open(&self) {
        let wakers = {
            let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
            g.0 = true;
            std::mem::take(&mut g.1)
        };
        for w in wakers {
            w.wake();
        }
    }
}

/// Waiting at a gate; every poll is counted: each is the runtime switching
/// to this task.
struct AtGate {
    gate: Gate,
    polls: Arc<AtomicU64>,
}

impl Future for AtGate {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        let mut g = self.gate.0.lock().unwrap_or_else(|e| e.into_inner());
        if g.0 {
            Poll::Ready(())
        } else {
            g.1.push(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// The threads the tasks ran on, by kernel id.
type Tids = Arc<Mutex<std::collections::BTreeSet<i32>>>;

async fn task_body(gate: Gate, up: Arc<AtomicUsize>, polls: Arc<AtomicU64>, tids: Tids) {
    up.fetch_add(1, Ordering::Relaxed);
    tids.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(nix::unistd::gettid().as_raw());
    AtGate { gate, polls }.await;
}

/// Start `n` tokio tasks on a runtime of one thread, each waiting at a gate;
/// read what the process gained; open the gate and let them finish.
pub fn tasks(n: usize) -> Result<Spawned> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(os("build a tokio runtime"))?;
    let gate = Gate::default();
    let up = Arc::new(AtomicUsize::new(0));
    let polls = Arc::new(AtomicU64::new(0));
    let tids = Tids::default();
    let thread_before = thread_status();
    let (took, before, mid, bytes) = rt.block_on(async {
        // One task run to completion first: the runtime's one-time costs
        // (its queues, the first allocation) fall outside the count.
        let _ = tokio::spawn(async {}).await;
        let before = self_status();
        let start = Instant::now();
        let mut handles = Vec::with_capacity(n);
        let mut bytes = 0;
        for _ in 0..n {
            let fut = task_body(gate.clone(), up.clone(), polls.clone(), tids.clone());
            bytes = std::mem::size_of_val(&fut);
            handles.push(tokio::spawn(fut));
        }
        // Up: each polled once, parked at the gate. This future yields to let them run.
        let deadline = Instant::now() + Duration::from_secs(5);
        while up.load(Ordering::Relaxed) < n && Instant::now() < deadline {
            tokio::task::yield_now().await;
        }
        let took = start.elapsed();
        let mid = self_status();
        gate.open();
        for h in handles {
            let _ = h.await;
        }
        (took, before, mid, bytes)
    });
    let thread_after = thread_status();
    let threads_used = tids.lock().unwrap_or_else(|e| e.into_inner()).len();
    Ok(Spawned {
        kind: Kind::Task,
        call: "tokio::spawn".into(),
        n,
        up: up.load(Ordering::Relaxed),
        us_each: took.as_secs_f64() * 1e6 / n as f64,
        rss_kb_each: per(before.rss_kb, mid.rss_kb, n),
        anon_kb_each: per(before.rss_anon_kb, mid.rss_anon_kb, n),
        vm_kb_each: per(before.vm_kb, mid.vm_kb, n),
        voluntary: thread_after
            .voluntary
            .saturating_sub(thread_before.voluntary),
        involuntary: thread_after
            .involuntary
            .saturating_sub(thread_before.involuntary),
        kernel_ids: threads_used,
        user_switches: Some(polls.load(Ordering::Relaxed)),
        future_bytes: Some(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fork_exec_returns_after_the_exec_and_reports_its_failure() {
        let null = std::fs::File::open("/dev/null").unwrap();
        let out = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        let t = c"/bin/true";
        let pid = crate::sys::fork_exec(t, &[t], null.as_fd(), out.as_fd()).unwrap();
        assert!(matches!(waitpid(pid, None), Ok(WaitStatus::Exited(_, 0))));
        let missing = c"/nonexistent/program";
        let e = crate::sys::fork_exec(missing, &[missing], null.as_fd(), out.as_fd()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    }

    #[test]
    fn n_tasks_share_one_thread_and_n_threads_have_n_ids() {
        let t = tasks(50).unwrap();
        assert_eq!((t.up, t.kernel_ids), (50, 1));
        assert!(t.user_switches.unwrap() >= 100);
        let th = threads(5).unwrap();
        assert_eq!((th.up, th.kernel_ids), (5, 5));
    }
}
