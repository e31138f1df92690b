//! Zone files for the DNS lab: loading, and who serves what.
//!
//! A zone is served at the addresses of its own NS records, looked up in the
//! zone itself or as glue in any other zone, so the files alone describe the
//! lab. A comment line `; netlab-lame: ADDR` marks an address that is bound but
//! never answers; `; netlab-hostile: ADDR MODE` one that misbehaves in another
//! way ([`Misbehaviour`]). Every server address must be on loopback: the lab never
//! listens or sends beyond this machine.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;

use hickory_proto::rr::{LowerName, Name, RData, Record, RecordSet, RecordType, RrKey};
use hickory_proto::serialize::txt::Parser;

use crate::error::{Error, Result};
use crate::text::tx;

/// The built-in zone files, compiled into the binary so it works anywhere.
pub const BUILTIN: &[(&str, &str)] = &[
    ("root.zone", include_str!("../../lab/zones/root.zone")),
    ("com.zone", include_str!("../../lab/zones/com.zone")),
    ("net.zone", include_str!("../../lab/zones/net.zone")),
    ("cn.zone", include_str!("../../lab/zones/cn.zone")),
    (
        "baidu.com.zone",
        include_str!("../../lab/zones/baidu.com.zone"),
    ),
    (
        "shifen.com.zone",
        include_str!("../../lab/zones/shifen.com.zone"),
    ),
    (
        "a.shifen.com.zone",
        include_str!("../../lab/zones/a.shifen.com.zone"),
    ),
    ("edu.cn.zone", include_str!("../../lab/zones/edu.cn.zone")),
    (
        "lab.edu.cn.zone",
        include_str!("../../lab/zones/lab.edu.cn.zone"),
    ),
    (
        "flaky.net.zone",
        include_str!("../../lab/zones/flaky.net.zone"),
    ),
    ("nic.cn.zone", include_str!("../../lab/zones/nic.cn.zone")),
    ("bad.net.zone", include_str!("../../lab/zones/bad.net.zone")),
    (
        "garbage.bad.net.zone",
        include_str!("../../lab/zones/garbage.bad.net.zone"),
    ),
    (
        "wrongid.bad.net.zone",
        include_str!("../../lab/zones/wrongid.bad.net.zone"),
    ),
    (
        "wrongsrc.bad.net.zone",
        include_str!("../../lab/zones/wrongsrc.bad.net.zone"),
    ),
    (
        "tcfail.bad.net.zone",
        include_str!("../../lab/zones/tcfail.bad.net.zone"),
    ),
    (
        "refloop.bad.net.zone",
        include_str!("../../lab/zones/refloop.bad.net.zone"),
    ),
    (
        "cnameloop.bad.net.zone",
        include_str!("../../lab/zones/cnameloop.bad.net.zone"),
    ),
    (
        "wrongq.bad.net.zone",
        include_str!("../../lab/zones/wrongq.bad.net.zone"),
    ),
    (
        "oversized.bad.net.zone",
        include_str!("../../lab/zones/oversized.bad.net.zone"),
    ),
    (
        "slow.bad.net.zone",
        include_str!("../../lab/zones/slow.bad.net.zone"),
    ),
    ("arpa.zone", include_str!("../../lab/zones/arpa.zone")),
    (
        "in-addr.arpa.zone",
        include_str!("../../lab/zones/in-addr.arpa.zone"),
    ),
    (
        "100.51.198.in-addr.arpa.zone",
        include_str!("../../lab/zones/100.51.198.in-addr.arpa.zone"),
    ),
    (
        "113.0.203.in-addr.arpa.zone",
        include_str!("../../lab/zones/113.0.203.in-addr.arpa.zone"),
    ),
    (
        "53.127.in-addr.arpa.zone",
        include_str!("../../lab/zones/53.127.in-addr.arpa.zone"),
    ),
];

/// One loaded zone.
#[derive(Clone, Debug)]
pub struct Zone {
    /// The zone's apex.
    pub origin: Name,
    /// File it came from (for messages).
    pub file: String,
    /// Its records, keyed by owner name and type.
    pub records: BTreeMap<RrKey, RecordSet>,
    /// Addresses that are listed as servers but misbehave (silent, garbage, ...).
    pub misbehaving: Vec<(Ipv4Addr, Misbehaviour)>,
}

