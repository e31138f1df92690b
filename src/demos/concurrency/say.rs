//! What `netlab concurrency` says, in both languages: each message with
//! arguments is one function, its English and Chinese side by side. Every
//! comparison is decided by this run's figures.

use crate::concurrency::locks::{FileLock, Race};
use crate::concurrency::parallel::{Locals, Parallel, Run, TwoThreads};
use crate::concurrency::python::PyOut;
use crate::concurrency::spawn::{Kind, Spawned};
use crate::narrate::{tx, Text};

/// A time in µs, in the unit that reads best.
pub fn us(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2} µs")
    } else if v < 1000.0 {
        format!("{v:.0} µs")
    } else {
        format!("{:.1} ms", v / 1000.0)
    }
}

/// KiB, in the unit that reads best (fractions for the tiny per-task figures).
pub fn kib(k: f64) -> String {
    if k >= 10.0 * 1024.0 {
        format!("{:.0} MiB", k / 1024.0)
    } else if k >= 1024.0 {
        format!("{:.1} MiB", k / 1024.0)
    } else if k >= 10.0 {
        format!("{k:.0} KiB")
    } else {
        format!("{k:.1} KiB")
    }
}

fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.0} ms")
    }
}

/// A ratio such as 1.9×.
fn x(v: f64) -> String {
    format!("{v:.1}×")
}

/// Step 1's title.
pub fn spawn_title(all: &[Spawned]) -> Text {
    let find = |k: Kind| all.iter().filter(move |s| s.kind == k).map(|s| s.us_each);
    let proc_us = find(Kind::Process).fold(f64::INFINITY, f64::min);
    let n = all.first().map_or(0, |s| s.n);
    let t = find(Kind::Thread).next().unwrap_or(0.0);
    let k = find(Kind::Task).next().unwrap_or(0.0);
    tx(
        format!(
            "{n} of each started: a process in {} at best, a thread in {}, a task in {}",
            us(proc_us),
            us(t),
            us(k)
        ),
        format!(
            "每种各启动 {n} 个：进程最快 {}，线程 {}，任务 {}",
            us(proc_us),
            us(t),
            us(k)
        ),
    )
}

/// One kind's figures.
pub fn spawned(s: &Spawned) -> Text {
    let up = if s.up == s.n {
        (String::new(), String::new())
    } else {
        (
            format!(" (only {} of {} seen up)", s.up, s.n),
            format!("（只看到 {}/{} 个就绪）", s.up, s.n),
        )
    };
    match s.kind {
        Kind::Process => tx(
            format!(
                "{} each; {} resident each, {} of it its own (RssAnon), the rest file pages shared with other processes; {} process ids; {} voluntary, {} involuntary switches in all{}",
                us(s.us_each),
                kib(s.rss_kb_each),
                kib(s.anon_kb_each),
                s.kernel_ids,
                s.voluntary,
                s.involuntary,
                up.0
            ),
            format!(
                "每个 {}；常驻内存每个 {}，其中自己独占的（RssAnon）{}，其余是与别的进程共享的文件页；{} 个进程号；自愿切换共 {} 次，非自愿 {} 次{}",
                us(s.us_each),
                kib(s.rss_kb_each),
                kib(s.anon_kb_each),
                s.kernel_ids,
                s.voluntary,
                s.involuntary,
                up.1
            ),
        ),
        Kind::Thread => tx(
            format!(
                "{} each; the process grew {} resident and {} of address space (a reserved stack) per thread; {} thread ids in one process; {} voluntary, {} involuntary switches in all{}",
                us(s.us_each),
                kib(s.rss_kb_each),
                kib(s.vm_kb_each),
                s.kernel_ids,
                s.voluntary,
                s.involuntary,
                up.0
            ),
            format!(
                "每个 {}；每个线程让进程的常驻内存增加 {}，地址空间增加 {}（预留的栈）；一个进程里 {} 个线程号；自愿切换共 {} 次，非自愿 {} 次{}",
                us(s.us_each),
                kib(s.rss_kb_each),
                kib(s.vm_kb_each),
                s.kernel_ids,
                s.voluntary,
                s.involuntary,
                up.1
            ),
        ),
        Kind::Task => {
            let bytes = s.future_bytes.unwrap_or(0);
            let polls = s.user_switches.unwrap_or(0);
            tx(
                format!(
                    "{} each; {} resident each (the future itself {bytes} bytes); all on {} thread; the runtime switched to a task {polls} times, in user space, while that thread made {} voluntary and {} involuntary kernel switches{}",
                    us(s.us_each),
                    kib(s.rss_kb_each),
                    s.kernel_ids,
                    s.voluntary,
                    s.involuntary,
                    up.0
                ),
                format!(
                    "每个 {}；常驻内存每个 {}（任务的 future 本身 {bytes} 字节）；全在 {} 个线程上；运行时在用户态切换到任务 {polls} 次，而该线程在内核里只有自愿切换 {} 次、非自愿 {} 次{}",
                    us(s.us_each),
                    kib(s.rss_kb_each),
                    s.kernel_ids,
                    s.voluntary,
                    s.involuntary,
                    up.1
                ),
            )
        }
    }
}

