//! Whole-binary tests: run `netlab` as a user would and check what it says.
//!
//! Every test that needs the network uses the built-in lab on loopback
//! (127.53.0.0/16), started by the binary under test: nothing is sent beyond
//! this machine. Tests that need an outside tool (drill) fail when it is
//! missing under CI=true, and say loudly that they skipped otherwise.

mod arp;
mod async_io;
mod bad_input;
mod browser;
mod cdn;
mod cleanup;
mod concurrency;
mod conventions;
mod dns_trace;
mod drill;
mod edges;
mod exercises;
mod failover;
mod firewall;
mod hostile;
mod io_mux;
mod ipc;
mod lab_dns_edges;
mod lab_dns_fuzz;
mod lab_dns_rfc;
mod lab_exec;
mod lab_ns;
mod load_balance;
mod logs;
mod page;
mod pcap;
mod ping;
mod privilege;
mod producer_consumer;
mod questions;
mod rootless_lab;
mod rpc;
mod screen;
mod serve;
mod setcap;
mod snapshots;
mod traceroute;
mod transport;
mod url;

use std::process::{Command, Output};

use serde_json::Value;

/// How many packets of a capture file tshark's display `filter` selects.
pub fn tshark_count(file: &std::path::Path, filter: &str) -> usize {
    let o = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-Y", filter])
        .output()
        .expect("run tshark");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).lines().count()
}

/// Run netlab with a clean, predictable environment.
pub fn netlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .expect("run netlab")
}

/// netlab as an assert_cmd command, with the same clean environment as [`netlab`].
pub fn netlab_cmd() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::new(env!("CARGO_BIN_EXE_netlab"));
    c.env("NO_COLOR", "1")
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES");
    c
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Parse JSON Lines output, checking the envelope every object must have.
pub fn json_lines(o: &Output) -> Vec<Value> {
    let text = stdout(o);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty(), "no JSON output; stderr: {}", stderr(o));
    for (i, v) in lines.iter().enumerate() {
        assert_eq!(v["schema"], "netlab/2", "{v}");
        assert_eq!(v["seq"], (i + 1) as u64, "seq must count from 1: {v}");
        assert!(v["demo"].is_string(), "{v}");
        assert!(
            matches!(v["kind"].as_str(), Some("step" | "summary" | "error")),
            "{v}"
        );
        // Every line is the typed record, and reads back as the same JSON.
        let typed: netlab::record::Line = serde_json::from_value(v.clone())
            .unwrap_or_else(|e| panic!("not a netlab record ({e}): {v}"));
        assert_eq!(
            &serde_json::to_value(&typed).unwrap(),
            v,
            "a lossless record"
        );
        if v["kind"] == "error" {
            continue;
        }
        assert!(v["questions"].is_array(), "{v}");
        for q in v["questions"].as_array().unwrap() {
            let n: u32 = q.as_str().unwrap().trim_start_matches('Q').parse().unwrap();
            assert!(
                (1..=39).contains(&n),
                "question id out of the catalogue: {q}"
            );
        }
        assert_documented(v);
    }
    lines
}

/// The keys every summary has of its own; the rest are its demo's result.
pub const SUMMARY_OWN: &[&str] = &[
    "schema",
    "demo",
    "seq",
    "kind",
    "title",
    "lines",
    "questions",
    "ok",
];

/// Every key of a step's `data` and of a summary is in the demo's generated
/// schema (docs/json-schema.md).
pub fn assert_documented(v: &Value) {
    let demo = v["demo"].as_str().unwrap_or("");
    let schemas = netlab::demos::schema::of(demo);
    if schemas
        .iter()
        .all(|d| d.steps.is_empty() && d.summary.is_none())
    {
        return; // not typed yet
    }
    let (mut step_keys, mut summary_keys) = (
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
    );
    for d in &schemas {
        step_keys.extend(d.step_keys());
        summary_keys.extend(d.summary_keys());
    }
    if v["kind"] == "step" {
        for k in v["data"].as_object().into_iter().flat_map(|m| m.keys()) {
            assert!(
                step_keys.contains(k),
                "{demo}: step data key `{k}` is not in the generated schema ({step_keys:?})"
            );
        }
    } else if v["kind"] == "summary" {
        let own = SUMMARY_OWN;
        for k in v.as_object().into_iter().flat_map(|m| m.keys()) {
            if !own.contains(&k.as_str()) {
                assert!(
                    summary_keys.contains(k),
                    "{demo}: summary key `{k}` is not in the generated schema ({summary_keys:?})"
                );
            }
        }
    }
}

