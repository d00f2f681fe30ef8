//! Packet loss and reordering applied by the load generator to control
//! traffic in both directions. This kernel has no netem, so the impairment
//! lives here: a dropped or late packet must be recovered by the protocol
//! machines on both sides (L2TP retransmission, PPP restart timers).

use rand::{rngs::StdRng, Rng, SeedableRng};
use std::time::{Duration, Instant};

pub struct Impairment {
    loss: f64,
    reorder: f64,
    rng: StdRng,
    held: Option<(Instant, Vec<u8>)>,
    pub dropped: u64,
    pub reordered: u64,
}

/// How long a held-back packet waits for a successor before it goes out anyway.
const HOLD: Duration = Duration::from_millis(30);

impl Impairment {
    /// `loss` and `reorder` are probabilities in 0..=1.
    pub fn new(loss: f64, reorder: f64, seed: u64) -> Impairment {
        Impairment {
            loss: loss.clamp(0.0, 1.0),
            reorder: reorder.clamp(0.0, 1.0),
            rng: StdRng::seed_from_u64(seed),
            held: None,
            dropped: 0,
            reordered: 0,
        }
    }

    pub fn is_active(&self) -> bool {
        self.loss > 0.0 || self.reorder > 0.0
    }

    /// Decide the fate of `packet`; what may go now is pushed to `out`.
    pub fn pass(&mut self, now: Instant, packet: Vec<u8>, out: &mut Vec<Vec<u8>>) {
        if self.loss > 0.0 && self.rng.gen_bool(self.loss) {
            self.dropped += 1;
            return;
        }
        if self.held.is_none() && self.reorder > 0.0 && self.rng.gen_bool(self.reorder) {
            self.held = Some((now, packet));
            return;
        }
        out.push(packet);
        if let Some((_, h)) = self.held.take() {
            self.reordered += 1;
            out.push(h);
        }
    }

    /// Release a held packet that has waited long enough.
    pub fn flush(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        if let Some((at, _)) = &self.held {
            if now.duration_since(*at) >= HOLD {
                if let Some((_, h)) = self.held.take() {
                    out.push(h);
                }
            }
        }
    }

    pub fn next_flush(&self) -> Option<Instant> {
        self.held.as_ref().map(|(at, _)| *at + HOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_impairment_passes_everything_in_order() {
        let mut i = Impairment::new(0.0, 0.0, 1);
        let now = Instant::now();
        let mut out = Vec::new();
        for n in 0..10u8 {
            i.pass(now, vec![n], &mut out);
        }
        assert_eq!(out, (0..10u8).map(|n| vec![n]).collect::<Vec<_>>());
    }

    #[test]
    fn loss_rate_is_roughly_honoured_and_reorder_swaps() {
        let mut i = Impairment::new(0.2, 0.0, 7);
        let now = Instant::now();
        let mut out = Vec::new();
        for n in 0..10_000u32 {
            i.pass(now, n.to_be_bytes().to_vec(), &mut out);
        }
        assert!((1700..2300).contains(&i.dropped), "dropped {}", i.dropped);
        let mut r = Impairment::new(0.0, 1.0, 7);
        let mut out = Vec::new();
        r.pass(now, vec![1], &mut out);
        r.pass(now, vec![2], &mut out);
        assert_eq!(out, vec![vec![2], vec![1]]);
        r.pass(now, vec![3], &mut out);
        r.flush(now + HOLD, &mut out);
        assert_eq!(out.last(), Some(&vec![3]));
    }
}
