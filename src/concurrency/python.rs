//! Python's answers, from the system's python3: netlab writes a script to a
//! private directory, runs it, and reads back one line of JSON. The script
//! times CPU-bound work on one thread, two threads and two processes (the
//! GIL), the same work through ThreadPoolExecutor and ProcessPoolExecutor,
//! and shows a `threading.local` seen by two threads. It measures; netlab
//! tells.

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::private::RunDir;
use crate::text::tx;

/// The script. argv: the parent's pid (to die with it), seconds one unit of
/// work should take.
const SCRIPT: &str = r#"
import json, os, sys, threading, time
from concurrent.futures import ThreadPoolExecutor, ProcessPoolExecutor
import multiprocessing as mp

def die_with_parent(parent):
    # Killed with netlab: PR_SET_PDEATHSIG (1) with SIGKILL (9), where ctypes can.
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, 9)
    except Exception:
        pass
    if os.getppid() != parent:
        sys.exit(1)

def child_start(parent):
    # A pool worker or a Process: dies with the interpreter that started it.
    die_with_parent(parent)

def work_in_child(parent, n):
    child_start(parent)
    return work(n)

def work(n):
    s = 0
    for i in range(n):
        s += i * i
    return s

def timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t

def run_all(fs):
    for f in fs:
        f.start()
    for f in fs:
        f.join()

def main():
    die_with_parent(int(sys.argv[1]))
    target = float(sys.argv[2])
    n = 10000
    while True:
        d = timed(lambda: work(n))
        if d > 0.02:
            break
        n *= 2
    n = max(1, int(n * target / d))
    out = {
        "version": sys.version.split()[0],
        "implementation": sys.implementation.name,
        "gil_enabled": getattr(sys, "_is_gil_enabled", lambda: True)(),
        "switch_interval_ms": sys.getswitchinterval() * 1000,
        "start_method": mp.get_start_method(),
        "cpus": os.cpu_count(),
        "n": n,
    }
    out["serial_s"] = timed(lambda: (work(n), work(n)))
    c = time.process_time()
    out["threads_s"] = timed(lambda: run_all([threading.Thread(target=work, args=(n,)) for _ in range(2)]))
    out["threads_cpu_s"] = time.process_time() - c
    t = os.times()
    me = os.getpid()
    out["processes_s"] = timed(lambda: run_all([mp.Process(target=work_in_child, args=(me, n)) for _ in range(2)]))
    u = os.times()
    out["processes_cpu_s"] = (u.children_user - t.children_user) + (u.children_system - t.children_system)
    jobs = [n] * 4
    with ThreadPoolExecutor(max_workers=2) as ex:
        list(ex.map(work, [1, 1]))
        out["thread_pool_s"] = timed(lambda: list(ex.map(work, jobs)))
    with ProcessPoolExecutor(max_workers=2, initializer=child_start, initargs=(me,)) as ex:
        list(ex.map(work, [1, 1]))
        out["process_pool_s"] = timed(lambda: list(ex.map(work, jobs)))
    out["pool_jobs"] = len(jobs)

    local = threading.local()
    local.name = "main"
    class Shared:
        name = "main"
    both = threading.Barrier(2)
    seen = {}
    def show(name):
        local.name = name
        Shared.name = name
        both.wait()
        seen[name] = (local.name, Shared.name)
    run_all([threading.Thread(target=show, args=(x,)) for x in ("A", "B")])
    out["local_seen"] = [seen[x][0] for x in ("A", "B")]
    out["shared_seen"] = [seen[x][1] for x in ("A", "B")]
    out["main_after"] = local.name
    print(json.dumps(out), flush=True)

if __name__ == "__main__":
    main()
"#;

