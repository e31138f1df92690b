//! `netlab concurrency`: processes, threads and coroutines; concurrency and
//! parallelism; thread and process locks; Python's GIL, pools and
//! `threading.local` (Q18, Q19, Q20, Q21, Q23, Q24).
//!
//! On one machine, with real system calls, measured:
//!
//! 1. N processes (fork+exec, posix_spawn), N threads, N tokio tasks started:
//!    time, memory and context switches each, from /proc;
//! 2. the same CPU-bound work on one thread, on a thread per core and as
//!    tasks taking turns on one thread: wall time against CPU time;
//! 3. two threads losing updates without a lock, none with a futex mutex
//!    (its system calls counted); flock between two processes;
//! 4. the system's python3: two threads against two processes (the GIL),
//!    ThreadPoolExecutor against ProcessPoolExecutor, threading.local; Rust's
//!    two threads and thread_local! beside them.
//!
//! The engine is crate::concurrency; nothing here starts a thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::cli::ConcurrencyArgs;
use crate::concurrency::locks::{self, FileLock, Race};
use crate::concurrency::parallel::{self, Locals, Parallel, TwoThreads};
use crate::concurrency::python::{self, PyOut};
use crate::concurrency::spawn::{self, Kind, ProcessCall, Spawned};
use crate::error::{exit, Error, Result};
use crate::narrate::{tx, Narrator, Step, Summary, Text};

mod say;

/// Step 1: N of each kind, started and measured.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct SpawnStep {
    /// The program each child process runs (cat, asleep in read() on an empty pipe).
    program: String,
    /// One entry per way of starting: fork+exec, posix_spawn, threads, tasks.
    spawned: Vec<Spawned>,
}

/// Step 4: Python's GIL against Rust's threads.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct GilStep {
    /// The python3 asked, if one was found.
    python: Option<String>,
    /// Why Python's half is missing, when it is.
    missing: Option<String>,
    /// What python3 measured and saw.
    measured: Option<PyOut>,
    /// Two units of Rust work on one thread and on two.
    rust: TwoThreads,
}

/// Step 5: the two pools.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct PoolsStep {
    /// Units of work given to each pool.
    jobs: u64,
    /// Workers in each pool.
    workers: u64,
    /// ThreadPoolExecutor's time, ms.
    thread_pool_ms: f64,
    /// ProcessPoolExecutor's time, ms.
    process_pool_ms: f64,
    /// multiprocessing's start method.
    start_method: String,
}

/// Step 6: a value per thread.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct LocalsStep {
    /// Python's threading.local and a shared attribute, as threads A and B read them (None without python3).
    python: Option<PyLocals>,
    /// Rust's thread_local! and a shared value, likewise.
    rust: Locals,
}

/// Python's side of step 6.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct PyLocals {
    /// What threads A and B read from threading.local.
    local_seen: Vec<String>,
    /// What they read from one shared attribute.
    shared_seen: Vec<String>,
    /// The main thread's threading.local afterwards.
    main_after: String,
}

/// One kind's start-up cost, as the summary gives it.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct SpawnCost {
    /// process, thread or task.
    kind: Kind,
    /// How it was started (two process entries: `fork+exec`, `posix_spawn`).
    call: String,
    /// How many were started.
    n: usize,
    /// Time each, µs.
    us_each: f64,
    /// Resident memory each, KiB (processes: their VmRSS; threads and tasks: the process's growth / N).
    rss_kb_each: f64,
}

/// The parallel run, as the summary gives it.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct ParallelSum {
    /// Threads, one per usable core.
    threads: usize,
    /// Their wall-clock time, ms.
    wall_ms: f64,
    /// The CPU time used meanwhile (getrusage), ms.
    cpu_ms: f64,
    /// One thread's wall time / theirs.
    speedup: f64,
}

/// The race, as the summary gives it.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct LostUpdates {
    /// Increments made in all.
    expected: u64,
    /// The counter without a lock.
    without_lock: u64,
    /// The counter with the mutex.
    with_lock: u64,
}

