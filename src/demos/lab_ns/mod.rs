//! `netlab lab up | status | down | exec`: the namespace lab for a class session.
//!
//! `up` builds the lab in named namespaces (netlab-h1, ...) that stay until
//! `down`, so an instructor can leave it running and students can
//! `netlab lab exec h1 -- ping 203.0.113.10`. The demos themselves never use
//! this lab: they build their own, in namespaces that vanish with them.

use schemars::JsonSchema;
use serde::Serialize;

use crate::error::{exit, Error, Result};
use crate::lab::holder;
use crate::lab::link::{Pattern, Shaping};
use crate::lab::topology::{
    check_named, plan, remove_named_locked, Built, Check, IfaceState, NetLab,
};
use crate::narrate::{tx, Narrator, Step, Summary, Text};
use crate::privilege::Privileges;

mod say;

/// What `lab up` and `lab status` found
#[derive(Serialize, JsonSchema, Default)]
struct Status {
    /// The lab is up.
    up: bool,
    /// Every host, interface, address and link is there.
    whole: bool,
    /// The lab is this user's own, in a user namespace (absent for a broken or absent lab).
    #[serde(skip_serializing_if = "Option::is_none")]
    rootless: Option<bool>,
    /// A broken or absent lab: the parts that are there.
    #[serde(skip_serializing_if = "Option::is_none")]
    present: Option<Vec<String>>,
    /// A broken or absent lab: the parts that are missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    missing: Option<Vec<String>>,
    /// Every host as found (empty unless up).
    hosts: Vec<HostState>,
}

/// One lab host as `lab status` found it.
#[derive(Serialize, JsonSchema)]
struct HostState {
    /// `h1`, `h2`, `h3`, `r1`, `sw1`.
    name: &'static str,
    /// What it is in the lab, in English (`host on LAN A`, `router between LAN A and LAN B (layer 3)` …).
    role: &'static str,
    /// Its interfaces (not lo).
    ifaces: Vec<IfaceState>,
    /// How its cable (`eth0`, to the switch or to r1) is made worse, as the
    /// kernel holds it now: loss from netlab's nft table, rate and delay from
    /// the qdisc or netlab's delay line (all zero or absent when clean).
    /// Absent for r1 and sw1: their cables are the hosts' far ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    shaping: Option<Shaping>,
}

/// The summary's fields: `lab up` and `lab status` give the lab's state,
/// `lab down` what it removed.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
enum LabSummary {
    /// `lab up` and `lab status`.
    State(Status),
    /// `lab down`.
    Down(Down),
}

/// What `lab down` removed
#[derive(Serialize, JsonSchema)]
struct Down {
    /// What was removed: the named namespaces, or the rootless lab's holder.
    removed: Vec<String>,
    /// Set when the lab was this user's own, in a user namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    rootless: Option<bool>,
}

/// `lab up` found the lab already up, and left it as it was.
#[derive(Serialize, JsonSchema)]
struct Kept {
    /// Always true.
    kept: bool,
}

/// A rootless `lab up`: the process that holds the lab.
#[derive(Serialize, JsonSchema)]
struct Held {
    /// The holder's process id: the lab lives as long as it does.
    holder: u32,
}

/// `lab up` replaced a broken lab (a `lab up` killed half-way, a delay line
/// killed, a part removed by hand).
#[derive(Serialize, JsonSchema)]
struct Replaced {
    /// The root lab: the namespaces of the broken lab it removed. The
    /// rootless lab: what it lacked, one phrase each (as `lab status` says).
    removed: Vec<String>,
}

/// `lab up` built the lab.
#[derive(Serialize, JsonSchema)]
struct Made {
    /// Its hosts, in the order they were made.
    hosts: Vec<String>,
}

/// `lab up --link HOST --loss/--delay/--rate`: one cable made worse.
#[derive(Serialize, JsonSchema)]
struct Shaped {
    /// The host whose cable was shaped (`h1`, `h2`, `h3`).
    link: &'static str,
    /// What was done to it, each way.
    shaping: Shaping,
    /// The delay is kept by netlab's delay line (no netem in this kernel).
    delay_line: bool,
}

