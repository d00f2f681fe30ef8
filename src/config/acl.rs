//! Named IP access lists of the startup-config (`ip access-list standard|extended
//! NAME` followed by `permit|deny` lines), parsed into structures. Grammar from
//! l2tpns `cli.c` (`access_list_rule_std`, `access_list_rule_ext`) and
//! `man 5 startup-config` "NAMED ACCESS LISTS". Matching packets is the data
//! plane's job; this file only parses and prints.

use std::fmt;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclKind {
    Standard,
    Extended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Permit,
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Ip,
    Tcp,
    Udp,
}

/// Address plus Cisco wildcard (bits set = don't care).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AclAddr {
    pub addr: Ipv4Addr,
    pub wildcard: Ipv4Addr,
}

impl AclAddr {
    pub const ANY: AclAddr = AclAddr {
        addr: Ipv4Addr::UNSPECIFIED,
        wildcard: Ipv4Addr::BROADCAST,
    };

    pub fn host(addr: Ipv4Addr) -> Self {
        AclAddr {
            addr,
            wildcard: Ipv4Addr::UNSPECIFIED,
        }
    }

    /// Whether `ip` matches (the wildcard's set bits are ignored).
    pub fn matches(&self, ip: Ipv4Addr) -> bool {
        let care = !u32::from(self.wildcard);
        (u32::from(ip) & care) == (u32::from(self.addr) & care)
    }
}

/// Port match of a TCP or UDP rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortMatch {
    Any,
    Eq(u16),
    Neq(u16),
    Gt(u16),
    Lt(u16),
    /// Inclusive, `from <= to`.
    Range(u16, u16),
}

/// TCP flag bits as in the TCP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    const NAMES: [(&'static str, u8); 6] = [
        ("fin", Self::FIN),
        ("syn", Self::SYN),
        ("rst", Self::RST),
        ("psh", Self::PSH),
        ("ack", Self::ACK),
        ("urg", Self::URG),
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpFlagOp {
    Any,
    All,
}

/// TCP flag condition of an extended rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpMatch {
    None,
    /// RST or ACK set and SYN clear.
    Established,
    /// `match-any|match-all +flag -flag ...`: `set` must be set, `clear` clear.
    Flags {
        op: TcpFlagOp,
        set: TcpFlags,
        clear: TcpFlags,
    },
}

/// One `permit|deny` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AclRule {
    pub action: Action,
    pub proto: Protocol,
    pub src: AclAddr,
    pub src_ports: PortMatch,
    pub dst: AclAddr,
    pub dst_ports: PortMatch,
    pub tcp: TcpMatch,
    pub fragments: bool,
}

/// l2tpns matches keywords by prefix (`MATCH(full, word)`): `est` = `established`.
fn kw(word: &str, full: &str) -> bool {
    !word.is_empty() && full.starts_with(word)
}

fn ip(word: &str) -> Result<Ipv4Addr, String> {
    word.parse()
        .map_err(|_| format!("cannot parse IP address \"{word}\""))
}

fn port(word: Option<&String>) -> Result<u16, String> {
    let w = word.ok_or("missing port number")?;
    match w.parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(format!("invalid port \"{w}\" (1-65535)")),
    }
}

/// Parses the words after `permit`/`deny` (`action` says which).
pub fn parse_rule(kind: AclKind, action: Action, args: &[String]) -> Result<AclRule, String> {
    let mut rule = AclRule {
        action,
        proto: Protocol::Ip,
        src: AclAddr::ANY,
        src_ports: PortMatch::Any,
        dst: AclAddr::ANY,
        dst_ports: PortMatch::Any,
        tcp: TcpMatch::None,
        fragments: false,
    };
    match kind {
        AclKind::Standard => {
            rule.src = parse_std_source(args)?;
            Ok(rule)
        }
        AclKind::Extended => {
            parse_extended(&mut rule, args)?;
            Ok(rule)
        }
    }
}

fn parse_std_source(args: &[String]) -> Result<AclAddr, String> {
    match args {
        [] => Err("specify rule details (source address)".into()),
        [a] if kw(a, "any") => Ok(AclAddr::ANY),
        [h, a] if kw(h, "host") => Ok(AclAddr::host(ip(a)?)),
        [h] if kw(h, "host") => Err("specify host ip address".into()),
        [a] => Ok(AclAddr::host(ip(a)?)),
        [a, w] => Ok(AclAddr {
            addr: ip(a)?,
            wildcard: ip(w)?,
        }),
        _ => {
            Err("standard access-list rules take only a source: any | host A | A [WILDCARD]".into())
        }
    }
}

