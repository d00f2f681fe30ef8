//! The reliable channel's sequence state as saved across a restart
//! (save_state): the peer must see the same Ns/Nr stream carry on, and
//! every message it has not acknowledged must still reach it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{ChannelConfig, ChannelStats, ControlChannel, Outstanding};

#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct ChannelSnapshot {
    pub peer_tunnel_id: u16,
    pub peer_rws: u16,
    pub next_ns: u16,
    pub expected_ns: u16,
    /// Sent and not acknowledged: (Ns, session id, AVPs).
    pub unacked: Vec<(u16, u16, Vec<u8>)>,
    /// Not sent yet (the peer's window was full): (session id, AVPs).
    pub pending: Vec<(u16, Vec<u8>)>,
    /// None when HELLO is off for this tunnel (it may differ from the
    /// configuration: a closing tunnel turns it off).
    pub hello_interval: Option<Duration>,
    pub stats: ChannelStats,
}

impl ControlChannel {
    pub fn snapshot(&self) -> ChannelSnapshot {
        ChannelSnapshot {
            peer_tunnel_id: self.peer_tunnel_id,
            peer_rws: self.peer_rws,
            next_ns: self.next_ns,
            expected_ns: self.expected_ns,
            unacked: self
                .unacked
                .iter()
                .map(|o| (o.ns, o.session_id, o.payload.clone()))
                .collect(),
            pending: self.pending.iter().cloned().collect(),
            hello_interval: self.cfg.hello_interval,
            stats: self.stats,
        }
    }

    /// The channel as saved. Unacknowledged messages go out again at once
    /// (they may have been lost while we were away); the peer discards
    /// any it already has, as for any retransmission.
    pub fn restore(mut cfg: ChannelConfig, snap: &ChannelSnapshot, now: Instant) -> ControlChannel {
        cfg.hello_interval = snap.hello_interval;
        let mut c = ControlChannel::new(cfg, snap.peer_tunnel_id, now);
        c.peer_rws = snap.peer_rws.max(1);
        c.next_ns = snap.next_ns;
        c.expected_ns = snap.expected_ns;
        c.unacked = snap
            .unacked
            .iter()
            .map(|(ns, session_id, payload)| Outstanding {
                ns: *ns,
                session_id: *session_id,
                payload: payload.clone(),
                deadline: now,
                retries: 0,
            })
            .collect();
        c.pending = snap.pending.iter().cloned().collect::<VecDeque<_>>();
        c.queued_total = c.pending.len() as u64;
        c.stats = snap.stats;
        c
    }
}
