//! What tcp-vs-udp says, in both languages: each message with arguments is
//! one function, its English and Chinese side by side; the story only chooses.

use std::time::Duration;

use crate::lab::link::Pattern;
use crate::narrate::{plural, tx, Text};
use crate::transport::seen::{DataFrames, HeldBack};
use crate::transport::{Delivery, Summary};

/// The run in one line: what TCP and UDP each got through, at this loss.
pub fn summary(r: &Summary) -> Text {
    let (t, u, loss) = (&r.tcp, &r.udp, r.loss_percent);
    let (d, s, re) = (t.delivered, t.sent, t.retransmits);
    let tcp = if !t.connected {
        tx(
            format!("TCP could not connect ({re} SYNs resent)"),
            format!("TCP 没能建立连接（SYN 重传 {re} 次）"),
        )
    } else if t.delivered_all() {
        tx(
            format!("TCP delivered {d}/{s} in order ({re} resent)"),
            format!("TCP 按序送达 {d}/{s}（重传 {re} 次）"),
        )
    } else {
        tx(
            format!("TCP delivered {d}/{s} before the time bound ({re} resent)"),
            format!("TCP 在时限内送达 {d}/{s}（重传 {re} 次）"),
        )
    };
    let (ud, us) = (u.delivered, u.sent);
    tx(
        format!("{loss}% loss: {}, UDP {ud}/{us}", tcp.en),
        format!("丢包率 {loss}%：{}；UDP 送达 {ud}/{us}", tcp.zh),
    )
}

/// Phase 1's handshake, with connect()'s time.
pub fn handshake(connect_time: Duration) -> Text {
    let ms = connect_time.as_secs_f64() * 1000.0;
    tx(
        format!("TCP: the three-way handshake, inside connect() ({ms:.3} ms)"),
        format!("TCP：三次握手，在 connect() 内完成（{ms:.3} ms）"),
    )
}

/// A window field after the SYNs, scaled by the shift offered in the SYN.
pub fn scaled_window(window: u16, shift: u8) -> Text {
    let real = u32::from(window) << shift;
    tx(
        format!("{window} × 2^{shift} = {real} (scaled)"),
        format!("{window} × 2^{shift} = {real}（已放大）"),
    )
}

/// A SYN's window with the scale it offers.
pub fn offered_window(window: u16, shift: u8) -> Text {
    tx(
        format!("{window} (offers scale {shift})"),
        format!("{window}（提议扩大因子 {shift}）"),
    )
}

/// One handshake segment's numbers.
pub fn segment(seq: u32, ack: u32, win: &Text) -> Text {
    tx(
        format!("seq={seq} ack={ack} win={}", win.en),
        format!("seq={seq} ack={ack} win={}", win.zh),
    )
}

/// Each string in quotes, joined as the language lists things.
fn quoted(v: &[String], sep: &str) -> String {
    v.iter()
        .map(|x| format!("\"{x}\""))
        .collect::<Vec<_>>()
        .join(sep)
}

/// Phase 2's headline: what each reader got of the same three sends.
pub fn boundaries(reads: &[String], datagrams: &[String]) -> Text {
    tx(
        format!(
            "TCP read {} in {}; UDP got {}",
            quoted(reads, ", "),
            plural(reads.len() as u64, "read", "reads"),
            quoted(datagrams, ", ")
        ),
        format!(
            "TCP 分 {} 次读到 {}；UDP 收到 {}",
            reads.len(),
            quoted(reads, "、"),
            quoted(datagrams, "、")
        ),
    )
}

/// Phase 3's section heading.
pub fn reliability_section(loss: u8) -> Text {
    tx(
        format!("3 · Reliability: {loss}% loss each way"),
        format!("3 · 可靠性：每个方向丢包 {loss}%"),
    )
}

/// "every 5th", "3 of every 10": which packets the fixed pattern drops.
fn share(pct: u8) -> Text {
    let (k, m) = crate::lab::link::period(pct);
    if k == 1 {
        let suffix = match (m % 10, m % 100) {
            (_, 11..=13) => "th",
            (1, _) => "st",
            (2, _) => "nd",
            (3, _) => "rd",
            _ => "th",
        };
        tx(format!("every {m}{suffix}"), format!("每 {m} 个丢 1 个"))
    } else {
        tx(format!("{k} of every {m}"), format!("每 {m} 个丢 {k} 个"))
    }
}

