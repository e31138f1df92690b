//! The page (`--html`, `netlab render`), in a real browser at a projector's
//! 1280×720: Debian's chromium, headless, driven over WebDriver (see
//! [`super::browser`]). Pages of recorded runs are stepped through with the
//! arrow keys, their packets clicked, their language switched, and laid out
//! for paper; at every step nothing may be wider than the window. Screenshots
//! go to target/screenshots (and, with NETLAB_BLESS=1, the README's to docs/).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::browser::{browser, png_size, Browser, ARROW_LEFT, ARROW_RIGHT, ESCAPE, HEIGHT, WIDTH};
use super::*;

/// What must hold of the page as the browser shows it now: nothing wider
/// than the window (the ladder and the narration scroll down only), no text
/// under 16 px (the ladder's as drawn, after any scaling), no script error,
/// nothing fetched.
const AUDIT: &str = r#"
var de = document.documentElement, W = de.clientWidth;
var over = [], small = [];
var all = document.querySelectorAll('body *');
for (var i = 0; i < all.length; i++) {
  var e = all[i], r = e.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) { continue; }
  var name = e.tagName + '.' + (e.getAttribute('class') || '') + ' "' + (e.textContent || '').slice(0, 40) + '"';
  if (r.left < -0.5 || r.right > W + 0.5) { over.push(name + ' ' + Math.round(r.left) + '..' + Math.round(r.right)); }
  var own = Array.prototype.some.call(e.childNodes, function (n) { return n.nodeType === 3 && n.textContent.trim(); });
  if (own && e.tagName !== 'title' && e.getClientRects().length) {
    var scale = 1, svg = e.ownerSVGElement;
    if (svg && svg.viewBox.baseVal && svg.viewBox.baseVal.width) { scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width; }
    var px = parseFloat(getComputedStyle(e).fontSize) * scale;
    if (px < 15.9) { small.push(name + ' ' + px.toFixed(1) + 'px'); }
  }
}
var boxes = ['ladder-pane', 'narration', 'packet'].map(function (id) {
  var b = document.getElementById(id);
  return b && !b.hidden ? b.scrollWidth - b.clientWidth : 0;
});
var ladder = document.getElementById('ladder');
var pane = document.getElementById('ladder-pane').getBoundingClientRect();
var labels = [];
if (ladder) {
  document.querySelectorAll('#ladder-pane svg text').forEach(function (t) {
    var r = t.getBoundingClientRect(), s = t.ownerSVGElement.getBoundingClientRect();
    if (r.width && (r.right > s.right + 0.5 || r.left < s.left - 0.5)) { labels.push(t.textContent + ' ' + Math.round(r.left) + '..' + Math.round(r.right)); }
  });
}
return {
  width: W, inner: [innerWidth, innerHeight], scroll: de.scrollWidth,
  over: over.slice(0, 8), small: small.slice(0, 8), boxes: boxes, labels: labels.slice(0, 8),
  ladder_right: ladder ? ladder.getBoundingClientRect().right : 0, pane_right: pane.right,
  body: parseFloat(getComputedStyle(document.body).fontSize),
  errors: document.body.dataset.errors || '',
  fetched: performance.getEntriesByType('resource').map(function (r) { return r.name; })
};
"#;

/// The step the page shows now: its title, whether it is in view, the
/// steps of the highlighted arrows, and whether the page got wider than the window.
const NOW: &str = r#"
var h = document.querySelector('#narration h2');
var r = h ? h.getBoundingClientRect() : null;
var de = document.documentElement;
return {
  title: h ? h.textContent : null,
  seen: !!r && r.width > 0 && r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth,
  text: document.getElementById('narration').textContent,
  cur: Array.prototype.map.call(document.querySelectorAll('#ladder g.arrow.cur'), function (g) { return Number(g.dataset.step); }),
  wide: de.scrollWidth > de.clientWidth,
  lang: de.lang
};
"#;

