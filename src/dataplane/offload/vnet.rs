//! The `struct virtio_net_hdr` that prefixes every TUN read and write once
//! the device is opened with `IFF_VNET_HDR` (virtio 1.x §5.1.6, legacy
//! 10-byte layout without `num_buffers`; Linux `include/uapi/linux/virtio_net.h`).
//! Fields are little-endian: virtio 1.0 order, native on x86 and arm64 (on a
//! big-endian host the daemon must set `TUNSETVNETLE`).
//!
//! ```text
//! | flags u8 | gso_type u8 | hdr_len u16 | gso_size u16 | csum_start u16 | csum_offset u16 |
//! ```

/// Bytes of the header in front of every TUN frame.
pub const VNET_HDR_LEN: usize = 10;

/// `flags`: the L4 checksum at `csum_start + csum_offset` holds only the
/// pseudo-header sum; the rest is to be computed over `[csum_start..]`.
pub const F_NEEDS_CSUM: u8 = 1;
/// `flags`: the checksum was already verified (set by the kernel on reads).
pub const F_DATA_VALID: u8 = 2;

/// `gso_type` values (low 7 bits) and the ECN bit.
pub const GSO_NONE: u8 = 0;
pub const GSO_TCPV4: u8 = 1;
/// UDP fragmentation offload (UFO): never enabled by us.
pub const GSO_UDP: u8 = 3;
pub const GSO_TCPV6: u8 = 4;
/// UDP segmentation offload (USO, `UDP_L4`).
pub const GSO_UDP_L4: u8 = 5;
/// The TCP super-packet may carry CWR (`TUN_F_TSO_ECN`).
pub const GSO_ECN: u8 = 0x80;

/// The header is shorter than [`VNET_HDR_LEN`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("virtio-net header truncated: {0} bytes")]
pub struct VnetError(pub usize);

/// What `gso_type` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GsoKind {
    None,
    /// TCP over IPv4 (TSO); `ecn` when the ECN bit is set.
    TcpV4 {
        ecn: bool,
    },
    /// UDP segmentation (USO): one datagram per `gso_size` bytes of payload.
    UdpL4,
    TcpV6 {
        ecn: bool,
    },
    /// UDP fragmentation (UFO, obsolete).
    Ufo,
    /// Anything else.
    Unknown(u8),
}

/// A parsed virtio-net header (plain representation, smoltcp-style).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VnetHdr {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl VnetHdr {
    /// A plain packet: no checksum to complete, no segmentation.
    pub const NONE: VnetHdr = VnetHdr {
        flags: 0,
        gso_type: GSO_NONE,
        hdr_len: 0,
        gso_size: 0,
        csum_start: 0,
        csum_offset: 0,
    };

    /// Read the header at the start of `frame` (only its length can be wrong;
    /// field values are judged by the user: see [`VnetHdr::gso_kind`]).
    pub fn parse(frame: &[u8]) -> Result<VnetHdr, VnetError> {
        let Some(b) = frame.first_chunk::<VNET_HDR_LEN>() else {
            return Err(VnetError(frame.len()));
        };
        let le = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        Ok(VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: le(2),
            gso_size: le(4),
            csum_start: le(6),
            csum_offset: le(8),
        })
    }

    /// Write the header.
    pub fn emit(&self, out: &mut [u8; VNET_HDR_LEN]) {
        out[0] = self.flags;
        out[1] = self.gso_type;
        out[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        out[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        out[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        out[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
    }

    /// The header as bytes.
    pub fn to_bytes(&self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0; VNET_HDR_LEN];
        self.emit(&mut b);
        b
    }

    pub fn needs_csum(&self) -> bool {
        self.flags & F_NEEDS_CSUM != 0
    }

    pub fn gso_kind(&self) -> GsoKind {
        let ecn = self.gso_type & GSO_ECN != 0;
        match self.gso_type & !GSO_ECN {
            GSO_NONE if !ecn => GsoKind::None,
            GSO_TCPV4 => GsoKind::TcpV4 { ecn },
            GSO_TCPV6 => GsoKind::TcpV6 { ecn },
            GSO_UDP_L4 if !ecn => GsoKind::UdpL4,
            GSO_UDP if !ecn => GsoKind::Ufo,
            _ => GsoKind::Unknown(self.gso_type),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_bytes() {
        // A TSO frame as Linux hands it: NEEDS_CSUM, TCPV4, hdr_len 52,
        // gso_size 1448, csum_start 20, csum_offset 16.
        let b = [1, 1, 52, 0, 0xa8, 0x05, 20, 0, 16, 0];
        let h = VnetHdr::parse(&b).unwrap();
        assert_eq!(
            h,
            VnetHdr {
                flags: F_NEEDS_CSUM,
                gso_type: GSO_TCPV4,
                hdr_len: 52,
                gso_size: 1448,
                csum_start: 20,
                csum_offset: 16
            }
        );
        assert!(h.needs_csum());
        assert_eq!(h.gso_kind(), GsoKind::TcpV4 { ecn: false });
        assert_eq!(h.to_bytes(), b);
        assert_eq!(VnetHdr::NONE.to_bytes(), [0; 10]);
        assert_eq!(VnetHdr::parse(&[0; 12]).unwrap(), VnetHdr::NONE);
    }

    #[test]
    fn kinds() {
        let k = |t: u8| {
            VnetHdr {
                gso_type: t,
                ..VnetHdr::NONE
            }
            .gso_kind()
        };
        assert_eq!(k(0), GsoKind::None);
        assert_eq!(k(0x81), GsoKind::TcpV4 { ecn: true });
        assert_eq!(k(4), GsoKind::TcpV6 { ecn: false });
        assert_eq!(k(0x84), GsoKind::TcpV6 { ecn: true });
        assert_eq!(k(5), GsoKind::UdpL4);
        assert_eq!(k(3), GsoKind::Ufo);
        assert_eq!(k(0x80), GsoKind::Unknown(0x80));
        assert_eq!(k(0x85), GsoKind::Unknown(0x85));
        assert_eq!(k(2), GsoKind::Unknown(2));
    }

    #[test]
    fn truncated() {
        for n in 0..VNET_HDR_LEN {
            assert_eq!(VnetHdr::parse(&[0; 10][..n]), Err(VnetError(n)));
        }
    }

    proptest::proptest! {
        #[test]
        fn round_trip(b in proptest::array::uniform10(proptest::num::u8::ANY)) {
            let h = VnetHdr::parse(&b).unwrap();
            proptest::prop_assert_eq!(h.to_bytes(), b);
        }
    }
}
