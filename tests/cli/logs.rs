//! Logs (-v, -vv, RUST_LOG): on stderr only, off by default.

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

use super::*;
use netlab::dns::client::{build_query, exchange, Transport};

/// Start `lab dns --json` with `extra` arguments and environment; ask its root
/// server `names` directly (RD=0, one query each), stop it; (stdout, stderr).
fn lab_dns_run(extra: &[&str], env: &[(&str, &str)], names: &[&str]) -> (String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_netlab"));
    cmd.args(["lab", "dns", "--json"])
        .args(extra)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start netlab lab dns");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let v: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first}"));
    let port = v["data"]["port"].as_u64().unwrap() as u16;
    let root = std::net::SocketAddr::from(([127, 53, 0, 1], port));
    if names.is_empty() {
        // Not a DNS message: the server must say it dropped it, not stay silent.
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.send_to(b"\x00\x01junk", root).unwrap();
    }
    for name in names {
        let q = build_query(
            &hickory_proto::rr::Name::from_ascii(name).unwrap(),
            hickory_proto::rr::RecordType::A,
            false,
        );
        let ex = exchange(root, &q, Transport::Udp, std::time::Duration::from_secs(2));
        assert!(ex.reply.is_some(), "the root answered {name}");
    }
    // Let the last log line be written before the stop.
    std::thread::sleep(std::time::Duration::from_millis(100));
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(child.wait().unwrap().success());
    (first + &rest, err)
}

#[test]
fn lab_dns_v_logs_each_query_served_and_stdout_stays_json() {
    let _g = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    let names = ["www.baidu.com.", "student1.cn.", "no-such-tld.zz."];
    let (out, err) = lab_dns_run(&["-v"], &[], &names);
    for l in out.lines() {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert_eq!(v["schema"], "netlab/2");
        assert_eq!(v["demo"], "lab", "{v}");
        // The typed record, every key of it documented.
        serde_json::from_value::<netlab::record::Line>(v.clone())
            .unwrap_or_else(|e| panic!("not a netlab record ({e}): {v}"));
        assert_documented(&v);
    }
    let served: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("netlab::lab::dns"))
        .collect();
    assert_eq!(served.len(), names.len(), "one line per query:\n{err}");
    for (line, name) in served.iter().zip(names) {
        assert!(line.contains(" INFO "), "{line}");
        assert!(line.contains(name), "{name} in {line}");
        assert!(
            line.contains("→ 127.53.0.1:"),
            "the server that answered: {line}"
        );
    }
    assert!(served[0].contains("referral to com."), "{}", served[0]);
    assert!(served[2].contains("NXDOMAIN"), "{}", served[2]);
}

#[test]
fn logs_are_off_by_default_and_rust_log_turns_them_on() {
    let _g = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    let (_, quiet) = lab_dns_run(&[], &[], &["www.baidu.com."]);
    assert!(
        quiet.trim().is_empty(),
        "nothing on stderr without -v: {quiet}"
    );
    let (_, err) = lab_dns_run(
        &[],
        &[("RUST_LOG", "netlab::lab::dns=info")],
        &["www.baidu.com."],
    );
    assert_eq!(
        err.lines()
            .filter(|l| l.contains("netlab::lab::dns"))
            .count(),
        1,
        "{err}"
    );
}

#[test]
fn vv_adds_the_libraries_events_on_stderr_only() {
    let o = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["dns-trace", "www.baidu.com", "--json", "-vv"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("hickory_resolver"),
        "hickory's own events: {err}"
    );
    assert!(err.contains("DEBUG netlab::dns::stub"), "{err}");
    for l in String::from_utf8_lossy(&o.stdout).lines() {
        serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}"));
    }
}

#[test]
fn a_malformed_request_is_a_warning_not_silence() {
    let _g = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    let (_, err) = lab_dns_run(&["-v"], &[], &[]);
    let warned: Vec<&str> = err.lines().filter(|l| l.contains(" WARN ")).collect();
    assert_eq!(warned.len(), 1, "{err}");
    assert!(
        warned[0].contains("dropped 6 bytes, not a DNS message"),
        "{}",
        warned[0]
    );
}
