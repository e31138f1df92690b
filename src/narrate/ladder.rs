//! The ladder: a sequence diagram of a run, drawn from its packet records.
//!
//! One column per participant, one row per packet (an arrow from sender to
//! receiver with the packet's label), time running down, the step number at
//! the side; a packet that never arrived ends in `✗`. Look-alike packets in a
//! row (same step, same ends, same label but for its numbers) are drawn once
//! with `×N`. When there are more participants than the width allows, the
//! least used are merged into one column and the legend says so. Pure: takes
//! rows, returns lines.

use super::wrap::{display_width, truncate};
use super::Lang;

/// One arrow of the ladder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The step the packet belongs to (its number in the text view).
    pub step: u64,
    /// Sender.
    pub from: String,
    /// Receiver; for a broadcast, every receiver, comma-separated (`h2,r1`).
    pub to: String,
    /// One short line.
    pub label: String,
    /// Never arrived.
    pub lost: bool,
    /// The protocol that carried it (`TCP`, `UDP`, `ICMP`, `ARP`): a busy
    /// step is drawn one line per sender, receiver and protocol.
    pub kind: String,
}

/// Columns left of the first participant: "[12] ".
const MARGIN: usize = 6;
/// Columns kept for the label at the right.
const MIN_LABEL: usize = 32;
/// Narrowest and widest participant column.
const MIN_COL: usize = 5;
const MAX_COL: usize = 12;
/// A step with more packets than this is drawn grouped, not packet by packet.
const BUSY: usize = 8;
/// Name of the merged column.
const OTHERS: &str = "…";

/// The label with every run of digits replaced by `mark`.
fn numbers_as(label: &str, mark: char) -> String {
    let mut s = String::new();
    let mut in_digits = false;
    for c in label.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                s.push(mark);
            }
            in_digits = true;
        } else {
            s.push(c);
            in_digits = false;
        }
    }
    s
}

/// The label with its numbers blanked, to spot look-alike packets.
fn shape(label: &str) -> String {
    numbers_as(label, '#')
}

/// What makes two rows look alike: same step, same ends, same label but for its numbers.
fn alike(a: &Row, b: &Row) -> bool {
    a.step == b.step && a.from == b.from && a.to == b.to && shape(&a.label) == shape(&b.label)
}

/// One line of the ladder: the rows it stands for, and whether it is a
/// busy step's summary of one conversation rather than look-alike packets.
pub struct Line {
    /// Indices into the rows; the first is the one drawn.
    pub members: Vec<usize>,
    /// A busy step's conversation (else look-alike packets).
    pub busy: bool,
}

/// The lines to draw. A run of look-alike rows is drawn once; so is a
/// repeating group of up to four rows (request, reply, request, reply …).
/// A busy step (a bulk transfer, a lossy exchange) is drawn one line per
/// sender, receiver and protocol, in order of first appearance.
pub fn collapse(rows: &[Row]) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let end = i + rows[i..]
            .iter()
            .take_while(|r| r.step == rows[i].step)
            .count();
        if end - i > BUSY {
            let mut groups: Vec<Vec<usize>> = Vec::new();
            for k in i..end {
                let same = |g: &&mut Vec<usize>| {
                    let a = &rows[g[0]];
                    let b = &rows[k];
                    a.from == b.from && a.to == b.to && a.kind == b.kind
                };
                match groups.iter_mut().find(same) {
                    Some(g) => g.push(k),
                    None => groups.push(vec![k]),
                }
            }
            // Folded by conversation only when that is a real summary (a bulk
            // transfer: at most one line for two packets). A step that talks
            // to one server after another (a resolver's walk) keeps one line
            // per packet, so time still runs down.
            if groups.len() * 2 <= end - i {
                out.extend(groups.into_iter().map(|members| Line {
                    members,
                    busy: true,
                }));
                i = end;
                continue;
            }
        }
        // The period that covers the most rows, if it repeats at least twice.
        let mut best = (1, 1);
        for p in 1..=4 {
            let mut k = 1;
            while i + (k + 1) * p <= rows.len()
                && (0..p).all(|o| {
                    let (a, b) = (&rows[i + o], &rows[i + k * p + o]);
                    alike(a, b) && (p == 1 || a.lost == b.lost)
                })
            {
                k += 1;
            }
            if k >= 2 && k * p > best.0 * best.1 {
                best = (p, k);
            }
        }
        let (p, k) = best;
        for o in 0..p {
            out.push(Line {
                members: (0..k).map(|j| i + j * p + o).collect(),
                busy: false,
            });
        }
        i += p * k;
    }
    out
}

