//! Data-plane workers. Each is one thread that owns one TUN queue and one UDP
//! socket of the port-1701 `SO_REUSEPORT` group and moves packets both ways:
//! the kernel hashes a LAC's 4-tuple to one socket (so a tunnel, and every
//! session in it, stays on one worker: no reordering within a session) and
//! spreads the packets it routes into the TUN over the queues by flow.
//!
//! A worker sleeps in poll(2) on its two descriptors and, per wake-up, takes
//! up to [`BURST`] packets from each (recvmmsg/sendmmsg when batching is on),
//! then publishes its counters. It owns its own copy of the session table and
//! applies the control plane's updates before each burst: no lock per packet.
//! Packets the data plane does not handle go to the control plane over a
//! bounded queue; when it is full they are dropped and counted, never blocking.

mod moderation;
pub mod policy;
pub mod tun_steering;
pub mod udp_batch;
pub mod udp_options;

use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crossbeam_channel::Receiver;
use tracing::{debug, error};

use crate::dataplane::downstream::{downstream, DownOutput, DownVerdict, ENCAP_LEN};
use crate::dataplane::drop_reason::DropCounters;
use crate::dataplane::drop_reason::DropReason;
use crate::dataplane::offload::vnet::{GSO_NONE, VNET_HDR_LEN};
use crate::dataplane::offload::{downstream_offload, Coalescer, VnetHdr};
use crate::dataplane::session_table::{SessionTable, TableUpdate};
use crate::dataplane::unreachable::HostUnreachables;
use crate::dataplane::upstream::{upstream_clamp_mss, UpVerdict};

use self::moderation::{Moderation, Wakeup};
use self::udp_batch::{recv_from_now, RecvBatch, SendBatch};
use super::clock::Clock;
use super::ControlInput;
use crate::tun::Tun;

/// Packets taken from each descriptor per wake-up, so one busy direction
/// cannot starve the other (poll is level-triggered: the rest waits).
pub const BURST: usize = 64;

/// Counters of the worker threads themselves (not per session), summed over
/// the workers.
#[derive(Default)]
pub struct WorkerStats {
    pub up_packets: AtomicU64,
    pub down_packets: AtomicU64,
    /// IPv4 bytes (IP total length) written to the TUN / sent to peers,
    /// as the sessions' accounting counts them.
    pub up_bytes: AtomicU64,
    pub down_bytes: AtomicU64,
    pub to_control: AtomicU64,
    pub tun_write_errors: AtomicU64,
    pub udp_send_errors: AtomicU64,
    /// Offloads at work: receives holding several datagrams (UDP GRO),
    /// merged TCP frames written to the TUN, super-packets read from the TUN
    /// (TSO/USO), UDP GSO sends.
    pub gro_receives: AtomicU64,
    pub tun_merged_writes: AtomicU64,
    pub tun_super_reads: AtomicU64,
    pub gso_sends: AtomicU64,
    /// icmp_rate: host unreachables sent for packets no session owns, and
    /// ones the rate held back.
    pub icmp_unreachables: AtomicU64,
    pub icmp_unreachables_limited: AtomicU64,
    /// Snoop (lawful intercept) copies sent, and ones that could not be.
    pub snoop_sent: AtomicU64,
    pub snoop_errors: AtomicU64,
    /// Walled garden: connections sent to the portal (`garden_redirect`),
    /// refusals answered with ICMP administratively prohibited, and ones
    /// `garden_icmp_rate` left unanswered.
    pub garden_redirects: AtomicU64,
    pub garden_prohibited: AtomicU64,
    pub garden_prohibited_limited: AtomicU64,
    /// Per worker (index = worker): packets up and down, to see the spread.
    pub worker_up: Vec<AtomicU64>,
    pub worker_down: Vec<AtomicU64>,
}

impl WorkerStats {
    pub fn new(workers: usize) -> Self {
        WorkerStats {
            worker_up: (0..workers).map(|_| AtomicU64::new(0)).collect(),
            worker_down: (0..workers).map(|_| AtomicU64::new(0)).collect(),
            ..WorkerStats::default()
        }
    }
}

