//! What the learner sees: every line of every view fits the width, the
//! default view keeps to its row budget, and a `--step` step fits one 80×24
//! screen, in English and Chinese.
//!
//! Each demo runs live once, with `--json`; every view (two languages × two
//! widths × three views) is then rendered from that one recorded run by
//! `netlab render`, the same sinks a live run uses. Widths are measured with
//! unicode-width, not with netlab's own function.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use super::*;

/// Columns a line takes on a terminal, by unicode-width.
fn display_width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// Runs recorded once per test process, by their arguments.
static RUNS: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);

/// The run of `args` with `--json`, recorded once and kept in a file.
fn recorded(args: &[&str]) -> PathBuf {
    let key = args.join(" ");
    if let Some(p) = RUNS
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .get(&key)
    {
        return p.clone();
    }
    let mut a = args.to_vec();
    a.push("--json");
    let o = netlab(&a);
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{args:?}: {}",
        stderr(&o)
    );
    // The record itself must be sound before it is rendered.
    json_lines(&o);
    // Kept for the test process's other renders: under target/, not the system's /tmp.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("netlab-screen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.jsonl", key.replace(['/', ' '], "_")));
    std::fs::write(&path, &o.stdout).unwrap();
    RUNS.lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .insert(key, path.clone());
    path
}

/// A recorded run rendered as the text view with these options.
fn rendered(run: &std::path::Path, opts: &[&str]) -> String {
    let mut a = vec!["render", run.to_str().unwrap()];
    a.extend(opts);
    let o = netlab(&a);
    assert!(o.status.success(), "render {opts:?}: {}", stderr(&o));
    stdout(&o)
}

/// A demo, whether it needs the namespace lab, and its row budget at 80 columns.
struct Demo {
    args: &'static [&'static str],
    lab: bool,
    budget: usize,
}

/// Four stages and the ladder of every packet, the lab resolver's own walk
/// in stage 2 included (14 of its rows): about 133 rows.
const DNS: Demo = Demo {
    args: &["dns-trace", "www.baidu.com"],
    lab: false,
    budget: 136,
};
const STICKY: Demo = Demo {
    args: &["sticky-packet"],
    lab: false,
    budget: 85,
};
const ARP: Demo = Demo {
    args: &["arp-table"],
    lab: true,
    budget: 90,
};
const PING: Demo = Demo {
    args: &["ping"],
    lab: true,
    budget: 70,
};
const TCP: Demo = Demo {
    args: &["tcp-vs-udp"],
    lab: true,
    budget: 110,
};

/// Five rule sets, each with its rules, probes and packets: 114 to 118 rows.
const FIREWALL: Demo = Demo {
    args: &["firewall"],
    lab: true,
    budget: 130,
};

/// The WAN, three hops, LAN and WAN, NAT, the ladder: about 85 rows.
const TRACEROUTE: Demo = Demo {
    args: &["traceroute"],
    lab: true,
    budget: 95,
};

/// Eight steps and the ladder: about 100 rows.
const URL: Demo = Demo {
    args: &["url"],
    lab: true,
    budget: 110,
};

/// Four parts, the chart 12 rows of them: about 85 rows.
const IO_MUX: Demo = Demo {
    args: &["io-mux"],
    lab: false,
    budget: 95,
};

/// Readiness, completion, tokio, asyncio, gevent and Twisted with their
/// code: about 115 rows.
const ASYNC: Demo = Demo {
    args: &["async"],
    lab: false,
    budget: 125,
};

/// Seven steps in four parts, no packets: about 110 rows.
const CONCURRENCY: Demo = Demo {
    args: &["concurrency", "--n", "20"],
    lab: false,
    budget: 125,
};

/// Two parts, six steps, the ladder's dozen rows: about 105 rows.
const PRODUCER_CONSUMER: Demo = Demo {
    args: &["producer-consumer"],
    lab: false,
    budget: 115,
};

/// Setup, election, pings, crash, takeover and the ladder: about 130 rows.
const FAILOVER: Demo = Demo {
    args: &["failover"],
    lab: true,
    budget: 140,
};

