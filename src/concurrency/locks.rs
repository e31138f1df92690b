//! Locks, measured:
//!
//! - two threads add 1 to a shared counter many times, each a separate load
//!   and store with a short pause between (where a preemption or the other
//!   core can slip in): updates are lost, and counted;
//! - the same between lock() and unlock() of [`FutexMutex`]: exact. The
//!   mutex is netlab's own, the three-state futex design Rust's
//!   std::sync::Mutex also uses on Linux (Drepper, "Futexes Are Tricky"),
//!   minus std's spinning, calling futex(2) itself so that each system call
//!   it makes is counted where it is made;
//! - flock(LOCK_EX) on a private file, held here while a second process
//!   (`netlab concurrency-peer`) asks for it: it waits, seen blocked in
//!   /proc/locks, and says how long.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::text::tx;

/// A mutex on one futex word: 0 unlocked, 1 locked, 2 locked with (maybe)
/// sleepers. Uncontended, lock and unlock are one atomic instruction each
/// and no system call; contended, lock sleeps in FUTEX_WAIT and unlock calls
/// FUTEX_WAKE. Every futex call is counted.
#[derive(Default)]
pub struct FutexMutex {
    word: AtomicU32,
    waits: AtomicU64,
    wakes: AtomicU64,
    contended: AtomicU64,
    locks: AtomicU64,
}

/// What a [`FutexMutex`] did.
#[derive(Clone, Copy, Debug, Default, Serialize, schemars::JsonSchema)]
pub struct FutexCounts {
    /// lock() calls.
    pub locks: u64,
    /// Of those, how many found it held (the slow path).
    pub contended: u64,
    /// futex(FUTEX_WAIT) system calls made: a thread went to sleep on the lock (or found it had changed).
    pub futex_wait: u64,
    /// futex(FUTEX_WAKE) system calls made: unlock() woke a sleeper.
    pub futex_wake: u64,
}

