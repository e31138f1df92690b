//! The class server behind `netlab serve`: the instructor's runs, published
//! line by line (`POST /publish`, from loopback or with the session's token),
//! served to every student's browser as they happen.
//!
//! - `GET /` the live page (issue J's page, following `/events`), `?lang=zh|en`;
//! - `GET /events` Server-Sent Events: every record of the session, one JSON
//!   line per `data:` (exactly as `--json` prints it), its index as `id:`
//!   (a reconnecting client's `Last-Event-ID`, or `?from=N`, resumes there);
//! - `GET /live.json` the latest run's record and ladder, for the page;
//! - `GET /runs/N.jsonl` a finished run, `GET /runs/N.html` its page.
//!
//! Bounds: at most [`Options::max_conns`] connections (the next get 503),
//! request bodies of [`Options::max_body`] bytes (413), headers read within
//! [`Options::idle`] (the connection is closed). Each `/events` client reads
//! its own cursor of one broadcast ring: a client that falls a whole ring
//! behind is dropped (its browser reconnects where it left off), and one
//! that takes nothing for three idle times is closed, so no client ever
//! holds back the run or the others, or a connection slot for good.
//!
//! Owns the server; not the page ([`crate::narrate::html`]) nor the publishing
//! client ([`crate::narrate::class`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tokio::sync::broadcast;

use crate::error::{Error, Result};
use crate::narrate::html;
use crate::record::{Body, Line};
use crate::text::{tx, Lang};

/// The server's limits.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Connections served at once.
    pub max_conns: usize,
    /// Largest request body (one published line with its packets' bytes).
    pub max_body: usize,
    /// How long a request's headers may take to arrive.
    pub idle: Duration,
    /// Records a client may fall behind before it is dropped.
    pub ring: usize,
}

impl Options {
    /// The limits for a class on `listen`.
    pub fn new(listen: SocketAddr) -> Options {
        Options {
            listen,
            max_conns: 256,
            max_body: 4 << 20,
            idle: Duration::from_secs(10),
            ring: 4096,
        }
    }
}

/// One record of the session.
#[derive(Clone)]
struct Entry {
    /// Its index in the session (the SSE id).
    id: u64,
    /// Its JSON line, without the newline.
    json: Arc<str>,
}

#[derive(Default)]
struct Run {
    lines: Vec<Line>,
    json: Vec<Arc<str>>,
    done: bool,
}

#[derive(Default)]
struct Session {
    entries: Vec<Entry>,
    runs: Vec<Run>,
    /// The publisher's run key → index in `runs`.
    keys: HashMap<String, usize>,
    clients: u64,
    refused: u64,
}

struct Hub {
    session: Mutex<Session>,
    tx: broadcast::Sender<Entry>,
    token: String,
}

/// What the session held when the server stopped.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    /// Runs published.
    pub runs: usize,
    /// Records published.
    pub records: usize,
    /// `/events` clients served.
    pub clients: u64,
    /// Requests refused (bad, too large, not allowed, too many connections).
    pub refused: u64,
}

