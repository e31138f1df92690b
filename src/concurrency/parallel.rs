//! The same CPU-bound work three ways: on one thread; split over one thread
//! per core (parallel: the CPU time getrusage counts exceeds the wall time);
//! split over as many tokio tasks on one thread, each yielding between
//! chunks (concurrent: they take turns, the order recorded, and the CPU time
//! stays at the wall time). Also the two-thread figure set beside Python's
//! GIL, and thread_local! seen by two threads.

use std::cell::RefCell;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{cores, cores_online, cpu_time};
use crate::error::{Error, Result};
use crate::text::tx;

/// The work: `iters` rounds of xorshift, the result returned so the loop
/// cannot be optimised away. No memory traffic, no system calls: pure CPU.
pub fn spin(iters: u64, seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..iters {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    std::hint::black_box(x)
}

/// Rounds of [`spin`] that take about `target` on one core of this machine now.
pub fn calibrate(target: Duration) -> u64 {
    let mut iters: u64 = 1 << 14;
    loop {
        let t = Instant::now();
        spin(iters, 7);
        let d = t.elapsed();
        if d >= Duration::from_millis(10) || iters >= 1 << 40 {
            let scaled = iters as f64 * target.as_secs_f64() / d.as_secs_f64().max(1e-9);
            return (scaled as u64).max(1);
        }
        iters *= 2;
    }
}

/// One way of running the work.
#[derive(Clone, Copy, Debug, Serialize, schemars::JsonSchema)]
pub struct Run {
    /// Threads or tasks sharing the work.
    pub workers: usize,
    /// Wall-clock time from start to the last one done, ms.
    pub wall_ms: f64,
    /// CPU time the process used meanwhile (getrusage RUSAGE_SELF, user + system), ms.
    pub cpu_ms: f64,
}

impl Run {
    /// CPU time over wall time: how many cores were busy on average.
    pub fn busy_cores(&self) -> f64 {
        self.cpu_ms / self.wall_ms.max(1e-9)
    }
}

/// What the three runs measured.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Parallel {
    /// Cores this process may run on (sched_getaffinity, cgroup quota): the most a speed-up can be.
    pub cores: usize,
    /// Cores the kernel has online.
    pub cores_online: usize,
    /// Rounds of work in all, the same for every run.
    pub iters: u64,
    /// All of it on one thread.
    pub serial: Run,
    /// Split over one thread per core.
    pub threads: Run,
    /// Split over as many tokio tasks on one thread.
    pub tasks: Run,
    /// serial wall time / threads wall time.
    pub speedup: f64,
    /// Which task ran each chunk, in the order they ran (1-based; the first 24).
    pub order: Vec<u8>,
    /// Chunks run in all by the tasks.
    pub chunks: u64,
    /// Times the runtime went from one task's chunk to another's.
    pub task_switches: u64,
    /// Distinct CPUs the threads were seen on (sched_getcpu between chunks).
    pub thread_cpus: usize,
    /// Distinct CPUs the tasks' one thread was seen on.
    pub task_cpus: usize,
}

/// Chunks each worker's share is cut into (threads check their CPU between
/// chunks; tasks yield between them).
const CHUNKS: u64 = 16;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Run `f` and measure it: wall time and the process's CPU time.
fn measured<T>(workers: usize, f: impl FnOnce() -> T) -> (Run, T) {
    let (c, t) = (cpu_time(), Instant::now());
    let out = f();
    let wall = t.elapsed();
    let cpu = cpu_time().saturating_sub(c);
    (
        Run {
            workers,
            wall_ms: ms(wall),
            cpu_ms: ms(cpu),
        },
        out,
    )
}

fn cpu_now() -> Option<usize> {
    nix::sched::sched_getcpu().ok()
}

/// `workers` threads, each doing `share` rounds; returns the CPUs they were seen on.
fn on_threads(workers: usize, share: u64) -> Result<std::collections::BTreeSet<usize>> {
    let start = Arc::new(Barrier::new(workers));
    let mut handles = Vec::with_capacity(workers);
    for w in 0..workers {
        let start = start.clone();
        let h = std::thread::Builder::new()
            .name(format!("netlab-w{w}"))
            .spawn(move || {
                start.wait();
                let mut seen = std::collections::BTreeSet::new();
                for c in 0..CHUNKS {
                    spin(share / CHUNKS, w as u64 * 31 + c);
                    seen.extend(cpu_now());
                }
                seen
            })
            .map_err(|e| Error::system(tx("start a thread", "启动线程"), "", e))?;
        handles.push(h);
    }
    let mut seen = std::collections::BTreeSet::new();
    for h in handles {
        seen.extend(h.join().unwrap_or_default());
    }
    Ok(seen)
}

