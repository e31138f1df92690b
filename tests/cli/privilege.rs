//! Every subcommand as the unprivileged user nobody (setpriv, in CI as root):
//! it names the privilege and the fix, or runs its unprivileged fallback.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use super::*;

fn icmp_sockets_open_for_nobody() -> bool {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default();
    netlab::privilege::Privileges::from_proc("", &range, 65534).icmp_dgram
}

#[test]
fn every_subcommand_as_an_unprivileged_user() {
    if !require("setpriv (util-linux)", have("setpriv")) || !privileged() {
        return;
    }
    let _g = NAMED_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let check = |args: &[&str], code: i32, needles: &[&str]| {
        let o = netlab_as_nobody(args);
        let (out, err) = (stdout(&o), stderr(&o));
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}{out}");
        for n in needles {
            assert!(
                err.contains(n) || out.contains(n),
                "{args:?} does not mention {n:?}: {err}{out}"
            );
        }
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            !err.trim_start().starts_with("Operation not permitted"),
            "{args:?}: a raw OS error: {err}"
        );
    };
    // Needs nothing.
    check(
        &["dns-trace", "www.baidu.com", "--walk-only"],
        0,
        &["203.0.113.10"],
    );
    check(&["questions"], 0, &["Q39"]);
    check(&["explain", "Q7"], 0, &["ICMP"]);
    check(&["sticky-packet"], 0, &["粘包"]);
    check(&["arp-table", "--host"], 0, &["neighbour"]);
    // The namespace lab, in a user namespace of netlab's own (issue G).
    check(&["arp-table"], 0, &["no root: a user namespace"]);
    check(
        &["tcp-vs-udp", "--messages", "20", "--bulk", "1"],
        0,
        &["no root: a user namespace"],
    );
    check(&["ping", "-c", "2"], 0, &["no root: a user namespace"]);
    // Says what it needs and how to get it.
    // An Ethernet interface of this machine's: refused for the privilege before
    // anything is sent (lo would be refused for having no ARP at all).
    if let Some(eth) = pnet_datalink::interfaces()
        .into_iter()
        .find(|i| !i.is_loopback() && i.mac.is_some_and(|m| m.octets() != [0; 6]))
    {
        check(
            &[
                "arp-table",
                "--iface",
                &eth.name,
                "--resolve",
                "198.51.100.20",
            ],
            2,
            &["CAP_NET_RAW", "setcap"],
        );
    }
    // The class-session lab: this user's own, in a user namespace (more in
    // a_class_session_lab_without_root_for_two_users_beside_a_root_lab).
    let _ = netlab_as_nobody(&["lab", "down"]);
    check(&["lab", "up"], 0, &["no root: a user namespace"]);
    // A cable made worse for a class works there too (nft and tc in the user namespace).
    check(
        &["lab", "up", "--loss", "50", "--rate", "5", "--delay", "10"],
        0,
        &["already up", "50 % loss, 10 ms delay"],
    );
    // Clean again (its delay line, this user's process, ends).
    check(&["lab", "up"], 0, &["already up"]);
    check(&["lab", "status"], 0, &["up"]);
    // an unprivileged user cannot flood, as with iputils (either message is right)
    let o = netlab_as_nobody(&["ping", "-c", "1", "-i", "0.01", "127.0.0.1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("sudo"), "{}", stderr(&o));
    check(&["lab", "down"], 0, &["down"]);
    check(&["lab", "status"], 1, &["down"]);
    check(&["lab", "exec", "h1", "--", "true"], 2, &["not up"]);
    if icmp_sockets_open_for_nobody() {
        check(&["ping", "-c", "1", "127.0.0.1"], 0, &["1 received"]);
    } else {
        check(
            &["ping", "-c", "1", "127.0.0.1"],
            2,
            &["sudo", "setcap cap_net_raw+ep", "ping_group_range"],
        );
    }
    // lab dns needs nothing: it starts, serves, and stops on SIGINT.
    let _d = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    let mut child = nobody_netlab()
        .args(["lab", "dns", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut first).unwrap();
    let v: Value = serde_json::from_str(&first).unwrap();
    assert!(v["data"]["port"].as_u64().unwrap() >= 1024);
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut out, &mut rest);
    assert!(child.wait().unwrap().success());
}

#[test]
fn inside_a_namespace_an_unprivileged_ping_uses_a_ping_socket() {
    if !require("setpriv (util-linux)", have("setpriv")) || !privileged() {
        return;
    }
    let _g = NAMED_LAB.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(netlab(&["lab", "up"]).status.code(), Some(0));
    let bin = world_executable_binary();
    let script = format!(
        "echo '0 2147483647' > /proc/sys/net/ipv4/ping_group_range && \
         setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all {} ping -c 2 -i 0.2 198.51.100.20 --json",
        bin.display()
    );
    let o = netlab(&["lab", "exec", "h1", "--", "sh", "-c", &script]);
    let lines = json_lines(&o);
    let flood = netlab(&[
        "lab",
        "exec",
        "h1",
        "--",
        "sh",
        "-c",
        &script.replace("-i 0.2", "-i 0.05"),
    ]);
    netlab(&["lab", "down"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        flood.status.code(),
        Some(2),
        "no flooding for unprivileged users"
    );
    assert!(stderr(&flood).contains("0.2 s"), "{}", stderr(&flood));
    let head = lines
        .iter()
        .find(|l| l["data"]["socket"].is_string())
        .unwrap();
    assert!(
        head["data"]["socket"]
            .as_str()
            .unwrap()
            .contains("unprivileged"),
        "{head}"
    );
    let s = lines.last().unwrap();
    assert_eq!(s["received"], 2);
    let reply = lines
        .iter()
        .find(|l| l["data"]["icmp_seq"].is_u64())
        .unwrap();
    assert_eq!(
        reply["data"]["ttl"], 64,
        "the TTL comes from IP_RECVTTL on a ping socket"
    );
}

/// The summary line of a lab demo run as root or as nobody.
fn lab_summary(args: &[&str], as_nobody: bool) -> Value {
    let mut full: Vec<&str> = args.to_vec();
    full.push("--json");
    let o = if as_nobody {
        netlab_as_nobody(&full)
    } else {
        netlab(&full)
    };
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{args:?} (nobody: {as_nobody}): {}",
        stderr(&o)
    );
    let lines = json_lines(&o);
    assert_eq!(
        lines[0]["data"]["rootless"], as_nobody,
        "{args:?}: the opening step says who owns the lab"
    );
    lines.last().unwrap().clone()
}

#[test]
fn the_lab_demos_agree_as_root_and_as_an_ordinary_user() {
    if !require("setpriv (util-linux)", have("setpriv")) || !privileged() {
        return;
    }
    for nobody in [false, true] {
        // The same ARP entries.
        let s = lab_summary(&["arp-table"], nobody);
        let mut entries: Vec<(String, String)> = s["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["ip"].as_str().unwrap().into(),
                    e["mac"].as_str().unwrap().into(),
                )
            })
            .collect();
        entries.sort();
        assert_eq!(
            entries,
            vec![
                ("198.51.100.1".into(), "02:00:00:00:00:01".into()),
                ("198.51.100.20".into(), "02:00:00:00:00:20".into())
            ],
            "nobody: {nobody}: {s}"
        );
        // The same echo counts and TTLs.
        let s = lab_summary(&["ping", "-c", "3"], nobody);
        let runs = s["runs"].as_array().unwrap();
        assert_eq!(runs[0]["stats"]["received"], 3, "nobody: {nobody}: {s}");
        assert_eq!(runs[1]["stats"]["received"], 3, "nobody: {nobody}: {s}");
        assert_eq!(runs[1]["ttl"], 63, "one router hop, nobody: {nobody}");
        // TCP delivers every numbered message over the lossy link, with
        // retransmissions; UDP loses some. (10 % loss: at 20 % one direction of
        // TCP can sit in exponential backoff past the 60 s bound, rarely; the
        // summary then says so honestly, which another test checks.)
        let s = lab_summary(
            &[
                "tcp-vs-udp",
                "--loss",
                "10",
                "--messages",
                "100",
                "--bulk",
                "1",
            ],
            nobody,
        );
        assert_eq!(
            s["tcp"]["delivered"], s["tcp"]["sent"],
            "nobody: {nobody}: {s}"
        );
        assert_eq!(s["tcp"]["in_order"], true);
        assert!(s["tcp"]["retransmits"].as_u64().unwrap() > 0, "{s}");
        assert!(s["udp"]["lost"].as_u64().unwrap() > 0, "{s}");
    }
}

