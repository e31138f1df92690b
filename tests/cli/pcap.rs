//! --pcap files open cleanly in tshark (Debian package tshark).

use super::*;

fn tshark(file: &std::path::Path, extra: &[&str]) -> String {
    let o = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(extra)
        .output()
        .expect("run tshark");
    assert!(
        o.status.success(),
        "tshark failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn assert_clean(file: &std::path::Path, extra: &[&str]) -> String {
    let all = tshark(file, extra);
    assert!(!all.trim().is_empty(), "no packets in {}", file.display());
    let mut args = extra.to_vec();
    args.extend_from_slice(&["-Y", "_ws.malformed || _ws.expert.severity == error"]);
    let bad = tshark(file, &args);
    assert!(
        bad.trim().is_empty(),
        "malformed packets in {}:\n{bad}",
        file.display()
    );
    all
}

/// Frames in a capture file (with a display filter, if any).
fn count(file: &std::path::Path, filter: &str) -> usize {
    let mut args = vec![];
    if !filter.is_empty() {
        args.extend(["-Y", filter]);
    }
    tshark(file, &args).lines().count()
}

/// Runs that ask for port 53 (dns-trace with --pcap, as root) take turns.
static PORT_53: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn dns_trace_pcap_holds_every_record_and_decodes_as_dns() {
    if !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
    let _turn = PORT_53.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    for (name, qtype) in [("www.baidu.com", "A"), ("big.baidu.com", "TXT")] {
        let file = dir.path().join(format!("{name}.pcapng"));
        let o = netlab(&[
            "dns-trace",
            name,
            "--type",
            qtype,
            "--json",
            "--pcap",
            file.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let lines = json_lines(&o);
        let s = lines.last().unwrap();
        let port = s["servers"][0]
            .as_str()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()
            .to_string();
        let decode = [
            "-d".to_string(),
            format!("udp.port=={port},dns"),
            "-d".to_string(),
            format!("tcp.port=={port},dns"),
        ];
        let mut decode: Vec<&str> = decode.iter().map(String::as_str).collect();
        if netlab::privilege::Privileges::probe().can_build_lab() {
            // Root binds the lab on port 53: Wireshark needs no "Decode As".
            assert_eq!(port, "53", "as root the lab serves on port 53");
            decode.clear();
        }
        let text = assert_clean(&file, &decode);
        assert!(text.contains("DNS"), "{text}");
        let frames = text.lines().count();
        assert_eq!(frames, records(&lines), "one frame per packet record");
        let mut f = decode.clone();
        f.extend_from_slice(&[
            "-Y",
            "dns",
            "-T",
            "fields",
            "-e",
            "dns.qry.name",
            "-e",
            "frame.comment",
        ]);
        let fields = tshark(&file, &f);
        let messages = lines
            .iter()
            .flat_map(|l| l["packets"].as_array().cloned().unwrap_or_default())
            .filter(|p| p["transport"] != "ethernet" && p["echo"] != true)
            .count();
        assert_eq!(
            fields.lines().count(),
            messages,
            "every DNS message decodes as DNS"
        );
        assert!(fields.contains(name), "{fields}");
        assert!(
            fields.contains("Ask a.root-servers.net."),
            "each packet carries its step's title as a comment: {fields}"
        );
        // The stub's lookup is in the file too (hickory-resolver's own datagrams,
        // with its RD=1 query); its cached repeat added nothing.
        assert!(
            fields.contains("The stub asks"),
            "the stub stage's packets are in the capture: {fields}"
        );
        assert!(
            !fields.contains("The same lookup again"),
            "the cached lookup sent no packet: {fields}"
        );
        if qtype == "TXT" {
            // The stub's UDP query, the TC=1 reply, then the TCP retry.
            let stub = &lines
                .iter()
                .find(|l| l["data"]["truncated_then_tcp"] == true)
                .expect("stage 3 retried over TCP")["packets"];
            let records = stub.as_array().unwrap();
            let transports: Vec<&str> = records
                .iter()
                .map(|p| p["transport"].as_str().unwrap())
                .filter(|t| *t != "ethernet")
                .collect();
            assert_eq!(transports, ["udp", "udp", "tcp", "tcp"]);
            if netlab::privilege::Privileges::probe().net_raw {
                // Captured on loopback: the TCP connection's own segments are records too.
                let labels: Vec<&str> = records
                    .iter()
                    .map(|p| p["label"]["en"].as_str().unwrap())
                    .collect();
                assert!(
                    labels.contains(&"SYN") && labels.contains(&"SYN+ACK"),
                    "{labels:?}"
                );
            }
        }
    }
}

#[test]
fn lab_pcaps_hold_every_frame_of_every_phase() {
    if !require("tshark (Debian package tshark)", have("tshark")) || !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let arp = dir.path().join("arp.pcapng");
    let o = netlab(&["arp-table", "--json", "--pcap", arp.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = assert_clean(&arp, &[]);
    assert_eq!(text.lines().count(), records(&json_lines(&o)));
    assert!(
        text.contains("Who has 198.51.100.20? Tell 198.51.100.10"),
        "{text}"
    );
    assert!(
        text.contains("198.51.100.20 is at 02:00:00:00:00:20"),
        "{text}"
    );
    assert!(
        text.contains("Who has 203.0.113.10? Tell 203.0.113.1"),
        "LAN B: {text}"
    );
    assert!(text.contains("Echo (ping) reply"), "{text}");

    let ping = dir.path().join("ping.pcapng");
    let o = netlab(&["ping", "--json", "--pcap", ping.to_str().unwrap()]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert_clean(&ping, &[]);
    assert_eq!(count(&ping, ""), records(&lines));
    // All three phases: h1 → h2, h1 → h3 on both links, and the lossy link.
    assert_eq!(
        count(
            &ping,
            "icmp.type == 8 && ip.dst == 198.51.100.20 && frame.interface_name == \"h1:eth0\""
        ),
        3 + 10
    );
    assert_eq!(
        count(
            &ping,
            "icmp.type == 8 && frame.interface_name == \"h3:eth0\""
        ),
        3
    );

    let tcp = dir.path().join("tcp.pcapng");
    let o = netlab(&[
        "tcp-vs-udp",
        "--loss",
        "20",
        "--bulk",
        "1",
        "--json",
        "--pcap",
        tcp.to_str().unwrap(),
    ]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
    assert_eq!(count(&tcp, ""), records(&json_lines(&o)));
    assert!(
        count(&tcp, "tcp.analysis.retransmission") > 0,
        "the loss phase's retransmissions"
    );
    assert_eq!(count(&tcp, "ip.dst == 198.51.100.255"), 1, "the broadcast");
    // The throughput phase: its 1400-byte datagrams and TCP's bulk segments,
    // kept to their headers (the capture's snap length), and said so.
    assert!(count(&tcp, "udp && frame.len > 1400") > 100, "the bulk UDP");
    assert!(
        count(&tcp, "tcp && frame.cap_len < frame.len") > 0,
        "the bulk TCP, headers only"
    );
    let cost = json_lines(&o)
        .into_iter()
        .find(|l| l["data"]["capture_missed"].is_u64())
        .expect("the throughput step");
    assert_eq!(cost["data"]["captured"], true, "{cost}");

    let lo = dir.path().join("lo.pcapng");
    let o = netlab(&[
        "ping",
        "-c",
        "2",
        "-i",
        "0.05",
        "127.0.0.1",
        "--pcap",
        lo.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = assert_clean(&lo, &[]);
    assert!(
        text.contains("Echo (ping) request") && text.contains("Echo (ping) reply"),
        "{text}"
    );
}

#[test]
fn sticky_packet_pcap_holds_the_segments_it_counts() {
    if !require("tshark (Debian package tshark)", have("tshark")) || !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sticky.pcapng");
    let o = netlab(&["sticky-packet", "--json", "--pcap", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = json_lines(&o).pop().unwrap();
    let counted =
        s["nagle"]["segments"].as_u64().unwrap() + s["nodelay"]["segments"].as_u64().unwrap();
    assert_clean(&file, &[]);
    assert_eq!(count(&file, "tcp.len > 0") as u64, counted);
}

#[test]
fn pcap_to_an_unwritable_place_is_a_usage_error() {
    let o = netlab(&[
        "dns-trace",
        "www.baidu.com",
        "--pcap",
        "/nonexistent/dir/x.pcapng",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/dir/x.pcapng"));
}

/// The port the run's lab served on, as its first step's data names it.
fn lab_port(lines: &[Value]) -> u16 {
    lines[0]["data"]["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or_else(|| panic!("no port in {}", lines[0]["data"]))
}

#[test]
fn dns_trace_pcap_holds_every_packet_a_capture_beside_it_sees() {
    // Every DNS message the run causes is a record: the stub's, the lab
    // resolver's own walk in stage 2, stage 3's ask, the walk of stage 4.
    // tshark on loopback beside the run sees exactly as many as the file holds.
    if !require("tshark (Debian package tshark)", have("tshark")) || !privileged() {
        return;
    }
    let _turn = PORT_53.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let beside = dir.path().join("beside.pcapng");
    let mut cap = Command::new("tshark")
        .args(["-i", "lo", "-f", "net 127.53.0.0/16", "-w"])
        .arg(&beside)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start tshark");
    // tshark says "Capturing on 'Loopback: lo'" once its filter is in place.
    let err = cap.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for l in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            if l.contains("Capturing on") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(30))
        .expect("tshark started capturing");
    let file = dir.path().join("run.pcapng");
    let o = netlab(&[
        "dns-trace",
        "www.baidu.com",
        "--json",
        "--pcap",
        file.to_str().unwrap(),
    ]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = Command::new("kill")
        .args(["-INT", &cap.id().to_string()])
        .status();
    let _ = cap.wait();
    assert!(o.status.success(), "{}", stderr(&o));
    let port = lab_port(&json_lines(&o));
    let on_lo = count(
        &beside,
        &format!("dns && (udp.port == {port} || tcp.port == {port})"),
    );
    let in_file = count(&file, "dns");
    assert!(on_lo >= 20, "the capture beside saw the whole run: {on_lo}");
    assert_eq!(
        in_file, on_lo,
        "the run's capture holds every DNS message loopback carried"
    );
}
