//! The lab's authoritative servers: real referrals over real sockets, and
//! what BIND and NSD answer to everything else dig can ask.
//!
//! [`answer`] is what BIND or NSD would answer from the zones: below a zone
//! cut it sends a referral (AA=0, the child's NS in AUTHORITY, glue in
//! ADDITIONAL); inside the zone an answer (AA=1), a CNAME, or a negative
//! answer with the SOA; to QTYPE ANY every RRset of the name, as BIND (with
//! its default `minimal-any no`) and NSD do. Before any zone is looked at,
//! [`screen`] settles what is not an ordinary question, in BIND's order: a
//! response (QR=1) is dropped, an EDNS version other than 0 gets BADVERS,
//! an opcode other than QUERY NOTIMP, a class other than IN never gets IN
//! data (CH `version.bind` and `hostname.bind` are answered), a meta type
//! FORMERR.
//! A zone transfer is REFUSED unless an instructor allows it ([`Options`]).
//! Over UDP a reply that does not fit (512 bytes, or the EDNS size the
//! client offered) is truncated with TC=1; TCP always carries it whole.
//! [`DnsLab`] binds every server of a [`ZoneSet`] on loopback and runs them
//! until dropped. The stock hickory in-memory handler is not used: it answers
//! below a cut with AA=1 and no glue (see LAB-NOTES.md).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{SOA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
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
/// Bytes of records per message of a zone transfer: well inside the 65 535
/// a TCP message may hold, counted before name compression.
const TRANSFER_MESSAGE: usize = 16 * 1024;

/// What an instructor may switch on for a lesson; everything is off by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Answer zone transfers (AXFR, and IXFR with the whole zone) over TCP to
    /// clients on loopback (127.0.0.0/8). Off, every transfer is REFUSED.
    pub allow_axfr: bool,
}

/// How a message reached a server.
#[derive(Clone, Copy, Debug)]
pub struct Via {
    /// Who sent it.
    pub client: SocketAddr,
    /// Over TCP (else UDP).
    pub tcp: bool,
}

/// What a lab server sends back for one message.
#[derive(Debug)]
pub enum Reply {
    /// Nothing: the message is itself a response (QR=1). BIND and Unbound drop
    /// these; a server that answered them could be set replying to another
    /// server forever by one forged response.
    Drop,
    /// One message.
    One(Message),
    /// A zone transfer: the zone's records in one or more messages, its SOA
    /// first and last (RFC 5936 §2.2).
    Transfer(Vec<Message>),
}

/// A reply with the question echoed and RD copied.
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

/// The header alone, without RD: what BIND sends for an opcode it does not
/// implement (it reads no further than the header).
fn bare(req: &Message, rcode: ResponseCode) -> Message {
    let mut m = Message::new(req.metadata.id, MessageType::Response, req.metadata.op_code);
    m.metadata.response_code = rcode;
    m
}

/// QTYPE MAILB and MAILA (RFC 883's mail queries, obsolete): BIND says NOTIMP.
const MAIL_QTYPES: [u16; 2] = [253, 254];

/// True for a type that cannot be asked for: OPT (41) and the meta types
/// 128–250 (TKEY, TSIG and unassigned ones; RFC 6895 §3.1). BIND says
/// FORMERR; 251–255 are the question-only types IXFR, AXFR, MAILB, MAILA, ANY.
fn is_meta(t: RecordType) -> bool {
    matches!(u16::from(t), 41 | 128..=250)
}

/// The checks every lab server, the resolver too, makes before it looks at a
/// zone, in BIND's order. `None`: an ordinary question (class IN; a data
/// type, ANY, AXFR or IXFR) for the zones.
pub fn screen(req: &Message, identity: &str) -> Option<Reply> {
    let md = &req.metadata;
    if md.message_type == MessageType::Response {
        return Some(Reply::Drop);
    }
    // RFC 6891 §6.1.3: an EDNS version the server does not speak gets BADVERS,
    // with the highest version it does (0) in the reply's OPT record.
    if req.edns.as_ref().is_some_and(|e| e.version() > 0) {
        let m = if md.op_code == OpCode::Query && req.queries.len() == 1 {
            empty_reply(req, ResponseCode::BADVERS)
        } else {
            bare(req, ResponseCode::BADVERS)
        };
        return Some(Reply::One(m));
    }
    // NOTIFY and UPDATE (RFC 1996, RFC 2136) are not implemented here: NOTIMP,
    // "does not support the requested kind of query" (RFC 1035 §4.1.1), as
    // for IQUERY and STATUS.
    if md.op_code != OpCode::Query {
        return Some(Reply::One(bare(req, ResponseCode::NotImp)));
    }
    let [q] = req.queries.as_slice() else {
        return Some(Reply::One(header_only(req, ResponseCode::FormErr)));
    };
    // Only IN has zones here. BIND's answers: CH its own names about
    // itself, HS REFUSED, ANY and NONE FORMERR (no class to answer in: QCLASS
    // ANY would mix classes), any other class NOTIMP.
    let class_rcode = match q.query_class() {
        DNSClass::IN => None,
        DNSClass::CH => return Some(Reply::One(chaos(req, identity))),
        DNSClass::HS => Some(ResponseCode::Refused),
        DNSClass::ANY | DNSClass::NONE => Some(ResponseCode::FormErr),
        _ => Some(ResponseCode::NotImp),
    };
    if let Some(rc) = class_rcode {
        return Some(Reply::One(empty_reply(req, rc)));
    }
    let t = q.query_type();
    if MAIL_QTYPES.contains(&u16::from(t)) {
        return Some(Reply::One(empty_reply(req, ResponseCode::NotImp)));
    }
    if is_meta(t) {
        return Some(Reply::One(empty_reply(req, ResponseCode::FormErr)));
    }
    None
}