/// Phase 3's first step: the lossy link, and how it chooses.
pub fn lossy(loss: u8, pattern: Pattern) -> Text {
    match pattern {
        _ if loss == 0 || loss >= 100 => tx(
            format!("The link now drops {loss}% of TCP and UDP packets in each direction"),
            format!("链路现在在每个方向丢弃 {loss}% 的 TCP 和 UDP 包"),
        ),
        Pattern::Fixed => {
            let sh = share(loss);
            tx(
                format!(
                    "The link now drops {loss}% of TCP and UDP packets each way: {}",
                    sh.en
                ),
                format!("链路现在每个方向丢弃 {loss}% 的 TCP 和 UDP 包：{}", sh.zh),
            )
        }
        Pattern::Random => tx(
            format!("The link now drops {loss}% of TCP and UDP packets each way, at random"),
            format!("链路现在每个方向随机丢弃 {loss}% 的 TCP 和 UDP 包"),
        ),
    }
}

/// What phase 3 sends (and, on a lossy link, which packets it loses).
pub fn numbered(count: u32, size: usize, loss: u8, pattern: Pattern) -> Text {
    let rule = crate::lab::link::loss_rule(loss, pattern);
    let how = match pattern {
        _ if loss == 0 => tx(" The link drops nothing.", "链路不丢包。"),
        _ if rule.is_empty() => tx("", ""),
        Pattern::Fixed => tx(
            format!(" The same ones every run: nft `{rule}` (--random-loss: dice)."),
            format!("每次丢的都是同一批：nft `{rule}`（--random-loss 则随机）。"),
        ),
        Pattern::Random => tx(
            format!(" Dice decide (nft `{rule}`): each run loses a different number."),
            format!("随机丢弃（nft `{rule}`）：每次运行丢的数量都不同。"),
        ),
    };
    tx(
        format!(
            "Each way, {count} numbered {size}-byte messages every 2 ms.{}",
            how.en
        ),
        format!(
            "两个方向各发 {count} 条 {size} 字节的编号消息，每 2 ms 一条。{}",
            how.zh
        ),
    )
}

/// No connection at this loss: the SYNs sent.
pub fn no_connection(syns: usize) -> Text {
    tx(
        format!(
            "TCP: no connection: {} sent, none answered in time",
            plural(syns as u64, "SYN", "SYNs")
        ),
        format!("TCP：没能建立连接：发出 {syns} 个 SYN，都没有及时得到应答"),
    )
}

/// Why there was no connection, with when each SYN left (`at`, seconds).
pub fn syn_backoff(at: &str) -> Text {
    tx(
        format!("At this loss the handshake itself failed: the client resent its SYN, each time its retransmission timer ran out (SYNs at {at} s; Linux waits 1 s for the first few, then twice as long each time), until connect() gave up. Without a connection TCP delivers nothing."),
        format!("在这样的丢包率下，握手本身就失败了：每当重传计时器到期，客户端就重发 SYN（SYN 发出于 {at} 秒；Linux 前几次各等 1 秒，之后每次翻倍），直到 connect() 放弃。没有连接，TCP 什么也送不到。"),
    )
}

/// One TCP direction of the loss test.
pub fn tcp_direction(d: &Delivery, retrans: u32) -> Text {
    let (by, got, sent) = (end(d.from), d.delivered, d.sent);
    let (by, by_zh) = (by.en, by.zh);
    if d.complete && d.in_order {
        tx(
            format!("all {got}, in order; {by} retransmitted {retrans}"),
            format!("全部 {got} 条，顺序正确；{by_zh} 重传 {retrans} 次"),
        )
    } else {
        tx(
            format!("{got} of {sent} so far; {by} retransmitted {retrans}"),
            format!("目前 {got}/{sent} 条；{by_zh} 重传 {retrans} 次"),
        )
    }
}

/// Both TCP directions of the loss test when each delivered everything in
/// order: one line for the two.
pub fn tcp_both_whole(count: u32, client: &str, c_re: u32, server: &str, s_re: u32) -> Text {
    let (c, s) = (end(client), end(server));
    tx(
        format!(
            "all {count} each way, in order; {} retransmitted {c_re}, {} {s_re}",
            c.en, s.en
        ),
        format!(
            "每个方向 {count} 条全部送达，顺序正确；{} 重传 {c_re} 次，{} {s_re} 次",
            c.zh, s.zh
        ),
    )
}

/// Both directions, as a fact's label: `h1 ⇄ h2`.
pub fn both_ways(a: &str, b: &str) -> Text {
    let (a, b) = (end(a), end(b));
    tx(
        format!("{} ⇄ {}", a.en, b.en),
        format!("{} ⇄ {}", a.zh, b.zh),
    )
}

