//! JSON Lines renderer, schema `netlab/1` (docs/json-schema.md).
//!
//! Every object carries `schema`, `demo`, `seq`, `kind` and `questions`.
//! Steps put their specifics under `data`; the summary's fields are flattened
//! into the summary object so a script can read `.answers` directly. Pure
//! functions: they return a value; the narrator prints it as one line and
//! keeps it for the page.

use serde_json::{json, Map, Value};

use super::{Direction, Lang, Step, Summary, SCHEMA};

fn head(demo: &str, seq: u64, kind: &str, questions: &[&str]) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("schema".into(), SCHEMA.into());
    m.insert("demo".into(), demo.into());
    m.insert("seq".into(), seq.into());
    m.insert("kind".into(), kind.into());
    m.insert("questions".into(), json!(questions));
    m
}

/// One step as a JSON object (printed on one line). `number` is the step's
/// number in the text view (a plain line carries the number of the step it follows).
pub fn step_value(demo: &str, seq: u64, number: u64, step: &Step, lang: Lang) -> Value {
    let mut m = head(demo, seq, "step", &step.questions);
    m.insert("lang".into(), lang.code().into());
    m.insert("number".into(), number.into());
    m.insert("plain".into(), step.plain.into());
    if let Some(s) = &step.section {
        m.insert("section".into(), s.get(lang).into());
    }
    m.insert("title".into(), step.title.get(lang).into());
    m.insert("detail".into(), step.detail.get(lang).into());
    if let Some(c) = &step.correction {
        m.insert("correction".into(), c.get(lang).into());
    }
    let facts: Vec<Value> = step
        .facts
        .iter()
        .map(|f| json!({"label": f.label.get(lang), "value": f.value.get(lang)}))
        .collect();
    m.insert("facts".into(), facts.into());
    let packets: Vec<Value> = step
        .packets
        .iter()
        .filter(|p| !p.echo)
        .map(|p| {
            json!({
                "direction": match p.direction {
                    Direction::Sent => "sent",
                    Direction::Received => "received",
                    Direction::Captured => "captured",
                },
                "summary": p.summary.get(lang),
                "from": p.from,
                "to": p.to,
                "label": p.label.get(lang),
                "lost": p.lost,
                // Microseconds since the Unix epoch: an integer survives any JSON reader.
                "at_us": p.at.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_micros() as u64),
                "transport": p.transport,
                // TCP, UDP, ICMP, ARP or IP: what carried it, from its bytes.
                "protocol": p.kind(),
                "peer": p.peer,
                "length": p.bytes.len(),
                // Set when only the first `length` bytes were kept (a snap length).
                "wire_length": p.wire.as_ref().and_then(|w| w.original_len),
                "hex": hex(&p.bytes),
                "fields": p.fields.iter().map(|f| json!({
                    "name": f.name,
                    "start": f.range.start,
                    "end": f.range.end,
                    // Values are data a script compares: always the English form.
                    "value": f.value.en,
                    "meaning": f.meaning.get(lang),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    m.insert("packets".into(), packets.into());
    m.insert("data".into(), Value::Object(step.data.clone()));
    Value::Object(m)
}

/// The summary object: the last line of a run.
pub fn summary_value(demo: &str, seq: u64, s: &Summary, lang: Lang) -> Value {
    let mut m = head(demo, seq, "summary", &s.questions);
    m.insert("lang".into(), lang.code().into());
    m.insert("title".into(), s.title.get(lang).into());
    m.insert("ok".into(), s.ok.into());
    for (k, v) in &s.data {
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}

/// The error object of a run that failed: its message in the run's
/// language, a stable `cause` (`usage`, `privilege`, `write` …) and the
/// `object` it names (a path, an address, a link), for scripts.
pub fn error_of(demo: &str, seq: u64, err: &crate::error::Error, lang: Lang) -> String {
    let mut m = head(demo, seq, "error", &[]);
    m.insert("message".into(), err.text().get(lang).into());
    m.insert("cause".into(), err.cause().into());
    m.insert(
        "object".into(),
        err.object().map_or(Value::Null, Value::from),
    );
    m.insert("exit_code".into(), err.exit_code().into());
    Value::Object(m).to_string()
}

/// Lowercase hex without separators.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::narrate::{tx, Step};

    #[test]
    fn step_line_has_the_schema_fields() {
        let s = Step::new(tx("a", "甲"), tx("b", "乙"), &["Q4"]).data("k", 1);
        let v = step_value("dns-trace", 3, 2, &s, Lang::Zh);
        let line = v.to_string();
        assert_eq!(v["schema"], "netlab/1");
        assert_eq!(v["demo"], "dns-trace");
        assert_eq!(v["seq"], 3);
        assert_eq!(v["kind"], "step");
        assert_eq!(v["questions"][0], "Q4");
        assert_eq!(v["title"], "甲");
        assert_eq!(v["data"]["k"], 1);
        assert!(!line.contains('\n'));
    }

    #[test]
    fn error_line_carries_cause_object_and_exit_code() {
        let e = crate::error::Error::Write {
            path: "/x.pcapng".into(),
            source: std::io::Error::from_raw_os_error(28),
        };
        let v: Value = serde_json::from_str(&error_of("x", 1, &e, Lang::Zh)).unwrap();
        assert_eq!(v["kind"], "error");
        assert_eq!(v["exit_code"], 2);
        assert_eq!(v["cause"], "write");
        assert_eq!(v["object"], "/x.pcapng");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .starts_with("无法写入 /x.pcapng"),
            "{v}"
        );
    }
}
