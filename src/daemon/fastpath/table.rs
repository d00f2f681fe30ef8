//! What the fast path's maps should hold, kept in userspace: each session's
//! slot and destinations, and which session owns each destination. It turns
//! `upsert`/`remove` into map writes through [`MapWrites`], so the order of
//! writes and the route bookkeeping are tested without a kernel.
//!
//! Like the userspace table (`SessionTable`), the last session to claim a
//! destination owns it, and a session's removal deletes only the
//! destinations it still owns.
//!
//! Upstream, a session sits on the line its ids pick (daemon::fast_lines)
//! when that line is free, and its counter slot is that line; otherwise
//! (the line held or resting, a changed session, not x86) it is in the
//! `up_sessions` hash with a slot past the lines.
//!
//! Downstream, a session on a line also has its address's encapsulation
//! there, named by the `down_index` entry the address picks, when that
//! entry is free ([`DownRecords`]); every /32 is in the `down_hosts` hash
//! too, which the program probes next.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use super::abi::{DownValue, UpKey, UpValue};
use super::down_records::DownRecords;
use super::line_states::LineStates;
use super::slots::Slots;
use super::{FastPathError, FastSession};
use crate::daemon::fast_lines::{DownIndexLayout, LineLayout};
use crate::dataplane::session_table::SessionKey;

/// Lines are used only where stores and loads keep their order without
/// fences (`FastLine`); the programs have no acquire load on Debian's clang.
const LINES_ORDERED: bool = cfg!(target_arch = "x86_64");

/// A downstream destination: masked network and prefix length.
pub type Dest = (Ipv4Addr, u8);

/// The map writes the table needs (the kernel maps, or a test's record).
pub trait MapWrites {
    fn put_up(&mut self, key: UpKey, value: UpValue) -> Result<(), String>;
    fn del_up(&mut self, key: UpKey);
    /// Publish `key` on line `slot` (fields first, ids last).
    fn put_line(&mut self, slot: u32, key: UpKey, value: UpValue);
    /// Clear line `slot`'s ids: nothing is found there any more.
    fn clear_line(&mut self, slot: u32);
    fn put_down(&mut self, dest: Dest, value: DownValue) -> Result<(), String>;
    fn del_down(&mut self, dest: Dest);
    /// Zero a slot's counters before a new session is published on it.
    fn zero_slot(&mut self, slot: u32);
    /// Publish `value` for `addr` in line `slot`'s down record (fields
    /// first, the address last), then name the line in `down_index` entry
    /// `index`.
    fn put_down_line(&mut self, index: u32, slot: u32, addr: Ipv4Addr, value: DownValue);
    /// Name nothing in entry `index`, then clear line `slot`'s down record.
    fn clear_down_line(&mut self, index: u32, slot: u32);
}

#[derive(Debug)]
struct Entry {
    slot: u32,
    dests: Vec<Dest>,
    /// What upstream checks, as written.
    up: UpValue,
    /// Found on its line (else in the hash).
    on_line: bool,
    /// Its line has carried a down record in this tenure (`DownRecords`:
    /// at most one).
    down_published: bool,
}

#[derive(Debug)]
pub struct Table {
    layout: LineLayout,
    lines: LineStates,
    slots: Slots,
    sessions: HashMap<SessionKey, Entry>,
    owners: HashMap<Dest, SessionKey>,
    /// Entries of `sessions` not on their line.
    off_line: usize,
    down: DownRecords,
}

/// The session's address (unless unspecified, as the userspace table does)
/// and its routes, masked, without duplicates.
fn destinations(s: &FastSession) -> Vec<Dest> {
    let mut d: Vec<Dest> = Vec::with_capacity(1 + s.routes.len());
    if !s.address.is_unspecified() {
        d.push((s.address, 32));
    }
    for r in &s.routes {
        d.push((r.network(), r.prefix()));
    }
    d.sort_unstable();
    d.dedup();
    d
}

impl Table {
    /// Lines as `layout` says, and `capacity` slots past them for the hash.
    pub fn new(layout: LineLayout, down: DownIndexLayout, capacity: u32) -> Self {
        let lines = layout.lines();
        Table {
            layout,
            lines: LineStates::new(lines),
            slots: Slots::new(lines..lines.saturating_add(capacity)),
            sessions: HashMap::new(),
            owners: HashMap::new(),
            off_line: 0,
            down: DownRecords::new(down),
        }
    }

