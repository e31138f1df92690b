//! netlab's own advice for `ping HOST`, `sudo setcap cap_net_raw+ep $(which
//! netlab)`, followed, and the rest of netlab still working for an ordinary
//! user (issue L 1): a binary with a file capability starts not dumpable, its
//! /proc/self files belong to root, and the rootless lab must still map its
//! user namespace.

use super::*;

/// A copy of the binary with `cap_net_raw+ep`, in a 0755 directory of its
/// own (one per build, so worktrees and test runs do not swap binaries), and
/// named netlab (a rootless lab's holder is recognised by that name).
fn setcap_binary() -> std::path::PathBuf {
    use std::hash::{Hash as _, Hasher as _};
    use std::os::unix::fs::PermissionsExt;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    env!("CARGO_BIN_EXE_netlab").hash(&mut h);
    let dir = std::env::temp_dir().join(format!("netlab-test-setcap-{:x}", h.finish()));
    let bin = dir.join("netlab");
    static COPIED: std::sync::Once = std::sync::Once::new();
    COPIED.call_once(|| {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Copied, given the capability, then renamed: never half a binary.
        let tmp = dir.join(format!("netlab.{}", std::process::id()));
        std::fs::copy(env!("CARGO_BIN_EXE_netlab"), &tmp).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        setcap(&tmp);
        std::fs::rename(&tmp, &bin).unwrap();
    });
    bin
}

/// `setcap cap_net_raw+ep FILE`, as netlab's advice says.
fn setcap(file: &std::path::Path) {
    let o = Command::new("setcap")
        .arg("cap_net_raw+ep")
        .arg(file)
        .output()
        .expect("run setcap");
    assert!(o.status.success(), "setcap: {}", stderr(&o));
}

/// Run `program ARGS` as the ordinary user nobody, the way a user's shell
/// starts it. setpriv keeps its own permitted capabilities across the change
/// of user (PR_SET_KEEPCAPS) and drops them only in the program it starts, so
/// a file-capability binary started by setpriv itself gains nothing new and
/// stays dumpable: the bug would not show. `env` in between is the ordinary
/// parent a user has: it holds no capability, so the binary gains
/// CAP_NET_RAW on exec and starts not dumpable.
fn as_nobody_from_a_shell(program: &std::path::Path) -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        "env",
    ])
    .arg(program)
    .env("NO_COLOR", "1")
    .env("LANG", "C.UTF-8")
    .current_dir("/");
    c
}

fn ready() -> bool {
    require("setpriv (util-linux)", have("setpriv"))
        && require("setcap (libcap2-bin)", have("setcap"))
        && privileged()
}

/// The way the tests start the binary is the way that breaks: a program with
/// a file capability, started as nobody through `env`, really holds the
/// capability and is not dumpable (its /proc files belong to root). Shown
/// with a capability-carrying copy of sh that reads its own /proc.
#[test]
fn a_file_capability_started_as_an_ordinary_user_is_effective_and_not_dumpable() {
    if !ready() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let sh = dir.path().join("sh");
    std::fs::copy("/bin/sh", &sh).unwrap();
    std::fs::set_permissions(&sh, std::fs::Permissions::from_mode(0o755)).unwrap();
    setcap(&sh);
    let o = as_nobody_from_a_shell(&sh)
        .args([
            "-c",
            "grep CapEff /proc/$$/status; stat -c 'owner=%U' /proc/$$/setgroups",
        ])
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(o.status.success(), "{}{out}", stderr(&o));
    let capeff = out
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .expect("CapEff");
    assert_eq!(
        capeff,
        1 << 13,
        "CAP_NET_RAW (13) alone is effective: {out}"
    );
    assert!(out.contains("owner=root"), "not dumpable: {out}");
}

/// Every lab demo, a host ping through the capability and the firewall, run
/// as an ordinary user from the setcap'd binary: all work, none trips over
/// /proc/self/setgroups.
#[test]
fn with_the_advised_capability_an_ordinary_user_still_runs_every_lab_demo() {
    if !ready() {
        return;
    }
    let bin = setcap_binary();
    for args in [
        &["arp-table"][..],
        &["ping", "-c", "2"],
        &["ping", "-c", "1", "127.0.0.1"],
        &["tcp-vs-udp", "--messages", "20", "--bulk", "1"],
        &["traceroute"],
        &["url"],
        &["firewall"],
        &["rpc"],
    ] {
        let o = as_nobody_from_a_shell(&bin).args(args).output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}{}", stdout(&o));
        assert!(!err.contains("setgroups"), "{args:?}: {err}");
    }
    // The host ping used the raw socket the capability grants (the process
    // read CAP_NET_RAW in its own CapEff), outside any user namespace.
    let o = as_nobody_from_a_shell(&bin)
        .args(["--json", "ping", "-c", "1", "127.0.0.1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let socket = lines
        .iter()
        .find_map(|l| l["data"]["socket"].as_str())
        .expect("ping names its socket");
    assert!(socket.contains("raw ICMP socket"), "{socket}");
    // And a lab demo ran in the user namespace, not on the capability.
    let o = as_nobody_from_a_shell(&bin)
        .args(["--json", "arp-table"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json_lines(&o)[0]["data"]["rootless"], true);
}

/// The class-session lab too: `lab up`, `exec`, `status` and `down` as an
/// ordinary user from the setcap'd binary.
#[test]
fn with_the_advised_capability_an_ordinary_user_keeps_a_class_lab() {
    if !ready() {
        return;
    }
    let _g = NAMED_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let bin = setcap_binary();
    let run = |args: &[&str]| as_nobody_from_a_shell(&bin).args(args).output().unwrap();
    let _ = run(&["lab", "down"]);
    for (args, code) in [
        (&["lab", "up"][..], 0),
        (&["lab", "status"], 0),
        (
            &[
                "lab", "exec", "h1", "--", "ip", "-o", "link", "show", "eth0",
            ],
            0,
        ),
        (&["lab", "down"], 0),
        (&["lab", "status"], 1),
    ] {
        let o = run(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}{}", stdout(&o));
        assert!(!err.contains("setgroups"), "{args:?}: {err}");
    }
}
