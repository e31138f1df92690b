//! Fitting text to a terminal: display width and line wrapping.
//!
//! A terminal gives a CJK character two columns and most other characters
//! one. Wrapping breaks English at spaces and Chinese between characters (not
//! before a closing mark such as `，` or `）`, not after an opening one), so an
//! address, a path or a flag is never split; a word longer than the whole line
//! is the only thing ever cut. This module knows nothing about steps: the text
//! renderer and the ladder call it.

/// Columns one character takes on a terminal (unicode-width, UAX #11):
/// two for East Asian wide and full-width characters and most emoji, none
/// for combining and zero-width ones, one otherwise (ambiguous-width
/// characters such as `│` and `·` count as narrow, as terminals outside CJK
/// locales draw them).
pub fn char_width(c: char) -> usize {
    unicode_width::UnicodeWidthChar::width(c).unwrap_or(0)
}

/// Whether a character takes two columns.
pub fn is_wide(c: char) -> bool {
    char_width(c) == 2
}

/// Columns a string takes on a terminal (unicode-width), ANSI escape
/// sequences none.
pub fn display_width(s: &str) -> usize {
    let mut w = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters final-letter
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        w += char_width(c);
    }
    w
}

/// Marks that must not begin a line (they close what came before).
fn closes(c: char) -> bool {
    "，。、；：！？）」』》】〕…,.;:!?)]}%".contains(c)
}

/// Marks that must not end a line (they open what comes after).
fn opens(c: char) -> bool {
    "（「『《【〔([{".contains(c)
}

/// A piece that is never split, and whether a space stood before it.
#[derive(Debug)]
struct Unit {
    text: String,
    space_before: bool,
}

fn units(text: &str) -> Vec<Unit> {
    let mut out: Vec<Unit> = Vec::new();
    let mut space = false;
    // Whether the last unit may take more narrow characters (a word being built).
    let mut in_word = false;
    // Whether the last unit ended with an opening mark: the next character joins it.
    let mut glue = false;
    for c in text.chars() {
        if c == ' ' || c == '\t' {
            space = true;
            in_word = false;
            glue = false;
            continue;
        }
        let wide = is_wide(c);
        let joins_prev = !out.is_empty() && !space && (glue || closes(c));
        if joins_prev || (in_word && !wide && !space) {
            let last = out.last_mut().expect("checked non-empty");
            last.text.push(c);
        } else {
            out.push(Unit {
                text: c.to_string(),
                space_before: space && !out.is_empty(),
            });
        }
        in_word = !wide;
        glue = opens(c);
        space = false;
    }
    out
}

/// Cut a word that is wider than a whole line into pieces of at most `w` columns.
fn cut(word: &str, w: usize) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut cols = 0;
    for c in word.chars() {
        let cw = char_width(c);
        if cols + cw > w && cols > 0 {
            pieces.push(String::new());
            cols = 0;
        }
        pieces.last_mut().expect("never empty").push(c);
        cols += cw;
    }
    pieces
}

/// Wrap one paragraph (no newlines) to `width` columns. The first line starts
/// with `first`, every later line with `cont`; both prefixes count towards the
/// width. Returns at least one line.
pub fn wrap_with(text: &str, width: usize, first: &str, cont: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = first.to_string();
    let mut cols = display_width(first);
    let mut empty = true;
    let cont_w = display_width(cont);
    for u in units(text) {
        let uw = display_width(&u.text);
        let mut gap = usize::from(u.space_before && !empty);
        if !empty && cols + gap + uw > width {
            lines.push(std::mem::replace(&mut line, cont.to_string()));
            cols = cont_w;
            empty = true;
            gap = 0;
        }
        let room = width.saturating_sub(cols).max(1);
        if empty && uw > room {
            // Only a word wider than the whole line is cut.
            let pieces = cut(&u.text, room.max(width.saturating_sub(cont_w)).max(1));
            let n = pieces.len();
            for (i, p) in pieces.into_iter().enumerate() {
                line.push_str(&p);
                if i + 1 < n {
                    lines.push(std::mem::replace(&mut line, cont.to_string()));
                }
            }
            cols = display_width(&line);
            empty = false;
            continue;
        }
        if gap == 1 {
            line.push(' ');
        }
        line.push_str(&u.text);
        cols += gap + uw;
        empty = false;
    }
    lines.push(line);
    lines
}

