//! `netlab serve`: the class server on loopback, a run published to it with
//! `--class`, and many `/events` clients (std TcpStreams reading the
//! Server-Sent Events by hand), misbehaving ones among them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{netlab, stdout};

/// A `netlab serve --json` on a free loopback port, stopped (SIGTERM) when dropped.
struct Serve {
    child: Child,
    addr: SocketAddr,
    first: Value,
    /// The rest of its output (the summary, when it stops).
    out: BufReader<std::process::ChildStdout>,
}

impl Serve {
    fn start() -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_netlab"))
            .args(["serve", "--listen", "127.0.0.1:0", "--json"])
            .env("LANG", "C.UTF-8")
            .env_remove("NETLAB_CLASS")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start netlab serve");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).expect("serve's first line");
        let first: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let addr: SocketAddr = first["data"]["listen"].as_str().unwrap().parse().unwrap();
        Serve {
            child,
            addr,
            first,
            out,
        }
    }

    fn class(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop it (SIGTERM, as Ctrl-C); its summary.
    fn stop(mut self) -> Value {
        self.term();
        let mut rest = String::new();
        self.out.read_to_string(&mut rest).unwrap();
        let last = rest.lines().last().unwrap_or_default().to_string();
        serde_json::from_str(&last).unwrap_or_else(|e| panic!("{e}: {rest}"))
    }

    fn term(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.term();
        let _ = self.child.wait();
    }
}

/// One raw HTTP/1.1 exchange (the request as given, the server closing or
/// `Connection: close`): the status (0 when no reply came) and the body.
fn http(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // The server may answer (and close) before it took the whole request.
    let _ = s.write_all(request);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    http(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// An `/events` client on its own connection, already subscribed.
fn subscribe(addr: SocketAddr) -> BufReader<TcpStream> {
    subscribe_with(addr, "")
}

/// The same, with more header lines (each ending in CRLF).
fn subscribe_with(addr: SocketAddr, headers: &str) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let req = format!("GET /events HTTP/1.1\r\nHost: x\r\n{headers}\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    // Headers, up to the blank line: the stream is subscribed once they arrive.
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        if h == "\r\n" {
            return r;
        }
    }
}

/// The records of one SSE stream up to the end of a run (its summary or
/// error), each `data:` line's JSON as it was sent. The body is chunked:
/// chunk-size lines are not `data:` lines, and no record spans a chunk here
/// because the server writes each event whole.
fn read_run(mut r: BufReader<TcpStream>) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).unwrap_or(0) == 0 {
            return got;
        }
        if let Some(json) = l.trim_end().strip_prefix("data: ") {
            got.push(json.to_string());
            let v: Value = serde_json::from_str(json).unwrap();
            if v["kind"] == "summary" || v["kind"] == "error" {
                return got;
            }
        }
    }
}

/// The instructor's run: dns-trace on the built-in loopback lab, published.
fn publish_a_run(s: &Serve) -> Vec<String> {
    let o = netlab(&[
        "dns-trace",
        "www.baidu.com",
        "--json",
        "--class",
        &s.class(),
    ]);
    assert!(o.status.success(), "{}", super::stderr(&o));
    assert!(
        super::stderr(&o).is_empty(),
        "the run said nothing about the server: {}",
        super::stderr(&o)
    );
    stdout(&o).lines().map(str::to_string).collect()
}