/// Two lookups, four fetches (MISS, HIT, MISS, REVALIDATED) and the ladder: about 115 rows.
const CDN: Demo = Demo {
    args: &["cdn"],
    lab: true,
    budget: 130,
};

/// Three modes (NAT, direct routing, a reverse proxy) in eleven steps, and a
/// ladder of about 90 rows: about 243 rows. `--mode` shows one at a time.
const LOAD_BALANCE: Demo = Demo {
    args: &["load-balance"],
    lab: true,
    budget: 250,
};

/// Two parts, twelve steps, and a ladder of about 66 packets (every ACK
/// of five short connections): about 160 rows.
const RPC: Demo = Demo {
    args: &["rpc"],
    lab: true,
    budget: 170,
};

/// Nine mechanisms with their calls, TCP's byte view, the ladder: about 135 rows.
const IPC: Demo = Demo {
    args: &["ipc"],
    lab: false,
    budget: 145,
};

/// Rows a line takes on a terminal `width` columns wide.
fn rows(line: &str, width: usize) -> usize {
    display_width(line).div_ceil(width).max(1)
}

/// Split the default view into what one `--step` pause shows: a step with the
/// stage heading (and blank line) that comes before it.
fn steps(text: &str) -> Vec<Vec<&str>> {
    let mut out: Vec<Vec<&str>> = Vec::new();
    let mut pending: Vec<&str> = Vec::new();
    for line in text.lines() {
        // The ladder and the summary close the run; they are not a step.
        if line.starts_with("── The packets") || line.starts_with("── 报文时序图") {
            break;
        }
        let starts_step = line.starts_with('[')
            && line
                .split_once("] ")
                .is_some_and(|(_, rest)| !rest.starts_with(' ') && !rest.starts_with('│'));
        if starts_step {
            let mut s = std::mem::take(&mut pending);
            s.push(line);
            out.push(s);
        } else if line.is_empty() || line.starts_with("── ") {
            pending.push(line);
        } else if let Some(last) = out.last_mut() {
            if pending.is_empty() {
                last.push(line);
            } else {
                // Lines after a heading with no numbered step (plain lines): their own block.
                let mut s = std::mem::take(&mut pending);
                s.push(line);
                out.push(s);
            }
        } else {
            pending.push(line);
        }
    }
    out
}

