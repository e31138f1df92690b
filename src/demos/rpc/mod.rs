//! `netlab rpc`: what RPC is, on the wire (Q36).
//!
//! A client and three servers on the loopback of a network namespace of
//! netlab's own (so the capture holds only these connections, and no root
//! is needed: a user namespace makes it):
//!
//! 1. netlab's own RPC over one TCP connection: a call is a frame (length,
//!    request id, method, JSON arguments); two calls in flight, answered out
//!    of order and matched by id; a reply lost on purpose (the server
//!    applies the call and skips that one reply), a timeout and a retry with
//!    the same id; `add_to_balance` applied twice by a server that forgets
//!    answered ids, once by one that keeps a table of them, both measured
//!    from the servers' own state;
//! 2. the same call as gRPC (tonic over hyper's HTTP/2, cleartext): the
//!    preface and SETTINGS, HEADERS with `:path` = the method, DATA with
//!    gRPC's 5-byte prefix and the protobuf message, trailers with
//!    `grpc-status`, all dissected from the captured bytes.
//!
//! The calls themselves are in src/rpc; this file tells them.

use std::time::SystemTime;

use crate::cli::RpcArgs;
use crate::error::{exit, Result};
use crate::lab::netns::Netns;
use crate::narrate::{tx, Narrator, Packet, Step, Summary, Text};
use crate::rpc::seen::{self, Seen};
use crate::rpc::{self, Call, LostReply};
use crate::wire::http2::{self, Item};
use crate::wire::rpc::Kind;

mod say;

const QS: &[&str] = &["Q36"];

/// Participant ids: the client and whichever server it talks to.
const CLIENT: &str = "client";
const SERVER: &str = "server";

/// The first step: where it runs.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Setup {
    /// Built without root, in a user namespace.
    rootless: bool,
    /// The address every server listens on (loopback of the namespace).
    address: String,
    /// netlab's RPC server that keeps no record of answered calls.
    plain_port: u16,
    /// netlab's RPC server with a table of answered request ids.
    dedup_port: u16,
    /// The gRPC server.
    grpc_port: u16,
}

/// A step that opens a connection.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Connected {
    /// The client's port.
    client_port: u16,
    /// The server's port.
    server_port: u16,
}

/// One call as the client made it: netlab's own RPC or gRPC.
#[derive(Clone, serde::Serialize, schemars::JsonSchema)]
struct CallOut {
    /// The method (`/package.Service/Method` for gRPC).
    method: String,
    /// Request id (for gRPC, the HTTP/2 stream id from the capture).
    id: u32,
    /// A reply came (gRPC: with status 0, OK).
    ok: bool,
    /// From the first attempt to the reply, milliseconds.
    ms: f64,
    /// Attempts after the first, with the same id.
    retries: usize,
    /// `netlab` (netlab's own frames over TCP) or `grpc` (HTTP/2).
    protocol: &'static str,
    /// The arguments, as sent (JSON text; protobuf fields for gRPC).
    args: String,
    /// The result, as received.
    result: String,
}

/// The first data segment: the calls written together, one frame each.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct FirstFrames {
    /// Each frame in the segment, in order (from the captured bytes).
    frames: Vec<FrameOut>,
    /// The segment's TCP payload, bytes.
    segment_payload: usize,
}

/// One netlab RPC frame as captured.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct FrameOut {
    /// Request id.
    id: u32,
    /// Method.
    method: String,
    /// Bytes of the frame, length prefix included.
    bytes: usize,
}

/// Two calls in flight on one connection.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct InFlight {
    /// Request ids in the order the client sent them.
    sent_order: Vec<u32>,
    /// Request ids in the order the replies arrived.
    reply_order: Vec<u32>,
    /// The two calls.
    calls: Vec<CallOut>,
}

/// A call whose first reply never came.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Lost {
    /// The server keeps a table of answered request ids.
    server_table: bool,
    /// The call.
    call: CallOut,
    /// How long the client waited before each retry, milliseconds.
    timeout_ms: u64,
    /// Frames with this request id the client sent, from the capture.
    requests_captured: usize,
    /// Replies with this request id the server sent, from the capture.
    replies_captured: usize,
    /// What the server did each time, from its own log.
    server_log: Vec<LogOut>,
}

