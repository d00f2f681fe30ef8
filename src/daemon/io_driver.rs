//! The thin driver of the control plane's I/O: it performs each `Io` the
//! control plane queued (`ControlPlane::poll_io`) on the real sockets, TUN
//! queue and worker channels, and counts what failed. Nothing here decides
//! anything.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

use tracing::{debug, warn};

use crate::dataplane::session_table::{SessionKey, TableUpdate};
use crate::tun::Tun;

use super::control::io::Io;
use super::control::ControlPlane;
use super::radius_io::Senders;
use super::session_hook::HookRunner;
use super::workers::udp_batch::SendBatch;

pub struct IoDriver {
    /// A clone of worker 0's L2TP socket (a socket of its own would join
    /// the SO_REUSEPORT group and be handed a share of the LACs' traffic).
    pub l2tp: UdpSocket,
    /// A clone of worker 0's TUN queue (a queue of its own would be handed
    /// downstream flows).
    pub tun: Tun,
    /// One channel per data-plane worker.
    pub workers: Vec<crossbeam_channel::Sender<TableUpdate>>,
    pub radius: Option<Senders>,
    pub nsctl: UdpSocket,
    /// Downstream steering, when the TUN has several queues and the kernel
    /// took the program.
    pub steering: Option<Steering>,
    /// session_hook runs go to its own thread from here.
    pub hooks: HookRunner,
    /// The kernel fast path's maps, when `data_path` gave it.
    pub fast: Option<super::fast_sessions::FastSessions>,
    /// L2TP datagrams queued in one pass, sent with one `sendmmsg`: at
    /// 100,000 sessions a pass may carry a hundred keepalives.
    pub l2tp_batch: SendBatch,
}

/// Most L2TP datagrams in one `sendmmsg`.
pub const L2TP_BATCH: usize = 64;

/// The steering map and what the driver put in it for each session (a
/// removal names only the session).
pub struct Steering {
    pub map: super::workers::tun_steering::SteeringMap,
    pub workers: u32,
    nets: std::collections::HashMap<SessionKey, Vec<ipnetwork::Ipv4Network>>,
    /// Map updates the kernel refused (counted; the packets then take
    /// queue 0's worker, which forwards them all the same).
    pub errors: u64,
}

impl Steering {
    pub fn new(map: super::workers::tun_steering::SteeringMap, workers: u32) -> Steering {
        Steering {
            map,
            workers,
            nets: Default::default(),
            errors: 0,
        }
    }

    /// Before the workers hear of the session: its first downstream packet
    /// already reaches its own worker.
    fn update(&mut self, u: &TableUpdate) {
        use super::workers::tun_steering::owner;
        match u {
            TableUpdate::Upsert(e) => {
                let worker = owner(e.key.tunnel, e.key.session, self.workers);
                let mut nets = vec![ipnetwork::Ipv4Network::from(e.address)];
                nets.extend(e.routes.iter().copied());
                for net in &nets {
                    if let Err(err) = self.map.set(*net, worker) {
                        self.errors += 1;
                        debug!("steering map: adding {net}: {err}");
                    }
                }
                if let Some(old) = self.nets.insert(e.key, nets.clone()) {
                    for net in old.iter().filter(|n| !nets.contains(n)) {
                        let _ = self.map.remove(*net);
                    }
                }
            }
            TableUpdate::Remove(k) => {
                for net in self.nets.remove(k).unwrap_or_default() {
                    if let Err(err) = self.map.remove(net) {
                        self.errors += 1;
                        debug!("steering map: removing {net}: {err}");
                    }
                }
            }
            TableUpdate::Garden(_) => {}
        }
    }
}

impl IoDriver {
    /// Bring the fast path's figures up to this instant (they are
    /// otherwise refreshed once a second).
    pub fn refresh_fast_stats(&self) {
        if let Some(f) = &self.fast {
            f.refresh_stats();
        }
    }

    /// The kernel fast path's figures, when it runs.
    pub fn fast_stats(&self) -> Option<&super::fast_sessions::FastStats> {
        self.fast.as_ref().map(|f| &*f.stats)
    }