/// `netlab ARGS` as the user with this uid (setpriv; any uid, no account needed).
fn netlab_as(uid: u32, args: &[&str]) -> Output {
    let bin = world_executable_binary();
    Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={uid}"),
            "--clear-groups",
        ])
        .arg(&bin)
        .args(args)
        .current_dir("/")
        .output()
        .expect("run setpriv")
}

#[test]
fn a_class_session_lab_without_root_for_two_users_beside_a_root_lab() {
    if !require("setpriv (util-linux)", have("setpriv")) || !privileged() {
        return;
    }
    let _g = NAMED_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let users = [65534u32, 4242];
    for u in users {
        let _ = netlab_as(u, &["lab", "down"]);
    }
    // A root lab first, then each user's own.
    assert_eq!(netlab(&["lab", "up"]).status.code(), Some(0));
    for u in users {
        let o = netlab_as(u, &["lab", "up", "--json"]);
        assert_eq!(o.status.code(), Some(0), "uid {u}: {}", stderr(&o));
        let s = json_lines(&o).pop().unwrap();
        assert_eq!(
            (s["up"].clone(), s["rootless"].clone()),
            (true.into(), true.into()),
            "{s}"
        );
    }
    for u in users {
        // Inside, the shell is root of the lab only; h1 reaches h3 across r1.
        let o = netlab_as(u, PING_H3);
        assert!(o.status.success(), "uid {u}: {}{}", stdout(&o), stderr(&o));
        let id = stdout(&netlab_as(u, &["lab", "exec", "h1", "--", "id", "-u"]));
        assert_eq!(id.trim(), "0", "uid {u}");
        let s = json_lines(&netlab_as(u, &["lab", "status", "--json"]))
            .pop()
            .unwrap();
        assert_eq!(s["rootless"], true, "uid {u}: {s}");
        assert_eq!(s["hosts"].as_array().unwrap().len(), 5);
        // A second `lab up` keeps the lab.
        let again = json_lines(&netlab_as(u, &["lab", "up", "--json"]));
        assert!(again.iter().any(|l| l["data"]["kept"] == true), "uid {u}");
    }
    // The root lab is untouched by the users' labs.
    let s = json_lines(&netlab(&["lab", "status", "--json"]))
        .pop()
        .unwrap();
    assert_eq!(
        (s["up"].clone(), s["rootless"].clone()),
        (true.into(), false.into()),
        "{s}"
    );
    for u in users {
        assert_eq!(netlab_as(u, &["lab", "down"]).status.code(), Some(0));
        let s = json_lines(&netlab_as(u, &["lab", "status", "--json"]))
            .pop()
            .unwrap();
        assert_eq!(s["up"], false, "uid {u}: {s}");
        let o = netlab_as(u, &["lab", "exec", "h1", "--", "true"]);
        assert_eq!(o.status.code(), Some(2), "uid {u}");
        assert!(stderr(&o).contains("not up"), "{}", stderr(&o));
    }
    // No holder is left running.
    let holders = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|p| {
            std::fs::read(p.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("lab\0hold"))
        })
        .count();
    assert_eq!(holders, 0, "every holder ended with its lab down");
    assert_eq!(netlab(&["lab", "down"]).status.code(), Some(0));
}

#[test]
fn without_root_dns_trace_captures_real_frames_on_port_53_in_a_namespace_of_its_own() {
    if !require("setpriv (util-linux)", have("setpriv"))
        || !require("tshark (Debian package tshark)", have("tshark"))
        || !privileged()
    {
        return;
    }
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let pcap = dir.path().join("walk.pcapng");
    let o = netlab_as_nobody(&[
        "dns-trace",
        "www.baidu.com",
        "--json",
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let records = records(&json_lines(&o));
    let tshark = |filter: &str| {
        let out = Command::new("tshark")
            .args(["-r", pcap.to_str().unwrap(), "-Y", filter])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    // Every record is a frame, and every DNS message decodes as DNS with no -d.
    assert_eq!(tshark("frame"), records);
    assert!(tshark("dns") >= 14, "the walk's queries and replies");
    assert_eq!(
        tshark("dns") + tshark("tcp && !dns"),
        records,
        "nothing but DNS and its TCP"
    );
    let info = Command::new("capinfos").arg(&pcap).output().unwrap();
    assert!(
        String::from_utf8_lossy(&info.stdout).contains("network namespace of netlab's own"),
        "the file says where it was captured"
    );
}