/// One entry of a server's log.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct LogOut {
    /// Request id.
    id: u32,
    /// The call changed the balance.
    applied: bool,
    /// The reply came from the table of answered ids.
    from_table: bool,
    /// No reply was sent (netlab's fault injection, first attempt only).
    reply_dropped: bool,
}

/// The balance read after a lost reply and its retry.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Balance {
    /// The server keeps a table of answered request ids.
    server_table: bool,
    /// What one `add_to_balance` should have left.
    expected: i64,
    /// The balance in the server's own state.
    balance: i64,
    /// What `get_balance` answered.
    reported: Option<i64>,
    /// Times the server applied the retried call.
    applied: usize,
    /// Times it answered that call from its table instead.
    from_table: usize,
    /// The `get_balance` call.
    call: CallOut,
}

/// gRPC: the connection's first frames.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct H2Setup {
    /// The client sent the 24-byte preface.
    preface: bool,
    /// The client's SETTINGS (`NAME = value`).
    client_settings: Vec<String>,
    /// The server's SETTINGS.
    server_settings: Vec<String>,
    /// SETTINGS frames with ACK set, both ways.
    settings_acks: usize,
}

/// A header as HPACK decoded it.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Header {
    /// Name (`:path`, `content-type`, `grpc-status`).
    name: String,
    /// Value.
    value: String,
}

/// A gRPC message in a DATA frame.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct GrpcMessageOut {
    /// The stream it was on.
    stream: u32,
    /// The compressed flag (0: not compressed).
    compressed: u8,
    /// The protobuf message's length (gRPC's 4-byte length field).
    length: usize,
    /// Its fields (`number (name) = value`).
    fields: Vec<String>,
}

/// gRPC: the call (client to server).
#[derive(serde::Serialize, schemars::JsonSchema)]
struct GrpcRequest {
    /// HTTP/2 stream id of the call.
    stream: u32,
    /// The request's headers, decoded from HPACK.
    headers: Vec<Header>,
    /// The message in DATA.
    message: Option<GrpcMessageOut>,
}

/// gRPC: the reply and the connection's end.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct GrpcResponse {
    /// HTTP/2 stream id.
    stream: u32,
    /// The response headers.
    headers: Vec<Header>,
    /// The message in DATA.
    message: Option<GrpcMessageOut>,
    /// The trailers (the last HEADERS, END_STREAM).
    trailers: Vec<Header>,
    /// `grpc-status` from the captured trailers (0: OK).
    grpc_status: Option<i32>,
    /// GOAWAY frames seen.
    goaway: usize,
}

/// Where the calls ran.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Transport {
    /// The link: the loopback of a network namespace of netlab's own.
    link: &'static str,
    /// The servers' address.
    address: String,
    /// netlab's RPC: its frames over TCP, the port without a table.
    netlab_port: u16,
    /// netlab's RPC, the port with a table of answered ids.
    netlab_dedup_port: u16,
    /// gRPC: HTTP/2 in cleartext (`h2c`) over TCP, this port.
    grpc_port: u16,
    /// `h2c`: HTTP/2 without TLS.
    grpc: &'static str,
}

/// A lost reply's outcome, per server.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct RetryOutcome {
    /// The server keeps a table of answered request ids.
    server_table: bool,
    /// Times the retried `add_to_balance` was applied.
    applied: usize,
    /// The balance after it (expected: one `amount`).
    balance: i64,
}

/// The summary.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct RpcSummary {
    /// Every call, in the order made.
    calls: Vec<CallOut>,
    /// Where they ran.
    transport: Transport,
    /// The retried `add_to_balance` against each server.
    retried: Vec<RetryOutcome>,
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

fn call_out(c: &Call) -> CallOut {
    CallOut {
        method: c.method.clone(),
        id: c.id,
        ok: c.reply.is_some(),
        ms: ms(c.elapsed),
        retries: c.retries(),
        protocol: "netlab",
        args: c.args.to_string(),
        result: c.reply.as_ref().map(|v| v.to_string()).unwrap_or_default(),
    }
}

