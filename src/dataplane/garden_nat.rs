//! `garden_redirect IP:PORT`: a gardened subscriber's TCP to port 80 that
//! the garden does not allow goes to the portal instead, translated both
//! ways in the data plane (l2tpns left this to an iptables DNAT rule).
//!
//! Upstream, the destination becomes the portal and the original
//! destination is remembered under the subscriber's (address, port).
//! Downstream, a segment from the portal to a remembered (address, port)
//! gets its source back as (original address, 80), so the subscriber's TCP
//! sees the host it asked for. Checksums are patched incrementally (RFC
//! 1624 eqn. 3); both directions carry complete checksums here (upstream
//! from PPP, downstream after the offload path finished them).
//!
//! Each worker keeps its own table: the session's packets reach only its
//! worker both ways. Flows idle for [`IDLE_MS`] are forgotten first when
//! the table is full; it never holds more than [`MAX_FLOWS`]. Two flows
//! from one subscriber port to two different hosts would meet at the
//! portal as one; the later one wins.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::garden::HTTP_PORT;
use super::ipv4::{self, fold, PROTO_TCP};
use crate::fx_hash::FxHashMap;

/// Flows remembered per worker at most.
pub const MAX_FLOWS: usize = 65_536;
/// A flow with no packet for this long may be forgotten (milliseconds).
pub const IDLE_MS: u64 = 300_000;

#[derive(Debug, Clone, Copy)]
struct Flow {
    original: Ipv4Addr,
    last_ms: u64,
}

#[derive(Default)]
pub struct GardenNat {
    flows: FxHashMap<(Ipv4Addr, u16), Flow>,
}

/// Where the addresses and ports of an IPv4 TCP packet are.
struct TcpAt {
    header_len: usize,
}

fn tcp_at(packet: &[u8]) -> Option<TcpAt> {
    let (total, header_len) = ipv4::check(packet).ok()?;
    let frag_offset = u16::from_be_bytes([*packet.get(6)?, *packet.get(7)?]) & 0x1fff;
    if packet.get(9) != Some(&PROTO_TCP) || frag_offset != 0 || total < header_len + 20 {
        return None;
    }
    Some(TcpAt { header_len })
}

impl GardenNat {
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Send this upstream TCP packet to `portal`, remembering where it was
    /// going. False (unchanged) when it is not a readable TCP packet.
    pub fn redirect(&mut self, packet: &mut [u8], portal: SocketAddrV4, now_ms: u64) -> bool {
        let Some(at) = tcp_at(packet) else {
            return false;
        };
        let h = at.header_len;
        let client = (read_addr(packet, 12), read_port(packet, h));
        let original = read_addr(packet, 16);
        if !self.flows.contains_key(&client) && self.flows.len() >= MAX_FLOWS {
            self.flows
                .retain(|_, f| now_ms.saturating_sub(f.last_ms) < IDLE_MS);
            if self.flows.len() >= MAX_FLOWS {
                self.flows.clear();
            }
        }
        self.flows.insert(
            client,
            Flow {
                original,
                last_ms: now_ms,
            },
        );
        rewrite(packet, h, 16, h + 2, *portal.ip(), portal.port());
        true
    }

    /// A downstream packet from `portal` to a flow this table redirected:
    /// give it back the source the subscriber connected to. False otherwise.
    pub fn reverse(&mut self, packet: &mut [u8], portal: SocketAddrV4, now_ms: u64) -> bool {
        let Some(at) = tcp_at(packet) else {
            return false;
        };
        let h = at.header_len;
        if read_addr(packet, 12) != *portal.ip() || read_port(packet, h) != portal.port() {
            return false;
        }
        let client = (read_addr(packet, 16), read_port(packet, h + 2));
        let Some(flow) = self.flows.get_mut(&client) else {
            return false;
        };
        flow.last_ms = now_ms;
        let original = flow.original;
        rewrite(packet, h, 12, h, original, HTTP_PORT);
        true
    }

    /// The subscriber at `client` is gone (or out of the garden).
    pub fn forget(&mut self, client: Ipv4Addr) {
        if !self.flows.is_empty() {
            self.flows.retain(|(a, _), _| *a != client);
        }
    }
}

fn read_addr(p: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(p[at], p[at + 1], p[at + 2], p[at + 3])
}

fn read_port(p: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([p[at], p[at + 1]])
}

/// Write `addr` at `addr_at` (source 12 or destination 16) and `port` at
/// `port_at`, patching the IP header checksum and the TCP checksum (whose
/// pseudo-header holds the address). Bounds were checked by `tcp_at`.
fn rewrite(p: &mut [u8], h: usize, addr_at: usize, port_at: usize, addr: Ipv4Addr, port: u16) {
    let old_addr: [u8; 4] = p[addr_at..addr_at + 4].try_into().unwrap_or_default();
    let old_port: [u8; 2] = p[port_at..port_at + 2].try_into().unwrap_or_default();
    let new_addr = addr.octets();
    let new_port = port.to_be_bytes();
    let ip_check = read_port(p, 10);
    p[10..12].copy_from_slice(&patch(ip_check, &old_addr, &new_addr).to_be_bytes());
    let tcp_check_at = h + 16;
    let mut tcp_check = read_port(p, tcp_check_at);
    tcp_check = patch(tcp_check, &old_addr, &new_addr);
    tcp_check = patch(tcp_check, &old_port, &new_port);
    p[tcp_check_at..tcp_check_at + 2].copy_from_slice(&tcp_check.to_be_bytes());
    p[addr_at..addr_at + 4].copy_from_slice(&new_addr);
    p[port_at..port_at + 2].copy_from_slice(&new_port);
}

/// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for `old` -> `new` (even lengths).
fn patch(check: u16, old: &[u8], new: &[u8]) -> u16 {
    let acc = u64::from(!check) + u64::from(!fold(ipv4::sum(old))) + ipv4::sum(new);
    !fold(acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::garden::tests::to_port;

    const PORTAL: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 80), 8080);

    /// Fill in a correct TCP checksum for a packet from `to_port`.
    fn with_tcp_checksum(mut p: Vec<u8>) -> Vec<u8> {
        p[36] = 0;
        p[37] = 0;
        let c = tcp_checksum(&p);
        p[36..38].copy_from_slice(&c.to_be_bytes());
        p
    }

    fn tcp_checksum(p: &[u8]) -> u16 {
        let tcp = &p[20..];
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&p[12..20]);
        pseudo.extend_from_slice(&[0, PROTO_TCP]);
        pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
        !fold(ipv4::sum(&pseudo) + ipv4::sum(tcp))
    }

    fn checksums_hold(p: &[u8]) {
        assert_eq!(ipv4::checksum(&p[..20]), 0, "IP header checksum");
        assert_eq!(tcp_checksum(p), 0, "TCP checksum");
    }

    /// The portal's answer to a redirected segment: addresses and ports swapped.
    fn answer_to(up: &[u8]) -> Vec<u8> {
        let mut d = up.to_vec();
        d[12..16].copy_from_slice(&up[16..20]);
        d[16..20].copy_from_slice(&up[12..16]);
        d[20..22].copy_from_slice(&up[22..24]);
        d[22..24].copy_from_slice(&up[20..22]);
        ipv4::fill_header_checksum(&mut d[..20]);
        with_tcp_checksum(d)
    }

    #[test]
    fn a_flow_goes_to_the_portal_and_comes_back_from_the_original() {
        let mut nat = GardenNat::default();
        let mut up = with_tcp_checksum(to_port(PROTO_TCP, [203, 0, 113, 9], 80));
        checksums_hold(&up);
        assert!(nat.redirect(&mut up, PORTAL, 1));
        assert_eq!(read_addr(&up, 16), *PORTAL.ip());
        assert_eq!(read_port(&up, 22), 8080);
        checksums_hold(&up);

        let mut down = answer_to(&up);
        assert!(nat.reverse(&mut down, PORTAL, 2));
        assert_eq!(read_addr(&down, 12), Ipv4Addr::new(203, 0, 113, 9));
        assert_eq!(read_port(&down, 20), 80);
        assert_eq!(read_addr(&down, 16), Ipv4Addr::new(10, 100, 0, 7));
        checksums_hold(&down);
    }

    #[test]
    fn only_the_portals_answers_to_known_flows_are_reversed() {
        let mut nat = GardenNat::default();
        let mut up = with_tcp_checksum(to_port(PROTO_TCP, [203, 0, 113, 9], 80));
        nat.redirect(&mut up, PORTAL, 1);
        let mut other = answer_to(&up);
        other[12] = 198; // not the portal
        ipv4::fill_header_checksum(&mut other[..20]);
        assert!(!nat.reverse(&mut other, PORTAL, 2));
        nat.forget(Ipv4Addr::new(10, 100, 0, 7));
        assert!(nat.is_empty());
        let mut down = answer_to(&up);
        assert!(!nat.reverse(&mut down, PORTAL, 3));
        // Not TCP, or unreadable: left alone.
        let mut udp = to_port(17, [203, 0, 113, 9], 80);
        assert!(!nat.redirect(&mut udp, PORTAL, 4));
        assert!(!nat.redirect(&mut [0u8; 10], PORTAL, 4));
    }

    /// The fuzz target's property on seeded random mutations of a real
    /// segment (cargo-fuzz needs nightly; this runs everywhere).
    #[test]
    fn mangled_packets_never_panic_and_stay_valid_ipv4() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let base = with_tcp_checksum(to_port(PROTO_TCP, [203, 0, 113, 9], 80));
        let mut nat = GardenNat::default();
        for _ in 0..200_000 {
            let mut p = base.clone();
            for _ in 0..rng.gen_range(1..4) {
                let i = rng.gen_range(0..p.len());
                p[i] = rng.gen();
            }
            p.truncate(rng.gen_range(0..=p.len()));
            let mut q = p.clone();
            if nat.redirect(&mut p, PORTAL, 1) {
                assert!(ipv4::check(&p).is_ok());
            }
            if nat.reverse(&mut q, PORTAL, 2) {
                assert!(ipv4::check(&q).is_ok());
            }
        }
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut nat = GardenNat::default();
        let base = with_tcp_checksum(to_port(PROTO_TCP, [203, 0, 113, 9], 80));
        for i in 0..(MAX_FLOWS + 10) {
            let mut p = base.clone();
            p[20..22].copy_from_slice(&(i as u16).to_be_bytes());
            p[15] = (i >> 16) as u8;
            ipv4::fill_header_checksum(&mut p[..20]);
            nat.redirect(&mut p, PORTAL, i as u64);
        }
        assert!(nat.len() <= MAX_FLOWS);
    }
}
