//! The daemon: loads the configuration, opens the UDP sockets and the TUN
//! queues (one of each per data-plane worker), starts the workers and runs the control plane's event
//! loop (datagrams from the workers, timers, signals).

pub mod cli_debug;
pub mod cli_io;
pub mod clock;
pub mod control;
pub mod fast_lines;
pub mod fast_sessions;
mod fast_slots;
pub mod fastpath;
pub mod id_pool;
pub mod io_driver;
mod kernel_loss;
pub mod logging;
pub mod metrics;
pub mod nsctl_io;
pub mod radius_io;
pub mod reload;
pub mod session_hook;
pub mod settings;
pub mod speed;
pub mod state_file;
pub mod stats;
mod systemd;
pub mod teardown;
pub mod usage_file;
pub mod workers;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{error, info, warn};

use crate::auth::secrets_file::SecretsFileAuth;
use crate::config::startup::LogTarget;
use crate::config::Config;
use crate::dataplane::drop_reason::DropCounters;
use crate::dataplane::unreachable::HostUnreachables;
use crate::pool::AddressPool;

use self::clock::Clock;
use self::control::command::{Command, Origin};
use self::control::ControlPlane;
use self::workers::{udp_options, Batching, Shared, UdpOffload, Worker, WorkerStats};
use crate::tun::Tun;

pub const L2TP_PORT: u16 = 1701;

/// What the workers hand the control plane.
pub enum ControlInput {
    Datagram {
        from: SocketAddr,
        bytes: Vec<u8>,
    },
    /// A reply on RADIUS client socket `socket`.
    Radius {
        socket: usize,
        from: SocketAddr,
        bytes: Vec<u8>,
    },
    /// A Disconnect/CoA request on the DAE port.
    Dae {
        from: SocketAddr,
        bytes: Vec<u8>,
    },
    /// An nsctl request on UDP 1702.
    Nsctl {
        from: SocketAddr,
        bytes: Vec<u8>,
    },
    /// A command from a CLI connection.
    Cli(Box<cli_io::CliCommand>),
}

/// Command-line options (the binary parses them with clap).
#[derive(Debug, Clone)]
pub struct Options {
    pub config: PathBuf,
    pub extra_verbosity: u32,
    pub hostname: Option<String>,
    pub detach: bool,
}

/// Load and check everything that can fail before touching the system, so a
/// bad file stops the daemon with one clear message.
pub struct Loaded {
    pub cfg: Config,
    pub pool: AddressPool,
    pub pool_routes: Vec<ipnetwork::Ipv4Network>,
    /// The embedded authentication; None when RADIUS is configured.
    pub auth: Option<SecretsFileAuth>,
}

/// The startup-config with the command line's overrides (-v, -h).
pub(crate) fn read_config(opts: &Options) -> Result<Config, String> {
    let mut cfg = Config::load(&opts.config).map_err(|e| e.to_string())?;
    if opts.extra_verbosity > 0 {
        cfg.debug = (u32::from(cfg.debug) + opts.extra_verbosity).min(5) as u8;
    }
    if let Some(h) = &opts.hostname {
        cfg.hostname = h.clone();
    }
    Ok(cfg)
}

pub fn load(opts: &Options) -> Result<Loaded, String> {
    let cfg = read_config(opts)?;
    let (pool, pool_routes) = settings::load_pool(&cfg)?;
    let auth = settings::local_auth(&cfg)?;
    Ok(Loaded {
        cfg,
        pool,
        pool_routes,
        auth,
    })
}

