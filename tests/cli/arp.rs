//! arp-table in the namespace lab (root), and the checks every lab demo's
//! record shares (wire order, the pcap against the JSON, `--bytes`), used by
//! ping's, traceroute's and url's tests too.

use super::*;

fn field<'a>(packet: &'a Value, name: &str) -> &'a str {
    packet["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no field {name} in {packet}"))["value"]["en"]
        .as_str()
        .unwrap()
}

/// Every packet record of a run (a step's `packets`), echoes included.
pub fn all_packets(lines: &[Value]) -> Vec<&Value> {
    lines
        .iter()
        .flat_map(|l| l["packets"].as_array().into_iter().flatten())
        .collect()
}

/// The packets of a run, second looks (`echo: true`) left out.
pub fn packets(lines: &[Value]) -> Vec<&Value> {
    all_packets(lines)
        .into_iter()
        .filter(|p| p["echo"] != true)
        .collect()
}

/// The captured packets of a run follow their capture time: over all steps,
/// in record order, `at_us` never goes back (second looks and packets
/// without a time are skipped). No frame is drawn before one that preceded
/// it on the wire.
pub fn assert_wire_order(demo: &str, lines: &[Value]) {
    let mut last: Option<(u64, u64, String)> = None;
    let mut seen = 0;
    for l in lines {
        for p in l["packets"].as_array().into_iter().flatten() {
            let Some(at) = p["at_us"].as_u64() else {
                continue;
            };
            if p["echo"] == true {
                continue;
            }
            seen += 1;
            let here = (
                at,
                l["number"].as_u64().unwrap_or(0),
                p["label"]["en"].to_string(),
            );
            if let Some(prev) = &last {
                assert!(
                    at >= prev.0,
                    "{demo}: step {} {} (at {at}) is drawn after step {} {} (at {}), which crossed later",
                    here.1,
                    here.2,
                    prev.1,
                    prev.2,
                    prev.0
                );
            }
            last = Some(here);
        }
    }
    assert!(seen > 0, "{demo}: no captured packets");
}

/// How many packets of each protocol (TCP, UDP, ICMP, ARP, IP) a run's JSON holds.
pub fn json_protocols(lines: &[Value]) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for p in packets(lines) {
        *m.entry(p["protocol"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    m
}

/// How many packets of each protocol a capture file holds, as tshark reads
/// it: the first of ARP, ICMP, TCP, UDP in a frame's protocol stack (an
/// ICMP error quoting a UDP datagram is ICMP), else IP.
pub fn pcap_protocols(file: &std::path::Path) -> std::collections::BTreeMap<String, usize> {
    let o = std::process::Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-T", "fields", "-e", "frame.protocols"])
        .output()
        .expect("run tshark");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut m = std::collections::BTreeMap::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let proto = line
            .split(':')
            .find_map(|p| match p {
                "arp" => Some("ARP"),
                "icmp" => Some("ICMP"),
                "tcp" => Some("TCP"),
                "udp" => Some("UDP"),
                _ => None,
            })
            .unwrap_or("IP");
        *m.entry(proto.to_string()).or_insert(0) += 1;
    }
    m
}

/// Run a lab demo with `--json --pcap`: the capture file holds every packet
/// of the JSON and nothing else, protocol by protocol; and its packets are
/// in wire order. Returns the run's lines.
pub fn assert_pcap_is_the_record(args: &[&str]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("run.pcapng");
    let mut full = args.to_vec();
    full.extend(["--json", "--pcap", pcap.to_str().unwrap()]);
    let o = netlab(&full);
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{args:?}: {}",
        stderr(&o)
    );
    let lines = json_lines(&o);
    assert_wire_order(args[0], &lines);
    assert_eq!(
        pcap_protocols(&pcap),
        json_protocols(&lines),
        "{args:?}: the pcap's packets by protocol, against the JSON's"
    );
    lines
}

