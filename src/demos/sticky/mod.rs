//! `netlab sticky-packet`: TCP's "sticky packets" (粘包), live (Q13, Q14).
//!
//! Real send() and recv() calls on loopback, their boundaries side by side:
//!
//! 0. the socket call flow of Q13: socket, bind, listen, connect, accept,
//!    send, recv, close, each narrated as it returns;
//! 1. a slow receiver: many small writes come out of one read;
//! 2. Nagle plus delayed ACK on a warmed-up connection: the small writes are
//!    merged on the wire (segments counted in the capture, else by TCP_INFO), and with TCP_NODELAY
//!    they are not (LAB-NOTES.md has the measurements behind this setup);
//! 3. the reverse (拆包): one large message arriving over several reads;
//! 4. the fixes, each recovering exactly the messages sent: fixed length, a
//!    delimiter and a length prefix, decoded by tokio-util codecs;
//! 5. UDP for contrast: a datagram is never merged with another.
//!
//! The conversations themselves are in transport::stream and
//! transport::framing; this file tells them.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::cli::StickyArgs;
use crate::error::{exit, Result};
use crate::lab::capture::Frame;
use crate::narrate::{tx, Narrator, Packet, Step, Summary};
use crate::transport::framing::{self, Framing};
use crate::transport::stream;

mod say;

const QS: &[&str] = &["Q14"];
/// How late the slow reader starts reading.
const SLOW: Duration = Duration::from_millis(50);

use stream::exchange_error as err;

/// The run's results: the summary's fields.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Sticky {
    /// Small writes made in each case.
    writes: usize,
    /// Bytes in each small write.
    write_size: usize,
    /// Reads the slow reader of case 1 needed for all the writes.
    naive_reads: usize,
    /// Per framing (`fixed`, `delimiter`, `length_prefix`): what it recovered.
    framing: BTreeMap<&'static str, Recovered>,
    /// Case 2 with Nagle on.
    nagle: BurstOut,
    /// Case 2 with TCP_NODELAY.
    nodelay: BurstOut,
    /// Reads the one large message of case 3 needed.
    split_reads: usize,
    /// Datagrams the late UDP reader got (one per send).
    udp_datagrams: usize,
}

/// What one framing recovered from the stream.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Recovered {
    /// Messages the decoder returned.
    messages: usize,
    /// Every message came back exactly as sent, in order.
    exact: bool,
}

/// A burst of small writes: data segments sent, and the sizes the reader got.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct BurstOut {
    /// Data segments the writer sent: counted in the capture of loopback (root,
    /// or a namespace of netlab's own), else TCP_INFO's `tcpi_data_segs_out`.
    segments: u32,
    /// Bytes returned by each of the reader's reads.
    reads: Vec<usize>,
}

/// Step 1 of the call flow: the server's socket, bind and listen.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Listening {
    /// The descriptor socket() returned for the server.
    listen_fd: i32,
    /// The address bind() gave it (`127.0.0.1:PORT`).
    address: String,
}

/// Step 2 of the call flow: the client's socket and connect.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Connected {
    /// The descriptor socket() returned for the client.
    client_fd: i32,
    /// The ephemeral address the kernel chose for it.
    client_address: String,
}

/// Step 3 of the call flow: accept.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Accepted {
    /// The new descriptor accept() returned for the connection.
    accepted_fd: i32,
}

/// Step 4 of the call flow: send and recv.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct SentReceived {
    /// What the client's send("hello") returned: bytes taken.
    sent: usize,
    /// What the server's recv() returned: bytes read.
    got: usize,
}

/// Step 5 of the call flow: close.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Closed {
    /// What the server's recv() returned after the client's close(): 0, end of stream.
    eof: usize,
}

/// Case 1: small writes, a reader that starts late.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct SlowReader {
    /// Writes made.
    writes: usize,
    /// Bytes in each write.
    write_size: usize,
    /// Bytes returned by each read.
    reads: Vec<usize>,
}

/// Case 2: the same writes on a warmed-up connection, Nagle on, then off.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct NagleCase {
    /// Data segments sent with Nagle on (the capture, else TCP_INFO).
    nagle_segments: u32,
    /// Bytes of each read, Nagle on.
    nagle_reads: Vec<usize>,
    /// Data segments sent with TCP_NODELAY (the capture, else TCP_INFO).
    nodelay_segments: u32,
    /// Bytes of each read, TCP_NODELAY.
    nodelay_reads: Vec<usize>,
    /// The segments were captured on loopback (needs CAP_NET_RAW); the step's
    /// packets are empty otherwise.
    captured: bool,
}

