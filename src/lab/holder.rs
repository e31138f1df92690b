//! The class-session lab without root (`lab up` as an ordinary user).
//!
//! A root lab lives in named namespaces under /run/netns. An ordinary user
//! cannot write there, so its lab is kept alive by a small holder process
//! (`netlab lab hold`, started by `lab up`): it makes a user namespace, builds
//! the lab in anonymous network namespaces it holds open, writes where to find
//! them into a 0700 directory of this user's (under `$XDG_RUNTIME_DIR`, else
//! the temporary folder), and waits for `lab down`. `lab status`, `exec` and
//! `down` join the holder's user namespace (they own it: same user) and then
//! its hosts' network namespaces through `/proc/PID/fd/N`. Every user gets a
//! lab of their own; a root lab can exist beside them.

use std::os::unix::fs::{
    DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _,
};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::netns::Netns;
use super::topology::NetLab;
use crate::error::{Error, Result};
use crate::text::tx;

/// Where a rootless lab is: the holder and the path of each host's namespace.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    /// The holder's process id.
    pub pid: u32,
    /// (host, `/proc/PID/fd/N`) in plan order.
    pub hosts: Vec<(String, String)>,
}

/// This user's directory for the rootless lab (made 0700 if missing; refused
/// if it is a link or someone else's).
pub fn dir() -> Result<PathBuf> {
    // Named by the user's id outside (inside the holder's namespace it is 0);
    // owned, as this process sees it, by this process's own uid.
    let uid = nix::unistd::getuid().as_raw();
    let base = crate::private::base();
    let d = base.join(format!("netlab-lab-{}", super::userns::outer_uid()));
    match std::fs::symlink_metadata(&d) {
        Ok(m) if m.is_dir() && m.uid() == uid && !m.file_type().is_symlink() => {
            if m.mode() & 0o077 != 0 {
                std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| Error::sys("protect", "保护", d.display(), e))?;
            }
        }
        Ok(_) => {
            return Err(Error::usage(tx(
                format!(
                    "{} is not this user's own directory: netlab will not use it",
                    d.display()
                ),
                format!("{} 不是本用户自己的目录：netlab 不会使用它", d.display()),
            )))
        }
        Err(_) => {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&d)
                .map_err(|e| Error::sys("create", "创建", d.display(), e))?;
        }
    }
    Ok(d)
}

fn state_path() -> Result<PathBuf> {
    Ok(dir()?.join("lab.json"))
}

/// The rootless lab of this user, if its holder is alive.
pub fn current() -> Option<State> {
    let text = std::fs::read_to_string(state_path().ok()?).ok()?;
    let s: State = serde_json::from_str(&text).ok()?;
    let alive = std::fs::read_to_string(format!("/proc/{}/cmdline", s.pid))
        .is_ok_and(|c| c.contains("netlab") && c.contains("hold"));
    alive.then_some(s)
}

/// The lab's hosts as namespaces, once this process has joined the holder's
/// user namespace ([`join`]).
pub fn open(s: &State) -> Result<NetLab> {
    let hosts = s
        .hosts
        .iter()
        .map(|(h, p)| Netns::open_named(h, Path::new(p)))
        .collect::<Result<Vec<_>>>()?;
    Ok(NetLab { hosts, named: true })
}

/// Join the holder's user namespace. Must run while this process has one thread.
pub fn join(s: &State) -> Result<()> {
    let threads = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse::<u32>().ok())
        })
        .unwrap_or(1);
    if threads != 1 {
        return Err(Error::Internal(
            "joining a user namespace needs a single-threaded process".into(),
        ));
    }
    let path = format!("/proc/{}/ns/user", s.pid);
    let f = std::fs::File::open(&path).map_err(|e| Error::sys("open", "打开", &path, e))?;
    nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWUSER)
        .map_err(|e| Error::sys("join", "加入", &path, e))
}

/// `lab hold`: build the lab, say where it is, and keep it until SIGTERM.
pub fn hold() -> Result<i32> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| Error::sys("catch", "捕获", format!("signal {sig}"), e))?;
    }
    let lab = NetLab::build()?;
    let pid = std::process::id();
    let state = State {
        pid,
        hosts: lab
            .hosts
            .iter()
            .map(|h| (h.name.clone(), h.path()))
            .collect(),
    };
    let path = state_path()?;
    // Written beside, then renamed: a reader sees the whole file or none.
    let tmp = path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(|e| Error::sys("create", "创建", tmp.display(), e))?;
    std::io::Write::write_all(
        &mut f,
        serde_json::to_string(&state).unwrap_or_default().as_bytes(),
    )
    .map_err(|e| Error::sys("write", "写入", tmp.display(), e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::sys("rename", "重命名", path.display(), e))?;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::remove_file(&path);
    drop(lab);
    Ok(crate::error::exit::OK)
}

/// `lab up` without root: start a holder and wait until its lab is there.
pub fn start() -> Result<State> {
    use std::os::unix::process::CommandExt as _;
    let exe = std::env::current_exe()
        .map_err(|e| Error::sys("find", "找到", "netlab's own program", e))?;
    let mut child = std::process::Command::new(exe)
        .args(["lab", "hold"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        // Its own process group: the terminal's Ctrl-C is not for it.
        .process_group(0)
        .spawn()
        .map_err(|e| Error::sys("start", "启动", "the lab's holder process", e))?;
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = current().filter(|s| s.pid == child.id()) {
            // The holder lives on; its stderr is not read again.
            drop(child.stderr.take());
            return Ok(s);
        }
        if let Ok(Some(_)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            let msg = err
                .lines()
                .last()
                .unwrap_or("")
                .trim_start_matches("netlab: error: ")
                .to_string();
            return Err(Error::lab(tx(
                format!("the holder process stopped: {msg}"),
                format!("保持进程退出了：{msg}"),
            )));
        }
        if Instant::now() > end {
            let _ = child.kill();
            return Err(Error::lab(tx(
                "the holder process did not report its lab within 20 s",
                "保持进程在 20 秒内没有报告它的实验网络",
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `lab down` without root: end the holder (its namespaces go with it).
pub fn stop(s: &State) -> Result<()> {
    let pid = nix::unistd::Pid::from_raw(s.pid as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let end = Instant::now() + Duration::from_secs(5);
    while Path::new(&format!("/proc/{}", s.pid)).exists() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    if Path::new(&format!("/proc/{}", s.pid)).exists() {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    }
    if let Ok(p) = state_path() {
        let _ = std::fs::remove_file(&p);
        // The directory goes too when nothing else is in it.
        if let Some(d) = p.parent() {
            let _ = std::fs::remove_dir(d);
        }
    }
    Ok(())
}
