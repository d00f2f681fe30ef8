//! A network-up link as saved across a restart (save_state), and the link
//! rebuilt from it: LCP and IPCP Opened with what was agreed, so the peer
//! sees no renegotiation. Only links with the network up are saved; one
//! still negotiating is cheaper to redial than to freeze mid-exchange.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{AuthProto, LinkStats, NetworkGrant, Phase, ServerConfig, ServerLink, State};

/// What a restored link needs. Times are durations before the save
/// (Instants mean nothing in another process).
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct LinkSnapshot {
    /// Our Magic-Number (0: the peer Rejected the option).
    pub magic: u32,
    pub peer_magic: Option<u32>,
    pub peer_mru: u16,
    pub auth: Option<AuthProto>,
    pub lcp_next_id: u8,
    pub ipcp_next_id: u8,
    pub peer_address: Ipv4Addr,
    pub dns: [Option<Ipv4Addr>; 2],
    /// Since we last heard from the peer / sent an echo / LCP opened.
    pub since_rx: Duration,
    pub since_echo: Option<Duration>,
    pub since_lcp_opened: Duration,
    pub stats: LinkStats,
}

impl ServerLink {
    /// The link's state, when its network is up (None otherwise).
    pub fn snapshot(&self, now: Instant) -> Option<LinkSnapshot> {
        if !self.network_up
            || self.closed
            || self.lcp.state() != State::Opened
            || self.ipcp.state() != State::Opened
        {
            return None;
        }
        let ago = |t: Instant| now.saturating_duration_since(t);
        Some(LinkSnapshot {
            magic: self.lcp.neg.magic(),
            peer_magic: self.lcp.neg.peer_magic(),
            peer_mru: self.lcp.neg.peer_mru(),
            auth: self.lcp.neg.our_auth(),
            lcp_next_id: self.lcp.next_id(),
            ipcp_next_id: self.ipcp.next_id(),
            peer_address: self.ipcp.neg.peer_address()?,
            dns: self.ipcp.neg.grant().dns,
            since_rx: ago(self.last_rx),
            since_echo: self.last_echo.map(ago),
            since_lcp_opened: ago(self.lcp_opened_at),
            stats: self.stats.clone(),
        })
    }

    /// The link as it was, `downtime` later: Network phase, LCP and IPCP
    /// Opened, keepalive timers carried on (time away counts as silence,
    /// so a peer that vanished meanwhile is still noticed).
    pub fn restore(
        cfg: Arc<ServerConfig>,
        snap: &LinkSnapshot,
        downtime: Duration,
        now: Instant,
    ) -> ServerLink {
        let before = |d: Duration| now.checked_sub(d + downtime).unwrap_or(now);
        let mut link = ServerLink::new(cfg, snap.magic, [0; 16], now);
        link.lcp
            .neg
            .restore_agreed(snap.peer_mru, snap.peer_magic, snap.auth);
        link.lcp.restore_opened(snap.lcp_next_id);
        link.ipcp.neg.set_grant(NetworkGrant {
            peer_address: snap.peer_address,
            dns: snap.dns,
        });
        link.ipcp.neg.restore_acked(snap.peer_address);
        link.ipcp.restore_opened(snap.ipcp_next_id);
        link.phase = Phase::Network;
        link.network_up = true;
        link.last_rx = before(snap.since_rx);
        link.last_echo = snap.since_echo.map(before);
        link.lcp_opened_at = before(snap.since_lcp_opened);
        link.stats = snap.stats.clone();
        link
    }
}
