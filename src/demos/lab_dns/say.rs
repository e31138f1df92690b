//! What `netlab lab dns` says, in both languages: each message with arguments
//! is one function, its English and Chinese side by side.

use std::net::SocketAddr;
use std::path::Path;

use crate::narrate::{plural, tx, Text};

/// Root hints files of killed labs were removed.
pub fn removed_stale(n: usize) -> Text {
    tx(
        format!(
            "Removed {} left by a lab that was killed",
            plural(n as u64, "root hints file", "root hints files")
        ),
        format!("已删除被杀掉的实验网络遗留的 {n} 个根提示文件"),
    )
}

/// The lab is serving.
pub fn running(port: u16, servers: usize) -> Text {
    tx(
        format!("DNS lab running on port {port}: {servers} authoritative servers and a resolver"),
        format!("DNS 实验网络已在端口 {port} 运行：{servers} 台权威服务器和一台递归服务器"),
    )
}

/// The commands a student can try against it.
pub fn try_it(resolver: SocketAddr, port: u16, hints: &Path) -> Text {
    let (ip, p, h) = (resolver.ip(), port, hints.display());
    tx(
        format!(
            "Try it from another terminal:\n  dig @{ip} -p {p} www.baidu.com          (recursive, RD=1)\n  dig @127.53.0.1 -p {p} www.baidu.com +norec (ask the root yourself)\n  drill -T -r {h} -p {p} www.baidu.com\n  netlab dns-trace www.baidu.com --root-servers 127.53.0.1:{p}\nCtrl-C stops every server."
        ),
        format!(
            "在另一个终端试试：\n  dig @{ip} -p {p} www.baidu.com          （递归，RD=1）\n  dig @127.53.0.1 -p {p} www.baidu.com +norec （自己去问根）\n  drill -T -r {h} -p {p} www.baidu.com\n  netlab dns-trace www.baidu.com --root-servers 127.53.0.1:{p}\n按 Ctrl-C 停止所有服务器。"
        ),
    )
}

/// A server's line: address, names, zones, and how it misbehaves.
pub fn server(
    addr: SocketAddr,
    names: &[String],
    zones: &[String],
    misbehaves: Option<&str>,
) -> Text {
    let head = format!("{:<20} {:<28} {}", addr, names.join(","), zones.join(" "));
    match misbehaves {
        Some(m) => tx(
            format!("{head}  (misbehaves: {m})"),
            format!("{head}  （故意出错：{m}）"),
        ),
        None => Text::from(head),
    }
}

/// What the servers received and sent while the lab ran.
pub fn heard(received: usize, sent: usize, senders: usize, not_kept: u64) -> Text {
    let mut t = tx(
        format!(
            "While the lab ran, its servers received {} from {} and sent {}",
            plural(received as u64, "message", "messages"),
            plural(senders as u64, "address", "addresses"),
            plural(sent as u64, "message", "messages"),
        ),
        format!(
            "实验网络运行期间，服务器从 {senders} 个地址收到 {received} 条消息，发出 {sent} 条"
        ),
    );
    if not_kept > 0 {
        t.en.push_str(&format!(
            "; {not_kept} more were seen but not kept (the lab keeps at most {})",
            crate::lab::dns::MAX_KEPT
        ));
        t.zh.push_str(&format!(
            "；另有 {not_kept} 条看到了但没有保留（最多保留 {} 条）",
            crate::lab::dns::MAX_KEPT
        ));
    }
    t
}

/// One message's label: the question a query asks, a response's RCODE, or
/// what arrived when it is no DNS message.
pub fn message(bytes: &[u8], tcp: bool) -> Text {
    use hickory_proto::op::{Message, MessageType};
    let over = if tcp { " (TCP)" } else { "" };
    let zh_over = if tcp { "（TCP）" } else { "" };
    match Message::from_vec(bytes) {
        Ok(m) if m.metadata.message_type == MessageType::Query => match m.queries.first() {
            Some(q) => tx(
                format!("query {} {}{over}", q.query_type(), q.name()),
                format!("查询 {} {}{zh_over}", q.query_type(), q.name()),
            ),
            None => tx(
                format!("query without a question{over}"),
                format!("没有问题的查询{zh_over}"),
            ),
        },
        Ok(m) => {
            let rcode = crate::wire::dns::rcode_name(u16::from(m.metadata.response_code));
            tx(
                format!("response {rcode}{over}"),
                format!("应答 {rcode}{zh_over}"),
            )
        }
        Err(_) => tx(
            format!("{} bytes, not a DNS message{over}", bytes.len()),
            format!("{} 字节，不是 DNS 消息{zh_over}", bytes.len()),
        ),
    }
}
