//! A ServerLink and a ClientLink joined by a deterministic lossy,
//! reordering channel (the load generator's impairment model: each frame
//! is dropped with probability `loss`, or held back until the next frame
//! in the same direction passes it). Time is simulated with hand-made
//! Instants. RFC 1661 restart timers must recover every lost, duplicated
//! or reordered frame: a link that can still converge must never close.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{rngs::StdRng, Rng, SeedableRng};

use super::chap::chap_md5_verify;
use super::client::{ClientConfig, ClientEvent, ClientLink};
use super::server::*;
use crate::credentials::Credentials;

const PEER: Ipv4Addr = Ipv4Addr::new(10, 1, 2, 3);
const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SECRET: &str = "pw";
/// How long a held-back frame waits for a successor (loadgen HOLD).
const HOLD: Duration = Duration::from_millis(30);

fn server_cfg(order: Vec<AuthProto>) -> ServerConfig {
    ServerConfig {
        mru: 1458,
        auth_order: order,
        restart_time: Duration::from_secs(3),
        max_configure: 10,
        max_failure: 5,
        echo_interval: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(240),
        echo_always: false,
        hostname: "lns".into(),
        local_address: LOCAL,
    }
}

fn client_cfg(allowed: Option<AuthProto>) -> ClientConfig {
    ClientConfig {
        username: "user1".into(),
        password: SECRET.into(),
        allowed_auth: allowed,
        mru: 1458,
        restart_time: Duration::from_secs(3),
        max_configure: 10,
        max_failure: 5,
        request_dns: true,
    }
}

/// One direction of the impaired channel.
struct Channel {
    loss: f64,
    reorder: f64,
    latency: Duration,
    held: Option<(Instant, Vec<u8>)>,
    /// Frames in flight, by arrival time (then a sequence number).
    flight: BTreeMap<(Instant, u64), Vec<u8>>,
    seq: u64,
}

impl Channel {
    fn new(loss: f64, reorder: f64, latency: Duration) -> Channel {
        Channel {
            loss,
            reorder,
            latency,
            held: None,
            flight: BTreeMap::new(),
            seq: 0,
        }
    }

    fn put(&mut self, now: Instant, f: Vec<u8>) {
        self.seq += 1;
        self.flight.insert((now + self.latency, self.seq), f);
    }

    fn send(&mut self, rng: &mut StdRng, now: Instant, f: Vec<u8>, trace: bool) {
        if rng.gen_bool(self.loss) {
            if trace {
                eprintln!("        dropped");
            }
            return;
        }
        if self.held.is_none() && rng.gen_bool(self.reorder) {
            self.held = Some((now, f));
            return;
        }
        self.put(now, f);
        if let Some((_, h)) = self.held.take() {
            self.put(now, h);
        }
    }

    fn next(&self) -> Option<Instant> {
        let flush = self.held.as_ref().map(|(at, _)| *at + HOLD);
        let arrive = self.flight.keys().next().map(|(t, _)| *t);
        [flush, arrive].into_iter().flatten().min()
    }

    /// Frames that arrive at `now`.
    fn due(&mut self, now: Instant) -> Vec<Vec<u8>> {
        if self.held.as_ref().is_some_and(|(at, _)| *at + HOLD <= now) {
            if let Some((_, h)) = self.held.take() {
                self.put(now, h);
            }
        }
        let mut out = Vec::new();
        while let Some(e) = self.flight.first_entry() {
            if e.key().0 > now {
                break;
            }
            out.push(e.remove());
        }
        out
    }
}

struct Sim {
    now: Instant,
    rng: StdRng,
    server: ServerLink,
    client: ClientLink,
    to_client: Channel,
    to_server: Channel,
    /// RADIUS answers at this time.
    auth_due: Vec<Instant>,
    auth_delay: Duration,
    sev: Vec<ServerEvent>,
    cev: Vec<ClientEvent>,
    t0: Instant,
    trace: bool,
}

impl Sim {
    fn new(seed: u64, order: Vec<AuthProto>, allowed: Option<AuthProto>) -> Sim {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(seed);
        let challenge: [u8; 16] = rng.gen();
        let smagic: u32 = rng.gen();
        let cmagic: u32 = rng.gen();
        let latency = Duration::from_micros(rng.gen_range(100..20_000));
        let auth_delay = Duration::from_micros(rng.gen_range(0..50_000));
        Sim {
            now,
            server: ServerLink::new(Arc::new(server_cfg(order)), smagic, challenge, now),
            client: ClientLink::new(client_cfg(allowed), cmagic, now),
            to_client: Channel::new(0.2, 0.2, latency),
            to_server: Channel::new(0.2, 0.2, latency),
            auth_due: Vec::new(),
            auth_delay,
            sev: Vec::new(),
            cev: Vec::new(),
            t0: now,
            trace: std::env::var("LOSSY_TRACE").is_ok_and(|v| v == seed.to_string()),
            rng,
        }
    }

    fn collect(&mut self) {
        while let Some(f) = self.server.poll_transmit() {
            self.trace("S tx", &f);
            self.to_client.send(&mut self.rng, self.now, f, self.trace);
        }
        while let Some(f) = self.client.poll_transmit() {
            self.trace("C tx", &f);
            self.to_server.send(&mut self.rng, self.now, f, self.trace);
        }
        while let Some(e) = self.server.poll_event() {
            if let ServerEvent::AuthRequest { credentials, .. } = &e {
                let ok = match credentials {
                    Credentials::Pap { password } => password == SECRET.as_bytes(),
                    Credentials::Chap {
                        id,
                        challenge,
                        response,
                    } => chap_md5_verify(*id, SECRET.as_bytes(), challenge, response),
                };
                assert!(ok, "bad credentials");
                self.auth_due.push(self.now + self.auth_delay);
            }
            self.sev.push(e);
        }
        while let Some(e) = self.client.poll_event() {
            self.cev.push(e);
        }
    }

