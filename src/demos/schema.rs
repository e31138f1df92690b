//! The JSON schema of a run, generated from the types: the record
//! ([`crate::record`]) and each demo's typed step data and summary.
//!
//! docs/json-schema.md is [`markdown`]'s output; a test fails when the two
//! differ (`NETLAB_BLESS=1 cargo test` rewrites the page), and another checks
//! that every data key a demo's run emits is documented here.

use std::collections::BTreeSet;

use schemars::{JsonSchema, Schema};
use serde_json::Value;

/// One demo's typed data: its steps' data types and its summary's.
pub struct DemoSchema {
    /// The subcommand (`dns-trace`, `lab up` …).
    pub demo: &'static str,
    /// What the demo does, one line (English).
    pub about: &'static str,
    /// Each step-data type, with a line saying which steps carry it.
    pub steps: Vec<(&'static str, Schema)>,
    /// The summary's typed result (flattened into the summary object).
    pub summary: Option<Schema>,
}

impl DemoSchema {
    /// A demo with no typed data yet.
    pub fn new(demo: &'static str, about: &'static str) -> Self {
        DemoSchema {
            demo,
            about,
            steps: Vec::new(),
            summary: None,
        }
    }

    /// Add a step-data type, carried by the steps `which` names.
    pub fn step<T: JsonSchema>(mut self, which: &'static str) -> Self {
        self.steps.push((which, schemars::schema_for!(T)));
        self
    }

    /// Set the summary's type.
    pub fn summary<T: JsonSchema>(mut self) -> Self {
        self.summary = Some(schemars::schema_for!(T));
        self
    }

    /// Every top-level key a step's `data` may hold.
    pub fn step_keys(&self) -> BTreeSet<String> {
        self.steps.iter().flat_map(|(_, s)| keys(s)).collect()
    }

    /// Every key the summary's typed result may add.
    pub fn summary_keys(&self) -> BTreeSet<String> {
        self.summary.iter().flat_map(keys).collect()
    }
}

/// Every demo's schema, in the order the README lists them.
pub fn all() -> Vec<DemoSchema> {
    vec![
        super::dns_trace::schema(),
        super::arp_table::schema(),
        super::ping::schema(),
        super::tcp_vs_udp::schema(),
        super::sticky::schema(),
        super::firewall::schema(),
        super::io_mux::schema(),
        super::async_io::schema(),
        super::producer_consumer::schema(),
        super::concurrency::schema(),
        super::url::schema(),
        super::traceroute::schema(),
        super::failover::schema(),
        super::cdn::schema(),
        super::load_balance::schema(),
        super::rpc::schema(),
        super::ipc::schema(),
        super::lab_dns::schema(),
        super::lab_ns::schema(),
        super::serve::schema(),
    ]
}

/// The schema of one demo by its name in JSON (`lab` covers `lab dns` and `lab up|status|down`).
pub fn of(demo: &str) -> Vec<DemoSchema> {
    all()
        .into_iter()
        .filter(|d| d.demo == demo || d.demo.split(' ').next() == Some(demo))
        .collect()
}

/// The top-level property names of an object schema (through `allOf`,
/// `anyOf` and `oneOf`, as flattened and tagged types produce them).
fn keys(s: &Schema) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    collect_keys(s.as_value(), s.as_value(), &mut out);
    out
}

fn collect_keys(root: &Value, v: &Value, out: &mut BTreeSet<String>) {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        if let Some(def) = resolve(root, r) {
            collect_keys(root, def, out);
        }
    }
    if let Some(p) = v.get("properties").and_then(Value::as_object) {
        out.extend(p.keys().cloned());
    }
    for k in ["allOf", "anyOf", "oneOf"] {
        for sub in v.get(k).and_then(Value::as_array).into_iter().flatten() {
            collect_keys(root, sub, out);
        }
    }
}

fn resolve<'a>(root: &'a Value, r: &str) -> Option<&'a Value> {
    let name = r.strip_prefix("#/$defs/")?;
    root.get("$defs")?.get(name)
}

/// A property's type in a few words: `string`, `integer or null`,
/// `array of Packet`, `Text`.
fn type_of(v: &Value) -> String {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_string();
    }
    if let Some(e) = v.get("enum").and_then(Value::as_array) {
        let vals: Vec<String> = e.iter().map(|x| format!("`{x}`")).collect();
        return vals.join(" \\| ");
    }
    if let Some(c) = v.get("const") {
        return format!("`{c}`");
    }
    for k in ["anyOf", "oneOf"] {
        if let Some(alts) = v.get(k).and_then(Value::as_array) {
            let parts: Vec<String> = alts.iter().map(type_of).collect();
            return parts.join(" or ");
        }
    }
    let one = |t: &str| -> String {
        match t {
            "array" => match v.get("items") {
                Some(items) => format!("array of {}", type_of(items)),
                None => "array".into(),
            },
            "object" => match v.get("additionalProperties") {
                Some(Value::Object(_)) => format!(
                    "map of {}",
                    type_of(v.get("additionalProperties").unwrap_or(&Value::Null))
                ),
                _ => "object".into(),
            },
            other => other.to_string(),
        }
    };
    match v.get("type") {
        Some(Value::String(t)) => one(t),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(one)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".into(),
    }
}