/// `lab status`: one host.
#[derive(Serialize, JsonSchema)]
struct HostStep {
    /// The host's name.
    host: &'static str,
}

fn need_privilege() -> Result<()> {
    if Privileges::probe().can_build_lab() {
        Ok(())
    } else {
        Err(crate::privilege::lab_privilege())
    }
}

fn not_up() -> Error {
    Error::usage(tx(
        "the lab is not up: run `netlab lab up` first",
        "实验网络没有启动：请先运行 `netlab lab up`",
    ))
}

/// Without root, `lab` addresses this user's own lab, kept by a holder
/// process in a user namespace (see [`crate::lab::holder`]).
fn rootless() -> bool {
    !Privileges::probe().can_build_lab()
}

/// This user's rootless lab, joined (its user namespace) and opened.
fn rootless_lab() -> Result<(NetLab, u32)> {
    let s = holder::current().ok_or_else(not_up)?;
    holder::join(&s)?;
    Ok((holder::open(&s)?, s.pid))
}

/// What is wrong with this user's rootless lab (empty: whole), asked of a
/// `netlab lab status` of its own: the check joins the lab's user namespace,
/// which this process must not do yet (it may still have to replace the lab).
fn rootless_missing() -> Result<Vec<String>> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::sys("find", "找到", "netlab's own program", e))?;
    let out = std::process::Command::new(exe)
        .args(["lab", "status", "--json"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::sys("run", "运行", "netlab lab status", e))?;
    if out.status.success() {
        return Ok(Vec::new());
    }
    let missing = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| {
            v["missing"].as_array().map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().map(str::to_string))
                    .collect::<Vec<_>>()
            })
        })
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| vec!["the lab's status could not be read".to_string()]);
    Ok(missing)
}

/// `netlab lab up` without root: a holder keeps the lab in a user namespace.
/// The caller holds this user's lab lock ([`holder::lock`]): one lab, one
/// holder, however many `lab up`s run at once.
fn up_rootless(n: &mut Narrator) -> Result<NetLab> {
    if holder::current().is_some() {
        let missing = rootless_missing()?;
        if missing.is_empty() {
            let (lab, _) = rootless_lab()?;
            n.step(
                Step::new(
                    tx("Your lab was already up, and whole: kept as it is", "你的实验网络本来就已启动且完整：保持原样"),
                    tx("Shells and programs running in it keep working. `netlab lab down` first for a fresh one.", "在里面运行的 shell 和程序不受影响。想要全新的，先运行 `netlab lab down`。"),
                    &[],
                )
                .with(&Kept { kept: true }),
            )?;
            return Ok(lab);
        }
        // Broken (a `lab up --delay` interrupted half-way, a delay line
        // killed, a cable removed by hand): replaced by a whole one.
        holder::stop_all();
        n.step(
            Step::new(
                say::replaced_broken(&missing),
                tx("Part of your lab was missing or not working: it is replaced by a whole one (shells running in the old one lose their network).", "你的实验网络有部分缺失或失效：已换成一个完整的（在旧网络里运行的 shell 会失去网络）。"),
                &[],
            )
            .with(&Replaced { removed: missing }),
        )?;
    } else {
        // Holders with no lab on record (left by a `lab up` killed before it
        // wrote one) hold namespaces nobody can reach: end them first.
        holder::stop_all();
    }
    let s = holder::start()?;
    holder::join(&s)?;
    let lab = holder::open(&s)?;
    n.step(
        Step::new(
            tx(
                "The namespace lab is up; no root: a user namespace",
                "命名空间实验网络已启动；无需 root：用户命名空间",
            ),
            say::rootless_up(s.pid),
            &["Q8", "Q26"],
        )
        .with(&Held { holder: s.pid }),
    )?;
    Ok(lab)
}

