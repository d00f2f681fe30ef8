//! Data-plane worker threads: one moves UDP -> TUN (upstream), one TUN ->
//! UDP (downstream). Each owns its own copy of the session table and applies
//! the control plane's updates between packets: no lock per packet. Packets
//! the data plane does not handle go to the control plane over a bounded
//! queue; when it is full they are dropped and counted, never blocking.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crossbeam_channel::Receiver;
use tracing::{debug, error};

use crate::dataplane::downstream::{downstream, DownOutput, DownVerdict};
use crate::dataplane::drop_reason::DropCounters;
use crate::dataplane::drop_reason::DropReason;
use crate::dataplane::session_table::{SessionTable, TableUpdate};
use crate::dataplane::upstream::{upstream_clamp_mss, UpVerdict};

use super::clock::Clock;
use super::tun::Tun;
use super::ControlInput;

/// Counters of the worker threads themselves (not per session).
#[derive(Default)]
pub struct WorkerStats {
    pub up_packets: AtomicU64,
    pub down_packets: AtomicU64,
    pub to_control: AtomicU64,
    pub tun_write_errors: AtomicU64,
    pub udp_send_errors: AtomicU64,
}

pub struct Shared {
    pub clock: Arc<Clock>,
    pub drops: Arc<DropCounters>,
    pub stats: Arc<WorkerStats>,
}

fn apply_updates(table: &mut SessionTable, updates: &Receiver<TableUpdate>) {
    while let Ok(u) = updates.try_recv() {
        table.apply(u);
    }
}

/// UDP -> TUN. Runs until the socket fails.
pub fn run_upstream(
    udp: UdpSocket,
    mut tun: Tun,
    updates: Receiver<TableUpdate>,
    to_control: tokio::sync::mpsc::Sender<ControlInput>,
    shared: Shared,
) {
    let mut table = SessionTable::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = match udp.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                error!("upstream worker: UDP receive failed: {e}");
                return;
            }
        };
        apply_updates(&mut table, &updates);
        // The data plane clamps TCP MSS in place, so it gets the buffer mutably.
        match upstream_clamp_mss(&table, &mut buf[..n], shared.clock.tick()) {
            UpVerdict::ToTun(packet) => {
                shared.stats.up_packets.fetch_add(1, Relaxed);
                if tun.send(packet).is_err() {
                    shared.stats.tun_write_errors.fetch_add(1, Relaxed);
                }
            }
            UpVerdict::ToControl => {
                shared.stats.to_control.fetch_add(1, Relaxed);
                let msg = ControlInput::Datagram {
                    from,
                    bytes: buf[..n].to_vec(),
                };
                if to_control.try_send(msg).is_err() {
                    shared.drops.count(DropReason::ControlQueueFull);
                    debug!(%from, "control queue full: datagram dropped");
                }
            }
            UpVerdict::Drop(reason) => {
                shared.drops.count(reason);
                debug!(%from, ?reason, "upstream drop");
            }
        }
    }
}

/// TUN -> UDP. Runs until the TUN device fails.
pub fn run_downstream(
    udp: UdpSocket,
    mut tun: Tun,
    updates: Receiver<TableUpdate>,
    local_address: std::net::Ipv4Addr,
    shared: Shared,
) {
    let mut table = SessionTable::new();
    let mut buf = vec![0u8; 65536];
    let mut out = DownOutput::new();
    loop {
        let n = match tun.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                error!("downstream worker: TUN read failed: {e}");
                return;
            }
        };
        apply_updates(&mut table, &updates);
        match downstream(&table, &buf[..n], local_address, &mut out) {
            DownVerdict::ToPeer { peer, .. } => {
                shared.stats.down_packets.fetch_add(1, Relaxed);
                for d in out.datagrams() {
                    if udp.send_to(d, peer).is_err() {
                        shared.stats.udp_send_errors.fetch_add(1, Relaxed);
                    }
                }
            }
            DownVerdict::IcmpToTun => {
                shared.drops.count(DropReason::TooBigDf);
                if tun.send(out.icmp()).is_err() {
                    shared.stats.tun_write_errors.fetch_add(1, Relaxed);
                }
            }
            DownVerdict::Drop(reason) => {
                shared.drops.count(reason);
                debug!(?reason, "downstream drop");
            }
        }
    }
}
