//! The typed run record: what a run did, independent of how it is shown.
//!
//! A demo builds [`Step`]s (what happened, why, which interview questions it
//! answers, and the evidence: facts, [`Packet`]s, typed data) and a
//! [`Summary`]. The narrator numbers them into [`Line`]s, and every output —
//! text, ladder, JSON, pcap, the page — renders those lines; `netlab render`
//! reads them back from a saved `--json` run with the same types. Nothing here
//! depends on the language: prose is a [`Text`] with both, and the ends of a
//! packet are participant ids (`h1`, `stub`, `writer`) whose localized labels
//! travel in [`Step::participants`]. `docs/json-schema.md` is generated from
//! these types (schemars).
//!
//! Owns the data only: no I/O, no rendering. Imports nothing of netlab but
//! [`crate::text`].

use std::ops::Range;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::text::Text;

/// The schema tag carried by every JSON object netlab prints.
pub const SCHEMA: &str = "netlab/2";

/// A labelled fact shown under a step: "server  127.53.0.1:5300".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Fact {
    /// What the value is.
    pub label: Text,
    /// The value: mostly the same in both languages (an address, a number,
    /// a record); never padded for alignment.
    pub value: Text,
}

/// Which way a packet went, seen from netlab.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// netlab sent it.
    #[default]
    Sent,
    /// netlab received it.
    Received,
    /// Seen on a lab link (or loopback) by a capture.
    Captured,
}

/// One field of a packet: its name, the bytes it occupies, its decoded value.
/// In JSON: `{"name", "start", "end", "value", "meaning"}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "FieldJson", into = "FieldJson")]
pub struct FieldView {
    /// Field name as the RFC calls it (ID, QDCOUNT, QNAME, ...).
    pub name: String,
    /// Byte range inside the packet's `hex`.
    pub range: Range<usize>,
    /// Decoded value (numbers and names; the few words in it are translated).
    pub value: Text,
    /// What the field means, one line.
    pub meaning: Text,
}

/// [`FieldView`] as JSON holds it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct FieldJson {
    /// Field name as the RFC calls it (`ID`, `QNAME`, `tcp.seq`).
    name: String,
    /// First byte of the field in the packet's `hex` (0-based).
    start: usize,
    /// One past its last byte.
    end: usize,
    /// Decoded value; `value.en` is the form a script compares.
    value: Text,
    /// What the field means.
    meaning: Text,
}

impl From<FieldJson> for FieldView {
    fn from(f: FieldJson) -> Self {
        FieldView {
            name: f.name,
            range: f.start..f.end.max(f.start),
            value: f.value,
            meaning: f.meaning,
        }
    }
}

impl From<FieldView> for FieldJson {
    fn from(f: FieldView) -> Self {
        FieldJson {
            name: f.name,
            start: f.range.start,
            end: f.range.end,
            value: f.value,
            meaning: f.meaning,
        }
    }
}

impl JsonSchema for FieldView {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FieldView".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        FieldJson::json_schema(g)
    }
}

/// A participant of the run: a stable id (what packets' `from` and `to`
/// hold, the same in every language) and its label for display.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Participant {
    /// `h1`, `r1`, `stub`, `resolver`, `root`, `writer`, `reader` …
    pub id: String,
    /// What the ladder and the page call it (`写方` for `writer`).
    pub label: Text,
}

