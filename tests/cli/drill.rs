//! A real client gets the same answers from the lab: drill (Debian's ldnsutils)
//! walks it with -T, dig asks its resolver, and netlab itself walks it with
//! --root-servers, all against one `netlab lab dns` process.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::mpsc;

use super::*;

/// A running `netlab lab dns --json`, stopped (killed) when dropped.
pub struct Lab {
    child: Child,
    // Kept open: the lab writes its summary here when it stops.
    _out: BufReader<std::process::ChildStdout>,
    /// Lines the lab logs on stderr (with -v), read by a thread of their own.
    log: mpsc::Receiver<String>,
    /// The port every server of the lab listens on.
    pub port: u16,
    /// The root hints file for drill -T -r.
    pub hints: String,
}

impl Lab {
    /// `netlab lab dns --json` on a free high port.
    pub fn start() -> Lab {
        Lab::start_with(&[])
    }

    /// `netlab lab dns --json` with more arguments (`--allow-axfr`, `-v`).
    pub fn start_with(extra: &[&str]) -> Lab {
        let mut child = Command::new(env!("CARGO_BIN_EXE_netlab"))
            .args(["lab", "dns", "--json"])
            .args(extra)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start netlab lab dns");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        // The step that says where the lab runs (a step about files a killed
        // lab left behind may come first).
        let v = loop {
            let mut line = String::new();
            let read = out.read_line(&mut line);
            match serde_json::from_str::<Value>(&line) {
                Ok(v) if v["data"]["port"].is_u64() => break v,
                Ok(_) if read.is_ok_and(|n| n > 0) => {}
                _ => {
                    // Not left running once this test has failed.
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("lab dns did not start: {line:?}");
                }
            }
        };
        let (tx, log) = mpsc::channel();
        let err = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in err.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Lab {
            port: v["data"]["port"].as_u64().unwrap() as u16,
            hints: v["data"]["root_hints"].as_str().unwrap().to_string(),
            child,
            _out: out,
            log,
        }
    }

    /// A lab server's address: `at([127, 53, 0, 1])`.
    pub fn at(&self, ip: [u8; 4]) -> SocketAddr {
        SocketAddr::from((ip, self.port))
    }

    /// The lines logged (with -v) up to and including the first that `last`
    /// accepts. Waits for it at most 20 s, then fails: a guard against a hang,
    /// not a measurement.
    pub fn log_until(&self, last: impl Fn(&str) -> bool) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self
                .log
                .recv_timeout(std::time::Duration::from_secs(20))
                .unwrap_or_else(|e| panic!("the lab logged no such line ({e}): {lines:#?}"));
            let done = last(&line);
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// Stop it as Ctrl-C would, and wait.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Lab {
    /// Stopped as Ctrl-C would (it removes its hints file), killed if that fails.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let pid = self.child.id().to_string();
            let interrupted = Command::new("kill").args(["-INT", &pid]).status();
            if !interrupted.is_ok_and(|s| s.success()) {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}

fn a_records(text: &str, owner: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with(owner))
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() >= 5 && w[3] == "A").then(|| w[4].to_string())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn drill_trace_gets_the_same_answer_as_netlab() {
    let _g = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::start();
    assert!(std::path::Path::new(&lab.hints).exists());
    let port = lab.port.to_string();
    let root = format!("127.53.0.1:{port}");
    // netlab walking the running lab from its root
    let o = netlab(&[
        "dns-trace",
        "www.baidu.com",
        "--root-servers",
        &root,
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut ours: Vec<String> = json_lines(&o).last().unwrap()["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["data"].as_str().unwrap().to_string())
        .collect();
    ours.sort();
    assert_eq!(ours, ["203.0.113.10", "203.0.113.11"]);
    if require("drill (Debian package ldnsutils)", have("drill")) {
        let d = Command::new("drill")
            .args(["-T", "-r", &lab.hints, "-p", &port, "www.baidu.com"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&d.stdout);
        assert!(d.status.success(), "drill failed: {text}");
        assert!(
            text.contains("www.baidu.com.\t1200\tIN\tCNAME\twww.a.shifen.com."),
            "{text}"
        );
        assert_eq!(a_records(&text, "www.a.shifen.com."), ours, "{text}");
    }
    if require("dig (Debian package dnsutils)", have("dig")) {
        let d = Command::new("dig")
            .args([
                "@127.53.0.53",
                "-p",
                &port,
                "www.baidu.com",
                "+noall",
                "+answer",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&d.stdout);
        assert_eq!(a_records(&text, "www.a.shifen.com."), ours, "{text}");
    }
    let hints = lab.hints.clone();
    let status = lab.stop();
    assert!(status.success(), "lab dns exits 0 on Ctrl-C: {status:?}");
    assert!(
        !std::path::Path::new(&hints).exists(),
        "the hints file is removed on exit"
    );
}
