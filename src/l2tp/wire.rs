//! L2TPv2 header: a checked view over received bytes and cheap emitters
//! (RFC 2661 §3.1). Untrusted bytes enter only through [`Header::parse`];
//! every accessor afterwards is infallible.

use thiserror::Error;

/// T bit: control message.
pub const FLAG_TYPE: u16 = 0x8000;
/// L bit: Length field present.
pub const FLAG_LENGTH: u16 = 0x4000;
/// S bit: Ns and Nr fields present.
pub const FLAG_SEQUENCE: u16 = 0x0800;
/// O bit: Offset Size field present.
pub const FLAG_OFFSET: u16 = 0x0200;
/// P bit: priority (data messages only).
pub const FLAG_PRIORITY: u16 = 0x0100;
/// Version nibble mask.
pub const VERSION_MASK: u16 = 0x000f;
/// The only version we speak.
pub const VERSION_2: u8 = 2;

/// Length of the header we emit on data messages: flags, tunnel, session.
pub const DATA_HEADER_LEN: usize = 6;
/// Length of the header we emit on control messages (T, L, S set).
pub const CONTROL_HEADER_LEN: usize = 12;
/// Flags word of every control message we emit.
pub const CONTROL_FLAGS: u16 = FLAG_TYPE | FLAG_LENGTH | FLAG_SEQUENCE | VERSION_2 as u16;

/// Why a header was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum HeaderError {
    #[error("truncated header: need {need} bytes, have {have}")]
    Truncated { need: usize, have: usize },
    #[error("unsupported L2TP version {0}")]
    BadVersion(u8),
    #[error("length field {field} does not fit buffer of {buffer} bytes (header {header})")]
    BadLength {
        field: u16,
        buffer: usize,
        header: usize,
    },
    #[error("control message without the L bit")]
    ControlWithoutLength,
    #[error("control message without the S bit")]
    ControlWithoutSequence,
    #[error("control message with the O bit")]
    ControlWithOffset,
    #[error("offset size {offset} runs past the end of the message ({len} bytes)")]
    OffsetOverrun { offset: usize, len: usize },
}

/// A validated L2TP header. `payload_offset()..message_len()` is always a
/// valid range of the buffer that was parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    flags: u16,
    length: Option<u16>,
    tunnel_id: u16,
    session_id: u16,
    ns: Option<u16>,
    nr: Option<u16>,
    payload_offset: usize,
    message_len: usize,
}