    /// Advance to the next thing that happens, up to `limit`.
    fn step(&mut self, limit: Instant) -> bool {
        let next = [
            self.server.poll_timeout(),
            self.client.poll_timeout(),
            self.to_client.next(),
            self.to_server.next(),
            self.auth_due.iter().min().copied(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(t) = next.filter(|t| *t <= limit) else {
            self.now = limit;
            return false;
        };
        self.now = self.now.max(t);
        let now = self.now;
        if self.auth_due.iter().any(|t| *t <= now) {
            self.auth_due.retain(|t| *t > now);
            let grant = NetworkGrant {
                peer_address: PEER,
                dns: [None, None],
            };
            self.server.auth_accept(now, "ok", grant);
        }
        for f in self.to_server.due(now) {
            self.trace("c->s", &f);
            self.server.handle_frame(now, &f);
        }
        for f in self.to_client.due(now) {
            self.trace("s->c", &f);
            self.client.handle_frame(now, &f);
        }
        if self.server.poll_timeout().is_some_and(|t| t <= now) {
            self.server.handle_timeout(now);
        }
        if self.client.poll_timeout().is_some_and(|t| t <= now) {
            self.client.handle_timeout(now);
        }
        self.collect();
        true
    }

    fn run_until(&mut self, d: Duration, done: impl Fn(&Sim) -> bool) {
        let limit = self.now + d;
        while !done(self) && self.step(limit) {}
    }

    /// LOSSY_TRACE=<seed> prints every delivered frame of that run.
    fn trace(&self, dir: &str, f: &[u8]) {
        if self.trace {
            let t = self.now.duration_since(self.t0).as_millis();
            let hex: String = f.iter().take(24).map(|b| format!("{b:02x}")).collect();
            eprintln!(
                "{t:>7} {dir} {hex}  | S {:?}/{:?}/{:?} C {:?}/{:?}/{:?}",
                self.server.phase(),
                self.server.lcp_state(),
                self.server.ipcp_state(),
                self.client.phase(),
                self.client.lcp_state(),
                self.client.ipcp_state()
            );
        }
    }

    fn server_closed(&self) -> Option<CloseReason> {
        self.sev.iter().find_map(|e| match e {
            ServerEvent::Closed { reason } => Some(*reason),
            _ => None,
        })
    }

    fn client_closed(&self) -> Option<CloseReason> {
        self.cev.iter().find_map(|e| match e {
            ClientEvent::Closed { reason } => Some(*reason),
            _ => None,
        })
    }

    fn both_up(&self) -> bool {
        self.server.is_network_up() && self.client.is_network_up()
    }
}

/// One seeded run: returns a description of the failure, if any.
fn lossy_run(seed: u64, pap: bool) -> Result<(), String> {
    let (order, allowed) = if pap {
        (vec![AuthProto::Pap], Some(AuthProto::Pap))
    } else {
        (vec![AuthProto::Chap, AuthProto::Pap], None)
    };
    let mut s = Sim::new(seed, order, allowed);
    s.server.open(s.now);
    s.client.open(s.now);
    s.collect();
    s.run_until(Duration::from_secs(120), |s| {
        s.both_up() || s.server_closed().is_some() || s.client_closed().is_some()
    });
    if !s.both_up() {
        return Err(format!(
            "seed {seed}: not up: server {:?}/{:?}/{:?} closed {:?}, client {:?}/{:?}/{:?} closed {:?}",
            s.server.phase(),
            s.server.lcp_state(),
            s.server.ipcp_state(),
            s.server_closed(),
            s.client.phase(),
            s.client.lcp_state(),
            s.client.ipcp_state(),
            s.client_closed(),
        ));
    }
    // Stragglers (old requests, acks, challenges) still in flight must not
    // kill the link: let it run a while, keepalives included.
    s.run_until(Duration::from_secs(60), |s| {
        s.server_closed().is_some() || s.client_closed().is_some()
    });
    if s.server_closed().is_some() || s.client_closed().is_some() || !s.both_up() {
        return Err(format!(
            "seed {seed}: went down after up: server closed {:?}, client closed {:?}",
            s.server_closed(),
            s.client_closed()
        ));
    }
    // Teardown from the client side must finish on both sides.
    s.client.close(s.now);
    s.collect();
    s.run_until(Duration::from_secs(60), |s| {
        s.server_closed().is_some() && s.client_closed().is_some()
    });
    // The peer may miss every Terminate-Request; then the server learns
    // of it from the idle timeout (or, in the daemon, the CDN).
    match (s.client_closed(), s.server_closed()) {
        (Some(CloseReason::AdminClose), Some(CloseReason::PeerTerminated)) => Ok(()),
        (Some(CloseReason::AdminClose), None) => {
            s.run_until(Duration::from_secs(300), |s| s.server_closed().is_some());
            match s.server_closed() {
                Some(CloseReason::EchoTimeout) | Some(CloseReason::PeerTerminated) => Ok(()),
                r => Err(format!("seed {seed}: server close after teardown: {r:?}")),
            }
        }
        r => Err(format!("seed {seed}: teardown: {r:?}")),
    }
}

fn lossy_runs(pap: bool) {
    let runs: u64 = std::env::var("LOSSY_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let failures: Vec<String> = (0..runs)
        .filter_map(|seed| lossy_run(seed, pap).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn chap_survives_loss_and_reordering() {
    lossy_runs(false);
}

#[test]
fn pap_survives_loss_and_reordering() {
    lossy_runs(true);
}
