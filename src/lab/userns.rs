//! The namespace lab without root: a user namespace of netlab's own.
//!
//! An ordinary user may create a user namespace and be root inside it
//! (`unshare -Ur`): every network namespace netlab then makes belongs to it,
//! and inside those the user holds CAP_NET_ADMIN and CAP_NET_RAW — links, a
//! bridge, addresses, nftables rules, raw and packet sockets all work, as
//! rootless containers do. Nothing changes on the host: its own network
//! namespace still belongs to the real root, so `ping HOST` and captures on
//! the host's interfaces stay privileged.
//!
//! The kernel allows `unshare(CLONE_NEWUSER)` only in a single-threaded
//! process, so `main` calls [`enter`] first, before anything starts a thread.
//! Where the system forbids it, [`refusal`] names the setting and the fixes.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sched::{unshare, CloneFlags};

use crate::error::Error;
use crate::text::{tx, Text};

static ENTERED: AtomicBool = AtomicBool::new(false);
/// The user id outside, before [`enter`] (inside, netlab is uid 0).
static OUTER_UID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(u32::MAX);

/// This user's id as the host knows it, even inside the user namespace
/// (one this process made, or one it was started in: the delay line that
/// `lab up --delay` starts runs inside its lab's).
pub fn outer_uid() -> u32 {
    match OUTER_UID.load(Ordering::Relaxed) {
        u32::MAX => {
            let uid = nix::unistd::getuid().as_raw();
            std::fs::read_to_string("/proc/self/uid_map")
                .ok()
                .and_then(|m| map_uid(&m, uid))
                .unwrap_or(uid)
        }
        uid => uid,
    }
}

/// `uid` seen from outside, through a /proc/…/uid_map (`inside outside count` lines).
pub fn map_uid(map: &str, uid: u32) -> Option<u32> {
    map.lines().find_map(|l| {
        let v: Vec<u64> = l
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        let [inside, outside, count] = v[..] else {
            return None;
        };
        let u = u64::from(uid);
        (u >= inside && u < inside + count).then(|| u32::try_from(outside + (u - inside)).ok())?
    })
}

#[cfg(test)]
mod uid_tests {
    #[test]
    fn a_uid_is_seen_from_outside_through_the_map() {
        assert_eq!(
            super::map_uid("         0      65534          1\n", 0),
            Some(65534)
        );
        assert_eq!(super::map_uid("0 0 4294967295\n", 1000), Some(1000));
        assert_eq!(super::map_uid("0 65534 1\n", 5), None);
    }
}

/// Whether this process runs in a user namespace it made for the lab.
pub fn rootless() -> bool {
    ENTERED.load(Ordering::Relaxed)
}

/// Who owns the lab, for the opening step's title: the host's root, or a
/// user namespace of netlab's own.
pub fn owner() -> Text {
    if rootless() {
        tx("no root: a user namespace", "无需 root：用户命名空间")
    } else {
        tx("as root", "以 root 运行")
    }
}

/// The opening step's title with who owns the lab after it.
pub fn titled(title: Text) -> Text {
    let o = owner();
    tx(
        format!("{}; {}", title.en, o.en),
        format!("{}；{}", title.zh, o.zh),
    )
}

/// Become root of a new user namespace that maps only this user (and its
/// group). Call while the process has one thread.
pub fn enter() -> Result<(), Error> {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    unshare(CloneFlags::CLONE_NEWUSER).map_err(|e| refusal(Some(e)))?;
    OUTER_UID.store(uid, Ordering::Relaxed);
    // A binary given a file capability (`setcap cap_net_raw+ep`, netlab's own
    // advice for `ping HOST`) starts not dumpable: its /proc/self files then
    // belong to root, and the writes below fail with EACCES. Make it dumpable
    // again. That is safe here and only here: since the unshare above, this
    // process holds no capability in the initial user namespace or any other
    // outside its own (the kernel's cap_capable refuses every ancestor
    // namespace), so a process of the same user that may now ptrace it or
    // read its /proc files gains nothing it did not have. Nothing privileged
    // was opened before: main calls this first, before any socket.
    nix::sys::prctl::set_dumpable(true)
        .map_err(|e| Error::sys("call", "调用", "prctl(PR_SET_DUMPABLE, 1)", e))?;
    let write = |file: &str, what: String| {
        std::fs::write(format!("/proc/self/{file}"), what)
            .map_err(|e| Error::sys("write", "写入", format!("/proc/self/{file}"), e))
    };
    // A user without CAP_SETGID may map its group only after giving up setgroups.
    write("setgroups", "deny".into())?;
    write("uid_map", format!("0 {uid} 1"))?;
    write("gid_map", format!("0 {gid} 1"))?;
    // Ubuntu's AppArmor rule lets the namespace be made but strips its capabilities.
    if !crate::privilege::Privileges::probe().can_build_lab() {
        return Err(refusal(None));
    }
    ENTERED.store(true, Ordering::Relaxed);
    Ok(())
}

