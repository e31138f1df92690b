//! `netlab sticky-packet`: TCP's "sticky packets" (粘包), live (Q13, Q14).
//!
//! Real send() and recv() calls on loopback, their boundaries side by side:
//!
//! 0. the socket call flow of Q13: socket, bind, listen, connect, accept,
//!    send, recv, close, each narrated as it returns;
//! 1. a slow receiver: many small writes come out of one read;
//! 2. Nagle plus delayed ACK on a warmed-up connection: the small writes are
//!    merged on the wire (segments counted by TCP_INFO), and with TCP_NODELAY
//!    they are not (LAB-NOTES.md has the measurements behind this setup);
//! 3. the reverse (拆包): one large message arriving over several reads;
//! 4. the fixes, each recovering exactly the messages sent: fixed length, a
//!    delimiter and a length prefix, decoded by tokio-util codecs;
//! 5. UDP for contrast: a datagram is never merged with another.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use serde_json::{Map, Value};
use socket2::{Domain, Protocol, Socket, Type};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec, LinesCodec};

use crate::cli::StickyArgs;
use crate::error::{exit, Error, Result};
use crate::narrate::{tx, Narrator, Packet, Step, Summary, Text};
use crate::sys::tcp_info;

const QS: &[&str] = &["Q14"];
/// How long the slow receiver sleeps before its first read.
const SLOW: Duration = Duration::from_millis(50);
/// One-byte ping-pongs that take the connection out of TCP's quick-ACK start.
const WARM_UP: u32 = 20;
/// Width of a fixed-length frame.
const FIXED: usize = 16;

/// A socket call between the demo's own two ends failed.
fn err(e: std::io::Error) -> Error {
    Error::system(
        tx("exchange data between", "在测试的两端之间收发数据："),
        "the writer and the reader",
        e,
    )
}

