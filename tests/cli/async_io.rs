//! netlab async: readiness against completion, one tokio thread serving a
//! thousand connections, the same served by Python's asyncio. What is
//! checked is what each call did (counts, threads, answers), never how fast:
//! timing belongs in benches/async_io.rs.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::io_mux::{alive, children_of};
use super::*;

fn summary(lines: &[Value]) -> Value {
    let s = lines.last().unwrap().clone();
    assert_eq!(s["kind"], "summary", "{s}");
    s
}

/// The step whose data has `key`.
fn step_with<'a>(lines: &'a [Value], key: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["kind"] == "step" && !l["data"][key].is_null())
        .unwrap_or_else(|| panic!("no step with {key}"))
}

fn calls(v: &Value, name: &str) -> u64 {
    v.as_array()
        .unwrap()
        .iter()
        .filter(|c| c["call"] == name)
        .map(|c| c["count"].as_u64().unwrap())
        .sum()
}

/// What io_uring_disabled says about a user: Some(allowed) when it decides, None when it
/// leaves it to the probe (0, or 1 for root).
fn sysctl_allows(root: bool) -> Option<bool> {
    match std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()?
        .trim()
    {
        "2" => Some(false),
        "1" if !root => Some(false),
        _ => None,
    }
}

#[test]
fn every_connection_is_answered_by_one_thread_and_every_call_counted() {
    let o = netlab(&["async", "--json", "--conns", "1000", "--reads", "50"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let s = summary(&lines);
    assert_eq!(s["ok"], true, "{s}");
    // Every client counted its right answer; one thread in the process.
    assert_eq!(s["connections"], 1000, "{s}");
    assert_eq!(s["threads"], 1, "{s}");
    let t = &step_with(&lines, "peak_open")["data"];
    assert_eq!(t["peak_open"], 1000, "all open at once: {t}");
    assert_eq!(t["replied"], 1000, "{t}");
    assert_eq!(t["serving_threads"], 1, "{t}");
    assert!(
        t["fds"].as_u64().unwrap() >= 1000,
        "one per connection: {t}"
    );
    // Readiness: told, then a read() per socket; the bytes were still the kernel's.
    let r = &step_with(&lines, "first_queued")["data"];
    assert_eq!(r["sockets"], 50);
    assert_eq!(r["intact"], 50, "{r}");
    assert_eq!(r["first_queued"], 16, "{r}");
    assert_eq!(calls(&r["calls"], "epoll_create1"), 1);
    assert_eq!(calls(&r["calls"], "epoll_ctl"), 50);
    assert!(calls(&r["calls"], "epoll_wait") >= 1);
    assert!(calls(&r["calls"], "read") >= 50, "a read per socket: {r}");
    assert_eq!(r["bytes_read"], 50 * 16);
    assert_eq!(s["readiness_calls"], r["calls"]);
    // The run tags the four questions its --help names, and only those.
    let mut tagged: Vec<String> = lines
        .iter()
        .flat_map(|l| l["questions"].as_array().unwrap().clone())
        .map(|q| q.as_str().unwrap().to_string())
        .collect();
    tagged.sort();
    tagged.dedup();
    assert_eq!(tagged, ["Q25", "Q37", "Q38", "Q39"]);
}

#[test]
fn completion_is_what_the_kernel_allows_and_makes_no_read() {
    let o = netlab(&["async", "--json", "--conns", "20", "--reads", "40"]);
    let lines = json_lines(&o);
    let s = summary(&lines);
    // The same probe the demo makes: a ring of two entries.
    let allowed = netlab::sys::uring::probe().is_ok();
    let root = nix::unistd::geteuid().is_root();
    if let Some(a) = sysctl_allows(root) {
        assert_eq!(allowed, a, "io_uring_disabled decides");
    }
    assert_eq!(s["completion"], allowed, "{s}");
    let c = &step_with(&lines, "access")["data"];
    assert_eq!(c["access"]["allowed"], allowed, "{c}");
    if allowed {
        let done = &c["completion"];
        assert_eq!(done["submitted"], 40, "one submit took them all: {done}");
        assert_eq!(done["done_at_submit"], 0, "nothing was sent yet: {done}");
        assert_eq!(done["completed"], 40);
        assert_eq!(done["intact"], 40, "the bytes were in the buffers: {done}");
        assert_eq!(done["bytes"], 40 * 16);
        assert_eq!(calls(&done["calls"], "read"), 0, "no read(): {done}");
        assert_eq!(calls(&done["calls"], "io_uring_setup"), 1);
        assert!(calls(&done["calls"], "io_uring_enter") >= 1, "the submit");
        assert_eq!(s["completion_calls"], done["calls"]);
    } else {
        assert!(c["completion"].is_null());
        assert!(c["access"]["errno"].as_i64().unwrap() > 0, "{c}");
        assert!(s["completion_calls"].is_null());
    }
}

#[test]
fn the_io_uring_calls_counted_are_the_ones_strace_sees() {
    if !require("strace (Debian package strace)", have("strace"))
        || netlab::sys::uring::probe().is_err()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    // No python3 on PATH: only netlab and its clients run.
    let strace = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v strace"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let o = Command::new(strace.trim())
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=io_uring_setup,io_uring_enter,epoll_ctl",
            "-o",
        ])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_netlab"))
        .args(["async", "--json", "--conns", "5", "--reads", "30"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let s = summary(&json_lines(&o));
    let seen = std::fs::read_to_string(&trace).unwrap();
    let n = |call: &str| {
        seen.lines()
            .filter(|l| l.contains(&format!("{call}(")))
            .count() as u64
    };
    let done = &s["completion_calls"];
    assert_eq!(n("io_uring_enter"), calls(done, "io_uring_enter"), "{seen}");
    // One more ring than the reads': the probe that asked whether io_uring is allowed.
    assert_eq!(
        n("io_uring_setup"),
        calls(done, "io_uring_setup") + 1,
        "{seen}"
    );
    // epoll_ctl: the readiness step's, and tokio's own for its sockets besides.
    assert!(n("epoll_ctl") >= calls(&s["readiness_calls"], "epoll_ctl"));
}

#[test]
fn asyncio_serves_every_connection_from_one_thread() {
    if !require("python3 (Debian package python3)", have("python3")) {
        return;
    }
    let o = netlab(&["async", "--json", "--conns", "1000", "--reads", "5"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let s = summary(&lines);
    let py = &s["python_asyncio"];
    assert_eq!(py["connections"], 1000, "{s}");
    assert_eq!(py["threads"], 1, "{s}");
    let d = &step_with(&lines, "python_asyncio")["data"]["python_asyncio"];
    assert_eq!(d["replied"], 1000, "counted by the script: {d}");
    assert_eq!(d["peak_open"], 1000, "{d}");
    assert_eq!(d["serving_threads"], 1, "{d}");
    assert!(d["version"].as_str().unwrap().starts_with('3'), "{d}");
}

#[test]
fn without_python3_it_says_what_to_install_and_goes_on() {
    let o = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args([
            "async", "--conns", "50", "--reads", "5", "--lang", "en", "--width", "200",
        ])
        .env("PATH", "/nonexistent")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = stdout(&o);
    assert!(t.contains("No python3"), "{t}");
    assert!(t.contains("apt install python3"), "{t}");
    assert!(t.contains("50 of 50 clients got their answer"), "{t}");
    let o = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["async", "--json", "--conns", "50", "--reads", "5"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let s = summary(&json_lines(&o));
    assert!(s["python_asyncio"].is_null(), "{s}");
    assert_eq!(s["connections"], 50);
}

#[test]
fn it_runs_as_nobody() {
    if !privileged() {
        return;
    }
    let o = netlab_as_nobody(&["async", "--json", "--conns", "1000", "--reads", "20"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let s = summary(&lines);
    assert_eq!(s["connections"], 1000, "{s}");
    assert_eq!(s["threads"], 1, "{s}");
    // nobody may use io_uring when root may and the sysctl lets everyone.
    let expected = match sysctl_allows(false) {
        Some(a) => a,
        None => netlab::sys::uring::probe().is_ok(),
    };
    assert_eq!(s["completion"], expected, "{s}");
    if have("python3") {
        assert_eq!(s["python_asyncio"]["connections"], 1000, "{s}");
    }
}

#[test]
fn the_descriptor_limit_is_raised_or_the_run_refused() {
    // A soft limit below the hard one is raised to it.
    let o = Command::new("/bin/sh")
        .args(["-c", "ulimit -Sn 256 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_netlab"))
        .args(["async", "--json", "--conns", "300", "--reads", "5"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let t = &step_with(&lines, "fd_limit")["data"]["fd_limit"];
    assert_eq!(t["before"], 256, "{t}");
    assert_eq!(t["after"], t["hard"], "{t}");
    assert_eq!(summary(&lines)["connections"], 300);
    // A hard limit too low: one clear line, exit 2, before anything runs.
    for (lang, want) in [("en", "ulimit -Hn"), ("zh", "硬限制")] {
        let o = Command::new("/bin/sh")
            .args(["-c", "ulimit -n 300 && exec \"$0\" \"$@\""])
            .arg(env!("CARGO_BIN_EXE_netlab"))
            .args(["async", "--conns", "1000", "--lang", lang])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let e = stderr(&o);
        assert_eq!(e.trim().lines().count(), 1, "{e}");
        assert!(e.contains(want) && e.contains("--conns 1000"), "{e}");
        assert!(stdout(&o).is_empty(), "nothing ran");
    }
}

/// This user's private directories of `async` runs made by process `pid`.
fn dirs_of(pid: u32) -> Vec<std::path::PathBuf> {
    let base = netlab::private::base();
    std::fs::read_dir(&base)
        .map(|r| {
            r.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("netlab-async-"))
                        && std::fs::read_to_string(p.join("owner.pid"))
                            .is_ok_and(|s| s.trim() == pid.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn interrupted_async_leaves_nothing_behind() {
    for sig in ["INT", "TERM", "KILL"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_netlab"))
            .args(["async", "--json", "--conns", "3000", "--reads", "5"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        // The clients (and python3, where there is one) start after the first steps.
        let t = Instant::now();
        let mut seen: Vec<u32> = Vec::new();
        while seen.is_empty() && t.elapsed() < Duration::from_secs(10) {
            seen = children_of(pid);
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(!seen.is_empty(), "{sig}: the clients started");
        let wait = Duration::from_millis(rand::random_range(0..600));
        let t = Instant::now();
        while t.elapsed() < wait {
            for c in children_of(pid) {
                if !seen.contains(&c) {
                    seen.push(c);
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Command::new("kill")
            .args(["-s", sig, &pid.to_string()])
            .status()
            .unwrap();
        let _ = child.wait();
        let t = Instant::now();
        while seen.iter().any(|p| alive(*p)) && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        for p in &seen {
            assert!(!alive(*p), "{sig}: child {p} outlived netlab");
        }
        // A directory left by a run killed while python3 was reading its
        // script goes with the next run.
        if !dirs_of(pid).is_empty() {
            let o = Command::new(env!("CARGO_BIN_EXE_netlab"))
                .args(["async", "--json", "--conns", "5", "--reads", "1"])
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        }
        assert!(dirs_of(pid).is_empty(), "{sig}: {:?}", dirs_of(pid));
    }
}

#[test]
fn the_text_shows_the_calls_the_threads_and_the_code_in_both_languages() {
    for (lang, wants) in [
        (
            "en",
            &[
                "epoll_wait",
                "read ×",
                "io_uring",
                "/proc/self/task",
                "`async fn answer(",
                "monkey.patch_all()",
                "addCallback",
                "correcting the notes",
            ][..],
        ),
        (
            "zh",
            &[
                "epoll_wait",
                "read ×",
                "io_uring",
                "/proc/self/task",
                "`async fn answer(",
                "monkey.patch_all()",
                "addCallback",
                "纠正笔记",
                "asynio",
            ][..],
        ),
    ] {
        let o = netlab(&[
            "async", "--conns", "100", "--reads", "10", "--lang", lang, "--width", "80",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let t = stdout(&o);
        for w in wants {
            assert!(t.contains(w), "{lang}: no {w:?}:\n{t}");
        }
        // Code keeps its indentation (no-break spaces), each line whole.
        let nb = "\u{a0}".repeat(4);
        for code in [
            format!("`{nb}writer.write(REPLY)`"),
            format!("`{nb}s.write_all(REPLY).await`"),
            format!("`{nb}{nb}self.request += data`"),
            "`StreamServer(listener, answer).serve_forever()`".to_string(),
        ] {
            assert!(
                t.lines().any(|l| l.trim() == code),
                "{lang}: no line {code:?}:\n{t}"
            );
        }
    }
}
