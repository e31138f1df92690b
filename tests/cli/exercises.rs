//! `netlab exercise` and `netlab check`: every exercise in examples/ passes on
//! a real run of its demo and fails, with its sentence in English and Chinese,
//! on a run of another demo; bad exercise files and inputs that are not a
//! record exit 2 with the line and the reason.
//!
//! Each demo runs once (with its shortest options the exercises allow), and
//! that run serves all of its exercises and the next demo's exercise.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::{netlab, privileged, stderr, stdout};
use netlab::exercise::{Exercise, BUILTIN};

/// A demo's run saved with --json, as a student would hand it in.
fn saved_run(args: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let mut all = args.to_vec();
    all.push("--json");
    let o = netlab(&all);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        stderr(&o)
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.jsonl");
    std::fs::write(&path, &o.stdout).unwrap();
    (dir, path)
}

fn check(exercise: &str, run: &Path, lang: &str) -> Output {
    netlab(&["check", exercise, run.to_str().unwrap(), "--lang", lang])
}

/// The exercises of a demo, by name.
fn exercises_of(demo: &str) -> Vec<&'static str> {
    BUILTIN
        .iter()
        .filter(|(n, _)| Exercise::builtin(n).unwrap().unwrap().demo == demo)
        .map(|(n, _)| *n)
        .collect()
}

/// The first exercise of the demo after this one in the built-in list (a
/// different demo, so its exercise must fail on this run).
fn next_demos_exercise(demo: &str) -> (&'static str, String) {
    let i = BUILTIN.iter().position(|(n, _)| *n == demo).unwrap();
    let (n, _) = BUILTIN[(i + 1) % BUILTIN.len()];
    let other = Exercise::builtin(n).unwrap().unwrap().demo;
    assert_ne!(other, demo);
    (n, other)
}

/// Run `demo` once; every exercise of it passes, and the next demo's fails
/// with the sentence naming both demos, in both languages.
fn passes_and_the_next_fails(demo: &str, args: &[&str]) {
    let mut all = vec![demo];
    all.extend_from_slice(args);
    let (_dir, run) = saved_run(&all);
    let mine = exercises_of(demo);
    assert!(!mine.is_empty(), "no exercise for {demo}");
    for ex in mine {
        let o = check(ex, &run, "en");
        let text = stdout(&o);
        assert_eq!(o.status.code(), Some(0), "{ex}:\n{text}{}", stderr(&o));
        assert!(!text.contains('✗'), "{text}");
        assert!(text.contains("✓ this is a run of"), "{text}");
    }
    let (ex, other) = next_demos_exercise(demo);
    let en = check(ex, &run, "en");
    assert_eq!(en.status.code(), Some(1), "{}", stdout(&en));
    let want = format!("✗ this is a run of {other}\n    this is a run of {demo}, not of {other}");
    assert!(
        stdout(&en).contains(&want),
        "{want:?} not in:\n{}",
        stdout(&en)
    );
    let zh = check(ex, &run, "zh");
    assert_eq!(zh.status.code(), Some(1), "{}", stdout(&zh));
    let js = netlab(&["check", ex, run.to_str().unwrap(), "--json"]);
    assert_eq!(js.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&js.stdout).unwrap();
    assert_eq!(v["expectations"][0]["met"], false, "{v}");
    assert_eq!(
        v["expectations"][0]["why"]["zh"],
        format!(
            "这是 {demo} 的运行记录，不是 {other} 的：请运行 `{}`",
            Exercise::builtin(ex).unwrap().unwrap().run
        ),
        "{v}"
    );
    let want = format!("这是 {demo} 的运行记录，不是 {other} 的");
    assert!(
        stdout(&zh).contains(&want),
        "{want:?} not in:\n{}",
        stdout(&zh)
    );
}

#[test]
fn dns_trace() {
    passes_and_the_next_fails("dns-trace", &["www.baidu.com"]);
}

