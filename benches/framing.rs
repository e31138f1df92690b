//! Length-prefixed framing against the raw byte stream, on one loopback TCP
//! connection each, in the same run: `cargo bench --bench framing`.
//!
//! The sender writes the same bytes both times: 1 KiB messages, each behind a
//! 4-byte length (LengthDelimitedCodec). The raw reader only counts bytes; the
//! framed reader feeds every read to the codec and counts whole messages, as
//! `netlab sticky-packet` does. Prints both rates and the ratio (target ≥ 0.8).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

const MESSAGE: usize = 1024;
const TOTAL_MB: usize = 512;

fn encoded() -> Vec<u8> {
    let mut codec = LengthDelimitedCodec::new();
    let mut buf = BytesMut::new();
    let payload = Bytes::from(vec![0x5a; MESSAGE]);
    // one 4 MiB block, written repeatedly
    while buf.len() < 4 * 1024 * 1024 {
        codec.encode(payload.clone(), &mut buf).expect("encode");
    }
    buf.to_vec()
}

fn run(framed: bool, block: &[u8]) -> (f64, usize) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let rounds = TOTAL_MB / 4;
    let block = block.to_vec();
    let writer = std::thread::spawn(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        for _ in 0..rounds {
            c.write_all(&block).unwrap();
        }
    });
    let (mut s, _) = l.accept().unwrap();
    let mut buf = vec![0u8; 128 * 1024];
    let mut acc = BytesMut::with_capacity(256 * 1024);
    let mut codec = LengthDelimitedCodec::new();
    let (mut bytes, mut messages) = (0usize, 0usize);
    let t = Instant::now();
    loop {
        let k = s.read(&mut buf).unwrap();
        if k == 0 {
            break;
        }
        bytes += k;
        if framed {
            acc.extend_from_slice(&buf[..k]);
            while let Some(m) = codec.decode(&mut acc).unwrap() {
                messages += usize::from(m.len() == MESSAGE);
            }
        }
    }
    let secs = t.elapsed().as_secs_f64();
    writer.join().unwrap();
    (bytes as f64 / secs, messages)
}

fn main() {
    let block = encoded();
    // warm-up, then alternate to share whatever else the machine is doing
    run(false, &block);
    let mut raw = Vec::new();
    let mut framed = Vec::new();
    let mut count = 0;
    for _ in 0..3 {
        raw.push(run(false, &block).0);
        let (r, m) = run(true, &block);
        framed.push(r);
        count = m;
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (r, f) = (med(&mut raw), med(&mut framed));
    let expected = TOTAL_MB * 1024 * 1024 / (MESSAGE + 4) / 4 * 4;
    println!("| length-prefixed framing vs raw stream ({TOTAL_MB} MB, 1 KiB messages) | {:.0} MB/s | {:.0} MB/s (raw read) | {:.2}× | ≥ 0.8× |", f / 1e6, r / 1e6, f / r);
    assert!(
        count >= expected.saturating_sub(8),
        "decoded {count} messages, expected about {expected}"
    );
}
