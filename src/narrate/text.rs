//! Text renderer: numbered steps for a terminal or a projector.
//!
//! Pure functions from a step to a string. Everything is wrapped to
//! [`RenderOpts::width`] (CJK counted as two columns, see [`super::wrap`]).
//! Colour is ANSI through anstyle, used only when [`RenderOpts::color`] is set.
//! Owns the byte view: each field's bytes in hex beside its name and decoded
//! value, and what the field means the first time that field is shown.

use std::collections::HashSet;
use std::fmt::Write as _;

use std::collections::HashMap;
use std::io::Write;

use super::wrap::{display_width, truncate, wrap, wrap_with};
use super::{Body, Direction, Line, Packet, RenderOpts, Sink, Step, Summary, Text};
use crate::error::{Error, Result};

use anstyle::{AnsiColor, Style};

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const CYAN: Style = AnsiColor::Cyan.on_default();
const GREEN: Style = AnsiColor::Green.on_default();
const RED: Style = AnsiColor::Red.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();

/// Hex bytes shown per field before eliding with "…", on a wide terminal.
const MAX_HEX_BYTES: usize = 12;

struct Paint(bool);

impl Paint {
    fn p(&self, style: Style, s: &str) -> String {
        if self.0 && !s.is_empty() {
            // anstyle renders the style, and `{:#}` its reset.
            format!("{style}{s}{style:#}")
        } else {
            s.to_string()
        }
    }
}

/// What the text view has already explained in this run, so it is said once.
#[derive(Debug, Default)]
pub struct Seen {
    /// Field meanings shown so far, keyed by field name (without its `[n]`) and meaning.
    fields: HashSet<(String, String)>,
}

/// The screen's story: numbered steps, then the ladder of the run's packets
/// and the summary. Says a concept, a correction and a field's meaning once
/// per run; `--brief` keeps only the ladder and the summary.
pub struct TextSink {
    opts: RenderOpts,
    brief: bool,
    out: Box<dyn Write + Send>,
    seen: Seen,
    concepts: HashSet<String>,
    corrections: HashSet<String>,
    last_section: Option<Text>,
    ladder: Vec<super::ladder::Row>,
    /// Participant ids and their labels, as the steps named them.
    labels: HashMap<String, Text>,
    /// Whether anything has been printed yet.
    printed: bool,
}

impl TextSink {
    /// A text view with these options, written to `out`.
    pub fn new(opts: RenderOpts, brief: bool, out: Box<dyn Write + Send>) -> Self {
        TextSink {
            opts,
            brief,
            out,
            seen: Seen::default(),
            concepts: HashSet::new(),
            corrections: HashSet::new(),
            last_section: None,
            ladder: Vec::new(),
            labels: HashMap::new(),
            printed: false,
        }
    }

