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
    /// Acct-Session-Id as a number: the daemon's start time (high 32 bits)
    /// and a counter, unique across restarts; formatted on demand.
    pub acct_serial: u64,
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
    /// Acct-Session-Id: 16 upper-case hex digits.
    pub fn acct_session_id(&self) -> String {
        format!("{:016X}", self.acct_serial)
    }

    /// Does `id` name this session (the exact string `acct_session_id` gives)?
    pub fn has_acct_session_id(&self, id: &str) -> bool {
        id.len() == 16
            && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F'))
            && u64::from_str_radix(id, 16) == Ok(self.acct_serial)
    }

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

#[cfg(test)]
mod size_probe {
    #[test]
    fn print_sizes() {
        use std::mem::size_of;
        eprintln!("Session {}", size_of::<super::Session>());
        eprintln!("ServerLink {}", size_of::<crate::ppp::server::ServerLink>());
        eprintln!(
            "Fsm<Lcp> {}",
            size_of::<crate::ppp::fsm::Fsm<crate::ppp::lcp::LcpNegotiator>>()
        );
        eprintln!(
            "Fsm<Ipcp> {}",
            size_of::<crate::ppp::fsm::Fsm<crate::ppp::ipcp::IpcpServer>>()
        );
        eprintln!("LinkStats {}", size_of::<crate::ppp::link::LinkStats>());
        eprintln!("SessionAttrs {}", size_of::<crate::auth::SessionAttrs>());
        eprintln!("Cause {}", size_of::<crate::daemon::teardown::Cause>());
        eprintln!(
            "SessionEntry {}",
            size_of::<crate::dataplane::session_table::SessionEntry>()
        );
        eprintln!("Tunnel {}", size_of::<crate::l2tp::tunnel::Tunnel>());
    }
}