/// The packet view's field table: its header, its rows, and any cell that
/// is not wholly in the window or whose content is cut.
const TABLE: &str = r#"
var t = document.getElementById('fields');
var box = document.getElementById('packet');
if (!t || box.hidden) { return null; }
var W = document.documentElement.clientWidth;
var bad = [];
t.querySelectorAll('th, td').forEach(function (c) {
  var r = c.getBoundingClientRect();
  if (r.left < 0 || r.right > W || r.width < 24 || c.scrollWidth > c.clientWidth + 1) {
    bad.push(c.textContent.slice(0, 30) + ' ' + Math.round(r.left) + '..' + Math.round(r.right));
  }
});
var first = t.querySelector('tbody tr');
return {
  head: Array.prototype.map.call(t.querySelectorAll('th'), function (th) { return th.textContent; }),
  rows: Array.prototype.map.call(t.querySelectorAll('tbody tr'), function (tr) {
    return Array.prototype.map.call(tr.children, function (td) { return td.textContent; });
  }),
  bad: bad.slice(0, 8),
  first_row_seen: !!first && first.getBoundingClientRect().bottom <= innerHeight,
  text: box.textContent
};
"#;

/// A slide of the page as the record says it should read: a step number
/// (none for the summary) and its title.
struct Slide {
    number: Option<u64>,
    title: Value,
    detail: Value,
    /// Whether the step has packets to highlight (not echoes).
    packets: bool,
}

/// The page's slides for a run's JSON lines: one per step number (a step and
/// the plain lines after it), then the summary.
fn slides(lines: &[Value]) -> Vec<Slide> {
    let mut out: Vec<Slide> = Vec::new();
    for l in lines {
        let has_packets = l["packets"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["echo"] != true));
        match l["kind"].as_str() {
            Some("step") => {
                let n = l["number"].as_u64();
                let plain = l["plain"] == true;
                match out.last_mut() {
                    Some(s) if s.number.is_some() && s.number == n => {
                        s.packets |= has_packets;
                        if s.detail.is_null() && !plain {
                            s.title = l["title"].clone();
                            s.detail = l["detail"].clone();
                        }
                    }
                    _ => out.push(Slide {
                        number: n,
                        title: l["title"].clone(),
                        detail: if plain {
                            Value::Null
                        } else {
                            l["detail"].clone()
                        },
                        packets: has_packets,
                    }),
                }
            }
            Some("summary") => out.push(Slide {
                number: None,
                title: l["title"].clone(),
                detail: Value::Null,
                packets: false,
            }),
            _ => {}
        }
    }
    out
}

/// Check the page as it is now in the projector's window (see [`AUDIT`]);
/// `what` names it in failures.
fn audit(b: &Browser, what: &str) {
    audit_at(b, (WIDTH, HEIGHT), what)
}

/// [`audit`] in a window of `size`.
fn audit_at(b: &Browser, size: (u32, u32), what: &str) {
    let a = b.js(AUDIT);
    assert_eq!(
        a["inner"],
        serde_json::json!([size.0, size.1]),
        "{what}: the window"
    );
    assert!(
        a["scroll"].as_f64() <= a["width"].as_f64(),
        "{what}: the page scrolls sideways: {a}"
    );
    assert_eq!(
        a["over"],
        serde_json::json!([]),
        "{what}: wider than the window: {a}"
    );
    assert_eq!(
        a["boxes"],
        serde_json::json!([0, 0, 0]),
        "{what}: a pane scrolls sideways: {a}"
    );
    assert_eq!(
        a["labels"],
        serde_json::json!([]),
        "{what}: ladder text cut: {a}"
    );
    assert!(
        a["ladder_right"].as_f64() <= a["pane_right"].as_f64(),
        "{what}: the ladder is wider than its pane: {a}"
    );
    assert!(
        a["body"].as_f64() >= Some(16.0),
        "{what}: body text under 16 px: {a}"
    );
    assert_eq!(
        a["small"],
        serde_json::json!([]),
        "{what}: text under 16 px: {a}"
    );
    assert_eq!(a["errors"], "", "{what}: script errors: {a}");
    assert_eq!(
        a["fetched"],
        serde_json::json!([]),
        "{what}: the page fetched something: {a}"
    );
}

