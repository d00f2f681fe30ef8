//! IPCP Configuration Options (RFC 1332 §3, RFC 1877 DNS addresses) and
//! the two IPCP negotiators. Server: we request our own IP-Address; the
//! peer gets the granted address and DNS servers by Nak (Ack when it already
//! asks for them); DNS options are Rejected when we have no server to give;
//! VJ compression, NBNS and everything else are Rejected. Client: request
//! 0.0.0.0 (and DNS 0.0.0.0 if asked to) and take the server's Naks.

use std::net::Ipv4Addr;

use super::fsm::{Negotiator, Unacceptable, Verdict};
use super::wire::{emit_option, ConfigOption, OptionError};

/// IPCP option types.
pub mod opt {
    pub const IP_ADDRESSES: u8 = 1;
    pub const IP_COMPRESSION_PROTOCOL: u8 = 2;
    pub const IP_ADDRESS: u8 = 3;
    pub const PRIMARY_DNS: u8 = 129;
    pub const PRIMARY_NBNS: u8 = 130;
    pub const SECONDARY_DNS: u8 = 131;
    pub const SECONDARY_NBNS: u8 = 132;
}

/// One IPCP option, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpcpOption {
    IpCompression { protocol: u16, data: Vec<u8> },
    IpAddress(Ipv4Addr),
    PrimaryDns(Ipv4Addr),
    SecondaryDns(Ipv4Addr),
    Other { kind: u8, data: Vec<u8> },
}

impl IpcpOption {
    pub fn parse(o: &ConfigOption<'_>) -> Result<IpcpOption, OptionError> {
        let bad = OptionError::BadValue { kind: o.kind };
        let addr = || o.value_u32().map(Ipv4Addr::from).ok_or(bad);
        Ok(match o.kind {
            opt::IP_ADDRESS => IpcpOption::IpAddress(addr()?),
            opt::PRIMARY_DNS => IpcpOption::PrimaryDns(addr()?),
            opt::SECONDARY_DNS => IpcpOption::SecondaryDns(addr()?),
            opt::IP_COMPRESSION_PROTOCOL => match o.data {
                [a, b, rest @ ..] => IpcpOption::IpCompression {
                    protocol: u16::from_be_bytes([*a, *b]),
                    data: rest.to_vec(),
                },
                _ => return Err(bad),
            },
            kind => IpcpOption::Other {
                kind,
                data: o.data.to_vec(),
            },
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        match self {
            IpcpOption::IpCompression { protocol, data } => {
                let mut v = protocol.to_be_bytes().to_vec();
                v.extend_from_slice(data);
                emit_option(out, opt::IP_COMPRESSION_PROTOCOL, &v)
            }
            IpcpOption::IpAddress(a) => emit_option(out, opt::IP_ADDRESS, &a.octets()),
            IpcpOption::PrimaryDns(a) => emit_option(out, opt::PRIMARY_DNS, &a.octets()),
            IpcpOption::SecondaryDns(a) => emit_option(out, opt::SECONDARY_DNS, &a.octets()),
            IpcpOption::Other { kind, data } => emit_option(out, *kind, data),
        }
    }
}

/// What the authenticator's caller grants the peer after authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkGrant {
    pub peer_address: Ipv4Addr,
    /// Primary and secondary DNS; None = Reject the peer's request for it.
    pub dns: [Option<Ipv4Addr>; 2],
}

/// Server-side IPCP policy.
#[derive(Clone, Debug)]
pub struct IpcpServer {
    local: Ipv4Addr,
    request_address: bool,
    grant: NetworkGrant,
    acked_peer: Option<Ipv4Addr>,
}

impl IpcpServer {
    pub fn new(local: Ipv4Addr, grant: NetworkGrant) -> IpcpServer {
        IpcpServer {
            local,
            request_address: true,
            grant,
            acked_peer: None,
        }
    }

    pub fn set_grant(&mut self, grant: NetworkGrant) {
        self.grant = grant;
    }

    /// A link restored from saved state: the address Acked before the restart.
    pub(super) fn restore_acked(&mut self, peer: Ipv4Addr) {
        self.acked_peer = Some(peer);
    }

    pub fn grant(&self) -> &NetworkGrant {
        &self.grant
    }

    /// The address we Acked for the peer.
    pub fn peer_address(&self) -> Option<Ipv4Addr> {
        self.acked_peer
    }
}

/// Ack when equal, Nak with ours otherwise, Reject when we have none.
fn judge_address(asked: Ipv4Addr, ours: Option<Ipv4Addr>) -> Verdict {
    match ours {
        Some(a) if a == asked => Verdict::Ack,
        Some(a) => Verdict::Nak(a.octets().to_vec()),
        None => Verdict::Reject,
    }
}

impl Negotiator for IpcpServer {
    fn build_request(&mut self, out: &mut Vec<u8>) {
        if self.request_address {
            IpcpOption::IpAddress(self.local).emit(out);
        }
    }

