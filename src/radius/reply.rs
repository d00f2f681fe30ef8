//! Reading an Access-Accept / Access-Reject (RFC 2865 §5) into what the LNS
//! applies to a session, including the vendor attributes l2tpns understood
//! (Ascend DNS, Cisco-AVPair) and the ones it ignored (Acct-Interim-Interval,
//! MS-Primary/Secondary-DNS-Server, Reply-Message). Attributes with a bad
//! value are skipped one by one: a server's typo must not cost a login.

use super::request::{CISCO_AVPAIR, VENDOR_CISCO};
use ipnetwork::Ipv4Network;
use radius::core::packet::Packet;
use radius::core::{rfc2865, rfc2869};
use std::net::Ipv4Addr;

pub const VENDOR_MICROSOFT: u32 = 311;
pub const VENDOR_ASCEND: u32 = 529;
pub const MS_PRIMARY_DNS: u8 = 28;
pub const MS_SECONDARY_DNS: u8 = 29;
pub const ASCEND_PRIMARY_DNS: u8 = 135;
pub const ASCEND_SECONDARY_DNS: u8 = 136;

/// Framed-IP-Address (RFC 2865 §5.8) with its two special values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramedIp {
    Address(Ipv4Addr),
    /// 255.255.255.254: the NAS picks one from its pool.
    FromPool,
    /// 255.255.255.255: let the user choose (IPCP).
    NegotiatedByUser,
}

