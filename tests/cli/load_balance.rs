//! netlab load-balance: LVS-style NAT and direct routing, a layer-7 proxy
//! (netlab's, nginx, HAProxy), each checked against the run's own packets.

use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::cleanup::{all_netns_in_use, netns_fds};
use super::*;

const VIP: &str = "198.51.100.80";
const BACKENDS: [(&str, &str, &str); 3] = [
    ("web1", "203.0.113.81", "02:00:00:00:0b:81"),
    ("web2", "203.0.113.82", "02:00:00:00:0b:82"),
    ("web3", "203.0.113.83", "02:00:00:00:0b:83"),
];
const PARTICIPANTS: &[&str] = &["c1", "c2", "lb", "r1", "web1", "web2", "web3"];

fn summary(lines: &[Value]) -> &Value {
    let s = lines.last().unwrap();
    assert_eq!(s["kind"], "summary", "{s}");
    s
}

fn modes(lines: &[Value]) -> Vec<Value> {
    summary(lines)["modes"].as_array().unwrap().clone()
}

fn per_backend(m: &Value) -> BTreeMap<String, u64> {
    m["per_backend"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

/// The run's steps whose data has `key`.
fn steps_with<'a>(lines: &'a [Value], key: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["kind"] == "step" && !l["data"][key].is_null())
        .collect()
}

/// Run load-balance with --json and --pcap; the lines and the capture file.
fn run(args: &[&str]) -> (Vec<Value>, tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("lb.pcapng");
    let mut a = vec!["load-balance", "--json", "--pcap", pcap.to_str().unwrap()];
    a.extend(args);
    let o = netlab(&a);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    let lines = json_lines(&o);
    super::transport::assert_participant_ids(&lines, PARTICIPANTS);
    super::transport::assert_wire_order(&lines);
    (lines, dir, pcap)
}

/// The engine is what the kernel offers.
fn engine_is_the_kernels(lines: &[Value]) {
    let ipvs = std::path::Path::new("/proc/net/ip_vs").exists();
    assert_eq!(
        summary(lines)["engine"],
        if ipvs { "ipvs" } else { "nftables" }
    );
    assert_eq!(lines[0]["data"]["ipvs"], ipvs);
}

/// Per backend, the HTTP responses lb handed the clients (from the VIP on
/// the client side) that the backend wrote: what the summary must count.
fn answers_in_pcap(pcap: &std::path::Path, extra: &str) -> BTreeMap<String, u64> {
    BACKENDS
        .iter()
        .map(|(name, ip, _)| {
            let f = format!(
                "ip.src == {VIP} && tcp.srcport == 80 && http.response.code == 200 && frame contains \"{name} {ip} saw\"{extra}"
            );
            (name.to_string(), tshark_count(pcap, &f) as u64)
        })
        .collect()
}

fn sum(ms: &[&Value]) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for m in ms {
        for (k, v) in per_backend(m) {
            *out.entry(k).or_default() += v;
        }
    }
    out
}

