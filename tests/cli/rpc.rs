//! netlab rpc: netlab's own RPC frames and one gRPC call on the loopback of
//! a private namespace; the JSON against the packets, read back by tshark.

use super::*;

fn summary(lines: &[Value]) -> &Value {
    let s = lines.last().unwrap();
    assert_eq!(s["kind"], "summary", "{s}");
    s
}

/// The step whose data has `key`.
fn step_with<'a>(lines: &'a [Value], key: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["kind"] == "step" && !l["data"][key].is_null())
        .collect()
}

/// (kind, request id) of every netlab RPC frame in the run's packet
/// records, in wire order, from the fields netlab dissected.
fn frames_in_json(lines: &[Value]) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for l in lines {
        for p in l["packets"].as_array().into_iter().flatten() {
            let fields = p["fields"].as_array().unwrap();
            // Each frame: rpc.length, rpc.kind, rpc.id, …
            let mut kind = None;
            for f in fields {
                let value = f["value"]["en"].as_str().unwrap();
                match f["name"].as_str().unwrap() {
                    "rpc.kind" => kind = value.split(" = ").nth(1).map(str::to_string),
                    "rpc.id" => out.push((kind.take().unwrap(), value.parse().unwrap())),
                    _ => {}
                }
            }
        }
    }
    out
}

/// (kind byte, request id) of every netlab RPC frame one side sent, read
/// by tshark from the capture file: the TCP payloads, split by the length
/// prefix here.
fn frames_in_pcap(pcap: &std::path::Path, filter: &str) -> Vec<(u8, u32)> {
    let o = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-Y", filter, "-T", "fields", "-e", "tcp.payload"])
        .output()
        .expect("run tshark");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut stream = Vec::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        stream.extend(netlab::record::from_hex(line.trim()).expect("hex"));
    }
    let mut out = Vec::new();
    let mut at = 0;
    while at + 10 <= stream.len() {
        let len = u32::from_be_bytes(stream[at..at + 4].try_into().unwrap()) as usize;
        let id = u32::from_be_bytes(stream[at + 5..at + 9].try_into().unwrap());
        out.push((stream[at + 4], id));
        at += 4 + len;
    }
    out
}

