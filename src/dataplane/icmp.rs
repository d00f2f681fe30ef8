//! ICMP Destination Unreachable (RFC 792), sent back through the TUN:
//! Fragmentation Needed when a DF packet exceeds a session's MRU (RFC 1191
//! §4: next-hop MTU in the low 16 bits of the second word), Host
//! Unreachable for a pool address without a session (`icmp_rate`),
//! Administratively Prohibited for what the walled garden refuses. RFC
//! 1122 §3.2.2 says when an ICMP error must not be sent.

use std::net::Ipv4Addr;

use super::ipv4::{self, Ipv4Packet, PROTO_ICMP};

const ICMP_DEST_UNREACHABLE: u8 = 3;
const CODE_HOST_UNREACHABLE: u8 = 1;
const CODE_FRAG_NEEDED: u8 = 4;
/// RFC 1812 §5.2.7.1: Communication Administratively Prohibited.
const CODE_ADMIN_PROHIBITED: u8 = 13;
const TTL: u8 = 64;
/// IP header + ICMP header + the largest quoted header (60) + 8 data bytes.
pub const UNREACHABLE_MAX: usize = 20 + 8 + 60 + 8;
/// The same, for frag-needed.
pub const FRAG_NEEDED_MAX: usize = UNREACHABLE_MAX;

/// May we answer this packet with an ICMP error? Not if it is itself an ICMP
/// error, a non-first fragment, or from an address no one can answer to.
pub fn may_answer(p: &Ipv4Packet<'_>) -> bool {
    let src = p.src();
    if p.frag_offset() != 0
        || src.is_unspecified()
        || src.is_broadcast()
        || src.is_multicast()
        || src.is_loopback()
    {
        return false;
    }
    if p.protocol() == PROTO_ICMP {
        // Queries (echo, timestamp...) may be answered; errors and unreadable messages not.
        return matches!(p.payload().first(), Some(&t) if !matches!(t, 3 | 4 | 5 | 11 | 12));
    }
    true
}

/// Write the ICMP frag-needed answer to `original` into `out`; returns its length.
pub fn frag_needed(
    original: &Ipv4Packet<'_>,
    local: Ipv4Addr,
    mtu: u16,
    out: &mut [u8; FRAG_NEEDED_MAX],
) -> usize {
    unreachable(original, local, CODE_FRAG_NEEDED, mtu, out)
}

/// Write the ICMP host-unreachable answer to `original` into `out`;
/// returns its length.
pub fn host_unreachable(
    original: &Ipv4Packet<'_>,
    local: Ipv4Addr,
    out: &mut [u8; UNREACHABLE_MAX],
) -> usize {
    unreachable(original, local, CODE_HOST_UNREACHABLE, 0, out)
}

/// Write the ICMP communication-administratively-prohibited answer to
/// `original` (a walled-garden refusal) into `out`; returns its length.
pub fn admin_prohibited(
    original: &Ipv4Packet<'_>,
    local: Ipv4Addr,
    out: &mut [u8; UNREACHABLE_MAX],
) -> usize {
    unreachable(original, local, CODE_ADMIN_PROHIBITED, 0, out)
}

