//! io_uring, for `netlab async`: whether this kernel lets the process make a
//! ring, and many `recv`s handed to the kernel at once, each completing with
//! its bytes already in netlab's buffer. Also FIONREAD, the bytes a socket
//! holds that nobody has read yet.
//!
//! Unsafe because the kernel writes into the buffers after the call that
//! submitted them has returned: they must outlive every request in flight.
//! [`recv_each`] owns them until each request has completed, and leaks them
//! (never frees memory the kernel may still write) when it gives up early.

#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use io_uring::{opcode, types, IoUring};

/// Try to make a small ring: Ok when this kernel and this process's sandbox
/// allow io_uring, else the error io_uring_setup gave (EPERM, ENOSYS, …).
pub fn probe() -> std::io::Result<()> {
    IoUring::new(2).map(drop)
}

/// What [`recv_each`] did and counted.
#[derive(Debug)]
pub struct RecvRun {
    /// io_uring_setup calls (one: the ring).
    pub setups: u32,
    /// mmap calls that mapped the ring's queues into this process.
    pub mmaps: u32,
    /// io_uring_enter calls: one to submit, then one per wait.
    pub enters: u32,
    /// Requests the first io_uring_enter handed to the kernel.
    pub submitted: usize,
    /// Completions already there right after that submit returned.
    pub done_at_submit: usize,
    /// Each socket's result, in the order given: bytes received, or -errno.
    pub results: Vec<i32>,
    /// Each socket's buffer, as the kernel filled it.
    pub buffers: Vec<Vec<u8>>,
}

/// Hand the kernel one `recv` of up to `len` bytes for each of `fds` in one
/// io_uring_enter, call `submitted` (which makes the data come), then wait in
/// io_uring_enter until every recv has completed or `limit` has passed.
/// No read() or recv() call is made: the kernel copies each socket's bytes
/// into its buffer and posts a completion.
pub fn recv_each(
    fds: &[BorrowedFd<'_>],
    len: usize,
    limit: Duration,
    submitted: impl FnOnce(),
) -> std::io::Result<RecvRun> {
    let entries = (fds.len().max(1) as u32).next_power_of_two();
    let mut ring = IoUring::builder()
        .setup_cqsize(entries.max(2) * 2)
        .build(entries)?;
    // Submission entries, and the queues' ring: one mapping or two.
    let mmaps = if ring.params().is_feature_single_mmap() {
        2
    } else {
        3
    };
    let mut buffers: Vec<Vec<u8>> = fds.iter().map(|_| vec![0u8; len]).collect();
    let mut results = vec![i32::MIN; fds.len()];
    {
        let mut sq = ring.submission();
        for (i, (fd, buf)) in fds.iter().zip(buffers.iter_mut()).enumerate() {
            let e = opcode::Recv::new(types::Fd(fd.as_raw_fd()), buf.as_mut_ptr(), len as u32)
                .build()
                .user_data(i as u64);
            // SAFETY: the buffer lives in `buffers`, which is neither moved
            // nor freed until every request has completed (or it is leaked
            // below); the fd is borrowed for this whole call. The queue has
            // `entries` ≥ fds.len() slots, so the push cannot fail.
            unsafe { sq.push(&e) }.map_err(|_| std::io::Error::other("submission queue full"))?;
        }
    }
    let mut run = RecvRun {
        setups: 1,
        mmaps,
        enters: 0,
        submitted: 0,
        done_at_submit: 0,
        results: Vec::new(),
        buffers: Vec::new(),
    };
    // Submit, not wait: the call returns at once.
    let submitted_now = ring.submit();
    run.enters += 1;
    let submitted_now = match submitted_now {
        Ok(k) => k,
        Err(e) => return Err(give_up(buffers, e)),
    };
    run.submitted = submitted_now;
    run.done_at_submit = ring.completion().len();
    submitted();
    let deadline = Instant::now() + limit;
    let mut done = drain(&mut ring, &mut results);
    while done < fds.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(give_up(
                buffers,
                std::io::Error::new(std::io::ErrorKind::TimedOut, "recvs never completed"),
            ));
        }
        let ts = types::Timespec::from(left);
        let args = types::SubmitArgs::new().timespec(&ts);
        run.enters += 1;
        match ring.submitter().submit_with_args(fds.len() - done, &args) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ETIME) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(give_up(buffers, e)),
        }
        done += drain(&mut ring, &mut results);
    }
    run.results = results;
    run.buffers = buffers;
    Ok(run)
}

/// Take the completions posted so far: each request's result into
/// `results` (by its user data, the socket's index); how many were new.
fn drain(ring: &mut IoUring, results: &mut [i32]) -> usize {
    let mut new = 0;
    for c in ring.completion() {
        if let Some(r) = results.get_mut(c.user_data() as usize) {
            if *r == i32::MIN {
                *r = c.result();
                new += 1;
            }
        }
    }
    new
}

/// Requests may still be in flight: the kernel may yet write into these
/// buffers, so they are never freed.
fn give_up(buffers: Vec<Vec<u8>>, e: std::io::Error) -> std::io::Error {
    std::mem::forget(buffers);
    e
}

/// Bytes waiting in a socket's receive queue, not yet read (ioctl FIONREAD).
pub fn queued(fd: BorrowedFd<'_>) -> std::io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int to the pointer given; the fd is borrowed and open.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &raw mut n) };
    if rc == 0 {
        Ok(usize::try_from(n).unwrap_or(0))
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;

    fn pair() -> (std::net::TcpStream, std::net::TcpStream) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (c, s)
    }

    #[test]
    fn fionread_counts_unread_bytes() {
        let (mut c, s) = pair();
        assert_eq!(queued(s.as_fd()).unwrap(), 0);
        c.write_all(b"0123456789").unwrap();
        let t = Instant::now();
        while queued(s.as_fd()).unwrap() < 10 && t.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(queued(s.as_fd()).unwrap(), 10);
    }

    #[test]
    fn each_recv_completes_with_its_bytes() {
        if probe().is_err() {
            return;
        }
        let pairs: Vec<_> = (0..5).map(|_| pair()).collect();
        let fds: Vec<_> = pairs.iter().map(|(_, s)| s.as_fd()).collect();
        let mut clients: Vec<_> = pairs.iter().map(|(c, _)| c.try_clone().unwrap()).collect();
        let run = recv_each(&fds, 16, Duration::from_secs(5), || {
            for (i, c) in clients.iter_mut().enumerate() {
                c.write_all(format!("message {i:08}").as_bytes()).unwrap();
            }
        })
        .unwrap();
        assert_eq!(run.submitted, 5);
        assert_eq!(run.done_at_submit, 0, "nothing was sent before the submit");
        for (i, r) in run.results.iter().enumerate() {
            assert_eq!(*r, 16);
            assert_eq!(run.buffers[i], format!("message {i:08}").as_bytes());
        }
        // Written at once: the completions may be there without a wait.
        assert!(run.enters >= 1);
    }
}
