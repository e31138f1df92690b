//! The stub resolver of stage 2: a real lookup with hickory-resolver, as a
//! program's resolver library makes it. In the lab it is pointed at the lab's
//! recursive server; with `--live` it is configured from /etc/resolv.conf by
//! hickory's `system_conf`, which reads servers, search list and options as
//! glibc does (netlab keeps glibc's limit of three servers, MAXNS).
//!
//! Its sockets are wrapped so every DNS message it sends and receives is
//! recorded, bytes and time, at the socket: the packets of the lookup are then
//! shown and written to `--pcap` without any capture privilege. That includes
//! TCP, which the stub opens only after a truncated (TC=1) UDP reply: the
//! stream is cut into its length-prefixed messages as it is written and read.
//!
//! Towards the lab it asks as glibc does by default: no EDNS (so a reply over
//! 512 bytes comes back truncated, and is asked again over TCP).
//!
//! The same name is looked up twice: the second answer comes from the stub's
//! own cache, with no packet at all. A special-use name (RFC 6761: `localhost`,
//! `invalid`) is answered by the stub itself, with no packet either: each
//! [`Lookup`] says which ([`Source`]).

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use hickory_proto::rr::{Name, Record, RecordType};
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::iocompat::AsyncIoTokioAsStd;
use hickory_resolver::net::runtime::{
    DnsUdpSocket, RuntimeProvider, TokioHandle, TokioRuntimeProvider, TokioTime,
};
use hickory_resolver::Resolver;
use tokio::net::{TcpStream, UdpSocket};

use super::client::{bind_towards, Transport};
use crate::error::{Error, Result};
use crate::text::tx;

/// glibc reads at most this many `nameserver` lines (MAXNS in resolv.h).
pub const MAXNS: usize = 3;

/// One DNS message the stub sent or received: a UDP datagram, or one
/// length-prefixed message of a TCP stream.
#[derive(Clone, Debug)]
pub struct Datagram {
    /// True for what the stub sent.
    pub sent: bool,
    /// UDP, or TCP after a truncated reply.
    pub transport: Transport,
    /// The stub's socket.
    pub local: SocketAddr,
    /// The server.
    pub peer: SocketAddr,
    /// The DNS message (over TCP without its 2-byte length).
    pub bytes: Vec<u8>,
    /// When it left (just before the send) or arrived, at the socket.
    pub at: SystemTime,
    /// Over TCP: the relative sequence number of its first byte (the 2-byte
    /// length's) and the acknowledgement number then, as Wireshark counts them
    /// (the first byte of each direction is 1).
    pub seq_ack: Option<(u32, u32)>,
}

type Log = Arc<Mutex<Vec<Datagram>>>;

fn push(log: &Log, d: Datagram) {
    if let Ok(mut l) = log.lock() {
        l.push(d);
    }
}

/// hickory's Tokio runtime, with every UDP socket and TCP stream recording into one log.
#[derive(Clone)]
struct Recording {
    inner: TokioRuntimeProvider,
    log: Log,
}

/// A UDP socket that records what passes through it.
struct RecordingUdp {
    sock: UdpSocket,
    local: SocketAddr,
    log: Log,
}

impl RecordingUdp {
    fn record(&self, sent: bool, peer: SocketAddr, bytes: &[u8], at: SystemTime) {
        push(
            &self.log,
            Datagram {
                sent,
                transport: Transport::Udp,
                local: self.local,
                peer,
                bytes: bytes.to_vec(),
                at,
                seq_ack: None,
            },
        );
    }
}

impl DnsUdpSocket for RecordingUdp {
    type Time = TokioTime;

    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        let got = DnsUdpSocket::poll_recv_from(&self.sock, cx, buf);
        if let Poll::Ready(Ok((n, from))) = &got {
            self.record(false, *from, &buf[..*n], SystemTime::now());
        }
        got
    }

    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        // Stamped before the kernel has it: on loopback the server may have
        // answered before the call returns.
        let at = SystemTime::now();
        let sent = DnsUdpSocket::poll_send_to(&self.sock, cx, buf, target);
        if let Poll::Ready(Ok(n)) = &sent {
            self.record(true, target, &buf[..*n], at);
        }
        sent
    }
}

/// One direction of a recorded TCP stream: bytes not yet a whole message, and
/// how many bytes went before them.
#[derive(Default)]
struct Half {
    pending: Vec<u8>,
    offset: u32,
}

