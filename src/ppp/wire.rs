//! PPP wire formats as checked views: the frame (RFC 1661 §2, with the
//! RFC 1662 §3.2 address/control field and RFC 1661 §6.5/§6.6 PFC/ACFC
//! compression accepted on input), the control packet shared by LCP, IPCP,
//! PAP and CHAP (RFC 1661 §5) and the Configuration Option list (§6).
//! Untrusted bytes enter only through `parse`/`new_checked`; nothing after
//! that can panic. Emit helpers always write FF 03 and a 2-byte protocol.

use thiserror::Error;

/// PPP protocol numbers (RFC 1661 §2, IANA "PPP DLL Protocol Numbers").
pub mod protocol {
    pub const IPV4: u16 = 0x0021;
    pub const IPV6: u16 = 0x0057;
    pub const IPCP: u16 = 0x8021;
    pub const IPV6CP: u16 = 0x8057;
    pub const CCP: u16 = 0x80FD;
    pub const LCP: u16 = 0xC021;
    pub const PAP: u16 = 0xC023;
    pub const LQR: u16 = 0xC025;
    pub const CHAP: u16 = 0xC223;
    pub const EAP: u16 = 0xC227;
}

/// Control packet codes (RFC 1661 §5).
pub mod code {
    pub const CONFIGURE_REQUEST: u8 = 1;
    pub const CONFIGURE_ACK: u8 = 2;
    pub const CONFIGURE_NAK: u8 = 3;
    pub const CONFIGURE_REJECT: u8 = 4;
    pub const TERMINATE_REQUEST: u8 = 5;
    pub const TERMINATE_ACK: u8 = 6;
    pub const CODE_REJECT: u8 = 7;
    pub const PROTOCOL_REJECT: u8 = 8;
    pub const ECHO_REQUEST: u8 = 9;
    pub const ECHO_REPLY: u8 = 10;
    pub const DISCARD_REQUEST: u8 = 11;
}

