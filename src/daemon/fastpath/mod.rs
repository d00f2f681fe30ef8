//! The optional kernel fast path (Docs/FASTPATH.md): two TC programs
//! (bpf/fastpath.c) forward established sessions' plain IPv4 data between
//! the uplinks and the TUN device without userspace, and hand everything
//! else on unchanged. This module loads them, attaches them, and keeps
//! their maps in step with the sessions the daemon puts in the fast path.
//!
//! Per session the loader allocates a counter slot in a memory-mapped
//! array, the line its ids pick when it can (daemon::fast_lines);
//! [`FastPath::slot_counters`] gives the daemon a direct view of it.

mod abi;
mod attach;
mod down_records;
mod error;
mod line_states;
mod maps;
mod netdev;
mod object;
mod pass_reason;
mod slots;
mod table;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsFd;

use aya::programs::{SchedClassifier, TcAttachType, TestRun, TestRunOptions};
use aya::{Ebpf, EbpfLoader};
use ipnetwork::Ipv4Network;

pub use abi::FastCounters;
pub use error::FastPathError;
pub use netdev::{ifindex, lo_forwards};
pub use pass_reason::PassReason;

use crate::daemon::fast_lines::{DownIndexLayout, LineLayout};
use crate::dataplane::session_table::SessionKey;
use attach::{Attachment, DOWN_PROGRAM, UP_PROGRAM};
use maps::KernelMaps;
use table::Table;

/// Where to attach and what the programs need to know.
#[derive(Clone, Debug)]
pub struct FastPathConfig {
    /// The one TUN device (L3, no Ethernet header).
    pub tun_ifindex: u32,
    pub tun_name: String,
    /// Interfaces to attach the ingress program to (may include "lo");
    /// they must be Ethernet devices or lo.
    pub uplinks: Vec<String>,
    /// Our L2TP UDP port (1701).
    pub port: u16,
    /// bind_address if configured: upstream must be addressed to it, and
    /// it is the outer source downstream.
    pub local: Option<Ipv4Addr>,
    /// Most sessions in the fast path at once (sizes the maps).
    pub capacity: u32,
}

/// A session as the fast path needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FastSession {
    /// OUR local ids, as in upstream L2TP headers.
    pub key: SessionKey,
    /// The LAC's address and port for this tunnel.
    pub peer: SocketAddrV4,
    /// Written in downstream headers.
    pub peer_tunnel: u16,
    pub peer_session: u16,
    /// The session's IPCP address.
    pub address: Ipv4Addr,
    /// Framed-Routes: also routed downstream to this session.
    pub routes: Vec<Ipv4Network>,
    /// Largest inner IPv4 packet we may send downstream.
    pub mru: u16,
}

/// The loaded and attached programs. Drop detaches both from every device.
pub struct FastPath {
    attached: Vec<Attachment>,
    uplinks: Vec<(String, u32)>,
    maps: KernelMaps,
    table: Table,
    describe: String,
    ebpf: Ebpf,
}

/// How many /32 destinations (the address, /32 Framed-Routes) `down_hosts`
/// holds per session of capacity, on average. Not preallocated: the size
/// is a bound (plus its bucket array, 16 bytes per entry).
const HOSTS_PER_SESSION: u32 = 2;

/// How many shorter Framed-Routes the `down_routes` LPM trie holds per
/// session of capacity, on average (a bound: the trie allocates per entry).
const ROUTES_PER_SESSION: u32 = 4;

/// Room for uplinks attached after start (`FastPath::add_uplink`).
const MAX_UPLINKS: u32 = 256;

