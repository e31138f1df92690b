//! TCP and UDP conversations on loopback for `sticky-packet`: a connected
//! pair, a reader that records every read, the small writes it sends, a late
//! reader, one large write, a warmed-up burst with Nagle on or off, datagrams
//! for contrast, and Q13's socket calls in order.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::error::{Error, Result};
use crate::lab::capture::{Capture, Frame};
use crate::sys::tcp_info;
use crate::text::tx;

/// A connected client and server on 127.0.0.1, reads bounded by 10 s.
pub fn pair() -> std::io::Result<(TcpStream, TcpStream)> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let c = TcpStream::connect(l.local_addr()?)?;
    let (s, _) = l.accept()?;
    for x in [&c, &s] {
        x.set_read_timeout(Some(Duration::from_secs(10)))?;
    }
    Ok((c, s))
}

/// Read until `total` bytes arrived (or the other side closed): the length
/// of every read, and the bytes.
pub fn read_all(
    s: &mut TcpStream,
    total: usize,
    buf_size: usize,
) -> std::io::Result<(Vec<usize>, Vec<u8>)> {
    let mut buf = vec![0u8; buf_size];
    let mut reads = Vec::new();
    let mut data = Vec::with_capacity(total);
    while data.len() < total {
        let k = s.read(&mut buf)?;
        if k == 0 {
            break;
        }
        reads.push(k);
        data.extend_from_slice(&buf[..k]);
    }
    Ok((reads, data))
}

/// `count` messages of `size` bytes: `m0....`, `m1....`, …
pub fn small_writes(count: u32, size: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let mut m = format!("m{i}").into_bytes();
            m.resize(size, b'.');
            m
        })
        .collect()
}

/// `writes` sent back to back, read after `late`: the size of each read.
pub fn late_reader(writes: &[Vec<u8>], late: Duration) -> std::io::Result<Vec<usize>> {
    let (mut c, mut s) = pair()?;
    for w in writes {
        c.write_all(w)?;
    }
    std::thread::sleep(late);
    let total = writes.iter().map(Vec::len).sum();
    Ok(read_all(&mut s, total, 64 * 1024)?.0)
}

/// One write of `size` bytes, read as it arrives: the size of each read.
pub fn one_big_write(size: usize) -> std::io::Result<Vec<usize>> {
    let (mut c, mut s) = pair()?;
    let writer = std::thread::spawn(move || {
        c.write_all(&vec![b'x'; size])
            .and_then(|_| c.shutdown(Shutdown::Write))
    });
    let (reads, _) = read_all(&mut s, size, 64 * 1024)?;
    writer
        .join()
        .map_err(|_| std::io::Error::other("the writer thread panicked"))??;
    Ok(reads)
}

/// `writes` as UDP datagrams on loopback, read after `late`: the size of each
/// datagram received (300 ms without one ends the reading).
pub fn datagrams_late(writes: &[Vec<u8>], late: Duration) -> std::io::Result<Vec<usize>> {
    let rx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    rx.set_read_timeout(Some(Duration::from_millis(300)))?;
    let sender = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    let to = rx.local_addr()?;
    for w in writes {
        sender.send_to(w, to)?;
    }
    std::thread::sleep(late);
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    while got.len() < writes.len() {
        match rx.recv_from(&mut buf) {
            Ok((k, _)) => got.push(k),
            Err(_) => break,
        }
    }
    Ok(got)
}

/// Round trips of one byte before a burst: enough to leave the receiver's
/// quick-ACK start, so it delays its ACKs (LAB-NOTES.md, "delayed-ACK warm-up").
pub const WARM_UP: u32 = 20;

/// A socket call between the writer and the reader failed.
pub fn exchange_error(e: std::io::Error) -> Error {
    Error::system(
        tx("exchange data between", "在测试的两端之间收发数据："),
        "the writer and the reader",
        e,
    )
}

/// Small writes on a warmed-up connection while the reader waits in recv().
pub struct Burst {
    /// The size of each read.
    pub reads: Vec<usize>,
    /// Data segments the writer sent: counted in the capture when there is
    /// one, else TCP_INFO's data_segs_out.
    pub segments: u32,
    /// The writer's port, to pick its frames out of a capture.
    pub port: u16,
    /// Loopback as captured during the burst (empty unless asked for).
    pub frames: Vec<Frame>,
}

