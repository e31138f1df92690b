//! Snapshots (insta) of what a learner reads: every subcommand's --help, and
//! one text run of each demo. A change of wording is then a reviewed diff
//! (`cargo insta review`, or INSTA_UPDATE=always cargo test); under CI=true a
//! snapshot that differs fails. Times, ports, ids, checksums and TTLs that
//! count down are redacted: they change from run to run, the words do not.

use super::*;

/// Redactions for a run printed at --width 500 (no wrapping, so a redacted
/// number never moves a line break).
fn run_filters() -> Vec<(&'static str, &'static str)> {
    vec![
        // The byte view's hex column: ids, checksums and payloads vary.
        (
            r"(?m)^(\s+\d+\.\.\d+) (?:[0-9a-f]{2} )*[0-9a-f]{2}(?: …)?",
            "$1 [hex]",
        ),
        (r"0x[0-9a-f]{4,8}", "0x[hex]"),
        (r"mdev = \S+ ms", "mdev = [rtts]"),
        (r"\b\d+(\.\d+)? ?(ms|µs)\b", "[time]"),
        (r"\btime \d+ms", "time [time]"),
        (r":\d{4,5}\b", ":[port]"),
        (r"port \d{4,5}\b", "port [port]"),
        (r"\d+× faster, ", ""),
        (
            r"TTL (\d+ → \d+ \(whole seconds\)|still \d+ \(under a second later\))",
            "TTL [countdown]",
        ),
        (r"\b\d+ IN ", "[ttl] IN "),
        // What this machine's own files say (CI's may differ from a laptop's).
        (
            r"nsswitch.conf  `hosts:[^`]*`",
            "nsswitch.conf  `hosts: [this machine's]`",
        ),
        (
            r"(Here resolv.conf points at 127.0.0.53: systemd-resolved|nscd runs here|Neither runs here)\.",
            "[this machine's caching daemon].",
        ),
        (
            r"(?m)^    (TCP|UDP|ICMP)( +)(FTP|DNS|`icmp|IP protocol).*$",
            "    $1$2[this machine's /etc/services]",
        ),
    ]
}

/// Redactions for the ladder of a TCP conversation: how many ACKs and
/// segments a burst took, and the kernel's random sequence numbers.
const LADDER_COUNTS: [(&str, &str); 3] = [
    (r"(ACK |seq=)\d{5,}", "$1[n]"),
    (r"×\d+", "×[n]"),
    (r"(?m)\bACK(, |$)", "ACK ×[n]$1"),
];

fn snapshot_run(name: &str, args: &[&str], extra: &[(&'static str, &'static str)]) {
    let mut full = args.to_vec();
    full.extend_from_slice(&["--width", "500", "--lang", "en"]);
    let o = netlab(&full);
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{args:?}: {}",
        stderr(&o)
    );
    let mut filters = run_filters();
    filters.extend_from_slice(extra);
    insta::with_settings!({ filters => filters, prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, stdout(&o));
    });
}

#[test]
fn help_of_every_subcommand() {
    use clap::CommandFactory;
    fn paths(cmd: &clap::Command, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(prefix.clone());
        for sub in cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        {
            let mut p = prefix.clone();
            p.push(sub.get_name().to_string());
            paths(sub, p, out);
        }
    }
    let mut all = Vec::new();
    paths(&netlab::cli::Cli::command(), vec![], &mut all);
    assert!(all.len() > 15, "{all:?}");
    for path in all {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let o = Command::new(env!("CARGO_BIN_EXE_netlab"))
            .args(&args)
            .env("COLUMNS", "80")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        let name = format!(
            "help-{}",
            if path.is_empty() {
                "netlab".to_string()
            } else {
                path.join("-")
            }
        );
        insta::with_settings!({ prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(name, stdout(&o));
        });
    }
}

#[test]
fn dns_trace_run() {
    snapshot_run(
        "run-dns-trace",
        &["dns-trace", "www.baidu.com", "--hosts", "/dev/null"],
        &[],
    );
}

#[test]
fn sticky_packet_run() {
    // As root its segments are captured on loopback and drawn in the ladder.
    if !privileged() {
        return;
    }
    snapshot_run(
        "run-sticky-packet",
        &["sticky-packet"],
        &[
            // How the kernel merged and split the bytes varies with timing.
            (r"\d+( \+ \d+)+", "[sizes]"),
            (r"\b\d+ (reads?|segments?)\b", "[n] $1"),
            (r"\b\d+ (个报文段|次)", "[n] $1"),
            // Under load the writer's pure ACKs may go missing or come after the
            // TCP_NODELAY segments, and a burst may end with one FIN or two: the
            // ladder's two lines keep their shape, not their order of kinds.
            (
                r"(?m)^(\[\d+\]\s+│─+▶│\s+)Nagle ×.*$",
                "${1}Nagle ×[n], TCP_NODELAY ×[n], the writer's ACKs",
            ),
            (r"(?m)^(\s+│◀─+│\s+)ACK.*$", "${1}the reader's ACKs and FIN"),
            LADDER_COUNTS[0],
            LADDER_COUNTS[1],
            LADDER_COUNTS[2],
        ],
    );
}