pub struct Shared {
    pub clock: Arc<Clock>,
    pub drops: Arc<DropCounters>,
    pub stats: Arc<WorkerStats>,
}

/// How the workers do their UDP I/O, chosen at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batching {
    /// One recvfrom/sendto per datagram.
    Plain,
    /// Up to this many datagrams per recvmmsg/sendmmsg.
    Mmsg(usize),
}

impl Batching {
    /// From `data_batch`: 0 is plain.
    pub fn from_config(batch: u32) -> Batching {
        match batch {
            0 => Batching::Plain,
            n => Batching::Mmsg(n as usize),
        }
    }
}

impl std::fmt::Display for Batching {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Batching::Plain => f.write_str("recvfrom/sendto"),
            Batching::Mmsg(n) => write!(f, "recvmmsg/sendmmsg x{n}"),
        }
    }
}

/// The UDP offloads the workers use, chosen at start-up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpOffload {
    /// Receives may hold several datagrams of one source (UDP GRO).
    pub gro: bool,
    /// Equal-sized datagrams to one peer go out in one send (UDP GSO).
    pub gso: bool,
}

impl std::fmt::Display for UdpOffload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let on = |b: bool| if b { "on" } else { "off" };
        write!(f, "gro={} gso={}", on(self.gro), on(self.gso))
    }
}

/// Counts kept in the worker and added to [`WorkerStats`] once per wake-up,
/// so the workers do not fight over one cache line per packet.
#[derive(Default)]
struct Counts {
    up: u64,
    down: u64,
    up_bytes: u64,
    down_bytes: u64,
    to_control: u64,
    tun_errors: u64,
    udp_errors: u64,
    gro_receives: u64,
    tun_merged_writes: u64,
    tun_super_reads: u64,
    gso_sends: u64,
    icmp_unreachables: u64,
    icmp_unreachables_limited: u64,
    /// Snoop copies sent, and ones that could not be.
    snoop_sent: u64,
    snoop_errors: u64,
    garden_redirects: u64,
    garden_prohibited: u64,
    garden_prohibited_limited: u64,
    /// Frames the coalescer wrote this wake-up (not published: moderation
    /// compares it with `up` to see how much merging saves).
    tun_frames: u64,
}

impl Counts {
    fn publish(&mut self, s: &WorkerStats, worker: usize) {
        for (n, a) in [
            (self.up, s.worker_up.get(worker)),
            (self.down, s.worker_down.get(worker)),
        ] {
            if let (true, Some(a)) = (n > 0, a) {
                a.fetch_add(n, Relaxed);
            }
        }
        for (n, a) in [
            (&mut self.up, &s.up_packets),
            (&mut self.down, &s.down_packets),
            (&mut self.up_bytes, &s.up_bytes),
            (&mut self.down_bytes, &s.down_bytes),
            (&mut self.to_control, &s.to_control),
            (&mut self.tun_errors, &s.tun_write_errors),
            (&mut self.udp_errors, &s.udp_send_errors),
            (&mut self.gro_receives, &s.gro_receives),
            (&mut self.tun_merged_writes, &s.tun_merged_writes),
            (&mut self.tun_super_reads, &s.tun_super_reads),
            (&mut self.gso_sends, &s.gso_sends),
            (&mut self.snoop_sent, &s.snoop_sent),
            (&mut self.snoop_errors, &s.snoop_errors),
            (&mut self.garden_redirects, &s.garden_redirects),
            (&mut self.garden_prohibited, &s.garden_prohibited),
            (
                &mut self.garden_prohibited_limited,
                &s.garden_prohibited_limited,
            ),
            (&mut self.icmp_unreachables, &s.icmp_unreachables),
            (
                &mut self.icmp_unreachables_limited,
                &s.icmp_unreachables_limited,
            ),
        ] {
            if *n > 0 {
                a.fetch_add(*n, Relaxed);
                *n = 0;
            }
        }
    }
}

