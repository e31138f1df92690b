//! ping: loopback like iputils, and the lab demo (root).

use super::*;

#[test]
fn ping_loopback_prints_what_iputils_prints() {
    if !privileged() {
        return;
    }
    let o = netlab(&["ping", "-c", "3", "-i", "0.05", "127.0.0.1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = stdout(&o);
    assert!(
        t.contains("PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data."),
        "{t}"
    );
    assert_eq!(
        t.matches("64 bytes from 127.0.0.1: icmp_seq=").count(),
        3,
        "{t}"
    );
    assert!(t.contains("ttl=64"));
    assert!(t.contains("--- 127.0.0.1 ping statistics ---"));
    assert!(
        t.contains("3 packets transmitted, 3 received, 0% packet loss, time"),
        "{t}"
    );
    assert!(t.contains("rtt min/avg/max/mdev = "), "{t}");
    assert!(
        t.contains("icmp.type") && t.contains("8 (echo request)") && t.contains("1 (ICMP)"),
        "byte view: {t}"
    );

    let o = netlab(&[
        "ping",
        "-c",
        "2",
        "-i",
        "0.05",
        "-s",
        "100",
        "-t",
        "9",
        "localhost",
        "--json",
    ]);
    let lines = json_lines(&o);
    assert!(lines[0]["title"]["en"]
        .as_str()
        .unwrap()
        .contains("Resolved localhost to 127.0.0.1"));
    let s = lines.last().unwrap();
    assert_eq!(s["transmitted"], 2);
    assert_eq!(s["received"], 2);
    assert_eq!(s["loss_percent"], 0.0);
    for k in ["rtt_min_ms", "rtt_avg_ms", "rtt_max_ms", "rtt_mdev_ms"] {
        assert!(s[k].as_f64().is_some(), "{k}");
    }
    assert!(s["rtt_min_ms"].as_f64() <= s["rtt_avg_ms"].as_f64());
    assert!(s["rtt_avg_ms"].as_f64() <= s["rtt_max_ms"].as_f64());
    let replies: Vec<&Value> = lines
        .iter()
        .filter(|l| l["data"]["icmp_seq"].is_u64())
        .collect();
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[0]["data"]["bytes"], 108, "8 header + 100 payload");
}

#[test]
fn deadline_stops_an_endless_ping() {
    if !privileged() {
        return;
    }
    let o = netlab(&["ping", "-i", "0.05", "-w", "0.3", "127.0.0.1", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let s = json_lines(&o).pop().unwrap();
    let sent = s["transmitted"].as_u64().unwrap();
    assert!(
        (1..=8).contains(&sent),
        "{sent} sent in 0.3 s at 0.05 s intervals"
    );
}

#[test]
fn lab_ping_same_lan_router_hop_and_loss() {
    if !privileged() {
        return;
    }
    let o = netlab(&["ping", "--loss", "50", "-c", "40", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let s = lines.last().unwrap();
    let runs = s["runs"].as_array().unwrap();
    assert_eq!(runs[0]["stats"]["transmitted"], 3);
    assert_eq!(runs[0]["stats"]["received"], 3, "same LAN, no loss");
    assert_eq!(runs[1]["stats"]["received"], 3, "across r1");
    let hop = lines
        .iter()
        .find(|l| l["data"]["ttl_across_router"].is_u64())
        .unwrap();
    assert_eq!(hop["data"]["ttl_same_lan"], 64);
    assert_eq!(hop["data"]["ttl_across_router"], 63, "one router hop");
    // 50 % loss over 40 requests: some lost and some through, every run (P(fail) < 1e-11)
    assert_eq!(s["transmitted"], 40);
    let got = s["received"].as_u64().unwrap();
    assert!(got > 0 && got < 40, "{got} of 40 through a 50 % lossy link");
    assert!(s["loss_percent"].as_f64().unwrap() > 0.0);
    assert_eq!(s["loss_percent_configured"], 50);
    // the captured frames show ICMP directly on IP
    let request = lines
        .iter()
        .flat_map(|l| l["packets"].as_array().cloned().unwrap_or_default())
        .find(|p| p["label"]["en"] == "ICMP echo request seq=1")
        .expect("the first echo request is a packet record");
    let fields = request["fields"].as_array().unwrap();
    let proto = fields.iter().find(|f| f["name"] == "ip.proto").unwrap();
    assert_eq!(proto["value"]["en"], "1 (ICMP)");
    let after_ip = fields.iter().position(|f| f["name"] == "ip.dst").unwrap();
    assert_eq!(
        fields[after_ip + 1]["name"],
        "icmp.type",
        "no TCP header between IP and ICMP"
    );
    // every phase's frames are records: ARP, both links across r1, the lossy link
    let records: Vec<Value> = lines
        .iter()
        .flat_map(|l| l["packets"].as_array().cloned().unwrap_or_default())
        .collect();
    let count = |from: &str, to: &str, label: &str| {
        records
            .iter()
            .filter(|p| {
                p["from"] == from
                    && p["to"] == to
                    && p["label"]["en"].as_str().unwrap().starts_with(label)
            })
            .count()
    };
    assert!(
        count("h1", "h2,r1", "ARP who-has") >= 1,
        "h1's broadcast ARP"
    );
    assert!(count("r1", "h3", "ICMP echo request") >= 3, "on LAN B");
    let lost = records
        .iter()
        .filter(|p| p["lost"] == true && p["echo"] != true)
        .count() as u64;
    assert_eq!(lost, 40 - got, "each unanswered request is marked lost");
}

#[test]
fn lab_ping_with_total_loss_exits_1() {
    if !privileged() {
        return;
    }
    let o = netlab(&["ping", "--loss", "100", "-c", "3", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let s = json_lines(&o).pop().unwrap();
    assert_eq!(s["received"], 0);
    assert_eq!(s["loss_percent"], 100.0);
}

#[test]
fn ping_this_host_and_a_broadcast_address_as_iputils_would() {
    if !privileged() {
        return;
    }
    // 0.0.0.0 is this host: the replies come from 127.0.0.1 and count.
    let o = netlab(&["ping", "-c", "2", "-i", "0.05", "0.0.0.0"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).matches("64 bytes from 127.0.0.1").count(), 2);
    // The loopback broadcast: refused by the kernel without SO_BROADCAST, and said so
    // (not a missing privilege). Nothing leaves the machine.
    let o = netlab(&["ping", "-c", "1", "127.255.255.255"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("broadcast address"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("setcap"), "{}", stderr(&o));
}

#[test]
fn every_echo_of_a_target_is_a_packet_in_the_json_and_the_pcap() {
    if !privileged() || !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("lo.pcapng");
    let o = netlab(&[
        "ping",
        "-c",
        "3",
        "-i",
        "0.05",
        "127.0.0.1",
        "--json",
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    // The capture file: three requests and three replies, each reply to its request.
    assert_eq!(tshark_count(&pcap, "icmp.type == 8"), 3, "the requests");
    assert_eq!(tshark_count(&pcap, "icmp.type == 0"), 3, "the replies");
    assert_eq!(
        tshark_count(&pcap, "icmp.resp_to"),
        3,
        "each reply to its request"
    );
    assert_eq!(tshark_count(&pcap, "_ws.malformed"), 0);
    // The JSON: the same six, between this host and the target, in wire order.
    let packets = super::arp::packets(&lines);
    let between = |from: &str, to: &str, label: &str| {
        packets
            .iter()
            .filter(|p| {
                p["from"] == from
                    && p["to"] == to
                    && p["label"]["en"].as_str().unwrap().starts_with(label)
            })
            .count()
    };
    assert_eq!(between("local", "target", "ICMP echo request seq="), 3);
    assert_eq!(between("target", "local", "ICMP echo reply seq="), 3);
    assert_eq!(packets.len(), 6);
    assert!(
        packets.iter().all(|p| p["wire"]["hex"].is_string()),
        "every packet's wire bytes"
    );
    super::arp::assert_wire_order("ping 127.0.0.1", &lines);
    let labels: Vec<&str> = packets
        .iter()
        .map(|p| p["label"]["en"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "ICMP echo request seq=1",
            "ICMP echo reply seq=1",
            "ICMP echo request seq=2",
            "ICMP echo reply seq=2",
            "ICMP echo request seq=3",
            "ICMP echo reply seq=3",
        ]
    );
    // The participants are ids, labelled in both languages.
    let who: Vec<&Value> = lines
        .iter()
        .flat_map(|l| l["participants"].as_array().into_iter().flatten())
        .collect();
    assert!(
        who.iter()
            .any(|p| p["id"] == "local" && p["label"]["zh"] == "本机"),
        "{who:?}"
    );
    // The ladder draws all of them.
    let o = netlab(&["ping", "-c", "3", "-i", "0.05", "127.0.0.1", "--lang", "en"]);
    let t = stdout(&o);
    assert!(t.contains("ICMP echo request seq=… ×3"), "{t}");
    assert!(t.contains("ICMP echo reply seq=… ×3"), "{t}");
}

#[test]
fn lab_ping_records_follow_the_wire_and_the_pcap_holds_them_all() {
    if !privileged() || !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
    let lines = super::arp::assert_pcap_is_the_record(&["ping", "--loss", "30"]);
    // Every echo that crossed h1's link in each phase: 3 + 3 + 10 requests.
    let requests = super::arp::packets(&lines)
        .into_iter()
        .filter(|p| {
            p["from"] == "h1"
                && p["label"]["en"]
                    .as_str()
                    .unwrap()
                    .starts_with("ICMP echo request")
        })
        .count();
    assert_eq!(requests, 3 + 3 + 10);
}

#[test]
fn every_default_lab_run_loses_an_echo_on_the_lossy_link() {
    if !privileged() {
        return;
    }
    // 15 default runs, three at a time (each is bounded: 3 + 3 + 10 echoes
    // and their timeouts); every one must show the lesson.
    let runs: Vec<std::process::Output> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    (0..5)
                        .map(|_| netlab(&["ping", "--json"]))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert_eq!(runs.len(), 15);
    for (i, o) in runs.iter().enumerate() {
        assert_eq!(o.status.code(), Some(0), "run {i}: {}", stderr(o));
        let lines = json_lines(o);
        let s = lines.last().unwrap();
        assert_eq!(
            s["loss_mode"], "fixed",
            "run {i}: the default is the pattern"
        );
        let (sent, got) = (
            s["transmitted"].as_u64().unwrap(),
            s["received"].as_u64().unwrap(),
        );
        assert!(got < sent, "run {i}: {got} of {sent} answered, none lost");
        let rule = lines
            .iter()
            .find(|l| l["data"]["loss_mode"].is_string())
            .expect("the lossy link's step");
        assert!(
            rule["title"]["en"]
                .as_str()
                .unwrap()
                .contains("fixed pattern"),
            "run {i}: the step says which loss: {}",
            rule["title"]
        );
        let dropped = lines
            .iter()
            .find_map(|l| l["data"]["dropped_seqs"].as_array())
            .expect("the lossy capture's step");
        assert!(!dropped.is_empty(), "run {i}: no request dropped");
        assert_eq!(
            dropped,
            rule["data"]["pattern_seqs"].as_array().unwrap(),
            "run {i}: the capture shows the drops the pattern announced"
        );
    }
}

#[test]
fn the_router_hop_step_says_traceroute_reads_time_exceeded_not_reply_ttls() {
    if !privileged() {
        return;
    }
    let o = netlab(&["ping", "--loss", "0", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let hop = lines
        .iter()
        .find(|l| l["data"]["ttl_across_router"].is_u64())
        .expect("the router hop step");
    let (en, zh) = (
        hop["detail"]["en"].as_str().unwrap(),
        hop["detail"]["zh"].as_str().unwrap(),
    );
    assert!(!en.contains("counts routers this way"), "{en}");
    assert!(!zh.contains("traceroute 就靠它数路由器"), "{zh}");
    assert!(
        en.contains("TTL 1, 2, 3") && en.contains("ICMP time exceeded"),
        "{en}"
    );
    assert!(zh.contains("1、2、3") && zh.contains("ICMP 超时"), "{zh}");
    assert!(
        en.contains("only if you guess the TTL it started with"),
        "{en}"
    );
    // The router count comes from the run's own TTLs.
    assert!(
        hop["title"]["en"]
            .as_str()
            .unwrap()
            .ends_with("63 from h3: 1 router on the way back"),
        "{}",
        hop["title"]
    );
    // Every packet of the step is told: it names the ARP its ladder shows.
    assert!(en.contains("ARP"), "{en}");
    super::traceroute::assert_chinese_punctuation("ping", &lines);
    super::arp::assert_every_packet_is_told("ping", &lines);
}

#[test]
fn explain_q7_says_what_a_reply_ttl_can_and_cannot_tell() {
    let en = stdout(&netlab(&[
        "explain", "Q7", "--lang", "en", "--width", "500",
    ]));
    let zh = stdout(&netlab(&[
        "explain", "Q7", "--lang", "zh", "--width", "500",
    ]));
    assert!(
        en.contains("only if you guess the TTL it started with"),
        "{en}"
    );
    assert!(
        en.contains("TTL 1, 2, 3") && en.contains("time-exceeded"),
        "{en}"
    );
    assert!(!zh.contains("应答的 TTL 还能看出经过了几跳路由器"), "{zh}");
    assert!(zh.contains("ICMP 超时"), "{zh}");
}

#[test]
fn random_loss_keeps_the_dice_and_says_so() {
    if !privileged() {
        return;
    }
    let o = netlab(&["ping", "--random-loss", "--json"]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
    let lines = json_lines(&o);
    let lossy = lines
        .iter()
        .find(|l| l["data"]["loss_mode"].is_string())
        .expect("the lossy step");
    assert_eq!(lossy["data"]["loss_mode"], "random", "{lossy}");
    let said = lossy["title"]["en"].as_str().unwrap().to_string()
        + lossy["detail"]["en"].as_str().unwrap();
    assert!(
        said.contains("chance") && said.contains("numgen random"),
        "{said}"
    );
    // And with a TARGET the flag makes no sense: a usage error.
    let o = netlab(&["ping", "127.0.0.1", "--random-loss"]);
    assert_eq!(o.status.code(), Some(2));
}