pub fn run(opts: Options) -> Result<(), String> {
    let Loaded {
        cfg,
        pool,
        pool_routes,
        auth,
    } = load(&opts)?;
    let log_target = cfg.log_target();
    logging::init(
        u32::from(cfg.debug),
        match &log_target {
            LogTarget::Stderr => logging::Target::Stdout,
            LogTarget::File(p) => logging::Target::File(p),
            LogTarget::Syslog(f) => logging::Target::Syslog(f),
        },
        cfg.log_format,
    )?;
    for w in &cfg.warnings {
        warn!("{}:{}: {}", w.file.display(), w.line, w.message);
    }
    info!(config = %opts.config.display(), "l2tpns {} starting", env!("CARGO_PKG_VERSION"));
    for (line, what) in cfg.not_implemented() {
        warn!(
            "{}:{line}: {what}: accepted, not implemented yet (no effect)",
            opts.config.display()
        );
    }
    let authentication = match (&auth, cfg.primary_radius) {
        (Some(a), _) => a.describe(),
        (None, Some(r)) => {
            format!("RADIUS at {r} (ppp_secrets_file not used while primary_radius is set)")
        }
        (None, None) => "none".into(),
    };
    info!(
        addresses = pool.len(),
        "ip pool loaded; authentication: {authentication}"
    );
    if opts.detach {
        // SAFETY: called before any thread is started.
        if unsafe { libc::daemon(0, 0) } != 0 {
            return Err(format!("detach: {}", std::io::Error::last_os_error()));
        }
    }
    if !cfg.pid_file.is_empty() {
        let p = &cfg.pid_file;
        std::fs::write(p, format!("{}\n", std::process::id()))
            .map_err(|e| format!("pid_file {p}: {e}"))?;
    }

    // Signal handlers before anything that says we are up (the TUN, "listening
    // for L2TP"): a SIGUSR1 or SIGHUP that arrives earlier would otherwise
    // take its default action and end the process.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let signals = {
        let _in_runtime = rt.enter();
        Signals::install()?
    };
    let started = (Instant::now(), std::time::SystemTime::now());
    let metrics_listener = cfg.metrics_address.map(metrics::bind).transpose()?;

    let tun_addr = settings::tun_address(&cfg);
    let mtu = settings::mru(&cfg);
    let n_workers = data_workers(cfg.data_workers);
    let allowed_cpus = workers::allowed_cpus();
    let batching = Batching::from_config(cfg.data_batch);
    let (tuns, tun_offload) = Tun::open_queues(&cfg.tundevicename, n_workers, cfg.data_offload)
        .map_err(|e| format!("TUN {}: {e}", cfg.tundevicename))?;
    let Some(tun) = tuns.first() else {
        return Err(format!("TUN {}: no queue", cfg.tundevicename));
    };
    tun.configure(tun_addr, u32::from(mtu))
        .map_err(|e| format!("TUN {}: {e}", tun.name()))?;
    if let Err(e) = tun.accept_local() {
        warn!("{}: cannot set accept_local ({e}): ICMP fragmentation-needed for small-MRU sessions will be dropped by the kernel", tun.name());
    }
    for net in &pool_routes {
        tun.add_route(net.network(), net.prefix())
            .map_err(|e| format!("route {net} via {}: {e}", tun.name()))?;
    }
    info!(dev = tun.name(), address = %tun_addr, mtu, queues = tuns.len(), "TUN device up");
    let steering = downstream_steering(tun, n_workers);
    let fast = fast_sessions::start(&cfg, tun)?;

    let bind = SocketAddrV4::new(cfg.bind_address.unwrap_or(Ipv4Addr::UNSPECIFIED), L2TP_PORT);
    let udps = (0..n_workers)
        .map(|_| udp_socket(bind, n_workers > 1))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("UDP {bind}: {e}"))?;
    info!(%bind, sockets = udps.len(), "listening for L2TP");
    let udp_offload = udp_offloads(&udps, cfg.data_offload, batching);
    let loss = kernel_loss::KernelLoss::new(&udps, &cfg.tundevicename);
    if n_workers > 1 {
        // Spread sessions, not LAC addresses, over the workers.
        if let Some(first) = udps.first() {
            match udp_options::attach_tunnel_spread(first.as_raw_fd(), n_workers as u32) {
                Ok(()) => {
                    info!("data plane: sessions spread over workers by tunnel and session id (reuseport BPF)")
                }
                Err(e) => warn!("reuseport BPF refused ({e}): LACs spread by address and port"),
            }
        }
    }

    let clock = Arc::new(Clock::new(Instant::now()));
    let drops = Arc::new(DropCounters::new());
    let wstats = Arc::new(WorkerStats::new(n_workers));
    let hook_stats = Arc::new(session_hook::HookStats::default());
    let scrapes = match metrics_listener {
        Some(listener) => {
            let (tx, scrapes) = metrics::channel();
            let data = metrics::DataSources {
                workers: wstats.clone(),
                drops: drops.clone(),
                loss: kernel_loss::KernelLoss::new(&udps, &cfg.tundevicename),
                hooks: hook_stats.clone(),
                fast: fast.as_ref().map(|f| f.stats.clone()),
                started: started.0,
                start_time: started.1,
            };
            metrics::spawn(listener, tx, data)?;
            scrapes
        }
        None => metrics::Scrapes::off(),
    };
    let (ctl_tx, ctl_rx) = tokio::sync::mpsc::channel::<ControlInput>(65536);
    let radius_tx = ctl_tx.clone();
    let nsctl_tx = ctl_tx.clone();
    let cli_tx = ctl_tx.clone();
    // The control plane sends through a clone of worker 0's socket and
    // writes through a clone of its TUN queue: a socket of its own would be
    // one more member of the SO_REUSEPORT group and receive a share of the
    // LACs' traffic that nobody reads; a TUN queue of its own would be
    // handed downstream flows. It receives only what the workers pass on.
    let (ctl_udp, ctl_tun) = match (udps.first(), tuns.first()) {
        (Some(u), Some(t)) => (
            u.try_clone().map_err(|e| e.to_string())?,
            t.try_clone().map_err(|e| e.to_string())?,
        ),
        _ => return Err("no data-plane worker".into()),
    };
    let mut table_senders = Vec::with_capacity(n_workers);
    for (index, (udp, tun)) in udps.into_iter().zip(tuns).enumerate() {
        let (tx, rx) = crossbeam_channel::unbounded();
        table_senders.push(tx);
        let shared = Shared {
            clock: clock.clone(),
            drops: drops.clone(),
            stats: wstats.clone(),
        };
        let w = Worker::new(
            index,
            udp,
            tun,
            rx,
            ctl_tx.clone(),
            tun_addr,
            batching,
            udp_offload,
            Duration::from_micros(u64::from(cfg.data_coalesce_usecs)),
            HostUnreachables::share(cfg.icmp_rate, n_workers, tun_addr),
            workers::policy::Policies::new(tun_addr, cfg.garden_icmp_rate, n_workers)
                .with_no_throttle_local(cfg.no_throttle_local_ip),
            shared,
        )
        .map_err(|e| format!("data-plane worker {index}: {e}"))?;
        // The CPUs we may use (taskset/cpuset), in order: worker i takes the
        // i-th of them, never one outside the inherited mask.
        let cpu = allowed_cpus.get(index % allowed_cpus.len().max(1)).copied();
        std::thread::Builder::new()
            .name(format!("data{index}"))
            .spawn(move || {
                // A worker that migrates between CPUs hands the kernel one
                // session's packets from two CPUs' backlogs: reordering.
                if let Some(cpu) = cpu {
                    workers::pin_to_core(cpu);
                }
                w.run()
            })
            .map_err(|e| e.to_string())?;
    }
    drop(ctl_tx);
    info!(
        workers = n_workers,
        tun_queues = n_workers,
        udp = %batching,
        tun_offload = %tun_offload,
        udp_offload = %udp_offload,
        coalesce_usecs = cfg.data_coalesce_usecs,
        "data plane: {n_workers} worker thread(s), each with its own TUN queue and UDP socket{}",
        if n_workers > 1 { " (SO_REUSEPORT)" } else { "" }
    );

    let settings = settings::control_settings(&cfg, tun_addr);
    let nas_ip = cfg.bind_address.unwrap_or(tun_addr);
    let (aaa, radius_rx, radius_tx_sockets) =
        match radius_io::setup(&cfg, nas_ip, &settings::hostname(&cfg))? {
            Some((a, r, s)) => (Some(a), Some(r), Some(s)),
            None => (None, None, None),
        };
    let (nsctl, nsctl_socket, nsctl_rx) = nsctl_io::bind(&cfg)?;
    let cli_listener = cli_io::bind(&cfg)?;
    let cli_users: cli_io::SharedUsers = Arc::new(std::sync::RwLock::new(cli_io::load_users(&cfg)));
    let mut cp = ControlPlane::new(
        settings,
        pool,
        auth.map(|a| Box::new(a) as Box<dyn crate::auth::Authenticator>),
        aaa,
        clock.clone(),
    );
    let driver = io_driver::IoDriver {
        l2tp: ctl_udp,
        tun: ctl_tun,
        workers: table_senders,
        radius: radius_tx_sockets,
        nsctl: nsctl_socket,
        steering,
        hooks: session_hook::HookRunner::new(hook_stats),
        fast,
        l2tp_batch: workers::udp_batch::SendBatch::new(io_driver::L2TP_BATCH),
    };
    cp.set_nsctl(nsctl);
    cp.set_config(cfg.clone());
    let reloader = reload::Reloader {
        opts: opts.clone(),
        tun_addr,
        cli_users: cli_users.clone(),
    };
    let hostname = settings::hostname(&cfg);
    if let Some(a) = settings::acct_dir(&cfg, started.1) {
        cp.set_accounting_dir(a, Instant::now());
    }
    cp.load_plugins(
        Instant::now(),
        &crate::config::Statement::plugins(&cfg.statements),
    );
    restore_saved_state(&mut cp, &cfg);
    let result = rt.block_on(async move {
        if let Some(r) = radius_rx {
            radius_io::spawn(r, radius_tx)?;
        }
        nsctl_io::spawn(nsctl_rx, nsctl_tx)?;
        cli_io::spawn(cli_listener, cli_users, hostname, cli_tx)?;
        cp.start(Instant::now());
        control_loop(
            cp, driver, ctl_rx, clock, drops, wstats, loss, signals, scrapes, reloader,
        )
        .await
    });
    if !cfg.pid_file.is_empty() {
        let _ = std::fs::remove_file(&cfg.pid_file);
    }
    result
}

