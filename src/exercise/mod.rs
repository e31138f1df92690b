//! Exercises: an instructor's task and the expectations netlab checks on a
//! student's saved run (`netlab exercise`, `netlab check`).
//!
//! An exercise is a TOML file (examples/*.toml, documented in
//! examples/README.md): the demo, the task in both languages, the command the
//! student runs, and a list of typed expectations on the run's record
//! ([`crate::record::Line`]): the run is complete, steps or packets that must
//! appear, summary values equal, at least, or in a range. This module parses
//! exercises and evaluates them over lines already read; it reads no file of a
//! run and prints nothing (the command in `demos::exercise` does both).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::record::{Body, Line, Packet};
use crate::text::{tx, Lang, Text};

/// The exit code of `netlab check` when an expectation is not met.
pub const NOT_MET: i32 = 1;

/// The exercises built into netlab: the files in examples/, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("dns-trace", include_str!("../../examples/dns-trace.toml")),
    ("arp-table", include_str!("../../examples/arp-table.toml")),
    ("ping", include_str!("../../examples/ping.toml")),
    ("tcp-vs-udp", include_str!("../../examples/tcp-vs-udp.toml")),
    (
        "sticky-packet",
        include_str!("../../examples/sticky-packet.toml"),
    ),
    ("firewall", include_str!("../../examples/firewall.toml")),
    ("url", include_str!("../../examples/url.toml")),
    ("traceroute", include_str!("../../examples/traceroute.toml")),
    ("io-mux", include_str!("../../examples/io-mux.toml")),
    ("failover", include_str!("../../examples/failover.toml")),
    ("cdn", include_str!("../../examples/cdn.toml")),
    (
        "load-balance",
        include_str!("../../examples/load-balance.toml"),
    ),
    ("rpc", include_str!("../../examples/rpc.toml")),
    (
        "concurrency",
        include_str!("../../examples/concurrency.toml"),
    ),
    ("ipc", include_str!("../../examples/ipc.toml")),
    (
        "producer-consumer",
        include_str!("../../examples/producer-consumer.toml"),
    ),
    ("async", include_str!("../../examples/async.toml")),
];

/// One exercise file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    /// Its name (the file's stem; not in the file).
    #[serde(skip)]
    pub name: String,
    /// The demo whose run it checks (`dns-trace`, `ping` …).
    pub demo: String,
    /// A one-line title.
    pub title: Text,
    /// The task, as handed to the student.
    pub task: Text,
    /// The command the student runs to save the run.
    pub run: String,
    /// What the run must show.
    pub expect: Vec<Expect>,
}

/// One expectation: what it checks (`kind`), and the sentence that says it
/// (`en`, `zh`), printed met or not.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Expect {
    /// The run ran to its summary (not an error), and `ok` if given matches
    /// the summary's.
    Complete {
        en: String,
        zh: String,
        #[serde(default)]
        ok: Option<bool>,
    },
    /// Values of the summary's data: dotted key → condition.
    Summary {
        en: String,
        zh: String,
        data: BTreeMap<String, Conds>,
    },
    /// Steps: those tagged `question`, whose data has key `has` and equals
    /// `with`; `pick` says which must meet the `data` conditions.
    Step {
        en: String,
        zh: String,
        #[serde(default)]
        question: Option<String>,
        #[serde(default)]
        has: Option<String>,
        #[serde(default, rename = "with")]
        with: BTreeMap<String, Value>,
        #[serde(default)]
        pick: Pick,
        #[serde(default)]
        data: BTreeMap<String, Conds>,
    },
    /// Packets: those of `protocol`, `from`, `to`, whose label contains
    /// `label` and whose fields equal `with` (decoded English values);
    /// `pick` says which must meet the `fields` conditions.
    Packet {
        en: String,
        zh: String,
        #[serde(default)]
        protocol: Option<String>,
        #[serde(default)]
        from: Option<String>,
        #[serde(default)]
        to: Option<String>,
        #[serde(default)]
        label: Option<String>,
        #[serde(default, rename = "with")]
        with: BTreeMap<String, Value>,
        #[serde(default)]
        pick: Pick,
        #[serde(default)]
        fields: BTreeMap<String, Conds>,
    },
}

