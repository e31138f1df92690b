//! The lab's authoritative servers: real referrals over real sockets.
//!
//! [`respond`] is what BIND or NSD would answer from the zones: below a zone
//! cut it sends a referral (AA=0, the child's NS in AUTHORITY, glue in
//! ADDITIONAL); inside the zone an answer (AA=1), a CNAME, or a negative
//! answer with the SOA. Over UDP a reply that does not fit (512 bytes, or the
//! EDNS size the client offered) is truncated with TC=1; TCP always carries it
//! whole. [`DnsLab`] binds every server of a [`ZoneSet`] on loopback and runs
//! them until dropped. The stock hickory in-memory handler is not used: it
//! answers below a cut with AA=1 and no glue (see LAB-NOTES.md).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::resolver::Resolver;
use super::zones::{Misbehaviour, Zone, ZoneSet};
use crate::dns::walk::Server;
use crate::error::{Error, Result};
use crate::text::tx;

/// Largest UDP reply without EDNS (RFC 1035 §4.2.1).
pub const CLASSIC_UDP: usize = 512;
/// Largest UDP reply the lab sends even when EDNS offers more.
pub const MAX_EDNS_UDP: usize = 1232;
/// Longest CNAME chain followed inside one zone.
const MAX_IN_ZONE_CNAMES: usize = 8;
/// How long the `slow` server waits before answering.
const SLOW_SERVER: Duration = Duration::from_secs(5);
/// How long a TCP connection may sit idle.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// The address the lab's recursive resolver listens on.
pub const RESOLVER_ADDR: Ipv4Addr = Ipv4Addr::new(127, 53, 0, 53);

fn empty_reply(req: &Message, rcode: ResponseCode) -> Message {
    let mut m = Message::new(req.metadata.id, MessageType::Response, req.metadata.op_code);
    m.metadata.recursion_desired = req.metadata.recursion_desired;
    m.metadata.response_code = rcode;
    m.add_queries(req.queries.iter().cloned());
    m
}

/// An error reply with the header only: a malformed request's question section is
/// not echoed (found by the lab_server fuzz target: 22 questions echoed back made a
/// reply that not even truncation could fit in a datagram).
fn header_only(req: &Message, rcode: ResponseCode) -> Message {
    let mut m = Message::new(req.metadata.id, MessageType::Response, req.metadata.op_code);
    m.metadata.recursion_desired = req.metadata.recursion_desired;
    m.metadata.response_code = rcode;
    m
}

/// The authoritative reply of a server that serves `zones` to `req`.
pub fn respond(zones: &[&Zone], req: &Message) -> Message {
    if req.metadata.message_type != MessageType::Query || req.metadata.op_code != OpCode::Query {
        return header_only(req, ResponseCode::NotImp);
    }
    let [q] = req.queries.as_slice() else {
        return header_only(req, ResponseCode::FormErr);
    };
    if q.query_class() != DNSClass::IN {
        return empty_reply(req, ResponseCode::Refused);
    }
    let qname = q.name().clone();
    let qtype = q.query_type();
    let Some(zone) = zones
        .iter()
        .filter(|z| z.origin.zone_of(&qname))
        .max_by_key(|z| z.origin.num_labels())
    else {
        return empty_reply(req, ResponseCode::Refused);
    };
    let mut reply = empty_reply(req, ResponseCode::NoError);
    if let Some(cut) = zone_cut(zone, &qname) {
        referral(zone, &cut, &mut reply);
        return reply;
    }
    reply.metadata.authoritative = true;
    let mut owner = qname.clone();
    for _ in 0..=MAX_IN_ZONE_CNAMES {
        let records = zone.rrset(&owner, qtype);
        if !records.is_empty() {
            reply.add_answers(records);
            if qtype == RecordType::NS {
                add_glue(zone, &reply.answers.clone(), &mut reply);
            }
            return reply;
        }
        let cname = zone.rrset(&owner, RecordType::CNAME);
        let Some(target) = cname.first().and_then(|r| match &r.data {
            RData::CNAME(c) => Some(c.0.clone()),
            _ => None,
        }) else {
            break;
        };
        reply.add_answers(cname);
        // Keep following only while the target is ours and not delegated away.
        if !zone.origin.zone_of(&target) || zone_cut(zone, &target).is_some() {
            return reply;
        }
        owner = target;
    }
    if !reply.answers.is_empty() {
        return reply;
    }
    if !zone.has_name(&owner) && !zone.has_below(&owner) {
        reply.metadata.response_code = ResponseCode::NXDomain;
    }
    if let Some(mut soa) = zone.soa() {
        // Negative answers are cached for min(SOA TTL, SOA MINIMUM) (RFC 2308 §3).
        if let RData::SOA(s) = &soa.data {
            soa.ttl = soa.ttl.min(s.minimum);
        }
        reply.add_authority(soa);
    }
    reply
}

