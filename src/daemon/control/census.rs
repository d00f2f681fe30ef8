//! Read-only counts of tunnels and sessions by state, for the metrics
//! endpoint. One pass over the tables per scrape, no bookkeeping on the
//! hot paths: the state is read where it lives.

use crate::ppp::link::Phase;
use crate::radius::RadiusClient;

use super::session::Session;
use super::ControlPlane;

/// Where a session is in its life. `Starting`: the ICCN has not arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum SessionState {
    Starting = 0,
    Lcp,
    Authenticating,
    Ipcp,
    Up,
    Closing,
}

impl SessionState {
    pub const ALL: [SessionState; 6] = [
        SessionState::Starting,
        SessionState::Lcp,
        SessionState::Authenticating,
        SessionState::Ipcp,
        SessionState::Up,
        SessionState::Closing,
    ];

    /// The `state` label value.
    pub const fn name(self) -> &'static str {
        match self {
            SessionState::Starting => "starting",
            SessionState::Lcp => "lcp",
            SessionState::Authenticating => "authenticating",
            SessionState::Ipcp => "ipcp",
            SessionState::Up => "up",
            SessionState::Closing => "closing",
        }
    }

    fn of(s: &Session) -> SessionState {
        if s.end_cause.is_some() {
            return SessionState::Closing;
        }
        if !s.connected {
            return SessionState::Starting;
        }
        if s.link.is_network_up() {
            return SessionState::Up;
        }
        if s.auth_pending.is_some() {
            return SessionState::Authenticating;
        }
        match s.link.phase() {
            Phase::Dead | Phase::Establish => SessionState::Lcp,
            Phase::Authenticate => SessionState::Authenticating,
            Phase::Network => SessionState::Ipcp,
            Phase::Terminate => SessionState::Closing,
        }
    }
}

/// Tunnels: `Establishing` until SCCCN, `Closing` once a StopCCN went
/// either way (including the linger after the peer's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum TunnelState {
    Establishing = 0,
    Established,
    Closing,
}

impl TunnelState {
    pub const ALL: [TunnelState; 3] = [
        TunnelState::Establishing,
        TunnelState::Established,
        TunnelState::Closing,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            TunnelState::Establishing => "establishing",
            TunnelState::Established => "established",
            TunnelState::Closing => "closing",
        }
    }
}

impl ControlPlane {
    /// Sessions per state, indexed by `SessionState as usize`.
    pub fn session_states(&self) -> [u64; SessionState::ALL.len()] {
        let mut n = [0u64; SessionState::ALL.len()];
        for s in self.sessions.values() {
            if let Some(c) = n.get_mut(SessionState::of(s) as usize) {
                *c += 1;
            }
        }
        n
    }

    /// Tunnels per state, indexed by `TunnelState as usize`.
    pub fn tunnel_states(&self) -> [u64; TunnelState::ALL.len()] {
        let mut n = [0u64; TunnelState::ALL.len()];
        for t in self.tunnels.values() {
            let state = if t.tunnel.is_closing() {
                TunnelState::Closing
            } else if t.tunnel.is_established() {
                TunnelState::Established
            } else {
                TunnelState::Establishing
            };
            if let Some(c) = n.get_mut(state as usize) {
                *c += 1;
            }
        }
        n
    }

    /// The RADIUS client, when servers are configured (its counters).
    pub fn radius_client(&self) -> Option<&RadiusClient> {
        self.aaa.as_ref().map(|a| a.client())
    }
}
