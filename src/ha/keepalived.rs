//! The system's keepalived, run inside a lab router's namespace.
//!
//! netlab writes keepalived's configuration (the text a student would put in
//! /etc/keepalived/keepalived.conf) into a private directory, with its pid
//! files beside it; the system's /etc and its service manager are never
//! touched. Each keepalived runs as the first process of a PID namespace of
//! its own (`unshare --pid --fork --kill-child`), under `setpriv
//! --pdeathsig KILL`: when netlab dies, however it dies, unshare is killed,
//! its child with it, and with that first process every keepalived process
//! in the namespace (the VRRP child does not die with its parent otherwise).
//! [`Keepalived::crash`] kills it the same way: no priority-0 goodbye.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::lab::netns::Netns;
use crate::private::RunDir;
use crate::text::tx;

/// One router's part of the configuration.
#[derive(Clone, Debug)]
pub struct Router<'a> {
    /// Its name (`router_id`).
    pub name: &'a str,
    /// Its priority.
    pub priority: u8,
    /// The LAN interface.
    pub iface: &'a str,
}

/// The shared part.
#[derive(Clone, Copy, Debug)]
pub struct Shared {
    /// Virtual router id.
    pub vrid: u8,
    /// Advertisement interval, centiseconds.
    pub interval_cs: u16,
    /// The virtual address and its prefix length.
    pub vip: (Ipv4Addr, u8),
}

/// `advert_int` as keepalived reads it: seconds, with a fraction for VRRPv3.
fn seconds(cs: u16) -> String {
    let s = format!("{}.{:02}", cs / 100, cs % 100);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// keepalived.conf for one router: one VRRP instance, version 3, both
/// routers starting as BACKUP so the priorities elect the master.
pub fn config(r: &Router, s: &Shared) -> String {
    let (vip, prefix) = s.vip;
    format!(
        "global_defs {{
    router_id {name}
}}

vrrp_instance lan {{
    state BACKUP
    interface {iface}
    virtual_router_id {vrid}
    priority {prio}
    advert_int {int}
    version 3
    virtual_ipaddress {{
        {vip}/{prefix}
    }}
}}
",
        name = r.name,
        iface = r.iface,
        vrid = s.vrid,
        prio = r.priority,
        int = seconds(s.interval_cs),
    )
}

/// Whether keepalived can be run here.
pub fn available() -> bool {
    Command::new("keepalived")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// The error when it cannot.
pub fn missing() -> Error {
    Error::usage(tx(
        "--with keepalived: keepalived is not installed (Debian: apt-get install keepalived); without --with, netlab's own VRRP speaker runs",
        "--with keepalived：没有安装 keepalived（Debian：apt-get install keepalived）；不加 --with 则由 netlab 自己的 VRRP 实现运行",
    ))
}

/// A running keepalived; killed (as by a crash) when dropped.
pub struct Keepalived {
    name: String,
    /// unshare's pid: killing it takes the whole PID namespace down.
    pid: Option<Pid>,
    waiter: Option<JoinHandle<Result<()>>>,
    /// What keepalived logged (-l: to the console, kept in this file).
    pub log: PathBuf,
}

impl Keepalived {
    /// Write `conf` as `NAME.conf` in `dir` and start keepalived with it in `ns`.
    pub fn start(ns: &Netns, dir: &RunDir, name: &str, conf: &str) -> Result<Keepalived> {
        let conf_path = dir.write_new(&format!("{name}.conf"), conf)?;
        let path = |what: &str| dir.path().join(format!("{name}.{what}"));
        let log = path("log");
        let log_file = std::fs::File::create(&log).map_err(|source| Error::Write {
            path: log.clone(),
            source,
        })?;
        let err_file = log_file.try_clone().map_err(|source| Error::Write {
            path: log.clone(),
            source,
        })?;
        let mut cmd = Command::new("setpriv");
        cmd.args(["--pdeathsig", "KILL", "--"])
            .args(["unshare", "--pid", "--fork", "--kill-child=KILL", "--"])
            .args([
                "keepalived",
                "--dont-fork",
                "--log-console",
                "--no-syslog",
                "--vrrp",
            ])
            .arg("--use-file")
            .arg(&conf_path)
            .arg("--pid")
            .arg(path("pid"))
            .arg("--vrrp_pid")
            .arg(path("vrrp.pid"))
            .arg("--checkers_pid")
            .arg(path("checkers.pid"))
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(err_file);
        // The thread that starts it lives as long as it does: the parent
        // whose death --pdeathsig watches is that thread, not the process.
        let (tx_pid, rx_pid) = mpsc::channel();
        let who = name.to_string();
        let waiter = ns.spawn(move || match cmd.spawn() {
            Ok(mut child) => {
                let _ = tx_pid.send(Ok(child.id()));
                let _ = child.wait();
            }
            Err(e) => {
                let _ = tx_pid.send(Err(e));
            }
        })?;
        let pid = match rx_pid.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(pid)) => pid,
            Ok(Err(e)) => {
                let _ = waiter.join();
                return Err(Error::sys(
                    "start",
                    "启动",
                    format!("keepalived in {who}"),
                    e,
                ));
            }
            Err(_) => {
                return Err(Error::Internal(
                    "keepalived's starter did not answer".into(),
                ))
            }
        };
        Ok(Keepalived {
            name: name.to_string(),
            pid: Some(Pid::from_raw(pid as i32)),
            waiter: Some(waiter),
            log,
        })
    }

    /// Whether it still runs.
    pub fn running(&self) -> bool {
        self.waiter.as_ref().is_some_and(|w| !w.is_finished())
    }

    /// Its log so far (for an error message).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kill it at once, as a crash: SIGKILL, so no goodbye advert.
    pub fn crash(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = kill(pid, Signal::SIGKILL);
            tracing::info!("{}: keepalived killed", self.name);
        }
        if let Some(w) = self.waiter.take() {
            let _ = w.join();
        }
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        self.crash();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_written_in_seconds() {
        assert_eq!(seconds(100), "1");
        assert_eq!(seconds(20), "0.2");
        assert_eq!(seconds(125), "1.25");
        let c = config(
            &Router {
                name: "r1",
                priority: 200,
                iface: "eth0",
            },
            &Shared {
                vrid: 1,
                interval_cs: 100,
                vip: (Ipv4Addr::new(198, 51, 100, 65), 26),
            },
        );
        assert!(c.contains("    priority 200\n"), "{c}");
        assert!(c.contains("    advert_int 1\n"), "{c}");
        assert!(c.contains("        198.51.100.65/26\n"), "{c}");
        assert!(c.contains("    version 3\n"), "{c}");
    }
}
