//! `netlab ipc`: how processes communicate, live (Q22).
//!
//! netlab starts a second process (itself, in a hidden mode) and sends it
//! the same message through each mechanism in turn: a pipe, a FIFO, a Unix
//! stream and a Unix datagram socket, a socketpair, a POSIX message queue,
//! shared memory woken by a futex, a signal with a value, and finally TCP
//! over loopback. Every echo is checked against the message, each round
//! trip is timed (the median of K shown), and lo — the only interface of
//! the run's own network namespace — is captured throughout: only TCP's
//! turn puts frames on it, and those frames are the run's packets (so
//! `--pcap` holds them).
//!
//! The processes and the mechanisms are crate::ipc's; this file tells them.

use crate::cli::IpcArgs;
use crate::error::{exit, Result};
use crate::ipc::{self, Exchange, Mechanism, Place, Tally};
use crate::lab::capture::Frame;
use crate::narrate::{tx, Narrator, Packet, Step, Summary};

mod say;

/// The participant ids of the two processes, the same in every language.
const PARENT: &str = "parent";
const CHILD: &str = "child";

/// The opening step: the two processes and where the run's network is.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Processes {
    /// netlab's own process id.
    parent_pid: u32,
    /// The child's (`netlab ipc-peer`).
    child_pid: u32,
    /// `own`: a network namespace of the run's own, lo captured; `host`: the
    /// host's network, not captured.
    network: Place,
    /// The interfaces of the run's network namespace.
    interfaces: Vec<String>,
    /// Round trips per mechanism.
    round_trips: usize,
    /// The first message, as sent (the others end `#2`, `#3` …).
    first_message: String,
    /// What a killed run had left and this one removed (queue names, paths).
    removed: Vec<String>,
}

/// One mechanism's turn.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Turn {
    /// `pipe`, `fifo`, `unix_stream`, `unix_dgram`, `socketpair`, `mqueue`,
    /// `shm`, `signal` or `tcp`.
    name: Mechanism,
    /// Round trips made.
    round_trips: usize,
    /// Their median, µs (each timed by the parent: send, then the echo back).
    round_trip_us: f64,
    /// The fastest, µs.
    min_us: f64,
    /// Echoes identical to their message (a signal's: the value it carried).
    replies_exact: usize,
    /// The parent's FNV-1a checksum of all it sent, hex.
    checksum: String,
    /// The child's checksum of all it received, hex: equal when every
    /// message arrived exactly.
    child_checksum: String,
    /// Every message went and came back exactly.
    exact: bool,
    /// Signals only: the 8-byte value the first signal carried, hex.
    value: Option<String>,
    /// Frames captured on lo during the turn; null when lo was not captured.
    frames_on_lo: Option<usize>,
    /// Whether the turn put any frame on lo; null when not captured.
    on_loopback_wire: Option<bool>,
    /// TCP only: its segments by kind.
    segments: Option<Tally>,
    /// TCP only: the parent's listening port.
    parent_port: Option<u16>,
    /// TCP only: the child's port.
    child_port: Option<u16>,
}

/// One mechanism in the summary.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct MechanismOut {
    /// The mechanism (as in each step's `name`).
    name: Mechanism,
    /// Median round trip, µs.
    round_trip_us: f64,
    /// Whether its turn put any frame on lo; null when lo was not captured.
    on_loopback_wire: Option<bool>,
    /// Frames captured on lo during its turn; null when not captured.
    frames_on_lo: Option<usize>,
    /// Every message went and came back exactly.
    exact: bool,
}

/// The run's result.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct IpcOut {
    /// Every mechanism, in the order the run used them (TCP last).
    mechanisms: Vec<MechanismOut>,
    /// Round trips per mechanism.
    round_trips: usize,
    /// Whether lo was captured (the run had a network namespace of its own).
    captured: bool,
    /// Frames captured before the first mechanism's turn (none expected).
    frames_before: usize,
    /// The child's process id.
    child_pid: u32,
}

/// A time in µs to the nanosecond: what the clock resolves, without float noise.
fn ns(us: f64) -> f64 {
    (us * 1000.0).round() / 1000.0
}

