//! `netlab lab dns`: serve the DNS hierarchy and a caching resolver until Ctrl-C.
//!
//! For class: students point dig or drill at the printed addresses. A root
//! hints file for `drill -T -r` is written to a private directory of the run's
//! (see [`crate::private`]) and removed on exit. With `--pcap`, every message
//! the servers receive and send is kept at their sockets and told in one step
//! when the lab stops, so the capture file holds them.

use schemars::JsonSchema;
use serde::Serialize;

use crate::error::{exit, Error, Result};
use crate::lab::dns::{DnsLab, Seen};
use crate::lab::zones::ZoneSet;
use crate::narrate::{tx, Narrator, Step, Summary, Text};
use crate::record::{Direction, Packet, Wire};

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

/// What the lab's servers received and sent while it ran (kept for `--pcap`).
#[derive(Serialize, JsonSchema)]
struct Heard {
    /// Messages (UDP datagrams, DNS messages over TCP) the servers received.
    received: usize,
    /// Messages they sent.
    sent: usize,
    /// Addresses the received messages came from, lab servers' included.
    senders: usize,
    /// Messages seen but not kept, past the lab's limit.
    not_kept: u64,
}

/// The summary's fields.
#[derive(Serialize, JsonSchema)]
struct Stopped {
    /// The port the lab served on, until it stopped.
    port: u16,
}

/// The purpose in the name of the private directory that holds the root hints
/// file: `netlab-lab-dns-XXXXXX` (see [`crate::private::RunDir`]), in
/// `$XDG_RUNTIME_DIR` when it is the user's own, else the temporary folder.
pub const HINTS_PURPOSE: &str = "lab-dns";

/// The root hints file's name in that directory: `root-hints-PORT.zone`.
pub fn hints_file(port: u16) -> String {
    format!("root-hints-{port}.zone")
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

/// What `lab dns` is asked for.
#[derive(Clone, Copy, Debug, Default)]
pub struct LabDns<'a> {
    /// The port of every server (None: a free high port).
    pub port: Option<u16>,
    /// Zone files instead of the built-in ones.
    pub zones_dir: Option<&'a std::path::Path>,
    /// Answer zone transfers.
    pub allow_axfr: bool,
    /// A capture file was asked for (`--pcap`): keep the servers' messages.
    pub capture_file: bool,
}

/// Run the lab in the foreground until Ctrl-C or SIGTERM.
pub fn serve(args: &LabDns, n: &mut Narrator) -> Result<i32> {
    // Catch Ctrl-C and SIGTERM before anything is printed: a signal that arrives
    // right after the addresses appear must still stop the lab cleanly.
    let stop = crate::sys::stop_flag()?;
    serve_until(args, &stop, n)
}

