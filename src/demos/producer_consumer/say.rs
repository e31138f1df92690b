//! What producer-consumer says, in both languages: each message with
//! arguments is one function, its English and Chinese side by side.

use crate::narrate::{plural, tx, Text};
use crate::queue::{Fill, Limit, Run};
use crate::transport::flow::{Role, Seg};

/// Milliseconds, one decimal.
fn ms(v: f64) -> String {
    format!("{v:.1} ms")
}

/// Items per second, whole.
fn rate(v: f64) -> String {
    format!("{v:.0}")
}

/// Step 1's headline: the queue filled and push() blocked.
pub fn fill(capacity: usize, f: &Fill) -> Text {
    let next = f.pushed_before_block + 1;
    tx(
        format!(
            "Queue of {capacity}: {} returned at once, push() number {next} blocked while the queue held {}",
            plural(f.pushed_before_block, "push()", "push() calls"),
            f.len_when_blocked
        ),
        format!(
            "容量为 {capacity} 的队列：前 {} 次 push() 立即返回，第 {next} 次在队列里已有 {} 项时阻塞",
            f.pushed_before_block, f.len_when_blocked
        ),
    )
}

/// Step 1: what /proc said about the blocked producer.
pub fn blocked_state(f: &Fill) -> Text {
    match (f.state, f.wchan.as_deref()) {
        (Some('S'), Some(w)) => tx(
            format!("S (asleep), in the kernel at {w}"),
            format!("S（睡眠），停在内核的 {w}"),
        ),
        (Some('S'), None) => tx("S (asleep)", "S（睡眠）"),
        (Some(c), _) => tx(
            format!("{c} (not asleep when read)"),
            format!("{c}（读取时没有在睡眠）"),
        ),
        (None, _) => tx("not readable", "无法读取"),
    }
}

/// Step 1: how long the producer waited, and how often.
pub fn fill_blocked(f: &Fill) -> Text {
    tx(
        format!(
            "{} on a full queue, {} in all; {} items went through",
            plural(f.full_waits, "wait", "waits"),
            ms(f.blocked.as_secs_f64() * 1e3),
            f.items
        ),
        format!(
            "在满队列上等待 {} 次，共 {}；{} 项全部通过",
            f.full_waits,
            ms(f.blocked.as_secs_f64() * 1e3),
            f.items
        ),
    )
}

/// The consumers of a run, as a label.
pub fn consumers(n: usize) -> Text {
    tx(
        plural(n as u64, "consumer", "consumers"),
        format!("{n} 个消费者"),
    )
}

fn limit_text(l: Limit) -> Text {
    match l {
        Limit::Consumers => tx("the consumers", "消费者"),
        Limit::Producer => tx("the producer", "生产者"),
        Limit::Cores => tx("the cores", "CPU 核心"),
    }
}

/// Step 2: one run's row.
pub fn run_row(r: &Run, first: f64) -> Text {
    let x = if first > 0.0 {
        r.items_per_s / first
    } else {
        0.0
    };
    let l = limit_text(r.limit);
    let (core_en, core_zh) = match r.core_wait_ms {
        Some(w) => (
            format!("; no free core for {}", ms(w)),
            format!("；无核心可用 {}", ms(w)),
        ),
        None => (String::new(), String::new()),
    };
    tx(
        format!(
            "{} items/s (×{x:.2}); waits: producer {}, consumers {}{core_en}; limit: {}",
            rate(r.items_per_s),
            r.full_waits,
            r.empty_waits,
            l.en
        ),
        format!(
            "每秒 {} 项（×{x:.2}）；等待：生产者 {} 次，消费者 {} 次{core_zh}；瓶颈：{}",
            rate(r.items_per_s),
            r.full_waits,
            r.empty_waits,
            l.zh
        ),
    )
}

/// Step 2's headline.
pub fn runs_title(runs: &[Run], cores: usize) -> Text {
    let ns: Vec<String> = runs.iter().map(|r| r.consumers.to_string()).collect();
    let rates: Vec<String> = runs.iter().map(|r| rate(r.items_per_s)).collect();
    tx(
        format!(
            "{} consumers: {} items/s, on {}",
            ns.join(", "),
            rates.join(" → "),
            plural(cores as u64, "core", "cores")
        ),
        format!(
            "{} 个消费者：每秒 {} 项，{cores} 个核心",
            ns.join("、"),
            rates.join(" → ")
        ),
    )
}