/// Step through every slide with → from the first, checking each step's
/// narration is shown and in view, its packets (and only those) highlighted,
/// and that nothing gets wider than the window; then ← once.
fn step_through(b: &Browser, lines: &[Value], lang: &str, what: &str) -> usize {
    let slides = slides(lines);
    assert!(!slides.is_empty(), "{what}: no steps");
    for (i, s) in slides.iter().enumerate() {
        if i > 0 {
            b.key(ARROW_RIGHT);
        }
        let now = b.js(NOW);
        assert_eq!(
            now["title"],
            s.title[lang],
            "{what}: slide {} of {}: {now}",
            i + 1,
            slides.len()
        );
        assert_eq!(
            now["seen"],
            true,
            "{what}: slide {}'s title out of view: {now}",
            i + 1
        );
        assert_eq!(
            now["wide"],
            false,
            "{what}: slide {} scrolls sideways",
            i + 1
        );
        if let Some(detail) = s.detail[lang].as_str().filter(|d| !d.is_empty()) {
            assert!(
                now["text"].as_str().unwrap().contains(detail),
                "{what}: slide {}'s explanation is missing: {now}",
                i + 1
            );
        }
        let cur: Vec<u64> = now["cur"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        match s.number {
            Some(n) if s.packets => assert!(
                !cur.is_empty() && cur.iter().all(|&c| c == n),
                "{what}: step {n}'s arrows are not the highlighted ones: {cur:?}"
            ),
            _ => assert!(cur.is_empty(), "{what}: slide {} highlights {cur:?}", i + 1),
        }
    }
    if slides.len() > 1 {
        b.key(ARROW_LEFT);
        let back = &slides[slides.len() - 2];
        let now = b.js(NOW);
        assert_eq!(
            now["title"], back.title[lang],
            "{what}: ← goes back one step: {now}"
        );
        if let (Some(n), true) = (back.number, back.packets) {
            assert!(
                now["cur"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|c| c.as_u64() == Some(n)),
                "{what}: ← moves the highlight to step {n}: {now}"
            );
        }
    }
    slides.len()
}

/// Click arrow `k` and check its field table: all five columns, every cell
/// whole and in the window. Returns the table (see [`TABLE`]).
fn click_packet(b: &Browser, k: usize, what: &str) -> Value {
    b.click(&format!("#ladder g.arrow[data-k=\"{k}\"]"));
    let t = b.js(TABLE);
    assert!(
        !t.is_null(),
        "{what}: clicking arrow {k} showed no field table"
    );
    assert_eq!(t["head"].as_array().unwrap().len(), 5, "{what}: {t}");
    assert!(t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r.as_array().unwrap().len() == 5));
    assert_eq!(
        t["bad"],
        serde_json::json!([]),
        "{what}: cells cut or outside the window: {t}"
    );
    assert_eq!(t["first_row_seen"], true, "{what}: {t}");
    t
}

/// The ladder as the page embeds it (the arrows' grouping, from the record).
fn embedded_ladder(b: &Browser) -> Vec<Value> {
    b.js("return JSON.parse(document.getElementById('run').textContent).ladder")
        .as_array()
        .cloned()
        .unwrap()
}

/// Packet records a run's arrows must stand for: all but the echoes.
fn drawn(lines: &[Value]) -> usize {
    lines
        .iter()
        .flat_map(|l| l["packets"].as_array().cloned().unwrap_or_default())
        .filter(|p| p["echo"] != true)
        .count()
}

/// The packet records the page's arrows stand for (their `data-n`).
fn arrows_stand_for(b: &Browser) -> u64 {
    b.js("var n = 0; document.querySelectorAll('#ladder g.arrow').forEach(function (g) { n += Number(g.dataset.n); }); return n;")
        .as_u64()
        .unwrap()
}

/// Keep a screenshot of the window (1280×720); with NETLAB_BLESS=1 also as docs/`docs`.
fn keep(b: &Browser, name: &str, docs: Option<&str>) {
    let png = b.screenshot(name);
    assert_eq!(png_size(&png), (WIDTH, HEIGHT), "{name}");
    if let Some(d) = docs {
        if std::env::var("NETLAB_BLESS").is_ok_and(|v| v == "1") {
            std::fs::write(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("docs").join(d),
                &png,
            )
            .unwrap();
        }
    }
}