/// Run the lab until `stop` is set.
pub fn serve_until(
    args: &LabDns,
    stop: &std::sync::atomic::AtomicBool,
    n: &mut Narrator,
) -> Result<i32> {
    let LabDns {
        port,
        zones_dir,
        allow_axfr,
        capture_file,
    } = *args;
    let zones = match zones_dir {
        Some(d) => ZoneSet::from_dir(d)?,
        None => ZoneSet::builtin()?,
    };
    let options = crate::lab::dns::Options { allow_axfr };
    let lab = DnsLab::start_with(&zones, port.unwrap_or(0), true, options)?;
    if capture_file {
        lab.record_messages();
        n.pcap_note("Every DNS message the lab's servers received and sent while the lab ran, exactly as their sockets saw it; the IPv4 and UDP/TCP headers are rebuilt from the socket addresses, and DNS over TCP is shown without its handshake.");
        if lab.port != 53 {
            n.pcap_note(format!("The lab ran on port {p}: in Wireshark, Decode As… UDP and TCP port {p} as DNS (tshark: -d udp.port=={p},dns).", p = lab.port));
        }
    }
    let stale: Vec<String> = crate::private::remove_stale(HINTS_PURPOSE)
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
    let dir = crate::private::RunDir::create(HINTS_PURPOSE)?;
    let hints_path = dir.write_new(&hints_file(lab.port), &root_hints(&lab))?;
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
    let (heard, not_kept) = lab.messages();
    let names = server_names(&lab);
    drop(lab);
    if capture_file {
        n.step(heard_step(&heard, not_kept, &names))?;
    }
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

/// Each lab server's address and the name it is told by (the resolver's too).
fn server_names(lab: &DnsLab) -> Vec<(std::net::IpAddr, String)> {
    let mut v: Vec<(std::net::IpAddr, String)> = lab
        .servers
        .iter()
        .map(|s| {
            let name = s.names.first().map_or_else(
                || s.addr.ip().to_string(),
                |n| n.to_string().trim_end_matches('.').to_string(),
            );
            (s.addr.ip(), name)
        })
        .collect();
    if let Some(r) = lab.resolver {
        v.push((r.ip(), "resolver".into()));
    }
    v
}

/// The step that tells what the servers received and sent: one quiet packet
/// record per message, so the capture file holds them all.
fn heard_step(heard: &[Seen], not_kept: u64, names: &[(std::net::IpAddr, String)]) -> Step {
    let id = |a: std::net::SocketAddr| a.ip().to_string();
    let received = heard.iter().filter(|m| m.received).count();
    let sent = heard.len() - received;
    let mut senders: Vec<std::net::IpAddr> = heard
        .iter()
        .filter(|m| m.received)
        .map(|m| m.from.ip())
        .collect();
    senders.sort();
    senders.dedup();
    let mut step = Step::new(
        say::heard(received, sent, senders.len(), not_kept),
        tx(
            "Each message as the servers' sockets saw it, in the order they saw them: what students' clients asked, what the resolver asked the hierarchy on their behalf, and every answer. The capture file holds them all.",
            "服务器的套接字看到的每一条消息，按看到的先后排列：学生的客户端问了什么，递归服务器替它们向各级服务器问了什么，以及每一个应答。抓包文件里一条不少。",
        ),
        &["Q4"],
    )
    .with(&Heard {
        received,
        sent,
        senders: senders.len(),
        not_kept,
    });
    let mut ends: Vec<std::net::IpAddr> = heard
        .iter()
        .flat_map(|m| [m.from.ip(), m.to.ip()])
        .collect();
    ends.sort();
    ends.dedup();
    for a in ends {
        let label = names
            .iter()
            .find(|(ip, _)| *ip == a)
            .map_or_else(|| a.to_string(), |(_, n)| n.clone());
        step = step.who(&a.to_string(), Text::from(label));
    }
    step.packets = heard
        .iter()
        .map(|m| {
            let wire = if m.tcp {
                let mut framed = (m.bytes.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&m.bytes);
                crate::wire::build::tcp_packet(m.from, m.to, 1, 1, &framed)
            } else {
                crate::wire::build::udp_packet(m.from, m.to, &m.bytes)
            };
            Packet {
                direction: if m.received {
                    Direction::Received
                } else {
                    Direction::Sent
                },
                transport: if m.tcp { "tcp" } else { "udp" }.into(),
                peer: if m.received { m.from } else { m.to }.to_string(),
                fields: crate::wire::dns::explain(&m.bytes).unwrap_or_default(),
                bytes: m.bytes.clone(),
                quiet: true,
                at: Some(m.at),
                wire: wire.map(|bytes| Wire {
                    link: "netlab DNS sockets".into(),
                    ethernet: false,
                    bytes,
                    rebuilt: true,
                    original_len: None,
                }),
                ..Packet::default()
            }
            .between(id(m.from), id(m.to), say::message(&m.bytes, m.tcp))
        })
        .collect();
    step
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "lab dns",
        "The loopback DNS lab's servers, kept running until Ctrl-C (JSON `demo`: `lab`).",
    )
    .step::<Cleaned>("files a killed lab left, removed")
    .step::<Running>("the lab is serving")
    .step::<Heard>("what the servers received and sent (with --pcap), when the lab stops")
    .summary::<Stopped>()
}
