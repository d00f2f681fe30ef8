//! RADIUS in the control plane: Access-Requests for PPP logins, accounting
//! (On/Off, Start, Interim-Update, Stop) and the sockets they go out on. The
//! protocol itself is the sans-IO `radius::RadiusClient`; this file decides
//! what to ask and what an answer means for a session.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::RngCore;
use tracing::{debug, info, warn};

use crate::auth::{AuthDecision, SessionAttrs};
use crate::credentials::Credentials;
use crate::dataplane::session_table::SessionKey;
use crate::radius::{
    AccessRequest, AccountingRequest, AcctStatus, AuthReply, FramedIp, Outcome, RadiusClient,
    RequestId, RequestKind,
};

use super::super::teardown::{terminate_cause, Cause};
use super::plugin_host::session_info_of;
use super::session::Session;
use super::{ControlPlane, TimerKey};
use crate::plugin::AcctKind;

/// RADIUS settings beyond the client's own (from the startup-config).
pub struct AaaSettings {
    pub accounting: bool,
    /// radius_interim, seconds; 0 = no interim updates unless the
    /// Access-Accept gives Acct-Interim-Interval.
    pub interim: u32,
    pub secret: Vec<u8>,
    /// Who may send Disconnect/CoA: the RADIUS servers and these.
    pub dae_allowed: Vec<IpAddr>,
    /// Drop Disconnect/CoA requests without a Message-Authenticator.
    pub dae_require_message_authenticator: bool,
    pub nas_ip: Ipv4Addr,
    pub nas_identifier: String,
    /// kill_timedout_sessions: a Session-Timeout of 0 refuses the login.
    pub kill_timedout: bool,
}

enum Pending {
    Auth { key: SessionKey, username: String },
    Acct(Box<AccountingRequest>),
}

pub struct Aaa {
    client: RadiusClient,
    pending: HashMap<RequestId, Pending>,
    pub settings: AaaSettings,
}

impl Aaa {
    pub fn new(client: RadiusClient, settings: AaaSettings) -> Aaa {
        Aaa {
            client,
            pending: HashMap::new(),
            settings,
        }
    }

    pub fn accounting_in_flight(&self) -> usize {
        self.pending
            .values()
            .filter(|p| matches!(p, Pending::Acct(_)))
            .count()
    }

    pub fn client(&self) -> &RadiusClient {
        &self.client
    }
}

fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

/// What an Access-Accept means for the session.
fn decision_from_reply(reply: AuthReply, kill_timedout: bool) -> AuthDecision {
    if kill_timedout && reply.session_timeout == Some(0) {
        return AuthDecision::Reject {
            message: "Session-Timeout is 0".into(),
        };
    }
    let address = match reply.framed_ip {
        Some(FramedIp::Address(a)) => Some(a),
        Some(FramedIp::FromPool) | Some(FramedIp::NegotiatedByUser) | None => None,
    };
    AuthDecision::Accept {
        address,
        message: reply.reply_message.unwrap_or_else(|| "Welcome".into()),
        attrs: SessionAttrs {
            session_timeout: reply.session_timeout,
            idle_timeout: reply.idle_timeout,
            interim_interval: reply.acct_interim_interval,
            class: reply.class,
            routes: reply.framed_routes,
            dns: reply.dns,
            cisco_avpairs: reply.cisco_avpairs,
            filter_id: reply.filter_id,
        },
    }
}

impl ControlPlane {
    /// Accounting-On at start-up (RFC 2866 §5.1): the server may close any
    /// session it still thinks we have.
    pub fn start(&mut self, now: Instant) {
        if !self.restored {
            self.accounting_onoff(now, AcctStatus::AccountingOn);
        }
    }

    pub(super) fn radius_authenticate(
        &mut self,
        now: Instant,
        k: SessionKey,
        username: String,
        credentials: &Credentials,
    ) {
        let Some(s) = self.sessions.get(&k) else {
            return;
        };
        let req = AccessRequest {
            user_name: username.clone(),
            credentials: credentials.clone(),
            nas_port: k.nas_port(),
            calling_station_id: s.calling_station_id.as_deref().map(str::to_owned),
            called_station_id: s.called_station_id.as_deref().map(str::to_owned),
            acct_session_id: s.acct_session_id(),
            framed_ip: None,
        };
        let mut authenticator = [0u8; 16];
        self.rng.fill_bytes(&mut authenticator);
        let Some(aaa) = self.aaa.as_mut() else { return };
        let id = aaa
            .client
            .submit(now, RequestKind::Auth(req), authenticator);
        aaa.pending.insert(id, Pending::Auth { key: k, username });
        if let Some(s) = self.sessions.get_mut(&k) {
            s.auth_pending = Some(id);
        }
        self.flush_radius(now);
    }

