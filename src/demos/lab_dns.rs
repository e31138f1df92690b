//! `netlab lab dns`: serve the DNS hierarchy and a caching resolver until Ctrl-C.
//!
//! For class: students point dig or drill at the printed addresses. A root
//! hints file for `drill -T -r` is written to a private directory of the run's
//! (see [`crate::private`]) and removed on exit.

use serde_json::json;

use crate::error::{exit, Error, Result};
use crate::lab::dns::DnsLab;
use crate::lab::zones::ZoneSet;
use crate::narrate::{tx, Narrator, Step, Summary};

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
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).map_err(|e| {
            Error::system(
                crate::narrate::tx("catch", "捕获"),
                format!("signal {sig}"),
                e,
            )
        })?;
    }
    let lab = DnsLab::start(&zones, port.unwrap_or(0), true)?;
    let stale: Vec<String> = crate::private::remove_stale("lab-dns")
        .into_iter()
        .map(|p| p.display().to_string())
        .collect();
    if !stale.is_empty() {
        n.step(
            Step::new(
                tx(
                    format!("Removed {} left by a lab that was killed", crate::narrate::plural(stale.len() as u64, "root hints file", "root hints files")),
                    format!("已删除被杀掉的实验网络遗留的 {} 个根提示文件", stale.len()),
                ),
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
    let resolver = lab.resolver.expect("started with a resolver");
    let mut step = Step::new(
        tx(
            format!("DNS lab running on port {}: {} authoritative servers and a resolver", lab.port, lab.servers.len()),
            format!("DNS 实验网络已在端口 {} 运行：{} 台权威服务器和一台递归服务器", lab.port, lab.servers.len()),
        ),
        tx(
            format!(
                "Try it from another terminal:\n  dig @{ip} -p {p} www.baidu.com          (recursive, RD=1)\n  dig @127.53.0.1 -p {p} www.baidu.com +norec (ask the root yourself)\n  drill -T -r {h} -p {p} www.baidu.com\n  netlab dns-trace www.baidu.com --root-servers 127.53.0.1:{p}\nCtrl-C stops every server.",
                ip = resolver.ip(),
                p = lab.port,
                h = hints_path.display()
            ),
            format!(
                "在另一个终端试试：\n  dig @{ip} -p {p} www.baidu.com          （递归，RD=1）\n  dig @127.53.0.1 -p {p} www.baidu.com +norec （自己去问根）\n  drill -T -r {h} -p {p} www.baidu.com\n  netlab dns-trace www.baidu.com --root-servers 127.53.0.1:{p}\n按 Ctrl-C 停止所有服务器。",
                ip = resolver.ip(),
                p = lab.port,
                h = hints_path.display()
            ),
        ),
        &["Q4", "Q27"],
    )
    .fact(tx("recursive resolver", "递归服务器"), resolver.to_string())
    .fact(tx("root hints", "根提示文件"), hints_path.display().to_string());
    for s in &lab.servers {
        let names: Vec<String> = s.names.iter().map(|n| n.to_string()).collect();
        let zones: Vec<String> = s.zones.iter().map(|z| z.to_string()).collect();
        let lame = s.note();
        step = step.fact(
            tx("server", "服务器"),
            format!(
                "{:<20} {:<28} {}{lame}",
                s.addr,
                names.join(","),
                zones.join(" ")
            ),
        );
    }
    let servers: Vec<_> = lab
        .servers
        .iter()
        .map(|s| json!({"addr": s.addr.to_string(), "names": s.names.iter().map(|n| n.to_string()).collect::<Vec<_>>(), "zones": s.zones.iter().map(|z| z.to_string()).collect::<Vec<_>>(), "misbehaviour": s.misbehaviour_name()}))
        .collect();
    n.step(
        step.data("port", lab.port)
            .data("resolver", resolver.to_string())
            .data("root_hints", hints_path.display().to_string())
            .data("servers", servers),
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
