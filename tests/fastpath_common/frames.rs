//! Frames for the fast path's programs, written byte by byte as on the wire
//! (RFC 894 Ethernet, RFC 791 IPv4, RFC 768 UDP, RFC 2661 §3.1 L2TP data
//! header, RFC 1661/1662 PPP framing): what a LAC sends, what the kernel
//! routes into the TUN, and what the downstream program must make of it.
//! Nothing here uses the crate's own codecs, so the tests do not check the
//! code against itself.

use std::net::{Ipv4Addr, SocketAddrV4};

pub const ETH_LEN: usize = 14;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_ACK: u8 = 0x10;
pub const IP_DF: u16 = 0x4000;
pub const IP_MF: u16 = 0x2000;

/// The PPP framings of IPv4 the upstream program takes: FF 03 00 21, with
/// PFC (FF 03 21), ACFC (00 21), both (21).
pub const PPP_FULL: &[u8] = &[0xff, 0x03, 0x00, 0x21];
pub const PPP_PFC: &[u8] = &[0xff, 0x03, 0x21];
pub const PPP_ACFC: &[u8] = &[0x00, 0x21];
pub const PPP_ACFC_PFC: &[u8] = &[0x21];

/// Offsets in an upstream frame with an option-less outer IPv4 header.
pub const OUTER_IP: usize = ETH_LEN;
pub const OUTER_UDP: usize = OUTER_IP + 20;
pub const L2TP: usize = OUTER_UDP + 8;
/// Where the PPP frame starts after the 6-byte plain data header.
pub const PPP: usize = L2TP + 6;

/// Outer IPv4 + UDP + L2TP data header + PPP, as the downstream program adds.
pub const ENCAP_LEN: usize = 20 + 8 + 6 + 4;

pub fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

pub fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// RFC 1071: the one's complement of the one's complement sum; 0 when
/// verifying data that holds its own correct checksum.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u64 = data
        .chunks(2)
        .map(|c| u64::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// IPv4 header length in bytes, from the IHL of the packet at `ip`.
pub fn ihl_bytes(ip: &[u8]) -> usize {
    usize::from(ip[0] & 0x0f) * 4
}

/// Recompute the header checksum of the IPv4 packet `ip` after an edit
/// (over at least 20 bytes, as far as the bytes go).
pub fn fix_ipv4_checksum(ip: &mut [u8]) {
    let hl = ihl_bytes(ip).max(20).min(ip.len());
    if hl < 12 {
        return;
    }
    put16(ip, 10, 0);
    let c = checksum(&ip[..hl]);
    put16(ip, 10, c);
}

/// An option-less IPv4 header in front of `payload`: id 0x1234, TTL 64,
/// `frag` as the flags/fragment-offset field.
pub fn ipv4_frag(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, frag: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 20];
    p[0] = 0x45;
    put16(&mut p, 2, (20 + payload.len()) as u16);
    put16(&mut p, 4, 0x1234);
    put16(&mut p, 6, frag);
    p[8] = 64;
    p[9] = protocol;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    fix_ipv4_checksum(&mut p);
    p
}

pub fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, payload: &[u8]) -> Vec<u8> {
    ipv4_frag(src, dst, protocol, 0, payload)
}

/// The IPv4 pseudo-header of a `len`-byte TCP or UDP segment (RFC 768,
/// RFC 793), from the addresses as on the wire.
fn pseudo_header(src: &[u8], dst: &[u8], protocol: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + len);
    p.extend_from_slice(src);
    p.extend_from_slice(dst);
    p.extend_from_slice(&[0, protocol]);
    p.extend_from_slice(&(len as u16).to_be_bytes());
    p
}

/// The checksum field a transport header needs over the pseudo-header
/// (RFC 768: a computed 0 is sent as FFFF).
fn transport_checksum(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, segment: &[u8]) -> u16 {
    let mut pseudo = pseudo_header(&src.octets(), &dst.octets(), protocol, segment.len());
    pseudo.extend_from_slice(segment);
    match checksum(&pseudo) {
        0 => 0xffff,
        c => c,
    }
}

/// A UDP datagram in IPv4, with a correct checksum or none (0).
pub fn udp4(src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8], with_checksum: bool) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + payload.len());
    u.extend_from_slice(&src.port().to_be_bytes());
    u.extend_from_slice(&dst.port().to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    if with_checksum {
        let c = transport_checksum(*src.ip(), *dst.ip(), PROTO_UDP, &u);
        put16(&mut u, 6, c);
    }
    ipv4(*src.ip(), *dst.ip(), PROTO_UDP, &u)
}

