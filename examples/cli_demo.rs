//! A toy server for trying the CLI engine with a real telnet client:
//! `cargo run --example cli_demo -- 127.0.0.1:2323 [USERS_FILE]`, then
//! `telnet 127.0.0.1 2323`. Blocking std sockets, one thread per
//! connection, and a stub executor that echoes the command it was asked to
//! run. It shows the seam the daemon implements (Docs/CLI.md); it is not
//! the daemon's listener.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;

use l2tpns::cli::{CliRequest, CliSession, LoginPolicy, Outcome};
use l2tpns::config::{load_users, CliUsers};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:2323".into());
    let users = match args.next() {
        Some(p) => load_users(Path::new(&p))?,
        None => CliUsers::default(),
    };
    let users = Arc::new(users);
    let listener = TcpListener::bind(&addr)?;
    eprintln!("cli_demo listening on {addr}");
    for conn in listener.incoming() {
        let conn = conn?;
        let users = users.clone();
        std::thread::spawn(move || {
            if let Err(e) = serve(conn, users) {
                eprintln!("connection: {e}");
            }
        });
    }
    Ok(())
}

fn serve(mut conn: TcpStream, users: Arc<CliUsers>) -> std::io::Result<()> {
    let local = conn.peer_addr()?.ip().is_loopback();
    let mut s = CliSession::new("demo", LoginPolicy::new(users, local));
    let mut buf = [0u8; 4096];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        while let Some(req) = s.poll_request() {
            match req {
                CliRequest::Execute { command, args } => {
                    s.command_output([format!("would run {command:?} {args:?}")]);
                    s.command_done(Outcome::Done);
                }
                CliRequest::Close(reason) => {
                    while let Some(out) = s.poll_transmit() {
                        conn.write_all(&out)?;
                    }
                    eprintln!("closed: {reason:?}");
                    return Ok(());
                }
                other => eprintln!("{other:?}"),
            }
        }
        while let Some(out) = s.poll_transmit() {
            conn.write_all(&out)?;
        }
        if pending.is_empty() {
            let n = conn.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            pending.extend_from_slice(&buf[..n]);
        }
        let used = s.handle_input(&pending);
        pending.drain(..used);
    }
}
