//! producer-consumer's queue against std's, in the same run:
//! `cargo bench --bench producer_consumer`.
//!
//! netlab's queue (a Mutex, two Condvars and the counters the demo reports)
//! and `std::sync::mpsc::sync_channel` move the same 200 000 items from one
//! producer thread to one consumer thread through 8 slots, with no work per
//! item: what is left is the cost of the hand-off itself. The ratio says what
//! counting the waits costs (target ≤ 2×). Then `netlab producer-consumer`
//! runs once and its throughput with 2 and 4 consumers is printed as a ratio
//! to 1 consumer, with what limited each run on this machine.

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use netlab::queue::BoundedQueue;

const ITEMS: u64 = 200_000;
const SLOTS: usize = 8;

/// ns per item through netlab's queue.
fn netlab_queue() -> f64 {
    let q = Arc::new(BoundedQueue::new(SLOTS));
    let t = Instant::now();
    let p = {
        let q = q.clone();
        std::thread::spawn(move || {
            for i in 0..ITEMS {
                q.push(i);
            }
            q.close();
        })
    };
    let mut sum = 0u64;
    while let Some(i) = q.pop() {
        sum = sum.wrapping_add(i);
    }
    p.join().unwrap();
    std::hint::black_box(sum);
    t.elapsed().as_secs_f64() * 1e9 / ITEMS as f64
}

/// ns per item through std's bounded channel.
fn std_channel() -> f64 {
    let (tx, rx) = std::sync::mpsc::sync_channel(SLOTS);
    let t = Instant::now();
    let p = std::thread::spawn(move || {
        for i in 0..ITEMS {
            tx.send(i).unwrap();
        }
    });
    let mut sum = 0u64;
    while let Ok(i) = rx.recv() {
        sum = sum.wrapping_add(i);
    }
    p.join().unwrap();
    std::hint::black_box(sum);
    t.elapsed().as_secs_f64() * 1e9 / ITEMS as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // Taking turns, so a busy moment of the machine hits both alike.
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        ours.push(netlab_queue());
        theirs.push(std_channel());
    }
    let (o, s) = (median(ours), median(theirs));
    println!("hand-off, 1 producer → 1 consumer, {SLOTS} slots, {ITEMS} items (median of 7):");
    println!("  netlab's counted queue  {o:8.1} ns/item");
    println!("  std sync_channel        {s:8.1} ns/item");
    println!("  ratio                   {:8.2}× (target ≤ 2×)", o / s);

    let out = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["producer-consumer", "--json"])
        .output()
        .expect("run netlab producer-consumer");
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&last).unwrap_or_default();
    let runs = v["throughput"].as_array().cloned().unwrap_or_default();
    let one = runs
        .first()
        .and_then(|r| r["items_per_s"].as_f64())
        .unwrap_or(0.0);
    println!(
        "netlab producer-consumer on {} cores, throughput against 1 consumer:",
        v["cores"]
    );
    for r in &runs {
        let x = r["items_per_s"].as_f64().unwrap_or(0.0);
        println!(
            "  {} consumers  {:8.0} items/s  {:5.2}×  limit: {}",
            r["consumers"],
            x,
            if one > 0.0 { x / one } else { 0.0 },
            r["limit"].as_str().unwrap_or("?")
        );
    }
}
