//! CHAP with MD5, RFC 1994 §4: the Challenge/Response/Success/Failure
//! codecs, the response computation MD5(Identifier || secret || Challenge),
//! the authenticator side (Challenge retransmitted on the restart timer up
//! to Max-Configure, one question to the caller, repeated answers for a
//! retransmitted Response) and the peer side.

use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use thiserror::Error;

use super::fsm::GaveUp;
use super::wire::emit_packet;

pub mod code {
    pub const CHALLENGE: u8 = 1;
    pub const RESPONSE: u8 = 2;
    pub const SUCCESS: u8 = 3;
    pub const FAILURE: u8 = 4;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ChapError {
    #[error("CHAP packet truncated")]
    Truncated,
    #[error("CHAP value is empty")]
    EmptyValue,
}

/// `MD5(id || secret || challenge)` (RFC 1994 §4.1).
pub fn chap_md5_response(id: u8, secret: &[u8], challenge: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update([id]);
    h.update(secret);
    h.update(challenge);
    h.finalize().into()
}

/// Check a peer's response in constant time.
pub fn chap_md5_verify(id: u8, secret: &[u8], challenge: &[u8], response: &[u8]) -> bool {
    let expected = chap_md5_response(id, secret, challenge);
    if response.len() != expected.len() {
        return false;
    }
    expected
        .iter()
        .zip(response)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// Challenge or Response data: Value-Size, Value, Name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChapValue<'a> {
    pub value: &'a [u8],
    pub name: &'a [u8],
}

impl<'a> ChapValue<'a> {
    pub fn parse(data: &'a [u8]) -> Result<ChapValue<'a>, ChapError> {
        let (size, rest) = data.split_first().ok_or(ChapError::Truncated)?;
        if *size == 0 {
            return Err(ChapError::EmptyValue);
        }
        let value = rest.get(..usize::from(*size)).ok_or(ChapError::Truncated)?;
        let name = rest.get(usize::from(*size)..).unwrap_or(&[]);
        Ok(ChapValue { value, name })
    }

    /// A Challenge or Response packet. The value is cut at 255 bytes.
    pub fn emit(&self, code: u8, id: u8) -> Vec<u8> {
        let value = self.value.get(..255).unwrap_or(self.value);
        let mut data = Vec::with_capacity(1 + value.len() + self.name.len());
        data.push(value.len() as u8);
        data.extend_from_slice(value);
        data.extend_from_slice(self.name);
        let mut out = Vec::new();
        emit_packet(&mut out, code, id, &data);
        out
    }
}

/// A Success or Failure packet.
pub fn emit_result(success: bool, id: u8, message: &[u8]) -> Vec<u8> {
    let code = if success {
        code::SUCCESS
    } else {
        code::FAILURE
    };
    let mut out = Vec::new();
    emit_packet(&mut out, code, id, message);
    out
}

/// What the authenticator does with a received Response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChapServerAction {
    /// Ask the caller (RADIUS) to check this response to our challenge.
    Ask {
        username: Vec<u8>,
        id: u8,
        challenge: Vec<u8>,
        response: Vec<u8>,
    },
    /// Retransmission or stale identifier: nothing to do.
    Ignore,
    /// Retransmission after the decision: send this packet again.
    Reply(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ServerState {
    Idle,
    Challenging,
    Pending,
    Decided { success: bool, message: Vec<u8> },
}

/// Authenticator side.
#[derive(Debug, Clone)]
pub struct ChapServer {
    id: u8,
    challenge: [u8; 16],
    name: Vec<u8>,
    restart_time: Duration,
    max_tries: u32,
    tries_left: u32,
    timer: Option<Instant>,
    state: ServerState,
}

impl ChapServer {
    pub fn new(challenge: [u8; 16], name: &[u8], restart_time: Duration, max_tries: u32) -> Self {
        ChapServer {
            // Derive the identifier from the random challenge: no randomness here.
            id: challenge[0],
            challenge,
            name: name.to_vec(),
            restart_time,
            max_tries,
            tries_left: max_tries,
            timer: None,
            state: ServerState::Idle,
        }
    }

    pub fn is_pending(&self) -> bool {
        self.state == ServerState::Pending
    }

    /// Challenge sent, no Response yet.
    pub fn is_challenging(&self) -> bool {
        self.state == ServerState::Challenging
    }

    /// Send the (first) Challenge.
    pub fn start(&mut self, now: Instant) -> Vec<u8> {
        self.state = ServerState::Challenging;
        self.tries_left = self.max_tries;
        self.send(now)
    }

    fn send(&mut self, now: Instant) -> Vec<u8> {
        self.tries_left = self.tries_left.saturating_sub(1);
        self.timer = Some(now + self.restart_time);
        ChapValue {
            value: &self.challenge,
            name: &self.name,
        }
        .emit(code::CHALLENGE, self.id)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }

    /// Retransmit the Challenge when due; `Err(GaveUp)` once the tries are used up.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<Option<Vec<u8>>, GaveUp> {
        match self.timer {
            Some(t) if t <= now && self.state == ServerState::Challenging => {
                if self.tries_left == 0 {
                    self.timer = None;
                    return Err(GaveUp);
                }
                Ok(Some(self.send(now)))
            }
            _ => Ok(None),
        }
    }

    pub fn handle_response(&mut self, id: u8, resp: &ChapValue<'_>) -> ChapServerAction {
        if id != self.id {
            return ChapServerAction::Ignore;
        }
        match &self.state {
            ServerState::Challenging => {
                self.state = ServerState::Pending;
                self.timer = None;
                ChapServerAction::Ask {
                    username: resp.name.to_vec(),
                    id,
                    challenge: self.challenge.to_vec(),
                    response: resp.value.to_vec(),
                }
            }
            ServerState::Decided { success, message } => {
                ChapServerAction::Reply(emit_result(*success, id, message))
            }
            ServerState::Idle | ServerState::Pending => ChapServerAction::Ignore,
        }
    }

    /// The caller's decision: the Success/Failure to send, if one was pending.
    pub fn decide(&mut self, success: bool, message: &[u8]) -> Option<Vec<u8>> {
        if self.state != ServerState::Pending {
            return None;
        }
        self.state = ServerState::Decided {
            success,
            message: message.to_vec(),
        };
        Some(emit_result(success, self.id, message))
    }
}

/// Outcome seen by the peer side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChapClientResult {
    Success,
    Failure(Vec<u8>),
}

/// Peer side: answer every Challenge, and repeat the last Response on the
/// restart timer until a Success or Failure arrives: a lost Success is
/// otherwise never recovered, because the authenticator stops
/// re-challenging once it has a Response (RFC 1994 §4.2 has it answer
/// repeated Responses with the same Success or Failure).
#[derive(Debug, Clone)]
pub struct ChapClient {
    name: Vec<u8>,
    secret: Vec<u8>,
    last_id: Option<u8>,
    done: bool,
    response: Option<Vec<u8>>,
    restart_time: Duration,
    max_tries: u32,
    tries_left: u32,
    timer: Option<Instant>,
}

impl ChapClient {
    pub fn new(name: &[u8], secret: &[u8], restart_time: Duration, max_tries: u32) -> ChapClient {
        ChapClient {
            name: name.to_vec(),
            secret: secret.to_vec(),
            last_id: None,
            done: false,
            response: None,
            restart_time,
            max_tries,
            tries_left: 0,
            timer: None,
        }
    }

