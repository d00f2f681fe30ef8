//! The PPP framing of an L2TP data payload (RFC 1661 §2, RFC 1662 §3.1):
//! optional Address/Control FF 03 (ACFC may omit it), then a 1- or 2-byte
//! Protocol (PFC). Only finds the protocol; PPP itself is the control plane's.

/// PPP protocol number of IPv4 (RFC 1332).
pub const PROTO_IPV4: u16 = 0x0021;

/// What we prepend to a downstream IPv4 packet: FF 03, protocol 0x0021,
/// uncompressed (safe whatever ACFC/PFC the peer negotiated).
pub const IPV4_FRAMING: [u8; 4] = [0xff, 0x03, 0x00, 0x21];

/// The protocol field is absent or invalid (its last byte must be odd, a
/// two-byte field's first byte even: RFC 1661 §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad PPP framing")]
pub struct BadPpp;

/// Returns the protocol and the offset of the information field in `frame`.
#[inline]
pub fn parse(frame: &[u8]) -> Result<(u16, usize), BadPpp> {
    let skip = if frame.starts_with(&[0xff, 0x03]) {
        2
    } else {
        0
    };
    match frame.get(skip..) {
        Some(&[first, ..]) if first & 1 == 1 => Ok((u16::from(first), skip + 1)),
        Some(&[first, second, ..]) if second & 1 == 1 => {
            Ok((u16::from_be_bytes([first, second]), skip + 2))
        }
        _ => Err(BadPpp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants() {
        assert_eq!(parse(&[0xff, 0x03, 0x00, 0x21, 0x45]), Ok((0x21, 4)));
        assert_eq!(parse(&[0xff, 0x03, 0x21, 0x45]), Ok((0x21, 3))); // PFC
        assert_eq!(parse(&[0x00, 0x21, 0x45]), Ok((0x21, 2))); // ACFC
        assert_eq!(parse(&[0x21, 0x45]), Ok((0x21, 1))); // ACFC + PFC
        assert_eq!(parse(&[0xc0, 0x21, 0x01]), Ok((0xc021, 2))); // LCP without FF 03
        assert_eq!(parse(&[0xff, 0x03, 0x57]), Ok((0x57, 3))); // IPv6, PFC
        assert_eq!(parse(&[0xff, 0x03, 0x00, 0x21]), Ok((0x21, 4))); // empty info
    }

    #[test]
    fn invalid() {
        assert_eq!(parse(&[]), Err(BadPpp));
        assert_eq!(parse(&[0xff, 0x03]), Err(BadPpp));
        assert_eq!(parse(&[0xff, 0x03, 0x00]), Err(BadPpp));
        assert_eq!(parse(&[0x00, 0x20, 0x45]), Err(BadPpp)); // even last byte
        assert_eq!(parse(&[0x00]), Err(BadPpp));
    }
}
