//! The lab's caching recursive resolver (the "local DNS server" of Q4).
//!
//! Asked with RD=1, it answers from its cache while the records live, and on a
//! miss walks from the lab's root with [`crate::dns::walk`], caches the result
//! for its TTL (a negative one for the SOA's minimum, RFC 2308) and answers
//! with RA=1. TTLs it hands out count down: the remaining lifetime, rounded
//! down to whole seconds, as BIND and Unbound do.
//!
//! Its walks are netlab's own sockets, so it can keep what they sent and
//! received: asked to ([`Resolver::record_walks`]), it keeps every exchange of
//! every walk, bytes and times, for a demo to show beside its own packets.
//! It does not narrate them.
//!
//! What is not an ordinary question (a response, another EDNS version or
//! opcode, class CH, a transfer) is settled before it reaches here, by the
//! checks every lab server makes (`super::dns::screen`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::{RData, Record, RecordType};

use hickory_proto::rr::Name;

use crate::dns::client::Exchange;
use crate::dns::walk::{self, Config, Server, Status};

/// Per-query timeout the resolver uses towards the lab's servers.
const QUERY_TIMEOUT: Duration = Duration::from_millis(800);
/// Longest the resolver works on one question.
const DEADLINE: Duration = Duration::from_secs(8);

#[derive(Clone, Debug)]
struct Entry {
    stored: Instant,
    ttl: u32,
    rcode: ResponseCode,
    answers: Vec<Record>,
    authority: Vec<Record>,
}

/// One query of a walk the resolver made on a cache miss, and what came back.
#[derive(Clone, Debug)]
pub struct WalkExchange {
    /// The zone whose server was asked (the root is `.`).
    pub zone: Name,
    /// The server asked.
    pub server: Server,
    /// The query and reply: bytes, addresses, times.
    pub exchange: Exchange,
}

/// A caching recursive resolver over the lab's hierarchy.
pub struct Resolver {
    roots: Vec<Server>,
    port: u16,
    cache: Mutex<HashMap<(String, RecordType), Entry>>,
    /// Queries answered from the cache, shared with whoever watches the lab.
    hits: Arc<AtomicU64>,
    /// Whether walks are kept in `walks`.
    recording: AtomicBool,
    /// The exchanges of the walks made while recording, in the order sent.
    walks: Mutex<Vec<WalkExchange>>,
}

impl Resolver {
    /// The counter of queries answered from the cache.
    pub fn hits(&self) -> Arc<AtomicU64> {
        self.hits.clone()
    }

    /// Keep (or stop keeping) the exchanges of every walk from now on.
    pub fn record_walks(&self, on: bool) {
        self.recording.store(on, Ordering::Relaxed);
    }

    /// The exchanges kept since the last call, in the order they were sent.
    /// A walk's exchanges are all here before its answer leaves the resolver.
    pub fn take_walks(&self) -> Vec<WalkExchange> {
        self.walks
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default()
    }

    /// A resolver that starts its walks at `roots`, using `port` for every server.
    pub fn new(roots: Vec<Server>, port: u16) -> Self {
        Resolver {
            roots,
            port,
            cache: Mutex::new(HashMap::new()),
            hits: Arc::default(),
            recording: AtomicBool::new(false),
            walks: Mutex::new(Vec::new()),
        }
    }

    fn lookup(&self, key: &(String, RecordType)) -> Option<(Entry, u32)> {
        let cache = self.cache.lock().ok()?;
        let e = cache.get(key)?;
        let age = e.stored.elapsed().as_secs_f64();
        let left = (e.ttl as f64 - age).floor();
        (left > 0.0).then(|| (e.clone(), left as u32))
    }

