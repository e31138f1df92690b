//! Text renderer: numbered steps for a terminal or a projector.
//!
//! Pure functions from a step to a string. Colour is plain ANSI and only used
//! when [`RenderOpts::color`] is set (a terminal and no NO_COLOR). Owns the
//! byte view: each field's bytes in hex beside its name and decoded value.

use std::fmt::Write as _;

use super::{Direction, Packet, RenderOpts, Step, Summary, Text};

const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const CYAN: &str = "\x1b[36m";
const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

/// Hex bytes shown per field before eliding with "…".
const MAX_HEX_BYTES: usize = 12;

struct Paint(bool);

impl Paint {
    fn p(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("{code}{s}{RESET}")
        } else {
            s.to_string()
        }
    }
}

/// Render one step. `section` is given only when a new stage begins.
pub fn step(seq: u64, section: Option<&Text>, step: &Step, opts: &RenderOpts) -> String {
    let paint = Paint(opts.color);
    let lang = opts.lang;
    let mut out = String::new();
    if step.plain {
        return step.title.get(lang).to_string();
    }
    if let Some(s) = section {
        let head = format!("── {} ", s.get(lang));
        let _ = writeln!(out, "\n{}", paint.p(BOLD, &rule(&head)));
    }
    let qs = if step.questions.is_empty() {
        String::new()
    } else {
        format!("  [{}]", step.questions.join(" "))
    };
    let _ = write!(
        out,
        "{} {}{}",
        paint.p(BOLD, &format!("[{seq}]")),
        paint.p(BOLD, step.title.get(lang)),
        paint.p(CYAN, &qs)
    );
    for line in step.detail.get(lang).lines() {
        let _ = write!(out, "\n    {line}");
    }
    let width = step
        .facts
        .iter()
        .map(|f| display_width(f.label.get(lang)))
        .max()
        .unwrap_or(0);
    for f in &step.facts {
        let label = f.label.get(lang);
        let pad = " ".repeat(width.saturating_sub(display_width(label)));
        let _ = write!(out, "\n    {}{pad}  {}", paint.p(DIM, label), f.value);
    }
    if let Some(c) = &step.correction {
        let tag = match lang {
            super::Lang::Zh => "✎ 笔记纠正：",
            super::Lang::En => "✎ correcting the notes: ",
        };
        let _ = write!(out, "\n    {}{}", paint.p(YELLOW, tag), c.get(lang));
    }
    for p in &step.packets {
        out.push_str(&packet(p, opts, &paint));
    }
    out
}

fn packet(p: &Packet, opts: &RenderOpts, paint: &Paint) -> String {
    let lang = opts.lang;
    let mut out = String::new();
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
    let _ = write!(
        out,
        "\n    {arrow} {verb} {} {}  ({} {bytes_word})",
        p.transport,
        p.peer,
        p.bytes.len()
    );
    if !p.summary.is_empty() {
        let _ = write!(out, "  {}", p.summary);
    }
    if !(p.show_bytes || opts.all_bytes) || p.fields.is_empty() {
        return out;
    }
    let name_w = p.fields.iter().map(|f| f.name.len()).max().unwrap_or(0);
    for f in &p.fields {
        let range = format!("{:>3}..{:<3}", f.range.start, f.range.end);
        let hex = hex_preview(&p.bytes[f.range.clone()]);
        let meaning = f.meaning.get(lang);
        let _ = write!(
            out,
            "\n      {} {:<w$} {:<nw$}  {}{}",
            paint.p(DIM, &range),
            hex,
            f.name,
            f.value,
            if meaning.is_empty() {
                String::new()
            } else {
                paint.p(DIM, &format!("  — {meaning}"))
            },
            w = MAX_HEX_BYTES * 3 + 1,
            nw = name_w
        );
    }
    out
}

/// Hex of up to `MAX_HEX_BYTES` (12) bytes, "…" when there are more.
pub fn hex_preview(bytes: &[u8]) -> String {
    let mut s: Vec<String> = bytes
        .iter()
        .take(MAX_HEX_BYTES)
        .map(|b| format!("{b:02x}"))
        .collect();
    if bytes.len() > MAX_HEX_BYTES {
        s.pop();
        s.push("…".to_string());
    }
    s.join(" ")
}

/// A heading padded with '─' to 72 terminal columns.
fn rule(head: &str) -> String {
    format!(
        "{head}{}",
        "─".repeat(72usize.saturating_sub(display_width(head)))
    )
}

/// East Asian wide and full-width characters (the CJK blocks, Hangul, full-width forms).
fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6)
}

/// Columns a string takes on a terminal: CJK characters take two.
fn display_width(s: &str) -> usize {
    s.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

/// Render the summary block.
pub fn summary(s: &Summary, opts: &RenderOpts) -> String {
    let paint = Paint(opts.color);
    let lang = opts.lang;
    let mut out = String::new();
    let head = match lang {
        super::Lang::Zh => "── 小结 ",
        super::Lang::En => "── Summary ",
    };
    let _ = writeln!(out, "\n{}", paint.p(BOLD, &rule(head)));
    let colour = if s.ok { GREEN } else { RED };
    let _ = write!(out, "{}", paint.p(colour, s.title.get(lang)));
    for l in &s.lines {
        let _ = write!(out, "\n  {}", l.get(lang));
    }
    if !s.questions.is_empty() {
        let label = match lang {
            super::Lang::Zh => "回答的问题",
            super::Lang::En => "questions answered",
        };
        let _ = write!(
            out,
            "\n  {}",
            paint.p(CYAN, &format!("{label}: {}", s.questions.join(" ")))
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_preview_elides_long_fields() {
        assert_eq!(hex_preview(&[0x3a, 0x7f]), "3a 7f");
        let long: Vec<u8> = (0..20).collect();
        let s = hex_preview(&long);
        assert!(s.ends_with('…'));
        assert_eq!(s.split(' ').count(), MAX_HEX_BYTES);
    }

    #[test]
    fn cjk_is_two_columns() {
        assert_eq!(display_width("ab"), 2);
        assert_eq!(display_width("服务器"), 6);
        assert_eq!(display_width("──→"), 3);
        assert_eq!(display_width("（Q4）"), 6);
    }
}
