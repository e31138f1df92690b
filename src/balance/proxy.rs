//! netlab's own layer-7 reverse proxy (what nginx and HAProxy are), built on
//! hyper, running in lb's namespace on the VIP's port 80.
//!
//! For every request it reads the whole HTTP request from the client (one
//! TCP connection, client → proxy), chooses a backend by the request's path
//! (`/static/…` goes to web3 alone) and the scheduler (round robin, or the
//! backend with the fewest requests in flight), opens a second TCP
//! connection of its own to that backend (proxy → backend), sends the
//! request on with `X-Forwarded-For` naming the client (the backend sees
//! only the proxy's address), and relays the answer. A backend it cannot
//! reach costs that request a 502 Bad Gateway.
//!
//! Health checks: every [`CHECK_EVERY`] a `GET /health` to each backend; one
//! that fails is taken out of rotation (the moment is kept), one that
//! answers again put back.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use crate::error::{Error, Result};
use crate::lab::netns::Netns;
use crate::text::tx;

/// How often the health checks run.
pub const CHECK_EVERY: Duration = Duration::from_millis(500);
/// How long a health check or a backend connection may take.
const WAIT: Duration = Duration::from_millis(1000);
/// The path prefix that goes to the static pool.
pub const STATIC: &str = "/static/";

/// How the proxy chooses among healthy backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Scheduler {
    /// Each in turn.
    RoundRobin,
    /// The one with the fewest requests in flight (ties: each in turn).
    LeastConn,
}

/// A health check changed a backend's state.
#[derive(Clone, Debug)]
pub struct HealthEvent {
    /// When the check that decided it ended.
    pub at: SystemTime,
    /// Which backend.
    pub backend: String,
    /// Taken out (false) or put back (true).
    pub up: bool,
}

/// What the proxy and its handlers share.
struct State {
    names: Vec<String>,
    addrs: Vec<SocketAddr>,
    /// The backends of the static pool (by index).
    static_pool: Vec<usize>,
    healthy: Vec<AtomicBool>,
    active: Vec<AtomicUsize>,
    turn: AtomicUsize,
    least: AtomicBool,
    events: Mutex<Vec<HealthEvent>>,
}

impl State {
    /// Choose a healthy backend of `pool` and count it busy.
    fn pick(&self, pool: &[usize]) -> Option<usize> {
        let up: Vec<usize> = pool
            .iter()
            .copied()
            .filter(|&i| self.healthy[i].load(Ordering::SeqCst))
            .collect();
        if up.is_empty() {
            return None;
        }
        let turn = self.turn.fetch_add(1, Ordering::SeqCst);
        let i = if self.least.load(Ordering::SeqCst) {
            // One look at the counts: other handlers change them meanwhile.
            let loads: Vec<(usize, usize)> = up
                .iter()
                .map(|&i| (i, self.active[i].load(Ordering::SeqCst)))
                .collect();
            let fewest = loads.iter().map(|&(_, n)| n).min().unwrap_or(0);
            let tied: Vec<usize> = loads
                .iter()
                .filter(|&&(_, n)| n == fewest)
                .map(|&(i, _)| i)
                .collect();
            tied[turn % tied.len()]
        } else {
            up[turn % up.len()]
        };
        self.active[i].fetch_add(1, Ordering::SeqCst);
        Some(i)
    }
}

/// The proxy, serving until dropped.
pub struct Proxy {
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<Result<()>>>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn reply(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text)));
    *r.status_mut() = status;
    r
}

/// One HTTP exchange on a new connection to `to`.
async fn forward(
    to: SocketAddr,
    req: Request<Full<Bytes>>,
) -> std::result::Result<Response<Bytes>, String> {
    let stream = tokio::time::timeout(WAIT, tokio::net::TcpStream::connect(to))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let resp = tokio::time::timeout(WAIT * 3, send.send_request(req))
        .await
        .map_err(|_| "no answer in time".to_string())?
        .map_err(|e| e.to_string())?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Response::from_parts(parts, body))
}

/// Headers that belong to one connection, not to the message (RFC 9110 7.6.1).
const HOP: [&str; 4] = ["connection", "keep-alive", "transfer-encoding", "upgrade"];

async fn handle(
    req: Request<hyper::body::Incoming>,
    peer: SocketAddr,
    st: Arc<State>,
) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
    let all: Vec<usize> = (0..st.names.len()).collect();
    let pool = if req.uri().path().starts_with(STATIC) {
        st.static_pool.clone()
    } else {
        all
    };
    let Some(i) = st.pick(&pool) else {
        return Ok(reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "503 no healthy backend\n".into(),
        ));
    };
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut out = Request::builder()
        .method(parts.method.clone())
        .uri(
            parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string(),
        )
        .body(Full::new(body))
        .unwrap_or_default();
    for (k, v) in &parts.headers {
        if !HOP.contains(&k.as_str()) && k != "x-forwarded-for" {
            out.headers_mut().append(k, v.clone());
        }
    }
    // The client's address after any the request already carried.
    let xff = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(before) => format!("{before}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    if let Ok(v) = hyper::header::HeaderValue::from_str(&xff) {
        out.headers_mut().insert("x-forwarded-for", v);
    }
    out.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    let got = forward(st.addrs[i], out).await;
    st.active[i].fetch_sub(1, Ordering::SeqCst);
    Ok(match got {
        Ok(r) => {
            let (mut parts, body) = r.into_parts();
            for h in HOP {
                parts.headers.remove(h);
            }
            Response::from_parts(parts, Full::new(body))
        }
        Err(e) => reply(
            StatusCode::BAD_GATEWAY,
            format!("502 {} unreachable: {e}\n", st.names[i]),
        ),
    })
}

