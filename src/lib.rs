//! netlab: learn computer networking by doing it.
//!
//! - [`cli`]: the command line (clap derive, validation, no I/O)
//! - [`error`]: the error type and the exit codes
//! - [`text`]: Lang and the bilingual Text (the bottom floor: imports nothing of netlab)
//! - [`record`]: the typed run record (steps, packets, summary): what every output renders
//! - [`narrate`]: the narrator and one sink per output (text, ladder, JSON, pcap, the page)
//! - [`questions`]: the 39 interview questions, zh and en
//! - [`exercise`]: exercises (examples/*.toml): a task and typed expectations checked on a saved run
//! - [`wire`]: packets explained from their own bytes (DNS, Ethernet, ARP, IPv4, ICMP, TCP, UDP)
//! - [`dns`]: a DNS client that shows its work, and the iterative walk
//! - [`icmp`]: ICMP echo over a raw or ping socket (the engine of `ping`)
//! - [`host`]: this host's hosts file, nsswitch.conf, resolv.conf, services and neighbour table
//! - [`ha`]: high availability: netlab's VRRP speaker, keepalived in the lab, a steady pinger (the engine of failover)
//! - [`lab`]: the offline lab: DNS hierarchy on loopback, hosts in network namespaces
//! - [`private`]: the private directory netlab writes its own files in
//! - [`privilege`]: what the process may do, and what each demo does about it
//! - [`balance`]: the engine of load-balance: backends, clients, nft balancing, the reverse proxy
//! - [`transport`]: the engines of tcp-vs-udp (numbered messages and typed results), io-mux and async
//! - [`rpc`]: the engine of rpc: netlab's own RPC calls and one gRPC call, captured
//! - [`queue`]: a bounded queue between threads and producer–consumer runs over it (the engine of producer-consumer)
//! - [`ipc`]: the engine of ipc: a child process, and a timed round trip through each IPC mechanism
//! - [`concurrency`]: the engine of concurrency: processes, threads, tasks, locks and python3, measured
//! - [`sys`]: the one module allowed `unsafe` (getsockopt TCP_INFO, fork+exec, futex, io_uring, ipc)
//! - [`packet_socket`]: AF_PACKET sockets: frames on one interface, kernel-timestamped, both ways
//! - `fuzzing`: the fuzz targets' bodies (only with the `fuzzing` feature, and in the unit tests that replay them)
//! - [`classroom`]: the class server of `netlab serve`: runs published in, records streamed out to browsers
//! - [`demos`]: one module per subcommand: the story only (demos do not import each other)
//! - [`run`]: dispatch a parsed command line to its demo

#![deny(unsafe_code)]

pub mod balance;
pub mod classroom;
pub mod cli;
pub mod concurrency;
pub mod demos;
pub mod dns;
pub mod error;
pub mod exercise;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod ha;
pub mod host;
pub mod icmp;
pub mod ipc;
pub mod lab;
pub mod log;
pub mod narrate;
pub mod packet_socket;
pub mod private;
pub mod privilege;
pub mod questions;
pub mod queue;
pub mod record;
pub mod rpc;
pub mod sys;
pub mod text;
pub mod transport;
pub mod wire;

use std::time::Duration;

use cli::{Cli, Command, LabCommand};
use error::{exit, Result};
use narrate::{Format, Narrator, NarratorConfig};
use text::Lang;

/// The narrator settings a command line asks for.
pub fn narrator_config(cli: &Cli) -> NarratorConfig {
    NarratorConfig {
        format: if cli.global.json {
            Format::Json
        } else {
            Format::Text {
                color: NarratorConfig::color_wanted(),
            }
        },
        lang: cli.global.lang.unwrap_or_else(Lang::from_env),
        all_bytes: cli.global.bytes,
        pace: cli.global.pace.map(Duration::from_millis),
        step: cli.global.step,
        width: NarratorConfig::width_wanted(cli.global.width),
        brief: cli.global.brief,
    }
}

