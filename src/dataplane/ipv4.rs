//! A checked IPv4 header view (RFC 791 §3.1), smoltcp-style: `new_checked`
//! validates version, IHL and total length once, after which no accessor can
//! panic; plus the RFC 1071 internet checksum.

use std::net::Ipv4Addr;

/// Minimum IPv4 header length.
pub const MIN_HEADER_LEN: usize = 20;
/// IP protocol numbers used here.
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// Why bytes are not a usable IPv4 packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Ipv4Error {
    #[error("IPv4 packet truncated")]
    Truncated,
    #[error("IP version {0}, expected 4")]
    NotIpv4(u8),
    #[error("IPv4 header length {0} invalid")]
    BadHeaderLength(usize),
    #[error("IPv4 total length {total} invalid for header {header} and buffer {available}")]
    BadTotalLength {
        total: usize,
        header: usize,
        available: usize,
    },
}

/// A validated IPv4 packet: `buf` is exactly `total_len` bytes (trailing
/// bytes trimmed) and holds at least the whole header.
#[derive(Clone, Copy, Debug)]
pub struct Ipv4Packet<'a> {
    buf: &'a [u8],
    header_len: usize,
}

/// Validate the IPv4 header of `buf` and return the packet's length
/// (total length, <= `buf.len()`) and header length.
#[inline]
pub fn check(buf: &[u8]) -> Result<(usize, usize), Ipv4Error> {
    let (Some(&vihl), Some(&[hi, lo])) = (buf.first(), buf.get(2..4)) else {
        return Err(Ipv4Error::Truncated);
    };
    if vihl >> 4 != 4 {
        return Err(Ipv4Error::NotIpv4(vihl >> 4));
    }
    let header = usize::from(vihl & 0x0f) * 4;
    if header < MIN_HEADER_LEN {
        return Err(Ipv4Error::BadHeaderLength(header));
    }
    let total = usize::from(u16::from_be_bytes([hi, lo]));
    if buf.len() < MIN_HEADER_LEN {
        return Err(Ipv4Error::Truncated);
    }
    if total < header || total > buf.len() {
        return Err(Ipv4Error::BadTotalLength {
            total,
            header,
            available: buf.len(),
        });
    }
    Ok((total, header))
}

impl<'a> Ipv4Packet<'a> {
    /// The only way in for untrusted bytes.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, Ipv4Error> {
        let (total, header_len) = check(buf)?;
        Ok(Self {
            buf: &buf[..total],
            header_len,
        })
    }

    #[inline]
    fn be16(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.buf[at], self.buf[at + 1]])
    }

    /// The whole packet, trimmed to the total length.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
    #[inline]
    pub fn total_len(&self) -> usize {
        self.buf.len()
    }
    #[inline]
    pub fn header_len(&self) -> usize {
        self.header_len
    }
    #[inline]
    pub fn header(&self) -> &'a [u8] {
        &self.buf[..self.header_len]
    }
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.header_len..]
    }
    #[inline]
    pub fn ident(&self) -> u16 {
        self.be16(4)
    }
    #[inline]
    pub fn dont_frag(&self) -> bool {
        self.be16(6) & FLAG_DF != 0
    }
    #[inline]
    pub fn more_frags(&self) -> bool {
        self.be16(6) & FLAG_MF != 0
    }
    /// Fragment offset in 8-byte units.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        self.be16(6) & OFFSET_MASK
    }
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buf[8]
    }
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buf[9]
    }
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.be16(10)
    }
    #[inline]
    pub fn src(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.buf[12], self.buf[13], self.buf[14], self.buf[15])
    }
    #[inline]
    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.buf[16], self.buf[17], self.buf[18], self.buf[19])
    }
    /// Does the header checksum verify?
    pub fn verify_checksum(&self) -> bool {
        checksum(self.header()) == 0
    }
}

/// Write flags+offset (bytes 6..8) and total length (2..4) of a header and
/// recompute its checksum. `header` must be at least 20 bytes (callers pass
/// headers they built or validated).
pub(crate) fn patch_header(header: &mut [u8], total_len: u16, flags_offset: u16) {
    header[2..4].copy_from_slice(&total_len.to_be_bytes());
    header[6..8].copy_from_slice(&flags_offset.to_be_bytes());
    fill_header_checksum(header);
}

