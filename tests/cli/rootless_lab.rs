//! The class lab without root (issue L 2, 3, 10): `lab status` checks each
//! link of the rootless lab as it does the root lab's and never calls a broken
//! one up; `lab up` replaces a broken one; several `lab up`s at once make one
//! lab with one holder; `lab down` ends every holder; a directory another
//! user planted under the user's name does not block the lab.

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::*;

/// netlab as nobody, with its lab kept under `tmp` (TMPDIR; no XDG_RUNTIME_DIR).
fn nb(tmp: &std::path::Path) -> Command {
    let mut c = nobody_netlab();
    c.env_remove("XDG_RUNTIME_DIR").env("TMPDIR", tmp);
    c
}

fn run(tmp: &std::path::Path, args: &[&str]) -> Output {
    nb(tmp).args(args).output().expect("run setpriv")
}

fn spawn(tmp: &std::path::Path, args: &[&str]) -> Child {
    nb(tmp)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run setpriv")
}

/// A world-writable, sticky folder for one test's TMPDIR, as /tmp is.
fn shared_tmp(name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let d = std::env::temp_dir().join(format!("netlab-rootless-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
    d
}

/// Processes of uid 65534 whose arguments hold these words in a row.
fn nobody_procs(words: &[&str]) -> Vec<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::metadata(format!("/proc/{p}")).is_ok_and(|m| m.uid() == 65534)
                && std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| {
                    let args: Vec<&[u8]> = c.split(|b| *b == 0).collect();
                    args.windows(words.len())
                        .any(|w| w.iter().zip(words).all(|(a, b)| *a == b.as_bytes()))
                })
        })
        .collect()
}

/// `lab status --json`'s exit code and summary.
fn status(tmp: &std::path::Path) -> (Option<i32>, Value) {
    let o = run(tmp, &["lab", "status", "--json"]);
    let s = json_lines(&o).pop().unwrap_or_default();
    (o.status.code(), s)
}

/// Whether h1 reaches h3 across r1 in this user's lab.
fn h1_reaches_h3(tmp: &std::path::Path) -> bool {
    run(tmp, PING_H3).status.success()
}

fn ready() -> bool {
    require("setpriv (util-linux)", have("setpriv")) && privileged()
}

