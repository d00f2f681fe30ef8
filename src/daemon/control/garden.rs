//! The walled garden's control side, as l2tpns's: a gardened session is
//! not found by user name (no duplicate-login check, no sticky address),
//! sends no RADIUS accounting and writes no accounting_dir line. Letting it
//! out (`ungarden`) renames it if asked, drops a duplicate login, resets
//! its counters and sends a fresh Acct-Start. What it may reach is the data
//! plane's (dataplane::garden), published to every worker from here.

use std::sync::Arc;
use std::time::Instant;

use tracing::info;

use super::io::Io;
use super::ControlPlane;
use crate::daemon::teardown::Cause;
use crate::dataplane::session_table::{SessionKey, TableUpdate};

impl ControlPlane {
    /// Hand the garden (file and garden_redirect) to every worker.
    pub(super) fn publish_garden(&mut self) {
        let g = self.settings.garden.clone();
        self.emit(Io::Table(TableUpdate::Garden(g)));
    }

    /// Put session `k` in the garden or let it out (`rename`: its new user
    /// name). Err: why not, for the one who asked.
    pub(super) fn set_garden(
        &mut self,
        now: Instant,
        k: SessionKey,
        garden: bool,
        rename: Option<&str>,
    ) -> Result<(), String> {
        let Some(s) = self.sessions.get(&k) else {
            return Err("session not found".into());
        };
        if s.policy.garden == garden {
            return Err(if garden {
                "already in walled garden".into()
            } else {
                "not in walled garden".into()
            });
        }
        let user = s.username.clone();
        info!(
            tunnel = k.tunnel,
            session = k.session,
            user = user.as_deref().unwrap_or(""),
            ip = ?s.address,
            "{}",
            if garden { "Garden user" } else { "Un-Garden user" }
        );
        // What the usage files owe it so far is written (going in), or
        // nothing (coming out, its counters start again). Going in, its
        // paid session ends: the Stop closes the record the Start opened
        // (l2tpns sent none, leaving it open).
        if let Some(s) = self.sessions.remove(&k) {
            self.acct_dir_session_closed(k, &s);
            if garden {
                self.accounting_stop(now, k, &s, &Cause::AdminReset);
            }
            self.sessions.insert(k, s);
        }
        if garden {
            if let Some(s) = self.sessions.get_mut(&k) {
                s.acct_started = false;
                s.next_interim = None;
            }
            if let Some(u) = &user {
                self.forget_user(k, u);
            }
            self.set_policy(k, |p| p.garden = true);
            return Ok(());
        }
        let user: Option<Arc<str>> = rename.map(Arc::from).or(user);
        if let Some(u) = &user {
            // Kick off a duplicate login (but not ourselves).
            let others: Vec<SessionKey> = self
                .by_user
                .get(&**u)
                .map(|v| v.iter().filter(|o| *o != k).collect())
                .unwrap_or_default();
            for other in others {
                info!(user = %u, tunnel = other.tunnel, session = other.session, "Duplicate session when user released from walled garden");
                self.end_session(now, other, Cause::DuplicateLogin, true);
            }
            self.by_user.entry(u.clone()).or_default().push(k);
        }
        if let Some(s) = self.sessions.get_mut(&k) {
            s.username = user;
            s.counters.reset_traffic();
            s.up_at = Some(now);
        }
        self.set_policy(k, |p| p.garden = false);
        // OK, we're up!
        self.accounting_start(now, k);
        self.flush_session(now, k);
        Ok(())
    }

    /// Take `k` out of the user-name index (it stays a session).
    pub(super) fn forget_user(&mut self, k: SessionKey, user: &str) {
        if let Some(v) = self.by_user.get_mut(user) {
            v.remove(k);
            if v.is_empty() {
                self.by_user.remove(user);
            }
        }
    }
}