fn be16(buf: &[u8], at: usize) -> Option<u16> {
    let b = buf.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

impl Header {
    /// Validate the header at the start of `buf` (a whole UDP payload).
    pub fn parse(buf: &[u8]) -> Result<Header, HeaderError> {
        let trunc = |need: usize| HeaderError::Truncated {
            need,
            have: buf.len(),
        };
        let flags = be16(buf, 0).ok_or(trunc(2))?;
        let version = (flags & VERSION_MASK) as u8;
        if version != VERSION_2 {
            return Err(HeaderError::BadVersion(version));
        }
        let is_control = flags & FLAG_TYPE != 0;
        let has_length = flags & FLAG_LENGTH != 0;
        let has_seq = flags & FLAG_SEQUENCE != 0;
        let has_offset = flags & FLAG_OFFSET != 0;
        if is_control {
            if !has_length {
                return Err(HeaderError::ControlWithoutLength);
            }
            if !has_seq {
                return Err(HeaderError::ControlWithoutSequence);
            }
            if has_offset {
                return Err(HeaderError::ControlWithOffset);
            }
        }
        let mut at = 2;
        let length = if has_length {
            let l = be16(buf, at).ok_or(trunc(at + 2))?;
            at += 2;
            Some(l)
        } else {
            None
        };
        let tunnel_id = be16(buf, at).ok_or(trunc(at + 4))?;
        let session_id = be16(buf, at + 2).ok_or(trunc(at + 4))?;
        at += 4;
        let (ns, nr) = if has_seq {
            let ns = be16(buf, at).ok_or(trunc(at + 4))?;
            let nr = be16(buf, at + 2).ok_or(trunc(at + 4))?;
            at += 4;
            (Some(ns), Some(nr))
        } else {
            (None, None)
        };
        let offset_field_end = if has_offset { at + 2 } else { at };
        let message_len = match length {
            Some(l) => {
                let l_us = usize::from(l);
                if l_us > buf.len() || l_us < offset_field_end {
                    return Err(HeaderError::BadLength {
                        field: l,
                        buffer: buf.len(),
                        header: offset_field_end,
                    });
                }
                l_us
            }
            None => buf.len(),
        };
        if has_offset {
            let size = be16(buf, at).ok_or(trunc(at + 2))?;
            at += 2;
            let end = at + usize::from(size);
            if end > message_len {
                return Err(HeaderError::OffsetOverrun {
                    offset: end,
                    len: message_len,
                });
            }
            at = end;
        }
        Ok(Header {
            flags,
            length,
            tunnel_id,
            session_id,
            ns,
            nr,
            payload_offset: at,
            message_len,
        })
    }

    pub fn flags(&self) -> u16 {
        self.flags
    }
    pub fn is_control(&self) -> bool {
        self.flags & FLAG_TYPE != 0
    }
    pub fn has_length(&self) -> bool {
        self.length.is_some()
    }
    pub fn has_sequence(&self) -> bool {
        self.ns.is_some()
    }
    pub fn has_offset(&self) -> bool {
        self.flags & FLAG_OFFSET != 0
    }
    pub fn priority(&self) -> bool {
        self.flags & FLAG_PRIORITY != 0
    }
    pub fn version(&self) -> u8 {
        (self.flags & VERSION_MASK) as u8
    }
    /// The Length field, if present.
    pub fn length(&self) -> Option<u16> {
        self.length
    }
    pub fn tunnel_id(&self) -> u16 {
        self.tunnel_id
    }
    pub fn session_id(&self) -> u16 {
        self.session_id
    }
    pub fn ns(&self) -> Option<u16> {
        self.ns
    }
    pub fn nr(&self) -> Option<u16> {
        self.nr
    }
    /// Where the payload (AVPs or the PPP frame) starts.
    pub fn payload_offset(&self) -> usize {
        self.payload_offset
    }
    /// End of the message: the Length field, else the buffer length.
    pub fn message_len(&self) -> usize {
        self.message_len
    }
    /// The payload of `buf`, which must be the buffer this header was parsed
    /// from (otherwise an empty slice is returned rather than a panic).
    pub fn payload<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.payload_offset..self.message_len)
            .unwrap_or(&[])
    }
}

/// Write a 6-byte data header (version 2, no L/S/O bits) into `out[..6]`.
/// Returns false (writing nothing) if `out` is shorter than 6 bytes.
#[inline]
pub fn write_data_header(out: &mut [u8], tunnel_id: u16, session_id: u16) -> bool {
    match out.get_mut(..DATA_HEADER_LEN) {
        Some(h) => {
            let t = tunnel_id.to_be_bytes();
            let s = session_id.to_be_bytes();
            h.copy_from_slice(&[0x00, VERSION_2, t[0], t[1], s[0], s[1]]);
            true
        }
        None => false,
    }
}

/// Append a 6-byte data header to `out`.
#[inline]
pub fn push_data_header(out: &mut Vec<u8>, tunnel_id: u16, session_id: u16) {
    let t = tunnel_id.to_be_bytes();
    let s = session_id.to_be_bytes();
    out.extend_from_slice(&[0x00, VERSION_2, t[0], t[1], s[0], s[1]]);
}

