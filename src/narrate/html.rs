//! The page: one self-contained HTML file of a run (`--html FILE`, or
//! `netlab render RUN.jsonl --html FILE` from a saved `--json` run), made to
//! be projected at 1280×720 and read later by a learner.
//!
//! The page carries the run's typed record whole (every [`Line`], both
//! languages) as JSON, and its script ([`page.js`](page.js), styled by
//! [`page.css`](page.css)) renders from it: the ladder as an SVG laid out for
//! the width it has, each step's narration beside it with its packets
//! highlighted, stepping by buttons, arrow keys and a play button, a packet's
//! byte table when its arrow is clicked, and a zh/en switch that redraws the
//! whole page without reloading. The ladder's grouping is the text view's
//! ([`super::ladder::collapse`]), computed here once for both languages so the
//! two views draw the same lines.
//!
//! No external script, font or image (a Content-Security-Policy forbids
//! fetching any), and nothing from the record is ever markup: the embedded
//! JSON has `<`, `>` and `&` escaped, so no string in a field can end the
//! script element, and the script inserts text with `textContent` only.
//!
//! Owns the page; not the record's types ([`crate::record`]) nor the ladder's
//! grouping rules ([`super::ladder`]).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::{ladder, Body, Lang, Line, Sink, Text};
use crate::error::{Error, Result};

/// The page's stylesheet (inlined into every page).
const STYLE: &str = include_str!("page.css");
/// The page's script (inlined into every page): renders the page from the embedded record.
const SCRIPT: &str = include_str!("page.js");

/// One arrow of the page's ladder: a line of the text view's ladder.
#[derive(Debug, Serialize)]
struct Arrow {
    /// The number of the step its packets belong to.
    step: u64,
    /// The packet records it stands for, as `[line, packet]`: the index of
    /// the step's line in the record and of the packet in that step. The
    /// first is the one drawn (and shown when the arrow is clicked).
    members: Vec<[usize; 2]>,
    /// A busy step's conversation (else look-alike packets in a row).
    busy: bool,
    /// What the ladder writes beside it, in both languages.
    label: Text,
    /// How many of its packets were lost.
    lost: usize,
}

/// What the page's script reads.
#[derive(Serialize)]
struct Embedded<'a> {
    /// The language the page opens in (the run's `--lang`).
    lang: Lang,
    /// The run's record, every line as `--json` printed it.
    record: &'a [Line],
    /// The ladder's lines.
    ladder: Vec<Arrow>,
    /// The titles of the questions the run's steps answer, by id.
    questions: BTreeMap<String, Text>,
    /// On a class server's live page: which run this is, so the script
    /// follows the server's stream of records (absent in a page file).
    #[serde(skip_serializing_if = "Option::is_none")]
    live: Option<Live>,
}

/// Where a live page stands in a class server's session.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Live {
    /// The run the page shows (1 for the session's first), 0 before any.
    pub run: usize,
    /// How many runs the session has had so far.
    pub runs: usize,
    /// How many records the session had when this was made (the next
    /// event's id is this one).
    pub next: u64,
}

/// What a live page's script reloads when records arrive: the run's record
/// with its ladder, as JSON.
pub fn live_json(lines: &[Line], lang: Lang, live: Live) -> String {
    serde_json::to_string(&Embedded {
        lang,
        record: lines,
        ladder: arrows(lines),
        questions: question_titles(lines),
        live: Some(live),
    })
    .unwrap_or_else(|_| "null".to_string())
}