/// The demo name used in JSON for a command.
pub fn demo_name(cmd: &Command) -> &'static str {
    match cmd {
        Command::DnsTrace(_) => "dns-trace",
        Command::ArpTable(_) => "arp-table",
        Command::Ping(_) => "ping",
        Command::TcpVsUdp(_) => "tcp-vs-udp",
        Command::StickyPacket(_) => "sticky-packet",
        Command::Firewall(_) => "firewall",
        Command::Failover(_) => "failover",
        Command::IoMux(_) => "io-mux",
        Command::Rpc(_) => "rpc",
        Command::Async(_) => "async",
        Command::AsyncPeer { .. } => "async-peer",
        Command::ProducerConsumer(_) => "producer-consumer",
        Command::Url(_) => "url",
        Command::Cdn(_) => "cdn",
        Command::Traceroute(_) => "traceroute",
        Command::LoadBalance(_) => "load-balance",
        Command::IoMuxPeer { .. } => "io-mux-peer",
        Command::Ipc(_) => "ipc",
        Command::IpcPeer { .. } => "ipc-peer",
        Command::Concurrency(_) => "concurrency",
        Command::ConcurrencyPeer { .. } => "concurrency-peer",
        Command::Questions => "questions",
        Command::Render { .. } => "render",
        Command::Serve { .. } => "serve",
        Command::Explain { .. } => "explain",
        Command::Exercise { .. } => "exercise",
        Command::Check { .. } => "check",
        Command::Lab { .. } => "lab",
        Command::Completions { .. } => "completions",
        Command::Man => "man",
    }
}

/// Whether this command line runs the namespace lab (and so, without root,
/// needs a user namespace of its own: see [`lab::userns`]).
pub fn needs_lab(cli: &Cli) -> bool {
    match &cli.command {
        Command::ArpTable(a) => !a.host && a.iface.is_none(),
        Command::Ping(a) => a.target.is_none(),
        Command::Traceroute(a) => a.target.is_none(),
        Command::TcpVsUdp(a) => !a.loopback,
        Command::Firewall(_)
        | Command::Url(_)
        | Command::Failover(_)
        | Command::Cdn(_)
        | Command::LoadBalance(_)
        | Command::Rpc(_) => true,
        Command::Lab {
            what: LabCommand::Hold,
        } => true,
        _ => false,
    }
}

/// Whether this command line's capture is better made in a network namespace
/// of netlab's own: dns-trace's built-in lab with `--pcap`, without root. There
/// it can listen on port 53 (so Wireshark decodes DNS unaided) and capture its
/// own loopback, as root can on the host's. ipc always: its capture of lo
/// must see nothing but its own processes' packets (as root it makes the
/// namespace itself).
pub fn wants_private_net(cli: &Cli) -> bool {
    match &cli.command {
        Command::DnsTrace(a) => cli.global.pcap.is_some() && !a.live && a.root_servers.is_none(),
        // Its TCP half runs in a network namespace of its own, which a user
        // namespace lets it make without root.
        Command::ProducerConsumer(_) => true,
        Command::Ipc(_) => true,
        _ => false,
    }
}

