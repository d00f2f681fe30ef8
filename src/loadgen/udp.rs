//! IPv4 + UDP packets (RFC 791, RFC 768) for benchmark traffic inside the
//! sessions: built once per session as a template, then only the payload's
//! sequence number changes. The UDP checksum is left at zero ("no checksum",
//! allowed for IPv4 by RFC 768), so the template's IP checksum stays valid.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::dataplane::ipv4::checksum;

pub const IP_HEADER_LEN: usize = 20;
pub const UDP_HEADER_LEN: usize = 8;
/// Offset of the UDP payload in a packet built by `udp_packet`.
pub const PAYLOAD_AT: usize = IP_HEADER_LEN + UDP_HEADER_LEN;
/// Largest IP packet size we build.
pub const MAX_IP_LEN: usize = 1500;

/// An IPv4/UDP packet of `ip_len` bytes in all (clamped to PAYLOAD_AT..=1500),
/// payload zeroed, DF set, IP checksum computed, UDP checksum zero.
pub fn udp_packet(src: SocketAddrV4, dst: SocketAddrV4, ip_len: usize) -> Vec<u8> {
    let total = ip_len.clamp(PAYLOAD_AT, MAX_IP_LEN);
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[6] = 0x40; // DF: an identification of 0 is then fine (RFC 6864)
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src.ip().octets());
    p[16..20].copy_from_slice(&dst.ip().octets());
    let c = checksum(&p[..IP_HEADER_LEN]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p[20..22].copy_from_slice(&src.port().to_be_bytes());
    p[22..24].copy_from_slice(&dst.port().to_be_bytes());
    p[24..26].copy_from_slice(&((total - IP_HEADER_LEN) as u16).to_be_bytes());
    p
}

/// A checked view of an unfragmented IPv4/UDP packet.
#[derive(Debug, PartialEq, Eq)]
pub struct UdpView<'a> {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    /// The IP packet's total length.
    pub ip_len: usize,
    pub payload: &'a [u8],
}

impl<'a> UdpView<'a> {
    /// None for anything but a well-formed, unfragmented IPv4 UDP packet.
    pub fn parse(p: &'a [u8]) -> Option<UdpView<'a>> {
        let first = *p.first()?;
        if first >> 4 != 4 || p.len() < PAYLOAD_AT {
            return None;
        }
        let ihl = usize::from(first & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
        let frag = u16::from_be_bytes([p[6], p[7]]) & 0x3fff;
        if ihl < IP_HEADER_LEN || total > p.len() || p[9] != 17 || frag != 0 {
            return None;
        }
        let udp = p.get(ihl..total)?;
        let hdr = udp.get(..UDP_HEADER_LEN)?;
        let ulen = usize::from(u16::from_be_bytes([hdr[4], hdr[5]]));
        if ulen < UDP_HEADER_LEN || ulen > udp.len() {
            return None;
        }
        let port = |i: usize| u16::from_be_bytes([hdr[i], hdr[i + 1]]);
        Some(UdpView {
            src: SocketAddrV4::new(Ipv4Addr::new(p[12], p[13], p[14], p[15]), port(0)),
            dst: SocketAddrV4::new(Ipv4Addr::new(p[16], p[17], p[18], p[19]), port(2)),
            ip_len: total,
            payload: udp.get(UDP_HEADER_LEN..ulen)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddrV4 {
        s.parse().unwrap()
    }

    #[test]
    fn built_packet_parses_back() {
        let p = udp_packet(a("10.100.0.1:40000"), a("10.99.0.1:9000"), 64);
        assert_eq!(p.len(), 64);
        assert_eq!(checksum(&p[..20]), 0);
        let v = UdpView::parse(&p).unwrap();
        assert_eq!(v.src, a("10.100.0.1:40000"));
        assert_eq!(v.dst, a("10.99.0.1:9000"));
        assert_eq!(v.ip_len, 64);
        assert_eq!(v.payload.len(), 36);
        assert_eq!(
            udp_packet(a("1.1.1.1:1"), a("2.2.2.2:2"), 5).len(),
            PAYLOAD_AT
        );
        assert_eq!(udp_packet(a("1.1.1.1:1"), a("2.2.2.2:2"), 9000).len(), 1500);
    }

    #[test]
    fn malformed_packets_are_refused() {
        let p = udp_packet(a("10.100.0.1:1"), a("10.99.0.1:2"), 100);
        for n in 0..PAYLOAD_AT {
            assert_eq!(UdpView::parse(&p[..n]), None);
        }
        // Total length beyond the buffer.
        assert_eq!(UdpView::parse(&p[..99]), None);
        let mut q = p.clone();
        q[9] = 6;
        assert_eq!(UdpView::parse(&q), None);
        let mut q = p.clone();
        q[7] = 1; // a fragment
        assert_eq!(UdpView::parse(&q), None);
        let mut q = p.clone();
        q[24..26].copy_from_slice(&200u16.to_be_bytes());
        assert_eq!(UdpView::parse(&q), None);
        let mut q = p.clone();
        q[0] = 0x4f; // IHL 60 > a header followed by 8 UDP bytes? still inside
        assert_eq!(UdpView::parse(&q).map(|v| v.payload.len()), None);
        let mut q = p;
        q[0] = 0x65;
        assert_eq!(UdpView::parse(&q), None);
    }
}