/// The ladder of a run: its packets (not the echoes, which are a second look
/// at an earlier one) grouped as the text view groups them. Grouping is
/// decided on the participant ids and the English labels, so both languages
/// draw the same arrows.
fn arrows(lines: &[Line]) -> Vec<Arrow> {
    let mut at: Vec<[usize; 2]> = Vec::new();
    let mut rows: [Vec<ladder::Row>; 2] = [Vec::new(), Vec::new()];
    for (li, line) in lines.iter().enumerate() {
        let Body::Step(s) = &line.body else { continue };
        for (pi, p) in s.step.packets.iter().enumerate().filter(|(_, p)| !p.echo) {
            at.push([li, pi]);
            for (k, lang) in [Lang::En, Lang::Zh].into_iter().enumerate() {
                let label = if p.label.get(lang).is_empty() {
                    p.summary.get(lang)
                } else {
                    p.label.get(lang)
                };
                rows[k].push(ladder::Row {
                    step: s.number,
                    from: p.from.clone(),
                    to: p.to.clone(),
                    label: label.to_string(),
                    lost: p.lost,
                    kind: if p.protocol.is_empty() {
                        super::protocol_of(p).to_string()
                    } else {
                        p.protocol.clone()
                    },
                });
            }
        }
    }
    let [en, zh] = &rows;
    ladder::collapse(en)
        .into_iter()
        .map(|l| Arrow {
            step: en[l.members[0]].step,
            busy: l.busy,
            label: Text {
                en: ladder::line_label(en, &l.members, l.busy, Lang::En),
                zh: ladder::line_label(zh, &l.members, l.busy, Lang::Zh),
            },
            lost: l.members.iter().filter(|&&m| en[m].lost).count(),
            members: l.members.iter().map(|&m| at[m]).collect(),
        })
        .collect()
}

/// The titles of the catalogue's questions that the run's lines name.
fn question_titles(lines: &[Line]) -> BTreeMap<String, Text> {
    let named: Vec<&String> = lines
        .iter()
        .flat_map(|l| match &l.body {
            Body::Step(s) => s.step.questions.iter().collect::<Vec<_>>(),
            Body::Summary(s) => s.questions.iter().collect(),
            Body::Error(_) => Vec::new(),
        })
        .collect();
    crate::questions::all()
        .into_iter()
        .filter(|q| named.contains(&&q.id))
        .map(|q| {
            (
                q.id.clone(),
                Text {
                    en: q.title_en,
                    zh: q.title_zh,
                },
            )
        })
        .collect()
}

