//! `netlab producer-consumer`: a bounded buffer between a producer and a
//! consumer, in threads and across a network (Q29).
//!
//! 1. Threads: a bounded queue (a Mutex and two Condvars, counted) fills,
//!    and the producer's push() sleeps in the kernel until a consumer makes
//!    room; then 1, 2 and 4 consumers against one producer, items per second
//!    measured, and what limited each run told from its own counts of waits
//!    and the CPU time getrusage reports.
//! 2. TCP: a receiver with a small SO_RCVBUF stops reading while a sender
//!    writes fast, captured on a private loopback: the advertised window
//!    shrinks to 0, the sender's write() meets EAGAIN, the sender probes
//!    the zero window, and a window update reopens it when the receiver
//!    reads again. Flow control is the same bounded buffer.
//!
//! The engines are queue (threads) and transport::flow (TCP); this file tells them.

use std::time::Duration;

use crate::cli::ProducerConsumerArgs;
use crate::error::{exit, Result};
use crate::narrate::{tx, Narrator, Packet, Step, Summary};
use crate::queue::{self, Fill, Limit, Run};
use crate::transport::flow::{self, FlowRun, Role, Seg};

mod say;

const QS: &[&str] = &["Q29"];
/// CPU time per item the producer's work takes on this machine; each
/// consumer's work per item is `RATIO` times as much.
const PRODUCE_CPU: Duration = Duration::from_micros(20);
const RATIO: u32 = 3;
/// Consumer counts of the throughput runs.
const CONSUMERS: [usize; 3] = [1, 2, 4];
/// How long the consumer of step 1 waits after the producer blocked.
const HOLD: Duration = Duration::from_millis(50);
/// The TCP half: bytes sent, the two socket buffers asked for, the longest pause.
const TOTAL: usize = 32 * 1024;
const RCVBUF: usize = 4096;
const SNDBUF: usize = 4096;
const LIMIT: Duration = Duration::from_secs(20);

/// Participant ids of the TCP half's two ends.
const SENDER: &str = "sender";
const RECEIVER: &str = "receiver";

/// The run's results: the summary's fields.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct ProducerConsumerOut {
    /// Slots in the queue.
    queue_capacity: usize,
    /// Time the producer spent blocked on a full queue in the one-consumer
    /// run, ms.
    producer_blocked_ms: f64,
    /// Pushes that found the queue full in that run (counted, not timed).
    producer_full_waits: u64,
    /// Items per second with each number of consumers.
    throughput: Vec<Throughput>,
    /// Cores this process may use.
    cores: usize,
    /// The receiver advertised a window of 0 in the capture.
    window_zero_seen: bool,
    /// Zero-window probes the sender sent, counted from the capture.
    zero_window_probes: usize,
    /// Window updates (a window of 0, then above 0) in the capture.
    window_updates: usize,
    /// write() calls of the sender that returned EAGAIN.
    sender_eagain: u32,
    /// Bytes the receiver read, all the sender wrote.
    bytes_received: usize,
}

/// One throughput run, for the summary.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Throughput {
    /// Consumer threads.
    consumers: usize,
    /// Items per second.
    items_per_s: f64,
    /// What limited the run, from its counts.
    limit: Limit,
}

/// Step 1: the queue fills and push() blocks.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct FillStep {
    /// Slots in the queue.
    capacity: usize,
    /// push() calls that returned before the first that waited.
    pushed_before_block: u64,
    /// Items in the queue while the producer waited.
    len_when_blocked: usize,
    /// The producer thread's state in /proc while it waited (`S`: asleep).
    state: Option<String>,
    /// Where in the kernel it slept (/proc/…/wchan), if the kernel shows it.
    wchan: Option<String>,
    /// push() calls that waited, in all.
    full_waits: u64,
    /// Time the producer was blocked, ms.
    blocked_ms: f64,
    /// Items that went through the queue.
    items: u64,
}