/// The CH-class names a server answers about itself, each a zone of its own
/// as in BIND: `version.bind` and `hostname.bind` (BIND), `id.server`
/// (RFC 4892) and `version.server` (NSD).
const CHAOS_ZONES: [&str; 4] = [
    "version.bind.",
    "version.server.",
    "hostname.bind.",
    "id.server.",
];

/// A CH-class query: a TXT record about this server, or REFUSED for any
/// other name (the lab has no CH data, and never answers with IN data).
fn chaos(req: &Message, identity: &str) -> Message {
    let q = &req.queries[0];
    let name = q.name();
    let Some(apex) = CHAOS_ZONES
        .iter()
        .filter_map(|z| Name::from_ascii(z).ok())
        .find(|z| z.zone_of(name))
    else {
        return empty_reply(req, ResponseCode::Refused);
    };
    let mut m = empty_reply(req, ResponseCode::NoError);
    m.metadata.authoritative = true;
    if apex == *name && matches!(q.query_type(), RecordType::TXT | RecordType::ANY) {
        let text = if apex.to_ascii().starts_with("version.") {
            format!("netlab {}", env!("CARGO_PKG_VERSION"))
        } else {
            identity.trim_end_matches('.').to_string()
        };
        let mut r = Record::from_rdata(apex, 0, RData::TXT(TXT::new(vec![text])));
        r.dns_class = DNSClass::CH;
        m.add_answer(r);
        return m;
    }
    if apex != *name {
        m.metadata.response_code = ResponseCode::NXDomain;
    }
    // The SOA BIND gives its built-in CH zones.
    let host = Name::from_ascii("hostmaster")
        .ok()
        .and_then(|h| h.append_domain(&apex).ok())
        .unwrap_or_else(|| apex.clone());
    let soa = SOA::new(apex.clone(), host, 0, 28800, 7200, 604800, 86400);
    let mut r = Record::from_rdata(apex, 86400, RData::SOA(soa));
    r.dns_class = DNSClass::CH;
    m.add_authority(r);
    m
}

/// One view of a server, as BIND's `view "NAME" { match-clients { PREFIX; };
/// zone … };`: the zones it answers from for the clients of one subnet. A
/// name held in several views can be answered differently by client: the
/// geo DNS of a CDN, which gives each client a nearby edge.
#[derive(Clone, Debug)]
pub struct View {
    /// Its name (`lan1`).
    pub name: String,
    /// The subnet of its clients: a network address and a prefix length.
    pub clients: (Ipv4Addr, u8),
    /// The zones it serves.
    pub zones: Vec<Zone>,
}

impl View {
    /// Whether `client` is in this view's subnet.
    pub fn matches(&self, client: IpAddr) -> bool {
        let IpAddr::V4(a) = client else {
            return false;
        };
        let (net, len) = self.clients;
        let mask = u32::MAX
            .checked_shl(32 - u32::from(len.min(32)))
            .unwrap_or(0);
        u32::from(a) & mask == u32::from(net) & mask
    }
}

/// [`answer`] from the first view whose subnet holds the client, in order
/// (BIND's `match-clients`); REFUSED when none does, as BIND answers a client
/// that no view matches. A response (QR=1) is still dropped.
pub fn answer_in_view(
    views: &[View],
    identity: &str,
    options: Options,
    req: &Message,
    via: Via,
) -> Reply {
    match views.iter().find(|v| v.matches(via.client.ip())) {
        Some(v) => {
            let zones: Vec<&Zone> = v.zones.iter().collect();
            answer(&zones, identity, options, req, via)
        }
        None => screen(req, identity)
            .unwrap_or_else(|| Reply::One(empty_reply(req, ResponseCode::Refused))),
    }
}

/// The reply of an authoritative server that serves `zones`, named
/// `identity`, to `req` arriving `via`: [`screen`]'s checks, then a zone
/// transfer or a lookup in the zones.
pub fn answer(zones: &[&Zone], identity: &str, options: Options, req: &Message, via: Via) -> Reply {
    if let Some(settled) = screen(req, identity) {
        return settled;
    }
    if matches!(
        req.queries[0].query_type(),
        RecordType::AXFR | RecordType::IXFR
    ) {
        return transfer(zones, options, req, via);
    }
    Reply::One(lookup(zones, req))
}

