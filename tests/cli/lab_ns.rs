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

#[test]
fn lab_up_shapes_one_cable_for_a_class() {
    if !privileged() {
        return;
    }
    let _g = NAMED_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let bin = env!("CARGO_BIN_EXE_netlab");
    let ping = |from: &str, to: &str| -> u64 {
        let o = netlab(&[
            "lab", "exec", from, "--", bin, "ping", "-c", "5", "-i", "0.05", "-W", "0.5", to,
            "--json",
        ]);
        json_lines(&o).pop().unwrap()["received"].as_u64().unwrap()
    };
    // Every packet on h2's cable dropped: h1 no longer reaches h2, but still reaches r1.
    let o = netlab(&[
        "lab", "up", "--loss", "100", "--rate", "5", "--link", "h2", "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let step = lines
        .iter()
        .find(|l| l["data"]["shaping"].is_object())
        .expect("a shaping step");
    assert_eq!(step["data"]["link"], "h2");
    assert_eq!(step["data"]["shaping"]["loss"], 100);
    assert_eq!(step["data"]["shaping"]["rate_mbit"], 5);
    assert_eq!(
        ping("h1", "198.51.100.20"),
        0,
        "h2's cable drops everything"
    );
    assert_eq!(ping("h1", "198.51.100.1"), 5, "h1's own cable is clean");
    // The rate is a tbf on both ends of h2's cable.
    for (host, dev) in [("h2", "eth0"), ("sw1", "p2")] {
        let q = stdout(&netlab(&[
            "lab", "exec", host, "--", "tc", "qdisc", "show", "dev", dev,
        ]));
        assert!(
            q.contains("tbf") && q.contains("5Mbit"),
            "{host} {dev}: {q}"
        );
    }
    // Up again without flags: clean.
    let o = netlab(&["lab", "up", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(ping("h1", "198.51.100.20"), 5);
    let q = stdout(&netlab(&[
        "lab", "exec", "h2", "--", "tc", "qdisc", "show", "dev", "eth0",
    ]));
    assert!(!q.contains("tbf"), "{q}");
    // A delay: netem where the kernel has it, else netlab's delay line. Either
    // way a round trip across h3's cable takes at least twice the delay.
    let o = netlab(&["lab", "up", "--delay", "30", "--link", "h3", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let step = lines
        .iter()
        .find(|l| l["data"]["shaping"].is_object())
        .unwrap();
    let by_line = step["data"]["delay_line"].as_bool().unwrap();
    let rtt = |to: &str| -> f64 {
        let o = netlab(&[
            "lab", "exec", "h1", "--", bin, "ping", "-c", "3", "-i", "0.2", to, "--json",
        ]);
        json_lines(&o).pop().unwrap()["rtt_min_ms"]
            .as_f64()
            .unwrap()
    };
    assert!(rtt("203.0.113.10") >= 60.0, "h3 is behind the delay");
    assert!(rtt("198.51.100.20") < 60.0, "h2 is not");
    // The host keeps its MAC and address on the cable: the lab is whole.
    let st = json_lines(&netlab(&["lab", "status", "--json"]))
        .pop()
        .unwrap();
    assert_eq!(st["whole"], true, "{st}");
    if by_line {
        let q = stdout(&netlab(&["lab", "exec", "h3", "--", "ip", "-o", "link"]));
        assert!(q.contains("wire0") && q.contains("dl0"), "{q}");
    }
    // Up again without flags: the line is gone, and with it its process.
    assert_eq!(netlab(&["lab", "up"]).status.code(), Some(0));
    assert!(rtt("203.0.113.10") < 60.0);
    let q = stdout(&netlab(&["lab", "exec", "h3", "--", "ip", "-o", "link"]));
    assert!(!q.contains("wire0"), "{q}");
    // A delay line again, then down: nothing of it is left.
    assert_eq!(
        netlab(&["lab", "up", "--delay", "5", "--link", "h1"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(netlab(&["lab", "down"]).status.code(), Some(0));
    let t = std::time::Instant::now();
    while line_processes() > 0 && t.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(line_processes(), 0, "the delay line ends with the lab");
}

/// Delay-line processes of the root lab (`netlab lab line HOST MS`, no --holder).
fn line_processes() -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| {
                let args: Vec<&[u8]> = c.split(|b| *b == 0).collect();
                args.windows(2)
                    .any(|w| w == [b"lab".as_slice(), b"line".as_slice()])
                    && !args.contains(&b"--holder".as_slice())
            })
        })
        .count()
}

#[test]
fn a_lossy_cable_says_what_ping_will_see_and_status_shows_it() {
    if !privileged() {
        return;
    }
    let _g = NAMED_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let o = netlab(&["lab", "up", "--loss", "20", "--link", "h1", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let step = lines
        .iter()
        .find(|l| l["data"]["shaping"].is_object())
        .expect("a shaping step");
    assert_eq!(step["data"]["shaping"]["loss"], 20);
    assert_eq!(step["data"]["shaping"]["loss_pattern"], "fixed");
    // A ping crosses the cable twice: 1 − (1 − 0.2)² = 36 % of echoes lost.
    for lang in ["en", "zh"] {
        let d = step["detail"][lang].as_str().unwrap();
        assert!(d.contains("36 %"), "{lang}: {d}");
    }
    assert!(step["detail"]["en"]
        .as_str()
        .unwrap()
        .contains("every 5th packet (nft `numgen inc mod 5 4`)"));
    // lab status, text and JSON, shows the cable's loss.
    let st = netlab(&["lab", "status", "--json"]);
    assert_eq!(st.status.code(), Some(0), "{}", stderr(&st));
    let s = json_lines(&st).pop().unwrap();
    let host = |name: &str| {
        s["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(host("h1")["shaping"]["loss"], 20, "{s}");
    assert_eq!(host("h1")["shaping"]["loss_pattern"], "fixed");
    assert_eq!(host("h2")["shaping"]["loss"], 0);
    assert!(host("r1")["shaping"].is_null());
    let text = stdout(&netlab(&["lab", "status", "--lang", "en"]));
    assert!(
        text.lines()
            .any(|l| l.contains("cable") && l.contains("20 % loss")),
        "{text}"
    );
    // What the step promised: of 25 pings from h1, 5 requests and 4 replies
    // are dropped, every time; and the sender's own sends never fail.
    let bin = env!("CARGO_BIN_EXE_netlab");
    for _ in 0..2 {
        let o = netlab(&[
            "lab",
            "exec",
            "h1",
            "--",
            bin,
            "ping",
            "-c",
            "25",
            "-i",
            "0.02",
            "-W",
            "0.5",
            "198.51.100.20",
            "--json",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let s = json_lines(&o).pop().unwrap();
        assert_eq!(s["transmitted"], 25, "{s}");
        assert_eq!(s["received"], 16, "{s}");
    }
    // Clean again: status says nothing of a cable.
    assert_eq!(netlab(&["lab", "up"]).status.code(), Some(0));
    let text = stdout(&netlab(&["lab", "status", "--lang", "en"]));
    assert!(!text.contains("% loss"), "{text}");
    assert_eq!(netlab(&["lab", "down"]).status.code(), Some(0));
}

#[test]
fn the_docs_say_a_lab_needs_no_root() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        !readme.contains("not built yet"),
        "README's privileges table"
    );
    let row = readme
        .lines()
        .find(|l| l.starts_with("| `lab up"))
        .expect("the privileges table's lab row");
    assert!(row.contains("without root"), "{row}");
    // The ARP exercise runs as the student, with no sudo.
    for f in ["examples/arp-table.toml", "examples/README.md"] {
        let text = std::fs::read_to_string(root.join(f)).unwrap();
        assert!(!text.contains("sudo"), "{f}");
    }
}
