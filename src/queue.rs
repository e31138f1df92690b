//! A bounded queue between threads, and the producer–consumer runs over it:
//! the engine of `producer-consumer`'s first half (Q29). No narration here.
//!
//! The queue is the textbook one, written out so every wait can be counted:
//! a `Mutex` around a `VecDeque`, and two `Condvar`s, `not_full` for the
//! producer and `not_empty` for the consumers. `std::sync::mpsc::sync_channel(N)`
//! is the same idea inside std; its waits cannot be counted from outside.
//! A push into a full queue sleeps in `Condvar::wait` (on Linux, a futex
//! wait) until a pop makes room: that sleep is back-pressure.
//!
//! It owns the threads and the measurements (counts of waits, time blocked,
//! CPU time from getrusage); it does not own what the numbers mean.

use std::collections::VecDeque;
use std::sync::{Arc, Barrier, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::Serialize;

/// A queue of at most `capacity` items; `push` waits while it is full, `pop`
/// while it is empty.
pub struct BoundedQueue<T> {
    inner: Mutex<Inner<T>>,
    not_full: Condvar,
    not_empty: Condvar,
    capacity: usize,
}

struct Inner<T> {
    items: VecDeque<T>,
    closed: bool,
    stats: QueueStats,
}

/// What a queue counted while it was used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Items pushed.
    pub pushed: u64,
    /// Pushes that found the queue full and had to wait.
    pub full_waits: u64,
    /// Pops that found the queue empty and had to wait.
    pub empty_waits: u64,
    /// Time the producer spent waiting in push, all waits together.
    pub blocked: Duration,
    /// The most items the queue held at once.
    pub max_len: usize,
}

