//! The farm's web backends: one small HTTP server (hyper) in each backend's
//! namespace, listening on port 80 of every address it has (so on the VIP
//! too, when direct routing puts it on the backend's loopback).
//!
//! Each answers with its own name, the address the connection came from,
//! and the `X-Forwarded-For` header if a proxy added one: so a client can
//! count who answered, and see what the backend saw. `/health` answers
//! `ok` for a balancer's health checks. A backend can be made slow (to show
//! least connections) or stopped mid-run, its port then closed as a crashed
//! server's is: a SYN to it is answered with a reset.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use crate::error::{Error, Result};
use crate::lab::farm::{Farm, BACKENDS};
use crate::text::tx;

/// The port every backend (and the balancer) serves.
pub const PORT: u16 = 80;

/// One running backend.
struct Backend {
    name: &'static str,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    delay_ms: Arc<AtomicU64>,
}

impl Backend {
    fn halt(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The three backends, serving until dropped.
pub struct Backends {
    list: Vec<Backend>,
}

impl Drop for Backends {
    fn drop(&mut self) {
        for b in &mut self.list {
            b.halt();
        }
    }
}

fn io(at: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::system(tx("serve in the lab", "在实验网络里提供服务："), at, e)
}

/// What backend `name` at `ip` answers a request from `peer`.
pub fn body(name: &str, ip: Ipv4Addr, peer: std::net::IpAddr, xff: Option<&str>) -> String {
    match xff {
        Some(x) => format!("{name} {ip} saw {peer} X-Forwarded-For: {x}\n"),
        None => format!("{name} {ip} saw {peer}\n"),
    }
}

/// Which backend wrote an answer's body (its first word), if one did.
pub fn answered_by(body: &str) -> Option<&'static str> {
    let first = body.split_whitespace().next()?;
    BACKENDS.iter().map(|b| b.0).find(|n| *n == first)
}

/// The `X-Forwarded-For` a backend reports having seen, if any.
pub fn forwarded_for(body: &str) -> Option<&str> {
    body.split_once("X-Forwarded-For: ")
        .map(|(_, x)| x.trim_end())
}

async fn answer(
    req: Request<hyper::body::Incoming>,
    name: &'static str,
    ip: Ipv4Addr,
    peer: SocketAddr,
    delay: Arc<AtomicU64>,
) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() == "/health" {
        return Ok(Response::new(Full::new(Bytes::from_static(b"ok\n"))));
    }
    let ms = delay.load(Ordering::Relaxed);
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let xff = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let text = body(name, ip, peer.ip(), xff);
    let mut r = Response::new(Full::new(Bytes::from(text)));
    r.headers_mut()
        .insert("x-backend", hyper::header::HeaderValue::from_static(name));
    Ok(r)
}

/// Serve on `listener` until `stop` fires (then the port closes).
async fn serve(
    listener: std::net::TcpListener,
    name: &'static str,
    ip: Ipv4Addr,
    delay: Arc<AtomicU64>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut stop => return,
            got = listener.accept() => match got {
                Ok(x) => x,
                Err(_) => continue,
            },
        };
        let delay = delay.clone();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req| answer(req, name, ip, peer, delay.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// Start the three backends of `farm`, each on port 80 in its namespace.
pub fn start(farm: &Farm) -> Result<Backends> {
    let mut list = Vec::new();
    for (name, ip, _) in BACKENDS {
        let at = SocketAddr::from(([0, 0, 0, 0], PORT));
        let listener = farm
            .host(name)?
            .run(move || {
                let l = std::net::TcpListener::bind(at)?;
                l.set_nonblocking(true)?;
                Ok::<_, std::io::Error>(l)
            })?
            .map_err(io(format!("{name} {at}")))?;
        let delay = Arc::new(AtomicU64::new(0));
        let (tx_stop, rx_stop) = tokio::sync::oneshot::channel();
        let d = delay.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io(format!("{name}'s runtime")))?;
        let thread = std::thread::spawn(move || {
            rt.block_on(serve(listener, name, ip, d, rx_stop));
        });
        list.push(Backend {
            name,
            stop: Some(tx_stop),
            thread: Some(thread),
            delay_ms: delay,
        });
    }
    Ok(Backends { list })
}

impl Backends {
    /// Stop backend `name`: its port closes, as when its server crashes.
    pub fn kill(&mut self, name: &str) {
        if let Some(b) = self.list.iter_mut().find(|b| b.name == name) {
            b.halt();
        }
    }

    /// Make backend `name` wait `ms` before each answer (0: at once).
    pub fn set_delay(&self, name: &str, ms: u64) {
        if let Some(b) = self.list.iter().find(|b| b.name == name) {
            b.delay_ms.store(ms, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_names_its_backend_and_what_it_saw() {
        let b = body(
            "web2",
            BACKENDS[1].1,
            "203.0.113.66".parse().unwrap(),
            Some("198.51.100.70"),
        );
        assert_eq!(
            b,
            "web2 203.0.113.82 saw 203.0.113.66 X-Forwarded-For: 198.51.100.70\n"
        );
        assert_eq!(answered_by(&b), Some("web2"));
        assert_eq!(forwarded_for(&b), Some("198.51.100.70"));
        assert_eq!(answered_by("502 Bad Gateway"), None);
        assert_eq!(forwarded_for("web1 203.0.113.81 saw 198.51.100.70\n"), None);
    }
}
