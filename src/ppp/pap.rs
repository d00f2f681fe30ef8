//! PAP, RFC 1334 §2: the Authenticate-Request/Ack/Nak codecs, the
//! authenticator side (one question to the caller per attempt, repeated
//! answers for retransmitted requests) and the peer side (retransmit the
//! request on the restart timer until answered or Max-Configure).

use std::time::{Duration, Instant};

use thiserror::Error;

use super::fsm::GaveUp;
use super::wire::emit_packet;

pub mod code {
    pub const AUTHENTICATE_REQUEST: u8 = 1;
    pub const AUTHENTICATE_ACK: u8 = 2;
    pub const AUTHENTICATE_NAK: u8 = 3;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PapError {
    #[error("PAP packet truncated")]
    Truncated,
}

/// Authenticate-Request data: Peer-ID and Password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PapRequest<'a> {
    pub peer_id: &'a [u8],
    pub password: &'a [u8],
}

/// Split a length-prefixed field off the front.
fn take_counted(data: &[u8]) -> Result<(&[u8], &[u8]), PapError> {
    let (len, rest) = data.split_first().ok_or(PapError::Truncated)?;
    let len = usize::from(*len);
    if rest.len() < len {
        return Err(PapError::Truncated);
    }
    Ok(rest.split_at(len))
}

impl<'a> PapRequest<'a> {
    pub fn parse(data: &'a [u8]) -> Result<PapRequest<'a>, PapError> {
        let (peer_id, rest) = take_counted(data)?;
        let (password, _) = take_counted(rest)?;
        Ok(PapRequest { peer_id, password })
    }

    /// The request packet (code, id, length, data). Fields are cut at 255.
    pub fn emit(&self, id: u8) -> Vec<u8> {
        let mut data = Vec::new();
        push_counted(&mut data, self.peer_id);
        push_counted(&mut data, self.password);
        let mut out = Vec::new();
        emit_packet(&mut out, code::AUTHENTICATE_REQUEST, id, &data);
        out
    }
}

fn push_counted(out: &mut Vec<u8>, field: &[u8]) {
    let field = field.get(..255).unwrap_or(field);
    out.push(field.len() as u8);
    out.extend_from_slice(field);
}

/// The Message of an Ack or Nak. A missing Msg-Length is tolerated as empty.
pub fn parse_message(data: &[u8]) -> &[u8] {
    match take_counted(data) {
        Ok((msg, _)) => msg,
        Err(_) => data.get(1..).unwrap_or(&[]),
    }
}

/// An Ack or Nak packet.
pub fn emit_reply(success: bool, id: u8, message: &[u8]) -> Vec<u8> {
    let mut data = Vec::new();
    push_counted(&mut data, message);
    let code = if success {
        code::AUTHENTICATE_ACK
    } else {
        code::AUTHENTICATE_NAK
    };
    let mut out = Vec::new();
    emit_packet(&mut out, code, id, &data);
    out
}

/// What the authenticator does with a received request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PapServerAction {
    /// First request: ask the caller (RADIUS) about these credentials.
    Ask {
        username: Vec<u8>,
        password: Vec<u8>,
    },
    /// Retransmission while the caller decides: nothing to do.
    Wait,
    /// Retransmission after the decision: send this packet again.
    Reply(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ServerState {
    Waiting,
    Pending { id: u8 },
    Decided { success: bool, message: Vec<u8> },
}

/// Authenticator side.
#[derive(Debug, Clone)]
pub struct PapServer {
    state: ServerState,
}

impl Default for PapServer {
    fn default() -> Self {
        PapServer::new()
    }
}

impl PapServer {
    pub fn new() -> PapServer {
        PapServer {
            state: ServerState::Waiting,
        }
    }

    pub fn is_pending(&self) -> bool {
        matches!(self.state, ServerState::Pending { .. })
    }

    pub fn handle_request(&mut self, id: u8, req: &PapRequest<'_>) -> PapServerAction {
        match &mut self.state {
            ServerState::Waiting => {
                self.state = ServerState::Pending { id };
                PapServerAction::Ask {
                    username: req.peer_id.to_vec(),
                    password: req.password.to_vec(),
                }
            }
            // Answer the latest identifier the peer used.
            ServerState::Pending { id: pending } => {
                *pending = id;
                PapServerAction::Wait
            }
            ServerState::Decided { success, message } => {
                PapServerAction::Reply(emit_reply(*success, id, message))
            }
        }
    }

    /// The caller's decision: the Ack/Nak to send, if a request was pending.
    pub fn decide(&mut self, success: bool, message: &[u8]) -> Option<Vec<u8>> {
        let ServerState::Pending { id } = self.state else {
            return None;
        };
        self.state = ServerState::Decided {
            success,
            message: message.to_vec(),
        };
        Some(emit_reply(success, id, message))
    }
}

/// Outcome of a reply seen by the peer side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PapClientResult {
    Success,
    Failure(Vec<u8>),
}

/// Peer side: sends the request until an Ack or Nak arrives.
#[derive(Debug, Clone)]
pub struct PapClient {
    username: Vec<u8>,
    password: Vec<u8>,
    id: u8,
    retries_left: u32,
    restart_time: Duration,
    timer: Option<Instant>,
    done: bool,
}

impl PapClient {
    pub fn new(username: &[u8], password: &[u8], restart_time: Duration, max_tries: u32) -> Self {
        PapClient {
            username: username.to_vec(),
            password: password.to_vec(),
            id: 0,
            retries_left: max_tries,
            restart_time,
            timer: None,
            done: false,
        }
    }