/// Run a parsed command line; returns the exit code. Errors are returned, not printed.
pub fn run(cli: &Cli, n: &mut Narrator) -> Result<i32> {
    let cfg = narrator_config(cli);
    check_outputs(cli)?;
    // A saved run is read before any output is opened.
    let saved = match &cli.command {
        Command::Render { run } => Some(narrate::read_run(run)?),
        _ => None,
    };
    if let Some(path) = &cli.global.pcap {
        n.add_file_sink(Box::new(narrate::pcap::PcapOut::create(path)?));
    }
    if let Some(path) = &cli.global.html {
        n.add_file_sink(Box::new(narrate::html::HtmlSink::create(path, cfg.lang)?));
    }
    if let Some(url) = class_url(cli)? {
        n.add_file_sink(Box::new(narrate::class::ClassSink::new(url, cfg.lang)));
    }
    if let Some(lines) = saved {
        if cli.global.html.is_some() || cli.global.pcap.is_some() {
            n.screen_off();
        }
        for line in &lines {
            n.replay(line)?;
        }
        n.finish()?;
        return Ok(exit::OK);
    }
    let code = match &cli.command {
        Command::DnsTrace(args) => {
            let args = cli::DnsTraceArgs {
                capture_file: cli.global.pcap.is_some(),
                ..args.clone()
            };
            demos::dns_trace::run(&args, n)?
        }
        Command::ArpTable(args) => demos::arp_table::run(args, n)?,
        Command::Ping(args) => demos::ping::run(args, n)?,
        Command::TcpVsUdp(args) => demos::tcp_vs_udp::run(args, n)?,
        Command::StickyPacket(args) => demos::sticky::run(args, n)?,
        Command::Firewall(args) => demos::firewall::run(args, n)?,
        Command::Failover(args) => demos::failover::run(args, n)?,
        Command::IoMux(args) => demos::io_mux::run(args, n)?,
        Command::Rpc(args) => demos::rpc::run(args, n)?,
        Command::Async(args) => demos::async_io::run(args, n)?,
        Command::AsyncPeer { addr, n: clients } => {
            return transport::aio::peer_main(*addr, *clients)
        }
        Command::ProducerConsumer(args) => demos::producer_consumer::run(args, n)?,
        Command::Url(args) => demos::url::run(args, n)?,
        Command::Cdn(args) => demos::cdn::run(args, n)?,
        Command::Traceroute(args) => demos::traceroute::run(args, n)?,
        Command::LoadBalance(args) => demos::load_balance::run(args, n)?,
        Command::IoMuxPeer { addr } => return transport::mux::peer_main(*addr),
        Command::Ipc(args) => demos::ipc::run(args, n)?,
        Command::IpcPeer { parent, fds } => return ipc::peer::peer_main(*parent, fds),
        Command::Concurrency(args) => demos::concurrency::run(args, n)?,
        Command::ConcurrencyPeer { path } => return concurrency::locks::peer_main(path),
        other => run_other(other, cli, cfg.lang, n)?,
    };
    // A run that ended without a summary still writes its files.
    n.finish()?;
    Ok(code)
}

/// Where this run publishes (`--class URL`, else `NETLAB_CLASS`): only a
/// run's lines are published, so not the class server itself nor the pages
/// that are not runs.
fn class_url(cli: &Cli) -> Result<Option<narrate::class::ClassUrl>> {
    let publishes = !matches!(
        cli.command,
        Command::Serve { .. }
            | Command::Questions
            | Command::Explain { .. }
            | Command::Completions { .. }
            | Command::Man
            | Command::AsyncPeer { .. }
            | Command::IoMuxPeer { .. }
            | Command::IpcPeer { .. }
            | Command::ConcurrencyPeer { .. }
    );
    let url = cli
        .global
        .class
        .clone()
        .or_else(|| std::env::var("NETLAB_CLASS").ok().filter(|s| !s.is_empty()));
    match url {
        Some(u) if publishes => narrate::class::ClassUrl::parse(&u).map(Some),
        _ => Ok(None),
    }
}

