//! Solid at the edges: arguments that are not UTF-8, inputs that never end,
//! and output files that must not be lost (issue L, items 4, 6 and 7).

use std::os::unix::ffi::OsStrExt as _;
use std::time::{Duration, Instant};

use super::*;

/// netlab with raw (possibly non-UTF-8) arguments.
fn netlab_os(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("LANG", "C.UTF-8")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run netlab")
}

fn os(s: &[u8]) -> &std::ffi::OsStr {
    std::ffi::OsStr::from_bytes(s)
}

#[test]
fn arguments_that_are_not_utf8_are_an_error_never_a_panic() {
    for args in [
        vec![os(b"render"), os(b"\xff.jsonl")],
        vec![os(b"dns-trace"), os(b"\xff")],
        vec![os(b"explain"), os(b"\xff")],
        vec![os(b"--lang"), os(b"\xff"), os(b"questions")],
        vec![os(b"dns-trace"), os(b"\xff"), os(b"--json")],
    ] {
        let o = netlab_os(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        if args.last() == Some(&os(b"--json")) {
            // Under --json, one error object on stdout.
            let lines = json_lines(&o);
            assert_eq!(lines.len(), 1, "{args:?}");
            assert_eq!(lines[0]["kind"], "error");
        } else {
            let n = err.lines().filter(|l| l.contains("error")).count();
            assert_eq!(n, 1, "{args:?}: one line: {err}");
        }
    }
    // A path need not be UTF-8: the capture is written under that very name.
    let dir = tempfile::tempdir().unwrap();
    let mut p = dir.path().as_os_str().to_owned();
    p.push(os(b"/\xff.pcapng"));
    let o = netlab_os(&[os(b"dns-trace"), os(b"www.baidu.com"), os(b"--pcap"), &p]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(std::path::Path::new(&p).is_file());
}

#[test]
fn inputs_that_never_end_are_refused_at_once() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("run.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for input in [fifo.as_path(), dir.path()] {
        let o = netlab(&["render", input.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    }
    // A device is read, but never past 1 MiB.
    for input in ["/dev/zero", "/dev/urandom"] {
        let o = netlab(&["render", input]);
        assert_eq!(o.status.code(), Some(2), "{input}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("larger than netlab reads (1 MiB"), "{err}");
    }
    // A file too large to be a run is named as such (sparse: no disk used).
    let big = dir.path().join("big.jsonl");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len((256 << 20) + 1).unwrap();
    let o = netlab(&["render", big.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("256 MiB"), "{}", stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(60), "no hang");
}

#[test]
fn a_saved_run_reads_with_a_byte_order_mark_and_from_standard_input() {
    let o = netlab(&["dns-trace", "www.baidu.com", "--json"]);
    assert!(o.status.success());
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("bom.jsonl");
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend_from_slice(&o.stdout);
    std::fs::write(&run, &bytes).unwrap();
    let r = netlab(&["render", run.to_str().unwrap(), "--lang", "en"]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(stdout(&r).contains("── Summary"));
    let mut c = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["render", "-", "--lang", "zh"])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    c.stdin.take().unwrap().write_all(&o.stdout).unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("── 小结"));
}

#[test]
fn no_output_file_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let keep = |name: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, format!("keep {name}")).unwrap();
        p
    };
    let (pcap, html) = (keep("keep.pcapng"), keep("keep.html"));
    // A run that fails on a bad input leaves the outputs it would have replaced as they were.
    let o = netlab(&[
        "dns-trace",
        "www.baidu.com",
        "--lab-zones",
        "/nonexistent-zones",
        "--pcap",
        pcap.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&pcap).unwrap(), "keep keep.pcapng");
    assert_eq!(std::fs::read_to_string(&html).unwrap(), "keep keep.html");
    // No half-written file is left beside them either.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // An output that is the input, or another output, is refused before anything is written.
    let o = netlab(&["dns-trace", "www.baidu.com", "--json"]);
    let run = dir.path().join("run.jsonl");
    std::fs::write(&run, &o.stdout).unwrap();
    let r = netlab(&[
        "render",
        run.to_str().unwrap(),
        "--html",
        run.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(2));
    assert!(
        stderr(&r).contains("already an input or another output"),
        "{}",
        stderr(&r)
    );
    assert_eq!(
        std::fs::read(&run).unwrap(),
        o.stdout,
        "the saved run is intact"
    );
    let both = dir.path().join("both");
    let r = netlab(&[
        "dns-trace",
        "www.baidu.com",
        "--pcap",
        both.to_str().unwrap(),
        "--html",
        both.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    // A run that ends well replaces the file in one rename.
    let r = netlab(&[
        "render",
        run.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(std::fs::read_to_string(&html)
        .unwrap()
        .starts_with("<!DOCTYPE html>"));
}

#[test]
fn a_named_pipe_with_no_reader_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("out.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let started = Instant::now();
    let o = netlab(&[
        "dns-trace",
        "www.baidu.com",
        "--html",
        fifo.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no reader"), "{}", stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_hosts_file_or_zone_file_that_never_ends_is_refused() {
    let started = Instant::now();
    let o = netlab(&["dns-trace", "www.baidu.com", "--hosts", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("larger than netlab reads"),
        "{}",
        stderr(&o)
    );
    // /dev/null is an empty hosts file, as before.
    let o = netlab(&["dns-trace", "www.baidu.com", "--hosts", "/dev/null"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.zone")).unwrap();
    let o = netlab(&[
        "dns-trace",
        "www.baidu.com",
        "--lab-zones",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("larger than netlab reads"),
        "{}",
        stderr(&o)
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "no endless read"
    );
}

#[test]
fn arp_resolve_refuses_what_arp_never_asks_for() {
    // Refused before any interface is touched: no frame is sent.
    for ip in ["255.255.255.255", "224.0.0.18", "0.0.0.0", "127.0.0.1"] {
        let o = netlab(&["arp-table", "--iface", "lo", "--resolve", ip]);
        assert_eq!(o.status.code(), Some(2), "{ip}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("ARP asks only for"),
            "{ip}: {}",
            stderr(&o)
        );
    }
}
