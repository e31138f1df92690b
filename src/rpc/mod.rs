//! The engine behind `netlab rpc`: remote procedure calls over real sockets,
//! on the loopback of a network namespace of netlab's own, captured.
//!
//! Part 1 is netlab's own RPC: each call is one frame (a 4-byte length
//! prefix by tokio-util's `LengthDelimitedCodec`, then the request id, the
//! method and JSON arguments: [`crate::wire::rpc`]) on one TCP connection.
//! Two calls go out together before either is answered, and the server
//! answers the slow one second. A call to `add_to_balance` loses its reply: the
//! server applies it and then, by netlab's fault injection, sends nothing
//! for that first attempt (what a server that crashes after the work, or a
//! connection cut before the reply, leaves a client with). The client times
//! out and sends the same frame again, same id. A server that keeps no
//! record of answered ids applies it twice; one with a table of them
//! answers the retry from the table. Both balances are read from the
//! servers' own state.
//!
//! Part 2 is one real gRPC call ([`grpc`]): tonic's client and server over
//! hyper's HTTP/2 in cleartext (h2c), so the capture can be read.
//!
//! Returns typed results and every frame the namespace's loopback carried;
//! it never narrates (the story is in demos/rpc).

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

use crate::error::{Error, Result};
use crate::lab::capture::{Capture, Frame};
use crate::lab::netns::Netns;
use crate::wire::rpc::{Kind, Message};

pub mod grpc;
pub mod seen;

/// The server's address: loopback, inside the namespace.
pub const HOST: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// netlab's RPC server that keeps no record of answered calls (a port no
/// Wireshark dissector claims).
pub const PLAIN_PORT: u16 = 7070;
/// netlab's RPC server with a table of answered request ids.
pub const DEDUP_PORT: u16 = 7071;
/// The gRPC server (50051: the port gRPC's own examples use).
pub const GRPC_PORT: u16 = 50051;
/// How long `slow_square` works before it answers.
pub const SLOW: Duration = Duration::from_millis(100);
/// How long the client waits for a reply before it sends the call again.
pub const TIMEOUT: Duration = Duration::from_millis(200);
/// How much `add_to_balance` adds, every time.
pub const AMOUNT: i64 = 10;
/// The account the calls use.
pub const ACCOUNT: &str = "alice";
/// A pause after each part, longer than Linux's delayed ACK (40 ms), so
/// that a part's last ACK is captured before the next part starts.
const SETTLE: Duration = Duration::from_millis(60);
/// The longest any exchange may take, so a broken run cannot hang.
const LIMIT: Duration = Duration::from_secs(10);

/// One call as the client saw it.
#[derive(Clone, Debug)]
pub struct Call {
    /// The method.
    pub method: String,
    /// Its request id (gRPC: the HTTP/2 stream id, filled in from the capture).
    pub id: u32,
    /// The arguments, as sent.
    pub args: Value,
    /// When each attempt was written (the first, then each retry).
    pub sent: Vec<SystemTime>,
    /// The result, if a reply came.
    pub reply: Option<Value>,
    /// From the first attempt to the reply (or to giving up).
    pub elapsed: Duration,
}

impl Call {
    /// Attempts after the first.
    pub fn retries(&self) -> usize {
        self.sent.len().saturating_sub(1)
    }
}

/// What a server did with one call, from its own log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handled {
    /// Request id.
    pub id: u32,
    /// Method.
    pub method: String,
    /// The call changed the balance.
    pub applied: bool,
    /// The reply came from the table of answered ids, not from running the call.
    pub from_table: bool,
    /// No reply was sent (the fault injection).
    pub reply_dropped: bool,
}

/// A server's own state after its part.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    /// The account's balance.
    pub balance: i64,
    /// Every call the server handled, in order.
    pub handled: Vec<Handled>,
}

impl Ledger {
    /// How many times call `id` changed the balance.
    pub fn applied(&self, id: u32) -> usize {
        self.handled
            .iter()
            .filter(|h| h.id == id && h.applied)
            .count()
    }

    /// How many times call `id` was answered from the table.
    pub fn from_table(&self, id: u32) -> usize {
        self.handled
            .iter()
            .filter(|h| h.id == id && h.from_table)
            .count()
    }
}

/// One part with a lost reply: the call retried, the balance read after.
#[derive(Clone, Debug)]
pub struct LostReply {
    /// The `add_to_balance` call whose first reply never came.
    pub add: Call,
    /// The `get_balance` call after it.
    pub get: Call,
    /// The server's own state afterwards.
    pub ledger: Ledger,
    /// The server kept a table of answered request ids.
    pub dedup: bool,
    /// The client's port on this part's connection.
    pub client_port: u16,
}

