//! What the fast path's maps should hold, kept in userspace: each session's
//! slot and destinations, and which session owns each destination. It turns
//! `upsert`/`remove` into map writes through [`MapWrites`], so the order of
//! writes and the route bookkeeping are tested without a kernel.
//!
//! Like the userspace table (`SessionTable`), the last session to claim a
//! destination owns it, and a session's removal deletes only the
//! destinations it still owns.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use super::abi::{DownValue, UpKey, UpValue};
use super::slots::Slots;
use super::{FastPathError, FastSession};
use crate::dataplane::session_table::SessionKey;

/// A downstream destination: masked network and prefix length.
pub type Dest = (Ipv4Addr, u8);

/// The map writes the table needs (the kernel maps, or a test's record).
pub trait MapWrites {
    fn put_up(&mut self, key: UpKey, value: UpValue) -> Result<(), String>;
    fn del_up(&mut self, key: UpKey);
    fn put_down(&mut self, dest: Dest, value: DownValue) -> Result<(), String>;
    fn del_down(&mut self, dest: Dest);
    /// Zero a slot's counters before a new session is published on it.
    fn zero_slot(&mut self, slot: u32);
}

#[derive(Debug)]
struct Entry {
    slot: u32,
    dests: Vec<Dest>,
}

#[derive(Debug)]
pub struct Table {
    slots: Slots,
    sessions: HashMap<SessionKey, Entry>,
    owners: HashMap<Dest, SessionKey>,
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
    pub fn new(capacity: u32) -> Self {
        Table {
            slots: Slots::new(capacity),
            sessions: HashMap::new(),
            owners: HashMap::new(),
        }
    }

    pub fn slot(&self, key: SessionKey) -> Option<u32> {
        self.sessions.get(&key).map(|e| e.slot)
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
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
        let (slot, old) = match self.sessions.remove(&s.key) {
            Some(e) => (e.slot, e.dests),
            None => {
                let slot = self.slots.take().ok_or_else(|| {
                    FastPathError::Map(format!(
                        "all {} fast-path slots are in use (capacity)",
                        self.sessions.len()
                    ))
                })?;
                // Nothing refers to the slot yet: start its counts at zero.
                maps.zero_slot(slot);
                (slot, Vec::new())
            }
        };
        let new = destinations(s);
        let down = DownValue::new(s.peer, s.peer_tunnel, s.peer_session, s.mru, slot);
        let mut written: Vec<Dest> = Vec::with_capacity(new.len());
        let mut result = Ok(());
        for d in &new {
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
            if let Err(e) = maps.put_up(UpKey::new(s.key), UpValue::new(s.peer, s.address, slot)) {
                result = Err(FastPathError::Map(format!("up_sessions: {e}")));
            }
        }
        if result.is_err() {
            // Take out everything of this key, old and new, and free the slot.
            let mut dests = old;
            dests.extend(written);
            self.sessions.insert(s.key, Entry { slot, dests });
            self.remove(maps, s.key);
            return result;
        }
        for d in old.iter().filter(|d| !new.contains(d)) {
            self.disown(maps, *d, s.key);
        }
        self.sessions.insert(s.key, Entry { slot, dests: new });
        Ok(())
    }

    /// Take the session out (nothing happens for an unknown key): its
    /// destinations, then its upstream entry, then its slot.
    pub fn remove(&mut self, maps: &mut impl MapWrites, key: SessionKey) {
        let Some(e) = self.sessions.remove(&key) else {
            return;
        };
        for d in &e.dests {
            self.disown(maps, *d, key);
        }
        maps.del_up(UpKey::new(key));
        self.slots.give_back(e.slot);
    }

    /// Delete `d` if `key` still owns it.
    fn disown(&mut self, maps: &mut impl MapWrites, d: Dest, key: SessionKey) {
        if self.owners.get(&d) == Some(&key) {
            self.owners.remove(&d);
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
        down: BTreeMap<Dest, DownValue>,
        zeroed: Vec<u32>,
        log: Vec<String>,
        fail_down: Option<Dest>,
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
        }
    }

    fn key(session: u16) -> SessionKey {
        SessionKey { tunnel: 1, session }
    }

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
        let (mut t, mut m) = (Table::new(8), Fake::default());
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
        assert_eq!(m.up.len(), 1);
    }

    #[test]
    fn routes_are_masked_and_deduplicated() {
        let (mut t, mut m) = (Table::new(8), Fake::default());
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
        let (mut t, mut m) = (Table::new(8), Fake::default());
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
        assert!(!m.up.contains_key(&UpKey::new(key(1))));
        t.remove(&mut m, key(1)); // idempotent
        t.remove(&mut m, key(2));
        assert!(m.down.is_empty() && m.up.is_empty() && t.is_empty());
    }

    #[test]
    fn slots_run_out_and_come_back_fifo() {
        let (mut t, mut m) = (Table::new(2), Fake::default());
        t.upsert(&mut m, &session(1, [10, 0, 0, 1], &[])).unwrap();
        t.upsert(&mut m, &session(2, [10, 0, 0, 2], &[])).unwrap();
        let e = t
            .upsert(&mut m, &session(3, [10, 0, 0, 3], &[]))
            .unwrap_err();
        assert!(e.to_string().contains("slots"), "{e}");
        assert!(!m.down.contains_key(&dest("10.0.0.3/32")));
        t.remove(&mut m, key(1));
        t.upsert(&mut m, &session(3, [10, 0, 0, 3], &[])).unwrap();
        assert_eq!(t.slot(key(3)), Some(0));
        assert_eq!(m.zeroed, vec![0, 1, 0], "zeroed again before its reuse");
    }

    #[test]
    fn a_failed_write_leaves_nothing_of_the_session() {
        let (mut t, mut m) = (Table::new(4), Fake::default());
        t.upsert(&mut m, &session(1, [10, 0, 0, 1], &["192.168.1.0/24"]))
            .unwrap();
        m.fail_down = Some(dest("192.168.9.0/24"));
        let e = t.upsert(
            &mut m,
            &session(1, [10, 0, 0, 1], &["192.168.1.0/24", "192.168.9.0/24"]),
        );
        assert!(e.is_err());
        assert!(m.down.is_empty() && m.up.is_empty(), "{:?}", m.down);
        assert_eq!(t.slot(key(1)), None);
        m.fail_down = None;
        t.upsert(&mut m, &session(1, [10, 0, 0, 1], &[])).unwrap();
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn unspecified_address_has_no_down_entry() {
        let (mut t, mut m) = (Table::new(4), Fake::default());
        t.upsert(&mut m, &session(1, [0, 0, 0, 0], &[])).unwrap();
        assert!(m.down.is_empty());
        assert_eq!(m.up.len(), 1);
    }
}
