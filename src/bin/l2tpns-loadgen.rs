//! l2tpns-loadgen: emulate a LAC with PPP clients against an LNS, check every
//! session end to end and print a one-line summary. Exit 0 on PASS.
//! Optionally benchmark traffic through the sessions (--traffic); the
//! `sink` and `source` subcommands are the kernel-side ends of that traffic,
//! run in the LNS's namespace.

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use l2tpns::loadgen::shard::run_all;
use l2tpns::loadgen::sink::{run_sink, SinkOptions};
use l2tpns::loadgen::source::{pool_addresses, run_source, SourceOptions};
use l2tpns::loadgen::traffic::{Direction, TrafficOptions};
use l2tpns::loadgen::tunmode::{parse_route, TunOptions};
use l2tpns::loadgen::Options;
use l2tpns::ppp::server::AuthProto;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TrafficDir {
    Up,
    Down,
    Both,
}

/// How fast: a fixed total rate or as fast as possible.
#[derive(ClapArgs, Debug, Clone)]
struct RateArgs {
    /// Packets per second in total (fixed rate).
    #[arg(long, conflicts_with = "flat_out")]
    rate: Option<f64>,
    /// Send as fast as possible.
    #[arg(long)]
    flat_out: bool,
    /// IP packet size in bytes (64..1500).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(64..=1500))]
    size: u16,
    /// Seconds of traffic.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
}