/// A segment's label for the ladder, from what it carried.
fn label(s: &Seen, retried: &mut std::collections::HashSet<(u16, u32)>) -> Text {
    if !s.rpc.is_empty() {
        let parts: Vec<Text> = s
            .rpc
            .iter()
            .map(|m| {
                let again = m.kind == Kind::Request && !retried.insert((s.server_port, m.id));
                say::rpc_label(m, again)
            })
            .collect();
        return join(&parts, " + ");
    }
    if !s.h2.is_empty() {
        let parts: Vec<Text> = s.h2.iter().map(say::h2_label).collect();
        return join(&parts, ", ");
    }
    let d = crate::wire::frame::ethernet_frame(&s.frame.bytes);
    d.map(|d| crate::wire::frame::label(&d))
        .unwrap_or_else(|_| Text::from("?"))
}

fn join(parts: &[Text], sep: &str) -> Text {
    tx(
        parts
            .iter()
            .map(|t| t.en.clone())
            .collect::<Vec<_>>()
            .join(sep),
        parts
            .iter()
            .map(|t| t.zh.clone())
            .collect::<Vec<_>>()
            .join(sep),
    )
}

/// Segments as packet records between `client` and `server`, with the
/// application's fields added to each frame's own.
fn packets(part: &[Seen], retried: &mut std::collections::HashSet<(u16, u32)>) -> Vec<Packet> {
    part.iter()
        .map(|s| {
            let mut p = s.frame.record(false);
            if !s.fields.is_empty() {
                // The application's fields explain the payload byte by byte.
                p.fields.retain(|f| f.name != "tcp.payload");
                p.fields.extend(s.fields.iter().cloned());
            }
            let (from, to) = if s.from_client {
                (CLIENT, SERVER)
            } else {
                (SERVER, CLIENT)
            };
            p.between(from, to, label(s, retried))
        })
        .collect()
}

/// The segments seen from `from` up to (not including) `to`.
fn between(all: &[Seen], from: Option<SystemTime>, to: Option<SystemTime>) -> Vec<Seen> {
    all.iter()
        .filter(|s| from.is_none_or(|f| s.frame.at >= f) && to.is_none_or(|t| s.frame.at < t))
        .cloned()
        .collect()
}

fn log_out(l: &rpc::Ledger, id: u32) -> Vec<LogOut> {
    l.handled
        .iter()
        .filter(|h| h.id == id)
        .map(|h| LogOut {
            id: h.id,
            applied: h.applied,
            from_table: h.from_table,
            reply_dropped: h.reply_dropped,
        })
        .collect()
}

/// Frames with request id `id` in `part` sent by the client (requests) and by the server (replies).
fn count_id(part: &[Seen], id: u32) -> (usize, usize) {
    let mut req = 0;
    let mut rep = 0;
    for s in part {
        for m in s.rpc.iter().filter(|m| m.id == id) {
            if m.kind == Kind::Request {
                req += 1;
            } else {
                rep += 1;
            }
        }
    }
    (req, rep)
}

