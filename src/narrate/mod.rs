//! The narration model: what a demo says, independent of how it is shown.
//!
//! A demo builds [`Step`]s (what happened, why, which interview questions it
//! answers, and the evidence: facts, packets, machine-readable data) and hands
//! them to a [`Narrator`]. The narrator owns output, language and pacing; the
//! pure functions in [`text`] and [`json`] turn a step into a string. Demos
//! never print.

pub mod html;
pub mod json;
pub mod ladder;
pub mod text;
pub mod wrap;

use std::io::{self, BufRead, IsTerminal, Write};
use std::ops::Range;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The schema tag carried by every JSON object netlab prints.
pub const SCHEMA: &str = "netlab/1";

/// Output language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// 中文
    Zh,
    /// English
    En,
}

impl Lang {
    /// The language a user's locale asks for: LC_ALL, then LC_MESSAGES, then
    /// LANG; anything starting with `zh` is Chinese, everything else English.
    pub fn from_env_values(
        lc_all: Option<&str>,
        lc_messages: Option<&str>,
        lang: Option<&str>,
    ) -> Lang {
        let chosen = [lc_all, lc_messages, lang]
            .into_iter()
            .flatten()
            .find(|v| !v.is_empty());
        match chosen {
            Some(v) if v.to_ascii_lowercase().starts_with("zh") => Lang::Zh,
            _ => Lang::En,
        }
    }

    /// [`Lang::from_env_values`] over the process environment.
    pub fn from_env() -> Lang {
        let get = |k| std::env::var(k).ok();
        Lang::from_env_values(
            get("LC_ALL").as_deref(),
            get("LC_MESSAGES").as_deref(),
            get("LANG").as_deref(),
        )
    }

    /// The short code used in JSON.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

/// A piece of prose in both languages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text {
    /// English.
    pub en: String,
    /// Chinese.
    pub zh: String,
}

impl Text {
    /// The text in the given language.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }

    /// True when both languages are empty.
    pub fn is_empty(&self) -> bool {
        self.en.is_empty() && self.zh.is_empty()
    }
}

impl From<String> for Text {
    /// A value that reads the same in both languages (an address, a number).
    fn from(s: String) -> Text {
        Text {
            en: s.clone(),
            zh: s,
        }
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::from(s.to_string())
    }
}

/// Build a [`Text`] from English and Chinese.
pub fn tx(en: impl Into<String>, zh: impl Into<String>) -> Text {
    Text {
        en: en.into(),
        zh: zh.into(),
    }
}

/// Whether to colour what goes to `stream`: anstream's decision (a terminal,
/// NO_COLOR unset; CLICOLOR and CLICOLOR_FORCE honoured), and never with
/// TERM=dumb, which anstream lets through when the CI variable is set.
pub fn colour_on<S: anstream::stream::RawStream>(stream: &S) -> bool {
    anstream::AutoStream::choice(stream) != anstream::ColorChoice::Never
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// A typed result's fields, for a step's data or the JSON summary (which
/// flattens them); anything that is not a struct or map gives none.
pub fn fields(v: &impl serde::Serialize) -> Map<String, Value> {
    match serde_json::to_value(v) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// A labelled fact shown under a step: "server  127.53.0.1:5300".
#[derive(Clone, Debug)]
pub struct Fact {
    /// What the value is.
    pub label: Text,
    /// The value: mostly the same in every language (an address, a number, a
    /// record), but words in it are translated.
    pub value: Text,
}

/// Which way a packet went, seen from netlab.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// netlab sent it.
    #[default]
    Sent,
    /// netlab received it.
    Received,
    /// Seen on a lab link by a capture.
    Captured,
}

/// One field of a packet: its name, the bytes it occupies, its decoded value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldView {
    /// Field name as the RFC calls it (ID, QDCOUNT, QNAME, ...).
    pub name: String,
    /// Byte range inside the packet payload.
    pub range: Range<usize>,
    /// Decoded value (numbers and names; the few words in it are translated).
    pub value: Text,
    /// What the field means, one line.
    pub meaning: Text,
}

