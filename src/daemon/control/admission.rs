//! Who may open a tunnel, per source address: at most
//! `max_tunnels_per_source` tunnels at once and `sccrq_rate_per_source`
//! new ones a second; and at most `sccrq_refusal_rate_per_source` refusals
//! a second back to one address, so a flood with a forged source cannot
//! turn us into a reflector. Sans-IO: time comes in as milliseconds.
//!
//! The rate buckets live in a map that a flood from many (forged)
//! addresses cannot grow without bound: at most [`MAX_SOURCES`] entries.
//! A bucket that has filled up again is as good as none, so when the map
//! is full such idle entries are swept (at most once a second); a source
//! that still finds no room shares one overflow bucket with every other
//! such source, which keeps the total rate bounded too.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::token_bucket::{Rate, TokenBucket};

/// Sources whose rates are tracked one by one.
pub const MAX_SOURCES: usize = 4096;
/// How often a full map may be swept for idle entries.
const SWEEP_INTERVAL_MS: u64 = 1_000;

/// The limits, from the startup-config; 0 = no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceLimits {
    pub max_tunnels: u32,
    /// New tunnels a second (burst: the same number).
    pub sccrq_rate: u32,
    /// Refusals (stateless StopCCNs) a second (burst: the same number).
    pub refusal_rate: u32,
}

impl SourceLimits {
    fn sccrq(&self) -> Option<Rate> {
        (self.sccrq_rate > 0).then(|| Rate::per_second(self.sccrq_rate, self.sccrq_rate))
    }
    fn refusals(&self) -> Option<Rate> {
        (self.refusal_rate > 0).then(|| Rate::per_second(self.refusal_rate, self.refusal_rate))
    }
}

/// Why a new tunnel is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The source sent SCCRQs faster than `sccrq_rate_per_source`.
    SourceRate,
    /// The source has `max_tunnels_per_source` tunnels already.
    SourceTunnels,
    /// No tunnel id is free (`max_tunnels`).
    NoTunnelId,
}

impl Refusal {
    /// For the log and the StopCCN's message.
    pub fn text(self) -> &'static str {
        match self {
            Refusal::SourceRate => "too many new tunnels from this address per second",
            Refusal::SourceTunnels => "too many tunnels from this address",
            Refusal::NoTunnelId => "no free tunnel",
        }
    }
}

/// What admission did (not saved with the state: they start at 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdmissionStats {
    /// SCCRQs over `sccrq_rate_per_source`.
    pub sccrq_rate_limited: u64,
    /// SCCRQs over `max_tunnels_per_source`.
    pub source_tunnel_limit: u64,
    /// Stateless StopCCNs sent, and refusals left unanswered (over
    /// `sccrq_refusal_rate_per_source`).
    pub refusals_sent: u64,
    pub refusals_unanswered: u64,
    /// Judged with the shared overflow bucket: the map was full.
    pub overflow_sources: u64,
}

#[derive(Clone, Copy, Debug)]
struct SourceBuckets {
    sccrq: TokenBucket,
    refusals: TokenBucket,
}

impl SourceBuckets {
    fn full(limits: &SourceLimits, now_ms: u64) -> SourceBuckets {
        let fill = |r: Option<Rate>| TokenBucket::full(r.unwrap_or(Rate::per_second(0, 1)), now_ms);
        SourceBuckets {
            sccrq: fill(limits.sccrq()),
            refusals: fill(limits.refusals()),
        }
    }

    fn is_idle(&self, limits: &SourceLimits, now_ms: u64) -> bool {
        let full = |b: &TokenBucket, r: Option<Rate>| r.is_none_or(|r| b.is_full(r, now_ms));
        full(&self.sccrq, limits.sccrq()) && full(&self.refusals, limits.refusals())
    }
}

/// See the module comment.
#[derive(Default)]
pub struct Admission {
    /// Tunnels per source address (open or closing), for `max_tunnels`.
    /// Bounded by the tunnels themselves.
    tunnels: HashMap<IpAddr, u32>,
    /// Keyed by what peers choose, so std's keyed SipHash.
    buckets: HashMap<IpAddr, SourceBuckets>,
    overflow: Option<SourceBuckets>,
    last_sweep_ms: u64,
    pub stats: AdmissionStats,
}

impl Admission {
    /// May `source` open one more tunnel now? Takes an SCCRQ token.
    pub fn admit(
        &mut self,
        limits: &SourceLimits,
        source: IpAddr,
        now_ms: u64,
    ) -> Result<(), Refusal> {
        if let Some(rate) = limits.sccrq() {
            if !self
                .buckets_of(limits, source, now_ms)
                .sccrq
                .take(rate, now_ms)
            {
                self.stats.sccrq_rate_limited += 1;
                return Err(Refusal::SourceRate);
            }
        }
        let open = self.tunnels.get(&source).copied().unwrap_or(0);
        if limits.max_tunnels > 0 && open >= limits.max_tunnels {
            self.stats.source_tunnel_limit += 1;
            return Err(Refusal::SourceTunnels);
        }
        Ok(())
    }

    /// May a refusal go back to `source` now? Counts either way.
    pub fn may_answer(&mut self, limits: &SourceLimits, source: IpAddr, now_ms: u64) -> bool {
        let ok = match limits.refusals() {
            Some(rate) => self
                .buckets_of(limits, source, now_ms)
                .refusals
                .take(rate, now_ms),
            None => true,
        };
        if ok {
            self.stats.refusals_sent += 1;
        } else {
            self.stats.refusals_unanswered += 1;
        }
        ok
    }

