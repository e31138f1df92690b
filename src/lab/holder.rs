//! The class-session lab without root (`lab up` as an ordinary user).
//!
//! A root lab lives in named namespaces under /run/netns. An ordinary user
//! cannot write there, so its lab is kept alive by a small holder process
//! (`netlab lab hold`, started by `lab up`): it makes a user namespace, builds
//! the lab in anonymous network namespaces it holds open, writes where to find
//! them into a 0700 directory of this user's (under `$XDG_RUNTIME_DIR`, else
//! the temporary folder; see [`find`]), and waits for `lab down`. `lab up`
//! and `lab down` hold that directory's lock, so one user has one lab and
//! one holder. `lab status`, `exec` and
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

/// The name of this user's directory for the rootless lab in `base`:
/// `netlab-lab-UID`, or, if another user holds that name (planted to block
/// or watch this user's lab), `netlab-lab-UID-XXXXXX` made by mkdtemp and
/// found again by its owner, which no one else can fake.
fn prefix() -> String {
    // Named by the user's id outside (inside the holder's namespace it is 0).
    format!("netlab-lab-{}", super::userns::outer_uid())
}

/// Whether `d` is this process's user's own private directory (not a link).
fn ours(d: &Path) -> bool {
    let uid = nix::unistd::getuid().as_raw();
    std::fs::symlink_metadata(d)
        .is_ok_and(|m| m.is_dir() && !m.file_type().is_symlink() && m.uid() == uid)
}

/// This user's directory for the rootless lab, if there is one: never made here.
pub fn find() -> Option<PathBuf> {
    let base = crate::private::base();
    let fixed = base.join(prefix());
    if ours(&fixed) {
        return Some(fixed);
    }
    // The fixed name is taken by someone else: the private one, found by owner.
    let mut mine: Vec<PathBuf> = std::fs::read_dir(&base)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix(&prefix()))
                .is_some_and(|rest| rest.starts_with('-'))
        })
        .map(|e| e.path())
        .filter(|p| ours(p))
        .collect();
    // The oldest name first, so every process picks the same one.
    mine.sort();
    mine.into_iter().next()
}

/// This user's directory for the rootless lab: found, or made 0700. A name
/// planted by another user is never used, and says so once on stderr.
pub fn dir() -> Result<PathBuf> {
    let d = match find() {
        Some(d) => d,
        None => make()?,
    };
    let m =
        std::fs::symlink_metadata(&d).map_err(|e| Error::sys("read", "读取", d.display(), e))?;
    if m.mode() & 0o077 != 0 {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::sys("protect", "保护", d.display(), e))?;
    }
    Ok(d)
}

fn make() -> Result<PathBuf> {
    let base = crate::private::base();
    let fixed = base.join(prefix());
    match std::fs::DirBuilder::new().mode(0o700).create(&fixed) {
        Ok(()) => return Ok(fixed),
        // Made just now by a second `lab up` of this user's: the same directory.
        Err(_) if ours(&fixed) => return Ok(fixed),
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            return Err(Error::sys("create", "创建", fixed.display(), e))
        }
        Err(_) => {}
    }
    // Someone else's file or directory has this user's name.
    let owner = std::fs::symlink_metadata(&fixed)
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    let warning = tx(
        format!(
            "{} belongs to another user (uid {owner}), so netlab keeps your lab in a private directory beside it instead; to stop seeing this, set XDG_RUNTIME_DIR to a private directory of yours (most desktop logins do), or ask an administrator to remove {}",
            fixed.display(),
            fixed.display()
        ),
        format!(
            "{} 属于另一个用户（uid {owner}），netlab 改把你的实验网络放在旁边一个私有目录里；若不想再看到这条提示，请把 XDG_RUNTIME_DIR 设为你自己的私有目录（大多数桌面登录都会设置），或请管理员删除 {}",
            fixed.display(),
            fixed.display()
        ),
    );
    eprintln!(
        "netlab: warning: {}",
        warning.get(crate::text::Lang::from_env())
    );
    let made = tempfile::Builder::new()
        .prefix(&format!("{}-", prefix()))
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(&base)
        .map_err(|e| Error::sys("create", "创建", base.display(), e))?
        .keep();
    // Two `lab up`s at once may each have made one: both use the oldest.
    let first = find().unwrap_or_else(|| made.clone());
    if first != made {
        let _ = std::fs::remove_dir(&made);
    }
    Ok(first)
}

