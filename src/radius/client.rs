//! The RADIUS client state machine, sans-IO (quinn-proto style): requests
//! go in with `submit`, datagrams and timeouts with `handle_*`, and what to
//! send, when to wake up and how requests ended come out of `poll_*`.
//!
//! Follows RFC 2865 §2.5/§3 (retransmission, identifiers, Response
//! Authenticator), RFC 2866 §2 and §5.2 (accounting retransmissions carry a
//! new Acct-Delay-Time, hence a new identifier and Request Authenticator),
//! RFC 3579 §3.2 (Message-Authenticator) and RFC 5080 §2.2.1 (backoff).

use super::authenticator::{
    check_message_authenticator, header_authenticator, verify_response, MaCheck, HEADER_LEN,
};
use super::builder::{BuildError, MAX_PACKET};
use super::config::{ClientConfig, MessageAuthenticatorPolicy, ServerStats, MAX_RETRANSMIT};
use super::ids::{IdPool, Slot};
use super::latency::ReplyLatency;
use super::reply::AuthReply;
use super::request::{encode_access_request, encode_accounting_request, RequestKind};
use radius::core::code::Code;
use radius::core::packet::Packet;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Names one submitted request in events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// A datagram the I/O side must send from socket number `socket`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub socket: usize,
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accept(AuthReply),
    /// Access-Reject, and Access-Challenge (we do no EAP or challenge rounds).
    Reject(AuthReply),
    AcctAck,
    /// Every server was tried `retries` times without a valid answer.
    Timeout,
}

struct Pending {
    req: RequestKind,
    request_authenticator: [u8; 16],
    first_submit: Instant,
    server: usize,
    tried: Vec<bool>,
    /// Transmissions to the current server.
    tries: u32,
    interval: Duration,
    slot: Option<Slot>,
    /// Authenticator of the last packet sent (checks the response).
    sent_auth: [u8; 16],
    dest: SocketAddr,
    deadline: Option<Instant>,
    /// A reply to the current try came and was dropped for its signature or
    /// authenticator: the server is up (and misconfigured), not dead.
    refused: bool,
    /// When the current try went out (reply latency is measured from it).
    sent_at: Instant,
}

/// Why a reply from a server was dropped: each is logged once per server
/// with the setting or fix that changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    BadAuthenticator,
    BadMessageAuthenticator,
    Unsigned,
    UnsignedAfterSigned,
}

impl Refusal {
    fn bit(self) -> u8 {
        1 << self as u8
    }

    fn explain(self) -> &'static str {
        match self {
            Refusal::BadAuthenticator => "its Response Authenticator does not verify: radius_secret differs from the secret the server has for this NAS (FreeRADIUS: clients.conf)",
            Refusal::BadMessageAuthenticator => "its Message-Authenticator does not verify: radius_secret differs from the secret the server has for this NAS (FreeRADIUS: clients.conf)",
            Refusal::Unsigned => "it carries no Message-Authenticator and radius_require_message_authenticator is yes: make the server sign its replies, or set radius_require_message_authenticator auto",
            Refusal::UnsignedAfterSigned => "it carries no Message-Authenticator although this server signed an earlier reply (radius_require_message_authenticator auto): a forged reply, or the server stopped signing; set radius_require_message_authenticator no to accept unsigned replies again",
        }
    }
}

/// Authentication and accounting judge a server's liveness apart: a server
/// that leaves accounting unanswered (say, it cannot write its detail file)
/// still authenticates, and logins must not be refused for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Auth = 0,
    Acct = 1,
}

impl Purpose {
    fn of(req: &RequestKind) -> Purpose {
        match req {
            RequestKind::Auth(_) => Purpose::Auth,
            RequestKind::Acct(_) => Purpose::Acct,
        }
    }
}

/// What the client knows of one configured server beyond its counters.
#[derive(Debug, Clone, Default)]
struct ServerState {
    /// Skipped until then, per `Purpose`.
    dead_until: [Option<Instant>; 2],
    /// It has sent a signed Access-* reply (`MessageAuthenticatorPolicy::Auto`).
    signs: bool,
    /// `Refusal`s already logged at warning level.
    warned: u8,
}

/// Accounting may hold at most this share (in quarters) of the
/// identifiers, so a server that never answers accounting cannot leave
/// Access-Requests waiting for one.
const ACCT_QUARTERS: usize = 3;

