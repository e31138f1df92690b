//! `lab exec` as a host's own shell would be: its own /sys (issue L 9), a
//! child's death by a signal reported as a shell does (issue L 11), for the
//! root lab and an ordinary user's; and the docs' warning that a sudoers rule
//! for netlab gives root.

use super::*;

/// h1's MAC address, from the lab's plan.
fn h1_mac() -> &'static str {
    netlab::lab::topology::plan()
        .into_iter()
        .find(|h| h.name == "h1")
        .and_then(|h| h.ifaces.into_iter().find(|i| i.name == "eth0"))
        .expect("h1's eth0 in the plan")
        .mac
}

/// What the host's own /sys shows: its interfaces and the /sys mounts.
fn host_sys() -> (String, Vec<String>) {
    let mut links: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    links.sort();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some("/sys"))
        .map(str::to_string)
        .collect();
    (links.join(" "), mounts)
}

/// With a lab up, `run` (netlab as root or as nobody) shows h1's own /sys,
/// and reports a command killed by a signal as 128 + N; the host's /sys is
/// as it was.
fn check_exec(run: impl Fn(&[&str]) -> Output, who: &str) {
    let before = host_sys();
    let o = run(&[
        "lab",
        "exec",
        "h1",
        "--",
        "cat",
        "/sys/class/net/eth0/address",
    ]);
    assert_eq!(o.status.code(), Some(0), "{who}: {}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        h1_mac(),
        "{who}: h1's MAC, not the host's"
    );
    let o = run(&["lab", "exec", "h1", "--", "ls", "/sys/class/net"]);
    assert_eq!(o.status.code(), Some(0), "{who}: {}", stderr(&o));
    let out = stdout(&o);
    let mut links: Vec<&str> = out.split_whitespace().collect();
    links.sort();
    assert_eq!(links, ["eth0", "lo"], "{who}: h1's links only");
    // A child killed by SIGTERM (15) ends as a shell says: 128 + 15.
    let o = run(&["lab", "exec", "h1", "--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(o.status.code(), Some(143), "{who}: {}", stderr(&o));
    let o = run(&["lab", "exec", "h1", "--", "sh", "-c", "kill -KILL $$"]);
    assert_eq!(o.status.code(), Some(137), "{who}: {}", stderr(&o));
    assert_eq!(host_sys(), before, "{who}: the host's /sys is untouched");
}

#[test]
fn lab_exec_shows_the_hosts_own_sys_and_signals_as_root() {
    if !privileged() {
        return;
    }
    let _g = NAMED_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let o = netlab(&["lab", "up"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    check_exec(netlab, "root");
    assert_eq!(netlab(&["lab", "down"]).status.code(), Some(0));
}

#[test]
fn lab_exec_shows_the_hosts_own_sys_and_signals_without_root() {
    if !require("setpriv (util-linux)", have("setpriv")) || !privileged() {
        return;
    }
    let _g = NAMED_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let _ = netlab_as_nobody(&["lab", "down"]);
    let o = netlab_as_nobody(&["lab", "up"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    check_exec(netlab_as_nobody, "nobody");
    assert_eq!(netlab_as_nobody(&["lab", "down"]).status.code(), Some(0));
}

#[test]
fn the_docs_warn_that_a_sudoers_rule_for_netlab_gives_root() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in ["README.md", "docs/lab-guide.md"] {
        let text = std::fs::read_to_string(root.join(f)).unwrap();
        // One paragraph says it all: the rule, why it is root, the safe ways.
        let para = text
            .split("\n\n")
            .find(|p| p.contains("sudoers"))
            .unwrap_or_else(|| panic!("{f} does not warn about a sudoers rule"));
        let flat = para.split_whitespace().collect::<Vec<_>>().join(" ");
        for needle in [
            "gives root",
            "lab exec h1 -- sh",
            "--pcap",
            "lab up",
            "no root",
            "setcap cap_net_raw+ep",
            "ping_group_range",
        ] {
            assert!(flat.contains(needle), "{f}: {needle:?} in: {flat}");
        }
    }
}
