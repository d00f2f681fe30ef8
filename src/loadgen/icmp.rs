//! ICMP echo packets the load generator sends through each session and the
//! check of the replies that come back (RFC 792).

use std::net::Ipv4Addr;

use crate::dataplane::ipv4::checksum;

/// An IPv4 ICMP Echo Request from `src` to `dst` with `payload_len` bytes of
/// payload (at least 8: it carries the session index and a sequence number).
pub fn echo_request(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ident: u16,
    seq: u16,
    payload_len: usize,
) -> Vec<u8> {
    let payload_len = payload_len.max(8);
    let total = 20 + 8 + payload_len;
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[4..6].copy_from_slice(&seq.to_be_bytes());
    p[8] = 64; // TTL
    p[9] = 1; // ICMP
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    let c = checksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    let icmp = &mut p[20..];
    icmp[0] = 8; // Echo Request
    icmp[4..6].copy_from_slice(&ident.to_be_bytes());
    icmp[6..8].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in icmp[8..].iter_mut().enumerate() {
        *b = (i as u8) ^ (ident as u8);
    }
    let c = checksum(icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    p
}

/// A verified Echo Reply: (destination, ident, seq). None for anything else
/// or for a corrupted packet.
pub fn parse_echo_reply(p: &[u8]) -> Option<(Ipv4Addr, u16, u16)> {
    if p.len() < 28 || p[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(p[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    if ihl < 20 || total > p.len() || total < ihl + 8 || p[9] != 1 {
        return None;
    }
    if checksum(&p[..ihl]) != 0 {
        return None;
    }
    let icmp = &p[ihl..total];
    if icmp[0] != 0 || checksum(icmp) != 0 {
        return None;
    }
    let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
    let ident = u16::from_be_bytes([icmp[4], icmp[5]]);
    let seq = u16::from_be_bytes([icmp[6], icmp[7]]);
    // The payload must come back intact.
    if icmp[8..]
        .iter()
        .enumerate()
        .any(|(i, b)| *b != (i as u8) ^ (ident as u8))
    {
        return None;
    }
    Some((dst, ident, seq))
}

/// The Echo Reply to an Echo Request, as the host it is addressed to would
/// send it: the emulated client plays a CPE router, so addresses of its
/// routed networks (Framed-Route) answer too. None when `p` is not one.
pub fn answer_echo_request(p: &[u8]) -> Option<Vec<u8>> {
    if p.len() < 28 || p[0] != 0x45 || p[9] != 1 || p[20] != 8 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    if total > p.len() || total < 28 {
        return None;
    }
    let mut r = p[..total].to_vec();
    let (src, dst) = (r[12..16].to_vec(), r[16..20].to_vec());
    r[12..16].copy_from_slice(&dst);
    r[16..20].copy_from_slice(&src);
    r[8] = 64;
    r[10] = 0;
    r[11] = 0;
    let c = checksum(&r[..20]);
    r[10..12].copy_from_slice(&c.to_be_bytes());
    r[20] = 0;
    r[22] = 0;
    r[23] = 0;
    let c = checksum(&r[20..]);
    r[22..24].copy_from_slice(&c.to_be_bytes());
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_turned_into_reply_parses() {
        let src = Ipv4Addr::new(10, 0, 0, 2);
        let dst = Ipv4Addr::new(10, 0, 0, 1);
        let mut p = echo_request(src, dst, 7, 3, 56);
        assert_eq!(checksum(&p[..20]), 0);
        // What the kernel does: swap addresses, type 0, fix checksums.
        p.copy_within(12..16, 16);
        p[12..16].copy_from_slice(&dst.octets());
        p[10] = 0;
        p[11] = 0;
        let c = checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p[20] = 0;
        p[22] = 0;
        p[23] = 0;
        let c = checksum(&p[20..]);
        p[22..24].copy_from_slice(&c.to_be_bytes());
        assert_eq!(parse_echo_reply(&p), Some((src, 7, 3)));
        let req = echo_request(dst, src, 9, 1, 100);
        let rep = answer_echo_request(&req).expect("reply");
        assert_eq!(parse_echo_reply(&rep), Some((dst, 9, 1)));
        assert_eq!(answer_echo_request(&rep), None);
        p[40] ^= 1;
        assert_eq!(parse_echo_reply(&p), None);
        assert_eq!(parse_echo_reply(&p[..10]), None);
    }
}