/// The highest delegation point between the zone apex and `name`, if any.
fn zone_cut(zone: &Zone, name: &Name) -> Option<Name> {
    let apex = zone.origin.num_labels();
    (apex + 1..=name.num_labels())
        .map(|n| name.trim_to(n as usize))
        .find(|n| !zone.rrset(n, RecordType::NS).is_empty())
}

fn referral(zone: &Zone, cut: &Name, reply: &mut Message) {
    reply.metadata.authoritative = false;
    let ns = zone.rrset(cut, RecordType::NS);
    add_glue(zone, &ns, reply);
    reply.add_authorities(ns);
}

/// Address records for the NS targets named in `records`, from this zone's data.
fn add_glue(zone: &Zone, records: &[Record], reply: &mut Message) {
    for r in records {
        if let RData::NS(ns) = &r.data {
            reply.add_additionals(zone.rrset(&ns.0, RecordType::A));
            reply.add_additionals(zone.rrset(&ns.0, RecordType::AAAA));
        }
    }
}

/// Encode a reply for UDP: truncated with TC=1 when it does not fit.
pub fn encode_udp(req: &Message, mut reply: Message) -> Vec<u8> {
    let limit = match &req.edns {
        Some(e) => (e.max_payload() as usize).clamp(CLASSIC_UDP, MAX_EDNS_UDP),
        None => CLASSIC_UDP,
    };
    if req.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(MAX_EDNS_UDP as u16);
        reply.set_edns(edns);
    }
    let bytes = reply.to_vec().unwrap_or_default();
    if bytes.len() <= limit {
        return bytes;
    }
    reply.truncate().to_vec().unwrap_or_default()
}

/// What a lab server does with a query.
#[derive(Clone)]
enum Role {
    Authoritative(Arc<Vec<Arc<Zone>>>),
    Recursive(Arc<Resolver>),
    Hostile(Misbehaviour, Arc<Vec<Arc<Zone>>>),
}

impl Role {
    /// The honest reply (over TCP a hostile server still answers honestly,
    /// where it listens at all), and whether a resolver's cache gave it.
    async fn answer(&self, req: &Message) -> (Message, bool) {
        match self {
            Role::Authoritative(zones) | Role::Hostile(_, zones) => {
                let refs: Vec<&Zone> = zones.iter().map(|z| &**z).collect();
                (respond(&refs, req), false)
            }
            Role::Recursive(r) => r.clone().resolve(req.clone()).await,
        }
    }
}

/// What a reply said, in the words of the log: answer, referral, NXDOMAIN …
fn said(reply: &Message, cached: bool) -> String {
    let md = &reply.metadata;
    let what = if md.truncation {
        "truncated (TC=1)".to_string()
    } else if md.response_code != ResponseCode::NoError {
        crate::wire::dns::rcode_name(u16::from(md.response_code))
    } else if !reply.answers.is_empty() {
        format!("answer ({} records)", reply.answers.len())
    } else if !md.authoritative
        && reply
            .authorities
            .iter()
            .any(|r| r.record_type() == RecordType::NS)
    {
        let zone = reply
            .authorities
            .iter()
            .find(|r| r.record_type() == RecordType::NS)
            .map(|r| r.name.to_string())
            .unwrap_or_default();
        format!("referral to {zone}")
    } else {
        "NODATA".to_string()
    };
    if cached {
        format!("{what}, cache hit")
    } else {
        what
    }
}

