//! l2tpns-loadgen: a LAC and PPP clients built on the same sans-IO cores as
//! the daemon (l2tp::lac, ppp::client). It brings up N sessions over T
//! tunnels, checks every session's address and DNS, pings through every
//! session, tears everything down cleanly and prints a summary.
//!
//! One UDP socket, one thread, one event loop: poll(2) until the earliest
//! deadline of any tunnel or PPP link, then drive the state machines.

mod bench_phase;
pub mod call_table;
pub mod decoy;
pub mod flow;
pub mod gate;
pub mod hold;
pub mod icmp;
pub mod impair;
pub mod mmsg;
pub mod pacing;
pub mod payload;
mod ping;
pub mod procstat;
pub mod reassembly;
mod receive;
pub mod shard;
pub mod sink;
pub mod socket;
pub mod source;
mod summary;
mod teardown;
pub mod traffic;
mod tun_phase;
pub mod tunmode;
mod tx_streams;
pub mod udp;

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{rngs::StdRng, Rng, RngCore, SeedableRng};

use crate::l2tp::lac::{LacConfig, LacEvent, LacTunnel, OutgoingCall};
use crate::l2tp::result_code::{CdnCode, CdnResult, StopCcnCode, StopCcnResult};
use crate::l2tp::wire::{write_data_header, Header, DATA_HEADER_LEN};
use crate::ppp::client::{ClientConfig, ClientEvent, ClientLink};
use crate::ppp::server::AuthProto;
use crate::timers::Timers;

use self::flow::{FlowTotals, RxFlow};
use self::gate::Gates;
use self::hold::{HoldPinger, HoldStats};
use self::impair::Impairment;
use self::mmsg::{send_batch, BATCH};
use self::pacing::Pacer;
use self::payload::{SinkReport, Stamp, MAGIC_REPORT_REQUEST, STAMP_LEN};
use self::reassembly::Reassembly;
use self::shard::ShardPlan;
use self::socket::udp_socket;
pub use self::summary::Summary;
use self::traffic::{TrafficOptions, TrafficStats};
use self::tunmode::{TunBridge, TunCounts, TunOptions};
use self::udp::{udp_packet, UdpView, PAYLOAD_AT};
use crate::daemon::workers::udp_batch::RecvBatch;

#[derive(Debug, Clone)]
pub struct Options {
    pub server: SocketAddr,
    pub bind: SocketAddr,
    pub tunnels: usize,
    pub sessions: usize,
    pub auth: AuthProto,
    pub user_pattern: String,
    pub first_index: usize,
    /// TX Connect Speed in every ICCN (bits/s, or whatever the LNS's
    /// plugins expect: l2tpns's setrxspeed reads 256, 512, 1500).
    pub connect_speed: u32,
    pub password: String,
    pub tunnel_secret: Option<String>,
    pub hide_avps: bool,
    /// Calls being set up at once.
    pub concurrency: usize,
    /// Ping this address through every session (default: the LNS's IPCP address).
    pub ping_target: Option<Ipv4Addr>,
    pub pings: u32,
    pub ping_size: usize,
    /// Probability of losing / reordering a control packet, each direction.
    pub loss: f64,
    pub reorder: f64,
    pub timeout: Duration,
    /// DNS servers every session must receive; None: not checked.
    pub expect_dns: Option<Vec<Ipv4Addr>>,
    pub seed: u64,
    pub verbose: bool,
    /// Keep the sessions up this long after the pings, answering echo
    /// requests (lets a test ping subscribers from the LNS side).
    pub hold: Duration,
    /// Echo requests per second, over all sessions, while holding; then a
    /// check that every session still answers (0: neither).
    pub hold_ping_rate: f64,
    /// The MRU the emulated clients announce.
    pub mru: u16,
    /// Benchmark traffic after the pings (None: none).
    pub traffic: Option<TrafficOptions>,
    /// Threads (shards of the tunnels), each with its own socket.
    pub threads: usize,
    /// Bridge the (single) session to a TUN device while holding.
    pub tun: Option<TunOptions>,
    /// Send UDP checksums over IPv4; false sends zero (none), as Linux's
    /// L2TP does by default.
    pub udp_checksums: bool,
}

