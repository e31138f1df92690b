//! A steady pinger: one ICMP echo request every interval, each waiting for
//! its own reply, whatever happened to the ones before (surge-ping, a plain
//! async pinger). It runs on a thread inside a lab host's namespace with a
//! runtime of its own, until stopped; what it returns is what the pinger
//! itself saw, to set beside what the capture saw.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use surge_ping::{Client, Config, PingIdentifier, PingSequence};

use crate::error::{Error, Result};
use crate::lab::netns::Netns;

/// One echo: its sequence number, when it left, and its round trip if a
/// reply came in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Echo {
    /// Sequence number (from 0).
    pub seq: u16,
    /// When it was sent.
    pub sent: SystemTime,
    /// Round-trip time; none when no reply came.
    pub rtt: Option<Duration>,
}

/// A running pinger.
pub struct Pinger {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<std::io::Result<Vec<Echo>>>>,
}

/// The payload of each echo: 56 bytes, as ping sends.
const PAYLOAD: [u8; 56] = [0x42; 56];

impl Pinger {
    /// Ping `target` from `ns` every `interval`, each echo waiting up to
    /// `wait` for its reply. Returns once the ICMP socket is open.
    pub fn start(
        ns: &Netns,
        target: Ipv4Addr,
        interval: Duration,
        wait: Duration,
    ) -> Result<Pinger> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let s = stop.clone();
        let thread = ns.spawn(move || -> std::io::Result<Vec<Echo>> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let client = match Client::new(&Config::default()) {
                    Ok(c) => {
                        let _ = ready_tx.send(None);
                        c
                    }
                    Err(e) => {
                        let _ = ready_tx.send(e.raw_os_error());
                        return Err(e);
                    }
                };
                let ident = PingIdentifier(rand::random());
                let mut tick = tokio::time::interval(interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut echoes = tokio::task::JoinSet::new();
                let mut seq: u16 = 0;
                while !s.load(Ordering::Relaxed) {
                    tick.tick().await;
                    let mut p = client.pinger(IpAddr::V4(target), ident).await;
                    p.timeout(wait);
                    let n = seq;
                    echoes.spawn(async move {
                        let sent = SystemTime::now();
                        let rtt = p.ping(PingSequence(n), &PAYLOAD).await.ok().map(|(_, d)| d);
                        Echo { seq: n, sent, rtt }
                    });
                    seq = seq.wrapping_add(1);
                }
                let mut out = Vec::new();
                while let Some(e) = echoes.join_next().await {
                    if let Ok(e) = e {
                        out.push(e);
                    }
                }
                out.sort_by_key(|e| e.sent);
                Ok(out)
            })
        })?;
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(None) => Ok(Pinger { stop, thread }),
            _ => match thread.join() {
                Ok(Ok(Err(e))) => Err(Error::sys(
                    "open an ICMP socket in",
                    "打开 ICMP 套接字：",
                    &ns.name,
                    e,
                )),
                Ok(Err(e)) => Err(e),
                _ => Err(Error::Internal("the pinger did not start".into())),
            },
        }
    }

    /// Stop sending; wait for the echoes in flight; every echo, in order.
    pub fn stop(self) -> Result<Vec<Echo>> {
        self.stop.store(true, Ordering::Relaxed);
        let name = "the pinger";
        self.thread
            .join()
            .map_err(|_| Error::Internal(format!("{name} panicked")))??
            .map_err(|e| Error::sys("ping from", "ping：", "h1", e))
    }
}
