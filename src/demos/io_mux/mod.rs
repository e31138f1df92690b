//! `netlab io-mux`: one thread, many connections (Q15, Q17, Q25).
//!
//! Real sockets on loopback, real system calls, measured:
//!
//! 1. a blocking recv() sleeping until data comes, and a non-blocking one
//!    returning EAGAIN at once;
//! 2. the cost of one select, poll and epoll_wait call over N idle
//!    connections and one ready, drawn as a chart; select's FD_SETSIZE wall
//!    met with this run's own descriptor numbers; the descriptor limit
//!    raised to the hard limit first;
//! 3. level- against edge-triggered epoll on data left unread;
//! 4. a thread per connection against one epoll thread, serving the same
//!    clients: threads, memory, time.
//!
//! The idle connections' far ends are a second process (`netlab
//! io-mux-peer`), as real clients would be. The engine is transport::mux.

use crate::cli::IoMuxArgs;
use crate::error::{exit, Result};
use crate::lab::capture::Frame;
use crate::narrate::{tx, Narrator, Packet, Step, Summary};
use crate::transport::mux::{self, Design, FdLimit, Point, Served, Triggers};

mod say;

/// The run's results: the summary's fields.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct IoMuxOut {
    /// select()'s FD_SETSIZE: the highest descriptor number it can take, plus one.
    select_fd_limit: usize,
    /// The descriptor limit, before and after raising it.
    fd_limit: FdLimit,
    /// The cost of one wait call at each size measured.
    points: Vec<Point>,
    /// Sizes left out: more descriptors than the limit allows.
    skipped: Vec<usize>,
    /// epoll_wait() with nothing but the one ready descriptor: the kernel's floor, µs.
    floor_us: f64,
    /// How long the blocking recv() slept, ms.
    blocking_ms: f64,
    /// How long the non-blocking recv() took to say EAGAIN, µs.
    eagain_us: f64,
    /// Level-triggered wake-ups with data left unread.
    lt_wakeups: u32,
    /// Edge-triggered wake-ups with data left unread.
    et_wakeups: u32,
    /// Clients each server of step 4 served.
    clients: usize,
    /// The thread-per-connection server's cost.
    thread_per_conn: Served,
    /// The one-epoll-thread server's cost.
    epoll: Served,
}

/// Step 1: a blocking read, then a non-blocking one.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct BlockingOut {
    /// How long the blocking recv() slept until data came, ms.
    slept_ms: f64,
    /// The reading thread's state while it slept, from /proc (`S`: sleeping).
    state: Option<String>,
    /// How long the non-blocking recv() took to return, µs.
    eagain_us: f64,
    /// Its errno (EAGAIN, 11 on Linux).
    errno: i32,
    /// The step's segments were captured on loopback (needs CAP_NET_RAW).
    captured: bool,
}

/// Step 2: select, poll and epoll_wait over growing numbers of connections.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct ScalingOut {
    /// One point per size measured.
    points: Vec<Point>,
    /// Sizes left out: more descriptors than the limit allows.
    skipped: Vec<usize>,
    /// epoll_wait() with only the ready descriptor registered, µs.
    floor_us: f64,
}

/// select's wall: FD_SETSIZE met with this run's own descriptors.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct WallOut {
    /// The descriptor limit, raised.
    fd_limit: FdLimit,
    /// FD_SETSIZE (1024).
    fd_setsize: usize,
    /// The first descriptor of this run select could not take, if any.
    first_beyond: Option<i32>,
}

/// Step 3: level- against edge-triggered epoll on data left unread.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct TriggersStep {
    /// What each mode did.
    triggers: Triggers,
    /// The step's segments were captured on loopback (needs CAP_NET_RAW).
    captured: bool,
}

/// Step 4: the same clients served by a thread each, then by one epoll thread.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct ServersOut {
    /// A thread per connection.
    thread_per_conn: Served,
    /// One thread with epoll.
    epoll: Served,
}

/// Participant ids of the two ends of the captured connections.
const CLIENT: &str = "client";
const SERVER: &str = "server";

/// Loopback frames as packets between `client` and `server`, in wire order.
fn packets(frames: &[Frame], client_ports: &[u16]) -> Vec<Packet> {
    use crate::wire::frame::{self, Kind};
    let mut sorted: Vec<&Frame> = frames.iter().collect();
    sorted.sort_by_key(|f| f.at);
    sorted
        .into_iter()
        .filter_map(|f| {
            let d = frame::ethernet_frame(&f.bytes).ok()?;
            let Kind::Ipv4 { tcp: Some(h), .. } = d.kind else {
                return None;
            };
            let (from, to) = if client_ports.contains(&h.src_port) {
                (CLIENT, SERVER)
            } else {
                (SERVER, CLIENT)
            };
            Some(f.record(false).between(from, to, frame::label(&d)))
        })
        .collect()
}

