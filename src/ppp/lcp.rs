//! LCP Configuration Options (RFC 1661 §6) as a representation type, and
//! the LCP [`Negotiator`] used by both the server (authenticator) and the
//! client (RFC 1994 / RFC 1334 Authentication-Protocol on either side).
//!
//! Policy (after l2tpns ppp.c): the peer's MRU is accepted from 576 up,
//! below that Naked with ours; the peer's ACCM is Acked whatever its value
//! (over L2TP the LAC does the async framing, RFC 2661 §4.4.6, so the value
//! is meaningless to us); PFC and ACFC are Acked (we still send full
//! headers, which a peer must always accept); Magic-Number is Acked unless
//! it equals ours (loopback, §6.4); everything else (Quality-Protocol,
//! MRRU, Endpoint-Discriminator, Callback...) is Rejected.

use super::fsm::{Negotiator, Unacceptable, Verdict};
use super::wire::{emit_option, protocol, ConfigOption, OptionError};

/// LCP option types (RFC 1661 §6, RFC 1990 for the multilink ones).
pub mod opt {
    pub const MRU: u8 = 1;
    pub const ACCM: u8 = 2;
    pub const AUTH_PROTOCOL: u8 = 3;
    pub const QUALITY_PROTOCOL: u8 = 4;
    pub const MAGIC_NUMBER: u8 = 5;
    pub const PFC: u8 = 7;
    pub const ACFC: u8 = 8;
    pub const MRRU: u8 = 17;
    pub const ENDPOINT_DISCRIMINATOR: u8 = 19;
}

/// RFC 1994 §2.1 CHAP algorithm byte for MD5.
pub const CHAP_MD5: u8 = 5;
/// RFC 1661 §6.1 default MRU.
pub const DEFAULT_MRU: u16 = 1500;
/// Smallest peer MRU we accept (l2tpns; RFC 791 minimum datagram).
pub const MIN_PEER_MRU: u16 = 576;
/// Naks of a looped-back Magic-Number before we call it a loopback.
pub const LOOPBACK_LIMIT: u32 = 3;

/// An authentication protocol we can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum AuthProto {
    Pap,
    /// CHAP with MD5 (algorithm 5) only.
    Chap,
}

impl AuthProto {
    /// The Authentication-Protocol option value for this protocol.
    pub fn option_value(self) -> Vec<u8> {
        match self {
            AuthProto::Pap => protocol::PAP.to_be_bytes().to_vec(),
            AuthProto::Chap => {
                let [a, b] = protocol::CHAP.to_be_bytes();
                vec![a, b, CHAP_MD5]
            }
        }
    }

    /// Recognise an Authentication-Protocol option value we support.
    pub fn from_option_value(data: &[u8]) -> Option<AuthProto> {
        match *data {
            [0xC0, 0x23] => Some(AuthProto::Pap),
            [0xC2, 0x23, CHAP_MD5] => Some(AuthProto::Chap),
            _ => None,
        }
    }
}

/// One LCP option, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LcpOption {
    Mru(u16),
    Accm(u32),
    AuthProtocol { protocol: u16, data: Vec<u8> },
    QualityProtocol { protocol: u16, data: Vec<u8> },
    MagicNumber(u32),
    Pfc,
    Acfc,
    Other { kind: u8, data: Vec<u8> },
}