/// One line of the log per query served.
fn log_served(
    server: SocketAddr,
    client: SocketAddr,
    transport: &str,
    req: &Message,
    answer: &str,
) {
    let (name, qtype) = req
        .queries
        .first()
        .map(|q| (q.name().to_string(), q.query_type().to_string()))
        .unwrap_or_default();
    let over = if transport == "tcp" { " (TCP)" } else { "" };
    tracing::info!(target: "netlab::lab::dns", "{client} → {server}{over} {name} {qtype}: {answer}");
}

/// The address a forged "wrong source" reply is sent from.
pub const WRONG_SOURCE: Ipv4Addr = Ipv4Addr::new(127, 53, 255, 254);
/// The false address that forged replies carry: it must never reach an answer.
pub const POISON: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 66);

/// A reply to `req` claiming every asked name is at [`POISON`].
fn poisoned(req: &Message) -> Message {
    let mut m = empty_reply(req, ResponseCode::NoError);
    m.metadata.authoritative = true;
    if let Some(q) = req.queries.first() {
        m.add_answer(Record::from_rdata(
            q.name().clone(),
            86400,
            RData::A(POISON.into()),
        ));
    }
    m
}

/// What a misbehaving server sends back over UDP, and whether from the wrong address.
fn hostile_reply(m: Misbehaviour, zones: &[Arc<Zone>], req: &Message) -> Option<(Vec<u8>, bool)> {
    let refs: Vec<&Zone> = zones.iter().map(|z| &**z).collect();
    let honest = || respond(&refs, req);
    let bytes = |msg: &Message| msg.to_vec().unwrap_or_default();
    match m {
        Misbehaviour::Silent => None,
        Misbehaviour::Garbage => {
            // The right id, so the client reads it, then bytes that are no DNS message.
            let mut junk = req.metadata.id.to_be_bytes().to_vec();
            junk.extend((0..46).map(|i: u8| 0xff ^ i.wrapping_mul(37)));
            Some((junk, false))
        }
        Misbehaviour::WrongId => {
            let mut p = poisoned(req);
            p.metadata.id = req.metadata.id ^ 0x5a5a;
            Some((bytes(&p), false))
        }
        Misbehaviour::WrongSource => Some((bytes(&poisoned(req)), true)),
        Misbehaviour::TcNoTcp => Some((bytes(&honest().truncate()), false)),
        Misbehaviour::ReferralLoop => {
            // "Ask my zone's servers": a referral to the very zone it serves.
            let zone = zones.first()?;
            let mut r = empty_reply(req, ResponseCode::NoError);
            let ns = zone.rrset(&zone.origin, RecordType::NS);
            add_glue(zone, &ns, &mut r);
            r.add_authorities(ns);
            Some((bytes(&r), false))
        }
        Misbehaviour::WrongQuestion => {
            let mut other = req.clone();
            let q = other.queries.first()?.clone();
            let name = q.name().prepend_label("not-what-you-asked").ok()?;
            other.queries = vec![hickory_proto::op::Query::query(name, q.query_type())];
            Some((bytes(&poisoned(&other)), false))
        }
        Misbehaviour::Oversized => {
            let mut r = honest();
            if let Some(q) = req.queries.first() {
                for i in 0..250u32 {
                    let ip = Ipv4Addr::from(0xc633_6400 | (i & 0xff));
                    r.add_answer(Record::from_rdata(
                        q.name().clone(),
                        60,
                        RData::A(ip.into()),
                    ));
                }
            }
            Some((bytes(&r), false))
        }
        Misbehaviour::Slow => Some((encode_udp(req, honest()), false)),
    }
}