/// Step 2: what this machine's runs showed, from their limits.
pub fn runs_verdict(runs: &[Run], cores: usize, ratio: u32) -> Text {
    let best = runs
        .iter()
        .max_by(|a, b| a.items_per_s.total_cmp(&b.items_per_s));
    let Some(best) = best else {
        return Text::default();
    };
    let mut en = format!(
        "Fastest here: {} ({} items/s).",
        plural(best.consumers as u64, "consumer", "consumers"),
        rate(best.items_per_s)
    );
    let mut zh = format!(
        "本机最快的是 {} 个消费者（每秒 {} 项）。",
        best.consumers,
        rate(best.items_per_s)
    );
    if let Some(p) = runs.iter().find(|r| r.limit == Limit::Producer) {
        en.push_str(&format!(
            " With {}, the consumers waited for items more than the producer waited for room: the producer was the limit, and more consumers could not help.",
            plural(p.consumers as u64, "consumer", "consumers")
        ));
        zh.push_str(&format!(
            "{} 个消费者时，消费者等任务的次数多于生产者等空位的次数：生产者成了瓶颈，再加消费者也没用。",
            p.consumers
        ));
    }
    if let Some(c) = runs.iter().find(|r| r.limit == Limit::Cores) {
        let w = c.core_wait_ms.unwrap_or_default();
        en.push_str(&format!(
            " With {}, its {} threads were ready but found no free core for {} in all: this machine's {cores} (shared with whatever else runs) ran out before the producer did, which could have fed {ratio}.",
            plural(c.consumers as u64, "consumer", "consumers"),
            c.consumers + 1,
            ms(w)
        ));
        zh.push_str(&format!(
            "{} 个消费者时，{} 个线程就绪却找不到空闲核心的时间合计 {}：本机的 {cores} 个核心（还要与其他程序共用）先于生产者用尽，而生产者本可以喂饱 {ratio} 个消费者。",
            c.consumers,
            c.consumers + 1,
            ms(w)
        ));
    }
    tx(en, zh)
}

/// Step 3's headline: the buffers and the handshake's windows.
pub fn handshake(
    rcv_asked: usize,
    rcv_got: usize,
    syn_ack: Option<&Seg>,
    shifts: (Option<u8>, Option<u8>),
) -> Text {
    let shift = |s: Option<u8>| s.map_or("none".to_string(), |s| s.to_string());
    let shift_zh = |s: Option<u8>| s.map_or("无".to_string(), |s| s.to_string());
    let win = syn_ack.map_or(0, |s| s.field);
    tx(
        format!(
            "SO_RCVBUF {rcv_asked} before listen() (the kernel set {rcv_got}); SYN-ACK window {win}; window scale: receiver {}, sender {}",
            shift(shifts.1),
            shift(shifts.0)
        ),
        format!(
            "listen() 之前设 SO_RCVBUF 为 {rcv_asked}（内核设为 {rcv_got}）；SYN-ACK 窗口 {win}；窗口扩大因子：接收方 {}，发送方 {}",
            shift_zh(shifts.1),
            shift_zh(shifts.0)
        ),
    )
}

/// A window as the receiver's segments advertised it: "4096 → 2048 → 0".
pub fn windows(w: &[u64]) -> String {
    let mut v: Vec<u64> = Vec::new();
    for &x in w {
        if v.last() != Some(&x) {
            v.push(x);
        }
    }
    v.iter().map(u64::to_string).collect::<Vec<_>>().join(" → ")
}

/// Step 4's headline.
pub fn to_zero(windows: &str, data_segs: usize, bytes: usize, before_full: Option<usize>) -> Text {
    let eagain_en = before_full.map_or(String::new(), |b| {
        format!("; the sender's write() returned EAGAIN after {b} bytes")
    });
    let eagain_zh = before_full.map_or(String::new(), |b| {
        format!("；发送方写入 {b} 字节后 write() 返回 EAGAIN")
    });
    tx(
        format!(
            "The receiver did not read: its window went {windows} after {} ({bytes} bytes){eagain_en}",
            plural(data_segs as u64, "data segment", "data segments")
        ),
        format!(
            "接收方不读：{data_segs} 个数据段（{bytes} 字节）之后，它的窗口变为 {windows}{eagain_zh}"
        ),
    )
}

