//! Receive-side accounting of one packet stream (one session, one
//! direction): packets, bytes, loss and reordering from sequence numbers
//! that the sender numbers 0, 1, 2... A packet older than the newest seen is
//! counted as reordered; loss is the newest number + 1 minus what arrived
//! (so a lost tail is invisible here: the sender's count gives it).

use std::time::Instant;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxFlow {
    pub received: u64,
    pub bytes: u64,
    pub reordered: u64,
    /// Newest sequence number + 1.
    next: u64,
}

impl RxFlow {
    pub fn record(&mut self, seq: u64, bytes: usize) {
        self.received += 1;
        self.bytes = self.bytes.saturating_add(bytes as u64);
        if seq >= self.next {
            self.next = seq.saturating_add(1);
        } else {
            self.reordered += 1;
        }
    }

    /// Packets the sender must have sent: the newest number + 1.
    pub fn expected(&self) -> u64 {
        self.next
    }

    /// Gaps in the sequence still open (duplicates can make this undercount).
    pub fn lost(&self) -> u64 {
        self.next.saturating_sub(self.received)
    }

    /// Add another stream's counts (two sessions seen from one address):
    /// what each expected adds up, so the loss is the sum of both.
    pub fn absorb(&mut self, o: &RxFlow) {
        self.received += o.received;
        self.bytes = self.bytes.saturating_add(o.bytes);
        self.reordered += o.reordered;
        self.next = self.next.saturating_add(o.next);
    }
}

/// Totals over many flows, and the first and last arrival.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FlowTotals {
    pub flows: u64,
    pub received: u64,
    pub bytes: u64,
    pub reordered: u64,
    pub lost: u64,
    pub min_received: u64,
    pub max_received: u64,
}

impl FlowTotals {
    /// Totals of `flows`; flows that received nothing still count (a
    /// session that got nothing must show as min_received=0).
    pub fn of<'a>(flows: impl IntoIterator<Item = &'a RxFlow>) -> FlowTotals {
        let mut t = FlowTotals {
            min_received: u64::MAX,
            ..FlowTotals::default()
        };
        for f in flows {
            t.add(f);
        }
        if t.flows == 0 {
            t.min_received = 0;
        }
        t
    }

    fn add(&mut self, f: &RxFlow) {
        self.flows += 1;
        self.received += f.received;
        self.bytes = self.bytes.saturating_add(f.bytes);
        self.reordered += f.reordered;
        self.lost += f.lost();
        self.min_received = self.min_received.min(f.received);
        self.max_received = self.max_received.max(f.received);
    }

    /// Totals of totals (shards of one run).
    pub fn merge(&self, o: &FlowTotals) -> FlowTotals {
        if self.flows == 0 {
            return *o;
        }
        if o.flows == 0 {
            return *self;
        }
        FlowTotals {
            flows: self.flows + o.flows,
            received: self.received + o.received,
            bytes: self.bytes.saturating_add(o.bytes),
            reordered: self.reordered + o.reordered,
            lost: self.lost + o.lost,
            min_received: self.min_received.min(o.min_received),
            max_received: self.max_received.max(o.max_received),
        }
    }
}

/// First and last time something arrived: the window rates are computed over.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    pub first: Option<Instant>,
    pub last: Option<Instant>,
}

impl Window {
    pub fn touch(&mut self, now: Instant) {
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    pub fn secs(&self) -> f64 {
        match (self.first, self.last) {
            (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
            _ => 0.0,
        }
    }

    pub fn merge(&self, o: &Window) -> Window {
        let pick =
            |a: Option<Instant>, b: Option<Instant>, f: fn(Instant, Instant) -> Instant| match (
                a, b,
            ) {
                (Some(x), Some(y)) => Some(f(x, y)),
                (x, y) => x.or(y),
            };
        Window {
            first: pick(self.first, o.first, std::cmp::min),
            last: pick(self.last, o.last, std::cmp::max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn in_order_stream_has_no_loss() {
        let mut f = RxFlow::default();
        for s in 0..100 {
            f.record(s, 64);
        }
        assert_eq!(
            (f.received, f.bytes, f.lost(), f.reordered),
            (100, 6400, 0, 0)
        );
        assert_eq!(f.expected(), 100);
    }

    #[test]
    fn gaps_are_loss_and_late_packets_are_reordered() {
        let mut f = RxFlow::default();
        for s in [0, 1, 3, 2, 6, 7] {
            f.record(s, 1);
        }
        // 4 and 5 missing; 2 came after 3.
        assert_eq!(f.lost(), 2);
        assert_eq!(f.reordered, 1);
        f.record(4, 1);
        assert_eq!((f.lost(), f.reordered), (1, 2));
        // Duplicates never underflow.
        let mut d = RxFlow::default();
        d.record(0, 1);
        d.record(0, 1);
        assert_eq!(d.lost(), 0);
        d.record(u64::MAX, 1);
        assert_eq!(d.expected(), u64::MAX);
    }

    #[test]
    fn totals_and_merge() {
        let mut a = RxFlow::default();
        let mut b = RxFlow::default();
        let idle = RxFlow::default();
        for s in 0..10 {
            a.record(s, 100);
        }
        b.record(1, 100);
        let t = FlowTotals::of([&a, &b, &idle]);
        assert_eq!(
            (
                t.flows,
                t.received,
                t.bytes,
                t.lost,
                t.min_received,
                t.max_received
            ),
            (3, 11, 1100, 1, 0, 10)
        );
        assert_eq!(FlowTotals::of([]).min_received, 0);
        let u = FlowTotals::of([&a]).merge(&FlowTotals::of([&b]));
        assert_eq!(
            (u.flows, u.received, u.min_received, u.max_received),
            (2, 11, 1, 10)
        );
        assert_eq!(FlowTotals::default().merge(&u), u);
        assert_eq!(u.merge(&FlowTotals::default()), u);
    }

    #[test]
    fn window_spans_first_to_last() {
        let t0 = Instant::now();
        let mut w = Window::default();
        assert_eq!(w.secs(), 0.0);
        w.touch(t0);
        w.touch(t0 + Duration::from_millis(500));
        let mut v = Window::default();
        v.touch(t0 + Duration::from_secs(1));
        assert!((w.merge(&v).secs() - 1.0).abs() < 1e-9);
        assert!((Window::default().merge(&w).secs() - 0.5).abs() < 1e-9);
    }
}
