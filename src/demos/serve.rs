//! `netlab serve`: the class server, until Ctrl-C. Its first step says where
//! the class points its browsers and how the instructor's runs publish; the
//! summary counts what the session held. The server itself is
//! [`crate::classroom`].

use std::net::SocketAddr;

use serde::Serialize;

use crate::classroom::{Options, Server};
use crate::error::Result;
use crate::exit;
use crate::narrate::{tx, Narrator, Step, Summary};

/// The server is up: where to point browsers and runs.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Serving {
    /// The live page's address (`GET /`; `?lang=zh` or `?lang=en` preselects the language).
    pub url: String,
    /// The socket address the server listens on.
    pub listen: String,
    /// The stream of records for scripts: Server-Sent Events, one JSON record per `data:` line.
    pub events: String,
    /// What a demo run passes as `--class` (or `NETLAB_CLASS`) to publish from this machine.
    pub class: String,
    /// The token a run on another machine adds to its `--class` URL (`?token=…`); loopback needs none.
    pub token: String,
}

/// What the session held when the server stopped.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Served {
    /// Runs published during the session.
    pub runs: usize,
    /// Records published during the session (every line of every run).
    pub records: usize,
    /// `/events` streams opened (each browser page opens one, and again when it reconnects).
    pub clients: u64,
    /// Requests refused: malformed, too large, not allowed to publish, or over the connection limit.
    pub refused: u64,
}

/// The JSON schema of `netlab serve`'s typed data.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "serve",
        "The class server: the instructor's runs, live in every student's browser, until Ctrl-C.",
    )
    .step::<Serving>("the server is listening")
    .summary::<Served>()
}

/// The address a browser uses for `listen` (an unspecified address names this host's loopback).
fn browsable(listen: SocketAddr) -> SocketAddr {
    let mut a = listen;
    if a.ip().is_unspecified() {
        a.set_ip(match a {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    a
}

/// Serve the class on `listen` until Ctrl-C or SIGTERM.
pub fn run(listen: SocketAddr, n: &mut Narrator) -> Result<i32> {
    let stop = crate::sys::stop_flag()?;
    let server = Server::start(Options::new(listen))?;
    let at = browsable(server.addr);
    let url = format!("http://{at}/");
    let class = format!("http://{at}");
    let open_to_lan = !server.addr.ip().is_loopback();
    let mut step = Step::new(
        tx(
            format!("Serving the class at {url}"),
            format!("课堂服务已开启：{url}"),
        ),
        tx(
            format!("Students open the page in a browser (add ?lang=zh or ?lang=en to choose the language); each of them follows your runs live, steps back and opens packets without moving anyone else. Run any demo with --class {class} (or NETLAB_CLASS={class}) and its steps appear on every page as they happen; --step paces the class. Stop the server with Ctrl-C."),
            format!("学生在浏览器中打开这个页面（加 ?lang=zh 或 ?lang=en 选择语言），就能实时跟随你的每次运行，各自回看步骤、点开报文，互不影响。任何演示加上 --class {class}（或设置 NETLAB_CLASS={class}）运行，它的步骤就会随运行出现在每个页面上；--step 控制全班的节奏。按 Ctrl-C 停止服务。"),
        ),
        &[],
    )
    .fact(tx("page", "页面"), url.clone())
    .fact(tx("events (for scripts)", "事件流（供脚本使用）"), format!("{url}events"))
    .fact(tx("publish with", "发布方式"), format!("--class {class}"));
    if open_to_lan {
        step = step.fact(
            tx("from another machine", "从其他机器发布"),
            format!(
                "--class 'http://HOST:{}/?token={}'",
                at.port(),
                server.token
            ),
        );
    }
    n.step(step.with(&Serving {
        url: url.clone(),
        listen: server.addr.to_string(),
        events: format!("{url}events"),
        class,
        token: server.token.clone(),
    }))?;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let stats = server.stop();
    n.summary(
        Summary {
            title: tx(
                format!(
                    "Class server stopped after {} and {}",
                    crate::text::plural(stats.runs as u64, "run", "runs"),
                    crate::text::plural(stats.records as u64, "record", "records")
                ),
                format!(
                    "课堂服务已停止：共 {} 次运行、{} 条记录",
                    stats.runs, stats.records
                ),
            ),
            ok: true,
            ..Summary::default()
        }
        .with(&Served {
            runs: stats.runs,
            records: stats.records,
            clients: stats.clients,
            refused: stats.refused,
        }),
    )?;
    Ok(exit::OK)
}