/// The window field of one segment, from its bytes.
pub fn field(bytes: &[u8], s: &Seg, shift: u8) -> Text {
    let at = s.field_at;
    let hex = bytes
        .get(at..at + 2)
        .map(|b| format!("{:02x} {:02x}", b[0], b[1]))
        .unwrap_or_default();
    tx(
        format!(
            "frame bytes {at}–{}: {hex} = {} × 2^{shift} = {} bytes",
            at + 1,
            s.field,
            s.window
        ),
        format!(
            "帧的第 {at}–{} 字节：{hex} = {} × 2^{shift} = {} 字节",
            at + 1,
            s.field,
            s.window
        ),
    )
}

/// Step 5's headline.
pub fn probes(n: usize, after_ms: &[f64], answered: usize) -> Text {
    let at: Vec<String> = after_ms.iter().map(|m| format!("{m:.0}")).collect();
    tx(
        format!(
            "While the window was 0 the sender probed {}, at {} ms; the receiver answered window 0 {}",
            plural(n as u64, "time", "times"),
            at.join(", "),
            plural(answered as u64, "time", "times")
        ),
        format!(
            "窗口为 0 期间，发送方探测了 {n} 次，分别在 {} ms；接收方 {answered} 次回答窗口为 0",
            at.join("、")
        ),
    )
}

/// Step 5: what one probe carried.
pub fn probe_shape(s: &Seg, last_ack: Option<u32>) -> Text {
    let old = last_ack.is_some_and(|a| s.seq == a.wrapping_sub(1));
    match (s.len, old) {
        (0, true) => tx(
            "0 bytes, seq = the last ACK − 1 (an old number: the receiver must answer)",
            "0 字节，序号 = 上一个确认号 − 1（旧序号：接收方必须回应）",
        ),
        (len, _) => tx(
            format!("{len} bytes at seq {}", s.seq),
            format!("{len} 字节，序号 {}", s.seq),
        ),
    }
}

/// Step 6's headline.
pub fn reopened(paused_ms: f64, window: Option<u64>, rest: usize, segs: usize) -> Text {
    let w = window.map_or("?".to_string(), |w| w.to_string());
    tx(
        format!(
            "After {} the receiver read again: window update to {w} bytes, then {rest} bytes in {} and FIN",
            ms(paused_ms),
            plural(segs as u64, "data segment", "data segments")
        ),
        format!(
            "{} 后接收方重新读取：窗口更新为 {w} 字节，随后 {segs} 个数据段送来 {rest} 字节，然后 FIN",
            ms(paused_ms)
        ),
    )
}

/// A segment's label in the ladder.
pub fn label(s: &Seg) -> Text {
    let w = s.window;
    match s.role {
        Role::Syn => Text::from("SYN"),
        Role::SynAck => tx(
            format!("SYN-ACK win {}", s.field),
            format!("SYN-ACK 窗口 {}", s.field),
        ),
        Role::Data => tx(format!("data {} B", s.len), format!("数据 {} B", s.len)),
        Role::Ack => tx(format!("ACK win {w}"), format!("ACK 窗口 {w}")),
        Role::ZeroWindow => tx("ACK win 0: zero window", "ACK 窗口 0：零窗口"),
        Role::Probe => tx(
            format!("zero-window probe, {} B", s.len),
            format!("零窗口探测，{} B", s.len),
        ),
        Role::WindowUpdate => tx(
            format!("window update: win {w}"),
            format!("窗口更新：窗口 {w}"),
        ),
        Role::Fin => Text::from("FIN"),
        Role::Other => Text::from("RST"),
    }
}

/// The run's headline.
pub fn summary(capacity: usize, waits: u64, zero: bool, probes: usize, reopened: bool) -> Text {
    let tcp_en = if zero && reopened {
        format!(
            "TCP: window 0, {}, window reopened",
            plural(probes as u64, "probe", "probes")
        )
    } else if zero {
        format!(
            "TCP: window 0, {}, never reopened",
            plural(probes as u64, "probe", "probes")
        )
    } else {
        "TCP: the window never reached 0".to_string()
    };
    let tcp_zh = if zero && reopened {
        format!("TCP：窗口为 0，探测 {probes} 次，窗口重新打开")
    } else if zero {
        format!("TCP：窗口为 0，探测 {probes} 次，窗口没有重新打开")
    } else {
        "TCP：窗口没有降到 0".to_string()
    };
    tx(
        format!(
            "Queue of {capacity}: the producer blocked {} with one consumer; {tcp_en}",
            plural(waits, "time", "times")
        ),
        format!("容量 {capacity} 的队列：只有一个消费者时生产者阻塞 {waits} 次；{tcp_zh}"),
    )
}