/// Run the demo.
pub fn run(args: &StickyArgs, n: &mut Narrator) -> Result<i32> {
    let size = usize::from(args.size);
    let writes = crate::transport::stream::small_writes(args.writes, size);
    let total = writes.len() * size;

    call_flow(n)?;

    // 1. Slow receiver.
    let section = tx(
        "1 · A slow receiver: writes run together",
        "1 · 接收方读得慢：多次写入粘在一起",
    );
    let (mut c, mut s) = crate::transport::stream::pair().map_err(err)?;
    for w in &writes {
        c.write_all(w).map_err(err)?;
    }
    std::thread::sleep(SLOW);
    let (naive_reads, _) =
        crate::transport::stream::read_all(&mut s, total, 64 * 1024).map_err(err)?;
    n.step(
        Step::new(
            tx(
                format!("{} writes of {size} bytes; a reader 50 ms late got {} bytes in {}", writes.len(), plus(&naive_reads), crate::narrate::plural(naive_reads.len() as u64, "read", "reads")),
                format!("{} 次各 {size} 字节的写入；晚了 50 ms 的读取方 {} 次读到 {} 字节", writes.len(), naive_reads.len(), plus(&naive_reads)),
            ),
            tx(
                "The bytes waited in the receiver's buffer, which keeps no record of where one write ended: a read returns whatever is there. That is all 粘包 is: message boundaries are the application's job.",
                "这些字节在接收方的缓冲区里等着，而缓冲区不记录每次写入在哪里结束：一次读取拿走现有的全部数据。粘包不过如此：消息边界要由应用自己负责。",
            ),
            QS,
        )
        .section(section)
        .data("writes", writes.len())
        .data("write_size", size)
        .data("reads", naive_reads.clone()),
    )?;

    // 2. Nagle + delayed ACK.
    let section = tx(
        "2 · Nagle and delayed ACK: merged on the wire",
        "2 · Nagle 算法与延迟确认：在线路上就被合并",
    );
    // Loopback is captured during each burst where the process may (CAP_NET_RAW),
    // so the segments the step counts are packet records in every output.
    let capture = crate::privilege::Privileges::probe().net_raw;
    if n.capturing() && !capture {
        n.pcap_note("sticky-packet: capturing loopback needs CAP_NET_RAW (root); this file holds no segments, since headers rebuilt by netlab could not show how the kernel merged the writes.");
    } else if capture {
        n.pcap_note("sticky-packet: the segments of the two bursts (Nagle on, then TCP_NODELAY), captured on loopback exactly as they crossed it.");
    }
    let ends = match n.lang() {
        crate::narrate::Lang::En => ("writer", "reader"),
        crate::narrate::Lang::Zh => ("写方", "读方"),
    };
    let (nagle_reads, nagle_segs, nagle_frames) = burst(&writes, false, capture, ends)?;
    let (nodelay_reads, nodelay_segs, nodelay_frames) = burst(&writes, true, capture, ends)?;
    n.step(
        Step::new(
            tx(
                format!("Warmed connection, reader waiting: with Nagle {}, read as {} bytes; with TCP_NODELAY {}", crate::narrate::plural(nagle_segs as u64, "segment", "segments"), plus(&nagle_reads), crate::narrate::plural(nodelay_segs as u64, "segment", "segments")),
                format!("预热过的连接、读取方一直在等：开启 Nagle 时 {nagle_segs} 个报文段，读到 {} 字节；TCP_NODELAY 时 {nodelay_segs} 个报文段", plus(&nagle_reads)),
            ),
            tx(
                "The reader waits, yet the writes merge: Nagle keeps one small segment unacknowledged at a time, and the warmed-up receiver (20 round trips past its quick-ACK start) delays its ACK, so the rest wait and go as one segment. TCP_NODELAY: one segment per write (TCP_INFO counts them).",
                "读取方在等，写入仍被合并：Nagle 一次只让一个小报文段处于未确认状态，而预热过的接收方（已过快速确认阶段的 20 次往返）会推迟 ACK，于是其余的写入一起等待，合成一个报文段发出。TCP_NODELAY：每次写入一个报文段（由 TCP_INFO 计数）。",
            ),
            &["Q14"],
        )
        .section(section)
        .data("nagle_segments", nagle_segs)
        .data("nagle_reads", nagle_reads.clone())
        .data("nodelay_segments", nodelay_segs)
        .data("nodelay_reads", nodelay_reads.clone())
        .with_packets(nagle_frames.into_iter().chain(nodelay_frames).collect()),
    )?;

    // 3. 拆包.
    let section = tx(
        "3 · The reverse (拆包): one message, several reads",
        "3 · 反过来（拆包）：一条消息，多次读取",
    );
    let big = 256 * 1024;
    let (mut c, mut s) = crate::transport::stream::pair().map_err(err)?;
    let writer = std::thread::spawn(move || {
        c.write_all(&vec![b'x'; big])
            .and_then(|_| c.shutdown(Shutdown::Write))
    });
    let (split_reads, _) =
        crate::transport::stream::read_all(&mut s, big, 64 * 1024).map_err(err)?;
    writer
        .join()
        .map_err(|_| Error::Internal("writer panicked".into()))?
        .map_err(err)?;
    let preview: Vec<usize> = split_reads.iter().take(8).copied().collect();
    n.step(
        Step::new(
            tx(
                format!("One write of {} KiB arrived in {} reads: {}{} bytes", big / 1024, split_reads.len(), plus(&preview), if split_reads.len() > 8 { " + …" } else { "" }),
                format!("一次写入 {} KiB，分 {} 次读到：{}{} 字节", big / 1024, split_reads.len(), plus(&preview), if split_reads.len() > 8 { " + …" } else { "" }),
            ),
            tx(
                "A message larger than what one read can take (or than one segment, or than the window) is cut up on the way. A reader that treats one recv() as one message gets a fragment.",
                "比一次读取能拿的（或比一个报文段、一个窗口）更大的消息会在途中被切开。把一次 recv() 当成一条消息的读取方只会拿到碎片。",
            ),
            QS,
        )
        .section(section)
        .data("message_bytes", big)
        .data("reads", split_reads.clone()),
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
    let mut framing = std::collections::BTreeMap::new();
    let mut all_ok = true;
    for kind in [Framing::Fixed, Framing::Delimiter, Framing::LengthPrefix] {
        let (recovered, reads, wire) = framed(kind, &messages)?;
        let exact = recovered == messages;
        all_ok &= exact;
        n.step(
            Step::new(
                tx(
                    if exact {
                        format!(
                            "{}: all {} messages recovered, each exactly as sent",
                            kind.name().en,
                            messages.len()
                        )
                    } else {
                        format!(
                            "{}: {} messages sent, {} recovered, not all as sent",
                            kind.name().en,
                            messages.len(),
                            recovered.len()
                        )
                    },
                    if exact {
                        format!(
                            "{}：{} 条消息全部还原，与发送的完全一致",
                            kind.name().zh,
                            messages.len()
                        )
                    } else {
                        format!(
                            "{}：发送 {} 条消息，还原 {} 条，并不都与发送的一致",
                            kind.name().zh,
                            messages.len(),
                            recovered.len()
                        )
                    },
                ),
                kind.explain(),
                &["Q14", "Q13"],
            )
            .section(section.clone())
            .fact(tx("on the wire", "线路上"), wire)
            .fact(
                tx("reads (7-byte buffer)", "读取（7 字节缓冲区）"),
                tx(format!("{reads} reads"), format!("{reads} 次")),
            )
            .fact(tx("decoder", "解码器"), kind.codec())
            .data("framing", kind.key())
            .data("messages", recovered.len())
            .data("exact", exact),
        )?;
        framing.insert(
            kind.key(),
            Recovered {
                messages: recovered.len(),
                exact,
            },
        );
    }

    // 5. UDP.
    let section = tx("5 · UDP for contrast", "5 · 对照：UDP");
    let rx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(err)?;
    rx.set_read_timeout(Some(Duration::from_millis(300)))
        .map_err(err)?;
    let tx_sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(err)?;
    let to = rx.local_addr().map_err(err)?;
    for w in &writes {
        tx_sock.send_to(w, to).map_err(err)?;
    }
    std::thread::sleep(SLOW);
    let mut dgrams = Vec::new();
    let mut buf = [0u8; 2048];
    while dgrams.len() < writes.len() {
        match rx.recv_from(&mut buf) {
            Ok((k, _)) => dgrams.push(k),
            Err(_) => break,
        }
    }
    n.step(
        Step::new(
            tx(
                format!("UDP: {} sends, the late reader got {} datagrams of {} bytes", writes.len(), dgrams.len(), sizes(&dgrams)),
                format!("UDP：{} 次发送，晚到的读取方收到 {} 个报文，每个 {} 字节", writes.len(), dgrams.len(), sizes(&dgrams)),
            ),
            tx(
                "Same timing as case 1, but each datagram stays whole and separate in the receive buffer: recv() returns exactly one. UDP keeps message boundaries (and in exchange may lose or reorder messages).",
                "时机与情形 1 相同，但每个报文在接收缓冲区里保持完整和独立：一次 recv() 恰好返回一个。UDP 保留消息边界（代价是消息可能丢失或乱序）。",
            ),
            &["Q14", "Q9"],
        )
        .section(section)
        .data("datagrams", dgrams.clone()),
    )?;

    let result = Sticky {
        writes: writes.len(),
        write_size: size,
        naive_reads: naive_reads.len(),
        framing,
        nagle: Burst {
            segments: nagle_segs,
            reads: nagle_reads,
        },
        nodelay: Burst {
            segments: nodelay_segs,
            reads: nodelay_reads,
        },
        split_reads: split_reads.len(),
        udp_datagrams: dgrams.len(),
    };
    let data = match serde_json::to_value(&result) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    n.summary(Summary {
        title: tx(
            if all_ok {
                format!("{} writes came out of {}; every framing recovered all {} messages", writes.len(), crate::narrate::plural(naive_reads.len() as u64, "read", "reads"), messages.len())
            } else {
                format!("{} writes came out of {}; some framing lost messages", writes.len(), crate::narrate::plural(naive_reads.len() as u64, "read", "reads"))
            },
            if all_ok {
                format!("{} 次写入只用 {} 次读取就读完；每种定界方式都还原了全部 {} 条消息", writes.len(), naive_reads.len(), messages.len())
            } else {
                format!("{} 次写入只用 {} 次读取就读完；有的定界方式丢了消息", writes.len(), naive_reads.len())
            },
        ),
        lines: vec![tx(
            "TCP moves bytes; messages are an agreement between sender and receiver: fixed length, a delimiter, or a length prefix.",
            "TCP 传送的是字节；消息是收发双方的约定：定长、分隔符或长度前缀。",
        )],
        questions: vec!["Q13", "Q14"],
        ok: all_ok,
        data,
    })?;
    Ok(if all_ok { exit::OK } else { exit::NETWORK_NO })
}

/// The run's results: the JSON summary.
#[derive(serde::Serialize)]
struct Sticky {
    writes: usize,
    write_size: usize,
    /// Reads the slow reader needed.
    naive_reads: usize,
    /// Per framing: what it recovered.
    framing: std::collections::BTreeMap<&'static str, Recovered>,
    nagle: Burst,
    nodelay: Burst,
    split_reads: usize,
    udp_datagrams: usize,
}

/// What one framing recovered from the stream.
#[derive(serde::Serialize)]
struct Recovered {
    messages: usize,
    exact: bool,
}

/// A burst of small writes: data segments sent, and the sizes the reader got.
#[derive(serde::Serialize)]
struct Burst {
    segments: u32,
    reads: Vec<usize>,
}

/// Small writes on a warmed-up connection while the reader waits in recv():
/// the reads it saw and the data segments the sender sent.
fn burst(
    writes: &[Vec<u8>],
    nodelay: bool,
    capture: bool,
    ends: (&str, &str),
) -> Result<(Vec<usize>, u32, Vec<Packet>)> {
    let (mut c, mut s) = crate::transport::stream::pair().map_err(err)?;
    let port = c.local_addr().map_err(err)?.port();
    c.set_nodelay(nodelay).map_err(err)?;
    let total: usize = writes.iter().map(Vec::len).sum();
    let reader = std::thread::spawn(move || -> Result<Vec<usize>> {
        let mut b = [0u8; 1];
        for _ in 0..WARM_UP {
            s.read_exact(&mut b).map_err(err)?;
            s.write_all(&b).map_err(err)?;
        }
        Ok(crate::transport::stream::read_all(&mut s, total, 64 * 1024)
            .map_err(err)?
            .0)
    });
    let mut b = [1u8; 1];
    for _ in 0..WARM_UP {
        c.write_all(&b).map_err(err)?;
        c.read_exact(&mut b).map_err(err)?;
    }
    // Let the reader block in recv() before the burst.
    std::thread::sleep(Duration::from_millis(5));
    let cap = if capture {
        crate::lab::capture::Capture::start_here("lo").ok()
    } else {
        None
    };
    let before = tcp_info(&c).map_err(err)?.data_segs_out;
    for w in writes {
        c.write_all(w).map_err(err)?;
    }
    let reads = reader
        .join()
        .map_err(|_| Error::Internal("reader panicked".into()))??;
    let after = tcp_info(&c).map_err(err)?.data_segs_out;
    let frames = match cap {
        Some(cap) => {
            // The last ACK may still be on its way.
            std::thread::sleep(Duration::from_millis(10));
            cap.stop()?
        }
        None => Vec::new(),
    };
    Ok((
        reads,
        after - before,
        segments(&frames, port, nodelay, ends),
    ))
}

/// The frames of one burst's connection (client port `port`) as packet records:
/// the writer's data segments and the reader's ACKs.
fn segments(
    frames: &[crate::lab::capture::Frame],
    port: u16,
    nodelay: bool,
    (writer, reader): (&str, &str),
) -> Vec<Packet> {
    use crate::wire::frame::{self, Kind};
    let mode = if nodelay { "TCP_NODELAY" } else { "Nagle" };
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
            let (from, to) = if h.src_port == port {
                (writer, reader)
            } else if h.dst_port == port {
                (reader, writer)
            } else {
                return None;
            };
            let label = if payload_len > 0 {
                tx(
                    format!("{mode}: {payload_len} bytes in one segment"),
                    format!("{mode}：一个报文段 {payload_len} 字节"),
                )
            } else {
                frame::label(&d)
            };
            Some(f.record(false).between(from, to, label))
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Framing {
    Fixed,
    Delimiter,
    LengthPrefix,
}

/// Fixed-length frames: every message is padded to the same width.
struct FixedLength(usize);

impl Decoder for FixedLength {
    type Item = Bytes;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> std::io::Result<Option<Bytes>> {
        Ok((src.len() >= self.0).then(|| src.split_to(self.0).freeze()))
    }
}

impl Framing {
    fn key(self) -> &'static str {
        match self {
            Framing::Fixed => "fixed",
            Framing::Delimiter => "delimiter",
            Framing::LengthPrefix => "length_prefix",
        }
    }

    fn name(self) -> Text {
        match self {
            Framing::Fixed => tx("Fixed length", "定长"),
            Framing::Delimiter => tx("Delimiter", "分隔符"),
            Framing::LengthPrefix => tx("Length prefix", "长度前缀"),
        }
    }

    fn codec(self) -> Text {
        match self {
            Framing::Fixed => tx(
                format!("{FIXED}-byte frames (a 6-line tokio-util Decoder)"),
                format!("{FIXED} 字节一帧（6 行的 tokio-util Decoder）"),
            ),
            Framing::Delimiter => Text::from("tokio_util::codec::LinesCodec ('\\n')"),
            Framing::LengthPrefix => tx(
                "tokio_util::codec::LengthDelimitedCodec (4-byte big-endian length)",
                "tokio_util::codec::LengthDelimitedCodec（4 字节大端长度）",
            ),
        }
    }

    fn explain(self) -> Text {
        match self {
            Framing::Fixed => tx(
                format!("Every message is padded to {FIXED} bytes, so the reader cuts the stream every {FIXED} bytes. Simple, but wastes space and caps the size."),
                format!("每条消息补齐到 {FIXED} 字节，读取方每 {FIXED} 字节切一刀。简单，但浪费空间，也限制了长度。"),
            ),
            Framing::Delimiter => tx(
                "Each message ends with '\\n', and the reader cuts at each one (as HTTP/1 headers and Redis do). The delimiter must never occur inside a message, or be escaped.",
                "每条消息以「\\n」结尾，读取方遇到它就切开（HTTP/1 的头部、Redis 都这样做）。分隔符不能出现在消息内部，否则要转义。",
            ),
            Framing::LengthPrefix => tx(
                "Each message is preceded by its length, so the reader knows how many bytes to wait for, whatever they contain. The usual choice of binary protocols (and of DNS over TCP, with a 2-byte length).",
                "每条消息前面加上它的长度，读取方就知道要等多少字节，而不管内容是什么。二进制协议的常用做法（TCP 上的 DNS 也是，用 2 字节长度）。",
            ),
        }
    }
}

/// Send `messages` framed as `kind` (one write each), read them back 7 bytes at a
/// time after a pause, decode: (recovered, number of reads, a preview of the wire).
fn framed(kind: Framing, messages: &[String]) -> Result<(Vec<String>, usize, String)> {
    let mut wire = BytesMut::new();
    for m in messages {
        match kind {
            Framing::Fixed => {
                let mut b = m.as_bytes().to_vec();
                b.resize(FIXED, b' ');
                wire.extend_from_slice(&b);
            }
            Framing::Delimiter => LinesCodec::new()
                .encode(m.as_str(), &mut wire)
                .map_err(|e| Error::Internal(format!("encoding a line: {e}")))?,
            Framing::LengthPrefix => LengthDelimitedCodec::new()
                .encode(Bytes::from(m.clone()), &mut wire)
                .map_err(|e| Error::Internal(format!("encoding a frame: {e}")))?,
        }
    }
    let preview: String = wire
        .iter()
        .take(40)
        .map(|b| {
            if b.is_ascii_graphic() || *b == b' ' {
                (*b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect();
    let (mut c, mut s) = crate::transport::stream::pair().map_err(err)?;
    let frames: Vec<Vec<u8>> = match kind {
        // Split the encoded stream back into one write per message.
        Framing::Fixed => wire.chunks(FIXED).map(<[u8]>::to_vec).collect(),
        _ => {
            let mut v = Vec::new();
            let mut rest = &wire[..];
            for m in messages {
                let len = match kind {
                    Framing::Delimiter => m.len() + 1,
                    _ => m.len() + 4,
                };
                v.push(rest[..len].to_vec());
                rest = &rest[len..];
            }
            v
        }
    };
    for f in &frames {
        c.write_all(f).map_err(err)?;
    }
    c.shutdown(Shutdown::Write).map_err(err)?;
    std::thread::sleep(SLOW);
    let mut buf = BytesMut::new();
    let mut chunk = [0u8; 7];
    let mut reads = 0;
    let mut out = Vec::new();
    let mut fixed = FixedLength(FIXED);
    let mut lines = LinesCodec::new();
    let mut lens = LengthDelimitedCodec::new();
    loop {
        let k = s.read(&mut chunk).map_err(err)?;
        if k == 0 {
            break;
        }
        reads += 1;
        buf.extend_from_slice(&chunk[..k]);
        loop {
            let next = match kind {
                Framing::Fixed => fixed
                    .decode(&mut buf)
                    .map_err(err)?
                    .map(|b| String::from_utf8_lossy(&b).trim_end().to_string()),
                Framing::Delimiter => lines
                    .decode(&mut buf)
                    .map_err(|e| Error::Internal(format!("decoding a line: {e}")))?,
                Framing::LengthPrefix => lens
                    .decode(&mut buf)
                    .map_err(err)?
                    .map(|b| String::from_utf8_lossy(&b).into_owned()),
            };
            match next {
                Some(m) => out.push(m),
                None => break,
            }
        }
    }
    Ok((out, reads, format!("{preview}…")))
}

fn call_flow(n: &mut Narrator) -> Result<()> {
    let section = tx(
        "0 · The socket calls of a TCP conversation",
        "0 · 一次 TCP 通信的套接字调用",
    );
    let qs: &[&str] = &["Q13"];
    let server = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).map_err(err)?;
    let sfd = server.as_raw_fd();
    server
        .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .map_err(err)?;
    let addr = server
        .local_addr()
        .map_err(err)?
        .as_socket()
        .ok_or_else(|| Error::Internal("a loopback socket has no address".into()))?;
    server.listen(128).map_err(err)?;
    n.step(
        Step::new(
            tx(format!("Server: socket() → fd {sfd}; bind({addr}); listen(128)"), format!("服务器：socket() → fd {sfd}；bind({addr})；listen(128)")),
            tx(
                "socket() makes an endpoint, bind() gives it an address and port, listen() lets the kernel complete handshakes for it (up to 128 waiting).",
                "socket() 创建端点，bind() 给它地址和端口，listen() 让内核替它完成握手（最多排队 128 个）。",
            ),
            qs,
        )
        .section(section.clone())
        .data("listen_fd", sfd)
        .data("address", addr.to_string()),
    )?;
    let client = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).map_err(err)?;
    let cfd = client.as_raw_fd();
    client.connect(&addr.into()).map_err(err)?;
    let local = client
        .local_addr()
        .map_err(err)?
        .as_socket()
        .ok_or_else(|| Error::Internal("a loopback socket has no address".into()))?;
    n.step(
        Step::new(
            tx(format!("Client: socket() → fd {cfd}; connect({addr}) from {local}"), format!("客户端：socket() → fd {cfd}；从 {local} connect({addr})")),
            tx(
                "connect() returns once the three-way handshake is done. No bind(): the kernel picked an ephemeral port.",
                "connect() 在三次握手完成后返回。没有调用 bind()：内核选了一个临时端口。",
            ),
            qs,
        )
        .section(section.clone())
        .data("client_fd", cfd)
        .data("client_address", local.to_string()),
    )?;
    let (conn, peer) = server.accept().map_err(err)?;
    let afd = conn.as_raw_fd();
    n.step(
        Step::new(
            tx(format!("Server: accept() → new fd {afd} for {}", peer.as_socket().map(|a| a.to_string()).unwrap_or_default()), format!("服务器：accept() → 为 {} 新建 fd {afd}", peer.as_socket().map(|a| a.to_string()).unwrap_or_default())),
            tx(
                format!("accept() hands over one finished connection as a new socket; the listening fd {sfd} stays open for the next client."),
                format!("accept() 把一个已建立的连接作为新套接字交出来；监听 fd {sfd} 保持打开，等待下一个客户端。"),
            ),
            qs,
        )
        .section(section.clone())
        .data("accepted_fd", afd),
    )?;
    let mut client: TcpStream = client.into();
    let mut conn: TcpStream = conn.into();
    let sent = client.write(b"hello").map_err(err)?;
    let mut buf = [0u8; 16];
    let got = conn.read(&mut buf).map_err(err)?;
    n.step(
        Step::new(
            tx(format!("Client send(\"hello\") → {sent}; server recv() → {got} bytes"), format!("客户端 send(\"hello\") → {sent}；服务器 recv() → {got} 字节")),
            tx(
                "send() returns once the bytes are in the kernel's send buffer; recv() returns what has arrived so far.",
                "send() 在字节进入内核发送缓冲区时就返回；recv() 返回目前已到达的数据。",
            ),
            qs,
        )
        .section(section.clone()),
    )?;
    drop(client);
    let eof = conn.read(&mut buf).map_err(err)?;
    drop(conn);
    drop(server);
    n.step(
        Step::new(
            tx(
                format!("Client close(); server recv() → {eof} (end of stream); server close()"),
                format!("客户端 close()；服务器 recv() → {eof}（流结束）；服务器 close()"),
            ),
            tx(
                "close() sends FIN; the other side's recv() then returns 0: the stream has ended.",
                "close() 发出 FIN；对方的 recv() 随之返回 0：流结束了。",
            ),
            qs,
        )
        .section(section),
    )
}

/// Read sizes as a sum: "8 + 72".
fn plus(reads: &[usize]) -> String {
    reads
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(" + ")
}

/// The distinct sizes of some datagrams, as words: "8" or "8, 12".
fn sizes(d: &[usize]) -> String {
    d.iter()
        .collect::<std::collections::BTreeSet<_>>()
        .iter()
        .map(|k| k.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_length_decoder_cuts_exactly() {
        let mut d = FixedLength(4);
        let mut b = BytesMut::from(&b"abcdefg"[..]);
        assert_eq!(
            d.decode(&mut b).unwrap().unwrap(),
            Bytes::from_static(b"abcd")
        );
        assert!(
            d.decode(&mut b).unwrap().is_none(),
            "3 bytes are not a frame"
        );
        assert_eq!(b.len(), 3);
    }

    #[test]
    fn every_framing_recovers_the_messages() {
        let m: Vec<String> = (0..12)
            .map(|i| format!("{i}:{}", "x".repeat(i % 5)))
            .collect();
        for k in [Framing::Fixed, Framing::Delimiter, Framing::LengthPrefix] {
            let (got, reads, _) = framed(k, &m).unwrap();
            assert_eq!(got, m, "{}", k.key());
            assert!(reads > 1);
        }
    }
}
