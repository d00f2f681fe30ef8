//! A token bucket on an injected millisecond clock (sans-IO): the control
//! plane's per-source SCCRQ and refusal limits and the data workers'
//! ICMP rate use it. Integer arithmetic in millionths of a token, so a
//! rate may be a fraction of a token per second (icmp_rate shared by the
//! workers) without floats.

/// Millionths of a token in one token.
const TOKEN: u64 = 1_000_000;

/// How fast a bucket fills and how much it holds. Kept apart from the
/// buckets so a map of many buckets stores only their state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Millionths of a token added per millisecond.
    per_ms: u64,
    /// Capacity, in millionths of a token.
    burst: u64,
}

impl Rate {
    /// `per_second` tokens a second, up to `burst` at once (at least one).
    pub fn per_second(per_second: u32, burst: u32) -> Rate {
        Rate::shared(per_second, 1, burst)
    }

    /// One of `parts` equal shares of `per_second` tokens a second, each
    /// holding up to its share of `burst` (at least one token).
    pub fn shared(per_second: u32, parts: usize, burst: u32) -> Rate {
        let parts = parts.max(1) as u64;
        // per_second tokens / 1000 ms = per_second * 1000 millionths per ms.
        let per_ms = u64::from(per_second) * (TOKEN / 1000) / parts;
        let burst = (u64::from(burst) * TOKEN / parts).max(TOKEN);
        Rate { per_ms, burst }
    }
}

/// The state of one bucket: its tokens at `last_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenBucket {
    credit: u64,
    last_ms: u64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn full(rate: Rate, now_ms: u64) -> TokenBucket {
        TokenBucket {
            credit: rate.burst,
            last_ms: now_ms,
        }
    }

    fn refill(&mut self, rate: Rate, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.last_ms);
        self.last_ms = self.last_ms.max(now_ms);
        let add = elapsed.saturating_mul(rate.per_ms);
        self.credit = self.credit.saturating_add(add).min(rate.burst);
    }

    /// Take one token if there is one.
    pub fn take(&mut self, rate: Rate, now_ms: u64) -> bool {
        self.refill(rate, now_ms);
        if self.credit >= TOKEN {
            self.credit -= TOKEN;
            true
        } else {
            false
        }
    }

    /// Full again by `now_ms`: as good as a new bucket, so it may be forgotten.
    pub fn is_full(&self, rate: Rate, now_ms: u64) -> bool {
        let mut b = *self;
        b.refill(rate, now_ms);
        b.credit >= rate.burst
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(b: &mut TokenBucket, rate: Rate, now_ms: u64, tries: u32) -> u32 {
        (0..tries).filter(|_| b.take(rate, now_ms)).count() as u32
    }

    #[test]
    fn a_burst_then_the_rate() {
        let r = Rate::per_second(10, 5);
        let mut b = TokenBucket::full(r, 0);
        assert_eq!(taken(&mut b, r, 0, 100), 5);
        // 10 a second: one every 100 ms.
        assert_eq!(taken(&mut b, r, 99, 10), 0);
        assert_eq!(taken(&mut b, r, 100, 10), 1);
        assert_eq!(
            taken(&mut b, r, 1_100, 100),
            5,
            "refills only up to the burst"
        );
        assert!(!b.is_full(r, 1_100));
        assert!(b.is_full(r, 1_600));
    }

    #[test]
    fn shares_add_up_to_the_whole() {
        // 3 a second over 2 workers: 1.5 each, so 3 a second in all.
        let r = Rate::shared(3, 2, 3);
        let mut a = TokenBucket::full(r, 0);
        let mut b = TokenBucket::full(r, 0);
        taken(&mut a, r, 0, 10);
        taken(&mut b, r, 0, 10);
        let mut n = 0;
        for ms in (1..=10_000).step_by(10) {
            n += taken(&mut a, r, ms, 1) + taken(&mut b, r, ms, 1);
        }
        assert_eq!(n, 30);
        // A share never holds less than one token.
        let tiny = Rate::shared(1, 64, 1);
        assert!(TokenBucket::full(tiny, 0).take(tiny, 0));
    }

    #[test]
    fn a_clock_going_back_takes_nothing_and_breaks_nothing() {
        let r = Rate::per_second(1, 1);
        let mut b = TokenBucket::full(r, 5_000);
        assert!(b.take(r, 5_000));
        assert!(!b.take(r, 1_000));
        assert!(b.take(r, 6_000));
        // Huge gaps saturate instead of overflowing.
        assert!(b.take(r, u64::MAX));
    }
}