/// A running class server.
pub struct Server {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The token that lets a run publish from another machine.
    pub token: String,
    hub: Arc<Hub>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Bind and start serving on a thread of its own.
    pub fn start(opts: Options) -> Result<Server> {
        let std_listener = std::net::TcpListener::bind(opts.listen)
            .map_err(|e| Error::system(tx("listen on", "监听"), opts.listen.to_string(), e))?;
        std_listener
            .set_nonblocking(true)
            .map_err(|e| Error::system(tx("listen on", "监听"), opts.listen.to_string(), e))?;
        let addr = std_listener
            .local_addr()
            .map_err(|e| Error::system(tx("listen on", "监听"), opts.listen.to_string(), e))?;
        let token = format!(
            "{:016x}{:016x}",
            rand::random::<u64>(),
            rand::random::<u64>()
        );
        let (btx, _) = broadcast::channel(opts.ring);
        let hub = Arc::new(Hub {
            session: Mutex::new(Session::default()),
            tx: btx,
            token: token.clone(),
        });
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("netlab-serve")
            .build()
            .map_err(|e| Error::system(tx("start", "启动"), "the server's runtime", e))?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let h = hub.clone();
        let thread = std::thread::Builder::new()
            .name("netlab-serve".into())
            .spawn(move || {
                rt.block_on(async move {
                    if let Ok(l) = tokio::net::TcpListener::from_std(std_listener) {
                        tokio::select! {
                            () = accept_loop(l, h, opts) => {}
                            _ = stop_rx => {}
                        }
                    }
                });
                rt.shutdown_timeout(Duration::from_millis(200));
            })
            .map_err(|e| Error::system(tx("start", "启动"), "the server's thread", e))?;
        Ok(Server {
            addr,
            token,
            hub,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Stop serving; what the session held.
    pub fn stop(mut self) -> Stats {
        self.shutdown();
        let s = self.hub.session.lock().unwrap_or_else(|e| e.into_inner());
        Stats {
            runs: s.runs.len(),
            records: s.entries.len(),
            clients: s.clients,
            refused: s.refused,
        }
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn router(hub: Arc<Hub>, max_body: usize) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/live.json", get(live_json))
        .route("/events", get(events))
        .route("/runs/{file}", get(run_file))
        .route("/publish", post(publish))
        .layer(DefaultBodyLimit::max(max_body))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(hub)
}

async fn accept_loop(listener: tokio::net::TcpListener, hub: Arc<Hub>, opts: Options) {
    let app = router(hub.clone(), opts.max_body);
    let slots = Arc::new(tokio::sync::Semaphore::new(opts.max_conns));
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            // Out of descriptors, say: wait a little rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            refuse(&hub);
            tokio::spawn(turn_away(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let idle = opts.idle;
        let max_body = opts.max_body;
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                handle(app.clone(), req, peer, idle, max_body)
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(idle)
                .max_buf_size(64 << 10)
                .serve_connection(
                    hyper_util::rt::TokioIo::new(Stalled::new(stream, idle * 3)),
                    service,
                );
            let _ = conn.await;
            drop(permit);
        });
    }
}

/// A connection whose writes fail when the peer has taken nothing for
/// `limit`: a client that stops reading its stream is closed, and its slot
/// freed, instead of being kept forever.
struct Stalled {
    io: tokio::net::TcpStream,
    limit: Duration,
    since: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl Stalled {
    fn new(io: tokio::net::TcpStream, limit: Duration) -> Stalled {
        Stalled {
            io,
            limit,
            since: None,
        }
    }

    /// The write is pending: fail it once the peer has been stalled too long.
    fn pending<T>(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<T>> {
        let limit = self.limit;
        let timer = self
            .since
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match std::future::Future::poll(timer.as_mut(), cx) {
            std::task::Poll::Ready(()) => std::task::Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }
}

impl tokio::io::AsyncRead for Stalled {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Stalled {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match std::pin::Pin::new(&mut self.io).poll_write(cx, buf) {
            std::task::Poll::Pending => self.pending(cx),
            done => {
                self.since = None;
                done
            }
        }
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// One request: its peer noted for the handlers, a body announced too large
/// refused before it is read, and a request with a body (a publish) given
/// `idle` to send it. The streams (`GET /events`) last as long as the class.
async fn handle(
    mut app: Router,
    mut req: hyper::Request<hyper::body::Incoming>,
    peer: SocketAddr,
    idle: Duration,
    max_body: usize,
) -> std::result::Result<Response, Infallible> {
    req.extensions_mut().insert(ConnectInfo(peer));
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let close = [(header::CONNECTION, "close")];
    if announced.is_some_and(|n| n > max_body as u64) {
        let msg = "request body too large\n";
        return Ok((StatusCode::PAYLOAD_TOO_LARGE, close, msg).into_response());
    }
    if req.method() != axum::http::Method::POST {
        return tower_service::Service::call(&mut app, req).await;
    }
    match tokio::time::timeout(idle, tower_service::Service::call(&mut app, req)).await {
        Ok(r) => r,
        Err(_) => {
            let msg = "the request body was too slow\n";
            Ok((StatusCode::REQUEST_TIMEOUT, close, msg).into_response())
        }
    }
}

/// Answer a connection over the limit with 503 and close it, reading what
/// it sent meanwhile (a second at most) so that the close does not reset
/// the connection before the client has read the answer.
async fn turn_away(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let busy = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 22\r\nconnection: close\r\n\r\ntoo many connections\r\n";
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(busy).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

fn refuse(hub: &Hub) {
    hub.session
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .refused += 1;
}

#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

fn lang_of(q: &LangQuery, headers: &HeaderMap) -> Lang {
    match q.lang.as_deref() {
        Some("zh") => Lang::Zh,
        Some("en") => Lang::En,
        _ => {
            let accept = headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if accept.trim_start().starts_with("zh") {
                Lang::Zh
            } else {
                Lang::En
            }
        }
    }
}

/// The latest run's lines and where the page stands.
fn latest(hub: &Hub) -> (Vec<Line>, html::Live) {
    let s = hub.session.lock().unwrap_or_else(|e| e.into_inner());
    let lines = s.runs.last().map(|r| r.lines.clone()).unwrap_or_default();
    let live = html::Live {
        run: s.runs.len(),
        runs: s.runs.len(),
        next: s.entries.len() as u64,
    };
    (lines, live)
}

async fn index(
    State(hub): State<Arc<Hub>>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    let (lines, live) = latest(&hub);
    let page = html::live_page(&lines, lang, live);
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page,
    )
        .into_response()
}

async fn live_json(
    State(hub): State<Arc<Hub>>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    let (lines, live) = latest(&hub);
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html::live_json(&lines, lang, live),
    )
        .into_response()
}

#[derive(Deserialize)]
struct EventsQuery {
    from: Option<u64>,
}

async fn events(
    State(hub): State<Arc<Hub>>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> Response {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|id| id + 1);
    let from = resume.or(q.from).unwrap_or(0);
    // The backlog and the subscription are taken under one lock, so no
    // record is missed or seen twice between them.
    let (backlog, rx) = {
        let mut s = hub.session.lock().unwrap_or_else(|e| e.into_inner());
        s.clients += 1;
        let start = (from as usize).min(s.entries.len());
        (s.entries[start..].to_vec(), hub.tx.subscribe())
    };
    let stream = futures_util::stream::unfold(
        (backlog.into_iter(), rx),
        |(mut backlog, mut rx)| async move {
            let entry = match backlog.next() {
                Some(e) => e,
                None => match rx.recv().await {
                    Ok(e) => e,
                    // A client a whole ring behind is dropped; its browser
                    // reconnects with Last-Event-ID and resumes.
                    Err(_) => return None,
                },
            };
            let ev = Event::default().id(entry.id.to_string()).data(&*entry.json);
            Some((Ok::<_, Infallible>(ev), (backlog, rx)))
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

async fn run_file(
    State(hub): State<Arc<Hub>>,
    Path(file): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let (n, kind) = match file.rsplit_once('.') {
        Some((n, k @ ("jsonl" | "html"))) => (n.parse::<usize>().ok(), k),
        _ => (None, ""),
    };
    let s = hub.session.lock().unwrap_or_else(|e| e.into_inner());
    let Some(run) = n.filter(|&n| n >= 1).and_then(|n| s.runs.get(n - 1)) else {
        return (StatusCode::NOT_FOUND, "no such run\n").into_response();
    };
    if kind == "html" {
        let page = html::page(&run.lines, lang_of(&q, &headers));
        return ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response();
    }
    if !run.done {
        return (
            StatusCode::CONFLICT,
            "the run is still going; follow /events\n",
        )
            .into_response();
    }
    let mut body = String::new();
    for j in &run.json {
        body.push_str(j);
        body.push('\n');
    }
    ([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response()
}

/// Only the instructor publishes: a run on this machine (a loopback peer),
/// or one elsewhere that carries the session's token.
fn may_publish(peer: SocketAddr, token: Option<&str>, session_token: &str) -> bool {
    peer.ip().is_loopback() || token == Some(session_token)
}

#[derive(Deserialize)]
struct PublishQuery {
    run: String,
    #[serde(default)]
    end: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

async fn publish(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<PublishQuery>,
    body: Bytes,
) -> Response {
    if !may_publish(peer, q.token.as_deref(), &hub.token) {
        refuse(&hub);
        return (
            StatusCode::FORBIDDEN,
            "only the instructor's machine (loopback) or the session's token may publish\n",
        )
            .into_response();
    }
    if q.run.is_empty() || q.run.len() > 64 {
        refuse(&hub);
        return (StatusCode::BAD_REQUEST, "run: 1 to 64 characters\n").into_response();
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        refuse(&hub);
        return (StatusCode::BAD_REQUEST, "the body is not UTF-8\n").into_response();
    };
    let mut lines = Vec::new();
    for (i, l) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        match serde_json::from_str::<Line>(l) {
            Ok(line) => lines.push((line, Arc::<str>::from(l))),
            Err(e) => {
                refuse(&hub);
                return (
                    StatusCode::BAD_REQUEST,
                    format!("line {}: not a netlab record: {e}\n", i + 1),
                )
                    .into_response();
            }
        }
    }
    let mut s = hub.session.lock().unwrap_or_else(|e| e.into_inner());
    let r = match s.keys.get(&q.run) {
        Some(&r) => r,
        None => {
            if lines.is_empty() {
                return StatusCode::NO_CONTENT.into_response();
            }
            s.runs.push(Run::default());
            let r = s.runs.len() - 1;
            s.keys.insert(q.run.clone(), r);
            r
        }
    };
    if s.runs[r].done && lines.is_empty() {
        // The end of a run whose summary already ended it.
        return StatusCode::NO_CONTENT.into_response();
    }
    if s.runs[r].done {
        return (StatusCode::CONFLICT, "that run is over\n").into_response();
    }
    for (line, json) in lines {
        let end = matches!(line.body, Body::Summary(_) | Body::Error(_));
        let entry = Entry {
            id: s.entries.len() as u64,
            json: json.clone(),
        };
        s.entries.push(entry.clone());
        let run = &mut s.runs[r];
        run.lines.push(line);
        run.json.push(json);
        run.done |= end;
        // No receiver is not an error: nobody is watching yet.
        let _ = hub.tx.send(entry);
    }
    if q.end.is_some() {
        s.runs[r].done = true;
    }
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_or_the_token_may_publish() {
        let lan: SocketAddr = "198.51.100.7:40000".parse().unwrap();
        let lo: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let lo6: SocketAddr = "[::1]:40000".parse().unwrap();
        assert!(may_publish(lo, None, "t0k"));
        assert!(may_publish(lo6, None, "t0k"));
        assert!(!may_publish(lan, None, "t0k"));
        assert!(!may_publish(lan, Some("guess"), "t0k"));
        assert!(!may_publish(lan, Some(""), "t0k"));
        assert!(may_publish(lan, Some("t0k"), "t0k"));
    }
}