#[test]
fn dns_trace_of_another_name_fails_with_the_sentence() {
    let (_dir, run) = saved_run(&["dns-trace", "www.nic.cn"]);
    let en = check("dns-trace", &run, "en");
    assert_eq!(en.status.code(), Some(1));
    let text = stdout(&en);
    assert!(
        text.contains("✗ the run traces www.baidu.com, the name the task asks for\n    the summary's name is \"www.nic.cn.\", expected \"www.baidu.com.\""),
        "{text}"
    );
    let zh = stdout(&check("dns-trace", &run, "zh"));
    assert!(
        zh.contains("✗ 追踪的是题目要求的 www.baidu.com\n    总结中 name 是 \"www.nic.cn.\"，应当是 \"www.baidu.com.\""),
        "{zh}"
    );
}

#[test]
fn sticky_packet() {
    passes_and_the_next_fails("sticky-packet", &[]);
}

#[test]
fn io_mux() {
    passes_and_the_next_fails("io-mux", &["--clients", "50", "--conns", "10,2000"]);
}

#[test]
fn rpc() {
    passes_and_the_next_fails("rpc", &[]);
}

#[test]
fn concurrency() {
    passes_and_the_next_fails("concurrency", &["--n", "20"]);
}

#[test]
fn producer_consumer() {
    passes_and_the_next_fails("producer-consumer", &["--items", "200"]);
}

#[test]
fn async_io() {
    passes_and_the_next_fails("async", &["--conns", "50"]);
}

#[test]
fn arp_table() {
    if privileged() {
        passes_and_the_next_fails("arp-table", &[]);
    }
}

#[test]
fn ping() {
    if privileged() {
        passes_and_the_next_fails("ping", &[]);
    }
}

#[test]
fn tcp_vs_udp() {
    if privileged() {
        passes_and_the_next_fails("tcp-vs-udp", &["--messages", "50", "--bulk", "1"]);
    }
}

#[test]
fn firewall() {
    if privileged() {
        passes_and_the_next_fails("firewall", &[]);
    }
}

#[test]
fn url() {
    if privileged() {
        passes_and_the_next_fails("url", &[]);
    }
}

#[test]
fn traceroute() {
    if privileged() {
        passes_and_the_next_fails("traceroute", &[]);
    }
}

#[test]
fn failover() {
    if privileged() {
        passes_and_the_next_fails("failover", &[]);
    }
}

#[test]
fn cdn() {
    if privileged() {
        passes_and_the_next_fails("cdn", &[]);
    }
}

#[test]
fn load_balance() {
    if privileged() {
        passes_and_the_next_fails("load-balance", &[]);
    }
}

#[test]
fn ipc() {
    if privileged() {
        passes_and_the_next_fails("ipc", &["--round-trips", "5"]);
    }
}

#[test]
fn every_demo_has_an_exercise() {
    let o = netlab(&["--help"]);
    let help = stdout(&o);
    for demo in [
        "dns-trace",
        "arp-table",
        "ping",
        "tcp-vs-udp",
        "sticky-packet",
        "firewall",
        "url",
        "traceroute",
        "io-mux",
        "failover",
        "cdn",
        "load-balance",
        "rpc",
        "concurrency",
        "ipc",
        "producer-consumer",
        "async",
    ] {
        assert!(help.contains(&format!("  {demo} ")), "{demo} not in --help");
        assert!(!exercises_of(demo).is_empty(), "no exercise for {demo}");
    }
}