impl LcpOption {
    pub fn parse(o: &ConfigOption<'_>) -> Result<LcpOption, OptionError> {
        let bad = OptionError::BadValue { kind: o.kind };
        let with_protocol = |o: &ConfigOption<'_>| match o.data {
            [a, b, rest @ ..] => Ok((u16::from_be_bytes([*a, *b]), rest.to_vec())),
            _ => Err(bad),
        };
        Ok(match o.kind {
            opt::MRU => LcpOption::Mru(o.value_u16().ok_or(bad)?),
            opt::ACCM => LcpOption::Accm(o.value_u32().ok_or(bad)?),
            opt::AUTH_PROTOCOL => {
                let (protocol, data) = with_protocol(o)?;
                LcpOption::AuthProtocol { protocol, data }
            }
            opt::QUALITY_PROTOCOL => {
                let (protocol, data) = with_protocol(o)?;
                LcpOption::QualityProtocol { protocol, data }
            }
            opt::MAGIC_NUMBER => LcpOption::MagicNumber(o.value_u32().ok_or(bad)?),
            opt::PFC if o.data.is_empty() => LcpOption::Pfc,
            opt::ACFC if o.data.is_empty() => LcpOption::Acfc,
            opt::PFC | opt::ACFC => return Err(bad),
            kind => LcpOption::Other {
                kind,
                data: o.data.to_vec(),
            },
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        let with_protocol = |p: u16, d: &[u8]| {
            let mut v = p.to_be_bytes().to_vec();
            v.extend_from_slice(d);
            v
        };
        match self {
            LcpOption::Mru(v) => emit_option(out, opt::MRU, &v.to_be_bytes()),
            LcpOption::Accm(v) => emit_option(out, opt::ACCM, &v.to_be_bytes()),
            LcpOption::AuthProtocol { protocol, data } => {
                emit_option(out, opt::AUTH_PROTOCOL, &with_protocol(*protocol, data))
            }
            LcpOption::QualityProtocol { protocol, data } => {
                emit_option(out, opt::QUALITY_PROTOCOL, &with_protocol(*protocol, data))
            }
            LcpOption::MagicNumber(v) => emit_option(out, opt::MAGIC_NUMBER, &v.to_be_bytes()),
            LcpOption::Pfc => emit_option(out, opt::PFC, &[]),
            LcpOption::Acfc => emit_option(out, opt::ACFC, &[]),
            LcpOption::Other { kind, data } => emit_option(out, *kind, data),
        }
    }
}

/// Which side of authentication we are on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthPolicy {
    /// Server: we request one of these (in order) and refuse to authenticate ourselves.
    Require(Vec<AuthProto>),
    /// Client: we accept the peer's request for this protocol (None = either).
    Accept(Option<AuthProto>),
}

/// Next Magic-Number after a loopback or a Nak: the core has no randomness,
/// so derive a different value from the current one.
fn next_magic(m: u32) -> u32 {
    let n = m.rotate_left(7) ^ 0x9E37_79B9;
    if n == 0 {
        1
    } else {
        n
    }
}

/// LCP option policy for one link.
#[derive(Clone, Debug)]
pub struct LcpNegotiator {
    our_mru: u16,
    request_mru: bool,
    magic: u32,
    request_magic: bool,
    policy: AuthPolicy,
    /// Index into `Require` of the protocol we currently request.
    auth_index: usize,
    /// Bit i set: `Require[i]` was refused by the peer.
    auth_refused: u32,
    loopbacks: u32,
    peer_mru: u16,
    peer_magic: Option<u32>,
    peer_auth: Option<AuthProto>,
    our_auth: Option<AuthProto>,
}

impl LcpNegotiator {
    pub fn new(our_mru: u16, magic: u32, policy: AuthPolicy) -> LcpNegotiator {
        LcpNegotiator {
            our_mru,
            request_mru: true,
            magic,
            request_magic: true,
            policy,
            auth_index: 0,
            auth_refused: 0,
            loopbacks: 0,
            peer_mru: DEFAULT_MRU,
            peer_magic: None,
            peer_auth: None,
            our_auth: None,
        }
    }

    /// Our current Magic-Number (0 if the peer Rejected the option).
    pub fn magic(&self) -> u32 {
        if self.request_magic {
            self.magic
        } else {
            0
        }
    }

    /// The peer's acked Magic-Number, if it sent one.
    pub fn peer_magic(&self) -> Option<u32> {
        self.peer_magic
    }

    /// The MRU the peer can receive (1500 unless it negotiated one).
    pub fn peer_mru(&self) -> u16 {
        self.peer_mru
    }

    /// Server: the protocol the peer Acked in our request.
    pub fn our_auth(&self) -> Option<AuthProto> {
        self.our_auth
    }

    /// Client: the protocol the peer asked us to use and we Acked.
    pub fn peer_auth(&self) -> Option<AuthProto> {
        self.peer_auth
    }

    pub fn loopback_detected(&self) -> bool {
        self.loopbacks >= LOOPBACK_LIMIT
    }

    /// Our Magic-Number came back at least once. A looped-back server
    /// Rejects its own Auth-Protocol before the limit is reached, so a
    /// failed negotiation with this set is reported as a loopback.
    pub fn loopback_suspected(&self) -> bool {
        self.loopbacks > 0
    }