/// Run the demo.
pub fn run(args: &IoMuxArgs, n: &mut Narrator) -> Result<i32> {
    let capture = crate::privilege::Privileges::probe().net_raw;
    if capture {
        n.pcap_note("io-mux: the segments of the blocked read's step and of the LT and ET step, captured on loopback; the thousands of connections of the select/poll/epoll and server steps are not captured.");
    } else {
        n.pcap_note(
            "io-mux: capturing loopback needs CAP_NET_RAW (root); this run holds no segments.",
        );
    }

    // 1. Blocking and non-blocking.
    let b = mux::blocking_vs_nonblocking(capture)?;
    n.step(
        Step::new(
            say::blocking_title(&b),
            tx(
                "Blocking: the kernel puts the thread to sleep until data arrives, so one thread can wait on one socket only. Non-blocking: the call answers at once, data or not, and the program must ask again later; to know when, it asks the kernel about many sockets at once: I/O multiplexing.",
                "阻塞：内核让线程睡眠，直到数据到达，所以一个线程只能守着一个套接字。非阻塞：调用立即返回，不管有没有数据，程序得过会儿再问；什么时候再问？一次向内核打听许多个套接字：这就是 I/O 多路复用。",
            ),
            &["Q25", "Q15"],
        )
        .section(tx("1 · Blocking and non-blocking", "1 · 阻塞与非阻塞"))
        .fact(tx("blocking", "阻塞"), say::blocking(&b))
        .fact(tx("non-blocking", "非阻塞"), say::nonblocking(&b))
        .who(CLIENT, tx("client", "客户端"))
        .who(SERVER, tx("server", "服务端"))
        .with(&BlockingOut {
            slept_ms: b.slept.as_secs_f64() * 1e3,
            state: b.state.map(String::from),
            eagain_us: b.eagain.as_secs_f64() * 1e6,
            errno: b.errno,
            captured: !b.frames.is_empty(),
        })
        .with_packets(packets(&b.frames, &b.client_ports)),
    )?;

    // 2. select, poll, epoll.
    let limit = mux::raise_fd_limit()?;
    let scaling = mux::wait_cost(&args.conns, limit.after)?;
    let largest = scaling.points.last();
    let mut s = Step::new(
        say::scaling_title(largest),
        tx(
            "Each call asks which watched socket can be read; one can. select and poll pass the whole list every call and the kernel checks each entry: cost grows with N. epoll keeps the list in the kernel (epoll_ctl, once); a socket that becomes ready queues itself, so epoll_wait's cost follows the ready ones.",
            "每次调用都问：被监视的套接字里哪个可读？只有一个。select 和 poll 每次都把整张清单交给内核逐个检查：开销随 N 增长。epoll 把清单留在内核里（epoll_ctl，只注册一次），就绪的套接字自己排进就绪队列，所以 epoll_wait 的开销取决于就绪的个数。",
        ),
        &["Q17", "Q15"],
    )
    .section(tx("2 · select, poll and epoll", "2 · select、poll 与 epoll"));
    if !scaling.skipped.is_empty() {
        s = s.fact(
            tx("left out", "未测"),
            say::skipped(&scaling.skipped, limit.after),
        );
    }
    for (label, value) in say::chart(&scaling.points) {
        s = s.fact(label, value);
    }
    s = s.fact(tx("scale", "刻度"), say::chart_scale());
    s = s.fact(tx("floor", "下限"), say::floor(scaling.floor_us, largest));
    let points: Vec<Point> = scaling.points.iter().map(Clone::clone).collect();
    n.step(s.with(&ScalingOut {
        points,
        skipped: scaling.skipped.clone(),
        floor_us: scaling.floor_us,
    }))?;

    // select's wall: a descriptor's number, not the count.
    let mut s = Step::new(
        say::wall_title(scaling.first_beyond),
        tx(
            "select's set is a bitmap of FD_SETSIZE bits, one per descriptor number, so it cannot hold descriptor 1024 or above however few are watched. A busy server's descriptors pass 1023 soon; poll and epoll take any number.",
            "select 的集合是 FD_SETSIZE 位的位图，每个描述符编号占一位，所以编号 1024 及以上的放不进去，哪怕只监视一个。繁忙的服务器，描述符编号很快就超过 1023；poll 和 epoll 不受编号限制。",
        ),
        &["Q17"],
    )
    .fact(tx("fd limit", "描述符上限"), say::fd_limit(&limit));
    if let Some(fd) = scaling.first_beyond {
        s = s.fact(
            tx("FD_SETSIZE", "FD_SETSIZE"),
            say::fd_setsize(fd, nix::sys::select::FD_SETSIZE),
        );
    }
    n.step(s.with(&WallOut {
        fd_limit: limit,
        fd_setsize: nix::sys::select::FD_SETSIZE,
        first_beyond: scaling.first_beyond,
    }))?;

    // 3. Level- and edge-triggered.
    let t = mux::triggers(capture)?;
    n.step(
        Step::new(
            say::triggers_title(&t),
            tx(
                "Level-triggered epoll reports a socket as long as data is waiting in it; edge-triggered only when new data arrives. So with edge-triggered the program must read until EAGAIN at every wake-up, or what it left may wait forever.",
                "水平触发的 epoll 只要套接字里还有数据就一直报告；边缘触发只在新数据到来时报告一次。所以用边缘触发时，每次醒来都必须一直读到 EAGAIN，否则剩下的数据可能永远没人理。",
            ),
            &["Q17"],
        )
        .section(tx(
            "3 · Level-triggered and edge-triggered",
            "3 · 水平触发与边缘触发",
        ))
        .fact(tx("written", "写入"), format!("{} B", t.written))
        .fact(tx("level (LT)", "水平（LT）"), say::level(&t))
        .fact(tx("edge (ET)", "边缘（ET）"), say::edge(&t))
        .with(&TriggersStep {
            triggers: t.clone(),
            captured: !t.frames.is_empty(),
        })
        .with_packets(packets(&t.frames, &t.client_ports)),
    )?;

    // 4. A thread per connection, or one epoll thread.
    // epoll first: memory and thread stacks the threads' run freed would
    // otherwise be reused by the epoll run and hide its own cost.
    let epoll = mux::serve(Design::Epoll, args.clients)?;
    let threads = mux::serve(Design::ThreadPerConn, args.clients)?;
    n.step(
        Step::new(
            say::servers_title(args.clients, &threads, &epoll),
            tx(
                "Both servers answer the same clients, all connected at once. A thread per connection is simple to write, but each thread has its own stack and is scheduled by the kernel; one thread with epoll serves them all from one loop: concurrency (every conversation under way at once) without parallelism (one core at a time). Figures are what the process gained, read from /proc/self/status while the connections were open.",
                "两个服务端服务同样的客户端，所有连接同时在线。每连接一线程写起来简单，但每个线程都有自己的栈，由内核调度；一个线程加 epoll 在一个循环里服务全部：这是并发（所有会话同时在进行）而非并行（同一时刻只用一个核）。这些数字是所有连接都在线时，从 /proc/self/status 读到的进程增量。",
            ),
            &["Q15", "Q23"],
        )
        .section(tx(
            "4 · A thread per connection, or one epoll thread",
            "4 · 每连接一线程，还是一个 epoll 线程",
        ))
        .fact(tx("threads", "多线程"), say::served(&threads, args.clients))
        .fact(tx("epoll", "epoll"), say::served(&epoll, args.clients))
        .with(&ServersOut {
            thread_per_conn: threads,
            epoll,
        }),
    )?;

    let ok = threads.served == args.clients && epoll.served == args.clients;
    n.summary(
        Summary {
            title: say::summary(largest, &t),
            lines: vec![tx(
                "One thread can serve many connections when the kernel tells it which are ready: that is I/O multiplexing, and epoll does it at a cost that does not grow with the connections.",
                "只要内核告诉线程哪些连接就绪，一个线程就能服务许多连接：这就是 I/O 多路复用，而 epoll 的开销不随连接数增长。",
            )],
            questions: crate::record::qs(&["Q15", "Q17", "Q23", "Q25"]),
            ok,
            ..Summary::default()
        }
        .with(&IoMuxOut {
            select_fd_limit: nix::sys::select::FD_SETSIZE,
            fd_limit: limit,
            points: scaling.points.iter().map(Clone::clone).collect(),
            skipped: scaling.skipped.clone(),
            floor_us: scaling.floor_us,
            blocking_ms: b.slept.as_secs_f64() * 1e3,
            eagain_us: b.eagain.as_secs_f64() * 1e6,
            lt_wakeups: t.lt_wakeups,
            et_wakeups: t.et_wakeups,
            clients: args.clients,
            thread_per_conn: threads,
            epoll,
        }),
    )?;
    Ok(if ok { exit::OK } else { exit::NETWORK_NO })
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "io-mux",
        "Blocking and non-blocking reads, select/poll/epoll over many connections, LT and ET.",
    )
    .step::<BlockingOut>("1 · blocking and non-blocking (its packets: the blocked read's segment and ACK, between `client` and `server`)")
    .step::<ScalingOut>("2 · select, poll and epoll")
    .step::<WallOut>("2 · select's FD_SETSIZE wall")
    .step::<TriggersStep>("3 · level- and edge-triggered (its packets: both connections' segments)")
    .step::<ServersOut>("4 · a thread per connection, or one epoll thread")
    .summary::<IoMuxOut>()
}
