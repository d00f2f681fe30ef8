//! Attribute-Value Pairs: a checked iterator over a control message payload,
//! the attribute type numbers, and append-style encoders (RFC 2661 §4.1,
//! §4.4; type 46 from RFC 3145).

use thiserror::Error;

/// M bit: the receiver must understand this AVP.
pub const AVP_MANDATORY: u16 = 0x8000;
/// H bit: the value is hidden (§4.3).
pub const AVP_HIDDEN: u16 = 0x4000;
/// Reserved bits; if set the AVP is treated as unrecognised (§4.1).
pub const AVP_RESERVED: u16 = 0x3c00;
/// Length mask (10 bits).
pub const AVP_LENGTH_MASK: u16 = 0x03ff;
/// Length of the AVP header.
pub const AVP_HEADER_LEN: usize = 6;
/// Largest value an AVP can carry (1023 - 6).
pub const AVP_MAX_VALUE: usize = 1023 - AVP_HEADER_LEN;
/// IETF vendor id.
pub const VENDOR_IETF: u16 = 0;

/// Why the AVP list could not be walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum AvpError {
    #[error("truncated AVP header at offset {0}")]
    Truncated(usize),
    #[error("AVP length {len} below 6 at offset {at}")]
    TooShort { at: usize, len: usize },
    #[error("AVP length {len} at offset {at} overruns the message ({remaining} bytes left)")]
    Overrun {
        at: usize,
        len: usize,
        remaining: usize,
    },
}

/// One AVP as it appears on the wire (value still hidden if `hidden`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAvp<'a> {
    pub mandatory: bool,
    pub hidden: bool,
    /// Reserved bits were set: the AVP must be handled as unrecognised.
    pub reserved_bits: bool,
    pub vendor_id: u16,
    pub attr_type: u16,
    pub value: &'a [u8],
}

/// Iterator over the AVPs of a control message payload. Yields an error
/// once (then stops) if the list is malformed.
#[derive(Debug, Clone)]
pub struct AvpIter<'a> {
    buf: &'a [u8],
    at: usize,
    failed: bool,
}