/// Everything the run did.
pub struct Run {
    /// The two calls sent before either was answered, in the order sent.
    pub in_flight: Vec<Call>,
    /// Their ids in the order the replies arrived.
    pub reply_order: Vec<u32>,
    /// The client's port on part 1's first connection.
    pub client_port: u16,
    /// The lost reply, against the server without a table.
    pub plain: LostReply,
    /// The same, against the server with one.
    pub dedup: LostReply,
    /// The gRPC call.
    pub grpc: grpc::GrpcCall,
    /// Every frame the namespace's loopback carried, in wire order.
    pub frames: Vec<Frame>,
    /// When each part ended: the connection was set up; the two calls in
    /// flight; the lost reply and its retry; the balance read and the
    /// connection closed; the same three (connection, retry, balance) for
    /// the server with a table; gRPC.
    pub cuts: Vec<SystemTime>,
}

/// A server's shared state.
struct Bank {
    balance: i64,
    /// Answered request ids and their replies (None: no table kept).
    table: Option<HashMap<u32, Message>>,
    /// Calls whose first attempt has been seen (to drop that reply once).
    seen: HashSet<u32>,
    handled: Vec<Handled>,
}

fn io(what: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::Socket {
        op: what,
        addr: format!("{HOST} (rpc)"),
        source: e,
    }
}

/// Run both parts in `ns` (its loopback is brought up here) and capture them.
pub fn run(ns: &Netns) -> Result<Run> {
    ns.ip(&["link", "set", "lo", "up"])?;
    let cap = Capture::start(ns, "lo")?;
    let out = ns.run(|| -> Result<(Parts, Vec<SystemTime>)> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::sys("start", "启动", "a tokio runtime", e))?;
        rt.block_on(async {
            tokio::time::timeout(LIMIT, parts())
                .await
                .map_err(|_| Error::Internal("the rpc exchange took over 10 s".into()))?
        })
    })??;
    let mut frames = cap.stop()?;
    frames.sort_by_key(|f| f.at);
    let (p, cuts) = out;
    Ok(Run {
        in_flight: p.in_flight,
        reply_order: p.reply_order,
        client_port: p.client_port,
        plain: p.plain,
        dedup: p.dedup,
        grpc: p.grpc,
        frames,
        cuts,
    })
}

/// The results of [`parts`], before the capture is added.
struct Parts {
    in_flight: Vec<Call>,
    reply_order: Vec<u32>,
    client_port: u16,
    plain: LostReply,
    dedup: LostReply,
    grpc: grpc::GrpcCall,
}

async fn settle(cuts: &mut Vec<SystemTime>) {
    tokio::time::sleep(SETTLE).await;
    cuts.push(SystemTime::now());
}

async fn parts() -> Result<(Parts, Vec<SystemTime>)> {
    let mut cuts = Vec::new();
    let plain = server(PLAIN_PORT, false).await?;
    let dedup = server(DEDUP_PORT, true).await?;
    grpc::serve(GRPC_PORT).await?;
    let mut ids = 0u32;

    let mut c = Client::connect(PLAIN_PORT).await?;
    let client_port = c.port;
    settle(&mut cuts).await;

    // Two calls in flight on one connection, written together (one write,
    // so one segment): the server reads both before it runs either, and the
    // quick one is answered first whatever else the machine is doing.
    let mut in_flight = c
        .send_all(
            &mut ids,
            &[
                ("slow_square", json!({ "x": 12 })),
                ("get_balance", json!({ "account": ACCOUNT })),
            ],
        )
        .await?;
    let mut reply_order = Vec::new();
    while reply_order.len() < 2 {
        let Some((m, at)) = c.recv(LIMIT).await? else {
            return Err(Error::Internal("a call in flight got no reply".into()));
        };
        if let Some(call) = in_flight.iter_mut().find(|k| k.id == m.id) {
            call.reply = Some(body(&m));
            call.elapsed = since(call.sent[0], at);
            reply_order.push(m.id);
        }
    }
    settle(&mut cuts).await;

    let plain_part = lost_reply(c, &mut ids, &plain, false, &mut cuts).await?;
    let c = Client::connect(DEDUP_PORT).await?;
    settle(&mut cuts).await;
    let dedup_part = lost_reply(c, &mut ids, &dedup, true, &mut cuts).await?;

    let grpc = grpc::call(GRPC_PORT).await?;
    settle(&mut cuts).await;
    Ok((
        Parts {
            in_flight,
            reply_order,
            client_port,
            plain: plain_part,
            dedup: dedup_part,
            grpc,
        },
        cuts,
    ))
}