/// The authoritative reply to `req`, for a caller that answers every message
/// it receives and has no name of its own (the url demo's server, the fuzz
/// target). A server should drop a response (QR=1) instead, as [`answer`]
/// says; here it gets NOTIMP. Zone transfers are refused.
pub fn respond(zones: &[&Zone], req: &Message) -> Message {
    let via = Via {
        client: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        tcp: false,
    };
    match answer(zones, "netlab", Options::default(), req, via) {
        Reply::One(m) => m,
        Reply::Drop => bare(req, ResponseCode::NotImp),
        Reply::Transfer(mut ms) => ms.swap_remove(0),
    }
}

/// The zone for `qname` among `zones`: the closest enclosing one.
fn zone_for<'z>(zones: &[&'z Zone], qname: &Name) -> Option<&'z Zone> {
    zones
        .iter()
        .copied()
        .filter(|z| z.origin.zone_of(qname))
        .max_by_key(|z| z.origin.num_labels())
}

/// An ordinary question (one, class IN or ANY, not a transfer) looked up in the zones.
fn lookup(zones: &[&Zone], req: &Message) -> Message {
    let q = &req.queries[0];
    let qname = q.name().clone();
    let qtype = q.query_type();
    let Some(zone) = zone_for(zones, &qname) else {
        return empty_reply(req, ResponseCode::Refused);
    };
    let mut reply = empty_reply(req, ResponseCode::NoError);
    if let Some(cut) = zone_cut(zone, &qname) {
        referral(zone, &cut, &mut reply);
        return reply;
    }
    reply.metadata.authoritative = true;
    if qtype == RecordType::ANY {
        // Every RRset of the name, and no CNAME is followed: ANY matches the
        // CNAME itself (RFC 1034 §4.3.2, step 3a).
        let all = zone.all_at(&qname);
        if all.is_empty() {
            negative(zone, &qname, &mut reply);
        } else {
            reply.add_answers(all);
        }
        return reply;
    }
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
    if reply.answers.is_empty() {
        negative(zone, &owner, &mut reply);
    }
    reply
}

/// NXDOMAIN (no such name, nor any below it) or NODATA, with the SOA that
/// bounds how long a resolver may keep the negative answer.
fn negative(zone: &Zone, owner: &Name, reply: &mut Message) {
    if !zone.has_name(owner) && !zone.has_below(owner) {
        reply.metadata.response_code = ResponseCode::NXDomain;
    }
    if let Some(mut soa) = zone.soa() {
        // Negative answers are cached for min(SOA TTL, SOA MINIMUM) (RFC 2308 §3).
        if let RData::SOA(s) = &soa.data {
            soa.ttl = soa.ttl.min(s.minimum);
        }
        reply.add_authority(soa);
    }
}

/// AXFR or IXFR: REFUSED unless the instructor allowed transfers and the
/// client is on loopback; then the whole zone over TCP (IXFR answered with
/// the whole zone too, as RFC 1995 §4 allows).
fn transfer(zones: &[&Zone], options: Options, req: &Message, via: Via) -> Reply {
    if !options.allow_axfr || !via.client.ip().is_loopback() {
        return Reply::One(empty_reply(req, ResponseCode::Refused));
    }
    let q = &req.queries[0];
    let Some(zone) = zones.iter().find(|z| z.origin == *q.name()) else {
        // Not the apex of a zone served here.
        return Reply::One(empty_reply(req, ResponseCode::NotAuth));
    };
    let Some(soa) = zone.soa() else {
        return Reply::One(empty_reply(req, ResponseCode::ServFail));
    };
    if !via.tcp {
        if q.query_type() == RecordType::IXFR {
            // RFC 1995 §2: over UDP, the current SOA alone; the client then asks over TCP.
            let mut m = empty_reply(req, ResponseCode::NoError);
            m.metadata.authoritative = true;
            m.add_answer(soa);
            return Reply::One(m);
        }
        // AXFR is defined over TCP only (RFC 5936 §4.2); BIND says FORMERR.
        return Reply::One(empty_reply(req, ResponseCode::FormErr));
    }
    let mut records = vec![soa.clone()];
    records.extend(
        zone.records
            .values()
            .flat_map(|set| set.records_without_rrsigs().cloned())
            .filter(|r| r.record_type() != RecordType::SOA || r.name != zone.origin),
    );
    records.push(soa);
    let mut messages = Vec::new();
    let mut current = empty_reply(req, ResponseCode::NoError);
    let mut size = 0;
    for r in records {
        let n = r.to_bytes().map_or(512, |b| b.len());
        if size + n > TRANSFER_MESSAGE && !current.answers.is_empty() {
            messages.push(std::mem::replace(
                &mut current,
                header_only(req, ResponseCode::NoError),
            ));
            size = 0;
        }
        current.metadata.authoritative = true;
        current.add_answer(r);
        size += n;
    }
    messages.push(current);
    Reply::Transfer(messages)
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

/// The reply's OPT record: there when the query had one (RFC 6891 §7), in
/// EDNS version 0, the one the lab speaks.
fn add_opt(req: &Message, reply: &mut Message) {
    if req.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(MAX_EDNS_UDP as u16);
        edns.set_version(0);
        reply.set_edns(edns);
    }
}