/// Closing waits one full StopCCN retransmission cycle (1+2+4+8+8+8 s) and a margin.
const CLOSE_TIME: Duration = Duration::from_secs(40);
/// The traffic phase ends at the latest this long after sending stopped.
const MAX_DRAIN: Duration = Duration::from_secs(10);
/// How long shard 0 asks the sink for its counts, and how often.
const REPORT_TIME: Duration = Duration::from_secs(3);
const REPORT_RETRY: Duration = Duration::from_millis(300);
/// Datagrams read per receive pass, so a flood cannot starve the timers.
const MAX_RECV_PER_PASS: usize = 64 * BATCH;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
enum Key {
    Tunnel(usize),
    Link(usize),
}

enum SessionState {
    Waiting,
    Calling {
        tunnel: usize,
        local_sid: u16,
    },
    Ppp {
        tunnel: usize,
        local_sid: u16,
        peer_sid: u16,
        link: Box<ClientLink>,
    },
    Failed(String),
    Done,
}

struct Sess {
    state: SessionState,
    address: Option<Ipv4Addr>,
    peer_address: Option<Ipv4Addr>,
    dns: [Option<Ipv4Addr>; 2],
    up_at: Option<Instant>,
    replies: u32,
    echo_seq: u16,
    /// Index over the whole run (all shards): user name, call serial, ping id.
    global: usize,
    /// This shard's tunnel that carries the session.
    tunnel: usize,
    /// Benchmark packets that came down this session.
    down: RxFlow,
}

/// Where the stamp sits in an upstream benchmark frame: L2TP data
/// header, FF 03 00 21, IP+UDP headers, then the stamp.
const FRAME_STAMP_AT: usize = DATA_HEADER_LEN + 4 + PAYLOAD_AT;

struct Bench {
    opts: TrafficOptions,
    pacer: Pacer,
    start: Instant,
    send_until: Instant,
    streams: tx_streams::TxStreams,
    next: usize,
    bufs: Vec<Vec<u8>>,
    blocked: bool,
    last_activity: Instant,
    cpu_start: Option<f64>,
    report_frame: Option<Vec<u8>>,
    next_report_try: Instant,
    /// `--decoy-port`: each packet's destination, named (see `decoy`).
    dests: Vec<std::net::SocketAddrV4>,
}

struct Tun {
    lac: LacTunnel,
    up: bool,
    closed: bool,
    calls: call_table::CallTable,
}

#[derive(PartialEq, Eq, Clone, Copy, Debug)]
enum Phase {
    Setup,
    Traffic,
    /// Waiting for every shard to finish its pings.
    PingsDone,
    Bench,
    /// Waiting for every shard to finish benchmark traffic.
    BenchDone,
    /// Shard 0 asking the sink what it received.
    Report,
    Hold,
    /// After hold: every up session pings until it gets a reply.
    HoldCheck,
    Hangup,
    Closing,
    Done,
}

pub struct LoadGen {
    opts: Options,
    sock: UdpSocket,
    tunnels: Vec<Tun>,
    sessions: Vec<Sess>,
    timers: Timers<Key>,
    impair_out: Impairment,
    impair_in: Impairment,
    rng: StdRng,
    lac_cfg: Arc<LacConfig>,
    ppp_cfg: Vec<ClientConfig>,
    next_session: usize,
    in_setup: usize,
    phase: Phase,
    phase_deadline: Instant,
    next_ping_retry: Instant,
    started: Instant,
    last_up: Option<Instant>,
    by_address: HashMap<Ipv4Addr, usize>,
    summary: Summary,
    reassembly: Reassembly,
    shard_index: usize,
    shard_count: usize,
    tunnel_base: usize,
    gates: Arc<Gates>,
    recv_batch: Option<RecvBatch>,
    bench: Option<Bench>,
    traffic: TrafficStats,
    tun: Option<TunBridge>,
    hold_ping: Option<HoldPinger>,
}

