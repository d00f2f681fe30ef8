//! l2tpns-loadgen: emulate a LAC with PPP clients against an LNS, check every
//! session end to end and print a one-line summary. Exit 0 on PASS.

use clap::{Parser, ValueEnum};
use l2tpns::loadgen::{LoadGen, Options};
use l2tpns::ppp::server::AuthProto;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

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
struct Args {
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
    /// DNS servers every session must receive, comma separated ("" = none).
    #[arg(long, default_value = "", value_delimiter = ',')]
    expect_dns: Vec<String>,
    #[arg(long)]
    seed: Option<u64>,
    /// Keep the sessions up this many seconds after the pings, answering echo requests.
    #[arg(long, default_value_t = 0)]
    hold: u64,
    /// MRU the emulated clients announce.
    #[arg(long, default_value_t = 1500)]
    mru: u16,
    #[arg(short, long)]
    verbose: bool,
}

fn main() {
    let a = Args::parse();
    let mut expect_dns = Vec::new();
    for d in a.expect_dns.iter().filter(|d| !d.is_empty()) {
        match d.parse::<Ipv4Addr>() {
            Ok(ip) => expect_dns.push(ip),
            Err(e) => {
                eprintln!("--expect-dns {d}: {e}");
                std::process::exit(2);
            }
        }
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
        mru: a.mru,
    };
    let lg = match LoadGen::new(opts) {
        Ok(lg) => lg,
        Err(e) => {
            eprintln!("l2tpns-loadgen: {e}");
            std::process::exit(2);
        }
    };
    let summary = lg.run();
    for f in summary.failures.iter().take(20) {
        println!("FAILURE {f}");
    }
    if summary.failures.len() > 20 {
        println!("FAILURE ... and {} more", summary.failures.len() - 20);
    }
    println!("{}", summary.line());
    std::process::exit(if summary.passed() { 0 } else { 1 });
}