    /// Is `key`'s traffic to its address found through the down index?
    pub fn down_indexed(&self, key: SessionKey) -> bool {
        self.sessions.get(&key).is_some_and(|e| {
            e.dests
                .iter()
                .any(|d| d.1 == 32 && self.down.holds(key, d.0))
        })
    }

    /// Entries in the down index.
    pub fn down_index_len(&self) -> u32 {
        self.down.layout().entries()
    }

    /// Sessions downstream finds in the hash rather than through the
    /// index entry their address picks.
    pub fn off_index(&self) -> usize {
        self.sessions.len().saturating_sub(self.down.published())
    }

    pub fn slot(&self, key: SessionKey) -> Option<u32> {
        self.sessions.get(&key).map(|e| e.slot)
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Sessions upstream finds in the hash.
    pub fn off_line(&self) -> usize {
        self.off_line
    }

    /// Every entry goes in and out through these two, which keep `off_line`.
    fn take_entry(&mut self, key: SessionKey) -> Option<Entry> {
        let e = self.sessions.remove(&key)?;
        self.off_line -= usize::from(!e.on_line);
        Some(e)
    }

    fn put_entry(&mut self, key: SessionKey, e: Entry) {
        self.off_line += usize::from(!e.on_line);
        if let Some(old) = self.sessions.insert(key, e) {
            self.off_line -= usize::from(!old.on_line);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Insert or replace `s` (the same key keeps its slot). On an error the
    /// session is not in the fast path at all: its traffic goes to userspace.
    pub fn upsert(
        &mut self,
        maps: &mut impl MapWrites,
        s: &FastSession,
    ) -> Result<(), FastPathError> {
        let (slot, old, old_up, on_line, down_published) = match self.take_entry(s.key) {
            Some(e) => (e.slot, e.dests, Some(e.up), e.on_line, e.down_published),
            None => {
                let line = self.layout.index(s.key);
                let slot = if LINES_ORDERED && self.lines.take(line) {
                    line
                } else {
                    self.slots.take().ok_or_else(|| {
                        FastPathError::Map(format!(
                            "its line is taken and all slots past the lines are in use ({} sessions in the fast path; max_sessions sizes both)",
                            self.sessions.len()
                        ))
                    })?
                };
                // Nothing refers to the slot yet: start its counts at zero.
                maps.zero_slot(slot);
                (slot, Vec::new(), None, false, false)
            }
        };
        let new = destinations(s);
        let down = DownValue::new(s.peer, s.peer_tunnel, s.peer_session, s.mru, slot);
        let up = UpValue::new(s.peer, s.address, slot);
        let mut entry = Entry {
            slot,
            dests: old,
            up,
            on_line,
            down_published,
        };
        let mut written: Vec<Dest> = Vec::with_capacity(new.len());
        let mut result = Ok(());
        for d in &new {
            if d.1 == 32 {
                self.down.before_write(maps, d.0, s.key, down);
            }
            if let Err(e) = maps.put_down(*d, down) {
                result = Err(FastPathError::Map(format!(
                    "down_hosts/down_routes {}/{}: {e}",
                    d.0, d.1
                )));
                break;
            }
            self.owners.insert(*d, s.key);
            written.push(*d);
        }
        if result.is_ok() {
            result = self.write_up(maps, s.key, &mut entry, old_up);
        }
        if result.is_err() {
            // Take out everything of this key, old and new, and free the slot.
            entry.dests.extend(written);
            self.put_entry(s.key, entry);
            self.remove(maps, s.key);
            return result;
        }
        for d in entry.dests.iter().filter(|d| !new.contains(d)) {
            self.disown(maps, *d, s.key);
        }
        entry.dests = new;
        // A line rests before its next session: the first record of this
        // tenure finds it empty and unread.
        if LINES_ORDERED
            && !entry.down_published
            && self.lines.is_line(slot)
            && self.owners.get(&(s.address, 32)) == Some(&s.key)
        {
            entry.down_published = self.down.publish(maps, s.key, s.address, slot, down);
        }
        self.put_entry(s.key, entry);
        Ok(())
    }

    /// Make upstream find `e.up`: a new session on its own line goes there;
    /// a session on its line that changes moves to the hash (written
    /// first, then the line cleared, so every run finds the old checks or
    /// the new, never a mix); the rest is a hash write.
    fn write_up(
        &mut self,
        maps: &mut impl MapWrites,
        key: SessionKey,
        e: &mut Entry,
        old_up: Option<UpValue>,
    ) -> Result<(), FastPathError> {
        let k = UpKey::new(key);
        let fresh_line = old_up.is_none() && self.lines.is_line(e.slot);
        if fresh_line {
            maps.put_line(e.slot, k, e.up);
            e.on_line = true;
            return Ok(());
        }
        if e.on_line && old_up == Some(e.up) {
            return Ok(());
        }
        maps.put_up(k, e.up)
            .map_err(|err| FastPathError::Map(format!("up_sessions: {err}")))?;
        if e.on_line {
            maps.clear_line(e.slot);
            e.on_line = false;
        }
        Ok(())
    }

    /// Take the session out (nothing happens for an unknown key): its
    /// destinations, then its upstream entry, then its slot (a line rests).
    pub fn remove(&mut self, maps: &mut impl MapWrites, key: SessionKey) {
        let Some(e) = self.take_entry(key) else {
            return;
        };
        for d in &e.dests {
            self.disown(maps, *d, key);
        }
        if e.on_line {
            maps.clear_line(e.slot);
        } else {
            maps.del_up(UpKey::new(key));
        }
        if self.lines.is_line(e.slot) {
            self.lines.rest(e.slot);
        } else {
            self.slots.give_back(e.slot);
        }
    }

    /// Once a second: lines that rested long enough are free again.
    pub fn tick(&mut self) {
        self.lines.tick();
    }

    /// Delete `d` if `key` still owns it.
    fn disown(&mut self, maps: &mut impl MapWrites, d: Dest, key: SessionKey) {
        if self.owners.get(&d) == Some(&key) {
            self.owners.remove(&d);
            if d.1 == 32 {
                self.down.withdraw(maps, d.0);
            }
            maps.del_down(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipnetwork::Ipv4Network;
    use std::collections::BTreeMap;

    /// Records the map contents the writes produce.
    #[derive(Default)]
    struct Fake {
        up: HashMap<UpKey, UpValue>,
        lines: BTreeMap<u32, (UpKey, UpValue)>,
        down: BTreeMap<Dest, DownValue>,
        zeroed: Vec<u32>,
        log: Vec<String>,
        fail_down: Option<Dest>,
        /// By index entry: the line named, and its record.
        down_lines: BTreeMap<u32, (u32, Ipv4Addr, DownValue)>,
        /// Lines that carried a record since they were last zeroed.
        recorded: std::collections::HashSet<u32>,
    }

    impl MapWrites for Fake {
        fn put_up(&mut self, key: UpKey, value: UpValue) -> Result<(), String> {
            self.log.push(format!("put_up {key:?}"));
            self.up.insert(key, value);
            Ok(())
        }
        fn del_up(&mut self, key: UpKey) {
            self.log.push(format!("del_up {key:?}"));
            self.up.remove(&key);
        }
        fn put_line(&mut self, slot: u32, key: UpKey, value: UpValue) {
            self.log.push(format!("put_line {slot}"));
            assert!(
                self.lines.insert(slot, (key, value)).is_none(),
                "line {slot} was not empty"
            );
        }
        fn clear_line(&mut self, slot: u32) {
            self.log.push(format!("clear_line {slot}"));
            self.lines.remove(&slot);
        }
        fn put_down(&mut self, dest: Dest, value: DownValue) -> Result<(), String> {
            if self.fail_down == Some(dest) {
                return Err("no space".into());
            }
            self.log.push(format!("put_down {}/{}", dest.0, dest.1));
            self.down.insert(dest, value);
            Ok(())
        }
        fn del_down(&mut self, dest: Dest) {
            self.log.push(format!("del_down {}/{}", dest.0, dest.1));
            self.down.remove(&dest);
        }
        fn zero_slot(&mut self, slot: u32) {
            self.zeroed.push(slot);
            self.recorded.remove(&slot);
        }
        fn put_down_line(&mut self, index: u32, slot: u32, addr: Ipv4Addr, value: DownValue) {
            self.log.push(format!("put_down_line {index} {slot}"));
            assert!(
                self.recorded.insert(slot),
                "line {slot} carried a record in this tenure already"
            );
            assert!(
                self.down_lines.insert(index, (slot, addr, value)).is_none(),
                "entry {index} named a line already"
            );
        }
        fn clear_down_line(&mut self, index: u32, slot: u32) {
            self.log.push(format!("clear_down_line {index} {slot}"));
            assert_eq!(self.down_lines.remove(&index).map(|e| e.0), Some(slot));
        }
    }

    impl Fake {
        /// Sessions upstream finds, on lines or in the hash.
        fn up_count(&self) -> usize {
            self.up.len() + self.lines.len()
        }

        /// Every record says what the hash says for its address.
        fn records_agree(&self) {
            for (i, (slot, addr, v)) in &self.down_lines {
                assert_eq!(
                    self.down.get(&(*addr, 32)),
                    Some(v),
                    "entry {i} (line {slot}) for {addr}"
                );
            }
        }
    }

    fn key(session: u16) -> SessionKey {
        SessionKey { tunnel: 1, session }
    }

    /// Capacity `n`: one block of lines (tunnel ids share them all).
    fn table(n: u32) -> Table {
        Table::new(
            LineLayout::for_capacity(n),
            DownIndexLayout::for_capacity(n),
            n,
        )
    }

    const LINES: u32 = 1 << 16;

    fn session(session: u16, address: [u8; 4], routes: &[&str]) -> FastSession {
        FastSession {
            key: key(session),
            peer: "192.0.2.1:1701".parse().unwrap(),
            peer_tunnel: 100,
            peer_session: 200 + session,
            address: Ipv4Addr::from(address),
            routes: routes.iter().map(|r| r.parse().unwrap()).collect(),
            mru: 1400,
        }
    }

    fn dest(s: &str) -> Dest {
        let n: Ipv4Network = s.parse().unwrap();
        (n.network(), n.prefix())
    }

    #[test]
    fn upsert_replacing_routes_writes_new_then_deletes_the_dropped() {
        let (mut t, mut m) = (table(8), Fake::default());
        t.upsert(
            &mut m,
            &session(1, [10, 0, 0, 1], &["192.168.1.0/24", "192.168.2.0/24"]),
        )
        .unwrap();
        let slot = t.slot(key(1)).unwrap();
        m.log.clear();
        t.upsert(
            &mut m,
            &session(1, [10, 0, 0, 1], &["192.168.2.0/24", "172.16.0.0/12"]),
        )
        .unwrap();
        assert_eq!(t.slot(key(1)), Some(slot), "the same key keeps its slot");
        assert_eq!(m.zeroed, vec![slot], "a kept slot is not zeroed again");
        let keys: Vec<_> = m.down.keys().copied().collect();
        assert_eq!(
            keys,
            vec![
                dest("10.0.0.1/32"),
                dest("172.16.0.0/12"),
                dest("192.168.2.0/24")
            ]
        );
        // New entries first, then the deletion of the dropped route.
        let dropped = m
            .log
            .iter()
            .position(|l| l == "del_down 192.168.1.0/24")
            .unwrap();
        let added = m
            .log
            .iter()
            .position(|l| l == "put_down 172.16.0.0/12")
            .unwrap();
        assert!(added < dropped, "{:?}", m.log);
        assert_eq!(m.up_count(), 1);
    }

    #[test]
    fn routes_are_masked_and_deduplicated() {
        let (mut t, mut m) = (table(8), Fake::default());
        t.upsert(
            &mut m,
            &session(
                1,
                [10, 0, 0, 1],
                &["192.168.1.77/24", "192.168.1.0/24", "10.0.0.1/32"],
            ),
        )
        .unwrap();
        let keys: Vec<_> = m.down.keys().copied().collect();
        assert_eq!(keys, vec![dest("10.0.0.1/32"), dest("192.168.1.0/24")]);
    }

    #[test]
    fn remove_deletes_only_what_the_session_still_owns() {
        let (mut t, mut m) = (table(8), Fake::default());
        t.upsert(&mut m, &session(1, [10, 0, 0, 1], &["192.168.1.0/24"]))
            .unwrap();
        // Session 2 claims the same route: the last writer wins.
        t.upsert(&mut m, &session(2, [10, 0, 0, 2], &["192.168.1.0/24"]))
            .unwrap();
        assert_eq!(m.down[&dest("192.168.1.0/24")], {
            let s2 = session(2, [10, 0, 0, 2], &[]);
            DownValue::new(s2.peer, 100, 202, 1400, t.slot(key(2)).unwrap())
        });
        t.remove(&mut m, key(1));
        assert!(
            m.down.contains_key(&dest("192.168.1.0/24")),
            "still session 2's"
        );
        assert!(!m.down.contains_key(&dest("10.0.0.1/32")));
        assert!(!m.lines.contains_key(&1));
        t.remove(&mut m, key(1)); // idempotent
        t.remove(&mut m, key(2));
        assert!(m.down.is_empty() && m.up_count() == 0 && t.is_empty());
    }

    /// Session `session` of tunnel 2: the same line as tunnel 1's.
    fn other(session: u16, address: [u8; 4]) -> FastSession {
        FastSession {
            key: SessionKey { tunnel: 2, session },
            ..self::session(session, address, &[])
        }
    }

    #[test]
    fn a_session_sits_on_the_line_its_ids_pick_and_counts_there() {
        let (mut t, mut m) = (table(8), Fake::default());
        t.upsert(&mut m, &session(7, [10, 0, 0, 7], &[])).unwrap();
        assert_eq!(t.slot(key(7)), Some(7), "the line is its counter slot");
        assert_eq!(m.zeroed, vec![7]);
        assert!(m.up.is_empty());
        assert_eq!(t.off_line(), 0);
        let (k, v) = m.lines[&7];
        assert_eq!(k, UpKey::new(key(7)));
        assert_eq!(
            v,
            UpValue::new(session(7, [0; 4], &[]).peer, [10, 0, 0, 7].into(), 7)
        );
        // Downstream counts on the same slot.
        assert_eq!(m.down[&dest("10.0.0.7/32")], {
            let s = session(7, [10, 0, 0, 7], &[]);
            DownValue::new(s.peer, 100, 207, 1400, 7)
        });
        // Its line written after its destinations, as the hash was, and
        // its down record last (entry 7: 10.0.0.7's low bits).
        assert_eq!(
            m.log,
            ["put_down 10.0.0.7/32", "put_line 7", "put_down_line 7 7"]
        );
        assert!(t.down_indexed(key(7)));
        m.records_agree();
    }

    #[test]
    fn a_held_line_sends_the_next_session_to_the_hash() {
        let (mut t, mut m) = (table(8), Fake::default());
        t.upsert(&mut m, &session(7, [10, 0, 0, 7], &[])).unwrap();
        t.upsert(&mut m, &other(7, [10, 0, 0, 8])).unwrap();
        let slot = t
            .slot(SessionKey {
                tunnel: 2,
                session: 7,
            })
            .unwrap();
        assert!(slot >= LINES, "a slot past the lines: {slot}");
        assert_eq!(t.off_line(), 1);
        assert_eq!(
            m.up[&UpKey::new(SessionKey {
                tunnel: 2,
                session: 7
            })]
                .slot(),
            slot
        );
        t.remove(
            &mut m,
            SessionKey {
                tunnel: 2,
                session: 7,
            },
        );
        assert!(m.up.is_empty() && m.lines.len() == 1);
        assert!(m.log.iter().any(|l| l.starts_with("del_up")), "{:?}", m.log);
    }

    #[test]
    fn a_line_let_go_rests_a_whole_tick_before_it_is_used_again() {
        let (mut t, mut m) = (table(8), Fake::default());
        t.upsert(&mut m, &session(7, [10, 0, 0, 7], &[])).unwrap();
        t.remove(&mut m, key(7));
        assert_eq!(m.log.last().unwrap(), "clear_line 7");
        assert!(m.lines.is_empty());
        // Back at once (the same ids): the line rests, so the hash.
        t.upsert(&mut m, &session(7, [10, 0, 0, 7], &[])).unwrap();
        assert!(t.slot(key(7)).unwrap() >= LINES);
        t.remove(&mut m, key(7));
        t.tick();
        t.upsert(&mut m, &session(7, [10, 0, 0, 7], &[])).unwrap();
        assert!(
            t.slot(key(7)).unwrap() >= LINES,
            "one tick is not a whole period"
        );
        t.remove(&mut m, key(7));
        t.tick();
        t.upsert(&mut m, &session(7, [10, 0, 0, 7], &[])).unwrap();
        assert_eq!(t.slot(key(7)), Some(7));
    }

    #[test]
    fn a_changed_session_moves_off_its_line_hash_first() {
        let (mut t, mut m) = (table(8), Fake::default());
        t.upsert(&mut m, &session(7, [10, 0, 0, 7], &[])).unwrap();
        // The same again: nothing to write upstream.
        m.log.clear();
        t.upsert(&mut m, &session(7, [10, 0, 0, 7], &[])).unwrap();
        assert!(
            !m.log.iter().any(|l| l.contains("up") || l.contains("line")),
            "{:?}",
            m.log
        );
        // A new address: the hash gets it, then the line is cleared.
        m.log.clear();
        t.upsert(&mut m, &session(7, [10, 0, 0, 9], &[])).unwrap();
        let put = m.log.iter().position(|l| l.starts_with("put_up")).unwrap();
        let cleared = m.log.iter().position(|l| l == "clear_line 7").unwrap();
        assert!(put < cleared, "{:?}", m.log);
        assert_eq!(t.slot(key(7)), Some(7), "it keeps its slot and counts");
        assert!(m.lines.is_empty());
        assert_eq!(t.off_line(), 1);
        // It leaves from the hash; its line rests as any other.
        t.remove(&mut m, key(7));
        assert!(m.up.is_empty());
        assert_eq!(t.off_line(), 0);
        t.upsert(&mut m, &other(7, [10, 0, 0, 8])).unwrap();
        assert!(
            t.slot(SessionKey {
                tunnel: 2,
                session: 7
            })
            .unwrap()
                >= LINES
        );
    }

    #[test]
    fn slots_past_the_lines_run_out_and_come_back_fifo() {
        let (mut t, mut m) = (table(2), Fake::default());
        // Tunnel 1 holds lines 1-3, so tunnel 2's same ids take slots.
        for n in 1..=3 {
            t.upsert(&mut m, &session(n, [10, 0, 0, n as u8], &[]))
                .unwrap();
        }
        t.upsert(&mut m, &other(1, [10, 0, 1, 1])).unwrap();
        t.upsert(&mut m, &other(2, [10, 0, 1, 2])).unwrap();
        let e = t.upsert(&mut m, &other(3, [10, 0, 1, 3])).unwrap_err();
        assert!(e.to_string().contains("slots"), "{e}");
        assert!(!m.down.contains_key(&dest("10.0.1.3/32")));
        t.remove(
            &mut m,
            SessionKey {
                tunnel: 2,
                session: 1,
            },
        );
        t.upsert(&mut m, &other(3, [10, 0, 1, 3])).unwrap();
        assert_eq!(
            t.slot(SessionKey {
                tunnel: 2,
                session: 3
            }),
            Some(LINES)
        );
        assert_eq!(
            m.zeroed,
            vec![1, 2, 3, LINES, LINES + 1, LINES],
            "zeroed again before its reuse"
        );
    }

    #[test]
    fn a_failed_write_leaves_nothing_of_the_session() {
        let (mut t, mut m) = (table(4), Fake::default());
        t.upsert(&mut m, &session(1, [10, 0, 0, 1], &["192.168.1.0/24"]))
            .unwrap();
        m.fail_down = Some(dest("192.168.9.0/24"));
        let e = t.upsert(
            &mut m,
            &session(1, [10, 0, 0, 1], &["192.168.1.0/24", "192.168.9.0/24"]),
        );
        assert!(e.is_err());
        assert!(m.down.is_empty() && m.up_count() == 0, "{:?}", m.down);
        assert_eq!(t.slot(key(1)), None);
        m.fail_down = None;
        t.upsert(&mut m, &session(1, [10, 0, 0, 1], &[])).unwrap();
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn unspecified_address_has_no_down_entry() {
        let (mut t, mut m) = (table(4), Fake::default());
        t.upsert(&mut m, &session(1, [0, 0, 0, 0], &[])).unwrap();
        assert!(m.down.is_empty());
        assert_eq!(m.up_count(), 1);
    }

    /// 10.0.16.x picks the same entry as 10.0.0.x (4,096 entries).
    const SAME_ENTRY: u8 = 16;

    #[test]
    fn a_second_address_on_an_entry_and_sessions_past_the_lines_go_by_the_hash() {
        let (mut t, mut m) = (table(8), Fake::default());
        t.upsert(&mut m, &session(1, [10, 0, 0, 1], &[])).unwrap();
        t.upsert(&mut m, &session(2, [10, 0, SAME_ENTRY, 1], &[]))
            .unwrap();
        t.upsert(&mut m, &other(1, [10, 0, 0, 9])).unwrap();
        assert!(t.down_indexed(key(1)));
        assert!(!t.down_indexed(key(2)), "entry 1 names session 1's line");
        assert!(
            !t.down_indexed(SessionKey {
                tunnel: 2,
                session: 1
            }),
            "past the lines"
        );
        assert_eq!(t.off_index(), 2);
        assert_eq!(m.down.len(), 3, "all three in the hash");
        m.records_agree();
    }

    #[test]
    fn a_record_is_withdrawn_before_its_hash_entry_changes_or_goes() {
        let (mut t, mut m) = (table(8), Fake::default());
        t.upsert(&mut m, &session(1, [10, 0, 0, 1], &[])).unwrap();
        // Session 2 takes 10.0.0.1 as a Framed-Route: 1's record goes
        // first, then the hash says 2; 2's own address has its record.
        m.log.clear();
        t.upsert(&mut m, &session(2, [10, 0, 0, 2], &["10.0.0.1/32"]))
            .unwrap();
        let cleared = m.log.iter().position(|l| l == "clear_down_line 1 1");
        let put = m.log.iter().position(|l| l == "put_down 10.0.0.1/32");
        assert!(cleared.is_some() && cleared < put, "{:?}", m.log);
        assert!(!t.down_indexed(key(1)) && t.down_indexed(key(2)));
        m.records_agree();
        // Removal: the record, then the hash entry.
        m.log.clear();
        t.remove(&mut m, key(2));
        let cleared = m.log.iter().position(|l| l == "clear_down_line 2 2");
        let deleted = m.log.iter().position(|l| l == "del_down 10.0.0.2/32");
        assert!(cleared.is_some() && cleared < deleted, "{:?}", m.log);
        assert!(m.down_lines.is_empty());
        m.records_agree();
    }

    #[test]
    fn a_changed_session_leaves_the_index_until_its_line_has_rested() {
        let (mut t, mut m) = (table(8), Fake::default());
        t.upsert(&mut m, &session(1, [10, 0, 0, 1], &[])).unwrap();
        let smaller = FastSession {
            mru: 1200,
            ..session(1, [10, 0, 0, 1], &[])
        };
        m.log.clear();
        t.upsert(&mut m, &smaller).unwrap();
        assert_eq!(m.log[0], "clear_down_line 1 1", "{:?}", m.log);
        assert_eq!(
            m.down[&dest("10.0.0.1/32")],
            DownValue::new(smaller.peer, 100, 201, 1200, 1)
        );
        // Not again on the same line in this tenure (the Fake asserts it),
        // however often it is upserted.
        t.upsert(&mut m, &smaller).unwrap();
        assert!(!t.down_indexed(key(1)));
        m.records_agree();
        // Gone, rested, back: a new tenure, a new record.
        t.remove(&mut m, key(1));
        t.tick();
        t.tick();
        t.upsert(&mut m, &smaller).unwrap();
        assert_eq!(t.slot(key(1)), Some(1));
        assert!(t.down_indexed(key(1)));
        m.records_agree();
    }
}
