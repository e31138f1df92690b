//! `--pcap FILE`: the packets of a run, for Wireshark.
//!
//! A renderer of the run's packet records: the narrator hands it each step,
//! and every record that carries wire bytes becomes one enhanced packet block,
//! commented with its step's title (the step's explanation once, on its first
//! packet). Writes pcapng: one interface block per link or socket. Captured
//! frames are exact; where netlab saw a packet only at a socket, its IPv4 and
//! UDP/TCP headers were rebuilt from the socket's addresses, and the comment
//! says so. The file's section comment says how the packets were obtained.
//!
//! The blocks are pcap-parser's, and so is their encoding (`ToVec`: lengths,
//! padding, the end of options); this file only fills them in.

use std::borrow::Cow;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use pcap_parser::{
    EnhancedPacketBlock, InterfaceDescriptionBlock, Linktype, OptionCode, PcapNGOption,
    SectionHeaderBlock, ToVec,
};

use super::{Body, Line, Sink};
use crate::error::{Error, Result};

struct Pkt {
    iface: u32,
    at: SystemTime,
    bytes: Vec<u8>,
    /// Length on the wire (more than `bytes` when the capture kept only the headers).
    len: usize,
    comment: String,
}

/// Packets collected during a run, written by [`PcapOut::finish`].
pub struct PcapOut {
    path: PathBuf,
    /// Opened once, when the run starts (a temporary file beside the name,
    /// or a named pipe with a reader); taken when the file is written.
    file: Option<crate::private::Output>,
    ifaces: Vec<(String, Linktype)>,
    packets: Vec<Pkt>,
    notes: Vec<String>,
}

impl PcapOut {
    /// Check that `path` can be written (created now, so a bad path fails before the demo runs).
    pub fn create(path: &Path) -> Result<PcapOut> {
        let file = crate::private::Output::create(path)?;
        Ok(PcapOut {
            path: path.to_path_buf(),
            file: Some(file),
            ifaces: Vec::new(),
            packets: Vec::new(),
            notes: Vec::new(),
        })
    }

    /// A sentence for the file's section comment (what Wireshark shows under
    /// Statistics → Capture File Properties): how the packets were obtained.
    pub fn note(&mut self, s: impl Into<String>) {
        let s = s.into();
        if !self.notes.contains(&s) {
            self.notes.push(s);
        }
    }

    /// The interface id for a link name and type, adding it on first use.
    fn iface(&mut self, name: &str, link: Linktype) -> u32 {
        if let Some(i) = self
            .ifaces
            .iter()
            .position(|(n, l)| n == name && *l == link)
        {
            return i as u32;
        }
        self.ifaces.push((name.to_string(), link));
        (self.ifaces.len() - 1) as u32
    }

    fn push(&mut self, iface: u32, at: SystemTime, bytes: Vec<u8>, comment: &str) {
        self.packets.push(Pkt {
            iface,
            at,
            len: bytes.len(),
            bytes,
            comment: comment.to_string(),
        });
    }

    /// Add the packet records of a step that carry wire bytes. Each packet's
    /// comment is its step's title (and its own label); the step's explanation
    /// goes once, on the step's first packet; rebuilt headers are said so.
    pub fn step(&mut self, step: &crate::record::Step) {
        let mut first = true;
        for p in step.packets.iter().filter(|p| !p.echo) {
            let Some(w) = &p.wire else { continue };
            let mut comment = format!("{} — {}", step.title.en, p.label.en);
            if first && !step.detail.en.is_empty() {
                comment.push('\n');
                comment.push_str(&step.detail.en);
            }
            if w.rebuilt {
                comment.push_str("\n(IPv4 and UDP/TCP headers rebuilt by netlab from the socket addresses; the payload is exact)");
            }
            if p.lost {
                comment.push_str("\n(lost: it never arrived)");
            }
            first = false;
            let at = p.at.unwrap_or_else(SystemTime::now);
            let link = if w.ethernet {
                Linktype::ETHERNET
            } else {
                Linktype::IPV4
            };
            let iface = self.iface(&w.link, link);
            self.push(iface, at, w.bytes.clone(), &comment);
            if let (Some(len), Some(last)) = (w.original_len, self.packets.last_mut()) {
                last.len = len.max(last.bytes.len());
            }
        }
    }

