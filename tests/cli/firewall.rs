//! netlab firewall: r1's rules decide, and the client sees it.

use super::*;

fn cases(lines: &[Value]) -> Vec<Value> {
    let s = lines.last().unwrap();
    assert_eq!(s["kind"], "summary");
    s["cases"].as_array().unwrap().clone()
}

fn find<'a>(cases: &'a [Value], case: &str, proto: &str, port: u16, dir: &str) -> &'a Value {
    cases
        .iter()
        .find(|c| {
            c["case"] == case && c["proto"] == proto && c["port"] == port && c["direction"] == dir
        })
        .unwrap_or_else(|| panic!("{case} {proto} {port} {dir} in {cases:?}"))
}

#[test]
fn every_rule_set_does_what_it_says_and_the_capture_shows_it() {
    if !privileged() || !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("fw.pcapng");
    let o = netlab(&["firewall", "--json", "--pcap", pcap.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let c = cases(&lines);
    assert_eq!(c.len(), 14);
    assert!(c.iter().all(|x| x["outcome"] == x["expected"]), "{c:?}");
    assert_eq!(lines.last().unwrap()["as_predicted"], true);
    // No rules: both pass.
    assert_eq!(
        find(&c, "none", "tcp", 80, "h1->h3")["outcome"],
        "connected"
    );
    assert_eq!(
        find(&c, "none", "udp", 53, "h1->h3")["outcome"],
        "connected"
    );
    // drop: silence until the client gives up; reject: an answer at once.
    let dropped = find(&c, "drop", "tcp", 80, "h1->h3");
    assert_eq!(dropped["outcome"], "timeout");
    assert!(dropped["elapsed_ms"].as_u64().unwrap() >= 3000, "{dropped}");
    let reset = find(&c, "reject", "tcp", 80, "h1->h3");
    assert_eq!(reset["outcome"], "reset");
    assert!(reset["elapsed_ms"].as_u64().unwrap() < 1000, "{reset}");
    assert_eq!(
        find(&c, "reject", "udp", 53, "h1->h3")["outcome"],
        "unreachable"
    );
    // stateful: out and back, yes; in, no.
    assert_eq!(
        find(&c, "stateful", "tcp", 80, "h1->h3")["outcome"],
        "connected"
    );
    assert_eq!(
        find(&c, "stateful", "tcp", 80, "h3->h1")["outcome"],
        "timeout"
    );
    assert_eq!(
        find(&c, "stateful", "udp", 53, "h3->h1")["outcome"],
        "timeout"
    );
    let stateful = lines
        .iter()
        .find(|l| l["data"]["case"] == "stateful")
        .unwrap();
    let tracked = stateful["data"]["conntrack"]
        .as_array()
        .expect("conntrack entries");
    assert!(
        tracked.iter().any(|t| t["proto"] == "tcp"
            && t["original"]
                .as_str()
                .unwrap()
                .starts_with("198.51.100.10:")
            && t["reply"].as_str().unwrap().starts_with("203.0.113.10:80 ")),
        "{tracked:?}"
    );
    // a port rule: 80 and 53 in, 22 and 123 out.
    assert_eq!(
        find(&c, "ports", "tcp", 80, "h1->h3")["outcome"],
        "connected"
    );
    assert_eq!(find(&c, "ports", "tcp", 22, "h1->h3")["outcome"], "timeout");
    assert_eq!(
        find(&c, "ports", "udp", 53, "h1->h3")["outcome"],
        "connected"
    );
    assert_eq!(
        find(&c, "ports", "udp", 123, "h1->h3")["outcome"],
        "timeout"
    );
    // The capture: r1's RST (with h3's address), the ICMP port unreachable,
    // and the SYN sent again while drop kept silent.
    let count = |filter: &str| tshark_count(&pcap, filter);
    assert!(
        count("tcp.flags.reset == 1 && ip.src == 203.0.113.10") >= 1,
        "the RST"
    );
    assert!(
        count("icmp.type == 3 && icmp.code == 3") >= 1,
        "the port unreachable"
    );
    assert!(
        count("dns.qry.name == \"www.lab.edu.cn\"") >= 1,
        "UDP 53 carries a DNS query"
    );
    assert!(count("ntp") >= 1, "UDP 123 carries an NTP request");
    assert_eq!(
        count("_ws.malformed"),
        0,
        "every probe decodes as what its port is for"
    );
    assert!(
        count("tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == 80 && ip.src == 198.51.100.10") >= 4,
        "the SYNs sent again"
    );
    // None of the reject case's probes reached h3's link: the RST was r1's own.
    // (An ARP probe of r1's, refreshing its neighbour entry, may pass there.)
    let reject = lines
        .iter()
        .find(|l| l["data"]["case"] == "reject")
        .unwrap();
    let on_h3: Vec<&str> = reject["packets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["peer"].as_str().unwrap().starts_with("h3:"))
        .map(|p| p["label"]["en"].as_str().unwrap())
        .filter(|l| !l.starts_with("ARP"))
        .collect();
    assert!(on_h3.is_empty(), "{on_h3:?}");
    // Every packet of every case in the order it was seen on the links,
    // between the lab's hosts.
    super::transport::assert_wire_order(&lines);
    super::transport::assert_participant_ids(&lines, &["h1", "h2", "h3", "r1"]);
    // Each case's step carries its rules as the commands to type: as facts
    // (what the text view and the page show) and in its data.
    let want: [(&str, usize); 5] = [
        ("none", 0),
        ("drop", 1),
        ("reject", 2),
        ("stateful", 2),
        ("ports", 4),
    ];
    for (case, n) in want {
        let step = lines
            .iter()
            .find(|l| l["data"]["case"] == case)
            .unwrap_or_else(|| panic!("no step for {case}"));
        let rules: Vec<&str> = step["data"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert_eq!(rules.len(), n, "{case}: {rules:?}");
        let facts: Vec<&str> = step["facts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["label"]["en"] == "rule")
            .map(|f| f["value"]["en"].as_str().unwrap())
            .collect();
        if n == 0 {
            assert_eq!(facts.len(), 1, "{case}: says there are none");
        } else {
            assert_eq!(facts, rules, "{case}");
        }
        assert!(rules
            .iter()
            .all(|r| r.starts_with("nft add rule inet netlab forward ")));
        assert!(step["detail"]["en"].as_str().unwrap().len() > 40, "{case}");
        let probes = step["data"]["probes"].as_array().unwrap();
        assert!(!probes.is_empty(), "{case}");
        assert!(
            probes.iter().all(|p| p["outcome"] == p["expected"]),
            "{case}"
        );
    }
}

#[test]
fn chinese_and_one_case_at_a_time() {
    if !privileged() {
        return;
    }
    let o = netlab(&["firewall", "--case", "reject", "--lang", "zh"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = stdout(&o);
    assert!(t.contains("reject：r1 立即作答"), "{t}");
    assert!(t.contains("立即被重置"), "{t}");
    assert!(!t.contains("drop："), "only the case asked for");
}

#[test]
fn an_ordinary_user_gets_the_same_firewall_in_a_user_namespace() {
    if !privileged() {
        return;
    }
    let o = netlab_as_nobody(&["firewall", "--case", "reject,stateful", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert_eq!(lines[0]["data"]["rootless"], true);
    let c = cases(&lines);
    assert!(c.iter().all(|x| x["outcome"] == x["expected"]), "{c:?}");
}

#[test]
fn probes_the_firewall_dropped_are_drawn_lost() {
    if !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("fw.jsonl");
    let o = netlab(&["firewall", "--case", "none,stateful,ports", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    std::fs::write(&run, &o.stdout).unwrap();
    let lines = json_lines(&o);
    let lost_of = |case: &str| -> Vec<(String, String, String)> {
        let step = lines
            .iter()
            .find(|l| l["data"]["case"] == case)
            .unwrap_or_else(|| panic!("no step for {case}"));
        step["packets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["lost"] == true)
            .map(|p| {
                (
                    p["from"].as_str().unwrap().to_string(),
                    p["protocol"].as_str().unwrap().to_string(),
                    p["label"]["en"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    // No rules: nothing stopped.
    assert!(lost_of("none").is_empty(), "{:?}", lost_of("none"));
    // Stateful: h3's new connection (its SYN and its resends) and its
    // datagram never reached LAN A; h1's flows did.
    let stateful = lost_of("stateful");
    assert!(
        stateful
            .iter()
            .filter(|(from, _, l)| from == "h3" && l == "SYN")
            .count()
            >= 2,
        "{stateful:?}"
    );
    assert!(
        stateful
            .iter()
            .any(|(from, p, _)| from == "h3" && p == "UDP"),
        "{stateful:?}"
    );
    assert!(
        stateful.iter().all(|(from, _, _)| from == "h3"),
        "{stateful:?}"
    );
    // A port rule: the SYNs to 22 and the datagram to 123 stopped at r1.
    let ports = lost_of("ports");
    assert!(
        ports.iter().filter(|(_, _, l)| l == "SYN").count() >= 2,
        "{ports:?}"
    );
    assert!(ports.iter().any(|(_, p, _)| p == "UDP"), "{ports:?}");
    assert!(ports.iter().all(|(from, _, _)| from == "h1"), "{ports:?}");
    // The ladder marks them, in both languages.
    for lang in ["en", "zh"] {
        let t = stdout(&netlab(&[
            "render",
            run.to_str().unwrap(),
            "--lang",
            lang,
            "--width",
            "80",
            "--brief",
        ]));
        let ladder = t.split("── ").find(|s| s.contains("│")).unwrap_or(&t);
        assert!(ladder.matches('✗').count() >= 3, "{lang}:\n{t}");
    }
}