/// Would a UDP socket take the datagram in IPv4 packet `ip` (checksum
/// absent or right)?
pub fn udp_checksum_holds(ip: &[u8]) -> bool {
    let hl = ihl_bytes(ip);
    let udp = &ip[hl..];
    if be16(udp, 6) == 0 {
        return true;
    }
    let mut pseudo = pseudo_header(&ip[12..16], &ip[16..20], PROTO_UDP, udp.len());
    pseudo.extend_from_slice(udp);
    checksum(&pseudo) == 0
}

/// `ip` (TCP or UDP in IPv4) as a socket on this host hands it to a device
/// with checksum offload (CHECKSUM_PARTIAL): the checksum field holds only
/// the folded pseudo-header sum, for the device to finish.
pub fn with_partial_checksum(mut ip: Vec<u8>) -> Vec<u8> {
    let hl = ihl_bytes(&ip);
    let protocol = ip[9];
    let at = hl + if protocol == PROTO_TCP { 16 } else { 6 };
    let pseudo = pseudo_header(&ip[12..16], &ip[16..20], protocol, ip.len() - hl);
    put16(&mut ip, at, !checksum(&pseudo));
    ip
}

/// A TCP segment with a bare 20-byte header and these flags, in IPv4.
pub fn tcp4(src: SocketAddrV4, dst: SocketAddrV4, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    put16(&mut t, 0, src.port());
    put16(&mut t, 2, dst.port());
    t[4..8].copy_from_slice(&1u32.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    put16(&mut t, 14, 0xffff);
    t.extend_from_slice(payload);
    let c = transport_checksum(*src.ip(), *dst.ip(), PROTO_TCP, &t);
    put16(&mut t, 16, c);
    ipv4(*src.ip(), *dst.ip(), PROTO_TCP, &t)
}

/// `n` bytes of a recognisable pattern.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

/// An L2TPv2 data message with the plain header (flags 0x0002: no L, S,
/// O), our ids, then the PPP framing and its payload.
pub fn l2tp_data(tunnel: u16, session: u16, ppp: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut m = vec![0x00, 0x02];
    m.extend_from_slice(&tunnel.to_be_bytes());
    m.extend_from_slice(&session.to_be_bytes());
    m.extend_from_slice(ppp);
    m.extend_from_slice(payload);
    m
}

pub fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(ETH_LEN + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// What the downstream program must send for one inner packet.
#[derive(Clone, Copy, Debug)]
pub struct Encap {
    pub dmac: [u8; 6],
    pub smac: [u8; 6],
    /// Outer source: bind_address, the route's preferred source, or the
    /// LAC's own address when it is on this host.
    pub src: Ipv4Addr,
    pub lac: SocketAddrV4,
    pub peer_tunnel: u16,
    pub peer_session: u16,
}

/// The whole frame: Ethernet, IPv4 (id 0, DF, TTL 64), UDP from 1701
/// without checksum, L2TP data header with the peer's ids, FF 03 00 21.
pub fn encapsulated(e: &Encap, inner: &[u8]) -> Vec<u8> {
    let mut udp = Vec::with_capacity(ENCAP_LEN - 20 + inner.len());
    udp.extend_from_slice(&1701u16.to_be_bytes());
    udp.extend_from_slice(&e.lac.port().to_be_bytes());
    udp.extend_from_slice(&((ENCAP_LEN - 20 + inner.len()) as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(&l2tp_data(e.peer_tunnel, e.peer_session, PPP_FULL, inner));
    let mut ip = ipv4_frag(e.src, *e.lac.ip(), PROTO_UDP, IP_DF, &udp);
    put16(&mut ip, 4, 0); // the program leaves the id 0
    fix_ipv4_checksum(&mut ip);
    ethernet(e.dmac, e.smac, ETHERTYPE_IPV4, &ip)
}

/// Deterministic xorshift64*: the same frames on every run.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        XorShift(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    pub fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// As `xxd -p`, for a failing frame in a panic message.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)] // the storm bench compiles this module with cfg(test) too
    use super::*;

    #[test]
    fn checksums_verify_to_zero() {
        let ip = udp4(
            "10.0.0.1:5000".parse().unwrap(),
            "198.18.0.53:53".parse().unwrap(),
            &pattern(33),
            true,
        );
        assert_eq!(checksum(&ip[..20]), 0);
        assert!(udp_checksum_holds(&ip));
        let mut bad = ip.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(!udp_checksum_holds(&bad));
    }
}
