//! Packet integrity: the Request/Response Authenticators of RFC 2865 §3 and
//! RFC 2866 §3 / RFC 5176 §2.3, and the Message-Authenticator (attribute 80)
//! of RFC 3579 §3.2 (HMAC-MD5 keyed with the shared secret).
//!
//! All functions take a whole packet (`bytes[..Length]`) that has already
//! passed the header length checks in `wire`; they still use checked slicing
//! so that a short buffer gives `false`, never a panic.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};

/// RADIUS header length (code, id, length, authenticator).
pub const HEADER_LEN: usize = 20;
/// Attribute type of Message-Authenticator (RFC 3579 §3.2).
pub const MESSAGE_AUTHENTICATOR: u8 = 80;
/// Total length of a Message-Authenticator attribute (type, len, 16 bytes).
pub const MA_ATTR_LEN: usize = 18;

/// MD5(bytes[..4] | auth | bytes[20..] | secret): the common shape of the
/// Response Authenticator (auth = request's) and of the Accounting/DAE
/// Request Authenticator (auth = 16 zero bytes).
pub fn md5_authenticator(bytes: &[u8], auth: &[u8; 16], secret: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(bytes.get(..4).unwrap_or_default());
    h.update(auth);
    h.update(bytes.get(HEADER_LEN..).unwrap_or_default());
    h.update(secret);
    h.finalize().into()
}

/// Constant-time-ish comparison (no early exit) of two 16-byte values.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The authenticator field of a packet, if the packet is long enough.
pub fn header_authenticator(bytes: &[u8]) -> Option<[u8; 16]> {
    bytes.get(4..HEADER_LEN)?.try_into().ok()
}

/// RFC 2865 §3 Response Authenticator check against the request's authenticator.
pub fn verify_response(bytes: &[u8], request_auth: &[u8; 16], secret: &[u8]) -> bool {
    match bytes.get(4..HEADER_LEN) {
        Some(got) => same(got, &md5_authenticator(bytes, request_auth, secret)),
        None => false,
    }
}

/// RFC 2866 §3 / RFC 5176 §2.3 Request Authenticator check (zero auth).
pub fn verify_request(bytes: &[u8], secret: &[u8]) -> bool {
    match bytes.get(4..HEADER_LEN) {
        Some(got) => same(got, &md5_authenticator(bytes, &[0; 16], secret)),
        None => false,
    }
}

/// Byte offsets of every attribute with type `typ` (offset of the type byte).
/// Stops at the first malformed attribute.
pub fn attribute_offsets(bytes: &[u8], typ: u8) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = HEADER_LEN;
    while let (Some(&t), Some(&l)) = (bytes.get(i), bytes.get(i + 1)) {
        let l = usize::from(l);
        if l < 2 || i + l > bytes.len() {
            break;
        }
        if t == typ {
            out.push(i);
        }
        i += l;
    }
    out
}

/// HMAC-MD5 over `bytes` with the header authenticator replaced by `auth`
/// and the 16 value bytes at `ma_offset + 2` taken as zero (RFC 3579 §3.2).
pub fn message_authenticator(
    bytes: &[u8],
    auth: &[u8; 16],
    ma_offset: usize,
    secret: &[u8],
) -> [u8; 16] {
    let Ok(mut mac) = <Hmac<Md5> as Mac>::new_from_slice(secret) else {
        // HMAC takes keys of any length; this branch cannot be reached.
        return [0; 16];
    };
    let value_start = ma_offset.saturating_add(2);
    let value_end = value_start.saturating_add(16);
    mac.update(bytes.get(..4).unwrap_or_default());
    mac.update(auth);
    mac.update(bytes.get(HEADER_LEN..value_start).unwrap_or_default());
    mac.update(&[0; 16]);
    mac.update(bytes.get(value_end..).unwrap_or_default());
    mac.finalize().into_bytes().into()
}

/// Result of looking for a Message-Authenticator in a received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaCheck {
    Absent,
    Valid,
    Invalid,
}