/// Destination Unreachable with `code`; `mtu` is the second word's low half
/// (RFC 1191; 0 = unused), quoting `original`'s header and 8 data bytes.
fn unreachable(
    original: &Ipv4Packet<'_>,
    local: Ipv4Addr,
    code: u8,
    mtu: u16,
    out: &mut [u8; UNREACHABLE_MAX],
) -> usize {
    let quoted_len = original.header_len() + original.payload().len().min(8);
    let quoted = &original.as_bytes()[..quoted_len];
    let total = 28 + quoted_len; // <= FRAG_NEEDED_MAX: header_len <= 60
    let (ip, icmp) = out[..total].split_at_mut(20);

    ip.copy_from_slice(&[0; 20]);
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    ip[8] = TTL;
    ip[9] = PROTO_ICMP;
    ip[12..16].copy_from_slice(&local.octets());
    ip[16..20].copy_from_slice(&original.src().octets());
    ipv4::fill_header_checksum(ip);

    icmp[0] = ICMP_DEST_UNREACHABLE;
    icmp[1] = code;
    icmp[2..6].copy_from_slice(&[0; 4]);
    icmp[6..8].copy_from_slice(&mtu.to_be_bytes());
    icmp[8..].copy_from_slice(quoted);
    let c = ipv4::checksum(icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::ipv4::tests::packet;

    #[test]
    fn frag_needed_bytes() {
        let p = packet([10, 0, 0, 1], [192, 0, 2, 9], 1500, &[], true);
        let v = Ipv4Packet::new_checked(&p).unwrap();
        let mut out = [0u8; FRAG_NEEDED_MAX];
        let n = frag_needed(&v, Ipv4Addr::new(198, 51, 100, 1), 1400, &mut out);
        assert_eq!(n, 56);
        let icmp_ip = Ipv4Packet::new_checked(&out[..n]).unwrap();
        assert!(icmp_ip.verify_checksum());
        assert_eq!(icmp_ip.total_len(), 56);
        assert_eq!(icmp_ip.protocol(), PROTO_ICMP);
        assert_eq!(icmp_ip.src(), Ipv4Addr::new(198, 51, 100, 1));
        assert_eq!(icmp_ip.dst(), Ipv4Addr::new(10, 0, 0, 1));
        let icmp = icmp_ip.payload();
        assert_eq!(&icmp[..2], &[3, 4]);
        assert_eq!(ipv4::checksum(icmp), 0);
        assert_eq!(&icmp[4..8], &[0, 0, 0x05, 0x78]); // next-hop MTU 1400
        assert_eq!(&icmp[8..], &p[..28]);
    }

    #[test]
    fn host_unreachable_bytes() {
        let p = packet([192, 0, 2, 9], [10, 100, 0, 7], 100, &[], false);
        let v = Ipv4Packet::new_checked(&p).unwrap();
        let mut out = [0u8; UNREACHABLE_MAX];
        let n = host_unreachable(&v, Ipv4Addr::new(198, 51, 100, 1), &mut out);
        assert_eq!(n, 56);
        let icmp_ip = Ipv4Packet::new_checked(&out[..n]).unwrap();
        assert!(icmp_ip.verify_checksum());
        assert_eq!(icmp_ip.src(), Ipv4Addr::new(198, 51, 100, 1));
        assert_eq!(icmp_ip.dst(), Ipv4Addr::new(192, 0, 2, 9));
        let icmp = icmp_ip.payload();
        assert_eq!(&icmp[..2], &[3, 1]);
        assert_eq!(&icmp[4..8], &[0; 4]);
        assert_eq!(ipv4::checksum(icmp), 0);
        assert_eq!(&icmp[8..], &p[..28]);
    }

    #[test]
    fn quotes_options_and_short_payload() {
        let p = packet([10, 0, 0, 1], [192, 0, 2, 9], 3, &[0x94, 0x04, 0, 0], true);
        let v = Ipv4Packet::new_checked(&p).unwrap();
        let mut out = [0u8; FRAG_NEEDED_MAX];
        let n = frag_needed(&v, Ipv4Addr::new(198, 51, 100, 1), 68, &mut out);
        assert_eq!(n, 28 + 24 + 3);
        assert_eq!(&out[28..n], &p[..]);
        assert_eq!(ipv4::checksum(&out[20..n]), 0);
    }

    #[test]
    fn when_not_to_answer() {
        let ok = packet([10, 0, 0, 1], [192, 0, 2, 9], 100, &[], true);
        assert!(may_answer(&Ipv4Packet::new_checked(&ok).unwrap()));
        let mut frag = ok.clone();
        frag[6..8].copy_from_slice(&ipv4::flags_offset(true, false, 10).to_be_bytes());
        assert!(!may_answer(&Ipv4Packet::new_checked(&frag).unwrap()));
        let mut icmp_err = ok.clone();
        icmp_err[9] = PROTO_ICMP;
        icmp_err[20] = 3;
        assert!(!may_answer(&Ipv4Packet::new_checked(&icmp_err).unwrap()));
        icmp_err[20] = 8; // echo request: fine
        assert!(may_answer(&Ipv4Packet::new_checked(&icmp_err).unwrap()));
        let bcast = packet([255, 255, 255, 255], [192, 0, 2, 9], 100, &[], true);
        assert!(!may_answer(&Ipv4Packet::new_checked(&bcast).unwrap()));
        let empty_icmp = {
            let mut p = packet([10, 0, 0, 1], [192, 0, 2, 9], 0, &[], true);
            p[9] = PROTO_ICMP;
            p
        };
        assert!(!may_answer(&Ipv4Packet::new_checked(&empty_icmp).unwrap()));
    }
}