impl Half {
    /// Add bytes; return each whole message (without its length) and the
    /// stream offset of its length prefix.
    fn feed(&mut self, bytes: &[u8]) -> Vec<(u32, Vec<u8>)> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        while self.pending.len() >= 2 {
            let len = u16::from_be_bytes([self.pending[0], self.pending[1]]) as usize;
            if self.pending.len() < 2 + len {
                break;
            }
            let msg = self.pending[2..2 + len].to_vec();
            self.pending.drain(..2 + len);
            out.push((self.offset, msg));
            self.offset += 2 + len as u32;
        }
        out
    }

    /// Bytes of this direction seen so far, whole messages or not.
    fn seen(&self) -> u32 {
        self.offset + self.pending.len() as u32
    }
}

/// A TCP stream that records each DNS message written to or read from it.
struct RecordingTcp {
    stream: TcpStream,
    local: SocketAddr,
    peer: SocketAddr,
    log: Log,
    out: Half,
    inn: Half,
}

impl RecordingTcp {
    fn record(&self, sent: bool, at: SystemTime, msgs: Vec<(u32, Vec<u8>)>) {
        let other = if sent { &self.inn } else { &self.out };
        for (offset, bytes) in msgs {
            push(
                &self.log,
                Datagram {
                    sent,
                    transport: Transport::Tcp,
                    local: self.local,
                    peer: self.peer,
                    bytes,
                    at,
                    seq_ack: Some((1 + offset, 1 + other.seen())),
                },
            );
        }
    }
}

impl tokio::io::AsyncRead for RecordingTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        let got = Pin::new(&mut me.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &got {
            let msgs = me.inn.feed(&buf.filled()[before..]);
            me.record(false, SystemTime::now(), msgs);
        }
        got
    }
}

impl tokio::io::AsyncWrite for RecordingTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let at = SystemTime::now();
        let put = Pin::new(&mut me.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &put {
            let msgs = me.out.feed(&buf[..*n]);
            me.record(true, at, msgs);
        }
        put
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

type Boxed<T> = Pin<Box<dyn Send + Future<Output = io::Result<T>>>>;

impl RuntimeProvider for Recording {
    type Handle = TokioHandle;
    type Timer = TokioTime;
    type Udp = RecordingUdp;
    type Tcp = AsyncIoTokioAsStd<RecordingTcp>;

    fn create_handle(&self) -> Self::Handle {
        self.inner.create_handle()
    }

    fn connect_tcp(
        &self,
        server: SocketAddr,
        bind: Option<SocketAddr>,
        wait: Option<Duration>,
    ) -> Boxed<Self::Tcp> {
        let log = self.log.clone();
        let bind = bind.or_else(|| Some(bind_towards(server)).filter(|b| !b.ip().is_unspecified()));
        let connect = self.inner.connect_tcp(server, bind, wait);
        Box::pin(async move {
            let stream = connect.await?.0;
            let local = stream.local_addr()?;
            Ok(AsyncIoTokioAsStd(RecordingTcp {
                stream,
                local,
                peer: server,
                log,
                out: Half::default(),
                inn: Half::default(),
            }))
        })
    }

    fn bind_udp(&self, local: SocketAddr, server: SocketAddr) -> Boxed<Self::Udp> {
        let log = self.log.clone();
        // Towards loopback, bind 127.0.0.1 rather than the wildcard, so the
        // recorded source is the one on the wire.
        let local = if local.ip().is_unspecified() && server.ip().is_loopback() {
            SocketAddr::new(bind_towards(server).ip(), local.port())
        } else {
            local
        };
        Box::pin(async move {
            let sock = UdpSocket::bind(local).await?;
            let mut local = sock.local_addr()?;
            if local.ip().is_unspecified() {
                // The source the kernel will use towards this server.
                let probe = std::net::UdpSocket::bind(SocketAddr::new(local.ip(), 0))?;
                probe.connect(server)?;
                local.set_ip(probe.local_addr()?.ip());
            }
            Ok(RecordingUdp { sock, local, log })
        })
    }
}

/// Where the stub's configuration came from, and what it says.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Setup {
    /// The servers it asks, in order (`IP:PORT`).
    pub servers: Vec<SocketAddr>,
    /// Servers listed beyond glibc's three, left out.
    pub ignored: Vec<IpAddr>,
    /// The search list.
    pub search: Vec<String>,
    /// `options ndots:`: a name with fewer dots is tried with the search list first.
    pub ndots: usize,
    /// `options timeout:`: seconds to wait for each server.
    pub timeout_s: u64,
    /// `options attempts:`: rounds over the servers before giving up.
    pub attempts: usize,
}

/// Where a stub lookup's answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A server: the lookup sent a query and got its reply.
    Network,
    /// The stub's own cache: no packet, an earlier lookup's answer kept for its TTL.
    Cache,
    /// The stub itself, asking no one: a special-use name (RFC 6761) such as
    /// `localhost` (always the loopback) or `invalid` (never exists).
    Itself,
}

