//! A session from login to logout: PPP events, authentication (local or
//! RADIUS, with the plugin hooks), address assignment, the network coming
//! up (data plane, routes, accounting), Session-/Idle-Timeout and interim
//! accounting, and teardown in the order that never leaves a packet
//! routed to a freed address.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use crate::auth::{AuthDecision, AuthRequest};
use crate::dataplane::session_table::{SessionEntry, SessionKey, TableUpdate};
use crate::ppp::server::{NetworkGrant, ServerEvent};

use super::super::teardown::{cdn_for, Cause};
use super::io::Io;
use super::{session, ControlPlane, TimerKey};
use ipnetwork::Ipv4Network;

impl ControlPlane {
    pub(super) fn session_event(&mut self, now: Instant, k: SessionKey, ev: ServerEvent) {
        match ev {
            ServerEvent::AuthRequest {
                username,
                credentials,
            } => {
                self.authenticate(now, k, username, &credentials);
            }
            ServerEvent::NetworkUp { peer_address } => self.network_up(now, k, peer_address),
            ServerEvent::NetworkDown => {
                if let Some(s) = self.sessions.get_mut(&k) {
                    if s.in_dataplane {
                        s.in_dataplane = false;
                        self.io.push_back(Io::Table(TableUpdate::Remove(k)));
                    }
                }
            }
            ServerEvent::Closed { reason } => {
                debug!(
                    tunnel = k.tunnel,
                    session = k.session,
                    user = self.user_of(k),
                    ?reason,
                    "PPP closed"
                );
                self.end_session(now, k, Cause::Ppp(reason), true);
            }
        }
    }

    pub(super) fn authenticate(
        &mut self,
        now: Instant,
        k: SessionKey,
        username: String,
        credentials: &crate::credentials::Credentials,
    ) {
        let Some(username) = self.plugin_pre_auth(username.clone()) else {
            let message = "Authentication refused".into();
            self.complete_auth(now, k, username, AuthDecision::Reject { message });
            return;
        };
        if self.aaa.is_some() {
            self.radius_authenticate(now, k, username, credentials);
            return;
        }
        let decision = match self.auth.as_mut() {
            Some(auth) => auth.authenticate(&AuthRequest {
                username: &username,
                credentials,
            }),
            // Not reached: the daemon starts with RADIUS or a secrets file.
            None => AuthDecision::Reject {
                message: "No authentication configured".into(),
            },
        };
        self.complete_auth(now, k, username, decision);
    }

    /// Act on an authentication answer (local, or RADIUS when it arrives).
    pub(super) fn complete_auth(
        &mut self,
        now: Instant,
        k: SessionKey,
        username: String,
        decision: AuthDecision,
    ) {
        // post_auth may turn the answer round; the garden plugin lets a
        // refused login in, gardened (as l2tpns's).
        let allowed = matches!(decision, AuthDecision::Accept { .. });
        let (allowed_now, gardened) = self.plugin_post_auth(k, &username, allowed);
        let decision = match (decision, allowed_now) {
            (AuthDecision::Accept { .. }, false) => AuthDecision::Reject {
                message: "Authentication refused".into(),
            },
            (AuthDecision::Reject { .. }, true) => AuthDecision::Accept {
                address: None,
                message: String::new(),
                attrs: Default::default(),
            },
            (d, _) => d,
        };
        let (address, message, attrs) = match decision {
            AuthDecision::Accept {
                address,
                message,
                attrs,
            } => (address, message, attrs),
            AuthDecision::Reject { message } => {
                self.stats.auth_rejected += 1;
                info!(tunnel = k.tunnel, session = k.session, user = %username, "authentication failed");
                if let Some(s) = self.sessions.get_mut(&k) {
                    s.link.auth_reject(now, &message);
                }
                self.flush_session(now, k);
                return;
            }
        };
        if !self.sessions.contains_key(&k) {
            return;
        }
        if gardened {
            if let Some(s) = self.sessions.get_mut(&k) {
                s.policy.garden = true;
            }
        }
        if !gardened
            && !self.settings.allow_duplicate_users
            && !self.settings.guest_accounts.iter().any(|g| g == &username)
        {
            let older: Vec<SessionKey> = self
                .by_user
                .get(username.as_str())
                .map(|v| v.iter().collect())
                .unwrap_or_default();
            for old in older.into_iter().filter(|o| *o != k) {
                info!(user = %username, tunnel = old.tunnel, session = old.session, "duplicate login: dropping the older session");
                // At once, like l2tpns: the old client is usually gone, and
                // the new login may want its (sticky) address.
                self.end_session(now, old, Cause::DuplicateLogin, true);
            }
        }
        let user: Arc<str> = Arc::from(username.as_str());
        // A gardened user's address is not kept for it (not sticky).
        let pool_user = if gardened {
            Arc::from("")
        } else {
            user.clone()
        };
        let Some(assigned) = self.assign_address(k, &pool_user, address) else {
            self.stats.no_address += 1;
            warn!(tunnel = k.tunnel, session = k.session, user = %username, "no address available in ip_pool; refusing the login");
            if let Some(s) = self.sessions.get_mut(&k) {
                s.link.auth_reject(now, "No address available");
            }
            self.flush_session(now, k);
            return;
        };
        self.stats.auth_accepted += 1;
        // Debug, not info: the "session up" line that follows names the
        // user and address too (a log line per event was a fifth of the
        // control plane's setup cost at debug 3).
        debug!(tunnel = k.tunnel, session = k.session, user = %username, ip = %assigned, "authenticated");
        // Gardened sessions are not found by name (l2tpns's sessionbyuser).
        if !gardened {
            self.by_user.entry(user.clone()).or_default().push(k);
        }
        let dns = if attrs.dns.iter().any(Option::is_some) {
            attrs.dns
        } else {
            self.settings.dns
        };
        let pairs = if self.plugins.is_empty() {
            Vec::new()
        } else {
            attrs.cisco_avpairs.clone()
        };
        if let Some(s) = self.sessions.get_mut(&k) {
            s.username = Some(user);
            s.attrs = session::Attrs::new(attrs);
        }
        // Before the network comes up, as l2tpns (a throttle is in place
        // for the first packet).
        self.plugin_radius_response(now, k, &pairs);
        let filter_ids = self
            .sessions
            .get(&k)
            .map(|s| s.attrs.filter_id.clone())
            .unwrap_or_default();
        self.throttle_from_filter_id(now, k, &filter_ids);
        if let Some(s) = self.sessions.get_mut(&k) {
            s.link.auth_accept(
                now,
                &message,
                NetworkGrant {
                    peer_address: assigned,
                    dns,
                },
            );
        }
        self.flush_session(now, k);
    }

