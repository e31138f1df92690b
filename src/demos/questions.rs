//! `netlab questions` and `netlab explain ID`: the catalogue, rendered.
//!
//! These are reference pages, not narrated runs: they return one string (a
//! table, a page, or one JSON document) for main to print.

use serde_json::json;

use crate::error::Result;
use crate::narrate::Lang;
use crate::questions::{self, Question};

/// The list: one line per question, or a JSON array.
pub fn list(lang: Lang, as_json: bool) -> String {
    let qs = questions::all();
    if as_json {
        return serde_json::to_string_pretty(&qs).unwrap_or_default();
    }
    let mut out = String::new();
    let head = match lang {
        Lang::Zh => "编号  题目  [演示]",
        Lang::En => "id    title  [demos]",
    };
    out.push_str(head);
    for q in &qs {
        let demos = if q.demos.is_empty() {
            String::new()
        } else {
            format!("  [netlab {}]", q.demos.join(", netlab "))
        };
        let mark = if q.correction_en.is_some() {
            " ✎"
        } else {
            ""
        };
        out.push_str(&format!("\n{:<5} {}{mark}{demos}", q.id, q.title(lang)));
    }
    let foot = match lang {
        Lang::Zh => "\n\n✎ = 笔记此处有误或不够准确，netlab 给出纠正。用 `netlab explain Q4` 查看详情。",
        Lang::En => "\n\n✎ = the notes are wrong or imprecise here and netlab corrects them. `netlab explain Q4` shows one.",
    };
    out.push_str(foot);
    out
}

/// One question's page, or its JSON object.
pub fn explain(id: &str, lang: Lang, as_json: bool) -> Result<String> {
    let q = questions::find(id)?;
    if as_json {
        let mut v = serde_json::to_value(&q).unwrap_or_default();
        v["schema"] = json!(crate::narrate::SCHEMA);
        return Ok(v.to_string());
    }
    Ok(page(&q, lang))
}

fn page(q: &Question, lang: Lang) -> String {
    let (a, c, d, other) = match lang {
        Lang::Zh => ("答", "✎ 笔记纠正", "动手看", "English"),
        Lang::En => ("Answer", "✎ Correcting the notes", "See it live", "中文"),
    };
    let other_title = match lang {
        Lang::Zh => &q.title_en,
        Lang::En => &q.title_zh,
    };
    let mut out = format!(
        "{}  {}\n    ({other}: {other_title})\n\n{a}: {}",
        q.id,
        q.title(lang),
        q.answer().get(lang)
    );
    if let Some(corr) = q.correction() {
        out.push_str(&format!("\n\n{c}: {}", corr.get(lang)));
    }
    if !q.demos.is_empty() {
        let cmds: Vec<String> = q
            .demos
            .iter()
            .map(|demo| {
                // Its default run, or the command line that shows it.
                let (cmd, steps) = q
                    .steps
                    .get_key_value(demo)
                    .or_else(|| {
                        q.steps
                            .iter()
                            .find(|(k, _)| k.split(' ').next() == Some(demo.as_str()))
                    })
                    .map_or((demo.as_str(), None), |(k, v)| (k.as_str(), Some(v)));
                let at = steps.filter(|s| !s.is_empty()).map(|s| {
                    let r = questions::ranges(s);
                    match (lang, s.len()) {
                        (Lang::Zh, _) => format!("（第 {r} 步）"),
                        (Lang::En, 1) => format!(" (step {r})"),
                        (Lang::En, _) => format!(" (steps {r})"),
                    }
                });
                format!("netlab {cmd}{}", at.unwrap_or_default())
            })
            .collect();
        out.push_str(&format!("\n\n{d}: {}", cmds.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_json_is_one_array_of_39() {
        let v: serde_json::Value = serde_json::from_str(&list(Lang::En, true)).unwrap();
        let arr = v.as_array().unwrap();
        assert_eq!(arr.len(), 39);
        for key in ["id", "title_zh", "title_en", "demos"] {
            assert!(arr.iter().all(|q| q.get(key).is_some()), "{key}");
        }
    }

    #[test]
    fn explain_names_the_steps_that_show_it() {
        assert_eq!(questions::ranges(&[2, 3, 4, 7, 9, 10]), "2–4, 7, 9–10");
        assert_eq!(questions::ranges(&[5]), "5");
        // Every live question names where in its demo it is shown.
        for q in questions::all() {
            for d in &q.demos {
                let en = explain(&q.id, Lang::En, false).unwrap();
                let live = en.rsplit("See it live: ").next().unwrap_or_default();
                let item = live
                    .split(", netlab ")
                    .map(|i| i.trim_start_matches("netlab "))
                    .find(|i| i.split(' ').next() == Some(d.as_str()));
                assert!(
                    item.is_some_and(|i| i.contains("(step")),
                    "{} {d}: {en}",
                    q.id
                );
            }
        }
        let zh = explain("Q22", Lang::Zh, false).unwrap();
        assert!(zh.contains("netlab ipc（第 "), "{zh}");
    }

    #[test]
    fn explain_follows_language() {
        let zh = explain("Q4", Lang::Zh, false).unwrap();
        assert!(zh.contains("DNS是什么") && zh.contains("答"));
        let en = explain("Q4", Lang::En, false).unwrap();
        assert!(en.contains("Answer") && en.contains("netlab dns-trace"));
    }
}
