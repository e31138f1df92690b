//! Bad input: exit code 2 and one message that says what was wrong and what is
//! accepted; never a panic. One table across every subcommand.

use predicates::prelude::*;
use predicates::str::contains;

use super::*;

#[test]
fn every_bad_input_exits_2_saying_what_is_wrong_and_what_is_accepted() {
    let long_label = format!("{}.com", "a".repeat(64));
    let long_name = vec!["abcdefghi"; 30].join(".");
    let broken_zones = tempfile::tempdir().unwrap();
    std::fs::write(
        broken_zones.path().join("root.zone"),
        "$ORIGIN .\n@ IN SOA nonsense\n",
    )
    .unwrap();
    let broken = broken_zones.path().to_str().unwrap().to_string();
    let hostile_typo = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lab/zones"))
        .unwrap()
    {
        let p = e.unwrap().path();
        std::fs::copy(&p, hostile_typo.path().join(p.file_name().unwrap())).unwrap();
    }
    let f = hostile_typo.path().join("slow.bad.net.zone");
    let t = std::fs::read_to_string(&f)
        .unwrap()
        .replace("127.53.6.9 slow", "127.53.6.9 sluggish");
    std::fs::write(&f, t).unwrap();
    let typo = hostile_typo.path().to_str().unwrap().to_string();
    // (arguments, what was wrong, what is accepted)
    let table: Vec<(Vec<&str>, &str, &str)> = vec![
        // dns-trace: names
        (vec!["dns-trace", ""], "empty", "such as www.baidu.com"),
        (vec!["dns-trace", "."], "empty", "such as www.baidu.com"),
        (
            vec!["dns-trace", "a..b.com"],
            "empty label",
            "1 to 63 characters",
        ),
        (
            vec!["dns-trace", ".a.com"],
            "empty label",
            "1 to 63 characters",
        ),
        (vec!["dns-trace", &long_label], "64 bytes", "at most 63"),
        (
            vec!["dns-trace", &long_name],
            "characters long",
            "at most 253",
        ),
        (
            vec!["dns-trace", "www baidu.com"],
            "cannot contain a space",
            "use letters, digits",
        ),
        (
            vec!["dns-trace", "a!b.com"],
            "'!' is not allowed",
            "use letters, digits",
        ),
        (
            vec!["dns-trace", "a.-b.com"],
            "starts or ends with '-'",
            "'-'",
        ),
        (vec!["dns-trace"], "required", "<NAME>"),
        // dns-trace: options
        (
            vec!["dns-trace", "x", "--type", "BOGUS"],
            "invalid value 'BOGUS'",
            "possible values: A, AAAA",
        ),
        (
            vec!["dns-trace", "x", "--timeout", "0"],
            "greater than zero",
            "e.g. 2s, 500ms",
        ),
        (
            vec!["dns-trace", "x", "--timeout", "soon"],
            "not a duration",
            "e.g. 2s, 500ms",
        ),
        (
            vec!["dns-trace", "x", "--timeout", "61s"],
            "out of range",
            "1ms to 60s",
        ),
        (
            vec!["dns-trace", "x", "--timeout", "55555E-40"],
            "shorter than a nanosecond",
            "greater than zero",
        ),
        (
            vec!["dns-trace", "x", "--deadline=-1"],
            "greater than zero",
            "e.g. 2s",
        ),
        (
            vec!["dns-trace", "x", "--deadline", "601s"],
            "out of range",
            "1ms to 600s",
        ),
        (
            vec!["dns-trace", "x", "--root-servers", "nope"],
            "not an IP address",
            "IP:PORT",
        ),
        (
            vec!["dns-trace", "x", "--root-servers", "198.51.100.1"],
            "off this machine",
            "add --live",
        ),
        (
            vec![
                "dns-trace",
                "x",
                "--root-servers",
                "127.0.0.1:53,127.0.0.2:54",
            ],
            "differ",
            "one port",
        ),
        (
            vec!["dns-trace", "x", "--root-servers", "127.0.0.1:0"],
            "port 0",
            "server port",
        ),
        (
            vec!["dns-trace", "x", "--root-servers", "127.0.0.1,"],
            "empty entry",
            "IP[:PORT]",
        ),
        (
            vec!["dns-trace", "x", "--hosts", "/nonexistent/hosts"],
            "no such file",
            "hosts format",
        ),
        (
            vec!["dns-trace", "x", "--lab-zones", "/nonexistent/zones"],
            "cannot read this folder",
            "ZONE.zone files",
        ),
        (
            vec!["dns-trace", "x", "--lab-zones", &broken],
            "root.zone",
            "zone-file syntax",
        ),
        (
            vec!["dns-trace", "x", "--lab-zones", &typo],
            "unknown mode \"sluggish\"",
            "wrong-id",
        ),
        (
            vec!["dns-trace", "x", "--live", "--lab-zones", "/tmp"],
            "cannot be used with",
            "--live",
        ),
        // global options
        (
            vec!["dns-trace", "x", "--pace", "soon"],
            "invalid value 'soon'",
            "--pace",
        ),
        (
            vec!["dns-trace", "x", "--pace", "70000"],
            "70000 is not in",
            "0..=60000",
        ),
        (
            vec!["dns-trace", "x", "--lang", "fr"],
            "invalid value 'fr'",
            "possible values: zh, en",
        ),
        (
            vec!["dns-trace", "x", "--pcap", "/nonexistent/dir/x.pcapng"],
            "/nonexistent/dir/x.pcapng",
            "No such file",
        ),
        (vec!["frobnicate"], "unrecognized subcommand", "Usage"),
        // options that would be silently ignored are refused
        (
            vec!["tcp-vs-udp", "--loopback", "--loss", "20"],
            "cannot be used with",
            "--loss",
        ),
        (
            vec!["ping", "127.0.0.1", "--loss", "20"],
            "cannot be used with",
            "--loss",
        ),
        (
            vec!["dns-trace", "x", "--hosts", "/tmp"],
            "a folder",
            "hosts format",
        ),
        (
            vec!["arp-table", "--iface", "lo", "--resolve", "198.51.100.20"],
            "no link-layer addresses",
            "Ethernet interface",
        ),
        // questions
        (vec!["explain", "Q40"], "unknown question", "Q1 to Q39"),
        (vec!["explain", "banana"], "unknown question", "Q1 to Q39"),
        (vec!["explain"], "required", "<ID>"),
        // ping
        (
            vec!["ping", "999.1.1.1"],
            "not an IPv4 address",
            "a.b.c.d, each 0-255",
        ),
        (vec!["ping", "1.2.3"], "not an IPv4 address", "a.b.c.d"),
        (vec!["ping", "::1"], "IPv6 is not supported", "IPv4 address"),
        (
            vec!["ping", "-c", "0", "127.0.0.1"],
            "invalid value '0'",
            "1..=1000000",
        ),
        (
            vec!["ping", "-s", "65508", "127.0.0.1"],
            "invalid value '65508'",
            "0..=65507",
        ),
        (
            vec!["ping", "-i", "-1", "127.0.0.1"],
            "invalid value '-1'",
            "positive number of seconds",
        ),
        (
            vec!["ping", "-i", "0.001", "127.0.0.1"],
            "invalid value '0.001'",
            "at least 0.002",
        ),
        (
            vec!["ping", "-t", "0", "127.0.0.1"],
            "invalid value '0'",
            "1..=255",
        ),
        (
            vec!["ping", "-t", "256", "127.0.0.1"],
            "invalid value '256'",
            "1..=255",
        ),
        (
            vec!["ping", "-W", "soon", "127.0.0.1"],
            "not a number",
            "seconds",
        ),
        (
            vec!["ping", "-w", "0", "127.0.0.1"],
            "invalid value '0'",
            "positive number",
        ),
        (
            vec!["ping", "--loss", "101"],
            "invalid value '101'",
            "0..=100",
        ),
        // arp-table
        (
            vec![
                "arp-table",
                "--iface",
                "nope0",
                "--resolve",
                "198.51.100.20",
            ],
            "unknown interface \"nope0\"",
            "this machine has: lo",
        ),
        (
            vec!["arp-table", "--resolve", "198.51.100.20"],
            "required",
            "--iface",
        ),
        (vec!["arp-table", "--iface", "lo"], "required", "--resolve"),
        (
            vec!["arp-table", "--iface", "lo", "--resolve", "not-an-ip"],
            "\"not-an-ip\" is not an IPv4 address",
            "--resolve <IP>",
        ),
        // tcp-vs-udp and sticky-packet
        (
            vec!["tcp-vs-udp", "--loss", "101"],
            "invalid value '101'",
            "0..=100",
        ),
        (
            vec!["tcp-vs-udp", "--messages", "0"],
            "invalid value '0'",
            "1..=10000",
        ),
        (
            vec!["tcp-vs-udp", "--size", "15"],
            "invalid value '15'",
            "16..=1400",
        ),
        (
            vec!["tcp-vs-udp", "--size", "1401"],
            "invalid value '1401'",
            "16..=1400",
        ),
        (
            vec!["tcp-vs-udp", "--bulk", "5000"],
            "invalid value '5000'",
            "1..=4096",
        ),
        (
            vec!["sticky-packet", "--writes", "1"],
            "invalid value '1'",
            "2..=1000",
        ),
        (
            vec!["sticky-packet", "--size", "0"],
            "invalid value '0'",
            "1..=1024",
        ),
        (
            vec!["sticky-packet", "--size", "2000"],
            "invalid value '2000'",
            "1..=1024",
        ),
        // io-mux
        (
            vec!["io-mux", "--conns", "0"],
            "invalid value '0'",
            "1..=100000",
        ),
        (
            vec!["io-mux", "--conns", "10,many"],
            "invalid value 'many'",
            "--conns <N,...>",
        ),
        (
            vec!["io-mux", "--conns", "100001"],
            "invalid value '100001'",
            "1..=100000",
        ),
        (
            vec!["io-mux", "--clients", "0"],
            "invalid value '0'",
            "1..=5000",
        ),
        (
            vec!["io-mux", "--clients", "6000"],
            "invalid value '6000'",
            "1..=5000",
        ),
        (
            vec!["io-mux-peer", "nowhere"],
            "invalid value 'nowhere'",
            "<ADDR>",
        ),
        // producer-consumer
        (
            vec!["producer-consumer", "--capacity", "0"],
            "invalid value '0'",
            "1..=1024",
        ),
        (
            vec!["producer-consumer", "--items", "99"],
            "invalid value '99'",
            "100..=100000",
        ),
        (
            vec!["producer-consumer", "--probes", "6"],
            "invalid value '6'",
            "1..=5",
        ),
        // traceroute
        (vec!["traceroute", "-m", "0"], "invalid value '0'", "1..=64"),
        (
            vec!["traceroute", "-q", "11"],
            "invalid value '11'",
            "1..=10",
        ),
        (
            vec!["traceroute", "-w", "-1"],
            "must be a positive number of seconds",
            "-w <WAIT>",
        ),
        (
            vec!["traceroute", "--delay", "1001"],
            "invalid value '1001'",
            "0..=1000",
        ),
        (
            vec!["traceroute", "--rate", "0"],
            "invalid value '0'",
            "1..=10000",
        ),
        (
            vec!["traceroute", "127.0.0.1", "--delay", "5"],
            "cannot be used with",
            "--delay",
        ),
        // url
        (
            vec!["url", "urn:isbn:9787111213826"],
            "is a URN",
            "give an http:// URL",
        ),
        (
            vec!["url", "mailto:a@lab.edu.cn"],
            "is a mailto: URI",
            "give an http:// URL",
        ),
        (
            vec!["url", "https://www.lab.edu.cn/"],
            "serves no TLS",
            "http://",
        ),
        (
            vec!["url", "ftp://www.lab.edu.cn/"],
            "http:// URLs only",
            "not ftp:",
        ),
        (vec!["url", "http://[::1]/"], "IPv4 only", "IPv4 address"),
        (
            vec!["url", "http://www.lab.edu.cn:0/"],
            "port 0",
            "not a server port",
        ),
        (
            vec!["url", "www.lab.edu.cn"],
            "is not a URL",
            "http://www.lab.edu.cn/index.html",
        ),
        // lab
        (
            vec!["lab", "dns", "--port", "0"],
            "invalid value '0'",
            "1..=65535",
        ),
        (
            vec!["lab", "dns", "--lab-zones", "/nonexistent"],
            "cannot read this folder",
            "ZONE.zone files",
        ),
        (vec!["lab", "exec", "h1"], "required", "<COMMAND>"),
        (
            vec!["lab", "up", "--loss", "101"],
            "invalid value '101'",
            "0..=100",
        ),
        (
            vec!["lab", "up", "--rate", "0"],
            "invalid value '0'",
            "1..=10000",
        ),
        (
            vec!["lab", "up", "--delay", "0"],
            "invalid value '0'",
            "1..=5000",
        ),
        (
            vec!["lab", "up", "--link", "r1"],
            "invalid value 'r1'",
            "[possible values: h1, h2, h3]",
        ),
        (vec!["lab", "frob"], "unrecognized subcommand", "Usage"),
        (
            vec!["firewall", "--case", "open"],
            "invalid value 'open'",
            "[possible values: none, drop, reject, stateful, ports]",
        ),
    ];
    assert!(table.len() >= 40, "{} cases", table.len());
    for (args, wrong, accepted) in table {
        // Exit 2; stderr says what was wrong and what is accepted, and never
        // panics; stdout stays empty.
        netlab_cmd()
            .args(&args)
            .assert()
            .code(2)
            .stderr(
                contains(wrong)
                    .and(contains(accepted))
                    .and(contains("panicked").not())
                    .and(contains("RUST_BACKTRACE").not()),
            )
            .stdout(predicates::str::is_empty().trim());
    }
}

