//! dns-trace's typed record: the data each kind of step carries and the
//! summary's result, as `--json` prints them and docs/json-schema.md
//! documents them. Plain values only (addresses, names, numbers, record
//! text): nothing here depends on the language, and nothing is padded.

use std::net::SocketAddr;

use hickory_proto::rr::Record;
use schemars::JsonSchema;
use serde::Serialize;

use crate::dns::stub::{Setup, Source};
use crate::host::HostsLine;

/// The first step: what is looked up, and which DNS servers the run uses.
#[derive(Serialize, JsonSchema)]
pub struct Intro {
    /// The name as DNS carries it: ASCII, fully qualified (`www.baidu.com.`).
    pub name: String,
    /// The record type asked for (`A`, `AAAA`, `CNAME`, `MX`, `NS`, `TXT`).
    #[serde(rename = "type")]
    pub qtype: String,
    /// The name as typed and as punycode, when it was internationalised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub punycode: Option<Punycode>,
    /// The port every server of the walk listens on (the lab's, `--root-servers`', or 53).
    pub port: u16,
    /// The DNS servers started for the run (the lab's) or given with
    /// `--root-servers`; empty with `--live`.
    pub servers: Vec<ServerOut>,
}

/// A name as typed and as DNS carries it.
#[derive(Serialize, JsonSchema)]
pub struct Punycode {
    /// What was typed (`中文.cn`).
    pub input: String,
    /// Its IDNA form, fully qualified (`xn--fiq228c.cn.`).
    pub ascii: String,
}

/// One DNS server of the run.
#[derive(Serialize, JsonSchema)]
pub struct ServerOut {
    /// Where it listens (`127.53.0.1:53`).
    pub address: SocketAddr,
    /// The zones it serves (`.` is the root); empty when netlab does not know
    /// them (`--root-servers`).
    pub zones: Vec<String>,
    /// How this lab server misbehaves on purpose (a teaching case), if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub misbehaves: Option<String>,
}

/// Stage 1: the hosts file.
#[derive(Serialize, JsonSchema)]
pub struct HostsOut {
    /// The file read (`/etc/hosts`, or `--hosts`).
    pub file: String,
    /// Its lines that name the host, in file order (the first one answers).
    pub matches: Vec<HostsLine>,
    /// The `hosts:` line of /etc/nsswitch.conf, if it has one.
    pub nsswitch: Option<String>,
    /// The hosts file is read before DNS (`files` comes before `dns` on that
    /// line; without the line glibc asks DNS first).
    pub files_first: bool,
    /// The line that answers the lookup, as a program's resolver would take
    /// it: the first giving an address of the asked family (IPv4 for A, IPv6
    /// for AAAA), when the file is read before DNS. Null when DNS answers.
    pub answer: Option<HostsLine>,
}

/// Stage 2's first lookup: the stub, how it was set up, and the walk its
/// query made the lab resolver do.
#[derive(Serialize, JsonSchema)]
pub struct StubFirst {
    /// The stub's configuration.
    pub setup: Setup,
    /// The lookup.
    pub stub: StubOut,
    /// The lab resolver's own walk on its cache miss, when it walked (its
    /// packets are this step's too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolver_walk: Option<ResolverWalkOut>,
}

/// Stage 2's second lookup of the same name.
#[derive(Serialize, JsonSchema)]
pub struct StubAgain {
    /// Who caches lookups on this machine, outside the program.
    pub host_cache: HostCacheOut,
    /// The lookup.
    pub stub: StubOut,
}

/// One lookup through the stub resolver.
#[derive(Serialize, JsonSchema)]
pub struct StubOut {
    /// 1 for the first lookup, 2 for the same one again.
    pub lookup: u8,
    /// The records it returned (empty for NXDOMAIN, NODATA or a failure).
    pub records: Vec<RecordOut>,
    /// What went wrong, as hickory-resolver says it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// DNS messages its sockets sent and received (0: none left the process).
    pub packets: usize,
    /// How long the call took, in microseconds.
    pub took_us: u64,
    /// Answered with no packet from the stub's own cache.
    pub cached: bool,
    /// Where the answer came from: a server (`network`), the stub's cache
    /// (`cache`), or the stub itself for a special-use name such as
    /// `localhost` (`itself`, RFC 6761).
    pub answered_by: Source,
}

