//! Interrupted lab demos leave nothing behind (root): SIGINT, SIGTERM and
//! SIGKILL in the middle of arp-table and ping; afterwards no process holds
//! any network namespace the demo made, /run/netns has no netlab entry, and
//! no link or nft table appeared in this namespace.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::*;

/// Network-namespace inodes ("net:[4026532xxx]") a process holds open.
pub(crate) fn netns_fds(pid: u32) -> HashSet<String> {
    let mut out = HashSet::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for e in rd.flatten() {
            if let Ok(t) = std::fs::read_link(e.path()) {
                let t = t.to_string_lossy().into_owned();
                if t.starts_with("net:[") {
                    out.insert(t);
                }
            }
        }
    }
    out
}

/// Every network namespace some process or thread on the machine still uses or holds.
pub(crate) fn all_netns_in_use() -> HashSet<String> {
    let mut seen = HashSet::new();
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = p.file_name().to_string_lossy().into_owned();
        if !name.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let pid: u32 = name.parse().unwrap();
        seen.extend(netns_fds(pid));
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for t in tasks.flatten() {
                if let Ok(l) = std::fs::read_link(t.path().join("ns/net")) {
                    seen.insert(l.to_string_lossy().into_owned());
                }
            }
        }
    }
    seen
}

fn host_links() -> HashSet<String> {
    let o = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split(':').nth(1).map(|s| s.trim().to_string()))
        .collect()
}