/// Step 2's title.
pub fn parallel_title(p: &Parallel) -> Text {
    tx(
        format!(
            "The same work: 1 thread {}; {} threads {} ({} of at most {}×); {} tasks on one thread {}",
            ms(p.serial.wall_ms),
            p.threads.workers,
            ms(p.threads.wall_ms),
            x(p.speedup),
            p.cores,
            p.tasks.workers,
            ms(p.tasks.wall_ms)
        ),
        format!(
            "同样的工作：1 个线程 {}；{} 个线程 {}（{}，最多 {} 倍）；一个线程上的 {} 个任务 {}",
            ms(p.serial.wall_ms),
            p.threads.workers,
            ms(p.threads.wall_ms),
            x(p.speedup),
            p.cores,
            p.tasks.workers,
            ms(p.tasks.wall_ms)
        ),
    )
}

/// The cores and the most a speed-up can be.
pub fn cores(p: &Parallel) -> Text {
    tx(
        format!(
            "{} online, {} usable by this process: {} threads at once at most, so a speed-up of at most {}×",
            p.cores_online, p.cores, p.cores, p.cores
        ),
        format!(
            "在线 {} 个，本进程可用 {} 个：最多 {} 个线程同时运行，所以加速最多 {} 倍",
            p.cores_online, p.cores, p.cores, p.cores
        ),
    )
}

fn wall_cpu(r: &Run) -> (String, String) {
    (
        format!(
            "wall {}, CPU {}: {:.1} cores busy on average",
            ms(r.wall_ms),
            ms(r.cpu_ms),
            r.busy_cores()
        ),
        format!(
            "墙钟 {}，CPU {}：平均 {:.1} 个核在忙",
            ms(r.wall_ms),
            ms(r.cpu_ms),
            r.busy_cores()
        ),
    )
}

/// One thread; a note when other programs took part of its core.
pub fn serial(p: &Parallel) -> Text {
    let (en, zh) = wall_cpu(&p.serial);
    let b = p.serial.busy_cores();
    if b < 0.8 {
        tx(
            format!("{en}; other programs had the rest of its core: this run's timings are noisy"),
            format!("{zh}；这个核的其余时间被别的程序占了：本次计时会有波动"),
        )
    } else {
        tx(en, zh)
    }
}