/// Refuse an output that is an input of the run or another output: `render
/// run.jsonl --html run.jsonl` would otherwise replace the saved run, and
/// `--pcap F --html F` keep only one of them.
fn check_outputs(cli: &Cli) -> Result<()> {
    let outputs: Vec<(&str, &std::path::Path)> =
        [("--pcap", &cli.global.pcap), ("--html", &cli.global.html)]
            .into_iter()
            .filter_map(|(flag, p)| p.as_deref().map(|p| (flag, p)))
            .collect();
    let inputs: Vec<&std::path::Path> = match &cli.command {
        Command::Render { run } => vec![run.as_path()],
        Command::DnsTrace(a) => a.hosts.iter().map(|h| h.as_path()).collect(),
        _ => Vec::new(),
    };
    for (i, (flag, out)) in outputs.iter().enumerate() {
        let clash = inputs.iter().any(|inp| private::same_file(inp, out))
            || outputs[..i].iter().any(|(_, o)| private::same_file(o, out));
        if clash {
            return Err(error::Error::usage(text::tx(
                format!("{flag} {}: that file is already an input or another output of this run; name a file of its own", out.display()),
                format!("{flag} {}：这个文件已经是本次运行的输入或另一个输出；请另起一个文件名", out.display()),
            )));
        }
    }
    Ok(())
}

/// A reference page fitted to the terminal's width (JSON is left as it is);
/// continuation lines indented `cont` more than their first.
fn fit_page(cli: &Cli, page: &str, cont: usize) -> String {
    if cli.global.json {
        return page.to_string();
    }
    narrate::wrap::fit(page, NarratorConfig::width_wanted(cli.global.width), cont)
}

/// Write a reference page to stdout; a failed write is an error, never a panic.
fn print_page(text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(error::Error::Output)?;
    out.flush().map_err(error::Error::Output)?;
    Ok(())
}

/// The command line as completion scripts offer it: clap_complete lists hidden
/// subcommands too, so `lab hold` (started by `lab up`, not by hand) is left out here.
fn completion_command() -> clap::Command {
    let full = <cli::Cli as clap::CommandFactory>::command();
    // clap cannot remove a subcommand, so the hidden top-level ones
    // (`io-mux-peer`) are left out by rebuilding the list.
    clap::Command::new("netlab")
        .about(full.get_about().cloned().unwrap_or_default())
        .version(env!("CARGO_PKG_VERSION"))
        .args(full.get_arguments().cloned())
        .subcommand_required(true)
        .subcommands(full.get_subcommands().filter(|s| !s.is_hide_set()).cloned())
        .mut_subcommand("lab", |lab| {
            let visible: Vec<clap::Command> = lab
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .cloned()
                .collect();
            clap::Command::new("lab")
                .about(lab.get_about().cloned().unwrap_or_default())
                .subcommand_required(lab.is_subcommand_required_set())
                .args(lab.get_arguments().cloned())
                .subcommands(visible)
        })
}

/// The manual page, roff, as `netlab man` prints it and docs/man/netlab.1 holds it.
pub fn man_page() -> String {
    roff(clap_mangen::Man::new(
        <cli::Cli as clap::CommandFactory>::command(),
    ))
}

/// Every manual page, as docs/man holds them: (file name, roff) for netlab
/// and for each subcommand (`netlab-dns-trace.1`, `netlab-lab-up.1`, …).
pub fn man_pages() -> Vec<(String, String)> {
    fn walk(cmd: &clap::Command, file: &str, bin: &str, out: &mut Vec<(String, String)>) {
        for sub in cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        {
            let (file, bin) = (
                format!("{file}-{}", sub.get_name()),
                format!("{bin} {}", sub.get_name()),
            );
            let page = sub
                .clone()
                .display_name(&file)
                .bin_name(&bin)
                .version(env!("CARGO_PKG_VERSION"));
            out.push((
                format!("{file}.1"),
                roff(clap_mangen::Man::new(page.clone())),
            ));
            walk(&page, &file, &bin, out);
        }
    }
    let mut cmd = <cli::Cli as clap::CommandFactory>::command();
    cmd.build();
    let mut out = vec![("netlab.1".to_string(), man_page())];
    walk(&cmd, "netlab", "netlab", &mut out);
    out
}

