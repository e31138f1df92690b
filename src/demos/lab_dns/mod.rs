//! `netlab lab dns`: serve the DNS hierarchy and a caching resolver until Ctrl-C.
//!
//! For class: students point dig or drill at the printed addresses. A root
//! hints file for `drill -T -r` is written to a private directory of the run's
//! (see [`crate::private`]) and removed on exit.

use serde::Serialize;

use crate::error::{exit, Error, Result};
use crate::lab::dns::DnsLab;
use crate::lab::zones::ZoneSet;
use crate::narrate::{tx, Narrator, Step, Summary};

mod say;

/// One authoritative server, for the step's `servers` data.
#[derive(Serialize)]
struct ServerOut {
    addr: std::net::SocketAddr,
    names: Vec<String>,
    zones: Vec<String>,
    misbehaviour: Option<&'static str>,
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
    n: &mut Narrator,
) -> Result<i32> {
    let zones = match zones_dir {
        Some(d) => ZoneSet::from_dir(d)?,
        None => ZoneSet::builtin()?,
    };
    // Catch Ctrl-C and SIGTERM before anything is printed: a signal that arrives
    // right after the addresses appear must still stop the lab cleanly.
    let stop = crate::sys::stop_flag()?;
    let lab = DnsLab::start(&zones, port.unwrap_or(0), true)?;
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
            .data("removed", stale),
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
    n.step(
        step.data("port", lab.port)
            .data("resolver", resolver.to_string())
            .data("root_hints", hints_path.display().to_string())
            .data(
                "servers",
                serde_json::to_value(&servers).unwrap_or_default(),
            ),
    )?;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(lab);
    n.summary(Summary {
        title: tx("DNS lab stopped", "DNS 实验网络已停止"),
        ok: true,
        ..Summary::default()
    })?;
    Ok(exit::OK)
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new("lab dns", "The loopback DNS lab's servers, kept running.")
}
