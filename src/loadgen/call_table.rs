//! A LAC tunnel's calls: our session index by our own session id, the id
//! the LNS puts in every downstream data packet.
//!
//! A vector by id, not a hash map: ids are given out in order, so the
//! downstream benchmark's lookups walk it in order too. A hash map read at
//! random put the receiver's own cache misses into the forwarded windows
//! of the paired bench, which charged them to the LNS (Docs/PERFORMANCE.md).

/// No call on this id.
const NONE: u32 = u32::MAX;

#[derive(Debug, Default)]
pub struct CallTable {
    by_sid: Vec<u32>,
    len: usize,
}

impl CallTable {
    pub fn get(&self, sid: u16) -> Option<usize> {
        match self.by_sid.get(usize::from(sid)) {
            Some(&s) if s != NONE => Some(s as usize),
            _ => None,
        }
    }

    /// Put session `s` on `sid` (replacing any call there); an index that
    /// does not fit 32 bits is refused (false).
    pub fn insert(&mut self, sid: u16, s: usize) -> bool {
        let Ok(v) = u32::try_from(s) else {
            return false;
        };
        if v == NONE {
            return false;
        }
        let i = usize::from(sid);
        if self.by_sid.len() <= i {
            self.by_sid.resize(i + 1, NONE);
        }
        if self.by_sid[i] == NONE {
            self.len += 1;
        }
        self.by_sid[i] = v;
        true
    }

    pub fn remove(&mut self, sid: u16) -> Option<usize> {
        let slot = self.by_sid.get_mut(usize::from(sid))?;
        if *slot == NONE {
            return None;
        }
        let s = std::mem::replace(slot, NONE);
        self.len -= 1;
        Some(s as usize)
    }

    /// Every call's session, the table left empty.
    pub fn drain(&mut self) -> Vec<usize> {
        let v = self.values().collect();
        self.by_sid.clear();
        self.len = 0;
        v
    }

    pub fn values(&self) -> impl Iterator<Item = usize> + '_ {
        self.by_sid
            .iter()
            .filter(|&&s| s != NONE)
            .map(|&s| s as usize)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_come_and_go_by_id() {
        let mut c = CallTable::default();
        assert!(c.is_empty());
        assert!(c.insert(3, 30));
        assert!(c.insert(1, 10));
        assert!(c.insert(3, 31));
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c.get(3), c.get(1), c.get(2), c.get(9)),
            (Some(31), Some(10), None, None)
        );
        assert_eq!(c.remove(1), Some(10));
        assert_eq!(c.remove(1), None);
        assert_eq!(c.remove(60000), None);
        assert!(c.insert(65535, 7));
        assert!(!c.insert(4, u32::MAX as usize));
        assert_eq!(c.values().collect::<Vec<_>>(), vec![31, 7]);
        assert_eq!(c.drain(), vec![31, 7]);
        assert_eq!((c.len(), c.get(3)), (0, None));
    }
}
