//! The nsctl client's logic without the socket (l2tpns 2.4.1 `nsctl.c`):
//! its command line (GNU getopt "dh:t:", which also takes options after the
//! command), the built-in command table, the request for a command, and what
//! it prints and exits with for a reply. `src/bin/nsctl.rs` adds the UDP.

use crate::c_atoi::atoi;
use std::time::Duration;

use thiserror::Error;

use super::wire::{MessageType, Packet, ParseError, Request, RequestKind, PORT};

/// Built-in commands, as nsctl's `help` prints them before asking the daemon.
pub const BUILTINS: [(&str, &str, RequestKind); 3] = [
    (
        "load_plugin",
        " PLUGIN                          Load named plugin",
        RequestKind::Load,
    ),
    (
        "unload_plugin",
        " PLUGIN                        Unload named plugin",
        RequestKind::Unload,
    ),
    (
        "help",
        "                                        List available commands",
        RequestKind::Help,
    ),
];

/// nsctl's exit status on success (`EXIT_SUCCESS`).
pub const EXIT_OK: i32 = 0;
/// nsctl's exit status on any failure (`EXIT_FAILURE`).
pub const EXIT_FAIL: i32 = 1;

/// Why the command line was refused. Messages are nsctl's, without the
/// program-name prefix that the binary adds.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CliError {
    /// Unknown option, missing option argument, or no command.
    #[error("usage")]
    Usage,
    /// `-h host:port` with a port that reads as 0.
    #[error("invalid port `{0}'")]
    InvalidPort(String),
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// How many `-d` were given (any number turns on the dumps).
    pub debug: u32,
    /// Host to ask, without the port.
    pub host: String,
    /// UDP port.
    pub port: u16,
    /// How long to wait for the reply; `None` waits for ever (`-t 0`).
    pub timeout: Option<Duration>,
    /// The command word and its arguments.
    pub command: Vec<String>,
}

/// The usage line, for program name `me`.
pub fn usage(me: &str) -> String {
    format!("Usage: {me} [-d] [-h HOST[:PORT]] [-t TIMEOUT] COMMAND [ARG ...]\n")
}

/// Parses the arguments after the program name like nsctl's getopt loop.
pub fn parse_command_line(argv: &[String]) -> Result<Invocation, CliError> {
    let mut debug = 0;
    let mut host: Option<String> = None;
    let mut timeout: i64 = 2;
    let mut operands = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let a = &argv[i];
        i += 1;
        if a == "--" {
            operands.extend(argv[i..].iter().cloned());
            break;
        }
        if a.len() < 2 || !a.starts_with('-') {
            operands.push(a.clone());
            continue;
        }
        // A cluster of single-letter options, e.g. "-dd" or "-t5".
        for (at, c) in a[1..].char_indices() {
            match c {
                'd' => debug += 1,
                'h' | 't' => {
                    let rest = &a[1 + at + c.len_utf8()..];
                    let value = if !rest.is_empty() {
                        rest.to_string()
                    } else if i < argv.len() {
                        i += 1;
                        argv[i - 1].clone()
                    } else {
                        return Err(CliError::Usage);
                    };
                    if c == 'h' {
                        host = Some(value);
                    } else {
                        timeout = atoi(&value);
                    }
                    break;
                }
                _ => return Err(CliError::Usage),
            }
        }
    }
    if operands.first().is_none_or(|c| c.is_empty()) {
        return Err(CliError::Usage);
    }
    let host = host.unwrap_or_else(|| "127.0.0.1".into());
    let (host, port) = match host.split_once(':') {
        Some((h, p)) => {
            // `htons(atoi(p))`: C truncates to 16 bits.
            let port = atoi(p) as u16;
            if atoi(p) == 0 {
                return Err(CliError::InvalidPort(p.into()));
            }
            (h.to_string(), port)
        }
        None => (host, PORT),
    };
    Ok(Invocation {
        debug,
        host,
        port,
        timeout: u64::try_from(timeout)
            .ok()
            .filter(|&t| t > 0)
            .map(Duration::from_secs),
        command: operands,
    })
}