/// Which of the selected steps or packets must meet the conditions.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Pick {
    /// At least one.
    #[default]
    Any,
    /// Every one (and there is at least one).
    All,
    /// None of them exists.
    None,
    /// The first one.
    First,
    /// The second one.
    Second,
    /// The last one.
    Last,
}

/// The conditions on one value, all to be met; in TOML a table,
/// `{ min = 2, less_than = "writes" }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "CondTable")]
pub struct Conds(pub Vec<Cond>);

/// [`Conds`] as written: one optional key per kind of [`Cond`].
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CondTable {
    equals: Option<Value>,
    not: Option<Value>,
    min: Option<f64>,
    max: Option<f64>,
    between: Option<[f64; 2]>,
    contains: Option<Value>,
    lacks: Option<Value>,
    length: Option<usize>,
    less_than: Option<String>,
    at_most: Option<String>,
    same_as: Option<String>,
    differs_from: Option<String>,
}

impl TryFrom<CondTable> for Conds {
    type Error = String;
    fn try_from(t: CondTable) -> std::result::Result<Conds, String> {
        let c: Vec<Cond> = [
            t.equals.map(Cond::Equals),
            t.not.map(Cond::Not),
            t.min.map(Cond::Min),
            t.max.map(Cond::Max),
            t.between.map(Cond::Between),
            t.contains.map(Cond::Contains),
            t.lacks.map(Cond::Lacks),
            t.length.map(Cond::Length),
            t.less_than.map(Cond::LessThan),
            t.at_most.map(Cond::AtMost),
            t.same_as.map(Cond::SameAs),
            t.differs_from.map(Cond::DiffersFrom),
        ]
        .into_iter()
        .flatten()
        .collect();
        if c.is_empty() {
            return Err("an empty condition: give equals, not, min, max, between, contains, lacks, length, less_than, at_most, same_as or differs_from".into());
        }
        Ok(Conds(c))
    }
}

impl Conds {
    /// Why the value at `key` misses the first condition it misses, or None.
    fn fails(&self, data: &Map<String, Value>, key: &str, at: &Text) -> Option<Text> {
        self.0.iter().find_map(|c| c.fails(data, key, at))
    }
}

/// A condition on one value.
#[derive(Clone, Debug)]
pub enum Cond {
    /// Equal to this value.
    Equals(Value),
    /// Not equal to this value.
    Not(Value),
    /// A number at least this.
    Min(f64),
    /// A number at most this.
    Max(f64),
    /// A number in this inclusive range.
    Between([f64; 2]),
    /// A string containing this text, or an array with this element (an
    /// object element matches when it has every key of the given object).
    Contains(Value),
    /// Not [`Cond::Contains`]: no such text or element.
    Lacks(Value),
    /// An array (or string) of this length.
    Length(usize),
    /// A number less than the value at this other key (same object).
    LessThan(String),
    /// A number at most the value at this other key.
    AtMost(String),
    /// Equal to the value at this other key.
    SameAs(String),
    /// Different from the value at this other key.
    DiffersFrom(String),
}

/// The verdict on one expectation (in `netlab check --json`, one element of
/// `expectations`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Outcome {
    /// The expectation's sentence.
    pub says: Text,
    /// Met or not.
    pub met: bool,
    /// Why not, when not met.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<Text>,
}

