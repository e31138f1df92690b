//! netlab cdn: geo DNS through a CNAME, an edge cache's MISS, HIT and
//! REVALIDATED, the origin across the WAN's delay line; as root and as an
//! ordinary user, checked against tshark, and nothing left after a signal.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::cleanup::{all_netns_in_use, netns_fds};
use super::*;

fn summary(lines: &[Value]) -> &Value {
    let s = lines.last().unwrap();
    assert_eq!(s["kind"], "summary", "{s}");
    s
}

/// The fetches' `X-Cache` values, in order.
fn caches(s: &Value) -> Vec<String> {
    s["fetches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["cache"].as_str().unwrap_or("null").to_string())
        .collect()
}

/// The story every run tells, whoever runs it.
fn check_story(lines: &[Value]) {
    let s = summary(lines);
    assert_eq!(s["ok"], true, "{s}");
    assert_eq!(s["site"], "www.course.cn");
    assert_eq!(
        s["dns_answers"],
        serde_json::json!({"c1": "e1", "c2": "e2"}),
        "each client gets the edge on its own LAN"
    );
    assert_eq!(caches(s), ["MISS", "HIT", "MISS", "REVALIDATED"]);
    let f = s["fetches"].as_array().unwrap();
    let who: Vec<(&str, &str)> = f
        .iter()
        .map(|x| (x["client"].as_str().unwrap(), x["edge"].as_str().unwrap()))
        .collect();
    assert_eq!(
        who,
        [("c1", "e1"), ("c1", "e1"), ("c2", "e2"), ("c1", "e1")]
    );
    for x in f {
        assert_eq!(x["status"], 200, "{x}");
        assert_eq!(x["cache_control"], "max-age=1", "{x}");
        assert!(x["age"].is_u64(), "an Age header: {x}");
        assert!(x["ms"].as_f64().is_some_and(|m| m > 0.0), "{x}");
    }
    // The HIT asked no one; the others went to the origin, the last one
    // conditionally, and the origin said 304.
    assert!(f[1]["origin"].is_null(), "{}", f[1]);
    for i in [0, 2] {
        assert_eq!(f[i]["origin"]["status"], 200, "{}", f[i]);
        assert!(f[i]["origin"]["if_none_match"].is_null());
    }
    assert_eq!(f[3]["origin"]["status"], 304, "{}", f[3]);
    assert!(f[3]["origin"]["if_none_match"]
        .as_str()
        .is_some_and(|t| t.starts_with('"')));
    // The delay line holds each frame 20 ms each way, so the edge's
    // handshake with the origin cannot take less than 40 ms, and a response
    // that waited for the origin cannot come sooner than that handshake.
    for i in [0, 2, 3] {
        let hs = f[i]["origin"]["handshake_ms"].as_f64().unwrap();
        assert!(hs >= 40.0, "{}", f[i]);
        assert!(f[i]["ms"].as_f64().unwrap() > hs, "{}", f[i]);
    }
    // The lookups: a CNAME into the CDN's zone, then the address.
    let lookups: Vec<&Value> = lines
        .iter()
        .filter(|l| l["data"]["answers"].is_array())
        .collect();
    assert_eq!(lookups.len(), 2);
    for (l, (client, edge, addr)) in lookups
        .iter()
        .zip([("c1", "e1", "198.51.100.20"), ("c2", "e2", "198.51.100.84")])
    {
        let d = &l["data"];
        assert_eq!(d["client"], client);
        assert_eq!(d["edge"], edge);
        assert_eq!(d["answers"][0]["name"], "www.course.cn.");
        assert_eq!(d["answers"][0]["cname"], "www.course.cn.cdnlab.net.");
        assert_eq!(d["answers"][1]["name"], "www.course.cn.cdnlab.net.");
        assert_eq!(d["answers"][1]["address"], addr);
    }
}

/// Each field of the packets tshark's display `filter` selects, in order.
fn tshark_fields(file: &std::path::Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut c = Command::new("tshark");
    c.arg("-r").arg(file).args(["-Y", filter, "-T", "fields"]);
    for f in fields {
        c.args(["-e", f]);
    }
    let o = c.output().expect("run tshark");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

#[test]
fn a_cdn_run_is_miss_hit_revalidated_and_tshark_reads_the_same() {
    if !privileged() || !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("cdn.pcapng");
    let o = netlab(&["cdn", "--json", "--pcap", pcap.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert_eq!(lines[0]["data"]["rootless"], false);
    check_story(&lines);
    let s = summary(&lines);
    let count = |filter: &str| tshark_count(&pcap, filter);
    // The CNAME and both geo answers, from the datagrams.
    assert_eq!(count("dns.cname == \"www.course.cn.cdnlab.net\""), 2);
    assert_eq!(
        count("dns.a == 198.51.100.20 && ip.dst == 198.51.100.10"),
        1
    );
    assert_eq!(
        count("dns.a == 198.51.100.84 && ip.dst == 198.51.100.74"),
        1
    );
    // What each client received, in order: the edge's X-Cache, the status,
    // Cache-Control and Age; the JSON summary says the same.
    let to_clients = tshark_fields(
        &pcap,
        "http.response && (ip.dst == 198.51.100.10 || ip.dst == 198.51.100.74)",
        &[
            "ip.src",
            "http.response.code",
            "http.cache_control",
            "http.response.line",
        ],
    );
    let seen: Vec<String> = to_clients
        .iter()
        .map(|r| {
            r[3].split(',')
                .find_map(|h| h.strip_prefix("X-Cache: "))
                .unwrap_or("none")
                .trim_end_matches("\\r\\n")
                .to_string()
        })
        .collect();
    assert_eq!(seen, caches(s), "{to_clients:?}");
    for r in &to_clients {
        assert_eq!(r[1], "200", "{r:?}");
        assert_eq!(r[2], "max-age=1", "{r:?}");
        assert!(r[3].contains("Age: "), "{r:?}");
    }
    let edges: Vec<&str> = to_clients.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        edges,
        [
            "198.51.100.20",
            "198.51.100.20",
            "198.51.100.84",
            "198.51.100.20"
        ]
    );
    // The origin: asked three times (never for the HIT), once conditionally,
    // and that once it said 304.
    assert_eq!(
        count("ip.dst == 203.0.113.80 && tcp.flags.syn == 1 && tcp.flags.ack == 0"),
        3
    );
    assert_eq!(count("http.request.line contains \"If-None-Match\""), 1);
    assert_eq!(
        count("http.response.code == 304 && ip.src == 203.0.113.80"),
        1
    );
    assert_eq!(count("http.response.code == 304"), 1);
    // Every frame once: nothing looks sent twice, nothing is malformed.
    assert_eq!(count("tcp.analysis.retransmission"), 0);
    assert_eq!(count("_ws.malformed"), 0);
    // The packet records are the file's packets.
    assert_eq!(records(&lines), count("frame"));
}

#[test]
fn an_ordinary_user_gets_the_same_cdn_in_a_user_namespace() {
    if !require("setpriv (util-linux)", have("setpriv")) || !privileged() {
        return;
    }
    let o = netlab_as_nobody(&["cdn", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert_eq!(lines[0]["data"]["rootless"], true);
    check_story(&lines);
}

#[test]
fn the_cdn_text_fits_80_columns_in_both_languages() {
    if !privileged() {
        return;
    }
    let o = netlab(&["cdn", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("cdn.jsonl");
    std::fs::write(&run, &o.stdout).unwrap();
    for lang in ["en", "zh"] {
        let view = |extra: Option<&str>| {
            let mut a = vec![
                "render",
                run.to_str().unwrap(),
                "--lang",
                lang,
                "--width",
                "80",
            ];
            a.extend(extra);
            let r = netlab(&a);
            assert!(r.status.success(), "{}", stderr(&r));
            let text = stdout(&r);
            for l in text.lines() {
                let w = unicode_width::UnicodeWidthStr::width(l);
                assert!(w <= 80, "{lang} {extra:?}: a line of {w} columns:\n{l}");
            }
            text
        };
        view(Some("--brief"));
        view(Some("--bytes"));
        let text = view(None);
        let rows = text.lines().count();
        assert!(rows <= 130, "{lang}: {rows} rows:\n{text}");
        for want in ["MISS", "HIT", "REVALIDATED", "X-Cache", "304", "CNAME"] {
            assert!(text.contains(want), "{lang}: {want} in\n{text}");
        }
    }
}

/// The processes whose parent is `pid` (started by any of its threads).
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        out.extend(
            std::fs::read_to_string(t.path().join("children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    out
}

#[test]
fn an_interrupted_cdn_leaves_no_process_and_no_namespace() {
    if !privileged() {
        return;
    }
    // c1, c2, e1, e2, r1, dns, the WAN's and the origin's.
    const NAMESPACES: usize = 8;
    for sig in ["INT", "TERM", "KILL"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_netlab"))
            .args(["cdn", "--json", "--pace", "200"])
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        // The first step is printed once the lab and its servers are up.
        out.read_line(&mut line).unwrap();
        assert!(line.contains("\"demo\":\"cdn\""), "{line}");
        let mut held = HashSet::new();
        let t = Instant::now();
        while held.len() < NAMESPACES && t.elapsed() < Duration::from_secs(5) {
            held.extend(netns_fds(pid));
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(held.len(), NAMESPACES, "{sig}: the lab's namespaces");
        // Somewhere in the run: the servers answering, a fetch under way.
        std::thread::sleep(Duration::from_millis(rand::random_range(0..900)));
        let kids_before = children(pid);
        Command::new("kill")
            .args(["-s", sig, &pid.to_string()])
            .status()
            .unwrap();
        let _rest: Vec<String> = out.lines().map_while(|l| l.ok()).collect();
        let status = child.wait().unwrap();
        if sig == "KILL" {
            assert!(status.code().is_none(), "killed by the signal");
        }
        let t = Instant::now();
        loop {
            let left: Vec<_> = held.intersection(&all_netns_in_use()).cloned().collect();
            let alive: Vec<u32> = kids_before
                .iter()
                .copied()
                .filter(|p| std::path::Path::new(&format!("/proc/{p}")).exists())
                .collect();
            if left.is_empty() && alive.is_empty() {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "{sig}: namespaces {left:?} and processes {alive:?} left"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
