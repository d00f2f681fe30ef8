//! AVP hiding (RFC 2661 §4.3): the value is XORed with a running MD5 chain,
//! MD5(attribute type || secret || Random Vector) for the first 16 bytes,
//! then MD5(secret || previous ciphertext block). The plaintext is the
//! "hidden AVP subformat": a 2-byte original length, the value, padding.

use md5::{Digest, Md5};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum HiddenError {
    #[error("hidden value shorter than its 2-byte length prefix")]
    Truncated,
    #[error("hidden original length {orig} exceeds the {avail} bytes available")]
    BadLength { orig: usize, avail: usize },
}

/// XOR `data` in place with the MD5 chain. `decrypt` says whether `data` is
/// ciphertext (the chain then feeds on the input blocks) or plaintext.
fn apply(attr_type: u16, secret: &[u8], rv: &[u8], data: &mut [u8], decrypt: bool) {
    let mut h = Md5::new();
    h.update(attr_type.to_be_bytes());
    h.update(secret);
    h.update(rv);
    let mut key: [u8; 16] = h.finalize().into();
    for block in data.chunks_mut(16) {
        let cipher: Vec<u8> = if decrypt { block.to_vec() } else { Vec::new() };
        for (b, k) in block.iter_mut().zip(key.iter()) {
            *b ^= k;
        }
        let mut h = Md5::new();
        h.update(secret);
        h.update(if decrypt { &cipher[..] } else { &*block });
        key = h.finalize().into();
    }
}

/// Recover the original value of a hidden AVP.
pub fn unhide(
    attr_type: u16,
    secret: &[u8],
    rv: &[u8],
    hidden: &[u8],
) -> Result<Vec<u8>, HiddenError> {
    let mut plain = hidden.to_vec();
    apply(attr_type, secret, rv, &mut plain, true);
    let len_bytes = plain.get(..2).ok_or(HiddenError::Truncated)?;
    let orig = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
    let avail = plain.len() - 2;
    if orig > avail {
        return Err(HiddenError::BadLength { orig, avail });
    }
    Ok(plain[2..2 + orig].to_vec())
}

/// Hide `value`, appending `padding` bytes of zeros (callers who care about
/// length privacy pass random-sized padding).
pub fn hide(attr_type: u16, secret: &[u8], rv: &[u8], value: &[u8], padding: usize) -> Vec<u8> {
    let mut plain = Vec::with_capacity(2 + value.len() + padding);
    plain.extend_from_slice(&(value.len().min(usize::from(u16::MAX)) as u16).to_be_bytes());
    plain.extend_from_slice(value);
    plain.resize(plain.len() + padding, 0);
    apply(attr_type, secret, rv, &mut plain, false);
    plain
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RV: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

    // Expected bytes computed independently with Python's hashlib.
    #[test]
    fn vector_one_block_with_padding() {
        // Plaintext: length 2, value 0x1234, padding 0xaa 0xbb.
        let mut h = vec![0, 2, 0x12, 0x34, 0xaa, 0xbb];
        apply(14, b"secret", &RV, &mut h, false);
        assert_eq!(h, [0x3b, 0x5b, 0xf1, 0x6b, 0x13, 0xca]);
        assert_eq!(unhide(14, b"secret", &RV, &h).unwrap(), [0x12, 0x34]);
    }

    #[test]
    fn vector_two_blocks() {
        let h = hide(14, b"secret", &RV, &[b'A'; 20], 0);
        let want: [u8; 22] = [
            0x3b, 0x4d, 0xa2, 0x1e, 0xf8, 0x30, 0x74, 0x0b, 0xe8, 0x81, 0x03, 0xc9, 0xc7, 0x3b,
            0x2b, 0x41, 0x4f, 0x6a, 0x05, 0x94, 0x3e, 0xc5,
        ];
        assert_eq!(h, want);
        assert_eq!(unhide(14, b"secret", &RV, &want).unwrap(), [b'A'; 20]);
    }

    #[test]
    fn malformed() {
        assert_eq!(unhide(14, b"s", &RV, &[1]), Err(HiddenError::Truncated));
        let mut h = hide(14, b"s", &RV, &[1, 2, 3], 0);
        h.pop();
        assert!(matches!(
            unhide(14, b"s", &RV, &h),
            Err(HiddenError::BadLength { .. })
        ));
        // wrong secret: garbage length, typed error or garbage value, never a panic
        let h = hide(14, b"s", &RV, &[1, 2, 3], 0);
        let _ = unhide(14, b"t", &RV, &h);
    }

    proptest! {
        #[test]
        fn round_trip(attr in 0u16..50, secret in proptest::collection::vec(any::<u8>(), 0..40),
                      rv in proptest::collection::vec(any::<u8>(), 0..40),
                      value in proptest::collection::vec(any::<u8>(), 0..100), pad in 0usize..40) {
            let h = hide(attr, &secret, &rv, &value, pad);
            prop_assert_eq!(h.len(), 2 + value.len() + pad);
            prop_assert_eq!(unhide(attr, &secret, &rv, &h).unwrap(), value);
        }
    }
}
