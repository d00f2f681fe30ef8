//! Tunnel authentication (RFC 2661 §4.4.3, §5.1.1): the Challenge Response
//! is CHAP-style MD5(ID || secret || challenge) where the "ID" is the
//! message type of the message carrying the response (2 = SCCRP, 3 = SCCCN).

use md5::{Digest, Md5};

/// Compute the 16-byte Challenge Response.
pub fn challenge_response(msg_type: u8, secret: &[u8], challenge: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update([msg_type]);
    h.update(secret);
    h.update(challenge);
    h.finalize().into()
}

/// Constant-time comparison of a received response with the expected one.
pub fn verify_response(msg_type: u8, secret: &[u8], challenge: &[u8], response: &[u8]) -> bool {
    let want = challenge_response(msg_type, secret, challenge);
    response.len() == want.len()
        && response
            .iter()
            .zip(want.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        // python3: hashlib.md5(bytes([2]) + b'secret' + bytes(range(16))).hexdigest()
        let c: Vec<u8> = (0..16).collect();
        let want = [
            0xdd, 0x41, 0x86, 0xe2, 0x19, 0x6f, 0x00, 0x12, 0x4a, 0x9d, 0x58, 0x8f, 0x02, 0x70,
            0x12, 0x59,
        ];
        assert_eq!(challenge_response(2, b"secret", &c), want);
        assert!(verify_response(2, b"secret", &c, &want));
        assert!(!verify_response(3, b"secret", &c, &want));
        assert!(!verify_response(2, b"secret", &c, &want[..15]));
    }
}
