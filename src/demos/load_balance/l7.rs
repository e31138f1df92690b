//! The layer-7 part of `load-balance`: a reverse proxy on lb (netlab's own,
//! or the system's nginx or haproxy), told the same way whichever it is.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use super::{
    alternate, capture, mode_out, ms_between, pause, records, requests_out, say, seen, stop,
    tcp_of, vip, HealthStep, ModeOut, ProxyStep, RunStep, TwoConnections, ACK, HOST, SYN,
};
use crate::balance::backend::{self, Backends, PORT};
use crate::balance::client::{self, Answer};
use crate::balance::daemon::{self, Daemon};
use crate::balance::proxy::{self, Proxy, Scheduler};
use crate::cli::{LbMode, ProxyKind};
use crate::error::Result;
use crate::lab::capture::{Capture, Frame};
use crate::lab::farm::{Farm, BACKENDS, LB_B};
use crate::narrate::{tx, Narrator, Step, Text};

const QS: &[&str] = &["Q32", "Q34", "Q35"];
/// The backend killed in the health-check run.
const VICTIM: &str = "web2";
/// How slow web1 is made while the schedulers are compared.
const SLOW_MS: u64 = 150;

/// A daemon asked for must be installed: a usage error otherwise.
pub fn check_installed(kind: ProxyKind) -> Result<()> {
    match daemon_kind(kind) {
        None => Ok(()),
        Some(k) => daemon::check_installed(k),
    }
}

/// The daemon a `--proxy` names (none: netlab's own).
fn daemon_kind(kind: ProxyKind) -> Option<daemon::Kind> {
    match kind {
        ProxyKind::Netlab => None,
        ProxyKind::Nginx => Some(daemon::Kind::Nginx),
        ProxyKind::Haproxy => Some(daemon::Kind::Haproxy),
    }
}

/// Whichever proxy runs on lb.
enum Front {
    Netlab(Proxy),
    Daemon(Daemon),
}

impl Front {
    fn start(farm: &Farm, kind: ProxyKind, s: Scheduler) -> Result<Front> {
        let lb = farm.host("lb")?;
        Ok(match daemon_kind(kind) {
            None => {
                let list: Vec<(&str, SocketAddr)> = BACKENDS
                    .iter()
                    .map(|b| (b.0, SocketAddr::from((b.1, PORT))))
                    .collect();
                Front::Netlab(proxy::start(lb, vip(), &list, &["web3"], s)?)
            }
            Some(k) => Front::Daemon(Daemon::start(lb, k, s)?),
        })
    }

    /// Use scheduler `s` from the next request on (a daemon is restarted
    /// with its new configuration).
    fn set_scheduler(&mut self, farm: &Farm, s: Scheduler) -> Result<()> {
        match self {
            Front::Netlab(p) => p.set_scheduler(s),
            Front::Daemon(d) => {
                let kind = d.kind;
                d.stop();
                *d = Daemon::start(farm.host("lb")?, kind, s)?;
            }
        }
        Ok(())
    }

    /// When the proxy took `backend` out, if it has.
    fn noticed(&self, backend: &str) -> Option<SystemTime> {
        match self {
            Front::Netlab(p) => p
                .events()
                .iter()
                .find(|e| e.backend == backend && !e.up)
                .map(|e| e.at),
            Front::Daemon(d) => d.noticed(backend),
        }
    }

    /// How this proxy notices a dead backend.
    fn noticed_by(&self) -> Text {
        match self {
            Front::Netlab(_) => say::active_check(proxy::CHECK_EVERY.as_millis()),
            Front::Daemon(d) => say::health_how(d.kind),
        }
    }

    /// Whether it checks backends on its own (nginx only counts failures).
    fn checks_actively(&self) -> bool {
        !matches!(self, Front::Daemon(d) if d.kind == daemon::Kind::Nginx)
    }
}