    /// A participant's label in the view's language (its id when it has none).
    fn label(&self, ids: &str) -> String {
        ids.split(',')
            .map(|id| {
                self.labels
                    .get(id)
                    .map_or(id, |t| t.get(self.opts.lang))
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    fn write(&mut self, rendered: &str) -> Result<()> {
        // A section's blank line separates it from what came before: the first has nothing before it.
        let rendered = if self.printed {
            rendered
        } else {
            rendered.strip_prefix('\n').unwrap_or(rendered)
        };
        self.printed = true;
        writeln!(self.out, "{rendered}").map_err(Error::Output)?;
        self.out.flush().map_err(Error::Output)
    }

    fn step(&mut self, number: u64, step: &Step) -> Result<()> {
        for p in &step.participants {
            self.labels
                .entry(p.id.clone())
                .or_insert_with(|| p.label.clone());
        }
        let new_section = match (&step.section, &self.last_section) {
            (Some(s), Some(last)) if s == last => None,
            (Some(s), _) => Some(s.clone()),
            (None, _) => None,
        };
        if let Some(s) = &new_section {
            self.last_section = Some(s.clone());
        }
        for p in step.packets.iter().filter(|p| !p.echo) {
            let label = if p.label.is_empty() {
                p.summary.get(self.opts.lang).to_string()
            } else {
                p.label.get(self.opts.lang).to_string()
            };
            self.ladder.push(super::ladder::Row {
                step: number,
                from: self.label(&p.from),
                to: self.label(&p.to),
                label,
                lost: p.lost,
                kind: if p.protocol.is_empty() {
                    super::protocol_of(p).to_string()
                } else {
                    p.protocol.clone()
                },
            });
        }
        if self.brief || step.folded {
            return Ok(());
        }
        let mut step = step.clone();
        // A concept is explained once; so is a correction.
        if let Some(c) = &step.concept {
            if !self.concepts.insert(c.clone()) {
                step.detail = Text::default();
            }
        }
        if let Some(c) = &step.correction {
            if !self.corrections.insert(c.en.clone()) {
                step.correction = None;
            }
        }
        let rendered = self::step(
            number,
            new_section.as_ref(),
            &step,
            &self.opts,
            &mut self.seen,
        );
        self.write(&rendered)
    }

    fn summary(&mut self, summary: &Summary) -> Result<()> {
        let ladder = ladder(&self.ladder, &self.opts);
        let sum = self::summary(summary, &self.opts);
        let all = if ladder.is_empty() {
            sum
        } else {
            format!("{ladder}\n{sum}")
        };
        self.write(&all)
    }
}

impl Sink for TextSink {
    fn line(&mut self, line: &Line) -> Result<()> {
        match &line.body {
            Body::Step(s) => self.step(s.number, &s.step),
            Body::Summary(s) => self.summary(s),
            // main prints the error to stderr.
            Body::Error(_) => Ok(()),
        }
    }
}

/// Render one step. `section` is given only when a new stage begins.
pub fn step(
    seq: u64,
    section: Option<&Text>,
    step: &Step,
    opts: &RenderOpts,
    seen: &mut Seen,
) -> String {
    let paint = Paint(opts.color);
    let lang = opts.lang;
    let width = opts.width;
    let mut out: Vec<String> = Vec::new();
    if step.plain {
        return wrap(step.title.get(lang), width, 0)
            .into_iter()
            .map(|l| l.trim_end().to_string())
            .collect::<Vec<_>>()
            .join("\n");
    }
    if let Some(s) = section {
        out.push(String::new());
        out.push(paint.p(BOLD, &rule(&format!("── {} ", s.get(lang)), width)));
    }
    let num = format!("[{seq}] ");
    let cont = "    ";
    let mut title = wrap_with(step.title.get(lang), width, &num, cont);
    for l in title.iter_mut() {
        *l = paint.p(BOLD, l);
    }
    // The question tags go at the end of the title, or on a line of their own.
    if !step.questions.is_empty() {
        let qs = format!("[{}]", step.questions.join(" "));
        let last = title.last_mut().expect("wrap returns a line");
        if display_width(last) + 2 + qs.len() <= width {
            let _ = write!(last, "  {}", paint.p(CYAN, &qs));
        } else {
            title.push(format!("{cont}{}", paint.p(CYAN, &qs)));
        }
    }
    out.extend(title);
    if !step.detail.get(lang).is_empty() {
        out.extend(wrap(step.detail.get(lang), width, 4));
    }
    let label_w = step
        .facts
        .iter()
        .map(|f| display_width(f.label.get(lang)))
        .max()
        .unwrap_or(0);
    for f in &step.facts {
        let label = f.label.get(lang);
        let pad = " ".repeat(label_w.saturating_sub(display_width(label)));
        // Continuation lines line up under the value, unless that leaves too little room.
        let value_col = 4 + label_w + 2;
        let cont = " ".repeat(if value_col <= width / 2 { value_col } else { 8 });
        let first = format!("    {}{pad}  ", paint.p(DIM, label));
        out.extend(wrap_with(f.value.get(lang), width, &first, &cont));
    }
    if let Some(c) = &step.correction {
        let tag = match lang {
            super::Lang::Zh => "✎ 纠正笔记：",
            super::Lang::En => "✎ correcting the notes: ",
        };
        let first = format!("    {}", paint.p(YELLOW, tag));
        out.extend(wrap_with(c.get(lang), width, &first, "      "));
    }
    for p in step.packets.iter().filter(|p| !p.quiet || opts.all_bytes) {
        packet(p, opts, &paint, seen, &mut out);
    }
    out.join("\n")
}

/// How many bytes of hex a byte-view row shows at this width.
fn hex_bytes(width: usize) -> usize {
    match width {
        0..=89 => 4,
        90..=109 => 8,
        _ => MAX_HEX_BYTES,
    }
}

fn packet(p: &Packet, opts: &RenderOpts, paint: &Paint, seen: &mut Seen, out: &mut Vec<String>) {
    let lang = opts.lang;
    let width = opts.width;
    let (arrow, verb) = match (p.direction, lang) {
        (Direction::Sent, super::Lang::En) => ("→", "sent to"),
        (Direction::Sent, super::Lang::Zh) => ("→", "发往"),
        (Direction::Received, super::Lang::En) => ("←", "received from"),
        (Direction::Received, super::Lang::Zh) => ("←", "收自"),
        (Direction::Captured, super::Lang::En) => ("⇄", "captured on"),
        (Direction::Captured, super::Lang::Zh) => ("⇄", "抓包于"),
    };
    let bytes_word = match lang {
        super::Lang::Zh => "字节",
        super::Lang::En => "bytes",
    };
    let (open, close) = match lang {
        super::Lang::Zh => ("（", "）"),
        super::Lang::En => ("(", ")"),
    };
    let transport = match (p.transport.as_str(), lang) {
        ("ethernet", super::Lang::Zh) => "以太网",
        (t, _) => t,
    };
    let mut head = format!(
        "{arrow} {verb} {transport} {}  {open}{} {bytes_word}{close}",
        p.peer,
        p.bytes.len()
    );
    if p.lost {
        head.push_str(match lang {
            super::Lang::Zh => "  ✗ 丢失",
            super::Lang::En => "  ✗ lost",
        });
    }
    let byte_view = (p.show_bytes || opts.all_bytes) && !p.fields.is_empty();
    // The one-line summary repeats what a byte view below shows field by field.
    if !p.summary.is_empty() && !byte_view {
        head.push_str("  ");
        head.push_str(p.summary.get(lang));
    }
    out.extend(wrap_with(&head, width, "    ", "        "));
    if !(p.show_bytes || opts.all_bytes) || p.fields.is_empty() {
        return;
    }
    let nhex = hex_bytes(width);
    let hex_w = nhex * 3 - 1;
    let range_w = p
        .fields
        .iter()
        .map(|f| format!("{}..{}", f.range.start, f.range.end).len())
        .max()
        .unwrap_or(0);
    // A `hide` entry ending in "." folds a whole layer (`eth.`); any other
    // folds one field (`ip.tos`).
    let rule_of = |name: &str| {
        p.hide.iter().find(|h| {
            if h.ends_with('.') {
                name.starts_with(h.as_str())
            } else {
                name == h.as_str()
            }
        })
    };
    let hidden = |name: &str| !opts.all_bytes && rule_of(name).is_some();
    // Each run of folded fields becomes one line: what it holds, and how to see it.
    let mut runs: Vec<(usize, usize, Vec<String>, Vec<String>)> = Vec::new();
    let mut open = false;
    for f in &p.fields {
        if !hidden(&f.name) {
            open = false;
            continue;
        }
        if !open {
            runs.push((f.range.start, f.range.end, Vec::new(), Vec::new()));
            open = true;
        }
        let run = runs.last_mut().expect("a run was opened");
        run.1 = f.range.end;
        match rule_of(&f.name) {
            Some(h) if h.ends_with('.') => {
                let layer = match (h.as_str(), opts.lang) {
                    ("eth.", super::Lang::Zh) => "以太网头部".to_string(),
                    ("eth.", super::Lang::En) => "Ethernet header".to_string(),
                    ("ip.", super::Lang::Zh) => "IPv4 头部".to_string(),
                    ("ip.", super::Lang::En) => "IPv4 header".to_string(),
                    (other, _) => other.trim_end_matches('.').to_string(),
                };
                if !run.2.contains(&layer) {
                    run.2.push(layer);
                }
            }
            _ => run.3.push(f.name.clone()),
        }
    }
    for (start, end, layers, names) in runs {
        let mut what = layers;
        match names.len() {
            0 => {}
            1 | 2 => what.extend(names),
            _ => what.push(format!("{} … {}", names[0], names[names.len() - 1])),
        }
        let line = match opts.lang {
            super::Lang::Zh => format!("{start}..{end} {}：略（`--bytes` 显示）", what.join("、")),
            super::Lang::En => format!("{start}..{end} {}: `--bytes` shows them", what.join(", ")),
        };
        out.extend(wrap_with(&line, width, "    ", "      "));
    }
    let name_w = p
        .fields
        .iter()
        .filter(|f| !hidden(&f.name))
        .map(|f| f.name.len())
        .max()
        .unwrap_or(0);
    for f in p.fields.iter().filter(|f| !hidden(&f.name)) {
        let range = format!("{}..{}", f.range.start, f.range.end);
        let hex = hex_preview_n(&p.bytes[f.range.clone()], nhex);
        let plain = format!("    {range:>range_w$} {hex:<hex_w$} {:<name_w$}  ", f.name);
        let prefix = format!(
            "    {} {hex:<hex_w$} {:<name_w$}  ",
            paint.p(DIM, &format!("{range:>range_w$}")),
            f.name
        );
        let meaning = f.meaning.get(lang);
        let key = (
            f.name.split('[').next().unwrap_or(&f.name).to_string(),
            meaning.to_string(),
        );
        let explain = !meaning.is_empty() && seen.fields.insert(key);
        let value = f.value.get(lang);
        let one_line = format!("{plain}{value}  — {meaning}");
        if explain && display_width(&one_line) <= width {
            out.push(format!(
                "{prefix}{}{}",
                value,
                paint.p(DIM, &format!("  — {meaning}"))
            ));
            continue;
        }
        let pw = display_width(&plain);
        let cont = " ".repeat(if pw + 24 <= width { pw } else { 10 });
        out.extend(wrap_with(value, width, &prefix, &cont));
        if explain {
            let indent = " ".repeat(6);
            for l in wrap_with(
                &format!("— {meaning}"),
                width,
                &indent,
                &format!("{indent}  "),
            ) {
                out.push(paint.p(DIM, &l));
            }
        }
    }
}

/// Hex of up to `MAX_HEX_BYTES` (12) bytes, "…" when there are more.
pub fn hex_preview(bytes: &[u8]) -> String {
    hex_preview_n(bytes, MAX_HEX_BYTES)
}

/// Hex of up to `n` bytes, the last replaced by "…" when there are more.
fn hex_preview_n(bytes: &[u8], n: usize) -> String {
    let mut s: Vec<String> = bytes.iter().take(n).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > n {
        s.pop();
        s.push("…".to_string());
    }
    s.join(" ")
}

/// A heading padded with '─' to 72 terminal columns (or the width, if narrower).
fn rule(head: &str, width: usize) -> String {
    let w = width.min(72);
    let head = truncate(head, w);
    format!(
        "{head}{}",
        "─".repeat(w.saturating_sub(display_width(&head)))
    )
}

/// The ladder of a run under its heading.
pub fn ladder(rows: &[super::ladder::Row], opts: &RenderOpts) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let paint = Paint(opts.color);
    let head = match opts.lang {
        super::Lang::Zh => "── 报文时序图（时间向下） ",
        super::Lang::En => "── The packets, in order (time runs down) ",
    };
    let mut out = vec![String::new(), paint.p(BOLD, &rule(head, opts.width))];
    out.extend(super::ladder::render(rows, opts.width, opts.lang));
    out.join("\n")
}

/// Render the summary block.
pub fn summary(s: &Summary, opts: &RenderOpts) -> String {
    let paint = Paint(opts.color);
    let lang = opts.lang;
    let width = opts.width;
    let head = match lang {
        super::Lang::Zh => "── 小结 ",
        super::Lang::En => "── Summary ",
    };
    let mut out = vec![String::new(), paint.p(BOLD, &rule(head, width))];
    let colour = if s.ok { GREEN } else { RED };
    for l in wrap_with(s.title.get(lang), width, "", "  ") {
        out.push(paint.p(colour, &l));
    }
    for l in &s.lines {
        out.extend(wrap_with(l.get(lang), width, "  ", "    "));
    }
    if !s.questions.is_empty() {
        let label = match lang {
            super::Lang::Zh => "回答的问题：",
            super::Lang::En => "questions answered: ",
        };
        for l in wrap_with(
            &format!("{label}{}", s.questions.join(" ")),
            width,
            "  ",
            "    ",
        ) {
            out.push(paint.p(CYAN, &l));
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::narrate::{tx, FieldView, Lang};

    fn opts(width: usize, lang: Lang) -> RenderOpts {
        RenderOpts {
            lang,
            all_bytes: false,
            color: false,
            width,
        }
    }

    #[test]
    fn hex_preview_elides_long_fields() {
        assert_eq!(hex_preview(&[0x3a, 0x7f]), "3a 7f");
        let long: Vec<u8> = (0..20).collect();
        let s = hex_preview(&long);
        assert!(s.ends_with('…'));
        assert_eq!(s.split(' ').count(), MAX_HEX_BYTES);
    }

    fn sample() -> Step {
        let mut s = Step::new(
            tx(
                "Ask a.root-servers.net. (127.53.0.1:50203) — a server for . — over UDP: referral to com.",
                "通过 UDP 询问 a.root-servers.net.（127.53.0.1:50203，. 区的服务器）：转介到 com.",
            ),
            tx(
                "Not an answer but a referral: AA=0, the NS records of com. in the AUTHORITY section and their addresses (glue) in ADDITIONAL.",
                "这不是答案而是转介：AA=0，AUTHORITY 段给出 com. 的 NS 记录，ADDITIONAL 段给出它们的地址（胶水记录）。",
            ),
            &["Q4", "Q27"],
        )
        .fact(tx("reply", "应答"), "NOERROR QR  answer 0 · authority 2 · additional 2 and a long tail of words");
        s.packets.push(Packet {
            peer: "127.53.0.1:50203".into(),
            transport: "udp".into(),
            bytes: vec![0x21, 0xce, 0x01, 0x00],
            fields: vec![
                FieldView {
                    name: "ID".into(),
                    range: 0..2,
                    value: "0x21ce".into(),
                    meaning: tx(
                        "query id: the reply must echo it, or it is not our answer",
                        "查询标识：应答必须原样带回",
                    ),
                },
                FieldView {
                    name: "FLAGS".into(),
                    range: 2..4,
                    value: "QR=0 OPCODE=0 AA=0 TC=0 RD=1 RA=0 RCODE=NOERROR".into(),
                    meaning: tx(
                        "QR=0 query; RD says whether we ask the server to recurse for us",
                        "QR=0 表示查询",
                    ),
                },
            ],
            show_bytes: true,
            ..Packet::default()
        });
        s
    }

    #[test]
    fn every_line_fits_the_width_in_both_languages() {
        for lang in [Lang::En, Lang::Zh] {
            for width in [40, 60, 80, 100] {
                let mut seen = Seen::default();
                let s = step(
                    7,
                    Some(&tx("Stage 4 · the walk", "阶段 4 · 迭代查询")),
                    &sample(),
                    &opts(width, lang),
                    &mut seen,
                );
                for l in s.lines() {
                    assert!(display_width(l) <= width, "{width} {lang:?}: {l:?}");
                }
            }
        }
    }

    #[test]
    fn a_field_is_explained_once_per_run() {
        let mut seen = Seen::default();
        let o = opts(200, Lang::En);
        let first = step(1, None, &sample(), &o, &mut seen);
        let second = step(2, None, &sample(), &o, &mut seen);
        assert!(first.contains("reply must echo it"));
        assert!(!second.contains("reply must echo it"));
        assert!(second.contains("0x21ce"));
    }
}
