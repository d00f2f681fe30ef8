//! A coarse shared clock: the control loop stores "milliseconds since start"
//! in an atomic and the data-plane workers stamp packets with it, so the hot
//! path never calls into the kernel for the time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct Clock {
    start: Instant,
    tick: AtomicU64,
}

impl Clock {
    pub fn new(start: Instant) -> Clock {
        Clock {
            start,
            tick: AtomicU64::new(1),
        }
    }

    /// Advance to `now` (control loop, every wake-up).
    pub fn update(&self, now: Instant) {
        let ms = now.saturating_duration_since(self.start).as_millis() as u64;
        // Ticks start at 1: 0 in a counter means "never".
        self.tick.store(ms + 1, Ordering::Relaxed);
    }

    /// The current tick (data plane).
    pub fn tick(&self) -> u64 {
        self.tick.load(Ordering::Relaxed)
    }

    /// The tick of this very moment, read from the system clock rather than
    /// the control loop's (which may lag by up to its 500 ms wake-up): for
    /// packet_limit's 0.1 s windows, read once per burst.
    pub fn tick_now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64 + 1
    }

    /// Milliseconds from the clock's start to `now` (0 before it): the
    /// control plane's rate limiters count in these.
    pub fn ms_at(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.start).as_millis() as u64
    }

    /// The first tick at or after `at` (a deadline kept in ticks is then
    /// never early).
    pub fn tick_at(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.start);
        let ms = d.as_millis() as u64;
        let partial = u64::from(!d.subsec_nanos().is_multiple_of(1_000_000));
        ms + partial + 1
    }

    pub fn instant_of(&self, tick: u64) -> Instant {
        self.start + Duration::from_millis(tick.saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_map_back_to_instants() {
        let t0 = Instant::now();
        let c = Clock::new(t0);
        c.update(t0 + Duration::from_millis(1500));
        assert_eq!(c.tick(), 1501);
        assert_eq!(c.instant_of(c.tick()), t0 + Duration::from_millis(1500));
    }

    #[test]
    fn a_deadline_in_ticks_is_never_early() {
        let t0 = Instant::now();
        let c = Clock::new(t0);
        let on = t0 + Duration::from_millis(1500);
        assert_eq!(c.instant_of(c.tick_at(on)), on);
        let between = on + Duration::from_micros(300);
        assert_eq!(c.tick_at(between), 1502);
        assert!(c.instant_of(c.tick_at(between)) >= between);
    }
}
