//! What rpc says, in both languages: each message with arguments is one
//! function, its English and Chinese side by side; the story only chooses.

use super::{GrpcMessageOut, Header, LogOut};
use crate::narrate::{tx, Text};
use crate::rpc::{self, Call, LostReply};
use crate::wire::http2::{self, Item};
use crate::wire::rpc::{Kind, Message};

/// The three servers, one line.
pub fn servers() -> Text {
    let (a, p, d, g) = (rpc::HOST, rpc::PLAIN_PORT, rpc::DEDUP_PORT, rpc::GRPC_PORT);
    tx(
        format!("{a}:{p} netlab RPC · :{d} the same, with a table of answered ids · :{g} gRPC"),
        format!("{a}:{p} netlab RPC · :{d} 同上，另有一张已答编号表 · :{g} gRPC"),
    )
}

/// The connection and the first segment's calls, one frame each.
pub fn first_segment(client: u16, server: u16, calls: &[(u32, String)]) -> Text {
    let list: Vec<String> = calls.iter().map(|(id, m)| format!("id {id} {m}")).collect();
    let n = calls.len();
    if n == 1 {
        tx(
            format!(
                "Connected :{client} → :{server}; call {} is one frame",
                list.join("")
            ),
            format!(
                "从 :{client} 连上 :{server}；调用 {} 是一个帧",
                list.join("")
            ),
        )
    } else {
        tx(
            format!(
                "Connected :{client} → :{server}; calls {} went out in one segment, a frame each",
                list.join(" and ")
            ),
            format!(
                "从 :{client} 连上 :{server}；调用 {} 在同一个报文段里发出，各占一个帧",
                list.join(" 和 ")
            ),
        )
    }
}

/// "id 3".
pub fn id(id: u32) -> Text {
    Text::from(format!("id {id}"))
}