/// Length of the FF 03 + 2-byte protocol header we always send.
pub const FRAME_HEADER_LEN: usize = 4;
/// Code + Identifier + Length.
pub const PACKET_HEADER_LEN: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FrameError {
    #[error("frame too short for a protocol field")]
    Truncated,
    #[error("address byte FF not followed by control byte 03")]
    BadControl,
    #[error("invalid protocol field (low byte must be odd, high byte even)")]
    BadProtocol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PacketError {
    #[error("control packet shorter than its 4-byte header")]
    Truncated,
    #[error("length field {0} below the header size")]
    LengthTooSmall(u16),
    #[error("length field {field} larger than the {available} bytes received")]
    LengthOverrun { field: u16, available: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum OptionError {
    #[error("option header truncated")]
    Truncated,
    #[error("option length {0} below 2")]
    LengthTooSmall(u8),
    #[error("option length {length} overruns the {available} bytes left")]
    Overrun { length: u8, available: usize },
    #[error("option {kind} has a malformed value")]
    BadValue { kind: u8 },
}

/// A PPP frame: protocol number and information field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    protocol: u16,
    payload: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Parse a frame with or without FF 03 and with a 1- or 2-byte protocol.
    pub fn parse(buf: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        let rest = match buf {
            [0xFF, 0x03, rest @ ..] => rest,
            // 0xFF is never a (compressed) protocol: it is an address byte.
            [0xFF] => return Err(FrameError::Truncated),
            [0xFF, _, ..] => return Err(FrameError::BadControl),
            _ => buf,
        };
        match rest {
            // PFC: an odd first byte is the whole (compressed) protocol.
            [p, payload @ ..] if p & 1 == 1 => Ok(Frame {
                protocol: u16::from(*p),
                payload,
            }),
            [hi, lo, payload @ ..] => {
                if lo & 1 == 0 {
                    return Err(FrameError::BadProtocol);
                }
                Ok(Frame {
                    protocol: u16::from_be_bytes([*hi, *lo]),
                    payload,
                })
            }
            _ => Err(FrameError::Truncated),
        }
    }

    pub fn protocol(&self) -> u16 {
        self.protocol
    }

    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

/// A control packet (LCP, NCP, PAP or CHAP): code, identifier, data.
/// Bytes after `Length` are padding and are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlPacket<'a> {
    code: u8,
    identifier: u8,
    data: &'a [u8],
}

impl<'a> ControlPacket<'a> {
    pub fn parse(buf: &'a [u8]) -> Result<ControlPacket<'a>, PacketError> {
        let [code, identifier, l0, l1, ..] = *buf else {
            return Err(PacketError::Truncated);
        };
        let field = u16::from_be_bytes([l0, l1]);
        let length = usize::from(field);
        if length < PACKET_HEADER_LEN {
            return Err(PacketError::LengthTooSmall(field));
        }
        let data = buf
            .get(PACKET_HEADER_LEN..length)
            .ok_or(PacketError::LengthOverrun {
                field,
                available: buf.len(),
            })?;
        Ok(ControlPacket {
            code,
            identifier,
            data,
        })
    }

    pub fn code(&self) -> u8 {
        self.code
    }

    pub fn identifier(&self) -> u8 {
        self.identifier
    }

    /// The bytes after the header, up to `Length`.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The packet as it should be quoted (e.g. in a Code-Reject): header + data.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PACKET_HEADER_LEN + self.data.len());
        emit_packet(&mut out, self.code, self.identifier, self.data);
        out
    }
}

/// One raw configuration option: type and value (the bytes after Length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigOption<'a> {
    pub kind: u8,
    pub data: &'a [u8],
}

impl ConfigOption<'_> {
    /// The option as it appears on the wire (for Reject lists).
    pub fn emit(&self, out: &mut Vec<u8>) {
        emit_option(out, self.kind, self.data);
    }

    /// The value as a big-endian u16, if it is exactly 2 bytes.
    pub fn value_u16(&self) -> Option<u16> {
        let [a, b] = *self.data else { return None };
        Some(u16::from_be_bytes([a, b]))
    }

    /// The value as a big-endian u32, if it is exactly 4 bytes.
    pub fn value_u32(&self) -> Option<u32> {
        let [a, b, c, d] = *self.data else {
            return None;
        };
        Some(u32::from_be_bytes([a, b, c, d]))
    }
}

/// Checked iterator over a Configuration Option list (RFC 1661 §6).
/// Yields an error once and then stops on a malformed option.
#[derive(Debug, Clone)]
pub struct ConfigOptions<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> ConfigOptions<'a> {
    pub fn new(data: &'a [u8]) -> ConfigOptions<'a> {
        ConfigOptions {
            rest: data,
            failed: false,
        }
    }

    /// Validate the whole list and collect it.
    pub fn collect_checked(data: &'a [u8]) -> Result<Vec<ConfigOption<'a>>, OptionError> {
        ConfigOptions::new(data).collect()
    }
}

impl<'a> Iterator for ConfigOptions<'a> {
    type Item = Result<ConfigOption<'a>, OptionError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let result = match *self.rest {
            [_] => Err(OptionError::Truncated),
            [_, length, ..] if length < 2 => Err(OptionError::LengthTooSmall(length)),
            [kind, length, ..] => match self.rest.get(2..usize::from(length)) {
                Some(data) => {
                    self.rest = self.rest.get(usize::from(length)..).unwrap_or(&[]);
                    Ok(ConfigOption { kind, data })
                }
                None => Err(OptionError::Overrun {
                    length,
                    available: self.rest.len(),
                }),
            },
            [] => return None,
        };
        if result.is_err() {
            self.failed = true;
        }
        Some(result)
    }
}

