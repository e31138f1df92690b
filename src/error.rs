//! Errors and exit codes shared by every demo.
//!
//! Owns the one error type of the library and the mapping from error to exit
//! code. It does not print: `main.rs` and the renderers decide how an error is
//! shown. "The network said no" (NXDOMAIN, no reply) is not an error here: a
//! demo reports it in its summary and returns [`exit::NETWORK_NO`].

use std::path::PathBuf;

use crate::text::Text;

/// Exit codes, documented in README.md and shared by all demos.
pub mod exit {
    /// The demo ran and the network gave the answer.
    pub const OK: i32 = 0;
    /// The demo ran but the network said no: NXDOMAIN, NODATA, no reply,
    /// every server failed.
    pub const NETWORK_NO: i32 = 1;
    /// Usage or local error: bad input, missing privilege, the lab cannot start.
    pub const LOCAL: i32 = 2;
}

/// Everything that stops a demo before the network could answer. Each
/// variant names what failed (the operation) and on what (a path, an address,
/// an interface, a host), with the cause; [`Error::text`] says it in both
/// languages, [`Error::cause`] gives a stable name for `--json`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user asked for something netlab cannot do as asked.
    #[error("{}", .0.en)]
    Usage(Text),
    /// A domain name that DNS cannot carry (quoted short, see [`quote`]).
    #[error("invalid name {}: {}", quote(.name).en, .reason.en)]
    BadName { name: String, reason: Text },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file could not be written (a capture, a page).
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Writing the output failed (a closed pipe, a full disk).
    #[error("cannot write to standard output: {0}")]
    Output(std::io::Error),
    /// A zone file of the lab is not valid.
    #[error("zone file {file}: {}", message.en)]
    Zone { file: String, message: Text },
    /// A privilege the operation needs is missing: what needs it, and the fixes.
    #[error("{} needs {}: {}", .0.what.en, .0.needs.en, .0.fixes.en)]
    Privilege(Box<Missing>),
    /// A socket could not be bound to a local address.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    /// A packet could not be sent.
    #[error("cannot send to {to}: {source}")]
    Send { to: String, source: std::io::Error },
    /// Another socket operation failed.
    #[error("{op} {addr}: {source}")]
    Socket {
        op: &'static str,
        addr: String,
        source: std::io::Error,
    },
    /// Frames could not be captured on a link.
    #[error("cannot capture on {link}: {source}")]
    Capture {
        link: String,
        source: std::io::Error,
    },
    /// A program netlab runs to build the lab (ip, nft) failed.
    #[error("{host}: `{command}` failed: {detail}")]
    Command {
        host: String,
        command: String,
        detail: String,
    },
    /// An operating-system call failed: what netlab was doing, on what.
    #[error("cannot {} {object}: {source}", op.en)]
    System {
        op: Text,
        object: String,
        source: std::io::Error,
    },
    /// Something that cannot happen did (a thread panicked): a bug to report.
    #[error("internal error (please report it): {0}")]
    Internal(String),
    /// The built-in lab could not start, for a reason none of the above names.
    #[error("the lab cannot start: {}", .0.en)]
    Lab(Text),
}

/// A missing privilege: what needs it, what it needs, and the fixes.
#[derive(Debug)]
pub struct Missing {
    pub what: Text,
    pub needs: Text,
    pub fixes: Text,
}

impl Error {
    /// A missing privilege.
    pub fn privilege(what: Text, needs: Text, fixes: Text) -> Self {
        Error::Privilege(Box::new(Missing { what, needs, fixes }))
    }

    /// The exit code this error ends the process with (README: 0 answer,
    /// 1 the network said no, 2 usage or local error).
    pub fn exit_code(&self) -> i32 {
        use std::io::ErrorKind as K;
        match self {
            // The network refused a packet: no route, host or network unreachable.
            Error::Send { source, .. }
                if matches!(source.kind(), K::NetworkUnreachable | K::HostUnreachable) =>
            {
                exit::NETWORK_NO
            }
            Error::Usage(_)
            | Error::BadName { .. }
            | Error::Read { .. }
            | Error::Write { .. }
            | Error::Output(_)
            | Error::Zone { .. }
            | Error::Privilege(_)
            | Error::Bind { .. }
            | Error::Send { .. }
            | Error::Socket { .. }
            | Error::Capture { .. }
            | Error::Command { .. }
            | Error::System { .. }
            | Error::Internal(_)
            | Error::Lab(_) => exit::LOCAL,
        }
    }

