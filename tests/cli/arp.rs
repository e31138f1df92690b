//! arp-table in the namespace lab (root).

use super::*;

fn field<'a>(packet: &'a Value, name: &str) -> &'a str {
    packet["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no field {name} in {packet}"))["value"]
        .as_str()
        .unwrap()
}

#[test]
fn arp_request_and_reply_are_captured_with_their_fields() {
    if !privileged() {
        return;
    }
    let o = netlab(&["arp-table", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let packets: Vec<&Value> = lines
        .iter()
        .flat_map(|l| l["packets"].as_array().into_iter().flatten())
        .collect();
    let req = packets
        .iter()
        .find(|p| {
            p["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["name"] == "arp.oper" && f["value"] == "1 (request)")
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
    assert_eq!(req["length"], 42);
    let rep = packets
        .iter()
        .find(|p| {
            p["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["name"] == "arp.oper" && f["value"] == "2 (reply)")
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
fn the_arp_handout_passes_on_a_real_run() {
    if !privileged() {
        return;
    }
    let o = netlab(&["arp-table", "--json"]);
    let (passed, text) = handout("check-arp-table.sh", &o.stdout);
    assert!(passed, "{text}");
    assert_eq!(text.matches("PASS").count(), 7, "{text}");
}
