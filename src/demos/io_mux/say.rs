//! What `netlab io-mux` says, in both languages: each message with
//! arguments is one function, its English and Chinese side by side.

use std::time::Duration;

use crate::narrate::{plural, tx, Text};
use crate::transport::mux::{Blocking, FdLimit, Point, Served, Triggers};

/// A time in the unit that reads best: µs under a millisecond, else ms.
pub fn us(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2} µs")
    } else if v < 1000.0 {
        format!("{v:.0} µs")
    } else {
        format!("{:.1} ms", v / 1000.0)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Step 1's title.
pub fn blocking_title(b: &Blocking) -> Text {
    let (s, e) = (ms(b.slept), us(b.eagain.as_secs_f64() * 1e6));
    tx(
        format!("A blocking recv() slept {s:.0} ms; a non-blocking one returned in {e}"),
        format!("阻塞的 recv() 睡了 {s:.0} ms；非阻塞的 {e} 就返回了"),
    )
}

/// What the blocking read did.
pub fn blocking(b: &Blocking) -> Text {
    let s = ms(b.slept);
    let state = match b.state {
        Some('S') => tx("S (sleeping)", "S（睡眠）"),
        Some(c) => tx(c.to_string(), c.to_string()),
        None => tx("not readable", "无法读取"),
    };
    let wchan = b
        .wchan
        .as_deref()
        .map(|w| (format!(" in {w}"), format!("，停在内核的 {w}")))
        .unwrap_or_default();
    tx(
        format!(
            "recv() waited {s:.1} ms for the other end's write and returned {} bytes; meanwhile /proc showed the thread in state {}{}",
            b.got, state.en, wchan.0
        ),
        format!(
            "recv() 等了 {s:.1} ms，直到对端写入，返回 {} 字节；其间 /proc 显示该线程状态为 {}{}",
            b.got, state.zh, wchan.1
        ),
    )
}

/// What the non-blocking read did.
pub fn nonblocking(b: &Blocking) -> Text {
    let e = us(b.eagain.as_secs_f64() * 1e6);
    let name = if b.errno == libc::EAGAIN {
        "EAGAIN"
    } else {
        "error"
    };
    tx(
        format!(
            "the same recv() on a non-blocking socket with nothing there: {name} (errno {}) after {e}, \"try again later\"; the thread can do other work",
            b.errno
        ),
        format!(
            "同一个 recv()，套接字设为非阻塞、数据未到：{e} 后返回 {name}（errno {}），即「稍后再试」；线程可以去做别的事",
            b.errno
        ),
    )
}

/// The descriptor limit, raised.
pub fn fd_limit(l: &FdLimit) -> Text {
    if l.before < l.after {
        tx(
            format!(
                "soft limit raised from {} to {} (the hard limit, the most a process may set without privilege)",
                l.before, l.after
            ),
            format!(
                "软限制从 {} 提高到 {}（硬限制，无特权进程所能设的上限）",
                l.before, l.after
            ),
        )
    } else {
        tx(
            format!("{} (already the hard limit)", l.after),
            format!("{}（已是硬限制）", l.after),
        )
    }
}

/// Sizes left out for want of descriptors.
pub fn skipped(sizes: &[usize], limit: u64) -> Text {
    let list = sizes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    tx(
        format!("N = {list} left out: more descriptors than the limit ({limit}) allows"),
        format!("N = {list} 未测：所需描述符超过上限（{limit}）"),
    )
}

/// Step 2's title: the three calls at the largest N measured.
pub fn scaling_title(last: Option<&Point>) -> Text {
    match last {
        Some(p) => tx(
            format!(
                "{} idle connections and 1 ready: poll {}, epoll_wait {} per call",
                p.n,
                us(p.poll_us),
                us(p.epoll_us)
            ),
            format!(
                "{} 个空闲连接加 1 个就绪：每次调用 poll {}，epoll_wait {}",
                p.n,
                us(p.poll_us),
                us(p.epoll_us)
            ),
        ),
        None => tx(
            "No size fitted the descriptor limit",
            "没有哪个规模在描述符上限之内",
        ),
    }
}

const NBSP: &str = "\u{a0}";

/// The longest bar, in columns: the chart's rows fit 80 columns beside the
/// longest label (`N=10000 select`) and figure, whatever the terminal, so the
/// record is the same for every width.
const BAR: usize = 36;

/// The chart: per N, one bar per call, on a log scale so 0.3 µs and 3 ms
/// both show. Returns (label, value) rows: the label names N and the call
/// (`N=10 select`), so the text view's aligned labels give every bar the
/// same baseline; the value is the bar and its figure, unpadded.
pub fn chart(points: &[Point]) -> Vec<(Text, Text)> {
    let all: Vec<f64> = points
        .iter()
        .flat_map(|p| [p.select_us, Some(p.poll_us), Some(p.epoll_us)])
        .flatten()
        .filter(|v| *v > 0.0)
        .collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min).min(1.0);
    let hi = all.iter().copied().fold(0.0, f64::max).max(lo * 10.0);
    let bar = |v: f64| -> String {
        let f = ((v / lo).ln() / (hi / lo).ln()).clamp(0.0, 1.0) * BAR as f64;
        let eighths = (f * 8.0).round().max(1.0) as usize;
        let mut s = "█".repeat(eighths / 8);
        if !eighths.is_multiple_of(8) {
            s.push([' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'][eighths % 8]);
        }
        s
    };
    let mut rows = Vec::new();
    for p in points {
        for (name, v) in [
            ("select", p.select_us),
            ("poll", Some(p.poll_us)),
            ("epoll", Some(p.epoll_us)),
        ] {
            // No-break spaces: the wrapper may not split a row.
            let label = format!("N={}{NBSP}{name}", p.n);
            let value = match v {
                // The figure right after its bar, as a bar chart labels it.
                Some(v) => Text::from(format!("{}{NBSP}{}", bar(v), us(v).replace(' ', NBSP))),
                None => {
                    let fds = format!(
                        "{}…{}",
                        p.first_beyond.unwrap_or(p.highest_fd),
                        p.highest_fd
                    );
                    tx(
                        format!("✗ cannot: fds {fds} ≥ FD_SETSIZE"),
                        format!("✗ 无法监视：fd {fds} ≥ FD_SETSIZE"),
                    )
                }
            };
            rows.push((Text::from(label), value));
        }
    }
    rows
}
/// The scale the chart is drawn on.
pub fn chart_scale() -> Text {
    tx(
        "bars on a log scale: each 10× in time is the same length",
        "条形按对数刻度：时间每变为 10 倍，条形加长同样一段",
    )
}