fn host_nft_has_netlab() -> bool {
    Command::new("nft")
        .args(["list", "tables"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("netlab"))
        .unwrap_or(false)
}

fn interrupt(args: &[&str], signal: &str) {
    interrupt_holding(args, signal, 5);
}

/// Interrupt a demo that holds `namespaces` lab namespaces (8 with the WAN).
pub(crate) fn interrupt_holding(args: &[&str], signal: &str, namespaces: usize) {
    let links_before = host_links();
    let mut child = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    // Wait until the lab is built (the first step is printed after it), then collect
    // the namespaces the demo holds.
    out.read_line(&mut line).unwrap();
    assert!(!line.is_empty(), "{args:?} printed nothing");
    let mut held = HashSet::new();
    let t = Instant::now();
    while held.len() < namespaces && t.elapsed() < Duration::from_secs(5) {
        held.extend(netns_fds(pid));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        held.len(),
        namespaces,
        "{args:?}: the demo holds its {namespaces} lab namespaces"
    );
    // A random point in the run: the demos print their steps with --pace.
    std::thread::sleep(Duration::from_millis(rand::random_range(0..700)));
    Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .status()
        .unwrap();
    let rest: Vec<String> = out.lines().map_while(|l| l.ok()).collect();
    let status = child.wait().unwrap();
    if signal == "KILL" {
        assert!(status.code().is_none(), "killed by the signal");
    }
    if args.contains(&"ping") && signal != "KILL" {
        // ping stops on Ctrl-C / SIGTERM and still prints its statistics
        assert!(
            rest.iter().any(|l| l.contains("\"kind\":\"summary\"")),
            "{args:?} {signal}: no summary: {rest:?}"
        );
        assert!(status.code().is_some(), "exited by itself");
    }
    // Nothing left: no process holds those namespaces any more, so the kernel freed them.
    let t = Instant::now();
    loop {
        let left: Vec<_> = held.intersection(&all_netns_in_use()).cloned().collect();
        if left.is_empty() {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{args:?} {signal}: namespaces still held: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let new_links: Vec<_> = host_links().difference(&links_before).cloned().collect();
    assert!(
        new_links
            .iter()
            .all(|l| !l.contains("eth") && !l.starts_with('p')),
        "{args:?} {signal}: links left: {new_links:?}"
    );
    assert!(
        !host_nft_has_netlab(),
        "no netlab nft table in the host namespace"
    );
    let stale = named_left();
    let _g = NAMED_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let stale_now = named_left();
    assert!(
        stale.is_empty() || stale_now.is_empty(),
        "demos never leave named namespaces: {stale_now:?}"
    );
}

#[test]
fn interrupted_arp_table_leaves_nothing() {
    if !privileged() {
        return;
    }
    for sig in ["INT", "TERM", "KILL", "INT", "TERM", "KILL"] {
        interrupt(&["arp-table", "--json", "--pace", "300"], sig);
    }
}

#[test]
fn interrupted_ping_leaves_nothing_and_prints_its_summary() {
    if !privileged() {
        return;
    }
    for sig in ["INT", "TERM", "KILL", "INT", "TERM", "KILL"] {
        interrupt(&["ping", "-c", "400", "--json", "--pace", "100"], sig);
    }
}

#[test]
fn interrupted_traceroute_leaves_nothing() {
    if !privileged() {
        return;
    }
    for sig in ["INT", "TERM", "KILL"] {
        interrupt_holding(&["traceroute", "--json", "--pace", "300"], sig, 8);
    }
}

#[test]
fn interrupted_url_leaves_nothing() {
    if !privileged() {
        return;
    }
    for sig in ["INT", "TERM", "KILL"] {
        interrupt(&["url", "--json", "--pace", "300"], sig);
    }
}

#[test]
fn interrupted_firewall_leaves_nothing() {
    if !privileged() {
        return;
    }
    for sig in ["INT", "TERM", "KILL"] {
        interrupt(&["firewall", "--json", "--pace", "300"], sig);
    }
}

#[test]
fn interrupted_tcp_vs_udp_leaves_nothing() {
    if !privileged() {
        return;
    }
    for sig in ["INT", "TERM", "KILL", "INT", "TERM", "KILL"] {
        interrupt(&["tcp-vs-udp", "--json", "--pace", "300"], sig);
    }
}

#[test]
fn interrupted_producer_consumer_leaves_nothing() {
    if !privileged() {
        return;
    }
    // Its TCP half holds one anonymous namespace, by a descriptor only.
    for sig in ["INT", "TERM", "KILL"] {
        interrupt_holding(&["producer-consumer", "--json", "--pace", "300"], sig, 1);
    }
}

#[test]
fn interrupted_failover_leaves_nothing() {
    if !privileged() {
        return;
    }
    // Five namespaces of its own (h1, sw1, r1, r2, h3); keepalived, when it
    // runs, is in r1's and r2's, so one left alive would hold them.
    for sig in ["INT", "TERM", "KILL"] {
        interrupt_holding(
            &["failover", "--advert-ms", "200", "--json", "--pace", "300"],
            sig,
            5,
        );
    }
    if !require("keepalived (Debian package keepalived)", have("keepalived")) {
        return;
    }
    for sig in ["INT", "TERM", "KILL"] {
        interrupt_holding(
            &[
                "failover",
                "--with",
                "keepalived",
                "--advert-ms",
                "200",
                "--json",
                "--pace",
                "300",
            ],
            sig,
            5,
        );
    }
}

#[test]
fn interrupted_ipc_leaves_nothing() {
    // Listing message queues mounts a mqueue file system: root.
    if !privileged() {
        return;
    }
    use super::ipc::{ipc_cmd, mqueues_left, own_tmp, peers_gone, peers_of, run_dirs};
    use std::os::unix::process::ExitStatusExt as _;
    let tmp = own_tmp("interrupt");
    // As root, and as nobody (in a user namespace of its own).
    let runs = ["INT", "TERM", "KILL"]
        .into_iter()
        .flat_map(|sig| [(sig, false), (sig, true)]);
    for (sig, nobody) in runs {
        // The same user runs it again after a KILL: a run cleans its own user's leftovers.
        let as_user = || {
            if nobody {
                let mut c = nobody_netlab();
                c.env_remove("XDG_RUNTIME_DIR").env("TMPDIR", &tmp);
                c
            } else {
                ipc_cmd(&tmp)
            }
        };
        let mut cmd = as_user();
        let mut child = cmd
            .args(["ipc", "--json", "--round-trips", "1000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        // Its child has started: the mechanisms are under way; a random moment among them.
        let t = Instant::now();
        while peers_of(pid).is_empty() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(rand::random_range(0..60)));
        Command::new("kill")
            .args(["-s", sig, &pid.to_string()])
            .status()
            .unwrap();
        let status = child.wait().unwrap();
        let number = match sig {
            "INT" => libc::SIGINT,
            "TERM" => libc::SIGTERM,
            _ => libc::SIGKILL,
        };
        // Ended by the signal, as without netlab's handler (unless it had already finished).
        assert!(
            status.signal() == Some(number) || status.success(),
            "{sig}: {status:?}"
        );
        assert!(peers_gone(pid), "{sig}: the child of {pid} still runs");
        if sig == "KILL" {
            // Nothing can remove a name in the instant SIGKILL lands; the next run does.
            let o = as_user()
                .args(["ipc", "--round-trips", "1"])
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        assert!(run_dirs(&tmp).is_empty(), "{sig}: {:?}", run_dirs(&tmp));
        assert!(mqueues_left().is_empty(), "{sig}: {:?}", mqueues_left());
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

fn named_left() -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("netlab-"))
                .collect()
        })
        .unwrap_or_default()
}

/// What `lab status --json` says: (up, whole, missing).
fn lab_status() -> (bool, bool, Vec<String>) {
    let o = netlab(&["lab", "status", "--json"]);
    let s = json_lines(&o).pop().expect("a summary");
    let missing = s["missing"]
        .as_array()
        .map(|m| m.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    (s["up"] == true, s["whole"] == true, missing)
}

/// Whether the lab works: h1 reaches h3 across r1.
fn lab_works() -> bool {
    netlab(PING_H3).status.success()
}

#[test]
fn a_killed_lab_up_leaves_a_lab_whose_status_is_true_and_the_next_up_recovers() {
    if !privileged() {
        return;
    }
    let _g = NAMED_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let _ = netlab(&["lab", "down"]);
    for _ in 0..6 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_netlab"))
            .args(["lab", "up", "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rand::random_range(0..150)));
        let _ = child.kill();
        let _ = child.wait();
        // Whatever the kill left, status tells it truly.
        let left = named_left();
        let (up, whole, missing) = lab_status();
        if left.is_empty() {
            assert!(!up && missing.is_empty(), "nothing there, yet {missing:?}");
        } else if up {
            assert!(whole && left.len() == 5, "up, yet {left:?}");
            assert!(lab_works(), "status said up and whole");
        } else {
            assert!(
                !missing.is_empty(),
                "broken ({left:?}) but nothing named missing"
            );
        }
        // The next `lab up` gives a whole lab, and says what it removed.
        let o = netlab(&["lab", "up", "--json"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let lines = json_lines(&o);
        if !left.is_empty() && !whole {
            let said = lines
                .iter()
                .find(|l| l["data"]["removed"].is_array())
                .expect("lab up says what it removed");
            assert_eq!(
                said["data"]["removed"].as_array().unwrap().len(),
                left.len()
            );
        }
        assert_eq!(lines.last().unwrap()["whole"], true);
        assert!(lab_works());
        assert_eq!(netlab(&["lab", "down"]).status.code(), Some(0));
        assert!(named_left().is_empty(), "{:?}", named_left());
    }
}

#[test]
fn two_lab_ups_at_once_make_one_lab() {
    if !privileged() {
        return;
    }
    let _g = NAMED_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let _ = netlab(&["lab", "down"]);
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_netlab"))
            .args(["lab", "up", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let mut kept = 0;
    for o in &outs {
        assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
        let lines = json_lines(o);
        assert_eq!(lines.last().unwrap()["whole"], true);
        kept += lines.iter().filter(|l| l["data"]["kept"] == true).count();
    }
    assert_eq!(kept, 1, "one built the lab, the other found it whole");
    assert_eq!(named_left().len(), 5, "{:?}", named_left());
    assert!(lab_works());
    // A host removed by hand: status names it, exec refuses, up repairs.
    assert!(Command::new("ip")
        .args(["netns", "del", "netlab-h3"])
        .status()
        .unwrap()
        .success());
    let (up, whole, missing) = lab_status();
    assert!(!up && !whole, "{missing:?}");
    assert!(
        missing.iter().any(|m| m == "h3: no namespace"),
        "{missing:?}"
    );
    let o = netlab(&["lab", "exec", "h1", "--", "true"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("h3: no namespace"), "{}", stderr(&o));
    assert_eq!(netlab(&["lab", "up"]).status.code(), Some(0));
    assert!(lab_works());
    assert_eq!(netlab(&["lab", "down"]).status.code(), Some(0));
}

/// Start `netlab lab dns --json` and read until it names its root hints file:
/// the child, its output, and the objects read.
fn start_lab_dns() -> (
    std::process::Child,
    BufReader<std::process::ChildStdout>,
    Vec<Value>,
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["lab", "dns", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        out.read_line(&mut l).unwrap();
        let v: Value = serde_json::from_str(&l).unwrap();
        let done = v["data"]["root_hints"].is_string();
        lines.push(v);
        if done {
            break;
        }
    }
    (child, out, lines)
}

#[test]
fn a_killed_lab_dns_is_cleaned_by_the_next_one_which_says_so() {
    let _g = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    let start = start_lab_dns;
    let (mut first, _out, lines) = start();
    let hints = lines.last().unwrap()["data"]["root_hints"]
        .as_str()
        .unwrap()
        .to_string();
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        std::path::Path::new(&hints).exists(),
        "SIGKILL leaves the hints file"
    );
    let (mut second, _out2, lines) = start();
    let said = lines
        .iter()
        .find(|l| l["data"]["removed"].is_array())
        .expect("the next lab says what it removed");
    assert!(said["data"]["removed"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == &Value::from(hints.clone())));
    assert!(!std::path::Path::new(&hints).exists());
    Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap();
    assert!(
        second.wait().unwrap().success(),
        "SIGTERM stops lab dns cleanly"
    );
}

#[test]
fn lab_dns_cleans_only_its_own_leftovers() {
    if !privileged() {
        return;
    }
    let _g = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    let base = netlab::private::base();
    // Another user's directory with a dead owner, and a link planted under the prefix.
    let theirs = base.join(format!("netlab-lab-dns-other{}", std::process::id()));
    std::fs::create_dir_all(&theirs).unwrap();
    std::fs::write(theirs.join("owner.pid"), "999999999").unwrap();
    std::fs::write(theirs.join("root-hints-1.zone"), "theirs").unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let victim = tempfile::tempdir().unwrap();
    std::fs::write(victim.path().join("owner.pid"), "999999999").unwrap();
    let link = base.join(format!("netlab-lab-dns-link{}", std::process::id()));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(victim.path(), &link).unwrap();

    let (mut child, _out, lines) = start_lab_dns();
    let hints = std::path::PathBuf::from(
        lines.last().unwrap()["data"]["root_hints"]
            .as_str()
            .unwrap(),
    );
    // Its own file sits in a private directory of its own.
    let dir = hints.parent().unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert!(dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("netlab-lab-dns-"));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert!(!dir.exists(), "its directory goes with it");
    assert!(
        theirs.join("root-hints-1.zone").exists(),
        "another user's files stay"
    );
    assert!(
        victim.path().join("owner.pid").exists(),
        "a link is not followed"
    );
    std::fs::remove_dir_all(&theirs).unwrap();
    std::fs::remove_file(&link).unwrap();
}

#[test]
fn a_link_planted_where_the_user_asked_for_a_file_is_not_followed() {
    // As root, `--pcap /tmp/x.pcapng` and `--html /tmp/x.html` must not write
    // through a symbolic link another user put at that name.
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    for (flag, name) in [("--pcap", "x.pcapng"), ("--html", "x.html")] {
        let link = dir.path().join(name);
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let o = netlab(&["sticky-packet", flag, link.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{flag}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("symbolic link"),
            "{flag}: {}",
            stderr(&o)
        );
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "precious",
            "{flag}"
        );
        // Refused before the run, not after it.
        assert!(stdout(&o).is_empty(), "{flag}: {}", stdout(&o));
    }
    let saved = dir.path().join("run.jsonl");
    std::fs::write(&saved, stdout(&netlab(&["sticky-packet", "--json"]))).unwrap();
    let link = dir.path().join("r.html");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let o = netlab(&[
        "render",
        saved.to_str().unwrap(),
        "--html",
        link.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}
