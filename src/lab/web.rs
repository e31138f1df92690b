//! The engine of `url`: a web server on h3 (tiny_http), the lab.edu.cn zone
//! served on h2 (the LAN's DNS server), and one fetch from h1, captured on
//! h1's link. No narration here.
//!
//! h1 asks h2 for the URL's host (same LAN: an ARP for h2 first), then opens
//! a TCP connection to the answer across r1 (an ARP for its gateway), sends
//! the request line and Host header, reads the response to the close. The
//! request is written as bytes and the response parsed by httparse, so the
//! demo can show exactly what went on the wire.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RData, RecordType};
use serde::Serialize;

use crate::dns::client::{self, Transport};
use crate::error::{Error, Result};
use crate::lab::capture::{Capture, Frame};
use crate::lab::netns::Netns;
use crate::lab::zones::{Zone, BUILTIN};
use crate::text::tx;

/// The page the lab's web server serves at `/index.html` (and `/`).
pub const INDEX: &str = "<!doctype html>\n<html lang=\"zh\">\n<head><meta charset=\"utf-8\"><title>lab.edu.cn</title></head>\n<body><h1>你好，netlab</h1><p>h3 · 203.0.113.10 · lab.edu.cn</p></body>\n</html>\n";

/// The lab web server's one port (HTTP's well-known port): like a real host,
/// h3 answers a connection to any other port with RST, nothing listening there.
pub const PORT: u16 = 80;

/// How long a fetch may take in all.
pub const FETCH_LIMIT: Duration = Duration::from_secs(5);

/// A lab service that could not start, serving at `at`.
fn serving(at: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::system(tx("listen on", "监听"), at, e)
}

/// The lab.edu.cn zone, as the loopback DNS lab serves it.
pub fn lab_zone() -> Result<Zone> {
    let (file, text) = BUILTIN
        .iter()
        .find(|(f, _)| *f == "lab.edu.cn.zone")
        .ok_or_else(|| Error::Internal("lab.edu.cn.zone is not built in".into()))?;
    Zone::parse(file, text)
}

/// The services `url` needs, running until dropped: DNS on h2, HTTP on h3.
pub struct Services {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    http: Arc<tiny_http::Server>,
}

impl Drop for Services {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.http.unblock();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Serve the lab.edu.cn zone on `dns_at`:53 inside `dns_ns`, and HTTP on
/// `web_at` inside `web_ns`, and on no other port. `url` gives h3's address
/// and [`PORT`]: whatever port a URL names, the server does not move to meet it.
pub fn serve(
    dns_ns: &Netns,
    dns_at: Ipv4Addr,
    web_ns: &Netns,
    web_at: SocketAddr,
) -> Result<Services> {
    let stop = Arc::new(AtomicBool::new(false));
    let zone = lab_zone()?;
    let dns_addr = SocketAddr::from((dns_at, 53));
    let udp = dns_ns
        .run(move || UdpSocket::bind(dns_addr))?
        .map_err(serving(dns_addr))?;
    udp.set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(serving(dns_addr))?;
    let s = stop.clone();
    let dns = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while !s.load(Ordering::Relaxed) {
            let Ok((n, from)) = udp.recv_from(&mut buf) else {
                continue;
            };
            let Ok(req) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            // A response (QR=1) gets no answer, as from every lab server:
            // answering one could set two servers replying to each other forever.
            let via = crate::lab::dns::Via {
                client: from,
                tcp: false,
            };
            let options = crate::lab::dns::Options::default();
            let reply = match crate::lab::dns::answer(&[&zone], "h2", options, &req, via) {
                crate::lab::dns::Reply::One(m) => m,
                crate::lab::dns::Reply::Transfer(mut ms) if !ms.is_empty() => ms.swap_remove(0),
                _ => continue,
            };
            let _ = udp.send_to(&crate::lab::dns::encode_udp(&req, reply), from);
        }
    });
    let listener = web_ns
        .run(move || TcpListener::bind(web_at))?
        .map_err(serving(web_at))?;
    let http = Arc::new(
        tiny_http::Server::from_listener(listener, None)
            .map_err(|e| Error::Internal(format!("tiny_http: {e}")))?,
    );
    let server = http.clone();
    let s = stop.clone();
    let web = std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            match server.recv_timeout(Duration::from_millis(100)) {
                Ok(Some(req)) => {
                    let _ = answer(req);
                }
                Ok(None) => {}
                Err(_) => break,
            }
        }
    });
    Ok(Services {
        stop,
        threads: vec![dns, web],
        http,
    })
}

/// The lab's web server: the page at / and /index.html, 404 elsewhere.
fn answer(req: tiny_http::Request) -> std::io::Result<()> {
    let path = req
        .url()
        .split(['?', '#'])
        .next()
        .unwrap_or("/")
        .to_string();
    let html =
        tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"text/html; charset=utf-8"[..])
            .map_err(|()| std::io::Error::other("header"))?;
    if req.method() == &tiny_http::Method::Get && (path == "/" || path == "/index.html") {
        req.respond(tiny_http::Response::from_string(INDEX).with_header(html))
    } else {
        req.respond(
            tiny_http::Response::from_string("<!doctype html><title>404</title><p>Not Found</p>\n")
                .with_status_code(404)
                .with_header(html),
        )
    }
}

