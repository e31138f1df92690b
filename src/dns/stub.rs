//! The stub resolver of stage 2: a real lookup with hickory-resolver, as a
//! program's resolver library makes it. In the lab it is pointed at the lab's
//! recursive server; with `--live` it is configured from /etc/resolv.conf by
//! hickory's `system_conf`, which reads servers, search list and options as
//! glibc does (netlab keeps glibc's limit of three servers, MAXNS).
//!
//! Its UDP sockets are wrapped so every datagram it sends and receives is
//! recorded, bytes and time, at the socket: the packets of the lookup are then
//! shown and written to `--pcap` without any capture privilege. (TCP, which the
//! stub uses only after a truncated reply, is not recorded.)
//!
//! The same name is looked up twice: the second answer comes from the stub's
//! own cache, with no packet at all.

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

use crate::error::{Error, Result};
use crate::text::tx;

/// glibc reads at most this many `nameserver` lines (MAXNS in resolv.h).
pub const MAXNS: usize = 3;

/// One datagram the stub sent or received.
#[derive(Clone, Debug)]
pub struct Datagram {
    /// True for what the stub sent.
    pub sent: bool,
    /// The stub's socket.
    pub local: SocketAddr,
    /// The server.
    pub peer: SocketAddr,
    /// The DNS message.
    pub bytes: Vec<u8>,
    /// When it left or arrived, at the socket.
    pub at: SystemTime,
}

type Log = Arc<Mutex<Vec<Datagram>>>;

/// hickory's Tokio runtime, with every UDP socket recording into one log.
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
    fn record(&self, sent: bool, peer: SocketAddr, bytes: &[u8]) {
        if let Ok(mut l) = self.log.lock() {
            l.push(Datagram {
                sent,
                local: self.local,
                peer,
                bytes: bytes.to_vec(),
                at: SystemTime::now(),
            });
        }
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
            self.record(false, *from, &buf[..*n]);
        }
        got
    }

    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        let sent = DnsUdpSocket::poll_send_to(&self.sock, cx, buf, target);
        if let Poll::Ready(Ok(n)) = &sent {
            self.record(true, target, &buf[..*n]);
        }
        sent
    }
}

type Boxed<T> = Pin<Box<dyn Send + Future<Output = io::Result<T>>>>;

impl RuntimeProvider for Recording {
    type Handle = TokioHandle;
    type Timer = TokioTime;
    type Udp = RecordingUdp;
    type Tcp = AsyncIoTokioAsStd<TcpStream>;

    fn create_handle(&self) -> Self::Handle {
        self.inner.create_handle()
    }

    fn connect_tcp(
        &self,
        server: SocketAddr,
        bind: Option<SocketAddr>,
        wait: Option<Duration>,
    ) -> Boxed<Self::Tcp> {
        self.inner.connect_tcp(server, bind, wait)
    }

    fn bind_udp(&self, local: SocketAddr, _server: SocketAddr) -> Boxed<Self::Udp> {
        let log = self.log.clone();
        Box::pin(async move {
            let sock = UdpSocket::bind(local).await?;
            let local = sock.local_addr()?;
            Ok(RecordingUdp { sock, local, log })
        })
    }
}

/// Where the stub's configuration came from, and what it says.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Setup {
    /// The servers it asks, in order.
    pub servers: Vec<SocketAddr>,
    /// Servers listed beyond glibc's three, left out.
    pub ignored: Vec<IpAddr>,
    /// The search list.
    pub search: Vec<String>,
    /// `options ndots:`.
    pub ndots: usize,
    /// `options timeout:`, seconds.
    pub timeout_s: u64,
    /// `options attempts:`.
    pub attempts: usize,
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
    /// A stub that asks only `server` (the lab's recursive server).
    pub fn towards(server: SocketAddr, timeout: Duration) -> Result<Stub> {
        let mut conn = ConnectionConfig::udp();
        conn.port = server.port();
        let ns = NameServerConfig::new(server.ip(), true, vec![conn]);
        let config = ResolverConfig::from_parts(None, vec![], vec![ns]);
        let mut opts = ResolverOpts::default();
        opts.timeout = timeout;
        opts.attempts = 1;
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
        Lookup {
            records,
            error,
            datagrams,
            took,
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