/// The three runs, `target` being about how long the serial one takes.
pub fn compare(target: Duration) -> Result<Parallel> {
    let cores = cores();
    let workers = cores.max(2);
    let threads_n = cores;
    // A multiple of every split, so each run does exactly the same rounds.
    let unit = (threads_n as u64) * (workers as u64) * CHUNKS;
    let iters = (calibrate(target) / unit).max(1) * unit;

    let (serial, _) = measured(1, || spin(iters, 1));
    let (threads, thread_cpus) = measured(threads_n, || {
        on_threads(threads_n, iters / threads_n as u64)
    });
    let thread_cpus = thread_cpus?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| Error::system(tx("build a tokio runtime", "创建 tokio 运行时"), "", e))?;
    let order = Arc::new(Mutex::new(Vec::<u8>::new()));
    let cpus = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
    let share = iters / workers as u64;
    let (tasks, ()) = measured(workers, || {
        rt.block_on(async {
            let mut hs = Vec::new();
            for w in 0..workers {
                let (order, cpus) = (order.clone(), cpus.clone());
                hs.push(tokio::spawn(async move {
                    for c in 0..CHUNKS {
                        spin(share / CHUNKS, w as u64 * 31 + c);
                        order
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(u8::try_from(w + 1).unwrap_or(u8::MAX));
                        cpus.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .extend(cpu_now());
                        // Hand the thread to the next task: the only way tasks share it.
                        tokio::task::yield_now().await;
                    }
                }));
            }
            for h in hs {
                let _ = h.await;
            }
        });
    });
    let order = std::mem::take(&mut *order.lock().unwrap_or_else(|e| e.into_inner()));
    let task_switches = order.windows(2).filter(|w| w[0] != w[1]).count() as u64;
    let task_cpus = cpus.lock().unwrap_or_else(|e| e.into_inner()).len();
    Ok(Parallel {
        cores,
        cores_online: cores_online(),
        iters,
        speedup: serial.wall_ms / threads.wall_ms.max(1e-9),
        serial,
        threads,
        tasks,
        chunks: order.len() as u64,
        task_switches,
        order: order.into_iter().take(24).collect(),
        thread_cpus: thread_cpus.len(),
        task_cpus,
    })
}

/// Rust beside Python: the same two units of work on one thread, then on two.
#[derive(Clone, Copy, Debug, Serialize, schemars::JsonSchema)]
pub struct TwoThreads {
    /// Two units one after the other on one thread, ms.
    pub serial_ms: f64,
    /// One unit on each of two threads at once, ms.
    pub threads_ms: f64,
    /// CPU time the process used meanwhile (getrusage), ms.
    pub threads_cpu_ms: f64,
    /// serial / threads: about 2 with two free cores, since nothing serialises the threads.
    pub speedup: f64,
}

/// Two units serially, then on two threads; a unit takes about `unit`.
pub fn two_threads(unit: Duration) -> Result<TwoThreads> {
    let iters = calibrate(unit);
    let t = Instant::now();
    spin(iters, 1);
    spin(iters, 2);
    let serial = t.elapsed();
    let (run, seen) = measured(2, || on_threads(2, iters));
    seen?;
    let threads = Duration::from_secs_f64(run.wall_ms / 1e3);
    Ok(TwoThreads {
        serial_ms: ms(serial),
        threads_ms: run.wall_ms,
        threads_cpu_ms: run.cpu_ms,
        speedup: serial.as_secs_f64() / threads.as_secs_f64().max(1e-9),
    })
}

thread_local! {
    /// One value per thread: each thread that touches it gets its own.
    static NAME: RefCell<String> = RefCell::new(String::from("main"));
}

/// thread_local! as two threads see it, beside a value they share.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Locals {
    /// What each thread read back from its thread-local after both had written theirs.
    pub local_seen: Vec<String>,
    /// What each read from the shared value after both had written it.
    pub shared_seen: Vec<String>,
    /// The main thread's thread-local afterwards (its own, untouched).
    pub main_after: String,
}

/// Two threads write their names to a thread-local and to one shared value,
/// wait for each other, then read both back.
pub fn thread_locals() -> Locals {
    let shared = Arc::new(Mutex::new(String::from("main")));
    let both = Arc::new(Barrier::new(2));
    let hs: Vec<_> = ["A", "B"]
        .into_iter()
        .map(|name| {
            let (shared, both) = (shared.clone(), both.clone());
            std::thread::spawn(move || {
                NAME.with(|n| *n.borrow_mut() = name.to_string());
                *shared.lock().unwrap_or_else(|e| e.into_inner()) = name.to_string();
                both.wait();
                (
                    NAME.with(|n| n.borrow().clone()),
                    shared.lock().unwrap_or_else(|e| e.into_inner()).clone(),
                )
            })
        })
        .collect();
    let mut out = Locals {
        local_seen: Vec::new(),
        shared_seen: Vec::new(),
        main_after: String::new(),
    };
    for h in hs {
        let (l, s) = h.join().unwrap_or_default();
        out.local_seen.push(l);
        out.shared_seen.push(s);
    }
    out.main_after = NAME.with(|n| n.borrow().clone());
    out
}
