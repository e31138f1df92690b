//! The iterative walk a recursive server performs on a cache miss (RFC 1034 §5.3.3).
//!
//! Start at the root servers and ask with RD=0. Each reply is one of: the
//! answer; a CNAME (restart the walk for the new name); a referral (NS records
//! of a zone closer to the name, with glue addresses) to follow; NXDOMAIN or
//! NODATA, proven by the zone's SOA; or a failure, after which the next server
//! of the same NS set is tried. A truncated reply is asked again over TCP.
//! Bounded everywhere: referral depth, CNAME chain, per-query timeout and a
//! deadline for the whole walk.
//!
//! The walk's clock is its own: time spent in the observer (a narrator that
//! pauses for `--step` or `--pace`) counts neither towards the deadline nor
//! in [`Outcome::elapsed`].

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::client::{build_query, exchange, Exchange, Failure, Transport};

/// A name server: its name when known, and where to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// The server's host name (from NS records), if known.
    pub name: Option<Name>,
    /// Address and port.
    pub addr: SocketAddr,
}

impl Server {
    /// A server known only by its address.
    pub fn at(addr: SocketAddr) -> Self {
        Server { name: None, addr }
    }

    /// "a.root-servers.net. (127.53.0.1:5300)" or just the address.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("{n} ({})", self.addr),
            None => self.addr.to_string(),
        }
    }
}

/// How the walk is bounded and where it starts.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the walk starts.
    pub roots: Vec<Server>,
    /// Port used for every server learned from a referral.
    pub port: u16,
    /// Per-query timeout.
    pub timeout: Duration,
    /// The whole walk ends by then, not counting the time its observer takes.
    pub deadline: Instant,
    /// Most referrals followed for one name.
    pub max_referrals: usize,
    /// Longest CNAME chain followed.
    pub max_cnames: usize,
    /// Refuse to send to any address outside 127.0.0.0/8 (the offline lab).
    pub loopback_only: bool,
}

/// What one reply says, from a resolver's point of view.
#[derive(Clone, Debug)]
pub enum Verdict {
    /// Records of the asked type for the asked name.
    Answer(Vec<Record>),
    /// The name is an alias; `chain` is every CNAME record the reply gave, in
    /// order, and `records` any final records it also included.
    Cname {
        /// CNAME records, alias to target, in order.
        chain: Vec<Record>,
        /// Records of the asked type for the last target, if the server sent them.
        records: Vec<Record>,
    },
    /// Ask the servers of a zone closer to the name.
    Referral {
        /// The delegated zone.
        zone: Name,
        /// Its name servers with any glue addresses.
        ns: Vec<(Name, Vec<IpAddr>)>,
    },
    /// The name does not exist; the SOA proves it and bounds negative caching.
    NxDomain {
        /// The zone's SOA from the authority section.
        soa: Option<Record>,
    },
    /// The name exists but has no record of this type.
    NoData {
        /// The zone's SOA from the authority section.
        soa: Option<Record>,
    },
    /// TC=1: the reply did not fit; ask again over TCP.
    Truncated,
    /// SERVFAIL, REFUSED, ...: try another server.
    ServerError(ResponseCode),
    /// A reply a resolver cannot use (upward referral, empty reply).
    Lame(Lame),
    /// No reply at all.
    NoReply(Failure),
}

impl Verdict {
    /// True when this server gave a usable, final word and no other server of the set is asked.
    fn is_definitive(&self) -> bool {
        matches!(
            self,
            Verdict::Answer(_)
                | Verdict::Cname { .. }
                | Verdict::Referral { .. }
                | Verdict::NxDomain { .. }
                | Verdict::NoData { .. }
        )
    }
}

