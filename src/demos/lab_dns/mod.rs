//! `netlab lab dns`: serve the DNS hierarchy and a caching resolver until Ctrl-C.
//!
//! For class: students point dig or drill at the printed addresses. A root
//! hints file for `drill -T -r` is written to a private directory of the run's
//! (see [`crate::private`]) and removed on exit.

use schemars::JsonSchema;
use serde::Serialize;

use crate::error::{exit, Error, Result};
use crate::lab::dns::DnsLab;
use crate::lab::zones::ZoneSet;
use crate::narrate::{tx, Narrator, Step, Summary};

mod say;

/// One authoritative server of the lab.
#[derive(Serialize, JsonSchema)]
struct ServerOut {
    /// Where it answers (`127.53.0.1:PORT`).
    #[schemars(with = "String")]
    addr: std::net::SocketAddr,
    /// Its names in the lab (`a.root-servers.net.` …).
    names: Vec<String>,
    /// The zones it serves.
    zones: Vec<String>,
    /// How it misbehaves on purpose, for a lesson (a zone file's directive:
    /// `silent`, `garbage`, `wrong-id`, `slow` …), if it does.
    misbehaviour: Option<&'static str>,
}

/// The lab is serving: where, and how to reach it.
#[derive(Serialize, JsonSchema)]
struct Running {
    /// The port every server listens on (UDP and TCP).
    port: u16,
    /// The recursive resolver's address (`127.53.0.53:PORT`).
    resolver: String,
    /// The root hints file for `drill -T -r`, removed when the lab stops.
    root_hints: String,
    /// Every authoritative server.
    servers: Vec<ServerOut>,
}

/// Files a killed lab left behind, removed.
#[derive(Serialize, JsonSchema)]
struct Cleaned {
    /// The root hints files removed.
    removed: Vec<String>,
}

/// The summary's fields.
#[derive(Serialize, JsonSchema)]
struct Stopped {
    /// The port the lab served on, until it stopped.
    port: u16,
}

/// Root hints in zone-file form, as `drill -r` and resolvers read them.
pub fn root_hints(lab: &DnsLab) -> String {
    let mut s = String::from("; netlab lab root hints\n");
    for r in &lab.roots {
        if let Some(n) = &r.name {
            s.push_str(&format!(
                ".\t3600000\tIN\tNS\t{n}\n{n}\t3600000\tIN\tA\t{}\n",
                r.addr.ip()
            ));
        }
    }
    s
}

/// Run the lab in the foreground.
pub fn run(
    port: Option<u16>,
    zones_dir: Option<&std::path::Path>,
    allow_axfr: bool,
    n: &mut Narrator,
) -> Result<i32> {
    let zones = match zones_dir {
        Some(d) => ZoneSet::from_dir(d)?,
        None => ZoneSet::builtin()?,
    };
    // Catch Ctrl-C and SIGTERM before anything is printed: a signal that arrives
    // right after the addresses appear must still stop the lab cleanly.
    let stop = crate::sys::stop_flag()?;
    let options = crate::lab::dns::Options { allow_axfr };
    let lab = DnsLab::start_with(&zones, port.unwrap_or(0), true, options)?;
    let stale: Vec<String> = crate::private::remove_stale("lab-dns")
        .into_iter()
        .map(|p| p.display().to_string())
        .collect();
    if !stale.is_empty() {
        n.step(
            Step::new(
                say::removed_stale(stale.len()),
                tx(
                    "A `netlab lab dns` stopped by SIGKILL cannot clean up after itself; the next one does.",
                    "被 SIGKILL 停止的 `netlab lab dns` 无法自行清理；由下一次运行来清理。",
                ),
                &[],
            )
            .with(&Cleaned { removed: stale }),
        )?;
    }
    // A private directory of this run's (0700, random name); gone when the lab stops.
    let dir = crate::private::RunDir::create("lab-dns")?;
    let hints_path = dir.write_new(&format!("root-hints-{}.zone", lab.port), &root_hints(&lab))?;
    let resolver = lab
        .resolver
        .ok_or_else(|| Error::Internal("the DNS lab started without its resolver".into()))?;
    let mut step = Step::new(
        say::running(lab.port, lab.servers.len()),
        say::try_it(resolver, lab.port, &hints_path),
        &["Q4", "Q27"],
    )
    .fact(tx("recursive resolver", "递归服务器"), resolver.to_string())
    .fact(
        tx("root hints", "根提示文件"),
        hints_path.display().to_string(),
    );
    if allow_axfr {
        step = step.fact(
            tx("zone transfers", "区域传送"),
            tx(
                "answered over TCP to clients on 127.0.0.0/8 (--allow-axfr)",
                "通过 TCP 提供给 127.0.0.0/8 上的客户端（--allow-axfr）",
            ),
        );
    }
    let servers: Vec<ServerOut> = lab
        .servers
        .iter()
        .map(|s| ServerOut {
            addr: s.addr,
            names: s.names.iter().map(|n| n.to_string()).collect(),
            zones: s.zones.iter().map(|z| z.to_string()).collect(),
            misbehaviour: s.misbehaviour_name(),
        })
        .collect();
    for s in &servers {
        step = step.fact(
            tx("server", "服务器"),
            say::server(s.addr, &s.names, &s.zones, s.misbehaviour),
        );
    }
    n.step(step.with(&Running {
        port: lab.port,
        resolver: resolver.to_string(),
        root_hints: hints_path.display().to_string(),
        servers,
    }))?;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let port = lab.port;
    drop(lab);
    n.summary(
        Summary {
            title: tx("DNS lab stopped", "DNS 实验网络已停止"),
            ok: true,
            ..Summary::default()
        }
        .with(&Stopped { port }),
    )?;
    Ok(exit::OK)
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "lab dns",
        "The loopback DNS lab's servers, kept running until Ctrl-C (JSON `demo`: `lab`).",
    )
    .step::<Cleaned>("files a killed lab left, removed")
    .step::<Running>("the lab is serving")
    .summary::<Stopped>()
}
