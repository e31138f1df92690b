//! The farm's clients: one HTTP GET per TCP connection, from a client's
//! namespace, written as bytes and read to the server's close (httparse), so
//! what the demo reports is what crossed the wire.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime};

use crate::error::Result;
use crate::lab::netns::Netns;

/// How long one request may take in all.
pub const LIMIT: Duration = Duration::from_secs(3);

/// One request and what came back.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The client host (`c1`, `c2`).
    pub client: String,
    /// The client's source port: which connection in a capture.
    pub port: u16,
    /// The path asked for.
    pub path: String,
    /// When the request began.
    pub at: SystemTime,
    /// How long it took.
    pub elapsed: Duration,
    /// The response's status (none: no response).
    pub status: Option<u16>,
    /// The response body.
    pub body: String,
    /// What went wrong, when no response came (English).
    pub error: Option<String>,
}

impl Answer {
    /// A 2xx response came back.
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The request bytes: one GET, closing the connection after it.
pub fn request(host: &str, path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: netlab\r\nConnection: close\r\n\r\n"
    )
}

fn exchange(to: SocketAddr, req: &[u8]) -> (u16, std::io::Result<Vec<u8>>) {
    let mut port = 0;
    let got = (|| {
        let mut s = TcpStream::connect_timeout(&to, LIMIT)?;
        port = s.local_addr()?.port();
        s.set_read_timeout(Some(LIMIT))?;
        s.write_all(req)?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)?;
        Ok(buf)
    })();
    (port, got)
}

/// Parse a whole response: its status and body.
pub fn parse(bytes: &[u8]) -> Option<(u16, String)> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut r = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(n) = r.parse(bytes).ok()? else {
        return None;
    };
    Some((r.code?, String::from_utf8_lossy(&bytes[n..]).into_owned()))
}

/// One request, on the calling thread (which must be in the client's
/// namespace): the answer, or what went wrong.
fn one(client: &str, to: SocketAddr, host: &str, path: &str) -> Answer {
    let req = request(host, path);
    let at = SystemTime::now();
    let t = Instant::now();
    let (port, got) = exchange(to, req.as_bytes());
    let mut a = Answer {
        client: client.to_string(),
        port,
        path: path.to_string(),
        at,
        elapsed: t.elapsed(),
        status: None,
        body: String::new(),
        error: None,
    };
    match got {
        Ok(bytes) => match parse(&bytes) {
            Some((status, body)) => {
                a.status = Some(status);
                a.body = body;
            }
            None if bytes.is_empty() => {
                a.error = Some("the connection closed with no response".into())
            }
            None => a.error = Some("an unreadable response".into()),
        },
        Err(e) => a.error = Some(e.to_string()),
    }
    a
}

/// GET `path` from `to` with Host `host`, on a thread in `from`'s namespace.
pub fn get(from: &Netns, to: SocketAddr, host: &str, path: &str) -> Result<Answer> {
    from.run(|| one(&from.name, to, host, path))
}

/// `lanes` requesters at once in each of `clients`, each making
/// `per_lane` requests one after another: every answer, in the order the
/// requests began.
pub fn parallel(
    clients: &[&Netns],
    lanes: usize,
    per_lane: usize,
    to: SocketAddr,
    host: &str,
) -> Result<Vec<Answer>> {
    let mut handles = Vec::new();
    for c in clients {
        for _ in 0..lanes {
            let (host, name) = (host.to_string(), c.name.clone());
            handles.push(c.spawn(move || {
                (0..per_lane)
                    .map(|_| one(&name, to, &host, "/"))
                    .collect::<Vec<_>>()
            })?);
        }
    }
    let mut all = Vec::new();
    for h in handles {
        let got = h
            .join()
            .map_err(|_| crate::error::Error::Internal("a client thread panicked".into()))??;
        all.extend(got);
    }
    all.sort_by_key(|a| a.at);
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_read_into_status_and_body() {
        let r = b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 4\r\n\r\nnope";
        assert_eq!(parse(r), Some((502, "nope".into())));
        assert_eq!(parse(b"HTTP/1.1 200"), None, "cut short");
        assert_eq!(parse(b""), None);
        assert!(request("lab", "/static/a.css").starts_with("GET /static/a.css HTTP/1.1\r\n"));
    }
}
