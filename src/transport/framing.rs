//! Three ways to put message boundaries back on a TCP byte stream, for
//! `sticky-packet`: fixed length, a delimiter and a length prefix, the last
//! two with tokio-util's codecs. Each is tried over a real loopback
//! connection read 7 bytes at a time.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec, LinesCodec};

/// Width of a fixed-length frame.
pub const FIXED: usize = 16;

/// How messages are framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Every message padded to [`FIXED`] bytes.
    Fixed,
    /// Each message ends with '\n'.
    Delimiter,
    /// Each message preceded by its 4-byte big-endian length.
    LengthPrefix,
}

impl Framing {
    /// All three, in the order the demo shows them.
    pub const ALL: [Framing; 3] = [Framing::Fixed, Framing::Delimiter, Framing::LengthPrefix];

    /// The JSON key.
    pub fn key(self) -> &'static str {
        match self {
            Framing::Fixed => "fixed",
            Framing::Delimiter => "delimiter",
            Framing::LengthPrefix => "length_prefix",
        }
    }
}

/// Fixed-length frames: every message is padded to the same width.
pub struct FixedLength(pub usize);

impl Decoder for FixedLength {
    type Item = Bytes;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> std::io::Result<Option<Bytes>> {
        Ok((src.len() >= self.0).then(|| src.split_to(self.0).freeze()))
    }
}

/// What one framing got back from the stream.
#[derive(Clone, Debug)]
pub struct Framed {
    /// The messages decoded, in order.
    pub recovered: Vec<String>,
    /// recv() calls it took.
    pub reads: usize,
    /// The start of the stream as bytes a person can read (`\x00` escapes).
    pub preview: String,
}

fn codec_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
}

/// The stream `messages` make when framed as `kind`, one chunk per message.
pub fn encode(kind: Framing, messages: &[String]) -> std::io::Result<Vec<Vec<u8>>> {
    messages
        .iter()
        .map(|m| {
            let mut b = BytesMut::new();
            match kind {
                Framing::Fixed => {
                    b.extend_from_slice(m.as_bytes());
                    b.resize(FIXED, b' ');
                }
                Framing::Delimiter => LinesCodec::new()
                    .encode(m.as_str(), &mut b)
                    .map_err(codec_error)?,
                Framing::LengthPrefix => LengthDelimitedCodec::new()
                    .encode(Bytes::from(m.clone()), &mut b)
                    .map_err(codec_error)?,
            }
            Ok(b.to_vec())
        })
        .collect()
}

/// Send `messages` framed as `kind` (one write each), read them back 7 bytes
/// at a time after `pause`, and decode.
pub fn framed(kind: Framing, messages: &[String], pause: Duration) -> std::io::Result<Framed> {
    let chunks = encode(kind, messages)?;
    let preview: String = chunks
        .iter()
        .flatten()
        .take(40)
        .map(|b| {
            if b.is_ascii_graphic() || *b == b' ' {
                (*b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect();
    let (mut c, mut s) = super::stream::pair()?;
    for f in &chunks {
        c.write_all(f)?;
    }
    c.shutdown(Shutdown::Write)?;
    std::thread::sleep(pause);
    let mut buf = BytesMut::new();
    let mut chunk = [0u8; 7];
    let mut reads = 0;
    let mut recovered = Vec::new();
    let mut fixed = FixedLength(FIXED);
    let mut lines = LinesCodec::new();
    let mut lens = LengthDelimitedCodec::new();
    loop {
        let k = s.read(&mut chunk)?;
        if k == 0 {
            break;
        }
        reads += 1;
        buf.extend_from_slice(&chunk[..k]);
        loop {
            let next = match kind {
                Framing::Fixed => fixed
                    .decode(&mut buf)?
                    .map(|b| String::from_utf8_lossy(&b).trim_end().to_string()),
                Framing::Delimiter => lines.decode(&mut buf).map_err(codec_error)?,
                Framing::LengthPrefix => lens
                    .decode(&mut buf)?
                    .map(|b| String::from_utf8_lossy(&b).into_owned()),
            };
            match next {
                Some(m) => recovered.push(m),
                None => break,
            }
        }
    }
    Ok(Framed {
        recovered,
        reads,
        preview: format!("{preview}…"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_length_decoder_cuts_exactly() {
        let mut d = FixedLength(4);
        let mut b = BytesMut::from(&b"abcdefg"[..]);
        assert_eq!(
            d.decode(&mut b).unwrap().unwrap(),
            Bytes::from_static(b"abcd")
        );
        assert!(
            d.decode(&mut b).unwrap().is_none(),
            "3 bytes are not a frame"
        );
        assert_eq!(b.len(), 3);
    }

    #[test]
    fn encodings_are_the_documented_bytes() {
        let m = vec!["hi".to_string()];
        assert_eq!(encode(Framing::Fixed, &m).unwrap()[0], b"hi              ");
        assert_eq!(encode(Framing::Delimiter, &m).unwrap()[0], b"hi\n");
        assert_eq!(
            encode(Framing::LengthPrefix, &m).unwrap()[0],
            b"\x00\x00\x00\x02hi"
        );
    }

    #[test]
    fn every_framing_recovers_the_messages() {
        let m: Vec<String> = (0..12)
            .map(|i| format!("{i}:{}", "x".repeat(i % 5)))
            .collect();
        for k in Framing::ALL {
            let got = framed(k, &m, Duration::from_millis(5)).unwrap();
            assert_eq!(got.recovered, m, "{}", k.key());
            assert!(got.reads > 1);
            assert!(got.preview.ends_with('…'));
        }
    }
}