    /// A stable name for the kind of failure, for scripts (`--json`'s `cause`).
    pub fn cause(&self) -> &'static str {
        match self {
            Error::Usage(_) => "usage",
            Error::BadName { .. } => "bad_name",
            Error::Read { .. } => "read",
            Error::Write { .. } => "write",
            Error::Output(_) => "output",
            Error::Zone { .. } => "zone",
            Error::Privilege(_) => "privilege",
            Error::Bind { .. } => "bind",
            Error::Send { .. } => "send",
            Error::Socket { .. } => "socket",
            Error::Capture { .. } => "capture",
            Error::Command { .. } => "command",
            Error::System { .. } => "system",
            Error::Internal(_) => "internal",
            Error::Lab(_) => "lab",
        }
    }

    /// What the error is about: the path, address, link or host it names.
    pub fn object(&self) -> Option<String> {
        match self {
            // Whole when short (JSON escapes what it must); a long one quoted short.
            Error::BadName { name, .. } if name.chars().count() <= QUOTE_MAX => Some(name.clone()),
            Error::BadName { name, .. } => Some(quote(name).en),
            Error::Read { path, .. } | Error::Write { path, .. } => {
                Some(path.display().to_string())
            }
            Error::Output(_) => Some("standard output".into()),
            Error::Zone { file, .. } => Some(file.clone()),
            Error::Privilege(m) => Some(m.needs.en.clone()),
            Error::Bind { addr, .. } | Error::Socket { addr, .. } => Some(addr.clone()),
            Error::Send { to, .. } => Some(to.clone()),
            Error::Capture { link, .. } => Some(link.clone()),
            Error::Command { host, .. } => Some(host.clone()),
            Error::System { object, .. } => Some(object.clone()),
            Error::Usage(_) | Error::Internal(_) | Error::Lab(_) => None,
        }
    }

    /// This error as the run record's last line.
    pub fn failure(&self) -> crate::record::Failure {
        crate::record::Failure {
            message: self.text(),
            cause: self.cause().to_string(),
            object: self.object(),
            exit_code: self.exit_code(),
        }
    }

    /// The whole message in both languages (an OS error's text included).
    pub fn text(&self) -> Text {
        let os = |e: &std::io::Error| os_error_text(e);
        match self {
            Error::Usage(t) => t.clone(),
            Error::BadName { name, reason } => {
                let q = quote(name);
                Text {
                    en: format!("invalid name {}: {}", q.en, reason.en),
                    zh: format!("无效的域名 {}：{}", q.zh, reason.zh),
                }
            }
            Error::Read { path, source } => Text {
                en: format!("cannot read {}: {source}", path.display()),
                zh: format!("无法读取 {}：{}", path.display(), os(source).zh),
            },
            Error::Write { path, source } => Text {
                en: format!("cannot write {}: {source}", path.display()),
                zh: format!("无法写入 {}：{}", path.display(), os(source).zh),
            },
            Error::Output(source) => Text {
                en: format!("cannot write to standard output: {source}"),
                zh: format!("无法写入标准输出：{}", os(source).zh),
            },
            Error::Zone { file, message } => Text {
                en: format!("zone file {file}: {}", message.en),
                zh: format!("区域文件 {file} 有误：{}", message.zh),
            },
            Error::Privilege(m) => Text {
                en: format!("{} needs {}: {}", m.what.en, m.needs.en, m.fixes.en),
                zh: format!("{}需要{}：{}", m.what.zh, m.needs.zh, m.fixes.zh),
            },
            Error::Bind { addr, source } => Text {
                en: format!("cannot bind {addr}: {source}"),
                zh: format!("无法绑定 {addr}：{}", os(source).zh),
            },
            Error::Send { to, source } => Text {
                en: format!("cannot send to {to}: {source}"),
                zh: format!("无法发送到 {to}：{}", os(source).zh),
            },
            Error::Socket { op, addr, source } => Text {
                en: format!("{op} {addr}: {source}"),
                zh: format!("{op} {addr}：{}", os(source).zh),
            },
            Error::Capture { link, source } => Text {
                en: format!("cannot capture on {link}: {source}"),
                zh: format!("无法在 {link} 上抓包：{}", os(source).zh),
            },
            Error::Command {
                host,
                command,
                detail,
            } => Text {
                en: format!("{host}: `{command}` failed: {detail}"),
                zh: format!("{host}：`{command}` 失败（它的原话）：{detail}"),
            },
            Error::System { op, object, source } => Text {
                en: format!("cannot {} {object}: {source}", op.en),
                zh: format!("无法{} {object}：{}", op.zh, os(source).zh),
            },
            Error::Internal(what) => Text {
                en: format!("internal error (please report it): {what}"),
                zh: format!("内部错误（请报告）：{what}"),
            },
            Error::Lab(t) => Text {
                en: format!("the lab cannot start: {}", t.en),
                zh: format!("实验网络无法启动：{}", t.zh),
            },
        }
    }

    /// Shorthand for a usage error, in both languages.
    pub fn usage(msg: impl Into<Text>) -> Self {
        Error::Usage(msg.into())
    }

    /// Shorthand for a failed system call: `Error::system(tx("open", "打开"), path, e)`.
    pub fn system(op: Text, object: impl std::fmt::Display, source: std::io::Error) -> Self {
        Error::System {
            op,
            object: object.to_string(),
            source,
        }
    }

    /// A failed system call, its operation in both languages:
    /// `Error::sys("open", "打开", path.display(), e)`.
    pub fn sys(
        op_en: &str,
        op_zh: &str,
        object: impl std::fmt::Display,
        source: impl Into<std::io::Error>,
    ) -> Self {
        Error::system(crate::text::tx(op_en, op_zh), object, source.into())
    }

    /// Shorthand for the lab failing to start.
    pub fn lab(msg: impl Into<Text>) -> Self {
        Error::Lab(msg.into())
    }
}

