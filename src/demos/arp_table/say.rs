//! What arp-table says, in both languages: each message with arguments is one
//! function, its English and Chinese side by side; the story only chooses.

use std::net::Ipv4Addr;

use crate::narrate::{tx, Text};

/// The host table's headline.
pub fn entries(n: usize) -> Text {
    tx(format!("{n} entries"), format!("{n} 个条目"))
}

/// The lab's headline.
pub fn learned(n: usize) -> Text {
    tx(
        format!("h1 learned {n} MAC addresses by ARP"),
        format!("h1 通过 ARP 学到了 {n} 个 MAC 地址"),
    )
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
