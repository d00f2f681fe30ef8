//! TCP and UDP checksums over IPv4 (RFC 1071 internet checksum, RFC 9293
//! §3.1 and RFC 768 pseudo-header), and completing a packet whose checksum
//! the kernel left partial (virtio `NEEDS_CSUM`, Linux `CHECKSUM_PARTIAL`).
//!
//! [`sum`] is the hot loop of the offload path (it runs over every byte of
//! bulk TCP): it adds native-endian 64-bit words into a 128-bit accumulator
//! (add + add-with-carry) and swaps bytes once at the end, which RFC 1071
//! §2(B) allows since the one's-complement sum is byte-order independent.

use crate::dataplane::ipv4::{fold, PROTO_TCP};

/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;

/// Offset of the checksum field in a TCP and a UDP header.
pub const TCP_CSUM_OFFSET: usize = 16;
pub const UDP_CSUM_OFFSET: usize = 6;

/// One's-complement sum of `data` as big-endian 16-bit words (odd length
/// padded with a zero byte), folded to 16 bits; combine with
/// [`crate::dataplane::ipv4::sum`] values and [`fold`] freely.
#[inline]
pub fn sum(data: &[u8]) -> u64 {
    let mut a: u128 = 0;
    let mut b: u128 = 0;
    let mut chunks = data.chunks_exact(16);
    for c in &mut chunks {
        let (lo, hi) = c.split_at(8);
        // Two accumulators so consecutive adds do not wait on one carry chain.
        a += u128::from(u64::from_ne_bytes(lo.try_into().unwrap_or_default()));
        b += u128::from(u64::from_ne_bytes(hi.try_into().unwrap_or_default()));
    }
    // The tail keeps its byte positions (chunks start at even offsets).
    let rest = chunks.remainder();
    let mut tail = [0u8; 16];
    tail[..rest.len()].copy_from_slice(rest);
    let (lo, hi) = tail.split_at(8);
    a += u128::from(u64::from_ne_bytes(lo.try_into().unwrap_or_default()));
    b += u128::from(u64::from_ne_bytes(hi.try_into().unwrap_or_default()));
    let acc = a + b; // < 2^66 for any slice that fits in memory
                     // Fold 128 -> 64 -> 16 bits with end-around carry, then to big-endian order.
    let (s, carry) = (acc as u64).overflowing_add((acc >> 64) as u64);
    let folded = fold(u64::from(s as u32) + (s >> 32) + u64::from(carry));
    u64::from(u16::from_be(folded))
}

/// Sum of the IPv4 pseudo-header (RFC 9293 §3.1, RFC 768): addresses,
/// protocol and the L4 length.
#[inline]
pub fn pseudo_header_sum(src: [u8; 4], dst: [u8; 4], protocol: u8, l4_len: u16) -> u64 {
    let w = |b: [u8; 4]| u64::from(u32::from_be_bytes(b));
    w(src) + w(dst) + u64::from(protocol) + u64::from(l4_len)
}

/// Source and destination addresses of an IPv4 header (at least 20 bytes,
/// as checked by the caller).
#[inline]
pub(crate) fn addresses(ip_header: &[u8]) -> Option<([u8; 4], [u8; 4])> {
    let src = ip_header.get(12..16)?.try_into().ok()?;
    let dst = ip_header.get(16..20)?.try_into().ok()?;
    Some((src, dst))
}

/// The internet checksum of an L4 segment `l4` (its checksum field included
/// as it is) with the pseudo-header: 0 when a received segment is valid, the
/// value to store when the field was zeroed first.
#[inline]
pub fn l4_checksum(src: [u8; 4], dst: [u8; 4], protocol: u8, l4: &[u8]) -> u16 {
    let len = u16::try_from(l4.len()).unwrap_or(u16::MAX);
    !fold(pseudo_header_sum(src, dst, protocol, len) + sum(l4))
}

/// Does the TCP checksum of `l4` verify?
#[inline]
pub fn tcp_checksum_ok(src: [u8; 4], dst: [u8; 4], l4: &[u8]) -> bool {
    l4_checksum(src, dst, PROTO_TCP, l4) == 0
}

