//! `netlab questions` and `netlab explain`.

use super::*;

#[test]
fn questions_json_is_one_array_q1_to_q39() {
    let o = netlab(&["questions", "--json"]);
    assert!(o.status.success());
    let v: Value = serde_json::from_str(&stdout(&o)).expect("one JSON document");
    let arr = v.as_array().expect("an array");
    let ids: Vec<&str> = arr.iter().map(|q| q["id"].as_str().unwrap()).collect();
    let want: Vec<String> = (1..=39).map(|i| format!("Q{i}")).collect();
    assert_eq!(ids, want);
    for q in arr {
        assert!(q["title_zh"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(q["title_en"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(q["demos"].is_array());
    }
    let q4 = &arr[3];
    assert_eq!(q4["demos"][0], "dns-trace");
}

#[test]
fn titles_are_quoted_from_the_notes() {
    // The seed notes sit beside the repository in ../shared (also in CI).
    let seed = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/seed/000_317da7f68e839922.txt");
    if !require("the seed notes ../shared/seed", seed.exists()) {
        return;
    }
    let notes = std::fs::read_to_string(seed).unwrap();
    let v: Value = serde_json::from_str(&stdout(&netlab(&["questions", "--json"]))).unwrap();
    for q in v.as_array().unwrap() {
        let t = q["title_zh"].as_str().unwrap();
        assert!(
            notes.contains(t),
            "{} title not found in the notes: {t}",
            q["id"]
        );
    }
}

#[test]
fn questions_text_follows_lang() {
    let zh = stdout(&netlab(&["questions", "--lang", "zh"]));
    assert!(zh.contains("Q4") && zh.contains("DNS是什么"));
    let en = stdout(&netlab(&["questions", "--lang", "en"]));
    assert!(en.contains("What is DNS"));
    assert_eq!(en.lines().filter(|l| l.starts_with('Q')).count(), 39);
}

#[test]
fn explain_prints_answer_and_correction() {
    let o = netlab(&["explain", "Q10", "--lang", "en"]);
    assert!(o.status.success());
    let s = stdout(&o);
    assert!(
        s.contains("Correcting the notes") && s.contains("protocol 1"),
        "{s}"
    );
    let o = netlab(&["explain", "q4", "--json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["id"], "Q4");
    assert_eq!(v["schema"], "netlab/2");
    let zh = stdout(&netlab(&["explain", "4", "--lang", "zh"]));
    assert!(zh.contains("笔记纠正"), "{zh}");
}

/// The questions a demo answers, from the catalogue.
fn catalogue_demos() -> std::collections::BTreeMap<String, Vec<String>> {
    let v: Value = serde_json::from_str(&stdout(&netlab(&["questions", "--json"]))).unwrap();
    let mut m: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for q in v.as_array().unwrap() {
        for d in q["demos"].as_array().unwrap() {
            m.entry(d.as_str().unwrap().to_string())
                .or_default()
                .push(q["id"].as_str().unwrap().to_string());
        }
    }
    m
}

/// The Q-ids in a piece of text, in order.
fn ids(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() > 1 && w.starts_with('Q') && w[1..].chars().all(|c| c.is_ascii_digit()))
        .map(str::to_string)
        .collect()
}

#[test]
fn help_questions_and_docs_agree_on_each_demo() {
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/questions.md"),
    )
    .unwrap();
    for (demo, qs) in catalogue_demos() {
        let help = stdout(&netlab(&[&demo, "--help"]));
        let about = help.split("\n\n").next().unwrap();
        assert_eq!(
            ids(about),
            qs,
            "{demo} --help names other questions:\n{about}"
        );
        let row = docs
            .lines()
            .find(|l| l.starts_with(&format!("| `{demo}` |")))
            .unwrap_or_else(|| panic!("docs/questions.md has no row for {demo}"));
        let listed = row.split('|').nth(2).unwrap();
        assert_eq!(ids(listed), qs, "docs/questions.md row for {demo}");
    }
}

#[test]
fn a_correction_only_where_the_notes_answered_and_never_a_quote() {
    let v: Value = serde_json::from_str(&stdout(&netlab(&["questions", "--json"]))).unwrap();
    for q in v.as_array().unwrap() {
        let id = q["id"].as_str().unwrap();
        if ["Q14", "Q19"].contains(&id) {
            assert!(
                q["correction_en"].is_null(),
                "{id}: the notes give no answer to correct"
            );
        }
        for k in ["correction_en", "correction_zh"] {
            if let Some(c) = q[k].as_str() {
                // Quotation marks would mean a sentence of the notes is quoted.
                assert!(
                    !c.contains('「') && !c.contains(" '") && !c.contains('"'),
                    "{id} {k} quotes the notes: {c}"
                );
            }
        }
    }
}

#[test]
fn a_run_tags_only_the_questions_its_demo_answers() {
    use std::collections::{BTreeMap, BTreeSet};
    let m = catalogue_demos();
    // Each demo's first run here is its default run (options that only make
    // it shorter keep its steps): `explain` names its steps.
    let mut runs = vec![
        vec!["dns-trace", "www.baidu.com"],
        vec!["dns-trace", "big.baidu.com", "--type", "TXT"],
        vec!["sticky-packet"],
        vec!["io-mux", "--conns", "10,1100", "--clients", "50"],
        vec!["ipc", "--round-trips", "3"],
        vec!["concurrency", "--n", "20"],
        vec!["async", "--conns", "200", "--reads", "20"],
    ];
    if privileged() {
        runs.extend([
            vec!["arp-table"],
            vec!["ping"],
            vec!["tcp-vs-udp", "--bulk", "1"],
            vec!["url"],
            vec!["traceroute"],
            vec!["firewall"],
            vec!["failover"],
            vec!["cdn"],
            vec!["load-balance"],
            vec!["rpc"],
            vec!["producer-consumer"],
        ]);
    }
    let mut used: BTreeMap<&str, BTreeSet<String>> = Default::default();
    // question → demo → the steps of the demo's first run that show it
    let mut steps: BTreeMap<String, BTreeMap<String, Vec<u64>>> = Default::default();
    let mut first: BTreeSet<&str> = Default::default();
    for args in &runs {
        let mut a = args.clone();
        a.push("--json");
        let o = netlab(&a);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let is_first = first.insert(args[0]);
        for l in &json_lines(&o) {
            for q in l["questions"].as_array().unwrap() {
                let q = q.as_str().unwrap().to_string();
                assert!(
                    m[args[0]].contains(&q),
                    "{args:?} tags {q}, which its --help does not name: step {}",
                    l["title"]
                );
                // A later run of the same demo names a question its
                // default run does not show by its whole command line.
                let key = if is_first {
                    args[0].to_string()
                } else {
                    args.join(" ")
                };
                let shown_by_default =
                    !is_first && steps.get(&q).is_some_and(|d| d.contains_key(args[0]));
                if let (false, Some(n)) = (shown_by_default, l["number"].as_u64()) {
                    steps
                        .entry(q.clone())
                        .or_default()
                        .entry(key)
                        .or_default()
                        .push(n);
                }
                used.entry(args[0]).or_default().insert(q);
            }
        }
    }
    // Between them, a demo's runs show every question its --help names.
    for (demo, qs) in &used {
        let missing: Vec<&String> = m[*demo].iter().filter(|q| !qs.contains(*q)).collect();
        assert!(missing.is_empty(), "{demo} never shows {missing:?}");
    }
    // The steps `explain` names are the ones these runs tagged.
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/questions/steps.json");
    if std::env::var("NETLAB_BLESS").is_ok_and(|v| v == "1") && privileged() {
        for v in steps.values_mut().flat_map(|d| d.values_mut()) {
            v.dedup();
        }
        // One line a question, by number.
        let mut ids: Vec<&String> = steps.keys().collect();
        ids.sort_by_key(|q| q[1..].parse::<u32>().unwrap_or(0));
        let lines: Vec<String> = ids
            .iter()
            .map(|q| format!("  {:?}: {}", q, serde_json::to_string(&steps[*q]).unwrap()))
            .collect();
        std::fs::write(&file, format!("{{\n{}\n}}\n", lines.join(",\n"))).unwrap();
    }
    let saved: BTreeMap<String, BTreeMap<String, Vec<u64>>> =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    for (q, demos) in &saved {
        for (demo, listed) in demos {
            let name = demo.split(' ').next().unwrap_or_default();
            if !first.contains(name) {
                continue;
            }
            let seen = steps
                .get(q)
                .and_then(|d| d.get(demo))
                .cloned()
                .unwrap_or_default();
            for n in listed {
                assert!(
                    seen.contains(n),
                    "steps.json says step {n} of {demo} shows {q}; this run's steps showing it: {seen:?} (NETLAB_BLESS=1 cargo test --test cli a_run_tags_only_the_questions_its_demo_answers)"
                );
            }
        }
    }
    if privileged() {
        // Every question a demo shows has its steps named.
        for (q, demos) in &steps {
            for demo in demos.keys() {
                assert!(
                    saved.get(q).is_some_and(|d| d.contains_key(demo)),
                    "steps.json lacks {q} in {demo} (NETLAB_BLESS=1 cargo test --test cli a_run_tags_only_the_questions_its_demo_answers)"
                );
            }
        }
    }
}

#[test]
fn the_questions_answered_live_are_marked_so() {
    // Issue I's list, and the demos that answer each one with real packets.
    let v: Value = serde_json::from_str(&stdout(&netlab(&["questions", "--json"]))).unwrap();
    let demos = |id: &str| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .find(|q| q["id"] == id)
            .unwrap()["demos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect()
    };
    for (id, demo) in [
        ("Q1", "url"),
        ("Q2", "url"),
        ("Q3", "url"),
        ("Q11", "traceroute"),
        ("Q15", "io-mux"),
        ("Q16", "firewall"),
        ("Q17", "io-mux"),
        ("Q25", "io-mux"),
        ("Q29", "producer-consumer"),
        ("Q22", "ipc"),
    ] {
        assert!(
            demos(id).contains(&demo.to_string()),
            "{id}: {:?}",
            demos(id)
        );
    }
    // The text list shows the mark: the demo to run beside the title.
    let en = stdout(&netlab(&["questions", "--lang", "en", "--width", "500"]));
    let q17 = en.lines().find(|l| l.starts_with("Q17 ")).unwrap();
    assert!(q17.contains("netlab io-mux"), "{q17}");
    let live = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| !q["demos"].as_array().unwrap().is_empty())
        .count();
    assert!(live >= 21, "{live} of 39 answered live");
}

#[test]
fn explain_corrects_the_osi_and_geography_slips() {
    // The notes call TCP and UDP protocols "of the OSI model" (Q9) and say an
    // IP address follows geography (Q6).
    let q9 = stdout(&netlab(&[
        "explain", "Q9", "--lang", "en", "--width", "500",
    ]));
    assert!(
        q9.contains("TCP/IP suite") && q9.contains("reference model"),
        "{q9}"
    );
    let q9 = stdout(&netlab(&[
        "explain", "Q9", "--lang", "zh", "--width", "500",
    ]));
    assert!(
        q9.contains("TCP/IP 协议族") && q9.contains("参考模型"),
        "{q9}"
    );
    let q6: Value = serde_json::from_str(&stdout(&netlab(&["explain", "Q6", "--json"]))).unwrap();
    let c = q6["correction_en"]
        .as_str()
        .unwrap_or_else(|| panic!("{q6}"));
    assert!(c.contains("topology") && c.contains("geolocation"), "{c}");
    let q6 = stdout(&netlab(&[
        "explain", "Q6", "--lang", "zh", "--width", "500",
    ]));
    assert!(q6.contains("网络拓扑") && q6.contains("不是按地域"), "{q6}");
}