/// Whether a resolver library answers `name` itself without asking a
/// server, as RFC 6761 says it should and hickory-resolver does: names
/// under `localhost.`, the loopback's reverse names, `invalid.` and `onion.`.
pub fn answered_by_stub(name: &Name) -> bool {
    use hickory_proto::rr::domain::usage::{
        ResolverUsage, INVALID, IN_ADDR_ARPA_127, IP6_ARPA_1, LOCALHOST, ONION,
    };
    [&LOCALHOST, &IN_ADDR_ARPA_127, &IP6_ARPA_1, &INVALID, &ONION]
        .iter()
        .any(|u| {
            u.zone_of(name)
                && matches!(
                    u.resolver(),
                    ResolverUsage::Loopback | ResolverUsage::NxDomain
                )
        })
}

/// One lookup through the stub.
#[derive(Clone, Debug)]
pub struct Lookup {
    /// The records it returned (empty for NXDOMAIN or NODATA).
    pub records: Vec<Record>,
    /// What went wrong, if it did (NXDOMAIN, no records, timeout).
    pub error: Option<String>,
    /// The datagrams this lookup sent and received (none from the cache).
    pub datagrams: Vec<Datagram>,
    /// How long the call took.
    pub took: Duration,
    /// Where the answer came from.
    pub source: Source,
}

/// A stub resolver and the log of its sockets.
pub struct Stub {
    resolver: Resolver<Recording>,
    log: Log,
    rt: tokio::runtime::Runtime,
    /// Its configuration.
    pub setup: Setup,
}

fn stub_error(e: impl std::fmt::Display) -> Error {
    Error::Lab(tx(
        format!("the stub resolver could not be set up: {e}"),
        format!("无法建立存根解析器：{e}"),
    ))
}

impl Stub {
    /// A stub that asks only `server` (the lab's recursive server), over UDP
    /// and, after a truncated reply, TCP, without EDNS: glibc's defaults.
    pub fn towards(server: SocketAddr, timeout: Duration) -> Result<Stub> {
        let conn = |mut c: ConnectionConfig| {
            c.port = server.port();
            c
        };
        let ns = NameServerConfig::new(
            server.ip(),
            true,
            vec![conn(ConnectionConfig::udp()), conn(ConnectionConfig::tcp())],
        );
        let config = ResolverConfig::from_parts(None, vec![], vec![ns]);
        let mut opts = ResolverOpts::default();
        opts.timeout = timeout;
        opts.attempts = 1;
        // glibc sends no OPT record unless resolv.conf says `options edns0`.
        opts.edns0 = false;
        Stub::build(config, opts)
    }

    /// A stub configured from this machine's /etc/resolv.conf.
    pub fn system() -> Result<Stub> {
        let path = std::path::PathBuf::from("/etc/resolv.conf");
        let text = std::fs::read(&path).map_err(|source| Error::Read { path, source })?;
        Stub::from_resolv_conf(&text)
    }

    /// A stub configured from resolv.conf text, parsed by hickory's system_conf.
    pub fn from_resolv_conf(text: &[u8]) -> Result<Stub> {
        let (config, opts) =
            hickory_resolver::system_conf::parse_resolv_conf(text).map_err(|e| {
                Error::Lab(tx(
                    format!("/etc/resolv.conf gives no usable stub configuration: {e}"),
                    format!("/etc/resolv.conf 无法给出可用的存根配置：{e}"),
                ))
            })?;
        Stub::build(config, opts)
    }

    fn build(config: ResolverConfig, mut opts: ResolverOpts) -> Result<Stub> {
        // Stage 1 showed the hosts file; this stage is about DNS.
        opts.use_hosts_file = ResolveHosts::Never;
        let (domain, search, mut servers) = config.into_parts();
        let ignored: Vec<IpAddr> = servers.iter().skip(MAXNS).map(|s| s.ip).collect();
        servers.truncate(MAXNS);
        let setup = Setup {
            servers: servers
                .iter()
                .map(|s| {
                    let port = s.connections.first().map(|c| c.port).unwrap_or(53);
                    SocketAddr::new(s.ip, port)
                })
                .collect(),
            ignored,
            search: search.iter().map(|n| n.to_string()).collect(),
            ndots: opts.ndots,
            timeout_s: opts.timeout.as_secs(),
            attempts: opts.attempts,
        };
        let config = ResolverConfig::from_parts(domain, search, servers);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(stub_error)?;
        let log: Log = Arc::default();
        let provider = Recording {
            inner: TokioRuntimeProvider::default(),
            log: log.clone(),
        };
        let resolver = {
            let _in = rt.enter();
            Resolver::builder_with_config(config, provider)
                .with_options(opts)
                .build()
                .map_err(stub_error)?
        };
        Ok(Stub {
            resolver,
            log,
            rt,
            setup,
        })
    }

