//! The nsctl datagram (l2tpns 2.4.1 `control.h`, `control.c`): a checked view
//! over received bytes and plain `Request` / `Response` representations.
//!
//! Layout, all in one UDP datagram of at most 4096 bytes:
//!
//! ```text
//! magic 0x9013 (u16, big endian) | type (u8) | argc (u8)
//! argc times: len (u8) | len bytes of argument (no NUL)
//! terminator 0xff
//! ```
//!
//! Untrusted bytes enter only through [`Packet::new_checked`], which walks
//! the whole datagram once, exactly as l2tpns's `unpack_control` does, and
//! reports the same four failures (short, long, magic, type). Afterwards no
//! accessor can fail or panic.

use thiserror::Error;

/// UDP port the daemon listens on.
pub const PORT: u16 = 1702;
/// First two bytes of every datagram.
pub const MAGIC: u16 = 0x9013;
/// Largest datagram either side sends or accepts (`NSCTL_MAX_PKT_SZ`).
pub const MAX_PACKET: usize = 4096;
/// Largest argument the one-byte length can describe. l2tpns's
/// `NSCTL_MAX_ARG_SZ` (512) does not fit in that byte; its packer wraps.
pub const MAX_ARG: usize = 255;
/// Most arguments the one-byte count can describe.
pub const MAX_ARGS: usize = 255;
/// Magic, type and argc.
pub const HEADER_LEN: usize = 4;
/// Byte after the last argument.
pub const TERMINATOR: u8 = 0xff;

/// The six message types (`NSCTL_REQ_*`, `NSCTL_RES_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// `load_plugin NAME` (0x11).
    Load,
    /// `unload_plugin NAME` (0x12).
    Unload,
    /// `help` (0x13).
    Help,
    /// Any other command, for the plugins (0x14).
    Control,
    /// Success; the arguments are printed on stdout (0x21).
    Ok,
    /// Failure; the arguments are printed on stderr (0x22).
    Err,
}

impl MessageType {
    /// The type byte on the wire.
    pub fn to_byte(self) -> u8 {
        match self {
            MessageType::Load => 0x11,
            MessageType::Unload => 0x12,
            MessageType::Help => 0x13,
            MessageType::Control => 0x14,
            MessageType::Ok => 0x21,
            MessageType::Err => 0x22,
        }
    }

    /// The type for a byte, if it is one of the six.
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0x11 => MessageType::Load,
            0x12 => MessageType::Unload,
            0x13 => MessageType::Help,
            0x14 => MessageType::Control,
            0x21 => MessageType::Ok,
            0x22 => MessageType::Err,
            _ => return None,
        })
    }

    /// l2tpns's name for it, as `dump_control` prints it.
    pub fn c_name(self) -> &'static str {
        match self {
            MessageType::Load => "NSCTL_REQ_LOAD",
            MessageType::Unload => "NSCTL_REQ_UNLOAD",
            MessageType::Help => "NSCTL_REQ_HELP",
            MessageType::Control => "NSCTL_REQ_CONTROL",
            MessageType::Ok => "NSCTL_RES_OK",
            MessageType::Err => "NSCTL_RES_ERR",
        }
    }
}

/// Why a datagram was rejected. The first four are l2tpns's
/// `NSCTL_ERR_SHORT/LONG/MAGIC/TYPE`; the rest are ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ParseError {
    /// Ends before the header, an argument or the terminator is complete, or
    /// the byte after the last argument is not 0xff.
    #[error("short packet")]
    Short,
    /// Longer than 4096 bytes, or bytes after the terminator.
    #[error("extra data")]
    Long,
    /// First two bytes are not 0x9013.
    #[error("bad magic {0:#06x}")]
    Magic(u16),
    /// Type byte is none of the six.
    #[error("invalid type {0:#04x}")]
    Type(u8),
    /// A request where a response was expected, or the other way round.
    #[error("unexpected message type {0:?}")]
    Direction(MessageType),
    /// Argument `index` is not UTF-8 (our reprs carry `String`s).
    #[error("argument {index} is not UTF-8")]
    NotUtf8 {
        /// Position of the argument, from 0.
        index: usize,
    },
}