fn parse_extended(rule: &mut AclRule, args: &[String]) -> Result<(), String> {
    let proto = args
        .first()
        .ok_or("specify rule details: PROTO SOURCE [PORTS] DEST [PORTS] [FLAGS]")?;
    rule.proto = if kw(proto, "ip") {
        Protocol::Ip
    } else if kw(proto, "tcp") {
        Protocol::Tcp
    } else if kw(proto, "udp") {
        Protocol::Udp
    } else {
        return Err(format!("invalid protocol \"{proto}\" (ip, tcp or udp)"));
    };
    let mut i = 1;
    for side in 0..2 {
        let addr = parse_addr(
            args,
            &mut i,
            if side == 0 { "source" } else { "destination" },
        )?;
        let ports = if rule.proto == Protocol::Ip {
            PortMatch::Any
        } else {
            parse_ports(args, &mut i)?
        };
        if side == 0 {
            rule.src = addr;
            rule.src_ports = ports;
        } else {
            rule.dst = addr;
            rule.dst_ports = ports;
        }
    }
    if rule.proto == Protocol::Tcp {
        rule.tcp = parse_tcp_flags(args, &mut i)?;
    }
    if let Some(w) = args.get(i) {
        if kw(w, "fragments") && w.len() >= 2 {
            if rule.src_ports != PortMatch::Any
                || rule.dst_ports != PortMatch::Any
                || rule.tcp != TcpMatch::None
            {
                return Err("fragments cannot be combined with port or flag matches".into());
            }
            rule.fragments = true;
            i += 1;
        }
    }
    match args.get(i) {
        Some(w) => Err(format!("invalid flag \"{w}\"")),
        None => Ok(()),
    }
}

fn parse_addr(args: &[String], i: &mut usize, what: &str) -> Result<AclAddr, String> {
    let w = args.get(*i).ok_or_else(|| format!("specify {what}"))?;
    if kw(w, "any") {
        *i += 1;
        return Ok(AclAddr::ANY);
    }
    if kw(w, "host") {
        let a = args.get(*i + 1).ok_or("specify host ip address")?;
        *i += 2;
        return Ok(AclAddr::host(ip(a)?));
    }
    let wild = args
        .get(*i + 1)
        .ok_or_else(|| format!("specify {what} ip address and wildcard"))?;
    let addr = AclAddr {
        addr: ip(w)?,
        wildcard: ip(wild)?,
    };
    *i += 2;
    Ok(addr)
}

fn parse_ports(args: &[String], i: &mut usize) -> Result<PortMatch, String> {
    let Some(w) = args.get(*i) else {
        return Ok(PortMatch::Any);
    };
    let op: fn(u16) -> PortMatch = if kw(w, "eq") {
        PortMatch::Eq
    } else if kw(w, "neq") {
        PortMatch::Neq
    } else if kw(w, "gt") {
        PortMatch::Gt
    } else if kw(w, "lt") {
        PortMatch::Lt
    } else if kw(w, "range") {
        let from = port(args.get(*i + 1))?;
        let to = port(args.get(*i + 2))?;
        if to < from {
            return Err(format!("invalid port range {from} {to}"));
        }
        *i += 3;
        return Ok(PortMatch::Range(from, to));
    } else {
        return Ok(PortMatch::Any);
    };
    let p = port(args.get(*i + 1))?;
    *i += 2;
    Ok(op(p))
}

fn parse_tcp_flags(args: &[String], i: &mut usize) -> Result<TcpMatch, String> {
    let Some(w) = args.get(*i) else {
        return Ok(TcpMatch::None);
    };
    if kw(w, "established") && w.len() >= 2 {
        *i += 1;
        return Ok(TcpMatch::Established);
    }
    let op = match w.as_str() {
        "match-any" | "match-an" => TcpFlagOp::Any,
        "match-all" | "match-al" => TcpFlagOp::All,
        _ => return Ok(TcpMatch::None),
    };
    *i += 1;
    let (mut set, mut clear) = (0u8, 0u8);
    while let Some(f) = args.get(*i) {
        let (target, name) = if let Some(n) = f.strip_prefix('+') {
            (&mut set, n)
        } else if let Some(n) = f.strip_prefix('-') {
            (&mut clear, n)
        } else {
            break;
        };
        let bit = TcpFlags::NAMES
            .iter()
            .find(|(full, _)| kw(name, full))
            .map(|(_, b)| *b)
            .ok_or_else(|| format!("invalid tcp flag \"{f}\""))?;
        *target |= bit;
        *i += 1;
    }
    if set == 0 && clear == 0 {
        return Err("specify tcp flags (+syn, -ack, ...)".into());
    }
    Ok(TcpMatch::Flags {
        op,
        set: TcpFlags(set),
        clear: TcpFlags(clear),
    })
}

impl fmt::Display for AclAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == AclAddr::ANY {
            write!(f, "any")
        } else if self.wildcard.is_unspecified() {
            write!(f, "host {}", self.addr)
        } else {
            write!(f, "{} {}", self.addr, self.wildcard)
        }
    }
}

