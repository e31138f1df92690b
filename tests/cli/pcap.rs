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

#[test]
fn dns_trace_pcap_reads_cleanly_and_decodes_as_dns() {
    if !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
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
        let s = json_lines(&o).pop().unwrap();
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
        let decode: Vec<&str> = decode.iter().map(String::as_str).collect();
        let text = assert_clean(&file, &decode);
        assert!(text.contains("DNS"), "{text}");
        let mut f = decode.clone();
        f.extend_from_slice(&["-T", "fields", "-e", "dns.qry.name", "-e", "frame.comment"]);
        let fields = tshark(&file, &f);
        assert!(fields.contains(name), "{fields}");
        assert!(
            fields.contains("stage 4"),
            "each packet carries its step as a comment: {fields}"
        );
        // stage 3 (2 asks) plus every walk query, each with its reply
        let frames = fields.lines().count() as u64;
        assert!(
            frames >= 2 * s["queries"].as_u64().unwrap(),
            "{frames} frames"
        );
    }
}

#[test]
fn lab_pcaps_read_cleanly() {
    if !require("tshark (Debian package tshark)", have("tshark")) || !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let arp = dir.path().join("arp.pcapng");
    let o = netlab(&["arp-table", "--pcap", arp.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = assert_clean(&arp, &[]);
    assert!(
        text.contains("Who has 198.51.100.20? Tell 198.51.100.10"),
        "{text}"
    );
    assert!(
        text.contains("198.51.100.20 is at 02:00:00:00:00:20"),
        "{text}"
    );
    assert!(text.contains("Echo (ping) request"), "{text}");

    let ping = dir.path().join("ping.pcapng");
    let o = netlab(&["ping", "-c", "5", "--pcap", ping.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = assert_clean(&ping, &[]);
    assert!(text.contains("Echo (ping) reply"), "{text}");

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
