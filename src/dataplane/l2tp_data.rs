//! The L2TP header as the data plane needs it (RFC 2661 §3.1): tell control
//! from data, find (tunnel, session) and the PPP payload; and write the
//! 6-byte header we put on downstream data messages. Deliberately minimal and
//! separate from the full `l2tp` codec: this is the hot path.
//!
//! ```text
//! |T|L|x|x|S|x|O|P|x|x|x|x|  Ver  |          Length (opt)         |
//! |           Tunnel ID           |           Session ID          |
//! |             Ns (opt)          |             Nr (opt)          |
//! |      Offset Size (opt)        |    Offset pad... (opt)
//! ```

use std::ops::Range;

const FLAG_T: u16 = 0x8000;
const FLAG_L: u16 = 0x4000;
const FLAG_S: u16 = 0x0800;
const FLAG_O: u16 = 0x0200;
const VERSION_MASK: u16 = 0x000f;
/// L2TPv2; RFC 2661 §3.1: packets with an unknown Ver MUST be discarded.
const VERSION: u16 = 2;

/// The header we write downstream: no L, S, O or P; version 2.
pub const DATA_HEADER_LEN: usize = 6;

/// What the first bytes of a datagram on port 1701 say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum L2tpData {
    /// T bit set: a control message, for the control plane.
    Control,
    /// A data message: our ids and where the PPP frame is in the datagram.
    Data {
        tunnel: u16,
        session: u16,
        payload: Range<usize>,
    },
}

/// Why a datagram is not a usable L2TPv2 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum L2tpHeaderError {
    #[error("L2TP header truncated")]
    Truncated,
    #[error("L2TP version {0}, expected 2")]
    BadVersion(u8),
    #[error("L2TP Length field {length} beyond the {available}-byte datagram")]
    LengthOverrun { length: usize, available: usize },
    #[error("L2TP offset padding beyond the message")]
    OffsetOverrun,
}

#[inline]
fn be16(b: &[u8], at: usize) -> Result<u16, L2tpHeaderError> {
    match b.get(at..at + 2) {
        Some(&[hi, lo]) => Ok(u16::from_be_bytes([hi, lo])),
        _ => Err(L2tpHeaderError::Truncated),
    }
}

/// Classify a datagram and locate the PPP payload of a data message.
/// Trailing bytes beyond an L2TP Length field are ignored.
#[inline]
pub fn parse(datagram: &[u8]) -> Result<L2tpData, L2tpHeaderError> {
    let flags = be16(datagram, 0)?;
    let version = flags & VERSION_MASK;
    if version != VERSION {
        return Err(L2tpHeaderError::BadVersion(version as u8));
    }
    if flags & FLAG_T != 0 {
        return Ok(L2tpData::Control);
    }
    let mut pos = 2;
    let mut msg = datagram;
    if flags & FLAG_L != 0 {
        let length = usize::from(be16(datagram, 2)?);
        msg = datagram
            .get(..length)
            .ok_or(L2tpHeaderError::LengthOverrun {
                length,
                available: datagram.len(),
            })?;
        pos = 4;
    }
    let tunnel = be16(msg, pos)?;
    let session = be16(msg, pos + 2)?;
    pos += 4;
    if flags & FLAG_S != 0 {
        // Ns, Nr: data-message sequencing is not used by the data plane.
        be16(msg, pos + 2)?;
        pos += 4;
    }
    if flags & FLAG_O != 0 {
        let offset = usize::from(be16(msg, pos)?);
        pos += 2 + offset;
        if pos > msg.len() {
            return Err(L2tpHeaderError::OffsetOverrun);
        }
    }
    Ok(L2tpData::Data {
        tunnel,
        session,
        payload: pos..msg.len(),
    })
}

