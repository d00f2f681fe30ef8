//! Throttling: a token bucket per session and direction, with a short
//! queue. A packet within the rate goes at once; beyond it, it waits in the
//! queue until the bucket has refilled (a shaper: TCP sees delay before
//! loss, and keeps its rate); when the queue is full it is dropped and
//! counted (`DropReason::Throttled`).
//!
//! l2tpns's TBF: rates in kbit/s of 1,024 bits, a bucket of two seconds of
//! traffic, two queued packets, released by a 0.1 s timer. Here: the same
//! unit (an operator's `throttle=2048` means what it did), a bucket of
//! 20 ms of traffic (at least two full-size packets) so that a 10 s
//! average holds the rate, and a queue of 100 ms of traffic (at least four
//! full-size packets) released as soon as the bucket allows, to the
//! millisecond the worker's wake-up gives.
//!
//! Sans-IO: time is passed in as nanoseconds of any monotonic clock.

use std::collections::VecDeque;

/// Bits in l2tpns's kbit.
pub const BITS_PER_KBIT: u64 = 1024;
/// The bucket holds this long of traffic...
const BUCKET_NS: u64 = 20_000_000;
/// ...and the queue this long.
const QUEUE_NS: u64 = 100_000_000;
/// Floors, so a slow rate still passes full-size packets.
const MIN_BUCKET: u64 = 2 * 1500;
const MIN_QUEUE: u64 = 4 * 1500;
const NS: u64 = 1_000_000_000;

/// What to do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Within the rate: send it now.
    Now,
    /// Keep it: `push` it, and send what `release` gives back.
    Queue,
    /// The queue is full: drop it (and count it).
    Drop,
}

/// Counters of one bucket, as `show tbf` lists them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShaperStats {
    pub sent: u64,
    pub delayed: u64,
    pub dropped: u64,
}

/// One session's bucket in one direction, holding queued items of type `T`.
#[derive(Debug)]
pub struct Shaper<T> {
    kbps: u32,
    /// Bytes per second.
    rate: u64,
    /// Credit in byte-nanoseconds (bytes x 1e9), capped at `bucket`.
    credit: u64,
    bucket: u64,
    queue_limit: u64,
    last_ns: u64,
    queue: VecDeque<(u32, T)>,
    queued_bytes: u64,
    pub stats: ShaperStats,
}

impl<T> Shaper<T> {
    /// A full bucket for `kbps` (l2tpns kbit/s, > 0) at `now_ns`.
    pub fn new(kbps: u32, now_ns: u64) -> Shaper<T> {
        let rate = (u64::from(kbps.max(1)) * BITS_PER_KBIT / 8).max(1);
        let bucket_bytes = (rate * BUCKET_NS / NS).max(MIN_BUCKET);
        let bucket = bucket_bytes.saturating_mul(NS);
        Shaper {
            kbps,
            rate,
            credit: bucket,
            bucket,
            queue_limit: (rate * QUEUE_NS / NS).max(MIN_QUEUE),
            last_ns: now_ns,
            queue: VecDeque::new(),
            queued_bytes: 0,
            stats: ShaperStats::default(),
        }
    }

    /// The same queue under a new rate, with a full bucket of it.
    pub fn with_rate(self, kbps: u32, now_ns: u64) -> Shaper<T> {
        let mut s = Shaper::new(kbps, now_ns);
        s.queue = self.queue;
        s.queued_bytes = self.queued_bytes;
        s.stats = self.stats;
        s
    }

    pub fn kbps(&self) -> u32 {
        self.kbps
    }

    fn refill(&mut self, now_ns: u64) {
        let elapsed = now_ns.saturating_sub(self.last_ns);
        self.last_ns = self.last_ns.max(now_ns);
        let add = u128::from(elapsed) * u128::from(self.rate);
        self.credit = (u128::from(self.credit) + add).min(u128::from(self.bucket)) as u64;
    }

    /// A packet of `len` bytes arrives: `Now` takes its credit.
    pub fn admit(&mut self, now_ns: u64, len: usize) -> Admit {
        self.refill(now_ns);
        let need = (len as u64).saturating_mul(NS);
        if self.queue.is_empty() && self.credit >= need {
            self.credit -= need;
            self.stats.sent += 1;
            return Admit::Now;
        }
        if self.queued_bytes + len as u64 <= self.queue_limit {
            Admit::Queue
        } else {
            self.stats.dropped += 1;
            Admit::Drop
        }
    }

    /// Keep a packet `admit` said to queue.
    pub fn push(&mut self, len: usize, item: T) {
        self.queued_bytes += len as u64;
        self.stats.delayed += 1;
        self.queue.push_back((len as u32, item));
    }

