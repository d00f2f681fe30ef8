//! The telnet CLI's I/O: the TCP listener on cli_bind_address:cli_port and
//! one task per connection that runs its `cli::CliSession` (telnet, line
//! editing, parsing, filters: all off the control loop). A command the
//! session asks for goes to the control loop as `ControlInput::Cli` and its
//! output comes back on a oneshot channel, so a slow client never holds the
//! control plane, and the control plane only formats answers.

use std::net::{SocketAddr, SocketAddrV4};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::{debug, info, warn};

use crate::cli::{CliRequest, CliSession, CommandId, LoginPolicy, Outcome};
use crate::config::{CliUsers, Config};

use super::cli_debug::DebugFlags;
use super::logging::ConsoleLine;
use super::ControlInput;

/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 32;
/// A connection that sends nothing for this long is closed.
const IDLE: Duration = Duration::from_secs(30 * 60);

/// The users file as loaded now; SIGHUP replaces it.
pub type SharedUsers = Arc<RwLock<Arc<CliUsers>>>;

/// A command from a CLI connection, answered on `reply` in one or more
/// chunks of lines, then `Done`.
pub struct CliCommand {
    pub user: String,
    pub from: SocketAddr,
    pub command: CommandId,
    pub args: Vec<String>,
    pub reply: tokio::sync::mpsc::UnboundedSender<CliChunk>,
}

pub enum CliChunk {
    Lines(Vec<String>),
    Done(Outcome),
}

/// The users file; a missing one is no users (then only local
/// connections get in, as in l2tpns).
pub fn load_users(cfg: &Config) -> Arc<CliUsers> {
    match crate::config::load_users(&cfg.users_file) {
        Ok(u) => {
            for w in &u.warnings {
                warn!("{}:{}: {}", w.file.display(), w.line, w.message);
            }
            Arc::new(u)
        }
        Err(e) => {
            info!("CLI: {e}: only local connections get in (users_file)");
            Arc::new(CliUsers::default())
        }
    }
}

pub fn bind(cfg: &Config) -> Result<std::net::TcpListener, String> {
    let ip = cfg
        .cli_bind_address
        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
    let addr = SocketAddrV4::new(ip, cfg.cli_port);
    let l = std::net::TcpListener::bind(addr)
        .map_err(|e| format!("CLI {addr}: {e} (cli_bind_address, cli_port)"))?;
    l.set_nonblocking(true).map_err(|e| e.to_string())?;
    info!(%addr, "CLI listening");
    Ok(l)
}

/// Accept connections (inside the runtime).
pub fn spawn(
    listener: std::net::TcpListener,
    users: SharedUsers,
    hostname: String,
    tx: tokio::sync::mpsc::Sender<ControlInput>,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let Ok((stream, from)) = listener.accept().await else {
                continue;
            };
            let policy = LoginPolicy {
                users: users.read().map(|u| u.clone()).unwrap_or_default(),
                local: from.ip().is_loopback(),
            };
            let session = CliSession::new(&hostname, policy);
            let tx = tx.clone();
            tokio::spawn(async move {
                debug!(%from, "CLI connection");
                if let Err(e) = serve(stream, from, session, tx).await {
                    debug!(%from, "CLI connection: {e}");
                }
                drop(permit);
            });
        }
    });
    Ok(())
}

/// The console log for a connection with `debug` on; never ready otherwise.
async fn next_console_line(
    console: &mut Option<tokio::sync::broadcast::Receiver<ConsoleLine>>,
) -> Result<ConsoleLine, tokio::sync::broadcast::error::RecvError> {
    match console {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn serve(
    mut stream: tokio::net::TcpStream,
    from: SocketAddr,
    mut session: CliSession,
    tx: tokio::sync::mpsc::Sender<ControlInput>,
) -> std::io::Result<()> {
    use tokio::sync::broadcast::error::RecvError;
    let mut buf = vec![0u8; 4096];
    let mut pending: Vec<u8> = Vec::new();
    // This connection's `debug` flags and its copy of the log.
    let mut debug = DebugFlags::default();
    let mut console = None;
    loop {
        while let Some(out) = session.poll_transmit() {
            stream.write_all(&out).await?;
        }
        while let Some(req) = session.poll_request() {
            match req {
                CliRequest::Execute { command, args }
                    if matches!(command, CommandId::Debug | CommandId::NoDebug) =>
                {
                    let (flags, lines) = debug.apply(command == CommandId::Debug, &args);
                    debug = flags;
                    if !debug.is_on() {
                        console = None;
                    } else if console.is_none() {
                        console = Some(super::logging::console());
                    }
                    session.command_output(lines);
                    session.command_done(Outcome::Done);
                }
                CliRequest::Execute { command, args } => {
                    if !run_command(&mut stream, from, &mut session, &tx, command, args).await? {
                        return Ok(());
                    }
                }
                CliRequest::LoggedIn { user } => info!(%from, %user, "CLI login"),
                CliRequest::LoginFailed { user } => warn!(%from, %user, "CLI login failed"),
                CliRequest::Enabled => info!(%from, "CLI enable"),
                CliRequest::Close(reason) => {
                    while let Some(out) = session.poll_transmit() {
                        stream.write_all(&out).await?;
                    }
                    debug!(%from, ?reason, "CLI connection closed");
                    return Ok(());
                }
            }
            while let Some(out) = session.poll_transmit() {
                stream.write_all(&out).await?;
            }
        }
        if !pending.is_empty() {
            let used = session.handle_input(&pending);
            pending.drain(..used);
            continue;
        }
        let n = tokio::select! {
            r = stream.read(&mut buf) => r?,
            line = next_console_line(&mut console) => {
                match line {
                    Ok(l) if debug.shows(l.level) => session.notify([l.text]),
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => {
                        session.notify([format!("({n} log lines not shown: the connection fell behind)")])
                    }
                    Err(RecvError::Closed) => console = None,
                }
                continue;
            }
            _ = tokio::time::sleep(IDLE) => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
        let used = session.handle_input(&buf[..n]);
        pending.extend_from_slice(&buf[used..n]);
    }
}

/// A command for the control plane; its answer is written out chunk by
/// chunk as it comes, so a long listing is never held whole, here or in
/// the control plane. False when the daemon is going away.
async fn run_command(
    stream: &mut tokio::net::TcpStream,
    from: SocketAddr,
    session: &mut CliSession,
    tx: &tokio::sync::mpsc::Sender<ControlInput>,
    command: CommandId,
    args: Vec<String>,
) -> std::io::Result<bool> {
    let (reply, mut answer) = tokio::sync::mpsc::unbounded_channel();
    let user = session.user().unwrap_or("").to_string();
    let cmd = CliCommand {
        user,
        from,
        command,
        args,
        reply,
    };
    if tx.send(ControlInput::Cli(Box::new(cmd))).await.is_err() {
        return Ok(false);
    }
    loop {
        match answer.recv().await {
            Some(CliChunk::Lines(lines)) => {
                session.command_output(lines);
                while let Some(out) = session.poll_transmit() {
                    stream.write_all(&out).await?;
                }
            }
            Some(CliChunk::Done(outcome)) => {
                session.command_done(outcome);
                return Ok(true);
            }
            None => {
                session.command_output(["daemon stopping"]);
                session.command_done(Outcome::Failed);
                return Ok(true);
            }
        }
    }
}
