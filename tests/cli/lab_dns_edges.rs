//! `netlab lab dns` at its edges (issue L): `--pcap FILE` holds the DNS
//! messages the servers received and sent, read back with tshark; the root
//! hints file is where the lab guide says; and a burst of fuzzed datagrams,
//! spoofed responses among them, leaves the lab idle and answering.

use std::net::UdpSocket;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netlab::demos::lab_dns::{serve_until, LabDns};
use netlab::narrate::{Format, Lang, Narrator, NarratorConfig};

use super::*;

/// The JSON a narrator writes, shared with the test.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    /// The JSON lines written so far.
    fn lines(&self) -> Vec<Value> {
        let text = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// `tshark -r FILE` with the lab's port decoded as DNS: the values of `field`
/// in the packets `filter` selects, one line each.
fn tshark_fields(file: &Path, port: u16, filter: &str, field: &str) -> Vec<String> {
    let o = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-d", &format!("udp.port=={port},dns")])
        .args(["-d", &format!("tcp.port=={port},dns")])
        .args(["-Y", filter, "-T", "fields", "-e", field])
        .output()
        .expect("run tshark");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// A question to the lab, over UDP from 127.0.0.1, and its answer.
fn ask(server: std::net::SocketAddr, name: &str, rd: bool) -> Vec<u8> {
    let q = netlab::dns::client::build_query(
        &hickory_proto::rr::Name::from_ascii(name).unwrap(),
        hickory_proto::rr::RecordType::A,
        rd,
    );
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.send_to(&q.to_vec().unwrap(), server).unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = s.recv_from(&mut buf).expect("the lab answers");
    buf[..n].to_vec()
}

#[test]
fn the_capture_holds_the_queries_and_responses_the_servers_saw() {
    if !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
    let _one = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lab.pcapng");
    let (out, stop) = (Buf::default(), Arc::new(AtomicBool::new(false)));
    let lab = {
        let (out, stop, file) = (out.clone(), stop.clone(), file.clone());
        std::thread::spawn(move || {
            let cfg = NarratorConfig {
                format: Format::Json,
                lang: Lang::En,
                all_bytes: false,
                pace: None,
                step: false,
                width: 80,
                brief: false,
            };
            let mut n = Narrator::new("lab", cfg, Box::new(out));
            n.add_file_sink(Box::new(
                netlab::narrate::pcap::PcapOut::create(&file).unwrap(),
            ));
            let args = LabDns {
                capture_file: true,
                ..LabDns::default()
            };
            let code = serve_until(&args, &stop, &mut n);
            n.finish().unwrap();
            code.unwrap()
        })
    };
    // The step that says where the lab runs; a guard against a hang, not a measurement.
    let started = Instant::now();
    let port = loop {
        if let Some(p) = out.lines().iter().find_map(|l| l["data"]["port"].as_u64()) {
            break p as u16;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no lab");
        std::thread::sleep(Duration::from_millis(20));
    };
    // One question to the resolver (it walks the hierarchy), one to a root server.
    let resolver = std::net::SocketAddr::from(([127, 53, 0, 53], port));
    let root = std::net::SocketAddr::from(([127, 53, 0, 1], port));
    ask(resolver, "www.baidu.com.", true);
    ask(root, "www.qq.com.", false);
    // A datagram that is no DNS message is kept too: it is what arrived.
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"\x00\x01 not dns", root)
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    assert_eq!(lab.join().unwrap(), 0);

    // The step that tells them, and the file that holds them.
    let lines = out.lines();
    let heard = lines
        .iter()
        .find(|l| l["data"]["received"].is_u64())
        .unwrap_or_else(|| panic!("no step for what the servers saw: {lines:?}"));
    let (received, sent) = (
        heard["data"]["received"].as_u64().unwrap(),
        heard["data"]["sent"].as_u64().unwrap(),
    );
    // The client's 2 questions and the junk, plus the resolver's walk: root,
    // com., baidu.com. (and a CNAME's target) each asked and answering.
    assert!(received >= 6, "{heard}");
    assert!(sent >= 5, "{heard}");
    assert_eq!(
        heard["packets"].as_array().unwrap().len() as u64,
        received + sent
    );
    let total = tshark_count(&file, "frame");
    assert_eq!(total as u64, received + sent, "every message, once");
    let queries = tshark_fields(&file, port, "dns.flags.response == 0", "dns.qry.name");
    let responses = tshark_fields(&file, port, "dns.flags.response == 1", "ip.dst");
    assert!(
        queries.iter().filter(|q| *q == "www.baidu.com").count() >= 3,
        "{queries:?}"
    );
    assert!(queries.iter().any(|q| q == "www.qq.com"), "{queries:?}");
    // To the client and to the resolver's walk (its queries leave from 127.0.0.1).
    assert!(responses.len() >= 5, "{responses:?}");
    assert!(responses.iter().all(|a| a == "127.0.0.1"), "{responses:?}");
    let from = tshark_fields(&file, port, "dns.flags.response == 1", "ip.src");
    assert!(
        from.iter().any(|a| a == "127.53.0.53"),
        "the resolver answers: {from:?}"
    );
    assert!(
        from.iter().any(|a| a == "127.53.0.1"),
        "a root answers: {from:?}"
    );
    let junk = tshark_fields(&file, port, "udp.length == 18", "ip.dst");
    assert_eq!(junk, ["127.53.0.1"], "the datagram that is not DNS");
    // Wireshark reads each message as sound DNS over sound UDP.
    assert_eq!(
        tshark_count(&file, "_ws.malformed && dns.flags.response == 1"),
        0
    );
}

#[test]
fn lab_dns_pcap_from_the_command_line() {
    if !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
    let _one = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (file, json) = (dir.path().join("lab.pcapng"), dir.path().join("out.jsonl"));
    let (child, port, _) = Spawned::start(&["--pcap", file.to_str().unwrap()], &[], &json);
    ask(
        std::net::SocketAddr::from(([127, 53, 0, 53], port)),
        "www.baidu.com.",
        true,
    );
    // SIGTERM; the lab writes the file as it stops.
    assert!(child.terminate().success());
    let queries = tshark_fields(&file, port, "dns.flags.response == 0", "dns.qry.name");
    let responses = tshark_fields(&file, port, "dns.flags.response == 1", "ip.dst");
    assert!(queries.iter().any(|q| q == "www.baidu.com"), "{queries:?}");
    assert!(responses.iter().any(|a| a == "127.0.0.1"), "{responses:?}");
}

/// A `netlab lab dns --json` of the test's own, its stdout in a file (what it
/// tells as it stops may outgrow a pipe nobody reads); killed if dropped.
pub struct Spawned {
    pub child: std::process::Child,
}

impl Spawned {
    /// Start it with `extra` arguments and environment changes (None: removed);
    /// returns it, its port and the step that says where it runs.
    pub fn start(
        extra: &[&str],
        env: &[(&str, Option<&Path>)],
        json: &Path,
    ) -> (Spawned, u16, Value) {
        Self::start_logging(extra, env, json, None)
    }

    /// [`Spawned::start`], its stderr (the log, with -v) in `log`.
    pub fn start_logging(
        extra: &[&str],
        env: &[(&str, Option<&Path>)],
        json: &Path,
        log: Option<&Path>,
    ) -> (Spawned, u16, Value) {
        let mut c = Command::new(env!("CARGO_BIN_EXE_netlab"));
        c.args(["lab", "dns", "--json"])
            .args(extra)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdout(std::fs::File::create(json).unwrap())
            .stderr(match log {
                Some(l) => std::process::Stdio::from(std::fs::File::create(l).unwrap()),
                None => std::process::Stdio::null(),
            });
        for (k, v) in env {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        let mut child = Spawned {
            child: c.spawn().expect("start netlab lab dns"),
        };
        // A guard against a hang, not a measurement.
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(json).unwrap_or_default();
            let running = text
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|l| l["data"]["port"].is_u64());
            if let Some(v) = running {
                let port = v["data"]["port"].as_u64().unwrap() as u16;
                return (child, port, v);
            }
            if started.elapsed() > Duration::from_secs(20) || child.exited() {
                panic!("lab dns did not start: {text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGTERM, and wait.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

#[test]
fn the_hints_file_is_where_the_lab_guide_says() {
    let _one = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let json = dir.path().join("out.jsonl");
    // No runtime directory: the temporary folder, as the guide says.
    let (lab, port, running) = Spawned::start(
        &[],
        &[("XDG_RUNTIME_DIR", None), ("TMPDIR", Some(&tmp))],
        &json,
    );
    let hints = std::path::PathBuf::from(running["data"]["root_hints"].as_str().unwrap());
    assert!(hints.is_file(), "{}", hints.display());
    assert_eq!(hints.parent().unwrap().parent().unwrap(), tmp);
    // The path with its port and random part written as the guide writes them.
    let folder = hints
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy();
    let random = folder
        .strip_prefix(&format!(
            "netlab-{}-",
            netlab::demos::lab_dns::HINTS_PURPOSE
        ))
        .unwrap_or_else(|| panic!("{folder}"));
    assert_eq!(random.len(), 6, "{folder}");
    let file = hints.file_name().unwrap().to_string_lossy();
    assert_eq!(file, netlab::demos::lab_dns::hints_file(port));
    let pattern = format!(
        "{}/{}",
        folder.replace(random, "XXXXXX"),
        file.replace(&port.to_string(), "PORT")
    );
    assert_eq!(pattern, "netlab-lab-dns-XXXXXX/root-hints-PORT.zone");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("docs/lab-guide.md")).unwrap();
    assert!(
        guide.contains(&format!("`{pattern}`")),
        "the guide names {pattern}"
    );
    assert!(guide.contains("`$XDG_RUNTIME_DIR`") && guide.contains("`$TMPDIR`"));
    // No page names the hints file any other way.
    for page in ["README.md", "docs/lab-guide.md", "docs/performance.md"] {
        let text = std::fs::read_to_string(root.join(page)).unwrap();
        for (i, _) in text.match_indices("root-hints") {
            let before = &text[..i];
            assert!(
                before.ends_with("netlab-lab-dns-XXXXXX/") || before.ends_with("-Ab3xYz/"),
                "{page}: a hints path that is not the one `lab dns` writes: {}",
                &text[i.saturating_sub(40)..(i + 30).min(text.len())]
            );
        }
    }
    assert!(lab.terminate().success());
    assert!(!hints.exists(), "removed when the lab stops");
}
