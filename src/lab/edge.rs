//! A CDN's edge cache: netlab's own small HTTP cache (RFC 9111) on tiny_http,
//! running in a lab namespace. No narration here.
//!
//! The edge answers every GET for its site. With no copy it asks the origin
//! over a new TCP connection and keeps the response when its
//! `Cache-Control` allows (a `max-age`, no `no-store` or `private`): that is
//! a MISS. With a copy younger than its max-age it answers from memory
//! without asking anyone: a HIT. With an older copy it asks the origin
//! conditionally (`If-None-Match` with the copy's `ETag`); a `304 Not
//! Modified` makes the copy fresh again and the edge serves it: REVALIDATED.
//! Every response says which in `X-Cache`, how long the copy has been kept
//! in `Age` (RFC 9111 §5.1), and names the edge in `Via` (RFC 9110 §7.6.3).
//!
//! The edge's thread runs inside the edge's namespace, so its connections to
//! the origin leave from the edge's own link, never from this machine's.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::Serialize;

use super::netns::Netns;
use super::web::parse_response;
use crate::error::{Error, Result};
use crate::text::tx;

/// How long the edge waits for the origin.
const ORIGIN_LIMIT: Duration = Duration::from_secs(5);

/// Where a response came from, as the edge's `X-Cache` header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub enum CacheStatus {
    /// No copy: fetched from the origin.
    #[serde(rename = "MISS")]
    Miss,
    /// A fresh copy, served without asking the origin.
    #[serde(rename = "HIT")]
    Hit,
    /// A stale copy the origin confirmed unchanged (304), then served.
    #[serde(rename = "REVALIDATED")]
    Revalidated,
}

impl CacheStatus {
    /// The `X-Cache` value.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Miss => "MISS",
            CacheStatus::Hit => "HIT",
            CacheStatus::Revalidated => "REVALIDATED",
        }
    }

    /// Read an `X-Cache` value back.
    pub fn parse(s: &str) -> Option<CacheStatus> {
        match s.trim() {
            "MISS" => Some(CacheStatus::Miss),
            "HIT" => Some(CacheStatus::Hit),
            "REVALIDATED" => Some(CacheStatus::Revalidated),
            _ => None,
        }
    }
}

/// One request the edge made to the origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    /// The edge's end of that TCP connection.
    pub local: SocketAddr,
    /// The origin's status code (0: no response).
    pub status: u16,
    /// Whether it was conditional (`If-None-Match`).
    pub conditional: bool,
}

/// One request the edge served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    /// Who asked.
    pub client: SocketAddr,
    /// The path asked for.
    pub path: String,
    /// Where the answer came from.
    pub cache: CacheStatus,
    /// The status the client got.
    pub status: u16,
    /// The request to the origin, if one was made.
    pub upstream: Option<Upstream>,
}

/// A response the edge sends.
type Reply = tiny_http::Response<std::io::Cursor<Vec<u8>>>;

/// A stored response.
struct Entry {
    body: Vec<u8>,
    content_type: String,
    cache_control: String,
    etag: Option<String>,
    /// How long it stays fresh.
    max_age: Duration,
    /// When it was stored or last confirmed by the origin.
    stored: Instant,
}

/// The freshness lifetime `Cache-Control` gives, if the response may be kept
/// at all (RFC 9111 §3 and §5.2.2).
pub fn lifetime(cache_control: &str) -> Option<Duration> {
    let mut max_age = None;
    for d in cache_control.split(',').map(str::trim) {
        let (k, v) = d.split_once('=').unwrap_or((d, ""));
        match k.to_ascii_lowercase().as_str() {
            "no-store" | "private" => return None,
            "max-age" => max_age = v.trim_matches('"').parse::<u64>().ok(),
            _ => {}
        }
    }
    max_age.map(Duration::from_secs)
}

/// The `Age` of a copy kept for `kept`: whole seconds (RFC 9111 §5.1).
pub fn age(kept: Duration) -> u64 {
    kept.as_secs()
}

/// An edge's configuration.
struct Edge {
    /// Its name, for `Via`.
    name: String,
    /// The origin's address.
    origin: SocketAddr,
    /// The site's name (the `Host` the origin is asked with).
    site: String,
    cache: Mutex<HashMap<String, Entry>>,
    log: Mutex<Vec<Served>>,
}

/// A running edge; stopped when dropped.
pub struct Running {
    stop: Arc<AtomicBool>,
    http: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
    edge: Arc<Edge>,
}

