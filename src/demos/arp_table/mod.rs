//! `netlab arp-table`: ARP on real links (Q5, Q6, Q8, Q26).
//!
//! Lab (default): h1's empty neighbour table; h1 sends to h2, and the capture
//! on h1's link shows the kernel's broadcast ARP request and h2's unicast
//! reply, field by field; the table afterwards. Then h1 sends to h3 behind r1:
//! h1 resolves its gateway, not h3, and the same packet captured on both LANs
//! keeps its IP addresses while its MAC addresses change at the router.
//!
//! Host: `--host` prints this machine's kernel table; `--iface IF --resolve IP`
//! makes the kernel ARP for IP on IF (or sends an arping-style request if an
//! entry already exists) and shows request, reply and the table after.

use std::net::Ipv4Addr;

use schemars::JsonSchema;
use serde::Serialize;

use crate::cli::ArpArgs;
use crate::error::{exit, Error, Result};
use crate::host::arp::{self as engine, is_arp, Asker};
use crate::host::neigh::{self, Entry};
use crate::lab::capture::{split_at, Frame};
use crate::lab::topology::{self, HostPlan, NetLab, H1, H2, H3, R1_A};
use crate::narrate::{tx, Narrator, Packet, Step, Summary, Text};
use crate::privilege::Privileges;
use crate::wire::frame::{self, Kind};

mod say;

const QS: &[&str] = &["Q5", "Q6", "Q8", "Q26"];

/// A neighbour table shown in a step.
#[derive(Serialize, JsonSchema)]
struct Table {
    /// Its entries, by address.
    entries: Vec<Entry>,
}

/// The lab's opening step: the hosts and their interfaces.
#[derive(Serialize, JsonSchema)]
struct LabIntro {
    /// Every lab host (the switch included), in build order.
    hosts: Vec<HostPlan>,
    /// The lab runs in a user namespace of netlab's own (no root).
    rootless: bool,
}

/// One echo request as one LAN carried it (the JSON's `lan_a`, `lan_b`).
#[derive(Clone, Serialize, JsonSchema)]
struct Hop {
    /// The frame's source MAC on this link.
    src_mac: Option<String>,
    /// The frame's destination MAC on this link.
    dst_mac: Option<String>,
    /// The packet's source IP (h1's, on both links).
    src_ip: Ipv4Addr,
    /// The packet's destination IP (h3's, on both links).
    dst_ip: Ipv4Addr,
    /// The packet's TTL on this link (one less on LAN B: r1 forwarded it).
    ttl: u8,
}

impl Hop {
    fn of(d: &frame::Dissected) -> Hop {
        Hop {
            src_mac: d.src_mac.clone(),
            dst_mac: d.dst_mac.clone(),
            src_ip: H1,
            dst_ip: H3,
            ttl: match d.kind {
                Kind::Ipv4 { ttl, .. } => ttl,
                _ => 0,
            },
        }
    }

    /// tcpdump's one-line view: `MAC > MAC  IP a > b  ttl n`.
    fn line(&self) -> String {
        format!(
            "{} > {}  IP {} > {}  ttl {}",
            self.src_mac.as_deref().unwrap_or_default(),
            self.dst_mac.as_deref().unwrap_or_default(),
            self.src_ip,
            self.dst_ip,
            self.ttl
        )
    }
}

/// The step that compares one echo request on both LANs.
#[derive(Serialize, JsonSchema)]
struct TwoLinks {
    /// The echo request as LAN A carried it (h1 to r1).
    lan_a: Hop,
    /// The same request as LAN B carried it (r1 to h3).
    lan_b: Hop,
}

/// The ARP request step: the frame as captured.
#[derive(Serialize, JsonSchema)]
struct RequestFrame {
    /// The broadcast request, exactly as it crossed h1's link.
    frame: FrameOut,
}

/// A captured frame as hex.
#[derive(Serialize, JsonSchema)]
struct FrameOut {
    /// Where it was captured (`h1:eth0`).
    link: String,
    /// The whole Ethernet frame, lowercase hex.
    hex: String,
}

