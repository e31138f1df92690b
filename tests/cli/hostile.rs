//! The lab's misbehaving servers (bad.net): every lookup ends within its
//! deadline with a named cause, exit 1, and no forged answer is believed.

use super::*;

const POISON: &str = "203.0.113.66";

fn trace(name: &str, extra: &[&str]) -> (Output, Value) {
    let mut args = vec![
        "dns-trace",
        name,
        "--timeout",
        "500ms",
        "--deadline",
        "6s",
        "--json",
    ];
    args.extend_from_slice(extra);
    let o = netlab(&args);
    assert!(!stderr(&o).contains("panicked"), "{name}: {}", stderr(&o));
    let lines = json_lines(&o);
    assert!(
        !stdout(&o).contains(POISON) || name.contains("never"),
        "{name}: a forged address leaked into the output"
    );
    (o, lines.last().unwrap().clone())
}

#[test]
fn each_misbehaving_server_ends_with_its_named_cause() {
    let cases = [
        ("www.garbage.bad.net", "malformed"),
        ("www.wrongid.bad.net", "wrong_id_ignored"),
        ("www.wrongsrc.bad.net", "wrong_source_ignored"),
        ("www.wrongq.bad.net", "wrong_question_ignored"),
        ("www.tcfail.bad.net", "tc_without_tcp"),
        ("www.refloop.bad.net", "referral_loop"),
        ("loop.cnameloop.bad.net", "cname_loop"),
        ("www.oversized.bad.net", "oversized"),
        ("www.slow.bad.net", "timeout"),
    ];
    for (name, cause) in cases {
        let (o, s) = trace(name, &["--walk-only"]);
        assert_eq!(o.status.code(), Some(1), "{name}: {s}");
        assert_eq!(s["kind"], "summary");
        assert_eq!(s["status"], "failed", "{name}");
        assert_eq!(s["rcode"], "SERVFAIL", "{name}");
        assert_eq!(s["cause"], cause, "{name}: {s}");
        assert!(!s["reason"].as_str().unwrap().is_empty());
        assert!(s["answers"].as_array().unwrap().is_empty(), "{name}");
        assert!(
            s["elapsed_ms"].as_f64().unwrap() < 9000.0,
            "{name}: ended within the 6 s deadline (plus slack)"
        );
        // and the text output names the cause too
        let t = netlab(&[
            "dns-trace",
            name,
            "--walk-only",
            "--timeout",
            "500ms",
            "--lang",
            "en",
        ]);
        assert_eq!(t.status.code(), Some(1));
        assert!(stdout(&t).contains("no answer"), "{name}: {}", stdout(&t));
    }
}

#[test]
fn forged_replies_never_reach_the_resolver_cache() {
    for name in [
        "www.wrongid.bad.net",
        "www.wrongsrc.bad.net",
        "www.wrongq.bad.net",
    ] {
        // the whole trace: stage 3 asks the lab's caching resolver twice
        let (o, s) = trace(name, &[]);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(s["status"], "failed");
        let lines = json_lines(&o);
        let stage3: Vec<&Value> = lines
            .iter()
            .filter(|l| l["data"]["cached"].is_boolean())
            .collect();
        for l in &stage3 {
            assert!(
                !l.to_string().contains(POISON),
                "{name}: the resolver passed on a forged answer"
            );
        }
        if let Some(first) = stage3.first() {
            assert_eq!(first["data"]["rcode"], "SERVFAIL", "{name}");
        }
    }
}

#[test]
fn deadline_cuts_a_slow_server_short_and_patience_gets_the_answer() {
    let o = netlab(&[
        "dns-trace",
        "www.slow.bad.net",
        "--walk-only",
        "--timeout",
        "20s",
        "--deadline",
        "1s",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let s = json_lines(&o).pop().unwrap();
    assert_eq!(s["cause"], "deadline", "{s}");
    assert!(
        s["elapsed_ms"].as_f64().unwrap() < 4000.0,
        "the 1 s deadline, not the 20 s timeout, ended it"
    );
    let o = netlab(&[
        "dns-trace",
        "www.slow.bad.net",
        "--walk-only",
        "--timeout",
        "8s",
        "--json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "the slow server does answer, after 5 s"
    );
    let s = json_lines(&o).pop().unwrap();
    assert_eq!(s["answers"][0]["data"], "198.51.100.60");
}

#[test]
fn a_closed_port_is_refused_at_once_not_silent() {
    let o = netlab(&[
        "dns-trace",
        "www.baidu.com",
        "--root-servers",
        "127.0.0.1:1",
        "--walk-only",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let lines = json_lines(&o);
    let s = lines.last().unwrap();
    assert_eq!(s["cause"], "refused", "{s}");
    let ex = lines
        .iter()
        .find(|l| l["data"]["verdict"] == "no_reply")
        .unwrap();
    assert!(
        ex["detail"]["en"]
            .as_str()
            .unwrap()
            .contains("ICMP port unreachable"),
        "{ex}"
    );
    // "refused", not "timeout": the ICMP error ended the wait, not the clock.
    assert_eq!(ex["data"]["failure"], "connection refused", "{ex}");
}
