//! Builds outgoing RADIUS packets with radius-rs as the codec, keeping the
//! total under the RFC 2865 §3 maximum of 4096 octets and every attribute
//! under 253 value octets (longer values are cut, whole attributes that no
//! longer fit are left out), and places the Message-Authenticator (RFC 3579
//! §3.2) first among the attributes (Blast-RADIUS mitigation).

use super::authenticator::{
    md5_authenticator, set_header_authenticator, sign_message_authenticator, HEADER_LEN,
};
use radius::core::avp::AVP;
use radius::core::code::Code;
use radius::core::packet::Packet;
use radius::core::rfc2869;
use std::net::Ipv4Addr;

/// RFC 2865 §3: maximum packet length.
pub const MAX_PACKET: usize = 4096;
/// Largest attribute value.
pub const MAX_VALUE: usize = 253;
/// Largest value of a vendor sub-attribute (4 vendor id + 2 sub-header).
pub const MAX_VENDOR_VALUE: usize = MAX_VALUE - 6;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    #[error("radius codec: {0}")]
    Codec(String),
}

/// How the header authenticator and Message-Authenticator are computed.
#[derive(Debug, Clone, Copy)]
pub enum Signing {
    /// Access-Request: random Request Authenticator given by the caller.
    Request([u8; 16]),
    /// Accounting/CoA/Disconnect-Request: MA over a zero authenticator, then
    /// the Request Authenticator = MD5(packet with zero auth | secret).
    HashedRequest,
    /// A response: MA and Response Authenticator over the request's authenticator.
    Response([u8; 16]),
}

pub struct Builder {
    packet: Packet,
    len: usize,
}

/// Cut a string to at most `max` bytes on a char boundary.
pub fn clamp_str(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Builder {
    /// Header with the given code and identifier; authenticator filled at `finish`.
    /// Starts with a zero Message-Authenticator attribute.
    pub fn new(
        code: Code,
        identifier: u8,
        header_auth: [u8; 16],
        secret: &[u8],
    ) -> Result<Builder, BuildError> {
        let mut header = [0u8; HEADER_LEN];
        header[0] = code as u8;
        header[1] = identifier;
        header[3] = HEADER_LEN as u8;
        header[4..].copy_from_slice(&header_auth);
        // Decoding our own header avoids radius-rs's internal random authenticator.
        let mut packet =
            Packet::decode(&header, secret).map_err(|e| BuildError::Codec(e.to_string()))?;
        rfc2869::add_message_authenticator(&mut packet, &[0; 16]);
        Ok(Builder {
            packet,
            len: HEADER_LEN + 18,
        })
    }

    /// Account for an attribute of `value_len` octets; false if it no longer fits.
    fn fits(&mut self, value_len: usize) -> bool {
        let total = self.len + 2 + value_len;
        if total > MAX_PACKET {
            tracing::warn!(value_len, "RADIUS packet full, attribute left out");
            return false;
        }
        self.len = total;
        true
    }

    pub fn avp(&mut self, avp: AVP, value_len: usize) {
        if self.fits(value_len) {
            self.packet.add(avp);
        }
    }

    pub fn string(&mut self, typ: u8, s: &str) {
        let s = clamp_str(s, MAX_VALUE);
        self.avp(AVP::from_string(typ, s), s.len());
    }

    pub fn bytes(&mut self, typ: u8, b: &[u8]) {
        let b = b.get(..MAX_VALUE).unwrap_or(b);
        self.avp(AVP::from_bytes(typ, b), b.len());
    }

    pub fn u32(&mut self, typ: u8, v: u32) {
        self.avp(AVP::from_u32(typ, v), 4);
    }

    pub fn ipv4(&mut self, typ: u8, v: Ipv4Addr) {
        self.avp(AVP::from_ipv4(typ, &v), 4);
    }

    /// RFC 2865 §5.2 User-Password hiding with the packet's authenticator.
    pub fn user_password(&mut self, password: &[u8]) -> Result<(), BuildError> {
        // The RFC limits the password to 128 octets.
        let pw = password.get(..128).unwrap_or(password);
        let padded = pw.len().div_ceil(16).max(1) * 16;
        if self.fits(padded) {
            radius::core::rfc2865::add_user_password(&mut self.packet, pw)
                .map_err(|e| BuildError::Codec(e.to_string()))?;
        }
        Ok(())
    }

    /// Vendor-Specific (26) with one sub-attribute (RFC 2865 §5.26).
    pub fn vsa(&mut self, vendor: u32, vtype: u8, value: &[u8]) {
        let value = value.get(..MAX_VENDOR_VALUE).unwrap_or(value);
        let mut v = Vec::with_capacity(6 + value.len());
        v.extend_from_slice(&vendor.to_be_bytes());
        v.push(vtype);
        v.push((2 + value.len()) as u8);
        v.extend_from_slice(value);
        self.avp(AVP::from_bytes(26, &v), v.len());
    }

    /// Encode with radius-rs, then sign: Message-Authenticator (the first
    /// attribute) and the header authenticator.
    pub fn finish(self, secret: &[u8]) -> Result<Vec<u8>, BuildError> {
        let mut bytes = self
            .packet
            .encode()
            .map_err(|e| BuildError::Codec(e.to_string()))?;
        let ma_offset = HEADER_LEN;
        match self.signing() {
            Signing::Request(auth) => {
                set_header_authenticator(&mut bytes, &auth);
                sign_message_authenticator(&mut bytes, &auth, ma_offset, secret);
            }
            Signing::HashedRequest => {
                set_header_authenticator(&mut bytes, &[0; 16]);
                sign_message_authenticator(&mut bytes, &[0; 16], ma_offset, secret);
                let auth = md5_authenticator(&bytes, &[0; 16], secret);
                set_header_authenticator(&mut bytes, &auth);
            }
            Signing::Response(req_auth) => {
                sign_message_authenticator(&mut bytes, &req_auth, ma_offset, secret);
                let auth = md5_authenticator(&bytes, &req_auth, secret);
                set_header_authenticator(&mut bytes, &auth);
            }
        }
        Ok(bytes)
    }

    /// The header authenticator given to `new` is the request authenticator
    /// for requests and responses alike; hashed requests ignore it.
    fn signing(&self) -> Signing {
        let given: [u8; 16] = self
            .packet
            .get_authenticator()
            .as_slice()
            .try_into()
            .unwrap_or([0; 16]);
        match self.packet.get_code() {
            Code::AccessRequest | Code::StatusServer => Signing::Request(given),
            Code::AccountingRequest | Code::DisconnectRequest | Code::CoARequest => {
                Signing::HashedRequest
            }
            _ => Signing::Response(given),
        }
    }
}
