//! What `netlab url` says, in both languages: each message with arguments is
//! one function, its English and Chinese side by side.

use std::net::Ipv4Addr;

use crate::lab::web::{Exchange, Lookup};
use crate::narrate::{tx, Text};

/// Step 1's title: the URL's parts.
pub fn anatomy(u: &url::Url) -> Text {
    let host = u.host_str().unwrap_or("");
    let port = u.port_or_known_default().unwrap_or(80);
    tx(
        format!(
            "{u}: scheme {}, host {host}, port {port}, path {}",
            u.scheme(),
            u.path()
        ),
        format!(
            "{u}：协议 {}，主机 {host}，端口 {port}，路径 {}",
            u.scheme(),
            u.path()
        ),
    )
}

/// The port, and where it came from.
pub fn port(u: &url::Url) -> Text {
    match u.port() {
        Some(p) => tx(
            format!("{p} (written in the URL)"),
            format!("{p}（URL 里写明的）"),
        ),
        None => tx(
            format!(
                "{} (not written: http's default)",
                u.port_or_known_default().unwrap_or(80)
            ),
            format!(
                "{}（没写：http 的默认端口）",
                u.port_or_known_default().unwrap_or(80)
            ),
        ),
    }
}

/// A part the URL may leave out.
pub fn optional(v: Option<&str>) -> Text {
    match v {
        Some(v) => tx(v, v),
        None => tx("(none)", "（无）"),
    }
}

/// Another URI, parsed by the same crate, and why it is not fetched.
pub fn other_uri(text: &str, scheme: &str, path: &str, urn: bool) -> Text {
    if urn {
        tx(
            format!("{text}: scheme {scheme}, path {path}, no host: a URN names a book and says nothing of where it is"),
            format!("{text}：协议 {scheme}，路径 {path}，没有主机：URN 只给一本书起名，不说它在哪里"),
        )
    } else {
        tx(
            format!("{text}: scheme {scheme}, path {path}, no host: a URI handed to a mail program, with nothing to connect to"),
            format!("{text}：协议 {scheme}，路径 {path}，没有主机：交给邮件程序的 URI，没有可连接的对象"),
        )
    }
}

/// Step 2's title.
pub fn looked_up(host: &str, l: &Lookup) -> Text {
    match l.address {
        Some(a) => tx(
            format!(
                "{host} → {a}, answered by h2 ({}) in {:.1} ms",
                l.server.ip(),
                l.ms
            ),
            format!(
                "{host} → {a}，由 h2（{}）应答，用时 {:.1} ms",
                l.server.ip(),
                l.ms
            ),
        ),
        None => tx(
            format!("{host}: no address ({})", l.rcode),
            format!("{host}：没有地址（{}）", l.rcode),
        ),
    }
}

/// The answer's line.
pub fn answer(l: &Lookup) -> Text {
    let aa = if l.authoritative {
        ("authoritative (AA=1)", "权威应答（AA=1）")
    } else {
        ("not authoritative", "非权威应答")
    };
    tx(
        format!(
            "{} {}, TTL {} s",
            l.rcode,
            aa.0,
            l.ttl.map_or("-".into(), |t| t.to_string())
        ),
        format!(
            "{}，{}，TTL {} 秒",
            l.rcode,
            aa.1,
            l.ttl.map_or("-".into(), |t| t.to_string())
        ),
    )
}

/// Where the whole walk is shown.
pub fn walk(host: &str) -> Text {
    tx(
        format!("the walk from the root, every referral: netlab dns-trace {host}"),
        format!("从根开始的完整查询过程：netlab dns-trace {host}"),
    )
}

/// Step 3's title: whom h1 ARPs for.
pub fn arp_title(to: Ipv4Addr, gateway: Option<Ipv4Addr>) -> Text {
    match gateway {
        Some(g) => tx(
            format!("{to} is not on LAN A: h1 sends to its gateway r1, and asks ARP for {g}"),
            format!("{to} 不在局域网 A 上：h1 把包交给网关 r1，先用 ARP 问 {g} 的 MAC"),
        ),
        None => tx(
            format!("{to} is on LAN A: h1 asks ARP for it directly"),
            format!("{to} 就在局域网 A 上：h1 直接用 ARP 问它的 MAC"),
        ),
    }
}

/// Step 4's title.
pub fn handshake(e: &Exchange) -> Text {
    tx(
        format!(
            "TCP three-way handshake with {}, inside connect() ({:.2} ms)",
            e.to, e.connect_ms
        ),
        format!(
            "与 {} 的 TCP 三次握手，在 connect() 里完成（{:.2} ms）",
            e.to, e.connect_ms
        ),
    )
}

