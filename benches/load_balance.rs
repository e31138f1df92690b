//! Requests per second through netlab's layer-7 proxy against nginx, on the
//! same three backends in the same server farm, in the same run:
//! `cargo bench --bench load_balance` (root, or a system that allows user
//! namespaces; nginx installed).
//!
//! The farm is built once. Each round starts one proxy on the VIP (round
//! robin), sends the same load through it — c1 and c2, LANES requesters
//! each, every request on a new connection (`Connection: close`), as the
//! demo does — and stops it; netlab's proxy and nginx take turns, ROUNDS
//! times each, so a machine whose speed drifts moves both alike. Reported:
//! each side's median requests per second and the median of the per-round
//! ratios (netlab / nginx). Target: ≥ 0.8.
//!
//! nginx runs as the demo runs it: one process (`master_process off`), one
//! event loop; netlab's proxy runs on a tokio runtime with two workers. The
//! clients and backends share the same two cores.

use std::net::SocketAddr;
use std::time::Instant;

use netlab::balance::backend::{self, PORT};
use netlab::balance::client;
use netlab::balance::daemon::{self, Daemon};
use netlab::balance::proxy::{self, Scheduler};
use netlab::lab::farm::{Farm, BACKENDS, VIP};

const ROUNDS: usize = 5;
const LANES: usize = 4;
const PER_LANE: usize = 150;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Requests per second of one load through whatever serves the VIP.
fn load(farm: &Farm) -> f64 {
    let clients = [farm.host("c1").unwrap(), farm.host("c2").unwrap()];
    let to = SocketAddr::from((VIP, PORT));
    let t = Instant::now();
    let answers = client::parallel(&clients, LANES, PER_LANE, to, "www.lab.edu.cn").unwrap();
    let secs = t.elapsed().as_secs_f64();
    let ok = answers.iter().filter(|a| a.ok()).count();
    assert_eq!(ok, answers.len(), "every request answered");
    ok as f64 / secs
}

fn main() {
    if !netlab::privilege::Privileges::probe().can_build_lab() {
        if let Err(e) = netlab::lab::userns::enter() {
            println!("SKIPPED: the farm needs root or user namespaces ({e:?})");
            return;
        }
    }
    if daemon::check_installed(daemon::Kind::Nginx).is_err() {
        println!("SKIPPED: nginx is not installed (apt-get install nginx)");
        return;
    }
    let farm = Farm::build().expect("build the farm");
    let _backends = backend::start(&farm).expect("backends");
    // Many short connections: the clients may reuse ports in TIME_WAIT.
    for c in ["c1", "c2"] {
        let ns = farm.host(c).unwrap();
        ns.sysctl("net.ipv4.tcp_tw_reuse", "1").unwrap();
        ns.sysctl("net.ipv4.ip_local_port_range", "1024 65000")
            .unwrap();
    }
    let lb = farm.host("lb").unwrap();
    let list: Vec<(&str, SocketAddr)> = BACKENDS
        .iter()
        .map(|b| (b.0, SocketAddr::from((b.1, PORT))))
        .collect();
    let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..=ROUNDS {
        let p = proxy::start(
            lb,
            SocketAddr::from((VIP, PORT)),
            &list,
            &["web3"],
            Scheduler::RoundRobin,
        )
        .expect("netlab's proxy");
        let a = load(&farm);
        drop(p);
        let d = Daemon::start(lb, daemon::Kind::Nginx, Scheduler::RoundRobin).expect("nginx");
        let b = load(&farm);
        drop(d);
        // Round 0 warms both up (ARP, page cache, the backends' first connections).
        if round > 0 {
            println!(
                "round {round}: netlab {a:.0} req/s, nginx {b:.0} req/s, ratio {:.2}",
                a / b
            );
            ours.push(a);
            theirs.push(b);
            ratios.push(a / b);
        }
    }
    let n = 2 * LANES * PER_LANE;
    println!(
        "load-balance L7, {n} requests a run, {ROUNDS} rounds: netlab {:.0} req/s, nginx {:.0} req/s (medians); netlab/nginx {:.2} (median of the rounds' ratios; target ≥ 0.8)",
        median(ours),
        median(theirs),
        median(ratios)
    );
}
