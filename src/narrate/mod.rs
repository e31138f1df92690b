//! The narrator: numbers a demo's steps into the run record and hands each
//! line to one sink per output.
//!
//! A demo builds [`Step`]s and a [`Summary`] (the typed record, in
//! [`crate::record`]) and hands them to a [`Narrator`]. The narrator numbers
//! them into [`Line`]s, fills in what is read from the packets' own bytes
//! (each packet's protocol), paces the run (`--step`, `--pace`), and passes
//! every line to its [`Sink`]s: [`text`] (the story and the ladder),
//! [`json`] (JSON Lines), [`pcap`] (the capture file) and [`html`] (the
//! page). A new output is one more sink. Demos never print, and never ask
//! which outputs are on.

pub mod class;
pub mod html;
pub mod json;
pub mod ladder;
pub mod pcap;
pub mod text;
pub mod wrap;

use std::io::{self, BufRead, IsTerminal, Write};
use std::time::Duration;

use crate::error::{Error, Result};
pub use crate::record::{
    fields, qs, Body, Direction, Fact, Failure, FieldView, Line, Numbered, Packet, Participant,
    Step, Summary, Wire, SCHEMA,
};
pub use crate::text::{plural, tx, Lang, Text};

/// Whether to colour what goes to `stream`: anstream's decision (a terminal,
/// NO_COLOR unset; CLICOLOR and CLICOLOR_FORCE honoured), and never with
/// TERM=dumb, which anstream lets through when the CI variable is set.
pub fn colour_on<S: anstream::stream::RawStream>(stream: &S) -> bool {
    anstream::AutoStream::choice(stream) != anstream::ColorChoice::Never
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// The protocol that carried a packet, from its bytes when it has them:
/// `TCP`, `UDP`, `ICMP`, `ARP` or `IP`.
pub fn protocol_of(p: &Packet) -> &'static str {
    let proto = match &p.wire {
        Some(w) if w.ethernet => match w.bytes.get(12..14) {
            Some([0x08, 0x06]) => return "ARP",
            _ => crate::wire::frame::transport(&w.bytes).map(|(p, _)| p),
        },
        Some(w) => w.bytes.get(9).copied(),
        None => None,
    };
    match (proto, p.transport.as_str()) {
        (Some(6), _) | (None, "tcp") => "TCP",
        (Some(17), _) | (None, "udp") => "UDP",
        (Some(1), _) | (None, "icmp") => "ICMP",
        _ => "IP",
    }
}

/// One output of a run: it receives every line of the record, in order.
///
/// The text view, JSON Lines, the capture file and the page are sinks; each
/// renders the same [`Line`]s, so a saved run (`netlab render`) gives the
/// same views as the live one.
pub trait Sink {
    /// One line of the run (a step, the summary, or an error).
    fn line(&mut self, line: &Line) -> Result<()>;
    /// A sentence on how the run's packets were obtained (the capture file's
    /// section comment); most sinks ignore it.
    fn note(&mut self, _note: &str) {}
    /// The run is over: write what was kept for the end. Called once; a
    /// sink writing a file finishes before the summary reaches the screen,
    /// so a run whose file could not be written ends with that error.
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
    /// Whether this sink writes a file (finished before the screen's summary).
    fn is_file(&self) -> bool {
        false
    }
}

/// How the screen is rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Numbered, optionally coloured text.
    Text {
        /// ANSI colour on.
        color: bool,
    },
    /// JSON Lines, schema netlab/2.
    Json,
}

/// Options shared by the text renderers.
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

    /// The text view's options.
    pub fn render_opts(&self) -> RenderOpts {
        RenderOpts {
            lang: self.lang,
            all_bytes: self.all_bytes,
            color: matches!(self.format, Format::Text { color: true }),
            width: self.width,
        }
    }
}

/// Narrowest width netlab wraps to; a narrower terminal gets 80 columns' text.
pub const MIN_WIDTH: usize = 40;
/// Widest width netlab wraps to.
pub const MAX_WIDTH: usize = 500;

/// Numbers a demo's steps into lines and hands them to the sinks, pacing as asked.
pub struct Narrator {
    demo: &'static str,
    seq: u64,
    /// Numbered (non-plain) steps so far.
    numbered: u64,
    cfg: NarratorConfig,
    step_mode: bool,
    /// File sinks first, the screen's last.
    sinks: Vec<Box<dyn Sink>>,
    finished: bool,
    /// Every question a step of the run was tagged with.
    asked: Vec<String>,
}

