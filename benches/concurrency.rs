//! netlab concurrency's start-up costs against a plain Rust microbenchmark
//! of the same calls, in the same run: `cargo bench --bench concurrency`.
//!
//! The plain side is written here with libc and std directly, not with
//! netlab's code: N children of /bin/cat started by fork()+execv() (the
//! parent waiting on a close-on-exec pipe until each exec has succeeded) and
//! by posix_spawn(), N std threads and N tokio tasks on a current-thread
//! runtime, each kept alive until all are up, as netlab does. Then
//! `netlab concurrency --n N` runs and reports its own figures; the two
//! take turns, twice each, and each ratio is netlab's µs per start over the
//! plain one (the better of each side's two runs). netlab reads /proc
//! outside the timed part, so the ratios should stay near 1 (target ≤ 1.5×);
//! its tasks also record which thread ran them, inside the timed part.

#![allow(unsafe_code)]

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;

const N: usize = 100;

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: fds is a writable array of two ints.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just created and are owned here.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn reap(children: Vec<(libc::pid_t, OwnedFd)>) {
    let pids: Vec<libc::pid_t> = children.iter().map(|c| c.0).collect();
    drop(children);
    for p in pids {
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(p, std::ptr::null_mut(), 0) };
    }
}

/// µs per process, fork()+execv() of cat with an empty pipe on stdin.
fn fork_exec() -> f64 {
    let cat = CString::new("/bin/cat").unwrap();
    let argv = [cat.as_ptr(), std::ptr::null()];
    let mut kids = Vec::with_capacity(N);
    let t = Instant::now();
    for _ in 0..N {
        let (r, w) = pipe();
        let (rep_r, rep_w) = pipe();
        // SAFETY: the child calls only dup2, execv and _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: async-signal-safe calls on memory prepared before fork.
            unsafe {
                libc::dup2(r.as_raw_fd(), 0);
                libc::execv(cat.as_ptr(), argv.as_ptr());
                libc::_exit(127);
            }
        }
        drop(rep_w);
        let mut b = [0u8; 1];
        // SAFETY: reading into a one-byte buffer; EOF means the exec succeeded.
        unsafe { libc::read(rep_r.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
        kids.push((pid, w));
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / N as f64;
    reap(kids);
    us
}

/// µs per process, posix_spawn() of cat with an empty pipe on stdin.
fn posix_spawn() -> f64 {
    let cat = CString::new("/bin/cat").unwrap();
    let argv = [cat.as_ptr().cast_mut(), std::ptr::null_mut()];
    let mut kids = Vec::with_capacity(N);
    let t = Instant::now();
    for _ in 0..N {
        let (r, w) = pipe();
        let mut pid = 0;
        // SAFETY: file actions initialised, used and destroyed here; argv and
        // environ are null-terminated.
        unsafe {
            let mut fa = std::mem::zeroed::<libc::posix_spawn_file_actions_t>();
            libc::posix_spawn_file_actions_init(&mut fa);
            libc::posix_spawn_file_actions_adddup2(&mut fa, r.as_raw_fd(), 0);
            extern "C" {
                static environ: *const *mut libc::c_char;
            }
            assert_eq!(
                libc::posix_spawn(
                    &mut pid,
                    cat.as_ptr(),
                    &fa,
                    std::ptr::null(),
                    argv.as_ptr(),
                    environ
                ),
                0
            );
            libc::posix_spawn_file_actions_destroy(&mut fa);
        }
        kids.push((pid, w));
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / N as f64;
    reap(kids);
    us
}

/// µs per thread, each running before the count stops.
fn threads() -> f64 {
    let up = Arc::new(AtomicUsize::new(0));
    let go = Arc::new(Barrier::new(N + 1));
    let t = Instant::now();
    let hs: Vec<_> = (0..N)
        .map(|_| {
            let (up, go) = (up.clone(), go.clone());
            std::thread::spawn(move || {
                up.fetch_add(1, Ordering::Release);
                go.wait();
            })
        })
        .collect();
    while up.load(Ordering::Acquire) < N {
        std::hint::spin_loop();
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / N as f64;
    go.wait();
    for h in hs {
        h.join().unwrap();
    }
    us
}

/// µs per tokio task on a current-thread runtime, each polled once.
fn tasks() -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let _ = tokio::spawn(async {}).await;
        let up = Arc::new(AtomicUsize::new(0));
        let t = Instant::now();
        let hs: Vec<_> = (0..N)
            .map(|_| {
                let up = up.clone();
                tokio::spawn(async move {
                    up.fetch_add(1, Ordering::Relaxed);
                    tokio::task::yield_now().await;
                })
            })
            .collect();
        while up.load(Ordering::Relaxed) < N {
            tokio::task::yield_now().await;
        }
        let us = t.elapsed().as_secs_f64() * 1e6 / N as f64;
        for h in hs {
            let _ = h.await;
        }
        us
    })
}

fn plain() -> [f64; 4] {
    [fork_exec(), posix_spawn(), threads(), tasks()]
}

/// netlab's own figures, µs per start, from one run.
fn netlab() -> Vec<(String, f64)> {
    let out = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args([
            "concurrency",
            "--json",
            "--n",
            &N.to_string(),
            "--python",
            "/nonexistent/python3",
        ])
        .output()
        .expect("run netlab concurrency");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .to_string();
    let s: serde_json::Value = serde_json::from_str(&last).unwrap();
    s["spawn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["call"].as_str().unwrap().to_string(),
                e["us_each"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn main() {
    // Taking turns, twice each; the better of each side's two runs.
    let (p1, n1, p2, n2) = (plain(), netlab(), plain(), netlab());
    println!("N = {N} of each; plain and netlab took turns, twice each, the better of each kept");
    println!("| call | plain Rust | netlab | netlab / plain |");
    println!("|---|---|---|---|");
    for i in 0..4 {
        let plain = p1[i].min(p2[i]);
        let mine = n1[i].1.min(n2[i].1);
        println!(
            "| {} | {plain:.2} µs | {mine:.2} µs | {:.2}× |",
            n1[i].0,
            mine / plain
        );
    }
}
