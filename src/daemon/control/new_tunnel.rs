//! An SCCRQ (tunnel id 0): a retransmission goes to the tunnel it made;
//! a new one is admitted (per-source rate and tunnel limits, a free tunnel
//! id) and gets a tunnel, or is refused with a stateless StopCCN 2/4
//! (insufficient resources) that takes no tunnel id, itself rate-limited
//! per source so we cannot be used as a reflector.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Instant;

use rand::RngCore;
use tracing::{debug, info, warn};

use super::admission::Refusal;
use super::io::Io;
use super::{ControlPlane, TunnelEntry};
use crate::l2tp::refusal::stateless_stopccn;
use crate::l2tp::result_code::{ErrorCode, StopCcnCode, StopCcnResult};
use crate::l2tp::tunnel::{sccrq_assigned_tunnel_id, Tunnel};

impl ControlPlane {
    pub(super) fn handle_new_tunnel(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let Some(peer_tid) = sccrq_assigned_tunnel_id(bytes) else {
            if is_zlb(bytes) {
                // The ack of one of our stateless StopCCNs (we named tunnel 0).
                debug!(%from, "ZLB for tunnel 0 ignored");
                return;
            }
            self.stats.malformed += 1;
            debug!(%from, "tunnel id 0 but not an SCCRQ with Assigned Tunnel ID");
            return;
        };
        if let Some(&tid) = self.by_peer.get(&(from, peer_tid)) {
            // A retransmitted SCCRQ: the tunnel it created answers it.
            if let Some(entry) = self.tunnels.get_mut(&tid) {
                entry.tunnel.handle_datagram(now, bytes);
                self.flush_tunnel(now, tid);
            }
            return;
        }
        if self.shutting_down {
            debug!(%from, "refusing a new tunnel: shutting down");
            return;
        }
        let now_ms = self.clock.ms_at(now);
        let limits = self.settings.sources;
        if let Err(why) = self.admission.admit(&limits, from.ip(), now_ms) {
            return self.refuse_tunnel(now_ms, from, peer_tid, why);
        }
        let Some(tid) = self.tunnel_ids.allocate() else {
            self.stats.tunnel_limit += 1;
            return self.refuse_tunnel(now_ms, from, peer_tid, Refusal::NoTunnelId);
        };
        let mut challenge = [0u8; 16];
        self.rng.fill_bytes(&mut challenge);
        match Tunnel::from_sccrq(self.settings.tunnel.clone(), tid, bytes, challenge, now) {
            Ok(tunnel) => {
                info!(tunnel = tid, %from, peer_tid, host = tunnel.peer_hostname(), "new tunnel");
                self.add_tunnel(tid, tunnel, from);
                self.flush_tunnel(now, tid);
            }
            Err(e) => {
                self.tunnel_ids.release(tid);
                self.stats.tunnel_refused += 1;
                info!(%from, "SCCRQ refused: {e}");
            }
        }
    }

    /// Keep a tunnel (a new one, or one restored from saved state).
    pub(super) fn add_tunnel(&mut self, tid: u16, mut tunnel: Tunnel, peer: SocketAddr) {
        tunnel.set_session_id_hint(self.lines.clone());
        self.by_peer.insert((peer, tunnel.peer_id()), tid);
        self.admission.tunnel_opened(peer.ip());
        self.tunnels.insert(
            tid,
            TunnelEntry {
                tunnel,
                peer,
                sessions: HashSet::default(),
            },
        );
    }

    /// StopCCN 2/4 to `from` without a tunnel, if its refusal budget allows.
    fn refuse_tunnel(&mut self, now_ms: u64, from: SocketAddr, peer_tid: u16, why: Refusal) {
        let limits = self.settings.sources;
        if !self.admission.may_answer(&limits, from.ip(), now_ms) {
            debug!(%from, peer_tid, "new tunnel refused ({}), unanswered: refusal rate reached", why.text());
            return;
        }
        let result = StopCcnResult::new(StopCcnCode::GeneralError)
            .with_error(ErrorCode::InsufficientResources)
            .with_message(why.text());
        if why == Refusal::NoTunnelId {
            warn!(%from, peer_tid, "new tunnel refused: {} (max_tunnels)", why.text());
        } else {
            info!(%from, peer_tid, "new tunnel refused: {}", why.text());
        }
        self.emit(Io::L2tp {
            to: from,
            bytes: stateless_stopccn(peer_tid, &result),
        });
    }
}

/// A control message without AVPs.
fn is_zlb(bytes: &[u8]) -> bool {
    crate::l2tp::wire::Header::parse(bytes)
        .is_ok_and(|h| h.is_control() && h.payload(bytes).is_empty())
}