/// One packet of a run: who sent it to whom, its bytes and what they mean.
///
/// This is the one record every renderer reads: the text view lists it (and
/// shows its byte view when asked), the ladder draws it as an arrow, JSON
/// carries it whole.
#[derive(Clone, Debug, Default)]
pub struct Packet {
    /// Sent, received, or captured on a link.
    pub direction: Direction,
    /// "udp", "tcp", "ethernet", "ipv4", "icmp".
    pub transport: &'static str,
    /// The other end ("127.53.0.1:5300"), or the link a frame was captured on ("h1:eth0").
    pub peer: String,
    /// The participant that sent it: `stub`, `resolver`, `a.root-servers.net`, `h1`, `r1` …
    pub from: String,
    /// The participant it was sent to (`*` for a broadcast).
    pub to: String,
    /// One short line for the ladder: `query A www.baidu.com`, `referral to com.`, `SYN`.
    pub label: Text,
    /// When it was sent or seen, if known.
    pub at: Option<std::time::SystemTime>,
    /// Sent but never arrived (dropped on a lossy link, or no reply came).
    pub lost: bool,
    /// One line, tcpdump style (may be empty).
    pub summary: Text,
    /// The application payload (for DNS over TCP: without the 2-byte length).
    pub bytes: Vec<u8>,
    /// Field table over `bytes`.
    pub fields: Vec<FieldView>,
    /// Whether the text renderer shows the byte view for this packet.
    pub show_bytes: bool,
    /// Left out of the text view's list (still in the ladder, JSON and page):
    /// for the many look-alike packets of a bulk phase.
    pub quiet: bool,
    /// A second look at a packet recorded in an earlier step, for its byte
    /// view only: not a packet of its own (no arrow, no JSON record).
    pub echo: bool,
    /// The packet as it went on the wire, for `--pcap`: a captured Ethernet
    /// frame, or an IPv4 packet (its headers rebuilt when only the payload was seen).
    pub wire: Option<Wire>,
    /// Field-name prefixes (`eth.`, `ip.`) the default byte view folds into
    /// one line, because an earlier view explained those headers; `--bytes`
    /// shows them.
    pub hide: Vec<&'static str>,
}

/// A packet's bytes as the capture file holds them.
#[derive(Clone, Debug, Default)]
pub struct Wire {
    /// Where it was seen: a lab link (`h1:eth0`) or a socket of netlab's.
    pub link: String,
    /// An Ethernet frame (else an IPv4 packet).
    pub ethernet: bool,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The IPv4 and UDP/TCP headers were rebuilt by netlab from the socket's
    /// addresses (the payload is exact).
    pub rebuilt: bool,
    /// The frame's length on the wire when only its first bytes were kept
    /// (a capture with a snap length, as `tcpdump -s`); None when whole.
    pub original_len: Option<usize>,
}

impl Packet {
    /// The protocol that carried it, for grouping: `TCP`, `UDP`, `ICMP`,
    /// `ARP`, from its bytes when it has them.
    pub fn kind(&self) -> &'static str {
        let proto = match &self.wire {
            Some(w) if w.ethernet => match w.bytes.get(12..14) {
                Some([0x08, 0x06]) => return "ARP",
                _ => crate::wire::frame::transport(&w.bytes).map(|(p, _)| p),
            },
            Some(w) => w.bytes.get(9).copied(),
            None => None,
        };
        match (proto, self.transport) {
            (Some(6), _) | (None, "tcp") => "TCP",
            (Some(17), _) | (None, "udp") => "UDP",
            (Some(1), _) | (None, "icmp") => "ICMP",
            _ => "IP",
        }
    }
}

impl Wire {
    /// A frame captured on a link, exactly as it crossed it.
    pub fn frame(link: &str, bytes: &[u8]) -> Wire {
        Wire {
            link: link.to_string(),
            ethernet: true,
            bytes: bytes.to_vec(),
            rebuilt: false,
            original_len: None,
        }
    }
}

impl Packet {
    /// This packet again, for a byte view in a later step.
    pub fn echo(&self) -> Packet {
        Packet {
            echo: true,
            show_bytes: true,
            quiet: false,
            ..self.clone()
        }
    }

    /// Name the two ends and the label (builder style).
    pub fn between(
        mut self,
        from: impl Into<String>,
        to: impl Into<String>,
        label: impl Into<Text>,
    ) -> Self {
        self.from = from.into();
        self.to = to.into();
        self.label = label.into();
        self
    }
}