/// One running server, for listings.
#[derive(Clone, Debug)]
pub struct RunningServer {
    /// Address and port.
    pub addr: SocketAddr,
    /// Host names.
    pub names: Vec<Name>,
    /// Zones served.
    pub zones: Vec<Name>,
    /// How it misbehaves, if it does.
    pub misbehaviour: Option<Misbehaviour>,
}

impl RunningServer {
    /// The misbehaviour's name, for JSON.
    pub fn misbehaviour_name(&self) -> Option<&'static str> {
        self.misbehaviour.map(Misbehaviour::name)
    }
}

/// A running DNS hierarchy on loopback. Dropping it stops every server.
///
/// Every server runs on one thread of its own (a current-thread tokio runtime):
/// a lab server answers from memory in microseconds, so one thread keeps up,
/// and a query is answered on the thread that received it, without a hand-off
/// to another worker (which cost a wake-up per query on a 2-core machine).
pub struct DnsLab {
    /// Tells the servers' thread to stop.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// The port every server listens on.
    pub port: u16,
    /// The root servers, where a walk starts.
    pub roots: Vec<Server>,
    /// Every authoritative server.
    pub servers: Vec<RunningServer>,
    /// The recursive resolver, if started.
    pub resolver: Option<SocketAddr>,
    /// The recursive resolver itself: its cache counter and its record of walks.
    engine: Option<Arc<Resolver>>,
}

impl DnsLab {
    /// Queries the recursive resolver has answered from its cache so far.
    pub fn cache_hits(&self) -> u64 {
        self.engine
            .as_ref()
            .map_or(0, |r| r.hits().load(std::sync::atomic::Ordering::Relaxed))
    }

    /// From now on, keep every exchange of the recursive resolver's walks, for
    /// [`DnsLab::resolver_walks`] to hand out (off by default: a `lab dns` that
    /// runs for hours keeps nothing).
    pub fn record_resolver_walks(&self) {
        if let Some(r) = &self.engine {
            r.record_walks(true);
        }
    }

    /// The exchanges the recursive resolver's walks made since the last call, in
    /// the order they were sent.
    pub fn resolver_walks(&self) -> Vec<super::resolver::WalkExchange> {
        self.engine
            .as_ref()
            .map(|r| r.take_walks())
            .unwrap_or_default()
    }
}