impl From<Ipv4Addr> for FramedIp {
    fn from(a: Ipv4Addr) -> FramedIp {
        match a.octets() {
            [255, 255, 255, 254] => FramedIp::FromPool,
            [255, 255, 255, 255] => FramedIp::NegotiatedByUser,
            _ => FramedIp::Address(a),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthReply {
    pub framed_ip: Option<FramedIp>,
    pub framed_routes: Vec<Ipv4Network>,
    pub session_timeout: Option<u32>,
    pub idle_timeout: Option<u32>,
    pub class: Vec<Vec<u8>>,
    pub acct_interim_interval: Option<u32>,
    pub reply_message: Option<String>,
    pub dns: [Option<Ipv4Addr>; 2],
    pub cisco_avpairs: Vec<(String, String)>,
    pub filter_id: Vec<String>,
}

/// l2tpns limit on routes per user (MAXROUTE).
pub const MAX_ROUTES: usize = 10;

/// Parse "a.b.c.d[/len] [gateway] [metric]" (RFC 2865 §5.22); without a
/// length the mask is classful (A /8, B /16, C and above /24), like l2tpns.
pub fn parse_framed_route(s: &str) -> Option<Ipv4Network> {
    let dest = s.split_whitespace().next()?;
    let (addr, len) = match dest.split_once('/') {
        Some((a, l)) => (a.parse::<Ipv4Addr>().ok()?, Some(l.parse::<u8>().ok()?)),
        None => (dest.parse::<Ipv4Addr>().ok()?, None),
    };
    let len = len.unwrap_or(match addr.octets()[0] {
        0..=127 => 8,
        128..=191 => 16,
        _ => 24,
    });
    Ipv4Network::new(addr, len).ok()
}

/// (type, value) of one vendor sub-attribute.
pub type SubAttribute<'a> = (u8, &'a [u8]);

/// Sub-attributes of one Vendor-Specific value (RFC 2865 §5.26).
pub fn vendor_subattributes(value: &[u8]) -> Option<(u32, Vec<SubAttribute<'_>>)> {
    let vendor = u32::from_be_bytes(value.get(..4)?.try_into().ok()?);
    let mut out = Vec::new();
    let mut rest = value.get(4..)?;
    while !rest.is_empty() {
        let typ = *rest.first()?;
        let len = usize::from(*rest.get(1)?);
        if len < 2 {
            return None;
        }
        out.push((typ, rest.get(2..len)?));
        rest = rest.get(len..)?;
    }
    Some((vendor, out))
}

/// "key=value" split at the first '='; no '=' gives an empty value, and
/// one pair of matching quotes around a value of 3 or more octets goes
/// (l2tpns 2.4.1's handle_avpair does both).
pub fn split_avpair(s: &str) -> (String, String) {
    let (key, value) = s.split_once('=').unwrap_or((s, ""));
    let unquoted = ['"', '\'']
        .into_iter()
        .find_map(|q| value.strip_prefix(q)?.strip_suffix(q))
        .filter(|_| value.len() > 2);
    (key.to_string(), unquoted.unwrap_or(value).to_string())
}

fn ipv4_of(v: &[u8]) -> Option<Ipv4Addr> {
    let o: [u8; 4] = v.try_into().ok()?;
    Some(Ipv4Addr::from(o))
}

impl AuthReply {
    /// Everything we understand from a verified Access-Accept/Reject.
    pub fn from_packet(p: &Packet) -> AuthReply {
        let mut r = AuthReply {
            framed_ip: rfc2865::lookup_framed_ip_address(p)
                .and_then(Result::ok)
                .map(FramedIp::from),
            session_timeout: rfc2865::lookup_session_timeout(p).and_then(Result::ok),
            idle_timeout: rfc2865::lookup_idle_timeout(p).and_then(Result::ok),
            acct_interim_interval: rfc2869::lookup_acct_interim_interval(p).and_then(Result::ok),
            class: rfc2865::lookup_all_class(p),
            ..AuthReply::default()
        };
        let strings = |typ| {
            p.lookup_all(typ)
                .into_iter()
                .filter_map(|a| a.encode_string().ok())
        };
        let messages: Vec<String> = strings(rfc2865::REPLY_MESSAGE_TYPE).collect();
        if !messages.is_empty() {
            // RFC 2865 §5.18: several Reply-Messages are shown one after the other.
            r.reply_message = Some(messages.join("\n"));
        }
        r.filter_id = strings(rfc2865::FILTER_ID_TYPE).collect();
        r.framed_routes = strings(rfc2865::FRAMED_ROUTE_TYPE)
            .filter_map(|s| parse_framed_route(&s))
            .take(MAX_ROUTES)
            .collect();
        for typ in [ASCEND_PRIMARY_DNS, ASCEND_SECONDARY_DNS] {
            if let Some(ip) = p.lookup(typ).and_then(|a| ipv4_of(&a.encode_bytes())) {
                r.dns[usize::from(typ - ASCEND_PRIMARY_DNS)] = Some(ip);
            }
        }
        for vsa in p.lookup_all(rfc2865::VENDOR_SPECIFIC_TYPE) {
            let value = vsa.encode_bytes();
            if let Some((vendor, subs)) = vendor_subattributes(&value) {
                for (typ, v) in subs {
                    r.apply_vendor(vendor, typ, v);
                }
            }
        }
        r
    }

    fn apply_vendor(&mut self, vendor: u32, typ: u8, v: &[u8]) {
        match (vendor, typ) {
            (VENDOR_CISCO, CISCO_AVPAIR) => {
                if let Ok(s) = std::str::from_utf8(v) {
                    self.cisco_avpairs.push(split_avpair(s));
                }
            }
            (VENDOR_ASCEND, ASCEND_PRIMARY_DNS) | (VENDOR_MICROSOFT, MS_PRIMARY_DNS) => {
                self.dns[0] = ipv4_of(v).or(self.dns[0]);
            }
            (VENDOR_ASCEND, ASCEND_SECONDARY_DNS) | (VENDOR_MICROSOFT, MS_SECONDARY_DNS) => {
                self.dns[1] = ipv4_of(v).or(self.dns[1]);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framed_routes() {
        let r = |s| parse_framed_route(s).map(|n| n.to_string());
        assert_eq!(r("10.1.2.0/24 10.0.0.1 1").as_deref(), Some("10.1.2.0/24"));
        assert_eq!(r("10.1.0.0").as_deref(), Some("10.1.0.0/8"));
        assert_eq!(r("172.16.5.0 0.0.0.0 5").as_deref(), Some("172.16.5.0/16"));
        assert_eq!(r("192.168.7.0").as_deref(), Some("192.168.7.0/24"));
        assert_eq!(r("1.2.3.4/33"), None);
        assert_eq!(r("nonsense"), None);
        assert_eq!(r(""), None);
        assert_eq!(r("1.2.3.4/"), None);
    }

    #[test]
    fn vsa_parsing_is_checked() {
        assert_eq!(vendor_subattributes(&[0, 0, 0]), None);
        assert_eq!(vendor_subattributes(&[0, 0, 0, 9, 1, 1]), None);
        assert_eq!(vendor_subattributes(&[0, 0, 0, 9, 1, 9, b'a']), None);
        let v = [0, 0, 0, 9, 1, 5, b'a', b'=', b'b', 2, 2];
        let (vendor, subs) = vendor_subattributes(&v).unwrap();
        assert_eq!(vendor, 9);
        assert_eq!(subs, vec![(1, &b"a=b"[..]), (2, &b""[..])]);
    }

    #[test]
    fn avpair_split_at_first_equals() {
        assert_eq!(
            split_avpair("lcp:interface-config=ip mtu 1400=x"),
            ("lcp:interface-config".into(), "ip mtu 1400=x".into())
        );
        assert_eq!(split_avpair("novalue"), ("novalue".into(), String::new()));
        assert_eq!(
            split_avpair("lcp:interface-config#1=service-policy input 512"),
            (
                "lcp:interface-config#1".into(),
                "service-policy input 512".into()
            )
        );
        let value = |s| split_avpair(s).1;
        assert_eq!(value("throttle=\"yes\""), "yes");
        assert_eq!(value("throttle='yes'"), "yes");
        assert_eq!(value("throttle=\"yes'"), "\"yes'");
        assert_eq!(value("throttle=\"\""), "\"\"");
        assert_eq!(value("throttle=\"é\""), "é");
    }
}
