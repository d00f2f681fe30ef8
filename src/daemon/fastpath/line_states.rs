//! Which lines of the counter array hold a session, and which rest. A line
//! whose session left rests through at least one full tick (a second)
//! before another session may sit on it: a program run that read the old
//! ids just before they were cleared finishes long before (a run is a few
//! microseconds, with preemption off), so no run mixes two sessions'
//! fields or counts one session's packet on another.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Free,
    Held,
    Resting,
}

#[derive(Debug)]
pub struct LineStates {
    state: Vec<State>,
    /// Lines let go since the last tick, and between the two ticks before.
    resting: [Vec<u32>; 2],
}

impl LineStates {
    pub fn new(lines: u32) -> Self {
        LineStates {
            state: vec![State::Free; lines as usize],
            resting: [Vec::new(), Vec::new()],
        }
    }

    /// Hold line `i` if it is free.
    pub fn take(&mut self, i: u32) -> bool {
        match self.state.get_mut(i as usize) {
            Some(s @ State::Free) => {
                *s = State::Held;
                true
            }
            _ => false,
        }
    }

    /// Let line `i` go: it rests until the tick after next.
    pub fn rest(&mut self, i: u32) {
        if let Some(s @ State::Held) = self.state.get_mut(i as usize) {
            *s = State::Resting;
            self.resting[0].push(i);
        }
    }

    /// A tick (once a second): lines that rested through a whole tick
    /// period are free again.
    pub fn tick(&mut self) {
        for i in self.resting[1].drain(..) {
            if let Some(s) = self.state.get_mut(i as usize) {
                *s = State::Free;
            }
        }
        // This period's lines rest through the next; the emptied list
        // takes the next period's.
        self.resting.swap(0, 1);
    }

    pub fn is_line(&self, slot: u32) -> bool {
        (slot as usize) < self.state.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_let_go_rests_through_a_whole_tick() {
        let mut l = LineStates::new(4);
        assert!(l.take(1));
        assert!(!l.take(1), "held");
        l.rest(1);
        assert!(!l.take(1), "resting");
        l.tick();
        assert!(!l.take(1), "the tick right after: not a whole period yet");
        l.tick();
        assert!(l.take(1));
        assert!(!l.take(4) && l.is_line(3) && !l.is_line(4));
    }

    #[test]
    fn resting_a_free_line_does_nothing() {
        let mut l = LineStates::new(2);
        l.rest(0);
        assert!(l.take(0));
    }
}