/// With several workers, each session's downstream packets go to the
/// worker that has its upstream (the TUN steering program); without it the
/// kernel spreads them by flow hash, and per-session state in a worker
/// (packet_limit, later throttling) sees only its share.
fn downstream_steering(tun: &Tun, workers: usize) -> Option<io_driver::Steering> {
    if workers < 2 {
        return None;
    }
    // Session addresses and Framed-Routes; entries take memory only when used.
    const MAX_ENTRIES: u32 = 1 << 22;
    let attached = workers::tun_steering::SteeringMap::create(MAX_ENTRIES)
        .and_then(|m| m.attach(tun.as_raw_fd()).map(|()| m));
    match attached {
        Ok(map) => {
            info!("data plane: each session's downstream steered to the worker of its upstream (TUN steering eBPF)");
            Some(io_driver::Steering::new(map, workers as u32))
        }
        Err(e) => {
            warn!("TUN steering eBPF refused ({e}): downstream packets spread over the workers by flow hash, so a session's two directions may take two workers (set data_workers 1 to keep them on one)");
            None
        }
    }
}

/// UDP GRO and GSO when `data_offload` is on, the kernel has them and the
/// workers batch (GRO's segment size comes in a control message, which only
/// the recvmmsg path reads). GRO only with one worker: the reuseport BPF
/// picks a worker by the first datagram of a GRO batch, and a batch may
/// hold datagrams of several sessions of one LAC, so a session's packets
/// could go to two workers and overtake each other. With several workers
/// spreading the sessions wins; the coalescer still merges the TCP
/// segments that one recvmmsg burst brings.
fn udp_offloads(udps: &[UdpSocket], wanted: bool, batching: Batching) -> UdpOffload {
    if !wanted || batching == Batching::Plain {
        return UdpOffload::default();
    }
    let gso = udps
        .iter()
        .all(|u| udp_options::gso_supported(u.as_raw_fd()));
    if udps.len() > 1 {
        return UdpOffload { gro: false, gso };
    }
    // All or none: a worker that does not expect coalesced receives would
    // take several datagrams for one.
    let refused = udps
        .iter()
        .filter_map(|u| udp_options::set_gro(u.as_raw_fd(), true).err())
        .next();
    let gro = match refused {
        None => true,
        Some(e) => {
            warn!("UDP GRO refused ({e}): one datagram per receive");
            for u in udps {
                let _ = udp_options::set_gro(u.as_raw_fd(), false);
            }
            false
        }
    };
    let gso = udps
        .iter()
        .all(|u| udp_options::gso_supported(u.as_raw_fd()));
    UdpOffload { gro, gso }
}