/// What the walk tells its observer, as it happens.
#[derive(Debug)]
pub enum Event<'a> {
    /// A walk from the root begins for `name` (`via` is the alias that led here).
    Start {
        /// The name now looked up.
        name: &'a Name,
        /// The alias whose CNAME pointed here.
        via: Option<&'a Name>,
        /// The root servers.
        roots: &'a [Server],
    },
    /// A server was asked and the reply judged.
    Exchanged {
        /// The zone whose server was asked.
        zone: &'a Name,
        /// Who.
        server: &'a Server,
        /// Bytes, timing, reply.
        exchange: &'a Exchange,
        /// What the reply means.
        verdict: &'a Verdict,
        /// Servers of this zone still left to try.
        remaining: usize,
    },
    /// A server was not asked because it is off the machine and the walk is offline.
    Skipped {
        /// Who.
        server: &'a Server,
    },
    /// A referral named a server without glue; its address is looked up first.
    GluelessLookup {
        /// The server's name.
        ns: &'a Name,
    },
}

/// Final state of a walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// The network gave the answer.
    Answer,
    /// NXDOMAIN.
    NxDomain,
    /// The name exists, the type does not.
    NoData,
    /// Nothing usable: every server failed, a cap or the deadline was hit.
    Failed(Failed),
}

/// Why a walk found no answer: a machine-readable cause and a sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failed {
    /// One of: timeout, wrong_id_ignored, wrong_source_ignored, wrong_question_ignored, refused, tc_without_tcp, malformed,
    /// oversized, server_error, referral_loop, upward_referral, lame, truncated,
    /// off_machine, no_address, referral_depth, cname_loop, cname_chain, deadline, io.
    pub cause: &'static str,
    /// What happened, for people.
    pub reason: String,
}

fn failed(cause: &'static str, reason: impl Into<String>) -> Failed {
    Failed {
        cause,
        reason: reason.into(),
    }
}

/// The result of a walk.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// How it ended.
    pub status: Status,
    /// Records for the last name of the CNAME chain.
    pub answers: Vec<Record>,
    /// CNAME records followed, in order.
    pub cname_chain: Vec<Record>,
    /// The SOA of a negative answer.
    pub soa: Option<Record>,
    /// Every server address queried, in order.
    pub servers: Vec<SocketAddr>,
    /// Number of queries sent (UDP and TCP).
    pub queries: u32,
    /// How long the walk itself took: its queries, waits and decisions, not
    /// the time spent in its observer.
    pub elapsed: Duration,
}

impl Outcome {
    /// The DNS rcode name a client would see.
    pub fn rcode(&self) -> &'static str {
        match self.status {
            Status::Answer | Status::NoData => "NOERROR",
            Status::NxDomain => "NXDOMAIN",
            Status::Failed(_) => "SERVFAIL",
        }
    }
}

struct Walker<'c, 'o> {
    cfg: &'c Config,
    obs: &'o mut dyn FnMut(Event<'_>),
    servers: Vec<SocketAddr>,
    queries: u32,
    /// When the walk began.
    started: Instant,
    /// Time spent in the observer so far.
    observing: Duration,
}