/// Why TCP got everything through in phase 3, and what the repairs cost the
/// messages behind them (head-of-line blocking, from the capture).
pub fn repaired(held: Option<&HeldBack>) -> Text {
    let first = tx(
        "Each lost segment was noticed (timer or duplicate ACKs) and resent",
        "每个丢失的报文段都被发现（超时或重复确认）并重传",
    );
    let then = match held {
        None => tx(
            "; later data waited for the gap to fill: the price is time.",
            "；后面的数据要等空缺补上：代价是时间。",
        ),
        Some(h) if h.messages == 0 => tx(
            "; no later message had to wait for one this time.",
            "；这一次没有哪条后面的消息需要等它。",
        ),
        Some(h) => {
            let (n, ms) = (h.messages, ms(h.longest_us));
            tx(
                format!(
                    "; {n} later {} had arrived but waited, up to {ms}: head-of-line blocking.",
                    if n == 1 { "message" } else { "messages" }
                ),
                format!("；后面 {n} 条消息已经到达，却要等它，最长 {ms}：队头阻塞。"),
            )
        }
    };
    tx(
        format!("{}{}", first.en, then.en),
        format!("{}{}", first.zh, then.zh),
    )
}

/// Microseconds as a short duration: `214 ms`, `0.9 ms`, `350 µs`.
fn ms(us: u64) -> String {
    if us >= 10_000 {
        format!("{} ms", (us + 500) / 1000)
    } else if us >= 1_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{us} µs")
    }
}

/// TCP's headline in phase 3.
pub fn tcp_delivered(whole: bool, delivered: u32, sent: u32, retrans: u32, ms: u128) -> Text {
    if whole {
        tx(
            format!("TCP: all {delivered} delivered in order, {retrans} segments resent, {ms} ms"),
            format!("TCP：{delivered} 条全部按序送达，重传 {retrans} 个报文段，{ms} ms"),
        )
    } else {
        tx(
            format!("TCP: {delivered} of {sent} messages delivered in {ms} ms; {retrans} segments resent"),
            format!("TCP：{ms} ms 内送达 {delivered}/{sent} 条消息；重传 {retrans} 个报文段"),
        )
    }
}

/// The first ten numbers of `lost`, in each language's list style.
fn first_ten(lost: &[u32]) -> Text {
    let v: Vec<String> = lost.iter().take(10).map(|q| q.to_string()).collect();
    let more = if lost.len() > 10 { ", …" } else { "" };
    let more_zh = if lost.len() > 10 { "……" } else { "" };
    tx(
        format!("{}{more}", v.join(", ")),
        format!("{}{more_zh}", v.join("、")),
    )
}

/// One UDP direction of the loss test: the first ten numbers lost.
pub fn udp_direction(d: &Delivery) -> Text {
    if d.lost.is_empty() {
        return tx("none lost", "没有丢失");
    }
    let (n, l) = (d.lost.len(), first_ten(&d.lost));
    tx(
        format!("{n} lost: {}", l.en),
        format!("丢失 {n} 条：{}", l.zh),
    )
}

/// Both UDP directions of the loss test when they lost the same numbers.
pub fn udp_both(d: &Delivery) -> Text {
    if d.lost.is_empty() {
        return tx("none lost either way", "两个方向都没有丢失");
    }
    let (n, l) = (d.lost.len(), first_ten(&d.lost));
    tx(
        format!("the same {n} lost each way: {}", l.en),
        format!("每个方向丢失的都是这 {n} 条：{}", l.zh),
    )
}

/// UDP's headline in phase 3.
pub fn udp_delivered(delivered: u32, sent: u32, lost: usize, reordered: u32) -> Text {
    tx(
        format!("UDP: {delivered}/{sent} delivered, {lost} lost, {reordered} out of order"),
        format!("UDP：送达 {delivered}/{sent}，丢失 {lost}，乱序 {reordered}"),
    )
}

fn mb(bps: f64) -> String {
    format!("{:.0} MB/s", bps / 1e6)
}

/// Phase 4's headline.
pub fn cost(tcp_bps: f64, udp_bps: f64, udp_loss: f64, tcp_rtt: f64, udp_rtt: f64) -> Text {
    let (t, u) = (mb(tcp_bps), mb(udp_bps));
    tx(
        format!("TCP {t}, UDP {u} ({udp_loss:.0}% lost); RTT TCP {tcp_rtt:.0} µs, UDP {udp_rtt:.0} µs"),
        format!("TCP {t}，UDP {u}（丢失 {udp_loss:.0}%）；往返 TCP {tcp_rtt:.0} µs，UDP {udp_rtt:.0} µs"),
    )
}