/// `--bytes` shows a byte table for every packet record of a run (rendered
/// from the same saved run), and the default view only for the packets the
/// demo chose to explain.
pub fn assert_bytes_shows_every_packet(args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run.jsonl");
    let mut full = args.to_vec();
    full.push("--json");
    let o = netlab(&full);
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{args:?}: {}",
        stderr(&o)
    );
    std::fs::write(&run, &o.stdout).unwrap();
    let lines = json_lines(&o);
    let records = all_packets(&lines);
    let explained = records.iter().filter(|p| p["show_bytes"] == true).count();
    // A packet's head line, then (when it has a field table) the table's rows.
    let tables = |extra: &[&str]| -> (usize, usize, usize) {
        let mut a = vec![
            "render",
            run.to_str().unwrap(),
            "--lang",
            "en",
            "--width",
            "120",
        ];
        a.extend_from_slice(extra);
        let o = netlab(&a);
        assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
        let text = stdout(&o);
        let lines: Vec<&str> = text.lines().collect();
        let heads: Vec<usize> = (0..lines.len())
            .filter(|&i| {
                let t = lines[i].trim_start();
                t.starts_with("⇄ captured on")
                    || t.starts_with("→ sent to")
                    || t.starts_with("← received from")
            })
            .collect();
        let row = |l: &str| {
            let t = l.trim_start();
            t.split(' ').next().is_some_and(|r| {
                r.split_once("..").is_some_and(|(a, b)| {
                    a.parse::<usize>().is_ok() && b.trim_end_matches(':').parse::<usize>().is_ok()
                })
            })
        };
        let with_table = heads
            .iter()
            .filter(|&&i| lines.get(i + 1).is_some_and(|l| row(l)))
            .count();
        (heads.len(), with_table, lines.len())
    };
    let (heads, with_table, long) = tables(&["--bytes"]);
    assert_eq!(heads, records.len(), "{args:?}: --bytes lists every packet");
    assert_eq!(
        with_table,
        records.len(),
        "{args:?}: --bytes shows every packet's byte table"
    );
    let (_, default_tables, short) = tables(&[]);
    assert_eq!(
        default_tables, explained,
        "{args:?}: the default view shows only the byte views the demo chose"
    );
    assert!(
        short < long,
        "{args:?}: the default view stays short ({short} lines against {long})"
    );
}