/// Who caches host lookups on this machine, outside the program.
#[derive(Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HostCacheOut {
    /// systemd-resolved, a caching stub at 127.0.0.53 (resolv.conf points there).
    SystemdResolved,
    /// nscd, the name service cache daemon.
    Nscd,
    /// Nothing: glibc's stub keeps no cache of its own.
    None,
}

impl From<crate::host::HostCache> for HostCacheOut {
    fn from(c: crate::host::HostCache) -> Self {
        use crate::host::HostCache as H;
        match c {
            H::SystemdResolved => HostCacheOut::SystemdResolved,
            H::Nscd => HostCacheOut::Nscd,
            H::None => HostCacheOut::None,
        }
    }
}

/// The lab resolver's walk on a miss, in numbers.
#[derive(Serialize, JsonSchema)]
pub struct ResolverWalkOut {
    /// Queries it sent (UDP and TCP).
    pub queries: usize,
    /// The zones whose servers it asked, in order, each once (`.` is the root).
    pub zones: Vec<String>,
    /// The server addresses it asked, in order.
    pub servers: Vec<SocketAddr>,
}

/// Stage 3: the local recursive server asked directly with RD=1.
#[derive(Serialize, JsonSchema)]
pub struct Recursive {
    /// The reply's RCODE (`NOERROR`, `NXDOMAIN`, `SERVFAIL` …).
    pub rcode: String,
    /// Time from query to reply, in milliseconds (the last exchange's, over
    /// TCP after a truncated reply).
    pub rtt_ms: f64,
    /// The TTL its answer may still be cached for: the answers' smallest, or
    /// a negative answer's SOA minimum (RFC 2308).
    pub ttl: Option<u32>,
    /// The smallest TTL of the stub's first answer (stage 2), when the stub
    /// got it from this server (null when it answered without asking).
    pub stub_ttl: Option<u32>,
    /// The UDP reply was truncated (TC=1) and the question asked again over TCP.
    pub truncated_then_tcp: bool,
    /// The lab resolver answered from its cache (null: unknown, a real server).
    pub cached: Option<bool>,
    /// Its walk from the root on a miss (its packets are this step's too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolver_walk: Option<ResolverWalkOut>,
}

/// Stage 3 when the recursive server gave no reply.
#[derive(Serialize, JsonSchema)]
pub struct RecursiveSilent {
    /// Why there was no reply (`timed out`, `connection refused` …).
    pub failure: String,
    /// Its walk from the root, if it walked before failing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolver_walk: Option<ResolverWalkOut>,
}

/// Stage 4: a walk from the root begins.
#[derive(Serialize, JsonSchema)]
pub struct WalkStart {
    /// The name now looked up.
    pub name: String,
    /// The alias whose CNAME led here (null for the name asked).
    pub via: Option<String>,
    /// The root servers asked first.
    pub roots: Vec<SocketAddr>,
}

/// Stage 4: one server asked, and what its reply means.
#[derive(Serialize, JsonSchema)]
pub struct ExchangeOut {
    /// The server asked.
    pub server: SocketAddr,
    /// Its host name from the NS records, if known.
    pub server_name: Option<String>,
    /// The zone it was asked as a server of (`.` is the root).
    pub zone: String,
    /// `udp`, or `tcp` after a truncated reply.
    pub transport: &'static str,
    /// Time from query to reply (or to giving up), in milliseconds.
    pub rtt_ms: f64,
    /// What the reply means: `answer`, `cname`, `referral`, `nxdomain`,
    /// `nodata`, `truncated`, `server_error`, `lame` or `no_reply`.
    pub verdict: &'static str,
    /// Datagrams that arrived but were not the reply (wrong address, id or
    /// question) and were ignored.
    pub ignored: u32,
    /// Why each ignored datagram was ignored.
    pub ignored_why: Vec<&'static str>,
    /// The reply's header and records (absent without a reply).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyOut>,
    /// Why there was no usable reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// For a referral: the zone it delegates to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referral_zone: Option<String>,
}

