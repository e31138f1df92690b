//! A real browser for the page tests: Debian's chromium, headless, driven
//! over WebDriver (chromedriver, from the chromium-driver package) with a
//! few plain HTTP requests.
//!
//! One chromedriver and one browser session serve the whole test binary:
//! [`browser`] starts them on first use and hands the session out under a
//! lock (the page tests take turns). They end with the test process: a
//! keeper shell holds chromedriver and reads a pipe from this process; when
//! the process exits, the pipe closes and the keeper ends its own process
//! group (chromedriver and the chromium it started) and removes the profile.
//! The window is 1280×720 CSS pixels, a projector's, set through the DevTools
//! protocol so the page sees exactly that.

use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{have, require};

/// The projector's window, in CSS pixels.
pub const WIDTH: u32 = 1280;
/// The projector's window, in CSS pixels.
pub const HEIGHT: u32 = 720;

/// WebDriver's name for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The keeper: starts chromedriver in the background, waits for this
/// process's pipe to close, then ends its process group and removes the
/// profile (chromium's temporary files too: they are made under it).
const KEEPER: &str = r#"export TMPDIR="$2/tmp"
mkdir -p "$TMPDIR"
chromedriver --port="$1" >/dev/null 2>&1 &
cat >/dev/null
trap '' TERM
kill -TERM 0
sleep 1
rm -rf "$2"
kill -KILL 0"#;

/// A WebDriver session.
pub struct Browser {
    agent: ureq::Agent,
    /// `http://127.0.0.1:PORT/session/ID`.
    session: String,
}

/// The keeper, its stdin open until the test process exits (it is never
/// waited for: it ends after this process, when that pipe closes).
static KEEPER_CHILD: OnceLock<Mutex<Child>> = OnceLock::new();
static BROWSER: OnceLock<Mutex<Browser>> = OnceLock::new();

/// The shared browser, or `None` (SKIPPED, or a failure under CI=true) when
/// chromium or chromedriver is missing.
pub fn browser() -> Option<MutexGuard<'static, Browser>> {
    if !require(
        "chromium and chromedriver (Debian packages chromium, chromium-driver)",
        have("chromium") && have("chromedriver"),
    ) {
        return None;
    }
    let b = BROWSER.get_or_init(|| Mutex::new(Browser::start()));
    // A test that failed while holding it leaves it usable.
    Some(b.lock().unwrap_or_else(|e| e.into_inner()))
}

/// A TCP port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on loopback")
        .port()
}