/// JSON that can sit inside a `<script>` element whatever its strings hold:
/// `<`, `>` and `&` (which only occur inside strings) become `\u003c`,
/// `\u003e` and `\u0026`, so no `</script>` or `<!--` can appear; U+2028 and
/// U+2029 are escaped too, for any reader that takes JSON as JavaScript.
fn script_json(v: &impl Serialize) -> String {
    let s = serde_json::to_string(v).unwrap_or_else(|_| "null".to_string());
    let mut out = String::with_capacity(s.len() + s.len() / 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Escape text for HTML (element content and quoted attributes).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page for a run's lines, opening in `lang`.
pub fn page(lines: &[Line], lang: Lang) -> String {
    page_with(lines, lang, None)
}

/// A class server's live page (`netlab serve`'s `GET /`): the page of the
/// latest run so far, whose script then follows `/events` (the only fetch
/// its policy allows: its own server) and redraws as records arrive.
pub fn live_page(lines: &[Line], lang: Lang, live: Live) -> String {
    page_with(lines, lang, Some(live))
}

fn page_with(lines: &[Line], lang: Lang, live: Option<Live>) -> String {
    let demo = lines.first().map_or("netlab", |l| l.demo.as_str());
    let headline = lines
        .iter()
        .find_map(|l| match &l.body {
            Body::Summary(s) => Some(s.title.get(lang).to_string()),
            Body::Error(f) => Some(f.message.get(lang).to_string()),
            Body::Step(_) => None,
        })
        .unwrap_or_default();
    let data = script_json(&Embedded {
        lang,
        record: lines,
        ladder: arrows(lines),
        questions: question_titles(lines),
        live,
    });
    let connect = if live.is_some() {
        " connect-src 'self';"
    } else {
        ""
    };
    let noscript = match lang {
        Lang::En => "This page draws the run with its own script: allow JavaScript for this file to see the ladder and the steps.",
        Lang::Zh => "本页用自带的脚本绘制这次运行：请允许此文件运行 JavaScript，才能看到时序图和各个步骤。",
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="{code}"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none';{connect} style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="netlab {version}">
<title>netlab {demo}{dash}{headline}</title>
<style>{STYLE}</style></head>
<body>
<header id="top"><div class="title"><h1>netlab {demo}</h1><div id="headline">{headline}</div></div>
<nav id="controls"></nav></header>
<main id="main"><section id="ladder-pane"></section><section id="narration" aria-live="polite"><noscript><p>{noscript}</p></noscript></section></main>
<section id="packet" hidden></section>
<section id="print-all"></section>
<script type="application/json" id="run">{data}</script>
<script>{SCRIPT}</script>
</body></html>
"#,
        code = lang.code(),
        version = env!("CARGO_PKG_VERSION"),
        demo = esc(demo),
        dash = if headline.is_empty() { "" } else { " · " },
        headline = esc(&headline),
        noscript = noscript,
    )
}

/// Collects the run's lines and writes the page when the run ends.
pub struct HtmlSink {
    path: std::path::PathBuf,
    file: Option<crate::private::Output>,
    lines: Vec<Line>,
    lang: Lang,
}

impl HtmlSink {
    /// A page for `path` in `lang` (opened now: a path that cannot be written fails before the run).
    pub fn create(path: &Path, lang: Lang) -> Result<Self> {
        Ok(HtmlSink {
            path: path.to_path_buf(),
            file: Some(crate::private::Output::create(path)?),
            lines: Vec::new(),
            lang,
        })
    }
}

impl Sink for HtmlSink {
    fn line(&mut self, line: &Line) -> Result<()> {
        self.lines.push(line.clone());
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        match self.file.take() {
            Some(f) => write_to(&self.path, f, &self.lines, self.lang),
            None => Ok(()),
        }
    }

    fn is_file(&self) -> bool {
        true
    }
}

/// Write the page for a run to `f`, opened on `path` earlier (so a bad path
/// fails before the run, and a named pipe is opened once).
pub fn write_to(
    path: &Path,
    mut out: crate::private::Output,
    lines: &[Line],
    lang: Lang,
) -> Result<()> {
    use std::io::Write as _;
    let f = out.file();
    f.write_all(page(lines, lang).as_bytes())
        .and_then(|()| f.flush())
        .map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })?;
    out.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{FieldView, Numbered, Packet, Step, Summary, SCHEMA};
    use crate::text::tx;

    fn line(seq: u64, body: Body) -> Line {
        Line {
            schema: SCHEMA.into(),
            demo: "x".into(),
            seq,
            body,
        }
    }

    fn step(seq: u64, number: u64, step: Step) -> Line {
        line(seq, Body::Step(Box::new(Numbered { number, step })))
    }

    fn summary(seq: u64, title: Text) -> Line {
        line(
            seq,
            Body::Summary(Box::new(Summary {
                title,
                questions: vec!["Q4".into()],
                ..Summary::default()
            })),
        )
    }

    /// The JSON the page embeds, parsed back.
    fn embedded(page: &str) -> serde_json::Value {
        let start = page
            .find(r#"<script type="application/json" id="run">"#)
            .unwrap();
        let rest = &page[start..];
        let json = &rest[rest.find('>').unwrap() + 1..rest.find("</script>").unwrap()];
        serde_json::from_str(json).unwrap()
    }

    fn pk(from: &str, to: &str, label: &str) -> Packet {
        Packet {
            protocol: "UDP".into(),
            bytes: vec![0, 1],
            ..Packet::default()
        }
        .between(from, to, label)
    }

    #[test]
    fn one_arrow_per_ladder_line_and_echoes_are_none() {
        let first = pk("h1", "h2", "ping");
        let lines = vec![
            step(
                1,
                1,
                Step::new(tx("a", "甲"), tx("", ""), &["Q4"]).with_packets(vec![
                    first.clone(),
                    Packet {
                        lost: true,
                        ..pk("h2", "h1,r1", "b")
                    },
                ]),
            ),
            step(
                2,
                2,
                Step::new(tx("look again", "再看"), tx("", ""), &[])
                    .with_packets(vec![first.echo()]),
            ),
            summary(3, tx("done", "完成")),
        ];
        let v = embedded(&page(&lines, Lang::En));
        let ladder = v["ladder"].as_array().unwrap();
        assert_eq!(ladder.len(), 2, "{ladder:?}");
        assert_eq!(ladder[0]["members"], serde_json::json!([[0, 0]]));
        assert_eq!(ladder[1]["members"], serde_json::json!([[0, 1]]));
        assert_eq!(ladder[1]["lost"], 1);
        assert_eq!(v["record"].as_array().unwrap().len(), 3, "the whole record");
        assert_eq!(v["lang"], "en");
        assert_eq!(
            v["questions"]["Q4"]["zh"],
            "DNS是什么，DNS的工作流程是什么样的"
        );
    }

    #[test]
    fn a_busy_step_is_one_arrow_per_conversation_in_both_languages() {
        let mut packets = Vec::new();
        for i in 0..50 {
            packets.push(Packet {
                protocol: "TCP".into(),
                ..pk("h1", "h2", &format!("TCP 100 B seq={i}"))
            });
            packets.push(Packet {
                protocol: "TCP".into(),
                label: tx(format!("ACK {i}"), format!("确认 {i}")),
                ..pk("h2", "h1", "")
            });
        }
        let lines = vec![
            step(
                1,
                1,
                Step::new(tx("bulk", "批量"), tx("", ""), &[]).with_packets(packets),
            ),
            summary(2, tx("done", "完成")),
        ];
        let v = embedded(&page(&lines, Lang::Zh));
        let ladder = v["ladder"].as_array().unwrap();
        assert_eq!(ladder.len(), 2, "one per direction");
        let members: usize = ladder
            .iter()
            .map(|a| a["members"].as_array().unwrap().len())
            .sum();
        assert_eq!(members, 100, "the arrows stand for every record");
        assert_eq!(ladder[0]["label"]["en"], "TCP 100 B seq=… ×50");
        assert_eq!(ladder[1]["label"]["zh"], "确认 … ×50");
        assert_eq!(v["lang"], "zh");
    }

    #[test]
    fn hostile_strings_never_break_the_page() {
        let bad = "</script><!--<script>alert(1)</script>]]>\"'&amp;\u{2028}\u{2029}</style>";
        let bad_t = tx(bad, bad);
        let p = Packet {
            fields: vec![FieldView {
                name: bad.into(),
                range: 0..2,
                value: bad_t.clone(),
                meaning: bad_t.clone(),
            }],
            summary: bad_t.clone(),
            peer: bad.into(),
            transport: bad.into(),
            ..pk(bad, &format!("{bad},*"), bad)
        };
        let s = Step::new(bad_t.clone(), bad_t.clone(), &[bad])
            .section(bad_t.clone())
            .correction(bad_t.clone())
            .fact(bad_t.clone(), bad_t.clone())
            .who(bad, bad_t.clone())
            .with_packets(vec![p]);
        let mut lines = vec![step(1, 1, s), summary(2, bad_t.clone())];
        for l in &mut lines {
            l.demo = bad.into();
        }
        let page = page(&lines, Lang::En);
        // The only script and style ends are the page's own.
        assert_eq!(page.matches("</script").count(), 2, "{page}");
        assert_eq!(page.matches("</style").count(), 1);
        assert_eq!(page.matches("<script").count(), 2);
        assert!(!page.contains("<!--"));
        let json = &page[page.find(r#"id="run">"#).unwrap()..];
        assert!(!json.contains('\u{2028}') && !json.contains('\u{2029}'));
        // Outside the embedded JSON, the strings are escaped markup.
        let markup = page.replace(&page[page.find("<script").unwrap()..], "");
        assert!(markup.contains("&lt;/script&gt;&lt;!--"), "{markup}");
        // And the JSON still reads back as the same record.
        let v = embedded(&page);
        let back: Vec<Line> = serde_json::from_value(v["record"].clone()).unwrap();
        assert_eq!(back, lines);
        assert_eq!(v["ladder"][0]["label"]["en"], bad);
    }

    #[test]
    fn nothing_external_and_the_assets_cannot_end_their_elements() {
        let page = page(&[summary(1, tx("done", "完成"))], Lang::En);
        for needle in ["http://", "https://", "src=", "href=", "@import", "url("] {
            let outside_svg_ns = page.replace("http://www.w3.org/2000/svg", "");
            assert!(!outside_svg_ns.contains(needle), "{needle} in the page");
        }
        assert!(!SCRIPT.contains("</script") && !SCRIPT.contains("<!--"));
        assert!(!STYLE.contains("</style"));
        assert!(
            page.contains("default-src 'none'"),
            "a CSP forbids fetching"
        );
    }
}
