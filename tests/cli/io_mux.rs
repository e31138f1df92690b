//! netlab io-mux: blocking and non-blocking, select/poll/epoll over many
//! connections, LT and ET, threads against epoll. Costs are measured and
//! shown, never compared here (timing belongs in benches/io_mux.rs); what is
//! checked is what the calls did.

use std::io::BufReader;
use std::process::Stdio;
use std::time::{Duration, Instant};

use std::collections::BTreeSet;

use super::*;

fn summary(o: &Output) -> Value {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    let lines = json_lines(o);
    let s = lines.last().unwrap().clone();
    assert_eq!(s["kind"], "summary");
    s
}

#[test]
fn every_part_does_what_the_kernel_says_it_does() {
    let o = netlab(&[
        "io-mux",
        "--json",
        "--conns",
        "10,100,1100",
        "--clients",
        "200",
    ]);
    let s = summary(&o);
    assert_eq!(s["select_fd_limit"], 1024);
    // Blocking slept until the write (300 ms later); non-blocking said EAGAIN.
    assert!(s["blocking_ms"].as_f64().unwrap() >= 295.0, "{s}");
    assert!(s["eagain_us"].as_f64().unwrap() > 0.0);
    let lines = json_lines(&o);
    let first = lines.iter().find(|l| l["number"] == 1).unwrap();
    assert_eq!(first["data"]["errno"], 11, "{first}");
    assert_eq!(first["data"]["state"], "S", "the blocked reader sleeps");
    // Captured segments are between the ids `client` and `server`, whatever the language.
    super::transport::assert_participant_ids(&lines, &["client", "server"]);
    let step3 = lines
        .iter()
        .find(|l| l["data"]["triggers"].is_object())
        .unwrap();
    assert_eq!(step3["data"]["triggers"]["lt_wakeups"], 3);
    // The chart's facts are the same at any width (no terminal in the
    // record), and no value is padded for alignment.
    let chart = |width: &str| -> Vec<Value> {
        let o = netlab(&[
            "io-mux",
            "--json",
            "--conns",
            "10",
            "--clients",
            "5",
            "--width",
            width,
        ]);
        json_lines(&o)
            .into_iter()
            .find(|l| l["data"]["points"].is_array())
            .unwrap()["facts"]
            .as_array()
            .unwrap()
            .clone()
    };
    let (narrow, wide) = (chart("60"), chart("200"));
    let labels = |f: &[Value]| f.iter().map(|f| f["label"].clone()).collect::<Vec<_>>();
    assert_eq!(labels(&narrow), labels(&wide));
    for f in narrow.iter().chain(&wide) {
        for lang in ["en", "zh"] {
            let v = f["value"][lang].as_str().unwrap();
            assert!(
                !v.contains("\u{a0}\u{a0}") && !v.contains("  ") && v.trim() == v,
                "padded: {v:?}"
            );
        }
    }
    // One point per size, each with all three calls measured but select past FD_SETSIZE.
    let points = s["points"].as_array().unwrap();
    let ns: Vec<u64> = points.iter().map(|p| p["n"].as_u64().unwrap()).collect();
    assert_eq!(ns, [10, 100, 1100]);
    for p in points {
        assert!(p["poll_us"].as_f64().unwrap() > 0.0, "{p}");
        assert!(p["epoll_us"].as_f64().unwrap() > 0.0, "{p}");
        let highest = p["highest_fd"].as_i64().unwrap();
        // The idle connections' client ends are in the peer process: one descriptor each here.
        assert!(highest as u64 >= p["n"].as_u64().unwrap(), "{p}");
        if highest < 1024 {
            assert!(p["select_us"].as_f64().unwrap() > 0.0, "{p}");
            assert!(p["first_beyond"].is_null(), "{p}");
        } else {
            assert!(p["select_us"].is_null(), "select cannot: {p}");
            assert!(p["first_beyond"].as_i64().unwrap() >= 1024, "{p}");
        }
    }
    assert!(
        points[2]["select_us"].is_null(),
        "1 100 connections pass fd 1024"
    );
    assert!(s["floor_us"].as_f64().unwrap() > 0.0);
    // LT wakes at every wait while data is left; ET once.
    assert_eq!(s["lt_wakeups"], 3);
    assert_eq!(s["et_wakeups"], 1);
    // Both servers served everyone; a thread each against one thread.
    assert_eq!(s["clients"], 200);
    for k in ["thread_per_conn", "epoll"] {
        assert_eq!(s[k]["served"], 200, "{k}: {s}");
        assert!(s[k]["ms"].as_f64().unwrap() > 0.0);
    }
    assert!(
        s["thread_per_conn"]["threads"].as_u64().unwrap() >= 200,
        "{s}"
    );
    assert!(s["epoll"]["threads"].as_u64().unwrap() <= 2, "{s}");
    // Thread stacks are reserved address space, 1000 of them or 200.
    assert!(
        s["thread_per_conn"]["vm_kb"].as_u64().unwrap() > 200 * 1024,
        "{s}"
    );
}

