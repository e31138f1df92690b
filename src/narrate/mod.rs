//! The narration model: what a demo says, independent of how it is shown.
//!
//! A demo builds [`Step`]s (what happened, why, which interview questions it
//! answers, and the evidence: facts, packets, machine-readable data) and hands
//! them to a [`Narrator`]. The narrator owns output, language and pacing; the
//! pure functions in [`text`] and [`json`] turn a step into a string. Demos
//! never print.

pub mod json;
pub mod text;

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

/// Build a [`Text`] from English and Chinese.
pub fn tx(en: impl Into<String>, zh: impl Into<String>) -> Text {
    Text {
        en: en.into(),
        zh: zh.into(),
    }
}

/// The fields of a JSON object literal, for [`Summary::data`] and [`Step::data`]:
/// `object(json!({"up": true}))`. Anything but an object gives an empty map.
pub fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A labelled fact shown under a step: "server  127.53.0.1:5300".
#[derive(Clone, Debug)]
pub struct Fact {
    /// What the value is.
    pub label: Text,
    /// The value, the same in every language (an address, a number, a record).
    pub value: String,
}

/// Which way a packet went, seen from netlab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// netlab sent it.
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
    /// Decoded value.
    pub value: String,
    /// What the field means, one line.
    pub meaning: Text,
}

/// A packet netlab sent or received, with the explanation of its bytes.
#[derive(Clone, Debug)]
pub struct Packet {
    /// Sent or received.
    pub direction: Direction,
    /// "udp", "tcp", "ethernet", "ipv4".
    pub transport: &'static str,
    /// The other end ("127.53.0.1:5300"), or the link a frame was captured on ("h1:eth0").
    pub peer: String,
    /// One line, tcpdump style (may be empty).
    pub summary: String,
    /// The application payload (for DNS over TCP: without the 2-byte length).
    pub bytes: Vec<u8>,
    /// Field table over `bytes`.
    pub fields: Vec<FieldView>,
    /// Whether the text renderer shows the byte view for this packet.
    pub show_bytes: bool,
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
    pub fn fact(mut self, label: Text, value: impl Into<String>) -> Self {
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
}

impl NarratorConfig {
    /// Whether colour should be used on stdout: a terminal, and NO_COLOR unset.
    pub fn color_wanted() -> bool {
        io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    }
}

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
            },
            pace: cfg.pace,
            step_mode: cfg.step && io::stdin().is_terminal(),
            last_section: None,
            out,
        }
    }

    /// The language in use.
    pub fn lang(&self) -> Lang {
        self.opts.lang
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
        let rendered = match self.format {
            Format::Json => json::step(self.demo, self.seq, &step, self.opts.lang),
            Format::Text { .. } => {
                if !step.plain {
                    self.numbered += 1;
                }
                text::step(self.numbered, new_section.as_ref(), &step, &self.opts)
            }
        };
        writeln!(self.out, "{rendered}")?;
        self.out.flush()?;
        self.pause()
    }

    /// Emit the summary: the last line of a JSON run.
    pub fn summary(&mut self, summary: Summary) -> Result<()> {
        self.seq += 1;
        let rendered = match self.format {
            Format::Json => json::summary(self.demo, self.seq, &summary, self.opts.lang),
            Format::Text { .. } => text::summary(&summary, &self.opts),
        };
        writeln!(self.out, "{rendered}")?;
        self.out.flush()?;
        Ok(())
    }

    /// Emit an error object (JSON) or line (text, to stderr by main).
    pub fn error_json(&mut self, err: &Error) -> Result<()> {
        self.seq += 1;
        let line = json::error(self.demo, self.seq, &err.to_string(), err.exit_code());
        writeln!(self.out, "{line}")?;
        self.out.flush()?;
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
            io::stdin().lock().read_line(&mut line)?;
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