/// `now + d`, saturating instead of panicking on absurd configured durations.
fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(86_400 * 365)))
        .unwrap_or(now)
}

pub struct RadiusClient {
    cfg: Arc<ClientConfig>,
    ids: IdPool,
    pending: HashMap<u64, Pending>,
    timers: BTreeSet<(Instant, u64)>,
    /// Requests waiting for a free identifier, per `Purpose`;
    /// authentication is served first.
    backlog: [VecDeque<u64>; 2],
    /// Accounting requests holding an identifier.
    acct_slots: usize,
    transmits: VecDeque<Transmit>,
    events: VecDeque<(RequestId, Outcome)>,
    servers: Vec<ServerState>,
    stats: Vec<ServerStats>,
    latency: Vec<ReplyLatency>,
    stray: u64,
    next_key: u64,
}

impl RadiusClient {
    pub fn new(cfg: Arc<ClientConfig>, _now: Instant) -> RadiusClient {
        let n = cfg.servers.len();
        RadiusClient {
            ids: IdPool::new(cfg.sockets),
            cfg,
            pending: HashMap::new(),
            timers: BTreeSet::new(),
            backlog: [VecDeque::new(), VecDeque::new()],
            acct_slots: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            servers: vec![ServerState::default(); n],
            stats: vec![ServerStats::default(); n],
            latency: (0..n).map(|_| ReplyLatency::default()).collect(),
            stray: 0,
            next_key: 0,
        }
    }

    /// Start a request. `request_authenticator`: 16 random bytes from the
    /// caller (the Access-Request authenticator and PAP hiding IV; unused
    /// for accounting, whose authenticator is a hash).
    pub fn submit(
        &mut self,
        now: Instant,
        req: RequestKind,
        request_authenticator: [u8; 16],
    ) -> RequestId {
        let key = self.next_key;
        self.next_key += 1;
        let n = self.cfg.servers.len();
        let mut p = Pending {
            req,
            request_authenticator,
            first_submit: now,
            server: 0,
            tried: vec![false; n],
            tries: 0,
            interval: self.cfg.timeout,
            slot: None,
            sent_auth: [0; 16],
            dest: SocketAddr::from(([0, 0, 0, 0], 0)),
            deadline: None,
            refused: false,
            sent_at: now,
        };
        match self.pick_server(now, Purpose::of(&p.req), &p.tried) {
            Some(s) => p.server = s,
            None => {
                self.events.push_back((RequestId(key), Outcome::Timeout));
                return RequestId(key);
            }
        }
        if let Some(st) = self.stats.get_mut(p.server) {
            st.requests += 1;
        }
        self.pending.insert(key, p);
        self.start(now, key);
        RequestId(key)
    }

    /// First live server not yet tried by this request; else the first
    /// untried one even if dead (a dead server beats no server).
    fn pick_server(&mut self, now: Instant, purpose: Purpose, tried: &[bool]) -> Option<usize> {
        for (i, server) in self.servers.iter_mut().enumerate() {
            let until = &mut server.dead_until[purpose as usize];
            if until.is_some_and(|t| t <= now) {
                *until = None; // dead_time is over: revived
            }
            if until.is_none() && !tried.get(i).copied().unwrap_or(true) {
                return Some(i);
            }
        }
        tried.iter().position(|t| !t)
    }

    /// Give the request an identifier and send it, or queue it.
    fn start(&mut self, now: Instant, key: u64) {
        let Some(purpose) = self.pending.get(&key).map(|p| Purpose::of(&p.req)) else {
            return;
        };
        if purpose == Purpose::Acct && self.acct_slots >= self.acct_slot_limit() {
            self.backlog[Purpose::Acct as usize].push_back(key);
            return;
        }
        match self.ids.allocate(key) {
            Some(slot) => {
                if let Some(p) = self.pending.get_mut(&key) {
                    p.slot = Some(slot);
                }
                if purpose == Purpose::Acct {
                    self.acct_slots += 1;
                }
                self.transmit(now, key);
            }
            None => self.backlog[purpose as usize].push_back(key),
        }
    }

    fn acct_slot_limit(&self) -> usize {
        (self.cfg.sockets * 256 * ACCT_QUARTERS / 4).max(1)
    }

