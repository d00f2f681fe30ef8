//! Send pacing: how many packets a sender may send by now to keep a fixed
//! rate (or "as many as it can" when flat out), and when the next one is
//! due. Pure arithmetic on `Instant`s the caller passes in.

use std::time::{Duration, Instant};

/// Most packets handed out at once, so a sender that stalled does not then
/// burst a second's worth of packets into the queues.
pub const MAX_BURST: u64 = 256;

#[derive(Debug, Clone)]
pub struct Pacer {
    /// Packets per second; None = flat out.
    rate: Option<f64>,
    start: Instant,
    sent: u64,
}

impl Pacer {
    /// `rate` in packets per second (None or <= 0 = flat out).
    pub fn new(rate: Option<f64>, start: Instant) -> Pacer {
        Pacer {
            rate: rate.filter(|r| *r > 0.0 && r.is_finite()),
            start,
            sent: 0,
        }
    }

    /// Each of `shards` senders' share of a total rate.
    pub fn share(total: Option<f64>, shards: usize) -> Option<f64> {
        total.map(|r| r / shards.max(1) as f64)
    }

    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Packets that may go now (at most MAX_BURST).
    pub fn due(&self, now: Instant) -> u64 {
        let Some(rate) = self.rate else {
            return MAX_BURST;
        };
        let elapsed = now.saturating_duration_since(self.start).as_secs_f64();
        // f64 -> u64 saturates; +1: the first packet goes at once.
        let allowed = (elapsed * rate) as u64 + 1;
        allowed.saturating_sub(self.sent).min(MAX_BURST)
    }

    /// `n` packets went out.
    pub fn record(&mut self, n: u64) {
        self.sent = self.sent.saturating_add(n);
    }

    /// When the next packet is due; None when flat out (always).
    pub fn next_due(&self) -> Option<Instant> {
        let rate = self.rate?;
        let secs = self.sent as f64 / rate;
        Some(self.start + Duration::from_secs_f64(secs.min(1e9)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_rate_releases_packets_in_time() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Some(1000.0), t0);
        assert_eq!(p.due(t0), 1);
        p.record(1);
        assert_eq!(p.due(t0), 0);
        assert_eq!(p.next_due(), Some(t0 + Duration::from_millis(1)));
        assert_eq!(p.due(t0 + Duration::from_millis(10)), 10);
        p.record(10);
        assert_eq!(p.next_due(), Some(t0 + Duration::from_millis(11)));
        // After a stall the burst is capped.
        assert_eq!(p.due(t0 + Duration::from_secs(10)), MAX_BURST);
        // Over a whole second, exactly the rate (plus the first packet).
        let mut q = Pacer::new(Some(2000.0), t0);
        let mut t = t0;
        while t <= t0 + Duration::from_secs(1) {
            let n = q.due(t);
            q.record(n);
            t += Duration::from_micros(700);
        }
        assert!((2000..=2001).contains(&q.sent()), "{}", q.sent());
    }

    #[test]
    fn flat_out_and_bad_rates() {
        let t0 = Instant::now();
        for r in [
            None,
            Some(0.0),
            Some(-1.0),
            Some(f64::NAN),
            Some(f64::INFINITY),
        ] {
            let p = Pacer::new(r, t0);
            assert_eq!(p.due(t0), MAX_BURST);
            assert_eq!(p.next_due(), None);
        }
        assert_eq!(Pacer::share(Some(3000.0), 3), Some(1000.0));
        assert_eq!(Pacer::share(Some(3000.0), 0), Some(3000.0));
        assert_eq!(Pacer::share(None, 4), None);
        // Earlier than the start: nothing extra, no panic.
        let p = Pacer::new(Some(10.0), t0 + Duration::from_secs(5));
        assert_eq!(p.due(t0), 1);
    }
}
