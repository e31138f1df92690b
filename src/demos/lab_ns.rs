//! `netlab lab up | status | down | exec`: the namespace lab for a class session.
//!
//! `up` builds the lab in named namespaces (netlab-h1, ...) that stay until
//! `down`, so an instructor can leave it running and students can
//! `netlab lab exec h1 -- ping 203.0.113.10`. The demos themselves never use
//! this lab: they build their own, in namespaces that vanish with them.

use serde_json::{json, Value};

use crate::error::{exit, Error, Result};
use crate::lab::topology::{check_named, plan, remove_named_locked, Built, Check, NetLab};
use crate::narrate::{tx, Narrator, Step, Summary};
use crate::privilege::Privileges;

fn need_privilege() -> Result<()> {
    if Privileges::probe().can_build_lab() {
        Ok(())
    } else {
        Err(crate::privilege::lab_privilege())
    }
}

fn not_up() -> Error {
    Error::usage(tx(
        "the lab is not up: run `netlab lab up` first (as root)",
        "实验网络没有启动：请先（以 root）运行 `netlab lab up`",
    ))
}

/// `netlab lab up`.
pub fn up(n: &mut Narrator) -> Result<i32> {
    need_privilege()?;
    let (lab, stale) = match NetLab::build_named()? {
        Built::New { lab, stale } => (lab, stale),
        Built::AlreadyUp => {
            n.step(Step::new(
                tx("The namespace lab was already up, and whole: kept as it is", "命名空间实验网络本来就已启动且完整：保持原样"),
                tx("Shells and programs running in it keep working. `netlab lab down` first for a fresh one.", "在里面运行的 shell 和程序不受影响。想要全新的，先运行 `netlab lab down`。"),
                &[],
            ).data("kept", true))?;
            let lab = NetLab::open_named()?.ok_or_else(not_up)?;
            return status_of(&lab, n);
        }
    };
    if !stale.is_empty() {
        n.step(
            Step::new(
                tx(format!("Removed {} namespaces of a broken lab", stale.len()), format!("已删除一个不完整实验网络的 {} 个命名空间", stale.len())),
                tx("Part of a lab was there (a `lab up` killed half-way, or a host removed by hand): it is replaced by a whole one.", "之前有一个不完整的实验网络（`lab up` 被中途杀掉，或某台主机被手工删除）：已换成一个完整的。"),
                &[],
            )
            .data("removed", stale),
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
        .data("hosts", lab.hosts.iter().map(|h| h.name.clone()).collect::<Vec<_>>()),
    )?;
    status_of(&lab, n)
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
    Error::usage(tx(
        format!(
            "the lab is broken ({}): `netlab lab up` rebuilds it",
            c.missing.join("; ")
        ),
        format!(
            "实验网络不完整（缺少：{}）：`netlab lab up` 可重建",
            c.missing.join("；")
        ),
    ))
}

/// `netlab lab status`: up and whole, down, or broken with what is missing.
pub fn status(n: &mut Narrator) -> Result<i32> {
    let c = check_named();
    if !c.absent() && !c.whole() {
        n.summary(Summary {
            title: tx("The namespace lab is broken", "命名空间实验网络不完整"),
            lines: c
                .missing
                .iter()
                .map(|m| tx(format!("missing: {m}"), format!("缺少：{m}")))
                .chain([tx(
                    "`netlab lab up` (as root) replaces it with a whole one.",
                    "以 root 运行 `netlab lab up` 可换成一个完整的。",
                )])
                .collect(),
            ok: false,
            data: crate::narrate::object(
                json!({"up": false, "whole": false, "present": c.present, "missing": c.missing, "hosts": []}),
            ),
            ..Summary::default()
        })?;
        return Ok(exit::NETWORK_NO);
    }
    match NetLab::open_named()? {
        Some(lab) if c.whole() => {
            need_privilege()?;
            status_of(&lab, n)
        }
        _ => {
            n.summary(Summary {
                title: tx("The namespace lab is down", "命名空间实验网络未启动"),
                lines: vec![tx(
                    "`netlab lab up` (as root) builds it.",
                    "以 root 运行 `netlab lab up` 来建立它。",
                )],
                ok: false,
                data: crate::narrate::object(
                    json!({"up": false, "whole": false, "present": [], "missing": [], "hosts": []}),
                ),
                ..Summary::default()
            })?;
            Ok(exit::NETWORK_NO)
        }
    }
}

fn status_of(lab: &NetLab, n: &mut Narrator) -> Result<i32> {
    let mut hosts = Vec::new();
    for h in plan() {
        let ns = lab.host(h.name)?;
        let out = ns.ip(&["-j", "addr", "show"])?;
        let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        let mut step = Step::new(
            tx(
                format!("{} — {}", h.name, h.role),
                format!("{} — {}", h.name, h.role),
            ),
            Default::default(),
            &[],
        );
        let mut ifaces = Vec::new();
        for i in v.as_array().into_iter().flatten() {
            let name = i["ifname"].as_str().unwrap_or_default();
            if name == "lo" {
                continue;
            }
            let mac = i["address"].as_str().unwrap_or_default();
            let state = i["operstate"].as_str().unwrap_or_default();
            let ip: Vec<String> = i["addr_info"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["family"] == "inet")
                .map(|a| {
                    format!(
                        "{}/{}",
                        a["local"].as_str().unwrap_or_default(),
                        a["prefixlen"]
                    )
                })
                .collect();
            let peer = h
                .ifaces
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.peer)
                .unwrap_or("");
            let link = if peer.is_empty() {
                String::new()
            } else {
                format!("  ↔ {peer}")
            };
            step = step.fact(
                tx(name, name),
                format!("{mac}  {:<18} {state}{link}", ip.join(" ")),
            );
            ifaces.push(json!({"name": name, "mac": mac, "ip": ip, "state": state, "peer": peer}));
        }
        hosts.push(json!({"name": h.name, "role": h.role, "ifaces": ifaces}));
        n.step(step.data("host", h.name))?;
    }
    n.summary(Summary {
        title: tx("The namespace lab is up", "命名空间实验网络已启动"),
        ok: true,
        data: crate::narrate::object(json!({"up": true, "whole": true, "hosts": hosts})),
        ..Summary::default()
    })?;
    Ok(exit::OK)
}

