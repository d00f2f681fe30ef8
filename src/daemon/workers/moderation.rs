//! Adaptive receive moderation for a worker, as a NIC moderates its
//! interrupts: while traffic is dense but arrives a packet or two per
//! wake-up, the worker sleeps a short, fixed time after each wake-up before
//! it polls again, so the next wake-up finds a burst. Each wake-up costs two
//! context switches, and each TUN write wakes the reader of the socket it
//! lands in: fewer, fuller wake-ups (and longer merged TCP frames) cut the
//! CPU per byte of bulk TCP by 2-3x on this machine.
//!
//! The sleep is a system call and a timer too, so it pays only where the
//! wake-ups it saves cost more than itself. Measured here: it pays for
//! downstream traffic (each TUN read is one packet, and fewer wake-ups
//! mean fewer poll sleeps and sends batched into one sendmmsg) and for
//! upstream TCP whose segments merge (a longer merged frame is one TUN write
//! and one wake-up of the receiving socket for more segments); it does not
//! pay for upstream packets of many sessions that arrive in bursts already
//! (one more syscall per burst, nothing more to merge). So moderation runs
//! only while a window of [`WINDOW`] sees more than [`DENSE_PPS`] packets
//! per second and either at least half of them downstream or at least a
//! quarter of the upstream ones merged. Sparse traffic (a ping, a
//! keepalive) is never delayed.

use std::time::{Duration, Instant};

/// Rate above which a worker moderates.
pub const DENSE_PPS: u64 = 16_000;
/// Rate measurement window.
pub const WINDOW: Duration = Duration::from_millis(1);
pub struct Moderation {
    delay: Duration,
    window_start: Instant,
    packets: u64,
    down: u64,
    up: u64,
    merged: u64,
    /// The last window's traffic wants it.
    moderating: bool,
}

impl Moderation {
    /// `delay` zero: never sleep.
    pub fn new(delay: Duration, now: Instant) -> Self {
        Moderation {
            delay,
            window_start: now,
            packets: 0,
            down: 0,
            up: 0,
            merged: 0,
            moderating: false,
        }
    }

    /// Called after each wake-up with what it handled: `up` packets to the
    /// TUN (`merged` of them written together with another), `down`
    /// packets to the LACs, `other` (to the control plane); returns how
    /// long to sleep before polling again. `more_waiting`: a burst limit
    /// cut the wake-up short, so there is no point in waiting.
    pub fn after_wakeup(&mut self, now: Instant, w: Wakeup) -> Option<Duration> {
        if self.delay.is_zero() {
            return None;
        }
        let packets = w.up + w.down + w.other;
        self.packets += packets;
        self.up += w.up;
        self.down += w.down;
        self.merged += w.merged;
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed >= WINDOW {
            // packets / elapsed >= DENSE_PPS, in integers.
            let dense = u128::from(self.packets) * 1_000_000_000
                >= u128::from(DENSE_PPS) * elapsed.as_nanos();
            let downstream = self.down * 2 >= self.packets;
            let merging = self.up > 0 && self.merged * 4 >= self.up;
            self.moderating = dense && (downstream || merging);
            self.window_start = now;
            self.packets = 0;
            self.up = 0;
            self.down = 0;
            self.merged = 0;
        }
        (self.moderating && packets > 0 && !w.more_waiting).then_some(self.delay)
    }
}

/// What one wake-up handled (see [`Moderation::after_wakeup`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Wakeup {
    pub up: u64,
    pub merged: u64,
    pub down: u64,
    pub other: u64,
    pub more_waiting: bool,
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

    fn down(n: u64) -> Wakeup {
        Wakeup {
            down: n,
            ..Wakeup::default()
        }
    }

    /// Feed `wakeups` wake-ups `every` apart; how many asked to sleep.
    fn run(
        m: &mut Moderation,
        now: &mut Instant,
        every: Duration,
        wakeups: usize,
        w: Wakeup,
    ) -> usize {
        let mut delayed = 0;
        for _ in 0..wakeups {
            *now += every;
            if m.after_wakeup(*now, w).is_some() {
                delayed += 1;
            }
        }
        delayed
    }

    #[test]
    fn sparse_traffic_is_never_delayed() {
        let mut now = Instant::now();
        let mut m = Moderation::new(D, now);
        // One packet every 10 ms (100 pps) for a second.
        assert_eq!(
            run(&mut m, &mut now, Duration::from_millis(10), 100, down(1)),
            0
        );
    }

    #[test]
    fn dense_downstream_is_moderated_and_released_when_it_stops() {
        let mut now = Instant::now();
        let mut m = Moderation::new(D, now);
        // 100k pps downstream: every wake-up after the first window sleeps.
        let delayed = run(&mut m, &mut now, Duration::from_micros(10), 1000, down(1));
        assert!(delayed >= 890, "{delayed}");
        // A burst cut short by the burst limit: poll again at once.
        let full = Wakeup {
            more_waiting: true,
            ..down(64)
        };
        assert_eq!(m.after_wakeup(now, full), None);
        // An empty wake-up: nothing to wait for.
        assert_eq!(m.after_wakeup(now, down(0)), None);
        // Traffic stops; the next packet 1 s later is not delayed.
        now += Duration::from_secs(1);
        assert_eq!(m.after_wakeup(now, down(1)), None);
    }

    #[test]
    fn upstream_that_does_not_merge_is_left_alone() {
        let mut now = Instant::now();
        let mut m = Moderation::new(D, now);
        // 320k pps upstream from many sessions, nothing merges.
        let w = Wakeup {
            up: 32,
            ..Wakeup::default()
        };
        assert_eq!(
            run(&mut m, &mut now, Duration::from_micros(100), 1000, w),
            0
        );
    }

    #[test]
    fn upstream_tcp_that_merges_is_moderated() {
        let mut now = Instant::now();
        let mut m = Moderation::new(D, now);
        // Bulk TCP upstream: bursts of 8 every 50 µs, 6 merged, a few ACKs down.
        let w = Wakeup {
            up: 8,
            merged: 6,
            down: 2,
            ..Wakeup::default()
        };
        let delayed = run(&mut m, &mut now, Duration::from_micros(50), 200, w);
        assert!(delayed > 150, "{delayed}");
    }

    #[test]
    fn zero_delay_is_off() {
        let mut now = Instant::now();
        let mut m = Moderation::new(Duration::ZERO, now);
        assert_eq!(
            run(&mut m, &mut now, Duration::from_micros(1), 1000, down(10)),
            0
        );
    }
}
