//! What this process may do, probed once, and what each demo does about it.
//!
//! The probe reads the effective capability set from /proc/self/status and
//! the ICMP socket range from /proc/sys/net/ipv4/ping_group_range. The
//! decisions are pure functions over that data, so they are table-tested.

/// Capability bit numbers (linux/capability.h).
const CAP_NET_ADMIN: u32 = 12;
const CAP_NET_RAW: u32 = 13;
const CAP_SYS_ADMIN: u32 = 21;

/// What the process may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Privileges {
    /// CAP_NET_ADMIN: configure links, addresses, nftables.
    pub net_admin: bool,
    /// CAP_NET_RAW: raw and packet sockets.
    pub net_raw: bool,
    /// CAP_SYS_ADMIN: create network namespaces.
    pub sys_admin: bool,
    /// Unprivileged ICMP sockets allowed for our group (ping_group_range).
    pub icmp_dgram: bool,
}

impl Privileges {
    /// Probe the running process.
    pub fn probe() -> Privileges {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let range =
            std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default();
        let gid = nix::unistd::getegid().as_raw();
        Self::from_proc(&status, &range, gid)
    }

    /// Decide from the text of /proc/self/status and ping_group_range.
    pub fn from_proc(status: &str, ping_range: &str, gid: u32) -> Privileges {
        let caps = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
            .unwrap_or(0);
        let has = |bit: u32| caps & (1u64 << bit) != 0;
        let mut r = ping_range
            .split_whitespace()
            .filter_map(|w| w.parse::<u64>().ok());
        let icmp_dgram = match (r.next(), r.next()) {
            (Some(lo), Some(hi)) => lo <= gid as u64 && gid as u64 <= hi,
            _ => false,
        };
        Privileges {
            net_admin: has(CAP_NET_ADMIN),
            net_raw: has(CAP_NET_RAW),
            sys_admin: has(CAP_SYS_ADMIN),
            icmp_dgram,
        }
    }

    /// Can the namespace lab be built (namespaces, links, captures)?
    pub fn can_build_lab(&self) -> bool {
        self.net_admin && self.sys_admin && self.net_raw
    }

    /// Which ICMP socket ping should open, if any.
    pub fn ping_socket(&self) -> Option<PingSocket> {
        if self.net_raw {
            Some(PingSocket::Raw)
        } else if self.icmp_dgram {
            Some(PingSocket::Dgram)
        } else {
            None
        }
    }
}

/// The kind of ICMP socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PingSocket {
    /// SOCK_RAW: needs CAP_NET_RAW; we see the whole IP packet.
    Raw,
    /// SOCK_DGRAM ICMP ("ping socket"): allowed by net.ipv4.ping_group_range.
    Dgram,
}

/// The error when the namespace lab cannot be built for want of privileges.
pub fn lab_privilege() -> crate::error::Error {
    crate::error::Error::privilege(
        crate::text::tx("the namespace lab", "命名空间实验网络"),
        crate::text::tx(
            "CAP_NET_ADMIN, CAP_NET_RAW and CAP_SYS_ADMIN",
            " CAP_NET_ADMIN、CAP_NET_RAW 和 CAP_SYS_ADMIN",
        ),
        crate::text::tx("run with sudo", "请用 sudo 运行"),
    )
}

/// The error when no ICMP socket can be opened: the three fixes.
pub fn ping_privilege() -> crate::error::Error {
    crate::error::Error::privilege(crate::text::tx("ping", "ping"), crate::text::tx("an ICMP socket", " ICMP 套接字"), crate::text::tx(
            "run with sudo, or `sudo setcap cap_net_raw+ep $(which netlab)`, or allow unprivileged ICMP for your group: `sudo sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"`. (The lab's ping needs none of this; a host on the real network does, and a user namespace cannot grant it there.)",
            "请用 sudo 运行，或 `sudo setcap cap_net_raw+ep $(which netlab)`，或允许你的用户组使用非特权 ICMP：`sudo sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"`。（实验网络里的 ping 不需要这些；ping 真实网络上的主机才需要，而用户命名空间无法在主机上授予它。）",
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(capeff: &str) -> String {
        format!("Name:\tnetlab\nCapInh:\t0000000000000000\nCapEff:\t{capeff}\n")
    }

    #[test]
    fn decisions_from_proc_text() {
        // (CapEff, ping_group_range, gid) -> (lab, ping socket)
        let table = [
            ("000001ffffffffff", "1\t0", 0, true, Some(PingSocket::Raw)),
            ("0000000000000000", "1\t0", 1000, false, None),
            (
                "0000000000000000",
                "0\t2147483647",
                1000,
                false,
                Some(PingSocket::Dgram),
            ),
            (
                "0000000000002000",
                "1\t0",
                1000,
                false,
                Some(PingSocket::Raw),
            ),
            ("0000000000003000", "1\t0", 0, false, Some(PingSocket::Raw)),
            ("0000000000203000", "1\t0", 0, true, Some(PingSocket::Raw)),
            ("garbage", "", 0, false, None),
        ];
        for (cap, range, gid, lab, sock) in table {
            let p = Privileges::from_proc(&status(cap), range, gid);
            assert_eq!(p.can_build_lab(), lab, "{cap}");
            assert_eq!(p.ping_socket(), sock, "{cap} {range} {gid}");
        }
    }

    #[test]
    fn hints_name_the_fixes() {
        for lang in [crate::text::Lang::En, crate::text::Lang::Zh] {
            let t = ping_privilege().text();
            let t = t.get(lang);
            assert!(
                t.contains("sudo") && t.contains("setcap") && t.contains("ping_group_range"),
                "{t}"
            );
            assert!(lab_privilege().text().get(lang).contains("CAP_NET_ADMIN"));
        }
    }
}