/// Walk from the roots to `name`/`qtype`, reporting each step to `obs`.
pub fn walk(
    cfg: &Config,
    name: &Name,
    qtype: RecordType,
    obs: &mut dyn FnMut(Event<'_>),
) -> Outcome {
    let mut w = Walker {
        cfg,
        obs,
        servers: Vec::new(),
        queries: 0,
        started: Instant::now(),
        observing: Duration::ZERO,
    };
    let mut chain: Vec<Record> = Vec::new();
    let mut current = name.clone();
    let finish = |w: Walker, status, answers, chain, soa| Outcome {
        status,
        answers,
        cname_chain: chain,
        soa,
        elapsed: w.started.elapsed().saturating_sub(w.observing),
        servers: w.servers,
        queries: w.queries,
    };
    loop {
        let via = chain.last().map(|r| r.name.clone());
        w.tell(Event::Start {
            name: &current,
            via: via.as_ref(),
            roots: &cfg.roots,
        });
        match w.resolve(&current, qtype, 0) {
            Ok(Verdict::Answer(records)) => return finish(w, Status::Answer, records, chain, None),
            Ok(Verdict::Cname {
                chain: links,
                records,
            }) => {
                let last = links
                    .last()
                    .and_then(cname_target)
                    .unwrap_or_else(|| current.clone());
                for link in links {
                    if chain.iter().any(|r| r.name.eq_ignore_root(&link.name)) {
                        let why = failed(
                            "cname_loop",
                            format!("CNAME loop: {} is already in the chain", link.name),
                        );
                        return finish(w, Status::Failed(why), vec![], chain, None);
                    }
                    chain.push(link);
                }
                if chain.len() > cfg.max_cnames {
                    let why = failed(
                        "cname_chain",
                        format!("CNAME chain longer than {}", cfg.max_cnames),
                    );
                    return finish(w, Status::Failed(why), vec![], chain, None);
                }
                if !records.is_empty() {
                    return finish(w, Status::Answer, records, chain, None);
                }
                current = last;
            }
            Ok(Verdict::NxDomain { soa }) => {
                return finish(w, Status::NxDomain, vec![], chain, soa)
            }
            Ok(Verdict::NoData { soa }) => return finish(w, Status::NoData, vec![], chain, soa),
            Ok(other) => {
                let why = failed("lame", format!("unexpected verdict {other:?}"));
                return finish(w, Status::Failed(why), vec![], chain, None);
            }
            Err(why) => return finish(w, Status::Failed(why), vec![], chain, None),
        }
    }
}

impl Walker<'_, '_> {
    /// Tell the observer, keeping its time off the walk's clock.
    fn tell(&mut self, ev: Event<'_>) {
        let t = Instant::now();
        (self.obs)(ev);
        self.observing += t.elapsed();
    }

    /// Time left before the deadline, the observer's time not counted.
    fn left(&self) -> Duration {
        (self.cfg.deadline + self.observing).saturating_duration_since(Instant::now())
    }

    fn resolve(&mut self, name: &Name, qtype: RecordType, depth: usize) -> Result<Verdict, Failed> {
        let mut zone = Name::root();
        let mut servers = self.cfg.roots.clone();
        for _ in 0..=self.cfg.max_referrals {
            match self.ask_set(&zone, &servers, name, qtype)? {
                Verdict::Referral { zone: child, ns } => {
                    servers = self.servers_for(&ns, depth)?;
                    if servers.is_empty() {
                        return Err(failed(
                            "no_address",
                            format!("referral to {child} gave no usable server address"),
                        ));
                    }
                    zone = child;
                }
                other => return Ok(other),
            }
        }
        Err(failed(
            "referral_depth",
            format!(
                "more than {} referrals for {name}: a referral loop?",
                self.cfg.max_referrals
            ),
        ))
    }

    /// Addresses for a referral's NS set, looking up servers that came without glue.
    fn servers_for(
        &mut self,
        ns: &[(Name, Vec<IpAddr>)],
        depth: usize,
    ) -> Result<Vec<Server>, Failed> {
        let mut out = Vec::new();
        for (ns_name, addrs) in ns {
            let mut addrs = addrs.clone();
            if addrs.is_empty() && depth < 2 {
                self.tell(Event::GluelessLookup { ns: ns_name });
                if let Ok(Verdict::Answer(records)) =
                    self.resolve(ns_name, RecordType::A, depth + 1)
                {
                    addrs = records
                        .iter()
                        .filter_map(|r| match &r.data {
                            RData::A(a) => Some(IpAddr::V4(a.0)),
                            _ => None,
                        })
                        .collect();
                }
            }
            for ip in addrs {
                out.push(Server {
                    name: Some(ns_name.clone()),
                    addr: SocketAddr::new(ip, self.cfg.port),
                });
            }
        }
        Ok(out)
    }

    fn ask_set(
        &mut self,
        zone: &Name,
        servers: &[Server],
        name: &Name,
        qtype: RecordType,
    ) -> Result<Verdict, Failed> {
        let mut last_problem = failed("no_address", "no server to ask");
        for (i, server) in servers.iter().enumerate() {
            let left = self.left();
            if left.is_zero() {
                return Err(failed(
                    "deadline",
                    "the deadline for the whole trace passed",
                ));
            }
            if self.cfg.loopback_only && !server.addr.ip().is_loopback() {
                self.tell(Event::Skipped { server });
                last_problem = failed(
                    "off_machine",
                    format!("{} is off this machine (use --live)", server.addr),
                );
                continue;
            }
            let query = build_query(name, qtype, false);
            let mut transport = Transport::Udp;
            loop {
                // Again for a retry over TCP: the UDP exchange took its time.
                let left = self.left();
                if left.is_zero() {
                    return Err(failed(
                        "deadline",
                        "the deadline for the whole trace passed",
                    ));
                }
                let timeout = self.cfg.timeout.min(left);
                let ex = exchange(server.addr, &query, transport, timeout);
                self.queries += 1;
                self.servers.push(server.addr);
                let verdict = classify(zone, name, qtype, &ex);
                self.tell(Event::Exchanged {
                    zone,
                    server,
                    exchange: &ex,
                    verdict: &verdict,
                    remaining: servers.len() - i - 1,
                });
                if verdict.is_definitive() {
                    return Ok(verdict);
                }
                if matches!(verdict, Verdict::Truncated) && transport == Transport::Udp {
                    transport = Transport::Tcp;
                    continue;
                }
                last_problem = problem(&verdict, &ex, server.addr);
                if matches!(verdict, Verdict::NoReply(Failure::Timeout))
                    && timeout < self.cfg.timeout
                {
                    // The wait was cut short by the whole trace's deadline, not the query timeout.
                    return Err(failed(
                        "deadline",
                        format!(
                            "the deadline for the whole trace passed while waiting for {}",
                            server.addr
                        ),
                    ));
                }
                break;
            }
        }
        Err(Failed {
            cause: last_problem.cause,
            reason: format!(
                "every server for zone {zone} failed (last: {})",
                last_problem.reason
            ),
        })
    }
}

/// The target of a CNAME record.
pub fn cname_target(r: &Record) -> Option<Name> {
    match &r.data {
        RData::CNAME(c) => Some(c.0.clone()),
        _ => None,
    }
}

/// Name the cause of an unusable exchange.
/// Why a reply leads nowhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lame {
    /// The server for `zone` referred back to `zone` itself.
    Loop {
        /// The zone asked about.
        zone: Name,
    },
    /// The server for `zone` referred to `cut`, which is not below `zone` on the way to `name`.
    Upward {
        /// The zone asked about.
        zone: Name,
        /// Where it referred.
        cut: Name,
        /// The name being looked up.
        name: Name,
    },
    /// No answer, no referral and no SOA.
    Empty,
}