    /// Pool address, or the back end's own; None when nothing is free or the
    /// requested address is taken.
    pub(super) fn assign_address(
        &mut self,
        k: SessionKey,
        user: &Arc<str>,
        wanted: Option<Ipv4Addr>,
    ) -> Option<Ipv4Addr> {
        let (addr, static_route) = match wanted {
            Some(a) if self.pool.contains(a) => {
                if !self.pool.reserve_shared(a, user) {
                    return None;
                }
                (a, false)
            }
            Some(a) => {
                if self.by_address.contains_key(&a) {
                    return None;
                }
                self.emit(Io::Route {
                    add: true,
                    net: Ipv4Network::from(a),
                });
                (a, true)
            }
            None => (self.pool.allocate_shared(user)?, false),
        };
        self.by_address.insert(addr, k);
        if let Some(s) = self.sessions.get_mut(&k) {
            s.address = Some(addr);
            s.static_route = static_route;
        }
        Some(addr)
    }

    /// What the data plane knows of a session whose network is up.
    pub(super) fn dataplane_entry(&self, k: SessionKey, address: Ipv4Addr) -> Option<SessionEntry> {
        let peer = self.tunnel_peer(k.tunnel)?;
        let s = self.sessions.get(&k)?;
        Some(SessionEntry {
            key: k,
            peer: peer.0,
            peer_tunnel: peer.1,
            peer_session: s.peer_session,
            address,
            routes: s.attrs.routes.clone(),
            mru: s.link.peer_mru(),
            anti_spoof: self.settings.anti_spoof,
            packet_limit: self.settings.packet_limit,
            down_window: Default::default(),
            policy: s.policy,
            dns: s.link.dns(),
            counters: s.counters.clone(),
        })
    }

    pub(super) fn network_up(&mut self, now: Instant, k: SessionKey, address: Ipv4Addr) {
        if self.tunnel_peer(k.tunnel).is_none() {
            return;
        }
        let Some(s) = self.sessions.get_mut(&k) else {
            return;
        };
        info!(tunnel = k.tunnel, session = k.session, ip = %address, user = s.username.as_deref().unwrap_or(""), garden = s.policy.garden, "session up");
        s.in_dataplane = true;
        s.up_at = Some(now);
        s.last_activity = now;
        for net in &s.attrs.routes {
            self.io.push_back(Io::Route {
                add: true,
                net: *net,
            });
        }
        if let Some(entry) = self.dataplane_entry(k, address) {
            self.emit(Io::Table(TableUpdate::Upsert(entry)));
        }
        self.stats.sessions_up += 1;
        // A gardened session sends no accounting until it is let out.
        if !self.sessions.get(&k).is_some_and(|s| s.policy.garden) {
            self.accounting_start(now, k);
        }
        self.arm_admin(k);
        self.plugin_session_event(k, true);
        self.hook_up(k);
    }

