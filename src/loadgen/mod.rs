//! l2tpns-loadgen: a LAC and PPP clients built on the same sans-IO cores as
//! the daemon (l2tp::lac, ppp::client). It brings up N sessions over T
//! tunnels, checks every session's address and DNS, pings through every
//! session, tears everything down cleanly and prints a summary.
//!
//! One UDP socket, one thread, one event loop: poll(2) until the earliest
//! deadline of any tunnel or PPP link, then drive the state machines.

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
pub mod shard;
pub mod sink;
pub mod socket;
pub mod source;
pub mod traffic;
pub mod tunmode;
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
use self::mmsg::{send_batch, RecvBatch, BATCH};
use self::pacing::Pacer;
use self::payload::{SinkReport, Stamp, MAGIC_REPORT_REQUEST, STAMP_LEN};
use self::reassembly::Reassembly;
use self::shard::ShardPlan;
use self::socket::udp_socket;
use self::traffic::{TrafficOptions, TrafficStats};
use self::tunmode::{TunBridge, TunCounts, TunOptions};
use self::udp::{udp_packet, UdpView, PAYLOAD_AT};
use std::net::SocketAddrV4;

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
}

#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub tunnels_up: usize,
    pub sessions: usize,
    pub sessions_up: usize,
    pub auth_failed: usize,
    pub unique_addresses: usize,
    pub dns_ok: usize,
    pub setup_secs: f64,
    pub pings_sent: u64,
    pub pings_received: u64,
    pub sessions_ping_ok: usize,
    pub teardown_clean: bool,
    pub control_dropped: u64,
    pub control_reordered: u64,
    pub echo_answered: u64,
    pub reassembled: u64,
    pub failures: Vec<String>,
    pub threads: usize,
    pub traffic: Option<TrafficStats>,
    /// IP through the `--tun` bridge.
    pub tun: TunCounts,
    /// `--tun` was asked for and the device could not be set up.
    pub tun_failed: bool,
    /// What hold saw (an LNS restart must go unnoticed).
    pub hold: HoldStats,
}

impl Summary {
    pub fn passed(&self) -> bool {
        self.sessions_up == self.sessions
            && self.unique_addresses == self.sessions
            && self.dns_ok == self.sessions
            && self.sessions_ping_ok == self.sessions
            && self.teardown_clean
            && !self.tun_failed
            && self.hold.passed(self.sessions_up)
    }

    pub fn line(&self) -> String {
        format!(
            "SUMMARY tunnels_up={} sessions={} up={} auth_failed={} unique_ip={} dns_ok={} setup_s={:.3} rate_per_s={:.0} \
             pings_sent={} pings_received={} lost={} ping_ok_sessions={} echo_answered={} reassembled={} teardown={} ctl_dropped={} ctl_reordered={} result={}",
            self.tunnels_up,
            self.sessions,
            self.sessions_up,
            self.auth_failed,
            self.unique_addresses,
            self.dns_ok,
            self.setup_secs,
            if self.setup_secs > 0.0 { self.sessions_up as f64 / self.setup_secs } else { 0.0 },
            self.pings_sent,
            self.pings_received,
            self.pings_sent.saturating_sub(self.pings_received),
            self.sessions_ping_ok,
            self.echo_answered,
            self.reassembled,
            if self.teardown_clean { "clean" } else { "incomplete" },
            self.control_dropped,
            self.control_reordered,
            if self.passed() { "PASS" } else { "FAIL" }
        ) + &self.appended_fields()
    }