    /// Write the file (once; later calls do nothing).
    pub fn finish(&mut self) -> Result<PathBuf> {
        let path = self.path.clone();
        let Some(mut out) = self.file.take() else {
            return Ok(path);
        };
        let io = |source: std::io::Error| Error::Write {
            path: path.clone(),
            source,
        };
        let mut notes = vec![format!(
            "netlab {}: each packet's comment is the step it belongs to",
            env!("CARGO_PKG_VERSION")
        )];
        notes.extend(self.notes.iter().cloned());
        let notes = notes.join("\n");
        let mut w = BufWriter::new(out.file());
        let section = SectionHeaderBlock {
            block_type: 0,
            block_len1: 0,
            bom: 0,
            major_version: 1,
            minor_version: 0,
            // Unknown: the file is written in one go, but readers accept -1.
            section_len: -1,
            options: vec![
                text_option(OptionCode::Comment, &notes),
                text_option(OptionCode::ShbUserAppl, "netlab"),
            ],
            block_len2: 0,
        };
        write_block(&mut w, section).map_err(io)?;
        for (name, link) in &self.ifaces {
            let iface = InterfaceDescriptionBlock {
                block_type: 0,
                block_len1: 0,
                linktype: *link,
                reserved: 0,
                snaplen: 0,
                options: vec![text_option(OptionCode::IfName, name)],
                block_len2: 0,
                // Timestamps below are in nanoseconds (10^-9 s); the default is microseconds.
                if_tsresol: 9,
                if_tsoffset: 0,
            };
            write_block(&mut w, iface).map_err(io)?;
        }
        self.packets.sort_by_key(|p| p.at);
        for p in &self.packets {
            let ns =
                p.at.duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos();
            let ns = u64::try_from(ns).unwrap_or(u64::MAX);
            let packet = EnhancedPacketBlock {
                block_type: 0,
                block_len1: 0,
                if_id: p.iface,
                ts_high: (ns >> 32) as u32,
                ts_low: ns as u32,
                caplen: p.bytes.len() as u32,
                origlen: p.len as u32,
                data: &p.bytes,
                options: vec![text_option(OptionCode::Comment, &p.comment)],
                block_len2: 0,
            };
            write_block(&mut w, packet).map_err(io)?;
        }
        w.into_inner().map_err(|e| io(e.into_error()))?;
        out.commit()?;
        Ok(path)
    }
}

/// Encode one block and write it. pcap-parser's `to_vec` first fixes the
/// block's type, its lengths and its end of options.
fn write_block(w: &mut impl Write, mut block: impl ToVec) -> std::io::Result<()> {
    let bytes = block
        .to_vec()
        .map_err(|e| std::io::Error::other(format!("pcapng encoding: {e:?}")))?;
    w.write_all(&bytes)
}

/// A text option (a comment, a name), cut at a character boundary to the
/// 65 535 bytes an option's length can say.
fn text_option(code: OptionCode, text: &str) -> PcapNGOption<'_> {
    let mut end = text.len().min(usize::from(u16::MAX));
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    PcapNGOption {
        code,
        len: end as u16,
        value: Cow::Borrowed(&text.as_bytes()[..end]),
    }
}

impl Sink for PcapOut {
    fn line(&mut self, line: &Line) -> Result<()> {
        if let Body::Step(s) = &line.body {
            self.step(&s.step);
        }
        Ok(())
    }

    fn note(&mut self, note: &str) {
        PcapOut::note(self, note.to_string());
    }

    fn finish(&mut self) -> Result<()> {
        PcapOut::finish(self).map(|_| ())
    }