/// The handshake's detail; `via_router` when the server is beyond r1.
pub fn handshake_detail(via_router: bool) -> Text {
    let mut en = String::from("SYN, SYN+ACK, ACK: both ends agree on starting sequence numbers before a byte of HTTP is sent. The port came from the URL.");
    let mut zh = String::from(
        "SYN、SYN+ACK、ACK：在发送任何 HTTP 字节之前，双方先约定各自的起始序号。端口来自 URL。",
    );
    if via_router {
        en.push_str(" The ladder draws each segment between the connection's ends, h1 and h3; on h1's link its frame goes to or from r1, which re-frames it for LAN B.");
        zh.push_str("时序图把每个报文段画在连接的两端 h1 和 h3 之间；在 h1 的链路上，它所在的帧进出的是 r1，由 r1 重新封装后转发到局域网 B。");
    }
    tx(en, zh)
}

/// The request step's detail.
pub fn request_detail() -> Text {
    tx(
        "HTTP is text: a request line with the method and the path (and query), then headers. Host names the site, because one address may serve many.",
        "HTTP 是文本：先是请求行（方法和路径，以及查询），再是各个头部。Host 头说明要哪个网站，因为一个地址上可能有很多网站。",
    )
}

/// The response step's detail, with the server's data segments on h1's
/// link (`data`).
pub fn response_detail(data: usize) -> Text {
    tx(
        format!(
            "The status line says how it went (200 found, 404 not found), then headers, a blank line, the body: {} here.",
            crate::narrate::plural(data as u64, "TCP segment", "TCP segments")
        ),
        format!("状态行说明结果（200 找到，404 没有），然后是头部、空行和正文：这里用了 {data} 个 TCP 报文段。"),
    )
}

/// Step 3's detail: whose MAC the frames will carry.
pub fn arp_detail(same_lan: bool) -> Text {
    if same_lan {
        tx(
            "IP decides the next hop from the routing table: the server is on this LAN, so the next hop is the server itself, and ARP finds its MAC.",
            "下一跳由 IP 按路由表决定：服务器就在本局域网，下一跳就是它自己，ARP 找出它的 MAC。",
        )
    } else {
        tx(
            "IP decides the next hop from the routing table; ARP then finds that hop's MAC on this link. The frame will carry r1's MAC while the packet inside keeps the server's IP.",
            "下一跳由 IP 按路由表决定；然后 ARP 在这条链路上找出下一跳的 MAC。帧上写的是 r1 的 MAC，而里面的包始终写着服务器的 IP。",
        )
    }
}

/// The failed connection's title.
pub fn no_connection(to: std::net::SocketAddr, reset: bool) -> Text {
    if reset {
        tx(
            format!("No connection to {to}: refused (RST)"),
            format!("连不上 {to}：被拒绝（RST）"),
        )
    } else {
        tx(
            format!("No connection to {to}: no answer"),
            format!("连不上 {to}：没有回应"),
        )
    }
}

/// Why a connection failed, as its frames show it: `reset` when the
/// host's TCP answered the SYN with RST.
pub fn refused(reset: bool) -> Text {
    let port = crate::lab::web::PORT;
    if reset {
        tx(
            format!("The lab's web server listens on h3 (203.0.113.10), port {port}, and nowhere else: here h1's TCP SYN found no program listening on the port, and the host's TCP refused it with RST."),
            format!("实验网络的网页服务器只在 h3（203.0.113.10）的 {port} 端口监听：这里 h1 的 TCP SYN 找不到监听这个端口的程序，对方的 TCP 用 RST 拒绝了它。"),
        )
    } else {
        tx(
            format!("The lab's web server listens on h3 (203.0.113.10), port {port}, and nowhere else: here h1's TCP SYN got no answer."),
            format!("实验网络的网页服务器只在 h3（203.0.113.10）的 {port} 端口监听：这里 h1 的 TCP SYN 没有得到任何回应。"),
        )
    }
}

/// The failed connection's title when h1 refused it itself (a loopback address).
pub fn refused_by_itself(to: std::net::SocketAddr) -> Text {
    tx(
        format!("No connection to {to}: refused by h1 itself"),
        format!("连不上 {to}：是 h1 自己拒绝的"),
    )
}

/// Why a connection to a loopback address failed.
pub fn loopback_refused(address: std::net::Ipv4Addr) -> Text {
    let port = crate::lab::web::PORT;
    tx(
        format!("{address} is in 127.0.0.0/8, every host's own loopback: h1 sent the SYN to itself over its lo interface, not onto its link (the capture on h1's eth0 holds none of it), and its own TCP, with no program listening on the port, refused it with RST. The lab's web server is h3 (203.0.113.10), port {port}."),
        format!("{address} 属于 127.0.0.0/8，是每台主机自己的环回地址：h1 把 SYN 经 lo 接口发给了自己，根本没有上链路（h1 的 eth0 上抓不到它），而 h1 自己的 TCP 找不到监听这个端口的程序，用 RST 拒绝了它。实验网络的网页服务器是 h3（203.0.113.10）的 {port} 端口。"),
    )
}

