//! The loaded programs' maps from userspace: session entries (through
//! [`MapWrites`]), the one-off configuration, the pass counters, and the
//! memory-mapped slots (traffic counters, and the lines both programs look
//! sessions up in) and downstream's index of them.

use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU32, Ordering};

use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{Array, HashMap as BpfHashMap, Map, MapData, PerCpuArray};
use aya::Ebpf;

use super::abi::{
    down_key_data, ConfigValue, DownBlock, DownValue, FastCounters, FastLine, UpKey, UpValue,
    DOWN_BLOCK,
};
use super::pass_reason::PassReason;
use super::table::{Dest, MapWrites};
use super::FastPathError;

/// The maps userspace keeps writing or reading after start.
pub struct KernelMaps {
    up: BpfHashMap<MapData, UpKey, UpValue>,
    /// /32 destinations (`down_hosts`); the programs look here first.
    hosts: BpfHashMap<MapData, u32, DownValue>,
    /// Shorter prefixes (`down_routes`).
    down: LpmTrie<MapData, u32, DownValue>,
    passed: PerCpuArray<MapData, u64>,
    egress: BpfHashMap<MapData, u32, u32>,
    counters: &'static [FastLine],
    /// `down_index`: slot + 1 of a line with a down record, 0 for none.
    down_index: &'static [DownBlock],
}

fn take(ebpf: &mut Ebpf, name: &str) -> Result<Map, FastPathError> {
    ebpf.take_map(name)
        .ok_or_else(|| FastPathError::Load(format!("the BPF object has no map {name}")))
}

fn map_err(name: &str, e: impl std::fmt::Display) -> FastPathError {
    FastPathError::Map(format!("{name}: {e}"))
}

impl KernelMaps {
    /// Take the maps out of the loaded object, write the configuration and
    /// the uplinks, and map the `slots` counters and the `down_index`
    /// blocks.
    pub fn open(
        ebpf: &mut Ebpf,
        config: ConfigValue,
        egress_ifindexes: &[u32],
        slots: u32,
        index_blocks: u32,
    ) -> Result<Self, FastPathError> {
        let mut cfg: Array<MapData, ConfigValue> =
            Array::try_from(take(ebpf, "config")?).map_err(|e| map_err("config", e))?;
        cfg.set(0, config, 0).map_err(|e| map_err("config", e))?;
        let mut egress: BpfHashMap<MapData, u32, u32> =
            BpfHashMap::try_from(take(ebpf, "egress_ifaces")?)
                .map_err(|e| map_err("egress_ifaces", e))?;
        for i in egress_ifindexes {
            egress
                .insert(i, 1, 0)
                .map_err(|e| map_err("egress_ifaces", e))?;
        }
        let passed: PerCpuArray<MapData, u64> =
            PerCpuArray::try_from(take(ebpf, "passed")?).map_err(|e| map_err("passed", e))?;
        if passed.len() as usize != PassReason::COUNT {
            return Err(FastPathError::Load(format!(
                "the BPF object counts {} pass reasons, this program {}: bpf/fastpath_maps.h and pass_reason.rs disagree",
                passed.len(),
                PassReason::COUNT
            )));
        }
        let counters = match take(ebpf, "counters")? {
            Map::Array(data) => map_shared::<FastLine>(&data, slots, "counters")?,
            _ => return Err(FastPathError::Load("counters is not an array map".into())),
        };
        let down_index = match take(ebpf, "down_index")? {
            Map::Array(data) => map_shared::<DownBlock>(&data, index_blocks, "down_index")?,
            _ => return Err(FastPathError::Load("down_index is not an array map".into())),
        };
        Ok(KernelMaps {
            up: BpfHashMap::try_from(take(ebpf, "up_sessions")?)
                .map_err(|e| map_err("up_sessions", e))?,
            hosts: BpfHashMap::try_from(take(ebpf, "down_hosts")?)
                .map_err(|e| map_err("down_hosts", e))?,
            down: LpmTrie::try_from(take(ebpf, "down_routes")?)
                .map_err(|e| map_err("down_routes", e))?,
            passed,
            egress,
            counters,
            down_index,
        })
    }

    /// Let downstream leave through one more device (an uplink attached
    /// after start).
    pub fn allow_egress(&mut self, ifindex: u32) -> Result<(), FastPathError> {
        self.egress
            .insert(ifindex, 1, 0)
            .map_err(|e| map_err("egress_ifaces", e))
    }

