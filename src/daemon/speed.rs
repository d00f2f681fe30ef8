//! `dump_speed`: once a second the data plane's throughput as l2tpns prints
//! it (l2tpns.c main loop: `printf` of `config->bandwidth` to stdout, at no
//! debug level, whatever log_file says):
//! `UDP-ETH:%1.0f/%1.0f  ETH-UDP:%1.0f/%1.0f  TOTAL:%0.1f   IN:%u OUT:%u`,
//! Mbit/s (of 2^20 bits) each way and packets/s in and out. Sans-IO but for
//! `print`: totals and the time go in, the line comes out.

use std::io::Write as _;
use std::time::{Duration, Instant};

/// The data plane's running totals (WorkerStats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// IPv4 bytes from the LACs written to the TUN.
    pub up_bytes: u64,
    /// IPv4 bytes read from the TUN sent to the LACs.
    pub down_bytes: u64,
    pub up_packets: u64,
    pub down_packets: u64,
    /// Datagrams handed to the control plane (l2tpns counts every UDP
    /// datagram it receives, control messages too).
    pub to_control: u64,
}

/// Remembers the previous sample; a line at most once a second.
#[derive(Debug, Default)]
pub struct SpeedMeter {
    last: Option<(Instant, Totals)>,
}

impl SpeedMeter {
    /// The line for the time since the previous one, once a second has
    /// passed; the first call only starts the count.
    pub fn sample(&mut self, now: Instant, t: Totals) -> Option<String> {
        let Some((then, before)) = self.last else {
            self.last = Some((now, t));
            return None;
        };
        let secs = now.saturating_duration_since(then);
        if secs < Duration::from_secs(1) {
            return None;
        }
        self.last = Some((now, t));
        Some(line(&delta(&before, &t), secs.as_secs_f64()))
    }
}

/// What was counted between two samples.
pub fn delta(a: &Totals, b: &Totals) -> Totals {
    Totals {
        up_bytes: b.up_bytes.saturating_sub(a.up_bytes),
        down_bytes: b.down_bytes.saturating_sub(a.down_bytes),
        up_packets: b.up_packets.saturating_sub(a.up_packets),
        down_packets: b.down_packets.saturating_sub(a.down_packets),
        to_control: b.to_control.saturating_sub(a.to_control),
    }
}

/// l2tpns's text for `d` over `secs` seconds. We count IP bytes on both
/// sides of a direction (no L2TP/UDP overhead), so each pair shows one
/// figure twice; l2tpns never counted its ETH side of UDP-ETH (always 0).
/// TOTAL is the sum of the four, as in l2tpns.
pub fn line(d: &Totals, secs: f64) -> String {
    let secs = secs.max(f64::MIN_POSITIVE);
    let mbps = 1024.0 * 1024.0 / 8.0 * secs;
    let (up, down) = (d.up_bytes as f64 / mbps, d.down_bytes as f64 / mbps);
    let pps = |n: u64| (n as f64 / secs) as u64;
    format!(
        "UDP-ETH:{up:.0}/{up:.0}  ETH-UDP:{down:.0}/{down:.0}  TOTAL:{:.1}   IN:{} OUT:{}",
        2.0 * (up + down),
        pps(d.up_packets + d.to_control),
        pps(d.down_packets)
    )
}

/// On stdout like l2tpns's printf; a closed stdout is no reason to stop.
pub fn print(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_l2tpns() {
        let d = Totals {
            up_bytes: 10 * 1024 * 1024 / 8,   // 10 Mbit
            down_bytes: 50 * 1024 * 1024 / 8, // 50 Mbit
            up_packets: 900,
            down_packets: 4000,
            to_control: 100,
        };
        assert_eq!(
            line(&d, 1.0),
            "UDP-ETH:10/10  ETH-UDP:50/50  TOTAL:120.0   IN:1000 OUT:4000"
        );
        assert_eq!(
            line(&d, 2.0),
            "UDP-ETH:5/5  ETH-UDP:25/25  TOTAL:60.0   IN:500 OUT:2000"
        );
        assert_eq!(
            line(&Totals::default(), 1.0),
            "UDP-ETH:0/0  ETH-UDP:0/0  TOTAL:0.0   IN:0 OUT:0"
        );
    }

    #[test]
    fn one_line_a_second_over_the_deltas() {
        let t0 = Instant::now();
        let mut m = SpeedMeter::default();
        let at = |n: u64| Totals {
            up_packets: n,
            ..Totals::default()
        };
        assert_eq!(m.sample(t0, at(1000)), None);
        assert_eq!(m.sample(t0 + Duration::from_millis(500), at(1200)), None);
        let l = m.sample(t0 + Duration::from_secs(1), at(1300)).unwrap();
        assert!(l.ends_with("IN:300 OUT:0"), "{l}");
        // A stalled loop: the rate is over the real time, not per wake-up.
        let l = m.sample(t0 + Duration::from_secs(3), at(1700)).unwrap();
        assert!(l.ends_with("IN:200 OUT:0"), "{l}");
    }
}