/// Case 3: one large write, read as it arrives.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct SplitCase {
    /// Bytes in the one write.
    message_bytes: usize,
    /// Bytes returned by each read.
    reads: Vec<usize>,
}

/// Case 4: one framing's result (one step per framing).
#[derive(serde::Serialize, schemars::JsonSchema)]
struct FramingCase {
    /// `fixed`, `delimiter` or `length_prefix`.
    framing: &'static str,
    /// Messages the decoder recovered.
    messages: usize,
    /// Every message came back exactly as sent, in order.
    exact: bool,
    /// recv() calls the reader made with its 7-byte buffer.
    recv_calls: usize,
}

/// Case 5: the same sends over UDP.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct UdpCase {
    /// Bytes of each datagram received, in order.
    datagrams: Vec<usize>,
}

/// The participant ids of the ladder's two ends, the same in every language
/// (their labels, `写方` and `读方` in Chinese, go with `Step::who`).
const WRITER: &str = "writer";
const READER: &str = "reader";

/// Run the demo.
pub fn run(args: &StickyArgs, n: &mut Narrator) -> Result<i32> {
    let size = usize::from(args.size);
    let writes = stream::small_writes(args.writes, size);

    call_flow(n)?;

    // 1. Slow receiver.
    let naive_reads = stream::late_reader(&writes, SLOW).map_err(err)?;
    n.step(
        Step::new(
            say::slow_reader(writes.len(), size, &naive_reads),
            tx(
                "The bytes waited in the receiver's buffer, which keeps no record of where one write ended: a read returns whatever is there. That is all 粘包 is: message boundaries are the application's job.",
                "这些字节在接收方的缓冲区里等着，而缓冲区不记录每次写入在哪里结束：一次读取拿走现有的全部数据。粘包不过如此：消息边界要由应用自己负责。",
            ),
            QS,
        )
        .section(tx(
            "1 · A slow receiver: writes run together",
            "1 · 接收方读得慢：多次写入粘在一起",
        ))
        .with(&SlowReader {
            writes: writes.len(),
            write_size: size,
            reads: naive_reads.clone(),
        }),
    )?;

    // 2. Nagle + delayed ACK.
    // Loopback is captured during each burst where the process may (CAP_NET_RAW),
    // so the segments the step counts are packet records in every output.
    let capture = crate::privilege::Privileges::probe().net_raw;
    if capture {
        n.pcap_note("sticky-packet: the segments of the two bursts (Nagle on, then TCP_NODELAY), captured on loopback exactly as they crossed it.");
    } else {
        n.pcap_note("sticky-packet: capturing loopback needs CAP_NET_RAW (root); this run holds no segments, since headers rebuilt by netlab could not show how the kernel merged the writes.");
    }
    let nagle = stream::burst(&writes, false, capture)?;
    let nodelay = stream::burst(&writes, true, capture)?;
    // The two bursts one after the other, each in the order it crossed loopback.
    let mut packets = segments(&nagle, false);
    packets.extend(segments(&nodelay, true));
    let captured = !packets.is_empty();
    n.step(
        Step::new(
            say::nagle(nagle.segments, &nagle.reads, nodelay.segments),
            tx(
                "The reader waits, yet the writes merge: Nagle keeps one small segment unacknowledged at a time, and the warmed-up receiver (20 round trips past its quick-ACK start) delays its ACK, so the rest wait and go as one segment. TCP_NODELAY: one segment per write.",
                "读取方在等，写入仍被合并：Nagle 一次只让一个小报文段处于未确认状态，而预热过的接收方（已过快速确认阶段的 20 次往返）会推迟 ACK，于是其余的写入一起等待，合成一个报文段发出。TCP_NODELAY：每次写入一个报文段。",
            ),
            &["Q14"],
        )
        .section(tx(
            "2 · Nagle and delayed ACK: merged on the wire",
            "2 · Nagle 算法与延迟确认：在线路上就被合并",
        ))
        .who(WRITER, tx("writer", "写方"))
        .who(READER, tx("reader", "读方"))
        .with(&NagleCase {
            nagle_segments: nagle.segments,
            nagle_reads: nagle.reads.clone(),
            nodelay_segments: nodelay.segments,
            nodelay_reads: nodelay.reads.clone(),
            captured,
        })
        .with_packets(packets),
    )?;

    // 3. 拆包.
    let big = 256 * 1024;
    let split_reads = stream::one_big_write(big).map_err(err)?;
    n.step(
        Step::new(
            say::split(big / 1024, &split_reads),
            tx(
                "A message larger than what one read can take (or than one segment, or than the window) is cut up on the way. A reader that treats one recv() as one message gets a fragment.",
                "比一次读取能拿的（或比一个报文段、一个窗口）更大的消息会在途中被切开。把一次 recv() 当成一条消息的读取方只会拿到碎片。",
            ),
            QS,
        )
        .section(tx(
            "3 · The reverse (拆包): one message, several reads",
            "3 · 反过来（拆包）：一条消息，多次读取",
        ))
        .with(&SplitCase {
            message_bytes: big,
            reads: split_reads.clone(),
        }),
    )?;

    // 4. The fixes.
    let section = tx(
        "4 · The fixes: frame the messages",
        "4 · 解决办法：给消息定界",
    );
    let messages: Vec<String> = [
        "hi", "hello", "sticky", "packets", "are", "just", "a", "byte", "stream", "!",
    ]
    .iter()
    .cycle()
    .take(args.writes as usize)
    .enumerate()
    .map(|(i, w)| format!("{i}:{w}"))
    .collect();
    let mut by_framing = BTreeMap::new();
    let mut all_ok = true;
    for kind in Framing::ALL {
        let got = framing::framed(kind, &messages, SLOW).map_err(err)?;
        let exact = got.recovered == messages;
        all_ok &= exact;
        n.step(
            Step::new(
                say::recovered(kind, messages.len(), got.recovered.len(), exact),
                say::explain(kind),
                &["Q14", "Q13"],
            )
            .section(section.clone())
            .fact(tx("on the wire", "线路上"), got.preview)
            .fact(
                tx("reads (7-byte buffer)", "读取（7 字节缓冲区）"),
                say::reads(got.reads),
            )
            .fact(tx("decoder", "解码器"), say::codec(kind))
            .with(&FramingCase {
                framing: kind.key(),
                messages: got.recovered.len(),
                exact,
                recv_calls: got.reads,
            }),
        )?;
        by_framing.insert(
            kind.key(),
            Recovered {
                messages: got.recovered.len(),
                exact,
            },
        );
    }

    // 5. UDP.
    let dgrams = stream::datagrams_late(&writes, SLOW).map_err(err)?;
    n.step(
        Step::new(
            say::udp(writes.len(), &dgrams),
            tx(
                "Same timing as case 1, but each datagram stays whole and separate in the receive buffer: recv() returns exactly one. UDP keeps message boundaries (and in exchange may lose or reorder messages).",
                "时机与情形 1 相同，但每个数据报在接收缓冲区里各自完整、互不相连：一次 recv() 恰好取出一个。UDP 保留消息边界（代价是消息可能丢失或乱序）。",
            ),
            &["Q14", "Q9"],
        )
        .section(tx("5 · UDP for contrast", "5 · 对照：UDP"))
        .with(&UdpCase {
            datagrams: dgrams.clone(),
        }),
    )?;

    let result = Sticky {
        writes: writes.len(),
        write_size: size,
        naive_reads: naive_reads.len(),
        framing: by_framing,
        nagle: BurstOut {
            segments: nagle.segments,
            reads: nagle.reads,
        },
        nodelay: BurstOut {
            segments: nodelay.segments,
            reads: nodelay.reads,
        },
        split_reads: split_reads.len(),
        udp_datagrams: dgrams.len(),
    };
    n.summary(
        Summary {
            title: say::summary(writes.len(), naive_reads.len(), messages.len(), all_ok),
            lines: vec![tx(
                "TCP moves bytes; messages are an agreement between sender and receiver: fixed length, a delimiter, or a length prefix.",
                "TCP 传送的是字节；消息是收发双方的约定：定长、分隔符或长度前缀。",
            )],
            questions: crate::record::qs(&["Q13", "Q14"]),
            ok: all_ok,
            ..Summary::default()
        }
        .with(&result),
    )?;
    Ok(if all_ok { exit::OK } else { exit::NETWORK_NO })
}