impl Lame {
    /// The cause name used in JSON and [`Failed`].
    pub fn cause(&self) -> &'static str {
        match self {
            Lame::Loop { .. } => "referral_loop",
            Lame::Upward { .. } => "upward_referral",
            Lame::Empty => "lame",
        }
    }
}

impl std::fmt::Display for Lame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lame::Loop { zone } => write!(
                f,
                "referral loop: the server for {zone} referred back to {zone} itself"
            ),
            Lame::Upward { zone, cut, name } => write!(
                f,
                "upward referral: the server for {zone} referred to {cut}, which does not lead towards {name}"
            ),
            Lame::Empty => write!(f, "no answer, no referral and no SOA"),
        }
    }
}

fn problem(verdict: &Verdict, ex: &Exchange, addr: SocketAddr) -> Failed {
    match verdict {
        Verdict::NoReply(Failure::Timeout) if ex.ignored > 0 => {
            let (cause, what) = match ex.ignored_why.last().copied() {
                Some("wrong_source") => ("wrong_source_ignored", "from the wrong address"),
                Some("wrong_question") => {
                    ("wrong_question_ignored", "answering a different question")
                }
                _ => ("wrong_id_ignored", "with the wrong query id"),
            };
            failed(
                cause,
                format!(
                    "{addr}: timed out; {} reply/replies {what} arrived and were ignored, as a resolver must (RFC 5452)",
                    ex.ignored
                ),
            )
        }
        Verdict::NoReply(Failure::Refused) if ex.transport == Transport::Tcp => failed(
            "tc_without_tcp",
            format!("{addr}: the UDP answer was truncated (TC=1) and TCP was refused"),
        ),
        Verdict::NoReply(f) => {
            let cause = match f {
                Failure::Timeout => "timeout",
                Failure::Refused => "refused",
                Failure::Malformed(_) => "malformed",
                Failure::Oversized(_) => "oversized",
                Failure::Io(_) => "io",
            };
            failed(cause, format!("{addr}: {f}"))
        }
        Verdict::ServerError(rc) => failed("server_error", format!("{addr}: {rc}")),
        Verdict::Lame(why) => failed(why.cause(), format!("{addr}: {why}")),
        Verdict::Truncated => failed("truncated", format!("{addr}: truncated even over TCP")),
        _ => failed("lame", format!("{addr}: unexpected")),
    }
}