impl Exercise {
    /// Parse an exercise file's text; `origin` names it in errors.
    pub fn parse(name: &str, text: &str, origin: &str) -> Result<Exercise> {
        let mut ex: Exercise = toml::from_str(text).map_err(|e| {
            let (line, col) = line_col(text, e.span().map(|s| s.start).unwrap_or(0));
            let msg = e.message().to_string();
            Error::usage(tx(
                format!("{origin} line {line}, column {col}: not an exercise ({msg})"),
                format!("{origin} 第 {line} 行第 {col} 列：不是练习文件（{msg}）"),
            ))
        })?;
        if ex.expect.is_empty() {
            return Err(Error::usage(tx(
                format!("{origin}: no [[expect]]: an exercise needs at least one expectation"),
                format!("{origin}：没有 [[expect]]：练习至少要有一项要求"),
            )));
        }
        ex.name = name.to_string();
        Ok(ex)
    }

    /// A built-in exercise by name.
    pub fn builtin(name: &str) -> Option<Result<Exercise>> {
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, t)| Exercise::parse(n, t, &format!("examples/{n}.toml")))
    }

    /// Every expectation's verdict on a run, the demo's own first.
    pub fn check(&self, lines: &[Line]) -> Vec<Outcome> {
        let demo = lines.first().map(|l| l.demo.as_str()).unwrap_or("");
        let mut out = vec![Outcome {
            says: tx(
                format!("this is a run of {}", self.demo),
                format!("这是 {} 的运行记录", self.demo),
            ),
            met: demo == self.demo,
            why: (demo != self.demo).then(|| {
                tx(
                    format!(
                        "this is a run of {demo}, not of {}: run `{}`",
                        self.demo, self.run
                    ),
                    format!(
                        "这是 {demo} 的运行记录，不是 {} 的：请运行 `{}`",
                        self.demo, self.run
                    ),
                )
            }),
        }];
        out.extend(self.expect.iter().map(|e| e.check(lines)));
        out
    }

    /// The task sheet in one language.
    pub fn sheet(&self, lang: Lang) -> String {
        let (run, check, what, demo) = match lang {
            Lang::En => (
                "Run:   ",
                "Check: ",
                "What is checked:",
                format!(" (netlab {})", self.demo),
            ),
            Lang::Zh => (
                "运行：",
                "检查：",
                "检查的内容：",
                format!("（netlab {}）", self.demo),
            ),
        };
        let file = self.run.rsplit(' ').next().unwrap_or("run.jsonl");
        let mut s = format!(
            "{} — {}{demo}\n\n{}\n\n{run}{}\n{check}netlab check {} {file}\n\n{what}",
            self.name,
            self.title.get(lang),
            reflow(self.task.get(lang), lang),
            self.run,
            self.name,
        );
        for e in &self.expect {
            s.push_str(&format!("\n  - {}", e.says().get(lang)));
        }
        s
    }
}