/// What one shard hands back to be merged.
pub struct ShardResult {
    pub summary: Summary,
    pub addresses: Vec<Ipv4Addr>,
}

impl LoadGen {
    /// A single-threaded run of all of `opts`' tunnels and sessions.
    pub fn new(opts: Options) -> std::io::Result<LoadGen> {
        let plan = ShardPlan::new(opts.tunnels, opts.sessions, 1);
        let gates = Arc::new(Gates::new(1));
        let part = plan.parts.into_iter().next().unwrap_or_default();
        LoadGen::shard(opts, part, 0, 1, gates)
    }

    /// One shard of a run: its tunnels and sessions, its own socket.
    pub fn shard(
        opts: Options,
        part: shard::ShardPart,
        shard_index: usize,
        shard_count: usize,
        gates: Arc<Gates>,
    ) -> std::io::Result<LoadGen> {
        let sock = udp_socket(opts.bind, opts.udp_checksums)?;
        sock.connect(opts.server)?;
        sock.set_nonblocking(true)?;
        let secret = opts.tunnel_secret.clone().map(String::into_bytes);
        let lac_cfg = Arc::new(LacConfig {
            hostname: "l2tpns-loadgen".into(),
            secret: secret.clone(),
            challenge_lns: secret.is_some(),
            hide_avps: opts.hide_avps && secret.is_some(),
            ..LacConfig::default()
        });
        let now = Instant::now();
        let mut lg = LoadGen {
            sock,
            tunnels: Vec::new(),
            sessions: Vec::new(),
            timers: Timers::default(),
            impair_out: Impairment::new(opts.loss, opts.reorder, opts.seed),
            impair_in: Impairment::new(opts.loss, opts.reorder, opts.seed ^ 0x5eed),
            rng: StdRng::seed_from_u64(opts.seed),
            lac_cfg,
            ppp_cfg: Vec::new(),
            next_session: 0,
            in_setup: 0,
            phase: Phase::Setup,
            phase_deadline: now + opts.timeout,
            next_ping_retry: now,
            started: now,
            last_up: None,
            by_address: HashMap::new(),
            summary: Summary {
                sessions: part.sessions.len(),
                ..Summary::default()
            },
            reassembly: Reassembly::default(),
            shard_index,
            shard_count: shard_count.max(1),
            tunnel_base: part.tunnel_base,
            gates,
            recv_batch: None,
            bench: None,
            traffic: TrafficStats::default(),
            tun: None,
            hold_ping: None,
            opts,
        };
        lg.opts.concurrency = lg.opts.concurrency.div_ceil(lg.shard_count);
        lg.opts.tunnels = part.tunnels;
        for &(i, tunnel) in &part.sessions {
            let user = lg
                .opts
                .user_pattern
                .replace("%d", &(lg.opts.first_index + i).to_string());
            lg.ppp_cfg.push(ClientConfig {
                username: user,
                password: lg.opts.password.clone(),
                allowed_auth: Some(lg.opts.auth),
                mru: lg.opts.mru,
                restart_time: Duration::from_secs(3),
                max_configure: 10,
                max_failure: 5,
                request_dns: true,
            });
            lg.sessions.push(Sess {
                state: SessionState::Waiting,
                address: None,
                peer_address: None,
                dns: [None; 2],
                up_at: None,
                replies: 0,
                echo_seq: 0,
                global: i,
                tunnel,
                down: RxFlow::default(),
            });
        }
        Ok(lg)
    }

    pub fn run(self) -> Summary {
        self.run_shard().summary
    }

