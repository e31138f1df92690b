//! Must show of issue L: 10 000 fuzzed datagrams sent to `netlab lab dns`'s
//! loopback servers (responses with QR=1 among them, some spoofed from another
//! lab server's address, random bytes, truncated headers, huge counts,
//! compression loops) leave it idle afterwards: its CPU time stops growing,
//! its log stops growing, it still answers a normal question correctly, and
//! SIGTERM ends it.
//!
//! The datagrams are the same on every run (a seeded generator). Before the
//! QR=1 drop, one spoofed response set two servers answering each other's
//! NOTIMP replies forever: this test then never saw an idle second.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};

use super::lab_dns_edges::Spawned;
use super::*;

/// Datagrams in the burst.
const BURST: usize = 10_000;
/// CPU ticks (1/100 s on Linux) a second may use and still be idle: the lab's
/// main thread wakes 20 times a second to look at its stop flag.
const IDLE_TICKS: u64 = 5;

/// utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the lab runs");
    // After the command name in parentheses (which may hold spaces): state is
    // field 3, so utime and stime are the 12th and 13th after it.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// A DNS question for `name`/`qtype`, flags as given, written by hand so the
/// generator alone decides every byte.
fn question(id: u16, flags: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend(id.to_be_bytes());
    m.extend(flags.to_be_bytes());
    m.extend([0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        m.push(label.len() as u8);
        m.extend(label.as_bytes());
    }
    m.push(0);
    m.extend(qtype.to_be_bytes());
    m.extend(1u16.to_be_bytes());
    m
}

const NAMES: &[&str] = &[
    "www.baidu.com",
    "baidu.com",
    "www.qq.com",
    "nope.baidu.com",
    "www.flaky.net",
    "com",
    "10.113.0.203.in-addr.arpa",
    "www.lab.edu.cn",
    "x.y.z.example",
];

/// One fuzzed datagram and whether it is a response (QR=1), kind `k` of six.
fn datagram(rng: &mut StdRng, k: usize) -> (Vec<u8>, bool) {
    let name = NAMES[rng.random_range(0..NAMES.len())];
    let qtype = [1u16, 2, 5, 15, 16, 28, 255, 252, 41, 65000][rng.random_range(0..10)];
    let id = rng.random::<u16>();
    match k {
        // Random bytes, 0 to 600 of them.
        0 => {
            let n = rng.random_range(0..600);
            ((0..n).map(|_| rng.random::<u8>()).collect(), false)
        }
        // A question cut short: inside the header or inside the name.
        1 => {
            let q = question(id, 0x0100, name, qtype);
            let n = rng.random_range(0..q.len());
            (q[..n].to_vec(), false)
        }
        // Counts far beyond what follows.
        2 => {
            let mut q = question(id, rng.random::<u16>() & 0x7fff, name, qtype);
            for count in &mut q[4..12] {
                *count = if rng.random_bool(0.7) {
                    0xff
                } else {
                    rng.random()
                };
            }
            let tail = rng.random_range(0..40);
            q.extend((0..tail).map(|_| rng.random::<u8>()));
            (q, false)
        }
        // Compression loops: a name pointing at itself, or two at each other,
        // in the question or in an answer.
        3 => {
            let mut m = Vec::new();
            m.extend(id.to_be_bytes());
            let qr = rng.random_bool(0.5);
            m.extend(if qr { 0x8400u16 } else { 0x0100 }.to_be_bytes());
            m.extend([0, 1, 0, u8::from(qr), 0, 0, 0, 0]);
            if rng.random_bool(0.5) {
                m.extend([0xc0, 0x0c]); // offset 12: itself
            } else {
                m.extend([0xc0, 0x0e, 0xc0, 0x0c]); // 12 → 14 → 12 …
            }
            m.extend([0, 1, 0, 1]);
            if qr {
                m.extend([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 66]);
            }
            (m, qr)
        }
        // A well-formed response (QR=1), any RCODE, AA or not.
        4 => {
            let flags = 0x8000 | (u16::from(rng.random_bool(0.5)) << 10) | rng.random_range(0..16);
            (question(id, flags, name, qtype), true)
        }
        // A question with random flags and opcode (some with QR=1), and junk after it.
        _ => {
            let flags = rng.random::<u16>();
            let mut q = question(id, flags, name, qtype);
            let tail = rng.random_range(0..8);
            q.extend((0..tail).map(|_| rng.random::<u8>()));
            (q, flags & 0x8000 != 0)
        }
    }
}

/// Sends a datagram whose source address and port are another lab server's:
/// the lab's own socket holds that port, so the packet is written whole
/// (IPv4 and UDP headers) to a raw socket. Needs CAP_NET_RAW; None without.
struct Spoofer(Option<socket2::Socket>);

impl Spoofer {
    fn new() -> Spoofer {
        let s = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::RAW,
            Some(socket2::Protocol::from(libc::IPPROTO_RAW)),
        );
        Spoofer(s.ok())
    }

    fn send(&self, from: SocketAddr, to: SocketAddr, payload: &[u8]) -> bool {
        let Some(s) = &self.0 else { return false };
        let Some(p) = netlab::wire::build::udp_packet(from, to, payload) else {
            return false;
        };
        s.send_to(&p, &to.into()).is_ok()
    }
}

