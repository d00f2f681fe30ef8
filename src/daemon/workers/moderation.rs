//! Adaptive receive moderation for a worker, as a NIC moderates its
//! interrupts: while traffic is dense but arrives a packet or two per
//! wake-up, the worker sleeps a short, fixed time after each wake-up before
//! it polls again, so the next wake-up finds a burst. Each wake-up costs two
//! context switches, and each TUN write wakes the reader of the socket it
//! lands in: fewer, fuller wake-ups (and longer merged TCP frames) cut the
//! CPU per byte of bulk TCP by 2-3x on this machine.
//!
//! The sleep is a system call and a timer too, so it pays only when it
//! gathers more than the wake-ups would on their own, or when gathering
//! more lets the coalescer merge more TCP segments into one TUN write.
//! Sparse traffic (a ping, a keepalive) is left alone, and so is dense
//! traffic that already arrives in bursts and does not merge (many
//! sessions' packets from a LAC that sends in batches): moderation runs
//! only while windows of [`WINDOW`] see more than [`DENSE_PPS`] packets per
//! second and either fewer than [`SMALL_BURST`] packets per wake-up or at
//! least a quarter of them merged. While it runs, one window in
//! [`PROBE_EVERY`] is left unmoderated to see whether the traffic still
//! needs it.

use std::time::{Duration, Instant};

/// Rate above which a worker moderates.
pub const DENSE_PPS: u64 = 16_000;
/// Rate measurement window.
pub const WINDOW: Duration = Duration::from_millis(1);
/// Natural bursts (packets per wake-up) below this are worth moderating.
pub const SMALL_BURST: u64 = 4;
/// While moderating, every this many windows one is unmoderated (a probe).
pub const PROBE_EVERY: u32 = 16;

pub struct Moderation {
    delay: Duration,
    window_start: Instant,
    packets: u64,
    merged: u64,
    wakeups: u64,
    /// The traffic measured in the last unmoderated window needs it.
    wanted: bool,
    /// This window sleeps after its wake-ups.
    moderating: bool,
    windows: u32,
}

impl Moderation {
    /// `delay` zero: never sleep.
    pub fn new(delay: Duration, now: Instant) -> Self {
        Moderation {
            delay,
            window_start: now,
            packets: 0,
            merged: 0,
            wakeups: 0,
            wanted: false,
            moderating: false,
            windows: 0,
        }
    }

    /// Called after each wake-up that handled `packets`, of which `merged`
    /// went into a TUN write together with another; returns how long to
    /// sleep before polling again. `more_waiting`: a burst limit cut the
    /// wake-up short, so there is no point in waiting.
    pub fn after_wakeup(
        &mut self,
        now: Instant,
        packets: u64,
        merged: u64,
        more_waiting: bool,
    ) -> Option<Duration> {
        if self.delay.is_zero() {
            return None;
        }
        self.packets += packets;
        self.merged += merged;
        self.wakeups += u64::from(packets > 0);
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed >= WINDOW {
            // packets / elapsed >= DENSE_PPS, in integers: any window can
            // say the traffic stopped. The burst size means something only
            // in a window that did not sleep.
            let dense = u128::from(self.packets) * 1_000_000_000
                >= u128::from(DENSE_PPS) * elapsed.as_nanos();
            let small = self.packets < SMALL_BURST * self.wakeups.max(1);
            let merging = self.merged * 4 >= self.packets;
            self.wanted = dense && (merging || if self.moderating { self.wanted } else { small });
            self.windows = self.windows.wrapping_add(1);
            self.moderating = self.wanted && self.windows % PROBE_EVERY != 0;
            self.window_start = now;
            self.packets = 0;
            self.merged = 0;
            self.wakeups = 0;
        }
        (self.moderating && packets > 0 && !more_waiting).then_some(self.delay)
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
            assert_eq!(m.after_wakeup(now, 1, 0, false), None, "at {i}");
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
            if m.after_wakeup(now, 1, 0, false).is_some() {
                delayed += 1;
            }
        }
        // All but the first window and the probes (1 in 16).
        assert!(delayed >= 790, "{delayed}");
        // A burst cut short by the burst limit: poll again at once.
        assert_eq!(m.after_wakeup(now, 64, 0, true), None);
        // An empty wake-up: nothing to wait for.
        assert_eq!(m.after_wakeup(now, 0, 0, false), None);
        // Traffic stops; the next packet 1 s later is not delayed.
        now += Duration::from_secs(1);
        assert_eq!(m.after_wakeup(now, 1, 0, false), None);
    }

    #[test]
    fn traffic_that_already_comes_in_bursts_is_left_alone() {
        let t0 = Instant::now();
        let mut m = Moderation::new(D, t0);
        // 320k pps in bursts of 32 every 100 µs: dense, but bursty.
        let mut now = t0;
        for _ in 0..1000 {
            now += Duration::from_micros(100);
            assert_eq!(m.after_wakeup(now, 32, 0, false), None);
        }
    }

    #[test]
    fn a_probe_window_ends_moderation_once_bursts_come_on_their_own() {
        let t0 = Instant::now();
        let mut m = Moderation::new(D, t0);
        let mut now = t0;
        // One packet per wake-up at 100k pps: moderated.
        for _ in 0..300 {
            now += Duration::from_micros(10);
            m.after_wakeup(now, 1, 0, false);
        }
        assert!(m.after_wakeup(now, 1, 0, false).is_some());
        // Then bursts of 32: within PROBE_EVERY windows a probe sees them
        // and moderation stops for good.
        let mut last = None;
        for _ in 0..(PROBE_EVERY as usize + 2) * 20 {
            now += Duration::from_micros(100);
            last = m.after_wakeup(now, 32, 0, false);
        }
        assert_eq!(last, None);
    }

    #[test]
    fn bursts_that_merge_are_moderated() {
        let t0 = Instant::now();
        let mut m = Moderation::new(D, t0);
        // Bulk TCP: bursts of 8 every 50 µs, 6 of them merged.
        let mut now = t0;
        let mut delayed = 0;
        for _ in 0..200 {
            now += Duration::from_micros(50);
            if m.after_wakeup(now, 8, 6, false).is_some() {
                delayed += 1;
            }
        }
        assert!(delayed > 150, "{delayed}");
    }

    #[test]
    fn zero_delay_is_off() {
        let t0 = Instant::now();
        let mut m = Moderation::new(Duration::ZERO, t0);
        for i in 1..=1000u64 {
            assert_eq!(
                m.after_wakeup(t0 + Duration::from_micros(i), 10, 5, false),
                None
            );
        }
    }
}
