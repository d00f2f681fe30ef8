//! What the LNS asks a RADIUS server, and the encoding of those questions:
//! Access-Request (RFC 2865 §4.1, §5) and Accounting-Request (RFC 2866 §4.1,
//! §5; RFC 2869 §5 Gigawords and Event-Timestamp).

use super::builder::{BuildError, Builder};
use super::config::ClientConfig;
use crate::credentials::Credentials;
use radius::core::code::Code;
use radius::core::{rfc2865, rfc2866, rfc2869};
use std::net::Ipv4Addr;

/// Vendor id of Cisco (Cisco-AVPair is its attribute 1).
pub const VENDOR_CISCO: u32 = 9;
pub const CISCO_AVPAIR: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    Auth(AccessRequest),
    Acct(AccountingRequest),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    pub user_name: String,
    pub credentials: Credentials,
    pub nas_port: u32,
    pub calling_station_id: Option<String>,
    pub called_station_id: Option<String>,
    pub acct_session_id: String,
    pub framed_ip: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, bincode::Encode, bincode::Decode)]
pub enum AcctStatus {
    #[default]
    Start,
    Stop,
    InterimUpdate,
    AccountingOn,
    AccountingOff,
}

impl AcctStatus {
    /// RFC 2866 §5.1 Acct-Status-Type value.
    pub fn code(self) -> u32 {
        match self {
            AcctStatus::Start => rfc2866::ACCT_STATUS_TYPE_START,
            AcctStatus::Stop => rfc2866::ACCT_STATUS_TYPE_STOP,
            AcctStatus::InterimUpdate => rfc2866::ACCT_STATUS_TYPE_INTERIM_UPDATE,
            AcctStatus::AccountingOn => rfc2866::ACCT_STATUS_TYPE_ACCOUNTING_ON,
            AcctStatus::AccountingOff => rfc2866::ACCT_STATUS_TYPE_ACCOUNTING_OFF,
        }
    }

    /// Start/Stop/Interim describe a session; On/Off describe the NAS.
    fn is_session(self) -> bool {
        matches!(
            self,
            AcctStatus::Start | AcctStatus::Stop | AcctStatus::InterimUpdate
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, bincode::Encode, bincode::Decode)]
pub struct AccountingRequest {
    pub status: AcctStatus,
    pub user_name: Option<String>,
    pub acct_session_id: String,
    pub nas_port: Option<u32>,
    pub framed_ip: Option<Ipv4Addr>,
    pub calling_station_id: Option<String>,
    pub called_station_id: Option<String>,
    pub session_time: Option<u32>,
    /// 64-bit counters, sent as Octets (low 32 bits) + Gigawords (high 32 bits).
    pub input_octets: u64,
    pub output_octets: u64,
    pub input_packets: u64,
    pub output_packets: u64,
    /// Acct-Terminate-Cause, sent on Stop only.
    pub terminate_cause: Option<u32>,
    /// Class attributes from the Access-Accept, echoed (RFC 2865 §5.25).
    pub class: Vec<Vec<u8>>,
    /// Appended last (plugins' `radius_account`, disc-cause-ext).
    pub extra: Vec<ExtraAttribute>,
    /// Event-Timestamp (RFC 2869 §5.3, seconds since the Unix epoch); the
    /// core reads no clock, so the caller supplies it when it wants one.
    pub event_timestamp: Option<u32>,
}

/// An attribute appended to an Accounting-Request beyond the ones the LNS
/// writes itself.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum ExtraAttribute {
    /// A standard attribute (RFC 2865 §5): type and raw value.
    Standard { typ: u8, value: Vec<u8> },
    /// One sub-attribute of a vendor, inside a Vendor-Specific (26).
    Vendor {
        vendor: u32,
        typ: u8,
        value: Vec<u8>,
    },
}

impl ExtraAttribute {
    /// Cisco-AVPair (vendor 9, attribute 1), "key=value"; a longer one
    /// is cut on a char boundary.
    pub fn cisco_avpair(pair: &str) -> ExtraAttribute {
        let pair = super::builder::clamp_str(pair, super::builder::MAX_VENDOR_VALUE);
        ExtraAttribute::Vendor {
            vendor: VENDOR_CISCO,
            typ: CISCO_AVPAIR,
            value: pair.as_bytes().to_vec(),
        }
    }
}

/// Low and high 32 bits of a 64-bit counter (Octets, Gigawords: RFC 2869 §5.1).
pub fn split_gigawords(v: u64) -> (u32, u32) {
    (v as u32, (v >> 32) as u32)
}