/// `data_workers`: 0 is one per core; at most 64.
fn data_workers(configured: u32) -> usize {
    let n = match configured {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n as usize,
    };
    n.clamp(1, 64)
}

/// One socket of the L2TP port. `shared`: a member of an SO_REUSEPORT
/// group, where the kernel hashes each sender's 4-tuple to one member.
fn udp_socket(bind: SocketAddrV4, shared: bool) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    if shared {
        s.set_reuse_port(true)?;
    }
    // Bursts of logins and traffic must not overflow the default 200 KiB.
    // As root, the FORCE options pass net.core.rmem_max/wmem_max (a lost
    // control datagram costs its session a 1-3 s retransmission).
    const BUFFER: libc::c_int = 8 << 20;
    let fd = s.as_raw_fd();
    if udp_options::set_buffer_force(fd, libc::SO_RCVBUFFORCE, BUFFER).is_err() {
        if let Err(e) = s.set_recv_buffer_size(BUFFER as usize) {
            warn!("L2TP socket receive buffer: {e}");
        }
    }
    if udp_options::set_buffer_force(fd, libc::SO_SNDBUFFORCE, BUFFER).is_err() {
        if let Err(e) = s.set_send_buffer_size(BUFFER as usize) {
            warn!("L2TP socket send buffer: {e}");
        }
    }
    s.bind(&bind.into())?;
    Ok(s.into())
}

