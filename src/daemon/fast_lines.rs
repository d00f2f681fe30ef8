//! Where the kernel fast path looks a session up from the ids in an
//! upstream packet: a line of its counter array picked by the ids
//! themselves, (tunnel & mask) << 16 | session, so that finding a session
//! costs one cache miss whether there are 1,000 sessions or 100,000 (the
//! hash it replaces cost two, more at many sessions: Docs/FASTPATH.md).
//!
//! Two sessions can pick the same line (two tunnels whose ids share the
//! low bits, each with the same session id). The fast path then puts the
//! second in its hash, which is still exact, only slower; the control
//! plane avoids it by giving a new call a session id whose line no other
//! session holds (the [`LineBook`], asked by the L2TP core through
//! [`SessionIdHint`]).

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::dataplane::session_table::SessionKey;
use crate::l2tp::session_ids::SessionIdHint;

/// Sessions in the fast path at once when max_sessions is 0 (no limit);
/// the rest take the userspace path. Sizes the maps and the counter slots.
const DEFAULT_CAPACITY: u32 = 1 << 17;

/// Most blocks of 65,536 lines (64 MB of lines at 64 bytes each).
const MAX_BLOCKS: u32 = 64;

/// The fast path's session capacity for a max_sessions setting.
pub fn fast_capacity(max_sessions: u32) -> u32 {
    if max_sessions == 0 {
        DEFAULT_CAPACITY
    } else {
        max_sessions
    }
}

/// How many blocks of 65,536 lines there are: enough for `capacity`
/// sessions, a power of two so that the block is the tunnel id's low bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineLayout {
    blocks: u32,
}

impl LineLayout {
    pub fn for_capacity(capacity: u32) -> Self {
        LineLayout {
            blocks: capacity
                .div_ceil(1 << 16)
                .next_power_of_two()
                .clamp(1, MAX_BLOCKS),
        }
    }

    /// Lines in all: slots below this are lines, the rest are the hash's.
    pub fn lines(self) -> u32 {
        self.blocks << 16
    }

    /// The tunnel id bits that pick the block.
    pub fn tunnel_mask(self) -> u32 {
        self.blocks - 1
    }

    /// The line the ids of `k` pick (as bpf/fastpath.c's find_session).
    pub fn index(self, k: SessionKey) -> u32 {
        ((u32::from(k.tunnel) & self.tunnel_mask()) << 16) | u32::from(k.session)
    }
}

/// Fewest and most entries of the downstream index (16 KB and 16 MB).
const MIN_DOWN_INDEX: u32 = 1 << 12;
const MAX_DOWN_INDEX: u32 = 1 << 22;

/// Downstream's counterpart of the lines: the destination address's low
/// bits pick an entry of the `down_index` array, which names the line that
/// holds the session's encapsulation, so that a packet to a session costs
/// the entry and the line (the hash it goes before costs a bucket, an
/// element and the line). Twice the capacity, a power of two: the
/// addresses of one pool are contiguous, so up to that size they pick
/// entries of their own; a second address on an entry goes by the hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DownIndexLayout {
    len: u32,
}

impl DownIndexLayout {
    pub fn for_capacity(capacity: u32) -> Self {
        DownIndexLayout {
            len: capacity
                .saturating_mul(2)
                .clamp(MIN_DOWN_INDEX, MAX_DOWN_INDEX)
                .next_power_of_two(),
        }
    }

    /// Entries in the index.
    pub fn entries(self) -> u32 {
        self.len
    }

    /// The address bits that pick the entry (as fp_config's down_mask).
    pub fn mask(self) -> u32 {
        self.len - 1
    }

    /// The entry `a` picks (as bpf/fastpath.c's find_route).
    pub fn index(self, a: Ipv4Addr) -> u32 {
        u32::from(a) & self.mask()
    }
}

/// How long a line let go stays unpreferred here. The fast path lets it
/// rest through a whole tick of its own once-a-second pass (1-2 s) before
/// another session may sit on it; 3 s covers that from another clock.
pub const LINE_REST: Duration = Duration::from_secs(3);

/// Which lines the control plane's sessions pick, one bit a line: a new
/// call is given a session id whose line is free here, neither held nor
/// let go in the last [`LINE_REST`]. A hint only: the fast path decides
/// from its own exact table. Without the rest, sessions that come back at
/// once (a LAC restarted, a bench's next run) would get the lines their
/// predecessors just left, still resting there, and be found in the hash
/// (upstream) and not through the index (downstream) all their lives.
#[derive(Debug)]
pub struct LineBook {
    layout: LineLayout,
    /// Atomics only so the L2TP core may hold the book (`Arc<dyn
    /// SessionIdHint>` is Sync); the control plane alone writes and reads.
    taken: Vec<AtomicU64>,
    resting: Vec<AtomicU64>,
    /// Lines let go, with when they stop resting, oldest first.
    rest_until: Mutex<VecDeque<(u32, Instant)>>,
}

impl LineBook {
    pub fn new(layout: LineLayout) -> Self {
        let words = (layout.lines() as usize).div_ceil(64);
        let bits = || (0..words).map(|_| AtomicU64::new(0)).collect();
        LineBook {
            layout,
            taken: bits(),
            resting: bits(),
            rest_until: Mutex::new(VecDeque::new()),
        }
    }