/// Append one option (type, length, value). Values longer than 253 bytes
/// are truncated: no option we build is anywhere near that.
pub fn emit_option(out: &mut Vec<u8>, kind: u8, data: &[u8]) {
    let data = data.get(..253).unwrap_or(data);
    out.push(kind);
    out.push(data.len() as u8 + 2);
    out.extend_from_slice(data);
}

/// Append a control packet (code, identifier, length, data). Data longer
/// than fits the 16-bit length is truncated.
pub fn emit_packet(out: &mut Vec<u8>, code: u8, identifier: u8, data: &[u8]) {
    let max = usize::from(u16::MAX) - PACKET_HEADER_LEN;
    let data = data.get(..max).unwrap_or(data);
    out.push(code);
    out.push(identifier);
    out.extend_from_slice(&((data.len() + PACKET_HEADER_LEN) as u16).to_be_bytes());
    out.extend_from_slice(data);
}

/// A whole frame: FF 03, protocol, payload.
pub fn emit_frame(protocol: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + payload.len());
    out.extend_from_slice(&[0xFF, 0x03]);
    out.extend_from_slice(&protocol.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A whole frame carrying one control packet.
pub fn emit_control_frame(protocol: u16, code: u8, identifier: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + PACKET_HEADER_LEN + data.len());
    out.extend_from_slice(&[0xFF, 0x03]);
    out.extend_from_slice(&protocol.to_be_bytes());
    emit_packet(&mut out, code, identifier, data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn frame_forms() {
        let full = [0xFF, 0x03, 0xC0, 0x21, 1, 2];
        let f = Frame::parse(&full).unwrap();
        assert_eq!((f.protocol(), f.payload()), (protocol::LCP, &[1u8, 2][..]));
        let no_acfc = [0xC0, 0x21, 9];
        let f = Frame::parse(&no_acfc).unwrap();
        assert_eq!((f.protocol(), f.payload()), (protocol::LCP, &[9u8][..]));
        let pfc = [0xFF, 0x03, 0x21, 0x45];
        let f = Frame::parse(&pfc).unwrap();
        assert_eq!((f.protocol(), f.payload()), (protocol::IPV4, &[0x45u8][..]));
        let both = [0x21, 0x45, 0x00];
        let f = Frame::parse(&both).unwrap();
        assert_eq!(f.protocol(), protocol::IPV4);
        assert_eq!(f.payload(), &[0x45, 0x00]);
        // Empty information field is legal.
        assert_eq!(Frame::parse(&[0x80, 0x21]).unwrap().payload(), &[] as &[u8]);
    }

    #[test]
    fn frame_malformed() {
        assert_eq!(Frame::parse(&[]), Err(FrameError::Truncated));
        assert_eq!(Frame::parse(&[0xFF, 0x03]), Err(FrameError::Truncated));
        assert_eq!(
            Frame::parse(&[0xFF, 0x03, 0xC0]),
            Err(FrameError::Truncated)
        );
        assert_eq!(Frame::parse(&[0xC0]), Err(FrameError::Truncated));
        assert_eq!(Frame::parse(&[0xFF]), Err(FrameError::Truncated));
        assert_eq!(
            Frame::parse(&[0xFF, 0x13, 0xC0, 0x21]),
            Err(FrameError::BadControl)
        );
        assert_eq!(Frame::parse(&[0xC0, 0x22]), Err(FrameError::BadProtocol));
    }

    #[test]
    fn packet_lengths() {
        let p = ControlPacket::parse(&[1, 7, 0, 6, 0xAA, 0xBB]).unwrap();
        assert_eq!(
            (p.code(), p.identifier(), p.data()),
            (1, 7, &[0xAA, 0xBB][..])
        );
        // Trailing padding beyond Length is ignored.
        let p = ControlPacket::parse(&[9, 1, 0, 4, 0, 0, 0]).unwrap();
        assert!(p.data().is_empty());
        assert_eq!(
            ControlPacket::parse(&[1, 7, 0]),
            Err(PacketError::Truncated)
        );
        assert_eq!(
            ControlPacket::parse(&[1, 7, 0, 3]),
            Err(PacketError::LengthTooSmall(3))
        );
        assert_eq!(
            ControlPacket::parse(&[1, 7, 0, 7, 1, 2]),
            Err(PacketError::LengthOverrun {
                field: 7,
                available: 6
            })
        );
        assert_eq!(p.to_bytes(), vec![9, 1, 0, 4]);
    }

    #[test]
    fn options_checked() {
        let ok = [1, 4, 0x05, 0xDC, 7, 2, 5, 6, 1, 2, 3, 4];
        let opts = ConfigOptions::collect_checked(&ok).unwrap();
        assert_eq!(opts.len(), 3);
        assert_eq!(opts[0].value_u16(), Some(1500));
        assert_eq!(opts[1], ConfigOption { kind: 7, data: &[] });
        assert_eq!(opts[2].value_u32(), Some(0x01020304));
        assert_eq!(ConfigOptions::collect_checked(&[]).unwrap(), vec![]);
        assert_eq!(
            ConfigOptions::collect_checked(&[1, 0, 1, 1]),
            Err(OptionError::LengthTooSmall(0))
        );
        assert_eq!(
            ConfigOptions::collect_checked(&[7, 1]),
            Err(OptionError::LengthTooSmall(1))
        );
        assert_eq!(
            ConfigOptions::collect_checked(&[7, 2, 1]),
            Err(OptionError::Truncated)
        );
        assert_eq!(
            ConfigOptions::collect_checked(&[1, 4, 5]),
            Err(OptionError::Overrun {
                length: 4,
                available: 3
            })
        );
        // The iterator stops after the first error.
        let mut it = ConfigOptions::new(&[7, 2, 1, 0, 7, 2]);
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn emit_then_parse() {
        let mut data = Vec::new();
        emit_option(&mut data, 1, &1400u16.to_be_bytes());
        let frame = emit_control_frame(protocol::LCP, code::CONFIGURE_REQUEST, 3, &data);
        assert_eq!(
            frame,
            vec![0xFF, 0x03, 0xC0, 0x21, 1, 3, 0, 8, 1, 4, 0x05, 0x78]
        );
        let f = Frame::parse(&frame).unwrap();
        let p = ControlPacket::parse(f.payload()).unwrap();
        let o = ConfigOptions::collect_checked(p.data()).unwrap();
        assert_eq!(o[0].value_u16(), Some(1400));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(f) = Frame::parse(&bytes) {
                if let Ok(p) = ControlPacket::parse(f.payload()) {
                    for o in ConfigOptions::new(p.data()) { let _ = o; }
                }
            }
            for o in ConfigOptions::new(&bytes) { let _ = o; }
        }

        #[test]
        fn option_list_round_trip(opts in proptest::collection::vec(
            (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..20)), 0..8)) {
            let mut buf = Vec::new();
            for (k, d) in &opts { emit_option(&mut buf, *k, d); }
            let parsed = ConfigOptions::collect_checked(&buf).unwrap();
            let back: Vec<(u8, Vec<u8>)> = parsed.iter().map(|o| (o.kind, o.data.to_vec())).collect();
            prop_assert_eq!(back, opts);
        }

        #[test]
        fn frame_round_trip(proto in any::<u16>(), id in any::<u8>(), c in any::<u8>(),
                            data in proptest::collection::vec(any::<u8>(), 0..40)) {
            let proto = (proto & 0xFEFF) | 0x0001;
            let bytes = emit_control_frame(proto, c, id, &data);
            let f = Frame::parse(&bytes).unwrap();
            prop_assert_eq!(f.protocol(), proto);
            let p = ControlPacket::parse(f.payload()).unwrap();
            prop_assert_eq!((p.code(), p.identifier(), p.data()), (c, id, &data[..]));
        }
    }
}
