//! The JSON Lines sink, schema `netlab/2` (docs/json-schema.md, generated
//! from [`crate::record`]).
//!
//! Every line is one [`Line`] serialized as it is: the same record whatever
//! `--lang` was (prose carries both languages). A script reads it with any
//! JSON parser; `netlab render` reads it back into the same types.

use std::io::Write;

use super::{Line, Sink};
use crate::error::{Error, Result};

/// Writes each line of the run as one JSON object per line.
pub struct JsonSink {
    out: Box<dyn Write + Send>,
    /// One line is serialized here, then written whole.
    buf: Vec<u8>,
}

impl JsonSink {
    /// A sink writing to `out` (stdout, or a buffer in tests).
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        JsonSink {
            out,
            buf: Vec::with_capacity(16 << 10),
        }
    }
}

impl Sink for JsonSink {
    fn line(&mut self, line: &Line) -> Result<()> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, line)
            .map_err(|e| Error::Output(std::io::Error::other(e.to_string())))?;
        self.buf.push(b'\n');
        self.out.write_all(&self.buf).map_err(Error::Output)?;
        self.out.flush().map_err(Error::Output)
    }
}

/// The error object of a run that failed before a narrator existed (a bad
/// command line): one line, as a run's error line.
pub fn error_of(demo: &str, seq: u64, err: &Error) -> String {
    let line = Line {
        schema: super::SCHEMA.to_string(),
        demo: demo.to_string(),
        seq,
        body: super::Body::Error(err.failure()),
    };
    serde_json::to_string(&line).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::narrate::{tx, Step};
    use serde_json::Value;

    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn step_line_has_the_schema_fields_in_both_languages() {
        let buf = Buf::default();
        let mut sink = JsonSink::new(Box::new(buf.clone()));
        let s = Step::new(tx("a", "甲"), tx("b", "乙"), &["Q4"]);
        let line = Line {
            schema: super::super::SCHEMA.into(),
            demo: "dns-trace".into(),
            seq: 3,
            body: super::super::Body::Step(Box::new(super::super::Numbered { number: 2, step: s })),
        };
        sink.line(&line).unwrap();
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out.lines().count(), 1);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["schema"], "netlab/2");
        assert_eq!(v["demo"], "dns-trace");
        assert_eq!(v["seq"], 3);
        assert_eq!(v["kind"], "step");
        assert_eq!(v["questions"][0], "Q4");
        assert_eq!(v["title"]["zh"], "甲");
        assert_eq!(v["title"]["en"], "a");
    }

    #[test]
    fn error_line_carries_cause_object_and_exit_code() {
        let e = crate::error::Error::Write {
            path: "/x.pcapng".into(),
            source: std::io::Error::from_raw_os_error(28),
        };
        let v: Value = serde_json::from_str(&error_of("x", 1, &e)).unwrap();
        assert_eq!(v["kind"], "error");
        assert_eq!(v["exit_code"], 2);
        assert_eq!(v["cause"], "write");
        assert_eq!(v["object"], "/x.pcapng");
        assert!(
            v["message"]["zh"]
                .as_str()
                .unwrap()
                .starts_with("无法写入 /x.pcapng"),
            "{v}"
        );
    }
}