impl RateArgs {
    fn rate(&self) -> Option<f64> {
        if self.flat_out {
            None
        } else {
            Some(self.rate.unwrap_or(1000.0))
        }
    }
    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration.clamp(0.0, 1e6))
    }
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Receive benchmark traffic (run behind the LNS, e.g. on its TUN address).
    Sink {
        #[arg(long)]
        bind: SocketAddrV4,
        /// Seconds to listen.
        #[arg(long)]
        duration: f64,
        /// Also print one SINK_SOURCE line per source address.
        #[arg(long)]
        per_source: bool,
        /// Read every this many microseconds instead of on each arrival.
        #[arg(long, value_name = "US", default_value_t = 0)]
        rx_interval_us: u64,
    },
    /// Send benchmark traffic to the first N addresses of a pool.
    Source {
        /// The pool, as in ip_pool (comma separated): 10.100.0.0/20
        #[arg(long)]
        to: String,
        #[arg(long)]
        sessions: usize,
        /// Destination UDP port.
        #[arg(long, default_value_t = 9000)]
        port: u16,
        /// Write the packets into a TUN device of this name (made for the
        /// run) so the kernel forwards them as it does a NIC's traffic,
        /// instead of sending them from a local socket.
        #[arg(long, value_name = "NAME")]
        via_tun: Option<String>,
        /// Send to this address instead of the sessions' while SIGUSR1 has
        /// switched the traffic there (SIGUSR2: back). For benches that
        /// compare windows with and without the LNS forwarding
        /// (benches/paired-cost.sh).
        #[arg(long, value_name = "ADDR")]
        decoy_to: Option<Ipv4Addr>,
        #[command(flatten)]
        rate: RateArgs,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Auth {
    Pap,
    Chap,
}

#[derive(Parser, Debug)]
#[command(
    name = "l2tpns-loadgen",
    version,
    about = "LAC + PPP client emulator and load generator for an LNS"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// LNS address.
    #[arg(long, default_value = "127.0.0.1:1701")]
    server: SocketAddr,
    /// Local address to send from.
    #[arg(long, default_value = "0.0.0.0:0")]
    bind: SocketAddr,
    #[arg(long, default_value_t = 1)]
    tunnels: usize,
    #[arg(long, default_value_t = 1)]
    sessions: usize,
    #[arg(long, value_enum, default_value_t = Auth::Chap)]
    auth: Auth,
    /// User names; %d is replaced by the session number.
    #[arg(long, default_value = "user%d")]
    user_pattern: String,
    #[arg(long, default_value_t = 1)]
    first_index: usize,
    /// TX Connect Speed AVP in every ICCN.
    #[arg(long, default_value_t = 100_000_000)]
    connect_speed: u32,
    #[arg(long, default_value = "password")]
    password: String,
    /// L2TP tunnel secret: challenge the LNS and answer its challenge.
    #[arg(long)]
    tunnel_secret: Option<String>,
    /// Hide the Assigned Session ID AVP (needs --tunnel-secret).
    #[arg(long)]
    hide_avps: bool,
    /// Calls in setup at once.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// Ping this address through every session (default: the LNS's PPP address).
    #[arg(long)]
    ping_target: Option<Ipv4Addr>,
    /// Echo requests per session.
    #[arg(long, default_value_t = 1)]
    pings: u32,
    #[arg(long, default_value_t = 56)]
    ping_size: usize,
    /// Percent of control packets lost, each direction.
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Percent of control packets delayed behind the next one, each direction.
    #[arg(long, default_value_t = 0.0)]
    reorder: f64,
    /// Seconds allowed for setup.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// DNS servers every session must receive, comma separated ("" = none);
    /// without this option DNS is not checked.
    #[arg(long)]
    expect_dns: Option<String>,
    #[arg(long)]
    seed: Option<u64>,
    /// Keep the sessions up this many seconds after the pings, answering echo requests.
    #[arg(long, default_value_t = 0)]
    hold: u64,
    /// Pings a second while holding, then a last one per session (needs --hold).
    #[arg(long, value_name = "PPS", default_value_t = 0.0)]
    hold_ping_rate: f64,
    /// MRU the emulated clients announce.
    #[arg(long, default_value_t = 1500)]
    mru: u16,
    #[arg(short, long)]
    verbose: bool,
    /// Threads, each with its own socket and share of the tunnels.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Benchmark traffic through every session after the pings.
    #[arg(long, value_enum)]
    traffic: Option<TrafficDir>,
    #[command(flatten)]
    rate: RateArgs,
    /// Where upstream traffic goes (a sink behind the LNS).
    #[arg(long)]
    sink: Option<SocketAddrV4>,
    /// UDP source port of upstream traffic.
    #[arg(long, default_value_t = 40000)]
    traffic_port: u16,
    /// After the traffic, wait until nothing has arrived for this many seconds.
    #[arg(long, default_value_t = 1.0)]
    drain: f64,
    /// The LNS's PID: report its CPU time during the traffic.
    #[arg(long)]
    lns_pid: Option<u32>,
    /// During the traffic, read what arrives every this many microseconds
    /// instead of waking on each datagram, so the receiver's cost does not
    /// depend on how the LNS batches its sends (0: on arrival).
    #[arg(long, value_name = "US", default_value_t = 0)]
    rx_interval_us: u64,
    /// Upstream traffic with this inner source address instead of each
    /// session's own: every packet is one the LNS must drop as spoofed.
    #[arg(long, value_name = "ADDR")]
    spoof_source: Option<Ipv4Addr>,
    /// Upstream traffic goes to this port of the LNS's address while
    /// SIGUSR1 has switched it there (SIGUSR2: back to the LNS); every
    /// packet then names its destination. For benches that compare
    /// windows with and without the LNS forwarding (benches/paired-cost.sh).
    #[arg(long, value_name = "PORT")]
    decoy_port: Option<u16>,
    /// Bridge the session to a TUN device of this name while holding
    /// (needs --sessions 1 and --hold).
    #[arg(long)]
    tun: Option<String>,
    /// Route A.B.C.D/LEN into the TUN (default: the LNS's PPP address /32).
    #[arg(long, requires = "tun")]
    tun_route: Option<String>,
    /// Send UDP checksums over IPv4 (default: zero, "none", as the
    /// kernel's L2TP sends by default: `ip l2tp ... udp_csum off`).
    #[arg(long)]
    udp_checksums: bool,
}

/// `--rx-interval-us`, at most a second.
fn rx_interval(us: u64) -> Duration {
    Duration::from_micros(us.min(1_000_000))
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("l2tpns-loadgen: {msg}");
    std::process::exit(2);
}