/// What the lab's DNS server answered.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Lookup {
    /// The server asked (h2, port 53).
    pub server: SocketAddr,
    /// The address in the answer (null: none).
    pub address: Option<Ipv4Addr>,
    /// The reply's RCODE (NOERROR, NXDOMAIN …), or why there was none.
    pub rcode: String,
    /// Whether the answer was authoritative (AA=1).
    pub authoritative: bool,
    /// The answer's TTL, seconds.
    pub ttl: Option<u32>,
    /// From the query to the answer, milliseconds.
    pub ms: f64,
}

/// The HTTP exchange, over one fresh TCP connection.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Exchange {
    /// Where h1 connected: the server's address and the URL's port.
    pub to: SocketAddr,
    /// h1's own address and port.
    pub from: SocketAddr,
    /// connect()'s time: the three-way handshake, milliseconds.
    pub connect_ms: f64,
    /// The request as sent (not in JSON: the request step shows it).
    #[serde(skip)]
    pub request: Vec<u8>,
    /// The response's status code.
    pub status: u16,
    /// The status line's reason phrase.
    pub reason: String,
    /// The response's header lines, name and value.
    pub headers: Vec<(String, String)>,
    /// The body's length in bytes.
    pub body_bytes: usize,
    /// The body (not in JSON: the response step quotes it).
    #[serde(skip)]
    pub body: Vec<u8>,
    /// From connect() to the close, milliseconds.
    pub total_ms: f64,
}

/// Ask `server` (from inside `ns`) for the A record of `host`.
pub fn lookup(ns: &Netns, server: SocketAddr, host: &str) -> Result<Lookup> {
    let name = Name::from_ascii(format!("{}.", host.trim_end_matches('.'))).map_err(|e| {
        let q = crate::error::quote(host);
        Error::usage(tx(
            format!("{} is not a host name DNS can ask for: {e}", q.en),
            format!("{} 不是 DNS 能查询的主机名：{e}", q.zh),
        ))
    })?;
    let query = client::build_query(&name, RecordType::A, true);
    let ex =
        ns.run(move || client::exchange(server, &query, Transport::Udp, Duration::from_secs(2)))?;
    let ms = ex.rtt.as_secs_f64() * 1e3;
    let Some(reply) = ex.reply else {
        return Ok(Lookup {
            server,
            address: None,
            rcode: ex
                .failure
                .map(|f| f.to_string())
                .unwrap_or_else(|| "no reply".into()),
            authoritative: false,
            ttl: None,
            ms,
        });
    };
    let a = reply.answers.iter().find_map(|r| match &r.data {
        RData::A(a) => Some((a.0, r.ttl)),
        _ => None,
    });
    Ok(Lookup {
        server,
        address: a.map(|a| a.0),
        rcode: crate::wire::dns::rcode_name(u16::from(reply.metadata.response_code)),
        authoritative: reply.metadata.authoritative,
        ttl: a.map(|a| a.1),
        ms,
    })
}

/// The request a browser would send for `path` on `host` (fewer headers).
pub fn request(host_header: &str, path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: netlab/{}\r\nAccept: text/html\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// A response's head, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Header lines, in order.
    pub headers: Vec<(String, String)>,
    /// Where the body starts.
    pub body_at: usize,
}

/// Parse a whole response's head: status, reason, headers, and where the body starts.
pub fn parse_response(bytes: &[u8]) -> Option<Head> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut r = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(at) = r.parse(bytes).ok()? else {
        return None;
    };
    let hs = r
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    Some(Head {
        status: r.code?,
        reason: r.reason.unwrap_or("").to_string(),
        headers: hs,
        body_at: at,
    })
}

/// Connect from inside `ns` to `to`, send `req`, read to the close.
pub fn fetch(ns: &Netns, to: SocketAddr, req: Vec<u8>) -> Result<Exchange> {
    let got = ns.run(move || -> std::io::Result<Exchange> {
        let t = Instant::now();
        let mut s = TcpStream::connect_timeout(&to, FETCH_LIMIT)?;
        let connect_ms = t.elapsed().as_secs_f64() * 1e3;
        s.set_read_timeout(Some(FETCH_LIMIT))?;
        let from = s.local_addr()?;
        s.write_all(&req)?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp)?;
        let total_ms = t.elapsed().as_secs_f64() * 1e3;
        let Head {
            status,
            reason,
            headers,
            body_at: at,
        } = parse_response(&resp).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the reply is not an HTTP response",
            )
        })?;
        let body = resp[at..].to_vec();
        Ok(Exchange {
            to,
            from,
            connect_ms,
            request: req,
            status,
            reason,
            headers,
            body_bytes: body.len(),
            body,
            total_ms,
        })
    })?;
    got.map_err(|e| Error::system(tx("fetch from", "访问"), to, e))
}