impl Browser {
    fn start() -> Browser {
        use std::os::unix::process::CommandExt as _;
        let port = free_port();
        let profile = std::env::temp_dir().join(format!("netlab-page-test-{}", std::process::id()));
        let keeper = Command::new("sh")
            .arg("-c")
            .arg(KEEPER)
            .arg("keeper")
            .arg(port.to_string())
            .arg(&profile)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let _ = KEEPER_CHILD.set(Mutex::new(keeper));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = agent
                .get(format!("{base}/status"))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_to_string().ok())
                .and_then(|s| serde_json::from_str::<Value>(&s).ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"args": [
                "--headless=new", "--no-sandbox", "--disable-gpu",
                format!("--window-size={WIDTH},{HEIGHT}"),
                format!("--user-data-dir={}", profile.display()),
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-extensions",
                "--lang=en-US",
            ]},
        }}});
        let v = send(&agent, "POST", &format!("{base}/session"), Some(caps));
        let id = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_string();
        let b = Browser {
            agent,
            session: format!("{base}/session/{id}"),
        };
        b.viewport(WIDTH, HEIGHT);
        b
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        send(
            &self.agent,
            method,
            &format!("{}{path}", self.session),
            body,
        )
    }

    /// A DevTools protocol command (chromedriver passes it on).
    pub fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": cmd, "params": params})),
        )
    }

    /// The page's viewport, exactly `w`×`h` CSS pixels.
    pub fn viewport(&self, w: u32, h: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": w, "height": h, "deviceScaleFactor": 1, "mobile": false}),
        );
    }

    /// Lay the page out as for paper (`print`) or the screen (`""`).
    pub fn media(&self, media: &str) {
        self.cdp("Emulation.setEmulatedMedia", json!({ "media": media }));
    }

    /// Open a page in a 1280×720 screen (whatever a failed test left set)
    /// and wait until its script has run.
    pub fn open(&self, page: &std::path::Path, fragment: &str) {
        self.media("");
        self.viewport(WIDTH, HEIGHT);
        let url = format!("file://{}{fragment}", page.display());
        // A new document: the same file with another fragment would only scroll.
        self.cmd("POST", "/url", Some(json!({ "url": "about:blank" })));
        self.cmd("POST", "/url", Some(json!({ "url": url })));
        self.wait_ready();
    }

    /// Open `url` (a page a server serves) in a window of its own and stay
    /// in it; the window's handle, for [`Browser::switch`].
    pub fn open_window(&self, url: &str) -> String {
        self.media("");
        let v = self.cmd("POST", "/window/new", Some(json!({ "type": "window" })));
        let handle = v["handle"].as_str().expect("a window handle").to_string();
        self.switch(&handle);
        self.viewport(WIDTH, HEIGHT);
        self.cmd("POST", "/url", Some(json!({ "url": url })));
        self.wait_ready();
        handle
    }

    /// Make the window `handle` the one commands go to.
    pub fn switch(&self, handle: &str) {
        self.cmd("POST", "/window", Some(json!({ "handle": handle })));
    }

    /// Close the current window and go back to `to`.
    pub fn close_window(&self, to: &str) {
        self.cmd("DELETE", "/window", None);
        self.switch(to);
    }

    /// The current window's handle.
    pub fn window(&self) -> String {
        self.cmd("GET", "/window", None)
            .as_str()
            .expect("a window handle")
            .to_string()
    }

    /// Wait until the page's script has run.
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.js("return document.body && document.body.dataset.ready || null") != "1" {
            assert!(
                Instant::now() < deadline,
                "the page's script did not finish: {}",
                self.js("return document.body ? document.body.dataset.errors || '' : ''")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Run `script` (a function body: `return …`) in the page.
    pub fn js(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Click the element `css` selects, as a user's mouse would, after
    /// scrolling it to the middle of its pane (as a user would, and clear
    /// of the ladder's sticky column names).
    pub fn click(&self, css: &str) {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": "var e = document.querySelector(arguments[0]); if (e) { e.scrollIntoView({block: 'center'}); }", "args": [css]})),
        );
        let e = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        let id = e[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {e}"))
            .to_string();
        self.cmd("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// Press and release a key (WebDriver's key codes: [`ARROW_RIGHT`] …).
    pub fn key(&self, key: char) {
        let k = key.to_string();
        self.cmd(
            "POST",
            "/actions",
            Some(
                json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
                {"type": "keyDown", "value": k}, {"type": "keyUp", "value": k}]}]}),
            ),
        );
    }

    /// Save what the window shows as `target/screenshots/NAME`; returns the PNG.
    pub fn screenshot(&self, name: &str) -> Vec<u8> {
        use base64::Engine as _;
        let v = self.cmd("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("a screenshot"))
            .expect("base64 PNG");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), &png).unwrap();
        png
    }
}

/// WebDriver key codes.
pub const ARROW_LEFT: char = '\u{E012}';
/// WebDriver key codes.
pub const ARROW_RIGHT: char = '\u{E014}';
/// WebDriver key codes.
pub const ESCAPE: char = '\u{E00C}';

/// One WebDriver request; its `value`, or a panic with WebDriver's error.
fn send(agent: &ureq::Agent, method: &str, url: &str, body: Option<Value>) -> Value {
    let res = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, body) => agent
            .post(url)
            .header("content-type", "application/json")
            .send(body.unwrap_or(json!({})).to_string()),
    };
    let mut res = res.unwrap_or_else(|e| panic!("WebDriver {method} {url}: {e}"));
    let status = res.status();
    let text = res
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .unwrap_or_else(|e| panic!("WebDriver {method} {url}: {e}"));
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("WebDriver {method} {url}: not JSON ({e}): {text}"));
    assert!(
        status.is_success(),
        "WebDriver {method} {url}: {status}: {}",
        v["value"]
    );
    v["value"].clone()
}

/// The size of a PNG (from its IHDR chunk).
pub fn png_size(png: &[u8]) -> (u32, u32) {
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}