    pub fn run_shard(mut self) -> ShardResult {
        let now = Instant::now();
        if self.opts.tun.is_some() {
            tunmode::catch_stop_signals();
        }
        for t in 0..self.opts.tunnels.max(1) {
            let mut ch = [0u8; 16];
            self.rng.fill_bytes(&mut ch);
            let id = (self.tunnel_base + t + 1).min(usize::from(u16::MAX)) as u16;
            let lac = LacTunnel::new(self.lac_cfg.clone(), id, ch, now);
            self.tunnels.push(Tun {
                lac,
                up: false,
                closed: false,
                calls: call_table::CallTable::default(),
            });
            self.flush_tunnel(now, t);
        }
        while self.phase != Phase::Done {
            self.wait();
            let now = Instant::now();
            self.receive(now);
            self.tun_up();
            if self.phase == Phase::Bench {
                self.bench_send(now);
            }
            for k in self.timers.expired(now) {
                match k {
                    Key::Tunnel(t) => {
                        self.tunnels[t].lac.handle_timeout(now);
                        self.flush_tunnel(now, t);
                    }
                    Key::Link(s) => {
                        if let SessionState::Ppp { link, .. } = &mut self.sessions[s].state {
                            link.handle_timeout(now);
                        }
                        self.flush_link(now, s);
                    }
                }
            }
            let mut out = Vec::new();
            self.impair_out.flush(now, &mut out);
            for d in out {
                socket::send(&self.sock, &d);
            }
            self.advance(now);
        }
        self.summary.control_dropped = self.impair_in.dropped + self.impair_out.dropped;
        self.summary.control_reordered = self.impair_in.reordered + self.impair_out.reordered;
        self.summary.reassembled = self.reassembly.reassembled;
        self.summary.tunnels_up = self.tunnels.iter().filter(|t| t.up).count();
        self.summary.threads = self.shard_count;
        if self.bench.is_some() {
            self.summary.traffic = Some(self.traffic.clone());
        }
        if let Some(b) = &self.tun {
            self.summary.tun = b.counts;
        }
        let addresses = self.sessions.iter().filter_map(|s| s.address).collect();
        ShardResult {
            summary: self.summary,
            addresses,
        }
    }

    /// The longest poll in this phase: short while waiting for other shards
    /// or pacing packets, zero when sending flat out.
    fn max_wait(&self, now: Instant) -> Duration {
        match (self.phase, &self.bench) {
            (Phase::PingsDone | Phase::BenchDone, _) => Duration::from_millis(2),
            (Phase::Bench, Some(b)) if now < b.send_until && !b.streams.is_empty() => {
                if b.blocked {
                    Duration::from_millis(1)
                } else {
                    b.pacer
                        .next_due()
                        .map_or(Duration::ZERO, |t| t.saturating_duration_since(now))
                }
            }
            (Phase::Bench | Phase::Report, _) => Duration::from_millis(10),
            (Phase::Hold, _) => self
                .hold_wait(now)
                .unwrap_or(Duration::MAX)
                .min(Duration::from_millis(100)),
            _ => Duration::from_millis(100),
        }
    }

