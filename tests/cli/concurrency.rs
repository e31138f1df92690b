//! netlab concurrency: processes, threads and tasks; serial, parallel and
//! interleaved work; lost updates and a futex mutex; flock between
//! processes; python3's GIL, pools and threading.local. Costs are shown,
//! never compared here (timing belongs in benches/concurrency.rs); what is
//! checked is what each call did.

use std::collections::BTreeSet;
use std::io::BufRead as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::*;

/// The step whose data has `key`.
fn step<'a>(lines: &'a [Value], key: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["kind"] == "step" && !l["data"][key].is_null())
        .unwrap_or_else(|| panic!("no step with {key}"))
}

/// The step of threading.local and thread_local!.
fn locals_step(lines: &[Value]) -> &Value {
    lines
        .iter()
        .find(|l| l["kind"] == "step" && l["data"]["rust"]["local_seen"].is_array())
        .expect("a step with thread_local!")
}

/// What every run must show, python3 or not.
fn check_run(o: &Output, n: u64) -> Vec<Value> {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    let lines = json_lines(o);
    let s = lines.last().unwrap();
    assert_eq!(s["kind"], "summary");
    assert_eq!(s["ok"], true, "{s}");
    // The summary's spawn entries: two process calls, threads, tasks; N each.
    let spawn = s["spawn"].as_array().unwrap();
    let kinds: Vec<&str> = spawn.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["process", "process", "thread", "task"]);
    let calls: Vec<&str> = spawn.iter().map(|e| e["call"].as_str().unwrap()).collect();
    assert_eq!(calls[..2], ["fork+exec", "posix_spawn"]);
    for e in spawn {
        assert_eq!(e["n"], n, "{e}");
        assert!(e["us_each"].as_f64().unwrap() > 0.0, "{e}");
        assert!(e["rss_kb_each"].as_f64().unwrap() >= 0.0, "{e}");
    }
    // Step 1: every one seen up; one process id each; one thread id each in
    // this process; all tasks on one thread, switched in user space.
    let one = &step(&lines, "spawned")["data"]["spawned"];
    for e in one.as_array().unwrap() {
        assert_eq!(e["up"], n, "all up: {e}");
        match e["kind"].as_str().unwrap() {
            "process" => {
                assert_eq!(e["kernel_ids"], n, "{e}");
                // A child's memory is its own VmRSS: never zero for a live cat.
                assert!(e["rss_kb_each"].as_f64().unwrap() > 0.0, "{e}");
                // Each cat slept in read() (state S) before it was read: a voluntary switch each.
                assert!(e["voluntary"].as_u64().unwrap() >= n, "{e}");
            }
            "thread" => {
                assert_eq!(e["kernel_ids"], n, "{e}");
                assert!(e["voluntary"].as_u64().unwrap() >= n, "{e}");
            }
            "task" => {
                assert_eq!(e["kernel_ids"], 1, "{e}");
                // Each task polled when it starts and again when the gate opens.
                assert!(e["user_switches"].as_u64().unwrap() >= 2 * n, "{e}");
                assert!(e["future_bytes"].as_u64().unwrap() > 0, "{e}");
            }
            k => panic!("kind {k}"),
        }
    }
    // Step 2: the same work split; the tasks took turns on one thread.
    let p = &step(&lines, "order")["data"];
    assert_eq!(s["parallel"]["threads"], p["cores"]);
    assert_eq!(p["threads"]["workers"], p["cores"]);
    let workers = p["tasks"]["workers"].as_u64().unwrap();
    assert!(workers >= 2);
    assert_eq!(p["chunks"], workers * 16, "{p}");
    let order: BTreeSet<u64> = p["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(order, (1..=workers).collect(), "every task ran: {p}");
    assert!(p["task_switches"].as_u64().unwrap() >= workers - 1, "{p}");
    for k in ["serial", "threads", "tasks"] {
        assert!(p[k]["cpu_ms"].as_f64().unwrap() > 0.0, "{k}: {p}");
    }
    // Step 3: the mutex makes the count exact; the unlocked count is never more.
    let lost = &s["lost_updates"];
    assert_eq!(lost["expected"], 200_000);
    assert_eq!(lost["with_lock"], lost["expected"], "{lost}");
    assert!(lost["without_lock"].as_u64().unwrap() <= 200_000);
    let race = &step(&lines, "futex")["data"];
    let f = &race["futex"];
    assert_eq!(f["locks"], 200_000, "{f}");
    if f["contended"] == 0 {
        assert_eq!(f["futex_wait"], 0, "no contention, no sleeping: {f}");
        assert_eq!(f["futex_wake"], 0, "{f}");
    }
    // What the text says about the unlocked run follows its count.
    let race_text = step(&lines, "futex")["facts"][0]["value"]["en"]
        .as_str()
        .unwrap()
        .to_string();
    if lost["without_lock"] == lost["expected"] {
        assert!(race_text.contains("none lost"), "{race_text}");
    } else {
        assert!(race_text.contains("updates lost"), "{race_text}");
    }
    // The second process was queued behind the lock and slept until it was let go.
    let fl = &step(&lines, "waiter_pid")["data"];
    assert_eq!(fl["seen_blocked"], true, "{fl}");
    assert_eq!(fl["waiter_state"], "S", "{fl}");
    assert!(
        fl["waited_ms"].as_f64().unwrap() >= fl["held_ms"].as_f64().unwrap() - 1.0,
        "it cannot get the lock before the holder lets go: {fl}"
    );
    let queued = fl["proc_locks"].as_array().unwrap();
    assert!(
        queued.iter().any(|l| l.as_str().unwrap().contains("->")),
        "{fl}"
    );
    // thread_local!: each thread its own value; the shared one, the last writer's.
    let locals = &locals_step(&lines)["data"]["rust"];
    assert_eq!(locals["local_seen"], serde_json::json!(["A", "B"]));
    assert_eq!(locals["main_after"], "main");
    let shared = locals["shared_seen"].as_array().unwrap();
    assert_eq!(shared[0], shared[1], "{locals}");
    lines
}