/// Everything a worker owns.
pub struct Worker {
    index: usize,
    udp: UdpSocket,
    tun: Tun,
    updates: Receiver<TableUpdate>,
    to_control: tokio::sync::mpsc::Sender<ControlInput>,
    local_address: Ipv4Addr,
    shared: Shared,
    table: SessionTable,
    rx: Option<RecvBatch>,
    tx: Option<SendBatch>,
    gso: bool,
    /// Sleep this long after each wake-up while traffic is dense.
    moderation: std::time::Duration,
    /// With a vnet-header TUN: merges upstream TCP segments (GRO).
    coalescer: Option<Coalescer>,
    /// This worker's share of icmp_rate; None when it is 0.
    unreachables: Option<HostUnreachables>,
    buf: Vec<u8>,
    out: DownOutput,
    counts: Counts,
    /// Throttle buckets and snoop targets of the sessions this worker owns.
    policies: policy::Policies,
}

impl Worker {
    /// `tun` is made non-blocking (the worker polls before reading).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        index: usize,
        udp: UdpSocket,
        tun: Tun,
        updates: Receiver<TableUpdate>,
        to_control: tokio::sync::mpsc::Sender<ControlInput>,
        local_address: Ipv4Addr,
        batching: Batching,
        offload: UdpOffload,
        moderation: std::time::Duration,
        unreachables: Option<HostUnreachables>,
        policies: policy::Policies,
        shared: Shared,
    ) -> io::Result<Worker> {
        tun.set_nonblocking()?;
        let coalescer = tun.vnet_hdr().then(Coalescer::new);
        let (rx, tx) = match batching {
            Batching::Plain => (None, None),
            Batching::Mmsg(n) => {
                let rx = RecvBatch::new(n);
                let rx = if offload.gro { rx.with_gro() } else { rx };
                (Some(rx), Some(SendBatch::new(n)))
            }
        };
        Ok(Worker {
            index,
            udp,
            tun,
            updates,
            to_control,
            local_address,
            shared,
            table: SessionTable::new(),
            rx,
            tx,
            gso: offload.gso,
            moderation,
            coalescer,
            unreachables,
            buf: vec![0u8; 65536],
            out: DownOutput::new(),
            counts: Counts::default(),
            policies,
        })
    }

    /// Runs until a descriptor fails.
    pub fn run(mut self) {
        let mut fds = [
            libc::pollfd {
                fd: self.udp.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.tun.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        moderation::tight_timer_slack();
        let mut moderation = Moderation::new(self.moderation, std::time::Instant::now());
        loop {
            // Wake up when a throttled packet may go, else on input only.
            let timeout = self.policies.next_release_ms().unwrap_or(-1);
            // SAFETY: `fds` is a live array of two pollfd structs.
            let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                error!(worker = self.index, "data-plane poll failed: {e}");
                return;
            }
            self.apply_updates();
            let [udp, tun] = fds.map(|f| f.revents != 0);
            if udp {
                if let Err(e) = self.upstream_burst() {
                    error!(worker = self.index, "UDP receive failed: {e}");
                    return;
                }
            }
            let mut more_waiting = false;
            if tun {
                match self.downstream_burst() {
                    Ok(full) => more_waiting = full,
                    Err(e) => {
                        error!(worker = self.index, "TUN read failed: {e}");
                        return;
                    }
                }
            }
            self.release_throttled();
            let c = &self.counts;
            let wakeup = Wakeup {
                up: c.up,
                merged: if c.tun_frames > 0 {
                    c.up.saturating_sub(c.tun_frames)
                } else {
                    0
                },
                down: c.down,
                other: c.to_control,
                more_waiting: more_waiting || c.up >= BURST as u64,
            };
            self.counts.tun_frames = 0;
            self.counts.publish(&self.shared.stats, self.index);
            let now = std::time::Instant::now();
            if let Some(pause) = moderation.after_wakeup(now, wakeup) {
                std::thread::sleep(pause);
            }
        }
    }

    fn apply_updates(&mut self) {
        while let Ok(u) = self.updates.try_recv() {
            self.policies.on_update(&u);
            self.table.apply(u);
        }
    }

    /// Send what the throttle buckets allow now and the garden's ICMP
    /// answers, and count the policies' events.
    fn release_throttled(&mut self) {
        let fd = self.udp.as_raw_fd();
        let (tun, udp, c) = (&mut self.tun, &self.udp, &mut self.counts);
        self.policies.release(|r| match r {
            policy::Released::Up(ip) => {
                c.up += 1;
                c.up_bytes += ip.len() as u64;
                if tun.send(ip).is_err() {
                    c.tun_errors += 1;
                }
            }
            policy::Released::Down(item) => {
                if udp.send_to(&item.datagram, item.peer).is_ok() {
                    c.down += 1;
                    c.down_bytes += item.datagram.len().saturating_sub(ENCAP_LEN) as u64;
                } else {
                    c.udp_errors += 1;
                }
            }
        });
        // Down the session as any downstream packet (snooped, throttled);
        // rare: rate-limited refusals.
        let answers = self.policies.take_answers();
        let tick = self.shared.clock.tick();
        for ip in answers {
            if let DownVerdict::ToPeer { peer, count } =
                downstream(&self.table, &ip, self.local_address, tick, &mut self.out)
            {
                self.deliver(fd, peer, count);
            }
        }
        if let Some(tx) = &mut self.tx {
            if !tx.is_empty() {
                self.counts.udp_errors += tx.flush(fd).errors as u64;
            }
        }
        let p = std::mem::take(&mut self.policies.counts);
        self.counts.snoop_sent += p.snoop_sent;
        self.counts.snoop_errors += p.snoop_errors;
        self.counts.garden_redirects += p.garden_redirects;
        self.counts.garden_prohibited += p.garden_prohibited;
        self.counts.garden_prohibited_limited += p.garden_prohibited_limited;
    }

    /// UDP -> TUN: up to [`BURST`] datagrams.
    fn upstream_burst(&mut self) -> io::Result<()> {
        let tick = self.shared.clock.tick();
        let fd = self.udp.as_raw_fd();
        self.policies.start_burst();
        let mut up = Up {
            policies: &mut self.policies,
            table: &self.table,
            coalescer: self.coalescer.as_mut(),
            tun: &mut self.tun,
            to_control: &self.to_control,
            drops: &self.shared.drops,
            counts: &mut self.counts,
            tick,
        };
        match &mut self.rx {
            Some(rx) => {
                let mut taken = 0;
                while taken < BURST {
                    let n = not_interrupted(rx.recv(fd), 0)?;
                    for i in 0..n {
                        match rx.get_mut(i) {
                            // GRO: several datagrams of one LAC, cut back apart.
                            Some((d, from, Some(seg))) => {
                                up.counts.gro_receives += 1;
                                for one in d.chunks_mut(seg) {
                                    up.one(one, from);
                                }
                            }
                            Some((d, from, None)) => up.one(d, from),
                            None => {}
                        }
                    }
                    taken += n;
                    if n < rx.slots() {
                        break;
                    }
                }
            }
            None => {
                for _ in 0..BURST {
                    let Some((n, from)) = not_interrupted(recv_from_now(fd, &mut self.buf), None)?
                    else {
                        break;
                    };
                    if let Some(d) = self.buf.get_mut(..n) {
                        up.one(d, from);
                    }
                }
            }
        }
        up.flush();
        Ok(())
    }

    /// TUN -> UDP: up to [`BURST`] packets (with offloads: frames, each
    /// maybe a TCP or UDP super-packet), their datagrams sent in batches.
    /// Ok(true): the burst limit stopped it (more may be queued).
    fn downstream_burst(&mut self) -> io::Result<bool> {
        let fd = self.udp.as_raw_fd();
        let vnet = self.tun.vnet_hdr();
        let tick = self.shared.clock.tick_now();
        self.policies.start_burst();
        let mut read = 0;
        for _ in 0..BURST {
            let n = match self.tun.recv(&mut self.buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) =>
                {
                    break
                }
                Err(e) => return Err(e),
            };
            read += 1;
            let Some(frame) = self.buf.get_mut(..n) else {
                continue;
            };
            if vnet && is_super(frame) {
                self.counts.tun_super_reads += 1;
            }
            let local = self.local_address;
            let verdict = if vnet {
                downstream_offload(&self.table, frame, local, tick, &mut self.out)
            } else {
                downstream(&self.table, frame, local, tick, &mut self.out)
            };
            match verdict {
                DownVerdict::ToPeer { peer, count } => self.deliver(fd, peer, count),
                DownVerdict::IcmpToTun => {
                    self.shared.drops.count(DropReason::TooBigDf);
                    if self.tun.send(self.out.icmp()).is_err() {
                        self.counts.tun_errors += 1;
                    }
                }
                DownVerdict::Drop(reason) => {
                    self.shared.drops.count(reason);
                    debug!(worker = self.index, ?reason, "downstream drop");
                    if let (DropReason::NoSessionForDestination, Some(u)) =
                        (reason, self.unreachables.as_mut())
                    {
                        let ip = if vnet {
                            frame.get(VNET_HDR_LEN..).unwrap_or_default()
                        } else {
                            frame
                        };
                        host_unreachable(u, &mut self.tun, &mut self.counts, ip, tick);
                    }
                }
            }
        }
        if let Some(tx) = &mut self.tx {
            if !tx.is_empty() {
                let s = tx.flush(fd);
                self.counts.udp_errors += s.errors as u64;
            }
        }
        Ok(read >= BURST)
    }

    /// The datagrams of a `ToPeer` verdict in `self.out`: through the
    /// session's policy (garden, snoop, bucket) if it has one, then out.
    fn deliver(&mut self, fd: std::os::fd::RawFd, peer: SocketAddr, count: usize) {
        if !self.policies.is_empty() {
            if let Some(k) = self.out.session() {
                let (table, out) = (&self.table, &mut self.out);
                match self.policies.downstream(k, peer, ENCAP_LEN, table, out) {
                    policy::Verdict::Pass => {}
                    policy::Verdict::Taken { dropped } => {
                        for _ in 0..dropped {
                            self.shared.drops.count(DropReason::Throttled);
                        }
                        return;
                    }
                    // Downstream is never refused (the garden filters what
                    // the subscriber sends).
                    policy::Verdict::Refused => return,
                }
            }
        }
        self.counts.down += count as u64;
        let encap = count.saturating_mul(ENCAP_LEN);
        self.counts.down_bytes += self.out.bytes().len().saturating_sub(encap) as u64;
        self.send_out(fd, peer);
    }

    /// Queue (or send) the datagrams of the last downstream verdict: with
    /// UDP GSO, each run of equal-sized datagrams (a segmented super-packet)
    /// is one entry that the kernel cuts apart.
    fn send_out(&mut self, fd: std::os::fd::RawFd, peer: SocketAddr) {
        match (&mut self.tx, peer) {
            (Some(tx), SocketAddr::V4(to)) => {
                let queue = |tx: &mut SendBatch, full: bool, errors: &mut u64| {
                    if full {
                        *errors += tx.flush(fd).errors as u64;
                    }
                };
                if self.gso {
                    for b in self.out.gso_batches() {
                        let full = if b.count >= 2 {
                            self.counts.gso_sends += 1;
                            tx.push_segmented(b.bytes, to, b.segment)
                        } else {
                            tx.push(b.bytes, to)
                        };
                        queue(tx, full, &mut self.counts.udp_errors);
                    }
                } else {
                    for d in self.out.datagrams() {
                        let full = tx.push(d, to);
                        queue(tx, full, &mut self.counts.udp_errors);
                    }
                }
            }
            _ => {
                for d in self.out.datagrams() {
                    if self.udp.send_to(d, peer).is_err() {
                        self.counts.udp_errors += 1;
                    }
                }
            }
        }
    }
}

