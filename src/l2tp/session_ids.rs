//! Per-tunnel session id allocation (RFC 2661 §3.1: non-zero, 16-bit, chosen
//! by the receiver of the call). A rotating cursor over the id space gives
//! the longest possible time before an id is reused, without keeping a
//! 64K-entry free list per tunnel; ids in use are never handed out.
//! The owner may prefer some ids over others ([`SessionIdHint`]).

use std::collections::HashMap;
use std::fmt::Debug;

use crate::fx_hash::FxBuildHasher;

/// Which of our session ids the tunnel's owner would rather hand out: any
/// free id is correct, some are cheaper for its data plane (the kernel fast
/// path finds a session by a line its ids pick, so the daemon prefers ids
/// whose line no session of another tunnel holds).
pub trait SessionIdHint: Debug + Send + Sync {
    /// `session` in the tunnel whose local id is `tunnel` is preferred.
    fn prefers(&self, tunnel: u16, session: u16) -> bool;
}

/// How many ids past the cursor are tried for a preferred one before the
/// first free id is taken: bounds an ICRQ's cost when few are preferred.
const HINT_SEARCH: u32 = 1024;

/// The sessions of one tunnel, keyed by our (local) session id.
#[derive(Debug, Clone)]
pub struct SessionTable<S> {
    /// Our own ids: the Fx hash (SipHash showed in the setup profile).
    map: HashMap<u16, S, FxBuildHasher>,
    cursor: u16,
}

impl<S> Default for SessionTable<S> {
    fn default() -> Self {
        SessionTable {
            map: HashMap::default(),
            cursor: 1,
        }
    }
}

impl<S> SessionTable<S> {
    /// Insert `s` under a fresh non-zero id; None when all 65535 are in use.
    pub fn insert(&mut self, s: S) -> Option<u16> {
        self.insert_preferring(s, |_| true)
    }

    /// As `insert`, taking the first free id from the cursor that `prefers`
    /// (within HINT_SEARCH ids), else the first free id.
    pub fn insert_preferring(&mut self, s: S, prefers: impl Fn(u16) -> bool) -> Option<u16> {
        if self.map.len() >= usize::from(u16::MAX) {
            return None;
        }
        let mut id = self.cursor;
        for _ in 0..HINT_SEARCH {
            if id != 0 && !self.map.contains_key(&id) && prefers(id) {
                self.cursor = id.wrapping_add(1).max(1);
                self.map.insert(id, s);
                return Some(id);
            }
            id = id.wrapping_add(1);
        }
        loop {
            let id = self.cursor;
            self.cursor = self.cursor.wrapping_add(1).max(1);
            if id != 0 && !self.map.contains_key(&id) {
                self.map.insert(id, s);
                return Some(id);
            }
        }
    }
    pub fn get(&self, id: u16) -> Option<&S> {
        self.map.get(&id)
    }
    pub fn get_mut(&mut self, id: u16) -> Option<&mut S> {
        self.map.get_mut(&id)
    }
    pub fn remove(&mut self, id: u16) -> Option<S> {
        self.map.remove(&id)
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn clear(&mut self) {
        self.map.clear()
    }
    pub fn iter(&self) -> impl Iterator<Item = (u16, &S)> {
        self.map.iter().map(|(id, s)| (*id, s))
    }
    /// Where the next id search starts (saved across a restart, so ids
    /// are not reused sooner than without one).
    pub fn cursor(&self) -> u16 {
        self.cursor
    }
    /// A table as saved: these sessions under their ids.
    pub fn restored(entries: impl IntoIterator<Item = (u16, S)>, cursor: u16) -> Self {
        SessionTable {
            map: entries.into_iter().filter(|(id, _)| *id != 0).collect(),
            cursor: cursor.max(1),
        }
    }
    /// First id whose session matches `pred`.
    pub fn find(&self, mut pred: impl FnMut(&S) -> bool) -> Option<u16> {
        self.map.iter().find(|(_, s)| pred(s)).map(|(id, _)| *id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_non_zero_not_reused_while_in_use() {
        let mut t = SessionTable::default();
        let a = t.insert(()).unwrap();
        let b = t.insert(()).unwrap();
        assert_eq!((a, b), (1, 2));
        t.remove(a);
        // Freed id is not reused immediately.
        assert_eq!(t.insert(()), Some(3));
        t.cursor = u16::MAX;
        assert_eq!(t.insert(()), Some(u16::MAX));
        // Wraps, skips 0 and ids in use (2, 3), reuses 1.
        assert_eq!(t.insert(()), Some(1));
        assert_eq!(t.insert(()), Some(4));
    }

    #[test]
    fn preferred_ids_first_then_any_free_one() {
        let mut t = SessionTable::default();
        // Odd ids only: 1, then 3 (2 is free but not preferred).
        assert_eq!(t.insert_preferring((), |id| id % 2 == 1), Some(1));
        assert_eq!(t.insert_preferring((), |id| id % 2 == 1), Some(3));
        // The cursor moved past 3: nothing preferred, the first free id
        // from the cursor on, so ids still rotate.
        assert_eq!(t.insert_preferring((), |_| false), Some(4));
        // A preferred id beyond the search is not looked for.
        let far = 4 + HINT_SEARCH as u16 + 10;
        assert_eq!(t.insert_preferring((), |id| id == far), Some(5));
    }

    #[test]
    fn full() {
        let mut t = SessionTable::default();
        for _ in 0..u16::MAX {
            assert!(t.insert(()).is_some());
        }
        assert_eq!(t.insert(()), None);
        t.remove(777);
        assert_eq!(t.insert(()), Some(777));
    }
}
