//! One DNS exchange over UDP or TCP, with the checks a real resolver makes.
//!
//! A reply counts only if it comes from the address we asked, carries our
//! query id and repeats our question; anything else is ignored and counted
//! (RFC 5452: this is what stops blind cache poisoning). Blocking std sockets
//! with timeouts: every exchange has a hard upper bound in time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant, SystemTime};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

/// Largest UDP payload we accept.
const MAX_UDP: usize = 65535;
/// The largest UDP reply a client that sent no EDNS may be sent (RFC 1035 §4.2.1).
pub const CLASSIC_UDP: usize = 512;

/// UDP or TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// One datagram each way.
    Udp,
    /// A connection; each message prefixed by its 2-byte length (RFC 1035 §4.2.2).
    Tcp,
}

impl Transport {
    /// "udp" or "tcp".
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// Why an exchange produced no usable reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Nothing acceptable arrived in time.
    Timeout,
    /// The server's host refused (ICMP port unreachable, TCP RST).
    Refused,
    /// The reply could not be decoded.
    Malformed(String),
    /// A UDP reply larger than the 512 bytes we can accept without EDNS.
    Oversized(usize),
    /// A local socket error.
    Io(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Timeout => write!(f, "timed out"),
            Failure::Refused => write!(f, "connection refused"),
            Failure::Malformed(e) => write!(f, "malformed reply: {e}"),
            Failure::Oversized(n) => write!(f, "oversized reply: {n} bytes over UDP, but a client without EDNS accepts at most 512"),
            Failure::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Everything about one query and its reply.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// Who was asked.
    pub server: SocketAddr,
    /// How.
    pub transport: Transport,
    /// The query as sent.
    pub query_bytes: Vec<u8>,
    /// The accepted reply's bytes.
    pub reply_bytes: Option<Vec<u8>>,
    /// The accepted reply, decoded.
    pub reply: Option<Message>,
    /// Time from send to the accepted reply (or to giving up).
    pub rtt: Duration,
    /// Why there is no reply.
    pub failure: Option<Failure>,
    /// Datagrams that arrived but were not our answer (wrong source, id or question).
    pub ignored: u32,
    /// Why each ignored datagram was ignored: "wrong_source", "wrong_id", "wrong_question".
    pub ignored_why: Vec<&'static str>,
    /// Our end of the exchange. Towards a server on loopback the socket is bound
    /// to 127.0.0.1 (or ::1), so this is exact; elsewhere it is the wildcard the
    /// socket was bound to, and [`Exchange::source`] resolves it when needed.
    pub local: Option<SocketAddr>,
    /// Wall-clock time the query was handed to the kernel (just before the send).
    pub sent_at: SystemTime,
    /// Wall-clock time the accepted reply was taken from the socket.
    pub received_at: Option<SystemTime>,
}

impl Exchange {
    /// Our end as the server saw it: the socket's port, and the source address the
    /// kernel routes towards the server. Exact at once towards loopback (see
    /// [`bind_towards`]); elsewhere a throwaway connected socket asks the kernel.
    pub fn source(&self) -> Option<SocketAddr> {
        let local = self.local?;
        if !local.ip().is_unspecified() {
            return Some(local);
        }
        let probe = UdpSocket::bind(if self.server.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        })
        .ok()?;
        probe.connect(self.server).ok()?;
        Some(SocketAddr::new(probe.local_addr().ok()?.ip(), local.port()))
    }
}

/// Build a standard query.
pub fn build_query(name: &Name, qtype: RecordType, recursion_desired: bool) -> Message {
    let mut m = Message::new(rand::random(), MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = recursion_desired;
    m.add_query(Query::query(name.clone(), qtype));
    m
}

fn same_question(q: &Message, r: &Message) -> bool {
    match (q.queries.first(), r.queries.first()) {
        (Some(a), Some(b)) => {
            a.query_type() == b.query_type()
                && a.query_class() == b.query_class()
                && a.name().eq_ignore_root(b.name())
        }
        _ => false,
    }
}

/// Send `query` to `server` and wait at most `timeout` for its reply.
///
/// `rtt` runs from just before the query is handed to the kernel (for TCP,
/// before the connection is opened) to the accepted reply, as dig and ping
/// measure it.
pub fn exchange(
    server: SocketAddr,
    query: &Message,
    transport: Transport,
    timeout: Duration,
) -> Exchange {
    let query_bytes = query.to_vec().unwrap_or_default();
    let mut ex = Exchange {
        server,
        transport,
        query_bytes,
        reply_bytes: None,
        reply: None,
        rtt: Duration::ZERO,
        failure: None,
        ignored: 0,
        ignored_why: Vec::new(),
        local: None,
        sent_at: SystemTime::now(),
        received_at: None,
    };
    let mut start = Instant::now();
    let result = match transport {
        Transport::Udp => udp(&mut ex, query, timeout, &mut start),
        Transport::Tcp => tcp(&mut ex, timeout).map(|b| (b, None)),
    };
    ex.rtt = start.elapsed();
    match result {
        Ok((bytes, decoded)) => match decoded.map_or_else(|| Message::from_vec(&bytes), Ok) {
            Ok(msg) if msg.metadata.id == query.metadata.id && same_question(query, &msg) => {
                ex.reply = Some(msg);
                ex.reply_bytes = Some(bytes);
            }
            Ok(_) => ex.failure = Some(Failure::Malformed("reply does not match the query".into())),
            Err(e) => {
                ex.failure = Some(Failure::Malformed(e.to_string()));
                ex.reply_bytes = Some(bytes);
            }
        },
        Err(f) => ex.failure = Some(f),
    }
    ex
}

/// Where a client socket towards `server` binds: 127.0.0.1 (or ::1) for a
/// server on loopback, so the socket's own address is the packet's source
/// without asking the routing table; the wildcard elsewhere.
pub fn bind_towards(server: SocketAddr) -> SocketAddr {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let ip = match (server.ip().is_loopback(), server.is_ipv4()) {
        (true, true) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        (true, false) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        (false, true) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        (false, false) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    SocketAddr::new(ip, 0)
}

fn io_failure(e: std::io::Error) -> Failure {
    use std::io::ErrorKind::*;
    match e.kind() {
        WouldBlock | TimedOut => Failure::Timeout,
        ConnectionRefused | ConnectionReset => Failure::Refused,
        _ => Failure::Io(e.to_string()),
    }
}

thread_local! {
    /// The receive buffer of this thread's exchanges: zeroed once, not once per
    /// query (64 KiB, so the largest datagram's length can be told).
    static RECEIVE: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; MAX_UDP]);
}