#[test]
fn tcp_vs_udp_run() {
    // As root loopback is captured: the handshake is drawn.
    if !privileged() {
        return;
    }
    snapshot_run(
        "run-tcp-vs-udp",
        &["tcp-vs-udp", "--loopback"],
        &[
            (r"\b\d+ MB/s", "[rate]"),
            (r"\(\d+% lost\)", "([n]% lost)"),
            (r"seq=\d+ ack=\d+ win=\d+", "seq=[n] ack=[n] win=[n]"),
            (r"(srcport|dstport|seq|ack)(\s+)\d+", "$1$2[n]"),
            (r"\b\d+ segments resent", "[n] segments resent"),
            // What the receiver kept of the bulk datagrams, and what waited
            // behind a (spurious) retransmission, vary from run to run.
            (
                r"(?m)^(    UDP  \d+ sendto\(\)s, one per 1400-byte datagram; ).*$",
                "${1}[what the receiver kept]",
            ),
            (
                r"; (no later message had to wait for one this time|\d+ later messages? had arrived but waited, up to \[time\]: head-of-line blocking)\.",
                "; [held back or none].",
            ),
            (r" \(up to \[time\]\)", ""),
            LADDER_COUNTS[0],
            LADDER_COUNTS[1],
            LADDER_COUNTS[2],
            // In the loss test the server sends at once: its first data
            // segment and its first pure ACK come in either order.
            (
                r"(?m)^(\s+│◀─+│\s+SYN\+ACK ×\[n\], )(TCP ×\[n\], ACK ×\[n\]|ACK ×\[n\], TCP ×\[n\])",
                "${1}[ACK and TCP]",
            ),
            // Both ends send their datagrams at once: either way may come first.
            (
                r"(?m)^\[9\]\s+│(?:◀─+│|─+▶│)\s+UDP 100 B ×\[n\]\n\s+│(?:◀─+│|─+▶│)\s+UDP 100 B ×\[n\]$",
                "[9]  UDP 100 B ×[n] each way, in either order",
            ),
        ],
    );
}

#[test]
fn lab_demo_runs() {
    if !privileged() {
        return;
    }
    snapshot_run("run-arp-table", &["arp-table"], &[]);
    snapshot_run("run-ping-lab", &["ping", "--loss", "0"], &[]);
    snapshot_run(
        "run-firewall",
        &["firewall"],
        &[
            // The ladder holds ARP refreshes and trailing ACKs as timing has it;
            // the packets themselves are checked in tests/cli/firewall.rs.
            (
                r"(?s)── The packets, in order.*?\n\n── Summary",
                "[the ladder]\n\n── Summary",
            ),
            (r"after \d+\.\d s", "after [t] s"),
            (r"\(\d+ SYNs\)", "([n] SYNs)"),
            (r"(?m)SYNs at .*$", "SYNs at [times]"),
            (r"\(\d+ s left\)", "([n] s left)"),
            (
                r"tcp (TIME_WAIT|ESTABLISHED|CLOSE|CLOSE_WAIT|LAST_ACK|FIN_WAIT) ",
                "tcp [state] ",
            ),
            LADDER_COUNTS[0],
            LADDER_COUNTS[1],
            LADDER_COUNTS[2],
        ],
    );
}

#[test]
fn io_mux_run() {
    // As root steps 1 and 4 are captured on loopback and drawn in the ladder.
    if !privileged() {
        return;
    }
    snapshot_run(
        "run-io-mux",
        &["io-mux", "--conns", "10,1100", "--clients", "20"],
        &[
            // A chart row: the bar's length and the figure are measurements.
            (
                r"(select|poll|epoll)( +)[█▏▎▍▌▋▊▉]+\x{a0}[\d.]+\x{a0}(µs|ms)",
                "${1}${2}[bar] [time]",
            ),
            (r"\d+(\.\d+)? (KiB|MiB)", "[size]"),
            (r"(ACK |seq=)\d{5,}", "${1}[n]"),
            // How many ACKs the kernel sent follows its timers.
            (r"×\d+", "×[n]"),
            (r"\(\d+\.\d×\)", "([ratio])"),
            (r"\d+× epoll_wait", "[ratio] epoll_wait"),
            // This machine's descriptor limit and numbering.
            (r"(?m)(fd limit +)\S.*$", "${1}[this machine's]"),
            (r"fds \d+…\d+", "fds [fds]"),
            (r"descriptor \d+", "descriptor [fd]"),
            // Where the kernel put the sleeping thread, when it says.
            (r"\(sleeping\)( in \w+)?", "(sleeping)"),
        ],
    );
}

#[test]
fn url_run() {
    if !privileged() {
        return;
    }
    snapshot_run(
        "run-url",
        &["url"],
        &[
            (r"(ACK |seq=)\d{5,}", "${1}[n]"),
            (r"port \d{4,5} → 80", "port [port] → 80"),
            // How many ACKs the kernel sent follows its timers.
            (r"×\d+", "×[n]"),
        ],
    );
}

#[test]
fn traceroute_run() {
    if !privileged() {
        return;
    }
    snapshot_run(
        "run-traceroute",
        &["traceroute"],
        &[
            // The NAT step's close follows timing; the packets are checked in
            // tests/cli/traceroute.rs.
            (
                r"(?s)── The packets, in order.*?\n\n── Summary",
                "[the ladder]\n\n── Summary",
            ),
            (r"[\d.]+\x{a0}ms", "[time]"),
            (r"\+\d+\.\d ms", "+[time]"),
            (
                r"took \d+\.\d ms, the others about \d+\.\d ms",
                "took [time], the others about [time]",
            ),
            (r"(203\.0\.113\.(130|200)):\d+", "${1}:[port]"),
        ],
    );
}