/// Build a whole control message: 12-byte header then `payload` (AVPs;
/// empty for a ZLB). The Length field is set from the result; payloads
/// longer than 65535 - 12 bytes are truncated (we never build those).
pub fn build_control(tunnel_id: u16, session_id: u16, ns: u16, nr: u16, payload: &[u8]) -> Vec<u8> {
    let max = usize::from(u16::MAX) - CONTROL_HEADER_LEN;
    let payload = payload.get(..max).unwrap_or(payload);
    let len = (CONTROL_HEADER_LEN + payload.len()) as u16;
    let mut out = Vec::with_capacity(usize::from(len));
    for w in [CONTROL_FLAGS, len, tunnel_id, session_id, ns, nr] {
        out.extend_from_slice(&w.to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_round_trip() {
        let m = build_control(7, 9, 3, 4, &[1, 2, 3]);
        let h = Header::parse(&m).unwrap();
        assert!(h.is_control() && h.has_length() && h.has_sequence());
        assert_eq!(
            (h.tunnel_id(), h.session_id(), h.ns(), h.nr()),
            (7, 9, Some(3), Some(4))
        );
        assert_eq!(h.length(), Some(15));
        assert_eq!(h.payload(&m), &[1, 2, 3]);
    }

    #[test]
    fn data_header() {
        let mut b = [0u8; 8];
        assert!(write_data_header(&mut b, 0x1234, 0x5678));
        assert_eq!(&b[..6], &[0, 2, 0x12, 0x34, 0x56, 0x78]);
        let h = Header::parse(&b).unwrap();
        assert!(!h.is_control());
        assert_eq!(
            (h.tunnel_id(), h.session_id(), h.ns()),
            (0x1234, 0x5678, None)
        );
        assert_eq!(h.payload_offset(), 6);
        assert!(!write_data_header(&mut b[..5], 1, 1));
        let mut v = Vec::new();
        push_data_header(&mut v, 0x1234, 0x5678);
        assert_eq!(v, &b[..6]);
    }

    #[test]
    fn data_with_length_sequence_offset() {
        // T=0 L=1 S=1 O=1 P=1, ver 2
        let flags: u16 = FLAG_LENGTH | FLAG_SEQUENCE | FLAG_OFFSET | FLAG_PRIORITY | 2;
        let mut m = Vec::new();
        for w in [flags, 19, 1, 2, 5, 6, 3] {
            m.extend_from_slice(&u16::to_be_bytes(w));
        }
        m.extend_from_slice(&[0, 0, 0, 0xff, 0x03]);
        m.extend_from_slice(&[9, 9]); // trailer beyond Length: ignored
        let h = Header::parse(&m).unwrap();
        assert!(h.priority() && h.has_offset());
        assert_eq!(h.payload_offset(), 17);
        assert_eq!(h.payload(&m), &[0xff, 0x03]);
    }

    #[test]
    fn malformed() {
        assert!(matches!(
            Header::parse(&[]),
            Err(HeaderError::Truncated { .. })
        ));
        assert!(matches!(
            Header::parse(&[0x00]),
            Err(HeaderError::Truncated { .. })
        ));
        assert_eq!(
            Header::parse(&[0, 3, 0, 1, 0, 1]),
            Err(HeaderError::BadVersion(3))
        );
        assert_eq!(
            Header::parse(&[0, 1, 0, 1, 0, 1]),
            Err(HeaderError::BadVersion(1))
        );
        assert!(matches!(
            Header::parse(&[0, 2, 0, 1, 0]),
            Err(HeaderError::Truncated { .. })
        ));
        // control without L
        assert_eq!(
            Header::parse(&[0x88, 0x02, 0, 1, 0, 1, 0, 0, 0, 0]),
            Err(HeaderError::ControlWithoutLength)
        );
        // control without S
        assert_eq!(
            Header::parse(&[0xc0, 0x02, 0, 8, 0, 1, 0, 1]),
            Err(HeaderError::ControlWithoutSequence)
        );
        // control with O
        assert_eq!(
            Header::parse(&[0xca, 0x02, 0, 14, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]),
            Err(HeaderError::ControlWithOffset)
        );
        // length beyond buffer / below header
        let mut m = build_control(1, 1, 0, 0, &[]);
        m[3] = 13;
        assert!(matches!(
            Header::parse(&m),
            Err(HeaderError::BadLength { .. })
        ));
        m[3] = 11;
        assert!(matches!(
            Header::parse(&m),
            Err(HeaderError::BadLength { .. })
        ));
        // truncated Ns/Nr
        assert!(matches!(
            Header::parse(&[0xc8, 0x02, 0, 10, 0, 1, 0, 1, 0, 0]),
            Err(HeaderError::BadLength { .. }) | Err(HeaderError::Truncated { .. })
        ));
        // offset overrun
        assert!(matches!(
            Header::parse(&[0x02, 0x02, 0, 1, 0, 1, 0, 5, 1, 2]),
            Err(HeaderError::OffsetOverrun { .. })
        ));
        assert!(matches!(
            Header::parse(&[0x02, 0x02, 0, 1, 0, 1, 0]),
            Err(HeaderError::Truncated { .. })
        ));
    }
}