/// The floor: epoll_wait with one descriptor.
pub fn floor(floor_us: f64, largest: Option<&Point>) -> Text {
    let f = us(floor_us);
    match largest {
        Some(p) => tx(
            format!(
                "epoll_wait with that one ready descriptor alone: {f}; with {} idle ones also registered: {} ({:.1}×)",
                p.n,
                us(p.epoll_us),
                p.epoll_us / floor_us
            ),
            format!(
                "只注册那一个就绪描述符时 epoll_wait 为 {f}；再注册 {} 个空闲的：{}（{:.1} 倍）",
                p.n,
                us(p.epoll_us),
                p.epoll_us / floor_us
            ),
        ),
        None => tx(
            format!("epoll_wait with one ready descriptor: {f}"),
            format!("一个就绪描述符时 epoll_wait 为 {f}"),
        ),
    }
}

/// The FD_SETSIZE step's title.
pub fn wall_title(first_beyond: Option<i32>) -> Text {
    match first_beyond {
        Some(fd) => tx(
            format!("select cannot watch descriptor {fd}; poll and epoll can"),
            format!("select 监视不了描述符 {fd}；poll 和 epoll 可以"),
        ),
        None => tx(
            "Every descriptor of this run was below FD_SETSIZE, so select could take them all",
            "本次运行的描述符编号都小于 FD_SETSIZE，select 都能监视",
        ),
    }
}

/// select's wall, seen live.
pub fn fd_setsize(fd: i32, setsize: usize) -> Text {
    tx(
        format!(
            "descriptor {fd}, this run's, is ≥ FD_SETSIZE ({setsize}): the bitmap has no bit for it; netlab does not call select (glibc's FD_SET would write past the set)"
        ),
        format!(
            "本次运行的描述符 {fd} ≥ FD_SETSIZE（{setsize}）：位图里没有它的位置；netlab 不去调用 select（glibc 的 FD_SET 会越界写到集合之外）"
        ),
    )
}