    /// Entry `index` of `down_index`.
    fn entry(&self, index: u32) -> Option<&'static AtomicU32> {
        let i = index as usize;
        self.down_index
            .get(i / DOWN_BLOCK as usize)
            .map(|b| &b.0[i % DOWN_BLOCK as usize])
    }

    pub fn counters(&self, slot: u32) -> Option<&'static FastCounters> {
        self.counters.get(slot as usize).map(|l| &l.counters)
    }

    /// Per reason, summed over the CPUs.
    pub fn passed(&self) -> Vec<(PassReason, u64)> {
        PassReason::ALL
            .iter()
            .map(|&r| {
                let n = self
                    .passed
                    .get(&(r as u32), 0)
                    .map(|per_cpu| per_cpu.iter().fold(0u64, |a, b| a.wrapping_add(*b)))
                    .unwrap_or(0);
                (r, n)
            })
            .collect()
    }
}

/// A /32 goes in `down_hosts`, every other prefix in the `down_routes` trie.
fn is_host(dest: Dest) -> bool {
    dest.1 == 32
}

fn lpm_key(dest: Dest) -> Key<u32> {
    Key::new(u32::from(dest.1), down_key_data(dest.0))
}

impl MapWrites for KernelMaps {
    fn put_up(&mut self, key: UpKey, value: UpValue) -> Result<(), String> {
        self.up.insert(key, value, 0).map_err(|e| e.to_string())
    }

    fn del_up(&mut self, key: UpKey) {
        // Absent already is fine: remove is idempotent.
        let _ = self.up.remove(&key);
    }

    fn put_line(&mut self, slot: u32, key: UpKey, value: UpValue) {
        if let Some(l) = self.counters.get(slot as usize) {
            l.publish(key, value);
        }
    }

    fn clear_line(&mut self, slot: u32) {
        if let Some(l) = self.counters.get(slot as usize) {
            l.clear();
        }
    }

    fn put_down(&mut self, dest: Dest, value: DownValue) -> Result<(), String> {
        if is_host(dest) {
            self.hosts.insert(down_key_data(dest.0), value, 0)
        } else {
            self.down.insert(&lpm_key(dest), value, 0)
        }
        .map_err(|e| e.to_string())
    }

    fn del_down(&mut self, dest: Dest) {
        let _ = if is_host(dest) {
            self.hosts.remove(&down_key_data(dest.0))
        } else {
            self.down.remove(&lpm_key(dest))
        };
    }

    fn zero_slot(&mut self, slot: u32) {
        if let Some(c) = self.counters(slot) {
            c.clear();
        }
    }

    fn put_down_line(&mut self, index: u32, slot: u32, addr: Ipv4Addr, value: DownValue) {
        let (Some(l), Some(e)) = (self.counters.get(slot as usize), self.entry(index)) else {
            return;
        };
        l.publish_down(addr, value);
        // Release: the record is stored before the entry that names it.
        e.store(slot + 1, Ordering::Release);
    }

    fn clear_down_line(&mut self, index: u32, slot: u32) {
        if let Some(e) = self.entry(index) {
            e.store(0, Ordering::Release);
        }
        if let Some(l) = self.counters.get(slot as usize) {
            l.clear_down();
        }
    }
}

/// The element types the programs share through a mapping: plain
/// integers and atomics, any bit pattern valid, laid out as the C values.
trait Shared {}
impl Shared for FastLine {}
impl Shared for DownBlock {}

/// mmap an array map (BPF_F_MMAPABLE) of `len` elements shared and
/// writable, and never unmap it: the mapping outlives every `FastPath`,
/// which is what makes the `&'static` sound (it also keeps the map alive).
fn map_shared<T: Shared>(
    data: &MapData,
    len: u32,
    name: &str,
) -> Result<&'static [T], FastPathError> {
    let bytes = len as usize * std::mem::size_of::<T>();
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let mapped = bytes.div_ceil(page).max(1) * page;
    let fd = data.fd().as_fd().as_raw_fd();
    // SAFETY: a fresh shared mapping of the map's fd; the kernel checks
    // that `len` fits the array (rounded up to pages).
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            mapped,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        let e = std::io::Error::last_os_error();
        return Err(FastPathError::Map(format!(
            "mmap of the {name} map: {e} (BPF_F_MMAPABLE arrays need Linux 5.5)"
        )));
    }
    // SAFETY: the mapping is page-aligned, at least `len` elements long
    // (the kernel lays array values out at their size rounded to 8, and
    // both element types are 64 bytes), lives for the rest of the process,
    // and is only accessed through atomics (the padding never), as the
    // programs access it.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<T>(), len as usize) })
}