/// The HTTP request a frame carries: its header lines.
fn request_headers(f: &Frame) -> Vec<String> {
    let Some((6, seg)) = crate::wire::frame::transport(&f.bytes) else {
        return Vec::new();
    };
    let off = seg.get(12).map_or(0, |b| usize::from(b >> 4) * 4);
    let text = String::from_utf8_lossy(seg.get(off..).unwrap_or_default()).into_owned();
    text.split("\r\n")
        .take_while(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The step for one request seen on both of lb's links.
fn two_connections(a: &Answer, frames: &[Frame]) -> (Step, TwoConnections) {
    let syn = |f: &Frame| tcp_of(f).is_some_and(|(_, _, h)| h.flags & (SYN | ACK) == SYN);
    let client_syn = frames.iter().find(|f| {
        f.link == "lb:eth0" && syn(f) && tcp_of(f).is_some_and(|(_, _, h)| h.src_port == a.port)
    });
    let t0 = client_syn.map_or(a.at, |f| f.at);
    // The proxy's own request to the backend: the first `GET /` (not a health
    // check) on the backend side after the client's SYN; its port finds its SYN.
    let forwarded = frames.iter().find(|f| {
        f.link == "lb:eth1"
            && f.at >= t0
            && request_headers(f)
                .first()
                .is_some_and(|l| l.starts_with("GET / "))
    });
    let proxy_port = forwarded.and_then(tcp_of).map(|(_, _, h)| h.src_port);
    let backend_syn = proxy_port.and_then(|p| {
        frames.iter().find(|f| {
            f.link == "lb:eth1" && syn(f) && tcp_of(f).is_some_and(|(_, _, h)| h.src_port == p)
        })
    });
    let xff_wire = forwarded.and_then(|f| {
        request_headers(f)
            .into_iter()
            .find(|l| l.to_ascii_lowercase().starts_with("x-forwarded-for:"))
    });
    let handshakes = [client_syn, backend_syn].iter().flatten().count();
    let backend_saw = a
        .body
        .split(" saw ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .map(str::to_string);
    let data = TwoConnections {
        client_side: client_syn.and_then(seen),
        backend_side: backend_syn.and_then(seen),
        handshakes,
        backend_saw: backend_saw.clone(),
        x_forwarded_for: backend::forwarded_for(&a.body).map(str::to_string),
    };
    let mut s = Step::new(
        say::two_connections(handshakes),
        tx(
            "A reverse proxy ends the client's TCP connection itself, reads the whole HTTP request, and opens a second connection of its own to the backend it chose. The backend sees the proxy's address, so the proxy adds X-Forwarded-For with the client's.",
            "反向代理自己终结客户端的 TCP 连接，读完整个 HTTP 请求，再自己另开一条连接到选中的后端。后端看到的是代理的地址，所以代理加上 X-Forwarded-For 头，写明客户端的地址。",
        ),
        QS,
    );
    if let Some(sn) = &data.client_side {
        s = s.fact(tx("connection 1", "连接 1"), say::segment(sn));
    }
    if let Some(sn) = &data.backend_side {
        s = s.fact(tx("connection 2", "连接 2"), say::segment(sn));
    }
    if let Some(x) = &xff_wire {
        s = s.fact(tx("on the wire", "线上"), say::xff_on_wire(x));
    }
    s = s.fact(
        tx("backend", "后端"),
        say::backend_saw(
            backend::answered_by(&a.body).unwrap_or("?"),
            backend_saw.as_deref(),
            data.x_forwarded_for.as_deref(),
        ),
    );
    (s, data)
}

/// Wait (up to 2 s) until `cap` sees a health check of `ip` answered: a
/// `GET /health` to it, then its HTTP response on that connection.
fn after_check(cap: &Capture, ip: std::net::Ipv4Addr) {
    let from = SystemTime::now();
    let Some(get) = cap.find(Duration::from_secs(2), |f| {
        f.at >= from
            && tcp_of(f).is_some_and(|(_, dst, _)| dst == ip)
            && request_headers(f)
                .first()
                .is_some_and(|l| l.starts_with("GET /health"))
    }) else {
        return;
    };
    let Some((_, _, h)) = tcp_of(&get) else {
        return;
    };
    let _ = cap.find(Duration::from_secs(1), |f| {
        f.at >= get.at
            && tcp_of(f).is_some_and(|(src, _, r)| src == ip && r.dst_port == h.src_port)
            && super::http_line(&f.bytes).is_some_and(|l| l.starts_with("HTTP "))
    });
}

/// Requests from c1 and c2 at once (two requesters each), web1 made slow.
fn parallel(farm: &Farm) -> Result<Vec<Answer>> {
    client::parallel(&[farm.host("c1")?, farm.host("c2")?], 2, 3, vip(), HOST)
}

/// Run the layer-7 part; one entry per run.
pub fn run(
    farm: &Farm,
    backends: &mut Backends,
    kind: ProxyKind,
    n: &mut Narrator,
    section: Text,
) -> Result<Vec<ModeOut>> {
    crate::balance::rules::clear(farm.host("lb")?);
    farm.backends_via(LB_B)?;
    let mut front = Front::start(farm, kind, Scheduler::RoundRobin)?;
    let mut out = Vec::new();

    // The proxy and its configuration.
    let (config, command) = match &front {
        Front::Netlab(_) => (String::new(), String::new()),
        Front::Daemon(d) => (d.config.clone(), d.command.clone()),
    };
    let mut s = Step::new(say::proxy_title(kind), say::proxy_detail(kind), QS).section(section);
    if config.is_empty() {
        s = s.fact(
            tx("rules", "规则"),
            tx(
                format!("/static/… → web3; everything else → web1, web2, web3; health check GET /health every {} ms", proxy::CHECK_EVERY.as_millis()),
                format!("/static/… → web3；其余 → web1、web2、web3；每 {} ms 用 GET /health 做一次健康检查", proxy::CHECK_EVERY.as_millis()),
            ),
        );
    } else {
        s = s.fact(tx("command", "命令"), command.as_str());
        // Indented with no-break spaces, which the text view keeps.
        for line in config.lines().filter(|l| !l.trim().is_empty()) {
            let body = line.trim_start();
            let indent = "\u{a0}".repeat(line.len() - body.len());
            s = s.fact(tx("config", "配置"), format!("{indent}{body}"));
        }
    }
    n.step(s.with(&ProxyStep {
        proxy: kind,
        config,
        command,
    }))?;

    // Three requests, round robin; the first told on both links.
    let caps = capture(farm, &[("lb", "eth0"), ("lb", "eth1")])?;
    let answers = alternate(farm, 3, "/")?;
    let frames = stop(caps)?;
    let m = mode_out(LbMode::L7, "round-robin", &answers);
    let mut step = match answers.first() {
        Some(a) => {
            let (s, data) = two_connections(a, &frames);
            s.with(&data)
        }
        None => Step::new(Text::default(), Text::default(), QS),
    };
    step = step.fact(tx("answers", "应答"), say::answers(&answers));
    step.packets = records(&frames);
    // The two SYNs in the list: the two handshakes.
    if let Some(a) = answers.first() {
        let t0 = a.at;
        let mut shown = 0;
        for p in step.packets.iter_mut() {
            if shown < 2 && p.label.en == "SYN" && p.at.is_some_and(|t| t >= t0) {
                p.quiet = false;
                shown += 1;
            }
        }
    }
    n.step(step.with(&RunStep {
        mode: LbMode::L7,
        scheduler: "round-robin",
        commands: vec![],
        requests: requests_out(&answers),
        per_backend: m.per_backend.clone(),
    }))?;
    out.push(m);

    // A rule by path.
    let caps = capture(farm, &[("lb", "eth0"), ("lb", "eth1")])?;
    let answers = alternate(farm, 3, "/static/app.css")?;
    let frames = stop(caps)?;
    let m = mode_out(LbMode::L7, "path-rule", &answers);
    let mut s = Step::new(
        say::path_title(&m.per_backend),
        tx(
            "A layer-7 proxy reads the request, so it can route by what is asked: here every path under /static/ goes to web3 alone. LVS, seeing only addresses and ports, cannot.",
            "七层代理读得懂请求，所以能按请求内容分流：这里 /static/ 下的路径都只发给 web3。只看地址和端口的 LVS 做不到。",
        ),
        QS,
    )
    .fact(tx("answers", "应答"), say::answers(&answers));
    s.packets = records(&frames);
    n.step(s.with(&RunStep {
        mode: LbMode::L7,
        scheduler: "path-rule",
        commands: vec![],
        requests: requests_out(&answers),
        per_backend: m.per_backend.clone(),
    }))?;
    out.push(m);

    // Round robin against least connections, web1 slow.
    backends.set_delay("web1", SLOW_MS);
    for sched in [Scheduler::RoundRobin, Scheduler::LeastConn] {
        front.set_scheduler(farm, sched)?;
        let caps = capture(farm, &[("lb", "eth0"), ("lb", "eth1")])?;
        let answers = parallel(farm)?;
        let frames = stop(caps)?;
        let name = if sched == Scheduler::RoundRobin {
            "round-robin"
        } else {
            "least-conn"
        };
        let m = mode_out(LbMode::L7, name, &answers);
        let mut s = Step::new(
            say::sched_title(name, &m.per_backend, SLOW_MS),
            if sched == Scheduler::RoundRobin {
                tx(
                    "Four requesters at once, web1 answering slowly. Round robin hands out requests in turn whatever each backend is doing, so web1 gets its share and its queue grows.",
                    "四个请求方同时发请求，web1 回得慢。轮询不管后端忙不忙，依次分配，所以 web1 照样分到一份，请求在它那里越积越多。",
                )
            } else {
                tx(
                    "Least connections sends each request to the backend with the fewest requests in flight: the slow web1 stays busy longer, so it is chosen less.",
                    "最少连接把每个请求发给当前在处理的请求最少的后端：慢的 web1 忙得更久，所以被选中得更少。",
                )
            },
            QS,
        );
        s.packets = records(&frames);
        n.step(s.with(&RunStep {
            mode: LbMode::L7,
            scheduler: name,
            commands: vec![],
            requests: requests_out(&answers),
            per_backend: m.per_backend.clone(),
        }))?;
        out.push(m);
    }
    backends.set_delay("web1", 0);

    // Health checks: a backend killed mid-run.
    front.set_scheduler(farm, Scheduler::RoundRobin)?;
    let caps = capture(farm, &[("lb", "eth0"), ("lb", "eth1")])?;
    let (c1, c2) = (farm.host("c1")?, farm.host("c2")?);
    let victim_ip = BACKENDS
        .iter()
        .find(|b| b.0 == VICTIM)
        .map_or(LB_B, |b| b.1);
    let mut answers: Vec<Answer> = Vec::new();
    let mut killed_at = None;
    let mut after = 0;
    for i in 0..120 {
        if i == 3 {
            // Right after a health check of the victim has passed, so a
            // whole interval of requests meets the dead backend first.
            if front.checks_actively() {
                after_check(&caps[1], victim_ip);
            }
            backends.kill(VICTIM);
            killed_at = Some(SystemTime::now());
        }
        let from = if i % 2 == 0 { c1 } else { c2 };
        answers.push(client::get(from, vip(), HOST, "/")?);
        if front.noticed(VICTIM).is_some() {
            after += 1;
            if after > 6 {
                break;
            }
        }
        pause(Duration::from_millis(25));
    }
    let frames = stop(caps)?;
    let noticed = front.noticed(VICTIM);
    let failed = |a: &&Answer| !a.ok();
    let (before, after): (Vec<&Answer>, Vec<&Answer>) = answers
        .iter()
        .filter(failed)
        .partition(|a| noticed.is_none_or(|t| a.at < t));
    let mut m = mode_out(LbMode::L7, "round-robin", &answers);
    m.failed_before_health_check = before.len();
    m.failed_after_health_check = after.len();
    m.killed = true;
    let data = HealthStep {
        killed: VICTIM.into(),
        noticed_after_ms: killed_at.zip(noticed).map(|(k, t)| ms_between(k, t)),
        noticed_by: front.noticed_by().en,
        failed_before_health_check: before.len(),
        failed_after_health_check: after.len(),
    };
    let mut s = Step::new(
        say::health_title(VICTIM, before.len(), after.len()),
        say::health_detail(kind),
        QS,
    )
    .fact(tx("health", "健康检查"), front.noticed_by())
    .fact(
        tx("timeline", "经过"),
        say::timeline(&answers, killed_at, noticed),
    )
    .fact(tx("answers", "应答"), say::tallies(&m.per_backend));
    s.packets = records(&frames);
    n.step(s.with(&data).with(&RunStep {
        mode: LbMode::L7,
        scheduler: "round-robin",
        commands: vec![],
        requests: requests_out(&answers),
        per_backend: m.per_backend.clone(),
    }))?;
    out.push(m);
    drop(front);
    Ok(out)
}
