//! Free lists of 16-bit protocol ids (L2TP tunnel ids): O(1) allocate and
//! release, never 0, least recently released first so a just-closed id is not
//! reused while the peer may still send to it.

use std::collections::VecDeque;

pub struct IdPool {
    free: VecDeque<u16>,
    in_use: Vec<bool>,
}

impl IdPool {
    /// Ids 1..=max.
    pub fn new(max: u16) -> IdPool {
        IdPool {
            free: (1..=max).collect(),
            in_use: vec![false; usize::from(max) + 1],
        }
    }

    /// Ids 1..=max with `used` taken (restored tunnels keep their ids).
    pub fn with_used(max: u16, used: impl IntoIterator<Item = u16>) -> IdPool {
        let mut in_use = vec![false; usize::from(max) + 1];
        for id in used {
            if let Some(u) = in_use.get_mut(usize::from(id)).filter(|_| id != 0) {
                *u = true;
            }
        }
        IdPool {
            free: (1..=max).filter(|id| !in_use[usize::from(*id)]).collect(),
            in_use,
        }
    }

    pub fn allocate(&mut self) -> Option<u16> {
        let id = self.free.pop_front()?;
        self.in_use[usize::from(id)] = true;
        Some(id)
    }

    pub fn release(&mut self, id: u16) {
        if let Some(used) = self.in_use.get_mut(usize::from(id)) {
            if *used {
                *used = false;
                self.free.push_back(id);
            }
        }
    }

    pub fn in_use(&self) -> usize {
        self.in_use.len() - 1 - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_all_then_none_and_reuses_oldest() {
        let mut p = IdPool::new(3);
        assert_eq!(
            (p.allocate(), p.allocate(), p.allocate()),
            (Some(1), Some(2), Some(3))
        );
        assert_eq!(p.allocate(), None);
        p.release(2);
        p.release(2); // double release is ignored
        p.release(0); // never allocated
        p.release(1);
        assert_eq!(p.in_use(), 1);
        assert_eq!(p.allocate(), Some(2));
        assert_eq!(p.allocate(), Some(1));
    }
}