/// Step 5's title.
pub fn request_title(line: &str, bytes: usize, segments: usize) -> Text {
    tx(
        format!(
            "The request: {line} ({bytes} bytes in {})",
            crate::narrate::plural(segments as u64, "TCP segment", "TCP segments")
        ),
        format!("请求：{line}（{bytes} 字节，{segments} 个 TCP 报文段）"),
    )
}

/// Step 6's title.
pub fn response_title(e: &Exchange) -> Text {
    let ctype = e
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str())
        .unwrap_or("?");
    tx(
        format!(
            "The response: {} {}, {} bytes of {ctype}",
            e.status, e.reason, e.body_bytes
        ),
        format!(
            "响应：{} {}，{} 字节的「{ctype}」",
            e.status, e.reason, e.body_bytes
        ),
    )
}

/// Step 7's title.
pub fn close_title(total_ms: f64) -> Text {
    tx(
        format!("Connection: close, so the server closes first (FIN); the fetch took {total_ms:.1} ms from connect()"),
        format!("请求带着「Connection: close」，所以服务器先关闭（FIN）；从 connect() 起整个访问用时 {total_ms:.1} ms"),
    )
}

/// Step 8's title: the layers and their sizes.
pub fn peeled(sizes: &[(&str, usize)]) -> Text {
    let list = sizes
        .iter()
        .map(|(n, b)| format!("{n} {b} B"))
        .collect::<Vec<_>>();
    tx(
        format!("The request's frame, peeled: {}", list.join(", ")),
        format!("把请求所在的帧一层层剥开：{}", list.join("，")),
    )
}

/// One layer's line: its bytes, what it holds, what it is for.
pub fn layer(range: (usize, usize), holds: &Text, purpose: &Text) -> Text {
    let (a, b) = (range.0, range.1.saturating_sub(1));
    tx(
        format!("bytes {a}–{b}: {}. {}", holds.en, purpose.en),
        format!("第 {a}–{b} 字节：{}。{}", holds.zh, purpose.zh),
    )
}

/// What the Ethernet header holds.
pub fn ethernet_holds(dst: &str, dst_host: &str, src: &str) -> Text {
    tx(
        format!("to {dst} ({dst_host}), from {src} (h1), type 0x0800 = IPv4"),
        format!("目的 {dst}（{dst_host}），源 {src}（h1），类型 0x0800 = IPv4"),
    )
}

/// What the IPv4 header holds.
pub fn ip_holds(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8) -> Text {
    tx(
        format!("{src} → {dst}, TTL {ttl}, protocol 6 = TCP"),
        format!("{src} → {dst}，TTL {ttl}，协议 6 = TCP"),
    )
}

/// What the TCP header holds.
pub fn tcp_holds(sport: u16, dport: u16, flags: &str) -> Text {
    tx(
        format!("port {sport} → {dport}, flags {flags}"),
        format!("端口 {sport} → {dport}，标志 {flags}"),
    )
}

/// What the HTTP part holds.
pub fn http_holds(line: &str, host: &str) -> Text {
    tx(
        format!("\"{line}\" and \"Host: {host}\""),
        format!("「{line}」和「Host: {host}」"),
    )
}

/// Which part of the URL went where.
pub fn mapping(u: &url::Url, address: Ipv4Addr) -> Text {
    let host = u.host_str().unwrap_or("");
    let port = u.port_or_known_default().unwrap_or(80);
    let mut path = u.path().to_string();
    if let Some(q) = u.query() {
        path = format!("{path}?{q}");
    }
    let frag = match u.fragment() {
        Some(f) => (
            format!("; #{f} went nowhere: the fragment stays in the browser"),
            format!("；#{f} 哪儿也没去：片段只留在浏览器里"),
        ),
        None => (String::new(), String::new()),
    };
    tx(
        format!("host {host} → the DNS question (then {address} in IPv4) and the Host header; port {port} → TCP's destination port; {path} → the request line{}", frag.0),
        format!("主机 {host} → DNS 问题（再变成 IPv4 里的 {address}）和 Host 头；端口 {port} → TCP 目的端口；{path} → 请求行{}", frag.1),
    )
}

/// The summary's headline.
pub fn summary(u: &url::Url, e: &Exchange) -> Text {
    tx(
        format!(
            "GET {u} → {} {}, {} bytes from {}",
            e.status,
            e.reason,
            e.body_bytes,
            e.to.ip()
        ),
        format!(
            "GET {u} → {} {}，{} 字节，来自 {}",
            e.status,
            e.reason,
            e.body_bytes,
            e.to.ip()
        ),
    )
}

/// The headline when the name has no address.
pub fn no_address(host: &str, rcode: &str) -> Text {
    tx(
        format!("{host}: the lab's DNS has no address for it ({rcode}); nothing was fetched"),
        format!("{host}：实验网络的 DNS 没有它的地址（{rcode}）；什么也没访问"),
    )
}