/// Step 3's title.
pub fn triggers_title(t: &Triggers) -> Text {
    tx(
        format!(
            "Data left unread: level-triggered woke at {} of {} waits, edge-triggered at {}",
            t.lt_wakeups, t.waits, t.et_wakeups
        ),
        format!(
            "数据没读完：水平触发 {} 次等待醒来 {} 次，边缘触发 {} 次",
            t.waits, t.lt_wakeups, t.et_wakeups
        ),
    )
}

/// Level-triggered's line.
pub fn level(t: &Triggers) -> Text {
    tx(
        format!(
            "woke {} of {} waits, read {} bytes each time; {} bytes still unread",
            t.lt_wakeups, t.waits, t.read_each, t.lt_left
        ),
        format!(
            "{} 次等待醒来 {} 次，每次读 {} 字节；仍有 {} 字节未读",
            t.waits, t.lt_wakeups, t.read_each, t.lt_left
        ),
    )
}

/// Edge-triggered's line.
pub fn edge(t: &Triggers) -> Text {
    let again = if t.et_new_data_wakes {
        tx("; one new byte woke it again", "；新来一个字节才再次唤醒")
    } else {
        tx(
            "; a new byte did not wake it either",
            "；新来一个字节也没唤醒",
        )
    };
    tx(
        format!(
            "woke {} of {} waits; the others each waited {} ms in vain with {} bytes unread{}",
            t.et_wakeups, t.waits, t.wait_ms, t.et_left, again.en
        ),
        format!(
            "{} 次等待只醒来 {} 次；其余每次白等 {} ms，而 {} 字节还没读{}",
            t.waits, t.et_wakeups, t.wait_ms, t.et_left, again.zh
        ),
    )
}

/// The servers step's title.
pub fn servers_title(clients: usize, threads: &Served, epoll: &Served) -> Text {
    tx(
        format!(
            "{clients} clients: a thread each added {} and {}; one epoll thread added {} and {}",
            plural(threads.threads, "thread", "threads"),
            kb(threads.rss_kb),
            plural(epoll.threads, "thread", "threads"),
            kb(epoll.rss_kb)
        ),
        format!(
            "{clients} 个客户端：每连接一线程，多了 {} 个线程、{}；一个 epoll 线程，多了 {} 个线程、{}",
            threads.threads,
            kb(threads.rss_kb),
            epoll.threads,
            kb(epoll.rss_kb)
        ),
    )
}

fn kb(k: u64) -> String {
    if k >= 10 * 1024 {
        format!("{:.0} MiB", k as f64 / 1024.0)
    } else if k >= 1024 {
        format!("{:.1} MiB", k as f64 / 1024.0)
    } else {
        format!("{k} KiB")
    }
}

/// One server's figures.
pub fn served(s: &Served, clients: usize) -> Text {
    let vm = kb(s.vm_kb);
    tx(
        format!(
            "+{}, +{} resident, +{vm} address space; {}/{clients} served in {:.0} ms",
            plural(s.threads, "thread", "threads"),
            kb(s.rss_kb),
            s.served,
            s.ms
        ),
        format!(
            "线程 +{}，常驻内存 +{}，地址空间 +{vm}；{:.0} ms 服务完 {}/{clients}",
            s.threads,
            kb(s.rss_kb),
            s.ms,
            s.served
        ),
    )
}

/// The run in one line.
pub fn summary(largest: Option<&Point>, et: &Triggers) -> Text {
    match largest {
        Some(p) => tx(
            format!(
                "At N={}: poll {:.0}× epoll_wait; LT woke {}×, ET {}×",
                p.n,
                p.poll_us / p.epoll_us,
                et.lt_wakeups,
                et.et_wakeups
            ),
            format!(
                "N={} 时 poll 是 epoll_wait 的 {:.0} 倍；水平触发醒 {} 次，边缘触发 {} 次",
                p.n,
                p.poll_us / p.epoll_us,
                et.lt_wakeups,
                et.et_wakeups
            ),
        ),
        None => tx(
            format!("LT woke {}×, ET {}×", et.lt_wakeups, et.et_wakeups),
            format!(
                "水平触发醒 {} 次，边缘触发 {} 次",
                et.lt_wakeups, et.et_wakeups
            ),
        ),
    }
}