impl FutexMutex {
    /// Take the lock, sleeping in the kernel while another thread holds it.
    pub fn lock(&self) {
        self.locks.fetch_add(1, Ordering::Relaxed);
        if self
            .word
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        self.contended.fetch_add(1, Ordering::Relaxed);
        // Mark it contended; whoever unlocks must then wake someone.
        while self.word.swap(2, Ordering::Acquire) != 0 {
            crate::sys::futex_wait(&self.word, 2);
            self.waits.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Release the lock; wake one sleeper if any may be waiting.
    pub fn unlock(&self) {
        if self.word.swap(0, Ordering::Release) == 2 {
            crate::sys::futex_wake(&self.word, 1);
            self.wakes.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> FutexCounts {
        FutexCounts {
            locks: self.locks.load(Ordering::Relaxed),
            contended: self.contended.load(Ordering::Relaxed),
            futex_wait: self.waits.load(Ordering::Relaxed),
            futex_wake: self.wakes.load(Ordering::Relaxed),
        }
    }
}

/// The race, without and with the lock.
#[derive(Clone, Copy, Debug, Serialize, schemars::JsonSchema)]
pub struct Race {
    /// Threads incrementing.
    pub threads: usize,
    /// Increments each thread made.
    pub per_thread: u64,
    /// What the counter should read: threads × per_thread.
    pub expected: u64,
    /// What it read with a separate load and store and no lock.
    pub without_lock: u64,
    /// What it read with the same load and store inside the mutex.
    pub with_lock: u64,
    /// Time the unlocked run took, ms.
    pub without_ms: f64,
    /// Time the locked run took, ms.
    pub with_ms: f64,
    /// The mutex's system calls.
    pub futex: FutexCounts,
}

/// The pause between load and store: a few hundred spins, a window of well
/// under a microsecond, during which the other thread may load the same value.
fn pause() {
    for _ in 0..64 {
        std::hint::spin_loop();
    }
}

/// Two threads, `per_thread` increments each: with a separate load and
/// store, then with the same inside [`FutexMutex`].
pub fn race(per_thread: u64) -> Result<Race> {
    let run = |lock: Option<Arc<FutexMutex>>| -> Result<(u64, Duration)> {
        let counter = Arc::new(AtomicU64::new(0));
        let start = Arc::new(Barrier::new(2));
        let t = Instant::now();
        let mut hs = Vec::new();
        for i in 0..2 {
            let (counter, start, lock) = (counter.clone(), start.clone(), lock.clone());
            hs.push(
                std::thread::Builder::new()
                    .name(format!("netlab-race{i}"))
                    .spawn(move || {
                        start.wait();
                        for _ in 0..per_thread {
                            if let Some(l) = &lock {
                                l.lock();
                            }
                            // Read, pause, write: not one indivisible step.
                            let v = counter.load(Ordering::Relaxed);
                            pause();
                            counter.store(v + 1, Ordering::Relaxed);
                            if let Some(l) = &lock {
                                l.unlock();
                            }
                        }
                    })
                    .map_err(|e| Error::system(tx("start a thread", "启动线程"), "", e))?,
            );
        }
        for h in hs {
            h.join()
                .map_err(|_| Error::Internal("a racing thread panicked".into()))?;
        }
        Ok((counter.load(Ordering::SeqCst), t.elapsed()))
    };
    let (without, without_t) = run(None)?;
    let m = Arc::new(FutexMutex::default());
    let (with, with_t) = run(Some(m.clone()))?;
    Ok(Race {
        threads: 2,
        per_thread,
        expected: 2 * per_thread,
        without_lock: without,
        with_lock: with,
        without_ms: without_t.as_secs_f64() * 1e3,
        with_ms: with_t.as_secs_f64() * 1e3,
        futex: m.counts(),
    })
}

/// Two processes and one flock.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct FileLock {
    /// This process's id (the holder).
    pub holder_pid: u32,
    /// The second process's id (the waiter).
    pub waiter_pid: u32,
    /// The waiter's lock request was seen queued behind ours in /proc/locks.
    pub seen_blocked: bool,
    /// The waiter's state while it waited (`S`: asleep in the kernel).
    pub waiter_state: Option<String>,
    /// The /proc/locks lines of the file while the waiter waited.
    pub proc_locks: Vec<String>,
    /// How long this process held the lock after the waiter asked, ms.
    pub held_ms: f64,
    /// How long the waiter's flock() call took, by its own clock, ms.
    pub waited_ms: f64,
}

/// How long the holder keeps the lock once the waiter is queued.
pub const HOLD: Duration = Duration::from_millis(200);

/// The inode number of a file, as /proc/locks names it.
fn inode(path: &Path) -> Option<u64> {
    std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).ok()?).into()
}

/// The peer, killed and reaped on drop whatever happened.
struct Peer(std::process::Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lock `path` here, start the peer on it, watch it wait, let it go.
pub fn file_lock(path: &Path) -> Result<FileLock> {
    let werr = |source: std::io::Error| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(werr)?;
    let held = Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, e)| Error::system(tx("flock", "flock"), path.display(), e.into()))?;
    let exe = std::env::current_exe()
        .map_err(|e| Error::system(tx("find netlab itself", "找到 netlab 自身"), "", e))?;
    let mut child = Command::new(&exe)
        .arg("concurrency-peer")
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::system(tx("start", "启动"), exe.display(), e))?;
    let out = child.stdout.take();
    let peer = Peer(child);
    let waiter_pid = peer.0.id();
    // Wait until the kernel queues the peer's request behind ours: a line
    // `N: -> FLOCK ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF` in /proc/locks.
    let ino = inode(path).unwrap_or(0);
    let mine = |l: &str| {
        l.split_whitespace()
            .any(|f| f.rsplit(':').next() == Some(&ino.to_string()))
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut lines = Vec::new();
    let mut seen_blocked = false;
    while Instant::now() < deadline {
        let text = std::fs::read_to_string("/proc/locks").unwrap_or_default();
        lines = text
            .lines()
            .filter(|l| mine(l))
            .map(str::to_string)
            .collect();
        seen_blocked = lines
            .iter()
            .any(|l| l.contains("->") && l.split_whitespace().any(|f| f == waiter_pid.to_string()));
        if seen_blocked {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let asked = Instant::now();
    let state = std::fs::read_to_string(format!("/proc/{waiter_pid}/stat"))
        .ok()
        .and_then(|s| super::stat_state(&s))
        .map(String::from);
    std::thread::sleep(HOLD);
    let held_for = asked.elapsed();
    drop(held);
    let mut waited_ms = f64::NAN;
    if let Some(out) = out {
        for line in BufReader::new(out)
            .lines()
            .map_while(std::result::Result::ok)
        {
            if let Some(v) = line.strip_prefix("waited_us ") {
                waited_ms = v.trim().parse::<f64>().unwrap_or(f64::NAN) / 1e3;
            }
        }
    }
    drop(peer);
    if waited_ms.is_nan() {
        return Err(Error::lab(tx(
            "the second process did not say how long it waited for the lock",
            "第二个进程没有报告它等锁等了多久",
        )));
    }
    Ok(FileLock {
        holder_pid: std::process::id(),
        waiter_pid,
        seen_blocked,
        waiter_state: state,
        proc_locks: lines,
        held_ms: held_for.as_secs_f64() * 1e3,
        waited_ms,
    })
}

/// `netlab concurrency-peer PATH`: take flock(LOCK_EX) on PATH, waiting as
/// long as it takes; print `waited_us N`; release and exit.
pub fn peer_main(path: &Path) -> Result<i32> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
    let t = Instant::now();
    let held = Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, e)| Error::system(tx("flock", "flock"), path.display(), e.into()))?;
    let waited = t.elapsed();
    println!("waited_us {}", waited.as_micros());
    drop(held);
    Ok(crate::error::exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_futex_mutex_keeps_a_count_exact_and_sleeps_only_when_held() {
        let m = Arc::new(FutexMutex::default());
        let c = Arc::new(AtomicU64::new(0));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let (m, c) = (m.clone(), c.clone());
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        m.lock();
                        let v = c.load(Ordering::Relaxed);
                        pause();
                        c.store(v + 1, Ordering::Relaxed);
                        m.unlock();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(c.load(Ordering::SeqCst), 40_000);
        let k = m.counts();
        assert_eq!(k.locks, 40_000);
        assert!(k.contended <= k.locks);
        // A wake only ever follows a lock() that found the mutex held.
        assert!(k.contended > 0 || (k.futex_wait == 0 && k.futex_wake == 0));
        // Alone, it never enters the kernel.
        let solo = FutexMutex::default();
        for _ in 0..100 {
            solo.lock();
            solo.unlock();
        }
        let k = solo.counts();
        assert_eq!((k.contended, k.futex_wait, k.futex_wake), (0, 0, 0));
    }
}
