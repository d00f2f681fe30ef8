//! Downstream's direct-mapped lookup (daemon::fast_lines::DownIndexLayout):
//! which `down_index` entry names which session's line, and the rules that
//! keep it exact.
//!
//! - A record says what the `down_hosts` hash says for its address: it is
//!   published only while its session owns that /32 with that value, and
//!   withdrawn (the index entry, then the line's address) before the hash
//!   entry changes hands, changes value or goes.
//! - A line carries at most one record per session's tenure: a program run
//!   that read the record's address just before a withdrawal still finds
//!   the fields it was published with, since they are not written again
//!   until the line has rested (`LineStates`) under a new session.
//! - An address whose entry names another is found in the hash: exact,
//!   one probe slower.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use super::abi::DownValue;
use super::table::MapWrites;
use crate::daemon::fast_lines::DownIndexLayout;
use crate::dataplane::session_table::SessionKey;

/// A published record: whose, for which address, on which line, saying what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Record {
    key: SessionKey,
    addr: Ipv4Addr,
    slot: u32,
    value: DownValue,
}

#[derive(Debug)]
pub struct DownRecords {
    layout: DownIndexLayout,
    /// By index entry.
    records: HashMap<u32, Record>,
}

impl DownRecords {
    pub fn new(layout: DownIndexLayout) -> Self {
        DownRecords {
            layout,
            records: HashMap::new(),
        }
    }

    pub fn layout(&self) -> DownIndexLayout {
        self.layout
    }

    /// The record for `addr`, if one is published.
    fn record(&self, addr: Ipv4Addr) -> Option<&Record> {
        self.records
            .get(&self.layout.index(addr))
            .filter(|r| r.addr == addr)
    }

    /// Is `key`'s packet to `addr` found through the index?
    pub fn holds(&self, key: SessionKey, addr: Ipv4Addr) -> bool {
        self.record(addr).is_some_and(|r| r.key == key)
    }

    /// Withdraw the record for `addr` unless it is `key`'s and says `value`
    /// (the hash entry for `addr` is about to be written with them).
    pub fn before_write(
        &mut self,
        maps: &mut impl MapWrites,
        addr: Ipv4Addr,
        key: SessionKey,
        value: DownValue,
    ) {
        if self
            .record(addr)
            .is_some_and(|r| r.key != key || r.value != value)
        {
            self.withdraw(maps, addr);
        }
    }

    /// Withdraw the record for `addr`, if any (before its hash entry goes).
    pub fn withdraw(&mut self, maps: &mut impl MapWrites, addr: Ipv4Addr) {
        let i = self.layout.index(addr);
        if let Some(r) = self.records.get(&i).filter(|r| r.addr == addr) {
            maps.clear_down_line(i, r.slot);
            self.records.remove(&i);
        }
    }

    /// Publish `key`'s record for `addr` on line `slot`, if `addr`'s entry
    /// names nothing; the caller vouches that the line carried no record in
    /// this session's tenure. Whether it was published.
    pub fn publish(
        &mut self,
        maps: &mut impl MapWrites,
        key: SessionKey,
        addr: Ipv4Addr,
        slot: u32,
        value: DownValue,
    ) -> bool {
        let i = self.layout.index(addr);
        if addr.is_unspecified() || self.records.contains_key(&i) {
            return false;
        }
        maps.put_down_line(i, slot, addr, value);
        self.records.insert(
            i,
            Record {
                key,
                addr,
                slot,
                value,
            },
        );
        true
    }

    /// Records published now.
    pub fn published(&self) -> usize {
        self.records.len()
    }
}
