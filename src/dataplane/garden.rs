//! The walled garden, in the data plane: what a gardened session may reach.
//! l2tpns built it from iptables NAT rules (its garden plugin's
//! `build-garden` script); here it is a rule list every worker holds.
//!
//! The `garden` file (next to startup-config) has one rule a line,
//! `CIDR [tcp|udp PORT]`; `#` starts a comment. A gardened session's
//! upstream packets pass when a rule allows them, or when they are DNS
//! (UDP or TCP port 53) to one of the session's DNS servers. TCP to port 80
//! that nothing allows goes to the portal when `garden_redirect` is set
//! (see garden_nat.rs); everything else is refused: dropped, counted, and
//! answered with ICMP administratively prohibited.
//!
//! Sans-IO: parsing takes the file's text, judging takes a packet.

use std::net::{Ipv4Addr, SocketAddrV4};

use ipnetwork::Ipv4Network;

use super::ipv4::{Ipv4Packet, PROTO_TCP};

pub const PROTO_UDP: u8 = 17;
const DNS_PORT: u16 = 53;
/// The port `garden_redirect` takes (plain HTTP: a portal can answer it).
pub const HTTP_PORT: u16 = 80;

/// One line of the garden file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GardenRule {
    pub net: Ipv4Network,
    /// (protocol, destination port); None = any traffic to `net`.
    pub port: Option<(u8, u16)>,
}

/// The garden as every worker applies it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Garden {
    pub rules: Vec<GardenRule>,
    /// `garden_redirect`: TCP port 80 nothing allows goes here.
    pub redirect: Option<SocketAddrV4>,
}

/// A line of the garden file that was not understood (it is skipped: a
/// garden with a rule less reaches less, never more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GardenLineError {
    pub line: usize,
    pub message: String,
}

/// What happens to an upstream packet of a gardened session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GardenVerdict {
    Pass,
    /// TCP to port 80 nothing allows: to the portal.
    Redirect(SocketAddrV4),
    /// Dropped, counted, answered with ICMP administratively prohibited.
    Refuse,
}

impl Garden {
    /// The rules of a garden file's text, and the lines skipped.
    pub fn parse(text: &str) -> (Vec<GardenRule>, Vec<GardenLineError>) {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            match parse_rule(line) {
                Ok(r) => rules.push(r),
                Err(message) => errors.push(GardenLineError {
                    line: i + 1,
                    message,
                }),
            }
        }
        (rules, errors)
    }

    /// Does a rule allow this destination? `port` is None for a packet
    /// that carries none (not TCP or UDP, or a later fragment).
    pub fn allows(&self, dst: Ipv4Addr, port: Option<(u8, u16)>) -> bool {
        self.rules.iter().any(|r| {
            r.net.contains(dst)
                && match r.port {
                    None => true,
                    Some(want) => port == Some(want),
                }
        })
    }

    /// Judge an upstream IPv4 packet of a gardened session whose DNS
    /// servers are `dns`. A packet that cannot be read is refused.
    pub fn judge(&self, dns: &[Option<Ipv4Addr>; 2], packet: &[u8]) -> GardenVerdict {
        let Ok(p) = Ipv4Packet::new_checked(packet) else {
            return GardenVerdict::Refuse;
        };
        let dst = p.dst();
        let port = destination_port(&p);
        if let Some((proto, DNS_PORT)) = port {
            if (proto == PROTO_UDP || proto == PROTO_TCP) && dns.contains(&Some(dst)) {
                return GardenVerdict::Pass;
            }
        }
        if self.allows(dst, port) {
            return GardenVerdict::Pass;
        }
        match (self.redirect, port) {
            (Some(portal), Some((PROTO_TCP, HTTP_PORT))) => GardenVerdict::Redirect(portal),
            _ => GardenVerdict::Refuse,
        }
    }
}

/// (protocol, destination port) of a TCP or UDP packet that has its
/// transport header (not a later fragment).
pub fn destination_port(p: &Ipv4Packet<'_>) -> Option<(u8, u16)> {
    let proto = p.protocol();
    if (proto != PROTO_TCP && proto != PROTO_UDP) || p.frag_offset() != 0 {
        return None;
    }
    let l4 = p.payload();
    let port = u16::from_be_bytes([*l4.get(2)?, *l4.get(3)?]);
    Some((proto, port))
}

