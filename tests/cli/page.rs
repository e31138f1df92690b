//! The page (`--html`, `netlab render`), loaded in a real browser: Debian's
//! chromium, headless. The page is opened as `page.html#packet=N`, which
//! clicks arrow N; `--dump-dom` then shows the DOM after the scripts ran.

use super::*;

/// Headless chromium with a fresh profile, kept from reaching the network.
fn chromium(profile: &tempfile::TempDir) -> Command {
    let mut c = Command::new("chromium");
    c.args([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()));
    c
}

/// The DOM of a page after its scripts ran, and chromium's stderr.
fn load(page: &std::path::Path, fragment: &str) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let o = chromium(&profile)
        .args(["--enable-logging=stderr", "--v=0", "--dump-dom"])
        .arg(format!("file://{}{fragment}", page.display()))
        .output()
        .expect("run chromium");
    assert!(o.status.success(), "chromium failed: {}", stderr(&o));
    (stdout(&o), stderr(&o))
}

/// Save a screenshot of the page for people to look at (CI keeps target/).
fn screenshot(page: &std::path::Path, fragment: &str, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let o = chromium(&profile)
        .args(["--hide-scrollbars", "--window-size=1280,720"])
        .arg(format!("--screenshot={}", dir.join(name).display()))
        .arg(format!("file://{}{fragment}", page.display()))
        .output()
        .expect("run chromium");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.join(name).metadata().unwrap().len() > 10_000);
}

/// Packet records the page's arrows stand for: an arrow's `data-n` (a group
/// of look-alikes, or a busy step's conversation, is one arrow).
fn arrows(dom: &str) -> usize {
    dom.split("<g class=\"arrow")
        .skip(1)
        .map(|g| {
            g.split("data-n=\"")
                .nth(1)
                .and_then(|x| x.split('"').next())
                .and_then(|n| n.parse::<usize>().ok())
                .expect("every arrow has data-n")
        })
        .sum()
}

#[test]
fn the_page_shows_every_packet_and_a_click_shows_its_fields() {
    if !require("chromium (Debian package chromium)", have("chromium")) {
        return;
    }
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
    let n = records(&lines);
    // The packet clicked: the first referral, whose fields include NS records.
    let i = lines
        .iter()
        .flat_map(|l| l["packets"].as_array().cloned().unwrap_or_default())
        .position(|p| p["label"] == "referral to com.")
        .unwrap();
    let (dom, log) = load(&page, &format!("#packet={i}"));
    assert!(dom.contains("data-ready=\"1\""), "the script ran:\n{dom}");
    assert!(!dom.contains("data-errors"), "console errors: {dom}");
    assert!(!log.contains("Uncaught"), "{log}");
    assert_eq!(arrows(&dom), n, "the arrows stand for every packet record");
    let table = dom
        .split("id=\"fields\"")
        .nth(1)
        .expect("the click showed a field table");
    for field in ["ID", "FLAGS", "QNAME", "NS[0]", "AR[0]"] {
        assert!(
            table.contains(&format!(">{field}<")),
            "{field} missing:\n{table}"
        );
    }
    assert!(table.contains("a.gtld-servers.net."), "{table}");
    assert!(
        dom.contains("Not an answer but a referral"),
        "the step's explanation"
    );
    screenshot(&page, &format!("#packet={i}"), "dns-trace.png");

    // It prints on A4: chromium's PDF of it has A4 pages (595 × 842 pt).
    let profile = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("page.pdf");
    let printed = chromium(&profile)
        .arg("--no-pdf-header-footer")
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(printed.status.success(), "{}", stderr(&printed));
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    let text = String::from_utf8_lossy(&bytes);
    let boxes: Vec<&str> = text
        .match_indices("MediaBox [")
        .map(|(i, _)| &text[i..])
        .collect();
    assert!(!boxes.is_empty(), "a PDF page");
    for b in boxes {
        let nums: Vec<f64> = b["MediaBox [".len()..]
            .split(']')
            .next()
            .unwrap()
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        assert!(
            (nums[2] - 595.0).abs() < 2.0 && (nums[3] - 842.0).abs() < 2.0,
            "not A4: {nums:?}"
        );
    }

    // A student's saved run renders to the same page.
    let run = dir.path().join("run.jsonl");
    std::fs::write(&run, &o.stdout).unwrap();
    let again = dir.path().join("again.html");
    let r = netlab(&[
        "render",
        run.to_str().unwrap(),
        "--html",
        again.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    assert_eq!(
        std::fs::read_to_string(&again).unwrap(),
        std::fs::read_to_string(&page).unwrap()
    );
}

#[test]
fn a_lab_page_in_chinese_loads_cleanly() {
    if !require("chromium (Debian package chromium)", have("chromium")) || !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("arp.html");
    let o = netlab(&[
        "arp-table",
        "--lang",
        "zh",
        "--json",
        "--html",
        page.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (dom, _) = load(&page, "#packet=0");
    assert!(dom.contains("lang=\"zh\""));
    assert!(!dom.contains("data-errors"), "{dom}");
    assert_eq!(arrows(&dom), records(&json_lines(&o)));
    assert!(dom.contains(">arp.oper<") && dom.contains("含义"), "{dom}");
    screenshot(&page, "#packet=0", "arp-table-zh.png");
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
    let o = netlab(&["render", text.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--html"), "{}", stderr(&o));
    assert!(!out.exists());
}