    /// The Response to a Challenge.
    pub fn handle_challenge(&mut self, now: Instant, id: u8, challenge: &ChapValue<'_>) -> Vec<u8> {
        self.last_id = Some(id);
        let hash = chap_md5_response(id, &self.secret, challenge.value);
        let resp = ChapValue {
            value: &hash,
            name: &self.name,
        }
        .emit(code::RESPONSE, id);
        if !self.done {
            self.tries_left = self.max_tries.saturating_sub(1);
            self.timer = Some(now + self.restart_time);
            self.response = Some(resp.clone());
        }
        resp
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }

    /// Repeat the Response when due; `Err(GaveUp)` once the tries are used up.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<Option<Vec<u8>>, GaveUp> {
        match (self.timer, &self.response) {
            (Some(t), Some(resp)) if t <= now && !self.done => {
                if self.tries_left == 0 {
                    self.timer = None;
                    return Err(GaveUp);
                }
                self.tries_left -= 1;
                self.timer = Some(now + self.restart_time);
                Ok(Some(resp.clone()))
            }
            _ => Ok(None),
        }
    }

    pub fn handle_result(&mut self, code: u8, id: u8, message: &[u8]) -> Option<ChapClientResult> {
        if self.done || self.last_id != Some(id) {
            return None;
        }
        let result = match code {
            code::SUCCESS => ChapClientResult::Success,
            code::FAILURE => ChapClientResult::Failure(message.to_vec()),
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

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn md5_vectors() {
        // id 'a' + secret "bc" + empty challenge = MD5("abc") (RFC 1321 A.5).
        assert_eq!(
            chap_md5_response(b'a', b"bc", b"").to_vec(),
            hex("900150983cd24fb0d6963f7d28e17f72")
        );
        // Checked with Python hashlib.md5(bytes([1]) + b"secret" + bytes(range(16))).
        let challenge: Vec<u8> = (0..16).collect();
        let r = chap_md5_response(1, b"secret", &challenge);
        assert_eq!(r.to_vec(), hex("740e86463bda3a4d7017d6e0fba0699d"));
        let c2 = hex("0123456789abcdef0123456789abcdef");
        assert_eq!(
            chap_md5_response(0x2a, b"password", &c2).to_vec(),
            hex("07f63fad59e4de126789be46d2ffece3")
        );
        assert!(chap_md5_verify(1, b"secret", &challenge, &r));
        assert!(!chap_md5_verify(2, b"secret", &challenge, &r));
        assert!(!chap_md5_verify(1, b"secret", &challenge, &r[..15]));
    }

    #[test]
    fn value_codec() {
        let pkt = ChapValue {
            value: &[1, 2, 3],
            name: b"lns",
        }
        .emit(code::CHALLENGE, 9);
        assert_eq!(pkt, vec![1, 9, 0, 11, 3, 1, 2, 3, b'l', b'n', b's']);
        let p = ControlPacket::parse(&pkt).unwrap();
        let v = ChapValue::parse(p.data()).unwrap();
        assert_eq!((v.value, v.name), (&[1u8, 2, 3][..], &b"lns"[..]));
        assert_eq!(ChapValue::parse(&[]), Err(ChapError::Truncated));
        assert_eq!(ChapValue::parse(&[0, 1]), Err(ChapError::EmptyValue));
        assert_eq!(ChapValue::parse(&[4, 1, 2]), Err(ChapError::Truncated));
        assert_eq!(ChapValue::parse(&[1, 7]).unwrap().name, b"");
    }

    #[test]
    fn server_and_client() {
        let t0 = Instant::now();
        let rt = Duration::from_secs(3);
        let challenge = [7u8; 16];
        let mut s = ChapServer::new(challenge, b"lns", rt, 2);
        let mut c = ChapClient::new(b"user", b"pw", rt, 2);
        let ch = s.start(t0);
        // One retransmission, then give up.
        assert!(s.handle_timeout(t0 + rt).unwrap().is_some());
        assert_eq!(s.handle_timeout(t0 + rt * 2), Err(GaveUp));

        let ch = ControlPacket::parse(&ch).unwrap();
        let resp = c.handle_challenge(t0, ch.identifier(), &ChapValue::parse(ch.data()).unwrap());
        // The Response is repeated until a result arrives, then given up.
        assert_eq!(c.poll_timeout(), Some(t0 + rt));
        assert_eq!(c.handle_timeout(t0 + rt), Ok(Some(resp.clone())));
        assert_eq!(c.handle_timeout(t0 + rt * 2), Err(GaveUp));
        let mut c = ChapClient::new(b"user", b"pw", rt, 2);
        let resp = c.handle_challenge(t0, ch.identifier(), &ChapValue::parse(ch.data()).unwrap());
        let resp = ControlPacket::parse(&resp).unwrap();
        let rv = ChapValue::parse(resp.data()).unwrap();
        let mut s = ChapServer::new(challenge, b"lns", rt, 2);
        s.start(t0);
        let ChapServerAction::Ask {
            username,
            id,
            challenge: sent,
            response,
        } = s.handle_response(resp.identifier(), &rv)
        else {
            panic!("expected Ask");
        };
        assert_eq!(username, b"user");
        assert!(chap_md5_verify(id, b"pw", &sent, &response));
        assert_eq!(s.poll_timeout(), None);
        assert_eq!(
            s.handle_response(resp.identifier(), &rv),
            ChapServerAction::Ignore
        );
        assert_eq!(
            s.handle_response(id.wrapping_add(1), &rv),
            ChapServerAction::Ignore
        );
        let ok = s.decide(true, b"welcome").unwrap();
        assert_eq!(
            s.handle_response(id, &rv),
            ChapServerAction::Reply(ok.clone())
        );
        let ok = ControlPacket::parse(&ok).unwrap();
        assert_eq!(
            c.handle_result(ok.code(), ok.identifier(), ok.data()),
            Some(ChapClientResult::Success)
        );
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.handle_timeout(t0 + rt * 5), Ok(None));
    }
}