/// Why a message could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EmitError {
    /// More than 255 arguments.
    #[error("{0} arguments, at most 255 fit")]
    TooManyArgs(usize),
    /// An argument longer than 255 bytes.
    #[error("argument {index} is {len} bytes, at most 255 fit")]
    ArgTooLong {
        /// Position of the argument, from 0.
        index: usize,
        /// Its length in bytes.
        len: usize,
    },
    /// The datagram would exceed 4096 bytes or the caller's buffer.
    #[error("message needs {needed} bytes, {room} available")]
    NoRoom {
        /// Bytes the whole datagram needs.
        needed: usize,
        /// Bytes available.
        room: usize,
    },
}

/// A validated datagram. Built only by [`Packet::new_checked`].
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    kind: MessageType,
    argc: u8,
    /// The argument area: from after the header up to (not including) the
    /// terminator.
    body: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Validates `buf` the way l2tpns's `unpack_control` does, in the same
    /// order, so both sides agree on which error a bad datagram gets.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, ParseError> {
        if buf.len() < HEADER_LEN {
            return Err(ParseError::Short);
        }
        if buf.len() > MAX_PACKET {
            return Err(ParseError::Long);
        }
        let magic = u16::from_be_bytes([buf[0], buf[1]]);
        if magic != MAGIC {
            return Err(ParseError::Magic(magic));
        }
        let kind = MessageType::from_byte(buf[2]).ok_or(ParseError::Type(buf[2]))?;
        let argc = buf[3];
        let mut at = HEADER_LEN;
        for _ in 0..argc {
            let len = usize::from(*buf.get(at).ok_or(ParseError::Short)?);
            at += 1;
            if buf.len() < at + len {
                return Err(ParseError::Short);
            }
            at += len;
        }
        match buf.get(at) {
            Some(&TERMINATOR) => {}
            _ => return Err(ParseError::Short),
        }
        if at + 1 != buf.len() {
            return Err(ParseError::Long);
        }
        Ok(Packet {
            kind,
            argc,
            body: &buf[HEADER_LEN..at],
        })
    }

    /// The message type.
    pub fn kind(&self) -> MessageType {
        self.kind
    }

    /// Number of arguments.
    pub fn argc(&self) -> usize {
        usize::from(self.argc)
    }

    /// The arguments as raw bytes, in order.
    pub fn args(&self) -> Args<'a> {
        Args {
            rest: self.body,
            left: self.argc,
        }
    }

    /// The arguments as UTF-8 strings.
    pub fn string_args(&self) -> Result<Vec<String>, ParseError> {
        self.args()
            .enumerate()
            .map(|(index, a)| {
                std::str::from_utf8(a)
                    .map(str::to_owned)
                    .map_err(|_| ParseError::NotUtf8 { index })
            })
            .collect()
    }
}

/// Iterator over a checked packet's arguments.
#[derive(Debug, Clone)]
pub struct Args<'a> {
    rest: &'a [u8],
    left: u8,
}

impl<'a> Iterator for Args<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The checked constructor proved every length fits; `get` keeps
        // this panic-free regardless.
        let (&len, tail) = self.rest.split_first()?;
        let arg = tail.get(..usize::from(len))?;
        self.rest = tail.get(usize::from(len)..)?;
        Some(arg)
    }
}

/// Bytes a message with these arguments needs on the wire.
pub fn wire_len<S: AsRef<str>>(args: &[S]) -> usize {
    HEADER_LEN + args.iter().map(|a| 1 + a.as_ref().len()).sum::<usize>() + 1
}

/// Writes one message into `buf`; returns the bytes used. Refuses, rather
/// than truncating as l2tpns's `pack_control` does, whatever does not fit.
pub fn emit<S: AsRef<str>>(
    kind: MessageType,
    args: &[S],
    buf: &mut [u8],
) -> Result<usize, EmitError> {
    if args.len() > MAX_ARGS {
        return Err(EmitError::TooManyArgs(args.len()));
    }
    if let Some((index, a)) = args
        .iter()
        .enumerate()
        .find(|(_, a)| a.as_ref().len() > MAX_ARG)
    {
        return Err(EmitError::ArgTooLong {
            index,
            len: a.as_ref().len(),
        });
    }
    let needed = wire_len(args);
    let room = buf.len().min(MAX_PACKET);
    if needed > room {
        return Err(EmitError::NoRoom { needed, room });
    }
    buf[..2].copy_from_slice(&MAGIC.to_be_bytes());
    buf[2] = kind.to_byte();
    buf[3] = args.len() as u8; // checked above: ≤ 255
    let mut at = HEADER_LEN;
    for a in args {
        let a = a.as_ref().as_bytes();
        buf[at] = a.len() as u8; // checked above: ≤ 255
        buf[at + 1..at + 1 + a.len()].copy_from_slice(a);
        at += 1 + a.len();
    }
    buf[at] = TERMINATOR;
    Ok(at + 1)
}