/// arp-table's result: the neighbour table at the end; in the lab, the echo
/// request on both LANs; with `--resolve`, what answered.
#[derive(Serialize, JsonSchema)]
struct ArpOut {
    /// The neighbour table at the end (h1's in the lab, this machine's otherwise).
    entries: Vec<Entry>,
    /// The echo request across r1, as LAN A carried it (lab only).
    #[serde(skip_serializing_if = "Option::is_none")]
    lan_a: Option<Hop>,
    /// The same request as LAN B carried it (lab only).
    #[serde(skip_serializing_if = "Option::is_none")]
    lan_b: Option<Hop>,
    /// The address `--resolve` asked for and the MAC that answered (absent when none did).
    #[serde(skip_serializing_if = "Option::is_none")]
    resolved: Option<Resolved>,
}

/// The address `--resolve` asked for and the MAC that answered.
#[derive(Serialize, JsonSchema)]
struct Resolved {
    /// The address asked for.
    ip: Ipv4Addr,
    /// The MAC address in the reply.
    mac: String,
}

/// A table entry as one line (the text view aligns nothing inside a value).
fn entry_line(e: &Entry) -> String {
    let mac = if e.mac.is_empty() {
        "(incomplete)"
    } else {
        &e.mac
    };
    format!("{} {mac} {} {}", e.ip, e.iface, e.state)
}

/// A neighbour table as a step; `reachable_ms` is the table's host's
/// base_reachable_time_ms, said when an entry is in a state the detail
/// must explain (STALE after a pause, DELAY, PROBE, FAILED).
fn table_step(title: Text, detail: Text, entries: &[Entry], reachable_ms: Option<u64>) -> Step {
    // By address, as `ip neigh` users expect to scan it (the kernel's order varies).
    let mut entries = entries.to_vec();
    entries.sort_by_key(|e| e.ip.parse::<std::net::IpAddr>().ok());
    let states: Vec<&str> = entries.iter().map(|e| e.state.as_str()).collect();
    let detail = match say::states(&states, reachable_ms) {
        Some(note) if detail.is_empty() => note,
        Some(note) => tx(
            format!("{} {}", detail.en, note.en),
            format!("{}{}", detail.zh, note.zh),
        ),
        None => detail,
    };
    let mut s = Step::new(title, detail, QS);
    if entries.is_empty() {
        s = s.fact(tx("table", "表"), tx("(empty)", "（空）"));
    }
    for e in &entries {
        s = s.fact(tx("entry", "条目"), entry_line(e));
    }
    s.with(&Table {
        entries: entries.clone(),
    })
}