    /// Line `i`'s word in `bits` and its bit there.
    fn bit(bits: &[AtomicU64], i: u32) -> (&AtomicU64, u64) {
        let i = i as usize;
        // In range: the words cover every line the layout can index.
        (&bits[i / 64], 1 << (i % 64))
    }

    /// A session of `k` exists (from its ICRQ on).
    pub fn take(&self, k: SessionKey) {
        let (w, b) = Self::bit(&self.taken, self.layout.index(k));
        w.fetch_or(b, Relaxed);
    }

    /// The session of `k` is gone at `now`: its line rests until
    /// `now + LINE_REST`.
    pub fn release(&self, k: SessionKey, now: Instant) {
        let i = self.layout.index(k);
        let (w, b) = Self::bit(&self.taken, i);
        w.fetch_and(!b, Relaxed);
        let (w, b) = Self::bit(&self.resting, i);
        w.fetch_or(b, Relaxed);
        if let Ok(mut q) = self.rest_until.lock() {
            q.push_back((i, now + LINE_REST));
        }
    }

    /// Lines whose rest is over by `now` are free again (before each call
    /// is given its ids). A line let go twice within the rest may come
    /// free a little early: a hint only.
    pub fn expire(&self, now: Instant) {
        let Ok(mut q) = self.rest_until.lock() else {
            return;
        };
        while let Some(&(i, until)) = q.front() {
            if until > now {
                break;
            }
            q.pop_front();
            let (w, b) = Self::bit(&self.resting, i);
            w.fetch_and(!b, Relaxed);
        }
    }

    fn is_set(bits: &[AtomicU64], i: u32) -> bool {
        let (w, b) = Self::bit(bits, i);
        w.load(Relaxed) & b != 0
    }

    /// Held by a session now.
    pub fn is_taken(&self, k: SessionKey) -> bool {
        Self::is_set(&self.taken, self.layout.index(k))
    }

    /// Neither held nor resting.
    pub fn is_free(&self, k: SessionKey) -> bool {
        let i = self.layout.index(k);
        !Self::is_set(&self.taken, i) && !Self::is_set(&self.resting, i)
    }
}

impl SessionIdHint for LineBook {
    fn prefers(&self, tunnel: u16, session: u16) -> bool {
        self.is_free(SessionKey { tunnel, session })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(tunnel: u16, session: u16) -> SessionKey {
        SessionKey { tunnel, session }
    }

    #[test]
    fn blocks_cover_the_capacity_in_powers_of_two() {
        let blocks = |c| LineLayout::for_capacity(c).lines() >> 16;
        assert_eq!(blocks(1), 1);
        assert_eq!(blocks(60_000), 1);
        assert_eq!(blocks(65_536), 1);
        assert_eq!(blocks(65_537), 2);
        assert_eq!(blocks(fast_capacity(0)), 2);
        assert_eq!(blocks(200_000), 4);
        assert_eq!(blocks(u32::MAX), MAX_BLOCKS);
    }

    #[test]
    fn the_tunnel_low_bits_pick_the_block() {
        let l = LineLayout::for_capacity(200_000);
        assert_eq!(l.tunnel_mask(), 3);
        assert_eq!(l.index(key(1, 7)), (1 << 16) | 7);
        assert_eq!(l.index(key(5, 7)), (1 << 16) | 7, "5 & 3 = 1");
        assert_eq!(l.index(key(u16::MAX, u16::MAX)), l.lines() - 1);
    }

    #[test]
    fn the_down_index_is_twice_the_capacity_within_bounds() {
        let len = |c| DownIndexLayout::for_capacity(c).entries();
        assert_eq!(len(1), MIN_DOWN_INDEX);
        assert_eq!(len(100_000), 1 << 18);
        assert_eq!(len(fast_capacity(0)), 1 << 18);
        assert_eq!(len(u32::MAX), MAX_DOWN_INDEX);
        let d = DownIndexLayout::for_capacity(100_000);
        assert_eq!(d.index(Ipv4Addr::new(10, 1, 2, 3)), 0x0001_0203);
        assert_eq!(
            d.index(Ipv4Addr::new(10, 5, 2, 3)),
            0x0001_0203,
            "0x05 & 0x03"
        );
    }

    #[test]
    fn the_book_prefers_free_lines_only() {
        let b = LineBook::new(LineLayout::for_capacity(100_000));
        b.take(key(1, 9));
        assert!(!b.prefers(3, 9), "3 & 1 = 1: the same line");
        assert!(b.prefers(2, 9), "another block");
        assert!(b.prefers(1, 10));
        let t0 = Instant::now();
        b.release(key(3, 9), t0); // the line's, whoever took it
        assert!(!b.is_taken(key(1, 9)));
        assert!(!b.prefers(1, 9), "resting");
        b.expire(t0 + LINE_REST - Duration::from_millis(1));
        assert!(!b.prefers(1, 9), "still resting");
        b.expire(t0 + LINE_REST);
        assert!(b.prefers(1, 9), "rested");
    }

    #[test]
    fn a_line_taken_again_while_resting_stays_unpreferred_until_let_go() {
        let b = LineBook::new(LineLayout::for_capacity(1_000));
        let t0 = Instant::now();
        b.take(key(1, 5));
        b.release(key(1, 5), t0);
        b.take(key(2, 5)); // any id when 1,024 tries found no free line
        b.expire(t0 + LINE_REST);
        assert!(b.is_taken(key(2, 5)) && !b.prefers(1, 5), "held");
    }
}
