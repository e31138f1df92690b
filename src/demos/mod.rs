//! One module per subcommand; each tells its whole story top to bottom.
//!
//! A demo takes validated arguments and a [`crate::narrate::Narrator`], does
//! real network work, emits steps and a summary, and returns the exit code.
//! It never prints directly.

pub mod arp_table;
pub mod async_io;
pub mod cdn;
pub mod concurrency;
pub mod dns_trace;
pub mod exercise;
pub mod failover;
pub mod firewall;
pub mod io_mux;
pub mod ipc;
pub mod lab_dns;
pub mod lab_ns;
pub mod load_balance;
pub mod ping;
pub mod producer_consumer;
pub mod questions;
pub mod rpc;
pub mod schema;
pub mod serve;
pub mod sticky;
pub mod tcp_vs_udp;
pub mod traceroute;
pub mod url;

/// Subcommands that demonstrate questions (used by the catalogue's `demos`).
pub const NAMES: &[&str] = &[
    "dns-trace",
    "arp-table",
    "ping",
    "lab dns",
    "lab up",
    "tcp-vs-udp",
    "sticky-packet",
    "firewall",
    "io-mux",
    "async",
    "url",
    "traceroute",
    "failover",
    "cdn",
    "load-balance",
    "rpc",
    "producer-consumer",
    "ipc",
    "concurrency",
];