    /// Start what waits for an identifier: authentication first.
    fn start_backlog(&mut self, now: Instant) {
        while self.ids.available() > 0 {
            let next = match self.backlog[Purpose::Auth as usize].pop_front() {
                Some(k) => k,
                None if self.acct_slots < self.acct_slot_limit() => {
                    match self.backlog[Purpose::Acct as usize].pop_front() {
                        Some(k) => k,
                        None => break,
                    }
                }
                None => break,
            };
            self.start(now, next);
        }
    }

    fn encode(&self, now: Instant, p: &Pending, id: u8) -> Result<Vec<u8>, BuildError> {
        match &p.req {
            RequestKind::Auth(a) => {
                encode_access_request(a, id, p.request_authenticator, &self.cfg)
            }
            RequestKind::Acct(a) => {
                let delay = now.saturating_duration_since(p.first_submit).as_secs();
                encode_accounting_request(
                    a,
                    id,
                    u32::try_from(delay).unwrap_or(u32::MAX),
                    &self.cfg,
                )
            }
        }
    }

    fn transmit(&mut self, now: Instant, key: u64) {
        let Some(p) = self.pending.get(&key) else {
            return;
        };
        let Some(slot) = p.slot else { return };
        let Some(server) = self.cfg.servers.get(p.server) else {
            return;
        };
        let dest = match p.req {
            RequestKind::Auth(_) => server.auth,
            RequestKind::Acct(_) => server.acct,
        };
        let bytes = match self.encode(now, p, slot.id) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode RADIUS request");
                self.finish(now, key, Outcome::Timeout);
                return;
            }
        };
        let sent_auth = header_authenticator(&bytes).unwrap_or([0; 16]);
        let Some(p) = self.pending.get_mut(&key) else {
            return;
        };
        p.sent_auth = sent_auth;
        p.dest = dest;
        p.sent_at = now;
        p.tries += 1;
        if let Some(old) = p.deadline.take() {
            self.timers.remove(&(old, key));
        }
        let deadline = later(now, p.interval);
        p.deadline = Some(deadline);
        self.timers.insert((deadline, key));
        self.transmits.push_back(Transmit {
            socket: slot.socket,
            to: dest,
            bytes,
        });
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(t, key)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.remove(&(t, key));
            if let Some(p) = self.pending.get_mut(&key) {
                p.deadline = None;
            }
            self.expire(now, key);
        }
    }

    /// The current try went unanswered: resend, fail over, or give up.
    fn expire(&mut self, now: Instant, key: u64) {
        let Some(p) = self.pending.get_mut(&key) else {
            return;
        };
        let purpose = Purpose::of(&p.req);
        let is_acct = purpose == Purpose::Acct;
        if p.tries < self.cfg.retries.max(1) {
            p.refused = false;
            p.interval = p
                .interval
                .saturating_mul(2)
                .min(MAX_RETRANSMIT.max(self.cfg.timeout));
            let server = p.server;
            if let Some(st) = self.stats.get_mut(server) {
                st.retries += 1;
            }
            if is_acct {
                // New Acct-Delay-Time -> new content -> new identifier (RFC 2866 §5.2).
                self.reassign_slot(key);
            }
            self.transmit(now, key);
            return;
        }
        let failed = p.server;
        let refused = std::mem::take(&mut p.refused);
        if let Some(t) = p.tried.get_mut(failed) {
            *t = true;
        }
        let tried = p.tried.clone();
        if let Some(st) = self.stats.get_mut(failed) {
            st.timeouts += 1;
        }
        // A server whose replies we refused is alive: marking it dead
        // would hide the real fault behind "no server answered".
        if !refused {
            self.mark_dead(now, failed, purpose);
        }
        let Some(next) = self.pick_server(now, purpose, &tried) else {
            self.finish(now, key, Outcome::Timeout);
            return;
        };
        if let Some(p) = self.pending.get_mut(&key) {
            p.server = next;
            p.tries = 0;
            p.interval = self.cfg.timeout;
        }
        if let Some(addr) = self.cfg.servers.get(next) {
            let to = if is_acct { addr.acct } else { addr.auth };
            tracing::info!(server = %to, "RADIUS: failing over to the next server");
        }
        if let Some(st) = self.stats.get_mut(next) {
            st.requests += 1;
        }
        self.reassign_slot(key);
        self.transmit(now, key);
    }

    fn mark_dead(&mut self, now: Instant, server: usize, purpose: Purpose) {
        let Some(st) = self.servers.get_mut(server) else {
            return;
        };
        let until = &mut st.dead_until[purpose as usize];
        if until.is_none() {
            let (what, to) = match (purpose, self.cfg.servers.get(server)) {
                (Purpose::Auth, Some(a)) => ("authentication", a.auth),
                (Purpose::Acct, Some(a)) => ("accounting", a.acct),
                (_, None) => return,
            };
            tracing::warn!(
                server = %to,
                "RADIUS server did not answer {what} after {} tries; skipped for {what} for {} s (a server also stays silent when radius_secret is not the secret it has for this NAS: see its log)",
                self.cfg.retries.max(1),
                self.cfg.dead_time.as_secs()
            );
        }
        *until = Some(later(now, self.cfg.dead_time));
    }

    /// A reply matched a request and was dropped: count it, log the reason
    /// once per server, and remember that the server is alive.
    fn refuse(&mut self, key: u64, server: usize, why: Refusal, code: Code) {
        if let Some(p) = self.pending.get_mut(&key) {
            p.refused = true;
        }
        if let Some(st) = self.stats.get_mut(server) {
            match why {
                Refusal::BadAuthenticator => st.bad_authenticator += 1,
                _ => st.bad_message_authenticator += 1,
            }
        }
        let from = self.cfg.servers.get(server).map(|s| s.auth);
        let Some(state) = self.servers.get_mut(server) else {
            return;
        };
        if state.warned & why.bit() == 0 {
            state.warned |= why.bit();
            tracing::warn!(server = ?from, "RADIUS reply ({code:?}) dropped: {} (logged once per server; see the bad_authenticator and bad_message_authenticator counters)", why.explain());
        } else {
            tracing::debug!(server = ?from, ?why, "RADIUS reply dropped");
        }
    }

    /// A fresh identifier for the next transmission (the old one is freed
    /// first, so there is always one to take).
    fn reassign_slot(&mut self, key: u64) {
        let Some(p) = self.pending.get_mut(&key) else {
            return;
        };
        if let Some(old) = p.slot.take() {
            self.ids.release(old);
        }
        let slot = self.ids.allocate(key);
        if let Some(p) = self.pending.get_mut(&key) {
            p.slot = slot;
        }
    }

    fn finish(&mut self, now: Instant, key: u64, outcome: Outcome) {
        if let Some(p) = self.pending.remove(&key) {
            if let Some(slot) = p.slot {
                self.ids.release(slot);
                if Purpose::of(&p.req) == Purpose::Acct {
                    self.acct_slots = self.acct_slots.saturating_sub(1);
                }
            }
            if let Some(d) = p.deadline {
                self.timers.remove(&(d, key));
            }
        }
        for queue in &mut self.backlog {
            queue.retain(|k| *k != key);
        }
        self.events.push_back((RequestId(key), outcome));
        self.start_backlog(now);
    }

    fn server_of(&self, from: SocketAddr) -> Option<usize> {
        self.cfg
            .servers
            .iter()
            .position(|s| s.auth == from || s.acct == from)
    }

    fn count(&mut self, server: Option<usize>, f: impl FnOnce(&mut ServerStats)) {
        match server.and_then(|s| self.stats.get_mut(s)) {
            Some(st) => f(st),
            None => self.stray += 1,
        }
    }

    /// A datagram arrived on socket `socket` from `from`. Anything that is
    /// not a proper answer to a pending request is dropped and counted.
    pub fn handle_datagram(&mut self, now: Instant, socket: usize, from: SocketAddr, bytes: &[u8]) {
        let from_server = self.server_of(from);
        let declared = match bytes.get(2..4) {
            Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])),
            None => 0,
        };
        if bytes.len() < HEADER_LEN
            || declared < HEADER_LEN
            || declared > bytes.len()
            || declared > MAX_PACKET
        {
            self.count(from_server, |s| s.malformed += 1);
            return;
        }
        // RFC 2865 §3: octets beyond Length are padding.
        let pkt = &bytes[..declared];
        let Some(key) = self.ids.owner(socket, pkt[1]) else {
            self.count(from_server, |s| s.unknown_id += 1);
            return;
        };
        let Some(p) = self.pending.get(&key) else {
            self.count(from_server, |s| s.unknown_id += 1);
            return;
        };
        let (index, dest, sent_auth) = (p.server, p.dest, p.sent_auth);
        let sent_at = p.sent_at;
        let server = Some(index);
        let is_auth = matches!(p.req, RequestKind::Auth(_));
        if from != dest {
            self.count(server, |s| s.wrong_source += 1);
            return;
        }
        let code = Code::from(pkt[0]);
        let expected = if is_auth {
            matches!(
                code,
                Code::AccessAccept | Code::AccessReject | Code::AccessChallenge
            )
        } else {
            code == Code::AccountingResponse
        };
        if !expected {
            self.count(server, |s| s.malformed += 1);
            return;
        }
        let cfg = Arc::clone(&self.cfg);
        let secret = &cfg.secret;
        if !verify_response(pkt, &sent_auth, secret) {
            self.refuse(key, index, Refusal::BadAuthenticator, code);
            return;
        }
        // Blast-RADIUS (CVE-2024-3596) forges Access-* replies: the policy
        // says which must be signed. An Accounting-Response carries no
        // authorisation and many servers (FreeRADIUS 3.2 among them) never
        // sign it. A Message-Authenticator that is present is always checked.
        let signs = self.servers.get(index).is_some_and(|s| s.signs);
        match check_message_authenticator(pkt, &sent_auth, secret) {
            MaCheck::Valid => {
                if is_auth {
                    if let Some(st) = self.servers.get_mut(index) {
                        st.signs = true;
                    }
                }
            }
            MaCheck::Absent if !is_auth => {}
            MaCheck::Absent => match cfg.require_message_authenticator {
                MessageAuthenticatorPolicy::No => {}
                MessageAuthenticatorPolicy::Auto if !signs => {}
                MessageAuthenticatorPolicy::Auto => {
                    self.refuse(key, index, Refusal::UnsignedAfterSigned, code);
                    return;
                }
                MessageAuthenticatorPolicy::Yes => {
                    self.refuse(key, index, Refusal::Unsigned, code);
                    return;
                }
            },
            MaCheck::Invalid => {
                self.refuse(key, index, Refusal::BadMessageAuthenticator, code);
                return;
            }
        }
        let Ok(packet) = Packet::decode(pkt, secret) else {
            self.count(server, |s| s.malformed += 1);
            return;
        };
        let outcome = match code {
            Code::AccessAccept => Outcome::Accept(AuthReply::from_packet(&packet)),
            Code::AccountingResponse => Outcome::AcctAck,
            _ => Outcome::Reject(AuthReply::from_packet(&packet)),
        };
        self.count(server, |s| match &outcome {
            Outcome::Accept(_) => s.accepts += 1,
            Outcome::Reject(_) => s.rejects += 1,
            _ => s.acct_responses += 1,
        });
        if let Some(h) = self.latency.get(index) {
            h.observe(now.saturating_duration_since(sent_at));
        }
        // It answered: it is alive whatever an earlier request thought.
        let purpose = if is_auth {
            Purpose::Auth
        } else {
            Purpose::Acct
        };
        if let Some(st) = self.servers.get_mut(index) {
            st.dead_until[purpose as usize] = None;
        }
        self.finish(now, key, outcome);
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(t, _)| *t)
    }

    pub fn poll_event(&mut self) -> Option<(RequestId, Outcome)> {
        self.events.pop_front()
    }

    /// Requests submitted and not yet ended (including those queued for an identifier).
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Per configured server, in `ClientConfig::servers` order.
    pub fn stats(&self) -> &[ServerStats] {
        &self.stats
    }

    /// Reply latency per configured server, in `ClientConfig::servers` order.
    pub fn latency(&self) -> &[ReplyLatency] {
        &self.latency
    }

    /// The configured servers (to name them in metrics).
    pub fn servers(&self) -> &[super::config::ServerAddrs] {
        &self.cfg.servers
    }

    /// Datagrams dropped that came from no configured server and matched nothing.
    pub fn stray_datagrams(&self) -> u64 {
        self.stray
    }

    /// Whether server `index` is currently skipped for authentication.
    pub fn is_dead(&self, index: usize, now: Instant) -> bool {
        self.dead_for(index, Purpose::Auth, now)
    }

    /// Whether server `index` is currently skipped for accounting.
    pub fn is_dead_for_accounting(&self, index: usize, now: Instant) -> bool {
        self.dead_for(index, Purpose::Acct, now)
    }

    fn dead_for(&self, index: usize, purpose: Purpose, now: Instant) -> bool {
        self.servers
            .get(index)
            .and_then(|s| s.dead_until[purpose as usize])
            .is_some_and(|t| t > now)
    }
}
