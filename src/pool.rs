//! IPv4 address pool: hands out the addresses of the ip_pool file to sessions.
//!
//! Same policy as l2tpns `assign_ip_address` (a user gets back the address
//! they had last, if it is still free; otherwise the least recently freed
//! address), but every operation is O(1) (O(log n) for lookups by address)
//! instead of l2tpns's linear scan:
//!
//! * the free addresses form an intrusive doubly linked list through the slot
//!   array, ordered by time of release (head = least recently freed);
//! * a `HashMap` maps a user name to the slot it had last (sticky address);
//! * a sorted index finds the slot of an address by binary search.
//!
//! Memory: 32 bytes per slot + 4 bytes of index = 36 bytes per address, plus
//! the last holder's name (one shared string: the slot and the sticky map
//! hold the same `Arc<str>`, which the caller may share too) and its
//! sticky-map entry.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::fx_hash::FxBuildHasher;

use crate::config::IpPoolSpec;

const NIL: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct Slot {
    addr: Ipv4Addr,
    prev: u32,
    next: u32,
    used: bool,
    /// Who had (or has) this address last; empty = nobody.
    user: Arc<str>,
}

/// The pool. Not thread-safe by design: the control plane owns it.
#[derive(Debug, Clone)]
pub struct AddressPool {
    slots: Vec<Slot>,
    /// Slot indices sorted by address.
    by_addr: Vec<u32>,
    head: u32,
    tail: u32,
    free: usize,
    /// User name -> slot it was given last.
    sticky: HashMap<Arc<str>, u32>,
}

impl AddressPool {
    /// A pool of these addresses; duplicates are ignored. All start free,
    /// handed out in the given order.
    pub fn new(addrs: impl IntoIterator<Item = Ipv4Addr>) -> Self {
        let mut slots: Vec<Slot> = Vec::new();
        // Our own addresses: the Fx hash (SipHash made a /12 take seconds).
        let mut seen = std::collections::HashSet::<Ipv4Addr, FxBuildHasher>::default();
        // One empty name for every never-used slot (an Arc allocates).
        let nobody: Arc<str> = Arc::from("");
        for addr in addrs {
            // u32 indices, NIL reserved.
            if slots.len() >= (NIL as usize) - 1 {
                break;
            }
            if seen.insert(addr) {
                slots.push(Slot {
                    addr,
                    prev: NIL,
                    next: NIL,
                    used: false,
                    user: nobody.clone(),
                });
            }
        }
        let mut by_addr: Vec<u32> = (0..slots.len() as u32).collect();
        by_addr.sort_unstable_by_key(|&i| slots[i as usize].addr);
        let mut pool = AddressPool {
            slots,
            by_addr,
            head: NIL,
            tail: NIL,
            free: 0,
            sticky: HashMap::new(),
        };
        for i in 0..pool.slots.len() as u32 {
            pool.push_tail(i);
        }
        pool
    }

    /// A pool of the addresses of a parsed ip_pool file.
    pub fn from_spec(spec: &IpPoolSpec) -> Self {
        AddressPool::new(spec.addresses.iter().copied())
    }

