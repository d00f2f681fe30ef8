//! What the control plane keeps per session: the PPP link, identity and
//! address, what the authoriser said (timeouts, Class, routes), accounting
//! state, and the deadlines of session-level limits.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::SessionAttrs;
use crate::dataplane::session_table::SessionCounters;
use crate::ppp::server::ServerLink;
use crate::radius::RequestId;

use super::super::teardown::Cause;

pub(super) struct Session {
    pub link: ServerLink,
    /// ICCN received: the PPP link is open.
    pub connected: bool,
    /// PPP frames that arrived before the ICCN (a LAC may start PPP while
    /// its ICCN still waits in its send window); replayed at connect.
    pub early_frames: Vec<Vec<u8>>,
    pub peer_session: u16,
    pub username: Option<String>,
    pub address: Option<Ipv4Addr>,
    /// Address from outside the pool (secrets file, RADIUS): has its own /32 route.
    pub static_route: bool,
    pub counters: Arc<SessionCounters>,
    pub in_dataplane: bool,
    pub opened: Instant,
    /// Unique across restarts: the daemon's start time and a counter.
    pub acct_session_id: String,
    /// NAS-Port: (tunnel id << 16) | session id.
    pub nas_port: u32,
    pub calling_station_id: Option<String>,
    pub called_station_id: Option<String>,
    pub attrs: SessionAttrs,
    /// An Access-Request in flight for this session.
    pub auth_pending: Option<RequestId>,
    /// When IPCP came up (Acct-Session-Time counts from here).
    pub up_at: Option<Instant>,
    pub acct_started: bool,
    pub next_interim: Option<Instant>,
    /// Idle-Timeout: the user's last upstream packet (or IPCP up).
    pub last_activity: Instant,
    /// Why we are closing it, once we decided (the PPP link reports its own
    /// reason later; this one wins for accounting).
    pub end_cause: Option<Cause>,
}

impl Session {
    /// The next moment a session-level limit or interim update is due.
    pub fn admin_deadline(&self) -> Option<Instant> {
        let up = self.up_at?;
        let mut at: Option<Instant> = None;
        let mut take = |t: Instant| at = Some(at.map_or(t, |a| a.min(t)));
        if let Some(s) = self.attrs.session_timeout.filter(|s| *s > 0) {
            take(up + Duration::from_secs(u64::from(s)));
        }
        if let Some(i) = self.attrs.idle_timeout.filter(|i| *i > 0) {
            take(self.last_activity + Duration::from_secs(u64::from(i)));
        }
        if let Some(n) = self.next_interim {
            take(n);
        }
        at
    }
}