/// `netlab lab up`, then the cable `--link` names shaped as asked.
pub fn up(args: &crate::cli::LabUpArgs, n: &mut Narrator) -> Result<i32> {
    // Asked before the lab is joined: inside its user namespace the process
    // holds every capability, and would look like root.
    let rootless = rootless();
    // Without root, the whole `lab up` (lab and cables) holds this user's lock.
    let _lock = if rootless {
        Some(holder::lock()?)
    } else {
        None
    };
    let lab = up_lab(n)?;
    let s = Shaping {
        loss: args.loss,
        loss_pattern: if args.random_loss {
            Pattern::Random
        } else {
            Pattern::Fixed
        },
        delay_ms: args.delay,
        rate_mbit: args.rate,
    };
    // The chosen cable as asked; every other one clean, so a plain `lab up` undoes it all.
    use clap::ValueEnum as _;
    let mut by_line = false;
    let holder_pid = if rootless {
        holder::current().map(|h| h.pid)
    } else {
        None
    };
    for link in crate::cli::LabLink::value_variants() {
        let (host, peer, peer_if) = link.ends();
        let this = if *link == args.link {
            s
        } else {
            Shaping::default()
        };
        let plan = plan().into_iter().find(|p| p.name == host);
        let (mac, cidr, gw) = plan
            .as_ref()
            .and_then(|p| p.ifaces.first().map(|i| (i.mac, i.ip, p.gateway)))
            .map(|(mac, ip, gw)| {
                (
                    mac,
                    format!("{}/24", ip.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED)),
                    gw,
                )
            })
            .ok_or_else(|| Error::Internal(format!("{host} is not in the plan")))?;
        let ns = lab.host(host)?;
        // An old line first: its daemon ends when its interfaces do.
        stop_lines(host, holder_pid);
        crate::lab::link::remove_line(ns, mac, &cidr, gw)?;
        if let crate::lab::link::Delay::Line(ms) =
            crate::lab::link::shape(ns, "eth0", lab.host(peer)?, peer_if, &this)?
        {
            crate::lab::link::insert_line(ns, mac, &cidr, gw)?;
            start_line(host, ms, holder_pid)?;
            by_line = true;
        }
    }
    let (host, _, _) = args.link.ends();
    if s.any() {
        n.step(
            Step::new(
                say::shaped(host, &s, by_line),
                say::shaped_detail(host, &s),
                &[],
            )
            .with(&Shaped {
                link: host,
                shaping: s,
                delay_line: by_line,
            }),
        )?;
    }
    status_of(&lab, n, rootless)
}

/// Bring the lab up (or find it up) and say so; its status comes later.
fn up_lab(n: &mut Narrator) -> Result<NetLab> {
    if rootless() {
        return up_rootless(n);
    }
    let (lab, stale) = match NetLab::build_named()? {
        Built::New { lab, stale } => (lab, stale),
        Built::AlreadyUp => {
            n.step(Step::new(
                tx("The namespace lab was already up, and whole: kept as it is", "命名空间实验网络本来就已启动且完整：保持原样"),
                tx("Shells and programs running in it keep working. `netlab lab down` first for a fresh one.", "在里面运行的 shell 和程序不受影响。想要全新的，先运行 `netlab lab down`。"),
                &[],
            ).with(&Kept { kept: true }))?;
            return NetLab::open_named()?.ok_or_else(not_up);
        }
    };
    if !stale.is_empty() {
        n.step(
            Step::new(
                say::removed_broken(stale.len()),
                tx("Part of a lab was there (a `lab up` killed half-way, or a host removed by hand): it is replaced by a whole one.", "之前有一个不完整的实验网络（`lab up` 被中途杀掉，或某台主机被手工删除）：已换成一个完整的。"),
                &[],
            )
            .with(&Replaced { removed: stale }),
        )?;
    }
    n.step(
        Step::new(
            tx("The namespace lab is up", "命名空间实验网络已启动"),
            tx(
                "Five network namespaces joined by veth cables: h1 and h2 on a switch (a Linux bridge), r1 routing to h3. It stays until `netlab lab down`. Try `netlab lab exec h1 -- ping -c 1 203.0.113.10`.",
                "五个网络命名空间由 veth 虚拟网线相连：h1 和 h2 接在交换机（Linux 网桥）上，r1 把它们路由到 h3。它会一直保留到执行 `netlab lab down`。试试 `netlab lab exec h1 -- ping -c 1 203.0.113.10`。",
            ),
            &["Q8", "Q26"],
        )
        .with(&Made {
            hosts: lab.hosts.iter().map(|h| h.name.clone()).collect(),
        }),
    )?;
    Ok(lab)
}