impl Narrator {
    /// A narrator writing to stdout.
    pub fn stdout(demo: &'static str, cfg: NarratorConfig) -> Self {
        Self::new(demo, cfg, Box::new(io::stdout()))
    }

    /// A narrator writing the screen's view (text or JSON, as `cfg` says) to any writer.
    pub fn new(demo: &'static str, cfg: NarratorConfig, out: Box<dyn Write + Send>) -> Self {
        let screen: Box<dyn Sink> = match cfg.format {
            Format::Json => Box::new(json::JsonSink::new(out)),
            Format::Text { .. } => Box::new(text::TextSink::new(cfg.render_opts(), cfg.brief, out)),
        };
        Narrator {
            demo,
            seq: 0,
            numbered: 0,
            cfg,
            step_mode: cfg.step && io::stdin().is_terminal(),
            sinks: vec![screen],
            finished: false,
            asked: Vec::new(),
        }
    }

    /// The language in use.
    pub fn lang(&self) -> Lang {
        self.cfg.lang
    }

    /// The text view's width in columns.
    pub fn width(&self) -> usize {
        self.cfg.width
    }

    /// Add a sink that writes a file (`--pcap`, `--html`); it is finished
    /// before the screen shows the summary.
    pub fn add_file_sink(&mut self, sink: Box<dyn Sink>) {
        self.sinks.insert(0, sink);
    }

    /// Drop the screen's view: `render RUN --html PAGE` writes the page only.
    pub fn screen_off(&mut self) {
        self.sinks.retain(|s| s.is_file());
    }

    /// A sentence for the capture file's section comment (how its packets were obtained).
    pub fn pcap_note(&mut self, note: impl Into<String>) {
        let note = note.into();
        for s in &mut self.sinks {
            s.note(&note);
        }
    }

    fn line(&self, seq: u64, body: Body) -> Line {
        Line {
            schema: SCHEMA.to_string(),
            demo: self.demo.to_string(),
            seq,
            body,
        }
    }

    fn send(&mut self, line: &Line) -> Result<()> {
        for s in &mut self.sinks {
            s.line(line)?;
        }
        Ok(())
    }

    /// Emit one step, then pause or wait as configured.
    pub fn step(&mut self, mut step: Step) -> Result<()> {
        self.seq += 1;
        if !step.plain {
            self.numbered += 1;
        }
        for q in &step.questions {
            if !self.asked.contains(q) {
                self.asked.push(q.clone());
            }
        }
        for p in &mut step.packets {
            if p.protocol.is_empty() {
                p.protocol = protocol_of(p).to_string();
            }
        }
        let line = self.line(
            self.seq,
            Body::Step(Box::new(Numbered {
                number: self.numbered,
                step,
            })),
        );
        self.send(&line)?;
        let folded = line.step().is_some_and(|s| s.step.folded);
        if folded || (self.cfg.brief && self.cfg.format != Format::Json) {
            return Ok(());
        }
        self.pause()
    }

    /// Emit the summary, the run's last line; the files are written first.
    /// The summary's `questions` are every question the run's steps showed
    /// (and any the demo adds), in catalogue order.
    pub fn summary(&mut self, mut summary: Summary) -> Result<()> {
        for q in &self.asked {
            if !summary.questions.contains(q) {
                summary.questions.push(q.clone());
            }
        }
        summary
            .questions
            .sort_by_key(|q| q.trim_start_matches('Q').parse::<u32>().unwrap_or(u32::MAX));
        let line = self.line(self.seq + 1, Body::Summary(Box::new(summary)));
        // A file that could not be written ends the run with its error, which
        // takes the summary's place (and number).
        self.replay_end(&line)?;
        self.seq += 1;
        Ok(())
    }

    /// The last line to every sink: files get it and are finished first, the screen last.
    fn replay_end(&mut self, line: &Line) -> Result<()> {
        for s in self.sinks.iter_mut().filter(|s| s.is_file()) {
            s.line(line)?;
            s.finish()?;
        }
        for s in self.sinks.iter_mut().filter(|s| !s.is_file()) {
            s.line(line)?;
            s.finish()?;
        }
        self.finished = true;
        Ok(())
    }

    /// A saved line again (`netlab render`): to every sink as it was.
    pub fn replay(&mut self, line: &Line) -> Result<()> {
        self.seq = line.seq;
        match &line.body {
            Body::Step(_) => self.send(line),
            Body::Summary(_) | Body::Error(_) => self.replay_end(line),
        }
    }