/// Start capturing on h1's link.
pub fn capture(ns: &Netns) -> Result<Capture> {
    Capture::start(ns, "eth0")
}

/// The captured frames, once the last FIN's ACK has had time to arrive.
pub fn stop(cap: Capture) -> Result<Vec<Frame>> {
    std::thread::sleep(Duration::from_millis(30));
    cap.stop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_names_the_path_and_the_host() {
        let r = String::from_utf8(request("www.lab.edu.cn", "/index.html?q=1")).unwrap();
        assert!(r.starts_with("GET /index.html?q=1 HTTP/1.1\r\nHost: www.lab.edu.cn\r\n"));
        assert!(r.ends_with("\r\n\r\n"));
    }

    #[test]
    fn a_response_is_parsed_and_a_partial_one_is_not() {
        let b = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
        let h = parse_response(b).unwrap();
        assert_eq!(
            (h.status, h.reason.as_str(), &b[h.body_at..]),
            (200, "OK", &b"hi"[..])
        );
        assert_eq!(h.headers, [("Content-Length".to_string(), "2".to_string())]);
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-").is_none());
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n").is_none());
    }

    #[test]
    fn the_zone_answers_www_with_h3() {
        let z = lab_zone().unwrap();
        let name = Name::from_ascii("www.lab.edu.cn.").unwrap();
        let a = z.rrset(&name, RecordType::A);
        assert!(matches!(&a[0].data, RData::A(a) if a.0 == crate::lab::topology::H3));
    }
}

/// The frames of a fetch, by what they were for.
#[derive(Clone, Debug, Default)]
pub struct Phases {
    /// ARP for the DNS server, and the query and answer.
    pub lookup: Vec<Frame>,
    /// ARP for the gateway (or for the server, when it is on the same LAN).
    pub arp: Vec<Frame>,
    /// SYN, SYN+ACK, ACK.
    pub handshake: Vec<Frame>,
    /// The request's segments and their ACKs.
    pub request: Vec<Frame>,
    /// The response's segments and their ACKs.
    pub response: Vec<Frame>,
    /// FINs and what follows.
    pub close: Vec<Frame>,
}

/// Sort a fetch's frames (in time order) into its phases: `dns` is the DNS
/// server's address, `port` the client's TCP port.
pub fn phases(frames: &[Frame], dns: Option<Ipv4Addr>, port: u16) -> Phases {
    use crate::wire::frame::{ethernet_frame, Kind};
    let mut p = Phases::default();
    let mut seen_response = false;
    let mut closing = false;
    for f in frames {
        let Ok(d) = ethernet_frame(&f.bytes) else {
            continue;
        };
        match d.kind {
            Kind::Arp { spa, tpa, .. } => {
                if dns.is_some_and(|a| a == spa || a == tpa) {
                    p.lookup.push(f.clone());
                } else {
                    p.arp.push(f.clone());
                }
            }
            Kind::Ipv4 {
                udp: Some((sp, dp, _)),
                ..
            } if sp == 53 || dp == 53 => p.lookup.push(f.clone()),
            Kind::Ipv4 {
                tcp: Some(h),
                payload_len,
                ..
            } if h.src_port == port || h.dst_port == port => {
                let from_client = h.src_port == port;
                if h.flags & 0x05 != 0 {
                    // FIN or RST
                    closing = true;
                }
                if closing {
                    p.close.push(f.clone());
                } else if payload_len > 0 && !from_client {
                    seen_response = true;
                    p.response.push(f.clone());
                } else if seen_response {
                    p.response.push(f.clone());
                } else if payload_len > 0 || !p.request.is_empty() {
                    p.request.push(f.clone());
                } else {
                    p.handshake.push(f.clone());
                }
            }
            _ => {}
        }
    }
    p
}

/// One layer of a frame: its name, the bytes it takes.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Layer {
    /// Ethernet, IPv4, TCP or HTTP.
    pub name: &'static str,
    /// Its first byte in the frame.
    pub start: usize,
    /// One past its last byte.
    pub end: usize,
}

/// The layers of an Ethernet + IPv4 + TCP frame carrying HTTP.
pub fn layers(frame: &[u8]) -> Option<Vec<Layer>> {
    let d = crate::wire::frame::ethernet_frame(frame).ok()?;
    let crate::wire::frame::Kind::Ipv4 { tcp: Some(h), .. } = d.kind else {
        return None;
    };
    let eth = crate::wire::ethernet::HEADER_LEN;
    let ihl = usize::from(frame.get(eth)? & 0x0f) * 4;
    let tcp_end = eth + ihl + h.header_len;
    (tcp_end < frame.len()).then(|| {
        vec![
            Layer {
                name: "Ethernet",
                start: 0,
                end: eth,
            },
            Layer {
                name: "IPv4",
                start: eth,
                end: eth + ihl,
            },
            Layer {
                name: "TCP",
                start: eth + ihl,
                end: tcp_end,
            },
            Layer {
                name: "HTTP",
                start: tcp_end,
                end: frame.len(),
            },
        ]
    })
}