/// The named lab, if it is whole; else an error naming what is missing.
fn whole_lab() -> Result<NetLab> {
    let c = check_named();
    if c.absent() {
        return Err(not_up());
    }
    if !c.whole() {
        return Err(broken(&c));
    }
    NetLab::open_named()?.ok_or_else(not_up)
}

fn broken(c: &Check) -> Error {
    Error::usage(say::broken(&c.missing))
}

/// `netlab lab status`: up and whole, down, or broken with what is missing.
pub fn status(n: &mut Narrator) -> Result<i32> {
    // Without root: this user's own lab, if its holder is alive, checked
    // link by link as the root lab is.
    if rootless() && holder::current().is_some() {
        let (lab, pid) = rootless_lab()?;
        let c = crate::lab::topology::check(&lab, Some(pid));
        if !c.whole() {
            return broken_summary(n, &c, true);
        }
        return status_of(&lab, n, true);
    }
    let c = check_named();
    if !c.absent() && !c.whole() {
        return broken_summary(n, &c, false);
    }
    match NetLab::open_named()? {
        Some(lab) if c.whole() => {
            need_privilege()?;
            status_of(&lab, n, false)
        }
        _ => {
            n.summary(
                Summary {
                    title: tx("The namespace lab is down", "命名空间实验网络未启动"),
                    lines: vec![tx(
                        "`netlab lab up` builds it (as root, or as you in a user namespace of your own).",
                        "`netlab lab up` 可建立它（以 root，或以你自己的身份在用户命名空间里）。",
                    )],
                    ok: false,
                    ..Summary::default()
                }
                .with(&LabSummary::State(Status {
                    present: Some(Vec::new()),
                    missing: Some(Vec::new()),
                    ..Status::default()
                })),
            )?;
            Ok(exit::NETWORK_NO)
        }
    }
}

/// A broken lab's summary: what is there, what is missing, and the fix.
fn broken_summary(n: &mut Narrator, c: &Check, rootless: bool) -> Result<i32> {
    let fix = if rootless {
        tx(
            "`netlab lab up` replaces it with a whole one.",
            "运行 `netlab lab up` 可换成一个完整的。",
        )
    } else {
        tx(
            "`netlab lab up` (as root) replaces it with a whole one.",
            "以 root 运行 `netlab lab up` 可换成一个完整的。",
        )
    };
    n.summary(
        Summary {
            title: tx("The namespace lab is broken", "命名空间实验网络不完整"),
            lines: c
                .missing
                .iter()
                .map(|m| say::missing(m))
                .chain([fix])
                .collect(),
            ok: false,
            ..Summary::default()
        }
        .with(&LabSummary::State(Status {
            rootless: rootless.then_some(true),
            present: Some(c.present.iter().map(|p| p.to_string()).collect()),
            missing: Some(c.missing.clone()),
            ..Status::default()
        })),
    )?;
    Ok(exit::NETWORK_NO)
}

