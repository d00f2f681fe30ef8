//! What the control plane keeps per session: the PPP link, identity and
//! address, what the authoriser said (timeouts, Class, routes), accounting
//! state, and the deadlines of session-level limits.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::SessionAttrs;
use crate::dataplane::session_table::{SessionCounters, SessionKey};
use crate::ppp::server::ServerLink;
use crate::radius::RequestId;

use super::super::teardown::Cause;

pub(super) struct Session {
    pub link: ServerLink,
    /// ICCN or the call's first PPP frame received: the PPP link is open.
    pub connected: bool,
    pub peer_session: u16,
    /// Shared with `by_user` and the address pool: one copy of the name.
    pub username: Option<Arc<str>>,
    pub address: Option<Ipv4Addr>,
    /// Address from outside the pool (secrets file, RADIUS): has its own /32 route.
    pub static_route: bool,
    pub counters: Arc<SessionCounters>,
    pub in_dataplane: bool,
    pub opened: Instant,
    /// Acct-Session-Id as a number: the daemon's start time (high 32 bits)
    /// and a counter, unique across restarts; formatted on demand.
    pub acct_serial: u64,
    pub calling_station_id: Option<Box<str>>,
    /// The LAC's TX / RX Connect Speed AVPs from the ICCN, as l2tpns keeps
    /// them (0 = not given).
    pub tx_connect_speed: u32,
    pub rx_connect_speed: u32,
    pub called_station_id: Option<Box<str>>,
    pub attrs: Attrs,
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
    /// Throttle, snoop, garden: what the data plane applies to it.
    pub policy: crate::dataplane::policy::SessionPolicy,
}

/// One PPP frame in or out of a session, at `debug 5` (l2tpns's "packets"
/// level): protocol, code and identifier, and the link's phases after it.
/// Enough to follow a negotiation that stalls under loss.
pub(super) fn trace_frame(dir: &'static str, k: SessionKey, frame: &[u8], link: &ServerLink) {
    if !tracing::enabled!(tracing::Level::TRACE) {
        return;
    }
    let parsed = crate::ppp::wire::Frame::parse(frame).ok();
    let proto = parsed.as_ref().map_or(0, |f| f.protocol());
    let payload = parsed.as_ref().map_or(&[][..], |f| f.payload());
    let (code, id) = (payload.first().copied(), payload.get(1).copied());
    tracing::trace!(
        tunnel = k.tunnel,
        session = k.session,
        proto = format_args!("{proto:#06x}"),
        ?code,
        ?id,
        phase = ?link.phase(),
        lcp = ?link.lcp_state(),
        ipcp = ?link.ipcp_state(),
        "PPP {dir}"
    );
}

/// Is `id` exactly `format!("{serial:016X}")`? (No allocation: a DAE
/// request by Acct-Session-Id scans every session.)
fn names_serial(id: &str, serial: u64) -> bool {
    id.len() == 16
        && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F'))
        && u64::from_str_radix(id, 16) == Ok(serial)
}

/// The sessions of one user: almost always one, kept inline (a `Vec` is a
/// heap block per user).
#[derive(Debug, Default, Clone)]
pub(super) struct UserSessions {
    first: Option<SessionKey>,
    more: Vec<SessionKey>,
}

impl UserSessions {
    pub fn push(&mut self, k: SessionKey) {
        if self.first.is_none() {
            self.first = Some(k);
        } else {
            self.more.push(k);
        }
    }