#[test]
fn errors_under_json_are_one_error_object() {
    for args in [
        vec!["dns-trace", "a..b", "--json"],
        vec!["dns-trace", "www.baidu.com", "--timeout", "0", "--json"],
        vec!["ping", "999.1.1.1", "--json"],
    ] {
        let o = netlab(&args);
        assert_eq!(o.status.code(), Some(2));
        let lines = json_lines(&o);
        assert_eq!(lines.len(), 1, "{args:?}");
        assert_eq!(lines[0]["kind"], "error");
        assert_eq!(lines[0]["exit_code"], 2);
        assert!(!lines[0]["message"]["en"].as_str().unwrap().is_empty());
        assert!(!lines[0]["message"]["zh"].as_str().unwrap().is_empty());
    }
}

#[test]
fn json_argument_errors_name_what_is_missing_and_what_is_allowed() {
    let o = netlab(&["dns-trace", "--json"]);
    assert_eq!(o.status.code(), Some(2));
    let e = &json_lines(&o)[0];
    assert_eq!(e["kind"], "error");
    assert!(
        e["message"]["en"].as_str().unwrap().contains("<NAME>"),
        "{e}"
    );
    let o = netlab(&["dns-trace", "x", "--type", "ZZ", "--json"]);
    let e = &json_lines(&o)[0];
    assert!(
        e["message"]["en"]
            .as_str()
            .unwrap()
            .contains("[possible values: A, AAAA"),
        "{e}"
    );
}