    /// A session went away while its Access-Request was in flight: its
    /// answer, when it comes, is for nobody.
    pub(super) fn forget_radius_request(&mut self, id: RequestId) {
        if let Some(aaa) = self.aaa.as_mut() {
            aaa.pending.remove(&id);
        }
    }

    pub fn handle_radius_datagram(
        &mut self,
        now: Instant,
        socket: usize,
        from: SocketAddr,
        bytes: &[u8],
    ) {
        if let Some(aaa) = self.aaa.as_mut() {
            aaa.client.handle_datagram(now, socket, from, bytes);
        }
        self.flush_radius(now);
    }

    pub(super) fn radius_timeout(&mut self, now: Instant) {
        if let Some(aaa) = self.aaa.as_mut() {
            aaa.client.handle_timeout(now);
        }
        self.flush_radius(now);
    }

    /// Send what the RADIUS client queued, act on its answers, re-arm.
    pub(super) fn flush_radius(&mut self, now: Instant) {
        loop {
            let Some(aaa) = self.aaa.as_mut() else { return };
            while let Some(t) = aaa.client.poll_transmit() {
                self.io.push_back(super::io::Io::Radius {
                    socket: t.socket,
                    to: t.to,
                    bytes: t.bytes,
                });
            }
            let Some((id, outcome)) = aaa.client.poll_event() else {
                break;
            };
            let pending = aaa.pending.remove(&id);
            self.radius_outcome(now, pending, outcome);
        }
        let at = self.aaa.as_ref().and_then(|a| a.client.poll_timeout());
        self.timers.set(TimerKey::Radius, at);
    }

    fn radius_outcome(&mut self, now: Instant, pending: Option<Pending>, outcome: Outcome) {
        match pending {
            None => {}
            Some(Pending::Auth { key, username }) => {
                let Some(s) = self.sessions.get_mut(&key) else {
                    return;
                };
                s.auth_pending = None;
                let kill = self.aaa.as_ref().is_some_and(|a| a.settings.kill_timedout);
                let decision = match outcome {
                    Outcome::Accept(reply) => decision_from_reply(reply, kill),
                    Outcome::Reject(reply) => AuthDecision::Reject {
                        message: reply
                            .reply_message
                            .unwrap_or_else(|| "Authentication failed".into()),
                    },
                    Outcome::Timeout => {
                        warn!(tunnel = key.tunnel, session = key.session, user = %username, "no RADIUS server answered (or every answer was dropped, see the warnings above); refusing the login");
                        AuthDecision::Reject {
                            message: "Authentication server unreachable".into(),
                        }
                    }
                    Outcome::AcctAck => AuthDecision::Reject {
                        message: "Authentication failed".into(),
                    },
                };
                self.complete_auth(now, key, username, decision);
            }
            Some(Pending::Acct(req)) => match outcome {
                Outcome::AcctAck => {
                    debug!(acct_session_id = %req.acct_session_id, user = req.user_name.as_deref().unwrap_or(""), status = ?req.status, "accounting answered")
                }
                _ => {
                    // Billing depends on it: never drop a record, send it again.
                    warn!(acct_session_id = %req.acct_session_id, user = req.user_name.as_deref().unwrap_or(""), status = ?req.status, "accounting not answered by any server; retrying (logins are not affected)");
                    self.submit_accounting(now, *req);
                }
            },
        }
    }

    pub(super) fn submit_accounting(&mut self, now: Instant, req: AccountingRequest) {
        let mut authenticator = [0u8; 16];
        self.rng.fill_bytes(&mut authenticator);
        let Some(aaa) = self.aaa.as_mut() else { return };
        let id = aaa
            .client
            .submit(now, RequestKind::Acct(req.clone()), authenticator);
        aaa.pending.insert(id, Pending::Acct(Box::new(req)));
        self.flush_radius(now);
    }

    /// Accounting requests not acknowledged yet (saved across a restart).
    pub(super) fn pending_accounting(&self) -> Vec<AccountingRequest> {
        let Some(aaa) = self.aaa.as_ref() else {
            return Vec::new();
        };
        aaa.pending
            .values()
            .filter_map(|p| match p {
                Pending::Acct(r) => Some((**r).clone()),
                Pending::Auth { .. } => None,
            })
            .collect()
    }