fn status_of(lab: &NetLab, n: &mut Narrator, rootless: bool) -> Result<i32> {
    let holder_pid = if rootless {
        holder::current().map(|h| h.pid)
    } else {
        None
    };
    let mut hosts = Vec::new();
    for h in plan() {
        let ifaces = lab.ifaces(&h)?;
        let mut step = Step::new(say::host(h.name), Default::default(), &[]);
        for i in &ifaces {
            step = step.fact(Text::from(i.name.as_str()), say::iface(i));
        }
        // A host with one cable: how that cable is shaped now.
        let shaping = match cabled(h.name) {
            Some(_) => Some(cable_of(lab, h.name, holder_pid)?),
            None => None,
        };
        match shaping {
            Some(s) if s.any() => {
                let by_line = crate::lab::link::line_delay(h.name, holder_pid).is_some();
                step = step.fact(tx("cable", "网线"), say::shaping(&s, by_line, true));
            }
            Some(_) => {
                step = step.fact(
                    tx("cable", "网线"),
                    tx(
                        "clean: no loss, delay or rate limit",
                        "正常：无丢包、延迟或限速",
                    ),
                )
            }
            None => {}
        }
        n.step(step.with(&HostStep { host: h.name }))?;
        hosts.push(HostState {
            name: h.name,
            role: h.role,
            ifaces,
            shaping,
        });
    }
    n.summary(
        Summary {
            title: tx("The namespace lab is up", "命名空间实验网络已启动"),
            ok: true,
            ..Summary::default()
        }
        .with(&LabSummary::State(Status {
            up: true,
            whole: true,
            rootless: Some(rootless),
            hosts,
            ..Status::default()
        })),
    )?;
    Ok(exit::OK)
}

/// The `--link` a host's cable is, if it has one cable of its own.
fn cabled(host: &str) -> Option<crate::cli::LabLink> {
    use clap::ValueEnum as _;
    crate::cli::LabLink::value_variants()
        .iter()
        .copied()
        .find(|l| l.ends().0 == host)
}

/// How `host`'s cable is shaped, read from the lab: loss, rate and a
/// netem delay from the kernel, a delay kept by netlab's line from its process.
fn cable_of(lab: &NetLab, host: &str, holder_pid: Option<u32>) -> Result<Shaping> {
    let ns = lab.host(host)?;
    let mut s = crate::lab::link::shaping_of(ns, "eth0")?;
    if crate::lab::link::has_line(ns) {
        s.delay_ms = s
            .delay_ms
            .or(crate::lab::link::line_delay(host, holder_pid));
    }
    Ok(s)
}

/// `netlab lab down`.
pub fn down(n: &mut Narrator) -> Result<i32> {
    if rootless() {
        let _lock = holder::lock_if_any()?;
        let removed: Vec<String> = holder::stop_all()
            .into_iter()
            .map(|p| format!("the lab held by process {p}"))
            .collect();
        let title = if removed.is_empty() {
            tx("Your lab was not up", "你的实验网络本来就没有启动")
        } else {
            tx("Your lab is down", "你的实验网络已关闭")
        };
        n.summary(
            Summary {
                title,
                ok: true,
                ..Summary::default()
            }
            .with(&LabSummary::Down(Down {
                removed,
                rootless: Some(true),
            })),
        )?;
        return Ok(exit::OK);
    }
    need_privilege()?;
    let removed = remove_named_locked()?;
    let title = if removed.is_empty() {
        tx(
            "The namespace lab was not up",
            "命名空间实验网络本来就没有启动",
        )
    } else {
        say::removed(removed.len())
    };
    n.summary(
        Summary {
            title,
            ok: true,
            ..Summary::default()
        }
        .with(&LabSummary::Down(Down {
            removed,
            rootless: None,
        })),
    )?;
    Ok(exit::OK)
}

/// `netlab lab exec HOST -- CMD...`: runs CMD inside HOST with this terminal; exits with its code.
pub fn exec(host: &str, command: &[std::ffi::OsString]) -> Result<i32> {
    let lab = if rootless() {
        rootless_lab()?.0
    } else {
        // Say "not up" before anything else: it is the first thing to fix.
        if !crate::lab::topology::named_lab_present() {
            return Err(not_up());
        }
        need_privilege()?;
        whole_lab()?
    };
    let ns = lab.host(host)?;
    let (prog, args) = command
        .split_first()
        .ok_or_else(|| Error::usage(tx("no command given after --", "-- 后面没有给出命令")))?;
    let status = ns
        .run_with_own_sys(|| std::process::Command::new(prog).args(args).status())?
        .map_err(|e| Error::sys("run", "运行", format!("{prog:?} in {host}"), e))?;
    // A child killed by a signal ends as a shell reports it: 128 + N.
    use std::os::unix::process::ExitStatusExt as _;
    Ok(status
        .code()
        .or_else(|| status.signal().map(|n| 128 + n))
        .unwrap_or(exit::LOCAL))
}

