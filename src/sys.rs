//! The one module that calls libc directly: `getsockopt(TCP_INFO)`, the
//! terminal's window size, and binding a packet socket to one interface.
//!
//! Neither socket2 nor nix exposes TCP_INFO, which is where the kernel keeps a
//! connection's retransmission count and segment counters; the window size
//! (`TIOCGWINSZ`) tells the text view how wide to wrap; nix can receive on a
//! packet socket but not build the `sockaddr_ll` to bind it. `concurrency`
//! needs two more: fork() then execv() by hand (nix's fork is an unsafe fn,
//! and std's Command picks posix_spawn or fork itself), and futex(2), which
//! nix does not wrap, for a mutex whose every system call can be counted.
//! Everything else in netlab is safe Rust.

#![allow(unsafe_code)]

use std::os::fd::AsRawFd;

/// The TCP_INFO counters netlab shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// Segments retransmitted over the connection's life (tcpi_total_retrans).
    pub total_retrans: u32,
    /// Data-carrying segments sent (tcpi_data_segs_out).
    pub data_segs_out: u32,
    /// Data-carrying segments received (tcpi_data_segs_in).
    pub data_segs_in: u32,
    /// Smoothed RTT in microseconds (tcpi_rtt).
    pub rtt_us: u32,
    /// Congestion window in segments (tcpi_snd_cwnd).
    pub snd_cwnd: u32,
    /// Sender MSS (tcpi_snd_mss).
    pub snd_mss: u32,
}

/// Read TCP_INFO of a connected TCP socket.
pub fn tcp_info(sock: &impl AsRawFd) -> std::io::Result<TcpInfo> {
    let mut info = std::mem::MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is a writable buffer of `len` bytes for the kernel to fill; the
    // kernel writes at most `len` bytes and updates `len`. The fd is borrowed and open.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast::<libc::c_void>(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: zero-initialised plain-old-data, partly or wholly overwritten by the kernel;
    // every bit pattern is a valid tcp_info.
    let info = unsafe { info.assume_init() };
    Ok(TcpInfo {
        total_retrans: info.tcpi_total_retrans,
        data_segs_out: info.tcpi_data_segs_out,
        data_segs_in: info.tcpi_data_segs_in,
        rtt_us: info.tcpi_rtt,
        snd_cwnd: info.tcpi_snd_cwnd,
        snd_mss: info.tcpi_snd_mss,
    })
}

/// Columns of the terminal on stdout, if stdout is a terminal that knows its size.
pub fn terminal_columns() -> Option<usize> {
    // terminal_size asks TIOCGWINSZ for us (no unsafe code here).
    terminal_size::terminal_size_of(std::io::stdout())
        .map(|(w, _)| usize::from(w.0))
        .filter(|w| *w > 0)
}

/// Bind an AF_PACKET socket to the interface numbered `ifindex`, all protocols.
pub fn bind_packet(fd: &impl AsRawFd, ifindex: u32) -> std::io::Result<()> {
    // SAFETY: a zeroed sockaddr_ll is valid; the fields set are plain integers.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    sll.sll_ifindex = i32::try_from(ifindex).unwrap_or(0);
    // SAFETY: sll is a valid sockaddr_ll of the length passed.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const sll).cast::<libc::sockaddr>(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Frames a packet socket's buffer had no room for since the last call
/// (PACKET_STATISTICS' tp_drops; reading resets the kernel's counters).
pub fn packet_drops(fd: &impl AsRawFd) -> std::io::Result<u32> {
    let mut st = libc::tpacket_stats {
        tp_packets: 0,
        tp_drops: 0,
    };
    let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: st and len are valid for writes of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&raw mut st).cast::<libc::c_void>(),
            &raw mut len,
        )
    };
    if rc == 0 {
        Ok(st.tp_drops)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// A flag that SIGINT (Ctrl-C) or SIGTERM sets, so a long run can stop
/// cleanly (print its statistics, remove what it made) instead of dying.
pub fn stop_flag() -> crate::error::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).map_err(|e| {
            crate::error::Error::system(
                crate::text::tx("catch", "捕获"),
                format!("signal {sig}"),
                e,
            )
        })?;
    }
    Ok(stop)
}

/// fork(), then in the child: `stdin` and `stdout` onto descriptors 0 and 1,
/// and execv(`path`, `argv`). Returns once the child has exec'd (or failed
/// to), as posix_spawn does: a close-on-exec pipe closes at a successful exec,
/// and carries the errno of a failed one. Every other descriptor netlab holds
/// is close-on-exec, so the child keeps only those three.
pub fn fork_exec(
    path: &std::ffi::CStr,
    argv: &[&std::ffi::CStr],
    stdin: std::os::fd::BorrowedFd<'_>,
    stdout: std::os::fd::BorrowedFd<'_>,
) -> std::io::Result<nix::unistd::Pid> {
    use std::io::Read as _;
    // Everything the child touches is made before fork: after it, a child of a
    // multi-threaded process may call only async-signal-safe functions.
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let (report_r, report_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (fd0, fd1, w) = (stdin.as_raw_fd(), stdout.as_raw_fd(), report_w.as_raw_fd());
    // SAFETY: fork has no memory-safety preconditions; the child below calls
    // only dup2, execv, write and _exit (async-signal-safe) on memory
    // prepared before the fork, and never returns into Rust code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: the child: async-signal-safe calls only; `ptrs` is a
        // null-terminated array of pointers to NUL-terminated strings that
        // outlive the call; `_exit` ends the child without running Rust code.
        unsafe {
            if libc::dup2(fd0, 0) >= 0 && libc::dup2(fd1, 1) >= 0 {
                libc::execv(path.as_ptr(), ptrs.as_ptr());
            }
            let errno = *libc::__errno_location();
            libc::write(w, (&raw const errno).cast::<libc::c_void>(), 4);
            libc::_exit(127);
        }
    }
    drop(report_w);
    let mut report = std::fs::File::from(report_r);
    let mut errno = [0u8; 4];
    let mut got = 0;
    loop {
        match report.read(&mut errno[got..]) {
            Ok(0) => break,
            Ok(k) => {
                got += k;
                if got == 4 {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let child = nix::unistd::Pid::from_raw(pid);
    if got == 0 {
        return Ok(child);
    }
    let _ = nix::sys::wait::waitpid(child, None);
    Err(std::io::Error::from_raw_os_error(i32::from_ne_bytes(errno)))
}

/// futex(FUTEX_WAIT_PRIVATE): sleep while `word` still holds `expected`.
/// Returns at a wake, at once if the word already differs (EAGAIN), or on a
/// signal; the caller looks at the word again either way.
pub fn futex_wait(word: &std::sync::atomic::AtomicU32, expected: u32) {
    // SAFETY: the address is that of a live, aligned AtomicU32; a null
    // timeout means no timeout; the kernel only reads the word.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

/// futex(FUTEX_WAKE_PRIVATE): wake up to `n` threads sleeping on `word`;
/// returns how many it woke.
pub fn futex_wake(word: &std::sync::atomic::AtomicU32, n: i32) -> i64 {
    // SAFETY: the address is that of a live, aligned AtomicU32; FUTEX_WAKE
    // neither reads nor writes it.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            n,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn counts_data_segments_on_loopback() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        c.set_nodelay(true).unwrap();
        let before = tcp_info(&c).unwrap();
        c.write_all(b"hello").unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        let after = tcp_info(&c).unwrap();
        assert_eq!(after.data_segs_out - before.data_segs_out, 1);
        assert!(after.snd_mss > 0);
        assert!(tcp_info(&std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).is_err());
    }
}