/// A thread per core: how it compares is decided by the figures.
pub fn threads(p: &Parallel) -> Text {
    let (en, zh) = wall_cpu(&p.threads);
    let verdict = if p.threads.workers < 2 {
        tx(
            "; one core: nothing to run in parallel with",
            "；只有一个核：没有并行的余地",
        )
    } else if p.speedup >= 1.2 && p.threads.busy_cores() > 1.2 {
        tx(
            format!(
                "; {} faster than one thread, seen on {} CPUs: parallel",
                x(p.speedup),
                p.thread_cpus
            ),
            format!(
                "；比一个线程快 {}，出现在 {} 个 CPU 上：这是并行",
                x(p.speedup),
                p.thread_cpus
            ),
        )
    } else if p.threads.busy_cores() <= 1.2 {
        tx(
            format!(
                "; only {} of one thread's speed: the threads were always ready to run but got {:.1} cores between them, other programs holding the rest",
                x(p.speedup),
                p.threads.busy_cores()
            ),
            format!(
                "；只有一个线程速度的 {}：线程一直可以运行，却总共只分到 {:.1} 个核，其余被别的程序占着",
                x(p.speedup),
                p.threads.busy_cores()
            ),
        )
    } else {
        tx(
            format!("; {} of one thread's speed", x(p.speedup)),
            format!("；是一个线程速度的 {}", x(p.speedup)),
        )
    };
    tx(en + &verdict.en, zh + &verdict.zh)
}

/// Tasks on one thread: taking turns.
pub fn tasks(p: &Parallel) -> Text {
    let (en, zh) = wall_cpu(&p.tasks);
    let order = p
        .order
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let more = if p.chunks as usize > p.order.len() {
        " …"
    } else {
        ""
    };
    tx(
        format!(
            "{en}; chunks ran in the order {order}{more}: {} switches between tasks in {} chunks, on one thread",
            p.task_switches, p.chunks
        ),
        format!(
            "{zh}；各块按 {order}{more} 的顺序运行：{} 块之间切换任务 {} 次，都在一个线程上",
            p.chunks, p.task_switches
        ),
    )
}

/// Step 3's title.
pub fn race_title(r: &Race) -> Text {
    let lost = r.expected.saturating_sub(r.without_lock);
    tx(
        format!(
            "Two threads, {} increments: {} without a lock ({lost} lost), {} with a mutex",
            r.expected, r.without_lock, r.with_lock
        ),
        format!(
            "两个线程共加 {} 次：不加锁得 {}（丢了 {lost} 次），加互斥锁得 {}",
            r.expected, r.without_lock, r.with_lock
        ),
    )
}

/// The unlocked run.
pub fn without_lock(r: &Race) -> Text {
    let lost = r.expected.saturating_sub(r.without_lock);
    if lost == 0 {
        tx(
            format!(
                "{} of {}: none lost this run (the threads never overlapped between load and store); run it again",
                r.without_lock, r.expected
            ),
            format!(
                "{}/{}：这次一次也没丢（两个线程没有在读和写之间撞上）；再运行一次试试",
                r.without_lock, r.expected
            ),
        )
    } else {
        tx(
            format!(
                "{} of {}: {lost} updates lost ({:.1} %), in {}",
                r.without_lock,
                r.expected,
                lost as f64 * 100.0 / r.expected as f64,
                ms(r.without_ms)
            ),
            format!(
                "{}/{}：丢了 {lost} 次更新（{:.1} %），用时 {}",
                r.without_lock,
                r.expected,
                lost as f64 * 100.0 / r.expected as f64,
                ms(r.without_ms)
            ),
        )
    }
}

/// The locked run.
pub fn with_lock(r: &Race) -> Text {
    let exact = r.with_lock == r.expected;
    tx(
        format!(
            "{} of {}: {}, in {}",
            r.with_lock,
            r.expected,
            if exact { "exact" } else { "NOT exact" },
            ms(r.with_ms)
        ),
        format!(
            "{}/{}：{}，用时 {}",
            r.with_lock,
            r.expected,
            if exact {
                "一次不差"
            } else {
                "仍然不对"
            },
            ms(r.with_ms)
        ),
    )
}

/// The futex calls.
pub fn futex(r: &Race) -> Text {
    let f = &r.futex;
    let quiet = f.locks.saturating_sub(f.contended);
    tx(
        format!(
            "{} lock() calls: {quiet} found it free and made no system call; {} found it held: {} futex(FUTEX_WAIT) calls (asleep in the kernel) and {} futex(FUTEX_WAKE) calls from unlock(), counted by netlab's own futex mutex",
            f.locks, f.contended, f.futex_wait, f.futex_wake
        ),
        format!(
            "lock() 共 {} 次：{quiet} 次锁是空的，不进内核；{} 次锁被占着：共 {} 次 futex(FUTEX_WAIT)（在内核里睡眠），unlock() 发出 {} 次 futex(FUTEX_WAKE)；由 netlab 自己的 futex 互斥锁计数",
            f.locks, f.contended, f.futex_wait, f.futex_wake
        ),
    )
}