impl<T> BoundedQueue<T> {
    /// An empty queue that holds at most `capacity` items (at least 1).
    pub fn new(capacity: usize) -> Self {
        BoundedQueue {
            inner: Mutex::new(Inner {
                items: VecDeque::with_capacity(capacity.max(1)),
                closed: false,
                stats: QueueStats::default(),
            }),
            not_full: Condvar::new(),
            not_empty: Condvar::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // A panicking thread cannot leave the queue half-changed: every
        // change below is one VecDeque call.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Add an item, waiting while the queue is full.
    pub fn push(&self, item: T) {
        let mut g = self.lock();
        if g.items.len() >= self.capacity {
            g.stats.full_waits += 1;
            let t = Instant::now();
            while g.items.len() >= self.capacity {
                g = self.not_full.wait(g).unwrap_or_else(|e| e.into_inner());
            }
            g.stats.blocked += t.elapsed();
        }
        g.items.push_back(item);
        g.stats.pushed += 1;
        g.stats.max_len = g.stats.max_len.max(g.items.len());
        drop(g);
        self.not_empty.notify_one();
    }

    /// Take the oldest item, waiting while the queue is empty; `None` once
    /// it is closed and empty.
    pub fn pop(&self) -> Option<T> {
        let mut g = self.lock();
        if g.items.is_empty() && !g.closed {
            g.stats.empty_waits += 1;
            while g.items.is_empty() && !g.closed {
                g = self.not_empty.wait(g).unwrap_or_else(|e| e.into_inner());
            }
        }
        let item = g.items.pop_front();
        drop(g);
        if item.is_some() {
            self.not_full.notify_one();
        }
        item
    }

    /// No more items will come: wake every waiting consumer.
    pub fn close(&self) {
        self.lock().closed = true;
        self.not_empty.notify_all();
    }

    /// Items in the queue now.
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Whether the queue is empty now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The counts so far.
    pub fn stats(&self) -> QueueStats {
        self.lock().stats
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// A fixed amount of CPU work: `units` rounds of a multiply-add the
/// compiler cannot skip. The same units take the same work on every run;
/// how long they take depends on the machine.
pub fn work(units: u32, seed: u64) -> u64 {
    let mut x = seed;
    for _ in 0..units {
        x = std::hint::black_box(
            x.wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407),
        );
    }
    x
}

/// The producer's first blocked push, seen from outside.
#[derive(Clone, Debug)]
pub struct Fill {
    /// Pushes that returned before the first one that waited.
    pub pushed_before_block: u64,
    /// Items in the queue while the producer waited.
    pub len_when_blocked: usize,
    /// The producer thread's state from /proc/self/task/TID/stat while it
    /// waited (`S`: asleep), if it could be read.
    pub state: Option<char>,
    /// Where in the kernel it slept (/proc/self/task/TID/wchan), if shown.
    pub wchan: Option<String>,
    /// How long the producer stayed blocked in all, until the consumer
    /// started taking items.
    pub blocked: Duration,
    /// Pushes that waited in all, with the one consumer then taking items.
    pub full_waits: u64,
    /// Items that went through.
    pub items: u64,
}

/// The queue fills: a producer pushes `items` while the one consumer waits
/// until the producer has blocked once (`hold` longer), then takes them all.
/// Deterministic: the producer meets a full queue in every run.
pub fn fill(capacity: usize, items: u64, hold: Duration) -> std::io::Result<Fill> {
    let q = Arc::new(BoundedQueue::<u64>::new(capacity));
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let producer = {
        let q = q.clone();
        std::thread::Builder::new()
            .name("producer".into())
            .spawn(move || {
                let _ = tid_tx.send(nix::unistd::gettid().as_raw());
                for i in 0..items {
                    q.push(i);
                }
                q.close();
            })?
    };
    let tid = tid_rx
        .recv()
        .map_err(|_| std::io::Error::other("the producer thread did not start"))?;
    // Wait for the first blocked push (bounded: a broken queue cannot hang the demo).
    let limit = Instant::now() + Duration::from_secs(10);
    while q.stats().full_waits == 0 && Instant::now() < limit {
        std::thread::sleep(Duration::from_millis(1));
    }
    let pushed_before_block = q.stats().pushed;
    let len_when_blocked = q.len();
    // The wait is counted before the thread sleeps: give it a moment to get there.
    let mut state = None;
    let mut wchan = None;
    let until = Instant::now() + Duration::from_millis(200);
    while Instant::now() < until {
        state = thread_state(tid);
        if state == Some('S') {
            // wchan reads "0" while the thread is between states: ask a few times.
            for _ in 0..10 {
                wchan = std::fs::read_to_string(format!("/proc/self/task/{tid}/wchan"))
                    .ok()
                    .filter(|w| !w.is_empty() && w != "0");
                if wchan.is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(hold);
    let mut got = 0;
    while q.pop().is_some() {
        got += 1;
    }
    producer
        .join()
        .map_err(|_| std::io::Error::other("the producer thread panicked"))?;
    let s = q.stats();
    Ok(Fill {
        pushed_before_block,
        len_when_blocked,
        state,
        wchan,
        blocked: s.blocked,
        full_waits: s.full_waits,
        items: got,
    })
}

/// A thread's state letter from /proc/self/task/TID/stat (after the name's `)`).
fn thread_state(tid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// What limited one run's throughput, judged from its own counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// The producer waited on a full queue more often than consumers waited
    /// on an empty one: they could not keep up.
    Consumers,
    /// Consumers waited on an empty queue more often: the producer could
    /// not feed them.
    Producer,
    /// The threads spent much of the run ready but waiting for a core (this
    /// run's threads outnumbered the free cores, other programs' included).
    Cores,
}

/// One run of a producer and `consumers` consumers over a bounded queue.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Run {
    /// Consumer threads.
    pub consumers: usize,
    /// Items that went through.
    pub items: u64,
    /// Wall time from the start barrier to the last item done, ms.
    pub wall_ms: f64,
    /// Items per second: `items` over `wall_ms`.
    pub items_per_s: f64,
    /// CPU time the process used meanwhile (getrusage RUSAGE_SELF, user + system), ms.
    pub cpu_ms: f64,
    /// `cpu_ms / wall_ms`: how many cores were busy on average.
    pub cores_busy: f64,
    /// Time the run's threads were ready to run but waited for a core, all
    /// together, ms (each thread's run_delay from /proc/thread-self/schedstat);
    /// absent when the kernel does not keep it.
    pub core_wait_ms: Option<f64>,
    /// Pushes that found the queue full.
    pub full_waits: u64,
    /// Pops that found the queue empty.
    pub empty_waits: u64,
    /// Time the producer spent blocked on a full queue, ms.
    pub producer_blocked_ms: f64,
    /// What limited this run, from its counts.
    pub limit: Limit,
}

/// CPU time of the whole process (`RUSAGE_SELF`) or the calling thread
/// (`RUSAGE_THREAD`) so far, user + system.
fn cpu_now(who: nix::sys::resource::UsageWho) -> Duration {
    nix::sys::resource::getrusage(who)
        .map(|r| {
            let tv = |t: nix::sys::time::TimeVal| {
                Duration::new(t.tv_sec().max(0) as u64, (t.tv_usec().max(0) as u32) * 1000)
            };
            tv(r.user_time()) + tv(r.system_time())
        })
        .unwrap_or_default()
}

/// How long the calling thread has waited, ready, for a core (run_delay,
/// the second number of /proc/thread-self/schedstat).
fn run_delay() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Work units that take about `target` of this thread's CPU time on this
/// machine (measured with getrusage RUSAGE_THREAD, so other programs'
/// load does not change the amount of work, only how long it takes).
pub fn calibrate(target: Duration) -> u32 {
    use nix::sys::resource::UsageWho::RUSAGE_THREAD;
    let mut units: u32 = 10_000;
    loop {
        let t0 = cpu_now(RUSAGE_THREAD);
        std::hint::black_box(work(units, 1));
        let spent = cpu_now(RUSAGE_THREAD).saturating_sub(t0);
        if spent >= Duration::from_millis(20) || units >= u32::MAX / 4 {
            let per = spent.as_secs_f64() / f64::from(units);
            return ((target.as_secs_f64() / per.max(1e-12)) as u32).max(1);
        }
        units *= 4;
    }
}

/// Run a producer making `items` items (`produce` work units each) and
/// `consumers` consumers (`consume` units each) over a queue of `capacity`.
pub fn run(
    capacity: usize,
    consumers: usize,
    items: u64,
    produce: u32,
    consume: u32,
) -> std::io::Result<Run> {
    use nix::sys::resource::UsageWho::RUSAGE_SELF;
    let q = Arc::new(BoundedQueue::<u64>::new(capacity));
    let start = Arc::new(Barrier::new(consumers + 2));
    // Each thread's time spent waiting for a core during the run.
    let waited = |f: &mut dyn FnMut()| -> Option<Duration> {
        let d0 = run_delay();
        f();
        Some(run_delay()?.saturating_sub(d0?))
    };
    let mut handles = Vec::new();
    for c in 0..consumers {
        let (q, start) = (q.clone(), start.clone());
        handles.push(
            std::thread::Builder::new()
                .name(format!("consumer-{c}"))
                .spawn(move || {
                    start.wait();
                    let mut acc = 0u64;
                    let d = waited(&mut || {
                        while let Some(item) = q.pop() {
                            acc ^= work(consume, item);
                        }
                    });
                    std::hint::black_box(acc);
                    d
                })?,
        );
    }
    {
        let (q, start) = (q.clone(), start.clone());
        handles.push(
            std::thread::Builder::new()
                .name("producer".into())
                .spawn(move || {
                    start.wait();
                    let d = waited(&mut || {
                        for i in 0..items {
                            q.push(work(produce, i));
                        }
                    });
                    q.close();
                    d
                })?,
        );
    }
    let cpu0 = cpu_now(RUSAGE_SELF);
    start.wait();
    let t = Instant::now();
    let mut core_wait = Some(Duration::ZERO);
    for h in handles {
        let d = h
            .join()
            .map_err(|_| std::io::Error::other("a queue thread panicked"))?;
        core_wait = core_wait.zip(d).map(|(a, b)| a + b);
    }
    let wall = t.elapsed();
    let cpu = cpu_now(RUSAGE_SELF).saturating_sub(cpu0);
    let s = q.stats();
    let wall_ms = wall.as_secs_f64() * 1e3;
    let cpu_ms = cpu.as_secs_f64() * 1e3;
    let cores_busy = if wall_ms > 0.0 { cpu_ms / wall_ms } else { 0.0 };
    let core_wait_ms = core_wait.map(|d| d.as_secs_f64() * 1e3);
    Ok(Run {
        consumers,
        items: s.pushed,
        wall_ms,
        items_per_s: if wall_ms > 0.0 {
            s.pushed as f64 / wall.as_secs_f64()
        } else {
            0.0
        },
        cpu_ms,
        cores_busy,
        core_wait_ms,
        full_waits: s.full_waits,
        empty_waits: s.empty_waits,
        producer_blocked_ms: s.blocked.as_secs_f64() * 1e3,
        limit: limit(wall_ms, core_wait_ms, s.full_waits, s.empty_waits),
    })
}

/// What limited a run: the cores when its threads spent, together, at
/// least half the run waiting for one (on average half a thread always
/// ready but not running); else the side the other waited for more often.
pub fn limit(wall_ms: f64, core_wait_ms: Option<f64>, full_waits: u64, empty_waits: u64) -> Limit {
    if core_wait_ms.is_some_and(|w| w >= 0.5 * wall_ms) {
        Limit::Cores
    } else if full_waits >= empty_waits {
        Limit::Consumers
    } else {
        Limit::Producer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_makes_the_producer_wait_and_loses_nothing() {
        let f = fill(4, 50, Duration::from_millis(5)).unwrap();
        assert_eq!(f.pushed_before_block, 4, "the fifth push waited");
        assert_eq!(f.len_when_blocked, 4);
        assert!(f.full_waits >= 1);
        assert_eq!(f.items, 50, "every item came out");
    }

    #[test]
    fn every_item_is_consumed_once_whatever_the_consumers() {
        for c in [1, 3] {
            let r = run(2, c, 200, 10, 30).unwrap();
            assert_eq!((r.consumers, r.items), (c, 200));
        }
    }

    #[test]
    fn the_limit_follows_the_waits_and_the_cores() {
        assert_eq!(limit(100.0, Some(1.0), 100, 1), Limit::Consumers);
        assert_eq!(limit(100.0, Some(1.0), 1, 100), Limit::Producer);
        assert_eq!(limit(100.0, Some(80.0), 100, 1), Limit::Cores);
        assert_eq!(limit(100.0, None, 1, 100), Limit::Producer, "no schedstat");
    }

    #[test]
    fn calibrated_work_is_some_work() {
        assert!(calibrate(Duration::from_micros(20)) >= 1);
    }

    #[test]
    fn pop_returns_none_once_closed_and_empty() {
        let q = BoundedQueue::new(2);
        q.push(1);
        q.close();
        assert_eq!(q.pop(), Some(1));
        assert_eq!(q.pop(), None);
        assert_eq!(q.stats().max_len, 1);
        assert!(q.is_empty() && q.capacity() == 2);
    }
}