fn ms(d: std::time::Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// One call and its result: `slow_square {"x":12} → {"square":144}, 100.4 ms`.
pub fn call_line(c: &Call) -> Text {
    let got = c
        .reply
        .as_ref()
        .map_or_else(|| "—".to_string(), |v| v.to_string());
    let t = ms(c.elapsed);
    tx(
        format!("{} {} → {got}, {t} ms", c.method, c.args),
        format!("{} {} → {got}，{t} 毫秒", c.method, c.args),
    )
}

/// Two calls in flight and the order their replies came in.
pub fn in_flight(calls: &[Call], order: &[u32]) -> Text {
    let ids: Vec<String> = order.iter().map(|i| format!("id {i}")).collect();
    let sent: Vec<String> = calls.iter().map(|c| format!("id {}", c.id)).collect();
    let out_of_order = order.first() != calls.first().map(|c| &c.id);
    let (en, zh) = if out_of_order {
        ("out of order", "顺序颠倒了")
    } else {
        ("in order", "按原顺序")
    };
    tx(
        format!(
            "{} both in flight; replies came {}: {en}",
            sent.join(" and "),
            ids.join(", then ")
        ),
        format!(
            "{} 同时在途；应答的先后是 {}：{zh}",
            sent.join(" 和 "),
            ids.join("，然后 ")
        ),
    )
}

/// A call whose first reply was lost, and its retry.
pub fn lost(p: &LostReply) -> Text {
    let t = rpc::TIMEOUT.as_millis();
    let (id, m) = (p.add.id, &p.add.method);
    let n = p.add.retries();
    let took = ms(p.add.elapsed);
    let (how_en, how_zh) = if p.ledger.from_table(id) > 0 {
        ("answered from the table", "由表里的记录回答")
    } else {
        ("answered", "得到应答")
    };
    match p.add.reply {
        Some(_) => tx(
            format!("id {id} {m}: no reply in {t} ms; sent again ({n}×, same id), {how_en} {took} ms after the first try"),
            format!("id {id} {m}：{t} 毫秒内没有应答；用同一个编号重发（{n} 次），在第一次发出后 {took} 毫秒{how_zh}"),
        ),
        None => tx(
            format!("id {id} {m}: no reply in {t} ms, nor to {n} retries"),
            format!("id {id} {m}：{t} 毫秒内没有应答，重发 {n} 次也没有"),
        ),
    }
}

/// The server with a table, connected to.
pub fn table_server(port: u16, client: u16) -> Text {
    tx(
        format!("A second server, port {port}, stores each reply under its request id; connected from :{client}"),
        format!("第二个服务器（{port} 端口）把每个应答按请求编号存起来；客户端从 :{client} 连上"),
    )
}

/// A server's log of one call.
pub fn server_log(log: &[LogOut]) -> Text {
    let (mut en, mut zh) = (Vec::new(), Vec::new());
    for l in log {
        let (e, z) = match (l.applied, l.from_table) {
            (true, _) => ("applied", "执行"),
            (false, true) => ("answered from the table", "由表中记录回答"),
            (false, false) => ("not applied", "未执行"),
        };
        let (e2, z2) = if l.reply_dropped {
            (", reply not sent", "，不发应答")
        } else {
            (", replied", "，已应答")
        };
        en.push(format!("id {} {e}{e2}", l.id));
        zh.push(format!("id {} {z}{z2}", l.id));
    }
    tx(en.join(" · "), zh.join(" · "))
}

/// The balance after the retry.
pub fn balance(id: u32, reported: Option<i64>, balance: i64, applied: usize, table: bool) -> Text {
    let r = reported.map_or_else(|| "—".to_string(), |b| b.to_string());
    let amount = rpc::AMOUNT;
    if applied == 1 {
        tx(
            format!(
                "get_balance id {id} → {r}; the server's own balance {balance}: applied once{}",
                if table { "" } else { " (a safe retry)" }
            ),
            format!(
                "get_balance id {id} → {r}；服务器自己记录的余额 {balance}：只执行了一次{}",
                if table {
                    ""
                } else {
                    "（重试是安全的）"
                }
            ),
        )
    } else {
        tx(
            format!("get_balance id {id} → {r}; the server's own balance {balance}: add {amount} applied {applied}×"),
            format!("get_balance id {id} → {r}；服务器自己记录的余额 {balance}：加 {amount} 执行了 {applied} 次"),
        )
    }
}

/// The gRPC connection and the client's preface.
pub fn h2_connect(client: u16, server: u16, preface: bool) -> Text {
    let a = rpc::HOST;
    if preface {
        tx(
            format!(
                "{a}:{client} connected to :{server}; its first bytes: the 24-byte HTTP/2 preface"
            ),
            format!("{a}:{client} 连上 :{server}；最先发出的是 24 字节的 HTTP/2 开场白"),
        )
    } else {
        tx(
            format!("{a}:{client} connected to :{server}; no HTTP/2 preface seen"),
            format!("{a}:{client} 连上 :{server}；没有看到 HTTP/2 开场白"),
        )
    }
}

/// The SETTINGS exchange.
pub fn h2_settings(acks: usize) -> Text {
    tx(
        format!("SETTINGS both ways, {acks} acknowledged (SETTINGS with ACK)"),
        format!("双方互发 SETTINGS，{acks} 个得到确认（带 ACK 的 SETTINGS）"),
    )
}

/// Items joined with ` · ` (or a dash for none).
pub fn list(v: &[String]) -> Text {
    if v.is_empty() {
        tx("(none)", "（无）")
    } else {
        Text::from(v.join(" · "))
    }
}

/// The gRPC call's title.
pub fn grpc_request(stream: u32, path: &str) -> Text {
    tx(
        format!("The call on stream {stream}: HEADERS with :path {path}, then DATA"),
        format!("流 {stream} 上的调用：HEADERS 带 :path {path}，然后是 DATA"),
    )
}

/// Headers as `name: value · …`.
pub fn header_list(h: &[Header]) -> Text {
    let v: Vec<String> = h
        .iter()
        .map(|h| format!("{} {}", h.name, h.value))
        .collect();
    list(&v)
}

/// A gRPC message: its prefix and its fields.
pub fn grpc_message(m: Option<&GrpcMessageOut>) -> Text {
    match m {
        Some(m) => {
            let f = m.fields.join(", ");
            let (l, c) = (m.length, m.compressed);
            tx(
                format!("prefix: compressed {c}, length {l} · protobuf: {f}"),
                format!("前缀：压缩标志 {c}，长度 {l} · protobuf：{f}"),
            )
        }
        None => tx("(no gRPC message)", "（没有 gRPC 消息）"),
    }
}

/// The gRPC reply's title.
pub fn grpc_reply(
    stream: u32,
    headers: &[Header],
    balance: Option<i64>,
    status: Option<i32>,
) -> Text {
    let st = headers
        .iter()
        .find(|h| h.name == ":status")
        .map_or("—", |h| h.value.as_str());
    let b = balance.map_or_else(|| "—".to_string(), |b| b.to_string());
    let g = status.map_or_else(|| "—".to_string(), |s| s.to_string());
    tx(
        format!("The reply on stream {stream}: :status {st}, DATA balance = {b}, trailers grpc-status {g}"),
        format!("流 {stream} 上的应答：:status {st}，DATA 里 balance = {b}，尾部 grpc-status {g}"),
    )
}

/// The ladder's label of one netlab RPC frame.
pub fn rpc_label(m: &Message, again: bool) -> Text {
    let id = m.id;
    match m.kind {
        Kind::Request if again => tx(
            format!("call id={id} {} (retry)", m.method),
            format!("调用 id={id} {}（重发）", m.method),
        ),
        Kind::Request => tx(
            format!("call id={id} {}", m.method),
            format!("调用 id={id} {}", m.method),
        ),
        Kind::Reply => {
            let body = String::from_utf8_lossy(&m.body);
            tx(
                format!("reply id={id} {body}"),
                format!("应答 id={id} {body}"),
            )
        }
        Kind::Error => tx(format!("error id={id}"), format!("错误 id={id}")),
        Kind::Unknown(k) => tx(format!("kind {k} id={id}"), format!("类型 {k} id={id}")),
    }
}

/// The ladder's label of one HTTP/2 frame, short: a segment may carry three.
pub fn h2_label(i: &Item) -> Text {
    if i.preface {
        return tx("preface", "开场白");
    }
    let end = i.flags & http2::flag::END_STREAM != 0;
    let s = match i.kind {
        http2::kind::HEADERS => {
            if let Some(p) = i.header(":path") {
                format!(
                    "HEADERS s{} {}",
                    i.stream,
                    p.rsplit('/').next().unwrap_or(p)
                )
            } else if let Some(g) = i.header("grpc-status") {
                format!("grpc-status {g}")
            } else if let Some(st) = i.header(":status") {
                format!("HEADERS {st}")
            } else {
                format!("HEADERS s{}", i.stream)
            }
        }
        http2::kind::DATA => match i.grpc.first() {
            Some(m) => format!("DATA {} B", m.message.len()),
            None if end => "DATA END_STREAM".into(),
            None => "DATA".into(),
        },
        _ => i.label(),
    };
    Text::from(s)
}

/// The run's headline.
pub fn summary(netlab_calls: usize, outcomes: &[(usize, i64)]) -> Text {
    let times = |n: usize| match n {
        1 => ("once".to_string(), "1 次".to_string()),
        2 => ("twice".to_string(), "2 次".to_string()),
        n => (format!("{n} times"), format!("{n} 次")),
    };
    let (p, d) = (
        outcomes.first().copied().unwrap_or_default(),
        outcomes.get(1).copied().unwrap_or_default(),
    );
    let (pe, pz) = times(p.0);
    let (de, dz) = times(d.0);
    tx(
        format!(
            "{netlab_calls} netlab RPC calls and 1 gRPC call; the retried add ran {pe} without a table (balance {}), {de} with one ({})",
            p.1, d.1
        ),
        format!(
            "{netlab_calls} 次 netlab RPC 调用和 1 次 gRPC 调用；重发的加款在没有表时执行了 {pz}（余额 {}），有表时 {dz}（余额 {}）",
            p.1, d.1
        ),
    )
}
