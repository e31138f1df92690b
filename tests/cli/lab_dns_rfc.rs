//! `netlab lab dns` answers what the RFCs and BIND answer, checked with real
//! clients: dig (and drill) against a lab the test starts on a high port, and,
//! where BIND's `named` is installed, the same questions to named serving the
//! same zone files. One test per behaviour of issue K §3, and the QR=1 drop of
//! issue L.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Stdio};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use netlab::dns::client::build_query;

use super::drill::Lab;
use super::*;

/// A lab server of baidu.com (ns1.baidu.com).
const NS1_BAIDU: &str = "127.53.3.1";
/// The lab's recursive resolver.
const RESOLVER: &str = "127.53.0.53";
/// A root server.
const ROOT: &str = "127.53.0.1";
/// A server of in-addr.arpa and the lab's reverse zones.
const IN_ADDR: &str = "127.53.7.1";

/// What dig printed about one reply.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Head {
    /// QUERY, NOTIFY …
    opcode: String,
    /// NOERROR, BADVERS …
    status: String,
    /// qr aa rd …
    flags: Vec<String>,
    /// QUERY, ANSWER, AUTHORITY, ADDITIONAL.
    counts: [u32; 4],
    /// The OPT record's EDNS version, if the reply had one.
    edns: Option<u32>,
}

/// One dig run: the reply's header, its records by section, and the whole text.
struct Dig {
    head: Option<Head>,
    /// ANSWER, AUTHORITY and ADDITIONAL records, each as its fields.
    sections: [Vec<Vec<String>>; 3],
    text: String,
}

impl Dig {
    fn head(&self) -> &Head {
        self.head
            .as_ref()
            .unwrap_or_else(|| panic!("no reply header in:\n{}", self.text))
    }

    /// The types of the ANSWER records, in order.
    fn answer_types(&self) -> Vec<String> {
        self.sections[0].iter().map(|r| r[3].clone()).collect()
    }

    /// The data of the ANSWER records.
    fn answer_data(&self) -> Vec<String> {
        self.sections[0].iter().map(|r| r[4..].join(" ")).collect()
    }
}

/// dig once (no retry, no cookie) to `server` on `port`.
fn dig(server: &str, port: u16, args: &[&str]) -> Dig {
    let o = Command::new("dig")
        .args(["+tries=1", "+time=5", "+nocookie", "-p", &port.to_string()])
        .arg(format!("@{server}"))
        .args(args)
        .output()
        .expect("run dig");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    parse_dig(text)
}

fn parse_dig(text: String) -> Dig {
    let mut opcode = None;
    let mut status = None;
    let mut flags = Vec::new();
    let mut counts = [0u32; 4];
    let mut edns = None;
    let mut sections: [Vec<Vec<String>>; 3] = Default::default();
    let mut section = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(";; ->>HEADER<<- ") {
            for part in rest.split(", ") {
                if let Some(v) = part.strip_prefix("opcode: ") {
                    opcode = Some(v.to_string());
                } else if let Some(v) = part.strip_prefix("status: ") {
                    status = Some(v.to_string());
                }
            }
        } else if let Some(rest) = line.strip_prefix(";; flags:") {
            let (f, c) = rest.split_once(';').unwrap_or((rest, ""));
            flags = f.split_whitespace().map(str::to_string).collect();
            for (i, part) in c.split(',').enumerate().take(4) {
                counts[i] = part
                    .rsplit(' ')
                    .next()
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or(0);
            }
        } else if let Some(rest) = line.strip_prefix("; EDNS: version: ") {
            edns = rest.split(',').next().and_then(|v| v.trim().parse().ok());
        } else if line.starts_with(";; ANSWER SECTION") {
            section = Some(0);
        } else if line.starts_with(";; AUTHORITY SECTION") {
            section = Some(1);
        } else if line.starts_with(";; ADDITIONAL SECTION") {
            section = Some(2);
        } else if line.trim().is_empty() || line.starts_with(';') {
            section = None;
        } else if let Some(s) = section {
            sections[s].push(line.split_whitespace().map(str::to_string).collect());
        }
    }
    let head = match (opcode, status) {
        (Some(opcode), Some(status)) => Some(Head {
            opcode,
            status,
            flags,
            counts,
            edns,
        }),
        _ => None,
    };
    Dig {
        head,
        sections,
        text,
    }
}