/// How a lab server misbehaves, chosen per address with a zone-file comment
/// `; netlab-hostile: ADDR MODE` (or `; netlab-lame: ADDR` for `silent`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Never answers (a lame or dead server).
    Silent,
    /// Answers with random bytes.
    Garbage,
    /// Answers with the wrong query id (and false data): must be ignored.
    WrongId,
    /// Answers from another address (with false data): must be ignored.
    WrongSource,
    /// Sets TC=1 over UDP but has no TCP listener.
    TcNoTcp,
    /// Refers queries for its zone back to itself.
    ReferralLoop,
    /// Answers a different question (with false data): must be ignored.
    WrongQuestion,
    /// Sends a UDP answer far larger than the 512 bytes the client allowed.
    Oversized,
    /// Answers, but only after five seconds.
    Slow,
}

impl Misbehaviour {
    /// Every mode with its directive name.
    pub const ALL: [(&'static str, Misbehaviour); 9] = [
        ("silent", Misbehaviour::Silent),
        ("garbage", Misbehaviour::Garbage),
        ("wrong-id", Misbehaviour::WrongId),
        ("wrong-source", Misbehaviour::WrongSource),
        ("tc-no-tcp", Misbehaviour::TcNoTcp),
        ("referral-loop", Misbehaviour::ReferralLoop),
        ("wrong-question", Misbehaviour::WrongQuestion),
        ("oversized", Misbehaviour::Oversized),
        ("slow", Misbehaviour::Slow),
    ];

    /// The directive name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    /// Parse a directive name.
    pub fn parse(s: &str) -> Option<Misbehaviour> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, m)| *m)
    }

    /// Whether the server listens on TCP at all.
    pub fn has_tcp(self) -> bool {
        !matches!(self, Misbehaviour::Silent | Misbehaviour::TcNoTcp)
    }
}

fn directives(file: &str, text: &str) -> Result<Vec<(Ipv4Addr, Misbehaviour)>> {
    let bad = |en: String, zh: String| Error::Zone {
        file: file.into(),
        message: tx(en, zh),
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("; netlab-lame:") {
            for word in rest.split_whitespace() {
                let a = word.parse().map_err(|_| {
                    bad(
                        format!("netlab-lame: {word:?} is not an IPv4 address"),
                        format!("netlab-lame：{word:?} 不是 IPv4 地址"),
                    )
                })?;
                out.push((a, Misbehaviour::Silent));
            }
        } else if let Some(rest) = line.strip_prefix("; netlab-hostile:") {
            let w: Vec<&str> = rest.split_whitespace().collect();
            let [addr, mode] = w.as_slice() else {
                return Err(bad(
                    format!("netlab-hostile takes an address and a mode, got {rest:?}"),
                    format!("netlab-hostile 需要一个地址和一种模式，得到的是 {rest:?}"),
                ));
            };
            let a = addr.parse().map_err(|_| {
                bad(
                    format!("netlab-hostile: {addr:?} is not an IPv4 address"),
                    format!("netlab-hostile：{addr:?} 不是 IPv4 地址"),
                )
            })?;
            let names: Vec<&str> = Misbehaviour::ALL.iter().map(|(n, _)| *n).collect();
            let m = Misbehaviour::parse(mode).ok_or_else(|| {
                bad(
                    format!(
                        "netlab-hostile: unknown mode {mode:?}; modes: {}",
                        names.join(", ")
                    ),
                    format!(
                        "netlab-hostile：没有模式 {mode:?}；模式有：{}",
                        names.join("、")
                    ),
                )
            })?;
            out.push((a, m));
        }
    }
    Ok(out)
}