impl fmt::Display for PortMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortMatch::Any => Ok(()),
            PortMatch::Eq(p) => write!(f, " eq {p}"),
            PortMatch::Neq(p) => write!(f, " neq {p}"),
            PortMatch::Gt(p) => write!(f, " gt {p}"),
            PortMatch::Lt(p) => write!(f, " lt {p}"),
            PortMatch::Range(a, b) => write!(f, " range {a} {b}"),
        }
    }
}

impl AclRule {
    /// The rule as l2tpns's `show running-config` prints it (without the
    /// leading space); `parse_rule` reads it back to the same value.
    pub fn display(&self, kind: AclKind) -> String {
        let mut s = String::from(match self.action {
            Action::Permit => "permit",
            Action::Deny => "deny",
        });
        if kind == AclKind::Standard {
            s.push_str(&format!(" {}", self.src));
            return s;
        }
        s.push_str(match self.proto {
            Protocol::Ip => " ip",
            Protocol::Tcp => " tcp",
            Protocol::Udp => " udp",
        });
        s.push_str(&format!(
            " {}{} {}{}",
            self.src, self.src_ports, self.dst, self.dst_ports
        ));
        match self.tcp {
            TcpMatch::None => {}
            TcpMatch::Established => s.push_str(" established"),
            TcpMatch::Flags { op, set, clear } => {
                s.push_str(match op {
                    TcpFlagOp::Any => " match-any",
                    TcpFlagOp::All => " match-all",
                });
                for (name, bit) in TcpFlags::NAMES {
                    if set.0 & bit != 0 {
                        s.push_str(&format!(" +{name}"));
                    }
                    if clear.0 & bit != 0 {
                        s.push_str(&format!(" -{name}"));
                    }
                }
            }
        }
        if self.fragments {
            s.push_str(" fragments");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn ext(s: &str) -> Result<AclRule, String> {
        parse_rule(AclKind::Extended, Action::Permit, &w(s))
    }

    #[test]
    fn standard_forms() {
        let r = parse_rule(AclKind::Standard, Action::Deny, &w("any")).unwrap();
        assert_eq!(r.src, AclAddr::ANY);
        let r = parse_rule(AclKind::Standard, Action::Deny, &w("host 10.0.0.1")).unwrap();
        assert_eq!(r.src, AclAddr::host("10.0.0.1".parse().unwrap()));
        let r = parse_rule(AclKind::Standard, Action::Deny, &w("10.0.0.0 0.0.0.255")).unwrap();
        assert!(r.src.matches("10.0.0.77".parse().unwrap()));
        assert!(!r.src.matches("10.0.1.77".parse().unwrap()));
        assert!(parse_rule(AclKind::Standard, Action::Deny, &w("")).is_err());
        assert!(parse_rule(AclKind::Standard, Action::Deny, &w("10.0.0.300")).is_err());
    }

    #[test]
    fn extended_ports_and_flags() {
        let r = ext("tcp any eq 80 host 192.0.2.1 range 1000 2000 established").unwrap();
        assert_eq!(r.proto, Protocol::Tcp);
        assert_eq!(r.src_ports, PortMatch::Eq(80));
        assert_eq!(r.dst_ports, PortMatch::Range(1000, 2000));
        assert_eq!(r.tcp, TcpMatch::Established);
        let r = ext("tcp any any match-all +syn -ack").unwrap();
        assert_eq!(
            r.tcp,
            TcpMatch::Flags {
                op: TcpFlagOp::All,
                set: TcpFlags(TcpFlags::SYN),
                clear: TcpFlags(TcpFlags::ACK)
            }
        );
        let r = ext("ip 10.0.0.0 0.255.255.255 any fragments").unwrap();
        assert!(r.fragments);
        let r = ext("udp any neq 53 any lt 1024").unwrap();
        assert_eq!(
            (r.src_ports, r.dst_ports),
            (PortMatch::Neq(53), PortMatch::Lt(1024))
        );
    }

    #[test]
    fn extended_errors() {
        for bad in [
            "",
            "icmp any any",
            "ip any",
            "tcp any eq",
            "tcp any eq 0 any",
            "tcp any eq 70000 any",
            "tcp any range 20 10 any",
            "tcp any any match-any",
            "tcp any any match-any +bogus",
            "tcp any eq 80 any fragments",
            "ip any any trailing",
            "ip 10.0.0.1 any",
        ] {
            assert!(ext(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "permit tcp any eq 80 host 192.0.2.1 range 1000 2000 established",
            "permit tcp any any match-all +syn -ack",
            "permit ip 10.0.0.0 0.255.255.255 any fragments",
            "permit udp host 1.2.3.4 gt 5 any",
        ] {
            let r = ext(s.strip_prefix("permit ").unwrap()).unwrap();
            assert_eq!(r.display(AclKind::Extended), s);
        }
    }
}
