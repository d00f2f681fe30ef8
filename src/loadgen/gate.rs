//! A non-blocking meeting point for the load generator's threads: each
//! shard arrives once and keeps running its event loop (answering the LNS)
//! until every shard has arrived, so phases (traffic, hold) start together.

use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug)]
pub struct Gate {
    arrived: AtomicUsize,
    total: usize,
}

impl Gate {
    pub fn new(total: usize) -> Gate {
        Gate {
            arrived: AtomicUsize::new(0),
            total: total.max(1),
        }
    }

    /// Call once per shard.
    pub fn arrive(&self) {
        self.arrived.fetch_add(1, Ordering::AcqRel);
    }

    pub fn is_open(&self) -> bool {
        self.arrived.load(Ordering::Acquire) >= self.total
    }
}

/// The gates of one run.
#[derive(Debug)]
pub struct Gates {
    /// Every shard has finished setup and pings.
    pub pings_done: Gate,
    /// Every shard has finished sending and draining benchmark traffic.
    pub bench_done: Gate,
}

impl Gates {
    pub fn new(shards: usize) -> Gates {
        Gates {
            pings_done: Gate::new(shards),
            bench_done: Gate::new(shards),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_when_all_arrived() {
        let g = Gate::new(2);
        assert!(!g.is_open());
        g.arrive();
        assert!(!g.is_open());
        g.arrive();
        assert!(g.is_open());
        let one = Gate::new(0);
        one.arrive();
        assert!(one.is_open());
    }
}
