//! The I/O driver's side of the kernel fast path (daemon::fastpath): the
//! choice at start-up (`data_path`), which sessions go into the programs'
//! maps, their counter slots, the idle stamps the programs cannot set, and
//! uplinks that come up after start.
//!
//! A session is in the fast path only while its forwarding is exactly what
//! the programs do: no throttle, snoop, garden or packet_limit (those stay
//! with the worker that owns the session). Table updates reach the fast
//! path before the workers, as they reach the steering map: a removed
//! session leaves the kernel's maps before its address can be given again.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use crate::config::startup::DataPath;
use crate::config::Config;
use crate::dataplane::session_table::{SessionEntry, SessionKey, TableUpdate};
use crate::tun::Tun;

use super::fast_lines::fast_capacity;
use super::fast_slots::SlotHolders;
use super::fastpath::{ifindex, FastPath, FastPathConfig, FastSession, PassReason};

/// How often sessions forwarded by the programs get their idle stamp.
const STAMP_EVERY: Duration = Duration::from_secs(1);

/// How often, with bpf_interfaces unset, devices that came up after start
/// are looked for (and attached to).
const SCAN_EVERY: Duration = Duration::from_secs(5);

/// Devices remembered as unattachable (so each is said once).
const MAX_UNATTACHABLE: usize = 256;

/// The fast path's figures for the metrics thread, refreshed by the I/O
/// driver with the idle stamps (once a second).
#[derive(Debug, Default)]
pub struct FastStats {
    pub sessions: AtomicU64,
    /// Of those, found through the hash rather than on their line.
    pub off_line: AtomicU64,
    /// Of those, found downstream through the hash rather than the index.
    pub off_index: AtomicU64,
    pub refused: AtomicU64,
    /// Forwarded by the programs: up packets, up bytes, down packets, down bytes.
    pub forwarded: [AtomicU64; 4],
    /// Handed to userspace, by `PassReason` (its discriminant).
    pub passed: [AtomicU64; PassReason::COUNT],
}

impl FastStats {
    /// Up packets, up bytes, down packets, down bytes forwarded.
    pub fn forwarded(&self) -> [u64; 4] {
        self.forwarded.each_ref().map(|a| a.load(Relaxed))
    }
}

pub struct FastSessions {
    path: FastPath,
    pub stats: Arc<FastStats>,
    /// The sessions in the maps and their counter slots.
    holders: SlotHolders,
    /// Upserts the maps refused (full, or a kernel error): those sessions
    /// take the userspace path.
    pub refused: u64,
    next_stamp: Instant,
    /// bpf_interfaces unset: devices that come up later are uplinks too.
    follow_interfaces: bool,
    tun_name: String,
    next_scan: Instant,
    /// Devices (name, ifindex) that could not be attached: said once.
    unattachable: Vec<(String, u32)>,
}

/// The path `data_path` asks for, as this kernel allows: the fast path, or
/// None for userspace. One log line says which and why; `bpf` that cannot
/// be had stops the start-up.
pub fn start(cfg: &Config, tun: &Tun) -> Result<Option<FastSessions>, String> {
    if cfg.data_path == DataPath::Userspace {
        info!("data path: userspace (data_path userspace)");
        return Ok(None);
    }
    let uplinks = if cfg.bpf_interfaces.is_empty() {
        interfaces_up(tun.name())
    } else {
        cfg.bpf_interfaces.clone()
    };
    let fcfg = FastPathConfig {
        tun_ifindex: ifindex(tun.name()).unwrap_or(0),
        tun_name: tun.name().to_string(),
        uplinks,
        port: super::L2TP_PORT,
        local: cfg.bind_address,
        capacity: fast_capacity(cfg.max_sessions),
    };
    match FastPath::start(&fcfg) {
        Ok(path) => {
            if !super::fastpath::lo_forwards() {
                warn!(
                    "data path: net.ipv4.conf.lo.forwarding is 0, so the fast path cannot route downstream and hands it all to userspace (down-fib-failed); set net.ipv4.ip_forward=1, as a router of subscribers' traffic has"
                );
            }
            info!(
                "data path: kernel fast path ({}) for the plain IPv4 of established sessions, userspace for the rest (data_path {})",
                path.describe(),
                cfg.data_path
            );
            Ok(Some(FastSessions {
                path,
                stats: Arc::default(),
                holders: SlotHolders::default(),
                refused: 0,
                next_stamp: Instant::now(),
                follow_interfaces: cfg.bpf_interfaces.is_empty(),
                tun_name: tun.name().to_string(),
                next_scan: Instant::now() + SCAN_EVERY,
                unattachable: Vec::new(),
            }))
        }
        Err(e) if cfg.data_path == DataPath::Auto => {
            info!("data path: userspace, the kernel fast path is unavailable: {e} (data_path auto)");
            Ok(None)
        }
        Err(e) => Err(format!(
            "data_path bpf: the kernel fast path is unavailable: {e} (set data_path auto or userspace)"
        )),
    }
}