/// `add_to_balance` with its first reply lost, retried after [`TIMEOUT`]
/// with the same id; then `get_balance`, and the connection closed.
async fn lost_reply(
    mut c: Client,
    ids: &mut u32,
    bank: &Arc<Mutex<Bank>>,
    dedup: bool,
    cuts: &mut Vec<SystemTime>,
) -> Result<LostReply> {
    let client_port = c.port;
    let args = json!({ "account": ACCOUNT, "amount": AMOUNT });
    let mut add = c.send(ids, "add_to_balance", args).await?;
    let frame = Message {
        id: add.id,
        kind: Kind::Request,
        method: add.method.clone(),
        body: add.args.to_string().into_bytes(),
    };
    // Wait for the reply; at the timeout, the same frame again (three
    // attempts at most).
    loop {
        match c.recv(TIMEOUT).await? {
            Some((m, at)) if m.id == add.id => {
                add.reply = Some(body(&m));
                add.elapsed = since(add.sent[0], at);
                break;
            }
            Some(_) => {}
            None if add.sent.len() < 3 => {
                c.write(&frame).await?;
                add.sent.push(SystemTime::now());
            }
            None => break,
        }
    }
    if add.reply.is_none() {
        add.elapsed = since(add.sent[0], SystemTime::now());
    }
    settle(cuts).await;
    let mut get = c
        .send(ids, "get_balance", json!({ "account": ACCOUNT }))
        .await?;
    if let Some((m, at)) = c.recv(LIMIT).await? {
        get.reply = Some(body(&m));
        get.elapsed = since(get.sent[0], at);
    }
    c.close().await?;
    settle(cuts).await;
    let ledger = {
        let b = bank
            .lock()
            .map_err(|_| Error::Internal("a server panicked".into()))?;
        Ledger {
            balance: b.balance,
            handled: b.handled.clone(),
        }
    };
    Ok(LostReply {
        add,
        get,
        ledger,
        dedup,
        client_port,
    })
}

fn since(from: SystemTime, to: SystemTime) -> Duration {
    to.duration_since(from).unwrap_or_default()
}

fn body(m: &Message) -> Value {
    serde_json::from_slice(&m.body).unwrap_or(Value::Null)
}

/// The client's end of one connection.
struct Client {
    r: OwnedReadHalf,
    w: OwnedWriteHalf,
    buf: BytesMut,
    codec: LengthDelimitedCodec,
    port: u16,
}

impl Client {
    async fn connect(port: u16) -> Result<Client> {
        let s = TcpStream::connect(SocketAddr::from((HOST, port)))
            .await
            .map_err(io("connect to"))?;
        // One segment per frame, as soon as it is written: the capture
        // then shows each call on its own.
        s.set_nodelay(true).map_err(io("set TCP_NODELAY on"))?;
        let port = s.local_addr().map_err(io("read the address of"))?.port();
        let (r, w) = s.into_split();
        Ok(Client {
            r,
            w,
            buf: BytesMut::new(),
            codec: LengthDelimitedCodec::new(),
            port,
        })
    }

    async fn write(&mut self, m: &Message) -> Result<()> {
        let mut out = BytesMut::new();
        self.codec
            .encode(Bytes::from(m.encode()), &mut out)
            .map_err(io("frame a call for"))?;
        self.w.write_all(&out).await.map_err(io("send to"))
    }

    /// A new call with the next request id, written at once.
    async fn send(&mut self, ids: &mut u32, method: &str, args: Value) -> Result<Call> {
        let mut calls = self.send_all(ids, &[(method, args)]).await?;
        calls
            .pop()
            .ok_or_else(|| Error::Internal("no call was sent".into()))
    }

    /// New calls with the next request ids, their frames written in one go.
    async fn send_all(&mut self, ids: &mut u32, calls: &[(&str, Value)]) -> Result<Vec<Call>> {
        let mut out = BytesMut::new();
        let mut made = Vec::new();
        for (method, args) in calls {
            *ids += 1;
            let m = Message {
                id: *ids,
                kind: Kind::Request,
                method: method.to_string(),
                body: args.to_string().into_bytes(),
            };
            self.codec
                .encode(Bytes::from(m.encode()), &mut out)
                .map_err(io("frame a call for"))?;
            made.push(Call {
                method: method.to_string(),
                id: *ids,
                args: args.clone(),
                sent: Vec::new(),
                reply: None,
                elapsed: Duration::ZERO,
            });
        }
        self.w.write_all(&out).await.map_err(io("send to"))?;
        let at = SystemTime::now();
        for c in &mut made {
            c.sent.push(at);
        }
        Ok(made)
    }