/// Wrap text that may hold several paragraphs (one per `\n`), each indented by
/// `indent` spaces on every line.
pub fn wrap(text: &str, width: usize, indent: usize) -> Vec<String> {
    let pad = " ".repeat(indent);
    text.split('\n')
        .flat_map(|p| wrap_with(p, width, &pad, &pad))
        .collect()
}

/// Fit a text laid out in lines (a list, a page) to `width`: a line that is too
/// wide wraps, its continuation indented `cont` columns past its own indent.
pub fn fit(text: &str, width: usize, cont: usize) -> String {
    text.split('\n')
        .flat_map(|line| {
            if display_width(line) <= width {
                return vec![line.to_string()];
            }
            // A row with a short first column ("Q12   title…") keeps that column,
            // and its continuation lines start under the second one.
            let column = line
                .find("  ")
                .filter(|&i| i > 0 && i <= 8 && !line[..i].contains(' '))
                .map(|i| i + line[i..].len() - line[i..].trim_start_matches(' ').len());
            if let Some(end) = column {
                let pad = " ".repeat(display_width(&line[..end]));
                return wrap_with(&line[end..], width, &line[..end], &pad);
            }
            let lead = line.len() - line.trim_start_matches(' ').len();
            let first = " ".repeat(lead);
            let rest = " ".repeat(lead + cont);
            wrap_with(line.trim_start_matches(' '), width, &first, &rest)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Cut a string to at most `w` columns, ending with "…" when cut.
pub fn truncate(s: &str, w: usize) -> String {
    if display_width(s) <= w {
        return s.to_string();
    }
    let mut out = String::new();
    let mut cols = 0;
    for c in s.chars() {
        let cw = char_width(c);
        if cols + cw + 1 > w {
            break;
        }
        out.push(c);
        cols += cw;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widest(lines: &[String]) -> usize {
        lines.iter().map(|l| display_width(l)).max().unwrap_or(0)
    }

    #[test]
    fn cjk_is_two_columns_and_escapes_none() {
        assert_eq!(display_width("ab"), 2);
        assert_eq!(display_width("服务器"), 6);
        assert_eq!(display_width("──→"), 3);
        assert_eq!(display_width("（Q4）"), 6);
        assert_eq!(display_width("\x1b[1mab\x1b[0m"), 2);
    }

    #[test]
    fn english_breaks_at_spaces_and_keeps_addresses_whole() {
        let t = "the lab runs on 127.53.0.0/16 port 5300 and nothing leaves this machine at all";
        let l = wrap(t, 30, 4);
        assert!(widest(&l) <= 30, "{l:?}");
        assert!(l.iter().all(|x| x.starts_with("    ")));
        assert!(l.iter().any(|x| x.contains("127.53.0.0/16")), "{l:?}");
        assert_eq!(l.iter().map(|x| x.trim()).collect::<Vec<_>>().join(" "), t);
    }

    #[test]
    fn chinese_breaks_between_characters_but_not_before_a_comma() {
        let t = "缓存为空的递归服务器只知道根服务器的地址，它以 RD=0 询问其中一台。";
        let l = wrap(t, 20, 2);
        assert!(widest(&l) <= 20, "{l:?}");
        for x in &l {
            let first = x.trim_start().chars().next().unwrap();
            assert!(!closes(first), "{x:?} starts with a closing mark");
        }
        assert!(l.iter().any(|x| x.contains("RD=0")), "{l:?}");
        let joined: String = l.iter().map(|x| x.trim()).collect::<Vec<_>>().join("");
        assert_eq!(joined.replace(' ', ""), t.replace(' ', ""));
    }

    #[test]
    fn continuation_lines_keep_their_indent_and_long_words_are_cut() {
        let l = wrap_with("a bbbbbbbbbbbbbbbbbbbbbbbbb c", 12, "- ", "  ");
        assert!(widest(&l) <= 12, "{l:?}");
        assert!(l[1..].iter().all(|x| x.starts_with("  ")));
        assert_eq!(wrap("", 10, 2), vec!["  ".to_string()]);
    }

    #[test]
    fn a_laid_out_text_fits_line_by_line() {
        let t = "Q1    a fairly long title that will not fit in thirty columns\nshort";
        let f = fit(t, 30, 6);
        assert!(f.lines().all(|l| display_width(l) <= 30), "{f}");
        assert!(f.lines().nth(1).unwrap().starts_with("      "), "{f}");
        assert!(f.ends_with("\nshort"));
    }

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate("abcdef", 10), "abcdef");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(display_width(&truncate("服务器地址", 5)), 5);
    }
}