    fn is_file(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_parser::{Block, PcapBlockOwned, PcapNGSlice};
    use std::time::Duration;

    /// What a pcapng reader finds in the file: its blocks, in order.
    fn blocks(bytes: &[u8]) -> Vec<Block<'_>> {
        PcapNGSlice::from_slice(bytes)
            .expect("a section header first")
            .map(|b| match b.expect("every block parses") {
                PcapBlockOwned::NG(b) => b,
                _ => panic!("a legacy pcap block in a pcapng file"),
            })
            .collect()
    }

    fn comment<'a>(options: &'a [PcapNGOption]) -> Option<&'a str> {
        options
            .iter()
            .find(|o| o.code == OptionCode::Comment)
            .map(|o| o.as_str().unwrap())
    }

    #[test]
    fn the_file_holds_each_packet_in_time_order_with_its_link_nanoseconds_length_and_comment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.pcapng");
        let mut out = PcapOut::create(&path).unwrap();
        out.note("captured on lab links");
        let t0 = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        let eth = out.iface("h1:eth0", Linktype::ETHERNET);
        let ip = out.iface("127.0.0.1:53", Linktype::IPV4);
        assert_eq!(
            out.iface("h1:eth0", Linktype::ETHERNET),
            eth,
            "one block per link"
        );
        // Pushed out of order: the file is in wire order.
        out.push(
            ip,
            t0 + Duration::from_nanos(7),
            vec![0x45; 20],
            "第二步 — reply",
        );
        out.push(eth, t0, vec![0xff; 14], "step one — request");
        // A frame of which the capture kept only 14 bytes of 1514.
        out.packets[1].len = 1514;
        out.finish().unwrap();

        let bytes = std::fs::read(&path).unwrap();
        let b = blocks(&bytes);
        assert_eq!(b.len(), 5, "a section, two interfaces, two packets");
        let Block::SectionHeader(shb) = &b[0] else {
            panic!("a section header first")
        };
        let said = comment(&shb.options).unwrap();
        assert!(said.starts_with("netlab "), "{said}");
        assert!(said.ends_with("\ncaptured on lab links"), "{said}");
        assert_eq!(shb.shb_userappl().unwrap().unwrap(), "netlab");
        let idb = |i: usize| match &b[i] {
            Block::InterfaceDescription(d) => d,
            _ => panic!("block {i} is not an interface"),
        };
        assert_eq!(idb(1).if_name().unwrap().unwrap(), "h1:eth0");
        assert_eq!(idb(1).linktype, Linktype::ETHERNET);
        assert_eq!(idb(2).if_name().unwrap().unwrap(), "127.0.0.1:53");
        assert_eq!(idb(2).linktype, Linktype::IPV4);
        for i in [1, 2] {
            assert_eq!(idb(i).ts_resolution(), Some(1_000_000_000), "nanoseconds");
        }
        let epb = |i: usize| match &b[i] {
            Block::EnhancedPacket(p) => p,
            _ => panic!("block {i} is not a packet"),
        };
        let (first, second) = (epb(3), epb(4));
        assert_eq!(first.if_id, eth);
        assert_eq!(
            first.decode_ts(0, 1_000_000_000),
            (1_700_000_000, 123_456_789)
        );
        assert_eq!((first.caplen, first.origlen), (14, 1514));
        assert_eq!(&first.data[..14], &[0xff; 14]);
        assert_eq!(comment(&first.options), Some("step one — request"));
        assert_eq!(second.if_id, ip);
        assert_eq!(
            second.decode_ts(0, 1_000_000_000),
            (1_700_000_000, 123_456_796)
        );
        assert_eq!((second.caplen, second.origlen), (20, 20));
        assert_eq!(comment(&second.options), Some("第二步 — reply"));
    }

    #[test]
    fn a_text_option_longer_than_an_option_can_hold_is_cut_between_characters() {
        let long = "包".repeat(30_000); // 90 000 bytes
        let o = text_option(OptionCode::Comment, &long);
        assert_eq!(usize::from(o.len), o.value.len());
        assert!(o.value.len() <= 65_535 && o.value.len() > 65_530);
        assert!(std::str::from_utf8(&o.value).is_ok());
        assert_eq!(text_option(OptionCode::Comment, "hi").value.as_ref(), b"hi");
    }
}
