//! What `netlab firewall` says, in both languages: each message with
//! arguments is one function, its English and Chinese side by side.

use crate::cli::FirewallCase;
use crate::lab::firewall::{Outcome, Probe};
use crate::narrate::{tx, Text};

/// A case's section heading.
pub fn section(n: usize, case: FirewallCase) -> Text {
    let (en, zh) = match case {
        FirewallCase::None => ("no rules", "没有规则"),
        FirewallCase::Drop => ("drop", "丢弃（drop）"),
        FirewallCase::Reject => ("reject", "拒绝（reject）"),
        FirewallCase::Stateful => ("stateful", "有状态"),
        FirewallCase::Ports => ("a port rule", "按端口放行"),
    };
    tx(format!("{n} · {en}"), format!("{n} · {zh}"))
}

/// A case's title: what it shows.
pub fn title(case: FirewallCase) -> Text {
    match case {
        FirewallCase::None => tx("No rules: everything passes", "没有规则：一切放行"),
        FirewallCase::Drop => tx(
            "drop: the client hears nothing and waits",
            "drop：客户端什么也听不到，只能干等",
        ),
        FirewallCase::Reject => tx("reject: r1 answers at once", "reject：r1 立即作答"),
        FirewallCase::Stateful => tx(
            "stateful: replies come back in, new connections from LAN B do not",
            "有状态：回程流量能进来，局域网 B 新发起的连接进不来",
        ),
        FirewallCase::Ports => tx(
            "A port rule: TCP 80 and UDP 53 pass, 22 and 123 do not",
            "按端口放行：TCP 80 和 UDP 53 能过，22 和 123 不能",
        ),
    }
}

/// What a client saw, in a few words (`tcp`: a connection, else a datagram).
pub fn outcome(p: &Probe, tcp: bool, syns: Option<usize>) -> Text {
    let ms = p.elapsed.as_millis();
    let s = p.elapsed.as_secs_f64();
    match (p.outcome, syns) {
        (Outcome::Connected, _) if tcp => {
            tx(format!("connected, {ms} ms"), format!("连通，{ms} ms"))
        }
        (Outcome::Connected, _) => tx(format!("answered, {ms} ms"), format!("收到回应，{ms} ms")),
        (Outcome::Timeout, Some(n)) if n > 1 => tx(
            format!("no answer after {s:.1} s ({n} SYNs)"),
            format!("{s:.1} 秒无应答（{n} 个 SYN）"),
        ),
        (Outcome::Timeout, _) => tx(
            format!("no answer after {s:.1} s"),
            format!("{s:.1} 秒无应答"),
        ),
        (Outcome::Reset, _) => tx(
            format!("reset at once ({ms} ms)"),
            format!("立即被重置（{ms} ms）"),
        ),
        (Outcome::Unreachable, _) => tx(
            format!("ICMP unreachable at once ({ms} ms)"),
            format!("立即收到 ICMP 不可达（{ms} ms）"),
        ),
    }
}

/// A probe's line: which service, from where, and what happened.
pub fn probe(proto: &str, port: u16, from: &str, to: &str, seen: &Text) -> Text {
    tx(
        format!("{from} → {to} {proto} {port}: {}", seen.en),
        format!("{from} → {to} {proto} {port}：{}", seen.zh),
    )
}

/// When each SYN left, seconds from the first, and what the spacing says:
/// `linear` when each wait was about as long as the one before.
pub fn syn_times(times: &[f64], linear: bool) -> Text {
    let list = |sep: &str| {
        times
            .iter()
            .map(|x| format!("{x:.1}"))
            .collect::<Vec<_>>()
            .join(sep)
    };
    let (at, at_zh) = (list(", "), list("、"));
    if linear {
        tx(
            format!("SYNs at {at} s: about a second apart, as Linux resends its first SYNs (tcp_syn_linear_timeouts); later waits double"),
            format!("SYN 发出于 {at_zh} 秒：间隔约一秒，Linux 前几次重发 SYN 就是这样（tcp_syn_linear_timeouts）；之后的等待逐次翻倍"),
        )
    } else {
        tx(
            format!("SYNs at {at} s: each wait about twice the one before"),
            format!("SYN 发出于 {at_zh} 秒：每次等待约为上一次的两倍"),
        )
    }
}

/// A connection-tracking entry: who opened it, and the reply it lets in.
pub fn tracked(t: &crate::lab::firewall::Tracked) -> Text {
    let state = t
        .state
        .as_deref()
        .map(|s| format!(" {s}"))
        .unwrap_or_default();
    let (p, o, r, left) = (&t.proto, &t.original, &t.reply, t.timeout_s);
    tx(
        format!("{p}{state} {o}; lets in {r} ({left} s left)"),
        format!("{p}{state} {o}；放行回程 {r}（还剩 {left} 秒）"),
    )
}

/// An outcome's name.
fn name(o: Outcome) -> Text {
    match o {
        Outcome::Connected => tx("through", "连通"),
        Outcome::Timeout => tx("a timeout", "超时"),
        Outcome::Reset => tx("a reset", "重置"),
        Outcome::Unreachable => tx("ICMP unreachable", "ICMP 不可达"),
    }
}

/// A probe that did not do what the rule predicts.
pub fn unexpected(proto: &str, port: u16, want: Outcome, got: Outcome) -> Text {
    let (w, g) = (name(want), name(got));
    tx(
        format!(
            "{proto} {port}: the rule predicts {}, the client saw {}",
            w.en, g.en
        ),
        format!("{proto} {port}：按规则应是{}，客户端看到的是{}", w.zh, g.zh),
    )
}

/// The run's headline.
pub fn summary(cases: usize, probes: usize, as_predicted: usize) -> Text {
    if as_predicted == probes {
        tx(
            format!("{cases} rule sets, {probes} probes: each did what its rule says"),
            format!("{cases} 组规则，{probes} 次探测：每次都与规则相符"),
        )
    } else {
        tx(
            format!(
                "{cases} rule sets, {probes} probes: {} did not do what the rule says",
                probes - as_predicted
            ),
            format!(
                "{cases} 组规则，{probes} 次探测：有 {} 次与规则不符",
                probes - as_predicted
            ),
        )
    }
}