/// Run the demo.
pub fn run(_args: &RpcArgs, n: &mut Narrator) -> Result<i32> {
    let ns = Netns::anonymous("rpc")?;
    n.pcap_note(format!(
        "rpc: the loopback of netlab's own network namespace: netlab's RPC frames on TCP ports {} and {}, gRPC (HTTP/2 in cleartext) on port {g}; to decode it: tshark -d tcp.port=={g},http2",
        rpc::PLAIN_PORT,
        rpc::DEDUP_PORT,
        g = rpc::GRPC_PORT
    ));

    n.step(
        Step::new(
            crate::lab::userns::titled(tx(
                "RPC on the loopback of a namespace of netlab's own",
                "在 netlab 自己的网络命名空间里，经回环接口做 RPC",
            )),
            tx(
                "Client and servers are programs on 127.0.0.1 in a network namespace of netlab's own: RPC lives in the TCP stream, whatever the link, and the capture holds only these connections.",
                "客户端和服务器都是 netlab 自己的网络命名空间里 127.0.0.1 上的程序：RPC 在 TCP 字节流里，与链路无关；抓到的也只有这几条连接。",
            ),
            QS,
        )
        .fact(tx("servers", "服务器"), say::servers())
        .who(CLIENT, tx("client", "客户端"))
        .who(SERVER, tx("server", "服务器"))
        .with(&Setup {
            rootless: crate::lab::userns::rootless(),
            address: rpc::HOST.to_string(),
            plain_port: rpc::PLAIN_PORT,
            dedup_port: rpc::DEDUP_PORT,
            grpc_port: rpc::GRPC_PORT,
        }),
    )?;

    // The namespace is held to the end of the run, as the lab demos hold
    // theirs; it vanishes with the process whatever ends it.
    let r = rpc::run(&ns)?;
    let all = seen::read(&r.frames);
    let c = |i: usize| r.cuts.get(i).copied();
    let mut retried = std::collections::HashSet::new();

    // 1. netlab's own RPC.
    let section = tx(
        "1 · netlab's own RPC: framed calls on one TCP connection",
        "1 · netlab 自己的 RPC：一条 TCP 连接上的定界调用",
    );
    // The connection and the calls' segment, with its byte view; the
    // replies in the next step.
    let part = between(&all, None, c(1));
    let first = part
        .iter()
        .position(|s| s.rpc.iter().any(|m| m.kind == Kind::Request))
        .map_or(0, |i| i + 1);
    let (one, rest) = part.split_at(first);
    let carried = one.last().filter(|s| !s.rpc.is_empty());
    let frames: Vec<FrameOut> = carried
        .map(|s| {
            s.rpc
                .iter()
                .map(|m| FrameOut {
                    id: m.id,
                    method: m.method.clone(),
                    bytes: m.to_wire().len(),
                })
                .collect()
        })
        .unwrap_or_default();
    let calls: Vec<(u32, String)> = frames.iter().map(|f| (f.id, f.method.clone())).collect();
    let mut shown = packets(one, &mut retried);
    if let Some(p) = shown.last_mut() {
        p.show_bytes = true;
        p.quiet = false;
        p.hide = vec!["eth.".into(), "ip.".into(), "tcp.".into()];
    }
    n.step(
        Step::new(
            say::first_segment(r.client_port, rpc::PLAIN_PORT, &calls),
            tx(
                "What RPC adds over a socket: message boundaries in the stream (a length prefix, as in sticky-packet), and for each call a request id, a method and its arguments. The reply carries the same id and no method. One connection, kept open, carries every call.",
                "RPC 在套接字之上加了什么：字节流里的消息边界（长度前缀，同 sticky-packet），以及每个调用的请求编号、方法名和参数。应答带回同一个编号，不带方法名。所有调用都走这一条一直开着的连接。",
            ),
            QS,
        )
        .section(section.clone())
        .with(&Connected {
            client_port: r.client_port,
            server_port: rpc::PLAIN_PORT,
        })
        .with(&FirstFrames {
            frames,
            segment_payload: carried.map_or(0, |s| s.payload),
        })
        .with_packets(shown),
    )?;

    let sent_order: Vec<u32> = r.in_flight.iter().map(|k| k.id).collect();
    let mut step = Step::new(
        say::in_flight(&r.in_flight, &r.reply_order),
        tx(
            "The server runs each call as it arrives and replies when done, so the quick call overtook the slow one. The client matches each reply to its call by id; without ids, replies must come back in order, and one slow call holds up the rest.",
            "服务器收到调用就执行，做完就回复，所以快的调用超过了慢的。客户端按编号把每个应答对上它的调用；没有编号，应答只能按顺序返回，一个慢调用会堵住后面所有的调用。",
        ),
        QS,
    )
    .section(section.clone());
    for k in &r.in_flight {
        step = step.fact(say::id(k.id), say::call_line(k));
    }
    n.step(
        step.with(&InFlight {
            sent_order,
            reply_order: r.reply_order.clone(),
            calls: r.in_flight.iter().map(call_out).collect(),
        })
        .with_packets(packets(rest, &mut retried)),
    )?;

    lost_reply(
        n,
        &r.plain,
        &all,
        (c(1), c(2), c(3)),
        &section,
        &mut retried,
    )?;

    // The same against the server with a table: first its connection.
    let part = between(&all, c(3), c(4));
    n.step(
        Step::new(
            say::table_server(rpc::DEDUP_PORT, r.dedup.client_port),
            tx(
                "Asked again for an id it has answered, it sends the stored reply and does not run the call. (Real systems keep such a table per client, for a while; HTTP APIs call the id an idempotency key.)",
                "同一个编号再来时，它发回存着的应答，不再执行调用。（实际系统按客户端分别保存这张表，并且只保存一段时间；HTTP API 把这个编号叫作幂等键。）",
            ),
            QS,
        )
        .section(section.clone())
        .with(&Connected {
            client_port: r.dedup.client_port,
            server_port: rpc::DEDUP_PORT,
        })
        .with_packets(packets(&part, &mut retried)),
    )?;
    lost_reply(
        n,
        &r.dedup,
        &all,
        (c(4), c(5), c(6)),
        &section,
        &mut retried,
    )?;

    // 2. gRPC.
    let grpc = grpc_steps(n, &r, &all, (c(6), c(7)), &mut retried)?;

    // The summary.
    let mut calls: Vec<CallOut> = r.in_flight.iter().map(call_out).collect();
    for p in [&r.plain, &r.dedup] {
        calls.push(call_out(&p.add));
        calls.push(call_out(&p.get));
    }
    calls.push(grpc.clone());
    let retried_out: Vec<RetryOutcome> = [&r.plain, &r.dedup]
        .iter()
        .map(|p| RetryOutcome {
            server_table: p.dedup,
            applied: p.ledger.applied(p.add.id),
            balance: p.ledger.balance,
        })
        .collect();
    let ok = calls.iter().all(|k| k.ok);
    n.summary(
        Summary {
            title: say::summary(
                calls.iter().filter(|k| k.protocol == "netlab").count(),
                &retried_out
                    .iter()
                    .map(|o| (o.applied, o.balance))
                    .collect::<Vec<_>>(),
            ),
            lines: vec![tx(
                "RPC is a request with an id, a method and arguments, framed in a stream, and a reply matched to it by that id. A retry after a timeout is safe only for an idempotent call, or with a server that remembers the ids it has answered.",
                "RPC 就是在字节流里定界的请求（带编号、方法和参数），加上按编号对上的应答。超时后的重试，只有对幂等的调用、或者服务器记得回答过哪些编号时，才是安全的。",
            )],
            questions: crate::record::qs(QS),
            ok,
            ..Summary::default()
        }
        .with(&RpcSummary {
            calls,
            transport: Transport {
                link: "lo",
                address: rpc::HOST.to_string(),
                netlab_port: rpc::PLAIN_PORT,
                netlab_dedup_port: rpc::DEDUP_PORT,
                grpc_port: rpc::GRPC_PORT,
                grpc: "h2c",
            },
            retried: retried_out,
        }),
    )?;
    drop(ns);
    Ok(if ok { exit::OK } else { exit::NETWORK_NO })
}