#[test]
fn every_part_does_what_its_calls_say() {
    let o = netlab(&["concurrency", "--json", "--n", "20"]);
    let lines = check_run(&o, 20);
    if !require("python3 (Debian package python3)", python()) {
        return;
    }
    let s = lines.last().unwrap();
    let gil = &s["gil"];
    assert!(gil["threads_speedup"].as_f64().unwrap() > 0.0, "{s}");
    assert!(gil["processes_speedup"].as_f64().unwrap() > 0.0, "{s}");
    // python3's own threading.local, as its two threads read it.
    let l = &locals_step(&lines)["data"]["python"];
    assert_eq!(l["local_seen"], serde_json::json!(["A", "B"]), "{l}");
    assert_eq!(l["main_after"], "main");
    let shared = l["shared_seen"].as_array().unwrap();
    assert_eq!(shared[0], shared[1], "{l}");
    // Both pools ran the same jobs.
    let pools = &step(&lines, "jobs")["data"];
    assert_eq!(pools["jobs"], 4);
    assert!(pools["thread_pool_ms"].as_f64().unwrap() > 0.0);
    assert!(pools["process_pool_ms"].as_f64().unwrap() > 0.0);
    let gs = &step(&lines, "measured")["data"]["measured"];
    // The threads never used more than one core's CPU at a time on average
    // while the GIL is on (a fact of the lock, not of speed).
    if gs["gil_enabled"] == true {
        let busy = gs["threads_cpu_s"].as_f64().unwrap() / gs["threads_s"].as_f64().unwrap();
        assert!(
            busy < 1.1,
            "two threads under the GIL kept {busy} cores busy"
        );
    }
}

fn python() -> bool {
    std::path::Path::new("/usr/bin/python3").exists() || have("python3")
}

#[test]
fn without_python3_it_says_what_to_install_and_goes_on() {
    let o = netlab(&[
        "concurrency",
        "--json",
        "--n",
        "3",
        "--python",
        "/nonexistent/python3",
    ]);
    let lines = check_run(&o, 3);
    assert!(lines.last().unwrap()["gil"].is_null());
    let g = step(&lines, "missing");
    assert!(g["data"]["measured"].is_null());
    let said = g["facts"][0]["value"]["en"].as_str().unwrap();
    assert!(
        said.contains("no python3 at /nonexistent/python3") && said.contains("apt install python3"),
        "{said}"
    );
    // No pools step without python3; the Rust half is there.
    assert!(!lines.iter().any(|l| !l["data"]["jobs"].is_null()));
    assert!(!g["data"]["rust"]["speedup"].is_null());
    assert!(g["facts"][0]["value"]["zh"]
        .as_str()
        .unwrap()
        .contains("apt install python3"));
}