/// The calling thread's namespace's base_reachable_time_ms on `iface`.
fn reachable_ms(iface: &str) -> Option<u64> {
    let path = format!("/proc/sys/net/ipv4/neigh/{iface}/base_reachable_time_ms");
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Frames as packet records; `explain` is the one whose byte view the step shows.
fn records(frames: &[Frame], explain: Option<&Frame>) -> Vec<Packet> {
    frames
        .iter()
        .map(|f| f.record(explain.is_some_and(|e| e == f)))
        .collect()
}

/// Run the demo.
pub fn run(args: &ArpArgs, n: &mut Narrator) -> Result<i32> {
    if let (Some(iface), Some(ip)) = (&args.iface, args.resolve) {
        return resolve_on_host(iface, ip, n);
    }
    if args.host {
        return host_table(n);
    }
    if !Privileges::probe().can_build_lab() {
        return Err(crate::privilege::lab_privilege());
    }
    lab_demo(n)
}

fn host_table(n: &mut Narrator) -> Result<i32> {
    let entries = neigh::read()?;
    let step = table_step(
        tx("This machine's neighbour (ARP) table", "本机的邻居（ARP）表"),
        tx(
            "The kernel's cache of IP → MAC for hosts on directly attached links. REACHABLE was confirmed recently; STALE may be used but will be re-checked; FAILED got no reply. Entries age out by themselves.",
            "内核缓存的「IP → MAC」映射，只针对直连链路上的主机。REACHABLE 表示最近确认过；STALE 可以继续用但会重新确认；FAILED 表示没有应答。条目会自动老化。",
        ),
        &entries,
        reachable_ms(entries.first().map_or("default", |e| e.iface.as_str())),
    );
    n.step(step)?;
    n.summary(
        Summary {
            title: say::entries(entries.len()),
            questions: crate::record::qs(QS),
            ok: true,
            ..Summary::default()
        }
        .with(&ArpOut {
            entries: entries.clone(),
            lan_a: None,
            lan_b: None,
            resolved: None,
        }),
    )?;
    Ok(exit::OK)
}

fn lab_demo(n: &mut Narrator) -> Result<i32> {
    let lab = NetLab::build()?;
    let h1 = lab.host("h1")?;
    let h3 = lab.host("h3")?;
    let mut intro = Step::new(
        crate::lab::userns::titled(tx("The lab: two LANs and a router", "实验网络：两个局域网和一台路由器")),
        tx(
            "Real namespaces and veth links, built for this run: h1 and h2 on switch sw1 (a bridge, layer 2); r1 routes (layer 3) to h3's LAN B.",
            "为本次运行建立的真实命名空间和 veth 链路。局域网 A：h1、h2 接在交换机 sw1（网桥，二层）上；r1 做三层路由，通往 h3 所在的局域网 B。",
        ),
        QS,
    )
    .correction(tx(
        "the notes call a MAC address fixed for good; netlab simply set these (`ip link set … address …`).",
        "笔记认为 MAC 地址不可更改；这些 MAC 都是 netlab 直接设置的（`ip link set … address …`）。",
    ));
    // The switch's ports carry no address; JSON lists them with the rest.
    for h in topology::plan() {
        for i in h.ifaces.iter().filter(|i| i.ip.is_some()) {
            let ip = i.ip.map(|a| format!("{a}/24")).unwrap_or_default();
            intro = intro.fact(
                Text::from(format!("{}:{}", h.name, i.name)),
                format!("{ip} {}", i.mac),
            );
        }
    }
    for h in ["h1", "h2", "r1", "h3"] {
        intro = intro.who(h, Text::from(h));
    }
    n.step(intro.with(&LabIntro {
        hosts: topology::plan(),
        rootless: crate::lab::userns::rootless(),
    }))?;

    let before = h1.run(neigh::read)??;
    n.step(table_step(
        tx("h1's neighbour table: empty", "h1 的邻居表：空"),
        tx(
            "h1 has talked to nobody yet, so it knows no MAC address.",
            "h1 还没和任何主机通信过，所以不知道任何 MAC 地址。",
        ),
        &before,
        None,
    ))?;

    // h1 → h2, same LAN: one ping, whose first packet waits for ARP.
    let frames = engine::first_contact(h1, H1, H2)?;
    let req = frames.iter().find(|f| is_arp(f, 1, H2));
    let rep = frames.iter().find(|f| is_arp(f, 2, H2));
    let (Some(req), Some(rep)) = (req.cloned(), rep.cloned()) else {
        return Err(Error::lab(tx(
            "no ARP exchange was captured between h1 and h2",
            "没有抓到 h1 与 h2 之间的 ARP 交换",
        )));
    };
    let answer = match engine::kind(&rep) {
        Some(Kind::Arp { sha, .. }) => sha,
        _ => String::new(),
    };
    // Wire order: the request (and whatever preceded the reply), then the reply and what followed.
    let mut parts = split_at(frames, &[rep.at]).into_iter();
    let (before_reply, from_reply) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let mut s = Step::new(
        say::who_has_lab(H2),
        tx(
            "h1 pings h2 once; the ICMP echo request waits for h2's MAC. The ARP request goes to ff:ff:ff:ff:ff:ff, flooded to every port; the target MAC is zeros.",
            "h1 ping 一次 h2；ICMP 回显请求要等 h2 的 MAC。ARP 请求发往 ff:ff:ff:ff:ff:ff，交换机泛洪到每个端口；目标 MAC 全为 0。",
        ),
        &["Q1", "Q2", "Q5", "Q6", "Q8", "Q26"],
    )
    .correction(tx(
        "the notes call ARP network-layer; books differ. 谢希仁's textbook puts it there, beside the IP it serves; RFC 1122 and Kurose & Ross put it in the link layer, which carries it directly (0x0806) within one link. Riding in Ethernet proves nothing alone: IPv4 does too (0x0800).",
        "笔记断言 ARP 属于网络层；教材说法不一。谢希仁的《计算机网络》把它和它所服务的 IP 一起归入网络层；RFC 1122 和《计算机网络：自顶向下方法》则归入链路层，因为它由链路层直接承载（0x0806），只在一条链路内起作用。只凭装在以太网里这一点说明不了什么：IPv4 也是（0x0800）。",
    ));
    s.packets = records(&before_reply, Some(&req));
    n.step(s.with(&RequestFrame {
        frame: FrameOut {
            link: req.link.clone(),
            hex: crate::record::to_hex(&req.bytes),
        },
    }))?;
    // What followed the reply, as the frames show it.
    let echo_out = from_reply.iter().any(|f| engine::is_echo(f, H1, H2));
    let echo_back = from_reply.iter().any(|f| engine::is_echo_reply(f, H2, H1));
    let h2_asked = from_reply.iter().any(|f| is_arp(f, 1, H1));
    let mut s = Step::new(
        say::lab_reply(H2, &answer),
        say::after_reply(echo_out, echo_back, h2_asked),
        QS,
    );
    // The reply, then the rest of what crossed the link: the echo request
    // that needed the MAC, and its reply.
    s.packets = records(&from_reply, None);
    n.step(s)?;
    let after = h1.run(neigh::read)??;
    n.step(table_step(
        tx("h1's table now holds h2", "h1 的表里有了 h2"),
        tx(
            "The answer is cached: further packets to h2 go out at once with this MAC, until the entry goes STALE and is re-checked.",
            "应答被缓存：之后发往 h2 的包直接用这个 MAC 发出，直到条目变为 STALE 后再重新确认。",
        ),
        &after,
        h1.run(|| reachable_ms("eth0"))?,
    ))?;

    // h1 → h3, across r1.
    let engine::Across {
        answered,
        near: frames_a,
        far: frames_b,
    } = engine::echo_across(h1, h3, H3)?;
    if !answered {
        return Err(Error::lab(tx(
            "h3 did not answer h1 across r1",
            "h3 没有回应跨过 r1 的 h1",
        )));
    }
    let asked_gateway = frames_a.iter().any(|f| is_arp(f, 1, R1_A));
    let echo = |fs: &[Frame]| fs.iter().find(|f| engine::is_echo(f, H1, H3)).cloned();
    let (true, Some(on_a), Some(on_b)) = (asked_gateway, echo(&frames_a), echo(&frames_b)) else {
        return Err(Error::lab(tx(
            "the frames across r1 were not all captured",
            "没有抓全跨越 r1 的帧",
        )));
    };
    let r1_arp_b = frames_b.iter().find(|f| is_arp(f, 1, H3)).cloned();
    // Both captures in wire order, cut where the story turns: h1's ARP for
    // its gateway; the echo reaching r1, which only then ARPs on LAN B; the
    // echo on LAN B and the replies.
    let cuts = match &r1_arp_b {
        Some(_) => vec![on_a.at, on_b.at],
        None => vec![on_a.at],
    };
    let mut parts = split_at(frames_a.into_iter().chain(frames_b), &cuts).into_iter();
    let mut part = || parts.next().unwrap_or_default();
    let mut s = Step::new(
        tx("h1 ARPs for its gateway 198.51.100.1, not for h3", "h1 用 ARP 问的是网关 198.51.100.1，而不是 h3"),
        tx(
            "h1 compares 203.0.113.10 with its own prefix 198.51.100.0/24: not local, so the packet goes to the default gateway, and the MAC h1 needs is the gateway's. ARP never crosses a router.",
            "h1 把 203.0.113.10 与自己的前缀 198.51.100.0/24 比较：不在本地，所以包交给默认网关，h1 需要的是网关的 MAC。ARP 从不穿越路由器。",
        ),
        QS,
    );
    s.packets = records(&part(), None);
    n.step(s)?;

    if r1_arp_b.is_some() {
        let mut s = Step::new(
            tx(
                "r1 ARPs for h3 on LAN B only when h1's ICMP echo arrives",
                "h1 的 ICMP 回显到了，r1 才在局域网 B 上用 ARP 问 h3",
            ),
            tx(
                "r1 holds the packet (h3's IP, r1's MAC) until h3's MAC comes back.",
                "r1 先扣住这个包（h3 的 IP，r1 的 MAC），等 h3 的 MAC 回来。",
            ),
            QS,
        )
        .correction(tx(
            "the notes have each router broadcast for the next router to build a path first; on LAN B, r1 just resolves its own next hop (h3) when the packet arrives.",
            "笔记认为每台路由器先广播找下一台路由器，建立起链路；局域网 B 上的抓包显示，r1 只是在包到达时解析自己的下一跳（h3）。",
        ));
        s.packets = records(&part(), None);
        n.step(s)?;
    }

    let dissect = |f: &Frame| {
        frame::ethernet_frame(&f.bytes)
            .map_err(|e| Error::Internal(format!("a captured frame did not parse: {e}")))
    };
    let (hop_a, hop_b) = (Hop::of(&dissect(&on_a)?), Hop::of(&dissect(&on_b)?));
    let mut s = Step::new(
        tx("Same packet, two links: the IPs stay, the MACs change at r1", "同一个包，两段链路：IP 不变，MAC 在 r1 处改变"),
        tx(
            "One ICMP echo request on LAN A and LAN B: the IPs stay end to end; r1 rebuilt the Ethernet header and took one off the TTL. A switch passes frames on; a router re-frames packets. The echo reply comes back the same way.",
            "同一个 ICMP 回显请求，在局域网 A 和 B 上各抓一次：IP 地址端到端不变；r1 重建了以太网头，并把 TTL 减一。交换机原样转发帧；路由器把包重新封装成帧。回显应答也这样原路返回。",
        ),
        QS,
    )
    .fact(tx("LAN A", "局域网 A"), hop_a.line())
    .fact(tx("LAN B", "局域网 B"), hop_b.line())
    .correction(tx(
        "the notes credit ARP with getting a packet to the right subnet; that is routing: r1 chose the next hop by IP prefix, and ARP only supplied each link's MAC.",
        "笔记把包送达目标子网的功劳归于 ARP；那其实是路由：r1 按 IP 前缀选下一跳，ARP 只为每段链路提供 MAC。",
    ));
    // The request on LAN B, then the replies on both LANs, in the order they crossed.
    s.packets = records(&part(), None);
    n.step(s.with(&TwoLinks {
        lan_a: hop_a.clone(),
        lan_b: hop_b.clone(),
    }))?;

    let fin = h1.run(neigh::read)??;
    n.step(table_step(
        tx("h1's table: h2 and the gateway, never h3", "h1 的表：有 h2 和网关，永远不会有 h3"),
        tx(
            "h1 holds MACs only for its own link. For any destination beyond r1 it uses r1's MAC, which is why a router does not need to know every MAC on the Internet.",
            "h1 只保存本链路上的 MAC。对 r1 之外的任何目的地，它都用 r1 的 MAC，所以路由器不需要知道互联网上所有的 MAC。",
        ),
        &fin,
        h1.run(|| reachable_ms("eth0"))?,
    ))?;
    n.summary(
        Summary {
            title: say::learned(fin.len()),
            lines: vec![tx(
                "Layer 2 (switch, ARP, MAC) works within a link; layer 3 (router, IP) across links.",
                "二层（交换机、ARP、MAC）在一段链路内工作；三层（路由器、IP）跨越链路。",
            )],
            questions: crate::record::qs(QS),
            ok: true,
            ..Summary::default()
        }
        .with(&ArpOut {
            entries: fin.clone(),
            lan_a: Some(hop_a),
            lan_b: Some(hop_b),
            resolved: None,
        }),
    )?;
    drop(lab);
    Ok(exit::OK)
}

/// Why ARP cannot be asked about `ip` from a link whose IPv4 networks are
/// `nets` (address, prefix length); None when it can. ARP asks for a
/// neighbour on the link: never for a broadcast, multicast, unspecified or
/// loopback address, nor for one off every subnet of the link (that one is
/// reached through a router, whose address is what ARP would ask for).
pub fn not_resolvable(ip: Ipv4Addr, nets: &[(Ipv4Addr, u8)]) -> Option<Text> {
    let class = if ip.is_broadcast() {
        Some(("the broadcast address", "广播地址"))
    } else if ip.is_multicast() {
        Some((
            "a multicast address (its MAC is computed, never asked)",
            "组播地址（其 MAC 由地址算出，不用询问）",
        ))
    } else if ip.is_unspecified() {
        Some(("the unspecified address", "未指定地址"))
    } else if ip.is_loopback() {
        Some((
            "a loopback address (it never leaves the machine)",
            "环回地址（不会离开本机）",
        ))
    } else {
        None
    };
    if let Some((en, zh)) = class {
        return Some(tx(
            format!(
                "--resolve {ip}: {en}; ARP asks only for a neighbour's unicast address on the link"
            ),
            format!("--resolve {ip}：{zh}；ARP 只询问链路上邻居的单播地址"),
        ));
    }
    if nets.is_empty() {
        return None;
    }
    let mask = |len: u8| {
        u32::MAX
            .checked_shl(32 - u32::from(len.min(32)))
            .unwrap_or(0)
    };
    let on = nets
        .iter()
        .find(|(a, len)| u32::from(*a) & mask(*len) == u32::from(ip) & mask(*len));
    match on {
        None => Some(tx(
            format!("--resolve {ip}: not on this link's subnets; a host reaches it through its gateway, so ARP would ask for the gateway's address instead"),
            format!("--resolve {ip}：不在这条链路的子网里；主机经网关到达它，所以 ARP 要询问的是网关的地址"),
        )),
        Some((_, len)) if *len < 31 && u32::from(ip) | mask(*len) == u32::MAX => Some(tx(
            format!("--resolve {ip}: the subnet's broadcast address; ARP asks only for a neighbour's unicast address"),
            format!("--resolve {ip}：子网的广播地址；ARP 只询问邻居的单播地址"),
        )),
        Some(_) => None,
    }
}

fn resolve_on_host(iface: &str, ip: Ipv4Addr, n: &mut Narrator) -> Result<i32> {
    if let Some(why) = not_resolvable(ip, &[]) {
        return Err(Error::usage(why));
    }
    let nic = pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.name == iface)
        .ok_or_else(|| {
            let names: Vec<String> = pnet_datalink::interfaces()
                .into_iter()
                .map(|i| i.name)
                .collect();
            Error::usage(say::unknown_iface(iface, &names))
        })?;
    if nic.is_loopback() || nic.mac.is_none_or(|m| m.octets() == [0; 6]) {
        return Err(Error::usage(say::no_link_layer(iface)));
    }
    let p = Privileges::probe();
    if !p.net_raw {
        return Err(Error::privilege(
            tx(
                "--resolve (a real ARP request)",
                "--resolve（真实的 ARP 请求）",
            ),
            Text::from("CAP_NET_RAW"),
            tx(
                "run with sudo, or `sudo setcap cap_net_raw+ep $(which netlab)`; a user namespace cannot grant it on the host's own interfaces (the lab's `netlab arp-table` needs none of this)",
                "请用 sudo 运行，或 `sudo setcap cap_net_raw+ep $(which netlab)`；用户命名空间无法在主机自己的接口上授予它（实验网络里的 `netlab arp-table` 不需要这些）",
            ),
        ));
    }
    let src_ip = nic.ips.iter().find_map(|n| match n.ip() {
        std::net::IpAddr::V4(a) => Some(a),
        _ => None,
    });
    let Some(src_ip) = src_ip else {
        return Err(Error::usage(say::no_ipv4(iface)));
    };
    let nets: Vec<(Ipv4Addr, u8)> = nic
        .ips
        .iter()
        .filter_map(|n| match n.ip() {
            std::net::IpAddr::V4(a) => Some((a, n.prefix())),
            _ => None,
        })
        .collect();
    if let Some(why) = not_resolvable(ip, &nets) {
        return Err(Error::usage(why));
    }
    let before = neigh::read()?;
    let existing = before
        .iter()
        .find(|e| e.ip == ip.to_string() && e.iface == iface && !e.mac.is_empty())
        .cloned();
    let (asker, frames) = engine::resolve_here(&nic, src_ip, ip, existing.is_some())?;
    let how = match asker {
        Asker::Netlab => tx(
            "An entry already existed, so the kernel had no reason to ask; netlab sent its own ARP request (as arping does).",
            "表中已有该条目，内核没有理由再问；netlab 自己发了一个 ARP 请求（与 arping 相同）。",
        ),
        Asker::Kernel => tx(
            "netlab sent one UDP datagram to port 9 (discard) of the address; the kernel had no MAC for it, so it sent this ARP request itself.",
            "netlab 向该地址的 9 号端口（discard）发了一个 UDP 数据报；内核没有它的 MAC，于是自己发出了这个 ARP 请求。",
        ),
    };
    // What the run caused on the link: ARP about the address, and what went
    // to or came from it (the datagram that made the kernel ask); not the
    // rest of the host's traffic.
    let ours: Vec<Frame> = frames
        .into_iter()
        .filter(|f| match engine::kind(f) {
            Some(Kind::Arp { spa, tpa, .. }) => spa == ip || tpa == ip,
            Some(Kind::Ipv4 { src, dst, .. }) => src == ip || dst == ip,
            _ => false,
        })
        .collect();
    let req = ours.iter().find(|f| is_arp(f, 1, ip)).cloned();
    let rep = ours.iter().find(|f| is_arp(f, 2, ip)).cloned();
    let cuts: Vec<_> = rep.iter().map(|f| f.at).collect();
    let mut parts = split_at(ours, &cuts).into_iter();
    let mut s = Step::new(say::who_has(iface, ip), how, QS);
    s.packets = records(&parts.next().unwrap_or_default(), req.as_ref());
    n.step(s)?;
    let after = neigh::read()?;
    let resolved = rep
        .as_ref()
        .and_then(|f| frame::ethernet_frame(&f.bytes).ok())
        .and_then(|d| d.src_mac);
    if let Some(f) = &rep {
        let mut s = Step::new(
            say::answered(ip, resolved.as_deref().unwrap_or_default()),
            tx(
                "A unicast ARP reply from the owner of the address.",
                "地址拥有者发来的单播 ARP 应答。",
            ),
            QS,
        );
        s.packets = records(&parts.next().unwrap_or_default(), Some(f));
        n.step(s)?;
    }
    n.step(table_step(
        tx("The neighbour table afterwards", "之后的邻居表"),
        Text::default(),
        &after,
        reachable_ms(iface),
    ))?;
    let ok = resolved.is_some();
    n.summary(
        Summary {
            title: match &resolved {
                Some(m) => say::is_at(ip, m),
                None => say::no_reply(ip, iface),
            },
            questions: crate::record::qs(QS),
            ok,
            ..Summary::default()
        }
        .with(&ArpOut {
            entries: after.clone(),
            lan_a: None,
            lan_b: None,
            resolved: resolved.clone().map(|mac| Resolved { ip, mac }),
        }),
    )?;
    Ok(if ok { exit::OK } else { exit::NETWORK_NO })
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "arp-table",
        "ARP on a lab link: the request broadcast, the reply, the neighbour table, MAC per hop.",
    )
    .step::<LabIntro>("the lab's first step")
    .step::<Table>("each step that shows a neighbour table")
    .step::<RequestFrame>("the lab's ARP request")
    .step::<TwoLinks>("the lab's step comparing one echo request on both LANs")
    .summary::<ArpOut>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ip: &str, state: &str) -> Entry {
        Entry {
            ip: ip.into(),
            mac: "02:00:00:00:00:20".into(),
            iface: "eth0".into(),
            state: state.into(),
        }
    }

    #[test]
    fn counts_take_their_plural_only_when_more_than_one() {
        assert_eq!(say::entries(1).en, "1 entry");
        assert_eq!(say::entries(0).en, "0 entries");
        assert_eq!(say::entries(2).en, "2 entries");
        assert_eq!(say::learned(1).en, "h1 learned 1 MAC address by ARP");
        assert_eq!(say::learned(2).en, "h1 learned 2 MAC addresses by ARP");
    }

    #[test]
    fn a_stale_entry_is_explained_where_the_table_shows_it() {
        let detail = tx("The answer is cached.", "应答被缓存。");
        // All REACHABLE: nothing to explain.
        let s = table_step(
            tx("t", "表"),
            detail.clone(),
            &[entry("198.51.100.20", "REACHABLE")],
            Some(30_000),
        );
        assert_eq!(s.detail, detail);
        // After a long pause the entry is STALE: the step says why, and what
        // comes next (DELAY, then PROBE), with this host's reachable time.
        let s = table_step(
            tx("t", "表"),
            detail.clone(),
            &[entry("198.51.100.20", "STALE")],
            Some(30_000),
        );
        assert!(
            s.detail.en.starts_with("The answer is cached. STALE:"),
            "{}",
            s.detail.en
        );
        for w in [
            "base_reachable_time, 30 s here",
            "DELAY",
            "PROBE",
            "unicast ARP",
        ] {
            assert!(s.detail.en.contains(w), "{w}: {}", s.detail.en);
        }
        for w in ["STALE", "30 秒", "DELAY", "PROBE"] {
            assert!(s.detail.zh.contains(w), "{w}: {}", s.detail.zh);
        }
        // A failed resolution is explained too, and without a time it does not know.
        let s = table_step(
            tx("t", "表"),
            Text::default(),
            &[entry("198.51.100.99", "FAILED")],
            None,
        );
        assert!(s.detail.en.contains("FAILED: none came"), "{}", s.detail.en);
        assert!(!s.detail.en.contains("STALE"), "{}", s.detail.en);
    }
}

