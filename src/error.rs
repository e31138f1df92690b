//! Errors and exit codes shared by every demo.
//!
//! Owns the one error type of the library and the mapping from error to exit
//! code. It does not print: `main.rs` and the renderers decide how an error is
//! shown. "The network said no" (NXDOMAIN, no reply) is not an error here: a
//! demo reports it in its summary and returns [`exit::NETWORK_NO`].

use std::path::PathBuf;

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

/// Everything that stops a demo before the network could answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user asked for something netlab cannot do as asked.
    #[error("{0}")]
    Usage(String),
    /// A domain name that DNS cannot carry.
    #[error("invalid name {name:?}: {reason}")]
    BadName { name: String, reason: String },
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
    /// A zone file of the lab is not valid.
    #[error("zone file {file}: {message}")]
    Zone { file: String, message: String },
    /// The built-in lab could not start.
    #[error("the lab cannot start: {0}")]
    Lab(String),
    /// A local socket operation failed.
    #[error("{op} {addr}: {source}")]
    Socket {
        op: &'static str,
        addr: String,
        source: std::io::Error,
    },
    /// Writing the output failed (a closed pipe, a full disk).
    #[error("cannot write to standard output: {0}")]
    Output(#[from] std::io::Error),
}

impl Error {
    /// The exit code this error ends the process with.
    pub fn exit_code(&self) -> i32 {
        exit::LOCAL
    }

    /// Shorthand for a usage error.
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }
}

/// What an operating-system error means, in both languages, with its number
/// (the Chinese is netlab's own: the system's message is English only).
pub fn os_error_text(e: &std::io::Error) -> crate::narrate::Text {
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
    crate::narrate::tx(e.to_string(), zh)
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