/// The signals the control loop answers, registered at start-up.
struct Signals {
    quit: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    usr1: tokio::signal::unix::Signal,
}

impl Signals {
    /// Must run inside the runtime (`Runtime::enter`).
    fn install() -> Result<Signals, String> {
        use tokio::signal::unix::{signal, SignalKind};
        let sig = |k| signal(k).map_err(|e| format!("signal handler: {e}"));
        Ok(Signals {
            quit: sig(SignalKind::quit())?,
            term: sig(SignalKind::terminate())?,
            int: sig(SignalKind::interrupt())?,
            hup: sig(SignalKind::hangup())?,
            usr1: sig(SignalKind::user_defined1())?,
        })
    }
}

#[allow(clippy::too_many_arguments)]
async fn control_loop(
    mut cp: ControlPlane,
    mut driver: io_driver::IoDriver,
    mut rx: tokio::sync::mpsc::Receiver<ControlInput>,
    clock: Arc<Clock>,
    drops: Arc<DropCounters>,
    wstats: Arc<WorkerStats>,
    loss: kernel_loss::KernelLoss,
    signals: Signals,
    mut scrapes: metrics::Scrapes,
    reloader: reload::Reloader,
) -> Result<(), String> {
    let Signals {
        mut quit,
        mut term,
        mut int,
        mut hup,
        mut usr1,
    } = signals;
    let mut shutdown_by: Option<Instant> = None;
    let mut last_report = Instant::now();
    let mut watchdog = systemd::Watchdog::from_env();
    let mut meter = speed::SpeedMeter::default();
    let mut listings = Listings::new();
    systemd::ready();
    loop {
        let now = Instant::now();
        clock.update(now);
        cp.handle_timeouts(now);
        if let Some(f) = driver.fast.as_mut() {
            f.stamp_activity(now, clock.tick());
        }
        // What the last pass (input, signals, timers) queued goes out now.
        driver.drain(&mut cp);
        if cp.state_saved() {
            // Written (or the failure logged) by the drain above; the
            // peers are told nothing: the next start takes over.
            return Ok(());
        }
        if let Some(by) = shutdown_by {
            if cp.is_idle() || now >= by {
                break;
            }
        }
        if now.duration_since(last_report) >= Duration::from_secs(60) {
            last_report = now;
            driver.refresh_fast_stats();
            report_status(
                &cp,
                &drops,
                &wstats,
                &loss,
                driver.hooks.stats(),
                driver.fast_stats(),
            );
        }
        // dump_speed as the configuration says now (SIGHUP may change it).
        if cp.config().dump_speed {
            if let Some(line) = meter.sample(now, totals(&wstats, driver.fast_stats())) {
                speed::print(&line);
            }
        } else {
            meter = speed::SpeedMeter::default();
        }
        // A listing in progress: one slice per pass, and no sleep while
        // more remain, so other input is served between slices.
        continue_listing(&cp, now, &mut listings);
        let wake = if listings.is_empty() {
            cp.wake_deadline(now)
        } else {
            now
        };
        let deadline = tokio::time::Instant::from_std(wake);
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else {
                    error!("data plane stopped");
                    return Err("data plane stopped".into());
                };
                let now = Instant::now();
                clock.update(now);
                handle_input(&mut cp, now, msg, &wstats, driver.fast_stats(), &mut listings);
                // Drain what is already queued before looking at timers again.
                for _ in 0..1024 {
                    match rx.try_recv() {
                        Ok(m) => handle_input(&mut cp, now, m, &wstats, driver.fast_stats(), &mut listings),
                        Err(_) => break,
                    }
                }
            }
            _ = tokio::time::sleep_until(deadline) => {}
            scrape = scrapes.next() => {
                driver.refresh_fast_stats();
                scrape.answer(&cp)
            }
            _ = quit.recv() => start_shutdown(&mut cp, "SIGQUIT", &mut shutdown_by),
            _ = term.recv() => stop_or_save(&mut cp, "SIGTERM", &mut shutdown_by),
            _ = int.recv() => stop_or_save(&mut cp, "SIGINT", &mut shutdown_by),
            _ = usr1.recv() => {
                driver.refresh_fast_stats();
                report_status(&cp, &drops, &wstats, &loss, driver.hooks.stats(), driver.fast_stats())
            }
            _ = watchdog.due() => watchdog.ping(),
            _ = hup.recv() => {
                systemd::reloading();
                reloader.reload(&mut cp, Origin::Signal("SIGHUP"));
                systemd::ready();
            }
        }
    }
    cp.flush_accounting_dir();
    driver.drain(&mut cp);
    finish_hooks(&cp, &driver.hooks);
    info!(tunnels = cp.tunnel_count(), "shutdown complete");
    Ok(())
}

