//! The catalogue of the 39 interview questions (Q1–Q39, in the order of the notes).
//!
//! Data lives in `catalogue.json` (compiled in): titles as the notes give them
//! plus English, a short answer in each language written for netlab, a
//! correction where the notes are wrong or imprecise, and the demos that show
//! it live. This module loads and looks up; rendering is the caller's.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::text::{tx, Lang, Text};

/// One question.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Question {
    /// Q1 … Q39.
    pub id: String,
    /// Title as in the notes.
    pub title_zh: String,
    /// English title.
    pub title_en: String,
    /// Short answer, Chinese.
    pub answer_zh: String,
    /// Short answer, English.
    pub answer_en: String,
    /// Where the notes are wrong or imprecise (Chinese).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction_zh: Option<String>,
    /// Where the notes are wrong or imprecise (English).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction_en: Option<String>,
    /// netlab subcommands that demonstrate it.
    pub demos: Vec<String>,
}

impl Question {
    /// Title in a language.
    pub fn title(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.title_zh,
            Lang::En => &self.title_en,
        }
    }

    /// Answer as bilingual text.
    pub fn answer(&self) -> Text {
        tx(&self.answer_en, &self.answer_zh)
    }

    /// Correction as bilingual text, if any.
    pub fn correction(&self) -> Option<Text> {
        match (&self.correction_en, &self.correction_zh) {
            (Some(en), Some(zh)) => Some(tx(en, zh)),
            _ => None,
        }
    }
}

const DATA: &str = include_str!("catalogue.json");

/// All questions, Q1 first.
pub fn all() -> Vec<Question> {
    serde_json::from_str(DATA).expect("catalogue.json is checked by a unit test")
}

/// Find one question by `Q4`, `q4` or `4`.
pub fn find(id: &str) -> Result<Question> {
    let digits = id.trim().trim_start_matches(['Q', 'q']);
    let n: usize = digits.parse().map_err(|_| {
        Error::usage(crate::text::tx(
            format!("unknown question {id:?}: use an id from Q1 to Q39 (see `netlab questions`)"),
            format!("没有问题 {id:?}：请用 Q1 到 Q39 的编号（见 `netlab questions`）"),
        ))
    })?;
    all()
        .into_iter()
        .find(|q| q.id == format!("Q{n}"))
        .ok_or_else(|| {
            Error::usage(crate::text::tx(
                format!(
                    "unknown question {id:?}: use an id from Q1 to Q39 (see `netlab questions`)"
                ),
                format!("没有问题 {id:?}：请用 Q1 到 Q39 的编号（见 `netlab questions`）"),
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_has_q1_to_q39_in_order_with_both_languages() {
        let qs = all();
        assert_eq!(qs.len(), 39);
        for (i, q) in qs.iter().enumerate() {
            assert_eq!(q.id, format!("Q{}", i + 1));
            for s in [&q.title_zh, &q.title_en, &q.answer_zh, &q.answer_en] {
                assert!(!s.trim().is_empty(), "{} has an empty text", q.id);
            }
            assert_eq!(
                q.correction_en.is_some(),
                q.correction_zh.is_some(),
                "{}",
                q.id
            );
        }
    }

    #[test]
    fn the_notes_slips_are_corrected() {
        let q10 = find("Q10").unwrap().correction_en.unwrap();
        for needle in ["ICMP", "NAT", "RARP", "protocol 1"] {
            assert!(q10.contains(needle), "Q10 correction lacks {needle}");
        }
        assert!(find("5").unwrap().correction_en.unwrap().contains("0x0806"));
    }

    #[test]
    fn find_accepts_forms_and_refuses_unknown() {
        assert_eq!(find("q4").unwrap().id, "Q4");
        assert_eq!(find("4").unwrap().id, "Q4");
        assert!(find("Q40").is_err());
        assert!(find("Q0").is_err());
        assert!(find("x").is_err());
    }

    #[test]
    fn demos_named_exist() {
        for q in all() {
            for d in &q.demos {
                assert!(
                    crate::demos::NAMES.contains(&d.as_str()),
                    "{}: unknown demo {d}",
                    q.id
                );
            }
        }
    }
}
