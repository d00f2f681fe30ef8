//! An established tunnel as saved across a restart (save_state): its ids,
//! its peer, its calls and its control channel's sequence state. Restored,
//! it carries on as if the daemon had never stopped; the LAC sees no new
//! SCCRQ exchange. Tunnels still being set up or already closing are not
//! saved: the LAC retries the one and has given up on the other.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use super::{Session, SessionTable, State, Tunnel, TunnelConfig, TunnelStats};
use crate::l2tp::control_channel::{ChannelSnapshot, ControlChannel};

#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct TunnelSnapshot {
    pub local_id: u16,
    pub peer_id: u16,
    pub peer_hostname: String,
    /// (our session id, the LAC's session id, ICCN received).
    pub sessions: Vec<(u16, u16, bool)>,
    pub session_cursor: u16,
    pub channel: ChannelSnapshot,
    /// The tunnel's own counters (the channel's are in `channel`).
    pub stats: TunnelStats,
}

impl Tunnel {
    /// The tunnel's state, when it is established (None otherwise).
    pub fn snapshot(&self) -> Option<TunnelSnapshot> {
        if self.state != State::Established || self.channel.is_dead() {
            return None;
        }
        Some(TunnelSnapshot {
            local_id: self.local_id,
            peer_id: self.peer_id,
            peer_hostname: self.peer_hostname.clone(),
            sessions: self
                .sessions
                .iter()
                .map(|(id, s)| (id, s.peer_sid, s.connected))
                .collect(),
            session_cursor: self.sessions.cursor(),
            channel: self.channel.snapshot(),
            stats: self.stats,
        })
    }

    /// The tunnel as saved, established.
    pub fn restore(cfg: Arc<TunnelConfig>, snap: &TunnelSnapshot, now: Instant) -> Tunnel {
        let channel = ControlChannel::restore(cfg.channel_config(), &snap.channel, now);
        let sessions = snap.sessions.iter().map(|&(id, peer_sid, connected)| {
            (
                id,
                Session {
                    peer_sid,
                    connected,
                },
            )
        });
        Tunnel {
            cfg,
            local_id: snap.local_id,
            peer_id: snap.peer_id,
            peer_hostname: snap.peer_hostname.clone(),
            state: State::Established,
            channel,
            our_challenge: None,
            sessions: SessionTable::restored(sessions, snap.session_cursor),
            events: VecDeque::new(),
            close_result: None,
            call_refusal: None,
            id_hint: None,
            stats: snap.stats,
        }
    }
}
