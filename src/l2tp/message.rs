//! Control message representation: the message type and typed values of
//! every RFC 2661 AVP we understand (§4.4, §6; PPP Disconnect Cause from
//! RFC 3145). `parse` walks the AVPs of a message payload (unhiding them with
//! the preceding Random Vector, §4.3) and `emit` writes them back.

use super::avp::{push_avp, push_message_type, AvpError, AvpIter, AvpType, VENDOR_IETF};
use super::hidden::{hide, unhide, HiddenError};
use thiserror::Error;

/// Control message types (§6). `Zlb` is the AVP-less acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MessageType {
    #[default]
    Zlb,
    Sccrq,
    Sccrp,
    Scccn,
    StopCcn,
    Hello,
    Ocrq,
    Ocrp,
    Occn,
    Icrq,
    Icrp,
    Iccn,
    Cdn,
    Wen,
    Sli,
    /// A value we do not know (0, 5, 13, >16).
    Unknown(u16),
}

impl MessageType {
    pub fn from_u16(v: u16) -> MessageType {
        use MessageType::*;
        match v {
            1 => Sccrq,
            2 => Sccrp,
            3 => Scccn,
            4 => StopCcn,
            6 => Hello,
            7 => Ocrq,
            8 => Ocrp,
            9 => Occn,
            10 => Icrq,
            11 => Icrp,
            12 => Iccn,
            14 => Cdn,
            15 => Wen,
            16 => Sli,
            other => Unknown(other),
        }
    }

    /// The wire value (`Zlb` has none and maps to 0).
    pub fn to_u16(self) -> u16 {
        use MessageType::*;
        match self {
            Zlb => 0,
            Sccrq => 1,
            Sccrp => 2,
            Scccn => 3,
            StopCcn => 4,
            Hello => 6,
            Ocrq => 7,
            Ocrp => 8,
            Occn => 9,
            Icrq => 10,
            Icrp => 11,
            Iccn => 12,
            Cdn => 14,
            Wen => 15,
            Sli => 16,
            Unknown(v) => v,
        }
    }

    /// Call-management messages (§6.7-6.16) concern one session; the rest
    /// concern the whole tunnel. Decides StopCCN vs CDN for errors (§4.1).
    pub fn is_session_scoped(self) -> bool {
        use MessageType::*;
        matches!(
            self,
            Ocrq | Ocrp | Occn | Icrq | Icrp | Iccn | Cdn | Wen | Sli
        )
    }
}

/// Result Code AVP (§4.4.2), as received.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResultCode {
    pub result: u16,
    pub error: Option<u16>,
    pub message: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolVersion {
    pub version: u8,
    pub revision: u8,
}

/// Q.931 Cause Code AVP (§4.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Q931Cause {
    pub cause: u16,
    pub msg: u8,
    pub advisory: Vec<u8>,
}

/// Call Errors AVP (§4.4.6, in WEN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallErrors {
    pub crc: u32,
    pub framing: u32,
    pub hardware_overruns: u32,
    pub buffer_overruns: u32,
    pub timeout: u32,
    pub alignment: u32,
}

/// ACCM AVP (§4.4.6, in SLI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Accm {
    pub send: u32,
    pub recv: u32,
}

/// PPP Disconnect Cause Code AVP (RFC 3145 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PppDisconnectCause {
    pub code: u16,
    pub protocol: u16,
    pub direction: u8,
    pub message: Vec<u8>,
}