/// Both paths' totals (the fast path's as of its last refresh).
fn totals(w: &WorkerStats, fast: Option<&fast_sessions::FastStats>) -> speed::Totals {
    use std::sync::atomic::Ordering::Relaxed;
    let [fup, fup_bytes, fdown, fdown_bytes] = fast.map_or([0; 4], |f| f.forwarded());
    speed::Totals {
        up_bytes: w.up_bytes.load(Relaxed) + fup_bytes,
        down_bytes: w.down_bytes.load(Relaxed) + fdown_bytes,
        up_packets: w.up_packets.load(Relaxed) + fup,
        down_packets: w.down_packets.load(Relaxed) + fdown,
        to_control: w.to_control.load(Relaxed),
    }
}

/// A clean shutdown lets the last sessions' `down` runs finish, for at
/// most session_hook_timeout (a stop with save_state does not wait: those
/// sessions carry on in the next process).
fn finish_hooks(cp: &ControlPlane, hooks: &session_hook::HookRunner) {
    let limit = Duration::from_secs(u64::from(cp.config().session_hook_timeout));
    if !hooks.wait_idle(limit) {
        let c = hooks.stats().counts();
        warn!(
            running = c.running,
            queued = c.queued,
            "session_hook: runs still unfinished at exit"
        );
    }
}