#[test]
fn a_broken_rootless_lab_is_reported_broken_and_lab_up_replaces_it() {
    if !ready() {
        return;
    }
    let _g = NAMED_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = shared_tmp("broken");
    let _ = run(&tmp, &["lab", "down"]);
    assert_eq!(run(&tmp, &["lab", "up"]).status.code(), Some(0));
    assert_eq!(status(&tmp).0, Some(0));
    // Each cable's shaping is shown, clean ones too.
    let s = status(&tmp).1;
    for h in ["h1", "h2", "h3"] {
        let host = s["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == h)
            .unwrap();
        assert_eq!(host["shaping"]["loss"], 0, "{host}");
    }
    let text = stdout(&run(&tmp, &["lab", "status"]));
    assert_eq!(text.matches("cable").count(), 3, "{text}");

    // A cable cut by hand inside the lab: status says broken, exit 1.
    let o = run(
        &tmp,
        &["lab", "exec", "h1", "--", "ip", "link", "del", "eth0"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let (code, s) = status(&tmp);
    assert_eq!(code, Some(1), "a broken lab is not up: {s}");
    assert_eq!(s["up"], false, "{s}");
    let missing = s["missing"].to_string();
    assert!(missing.contains("h1 eth0: no such interface"), "{s}");
    assert!(missing.contains("h1: no default route"), "{s}");
    assert!(!h1_reaches_h3(&tmp));
    // `lab up` replaces it, and says why.
    let o = run(&tmp, &["lab", "up", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert!(
        lines
            .iter()
            .any(|l| l["data"]["removed"].to_string().contains("h1 eth0")),
        "{lines:?}"
    );
    assert_eq!(status(&tmp).0, Some(0));
    assert!(h1_reaches_h3(&tmp));
    assert_eq!(run(&tmp, &["lab", "down"]).status.code(), Some(0));
    assert!(nobody_procs(&["lab", "hold"]).is_empty());
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn a_killed_delay_line_and_an_interrupted_lab_up_delay_are_found_and_repaired() {
    if !ready() {
        return;
    }
    let _g = NAMED_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = shared_tmp("delay");
    let _ = run(&tmp, &["lab", "down"]);
    let o = run(&tmp, &["lab", "up", "--link", "h1", "--delay", "30"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (code, s) = status(&tmp);
    assert_eq!(code, Some(0), "{s}");
    let h1 = s["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "h1")
        .unwrap();
    assert_eq!(h1["shaping"]["delay_ms"], 30, "{h1}");

    // The line's process killed: no frame crosses h1's cable any more.
    let lines = nobody_procs(&["lab", "line", "h1"]);
    assert_eq!(lines.len(), 1, "one delay line");
    for p in lines {
        let _ = Command::new("kill")
            .args(["-KILL", &p.to_string()])
            .status();
    }
    std::thread::sleep(Duration::from_millis(200));
    let (code, s) = status(&tmp);
    assert_eq!(code, Some(1), "{s}");
    assert!(s["missing"].to_string().contains("delay line"), "{s}");
    assert!(!h1_reaches_h3(&tmp));
    let o = run(&tmp, &["lab", "up", "--link", "h1", "--delay", "30"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(status(&tmp).0, Some(0));
    assert!(h1_reaches_h3(&tmp));

    // `lab up --delay` killed at moments spread over its work: whatever it
    // left, status is either up (and h1 reaches h3) or broken (naming what
    // is missing), and the next `lab up` makes it whole.
    for ms in [15u64, 40, 70, 110, 160, 250, 400] {
        let mut c = spawn(&tmp, &["lab", "up", "--link", "h1", "--delay", "100"]);
        std::thread::sleep(Duration::from_millis(ms));
        let _ = c.kill();
        let _ = c.wait();
        let (code, s) = status(&tmp);
        match code {
            Some(0) => assert!(
                h1_reaches_h3(&tmp),
                "killed after {ms} ms: status says up: {s}"
            ),
            Some(1) => assert!(
                !s["missing"].as_array().unwrap().is_empty(),
                "killed after {ms} ms: {s}"
            ),
            c => panic!("killed after {ms} ms: status exited {c:?}"),
        }
        let o = run(&tmp, &["lab", "up"]);
        assert_eq!(o.status.code(), Some(0), "after {ms} ms: {}", stderr(&o));
        assert_eq!(status(&tmp).0, Some(0), "repaired after {ms} ms");
        assert!(h1_reaches_h3(&tmp), "repaired after {ms} ms");
        assert_eq!(nobody_procs(&["lab", "hold"]).len(), 1, "one holder");
    }
    assert_eq!(run(&tmp, &["lab", "down"]).status.code(), Some(0));
    assert!(nobody_procs(&["lab", "hold"]).is_empty());
    assert!(nobody_procs(&["lab", "line"]).is_empty());
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn four_rootless_lab_ups_at_once_make_one_lab_and_lab_down_ends_every_holder() {
    if !ready() {
        return;
    }
    let _g = NAMED_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = shared_tmp("four");
    let _ = run(&tmp, &["lab", "down"]);
    let children: Vec<Child> = (0..4)
        .map(|_| spawn(&tmp, &["lab", "up", "--json"]))
        .collect();
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let mut built = 0;
    let mut kept = 0;
    for o in &outs {
        assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
        let lines = json_lines(o);
        built += lines
            .iter()
            .filter(|l| l["data"]["holder"].is_u64())
            .count();
        kept += lines.iter().filter(|l| l["data"]["kept"] == true).count();
    }
    assert_eq!(
        (built, kept),
        (1, 3),
        "one lab built, kept by the other three"
    );
    assert_eq!(nobody_procs(&["lab", "hold"]).len(), 1, "one holder");
    assert!(h1_reaches_h3(&tmp));
    // A second holder started by hand (as a killed `lab up` may leave one):
    // `lab down` ends it too.
    let mut stray = spawn(&tmp, &["lab", "hold"]);
    let end = std::time::Instant::now() + Duration::from_secs(20);
    while nobody_procs(&["lab", "hold"]).len() < 2 && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(run(&tmp, &["lab", "down"]).status.code(), Some(0));
    let _ = stray.wait();
    assert!(nobody_procs(&["lab", "hold"]).is_empty(), "no holder left");
    let (code, s) = status(&tmp);
    assert_eq!((code, s["up"].clone()), (Some(1), false.into()));
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn a_directory_planted_under_the_users_name_neither_blocks_nor_holds_the_lab() {
    if !ready() {
        return;
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let _g = NAMED_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = shared_tmp("planted");
    let _ = run(&tmp, &["lab", "down"]);
    // Status and down with no lab make no directory.
    assert_eq!(status(&tmp).0, Some(1));
    assert_eq!(run(&tmp, &["lab", "down"]).status.code(), Some(0));
    let entries = || -> Vec<String> {
        std::fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    assert!(entries().is_empty(), "{:?}", entries());
    // Another user (here root) takes nobody's name first, open to all.
    let planted = tmp.join("netlab-lab-65534");
    std::fs::create_dir(&planted).unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = run(&tmp, &["lab", "up"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("belongs to another user"),
        "{}",
        stderr(&o)
    );
    assert!(
        std::fs::read_dir(&planted).unwrap().next().is_none(),
        "nothing of the lab is written where another user can read it"
    );
    // The lab lives in a private directory of nobody's, found again by owner.
    let private: Vec<_> = entries()
        .into_iter()
        .filter(|n| n.starts_with("netlab-lab-65534-"))
        .collect();
    assert_eq!(private.len(), 1, "{:?}", entries());
    let m = std::fs::metadata(tmp.join(&private[0])).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o777), (65534, 0o700));
    assert_eq!(status(&tmp).0, Some(0));
    assert!(h1_reaches_h3(&tmp));
    assert_eq!(run(&tmp, &["lab", "down"]).status.code(), Some(0));
    assert!(nobody_procs(&["lab", "hold"]).is_empty());
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn the_root_lab_too_is_broken_without_its_delay_line_and_lab_up_rebuilds_it() {
    if !privileged() {
        return;
    }
    let _g = NAMED_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let _ = netlab(&["lab", "down"]);
    let o = netlab(&["lab", "up", "--link", "h2", "--delay", "20"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let root_lines = || -> Vec<u32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|p| {
                std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| {
                    let a: Vec<&[u8]> = c.split(|b| *b == 0).collect();
                    a.windows(3)
                        .any(|w| w == [&b"lab"[..], &b"line"[..], &b"h2"[..]])
                        && !a.contains(&&b"--holder"[..])
                })
            })
            .collect()
    };
    let lines = root_lines();
    assert_eq!(lines.len(), 1);
    let _ = Command::new("kill")
        .args(["-KILL", &lines[0].to_string()])
        .status();
    std::thread::sleep(Duration::from_millis(200));
    let o = netlab(&["lab", "status", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let s = json_lines(&o).pop().unwrap();
    assert!(
        s["missing"].to_string().contains("h2 eth0: its delay line"),
        "{s}"
    );
    let o = netlab(&["lab", "up"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(netlab(&["lab", "status"]).status.code(), Some(0));
    assert_eq!(netlab(&["lab", "down"]).status.code(), Some(0));
}
