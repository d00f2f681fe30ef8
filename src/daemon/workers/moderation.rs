//! Adaptive receive moderation for a worker, as a NIC moderates its
//! interrupts: while traffic is dense, the worker sleeps a short, fixed
//! time after each wake-up before it polls again, so the next wake-up finds
//! a burst instead of one packet. Each wake-up costs two context switches,
//! and each TUN write wakes the reader of the socket it lands in: fewer,
//! fuller wake-ups (and longer merged TCP frames) cut the CPU per byte of
//! bulk traffic by 2-3x on this machine. Sparse traffic (a ping, a
//! keepalive) is never delayed: moderation starts only above
//! [`DENSE_PPS`] packets per second, measured over windows of [`WINDOW`].

use std::time::{Duration, Instant};

/// Rate above which a worker moderates.
pub const DENSE_PPS: u64 = 16_000;
/// Rate measurement window.
pub const WINDOW: Duration = Duration::from_millis(1);

pub struct Moderation {
    delay: Duration,
    window_start: Instant,
    packets: u64,
    dense: bool,
}

impl Moderation {
    /// `delay` zero: never sleep.
    pub fn new(delay: Duration, now: Instant) -> Self {
        Moderation {
            delay,
            window_start: now,
            packets: 0,
            dense: false,
        }
    }

    /// Called after each wake-up that handled `packets`; returns how long
    /// to sleep before polling again. `more_waiting`: a burst limit cut the
    /// wake-up short, so there is no point in waiting.
    pub fn after_wakeup(
        &mut self,
        now: Instant,
        packets: u64,
        more_waiting: bool,
    ) -> Option<Duration> {
        if self.delay.is_zero() {
            return None;
        }
        self.packets += packets;
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed >= WINDOW {
            // packets / elapsed >= DENSE_PPS, in integers.
            self.dense = u128::from(self.packets) * 1_000_000_000
                >= u128::from(DENSE_PPS) * elapsed.as_nanos();
            self.window_start = now;
            self.packets = 0;
        }
        (self.dense && packets > 0 && !more_waiting).then_some(self.delay)
    }
}

/// Let the worker's short sleeps end on time: the default timer slack of
/// 50 µs would stretch a 100 µs sleep by half.
pub fn tight_timer_slack() {
    // SAFETY: prctl(PR_SET_TIMERSLACK) with an integer argument; it
    // concerns only the calling thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1_000 as libc::c_ulong);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Duration = Duration::from_micros(100);

    #[test]
    fn sparse_traffic_is_never_delayed() {
        let t0 = Instant::now();
        let mut m = Moderation::new(D, t0);
        // One packet every 10 ms (100 pps) for a second.
        for i in 1..=100u64 {
            let now = t0 + Duration::from_millis(10 * i);
            assert_eq!(m.after_wakeup(now, 1, false), None, "at {i}");
        }
    }

    #[test]
    fn dense_traffic_is_moderated_after_one_window_and_released_when_it_stops() {
        let t0 = Instant::now();
        let mut m = Moderation::new(D, t0);
        // 100k pps: a packet every 10 µs.
        let mut now = t0;
        let mut delayed = 0;
        for _ in 0..1000 {
            now += Duration::from_micros(10);
            if m.after_wakeup(now, 1, false).is_some() {
                delayed += 1;
            }
        }
        assert!(delayed > 850, "{delayed}");
        // A burst cut short by the burst limit: poll again at once.
        assert_eq!(m.after_wakeup(now, 64, true), None);
        // An empty wake-up: nothing to wait for.
        assert_eq!(m.after_wakeup(now, 0, false), None);
        // Traffic stops; the next packet 1 s later is not delayed.
        now += Duration::from_secs(1);
        assert_eq!(m.after_wakeup(now, 1, false), None);
    }

    #[test]
    fn zero_delay_is_off() {
        let t0 = Instant::now();
        let mut m = Moderation::new(Duration::ZERO, t0);
        for i in 1..=1000u64 {
            assert_eq!(
                m.after_wakeup(t0 + Duration::from_micros(i), 10, false),
                None
            );
        }
    }
}