    /// Why a failed LCP negotiation failed, as the link reports it.
    pub fn failure_reason(&self) -> super::link::CloseReason {
        if self.loopback_suspected() {
            super::link::CloseReason::LoopbackDetected
        } else {
            super::link::CloseReason::NegotiationFailed
        }
    }

    /// A link restored from saved state (`ServerLink::restore`): the
    /// values the peer and we agreed on before the restart.
    pub(super) fn restore_agreed(
        &mut self,
        peer_mru: u16,
        peer_magic: Option<u32>,
        our_auth: Option<AuthProto>,
    ) {
        self.request_magic = self.magic != 0;
        self.peer_mru = peer_mru;
        self.peer_magic = peer_magic;
        self.our_auth = our_auth;
    }

    fn requested_auth(&self) -> Option<AuthProto> {
        match &self.policy {
            AuthPolicy::Require(order) => order.get(self.auth_index).copied(),
            AuthPolicy::Accept(_) => None,
        }
    }

    /// The peer Naked our Auth-Protocol suggesting `data`: take its
    /// suggestion if we allow it, else the next protocol we allow.
    fn switch_auth(&mut self, suggested: &[u8]) -> Result<(), Unacceptable> {
        let AuthPolicy::Require(order) = &self.policy else {
            return Ok(());
        };
        self.auth_refused |= 1u32.checked_shl(self.auth_index as u32).unwrap_or(0);
        let untried = |i: usize| self.auth_refused & 1u32.checked_shl(i as u32).unwrap_or(0) == 0;
        let wanted = AuthProto::from_option_value(suggested)
            .and_then(|p| order.iter().position(|q| *q == p))
            .filter(|i| untried(*i));
        let next = wanted.or_else(|| (0..order.len()).find(|i| untried(*i)));
        match next {
            Some(i) => {
                self.auth_index = i;
                Ok(())
            }
            None => Err(Unacceptable),
        }
    }

    fn judge_auth(&self, data: &[u8]) -> Verdict {
        match &self.policy {
            // We never authenticate ourselves to a client.
            AuthPolicy::Require(_) => Verdict::Reject,
            AuthPolicy::Accept(allowed) => match AuthProto::from_option_value(data) {
                Some(p) if allowed.is_none_or(|a| a == p) => Verdict::Ack,
                _ => Verdict::Nak(allowed.unwrap_or(AuthProto::Chap).option_value()),
            },
        }
    }
}

impl Negotiator for LcpNegotiator {
    fn build_request(&mut self, out: &mut Vec<u8>) {
        if self.request_mru {
            LcpOption::Mru(self.our_mru).emit(out);
        }
        if let Some(p) = self.requested_auth() {
            emit_option(out, opt::AUTH_PROTOCOL, &p.option_value());
        }
        if self.request_magic {
            LcpOption::MagicNumber(self.magic).emit(out);
        }
    }

    fn judge(&mut self, o: &ConfigOption<'_>) -> Verdict {
        let Ok(parsed) = LcpOption::parse(o) else {
            return Verdict::Reject;
        };
        match parsed {
            LcpOption::Mru(v) if v >= MIN_PEER_MRU => Verdict::Ack,
            LcpOption::Mru(_) => Verdict::Nak(self.our_mru.to_be_bytes().to_vec()),
            LcpOption::Accm(_) | LcpOption::Pfc | LcpOption::Acfc => Verdict::Ack,
            LcpOption::AuthProtocol { .. } => self.judge_auth(o.data),
            LcpOption::MagicNumber(m) if self.request_magic && m == self.magic => {
                self.loopbacks = self.loopbacks.saturating_add(1);
                Verdict::Nak(next_magic(m).to_be_bytes().to_vec())
            }
            LcpOption::MagicNumber(_) => Verdict::Ack,
            LcpOption::QualityProtocol { .. } | LcpOption::Other { .. } => Verdict::Reject,
        }
    }