impl FastSessions {
    /// Apply one table update to the maps (before the workers see it).
    pub fn update(&mut self, u: &TableUpdate) {
        match u {
            TableUpdate::Upsert(e) => match fast_session(e) {
                Some(s) => match self.path.upsert(&s) {
                    Ok(()) => {
                        let slot = self.path.slot_counters(e.key);
                        self.holders.enter(e.key, slot, &e.counters);
                    }
                    Err(err) => {
                        self.refused += 1;
                        debug!(
                            tunnel = e.key.tunnel,
                            session = e.key.session,
                            "fast path refused the session, userspace forwards it: {err}"
                        );
                        self.take_out(e.key);
                    }
                },
                None => self.take_out(e.key),
            },
            TableUpdate::Remove(k) => self.take_out(*k),
            TableUpdate::Garden(_) => {}
        }
    }

    /// The session leaves the maps; what the programs counted joins the
    /// userspace counts.
    fn take_out(&mut self, k: SessionKey) {
        let path = &mut self.path;
        self.holders.leave(k, || path.remove(k));
    }

    /// Stamp `last_rx_tick` (idle timeout, LCP echo) of the sessions whose
    /// upstream the programs forwarded since the last call, and refresh the
    /// figures; at most once a second.
    pub fn stamp_activity(&mut self, now: Instant, tick: u64) {
        if now < self.next_stamp {
            return;
        }
        self.next_stamp = now + STAMP_EVERY;
        if self.follow_interfaces && now >= self.next_scan {
            self.next_scan = now + SCAN_EVERY;
            self.attach_new_interfaces();
        }
        let forwarded = self.holders.stamp(tick);
        self.path.tick();
        self.publish(forwarded);
    }

    /// Attach the upstream program to Ethernet devices that came up since
    /// start (or were made again): a VLAN or bond added at run time.
    fn attach_new_interfaces(&mut self) {
        for name in interfaces_up(&self.tun_name) {
            let Ok(index) = ifindex(&name) else {
                continue; // gone again since the listing
            };
            let known =
                |list: &[(String, u32)]| list.iter().any(|(n, i)| *n == name && *i == index);
            if known(self.path.uplinks()) || known(&self.unattachable) {
                continue;
            }
            match self.path.add_uplink(&name) {
                Ok(()) => info!(
                    "data path: the fast path now takes upstream on {name}, which came up after start (bpf_interfaces unset: every Ethernet device that is up)"
                ),
                Err(e) => {
                    warn!(
                        "data path: {name} came up after start but the fast path cannot attach to it ({e}); its L2TP takes the userspace path (list the uplinks in bpf_interfaces to choose)"
                    );
                    // Bounded: a device made again and again has a new
                    // ifindex each time.
                    if self.unattachable.len() >= MAX_UNATTACHABLE {
                        self.unattachable.remove(0);
                    }
                    self.unattachable.push((name, index));
                }
            }
        }
    }

    /// Sum the programs' counters into `stats` now: before a scrape or a
    /// status line, so those agree with what was forwarded to the instant.
    pub fn refresh_stats(&self) {
        self.publish(self.holders.forwarded());
    }

    fn publish(&self, forwarded: [u64; 4]) {
        let st = &self.stats;
        for (a, v) in st.forwarded.iter().zip(forwarded) {
            a.store(v, Relaxed);
        }
        st.sessions.store(self.holders.len() as u64, Relaxed);
        st.refused.store(self.refused, Relaxed);
        st.off_line.store(self.path.off_line() as u64, Relaxed);
        st.off_index.store(self.path.off_index() as u64, Relaxed);
        for (r, n) in self.path.passed() {
            if let Some(a) = st.passed.get(r as usize) {
                a.store(n, Relaxed);
            }
        }
    }
}

/// What the programs need of a session, if they may forward it.
fn fast_session(e: &SessionEntry) -> Option<FastSession> {
    let SocketAddr::V4(peer) = e.peer else {
        return None;
    };
    let plain = e.policy == Default::default() && e.packet_limit == 0;
    plain.then(|| FastSession {
        key: e.key,
        peer,
        peer_tunnel: e.peer_tunnel,
        peer_session: e.peer_session,
        address: e.address,
        routes: e.routes.clone(),
        mru: e.mru,
    })
}

/// Every Ethernet or loopback interface that is up, `tun` excepted (sysfs's
/// `type` and IFF_UP in its `flags`): the programs parse Ethernet frames.
fn interfaces_up(tun: &str) -> Vec<String> {
    const ARPHRD_ETHER: u32 = 1;
    const ARPHRD_LOOPBACK: u32 = 772;
    let read = |n: &str, what: &str| -> Option<u32> {
        let t = std::fs::read_to_string(format!("/sys/class/net/{n}/{what}")).ok()?;
        let t = t.trim();
        match t.strip_prefix("0x") {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => t.parse().ok(),
        }
    };
    let Ok(dir) = std::fs::read_dir("/sys/class/net") else {
        warn!("/sys/class/net unreadable: set bpf_interfaces");
        return Vec::new();
    };
    let mut up: Vec<String> = dir
        .filter_map(|d| d.ok())
        .filter_map(|d| d.file_name().into_string().ok())
        .filter(|n| n != tun)
        .filter(|n| read(n, "flags").is_some_and(|f| f & libc::IFF_UP as u32 != 0))
        .filter(|n| matches!(read(n, "type"), Some(ARPHRD_ETHER | ARPHRD_LOOPBACK)))
        .collect();
    up.sort();
    up
}