/// Encode a reply for UDP: truncated with TC=1 when it does not fit.
pub fn encode_udp(req: &Message, mut reply: Message) -> Vec<u8> {
    let limit = match &req.edns {
        Some(e) => (e.max_payload() as usize).clamp(CLASSIC_UDP, MAX_EDNS_UDP),
        None => CLASSIC_UDP,
    };
    add_opt(req, &mut reply);
    let bytes = reply.to_vec().unwrap_or_default();
    if bytes.len() <= limit {
        return bytes;
    }
    reply.truncate().to_vec().unwrap_or_default()
}

/// Encode a reply for TCP: whole, behind its two-byte length (RFC 1035 §4.2.2).
pub fn encode_tcp(req: &Message, mut reply: Message) -> Option<Vec<u8>> {
    add_opt(req, &mut reply);
    let bytes = reply.to_vec().ok()?;
    let len = u16::try_from(bytes.len()).ok()?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    Some(framed)
}

/// One lab server's zones and who it is.
struct Served {
    /// The zones it answers for, shared with the set they were loaded into.
    zones: Vec<Arc<Zone>>,
    /// Its name, for CH `hostname.bind`.
    identity: String,
    /// The instructor's switches.
    options: Options,
}

impl Served {
    fn answer(&self, req: &Message, via: Via) -> Reply {
        let refs: Vec<&Zone> = self.zones.iter().map(|z| &**z).collect();
        answer(&refs, &self.identity, self.options, req, via)
    }
}

/// What a lab server does with a query.
#[derive(Clone)]
enum Role {
    Authoritative(Arc<Served>),
    /// The resolver, and its name.
    Recursive(Arc<Resolver>, Arc<str>),
    Hostile(Misbehaviour, Arc<Served>),
}

impl Role {
    /// The honest reply (over TCP a hostile server still answers honestly,
    /// where it listens at all), and whether a resolver's cache gave it.
    async fn answer(&self, req: &Message, via: Via) -> (Reply, bool) {
        match self {
            Role::Authoritative(s) | Role::Hostile(_, s) => (s.answer(req, via), false),
            Role::Recursive(r, identity) => {
                if let Some(settled) = screen(req, identity) {
                    return (settled, false);
                }
                if matches!(
                    req.queries[0].query_type(),
                    RecordType::AXFR | RecordType::IXFR
                ) {
                    // A resolver holds no zone to transfer.
                    return (Reply::One(empty_reply(req, ResponseCode::Refused)), false);
                }
                let (m, cached) = r.clone().resolve(req.clone()).await;
                (Reply::One(m), cached)
            }
        }
    }
}

/// An rcode as dig prints it.
fn rcode_text(rc: ResponseCode) -> String {
    match u16::from(rc) {
        9 => "NOTAUTH".into(),
        // BADSIG shares the number; it is only ever meant in a TSIG record.
        16 => "BADVERS".into(),
        n => crate::wire::dns::rcode_name(n),
    }
}