fn have_dig() -> bool {
    require("dig (Debian package dnsutils)", have("dig"))
}

/// Send `query` over TCP and read `n` messages back.
fn tcp_exchange(to: SocketAddr, queries: &[&Message], n: usize) -> Vec<Message> {
    let mut s = TcpStream::connect(to).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for q in queries {
        let bytes = q.to_vec().unwrap();
        let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&bytes);
        s.write_all(&framed).unwrap();
    }
    (0..n)
        .map(|_| {
            let mut len = [0u8; 2];
            s.read_exact(&mut len).unwrap();
            let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
            s.read_exact(&mut body).unwrap();
            Message::from_vec(&body).unwrap()
        })
        .collect()
}

fn name(n: &str) -> Name {
    Name::from_ascii(n).unwrap()
}

#[test]
fn an_edns_version_other_than_0_gets_badvers() {
    let _g = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    if !have_dig() {
        return;
    }
    let lab = Lab::start();
    for server in [NS1_BAIDU, RESOLVER] {
        // +noednsneg: dig would otherwise retry at once in version 0, as it should.
        let d = dig(server, lab.port, &["+edns=1", "+noednsneg", "baidu.com"]);
        let h = d.head();
        assert_eq!(h.status, "BADVERS", "{server}:\n{}", d.text);
        assert_eq!(
            h.edns,
            Some(0),
            "the OPT record says version 0:\n{}",
            d.text
        );
        assert_eq!(h.counts[1], 0, "no answer in a BADVERS reply:\n{}", d.text);
    }
}

#[test]
fn any_is_answered_with_every_rrset_as_bind_and_nsd_do() {
    let _g = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    if !have_dig() {
        return;
    }
    let lab = Lab::start();
    for server in [NS1_BAIDU, RESOLVER] {
        let d = dig(server, lab.port, &["baidu.com", "ANY"]);
        assert_eq!(d.head().status, "NOERROR", "{}", d.text);
        let mut types = d.answer_types();
        types.sort();
        types.dedup();
        assert_eq!(
            types,
            ["A", "MX", "NS", "SOA", "TXT"],
            "{server}:\n{}",
            d.text
        );
        assert_eq!(d.head().counts[1], 7, "{}", d.text);
        // ANY matches the alias itself: the CNAME, not followed.
        let alias = dig(server, lab.port, &["www.baidu.com", "ANY"]);
        assert_eq!(alias.answer_types(), ["CNAME"], "{server}:\n{}", alias.text);
    }
    assert!(dig(NS1_BAIDU, lab.port, &["baidu.com", "ANY"])
        .head()
        .flags
        .contains(&"aa".to_string()));
}