/// Write the downstream data header: flags 0x0002, the peer's ids.
#[inline]
pub fn emit_data_header(out: &mut [u8; DATA_HEADER_LEN], peer_tunnel: u16, peer_session: u16) {
    out[0..2].copy_from_slice(&VERSION.to_be_bytes());
    out[2..4].copy_from_slice(&peer_tunnel.to_be_bytes());
    out[4..6].copy_from_slice(&peer_session.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(tunnel: u16, session: u16, payload: Range<usize>) -> Result<L2tpData, L2tpHeaderError> {
        Ok(L2tpData::Data {
            tunnel,
            session,
            payload,
        })
    }

    #[test]
    fn minimal_data_header() {
        let d = [0x00, 0x02, 0x00, 0x07, 0x00, 0x09, 0xff, 0x03];
        assert_eq!(parse(&d), data(7, 9, 6..8));
    }

    #[test]
    fn all_optional_fields() {
        // L, S, O, P set; Length = 18 with 2 trailing bytes beyond it.
        let d = [
            0x4b, 0x02, 0x00, 0x12, 0x00, 0x07, 0x00, 0x09, 0x00, 0x01, 0x00, 0x02, 0x00, 0x02,
            0xaa, 0xbb, 0xff, 0x03, 0xde, 0xad,
        ];
        assert_eq!(parse(&d), data(7, 9, 16..18));
    }

    #[test]
    fn control_message_needs_only_flags() {
        assert_eq!(parse(&[0xc8, 0x02]), Ok(L2tpData::Control));
        assert_eq!(parse(&[0x80, 0x02, 0x00]), Ok(L2tpData::Control));
    }

    #[test]
    fn bad_version() {
        assert_eq!(
            parse(&[0x00, 0x03, 0, 1, 0, 1]),
            Err(L2tpHeaderError::BadVersion(3))
        );
        assert_eq!(
            parse(&[0xc8, 0x01, 0, 1, 0, 1]),
            Err(L2tpHeaderError::BadVersion(1))
        );
    }

    #[test]
    fn truncated_at_every_length() {
        let full = [
            0x4a, 0x02, 0x00, 0x10, 0x00, 0x07, 0x00, 0x09, 0x00, 0x01, 0x00, 0x02, 0x00, 0x02,
            0xaa, 0xbb,
        ];
        assert_eq!(parse(&full), data(7, 9, 16..16));
        for n in 0..full.len() {
            assert!(parse(&full[..n]).is_err(), "len {n}");
        }
    }

    #[test]
    fn length_field_beyond_buffer() {
        let d = [0x40, 0x02, 0x00, 0x20, 0x00, 0x07, 0x00, 0x09];
        assert_eq!(
            parse(&d),
            Err(L2tpHeaderError::LengthOverrun {
                length: 32,
                available: 8
            })
        );
    }

    #[test]
    fn length_field_shorter_than_header() {
        let d = [0x40, 0x02, 0x00, 0x06, 0x00, 0x07, 0x00, 0x09];
        assert_eq!(parse(&d), Err(L2tpHeaderError::Truncated));
    }

    #[test]
    fn offset_overrun() {
        let d = [0x02, 0x02, 0x00, 0x07, 0x00, 0x09, 0x00, 0x05, 0xaa, 0xbb];
        assert_eq!(parse(&d), Err(L2tpHeaderError::OffsetOverrun));
        let d = [0x02, 0x02, 0x00, 0x07, 0x00, 0x09, 0xff, 0xff];
        assert_eq!(parse(&d), Err(L2tpHeaderError::OffsetOverrun));
        // Offset within the Length, but the Length cuts it off.
        let d = [
            0x42, 0x02, 0x00, 0x0a, 0x00, 0x07, 0x00, 0x09, 0x00, 0x02, 0xaa, 0xbb,
        ];
        assert_eq!(parse(&d), Err(L2tpHeaderError::OffsetOverrun));
    }

    #[test]
    fn emit_round_trip() {
        let mut h = [0u8; DATA_HEADER_LEN];
        emit_data_header(&mut h, 0x1234, 0xabcd);
        assert_eq!(h, [0x00, 0x02, 0x12, 0x34, 0xab, 0xcd]);
        assert_eq!(parse(&h), data(0x1234, 0xabcd, 6..6));
    }
}
