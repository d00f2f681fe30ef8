//! packet_limit (l2tpns): at most N downstream packets per session per
//! 0.1 s, the excess dropped. As in l2tpns, a fixed window: the count
//! restarts when the tenth of a second changes.
//!
//! The count lives in the session's entry of one worker's table, so it
//! costs a compare and an add per packet and no lock (relaxed atomics only
//! so the table stays `Sync`: each copy has one writer, its worker); each
//! worker counts the packets it sees. Downstream packets of one session may be spread
//! over the workers by the TUN's flow hash, so with N workers a session
//! may get up to N times the limit; with one worker it is exact.
//! A TSO/USO super-packet is admitted whole when the window has room and
//! counts as the datagrams it becomes, so one window may overshoot by one
//! super-packet (at most 64 datagrams).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// Ticks (milliseconds) in one window.
const WINDOW_MS: u64 = 100;

/// The current window of one session in one worker.
#[derive(Debug, Default)]
pub struct PacketWindow {
    window: AtomicU64,
    sent: AtomicU32,
}

impl Clone for PacketWindow {
    fn clone(&self) -> Self {
        PacketWindow {
            window: AtomicU64::new(self.window.load(Relaxed)),
            sent: AtomicU32::new(self.sent.load(Relaxed)),
        }
    }
}

impl PacketWindow {
    /// May another packet go in the window of `tick` under `limit` (0 =
    /// no limit)?
    #[inline]
    pub fn admits(&self, limit: u32, tick: u64) -> bool {
        if limit == 0 {
            return true;
        }
        let w = tick / WINDOW_MS;
        if self.window.load(Relaxed) != w {
            self.window.store(w, Relaxed);
            self.sent.store(0, Relaxed);
        }
        self.sent.load(Relaxed) < limit
    }

    /// Count `datagrams` sent in the current window.
    #[inline]
    pub fn count(&self, limit: u32, datagrams: usize) {
        if limit != 0 {
            let n = u32::try_from(datagrams).unwrap_or(u32::MAX);
            self.sent
                .store(self.sent.load(Relaxed).saturating_add(n), Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(w: &PacketWindow, limit: u32, tick: u64, n: usize) -> usize {
        (0..n)
            .filter(|_| {
                let ok = w.admits(limit, tick);
                if ok {
                    w.count(limit, 1);
                }
                ok
            })
            .count()
    }

    #[test]
    fn n_per_tenth_of_a_second() {
        let w = PacketWindow::default();
        assert_eq!(send(&w, 5, 1_000, 20), 5);
        assert_eq!(send(&w, 5, 1_099, 20), 0, "same window");
        assert_eq!(send(&w, 5, 1_100, 20), 5, "a new window");
        assert_eq!(send(&w, 5, 5_000, 3), 3);
    }

    #[test]
    fn zero_is_no_limit() {
        let w = PacketWindow::default();
        assert_eq!(send(&w, 0, 1, 100_000), 100_000);
    }

    #[test]
    fn a_super_packet_counts_as_its_datagrams() {
        let w = PacketWindow::default();
        assert!(w.admits(10, 0));
        w.count(10, 46);
        assert!(!w.admits(10, 50));
        assert!(w.admits(10, 100));
    }
}
