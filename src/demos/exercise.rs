//! `netlab exercise [NAME]` and `netlab check EXERCISE RUN.jsonl`: the
//! exercises of examples/, listed, printed as task sheets, and checked against
//! a saved run.
//!
//! The expectations and their verdicts are [`crate::exercise`]'s; this module
//! finds the exercise (a built-in name or a file), reads the run with the
//! reader `render` uses, and returns the page for main to print.

use std::path::Path;

use crate::error::{exit, Error, Result};
use crate::exercise::{Exercise, BUILTIN, NOT_MET};
use crate::narrate::{self, Lang};
use crate::text::tx;

/// An exercise by built-in name, or from a file (a path, or a name ending in .toml).
pub fn find(name: &str) -> Result<Exercise> {
    if let Some(ex) = Exercise::builtin(name) {
        return ex;
    }
    let path = Path::new(name);
    if !name.ends_with(".toml") && !name.contains('/') {
        let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        return Err(Error::usage(tx(
            format!(
                "no exercise named {name}: `netlab exercise` lists them ({}), or give a file.toml",
                names.join(", ")
            ),
            format!(
                "没有名为 {name} 的练习：`netlab exercise` 列出全部（{}），也可以给出 .toml 文件",
                names.join("、")
            ),
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let stem = path
        .file_stem()
        .map_or(name.to_string(), |s| s.to_string_lossy().into_owned());
    let origin = path.display().to_string();
    let ex = Exercise::parse(&stem, &text, &origin)?;
    let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    let known = cmd
        .get_subcommands()
        .any(|c| !c.is_hide_set() && c.get_name() == ex.demo);
    if !known {
        return Err(Error::usage(tx(
            format!(
                "{origin}: demo = \"{}\" is not a netlab command (`netlab --help` lists them)",
                ex.demo
            ),
            format!(
                "{origin}：demo = \"{}\" 不是 netlab 的命令（`netlab --help` 列出全部）",
                ex.demo
            ),
        )));
    }
    Ok(ex)
}

/// The list of exercises: name, demo, title.
pub fn list(lang: Lang) -> Result<String> {
    let mut out = match lang {
        Lang::En => "exercise        demo            title".to_string(),
        Lang::Zh => "练习            演示            标题".to_string(),
    };
    for (name, _) in BUILTIN {
        let ex = find(name)?;
        out.push_str(&format!(
            "\n{:<15} {:<15} {}",
            ex.name,
            ex.demo,
            ex.title.get(lang)
        ));
    }
    out.push_str(match lang {
        Lang::En => "\n\n`netlab exercise NAME` prints the task; `netlab check NAME RUN.jsonl` checks a saved run.",
        Lang::Zh => "\n\n`netlab exercise 名称` 打印题目；`netlab check 名称 运行记录.jsonl` 检查保存的运行记录。",
    });
    Ok(out)
}

/// The task sheet: in one language, or both (English first) when none is chosen.
pub fn sheet(name: &str, lang: Option<Lang>) -> Result<String> {
    let ex = find(name)?;
    Ok(match lang {
        Some(l) => ex.sheet(l),
        None => format!("{}\n\n{}", ex.sheet(Lang::En), ex.sheet(Lang::Zh)),
    })
}

/// Check a saved run: the page (one line per expectation, met or not, and
/// why not; or one JSON object) and the exit code (0 all met, 1 one not met).
pub fn check(name: &str, run: &Path, lang: Lang, as_json: bool) -> Result<(String, i32)> {
    let ex = find(name)?;
    let lines = narrate::read_run(run)?;
    let verdicts = ex.check(&lines);
    let met = verdicts.iter().filter(|v| v.met).count();
    let code = if met == verdicts.len() {
        exit::OK
    } else {
        NOT_MET
    };
    if as_json {
        let doc = serde_json::json!({
            "schema": narrate::SCHEMA,
            "exercise": ex.name,
            "demo": ex.demo,
            "met": met,
            "of": verdicts.len(),
            "expectations": verdicts,
        });
        return Ok((doc.to_string(), code));
    }
    let mut out = match lang {
        Lang::En => format!("exercise {} on {}", ex.name, run.display()),
        Lang::Zh => format!("练习 {}，检查 {}", ex.name, run.display()),
    };
    for v in &verdicts {
        let mark = if v.met { "✓" } else { "✗" };
        out.push_str(&format!("\n{mark} {}", v.says.get(lang)));
        if let Some(why) = &v.why {
            out.push_str(&format!("\n    {}", why.get(lang)));
        }
    }
    let all = verdicts.len();
    out.push_str(&match lang {
        Lang::En => format!("\n\n{met} of {all} met."),
        Lang::Zh => format!("\n\n满足 {met}/{all} 项。"),
    });
    Ok((out, code))
}