    /// Finish every sink (a run that ended without a summary); idempotent.
    pub fn finish(&mut self) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        for s in &mut self.sinks {
            s.finish()?;
        }
        Ok(())
    }

    /// Emit an error object (JSON only; text errors go to stderr, from main).
    pub fn error_json(&mut self, err: &Error) -> Result<()> {
        self.seq += 1;
        let line = self.line(self.seq, Body::Error(err.failure()));
        if self.cfg.format == Format::Json {
            if let Some(s) = self.sinks.last_mut() {
                s.line(&line)?;
            }
        }
        Ok(())
    }

    /// True when rendering JSON.
    pub fn is_json(&self) -> bool {
        self.cfg.format == Format::Json
    }

    fn pause(&mut self) -> Result<()> {
        if self.step_mode {
            let prompt = match self.cfg.lang {
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
        } else if let Some(p) = self.cfg.pace {
            std::thread::sleep(p);
        }
        Ok(())
    }
}

/// Read a saved `--json` run (JSON Lines) for `netlab render`: every line
/// must be a netlab/2 record.
pub fn read_run(path: &std::path::Path) -> Result<Vec<Line>> {
    // A tcp-vs-udp run with its bulk phase is about 11 MB; 256 MiB is far beyond any run.
    let text = crate::private::read_input(
        path,
        256 << 20,
        &crate::text::tx("the saved run", "保存的运行记录"),
    )?;
    let mut lines = Vec::new();
    for (n, l) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(l).map_err(|e| {
            Error::usage(crate::text::tx(
                format!("{} line {}: not a JSON object ({e}); netlab reads what a run printed with --json", path.display(), n + 1),
                format!("{} 第 {} 行：不是 JSON 对象；netlab 读取的是运行时用 --json 打印的内容", path.display(), n + 1),
            ))
        })?;
        if v["schema"] != SCHEMA {
            return Err(Error::usage(crate::text::tx(
                format!(
                    "{} line {}: not a {} object (saved by another netlab version?)",
                    path.display(),
                    n + 1,
                    SCHEMA
                ),
                format!(
                    "{} 第 {} 行：不是 {} 对象（是别的 netlab 版本保存的？）",
                    path.display(),
                    n + 1,
                    SCHEMA
                ),
            )));
        }
        let line: Line = serde_json::from_value(v).map_err(|e| {
            Error::usage(crate::text::tx(
                format!(
                    "{} line {}: not a netlab record ({e})",
                    path.display(),
                    n + 1
                ),
                format!(
                    "{} 第 {} 行：不是 netlab 记录（{e}）",
                    path.display(),
                    n + 1
                ),
            ))
        })?;
        lines.push(line);
    }
    if lines.is_empty() {
        return Err(Error::usage(crate::text::tx(
            format!("{}: empty; save a run with --json first", path.display()),
            format!("{}：是空的；请先用 --json 保存一次运行", path.display()),
        )));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn json_narrator(buf: &Buf) -> Narrator {
        let cfg = NarratorConfig {
            format: Format::Json,
            lang: Lang::Zh,
            all_bytes: false,
            pace: None,
            step: false,
            width: 80,
            brief: false,
        };
        Narrator::new("ping", cfg, Box::new(buf.clone()))
    }

    #[test]
    fn the_summary_lists_every_question_its_steps_showed() {
        let buf = Buf::default();
        let mut n = json_narrator(&buf);
        n.step(Step::new(tx("a", "甲"), Text::default(), &["Q10", "Q7"]))
            .unwrap();
        n.step(Step::line(tx("b", "乙"), &["Q1"])).unwrap();
        n.summary(Summary {
            title: tx("done", "完成"),
            questions: qs(&["Q7"]),
            ..Summary::default()
        })
        .unwrap();
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let last: Line = serde_json::from_str(out.lines().last().unwrap()).unwrap();
        let Body::Summary(s) = last.body else {
            panic!("{out}")
        };
        assert_eq!(s.questions, ["Q1", "Q7", "Q10"]);
        assert_eq!(last.seq, 3);
    }

    #[test]
    fn packets_get_their_protocol_from_their_bytes() {
        let buf = Buf::default();
        let mut n = json_narrator(&buf);
        let arp = Packet {
            wire: Some(Wire::frame(
                "h1:eth0",
                &[0u8; 12]
                    .iter()
                    .chain(&[0x08, 0x06])
                    .copied()
                    .collect::<Vec<_>>(),
            )),
            transport: "ethernet".into(),
            ..Packet::default()
        };
        n.step(Step::new(tx("a", "甲"), Text::default(), &[]).with_packets(vec![arp]))
            .unwrap();
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        assert_eq!(v["packets"][0]["protocol"], "ARP");
    }
}
