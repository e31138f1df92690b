//! `netlab async`'s tokio loop against Python's asyncio, the same 1 000
//! connections in the same run: `cargo bench --bench async_io`.
//!
//! Each run of `netlab async --json` serves the clients (a second process,
//! the same for both) first with one tokio thread, then with an asyncio loop
//! in python3; each time is from the first connect to the last reply, taken
//! by the clients. The ratio asyncio / tokio is computed per run, so both
//! halves share the machine's state; the median of the runs is reported.
//! Without python3 there is nothing to compare, and it says so.

use std::process::Command;

fn main() {
    const RUNS: usize = 7;
    let mut rows = Vec::new();
    for _ in 0..RUNS {
        let out = Command::new(env!("CARGO_BIN_EXE_netlab"))
            .args(["async", "--json", "--conns", "1000", "--reads", "100"])
            .output()
            .expect("run netlab async");
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
        let tokio = s["ms"].as_f64().unwrap();
        let Some(py) = s["python_asyncio"]["ms"].as_f64() else {
            println!("no python3: only the tokio loop ran ({tokio:.1} ms); apt install python3 to compare");
            return;
        };
        let version = s["python_asyncio"]["version"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        rows.push((tokio, py, py / tokio, version));
    }
    println!("| run | tokio, 1 thread | asyncio, 1 thread | asyncio / tokio |");
    println!("|---|---|---|---|");
    for (i, (t, p, r, _)) in rows.iter().enumerate() {
        println!("| {} | {t:.1} ms | {p:.1} ms | {r:.2}× |", i + 1);
    }
    let mut ratios: Vec<f64> = rows.iter().map(|r| r.2).collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "median asyncio / tokio over {RUNS} runs: {:.2}× (Python {})",
        ratios[ratios.len() / 2],
        rows[0].3
    );
}
