//! lab up / status / exec / down, and the demos inside a named lab (root).

use super::*;

fn netns_list() -> String {
    String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned()
}

#[test]
fn lab_up_status_exec_down() {
    if !privileged() {
        return;
    }
    let _g = NAMED_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let o = netlab(&["lab", "up", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for h in ["h1", "h2", "h3", "r1", "sw1"] {
        assert!(netns_list().contains(&format!("netlab-{h}")), "{h}");
    }
    let st = netlab(&["lab", "status", "--json"]);
    let s = json_lines(&st).pop().unwrap();
    assert_eq!(s["up"], true);
    let hosts = s["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 5);
    let h1 = hosts.iter().find(|h| h["name"] == "h1").unwrap();
    assert_eq!(h1["ifaces"][0]["mac"], "02:00:00:00:00:10");
    assert_eq!(h1["ifaces"][0]["ip"][0], "198.51.100.10/24");
    assert_eq!(h1["ifaces"][0]["state"], "UP");
    let r1 = hosts.iter().find(|h| h["name"] == "r1").unwrap();
    assert_eq!(r1["ifaces"].as_array().unwrap().len(), 2);

    // a command inside a host, with its exit code
    let o = netlab(&[
        "lab", "exec", "h1", "--", "ip", "-4", "-o", "addr", "show", "eth0",
    ]);
    assert!(stdout(&o).contains("198.51.100.10/24"), "{}", stdout(&o));
    assert_eq!(
        netlab(&["lab", "exec", "h1", "--", "false"]).status.code(),
        Some(1)
    );
    assert_eq!(
        netlab(&["lab", "exec", "h9", "--", "true"]).status.code(),
        Some(2)
    );

    // arp-table --iface/--resolve on a real link (inside h1): the entry appears
    let bin = env!("CARGO_BIN_EXE_netlab");
    let o = netlab(&[
        "lab",
        "exec",
        "h1",
        "--",
        bin,
        "arp-table",
        "--iface",
        "eth0",
        "--resolve",
        "198.51.100.20",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = json_lines(&o).pop().unwrap();
    assert_eq!(s["resolved"]["ip"], "198.51.100.20");
    assert_eq!(s["resolved"]["mac"], "02:00:00:00:00:20");
    assert!(s["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["ip"] == "198.51.100.20" && e["mac"] == "02:00:00:00:00:20"));

    // ping inside the lab: a host that answers, and an address where nobody does
    let o = netlab(&[
        "lab",
        "exec",
        "h1",
        "--",
        bin,
        "ping",
        "-c",
        "2",
        "-i",
        "0.05",
        "203.0.113.10",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("ttl=63"));
    let o = netlab(&[
        "lab",
        "exec",
        "h1",
        "--",
        bin,
        "ping",
        "-c",
        "2",
        "-i",
        "0.05",
        "-W",
        "0.3",
        "198.51.100.99",
    ]);
    assert_eq!(o.status.code(), Some(1), "no reply: exit 1");
    assert!(
        stdout(&o).contains("2 packets transmitted, 0 received, 100% packet loss"),
        "{}",
        stdout(&o)
    );

    let o = netlab(&["lab", "down"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!netns_list().contains("netlab-"), "{}", netns_list());
    let st = netlab(&["lab", "status", "--json"]);
    assert_eq!(st.status.code(), Some(1));
    assert_eq!(json_lines(&st).pop().unwrap()["up"], false);
    assert_eq!(
        netlab(&["lab", "exec", "h1", "--", "true"]).status.code(),
        Some(2),
        "exec needs the lab up"
    );
}