    fn wait(&self) {
        let now = Instant::now();
        let mut at = self.phase_deadline.min(now + self.max_wait(now));
        for t in [
            self.timers.next(),
            self.impair_out.next_flush(),
            self.impair_in.next_flush(),
        ]
        .into_iter()
        .flatten()
        {
            at = at.min(t);
        }
        // ppoll's nanoseconds, not poll's milliseconds: a paced sender's
        // next packet is often under 1 ms away, and a 0 ms poll would spin
        // a core (which a whole-machine CPU figure then charges to the LNS).
        let d = at
            .saturating_duration_since(now)
            .min(Duration::from_millis(100));
        let blocked = self.bench.as_ref().is_some_and(|b| b.blocked);
        // A paced receiver sleeps to its next tick whatever arrives.
        let rx_every = self.paced_rx_interval();
        let d = match rx_every {
            Some(every) => d.min(self.next_rx_tick(now, every).saturating_duration_since(now)),
            None => d,
        };
        let timeout = libc::timespec {
            tv_sec: d.as_secs() as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        };
        let readable = if rx_every.is_some() { 0 } else { libc::POLLIN };
        let mut pfds = [
            libc::pollfd {
                fd: self.sock.as_raw_fd(),
                events: if blocked {
                    readable | libc::POLLOUT
                } else {
                    readable
                },
                revents: 0,
            },
            libc::pollfd {
                fd: self.tun.as_ref().map_or(-1, TunBridge::fd),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let n = if self.tun.is_some() { 2 } else { 1 };
        // SAFETY: n valid pollfds, a valid timespec, no signal mask.
        unsafe { libc::ppoll(pfds.as_mut_ptr(), n, &timeout, std::ptr::null()) };
    }

    /// `--rx-interval-us` while the benchmark traffic runs.
    fn paced_rx_interval(&self) -> Option<Duration> {
        let every = self.opts.traffic.as_ref()?.rx_interval;
        (self.phase == Phase::Bench && !every.is_zero()).then_some(every)
    }

    /// The first tick after `now` on a grid from the shard's start.
    fn next_rx_tick(&self, now: Instant, every: Duration) -> Instant {
        let since = now.saturating_duration_since(self.started).as_nanos();
        let step = every.as_nanos().max(1);
        let ticks = (since / step + 1).min(u128::from(u32::MAX)) as u32;
        self.started + every * ticks
    }

    fn send_control(&mut self, now: Instant, d: Vec<u8>) {
        if self.impair_out.is_active() {
            let mut out = Vec::new();
            self.impair_out.pass(now, d, &mut out);
            for d in out {
                socket::send(&self.sock, &d);
            }
        } else {
            socket::send(&self.sock, &d);
        }
    }

    fn flush_tunnel(&mut self, now: Instant, t: usize) {
        while let Some(d) = self.tunnels[t].lac.poll_transmit(now) {
            self.send_control(now, d);
        }
        while let Some(ev) = self.tunnels[t].lac.poll_event() {
            match ev {
                LacEvent::Established => {
                    self.tunnels[t].up = true;
                    if self.opts.verbose {
                        eprintln!("tunnel {} up", t + 1);
                    }
                }
                LacEvent::CallUp {
                    local_sid,
                    peer_sid,
                } => {
                    let Some(s) = self.tunnels[t].calls.get(local_sid) else {
                        continue;
                    };
                    let mut link = Box::new(ClientLink::new(
                        self.ppp_cfg[s].clone(),
                        self.rng.next_u32(),
                        now,
                    ));
                    link.open(now);
                    self.sessions[s].state = SessionState::Ppp {
                        tunnel: t,
                        local_sid,
                        peer_sid,
                        link,
                    };
                    self.flush_link(now, s);
                }
                LacEvent::CallDisconnected { local_sid, info } => {
                    if let Some(s) = self.tunnels[t].calls.remove(local_sid) {
                        self.note_lost_call(s, &format!("CDN from LNS: {info:?}"));
                        self.timers.set(Key::Link(s), None);
                        let sess = &mut self.sessions[s];
                        if matches!(
                            sess.state,
                            SessionState::Calling { .. } | SessionState::Ppp { .. }
                        ) {
                            if sess.up_at.is_none() {
                                self.in_setup = self.in_setup.saturating_sub(1);
                                sess.state =
                                    SessionState::Failed(format!("CDN from LNS: {info:?}"));
                            } else {
                                sess.state = SessionState::Done;
                            }
                        }
                    }
                }
                LacEvent::Closed { reason } => {
                    self.tunnels[t].closed = true;
                    self.note_lost_tunnel(t, &reason);
                    if !matches!(
                        self.phase,
                        Phase::Hold
                            | Phase::HoldCheck
                            | Phase::Hangup
                            | Phase::Closing
                            | Phase::Done
                    ) {
                        self.summary
                            .failures
                            .push(format!("tunnel {} closed: {reason:?}", t + 1));
                    }
                    let calls = self.tunnels[t].calls.drain();
                    for s in calls {
                        self.timers.set(Key::Link(s), None);
                        if self.sessions[s].up_at.is_none() {
                            self.in_setup = self.in_setup.saturating_sub(1);
                        }
                        self.sessions[s].state =
                            SessionState::Failed(format!("tunnel closed: {reason:?}"));
                    }
                }
            }
        }
        while let Some(d) = self.tunnels[t].lac.poll_transmit(now) {
            self.send_control(now, d);
        }
        let at = self.tunnels[t].lac.poll_timeout();
        self.timers.set(Key::Tunnel(t), at);
    }

    fn flush_link(&mut self, now: Instant, s: usize) {
        let (tunnel, peer_sid) = match &self.sessions[s].state {
            SessionState::Ppp {
                tunnel, peer_sid, ..
            } => (*tunnel, *peer_sid),
            _ => return,
        };
        let peer_tid = self.tunnels[tunnel].lac.peer_id();
        let mut frames = Vec::new();
        let mut events = Vec::new();
        if let SessionState::Ppp { link, .. } = &mut self.sessions[s].state {
            while let Some(f) = link.poll_transmit() {
                frames.push(f);
            }
            while let Some(e) = link.poll_event() {
                events.push(e);
            }
            let at = link.poll_timeout();
            self.timers.set(Key::Link(s), at);
        }
        for f in frames {
            let mut d = vec![0u8; DATA_HEADER_LEN];
            write_data_header(&mut d, peer_tid, peer_sid);
            d.extend_from_slice(&f);
            self.send_control(now, d);
        }
        for e in events {
            match e {
                ClientEvent::Up {
                    local_address,
                    peer_address,
                    dns,
                } => {
                    let sess = &mut self.sessions[s];
                    if sess.up_at.is_none() {
                        sess.up_at = Some(now);
                        self.in_setup = self.in_setup.saturating_sub(1);
                        self.summary.sessions_up += 1;
                        self.last_up = Some(now);
                    }
                    sess.address = Some(local_address);
                    sess.peer_address = Some(peer_address);
                    sess.dns = dns;
                    if self.opts.verbose {
                        eprintln!(
                            "SESSION {} ip={local_address} peer={peer_address} dns={dns:?}",
                            self.ppp_cfg[s].username
                        );
                    }
                }
                ClientEvent::AuthFailed { message } => {
                    self.summary.auth_failed += 1;
                    self.summary.failures.push(format!(
                        "{}: auth failed: {message}",
                        self.ppp_cfg[s].username
                    ));
                }
                ClientEvent::Closed { reason } => {
                    if self.sessions[s].up_at.is_none() && self.phase == Phase::Setup {
                        self.in_setup = self.in_setup.saturating_sub(1);
                        self.sessions[s].state =
                            SessionState::Failed(format!("PPP closed: {reason:?}"));
                    }
                }
            }
        }
    }

    fn place_calls(&mut self, now: Instant) {
        while self.in_setup < self.opts.concurrency.max(1)
            && self.next_session < self.sessions.len()
        {
            let s = self.next_session;
            let t = self.sessions[s].tunnel;
            if !self.tunnels[t].up {
                // Sessions are assigned round robin; wait for this tunnel.
                if self.tunnels[t].closed {
                    self.sessions[s].state = SessionState::Failed("tunnel never came up".into());
                    self.next_session += 1;
                    continue;
                }
                break;
            }
            let g = self.sessions[s].global;
            let call = OutgoingCall {
                call_serial_number: g as u32,
                calling_number: Some(format!("loadgen-{g}")),
                called_number: Some("l2tpns".into()),
                tx_connect_speed: self.opts.connect_speed,
                ..OutgoingCall::default()
            };
            match self.tunnels[t].lac.place_call(now, call) {
                Some(local_sid) => {
                    // Session indexes are below the --sessions count (u32).
                    let _ = self.tunnels[t].calls.insert(local_sid, s);
                    self.sessions[s].state = SessionState::Calling {
                        tunnel: t,
                        local_sid,
                    };
                    self.in_setup += 1;
                }
                None => {
                    self.sessions[s].state = SessionState::Failed("no free session id".into());
                }
            }
            self.next_session += 1;
            self.flush_tunnel(now, t);
        }
    }

    fn setup_finished(&self) -> bool {
        self.next_session >= self.sessions.len() && self.in_setup == 0
    }

    fn advance(&mut self, now: Instant) {
        match self.phase {
            Phase::Setup => {
                self.place_calls(now);
                let all_tunnels_dead = self.tunnels.iter().all(|t| t.closed);
                if self.setup_finished() || all_tunnels_dead || now >= self.phase_deadline {
                    self.summary.setup_secs = self
                        .last_up
                        .map_or(0.0, |t| t.duration_since(self.started).as_secs_f64());
                    self.check_sessions();
                    self.start_traffic(now);
                }
            }
            Phase::Traffic => {
                if now >= self.next_ping_retry {
                    self.next_ping_retry = now + self.ping_retry();
                    self.send_echoes();
                }
                let done = self
                    .sessions
                    .iter()
                    .filter(|s| s.up_at.is_some())
                    .all(|s| s.replies >= self.opts.pings);
                if done || now >= self.phase_deadline {
                    self.summary.sessions_ping_ok = self
                        .sessions
                        .iter()
                        .filter(|s| s.up_at.is_some() && s.replies >= self.opts.pings.max(1))
                        .count();
                    if self.opts.pings == 0 {
                        self.summary.sessions_ping_ok = self.summary.sessions_up;
                    }
                    self.gates.pings_done.arrive();
                    self.phase = Phase::PingsDone;
                    self.phase_deadline = now + Duration::from_secs(3600);
                }
            }
            Phase::PingsDone => {
                if self.gates.pings_done.is_open() {
                    match self.opts.traffic.clone() {
                        Some(t) => self.start_bench(now, t),
                        None => self.after_traffic(now),
                    }
                }
            }
            Phase::Bench => {
                if self.bench_finished(now) {
                    self.finish_bench(now);
                    self.gates.bench_done.arrive();
                    self.phase = Phase::BenchDone;
                    self.phase_deadline = now + Duration::from_secs(3600);
                }
            }
            Phase::BenchDone => {
                if self.gates.bench_done.is_open() {
                    self.start_report(now);
                }
            }
            Phase::Report => {
                if self.traffic.sink.is_some() || now >= self.phase_deadline {
                    self.after_traffic(now);
                } else {
                    self.send_report_request(now);
                }
            }
            Phase::Hold => {
                self.hold_send(now);
                if now >= self.phase_deadline || (self.tun.is_some() && tunmode::stop_requested()) {
                    self.end_hold(now);
                }
            }
            Phase::HoldCheck => self.hold_check_tick(now),
            Phase::Hangup => {
                let calls_left: usize = self.tunnels.iter().map(|t| t.calls.len()).sum();
                if calls_left == 0 || now >= self.phase_deadline {
                    for t in 0..self.tunnels.len() {
                        if !self.tunnels[t].closed {
                            self.tunnels[t]
                                .lac
                                .close(now, StopCcnResult::new(StopCcnCode::ClearConnection));
                            self.flush_tunnel(now, t);
                        }
                    }
                    self.phase = Phase::Closing;
                    self.phase_deadline = now + CLOSE_TIME;
                }
            }
            Phase::Closing => {
                let all_closed = self.tunnels.iter().all(|t| t.closed);
                if all_closed || now >= self.phase_deadline {
                    self.summary.teardown_clean = all_closed;
                    if !all_closed {
                        self.summary.failures.push(format!(
                            "tunnels did not close in {} s",
                            CLOSE_TIME.as_secs()
                        ));
                    }
                    self.phase = Phase::Done;
                }
            }
            Phase::Done => {}
        }
    }
}

/// Is this a packet the impairment applies to: L2TP control, or a PPP
/// frame that is not IPv4 data.
fn is_control(d: &[u8]) -> bool {
    match Header::parse(d) {
        Ok(h) if h.is_control() => true,
        Ok(h) => !matches!(
            strip_ppp(d.get(h.payload_offset()..).unwrap_or(&[])),
            Some((0x0021, _))
        ),
        Err(_) => false,
    }
}

/// (protocol, payload) of a PPP frame with optional FF 03 and PFC.
fn strip_ppp(f: &[u8]) -> Option<(u16, &[u8])> {
    let f = f.strip_prefix(&[0xff, 0x03]).unwrap_or(f);
    let first = *f.first()?;
    if first & 1 == 1 {
        Some((u16::from(first), &f[1..]))
    } else {
        let second = *f.get(1)?;
        Some((u16::from_be_bytes([first, second]), &f[2..]))
    }
}

/// A random seed when none is given.
pub fn random_seed() -> u64 {
    rand::thread_rng().gen()
}