/// Verify the (single) Message-Authenticator of `bytes`, computed with the
/// header authenticator taken as `auth` (the request's authenticator for a
/// response, zeros for an Accounting/CoA/Disconnect request).
pub fn check_message_authenticator(bytes: &[u8], auth: &[u8; 16], secret: &[u8]) -> MaCheck {
    let offsets = attribute_offsets(bytes, MESSAGE_AUTHENTICATOR);
    let [off] = offsets.as_slice() else {
        return if offsets.is_empty() {
            MaCheck::Absent
        } else {
            MaCheck::Invalid
        };
    };
    let off = *off;
    if bytes.get(off + 1) != Some(&(MA_ATTR_LEN as u8)) {
        return MaCheck::Invalid;
    }
    let Some(got) = bytes.get(off + 2..off + MA_ATTR_LEN) else {
        return MaCheck::Invalid;
    };
    if same(got, &message_authenticator(bytes, auth, off, secret)) {
        MaCheck::Valid
    } else {
        MaCheck::Invalid
    }
}

/// Fill in the Message-Authenticator at `ma_offset` (its value must be zero
/// or is overwritten), computed with the header authenticator taken as `auth`.
pub fn sign_message_authenticator(
    bytes: &mut [u8],
    auth: &[u8; 16],
    ma_offset: usize,
    secret: &[u8],
) {
    let ma = message_authenticator(bytes, auth, ma_offset, secret);
    if let Some(dst) = bytes.get_mut(ma_offset + 2..ma_offset + MA_ATTR_LEN) {
        dst.copy_from_slice(&ma);
    }
}

/// Write a 16-byte authenticator into the header.
pub fn set_header_authenticator(bytes: &mut [u8], auth: &[u8; 16]) {
    if let Some(dst) = bytes.get_mut(4..HEADER_LEN) {
        dst.copy_from_slice(auth);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2865_7_1_response_authenticator() {
        // RFC 2865 §7.1 example: request and Access-Accept, secret "xyzzy5461".
        let request: [u8; 56] = [
            0x01, 0x00, 0x00, 0x38, 0x0f, 0x40, 0x3f, 0x94, 0x73, 0x97, 0x80, 0x57, 0xbd, 0x83,
            0xd5, 0xcb, 0x98, 0xf4, 0x22, 0x7a, 0x01, 0x06, 0x6e, 0x65, 0x6d, 0x6f, 0x02, 0x12,
            0x0d, 0xbe, 0x70, 0x8d, 0x93, 0xd4, 0x13, 0xce, 0x31, 0x96, 0xe4, 0x3f, 0x78, 0x2a,
            0x0a, 0xee, 0x04, 0x06, 0xc0, 0xa8, 0x01, 0x10, 0x05, 0x06, 0x00, 0x00, 0x00, 0x03,
        ];
        let response: [u8; 38] = [
            0x02, 0x00, 0x00, 0x26, 0x86, 0xfe, 0x22, 0x0e, 0x76, 0x24, 0xba, 0x2a, 0x10, 0x05,
            0xf6, 0xbf, 0x9b, 0x55, 0xe0, 0xb2, 0x06, 0x06, 0x00, 0x00, 0x00, 0x01, 0x0f, 0x06,
            0x00, 0x00, 0x00, 0x00, 0x0e, 0x06, 0xc0, 0xa8, 0x01, 0x03,
        ];
        let req_auth = header_authenticator(&request).unwrap();
        assert!(verify_response(&response, &req_auth, b"xyzzy5461"));
        assert!(!verify_response(&response, &req_auth, b"wrong"));
        assert!(!verify_response(&response[..10], &req_auth, b"xyzzy5461"));
    }

    #[test]
    fn offsets_stop_on_garbage() {
        let mut p = vec![0u8; 20];
        p.extend_from_slice(&[80, 18]);
        p.extend_from_slice(&[0; 16]);
        p.extend_from_slice(&[1, 0, 9]);
        assert_eq!(attribute_offsets(&p, 80), vec![20]);
        assert_eq!(attribute_offsets(&p[..30], 80), Vec::<usize>::new());
    }
}