/// The messages: the text with its number, `#1` to `#k`.
fn messages(text: &str, k: usize) -> Vec<Vec<u8>> {
    (1..=k)
        .map(|i| format!("{text} #{i}").into_bytes())
        .collect()
}

/// The TCP turn's frames as packets between `parent` and `child`, in wire
/// order; the first data segment shows its bytes (the message, readable on lo).
fn packets(frames: &[Frame], parent_port: u16) -> Vec<Packet> {
    use crate::wire::frame::{self, Kind};
    let mut shown = false;
    frames
        .iter()
        .filter_map(|f| {
            let d = frame::ethernet_frame(&f.bytes).ok()?;
            let Kind::Ipv4 {
                tcp: Some(h),
                payload_len,
                ..
            } = d.kind
            else {
                return None;
            };
            let (from, to) = if h.dst_port == parent_port {
                (CHILD, PARENT)
            } else {
                (PARENT, CHILD)
            };
            let show = payload_len > 0 && from == PARENT && !shown;
            shown |= show;
            let mut p = f.record(show);
            if show {
                // The message and the ports; the headers are other demos' lesson.
                p.hide = [
                    "eth.",
                    "ip.",
                    "tcp.seq",
                    "tcp.ack",
                    "tcp.flags",
                    "tcp.window",
                ]
                .into_iter()
                .chain(["tcp.checksum", "tcp.urgent", "tcp.options"])
                .map(String::from)
                .collect();
            }
            Some(p.between(from, to, frame::label(&d)))
        })
        .collect()
}

/// Run the demo.
pub fn run(args: &IpcArgs, n: &mut Narrator) -> Result<i32> {
    let msgs = messages(&args.message, args.round_trips);
    let out = ipc::run(&msgs)?;
    let captured = out.frames.is_some();
    if captured {
        n.pcap_note("ipc: lo of the run's own network namespace, captured while two processes talked through nine mechanisms; only loopback TCP put frames on it, and these are they.");
    } else {
        n.pcap_note("ipc: lo was not captured (no network namespace of the run's own), so this file holds no packets.");
    }
    let first = msgs.first().cloned().unwrap_or_default();
    let mut step = Step::new(
        say::intro_title(out.parent_pid, out.child_pid),
        tx(
            "Two processes share no memory, so whatever passes between them goes through the kernel (a pipe, a socket, a queue, a signal) or through memory both map on purpose. The child inherited four descriptors (fork + exec, as a shell starts a pipeline) and finds the rest by name.",
            "两个进程不共享内存，它们之间传递的一切，要么经过内核（管道、套接字、队列、信号），要么经过双方特意映射的同一块内存。子进程继承了四个描述符（fork + exec，和 shell 启动管道一样），其余的按名字去找。",
        ),
        &["Q22"],
    )
    .section(tx("0 · Two processes", "0 · 两个进程"))
    .fact(tx("processes", "进程"), say::processes(out.parent_pid, out.child_pid))
    .fact(tx("network", "网络"), say::network(out.place, &out.interfaces))
    .fact(tx("messages", "消息"), say::messages(&first, args.round_trips));
    if !out.removed.is_empty() {
        step = step.fact(tx("cleaned up", "清理"), say::removed(&out.removed));
    }
    n.step(
        step.who(PARENT, tx("parent", "父进程"))
            .who(CHILD, tx("child", "子进程"))
            .with(&Processes {
                parent_pid: out.parent_pid,
                child_pid: out.child_pid,
                network: out.place,
                interfaces: out.interfaces.clone(),
                round_trips: args.round_trips,
                first_message: String::from_utf8_lossy(&first).into_owned(),
                removed: out.removed.clone(),
            }),
    )?;

    let on_lo = |i: usize| out.frames.as_ref().map(|parts| parts[i].len());
    let others_silent = (0..out.exchanges.len())
        .filter(|i| out.exchanges[*i].mechanism != Mechanism::Tcp)
        .all(|i| on_lo(i) == Some(0));
    let mut summary = Vec::new();
    for (i, ex) in out.exchanges.iter().enumerate() {
        let frames = on_lo(i);
        let tcp_frames: &[Frame] = match (&out.frames, ex.mechanism) {
            (Some(parts), Mechanism::Tcp) => &parts[i],
            _ => &[],
        };
        n.step(turn(ex, &first, frames, tcp_frames, others_silent))?;
        summary.push(MechanismOut {
            name: ex.mechanism,
            round_trip_us: ns(ex.median_us()),
            on_loopback_wire: frames.map(|f| f > 0),
            frames_on_lo: frames,
            exact: ex.exact(),
        });
    }

    let exact = out.exchanges.iter().filter(|e| e.exact()).count();
    let on_wire: Vec<Mechanism> = summary
        .iter()
        .filter(|m| m.on_loopback_wire == Some(true))
        .map(|m| m.name)
        .collect();
    let mut by_time: Vec<(Mechanism, f64)> =
        summary.iter().map(|m| (m.name, m.round_trip_us)).collect();
    by_time.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut lines = vec![say::ranking(&by_time)];
    if captured && on_wire == [Mechanism::Tcp] && out.frames_before == 0 && out.interfaces == ["lo"]
    {
        lines.push(say::moral());
    }
    let ok = exact == out.exchanges.len();
    n.summary(
        Summary {
            title: say::summary_title(out.exchanges.len(), exact, &on_wire, captured),
            lines,
            questions: crate::record::qs(&["Q22"]),
            ok,
            ..Summary::default()
        }
        .with(&IpcOut {
            mechanisms: summary,
            round_trips: args.round_trips,
            captured,
            frames_before: out.frames_before,
            child_pid: out.child_pid,
        }),
    )?;
    Ok(if ok { exit::OK } else { exit::NETWORK_NO })
}