#[test]
fn arp_request_and_reply_are_captured_with_their_fields() {
    if !privileged() {
        return;
    }
    let o = netlab(&["arp-table", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let packets = packets(&lines);
    let req = packets
        .iter()
        .find(|p| {
            p["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["name"] == "arp.oper" && f["value"]["en"] == "1 (request)")
        })
        .expect("an ARP request");
    assert_eq!(req["direction"], "captured");
    assert_eq!(
        field(req, "eth.dst"),
        "ff:ff:ff:ff:ff:ff",
        "the request is broadcast"
    );
    assert_eq!(field(req, "eth.type"), "ARP (0x0806)");
    assert_eq!(field(req, "arp.htype"), "1");
    assert_eq!(field(req, "arp.ptype"), "0x0800");
    assert_eq!(field(req, "arp.hlen"), "6");
    assert_eq!(field(req, "arp.plen"), "4");
    assert_eq!(field(req, "arp.sha"), "02:00:00:00:00:10");
    assert_eq!(field(req, "arp.spa"), "198.51.100.10");
    assert_eq!(field(req, "arp.tha"), "00:00:00:00:00:00");
    assert_eq!(field(req, "arp.tpa"), "198.51.100.20");
    assert_eq!(req["hex"].as_str().unwrap().len() / 2, 42);
    let rep = packets
        .iter()
        .find(|p| {
            p["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["name"] == "arp.oper" && f["value"]["en"] == "2 (reply)")
        })
        .expect("an ARP reply");
    assert_eq!(
        field(rep, "eth.dst"),
        "02:00:00:00:00:10",
        "the reply is unicast to h1"
    );
    assert_eq!(field(rep, "arp.sha"), "02:00:00:00:00:20");
    assert_eq!(field(rep, "arp.spa"), "198.51.100.20");

    let s = lines.last().unwrap();
    assert_eq!(s["kind"], "summary");
    let entries = s["entries"].as_array().unwrap();
    let h2 = entries
        .iter()
        .find(|e| e["ip"] == "198.51.100.20")
        .expect("h2 in h1's table");
    assert_eq!(h2["mac"], "02:00:00:00:00:20");
    assert_eq!(h2["iface"], "eth0");
    assert!(!h2["state"].as_str().unwrap().is_empty());
    assert!(
        entries.iter().any(|e| e["ip"] == "198.51.100.1"),
        "the gateway is in the table"
    );
    assert!(
        !entries.iter().any(|e| e["ip"] == "203.0.113.10"),
        "h3 is never in h1's table"
    );
    // the first table was empty
    let first_table = lines
        .iter()
        .find(|l| l["data"]["entries"].is_array())
        .unwrap();
    assert!(first_table["data"]["entries"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn across_the_router_ips_stay_and_macs_change() {
    if !privileged() {
        return;
    }
    let o = netlab(&["arp-table", "--json"]);
    let s = json_lines(&o).pop().unwrap();
    let (a, b) = (&s["lan_a"], &s["lan_b"]);
    assert_eq!(a["src_ip"], b["src_ip"]);
    assert_eq!(a["dst_ip"], b["dst_ip"]);
    assert_eq!(a["src_mac"], "02:00:00:00:00:10", "h1 sends on LAN A");
    assert_eq!(
        a["dst_mac"], "02:00:00:00:00:01",
        "to r1's LAN A MAC, not h3's"
    );
    assert_eq!(b["src_mac"], "02:00:00:00:01:01", "r1 re-frames on LAN B");
    assert_eq!(b["dst_mac"], "02:00:00:00:01:10");
    assert_eq!(
        a["ttl"].as_u64().unwrap(),
        b["ttl"].as_u64().unwrap() + 1,
        "r1 took one off the TTL"
    );
}

#[test]
fn host_table_needs_no_privilege_and_lists_entries() {
    let o = netlab(&["arp-table", "--host", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = json_lines(&o).pop().unwrap();
    assert!(s["entries"].is_array());
}

#[test]
fn arp_table_records_follow_the_wire_and_the_pcap_holds_them_all() {
    if !privileged() || !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
    let lines = assert_pcap_is_the_record(&["arp-table"]);
    // r1's ARP for h3 on LAN B is drawn after the echo request to h3 that caused it.
    let packets = packets(&lines);
    let labels: Vec<String> = packets
        .iter()
        .map(|p| p["label"]["en"].as_str().unwrap().to_string())
        .collect();
    let at = |l: &str| {
        labels
            .iter()
            .position(|x| x.starts_with(l))
            .unwrap_or_else(|| panic!("no {l}: {labels:?}"))
    };
    let to_h3 = packets
        .iter()
        .position(|p| {
            p["label"]["en"]
                .as_str()
                .unwrap()
                .starts_with("ICMP echo request")
                && field(p, "ip.dst") == "203.0.113.10"
        })
        .expect("the echo request to h3");
    assert!(to_h3 < at("ARP who-has 203.0.113.10"), "{labels:?}");
    assert!(at("ARP who-has 198.51.100.1") < to_h3, "{labels:?}");
}

#[test]
fn arp_table_bytes_shows_every_packet() {
    if !privileged() {
        return;
    }
    assert_bytes_shows_every_packet(&["arp-table"]);
}

#[test]
fn the_arp_record_is_the_same_in_both_languages() {
    if !privileged() {
        return;
    }
    // What a script grading a run reads, apart from prose and measurements
    // (times, bytes with ids and checksums, a neighbour's state, rtts).
    let shape = |lang: &str| -> Vec<Value> {
        let o = netlab(&["arp-table", "--json", "--lang", lang]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        json_lines(&o)
            .iter()
            .map(|l| {
                let mut v = without_text(l);
                let keys = |x: &Value| -> Value {
                    let mut k: Vec<&String> =
                        x.as_object().map(|m| m.keys().collect()).unwrap_or_default();
                    k.sort();
                    serde_json::json!(k)
                };
                if l["kind"] == "summary" {
                    return serde_json::json!({"summary": keys(l), "demo": l["demo"], "ok": l["ok"], "questions": l["questions"]});
                }
                v["data"] = keys(&l["data"]);
                v["packets"] = l["packets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        let fields: Vec<&Value> = p["fields"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|f| &f["name"])
                            .collect();
                        serde_json::json!([
                            p["from"], p["to"], p["protocol"], p["direction"], p["echo"], fields
                        ])
                    })
                    .collect();
                v
            })
            .collect()
    };
    let (en, zh) = (shape("en"), shape("zh"));
    assert_eq!(en.len(), zh.len(), "as many lines");
    for (a, b) in en.iter().zip(&zh) {
        assert_eq!(a, b);
    }
}

/// Every packet a run's ladder draws belongs to a step whose words (title,
/// detail, correction, facts; English) name its protocol: no packet crosses
/// the screen unexplained.
pub fn assert_every_packet_is_told(demo: &str, lines: &[Value]) {
    for l in lines.iter().filter(|l| l["kind"] == "step") {
        let mut text = String::new();
        for k in ["title", "detail", "correction"] {
            text.push_str(l[k]["en"].as_str().unwrap_or(""));
            text.push(' ');
        }
        for f in l["facts"].as_array().into_iter().flatten() {
            text.push_str(f["value"]["en"].as_str().unwrap_or(""));
            text.push(' ');
        }
        for p in l["packets"].as_array().into_iter().flatten() {
            if p["echo"] == true {
                continue;
            }
            let proto = p["protocol"].as_str().unwrap();
            assert!(
                text.contains(proto),
                "{demo}: step {} draws {proto} `{}` but never mentions {proto}: {text}",
                l["number"],
                p["label"]["en"]
            );
        }
    }
}

#[test]
fn every_packet_of_the_arp_ladder_is_told_in_its_step() {
    if !privileged() {
        return;
    }
    let o = netlab(&["arp-table", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert_every_packet_is_told("arp-table", &lines);
    super::traceroute::assert_chinese_punctuation("arp-table", &lines);
    // h1's first contact with h2 is one ping: its echo request and reply
    // follow the ARP reply, in the step that says so.
    let reply_step = lines
        .iter()
        .find(|l| {
            l["packets"].as_array().into_iter().flatten().any(|p| {
                p["label"]["en"]
                    .as_str()
                    .unwrap()
                    .starts_with("ARP is-at 02:00:00:00:00:20")
            })
        })
        .unwrap();
    let labels: Vec<&str> = reply_step["packets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"]["en"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "ARP is-at 02:00:00:00:00:20",
            "ICMP echo request seq=1",
            "ICMP echo reply seq=1"
        ]
    );
    assert!(reply_step["detail"]["en"]
        .as_str()
        .unwrap()
        .contains("The waiting ICMP echo request then goes out"));
}

#[test]
fn an_arp_reply_is_labelled_with_the_mac_it_gives() {
    if !privileged() {
        return;
    }
    let o = netlab(&["arp-table", "--json"]);
    let lines = json_lines(&o);
    let replies: Vec<&Value> = packets(&lines)
        .into_iter()
        .filter(|p| {
            p["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["name"] == "arp.oper" && f["value"]["en"] == "2 (reply)")
        })
        .collect();
    assert_eq!(replies.len(), 3, "h2, r1 on LAN A, h3 on LAN B");
    for p in replies {
        // As tcpdump words the answer: `is-at 02:00:00:00:00:20`; the
        // summary has the whole line.
        let want = format!("ARP is-at {}", field(p, "arp.sha"));
        assert_eq!(p["label"]["en"], want.as_str());
        let line = format!(
            "ARP reply: {} is at {}",
            field(p, "arp.spa"),
            field(p, "arp.sha")
        );
        assert!(p["summary"]["en"].as_str().unwrap().contains(&line));
        assert!(p["label"]["zh"]
            .as_str()
            .unwrap()
            .ends_with(field(p, "arp.sha")));
    }
}

#[test]
fn arp_is_placed_in_both_layers_with_the_reason_for_each() {
    if !privileged() {
        return;
    }
    let o = netlab(&["arp-table", "--json"]);
    let lines = json_lines(&o);
    let step = lines
        .iter()
        .find(|l| l["data"]["frame"].is_object())
        .expect("the ARP request's step");
    let (en, zh) = (
        step["correction"]["en"].as_str().unwrap(),
        step["correction"]["zh"].as_str().unwrap(),
    );
    for w in [
        "谢希仁",
        "network-layer",
        "RFC 1122",
        "Kurose & Ross",
        "link layer",
        "IPv4 does too (0x0800)",
    ] {
        assert!(en.contains(w), "{w}: {en}");
    }
    for w in ["谢希仁", "网络层", "RFC 1122", "链路层", "0x0800"] {
        assert!(zh.contains(w), "{w}: {zh}");
    }
    assert!(
        !en.contains("the frame shows it rides directly in Ethernet"),
        "{en}"
    );
}

#[test]
fn explain_q5_teaches_both_placements_of_arp() {
    let en = stdout(&netlab(&[
        "explain", "Q5", "--lang", "en", "--width", "500",
    ]));
    let zh = stdout(&netlab(&[
        "explain", "Q5", "--lang", "zh", "--width", "500",
    ]));
    assert!(!zh.contains("不属于网络层"), "{zh}");
    assert!(
        !en.contains("so it is not a network-layer protocol"),
        "{en}"
    );
    for w in ["谢希仁", "网络层", "链路层", "RFC 1122", "0x0800"] {
        assert!(zh.contains(w), "{w}: {zh}");
    }
    for w in [
        "谢希仁",
        "network layer",
        "link layer",
        "RFC 1122",
        "Kurose & Ross",
    ] {
        assert!(en.contains(w), "{w}: {en}");
    }
}

/// A network namespace of its own, held by a `sleep` that Drop ends (the
/// namespace goes with it): one end of a throwaway link.
struct Throwaway(std::process::Child);

impl Throwaway {
    fn new() -> Throwaway {
        let child = Command::new("unshare")
            .args(["--net", "sleep", "600"])
            .spawn()
            .expect("unshare");
        let ns = Throwaway(child);
        let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
        // Until unshare has made the namespace, the child is still in ours.
        while std::fs::read_link(format!("/proc/{}/ns/net", ns.pid())).ok() == Some(ours.clone()) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        ns
    }

    fn pid(&self) -> String {
        self.0.id().to_string()
    }

    /// Run a program inside this namespace.
    fn run(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .args(["-t", &self.pid(), "-n", "--"])
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) {
        let o = self.run(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--iface IF --resolve IP` on an interface of netlab's own namespace (here
/// a veth in a throwaway namespace, so nothing leaves the machine): the first
/// time the kernel asks; the second time the entry exists, so netlab sends
/// its own broadcast request on a packet socket, and the capture shows it
/// and the reply.
#[test]
fn resolve_on_an_interface_here_asks_through_the_kernel_then_through_netlab() {
    if !privileged()
        || !require(
            "unshare, nsenter and ip",
            have("unshare") && have("nsenter") && have("ip"),
        )
    {
        return;
    }
    let (near, far) = (Throwaway::new(), Throwaway::new());
    near.ok(&[
        "ip",
        "link",
        "add",
        "nlv0",
        "type",
        "veth",
        "peer",
        "name",
        "nlv1",
        "netns",
        &far.pid(),
    ]);
    near.ok(&["ip", "addr", "add", "198.51.100.225/28", "dev", "nlv0"]);
    near.ok(&["ip", "link", "set", "nlv0", "up"]);
    far.ok(&["ip", "link", "set", "nlv1", "address", "02:00:00:00:00:e2"]);
    far.ok(&["ip", "addr", "add", "198.51.100.226/28", "dev", "nlv1"]);
    far.ok(&["ip", "link", "set", "nlv1", "up"]);
    let bin = env!("CARGO_BIN_EXE_netlab");
    let resolve = || {
        let o = near.run(&[
            bin,
            "arp-table",
            "--iface",
            "nlv0",
            "--resolve",
            "198.51.100.226",
            "--json",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let lines = json_lines(&o);
        let summary = lines.last().unwrap().clone();
        assert_eq!(summary["resolved"]["mac"], "02:00:00:00:00:e2", "{summary}");
        let requests = packets(&lines)
            .into_iter()
            .filter(|p| {
                p.to_string()
                    .contains("who has 198.51.100.226? tell 198.51.100.225")
            })
            .count();
        (stdout(&o), requests)
    };
    let (first, _) = resolve();
    assert!(first.contains("the kernel had no MAC for it"), "{first}");
    let (second, requests) = resolve();
    assert!(
        second.contains("netlab sent its own ARP request"),
        "{second}"
    );
    assert!(
        requests >= 1,
        "netlab's request was captured on the wire: {second}"
    );
}
