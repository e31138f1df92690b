//! `--pcap FILE`: the packets of a run, for Wireshark.
//!
//! A renderer of the run's packet records: the narrator hands it each step,
//! and every record that carries wire bytes becomes one enhanced packet block,
//! commented with its step's title (the step's explanation once, on its first
//! packet). Writes pcapng: one interface block per link or socket. Captured
//! frames are exact; where netlab saw a packet only at a socket, its IPv4 and
//! UDP/TCP headers were rebuilt from the socket's addresses, and the comment
//! says so. The file's section comment says how the packets were obtained.

use std::borrow::Cow;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

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
    ifaces: Vec<(String, DataLink)>,
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
    fn iface(&mut self, name: &str, link: DataLink) -> u32 {
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
                DataLink::ETHERNET
            } else {
                DataLink::IPV4
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
        let pcap = |e: pcap_file::PcapError| match e {
            pcap_file::PcapError::IoError(e) => io(e),
            other => io(std::io::Error::other(other.to_string())),
        };
        let mut notes = vec![format!(
            "netlab {}: each packet's comment is the step it belongs to",
            env!("CARGO_PKG_VERSION")
        )];
        notes.extend(self.notes.iter().cloned());
        let section = SectionHeaderBlock {
            options: vec![
                SectionHeaderOption::Comment(Cow::Owned(notes.join("\n"))),
                SectionHeaderOption::UserApplication(Cow::Borrowed("netlab")),
            ],
            ..Default::default()
        };
        let mut w =
            PcapNgWriter::with_section_header(BufWriter::new(out.file()), section).map_err(pcap)?;
        for (name, link) in &self.ifaces {
            w.write_pcapng_block(InterfaceDescriptionBlock {
                linktype: *link,
                snaplen: 0,
                options: vec![
                    InterfaceDescriptionOption::IfName(Cow::Owned(name.clone())),
                    // pcap-file writes timestamps in nanoseconds; say so (the default is microseconds).
                    InterfaceDescriptionOption::IfTsResol(9),
                ],
            })
            .map_err(pcap)?;
        }
        self.packets.sort_by_key(|p| p.at);
        for p in &self.packets {
            w.write_pcapng_block(EnhancedPacketBlock {
                interface_id: p.iface,
                timestamp: p.at.duration_since(UNIX_EPOCH).unwrap_or_default(),
                original_len: p.len as u32,
                data: Cow::Borrowed(&p.bytes),
                options: vec![EnhancedPacketOption::Comment(Cow::Borrowed(&p.comment))],
            })
            .map_err(pcap)?;
        }
        w.into_inner()
            .into_inner()
            .map_err(|e| io(e.into_error()))?;
        out.commit()?;
        Ok(path)
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