/// "1 read", "3 reads": a count with its noun, in English (Chinese needs none).
pub fn plural(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One narrated step of a demo.
#[derive(Clone, Debug, Default)]
pub struct Step {
    /// The stage this step belongs to; a heading is printed when it changes.
    pub section: Option<Text>,
    /// What happened, one line.
    pub title: Text,
    /// Why it happened / what it teaches.
    pub detail: Text,
    /// Where the interview notes are wrong or imprecise, and what the packet shows instead.
    pub correction: Option<Text>,
    /// Catalogue ids this step answers (Q4, Q27, ...).
    pub questions: Vec<&'static str>,
    /// Labelled values.
    pub facts: Vec<Fact>,
    /// Packets with their byte views.
    pub packets: Vec<Packet>,
    /// Machine-readable specifics for `--json` (an object).
    pub data: Map<String, Value>,
    /// Render as a bare line (a ping reply), without number or tags.
    pub plain: bool,
    /// Left out of the text view because a later step sums it up (the lossy
    /// phase's reply lines, drawn as one strip); JSON and the page keep it.
    pub folded: bool,
    /// The idea `detail` explains. The text view gives a concept's detail the
    /// first time only, so a second referral is one line, not the same
    /// paragraph again; JSON always carries the detail.
    pub concept: Option<&'static str>,
}

impl Step {
    /// A bare output line, like the lines ping prints per reply.
    pub fn line(text: Text, questions: &[&'static str]) -> Self {
        Step {
            title: text,
            questions: questions.to_vec(),
            plain: true,
            ..Step::default()
        }
    }

    /// A step with a title, detail and the questions it answers.
    pub fn new(title: Text, detail: Text, questions: &[&'static str]) -> Self {
        Step {
            title,
            detail,
            questions: questions.to_vec(),
            ..Step::default()
        }
    }

    /// Add a fact.
    pub fn fact(mut self, label: Text, value: impl Into<Text>) -> Self {
        self.facts.push(Fact {
            label,
            value: value.into(),
        });
        self
    }

    /// Add a machine-readable value.
    pub fn data(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.data.insert(key.to_string(), value.into());
        self
    }

    /// Attach a typed result as machine-readable data (JSON only).
    pub fn typed(self, key: &str, value: &impl serde::Serialize) -> Self {
        let v = serde_json::to_value(value).unwrap_or(Value::Null);
        self.data(key, v)
    }

    /// Set the section heading.
    pub fn section(mut self, section: Text) -> Self {
        self.section = Some(section);
        self
    }

    /// Attach a correction of the notes.
    pub fn correction(mut self, c: Text) -> Self {
        self.correction = Some(c);
        self
    }

    /// Attach packet records.
    pub fn with_packets(mut self, packets: Vec<Packet>) -> Self {
        self.packets.extend(packets);
        self
    }

    /// Name the concept the detail explains (said once per run in the text view).
    pub fn concept(mut self, c: &'static str) -> Self {
        self.concept = Some(c);
        self
    }
}

/// The end of a demo: a human summary and the machine-readable result.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Headline, e.g. "www.baidu.com. A 203.0.113.10".
    pub title: Text,
    /// Lines under the headline.
    pub lines: Vec<Text>,
    /// Questions the whole run answered.
    pub questions: Vec<&'static str>,
    /// Fields of the JSON summary object (flattened into it).
    pub data: Map<String, Value>,
    /// Whether the network gave the answer (green) or said no (red).
    pub ok: bool,
}

/// How output is rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Numbered, optionally coloured text.
    Text {
        /// ANSI colour on.
        color: bool,
    },
    /// JSON Lines, schema netlab/1.
    Json,
}

/// Options shared by all renderers.
#[derive(Clone, Copy, Debug)]
pub struct RenderOpts {
    /// zh or en.
    pub lang: Lang,
    /// Show the byte view for every packet, not only the ones a demo marks.
    pub all_bytes: bool,
    /// Colour on (text only).
    pub color: bool,
    /// Columns to fit the text into.
    pub width: usize,
}

/// Receives steps from a demo and writes them, pacing as asked.
pub struct Narrator {
    demo: &'static str,
    seq: u64,
    /// Numbered (non-plain) steps so far, for the text renderer.
    numbered: u64,
    format: Format,
    opts: RenderOpts,
    pace: Option<Duration>,
    step_mode: bool,
    last_section: Option<Text>,
    brief: bool,
    seen: text::Seen,
    concepts: std::collections::HashSet<&'static str>,
    corrections: std::collections::HashSet<String>,
    ladder: Vec<ladder::Row>,
    /// Whether the text view has printed anything yet.
    printed: bool,
    pcap: Option<crate::pcap::PcapOut>,
    /// The run as JSON values, kept for `--html`.
    page: Option<(std::path::PathBuf, std::fs::File, Vec<serde_json::Value>)>,
    out: Box<dyn Write + Send>,
}

/// How the narrator should behave; built by main from the command line.
#[derive(Clone, Copy, Debug)]
pub struct NarratorConfig {
    /// Text or JSON.
    pub format: Format,
    /// zh or en.
    pub lang: Lang,
    /// Byte view for every packet.
    pub all_bytes: bool,
    /// Pause between steps.
    pub pace: Option<Duration>,
    /// Wait for Enter between steps (only when stdin is a terminal).
    pub step: bool,
    /// Columns of text (see [`NarratorConfig::width_wanted`]).
    pub width: usize,
    /// Only the ladder and the summary.
    pub brief: bool,
}

impl NarratorConfig {
    /// Whether colour should be used on stdout: see [`colour_on`].
    pub fn color_wanted() -> bool {
        colour_on(&io::stdout())
    }

    /// The width to wrap to: `--width`, else the terminal's (stdout), else
    /// `COLUMNS`, else 80.
    pub fn width_wanted(flag: Option<u16>) -> usize {
        let columns = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok());
        Self::width_from(flag, crate::sys::terminal_columns(), columns)
    }

    /// [`NarratorConfig::width_wanted`] over given values (tested as a table).
    pub fn width_from(flag: Option<u16>, terminal: Option<usize>, columns: Option<usize>) -> usize {
        flag.map(usize::from)
            .or(terminal)
            .or(columns)
            .filter(|w| *w >= MIN_WIDTH)
            .unwrap_or(80)
            .min(MAX_WIDTH)
    }
}

