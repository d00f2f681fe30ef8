//! Dynamic Authorization server side (RFC 5176): parse and verify a
//! Disconnect-Request or CoA-Request, and build the ACK/NAK. The Request
//! Authenticator is checked as RFC 5176 §2.3 says; the Message-Authenticator
//! (RFC 5176 §3.1 / RFC 3579 §3.2, computed over a zero authenticator) is
//! checked when present and can be required. l2tpns checked neither the MA
//! nor (here too: that is the I/O side's job) the client's source address.

use super::authenticator::{
    check_message_authenticator, header_authenticator, verify_request, MaCheck, HEADER_LEN,
};
use super::builder::{Builder, MAX_PACKET};
use super::reply::{split_avpair, vendor_subattributes};
use super::request::{CISCO_AVPAIR, VENDOR_CISCO};
use radius::core::avp::AVP;
use radius::core::code::Code;
use radius::core::packet::Packet;
use radius::core::{rfc2865, rfc2866, rfc2869, rfc3576};
use std::net::Ipv4Addr;

pub use radius::core::rfc3576::{
    ERROR_CAUSE_INVALID_REQUEST, ERROR_CAUSE_MISSING_ATTRIBUTE,
    ERROR_CAUSE_NAS_IDENTIFICATION_MISMATCH, ERROR_CAUSE_UNSUPPORTED_ATTRIBUTE,
    ERROR_CAUSE_UNSUPPORTED_SERVICE,
};
pub use radius::core::rfc5176::ERROR_CAUSE_INVALID_ATTRIBUTE_VALUE;
/// RFC 5176 §3.6 Error-Cause 503.
pub const ERROR_CAUSE_SESSION_CONTEXT_NOT_FOUND: u32 = 503;
/// RFC 5176 §3.6 Error-Cause 201 (on a Disconnect-ACK).
pub const ERROR_CAUSE_RESIDUAL_CONTEXT_REMOVED: u32 = 201;
/// Error-Cause attribute type (RFC 5176 §3.6).
pub const ERROR_CAUSE: u8 = rfc3576::ERROR_CAUSE_TYPE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaeKind {
    Disconnect,
    Coa,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaeRequest {
    pub kind: DaeKind,
    pub identifier: u8,
    pub user_name: Option<String>,
    pub acct_session_id: Option<String>,
    pub framed_ip: Option<Ipv4Addr>,
    pub nas_port: Option<u32>,
    pub nas_ip: Option<Ipv4Addr>,
    pub nas_identifier: Option<String>,
    pub session_timeout: Option<u32>,
    pub idle_timeout: Option<u32>,
    pub cisco_avpairs: Vec<(String, String)>,
    pub service_type: Option<u32>,
    /// Filter-Id values (l2tpns applies NAME.in / NAME.out on CoA).
    pub filter_id: Vec<String>,
    /// Attribute types we do not act on (answer 401 if the caller cares).
    pub unsupported_attributes: Vec<u8>,
    /// Known attribute types whose value is malformed (answer 407).
    pub invalid_attributes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DaeError {
    #[error("packet shorter than its header or its Length field")]
    Truncated,
    #[error("bad Length field {0}")]
    BadLength(usize),
    #[error("code {0} is not a Disconnect-Request or CoA-Request")]
    UnexpectedCode(u8),
    #[error("Request Authenticator does not match radius_secret (the sender uses another secret)")]
    BadAuthenticator,
    #[error("Message-Authenticator missing and radius_dae_require_message_authenticator is yes")]
    MissingMessageAuthenticator,
    #[error("Message-Authenticator does not verify with radius_secret")]
    BadMessageAuthenticator,
    #[error("malformed attributes: {0}")]
    Malformed(String),
}

/// Attribute types that identify the session or the NAS, or that we apply.
const HANDLED: &[u8] = &[
    rfc2865::USER_NAME_TYPE,
    rfc2865::NAS_IP_ADDRESS_TYPE,
    rfc2865::NAS_PORT_TYPE,
    rfc2865::SERVICE_TYPE_TYPE,
    rfc2865::FRAMED_IP_ADDRESS_TYPE,
    rfc2865::FILTER_ID_TYPE,
    rfc2865::SESSION_TIMEOUT_TYPE,
    rfc2865::IDLE_TIMEOUT_TYPE,
    rfc2865::NAS_IDENTIFIER_TYPE,
    rfc2865::CALLED_STATION_ID_TYPE,
    rfc2865::CALLING_STATION_ID_TYPE,
    rfc2865::STATE_TYPE,
    rfc2865::PROXY_STATE_TYPE,
    rfc2866::ACCT_SESSION_ID_TYPE,
    rfc2869::EVENT_TIMESTAMP_TYPE,
    rfc2869::MESSAGE_AUTHENTICATOR_TYPE,
    rfc2865::VENDOR_SPECIFIC_TYPE,
];

/// Check the header, the authenticators, and read the attributes.
pub fn parse_dae_request(
    bytes: &[u8],
    secret: &[u8],
    require_message_authenticator: bool,
) -> Result<DaeRequest, DaeError> {
    let header = bytes.get(..HEADER_LEN).ok_or(DaeError::Truncated)?;
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if !(HEADER_LEN..=MAX_PACKET).contains(&len) {
        return Err(DaeError::BadLength(len));
    }
    let pkt = bytes.get(..len).ok_or(DaeError::Truncated)?;
    let kind = match Code::from(header[0]) {
        Code::DisconnectRequest => DaeKind::Disconnect,
        Code::CoARequest => DaeKind::Coa,
        _ => return Err(DaeError::UnexpectedCode(header[0])),
    };
    if !verify_request(pkt, secret) {
        return Err(DaeError::BadAuthenticator);
    }
    match check_message_authenticator(pkt, &[0; 16], secret) {
        MaCheck::Valid => {}
        MaCheck::Absent if !require_message_authenticator => {}
        MaCheck::Absent => return Err(DaeError::MissingMessageAuthenticator),
        MaCheck::Invalid => return Err(DaeError::BadMessageAuthenticator),
    }
    let p = Packet::decode(pkt, secret).map_err(|e| DaeError::Malformed(e.to_string()))?;
    Ok(read_attributes(&p, kind, header[1], pkt))
}

fn read_attributes(p: &Packet, kind: DaeKind, identifier: u8, pkt: &[u8]) -> DaeRequest {
    let mut invalid = Vec::new();
    let mut first = |typ: u8, ok: Option<bool>| {
        if ok == Some(false) {
            invalid.push(typ);
        }
    };
    macro_rules! get {
        ($lookup:expr, $typ:expr) => {{
            let v = $lookup(p);
            first($typ, v.as_ref().map(|r| r.is_ok()));
            v.and_then(Result::ok)
        }};
    }
    let mut r = DaeRequest {
        kind,
        identifier,
        user_name: get!(rfc2865::lookup_user_name, rfc2865::USER_NAME_TYPE),
        acct_session_id: get!(
            rfc2866::lookup_acct_session_id,
            rfc2866::ACCT_SESSION_ID_TYPE
        ),
        framed_ip: get!(
            rfc2865::lookup_framed_ip_address,
            rfc2865::FRAMED_IP_ADDRESS_TYPE
        ),
        nas_port: get!(rfc2865::lookup_nas_port, rfc2865::NAS_PORT_TYPE),
        nas_ip: get!(rfc2865::lookup_nas_ip_address, rfc2865::NAS_IP_ADDRESS_TYPE),
        nas_identifier: get!(rfc2865::lookup_nas_identifier, rfc2865::NAS_IDENTIFIER_TYPE),
        session_timeout: get!(
            rfc2865::lookup_session_timeout,
            rfc2865::SESSION_TIMEOUT_TYPE
        ),
        idle_timeout: get!(rfc2865::lookup_idle_timeout, rfc2865::IDLE_TIMEOUT_TYPE),
        service_type: get!(rfc2865::lookup_service_type, rfc2865::SERVICE_TYPE_TYPE),
        cisco_avpairs: Vec::new(),
        filter_id: Vec::new(),
        unsupported_attributes: Vec::new(),
        invalid_attributes: Vec::new(),
    };
    r.invalid_attributes = invalid;
    for a in p.lookup_all(rfc2865::FILTER_ID_TYPE) {
        match a.encode_string() {
            Ok(s) => r.filter_id.push(s),
            Err(_) => r.invalid_attributes.push(rfc2865::FILTER_ID_TYPE),
        }
    }
    for vsa in p.lookup_all(rfc2865::VENDOR_SPECIFIC_TYPE) {
        read_vsa(&mut r, &vsa.encode_bytes());
    }
    // Unsupported: every type outside HANDLED, once each, in packet order.
    for typ in attribute_types(pkt) {
        if !HANDLED.contains(&typ) && !r.unsupported_attributes.contains(&typ) {
            r.unsupported_attributes.push(typ);
        }
    }
    r
}

fn read_vsa(r: &mut DaeRequest, value: &[u8]) {
    let Some((vendor, subs)) = vendor_subattributes(value) else {
        r.invalid_attributes.push(rfc2865::VENDOR_SPECIFIC_TYPE);
        return;
    };
    for (typ, v) in subs {
        match (vendor, typ, std::str::from_utf8(v)) {
            (VENDOR_CISCO, CISCO_AVPAIR, Ok(s)) => r.cisco_avpairs.push(split_avpair(s)),
            (VENDOR_CISCO, CISCO_AVPAIR, Err(_)) => {
                r.invalid_attributes.push(rfc2865::VENDOR_SPECIFIC_TYPE)
            }
            _ => {
                if !r
                    .unsupported_attributes
                    .contains(&rfc2865::VENDOR_SPECIFIC_TYPE)
                {
                    r.unsupported_attributes.push(rfc2865::VENDOR_SPECIFIC_TYPE);
                }
            }
        }
    }
}

/// Attribute types in packet order (the packet was validated by `Packet::decode`).
fn attribute_types(pkt: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = HEADER_LEN;
    while let (Some(&t), Some(&l)) = (pkt.get(i), pkt.get(i + 1)) {
        if l < 2 {
            break;
        }
        out.push(t);
        i += usize::from(l);
    }
    out
}

/// Disconnect-ACK/NAK or CoA-ACK/NAK for a request parsed from `req_bytes`:
/// Message-Authenticator first, Error-Cause when given, Response
/// Authenticator over the request's authenticator (RFC 5176 §2.3, §3.5).
pub fn build_dae_response(
    req_bytes: &[u8],
    req: &DaeRequest,
    ack: bool,
    error_cause: Option<u32>,
    secret: &[u8],
) -> Vec<u8> {
    let code = match (req.kind, ack) {
        (DaeKind::Disconnect, true) => Code::DisconnectACK,
        (DaeKind::Disconnect, false) => Code::DisconnectNAK,
        (DaeKind::Coa, true) => Code::CoAACK,
        (DaeKind::Coa, false) => Code::CoANAK,
    };
    let req_auth = header_authenticator(req_bytes).unwrap_or([0; 16]);
    let built = Builder::new(code, req.identifier, req_auth, secret).and_then(|mut b| {
        if let Some(cause) = error_cause {
            b.avp(AVP::from_u32(ERROR_CAUSE, cause), 4);
        }
        b.finish(secret)
    });
    match built {
        Ok(bytes) => bytes,
        Err(e) => {
            // Header-only packets always encode; keep the no-panic promise anyway.
            tracing::error!(error = %e, "cannot build DAE response");
            Vec::new()
        }
    }
}