type Cuts = (Option<SystemTime>, Option<SystemTime>, Option<SystemTime>);

/// The lost reply against one server, then the balance it left.
fn lost_reply(
    n: &mut Narrator,
    p: &LostReply,
    all: &[Seen],
    (start, mid, end): Cuts,
    section: &Text,
    retried: &mut std::collections::HashSet<(u16, u32)>,
) -> Result<()> {
    let part = between(all, start, mid);
    let (requests, replies) = count_id(&part, p.add.id);
    let log = log_out(&p.ledger, p.add.id);
    let (title, detail) = if p.dedup {
        (
            say::lost(p),
            tx(
                "The same lost reply as before; this time the server found the id in its table and did not run the call again.",
                "和前面一样丢了应答；这一次服务器在表里查到了这个编号，没有再执行调用。",
            ),
        )
    } else {
        (
            say::lost(p),
            tx(
                "The server's TCP acknowledged the request: the bytes arrived, but whether the call ran, silence cannot tell. It ran: the server applied it and skipped this one reply (netlab's fault injection, as a server crashing after the work would). The client times out and sends it again, same id.",
                "服务器的 TCP 确认了请求：字节到了，但调用有没有执行，沉默说明不了。它执行了：服务器加了余额，却跳过了这一次应答（netlab 注入的故障，就像服务器干完活就崩溃）。客户端等到超时，用同一个编号重发。",
            ),
        )
    };
    let step = Step::new(title, detail, QS)
        .section(section.clone())
        .fact(tx("server log", "服务器日志"), say::server_log(&log));
    n.step(
        step.with(&Lost {
            server_table: p.dedup,
            call: call_out(&p.add),
            timeout_ms: rpc::TIMEOUT.as_millis() as u64,
            requests_captured: requests,
            replies_captured: replies,
            server_log: log,
        })
        .with_packets(packets(&part, retried)),
    )?;

    let part = between(all, mid, end);
    let applied = p.ledger.applied(p.add.id);
    let reported = p.get.reply.as_ref().and_then(|v| v["balance"].as_i64());
    let (detail, concept) = if p.dedup {
        (
            tx(
                "The same call, the same lost reply, the same retry: a table of answered ids made the retry safe.",
                "同样的调用、同样丢失的应答、同样的重试：一张记录已答编号的表让重试变得安全。",
            ),
            "rpc-table",
        )
    } else {
        (
            tx(
                "add_to_balance is not idempotent: twice is not once, so a blind retry added the money twice. A retry is safe for an idempotent call (get_balance; setting the balance to 10) or with a server that remembers answered ids.",
                "add_to_balance 不是幂等的：执行两次不等于执行一次，所以盲目重试把钱加了两遍。对幂等的调用（get_balance；把余额设成 10），或者服务器记得回答过哪些编号时，重试才安全。",
            ),
            "rpc-idempotent",
        )
    };
    n.step(
        Step::new(
            say::balance(p.get.id, reported, p.ledger.balance, applied, p.dedup),
            detail,
            QS,
        )
        .concept(concept)
        .section(section.clone())
        .with(&Balance {
            server_table: p.dedup,
            expected: rpc::AMOUNT,
            balance: p.ledger.balance,
            reported,
            applied,
            from_table: p.ledger.from_table(p.add.id),
            call: call_out(&p.get),
        })
        .with_packets(packets(&part, retried)),
    )
}

