//! Benchmark traffic through the sessions after setup: its options and the
//! figures the run reports (the TRAFFIC line and the fields appended to
//! SUMMARY). Upstream goes from every session to a sink behind the LNS;
//! downstream comes from a kernel-side source and is counted here.

use std::net::SocketAddrV4;
use std::time::Duration;

use super::flow::{FlowTotals, Window};
use super::payload::SinkReport;
use super::sink::rate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
    Both,
}

impl Direction {
    pub fn up(self) -> bool {
        matches!(self, Direction::Up | Direction::Both)
    }
    pub fn down(self) -> bool {
        matches!(self, Direction::Down | Direction::Both)
    }
    pub fn name(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Both => "both",
        }
    }
}

#[derive(Debug, Clone)]
pub struct TrafficOptions {
    pub direction: Direction,
    /// Total upstream packets per second over all sessions; None = flat out.
    pub rate: Option<f64>,
    /// IP packet size, 64..=1500.
    pub size: usize,
    pub duration: Duration,
    /// Where upstream packets go (required for up and both).
    pub sink: Option<SocketAddrV4>,
    /// UDP source port of upstream packets.
    pub port: u16,
    /// The phase ends once nothing has arrived for this long after `duration`.
    pub drain: Duration,
    /// The LNS's PID: its CPU time during the traffic phase is reported.
    pub lns_pid: Option<u32>,
    /// Zero: read what arrives as it arrives. Otherwise read it every this
    /// often during the traffic: the receiver's cost then does not depend
    /// on how the LNS batches its sends (a fair whole-machine figure).
    pub rx_interval: Duration,
    /// Upstream benchmark packets carry this inner source address instead
    /// of their session's (the LNS's anti-spoofing must drop them all).
    pub spoof_source: Option<std::net::Ipv4Addr>,
    /// Upstream packets switchable by signal to this port of the LNS's
    /// address, where nobody reads them (`loadgen::decoy`).
    pub decoy_port: Option<u16>,
}

/// What one shard (or the merged run) measured.
#[derive(Debug, Clone, Default)]
pub struct TrafficStats {
    pub up_sent: u64,
    pub up_bytes: u64,
    pub up_min_session: u64,
    pub up_max_session: u64,
    pub up_window: Window,
    pub down: FlowTotals,
    pub down_window: Window,
    /// Benchmark packets that arrived on a session other than their address's.
    pub misdelivered: u64,
    pub sink: Option<SinkReport>,
    pub lns_cpu_secs: Option<f64>,
    pub phase_secs: f64,
}

impl TrafficStats {
    pub fn merge(&self, o: &TrafficStats) -> TrafficStats {
        let has_up = |t: &TrafficStats| t.up_sent > 0 || t.up_max_session > 0;
        let (min, max) = match (has_up(self), has_up(o)) {
            (true, true) => (
                self.up_min_session.min(o.up_min_session),
                self.up_max_session.max(o.up_max_session),
            ),
            (true, false) => (self.up_min_session, self.up_max_session),
            (false, _) => (o.up_min_session, o.up_max_session),
        };
        TrafficStats {
            up_sent: self.up_sent + o.up_sent,
            up_bytes: self.up_bytes + o.up_bytes,
            up_min_session: min,
            up_max_session: max,
            up_window: self.up_window.merge(&o.up_window),
            down: self.down.merge(&o.down),
            down_window: self.down_window.merge(&o.down_window),
            misdelivered: self.misdelivered + o.misdelivered,
            sink: self.sink.or(o.sink),
            lns_cpu_secs: self.lns_cpu_secs.or(o.lns_cpu_secs),
            phase_secs: self.phase_secs.max(o.phase_secs),
        }
    }

    /// Upstream packets delivered: the sink's count when it answered.
    pub fn up_received(&self) -> u64 {
        self.sink.map_or(0, |s| s.packets)
    }

    pub fn up_lost(&self) -> u64 {
        self.up_sent.saturating_sub(self.up_received())
    }

    /// (pps, Gbit/s) delivered upstream: over the sink's receive window
    /// when it answered, else what we sent over our send window.
    pub fn up_rates(&self) -> (f64, f64) {
        match self.sink {
            Some(s) => {
                let secs = s.window_us as f64 / 1e6;
                (
                    rate(s.packets as f64, secs),
                    rate(s.bytes as f64 * 8.0, secs) / 1e9,
                )
            }
            None => {
                let secs = self.up_window.secs();
                (
                    rate(self.up_sent as f64, secs),
                    rate(self.up_bytes as f64 * 8.0, secs) / 1e9,
                )
            }
        }
    }

    pub fn down_rates(&self) -> (f64, f64) {
        let secs = self.down_window.secs();
        (
            rate(self.down.received as f64, secs),
            rate(self.down.bytes as f64 * 8.0, secs) / 1e9,
        )
    }