impl Running {
    /// What it served so far, in order.
    pub fn log(&self) -> Vec<Served> {
        self.edge.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.http.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Start the edge `name` on `at` inside `ns`, caching `site` from `origin`.
pub fn start(
    ns: &Netns,
    name: &str,
    at: SocketAddr,
    origin: SocketAddr,
    site: &str,
) -> Result<Running> {
    let listener = ns
        .run(move || TcpListener::bind(at))?
        .map_err(|e| Error::system(tx("listen on", "监听"), at, e))?;
    let http = Arc::new(
        tiny_http::Server::from_listener(listener, None)
            .map_err(|e| Error::Internal(format!("tiny_http: {e}")))?,
    );
    let edge = Arc::new(Edge {
        name: name.to_string(),
        origin,
        site: site.to_string(),
        cache: Mutex::new(HashMap::new()),
        log: Mutex::new(Vec::new()),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let (server, e, s) = (http.clone(), edge.clone(), stop.clone());
    // Inside the edge's namespace: its requests to the origin leave from there.
    let thread = ns.spawn(move || {
        while !s.load(Ordering::Relaxed) {
            match server.recv_timeout(Duration::from_millis(100)) {
                Ok(Some(req)) => {
                    let _ = e.serve(req);
                }
                Ok(None) => {}
                Err(_) => break,
            }
        }
    })?;
    Ok(Running {
        stop,
        http,
        thread: Some(thread),
        edge,
    })
}

/// A header for tiny_http (names and values here are ASCII).
fn header(name: &str, value: &str) -> Option<tiny_http::Header> {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

/// What the origin answered.
struct Fetched {
    local: SocketAddr,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn value<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl Edge {
    /// Ask the origin for `path`, conditionally when `etag` is given.
    fn fetch(&self, path: &str, etag: Option<&str>) -> std::io::Result<Fetched> {
        let mut s = TcpStream::connect_timeout(&self.origin, ORIGIN_LIMIT)?;
        s.set_read_timeout(Some(ORIGIN_LIMIT))?;
        let local = s.local_addr()?;
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nVia: 1.1 {}\r\n",
            self.site, self.name
        );
        if let Some(t) = etag {
            req.push_str(&format!("If-None-Match: {t}\r\n"));
        }
        req.push_str("Connection: close\r\n\r\n");
        s.write_all(req.as_bytes())?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp)?;
        let head = parse_response(&resp).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the origin's reply is not an HTTP response",
            )
        })?;
        Ok(Fetched {
            local,
            status: head.status,
            body: resp[head.body_at..].to_vec(),
            headers: head.headers,
        })
    }

    /// Answer one request from the cache or the origin, and log it.
    fn serve(&self, req: tiny_http::Request) -> std::io::Result<()> {
        let client = req
            .remote_addr()
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let path = req.url().split('#').next().unwrap_or("/").to_string();
        if req.method() != &tiny_http::Method::Get {
            return req.respond(tiny_http::Response::empty(405));
        }
        let (cache, status, upstream, reply) = self.lookup(&path);
        if let Ok(mut log) = self.log.lock() {
            log.push(Served {
                client,
                path,
                cache,
                status,
                upstream,
            });
        }
        req.respond(reply)
    }

    /// The response to a GET of `path`: where it came from, its status, the
    /// request made to the origin (if any), and the response itself.
    fn lookup(&self, path: &str) -> (CacheStatus, u16, Option<Upstream>, Reply) {
        let mut cache = match self.cache.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        // A fresh copy: no one else is asked.
        if let Some(e) = cache.get(path) {
            if e.stored.elapsed() < e.max_age {
                return (
                    CacheStatus::Hit,
                    200,
                    None,
                    self.serve_copy(e, CacheStatus::Hit),
                );
            }
        }
        let etag = cache.get(path).and_then(|e| e.etag.clone());
        let fetched = match self.fetch(path, etag.as_deref()) {
            Ok(f) => f,
            Err(_) => {
                let r = tiny_http::Response::from_data(b"origin unreachable\n".to_vec())
                    .with_status_code(502);
                let r = self.mark(r, CacheStatus::Miss, 0);
                return (CacheStatus::Miss, 502, None, r);
            }
        };
        let upstream = Some(Upstream {
            local: fetched.local,
            status: fetched.status,
            conditional: etag.is_some(),
        });
        if fetched.status == 304 {
            if let Some(e) = cache.get_mut(path) {
                // The origin vouches for the copy: fresh again, for the
                // lifetime the 304 gives (or the copy's own).
                if let Some(cc) = value(&fetched.headers, "Cache-Control") {
                    if let Some(l) = lifetime(cc) {
                        e.max_age = l;
                        e.cache_control = cc.to_string();
                    }
                }
                e.stored = Instant::now();
                let r = self.serve_copy(e, CacheStatus::Revalidated);
                return (CacheStatus::Revalidated, 200, upstream, r);
            }
        }
        let cc = value(&fetched.headers, "Cache-Control")
            .unwrap_or("")
            .to_string();
        let entry = Entry {
            body: fetched.body,
            content_type: value(&fetched.headers, "Content-Type")
                .unwrap_or("application/octet-stream")
                .to_string(),
            cache_control: cc.clone(),
            etag: value(&fetched.headers, "ETag").map(str::to_string),
            max_age: lifetime(&cc).unwrap_or_default(),
            stored: Instant::now(),
        };
        let mut r = self.serve_copy(&entry, CacheStatus::Miss);
        r = r.with_status_code(fetched.status);
        if fetched.status == 200 && lifetime(&cc).is_some() {
            cache.insert(path.to_string(), entry);
        } else {
            cache.remove(path);
        }
        (CacheStatus::Miss, fetched.status, upstream, r)
    }

    /// A response carrying the stored copy.
    fn serve_copy(&self, e: &Entry, cache: CacheStatus) -> Reply {
        let mut r = tiny_http::Response::from_data(e.body.clone());
        for (k, v) in [
            ("Content-Type", Some(e.content_type.as_str())),
            ("Cache-Control", Some(e.cache_control.as_str())),
            ("ETag", e.etag.as_deref()),
        ] {
            if let Some(h) = v.filter(|v| !v.is_empty()).and_then(|v| header(k, v)) {
                r = r.with_header(h);
            }
        }
        self.mark(r, cache, age(e.stored.elapsed()))
    }

    /// Add what every edge response carries: `Age`, `X-Cache`, `Via`.
    fn mark(&self, mut r: Reply, cache: CacheStatus, age: u64) -> Reply {
        for (k, v) in [
            ("Age", age.to_string()),
            ("X-Cache", cache.as_str().to_string()),
            ("Via", format!("1.1 {}", self.name)),
            ("Server", "netlab-edge".to_string()),
        ] {
            if let Some(h) = header(k, &v) {
                r = r.with_header(h);
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_gives_a_lifetime_unless_the_response_must_not_be_kept() {
        assert_eq!(lifetime("max-age=1"), Some(Duration::from_secs(1)));
        assert_eq!(
            lifetime("public, Max-Age=60"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(lifetime("max-age=\"5\""), Some(Duration::from_secs(5)));
        assert_eq!(lifetime("no-store, max-age=60"), None);
        assert_eq!(lifetime("private, max-age=60"), None);
        assert_eq!(lifetime("no-cache"), None);
        assert_eq!(lifetime(""), None);
        assert_eq!(lifetime("max-age=soon"), None);
    }

    #[test]
    fn age_is_whole_seconds() {
        assert_eq!(age(Duration::from_millis(999)), 0);
        assert_eq!(age(Duration::from_millis(1500)), 1);
    }

    /// An origin on loopback that counts its requests: the page with
    /// max-age=60 and an ETag, 304 to a request naming that ETag.
    fn origin() -> (
        SocketAddr,
        Arc<tiny_http::Server>,
        std::thread::JoinHandle<Vec<bool>>,
    ) {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let at = server.server_addr().to_ip().unwrap();
        let s = server.clone();
        let t = std::thread::spawn(move || {
            let mut conditional = Vec::new();
            for req in s.incoming_requests() {
                let inm = req.headers().iter().any(|h| h.field.equiv("If-None-Match"));
                conditional.push(inm);
                let r = if inm {
                    tiny_http::Response::from_data(Vec::new()).with_status_code(304)
                } else {
                    tiny_http::Response::from_data(b"page".to_vec())
                };
                let r = r
                    .with_header(header("Cache-Control", "max-age=60").unwrap())
                    .with_header(header("ETag", "\"v1\"").unwrap());
                let _ = req.respond(r);
            }
            conditional
        });
        (at, server, t)
    }

    #[test]
    fn a_copy_is_missed_then_hit_then_revalidated_when_stale() {
        let (at, server, t) = origin();
        let e = Edge {
            name: "e1".into(),
            origin: at,
            site: "www.course.cn".into(),
            cache: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
        };
        let (c, status, up, _) = e.lookup("/");
        assert_eq!((c, status), (CacheStatus::Miss, 200));
        assert_eq!(up.map(|u| (u.status, u.conditional)), Some((200, false)));
        let (c, _, up, _) = e.lookup("/");
        assert_eq!(c, CacheStatus::Hit);
        assert!(up.is_none(), "a HIT asks no one");
        // Age the copy past its max-age.
        e.cache.lock().unwrap().get_mut("/").unwrap().stored -= Duration::from_secs(61);
        let (c, status, up, _) = e.lookup("/");
        assert_eq!((c, status), (CacheStatus::Revalidated, 200));
        assert_eq!(up.map(|u| (u.status, u.conditional)), Some((304, true)));
        let kept = e.cache.lock().unwrap();
        assert_eq!(kept["/"].body, b"page", "the 304 kept the copy's body");
        assert!(
            kept["/"].stored.elapsed() < Duration::from_secs(60),
            "fresh again"
        );
        drop(kept);
        server.unblock();
        assert_eq!(
            t.join().unwrap(),
            [false, true],
            "two requests reached the origin"
        );
    }

    #[test]
    fn x_cache_reads_back() {
        for c in [
            CacheStatus::Miss,
            CacheStatus::Hit,
            CacheStatus::Revalidated,
        ] {
            assert_eq!(CacheStatus::parse(c.as_str()), Some(c));
        }
        assert_eq!(CacheStatus::parse("STALE"), None);
    }
}