/// icmp_rate: answer a packet no session owns, if this worker's share of
/// the rate allows.
fn host_unreachable(
    u: &mut HostUnreachables,
    tun: &mut Tun,
    counts: &mut Counts,
    ip: &[u8],
    tick: u64,
) {
    let limited = u.limited;
    match u.answer(ip, tick) {
        Some(icmp) => {
            counts.icmp_unreachables += 1;
            if tun.send(icmp).is_err() {
                counts.tun_errors += 1;
            }
        }
        None => counts.icmp_unreachables_limited += u.limited - limited,
    }
}

/// An interrupted receive ends the burst like an empty queue does.
fn not_interrupted<T>(r: io::Result<T>, empty: T) -> io::Result<T> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(empty),
        r => r,
    }
}

/// The upstream half's borrows, split from the receive buffers.
struct Up<'a> {
    policies: &'a mut policy::Policies,
    table: &'a SessionTable,
    coalescer: Option<&'a mut Coalescer>,
    tun: &'a mut Tun,
    to_control: &'a tokio::sync::mpsc::Sender<ControlInput>,
    drops: &'a DropCounters,
    counts: &'a mut Counts,
    tick: u64,
}

impl Up<'_> {
    /// Execute the verdict on one datagram.
    fn one(&mut self, datagram: &mut [u8], from: SocketAddr) {
        // The data plane clamps TCP MSS in place, so it gets the buffer mutably.
        match upstream_clamp_mss(self.table, datagram, from, self.tick) {
            UpVerdict::ToTun(packet, key) => {
                if !self.policies.is_empty() {
                    match self.policies.upstream(key, packet, self.table) {
                        policy::Verdict::Pass => {}
                        policy::Verdict::Taken { dropped } => {
                            if dropped > 0 {
                                self.drops.count(DropReason::Throttled);
                            }
                            return;
                        }
                        policy::Verdict::Refused => {
                            self.drops.count(DropReason::Gardened);
                            return;
                        }
                    }
                }
                self.counts.up += 1;
                self.counts.up_bytes += packet.len() as u64;
                // Segments merge only within one session.
                match self.coalescer.as_deref_mut() {
                    Some(c) => {
                        let (tun, counts) = (&mut *self.tun, &mut *self.counts);
                        c.push(key, packet, &mut |frame: &[u8]| {
                            write_frame(tun, counts, frame)
                        });
                    }
                    None => {
                        if self.tun.send(packet).is_err() {
                            self.counts.tun_errors += 1;
                        }
                    }
                }
            }
            UpVerdict::ToControl => {
                self.counts.to_control += 1;
                let msg = ControlInput::Datagram {
                    from,
                    bytes: datagram.to_vec(),
                };
                if self.to_control.try_send(msg).is_err() {
                    self.drops.count(DropReason::ControlQueueFull);
                    debug!(%from, "control queue full: datagram dropped");
                }
            }
            UpVerdict::Drop(reason) => {
                self.drops.count(reason);
                debug!(%from, ?reason, "upstream drop");
            }
        }
    }

    /// End of a burst: write the frame the coalescer still holds.
    fn flush(&mut self) {
        if let Some(c) = self.coalescer.as_deref_mut() {
            let (tun, counts) = (&mut *self.tun, &mut *self.counts);
            c.flush(&mut |frame: &[u8]| write_frame(tun, counts, frame));
        }
    }
}

/// A TUN frame whose virtio-net header asks for segmentation (a TSO/USO
/// super-packet read, or a merged frame written).
fn is_super(frame: &[u8]) -> bool {
    VnetHdr::parse(frame).is_ok_and(|h| h.gso_type != GSO_NONE)
}

/// Write one frame from the coalescer to the TUN.
fn write_frame(tun: &mut Tun, counts: &mut Counts, frame: &[u8]) {
    counts.tun_frames += 1;
    if is_super(frame) {
        counts.tun_merged_writes += 1;
    }
    if tun.send_frame(frame).is_err() {
        counts.tun_errors += 1;
    }
}

/// Pin the calling thread to one CPU (best effort: a cpuset that excludes
/// it leaves the thread where the scheduler puts it, and says so).
pub fn pin_to_core(core: usize) {
    // SAFETY: cpu_set_t is plain data; CPU_SET writes inside it; the call
    // concerns only the calling thread (pid 0).
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        tracing::warn!(
            core,
            "cannot pin data-plane worker: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// The CPUs this process may run on (its affinity mask), in order.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data filled by the kernel for this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|c| libc::CPU_ISSET(*c, &set))
            .collect()
    }
}
