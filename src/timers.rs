//! Deadlines of every tunnel and session state machine, so the control loop
//! sleeps until the earliest one instead of polling all objects.
//!
//! Each object has at most one registered deadline (its `poll_timeout()`);
//! re-arming replaces the old one. Ordered set, O(log n) per change.

use std::collections::BTreeSet;
use std::hash::Hash;
use std::time::Instant;

use crate::fx_hash::FxHashMap;

pub struct Timers<K: Copy + Ord + Hash> {
    by_time: BTreeSet<(Instant, K)>,
    /// Keys are our own ids: the Fx hash, not SipHash.
    by_key: FxHashMap<K, Instant>,
}

impl<K: Copy + Ord + Hash> Default for Timers<K> {
    fn default() -> Self {
        Timers {
            by_time: BTreeSet::new(),
            by_key: FxHashMap::default(),
        }
    }
}

impl<K: Copy + Ord + Hash> Timers<K> {
    /// Register `key`'s next deadline (None = nothing pending).
    pub fn set(&mut self, key: K, at: Option<Instant>) {
        // Re-arming with the same deadline (most calls) costs one lookup.
        if self.by_key.get(&key).copied() == at {
            return;
        }
        if let Some(old) = self.by_key.remove(&key) {
            self.by_time.remove(&(old, key));
        }
        if let Some(at) = at {
            self.by_time.insert((at, key));
            self.by_key.insert(key, at);
        }
    }

    /// `key`'s deadline, if armed.
    pub fn deadline(&self, key: K) -> Option<Instant> {
        self.by_key.get(&key).copied()
    }

    pub fn next(&self) -> Option<Instant> {
        self.by_time.first().map(|(t, _)| *t)
    }

    /// Take every key whose deadline is at or before `now`.
    pub fn expired(&mut self, now: Instant) -> Vec<K> {
        let mut out = Vec::new();
        while let Some(&(t, k)) = self.by_time.first() {
            if t > now {
                break;
            }
            self.by_time.pop_first();
            self.by_key.remove(&k);
            out.push(k);
        }
        out
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rearm_replaces_and_expiry_is_ordered() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.set(1u32, Some(t0 + Duration::from_secs(5)));
        t.set(2u32, Some(t0 + Duration::from_secs(1)));
        t.set(1u32, Some(t0 + Duration::from_secs(2)));
        assert_eq!(t.len(), 2);
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(t.expired(t0 + Duration::from_secs(3)), vec![2, 1]);
        assert!(t.is_empty());
        t.set(3, Some(t0));
        t.set(3, None);
        assert!(t.is_empty());
    }
}