fn state_path() -> Result<PathBuf> {
    Ok(dir()?.join("lab.json"))
}

/// This user's rootless-lab lock: `lab up` and `lab down` hold it, so that
/// several at once make one lab with one holder.
pub fn lock() -> Result<nix::fcntl::Flock<std::fs::File>> {
    lock_dir(&dir()?)
}

/// [`lock`], if this user has a lab directory at all (`lab down` makes none).
pub fn lock_if_any() -> Result<Option<nix::fcntl::Flock<std::fs::File>>> {
    find().map(|d| lock_dir(&d)).transpose()
}

fn lock_dir(d: &Path) -> Result<nix::fcntl::Flock<std::fs::File>> {
    let f = std::fs::File::open(d).map_err(|e| Error::sys("open", "打开", d.display(), e))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| Error::sys("lock", "锁定", d.display(), e))
}

/// The rootless lab of this user, if its holder is alive.
pub fn current() -> Option<State> {
    let text = std::fs::read_to_string(find()?.join("lab.json")).ok()?;
    let s: State = serde_json::from_str(&text).ok()?;
    holders().contains(&s.pid).then_some(s)
}

/// Every holder process of this user's (`netlab lab hold`), the live lab's
/// and any a killed `lab up` left behind.
pub fn holders() -> Vec<u32> {
    let me = nix::unistd::getuid().as_raw();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(m) = std::fs::metadata(format!("/proc/{pid}")) else {
                return false;
            };
            let Ok(c) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = c.split(|b| *b == 0).filter(|a| !a.is_empty()).collect();
            m.uid() == me && args.len() == 3 && args[1..] == [&b"lab"[..], &b"hold"[..]]
        })
        .collect()
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
    // The lab's record goes with it, unless a newer holder wrote its own.
    let still_ours = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<State>(&t).ok())
        .is_some_and(|s| s.pid == pid);
    if still_ours {
        let _ = std::fs::remove_file(&path);
    }
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

/// End every holder of this user's (the lab's, and any a killed `lab up`
/// left behind): their namespaces go with them, and the delay lines they
/// kept end on their own. Returns the holders ended. The directory stays
/// (empty): a `lab up` waiting on its lock must find the same one.
pub fn stop_all() -> Vec<u32> {
    let held = holders();
    // Their delay lines too (`netlab lab line HOST MS --holder PID`), which
    // would otherwise notice only on their next look.
    let lines: Vec<u32> = held.iter().flat_map(|&h| lines_of(h)).collect();
    let ended: Vec<u32> = held.iter().chain(&lines).copied().collect();
    for &p in &ended {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    let end = Instant::now() + Duration::from_secs(5);
    let alive = |p: &u32| Path::new(&format!("/proc/{p}")).exists();
    while ended.iter().any(alive) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    for p in ended.iter().filter(|p| alive(p)) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*p as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    if let Some(d) = find() {
        let _ = std::fs::remove_file(d.join("lab.json"));
    }
    held
}

/// The delay-line processes the holder `holder` keeps.
fn lines_of(holder: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let want = holder.to_string();
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(c) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = c.split(|b| *b == 0).collect();
            args.windows(2).any(|w| w == [&b"lab"[..], &b"line"[..]])
                && args
                    .windows(2)
                    .any(|w| w[0] == b"--holder" && w[1] == want.as_bytes())
        })
        .collect()
}
