//! session_hook: when a session's network comes up and when the session
//! ends, its facts go to the driver as `Io::RunHook`
//! (`daemon::session_hook` runs them). Only here: restoring saved state
//! brings sessions back without an `up` (they were up before the restart).

use std::time::Instant;

use crate::daemon::session_hook::{Ended, HookEvent, SessionFacts};
use crate::dataplane::session_table::SessionKey;
use crate::radius::terminate_cause_name;

use super::super::teardown::{terminate_cause, Cause};
use super::io::Io;
use super::session::Session;
use super::ControlPlane;

impl ControlPlane {
    /// The network of `k` is up: `PATH up`.
    pub(super) fn hook_up(&mut self, k: SessionKey) {
        let Some(hook) = self.settings.session_hook.clone() else {
            return;
        };
        let Some(facts) = self
            .sessions
            .get(&k)
            .and_then(|s| self.hook_facts(k, s, HookEvent::Up))
        else {
            return;
        };
        self.emit(Io::RunHook {
            hook,
            facts: Box::new(facts),
        });
    }

    /// `s` (already out of the tables) ended for `cause`: `PATH down`, if
    /// its network had come up.
    pub(super) fn hook_down(&mut self, now: Instant, k: SessionKey, s: &Session, cause: &Cause) {
        let Some(hook) = self.settings.session_hook.clone() else {
            return;
        };
        let Some(up_at) = s.up_at else { return };
        let Some(mut facts) = self.hook_facts(k, s, HookEvent::Down) else {
            return;
        };
        let c = &s.counters;
        facts.ended = Some(Ended {
            rx_bytes: c.rx_bytes(),
            tx_bytes: c.tx_bytes(),
            rx_packets: c.rx_packets(),
            tx_packets: c.tx_packets(),
            session_seconds: now.saturating_duration_since(up_at).as_secs(),
            cause: terminate_cause_name(terminate_cause(cause)),
        });
        self.emit(Io::RunHook {
            hook,
            facts: Box::new(facts),
        });
    }

    /// What every run is told; None for a session without an address.
    fn hook_facts(&self, k: SessionKey, s: &Session, event: HookEvent) -> Option<SessionFacts> {
        let text = |v: &Option<Box<str>>| v.as_deref().unwrap_or("").to_owned();
        Some(SessionFacts {
            event,
            tunnel: k.tunnel,
            session: k.session,
            sid: k.nas_port(),
            user: s.username.as_deref().unwrap_or("").to_owned(),
            address: s.address?,
            lac: self.tunnel_peer(k.tunnel).map(|(peer, _)| peer),
            calling_number: text(&s.calling_station_id),
            called_number: text(&s.called_station_id),
            acct_session_id: s.acct_session_id(),
            routes: s.attrs.routes.clone(),
            ended: None,
        })
    }
}
