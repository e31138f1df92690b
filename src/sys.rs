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
//! Everything else in netlab is safe Rust. [`uring`] holds io_uring's submissions, whose
//! buffers the kernel fills after the call has returned.

#![allow(unsafe_code)]

use std::os::fd::AsRawFd;

pub mod uring;

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

/// What `netlab ipc` needs of libc that neither std nor nix gives safely: a
/// descriptor inherited across exec taken back by number, a shared page
/// (mmap of a memfd), futex waits and wakes on a word in it, and a signal
/// carrying a value (sigqueue, rt_tgsigqueueinfo, sigtimedwait).
pub mod ipc {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::ptr::NonNull;
    use std::sync::atomic::AtomicU32;
    use std::time::Duration;

    /// Take ownership of descriptor `fd`, inherited from the parent across
    /// exec (its number passed on the command line); it gets close-on-exec.
    /// Refused unless `fd` is open and above the standard three.
    pub fn adopt_fd(fd: RawFd) -> std::io::Result<OwnedFd> {
        if fd <= 2 {
            return Err(std::io::Error::from_raw_os_error(libc::EBADF));
        }
        // SAFETY: F_GETFD only reads the descriptor's flags; it fails with EBADF if fd is not open.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is open (checked above), and the caller names each
        // inherited number once, so nothing else in this process owns it.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: F_SETFD with FD_CLOEXEC on an open descriptor.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(owned)
    }

    /// Whether descriptor `fd` is inherited by programs this process
    /// starts (close-on-exec cleared), or not.
    pub fn set_inherited(fd: &impl AsRawFd, inherited: bool) -> std::io::Result<()> {
        let flags = if inherited { 0 } else { libc::FD_CLOEXEC };
        // SAFETY: F_SETFD on a descriptor the caller holds open.
        if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, flags) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// A shared mapping of a file (a memfd): the same physical memory in
    /// every process that maps it. Unmapped when dropped.
    pub struct SharedPage {
        ptr: NonNull<u8>,
        len: usize,
    }

    impl SharedPage {
        /// Map the first `len` bytes of `fd` (which must be that long),
        /// readable and writable, MAP_SHARED.
        pub fn map(fd: &impl AsRawFd, len: usize) -> std::io::Result<SharedPage> {
            // SAFETY: a fresh mapping chosen by the kernel (addr NULL) of a
            // descriptor the caller holds open; nothing else is touched.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    fd.as_raw_fd(),
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(std::io::Error::last_os_error());
            }
            let ptr = NonNull::new(p.cast::<u8>())
                .ok_or_else(|| std::io::Error::other("mmap returned NULL"))?;
            Ok(SharedPage { ptr, len })
        }

        /// The mapping's length in bytes.
        pub fn len(&self) -> usize {
            self.len
        }

        /// Whether the mapping is empty (never: `map` maps at least a byte).
        pub fn is_empty(&self) -> bool {
            self.len == 0
        }

        /// The 32-bit word at byte `offset` (a multiple of 4), for atomic
        /// loads and stores and for futex waits: the other process sees the
        /// same word.
        pub fn word(&self, offset: usize) -> &AtomicU32 {
            assert!(
                offset.is_multiple_of(4) && offset + 4 <= self.len,
                "word {offset}"
            );
            // SAFETY: in bounds and 4-aligned (the mapping is page-aligned),
            // valid for as long as &self (unmapped only on drop); AtomicU32
            // has the layout of u32 and every bit pattern is valid.
            unsafe { &*self.ptr.as_ptr().add(offset).cast::<AtomicU32>() }
        }

        /// Copy `bytes` into the mapping at `offset`.
        pub fn write(&self, offset: usize, bytes: &[u8]) {
            assert!(offset + bytes.len() <= self.len, "write past the page");
            for (i, b) in bytes.iter().enumerate() {
                // SAFETY: in bounds (asserted); volatile, because the other
                // process reads these bytes: the compiler must not drop the stores.
                unsafe { self.ptr.as_ptr().add(offset + i).write_volatile(*b) };
            }
        }