#[test]
fn the_text_draws_the_chart_and_names_fd_setsize() {
    for lang in ["en", "zh"] {
        let o = netlab(&[
            "io-mux",
            "--conns",
            "10,1100",
            "--clients",
            "50",
            "--lang",
            lang,
            "--width",
            "80",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let t = stdout(&o);
        for want in [
            "N=10\u{a0}select",
            "N=1100",
            "select",
            "poll",
            "epoll",
            "█",
            "FD_SETSIZE (1024)",
        ] {
            let want = if lang == "zh" && want == "FD_SETSIZE (1024)" {
                "FD_SETSIZE（1024）"
            } else {
                want
            };
            assert!(t.contains(want), "{lang}: no {want:?}:\n{t}");
        }
        // Each bar row is one line, its label naming N and the call: the
        // figure sits at its end, not wrapped below, and every bar starts in
        // the same column.
        let bars: Vec<&str> = t
            .lines()
            .filter(|l| {
                ["\u{a0}select", "\u{a0}poll", "\u{a0}epoll"]
                    .iter()
                    .any(|c| l.contains(c))
                    && !l.contains('✗')
            })
            .collect();
        assert_eq!(bars.len(), 5, "{t}");
        for l in &bars {
            assert!(l.ends_with("µs") || l.ends_with("ms"), "{lang}: {l:?}");
        }
        let starts: BTreeSet<usize> = bars
            .iter()
            // Labels and spaces before a bar are one column a character.
            .map(|l| {
                let bar = l.find(|c: char| "█▏▎▍▌▋▊▉".contains(c)).unwrap();
                l[..bar].chars().count()
            })
            .collect();
        assert_eq!(starts.len(), 1, "{lang}: one baseline: {bars:#?}");
        assert!(
            t.contains("✗"),
            "select's row at N=1100 says it cannot:\n{t}"
        );
    }
}

#[test]
fn the_descriptor_limit_is_raised_and_sizes_beyond_it_are_left_out() {
    // A soft limit below the hard one is raised to it.
    let o = Command::new("sh")
        .args(["-c", "ulimit -Sn 256 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_netlab"))
        .args(["io-mux", "--json", "--conns", "10", "--clients", "10"])
        .output()
        .unwrap();
    let s = summary(&o);
    assert_eq!(s["fd_limit"]["before"], 256, "{s}");
    assert_eq!(s["fd_limit"]["after"], s["fd_limit"]["hard"], "{s}");
    // A hard limit too low for a size: that size is left out, and said so.
    let o = Command::new("sh")
        .args(["-c", "ulimit -n 400 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_netlab"))
        .args([
            "io-mux",
            "--conns",
            "10,1000",
            "--clients",
            "10",
            "--lang",
            "en",
            "--width",
            "80",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = stdout(&o);
    assert!(t.contains("N = 1000 left out"), "{t}");
    assert!(t.contains("N=10\u{a0}select"), "{t}");
}

#[test]
fn it_runs_as_nobody() {
    if !privileged() {
        return;
    }
    let o = netlab_as_nobody(&["io-mux", "--json", "--conns", "10,100", "--clients", "20"]);
    let s = summary(&o);
    assert_eq!(s["points"].as_array().unwrap().len(), 2);
    assert_eq!(s["epoll"]["served"], 20);
}

#[test]
fn the_capture_holds_the_blocked_reads_segment_and_the_resets() {
    if !privileged() || !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("mux.pcapng");
    let o = netlab(&[
        "io-mux",
        "--json",
        "--conns",
        "10",
        "--clients",
        "10",
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    summary(&o);
    let count = |filter: &str| tshark_count(&pcap, filter);
    // Step 1: the 6 bytes the blocked recv() waited for.
    assert!(count("tcp.len == 6") >= 1, "the blocked read's segment");
    // Step 3: 100 bytes written; the two connections closed with data unread end in RSTs.
    assert!(count("tcp.len == 100") >= 2, "the LT and ET writes");
    assert!(
        count("tcp.flags.reset == 1") >= 2,
        "unread data: RST on close"
    );
    assert_eq!(count("_ws.malformed"), 0);
}

#[test]
fn the_peer_is_hidden_and_says_when_it_cannot_connect() {
    let help = stdout(&netlab(&["--help"]));
    assert!(help.contains("io-mux"), "{help}");
    assert!(!help.contains("io-mux-peer"), "{help}");
    let bash = stdout(&netlab(&["completions", "bash"]));
    assert!(!bash.contains("io-mux-peer"));
    assert!(bash.contains("io-mux"));
    // A port nobody listens on: the peer answers with the error, exit 2.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap().to_string();
    drop(free);
    let o = netlab_cmd()
        .args(["io-mux-peer", &addr])
        .write_stdin("1\n")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).starts_with("err after 0:"), "{}", stdout(&o));
}

#[test]
fn interrupted_io_mux_leaves_no_peer_behind() {
    use std::io::BufRead as _;
    for sig in ["INT", "TERM", "KILL"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_netlab"))
            .args(["io-mux", "--json", "--conns", "5000", "--clients", "10"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        // The first step is out; the peer starts for step 2 and ends before it is printed.
        out.read_line(&mut line).unwrap();
        let t = Instant::now();
        let mut peers = Vec::new();
        while peers.is_empty() && t.elapsed() < Duration::from_secs(5) {
            peers = children_of(pid);
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!peers.is_empty(), "{sig}: the peer process started");
        std::thread::sleep(Duration::from_millis(rand::random_range(0..200)));
        Command::new("kill")
            .args(["-s", sig, &pid.to_string()])
            .status()
            .unwrap();
        let _ = child.wait();
        let t = Instant::now();
        while peers.iter().any(|p| alive(*p)) && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        for p in peers {
            assert!(!alive(p), "{sig}: peer {p} outlived netlab");
        }
    }
}

/// Processes whose parent is `pid`.
pub(crate) fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(") ")?
                        .1
                        .split_whitespace()
                        .nth(1)?
                        .parse::<u32>()
                        .ok()
                })
                == Some(pid)
        })
        .collect()
}

/// Running, not a zombie waiting to be reaped.
pub(crate) fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| netlab::transport::mux::thread_state(&s))
        .is_some_and(|c| c != 'Z')
}

#[test]
fn too_few_threads_is_a_clear_error_not_a_panic() {
    // RLIMIT_NPROC binds an ordinary user, not root: run as nobody with a low one.
    if !privileged() || !require("setpriv (util-linux)", have("setpriv")) {
        return;
    }
    let bin = world_executable_binary();
    let o = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "bash",
            "-c",
        ])
        .arg("ulimit -u 100 && exec \"$0\" io-mux --conns 10 --clients 400")
        .arg(&bin)
        .current_dir("/")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("a thread per connection") && e.contains("ulimit -u"),
        "{e}"
    );
    assert!(!e.contains("panicked"), "{e}");
}