/// `netlab lab down`.
pub fn down(n: &mut Narrator) -> Result<i32> {
    need_privilege()?;
    let removed = remove_named_locked()?;
    let title = if removed.is_empty() {
        tx(
            "The namespace lab was not up",
            "命名空间实验网络本来就没有启动",
        )
    } else {
        tx(
            format!("Removed {} namespaces", removed.len()),
            format!("已删除 {} 个命名空间", removed.len()),
        )
    };
    n.summary(Summary {
        title,
        ok: true,
        data: crate::narrate::object(json!({"removed": removed})),
        ..Summary::default()
    })?;
    Ok(exit::OK)
}

/// `netlab lab exec HOST -- CMD...`: runs CMD inside HOST with this terminal; exits with its code.
pub fn exec(host: &str, command: &[String]) -> Result<i32> {
    // Say "not up" before asking for privileges: it is the first thing to fix.
    if !crate::lab::topology::named_lab_present() {
        return Err(not_up());
    }
    need_privilege()?;
    let lab = whole_lab()?;
    let ns = lab.host(host)?;
    let (prog, args) = command
        .split_first()
        .ok_or_else(|| Error::usage(tx("no command given after --", "-- 后面没有给出命令")))?;
    let status = ns
        .run(|| std::process::Command::new(prog).args(args).status())?
        .map_err(|e| Error::system(tx("run", "运行"), format!("{prog:?} in {host}"), e))?;
    Ok(status.code().unwrap_or(exit::LOCAL))
}