fn soa_of(msg: &Message) -> Option<Record> {
    msg.authorities
        .iter()
        .find(|r| r.record_type() == RecordType::SOA)
        .cloned()
}

/// Judge one exchange: what a resolver asking `zone`'s server about `name` learns.
pub fn classify(zone: &Name, name: &Name, qtype: RecordType, ex: &Exchange) -> Verdict {
    let Some(msg) = &ex.reply else {
        return Verdict::NoReply(ex.failure.clone().unwrap_or(Failure::Timeout));
    };
    match msg.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Verdict::NxDomain { soa: soa_of(msg) },
        rc => return Verdict::ServerError(rc),
    }
    if msg.metadata.truncation {
        return Verdict::Truncated;
    }
    let matching = |owner: &Name, t: RecordType| -> Vec<Record> {
        msg.answers
            .iter()
            .filter(|r| r.record_type() == t && r.name.eq_ignore_root(owner))
            .cloned()
            .collect()
    };
    let direct = matching(name, qtype);
    if !direct.is_empty() {
        return Verdict::Answer(direct);
    }
    // Follow a CNAME chain inside this one reply.
    let mut chain: Vec<Record> = Vec::new();
    let mut cur = name.clone();
    while chain.len() <= 16 {
        let Some(link) = msg
            .answers
            .iter()
            .find(|r| r.record_type() == RecordType::CNAME && r.name.eq_ignore_root(&cur))
        else {
            break;
        };
        let Some(target) = cname_target(link) else {
            break;
        };
        chain.push(link.clone());
        cur = target;
    }
    if !chain.is_empty() {
        return Verdict::Cname {
            records: matching(&cur, qtype),
            chain,
        };
    }
    // A referral: NS records for a zone strictly below the one we asked, on the path to the name.
    let cut = msg.authorities.iter().find_map(|r| match &r.data {
        RData::NS(_) => Some(r.name.clone()),
        _ => None,
    });
    if let Some(cut) = cut {
        let closer = zone.zone_of(&cut) && !cut.eq_ignore_root(zone) && cut.zone_of(name);
        if !closer {
            let why = if cut.eq_ignore_root(zone) {
                Lame::Loop { zone: zone.clone() }
            } else {
                Lame::Upward {
                    zone: zone.clone(),
                    cut,
                    name: name.clone(),
                }
            };
            return Verdict::Lame(why);
        }
        let ns = msg
            .authorities
            .iter()
            .filter_map(|r| match &r.data {
                RData::NS(n) if r.name.eq_ignore_root(&cut) => Some(n.0.clone()),
                _ => None,
            })
            .map(|ns_name| {
                let glue = msg
                    .additionals
                    .iter()
                    .filter(|g| g.name.eq_ignore_root(&ns_name))
                    .filter_map(|g| match &g.data {
                        RData::A(a) => Some(IpAddr::V4(a.0)),
                        _ => None,
                    })
                    .collect();
                (ns_name, glue)
            })
            .collect();
        return Verdict::Referral { zone: cut, ns };
    }
    let soa = soa_of(msg);
    if soa.is_some() || msg.metadata.authoritative {
        return Verdict::NoData { soa };
    }
    Verdict::Lame(Lame::Empty)
}
