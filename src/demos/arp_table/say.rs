//! What arp-table says, in both languages: each message with arguments is one
//! function, its English and Chinese side by side; the story only chooses.

use std::net::Ipv4Addr;

use crate::narrate::{plural, tx, Text};

/// The host table's headline.
pub fn entries(n: usize) -> Text {
    tx(plural(n as u64, "entry", "entries"), format!("{n} 个条目"))
}

/// The lab's headline.
pub fn learned(n: usize) -> Text {
    tx(
        format!(
            "h1 learned {} by ARP",
            plural(n as u64, "MAC address", "MAC addresses")
        ),
        format!("h1 通过 ARP 学到了 {n} 个 MAC 地址"),
    )
}

/// The ARP request step's title.
pub fn who_has_lab(ip: Ipv4Addr) -> Text {
    tx(
        format!("h1 broadcasts an ARP request: who has {ip}?"),
        format!("h1 广播 ARP 请求：谁是 {ip}？"),
    )
}

/// The lab's reply step's title: the MAC as the reply's own bytes give it.
pub fn lab_reply(ip: Ipv4Addr, mac: &str) -> Text {
    tx(
        format!("h2 answers by unicast: {ip} is at {mac}"),
        format!("h2 单播应答：{ip} 在 {mac}"),
    )
}

/// What followed h2's ARP reply on h1's link, as the frames show it: the
/// echo request that had waited (`out`), h2's echo reply (`back`), and
/// whether h2 had to ask ARP for h1 first (`h2_asked`).
pub fn after_reply(out: bool, back: bool, h2_asked: bool) -> Text {
    let mut en = String::from("Only h2 answers, straight to h1's MAC (learned from the request).");
    let mut zh = String::from("只有 h2 应答，直接发往 h1 的 MAC（从请求里学到的）。");
    match (out, back, h2_asked) {
        (true, true, false) => {
            en.push_str(
                " The waiting ICMP echo request then goes out; h2's echo reply needs no ARP.",
            );
            zh.push_str("等着的 ICMP 回显请求随即发出；h2 的回显应答不用再发 ARP。");
        }
        (true, true, true) => {
            en.push_str(" The waiting ICMP echo request then goes out; h2 asks ARP for h1 before its echo reply.");
            zh.push_str("等着的 ICMP 回显请求随即发出；h2 先用 ARP 问 h1，再发回显应答。");
        }
        (true, false, _) => {
            en.push_str(
                " The waiting ICMP echo request then goes out; no echo reply was captured.",
            );
            zh.push_str("等着的 ICMP 回显请求随即发出；没有抓到回显应答。");
        }
        _ => {}
    }
    tx(en, zh)
}

/// What the neighbour states of a table mean, for the states other than
/// REACHABLE (and PERMANENT) it shows; `reachable_ms` is the host's
/// base_reachable_time_ms. None when every entry is REACHABLE.
pub fn states(states: &[&str], reachable_ms: Option<u64>) -> Option<Text> {
    let time = match reachable_ms {
        Some(ms) => (
            format!(
                "base_reachable_time, {} s here: each entry gets a random time between half and one and a half times that",
                ms as f64 / 1000.0
            ),
            format!(
                "base_reachable_time，这里是 {} 秒：每个条目的实际时长在它的一半到一倍半之间随机取",
                ms as f64 / 1000.0
            ),
        ),
        None => (
            "base_reachable_time, 30 s by default".to_string(),
            "base_reachable_time，默认 30 秒".to_string(),
        ),
    };
    let mut en: Vec<String> = Vec::new();
    let mut zh: Vec<String> = Vec::new();
    let has = |s: &str| states.iter().any(|x| x.split(',').any(|y| y == s));
    if has("STALE") {
        en.push(format!("STALE: more time has passed since anything confirmed the entry than its reachable time ({}); a pause between steps (--step, --pace) is enough. The entry is still used: the next packet goes out at once with this MAC, and the entry moves to DELAY.", time.0));
        zh.push(format!("STALE：距上次确认已超过可达时间（{}）；在步骤之间停一会儿（--step、--pace）就够了。条目照样可用：下一个包立刻用这个 MAC 发出，条目转入 DELAY。", time.1));
    }
    if has("DELAY") || has("STALE") {
        en.push("DELAY: the kernel waits a few seconds (delay_first_probe_time) for a sign from above that the neighbour is alive, such as TCP's acknowledgements; without one it goes to PROBE.".to_string());
        zh.push("DELAY：内核等几秒（delay_first_probe_time），看上层有没有证明邻居还在的迹象，比如 TCP 的确认；没有就转入 PROBE。".to_string());
    }
    if has("PROBE") || has("DELAY") || has("STALE") {
        en.push("PROBE: it asks the neighbour directly, by unicast ARP to the MAC it has; an answer makes the entry REACHABLE again, silence makes it FAILED.".to_string());
        zh.push(
            "PROBE：直接向已知的 MAC 单播 ARP 询问；有应答就回到 REACHABLE，没有就变成 FAILED。"
                .to_string(),
        );
    }
    if has("FAILED") || has("INCOMPLETE") {
        en.push("INCOMPLETE: a request was broadcast and no answer has come yet; FAILED: none came at all.".to_string());
        zh.push("INCOMPLETE：请求已广播，应答还没到；FAILED：始终没有应答。".to_string());
    }
    if en.is_empty() {
        return None;
    }
    Some(tx(en.join(" "), zh.join("")))
}

/// --iface names no interface.
pub fn unknown_iface(iface: &str, names: &[String]) -> Text {
    tx(
        format!(
            "unknown interface {iface:?}; this machine has: {}",
            names.join(", ")
        ),
        format!("没有接口 {iface:?}；本机有：{}", names.join("、")),
    )
}

/// --iface names a link without ARP (loopback, tunnels).
pub fn no_link_layer(iface: &str) -> Text {
    tx(
        format!("{iface} has no link-layer addresses, so there is no ARP on it; give an Ethernet interface (`ip link` lists them)"),
        format!("{iface} 没有链路层地址，所以上面没有 ARP；请给一个以太网接口（`ip link` 可列出）"),
    )
}

/// --iface has no IPv4 address to ask from.
pub fn no_ipv4(iface: &str) -> Text {
    tx(
        format!("interface {iface} has no IPv4 address"),
        format!("接口 {iface} 没有 IPv4 地址"),
    )
}

/// The request on the host's link.
pub fn who_has(iface: &str, ip: Ipv4Addr) -> Text {
    tx(
        format!("ARP request on {iface}: who has {ip}?"),
        format!("在 {iface} 上发出 ARP 请求：谁是 {ip}？"),
    )
}

/// The reply on the host's link.
pub fn answered(ip: Ipv4Addr, mac: &str) -> Text {
    tx(
        format!("{ip} answered: it is at {mac}"),
        format!("{ip} 应答：它在 {mac}"),
    )
}

/// The host run's headline when resolved.
pub fn is_at(ip: Ipv4Addr, mac: &str) -> Text {
    tx(format!("{ip} is at {mac}"), format!("{ip} 在 {mac}"))
}

/// The host run's headline when nobody answered.
pub fn no_reply(ip: Ipv4Addr, iface: &str) -> Text {
    tx(
        format!("{ip}: no ARP reply on {iface}"),
        format!("{ip}：{iface} 上没有 ARP 应答"),
    )
}