    pub fn tunnel_opened(&mut self, source: IpAddr) {
        *self.tunnels.entry(source).or_insert(0) += 1;
    }

    pub fn tunnel_freed(&mut self, source: IpAddr) {
        if let Some(n) = self.tunnels.get_mut(&source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.tunnels.remove(&source);
            }
        }
    }

    /// Tunnels `source` has now.
    pub fn tunnels_of(&self, source: IpAddr) -> u32 {
        self.tunnels.get(&source).copied().unwrap_or(0)
    }

    /// Sources whose rates are tracked one by one now.
    pub fn tracked_sources(&self) -> usize {
        self.buckets.len()
    }

    fn buckets_of(
        &mut self,
        limits: &SourceLimits,
        source: IpAddr,
        now_ms: u64,
    ) -> &mut SourceBuckets {
        if !self.buckets.contains_key(&source) && self.buckets.len() >= MAX_SOURCES {
            self.sweep(limits, now_ms);
        }
        if self.buckets.contains_key(&source) || self.buckets.len() < MAX_SOURCES {
            return self
                .buckets
                .entry(source)
                .or_insert_with(|| SourceBuckets::full(limits, now_ms));
        }
        self.stats.overflow_sources += 1;
        self.overflow
            .get_or_insert_with(|| SourceBuckets::full(limits, now_ms))
    }

    /// Forget the sources whose buckets have filled up again.
    fn sweep(&mut self, limits: &SourceLimits, now_ms: u64) {
        if now_ms.saturating_sub(self.last_sweep_ms) < SWEEP_INTERVAL_MS && self.last_sweep_ms != 0
        {
            return;
        }
        self.last_sweep_ms = now_ms.max(1);
        self.buckets.retain(|_, b| !b.is_idle(limits, now_ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
    }

    const LIMITS: SourceLimits = SourceLimits {
        max_tunnels: 3,
        sccrq_rate: 5,
        refusal_rate: 2,
    };

    #[test]
    fn sccrqs_from_one_source_are_rate_limited_with_a_burst() {
        let mut a = Admission::default();
        let ok = (0..100)
            .filter(|_| a.admit(&LIMITS, ip(1), 0) != Err(Refusal::SourceRate))
            .count();
        assert_eq!(ok, 5, "the burst");
        assert_eq!(a.stats.sccrq_rate_limited, 95);
        // Another source has its own bucket.
        assert_eq!(a.admit(&LIMITS, ip(2), 0), Ok(()));
        // 5 a second: one more after 200 ms.
        assert_eq!(a.admit(&LIMITS, ip(1), 199), Err(Refusal::SourceRate));
        assert_eq!(a.admit(&LIMITS, ip(1), 200), Ok(()));
    }

    #[test]
    fn tunnels_per_source_are_counted_until_freed() {
        let mut a = Admission::default();
        for _ in 0..3 {
            assert_eq!(a.admit(&LIMITS, ip(1), 0), Ok(()));
            a.tunnel_opened(ip(1));
        }
        assert_eq!(a.admit(&LIMITS, ip(1), 0), Err(Refusal::SourceTunnels));
        assert_eq!(a.stats.source_tunnel_limit, 1);
        a.tunnel_freed(ip(1));
        assert_eq!(a.tunnels_of(ip(1)), 2);
        assert_eq!(a.admit(&LIMITS, ip(1), 10_000), Ok(()));
        for _ in 0..5 {
            a.tunnel_freed(ip(1));
        }
        assert_eq!(a.tunnels_of(ip(1)), 0);
        assert!(a.tunnels.is_empty());
    }

    #[test]
    fn refusals_are_rate_limited_per_source() {
        let mut a = Admission::default();
        let sent = (0..50).filter(|_| a.may_answer(&LIMITS, ip(1), 0)).count();
        assert_eq!(sent, 2);
        assert!(a.may_answer(&LIMITS, ip(2), 0));
        assert!(a.may_answer(&LIMITS, ip(1), 500));
        assert_eq!(
            (a.stats.refusals_sent, a.stats.refusals_unanswered),
            (4, 48)
        );
    }

    #[test]
    fn zero_means_no_limit_and_no_state() {
        let mut a = Admission::default();
        let none = SourceLimits::default();
        for _ in 0..1000 {
            assert_eq!(a.admit(&none, ip(1), 0), Ok(()));
            a.tunnel_opened(ip(1));
            assert!(a.may_answer(&none, ip(1), 0));
        }
        assert_eq!(a.tracked_sources(), 0);
    }

    #[test]
    fn a_flood_from_many_sources_cannot_grow_the_map() {
        let mut a = Admission::default();
        let burst = LIMITS.sccrq_rate as usize;
        let mut admitted = 0;
        // Each forged source tries one more than its burst, all at once.
        for n in 0..(MAX_SOURCES as u32 * 3) {
            for _ in 0..=burst {
                admitted += usize::from(a.admit(&LIMITS, ip(n), 1).is_ok());
            }
        }
        assert_eq!(a.tracked_sources(), MAX_SOURCES);
        // The first MAX_SOURCES had their own burst; the rest shared one.
        assert_eq!(admitted, MAX_SOURCES * burst + burst);
        assert_eq!(
            a.stats.overflow_sources,
            (MAX_SOURCES * 2 * (burst + 1)) as u64
        );
        // Once the tracked sources are idle again (a second at 5/s), a new
        // source gets a bucket of its own after one sweep.
        assert_eq!(a.admit(&LIMITS, ip(999_999), 2_000), Ok(()));
        assert_eq!(a.tracked_sources(), 1);
    }
}