/// Python's speed-ups.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Gil {
    /// Two units serially / on two threads (about 1 with the GIL).
    threads_speedup: f64,
    /// Two units serially / in two processes (about 2 on two free cores).
    processes_speedup: f64,
}

/// The run's results: the summary's fields.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct ConcurrencyOut {
    /// Start-up cost of each kind.
    spawn: Vec<SpawnCost>,
    /// The thread-per-core run.
    parallel: ParallelSum,
    /// The counter without and with a lock.
    lost_updates: LostUpdates,
    /// Python's GIL, measured; null without python3.
    gil: Option<Gil>,
}

/// Increments each racing thread makes.
const PER_THREAD: u64 = 100_000;
/// About how long the serial run of step 2 takes.
const SERIAL: Duration = Duration::from_millis(300);
/// About how long one unit of the Python and Rust GIL work takes.
const UNIT: Duration = Duration::from_millis(100);

/// Between phases: a Ctrl-C or SIGTERM ends the run here, everything it
/// started stopped and removed on the way out.
fn check(stop: &AtomicBool) -> Result<()> {
    if stop.load(Ordering::Relaxed) {
        return Err(Error::system(
            tx("finish", "完成"),
            "concurrency",
            std::io::Error::new(std::io::ErrorKind::Interrupted, "stopped by a signal"),
        ));
    }
    Ok(())
}

