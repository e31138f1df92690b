//! netlab url: a URL opened in the namespace lab, every frame on h1's link.

use super::*;

fn summary(lines: &[Value]) -> &Value {
    let s = lines.last().unwrap();
    assert_eq!(s["kind"], "summary");
    s
}

fn step(lines: &[Value], number: u64) -> &Value {
    lines
        .iter()
        .find(|l| l["number"] == number)
        .unwrap_or_else(|| panic!("no step {number}"))
}

#[test]
fn opening_the_default_url_shows_every_layer_and_tshark_agrees() {
    if !privileged() || !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("url.pcapng");
    let o = netlab(&["url", "--json", "--pcap", pcap.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let s = summary(&lines);
    assert_eq!(s["url"]["scheme"], "http");
    assert_eq!(s["url"]["host"], "www.lab.edu.cn");
    assert_eq!(s["url"]["port"], 80);
    assert_eq!(s["url"]["path"], "/index.html");
    assert_eq!(s["address"], "203.0.113.10", "h3, from the lab's DNS");
    assert_eq!(s["status"], 200);
    assert_eq!(
        s["body_bytes"].as_u64().unwrap() as usize,
        netlab::lab::web::INDEX.len()
    );
    assert_eq!(
        s["layers"],
        serde_json::json!(["Ethernet", "IPv4", "TCP", "HTTP"])
    );
    // Each step carries its own frames: the lookup (ARP for h2, query, answer),
    // ARP for r1, the handshake, the request, the response, the close.
    let labels = |n: u64| -> Vec<String> {
        step(&lines, n)["packets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["label"]["en"].as_str().unwrap().to_string())
            .collect()
    };
    let l = labels(2);
    assert!(l.iter().any(|x| x == "query A www.lab.edu.cn."), "{l:?}");
    assert!(l.iter().any(|x| x == "answer 203.0.113.10"), "{l:?}");
    assert!(
        l.iter().any(|x| x.contains("who-has 198.51.100.20")),
        "{l:?}"
    );
    let l = labels(3);
    assert!(
        l.iter().any(|x| x.contains("who-has 198.51.100.1")),
        "{l:?}"
    );
    assert_eq!(labels(4)[..2], ["SYN".to_string(), "SYN+ACK".to_string()]);
    assert!(labels(7).iter().any(|x| x.contains("FIN")));
    // The layers step names the bytes of each layer, in order and adjacent.
    let layers = step(&lines, 8)["data"]["layers"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(layers[0]["start"], 0);
    assert_eq!(layers[0]["end"], 14);
    for w in layers.windows(2) {
        assert_eq!(w[0]["end"], w[1]["start"]);
    }
    // tshark reads the same conversation from the file.
    let count = |filter: &str| tshark_count(&pcap, filter);
    assert_eq!(count("http.request.method == \"GET\""), 1);
    assert_eq!(count("http.request.uri == \"/index.html\""), 1);
    assert_eq!(count("http.host == \"www.lab.edu.cn\""), 1);
    assert_eq!(count("http.response.code == 200"), 1);
    assert_eq!(count("dns.qry.name == \"www.lab.edu.cn\""), 2);
    assert_eq!(count("dns.a == 203.0.113.10"), 1);
    assert_eq!(count("arp.opcode == 1"), 2, "ARP for h2 and for r1");
    assert_eq!(count("tcp.flags.syn == 1 && tcp.flags.ack == 0"), 1);
    assert_eq!(count("tcp.flags.fin == 1"), 2);
    // Every frame once: nothing looks like a retransmission, nothing is malformed.
    assert_eq!(count("tcp.analysis.retransmission"), 0);
    assert_eq!(count("_ws.malformed"), 0);
    // The request went to r1's MAC with h3's IP: the gateway, not the server.
    assert_eq!(
        count("http.request && eth.dst == 02:00:00:00:00:01 && ip.dst == 203.0.113.10"),
        1
    );
}

#[test]
fn every_part_of_the_url_lands_where_it_should() {
    if !privileged() {
        return;
    }
    // A port, a query and a fragment: the port is the server's own (80,
    // written out), the query goes into the request line, the fragment goes
    // nowhere.
    let o = netlab(&[
        "url",
        "http://www.lab.edu.cn:80/nope?x=1#top",
        "--json",
        "--lang",
        "en",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "an HTTP answer, even 404: {}",
        stderr(&o)
    );
    let lines = json_lines(&o);
    let s = summary(&lines);
    assert_eq!(s["status"], 404);
    assert_eq!(s["ok"], false);
    assert_eq!(s["url"]["port"], 80);
    assert_eq!(s["url"]["query"], "x=1");
    assert_eq!(s["url"]["fragment"], "top");
    let req = step(&lines, 5);
    let facts = req["facts"].to_string();
    assert!(facts.contains("GET /nope?x=1 HTTP/1.1"), "{facts}");
    // The scheme's own port is left out of the Host header, as browsers do.
    assert!(
        facts.contains(r#""value":{"en":"www.lab.edu.cn""#),
        "{facts}"
    );
    assert!(
        !facts.contains("top"),
        "the fragment stays in the browser: {facts}"
    );
    let layers = step(&lines, 8)["facts"].to_string();
    assert!(layers.contains("→ 80"), "{layers}");
    assert!(layers.contains("#top went nowhere"), "{layers}");
    // An address instead of a name: no lookup step, straight to ARP.
    let o = netlab(&["url", "http://203.0.113.10/", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert!(lines.iter().all(|l| l["data"]["lookup"].is_null()));
    assert_eq!(summary(&lines)["status"], 200);
}

#[test]
fn only_the_servers_own_port_answers() {
    if !privileged() {
        return;
    }
    // h3 listens on port 80 alone: any other port is refused with RST, as on
    // a real host with nothing listening there, whatever port the URL names.
    for url in [
        "http://www.lab.edu.cn:8080/",
        "http://203.0.113.10:22/",
        "http://203.0.113.10:65535/index.html",
    ] {
        let o = netlab(&["url", url, "--json", "--lang", "en"]);
        assert_eq!(o.status.code(), Some(1), "{url}: {}", stderr(&o));
        let lines = json_lines(&o);
        let s = summary(&lines);
        assert!(s["status"].is_null(), "{url}: no HTTP answer: {s}");
        assert_eq!(s["address"], "203.0.113.10", "{url}");
        let failed = lines
            .iter()
            .find(|l| l["section"]["en"] == "3 · The conversation")
            .unwrap();
        let title = failed["title"]["en"].as_str().unwrap();
        assert!(title.ends_with(": refused (RST)"), "{url}: {title}");
    }
    // A loopback address is h1 itself: refused there, and said so (its SYN and
    // RST never reach the captured link).
    let o = netlab(&["url", "http://127.1.2.3:22/", "--json", "--lang", "en"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert!(summary(&lines)["status"].is_null());
    let failed = lines
        .iter()
        .find(|l| l["section"]["en"] == "3 · The conversation")
        .unwrap();
    assert_eq!(
        failed["title"]["en"],
        "No connection to 127.1.2.3:22: refused by h1 itself"
    );
    assert!(
        failed["detail"]["zh"].as_str().unwrap().contains("环回"),
        "{failed}"
    );
}

#[test]
fn names_the_lab_does_not_hold_are_answered_and_nothing_is_fetched() {
    if !privileged() {
        return;
    }
    for (url, rcode) in [
        ("http://nope.lab.edu.cn/", "NXDOMAIN"),
        ("http://www.example.com/", "REFUSED"),
    ] {
        let o = netlab(&["url", url, "--json"]);
        assert_eq!(o.status.code(), Some(1), "{url}: {}", stderr(&o));
        let lines = json_lines(&o);
        let s = summary(&lines);
        assert!(s["address"].is_null());
        assert!(s["status"].is_null());
        assert!(s["title"]["en"].as_str().unwrap().contains(rcode), "{s}");
    }
    // An address where nothing listens: the connection is refused, exit 1.
    let o = netlab(&["url", "http://198.51.100.20/", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let s = summary(&json_lines(&o)).clone();
    assert!(s["status"].is_null(), "{s}");
}

#[test]
fn it_runs_as_nobody() {
    if !privileged() {
        return;
    }
    let o = netlab_as_nobody(&["url", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert_eq!(summary(&lines)["status"], 200);
    assert!(step(&lines, 4)["packets"].as_array().unwrap().len() >= 3);
}

#[test]
fn the_text_tells_the_story_in_both_languages() {
    if !privileged() {
        return;
    }
    for (lang, want) in [
        (
            "en",
            [
                "is not on LAN A",
                "Every URL is a URI",
                "The request's frame, peeled",
            ],
        ),
        ("zh", ["不在局域网 A 上", "每个 URL 都是 URI", "一层层剥开"]),
    ] {
        let o = netlab(&["url", "--lang", lang, "--width", "80"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        // Words, not lines: a phrase may wrap.
        let t = stdout(&o).split_whitespace().collect::<Vec<_>>().join(" ");
        for w in want {
            assert!(t.contains(w), "{lang}: no {w:?}:\n{t}");
        }
    }
}

#[test]
fn url_records_follow_the_wire_and_the_pcap_holds_them_all() {
    if !privileged() || !require("tshark (Debian package tshark)", have("tshark")) {
        return;
    }
    super::arp::assert_pcap_is_the_record(&["url"]);
    // A refused connection: its frames too, in one step, in wire order.
    super::arp::assert_pcap_is_the_record(&["url", "http://198.51.100.20/"]);
}

#[test]
fn url_bytes_shows_every_packet() {
    if !privileged() {
        return;
    }
    super::arp::assert_bytes_shows_every_packet(&["url"]);
}

#[test]
fn the_ladder_draws_the_conversation_to_h3_via_r1() {
    if !privileged() {
        return;
    }
    let o = netlab(&["url", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let who: Vec<&Value> = lines
        .iter()
        .flat_map(|l| l["participants"].as_array().into_iter().flatten())
        .collect();
    assert!(
        who.iter()
            .any(|p| p["id"] == "h3" && p["label"]["en"] == "h3 via r1"),
        "{who:?}"
    );
    // Every TCP segment is drawn between the connection's ends, h1 and h3,
    // while its frame on h1's link went to or came from r1's MAC.
    let tcp: Vec<&Value> = super::arp::packets(&lines)
        .into_iter()
        .filter(|p| p["protocol"] == "TCP")
        .collect();
    assert!(tcp.len() >= 8, "{tcp:?}");
    let r1 = "02:00:00:00:00:01";
    for p in &tcp {
        let ends = (p["from"].as_str().unwrap(), p["to"].as_str().unwrap());
        assert!(ends == ("h1", "h3") || ends == ("h3", "h1"), "{ends:?}");
        let mac = |name: &str| {
            p["fields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["name"] == name)
                .unwrap()["value"]["en"]
                .clone()
        };
        let r1_end = if ends.0 == "h1" {
            mac("eth.dst")
        } else {
            mac("eth.src")
        };
        assert_eq!(r1_end, r1, "the frame's own end on h1's link is r1");
    }
    // The ladder has an h3 column, and the SYN arrow ends in it.
    let t = stdout(&netlab(&["url", "--lang", "en", "--width", "120"]));
    let ladder = t.split("── The packets").nth(1).expect("a ladder");
    let header = ladder.lines().nth(1).unwrap();
    assert!(header.trim_end().ends_with("h3 via r1"), "{header}");
    let syn = ladder
        .lines()
        .find(|l| l.trim_end().ends_with(" SYN"))
        .expect("the SYN's row");
    let head_col = header.find("h3").unwrap();
    let arrow = syn.find('▶').expect("an arrow to the right");
    assert!(
        arrow + 4 >= head_col,
        "the SYN's arrow reaches h3's column:\n{header}\n{syn}"
    );
}

#[test]
fn every_packet_of_a_fetch_is_told_in_natural_chinese() {
    if !privileged() {
        return;
    }
    for url in ["http://www.lab.edu.cn/index.html", "http://198.51.100.20/"] {
        let o = netlab(&["url", url, "--json"]);
        let lines = json_lines(&o);
        super::arp::assert_every_packet_is_told(url, &lines);
        super::traceroute::assert_chinese_punctuation(url, &lines);
        let all = stdout(&o);
        assert!(!all.contains("协议说用什么协议"), "a word-for-word phrase");
    }
    // A refused connection says so, from its frames.
    let o = netlab(&["url", "http://198.51.100.20/", "--json"]);
    let lines = json_lines(&o);
    let failed = lines
        .iter()
        .find(|l| l["section"]["en"] == "3 · The conversation")
        .unwrap();
    assert_eq!(
        failed["title"]["en"],
        "No connection to 198.51.100.20:80: refused (RST)"
    );
}