/// One line of a description (tables hold one line per row).
fn one_line(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// A table of an object schema's properties.
fn table(root: &Value, v: &Value, out: &mut String) {
    if v.get("properties").is_some() {
        out.push_str("| field | type | meaning |\n|---|---|---|\n");
    }
    let required: BTreeSet<&str> = v
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(p) = v.get("properties").and_then(Value::as_object) {
        for (name, prop) in p {
            let opt = if required.contains(name.as_str()) {
                ""
            } else {
                ", optional"
            };
            let doc = prop
                .get("description")
                .and_then(Value::as_str)
                .map(one_line)
                .unwrap_or_default();
            out.push_str(&format!("| `{name}` | {}{opt} | {doc} |\n", type_of(prop)));
        }
    }
    for k in ["allOf", "anyOf", "oneOf"] {
        for sub in v.get(k).and_then(Value::as_array).into_iter().flatten() {
            let sub = match sub.get("$ref").and_then(Value::as_str) {
                Some(r) => resolve(root, r).unwrap_or(sub),
                None => sub,
            };
            if sub.get("properties").is_some() {
                let doc = sub
                    .get("description")
                    .and_then(Value::as_str)
                    .map(one_line)
                    .unwrap_or_else(|| "Or:".into());
                let colon = if doc.ends_with(['.', ':']) { "" } else { ":" };
                out.push_str(&format!("\n{doc}{colon}\n\n"));
                table(root, sub, out);
            }
        }
    }
}

/// A schema as Markdown: its own table, then one per type it refers to.
fn section(title: &str, s: &Schema, seen: &mut BTreeSet<String>, out: &mut String) {
    let root = s.as_value();
    out.push_str(&format!("#### {title}\n\n"));
    if let Some(d) = root.get("description").and_then(Value::as_str) {
        out.push_str(&one_line(d));
        out.push_str("\n\n");
    }
    table(root, root, out);
    out.push('\n');
    if let Some(defs) = root.get("$defs").and_then(Value::as_object) {
        for (name, def) in defs {
            if !seen.insert(name.clone()) {
                continue;
            }
            out.push_str(&format!("##### `{name}`\n\n"));
            if let Some(d) = def.get("description").and_then(Value::as_str) {
                out.push_str(&one_line(d));
                out.push_str("\n\n");
            }
            let alts: Vec<&Value> = ["oneOf", "anyOf"]
                .iter()
                .filter_map(|k| def.get(*k).and_then(Value::as_array))
                .flatten()
                .collect();
            if !alts.is_empty() && alts.iter().all(|a| a.get("properties").is_none()) {
                // An enum: one line per value, with its doc.
                for a in alts {
                    let doc = a
                        .get("description")
                        .and_then(Value::as_str)
                        .map(one_line)
                        .unwrap_or_default();
                    out.push_str(&format!("- {} — {doc}\n", type_of(a)));
                }
            } else if def.get("properties").is_some() || !alts.is_empty() {
                table(root, def, out);
            } else {
                out.push_str(&format!("{}\n", type_of(def)));
            }
            out.push('\n');
        }
    }
}

/// docs/json-schema.md: the record's types, then each demo's data.
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str(HEAD);
    let mut seen = BTreeSet::new();
    section(
        "A line (`Line`)",
        &schemars::schema_for!(crate::record::Line),
        &mut seen,
        &mut out,
    );
    out.push_str("## Each demo's data\n\n");
    out.push_str(
        "A step's `data` holds the fields of its demo's step-data types below; the summary \
         holds the fields of the demo's summary type, flattened beside `title`, `ok` and \
         `questions`.\n\n",
    );
    for d in all() {
        out.push_str(&format!("### {}\n\n{}\n\n", d.demo, d.about));
        let mut seen = BTreeSet::new();
        for (which, s) in &d.steps {
            section(&format!("step data: {which}"), s, &mut seen, &mut out);
        }
        if let Some(s) = &d.summary {
            section("summary", s, &mut seen, &mut out);
        }
    }
    out.push_str(TAIL);
    out
}

const HEAD: &str = "# JSON Lines schema `netlab/2`

Generated from netlab's own types (`src/record.rs` and each demo's typed data) by
`NETLAB_BLESS=1 cargo test the_json_schema_page`; a test fails when this page and the
types differ. Do not edit by hand.

With `--json`, a demo prints one JSON object per line: its steps in order, then exactly one
summary as the last line. An error ends the run with one error object instead. `netlab
render RUN.jsonl` reads these lines back into the same types and renders any view of them
(`--lang zh|en`, `--html`, `--pcap`, or the text view).

## What changed from `netlab/1`

- Every prose field (`title`, `detail`, `correction`, `section`, a fact's `label` and
  `value`, a packet's `label` and `summary`, a field's `value` and `meaning`, the
  summary's `title` and `lines`, an error's `message`) is an object `{\"en\": …, \"zh\": …}`:
  the record is the same whatever `--lang` was, and `lang` is gone from the lines.
- A packet's `from` and `to` are participant ids (`writer`, `stub`, `h1`), the same in
  every language; a step's `participants` gives each id's label the first time it appears.
- A packet's `length` and `wire_length` are gone (`hex` holds the bytes; `wire.original_len`
  the length on the wire); its `wire` object holds the bytes as captured (`link`,
  `ethernet`, `hex`, `rebuilt`), always, not only with `--pcap`.
- A step's `data` and the summary's fields are typed per demo (below); fact values are
  never padded.
- `echo: true` marks a second look at an earlier packet (a byte view); skip it when counting.

## The record

";

const TAIL: &str = "
## Reference pages

`netlab questions --json` prints one JSON array (the catalogue) and `netlab explain ID
--json` one object (a question with its demos); they are reference pages, not runs.
";