/// A TOML multi-line string as paragraphs: its line breaks joined (with a
/// space in English, none in Chinese), blank lines kept, for the page's own wrapping.
fn reflow(text: &str, lang: Lang) -> String {
    let join = match lang {
        Lang::En => " ",
        Lang::Zh => "",
    };
    text.trim()
        .split("\n\n")
        .map(|p| p.lines().map(str::trim).collect::<Vec<_>>().join(join))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

impl Expect {
    /// The sentence the expectation stands for.
    pub fn says(&self) -> Text {
        let (Expect::Complete { en, zh, .. }
        | Expect::Summary { en, zh, .. }
        | Expect::Step { en, zh, .. }
        | Expect::Packet { en, zh, .. }) = self;
        tx(en.clone(), zh.clone())
    }

    /// This expectation's verdict on a run.
    pub fn check(&self, lines: &[Line]) -> Outcome {
        let why = match self {
            Expect::Complete { ok, .. } => complete(lines, *ok),
            Expect::Summary { data, .. } => match summary(lines) {
                None => Some(no_summary(lines)),
                Some(s) => data
                    .iter()
                    .find_map(|(k, c)| c.fails(s, k, &tx("the summary's ", "总结中 "))),
            },
            Expect::Step {
                question,
                has,
                with,
                pick,
                data,
                ..
            } => {
                let chosen: Vec<(u64, &Text, &Map<String, Value>)> = lines
                    .iter()
                    .filter_map(|l| l.step())
                    .filter(|s| {
                        question
                            .as_ref()
                            .is_none_or(|q| s.step.questions.contains(q))
                    })
                    .filter(|s| {
                        has.as_ref()
                            .is_none_or(|k| lookup(&s.step.data, k).is_some())
                    })
                    .filter(|s| {
                        with.iter()
                            .all(|(k, v)| lookup(&s.step.data, k).is_some_and(|a| same(a, v)))
                    })
                    .map(|s| (s.number, &s.step.title, &s.step.data))
                    .collect();
                let mut sel = Vec::new();
                if let Some(q) = question {
                    sel.push(tx(format!("tagged {q}"), format!("标注 {q}")));
                }
                if let Some(k) = has {
                    sel.push(tx(format!("whose data has {k}"), format!("数据中含 {k}")));
                }
                for (k, v) in with {
                    sel.push(tx(format!("with {k} = {v}"), format!("{k} = {v}")));
                }
                let what = tx(
                    format!("step {}", join(&sel, Lang::En))
                        .trim_end()
                        .to_string(),
                    if sel.is_empty() {
                        "步骤".to_string()
                    } else {
                        format!("{} 的步骤", join(&sel, Lang::Zh))
                    },
                );
                judge(&chosen, *pick, &what, |(n, title, d)| {
                    let at = tx(
                        format!("step [{n}] ({}): ", title.en),
                        format!("步骤 [{n}]（{}）：", title.zh),
                    );
                    data.iter().find_map(|(k, c)| c.fails(d, k, &at))
                })
            }
            Expect::Packet {
                protocol,
                from,
                to,
                label,
                with,
                pick,
                fields,
                ..
            } => {
                let chosen: Vec<(&Packet, Map<String, Value>)> = lines
                    .iter()
                    .filter_map(|l| l.step())
                    .flat_map(|s| s.step.packets.iter())
                    .filter(|p| protocol.as_ref().is_none_or(|x| &p.protocol == x))
                    .filter(|p| from.as_ref().is_none_or(|x| &p.from == x))
                    .filter(|p| to.as_ref().is_none_or(|x| &p.to == x))
                    .filter(|p| {
                        label
                            .as_ref()
                            .is_none_or(|x| p.label.en.contains(x) || p.label.zh.contains(x))
                    })
                    .map(|p| (p, field_map(p)))
                    .filter(|(_, m)| {
                        with.iter()
                            .all(|(k, v)| m.get(k).is_some_and(|a| same(a, v)))
                    })
                    .collect();
                let mut sel = Vec::new();
                for (name, v) in [("protocol", protocol), ("from", from), ("to", to)] {
                    if let Some(v) = v {
                        sel.push(tx(format!("{name} {v}"), format!("{name} {v}")));
                    }
                }
                if let Some(l) = label {
                    sel.push(tx(format!("labelled “{l}”"), format!("标签含“{l}”")));
                }
                for (k, v) in with {
                    sel.push(tx(format!("with {k} = {v}"), format!("{k} = {v}")));
                }
                let what = tx(
                    format!("packet {}", join(&sel, Lang::En))
                        .trim_end()
                        .to_string(),
                    if sel.is_empty() {
                        "数据包".to_string()
                    } else {
                        format!("{} 的数据包", join(&sel, Lang::Zh))
                    },
                );
                judge(&chosen, *pick, &what, |(p, m)| {
                    let at = tx(
                        format!("packet “{}”: ", p.label.en),
                        format!("数据包“{}”：", p.label.zh),
                    );
                    fields.iter().find_map(|(k, c)| c.fails(m, k, &at))
                })
            }
        };
        Outcome {
            says: self.says(),
            met: why.is_none(),
            why,
        }
    }
}

fn join(parts: &[Text], lang: Lang) -> String {
    let sep = match lang {
        Lang::En => ", ",
        Lang::Zh => "、",
    };
    parts
        .iter()
        .map(|t| t.get(lang))
        .collect::<Vec<_>>()
        .join(sep)
}

/// A packet's fields by name, with their decoded English values.
fn field_map(p: &Packet) -> Map<String, Value> {
    p.fields
        .iter()
        .map(|f| (f.name.clone(), Value::String(f.value.en.clone())))
        .collect()
}

/// Apply `pick` to the chosen items; `fails` says why one item misses.
fn judge<T>(
    chosen: &[T],
    pick: Pick,
    what: &Text,
    fails: impl Fn(&T) -> Option<Text>,
) -> Option<Text> {
    let none = || {
        Some(tx(
            format!("the run has no {}", what.en),
            format!("运行记录里没有 {}", what.zh),
        ))
    };
    let one = |item: Option<&T>, which: Text| match item {
        None => Some(tx(
            format!("the run has no {} {}", which.en, what.en),
            format!("运行记录里没有{} {}", which.zh, what.zh),
        )),
        Some(i) => fails(i),
    };
    match pick {
        Pick::None => (!chosen.is_empty()).then(|| {
            tx(
                format!(
                    "the run has {} {}, and should have none",
                    chosen.len(),
                    what.en
                ),
                format!(
                    "运行记录里有 {} 个 {}，本应一个也没有",
                    chosen.len(),
                    what.zh
                ),
            )
        }),
        Pick::Any if chosen.is_empty() => none(),
        Pick::Any => {
            let mut whys = chosen.iter().map(&fails);
            let first = whys.next().flatten()?;
            if whys.any(|w| w.is_none()) {
                None
            } else {
                Some(first)
            }
        }
        Pick::All if chosen.is_empty() => none(),
        Pick::All => chosen.iter().find_map(fails),
        Pick::First => one(chosen.first(), tx("first", "第一个")),
        Pick::Second => one(chosen.get(1), tx("second", "第二个")),
        Pick::Last => one(chosen.last(), tx("last", "最后一个")),
    }
}

fn summary(lines: &[Line]) -> Option<&Map<String, Value>> {
    lines.iter().rev().find_map(|l| match &l.body {
        Body::Summary(s) => Some(&s.data),
        _ => None,
    })
}

fn no_summary(lines: &[Line]) -> Text {
    match lines.iter().rev().find_map(|l| match &l.body {
        Body::Error(f) => Some(f),
        _ => None,
    }) {
        Some(f) => tx(
            format!("the run stopped with an error: {}", f.message.en),
            format!("运行因错误而中止：{}", f.message.zh),
        ),
        None => tx(
            "the run has no summary: it was cut short before it ended",
            "运行记录没有总结：它在结束之前就被截断了",
        ),
    }
}

fn complete(lines: &[Line], ok: Option<bool>) -> Option<Text> {
    let Some(Body::Summary(s)) = lines.last().map(|l| &l.body) else {
        return Some(no_summary(lines));
    };
    match ok {
        Some(want) if want != s.ok => Some(if want {
            tx(
                format!("the run ended without success: {}", s.title.en),
                format!("运行没有成功结束：{}", s.title.zh),
            )
        } else {
            tx(
                format!("the run succeeded, and should not have: {}", s.title.en),
                format!("运行成功了，但本不该成功：{}", s.title.zh),
            )
        }),
        _ => None,
    }
}

/// The value at a dotted key (`framing.fixed.exact`, `cname_chain.0.target`).
fn lookup<'a>(data: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if let Some(v) = data.get(key) {
        return Some(v);
    }
    let mut parts = key.split('.');
    let mut v = data.get(parts.next()?)?;
    for p in parts {
        v = match v {
            Value::Object(m) => m.get(p)?,
            Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Equal, with numbers compared as numbers (2 = 2.0).
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// A string containing a text, or an array with an element that is the value
/// (or, for an object, has all of its keys with their values).
fn contains(v: &Value, w: &Value) -> bool {
    match (v, w) {
        (Value::String(s), Value::String(t)) => s.contains(t.as_str()),
        (Value::Array(a), Value::Object(o)) => a.iter().any(|x| {
            x.as_object()
                .is_some_and(|x| o.iter().all(|(k, v)| x.get(k).is_some_and(|y| same(y, v))))
        }),
        (Value::Array(a), w) => a.iter().any(|x| same(x, w)),
        _ => false,
    }
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

impl Cond {
    /// Why the value at `key` in `data` misses this condition, or None.
    fn fails(&self, data: &Map<String, Value>, key: &str, at: &Text) -> Option<Text> {
        let Some(v) = lookup(data, key) else {
            return Some(tx(
                format!("{}{key} is missing", at.en),
                format!("{}没有 {key}", at.zh.trim_end()),
            ));
        };
        let other = |k: &str| lookup(data, k);
        let n = v.as_f64();
        let (ok, en, zh): (bool, String, String) = match self {
            Cond::Equals(w) => (same(v, w), format!("{w}"), format!("是 {w}")),
            Cond::Not(w) => (!same(v, w), format!("not {w}"), format!("不是 {w}")),
            Cond::Min(m) => (
                n.is_some_and(|x| x >= *m),
                format!("at least {}", num(*m)),
                format!("至少 {}", num(*m)),
            ),
            Cond::Max(m) => (
                n.is_some_and(|x| x <= *m),
                format!("at most {}", num(*m)),
                format!("至多 {}", num(*m)),
            ),
            Cond::Between([a, b]) => (
                n.is_some_and(|x| *a <= x && x <= *b),
                format!("between {} and {}", num(*a), num(*b)),
                format!("在 {} 到 {} 之间", num(*a), num(*b)),
            ),
            Cond::Contains(w) => (
                contains(v, w),
                format!("containing {w}"),
                format!("包含 {w}"),
            ),
            Cond::Lacks(w) => (
                !contains(v, w),
                format!("without {w}"),
                format!("不包含 {w}"),
            ),
            Cond::Length(n) => (
                match v {
                    Value::Array(a) => a.len() == *n,
                    Value::String(s) => s.chars().count() == *n,
                    _ => false,
                },
                format!("{n} long"),
                format!("长度为 {n}"),
            ),
            Cond::LessThan(k) | Cond::AtMost(k) | Cond::SameAs(k) | Cond::DiffersFrom(k) => {
                let o = other(k);
                let shown = o.map_or("nothing".to_string(), |o| o.to_string());
                let (x, y) = (n, o.and_then(Value::as_f64));
                let num_ok =
                    |f: fn(f64, f64) -> bool| matches!((x, y), (Some(x), Some(y)) if f(x, y));
                match self {
                    Cond::LessThan(_) => (
                        num_ok(|x, y| x < y),
                        format!("less than {k} ({shown})"),
                        format!("小于 {k}（{shown}）"),
                    ),
                    Cond::AtMost(_) => (
                        num_ok(|x, y| x <= y),
                        format!("at most {k} ({shown})"),
                        format!("不大于 {k}（{shown}）"),
                    ),
                    Cond::SameAs(_) => (
                        o.is_some_and(|o| same(v, o)),
                        format!("the same as {k} ({shown})"),
                        format!("与 {k}（{shown}）相同"),
                    ),
                    _ => (
                        o.is_some_and(|o| !same(v, o)),
                        format!("different from {k} ({shown})"),
                        format!("与 {k}（{shown}）不同"),
                    ),
                }
            }
        };
        (!ok).then(|| {
            tx(
                format!("{}{key} is {v}, expected {en}", at.en),
                format!("{}{key} 是 {v}，应当{zh}", at.zh),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_exercise_parses() {
        for (name, _) in BUILTIN {
            let ex = Exercise::builtin(name).unwrap().unwrap();
            assert_eq!(&ex.name, name);
        }
    }

    #[test]
    fn a_bad_file_names_its_line() {
        let e = Exercise::parse("x", "demo = \"ping\"\ntitle = 3\n", "x.toml").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    fn conds(toml_table: &str) -> Conds {
        #[derive(Deserialize)]
        struct W {
            c: Conds,
        }
        toml::from_str::<W>(&format!("c = {toml_table}")).unwrap().c
    }

    #[test]
    fn conditions_hold_or_say_why_not_in_both_languages() {
        let m: Map<String, Value> = serde_json::from_str(
            r#"{"n":3,"sent":5,"s":"www.baidu.com.","a":[{"ip":"1","x":2}],"f":2.0}"#,
        )
        .unwrap();
        let at = tx("the summary's ", "总结中 ");
        for (c, key, holds) in [
            ("{ equals = 3 }", "n", true),
            ("{ equals = 2 }", "f", true),
            ("{ not = 3 }", "n", false),
            ("{ min = 1, less_than = \"sent\" }", "n", true),
            ("{ min = 4 }", "n", false),
            ("{ between = [1, 3] }", "n", true),
            ("{ at_most = \"n\" }", "sent", false),
            ("{ contains = \"baidu\" }", "s", true),
            ("{ contains = { ip = \"1\" } }", "a", true),
            ("{ lacks = { ip = \"1\", x = 3 } }", "a", true),
            ("{ length = 1 }", "a", true),
            ("{ same_as = \"sent\" }", "n", false),
            ("{ differs_from = \"sent\" }", "n", true),
            ("{ equals = 1 }", "missing", false),
        ] {
            let why = conds(c).fails(&m, key, &at);
            assert_eq!(why.is_none(), holds, "{c} on {key}: {why:?}");
        }
        let why = conds("{ min = 4 }").fails(&m, "n", &at).unwrap();
        assert_eq!(why.en, "the summary's n is 3, expected at least 4");
        assert_eq!(why.zh, "总结中 n 是 3，应当至少 4");
        let why = conds("{ min = 4 }").fails(&m, "nope", &at).unwrap();
        assert_eq!(why.zh, "总结中没有 nope");
    }

    #[test]
    fn an_empty_condition_is_refused() {
        let e = Exercise::parse(
            "x",
            "demo = \"ping\"\ntitle = { en = \"a\", zh = \"b\" }\ntask = { en = \"a\", zh = \"b\" }\nrun = \"r\"\n[[expect]]\nkind = \"summary\"\nen = \"a\"\nzh = \"b\"\ndata = { n = {} }\n",
            "x.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("an empty condition"), "{e}");
    }

    #[test]
    fn pick_says_which_items_must_meet_the_conditions() {
        let items = [1, 2, 3];
        let what = tx("step", "步骤");
        let fails = |i: &i32| (*i != 2).then(|| tx("no", "不"));
        assert!(judge(&items, Pick::Any, &what, fails).is_none());
        assert!(judge(&items, Pick::All, &what, fails).is_some());
        assert!(judge(&items, Pick::Second, &what, fails).is_none());
        assert!(judge(&items, Pick::First, &what, fails).is_some());
        assert!(judge(&items, Pick::None, &what, fails).is_some());
        let none: [i32; 0] = [];
        assert!(judge(&none, Pick::None, &what, fails).is_none());
        assert_eq!(
            judge(&none, Pick::All, &what, fails).unwrap().en,
            "the run has no step"
        );
    }

    #[test]
    fn dotted_keys_reach_into_objects_and_arrays() {
        let m: Map<String, Value> = serde_json::from_str(r#"{"a":{"b":[{"c":1}]}}"#).unwrap();
        assert_eq!(lookup(&m, "a.b.0.c"), Some(&Value::from(1)));
        assert_eq!(lookup(&m, "a.x"), None);
    }
}
