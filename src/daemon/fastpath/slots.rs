//! Counter slots past the lines: indexes into the `counters` array for
//! sessions that are not on the line their ids pick (`Table`). Freed slots
//! are reused first-in first-out, so a slot rests as long as possible
//! before its next session: a program run that looked the old session up
//! just before its removal may still add to it.

use std::collections::VecDeque;
use std::ops::Range;

#[derive(Debug)]
pub struct Slots {
    free: VecDeque<u32>,
}

impl Slots {
    /// The slots of `range`, handed out in that order at first.
    pub fn new(range: Range<u32>) -> Self {
        Slots {
            free: range.collect(),
        }
    }

    /// The slot that has been free the longest; None when all are taken.
    pub fn take(&mut self) -> Option<u32> {
        self.free.pop_front()
    }

    /// Give a slot back; it is reused after every slot freed before it.
    pub fn give_back(&mut self, slot: u32) {
        self.free.push_back(slot);
    }

    #[cfg(test)]
    pub fn free_count(&self) -> usize {
        self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_in_order_then_runs_out() {
        let mut s = Slots::new(0..3);
        assert_eq!((s.take(), s.take(), s.take()), (Some(0), Some(1), Some(2)));
        assert_eq!(s.take(), None);
    }

    #[test]
    fn freed_slots_are_reused_fifo_not_at_once() {
        let mut s = Slots::new(0..4);
        let a = s.take().unwrap();
        let b = s.take().unwrap();
        s.give_back(a);
        // 2 and 3 were free before `a`: they come first.
        assert_eq!(s.take(), Some(2));
        s.give_back(b);
        assert_eq!(s.take(), Some(3));
        assert_eq!(s.take(), Some(a));
        assert_eq!(s.take(), Some(b));
        assert_eq!(s.take(), None);
        assert_eq!(s.free_count(), 0);
    }
}