#[test]
fn nat_rewrites_the_destination_in_and_the_source_out() {
    if !privileged() || !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
    let (lines, _dir, pcap) = run(&["--mode", "l4-nat"]);
    engine_is_the_kernels(&lines);
    let m = modes(&lines);
    assert_eq!(m.len(), 2);
    let (rr, sh) = (&m[0], &m[1]);
    assert_eq!(
        (rr["mode"].as_str(), rr["scheduler"].as_str()),
        (Some("l4-nat"), Some("round-robin"))
    );
    assert_eq!(rr["requests"], 6);
    // A counter, one step per connection: six connections, two each.
    assert!(per_backend(rr).values().all(|&n| n == 2), "{rr}");
    // Source hash: each client always on one backend.
    assert_eq!(sh["scheduler"], "source-hash");
    let runs = steps_with(&lines, "requests");
    let sh_step = runs
        .iter()
        .find(|s| s["data"]["scheduler"] == "source-hash")
        .unwrap();
    let mut by_client: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for r in sh_step["data"]["requests"].as_array().unwrap() {
        by_client
            .entry(r["client"].as_str().unwrap().into())
            .or_default()
            .insert(r["backend"].as_str().unwrap().into());
    }
    assert_eq!(by_client.len(), 2);
    assert!(by_client.values().all(|b| b.len() == 1), "{by_client:?}");
    // The summary's counts are the backends' answers in the capture.
    assert_eq!(answers_in_pcap(&pcap, ""), sum(&[rr, sh]));
    // Every SYN to the VIP on the client side has its twin to a backend on
    // the other side, same client port; every SYN-ACK from a backend its
    // twin from the VIP.
    let syn = "tcp.flags.syn == 1 && tcp.flags.ack == 0";
    let synack = "tcp.flags.syn == 1 && tcp.flags.ack == 1";
    let to_backends =
        "(ip.dst == 203.0.113.81 || ip.dst == 203.0.113.82 || ip.dst == 203.0.113.83)";
    let from_backends = to_backends.replace("ip.dst", "ip.src");
    let c = |f: &str| tshark_count(&pcap, f);
    assert_eq!(c(&format!("{syn} && ip.dst == {VIP}")), 12);
    assert_eq!(c(&format!("{syn} && {to_backends}")), 12);
    assert_eq!(c(&format!("{synack} && ip.src == {VIP}")), 12);
    assert_eq!(c(&format!("{synack} && {from_backends}")), 12);
    // One connection told on both sides, and its conntrack entry.
    let rw = steps_with(&lines, "segments")[0];
    let seg = rw["data"]["segments"].as_array().unwrap();
    assert_eq!(seg.len(), 4, "{rw}");
    let port = seg[0]["src"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(seg[0]["dst"], format!("{VIP}:80"));
    assert_eq!(
        seg[1]["src"], seg[0]["src"],
        "the source stays the client's"
    );
    let backend = seg[1]["dst"]
        .as_str()
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_string();
    assert!(BACKENDS.iter().any(|b| b.1 == backend), "{backend}");
    assert_eq!(seg[2]["src"], format!("{backend}:80"));
    assert_eq!(
        seg[3]["src"],
        format!("{VIP}:80"),
        "the source turned back into the VIP"
    );
    assert_eq!(seg[3]["dst"], seg[0]["src"]);
    // Those four segments are in the capture as told.
    assert_eq!(
        c(&format!(
            "{syn} && tcp.srcport == {port} && ip.dst == {backend}"
        )),
        1
    );
    let tracked = rw["data"]["conntrack"]
        .as_array()
        .expect("conntrack entries");
    assert!(
        tracked.iter().any(|t| t["original"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{port} → {VIP}:80"))
            && t["reply"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{backend}:80 "))),
        "{tracked:?}"
    );
    assert!(rw["data"]["conntrack_source"]
        .as_str()
        .unwrap()
        .contains("nf_conntrack"));
}

#[test]
fn direct_routing_rewrites_only_the_mac_and_replies_go_around_lb() {
    if !privileged() || !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
    let (lines, _dir, pcap) = run(&["--mode", "l4-dr"]);
    let m = modes(&lines);
    assert_eq!(
        (m[0]["mode"].as_str(), m[0]["requests"].as_u64()),
        (Some("l4-dr"), Some(6))
    );
    assert_eq!(
        per_backend(&m[0]).values().sum::<u64>(),
        6,
        "every request answered"
    );
    let d = &steps_with(&lines, "differing_bytes")[0]["data"];
    // Only the Ethernet addresses differ, and the TTL with its checksum:
    // the addresses and ports (26 on) are untouched.
    let diff: Vec<u64> = d["differing_bytes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap())
        .collect();
    assert!(diff.iter().any(|&i| i < 6), "{d}");
    assert!(
        diff.iter()
            .all(|&i| i < 12 || i == 22 || i == 24 || i == 25),
        "{d}"
    );
    assert_eq!(
        d["mac_in"], "02:00:00:00:0a:66",
        "lb's own MAC on the client side"
    );
    assert!(BACKENDS.iter().any(|b| d["mac_out"] == b.2), "{d}");
    assert_eq!(
        d["src_mac_out"], "02:00:00:00:0b:66",
        "sent from lb's backend leg"
    );
    assert_eq!(d["replies_through_lb"], 0);
    let c = |f: &str| tshark_count(&pcap, f);
    // The SYNs still addressed to the VIP, in frames to a backend's MAC.
    let syn = "tcp.flags.syn == 1 && tcp.flags.ack == 0";
    let to_backend_mac = "(eth.dst == 02:00:00:00:0b:81 || eth.dst == 02:00:00:00:0b:82 || eth.dst == 02:00:00:00:0b:83)";
    assert_eq!(
        c(&format!("{syn} && ip.dst == {VIP} && {to_backend_mac}")),
        6
    );
    // The replies: from the VIP, in frames from r1, never from lb.
    let reply = format!("ip.src == {VIP} && tcp.srcport == 80");
    assert_eq!(
        c(&format!("{reply} && eth.src == 02:00:00:00:0a:65")) as u64,
        d["replies_via_r1"].as_u64().unwrap()
    );
    assert!(d["replies_via_r1"].as_u64().unwrap() >= 6 * 3, "{d}");
    assert_eq!(c(&format!("{reply} && eth.src == 02:00:00:00:0a:66")), 0);
    // Counted from the backends' answers, as they reached the clients via r1.
    let answered = answers_in_pcap(&pcap, " && eth.src == 02:00:00:00:0a:65");
    assert_eq!(answered, per_backend(&m[0]));
}

/// The layer-7 checks every proxy must pass.
fn l7_story(lines: &[Value], pcap: &std::path::Path, proxy: &str) {
    assert_eq!(summary(lines)["proxy"], proxy);
    let m = modes(lines);
    assert!(m.iter().all(|x| x["mode"] == "l7"), "{m:?}");
    let two = &steps_with(lines, "handshakes")[0]["data"];
    assert_eq!(two["handshakes"], 2, "{two}");
    assert_eq!(two["x_forwarded_for"], "198.51.100.70", "{two}");
    assert_eq!(
        two["backend_saw"], "203.0.113.66",
        "the proxy's own address"
    );
    assert_eq!(two["client_side"]["dst"], format!("{VIP}:80"));
    assert!(two["backend_side"]["src"]
        .as_str()
        .unwrap()
        .starts_with("203.0.113.66:"));
    let c = |f: &str| tshark_count(pcap, f);
    assert!(c("http.x_forwarded_for == \"198.51.100.70\" && ip.src == 203.0.113.66") >= 1);
    assert!(c("http.x_forwarded_for == \"198.51.100.71\" && ip.src == 203.0.113.66") >= 1);
    // The rule by path: /static/ went to web3 alone.
    let path = m.iter().find(|x| x["scheduler"] == "path-rule").unwrap();
    assert_eq!(per_backend(path)["web3"], 3, "{path}");
    // Both schedulers answered every request.
    for s in ["round-robin", "least-conn"] {
        let x = m.iter().find(|x| x["scheduler"] == s).unwrap();
        assert_eq!(
            per_backend(x).values().sum::<u64>(),
            x["requests"].as_u64().unwrap(),
            "{x}"
        );
    }
    // The kill: failures before the health check, none after; the clients'
    // failed responses are in the capture, and web2's resets.
    let h = &steps_with(lines, "killed")[0]["data"];
    assert_eq!(h["failed_after_health_check"], 0, "{h}");
    let before = h["failed_before_health_check"].as_u64().unwrap();
    assert!(before >= 1, "{h}");
    let last = m.last().unwrap();
    assert_eq!(last["failed_before_health_check"].as_u64(), Some(before));
    let failed = c(&format!("ip.src == {VIP} && http.response.code >= 500")) as u64;
    assert_eq!(failed, before, "the failed responses the clients got");
    assert!(c("ip.src == 203.0.113.82 && tcp.flags.reset == 1") as u64 >= before.min(1));
    assert!(h["noticed_after_ms"].as_u64().is_some(), "{h}");
    // Every answer counted is in the capture.
    let refs: Vec<&Value> = m.iter().collect();
    assert_eq!(answers_in_pcap(pcap, ""), sum(&refs));
}

#[test]
fn netlabs_proxy_two_connections_forwarded_for_rules_and_health_checks() {
    if !privileged() || !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
    let (lines, _dir, pcap) = run(&["--mode", "l7"]);
    l7_story(&lines, &pcap, "netlab");
    let cfg = &steps_with(&lines, "proxy")[0]["data"];
    assert_eq!(cfg["config"], "", "netlab's proxy has no file");
}

/// The daemon's configuration is shown as the file it ran with.
fn daemon_config(lines: &[Value], must: &[&str]) {
    let step = steps_with(lines, "proxy")[0];
    let cfg = step["data"]["config"].as_str().unwrap();
    for m in must {
        assert!(cfg.contains(m), "{m:?} in:\n{cfg}");
    }
    let shown: Vec<String> = step["facts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["label"]["en"] == "config")
        .map(|f| f["value"]["en"].as_str().unwrap().replace('\u{a0}', " "))
        .collect();
    let lines_of: Vec<&str> = cfg.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(shown, lines_of, "every line of the file, as text");
}

#[test]
fn nginx_as_the_proxy() {
    if !privileged()
        || !require("tshark (Debian package tshark)", have("tshark"))
        || !require("nginx (Debian package nginx-light or nginx)", have("nginx"))
    {
        return;
    }
    let (lines, _dir, pcap) = run(&["--mode", "l7", "--proxy", "nginx"]);
    daemon_config(
        &lines,
        &[
            "proxy_pass http://app;",
            "listen 198.51.100.80:80;",
            "proxy_next_upstream off;",
        ],
    );
    l7_story(&lines, &pcap, "nginx");
    let h = &steps_with(&lines, "killed")[0]["data"];
    assert!(
        h["noticed_by"].as_str().unwrap().starts_with("passive"),
        "{h}"
    );
}

#[test]
fn haproxy_as_the_proxy() {
    if !privileged()
        || !require("tshark (Debian package tshark)", have("tshark"))
        || !require("haproxy (Debian package haproxy)", have("haproxy"))
    {
        return;
    }
    let (lines, _dir, pcap) = run(&["--mode", "l7", "--proxy", "haproxy"]);
    daemon_config(
        &lines,
        &[
            "option forwardfor",
            "option httpchk GET /health",
            "balance roundrobin",
        ],
    );
    l7_story(&lines, &pcap, "haproxy");
    let h = &steps_with(&lines, "killed")[0]["data"];
    assert!(
        h["noticed_by"].as_str().unwrap().starts_with("active"),
        "{h}"
    );
}

#[test]
fn an_ordinary_user_gets_the_whole_farm_in_a_user_namespace() {
    if !privileged() {
        return;
    }
    let o = netlab_as_nobody(&["load-balance", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert_eq!(lines[0]["data"]["rootless"], true);
    let m = modes(&lines);
    let kinds: HashSet<&str> = m.iter().map(|x| x["mode"].as_str().unwrap()).collect();
    assert_eq!(kinds, HashSet::from(["l4-nat", "l4-dr", "l7"]));
    assert!(
        m.iter().all(|x| x["failed_after_health_check"] == 0),
        "{m:?}"
    );
    for daemon in ["nginx", "haproxy"] {
        if !require(daemon, have(daemon)) {
            continue;
        }
        let o = netlab_as_nobody(&["load-balance", "--mode", "l7", "--proxy", daemon, "--json"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{daemon}: {}{}",
            stderr(&o),
            stdout(&o)
        );
        let lines = json_lines(&o);
        assert_eq!(summary(&lines)["proxy"], daemon);
        assert_eq!(
            steps_with(&lines, "handshakes")[0]["data"]["x_forwarded_for"],
            "198.51.100.70"
        );
    }
}

#[test]
fn the_text_fits_80_columns_in_both_languages() {
    if !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("lb.jsonl");
    let o = netlab(&["load-balance", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    std::fs::write(&run, &o.stdout).unwrap();
    for lang in ["en", "zh"] {
        let t = stdout(&netlab(&[
            "render",
            run.to_str().unwrap(),
            "--lang",
            lang,
            "--width",
            "80",
        ]));
        for l in t.lines() {
            assert!(
                unicode_width::UnicodeWidthStr::width(l) <= 80,
                "{lang}: a line wider than 80 columns:\n{l}"
            );
        }
        let rows = t.lines().count();
        assert!(rows < 250, "{lang}: {rows} rows");
    }
}

/// The daemons `pid` started: its children whose command line names one of
/// netlab's private lb directories.
fn daemons_of(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| p.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|&child| {
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            // The parent's pid is the second field after the command's ")".
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            ppid == Some(pid) && is_daemon(child)
        })
        .collect()
}

/// Whether `pid` still runs a daemon netlab configured.
fn is_daemon(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains("netlab-lb-"))
}

fn interrupt(args: &[&str], signal: &str) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    // Read on until the run is in the part asked for (its section's first step).
    let want = if args.contains(&"--proxy") {
        "\"proxy\":"
    } else {
        "\"vip\":"
    };
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 && !line.contains(want) {
        line.clear();
    }
    assert!(line.contains(want), "{args:?} never reached {want}");
    let held = netns_fds(pid);
    assert_eq!(held.len(), 8, "{args:?}: the farm's 8 namespaces");
    let daemons = if args.contains(&"--proxy") {
        let d = daemons_of(pid);
        assert_eq!(d.len(), 1, "{args:?}: the daemon runs");
        d
    } else {
        Vec::new()
    };
    std::thread::sleep(Duration::from_millis(rand::random_range(0..400)));
    Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .status()
        .unwrap();
    let _rest: Vec<String> = out.lines().map_while(|l| l.ok()).collect();
    let _ = child.wait().unwrap();
    let t = Instant::now();
    loop {
        let left: Vec<_> = held.intersection(&all_netns_in_use()).cloned().collect();
        let alive: Vec<&u32> = daemons.iter().filter(|d| is_daemon(**d)).collect();
        if left.is_empty() && alive.is_empty() {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{args:?} {signal}: namespaces {left:?}, daemons {alive:?} still there"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn interrupted_load_balance_leaves_no_namespace_and_no_daemon() {
    if !privileged() {
        return;
    }
    for sig in ["INT", "TERM", "KILL"] {
        interrupt(&["load-balance", "--json", "--pace", "300"], sig);
    }
    for daemon in ["nginx", "haproxy"] {
        if !require(daemon, have(daemon)) {
            continue;
        }
        for sig in ["INT", "TERM", "KILL"] {
            interrupt(
                &[
                    "load-balance",
                    "--mode",
                    "l7",
                    "--proxy",
                    daemon,
                    "--json",
                    "--pace",
                    "300",
                ],
                sig,
            );
        }
    }
}