impl Drop for DnsLab {
    /// Tell the servers' thread to stop; it closes every socket as it ends.
    /// Not waited for: at the end of a run, closing some 50 sockets and
    /// deregistering them took about 300 µs that the exit does anyway.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A UDP socket and, unless the server is lame, a TCP listener on the same address.
type SocketPair = (std::net::UdpSocket, Option<std::net::TcpListener>);

struct Bound {
    addr: SocketAddr,
    udp: std::net::UdpSocket,
    tcp: Option<std::net::TcpListener>,
    role: Role,
}

/// Bind a UDP socket and, unless the server is lame, a TCP listener on each
/// address, all on one port. The sockets are made non-blocking as they are
/// created (the lab binds some 50 of them before its first packet).
fn bind_all(addrs: &[(Ipv4Addr, bool)], port: u16) -> std::io::Result<(u16, Vec<SocketPair>)> {
    use socket2::{Domain, Socket, Type};
    let mut port = port;
    let mut out = Vec::new();
    for (ip, with_tcp) in addrs {
        let udp = Socket::new(Domain::IPV4, Type::DGRAM.nonblocking(), None)?;
        udp.bind(&SocketAddr::new(IpAddr::V4(*ip), port).into())?;
        let udp = std::net::UdpSocket::from(udp);
        if port == 0 {
            port = udp.local_addr()?.port();
        }
        let tcp = if *with_tcp {
            // As std's TcpListener::bind: SO_REUSEADDR, so a lab restarted at
            // once is not refused the port its last connections still hold.
            let tcp = Socket::new(Domain::IPV4, Type::STREAM.nonblocking(), None)?;
            tcp.set_reuse_address(true)?;
            tcp.bind(&SocketAddr::new(IpAddr::V4(*ip), port).into())?;
            tcp.listen(128)?;
            Some(std::net::TcpListener::from(tcp))
        } else {
            None
        };
        out.push((udp, tcp));
    }
    Ok((port, out))
}

impl DnsLab {
    /// Bind and start every server of `set` on `port` (0: pick a free high port),
    /// plus the recursive resolver when `with_resolver`.
    pub fn start(set: &ZoneSet, port: u16, with_resolver: bool) -> Result<DnsLab> {
        let plans = set.servers()?;
        let mut addrs: Vec<(Ipv4Addr, bool)> = plans
            .iter()
            .map(|p| (p.addr, p.misbehaviour.is_none_or(Misbehaviour::has_tcp)))
            .collect();
        if with_resolver {
            addrs.push((RESOLVER_ADDR, true));
        }
        // With port 0 the first socket picks a free port and the others must get
        // the same one on their own address; another program may hold it, so retry.
        let mut last_err = None;
        let mut bound = None;
        for _ in 0..if port == 0 { 20 } else { 1 } {
            match bind_all(&addrs, port) {
                Ok(b) => {
                    bound = Some(b);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let Some((port, sockets)) = bound else {
            let source = last_err.unwrap_or_else(|| std::io::Error::other("no address to bind"));
            if port != 0 && port < 1024 && source.kind() == std::io::ErrorKind::PermissionDenied {
                return Err(Error::privilege(
                    tx(format!("Port {port}"), format!("端口 {port}")),
                    tx(
                        "root or CAP_NET_BIND_SERVICE",
                        " root 或 CAP_NET_BIND_SERVICE",
                    ),
                    tx(
                        "run with sudo, or give a port of 1024 or more",
                        "请用 sudo 运行，或给一个不小于 1024 的端口",
                    ),
                ));
            }
            return Err(Error::Bind {
                addr: format!("127.53.0.0/16 port {port}"),
                source,
            });
        };
        let root = set.root();
        let roots: Vec<Server> = root
            .ns_names()
            .into_iter()
            .flat_map(|n| {
                set.addresses_of(&n).into_iter().map(move |a| Server {
                    name: Some(n.clone()),
                    addr: SocketAddr::new(IpAddr::V4(a), port),
                })
            })
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::sys("start", "启动", "the DNS servers' runtime", e))?;
        let mut running = Vec::new();
        let mut servers = Vec::new();
        let mut sockets = sockets.into_iter();
        for plan in &plans {
            let (udp, tcp) = sockets.next().expect("one socket pair per plan");
            let zones: Vec<Arc<Zone>> = plan.zones.iter().map(|&i| set.zones[i].clone()).collect();
            let addr = SocketAddr::new(IpAddr::V4(plan.addr), port);
            running.push(RunningServer {
                addr,
                names: plan.names.iter().cloned().collect(),
                zones: zones.iter().map(|z| z.origin.clone()).collect(),
                misbehaviour: plan.misbehaviour,
            });
            let role = match plan.misbehaviour {
                Some(m) => Role::Hostile(m, Arc::new(zones)),
                None => Role::Authoritative(Arc::new(zones)),
            };
            servers.push(Bound {
                addr,
                udp,
                tcp,
                role,
            });
        }
        let mut resolver = None;
        let mut engine = None;
        if with_resolver {
            let (udp, tcp) = sockets.next().expect("resolver sockets");
            let r = Arc::new(Resolver::new(roots.clone(), port));
            let addr = SocketAddr::new(IpAddr::V4(RESOLVER_ADDR), port);
            resolver = Some(addr);
            engine = Some(r.clone());
            servers.push(Bound {
                addr,
                udp,
                tcp,
                role: Role::Recursive(r),
            });
        }
        {
            let _guard = rt.enter();
            for b in servers {
                let sock = |e| Error::Socket {
                    op: "serve",
                    addr: b.addr.to_string(),
                    source: e,
                };
                let udp = tokio::net::UdpSocket::from_std(b.udp).map_err(sock)?;
                rt.spawn(serve_udp(udp, b.addr, b.role.clone()));
                if let Some(tcp) = b.tcp {
                    let tcp = tokio::net::TcpListener::from_std(tcp).map_err(sock)?;
                    rt.spawn(serve_tcp(tcp, b.addr, b.role));
                }
            }
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("netlab-dns-lab".into())
            .spawn(move || {
                // Until the lab is dropped (or the sender is gone): then every
                // task and socket goes with the runtime, without waiting for
                // a resolver's walk still under way.
                rt.block_on(async {
                    let _ = stopped.await;
                });
                rt.shutdown_background();
            })
            .map_err(|e| Error::sys("start", "启动", "the DNS servers' thread", e))?;
        Ok(DnsLab {
            stop: Some(stop),
            port,
            roots,
            servers: running,
            resolver,
            engine,
        })
    }
}

/// A reply that could not be sent, in the log.
fn send_failed(server: SocketAddr, client: SocketAddr, e: &std::io::Error) {
    tracing::warn!(target: "netlab::lab::dns", "{server} could not send its reply to {client}: {e}");
}

async fn serve_udp(sock: tokio::net::UdpSocket, local: SocketAddr, role: Role) {
    let sock = Arc::new(sock);
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(e) => {
                tracing::warn!(target: "netlab::lab::dns", "{local} could not receive: {e}");
                continue;
            }
        };
        let req = match Message::from_vec(&buf[..n]) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(
                    target: "netlab::lab::dns",
                    "{from} → {local}: dropped {n} bytes, not a DNS message ({e})"
                );
                continue;
            }
        };
        // An authoritative answer is computed from memory: answered here, at
        // once. A resolver may walk and a hostile server may sleep: a task each.
        if let Role::Authoritative(zones) = &role {
            let refs: Vec<&Zone> = zones.iter().map(|z| &**z).collect();
            let reply = respond(&refs, &req);
            log_served(local, from, "udp", &req, &said(&reply, false));
            let bytes = encode_udp(&req, reply);
            if let Err(e) = sock.send_to(&bytes, from).await {
                send_failed(local, from, &e);
            }
            continue;
        }
        let (sock, role) = (sock.clone(), role.clone());
        tokio::spawn(async move {
            if let Role::Hostile(m, zones) = &role {
                if *m == Misbehaviour::Slow {
                    tokio::time::sleep(SLOW_SERVER).await;
                }
                let how = format!("misbehaved on purpose: {}", m.name());
                match hostile_reply(*m, zones, &req) {
                    Some((bytes, false)) => {
                        log_served(local, from, "udp", &req, &how);
                        if let Err(e) = sock.send_to(&bytes, from).await {
                            send_failed(local, from, &e);
                        }
                    }
                    Some((bytes, true)) => {
                        log_served(local, from, "udp", &req, &how);
                        if let Ok(other) = tokio::net::UdpSocket::bind((WRONG_SOURCE, 0)).await {
                            if let Err(e) = other.send_to(&bytes, from).await {
                                send_failed(local, from, &e);
                            }
                        }
                    }
                    None => log_served(local, from, "udp", &req, &how),
                }
            } else {
                let (reply, cached) = role.answer(&req).await;
                log_served(local, from, "udp", &req, &said(&reply, cached));
                let bytes = encode_udp(&req, reply);
                if let Err(e) = sock.send_to(&bytes, from).await {
                    send_failed(local, from, &e);
                }
            }
        });
    }
}