fn emit_vec<S: AsRef<str>>(kind: MessageType, args: &[S]) -> Result<Vec<u8>, EmitError> {
    let mut buf = vec![0; wire_len(args).min(MAX_PACKET)];
    let n = emit(kind, args, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// What a client asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// `load_plugin NAME`.
    Load,
    /// `unload_plugin NAME`.
    Unload,
    /// `help`.
    Help,
    /// Anything else; the first argument is the command word.
    Control,
}

impl RequestKind {
    /// Its message type.
    pub fn message_type(self) -> MessageType {
        match self {
            RequestKind::Load => MessageType::Load,
            RequestKind::Unload => MessageType::Unload,
            RequestKind::Help => MessageType::Help,
            RequestKind::Control => MessageType::Control,
        }
    }
}

/// How the daemon answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseKind {
    /// Success: nsctl prints the arguments on stdout and exits 0.
    Ok,
    /// Failure: nsctl prints the arguments on stderr and exits 1.
    Err,
}

impl ResponseKind {
    /// Its message type.
    pub fn message_type(self) -> MessageType {
        match self {
            ResponseKind::Ok => MessageType::Ok,
            ResponseKind::Err => MessageType::Err,
        }
    }
}

/// A request, as sent by nsctl. For `Load`/`Unload` the arguments are the
/// plugin name (nsctl drops the command word); for `Control` the first
/// argument is the command word itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Which request.
    pub kind: RequestKind,
    /// Its arguments.
    pub args: Vec<String>,
}

impl Request {
    /// Parses a datagram that must be a request with UTF-8 arguments.
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        let p = Packet::new_checked(buf)?;
        let kind = match p.kind() {
            MessageType::Load => RequestKind::Load,
            MessageType::Unload => RequestKind::Unload,
            MessageType::Help => RequestKind::Help,
            MessageType::Control => RequestKind::Control,
            other => return Err(ParseError::Direction(other)),
        };
        Ok(Request {
            kind,
            args: p.string_args()?,
        })
    }

    /// Writes it into `buf`; returns the bytes used.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        emit(self.kind.message_type(), &self.args, buf)
    }

    /// The datagram as a new vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EmitError> {
        emit_vec(self.kind.message_type(), &self.args)
    }
}

/// A response, as sent by the daemon. Each argument is one line of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Success or failure.
    pub kind: ResponseKind,
    /// Lines to print.
    pub args: Vec<String>,
}

impl Response {
    /// Success with these lines.
    pub fn ok<S: Into<String>>(lines: impl IntoIterator<Item = S>) -> Self {
        Response {
            kind: ResponseKind::Ok,
            args: lines.into_iter().map(Into::into).collect(),
        }
    }

    /// Failure with one message.
    pub fn err(message: impl Into<String>) -> Self {
        Response {
            kind: ResponseKind::Err,
            args: vec![message.into()],
        }
    }

    /// Parses a datagram that must be a response with UTF-8 arguments.
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        let p = Packet::new_checked(buf)?;
        let kind = match p.kind() {
            MessageType::Ok => ResponseKind::Ok,
            MessageType::Err => ResponseKind::Err,
            other => return Err(ParseError::Direction(other)),
        };
        Ok(Response {
            kind,
            args: p.string_args()?,
        })
    }

    /// Writes it into `buf`; returns the bytes used.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        emit(self.kind.message_type(), &self.args, buf)
    }

    /// The datagram as a new vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EmitError> {
        emit_vec(self.kind.message_type(), &self.args)
    }
}