        /// Copy `len` bytes out of the mapping at `offset`.
        pub fn read(&self, offset: usize, len: usize) -> Vec<u8> {
            assert!(offset + len <= self.len, "read past the page");
            (0..len)
                // SAFETY: in bounds (asserted); volatile, because the other
                // process wrote them: each load must really happen.
                .map(|i| unsafe { self.ptr.as_ptr().add(offset + i).read_volatile() })
                .collect()
        }
    }

    impl Drop for SharedPage {
        fn drop(&mut self) {
            // SAFETY: the mapping made in `map`, unmapped once; no reference
            // from `word` outlives &self.
            unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
        }
    }

    /// FUTEX_WAIT on a shared word (not FUTEX_PRIVATE: the waker is another
    /// process): sleep while it holds `expected`, at most `timeout`.
    /// Ok(true) when woken or the word had already changed, Ok(false) on timeout.
    pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) -> std::io::Result<bool> {
        let ts = libc::timespec {
            tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
        };
        // SAFETY: the word is a valid, aligned u32 for the duration of the call;
        // ts is a valid relative timeout.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT,
                expected,
                &raw const ts,
                std::ptr::null::<u32>(),
                0u32,
            )
        };
        if rc == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(true),
            Some(libc::ETIMEDOUT) => Ok(false),
            _ => Err(e),
        }
    }

    /// FUTEX_WAKE: wake every process waiting on the shared word; how many were.
    pub fn futex_wake(word: &AtomicU32) -> std::io::Result<usize> {
        // SAFETY: the word is a valid, aligned u32 for the duration of the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAKE,
                i32::MAX,
                std::ptr::null::<libc::timespec>(),
                std::ptr::null::<u32>(),
                0u32,
            )
        };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(usize::try_from(rc).unwrap_or(0))
    }

    /// sigqueue(2): send signal `sig` to process `pid` with an 8-byte value.
    pub fn sigqueue(pid: i32, sig: i32, value: u64) -> std::io::Result<()> {
        let v = libc::sigval {
            sival_ptr: value as usize as *mut libc::c_void,
        };
        // SAFETY: plain arguments; the kernel copies the value.
        if unsafe { libc::sigqueue(pid, sig, v) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// The fields of a siginfo_t that a queued signal (SI_QUEUE) fills, in
    /// the kernel's layout for 64-bit Linux, padded to its 128 bytes.
    #[repr(C)]
    struct QueuedInfo {
        signo: i32,
        errno: i32,
        code: i32,
        _pad: i32,
        pid: i32,
        uid: u32,
        value: u64,
        _rest: [u8; 96],
    }

    /// rt_tgsigqueueinfo(2): sigqueue aimed at one thread `tid` of process
    /// `tgid`, so that only the thread that waits for it (with the signal
    /// blocked) receives it, never another thread of that process.
    pub fn sigqueue_thread(tgid: i32, tid: i32, sig: i32, value: u64) -> std::io::Result<()> {
        const _: () = assert!(std::mem::size_of::<QueuedInfo>() == 128);
        let info = QueuedInfo {
            signo: sig,
            errno: 0,
            code: libc::SI_QUEUE,
            _pad: 0,
            // SAFETY (both): getpid and getuid cannot fail.
            pid: unsafe { libc::getpid() },
            uid: unsafe { libc::getuid() },
            value,
            _rest: [0; 96],
        };
        // SAFETY: info is a valid siginfo_t of 128 bytes for the call's duration.
        let rc =
            unsafe { libc::syscall(libc::SYS_rt_tgsigqueueinfo, tgid, tid, sig, &raw const info) };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// sigtimedwait(2) for one signal that the calling thread blocks: its
    /// queued value and the sender's pid, or None after `timeout`.
    pub fn sigtimedwait(sig: i32, timeout: Duration) -> std::io::Result<Option<(u64, i32)>> {
        // SAFETY: sigemptyset/sigaddset initialise a sigset_t we own.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        unsafe {
            libc::sigemptyset(&raw mut set);
            libc::sigaddset(&raw mut set, sig);
        }
        let ts = libc::timespec {
            tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
        };
        loop {
            // SAFETY: a zeroed siginfo_t is valid; the kernel fills it.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: set, info and ts are valid for the call.
            let rc = unsafe { libc::sigtimedwait(&raw const set, &raw mut info, &raw const ts) };
            if rc == sig {
                // SAFETY: a queued signal's siginfo carries si_value and si_pid.
                let (value, pid) =
                    unsafe { (info.si_value().sival_ptr as usize as u64, info.si_pid()) };
                return Ok(Some((value, pid)));
            }
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN) => return Ok(None),
                Some(libc::EINTR) => continue,
                _ => return Err(e),
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::sync::atomic::Ordering;

        #[test]
        fn a_shared_page_is_shared_between_two_mappings() {
            let fd = nix::sys::memfd::memfd_create(c"t", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
                .unwrap();
            nix::unistd::ftruncate(&fd, 4096).unwrap();
            let (a, b) = (
                SharedPage::map(&fd, 4096).unwrap(),
                SharedPage::map(&fd, 4096).unwrap(),
            );
            a.write(100, b"hello");
            assert_eq!(b.read(100, 5), b"hello");
            a.word(8).store(7, Ordering::Release);
            assert_eq!(b.word(8).load(Ordering::Acquire), 7);
            // The word already differs from `expected`: no sleep.
            assert!(futex_wait(b.word(8), 6, Duration::from_secs(5)).unwrap());
            // It holds `expected` and nobody wakes it: the timeout.
            assert!(!futex_wait(b.word(8), 7, Duration::from_millis(20)).unwrap());
            assert_eq!(futex_wake(a.word(8)).unwrap(), 0, "nobody waits");
        }

        #[test]
        fn a_low_or_closed_descriptor_is_not_adopted() {
            assert!(adopt_fd(1).is_err());
            assert!(adopt_fd(987_654).is_err());
        }
    }
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
