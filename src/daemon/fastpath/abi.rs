//! The BPF maps' keys and values, byte for byte as `struct up_key` & co. in
//! bpf/fastpath_maps.h. Addresses, ports and L2TP ids are kept in network byte
//! order (as on the wire, so the programs compare without swapping); the
//! constructors take host values and do the swapping in one place.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};

use crate::dataplane::session_table::SessionKey;

/// An IPv4 address as the kernel stores it: its octets in memory order.
fn be_addr(a: Ipv4Addr) -> u32 {
    u32::from_ne_bytes(a.octets())
}

/// `struct up_key`: our (tunnel, session) ids as in an upstream L2TP header.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UpKey {
    tunnel_be: u16,
    session_be: u16,
}

impl UpKey {
    pub fn new(k: SessionKey) -> Self {
        UpKey {
            tunnel_be: k.tunnel.to_be(),
            session_be: k.session.to_be(),
        }
    }

    /// The key's 4 bytes as one word, as `struct fp_line`'s `ids`.
    fn word(self) -> u32 {
        let [t0, t1] = self.tunnel_be.to_ne_bytes();
        let [s0, s1] = self.session_be.to_ne_bytes();
        u32::from_ne_bytes([t0, t1, s0, s1])
    }
}

/// `struct up_value`: who may send the session's data, and its source address.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpValue {
    lac_addr_be: u32,
    lac_port_be: u16,
    pad: u16,
    address_be: u32,
    slot: u32,
}

impl UpValue {
    #[cfg(test)]
    pub fn slot(&self) -> u32 {
        self.slot
    }

    pub fn new(lac: SocketAddrV4, address: Ipv4Addr, slot: u32) -> Self {
        UpValue {
            lac_addr_be: be_addr(*lac.ip()),
            lac_port_be: lac.port().to_be(),
            pad: 0,
            address_be: be_addr(address),
            slot,
        }
    }
}

/// `struct down_value`: how to encapsulate a packet for the session.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DownValue {
    lac_addr_be: u32,
    lac_port_be: u16,
    peer_tunnel_be: u16,
    peer_session_be: u16,
    /// Host order: compared with a length the program has swapped already.
    mru: u16,
    slot: u32,
}

impl DownValue {
    pub fn new(
        lac: SocketAddrV4,
        peer_tunnel: u16,
        peer_session: u16,
        mru: u16,
        slot: u32,
    ) -> Self {
        DownValue {
            lac_addr_be: be_addr(*lac.ip()),
            lac_port_be: lac.port().to_be(),
            peer_tunnel_be: peer_tunnel.to_be(),
            peer_session_be: peer_session.to_be(),
            mru,
            slot,
        }
    }
}

/// The data half of `struct down_key` (aya's `lpm_trie::Key` adds the
/// prefix length in front): the network address in network byte order.
pub fn down_key_data(network: Ipv4Addr) -> u32 {
    be_addr(network)
}

/// `struct fp_config`, the one element of the `config` array.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigValue {
    tun_ifindex: u32,
    /// Host order; 0 = unknown (no check).
    tun_mtu: u32,
    /// 0 = no bind_address: the route's source is used.
    local_addr_be: u32,
    port_be: u16,
    /// CFG_* bits.
    flags: u16,
    /// The tunnel id bits that pick a block of lines (fast_lines).
    line_mask: u32,
    /// The address bits that pick a `down_index` entry (fast_lines).
    down_mask: u32,
}

/// `CFG_LOCAL_LAC_OK`: lo accepts a packet from a local source.
pub const CFG_LOCAL_LAC_OK: u16 = 1;

impl ConfigValue {
    pub fn new(
        tun_ifindex: u32,
        tun_mtu: u32,
        local: Option<Ipv4Addr>,
        port: u16,
        flags: u16,
        line_mask: u32,
        down_mask: u32,
    ) -> Self {
        ConfigValue {
            tun_ifindex,
            tun_mtu,
            local_addr_be: local.map_or(0, be_addr),
            port_be: port.to_be(),
            flags,
            line_mask,
            down_mask,
        }
    }
}

/// `struct fp_counters`: one slot of the memory-mapped `counters` array.
/// The programs add with `__sync_fetch_and_add`; userspace reads (and
/// zeroes a slot before reusing it) through these atomics.
pub use crate::dataplane::session_counters::FastCounters;

