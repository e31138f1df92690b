//! What dns-trace says, in both languages: each message with arguments is one
//! function, its English and Chinese side by side; the story only chooses.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use hickory_proto::rr::{Name, RecordType};

use crate::dns::client::{Exchange, Failure, Transport};
use crate::dns::walk::Lame;
use crate::narrate::{plural, tx, Text};

/// --hosts names a folder.
pub fn hosts_is_folder(path: &Path) -> Text {
    let p = path.display();
    tx(
        format!("--hosts {p}: a folder; give a file in hosts format (the default is /etc/hosts)"),
        format!("--hosts {p}：这是一个目录；请给一个 hosts 格式的文件（默认是 /etc/hosts）"),
    )
}

/// --hosts names nothing.
pub fn hosts_missing(path: &Path) -> Text {
    let p = path.display();
    tx(
        format!(
            "--hosts {p}: no such file; give a file in hosts format (the default is /etc/hosts)"
        ),
        format!("--hosts {p}：没有这个文件；请给一个 hosts 格式的文件（默认是 /etc/hosts）"),
    )
}

/// --root-servers off this machine without --live.
pub fn root_off_machine(a: SocketAddr) -> Text {
    tx(
        format!(
            "--root-servers {a} is off this machine; add --live to send packets beyond loopback"
        ),
        format!("--root-servers {a} 不在本机；要把包发到回环之外，请加 --live"),
    )
}

/// The note --pcap carries when the servers were not on port 53.
pub fn port_note(port: u16) -> String {
    format!("The DNS servers listened on port {port}: open with `wireshark -d udp.port=={port},dns -d tcp.port=={port},dns` (tshark: the same -d) to decode them as DNS.")
}

/// Where the run's packets go: the built-in lab.
pub fn where_lab(servers: usize, port: u16) -> Text {
    tx(
        format!("the built-in lab: {servers} DNS servers on 127.53.0.0/16 port {port}, started for this run. Nothing leaves this machine."),
        format!("发往内置实验网络：本次运行在 127.53.0.0/16 的 {port} 端口上启动了 {servers} 台 DNS 服务器，数据包不会离开本机。"),
    )
}

/// Where the run's packets go: --root-servers.
pub fn where_custom() -> Text {
    tx(
        "the servers given with --root-servers, on this machine.",
        "发往 --root-servers 指定的本机服务器。",
    )
}

/// Where the run's packets go: --live.
pub fn where_live() -> Text {
    tx(
        "the real Internet (--live), starting at IANA's root servers.",
        "发往真实的互联网（--live），从 IANA 的根服务器开始。",
    )
}

/// The intro's title.
pub fn look_up(name: &str, qtype: RecordType) -> Text {
    tx(
        format!("Look up {name} {qtype}"),
        format!("查询 {name} 的 {qtype} 记录"),
    )
}

/// The intro's detail.
pub fn real_packets(place: &Text) -> Text {
    tx(
        format!("Real packets, against {}", place.en),
        format!("每个数据包都是真实的，{}", place.zh),
    )
}

/// The hosts file cannot be read.
pub fn hosts_unreadable(path: &Path, e: &std::io::Error) -> Text {
    let (p, why) = (path.display(), crate::error::os_error_text(e));
    tx(
        format!(
            "{p} could not be read ({}); the lookup goes straight to DNS.",
            why.en
        ),
        format!("无法读取 {p}（{}），查询直接交给 DNS。", why.zh),
    )
}

/// A hosts-file line names the host.
pub fn hosts_maps(path: &Path, line: usize, ip: IpAddr) -> Text {
    let p = path.display();
    tx(
        format!("{p} line {line} maps the name to {ip}"),
        format!("{p} 第 {line} 行把这个名字映射到 {ip}"),
    )
}

/// A matching hosts-file line of the asked family: whether it is the answer.
pub fn hosts_line_read(files_first: bool) -> Text {
    if files_first {
        tx(
            "nsswitch.conf reads `files` before `dns`, so this line is the answer a program gets (getaddrinfo, ping, curl) and no DNS packet is sent. netlab asks DNS anyway, to show what it would answer.",
            "nsswitch.conf 把 files 排在 dns 前面，所以程序（getaddrinfo、ping、curl）拿到的就是这一行的地址，不发任何 DNS 数据包。netlab 仍然去问 DNS，看看它会怎样回答。",
        )
    } else {
        tx(
            "nsswitch.conf asks `dns` before `files`: whenever DNS answers, a program gets DNS's answer, not this line's.",
            "nsswitch.conf 把 dns 排在 files 前面：只要 DNS 给出答案，程序拿到的就是 DNS 的答案，而不是这一行。",
        )
    }
}