    /// The next queued packet the bucket allows now, oldest first.
    pub fn release(&mut self, now_ns: u64) -> Option<T> {
        self.refill(now_ns);
        let need = u64::from(self.queue.front()?.0).saturating_mul(NS);
        if self.credit < need {
            return None;
        }
        self.credit -= need;
        let (len, item) = self.queue.pop_front()?;
        self.queued_bytes -= u64::from(len);
        self.stats.sent += 1;
        Some(item)
    }

    /// When the oldest queued packet can go (None: nothing queued).
    pub fn next_release_ns(&self) -> Option<u64> {
        let need = u64::from(self.queue.front()?.0).saturating_mul(NS);
        let missing = need.saturating_sub(self.credit);
        Some(self.last_ns + missing.div_ceil(self.rate))
    }

    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// Offer `pps` packets of `len` bytes for `secs`, releasing every
    /// millisecond; the bytes that went out.
    fn run(kbps: u32, len: usize, pps: u64, secs: u64) -> (u64, ShaperStats) {
        let mut s: Shaper<usize> = Shaper::new(kbps, 0);
        let mut out = 0u64;
        let every = NS / pps;
        let mut next_packet = 0;
        for t in (0..secs * NS).step_by(MS as usize) {
            while next_packet <= t {
                match s.admit(next_packet, len) {
                    Admit::Now => out += len as u64,
                    Admit::Queue => s.push(len, len),
                    Admit::Drop => {}
                }
                next_packet += every;
            }
            while let Some(l) = s.release(t) {
                out += l as u64;
            }
        }
        (out, s.stats)
    }

    #[test]
    fn a_flood_gets_the_rate_within_one_percent_over_ten_seconds() {
        for kbps in [2_000, 50_000] {
            let rate = u64::from(kbps) * BITS_PER_KBIT / 8;
            // Twice the rate offered, in full-size packets.
            let pps = 2 * rate / 1500 + 1;
            let (out, stats) = run(kbps, 1500, pps, 10);
            let want = rate * 10;
            let err = out.abs_diff(want) as f64 / want as f64;
            assert!(err < 0.01, "{kbps} kbit/s: {out} bytes, want {want}");
            assert!(stats.dropped > 0 && stats.delayed > 0, "{stats:?}");
        }
    }

    #[test]
    fn traffic_within_the_rate_is_never_delayed_or_dropped() {
        let rate = 2_000 * BITS_PER_KBIT / 8;
        let pps = rate / 1500 / 2;
        let (_, stats) = run(2_000, 1500, pps, 5);
        assert_eq!((stats.delayed, stats.dropped), (0, 0), "{stats:?}");
    }

    #[test]
    fn queued_packets_leave_in_order_when_credit_allows() {
        let mut s: Shaper<u32> = Shaper::new(64, 0); // 8,192 B/s, bucket 3,000 B
        assert_eq!(s.admit(0, 1500), Admit::Now);
        assert_eq!(s.admit(0, 1500), Admit::Now);
        assert_eq!(s.admit(0, 1500), Admit::Queue);
        s.push(1500, 1);
        assert_eq!(
            s.admit(0, 100),
            Admit::Queue,
            "behind the queue, even if small"
        );
        s.push(100, 2);
        assert_eq!(s.release(0), None);
        let at = s.next_release_ns().unwrap();
        assert_eq!(at, 1500 * NS / 8192 + 1);
        assert_eq!(s.release(at - 1_000), None);
        assert_eq!(s.release(at), Some(1));
        assert!(s.next_release_ns().unwrap() > at);
        let later = s.next_release_ns().unwrap();
        assert_eq!(s.release(later), Some(2));
        assert_eq!(s.next_release_ns(), None);
        assert_eq!(s.stats.delayed, 2);
    }

    #[test]
    fn a_full_queue_drops() {
        let mut s: Shaper<()> = Shaper::new(64, 0); // queue 6,000 B
        let mut dropped = 0;
        for _ in 0..10 {
            match s.admit(0, 1500) {
                Admit::Queue => s.push(1500, ()),
                Admit::Drop => dropped += 1,
                Admit::Now => {}
            }
        }
        assert_eq!(s.queued(), 4);
        assert_eq!(dropped, 4);
        assert_eq!(s.stats.dropped, 4);
    }

    #[test]
    fn time_going_backwards_does_nothing_strange() {
        let mut s: Shaper<()> = Shaper::new(1000, 5 * NS);
        assert_eq!(s.admit(4 * NS, 100), Admit::Now);
        assert!(s.next_release_ns().is_none());
    }
}
