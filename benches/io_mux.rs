//! io-mux's epoll figure against the kernel's own floor, in the same run:
//! `cargo bench --bench io_mux`.
//!
//! The floor is measured here, not by netlab: one socket with data waiting,
//! alone in an epoll set, and `epoll_wait` called on it with a zero timeout
//! (the cheapest wait the kernel offers). Then `netlab io-mux` runs and
//! reports its epoll_wait cost with 10 … 10 000 idle connections registered
//! beside the ready one. epoll's claim is that the idle ones cost nothing at
//! wait time, so each ratio should stay near 1 (target ≤ 1.5×); poll's ratio
//! is printed beside it for contrast.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Instant;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

fn floor_us() -> f64 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    c.write_all(b"!").unwrap();
    let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).unwrap();
    ep.add(&s, EpollEvent::new(EpollFlags::EPOLLIN, 0)).unwrap();
    let mut ev = [EpollEvent::empty(); 4];
    let mut batches = Vec::new();
    for _ in 0..9 {
        let t = Instant::now();
        for _ in 0..20_000 {
            assert_eq!(ep.wait(&mut ev, EpollTimeout::ZERO).unwrap(), 1);
        }
        batches.push(t.elapsed().as_secs_f64() * 1e6 / 20_000.0);
    }
    batches.sort_by(f64::total_cmp);
    batches[batches.len() / 2]
}

fn main() {
    let before = floor_us();
    let out = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["io-mux", "--json", "--conns", "10,100,1000,10000"])
        .output()
        .expect("run netlab io-mux");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = floor_us();
    let floor = before.min(after);
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .to_string();
    let s: serde_json::Value = serde_json::from_str(&last).unwrap();
    println!("kernel floor (epoll_wait, 1 ready fd, measured here): {floor:.3} µs (before {before:.3}, after {after:.3})");
    println!("| N idle + 1 ready | netlab epoll_wait | / floor | poll | poll / floor |");
    println!("|---|---|---|---|---|");
    for p in s["points"].as_array().unwrap() {
        let e = p["epoll_us"].as_f64().unwrap();
        let q = p["poll_us"].as_f64().unwrap();
        println!(
            "| {} | {e:.3} µs | {:.2}× | {q:.1} µs | {:.0}× |",
            p["n"],
            e / floor,
            q / floor
        );
    }
    let t = &s["thread_per_conn"];
    let e = &s["epoll"];
    println!(
        "1000 clients: thread per connection {:.0} ms, +{} threads, +{} KiB RSS; one epoll thread {:.0} ms, +{} threads, +{} KiB RSS",
        t["ms"].as_f64().unwrap(),
        t["threads"],
        t["rss_kb"],
        e["ms"].as_f64().unwrap(),
        e["threads"],
        e["rss_kb"]
    );
}
