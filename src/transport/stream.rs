//! A TCP conversation on loopback for `sticky-packet`: a connected pair, a
//! reader that records every read, and the small writes it sends.

use std::io::Read;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::Duration;

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

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
}