fn roff(man: clap_mangen::Man) -> String {
    let mut out = Vec::new();
    // Rendering into a Vec cannot fail.
    let _ = man.render(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn run_other(cmd: &Command, cli: &Cli, lang: Lang, n: &mut Narrator) -> Result<i32> {
    match cmd {
        Command::DnsTrace(_)
        | Command::ArpTable(_)
        | Command::Ping(_)
        | Command::TcpVsUdp(_)
        | Command::StickyPacket(_)
        | Command::Firewall(_)
        | Command::Failover(_)
        | Command::IoMux(_)
        | Command::Rpc(_)
        | Command::Async(_)
        | Command::AsyncPeer { .. }
        | Command::ProducerConsumer(_)
        | Command::Url(_)
        | Command::Cdn(_)
        | Command::Traceroute(_)
        | Command::LoadBalance(_)
        | Command::IoMuxPeer { .. }
        | Command::Ipc(_)
        | Command::IpcPeer { .. }
        | Command::Concurrency(_)
        | Command::ConcurrencyPeer { .. } => {
            unreachable!("dispatched in run")
        }
        Command::Questions => {
            let page = demos::questions::list(lang, cli.global.json);
            print_page(&fit_page(cli, &page, 0))?;
            Ok(exit::OK)
        }
        Command::Render { .. } => unreachable!("replayed in run"),
        Command::Serve { listen } => demos::serve::run(*listen, n),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut completion_command(), "netlab", &mut out);
            print_page(String::from_utf8_lossy(&out).trim_end())?;
            Ok(exit::OK)
        }
        Command::Man => {
            print_page(man_page().trim_end())?;
            Ok(exit::OK)
        }
        Command::Explain { id } => {
            let page = demos::questions::explain(id, lang, cli.global.json)?;
            print_page(&fit_page(cli, &page, 0))?;
            Ok(exit::OK)
        }
        Command::Exercise { name: None } => {
            print_page(&fit_page(cli, &demos::exercise::list(lang)?, 0))?;
            Ok(exit::OK)
        }
        Command::Exercise { name: Some(name) } => {
            let page = demos::exercise::sheet(name, cli.global.lang)?;
            print_page(&fit_page(cli, &page, 0))?;
            Ok(exit::OK)
        }
        Command::Check { exercise, run } => {
            let (page, code) = demos::exercise::check(exercise, run, lang, cli.global.json)?;
            print_page(&fit_page(cli, &page, 4))?;
            Ok(code)
        }
        Command::Lab { what } => match what {
            LabCommand::Dns {
                port,
                lab_zones,
                allow_axfr,
            } => demos::lab_dns::serve(
                &demos::lab_dns::LabDns {
                    port: *port,
                    zones_dir: lab_zones.as_deref(),
                    allow_axfr: *allow_axfr,
                    capture_file: cli.global.pcap.is_some(),
                },
                n,
            ),
            LabCommand::Up(args) => demos::lab_ns::up(args, n),
            LabCommand::Status => demos::lab_ns::status(n),
            LabCommand::Down => demos::lab_ns::down(n),
            LabCommand::Exec { host, command } => demos::lab_ns::exec(host, command),
            LabCommand::Hold => lab::holder::hold(),
            LabCommand::Line { host, ms, holder } => demos::lab_ns::line(host, *ms, *holder),
        },
    }
}

#[cfg(test)]
mod man_tests {
    #[test]
    fn every_visible_subcommand_has_a_page() {
        let pages = super::man_pages();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        for want in [
            "netlab.1",
            "netlab-dns-trace.1",
            "netlab-lab-up.1",
            "netlab-man.1",
        ] {
            assert!(names.contains(&want), "{want} in {names:?}");
        }
        assert!(
            !names.iter().any(|n| n.contains("hold")),
            "hidden commands have none"
        );
        let dns = &pages
            .iter()
            .find(|(n, _)| n == "netlab-dns-trace.1")
            .unwrap()
            .1;
        assert!(dns.contains(".TH netlab-dns-trace"), "{}", &dns[..200]);
        assert!(
            dns.contains("netlab dns\\-trace"),
            "the synopsis names the command"
        );
    }
}