    fn peer_acked(&mut self, options: &[ConfigOption<'_>]) {
        self.peer_mru = DEFAULT_MRU;
        self.peer_magic = None;
        self.peer_auth = None;
        for o in options {
            match LcpOption::parse(o) {
                Ok(LcpOption::Mru(v)) => self.peer_mru = v,
                Ok(LcpOption::MagicNumber(m)) => self.peer_magic = Some(m),
                Ok(LcpOption::AuthProtocol { .. }) => {
                    self.peer_auth = AuthProto::from_option_value(o.data)
                }
                _ => {}
            }
        }
    }

    fn ours_acked(&mut self, _options: &[ConfigOption<'_>]) {
        self.our_auth = self.requested_auth();
    }

    fn handle_nak(&mut self, options: &[ConfigOption<'_>]) -> Result<(), Unacceptable> {
        for o in options {
            match o.kind {
                opt::MRU => match o.value_u16() {
                    // Take a smaller MRU if it is sane; never a larger one.
                    Some(v) if (128..=self.our_mru).contains(&v) => self.our_mru = v,
                    _ => self.request_mru = false,
                },
                opt::AUTH_PROTOCOL if self.requested_auth().is_some() => {
                    self.switch_auth(o.data)?
                }
                opt::MAGIC_NUMBER => self.magic = next_magic(self.magic),
                // Options the peer would like us to add: we do not.
                _ => {}
            }
        }
        Ok(())
    }

    fn handle_reject(&mut self, options: &[ConfigOption<'_>]) -> Result<(), Unacceptable> {
        for o in options {
            match o.kind {
                opt::MRU => self.request_mru = false,
                opt::MAGIC_NUMBER => self.request_magic = false,
                // We require authentication: no way forward without it.
                opt::AUTH_PROTOCOL if self.requested_auth().is_some() => return Err(Unacceptable),
                _ => {}
            }
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.peer_mru = DEFAULT_MRU;
        self.peer_magic = None;
        self.peer_auth = None;
        self.our_auth = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ppp::wire::ConfigOptions;
    use proptest::prelude::*;

    fn opts(bytes: &[u8]) -> Vec<ConfigOption<'_>> {
        ConfigOptions::collect_checked(bytes).unwrap()
    }

    fn server(order: Vec<AuthProto>) -> LcpNegotiator {
        LcpNegotiator::new(1458, 0x11223344, AuthPolicy::Require(order))
    }

    #[test]
    fn server_request() {
        let mut n = server(vec![AuthProto::Chap, AuthProto::Pap]);
        let mut out = Vec::new();
        n.build_request(&mut out);
        assert_eq!(
            out,
            vec![1, 4, 0x05, 0xB2, 3, 5, 0xC2, 0x23, 5, 5, 6, 0x11, 0x22, 0x33, 0x44]
        );
    }

    #[test]
    fn judge_peer_options() {
        let mut n = server(vec![AuthProto::Pap]);
        let bytes = [
            1, 4, 0x05, 0xDC, // MRU 1500
            1, 4, 0x01, 0x00, // MRU 256
            2, 6, 0, 0, 0, 0, // ACCM
            5, 6, 1, 2, 3, 4, // magic
            7, 2, 8, 2, // PFC ACFC
            4, 8, 0xC0, 0x25, 0, 0, 0, 0, // LQR
            17, 4, 5, 0xDC, // MRRU
            3, 4, 0xC0, 0x23, // peer wants us to auth
            1, 3, 0, // malformed MRU
        ];
        let v: Vec<Verdict> = opts(&bytes).iter().map(|o| n.judge(o)).collect();
        use Verdict::*;
        assert_eq!(
            v,
            vec![
                Ack,
                Nak(vec![0x05, 0xB2]),
                Ack,
                Ack,
                Ack,
                Ack,
                Reject,
                Reject,
                Reject,
                Reject
            ]
        );
    }

    #[test]
    fn loopback_magic() {
        let mut n = server(vec![AuthProto::Pap]);
        let o = [5, 6, 0x11, 0x22, 0x33, 0x44];
        for _ in 0..3 {
            assert!(
                matches!(n.judge(&opts(&o)[0]), Verdict::Nak(v) if v != [0x11, 0x22, 0x33, 0x44])
            );
        }
        assert!(n.loopback_detected());
        n.handle_nak(&opts(&o)).unwrap();
        assert_ne!(n.magic(), 0x11223344);
    }

    #[test]
    fn auth_nak_switches_within_allowed() {
        let mut n = server(vec![AuthProto::Chap, AuthProto::Pap]);
        n.handle_nak(&opts(&[3, 4, 0xC0, 0x23])).unwrap();
        assert_eq!(n.requested_auth(), Some(AuthProto::Pap));
        // Peer now asks for MS-CHAPv2: nothing left to try.
        assert_eq!(
            n.handle_nak(&opts(&[3, 5, 0xC2, 0x23, 0x81])),
            Err(Unacceptable)
        );

        let mut n = server(vec![AuthProto::Chap]);
        assert_eq!(n.handle_nak(&opts(&[3, 4, 0xC0, 0x23])), Err(Unacceptable));
        let mut n = server(vec![AuthProto::Chap, AuthProto::Pap]);
        // An unknown suggestion moves to the next protocol we allow.
        n.handle_nak(&opts(&[3, 5, 0xC2, 0x23, 0x80])).unwrap();
        assert_eq!(n.requested_auth(), Some(AuthProto::Pap));
        assert_eq!(
            n.handle_reject(&opts(&[3, 4, 0xC0, 0x23])),
            Err(Unacceptable)
        );
    }

    #[test]
    fn nak_and_reject_of_mru_and_magic() {
        let mut n = server(vec![AuthProto::Pap]);
        n.handle_nak(&opts(&[1, 4, 0x05, 0x00])).unwrap();
        let mut out = Vec::new();
        n.build_request(&mut out);
        assert_eq!(&out[..4], &[1, 4, 0x05, 0x00]);
        n.handle_reject(&opts(&[1, 4, 0x05, 0x00, 5, 6, 0x11, 0x22, 0x33, 0x44]))
            .unwrap();
        out.clear();
        n.build_request(&mut out);
        assert_eq!(out, vec![3, 4, 0xC0, 0x23]);
        assert_eq!(n.magic(), 0);
    }

    #[test]
    fn client_auth_policy() {
        let mut any = LcpNegotiator::new(1500, 1, AuthPolicy::Accept(None));
        let pap = [3, 4, 0xC0, 0x23];
        let chap = [3, 5, 0xC2, 0x23, 5];
        let mschap = [3, 5, 0xC2, 0x23, 0x81];
        assert_eq!(any.judge(&opts(&pap)[0]), Verdict::Ack);
        assert_eq!(any.judge(&opts(&chap)[0]), Verdict::Ack);
        assert_eq!(
            any.judge(&opts(&mschap)[0]),
            Verdict::Nak(vec![0xC2, 0x23, 5])
        );
        let mut pap_only = LcpNegotiator::new(1500, 1, AuthPolicy::Accept(Some(AuthProto::Pap)));
        assert_eq!(
            pap_only.judge(&opts(&chap)[0]),
            Verdict::Nak(vec![0xC0, 0x23])
        );
        pap_only.peer_acked(&opts(&[1, 4, 0x05, 0x78, 3, 4, 0xC0, 0x23]));
        assert_eq!(pap_only.peer_auth(), Some(AuthProto::Pap));
        assert_eq!(pap_only.peer_mru(), 1400);
    }

    fn lcp_option() -> impl Strategy<Value = LcpOption> {
        let bytes = || proptest::collection::vec(any::<u8>(), 0..10);
        prop_oneof![
            any::<u16>().prop_map(LcpOption::Mru),
            any::<u32>().prop_map(LcpOption::Accm),
            (any::<u16>(), bytes())
                .prop_map(|(protocol, data)| LcpOption::AuthProtocol { protocol, data }),
            (any::<u16>(), bytes())
                .prop_map(|(protocol, data)| LcpOption::QualityProtocol { protocol, data }),
            any::<u32>().prop_map(LcpOption::MagicNumber),
            Just(LcpOption::Pfc),
            Just(LcpOption::Acfc),
            (9u8..=255, bytes()).prop_map(|(kind, data)| LcpOption::Other { kind, data }),
        ]
    }

    proptest! {
        #[test]
        fn lcp_option_round_trip(o in lcp_option()) {
            let mut buf = Vec::new();
            o.emit(&mut buf);
            let parsed = ConfigOptions::collect_checked(&buf).unwrap();
            prop_assert_eq!(parsed.len(), 1);
            prop_assert_eq!(LcpOption::parse(&parsed[0]).unwrap(), o);
        }
    }
}