/// What a reply said, in the words of the log: answer, referral, NXDOMAIN …
fn said(reply: &Message, cached: bool) -> String {
    let md = &reply.metadata;
    let what = if md.truncation {
        "truncated (TC=1)".to_string()
    } else if md.response_code != ResponseCode::NoError {
        rcode_text(md.response_code)
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

/// What a [`Reply`] did, in the words of the log.
fn told(reply: &Reply, cached: bool) -> String {
    match reply {
        Reply::Drop => "dropped: a response (QR=1), not a query".into(),
        Reply::One(m) => said(m, cached),
        Reply::Transfer(ms) => {
            let records: usize = ms.iter().map(|m| m.answers.len()).sum();
            format!("zone transfer ({records} records in {} messages)", ms.len())
        }
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

/// One DNS message a lab server received or sent, as its socket saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// When the socket took it in or handed it to the kernel.
    pub at: std::time::SystemTime,
    /// Who sent it.
    pub from: SocketAddr,
    /// Who it was for.
    pub to: SocketAddr,
    /// Over TCP (the message without its two-byte length); else one UDP datagram.
    pub tcp: bool,
    /// Received by a lab server (else sent by one).
    pub received: bool,
    /// The message's bytes (for a datagram, whatever arrived, DNS or not).
    pub bytes: Vec<u8>,
}

/// Messages a lab keeps at most for [`DnsLab::messages`]: a burst of a million
/// datagrams must not take the memory of a million copies. Past it, messages
/// are counted, not kept.
pub const MAX_KEPT: usize = 50_000;

/// What the servers saw, kept only once [`DnsLab::record_messages`] was called
/// (a `lab dns` that runs for hours without `--pcap` keeps nothing).
#[derive(Default)]
struct Recorder {
    on: std::sync::atomic::AtomicBool,
    kept: std::sync::Mutex<Vec<Seen>>,
    /// Messages seen past [`MAX_KEPT`].
    missed: std::sync::atomic::AtomicU64,
}

impl Recorder {
    /// Keep one message: `received` by a lab server from `from`, else sent by it to `to`.
    fn keep(&self, from: SocketAddr, to: SocketAddr, tcp: bool, received: bool, bytes: &[u8]) {
        use std::sync::atomic::Ordering;
        if !self.on.load(Ordering::Relaxed) {
            return;
        }
        let at = std::time::SystemTime::now();
        if let Ok(mut v) = self.kept.lock() {
            if v.len() < MAX_KEPT {
                v.push(Seen {
                    at,
                    from,
                    to,
                    tcp,
                    received,
                    bytes: bytes.to_vec(),
                });
                return;
            }
        }
        self.missed.fetch_add(1, Ordering::Relaxed);
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
    /// Every message the servers received and sent, once asked to keep them.
    recorder: Arc<Recorder>,
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

    /// From now on, keep every message the lab's servers receive and send, at
    /// their sockets (the resolver's too: its questions reach the authoritative
    /// servers, which keep them), up to [`MAX_KEPT`]; see [`DnsLab::messages`].
    pub fn record_messages(&self) {
        self.recorder
            .on
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The messages kept since the last call, in the order the sockets saw
    /// them, and how many more were seen but not kept (past [`MAX_KEPT`]).
    pub fn messages(&self) -> (Vec<Seen>, u64) {
        let mut kept = self
            .recorder
            .kept
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        kept.sort_by_key(|m| m.at);
        let missed = self
            .recorder
            .missed
            .swap(0, std::sync::atomic::Ordering::Relaxed);
        (kept, missed)
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
        Self::start_with(set, port, with_resolver, Options::default())
    }

    /// [`DnsLab::start`], with the instructor's switches.
    pub fn start_with(
        set: &ZoneSet,
        port: u16,
        with_resolver: bool,
        options: Options,
    ) -> Result<DnsLab> {
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
            let served = Arc::new(Served {
                zones,
                identity: plan
                    .names
                    .first()
                    .map_or_else(|| plan.addr.to_string(), |n| n.to_string()),
                options,
            });
            let role = match plan.misbehaviour {
                Some(m) => Role::Hostile(m, served),
                None => Role::Authoritative(served),
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
                role: Role::Recursive(r, resolver_name(set).into()),
            });
        }
        let recorder = Arc::new(Recorder::default());
        {
            let _guard = rt.enter();
            for b in servers {
                let sock = |e| Error::Socket {
                    op: "serve",
                    addr: b.addr.to_string(),
                    source: e,
                };
                let udp = tokio::net::UdpSocket::from_std(b.udp).map_err(sock)?;
                rt.spawn(serve_udp(udp, b.addr, b.role.clone(), recorder.clone()));
                if let Some(tcp) = b.tcp {
                    let tcp = tokio::net::TcpListener::from_std(tcp).map_err(sock)?;
                    rt.spawn(serve_tcp(tcp, b.addr, b.role, recorder.clone()));
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
            recorder,
        })
    }
}

/// The resolver's name in the lab's zones (for CH `hostname.bind`), else its address.
fn resolver_name(set: &ZoneSet) -> String {
    set.names_at(RESOLVER_ADDR)
        .first()
        .map_or_else(|| RESOLVER_ADDR.to_string(), |n| n.to_string())
}

/// A reply that could not be sent, in the log.
fn send_failed(server: SocketAddr, client: SocketAddr, e: &std::io::Error) {
    tracing::warn!(target: "netlab::lab::dns", "{server} could not send its reply to {client}: {e}");
}

async fn serve_udp(sock: tokio::net::UdpSocket, local: SocketAddr, role: Role, rec: Arc<Recorder>) {
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
        rec.keep(from, local, false, true, &buf[..n]);
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
        // No server here answers a response, honest or hostile: two servers
        // answering each other's replies would never stop.
        if req.metadata.message_type == MessageType::Response {
            log_served(local, from, "udp", &req, &told(&Reply::Drop, false));
            continue;
        }
        let via = Via {
            client: from,
            tcp: false,
        };
        // An authoritative answer is computed from memory: answered here, at
        // once. A resolver may walk and a hostile server may sleep: a task each.
        if let Role::Authoritative(served) = &role {
            let reply = served.answer(&req, via);
            log_served(local, from, "udp", &req, &told(&reply, false));
            send_udp(&sock, local, from, &req, reply, &rec).await;
            continue;
        }
        let (sock, role, rec) = (sock.clone(), role.clone(), rec.clone());
        tokio::spawn(async move {
            if let Role::Hostile(m, served) = &role {
                if *m == Misbehaviour::Slow {
                    tokio::time::sleep(SLOW_SERVER).await;
                }
                let how = format!("misbehaved on purpose: {}", m.name());
                match hostile_reply(*m, &served.zones, &req) {
                    Some((bytes, false)) => {
                        log_served(local, from, "udp", &req, &how);
                        match sock.send_to(&bytes, from).await {
                            Ok(_) => rec.keep(local, from, false, false, &bytes),
                            Err(e) => send_failed(local, from, &e),
                        }
                    }
                    Some((bytes, true)) => {
                        log_served(local, from, "udp", &req, &how);
                        if let Ok(other) = tokio::net::UdpSocket::bind((WRONG_SOURCE, 0)).await {
                            let wrong = other.local_addr().unwrap_or(local);
                            match other.send_to(&bytes, from).await {
                                Ok(_) => rec.keep(wrong, from, false, false, &bytes),
                                Err(e) => send_failed(local, from, &e),
                            }
                        }
                    }
                    None => log_served(local, from, "udp", &req, &how),
                }
            } else {
                let (reply, cached) = role.answer(&req, via).await;
                log_served(local, from, "udp", &req, &told(&reply, cached));
                send_udp(&sock, local, from, &req, reply, &rec).await;
            }
        });
    }
}

/// Send a reply over UDP (a dropped message gets nothing; a transfer never
/// comes over UDP, where [`answer`] gives one message).
async fn send_udp(
    sock: &tokio::net::UdpSocket,
    local: SocketAddr,
    from: SocketAddr,
    req: &Message,
    reply: Reply,
    rec: &Recorder,
) {
    let Reply::One(msg) = reply else { return };
    let bytes = encode_udp(req, msg);
    match sock.send_to(&bytes, from).await {
        Ok(_) => rec.keep(local, from, false, false, &bytes),
        Err(e) => send_failed(local, from, &e),
    }
}

async fn serve_tcp(
    listener: tokio::net::TcpListener,
    local: SocketAddr,
    role: Role,
    rec: Arc<Recorder>,
) {
    loop {
        let (mut stream, from) = match listener.accept().await {
            Ok(got) => got,
            Err(e) => {
                tracing::warn!(target: "netlab::lab::dns", "{local} could not accept a TCP connection: {e}");
                continue;
            }
        };
        let (role, rec) = (role.clone(), rec.clone());
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
                rec.keep(from, local, true, true, &body);
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
                let via = Via {
                    client: from,
                    tcp: true,
                };
                let (reply, cached) = role.answer(&req, via).await;
                log_served(local, from, "tcp", &req, &told(&reply, cached));
                let messages = match reply {
                    Reply::Drop => continue,
                    Reply::One(m) => vec![m],
                    Reply::Transfer(ms) => ms,
                };
                for m in messages {
                    let Some(framed) = encode_tcp(&req, m) else {
                        return;
                    };
                    if let Err(e) = stream.write_all(&framed).await {
                        send_failed(local, from, &e);
                        return;
                    }
                    rec.keep(
                        local,
                        from,
                        true,
                        false,
                        framed.get(2..).unwrap_or_default(),
                    );
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

    fn zone<'s>(set: &'s ZoneSet, origin: &str) -> &'s Zone {
        set.zones
            .iter()
            .find(|z| z.origin == Name::from_ascii(origin).unwrap())
            .unwrap()
    }

    fn query(name: &str, t: RecordType) -> Message {
        build_query(&Name::from_ascii(name).unwrap(), t, true)
    }

    fn one(r: Reply) -> Message {
        match r {
            Reply::One(m) => m,
            other => panic!("expected one message, got {other:?}"),
        }
    }

    const LOOPBACK: Via = Via {
        client: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40000),
        tcp: false,
    };

    #[test]
    fn a_response_is_dropped_not_answered() {
        let set = ZoneSet::builtin().unwrap();
        let mut q = query("baidu.com.", RecordType::A);
        q.metadata.message_type = MessageType::Response;
        let z = [zone(&set, "baidu.com.")];
        assert!(matches!(
            answer(&z, "ns1.baidu.com.", Options::default(), &q, LOOPBACK),
            Reply::Drop
        ));
    }

    #[test]
    fn another_edns_version_gets_badvers_in_version_0() {
        let set = ZoneSet::builtin().unwrap();
        let mut q = query("baidu.com.", RecordType::A);
        let mut edns = Edns::new();
        edns.set_version(1);
        q.set_edns(edns);
        let reply = respond(&[zone(&set, "baidu.com.")], &q);
        assert!(reply.answers.is_empty());
        // On the wire: 16 = high bits 1 in the OPT record, low bits 0 in the header.
        let wire = encode_udp(&q, reply);
        assert_eq!(wire[3] & 0x0f, 0, "the header's 4 rcode bits");
        let back = Message::from_vec(&wire).unwrap();
        // 16 is BADVERS in a reply with no TSIG (hickory decodes it as its twin BADSIG).
        assert_eq!(u16::from(back.metadata.response_code), 16);
        let opt = back.edns.expect("BADVERS travels in an OPT record");
        assert_eq!((opt.version(), opt.rcode_high()), (0, 1));
        assert_eq!(back.queries.len(), 1, "the question is echoed");
    }

    #[test]
    fn other_opcodes_get_notimp_with_the_header_alone() {
        let set = ZoneSet::builtin().unwrap();
        for op in [
            OpCode::Notify,
            OpCode::Update,
            OpCode::Status,
            OpCode::from_u8(1),
        ] {
            let mut q = query("baidu.com.", RecordType::SOA);
            q.metadata.op_code = op;
            let r = respond(&[zone(&set, "baidu.com.")], &q);
            assert_eq!(r.metadata.response_code, ResponseCode::NotImp, "{op:?}");
            assert_eq!(r.metadata.op_code, op);
            assert!(r.queries.is_empty() && r.answers.is_empty(), "{op:?}");
            assert!(!r.metadata.recursion_desired, "as BIND: the header alone");
        }
    }

    #[test]
    fn other_classes_never_get_in_data() {
        let set = ZoneSet::builtin().unwrap();
        let z = [zone(&set, "baidu.com.")];
        let ask = |name: &str, t: RecordType, class: DNSClass| {
            let mut q = query(name, t);
            q.queries[0].set_query_class(class);
            one(answer(
                &z,
                "ns1.baidu.com.",
                Options::default(),
                &q,
                LOOPBACK,
            ))
        };
        // As BIND answers them.
        for (class, rcode) in [
            (DNSClass::CH, ResponseCode::Refused),
            (DNSClass::HS, ResponseCode::Refused),
            (DNSClass::ANY, ResponseCode::FormErr),
            (DNSClass::NONE, ResponseCode::FormErr),
            (DNSClass::from(7), ResponseCode::NotImp),
        ] {
            let r = ask("www.baidu.com.", RecordType::A, class);
            assert_eq!(r.metadata.response_code, rcode, "{class:?}");
            assert!(r.answers.is_empty());
        }
        let v = ask("version.bind.", RecordType::TXT, DNSClass::CH);
        assert!(v.metadata.authoritative);
        assert_eq!(v.answers[0].dns_class, DNSClass::CH);
        assert_eq!(
            v.answers[0].data.to_string(),
            format!("netlab {}", env!("CARGO_PKG_VERSION"))
        );
        let h = ask("hostname.bind.", RecordType::TXT, DNSClass::CH);
        assert_eq!(h.answers[0].data.to_string(), "ns1.baidu.com");
        let nodata = ask("id.server.", RecordType::A, DNSClass::CH);
        assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
        assert!(nodata.answers.is_empty());
        assert_eq!(nodata.authorities[0].record_type(), RecordType::SOA);
        let below = ask("x.version.bind.", RecordType::TXT, DNSClass::CH);
        assert_eq!(below.metadata.response_code, ResponseCode::NXDomain);
    }

    #[test]
    fn any_gives_every_rrset_of_the_name_and_no_cname_chase() {
        let set = ZoneSet::builtin().unwrap();
        let z = [zone(&set, "baidu.com.")];
        let r = respond(&z, &query("baidu.com.", RecordType::ANY));
        assert!(r.metadata.authoritative);
        let mut types: Vec<String> = r
            .answers
            .iter()
            .map(|a| a.record_type().to_string())
            .collect();
        types.dedup();
        assert_eq!(types, ["A", "NS", "SOA", "MX", "TXT"]);
        let alias = respond(&z, &query("www.baidu.com.", RecordType::ANY));
        assert_eq!(alias.answers.len(), 1);
        assert_eq!(alias.answers[0].record_type(), RecordType::CNAME);
        let nx = respond(&z, &query("nope.baidu.com.", RecordType::ANY));
        assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    }

    #[test]
    fn meta_and_unknown_types() {
        let set = ZoneSet::builtin().unwrap();
        let z = [zone(&set, "baidu.com.")];
        let rcode = |t: u16| {
            respond(&z, &query("baidu.com.", RecordType::from(t)))
                .metadata
                .response_code
        };
        for meta in [41, 128, 249, 250] {
            assert_eq!(rcode(meta), ResponseCode::FormErr, "TYPE{meta}");
        }
        assert_eq!(rcode(253), ResponseCode::NotImp, "MAILB");
        assert_eq!(rcode(254), ResponseCode::NotImp, "MAILA");
        for unknown in [0, 65000] {
            let r = respond(&z, &query("baidu.com.", RecordType::from(unknown)));
            assert_eq!(
                r.metadata.response_code,
                ResponseCode::NoError,
                "TYPE{unknown}"
            );
            assert!(r.answers.is_empty());
            assert_eq!(
                r.authorities[0].record_type(),
                RecordType::SOA,
                "NODATA proves it"
            );
        }
    }

    #[test]
    fn transfers_are_refused_unless_allowed_to_loopback_over_tcp() {
        let set = ZoneSet::builtin().unwrap();
        let z = [zone(&set, "baidu.com.")];
        let axfr = query("baidu.com.", RecordType::AXFR);
        let tcp = Via {
            tcp: true,
            ..LOOPBACK
        };
        let refused = one(answer(&z, "n", Options::default(), &axfr, tcp));
        assert_eq!(refused.metadata.response_code, ResponseCode::Refused);
        assert!(refused.answers.is_empty(), "no SOA before the refusal");
        let allow = Options { allow_axfr: true };
        let elsewhere = Via {
            client: "198.51.100.10:40000".parse().unwrap(),
            tcp: true,
        };
        let r = one(answer(&z, "n", allow, &axfr, elsewhere));
        assert_eq!(
            r.metadata.response_code,
            ResponseCode::Refused,
            "not from loopback"
        );
        let udp = one(answer(&z, "n", allow, &axfr, LOOPBACK));
        assert_eq!(
            udp.metadata.response_code,
            ResponseCode::FormErr,
            "AXFR is TCP only"
        );
        let ixfr = one(answer(
            &z,
            "n",
            allow,
            &query("baidu.com.", RecordType::IXFR),
            LOOPBACK,
        ));
        assert_eq!(ixfr.answers.len(), 1, "IXFR over UDP: the SOA alone");
        let other = one(answer(
            &z,
            "n",
            allow,
            &query("www.baidu.com.", RecordType::AXFR),
            tcp,
        ));
        assert_eq!(other.metadata.response_code, ResponseCode::NotAuth);
        let Reply::Transfer(ms) = answer(&z, "n", allow, &axfr, tcp) else {
            panic!("a transfer")
        };
        let records: Vec<&Record> = ms.iter().flat_map(|m| &m.answers).collect();
        let in_zone: usize = z[0]
            .records
            .values()
            .map(|s| s.records_without_rrsigs().count())
            .sum();
        assert_eq!(
            records.len(),
            in_zone + 1,
            "the SOA twice, everything else once"
        );
        assert_eq!(records[0].record_type(), RecordType::SOA);
        assert_eq!(records[records.len() - 1].record_type(), RecordType::SOA);
    }

    #[test]
    fn a_big_zone_is_transferred_in_several_messages() {
        let mut text = String::from("$ORIGIN big.\n@ 60 IN SOA ns.big. h.big. 1 1 1 1 1\n@ 60 IN NS ns.big.\nns 60 IN A 127.53.9.1\n");
        for i in 0..3000 {
            text.push_str(&format!("h{i} 60 IN A 198.51.100.{}\n", i % 250));
        }
        let big = Zone::parse("big.zone", &text).unwrap();
        let q = query("big.", RecordType::AXFR);
        let tcp = Via {
            tcp: true,
            ..LOOPBACK
        };
        let Reply::Transfer(ms) = answer(&[&big], "n", Options { allow_axfr: true }, &q, tcp)
        else {
            panic!("a transfer")
        };
        assert!(ms.len() > 1, "{} messages", ms.len());
        for m in &ms {
            assert!(encode_tcp(&q, m.clone()).is_some_and(|b| b.len() <= 65537));
        }
        assert_eq!(
            ms.iter().map(|m| m.answers.len()).sum::<usize>(),
            3000 + 2 + 2
        );
        assert_eq!(
            ms[0].queries.len(),
            1,
            "the question in the first message only"
        );
        assert!(ms[1].queries.is_empty());
    }

    #[test]
    fn the_root_refers_reverse_names_to_in_addr_arpa() {
        let set = ZoneSet::builtin().unwrap();
        // 127.53.0.1 serves the root and arpa, as the real root servers do.
        let z = [zone(&set, "."), zone(&set, "arpa.")];
        let r = respond(&z, &query("10.113.0.203.in-addr.arpa.", RecordType::PTR));
        assert!(!r.metadata.authoritative, "a referral");
        assert!(r
            .authorities
            .iter()
            .all(|a| a.name.to_string() == "in-addr.arpa."));
        let glue: Vec<String> = r.additionals.iter().map(|a| a.data.to_string()).collect();
        assert_eq!(glue, ["127.53.7.1", "127.53.7.2"]);
        let rev = [
            zone(&set, "in-addr.arpa."),
            zone(&set, "113.0.203.in-addr.arpa."),
        ];
        let ptr = respond(&rev, &query("10.113.0.203.in-addr.arpa.", RecordType::PTR));
        assert!(ptr.metadata.authoritative);
        assert_eq!(ptr.answers[0].data.to_string(), "h3.lab.edu.cn.");
    }

    #[test]
    fn a_view_answers_by_the_clients_subnet_and_no_view_refuses() {
        let zone = |a: &str| {
            let text = format!("$ORIGIN cdn.test.\n@ 60 IN SOA ns h 1 1 1 1 1\n@ 60 IN NS ns\nns 60 IN A 198.51.100.153\nwww 60 IN A {a}\n");
            Zone::parse("cdn.test.zone", &text).unwrap()
        };
        let views = [
            View {
                name: "lan1".into(),
                clients: (Ipv4Addr::new(198, 51, 100, 0), 26),
                zones: vec![zone("198.51.100.20")],
            },
            View {
                name: "lan2".into(),
                clients: (Ipv4Addr::new(198, 51, 100, 64), 26),
                zones: vec![zone("198.51.100.84")],
            },
        ];
        let q = query("www.cdn.test.", RecordType::A);
        let from = |c: [u8; 4]| Via {
            client: SocketAddr::from((c, 40000)),
            tcp: false,
        };
        let a = |c: [u8; 4]| match answer_in_view(&views, "n", Options::default(), &q, from(c)) {
            Reply::One(m) => (
                m.metadata.response_code,
                m.answers
                    .iter()
                    .map(|r| r.data.to_string())
                    .collect::<Vec<_>>(),
            ),
            other => panic!("{other:?}"),
        };
        assert_eq!(a([198, 51, 100, 10]).1, ["198.51.100.20"], "the first /26");
        assert_eq!(
            a([198, 51, 100, 63]).1,
            ["198.51.100.20"],
            "its last address"
        );
        assert_eq!(a([198, 51, 100, 74]).1, ["198.51.100.84"], "the second /26");
        assert_eq!(
            a([198, 51, 100, 130]),
            (ResponseCode::Refused, vec![]),
            "no view"
        );
        let mut resp = q.clone();
        resp.metadata.message_type = MessageType::Response;
        assert!(matches!(
            answer_in_view(
                &views,
                "n",
                Options::default(),
                &resp,
                from([198, 51, 100, 130])
            ),
            Reply::Drop
        ));
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