/// Run the demo.
pub fn run(args: &ConcurrencyArgs, n: &mut Narrator) -> Result<i32> {
    n.pcap_note("concurrency: processes, threads, tasks and locks on one machine; no packets cross any interface, so this capture holds none.");
    let stop = crate::sys::stop_flag()?;
    // Directories a killed run left (its python script, its lock file).
    let _ = crate::private::remove_stale("concurrency");

    // 1. Start-up costs.
    let program = spawn::child_program()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut all = Vec::new();
    for call in [ProcessCall::ForkExec, ProcessCall::PosixSpawn] {
        all.push(spawn::processes(call, args.n)?);
        check(&stop)?;
    }
    all.push(spawn::threads(args.n)?);
    all.push(spawn::tasks(args.n)?);
    check(&stop)?;
    let mut s = Step::new(
        say::spawn_title(&all),
        tx(
            "A process has an address space of its own: starting one means a new memory map and loading a program (exec). A thread is another flow of control in this process: same memory, only a stack and a kernel task of its own. A tokio task (a coroutine) is a future in this process's memory, switched by the runtime in user space at each await. Each stayed alive, waiting, until all were up; figures from /proc.",
            "进程有自己独立的地址空间：创建一个进程要建新的内存映射并装入程序（exec）。线程是本进程里的又一条执行流：内存共享，只多一个栈和一个内核调度实体。tokio 任务（协程）只是本进程内存里的一个 future，由运行时在每个 await 处于用户态切换。每个都活着等到全部就绪；数字读自 /proc。",
        ),
        &["Q18"],
    )
    .section(tx(
        "1 · Processes, threads and tasks",
        "1 · 进程、线程与任务（协程）",
    ));
    for sp in &all {
        let label = match sp.kind {
            Kind::Process => Text::from(sp.call.clone()),
            Kind::Thread => tx("threads", "线程"),
            Kind::Task => tx("tokio tasks", "tokio 任务"),
        };
        s = s.fact(label, say::spawned(sp));
    }
    n.step(s.with(&SpawnStep {
        program,
        spawned: all.clone(),
    }))?;

    // 2. Concurrency and parallelism.
    let p = parallel::compare(SERIAL)?;
    check(&stop)?;
    n.step(
        Step::new(
            say::parallel_title(&p),
            tx(
                "Parallel: at the same instant, on different cores; when it happens, the CPU time getrusage counts exceeds the wall time. Concurrent: several tasks under way in the same period, taking turns; here the tasks yield after each chunk, so they all progress on one thread, with one core's CPU time and no speed-up.",
                "并行：同一时刻在不同的核上运行；一旦并行，getrusage 统计的 CPU 时间就会超过墙钟时间。并发：一段时间内多个任务都在推进，轮流执行；这里每个任务算完一块就让出，所以它们都在一个线程上推进，只用一个核的 CPU 时间，也不会更快。",
            ),
            &["Q23"],
        )
        .section(tx("2 · Concurrency and parallelism", "2 · 并发与并行"))
        .fact(tx("cores", "CPU 核"), say::cores(&p))
        .fact(tx("1 thread", "1 个线程"), say::serial(&p))
        .fact(
            tx(
                format!("{} threads", p.threads.workers),
                format!("{} 个线程", p.threads.workers),
            ),
            say::threads(&p),
        )
        .fact(
            tx(
                format!("{} tasks", p.tasks.workers),
                format!("{} 个任务", p.tasks.workers),
            ),
            say::tasks(&p),
        )
        .with(&p),
    )?;

    // 3. Locks: threads, then processes.
    let r = locks::race(PER_THREAD)?;
    check(&stop)?;
    n.step(
        Step::new(
            say::race_title(&r),
            tx(
                "Each increment is a load, a short pause and a store. Without a lock both threads can load the same value and both store it plus one: an update lost. A mutex lets one thread at a time between load and store. This one is netlab's own, the futex design of Rust's std::sync::Mutex on Linux: free, lock() is one atomic instruction; held, it sleeps in futex(FUTEX_WAIT) and unlock() calls futex(FUTEX_WAKE).",
                "每次加一都是读、稍停、再写。不加锁时，两个线程可能读到同一个值，又都写回它加一：一次更新就丢了。互斥锁保证同一时刻只有一个线程在读和写之间。这把锁是 netlab 自己的，与 Rust 在 Linux 上的 std::sync::Mutex 同一种 futex 设计：锁空闲时 lock() 只是一条原子指令；锁被占时在 futex(FUTEX_WAIT) 里睡眠，unlock() 再调用 futex(FUTEX_WAKE) 唤醒。",
            ),
            &["Q24"],
        )
        .section(tx("3 · Thread locks and process locks", "3 · 线程锁与进程锁"))
        .fact(tx("no lock", "不加锁"), say::without_lock(&r))
        .fact(tx("mutex", "互斥锁"), say::with_lock(&r))
        .fact(tx("futex", "futex"), say::futex(&r))
        .with(&r),
    )?;

    let dir = crate::private::RunDir::create("concurrency")?;
    let path = dir.write_new("lock", "")?;
    let f: FileLock = locks::file_lock(&path)?;
    drop(dir);
    check(&stop)?;
    n.step(
        Step::new(
            say::flock_title(&f),
            tx(
                "A thread lock lives in memory the threads share; processes share none, so their lock lives in something both can reach: here a file, locked with flock(LOCK_EX). The kernel queues the second request and puts that process to sleep until the first unlocks, or exits: the kernel releases a dead process's locks.",
                "线程锁放在线程共享的内存里；进程之间不共享内存，锁只能放在双方都够得着的地方：这里是一个文件，用 flock(LOCK_EX) 加锁。内核把第二个请求排进队列，让那个进程睡眠，直到第一个进程解锁或退出：进程死了，内核会释放它的锁。",
            ),
            &["Q24"],
        )
        .fact(tx("holder", "持有者"), say::holder(&f))
        .fact(tx("waiter", "等待者"), say::waiter(&f))
        .fact(Text::from("/proc/locks"), say::proc_locks(&f))
        .with(&f),
    )?;

    // 4. Python beside Rust.
    let rust = parallel::two_threads(UNIT)?;
    let rust_locals = parallel::thread_locals();
    check(&stop)?;
    let found = python::find(args.python.as_deref());
    let (py, missing): (Option<PyOut>, Option<Text>) = match &found {
        None => (
            None,
            Some(match &args.python {
                Some(p) => tx(
                    format!("no python3 at {}", p.display()),
                    format!("{} 处没有 python3", p.display()),
                ),
                None => tx("no python3 on this system", "本机没有 python3"),
            }),
        ),
        Some(p) => match python::run(p, UNIT, &stop) {
            Ok(o) => (Some(o), None),
            Err(e) => {
                check(&stop)?;
                (
                    None,
                    Some(tx(
                        format!("{} could not answer ({})", p.display(), e.text().en),
                        format!("{} 没能给出结果（{}）", p.display(), e.text().zh),
                    )),
                )
            }
        },
    };
    let py_path = found.as_ref().map(|p| p.display().to_string());
    let gil_detail = tx(
        "CPython runs Python bytecode in one thread at a time: a thread must hold the GIL (global interpreter lock) to run, and is asked to hand it over every switch interval. Two CPU-bound threads therefore take turns; two processes have an interpreter and a GIL each and run at once. Rust's threads share no such lock. One unit of work: a loop of about a tenth of a second.",
        "CPython 同一时刻只让一个线程执行 Python 字节码：线程必须持有 GIL（全局解释器锁）才能运行，每过一个切换间隔就被要求交出。所以两个计算密集的线程只能轮流跑；两个进程各有一个解释器和一把 GIL，可以同时跑。Rust 的线程没有这样的锁。一份工作：约十分之一秒的循环。",
    );
    let mut s = Step::new(
        match &py {
            Some(o) => say::gil_title(o, &rust),
            None => say::gil_title_rust(&rust),
        },
        gil_detail,
        &["Q19"],
    )
    .section(tx(
        "4 · Python's GIL, pools and threading.local, with Rust beside",
        "4 · Python 的 GIL、线程池进程池和 threading.local，旁边是 Rust",
    ));
    match (&py, &missing) {
        (Some(o), _) => {
            s = s
                .fact(
                    Text::from("python3"),
                    say::python(py_path.as_deref().unwrap_or("python3"), o),
                )
                .fact(tx("1 thread", "1 个线程"), say::py_serial(o))
                .fact(tx("2 threads", "2 个线程"), say::py_threads(o))
                .fact(tx("2 processes", "2 个进程"), say::py_processes(o));
        }
        (None, Some(why)) => {
            s = s.fact(Text::from("python3"), say::no_python(why));
        }
        (None, None) => {}
    }
    s = s.fact(tx("Rust", "Rust"), say::rust_two(&rust));
    n.step(s.with(&GilStep {
        python: py_path.clone(),
        missing: missing.as_ref().map(|m| m.en.clone()),
        measured: py.clone(),
        rust,
    }))?;

    if let Some(o) = &py {
        n.step(
            Step::new(
                say::pools_title(o),
                tx(
                    "concurrent.futures gives both pools one interface: submit() returns a Future, map() runs a batch, and a with block shuts the pool down. For CPU-bound Python the thread pool is held back by the GIL and the process pool is not, at the price of separate processes and of pickling arguments and results between them. For I/O-bound work threads suffice: a thread waiting for I/O releases the GIL.",
                    "concurrent.futures 给两种池同一套接口：submit() 返回一个 Future，map() 批量执行，用 with 语句块结束时自动关闭池。对计算密集的 Python 代码，线程池受 GIL 拖累，进程池不受，代价是要开独立的进程，参数和结果要序列化（pickle）后在进程间传递。I/O 密集的工作用线程就够了：线程等待 I/O 时会释放 GIL。",
                ),
                &["Q20"],
            )
            .fact(tx("pools", "两种池"), say::pools(o))
            .with(&PoolsStep {
                jobs: o.pool_jobs,
                workers: 2,
                thread_pool_ms: o.thread_pool_s * 1e3,
                process_pool_ms: o.process_pool_s * 1e3,
                start_method: o.start_method.clone(),
            }),
        )?;
    }

    let mut s = Step::new(
        say::locals_title(py.as_ref(), &rust_locals),
        tx(
            "Threads A and B each write their name to a per-thread value and to one shared value, wait for each other, then read both back. threading.local() keeps one copy of every attribute per thread, as Rust's thread_local! does: the same name, each thread's own value, with no lock and no passing it around.",
            "线程 A 和 B 各自把自己的名字写进一个线程局部的值和一个共享的值，互相等到对方也写完，再把两个值读回来。threading.local() 为每个线程各保存一份属性，和 Rust 的 thread_local! 一样：同一个名字，每个线程一个自己的值，不用加锁，也不用层层传参。",
        ),
        &["Q21"],
    );
    if let Some(o) = &py {
        s = s
            .fact(
                Text::from("threading.local"),
                say::seen(&o.local_seen, Some(&o.main_after)),
            )
            .fact(
                tx("shared attribute", "共享属性"),
                say::seen(&o.shared_seen, None),
            );
    }
    s = s
        .fact(
            Text::from("thread_local!"),
            say::seen(&rust_locals.local_seen, Some(&rust_locals.main_after)),
        )
        .fact(
            tx("shared value", "共享值"),
            say::seen(&rust_locals.shared_seen, None),
        );
    n.step(s.with(&LocalsStep {
        python: py.as_ref().map(|o| PyLocals {
            local_seen: o.local_seen.clone(),
            shared_seen: o.shared_seen.clone(),
            main_after: o.main_after.clone(),
        }),
        rust: rust_locals.clone(),
    }))?;

    let all_up = all.iter().all(|s| s.up == s.n);
    let ok = all_up && r.with_lock == r.expected && f.seen_blocked;
    n.summary(
        Summary {
            title: say::summary(&all, &p, &r),
            lines: vec![tx(
                "A process has memory of its own; threads share theirs and need locks; tasks share one thread and switch in user space. Parallelism needs free cores; concurrency needs only turns.",
                "进程有自己的内存；线程共享内存，所以要加锁；任务共用一个线程，在用户态切换。并行要有空闲的核；并发只要轮流。",
            )],
            questions: crate::record::qs(&["Q18", "Q19", "Q20", "Q21", "Q23", "Q24"]),
            ok,
            ..Summary::default()
        }
        .with(&ConcurrencyOut {
            spawn: all
                .iter()
                .map(|s| SpawnCost {
                    kind: s.kind,
                    call: s.call.clone(),
                    n: s.n,
                    us_each: s.us_each,
                    rss_kb_each: s.rss_kb_each,
                })
                .collect(),
            parallel: ParallelSum {
                threads: p.threads.workers,
                wall_ms: p.threads.wall_ms,
                cpu_ms: p.threads.cpu_ms,
                speedup: p.speedup,
            },
            lost_updates: LostUpdates {
                expected: r.expected,
                without_lock: r.without_lock,
                with_lock: r.with_lock,
            },
            gil: py.as_ref().map(|o| Gil {
                threads_speedup: o.threads_speedup(),
                processes_speedup: o.processes_speedup(),
            }),
        }),
    )?;
    Ok(if ok { exit::OK } else { exit::NETWORK_NO })
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "concurrency",
        "Processes, threads and tasks started and measured; serial, parallel and interleaved work; lost updates, a futex mutex, flock; Python's GIL, pools and threading.local beside Rust.",
    )
    .step::<SpawnStep>("1 · processes (fork+exec, posix_spawn), threads, tasks")
    .step::<Parallel>("2 · the same work on one thread, a thread per core, tasks on one thread")
    .step::<Race>("3 · two threads without and with a futex mutex")
    .step::<FileLock>("3 · flock between two processes")
    .step::<GilStep>("4 · Python's GIL, Rust's threads beside it")
    .step::<PoolsStep>("4 · ThreadPoolExecutor and ProcessPoolExecutor (with python3 only)")
    .step::<LocalsStep>("4 · threading.local and thread_local!")
    .summary::<ConcurrencyOut>()
}