/// What the cost figures teach, following what was measured.
pub fn cost_lesson(tcp_kept_up: bool, captured: bool) -> Text {
    let a = if tcp_kept_up {
        tx(
            "No loss now; less work per byte made TCP faster",
            "现在没有丢包；每个字节花的工夫少，TCP 就更快",
        )
    } else {
        tx(
            "No loss now. Here UDP moved data faster than TCP: it skips acknowledgements and congestion control, which is exactly what makes it unsafe on a busy network",
            "现在没有丢包。这里 UDP 传得比 TCP 快：它省掉了确认和拥塞控制，而这正是它在繁忙网络上不安全的原因",
        )
    };
    let b = if captured {
        tx(" (capturing slows UDP most).", "（抓包对 UDP 拖累最大）。")
    } else {
        tx(".", "。")
    };
    tx(format!("{}{}", a.en, b.en), format!("{}{}", a.zh, b.zh))
}

fn kib(bytes: u64) -> String {
    format!("{} KiB", (bytes + 512) / 1024)
}

/// TCP's bulk transfer as system calls and frames: few and large.
pub fn tcp_work(writes: u64, write: usize, frames: Option<&DataFrames>) -> Text {
    let w = kib(write as u64);
    match frames {
        Some(f) if f.frames > 0 => {
            let (k, big) = (f.frames, kib(f.largest));
            tx(
                format!("{writes} write()s of {w}; {k} frames of up to {big} on the link (GSO: segments are cut as late as possible; over veth, never)"),
                format!("{writes} 次 write()，每次 {w}；链路上 {k} 帧，最大 {big}（GSO：分段越晚越好，走 veth 则根本不分）"),
            )
        }
        _ => tx(
            format!(
                "{writes} write()s of {w}: the kernel moves TCP's bytes in large pieces (GSO, GRO)"
            ),
            format!("{writes} 次 write()，每次 {w}：内核成块搬运 TCP 的字节（GSO、GRO）"),
        ),
    }
}

/// UDP's bulk transfer: a system call per datagram, and what the receiver
/// could not keep.
pub fn udp_work(
    sends: u64,
    size: usize,
    received: u64,
    rcvbuf: Option<u64>,
    refused: u64,
    receiver: &str,
) -> Text {
    let r = end(receiver);
    let missing = sends.saturating_sub(received);
    let mut t = match rcvbuf {
        Some(0) if missing == 0 => tx(
            format!("{sends} sendto()s, one per {size}-byte datagram; {} kept up this time", r.en),
            format!("{sends} 次 sendto()，每个 {size} 字节的数据报一次；这次 {} 跟上了", r.zh),
        ),
        Some(d) if d > 0 => {
            let rest = missing.saturating_sub(d);
            let (more, more_zh) = if rest > 0 {
                (format!(", {rest} more on the way"), format!("，另有 {rest} 个丢在路上"))
            } else {
                (String::new(), String::new())
            };
            tx(
                format!("{sends} sendto()s, one per {size}-byte datagram; {} dropped {d} with its socket buffer full (RcvbufErrors){more}: no flow control", r.en),
                format!("{sends} 次 sendto()，每个 {size} 字节的数据报一次；{} 的套接字缓冲区满了，丢弃 {d} 个（RcvbufErrors）{more_zh}：没有流量控制", r.zh),
            )
        }
        _ => tx(
            format!("{sends} sendto()s, one per {size}-byte datagram; {missing} never reached the program: no flow control"),
            format!("{sends} 次 sendto()，每个 {size} 字节的数据报一次；{missing} 个没有送到程序：没有流量控制"),
        ),
    };
    if refused > 0 {
        t.en.push_str(&format!("; the sender's own kernel refused {refused}"));
        t.zh.push_str(&format!("；发送方自己的内核拒收了 {refused} 个"));
    }
    t
}