/// One packet of a run: who sent it to whom, its bytes and what they mean.
///
/// The one record every renderer reads: the text view lists it (and shows
/// its byte view when asked), the ladder draws it as an arrow, the pcap
/// writer writes its [`Wire`] bytes, JSON and the page carry it whole.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Packet {
    /// Sent, received, or captured on a link.
    pub direction: Direction,
    /// "udp", "tcp", "ethernet", "ipv4", "icmp": what netlab saw it as.
    pub transport: String,
    /// TCP, UDP, ICMP, ARP or IP: what carried it, from its bytes.
    #[serde(default)]
    pub protocol: String,
    /// The other end ("127.53.0.1:5300"), or the link a frame was captured on ("h1:eth0").
    pub peer: String,
    /// Participant id of the sender.
    pub from: String,
    /// Participant id of the receiver (`a,b` for several; `*` for a broadcast).
    pub to: String,
    /// One short line for the ladder: `query A www.baidu.com`, `referral to com.`, `SYN`.
    pub label: Text,
    /// When it was sent or seen: microseconds since the Unix epoch.
    #[serde(rename = "at_us", with = "at_us", default)]
    #[schemars(with = "Option<u64>")]
    pub at: Option<SystemTime>,
    /// Sent but never arrived (dropped on a lossy link, or no reply came).
    #[serde(default)]
    pub lost: bool,
    /// One line, tcpdump style (may be empty).
    #[serde(default)]
    pub summary: Text,
    /// The bytes the field table describes (the application payload for a
    /// socket's packet, the whole frame for a captured one), as lowercase hex.
    #[serde(rename = "hex", with = "hex")]
    #[schemars(with = "String")]
    pub bytes: Vec<u8>,
    /// Field table over `hex`.
    #[serde(default)]
    pub fields: Vec<FieldView>,
    /// The text view shows its byte view by default (`--bytes` shows every packet's).
    #[serde(default, skip_serializing_if = "is_false")]
    pub show_bytes: bool,
    /// Left out of the text view's list by default (still in the ladder,
    /// JSON, pcap and page): one of the many look-alike packets of a bulk phase.
    #[serde(default, skip_serializing_if = "is_false")]
    pub quiet: bool,
    /// A second look at a packet recorded in an earlier step, for its byte
    /// view only: not a packet of its own (no arrow, no pcap block). Skip it
    /// when counting packets.
    #[serde(default, skip_serializing_if = "is_false")]
    pub echo: bool,
    /// The packet as it went on the wire, for `--pcap`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire: Option<Wire>,
    /// Field-name prefixes (`eth.`, `ip.`) the default byte view folds into
    /// one line, because an earlier view explained those headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hide: Vec<String>,
}

/// A packet's bytes as a capture file holds them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Wire {
    /// Where it was seen: a lab link (`h1:eth0`) or a socket of netlab's.
    pub link: String,
    /// An Ethernet frame (else an IPv4 packet).
    pub ethernet: bool,
    /// The bytes, as lowercase hex.
    #[serde(rename = "hex", with = "hex")]
    #[schemars(with = "String")]
    pub bytes: Vec<u8>,
    /// The IPv4 and UDP/TCP headers were rebuilt by netlab from the socket's
    /// addresses (the payload is exact).
    #[serde(default)]
    pub rebuilt: bool,
    /// The frame's length on the wire when only its first bytes were kept
    /// (a capture with a snap length, as `tcpdump -s`); absent when whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_len: Option<usize>,
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

    /// Name the two ends (participant ids) and the label (builder style).
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

    /// The capture time in microseconds since the Unix epoch.
    pub fn at_us(&self) -> Option<u64> {
        self.at
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_micros() as u64)
    }
}

/// One narrated step of a demo.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Step {
    /// The stage this step belongs to; the text view prints a heading when it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<Text>,
    /// What happened, one line.
    pub title: Text,
    /// Why it happened / what it teaches.
    #[serde(default)]
    pub detail: Text,
    /// Where the interview notes are wrong or imprecise, and what the packet shows instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction: Option<Text>,
    /// Catalogue ids this step answers (Q4, Q27, ...).
    #[serde(default)]
    pub questions: Vec<String>,
    /// Labelled values.
    #[serde(default)]
    pub facts: Vec<Fact>,
    /// Participants this step names for the first time, with their labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<Participant>,
    /// Packets, in wire order.
    #[serde(default)]
    pub packets: Vec<Packet>,
    /// The demo's typed specifics (see each demo's step data in docs/json-schema.md).
    #[serde(default)]
    pub data: Map<String, Value>,
    /// A bare output line (a ping reply), without number or tags.
    #[serde(default, skip_serializing_if = "is_false")]
    pub plain: bool,
    /// Left out of the text view because a later step sums it up; JSON and the page keep it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub folded: bool,
    /// The idea `detail` explains: the text view gives a concept's detail
    /// the first time only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concept: Option<String>,
}