/// The accepted reply's bytes, and the message if the checks already decoded it.
type Received = (Vec<u8>, Option<Message>);

fn udp(
    ex: &mut Exchange,
    query: &Message,
    timeout: Duration,
    start: &mut Instant,
) -> Result<Received, Failure> {
    if timeout.is_zero() {
        return Err(Failure::Timeout);
    }
    let sock = UdpSocket::bind(bind_towards(ex.server)).map_err(io_failure)?;
    if ex.server.is_ipv4() {
        // Let an ICMP port unreachable reach this unconnected socket: a closed
        // port is then "refused" at once, not a silent server after the timeout.
        let _ = nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::Ipv4RecvErr, &true);
    }
    ex.local = sock.local_addr().ok();
    sock.set_read_timeout(Some(timeout)).map_err(io_failure)?;
    *start = Instant::now();
    ex.sent_at = SystemTime::now();
    sock.send_to(&ex.query_bytes, ex.server)
        .map_err(io_failure)?;
    let want_id = query.metadata.id;
    RECEIVE.with_borrow_mut(|buf| loop {
        let (n, from) = sock.recv_from(buf).map_err(io_failure)?;
        let arrived = SystemTime::now();
        let bytes = &buf[..n];
        let mut decoded = None;
        let why = if from != ex.server {
            Some("wrong_source")
        } else if n < 2 || u16::from_be_bytes([bytes[0], bytes[1]]) != want_id {
            Some("wrong_id")
        } else {
            // Same source and id: decode enough to check the question too.
            match Message::from_vec(bytes) {
                Ok(m) if !same_question(query, &m) => Some("wrong_question"),
                Ok(m) => {
                    decoded = Some(m);
                    None
                }
                Err(_) => None,
            }
        };
        if let Some(why) = why {
            ex.ignored += 1;
            ex.ignored_why.push(why);
            // Wait only for what is left of the timeout.
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(Failure::Timeout);
            }
            sock.set_read_timeout(Some(left)).map_err(io_failure)?;
            continue;
        }
        ex.received_at = Some(arrived);
        if n > CLASSIC_UDP {
            return Err(Failure::Oversized(n));
        }
        return Ok((bytes.to_vec(), decoded));
    })
}

fn tcp(ex: &mut Exchange, timeout: Duration) -> Result<Vec<u8>, Failure> {
    let deadline = Instant::now() + timeout;
    let mut s = TcpStream::connect_timeout(&ex.server, timeout).map_err(io_failure)?;
    ex.local = s.local_addr().ok();
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    s.set_write_timeout(Some(left())).map_err(io_failure)?;
    let len =
        u16::try_from(ex.query_bytes.len()).map_err(|_| Failure::Io("query too long".into()))?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(&ex.query_bytes);
    ex.sent_at = SystemTime::now();
    s.write_all(&framed).map_err(io_failure)?;
    s.set_read_timeout(Some(left())).map_err(io_failure)?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).map_err(io_failure)?;
    let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
    s.set_read_timeout(Some(left())).map_err(io_failure)?;
    s.read_exact(&mut body).map_err(io_failure)?;
    ex.received_at = Some(SystemTime::now());
    Ok(body)
}

/// Ask the recursive server; a truncated UDP reply is asked again over TCP.
/// Every exchange is returned, the UDP one first.
pub fn ask_recursive(
    name: &Name,
    qtype: RecordType,
    server: SocketAddr,
    timeout: Duration,
) -> Vec<Exchange> {
    let q = build_query(name, qtype, true);
    let ex = exchange(server, &q, Transport::Udp, timeout);
    if ex.reply.as_ref().is_some_and(|m| m.metadata.truncation) {
        let tcp = exchange(server, &q, Transport::Tcp, timeout);
        return vec![ex, tcp];
    }
    vec![ex]
}