#[test]
fn dig_x_names_every_lab_host_and_the_walk_goes_through_in_addr_arpa() {
    let _g = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    if !have_dig() {
        return;
    }
    let lab = Lab::start();
    for (addr, host) in [
        ("203.0.113.10", "h3.lab.edu.cn."),
        ("198.51.100.10", "h1.lab.edu.cn."),
        ("198.51.100.1", "r1.lab.edu.cn."),
        ("203.0.113.200", "h4.lab.edu.cn."),
        ("198.51.100.80", "baidu.com."),
        ("127.53.0.1", "a.root-servers.net."),
        ("127.53.0.53", "resolver.lab.edu.cn."),
    ] {
        let d = dig(RESOLVER, lab.port, &["-x", addr]);
        assert_eq!(d.answer_data(), [host], "dig -x {addr}:\n{}", d.text);
        // and the name gives the address back (forward-confirmed reverse DNS)
        let back = dig(RESOLVER, lab.port, &[host, "A"]);
        assert!(
            back.answer_data().iter().any(|a| a == addr),
            "{host} A:\n{}",
            back.text
        );
    }
    // The forged address the bad.net servers lie with has no name.
    let nx = dig(RESOLVER, lab.port, &["-x", "203.0.113.66"]);
    assert_eq!(nx.head().status, "NXDOMAIN", "{}", nx.text);
    // The walk: the root refers to in-addr.arpa (AA=0, NS in AUTHORITY, glue)...
    let root = dig(ROOT, lab.port, &["+norec", "-x", "203.0.113.10"]);
    assert!(
        !root.head().flags.contains(&"aa".to_string()),
        "{}",
        root.text
    );
    assert!(
        root.sections[1]
            .iter()
            .all(|r| r[0] == "in-addr.arpa." && r[3] == "NS"),
        "{}",
        root.text
    );
    assert_eq!(root.sections[1].len(), 2, "{}", root.text);
    assert_eq!(root.sections[2].len(), 2, "glue:\n{}", root.text);
    // ...whose server answers.
    let leaf = dig(IN_ADDR, lab.port, &["+norec", "-x", "203.0.113.10"]);
    assert!(
        leaf.head().flags.contains(&"aa".to_string()),
        "{}",
        leaf.text
    );
    // drill follows the same referrals from the root hints.
    if require("drill (Debian package ldnsutils)", have("drill")) {
        let o = Command::new("drill")
            .args(["-T", "-r", &lab.hints, "-p", &lab.port.to_string()])
            .args(["-x", "203.0.113.10"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{text}");
        assert!(text.contains("in-addr.arpa.\t172800\tIN\tNS"), "{text}");
        assert!(
            text.contains("10.113.0.203.in-addr.arpa.\t3600\tIN\tPTR\th3.lab.edu.cn."),
            "{text}"
        );
    }
}

#[test]
fn axfr_is_refused_cleanly_unless_the_instructor_allows_it() {
    let _g = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    if !have_dig() {
        return;
    }
    let lab = Lab::start();
    let d = dig(NS1_BAIDU, lab.port, &["axfr", "baidu.com"]);
    assert!(d.text.contains("; Transfer failed."), "{}", d.text);
    assert!(
        d.text.lines().all(|l| !l.contains("\tSOA\t")),
        "no SOA before the failure:\n{}",
        d.text
    );
    // On the wire: one REFUSED message with no record, and nothing after it
    // (the next message on the connection answers the next query).
    let axfr = build_query(&name("baidu.com."), RecordType::AXFR, false);
    let soa = build_query(&name("baidu.com."), RecordType::SOA, false);
    let replies = tcp_exchange(lab.at([127, 53, 3, 1]), &[&axfr, &soa], 2);
    assert_eq!(replies[0].metadata.id, axfr.metadata.id);
    assert_eq!(replies[0].metadata.response_code, ResponseCode::Refused);
    assert!(replies[0].answers.is_empty() && replies[0].authorities.is_empty());
    assert_eq!(
        replies[1].metadata.id, soa.metadata.id,
        "the refusal is the whole reply"
    );
    drop(lab);

    // An instructor's lesson: `--allow-axfr` gives the whole zone over TCP.
    let lab = Lab::start_with(&["--allow-axfr"]);
    let d = dig(NS1_BAIDU, lab.port, &["axfr", "baidu.com"]);
    let records: Vec<&str> = d
        .text
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .collect();
    assert!(records.len() > 2, "{}", d.text);
    assert!(records[0].contains("\tSOA\t"), "{}", d.text);
    assert!(records[records.len() - 1].contains("\tSOA\t"), "{}", d.text);
    assert!(
        d.text
            .contains(&format!("XFR size: {} records", records.len())),
        "{}",
        d.text
    );
}

#[test]
fn a_class_other_than_in_never_gets_in_data() {
    let _g = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    if !have_dig() {
        return;
    }
    let lab = Lab::start();
    for server in [NS1_BAIDU, RESOLVER] {
        // As BIND answers: REFUSED for CH and HS, FORMERR for the meta
        // classes ANY and NONE, NOTIMP for a class it does not know.
        for (class, rcode) in [
            ("CH", "REFUSED"),
            ("HS", "REFUSED"),
            ("ANY", "FORMERR"),
            ("NONE", "FORMERR"),
            ("CLASS7", "NOTIMP"),
        ] {
            let d = dig(
                server,
                lab.port,
                &["-q", "www.baidu.com", "-t", "A", "-c", class],
            );
            assert_eq!(d.head().status, rcode, "{server} {class}:\n{}", d.text);
            assert_eq!(d.head().counts[1], 0, "{}", d.text);
        }
    }
    // CH TXT version.bind and hostname.bind, as BIND answers them.
    let v = dig(NS1_BAIDU, lab.port, &["version.bind", "TXT", "CH"]);
    assert!(v.head().flags.contains(&"aa".to_string()), "{}", v.text);
    assert_eq!(
        v.answer_data(),
        [format!("\"netlab {}\"", env!("CARGO_PKG_VERSION"))],
        "{}",
        v.text
    );
    let h = dig(ROOT, lab.port, &["hostname.bind", "TXT", "CH"]);
    assert_eq!(h.answer_data(), ["\"a.root-servers.net\""], "{}", h.text);
    let r = dig(RESOLVER, lab.port, &["hostname.bind", "TXT", "CH"]);
    assert_eq!(r.answer_data(), ["\"resolver.lab.edu.cn\""], "{}", r.text);
}

#[test]
fn opcodes_other_than_query_get_notimp() {
    let _g = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    if !have_dig() {
        return;
    }
    let lab = Lab::start();
    for server in [NS1_BAIDU, RESOLVER] {
        for (op, shown) in [
            ("1", "IQUERY"),
            ("2", "STATUS"),
            ("4", "NOTIFY"),
            ("5", "UPDATE"),
        ] {
            let d = dig(server, lab.port, &[&format!("+opcode={op}"), "baidu.com"]);
            let h = d.head();
            assert_eq!(
                (h.opcode.as_str(), h.status.as_str()),
                (shown, "NOTIMP"),
                "{server}:\n{}",
                d.text
            );
            assert_eq!(h.counts[..3], [0, 0, 0], "the header alone:\n{}", d.text);
        }
    }
    // A NOTIFY as a primary sends it (RFC 1996: the zone, type SOA, as the
    // question, AA=1), built here, over UDP.
    let mut notify = Message::new(0x4e4f, MessageType::Query, OpCode::Notify);
    notify.metadata.authoritative = true;
    notify.add_query(hickory_proto::op::Query::query(
        name("baidu.com."),
        RecordType::SOA,
    ));
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.send_to(&notify.to_vec().unwrap(), lab.at([127, 53, 3, 1]))
        .unwrap();
    let mut buf = [0u8; 512];
    let (n, _) = s.recv_from(&mut buf).unwrap();
    let r = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(r.metadata.id, 0x4e4f);
    assert_eq!(r.metadata.message_type, MessageType::Response);
    assert_eq!(r.metadata.op_code, OpCode::Notify);
    assert_eq!(r.metadata.response_code, ResponseCode::NotImp);
}

#[test]
fn unknown_types_get_nodata_and_meta_types_formerr() {
    let _g = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    if !have_dig() {
        return;
    }
    let lab = Lab::start();
    for server in [NS1_BAIDU, RESOLVER] {
        let d = dig(server, lab.port, &["baidu.com", "TYPE65000"]);
        assert_eq!(d.head().status, "NOERROR", "{server}:\n{}", d.text);
        assert_eq!(d.head().counts[1], 0, "{}", d.text);
        assert_eq!(d.sections[1].len(), 1, "{}", d.text);
        assert_eq!(
            d.sections[1][0][3], "SOA",
            "NODATA, proved by the SOA:\n{}",
            d.text
        );
        let nx = dig(server, lab.port, &["nope.baidu.com", "TYPE65000"]);
        assert_eq!(nx.head().status, "NXDOMAIN", "{}", nx.text);
        // A meta type (RFC 6895 §3.1) cannot be asked for: FORMERR, as BIND says.
        let meta = dig(server, lab.port, &["baidu.com", "TYPE128"]);
        assert_eq!(meta.head().status, "FORMERR", "{server}:\n{}", meta.text);
    }
}

#[test]
fn a_response_is_never_answered_and_the_server_stays_idle() {
    let _g = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::start_with(&["-v"]);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for (i, server) in [[127, 53, 3, 1], [127, 53, 0, 53]].into_iter().enumerate() {
        let to = lab.at(server);
        // What one server's NOTIMP reply to another looks like: QR=1.
        let mut forged = build_query(
            &name(&format!("forged{i}.baidu.com.")),
            RecordType::A,
            false,
        );
        forged.metadata.message_type = MessageType::Response;
        forged.metadata.response_code = ResponseCode::NotImp;
        s.send_to(&forged.to_vec().unwrap(), to).unwrap();
        let marker = format!("marker{i}.baidu.com.");
        let q = build_query(&name(&marker), RecordType::A, false);
        s.send_to(&q.to_vec().unwrap(), to).unwrap();
        // The first datagram back answers the query sent after the forged response.
        let mut buf = [0u8; 1500];
        let (n, from) = s.recv_from(&mut buf).unwrap();
        assert_eq!(from, to);
        let reply = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(
            reply.metadata.id, q.metadata.id,
            "{to} answered the forged response"
        );
        // The log: one line for the forged message, saying it was dropped.
        let served_at = format!("→ {to} {marker}");
        let log = lab.log_until(|l| l.contains(&served_at));
        let forged_lines: Vec<&String> = log
            .iter()
            .filter(|l| l.contains(&format!("forged{i}.")))
            .collect();
        assert_eq!(forged_lines.len(), 1, "{log:#?}");
        assert!(
            forged_lines[0].contains("dropped: a response (QR=1)"),
            "{log:#?}"
        );
    }
}

/// BIND's named serving lab zone files on 127.0.0.1 (it listens only on
/// addresses an interface carries), stopped when dropped.
struct Named {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Named {
    /// named with `zones` (origin, file in lab/zones), no recursion, no transfers.
    fn start(zones: &[(&str, &str)]) -> Named {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lab/zones");
        let mut decl = String::new();
        for (origin, file) in zones {
            std::fs::copy(src.join(file), dir.path().join(file)).unwrap();
            decl.push_str(&format!(
                "zone \"{origin}\" {{ type primary; file \"{file}\"; }};\n"
            ));
        }
        // A free port: one that binds on UDP and on TCP, then handed to named.
        let port = (0..50)
            .find_map(|_| {
                let u = UdpSocket::bind("127.0.0.1:0").ok()?;
                let p = u.local_addr().ok()?.port();
                std::net::TcpListener::bind(("127.0.0.1", p)).ok()?;
                Some(p)
            })
            .expect("a port free on UDP and TCP");
        let conf = format!(
            "options {{\n  directory \"{d}\";\n  pid-file \"{d}/named.pid\";\n  \
             session-keyfile \"{d}/session.key\";\n  listen-on port {port} {{ 127.0.0.1; }};\n  \
             listen-on-v6 {{ none; }};\n  recursion no;\n  allow-transfer {{ none; }};\n  \
             notify no;\n  dnssec-validation no;\n}};\ncontrols {{ }};\n{decl}"
        );
        let conf_path = dir.path().join("named.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let log = std::fs::File::create(dir.path().join("named.log")).unwrap();
        let mut child = Command::new("named")
            .args(["-g", "-4", "-n", "1", "-c"])
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start named");
        // Ready when it answers for the first zone (a bound on the wait, not a measurement).
        for _ in 0..100 {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(dir.path().join("named.log")).unwrap_or_default();
                panic!("named exited ({status}):\n{log}");
            }
            let d = dig("127.0.0.1", port, &[zones[0].0, "SOA", "+time=1"]);
            if d.head.as_ref().is_some_and(|h| h.status == "NOERROR") {
                return Named {
                    child,
                    port,
                    _dir: dir,
                };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(dir.path().join("named.log")).unwrap_or_default();
        panic!("named did not answer:\n{log}");
    }
}

#[test]
fn bind_answers_the_same_rcode_and_flags() {
    let _g = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    if !have_dig() || !require("named (Debian package bind9)", have("named")) {
        return;
    }
    let lab = Lab::start();
    let named = Named::start(&[
        ("baidu.com", "baidu.com.zone"),
        ("113.0.203.in-addr.arpa", "113.0.203.in-addr.arpa.zone"),
    ]);
    let cases: &[(&str, &[&str])] = &[
        (NS1_BAIDU, &["baidu.com", "A"]),
        (NS1_BAIDU, &["mx.baidu.com", "AAAA"]),
        (NS1_BAIDU, &["+edns=1", "+noednsneg", "baidu.com"]),
        (NS1_BAIDU, &["baidu.com", "ANY"]),
        (NS1_BAIDU, &["www.baidu.com", "ANY"]),
        (NS1_BAIDU, &["-c", "CH", "www.baidu.com", "A"]),
        (NS1_BAIDU, &["-c", "HS", "www.baidu.com", "A"]),
        // -q, -t, -c: dig reads a class word after the name as a type.
        (NS1_BAIDU, &["-q", "www.baidu.com", "-t", "A", "-c", "ANY"]),
        (NS1_BAIDU, &["-q", "www.baidu.com", "-t", "A", "-c", "NONE"]),
        (
            NS1_BAIDU,
            &["-q", "www.baidu.com", "-t", "A", "-c", "CLASS7"],
        ),
        (NS1_BAIDU, &["version.bind", "TXT", "CH"]),
        (NS1_BAIDU, &["hostname.bind", "TXT", "CH"]),
        (NS1_BAIDU, &["baidu.com", "TYPE65000"]),
        (NS1_BAIDU, &["nope.baidu.com", "TYPE65000"]),
        (NS1_BAIDU, &["baidu.com", "TYPE128"]),
        (NS1_BAIDU, &["baidu.com", "MAILA"]),
        (NS1_BAIDU, &["+opcode=1", "baidu.com"]),
        (NS1_BAIDU, &["+opcode=2", "baidu.com"]),
        (IN_ADDR, &["-x", "203.0.113.10"]),
        (IN_ADDR, &["-x", "203.0.113.66"]),
    ];
    for (server, args) in cases {
        let ours = dig(server, lab.port, args);
        let bind = dig("127.0.0.1", named.port, args);
        assert_eq!(
            ours.head(),
            bind.head(),
            "dig {args:?}\n--- netlab:\n{}\n--- BIND:\n{}",
            ours.text,
            bind.text
        );
    }
    // AXFR, refused: the same single message from both.
    let axfr = build_query(&name("baidu.com."), RecordType::AXFR, false);
    let ours = tcp_exchange(lab.at([127, 53, 3, 1]), &[&axfr], 1).remove(0);
    let bind = tcp_exchange(SocketAddr::from(([127, 0, 0, 1], named.port)), &[&axfr], 1).remove(0);
    let shape = |m: &Message| {
        (
            m.metadata.response_code,
            m.metadata.authoritative,
            m.queries.len(),
            m.answers.len(),
            m.authorities.len(),
        )
    };
    assert_eq!(shape(&ours), shape(&bind), "AXFR\n{ours:?}\n{bind:?}");
    // Where they differ on purpose: BIND implements NOTIFY and UPDATE (a
    // NOTIFY to a primary is acknowledged, an UPDATE without allow-update is
    // REFUSED); the lab implements neither and says NOTIMP ("does not support
    // the requested kind of query", RFC 1035 §4.1.1). id.server: BIND
    // gives nothing unless configured, the lab its server's name as NSD does.
}