fn main() {
    let a = Args::parse();
    match a.cmd {
        Some(Cmd::Sink {
            bind,
            duration,
            per_source,
            rx_interval_us,
        }) => {
            let opts = SinkOptions {
                bind,
                duration: Duration::from_secs_f64(duration.clamp(0.0, 1e6)),
                per_source,
                rx_interval: rx_interval(rx_interval_us),
            };
            let st = run_sink(&opts).unwrap_or_else(|e| fail(format!("sink {bind}: {e}")));
            if per_source {
                for l in st.source_lines() {
                    println!("{l}");
                }
            }
            println!("{}", st.line());
            return;
        }
        Some(Cmd::Source {
            to,
            sessions,
            port,
            via_tun,
            decoy_to,
            rate,
        }) => {
            let destinations = pool_addresses(&to, sessions).unwrap_or_else(|e| fail(e));
            let opts = SourceOptions {
                destinations,
                port,
                rate: rate.rate(),
                size: usize::from(rate.size),
                duration: rate.duration(),
                via_tun,
                decoy_to,
            };
            let st = run_source(&opts).unwrap_or_else(|e| fail(format!("source: {e}")));
            println!("{}", st.line());
            return;
        }
        None => {}
    }
    let traffic = a.traffic.map(|d| TrafficOptions {
        direction: match d {
            TrafficDir::Up => Direction::Up,
            TrafficDir::Down => Direction::Down,
            TrafficDir::Both => Direction::Both,
        },
        rate: a.rate.rate(),
        size: usize::from(a.rate.size),
        duration: a.rate.duration(),
        sink: a.sink,
        port: a.traffic_port,
        drain: Duration::from_secs_f64(a.drain.clamp(0.0, 60.0)),
        lns_pid: a.lns_pid,
        rx_interval: rx_interval(a.rx_interval_us),
        spoof_source: a.spoof_source,
        decoy_port: a.decoy_port,
    });
    if let Some(t) = &traffic {
        if t.decoy_port.is_some() && !a.server.is_ipv4() {
            // The switch would otherwise do nothing, and a paired bench
            // would compare two forwarded windows.
            fail("--decoy-port needs an IPv4 --server");
        }
        if t.direction.up() && t.sink.is_none() {
            fail("--traffic up|both needs --sink ADDR:PORT");
        }
    }
    let expect_dns = a.expect_dns.as_deref().map(|list| {
        list.split(',')
            .filter(|d| !d.is_empty())
            .map(|d| {
                d.parse::<Ipv4Addr>().unwrap_or_else(|e| {
                    eprintln!("--expect-dns {d}: {e}");
                    std::process::exit(2)
                })
            })
            .collect::<Vec<_>>()
    });
    let tun = a.tun.as_ref().map(|name| TunOptions {
        name: name.clone(),
        route: a
            .tun_route
            .as_deref()
            .map(|r| parse_route(r).unwrap_or_else(|e| fail(format!("--tun-route {e}")))),
    });
    if tun.is_some() && a.sessions != 1 {
        fail("--tun needs --sessions 1");
    }
    if !(a.hold_ping_rate >= 0.0 && a.hold_ping_rate.is_finite()) {
        fail("--hold-ping-rate must be a number of packets per second, 0 or more");
    }
    if a.hold_ping_rate > 0.0 && (a.hold == 0 || tun.is_some()) {
        // With --tun the kernel behind the device gets the replies.
        fail("--hold-ping-rate needs --hold and does not go with --tun");
    }
    let opts = Options {
        server: a.server,
        bind: a.bind,
        tunnels: a.tunnels,
        sessions: a.sessions,
        auth: match a.auth {
            Auth::Pap => AuthProto::Pap,
            Auth::Chap => AuthProto::Chap,
        },
        user_pattern: a.user_pattern,
        first_index: a.first_index,
        connect_speed: a.connect_speed,
        password: a.password,
        tunnel_secret: a.tunnel_secret,
        hide_avps: a.hide_avps,
        concurrency: a.concurrency,
        ping_target: a.ping_target,
        pings: a.pings,
        ping_size: a.ping_size,
        loss: a.loss / 100.0,
        reorder: a.reorder / 100.0,
        timeout: Duration::from_secs(a.timeout),
        expect_dns,
        seed: a.seed.unwrap_or_else(l2tpns::loadgen::random_seed),
        verbose: a.verbose,
        hold: Duration::from_secs(a.hold),
        hold_ping_rate: a.hold_ping_rate,
        mru: a.mru,
        traffic: traffic.clone(),
        threads: a.threads.max(1),
        tun,
        udp_checksums: a.udp_checksums,
    };
    let summary = run_all(opts).unwrap_or_else(|e| fail(e));
    for f in summary.failures.iter().take(20) {
        println!("FAILURE {f}");
    }
    if summary.failures.len() > 20 {
        println!("FAILURE ... and {} more", summary.failures.len() - 20);
    }
    if let (Some(t), Some(stats)) = (&traffic, &summary.traffic) {
        println!("{}", stats.line(t));
    }
    println!("{}", summary.line());
    std::process::exit(if summary.passed() { 0 } else { 1 });
}