/// Each HEADERS block tshark decoded on the gRPC port: (name, value) pairs.
fn grpc_headers(pcap: &std::path::Path, port: u64) -> Vec<Vec<(String, String)>> {
    let o = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args([
            "-d",
            &format!("tcp.port=={port},http2"),
            "-Y",
            "http2.header",
            "-T",
            "fields",
            "-E",
            "aggregator=|",
            "-e",
            "http2.header.name",
            "-e",
            "http2.header.value",
        ])
        .output()
        .expect("run tshark");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let (names, values) = l.split_once('\t').unwrap();
            names
                .split('|')
                .zip(values.split('|'))
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn check_run(lines: &[Value]) {
    let s = summary(lines);
    assert_eq!(s["ok"], true, "{s}");
    let calls = s["calls"].as_array().unwrap();
    let netlab: Vec<&Value> = calls.iter().filter(|c| c["protocol"] == "netlab").collect();
    let ids: Vec<u64> = netlab.iter().map(|c| c["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6], "{calls:?}");
    assert!(calls.iter().all(|c| c["ok"] == true), "{calls:?}");
    // Both calls went out in one segment, a frame each.
    let first = &step_with(lines, "segment_payload")[0]["data"];
    let ids: Vec<u64> = first["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1, 2], "{first}");
    // The two calls in flight: sent 1, 2; answered 2, 1, and the quick one
    // took less time than the slow one.
    let flight = &step_with(lines, "reply_order")[0]["data"];
    assert_eq!(flight["sent_order"], serde_json::json!([1, 2]));
    assert_eq!(flight["reply_order"], serde_json::json!([2, 1]), "{flight}");
    assert!(netlab[1]["ms"].as_f64().unwrap() < netlab[0]["ms"].as_f64().unwrap());
    // One retry, with the same id, for each add_to_balance; none for the rest.
    let retries: Vec<u64> = netlab
        .iter()
        .map(|c| c["retries"].as_u64().unwrap())
        .collect();
    assert_eq!(retries, [0, 0, 1, 0, 1, 0]);
    assert_eq!(netlab[2]["method"], "add_to_balance");
    // The packets netlab recorded agree: two requests with id 3 and with id 5,
    // one reply each; id 2's reply before id 1's.
    let frames = frames_in_json(lines);
    let count = |kind: &str, id: u64| frames.iter().filter(|f| f.0 == kind && f.1 == id).count();
    assert_eq!(count("request", 3), 2, "{frames:?}");
    assert_eq!(count("reply", 3), 1, "{frames:?}");
    assert_eq!(count("request", 5), 2, "{frames:?}");
    assert_eq!(count("reply", 5), 1, "{frames:?}");
    let replies: Vec<u64> = frames
        .iter()
        .filter(|f| f.0 == "reply")
        .map(|f| f.1)
        .collect();
    assert_eq!(replies, [2, 1, 3, 4, 5, 6], "{frames:?}");
    let lost = step_with(lines, "requests_captured");
    assert_eq!(lost.len(), 2);
    for l in &lost {
        assert_eq!(l["data"]["requests_captured"], 2, "{l}");
        assert_eq!(l["data"]["replies_captured"], 1, "{l}");
        assert_eq!(l["data"]["call"]["retries"], 1);
    }
    // The servers' own state: applied twice without a table, once with one.
    let retried = s["retried"].as_array().unwrap();
    assert_eq!(retried[0]["server_table"], false);
    assert_eq!(retried[0]["applied"], 2);
    assert_eq!(retried[0]["balance"], 20);
    assert_eq!(retried[1]["server_table"], true);
    assert_eq!(retried[1]["applied"], 1);
    assert_eq!(retried[1]["balance"], 10);
    assert_eq!(
        netlab[3]["result"], "{\"balance\":20}",
        "get_balance says so too"
    );
    assert_eq!(netlab[5]["result"], "{\"balance\":10}");
    // gRPC: the call on stream 1, status 0 from the captured trailers.
    let g = calls.iter().find(|c| c["protocol"] == "grpc").unwrap();
    assert_eq!(g["method"], "/netlab.rpc.Bank/AddToBalance");
    assert_eq!(g["id"], 1, "the HTTP/2 stream id");
    let reply = &step_with(lines, "grpc_status")[0]["data"];
    assert_eq!(reply["grpc_status"], 0, "{reply}");
    assert_eq!(s["transport"]["grpc"], "h2c");
}

#[test]
fn the_calls_agree_with_the_packets_and_tshark_reads_the_grpc_frames() {
    if !privileged() || !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("rpc.pcapng");
    let o = netlab(&["rpc", "--json", "--pcap", pcap.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    check_run(&lines);
    assert_eq!(lines[0]["data"]["rootless"], false);
    let t = &summary(&lines)["transport"];
    let (plain, dedup, grpc) = (
        t["netlab_port"].as_u64().unwrap(),
        t["netlab_dedup_port"].as_u64().unwrap(),
        t["grpc_port"].as_u64().unwrap(),
    );
    // Every packet record is in the file.
    let all = tshark_count(&pcap, "tcp");
    assert_eq!(all, records(&lines), "one frame per packet record");
    // tshark's own reading of the TCP payloads: the client's requests, the
    // server's replies, in wire order.
    let requests = frames_in_pcap(&pcap, &format!("tcp.dstport=={plain} && tcp.len>0"));
    let ids: Vec<u32> = requests.iter().map(|f| f.1).collect();
    assert_eq!(ids, [1, 2, 3, 3, 4], "id 3 sent twice: {requests:?}");
    assert!(requests.iter().all(|f| f.0 == 0), "all requests");
    let replies = frames_in_pcap(&pcap, &format!("tcp.srcport=={plain} && tcp.len>0"));
    let ids: Vec<u32> = replies.iter().map(|f| f.1).collect();
    assert_eq!(
        ids,
        [2, 1, 3, 4],
        "out of order, one reply to id 3: {replies:?}"
    );
    let ids: Vec<u32> = frames_in_pcap(&pcap, &format!("tcp.dstport=={dedup} && tcp.len>0"))
        .iter()
        .map(|f| f.1)
        .collect();
    assert_eq!(ids, [5, 5, 6]);
    // gRPC, as Wireshark decodes it.
    let decode = format!("tcp.port=={grpc},http2");
    let count = |filter: &str| -> usize {
        let o = Command::new("tshark")
            .arg("-r")
            .arg(&pcap)
            .args(["-d", &decode, "-Y", filter])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).lines().count()
    };
    assert_eq!(count("http2.magic"), 1, "the client preface");
    assert_eq!(count("grpc"), 2, "one gRPC message each way");
    assert!(count("http2.type == 4") >= 2, "SETTINGS both ways");
    assert_eq!(count("_ws.malformed"), 0);
    let blocks = grpc_headers(&pcap, grpc);
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    let has = |b: &Vec<(String, String)>, n: &str, v: &str| b.iter().any(|(x, y)| x == n && y == v);
    assert!(
        has(&blocks[0], ":path", "/netlab.rpc.Bank/AddToBalance"),
        "{blocks:?}"
    );
    assert!(
        has(&blocks[0], "content-type", "application/grpc"),
        "{blocks:?}"
    );
    assert!(has(&blocks[1], "grpc-status", "0"), "{blocks:?}");
    // netlab's own reading of the same headers agrees with tshark's.
    let req = &step_with(&lines, "headers")[0]["data"]["headers"];
    let path = req
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == ":path")
        .unwrap();
    assert_eq!(path["value"], "/netlab.rpc.Bank/AddToBalance");
}

#[test]
fn an_ordinary_user_runs_it_in_a_user_namespace() {
    if !privileged() || !require("setpriv (util-linux)", have("setpriv")) {
        return;
    }
    let o = netlab_as_nobody(&["rpc", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert_eq!(lines[0]["data"]["rootless"], true);
    check_run(&lines);
}

#[test]
fn an_interrupted_rpc_leaves_no_process_or_namespace() {
    if !privileged() {
        return;
    }
    for sig in ["INT", "TERM", "KILL"] {
        super::cleanup::interrupt_holding(&["rpc", "--json", "--pace", "300"], sig, 1);
    }
}