#[test]
fn the_mutex_futex_calls_are_real_system_calls() {
    // strace counts every futex call the process made (the runtime's and
    // std's too): at least as many as netlab's mutex says it made.
    if !require("strace (Debian package strace)", have("strace")) {
        return;
    }
    let out = tempfile::NamedTempFile::new().unwrap();
    let o = Command::new("strace")
        .args(["-f", "-qq", "-c", "-e", "trace=futex", "-o"])
        .arg(out.path())
        .arg(env!("CARGO_BIN_EXE_netlab"))
        .args([
            "concurrency",
            "--json",
            "--n",
            "2",
            "--python",
            "/nonexistent/python3",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let lines = json_lines(&o);
    let f = &step(&lines, "futex")["data"]["futex"];
    let mine = f["futex_wait"].as_u64().unwrap() + f["futex_wake"].as_u64().unwrap();
    let report = std::fs::read_to_string(out.path()).unwrap();
    let calls: u64 = report
        .lines()
        .find(|l| l.trim_end().ends_with("futex"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no futex line:\n{report}"));
    assert!(calls >= mine, "strace saw {calls}, netlab counted {mine}");
}

#[test]
fn as_nobody_it_runs_the_same() {
    let o = netlab_as_nobody(&["concurrency", "--json", "--n", "5"]);
    check_run(&o, 5);
}

#[test]
fn n_is_bounded() {
    for bad in ["0", "501", "many"] {
        let o = netlab(&["concurrency", "--n", bad]);
        assert_eq!(o.status.code(), Some(2), "--n {bad}");
        let e = stderr(&o);
        assert!(e.starts_with("netlab: error:") && e.contains("--n"), "{e}");
    }
}

/// Every process descended from `root`, as /proc shows them now.
fn descendants(root: u32) -> BTreeSet<u32> {
    let mut parent = std::collections::HashMap::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pp) = ppid {
            parent.insert(pid, pp);
        }
    }
    let mut out = BTreeSet::new();
    let mut grew = true;
    while grew {
        grew = false;
        for (pid, pp) in &parent {
            if (*pp == root || out.contains(pp)) && out.insert(*pid) {
                grew = true;
            }
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// This run's private directories (its python script, its lock file).
fn run_dirs(pid: u32) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for base in [std::env::temp_dir()]
        .into_iter()
        .chain(std::env::var_os("XDG_RUNTIME_DIR").map(Into::into))
    {
        for e in std::fs::read_dir(base).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("netlab-concurrency-")
                && std::fs::read_to_string(e.path().join("owner.pid"))
                    .is_ok_and(|p| p.trim() == pid.to_string())
            {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn interrupted_it_leaves_nothing_behind() {
    for sig in ["INT", "TERM", "KILL", "INT", "TERM", "KILL"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_netlab"))
            .args(["concurrency", "--json", "--n", "50"])
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        // Watch the children it starts until a random point of the run.
        let mut seen = BTreeSet::new();
        let until = Instant::now() + Duration::from_millis(rand::random_range(0..3500));
        while Instant::now() < until {
            seen.extend(descendants(pid));
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut dirs = run_dirs(pid);
        Command::new("kill")
            .args(["-s", sig, &pid.to_string()])
            .status()
            .unwrap();
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        let _ = out.lines().count();
        let _ = child.wait();
        dirs.extend(run_dirs(pid));
        // Every process it started is gone (cat reads end of file, python3
        // dies with its parent, the flock peer gets the lock and exits).
        let t = Instant::now();
        loop {
            let left: Vec<u32> = seen.iter().copied().filter(|p| alive(*p)).collect();
            if left.is_empty() {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "{sig}: processes left: {left:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        if sig == "KILL" {
            // A killed run cannot clean up; the next run removes what it left.
            let o = netlab(&[
                "concurrency",
                "--json",
                "--n",
                "1",
                "--python",
                "/nonexistent",
            ]);
            assert!(o.status.success(), "{}", stderr(&o));
        }
        for d in dirs {
            assert!(!d.exists(), "{sig}: {} left", d.display());
        }
    }
}