#[test]
fn a_capture_or_page_that_cannot_be_written_ends_the_run_with_its_name() {
    for flag in ["--pcap", "--html"] {
        let o = netlab(&["dns-trace", "www.baidu.com", "--json", flag, "/dev/full"]);
        assert_eq!(o.status.code(), Some(2), "{flag}");
        let lines = json_lines(&o);
        assert!(
            lines.iter().all(|l| l["kind"] != "summary"),
            "{flag}: no summary claims the run went well"
        );
        let last = lines.last().unwrap();
        assert_eq!(last["kind"], "error");
        assert!(
            last["message"]["en"]
                .as_str()
                .unwrap()
                .contains("cannot write /dev/full"),
            "{last}"
        );
        assert!(stderr(&o).contains("/dev/full"), "{}", stderr(&o));
    }
}

#[test]
fn a_full_disk_or_a_closed_pipe_never_panics() {
    use std::io::BufRead as _;
    use std::process::Stdio;
    // Every subcommand; the lab ones where the namespace lab can be built.
    let saved = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        saved.path(),
        stdout(&netlab(&["dns-trace", "www.baidu.com", "--json"])),
    )
    .unwrap();
    let mut runs: Vec<&[&str]> = vec![
        &["questions"],
        &["explain", "Q4"],
        &["--help"],
        &["dns-trace", "www.baidu.com"],
        &["sticky-packet", "--json"],
        &[
            "tcp-vs-udp",
            "--loopback",
            "--messages",
            "20",
            "--bulk",
            "1",
        ],
        &["ping", "-c", "2", "127.0.0.1"],
        &["lab", "status"],
        &["completions", "bash"],
        &["man"],
        &["io-mux", "--conns", "10,100", "--clients", "20"],
        &["ipc", "--round-trips", "3"],
        &["traceroute", "127.0.0.1", "-q", "1"],
    ];
    if privileged() {
        runs.extend([
            &["arp-table"][..],
            &["ping", "-c", "2"],
            &["tcp-vs-udp", "--messages", "20", "--bulk", "1"],
            &["firewall", "--case", "reject"],
            &["url"],
            &["traceroute", "-q", "1"],
            &["rpc"],
        ]);
    }
    // render writes a page, not stdout: a full disk there is named too.
    let o = netlab(&[
        "render",
        saved.path().to_str().unwrap(),
        "--html",
        "/dev/full",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot write /dev/full"),
        "{}",
        stderr(&o)
    );
    for args in runs {
        // stdout is a full disk: exit 2, one line naming standard output.
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_netlab"))
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(full)
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("cannot write to standard output"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        // The reader goes away after one line: a quiet end, no panic.
        let mut child = Command::new(env!("CARGO_BIN_EXE_netlab"))
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let o = child.wait_with_output().unwrap();
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "{args:?}: {:?} {err}",
            o.status
        );
    }
}