    fn judge(&mut self, o: &ConfigOption<'_>) -> Verdict {
        match IpcpOption::parse(o) {
            Ok(IpcpOption::IpAddress(a)) => judge_address(a, Some(self.grant.peer_address)),
            Ok(IpcpOption::PrimaryDns(a)) => judge_address(a, self.grant.dns[0]),
            Ok(IpcpOption::SecondaryDns(a)) => judge_address(a, self.grant.dns[1]),
            _ => Verdict::Reject,
        }
    }

    fn missing(&mut self, present: &[ConfigOption<'_>]) -> Vec<(u8, Vec<u8>)> {
        // RFC 1332 §3.3: tell a silent peer which address it gets.
        if present.iter().any(|o| o.kind == opt::IP_ADDRESS) {
            Vec::new()
        } else {
            vec![(opt::IP_ADDRESS, self.grant.peer_address.octets().to_vec())]
        }
    }

    fn peer_acked(&mut self, options: &[ConfigOption<'_>]) {
        self.acked_peer = options.iter().find_map(|o| match IpcpOption::parse(o) {
            Ok(IpcpOption::IpAddress(a)) => Some(a),
            _ => None,
        });
    }

    fn handle_nak(&mut self, _options: &[ConfigOption<'_>]) -> Result<(), Unacceptable> {
        // Our address is configuration, not negotiable: ask again.
        Ok(())
    }

    fn handle_reject(&mut self, options: &[ConfigOption<'_>]) -> Result<(), Unacceptable> {
        if options.iter().any(|o| o.kind == opt::IP_ADDRESS) {
            self.request_address = false;
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.acked_peer = None;
    }
}

/// Client-side IPCP policy.
#[derive(Clone, Debug)]
pub struct IpcpClient {
    address: Ipv4Addr,
    /// Some(x): we request DNS x (0.0.0.0 until Naked); None: not requested.
    dns: [Option<Ipv4Addr>; 2],
    peer_address: Option<Ipv4Addr>,
}

impl IpcpClient {
    pub fn new(request_dns: bool) -> IpcpClient {
        let dns = if request_dns {
            Some(Ipv4Addr::UNSPECIFIED)
        } else {
            None
        };
        IpcpClient {
            address: Ipv4Addr::UNSPECIFIED,
            dns: [dns, dns],
            peer_address: None,
        }
    }

    pub fn local_address(&self) -> Ipv4Addr {
        self.address
    }

    pub fn peer_address(&self) -> Option<Ipv4Addr> {
        self.peer_address
    }

    /// DNS servers we got (0.0.0.0 and rejected options are None).
    pub fn dns(&self) -> [Option<Ipv4Addr>; 2] {
        self.dns.map(|d| d.filter(|a| !a.is_unspecified()))
    }
}

impl Negotiator for IpcpClient {
    fn build_request(&mut self, out: &mut Vec<u8>) {
        IpcpOption::IpAddress(self.address).emit(out);
        if let Some(a) = self.dns[0] {
            IpcpOption::PrimaryDns(a).emit(out);
        }
        if let Some(a) = self.dns[1] {
            IpcpOption::SecondaryDns(a).emit(out);
        }
    }

    fn judge(&mut self, o: &ConfigOption<'_>) -> Verdict {
        match IpcpOption::parse(o) {
            Ok(IpcpOption::IpAddress(_)) => Verdict::Ack,
            _ => Verdict::Reject,
        }
    }

    fn peer_acked(&mut self, options: &[ConfigOption<'_>]) {
        self.peer_address = options.iter().find_map(|o| match IpcpOption::parse(o) {
            Ok(IpcpOption::IpAddress(a)) => Some(a),
            _ => None,
        });
    }

    fn handle_nak(&mut self, options: &[ConfigOption<'_>]) -> Result<(), Unacceptable> {
        for o in options {
            match IpcpOption::parse(o) {
                Ok(IpcpOption::IpAddress(a)) => self.address = a,
                Ok(IpcpOption::PrimaryDns(a)) if self.dns[0].is_some() => self.dns[0] = Some(a),
                Ok(IpcpOption::SecondaryDns(a)) if self.dns[1].is_some() => self.dns[1] = Some(a),
                _ => {}
            }
        }
        Ok(())
    }

    fn handle_reject(&mut self, options: &[ConfigOption<'_>]) -> Result<(), Unacceptable> {
        for o in options {
            match o.kind {
                opt::IP_ADDRESS => return Err(Unacceptable),
                opt::PRIMARY_DNS => self.dns[0] = None,
                opt::SECONDARY_DNS => self.dns[1] = None,
                _ => {}
            }
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.peer_address = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ppp::wire::ConfigOptions;
    use proptest::prelude::*;

    fn opts(bytes: &[u8]) -> Vec<ConfigOption<'_>> {
        ConfigOptions::collect_checked(bytes).unwrap()
    }

    const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 5);
    const DNS1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 53);

    fn server(dns: [Option<Ipv4Addr>; 2]) -> IpcpServer {
        IpcpServer::new(
            Ipv4Addr::new(10, 0, 0, 1),
            NetworkGrant {
                peer_address: PEER,
                dns,
            },
        )
    }

    #[test]
    fn server_judges() {
        let mut s = server([Some(DNS1), None]);
        let req = [
            3, 6, 0, 0, 0, 0, // IP 0.0.0.0
            3, 6, 10, 0, 0, 5, // IP granted
            129, 6, 0, 0, 0, 0, // DNS1 0.0.0.0
            129, 6, 192, 0, 2, 53, // DNS1 equal
            131, 6, 0, 0, 0, 0, // DNS2 (none)
            2, 6, 0, 0x2D, 15, 1, // VJ
            130, 6, 0, 0, 0, 0, // NBNS
            3, 5, 0, 0, 0, // malformed
        ];
        let v: Vec<Verdict> = opts(&req).iter().map(|o| s.judge(o)).collect();
        use Verdict::*;
        assert_eq!(
            v,
            vec![
                Nak(vec![10, 0, 0, 5]),
                Ack,
                Nak(vec![192, 0, 2, 53]),
                Ack,
                Reject,
                Reject,
                Reject,
                Reject
            ]
        );
        assert_eq!(
            s.missing(&opts(&[129, 6, 0, 0, 0, 0])),
            vec![(3, vec![10, 0, 0, 5])]
        );
        assert!(s.missing(&opts(&[3, 6, 0, 0, 0, 0])).is_empty());
        let mut out = Vec::new();
        s.build_request(&mut out);
        assert_eq!(out, vec![3, 6, 10, 0, 0, 1]);
    }

    #[test]
    fn client_takes_naks() {
        let mut c = IpcpClient::new(true);
        let mut out = Vec::new();
        c.build_request(&mut out);
        assert_eq!(
            out,
            vec![3, 6, 0, 0, 0, 0, 129, 6, 0, 0, 0, 0, 131, 6, 0, 0, 0, 0]
        );
        c.handle_nak(&opts(&[3, 6, 10, 0, 0, 5, 129, 6, 192, 0, 2, 53]))
            .unwrap();
        c.handle_reject(&opts(&[131, 6, 0, 0, 0, 0])).unwrap();
        assert_eq!(c.local_address(), PEER);
        assert_eq!(c.dns(), [Some(DNS1), None]);
        out.clear();
        c.build_request(&mut out);
        assert_eq!(out, vec![3, 6, 10, 0, 0, 5, 129, 6, 192, 0, 2, 53]);
        assert_eq!(
            c.handle_reject(&opts(&[3, 6, 10, 0, 0, 5])),
            Err(Unacceptable)
        );
        let mut nodns = IpcpClient::new(false);
        out.clear();
        nodns.build_request(&mut out);
        assert_eq!(out.len(), 6);
        assert_eq!(nodns.dns(), [None, None]);
    }

    fn ipcp_option() -> impl Strategy<Value = IpcpOption> {
        let addr = || any::<u32>().prop_map(Ipv4Addr::from);
        prop_oneof![
            (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..8))
                .prop_map(|(protocol, data)| IpcpOption::IpCompression { protocol, data }),
            addr().prop_map(IpcpOption::IpAddress),
            addr().prop_map(IpcpOption::PrimaryDns),
            addr().prop_map(IpcpOption::SecondaryDns),
            (
                prop_oneof![Just(1u8), Just(130), Just(132), 4u8..=128],
                proptest::collection::vec(any::<u8>(), 0..8)
            )
                .prop_map(|(kind, data)| IpcpOption::Other { kind, data }),
        ]
    }

    proptest! {
        #[test]
        fn ipcp_option_round_trip(o in ipcp_option()) {
            let mut buf = Vec::new();
            o.emit(&mut buf);
            let parsed = ConfigOptions::collect_checked(&buf).unwrap();
            prop_assert_eq!(IpcpOption::parse(&parsed[0]).unwrap(), o);
        }
    }
}