/// Step 2: the throughput runs.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct RunsStep {
    /// Cores this process may use.
    cores: usize,
    /// Work units per item: the producer's (calibrated to about
    /// `produce_cpu_us` of CPU time on this machine, then fixed for every run).
    produce_units: u32,
    /// Work units per item: each consumer's (`ratio` times the producer's).
    consume_units: u32,
    /// CPU time the producer's units were calibrated to, µs.
    produce_cpu_us: f64,
    /// How many times the producer's work each consumer does per item.
    ratio: u32,
    /// One run per number of consumers.
    runs: Vec<Run>,
}

/// Step 3: the sockets' buffers and the handshake.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct HandshakeStep {
    /// The receiver's SO_RCVBUF.
    rcvbuf: flow::Buffer,
    /// The sender's SO_SNDBUF.
    sndbuf: flow::Buffer,
    /// The window-scale shift the sender offered in its SYN.
    sender_shift: Option<u8>,
    /// The shift the receiver offered in its SYN-ACK.
    receiver_shift: Option<u8>,
    /// The SYN-ACK's window field.
    syn_ack_window: Option<u16>,
}

/// Step 4: the window shrinks to 0.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct ZeroStep {
    /// The windows the receiver advertised, in bytes, in order, up to the first 0.
    windows: Vec<u64>,
    /// The sender's data segments before it.
    data_segments: usize,
    /// Their bytes.
    data_bytes: usize,
    /// The window field of the zero-window segment, as sent.
    zero_field: Option<u16>,
    /// What the sender's write() calls did (over the whole run).
    writes: flow::Writes,
}

/// Step 5: the probes.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct ProbeStep {
    /// Zero-window probes the sender sent.
    probes: usize,
    /// When each went, ms after the first zero window.
    after_ms: Vec<f64>,
    /// Bytes each carried.
    lengths: Vec<usize>,
    /// Zero-window answers of the receiver after the first.
    answered: usize,
    /// The capture showed the probes asked for before the time limit.
    seen_in_time: bool,
}

/// Step 6: the window reopens.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct ReopenStep {
    /// How long the receiver did not read, from accept() to its first read, ms.
    paused_ms: f64,
    /// The window the update advertised, bytes.
    update_window: Option<u64>,
    /// Window updates in the capture.
    window_updates: usize,
    /// Data bytes after the update.
    bytes_after: usize,
    /// Bytes the receiver read, in all.
    received: usize,
    /// read() calls it made.
    reads: u32,
    /// Frames the capture could not keep (0: the capture is whole).
    missed: u64,
}

/// Run the demo.
pub fn run(args: &ProducerConsumerArgs, n: &mut Narrator) -> Result<i32> {
    let threads = threads(args, n)?;
    let tcp = network(args, n)?;
    let (f, runs, cores) = threads;
    let one = runs.first();
    let ok = f.full_waits >= 1
        && tcp.flow.zero_windows >= 1
        && tcp.flow.probes >= 1
        && tcp.flow.reopened()
        && tcp.received == TOTAL;
    n.summary(
        Summary {
            title: say::summary(
                args.capacity,
                one.map_or(0, |r| r.full_waits),
                tcp.flow.zero_windows >= 1,
                tcp.flow.probes,
                tcp.flow.reopened(),
            ),
            lines: vec![tx(
                "Flow control is a bounded buffer between a producer and a consumer: the receive buffer is the queue, the window is its free space, a window of 0 is a full queue, and the sender's blocked write() is the producer's blocked push(). The slow side sets the pace, and nothing is lost.",
                "流量控制就是生产者与消费者之间的有界缓冲区：接收缓冲区是队列，窗口是它的空闲空间，窗口为 0 就是队列满了，发送方阻塞的 write() 就是生产者阻塞的 push()。慢的一方决定节奏，而且什么也不会丢。",
            )],
            questions: crate::record::qs(QS),
            ok,
            ..Summary::default()
        }
        .with(&ProducerConsumerOut {
            queue_capacity: args.capacity,
            producer_blocked_ms: one.map_or(0.0, |r| r.producer_blocked_ms),
            producer_full_waits: one.map_or(0, |r| r.full_waits),
            throughput: runs
                .iter()
                .map(|r| Throughput {
                    consumers: r.consumers,
                    items_per_s: r.items_per_s,
                    limit: r.limit,
                })
                .collect(),
            cores,
            window_zero_seen: tcp.flow.zero_windows >= 1,
            zero_window_probes: tcp.flow.probes,
            window_updates: tcp.flow.window_updates,
            sender_eagain: tcp.writes.eagain,
            bytes_received: tcp.received,
        }),
    )?;
    Ok(if ok { exit::OK } else { exit::NETWORK_NO })
}

