//! `l2tpns-loadgen sink`: the kernel-side end of upstream benchmark traffic.
//! Runs in the LNS's namespace on a UDP socket (e.g. on the TUN address),
//! receives in batches (recvmmsg), counts packets, IP bytes, loss and
//! reordering per source address, answers report requests that arrive
//! through a session, and prints one SINK line at the end (after
//! --duration, or at SIGTERM/SIGINT).

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::flow::{FlowTotals, RxFlow, Window};
use super::mmsg::BATCH;
use super::payload::{SinkReport, Stamp, MAGIC_REPORT_REQUEST};
use super::udp::PAYLOAD_AT;
use crate::daemon::workers::udp_batch::RecvBatch;

#[derive(Debug, Clone)]
pub struct SinkOptions {
    pub bind: SocketAddrV4,
    pub duration: Duration,
    /// Print one SINK_SOURCE line per source address too.
    pub per_source: bool,
    /// Zero: wake on each arrival. Otherwise read every this often
    /// (`TrafficOptions::rx_interval`).
    pub rx_interval: Duration,
}

/// Session indexes below this are counted in `SourceFlows::by_index`.
const MAX_INDEXED: u32 = 1 << 21;

/// The flows of each source, kept by the stamp's session index: a vector
/// the generator's packets walk in order. A hash map by address was read
/// at random, and at 100,000 sessions its 5 MB on the generator's CPU
/// evicted the kernel's and the generator's hot lines in the forwarded
/// windows only, which the paired bench charged to the LNS
/// (Docs/PERFORMANCE.md). Reports still count by address.
#[derive(Default)]
pub struct SourceFlows {
    /// (source, flow) by session index; an unspecified source: unused.
    by_index: Vec<(Ipv4Addr, RxFlow)>,
    /// Packets whose index is out of range or came from a second address.
    by_address: HashMap<Ipv4Addr, RxFlow>,
}

impl SourceFlows {
    pub fn record(&mut self, index: u32, from: Ipv4Addr, seq: u64, bytes: usize) {
        if index < MAX_INDEXED && !from.is_unspecified() {
            let i = index as usize;
            if self.by_index.len() <= i {
                self.by_index
                    .resize(i + 1, (Ipv4Addr::UNSPECIFIED, RxFlow::default()));
            }
            let slot = &mut self.by_index[i];
            if slot.0.is_unspecified() {
                slot.0 = from;
            }
            if slot.0 == from {
                slot.1.record(seq, bytes);
                return;
            }
        }
        self.by_address.entry(from).or_default().record(seq, bytes);
    }

    /// One flow per source address, in address order.
    pub fn by_source(&self) -> Vec<(Ipv4Addr, RxFlow)> {
        let mut v: Vec<(Ipv4Addr, RxFlow)> = self
            .by_index
            .iter()
            .filter(|(a, _)| !a.is_unspecified())
            .copied()
            .chain(self.by_address.iter().map(|(a, f)| (*a, *f)))
            .collect();
        v.sort_unstable_by_key(|(a, _)| *a);
        v.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1.absorb(&later.1);
            }
            same
        });
        v
    }
}

#[derive(Default)]
pub struct SinkState {
    pub flows: SourceFlows,
    pub window: Window,
    /// Datagrams that were not benchmark packets.
    pub other: u64,
    pub reports_sent: u64,
}

impl SinkState {
    /// One datagram from `from` (payload as the socket returned it).
    /// Returns a reply to send when it was a report request.
    pub fn handle(&mut self, now: Instant, from: Ipv4Addr, payload: &[u8]) -> Option<Vec<u8>> {
        if let Ok(st) = Stamp::parse(payload) {
            // Count what the wire carried: the IP packet.
            let ip_len = payload.len() + PAYLOAD_AT;
            self.flows.record(st.index, from, st.seq, ip_len);
            self.window.touch(now);
            None
        } else if payload.starts_with(&MAGIC_REPORT_REQUEST) {
            self.reports_sent += 1;
            Some(self.report().emit())
        } else {
            self.other += 1;
            None
        }
    }

    pub fn totals(&self) -> FlowTotals {
        FlowTotals::of(self.flows.by_source().iter().map(|(_, f)| f))
    }

    pub fn report(&self) -> SinkReport {
        let t = self.totals();
        SinkReport {
            packets: t.received,
            bytes: t.bytes,
            lost: t.lost,
            reordered: t.reordered,
            sources: t.flows,
            min_per_source: t.min_received,
            max_per_source: t.max_received,
            window_us: (self.window.secs() * 1e6) as u64,
        }
    }

    pub fn line(&self) -> String {
        let t = self.totals();
        let secs = self.window.secs();
        format!(
            "SINK packets={} bytes={} sources={} lost={} reordered={} min_per_source={} max_per_source={} \
             other={} window_s={:.3} pps={:.0} gbps={:.3}",
            t.received,
            t.bytes,
            t.flows,
            t.lost,
            t.reordered,
            t.min_received,
            t.max_received,
            self.other,
            secs,
            rate(t.received as f64, secs),
            rate(t.bytes as f64 * 8.0, secs) / 1e9,
        )
    }