/// Move this process into a network namespace of its own with its loopback
/// up (after [`enter`]): nothing it does is then seen on the host's network.
/// Call while the process has one thread.
pub fn private_net() -> Result<(), Error> {
    unshare(CloneFlags::CLONE_NEWNET)
        .map_err(|e| Error::sys("make", "创建", "a network namespace", e))?;
    super::netns::ip_here("netlab's own namespace", &["link", "set", "lo", "up"])?;
    PRIVATE_NET.store(true, Ordering::Relaxed);
    Ok(())
}

static PRIVATE_NET: AtomicBool = AtomicBool::new(false);

/// Whether this process runs in a network namespace of its own ([`private_net`]).
pub fn in_private_net() -> bool {
    PRIVATE_NET.load(Ordering::Relaxed)
}

/// Read a sysctl as a number, if the kernel has it.
fn sysctl(path: &str) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The setting that forbids unprivileged user namespaces, and its fix, from
/// the values of user.max_user_namespaces, Debian's
/// kernel.unprivileged_userns_clone and Ubuntu's
/// kernel.apparmor_restrict_unprivileged_userns (None: the kernel lacks it).
pub fn setting(
    max_user_namespaces: Option<i64>,
    unprivileged_userns_clone: Option<i64>,
    apparmor_restrict: Option<i64>,
) -> Option<(&'static str, &'static str)> {
    if max_user_namespaces == Some(0) {
        Some((
            "user.max_user_namespaces = 0",
            "sudo sysctl -w user.max_user_namespaces=10000",
        ))
    } else if unprivileged_userns_clone == Some(0) {
        Some((
            "kernel.unprivileged_userns_clone = 0",
            "sudo sysctl -w kernel.unprivileged_userns_clone=1",
        ))
    } else if apparmor_restrict == Some(1) {
        Some((
            "kernel.apparmor_restrict_unprivileged_userns = 1 (AppArmor)",
            "install the AppArmor profile in contrib/apparmor/netlab (see its header), or sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
        ))
    } else {
        None
    }
}

/// Why no user namespace could be made: the setting that says no, and the fixes.
pub fn refusal(errno: Option<nix::errno::Errno>) -> Error {
    let setting = setting(
        sysctl("/proc/sys/user/max_user_namespaces"),
        sysctl("/proc/sys/kernel/unprivileged_userns_clone"),
        sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
    );
    let (what_en, what_zh): (String, String) = match (setting, errno) {
        (Some((s, _)), _) => (
            format!("unprivileged user namespaces are off on this machine ({s})"),
            format!("本机关闭了非特权用户命名空间（{s}）"),
        ),
        (None, Some(e)) => (
            format!("a user namespace could not be made ({e})"),
            format!("无法创建用户命名空间（{e}）"),
        ),
        (None, None) => (
            "the user namespace was made but holds no capabilities".into(),
            "用户命名空间建好了，但里面没有任何能力".into(),
        ),
    };
    let fix = setting.map(|(_, f)| f).unwrap_or("");
    Error::privilege(
        tx(
            format!(
                "The namespace lab without root needs a user namespace, and {what_en}; the lab"
            ),
            format!("不用 root 的命名空间实验网络需要用户命名空间，而{what_zh}；实验网络"),
        ),
        tx(
            " CAP_NET_ADMIN, CAP_NET_RAW and CAP_SYS_ADMIN",
            " CAP_NET_ADMIN、CAP_NET_RAW 和 CAP_SYS_ADMIN",
        ),
        fixes(fix),
    )
}

fn fixes(setting_fix: &str) -> Text {
    let extra_en = if setting_fix.is_empty() {
        String::new()
    } else {
        format!(", or allow user namespaces: {setting_fix}")
    };
    let extra_zh = if setting_fix.is_empty() {
        String::new()
    } else {
        format!("，或允许用户命名空间：{setting_fix}")
    };
    tx(
        format!("run with sudo{extra_en}. dns-trace and sticky-packet need none of this"),
        format!("请用 sudo 运行{extra_zh}。dns-trace 和 sticky-packet 不需要这些"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_that_says_no_is_named_with_its_fix() {
        assert_eq!(setting(Some(96365), None, None), None, "allowed here");
        let (s, fix) = setting(Some(0), Some(1), Some(0)).unwrap();
        assert!(s.starts_with("user.max_user_namespaces") && fix.contains("sysctl"));
        let (s, _) = setting(Some(100), Some(0), None).unwrap();
        assert!(s.starts_with("kernel.unprivileged_userns_clone"));
        let (s, fix) = setting(Some(100), None, Some(1)).unwrap();
        assert!(s.contains("AppArmor") && fix.contains("contrib/apparmor/netlab"));
        // The message names the privilege and the fixes, in both languages.
        let t = refusal(Some(nix::errno::Errno::EPERM)).text();
        for text in [&t.en, &t.zh] {
            assert!(
                text.contains("sudo") && text.contains("CAP_NET_ADMIN"),
                "{text}"
            );
        }
    }
}