/// Part 1: the queue between threads.
fn threads(args: &ProducerConsumerArgs, n: &mut Narrator) -> Result<(Fill, Vec<Run>, usize)> {
    let section = tx(
        "1 · A bounded queue between threads",
        "1 · 线程之间的有界队列",
    );
    let io =
        |e| crate::error::Error::system(tx("run", "运行"), "the producer and consumer threads", e);
    let f = queue::fill(args.capacity, args.capacity as u64 * 4, HOLD).map_err(io)?;
    n.step(
        Step::new(
            say::fill(args.capacity, &f),
            tx(
                "The queue is a VecDeque behind a Mutex, with two Condvars: push() waits on `not_full` while the queue is full, pop() on `not_empty` while it is empty, and each wakes the other. The consumer here started late, so the producer met a full queue and slept in the kernel (a futex wait) instead of spinning: back-pressure. std::sync::mpsc::sync_channel(N) is the same queue in std.",
                "队列是一个 Mutex 保护的 VecDeque，加两个 Condvar：队列满时 push() 在 `not_full` 上等，队列空时 pop() 在 `not_empty` 上等，取走或放入一项就唤醒对方。这里消费者晚开始，于是生产者碰上满队列，在内核里睡眠（futex 等待），而不是空转：这就是背压。std 里的 std::sync::mpsc::sync_channel(N) 是同样的队列。",
            ),
            QS,
        )
        .section(section.clone())
        .fact(tx("producer", "生产者"), say::blocked_state(&f))
        .fact(tx("blocked", "阻塞"), say::fill_blocked(&f))
        .with(&FillStep {
            capacity: args.capacity,
            pushed_before_block: f.pushed_before_block,
            len_when_blocked: f.len_when_blocked,
            state: f.state.map(String::from),
            wchan: f.wchan.clone(),
            full_waits: f.full_waits,
            blocked_ms: f.blocked.as_secs_f64() * 1e3,
            items: f.items,
        }),
    )?;

    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let produce = queue::calibrate(PRODUCE_CPU);
    let consume = produce.saturating_mul(RATIO);
    let mut runs = Vec::new();
    for c in CONSUMERS {
        runs.push(queue::run(args.capacity, c, args.items, produce, consume).map_err(io)?);
    }
    let first = runs.first().map_or(0.0, |r| r.items_per_s);
    let ratio = RATIO;
    let mut s = Step::new(
        say::runs_title(&runs, cores),
        tx(
            format!("Per item, the producer does a fixed amount of CPU work and each consumer {ratio} times as much, so one producer can feed at most {ratio} consumers: below that it waits on a full queue, above it they wait on an empty one; and every thread needs a core. Each run's limit is read from its own counts: waits on the queue, and the time its threads were ready with no free core (/proc/thread-self/schedstat)."),
            format!("每一项，生产者做固定量的 CPU 计算，每个消费者做它的 {ratio} 倍，所以一个生产者最多喂饱 {ratio} 个消费者：少于这个数，生产者在满队列上等；多于这个数，消费者在空队列上等；而且每个线程都需要一个核心。每次运行的瓶颈由它自己的计数判断：在队列上等待的次数，以及线程就绪却没有空闲核心的时间（/proc/thread-self/schedstat）。"),
        ),
        QS,
    )
    .section(section);
    for r in &runs {
        s = s.fact(say::consumers(r.consumers), say::run_row(r, first));
    }
    s = s.fact(tx("so", "结论"), say::runs_verdict(&runs, cores, ratio));
    n.step(s.with(&RunsStep {
        cores,
        produce_units: produce,
        consume_units: consume,
        produce_cpu_us: PRODUCE_CPU.as_secs_f64() * 1e6,
        ratio,
        runs: runs.clone(),
    }))?;
    Ok((f, runs, cores))
}