/// What a reply held.
#[derive(Serialize, JsonSchema)]
pub struct ReplyOut {
    /// Its RCODE (`NOERROR`, `NXDOMAIN` …).
    pub rcode: String,
    /// AA: an authoritative answer, from the zone's own server.
    pub aa: bool,
    /// TC: truncated, did not fit in UDP.
    pub tc: bool,
    /// The ANSWER section.
    pub answer: Vec<RecordOut>,
    /// The AUTHORITY section (a referral's NS records, a negative answer's SOA).
    pub authority: Vec<RecordOut>,
    /// The ADDITIONAL section (a referral's glue addresses).
    pub additional: Vec<RecordOut>,
}

/// Stage 4: a server off this machine is not asked (without `--live`).
#[derive(Serialize, JsonSchema)]
pub struct SkippedOut {
    /// The server not asked.
    pub server: SocketAddr,
}

/// Stage 4: a referral gave a server's name without its address, which is
/// looked up first.
#[derive(Serialize, JsonSchema)]
pub struct GluelessOut {
    /// The name server whose address is looked up.
    pub ns: String,
}

/// A resource record.
#[derive(Serialize, JsonSchema)]
pub struct RecordOut {
    /// Its owner name (`www.baidu.com.`).
    pub name: String,
    /// Its type (`A`, `CNAME`, `NS`, `SOA` …).
    #[serde(rename = "type")]
    pub rtype: String,
    /// Seconds it may be cached for.
    pub ttl: u32,
    /// Its data in zone-file form (`203.0.113.10`, `10 mx.baidu.com.`).
    pub data: String,
}

impl RecordOut {
    /// A record as JSON carries it.
    pub fn of(r: &Record) -> RecordOut {
        RecordOut {
            name: r.name.to_string(),
            rtype: r.record_type().to_string(),
            ttl: r.ttl,
            data: r.data.to_string(),
        }
    }
}

/// One link of a CNAME chain.
#[derive(Serialize, JsonSchema)]
pub struct CnameOut {
    /// The alias.
    pub name: String,
    /// The name it points to.
    pub target: Option<String>,
    /// Seconds the alias may be cached for.
    pub ttl: u32,
}

/// Where the answer a program gets comes from.
#[derive(Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnswerFrom {
    /// A line of the hosts file, read before DNS (stage 1): see `hosts`.
    Hosts,
    /// DNS: the walk's result (`status`, `answers`).
    Dns,
}

/// The run's result: where a program's answer comes from, and what the walk
/// from the root (stage 4) found.
#[derive(Serialize, JsonSchema)]
pub struct TraceOut {
    /// The name looked up, as DNS carries it.
    pub name: String,
    /// The record type asked for.
    #[serde(rename = "type")]
    pub qtype: String,
    /// Where the answer a program gets comes from: the hosts file when
    /// nsswitch.conf reads it before DNS and a line answers, else DNS.
    pub answer_from: AnswerFrom,
    /// The hosts-file line that answered (only when `answer_from` is `hosts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<HostsLine>,
    /// How the walk ended, i.e. what DNS says: `answer`, `nxdomain`, `nodata`
    /// or `failed`.
    pub status: &'static str,
    /// Why it failed, for people (only when `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why it failed, as a stable word (`timeout`, `referral_loop`,
    /// `cname_loop`, `deadline` …; only when `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<&'static str>,
    /// The final records of the asked type.
    pub answers: Vec<RecordOut>,
    /// The CNAME records followed, in order.
    pub cname_chain: Vec<CnameOut>,
    /// Every server address queried, in order (`IP:PORT`).
    pub servers: Vec<String>,
    /// Queries sent (UDP and TCP).
    pub queries: u32,
    /// The RCODE a client would get (`NOERROR`, `NXDOMAIN`, `SERVFAIL`).
    pub rcode: &'static str,
    /// The SOA record of a negative answer.
    pub soa: Option<RecordOut>,
    /// The walk's own time in milliseconds: its queries and waits, without
    /// the pauses of `--step` and `--pace` between its steps.
    pub elapsed_ms: f64,
}