/// Warm a connection up, then send `writes` with Nagle on or off
/// (`nodelay`); capture loopback meanwhile if `capture`.
pub fn burst(writes: &[Vec<u8>], nodelay: bool, capture: bool) -> Result<Burst> {
    let io = exchange_error;
    let (mut c, mut s) = pair().map_err(io)?;
    let port = c.local_addr().map_err(io)?.port();
    c.set_nodelay(nodelay).map_err(io)?;
    let total: usize = writes.iter().map(Vec::len).sum();
    let reader = std::thread::spawn(move || -> std::io::Result<Vec<usize>> {
        let mut b = [0u8; 1];
        for _ in 0..WARM_UP {
            s.read_exact(&mut b)?;
            s.write_all(&b)?;
        }
        Ok(read_all(&mut s, total, 64 * 1024)?.0)
    });
    let mut b = [1u8; 1];
    for _ in 0..WARM_UP {
        c.write_all(&b).map_err(io)?;
        c.read_exact(&mut b).map_err(io)?;
    }
    // Let the reader block in recv() before the burst.
    std::thread::sleep(Duration::from_millis(5));
    let cap = if capture {
        Capture::start_here("lo").ok()
    } else {
        None
    };
    let before = tcp_info(&c).map_err(io)?.data_segs_out;
    for w in writes {
        c.write_all(w).map_err(io)?;
    }
    let reads = reader
        .join()
        .map_err(|_| Error::Internal("reader panicked".into()))?
        .map_err(io)?;
    let after = tcp_info(&c).map_err(io)?.data_segs_out;
    let frames = match cap {
        Some(cap) => {
            // The last ACK may still be on its way.
            std::thread::sleep(Duration::from_millis(10));
            cap.stop()?
        }
        None => Vec::new(),
    };
    // Counted on the wire where there is a capture (what the run shows is
    // what crossed loopback); else as the writer's kernel counted them.
    let on_wire = frames
        .iter()
        .filter(|f| {
            crate::wire::frame::ethernet_frame(&f.bytes).is_ok_and(|d| {
                matches!(d.kind, crate::wire::frame::Kind::Ipv4 {
                    tcp: Some(h),
                    payload_len,
                    ..
                } if h.src_port == port && payload_len > 0)
            })
        })
        .count();
    let segments = if frames.is_empty() {
        after - before
    } else {
        u32::try_from(on_wire).unwrap_or(u32::MAX)
    };
    Ok(Burst {
        reads,
        segments,
        port,
        frames,
    })
}

/// Q13's socket calls, each with what it returned.
#[derive(Clone, Debug)]
pub struct CallFlow {
    /// socket() for the server.
    pub listen_fd: i32,
    /// Where it listens (bind, listen(128)).
    pub address: SocketAddr,
    /// socket() for the client.
    pub client_fd: i32,
    /// The client's ephemeral address after connect().
    pub client_address: SocketAddr,
    /// accept()'s new descriptor.
    pub accepted_fd: i32,
    /// The peer accept() reported.
    pub peer: Option<SocketAddr>,
    /// send("hello")'s return.
    pub sent: usize,
    /// The server's recv() after it.
    pub got: usize,
    /// The server's recv() after the client's close(): 0.
    pub eof: usize,
}

/// Make the calls of one TCP conversation on loopback, in order.
pub fn call_flow() -> std::io::Result<CallFlow> {
    let server = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    let listen_fd = server.as_raw_fd();
    server.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())?;
    let no_address = || std::io::Error::other("a loopback socket has no address");
    let address = server.local_addr()?.as_socket().ok_or_else(no_address)?;
    server.listen(128)?;
    let client = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    let client_fd = client.as_raw_fd();
    client.connect(&address.into())?;
    let client_address = client.local_addr()?.as_socket().ok_or_else(no_address)?;
    let (conn, peer) = server.accept()?;
    let accepted_fd = conn.as_raw_fd();
    let mut client: TcpStream = client.into();
    let mut conn: TcpStream = conn.into();
    let sent = client.write(b"hello")?;
    let mut buf = [0u8; 16];
    let got = conn.read(&mut buf)?;
    drop(client);
    let eof = conn.read(&mut buf)?;
    Ok(CallFlow {
        listen_fd,
        address,
        client_fd,
        client_address,
        accepted_fd,
        peer: peer.as_socket(),
        sent,
        got,
        eof,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_carries_bytes_and_every_read_is_counted() {
        let (mut c, mut s) = pair().unwrap();
        let w = small_writes(3, 8);
        assert_eq!(w[2], b"m2......");
        for m in &w {
            c.write_all(m).unwrap();
        }
        let (reads, data) = read_all(&mut s, 24, 1024).unwrap();
        assert_eq!(data.len(), 24);
        assert_eq!(reads.iter().sum::<usize>(), 24);
    }

    #[test]
    fn datagrams_keep_their_boundaries() {
        let w = small_writes(5, 12);
        let got = datagrams_late(&w, Duration::from_millis(5)).unwrap();
        assert_eq!(got, vec![12; 5]);
    }

    #[test]
    fn the_call_flow_ends_with_end_of_stream() {
        let f = call_flow().unwrap();
        assert_eq!((f.sent, f.got, f.eof), (5, 5, 0));
        assert_eq!(f.peer, Some(f.client_address));
        assert!(f.address.ip().is_loopback());
    }
}