/// Packet records of some segments, between `sender` and `receiver`.
fn packets(run: &FlowRun, segs: &[Seg]) -> Vec<Packet> {
    segs.iter()
        .map(|s| {
            let (from, to) = if s.from_sender {
                (SENDER, RECEIVER)
            } else {
                (RECEIVER, SENDER)
            };
            run.frames[s.frame]
                .record(false)
                .between(from, to, say::label(s))
        })
        .collect()
}

/// Show this packet in the text view's list (and its bytes, if `bytes`).
fn listed(p: &mut Packet, bytes: bool) {
    p.quiet = false;
    if bytes {
        p.show_bytes = true;
        p.hide = ["eth.", "ip.", "tcp.checksum", "tcp.urgent", "tcp.options"]
            .map(String::from)
            .to_vec();
    }
}

/// Part 2: the same over TCP, captured.
fn network(args: &ProducerConsumerArgs, n: &mut Narrator) -> Result<FlowRun> {
    n.pcap_note("producer-consumer: TCP flow control on the loopback of a network namespace of netlab's own, every frame as it crossed it: the handshake, the window shrinking to 0, the sender's zero-window probes, the window update, the rest of the data and the FINs.");
    let section = tx(
        "2 · The same across a network: TCP flow control",
        "2 · 网络上的同一回事：TCP 流量控制",
    );
    let run = flow::zero_window(flow::Settings {
        total: TOTAL,
        rcvbuf: RCVBUF,
        sndbuf: SNDBUF,
        probes: args.probes,
        limit: LIMIT,
    })?;
    let fl = &run.flow;
    let segs = &fl.segs;
    // Where the story's parts begin: after the handshake's ACK, at the first
    // zero window (inclusive, in part 2), at the first window update.
    let hs_end = segs
        .iter()
        .position(|s| s.role == Role::SynAck)
        .map_or(0, |i| (i + 2).min(segs.len()));
    let zero = segs.iter().position(|s| s.role == Role::ZeroWindow);
    let update = zero.and_then(|z| {
        segs.iter()
            .skip(z)
            .position(|s| s.role == Role::WindowUpdate)
            .map(|i| i + z)
    });
    let zero_end = zero.map_or(segs.len(), |z| z + 1);
    let update_at = update.unwrap_or(segs.len()).max(zero_end);

    // 3. Buffers and handshake.
    let syn_ack = fl.first(Role::SynAck);
    let shifts = (fl.sender_shift, fl.receiver_shift);
    n.step(
        Step::new(
            say::handshake(run.rcvbuf.asked, run.rcvbuf.got, syn_ack, shifts),
            tx(
                "The receive buffer is the queue between the network and the receiving program, and the window each ACK carries is its free space. SO_RCVBUF is set before listen() because the SYN-ACK already announces the window and its scale, and the accepted socket inherits the buffer. The 16-bit window field counts in units of 2^shift, the shift each side offered in its SYN (RFC 7323); Linux doubles the SO_RCVBUF asked for, for its own bookkeeping.",
                "接收缓冲区就是网络与接收程序之间的队列，每个 ACK 携带的窗口就是它的空闲空间。SO_RCVBUF 要在 listen() 之前设置，因为 SYN-ACK 里就已经通告了窗口和扩大因子，而 accept() 得到的套接字会继承这个缓冲区。16 位的窗口字段以 2^因子 为单位，因子是双方在 SYN 里各自给出的（RFC 7323）；Linux 会把请求的 SO_RCVBUF 翻倍，留作自己的簿记开销。",
            ),
            QS,
        )
        .section(section.clone())
        .who(SENDER, tx("sender", "发送方"))
        .who(RECEIVER, tx("receiver", "接收方"))
        .with(&HandshakeStep {
            rcvbuf: run.rcvbuf,
            sndbuf: run.sndbuf,
            sender_shift: fl.sender_shift,
            receiver_shift: fl.receiver_shift,
            syn_ack_window: syn_ack.map(|s| s.field),
        })
        .with_packets(packets(&run, &segs[..hs_end])),
    )?;

    // 4. The window shrinks to 0.
    let part = &segs[hs_end..zero_end.max(hs_end)];
    let mut windows: Vec<u64> = syn_ack.map(|s| u64::from(s.field)).into_iter().collect();
    windows.extend(part.iter().filter(|s| !s.from_sender).map(|s| s.window));
    let data: Vec<&Seg> = part
        .iter()
        .filter(|s| s.from_sender && s.role == Role::Data)
        .collect();
    let data_bytes = data.iter().map(|s| s.len).sum();
    let rx_shift = match shifts {
        (Some(_), Some(r)) => r,
        _ => 0,
    };
    let mut pk = packets(&run, part);
    if zero.is_some() {
        if let Some(p) = pk.last_mut() {
            listed(p, true);
        }
    }
    let mut s = Step::new(
        say::to_zero(&say::windows(&windows), data.len(), data_bytes, run.writes.before_full),
        if run.writes.eagain > 0 {
            tx(
                "Nobody read, so the receive buffer filled, and each ACK said so: less room, then none. Window 0 means \"send nothing more\": a full queue. The sender's own send buffer then filled too, and write() on the non-blocking socket returned EAGAIN (a blocking one would have slept in write(), as push() slept): the back-pressure reached the producing program. poll() for POLLOUT waited for room.",
                "没人读取，接收缓冲区就满了，每个 ACK 都如实通告：空间越来越少，直到没有。窗口为 0 的意思是「别再发了」：队列满了。随后发送方自己的发送缓冲区也满了，非阻塞套接字上的 write() 返回 EAGAIN（阻塞套接字则会在 write() 里睡眠，就像 push() 那样）：背压一直传到了产生数据的程序。poll() 等待 POLLOUT，即等到有空间为止。",
            )
        } else {
            tx(
                "Nobody read, so the receive buffer filled, and each ACK said so: less room, then none. Window 0 means \"send nothing more\": a full queue.",
                "没人读取，接收缓冲区就满了，每个 ACK 都如实通告：空间越来越少，直到没有。窗口为 0 的意思是「别再发了」：队列满了。",
            )
        },
        QS,
    )
    .section(section.clone());
    if let Some(z) = zero.map(|z| &segs[z]) {
        s = s.fact(
            tx("window field", "窗口字段"),
            say::field(&run.frames[z.frame].bytes, z, rx_shift),
        );
    }
    n.step(
        s.with(&ZeroStep {
            windows: windows.clone(),
            data_segments: data.len(),
            data_bytes,
            zero_field: zero.map(|z| segs[z].field),
            writes: run.writes,
        })
        .with_packets(pk),
    )?;

    // 5. The probes.
    let between = &segs[zero_end..update_at];
    let zero_at = zero.map(|z| run.frames[segs[z].frame].at);
    let probes: Vec<&Seg> = between.iter().filter(|s| s.role == Role::Probe).collect();
    let after_ms: Vec<f64> = probes
        .iter()
        .map(|p| {
            zero_at
                .and_then(|z| run.frames[p.frame].at.duration_since(z).ok())
                .map_or(0.0, |d| d.as_secs_f64() * 1e3)
        })
        .collect();
    let answered = between
        .iter()
        .filter(|s| s.role == Role::ZeroWindow)
        .count();
    // The receiver's acknowledgement number before the first probe.
    let last_ack = zero.map(|z| segs[z].ack);
    let mut pk = packets(&run, between);
    if let Some(i) = between.iter().position(|s| s.role == Role::Probe) {
        listed(&mut pk[i], false);
    }
    let mut s = Step::new(
        say::probes(probes.len(), &after_ms, answered),
        tx(
            "If the receiver's next window update were lost, both ends would wait for each other forever. So while the window is 0 the sender probes on a timer that doubles each time (the retransmission timeout, at least 200 ms on Linux), and a probe asks the receiver to answer with its current window. Linux's probe carries no data: it repeats the last byte's old sequence number, so it cannot overflow the buffer.",
            "如果接收方后来发出的窗口更新丢了，双方就会永远互相等待。所以窗口为 0 时，发送方按一个每次翻倍的定时器发探测（即重传超时，Linux 上至少 200 ms），探测要求接收方回答当前的窗口。Linux 的探测不带数据：它重复上一个字节的旧序号，因此不会撑爆缓冲区。",
        ),
        QS,
    )
    .section(section.clone());
    if answered < probes.len() {
        // Seen in this run: a probe with no answer of its own.
        s.detail.en.push_str(" Not every probe got its own answer here: Linux answers a segment with an old sequence number at most once per net.ipv4.tcp_invalid_ratelimit (500 ms by default), and the probe timer keeps doubling all the same.");
        s.detail.zh.push_str("这次并非每个探测都得到了自己的回答：Linux 对带旧序号的报文段，每 net.ipv4.tcp_invalid_ratelimit（默认 500 ms）至多回答一次，而探测定时器照样翻倍。");
    }
    if let Some(p) = probes.first() {
        s = s.fact(tx("a probe", "探测"), say::probe_shape(p, last_ack));
    }
    s = s.fact(
        tx("Wireshark", "Wireshark"),
        tx(
            "marks these \"TCP Keep-Alive\", not \"Zero Window Probe\": it looks for RFC 9293's form, 1 new byte at the next sequence number",
            "把它们标为「TCP Keep-Alive」而不是「Zero Window Probe」：它认的是 RFC 9293 的形式，即在下一个序号上带 1 个新字节",
        ),
    );
    n.step(
        s.with(&ProbeStep {
            probes: probes.len(),
            after_ms,
            lengths: probes.iter().map(|p| p.len).collect(),
            answered,
            seen_in_time: run.probes_seen,
        })
        .with_packets(pk),
    )?;

    // 6. The window reopens.
    let rest = &segs[update_at..];
    let upd = update.map(|u| &segs[u]);
    let after: Vec<&Seg> = rest
        .iter()
        .filter(|s| s.from_sender && s.role == Role::Data)
        .collect();
    let bytes_after = after.iter().map(|s| s.len).sum();
    let mut pk = packets(&run, rest);
    if upd.is_some() {
        if let Some(p) = pk.first_mut() {
            listed(p, false);
        }
    }
    let paused_ms = run.paused.as_secs_f64() * 1e3;
    let mut s = Step::new(
        say::reopened(paused_ms, upd.map(|u| u.window), bytes_after, after.len()),
        tx(
            "Reading made room, and the receiver's kernel said so at once: a window update, an ACK whose only news is the window. The sender's poll() woke, write() took bytes again, and the rest flowed as fast as the receiver read. Nothing was lost or sent twice: the slow side set the pace.",
            "读取腾出了空间，接收方内核立即告知对方：窗口更新，一个只带来新窗口的 ACK。发送方的 poll() 被唤醒，write() 又能写入，剩下的数据随着接收方的读取速度流过去。没有丢失，也没有重发：慢的一方决定了节奏。",
        ),
        QS,
    )
    .section(section);
    if let Some(u) = upd {
        s = s.fact(
            tx("window field", "窗口字段"),
            say::field(&run.frames[u.frame].bytes, u, rx_shift),
        );
    }
    n.step(
        s.with(&ReopenStep {
            paused_ms,
            update_window: upd.map(|u| u.window),
            window_updates: fl.window_updates,
            bytes_after,
            received: run.received,
            reads: run.reads,
            missed: run.missed,
        })
        .with_packets(pk),
    )?;
    Ok(run)
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "producer-consumer",
        "A bounded queue between threads, then TCP flow control captured: window 0, probes, window update.",
    )
    .step::<FillStep>("1 · the queue fills and push() blocks")
    .step::<RunsStep>("1 · 1, 2 and 4 consumers against one producer")
    .step::<HandshakeStep>("2 · the buffers and the handshake (its packets: SYN, SYN-ACK, ACK, between `sender` and `receiver`)")
    .step::<ZeroStep>("2 · the window shrinks to 0 (its packets: the data and ACKs up to the first zero window)")
    .step::<ProbeStep>("2 · the zero-window probes and the receiver's answers")
    .step::<ReopenStep>("2 · the window update, the rest of the data and the FINs")
    .summary::<ProducerConsumerOut>()
}
