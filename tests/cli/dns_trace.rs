//! dns-trace against the built-in lab: every stage, every teaching case.

use super::*;

fn trace(args: &[&str]) -> (Output, Vec<Value>) {
    let mut full = vec!["dns-trace", "--json"];
    full.extend_from_slice(args);
    let o = netlab(&full);
    let lines = json_lines(&o);
    (o, lines)
}

fn summary(lines: &[Value]) -> &Value {
    let last = lines.last().unwrap();
    assert_eq!(last["kind"], "summary", "the last line must be the summary");
    assert!(lines[..lines.len() - 1].iter().all(|l| l["kind"] == "step"));
    last
}

fn exchanges(lines: &[Value]) -> Vec<&Value> {
    lines
        .iter()
        .filter(|l| l["data"]["verdict"].is_string())
        .collect()
}

fn answers(s: &Value) -> Vec<String> {
    s["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["data"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn www_baidu_com_every_stage() {
    let hosts = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        hosts.path(),
        "127.0.0.1 localhost\n203.0.113.99 www.baidu.com # pinned\n",
    )
    .unwrap();
    let (o, lines) = trace(&["www.baidu.com", "--hosts", hosts.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let sections: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["section"]["en"].as_str())
        .collect();
    for stage in ["Stage 1", "Stage 2", "Stage 3", "Stage 4"] {
        assert!(
            sections.iter().any(|s| s.starts_with(stage)),
            "missing {stage}"
        );
    }
    // Stage 1: the hosts line is found and shown.
    let hosts_step = lines
        .iter()
        .find(|l| l["data"]["matches"].is_array())
        .unwrap();
    assert_eq!(hosts_step["data"]["matches"][0]["line"], 2);
    assert_eq!(hosts_step["data"]["matches"][0]["address"], "203.0.113.99");
    assert!(hosts_step["questions"]
        .as_array()
        .unwrap()
        .contains(&"Q28".into()));
    // Stage 2: a real stub lookup (hickory-resolver) whose datagrams are packet
    // records; the same lookup again is answered from its cache with none.
    let stub: Vec<&Value> = lines
        .iter()
        .filter(|l| l["data"]["stub"].is_object())
        .collect();
    assert_eq!(stub.len(), 2, "two stub lookups");
    let first = &stub[0]["data"]["stub"];
    assert_eq!(first["cached"], false);
    assert_eq!(first["records"].as_array().unwrap().len(), 3);
    // The stub's own packets; the resolver's walk between them has its own test.
    let sent: Vec<&Value> = stub[0]["packets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["from"] == "stub" || p["to"] == "stub")
        .collect();
    assert_eq!(first["packets"].as_u64().unwrap() as usize, sent.len());
    assert!(sent.len() >= 2, "the query and its reply: {sent:?}");
    assert_eq!(sent[0]["direction"], "sent");
    assert_eq!(sent[0]["transport"], "udp");
    assert!(sent[0]["label"]["en"]
        .as_str()
        .unwrap()
        .contains("www.baidu.com"));
    assert!(sent.iter().any(|p| p["direction"] == "received"));
    let second = &stub[1]["data"]["stub"];
    assert_eq!(second["cached"], true);
    assert_eq!(second["packets"], 0, "the cache sends nothing");
    assert!(stub[1]["packets"].as_array().is_none_or(|p| p.is_empty()));
    assert!(second["took_us"].as_u64().unwrap() < first["took_us"].as_u64().unwrap());
    assert_eq!(
        stub[0]["data"]["setup"]["servers"][0]
            .as_str()
            .unwrap()
            .split(':')
            .next(),
        Some("127.53.0.53"),
        "pointed at the lab's resolver"
    );
    // Stage 3: asked directly, the resolver answers from the cache stage 2 filled,
    // and its TTL has not grown.
    let rec: Vec<&Value> = lines
        .iter()
        .filter(|l| l["data"]["rcode"].is_string() && l["data"]["truncated_then_tcp"].is_boolean())
        .collect();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0]["data"]["cached"], true);
    let (t1, t2) = (
        rec[0]["data"]["stub_ttl"].as_u64().unwrap(),
        rec[0]["data"]["ttl"].as_u64().unwrap(),
    );
    assert!(t2 <= t1, "the cached TTL counts down: {t1} then {t2}");
    assert_eq!(rec[0]["data"]["rcode"], "NOERROR");
    let flags = rec[0]["packets"][1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "FLAGS")
        .unwrap();
    assert!(flags["value"]["en"].as_str().unwrap().contains("RA=1"));
    // Stage 4 and the summary.
    let s = summary(&lines);
    let mut a = answers(s);
    a.sort();
    assert_eq!(a, ["203.0.113.10", "203.0.113.11"]);
    assert_eq!(s["cname_chain"][0]["name"], "www.baidu.com.");
    assert_eq!(s["cname_chain"][0]["target"], "www.a.shifen.com.");
    assert_eq!(s["rcode"], "NOERROR");
    assert_eq!(s["status"], "answer");
    assert!(s["elapsed_ms"].as_f64().unwrap() > 0.0);
    let servers: Vec<&str> = s["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(servers.len() as u64, s["queries"].as_u64().unwrap());
    let ips: Vec<&str> = servers
        .iter()
        .map(|s| s.split(':').next().unwrap())
        .collect();
    // root, com, baidu.com; then root, com, shifen.com, a.shifen.com after the CNAME
    assert_eq!(
        ips,
        [
            "127.53.0.1",
            "127.53.1.1",
            "127.53.3.1",
            "127.53.0.1",
            "127.53.1.1",
            "127.53.3.11",
            "127.53.3.21"
        ]
    );
}

#[test]
fn referrals_have_the_shape_real_servers_send() {
    let (_, lines) = trace(&["www.baidu.com", "--walk-only"]);
    let ex = exchanges(&lines);
    let root = ex[0];
    assert_eq!(root["data"]["verdict"], "referral");
    assert_eq!(root["data"]["aa"], false, "a referral has AA=0");
    assert!(root["data"]["answer"].as_array().unwrap().is_empty());
    let auth = root["data"]["authority"].as_array().unwrap();
    assert!(auth
        .iter()
        .all(|r| r["type"] == "NS" && r["name"] == "com."));
    let glue: Vec<&str> = root["data"]["additional"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["data"].as_str().unwrap())
        .collect();
    assert_eq!(glue, ["127.53.1.1", "127.53.1.2"]);
    // the byte view of the reply marks the authority and additional records
    let fields = root["packets"][1]["fields"].as_array().unwrap();
    assert!(fields.iter().any(|f| f["name"] == "NS[0]"));
    assert!(fields.iter().any(|f| f["name"] == "AR[1]"));
    let last = fields.last().unwrap()["end"].as_u64().unwrap();
    assert_eq!(
        last as usize,
        root["packets"][1]["hex"].as_str().unwrap().len() / 2,
        "fields cover every byte"
    );
    // the authoritative answer has AA=1
    let final_answer = ex
        .iter()
        .find(|e| e["data"]["verdict"] == "answer")
        .unwrap();
    assert_eq!(final_answer["data"]["aa"], true);
}

#[test]
fn cname_restarts_the_walk_from_the_root() {
    let (_, lines) = trace(&["www.baidu.com", "--walk-only"]);
    let starts: Vec<&Value> = lines
        .iter()
        .filter(|l| l["data"]["roots"].is_array())
        .collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[0]["data"]["via"], Value::Null);
    assert_eq!(starts[1]["data"]["name"], "www.a.shifen.com.");
    assert_eq!(starts[1]["data"]["via"], "www.baidu.com.");
    assert!(starts[1]["correction"]["en"].is_string());
}