impl FastPath {
    /// Load the programs, configure them and attach them (see `attach` for
    /// TCX vs cls_bpf). Needs root. Nothing stays attached on error.
    pub fn start(cfg: &FastPathConfig) -> Result<FastPath, FastPathError> {
        let bytes = object::bytes();
        if bytes.is_empty() {
            return Err(FastPathError::NotBuilt(object::build_error().to_string()));
        }
        if cfg.capacity == 0 {
            return Err(FastPathError::Load(
                "capacity must be at least 1 session".into(),
            ));
        }
        // Devices first: a wrong name is clearer here than after loading.
        let tun = &cfg.tun_name;
        let index = netdev::ifindex(tun).map_err(|e| FastPathError::attach(tun, e.to_string()))?;
        if index != cfg.tun_ifindex {
            return Err(FastPathError::attach(
                tun,
                format!("its ifindex is {index}, not {}", cfg.tun_ifindex),
            ));
        }
        let tun_mtu = netdev::mtu(tun).map_err(|e| FastPathError::attach(tun, e.to_string()))?;
        let mut egress = Vec::with_capacity(cfg.uplinks.len());
        let mut uplinks = Vec::with_capacity(cfg.uplinks.len());
        for u in &cfg.uplinks {
            let i = netdev::ifindex(u).map_err(|e| FastPathError::attach(u, e.to_string()))?;
            netdev::check_ethernet(u).map_err(|e| FastPathError::attach(u, e.to_string()))?;
            egress.push(i);
            uplinks.push((u.clone(), i));
        }
        let room = u32::try_from(cfg.uplinks.len())
            .unwrap_or(u32::MAX)
            .max(MAX_UPLINKS);
        // Lines first, then a slot past them for each session in the hash.
        let layout = LineLayout::for_capacity(cfg.capacity);
        let slots = layout.lines().saturating_add(cfg.capacity);
        let down_index = DownIndexLayout::for_capacity(cfg.capacity);
        let index_blocks = down_index.entries() / abi::DOWN_BLOCK;
        let mut ebpf = EbpfLoader::new()
            .map_max_entries("up_sessions", cfg.capacity)
            .map_max_entries("counters", slots)
            .map_max_entries("down_index", index_blocks)
            .map_max_entries("down_hosts", cfg.capacity.saturating_mul(HOSTS_PER_SESSION))
            .map_max_entries(
                "down_routes",
                cfg.capacity.saturating_mul(ROUTES_PER_SESSION),
            )
            .map_max_entries("egress_ifaces", room)
            .load(bytes)
            .map_err(|e| FastPathError::loading("maps", &e))?;
        for name in [UP_PROGRAM, DOWN_PROGRAM] {
            let p: &mut SchedClassifier = ebpf
                .program_mut(name)
                .ok_or_else(|| FastPathError::Load(format!("no program {name} in the object")))?
                .try_into()
                .map_err(|e| FastPathError::loading(name, &e))?;
            p.load().map_err(|e| FastPathError::loading(name, &e))?;
        }
        let flags = if netdev::lo_takes_local_sources() {
            abi::CFG_LOCAL_LAC_OK
        } else {
            0
        };
        let config = abi::ConfigValue::new(
            cfg.tun_ifindex,
            tun_mtu,
            cfg.local,
            cfg.port,
            flags,
            layout.tunnel_mask(),
            down_index.mask(),
        );
        let maps = KernelMaps::open(&mut ebpf, config, &egress, slots, index_blocks)?;
        let mut fp = FastPath {
            attached: Vec::new(),
            uplinks,
            maps,
            table: Table::new(layout, down_index, cfg.capacity),
            describe: String::new(),
            ebpf,
        };
        // On an error `fp` drops and detaches what was attached so far.
        for u in &cfg.uplinks {
            let a = attach::attach(&mut fp.ebpf, UP_PROGRAM, u, TcAttachType::Ingress)?;
            fp.attached.push(a);
        }
        let a = attach::attach(&mut fp.ebpf, DOWN_PROGRAM, tun, TcAttachType::Egress)?;
        fp.attached.push(a);
        fp.describe = attach::describe(&fp.attached);
        Ok(fp)
    }

    /// E.g. "tcx ingress on lo, veth0; tcx egress on tun0".
    pub fn describe(&self) -> String {
        self.describe.clone()
    }

    /// The devices the upstream program is attached to, with the ifindex
    /// each had then (a device deleted and made again has a new one).
    pub fn uplinks(&self) -> &[(String, u32)] {
        &self.uplinks
    }

    /// Attach the upstream program to one more device (one that came up
    /// after start) and let downstream leave through it. A device of that
    /// name attached before (since deleted) is detached first.
    pub fn add_uplink(&mut self, name: &str) -> Result<(), FastPathError> {
        let index =
            netdev::ifindex(name).map_err(|e| FastPathError::attach(name, e.to_string()))?;
        netdev::check_ethernet(name).map_err(|e| FastPathError::attach(name, e.to_string()))?;
        if let Some(at) = self.uplinks.iter().position(|(n, _)| n == name) {
            self.uplinks.remove(at);
            if let Some(at) = self.attached.iter().position(|a| a.is(UP_PROGRAM, name)) {
                let old = self.attached.remove(at);
                attach::detach(&mut self.ebpf, old);
            }
        }
        self.maps.allow_egress(index)?;
        let a = attach::attach(&mut self.ebpf, UP_PROGRAM, name, TcAttachType::Ingress)?;
        self.attached.push(a);
        self.uplinks.push((name.to_string(), index));
        self.describe = attach::describe(&self.attached);
        Ok(())
    }