impl Step {
    /// A bare output line, like the lines ping prints per reply.
    pub fn line(text: Text, questions: &[&str]) -> Self {
        Step {
            title: text,
            questions: questions.iter().map(|q| q.to_string()).collect(),
            plain: true,
            ..Step::default()
        }
    }

    /// A step with a title, detail and the questions it answers.
    pub fn new(title: Text, detail: Text, questions: &[&str]) -> Self {
        Step {
            title,
            detail,
            questions: questions.iter().map(|q| q.to_string()).collect(),
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

    /// The step's typed data: a struct whose fields become `data`'s keys
    /// (documented in docs/json-schema.md from its JsonSchema). Called again,
    /// the fields are merged.
    pub fn with<T: Serialize + JsonSchema>(mut self, value: &T) -> Self {
        self.data.extend(fields(value));
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

    /// Attach packet records.
    pub fn with_packets(mut self, packets: Vec<Packet>) -> Self {
        self.packets.extend(packets);
        self
    }

    /// Name the concept the detail explains (said once per run in the text view).
    pub fn concept(mut self, c: &str) -> Self {
        self.concept = Some(c.to_string());
        self
    }

    /// Give a participant id its label (shown by the ladder and the page).
    pub fn who(mut self, id: &str, label: Text) -> Self {
        if !self.participants.iter().any(|p| p.id == id) {
            self.participants.push(Participant {
                id: id.to_string(),
                label,
            });
        }
        self
    }
}

/// The end of a demo: a human summary and the machine-readable result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// Headline, e.g. "www.baidu.com. A 203.0.113.10".
    pub title: Text,
    /// Lines under the headline.
    #[serde(default)]
    pub lines: Vec<Text>,
    /// Questions the whole run answered.
    #[serde(default)]
    pub questions: Vec<String>,
    /// Whether the network gave the answer (green) or said no (red).
    #[serde(default)]
    pub ok: bool,
    /// The demo's typed result, flattened into the summary object so a
    /// script reads `.answers` directly.
    #[serde(flatten)]
    pub data: Map<String, Value>,
}

impl Summary {
    /// The summary's typed result (its fields are flattened into the object).
    pub fn with<T: Serialize + JsonSchema>(mut self, value: &T) -> Self {
        self.data.extend(fields(value));
        self
    }
}

/// A run that failed: its message in both languages, a stable cause
/// (`usage`, `privilege`, `write` …) and the object it names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Failure {
    /// What went wrong and what to do.
    pub message: Text,
    /// `usage`, `privilege`, `network`, `write`, `read`, `system`, `output` …
    pub cause: String,
    /// The path, address or link it names, if any.
    pub object: Option<String>,
    /// The exit code the process ends with.
    pub exit_code: i32,
}

/// One line of a run's JSON: the envelope every object carries, then its kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Line {
    /// Always [`SCHEMA`] (`netlab/2`).
    pub schema: String,
    /// The subcommand (`dns-trace`, `ping` …).
    pub demo: String,
    /// 1, 2, 3 … over the run's lines.
    pub seq: u64,
    /// What this line is.
    #[serde(flatten)]
    pub body: Body,
}

/// A line's kind and content (`kind` is `step`, `summary` or `error`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Body {
    /// One step of the story.
    Step(Box<Numbered>),
    /// The run's result: its last line.
    Summary(Box<Summary>),
    /// The run failed: its last line.
    Error(Failure),
}

/// A step with its number in the text view (a plain line carries the number
/// of the step it follows).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Numbered {
    /// The step's number, as `[3]` in the text view.
    pub number: u64,
    /// The step.
    #[serde(flatten)]
    pub step: Step,
}

impl Line {
    /// The step, if this line is one.
    pub fn step(&self) -> Option<&Numbered> {
        match &self.body {
            Body::Step(s) => Some(s),
            _ => None,
        }
    }
}

