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
    assert_eq!(v["schema"], "netlab/1");
    let zh = stdout(&netlab(&["explain", "4", "--lang", "zh"]));
    assert!(zh.contains("笔记纠正"), "{zh}");
}