/// A hosts-file line names the host, but not with an address of the asked type.
pub fn hosts_line_not_this_type(ip: IpAddr, qtype: RecordType) -> Text {
    let (fam_en, fam_zh) = if ip.is_ipv4() {
        ("an IPv4 address", "IPv4 地址")
    } else {
        ("an IPv6 address", "IPv6 地址")
    };
    match qtype {
        RecordType::A | RecordType::AAAA => tx(
            format!("The line gives {fam_en}, not what an {qtype} lookup asks for, so the lookup goes on to DNS."),
            format!("这一行给的是{fam_zh}，不是 {qtype} 查询要的那种，所以查询继续交给 DNS。"),
        ),
        _ => tx(
            format!("A hosts file holds addresses only: a {qtype} lookup goes to DNS whatever it says."),
            format!("hosts 文件里只有地址：{qtype} 查询不管它写了什么，都要交给 DNS。"),
        ),
    }
}

/// No hosts-file line names the host: what a line would change.
pub fn hosts_no_match(files_first: bool) -> Text {
    if files_first {
        tx(
            "No match, so the lookup moves on to DNS. A line `IP NAME` added here (as root) would override DNS for this machine only.",
            "没有匹配，查询转向 DNS。以 root 身份在这里加一行「IP 名字」，就能只在本机覆盖 DNS 的结果。",
        )
    } else {
        tx(
            "No match. nsswitch.conf asks `dns` before `files` here, so a line added to this file would not override what DNS answers.",
            "没有匹配。本机的 nsswitch.conf 把 dns 排在 files 前面，所以在这个文件里加一行也盖不过 DNS 的答案。",
        )
    }
}

/// No hosts-file line names the host.
pub fn hosts_no_line(path: &Path) -> Text {
    let p = path.display();
    tx(
        format!("{p} has no line for this name"),
        format!("{p} 里没有这个名字"),
    )
}

/// A query's label in the ladder.
pub fn query(qtype: RecordType, name: &Name) -> Text {
    tx(
        format!("query {qtype} {name}"),
        format!("查询 {qtype} {name}"),
    )
}

/// A referral's label in the ladder, and its headline.
pub fn referral_to(zone: &Name) -> Text {
    tx(format!("referral to {zone}"), format!("转介到 {zone}"))
}

/// The folded line for the lab resolver's own walk, whose packets are quiet:
/// how many queries, to whose servers (the first few), and how to see them.
/// One line at 80 columns.
pub fn resolver_walked(queries: usize, zones: &[String]) -> Text {
    let mut shown: Vec<&str> = Vec::new();
    for z in zones {
        if shown.iter().map(|s| s.len() + 2).sum::<usize>() + z.len() > 12 {
            break;
        }
        shown.push(z);
    }
    let more = shown.len() < zones.len();
    let (en_more, zh_more) = if more { (", …", "、…") } else { ("", "") };
    // In Chinese the root's servers are 根服务器, as the ladder's column says.
    let shown_zh: Vec<&str> = shown
        .iter()
        .map(|z| if *z == "root" { "根服务器" } else { z })
        .collect();
    tx(
        format!(
            "walked: {} to {}{en_more} (`--bytes` shows each)",
            plural(queries as u64, "query", "queries"),
            shown.join(", ")
        ),
        format!(
            "逐级查询了 {queries} 次：{}{zh_more}（`--bytes` 逐个显示）",
            shown_zh.join("、")
        ),
    )
}

/// The recursive server gave no reply.
pub fn resolver_silent(server: SocketAddr, why: &Failure) -> Text {
    let why = failure(why);
    tx(
        format!("The recursive server {server} did not answer: {}", why.en),
        format!("递归服务器 {server} 没有应答：{}", why.zh),
    )
}

/// A failure in a few words.
pub fn failure(f: &Failure) -> Text {
    match f {
        Failure::Timeout => tx("timed out", "超时"),
        Failure::Refused => tx("connection refused", "连接被拒绝"),
        Failure::Malformed(e) => tx(
            format!("malformed reply: {e}"),
            format!("应答格式错误：{e}"),
        ),
        Failure::Oversized(n) => tx(
            format!("oversized reply: {n} bytes over UDP, but a client without EDNS accepts at most 512"),
            format!("应答过大：UDP 上 {n} 字节，而不带 EDNS 的客户端最多接受 512 字节"),
        ),
        Failure::Io(e) => Text::from(e.clone()),
    }
}