/// The notes' "TCP is slow", as this run measured it: what the handshake
/// cost the first byte (from the SYN to the first data on the link, else
/// connect()'s time), and the longest wait behind a retransmission.
pub fn slow_means(
    tcp_kept_up: bool,
    after_syn: Option<Duration>,
    connect: Duration,
    held: Option<&HeldBack>,
) -> Text {
    let a = if tcp_kept_up {
        tx(
            "the notes call TCP slow, UDP fast; moving data, TCP won here.",
            "笔记认为 TCP 慢、UDP 快；搬运数据，这里 TCP 更快。",
        )
    } else {
        tx(
            "the notes call TCP slow, UDP fast; UDP did move more here, but only by ignoring loss and congestion.",
            "笔记认为 TCP 慢、UDP 快；这里 UDP 确实传得多，但那是因为它不管丢包和拥塞。",
        )
    };
    let first = match after_syn {
        Some(d) => {
            let t = ms(d.as_micros() as u64);
            tx(format!("{t} after the SYN"), format!("SYN 之后 {t}"))
        }
        None => {
            let t = ms(connect.as_micros() as u64);
            tx(format!("connect() took {t}"), format!("connect() 用了 {t}"))
        }
    };
    let wait = match held {
        Some(h) if h.messages > 0 => {
            let w = ms(h.longest_us);
            tx(format!(" (up to {w})"), format!("（最长 {w}）"))
        }
        _ => tx("", ""),
    };
    tx(
        format!("{} What it costs: a round trip before the first byte ({}) and, under loss, waits behind a retransmission{}.", a.en, first.en, wait.en),
        format!("{}它的代价是首字节前的一个往返（{}），以及丢包时排在重传后面的等待{}。", a.zh, first.zh, wait.zh),
    )
}

/// The note --pcap carries about the throughput phase's frames: `lab`
/// whether they were captured at all, `full` the bound when it was reached.
pub fn snap_note(snap: usize, missed: u64, lab: bool, full: Option<usize>) -> String {
    if !lab {
        return "tcp-vs-udp: on loopback the throughput phase is not captured (its frames are up to 64 KiB each); the other phases are, where the process may capture".into();
    }
    let missed = if missed > 0 {
        format!("; the capture could not keep up and the kernel dropped {missed} of them")
    } else {
        String::new()
    };
    let full = full
        .map(|n| format!("; only its first {n} frames are kept"))
        .unwrap_or_default();
    format!("tcp-vs-udp: the throughput phase's frames keep their first {snap} bytes (headers; the payload is filler){full}{missed}")
}

/// The throughput phase's capture reached its bound.
pub fn capture_bound(frames: usize) -> Text {
    tx(
        format!("The capture kept only the phase's first {frames} frames."),
        format!("抓包只保留了这一阶段的前 {frames} 帧。"),
    )
}

/// A participant's label: the loopback ends by their role, lab hosts by name.
pub fn end(id: &str) -> Text {
    match id {
        "client" => tx("client", "客户端"),
        "server" => tx("server", "服务器"),
        other => Text::from(other),
    }
}

/// One direction of the loss test, as a fact's label: `h1 → h2`.
pub fn way(from: &str, to: &str) -> Text {
    let (f, t) = (end(from), end(to));
    tx(
        format!("{} → {}", f.en, t.en),
        format!("{} → {}", f.zh, t.zh),
    )
}

/// Phase 5's headline: who heard the broadcast, and why TCP could not.
pub fn broadcast(reached: &[&str], tcp_error: &Text) -> Text {
    tx(
        format!(
            "Broadcast: UDP reached {}; TCP: {}",
            reached.join(" and "),
            without_errno(&tcp_error.en)
        ),
        format!(
            "广播：UDP 到达了 {}；TCP：{}",
            reached.join(" 和 "),
            without_errno(&tcp_error.zh)
        ),
    )
}

/// An OS error's text without its "(os error N)" tail, for a title.
fn without_errno(text: &str) -> &str {
    let cut = [" (os error", "（系统错误"]
        .iter()
        .filter_map(|m| text.find(m))
        .min()
        .unwrap_or(text.len());
    text[..cut].trim_end()
}

/// One of the notes' ports as /etc/services names it: `services` is the
/// file's own name for it, `have_file` whether there is a file at all.
pub fn port(name: &str, port: u16, services: Option<&str>, have_file: bool) -> Text {
    match (services, have_file) {
        (Some(n), _) if n.eq_ignore_ascii_case(name) => Text::from(format!("{name} {port}")),
        (Some(n), _) => Text::from(format!("{name} {port} `{n}`")),
        (None, true) => tx(
            format!("{name} {port} (not listed)"),
            format!("{name} {port}（未列出）"),
        ),
        (None, false) => tx(
            format!("{name} {port} (no /etc/services)"),
            format!("{name} {port}（本机没有 /etc/services）"),
        ),
    }
}