/// The lines of a file (the lab's log).
fn lines_of(path: &Path) -> usize {
    std::fs::read(path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
}

#[test]
fn ten_thousand_fuzzed_datagrams_leave_the_lab_idle_and_answering() {
    let _one = LAB_DNS.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (json, log) = (dir.path().join("out.jsonl"), dir.path().join("log.txt"));
    let (mut lab, port, running) = Spawned::start_logging(&["-v"], &[], &json, Some(&log));
    let pid = lab.child.id();
    // Every server of the lab, and its resolver.
    let mut servers: Vec<SocketAddr> = running["data"]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["addr"].as_str().unwrap().parse().unwrap())
        .collect();
    servers.push(
        running["data"]["resolver"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    );
    assert!(servers.len() > 10, "{running}");
    let ip = |a: SocketAddr| match a {
        SocketAddr::V4(v) => *v.ip(),
        SocketAddr::V6(_) => unreachable!("the lab is IPv4"),
    };

    // Senders: a client, and one socket on another lab server's address (any
    // port: the lab holds its own); with CAP_NET_RAW, also the server's port.
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let spoofer = Spoofer::new();
    let mut rng = StdRng::seed_from_u64(0x6e65_746c_6162);
    let (mut responses, mut spoofed, mut spoofed_port) = (0, 0, 0);
    let before = cpu_ticks(pid);
    for i in 0..BURST {
        let (bytes, qr) = datagram(&mut rng, i % 6);
        let to = servers[rng.random_range(0..servers.len())];
        responses += usize::from(qr);
        // A third of the responses come from another lab server's address.
        if qr && rng.random_bool(0.33) {
            let other = loop {
                let o = servers[rng.random_range(0..servers.len())];
                if o != to {
                    break o;
                }
            };
            if rng.random_bool(0.5) && spoofer.send(other, to, &bytes) {
                spoofed_port += 1;
            } else {
                let s = UdpSocket::bind(SocketAddrV4::new(ip(other), 0)).unwrap();
                s.send_to(&bytes, to).unwrap();
            }
            spoofed += 1;
            continue;
        }
        // A full receive buffer may drop some: the burst is what is sent.
        let _ = client.send_to(&bytes, to);
    }
    let burst_ticks = cpu_ticks(pid) - before;
    assert!(
        responses > 2_000,
        "{responses} responses (QR=1) in the burst"
    );
    assert!(
        spoofed > 500,
        "{spoofed} spoofed from a lab server's address"
    );

    // Idle afterwards. Work the burst legitimately started may still finish
    // (the resolver's walks and their timeouts, the `slow` server's 5 s
    // delay); a loop never would. So: seconds are measured until one is
    // idle, then two more must be idle too, and the log must stop growing.
    // The 30 s bound only keeps a failing run from hanging.
    let started = Instant::now();
    let mut last = cpu_ticks(pid);
    let mut idle_in_a_row = 0;
    let mut seconds = Vec::new();
    while idle_in_a_row < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never idle after the burst: ticks per second {seconds:?} (the burst took {burst_ticks})"
        );
        std::thread::sleep(Duration::from_secs(1));
        let now = cpu_ticks(pid);
        seconds.push(now - last);
        idle_in_a_row = if now - last <= IDLE_TICKS {
            idle_in_a_row + 1
        } else {
            0
        };
        last = now;
    }
    let logged = lines_of(&log);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lines_of(&log), logged, "the log still grows once idle");
    // At most a few lines per datagram: what was served and what was dropped,
    // and the resolver's walks (no line repeats forever).
    assert!(
        logged < 5 * BURST,
        "{logged} log lines for {BURST} datagrams"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("dropped: a response (QR=1)"),
        "QR=1 dropped, and said so"
    );
    assert!(!text.contains("panicked"), "{text}");

    // Still answering, correctly: the resolver walks for a name, a root refers.
    let ask = |to: SocketAddr, name: &str, rd: bool| -> hickory_proto::op::Message {
        let q = question(0x4e4c, if rd { 0x0100 } else { 0 }, name, 1);
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        client.send_to(&q, to).unwrap();
        let mut buf = [0u8; 4096];
        loop {
            let (n, from) = client.recv_from(&mut buf).expect("an answer");
            // Answers to the burst's datagrams may still wait in the buffer
            // (the `garbage` server's among them).
            let Ok(m) = hickory_proto::op::Message::from_vec(&buf[..n]) else {
                continue;
            };
            if from == to && m.metadata.id == 0x4e4c {
                return m;
            }
        }
    };
    let resolver = SocketAddr::from(([127, 53, 0, 53], port));
    let m = ask(resolver, "www.baidu.com.", true);
    assert_eq!(
        m.metadata.response_code,
        hickory_proto::op::ResponseCode::NoError
    );
    let addrs: Vec<String> = m
        .answers
        .iter()
        .filter(|r| r.record_type() == hickory_proto::rr::RecordType::A)
        .map(|r| r.data.to_string())
        .collect();
    assert!(addrs.contains(&"203.0.113.10".to_string()), "{m:?}");
    assert!(
        !addrs.contains(&Ipv4Addr::new(203, 0, 113, 66).to_string()),
        "poisoned: {m:?}"
    );
    let referral = ask(
        SocketAddr::from(([127, 53, 0, 1], port)),
        "www.qq.com.",
        false,
    );
    assert!(!referral.metadata.authoritative, "a referral: {referral:?}");
    assert!(!referral.authorities.is_empty(), "{referral:?}");

    // SIGTERM ends it; the 10 s bound keeps a failing run from hanging.
    let pid_s = pid.to_string();
    Command::new("kill")
        .args(["-TERM", &pid_s])
        .status()
        .unwrap();
    let asked = Instant::now();
    while !lab.exited() {
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "SIGTERM did not end it"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let code = lab.child.wait().unwrap();
    assert!(code.success(), "{code:?}");
    // Without CAP_NET_RAW every spoofed response came from another port of
    // the server's address: the loop a server's own port could start was not tried.
    require(
        "CAP_NET_RAW (root), to spoof a lab server's own port",
        spoofed_port > 0,
    );
}