    /// Perform everything the control plane has queued, in order: L2TP
    /// datagrams in batches, each batch sent before whatever follows it.
    pub fn drain(&mut self, cp: &mut ControlPlane) {
        while let Some(io) = cp.poll_io() {
            if let Io::L2tp {
                to: SocketAddr::V4(to),
                bytes,
            } = &io
            {
                if self.l2tp_batch.push(bytes, *to) {
                    self.flush_l2tp(cp);
                }
                continue;
            }
            self.flush_l2tp(cp);
            if !self.perform(io) {
                cp.stats.send_errors += 1;
            }
        }
        self.flush_l2tp(cp);
    }

    fn flush_l2tp(&mut self, cp: &mut ControlPlane) {
        if self.l2tp_batch.is_empty() {
            return;
        }
        let sent = self.l2tp_batch.flush(self.l2tp.as_raw_fd());
        if sent.errors > 0 {
            debug!(
                "control-plane send: the kernel refused {} L2TP datagram(s)",
                sent.errors
            );
            cp.stats.send_errors += sent.errors as u64;
        }
    }

    /// False when it failed (logged at debug level, counted by the caller).
    fn perform(&mut self, io: Io) -> bool {
        let result = match io {
            Io::L2tp { to, bytes } => self.l2tp.send_to(&bytes, to).map(drop),
            Io::Tun(packet) => self.tun.send(&packet).map(drop),
            Io::Route { add, net } => return self.route(add, net),
            Io::Table(update) => {
                self.publish(update);
                Ok(())
            }
            Io::Radius { socket, to, bytes } => {
                match self.radius.as_ref().and_then(|r| r.client.get(socket)) {
                    Some(s) => s.send_to(&bytes, to).map(drop),
                    None => return false,
                }
            }
            Io::Dae { to, bytes } => match self.radius.as_ref().and_then(|r| r.dae.as_ref()) {
                Some(s) => s.send_to(&bytes, to).map(drop),
                None => return false,
            },
            Io::Nsctl { to, bytes } => self.nsctl.send_to(&bytes, to).map(drop),
            Io::RunHook { hook, facts } => {
                // Queued, never waited for; the runner counts what fails.
                self.hooks.submit(hook, facts);
                Ok(())
            }
            Io::SaveState {
                path,
                identity,
                state,
            } => return save_state(&path, &identity, &state),
        };
        if let Err(e) = &result {
            debug!("control-plane send: {e}");
        }
        result.is_ok()
    }

    /// A route into the TUN device; one already there (a pool network
    /// after a reload) or already gone is not an error.
    fn route(&self, add: bool, net: ipnetwork::Ipv4Network) -> bool {
        let r = if add {
            self.tun.add_route(net.network(), net.prefix())
        } else {
            self.tun.del_route(net.network(), net.prefix())
        };
        match r {
            Ok(()) => true,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EEXIST) | Some(libc::ESRCH)) => true,
            Err(e) => {
                let what = if add { "adding" } else { "removing" };
                warn!(route = %net, "{what} a route via {}: {e}", self.tun.name());
                false
            }
        }
    }

    /// Every worker gets every update (each keeps its own table).
    fn publish(&mut self, u: TableUpdate) {
        if let Some(f) = self.fast.as_mut() {
            f.update(&u);
        }
        if let Some(s) = self.steering.as_mut() {
            s.update(&u);
        }
        if let Some((last, rest)) = self.workers.split_last() {
            for w in rest {
                let _ = w.send(u.clone());
            }
            let _ = last.send(u);
        }
    }
}

/// Write the saved state; its size and time go to the log (and the
/// restart benchmark reads them there).
fn save_state(
    path: &std::path::Path,
    identity: &super::state_file::Identity,
    state: &super::control::SavedState,
) -> bool {
    let started = std::time::Instant::now();
    match super::state_file::save(path, identity, state) {
        Ok(w) => {
            tracing::info!(
                file = %path.display(),
                tunnels = state.tunnels.len(),
                sessions = state.sessions.len(),
                bytes = w.bytes,
                bytes_per_session = w.bytes / state.sessions.len().max(1),
                write_ms = started.elapsed().as_secs_f64() * 1000.0,
                "state saved"
            );
            true
        }
        Err(e) => {
            tracing::error!("state_file: saving failed ({e}): the sessions are lost; set state_file to a writable path");
            false
        }
    }
}