/// The frames of one burst's connection as packet records, in the order
/// they crossed loopback: the writer's data segments and the reader's ACKs,
/// between the participants `writer` and `reader`.
fn segments(b: &stream::Burst, nodelay: bool) -> Vec<Packet> {
    use crate::wire::frame::{self, Kind};
    let mut frames: Vec<&Frame> = b.frames.iter().collect();
    frames.sort_by_key(|f| f.at);
    frames
        .into_iter()
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
            let (from, to) = if h.src_port == b.port {
                (WRITER, READER)
            } else if h.dst_port == b.port {
                (READER, WRITER)
            } else {
                return None;
            };
            let label = if payload_len > 0 {
                say::segment(nodelay, payload_len)
            } else {
                frame::label(&d)
            };
            Some(f.record(false).between(from, to, label))
        })
        .collect()
}

/// Q13's call flow, one step per call as it returned.
fn call_flow(n: &mut Narrator) -> Result<()> {
    let section = tx(
        "0 · The socket calls of a TCP conversation",
        "0 · 一次 TCP 通信的套接字调用",
    );
    let qs: &[&str] = &["Q13"];
    let f = stream::call_flow().map_err(err)?;
    n.step(
        Step::new(
            say::listening(f.listen_fd, f.address),
            tx(
                "socket() makes an endpoint, bind() gives it an address and port, listen() lets the kernel complete handshakes for it (up to 128 waiting).",
                "socket() 创建端点，bind() 给它地址和端口，listen() 让内核替它完成握手（最多排队 128 个）。",
            ),
            qs,
        )
        .section(section.clone())
        .with(&Listening {
            listen_fd: f.listen_fd,
            address: f.address.to_string(),
        }),
    )?;
    n.step(
        Step::new(
            say::connected(f.client_fd, f.address, f.client_address),
            tx(
                "connect() returns once the three-way handshake is done. No bind(): the kernel picked an ephemeral port.",
                "connect() 在三次握手完成后返回。没有调用 bind()：内核选了一个临时端口。",
            ),
            qs,
        )
        .section(section.clone())
        .with(&Connected {
            client_fd: f.client_fd,
            client_address: f.client_address.to_string(),
        }),
    )?;
    n.step(
        Step::new(
            say::accepted(f.accepted_fd, f.peer),
            say::listener_stays(f.listen_fd),
            qs,
        )
        .section(section.clone())
        .with(&Accepted {
            accepted_fd: f.accepted_fd,
        }),
    )?;
    n.step(
        Step::new(
            say::send_recv(f.sent, f.got),
            tx(
                "send() returns once the bytes are in the kernel's send buffer; recv() returns what has arrived so far.",
                "send() 在字节进入内核发送缓冲区时就返回；recv() 返回目前已到达的数据。",
            ),
            qs,
        )
        .section(section.clone())
        .with(&SentReceived {
            sent: f.sent,
            got: f.got,
        }),
    )?;
    n.step(
        Step::new(
            say::closed(f.eof),
            tx(
                "close() sends FIN; the other side's recv() then returns 0: the stream has ended.",
                "close() 发出 FIN；对方的 recv() 随之返回 0：流结束了。",
            ),
            qs,
        )
        .section(section)
        .with(&Closed { eof: f.eof }),
    )
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "sticky-packet",
        "TCP's byte stream (粘包): writes merged and split by the reader, and three framings.",
    )
    .step::<Listening>("0 · the server's socket(), bind() and listen()")
    .step::<Connected>("0 · the client's socket() and connect()")
    .step::<Accepted>("0 · accept()")
    .step::<SentReceived>("0 · send() and recv()")
    .step::<Closed>("0 · close()")
    .step::<SlowReader>("1 · a slow receiver")
    .step::<NagleCase>("2 · Nagle and delayed ACK (its packets: the two bursts' segments, between `writer` and `reader`)")
    .step::<SplitCase>("3 · one message, several reads")
    .step::<FramingCase>("4 · each framing")
    .step::<UdpCase>("5 · UDP for contrast")
    .summary::<Sticky>()
}