impl Zone {
    /// Parse zone-file text. The origin comes from `$ORIGIN` or the file name.
    pub fn parse(file: &str, text: &str) -> Result<Zone> {
        let stem = file.strip_suffix(".zone").unwrap_or(file);
        let origin_text = if stem == "root" || stem == "." {
            ".".to_string()
        } else {
            format!("{stem}.")
        };
        let origin = Name::from_ascii(&origin_text).map_err(|e| Error::Zone {
            file: file.into(),
            message: tx(
                format!("file name does not give a zone name: {e}"),
                format!("文件名给不出区域名：{e}"),
            ),
        })?;
        let (origin, records) =
            Parser::new(text, None, Some(origin))
                .parse()
                .map_err(|e| Error::Zone {
                    file: file.into(),
                    message: tx(
                        format!("{e} (write standard zone-file syntax, RFC 1035 §5.1; lab/zones/ has examples)"),
                        format!("解析器报告：{e}（请用标准区域文件语法，RFC 1035 §5.1；lab/zones/ 里有例子）"),
                    ),
                })?;
        let misbehaving = directives(file, text)?;
        let zone = Zone {
            origin,
            file: file.into(),
            records,
            misbehaving,
        };
        if zone.rrset(&zone.origin, RecordType::SOA).is_empty() {
            return Err(Error::Zone {
                file: file.into(),
                message: tx(
                    format!("zone {} has no SOA record at its apex", zone.origin),
                    format!("区域 {} 的顶点没有 SOA 记录", zone.origin),
                ),
            });
        }
        if zone.rrset(&zone.origin, RecordType::NS).is_empty() {
            return Err(Error::Zone {
                file: file.into(),
                message: tx(
                    format!("zone {} has no NS records at its apex", zone.origin),
                    format!("区域 {} 的顶点没有 NS 记录", zone.origin),
                ),
            });
        }
        Ok(zone)
    }

    /// Records of one type at one name (empty if none).
    pub fn rrset(&self, name: &Name, rtype: RecordType) -> Vec<Record> {
        self.records
            .get(&RrKey::new(LowerName::new(name), rtype))
            .map(|s| s.records_without_rrsigs().cloned().collect())
            .unwrap_or_default()
    }

    /// Every record owned by `name`, RRset by RRset in type order (for QTYPE ANY).
    pub fn all_at(&self, name: &Name) -> Vec<Record> {
        let lower = LowerName::new(name);
        self.records
            .range(RrKey::new(lower.clone(), RecordType::from(0u16))..)
            .take_while(|(k, _)| k.name == lower)
            .flat_map(|(_, s)| s.records_without_rrsigs().cloned())
            .collect()
    }

    /// True when any record has this owner name.
    pub fn has_name(&self, name: &Name) -> bool {
        let lower = LowerName::new(name);
        self.records.keys().any(|k| k.name == lower)
    }

    /// True when some record's owner is strictly below `name` (an empty non-terminal).
    pub fn has_below(&self, name: &Name) -> bool {
        let n: Name = name.clone();
        self.records.keys().any(|k| {
            let owner: Name = (&k.name).into();
            owner.num_labels() > n.num_labels() && n.zone_of(&owner)
        })
    }

    /// The zone's SOA record.
    pub fn soa(&self) -> Option<Record> {
        self.rrset(&self.origin, RecordType::SOA).into_iter().next()
    }

