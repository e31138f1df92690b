//! What a command-line tool ships: shell completions and manual pages.

use predicates::prelude::*;
use predicates::str::contains;

use super::*;

#[test]
fn bash_completes_subcommands_and_their_values() {
    if !require("bash", have("bash")) {
        return;
    }
    let o = netlab(&["completions", "bash"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("netlab.bash");
    std::fs::write(&script, &o.stdout).unwrap();
    // Source the script and ask its completion function, as bash does on Tab.
    let complete = |line: &str| -> Vec<String> {
        let words: Vec<&str> = line.split(' ').collect();
        let cword = words.len() - 1;
        let prev = if cword > 0 { words[cword - 1] } else { "" };
        let probe = format!(
            "source {}; COMP_WORDS=({}); COMP_CWORD={cword}; COMP_LINE='{line}'; COMP_POINT={}; _netlab netlab '{}' '{prev}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            line.len(),
            words[cword],
        );
        let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(complete("netlab dns-t"), ["dns-trace"]);
    let lab = complete("netlab lab ");
    for want in ["up", "status", "down", "exec", "dns"] {
        assert!(lab.contains(&want.to_string()), "{want} in {lab:?}");
    }
    assert!(
        !lab.contains(&"hold".to_string()),
        "a hidden subcommand is not offered: {lab:?}"
    );
    let tcp = complete("netlab tcp-vs-udp --lo");
    assert!(tcp.iter().any(|w| w == "--loss") && tcp.iter().any(|w| w == "--loopback"));
}

#[test]
fn every_shell_gets_a_script() {
    for (shell, marker) in [
        ("bash", "_netlab()"),
        ("zsh", "#compdef netlab"),
        ("fish", "complete -c netlab"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion"),
    ] {
        netlab_cmd()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(contains(marker).and(contains("dns-trace")));
    }
    // An unknown shell is a usage error that lists the ones there are.
    netlab_cmd()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(contains("possible values").and(contains("bash")));
}

#[test]
fn the_manual_renders_with_man() {
    if !require("man (Debian package man-db)", have("man")) {
        return;
    }
    let o = netlab(&["man"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("netlab.1");
    std::fs::write(&page, &o.stdout).unwrap();
    let out = Command::new("man")
        .args(["-l", page.to_str().unwrap()])
        .env("MANWIDTH", "80")
        .env("MAN_KEEP_FORMATTING", "0")
        .env("PAGER", "cat")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // nroff emboldens by overstriking ("N\bN"); keep the letters.
    let raw = String::from_utf8_lossy(&out.stdout);
    let mut text = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if chars.peek() == Some(&'\u{8}') {
            chars.next();
            continue;
        }
        text.push(c);
    }
    for want in [
        "NAME",
        "SYNOPSIS",
        "OPTIONS",
        "dns-trace",
        "tcp-vs-udp",
        "--pcap",
    ] {
        assert!(text.contains(want), "{want} in the rendered page:\n{text}");
    }
    assert!(
        text.lines().all(|l| l.chars().count() <= 80),
        "the page fits 80 columns"
    );
}

#[test]
fn the_pages_in_docs_are_the_generated_ones() {
    // NETLAB_BLESS=1 cargo test the_pages_in_docs rewrites them after a change.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/man");
    let pages = netlab::man_pages();
    if std::env::var("NETLAB_BLESS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, roff) in &pages {
            std::fs::write(dir.join(name), roff).unwrap();
        }
    }
    for (name, roff) in &pages {
        let have = std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|_| panic!("docs/man/{name} is missing: NETLAB_BLESS=1 cargo test"));
        assert_eq!(
            &have, roff,
            "docs/man/{name} is stale: NETLAB_BLESS=1 cargo test"
        );
    }
    let on_disk = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(on_disk, pages.len(), "no page for a command that is gone");
}

#[test]
fn no_hand_computed_checksum_is_left_in_src() {
    // ICMP, IPv4, UDP and TCP checksums come from pnet_packet; a fold of
    // 16-bit sums by hand would be a second implementation to get wrong.
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_some_and(|x| x == "rs") {
                seen += 1;
                let text = std::fs::read_to_string(&p).unwrap();
                for pattern in [
                    "fn checksum(",
                    "(sum & 0xffff)",
                    "sum >> 16",
                    "!(sum as u16)",
                ] {
                    assert!(
                        !text.contains(pattern),
                        "{} computes a checksum by hand ({pattern:?}): use pnet_packet",
                        p.display()
                    );
                }
            }
        }
    }
    assert!(seen > 50, "walked the sources ({seen} files)");
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color_or_term_dumb() {
    if !require("script (Debian package util-linux)", have("script")) {
        return;
    }
    // `script` gives netlab a pseudo-terminal, as a student's shell would.
    let demo = |env: &[(&str, &str)]| -> String {
        let mut cmd = Command::new("script");
        cmd.args([
            "-qec",
            &format!(
                "{} sticky-packet --writes 3 --width 80",
                env!("CARGO_BIN_EXE_netlab")
            ),
            "/dev/null",
        ])
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("TERM", "xterm-256color");
        for (k, v) in env {
            cmd.env(k, v);
        }
        String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
    };
    assert!(demo(&[]).contains("\u{1b}["), "colour on a terminal");
    assert!(!demo(&[("NO_COLOR", "1")]).contains("\u{1b}["), "NO_COLOR");
    assert!(!demo(&[("TERM", "dumb")]).contains("\u{1b}["), "TERM=dumb");
    let piped = netlab(&["sticky-packet", "--writes", "3"]);
    assert!(!stdout(&piped).contains('\u{1b}'), "not a terminal");
}

#[test]
fn the_json_schema_page_is_the_generated_one() {
    // NETLAB_BLESS=1 cargo test the_json_schema_page rewrites it after a change.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json-schema.md");
    let page = netlab::demos::schema::markdown();
    if std::env::var("NETLAB_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &page).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap();
    assert!(
        have == page,
        "docs/json-schema.md differs from the types: NETLAB_BLESS=1 cargo test the_json_schema_page"
    );
}

#[test]
fn a_saved_run_renders_in_either_language_and_any_view() {
    // One record, many views: the JSON is the same whatever --lang was, so a
    // run saved in English renders in Chinese, and the other way round.
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run.jsonl");
    let o = netlab(&["dns-trace", "www.baidu.com", "--lang", "en", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(&run, &o.stdout).unwrap();
    let r = run.to_str().unwrap();
    let zh = stdout(&netlab(&["render", r, "--lang", "zh"]));
    assert!(zh.contains("── 小结") && zh.contains("转介到 com."), "{zh}");
    let en = stdout(&netlab(&["render", r, "--lang", "en"]));
    assert!(
        en.contains("── Summary") && en.contains("referral to com."),
        "{en}"
    );
    // The text view rendered from the record is the live text view.
    let live = stdout(&netlab(&["dns-trace", "www.baidu.com", "--lang", "zh"]));
    let shape = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with('[') || l.starts_with("── "))
            .map(|l| {
                l.split("  ")
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(12)
                    .collect()
            })
            .collect()
    };
    assert_eq!(shape(&zh), shape(&live), "the same steps and headings");
    // JSON back out is the same record.
    let again = netlab(&["render", r, "--json"]);
    assert_eq!(
        stdout(&again),
        stdout(&o),
        "render --json gives the record back"
    );
    // The page, in the language asked for.
    let page = dir.path().join("p.html");
    let o = netlab(&[
        "render",
        r,
        "--lang",
        "zh",
        "--html",
        page.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).is_empty(),
        "with --html, render writes the page only"
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("lang=\"zh\""), "the page opens in Chinese");
    // A capture from a saved run: the same packets as the live run's.
    let pcap = dir.path().join("p.pcapng");
    let o = netlab(&["render", r, "--pcap", pcap.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::metadata(&pcap).unwrap().len() > 1000);
}
