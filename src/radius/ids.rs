//! Identifier allocation across several sockets (RFC 2865 §3: the Identifier
//! is one octet, so each UDP socket gives 256 outstanding requests). Slots
//! are handed out FIFO so a freed (socket, id) is reused as late as
//! possible, which keeps a late answer from matching a newer request.

use std::collections::VecDeque;

/// A (socket index, identifier) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Slot {
    pub socket: usize,
    pub id: u8,
}

impl Slot {
    fn index(self) -> usize {
        self.socket * 256 + usize::from(self.id)
    }
}

pub struct IdPool {
    free: VecDeque<Slot>,
    /// Request key per slot index while in use.
    owner: Vec<Option<u64>>,
}

impl IdPool {
    pub fn new(sockets: usize) -> IdPool {
        // 1..=4096 sockets (over a million identifiers) keeps the table sane.
        let sockets = sockets.clamp(1, 4096);
        // Interleave sockets so consecutive requests spread over them.
        let free = (0..=255u8)
            .flat_map(|id| (0..sockets).map(move |socket| Slot { socket, id }))
            .collect();
        IdPool {
            free,
            owner: vec![None; sockets * 256],
        }
    }

    pub fn allocate(&mut self, key: u64) -> Option<Slot> {
        let slot = self.free.pop_front()?;
        if let Some(o) = self.owner.get_mut(slot.index()) {
            *o = Some(key);
        }
        Some(slot)
    }

    pub fn release(&mut self, slot: Slot) {
        if let Some(o) = self.owner.get_mut(slot.index()) {
            if o.take().is_some() {
                self.free.push_back(slot);
            }
        }
    }

    /// The request waiting on this slot, if any.
    pub fn owner(&self, socket: usize, id: u8) -> Option<u64> {
        if socket >= self.owner.len() / 256 {
            return None;
        }
        self.owner
            .get(Slot { socket, id }.index())
            .copied()
            .flatten()
    }

    pub fn available(&self) -> usize {
        self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhausts_and_reuses_late() {
        let mut p = IdPool::new(2);
        let a = p.allocate(1).unwrap();
        assert_eq!(p.owner(a.socket, a.id), Some(1));
        let mut all = vec![a];
        for k in 2..=512 {
            all.push(p.allocate(k).unwrap());
        }
        assert!(p.allocate(999).is_none());
        p.release(a);
        p.release(a); // double release is harmless
        assert_eq!(p.available(), 1);
        assert_eq!(p.allocate(7), Some(a));
        assert_eq!(p.owner(5, 0), None);
    }
}