/// Narrowest width netlab wraps to; a narrower terminal gets 80 columns' text.
pub const MIN_WIDTH: usize = 40;
/// Widest width netlab wraps to.
pub const MAX_WIDTH: usize = 500;

impl Narrator {
    /// A narrator writing to stdout.
    pub fn stdout(demo: &'static str, cfg: NarratorConfig) -> Self {
        Self::new(demo, cfg, Box::new(io::stdout()))
    }

    /// A narrator writing to any writer (tests).
    pub fn new(demo: &'static str, cfg: NarratorConfig, out: Box<dyn Write + Send>) -> Self {
        let color = matches!(cfg.format, Format::Text { color: true });
        Narrator {
            demo,
            seq: 0,
            numbered: 0,
            format: cfg.format,
            opts: RenderOpts {
                lang: cfg.lang,
                all_bytes: cfg.all_bytes,
                color,
                width: cfg.width,
            },
            pace: cfg.pace,
            step_mode: cfg.step && io::stdin().is_terminal(),
            last_section: None,
            brief: cfg.brief,
            seen: text::Seen::default(),
            concepts: Default::default(),
            corrections: Default::default(),
            ladder: Vec::new(),
            printed: false,
            pcap: None,
            page: None,
            out,
        }
    }

    /// The language in use.
    pub fn lang(&self) -> Lang {
        self.opts.lang
    }

    /// The text view's width in columns.
    pub fn width(&self) -> usize {
        self.opts.width
    }

    /// Write every packet record of the run to this capture file too.
    pub fn set_pcap(&mut self, pcap: crate::pcap::PcapOut) {
        self.pcap = Some(pcap);
    }

    /// Also write the run as a self-contained HTML page to `path` at the end
    /// (opened now: a path that cannot be written fails before the run).
    pub fn set_html(&mut self, path: std::path::PathBuf) -> Result<()> {
        let f = crate::private::create_output(&path)?;
        self.page = Some((path, f, Vec::new()));
        Ok(())
    }

    /// Write the page, if one was asked for.
    pub fn finish_html(&mut self) -> Result<()> {
        let Some((path, f, lines)) = self.page.take() else {
            return Ok(());
        };
        html::write_to(&path, f, &lines, self.opts.lang)
    }

    /// A sentence for the capture file's section comment (how its packets were obtained).
    pub fn pcap_note(&mut self, note: impl Into<String>) {
        if let Some(p) = self.pcap.as_mut() {
            p.note(note);
        }
    }

    /// Whether packet records should carry their wire bytes (`--pcap` was asked for).
    pub fn capturing(&self) -> bool {
        self.pcap.is_some()
    }

    /// Whether the run's packets go to a file (`--pcap` or `--html`): then a
    /// demo captures even the phases it otherwise leaves out for speed.
    pub fn keeps_files(&self) -> bool {
        self.pcap.is_some() || self.page.is_some()
    }

    /// Write the capture file, if one was asked for; returns its path.
    pub fn finish_pcap(&mut self) -> Result<Option<std::path::PathBuf>> {
        match self.pcap.take() {
            Some(p) => p.finish().map(Some),
            None => Ok(None),
        }
    }