#[test]
fn a_full_stderr_never_panics() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    for args in [
        &["dns-trace"][..],
        &["explain", "Q99"],
        &["dns-trace", "x", "--hosts", "/nope"],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_netlab"))
            .args(args)
            .stderr(full.try_clone().unwrap())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn an_empty_hosts_file_is_a_hosts_file() {
    let o = netlab(&[
        "dns-trace",
        "www.baidu.com",
        "--hosts",
        "/dev/null",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let hosts = lines
        .iter()
        .find(|l| l["data"]["file"] == "/dev/null")
        .unwrap();
    assert_eq!(hosts["data"]["matches"], serde_json::json!([]));
}

#[test]
fn a_usage_error_is_one_line_and_the_usage_line() {
    for args in [
        &["dns-trace"][..],
        &["dns-trace", "x", "--type", "ZZ"],
        &["frobnicate"],
        &["ping", "-c", "0", "127.0.0.1"],
    ] {
        let o = netlab(args);
        assert_eq!(o.status.code(), Some(2));
        let err = stderr(&o);
        let lines: Vec<&str> = err.lines().collect();
        assert!(lines[0].starts_with("netlab: error: "), "{args:?}: {err}");
        assert!(lines.len() <= 2, "{args:?}: {err}");
        assert!(
            lines[1..].iter().all(|l| l.starts_with("Usage:")),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn an_error_says_what_failed_on_what_in_the_runs_language() {
    // Under --json: a stable cause and the object it names.
    for (args, cause, object) in [
        (
            &["dns-trace", "a..b", "--json"][..],
            "bad_name",
            Some("a..b"),
        ),
        (&["explain", "Q99", "--json"], "usage", None),
        (
            &["sticky-packet", "--json", "--pcap", "/nonexistent/x.pcapng"],
            "write",
            Some("/nonexistent/x.pcapng"),
        ),
        (&["dns-trace", "--json"], "usage", None),
    ] {
        let o = netlab(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = json_lines(&o).pop().unwrap();
        assert_eq!(e["kind"], "error", "{args:?}: {e}");
        assert_eq!(e["cause"], cause, "{args:?}: {e}");
        assert_eq!(e["object"].as_str(), object, "{args:?}: {e}");
    }
    // In Chinese the whole line is Chinese, prefix included.
    for args in [
        &["--lang", "zh", "dns-trace", "a..b"][..],
        &["--lang", "zh", "explain", "Q99"],
        &[
            "--lang",
            "zh",
            "sticky-packet",
            "--pcap",
            "/nonexistent/x.pcapng",
        ],
    ] {
        let err = stderr(&netlab(args));
        assert!(err.starts_with("netlab：错误："), "{args:?}: {err}");
        for w in ["error", "cannot", "invalid", "unknown", "No such"] {
            assert!(!err.contains(w), "{args:?}: {err}");
        }
    }
}

/// The line that says what is wrong (clap adds its usage line after some).
fn error_line(o: &Output) -> String {
    stderr(o).lines().next().unwrap_or_default().to_string()
}

#[test]
fn a_huge_name_is_quoted_short_in_one_line() {
    // 10 000 bytes: every command that takes a name, address, URL or id quotes
    // 64 characters of it, an ellipsis and its length; never the whole.
    let huge = "a".repeat(10_000);
    let url = format!("http://{huge}/");
    for args in [
        vec!["dns-trace", huge.as_str()],
        vec!["traceroute", &huge],
        vec!["ping", &huge],
        vec!["explain", &huge],
        vec!["url", &url],
        vec!["arp-table", "--iface", "lo", "--resolve", &huge],
        vec!["dns-trace", "x", "--root-servers", &huge],
    ] {
        for lang in ["en", "zh"] {
            let mut a = args.clone();
            a.extend(["--lang", lang]);
            let o = netlab(&a);
            assert_eq!(o.status.code(), Some(2), "{}: {}", args[0], stderr(&o));
            let e = stderr(&o);
            // The error line, and at most clap's usage line.
            assert!(e.lines().count() <= 2, "{}: {e}", args[0]);
            let line = error_line(&o);
            assert!(
                line.len() < 400,
                "{}: {} bytes: {line}",
                args[0],
                line.len()
            );
            assert!(line.contains("a…\""), "{}: an ellipsis: {line}", args[0]);
            let length = if url == args[args.len() - 1] {
                "10008"
            } else {
                "10000"
            };
            assert!(line.contains(length), "{}: the length: {line}", args[0]);
        }
    }
    // Chinese where netlab's own message is Chinese.
    let o = netlab(&["--lang", "zh", "dns-trace", &huge]);
    assert!(
        error_line(&o).contains("（共 10000 个字符）"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_bad_character_in_a_name_is_named_for_what_it_is() {
    for cmd in ["dns-trace", "ping", "traceroute"] {
        for (name, en, zh) in [
            (
                "www.baidu\n.com",
                "cannot contain a newline",
                "不能含换行符",
            ),
            ("www.baidu\t.com", "cannot contain a tab", "不能含制表符"),
            ("www baidu.com", "cannot contain a space", "不能含空格"),
            (
                "www.bai\u{7}du.com",
                "cannot contain a control character (U+0007)",
                "控制字符（U+0007）",
            ),
            (
                "www.<baidu>.com",
                "the character '<' is not allowed",
                "不允许字符 '<'",
            ),
        ] {
            for (lang, said) in [("en", en), ("zh", zh)] {
                let o = netlab(&[cmd, name, "--lang", lang]);
                assert_eq!(o.status.code(), Some(2), "{cmd} {name:?}: {}", stderr(&o));
                // One line: the newline is shown escaped, never printed.
                assert_eq!(
                    stderr(&o).lines().count(),
                    1,
                    "{cmd} {name:?}: {}",
                    stderr(&o)
                );
                let line = error_line(&o);
                assert!(line.contains(said), "{cmd} {name:?} ({lang}): {line}");
                assert!(
                    !line.contains("spaces") && !line.contains("\u{7}"),
                    "{line}"
                );
            }
        }
    }
    let o = netlab(&["dns-trace", "www.baidu\n.com"]);
    assert!(
        error_line(&o).contains(r#""www.baidu\n.com""#),
        "{}",
        stderr(&o)
    );
    // explain and url quote what they were given, escaped.
    let o = netlab(&["explain", "Q4\nQ5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(error_line(&o).contains(r#""Q4\nQ5""#), "{}", stderr(&o));
}
