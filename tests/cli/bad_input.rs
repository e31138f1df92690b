//! Bad input: exit code 2, one clear message, never a panic.

use super::*;

#[test]
fn bad_inputs_exit_2_with_a_clear_message() {
    let long_label = format!("{}.com", "a".repeat(64));
    let long_name = vec!["abcdefghi"; 30].join(".");
    let broken_zones = tempfile::tempdir().unwrap();
    std::fs::write(
        broken_zones.path().join("root.zone"),
        "$ORIGIN .\n@ IN SOA nonsense\n",
    )
    .unwrap();
    let broken = broken_zones.path().to_str().unwrap().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["dns-trace", ""], "empty"),
        (vec!["dns-trace", "."], "empty"),
        (vec!["dns-trace", "a..b.com"], "empty label"),
        (vec!["dns-trace", ".a.com"], "empty label"),
        (vec!["dns-trace", &long_label], "at most 63"),
        (vec!["dns-trace", &long_name], "at most 253"),
        (vec!["dns-trace", "www baidu.com"], "spaces"),
        (vec!["dns-trace", "a!b.com"], "not allowed"),
        (vec!["dns-trace", "a.-b.com"], "'-'"),
        (
            vec!["dns-trace", "www.baidu.com", "--type", "BOGUS"],
            "invalid value",
        ),
        (
            vec!["dns-trace", "www.baidu.com", "--timeout", "0"],
            "greater than zero",
        ),
        (
            vec!["dns-trace", "www.baidu.com", "--timeout", "soon"],
            "not a duration",
        ),
        (
            vec!["dns-trace", "www.baidu.com", "--timeout", "61s"],
            "at most 60s",
        ),
        (
            vec!["dns-trace", "www.baidu.com", "--deadline=-1"],
            "greater than zero",
        ),
        (
            vec!["dns-trace", "www.baidu.com", "--root-servers", "nope"],
            "not an IP address",
        ),
        (
            vec![
                "dns-trace",
                "www.baidu.com",
                "--root-servers",
                "198.51.100.1",
            ],
            "--live",
        ),
        (
            vec![
                "dns-trace",
                "www.baidu.com",
                "--root-servers",
                "127.0.0.1:53,127.0.0.2:54",
            ],
            "differ",
        ),
        (
            vec![
                "dns-trace",
                "www.baidu.com",
                "--root-servers",
                "127.0.0.1:0",
            ],
            "port 0",
        ),
        (
            vec![
                "dns-trace",
                "www.baidu.com",
                "--hosts",
                "/nonexistent/hosts",
            ],
            "no such file",
        ),
        (
            vec![
                "dns-trace",
                "www.baidu.com",
                "--lab-zones",
                "/nonexistent/zones",
            ],
            "cannot read",
        ),
        (
            vec!["dns-trace", "www.baidu.com", "--lab-zones", &broken],
            "root.zone",
        ),
        (
            vec![
                "dns-trace",
                "www.baidu.com",
                "--live",
                "--lab-zones",
                "/tmp",
            ],
            "cannot be used with",
        ),
        (
            vec!["dns-trace", "www.baidu.com", "--pace", "soon"],
            "invalid value",
        ),
        (
            vec!["dns-trace", "www.baidu.com", "--lang", "fr"],
            "invalid value",
        ),
        (vec!["dns-trace"], "required"),
        (vec!["explain", "Q40"], "Q1 to Q39"),
        (vec!["explain", "banana"], "Q1 to Q39"),
        (vec!["lab", "dns", "--port", "0"], "invalid value"),
        (vec!["frobnicate"], "unrecognized subcommand"),
    ];
    assert!(cases.len() >= 15);
    for (args, needle) in cases {
        let o = netlab(&args);
        let err = stderr(&o);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?} should exit 2; stderr: {err}"
        );
        assert!(
            err.contains(needle),
            "{args:?}: message lacks {needle:?}: {err}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{args:?} panicked: {err}"
        );
        assert!(
            stdout(&o).trim().is_empty() || args.contains(&"--json"),
            "{args:?} wrote to stdout"
        );
    }
}

#[test]
fn errors_under_json_are_one_error_object() {
    for args in [
        vec!["dns-trace", "a..b", "--json"],
        vec!["dns-trace", "www.baidu.com", "--timeout", "0", "--json"],
    ] {
        let o = netlab(&args);
        assert_eq!(o.status.code(), Some(2));
        let lines = json_lines(&o);
        assert_eq!(lines.len(), 1, "{args:?}");
        assert_eq!(lines[0]["kind"], "error");
        assert_eq!(lines[0]["exit_code"], 2);
        assert!(!lines[0]["message"].as_str().unwrap().is_empty());
    }
}