/// What python3 reported.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PyOut {
    /// python3's version.
    pub version: String,
    /// The implementation (`cpython`).
    pub implementation: String,
    /// Whether the GIL is on (always, before the optional free-threaded builds of 3.13).
    pub gil_enabled: bool,
    /// How often a thread holding the GIL is asked to hand it over (sys.getswitchinterval), ms.
    pub switch_interval_ms: f64,
    /// multiprocessing's start method (fork, forkserver, spawn).
    pub start_method: String,
    /// os.cpu_count().
    pub cpus: Option<u64>,
    /// Loop rounds in one unit of work, calibrated by the script.
    pub n: u64,
    /// Two units on one thread, one after the other, s.
    pub serial_s: f64,
    /// One unit on each of two threads at once, s.
    pub threads_s: f64,
    /// CPU time the process used meanwhile (time.process_time: all its threads), s.
    pub threads_cpu_s: f64,
    /// One unit in each of two processes at once, s.
    pub processes_s: f64,
    /// CPU time the two child processes used (os.times, children reaped), s.
    pub processes_cpu_s: f64,
    /// `pool_jobs` units through ThreadPoolExecutor(max_workers=2), s.
    pub thread_pool_s: f64,
    /// The same through ProcessPoolExecutor(max_workers=2), s (its workers started beforehand).
    pub process_pool_s: f64,
    /// Units given to each pool.
    pub pool_jobs: u64,
    /// What each of two threads read from one threading.local after both had set it.
    pub local_seen: Vec<String>,
    /// What each read from a plain shared attribute after both had set it.
    pub shared_seen: Vec<String>,
    /// The main thread's threading.local value afterwards.
    pub main_after: String,
}

impl PyOut {
    /// serial / two threads.
    pub fn threads_speedup(&self) -> f64 {
        self.serial_s / self.threads_s.max(1e-9)
    }
    /// serial / two processes.
    pub fn processes_speedup(&self) -> f64 {
        self.serial_s / self.processes_s.max(1e-9)
    }
}

/// SIGKILL to python3's process group (it and every worker it started), then reap it.
fn kill_group(child: &mut std::process::Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The python3 netlab asks: the one given, else the system's
/// (/usr/bin/python3, not a per-user shim earlier on PATH), else python3 on PATH.
pub fn find(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = given {
        return p.is_file().then(|| p.to_path_buf());
    }
    let system = ["/usr/bin/python3", "/bin/python3"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    system.or_else(|| {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join("python3"))
                .find(|p| p.is_file())
        })
    })
}

/// Run the script with `python` (one unit of work taking about `unit`);
/// stop early, killing it, when `stop` is set.
pub fn run(python: &Path, unit: Duration, stop: &AtomicBool) -> Result<PyOut> {
    let dir = RunDir::create("concurrency")?;
    let script = dir.write_new("gil.py", SCRIPT)?;
    let mut child = Command::new(python)
        // -E: ignore PYTHON* variables; -s: no user site-packages.
        .args(["-E", "-s"])
        .arg(&script)
        .arg(std::process::id().to_string())
        .arg(format!("{:.3}", unit.as_secs_f64()))
        .current_dir(dir.path())
        // A process group of its own: stopping it stops its pool workers too.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::system(tx("run", "运行"), python.display(), e))?;
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    // Read both pipes off this thread so a chatty stderr cannot stall python.
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let ereader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = err.as_mut() {
            let _ = e.take(64 * 1024).read_to_string(&mut s);
        }
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child
            .try_wait()
            .map_err(|e| Error::system(tx("wait for", "等待"), python.display(), e))?
        {
            break Some(s);
        }
        if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
            kill_group(&mut child);
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // Workers python left behind would hold the pipes open: end the group.
    kill_group(&mut child);
    let text = reader.join().unwrap_or_default();
    let etext = ereader.join().unwrap_or_default();
    drop(dir);
    let Some(status) = status else {
        return Err(Error::Internal(format!(
            "{} did not finish (stopped or over two minutes)",
            python.display()
        )));
    };
    let line = text.lines().rev().find(|l| l.starts_with('{'));
    match (status.success(), line) {
        (true, Some(l)) => {
            serde_json::from_str(l).map_err(|e| Error::Internal(format!("python3 said {l:?}: {e}")))
        }
        _ => Err(Error::system(
            tx("run the GIL script with", "用它运行 GIL 脚本："),
            python.display(),
            std::io::Error::other(format!(
                "{status}: {}",
                etext.lines().last().unwrap_or("no output")
            )),
        )),
    }
}