    fn walk(&self, req: &Message) -> Entry {
        let q = &req.queries[0];
        let cfg = Config {
            roots: self.roots.clone(),
            port: self.port,
            timeout: QUERY_TIMEOUT,
            deadline: Instant::now() + DEADLINE,
            max_referrals: 16,
            max_cnames: 8,
            loopback_only: true,
        };
        let recording = self.recording.load(Ordering::Relaxed);
        let mut kept: Vec<WalkExchange> = Vec::new();
        // QTYPE ANY: the walk finds the name's servers; what they hold for it is
        // the first authoritative answer owned by the name itself (a CNAME
        // there is all of it: ANY is not followed through an alias).
        let any = q.query_type() == RecordType::ANY;
        let mut owned: Option<Vec<Record>> = None;
        let mut keep = |ev: walk::Event<'_>| {
            if let walk::Event::Exchanged {
                zone,
                server,
                exchange,
                ..
            } = ev
            {
                if any && owned.is_none() {
                    owned = exchange.reply.as_ref().and_then(|m| {
                        let md = &m.metadata;
                        let mine: Vec<Record> = m
                            .answers
                            .iter()
                            .filter(|r| r.name.eq_ignore_root(q.name()))
                            .cloned()
                            .collect();
                        (md.authoritative
                            && md.response_code == ResponseCode::NoError
                            && !mine.is_empty())
                        .then_some(mine)
                    });
                }
                if recording {
                    kept.push(WalkExchange {
                        zone: zone.clone(),
                        server: server.clone(),
                        exchange: exchange.clone(),
                    });
                }
            }
        };
        let out = walk::walk(&cfg, q.name(), q.query_type(), &mut keep);
        if !kept.is_empty() {
            // One walk's exchanges stay together, and are kept before the answer is sent.
            if let Ok(mut w) = self.walks.lock() {
                w.extend(kept);
            }
        }
        let mut answers = out.cname_chain.clone();
        answers.extend(out.answers.iter().cloned());
        let status = match owned {
            Some(records) => {
                answers = records;
                Status::Answer
            }
            None => out.status,
        };
        let (rcode, authority) = match status {
            Status::Answer => (ResponseCode::NoError, vec![]),
            Status::NoData => (ResponseCode::NoError, out.soa.into_iter().collect()),
            Status::NxDomain => (ResponseCode::NXDomain, out.soa.into_iter().collect()),
            Status::Failed(_) => (ResponseCode::ServFail, vec![]),
        };
        let ttl = match rcode {
            ResponseCode::ServFail => 0,
            _ if answers.is_empty() => authority
                .iter()
                .map(|r| match &r.data {
                    RData::SOA(s) => r.ttl.min(s.minimum),
                    _ => r.ttl,
                })
                .min()
                .unwrap_or(0),
            _ => answers.iter().map(|r| r.ttl).min().unwrap_or(0),
        };
        Entry {
            stored: Instant::now(),
            ttl,
            rcode,
            answers,
            authority,
        }
    }

    /// Answer one client query; true when the answer came from the cache.
    pub async fn resolve(self: Arc<Self>, req: Message) -> (Message, bool) {
        let mut reply = Message::new(req.metadata.id, MessageType::Response, req.metadata.op_code);
        reply.metadata.recursion_desired = req.metadata.recursion_desired;
        reply.metadata.recursion_available = true;
        reply.add_queries(req.queries.iter().cloned());
        let Some(q) = req.queries.first() else {
            reply.metadata.response_code = ResponseCode::FormErr;
            return (reply, false);
        };
        let key = (q.name().to_lowercase().to_ascii(), q.query_type());
        let mut cached = false;
        let (entry, left) = match self.lookup(&key) {
            Some(hit) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                cached = true;
                hit
            }
            None => {
                let me = self.clone();
                let req2 = req.clone();
                let entry = tokio::task::spawn_blocking(move || me.walk(&req2))
                    .await
                    .unwrap_or(Entry {
                        stored: Instant::now(),
                        ttl: 0,
                        rcode: ResponseCode::ServFail,
                        answers: vec![],
                        authority: vec![],
                    });
                if entry.ttl > 0 {
                    if let Ok(mut c) = self.cache.lock() {
                        c.insert(key, entry.clone());
                    }
                }
                let ttl = entry.ttl;
                (entry, ttl)
            }
        };
        let age = entry.ttl.saturating_sub(left);
        let aged = |r: &Record| {
            let mut r = r.clone();
            r.ttl = r.ttl.saturating_sub(age);
            r
        };
        reply.metadata.response_code = entry.rcode;
        reply.add_answers(entry.answers.iter().map(aged));
        reply.add_authorities(entry.authority.iter().map(aged));
        (reply, cached)
    }
}