/// The flock step's title.
pub fn flock_title(f: &FileLock) -> Text {
    tx(
        format!(
            "A process lock: the second process waited {} for flock()",
            ms(f.waited_ms)
        ),
        format!("进程锁：第二个进程在 flock() 上等了 {}", ms(f.waited_ms)),
    )
}

/// The holder.
pub fn holder(f: &FileLock) -> Text {
    tx(
        format!(
            "pid {} took flock(LOCK_EX) and held it {} after pid {} asked",
            f.holder_pid,
            ms(f.held_ms),
            f.waiter_pid
        ),
        format!(
            "进程 {} 先用 flock(LOCK_EX) 加锁，在进程 {} 请求之后又持有了 {}",
            f.holder_pid,
            f.waiter_pid,
            ms(f.held_ms)
        ),
    )
}

/// The waiter.
pub fn waiter(f: &FileLock) -> Text {
    let state = match f.waiter_state.as_deref() {
        Some("S") => tx("S (asleep in the kernel)", "S（在内核里睡眠）"),
        Some(s) => tx(s, s),
        None => tx("unreadable", "无法读取"),
    };
    let queued = if f.seen_blocked {
        tx(
            "; /proc/locks showed its request queued (->) behind the holder's",
            "；/proc/locks 显示它的请求（->）排在持有者之后",
        )
    } else {
        tx(
            "; its request was not seen queued in /proc/locks",
            "；在 /proc/locks 里没看到它的请求在排队",
        )
    };
    tx(
        format!(
            "pid {}, state {} while it waited; its flock() returned after {}{}",
            f.waiter_pid,
            state.en,
            ms(f.waited_ms),
            queued.en
        ),
        format!(
            "进程 {} 等待时状态为 {}；它的 flock() 过了 {} 才返回{}",
            f.waiter_pid,
            state.zh,
            ms(f.waited_ms),
            queued.zh
        ),
    )
}

