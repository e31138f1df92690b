//! netlab ipc: two processes, one message and its echo through each
//! mechanism. What is checked is what each mechanism delivered (every echo
//! identical, the child's checksum equal to the parent's, the signal's value
//! the message's checksum), that only TCP's turn put frames on lo (in the
//! JSON, in the packets, and in the pcap as tshark reads it), and that
//! nothing is left behind; never how fast (benches/ipc.rs compares times).
//!
//! Each run keeps its private directories under a TMPDIR of its own, so
//! tests running at once never see (or sweep) each other's.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

/// The mechanisms, in the order a run uses them.
pub const NAMES: [&str; 9] = [
    "pipe",
    "fifo",
    "unix_stream",
    "unix_dgram",
    "socketpair",
    "mqueue",
    "shm",
    "signal",
    "tcp",
];

/// A folder for one test's TMPDIR: world-writable and sticky, as /tmp is,
/// so nobody can make its private directories there too.
pub fn own_tmp(name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let d = std::env::temp_dir().join(format!("netlab-ipctest-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
    d
}

/// netlab (as this user) with its private directories under `tmp`.
pub fn ipc_cmd(tmp: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_netlab"));
    c.env("NO_COLOR", "1")
        .env("LANG", "C.UTF-8")
        .env_remove("XDG_RUNTIME_DIR")
        .env("TMPDIR", tmp);
    c
}

/// The `netlab-ipc-*` directories under `tmp`.
pub fn run_dirs(tmp: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("netlab-ipc-"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The POSIX message queues named `netlab-ipc-*` on this machine, as a
/// mqueue file system mounted in a mount namespace of its own lists them
/// (root; /dev/mqueue need not be mounted). One seen twice 100 ms apart:
/// a run's queue exists for a few microseconds only.
pub fn mqueues_left() -> Vec<String> {
    let list = || -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let o = Command::new("unshare")
            .args([
                "-m",
                "sh",
                "-c",
                "mount -t mqueue none \"$0\" && ls -1 \"$0\"",
            ])
            .arg(dir.path())
            .output()
            .expect("run unshare");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.starts_with("netlab-ipc-"))
            .map(str::to_string)
            .collect()
    };
    let first = list();
    if first.is_empty() {
        return first;
    }
    std::thread::sleep(Duration::from_millis(100));
    let again = list();
    first.into_iter().filter(|q| again.contains(q)).collect()
}

/// Processes running `netlab ipc-peer --parent PID`.
pub fn peers_of(pid: u32) -> Vec<u32> {
    let want = ["ipc-peer", "--parent", &pid.to_string()].map(String::from);
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| {
                let args: Vec<String> = c
                    .split(|b| *b == 0)
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                args.windows(3).any(|w| w == want)
            })
        })
        .collect()
}

/// Wait until no `ipc-peer` of `pid` runs (the kernel delivers
/// PR_SET_PDEATHSIG as the parent exits); false after 5 s.
pub fn peers_gone(pid: u32) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(5) {
        if peers_of(pid).is_empty() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn step<'a>(lines: &'a [Value], name: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["data"]["name"] == name)
        .unwrap_or_else(|| panic!("no step for {name}"))
}