    /// The next reply, or None after `wait`.
    async fn recv(&mut self, wait: Duration) -> Result<Option<(Message, SystemTime)>> {
        let end = Instant::now() + wait;
        loop {
            if let Some(f) = self
                .codec
                .decode(&mut self.buf)
                .map_err(io("read a reply from"))?
            {
                let m = Message::decode(&f).map_err(|e| Error::Internal(e.to_string()))?;
                return Ok(Some((m, SystemTime::now())));
            }
            let left = end.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.r.read_buf(&mut self.buf)).await {
                Err(_) => return Ok(None),
                Ok(Ok(0)) => return Ok(None),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(io("read from")(e)),
            }
        }
    }

    /// Close this side and wait for the server to close its own.
    async fn close(mut self) -> Result<()> {
        self.w.shutdown().await.map_err(io("close"))?;
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(LIMIT, self.r.read_to_end(&mut rest)).await;
        Ok(())
    }
}

/// Start a server on `port`; its state is shared with the caller.
async fn server(port: u16, dedup: bool) -> Result<Arc<Mutex<Bank>>> {
    let l = TcpListener::bind(SocketAddr::from((HOST, port)))
        .await
        .map_err(|e| Error::Bind {
            addr: format!("{HOST}:{port}"),
            source: e,
        })?;
    let bank = Arc::new(Mutex::new(Bank {
        balance: 0,
        table: dedup.then(HashMap::new),
        seen: HashSet::new(),
        handled: Vec::new(),
    }));
    let b = bank.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(connection(s, b.clone()));
        }
    });
    Ok(bank)
}

/// Serve one connection: every call runs as a task of its own, and its
/// reply is written when it is ready, so a quick call overtakes a slow one.
async fn connection(s: TcpStream, bank: Arc<Mutex<Bank>>) {
    let (mut r, mut w) = s.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    let writer = tokio::spawn(async move {
        let mut codec = LengthDelimitedCodec::new();
        while let Some(m) = rx.recv().await {
            let mut out = BytesMut::new();
            if codec.encode(Bytes::from(m.encode()), &mut out).is_err()
                || w.write_all(&out).await.is_err()
            {
                break;
            }
        }
        let _ = w.shutdown().await;
    });
    let mut codec = LengthDelimitedCodec::new();
    let mut buf = BytesMut::new();
    loop {
        match codec.decode(&mut buf) {
            Ok(Some(f)) => {
                if let Ok(m) = Message::decode(&f) {
                    tokio::spawn(handle(m, bank.clone(), tx.clone()));
                }
                continue;
            }
            Ok(None) => {}
            Err(_) => break,
        }
        match r.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    drop(tx);
    let _ = writer.await;
}

/// Run one call and send its reply (or, once, not).
async fn handle(m: Message, bank: Arc<Mutex<Bank>>, tx: mpsc::UnboundedSender<Message>) {
    let args: Value = serde_json::from_slice(&m.body).unwrap_or(Value::Null);
    let reply = |kind, v: Value| Message {
        id: m.id,
        kind,
        method: String::new(),
        body: v.to_string().into_bytes(),
    };
    let out = match m.method.as_str() {
        "slow_square" => {
            tokio::time::sleep(SLOW).await;
            let x = args["x"].as_i64().unwrap_or(0);
            log(&bank, &m, false, false, false);
            Some(reply(Kind::Reply, json!({ "square": x * x })))
        }
        "get_balance" => {
            let Ok(b) = bank.lock().map(|b| b.balance) else {
                return;
            };
            log(&bank, &m, false, false, false);
            Some(reply(Kind::Reply, json!({ "balance": b })))
        }
        "add_to_balance" => {
            let Ok(mut b) = bank.lock() else { return };
            let stored = b.table.as_ref().and_then(|t| t.get(&m.id)).cloned();
            let first = b.seen.insert(m.id);
            let (applied, out) = match stored {
                // Answered before: the same reply again, nothing applied.
                Some(r) => (false, r),
                None => {
                    b.balance += args["amount"].as_i64().unwrap_or(0);
                    let r = reply(Kind::Reply, json!({ "balance": b.balance }));
                    if let Some(t) = b.table.as_mut() {
                        t.insert(m.id, r.clone());
                    }
                    (true, r)
                }
            };
            // The fault: the first attempt's reply is never sent.
            b.handled.push(Handled {
                id: m.id,
                method: m.method.clone(),
                applied,
                from_table: !applied,
                reply_dropped: first,
            });
            (!first).then_some(out)
        }
        other => {
            log(&bank, &m, false, false, false);
            Some(reply(
                Kind::Error,
                json!({ "error": format!("no method {other}") }),
            ))
        }
    };
    if let Some(r) = out {
        let _ = tx.send(r);
    }
}

fn log(bank: &Mutex<Bank>, m: &Message, applied: bool, from_table: bool, dropped: bool) {
    if let Ok(mut b) = bank.lock() {
        b.handled.push(Handled {
            id: m.id,
            method: m.method.clone(),
            applied,
            from_table,
            reply_dropped: dropped,
        });
    }
}
