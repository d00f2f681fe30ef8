//! nsctl: send one command to a running l2tpns over UDP (port 1702) and print
//! the answer. Same command line, output and exit codes as Debian's
//! `/usr/sbin/nsctl` from l2tpns 2.4.1:
//!
//! `nsctl [-d] [-h host[:port]] [-t timeout] command [arg …]`
//!
//! The protocol and the printing live in `l2tpns::nsctl::client`; this file
//! only does the socket and the streams.

use std::ffi::OsString;
use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::process::ExitCode;

use l2tpns::nsctl::client::{self, CliError, Invocation, EXIT_FAIL};
use l2tpns::nsctl::wire::{Packet, Request, RequestKind, MAX_PACKET};

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    let me = program_name(args.next());
    let raw: Vec<OsString> = args.collect();
    // nsctl sends argv bytes; ours sends UTF-8 only (reported at packing).
    let utf8 = raw.iter().all(|a| a.to_str().is_some());
    let argv: Vec<String> = raw
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let code = run(&me, &argv, utf8);
    ExitCode::from(code as u8)
}

fn program_name(argv0: Option<OsString>) -> String {
    let argv0 = argv0
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    match argv0.rsplit_once('/') {
        Some((_, name)) => name.to_string(),
        None => argv0,
    }
}

fn run(me: &str, argv: &[String], utf8: bool) -> i32 {
    let inv = match client::parse_command_line(argv) {
        Ok(inv) => inv,
        Err(CliError::Usage) => {
            eprint!("{}", client::usage(me));
            return EXIT_FAIL;
        }
        Err(e @ CliError::InvalidPort(_)) => {
            eprintln!("{me}: {e}");
            return EXIT_FAIL;
        }
    };
    let request = client::request_for(&inv.command);
    if request.kind == RequestKind::Help {
        print!("{}", client::builtin_help());
    }
    let mut buf = [0u8; MAX_PACKET];
    let reply = match exchange(&inv, &request, utf8, &mut buf) {
        Ok(n) => &buf[..n],
        Err(message) => {
            eprintln!("{me}: {message}");
            return EXIT_FAIL;
        }
    };
    match client::check_reply(reply) {
        Ok(p) => {
            if inv.debug > 0 {
                eprint_bytes(b"Received ", &client::dump(&p));
            }
            let printed = client::render_reply(&p);
            let _ = io::stdout().write_all(&printed.stdout);
            let _ = io::stdout().flush();
            let _ = io::stderr().write_all(&printed.stderr);
            printed.exit
        }
        Err(e) => {
            eprintln!("{me}: {}", client::reply_error(&e));
            EXIT_FAIL
        }
    }
}

/// Sends the request and waits for one datagram; on failure, nsctl's message.
fn exchange(
    inv: &Invocation,
    request: &Request,
    utf8: bool,
    buf: &mut [u8],
) -> Result<usize, String> {
    let peer =
        resolve(&inv.host, inv.port).ok_or_else(|| format!("invalid host `{}'", inv.host))?;
    let sock = UdpSocket::bind("0.0.0.0:0")
        .map_err(|e| format!("can't create udp socket ({})", strerror(&e)))?;
    sock.connect(peer)
        .map_err(|e| format!("udp connect failed ({})", strerror(&e)))?;
    let bytes = match request.to_bytes() {
        Ok(b) if utf8 => b,
        _ => return Err("error packing request".into()),
    };
    if inv.debug > 0 {
        if let Ok(p) = Packet::new_checked(&bytes) {
            eprint_bytes(b"Sending ", &client::dump(&p));
        }
    }
    sock.send(&bytes)
        .map_err(|e| format!("error sending request ({})", strerror(&e)))?;
    sock.set_read_timeout(inv.timeout)
        .map_err(|e| format!("error receiving response ({})", strerror(&e)))?;
    sock.recv(buf).map_err(|e| {
        let why = match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => "timed out".into(),
            _ => strerror(&e),
        };
        format!("error receiving response ({why})")
    })
}

/// First IPv4 address of `host` (nsctl uses `gethostbyname`, IPv4 only).
fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    (host, port)
        .to_socket_addrs()
        .ok()?
        .find(SocketAddr::is_ipv4)
}

/// C's `strerror` text: Rust's message without " (os error N)".
fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(at) => s[..at].to_string(),
        None => s,
    }
}

fn eprint_bytes(prefix: &[u8], body: &[u8]) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(prefix);
    let _ = err.write_all(body);
}