/// Question ids as the record holds them.
pub fn qs(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|q| q.to_string()).collect()
}

/// A typed result's fields, for a step's data or the summary (which
/// flattens them); anything that is not a struct or map gives none.
pub fn fields(v: &impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(v) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Bytes as lowercase hex without separators.
pub fn to_hex(bytes: &[u8]) -> String {
    // A table, not format!: a run's JSON holds every packet's bytes twice
    // (the payload and the wire), and formatting byte by byte was measurable.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Lowercase or uppercase hex without separators, back to bytes.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

mod hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::to_hex(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        super::from_hex(&s)
            .ok_or_else(|| serde::de::Error::custom("not an even string of hex digits"))
    }
}

mod at_us {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t.and_then(|t| t.duration_since(UNIX_EPOCH).ok()) {
            Some(d) => s.serialize_some(&(d.as_micros() as u64)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        let us = Option::<u64>::deserialize(d)?;
        Ok(us.map(|us| UNIX_EPOCH + Duration::from_micros(us)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tx;

    fn sample() -> Vec<Line> {
        let p = Packet {
            transport: "udp".into(),
            protocol: "UDP".into(),
            peer: "127.53.0.1:53".into(),
            at: Some(UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456)),
            bytes: vec![0x20, 0xdd, 0x80, 0x00],
            fields: vec![FieldView {
                name: "ID".into(),
                range: 0..2,
                value: "0x20dd".into(),
                meaning: tx("the reply must echo it", "应答必须原样带回"),
            }],
            ..Packet::default()
        }
        .between("stub", "resolver", tx("query A x.", "查询 A x."));
        let step = Step::new(tx("a", "甲"), tx("b", "乙"), &["Q4"])
            .who("stub", tx("stub", "存根解析器"))
            .fact(tx("server", "服务器"), "127.53.0.1")
            .with_packets(vec![p]);
        let mut sum = Summary {
            title: tx("done", "完成"),
            ok: true,
            ..Summary::default()
        };
        sum.data
            .insert("answers".into(), serde_json::json!(["203.0.113.10"]));
        vec![
            Line {
                schema: SCHEMA.into(),
                demo: "dns-trace".into(),
                seq: 1,
                body: Body::Step(Box::new(Numbered { number: 1, step })),
            },
            Line {
                schema: SCHEMA.into(),
                demo: "dns-trace".into(),
                seq: 2,
                body: Body::Summary(Box::new(sum)),
            },
        ]
    }

    #[test]
    fn a_line_reads_back_as_the_same_record() {
        for line in sample() {
            let s = serde_json::to_string(&line).unwrap();
            assert!(!s.contains('\n'));
            let back: Line = serde_json::from_str(&s).unwrap();
            assert_eq!(back, line, "{s}");
        }
    }

    #[test]
    fn the_json_shape_scripts_read() {
        let v = serde_json::to_value(&sample()[0]).unwrap();
        assert_eq!(v["schema"], "netlab/2");
        assert_eq!(v["kind"], "step");
        assert_eq!(v["number"], 1);
        assert_eq!(v["title"]["zh"], "甲");
        assert_eq!(v["packets"][0]["hex"], "20dd8000");
        assert_eq!(v["packets"][0]["at_us"], 1_700_000_000_123_456u64);
        assert_eq!(v["packets"][0]["fields"][0]["start"], 0);
        assert_eq!(v["packets"][0]["fields"][0]["end"], 2);
        assert_eq!(v["packets"][0]["from"], "stub");
        assert_eq!(v["participants"][0]["label"]["zh"], "存根解析器");
        let s = serde_json::to_value(&sample()[1]).unwrap();
        assert_eq!(s["kind"], "summary");
        assert_eq!(s["answers"][0], "203.0.113.10", "the result is flattened");
    }

    #[test]
    fn bad_hex_is_an_error_not_a_panic() {
        assert_eq!(from_hex("0"), None);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex("é1"), None);
        assert_eq!(from_hex("0aFF"), Some(vec![0x0a, 0xff]));
    }
}
