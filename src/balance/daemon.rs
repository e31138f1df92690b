//! The system's nginx or HAProxy as the farm's layer-7 proxy: netlab writes
//! the daemon's real configuration into a private directory of its own
//! (never /etc, never systemd), runs the daemon in lb's namespace in the
//! foreground, and reads its log lines as they come.
//!
//! The daemon is started through `setpriv --pdeathsig KILL` from a thread
//! that stays alive as long as the daemon: if netlab dies, even by SIGKILL,
//! the kernel kills the daemon too. nginx runs as one process
//! (`master_process off`): its workers would outlive a killed master, and as
//! root of a user namespace it could not drop to another user anyway.
//!
//! Health checks differ as the daemons do: HAProxy checks actively
//! (`check inter 500ms fall 1`); open-source nginx only passively, taking a
//! server out after `max_fails` failed requests (its log says when).

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::proxy::{Scheduler, STATIC};
use crate::error::{Error, Result};
use crate::lab::farm::{BACKENDS, VIP};
use crate::lab::netns::Netns;
use crate::private::RunDir;
use crate::text::tx;

/// Which daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// nginx: a web server, here a reverse proxy.
    Nginx,
    /// HAProxy: a load balancer and proxy.
    Haproxy,
}

/// The program a kind runs, and the Debian package that has it.
fn program(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Nginx => ("nginx", "nginx-light or nginx"),
        Kind::Haproxy => ("haproxy", "haproxy"),
    }
}

/// Where a program is: on PATH, or in the sbin folders an ordinary user's
/// PATH may lack.
pub fn find(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
}

/// Refuse at once, with what to install, when the daemon (or setpriv,
/// which ties it to netlab's life) is missing.
pub fn check_installed(kind: Kind) -> Result<()> {
    let (prog, pkg) = program(kind);
    check_program(prog, pkg)
}

/// [`check_installed`] for a program and its package.
fn check_program(prog: &str, pkg: &str) -> Result<()> {
    if find(prog).is_none() {
        return Err(Error::usage(tx(
            format!("--proxy {prog}: {prog} is not installed here; install it (Debian: apt-get install {pkg}) or use --proxy netlab"),
            format!("--proxy {prog}：本机没有安装 {prog}；请先安装（Debian：apt-get install {pkg}），或改用 --proxy netlab"),
        )));
    }
    if find("setpriv").is_none() {
        return Err(Error::usage(tx(
            "--proxy needs setpriv (Debian package util-linux) to tie the daemon's life to netlab's",
            "--proxy 需要 setpriv（Debian 软件包 util-linux）把守护进程的生命和 netlab 绑在一起",
        )));
    }
    Ok(())
}

/// How often HAProxy checks, and how long nginx keeps a failed server out.
const INTER_MS: u64 = 500;

/// nginx's configuration for the farm, its files under `dir`.
pub fn nginx_conf(dir: &str, s: Scheduler) -> String {
    let servers: String = BACKENDS
        .iter()
        .map(|b| format!("        server {}:80 max_fails=1 fail_timeout=60s;\n", b.1))
        .collect();
    let least = if s == Scheduler::LeastConn {
        "        least_conn;\n"
    } else {
        ""
    };
    let web3 = BACKENDS[2].1;
    format!(
        "# One process in the foreground: it dies with netlab (workers would
# outlive a killed master), and it stays root of the lab's namespace.
daemon off;
master_process off;
user root root;
worker_processes 1;
pid {dir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream app {{
{least}{servers}    }}
    upstream static {{
        server {web3}:80;
    }}
    server {{
        listen {VIP}:80;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        location {STATIC} {{
            proxy_pass http://static;
        }}
        location / {{
            proxy_pass http://app;
            proxy_next_upstream off;
        }}
    }}
}}
"
    )
}

/// HAProxy's configuration for the farm.
pub fn haproxy_cfg(s: Scheduler) -> String {
    let balance = if s == Scheduler::LeastConn {
        "leastconn"
    } else {
        "roundrobin"
    };
    let servers: String = BACKENDS
        .iter()
        .map(|b| {
            format!(
                "    server {} {}:80 check inter {INTER_MS}ms fall 1 rise 1\n",
                b.0, b.1
            )
        })
        .collect();
    let (n3, a3) = (BACKENDS[2].0, BACKENDS[2].1);
    format!(
        "defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    retries 0
frontend www
    bind {VIP}:80
    option forwardfor
    use_backend static if {{ path_beg {STATIC} }}
    default_backend app
backend app
    balance {balance}
    option httpchk GET /health
{servers}backend static
    option httpchk GET /health
    server {n3} {a3}:80 check inter {INTER_MS}ms fall 1 rise 1
"
    )
}

