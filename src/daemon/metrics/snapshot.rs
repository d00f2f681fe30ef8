//! What one scrape shows: the control plane's part (taken in the control
//! loop) and the data plane's and kernel's (read by the metrics thread).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime};

use crate::daemon::control::admission::AdmissionStats;
use crate::daemon::control::{ControlPlane, SessionState, TunnelState};
use crate::daemon::fast_sessions::FastStats;
use crate::daemon::fastpath::PassReason;
use crate::daemon::kernel_loss::{KernelLoss, LossSnapshot};
use crate::daemon::session_hook::{HookCounts, HookStats};
use crate::daemon::stats::ControlStats;
use crate::daemon::workers::WorkerStats;
use crate::dataplane::drop_reason::{DropCounters, DropReason};
use crate::radius::latency::ReplyLatency;
use crate::radius::ServerStats;

/// The control plane's figures at one instant.
#[derive(Debug, Clone, Default)]
pub struct ControlSnapshot {
    pub sessions: [u64; SessionState::ALL.len()],
    pub tunnels: [u64; TunnelState::ALL.len()],
    pub free_addresses: u64,
    pub control: ControlStats,
    pub admission: AdmissionStats,
    /// Empty without RADIUS servers.
    pub radius: Vec<RadiusServer>,
    pub radius_in_flight: u64,
    pub radius_stray: u64,
    /// Control-loop time spent taking this snapshot: wall clock, and the
    /// loop thread's CPU time.
    pub took: Duration,
    pub took_cpu: Duration,
}

#[derive(Debug, Clone)]
pub struct RadiusServer {
    /// The authentication address, as the `server` label.
    pub name: String,
    pub stats: ServerStats,
    /// A handle on the live histogram (read after the loop let go).
    pub latency: ReplyLatency,
    /// Skipped as dead, for authentication and for accounting (apart).
    pub dead_auth: bool,
    pub dead_acct: bool,
}

impl ControlSnapshot {
    pub fn take(cp: &ControlPlane) -> ControlSnapshot {
        let now = std::time::Instant::now();
        let mut s = ControlSnapshot {
            sessions: cp.session_states(),
            tunnels: cp.tunnel_states(),
            free_addresses: cp.free_addresses() as u64,
            control: cp.stats.clone(),
            admission: cp.admission_stats(),
            ..ControlSnapshot::default()
        };
        if let Some(c) = cp.radius_client() {
            s.radius = c
                .servers()
                .iter()
                .zip(c.stats())
                .zip(c.latency())
                .enumerate()
                .map(|(i, ((addr, stats), latency))| RadiusServer {
                    name: addr.auth.to_string(),
                    stats: *stats,
                    latency: latency.clone(),
                    dead_auth: c.is_dead(i, now),
                    dead_acct: c.is_dead_for_accounting(i, now),
                })
                .collect();
            s.radius_in_flight = c.in_flight() as u64;
            s.radius_stray = c.stray_datagrams();
        }
        s
    }
}

/// Data-plane and kernel counters since start-up, and session_hook's
/// (atomics too, kept by its runner thread).
#[derive(Debug, Clone, Default)]
pub struct DataSnapshot {
    pub up_packets: u64,
    pub down_packets: u64,
    pub up_bytes: u64,
    pub down_bytes: u64,
    pub to_control: u64,
    pub tun_write_errors: u64,
    pub udp_send_errors: u64,
    pub gro_receives: u64,
    pub tun_merged_writes: u64,
    pub tun_super_reads: u64,
    pub gso_sends: u64,
    pub icmp_unreachables: u64,
    pub icmp_unreachables_limited: u64,
    pub snoop_sent: u64,
    pub snoop_errors: u64,
    pub garden_redirects: u64,
    pub garden_prohibited: u64,
    pub garden_prohibited_limited: u64,
    pub worker_up: Vec<u64>,
    pub worker_down: Vec<u64>,
    pub drops: [u64; DropReason::COUNT],
    pub kernel: LossSnapshot,
    pub hooks: HookCounts,
    /// The kernel fast path's part, when it runs (its forwarded packets and
    /// bytes are also in the totals above).
    pub fast: Option<FastSnapshot>,
}

#[derive(Debug, Clone, Default)]
pub struct FastSnapshot {
    pub sessions: u64,
    pub off_line: u64,
    pub off_index: u64,
    pub refused: u64,
    pub up_packets: u64,
    pub up_bytes: u64,
    pub down_packets: u64,
    pub down_bytes: u64,
    pub passed: Vec<(&'static str, u64)>,
}

impl FastSnapshot {
    fn take(f: &FastStats) -> FastSnapshot {
        let l = |a: &AtomicU64| a.load(Relaxed);
        let [up_packets, up_bytes, down_packets, down_bytes] = f.forwarded.each_ref().map(l);
        FastSnapshot {
            sessions: l(&f.sessions),
            off_line: l(&f.off_line),
            off_index: l(&f.off_index),
            refused: l(&f.refused),
            up_packets,
            up_bytes,
            down_packets,
            down_bytes,
            passed: PassReason::ALL
                .iter()
                .map(|r| (r.name(), f.passed.get(*r as usize).map_or(0, l)))
                .collect(),
        }
    }
}

impl DataSnapshot {
    pub fn take(
        w: &WorkerStats,
        drops: &DropCounters,
        loss: &KernelLoss,
        hooks: &HookStats,
        fast: Option<&FastStats>,
    ) -> DataSnapshot {
        let l = |a: &AtomicU64| a.load(Relaxed);
        let fast = fast.map(FastSnapshot::take);
        let f = fast.clone().unwrap_or_default();
        DataSnapshot {
            up_packets: l(&w.up_packets) + f.up_packets,
            down_packets: l(&w.down_packets) + f.down_packets,
            up_bytes: l(&w.up_bytes) + f.up_bytes,
            down_bytes: l(&w.down_bytes) + f.down_bytes,
            to_control: l(&w.to_control),
            tun_write_errors: l(&w.tun_write_errors),
            udp_send_errors: l(&w.udp_send_errors),
            gro_receives: l(&w.gro_receives),
            tun_merged_writes: l(&w.tun_merged_writes),
            tun_super_reads: l(&w.tun_super_reads),
            gso_sends: l(&w.gso_sends),
            icmp_unreachables: l(&w.icmp_unreachables),
            icmp_unreachables_limited: l(&w.icmp_unreachables_limited),
            snoop_sent: l(&w.snoop_sent),
            snoop_errors: l(&w.snoop_errors),
            garden_redirects: l(&w.garden_redirects),
            garden_prohibited: l(&w.garden_prohibited),
            garden_prohibited_limited: l(&w.garden_prohibited_limited),
            worker_up: w.worker_up.iter().map(l).collect(),
            worker_down: w.worker_down.iter().map(l).collect(),
            drops: drops.snapshot(),
            kernel: loss.snapshot(),
            hooks: hooks.counts(),
            fast,
        }
    }
}

/// Everything one scrape encodes.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub control: ControlSnapshot,
    pub data: DataSnapshot,
    pub start_time: SystemTime,
    pub uptime: Duration,
    /// The endpoint's own requests by result (see `http::Outcome`).
    pub http: Vec<(&'static str, u64)>,
}