#[test]
fn serve_says_where_the_page_is() {
    let s = Serve::start();
    assert_eq!(s.first["kind"], "step");
    assert_eq!(s.first["demo"], "serve");
    assert_eq!(s.first["data"]["url"], format!("http://{}/", s.addr));
    let (code, page) = get(s.addr, "/?lang=zh");
    assert_eq!(code, 200);
    assert!(page.contains(r#"<html lang="zh">"#), "{}", &page[..200]);
    assert!(page.contains("connect-src 'self'"));
}

#[test]
fn two_hundred_clients_get_every_record_and_a_stalled_one_delays_nobody() {
    let s = Serve::start();
    // A client that subscribes and never reads, with a tiny receive buffer
    // so that the server's writes to it soon block.
    let stalled = {
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_recv_buffer_size(1024).unwrap();
        sock.connect(&s.addr.into()).unwrap();
        let mut t: TcpStream = sock.into();
        t.write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        t
    };
    let clients: Vec<_> = (0..200).map(|_| subscribe(s.addr)).collect();
    let readers: Vec<_> = clients
        .into_iter()
        .map(|c| std::thread::spawn(move || read_run(c)))
        .collect();
    let started = Instant::now();
    let run = publish_a_run(&s);
    assert!(run.len() > 3, "{run:?}");
    for (i, r) in readers.into_iter().enumerate() {
        let got = r.join().unwrap();
        assert_eq!(
            got.len(),
            run.len(),
            "client {i} got {} of {}",
            got.len(),
            run.len()
        );
        assert_eq!(got, run, "client {i}: the records as --json printed them");
    }
    // The bound is loose (a hang guard, not a benchmark): the run and all
    // 200 streams together end well within it, stalled client or not.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    // A client that joins late gets the run so far, and the finished run is served whole.
    let late = read_run(subscribe(s.addr));
    assert_eq!(late, run);
    // A browser that reconnects says the last id it had, and gets the rest.
    let resumed = read_run(subscribe_with(
        s.addr,
        &format!("Last-Event-ID: {}\r\n", run.len() - 3),
    ));
    assert_eq!(resumed, run[run.len() - 2..]);
    let (code, body) = get(s.addr, "/runs/1.jsonl");
    assert_eq!(code, 200);
    assert_eq!(body.lines().collect::<Vec<_>>(), run);
    assert_eq!(get(s.addr, "/runs/2.jsonl").0, 404);
    // A page opened now starts with the run so far; the run has a page of its own.
    let (code, live) = get(s.addr, "/live.json");
    assert_eq!(code, 200);
    let live: Value = serde_json::from_str(&live).unwrap();
    assert_eq!(live["record"].as_array().unwrap().len(), run.len());
    assert_eq!(live["live"]["run"], 1);
    let (code, page) = get(s.addr, "/runs/1.html?lang=zh");
    assert_eq!(code, 200);
    assert!(page.contains(r#"<html lang="zh">"#));
    drop(stalled);
    let summary = s.stop();
    assert_eq!(summary["kind"], "summary", "{summary}");
    assert_eq!(summary["runs"], 1, "{summary}");
    assert_eq!(summary["records"], run.len(), "{summary}");
}

#[test]
fn bad_requests_get_4xx_and_the_server_goes_on() {
    let s = Serve::start();
    let a = s.addr;
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("not HTTP", b"HELLO THERE\r\n\r\n".to_vec(), 400),
        ("unknown path", b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), 404),
        ("a student may not post the page", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(), 405),
        ("not a record", b"POST /publish?run=r1 HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{\"a\":1}".to_vec(), 400),
        ("no run", b"POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(), 400),
        ("a body too large", format!("POST /publish?run=r2 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", 64 << 20).into_bytes(), 413),
        ("headers too large", format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(200_000)).into_bytes(), 431),
        ("a bad run number", b"GET /runs/x.jsonl HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), 404),
    ];
    for (what, req, want) in cases {
        let (code, body) = http(a, &req);
        assert_eq!(code, want, "{what}: {body}");
        assert_eq!(get(a, "/").0, 200, "still serving after {what}");
    }
    // Nothing bad was published.
    assert_eq!(get(a, "/runs/1.jsonl").0, 404);
}

#[test]
fn a_run_goes_on_when_the_class_server_is_gone() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = netlab(&[
        "dns-trace",
        "www.baidu.com",
        "--class",
        &format!("http://127.0.0.1:{port}"),
    ]);
    assert!(o.status.success(), "{}", super::stderr(&o));
    let err = super::stderr(&o);
    assert_eq!(err.matches("class server").count(), 1, "said once: {err}");
    let bad = netlab(&["dns-trace", "www.baidu.com", "--class", "https://x/"]);
    assert_eq!(bad.status.code(), Some(2), "{}", super::stderr(&bad));
}

#[test]
fn two_browser_pages_one_in_each_language_see_every_step_in_order() {
    let Some(b) = super::browser::browser() else {
        return;
    };
    let s = Serve::start();
    let home = b.window();
    let en = b.open_window(&format!("http://{}/?lang=en", s.addr));
    let zh = b.open_window(&format!("http://{}/?lang=zh", s.addr));
    let run = publish_a_run(&s);
    let lines: Vec<Value> = run
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (handle, lang) in [(&en, "en"), (&zh, "zh")] {
        b.switch(handle);
        let deadline = Instant::now() + Duration::from_secs(60);
        while b.js("return document.body.dataset.records") != Value::String(run.len().to_string()) {
            assert!(
                Instant::now() < deadline,
                "{lang}: the page has {} of {} records; errors: {}",
                b.js("return document.body.dataset.records"),
                run.len(),
                b.js("return document.body.dataset.errors || ''")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(b.js("return document.documentElement.lang"), lang);
        // Every step's title, in the page's language, in the run's order.
        let all = b.js("return document.getElementById('print-all').textContent");
        let all = all.as_str().unwrap();
        let mut at = 0;
        for l in lines
            .iter()
            .filter(|l| l["kind"] == "step" && l["plain"] != true)
        {
            let title = l["title"][lang].as_str().unwrap();
            let found = all[at..]
                .find(title)
                .unwrap_or_else(|| panic!("{lang}: step {title:?} missing or out of order"));
            at += found + title.len();
        }
        // A page that followed the run ends on its summary.
        let counter = b.js("return document.getElementById('counter').textContent");
        let counter = counter.as_str().unwrap().to_string();
        let (i, n) = counter.split_once(" / ").unwrap();
        assert_eq!(i, n, "{lang}: on the last slide: {counter}");
    }
    // The next run replaces the live view; the first stays a link away.
    let second = publish_a_run(&s);
    b.switch(&en);
    let deadline = Instant::now() + Duration::from_secs(60);
    while b.js("return document.body.dataset.run + '/' + document.body.dataset.records")
        != Value::String(format!("2/{}", second.len()))
    {
        assert!(Instant::now() < deadline, "the second run never showed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        b.js("return Array.from(document.querySelectorAll('#runs a')).map(function (a) { return a.getAttribute('href'); }).join(' ')"),
        "/runs/1.html?lang=en"
    );
    // One student opening a packet moves nobody else.
    b.switch(&en);
    b.click("g.arrow");
    assert_eq!(
        b.js("return document.getElementById('packet').hidden"),
        false
    );
    b.switch(&zh);
    assert_eq!(
        b.js("return document.getElementById('packet').hidden"),
        true
    );
    b.close_window(&en);
    b.close_window(&home);
}

/// `n` records of one SSE stream.
fn read_n(mut r: BufReader<TcpStream>, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < n {
        let mut l = String::new();
        if r.read_line(&mut l).unwrap_or(0) == 0 {
            break;
        }
        if let Some(json) = l.trim_end().strip_prefix("data: ") {
            got.push(json.to_string());
        }
    }
    got
}

#[test]
fn a_client_that_stops_reading_holds_back_nobody() {
    let s = Serve::start();
    // Far more than the kernel's buffers hold for the stalled connection:
    // the server's writes to it block, and the others must not notice.
    let stalled = {
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_recv_buffer_size(1024).unwrap();
        sock.connect(&s.addr.into()).unwrap();
        let mut t: TcpStream = sock.into();
        t.write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        t
    };
    let readers: Vec<_> = (0..5)
        .map(|_| subscribe(s.addr))
        .map(|c| std::thread::spawn(move || read_n(c, 12)))
        .collect();
    let mut sent = Vec::new();
    for seq in 1..=12 {
        let line = serde_json::json!({
            "schema": "netlab/2", "demo": "x", "seq": seq, "kind": "step", "number": seq,
            "title": {"en": "a".repeat(1 << 20), "zh": "甲"}, "explain": {"en": "", "zh": ""},
        })
        .to_string();
        let req = format!(
            "POST /publish?run=big HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{line}",
            line.len()
        );
        let (code, body) = http(s.addr, req.as_bytes());
        assert_eq!(code, 204, "{body}");
        sent.push(line);
    }
    for r in readers {
        let got = r.join().unwrap();
        assert_eq!(got.len(), sent.len());
        assert!(got == sent, "every reader gets every record whole");
    }
    drop(stalled);
}

#[test]
fn connections_beyond_the_bound_are_turned_away_and_the_server_recovers() {
    let s = Serve::start();
    // 256 connections that say nothing hold every slot.
    let crowd: Vec<TcpStream> = (0..256)
        .map(|_| TcpStream::connect(s.addr).unwrap())
        .collect();
    // The server takes them in turn; once it has, the next is turned away.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, _) = get(s.addr, "/");
        if code == 503 {
            break;
        }
        assert_eq!(code, 200);
        assert!(Instant::now() < deadline, "never turned away");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(crowd);
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(s.addr, "/").0 != 200 {
        assert!(Instant::now() < deadline, "the slots never came back");
        std::thread::sleep(Duration::from_millis(20));
    }
}
