//! netlab failover: two routers share a gateway address with VRRP, the
//! master crashes mid-ping, the backup takes over. The summary must agree
//! with the capture as tshark reads it, the lesson's loss must be there, and
//! the real keepalived must tell the same story as netlab's speaker.

use super::*;

/// A short advert interval keeps each run to a few seconds.
const FAST: &[&str] = &["failover", "--advert-ms", "200", "--json"];

fn summary(lines: &[Value]) -> &Value {
    let s = lines.last().unwrap();
    assert_eq!(s["kind"], "summary", "{s}");
    s
}

/// The summary's story holds: r1 before, r2 after, a loss, a takeover.
fn the_story_holds(s: &Value, speaker: &str) {
    assert_eq!(s["speaker"], speaker, "{s}");
    assert_eq!(s["vip"], "198.51.100.65");
    assert_eq!(s["master_before"], "r1", "{s}");
    assert_eq!(s["master_after"], "r2", "{s}");
    assert_eq!(s["ok"], true, "{s}");
    let lost = s["pings_lost"].as_u64().unwrap();
    let sent = s["pings_sent"].as_u64().unwrap();
    assert!(lost >= 1, "the lesson needs a loss: {s}");
    assert!(lost < sent, "the echoes come back after the takeover: {s}");
    assert!(s["takeover_ms"].as_u64().is_some(), "a takeover: {s}");
    assert!(s["gratuitous_arps"].as_u64().unwrap() >= 2, "{s}");
    // What the pinger counted is what the link carried.
    assert_eq!(s["pinger_sent"], s["pings_sent"], "{s}");
    assert_eq!(s["pinger_lost"], s["pings_lost"], "{s}");
}