/// Everything a run's JSON must say, whoever ran it: `k` round trips.
fn check_run(lines: &[Value], k: u64) {
    let s = lines.last().unwrap();
    assert_eq!(s["kind"], "summary", "{s}");
    assert_eq!(s["ok"], true, "{s}");
    let ms = s["mechanisms"].as_array().unwrap();
    let names: Vec<&str> = ms.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, NAMES);
    assert_eq!(
        s["captured"], true,
        "lo captured in the run's own namespace: {s}"
    );
    assert_eq!(s["frames_before"], 0, "{s}");
    let intro = lines
        .iter()
        .find(|l| l["data"]["child_pid"].is_u64())
        .unwrap();
    assert_eq!(intro["data"]["network"], "own");
    assert_eq!(
        intro["data"]["interfaces"],
        serde_json::json!(["lo"]),
        "lo is every interface there is"
    );
    let first = intro["data"]["first_message"].as_str().unwrap();
    for m in ms {
        let name = m["name"].as_str().unwrap();
        assert_eq!(m["exact"], true, "{m}");
        assert!(m["round_trip_us"].as_f64().unwrap() > 0.0, "{m}");
        let d = &step(lines, name)["data"];
        // Every echo was its message, and the child got exactly what was sent.
        assert_eq!(d["round_trips"], k, "{d}");
        assert_eq!(d["replies_exact"], k, "{d}");
        assert_eq!(d["checksum"], d["child_checksum"], "{d}");
        assert_eq!(d["frames_on_lo"], m["frames_on_lo"]);
        // Only TCP's turn reached lo.
        let frames = m["frames_on_lo"].as_u64().unwrap();
        if name == "tcp" {
            assert!(frames > 0, "{m}");
            assert_eq!(m["on_loopback_wire"], true);
        } else {
            assert_eq!(frames, 0, "{name} put frames on lo: {m}");
            assert_eq!(m["on_loopback_wire"], false);
            assert!(step(lines, name)["packets"].as_array().unwrap().is_empty());
        }
    }
    // A signal carries no bytes: its value was the first message's checksum.
    let sig = &step(lines, "signal")["data"];
    let want = netlab::ipc::fnv(netlab::ipc::FNV0, first.as_bytes());
    assert_eq!(sig["value"], format!("{want:016x}"), "{sig}");
    // The notes give no answer to Q22: nothing to correct.
    assert!(lines.iter().all(|l| l["correction"].is_null()));
    // TCP: its frames are the run's packets, between the two processes;
    // one segment per message and per echo (TCP_NODELAY), a full handshake.
    let tcp = step(lines, "tcp");
    let packets = tcp["packets"].as_array().unwrap();
    assert_eq!(
        packets.len() as u64,
        tcp["data"]["frames_on_lo"].as_u64().unwrap()
    );
    super::transport::assert_participant_ids(lines, &["parent", "child"]);
    let seg = &tcp["data"]["segments"];
    assert_eq!(seg["data"], 2 * k, "{seg}");
    assert_eq!(seg["handshake"], 3, "{seg}");
    assert!(seg["close"].as_u64().unwrap() >= 2, "{seg}");
    let lo = tcp["facts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["label"]["en"] == "lo")
        .unwrap();
    let frames = tcp["data"]["frames_on_lo"].as_u64().unwrap();
    assert!(
        lo["value"]["en"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{frames} frames: the only mechanism")),
        "{lo}"
    );
    // The run waited for its child to end.
    let parent = intro["data"]["parent_pid"].as_u64().unwrap() as u32;
    assert!(peers_of(parent).is_empty(), "the child still runs");
}

#[test]
fn every_mechanism_delivers_the_message_both_ways_and_only_tcp_reaches_lo() {
    let tmp = own_tmp("root");
    let pcap = tmp.join("ipc.pcapng");
    let o = ipc_cmd(&tmp)
        .args(["ipc", "--json", "--round-trips", "20", "--pcap"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    check_run(&lines, 20);
    assert!(run_dirs(&tmp).is_empty(), "{:?}", run_dirs(&tmp));
    // The capture file holds exactly TCP's frames, and the message is on the wire.
    if require("tshark (Debian package tshark)", have("tshark")) {
        let tcp = step(&lines, "tcp")["data"]["frames_on_lo"]
            .as_u64()
            .unwrap() as usize;
        assert_eq!(tshark_count(&pcap, "tcp"), tcp);
        assert_eq!(tshark_count(&pcap, "!tcp"), 0);
        assert_eq!(tshark_count(&pcap, "tcp.flags.syn == 1"), 2);
        assert_eq!(
            tshark_count(&pcap, "frame contains \"hello #7\""),
            2,
            "the 7th message and its echo, readable on lo"
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn as_nobody_the_run_has_a_namespace_of_its_own_and_the_same_results() {
    let tmp = own_tmp("nobody");
    let o = nobody_netlab()
        .env_remove("XDG_RUNTIME_DIR")
        .env("TMPDIR", &tmp)
        .args(["ipc", "--json", "--round-trips", "5"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    check_run(&json_lines(&o), 5);
    assert!(run_dirs(&tmp).is_empty(), "{:?}", run_dirs(&tmp));
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn what_a_killed_run_left_the_next_run_removes() {
    if !privileged() {
        return;
    }
    // What a SIGKILL in the microseconds a name exists would leave, owned by
    // nobody: a private directory whose process is gone, a FIFO in it, and a
    // message queue it names.
    let tmp = own_tmp("stale");
    let dead = {
        let mut c = Command::new("true").spawn().unwrap();
        c.wait().unwrap();
        c.id()
    };
    let dir = tmp.join("netlab-ipc-plant1");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("owner.pid"), dead.to_string()).unwrap();
    let q = "/netlab-ipc-plant1-down";
    let _ = nix::mqueue::mq_unlink(q);
    std::fs::write(dir.join("mqueues"), format!("{q}\n")).unwrap();
    nix::unistd::mkfifo(&dir.join("down"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let mqd = nix::mqueue::mq_open(
        q,
        nix::mqueue::MQ_OFlag::O_CREAT | nix::mqueue::MQ_OFlag::O_RDWR,
        nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
        // nix passes the mode only with attributes.
        Some(&nix::mqueue::MqAttr::new(0, 4, 64, 0)),
    )
    .unwrap();
    let nobody = Some(nix::unistd::Uid::from_raw(65534));
    let nogroup = Some(nix::unistd::Gid::from_raw(65534));
    nix::unistd::fchown(&mqd, nobody, nogroup).unwrap();
    nix::mqueue::mq_close(mqd).unwrap();
    for p in [
        &dir,
        &dir.join("owner.pid"),
        &dir.join("mqueues"),
        &dir.join("down"),
    ] {
        std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
    }
    // Another user's directory is never touched.
    let theirs = tmp.join("netlab-ipc-theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("owner.pid"), dead.to_string()).unwrap();
    let o = nobody_netlab()
        .env_remove("XDG_RUNTIME_DIR")
        .env("TMPDIR", &tmp)
        .args(["ipc", "--json", "--round-trips", "2"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let removed = lines[0]["data"]["removed"].as_array().unwrap();
    let removed: Vec<&str> = removed.iter().map(|r| r.as_str().unwrap()).collect();
    assert!(
        removed.contains(&"mqueue /netlab-ipc-plant1-down"),
        "{removed:?}"
    );
    assert!(
        removed
            .iter()
            .any(|r| r.ends_with("netlab-ipc-plant1/down")),
        "{removed:?}"
    );
    assert!(!dir.exists());
    assert!(
        nix::mqueue::mq_open(
            q,
            nix::mqueue::MQ_OFlag::O_RDONLY,
            nix::sys::stat::Mode::empty(),
            None
        )
        .is_err(),
        "the queue is gone"
    );
    assert!(theirs.exists(), "root's directory left alone");
    assert_eq!(std::fs::metadata(&theirs).unwrap().uid(), 0);
    let t = stdout(&netlab_text_of(&lines));
    assert!(t.contains("killed run"), "{t}");
    let _ = std::fs::remove_dir_all(&tmp);
}

/// The text view of a recorded run (`netlab render`).
fn netlab_text_of(lines: &[Value]) -> Output {
    let f = tempfile::NamedTempFile::new().unwrap();
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(f.path(), text).unwrap();
    netlab(&["render", f.path().to_str().unwrap(), "--lang", "en"])
}

#[test]
fn a_long_message_is_refused_in_one_line_and_the_text_names_every_call() {
    let long = "x".repeat(513);
    let o = netlab(&["ipc", "--message", &long]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).lines().count(), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("at most 512"), "{}", stderr(&o));
    let o = netlab(&["ipc", "--message", ""]);
    assert_eq!(o.status.code(), Some(2));
    let tmp = own_tmp("text");
    for lang in ["en", "zh"] {
        let o = ipc_cmd(&tmp)
            .args([
                "ipc",
                "--round-trips",
                "3",
                "--message",
                "ping 你好",
                "--lang",
                lang,
            ])
            .stdout(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let t = stdout(&o);
        for call in [
            "pipe2()",
            "mkfifo()",
            "unlink()",
            "SOCK_STREAM",
            "SOCK_DGRAM",
            "socketpair(AF_UNIX",
            "mq_open(O_CREAT|O_EXCL)",
            "mq_unlink()",
            "memfd_create()",
            "mmap(MAP_SHARED)",
            "futex(FUTEX_WAKE)",
            "sigqueue(",
            "sigtimedwait()",
            "rt_tgsigqueueinfo()",
            "TCP_NODELAY",
            "“ping 你好 #1”",
        ] {
            assert!(t.contains(call), "{lang}: no {call:?}:\n{t}");
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