/// A label's first word, the kind of packet it names: up to a space or a
/// full-width colon (Chinese labels have no space after it), without a
/// trailing colon (`Nagle: 8 bytes …` and `Nagle：一个报文段 …` are both `Nagle`).
fn kind_word(label: &str) -> &str {
    label
        .split([' ', '：'])
        .next()
        .unwrap_or("")
        .trim_end_matches(':')
}

/// The kinds of packet in one conversation of a busy step, in order of
/// first appearance: the kind, how many, and how many of them were lost.
fn busy_parts(rows: &[Row], members: &[usize]) -> Vec<(String, usize, usize)> {
    let mut parts: Vec<(String, usize, usize)> = Vec::new();
    for &m in members {
        let word = kind_word(&rows[m].label).to_string();
        let lost = usize::from(rows[m].lost);
        match parts.iter_mut().find(|(w, _, _)| *w == word) {
            Some((_, n, l)) => {
                *n += 1;
                *l += lost;
            }
            None => parts.push((word, 1, lost)),
        }
    }
    parts
}

fn part_text(w: &str, n: usize) -> String {
    if n > 1 {
        format!("{w} ×{n}")
    } else {
        w.to_string()
    }
}

/// The label of one conversation in a busy step: its kinds of packet by
/// their first word, in order, with counts (`SYN, ACK ×24, TCP ×213, ACK+FIN`).
fn busy_label(rows: &[Row], members: &[usize]) -> String {
    busy_parts(rows, members)
        .iter()
        .map(|(w, n, _)| part_text(w, *n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The label of a group of look-alike rows: the words they share, and "…"
/// for the numbers that differ (`ICMP echo request seq=…`).
fn group_label(rows: &[Row], members: &[usize]) -> String {
    let first: Vec<&str> = rows[members[0]].label.split(' ').collect();
    let same = |i: usize| {
        members
            .iter()
            .all(|&m| rows[m].label.split(' ').nth(i) == Some(first[i]))
    };
    first
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if same(i) {
                w.to_string()
            } else {
                numbers_as(w, '…')
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// How many of a line's packets were lost, as its label ends: ` (4 ✗)`
/// (empty for a single packet, whose arrow shows it, or when none was).
fn loss_suffix(rows: &[Row], members: &[usize], lang: Lang) -> String {
    let lost = members.iter().filter(|&&m| rows[m].lost).count();
    if members.len() < 2 || lost == 0 {
        return String::new();
    }
    match lang {
        Lang::En => format!(" ({lost} ✗)"),
        Lang::Zh => format!("（{lost} 个 ✗）"),
    }
}

/// What a line of the ladder says: the packet's label, or for several the
/// words they share and `×N`, and how many of them were lost.
pub fn line_label(rows: &[Row], members: &[usize], busy: bool, lang: Lang) -> String {
    let (base, _) = label_parts(rows, members, busy);
    format!("{base}{}", loss_suffix(rows, members, lang))
}

/// A line's label without its loss count, and whether it lists a busy
/// conversation's kinds (which [`fitted_label`] may shorten kind by kind).
fn label_parts(rows: &[Row], members: &[usize], busy: bool) -> (String, bool) {
    let r = &rows[members[0]];
    let count = members.len();
    let one_shape = members
        .iter()
        .all(|&m| shape(&rows[m].label) == shape(&r.label));
    if busy && !one_shape {
        (busy_label(rows, members), true)
    } else if count > 1 {
        (format!("{} ×{count}", group_label(rows, members)), false)
    } else {
        (r.label.clone(), false)
    }
}

/// [`line_label`] in at most `w` columns, keeping what matters: the count
/// of losses at its end always; in a busy conversation, every kind of
/// packet that lost one, and as many of the others from the start as fit,
/// `…` for the rest; else the label cut at the end.
fn fitted_label(rows: &[Row], members: &[usize], busy: bool, lang: Lang, w: usize) -> String {
    let full = line_label(rows, members, busy, lang);
    if display_width(&full) <= w {
        return full;
    }
    let suffix = loss_suffix(rows, members, lang);
    let room = w.saturating_sub(display_width(&suffix));
    if room < 4 {
        return truncate(&full, w);
    }
    let (base, kinds) = label_parts(rows, members, busy);
    if !kinds {
        return format!("{}{suffix}", truncate(&base, room));
    }
    let parts = busy_parts(rows, members);
    let text = |keep: &[bool]| {
        let mut out: Vec<String> = Vec::new();
        for (i, (word, n, _)) in parts.iter().enumerate() {
            if keep[i] {
                out.push(part_text(word, *n));
            } else if out.last().map(String::as_str) != Some("…") {
                out.push("…".to_string());
            }
        }
        out.join(", ")
    };
    let mut keep: Vec<bool> = parts.iter().map(|(_, _, lost)| *lost > 0).collect();
    if display_width(&text(&keep)) > room {
        return format!("{}{suffix}", truncate(&base, room));
    }
    for i in 0..parts.len() {
        if keep[i] {
            continue;
        }
        keep[i] = true;
        if display_width(&text(&keep)) > room {
            keep[i] = false;
            break;
        }
    }
    format!("{}{suffix}", text(&keep))
}

/// A short column name: the name itself if it fits, else its first label(s), cut.
fn abbreviate(name: &str, w: usize) -> String {
    if display_width(name) <= w {
        return name.to_string();
    }
    let name = name.trim_end_matches('.');
    if display_width(name) <= w {
        return name.to_string();
    }
    let labels: Vec<&str> = name.split('.').collect();
    let mut s = labels[0].to_string();
    if s.len() <= 2 && labels.len() > 1 {
        s = format!("{}.{}", labels[0], labels[1]);
    }
    truncate(&s, w)
}

/// Draw the ladder for `rows` in `width` columns. Empty when there are no rows.
pub fn render(rows: &[Row], width: usize, lang: Lang) -> Vec<String> {
    if rows.is_empty() {
        return Vec::new();
    }
    // Participants in order of first appearance, and how often each is used.
    let mut names: Vec<String> = Vec::new();
    let mut uses: Vec<usize> = Vec::new();
    for r in rows {
        for n in std::iter::once(r.from.as_str()).chain(r.to.split(',')) {
            if n == "*" || n.is_empty() {
                continue;
            }
            match names.iter().position(|x| x == n) {
                Some(i) => uses[i] += 1,
                None => {
                    names.push(n.to_string());
                    uses.push(1);
                }
            }
        }
    }
    let room = width.saturating_sub(MARGIN + MIN_LABEL);
    let fits = (room / MIN_COL).max(2);
    // Merge the least-used participants when there are too many columns.
    let mut merged: Vec<String> = Vec::new();
    if names.len() > fits {
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by_key(|&i| (uses[i], std::cmp::Reverse(i)));
        let drop_n = names.len() - (fits - 1);
        let mut gone: Vec<usize> = order.into_iter().take(drop_n).collect();
        gone.sort_unstable();
        for &i in gone.iter().rev() {
            merged.insert(0, names.remove(i));
        }
        names.push(OTHERS.to_string());
    }
    let col_of = |n: &str| -> Option<usize> {
        if n == "*" || n.is_empty() {
            return None;
        }
        names
            .iter()
            .position(|x| x == n)
            .or_else(|| merged.iter().any(|m| m == n).then(|| names.len() - 1))
    };
    let cols = names.len();
    let colw = (room / cols).clamp(MIN_COL, MAX_COL);
    let center = |i: usize| MARGIN + i * colw + colw / 2;
    let diagram_w = MARGIN + cols * colw;
    let label_w = width.saturating_sub(diagram_w + 1).max(8);

    let mut out = Vec::new();
    // Header: names centred on their columns; when a name is wider than its
    // column, two rows of names alternate so each may take two columns.
    let stagger = names.iter().any(|n| display_width(n) > colw - 1);
    let max_name = if stagger { 2 * colw - 1 } else { colw - 1 };
    let mut heads = vec![" ".repeat(MARGIN); if stagger { 2 } else { 1 }];
    let mut abbreviated: Vec<(String, String)> = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let short = abbreviate(n, max_name);
        if short.trim_end_matches('.') != n.trim_end_matches('.') && n != OTHERS {
            abbreviated.push((short.clone(), n.clone()));
        }
        let head = &mut heads[if stagger { i % 2 } else { 0 }];
        let w = display_width(&short);
        let start = (center(i) + 1).saturating_sub(w.div_ceil(2));
        let cur = display_width(head);
        if start > cur {
            head.push_str(&" ".repeat(start - cur));
        } else if cur > MARGIN {
            head.push(' ');
        }
        head.push_str(&short);
    }
    for h in heads {
        out.push(h.trim_end().to_string());
    }
    let mut lifeline: Vec<char> = vec![' '; diagram_w];
    for i in 0..cols {
        lifeline[center(i)] = '│';
    }
    out.push(lifeline.iter().collect::<String>().trim_end().to_string());

    let mut last_step = None;
    for Line { members, busy } in collapse(rows) {
        let r = &rows[members[0]];
        let count = members.len();
        let mut line = lifeline.clone();
        let a = col_of(&r.from);
        let targets: Vec<usize> =
            r.to.split(',')
                .filter_map(col_of)
                .filter(|b| Some(*b) != a)
                .collect();
        let all_lost = r.lost && count == 1;
        match a {
            Some(a) if !targets.is_empty() => {
                let x = center(a);
                let far = |right: bool| {
                    targets
                        .iter()
                        .map(|&b| center(b))
                        .filter(|&y| (y > x) == right)
                        .max_by_key(|&y| y.abs_diff(x))
                };
                for right in [true, false] {
                    let Some(y) = far(right) else { continue };
                    let (lo, hi) = (x.min(y), x.max(y));
                    for c in line.iter_mut().take(hi).skip(lo + 1) {
                        if *c != '│' {
                            *c = '─';
                        }
                    }
                }
                for &b in &targets {
                    let y = center(b);
                    let head = if y > x { y - 1 } else { y + 1 };
                    line[head] = if all_lost {
                        ' '
                    } else if y > x {
                        '▶'
                    } else {
                        '◀'
                    };
                }
                if all_lost {
                    // A lost packet stops half way, at a cross.
                    let y = center(targets[0]);
                    let mid = (x + y) / 2;
                    let (from_mid, to_end) = if y > x { (mid + 1, y) } else { (y + 1, mid) };
                    for c in line.iter_mut().take(to_end).skip(from_mid) {
                        *c = ' ';
                    }
                    line[mid] = '✗';
                }
            }
            Some(a) => line[center(a)] = '●',
            None => {}
        }
        let tag = if last_step == Some(r.step) {
            String::new()
        } else {
            format!("[{}]", r.step)
        };
        last_step = Some(r.step);
        let label = fitted_label(rows, &members, busy, lang, label_w);
        let mut s: String = line.into_iter().collect();
        s.replace_range(
            0..tag.len().min(MARGIN),
            &format!("{tag:<w$}", w = tag.len().min(MARGIN)),
        );
        out.push(format!("{s} {label}").trim_end().to_string());
    }
    // Legend.
    let mut legend: Vec<String> = abbreviated
        .iter()
        .map(|(s, f)| format!("{s} = {}", f.trim_end_matches('.')))
        .collect();
    if !merged.is_empty() {
        let list = merged
            .iter()
            .map(|m| m.trim_end_matches('.').to_string())
            .collect::<Vec<_>>()
            .join(", ");
        legend.push(match lang {
            Lang::En => format!("{OTHERS} = {list} (merged to fit)"),
            Lang::Zh => format!("{OTHERS} = {list}（合并以适应宽度）"),
        });
    }
    if rows.iter().any(|r| r.lost) {
        legend.push(match lang {
            Lang::En => "✗ = lost: sent but never arrived".to_string(),
            Lang::Zh => "✗ = 丢失：发出了但没有到达".to_string(),
        });
    }
    if !legend.is_empty() {
        let text = legend.join("; ");
        out.extend(super::wrap::wrap(&text, width, 2));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: u64, from: &str, to: &str, label: &str, lost: bool) -> Row {
        Row {
            step,
            from: from.into(),
            to: to.into(),
            label: label.into(),
            lost,
            kind: label.split(' ').next().unwrap_or("").into(),
        }
    }

    #[test]
    fn arrows_point_from_sender_to_receiver() {
        let rows = vec![
            row(1, "h1", "h2", "ping", false),
            row(1, "h2", "h1", "pong", false),
        ];
        let l = render(&rows, 80, Lang::En);
        assert!(l[0].contains("h1") && l[0].contains("h2"));
        assert!(l[2].contains("─▶") && l[2].ends_with("ping"), "{l:?}");
        assert!(l[3].contains("◀─") && l[3].starts_with("     "), "{l:?}");
        assert!(l[2].starts_with("[1]"));
    }

    #[test]
    fn look_alikes_collapse_and_losses_are_marked() {
        let mut rows: Vec<Row> = (0..50)
            .map(|i| row(3, "h1", "h2", &format!("UDP #{i}"), i % 10 == 0))
            .collect();
        rows.push(row(4, "h2", "h1", "lost one", true));
        let l = render(&rows, 80, Lang::En);
        assert!(
            l.iter().any(|x| x.contains("×50") && x.contains("5 ✗")),
            "{l:?}"
        );
        assert!(l.iter().any(|x| x.contains('✗') && x.contains("lost one")));
        assert!(l.iter().any(|x| x.contains("lost: sent but never arrived")));
    }

    #[test]
    fn request_reply_pairs_collapse_to_two_rows() {
        let mut rows = Vec::new();
        for i in 1..=3 {
            rows.push(row(5, "h1", "h2", &format!("request seq={i}"), false));
            rows.push(row(5, "h2", "h1", &format!("reply seq={i}"), false));
        }
        rows.push(row(5, "h1", "h2", "request seq=4", true));
        let l = render(&rows, 80, Lang::En);
        assert_eq!(
            l.iter().filter(|x| x.contains("seq=… ×3")).count(),
            2,
            "{l:?}"
        );
        assert!(l.iter().any(|x| x.contains("seq=4")), "{l:?}");
    }

    #[test]
    fn a_busy_step_is_drawn_one_line_per_conversation() {
        let tcp = |from: &str, to: &str, label: String| Row {
            kind: "TCP".into(),
            ..row(8, from, to, &label, false)
        };
        let mut rows = vec![
            tcp("h1", "h2", "SYN".into()),
            tcp("h2", "h1", "SYN+ACK".into()),
        ];
        for i in 0..100 {
            rows.push(tcp("h1", "h2", format!("TCP 100 B seq={i}")));
            if i % 3 == 0 {
                rows.push(tcp("h2", "h1", format!("ACK {i}")));
            }
        }
        rows.push(Row {
            lost: true,
            ..tcp("h1", "h2", "TCP 100 B seq=100".into())
        });
        rows.push(row(8, "h1", "h2", "UDP 100 B", false));
        let l = render(&rows, 80, Lang::En);
        assert_eq!(
            l.len(),
            2 + 3 + 1,
            "header, lifelines, three lines, legend: {l:?}"
        );
        assert!(l[2].ends_with("SYN, TCP ×101 (1 ✗)"), "{l:?}");
        assert!(l[3].ends_with("SYN+ACK, ACK ×34"), "{l:?}");
        assert!(l[4].ends_with("UDP 100 B"), "{l:?}");
    }

    #[test]
    fn a_cut_label_keeps_its_kinds_and_losses_whole() {
        // A Chinese label has no space after its full-width colon: its kind
        // is the word before the colon, and the line fits whole.
        let tcp = |label: &str, lost: bool| Row {
            kind: "TCP".into(),
            ..row(7, "writer", "reader", label, lost)
        };
        let mut rows = vec![tcp("Nagle：一个报文段 8 字节", false)];
        rows.push(tcp("Nagle：一个报文段 72 字节", false));
        rows.push(tcp("ACK 1", false));
        rows.push(tcp("ACK 2", false));
        for i in 0..10 {
            rows.push(tcp(&format!("TCP_NODELAY：一个报文段 {i} 字节"), false));
        }
        let l = render(&rows, 80, Lang::Zh);
        assert!(l[2].ends_with("Nagle ×2, ACK ×2, TCP_NODELAY ×10"), "{l:?}");
        rows[0].label = "Nagle: 8 bytes in one segment".into();
        let l = render(&rows, 80, Lang::En);
        assert!(
            l[2].contains("Nagle ×"),
            "a trailing colon is not the kind: {l:?}"
        );
        // Too long for the column: the kinds that lost packets and the
        // count of losses stay; others give way to "…".
        let mut rows: Vec<Row> = ["SYN+ACK 1", "TCP 6 B", "ACK+FIN 1", "ACK 9", "ACK 10"]
            .iter()
            .map(|l| Row {
                kind: "TCP".into(),
                ..row(5, "h3", "r1", l, false)
            })
            .collect();
        for _ in 0..4 {
            rows.push(Row {
                kind: "TCP".into(),
                ..row(5, "h3", "r1", "SYN", true)
            });
        }
        for w in [40, 50] {
            let l = render(&rows, w, Lang::En);
            let line = l
                .iter()
                .find(|x| x.contains("SYN ×4"))
                .expect("the lost SYNs");
            assert!(line.ends_with("SYN ×4 (4 ✗)"), "{w}: {l:?}");
            assert!(display_width(line) <= w, "{w}: {line}");
        }
    }

    #[test]
    fn many_participants_fit_by_merging() {
        let rows: Vec<Row> = (0..20)
            .map(|i| {
                row(
                    i,
                    "resolver",
                    &format!("server-{i}.example.net."),
                    "q",
                    false,
                )
            })
            .collect();
        for w in [60, 80, 100] {
            let l = render(&rows, w, Lang::En);
            for x in &l {
                assert!(display_width(x) <= w, "{w}: {x:?}");
            }
            let all = l.join(" ").split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(all.contains("(merged to fit)"), "{l:?}");
        }
    }

    #[test]
    fn broadcast_reaches_every_lifeline() {
        let rows = vec![
            row(1, "h1", "*", "ARP who-has 198.51.100.20", false),
            row(1, "h2", "h1", "ARP reply", false),
            row(2, "h1", "r1", "x", false),
        ];
        let l = render(&rows, 80, Lang::En);
        assert!(
            l[2].contains('●'),
            "a broadcast to nobody known marks its sender: {l:?}"
        );
        let rows = vec![
            row(1, "h1", "h2,r1", "ARP who-has", false),
            row(1, "h2", "h1", "x", false),
            row(1, "r1", "h3", "y", false),
        ];
        let l = render(&rows, 80, Lang::En);
        assert_eq!(l[2].matches('▶').count(), 2, "{l:?}");
        assert!(!l[2].starts_with("[1] ─"), "{l:?}");
    }
}