/// One log line with the totals (every 60 s, and on SIGUSR1).
fn report_status(
    cp: &ControlPlane,
    drops: &DropCounters,
    w: &WorkerStats,
    loss: &kernel_loss::KernelLoss,
    hooks: &session_hook::HookStats,
    fast: Option<&fast_sessions::FastStats>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let k = loss.snapshot();
    let t = totals(w, fast);
    let [fast_up, _, fast_down, _] = fast.map_or([0; 4], |f| f.forwarded());
    let h = hooks.counts();
    let admission = cp.admission_stats();
    info!(
        tunnels = cp.tunnel_count(),
        tunnels_closing = cp.closing_tunnel_count(),
        sessions = cp.session_count(),
        free_addresses = cp.free_addresses(),
        up_packets = t.up_packets,
        down_packets = t.down_packets,
        fast_path_up_packets = fast_up,
        fast_path_down_packets = fast_down,
        to_control = w.to_control.load(Relaxed),
        drops = ?drops.named().filter(|(_, n)| *n > 0).collect::<Vec<_>>(),
        udp_receive_buffer_full = k.udp_receive_buffer_full,
        tun_queue_full = k.tun_queue_full,
        tun_write_errors = w.tun_write_errors.load(Relaxed),
        udp_send_errors = w.udp_send_errors.load(Relaxed),
        gro_receives = w.gro_receives.load(Relaxed),
        tun_merged_writes = w.tun_merged_writes.load(Relaxed),
        tun_super_reads = w.tun_super_reads.load(Relaxed),
        gso_sends = w.gso_sends.load(Relaxed),
        snoop_sent = w.snoop_sent.load(Relaxed),
        snoop_errors = w.snoop_errors.load(Relaxed),
        garden_redirects = w.garden_redirects.load(Relaxed),
        garden_prohibited = w.garden_prohibited.load(Relaxed),
        garden_prohibited_limited = w.garden_prohibited_limited.load(Relaxed),
        icmp_unreachables = w.icmp_unreachables.load(Relaxed),
        icmp_unreachables_limited = w.icmp_unreachables_limited.load(Relaxed),
        worker_up = %per_worker(&w.worker_up),
        worker_down = %per_worker(&w.worker_down),
        control = ?cp.stats,
        sccrq_rate_limited = admission.sccrq_rate_limited,
        source_tunnel_limit = admission.source_tunnel_limit,
        refusals_sent = admission.refusals_sent,
        refusals_unanswered = admission.refusals_unanswered,
        nsctl_malformed = cp.nsctl_counters().malformed(),
        radius = cp.radius_stats().unwrap_or_default(),
        hooks_started = h.started,
        hooks_succeeded = h.succeeded,
        hooks_failed = h.failed,
        hooks_timed_out = h.timed_out,
        hooks_failed_to_start = h.failed_to_start,
        hooks_dropped = h.dropped,
        hooks_running = h.running,
        hooks_queued = h.queued,
        "status"
    );
}

/// Per-worker counters as "a/b/c" (one field, no spaces).
fn per_worker(v: &[std::sync::atomic::AtomicU64]) -> String {
    let n: Vec<String> = v
        .iter()
        .map(|a| a.load(std::sync::atomic::Ordering::Relaxed).to_string())
        .collect();
    n.join("/")
}