    pub fn remove(&mut self, k: SessionKey) {
        if self.first == Some(k) {
            self.first = if self.more.is_empty() {
                None
            } else {
                Some(self.more.remove(0))
            };
        } else {
            self.more.retain(|x| *x != k);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    pub fn iter(&self) -> impl Iterator<Item = SessionKey> + '_ {
        self.first.iter().chain(self.more.iter()).copied()
    }
}

/// The authoriser's attributes, allocated only when they say something
/// (the secrets file never does): 8 bytes instead of 112 per session.
#[derive(Debug, Default)]
pub(super) struct Attrs(Option<Box<SessionAttrs>>);

static NO_ATTRS: SessionAttrs = SessionAttrs {
    session_timeout: None,
    idle_timeout: None,
    interim_interval: None,
    class: Vec::new(),
    routes: Vec::new(),
    dns: [None, None],
    cisco_avpairs: Vec::new(),
    filter_id: Vec::new(),
};

impl Attrs {
    pub fn new(a: SessionAttrs) -> Attrs {
        if a == NO_ATTRS {
            Attrs(None)
        } else {
            Attrs(Some(Box::new(a)))
        }
    }
}

impl std::ops::Deref for Attrs {
    type Target = SessionAttrs;
    fn deref(&self) -> &SessionAttrs {
        self.0.as_deref().unwrap_or(&NO_ATTRS)
    }
}

impl std::ops::DerefMut for Attrs {
    fn deref_mut(&mut self) -> &mut SessionAttrs {
        self.0.get_or_insert_with(Box::default)
    }
}

impl Session {
    /// Acct-Session-Id: 16 upper-case hex digits.
    pub fn acct_session_id(&self) -> String {
        format!("{:016X}", self.acct_serial)
    }

    /// Does `id` name this session (the exact string `acct_session_id` gives)?
    pub fn has_acct_session_id(&self, id: &str) -> bool {
        names_serial(id, self.acct_serial)
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
mod tests {
    use super::*;

    /// Memory per session is a target (< 2 KiB at 100,000 sessions,
    /// Docs/PERFORMANCE.md): these records must not grow unnoticed.
    #[test]
    fn per_session_records_stay_small() {
        use std::mem::size_of;
        // 976: the LAC's two connect speeds (8 bytes) joined in session 3;
        // 992: the policy (throttle rates, snoop target, garden) in session 4.
        assert!(size_of::<Session>() <= 992, "{}", size_of::<Session>());
        assert!(
            size_of::<ServerLink>() <= 768,
            "{}",
            size_of::<ServerLink>()
        );
        assert_eq!(size_of::<Attrs>(), 8);
        assert!(size_of::<UserSessions>() <= 32);
    }

    #[test]
    fn acct_session_id_is_the_serial_in_hex_and_matches_only_itself() {
        let serial = (0x5F3E_1234u64 << 32) | 0x0000_00AB;
        let s = format!("{serial:016X}");
        assert_eq!(s, "5F3E1234000000AB");
        let probe = |id: &str| names_serial(id, serial);
        assert!(probe("5F3E1234000000AB"));
        assert!(!probe("5f3e1234000000ab"));
        assert!(!probe("+F3E1234000000AB"));
        assert!(!probe("5F3E1234000000A"));
    }

    #[test]
    #[allow(clippy::field_reassign_with_default)] // DerefMut on a default is what is tested
    fn attrs_allocate_only_when_they_say_something() {
        let a = Attrs::new(SessionAttrs::default());
        assert!(a.0.is_none());
        assert_eq!(*a, SessionAttrs::default());
        let mut a = Attrs::new(SessionAttrs {
            session_timeout: Some(60),
            ..SessionAttrs::default()
        });
        assert_eq!(a.session_timeout, Some(60));
        let mut b = Attrs::default();
        b.idle_timeout = Some(5);
        assert_eq!(b.idle_timeout, Some(5));
        a.session_timeout = None;
        assert_eq!(*a, SessionAttrs::default());
    }

    #[test]
    fn user_sessions_keep_the_first_inline() {
        let k = |s| SessionKey {
            tunnel: 1,
            session: s,
        };
        let mut u = UserSessions::default();
        assert!(u.is_empty());
        u.push(k(1));
        u.push(k(2));
        u.push(k(3));
        assert_eq!(u.iter().collect::<Vec<_>>(), vec![k(1), k(2), k(3)]);
        u.remove(k(1));
        assert_eq!(u.iter().collect::<Vec<_>>(), vec![k(2), k(3)]);
        u.remove(k(3));
        u.remove(k(9));
        assert_eq!(u.iter().collect::<Vec<_>>(), vec![k(2)]);
        u.remove(k(2));
        assert!(u.is_empty());
    }
}