/// The /proc/locks lines, as code.
pub fn proc_locks(f: &FileLock) -> Text {
    let lines = f
        .proc_locks
        .iter()
        .map(|l| format!("`{}`", l.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect::<Vec<_>>()
        .join("; ");
    Text::from(lines)
}

/// How a speed-up reads: faster or not, decided by the figure.
fn verdict(v: f64) -> (String, String) {
    if v < 1.2 {
        (
            format!("{}: no faster than one thread", x(v)),
            format!("{}：并不比一个线程快", x(v)),
        )
    } else {
        (
            format!("{} one thread's speed", x(v)),
            format!("是一个线程速度的 {}", x(v)),
        )
    }
}

/// Wall and CPU time, and the cores busy on average.
fn busy(wall_s: f64, cpu_s: f64) -> (String, String) {
    let b = cpu_s / wall_s.max(1e-9);
    (
        format!(
            "{}, CPU {}: {b:.1} cores busy",
            ms(wall_s * 1e3),
            ms(cpu_s * 1e3)
        ),
        format!(
            "{}，CPU {}：平均 {b:.1} 个核在忙",
            ms(wall_s * 1e3),
            ms(cpu_s * 1e3)
        ),
    )
}

/// The GIL step's title.
pub fn gil_title(py: &PyOut, rust: &TwoThreads) -> Text {
    tx(
        format!(
            "python3 {}: two threads {} one, two processes {}; Rust's two threads {}",
            py.version,
            x(py.threads_speedup()),
            x(py.processes_speedup()),
            x(rust.speedup)
        ),
        format!(
            "python3 {}：两个线程是一个的 {}，两个进程 {}；Rust 的两个线程 {}",
            py.version,
            x(py.threads_speedup()),
            x(py.processes_speedup()),
            x(rust.speedup)
        ),
    )
}

/// Which python3, and its GIL.
pub fn python(path: &str, py: &PyOut) -> Text {
    let gil = if py.gil_enabled {
        tx(
            format!(
                "GIL on, handed over every {:.0} ms (sys.getswitchinterval)",
                py.switch_interval_ms
            ),
            format!(
                "有 GIL，每 {:.0} ms 交接一次（sys.getswitchinterval）",
                py.switch_interval_ms
            ),
        )
    } else {
        tx(
            "GIL off (a free-threaded build)",
            "没有 GIL（自由线程构建）",
        )
    };
    tx(
        format!("{path} {} ({}), {}", py.version, py.implementation, gil.en),
        format!("{path} {}（{}），{}", py.version, py.implementation, gil.zh),
    )
}

/// Python serially.
pub fn py_serial(py: &PyOut) -> Text {
    let v = ms(py.serial_s * 1e3);
    tx(
        format!("two units of a Python loop, one after the other: {v}"),
        format!("Python 循环两份，一份接一份：{v}"),
    )
}

/// Python, two threads.
pub fn py_threads(py: &PyOut) -> Text {
    let (v_en, v_zh) = verdict(py.threads_speedup());
    let (b_en, b_zh) = busy(py.threads_s, py.threads_cpu_s);
    tx(
        format!("one unit each: {b_en}; {v_en}"),
        format!("每个一份：{b_zh}；{v_zh}"),
    )
}

/// Python, two processes.
pub fn py_processes(py: &PyOut) -> Text {
    let (v_en, v_zh) = verdict(py.processes_speedup());
    let (b_en, b_zh) = busy(py.processes_s, py.processes_cpu_s);
    tx(
        format!("one unit each, starting them included: {b_en}; {v_en}"),
        format!("每个一份（含启动进程）：{b_zh}；{v_zh}"),
    )
}

/// Rust, one thread and two.
pub fn rust_two(r: &TwoThreads) -> Text {
    let (v_en, v_zh) = verdict(r.speedup);
    let (b_en, b_zh) = busy(r.threads_ms / 1e3, r.threads_cpu_ms / 1e3);
    tx(
        format!(
            "two units of a Rust loop: {} on one thread; on two, {b_en}; {v_en}",
            ms(r.serial_ms)
        ),
        format!(
            "Rust 循环两份：一个线程 {}；两个线程 {b_zh}；{v_zh}",
            ms(r.serial_ms)
        ),
    )
}

/// Without python3.
pub fn no_python(why: &Text) -> Text {
    tx(
        format!(
            "{}: the Python half is skipped; install it (Debian, Ubuntu: `apt install python3`) and run again",
            why.en
        ),
        format!(
            "{}：跳过 Python 部分；安装后再运行（Debian、Ubuntu：`apt install python3`）",
            why.zh
        ),
    )
}

/// The GIL step's title without python3.
pub fn gil_title_rust(rust: &TwoThreads) -> Text {
    tx(
        format!(
            "No python3 to ask; Rust's two threads ran the work {}",
            x(rust.speedup)
        ),
        format!("没有 python3 可问；Rust 的两个线程跑出 {}", x(rust.speedup)),
    )
}

/// The pools step's title.
pub fn pools_title(py: &PyOut) -> Text {
    tx(
        format!(
            "{} units on 2 workers: ThreadPoolExecutor {}, ProcessPoolExecutor {}",
            py.pool_jobs,
            ms(py.thread_pool_s * 1e3),
            ms(py.process_pool_s * 1e3)
        ),
        format!(
            "{} 份工作交给 2 个工作者：ThreadPoolExecutor {}，ProcessPoolExecutor {}",
            py.pool_jobs,
            ms(py.thread_pool_s * 1e3),
            ms(py.process_pool_s * 1e3)
        ),
    )
}

/// One pool's line; which was faster decided by the figures.
pub fn pools(py: &PyOut) -> Text {
    let r = py.thread_pool_s / py.process_pool_s.max(1e-9);
    if r >= 1.2 {
        tx(
            format!(
                "the process pool finished {} sooner: its workers are processes, each with its own GIL (multiprocessing start method: {})",
                x(r),
                py.start_method
            ),
            format!(
                "进程池快了 {}：它的工作者是进程，各有各的 GIL（multiprocessing 启动方式：{}）",
                x(r),
                py.start_method
            ),
        )
    } else {
        tx(
            format!(
                "the process pool was not clearly faster this run ({} of the thread pool's time; start method {})",
                x(1.0 / r.max(1e-9)),
                py.start_method
            ),
            format!(
                "这次进程池并没有明显更快（用时是线程池的 {}；启动方式 {}）",
                x(1.0 / r.max(1e-9)),
                py.start_method
            ),
        )
    }
}

fn pairs(names: &[&str], seen: &[String]) -> (String, String) {
    let en = names
        .iter()
        .zip(seen)
        .map(|(n, s)| format!("{n} read `{s}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let zh = names
        .iter()
        .zip(seen)
        .map(|(n, s)| format!("{n} 读到 `{s}`"))
        .collect::<Vec<_>>()
        .join("，");
    (en, zh)
}

/// The locals step's title.
pub fn locals_title(py: Option<&PyOut>, rust: &Locals) -> Text {
    let own = |seen: &[String]| seen == ["A", "B"];
    match py {
        Some(p) => tx(
            format!(
                "One name, a value per thread: threading.local {} each thread its own, thread_local! {}",
                if own(&p.local_seen) { "gave" } else { "did not give" },
                if own(&rust.local_seen) { "too" } else { "did not" }
            ),
            format!(
                "同一个名字，每个线程一个值：threading.local {}，thread_local! {}",
                if own(&p.local_seen) { "让每个线程各有一份" } else { "没有做到各有一份" },
                if own(&rust.local_seen) { "也一样" } else { "却没有" }
            ),
        ),
        None => tx(
            format!(
                "One name, a value per thread: thread_local! {}",
                if own(&rust.local_seen) { "gave each thread its own" } else { "did not give each its own" }
            ),
            format!(
                "同一个名字，每个线程一个值：thread_local! {}",
                if own(&rust.local_seen) { "让每个线程各有一份" } else { "没有做到各有一份" }
            ),
        ),
    }
}

/// What two threads read back from a per-thread or shared value.
pub fn seen(seen: &[String], main_after: Option<&str>) -> Text {
    let (en, zh) = pairs(&["A", "B"], seen);
    match main_after {
        Some(m) => tx(
            format!("{en}; the main thread still read `{m}`"),
            format!("{zh}；主线程读到的仍是 `{m}`"),
        ),
        None => tx(
            format!("{en}: the last writer wins"),
            format!("{zh}：谁最后写就是谁的"),
        ),
    }
}

/// The run in one line.
pub fn summary(all: &[Spawned], p: &Parallel, r: &Race) -> Text {
    let proc_us = all
        .iter()
        .filter(|s| s.kind == Kind::Process)
        .map(|s| s.us_each)
        .fold(f64::INFINITY, f64::min);
    let of = |k: Kind| all.iter().find(|s| s.kind == k).map_or(0.0, |s| s.us_each);
    let lost = r.expected.saturating_sub(r.without_lock);
    tx(
        format!(
            "Process {}, thread {}, task {}; {} threads {}; {lost} updates lost without a lock, {} with",
            us(proc_us),
            us(of(Kind::Thread)),
            us(of(Kind::Task)),
            p.threads.workers,
            x(p.speedup),
            r.expected.saturating_sub(r.with_lock)
        ),
        format!(
            "进程 {}，线程 {}，任务 {}；{} 个线程 {}；不加锁丢 {lost} 次更新，加锁丢 {} 次",
            us(proc_us),
            us(of(Kind::Thread)),
            us(of(Kind::Task)),
            p.threads.workers,
            x(p.speedup),
            r.expected.saturating_sub(r.with_lock)
        ),
    )
}