#[test]
fn lame_server_is_skipped_for_the_next_of_the_ns_set() {
    let (o, lines) = trace(&["www.flaky.net", "--walk-only", "--timeout", "300ms"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let ex = exchanges(&lines);
    let lame = ex
        .iter()
        .position(|e| {
            e["data"]["server"]
                .as_str()
                .unwrap()
                .starts_with("127.53.4.1:")
        })
        .unwrap();
    assert_eq!(ex[lame]["data"]["verdict"], "no_reply");
    assert_eq!(ex[lame]["data"]["failure"], "timed out");
    assert!(ex[lame + 1]["data"]["server"]
        .as_str()
        .unwrap()
        .starts_with("127.53.4.2:"));
    assert_eq!(ex[lame + 1]["data"]["verdict"], "answer");
    let s = summary(&lines);
    assert_eq!(answers(s), ["198.51.100.30"]);
}

#[test]
fn nxdomain_exits_1_with_the_soa() {
    let (o, lines) = trace(&["nope.baidu.com", "--walk-only"]);
    assert_eq!(o.status.code(), Some(1));
    let s = summary(&lines);
    assert_eq!(s["rcode"], "NXDOMAIN");
    assert_eq!(s["status"], "nxdomain");
    assert_eq!(s["soa"]["type"], "SOA");
    assert_eq!(s["soa"]["name"], "baidu.com.");
    assert!(answers(s).is_empty());
}

#[test]
fn nodata_exits_1() {
    let (o, lines) = trace(&["mx.baidu.com", "--type", "AAAA", "--walk-only"]);
    assert_eq!(o.status.code(), Some(1));
    let s = summary(&lines);
    assert_eq!(s["status"], "nodata");
    assert_eq!(s["rcode"], "NOERROR");
    assert_eq!(s["soa"]["type"], "SOA");
}

#[test]
fn truncated_reply_is_asked_again_over_tcp() {
    let (o, lines) = trace(&["big.baidu.com", "--type", "txt", "--walk-only"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let ex = exchanges(&lines);
    let tc = ex
        .iter()
        .position(|e| e["data"]["verdict"] == "truncated")
        .unwrap();
    assert_eq!(ex[tc]["data"]["transport"], "udp");
    assert_eq!(ex[tc]["data"]["tc"], true);
    assert_eq!(ex[tc + 1]["data"]["transport"], "tcp");
    assert_eq!(ex[tc + 1]["data"]["verdict"], "answer");
    assert_eq!(summary(&lines)["answers"].as_array().unwrap().len(), 6);
}

#[test]
fn three_level_delegation_and_mx() {
    let (_, lines) = trace(&["www.lab.edu.cn", "--walk-only"]);
    let s = summary(&lines);
    assert_eq!(answers(s), ["203.0.113.10"]);
    let zones: Vec<&str> = exchanges(&lines)
        .iter()
        .map(|e| e["data"]["zone"].as_str().unwrap())
        .collect();
    assert_eq!(zones, [".", "cn.", "edu.cn.", "lab.edu.cn."]);
    let (o, lines) = trace(&["baidu.com", "--type", "mx", "--walk-only"]);
    assert_eq!(o.status.code(), Some(0));
    let mut mx = answers(summary(&lines));
    mx.sort();
    assert_eq!(mx, ["10 mx.baidu.com.", "20 mx2.baidu.com."]);
}

#[test]
fn internationalised_names_are_shown_as_punycode() {
    let (o, lines) = trace(&["中文.cn", "--walk-only"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "not in the lab's cn zone: NXDOMAIN"
    );
    assert_eq!(lines[0]["data"]["punycode"]["ascii"], "xn--fiq228c.cn.");
    assert_eq!(summary(&lines)["name"], "xn--fiq228c.cn.");
}

#[test]
fn text_output_in_both_languages_without_colour_when_piped() {
    let en = netlab(&["dns-trace", "www.baidu.com", "--lang", "en"]);
    let t = stdout(&en);
    assert!(
        t.contains("Stage 1") && t.contains("Stage 4") && t.contains("referral to com."),
        "{t}"
    );
    assert!(
        t.contains("QNAME") && t.contains("03 77 77"),
        "byte view present"
    );
    assert!(!t.contains('\x1b'), "no ANSI colour when not a terminal");
    let zh = stdout(&netlab(&["dns-trace", "www.baidu.com", "--lang", "zh"]));
    assert!(zh.contains("阶段 1") && zh.contains("转介到 com."), "{zh}");
    // the language also comes from the locale
    let o = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["dns-trace", "www.baidu.com", "--walk-only"])
        .env("LANG", "zh_CN.UTF-8")
        .env_remove("LC_ALL")
        .output()
        .unwrap();
    assert!(stdout(&o).contains("阶段 4"));
}

#[test]
fn pace_slows_the_steps_down() {
    // Not a timing assertion: --pace must be accepted and the run must still finish correctly.
    let o = netlab(&[
        "dns-trace",
        "www.lab.edu.cn",
        "--walk-only",
        "--pace",
        "1",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(summary(&json_lines(&o))["status"], "answer");
}

#[test]
fn the_pauses_between_steps_are_not_network_time() {
    // --pace 300 pauses 300 ms after each step; the summary times the walk
    // itself, which on loopback takes a few milliseconds.
    let (o, lines) = trace(&["www.lab.edu.cn", "--walk-only", "--pace", "300"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let steps = lines.iter().filter(|l| l["kind"] == "step").count() as f64;
    let s = summary(&lines);
    let ms = s["elapsed_ms"].as_f64().unwrap();
    assert!(
        ms < 300.0 * steps,
        "{ms} ms reported for {steps} steps: the pauses were counted"
    );
    // The text says the same figure.
    let t = stdout(&netlab(&[
        "dns-trace",
        "www.lab.edu.cn",
        "--walk-only",
        "--pace",
        "300",
        "--lang",
        "en",
    ]));
    let line = t.lines().find(|l| l.contains("queries to")).unwrap();
    let reported: f64 = line
        .rsplit(" in ")
        .next()
        .and_then(|x| x.trim().strip_suffix(" ms"))
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(reported < 300.0 * steps, "{line}");
}

#[test]
fn the_deadline_does_not_run_during_the_pauses() {
    // Seven steps at 400 ms each take 2.8 s; the walk itself, well under the
    // 1 s deadline, must not fail for the time the reader was given.
    let (o, lines) = trace(&[
        "www.lab.edu.cn",
        "--walk-only",
        "--pace",
        "400",
        "--deadline",
        "1s",
    ]);
    let s = summary(&lines);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert_eq!(s["status"], "answer", "{s}");
}

#[test]
fn instructor_zone_files_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let zones = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lab/zones");
    for e in std::fs::read_dir(&zones).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    let f = dir.path().join("lab.edu.cn.zone");
    let text = std::fs::read_to_string(&f)
        .unwrap()
        .replace("203.0.113.10", "203.0.113.77");
    std::fs::write(&f, text).unwrap();
    let (o, lines) = trace(&[
        "www.lab.edu.cn",
        "--walk-only",
        "--lab-zones",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(answers(summary(&lines)), ["203.0.113.77"]);
}

#[test]
fn glueless_delegation_looks_up_the_server_first() {
    let (o, lines) = trace(&["www.nic.cn", "--walk-only"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let g = lines
        .iter()
        .position(|l| l["data"]["ns"].is_string())
        .expect("a glueless-lookup step");
    assert_eq!(lines[g]["data"]["ns"], "ns.lab.edu.cn.");
    let cn = exchanges(&lines)
        .into_iter()
        .find(|e| e["data"]["zone"] == "cn.")
        .unwrap();
    assert_eq!(cn["data"]["referral_zone"], "nic.cn.");
    assert!(
        cn["data"]["additional"].as_array().unwrap().is_empty(),
        "no glue"
    );
    assert_eq!(answers(summary(&lines)), ["198.51.100.40"]);
    let servers = summary(&lines)["servers"].as_array().unwrap().len();
    assert!(
        servers >= 7,
        "the server's own address was walked for too: {servers}"
    );
}

fn lab_copy_with(file: &str, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let zones = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lab/zones");
    for e in std::fs::read_dir(&zones).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    let f = dir.path().join(file);
    let text = std::fs::read_to_string(&f).unwrap() + extra;
    std::fs::write(&f, text).unwrap();
    dir
}

#[test]
fn a_cname_loop_ends_with_a_named_cause() {
    let dir = lab_copy_with(
        "baidu.com.zone",
        "loop1 IN CNAME loop2.baidu.com.\nloop2 IN CNAME loop1.baidu.com.\n",
    );
    let (o, lines) = trace(&[
        "loop1.baidu.com",
        "--walk-only",
        "--lab-zones",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let s = summary(&lines);
    assert_eq!(s["status"], "failed");
    assert_eq!(s["rcode"], "SERVFAIL");
    assert!(s["reason"].as_str().unwrap().contains("CNAME loop"), "{s}");
}

#[test]
fn the_whole_trace_deadline_is_kept() {
    // The lame server would hold a query for the full 5 s timeout; the 300 ms deadline cuts it short.
    let (o, lines) = trace(&[
        "www.flaky.net",
        "--walk-only",
        "--timeout",
        "5s",
        "--deadline",
        "300ms",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let s = summary(&lines);
    assert_eq!(s["status"], "failed");
    assert!(s["reason"].as_str().unwrap().contains("deadline"), "{s}");
}

#[test]
fn names_are_case_insensitive_and_keep_the_case_typed() {
    // Every type --type accepts. RFC 4343: the walk, the lab servers, the resolver and its cache all match
    // names without regard to case; what is shown keeps the case the user typed.
    for (name, qtype, count) in [
        ("WWW.Baidu.COM", "A", 2),
        ("Big.BAIDU.com", "TXT", 6),
        ("wWw.BaIdU.cOm", "AAAA", 1),
        ("BAIDU.COM", "MX", 2),
        ("BAIDU.COM", "NS", 2),
        ("WWW.BAIDU.COM", "CNAME", 1),
    ] {
        let (o, lines) = trace(&[name, "--type", qtype]);
        assert_eq!(o.status.code(), Some(0), "{name} {qtype}: {}", stderr(&o));
        let s = summary(&lines);
        assert_eq!(s["status"], "answer", "{name} {qtype}");
        assert_eq!(
            s["answers"].as_array().unwrap().len(),
            count,
            "{name} {qtype}"
        );
        assert_eq!(s["name"], format!("{name}."), "the typed case is kept");
        let stage3 = lines
            .iter()
            .find(|l| l["data"]["truncated_then_tcp"].is_boolean())
            .expect("the resolver was asked");
        assert_eq!(stage3["data"]["rcode"], "NOERROR", "{name} {qtype}");
        assert!(
            stage3["facts"].as_array().is_some_and(|f| !f.is_empty()),
            "the resolver answered {name}"
        );
    }
}

/// Stage 2's step: the packets of the stub's first lookup.
fn stub_step(lines: &[Value]) -> &Value {
    lines
        .iter()
        .find(|l| l["data"]["stub"]["lookup"] == 1)
        .expect("stage 2's first lookup")
}

#[test]
fn the_resolvers_own_walk_is_recorded_in_stage_2() {
    let (o, lines) = trace(&["www.baidu.com", "--hosts", "/dev/null"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let step = stub_step(&lines);
    let packets = step["packets"].as_array().unwrap();
    let ends = |p: &Value| {
        format!(
            "{} → {}",
            p["from"].as_str().unwrap(),
            p["to"].as_str().unwrap()
        )
    };
    // The stub's query first, then the resolver's walk, then the reply to the stub.
    assert_eq!(ends(&packets[0]), "stub → resolver");
    assert_eq!(ends(packets.last().unwrap()), "resolver → stub");
    let walk: Vec<String> = packets[1..packets.len() - 1].iter().map(ends).collect();
    assert_eq!(
        walk,
        [
            "resolver → root",
            "root → resolver",
            "resolver → com.",
            "com. → resolver",
            "resolver → baidu.com.",
            "baidu.com. → resolver",
            "resolver → root",
            "root → resolver",
            "resolver → com.",
            "com. → resolver",
            "resolver → shifen.com.",
            "shifen.com. → resolver",
            "resolver → a.shifen.com.",
            "a.shifen.com. → resolver",
        ],
        "the resolver's walk on its miss, query and reply for each zone"
    );
    for p in &packets[1..packets.len() - 1] {
        assert_eq!(p["transport"], "udp");
        assert!(
            p["hex"].as_str().unwrap().len() / 2 > 12,
            "a DNS message: {p}"
        );
        assert!(!p["fields"].as_array().unwrap().is_empty(), "{p}");
        let rd = p["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "FLAGS")
            .unwrap();
        assert!(
            rd["value"]["en"].as_str().unwrap().contains("RD=0"),
            "a resolver walks with RD=0: {p}"
        );
    }
    let w = &step["data"]["resolver_walk"];
    assert_eq!(w["queries"], 7);
    assert_eq!(
        w["zones"],
        serde_json::json!([".", "com.", "baidu.com.", "shifen.com.", "a.shifen.com."])
    );
    // The same participant ids as stage 4's walk, which netlab makes itself.
    let stage4: std::collections::BTreeSet<String> = exchanges(&lines)
        .iter()
        .flat_map(|l| l["packets"].as_array().unwrap())
        .map(|p| p["to"].as_str().unwrap().to_string())
        .collect();
    let stage2: std::collections::BTreeSet<String> = packets[1..packets.len() - 1]
        .iter()
        .map(|p| p["to"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stage2, stage4);
    // Stage 3 found the answer in the cache: no walk there.
    let rec = lines
        .iter()
        .find(|l| l["data"]["truncated_then_tcp"].is_boolean())
        .unwrap();
    assert_eq!(rec["data"]["cached"], true);
    assert!(rec["data"]["resolver_walk"].is_null());
    assert_eq!(rec["packets"].as_array().unwrap().len(), 2);
    // The default text view folds the walk into one line, in both languages.
    for (lang, words) in [("en", "walked: 7 queries"), ("zh", "逐级查询了 7 次")] {
        let t = stdout(&netlab(&[
            "dns-trace",
            "www.baidu.com",
            "--hosts",
            "/dev/null",
            "--lang",
            lang,
        ]));
        let stage2 = t
            .split("── ")
            .find(|s| s.contains("stub") || s.contains("存根"))
            .unwrap();
        assert_eq!(stage2.matches(words).count(), 1, "{lang}:\n{stage2}");
        assert!(stage2.contains("--bytes"), "{lang}:\n{stage2}");
        assert!(
            !stage2.contains("→ sent to") && !stage2.contains("→ 发往"),
            "{lang}: the walk's packets are not listed by default:\n{stage2}"
        );
    }
}

#[test]
fn the_stubs_tcp_retry_after_tc_is_recorded() {
    // The lab's stub asks without EDNS, as glibc does: the six TXT records do
    // not fit 512 bytes, so the reply is truncated and the stub asks over TCP.
    let (o, lines) = trace(&["big.baidu.com", "--type", "txt", "--hosts", "/dev/null"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let step = stub_step(&lines);
    let stub: Vec<(&str, &str, &str)> = step["packets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["from"] == "stub" || p["to"] == "stub")
        .map(|p| {
            (
                p["from"].as_str().unwrap(),
                p["transport"].as_str().unwrap(),
                p["label"]["en"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(stub.len(), 4, "{stub:?}");
    assert_eq!(stub[0].0, "stub");
    assert_eq!(stub[0].1, "udp");
    assert_eq!((stub[1].0, stub[1].1), ("resolver", "udp"));
    assert!(stub[1].2.contains("TC=1"), "{stub:?}");
    assert_eq!((stub[2].0, stub[2].1), ("stub", "tcp"));
    assert_eq!((stub[3].0, stub[3].1), ("resolver", "tcp"));
    assert_eq!(step["data"]["stub"]["packets"], 4);
    assert_eq!(step["data"]["stub"]["records"].as_array().unwrap().len(), 6);
    // The resolver's own walk met the same truncation at baidu.com.'s server.
    let walk_tcp = step["packets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["from"] == "resolver" && p["to"] == "baidu.com." && p["transport"] == "tcp")
        .count();
    assert_eq!(walk_tcp, 1, "the resolver asked baidu.com. again over TCP");
}

#[test]
fn every_packet_record_is_in_wire_order() {
    for args in [
        vec!["www.baidu.com", "--hosts", "/dev/null"],
        vec!["big.baidu.com", "--type", "txt", "--hosts", "/dev/null"],
    ] {
        let (o, lines) = trace(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let at: Vec<u64> = lines
            .iter()
            .flat_map(|l| l["packets"].as_array().cloned().unwrap_or_default())
            .map(|p| p["at_us"].as_u64().expect("every packet has its time"))
            .collect();
        assert!(at.len() >= 20, "{args:?}: {} packets", at.len());
        for w in at.windows(2) {
            assert!(w[0] <= w[1], "{args:?}: {} then {}: {at:?}", w[0], w[1]);
        }
    }
}

/// The text view's packet headings (`→ sent to udp …`, `← received from …`).
fn packet_heads(text: &str) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_start();
            t.starts_with("→ ") || t.starts_with("← ") || t.starts_with("⇄ ")
        })
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn bytes_shows_the_byte_table_of_every_packet() {
    let args = [
        "dns-trace",
        "www.baidu.com",
        "--hosts",
        "/dev/null",
        "--width",
        "100",
    ];
    let plain = stdout(&netlab(&args));
    let mut with = args.to_vec();
    with.push("--bytes");
    let bytes = stdout(&netlab(&with));
    assert!(
        bytes.lines().count() > plain.lines().count() * 3,
        "--bytes is much longer: {} lines against {}",
        bytes.lines().count(),
        plain.lines().count()
    );
    let (_, lines) = trace(&["www.baidu.com", "--hosts", "/dev/null"]);
    let records: usize = lines
        .iter()
        .map(|l| l["packets"].as_array().map_or(0, Vec::len))
        .sum();
    let all: Vec<&str> = bytes.lines().collect();
    let heads = packet_heads(&bytes);
    // Every record, and the default view's second looks at a referral (echoes).
    assert!(
        heads.len() >= records,
        "{} packet headings for {records} records:\n{bytes}",
        heads.len()
    );
    for i in heads {
        let next = all.get(i + 1).map_or("", |l| l.trim_start());
        assert!(
            next.starts_with("0..2 "),
            "a byte table under every packet, from its first field:\n{}\n{next}",
            all[i]
        );
    }
}

/// What a line of the record is, without its prose and measurements: its
/// kind, number, questions, data keys, participant ids and packets' ends.
fn shape(line: &Value) -> Value {
    let v = without_text(line);
    let keys = |o: &Value| -> Vec<String> {
        o.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let own = SUMMARY_OWN;
    let summary_keys: Vec<String> = if v["kind"] == "summary" {
        keys(&v)
            .into_iter()
            .filter(|k| !own.contains(&k.as_str()))
            .collect()
    } else {
        Vec::new()
    };
    serde_json::json!({
        "kind": v["kind"],
        "number": v["number"],
        "section": line["section"]["en"],
        "questions": v["questions"],
        "data": keys(&v["data"]),
        "summary": summary_keys,
        "participants": v["participants"]
            .as_array()
            .map(|ps| ps.iter().map(|p| p["id"].clone()).collect::<Vec<_>>()),
        "packets": v["packets"].as_array().map(|ps| ps
            .iter()
            .map(|p| serde_json::json!([p["from"], p["to"], p["protocol"], p["direction"], p["transport"], p["echo"]]))
            .collect::<Vec<_>>()),
    })
}

#[test]
fn the_record_is_the_same_in_either_language() {
    // A script grading a Chinese student's run reads what it reads in an
    // English one's: the language changes prose only, never ids or keys.
    let run = |lang: &str| {
        let (o, lines) = trace(&["www.baidu.com", "--hosts", "/dev/null", "--lang", lang]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        lines
    };
    let (en, zh) = (run("en"), run("zh"));
    assert_eq!(en.len(), zh.len());
    for (a, b) in en.iter().zip(&zh) {
        assert_eq!(shape(a), shape(b), "en:\n{a}\nzh:\n{b}");
    }
    // The summary's result is the same record.
    let s = |l: &[Value]| {
        let mut v = without_text(l.last().unwrap());
        v["elapsed_ms"] = Value::Null;
        // The lab's port is chosen per run.
        for a in v["servers"].as_array_mut().unwrap() {
            *a = a.as_str().unwrap().split(':').next().unwrap().into();
        }
        v
    };
    assert_eq!(s(&en), s(&zh));
}

#[test]
fn every_participant_is_named_in_both_languages() {
    // The ladder's and the page's columns: stub, resolver, root and each zone's
    // servers, each given its label on the first step whose packets use it.
    let (_, lines) = trace(&["www.baidu.com", "--hosts", "/dev/null"]);
    let mut labels: std::collections::BTreeMap<String, Value> = Default::default();
    for l in &lines {
        for p in l["participants"].as_array().into_iter().flatten() {
            let id = p["id"].as_str().unwrap().to_string();
            assert!(
                labels.insert(id.clone(), p["label"].clone()).is_none(),
                "{id} labelled twice"
            );
        }
        for p in l["packets"].as_array().into_iter().flatten() {
            for end in [&p["from"], &p["to"]] {
                let id = end.as_str().unwrap();
                assert!(
                    labels.contains_key(id),
                    "{id} is used before its label is given: step {}",
                    l["number"]
                );
            }
        }
    }
    for (id, zh) in [
        ("stub", "存根解析器"),
        ("resolver", "递归服务器"),
        ("root", "根服务器"),
    ] {
        assert_eq!(labels[id]["en"], id);
        assert_eq!(labels[id]["zh"], zh, "{id}");
    }
    // A zone's servers are called by the zone's name in both languages.
    assert_eq!(labels["com."]["zh"], "com.");
    // The Chinese ladder names its columns in Chinese.
    let t = stdout(&netlab(&[
        "dns-trace",
        "www.baidu.com",
        "--hosts",
        "/dev/null",
        "--lang",
        "zh",
        "--width",
        "120",
    ]));
    let ladder = t.split("── ").find(|s| s.contains("│")).unwrap();
    let head = ladder.lines().take(3).collect::<Vec<_>>().join("\n");
    assert!(
        head.contains("存根") && head.contains("根服务器"),
        "the Chinese ladder's columns:\n{head}"
    );
    assert!(!head.contains("stub"), "{head}");
}

#[test]
fn the_lab_servers_are_a_typed_list_without_padding() {
    let (_, lines) = trace(&["www.baidu.com", "--walk-only"]);
    let intro = &lines[0]["data"];
    let servers = intro["servers"].as_array().unwrap();
    assert!(servers.len() >= 20, "{intro}");
    let root = &servers[0];
    let addr: std::net::SocketAddr = root["address"].as_str().unwrap().parse().unwrap();
    assert_eq!(addr.port() as u64, intro["port"].as_u64().unwrap());
    // The root servers serve arpa. too, as the real ones do (reverse lookups).
    assert_eq!(root["zones"], serde_json::json!([".", "arpa."]));
    assert!(
        servers
            .iter()
            .any(|s| s["misbehaves"] == "silent" && s["zones"][0] == "flaky.net."),
        "the misbehaving servers say how: {intro}"
    );
    // No value of the record is padded for alignment, facts included.
    fn strings(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            Value::Object(m) => m.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }
    for l in &lines {
        let mut all = Vec::new();
        strings(&l["data"], &mut all);
        for f in l["facts"].as_array().into_iter().flatten() {
            strings(&f["value"], &mut all);
        }
        for s in all {
            assert!(
                s == s.trim() && !s.contains("  "),
                "a padded value: {s:?} in step {}",
                l["number"]
            );
        }
    }
}

/// A hosts file that maps localhost, as every system's does.
fn localhost_hosts() -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        f.path(),
        "127.0.0.1 localhost\n::1 localhost ip6-localhost\n",
    )
    .unwrap();
    f
}

#[test]
fn localhost_is_answered_by_the_stub_itself_with_no_packet() {
    // hickory-resolver answers localhost itself (RFC 6761): stage 2 must not
    // say the stub asked the lab's resolver.
    let hosts = localhost_hosts();
    let (o, lines) = trace(&["localhost", "--hosts", hosts.path().to_str().unwrap()]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
    let first = stub_step(&lines);
    let stub = &first["data"]["stub"];
    assert_eq!(stub["packets"], 0, "{first}");
    assert_eq!(stub["answered_by"], "itself");
    assert_eq!(
        stub["cached"], false,
        "not from a cache: nothing was cached"
    );
    assert!(first["packets"].as_array().is_none_or(|p| p.is_empty()));
    let title = first["title"]["en"].as_str().unwrap();
    assert!(
        title.contains("itself") && !title.contains("asks"),
        "{title}"
    );
    assert!(first["title"]["zh"].as_str().unwrap().contains("自己回答"));
    let again = lines
        .iter()
        .find(|l| l["data"]["stub"]["lookup"] == 2)
        .unwrap();
    assert_eq!(again["data"]["stub"]["answered_by"], "itself");
    assert!(
        !again["title"]["en"].as_str().unwrap().contains("cache"),
        "{}",
        again["title"]
    );
    // An ordinary name: the stub asked, and the repeat came from its cache.
    let (_, lines) = trace(&["www.baidu.com", "--hosts", "/dev/null"]);
    assert_eq!(stub_step(&lines)["data"]["stub"]["answered_by"], "network");
    let again = lines
        .iter()
        .find(|l| l["data"]["stub"]["lookup"] == 2)
        .unwrap();
    assert_eq!(again["data"]["stub"]["answered_by"], "cache");
    assert_eq!(again["data"]["stub"]["cached"], true);
}

#[test]
fn the_hosts_file_answers_first_when_nsswitch_reads_it_first() {
    // As getaddrinfo does with `hosts: files … dns`: the hosts line is the
    // answer, whatever DNS says (the lab's root says NXDOMAIN for localhost).
    let hosts = localhost_hosts();
    let (o, lines) = trace(&["localhost", "--hosts", hosts.path().to_str().unwrap()]);
    let step1 = lines
        .iter()
        .find(|l| l["data"]["matches"].is_array())
        .unwrap();
    let nsswitch = std::fs::read_to_string("/etc/nsswitch.conf").ok();
    let line = nsswitch.as_deref().and_then(|t| {
        t.lines()
            .find(|l| l.trim_start().starts_with("hosts:"))
            .map(str::trim)
    });
    let files_first = netlab::host::files_before_dns(line);
    assert_eq!(step1["data"]["files_first"], files_first);
    let s = summary(&lines);
    assert_eq!(s["status"], "nxdomain", "what DNS alone says: {s}");
    if files_first {
        assert_eq!(o.status.code(), Some(0), "{s}");
        assert_eq!(s["ok"], true);
        assert_eq!(s["answer_from"], "hosts");
        assert_eq!(s["hosts"]["address"], "127.0.0.1");
        assert_eq!(s["hosts"]["line"], 1);
        assert_eq!(step1["data"]["answer"]["address"], "127.0.0.1");
        let title = s["title"]["en"].as_str().unwrap();
        assert!(
            title.contains("127.0.0.1") && !title.contains("NXDOMAIN"),
            "{title}"
        );
        assert!(s["lines"][0]["en"].as_str().unwrap().contains("NXDOMAIN"));
    } else {
        assert_eq!(s["answer_from"], "dns");
        assert_eq!(o.status.code(), Some(1));
    }
    // AAAA takes the IPv6 line; MX is not in a hosts file at all.
    let (_, lines) = trace(&[
        "localhost",
        "--type",
        "AAAA",
        "--hosts",
        hosts.path().to_str().unwrap(),
    ]);
    if files_first {
        assert_eq!(summary(&lines)["hosts"]["address"], "::1");
    }
    let pinned = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pinned.path(), "203.0.113.99 baidu.com\n").unwrap();
    let (o, lines) = trace(&[
        "baidu.com",
        "--type",
        "MX",
        "--hosts",
        pinned.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let s = summary(&lines);
    assert_eq!(s["answer_from"], "dns", "a hosts file holds no MX: {s}");
    let step1 = lines
        .iter()
        .find(|l| l["data"]["matches"].is_array())
        .unwrap();
    assert!(step1["data"]["answer"].is_null());
    assert!(
        step1["detail"]["en"]
            .as_str()
            .unwrap()
            .contains("addresses only"),
        "{step1}"
    );
}

#[test]
fn stage_3_says_why_the_cache_missed_and_negative_answers_are_kept() {
    // localhost: stage 2 never asked the resolver (the stub answered itself),
    // so stage 3's miss is not "a failure is not kept", and stage 2's TTL is
    // not compared with an unrelated one.
    let hosts = localhost_hosts();
    let (_, lines) = trace(&["localhost", "--hosts", hosts.path().to_str().unwrap()]);
    let rec = lines
        .iter()
        .find(|l| l["data"]["truncated_then_tcp"].is_boolean())
        .unwrap();
    assert_eq!(rec["data"]["cached"], false);
    assert!(rec["data"]["stub_ttl"].is_null(), "{rec}");
    let detail = rec["detail"]["en"].as_str().unwrap();
    assert!(
        detail.contains("never asked") && !detail.contains("failure is not kept"),
        "{detail}"
    );
    assert!(
        !detail.contains("TTL"),
        "no TTL of the stub's to compare: {detail}"
    );
    // A name that does not exist: stage 2's walk got NXDOMAIN, the resolver
    // kept it (RFC 2308), and stage 3 says so, as the walk's NXDOMAIN step does.
    let (_, lines) = trace(&["nope.baidu.com", "--hosts", "/dev/null"]);
    let rec = lines
        .iter()
        .find(|l| l["data"]["truncated_then_tcp"].is_boolean())
        .unwrap();
    assert_eq!(rec["data"]["rcode"], "NXDOMAIN");
    assert_eq!(rec["data"]["cached"], true, "a 'no' is cached too");
    assert!(
        rec["detail"]["en"].as_str().unwrap().contains("RFC 2308"),
        "{}",
        rec["detail"]
    );
    let nx = exchanges(&lines)
        .into_iter()
        .find(|e| e["data"]["verdict"] == "nxdomain")
        .unwrap();
    assert!(nx["detail"]["en"].as_str().unwrap().contains("RFC 2308"));
}

#[test]
fn no_step_promises_a_cdn_or_load_balancing() {
    // A CNAME and two A records show neither a CDN (Q30) nor load balancing
    // (Q35); the summary lists exactly the questions its steps showed.
    let (_, lines) = trace(&["www.baidu.com"]);
    let mut shown = std::collections::BTreeSet::new();
    for l in &lines[..lines.len() - 1] {
        for q in l["questions"].as_array().unwrap() {
            let q = q.as_str().unwrap();
            assert!(!["Q30", "Q35"].contains(&q), "step {}: {q}", l["number"]);
            shown.insert(q.to_string());
        }
    }
    let listed: std::collections::BTreeSet<String> = summary(&lines)["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q.as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, shown);
    // --walk-only shows no hosts file: its summary does not claim Q28.
    let (_, lines) = trace(&["www.baidu.com", "--walk-only"]);
    assert!(!summary(&lines)["questions"]
        .as_array()
        .unwrap()
        .contains(&"Q28".into()));
    let v: Value = serde_json::from_str(&stdout(&netlab(&["questions", "--json"]))).unwrap();
    for q in v.as_array().unwrap() {
        if ["Q30", "Q35"].contains(&q["id"].as_str().unwrap()) {
            assert!(
                !q["demos"].as_array().unwrap().contains(&"dns-trace".into()),
                "{q}"
            );
        }
    }
}

#[test]
fn each_line_keeps_one_style_of_punctuation() {
    // Chinese lines use full-width punctuation (，：；), English lines ASCII;
    // code in backticks and the byte view's hex are left alone.
    let hosts = localhost_hosts();
    let h = hosts.path().to_str().unwrap();
    for args in [
        vec!["www.baidu.com", "--hosts", "/dev/null"],
        vec!["localhost", "--hosts", h],
        vec!["www.nic.cn", "--hosts", "/dev/null"],
        vec!["nope.baidu.com", "--hosts", "/dev/null"],
        vec!["big.baidu.com", "--type", "TXT", "--hosts", "/dev/null"],
    ] {
        for lang in ["zh", "en"] {
            let mut a = vec!["dns-trace"];
            a.extend_from_slice(&args);
            a.extend_from_slice(&["--lang", lang, "--width", "500"]);
            let t = stdout(&netlab(&a));
            for line in t.lines().filter(|l| !l.contains('│')) {
                let mut plain = String::new();
                for (i, part) in line.split('`').enumerate() {
                    if i % 2 == 0 {
                        plain.push_str(part);
                    }
                }
                let cjk = plain
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
                if lang == "zh" && cjk {
                    for ascii in [", ", ": ", "; "] {
                        assert!(!plain.contains(ascii), "{args:?} zh: {ascii:?} in\n{line}");
                    }
                }
                if lang == "en" {
                    assert!(
                        !plain.contains(['，', '：', '；', '（', '）']),
                        "{args:?} en:\n{line}"
                    );
                }
            }
        }
    }
}