    /// Fields added after `result` (older parsers look fields up by name).
    fn appended_fields(&self) -> String {
        let t = self.traffic.clone().unwrap_or_default();
        let sink_reordered = t.sink.map_or(0, |s| s.reordered);
        format!(
            " threads={} traffic_up_sent={} traffic_up_received={} traffic_down_received={} traffic_lost={} traffic_reordered={}",
            self.threads.max(1),
            t.up_sent,
            t.up_received(),
            t.down.received,
            t.up_lost() + t.down.lost,
            sink_reordered + t.down.reordered,
        ) + &format!(
            " tun_up_packets={} tun_up_bytes={} tun_down_packets={} tun_down_bytes={}",
            self.tun.up_packets, self.tun.up_bytes, self.tun.down_packets, self.tun.down_bytes,
        ) + &self.hold.fields()
    }
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

/// One session's upstream benchmark stream: a ready frame (L2TP data header,
/// PPP, IPv4, UDP, stamp) whose sequence number is rewritten per packet.
struct TxStream {
    frame: Vec<u8>,
    seq: u64,
}

/// Where the stamp's sequence number sits in a TxStream frame: L2TP data
/// header, FF 03 00 21, IP+UDP headers, then the stamp.
const FRAME_STAMP_AT: usize = DATA_HEADER_LEN + 4 + PAYLOAD_AT;

struct Bench {
    opts: TrafficOptions,
    pacer: Pacer,
    start: Instant,
    send_until: Instant,
    streams: Vec<TxStream>,
    next: usize,
    bufs: Vec<Vec<u8>>,
    blocked: bool,
    last_activity: Instant,
    cpu_start: Option<f64>,
    report_frame: Option<Vec<u8>>,
    next_report_try: Instant,
}

struct Tun {
    lac: LacTunnel,
    up: bool,
    closed: bool,
    calls: HashMap<u16, usize>,
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
        let sock = udp_socket(opts.bind)?;
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
                calls: HashMap::new(),
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
        let ms = at.saturating_duration_since(now).as_millis().min(100) as libc::c_int;
        let blocked = self.bench.as_ref().is_some_and(|b| b.blocked);
        let mut pfds = [
            libc::pollfd {
                fd: self.sock.as_raw_fd(),
                events: if blocked {
                    libc::POLLIN | libc::POLLOUT
                } else {
                    libc::POLLIN
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
        // SAFETY: n valid pollfds.
        unsafe { libc::poll(pfds.as_mut_ptr(), n, ms) };
    }

    fn receive(&mut self, now: Instant) {
        let mut held = Vec::new();
        self.impair_in.flush(now, &mut held);
        for d in held {
            self.dispatch(now, &d);
        }
        let mut batch = self
            .recv_batch
            .take()
            .unwrap_or_else(|| RecvBatch::new(65536));
        let fd = self.sock.as_raw_fd();
        let mut seen = 0;
        while seen < MAX_RECV_PER_PASS {
            let n = match batch.recv(fd) {
                Ok(n) if n > 0 => n,
                // The LNS is not listening (restarting): the report is
                // cleared by now, and what came after it is still to read.
                Err(e) if socket::is_refused(&e) => {
                    seen += 1;
                    continue;
                }
                _ => break,
            };
            seen += n;
            for i in 0..n {
                let d = batch.get(i);
                if self.opts.traffic.is_some() && self.bench_rx(now, d) {
                    continue;
                }
                let d = d.to_vec();
                if self.impair_in.is_active() && is_control(&d) {
                    let mut pass = Vec::new();
                    self.impair_in.pass(now, d, &mut pass);
                    for d in pass {
                        self.dispatch(now, &d);
                    }
                } else {
                    self.dispatch(now, &d);
                }
            }
        }
        self.recv_batch = Some(batch);
    }

    /// The session a data datagram belongs to, and its PPP frame.
    fn data_session<'a>(&self, d: &'a [u8]) -> Option<(usize, &'a [u8])> {
        let h = Header::parse(d).ok()?;
        if h.is_control() {
            return None;
        }
        let t = self.tunnel_index(h.tunnel_id())?;
        let s = *self.tunnels.get(t)?.calls.get(&h.session_id())?;
        Some((s, d.get(h.payload_offset()..)?))
    }

    /// Our index of a tunnel from its id (ids are unique over all shards).
    fn tunnel_index(&self, id: u16) -> Option<usize> {
        let t = usize::from(id).checked_sub(1 + self.tunnel_base)?;
        (t < self.tunnels.len()).then_some(t)
    }

    /// Fast path for benchmark packets coming down a session (and the
    /// sink's report): counted without a copy. False: not one of ours.
    fn bench_rx(&mut self, now: Instant, d: &[u8]) -> bool {
        let Some((s, ppp)) = self.data_session(d) else {
            return false;
        };
        let Some((0x0021, ip)) = strip_ppp(ppp) else {
            return false;
        };
        let Some(u) = UdpView::parse(ip) else {
            return false;
        };
        if let Ok(st) = Stamp::parse(u.payload) {
            let sess = &mut self.sessions[s];
            if sess.address == Some(*u.dst.ip()) {
                sess.down.record(st.seq, u.ip_len);
            } else {
                self.traffic.misdelivered += 1;
            }
            self.traffic.down_window.touch(now);
            if let Some(b) = self.bench.as_mut() {
                b.last_activity = now;
            }
            return true;
        }
        if let Ok(r) = SinkReport::parse(u.payload) {
            self.traffic.sink = Some(r);
            return true;
        }
        false
    }

    fn dispatch(&mut self, now: Instant, d: &[u8]) {
        let Ok(h) = Header::parse(d) else { return };
        let Some(t) = self.tunnel_index(h.tunnel_id()) else {
            return;
        };
        if h.is_control() {
            self.tunnels[t].lac.handle_datagram(now, d);
            self.flush_tunnel(now, t);
            return;
        }
        let Some(&s) = self.tunnels[t].calls.get(&h.session_id()) else {
            return;
        };
        let ppp = d.get(h.payload_offset()..).unwrap_or(&[]);
        match strip_ppp(ppp) {
            Some((0x0021, ip)) => {
                self.ipv4_in(now, s, h.tunnel_id(), ip);
                return;
            }
            Some((protocol, payload)) => self.count_renegotiation(s, protocol, payload),
            None => {}
        }
        if let SessionState::Ppp { link, .. } = &mut self.sessions[s].state {
            link.handle_frame(now, ppp);
        }
        self.flush_link(now, s);
    }

    /// An IPv4 packet arrived for session `s`: count our echo replies,
    /// answer echo requests like a host would.
    fn ipv4_in(&mut self, now: Instant, s: usize, tunnel_id: u16, ip: &[u8]) {
        if let Some(b) = self.tun.as_mut().filter(|b| b.session == s) {
            // The kernel behind the TUN reassembles and answers echoes.
            b.down(ip);
            return;
        }
        let Some(whole) = self.reassembly.push(ip) else {
            return;
        };
        let Some(me) = self.sessions[s].address else {
            return;
        };
        if let Some((dst, ident, seq)) = icmp::parse_echo_reply(&whole) {
            let ours = usize::from(ident) == self.sessions[s].global % 65536 && dst == me;
            if ours && !self.hold_reply(now, s, seq) {
                self.sessions[s].replies += 1;
                self.summary.pings_received += 1;
            }
        } else if let Some(reply) = icmp::answer_echo_request(&whole) {
            let t = self.tunnel_index(tunnel_id).unwrap_or(usize::MAX);
            if let (Some(tun), SessionState::Ppp { peer_sid, .. }) =
                (self.tunnels.get(t), &self.sessions[s].state)
            {
                let mut d = vec![0u8; DATA_HEADER_LEN];
                write_data_header(&mut d, tun.lac.peer_id(), *peer_sid);
                d.extend_from_slice(&[0xff, 0x03, 0x00, 0x21]);
                d.extend_from_slice(&reply);
                if socket::send(&self.sock, &d) {
                    self.summary.echo_answered += 1;
                }
            }
        }
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
                    let Some(&s) = self.tunnels[t].calls.get(&local_sid) else {
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
                    if let Some(s) = self.tunnels[t].calls.remove(&local_sid) {
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
                    let calls: Vec<usize> = self.tunnels[t].calls.drain().map(|(_, s)| s).collect();
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
                    self.tunnels[t].calls.insert(local_sid, s);
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

    /// Pings (and benchmark traffic) done: hold the sessions or hang up.
    fn after_traffic(&mut self, now: Instant) {
        if let Some(o) = self.opts.tun.clone() {
            self.open_tun(&o);
        }
        if self.opts.hold.is_zero() {
            self.hangup(now);
        } else {
            if self.shard_index == 0 {
                eprintln!("HOLDING {} s", self.opts.hold.as_secs());
            }
            self.phase = Phase::Hold;
            self.phase_deadline = now + self.opts.hold;
            self.start_hold_pings(now);
        }
    }

    /// Bridge the first up session to a TUN device (`--tun`).
    fn open_tun(&mut self, o: &TunOptions) {
        let found = self.sessions.iter().enumerate().find_map(|(s, sess)| {
            let SessionState::Ppp {
                tunnel,
                peer_sid,
                link,
                ..
            } = &sess.state
            else {
                return None;
            };
            let mtu = self.opts.mru.min(link.peer_mru());
            let peer_tid = self.tunnels.get(*tunnel)?.lac.peer_id();
            Some((
                s,
                sess.address?,
                sess.peer_address?,
                mtu,
                peer_tid,
                *peer_sid,
            ))
        });
        let Some((s, address, peer, mtu, peer_tid, peer_sid)) = found else {
            self.summary
                .failures
                .push(format!("tun {}: no session up", o.name));
            self.summary.tun_failed = true;
            return;
        };
        match TunBridge::open(o, s, address, peer, mtu, peer_tid, peer_sid) {
            Ok((b, (net, len))) => {
                eprintln!(
                    "TUN name={} address={address} mtu={mtu} route={net}/{len}",
                    o.name
                );
                self.tun = Some(b);
            }
            Err(e) => {
                eprintln!("l2tpns-loadgen: tun {}: {e}", o.name);
                self.summary.failures.push(format!("tun {}: {e}", o.name));
                self.summary.tun_failed = true;
            }
        }
    }

    /// Kernel packets from the TUN go up the session (data is never impaired).
    fn tun_up(&mut self) {
        let Some(b) = self.tun.as_mut() else { return };
        if !matches!(
            self.sessions.get(b.session).map(|s| &s.state),
            Some(SessionState::Ppp { .. })
        ) {
            return;
        }
        let sock = &self.sock;
        b.pump_up(|frame| socket::send(sock, frame));
    }

    /// The frame of one UDP packet from session `s` to `dst` with `payload`
    /// at its start, padded to `size` bytes of IP; None if `s` is not up.
    fn session_udp_frame(
        &self,
        s: usize,
        dst: SocketAddrV4,
        port: u16,
        size: usize,
        payload: &[u8],
    ) -> Option<Vec<u8>> {
        let sess = self.sessions.get(s)?;
        let SessionState::Ppp {
            tunnel, peer_sid, ..
        } = &sess.state
        else {
            return None;
        };
        let src = SocketAddrV4::new(sess.address?, port);
        let mut d = vec![0u8; DATA_HEADER_LEN];
        write_data_header(&mut d, self.tunnels.get(*tunnel)?.lac.peer_id(), *peer_sid);
        d.extend_from_slice(&[0xff, 0x03, 0x00, 0x21]);
        let mut ip = udp_packet(src, dst, size.max(PAYLOAD_AT + payload.len()));
        ip.get_mut(PAYLOAD_AT..PAYLOAD_AT + payload.len())?
            .copy_from_slice(payload);
        d.extend_from_slice(&ip);
        Some(d)
    }

    fn start_bench(&mut self, now: Instant, t: TrafficOptions) {
        self.phase = Phase::Bench;
        self.phase_deadline = now + t.duration + MAX_DRAIN + Duration::from_secs(1);
        let mut streams = Vec::new();
        let mut report_frame = None;
        if let (true, Some(sink)) = (t.direction.up(), t.sink) {
            for s in 0..self.sessions.len() {
                let mut stamp = [0u8; STAMP_LEN];
                let index = self.sessions[s].global as u32;
                let _ = Stamp { index, seq: 0 }.emit(&mut stamp);
                if let Some(frame) = self.session_udp_frame(s, sink, t.port, t.size, &stamp) {
                    if report_frame.is_none() {
                        report_frame =
                            self.session_udp_frame(s, sink, t.port, 0, &MAGIC_REPORT_REQUEST);
                    }
                    streams.push(TxStream { frame, seq: 0 });
                }
            }
        }
        let cpu_start = match (self.shard_index, t.lns_pid) {
            (0, Some(pid)) => procstat::cpu_seconds(pid),
            _ => None,
        };
        if self.shard_index == 0 {
            eprintln!(
                "TRAFFIC START direction={} duration_s={}",
                t.direction.name(),
                t.duration.as_secs_f64()
            );
        }
        self.bench = Some(Bench {
            pacer: Pacer::new(Pacer::share(t.rate, self.shard_count), now),
            start: now,
            send_until: now + t.duration,
            streams,
            next: 0,
            bufs: vec![Vec::new(); BATCH],
            blocked: false,
            last_activity: now,
            cpu_start,
            report_frame,
            next_report_try: now,
            opts: t,
        });
    }

    /// Send what the pacer allows now (a few batches when flat out).
    fn bench_send(&mut self, now: Instant) {
        let fd = self.sock.as_raw_fd();
        let Some(b) = self.bench.as_mut() else { return };
        let n = b.streams.len();
        if n == 0 || now >= b.send_until {
            return;
        }
        b.blocked = false;
        for _ in 0..4 {
            let due = b.pacer.due(now).min(BATCH as u64) as usize;
            if due == 0 {
                return;
            }
            for (k, buf) in b.bufs.iter_mut().take(due).enumerate() {
                let Some(st) = b.streams.get((b.next + k) % n) else {
                    continue;
                };
                buf.clear();
                buf.extend_from_slice(&st.frame);
                if let Some(stamp) = buf.get_mut(FRAME_STAMP_AT..) {
                    // With fewer streams than the batch, a stream comes round
                    // again every n packets: each occurrence gets its own number.
                    let _ = Stamp::set_seq(stamp, st.seq + (k / n) as u64);
                }
            }
            match send_batch(fd, b.bufs.get(..due).unwrap_or(&[]), None) {
                Ok(sent) => {
                    for k in 0..sent {
                        if let Some(st) = b.streams.get_mut((b.next + k) % n) {
                            st.seq += 1;
                        }
                    }
                    b.next = (b.next + sent) % n;
                    b.pacer.record(sent as u64);
                    self.traffic.up_sent += sent as u64;
                    self.traffic.up_bytes +=
                        (sent * b.opts.size.max(PAYLOAD_AT + STAMP_LEN)) as u64;
                    self.traffic.up_window.touch(now);
                    if sent < due {
                        b.blocked = true;
                        return;
                    }
                }
                // The LNS is not listening: nothing went, the report is cleared.
                Err(e) if socket::is_refused(&e) => continue,
                Err(_) => {
                    // WouldBlock/ENOBUFS: the socket buffer is full.
                    b.blocked = true;
                    return;
                }
            }
        }
    }

    /// Sending is over and nothing has arrived for the drain time.
    fn bench_finished(&self, now: Instant) -> bool {
        let Some(b) = &self.bench else { return true };
        if now < b.send_until {
            return false;
        }
        let quiet_since = b.last_activity.max(b.send_until);
        now >= quiet_since + b.opts.drain || now >= b.send_until + MAX_DRAIN
    }

    fn finish_bench(&mut self, now: Instant) {
        let Some(b) = &self.bench else { return };
        self.traffic.phase_secs = now.duration_since(b.start).as_secs_f64();
        if let (Some(c0), Some(pid)) = (b.cpu_start, b.opts.lns_pid) {
            self.traffic.lns_cpu_secs = procstat::cpu_seconds(pid).map(|c1| (c1 - c0).max(0.0));
        }
        if !b.streams.is_empty() {
            self.traffic.up_min_session = b.streams.iter().map(|s| s.seq).min().unwrap_or(0);
            self.traffic.up_max_session = b.streams.iter().map(|s| s.seq).max().unwrap_or(0);
        }
        if b.opts.direction.down() {
            self.traffic.down = FlowTotals::of(
                self.sessions
                    .iter()
                    .filter(|s| s.up_at.is_some())
                    .map(|s| &s.down),
            );
        }
    }

    fn start_report(&mut self, now: Instant) {
        let wants = self.shard_index == 0
            && self
                .bench
                .as_ref()
                .is_some_and(|b| b.report_frame.is_some());
        if wants {
            self.phase = Phase::Report;
            self.phase_deadline = now + REPORT_TIME;
            self.send_report_request(now);
        } else {
            self.after_traffic(now);
        }
    }

    fn send_report_request(&mut self, now: Instant) {
        let Some(b) = self.bench.as_mut() else { return };
        if now < b.next_report_try {
            return;
        }
        b.next_report_try = now + REPORT_RETRY;
        if let Some(f) = &b.report_frame {
            socket::send(&self.sock, f);
        }
    }

    fn check_sessions(&mut self) {
        let mut seen = HashSet::new();
        for (i, s) in self.sessions.iter().enumerate() {
            if let Some(a) = s.address {
                if seen.insert(a) {
                    self.by_address.insert(a, i);
                } else {
                    self.summary.failures.push(format!(
                        "{} got duplicate address {a}",
                        self.ppp_cfg[i].username
                    ));
                }
            }
            let dns: Vec<Ipv4Addr> = s.dns.iter().flatten().copied().collect();
            match &self.opts.expect_dns {
                _ if s.up_at.is_none() => {}
                Some(want) if dns != *want => self.summary.failures.push(format!(
                    "{}: DNS {dns:?}, expected {want:?}",
                    self.ppp_cfg[i].username
                )),
                _ => self.summary.dns_ok += 1,
            }
            if let SessionState::Failed(r) = &s.state {
                self.summary
                    .failures
                    .push(format!("{}: {r}", self.ppp_cfg[i].username));
            } else if s.up_at.is_none() {
                self.summary
                    .failures
                    .push(format!("{}: not up", self.ppp_cfg[i].username));
            }
        }
        self.summary.unique_addresses = seen.len();
    }

    fn hangup(&mut self, now: Instant) {
        self.phase = Phase::Hangup;
        self.phase_deadline = now + Duration::from_secs(15);
        for s in 0..self.sessions.len() {
            if let SessionState::Ppp {
                tunnel, local_sid, ..
            }
            | SessionState::Calling { tunnel, local_sid } = self.sessions[s].state
            {
                self.tunnels[tunnel].lac.hangup(
                    now,
                    local_sid,
                    CdnResult::new(CdnCode::Administrative),
                );
                self.tunnels[tunnel].calls.remove(&local_sid);
                self.sessions[s].state = SessionState::Done;
                self.timers.set(Key::Link(s), None);
                self.flush_tunnel(now, tunnel);
            }
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
