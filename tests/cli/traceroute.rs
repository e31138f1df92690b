//! netlab traceroute: each hop's ICMP, the WAN's cost, LAN against WAN, NAT.
//! RTTs are shown, never compared here, but one: the WAN's delay is a
//! configured 20 ms each way, so hop 2 cannot answer in under 40 ms.

use super::*;

fn summary(lines: &[Value]) -> &Value {
    let s = lines.last().unwrap();
    assert_eq!(s["kind"], "summary");
    s
}

#[test]
fn the_lab_trace_shows_each_router_and_tshark_agrees() {
    if !privileged() || !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("trace.pcapng");
    let o = netlab(&["traceroute", "--json", "--pcap", pcap.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let s = summary(&lines);
    assert_eq!(s["reached"], true);
    assert_eq!(s["target"], "203.0.113.200");
    let hops = s["hops"].as_array().unwrap();
    let got: Vec<(u64, &str, &str)> = hops
        .iter()
        .map(|h| {
            (
                h["ttl"].as_u64().unwrap(),
                h["address"].as_str().unwrap(),
                h["reply"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, "198.51.100.1", "time-exceeded"),
            (2, "203.0.113.130", "time-exceeded"),
            (3, "203.0.113.200", "port-unreachable"),
        ]
    );
    // The WAN's configured delay, there and back, is a floor for hop 2 and beyond.
    for h in &hops[1..] {
        assert!(h["rtt_ms"].as_f64().unwrap() >= 40.0, "{h}");
    }
    assert_eq!(s["wan"]["delay_ms"], 20);
    // LAN A's ARP never reaches the WAN.
    assert!(s["lan_arp"].as_u64().unwrap() >= 2, "{s}");
    assert_eq!(s["wan_arp_from_lan"], 0);
    // NAT: h1 saw r2's address, h4 used its own; r2's conntrack knows both.
    assert!(s["nat"]["inside"]
        .as_str()
        .unwrap()
        .starts_with("203.0.113.200:"));
    assert!(s["nat"]["outside"]
        .as_str()
        .unwrap()
        .starts_with("203.0.113.130:"));
    let ct = s["nat"]["conntrack"]
        .as_array()
        .expect("r2 has nf_conntrack");
    assert!(
        ct.iter()
            .any(|t| t["reply"].as_str().unwrap().contains("203.0.113.130")),
        "{ct:?}"
    );
    // tshark: the probes, the answers, and the SYN before and after r2.
    let count = |filter: &str| tshark_count(&pcap, filter);
    assert!(
        count("icmp.type == 11 && ip.src == 198.51.100.1") >= 3,
        "r1's time exceeded"
    );
    assert!(
        count("icmp.type == 11 && ip.src == 203.0.113.130") >= 3,
        "r2's time exceeded"
    );
    assert!(count("icmp.type == 3 && icmp.code == 3 && ip.src == 203.0.113.200") >= 3);
    assert!(
        count("udp.dstport >= 33434 && ip.ttl == 1") >= 3,
        "the first probes"
    );
    assert_eq!(
        count("arp && arp.src.proto_ipv4 == 198.51.100.10 && eth.src == 02:00:00:00:02:01"),
        0
    );
    assert_eq!(
        count("tcp.flags.syn == 1 && tcp.flags.ack == 0 && ip.src == 203.0.113.200"),
        1
    );
    assert_eq!(
        count("tcp.flags.syn == 1 && tcp.flags.ack == 0 && ip.src == 203.0.113.130"),
        1
    );
    assert_eq!(count("_ws.malformed"), 0);
}

#[test]
fn icmp_probes_end_in_an_echo_reply() {
    if !privileged() {
        return;
    }
    let o = netlab(&["traceroute", "-I", "-q", "1", "--delay", "5", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let s = summary(&lines);
    let last = s["hops"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["reply"], "echo-reply");
    assert_eq!(last["address"], "203.0.113.200");
    assert_eq!(s["wan"]["delay_ms"], 5);
}

#[test]
fn a_max_ttl_below_the_target_stops_short() {
    if !privileged() {
        return;
    }
    let o = netlab(&["traceroute", "-m", "2", "-q", "1", "--json"]);
    assert_eq!(o.status.code(), Some(1), "not reached: {}", stderr(&o));
    let lines = json_lines(&o);
    let s = summary(&lines);
    assert_eq!(s["reached"], false);
    assert_eq!(s["hops"].as_array().unwrap().len(), 2);
}

#[test]
fn it_runs_as_nobody() {
    if !privileged() {
        return;
    }
    let o = netlab_as_nobody(&["traceroute", "-q", "1", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(summary(&json_lines(&o))["reached"], true);
}

#[test]
fn a_target_is_traced_as_traceroute_prints_it() {
    // Loopback only: a target on the real network is never tried in tests.
    let o = netlab(&["traceroute", "127.0.0.1", "-q", "2", "--lang", "en"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = stdout(&o);
    assert!(
        t.starts_with("traceroute to 127.0.0.1 (127.0.0.1), 30 hops max, 32 byte packets\n"),
        "{t}"
    );
    let hop = t.lines().nth(1).unwrap();
    // " 1  127.0.0.1  …" as traceroute aligns it (no-break spaces keep the wrapper off).
    assert!(hop.starts_with("\u{a0}1\u{a0} 127.0.0.1\u{a0} "), "{hop:?}");
    assert_eq!(hop.matches("ms").count(), 2, "{hop}");
    let o = netlab(&["traceroute", "127.0.0.1", "--json", "-q", "1"]);
    let lines = json_lines(&o);
    let s = summary(&lines);
    assert_eq!(s["hops"][0]["reply"], "port-unreachable");
    assert_eq!(s["reached"], true);
    assert!(s.get("wan").is_none());
}

#[test]
fn a_broadcast_target_is_refused_before_any_probe_and_not_blamed_on_privilege() {
    // lo's 127.0.0.1/8 makes 127.255.255.255 a broadcast route: the kernel
    // refuses connect()/send() there with EACCES, which is no missing privilege.
    for extra in [&[][..], &["-I"][..]] {
        for lang in ["en", "zh"] {
            let mut a = vec!["traceroute", "127.255.255.255", "-q", "1", "--lang", lang];
            a.extend(extra);
            let o = netlab(&a);
            assert_eq!(o.status.code(), Some(2), "{a:?}: {}", stderr(&o));
            let e = stderr(&o);
            assert_eq!(e.lines().count(), 1, "one line: {e}");
            let said = if lang == "en" {
                "is a broadcast address"
            } else {
                "是广播地址"
            };
            assert!(e.contains(said), "{a:?}: {e}");
            assert!(!e.contains("ICMP") && !e.contains("sudo"), "{a:?}: {e}");
            assert!(stdout(&o).is_empty(), "no probe line: {}", stdout(&o));
        }
    }
}

#[test]
fn an_ipv6_target_is_named_as_such() {
    let o = netlab(&["traceroute", "::1", "--lang", "en"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("IPv6 is not supported"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_unspecified_address_is_this_host_and_is_reached() {
    // As ping 0.0.0.0 does: the kernel delivers it to 127.0.0.1, which answers.
    for extra in [&[][..], &["-I"][..]] {
        let mut a = vec!["traceroute", "0.0.0.0", "-q", "1", "--json"];
        a.extend(extra);
        let o = netlab(&a);
        assert_eq!(o.status.code(), Some(0), "{a:?}: {}", stderr(&o));
        let lines = json_lines(&o);
        let s = summary(&lines);
        assert_eq!(s["reached"], true, "{s}");
        assert_eq!(s["hops"].as_array().unwrap().len(), 1, "{s}");
        assert_eq!(s["hops"][0]["address"], "127.0.0.1", "{s}");
        let title = s["title"]["en"].as_str().unwrap();
        assert!(title.contains("127.0.0.1 answered, this host"), "{title}");
        let said = lines
            .iter()
            .any(|l| l.to_string().contains("means \\\"this host\\\""));
        assert!(said, "the run says what 0.0.0.0 means: {lines:?}");
    }
}

#[test]
fn the_text_fits_both_languages() {
    if !privileged() {
        return;
    }
    for (lang, want) in [
        (
            "en",
            [
                "time exceeded",
                "there and back",
                "r2's address",
                "NAT is no protocol",
            ],
        ),
        ("zh", ["超时", "一去一回", "r2 的地址", "NAT 不是协议"]),
    ] {
        let o = netlab(&["traceroute", "--lang", lang, "--width", "80"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        // Words, not lines: a phrase may wrap (and Chinese wraps inside words).
        let t = stdout(&o).split_whitespace().collect::<Vec<_>>().join(" ");
        let tight: String = t.split(' ').collect();
        for w in want {
            let tight_w: String = w.split(' ').collect();
            if lang == "zh" {
                assert!(tight.contains(&tight_w), "{lang}: no {w:?}:\n{t}");
                continue;
            }
            assert!(t.contains(w), "{lang}: no {w:?}:\n{t}");
        }
    }
}

#[test]
fn traceroute_records_follow_the_wire_and_the_pcap_holds_them_all() {
    if !privileged() || !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
    let lines = super::arp::assert_pcap_is_the_record(&["traceroute", "-q", "1"]);
    // The WAN's frames of TTL 2 are drawn with TTL 2, before r2's answer reaches h1.
    let hop2 = lines
        .iter()
        .find(|l| l["data"]["ttl"] == 2 && l["data"]["probes"].is_array())
        .expect("the TTL 2 step");
    let on: Vec<(&str, &str)> = hop2["packets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["from"].as_str().unwrap(), p["to"].as_str().unwrap()))
        .collect();
    let first = |pair: (&str, &str)| on.iter().position(|x| *x == pair);
    let (Some(wan_probe), Some(back_to_h1)) = (first(("r1", "r2")), first(("r1", "h1"))) else {
        panic!("TTL 2's step holds the probe on the WAN and the answer on LAN A: {on:?}");
    };
    assert!(wan_probe < back_to_h1, "{on:?}");
}

/// Chinese prose keeps one style of punctuation: a piece of a run's text
/// (a title, a detail, a correction, a fact's value) that holds Chinese uses
/// Chinese punctuation, never `, ` `: ` `; ` between words. (A value quoted
/// verbatim from a protocol, such as HTTP headers, holds no Chinese.)
pub fn assert_chinese_punctuation(demo: &str, lines: &[Value]) {
    let cjk = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    for l in lines {
        let mut pieces: Vec<String> = ["title", "detail", "correction"]
            .iter()
            .filter_map(|k| l[k]["zh"].as_str().map(str::to_string))
            .collect();
        for f in l["facts"].as_array().into_iter().flatten() {
            pieces.push(f["value"]["zh"].as_str().unwrap_or("").to_string());
        }
        // What is quoted (「…」 or `…`) is verbatim: a header, a command.
        let unquoted = |p: &str| -> String {
            let mut out = String::new();
            let mut quote: Option<char> = None;
            for c in p.chars() {
                match (quote, c) {
                    (None, '「') => quote = Some('」'),
                    (None, '`') => quote = Some('`'),
                    (Some(q), c) if c == q => quote = None,
                    (None, c) => out.push(c),
                    _ => {}
                }
            }
            out
        };
        let pieces: Vec<String> = pieces.iter().map(|p| unquoted(p)).collect();
        for p in pieces.iter().filter(|p| cjk(p)) {
            for ascii in [", ", ": ", "; "] {
                assert!(
                    !p.contains(ascii),
                    "{demo}: step {} mixes {ascii:?} into Chinese: {p}",
                    l["number"]
                );
            }
        }
    }
}

#[test]
fn the_lan_wan_step_counts_broadcasts_and_replies_from_the_frames() {
    if !privileged() {
        return;
    }
    let o = netlab(&["traceroute", "-q", "1", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    // ARP frames on h1's link, as the packet records give them.
    let arp: Vec<&Value> = super::arp::packets(&lines)
        .into_iter()
        .filter(|p| p["peer"] == "h1:eth0" && p["protocol"] == "ARP")
        .collect();
    let field = |p: &Value, name: &str| -> String {
        p["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| f["value"]["en"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let broadcasts = arp
        .iter()
        .filter(|p| field(p, "eth.dst") == "ff:ff:ff:ff:ff:ff")
        .count();
    let replies = arp
        .iter()
        .filter(|p| field(p, "arp.oper") == "2 (reply)")
        .count();
    assert!(broadcasts >= 1 && replies >= 1, "{arp:?}");
    let step = lines
        .iter()
        .find(|l| l["data"]["lan_arp"].is_u64())
        .expect("the LAN and WAN step");
    assert_eq!(step["data"]["lan_arp"], arp.len());
    assert_eq!(step["data"]["lan_arp_broadcasts"], broadcasts);
    assert_eq!(step["data"]["lan_arp_replies"], replies);
    let title = step["title"]["en"].as_str().unwrap();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    assert!(
        title.starts_with(&format!(
            "{} on LAN A, answered by {}",
            plural(broadcasts, "ARP broadcast", "ARP broadcasts"),
            plural(replies, "unicast reply", "unicast replies")
        )),
        "{title}"
    );
    assert!(step["title"]["zh"].as_str().unwrap().contains(&format!(
        "{broadcasts} 个 ARP 广播，得到 {replies} 个单播应答"
    )));
}

#[test]
fn nat_on_documentation_addresses_names_the_private_ranges() {
    if !privileged() {
        return;
    }
    let o = netlab(&["traceroute", "-q", "1", "--json"]);
    let lines = json_lines(&o);
    let nat = lines
        .iter()
        .find(|l| l["section"]["en"] == "4 · NAT")
        .expect("the NAT step");
    let (en, zh) = (
        nat["detail"]["en"].as_str().unwrap(),
        nat["detail"]["zh"].as_str().unwrap(),
    );
    for w in [
        "RFC 1918",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "RFC 5737",
        "never collide",
    ] {
        assert!(en.contains(w), "{w}: {en}");
    }
    for w in ["RFC 1918", "私有地址", "文档地址", "192.168.0.0/16"] {
        assert!(zh.contains(w), "{w}: {zh}");
    }
}

#[test]
fn the_trace_tells_every_packet_in_natural_chinese() {
    if !privileged() {
        return;
    }
    let o = netlab(&["traceroute", "--json"]);
    let lines = json_lines(&o);
    super::arp::assert_every_packet_is_told("traceroute", &lines);
    assert_chinese_punctuation("traceroute", &lines);
    // The LANs' facts read as Chinese in Chinese, like the LAN C line beside them.
    let intro = &lines[0];
    for lan in ["LAN A", "LAN B", "LAN C"] {
        let fact = intro["facts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["label"]["en"] == lan)
            .unwrap();
        let zh = fact["value"]["zh"].as_str().unwrap();
        assert!(zh.contains('：') && zh.contains('，'), "{lan}: {zh}");
    }
    let all = stdout(&o);
    assert!(!all.contains("一帧之遥"), "a word-for-word phrase");
}