fn parse_rule(line: &str) -> Result<GardenRule, String> {
    let mut words = line.split_whitespace();
    let cidr = words.next().unwrap_or_default();
    let net = cidr
        .parse::<Ipv4Network>()
        .or_else(|_| cidr.parse::<Ipv4Addr>().map(Ipv4Network::from))
        .map_err(|_| format!("'{cidr}' is not an IPv4 address or CIDR network"))?;
    // ipnetwork keeps host bits (10.0.0.1/8); the rule means the network.
    let net = Ipv4Network::new(net.network(), net.prefix()).map_err(|e| e.to_string())?;
    let port = match (words.next(), words.next()) {
        (None, _) => None,
        (Some(proto), Some(port)) => {
            let proto = match proto.to_ascii_lowercase().as_str() {
                "tcp" => PROTO_TCP,
                "udp" => PROTO_UDP,
                other => return Err(format!("'{other}' is not tcp or udp")),
            };
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("'{port}' is not a port (1-65535)"))?;
            Some((proto, port))
        }
        (Some(p), None) => return Err(format!("'{p}' needs a port: CIDR [tcp|udp PORT]")),
    };
    if let Some(extra) = words.next() {
        return Err(format!("unexpected '{extra}': CIDR [tcp|udp PORT]"));
    }
    Ok(GardenRule { net, port })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::dataplane::ipv4::tests::packet;

    /// An IPv4 packet of `proto` to `dst` whose transport header starts
    /// with source port 12345 and destination port `port`.
    pub(crate) fn to_port(proto: u8, dst: [u8; 4], port: u16) -> Vec<u8> {
        let mut p = packet([10, 100, 0, 7], dst, 20, &[], false);
        p[9] = proto;
        p[20..22].copy_from_slice(&12345u16.to_be_bytes());
        p[22..24].copy_from_slice(&port.to_be_bytes());
        crate::dataplane::ipv4::fill_header_checksum(&mut p[..20]);
        p
    }

    fn udp(dst: [u8; 4], port: u16) -> Vec<u8> {
        to_port(PROTO_UDP, dst, port)
    }

    fn tcp(dst: [u8; 4], port: u16) -> Vec<u8> {
        to_port(PROTO_TCP, dst, port)
    }

    fn garden(text: &str) -> Garden {
        let (rules, errors) = Garden::parse(text);
        assert!(errors.is_empty(), "{errors:?}");
        Garden {
            rules,
            redirect: None,
        }
    }

    #[test]
    fn parses_networks_ports_and_comments() {
        let (rules, errors) = Garden::parse(
            "# the garden\n192.0.2.0/24\n198.51.100.7 tcp 443  # pay page\n\n10.1.2.3/8 UDP 123\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[1].port, Some((PROTO_TCP, 443)));
        assert_eq!(rules[2].net.to_string(), "10.0.0.0/8");
        assert_eq!(rules[2].port, Some((PROTO_UDP, 123)));
    }

    #[test]
    fn bad_lines_are_skipped_and_named() {
        let (rules, errors) = Garden::parse("nonsense\n192.0.2.1 icmp 3\n192.0.2.2 tcp\n192.0.2.3 tcp 0\n192.0.2.4 tcp 80 x\n192.0.2.5\n");
        assert_eq!(rules.len(), 1);
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 2, 3, 4, 5]);
        assert!(errors[1].message.contains("icmp"), "{errors:?}");
    }

    #[test]
    fn rules_and_dns_pass_everything_else_is_refused() {
        let g = garden("192.0.2.0/24\n198.51.100.7 tcp 443\n");
        let dns = [Some(Ipv4Addr::new(10, 200, 0, 53)), None];
        assert_eq!(g.judge(&dns, &udp([192, 0, 2, 9], 9)), GardenVerdict::Pass);
        assert_eq!(
            g.judge(&dns, &tcp([198, 51, 100, 7], 443)),
            GardenVerdict::Pass
        );
        assert_eq!(
            g.judge(&dns, &tcp([198, 51, 100, 7], 80)),
            GardenVerdict::Refuse
        );
        assert_eq!(
            g.judge(&dns, &udp([10, 200, 0, 53], 53)),
            GardenVerdict::Pass
        );
        assert_eq!(
            g.judge(&dns, &tcp([10, 200, 0, 53], 53)),
            GardenVerdict::Pass
        );
        assert_eq!(
            g.judge(&dns, &udp([10, 200, 0, 53], 54)),
            GardenVerdict::Refuse
        );
        assert_eq!(
            g.judge(&dns, &udp([10, 200, 0, 54], 53)),
            GardenVerdict::Refuse
        );
        assert_eq!(g.judge(&dns, &[0u8; 7]), GardenVerdict::Refuse);
    }

    #[test]
    fn port_80_goes_to_the_portal_when_one_is_set() {
        let mut g = garden("192.0.2.0/24 tcp 80\n");
        let portal = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 80), 8080);
        g.redirect = Some(portal);
        let dns = [None, None];
        assert_eq!(g.judge(&dns, &tcp([192, 0, 2, 1], 80)), GardenVerdict::Pass);
        assert_eq!(
            g.judge(&dns, &tcp([203, 0, 113, 1], 80)),
            GardenVerdict::Redirect(portal)
        );
        assert_eq!(
            g.judge(&dns, &udp([203, 0, 113, 1], 80)),
            GardenVerdict::Refuse
        );
        assert_eq!(
            g.judge(&dns, &tcp([203, 0, 113, 1], 443)),
            GardenVerdict::Refuse
        );
    }

    #[test]
    fn later_fragments_pass_only_a_rule_without_port() {
        let g = garden("192.0.2.0/24\n198.51.100.0/24 udp 53\n");
        let mut frag = udp([198, 51, 100, 1], 53);
        frag[6] = 0x00;
        frag[7] = 0x10; // offset 128 bytes
        let fix = |p: &mut Vec<u8>| crate::dataplane::ipv4::fill_header_checksum(&mut p[..20]);
        fix(&mut frag);
        assert_eq!(g.judge(&[None, None], &frag), GardenVerdict::Refuse);
        let mut ok = udp([192, 0, 2, 1], 9);
        ok[7] = 0x10;
        fix(&mut ok);
        assert_eq!(g.judge(&[None, None], &ok), GardenVerdict::Pass);
    }
}