/// tshark's lines for `filter`, each the given fields tab-separated.
fn tshark_fields(file: &std::path::Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut c = Command::new("tshark");
    c.arg("-r").arg(file).args(["-Y", filter, "-T", "fields"]);
    for f in fields {
        c.args(["-e", f]);
    }
    let o = c.output().expect("run tshark");
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// The run with `--pcap`, and what tshark reads in the file agrees with the
/// summary: adverts (TTL 255, checksums good), gratuitous ARPs, echoes, and
/// the takeover time from the adverts' own timestamps.
fn the_capture_agrees(extra: &[&str], speaker: &str) {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("failover.pcapng");
    let mut args = FAST.to_vec();
    args.extend(extra);
    args.extend(["--pcap", pcap.to_str().unwrap()]);
    let o = netlab(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let s = summary(&lines);
    the_story_holds(s, speaker);
    let adverts = tshark_fields(
        &pcap,
        "vrrp",
        &[
            "frame.time_epoch",
            "vrrp.prio",
            "ip.ttl",
            "vrrp.checksum.status",
            "ip.dst",
        ],
    );
    assert_eq!(adverts.len() as u64, s["adverts_seen"].as_u64().unwrap());
    for a in &adverts {
        assert_eq!(a[2], "255", "TTL 255: {a:?}");
        assert_eq!(a[3], "1", "tshark finds the VRRP checksum good: {a:?}");
        assert_eq!(a[4], "224.0.0.18", "{a:?}");
    }
    // r1 (200) advertises, then r2 (100), never interleaved.
    let prios: Vec<&str> = adverts.iter().map(|a| a[1].as_str()).collect();
    let first_100 = prios
        .iter()
        .position(|p| *p == "100")
        .expect("r2 advertises");
    assert!(
        first_100 > 0 && prios[..first_100].iter().all(|p| *p == "200"),
        "{prios:?}"
    );
    assert!(prios[first_100..].iter().all(|p| *p == "100"), "{prios:?}");
    // The takeover time from the capture's own timestamps.
    let t = |i: usize| adverts[i][0].parse::<f64>().unwrap();
    let measured = (t(first_100) - t(first_100 - 1)) * 1000.0;
    let said = s["takeover_ms"].as_u64().unwrap() as f64;
    assert!(
        (measured - said).abs() < 1.5,
        "tshark {measured} ms, netlab {said} ms"
    );
    assert_eq!(
        tshark_count(
            &pcap,
            "arp.isgratuitous == 1 && arp.src.proto_ipv4 == 198.51.100.65"
        ) as u64,
        s["gratuitous_arps"].as_u64().unwrap()
    );
    // Both routers announced the address: the one r1 had, then r2's MAC.
    assert!(
        tshark_count(
            &pcap,
            "arp.isgratuitous == 1 && eth.src == 02:00:00:00:33:01"
        ) >= 1
    );
    assert!(
        tshark_count(
            &pcap,
            "arp.isgratuitous == 1 && eth.src == 02:00:00:00:33:02"
        ) >= 1
    );
    let sent = s["pings_sent"].as_u64().unwrap() as usize;
    let lost = s["pings_lost"].as_u64().unwrap() as usize;
    assert_eq!(
        tshark_count(&pcap, "icmp.type == 8 && ip.dst == 203.0.113.100"),
        sent
    );
    assert_eq!(
        tshark_count(&pcap, "icmp.type == 0 && ip.src == 203.0.113.100"),
        sent - lost
    );
    assert_eq!(tshark_count(&pcap, "_ws.malformed"), 0);
    // The record: h1's ARP entry moved from r1's MAC to r2's, the unanswered
    // echoes are marked lost, and the first advert is explained field by field.
    let take = lines
        .iter()
        .find(|l| l["data"]["neighbour_after"].is_object())
        .expect("the takeover step");
    assert_eq!(take["data"]["neighbour_before"]["mac"], "02:00:00:00:33:01");
    assert_eq!(take["data"]["neighbour_after"]["mac"], "02:00:00:00:33:02");
    let packets: Vec<&Value> = lines
        .iter()
        .flat_map(|l| l["packets"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(packets.iter().filter(|p| p["lost"] == true).count(), lost);
    let advert = packets
        .iter()
        .find(|p| p["show_bytes"] == true && p["label"]["en"].as_str().unwrap().starts_with("VRRP"))
        .expect("an advert with its byte view");
    let field = |name: &str| {
        advert["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {advert}"))["value"]["en"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(field("vrrp.vrid"), "1");
    assert!(field("vrrp.prio").starts_with("200"));
    assert_eq!(field("vrrp.max_adver_int"), "20 cs = 200 ms");
    assert!(field("vrrp.checksum").ends_with("(correct)"));
    assert_eq!(field("vrrp.ip_addr"), "198.51.100.65");
    assert_eq!(advert["from"], "r1");
    assert_eq!(advert["to"], "h1,r2");
}

#[test]
fn netlab_s_speaker_fails_over_and_tshark_agrees() {
    if !privileged() || !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
    the_capture_agrees(&[], "netlab");
}

#[test]
fn keepalived_fails_over_and_tshark_agrees() {
    if !privileged()
        || !require("tshark (Debian package tshark)", have("tshark"))
        || !require("keepalived (Debian package keepalived)", have("keepalived"))
    {
        return;
    }
    the_capture_agrees(&["--with", "keepalived"], "keepalived");
}

#[test]
fn keepalived_s_configuration_is_shown_as_written() {
    if !privileged() || !require("keepalived (Debian package keepalived)", have("keepalived")) {
        return;
    }
    let o = netlab(&[
        "failover",
        "--with",
        "keepalived",
        "--advert-ms",
        "200",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let configs = lines[0]["data"]["configs"].as_array().expect("configs");
    assert_eq!(configs.len(), 2);
    let r2 = configs[1]["text"].as_str().unwrap();
    for want in [
        "interface eth0",
        "virtual_router_id 1",
        "priority 100",
        "advert_int 0.2",
        "198.51.100.65/26",
    ] {
        assert!(r2.contains(want), "{want} in {r2}");
    }
    // The step shows r1's file line by line, each line as code.
    let facts: Vec<&str> = lines[0]["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["value"]["en"].as_str().unwrap())
        .collect();
    assert!(facts.contains(&"`priority 200`"), "{facts:?}");
    assert!(facts.contains(&"`vrrp_instance lan {`"), "{facts:?}");
}

#[test]
fn without_root_both_speakers_fail_over() {
    if !privileged() {
        return;
    }
    let mut speakers = vec!["netlab"];
    if require("keepalived (Debian package keepalived)", have("keepalived")) {
        speakers.push("keepalived");
    }
    for speaker in speakers {
        let o = netlab_as_nobody(&[
            "failover",
            "--advert-ms",
            "200",
            "--json",
            "--with",
            speaker,
        ]);
        assert_eq!(o.status.code(), Some(0), "{speaker}: {}", stderr(&o));
        let lines = json_lines(&o);
        assert_eq!(lines[0]["data"]["rootless"], true);
        the_story_holds(summary(&lines), speaker);
    }
}

#[test]
fn bad_intervals_and_a_missing_keepalived_are_one_clear_line() {
    for (args, says) in [
        (vec!["failover", "--advert-ms", "105"], "in steps of 10"),
        (vec!["failover", "--advert-ms", "50"], "100 to 10000"),
        (
            vec!["failover", "--advert-ms", "200", "--ping-ms", "500"],
            "longer than --advert-ms",
        ),
    ] {
        let o = netlab(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    if !privileged() {
        return;
    }
    // Without keepalived on PATH (it lives in /usr/sbin): said before any lab is built.
    let o = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["failover", "--with", "keepalived", "--lang", "zh"])
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("没有安装 keepalived"), "{err}");
}