    /// Insert or replace a session (the same key keeps its slot). On an
    /// error the session is not in the fast path at all.
    pub fn upsert(&mut self, s: &FastSession) -> Result<(), FastPathError> {
        self.table.upsert(&mut self.maps, s)
    }

    /// Once a second: lines whose session left long enough ago may take a
    /// new one.
    pub fn tick(&mut self) {
        self.table.tick();
    }

    /// Sessions in the fast path that upstream finds in the hash.
    pub fn off_line(&self) -> usize {
        self.table.off_line()
    }

    /// Is the session's address found through the down index (else by the
    /// hash: its entry names another address, or it changed since it came)?
    pub fn down_indexed(&self, key: SessionKey) -> bool {
        self.table.down_indexed(key)
    }

    /// Entries in the down index (the address bits that pick one: len - 1).
    pub fn down_index_len(&self) -> u32 {
        self.table.down_index_len()
    }

    /// Sessions in the fast path that downstream finds in the hash.
    pub fn off_index(&self) -> usize {
        self.table.off_index()
    }

    /// Sessions in the fast path now.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Take a session out of the fast path; unknown keys are ignored.
    pub fn remove(&mut self, key: SessionKey) {
        self.table.remove(&mut self.maps, key);
    }

    /// The session's counter slot and its traffic counters, zeroed when it
    /// entered the fast path.
    pub fn slot_counters(&self, key: SessionKey) -> Option<(u32, &'static FastCounters)> {
        let slot = self.table.slot(key)?;
        self.maps.counters(slot).map(|c| (slot, c))
    }

    /// Packets handed on to userspace, per reason, summed over CPUs.
    pub fn passed(&self) -> Vec<(PassReason, u64)> {
        self.maps.passed()
    }

    /// Run one program on one packet with BPF_PROG_TEST_RUN (for the tests:
    /// the kernel builds an skb with an Ethernet header from `data`, on lo).
    /// `gso` sets the skb's (gso_segs, gso_size). Returns the verdict and
    /// the packet as the program left it.
    #[doc(hidden)]
    pub fn test_run(
        &self,
        program: TestProgram,
        data: &[u8],
        gso: Option<(u32, u32)>,
    ) -> Result<(u32, Vec<u8>), FastPathError> {
        let name = program.name();
        let p: &SchedClassifier = self
            .ebpf
            .program(name)
            .ok_or_else(|| FastPathError::Load(format!("no program {name}")))?
            .try_into()
            .map_err(|e| FastPathError::loading(name, &e))?;
        let mut out = vec![0u8; data.len() + 256];
        let ctx = gso.map(|(segs, size)| skb_context(segs, size));
        let opts = TestRunOptions {
            data_in: Some(data),
            data_out: Some(&mut out),
            ctx_in: ctx.as_ref().map(|c| &c[..]),
            ..TestRunOptions::default()
        };
        let r = p
            .test_run(opts)
            .map_err(|e| FastPathError::loading("test run", &e))?;
        out.truncate(r.data_size_out as usize);
        Ok((r.return_value, out))
    }

    /// A second descriptor of one program, for BPF_PROG_TEST_RUN from a
    /// thread that does not own the fast path (benches/fastpath_storm.rs
    /// runs the programs while another thread writes the maps).
    #[doc(hidden)]
    pub fn program_fd(&self, program: TestProgram) -> Result<std::os::fd::OwnedFd, FastPathError> {
        let name = program.name();
        let p = self
            .ebpf
            .program(name)
            .ok_or_else(|| FastPathError::Load(format!("no program {name}")))?;
        let fd = p.fd().map_err(|e| FastPathError::loading(name, &e))?;
        fd.as_fd()
            .try_clone_to_owned()
            .map_err(|e| FastPathError::loading(name, &e))
    }
}

/// Which program [`FastPath::test_run`] runs.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum TestProgram {
    Up,
    Down,
}

impl TestProgram {
    /// Its name in bpf/fastpath.c.
    fn name(self) -> &'static str {
        match self {
            TestProgram::Up => UP_PROGRAM,
            TestProgram::Down => DOWN_PROGRAM,
        }
    }
}

/// A `struct __sk_buff` for BPF_PROG_TEST_RUN with only the GSO fields set
/// (offsets from linux/bpf.h: gso_segs at 164, gso_size at 176).
fn skb_context(gso_segs: u32, gso_size: u32) -> [u8; 192] {
    let mut c = [0u8; 192];
    c[164..168].copy_from_slice(&gso_segs.to_ne_bytes());
    c[176..180].copy_from_slice(&gso_size.to_ne_bytes());
    c
}

impl Drop for FastPath {
    fn drop(&mut self) {
        for a in self.attached.drain(..) {
            attach::detach(&mut self.ebpf, a);
        }
    }
}
