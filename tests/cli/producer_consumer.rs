//! netlab producer-consumer: the bounded queue really blocks (counted), and
//! TCP's window really reaches 0, is probed and reopens: from the run's JSON
//! and from tshark reading its --pcap, as root and as nobody. Throughput is
//! shown, never compared here (timing belongs in benches).

use std::os::unix::fs::PermissionsExt;

use super::*;

/// The step whose data has `key`.
fn step<'a>(lines: &'a [Value], key: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["kind"] == "step" && !l["data"][key].is_null())
        .unwrap_or_else(|| panic!("no step with {key}"))
}

/// Every packet of the run, in order.
fn packets(lines: &[Value]) -> Vec<Value> {
    lines
        .iter()
        .flat_map(|l| l["packets"].as_array().cloned().unwrap_or_default())
        .filter(|p| p["echo"] != true)
        .collect()
}

/// The first of tshark's frame numbers `filter` selects.
fn first_frame(pcap: &std::path::Path, filter: &str) -> Option<u64> {
    let o = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-Y", filter, "-T", "fields", "-e", "frame.number"])
        .output()
        .expect("run tshark");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
}

/// What every run must show, whoever ran it.
fn check(o: &Output, pcap: &std::path::Path) {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    let lines = json_lines(o);
    let s = lines.last().unwrap();
    assert_eq!(s["kind"], "summary");
    assert_eq!(s["ok"], true, "{s}");

    // 1. The queue filled: exactly `capacity` pushes returned, the next one waited.
    assert_eq!(s["queue_capacity"], 8);
    let fill = &step(&lines, "pushed_before_block")["data"];
    assert_eq!(fill["pushed_before_block"], 8, "{fill}");
    assert_eq!(fill["len_when_blocked"], 8, "{fill}");
    assert!(fill["full_waits"].as_u64().unwrap() >= 1, "{fill}");
    assert_eq!(fill["items"], 32, "every item came out: {fill}");
    assert_eq!(fill["state"], "S", "the blocked producer sleeps: {fill}");
    assert!(s["producer_blocked_ms"].as_f64().unwrap() >= 0.0);
    // Every run moved every item, whatever its speed.
    let t = s["throughput"].as_array().unwrap();
    let consumers: Vec<u64> = t.iter().map(|r| r["consumers"].as_u64().unwrap()).collect();
    assert_eq!(consumers, [1, 2, 4]);
    for r in &step(&lines, "runs")["data"]["runs"]
        .as_array()
        .unwrap()
        .clone()
    {
        assert_eq!(r["items"], 2000, "{r}");
        assert!(r["items_per_s"].as_f64().unwrap() > 0.0, "{r}");
    }

    // 2. TCP: window 0, probes, a window update after it, everything read.
    assert_eq!(s["window_zero_seen"], true, "{s}");
    let probes = s["zero_window_probes"].as_u64().unwrap();
    assert!(probes >= 2, "the receiver waited for 2 probes: {s}");
    assert!(s["window_updates"].as_u64().unwrap() >= 1, "{s}");
    assert!(
        s["sender_eagain"].as_u64().unwrap() >= 1,
        "write() met a full buffer: {s}"
    );
    assert_eq!(s["bytes_received"], 32768);
    super::transport::assert_participant_ids(&lines, &["sender", "receiver"]);
    // The packets in wire order: the zero window before the update.
    let p = packets(&lines);
    let label = |p: &Value| p["label"]["en"].as_str().unwrap_or_default().to_string();
    let zero = p
        .iter()
        .position(|p| label(p).contains("zero window"))
        .unwrap();
    let update = p
        .iter()
        .position(|p| label(p).starts_with("window update"))
        .unwrap();
    assert!(zero < update, "{zero} {update}");
    let probe_labels = p
        .iter()
        .filter(|p| label(p).starts_with("zero-window probe"))
        .count();
    assert_eq!(probe_labels as u64, probes);
    // The zero window read from the packet's own bytes: its tcp.window field is 00 00.
    let hex = p[zero]["hex"].as_str().unwrap();
    let window = p[zero]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "tcp.window")
        .unwrap();
    let at = window["start"].as_u64().unwrap() as usize;
    assert_eq!(&hex[at * 2..at * 2 + 4], "0000", "{window}");
    let shown = &step(&lines, "zero_field")["facts"];
    assert!(shown.to_string().contains("00 00 = 0"), "{shown}");

    // And tshark, reading the --pcap, agrees.
    if !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
    let count = |filter: &str| tshark_count(pcap, filter);
    assert!(count("tcp.analysis.zero_window") >= 1);
    assert!(count("tcp.analysis.window_update") >= 1);
    // Wireshark's Zero Window Probe is RFC 9293's one new byte at the next
    // sequence number; Linux probes with 0 bytes at the last acknowledged
    // one, which Wireshark calls a keep-alive. Either way, the same count.
    assert_eq!(
        count("tcp.analysis.zero_window_probe || tcp.analysis.keep_alive") as u64,
        probes
    );
    let z = first_frame(pcap, "tcp.analysis.zero_window").unwrap();
    let u = first_frame(pcap, "tcp.analysis.window_update").unwrap();
    let pr = first_frame(
        pcap,
        "tcp.analysis.zero_window_probe || tcp.analysis.keep_alive",
    )
    .unwrap();
    assert!(z < pr && pr < u, "zero window {z}, probe {pr}, update {u}");
}

#[test]
fn the_queue_blocks_and_the_window_closes_is_probed_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("pc.pcapng");
    let o = netlab(&[
        "producer-consumer",
        "--json",
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    check(&o, &pcap);
}

#[test]
fn it_runs_as_nobody_in_a_user_namespace() {
    if !privileged() || !require("setpriv (util-linux)", have("setpriv")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let pcap = dir.path().join("pc.pcapng");
    let o = netlab_as_nobody(&[
        "producer-consumer",
        "--json",
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    check(&o, &pcap);
}

#[test]
fn more_probes_asked_for_means_a_longer_pause() {
    let o = netlab(&[
        "producer-consumer",
        "--json",
        "--probes",
        "3",
        "--items",
        "100",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let s = lines.last().unwrap();
    assert!(s["zero_window_probes"].as_u64().unwrap() >= 3, "{s}");
    let p = &step(&lines, "seen_in_time")["data"];
    assert_eq!(p["seen_in_time"], true);
    // Each probe went later than the one before: the timer backs off.
    let after: Vec<f64> = p["after_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(after.windows(2).all(|w| w[0] < w[1]), "{after:?}");
}

#[test]
fn the_text_tells_both_halves_in_both_languages() {
    for (lang, want) in [
        (
            "en",
            ["push() number 9 blocked", "window went", "window update"],
        ),
        ("zh", ["第 9 次在队列里", "窗口变为", "窗口更新"]),
    ] {
        let o = netlab(&[
            "producer-consumer",
            "--items",
            "100",
            "--lang",
            lang,
            "--width",
            "100",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let t = stdout(&o);
        for w in want {
            assert!(t.contains(w), "{lang}: {w}\n{t}");
        }
    }
}