/// What an operating-system error means, in both languages, with its number
/// (the Chinese is netlab's own: the system's message is English only).
pub fn os_error_text(e: &std::io::Error) -> Text {
    use std::io::ErrorKind as K;
    let zh = match e.kind() {
        K::NetworkUnreachable => "网络不可达",
        K::HostUnreachable => "主机不可达",
        K::ConnectionRefused => "连接被拒绝",
        K::ConnectionReset => "连接被重置",
        K::TimedOut => "超时",
        K::PermissionDenied => "权限不足",
        K::AddrInUse => "地址已被占用",
        K::AddrNotAvailable => "地址不可用",
        K::NotFound => "找不到",
        K::BrokenPipe => "管道已断开",
        _ => "系统错误",
    };
    let zh = match e.raw_os_error() {
        Some(n) => format!("{zh}（系统错误 {n}）"),
        None => zh.to_string(),
    };
    crate::text::tx(e.to_string(), zh)
}

/// At most this many characters of a user's input are quoted in an error.
pub const QUOTE_MAX: usize = 64;

/// A user's input as an error message quotes it: in double quotes, escaped as
/// Rust's `{:?}` escapes (a newline as `\n`, a control character as
/// `\u{7}`), and when longer than [`QUOTE_MAX`] characters cut there, with
/// an ellipsis and the whole length: `"aaaa…" (10000 characters)`. A 10 kB
/// argument gives one short line, and no input can break the line or the
/// terminal.
pub fn quote(input: &str) -> Text {
    let n = input.chars().count();
    if n <= QUOTE_MAX {
        let q = format!("{input:?}");
        return crate::text::tx(q.clone(), q);
    }
    let head: String = input.chars().take(QUOTE_MAX).collect();
    let q = format!("{head:?}");
    let open = q.strip_suffix('"').unwrap_or(&q);
    crate::text::tx(
        format!("{open}…\" ({n} characters)"),
        format!("{open}…\"（共 {n} 个字符）"),
    )
}