fn headers(item: Option<&Item>) -> Vec<Header> {
    item.map(|i| {
        i.headers
            .iter()
            .map(|(n, v)| Header {
                name: n.clone(),
                value: v.clone(),
            })
            .collect()
    })
    .unwrap_or_default()
}

fn message_out(item: Option<&Item>) -> Option<GrpcMessageOut> {
    let i = item?;
    let m = i.grpc.first()?;
    let names = if i.stream % 2 == 1 && m.fields.iter().any(|(n, _)| *n == 2) {
        rpc::grpc::request_names()
    } else {
        rpc::grpc::reply_names()
    };
    Some(GrpcMessageOut {
        stream: i.stream,
        compressed: m.compressed,
        length: m.message.len(),
        fields: m
            .fields
            .iter()
            .map(|(k, v)| {
                let name = names
                    .iter()
                    .find(|(n, _)| n == k)
                    .map_or(String::new(), |(_, s)| format!(" ({s})"));
                format!("{k}{name} = {v}")
            })
            .collect(),
    })
}

/// The gRPC part: connection and SETTINGS, the call, the reply. Returns the
/// call for the summary.
fn grpc_steps(
    n: &mut Narrator,
    r: &rpc::Run,
    all: &[Seen],
    (start, end): (Option<SystemTime>, Option<SystemTime>),
    retried: &mut std::collections::HashSet<(u16, u32)>,
) -> Result<CallOut> {
    let section = tx(
        "2 · The same call as gRPC: HTTP/2 in cleartext (h2c)",
        "2 · 同一个调用换成 gRPC：明文 HTTP/2（h2c）",
    );
    let mut part = between(all, start, None);
    if end.is_some() {
        // Anything after the last cut still belongs to the gRPC connection.
        part.retain(|s| s.server_port == rpc::GRPC_PORT);
    }
    let items = |from_client: bool| -> Vec<&Item> {
        part.iter()
            .filter(|s| s.from_client == from_client)
            .flat_map(|s| s.h2.iter())
            .collect()
    };
    let is_request = |s: &Seen| {
        s.from_client
            && s.h2
                .iter()
                .any(|i| i.kind == http2::kind::HEADERS && i.header(":path").is_some())
    };
    let is_reply = |s: &Seen| !s.from_client && s.h2.iter().any(|i| i.kind == http2::kind::HEADERS);
    let is_settings = |s: &Seen| s.h2.iter().any(|i| i.kind == http2::kind::SETTINGS);
    let a = part.iter().position(is_request).unwrap_or(part.len());
    let s0 = part.iter().position(is_settings).unwrap_or(a).min(a);
    let b = part.iter().position(is_reply).unwrap_or(part.len()).max(a);
    let client = items(true);
    let server = items(false);
    let settings = |v: &[&Item]| -> Vec<String> {
        v.iter()
            .filter(|i| i.kind == http2::kind::SETTINGS && i.flags & http2::flag::ACK == 0)
            .flat_map(|i| i.settings.iter())
            .map(|(id, v)| format!("{} = {v}", http2::setting_name(*id)))
            .collect()
    };
    let acks = client
        .iter()
        .chain(server.iter())
        .filter(|i| i.kind == http2::kind::SETTINGS && i.flags & http2::flag::ACK != 0)
        .count();
    let setup = H2Setup {
        preface: client.iter().any(|i| i.preface),
        client_settings: settings(&client),
        server_settings: settings(&server),
        settings_acks: acks,
    };
    n.step(
        Step::new(
            say::h2_connect(r.grpc.client_port, rpc::GRPC_PORT, setup.preface),
            tx(
                "gRPC runs on HTTP/2 (tonic over hyper here), in cleartext so the capture can be read; in production it is usually inside TLS. The preface says HTTP/2 from the first byte: no TLS to negotiate it, no HTTP/1.1 Upgrade.",
                "gRPC 跑在 HTTP/2 上（这里是 tonic 加 hyper），不加密，抓包才看得懂；生产环境里通常套在 TLS 里。开场白从第一个字节起就表明是 HTTP/2：不用 TLS 协商，也不用 HTTP/1.1 的 Upgrade。",
            ),
            QS,
        )
        .section(section.clone())
        .with_packets(packets(&part[..s0], retried)),
    )?;
    n.step(
        Step::new(
            say::h2_settings(acks),
            tx(
                "Before any call, each side states its limits (streams at once, flow-control window, frame and header sizes) and acknowledges the other's.",
                "在任何调用之前，双方先声明各自的限制（同时打开的流数、流量控制窗口、帧和头部的大小），并确认对方的设置。",
            ),
            QS,
        )
        .section(section.clone())
        .fact(tx("client", "客户端"), say::list(&setup.client_settings))
        .fact(tx("server", "服务器"), say::list(&setup.server_settings))
        .with(&setup)
        .with_packets(packets(&part[s0..a], retried)),
    )?;

    let req_headers = client
        .iter()
        .find(|i| i.kind == http2::kind::HEADERS)
        .copied();
    let req_data = client
        .iter()
        .find(|i| i.kind == http2::kind::DATA && !i.grpc.is_empty())
        .copied();
    let stream = req_headers.map_or(0, |i| i.stream);
    let request = GrpcRequest {
        stream,
        headers: headers(req_headers),
        message: message_out(req_data),
    };
    let path = req_headers
        .and_then(|i| i.header(":path"))
        .unwrap_or_default()
        .to_string();
    n.step(
        Step::new(
            say::grpc_request(stream, &path),
            tx(
                "The method is the path, /package.Service/Method; grpc-timeout carries part 1's timeout to the server as a deadline. The arguments: one protobuf message behind gRPC's own 5-byte prefix (compressed flag, length), framing again inside HTTP/2's frames.",
                "方法就是路径：/包名.服务/方法；grpc-timeout 把第 1 部分的超时作为截止时间告诉服务器。参数是一条 protobuf 消息，前面是 gRPC 自己的 5 字节前缀（压缩标志、长度）：在 HTTP/2 的帧里又定界了一次。",
            ),
            QS,
        )
        .section(section.clone())
        .fact(
            Text::from(format!("HEADERS s{stream}")),
            say::header_list(&request.headers),
        )
        .fact(
            Text::from(format!("DATA s{stream}")),
            say::grpc_message(request.message.as_ref()),
        )
        .with(&request)
        .with_packets(packets(&part[a..b], retried)),
    )?;

    let heads: Vec<&Item> = server
        .iter()
        .filter(|i| i.kind == http2::kind::HEADERS && i.stream == stream)
        .copied()
        .collect();
    let trailers = heads.iter().skip(1).last().copied();
    let reply_data = server
        .iter()
        .find(|i| i.kind == http2::kind::DATA && !i.grpc.is_empty())
        .copied();
    let grpc_status = trailers
        .and_then(|t| t.header("grpc-status"))
        .and_then(|s| s.parse().ok());
    let response = GrpcResponse {
        stream,
        headers: headers(heads.first().copied()),
        message: message_out(reply_data),
        trailers: headers(trailers),
        grpc_status,
        goaway: client
            .iter()
            .chain(server.iter())
            .filter(|i| i.kind == http2::kind::GOAWAY)
            .count(),
    };
    n.step(
        Step::new(
            say::grpc_reply(stream, &response.headers, r.grpc.balance, grpc_status),
            tx(
                "The outcome comes in trailers, after the body (a call can fail midway; :status 200 only says HTTP worked). The request id is the stream id: each call has its own stream, so calls share one connection and finish in any order, as part 1's ids allowed.",
                "调用的结果放在消息体之后的尾部（trailers）里（调用可能中途失败；:status 200 只说明 HTTP 这一层没问题）。请求编号就是流编号：每个调用一个流，于是调用共用一条连接、以任意顺序完成，正如第 1 部分的编号所做到的。",
            ),
            QS,
        )
        .section(section)
        .fact(
            Text::from(format!("DATA s{stream}")),
            say::grpc_message(response.message.as_ref()),
        )
        .fact(
            tx("trailers", "尾部"),
            say::header_list(&response.trailers),
        )
        .with(&response)
        .with_packets(packets(&part[b..], retried)),
    )?;
    Ok(CallOut {
        method: path,
        id: stream,
        ok: r.grpc.status == 0 && grpc_status == Some(0),
        ms: ms(r.grpc.elapsed),
        retries: 0,
        protocol: "grpc",
        args: request
            .message
            .as_ref()
            .map(|m| m.fields.join(", "))
            .unwrap_or_default(),
        result: response
            .message
            .as_ref()
            .map(|m| m.fields.join(", "))
            .unwrap_or_default(),
    })
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "rpc",
        "RPC on the wire: framed calls matched by id, out of order, a lost reply retried, then gRPC over HTTP/2.",
    )
    .step::<Setup>("the first step: where it runs")
    .step::<Connected>("1 · a connection to an RPC server (the first one's step carries `FirstFrames` too)")
    .step::<FirstFrames>("1 · the first calls, written together: their segment's byte view")
    .step::<InFlight>("1 · two calls in flight, answered out of order")
    .step::<Lost>("1 · a lost reply, the timeout and the retry (against each server)")
    .step::<Balance>("1 · the balance after the retry (against each server)")
    .step::<H2Setup>("2 · gRPC: SETTINGS both ways (the step before it, the connection and the preface, has no data)")
    .step::<GrpcRequest>("2 · gRPC: the call (HEADERS and DATA)")
    .step::<GrpcResponse>("2 · gRPC: the reply, the trailers, the connection's end")
    .summary::<RpcSummary>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::rpc::Message;

    #[test]
    fn milliseconds_keep_two_decimals() {
        assert_eq!(ms(std::time::Duration::from_micros(100_456)), 100.46);
        assert_eq!(ms(std::time::Duration::ZERO), 0.0);
    }

    #[test]
    fn a_reply_is_labelled_with_its_id_and_a_repeat_as_a_retry() {
        let m = Message {
            id: 3,
            kind: Kind::Request,
            method: "add_to_balance".into(),
            body: b"{}".to_vec(),
        };
        assert_eq!(say::rpc_label(&m, false).en, "call id=3 add_to_balance");
        assert_eq!(
            say::rpc_label(&m, true).en,
            "call id=3 add_to_balance (retry)"
        );
    }
}