/// Zero the checksum field at `at` in `l4`, compute the full checksum and
/// store it. UDP writes a computed 0 as 0xffff (RFC 768: 0 means "none";
/// Linux `CSUM_MANGLED_0`); TCP keeps 0, like Linux's segmentation.
#[inline]
pub(crate) fn fill_l4_checksum(src: [u8; 4], dst: [u8; 4], protocol: u8, l4: &mut [u8], at: usize) {
    let Some(field) = l4.get_mut(at..at + 2) else {
        return;
    };
    field.copy_from_slice(&[0, 0]);
    let c = match l4_checksum(src, dst, protocol, l4) {
        0 if protocol == PROTO_UDP => 0xffff,
        c => c,
    };
    l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

/// `csum_start`/`csum_offset` do not leave room for the field inside the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("checksum field at {start}+{offset} outside a {len}-byte packet")]
pub struct CsumOutOfRange {
    pub start: usize,
    pub offset: usize,
    pub len: usize,
}

/// Complete a `NEEDS_CSUM` packet in place (Linux `skb_checksum_help`): the
/// field at `start + offset` holds the folded pseudo-header sum; replace it
/// with the checksum of `packet[start..]`. `packet` ends at the IP total length.
pub fn complete_partial(
    packet: &mut [u8],
    start: usize,
    offset: usize,
) -> Result<(), CsumOutOfRange> {
    let err = CsumOutOfRange {
        start,
        offset,
        len: packet.len(),
    };
    let at = start.checked_add(offset).ok_or(err)?;
    if at.checked_add(2).is_none_or(|end| end > packet.len()) {
        return Err(err);
    }
    let c = match !fold(sum(&packet[start..])) {
        0 => 0xffff,
        c => c,
    };
    packet[at..at + 2].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::dataplane::ipv4;

    /// Straightforward RFC 1071 reference: big-endian 16-bit words one by one.
    pub(crate) fn reference_sum(data: &[u8]) -> u16 {
        let mut acc: u32 = 0;
        for w in data.chunks(2) {
            let v = u32::from(w[0]) << 8 | u32::from(*w.get(1).unwrap_or(&0));
            acc += v;
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    /// Independent TCP/UDP checksum check of a whole IPv4 packet: 0 when valid.
    pub(crate) fn reference_l4_check(ip: &[u8]) -> u16 {
        let hl = usize::from(ip[0] & 15) * 4;
        let l4 = &ip[hl..];
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&ip[12..20]);
        pseudo.extend_from_slice(&[0, ip[9]]);
        pseudo.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        pseudo.extend_from_slice(l4);
        !reference_sum(&pseudo)
    }

    #[test]
    fn rfc1071_example() {
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&d)), 0xddf2);
        assert_eq!(fold(sum(&[0x00, 0x01, 0xf2])), 0xf201);
        assert_eq!(fold(sum(&[])), 0);
        assert_eq!(fold(sum(&[0xff; 64 * 1024])), 0xffff);
    }

    #[test]
    fn complete_partial_tcp() {
        // A TCP segment with the pseudo-header sum in its checksum field.
        let (src, dst) = ([10, 0, 0, 1], [192, 0, 2, 7]);
        let mut seg = vec![0u8; 20 + 333];
        seg[12] = 0x50;
        seg[13] = 0x18;
        for (i, b) in seg[20..].iter_mut().enumerate() {
            *b = (i * 31 + 5) as u8;
        }
        let psum = fold(pseudo_header_sum(src, dst, PROTO_TCP, seg.len() as u16));
        seg[16..18].copy_from_slice(&psum.to_be_bytes());
        complete_partial(&mut seg, 0, 16).unwrap();
        assert!(tcp_checksum_ok(src, dst, &seg));
        let mut z = seg.clone();
        fill_l4_checksum(src, dst, PROTO_TCP, &mut z, 16);
        assert_eq!(z, seg);
    }

    #[test]
    fn complete_partial_out_of_range() {
        let mut p = [0u8; 40];
        assert!(complete_partial(&mut p, 20, 19).is_err());
        assert!(complete_partial(&mut p, 20, 18).is_ok());
        assert!(complete_partial(&mut p, 20, 16).is_ok());
        assert!(complete_partial(&mut p, 41, 0).is_err());
        assert!(complete_partial(&mut p, usize::MAX, 2).is_err());
        assert!(complete_partial(&mut p, 38, usize::MAX).is_err());
        assert!(complete_partial(&mut [], 0, 0).is_err());
    }

    #[test]
    fn udp_zero_becomes_ffff() {
        // Find a payload whose checksum computes to 0 and check it is sent as 0xffff.
        let (src, dst) = ([0, 0, 0, 0], [0, 0, 0, 0]);
        let mut udp = vec![0u8; 10];
        udp[4..6].copy_from_slice(&10u16.to_be_bytes());
        // pseudo (17 + 10) + length field 10 = 0x25; make the total sum 0xffff.
        let need = 0xffffu16 - 0x25;
        udp[8..10].copy_from_slice(&need.to_be_bytes());
        fill_l4_checksum(src, dst, PROTO_UDP, &mut udp, 6);
        assert_eq!(&udp[6..8], &[0xff, 0xff]);
        assert_eq!(l4_checksum(src, dst, PROTO_UDP, &udp), 0);
    }

    proptest::proptest! {
        #[test]
        fn sum_matches_reference(data in proptest::collection::vec(proptest::num::u8::ANY, 0..300), skip in 0usize..8) {
            let d = &data[skip.min(data.len())..];
            proptest::prop_assert_eq!(fold(sum(d)), reference_sum(d));
            proptest::prop_assert_eq!(fold(sum(d)), fold(ipv4::sum(d)));
        }
    }
}