    /// Number of addresses.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn free_count(&self) -> usize {
        self.free
    }

    pub fn used_count(&self) -> usize {
        self.slots.len() - self.free
    }

    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        self.index_of(addr).is_some()
    }

    pub fn is_free(&self, addr: Ipv4Addr) -> bool {
        self.index_of(addr)
            .is_some_and(|i| !self.slots[i as usize].used)
    }

    /// Who has (if used) or last had (if free) this address, for `show pool`.
    pub fn last_user(&self, addr: Ipv4Addr) -> Option<&str> {
        let s = &self.slots[self.index_of(addr)? as usize];
        (!s.user.is_empty()).then_some(&*s.user)
    }

    /// Takes an address for `user`: the one this user had last if it is still
    /// free, else the least recently freed one. An empty `user` gets no sticky
    /// address (l2tpns does this for walled-garden sessions).
    pub fn allocate(&mut self, user: &str) -> Option<Ipv4Addr> {
        self.allocate_shared(&Arc::from(user))
    }

    /// `allocate` keeping the caller's copy of the name (no new string).
    pub fn allocate_shared(&mut self, user: &Arc<str>) -> Option<Ipv4Addr> {
        let idx = match self.sticky.get(&**user) {
            Some(&i) if !user.is_empty() && !self.slots[i as usize].used => i,
            _ => self.head,
        };
        if idx == NIL {
            return None;
        }
        self.take(idx, user);
        Some(self.slots[idx as usize].addr)
    }

    /// Takes this address for `user` if it is in the pool and free.
    pub fn reserve(&mut self, addr: Ipv4Addr, user: &str) -> bool {
        self.reserve_shared(addr, &Arc::from(user))
    }

    /// `reserve` keeping the caller's copy of the name (no new string).
    pub fn reserve_shared(&mut self, addr: Ipv4Addr, user: &Arc<str>) -> bool {
        match self.index_of(addr) {
            Some(i) if !self.slots[i as usize].used => {
                self.take(i, user);
                true
            }
            _ => false,
        }
    }

    /// Gives an address back; it becomes the most recently freed. Returns
    /// false if it is not in the pool or already free.
    pub fn release(&mut self, addr: Ipv4Addr) -> bool {
        match self.index_of(addr) {
            Some(i) if self.slots[i as usize].used => {
                self.slots[i as usize].used = false;
                self.push_tail(i);
                true
            }
            _ => false,
        }
    }

    /// The pool of a re-read ip_pool file (SIGHUP): addresses in use that
    /// are still listed stay taken by the same user, and free ones keep
    /// their last user (sticky addresses survive). Addresses in use that
    /// left the file are not in the new pool: `release` of them returns
    /// false and they are simply gone when their session ends.
    pub fn reloaded(&self, addrs: impl IntoIterator<Item = Ipv4Addr>) -> AddressPool {
        let mut next = AddressPool::new(addrs);
        for s in self.slots.iter().filter(|s| s.used) {
            next.reserve_shared(s.addr, &s.user);
        }
        for s in self.slots.iter().filter(|s| !s.used && !s.user.is_empty()) {
            if let Some(i) = next.index_of(s.addr) {
                if !next.slots[i as usize].used {
                    next.slots[i as usize].user = s.user.clone();
                    next.sticky.insert(s.user.clone(), i);
                }
            }
        }
        next
    }

    fn index_of(&self, addr: Ipv4Addr) -> Option<u32> {
        self.by_addr
            .binary_search_by_key(&addr, |&i| self.slots[i as usize].addr)
            .ok()
            .map(|pos| self.by_addr[pos])
    }

    fn take(&mut self, idx: u32, user: &Arc<str>) {
        self.unlink(idx);
        let slot = &mut self.slots[idx as usize];
        slot.used = true;
        let old = std::mem::replace(&mut slot.user, user.clone());
        if *old != **user && self.sticky.get(&old) == Some(&idx) {
            self.sticky.remove(&old);
        }
        if !user.is_empty() {
            // Replace the key too: the map then holds the caller's string,
            // not a second copy of it.
            self.sticky.remove(&**user);
            self.sticky.insert(user.clone(), idx);
        }
    }

    fn push_tail(&mut self, idx: u32) {
        let tail = self.tail;
        {
            let s = &mut self.slots[idx as usize];
            s.prev = tail;
            s.next = NIL;
        }
        if tail == NIL {
            self.head = idx;
        } else {
            self.slots[tail as usize].next = idx;
        }
        self.tail = idx;
        self.free += 1;
    }

    fn unlink(&mut self, idx: u32) {
        let (prev, next) = {
            let s = &self.slots[idx as usize];
            (s.prev, s.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
        let s = &mut self.slots[idx as usize];
        s.prev = NIL;
        s.next = NIL;
        self.free -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(n: u32) -> Ipv4Addr {
        Ipv4Addr::from(0x0a00_0000 + n)
    }

    fn pool(n: u32) -> AddressPool {
        AddressPool::new((1..=n).map(ip))
    }

    #[test]
    fn reload_keeps_addresses_in_use_and_sticky_ones() {
        let mut p = pool(4);
        assert_eq!(p.allocate("a"), Some(ip(1)));
        assert_eq!(p.allocate("b"), Some(ip(2)));
        assert_eq!(p.allocate("c"), Some(ip(3)));
        assert!(p.release(ip(3)));
        // The new file drops 2 (in use) and adds 5 and 6.
        let mut q = p.reloaded([ip(1), ip(3), ip(4), ip(5), ip(6)]);
        assert_eq!(q.len(), 5);
        assert!(!q.is_free(ip(1)));
        assert!(!q.contains(ip(2)));
        // b's address left the pool: releasing it changes nothing.
        assert!(!q.release(ip(2)));
        // c gets its sticky address back.
        assert_eq!(q.allocate("c"), Some(ip(3)));
        assert_eq!(q.free_count(), 3);
    }

    #[test]
    fn slot_is_32_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 32);
    }

    #[test]
    fn allocates_in_order_then_exhausts() {
        let mut p = pool(3);
        assert_eq!(p.allocate("a"), Some(ip(1)));
        assert_eq!(p.allocate("b"), Some(ip(2)));
        assert_eq!(p.allocate("c"), Some(ip(3)));
        assert_eq!(p.allocate("d"), None);
        assert_eq!((p.free_count(), p.used_count()), (0, 3));
    }

    #[test]
    fn sticky_address_comes_back() {
        let mut p = pool(4);
        let a = p.allocate("alice").unwrap();
        let b = p.allocate("bob").unwrap();
        assert!(p.release(a));
        assert!(p.release(b));
        // Least recently freed is ip(3), but alice gets hers back.
        assert_eq!(p.allocate("alice"), Some(a));
        assert_eq!(p.allocate("carol"), Some(ip(3)));
        assert_eq!(p.last_user(b), Some("bob"));
        assert_eq!(p.allocate("bob"), Some(b));
    }

    #[test]
    fn sticky_is_lost_when_someone_else_takes_it() {
        let mut p = pool(1);
        let a = p.allocate("alice").unwrap();
        p.release(a);
        assert_eq!(p.allocate("bob"), Some(a));
        p.release(a);
        assert_eq!(p.last_user(a), Some("bob"));
        assert_eq!(p.allocate("alice"), Some(a));
    }

    #[test]
    fn least_recently_freed_first() {
        let mut p = pool(3);
        for u in ["a", "b", "c"] {
            p.allocate(u);
        }
        p.release(ip(2));
        p.release(ip(1));
        p.release(ip(3));
        assert_eq!(p.allocate(""), Some(ip(2)));
        assert_eq!(p.allocate(""), Some(ip(1)));
        assert_eq!(p.allocate(""), Some(ip(3)));
    }

    #[test]
    fn reserve_release_and_queries() {
        let mut p = pool(5);
        assert!(p.reserve(ip(4), "fixed"));
        assert!(!p.reserve(ip(4), "again"));
        assert!(!p.reserve(ip(99), "outside"));
        assert!(!p.is_free(ip(4)));
        assert!(p.contains(ip(4)) && !p.contains(ip(99)));
        assert!(!p.release(ip(99)));
        assert!(!p.release(ip(5)), "already free");
        assert!(p.release(ip(4)));
        assert!(p.is_free(ip(4)));
        assert_eq!(p.len(), 5);
    }

    #[test]
    fn duplicates_and_empty() {
        let p = AddressPool::new([ip(1), ip(1), ip(2)]);
        assert_eq!(p.len(), 2);
        let mut e = AddressPool::new([]);
        assert!(e.is_empty());
        assert_eq!(e.allocate("x"), None);
    }

    #[test]
    fn hundred_thousand_addresses() {
        let n = 100_000u32;
        let mut p = pool(n);
        let users: Vec<String> = (0..n).map(|i| format!("u{i}")).collect();
        let mut got = Vec::with_capacity(n as usize);
        for u in &users {
            got.push(p.allocate(u).unwrap());
        }
        assert_eq!(p.allocate("extra"), None);
        let mut sorted = got.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), n as usize, "no address handed out twice");
        for a in got.iter().step_by(2) {
            assert!(p.release(*a));
        }
        assert_eq!(p.free_count(), (n / 2) as usize);
        // Every released user gets their own address back.
        for (i, u) in users.iter().enumerate().step_by(2) {
            assert_eq!(p.allocate(u), Some(got[i]));
        }
        assert_eq!(p.free_count(), 0);
        for a in &got {
            assert!(p.release(*a));
        }
        assert_eq!(p.free_count(), n as usize);
    }

    /// Straightforward linear-scan model of the same policy.
    #[derive(Default)]
    struct Model {
        addrs: Vec<Ipv4Addr>,
        used: Vec<bool>,
        user: Vec<String>,
        freed_at: Vec<u64>,
        last_of: HashMap<String, usize>,
        clock: u64,
    }

    impl Model {
        fn new(n: u32) -> Self {
            let mut m = Model::default();
            for i in 0..n {
                m.addrs.push(ip(i + 1));
                m.used.push(false);
                m.user.push(String::new());
                m.freed_at.push(m.clock);
                m.clock += 1;
            }
            m
        }

        fn take(&mut self, i: usize, user: &str) {
            self.used[i] = true;
            self.user[i] = user.to_string();
            if !user.is_empty() {
                self.last_of.insert(user.to_string(), i);
            }
        }

        fn allocate(&mut self, user: &str) -> Option<Ipv4Addr> {
            let sticky = self
                .last_of
                .get(user)
                .copied()
                .filter(|&i| !user.is_empty() && !self.used[i] && self.user[i] == user);
            let i = sticky.or_else(|| {
                (0..self.addrs.len())
                    .filter(|&i| !self.used[i])
                    .min_by_key(|&i| self.freed_at[i])
            })?;
            self.take(i, user);
            Some(self.addrs[i])
        }

        fn reserve(&mut self, a: Ipv4Addr, user: &str) -> bool {
            match self.addrs.iter().position(|&x| x == a) {
                Some(i) if !self.used[i] => {
                    self.take(i, user);
                    true
                }
                _ => false,
            }
        }

        fn release(&mut self, a: Ipv4Addr) -> bool {
            match self.addrs.iter().position(|&x| x == a) {
                Some(i) if self.used[i] => {
                    self.used[i] = false;
                    self.freed_at[i] = self.clock;
                    self.clock += 1;
                    true
                }
                _ => false,
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Allocate(u8),
        Reserve(u32, u8),
        Release(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u8..6).prop_map(Op::Allocate),
            1 => (0u32..12, 0u8..6).prop_map(|(a, u)| Op::Reserve(a, u)),
            3 => (0u32..12).prop_map(Op::Release),
        ]
    }

    fn name(u: u8) -> String {
        // User 0 is the empty name (no sticky address).
        if u == 0 {
            String::new()
        } else {
            format!("user{u}")
        }
    }

    proptest! {
        #[test]
        fn matches_the_model(ops in proptest::collection::vec(op(), 0..200)) {
            let n = 10;
            let mut p = pool(n);
            let mut m = Model::new(n);
            for o in ops {
                match o {
                    Op::Allocate(u) => prop_assert_eq!(p.allocate(&name(u)), m.allocate(&name(u))),
                    Op::Reserve(a, u) => prop_assert_eq!(p.reserve(ip(a), &name(u)), m.reserve(ip(a), &name(u))),
                    Op::Release(a) => prop_assert_eq!(p.release(ip(a)), m.release(ip(a))),
                }
                prop_assert_eq!(p.free_count(), m.used.iter().filter(|u| !**u).count());
                for i in 0..n + 2 {
                    let a = ip(i);
                    let mi = m.addrs.iter().position(|&x| x == a);
                    prop_assert_eq!(p.is_free(a), mi.is_some_and(|i| !m.used[i]));
                }
            }
        }
    }
}