/// One mechanism's step.
fn turn(
    ex: &Exchange,
    first: &[u8],
    frames: Option<usize>,
    tcp_frames: &[Frame],
    others_silent: bool,
) -> Step {
    let m = ex.mechanism;
    let section = if m == Mechanism::Tcp {
        tx(
            "2 · Loopback TCP: through the network stack",
            "2 · 回环 TCP：穿过网络协议栈",
        )
    } else {
        tx(
            "1 · On one machine, without the network",
            "1 · 同一台机器上，不经网络",
        )
    };
    let mut step = Step::new(say::title(ex, frames), say::explain(m), &["Q22"])
        .section(section)
        .concept(&format!("ipc-{}", m.key()))
        .fact(tx("calls", "系统调用"), say::calls(m))
        .fact(tx("message", "消息"), say::delivered(ex, first));
    let mut segments = None;
    let (mut parent_port, mut child_port) = (None, None);
    if m == Mechanism::Tcp {
        if let Some((p, c)) = ex.tcp_ports {
            step = step.fact(tx("ends", "两端"), say::ports(p, c));
            (parent_port, child_port) = (Some(p), Some(c));
            step = step.with_packets(packets(tcp_frames, p));
        }
        if frames.is_some() {
            let t = ipc::tally(tcp_frames);
            step = step.fact(tx("segments", "报文段"), say::tally(&t));
            segments = Some(t);
        }
        step = step.fact(tx("lo", "lo"), say::tcp_on_lo(frames, others_silent));
    }
    step.with(&Turn {
        name: m,
        round_trips: ex.round_trips(),
        round_trip_us: ns(ex.median_us()),
        min_us: ns(ex.min_us()),
        replies_exact: ex.replies_exact,
        checksum: format!("{:016x}", ex.checksum),
        child_checksum: format!("{:016x}", ex.child_checksum),
        exact: ex.exact(),
        value: ex.first_value.map(|v| format!("{v:016x}")),
        frames_on_lo: frames,
        on_loopback_wire: frames.map(|f| f > 0),
        segments,
        parent_port,
        child_port,
    })
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "ipc",
        "Two processes, one message through each IPC mechanism and back, timed; loopback TCP the only one on lo.",
    )
    .step::<Processes>("0 · the two processes and the run's network")
    .step::<Turn>("1, 2 · one per mechanism (the TCP step's packets: every frame of its turn on lo, between `parent` and `child`)")
    .summary::<IpcOut>()
}