    pub fn source_lines(&self) -> Vec<String> {
        self.flows
            .by_source()
            .into_iter()
            .map(|(a, f)| {
                format!(
                    "SINK_SOURCE addr={a} packets={} bytes={} lost={} reordered={}",
                    f.received,
                    f.bytes,
                    f.lost(),
                    f.reordered
                )
            })
            .collect()
    }
}

/// Per-second rate of `n` over `secs` (0 for an empty window).
pub fn rate(n: f64, secs: f64) -> f64 {
    if secs > 0.0 {
        n / secs
    } else {
        0.0
    }
}

/// Set by SIGTERM/SIGINT: the sink stops early and still prints its line.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

pub fn run_sink(opts: &SinkOptions) -> io::Result<SinkState> {
    // SAFETY: the handler only stores to an atomic (async-signal-safe).
    unsafe {
        libc::signal(libc::SIGTERM, on_stop as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_stop as *const () as libc::sighandler_t);
    }
    let sock = big_udp_socket(opts.bind)?;
    let fd = sock.as_raw_fd();
    let mut batch = RecvBatch::new(BATCH);
    let mut st = SinkState::default();
    let end = Instant::now() + opts.duration;
    eprintln!("SINK listening on {}", opts.bind);
    loop {
        let now = Instant::now();
        if now >= end || STOP.load(Ordering::Relaxed) {
            break;
        }
        if opts.rx_interval.is_zero() {
            let ms = end.saturating_duration_since(now).as_millis().min(100) as libc::c_int;
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut pfd, 1, ms) };
        } else {
            std::thread::sleep(opts.rx_interval.min(end.saturating_duration_since(now)));
        }
        loop {
            let n = match batch.recv(fd) {
                Ok(n) if n > 0 => n,
                _ => break,
            };
            let now = Instant::now();
            for i in 0..n {
                let Some((d, SocketAddr::V4(from))) = batch.get(i) else {
                    continue;
                };
                if let Some(reply) = st.handle(now, *from.ip(), d) {
                    let _ = sock.send_to(&reply, from);
                }
            }
            // Not filled: the queue was empty a moment ago (see
            // LoadGen::receive); the rest waits for the next wake-up.
            if n < batch.slots() {
                break;
            }
        }
    }
    Ok(st)
}

/// A UDP socket with large buffers (flat-out traffic arrives in bursts).
pub fn big_udp_socket(bind: SocketAddrV4) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    let _ = s.set_recv_buffer_size(32 << 20);
    let _ = s.set_send_buffer_size(32 << 20);
    s.bind(&std::net::SocketAddr::V4(bind).into())?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(index: u32, seq: u64, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        Stamp { index, seq }.emit(&mut b).unwrap();
        b
    }

    #[test]
    fn counts_per_source_and_answers_reports() {
        let mut s = SinkState::default();
        let t0 = Instant::now();
        let a = Ipv4Addr::new(10, 100, 0, 1);
        let b = Ipv4Addr::new(10, 100, 0, 2);
        for seq in [0, 1, 3, 2] {
            assert_eq!(s.handle(t0, a, &data(0, seq, 36)), None);
        }
        s.handle(t0 + Duration::from_secs(1), b, &data(1, 1, 36));
        assert_eq!(s.handle(t0, b, b"hello"), None);
        let r = s.handle(t0, a, &MAGIC_REPORT_REQUEST).unwrap();
        let r = SinkReport::parse(&r).unwrap();
        assert_eq!(
            r,
            SinkReport {
                packets: 5,
                bytes: 5 * 64,
                lost: 1,
                reordered: 1,
                sources: 2,
                min_per_source: 1,
                max_per_source: 4,
                window_us: 1_000_000,
            }
        );
        assert_eq!(s.other, 1);
        assert!(s
            .line()
            .starts_with("SINK packets=5 bytes=320 sources=2 lost=1 reordered=1"));
        assert_eq!(s.source_lines().len(), 2);
        assert!(s.source_lines()[0].contains("addr=10.100.0.1 packets=4"));
        assert_eq!(rate(10.0, 0.0), 0.0);
    }

    #[test]
    fn flows_kept_by_index_are_reported_by_address() {
        let mut f = SourceFlows::default();
        let a = Ipv4Addr::new(10, 100, 0, 1);
        let b = Ipv4Addr::new(10, 100, 0, 2);
        // Session 7 from a: 0 and 2 arrive, 1 lost.
        f.record(7, a, 0, 64);
        f.record(7, a, 2, 64);
        // Session 3 also from a (two sessions, one address): 0..=1.
        f.record(3, a, 0, 64);
        f.record(3, a, 1, 64);
        // Session 7 again from b (a second address): kept apart, by b.
        f.record(7, b, 0, 64);
        // An index past the vector's range: by address.
        f.record(MAX_INDEXED, b, 1, 64);
        let v = f.by_source();
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].0, v[0].1.received, v[0].1.lost()), (a, 4, 1));
        assert_eq!((v[1].0, v[1].1.received, v[1].1.bytes), (b, 2, 128));
        assert_eq!(v[1].1.reordered, 0);
    }
}