/// Zero then fill the header checksum field (bytes 10..12).
pub(crate) fn fill_header_checksum(header: &mut [u8]) {
    header[10..12].copy_from_slice(&[0, 0]);
    let c = checksum(header);
    header[10..12].copy_from_slice(&c.to_be_bytes());
}

pub(crate) const fn flags_offset(df: bool, mf: bool, offset: u16) -> u16 {
    (if df { FLAG_DF } else { 0 }) | (if mf { FLAG_MF } else { 0 }) | (offset & OFFSET_MASK)
}

/// One's-complement sum of `data` as big-endian 16-bit words (odd length
/// padded with a zero byte), not yet folded to 16 bits.
#[inline]
pub fn sum(data: &[u8]) -> u64 {
    // Summing 32-bit words is equivalent mod 0xffff and halves the loop.
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    acc + u64::from(u32::from_be_bytes(tail))
}

/// Fold a [`sum`] (or several added together) to 16 bits.
#[inline]
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The RFC 1071 internet checksum of `data`: 0 when verifying a block that
/// already contains its correct checksum.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A UDP/IPv4 packet with `payload_len` bytes of payload and optional header options.
    pub(crate) fn packet(
        src: [u8; 4],
        dst: [u8; 4],
        payload_len: usize,
        options: &[u8],
        df: bool,
    ) -> Vec<u8> {
        assert_eq!(options.len() % 4, 0);
        let hl = 20 + options.len();
        let total = hl + payload_len;
        let mut p = vec![0u8; total];
        p[0] = 0x40 | (hl / 4) as u8;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
        p[6..8].copy_from_slice(&flags_offset(df, false, 0).to_be_bytes());
        p[8] = 64;
        p[9] = 17;
        p[12..16].copy_from_slice(&src);
        p[16..20].copy_from_slice(&dst);
        p[20..hl].copy_from_slice(options);
        for (i, b) in p[hl..].iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
        fill_header_checksum(&mut p[..hl]);
        p
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&d)), 0xddf2);
        assert_eq!(checksum(&d), 0x220d);
        // Odd length: the last byte is padded with zero.
        assert_eq!(fold(sum(&[0x00, 0x01, 0xf2])), 0xf201);
    }

    #[test]
    fn known_ipv4_header() {
        // A classic example header (Wikipedia "IPv4 header checksum"): checksum b861.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0xb861);
        let mut with = h;
        with[10..12].copy_from_slice(&[0xb8, 0x61]);
        assert_eq!(checksum(&with), 0);
        let mut buf = with.to_vec();
        buf.resize(0x73, 0);
        let p = Ipv4Packet::new_checked(&buf).unwrap();
        assert!(p.verify_checksum());
        assert!(p.dont_frag());
        assert!(!p.more_frags());
        assert_eq!(p.src(), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(p.dst(), Ipv4Addr::new(192, 168, 0, 199));
        assert_eq!(p.protocol(), 17);
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.ident(), 0);
        assert_eq!(p.checksum(), 0xb861);
    }

    #[test]
    fn trims_trailing_bytes() {
        let mut p = packet([1, 1, 1, 1], [2, 2, 2, 2], 10, &[], false);
        p.extend_from_slice(&[0xee; 5]);
        let v = Ipv4Packet::new_checked(&p).unwrap();
        assert_eq!(v.total_len(), 30);
        assert_eq!(v.payload().len(), 10);
        assert_eq!(v.header_len(), 20);
    }

    #[test]
    fn malformed() {
        let p = packet([1, 1, 1, 1], [2, 2, 2, 2], 10, &[1, 1, 1, 0], false);
        for n in 0..p.len() {
            assert!(Ipv4Packet::new_checked(&p[..n]).is_err(), "len {n}");
        }
        let mut v6 = p.clone();
        v6[0] = 0x60;
        assert_eq!(
            Ipv4Packet::new_checked(&v6).unwrap_err(),
            Ipv4Error::NotIpv4(6)
        );
        let mut ihl = p.clone();
        ihl[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&ihl).unwrap_err(),
            Ipv4Error::BadHeaderLength(16)
        );
        let mut ihl_big = p.clone();
        ihl_big[0] = 0x4f; // 60-byte header > total length 34
        assert!(matches!(
            Ipv4Packet::new_checked(&ihl_big),
            Err(Ipv4Error::BadTotalLength { .. })
        ));
        let mut short_total = p.clone();
        short_total[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert!(Ipv4Packet::new_checked(&short_total).is_err());
    }
}
