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

#[test]
fn bad_ping_and_arp_inputs_exit_2() {
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["ping", "999.1.1.1"], "not an IPv4 address"),
        (vec!["ping", "1.2.3"], "not an IPv4 address"),
        (vec!["ping", "-c", "0", "127.0.0.1"], "invalid value"),
        (vec!["ping", "-s", "65508", "127.0.0.1"], "invalid value"),
        (vec!["ping", "-i", "-1", "127.0.0.1"], "positive"),
        (vec!["ping", "-i", "0", "127.0.0.1"], "positive"),
        (vec!["ping", "-t", "0", "127.0.0.1"], "invalid value"),
        (vec!["ping", "-t", "256", "127.0.0.1"], "invalid value"),
        (vec!["ping", "-W", "soon", "127.0.0.1"], "not a number"),
        (vec!["ping", "--loss", "101"], "invalid value"),
        (
            vec![
                "arp-table",
                "--iface",
                "nope0",
                "--resolve",
                "198.51.100.20",
            ],
            "unknown interface",
        ),
        (vec!["arp-table", "--resolve", "198.51.100.20"], "--iface"),
        (
            vec!["arp-table", "--iface", "lo", "--resolve", "not-an-ip"],
            "invalid value",
        ),
        (vec!["lab", "exec", "h1"], "required"),
    ];
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
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    }
}

#[test]
fn unprivileged_users_get_the_privilege_message_never_a_raw_error() {
    if !require("setpriv (util-linux)", have("setpriv")) || !privileged() {
        return;
    }
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default();
    let open_icmp = range
        .split_whitespace()
        .filter_map(|w| w.parse::<u64>().ok())
        .collect::<Vec<_>>()
        .chunks(2)
        .any(|c| c.len() == 2 && c[0] <= 65534 && 65534 <= c[1]);
    let o = netlab_as_nobody(&["ping", "-c", "1", "127.0.0.1"]);
    let err = stderr(&o);
    if open_icmp {
        assert_eq!(
            o.status.code(),
            Some(0),
            "ping sockets are allowed here: {err}"
        );
    } else {
        assert_eq!(o.status.code(), Some(2), "{err}");
        for fix in ["sudo", "setcap cap_net_raw+ep", "ping_group_range"] {
            assert!(
                err.contains(fix),
                "the message names the fix {fix:?}: {err}"
            );
        }
    }
    for (args, code, needle) in [
        (vec!["lab", "up"], 2, "CAP_NET_ADMIN"),
        (vec!["lab", "down"], 2, "CAP_NET_ADMIN"),
        (
            vec!["arp-table", "--iface", "lo", "--resolve", "127.0.0.1"],
            2,
            "CAP_NET_RAW",
        ),
    ] {
        let o = netlab_as_nobody(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // arp-table falls back to what it can show without privilege
    let o = netlab_as_nobody(&["arp-table", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert!(
        lines[0]["detail"]
            .as_str()
            .unwrap()
            .contains("could not run"),
        "{}",
        lines[0]
    );
    assert!(lines.last().unwrap()["entries"].is_array());
    // dns-trace needs nothing
    let o = netlab_as_nobody(&["dns-trace", "www.baidu.com", "--walk-only", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for args in [
        vec!["ping"],
        vec!["lab", "up"],
        vec!["arp-table", "--iface", "lo", "--resolve", "127.0.0.1"],
    ] {
        let err = stderr(&netlab_as_nobody(&args));
        assert!(
            !err.contains("panicked") && !err.starts_with("Operation not permitted"),
            "{args:?}: {err}"
        );
    }
}
