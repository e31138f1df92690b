//! One fetch of the lab's page: netlab's client against curl, on the same lab
//! server in the same run: `cargo bench --bench url` (root, or a system that
//! allows user namespaces).
//!
//! The namespace lab is built once; h3 serves the page with tiny_http. Both
//! clients run inside h1 and fetch `http://www.lab.edu.cn/index.html` from
//! 203.0.113.10 over a fresh connection each time, name already resolved
//! (curl gets `--resolve`, netlab the address), so what is compared is the
//! handshake, request, response and close. curl's figure is its own
//! `time_total` (without starting the process); the process's whole wall
//! time is printed beside it. Target: netlab within 1.5× of curl's time_total.

use std::net::SocketAddr;
use std::time::Instant;

use netlab::lab::topology::{NetLab, H2, H3};
use netlab::lab::web;

const RUNS: usize = 200;

fn main() {
    if !netlab::privilege::Privileges::probe().can_build_lab() {
        if let Err(e) = netlab::lab::userns::enter() {
            println!("SKIPPED: the namespace lab needs root or user namespaces ({e:?})");
            return;
        }
    }
    let lab = NetLab::build().expect("build the lab");
    let (h1, h2, h3) = (
        lab.host("h1").unwrap(),
        lab.host("h2").unwrap(),
        lab.host("h3").unwrap(),
    );
    let _svc = web::serve(h2, H2, h3, SocketAddr::from((H3, 80))).expect("serve");
    let to = SocketAddr::from((H3, 80));
    let req = web::request("www.lab.edu.cn", "/index.html");
    // Warm up both (ARP, page cache).
    web::fetch(h1, to, req.clone()).unwrap();
    let curl_args = [
        "-s",
        "-o",
        "/dev/null",
        "--resolve",
        "www.lab.edu.cn:80:203.0.113.10",
        "-w",
        "%{time_total}\n",
        "http://www.lab.edu.cn/index.html",
    ];
    h1.command("curl", &curl_args)
        .expect("curl in h1 (apt-get install curl)");

    let mut ours = Vec::new();
    let mut curl_total = Vec::new();
    let mut curl_wall = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let e = web::fetch(h1, to, req.clone()).unwrap();
        assert_eq!(e.status, 200);
        ours.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let o = h1.command("curl", &curl_args).unwrap();
        curl_wall.push(t.elapsed().as_secs_f64() * 1e3);
        let s: f64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
        curl_total.push(s * 1e3);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (n, c, w) = (
        median(&mut ours),
        median(&mut curl_total),
        median(&mut curl_wall),
    );
    println!(
        "| one fetch of the lab page ({RUNS} runs, medians) | netlab | curl | netlab / curl |"
    );
    println!("|---|---|---|---|");
    println!(
        "| handshake + GET + 200 + close | {n:.3} ms | {c:.3} ms (time_total) | {:.2}× |",
        n / c
    );
    println!(
        "| the same, curl's whole process | {n:.3} ms | {w:.3} ms (wall) | {:.2}× |",
        n / w
    );
}
