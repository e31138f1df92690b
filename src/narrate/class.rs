//! The class sink (`--class URL`, or `NETLAB_CLASS=URL`): every line of the
//! run, exactly as `--json` prints it, posted to a `netlab serve` so that a
//! class follows the run in their browsers.
//!
//! The run never waits for the server: lines go into a bounded queue that a
//! background thread drains with one `POST /publish` per line. If the server
//! cannot be reached, refuses a line, or the queue is full, the run goes on
//! and says so once on stderr; the lines after that are not sent.
//!
//! Owns the publishing client; not the server ([`crate::classroom`]).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::time::Duration;

use super::{Lang, Line, Sink};
use crate::error::{Error, Result};
use crate::text::tx;

/// How many lines may wait for the server before the run stops publishing.
const QUEUE: usize = 4096;
/// How long one post may take (connect, write, read the status).
const POST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the end of the run waits for the queue to drain.
const DRAIN: Duration = Duration::from_secs(10);

/// Where a run publishes: the server's address, and the token a server not on
/// loopback wants (the `token` of the URL's query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassUrl {
    /// The server's socket address.
    pub addr: SocketAddr,
    /// The `host:port` written in the URL (the Host header).
    pub host: String,
    /// The publishing token (`?token=…`), if any.
    pub token: Option<String>,
}

impl ClassUrl {
    /// Parse `http://HOST:PORT[/][?token=T]`; anything else is a usage error.
    pub fn parse(s: &str) -> Result<ClassUrl> {
        let bad = |why_en: &str, why_zh: &str| {
            Error::usage(tx(
                format!("--class {s}: {why_en}; give the address netlab serve printed, e.g. http://127.0.0.1:8053"),
                format!("--class {s}：{why_zh}；请给出 netlab serve 打印的地址，例如 http://127.0.0.1:8053"),
            ))
        };
        let u = url::Url::parse(s).map_err(|_| bad("not a URL", "不是 URL"))?;
        if u.scheme() != "http" {
            return Err(bad("only http:// is served", "只支持 http://"));
        }
        let host = u
            .host_str()
            .ok_or_else(|| bad("no host", "没有主机"))?
            .to_string();
        let port = u.port_or_known_default().unwrap_or(80);
        let addr = (host.trim_matches(|c| c == '[' || c == ']'), port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| bad("the host has no address", "主机没有地址"))?;
        let token = u
            .query_pairs()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned());
        Ok(ClassUrl {
            addr,
            host: format!("{host}:{port}"),
            token,
        })
    }
}

enum Msg {
    Line(String),
    End(SyncSender<()>),
}

/// Posts every line to a class server from a background thread.
pub struct ClassSink {
    tx: Option<SyncSender<Msg>>,
    lang: Lang,
    /// Said already that lines are being dropped (a full queue).
    said_full: bool,
}

impl ClassSink {
    /// A sink publishing to `url`, saying any trouble in `lang`.
    pub fn new(url: ClassUrl, lang: Lang) -> ClassSink {
        let (tx, rx) = sync_channel(QUEUE);
        let run = format!(
            "{:016x}{:016x}",
            rand::random::<u64>(),
            rand::random::<u64>()
        );
        let spawned = std::thread::Builder::new()
            .name("netlab-class".into())
            .spawn(move || publish(&url, &run, rx, lang));
        ClassSink {
            tx: spawned.is_ok().then_some(tx),
            lang,
            said_full: false,
        }
    }
}

/// One POST of `body` to `/publish`; the status code.
fn post(url: &ClassUrl, run: &str, end: bool, body: &str) -> std::io::Result<u16> {
    let mut s = TcpStream::connect_timeout(&url.addr, POST_TIMEOUT)?;
    s.set_read_timeout(Some(POST_TIMEOUT))?;
    s.set_write_timeout(Some(POST_TIMEOUT))?;
    let mut query = format!("run={run}");
    if end {
        query.push_str("&end=1");
    }
    if let Some(t) = &url.token {
        query.push_str("&token=");
        query.push_str(&url::form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>());
    }
    let head = format!(
        "POST /publish?{query} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        url.host,
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body.as_bytes())?;
    let mut status = [0u8; 12];
    s.read_exact(&mut status)?;
    std::str::from_utf8(&status[9..12])
        .ok()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP reply"))
}

/// The background thread: post each line until the server fails once.
fn publish(url: &ClassUrl, run: &str, rx: Receiver<Msg>, lang: Lang) {
    let mut broken = false;
    for msg in rx {
        let (body, end, done) = match msg {
            Msg::Line(l) => (l, false, None),
            Msg::End(done) => (String::new(), true, Some(done)),
        };
        if !broken {
            let result = post(url, run, end, &body);
            let trouble = match result {
                Ok(code) if code < 300 => None,
                Ok(code) => Some(format!("HTTP {code}")),
                Err(e) => Some(e.to_string()),
            };
            if let Some(why) = trouble {
                broken = true;
                let m = tx(
                    format!("netlab: the class server at {} stopped taking this run ({why}); the run goes on without it", url.host),
                    format!("netlab：{} 上的课堂服务器不再接收本次运行（{why}）；运行照常继续，不再发布", url.host),
                );
                eprintln!("{}", m.get(lang));
            }
        }
        if let Some(done) = done {
            let _ = done.send(());
            return;
        }
    }
}

impl Sink for ClassSink {
    fn line(&mut self, line: &Line) -> Result<()> {
        let Some(queue) = &self.tx else { return Ok(()) };
        let json = serde_json::to_string(line)
            .map_err(|e| Error::Output(std::io::Error::other(e.to_string())))?;
        match queue.try_send(Msg::Line(json)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) if !self.said_full => {
                self.said_full = true;
                let m = tx(
                    "netlab: the class server is too slow; some lines of this run were not published",
                    "netlab：课堂服务器太慢；本次运行有些记录没有发布",
                );
                eprintln!("{}", m.get(self.lang));
            }
            Err(_) => {}
        }
        Ok(())
    }

    /// Tell the server the run is over, and wait (a bounded time) for the
    /// queue to drain, so a short run's lines all arrive before it exits.
    fn finish(&mut self) -> Result<()> {
        if let Some(tx) = self.tx.take() {
            let (done_tx, done_rx) = sync_channel(1);
            if tx.send(Msg::End(done_tx)).is_ok() {
                let _ = done_rx.recv_timeout(DRAIN);
            }
        }
        Ok(())
    }

    fn is_file(&self) -> bool {
        true
    }
}

/// A run that ended in an error is not finished by the narrator: the lines
/// it published are still delivered (within the same bound).
impl Drop for ClassSink {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_class_url_is_http_with_an_address_and_maybe_a_token() {
        let u = ClassUrl::parse("http://127.0.0.1:8053/?token=ab%2Bc").unwrap();
        assert_eq!(u.addr, "127.0.0.1:8053".parse().unwrap());
        assert_eq!(u.token.as_deref(), Some("ab+c"));
        assert_eq!(u.host, "127.0.0.1:8053");
        for bad in ["https://127.0.0.1:1/", "127.0.0.1:8053", "ftp://x/"] {
            let e = ClassUrl::parse(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn a_server_that_is_gone_never_stops_the_run() {
        // A port that nobody listens on (bound, then closed).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = ClassUrl::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let mut sink = ClassSink::new(url, Lang::En);
        let line = Line {
            schema: crate::record::SCHEMA.into(),
            demo: "x".into(),
            seq: 1,
            body: crate::record::Body::Summary(Box::default()),
        };
        for _ in 0..(QUEUE * 2) {
            sink.line(&line).unwrap();
        }
        sink.finish().unwrap();
    }
}