/// A parsed (or to be emitted) control message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ControlMessage {
    pub message_type: MessageType,
    pub result_code: Option<ResultCode>,
    pub protocol_version: Option<ProtocolVersion>,
    pub framing_capabilities: Option<u32>,
    pub bearer_capabilities: Option<u32>,
    pub tie_breaker: Option<[u8; 8]>,
    pub firmware_revision: Option<u16>,
    pub host_name: Option<Vec<u8>>,
    pub vendor_name: Option<Vec<u8>>,
    pub assigned_tunnel_id: Option<u16>,
    pub receive_window_size: Option<u16>,
    pub challenge: Option<Vec<u8>>,
    pub q931_cause: Option<Q931Cause>,
    pub challenge_response: Option<[u8; 16]>,
    pub assigned_session_id: Option<u16>,
    pub call_serial_number: Option<u32>,
    pub minimum_bps: Option<u32>,
    pub maximum_bps: Option<u32>,
    pub bearer_type: Option<u32>,
    pub framing_type: Option<u32>,
    pub called_number: Option<Vec<u8>>,
    pub calling_number: Option<Vec<u8>>,
    pub sub_address: Option<Vec<u8>>,
    pub tx_connect_speed: Option<u32>,
    pub physical_channel_id: Option<u32>,
    pub initial_received_lcp_confreq: Option<Vec<u8>>,
    pub last_sent_lcp_confreq: Option<Vec<u8>>,
    pub last_received_lcp_confreq: Option<Vec<u8>>,
    pub proxy_authen_type: Option<u16>,
    pub proxy_authen_name: Option<Vec<u8>>,
    pub proxy_authen_challenge: Option<Vec<u8>>,
    pub proxy_authen_id: Option<u8>,
    pub proxy_authen_response: Option<Vec<u8>>,
    pub call_errors: Option<CallErrors>,
    pub accm: Option<Accm>,
    pub random_vector: Option<Vec<u8>>,
    pub private_group_id: Option<Vec<u8>>,
    pub rx_connect_speed: Option<u32>,
    pub sequencing_required: bool,
    pub ppp_disconnect_cause: Option<PppDisconnectCause>,
    /// Attribute types that arrived hidden; on emit, the ones to hide.
    pub hidden_avps: Vec<u16>,
    /// First unrecognised AVP with the M bit set (vendor AVPs included).
    /// The message must then be refused as §4.1 says: StopCCN for a
    /// tunnel-scoped message, CDN for a session-scoped one, both with
    /// result 2 / error 8.
    pub unknown_mandatory: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageError {
    #[error(transparent)]
    Avp(#[from] AvpError),
    #[error("first AVP is not a valid Message Type")]
    MissingMessageType,
    #[error("AVP {attr} has invalid length {len}")]
    BadAvpLength { attr: u16, len: usize },
    #[error("hidden AVP {0} without a preceding Random Vector")]
    HiddenWithoutRandomVector(u16),
    #[error("hidden AVP {0} but no shared secret configured")]
    HiddenWithoutSecret(u16),
    #[error("hidden AVP {attr}: {err}")]
    Hidden { attr: u16, err: HiddenError },
    #[error("{message:?} lacks required AVP {attr:?}")]
    MissingAvp { message: MessageType, attr: AvpType },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EmitError {
    #[error("AVP {0} must be hidden but there is no secret or Random Vector")]
    CannotHide(u16),
}

fn u16_of(attr: u16, v: &[u8]) -> Result<u16, MessageError> {
    match v {
        [a, b] => Ok(u16::from_be_bytes([*a, *b])),
        _ => Err(MessageError::BadAvpLength { attr, len: v.len() }),
    }
}

fn u32_of(attr: u16, v: &[u8]) -> Result<u32, MessageError> {
    match v {
        [a, b, c, d] => Ok(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => Err(MessageError::BadAvpLength { attr, len: v.len() }),
    }
}

fn be32(v: &[u8], at: usize) -> u32 {
    match v.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

impl ControlMessage {
    pub fn new(message_type: MessageType) -> Self {
        ControlMessage {
            message_type,
            ..Default::default()
        }
    }

    /// Parse the AVPs of a control message (the header's payload). An empty
    /// payload is a ZLB. `secret` unhides hidden AVPs.
    pub fn parse(payload: &[u8], secret: Option<&[u8]>) -> Result<ControlMessage, MessageError> {
        let mut msg = ControlMessage::default();
        if payload.is_empty() {
            return Ok(msg);
        }
        let mut iter = AvpIter::new(payload);
        let first = iter.next().ok_or(MessageError::MissingMessageType)??;
        if first.vendor_id != VENDOR_IETF
            || first.attr_type != AvpType::MessageType as u16
            || first.hidden
        {
            return Err(MessageError::MissingMessageType);
        }
        let mt = u16_of(0, first.value).map_err(|_| MessageError::MissingMessageType)?;
        msg.message_type = MessageType::from_u16(mt);
        if matches!(msg.message_type, MessageType::Unknown(_)) && first.mandatory {
            msg.unknown_mandatory = Some(0);
        }
        for avp in iter {
            let avp = avp?;
            let known = if avp.vendor_id == VENDOR_IETF && !avp.reserved_bits {
                AvpType::from_u16(avp.attr_type)
                    .filter(|t| !matches!(t, AvpType::Reserved20 | AvpType::MessageType))
            } else {
                None
            };
            let Some(t) = known else {
                if avp.mandatory && msg.unknown_mandatory.is_none() {
                    msg.unknown_mandatory = Some(avp.attr_type);
                }
                continue;
            };
            let clear;
            let value = if avp.hidden && t != AvpType::RandomVector {
                let rv = msg
                    .random_vector
                    .as_deref()
                    .ok_or(MessageError::HiddenWithoutRandomVector(avp.attr_type))?;
                let secret = secret.ok_or(MessageError::HiddenWithoutSecret(avp.attr_type))?;
                clear = unhide(avp.attr_type, secret, rv, avp.value).map_err(|err| {
                    MessageError::Hidden {
                        attr: avp.attr_type,
                        err,
                    }
                })?;
                // Kept sorted and unique so that parse(emit(m)) == m.
                if let Err(i) = msg.hidden_avps.binary_search(&avp.attr_type) {
                    msg.hidden_avps.insert(i, avp.attr_type);
                }
                &clear[..]
            } else {
                avp.value
            };
            msg.set_field(t, value)?;
        }
        msg.check_required()?;
        Ok(msg)
    }

    fn set_field(&mut self, t: AvpType, v: &[u8]) -> Result<(), MessageError> {
        use AvpType as A;
        let a = t as u16;
        let bad = || MessageError::BadAvpLength {
            attr: a,
            len: v.len(),
        };
        match t {
            A::MessageType | A::Reserved20 => {}
            A::ResultCode => {
                let result = u16_of(a, v.get(..2).ok_or_else(bad)?)?;
                let (error, message) = match v.len() {
                    2 => (None, None),
                    3 => return Err(bad()),
                    4 => (Some(u16_of(a, &v[2..4])?), None),
                    _ => (Some(u16_of(a, &v[2..4])?), Some(v[4..].to_vec())),
                };
                self.result_code = Some(ResultCode {
                    result,
                    error,
                    message,
                });
            }
            A::ProtocolVersion => match v {
                [version, revision] => {
                    self.protocol_version = Some(ProtocolVersion {
                        version: *version,
                        revision: *revision,
                    })
                }
                _ => return Err(bad()),
            },
            A::FramingCapabilities => self.framing_capabilities = Some(u32_of(a, v)?),
            A::BearerCapabilities => self.bearer_capabilities = Some(u32_of(a, v)?),
            A::TieBreaker => self.tie_breaker = Some(v.try_into().map_err(|_| bad())?),
            A::FirmwareRevision => self.firmware_revision = Some(u16_of(a, v)?),
            A::HostName => self.host_name = Some(v.to_vec()),
            A::VendorName => self.vendor_name = Some(v.to_vec()),
            A::AssignedTunnelId => self.assigned_tunnel_id = Some(u16_of(a, v)?),
            A::ReceiveWindowSize => self.receive_window_size = Some(u16_of(a, v)?),
            A::Challenge => {
                if v.is_empty() {
                    return Err(bad());
                }
                self.challenge = Some(v.to_vec())
            }
            A::Q931CauseCode => {
                if v.len() < 3 {
                    return Err(bad());
                }
                self.q931_cause = Some(Q931Cause {
                    cause: u16::from_be_bytes([v[0], v[1]]),
                    msg: v[2],
                    advisory: v[3..].to_vec(),
                })
            }
            A::ChallengeResponse => {
                self.challenge_response = Some(v.try_into().map_err(|_| bad())?)
            }
            A::AssignedSessionId => self.assigned_session_id = Some(u16_of(a, v)?),
            A::CallSerialNumber => self.call_serial_number = Some(u32_of(a, v)?),
            A::MinimumBps => self.minimum_bps = Some(u32_of(a, v)?),
            A::MaximumBps => self.maximum_bps = Some(u32_of(a, v)?),
            A::BearerType => self.bearer_type = Some(u32_of(a, v)?),
            A::FramingType => self.framing_type = Some(u32_of(a, v)?),
            A::CalledNumber => self.called_number = Some(v.to_vec()),
            A::CallingNumber => self.calling_number = Some(v.to_vec()),
            A::SubAddress => self.sub_address = Some(v.to_vec()),
            A::TxConnectSpeed => self.tx_connect_speed = Some(u32_of(a, v)?),
            A::PhysicalChannelId => self.physical_channel_id = Some(u32_of(a, v)?),
            A::InitialReceivedLcpConfreq => self.initial_received_lcp_confreq = Some(v.to_vec()),
            A::LastSentLcpConfreq => self.last_sent_lcp_confreq = Some(v.to_vec()),
            A::LastReceivedLcpConfreq => self.last_received_lcp_confreq = Some(v.to_vec()),
            A::ProxyAuthenType => self.proxy_authen_type = Some(u16_of(a, v)?),
            A::ProxyAuthenName => self.proxy_authen_name = Some(v.to_vec()),
            A::ProxyAuthenChallenge => self.proxy_authen_challenge = Some(v.to_vec()),
            A::ProxyAuthenId => match v {
                [_, id] => self.proxy_authen_id = Some(*id),
                _ => return Err(bad()),
            },
            A::ProxyAuthenResponse => self.proxy_authen_response = Some(v.to_vec()),
            A::CallErrors => {
                if v.len() != 26 {
                    return Err(bad());
                }
                self.call_errors = Some(CallErrors {
                    crc: be32(v, 2),
                    framing: be32(v, 6),
                    hardware_overruns: be32(v, 10),
                    buffer_overruns: be32(v, 14),
                    timeout: be32(v, 18),
                    alignment: be32(v, 22),
                })
            }
            A::Accm => {
                if v.len() != 10 {
                    return Err(bad());
                }
                self.accm = Some(Accm {
                    send: be32(v, 2),
                    recv: be32(v, 6),
                })
            }
            A::RandomVector => {
                if v.is_empty() {
                    return Err(bad());
                }
                self.random_vector = Some(v.to_vec())
            }
            A::PrivateGroupId => self.private_group_id = Some(v.to_vec()),
            A::RxConnectSpeed => self.rx_connect_speed = Some(u32_of(a, v)?),
            A::SequencingRequired => self.sequencing_required = true,
            A::PppDisconnectCauseCode => {
                if v.len() < 5 {
                    return Err(bad());
                }
                self.ppp_disconnect_cause = Some(PppDisconnectCause {
                    code: u16::from_be_bytes([v[0], v[1]]),
                    protocol: u16::from_be_bytes([v[2], v[3]]),
                    direction: v[4],
                    message: v[5..].to_vec(),
                })
            }
        }
        Ok(())
    }

    /// Required AVPs we need to act on a message. We are deliberately more
    /// lenient than §6 (e.g. Framing Capabilities in SCCRQ, Result Code in
    /// StopCCN/CDN are not enforced): refusing a message only makes the peer
    /// retransmit it until the tunnel dies.
    fn check_required(&self) -> Result<(), MessageError> {
        use AvpType as A;
        use MessageType as M;
        let need: &[(bool, AvpType)] = match self.message_type {
            M::Sccrq | M::Sccrp => &[
                (self.protocol_version.is_some(), A::ProtocolVersion),
                (self.host_name.is_some(), A::HostName),
                (self.assigned_tunnel_id.is_some(), A::AssignedTunnelId),
            ],
            M::Icrq | M::Icrp | M::Ocrq => {
                &[(self.assigned_session_id.is_some(), A::AssignedSessionId)]
            }
            _ => &[],
        };
        for (present, attr) in need {
            if !present {
                return Err(MessageError::MissingAvp {
                    message: self.message_type,
                    attr: *attr,
                });
            }
        }
        Ok(())
    }

    /// Append the AVPs of this message to `out` (nothing for a ZLB). AVPs
    /// listed in `hidden_avps` are hidden with `secret` and `random_vector`,
    /// which is emitted right after the Message Type so it precedes them.
    pub fn emit(&self, out: &mut Vec<u8>, secret: Option<&[u8]>) -> Result<(), EmitError> {
        if self.message_type == MessageType::Zlb {
            return Ok(());
        }
        push_message_type(out, self.message_type.to_u16());
        let mut e = Emitter {
            out,
            secret,
            rv: self.random_vector.as_deref(),
            hidden: &self.hidden_avps,
        };
        use AvpType as A;
        if let Some(rv) = &self.random_vector {
            push_avp(e.out, true, false, A::RandomVector as u16, rv);
        }
        if let Some(r) = &self.result_code {
            let mut v = r.result.to_be_bytes().to_vec();
            if r.error.is_some() || r.message.is_some() {
                v.extend_from_slice(&r.error.unwrap_or(0).to_be_bytes());
            }
            if let Some(m) = &r.message {
                v.extend_from_slice(m);
            }
            e.put(A::ResultCode, true, &v)?;
        }
        if let Some(p) = self.protocol_version {
            e.put(A::ProtocolVersion, true, &[p.version, p.revision])?;
        }
        e.u32(A::FramingCapabilities, true, self.framing_capabilities)?;
        e.u32(A::BearerCapabilities, true, self.bearer_capabilities)?;
        if let Some(t) = &self.tie_breaker {
            e.put(A::TieBreaker, false, t)?;
        }
        e.u16(A::FirmwareRevision, false, self.firmware_revision)?;
        e.bytes(A::HostName, true, &self.host_name)?;
        e.bytes(A::VendorName, false, &self.vendor_name)?;
        e.u16(A::AssignedTunnelId, true, self.assigned_tunnel_id)?;
        e.u16(A::ReceiveWindowSize, true, self.receive_window_size)?;
        e.bytes(A::Challenge, true, &self.challenge)?;
        if let Some(q) = &self.q931_cause {
            let mut v = q.cause.to_be_bytes().to_vec();
            v.push(q.msg);
            v.extend_from_slice(&q.advisory);
            e.put(A::Q931CauseCode, true, &v)?;
        }
        if let Some(r) = &self.challenge_response {
            e.put(A::ChallengeResponse, true, r)?;
        }
        e.u16(A::AssignedSessionId, true, self.assigned_session_id)?;
        e.u32(A::CallSerialNumber, true, self.call_serial_number)?;
        e.u32(A::MinimumBps, true, self.minimum_bps)?;
        e.u32(A::MaximumBps, true, self.maximum_bps)?;
        e.u32(A::BearerType, true, self.bearer_type)?;
        e.u32(A::FramingType, true, self.framing_type)?;
        e.bytes(A::CalledNumber, true, &self.called_number)?;
        e.bytes(A::CallingNumber, true, &self.calling_number)?;
        e.bytes(A::SubAddress, true, &self.sub_address)?;
        e.u32(A::TxConnectSpeed, true, self.tx_connect_speed)?;
        e.u32(A::PhysicalChannelId, false, self.physical_channel_id)?;
        e.bytes(
            A::InitialReceivedLcpConfreq,
            false,
            &self.initial_received_lcp_confreq,
        )?;
        e.bytes(A::LastSentLcpConfreq, false, &self.last_sent_lcp_confreq)?;
        e.bytes(
            A::LastReceivedLcpConfreq,
            false,
            &self.last_received_lcp_confreq,
        )?;
        e.u16(A::ProxyAuthenType, false, self.proxy_authen_type)?;
        e.bytes(A::ProxyAuthenName, false, &self.proxy_authen_name)?;
        e.bytes(A::ProxyAuthenChallenge, false, &self.proxy_authen_challenge)?;
        if let Some(id) = self.proxy_authen_id {
            e.put(A::ProxyAuthenId, false, &[0, id])?;
        }
        e.bytes(A::ProxyAuthenResponse, false, &self.proxy_authen_response)?;
        if let Some(c) = &self.call_errors {
            let mut v = vec![0, 0];
            for x in [
                c.crc,
                c.framing,
                c.hardware_overruns,
                c.buffer_overruns,
                c.timeout,
                c.alignment,
            ] {
                v.extend_from_slice(&x.to_be_bytes());
            }
            e.put(A::CallErrors, true, &v)?;
        }
        if let Some(a) = &self.accm {
            let mut v = vec![0, 0];
            v.extend_from_slice(&a.send.to_be_bytes());
            v.extend_from_slice(&a.recv.to_be_bytes());
            e.put(A::Accm, true, &v)?;
        }
        e.bytes(A::PrivateGroupId, false, &self.private_group_id)?;
        e.u32(A::RxConnectSpeed, false, self.rx_connect_speed)?;
        if self.sequencing_required {
            e.put(A::SequencingRequired, true, &[])?;
        }
        if let Some(d) = &self.ppp_disconnect_cause {
            let mut v = d.code.to_be_bytes().to_vec();
            v.extend_from_slice(&d.protocol.to_be_bytes());
            v.push(d.direction);
            v.extend_from_slice(&d.message);
            e.put(A::PppDisconnectCauseCode, false, &v)?;
        }
        Ok(())
    }

    /// The message as a fresh payload `Vec`.
    pub fn to_payload(&self, secret: Option<&[u8]>) -> Result<Vec<u8>, EmitError> {
        let mut v = Vec::with_capacity(128);
        self.emit(&mut v, secret)?;
        Ok(v)
    }
}

struct Emitter<'a> {
    out: &'a mut Vec<u8>,
    secret: Option<&'a [u8]>,
    rv: Option<&'a [u8]>,
    hidden: &'a [u16],
}

impl Emitter<'_> {
    fn put(&mut self, t: AvpType, mandatory: bool, v: &[u8]) -> Result<(), EmitError> {
        let a = t as u16;
        if self.hidden.contains(&a) {
            let (Some(secret), Some(rv)) = (self.secret, self.rv) else {
                return Err(EmitError::CannotHide(a));
            };
            push_avp(self.out, mandatory, true, a, &hide(a, secret, rv, v, 0));
        } else {
            push_avp(self.out, mandatory, false, a, v);
        }
        Ok(())
    }
    fn u16(&mut self, t: AvpType, m: bool, v: Option<u16>) -> Result<(), EmitError> {
        v.map_or(Ok(()), |v| self.put(t, m, &v.to_be_bytes()))
    }
    fn u32(&mut self, t: AvpType, m: bool, v: Option<u32>) -> Result<(), EmitError> {
        v.map_or(Ok(()), |v| self.put(t, m, &v.to_be_bytes()))
    }
    fn bytes(&mut self, t: AvpType, m: bool, v: &Option<Vec<u8>>) -> Result<(), EmitError> {
        v.as_ref().map_or(Ok(()), |v| self.put(t, m, v))
    }
}

#[cfg(test)]
mod tests;
