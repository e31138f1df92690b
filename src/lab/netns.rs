//! Network namespaces: the hosts of the lab, and running code inside them.
//!
//! A [`Netns`] is held by an open file descriptor. Anonymous ones (made with
//! `unshare(CLONE_NEWNET)` in a throwaway thread) exist only while that fd is
//! open, so the kernel removes them, with every link, bridge and nft table in
//! them, when netlab exits for any reason, SIGKILL included. Named ones
//! (`ip netns add`, for `netlab lab up`) persist until `lab down`.
//!
//! Code runs inside a namespace on a dedicated thread that joins it with
//! `setns`; processes spawned from that thread (ip, nft) inherit it. The
//! calling thread never changes namespace (see LAB-NOTES.md).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nix::sched::{setns, unshare, CloneFlags};

use crate::error::{Error, Result};

/// One network namespace, kept alive by an open fd.
#[derive(Debug)]
pub struct Netns {
    /// Host name in the lab (h1, r1, ...).
    pub name: String,
    fd: File,
    /// The bind-mount path of a named namespace.
    named: Option<PathBuf>,
}

/// Run `ip ARGS` in the calling thread's namespace, which `host` names in an
/// error; the error carries ip's own message.
pub fn ip_here(host: &str, args: &[&str]) -> Result<String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| Error::sys("run", "运行", "ip (iproute2)", e))?;
    if !out.status.success() {
        return Err(Error::Command {
            host: host.to_string(),
            command: format!("ip {}", args.join(" ")),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Netns {
    /// A new namespace that disappears when this value (and anything running in it) is gone.
    pub fn anonymous(name: &str) -> Result<Netns> {
        let fd = std::thread::scope(|s| {
            s.spawn(|| -> Result<File> {
                unshare(CloneFlags::CLONE_NEWNET).map_err(|e| match e {
                    nix::errno::Errno::EPERM => crate::privilege::lab_privilege(),
                    e => Error::sys(
                        "create",
                        "创建",
                        format!("a network namespace for {name}"),
                        e,
                    ),
                })?;
                File::open("/proc/thread-self/ns/net")
                    .map_err(|e| Error::sys("open", "打开", "/proc/thread-self/ns/net", e))
            })
            .join()
            .map_err(|_| Error::Internal("the namespace thread panicked".into()))?
        })?;
        Ok(Netns {
            name: name.to_string(),
            fd,
            named: None,
        })
    }

    /// Open an existing named namespace (`/run/netns/NAME`).
    pub fn open_named(name: &str, path: &Path) -> Result<Netns> {
        let fd = File::open(path).map_err(|e| Error::sys("open", "打开", path.display(), e))?;
        Ok(Netns {
            name: name.to_string(),
            fd,
            named: Some(path.to_path_buf()),
        })
    }

    /// Give this namespace a name other programs see (`ip netns`): bind-mount
    /// it on `path`, a new file (never one already there, never through a
    /// link). It then outlives this process, until unmounted.
    pub fn publish(&mut self, path: &Path) -> Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::sys("create", "创建", dir.display(), e))?;
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o444)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| Error::sys("create", "创建", path.display(), e))?;
        let src = format!("/proc/self/fd/{}", self.fd.as_raw_fd());
        if let Err(e) = nix::mount::mount(
            Some(src.as_str()),
            path,
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        ) {
            let _ = std::fs::remove_file(path);
            return Err(Error::sys(
                "bind-mount a namespace on",
                "把命名空间绑定挂载到",
                path.display(),
                e,
            ));
        }
        self.named = Some(path.to_path_buf());
        Ok(())
    }

    /// Whether `path` holds a namespace (a bind-mount of one), not a plain file.
    pub fn is_namespace(path: &Path) -> bool {
        // NSFS_MAGIC: the file system of /proc/*/ns/* and their bind-mounts.
        const NSFS_MAGIC: i64 = 0x6e73_6673;
        // f_type's integer type differs between platforms.
        #[allow(clippy::unnecessary_cast)]
        nix::sys::statfs::statfs(path).is_ok_and(|s| s.filesystem_type().0 as i64 == NSFS_MAGIC)
    }

    /// A path other programs (ip, nsenter) can use to reach this namespace.
    pub fn path(&self) -> String {
        match &self.named {
            Some(p) => p.display().to_string(),
            None => format!("/proc/{}/fd/{}", std::process::id(), self.fd.as_raw_fd()),
        }
    }

    /// Run `f` on a thread inside this namespace.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        std::thread::scope(|s| {
            s.spawn(|| -> Result<T> {
                setns(&self.fd, CloneFlags::CLONE_NEWNET)
                    .map_err(|e| Error::sys("enter namespace", "进入命名空间", &self.name, e))?;
                Ok(f())
            })
            .join()
            .map_err(|_| Error::Internal(format!("a thread in namespace {} panicked", self.name)))?
        })
    }

    /// Run `f` on a thread inside this namespace that also sees the
    /// namespace's own /sys, as `ip netns exec` arranges: for a program
    /// started there (`lab exec`), which reads `/sys/class/net` for the links
    /// it has. Without this, /sys shows whichever network namespace mounted
    /// it: the host's, with the host's interfaces and MAC addresses.
    ///
    /// The thread takes a mount namespace of its own (a thread may, unlike
    /// for setns: unshare copies its file-system context), makes every mount
    /// a slave of the host's, so nothing it mounts reaches the host, and
    /// mounts a fresh sysfs on /sys. A sysfs shows the network namespace of
    /// whoever mounts it. The new one is mounted over the old rather than
    /// after unmounting it: in a user namespace (the lab without root) the
    /// host's /sys is locked to the mounts beneath it and cannot be unmounted,
    /// and the kernel allows a new sysfs there only while a whole one is
    /// visible; covered, the old one is just as hidden. The mount flags the
    /// host's /sys has (nosuid, read-only, …) are kept, as a user namespace
    /// must. Processes spawned from the thread inherit the mount namespace;
    /// it disappears with the last of them.
    pub fn run_with_own_sys<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        self.run(|| own_sys(&self.name).map(|()| f()))?
    }

    /// Start `f` on a background thread inside this namespace.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<std::thread::JoinHandle<Result<T>>> {
        let fd = self.fd.try_clone().map_err(|e| {
            Error::sys("duplicate the descriptor of", "复制描述符：", &self.name, e)
        })?;
        let name = self.name.clone();
        Ok(std::thread::spawn(move || -> Result<T> {
            setns(&fd, CloneFlags::CLONE_NEWNET)
                .map_err(|e| Error::sys("enter namespace", "进入命名空间", &name, e))?;
            drop(fd);
            Ok(f())
        }))
    }

    /// Run a command inside this namespace and wait for it.
    pub fn command(&self, program: &str, args: &[&str]) -> Result<Output> {
        let out = self.run(|| Command::new(program).args(args).output())?;
        out.map_err(|e| Error::sys("run", "运行", program, e))
    }

    /// Run `ip ARGS` inside this namespace; an error carries ip's message.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        self.run(|| ip_here(&self.name, args))?
    }

    /// Make a new lab host quiet and reachable from itself: IPv6 off (no
    /// router solicitations or DAD in the captures) and its loopback up.
    pub fn quiet(&self) -> Result<()> {
        self.sysctl("net.ipv6.conf.all.disable_ipv6", "1")?;
        self.sysctl("net.ipv6.conf.default.disable_ipv6", "1")?;
        self.ip(&["link", "set", "lo", "up"]).map(drop)
    }

    /// Write a sysctl of this namespace (`net.ipv4.ip_forward` = `/proc/sys/net/ipv4/ip_forward`).
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        self.run(|| std::fs::write(&path, value))?
            .map_err(|e| Error::sys("set", "设置", format!("{key}={value} in {}", self.name), e))
    }
}

/// Give the calling thread a mount namespace whose /sys is a sysfs of its
/// network namespace (see [`Netns::run_with_own_sys`]); `host` names it in
/// an error.
fn own_sys(host: &str) -> Result<()> {
    use nix::mount::{mount, MsFlags};
    use nix::sys::statvfs::FsFlags;
    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| {
        Error::sys(
            "make",
            "创建",
            format!("a mount namespace for {host} (to show its own /sys)"),
            e,
        )
    })?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(|e| Error::sys("make", "设置", "/ a slave mount (rslave)", e))?;
    let old = nix::sys::statvfs::statvfs("/sys").map(|v| v.flags());
    let mut flags = MsFlags::empty();
    for (st, ms) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if old.is_ok_and(|f| f.contains(st)) {
            flags |= ms;
        }
    }
    mount(Some("sysfs"), "/sys", Some("sysfs"), flags, None::<&str>).map_err(|e| {
        Error::sys(
            "mount",
            "挂载",
            format!("a sysfs of {host}'s network namespace on /sys"),
            e,
        )
    })
}
