//! Dynamic Authorization (RFC 5176): Disconnect-Request and CoA-Request on
//! radius_dae_port. Accepted only from the RADIUS servers and the
//! radius_dae_allow list, with the Request Authenticator (and
//! Message-Authenticator, required by default) verified; anything else is
//! dropped without an answer and counted.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Instant;

use tracing::{info, warn};

use crate::dataplane::session_table::SessionKey;
use crate::radius::dae::{
    ERROR_CAUSE_INVALID_ATTRIBUTE_VALUE, ERROR_CAUSE_INVALID_REQUEST,
    ERROR_CAUSE_MISSING_ATTRIBUTE, ERROR_CAUSE_NAS_IDENTIFICATION_MISMATCH,
    ERROR_CAUSE_SESSION_CONTEXT_NOT_FOUND, ERROR_CAUSE_UNSUPPORTED_ATTRIBUTE,
    ERROR_CAUSE_UNSUPPORTED_SERVICE,
};
use crate::radius::{build_dae_response, parse_dae_request, DaeKind, DaeRequest};

use super::super::teardown::Cause;
use super::command::{Authorization, Command, Origin, Target};
use super::ControlPlane;

/// Service-Type Authorize-Only (RFC 5176 §3.2): would need a re-auth we do not do.
const AUTHORIZE_ONLY: u32 = 17;

impl ControlPlane {
    pub fn handle_dae(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        if !self.dae_source_allowed(from) {
            self.stats.dae_refused_source += 1;
            warn!(%from, "DAE request from an address that is not allowed: ignored");
            return;
        }
        let Some(aaa) = self.aaa.as_ref() else { return };
        let req = match parse_dae_request(
            bytes,
            &aaa.settings.secret,
            aaa.settings.dae_require_message_authenticator,
        ) {
            Ok(r) => r,
            Err(e) => {
                self.stats.dae_bad += 1;
                warn!(%from, "DAE request refused: {e}");
                return;
            }
        };
        self.stats.dae_requests += 1;
        let verdict = self.dae_verdict(now, from, &req);
        let (ack, cause) = match verdict {
            Ok(()) => (true, None),
            Err(c) => (false, Some(c)),
        };
        if ack {
            self.stats.dae_acks += 1;
        } else {
            self.stats.dae_naks += 1;
        }
        info!(%from, kind = ?req.kind, user = req.user_name.as_deref().unwrap_or(""), ack, error_cause = ?cause, "DAE request");
        let Some(aaa) = self.aaa.as_ref() else { return };
        let bytes = build_dae_response(bytes, &req, ack, cause, &aaa.settings.secret);
        self.emit(super::io::Io::Dae { to: from, bytes });
    }

    fn dae_source_allowed(&self, from: SocketAddr) -> bool {
        let Some(aaa) = self.aaa.as_ref() else {
            return false;
        };
        aaa.settings.dae_allowed.contains(&from.ip())
    }

    /// Ok = ACK; Err(Error-Cause) = NAK.
    fn dae_verdict(&mut self, now: Instant, from: SocketAddr, req: &DaeRequest) -> Result<(), u32> {
        let Some(aaa) = self.aaa.as_ref() else {
            return Err(ERROR_CAUSE_INVALID_REQUEST);
        };
        if req.nas_ip.is_some_and(|ip| ip != aaa.settings.nas_ip)
            || req
                .nas_identifier
                .as_ref()
                .is_some_and(|n| *n != aaa.settings.nas_identifier)
        {
            return Err(ERROR_CAUSE_NAS_IDENTIFICATION_MISMATCH);
        }
        if req.service_type == Some(AUTHORIZE_ONLY) {
            return Err(ERROR_CAUSE_UNSUPPORTED_SERVICE);
        }
        if !req.unsupported_attributes.is_empty() {
            return Err(ERROR_CAUSE_UNSUPPORTED_ATTRIBUTE);
        }
        if !req.invalid_attributes.is_empty() {
            return Err(ERROR_CAUSE_INVALID_ATTRIBUTE_VALUE);
        }
        let found = self.dae_sessions(req)?;
        if found.is_empty() {
            return Err(ERROR_CAUSE_SESSION_CONTEXT_NOT_FOUND);
        }
        let origin = Origin::Dae(from);
        match req.kind {
            DaeKind::Disconnect => {
                for k in found {
                    let target = Target::Session(k);
                    let cause = Cause::AdminReset;
                    self.execute(now, origin.clone(), Command::Drop { target, cause });
                }
            }
            DaeKind::Coa => {
                let change = Authorization {
                    session_timeout: req.session_timeout,
                    idle_timeout: req.idle_timeout,
                    cisco_avpairs: req.cisco_avpairs.clone(),
                    filter_id: req.filter_id.clone(),
                };
                let sessions = found;
                self.execute(now, origin, Command::Authorize { sessions, change });
            }
        }
        Ok(())
    }

    /// The sessions a request names: every identifier given must match.
    fn dae_sessions(&self, req: &DaeRequest) -> Result<Vec<SessionKey>, u32> {
        let mut candidates: Option<HashSet<SessionKey>> = None;
        let mut narrow = |set: HashSet<SessionKey>| {
            candidates = Some(match candidates.take() {
                None => set,
                Some(c) => c.intersection(&set).copied().collect(),
            });
        };
        if let Some(ip) = req.framed_ip {
            narrow(self.by_address.get(&ip).copied().into_iter().collect());
        }
        if let Some(port) = req.nas_port {
            let k = SessionKey::from_nas_port(port);
            narrow(self.sessions.get(&k).map(|_| k).into_iter().collect());
        }
        if let Some(user) = &req.user_name {
            narrow(
                self.by_user
                    .get(user.as_str())
                    .map(|v| v.iter().collect())
                    .unwrap_or_default(),
            );
        }
        if let Some(id) = &req.acct_session_id {
            // Rare (operator action): a scan is fine here.
            narrow(
                self.sessions
                    .iter()
                    .filter(|(_, s)| s.has_acct_session_id(id))
                    .map(|(k, _)| *k)
                    .collect(),
            );
        }
        let set = candidates.ok_or(ERROR_CAUSE_MISSING_ATTRIBUTE)?;
        let mut v: Vec<SessionKey> = set.into_iter().collect();
        v.sort_by_key(|k| (k.tunnel, k.session));
        Ok(v)
    }
}