/// `struct fp_line`: one element of the `counters` array, a cache line: the
/// slot's counts, then, for a session on the line its ids pick, what the
/// up program checks. Written through the mapping: `publish` stores the
/// fields then the ids, `clear` the ids alone; the program reads the ids,
/// then the fields. x86 keeps stores in order and loads in order, so a
/// program that sees the ids sees the fields written before them (on
/// other architectures `Table` puts every session in the hash).
///
/// The down record after them is written the same way (`publish_down`:
/// the fields, then the address), for a line that `down_index` names.
#[repr(C)]
#[derive(Debug, Default)]
pub struct FastLine {
    pub counters: FastCounters,
    ids: AtomicU32,
    lac_addr_be: AtomicU32,
    address_be: AtomicU32,
    lac_port_be: AtomicU16,
    pad0: u16,
    down_addr_be: AtomicU32,
    down_lac_addr_be: AtomicU32,
    down_lac_port_be: AtomicU16,
    peer_tunnel_be: AtomicU16,
    peer_session_be: AtomicU16,
    mru: AtomicU16,
}

impl FastLine {
    /// Make `key`'s upstream findable here with `v`'s checks. The line
    /// must be empty (its ids 0) and no program run may still be reading
    /// its last session (it rested: `LineStates`).
    pub fn publish(&self, key: UpKey, v: UpValue) {
        self.lac_addr_be.store(v.lac_addr_be, Ordering::Relaxed);
        self.address_be.store(v.address_be, Ordering::Relaxed);
        self.lac_port_be.store(v.lac_port_be, Ordering::Relaxed);
        // Release: the fields above are stored before the ids, in the
        // compiled code as on the CPU.
        self.ids.store(key.word(), Ordering::Release);
    }

    /// Nothing is found here from now on (a run past the ids finishes
    /// with the fields it read).
    pub fn clear(&self) {
        self.ids.store(0, Ordering::Release);
    }

    /// Whose line it is now (0: nobody's).
    #[cfg(test)]
    pub fn ids(&self) -> u32 {
        self.ids.load(Ordering::Acquire)
    }

    /// Make downstream to `addr` find `v` here. The record must be empty
    /// and no program run may still be reading an earlier one (the line
    /// rested since: `DownRecords`).
    pub fn publish_down(&self, addr: Ipv4Addr, v: DownValue) {
        self.down_lac_addr_be
            .store(v.lac_addr_be, Ordering::Relaxed);
        self.down_lac_port_be
            .store(v.lac_port_be, Ordering::Relaxed);
        self.peer_tunnel_be
            .store(v.peer_tunnel_be, Ordering::Relaxed);
        self.peer_session_be
            .store(v.peer_session_be, Ordering::Relaxed);
        self.mru.store(v.mru, Ordering::Relaxed);
        self.down_addr_be.store(be_addr(addr), Ordering::Release);
    }

    /// No packet finds the down record from now on.
    pub fn clear_down(&self) {
        self.down_addr_be.store(0, Ordering::Release);
    }
}

/// `struct down_block`: sixteen `down_index` entries, one array element
/// (an array lays each value out at a multiple of 8 bytes; a block of 16
/// keeps the entries 4 bytes apart, 16 to a cache line). An entry is the
/// slot + 1 of the line holding a down record, 0 for none.
#[repr(C)]
#[derive(Debug, Default)]
pub struct DownBlock(pub [AtomicU32; DOWN_BLOCK as usize]);

/// Entries in a `struct down_block` (DOWN_BLOCK in bpf/fastpath_maps.h).
pub const DOWN_BLOCK: u32 = 16;

// SAFETY: plain #[repr(C)] integers with explicit padding fields, no
// pointers: any bit pattern is valid, which is what aya::Pod asks.
unsafe impl aya::Pod for UpKey {}
// SAFETY: as above.
unsafe impl aya::Pod for UpValue {}
// SAFETY: as above.
unsafe impl aya::Pod for DownValue {}
// SAFETY: as above.
unsafe impl aya::Pod for ConfigValue {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    // Offsets of the C structs as clang lays them out (all naturally aligned).
    #[test]
    fn layouts_match_the_c_structs() {
        assert_eq!(size_of::<UpKey>(), 4);
        assert_eq!(offset_of!(UpKey, session_be), 2);

        assert_eq!(size_of::<UpValue>(), 16);
        assert_eq!(offset_of!(UpValue, lac_port_be), 4);
        assert_eq!(offset_of!(UpValue, address_be), 8);
        assert_eq!(offset_of!(UpValue, slot), 12);

        assert_eq!(size_of::<DownValue>(), 16);
        assert_eq!(offset_of!(DownValue, lac_port_be), 4);
        assert_eq!(offset_of!(DownValue, peer_tunnel_be), 6);
        assert_eq!(offset_of!(DownValue, peer_session_be), 8);
        assert_eq!(offset_of!(DownValue, mru), 10);
        assert_eq!(offset_of!(DownValue, slot), 12);

        assert_eq!(size_of::<ConfigValue>(), 24);
        assert_eq!(offset_of!(ConfigValue, tun_mtu), 4);
        assert_eq!(offset_of!(ConfigValue, local_addr_be), 8);
        assert_eq!(offset_of!(ConfigValue, port_be), 12);
        assert_eq!(offset_of!(ConfigValue, line_mask), 16);
        assert_eq!(offset_of!(ConfigValue, down_mask), 20);

        assert_eq!(size_of::<FastCounters>(), 32);
        assert_eq!(offset_of!(FastCounters, up_bytes), 8);
        assert_eq!(offset_of!(FastCounters, down_packets), 16);
        assert_eq!(offset_of!(FastCounters, down_bytes), 24);

        assert_eq!(size_of::<FastLine>(), 64);
        assert_eq!(offset_of!(FastLine, ids), 32);
        assert_eq!(offset_of!(FastLine, lac_addr_be), 36);
        assert_eq!(offset_of!(FastLine, address_be), 40);
        assert_eq!(offset_of!(FastLine, lac_port_be), 44);
        assert_eq!(offset_of!(FastLine, down_addr_be), 48);
        assert_eq!(offset_of!(FastLine, down_lac_addr_be), 52);
        assert_eq!(offset_of!(FastLine, down_lac_port_be), 56);
        assert_eq!(offset_of!(FastLine, peer_tunnel_be), 58);
        assert_eq!(offset_of!(FastLine, peer_session_be), 60);
        assert_eq!(offset_of!(FastLine, mru), 62);
    }