/// The record of a run with every prose field (a `{en, zh}` object) taken
/// out: what must be the same whatever `--lang` was, apart from measurements.
pub fn without_text(v: &Value) -> Value {
    match v {
        Value::Object(m) if m.len() == 2 && m.contains_key("en") && m.contains_key("zh") => {
            Value::Null
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), without_text(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_text).collect()),
        other => other.clone(),
    }
}

/// Packet records in a run's JSON (every step's `packets`).
pub fn records(lines: &[Value]) -> usize {
    lines
        .iter()
        .flat_map(|l| l["packets"].as_array().cloned().unwrap_or_default())
        // A second look at an earlier packet (its byte view) is not a packet of its own.
        .filter(|p| p["echo"] != true)
        .count()
}

/// When a test needs something the machine lacks: fail under CI, skip loudly elsewhere.
pub fn require(what: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but {what} is not available: .ci/run must install it");
    }
    // Straight to the stderr handle: libtest captures eprintln! of passing tests,
    // and a skip must be seen.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED ({}): {what} is not available on this machine (the test runs in CI)",
        std::thread::current().name().unwrap_or("?")
    );
    false
}

/// True when this process may build the namespace lab (root in CI). Under
/// CI=true a missing privilege fails the test; elsewhere it says SKIPPED.
pub fn privileged() -> bool {
    require(
        "CAP_NET_ADMIN, CAP_NET_RAW and CAP_SYS_ADMIN (run as root)",
        netlab::privilege::Privileges::probe().can_build_lab(),
    )
}

/// Whether a program is on PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The lab namespace lab up/down tests share: tests that use it take this lock.
pub static NAMED_LAB: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `lab exec` arguments that show a lab works: h1 reaches h3 across r1.
pub const PING_H3: &[&str] = &[
    "lab",
    "exec",
    "h1",
    "--",
    "ping",
    "-c",
    "1",
    "-W",
    "2",
    "203.0.113.10",
];

/// Tests that start `netlab lab dns` take this lock: a starting lab removes the
/// hints files of killed ones, which one of those tests checks.
pub static LAB_DNS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A copy of the binary that any user can execute (for setpriv tests).
pub fn world_executable_binary() -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    // One place per checkout (two checkouts' tests may run at once, each
    // with its own build), refreshed once by every test process (copy, then
    // atomic rename).
    let checkout = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        env!("CARGO_BIN_EXE_netlab").hash(&mut h);
        h.finish()
    };
    let dir = std::env::temp_dir().join(format!("netlab-test-bin-{checkout:016x}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.join("netlab");
    static COPIED: std::sync::Once = std::sync::Once::new();
    COPIED.call_once(|| {
        let tmp = dir.join(format!("netlab.{}", std::process::id()));
        std::fs::copy(env!("CARGO_BIN_EXE_netlab"), &tmp).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&tmp, &bin).unwrap();
    });
    bin
}

/// A command that runs the netlab binary as the unprivileged user nobody
/// (uid 65534), with no capabilities.
pub fn nobody_netlab() -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
    ])
    .arg(world_executable_binary())
    .env("NO_COLOR", "1")
    .env("LANG", "C.UTF-8")
    .current_dir("/");
    c
}

/// Run netlab as nobody and wait for it.
pub fn netlab_as_nobody(args: &[&str]) -> Output {
    nobody_netlab().args(args).output().expect("run setpriv")
}