/// Save a run's JSON and render its page with `render … --lang LANG`.
fn render(dir: &Path, name: &str, json: &[u8], lang: &str) -> PathBuf {
    let run = dir.join(format!("{name}.jsonl"));
    std::fs::write(&run, json).unwrap();
    let page = dir.join(format!("{name}.{lang}.html"));
    let o = netlab(&[
        "render",
        run.to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
        "--lang",
        lang,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    page
}

/// Laid out for A4 paper (print media, 794 px wide): no controls, the whole
/// ladder, every step's narration, nothing wider than the page.
fn prints_cleanly(b: &Browser, slides: usize, what: &str) {
    b.media("print");
    b.viewport(794, 1123);
    let p = b.js(
        "var de = document.documentElement;
         return {nav: getComputedStyle(document.getElementById('controls')).display,
                 slides: document.querySelectorAll('#print-all .slide').length,
                 shown: getComputedStyle(document.getElementById('print-all')).display,
                 future: Array.prototype.filter.call(document.querySelectorAll('#ladder g.arrow'), function (g) { return getComputedStyle(g).opacity !== '1'; }).length,
                 wide: de.scrollWidth > de.clientWidth};",
    );
    b.media("");
    b.viewport(WIDTH, HEIGHT);
    assert_eq!(p["nav"], "none", "{what}: controls on paper: {p}");
    assert_eq!(p["shown"], "block", "{what}: {p}");
    assert_eq!(p["slides"], slides, "{what}: every step on paper: {p}");
    assert_eq!(p["future"], 0, "{what}: faded arrows on paper: {p}");
    assert_eq!(p["wide"], false, "{what}: wider than A4: {p}");
}

#[test]
fn the_dns_trace_page_is_a_lesson_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("dns.html");
    let o = netlab(&[
        "dns-trace",
        "www.baidu.com",
        "--json",
        "--html",
        page.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    // A student's saved run renders to the same page.
    let again = render(dir.path(), "run", &o.stdout, "en");
    assert_eq!(
        std::fs::read_to_string(&again).unwrap(),
        std::fs::read_to_string(&page).unwrap()
    );
    let Some(b) = browser() else { return };

    b.open(&page, "");
    audit(&b, "dns-trace");
    assert_eq!(
        arrows_stand_for(&b),
        drawn(&lines) as u64,
        "the arrows stand for every packet record"
    );
    let n = step_through(&b, &lines, "en", "dns-trace");

    // The first referral, clicked: its fields, bytes and meanings.
    let ladder = embedded_ladder(&b);
    // The walk's first referral (stage 4), not the resolver's own in stage 2.
    let walk_step = b.js(
        "return JSON.parse(document.getElementById('run').textContent).record\
         .find(l => l.kind === 'step' && l.title.en.startsWith('Ask a.root-servers.net.')).number",
    );
    let k = ladder
        .iter()
        .position(|a| a["label"]["en"] == "referral to com." && a["step"] == walk_step)
        .expect("an arrow for the first referral");
    let t = click_packet(&b, k, "dns-trace referral");
    assert_eq!(
        t["head"],
        serde_json::json!(["Offset", "Hex", "Field", "Value", "Meaning"])
    );
    let names: Vec<&str> = t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r[2].as_str())
        .collect();
    for field in ["ID", "FLAGS", "QNAME", "NS[0]", "AR[0]"] {
        assert!(names.contains(&field), "{field} missing: {names:?}");
    }
    assert!(
        t["text"].as_str().unwrap().contains("a.gtld-servers.net."),
        "{t}"
    );
    assert!(
        b.js(NOW)["text"]
            .as_str()
            .unwrap()
            .contains("Not an answer but a referral"),
        "the clicked packet's step is the one narrated"
    );
    audit(&b, "dns-trace, a packet open");
    keep(&b, "dns-trace-packet.png", None);
    // With a packet open, → and ← walk the packets.
    let shown = || b.js("return document.querySelector('#packet h2').textContent");
    assert_eq!(shown(), "[7] referral to com.");
    b.key(ARROW_RIGHT);
    assert_eq!(shown(), "[9] query A www.baidu.com.");
    assert_eq!(
        b.js(NOW)["title"],
        lines.iter().find(|l| l["number"] == 9).unwrap()["title"]["en"],
        "and the narration follows"
    );
    b.key(ARROW_LEFT);
    assert_eq!(shown(), "[7] referral to com.");

    // 中文: the whole page, the open packet too, without reloading.
    b.click("#lang-zh");
    let t = b.js(TABLE);
    assert_eq!(
        t["head"],
        serde_json::json!(["偏移", "十六进制", "字段", "值", "含义"]),
        "{t}"
    );
    let referral = lines
        .iter()
        .flat_map(|l| l["packets"].as_array().cloned().unwrap_or_default())
        .find(|p| p["label"]["en"] == "referral to com.")
        .unwrap();
    let meaning = referral["fields"][0]["meaning"]["zh"].as_str().unwrap();
    assert!(
        t["text"].as_str().unwrap().contains(meaning),
        "{meaning}: {t}"
    );
    assert_ne!(
        meaning, referral["fields"][0]["meaning"]["en"],
        "the meanings are translated"
    );
    keep(&b, "dns-trace-packet-zh.png", None);
    b.key(ESCAPE);
    assert!(b.js(TABLE).is_null(), "Esc closes the packet");
    let now = b.js(NOW);
    let step7 = lines
        .iter()
        .find(|l| l["number"] == 7 && l["kind"] == "step")
        .unwrap();
    assert_eq!(now["lang"], "zh");
    assert_eq!(now["title"], step7["title"]["zh"], "{now}");
    assert!(now["text"]
        .as_str()
        .unwrap()
        .contains(step7["detail"]["zh"].as_str().unwrap()));
    let words = b.js("return [document.getElementById('next').textContent, document.querySelector('#ladder-pane h2').textContent, document.querySelector('#ladder g.arrow[data-k=\"0\"] .label').textContent]");
    assert_eq!(words[0], "下一步 ▶", "{words}");
    assert_eq!(words[1], "报文时序图（时间向下）", "{words}");
    assert_eq!(
        words[2], ladder[0]["label"]["zh"],
        "the ladder's labels switch too: {words}"
    );
    audit(&b, "dns-trace in Chinese");
    keep(&b, "dns-trace-zh.png", None);
    b.click("#lang-en");
    assert_eq!(b.js(NOW)["title"], step7["title"]["en"]);

    // Step 8 takes a second look at the referral (an echo, not an arrow):
    // its button opens that packet, and the narration stays at step 8.
    b.open(&page, "#step=8");
    b.click("#narration button.echo");
    let shown = b.js("return [document.querySelector('#packet h2').textContent, document.getElementById('counter').textContent]");
    assert_eq!(shown[0], "[7] referral to com.", "{shown}");
    assert!(shown[1].as_str().unwrap().starts_with("8 /"), "{shown}");
    assert!(!b.js(TABLE).is_null(), "the echo's field table");

    // The play button steps on by itself, one step per interval.
    b.open(&page, "#step=3&pace=200");
    assert_eq!(
        b.js(NOW)["title"],
        lines.iter().find(|l| l["number"] == 3).unwrap()["title"]["en"]
    );
    b.click("#play");
    let start = std::time::Instant::now();
    let at = || {
        b.js("return document.getElementById('counter').textContent")
            .as_str()
            .unwrap()
            .to_string()
    };
    while !at().starts_with("6 /") {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "play did not advance: {}",
            at()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    b.click("#play");
    let stopped = at();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(at(), stopped, "pause stops it");

    // The picture for the README: the first referral's step.
    b.open(&page, "#step=7");
    audit(&b, "dns-trace step 7");
    // A wider screen lays the ladder out again: still 16 px text, nothing wider than the window.
    b.viewport(1920, 1080);
    std::thread::sleep(std::time::Duration::from_millis(400));
    audit_at(&b, (1920, 1080), "dns-trace at 1920x1080");
    b.viewport(WIDTH, HEIGHT);
    std::thread::sleep(std::time::Duration::from_millis(400));
    audit(&b, "dns-trace back at 1280x720");
    keep(&b, "dns-trace.png", Some("page-dns-trace.png"));
    prints_cleanly(&b, n, "dns-trace");
}

#[test]
fn the_firewall_page_opens_in_chinese_and_shows_its_rules() {
    if !privileged() {
        return;
    }
    let o = netlab(&["firewall", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let dir = tempfile::tempdir().unwrap();
    let page = render(dir.path(), "firewall", &o.stdout, "zh");
    let Some(b) = browser() else { return };

    b.open(&page, "");
    assert_eq!(
        b.js(NOW)["lang"],
        "zh",
        "the page opens in the run's --lang"
    );
    audit(&b, "firewall");
    assert_eq!(arrows_stand_for(&b), drawn(&lines) as u64);
    let n = step_through(&b, &lines, "zh", "firewall (zh)");
    // Every step's rules are in its narration.
    b.open(&page, "");
    for s in slides(&lines).iter().take(n - 1) {
        let now = b.js(NOW);
        let text = now["text"].as_str().unwrap();
        let step = lines
            .iter()
            .find(|l| l["number"].as_u64() == s.number && l["kind"] == "step")
            .unwrap();
        for f in step["facts"].as_array().unwrap() {
            assert!(
                text.contains(f["value"]["zh"].as_str().unwrap()),
                "fact missing: {f}\n{text}"
            );
        }
        b.key(ARROW_RIGHT);
    }

    // A busy step's arrow stands for several packets; the page browses them all.
    let ladder = embedded_ladder(&b);
    let k = ladder
        .iter()
        .position(|a| a["members"].as_array().unwrap().len() > 1)
        .expect("a grouped arrow");
    let t = click_packet(&b, k, "firewall, a grouped arrow");
    assert!(t["text"].as_str().unwrap().contains("这个箭头代表"), "{t}");
    audit(&b, "firewall, a packet open");
    keep(&b, "firewall-packet-zh.png", None);
    b.key(ESCAPE);

    b.open(&page, "#step=3");
    b.click("#lang-en");
    audit(&b, "firewall step 3 in English");
    keep(&b, "firewall.png", Some("page-firewall.png"));
    prints_cleanly(&b, n, "firewall");
}

#[test]
fn every_lab_demo_page_fits_a_projector() {
    if !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let demos: &[(&[&str], &str)] = &[
        (&["arp-table"], "zh"),
        (&["ping"], "en"),
        (&["traceroute"], "zh"),
        (&["tcp-vs-udp"], "en"),
        (&["sticky-packet"], "zh"),
        (&["url"], "en"),
        (&["io-mux"], "zh"),
        (&["failover"], "en"),
        (&["cdn"], "zh"),
        (&["load-balance"], "en"),
        (&["rpc"], "zh"),
        (&["producer-consumer"], "en"),
        (&["concurrency", "--n", "20"], "zh"),
        (&["ipc", "--round-trips", "5"], "en"),
        (&["async", "--conns", "200", "--reads", "20"], "zh"),
    ];
    let mut pages = Vec::new();
    for (args, lang) in demos {
        let mut a = args.to_vec();
        a.push("--json");
        let o = netlab(&a);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        let lines = json_lines(&o);
        pages.push((
            args[0],
            *lang,
            render(dir.path(), args[0], &o.stdout, lang),
            lines,
        ));
    }
    let Some(b) = browser() else { return };
    for (demo, lang, page, lines) in &pages {
        b.open(page, "");
        audit(&b, demo);
        assert_eq!(arrows_stand_for(&b), drawn(lines) as u64, "{demo}");
        step_through(&b, lines, lang, demo);
        let ladder = embedded_ladder(&b);
        if let Some(k) = ladder.iter().position(|a| {
            let [li, pi] = [
                a["members"][0][0].as_u64().unwrap(),
                a["members"][0][1].as_u64().unwrap(),
            ];
            lines[li as usize]["packets"][pi as usize]["fields"]
                .as_array()
                .is_some_and(|f| !f.is_empty())
        }) {
            click_packet(&b, k, demo);
            audit(&b, &format!("{demo}, a packet open"));
            b.key(ESCAPE);
        }
        keep(&b, &format!("{demo}-{lang}.png"), None);
    }
}

/// A run made to break the page: every string hostile, and more participants
/// with longer labels than any demo has.
fn hostile_run() -> Vec<netlab::record::Line> {
    use netlab::record::{Body, FieldView, Line, Numbered, Packet, Step, Summary, SCHEMA};
    use netlab::text::tx;
    let bad = "</script><!--<script>alert(1)</script>]]><img src=x onerror=\"document.title='pwned'\">\u{2028}'&amp;";
    let t = || tx(format!("en {bad}"), format!("中文 {bad}"));
    let id = |i: usize| format!("{bad}{i}");
    let packet = |from: usize, to: String, lost: bool| {
        Packet {
            protocol: "UDP".into(),
            transport: bad.into(),
            peer: bad.into(),
            summary: t(),
            lost,
            bytes: (0..=255u8).collect(),
            fields: vec![FieldView {
                name: bad.into(),
                range: 0..200,
                value: t(),
                meaning: t(),
            }],
            ..Packet::default()
        }
        .between(
            id(from),
            to,
            tx(
                format!("a long label for a packet {from} {bad}"),
                format!("一个很长的报文标签 {from} {bad}"),
            ),
        )
    };
    let mut step = Step::new(t(), t(), &["Q4"])
        .section(t())
        .correction(t())
        .fact(t(), t());
    for i in 0..16 {
        step = step.who(
            &id(i),
            tx(
                format!("participant-{i}.a-long-name.example.org. {bad}"),
                format!("参与者{i}号，一个很长的名字 {bad}"),
            ),
        );
    }
    let mut packets: Vec<Packet> = (1..16).map(|i| packet(0, id(i), i % 5 == 0)).collect();
    packets.push(packet(3, format!("{},{}", id(1), id(2)), false));
    packets.push(packet(4, "*".into(), false));
    let echo = packets[0].echo();
    let line = |seq: u64, body: Body| Line {
        schema: SCHEMA.into(),
        demo: bad.into(),
        seq,
        body,
    };
    let numbered = |n: u64, step: Step| Body::Step(Box::new(Numbered { number: n, step }));
    vec![
        line(1, numbered(1, step.with_packets(packets))),
        line(2, numbered(1, Step::line(t(), &[]))),
        line(
            3,
            numbered(2, Step::new(t(), t(), &[]).with_packets(vec![echo])),
        ),
        line(
            4,
            Body::Summary(Box::new(Summary {
                title: t(),
                lines: vec![t()],
                questions: vec!["Q4".into()],
                ..Summary::default()
            })),
        ),
    ]
}

#[test]
fn hostile_strings_and_a_crowded_ladder_cannot_break_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let lines = hostile_run();
    let json: String = lines
        .iter()
        .map(|l| serde_json::to_string(l).unwrap() + "\n")
        .collect();
    let page = render(dir.path(), "hostile", json.as_bytes(), "zh");
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(
        html.matches("</script").count(),
        2,
        "only the page's own script ends"
    );
    let Some(b) = browser() else { return };
    b.open(&page, "");
    audit(&b, "hostile");
    let values: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::to_value(l).unwrap())
        .collect();
    let s = b.js(
        "return {scripts: document.scripts.length, injected: document.querySelectorAll('img, iframe, object, embed').length,
                 title: document.title, h2: document.querySelector('#narration h2').textContent,
                 heads: Array.prototype.map.call(document.querySelectorAll('#ladder-head .who'), function (t) { return t.firstChild.nodeValue; }),
                 legend: (document.querySelector('#ladder-pane .legend') || {}).textContent || ''}",
    );
    assert_eq!(s["scripts"], 2, "{s}");
    assert_eq!(s["injected"], 0, "{s}");
    assert_ne!(s["title"], "pwned");
    assert_eq!(
        s["h2"], values[0]["title"]["zh"],
        "hostile text is shown as text: {s}"
    );
    let heads = s["heads"].as_array().unwrap();
    assert!(
        heads.len() < 17 && heads.iter().any(|h| h == "…"),
        "columns folded to fit: {s}"
    );
    assert!(
        s["legend"].as_str().unwrap().contains("合并以适应宽度"),
        "{s}"
    );
    step_through(&b, &values, "zh", "hostile");
    b.open(&page, "");
    let t = click_packet(&b, 0, "hostile");
    assert!(
        t["rows"][0][2].as_str().unwrap().contains("</script>"),
        "{t}"
    );
    keep(&b, "hostile-packet.png", None);
    b.key(ESCAPE);
    keep(&b, "hostile.png", None);
}

#[test]
fn render_refuses_what_is_not_a_saved_run() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("text.txt");
    std::fs::write(&text, stdout(&netlab(&["dns-trace", "www.baidu.com"]))).unwrap();
    let out = dir.path().join("p.html");
    let o = netlab(&[
        "render",
        text.to_str().unwrap(),
        "--html",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a JSON object"), "{}", stderr(&o));
    // Without --html, render prints the saved run's text view; text is still refused.
    let o = netlab(&["render", text.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a JSON object"), "{}", stderr(&o));
    assert!(!out.exists());
}