/// A character as an error names it: "a newline", "a space", "a control
/// character (U+0007)", "the character '<'", in both languages.
pub fn char_name(c: char) -> Text {
    use crate::text::tx;
    let code = format!("U+{:04X}", u32::from(c));
    match c {
        ' ' => tx("a space", "空格"),
        '\n' => tx("a newline", "换行符"),
        '\r' => tx("a carriage return", "回车符"),
        '\t' => tx("a tab", "制表符"),
        c if c.is_control() => tx(
            format!("a control character ({code})"),
            format!("控制字符（{code}）"),
        ),
        c if c.is_whitespace() => tx(
            format!("a space character ({code})"),
            format!("空白字符（{code}）"),
        ),
        c => tx(format!("the character {c:?}"), format!("字符 {c:?}")),
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tx;
    use std::io::{Error as IoError, ErrorKind};

    #[test]
    fn a_quote_is_short_escaped_and_says_how_long_the_input_was() {
        assert_eq!(quote("www.baidu.com").en, "\"www.baidu.com\"");
        assert_eq!(quote("a\nb<").en, "\"a\\nb<\"");
        assert_eq!(quote("a\u{7}b").zh, "\"a\\u{7}b\"");
        let long = quote(&"a".repeat(10_000));
        assert_eq!(
            long.en,
            format!("\"{}…\" (10000 characters)", "a".repeat(QUOTE_MAX))
        );
        assert!(long.zh.ends_with("…\"（共 10000 个字符）"), "{}", long.zh);
        // Cut at a character, never inside one.
        let wide = quote(&"中".repeat(100));
        assert!(wide
            .en
            .starts_with(&format!("\"{}…", "中".repeat(QUOTE_MAX))));
        // Exactly the limit: whole, no ellipsis.
        assert!(!quote(&"a".repeat(QUOTE_MAX)).en.contains('…'));
    }

    #[test]
    fn a_character_is_named_for_what_it_is() {
        let en = |c| char_name(c).en;
        assert_eq!(en('\n'), "a newline");
        assert_eq!(en(' '), "a space");
        assert_eq!(en('\t'), "a tab");
        assert_eq!(en('\u{7}'), "a control character (U+0007)");
        assert_eq!(en('\u{3000}'), "a space character (U+3000)");
        assert_eq!(en('<'), "the character '<'");
        assert_eq!(char_name('\n').zh, "换行符");
        assert_eq!(char_name('<').zh, "字符 '<'");
    }

    /// Every variant: its exit code, its cause, the object it names, and a
    /// message in each language that names that object (Chinese with no
    /// English words of netlab's own).
    #[test]
    fn every_variant_maps_to_its_exit_code_and_names_its_object() {
        let io = || IoError::from_raw_os_error(libc::EACCES);
        let cases: Vec<(Error, i32, &str, Option<&str>)> = vec![
            (Error::usage(tx("bad flag", "参数不对")), 2, "usage", None),
            (
                Error::BadName {
                    name: "a..b".into(),
                    reason: tx("empty label", "空标签"),
                },
                2,
                "bad_name",
                Some("a..b"),
            ),
            (
                Error::Read {
                    path: "/r".into(),
                    source: io(),
                },
                2,
                "read",
                Some("/r"),
            ),
            (
                Error::Write {
                    path: "/w".into(),
                    source: io(),
                },
                2,
                "write",
                Some("/w"),
            ),
            (Error::Output(io()), 2, "output", Some("standard output")),
            (
                Error::Zone {
                    file: "x.zone".into(),
                    message: tx("no SOA", "没有 SOA"),
                },
                2,
                "zone",
                Some("x.zone"),
            ),
            (
                crate::privilege::ping_privilege(),
                2,
                "privilege",
                Some("an ICMP socket"),
            ),
            (
                Error::Bind {
                    addr: "127.53.0.1:53".into(),
                    source: io(),
                },
                2,
                "bind",
                Some("127.53.0.1:53"),
            ),
            (
                Error::Send {
                    to: "10.9.9.9".into(),
                    source: io(),
                },
                2,
                "send",
                Some("10.9.9.9"),
            ),
            (
                Error::Send {
                    to: "10.9.9.9".into(),
                    source: IoError::new(ErrorKind::NetworkUnreachable, "no route"),
                },
                1,
                "send",
                Some("10.9.9.9"),
            ),
            (
                Error::Socket {
                    op: "connect",
                    addr: "h2:80".into(),
                    source: io(),
                },
                2,
                "socket",
                Some("h2:80"),
            ),
            (
                Error::Capture {
                    link: "h1:eth0".into(),
                    source: io(),
                },
                2,
                "capture",
                Some("h1:eth0"),
            ),
            (
                Error::Command {
                    host: "r1".into(),
                    command: "ip link".into(),
                    detail: "RTNETLINK".into(),
                },
                2,
                "command",
                Some("r1"),
            ),
            (
                Error::system(tx("open", "打开"), "/proc/x", io()),
                2,
                "system",
                Some("/proc/x"),
            ),
            (Error::Internal("thread".into()), 2, "internal", None),
            (Error::lab(tx("no ARP seen", "没有 ARP")), 2, "lab", None),
        ];
        for (e, code, cause, object) in cases {
            assert_eq!(e.exit_code(), code, "{e:?}");
            assert_eq!(e.cause(), cause, "{e:?}");
            assert_eq!(e.object().as_deref(), object, "{e:?}");
            let t = e.text();
            assert_eq!(t.en, e.to_string(), "Display is the English text");
            if let Some(o) = object {
                assert!(t.en.contains(o), "{}", t.en);
            }
            // The Chinese is Chinese: no English word netlab wrote itself (paths,
            // addresses, names and quoted tool output may stay).
            let zh = t.zh.clone();
            for w in ["cannot", "error", "needs", "failed", "the lab"] {
                assert!(!zh.contains(w), "{cause}: {zh}");
            }
        }
    }
}