    fn accounting_enabled(&self) -> bool {
        self.aaa.as_ref().is_some_and(|a| a.settings.accounting)
    }

    pub(super) fn accounting_onoff(&mut self, now: Instant, status: AcctStatus) {
        if !self.accounting_enabled() {
            return;
        }
        let req = AccountingRequest {
            status,
            acct_session_id: format!("{:08X}00000000", self.boot_secs()),
            event_timestamp: Some(unix_now()),
            ..Default::default()
        };
        self.submit_accounting(now, req);
    }

    fn acct_request(
        k: SessionKey,
        s: &Session,
        now: Instant,
        status: AcctStatus,
        cause: Option<u32>,
    ) -> AccountingRequest {
        let c = &s.counters;
        AccountingRequest {
            status,
            user_name: s.username.as_deref().map(str::to_owned),
            acct_session_id: s.acct_session_id(),
            nas_port: Some(k.nas_port()),
            framed_ip: s.address,
            calling_station_id: s.calling_station_id.as_deref().map(str::to_owned),
            called_station_id: s.called_station_id.as_deref().map(str::to_owned),
            session_time: s
                .up_at
                .map(|u| now.saturating_duration_since(u).as_secs() as u32),
            // Input = from the user (upstream), output = to the user.
            input_octets: c.rx_bytes(),
            output_octets: c.tx_bytes(),
            input_packets: c.rx_packets(),
            output_packets: c.tx_packets(),
            terminate_cause: cause,
            class: s.attrs.class.clone(),
            event_timestamp: Some(unix_now()),
            ..Default::default()
        }
    }

    /// Acct-Interim-Interval from the server (floored at 60 s, RFC 2869
    /// §5.16), else radius_interim as the operator set it.
    fn interim_every(&self, s: &Session) -> Option<Duration> {
        let secs = match s.attrs.interim_interval {
            Some(i) if i > 0 => i.max(60),
            _ => self.aaa.as_ref().map_or(0, |a| a.settings.interim),
        };
        (secs > 0).then(|| Duration::from_secs(u64::from(secs)))
    }

    pub(super) fn accounting_start(&mut self, now: Instant, k: SessionKey) {
        if !self.accounting_enabled() {
            return;
        }
        let Some(s) = self.sessions.get(&k) else {
            return;
        };
        let mut req = Self::acct_request(k, s, now, AcctStatus::Start, None);
        let info = session_info_of(k, s);
        let every = self.interim_every(s);
        if let Some(s) = self.sessions.get_mut(&k) {
            s.acct_started = true;
            s.next_interim = every.map(|e| now + e);
        }
        req.extra = self.plugin_radius_account(&info, AcctKind::Start);
        info!(tunnel = k.tunnel, session = k.session, user = req.user_name.as_deref().unwrap_or(""), acct_session_id = %req.acct_session_id, "accounting start");
        self.submit_accounting(now, req);
    }

    pub(super) fn accounting_interim(&mut self, now: Instant, k: SessionKey) {
        let Some(s) = self.sessions.get(&k) else {
            return;
        };
        let mut req = Self::acct_request(k, s, now, AcctStatus::InterimUpdate, None);
        let info = session_info_of(k, s);
        let every = self.interim_every(s);
        if let Some(s) = self.sessions.get_mut(&k) {
            s.next_interim = every.map(|e| now + e);
        }
        req.extra = self.plugin_radius_account(&info, AcctKind::InterimUpdate);
        self.submit_accounting(now, req);
    }

    pub(super) fn accounting_stop(
        &mut self,
        now: Instant,
        k: SessionKey,
        s: &Session,
        cause: &Cause,
    ) {
        if !s.acct_started || !self.accounting_enabled() {
            return;
        }
        let mut req = Self::acct_request(k, s, now, AcctStatus::Stop, Some(terminate_cause(cause)));
        req.extra = self.plugin_radius_account(&session_info_of(k, s), AcctKind::Stop);
        self.submit_accounting(now, req);
    }

    /// RADIUS counters for the status line.
    pub fn radius_stats(&self) -> Option<String> {
        let aaa = self.aaa.as_ref()?;
        Some(format!(
            "{:?} in_flight={}",
            aaa.client.stats(),
            aaa.client.in_flight()
        ))
    }
}
