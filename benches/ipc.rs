//! netlab ipc's round trips against a plain Rust microbenchmark of the same
//! calls, in the same run: `cargo bench --bench ipc`.
//!
//! The microbenchmark forks (before this process has any other thread) a
//! child that echoes over two pipes and over a socketpair; the parent times
//! K round trips of a message as long as netlab's (`hello #N` behind a
//! 4-byte length, one write each way) and takes the median. Then `netlab
//! ipc` runs with the same K, and each mechanism's median is shown as a
//! ratio: against the plain pipe, and for the pipe and the stream sockets
//! against their own plain figure. netlab's echo is the same two system
//! calls a side plus a checksum, so those ratios should stay near 1 (target
//! ≤ 1.5×); the other rows compare the mechanisms with each other.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Instant;

const K: usize = 1000;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn message(i: usize) -> Vec<u8> {
    let m = format!("hello #{i}");
    let mut b = (m.len() as u32).to_le_bytes().to_vec();
    b.extend_from_slice(m.as_bytes());
    b
}

/// Median round trip over a writer and a reader the child echoes between, µs.
fn trips(w: &mut impl Write, r: &mut impl Read) -> f64 {
    let mut buf = [0u8; 64];
    let mut samples = Vec::with_capacity(K);
    for i in 1..=K {
        let m = message(i);
        let t = Instant::now();
        w.write_all(&m).unwrap();
        r.read_exact(&mut buf[..m.len()]).unwrap();
        samples.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(&buf[..m.len()], &m[..]);
    }
    median(samples)
}

/// The plain figures: (pipe, socketpair), µs.
fn plain() -> (f64, f64) {
    let (to_r, to_w) = nix::unistd::pipe().unwrap();
    let (from_r, from_w) = nix::unistd::pipe().unwrap();
    let (mut a, mut b) = UnixStream::pair().unwrap();
    // SAFETY: this process has one thread here (main, before anything spawned one).
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            drop((to_w, from_r, a));
            let (mut r, mut w) = (std::fs::File::from(to_r), std::fs::File::from(from_w));
            let mut buf = [0u8; 64];
            for i in 1..=K {
                let n = message(i).len();
                r.read_exact(&mut buf[..n]).unwrap();
                w.write_all(&buf[..n]).unwrap();
            }
            for i in 1..=K {
                let n = message(i).len();
                b.read_exact(&mut buf[..n]).unwrap();
                b.write_all(&buf[..n]).unwrap();
            }
            std::process::exit(0);
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop((to_r, from_w, b));
            let (mut w, mut r) = (std::fs::File::from(to_w), std::fs::File::from(from_r));
            let pipe = trips(&mut w, &mut r);
            let pair = trips(&mut a.try_clone().unwrap(), &mut a);
            nix::sys::wait::waitpid(child, None).unwrap();
            (pipe, pair)
        }
    }
}

fn netlab() -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["ipc", "--json", "--round-trips", &K.to_string()])
        .output()
        .expect("run netlab ipc");
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
    serde_json::from_str(&last).unwrap()
}

fn main() {
    let (pipe_a, pair_a) = plain();
    let s = netlab();
    let (pipe_b, pair_b) = plain();
    let (pipe, pair) = (pipe_a.min(pipe_b), pair_a.min(pair_b));
    println!(
        "plain Rust, forked child, {K} round trips, medians: pipe {pipe:.2} µs (before {pipe_a:.2}, after {pipe_b:.2}), socketpair {pair:.2} µs (before {pair_a:.2}, after {pair_b:.2})"
    );
    println!("| mechanism | netlab ipc median | / plain pipe | / its plain counterpart | on lo |");
    println!("|---|---|---|---|---|");
    for m in s["mechanisms"].as_array().unwrap() {
        let name = m["name"].as_str().unwrap();
        let t = m["round_trip_us"].as_f64().unwrap();
        let own = match name {
            "pipe" | "fifo" => format!("{:.2}× (pipe)", t / pipe),
            "socketpair" | "unix_stream" => format!("{:.2}× (socketpair)", t / pair),
            _ => "".into(),
        };
        println!(
            "| {name} | {t:.2} µs | {:.2}× | {own} | {} |",
            t / pipe,
            m["frames_on_lo"]
        );
    }
}