/// A running daemon; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Daemon {
    /// nginx or haproxy.
    pub kind: Kind,
    /// The configuration file as written.
    pub config: String,
    /// The command that started it.
    pub command: String,
    pid: Option<i32>,
    thread: Option<std::thread::JoinHandle<Result<Result<()>>>>,
    log: Arc<Mutex<Vec<(SystemTime, String)>>>,
    _dir: RunDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Daemon {
    /// Write the configuration and start the daemon in `lb`; returns once it
    /// accepts connections on the VIP.
    pub fn start(lb: &Netns, kind: Kind, s: Scheduler) -> Result<Daemon> {
        check_installed(kind)?;
        let (prog, _) = program(kind);
        let _ = crate::private::remove_stale("lb");
        let dir = RunDir::create("lb")?;
        let d = dir.path().display().to_string();
        let (name, config) = match kind {
            Kind::Nginx => ("nginx.conf", nginx_conf(&d, s)),
            _ => ("haproxy.cfg", haproxy_cfg(s)),
        };
        let file = dir.write_new(name, &config)?;
        let f = file.display().to_string();
        let args: Vec<String> = match kind {
            Kind::Nginx => vec!["-c".into(), f, "-e".into(), "stderr".into()],
            _ => vec!["-db".into(), "-f".into(), f],
        };
        let exe = find(prog).unwrap_or_else(|| PathBuf::from(prog));
        let command = format!("{} {}", exe.display(), args.join(" "));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx_pid, rx_pid) = std::sync::mpsc::channel();
        let lines = log.clone();
        let setpriv = find("setpriv").unwrap_or_else(|| PathBuf::from("setpriv"));
        // This thread is the daemon's parent for its whole life: the parent
        // death signal fires when it ends, and it ends only with netlab or
        // after the daemon has exited.
        let thread = lb.spawn(move || -> Result<()> {
            let mut child = std::process::Command::new(&setpriv)
                .args(["--pdeathsig", "KILL", "--"])
                .arg(&exe)
                .args(&args)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| Error::sys("start", "启动", exe.display(), e))?;
            let _ = tx_pid.send(child.id() as i32);
            if let Some(err) = child.stderr.take() {
                for l in std::io::BufReader::new(err).lines().map_while(|l| l.ok()) {
                    tracing::debug!("{}: {l}", exe.display());
                    if let Ok(mut v) = lines.lock() {
                        v.push((SystemTime::now(), l));
                    }
                }
            }
            let _ = child.wait();
            Ok(())
        })?;
        let pid = rx_pid.recv_timeout(Duration::from_secs(5)).ok();
        let mut dmn = Daemon {
            kind,
            config,
            command,
            pid,
            thread: Some(thread),
            log,
            _dir: dir,
        };
        dmn.wait_ready(lb, prog)?;
        Ok(dmn)
    }

    /// Wait until the VIP's port accepts a connection from lb itself.
    fn wait_ready(&mut self, lb: &Netns, prog: &str) -> Result<()> {
        let at = SocketAddr::from((VIP, 80));
        let end = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let up = lb.run(move || {
                std::net::TcpStream::connect_timeout(&at, Duration::from_millis(200)).is_ok()
            })?;
            if up {
                return Ok(());
            }
            let gone = self.thread.as_ref().is_none_or(|t| t.is_finished());
            if gone || std::time::Instant::now() > end {
                let said = self
                    .log_lines()
                    .last()
                    .map(|(_, l)| l.clone())
                    .unwrap_or_default();
                self.stop();
                return Err(Error::lab(tx(
                    format!("{prog} did not start in the lab: {said}"),
                    format!("{prog} 没能在实验网络里启动：{said}"),
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop the daemon: SIGTERM, then SIGKILL after a second.
    pub fn stop(&mut self) {
        use nix::sys::signal::{kill, Signal};
        if let Some(pid) = self.pid.take() {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = kill(pid, Signal::SIGTERM);
            let end = std::time::Instant::now() + Duration::from_secs(1);
            while self.thread.as_ref().is_some_and(|t| !t.is_finished())
                && std::time::Instant::now() < end
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = kill(pid, Signal::SIGKILL);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Every line the daemon has written to its error stream so far.
    pub fn log_lines(&self) -> Vec<(SystemTime, String)> {
        self.log.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// When the daemon's log said it took `backend` out.
    pub fn noticed(&self, backend: &str) -> Option<SystemTime> {
        let addr = BACKENDS
            .iter()
            .find(|b| b.0 == backend)
            .map(|b| b.1.to_string())?;
        self.log_lines()
            .into_iter()
            .find(|(_, l)| match self.kind {
                Kind::Nginx => l.contains("temporarily disabled") && l.contains(&addr),
                _ => l.contains(&format!("Server app/{backend} is DOWN")),
            })
            .map(|(t, _)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_daemon_is_a_usage_error_that_says_what_to_install() {
        let e = check_program("netlab-no-such-daemon", "some-package").unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit::LOCAL, "exit 2");
        let t = e.text();
        assert!(t.en.contains("apt-get install some-package"), "{}", t.en);
        assert!(t.en.contains("--proxy netlab"), "{}", t.en);
        assert!(t.zh.contains("apt-get install some-package"), "{}", t.zh);
        assert!(check_program("sh", "dash").is_ok() || find("setpriv").is_none());
    }

    #[test]
    fn the_configurations_name_the_farm() {
        let n = nginx_conf("/run/x", Scheduler::LeastConn);
        assert!(n.contains("listen 198.51.100.80:80;"));
        assert!(n.contains("least_conn;"));
        assert!(n.contains("server 203.0.113.82:80 max_fails=1 fail_timeout=60s;"));
        assert!(!nginx_conf("/run/x", Scheduler::RoundRobin).contains("least_conn"));
        let h = haproxy_cfg(Scheduler::RoundRobin);
        assert!(h.contains("balance roundrobin"));
        assert!(h.contains("server web2 203.0.113.82:80 check inter 500ms fall 1 rise 1"));
        assert!(h.contains("use_backend static if { path_beg /static/ }"));
        assert!(haproxy_cfg(Scheduler::LeastConn).contains("balance leastconn"));
    }
}