/// Packet counters saturate at 2^32-1 (no Gigawords for packets).
fn saturate(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn nas_attributes(b: &mut Builder, cfg: &ClientConfig) {
    b.ipv4(rfc2865::NAS_IP_ADDRESS_TYPE, cfg.nas_ip);
    if !cfg.nas_identifier.is_empty() {
        b.string(rfc2865::NAS_IDENTIFIER_TYPE, &cfg.nas_identifier);
    }
}

fn station_ids(b: &mut Builder, calling: &Option<String>, called: &Option<String>) {
    if let Some(s) = called {
        b.string(rfc2865::CALLED_STATION_ID_TYPE, s);
    }
    if let Some(s) = calling {
        b.string(rfc2865::CALLING_STATION_ID_TYPE, s);
    }
}

/// Access-Request with `request_authenticator` (also the PAP hiding IV).
pub fn encode_access_request(
    req: &AccessRequest,
    identifier: u8,
    request_authenticator: [u8; 16],
    cfg: &ClientConfig,
) -> Result<Vec<u8>, BuildError> {
    let mut b = Builder::new(
        Code::AccessRequest,
        identifier,
        request_authenticator,
        &cfg.secret,
    )?;
    b.string(rfc2865::USER_NAME_TYPE, &req.user_name);
    match &req.credentials {
        Credentials::Pap { password } => b.user_password(password)?,
        Credentials::Chap {
            id,
            challenge,
            response,
        } => {
            let mut v = Vec::with_capacity(1 + response.len());
            v.push(*id);
            v.extend_from_slice(response);
            b.bytes(rfc2865::CHAP_PASSWORD_TYPE, &v);
            b.bytes(rfc2865::CHAP_CHALLENGE_TYPE, challenge);
        }
    }
    nas_attributes(&mut b, cfg);
    b.u32(rfc2865::NAS_PORT_TYPE, req.nas_port);
    b.u32(rfc2865::NAS_PORT_TYPE_TYPE, rfc2865::NAS_PORT_TYPE_VIRTUAL);
    b.u32(
        rfc2865::SERVICE_TYPE_TYPE,
        rfc2865::SERVICE_TYPE_FRAMED_USER,
    );
    b.u32(rfc2865::FRAMED_PROTOCOL_TYPE, rfc2865::FRAMED_PROTOCOL_PPP);
    if let Some(ip) = req.framed_ip {
        b.ipv4(rfc2865::FRAMED_IP_ADDRESS_TYPE, ip);
    }
    station_ids(&mut b, &req.calling_station_id, &req.called_station_id);
    b.string(rfc2866::ACCT_SESSION_ID_TYPE, &req.acct_session_id);
    b.finish(&cfg.secret)
}

/// Accounting-Request; `delay_secs` is Acct-Delay-Time (RFC 2866 §5.2).
pub fn encode_accounting_request(
    req: &AccountingRequest,
    identifier: u8,
    delay_secs: u32,
    cfg: &ClientConfig,
) -> Result<Vec<u8>, BuildError> {
    let mut b = Builder::new(Code::AccountingRequest, identifier, [0; 16], &cfg.secret)?;
    b.u32(rfc2866::ACCT_STATUS_TYPE_TYPE, req.status.code());
    b.string(rfc2866::ACCT_SESSION_ID_TYPE, &req.acct_session_id);
    nas_attributes(&mut b, cfg);
    if let Some(port) = req.nas_port {
        b.u32(rfc2865::NAS_PORT_TYPE, port);
    }
    b.u32(rfc2865::NAS_PORT_TYPE_TYPE, rfc2865::NAS_PORT_TYPE_VIRTUAL);
    if let Some(user) = &req.user_name {
        b.string(rfc2865::USER_NAME_TYPE, user);
    }
    if req.status.is_session() {
        b.u32(
            rfc2865::SERVICE_TYPE_TYPE,
            rfc2865::SERVICE_TYPE_FRAMED_USER,
        );
        b.u32(rfc2865::FRAMED_PROTOCOL_TYPE, rfc2865::FRAMED_PROTOCOL_PPP);
    }
    if let Some(ip) = req.framed_ip {
        b.ipv4(rfc2865::FRAMED_IP_ADDRESS_TYPE, ip);
    }
    station_ids(&mut b, &req.calling_station_id, &req.called_station_id);
    for class in &req.class {
        b.bytes(rfc2865::CLASS_TYPE, class);
    }
    b.u32(rfc2866::ACCT_DELAY_TIME_TYPE, delay_secs);
    if matches!(req.status, AcctStatus::Stop | AcctStatus::InterimUpdate) {
        counters(&mut b, req);
    }
    if req.status == AcctStatus::Stop {
        if let Some(cause) = req.terminate_cause {
            b.u32(rfc2866::ACCT_TERMINATE_CAUSE_TYPE, cause);
        }
    }
    if let Some(ts) = req.event_timestamp {
        b.u32(rfc2869::EVENT_TIMESTAMP_TYPE, ts);
    }
    for a in &req.extra {
        match a {
            ExtraAttribute::Standard { typ, value } => b.bytes(*typ, value),
            ExtraAttribute::Vendor { vendor, typ, value } => b.vsa(*vendor, *typ, value),
        }
    }
    b.finish(&cfg.secret)
}

fn counters(b: &mut Builder, req: &AccountingRequest) {
    if let Some(t) = req.session_time {
        b.u32(rfc2866::ACCT_SESSION_TIME_TYPE, t);
    }
    let (in_lo, in_hi) = split_gigawords(req.input_octets);
    let (out_lo, out_hi) = split_gigawords(req.output_octets);
    b.u32(rfc2866::ACCT_INPUT_OCTETS_TYPE, in_lo);
    b.u32(rfc2866::ACCT_OUTPUT_OCTETS_TYPE, out_lo);
    b.u32(rfc2869::ACCT_INPUT_GIGAWORDS_TYPE, in_hi);
    b.u32(rfc2869::ACCT_OUTPUT_GIGAWORDS_TYPE, out_hi);
    b.u32(
        rfc2866::ACCT_INPUT_PACKETS_TYPE,
        saturate(req.input_packets),
    );
    b.u32(
        rfc2866::ACCT_OUTPUT_PACKETS_TYPE,
        saturate(req.output_packets),
    );
}