    /// Look `name` up as a program's resolver would.
    pub fn lookup(&self, name: &Name, qtype: RecordType) -> Lookup {
        let before = self.log.lock().map(|l| l.len()).unwrap_or(0);
        let start = Instant::now();
        let got = self.rt.block_on(self.resolver.lookup(name.clone(), qtype));
        let took = start.elapsed();
        let datagrams = self
            .log
            .lock()
            .map(|l| l[before.min(l.len())..].to_vec())
            .unwrap_or_default();
        tracing::debug!(
            "stub lookup {name} {qtype}: {} datagrams, {} µs",
            datagrams.len(),
            took.as_micros()
        );
        let (records, error) = match got {
            Ok(l) => (l.answers().to_vec(), None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        let source = if !datagrams.is_empty() {
            Source::Network
        } else if answered_by_stub(name) {
            Source::Itself
        } else {
            Source::Cache
        };
        Lookup {
            records,
            error,
            datagrams,
            took,
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_is_read_as_glibc_reads_it() {
        let text = b"# four servers; glibc stops at three\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 10.0.0.4\nsearch lab.edu.cn example\noptions ndots:2 timeout:3 attempts:4\n";
        let stub = Stub::from_resolv_conf(text).unwrap();
        let s = &stub.setup;
        assert_eq!(s.servers.len(), MAXNS);
        assert_eq!(s.servers[0], "127.0.0.53:53".parse().unwrap());
        assert_eq!(s.ignored, vec!["10.0.0.4".parse::<IpAddr>().unwrap()]);
        assert_eq!(s.search, ["lab.edu.cn", "example"]);
        assert_eq!((s.ndots, s.timeout_s, s.attempts), (2, 3, 4));
        assert!(
            Stub::from_resolv_conf(b"search only\n").is_err(),
            "no server"
        );
    }

    #[test]
    fn special_use_names_are_answered_by_the_stub_itself() {
        for (name, itself) in [
            ("localhost.", true),
            ("LocalHost.", true),
            ("www.localhost.", true),
            ("1.0.0.127.in-addr.arpa.", true),
            ("nothing.invalid.", true),
            ("x.onion.", true),
            ("www.baidu.com.", false),
            ("localhost.baidu.com.", false),
            ("1.113.0.203.in-addr.arpa.", false),
        ] {
            let n = Name::from_ascii(name).unwrap();
            assert_eq!(answered_by_stub(&n), itself, "{name}");
        }
        // And hickory-resolver does answer it with no packet: the stub points at a
        // socket that would record a query, and none comes.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let stub = Stub::towards(silent.local_addr().unwrap(), Duration::from_millis(300)).unwrap();
        let l = stub.lookup(&Name::from_ascii("localhost.").unwrap(), RecordType::A);
        assert_eq!(l.source, Source::Itself);
        assert!(l.datagrams.is_empty());
        assert_eq!(l.records.len(), 1);
    }

    #[test]
    fn a_tcp_stream_is_cut_into_its_length_prefixed_messages() {
        let mut h = Half::default();
        // The length (3) in one write, then the message and half the next length.
        assert!(h.feed(&[0x00, 0x03]).is_empty());
        assert_eq!(
            h.feed(&[b'a', b'b', b'c', 0x00]),
            vec![(0, b"abc".to_vec())]
        );
        assert_eq!(
            h.seen(),
            6,
            "the first message whole (5 bytes) and a byte of the next length"
        );
        // The rest of the second length (1) and its byte, and a third whole message.
        assert_eq!(
            h.feed(&[0x01, b'd', 0x00, 0x00]),
            vec![(5, b"d".to_vec()), (8, Vec::new())]
        );
        assert_eq!(h.seen(), 10);
        assert!(h.pending.is_empty());
    }

    #[test]
    fn a_stub_towards_a_silent_server_records_what_it_sent() {
        // A bound socket that never answers: the stub's query is recorded, no reply.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let stub = Stub::towards(silent.local_addr().unwrap(), Duration::from_millis(300)).unwrap();
        assert_eq!(stub.setup.servers, vec![silent.local_addr().unwrap()]);
        let name = Name::from_ascii("www.example.").unwrap();
        let l = stub.lookup(&name, RecordType::A);
        assert!(l.error.is_some(), "nobody answered");
        assert!(l.records.is_empty());
        let sent: Vec<_> = l.datagrams.iter().filter(|d| d.sent).collect();
        assert!(!sent.is_empty(), "the query was recorded");
        let m = hickory_proto::op::Message::from_vec(&sent[0].bytes).unwrap();
        assert!(m.metadata.recursion_desired, "a stub asks with RD=1");
        assert_eq!(m.queries[0].name(), &name);
        let mut buf = [0u8; 512];
        silent
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        let (n, _) = silent.recv_from(&mut buf).unwrap();
        assert!(n > 12, "and it really reached the socket");
    }
}