    pub(super) fn arm_admin(&mut self, k: SessionKey) {
        let at = self.sessions.get(&k).and_then(|s| s.admin_deadline());
        self.timers.set(TimerKey::Admin(k.tunnel, k.session), at);
    }

    /// Session-Timeout, Idle-Timeout and interim accounting.
    pub(super) fn admin_tick(&mut self, now: Instant, k: SessionKey) {
        let Some(s) = self.sessions.get_mut(&k) else {
            return;
        };
        let Some(up) = s.up_at else { return };
        // Idle means nothing from the user: the data plane stamps its last
        // upstream packet; downstream-only traffic (scans) does not count.
        let last_rx = s
            .counters
            .last_rx_tick
            .load(std::sync::atomic::Ordering::Relaxed);
        if last_rx != 0 {
            s.last_activity = s.last_activity.max(self.clock.instant_of(last_rx));
        }
        if let Some(t) = s.attrs.session_timeout.filter(|t| *t > 0) {
            if now >= up + Duration::from_secs(u64::from(t)) {
                info!(
                    tunnel = k.tunnel,
                    session = k.session,
                    user = s.username.as_deref().unwrap_or(""),
                    "Session-Timeout {t} s reached"
                );
                self.close_session(now, k, Cause::SessionTimeout);
                return;
            }
        }
        if let Some(t) = s.attrs.idle_timeout.filter(|t| *t > 0) {
            if now >= s.last_activity + Duration::from_secs(u64::from(t)) {
                info!(
                    tunnel = k.tunnel,
                    session = k.session,
                    user = s.username.as_deref().unwrap_or(""),
                    "Idle-Timeout {t} s reached"
                );
                self.close_session(now, k, Cause::IdleTimeout);
                return;
            }
        }
        if s.next_interim.is_some_and(|n| now >= n) {
            self.accounting_interim(now, k);
        }
        self.arm_admin(k);
    }

    /// Close a session on our initiative: PPP Terminate first (the client
    /// is told), CDN when the link has finished. `cause` is what accounting
    /// reports.
    pub(super) fn close_session(&mut self, now: Instant, k: SessionKey, cause: Cause) {
        let Some(s) = self.sessions.get_mut(&k) else {
            return;
        };
        if s.end_cause.is_some() {
            return;
        }
        s.end_cause = Some(cause);
        s.link
            .close(now, crate::ppp::server::CloseReason::AdminClose);
        self.flush_session(now, k);
    }

    /// Take a session down: data plane first (so no packet is forwarded to
    /// a freed address), then the address, then the L2TP call.
    pub(super) fn end_session(
        &mut self,
        now: Instant,
        k: SessionKey,
        cause: Cause,
        send_cdn: bool,
    ) {
        self.plugin_session_event(k, false);
        let Some(s) = self.sessions.remove(&k) else {
            return;
        };
        self.lines.release(k, now);
        if let Some(e) = self.tunnels.get_mut(&k.tunnel) {
            e.sessions.remove(&k.session);
        }
        let cause = s.end_cause.clone().unwrap_or(cause);
        self.buckets_used = self.buckets_used.saturating_sub(s.policy.buckets());
        self.timers
            .set(TimerKey::Session(k.tunnel, k.session), None);
        self.activity_gates.release(k);
        self.timers.set(TimerKey::Admin(k.tunnel, k.session), None);
        if s.in_dataplane {
            self.emit(Io::Table(TableUpdate::Remove(k)));
        }
        if s.up_at.is_some() {
            for net in &s.attrs.routes {
                self.emit(Io::Route {
                    add: false,
                    net: *net,
                });
            }
        }
        if let Some(id) = s.auth_pending {
            self.forget_radius_request(id);
        }
        self.accounting_stop(now, k, &s, &cause);
        self.hook_down(now, k, &s, &cause);
        self.acct_dir_session_closed(k, &s);
        if let Some(a) = s.address {
            self.by_address.remove(&a);
            if s.static_route {
                self.emit(Io::Route {
                    add: false,
                    net: Ipv4Network::from(a),
                });
            } else {
                self.pool.release(a);
            }
        }
        if let Some(u) = &s.username {
            self.forget_user(k, u);
        }
        let c = &s.counters;
        info!(
            tunnel = k.tunnel,
            session = k.session,
            user = s.username.as_deref().unwrap_or(""),
            ?cause,
            secs = now.saturating_duration_since(s.opened).as_secs(),
            rx_bytes = c.rx_bytes(),
            tx_bytes = c.tx_bytes(),
            "session closed"
        );
        self.stats.sessions_closed += 1;
        if send_cdn {
            if let Some(e) = self.tunnels.get_mut(&k.tunnel) {
                e.tunnel.disconnect_session(now, k.session, cdn_for(&cause));
            }
            self.flush_tunnel(now, k.tunnel);
        }
    }
}