fn start_shutdown(cp: &mut ControlPlane, signal: &'static str, by: &mut Option<Instant>) {
    if by.is_none() {
        info!("{signal}: closing every tunnel");
        systemd::stopping();
        let now = Instant::now();
        cp.execute(now, Origin::Signal(signal), Command::Shutdown);
        // StopCCN is retransmitted for a while; don't wait forever for acks.
        *by = Some(now + Duration::from_secs(10));
    }
}

/// SIGTERM and SIGINT: with save_state, save everything and stop without
/// telling any peer; without, the clean shutdown of SIGQUIT.
fn stop_or_save(cp: &mut ControlPlane, signal: &'static str, by: &mut Option<Instant>) {
    if !cp.config().save_state || by.is_some() {
        return start_shutdown(cp, signal, by);
    }
    systemd::stopping();
    let reply = cp.execute(Instant::now(), Origin::Signal(signal), Command::SaveState);
    info!("{signal}: {reply:?}");
}

/// With save_state, take back what the last stop saved (the file is gone
/// afterwards); without, set a leftover file aside so that it can never
/// be restored stale later.
fn restore_saved_state(cp: &mut ControlPlane, cfg: &Config) {
    let path = &cfg.state_file;
    if !cfg.save_state {
        if path.exists() {
            state_file::set_aside(path, "save_state is no");
        }
        return;
    }
    let identity = state_file::Identity::of(cfg, &cp.ppp_settings());
    let Some(loaded) = state_file::load(path, &identity) else {
        return;
    };
    let started = Instant::now();
    let done = cp.restore_state(started, loaded.state, loaded.downtime);
    info!(
        tunnels = done.tunnels,
        sessions = done.sessions,
        calls_dropped = done.calls_dropped,
        sessions_refused = done.sessions_refused,
        accounting_resent = done.accounting_resent,
        downtime_ms = loaded.downtime.as_millis() as u64,
        restore_ms = started.elapsed().as_secs_f64() * 1000.0,
        "state restored"
    );
}

/// CLI listings in progress, produced a slice per pass of the control loop.
type Listings = std::collections::VecDeque<(
    control::cli::SessionListing,
    tokio::sync::mpsc::UnboundedSender<cli_io::CliChunk>,
)>;

/// One slice of the oldest listing; the finished one is answered and dropped.
fn continue_listing(cp: &ControlPlane, now: Instant, listings: &mut Listings) {
    let Some((listing, reply)) = listings.front_mut() else {
        return;
    };
    let (lines, done) = cp.listing_slice(now, listing);
    let gone = reply.send(cli_io::CliChunk::Lines(lines)).is_err();
    if done || gone {
        let _ = reply.send(cli_io::CliChunk::Done(crate::cli::Outcome::Done));
        listings.pop_front();
    }
}

fn handle_input(
    cp: &mut ControlPlane,
    now: Instant,
    msg: ControlInput,
    w: &WorkerStats,
    fast: Option<&fast_sessions::FastStats>,
    listings: &mut Listings,
) {
    match msg {
        ControlInput::Cli(c) => {
            let traffic = totals(w, fast);
            match cp.cli_command(now, &c, traffic) {
                control::cli::CliAnswer::Now(lines, outcome) => {
                    let _ = c.reply.send(cli_io::CliChunk::Lines(lines));
                    let _ = c.reply.send(cli_io::CliChunk::Done(outcome));
                }
                control::cli::CliAnswer::Sessions(l) => listings.push_back((l, c.reply)),
            }
        }
        ControlInput::Datagram { from, bytes } => cp.handle_datagram(now, from, &bytes),
        ControlInput::Radius {
            socket,
            from,
            bytes,
        } => cp.handle_radius_datagram(now, socket, from, &bytes),
        ControlInput::Dae { from, bytes } => cp.handle_dae(now, from, &bytes),
        ControlInput::Nsctl { from, bytes } => cp.handle_nsctl(now, from, &bytes),
    }
}
