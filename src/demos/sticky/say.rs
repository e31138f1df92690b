//! What sticky-packet says, in both languages: each message with arguments is
//! one function, its English and Chinese side by side; the story only chooses.

use std::net::SocketAddr;

use crate::narrate::{plural, tx, Text};
use crate::transport::framing::{Framing, FIXED};

/// Read sizes as a sum: "8 + 72".
pub fn plus(reads: &[usize]) -> String {
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

fn reads_en(n: usize) -> String {
    plural(n as u64, "read", "reads")
}

fn segments_en(n: u32) -> String {
    plural(u64::from(n), "segment", "segments")
}

/// Case 0, the server's first calls.
pub fn listening(fd: i32, addr: SocketAddr) -> Text {
    tx(
        format!("Server: socket() → fd {fd}; bind({addr}); listen(128)"),
        format!("服务器：socket() → fd {fd}；bind({addr})；listen(128)"),
    )
}

/// Case 0, the client's connect().
pub fn connected(fd: i32, addr: SocketAddr, local: SocketAddr) -> Text {
    tx(
        format!("Client: socket() → fd {fd}; connect({addr}) from {local}"),
        format!("客户端：socket() → fd {fd}；从 {local} connect({addr})"),
    )
}

/// Case 0, accept().
pub fn accepted(fd: i32, peer: Option<SocketAddr>) -> Text {
    let peer = peer.map(|a| a.to_string()).unwrap_or_default();
    tx(
        format!("Server: accept() → new fd {fd} for {peer}"),
        format!("服务器：accept() → 为 {peer} 新建 fd {fd}"),
    )
}

/// Case 0, why the listening socket stays.
pub fn listener_stays(fd: i32) -> Text {
    tx(
        format!("accept() hands over one finished connection as a new socket; the listening fd {fd} stays open for the next client."),
        format!("accept() 把一个已建立的连接作为新套接字交出来；监听 fd {fd} 保持打开，等待下一个客户端。"),
    )
}

/// Case 0, send and recv.
pub fn send_recv(sent: usize, got: usize) -> Text {
    tx(
        format!("Client send(\"hello\") → {sent}; server recv() → {got} bytes"),
        format!("客户端 send(\"hello\") → {sent}；服务器 recv() → {got} 字节"),
    )
}

/// Case 0, close.
pub fn closed(eof: usize) -> Text {
    tx(
        format!("Client close(); server recv() → {eof} (end of stream); server close()"),
        format!("客户端 close()；服务器 recv() → {eof}（流结束）；服务器 close()"),
    )
}

/// Case 1's headline.
pub fn slow_reader(writes: usize, size: usize, reads: &[usize]) -> Text {
    tx(
        format!(
            "{writes} writes of {size} bytes; a reader 50 ms late got {} bytes in {}",
            plus(reads),
            reads_en(reads.len())
        ),
        format!(
            "{writes} 次各 {size} 字节的写入；读取方晚 50 ms 才读，{} 次就读到 {} 字节",
            reads.len(),
            plus(reads)
        ),
    )
}

/// Case 2's headline.
pub fn nagle(nagle_segs: u32, nagle_reads: &[usize], nodelay_segs: u32) -> Text {
    tx(
        format!(
            "Warmed connection, reader waiting: with Nagle {}, read as {} bytes; with TCP_NODELAY {}",
            segments_en(nagle_segs),
            plus(nagle_reads),
            segments_en(nodelay_segs)
        ),
        format!(
            "预热过的连接、读取方一直在等：开启 Nagle 时 {nagle_segs} 个报文段，读到 {} 字节；TCP_NODELAY 时 {nodelay_segs} 个报文段",
            plus(nagle_reads)
        ),
    )
}

/// A data segment of one burst, in the ladder.
pub fn segment(nodelay: bool, bytes: usize) -> Text {
    let mode = if nodelay { "TCP_NODELAY" } else { "Nagle" };
    tx(
        format!("{mode}: {bytes} bytes in one segment"),
        format!("{mode}：一个报文段 {bytes} 字节"),
    )
}

/// Case 3's headline: the first eight reads, then "+ …".
pub fn split(kib: usize, reads: &[usize]) -> Text {
    let shown = plus(&reads[..reads.len().min(8)]);
    let more = if reads.len() > 8 { " + …" } else { "" };
    let n = reads.len();
    tx(
        format!("One write of {kib} KiB arrived in {n} reads: {shown}{more} bytes"),
        format!("一次写入 {kib} KiB，分 {n} 次读到：{shown}{more} 字节"),
    )
}

/// A framing's name.
pub fn framing(kind: Framing) -> Text {
    match kind {
        Framing::Fixed => tx("Fixed length", "定长"),
        Framing::Delimiter => tx("Delimiter", "分隔符"),
        Framing::LengthPrefix => tx("Length prefix", "长度前缀"),
    }
}

/// The decoder a framing uses.
pub fn codec(kind: Framing) -> Text {
    match kind {
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

/// How a framing works, and what it costs.
pub fn explain(kind: Framing) -> Text {
    match kind {
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

/// Case 4's headline for one framing.
pub fn recovered(kind: Framing, sent: usize, got: usize, exact: bool) -> Text {
    let name = framing(kind);
    if exact {
        tx(
            format!(
                "{}: all {sent} messages recovered, each exactly as sent",
                name.en
            ),
            format!("{}：{sent} 条消息全部还原，与发送的完全一致", name.zh),
        )
    } else {
        tx(
            format!(
                "{}: {sent} messages sent, {got} recovered, not all as sent",
                name.en
            ),
            format!(
                "{}：发送 {sent} 条消息，还原 {got} 条，并不都与发送的一致",
                name.zh
            ),
        )
    }
}

/// How many reads a framing's reader made.
pub fn reads(n: usize) -> Text {
    tx(format!("{n} reads"), format!("{n} 次"))
}

/// Case 5's headline.
pub fn udp(sends: usize, datagrams: &[usize]) -> Text {
    let (n, s) = (datagrams.len(), sizes(datagrams));
    tx(
        format!("UDP: {sends} sends, the late reader got {n} datagrams of {s} bytes"),
        format!("UDP：{sends} 次发送，读取方同样晚读，收到 {n} 个数据报，每个 {s} 字节"),
    )
}

/// The run's headline.
pub fn summary(writes: usize, reads: usize, messages: usize, all_ok: bool) -> Text {
    if all_ok {
        tx(
            format!("{writes} writes came out of {}; every framing recovered all {messages} messages", reads_en(reads)),
            format!("{writes} 次写入只用 {reads} 次读取就读完；每种定界方式都还原了全部 {messages} 条消息"),
        )
    } else {
        tx(
            format!(
                "{writes} writes came out of {}; some framing lost messages",
                reads_en(reads)
            ),
            format!("{writes} 次写入只用 {reads} 次读取就读完；有的定界方式丢了消息"),
        )
    }
}