fn check(demo: &Demo) {
    if demo.lab && !privileged() {
        return;
    }
    let run = recorded(demo.args);
    let args = demo.args;
    for lang in ["en", "zh"] {
        for width in [80usize, 100] {
            for view in [None, Some("--brief"), Some("--bytes")] {
                let w = width.to_string();
                let mut opts = vec!["--lang", lang, "--width", &w];
                opts.extend(view);
                let text = rendered(&run, &opts);
                let args = (args, &opts);
                for line in text.lines() {
                    assert!(
                        display_width(line) <= width,
                        "{args:?}: a line of {} columns:\n{line}",
                        display_width(line)
                    );
                }
                if view == Some("--brief") {
                    // Ladder rows start "[4]   │"; a step title starts "[4] Word".
                    let title = |l: &str| {
                        l.starts_with('[')
                            && l.split_once("] ").is_some_and(|(_, rest)| {
                                !rest.starts_with(' ') && !rest.starts_with('│')
                            })
                    };
                    assert!(
                        !text.lines().any(title),
                        "{args:?}: --brief shows the ladder and the summary only:\n{text}"
                    );
                    assert!(text.contains("── "), "{args:?}: {text}");
                }
                if view.is_none() && width == 80 {
                    let total: usize = text.lines().map(|l| rows(l, width)).sum();
                    let b = demo.budget;
                    assert!(total <= b, "{args:?}: {total} rows, budget {b}");
                    for s in steps(&text) {
                        let r: usize = s.iter().map(|l| rows(l, width)).sum();
                        // 24 rows, less one for the Enter prompt.
                        assert!(
                            r <= 23,
                            "{args:?}: a step of {r} rows does not fit 80×24:\n{}",
                            s.join("\n")
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn dns_trace_fits_the_screen() {
    check(&DNS);
}

#[test]
fn sticky_packet_fits_the_screen() {
    check(&STICKY);
}

#[test]
fn arp_table_fits_the_screen() {
    check(&ARP);
}

#[test]
fn ping_fits_the_screen() {
    check(&PING);
}

#[test]
fn tcp_vs_udp_fits_the_screen() {
    check(&TCP);
}

#[test]
fn firewall_fits_the_screen() {
    check(&FIREWALL);
}

#[test]
fn traceroute_fits_the_screen() {
    check(&TRACEROUTE);
}

#[test]
fn failover_fits_the_screen() {
    check(&FAILOVER);
}

#[test]
fn cdn_fits_the_screen() {
    check(&CDN);
}

#[test]
fn load_balance_fits_the_screen() {
    check(&LOAD_BALANCE);
}

#[test]
fn url_fits_the_screen() {
    check(&URL);
}

#[test]
fn io_mux_fits_the_screen() {
    check(&IO_MUX);
}

#[test]
fn rpc_fits_the_screen() {
    check(&RPC);
}

#[test]
fn async_fits_the_screen() {
    check(&ASYNC);
}

#[test]
fn producer_consumer_fits_the_screen() {
    check(&PRODUCER_CONSUMER);
}

#[test]
fn ipc_fits_the_screen() {
    check(&IPC);
}

#[test]
fn concurrency_fits_the_screen() {
    check(&CONCURRENCY);
}

#[test]
fn width_comes_from_the_flag_then_the_terminal_then_columns() {
    use netlab::narrate::NarratorConfig as C;
    assert_eq!(C::width_from(Some(100), Some(120), Some(90)), 100);
    assert_eq!(C::width_from(None, Some(120), Some(90)), 120);
    assert_eq!(C::width_from(None, None, Some(90)), 90);
    assert_eq!(C::width_from(None, None, None), 80);
    assert_eq!(C::width_from(None, None, Some(10)), 80, "too narrow: 80");
    // COLUMNS reaches the binary when stdout is not a terminal.
    let o = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["dns-trace", "www.baidu.com", "--lang", "en"])
        .env("COLUMNS", "60")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let t = stdout(&o);
    assert!(t.lines().all(|l| display_width(l) <= 60), "{t}");
    assert!(t.lines().any(|l| display_width(l) > 50), "{t}");
}

#[test]
fn the_ladder_ends_the_default_view_with_one_arrow_per_packet() {
    let run = recorded(&["dns-trace", "www.baidu.com"]);
    let t = rendered(&run, &["--lang", "en", "--width", "80"]);
    let ladder = t
        .split("── The packets, in order")
        .nth(1)
        .expect("a ladder");
    let arrows = ladder
        .lines()
        .filter(|l| l.contains('▶') || l.contains('◀'))
        .count();
    let j: Vec<Value> = std::fs::read_to_string(&run)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // A second look at an earlier packet (a byte view) is no arrow of its own.
    let records: usize = j
        .iter()
        .flat_map(|l| l["packets"].as_array().cloned().unwrap_or_default())
        .filter(|p| p["echo"] != true)
        .count();
    assert_eq!(arrows, records, "one arrow per packet record:\n{ladder}");
    for l in &j {
        for p in l["packets"].as_array().into_iter().flatten() {
            for k in ["from", "to"] {
                assert!(
                    p[k].as_str().is_some_and(|s| !s.is_empty()),
                    "packet record without {k}: {p}"
                );
            }
            for lang in ["en", "zh"] {
                assert!(
                    p["label"][lang].as_str().is_some_and(|s| !s.is_empty()),
                    "packet record without a label in {lang}: {p}"
                );
            }
        }
    }
    assert!(ladder.contains("stub") && ladder.contains("resolver") && ladder.contains("root"));
}

#[test]
fn a_concept_is_explained_once_per_run() {
    let run = recorded(&["dns-trace", "www.baidu.com"]);
    let t = rendered(&run, &["--lang", "en"]);
    assert_eq!(
        t.matches("Not an answer but a referral").count(),
        1,
        "the second referral is one line:\n{t}"
    );
    assert!(t.matches("referral to").count() >= 4);
}

/// Protocol, field and program names that stay as they are in Chinese text.
const KEEP: &str = "DNS UDP TCP ARP RARP ICMP IP IPv MAC TTL RTT SYN ACK FIN RST PSH URG SYN-ACK \
NOERROR NXDOMAIN NODATA SERVFAIL REFUSED CNAME A AAAA NS SOA TXT MX IN QR AA TC RD RA RCODE \
OPCODE AUTHORITY ANSWER ADDITIONAL QDCOUNT ANCOUNT NSCOUNT ARCOUNT QNAME QTYPE QCLASS ID FLAGS \
MINIMUM EDNS RFC AN AR ms µs KiB MB MiB B glibc getaddrinfo nsswitch hosts netlab nftables nft \
Nagle TCP_NODELAY tokio tokio-util Decoder LinesCodec LengthDelimitedCodec veth CDN IANA DHCP \
FTP Telnet SMTP POP HTTP SNMP TFTP NAT EtherType DSCP ECN DF MF MSS SACK QUIC Redis socket bind \
listen connect accept send recv sendto close read write fd ping traceroute REACHABLE STALE DELAY \
PROBE FAILED INCOMPLETE PERMANENT stub resolver root h sw r LAN WAN x y hello one two three \
onetwothree seq ack win len ttl rtt icmp_seq udp tcp tcp-vs-udp dns-trace arp-table \
sticky-packet firewall dig hickory-resolver systemd-resolved nscd conntrack \
add rule table chain inet forward type filter hook priority policy accept drop reject with reset \
icmpx port-unreachable ct state established related new iifname eth daddr dport meta l4proto \
TIME_WAIT ESTABLISHED ip Linux ssh NTP \
EAGAIN errno select poll epoll epoll_ctl epoll_wait FD_SETSIZE FD_SET LT ET proc wait_woken \
URL URI URN http mailto isbn teacher lab edu cn www GET OK Host User-Agent Accept Connection \
Server Content-Type Content-Length text html charset tiny-http Rust Ethernet IPv4 Wi-Fi PSH nope urn \
time exceeded netem tc tbf Mbit eth0 eth1 eth2 wan GSO GRO RcvbufErrors \
VRRP VRID vrid keepalived Backup \
Cache-Control max-age Age ETag If-None-Match Not Modified MISS HIT REVALIDATED X-Cache Via \
EDNS Client Subnet origin dns \
DNAT HAProxy IPVS LVS LVS-DR LVS-NAT VIP Web X-Forwarded-For addr cookie default dev device dnat \
dstnat fwd hyper in inc ingress jhash lb lo lvs lvsdr map mod nat netdev nginx numgen pre \
prerouting replace route saddr seed sport sysctl to via \
RPC gRPC JSON API TLS HPACK HEADERS DATA SETTINGS GOAWAY PING Upgrade protobuf tonic hyper \
trailers POST te content-type application grpc grpc-timeout grpc-status id account amount balance alice AddToBalance \
FIONREAD recv mmap IOCP Windows Python asyncio asynio gevent greenlet hub libev libuv Twisted \
reactor Protocol Deferred \
VecDeque Mutex Condvar futex push pop std mpsc getrusage EAGAIN POLLOUT Wireshark Keep-Alive \
Zero Window Probe SO_RCVBUF CPU \
lo pid fork exec shell open unlink Unix POSIX FIFO mkfifo socketpair memfd mmap futex sigqueue \
sigtimedwait \
CPU GIL Python CPython cpython python Rust Future futex mutex flock fork exec cat \
getrusage RssAnon FUTEX_WAIT FUTEX_WAKE LOCK_EX await lock unlock submit map with pickle \
concurrent futures ThreadPoolExecutor ProcessPoolExecutor threading local thread_local \
std sync Mutex posix_spawn getswitchinterval sys apt install fork+exec proc locks \
future multiprocessing";

/// Words a Chinese run shows in English that are not protocol terms.
fn english_words(text: &str) -> Vec<String> {
    let keep: std::collections::HashSet<&str> = KEEP.split_whitespace().collect();
    let mut bad = Vec::new();
    // Code a student could type stays as it is, even where it wraps to the next line.
    let mut plain = String::new();
    let mut code = false;
    for c in text.chars() {
        match c {
            '`' => code = !code,
            '\n' => plain.push('\n'),
            c if !code => plain.push(c),
            _ => {}
        }
    }
    for line in plain.lines() {
        for tok in line.split_whitespace() {
            // Addresses, names, numbers with units, field names (eth.dst), paths, flags.
            if tok
                .chars()
                .any(|c| c.is_ascii_digit() || ".:/=_[\\<>".contains(c))
            {
                continue;
            }
            // A flag the student can type (after an opening mark, too).
            if tok
                .trim_start_matches(|c: char| !c.is_ascii())
                .starts_with("--")
            {
                continue;
            }
            // A byte of a hex dump.
            if tok.len() == 2 && tok.chars().all(|c| c.is_ascii_hexdigit()) {
                continue;
            }
            for w in tok.split(|c: char| !(c.is_ascii_alphabetic() || c == '-')) {
                let w = w.trim_matches('-');
                if w.len() >= 2 && !keep.contains(w) {
                    bad.push(format!("{w:?} in: {line}"));
                }
            }
        }
    }
    bad
}

#[test]
fn chinese_runs_are_chinese_but_for_protocol_terms() {
    let mut runs: Vec<Vec<&str>> = vec![
        vec!["dns-trace", "www.baidu.com"],
        vec!["dns-trace", "big.baidu.com", "--type", "TXT"],
        vec!["dns-trace", "www.nic.cn"],
        vec!["dns-trace", "nope.baidu.com"],
        vec!["sticky-packet"],
        vec!["io-mux", "--conns", "10,1100", "--clients", "100"],
        vec!["async", "--conns", "200", "--reads", "20"],
        vec!["producer-consumer"],
        vec!["ipc", "--round-trips", "5"],
        vec!["concurrency", "--n", "20"],
    ];
    if privileged() {
        runs.extend([
            vec!["arp-table"],
            vec!["ping"],
            vec!["tcp-vs-udp", "--bulk", "1"],
            vec!["firewall"],
            vec!["url"],
            vec!["traceroute"],
            vec!["failover"],
            vec!["cdn"],
            vec!["load-balance"],
            vec!["rpc"],
        ]);
    }
    for args in runs {
        let t = rendered(&recorded(&args), &["--lang", "zh", "--width", "100"]);
        let bad = english_words(&t);
        assert!(
            bad.is_empty(),
            "{args:?} shows English:\n{}",
            bad.join("\n")
        );
    }
}

#[test]
fn the_english_word_scan_finds_english() {
    assert!(english_words("表  (empty)").len() == 1);
    assert!(english_words("转介到 com.：`ip link set`").is_empty());
    assert!(english_words("TCP 47100 > 38493 [SYN] seq=1").is_empty());
}

#[test]
fn the_reference_pages_fit_the_width_too() {
    for lang in ["en", "zh"] {
        for width in ["80", "100"] {
            for args in [&["questions"][..], &["explain", "Q5"], &["explain", "Q17"]] {
                let mut a = args.to_vec();
                a.extend(["--lang", lang, "--width", width]);
                let t = stdout(&netlab(&a));
                let w: usize = width.parse().unwrap();
                for line in t.lines() {
                    assert!(display_width(line) <= w, "{a:?}: {line}");
                }
                let id = args.get(1).copied().unwrap_or("Q39");
                assert!(t.contains(id), "{a:?}: {t}");
            }
        }
    }
}