/// The request nsctl sends for a command: a built-in word becomes its type
/// (and is dropped from the arguments); anything else is sent whole.
pub fn request_for(command: &[String]) -> Request {
    let builtin = command
        .first()
        .and_then(|w| BUILTINS.iter().find(|(name, _, _)| name == w));
    match builtin {
        Some((_, _, kind)) => Request {
            kind: *kind,
            args: command[1..].to_vec(),
        },
        None => Request {
            kind: RequestKind::Control,
            args: command.to_vec(),
        },
    }
}

/// What nsctl prints on stdout for `help` before it sends the request.
pub fn builtin_help() -> String {
    let mut s = String::from("Available commands:\n");
    for (name, usage, _) in BUILTINS {
        s.push_str(&format!("  {name}{usage}\n"));
    }
    s
}

/// The text nsctl prints (after "nsctl: ") for a reply it cannot use.
pub fn reply_error(e: &ParseError) -> &'static str {
    match e {
        ParseError::Short => "short packet",
        ParseError::Long => "extra data",
        ParseError::Magic(_) => "bad magic",
        ParseError::Type(_) => "invalid type",
        // A well-formed request as a reply: nsctl falls to its default.
        ParseError::Direction(_) | ParseError::NotUtf8 { .. } => "unknown error",
    }
}

/// Checks a reply datagram as nsctl does: it must parse and be a response.
/// Arguments stay bytes, so any reply prints as Debian's nsctl prints it.
pub fn check_reply(buf: &[u8]) -> Result<Packet<'_>, ParseError> {
    let p = Packet::new_checked(buf)?;
    match p.kind() {
        MessageType::Ok | MessageType::Err => Ok(p),
        other => Err(ParseError::Direction(other)),
    }
}

/// Where a reply's lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printed {
    /// Bytes for stdout (the lines of an OK reply).
    pub stdout: Vec<u8>,
    /// Bytes for stderr (the lines of an ERR reply).
    pub stderr: Vec<u8>,
    /// Exit status.
    pub exit: i32,
}

/// What nsctl prints for a checked reply: each argument on a line (up to a
/// NUL, as C's `%s`), on stdout with status 0 for OK, on stderr with 1 for ERR.
pub fn render_reply(reply: &Packet<'_>) -> Printed {
    let mut text = Vec::new();
    for a in reply.args() {
        text.extend_from_slice(c_str(a));
        text.push(b'\n');
    }
    if reply.kind() == MessageType::Ok {
        Printed {
            stdout: text,
            stderr: Vec::new(),
            exit: EXIT_OK,
        }
    } else {
        Printed {
            stdout: Vec::new(),
            stderr: text,
            exit: EXIT_FAIL,
        }
    }
}

/// nsctl's `-d` dump of a packet (`dump_control`), e.g.
/// `Control packet:\n\tType: 20 (NSCTL_REQ_CONTROL)\n\tArgs: 2 ("drop", "a")\n\n`.
pub fn dump(p: &Packet<'_>) -> Vec<u8> {
    let mut out = format!(
        "Control packet:\n\tType: {} ({})\n\tArgs: {}",
        p.kind().to_byte(),
        p.kind().c_name(),
        p.argc()
    )
    .into_bytes();
    if p.argc() > 0 {
        out.extend_from_slice(b" (\"");
        for (i, a) in p.args().enumerate() {
            if i > 0 {
                out.extend_from_slice(b"\", \"");
            }
            out.extend_from_slice(c_str(a));
        }
        out.extend_from_slice(b"\")");
    }
    out.extend_from_slice(b"\n\n");
    out
}

/// The bytes C sees as a string: up to the first NUL.
fn c_str(a: &[u8]) -> &[u8] {
    a.iter().position(|&b| b == 0).map_or(a, |n| &a[..n])
}
