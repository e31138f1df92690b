//! The one module that calls libc directly: `getsockopt(TCP_INFO)`, the
//! terminal's window size, and binding a packet socket to one interface.
//!
//! Neither socket2 nor nix exposes TCP_INFO, which is where the kernel keeps a
//! connection's retransmission count and segment counters; the window size
//! (`TIOCGWINSZ`) tells the text view how wide to wrap; nix can receive on a
//! packet socket but not build the `sockaddr_ll` to bind it. Everything else
//! in netlab is safe Rust. [`uring`] holds io_uring's submissions, whose
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