/// One health check of backend `i`.
async fn check(st: &State, i: usize) -> bool {
    let req = Request::builder()
        .uri("/health")
        .header("host", "health")
        .header("connection", "close")
        .body(Full::new(Bytes::new()))
        .unwrap_or_default();
    matches!(forward(st.addrs[i], req).await, Ok(r) if r.status().is_success())
}

async fn health_loop(st: Arc<State>) {
    loop {
        tokio::time::sleep(CHECK_EVERY).await;
        for i in 0..st.names.len() {
            let ok = check(&st, i).await;
            if st.healthy[i].swap(ok, Ordering::SeqCst) != ok {
                if let Ok(mut ev) = st.events.lock() {
                    ev.push(HealthEvent {
                        at: SystemTime::now(),
                        backend: st.names[i].clone(),
                        up: ok,
                    });
                }
            }
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    st: Arc<State>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(|e| Error::system(tx("listen on", "监听"), "the proxy's port", e))?;
    let checks = tokio::spawn(health_loop(st.clone()));
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut stop => break,
            got = listener.accept() => match got {
                Ok(x) => x,
                Err(_) => continue,
            },
        };
        let st = st.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(req, peer, st.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
    checks.abort();
    Ok(())
}

/// Start the proxy in `lb` on `listen`, in front of `backends` (name,
/// address), `/static/` going to those named in `static_pool`.
pub fn start(
    lb: &Netns,
    listen: SocketAddr,
    backends: &[(&str, SocketAddr)],
    static_pool: &[&str],
    scheduler: Scheduler,
) -> Result<Proxy> {
    let st = Arc::new(State {
        names: backends.iter().map(|b| b.0.to_string()).collect(),
        addrs: backends.iter().map(|b| b.1).collect(),
        static_pool: backends
            .iter()
            .enumerate()
            .filter(|(_, b)| static_pool.contains(&b.0))
            .map(|(i, _)| i)
            .collect(),
        healthy: backends.iter().map(|_| AtomicBool::new(true)).collect(),
        active: backends.iter().map(|_| AtomicUsize::new(0)).collect(),
        turn: AtomicUsize::new(0),
        least: AtomicBool::new(scheduler == Scheduler::LeastConn),
        events: Mutex::new(Vec::new()),
    });
    let listener = lb
        .run(move || {
            let l = std::net::TcpListener::bind(listen)?;
            l.set_nonblocking(true)?;
            Ok::<_, std::io::Error>(l)
        })?
        .map_err(|e| Error::system(tx("listen on", "监听"), listen, e))?;
    let (tx_stop, rx_stop) = tokio::sync::oneshot::channel();
    let s = st.clone();
    // The runtime is built in a thread inside lb's namespace, so its
    // workers (which open the connections to the backends) are there too.
    let thread = lb.spawn(move || -> Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::system(tx("start", "启动"), "the proxy's runtime", e))?;
        rt.block_on(serve(listener, s, rx_stop))
    })?;
    Ok(Proxy {
        state: st,
        stop: Some(tx_stop),
        thread: Some(thread),
    })
}

impl Proxy {
    /// Switch the scheduler (the next request on uses it).
    pub fn set_scheduler(&self, s: Scheduler) {
        self.state
            .least
            .store(s == Scheduler::LeastConn, Ordering::SeqCst);
    }

    /// Every change a health check made so far.
    pub fn events(&self) -> Vec<HealthEvent> {
        self.state
            .events
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(least: bool) -> State {
        State {
            names: vec!["a".into(), "b".into(), "c".into()],
            addrs: vec![SocketAddr::from(([127, 0, 0, 1], 1)); 3],
            static_pool: vec![2],
            healthy: (0..3).map(|_| AtomicBool::new(true)).collect(),
            active: (0..3).map(|_| AtomicUsize::new(0)).collect(),
            turn: AtomicUsize::new(0),
            least: AtomicBool::new(least),
            events: Mutex::new(vec![]),
        }
    }

    #[test]
    fn round_robin_takes_each_healthy_backend_in_turn() {
        let s = state(false);
        let all = [0, 1, 2];
        let got: Vec<usize> = (0..6).map(|_| s.pick(&all).unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2]);
        s.healthy[1].store(false, Ordering::SeqCst);
        assert!(
            (0..4).all(|_| s.pick(&all) != Some(1)),
            "a down backend gets nothing"
        );
        assert_eq!(s.pick(&[1]), None, "a pool with none healthy");
    }

    #[test]
    fn least_connections_avoids_the_busy_backend() {
        let s = state(true);
        let all = [0, 1, 2];
        // a and b are busy with one request each; c is free.
        s.active[0].store(1, Ordering::SeqCst);
        s.active[1].store(1, Ordering::SeqCst);
        assert_eq!(s.pick(&all), Some(2));
        // Now all three hold one: the tie goes round.
        let next = s.pick(&all).unwrap();
        assert_eq!(s.active[next].load(Ordering::SeqCst), 2);
    }
}
