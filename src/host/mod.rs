//! What this host says about names, services and neighbours: its hosts file,
//! nsswitch.conf, resolv.conf, /etc/services and the kernel's neighbour
//! (ARP) table. Readers and parsers only; the demos tell the story.

pub mod arp;
pub mod neigh;

use std::net::IpAddr;

use serde::Serialize;

/// One line of a hosts file that names the host looked up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct HostsLine {
    /// Line number, from 1.
    pub line: usize,
    /// The line as written, trimmed.
    pub text: String,
    /// The address it gives.
    pub address: IpAddr,
}

/// Lines of hosts-file text that name `host` (case-insensitive, RFC 4343).
pub fn hosts_matches(text: &str, host: &str) -> Vec<HostsLine> {
    let want = host.trim_end_matches('.').to_ascii_lowercase();
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let content = line.split('#').next().unwrap_or("");
            let mut words = content.split_whitespace();
            let address: IpAddr = words.next()?.parse().ok()?;
            words
                .any(|w| w.trim_end_matches('.').eq_ignore_ascii_case(&want))
                .then(|| HostsLine {
                    line: i + 1,
                    text: line.trim().to_string(),
                    address,
                })
        })
        .collect()
}

/// The `hosts:` line of /etc/nsswitch.conf: the order of name sources.
pub fn nsswitch_hosts() -> Option<String> {
    std::fs::read_to_string("/etc/nsswitch.conf")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.trim_start().starts_with("hosts:"))
                .map(|l| l.trim().to_string())
        })
}

/// The sources of an nsswitch.conf `hosts:` line, in the order they are
/// asked, without the actions in brackets:
/// `hosts: files mdns4_minimal [NOTFOUND=return] dns` gives
/// `files`, `mdns4_minimal`, `dns`.
pub fn nsswitch_sources(line: &str) -> Vec<String> {
    let rest = line.trim_start().strip_prefix("hosts:").unwrap_or(line);
    let rest = rest.split('#').next().unwrap_or("");
    let mut out = Vec::new();
    let mut in_action = false;
    for word in rest.split_whitespace() {
        if word.starts_with('[') {
            in_action = true;
        }
        if !in_action {
            out.push(word.to_ascii_lowercase());
        }
        if word.ends_with(']') {
            in_action = false;
        }
    }
    out
}

/// Whether the hosts file is read before DNS, so that a line naming the host
/// is the answer a program gets (glibc stops at the first source that
/// answers). Without a `hosts:` line glibc uses `dns [!UNAVAIL=return] files`:
/// DNS first.
pub fn files_before_dns(hosts_line: Option<&str>) -> bool {
    let Some(line) = hosts_line else {
        return false;
    };
    let sources = nsswitch_sources(line);
    let at = |s: &str| sources.iter().position(|x| x == s);
    match (at("files"), at("dns")) {
        (Some(f), Some(d)) => f < d,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Who caches host lookups on this machine, outside the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostCache {
    /// systemd-resolved, a caching stub at 127.0.0.53 (resolv.conf points there).
    SystemdResolved,
    /// nscd, the name service cache daemon.
    Nscd,
    /// Nothing: glibc's stub keeps no cache of its own.
    None,
}

/// Who caches lookups here: resolv.conf as hickory's system_conf reads it,
/// and nscd's socket.
pub fn host_cache() -> HostCache {
    let resolved = IpAddr::from([127, 0, 0, 53]);
    let servers = hickory_resolver::system_conf::read_system_conf()
        .map(|(c, _)| c.name_servers().iter().map(|s| s.ip).collect::<Vec<_>>())
        .unwrap_or_default();
    if servers.contains(&resolved) {
        HostCache::SystemdResolved
    } else if std::path::Path::new("/var/run/nscd/socket").exists() {
        HostCache::Nscd
    } else {
        HostCache::None
    }
}

/// The first nameserver of /etc/resolv.conf, as hickory's system_conf reads it.
pub fn first_nameserver() -> Option<IpAddr> {
    hickory_resolver::system_conf::read_system_conf()
        .ok()
        .and_then(|(c, _)| c.name_servers().first().map(|s| s.ip))
}

/// One entry of /etc/services: a service name, its port and transport.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Service {
    pub name: String,
    pub port: u16,
    pub transport: String,
}

/// Parse /etc/services-style text.
pub fn parse_services(text: &str) -> Vec<Service> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split('#').next()?.split_whitespace();
            let name = w.next()?;
            let (port, proto) = w.next()?.split_once('/')?;
            Some(Service {
                name: name.to_string(),
                port: port.parse().ok()?,
                transport: proto.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lines_match_names_not_comments() {
        let text = "127.0.0.1 localhost\n# 203.0.113.5 www.baidu.com\n203.0.113.9 intranet www.baidu.com # pinned\nbogus www.baidu.com\n";
        let m = hosts_matches(text, "WWW.baidu.com.");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].line, 3);
        assert_eq!(m[0].address, "203.0.113.9".parse::<IpAddr>().unwrap());
        assert!(hosts_matches(text, "nothere.example").is_empty());
    }

    #[test]
    fn nsswitch_order_decides_whether_the_hosts_file_answers_first() {
        for (line, files_first) in [
            (
                Some("hosts:          files mdns4_minimal [NOTFOUND=return] dns"),
                true,
            ),
            (Some("hosts: files dns"), true),
            (Some("hosts: files [NOTFOUND=return] dns myhostname"), true),
            (Some("hosts: files"), true),
            (Some("hosts: dns files"), false),
            (Some("hosts: dns [!UNAVAIL=return] files"), false),
            (Some("hosts: resolve [!UNAVAIL=return] dns files"), false),
            (Some("hosts: dns # files"), false),
            (Some("hosts: myhostname [files] dns"), false),
            // glibc's default without a hosts line: dns [!UNAVAIL=return] files
            (None, false),
        ] {
            assert_eq!(files_before_dns(line), files_first, "{line:?}");
        }
        assert_eq!(
            nsswitch_sources("hosts: files mdns4_minimal [NOTFOUND=return] dns"),
            ["files", "mdns4_minimal", "dns"]
        );
    }

    #[test]
    fn services_lines() {
        let t = "# c\nftp\t\t21/tcp\ndomain\t\t53/tcp\t\t\t# DNS\ndomain\t\t53/udp\nbad line\n";
        let v = parse_services(t);
        assert_eq!(v.len(), 3);
        assert_eq!(
            v[1],
            Service {
                name: "domain".into(),
                port: 53,
                transport: "tcp".into()
            }
        );
    }
}