    /// Emit one step, then pause or wait as configured.
    pub fn step(&mut self, step: Step) -> Result<()> {
        self.seq += 1;
        let new_section = match (&step.section, &self.last_section) {
            (Some(s), Some(last)) if s == last => None,
            (Some(s), _) => Some(s.clone()),
            (None, _) => None,
        };
        if let Some(s) = &new_section {
            self.last_section = Some(s.clone());
        }
        if !step.plain {
            self.numbered += 1;
        }
        let number = self.numbered;
        if let Some(pc) = self.pcap.as_mut() {
            pc.step(&step);
        }
        // The step as JSON, made once for whoever needs it: the page, or stdout.
        let value = (self.page.is_some() || self.format == Format::Json)
            .then(|| json::step_value(self.demo, self.seq, number, &step, self.opts.lang));
        if let (Some((_, _, lines)), Some(v)) = (self.page.as_mut(), &value) {
            lines.push(v.clone());
        }
        if let (Format::Json, Some(v)) = (self.format, value) {
            writeln!(self.out, "{v}").map_err(Error::Output)?;
            self.out.flush().map_err(Error::Output)?;
            return self.pause();
        }
        // What follows is the text view's: the ladder's rows, then the step.
        for p in step.packets.iter().filter(|p| !p.echo) {
            self.ladder.push(ladder::Row {
                step: number,
                from: p.from.clone(),
                to: p.to.clone(),
                label: if p.label.is_empty() {
                    p.summary.get(self.opts.lang).to_string()
                } else {
                    p.label.get(self.opts.lang).to_string()
                },
                lost: p.lost,
                kind: p.kind().to_string(),
            });
        }
        if self.brief || step.folded {
            return Ok(());
        }
        let mut step = step;
        // A concept is explained once; so is a correction.
        if let Some(c) = step.concept {
            if !self.concepts.insert(c) {
                step.detail = Text::default();
            }
        }
        if let Some(c) = &step.correction {
            if !self.corrections.insert(c.en.clone()) {
                step.correction = None;
            }
        }
        let rendered = text::step(
            number,
            new_section.as_ref(),
            &step,
            &self.opts,
            &mut self.seen,
        );
        // A section's blank line separates it from what came before: the first has nothing before it.
        let rendered = if self.printed {
            rendered.as_str()
        } else {
            rendered.strip_prefix('\n').unwrap_or(&rendered)
        };
        self.printed = true;
        writeln!(self.out, "{rendered}").map_err(Error::Output)?;
        self.out.flush().map_err(Error::Output)?;
        self.pause()
    }

    /// Emit the summary: the last line of a JSON run; in text, the ladder of
    /// the run's packets and then the summary block.
    pub fn summary(&mut self, summary: Summary) -> Result<()> {
        let seq = self.seq + 1;
        let value = (self.page.is_some() || self.format == Format::Json)
            .then(|| json::summary_value(self.demo, seq, &summary, self.opts.lang));
        if let (Some((_, _, lines)), Some(v)) = (self.page.as_mut(), &value) {
            lines.push(v.clone());
        }
        // The files are written before the summary: a run whose capture or page could
        // not be written ends with that error, not with a summary saying all went well.
        self.finish_pcap()?;
        self.finish_html()?;
        self.seq = seq;
        let rendered = match value {
            Some(v) if self.format == Format::Json => v.to_string(),
            _ => {
                let ladder = text::ladder(&self.ladder, &self.opts);
                let sum = text::summary(&summary, &self.opts);
                let all = if ladder.is_empty() {
                    sum
                } else {
                    format!("{ladder}\n{sum}")
                };
                // Nothing before it: no blank line to separate it from.
                match (self.printed, all.strip_prefix('\n')) {
                    (false, Some(rest)) => rest.to_string(),
                    _ => all,
                }
            }
        };
        self.printed = true;
        writeln!(self.out, "{rendered}").map_err(Error::Output)?;
        self.out.flush().map_err(Error::Output)?;
        Ok(())
    }

    /// Emit an error object (JSON) or line (text, to stderr by main).
    pub fn error_json(&mut self, err: &Error) -> Result<()> {
        self.seq += 1;
        let line = json::error_of(self.demo, self.seq, err, self.opts.lang);
        writeln!(self.out, "{line}").map_err(Error::Output)?;
        self.out.flush().map_err(Error::Output)?;
        Ok(())
    }

    /// True when rendering JSON.
    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    fn pause(&mut self) -> Result<()> {
        if self.step_mode {
            let prompt = match self.opts.lang {
                Lang::Zh => "   ⏎ 按回车继续 …",
                Lang::En => "   ⏎ press Enter for the next step …",
            };
            eprint!("{prompt}");
            let mut line = String::new();
            io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| Error::sys("read", "读取", "standard input (--step)", e))?;
            if io::stderr().is_terminal() {
                // Erase the prompt line so the projected output stays clean.
                eprint!("\x1b[1A\x1b[2K");
            }
        } else if let Some(p) = self.pace {
            std::thread::sleep(p);
        }
        Ok(())
    }
}