    /// Names of the zone's own name servers (apex NS).
    pub fn ns_names(&self) -> Vec<Name> {
        self.rrset(&self.origin, RecordType::NS)
            .iter()
            .filter_map(|r| match &r.data {
                RData::NS(ns) => Some(ns.0.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Parse zone files (name, text), in their order; the first error in file
/// order is the one reported.
///
/// Measured on two cores: splitting the built-in lab's files between two
/// threads gained nothing (about 210 µs against 220 µs warm: a thread costs
/// about 60 µs to start and join, and its first allocations a malloc arena).
fn parse_all(files: &[(String, &str)]) -> Result<Vec<Zone>> {
    files.iter().map(|(f, t)| Zone::parse(f, t)).collect()
}

/// One server of the lab: an address and the zones it answers for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerPlan {
    /// Where it listens.
    pub addr: Ipv4Addr,
    /// Its host names (from NS records).
    pub names: BTreeSet<Name>,
    /// Indexes into the zone list.
    pub zones: Vec<usize>,
    /// How it misbehaves, if it does.
    pub misbehaviour: Option<Misbehaviour>,
}

/// All zones of a lab.
#[derive(Clone, Debug)]
pub struct ZoneSet {
    /// The zones, in load order; shared (not copied) with the servers that serve them.
    pub zones: Vec<Arc<Zone>>,
}

impl ZoneSet {
    /// The zones compiled into netlab.
    pub fn builtin() -> Result<ZoneSet> {
        let files: Vec<(String, &str)> = BUILTIN.iter().map(|(f, t)| (f.to_string(), *t)).collect();
        Self::new(parse_all(&files)?)
    }

    /// Every `*.zone` file in a folder (`root.zone` is the root).
    pub fn from_dir(dir: &Path) -> Result<ZoneSet> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            crate::error::Error::usage(crate::text::tx(
                format!("--lab-zones {}: cannot read this folder ({e}); give a folder of ZONE.zone files such as lab/zones/", dir.display()),
                format!("--lab-zones {}：无法读取这个目录（{}）；请给一个放着 ZONE.zone 文件的目录，例如 lab/zones/", dir.display(), crate::error::os_error_text(&e).zh),
            ))
        })?;
        let mut files: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "zone"))
            .collect();
        files.sort();
        let mut texts = Vec::new();
        for path in files {
            // A zone file linked to /dev/zero, or a FIFO, is refused, not read forever.
            let text = crate::private::read_input(
                &path,
                16 << 20,
                &crate::text::tx("--lab-zones file", "--lab-zones 文件"),
            )?;
            let file = path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            texts.push((file, text));
        }
        let texts: Vec<(String, &str)> =
            texts.iter().map(|(f, t)| (f.clone(), t.as_str())).collect();
        Self::new(parse_all(&texts)?)
    }

    /// Check the set: a root zone, no zone twice, every server on loopback.
    pub fn new(zones: Vec<Zone>) -> Result<ZoneSet> {
        if !zones.iter().any(|z| z.origin.is_root()) {
            return Err(Error::Zone {
                file: "(lab)".into(),
                message: tx(
                    "no root zone: add root.zone",
                    "没有根区域：请加上 root.zone",
                ),
            });
        }
        let mut seen = BTreeSet::new();
        for z in &zones {
            if !seen.insert(z.origin.to_lowercase()) {
                return Err(Error::Zone {
                    file: z.file.clone(),
                    message: tx(
                        format!("zone {} is defined twice", z.origin),
                        format!("区域 {} 定义了两次", z.origin),
                    ),
                });
            }
        }
        let set = ZoneSet {
            zones: zones.into_iter().map(Arc::new).collect(),
        };
        for plan in set.servers()? {
            if !plan.addr.is_loopback() {
                return Err(Error::Zone {
                    file: "(lab)".into(),
                    message: {
                        let names = plan.names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
                        tx(
                            format!("server {} for {names:?} is not on loopback (127.0.0.0/8): the lab only runs on this machine", plan.addr),
                            format!("{names:?} 的服务器 {} 不在回环地址（127.0.0.0/8）上：实验网络只在本机运行", plan.addr),
                        )
                    },
                });
            }
        }
        Ok(set)
    }

    /// Addresses of a host name, from any zone (glue or authoritative data).
    pub fn addresses_of(&self, host: &Name) -> Vec<Ipv4Addr> {
        self.address_book()
            .remove(&LowerName::new(host))
            .unwrap_or_default()
    }

    /// Every A record of every zone, by owner name: the addresses of each host,
    /// in zone order, each once. Built in one pass, so finding the servers of
    /// every zone does not search every zone once per name server.
    fn address_book(&self) -> HashMap<LowerName, Vec<Ipv4Addr>> {
        let mut book: HashMap<LowerName, Vec<Ipv4Addr>> = HashMap::new();
        for z in &self.zones {
            for (key, set) in &z.records {
                if key.record_type != RecordType::A {
                    continue;
                }
                let addrs = book.entry(key.name.clone()).or_default();
                for r in set.records_without_rrsigs() {
                    if let RData::A(a) = &r.data {
                        if !addrs.contains(&a.0) {
                            addrs.push(a.0);
                        }
                    }
                }
            }
        }
        book
    }

    /// The names whose A records give `addr`, in zone order (a server's name
    /// for CH `hostname.bind`, when it is not named by NS records).
    pub fn names_at(&self, addr: Ipv4Addr) -> Vec<Name> {
        let mut names: Vec<Name> = Vec::new();
        for z in &self.zones {
            for (key, set) in &z.records {
                if key.record_type == RecordType::A
                    && set
                        .records_without_rrsigs()
                        .any(|r| matches!(&r.data, RData::A(a) if a.0 == addr))
                {
                    let n: Name = (&key.name).into();
                    if !names.contains(&n) {
                        names.push(n);
                    }
                }
            }
        }
        names
    }

    /// Which address serves which zones.
    pub fn servers(&self) -> Result<Vec<ServerPlan>> {
        let book = self.address_book();
        let mut plans: BTreeMap<Ipv4Addr, ServerPlan> = BTreeMap::new();
        for (i, z) in self.zones.iter().enumerate() {
            for ns in z.ns_names() {
                let addrs = book
                    .get(&LowerName::new(&ns))
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                if addrs.is_empty() {
                    return Err(Error::Zone {
                        file: z.file.clone(),
                        message: tx(
                            format!(
                                "name server {ns} of {} has no A record in any zone",
                                z.origin
                            ),
                            format!("{} 的域名服务器 {ns} 在任何区域里都没有 A 记录", z.origin),
                        ),
                    });
                }
                for &a in addrs {
                    let p = plans.entry(a).or_insert_with(|| ServerPlan {
                        addr: a,
                        names: BTreeSet::new(),
                        zones: Vec::new(),
                        misbehaviour: None,
                    });
                    p.names.insert(ns.clone());
                    if !p.zones.contains(&i) {
                        p.zones.push(i);
                    }
                    if let Some((_, m)) = z.misbehaving.iter().find(|(x, _)| *x == a) {
                        p.misbehaviour = Some(*m);
                    }
                }
            }
        }
        Ok(plans.into_values().collect())
    }

    /// The root zone.
    pub fn root(&self) -> &Zone {
        self.zones
            .iter()
            .find(|z| z.origin.is_root())
            .expect("checked in new")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_zones_load_and_servers_are_loopback() {
        let set = ZoneSet::builtin().unwrap();
        assert_eq!(set.zones.len(), BUILTIN.len());
        let servers = set.servers().unwrap();
        assert!(servers.iter().all(|s| s.addr.octets()[..2] == [127, 53]));
        let lame: Vec<_> = servers
            .iter()
            .filter(|s| s.misbehaviour == Some(Misbehaviour::Silent))
            .map(|s| s.addr)
            .collect();
        assert_eq!(lame, vec![Ipv4Addr::new(127, 53, 4, 1)]);
        let root = servers
            .iter()
            .find(|s| s.addr == Ipv4Addr::new(127, 53, 0, 1))
            .unwrap();
        // the root servers serve the root and arpa, as the real ones do
        let served: Vec<String> = root
            .zones
            .iter()
            .map(|&i| set.zones[i].origin.to_string())
            .collect();
        assert_eq!(served, [".", "arpa."]);
        // the gTLD servers serve both com and net
        let gtld = servers
            .iter()
            .find(|s| s.addr == Ipv4Addr::new(127, 53, 1, 1))
            .unwrap();
        assert_eq!(gtld.zones.len(), 2);
    }

    #[test]
    fn every_zone_file_in_the_repo_is_compiled_in() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lab/zones");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|f| f.ends_with(".zone"))
            .collect();
        on_disk.sort();
        let mut built: Vec<String> = BUILTIN.iter().map(|(f, _)| f.to_string()).collect();
        built.sort();
        assert_eq!(on_disk, built, "add new zone files to BUILTIN");
    }

    #[test]
    fn a_server_off_loopback_is_refused() {
        let mut zones: Vec<Zone> = BUILTIN
            .iter()
            .map(|(f, t)| Zone::parse(f, t).unwrap())
            .collect();
        let bad = "$ORIGIN evil.\n@ 60 IN SOA ns.evil. h.evil. 1 1 1 1 1\n@ 60 IN NS ns.evil.\nns 60 IN A 192.0.2.9\n";
        zones.push(Zone::parse("evil.zone", bad).unwrap());
        let e = ZoneSet::new(zones).unwrap_err().to_string();
        assert!(e.contains("not on loopback"), "{e}");
    }

    #[test]
    fn hostile_directives() {
        let t = "; netlab-hostile: 127.53.6.1 garbage\n; netlab-lame: 127.53.6.2\n";
        let d = directives("x.zone", t).unwrap();
        assert_eq!(
            d,
            vec![
                (Ipv4Addr::new(127, 53, 6, 1), Misbehaviour::Garbage),
                (Ipv4Addr::new(127, 53, 6, 2), Misbehaviour::Silent)
            ]
        );
        let e = directives("x.zone", "; netlab-hostile: 127.53.6.1 rude\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown mode") && e.contains("wrong-id"), "{e}");
        assert!(directives("x.zone", "; netlab-hostile: nope garbage\n").is_err());
        assert!(directives("x.zone", "; netlab-hostile: 127.0.0.1\n").is_err());
        for (n, m) in Misbehaviour::ALL {
            assert_eq!(Misbehaviour::parse(n), Some(m));
            assert_eq!(m.name(), n);
        }
    }

    /// The address a reverse name stands for: `10.113.0.203.in-addr.arpa.` is 203.0.113.10.
    fn reverse_address(name: &Name) -> Option<Ipv4Addr> {
        let labels: Vec<String> = name
            .iter()
            .map(|l| String::from_utf8_lossy(l).to_lowercase())
            .collect();
        let [d, c, b, a, in_addr, arpa] = labels.as_slice() else {
            return None;
        };
        (in_addr == "in-addr" && arpa == "arpa")
            .then(|| format!("{a}.{b}.{c}.{d}").parse().ok())
            .flatten()
    }

    #[test]
    fn every_lab_address_has_one_forward_confirmed_ptr() {
        use crate::lab::{dns, topology, wan};
        let set = ZoneSet::builtin().unwrap();
        let book = set.address_book();
        let mut ptrs: BTreeMap<Ipv4Addr, Vec<Name>> = BTreeMap::new();
        for z in &set.zones {
            for (key, rrs) in &z.records {
                if key.record_type != RecordType::PTR {
                    continue;
                }
                let owner: Name = (&key.name).into();
                let addr = reverse_address(&owner)
                    .unwrap_or_else(|| panic!("{owner} is not an IPv4 reverse name"));
                for r in rrs.records_without_rrsigs() {
                    if let RData::PTR(p) = &r.data {
                        ptrs.entry(addr).or_default().push(p.0.clone());
                    }
                }
            }
        }
        let in_lab = |a: &Ipv4Addr| {
            let o = a.octets();
            o[..3] == [198, 51, 100] || o[..3] == [203, 0, 113] || o[..2] == [127, 53]
        };
        // Every address a name points to has exactly one PTR...
        for (name, addrs) in &book {
            for a in addrs.iter().filter(|a| in_lab(a)) {
                let names = ptrs.get(a).map(Vec::as_slice).unwrap_or_default();
                assert_eq!(
                    names.len(),
                    1,
                    "{a} (the address of {name}) needs one PTR, has {names:?}"
                );
            }
        }
        // ...and each PTR names a host whose A records give the address back.
        for (a, names) in &ptrs {
            for n in names {
                let back = book.get(&LowerName::new(n)).cloned().unwrap_or_default();
                assert!(back.contains(a), "{a} PTR {n}, but {n} has A {back:?}");
            }
        }
        // The namespace lab's hosts and the resolver have names; the empty
        // address and the forged one have none.
        for a in [
            topology::H1,
            topology::H2,
            topology::R1_A,
            topology::R1_B,
            topology::H3,
            wan::R1_W,
            wan::R2_W,
            wan::R2_C,
            wan::H4,
            dns::RESOLVER_ADDR,
        ] {
            assert!(ptrs.contains_key(&a), "{a} has no PTR");
        }
        assert!(!ptrs.contains_key(&topology::NOBODY));
        assert!(!ptrs.contains_key(&dns::POISON));
        // Every lab server has a name: the server plan and the reverse zones agree.
        for plan in set.servers().unwrap() {
            let names = &ptrs[&plan.addr];
            assert!(
                plan.names.contains(&names[0]),
                "{}: {names:?} vs {:?}",
                plan.addr,
                plan.names
            );
        }
    }

    #[test]
    fn names_at_reads_the_a_records() {
        let set = ZoneSet::builtin().unwrap();
        let at = |a: [u8; 4]| -> Vec<String> {
            set.names_at(Ipv4Addr::from(a))
                .iter()
                .map(|n| n.to_string())
                .collect()
        };
        assert_eq!(at([127, 53, 0, 53]), ["resolver.lab.edu.cn."]);
        assert_eq!(at([127, 53, 0, 1]), ["a.root-servers.net."]);
        assert!(at([198, 51, 100, 99]).is_empty());
    }

    #[test]
    fn zone_without_soa_is_refused() {
        let e = Zone::parse("x.zone", "$ORIGIN x.\n@ 60 IN NS ns.x.\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("SOA"), "{e}");
    }
}