    /// Packets the LNS carried, both ways.
    pub fn packets_carried(&self) -> u64 {
        self.up_received() + self.down.received
    }

    /// LNS CPU seconds per million packets carried.
    pub fn cpu_per_mpkt(&self) -> Option<f64> {
        let cpu = self.lns_cpu_secs?;
        let p = self.packets_carried();
        (p > 0).then(|| cpu / (p as f64 / 1e6))
    }

    pub fn line(&self, opts: &TrafficOptions) -> String {
        let (up_pps, up_gbps) = self.up_rates();
        let (down_pps, down_gbps) = self.down_rates();
        let sink = self.sink.unwrap_or_default();
        format!(
            "TRAFFIC direction={} size={} rate={} duration_s={:.3} up_sent={} up_received={} up_lost={} \
             up_reordered={} up_pps={:.0} up_gbps={:.3} up_min_session={} up_max_session={} \
             sink_min_source={} sink_max_source={} sink_sources={} down_received={} down_lost={} \
             down_reordered={} down_pps={:.0} down_gbps={:.3} down_min_session={} down_max_session={} \
             misdelivered={} sink_report={} lns_cpu_s={} lns_cpu_s_per_mpkt={}",
            opts.direction.name(),
            opts.size,
            opts.rate.map_or("flat-out".to_string(), |r| format!("{r:.0}")),
            self.phase_secs,
            self.up_sent,
            self.up_received(),
            self.up_lost(),
            sink.reordered,
            up_pps,
            up_gbps,
            self.up_min_session,
            self.up_max_session,
            sink.min_per_source,
            sink.max_per_source,
            sink.sources,
            self.down.received,
            self.down.lost,
            self.down.reordered,
            down_pps,
            down_gbps,
            self.down.min_received,
            self.down.max_received,
            self.misdelivered,
            if self.sink.is_some() { "yes" } else { "no" },
            self.lns_cpu_secs.map_or("-".to_string(), |c| format!("{c:.2}")),
            self.cpu_per_mpkt().map_or("-".to_string(), |c| format!("{c:.3}")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::flow::RxFlow;

    fn opts() -> TrafficOptions {
        TrafficOptions {
            direction: Direction::Both,
            rate: Some(2000.0),
            size: 64,
            duration: Duration::from_secs(2),
            sink: None,
            port: 40000,
            drain: Duration::from_secs(1),
            lns_pid: None,
            rx_interval: Duration::ZERO,
            spoof_source: None,
            decoy_port: None,
        }
    }

    #[test]
    fn loss_rates_and_cpu() {
        let mut f = RxFlow::default();
        for s in 0..1000 {
            f.record(s, 64);
        }
        let t = TrafficStats {
            up_sent: 4000,
            up_bytes: 4000 * 64,
            up_min_session: 200,
            up_max_session: 200,
            down: FlowTotals::of([&f]),
            sink: Some(SinkReport {
                packets: 3990,
                bytes: 3990 * 64,
                window_us: 2_000_000,
                ..SinkReport::default()
            }),
            lns_cpu_secs: Some(0.5),
            ..TrafficStats::default()
        };
        assert_eq!(t.up_lost(), 10);
        assert_eq!(t.up_rates().0, 1995.0);
        assert_eq!(t.packets_carried(), 4990);
        assert!((t.cpu_per_mpkt().unwrap() - 0.5 / 0.00499).abs() < 1e-6);
        let line = t.line(&opts());
        assert!(
            line.contains(" up_sent=4000 up_received=3990 up_lost=10 "),
            "{line}"
        );
        assert!(line.contains(" down_received=1000 down_lost=0 "), "{line}");
        assert!(line.contains(" sink_report=yes lns_cpu_s=0.50 "), "{line}");
        let none = TrafficStats::default();
        assert_eq!(none.up_rates(), (0.0, 0.0));
        assert_eq!(none.cpu_per_mpkt(), None);
        assert!(none
            .line(&opts())
            .ends_with("lns_cpu_s=- lns_cpu_s_per_mpkt=-"));
    }

    #[test]
    fn shards_merge() {
        let a = TrafficStats {
            up_sent: 10,
            up_min_session: 5,
            up_max_session: 5,
            phase_secs: 2.0,
            ..TrafficStats::default()
        };
        let b = TrafficStats {
            up_sent: 7,
            up_min_session: 3,
            up_max_session: 4,
            misdelivered: 1,
            phase_secs: 2.5,
            ..TrafficStats::default()
        };
        let m = a.merge(&b);
        assert_eq!((m.up_sent, m.up_min_session, m.up_max_session), (17, 3, 5));
        assert_eq!((m.misdelivered, m.phase_secs), (1, 2.5));
        let e = TrafficStats::default().merge(&a);
        assert_eq!((e.up_min_session, e.up_max_session), (5, 5));
        assert!(Direction::Both.up() && Direction::Both.down());
        assert!(!Direction::Up.down() && !Direction::Down.up());
    }
}