/// Stage 3's first ask.
pub fn ask_rd1(server: IpAddr, rcode: &str, records: usize, ms: f64) -> Text {
    tx(
        format!(
            "Ask {server} with RD=1: {rcode}, {}, {ms:.3} ms",
            plural(records as u64, "record", "records")
        ),
        format!("以 RD=1 询问 {server}：{rcode}，{records} 条记录，{ms:.3} ms"),
    )
}

/// What stage 3's recursive server did with its cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cache {
    /// It answered from its cache, filled by stage 2's walk.
    Hit,
    /// It answered a "no" (NXDOMAIN, NODATA) from its cache: negative caching.
    HitNegative,
    /// Stage 2 never asked it (the stub answered the name itself).
    MissNeverAsked,
    /// Stage 2's walk ended in SERVFAIL, which this resolver does not keep.
    MissAfterFailure,
    /// It held nothing for the question (an entry with TTL 0, or expired).
    Miss,
    /// A real server: netlab cannot see its cache.
    Unknown,
}

/// Stage 3's ask, explained: whether the answer came from the recursive
/// server's cache and why, how much faster than the stub's first lookup, the TTLs.
pub fn rd1_detail(
    cache: Cache,
    speedup: Option<f64>,
    ttls: Option<(u32, u32)>,
    over_tcp: bool,
) -> Text {
    let rd = tx(
        "Asked directly, like dig (RD=1: do it all; RA=1: I recurse).",
        "像 dig 那样直接询问（RD=1：请帮我查到底；RA=1：本服务器提供递归）。",
    );
    let how = match cache {
        Cache::Hit => tx(
            " From its cache (filled by stage 2's walk)",
            "答案来自它的缓存（第 2 阶段那次逐级查询存下的）",
        ),
        Cache::HitNegative => tx(
            " From its cache: stage 2's walk ended in a 'no', and a 'no' is kept too, for the SOA's negative TTL (RFC 2308)",
            "答案来自它的缓存：第 2 阶段的逐级查询得到的是「不存在」，否定的答案也会缓存，时长由 SOA 的否定 TTL 决定（RFC 2308）",
        ),
        Cache::MissNeverAsked => tx(
            " Stage 2 never asked it (the stub answered the name itself), so its cache was empty and it walked from the root",
            "第 2 阶段根本没有问过它（存根自己回答了这个名字），所以它的缓存是空的，只好从根开始逐级查询",
        ),
        Cache::MissAfterFailure => tx(
            " Its cache had nothing: stage 2's walk ended in SERVFAIL, and this resolver does not keep a failure, so it walked from the root again",
            "它的缓存里什么也没有：第 2 阶段的逐级查询以 SERVFAIL 告终，而这台递归服务器不缓存失败，所以又从根开始查了一次",
        ),
        Cache::Miss => tx(
            " Its cache held nothing for this question, so it walked from the root",
            "它的缓存里没有这个问题的答案，所以从根开始逐级查询",
        ),
        Cache::Unknown => tx(
            " From its cache if it holds the name, else after a walk from the root as in stage 4",
            "缓存里有这个名字就直接回答，否则先像第 4 阶段那样从根开始逐级查询",
        ),
    };
    // The figures that show it: time against stage 2, and the TTL since.
    let mut figures: Vec<Text> = Vec::new();
    if let Some(r) = speedup {
        figures.push(tx(
            format!("{r:.0}× faster"),
            format!("用时约为第 2 阶段的 1/{r:.0}"),
        ));
    }
    match ttls {
        Some((a, b)) if b < a => figures.push(tx(
            format!("TTL {a} → {b} (whole seconds)"),
            format!("TTL {a} → {b}（按整秒计）"),
        )),
        Some((a, b)) if b == a => figures.push(tx(
            format!("TTL still {a} (under a second later)"),
            format!("TTL 仍是 {a}（还不到一秒）"),
        )),
        _ => {}
    }
    let (fig_en, fig_zh) = if figures.is_empty() {
        (".".to_string(), "。".to_string())
    } else {
        (
            format!(
                ": {}.",
                figures
                    .iter()
                    .map(|f| f.en.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!(
                "：{}。",
                figures
                    .iter()
                    .map(|f| f.zh.as_str())
                    .collect::<Vec<_>>()
                    .join("，")
            ),
        )
    };
    let tcp = if over_tcp {
        tx(
            " The UDP reply came back with TC=1 (truncated), so the question was asked again over TCP.",
            "UDP 应答带着 TC=1（被截断），所以改用 TCP 再问了一次。",
        )
    } else {
        Text::default()
    };
    tx(
        format!("{}{}{fig_en}{}", rd.en, how.en, tcp.en),
        format!("{}{}{fig_zh}{}", rd.zh, how.zh, tcp.zh),
    )
}

/// With --root-servers there is no recursive server for a stub.
pub fn no_stub() -> Text {
    tx(
        "No stub lookup: no recursive server here",
        "没有存根查询：这里没有递归服务器",
    )
}

/// Why there is no stub lookup.
pub fn no_stub_detail() -> Text {
    tx(
        "A program's stub resolver only forwards the question to a recursive server. With --root-servers there is none: stage 4 plays its part.",
        "程序里的存根解析器只是把问题转给递归服务器。使用 --root-servers 时没有递归服务器：由第 4 阶段扮演它的角色。",
    )
}

/// A duration the way the stub stage shows it: µs below a millisecond.
fn short(d: std::time::Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else {
        format!("{:.1} ms", us / 1000.0)
    }
}

/// Stage 2's first lookup.
pub fn stub_asked(
    server: Option<SocketAddr>,
    records: usize,
    failed: bool,
    took: std::time::Duration,
) -> Text {
    let server = server.map(|s| s.to_string()).unwrap_or_default();
    let t = short(took);
    if failed {
        return tx(
            format!("The stub asks {server} with RD=1: no answer, {t}"),
            format!("存根以 RD=1 询问 {server}：没有答案，{t}"),
        );
    }
    tx(
        format!(
            "The stub asks {server} with RD=1: {}, {t}",
            plural(records as u64, "record", "records")
        ),
        format!("存根以 RD=1 询问 {server}：{records} 条记录，{t}"),
    )
}

/// What a stub resolver is, and how this one was set up.
pub fn stub_detail(live: bool) -> Text {
    let setup = if live {
        tx(
            "set up from /etc/resolv.conf as glibc reads it",
            "像 glibc 那样按 /etc/resolv.conf 配置",
        )
    } else {
        tx("pointed at the lab's resolver", "指向实验网络的递归服务器")
    };
    tx(
        format!("A stub resolver (getaddrinfo's; here hickory-resolver, {}) does not walk: one RD=1 query.", setup.en),
        format!("存根解析器就是程序里 getaddrinfo 背后的那部分代码（这里用的是 hickory-resolver，{}）。它自己不逐级查询，只发一个 RD=1 的查询。", setup.zh),
    )
}

/// Servers listed beyond glibc's three.
pub fn beyond_maxns(ignored: &[IpAddr]) -> Text {
    let list = ignored
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    tx(
        format!("{list} (glibc reads only the first three)"),
        format!("{list}（glibc 只读前三个）"),
    )
}

/// Stage 2's first lookup, answered by the stub itself (a special-use name).
pub fn stub_itself(name: &str, records: usize, took: std::time::Duration) -> Text {
    let t = short(took);
    tx(
        format!(
            "The stub answers {name} itself: {}, 0 packets, {t}",
            plural(records as u64, "record", "records")
        ),
        format!("存根自己回答了 {name}：{records} 条记录，0 个数据包，{t}"),
    )
}

/// Why the stub asked no one: a loopback name (it answered with the
/// loopback) or a name that never exists (it answered "no such name").
pub fn stub_itself_detail(loopback: bool) -> Text {
    if loopback {
        tx(
            "RFC 6761 reserves localhost (and the loopback's reverse names) for the machine itself, and asks resolver libraries not to send them to DNS servers. hickory-resolver, like systemd-resolved, answers them itself, so no query left the process.",
            "RFC 6761 把 localhost（以及回环地址的反向名字）留给本机自己，并要求解析库不要把它们发给 DNS 服务器。hickory-resolver 和 systemd-resolved 一样，直接自己回答，所以没有任何查询离开进程。",
        )
    } else {
        tx(
            "RFC 6761 reserves invalid. (and RFC 7686 onion.) for names that never exist in DNS. hickory-resolver answers 'no such name' itself, so no query left the process.",
            "RFC 6761 保留了 invalid.（RFC 7686 保留了 onion.），这些名字在 DNS 里永远不存在。hickory-resolver 自己回答「不存在」，所以没有任何查询离开进程。",
        )
    }
}

/// Stage 2's second lookup: from the cache, from the stub itself, or asked again.
pub fn stub_again(
    packets: usize,
    took: std::time::Duration,
    source: crate::dns::stub::Source,
) -> Text {
    use crate::dns::stub::Source;
    let t = short(took);
    match source {
        Source::Cache => tx(
            format!("The same lookup again: from the stub's cache, 0 packets, {t}"),
            format!("再查一次：答案来自存根的缓存，0 个数据包，{t}"),
        ),
        Source::Itself => tx(
            format!("The same lookup again: the stub answers it itself again, 0 packets, {t}"),
            format!("再查一次：仍由存根自己回答，0 个数据包，{t}"),
        ),
        Source::Network => tx(
            format!("The same lookup again: {packets} packets, {t} (nothing was cached)"),
            format!("再查一次：{packets} 个数据包，{t}（没有缓存）"),
        ),
    }
}

/// Who caches lookups on this machine, outside the program, after the
/// second lookup came from `source`.
pub fn stub_cache(host: crate::host::HostCache, source: crate::dns::stub::Source) -> Text {
    use crate::dns::stub::Source;
    use crate::host::HostCache;
    let here = match host {
        HostCache::SystemdResolved => tx(
            "Here resolv.conf points at 127.0.0.53: systemd-resolved.",
            "本机 resolv.conf 指向 127.0.0.53，即 systemd-resolved。",
        ),
        HostCache::Nscd => tx("nscd runs here.", "本机运行着 nscd。"),
        HostCache::None => tx("Neither runs here.", "本机两者都没有。"),
    };
    let why = match source {
        Source::Cache => tx(
            "The stub keeps each answer for its TTL, so the repeat stayed in the process.",
            "存根把答案按 TTL 缓存起来，所以重复的查询没有离开进程。",
        ),
        Source::Itself => tx(
            "A special-use name needs no cache: the stub answers it every time without asking.",
            "特殊用途的名字用不着缓存：存根每次都直接回答，不去问任何服务器。",
        ),
        Source::Network => tx(
            "The stub kept nothing from the first lookup (a failure, or a TTL of 0), so it asked again.",
            "存根没有留下第一次查询的结果（查询失败，或者 TTL 为 0），所以又问了一次。",
        ),
    };
    tx(
        format!(
            "{} glibc keeps none: systemd-resolved or nscd cache for it. {}",
            why.en, here.en
        ),
        format!(
            "{}glibc 自己不缓存，要靠 systemd-resolved 或 nscd。{}",
            why.zh, here.zh
        ),
    )
}

/// "— trying the next of N left" after a failed exchange.
fn next(remaining: usize) -> Text {
    if remaining > 0 {
        tx(
            format!(
                " — trying the next of {} left",
                plural(remaining as u64, "server", "servers")
            ),
            format!("——换下一台（还剩 {remaining} 台）"),
        )
    } else {
        tx(" — no server of this zone left", "——该区已没有别的服务器")
    }
}

/// No usable reply from a walk server.
pub fn no_usable(f: &Failure, remaining: usize) -> Text {
    let (f, n) = (failure(f), next(remaining));
    tx(
        format!("no usable reply: {}{}", f.en, n.en),
        format!("没有可用的应答：{}{}", f.zh, n.zh),
    )
}

/// A walk server's error code.
pub fn server_error(rcode: impl std::fmt::Display, remaining: usize) -> Text {
    let n = next(remaining);
    tx(format!("{rcode}{}", n.en), format!("{rcode}{}", n.zh))
}

/// Why a reply leads nowhere, in a few words.
pub fn lame(why: &Lame) -> Text {
    match why {
        Lame::Loop { zone } => tx(
            format!("referral loop: the server for {zone} referred back to {zone} itself"),
            format!("转介循环：{zone} 的服务器又转介回 {zone} 自己"),
        ),
        Lame::Upward { zone, cut, name } => tx(
            format!("upward referral: the server for {zone} referred to {cut}, which does not lead towards {name}"),
            format!("向上转介：{zone} 的服务器转介到 {cut}，它不通往 {name}"),
        ),
        Lame::Empty => tx(
            "no answer, no referral and no SOA",
            "没有回答、没有转介、也没有 SOA",
        ),
    }
}

/// An unusable reply from a walk server.
pub fn unusable(why: &Lame, remaining: usize) -> Text {
    let (w, n) = (lame(why), next(remaining));
    tx(
        format!("unusable reply: {}{}", w.en, n.en),
        format!("无法使用的应答：{}{}", w.zh, n.zh),
    )
}

/// A referral with glue, explained.
pub fn referral_glue(child: &Name) -> Text {
    tx(
        format!("Not an answer but a referral (AA=0): the NS records of {child} in AUTHORITY, and their addresses (glue) in ADDITIONAL. Next: ask one of those servers."),
        format!("这不是答案而是转介（AA=0）：AUTHORITY 段给出 {child} 的 NS 记录，ADDITIONAL 段给出它们的地址（胶水记录）。下一步：询问其中一台。"),
    )
}

/// A referral without glue, explained.
pub fn referral_no_glue(child: &Name) -> Text {
    tx(
        format!("A referral (AA=0) to {child} whose NS records come with no addresses: ADDITIONAL holds no glue, because the servers are named outside {child}. Their addresses must be looked up first."),
        format!("转介（AA=0）到 {child}，但 NS 记录没有附带地址：ADDITIONAL 段没有胶水记录，因为这些服务器的名字不在 {child} 之内。必须先查出它们的地址。"),
    )
}

/// Why glue is needed: the server is named inside the zone it serves.
pub fn glue_needed(ns: &Name, child: &Name) -> Text {
    tx(
        format!(" Glue breaks a chicken-and-egg problem: {ns} is named inside {child}, the very zone it serves."),
        format!("这里离不开胶水记录：{ns} 的名字就在它所服务的 {child} 区里，不先知道它的地址，就没法去问它。"),
    )
}

/// A referral's NS set: each name with its glue addresses.
pub fn ns_set(ns: &[(Name, Vec<IpAddr>)]) -> Text {
    let list = |no_glue: &str, sep: &str| -> String {
        ns.iter()
            .map(|(n, ips)| {
                let ips: Vec<String> = ips.iter().map(|i| i.to_string()).collect();
                if ips.is_empty() {
                    format!("{n} {no_glue}")
                } else {
                    format!("{n} {}", ips.join(" "))
                }
            })
            .collect::<Vec<_>>()
            .join(sep)
    };
    tx(list("(no glue)", ", "), list("（无胶水记录）", "，"))
}

/// An answer's headline.
pub fn answer(qtype: RecordType, data: &[String]) -> Text {
    tx(
        format!("answer {qtype} {}", data.join(", ")),
        format!("答案 {qtype} {}", data.join("，")),
    )
}

/// A negative answer's SOA, in brackets.
pub fn soa(zone: &Name, negative_ttl: u32) -> Text {
    if zone.is_root() {
        return tx(
            format!(" (the root zone's SOA, negative TTL {negative_ttl})"),
            format!("（根区的 SOA，否定 TTL {negative_ttl}）"),
        );
    }
    tx(
        format!(" (SOA of {zone}, negative TTL {negative_ttl})"),
        format!("（{zone} 的 SOA，否定 TTL {negative_ttl}）"),
    )
}

/// NXDOMAIN's headline.
pub fn nxdomain(soa: &Text) -> Text {
    tx(
        format!("NXDOMAIN — the name does not exist{}", soa.en),
        format!("NXDOMAIN——该名字不存在{}", soa.zh),
    )
}

/// NODATA's headline.
pub fn nodata(qtype: RecordType, soa: &Text) -> Text {
    tx(
        format!(
            "NODATA — the name exists but has no {qtype} record{}",
            soa.en
        ),
        format!("NODATA——名字存在，但没有 {qtype} 记录{}", soa.zh),
    )
}

/// The walk starts at the root.
pub fn start(name: &Name) -> Text {
    tx(
        format!("Start at the root for {name}"),
        format!("从根开始查 {name}"),
    )
}

/// The walk starts again after a CNAME.
pub fn restart(alias: &Name, name: &Name) -> Text {
    tx(
        format!("CNAME {alias} → {name}: start again at the root"),
        format!("CNAME {alias} → {name}：从根开始重新查"),
    )
}

/// One exchange of the walk: whom it asked and what came back.
pub fn asked(server: &str, zone: &Name, transport: Transport, result: &Text) -> Text {
    let (zone_en, zone_zh) = if zone.is_root() {
        ("a root server".to_string(), "根服务器".to_string())
    } else {
        (format!("for {zone}"), format!("{zone} 区"))
    };
    if transport == Transport::Tcp {
        tx(
            format!("Ask {server} ({zone_en}) over TCP: {}", result.en),
            format!("通过 TCP 询问 {server}（{zone_zh}）：{}", result.zh),
        )
    } else {
        tx(
            format!("Ask {server} ({zone_en}): {}", result.en),
            format!("询问 {server}（{zone_zh}）：{}", result.zh),
        )
    }
}

/// No reply within the timeout.
pub fn none_after(seconds: f64) -> Text {
    tx(
        format!("none after {seconds:.1} s"),
        format!("{seconds:.1} 秒内没有应答"),
    )
}

/// A server off this machine is not asked.
pub fn skip(server: &str) -> Text {
    tx(
        format!("Skip {server}: off this machine"),
        format!("跳过 {server}：不在本机"),
    )
}

/// A glueless name server's address must be looked up first.
pub fn glueless(ns: &Name) -> Text {
    tx(
        format!("No glue for {ns}: look up its address first"),
        format!("{ns} 没有胶水记录：先查它的地址"),
    )
}

/// Why a server gave nothing usable, in words that fit what happened.
pub fn no_reply(f: &Failure, ex: &Exchange) -> Text {
    let failover = tx(
        "Every zone has several name servers, so a resolver simply tries the next one of the NS set: DNS is a cluster, not a single point of failure.",
        "每个区都有多台域名服务器，一台不行，解析器就换 NS 记录里的下一台：DNS 是一个集群，没有单点故障。",
    );
    let (fo_en, fo_zh) = (&failover.en, &failover.zh);
    let port = ex.server.port();
    match f {
        Failure::Timeout if ex.ignored > 0 => {
            let (n, why) = (ex.ignored, &ex.ignored_why);
            tx(
                format!("{} arrived, but none was our answer ({}). A resolver takes a reply only from the address it asked, with its own query id and its own question: anything else could be a forgery meant to poison its cache (RFC 5452). So it kept waiting, timed out, and moves on. {fo_en}", plural(n as u64, "datagram", "datagrams"), why.join(", ")),
                format!("收到了 {n} 个数据报，但没有一个是我们要的应答（{}）。解析器只接受来自被询问地址、带着自己的查询标识和自己的问题的应答：其他任何东西都可能是企图污染缓存的伪造（RFC 5452）。所以它继续等待直到超时，然后换下一台。{fo_zh}", why.join("，")),
            )
        }
        Failure::Timeout => tx(
            format!("This server is silent (a lame or dead server, or one far too slow). {fo_en}"),
            format!("这台服务器没有响应（失效、宕机或慢得离谱）。{fo_zh}"),
        ),
        Failure::Malformed(_) => tx(
            format!("The reply carried our id but is not a valid DNS message; a resolver drops it. {fo_en}"),
            format!("应答带着我们的标识，却不是合法的 DNS 报文；解析器丢弃它。{fo_zh}"),
        ),
        Failure::Oversized(_) => tx(
            format!("Without EDNS a UDP answer may be at most 512 bytes; a compliant server sends what fits and sets TC=1. This one broke the rule, so the reply is refused. {fo_en}"),
            format!("不带 EDNS 时，UDP 应答最多 512 字节；守规矩的服务器只发放得下的部分并置 TC=1。这台服务器违反了规则，所以应答被拒收。{fo_zh}"),
        ),
        Failure::Refused if ex.transport == Transport::Tcp => tx(
            format!("TC=1 told us to ask again over TCP, but nothing listens on TCP port {port} there: the answer cannot be had from this server. {fo_en}"),
            format!("TC=1 要求我们改用 TCP 重问，但那里的 TCP 端口 {port} 没有人监听：从这台服务器拿不到答案。{fo_zh}"),
        ),
        Failure::Refused => tx(
            format!("Nothing listens on UDP port {port} there: the host answered at once with ICMP port unreachable, so this is no silent server but a closed port. {fo_en}"),
            format!("那里的 UDP 端口 {port} 没有人监听：主机立刻回了 ICMP 端口不可达，所以这不是沉默的服务器，而是关着的端口。{fo_zh}"),
        ),
        _ => tx(
            format!("No usable reply. {fo_en}"),
            format!("没有可用的应答。{fo_zh}"),
        ),
    }
}

/// What a reply held: rcode, flags, section counts, time.
pub fn reply_counts(rcode: &str, flags: &str, counts: (usize, usize, usize), ms: f64) -> Text {
    let (a, ns, ar) = counts;
    tx(
        format!("{rcode} · {flags} · answer {a} · authority {ns} · additional {ar} · {ms:.3} ms"),
        format!("{rcode} · {flags} · 回答 {a} 条 · 授权 {ns} 条 · 附加 {ar} 条 · {ms:.3} ms"),
    )
}

/// What DNS answered, without the name: `A → 203.0.113.10 (via …)`.
pub fn dns_found(qtype: RecordType, data: &[String], via: Option<&Name>) -> Text {
    let (via_en, via_zh) = match via {
        Some(t) => (format!(" (via {t})"), format!("（经由 {t}）")),
        None => (String::new(), String::new()),
    };
    tx(
        format!("{qtype} → {}{via_en}", data.join(", ")),
        format!("{qtype} → {}{via_zh}", data.join("，")),
    )
}

/// NXDOMAIN, without the name.
pub fn dns_no_such_name() -> Text {
    tx("NXDOMAIN, no such name", "NXDOMAIN，不存在该名字")
}

/// NODATA, without the name.
pub fn dns_no_record(qtype: RecordType) -> Text {
    tx(
        format!("no {qtype} record (NODATA)"),
        format!("没有 {qtype} 记录（NODATA）"),
    )
}

/// A failed walk, without the name: the English gives the engine's whole
/// reason; the Chinese names the cause.
pub fn dns_failed(reason: &str, cause: &str) -> Text {
    let zh = match cause {
        "timeout" => "服务器都没有及时应答",
        "wrong_id_ignored" | "wrong_source_ignored" | "wrong_question_ignored" => {
            "只收到了必须忽略的应答（RFC 5452）"
        }
        "refused" => "端口关闭（ICMP 端口不可达）",
        "tc_without_tcp" => "应答被截断，而 TCP 被拒绝",
        "malformed" => "应答格式错误",
        "oversized" => "UDP 应答超过 512 字节",
        "server_error" => "服务器报错",
        "referral_loop" => "转介循环",
        "upward_referral" => "向上转介",
        "lame" => "应答既无回答也无转介",
        "truncated" => "通过 TCP 仍被截断",
        "off_machine" => "服务器不在本机（需要 --live）",
        "no_address" => "没有可询问的服务器",
        "referral_depth" => "转介次数超过上限",
        "cname_loop" => "CNAME 循环",
        "cname_chain" => "CNAME 链过长",
        "deadline" => "超过了整个查询的时限",
        _ => "本机的套接字出错",
    };
    tx(
        format!("no answer — {reason}"),
        format!("没有得到答案——{zh}（{cause}）"),
    )
}

/// The run's headline from what DNS said: `www.baidu.com. A → …` for an
/// answer, `name: …` otherwise.
pub fn headline(name: &str, result: &Text, answered: bool) -> Text {
    if answered {
        tx(
            format!("{name} {}", result.en),
            format!("{name} {}", result.zh),
        )
    } else {
        tx(
            format!("{name}: {}", result.en),
            format!("{name}：{}", result.zh),
        )
    }
}

/// The run's headline when the hosts file answered first.
pub fn from_hosts(name: &str, qtype: RecordType, ip: IpAddr, path: &Path, line: usize) -> Text {
    let p = path.display();
    tx(
        format!("{name} {qtype} → {ip} (from {p} line {line})"),
        format!("{name} {qtype} → {ip}（来自 {p} 第 {line} 行）"),
    )
}

/// What DNS alone said, under the hosts file's answer.
pub fn dns_alone(result: &Text) -> Text {
    tx(
        format!("DNS alone (stage 4): {}", result.en),
        format!("只问 DNS 的结果（阶段 4）：{}", result.zh),
    )
}

/// The root hints: each root server's name and address.
pub fn root_hints(roots: &[String]) -> Text {
    tx(roots.join(", "), roots.join("，"))
}

/// The run's totals.
pub fn totals(queries: u32, servers: usize, ms: f64) -> Text {
    tx(
        format!(
            "{} to {} in {ms:.1} ms",
            plural(queries, "query", "queries"),
            plural(servers as u64, "server address", "server addresses")
        ),
        format!("共 {queries} 次查询，涉及 {servers} 个服务器地址，用时 {ms:.1} ms"),
    )
}