    /// The next Authenticate-Request, or None once Max-Configure is reached.
    pub fn send(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.done || self.retries_left == 0 {
            self.timer = None;
            return None;
        }
        self.retries_left -= 1;
        self.id = self.id.wrapping_add(1);
        self.timer = Some(now + self.restart_time);
        let req = PapRequest {
            peer_id: &self.username,
            password: &self.password,
        };
        Some(req.emit(self.id))
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }

    /// Retransmit when due. `Err(GaveUp)` when the tries are used up.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<Option<Vec<u8>>, GaveUp> {
        match self.timer {
            Some(t) if t <= now => match self.send(now) {
                Some(p) => Ok(Some(p)),
                None => Err(GaveUp),
            },
            _ => Ok(None),
        }
    }

    /// An Ack or Nak; replies to old identifiers are ignored.
    pub fn handle_reply(&mut self, code: u8, id: u8, data: &[u8]) -> Option<PapClientResult> {
        if self.done || id != self.id {
            return None;
        }
        let result = match code {
            code::AUTHENTICATE_ACK => PapClientResult::Success,
            code::AUTHENTICATE_NAK => PapClientResult::Failure(parse_message(data).to_vec()),
            _ => return None,
        };
        self.done = true;
        self.timer = None;
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ppp::wire::ControlPacket;

    #[test]
    fn request_codec() {
        let pkt = PapRequest {
            peer_id: b"bob",
            password: b"pw",
        }
        .emit(7);
        assert_eq!(pkt, vec![1, 7, 0, 11, 3, b'b', b'o', b'b', 2, b'p', b'w']);
        let p = ControlPacket::parse(&pkt).unwrap();
        let r = PapRequest::parse(p.data()).unwrap();
        assert_eq!((r.peer_id, r.password), (&b"bob"[..], &b"pw"[..]));
        assert_eq!(PapRequest::parse(&[]), Err(PapError::Truncated));
        assert_eq!(PapRequest::parse(&[4, b'a']), Err(PapError::Truncated));
        assert_eq!(PapRequest::parse(&[1, b'a']), Err(PapError::Truncated));
        assert_eq!(
            PapRequest::parse(&[1, b'a', 3, 1]),
            Err(PapError::Truncated)
        );
        // Empty fields are legal.
        assert!(PapRequest::parse(&[0, 0]).is_ok());
    }

    #[test]
    fn reply_codec() {
        let pkt = emit_reply(false, 3, b"no");
        assert_eq!(pkt, vec![3, 3, 0, 7, 2, b'n', b'o']);
        assert_eq!(parse_message(&[2, b'n', b'o']), b"no");
        assert_eq!(parse_message(&[]), b"");
        assert_eq!(parse_message(&[9, b'x']), b"x");
    }

    #[test]
    fn server_asks_once_then_repeats_answer() {
        let mut s = PapServer::new();
        let req = PapRequest {
            peer_id: b"u",
            password: b"p",
        };
        assert!(matches!(
            s.handle_request(1, &req),
            PapServerAction::Ask { .. }
        ));
        assert_eq!(s.handle_request(2, &req), PapServerAction::Wait);
        assert_eq!(s.decide(true, b"ok"), Some(emit_reply(true, 2, b"ok")));
        assert_eq!(s.decide(false, b"late"), None);
        assert_eq!(
            s.handle_request(3, &req),
            PapServerAction::Reply(emit_reply(true, 3, b"ok"))
        );
    }

    #[test]
    fn client_retransmits_then_gives_up() {
        let t0 = Instant::now();
        let rt = Duration::from_secs(3);
        let mut c = PapClient::new(b"u", b"p", rt, 3);
        assert!(c.send(t0).is_some());
        assert_eq!(c.handle_timeout(t0), Ok(None));
        assert!(c.handle_timeout(t0 + rt).unwrap().is_some());
        assert!(c.handle_timeout(t0 + rt * 2).unwrap().is_some());
        assert_eq!(c.handle_timeout(t0 + rt * 3), Err(GaveUp));
        let mut c = PapClient::new(b"u", b"p", rt, 3);
        c.send(t0);
        assert_eq!(c.handle_reply(code::AUTHENTICATE_ACK, 9, &[]), None);
        assert_eq!(
            c.handle_reply(code::AUTHENTICATE_NAK, 1, &[1, b'x']),
            Some(PapClientResult::Failure(b"x".to_vec()))
        );
        assert_eq!(c.poll_timeout(), None);
    }
}