    /// The same sizes as the compiled object's map definitions (BTF).
    #[test]
    fn sizes_match_the_object() {
        let object = super::super::object::bytes();
        assert!(
            !object.is_empty(),
            "BPF object not built: {}",
            super::super::object::build_error()
        );
        let parsed = aya_obj::Object::parse(object).expect("the BPF object parses");
        let size = |map: &str| {
            let m = parsed.maps.get(map).unwrap_or_else(|| panic!("map {map}"));
            (m.key_size() as usize, m.value_size() as usize)
        };
        assert_eq!(
            size("up_sessions"),
            (size_of::<UpKey>(), size_of::<UpValue>())
        );
        // LPM key: u32 prefix length + the address.
        assert_eq!(size("down_routes"), (8, size_of::<DownValue>()));
        assert_eq!(size("down_hosts"), (4, size_of::<DownValue>()));
        assert_eq!(size("config"), (4, size_of::<ConfigValue>()));
        assert_eq!(size("counters"), (4, size_of::<FastLine>()));
        assert_eq!(size("down_index"), (4, size_of::<DownBlock>()));
        assert_eq!(size_of::<DownBlock>(), 64);
        assert_eq!(size("passed"), (4, 8));
    }

    /// Bytes in memory are the wire's.
    #[test]
    fn network_order_in_memory() {
        let v = UpValue::new(
            "192.0.2.1:1701".parse().unwrap(),
            Ipv4Addr::new(10, 0, 0, 1),
            3,
        );
        // SAFETY: UpValue is 16 bytes of plain integers.
        let b: [u8; 16] = unsafe { std::mem::transmute(v) };
        assert_eq!(&b[0..6], &[192, 0, 2, 1, 0x06, 0xa5]);
        assert_eq!(&b[8..12], &[10, 0, 0, 1]);
        assert_eq!(u32::from_ne_bytes([b[12], b[13], b[14], b[15]]), 3);
        let k = UpKey::new(SessionKey {
            tunnel: 0x0102,
            session: 0x0304,
        });
        // SAFETY: UpKey is 4 bytes of plain integers.
        let kb: [u8; 4] = unsafe { std::mem::transmute(k) };
        assert_eq!(kb, [1, 2, 3, 4]);
        let line = FastLine::default();
        line.publish(k, v);
        assert_eq!(line.ids().to_ne_bytes(), [1, 2, 3, 4]);
        // SAFETY: FastLine is 64 bytes of plain integers (atomics included).
        let lb: [u8; 64] = unsafe { std::mem::transmute(line) };
        assert_eq!(&lb[36..48], &[192, 0, 2, 1, 10, 0, 0, 1, 0x06, 0xa5, 0, 0]);

        let line = FastLine::default();
        let d = DownValue::new("192.0.2.1:1701".parse().unwrap(), 0x0102, 0x0304, 1400, 9);
        line.publish_down(Ipv4Addr::new(10, 0, 0, 1), d);
        // SAFETY: as above.
        let lb: [u8; 64] = unsafe { std::mem::transmute(line) };
        assert_eq!(
            &lb[48..64],
            &[10, 0, 0, 1, 192, 0, 2, 1, 0x06, 0xa5, 1, 2, 3, 4, 0x78, 0x05],
            "the address, the LAC, its ids, the MRU in host order (1400 = 0x578)"
        );
    }
}