#[test]
fn the_list_and_the_task_sheet() {
    let list = stdout(&netlab(&["exercise"]));
    for (name, _) in BUILTIN {
        assert!(
            list.contains(&format!("\n{name} ")),
            "{name} not in:\n{list}"
        );
    }
    let both = netlab(&["exercise", "sticky-packet"]);
    assert_eq!(both.status.code(), Some(0));
    let both = stdout(&both);
    assert!(
        both.contains("netlab sticky-packet --json > sticky.jsonl"),
        "{both}"
    );
    assert!(both.contains("UDP kept every datagram apart"), "{both}");
    assert!(both.contains("UDP 让每个数据报保持独立"), "{both}");
    let zh = stdout(&netlab(&["exercise", "sticky-packet", "--lang", "zh"]));
    assert!(zh.contains("UDP 让每个数据报保持独立"), "{zh}");
    assert!(!zh.contains("UDP kept every datagram apart"), "{zh}");
    let none = netlab(&["exercise", "no-such-exercise"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(stderr(&none).contains("no exercise named no-such-exercise"));
}

#[test]
fn a_bad_exercise_file_exits_2_with_its_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run.jsonl");
    std::fs::write(&run, "").unwrap();
    for (text, want) in [
        ("demo = \"ping\"\ntitle = \n", "line 2, column 9: not an exercise"),
        (
            "demo = \"ping\"\ntitle = { en = \"a\", zh = \"b\" }\ntask = { en = \"a\", zh = \"b\" }\nrun = \"r\"\n\n[[expect]]\nkind = \"summary\"\nen = \"a\"\nzh = \"b\"\ndata = { x = { bigger = 1 } }\n",
            "line 6, column 1: not an exercise (unknown field `bigger`",
        ),
        (
            "demo = \"ping\"\ntitle = { en = \"a\", zh = \"b\" }\ntask = { en = \"a\", zh = \"b\" }\nrun = \"r\"\n\n[[expect]]\nkind = \"packets\"\nen = \"a\"\nzh = \"b\"\n",
            "line 7, column 8: not an exercise (unknown variant `packets`",
        ),
        (
            "demo = \"ping\"\ntitle = { en = \"a\", zh = \"b\" }\ntask = { en = \"a\", zh = \"b\" }\nrun = \"r\"\nexpect = []\n",
            "no [[expect]]",
        ),
        (
            "demo = \"pnig\"\ntitle = { en = \"a\", zh = \"b\" }\ntask = { en = \"a\", zh = \"b\" }\nrun = \"r\"\n[[expect]]\nkind = \"complete\"\nen = \"a\"\nzh = \"b\"\n",
            "demo = \"pnig\" is not a netlab command",
        ),
    ] {
        let ex = dir.path().join("bad.toml");
        std::fs::write(&ex, text).unwrap();
        let o = check(ex.to_str().unwrap(), &run, "en");
        assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
        let err = stderr(&o);
        assert!(err.contains(&format!("bad.toml {want}")) || err.contains(want), "{want:?} not in {err}");
    }
}

#[test]
fn a_run_that_is_not_a_record_exits_2_with_its_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run.jsonl");
    for (text, want_en, want_zh) in [
        (
            "[1] ping\n",
            "line 1: not a JSON object",
            "第 1 行：不是 JSON 对象",
        ),
        (
            "\n{\"schema\": \"netlab/1\", \"demo\": \"ping\"}\n",
            "line 2: not a netlab/2 object",
            "第 2 行：不是 netlab/2 对象",
        ),
        (
            "{\"schema\": \"netlab/2\", \"demo\": \"ping\"}\n",
            "line 1: not a netlab record",
            "第 1 行：不是 netlab 记录",
        ),
        ("", "empty; save a run with --json", "是空的"),
    ] {
        std::fs::write(&run, text).unwrap();
        let en = check("ping", &run, "en");
        assert_eq!(en.status.code(), Some(2), "{}", stdout(&en));
        assert!(
            stderr(&en).contains(want_en),
            "{want_en:?} not in {}",
            stderr(&en)
        );
        let zh = check("ping", &run, "zh");
        assert_eq!(zh.status.code(), Some(2));
        assert!(
            stderr(&zh).contains(want_zh),
            "{want_zh:?} not in {}",
            stderr(&zh)
        );
    }
}
