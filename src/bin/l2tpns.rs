//! `l2tpns [-d] [-v...] [-c FILE] [-h HOSTNAME]`, like l2tpns 2.4.1, except
//! that it stays in the foreground unless -d is given (for init and systemd).

use clap::Parser;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "l2tpns",
    version,
    about = "L2TP Network Server",
    disable_help_flag = true
)]
struct Args {
    /// Detach from the terminal and run in the background.
    #[arg(short = 'd')]
    detach: bool,
    /// More verbose logging (adds to the configured debug level); repeat for more.
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    verbose: u8,
    /// The startup-config file.
    #[arg(short = 'c', default_value = "/etc/l2tpns/startup-config")]
    config: PathBuf,
    /// Force the host name (Host Name AVP, CHAP name).
    #[arg(short = 'h')]
    hostname: Option<String>,
    /// Print help.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
}

fn main() {
    let a = Args::parse();
    let opts = l2tpns::daemon::Options {
        config: a.config,
        extra_verbosity: u32::from(a.verbose),
        hostname: a.hostname,
        detach: a.detach,
    };
    if let Err(e) = l2tpns::daemon::run(opts) {
        eprintln!("l2tpns: {e}");
        std::process::exit(1);
    }
}