/// Stop the delay line on `host`'s cable, if one runs.
fn stop_lines(host: &str, holder: Option<u32>) {
    for pid in crate::lab::link::line_pids(host, holder) {
        let p = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGTERM);
        let end = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while std::path::Path::new(&format!("/proc/{pid}")).exists()
            && std::time::Instant::now() < end
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

/// Start the delay-line daemon for `host`'s cable and wait until it forwards.
fn start_line(host: &str, ms: u32, holder: Option<u32>) -> Result<()> {
    use std::io::BufRead as _;
    use std::os::unix::process::CommandExt as _;
    let exe = std::env::current_exe()
        .map_err(|e| Error::sys("find netlab itself", "找到 netlab 自身", "", e))?;
    let mut cmd = std::process::Command::new(&exe);
    cmd.args(["lab", "line", host, &ms.to_string()]);
    if let Some(p) = holder {
        cmd.args(["--holder", &p.to_string()]);
    }
    // Its own process group: a Ctrl-C meant for `lab up` does not end it.
    let mut child = cmd
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::sys("start", "启动", "the delay line", e))?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    if line.trim() != "ready" {
        let _ = child.kill();
        let mut why = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut why);
        }
        let _ = child.wait();
        let why = why.trim().trim_start_matches("netlab: error: ").to_string();
        return Err(Error::lab(tx(
            format!("the delay line for {host}'s cable did not start: {why}"),
            format!("{host} 网线上的延迟线没有启动：{why}"),
        )));
    }
    // It says nothing more; its stderr is not read again.
    drop(child.stderr.take());
    Ok(())
}

/// `lab line HOST MS`: forward frames between `dl0` and `wire0` in HOST's
/// namespace, each after MS milliseconds, until the lab goes away (or the
/// line's interfaces do, or SIGTERM).
pub fn line(host: &str, ms: u32, holder_pid: Option<u32>) -> Result<i32> {
    use std::io::Write as _;
    let lab = match holder_pid {
        Some(pid) => {
            let s = holder::current()
                .filter(|s| s.pid == pid)
                .ok_or_else(not_up)?;
            // Started by `lab up`, it is in the holder's user namespace already.
            let mine = std::fs::read_link("/proc/self/ns/user").ok();
            let theirs = std::fs::read_link(format!("/proc/{pid}/ns/user")).ok();
            if mine != theirs {
                holder::join(&s)?;
            }
            holder::open(&s)?
        }
        None => NetLab::open_named()?.ok_or_else(not_up)?,
    };
    let ns = lab.host(host)?;
    let stop = crate::sys::stop_flag()?;
    let line = crate::lab::wan::DelayLine::start(
        ns,
        crate::lab::link::LINE_ENDS,
        std::time::Duration::from_millis(u64::from(ms)),
    )?;
    let mut out = std::io::stdout();
    let _ = writeln!(out, "ready");
    let _ = out.flush();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let gone = match holder_pid {
            Some(pid) => !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            None => !crate::lab::topology::named_lab_present(),
        };
        if gone || line.broken() || stop.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
    }
    line.stop();
    Ok(exit::OK)
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "lab up/status/down",
        "The namespace lab for a class: lab up, status and down (JSON `demo`: `lab`).",
    )
    .step::<Kept>("lab up: the lab was already up")
    .step::<Held>("lab up without root: the lab's holder process")
    .step::<Replaced>("lab up: a broken lab replaced")
    .step::<Made>("lab up: the lab built")
    .step::<Shaped>("lab up --link: the cable shaped")
    .step::<HostStep>("lab up and lab status: one step per host, its interfaces as facts")
    .summary::<LabSummary>()
}