impl<'a> AvpIter<'a> {
    pub fn new(payload: &'a [u8]) -> Self {
        AvpIter {
            buf: payload,
            at: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for AvpIter<'a> {
    type Item = Result<RawAvp<'a>, AvpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.buf.get(self.at..)?;
        if rest.is_empty() {
            return None;
        }
        let r = parse_one(rest, self.at);
        match r {
            Ok((avp, len)) => {
                self.at += len;
                Some(Ok(avp))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

fn parse_one(rest: &[u8], at: usize) -> Result<(RawAvp<'_>, usize), AvpError> {
    let hdr = rest.get(..AVP_HEADER_LEN).ok_or(AvpError::Truncated(at))?;
    let w0 = u16::from_be_bytes([hdr[0], hdr[1]]);
    let len = usize::from(w0 & AVP_LENGTH_MASK);
    if len < AVP_HEADER_LEN {
        return Err(AvpError::TooShort { at, len });
    }
    let value = rest.get(AVP_HEADER_LEN..len).ok_or(AvpError::Overrun {
        at,
        len,
        remaining: rest.len(),
    })?;
    Ok((
        RawAvp {
            mandatory: w0 & AVP_MANDATORY != 0,
            hidden: w0 & AVP_HIDDEN != 0,
            reserved_bits: w0 & AVP_RESERVED != 0,
            vendor_id: u16::from_be_bytes([hdr[2], hdr[3]]),
            attr_type: u16::from_be_bytes([hdr[4], hdr[5]]),
            value,
        },
        len,
    ))
}

/// IETF attribute types (RFC 2661 §4.4, RFC 3145).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u16)]
pub enum AvpType {
    MessageType = 0,
    ResultCode = 1,
    ProtocolVersion = 2,
    FramingCapabilities = 3,
    BearerCapabilities = 4,
    TieBreaker = 5,
    FirmwareRevision = 6,
    HostName = 7,
    VendorName = 8,
    AssignedTunnelId = 9,
    ReceiveWindowSize = 10,
    Challenge = 11,
    Q931CauseCode = 12,
    ChallengeResponse = 13,
    AssignedSessionId = 14,
    CallSerialNumber = 15,
    MinimumBps = 16,
    MaximumBps = 17,
    BearerType = 18,
    FramingType = 19,
    /// 20 is unassigned in RFC 2661 (was Packet Processing Delay in drafts).
    Reserved20 = 20,
    CalledNumber = 21,
    CallingNumber = 22,
    SubAddress = 23,
    TxConnectSpeed = 24,
    PhysicalChannelId = 25,
    InitialReceivedLcpConfreq = 26,
    LastSentLcpConfreq = 27,
    LastReceivedLcpConfreq = 28,
    ProxyAuthenType = 29,
    ProxyAuthenName = 30,
    ProxyAuthenChallenge = 31,
    ProxyAuthenId = 32,
    ProxyAuthenResponse = 33,
    CallErrors = 34,
    Accm = 35,
    RandomVector = 36,
    PrivateGroupId = 37,
    RxConnectSpeed = 38,
    SequencingRequired = 39,
    /// RFC 3145.
    PppDisconnectCauseCode = 46,
}

impl AvpType {
    /// The known type for an IETF attribute number (20 maps to `Reserved20`,
    /// which the message parser treats as unknown).
    pub fn from_u16(v: u16) -> Option<AvpType> {
        use AvpType::*;
        const ALL: [AvpType; 41] = [
            MessageType,
            ResultCode,
            ProtocolVersion,
            FramingCapabilities,
            BearerCapabilities,
            TieBreaker,
            FirmwareRevision,
            HostName,
            VendorName,
            AssignedTunnelId,
            ReceiveWindowSize,
            Challenge,
            Q931CauseCode,
            ChallengeResponse,
            AssignedSessionId,
            CallSerialNumber,
            MinimumBps,
            MaximumBps,
            BearerType,
            FramingType,
            Reserved20,
            CalledNumber,
            CallingNumber,
            SubAddress,
            TxConnectSpeed,
            PhysicalChannelId,
            InitialReceivedLcpConfreq,
            LastSentLcpConfreq,
            LastReceivedLcpConfreq,
            ProxyAuthenType,
            ProxyAuthenName,
            ProxyAuthenChallenge,
            ProxyAuthenId,
            ProxyAuthenResponse,
            CallErrors,
            Accm,
            RandomVector,
            PrivateGroupId,
            RxConnectSpeed,
            SequencingRequired,
            PppDisconnectCauseCode,
        ];
        match v {
            0..=39 => ALL.get(usize::from(v)).copied(),
            46 => Some(PppDisconnectCauseCode),
            _ => None,
        }
    }
}

/// Append an IETF AVP. Values longer than [`AVP_MAX_VALUE`] are truncated
/// (only free text such as host names could be that long).
pub fn push_avp(out: &mut Vec<u8>, mandatory: bool, hidden: bool, attr: u16, value: &[u8]) {
    let value = value.get(..AVP_MAX_VALUE).unwrap_or(value);
    let mut w0 = (AVP_HEADER_LEN + value.len()) as u16;
    if mandatory {
        w0 |= AVP_MANDATORY;
    }
    if hidden {
        w0 |= AVP_HIDDEN;
    }
    out.extend_from_slice(&w0.to_be_bytes());
    out.extend_from_slice(&VENDOR_IETF.to_be_bytes());
    out.extend_from_slice(&attr.to_be_bytes());
    out.extend_from_slice(value);
}

pub fn push_u16(out: &mut Vec<u8>, mandatory: bool, attr: AvpType, v: u16) {
    push_avp(out, mandatory, false, attr as u16, &v.to_be_bytes());
}

pub fn push_u32(out: &mut Vec<u8>, mandatory: bool, attr: AvpType, v: u32) {
    push_avp(out, mandatory, false, attr as u16, &v.to_be_bytes());
}

pub fn push_bytes(out: &mut Vec<u8>, mandatory: bool, attr: AvpType, v: &[u8]) {
    push_avp(out, mandatory, false, attr as u16, v);
}

/// The Message Type AVP, which must come first in every control message.
pub fn push_message_type(out: &mut Vec<u8>, msg_type: u16) {
    push_avp(
        out,
        true,
        false,
        AvpType::MessageType as u16,
        &msg_type.to_be_bytes(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterate() {
        let mut p = Vec::new();
        push_message_type(&mut p, 1);
        push_avp(&mut p, false, true, 7, b"lac");
        let v: Vec<_> = AvpIter::new(&p).collect::<Result<_, _>>().unwrap();
        assert_eq!(v.len(), 2);
        assert!(v[0].mandatory && !v[0].hidden && v[0].attr_type == 0 && v[0].value == [0, 1]);
        assert!(!v[1].mandatory && v[1].hidden && v[1].value == b"lac");
    }

    #[test]
    fn malformed() {
        // length < 6
        let e: Vec<_> = AvpIter::new(&[0x80, 0x05, 0, 0, 0, 0]).collect();
        assert_eq!(e, vec![Err(AvpError::TooShort { at: 0, len: 5 })]);
        // overrun
        let e: Vec<_> = AvpIter::new(&[0x80, 0x09, 0, 0, 0, 0, 1, 2]).collect();
        assert!(matches!(e[..], [Err(AvpError::Overrun { .. })]));
        // truncated header after a good AVP
        let mut p = Vec::new();
        push_message_type(&mut p, 1);
        p.extend_from_slice(&[0x80, 0x08, 0]);
        let e: Vec<_> = AvpIter::new(&p).collect();
        assert!(e[0].is_ok());
        assert_eq!(e[1], Err(AvpError::Truncated(8)));
        assert_eq!(e.len(), 2);
        // reserved bits flagged
        let v: Vec<_> = AvpIter::new(&[0x84, 0x06, 0, 0, 0, 9]).collect();
        assert!(v[0].unwrap().reserved_bits);
    }

    #[test]
    fn types() {
        for t in 0..=39u16 {
            assert_eq!(AvpType::from_u16(t).map(|x| x as u16), Some(t));
        }
        assert_eq!(AvpType::from_u16(46), Some(AvpType::PppDisconnectCauseCode));
        assert_eq!(AvpType::from_u16(40), None);
    }

    #[test]
    fn long_value_truncated() {
        let mut p = Vec::new();
        push_avp(&mut p, false, false, 7, &[b'x'; 2000]);
        assert_eq!(p.len(), 1023);
        assert_eq!(AvpIter::new(&p).count(), 1);
    }
}