#[cfg(test)]
mod resolve_tests {
    use super::*;

    #[test]
    fn arp_asks_only_for_a_unicast_neighbour_on_the_link() {
        let lan: &[(Ipv4Addr, u8)] = &[(Ipv4Addr::new(198, 51, 100, 10), 24)];
        let no = |ip: [u8; 4]| not_resolvable(Ipv4Addr::from(ip), lan).map(|t| t.en);
        for (ip, why) in [
            ([255, 255, 255, 255], "broadcast"),
            ([224, 0, 0, 18], "multicast"),
            ([0, 0, 0, 0], "unspecified"),
            ([127, 0, 0, 1], "loopback"),
            ([203, 0, 113, 10], "not on this link"),
            ([198, 51, 100, 255], "subnet's broadcast"),
        ] {
            let said = no(ip).unwrap_or_else(|| panic!("{ip:?} was accepted"));
            assert!(said.contains(why), "{ip:?}: {said}");
        }
        assert_eq!(no([198, 51, 100, 20]), None, "a neighbour");
        assert_eq!(no([198, 51, 100, 1]), None, "the gateway");
        // Before the link is known, only the address's own class decides.
        assert!(not_resolvable(Ipv4Addr::new(203, 0, 113, 10), &[]).is_none());
    }
}