async fn serve_tcp(listener: tokio::net::TcpListener, local: SocketAddr, role: Role) {
    loop {
        let (mut stream, from) = match listener.accept().await {
            Ok(got) => got,
            Err(e) => {
                tracing::warn!(target: "netlab::lab::dns", "{local} could not accept a TCP connection: {e}");
                continue;
            }
        };
        let role = role.clone();
        tokio::spawn(async move {
            loop {
                let mut len = [0u8; 2];
                match tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut len)).await {
                    Ok(Ok(_)) => {}
                    _ => return,
                }
                let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
                if stream.read_exact(&mut body).await.is_err() {
                    return;
                }
                let req = match Message::from_vec(&body) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(
                            target: "netlab::lab::dns",
                            "{from} → {local} (TCP): not a DNS message, connection closed ({e})"
                        );
                        return;
                    }
                };
                let (reply, cached) = role.answer(&req).await;
                log_served(local, from, "tcp", &req, &said(&reply, cached));
                let Ok(bytes) = reply.to_vec() else { return };
                let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&bytes);
                if let Err(e) = stream.write_all(&framed).await {
                    send_failed(local, from, &e);
                    return;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::client::build_query;

    fn ask(set: &ZoneSet, origin: &str, name: &str, t: RecordType) -> Message {
        let zone = set
            .zones
            .iter()
            .find(|z| z.origin == Name::from_ascii(origin).unwrap())
            .unwrap();
        respond(
            &[zone],
            &build_query(&Name::from_ascii(name).unwrap(), t, false),
        )
    }

    #[test]
    fn root_refers_to_com_with_glue_and_aa_clear() {
        let set = ZoneSet::builtin().unwrap();
        let r = ask(&set, ".", "www.baidu.com.", RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert!(!r.metadata.authoritative, "a referral must have AA=0");
        assert!(r.answers.is_empty());
        assert_eq!(r.authorities.len(), 2);
        assert!(r
            .authorities
            .iter()
            .all(|a| a.record_type() == RecordType::NS
                && a.name == Name::from_ascii("com.").unwrap()));
        let glue: Vec<String> = r.additionals.iter().map(|a| a.data.to_string()).collect();
        assert_eq!(glue, ["127.53.1.1", "127.53.1.2"]);
    }

    #[test]
    fn authoritative_cname_and_negative_answers() {
        let set = ZoneSet::builtin().unwrap();
        let r = ask(&set, "baidu.com.", "www.baidu.com.", RecordType::A);
        assert!(r.metadata.authoritative);
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.answers[0].record_type(), RecordType::CNAME);
        let nx = ask(&set, "baidu.com.", "nope.baidu.com.", RecordType::A);
        assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(nx.authorities[0].record_type(), RecordType::SOA);
        assert_eq!(nx.authorities[0].ttl, 600, "min(SOA TTL 600, MINIMUM 7200)");
        let nodata = ask(&set, "baidu.com.", "mx.baidu.com.", RecordType::AAAA);
        assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
        assert!(nodata.answers.is_empty());
        assert_eq!(nodata.authorities[0].record_type(), RecordType::SOA);
    }

    #[test]
    fn big_answers_are_truncated_over_udp_only() {
        let set = ZoneSet::builtin().unwrap();
        let q = build_query(
            &Name::from_ascii("big.baidu.com.").unwrap(),
            RecordType::TXT,
            false,
        );
        let zone = set
            .zones
            .iter()
            .find(|z| z.origin.to_string() == "baidu.com.")
            .unwrap();
        let reply = respond(&[zone], &q);
        assert!(reply.to_vec().unwrap().len() > CLASSIC_UDP);
        let udp = Message::from_vec(&encode_udp(&q, reply)).unwrap();
        assert!(udp.metadata.truncation);
        assert!(udp.answers.is_empty());
    }

    #[test]
    fn other_zones_are_refused() {
        let set = ZoneSet::builtin().unwrap();
        let r = ask(&set, "cn.", "www.baidu.com.", RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    }

    #[test]
    fn servers_share_the_loaded_zones_instead_of_copying_them() {
        let set = ZoneSet::builtin().unwrap();
        let lab = DnsLab::start(&set, 0, false).unwrap();
        // Each zone is held by the set and by every server that serves it: a
        // 100 000-record zone is in memory once (docs/performance.md).
        for z in &set.zones {
            assert!(Arc::strong_count(z) >= 2, "{} was copied", z.origin);
        }
        drop(lab);
    }
}
