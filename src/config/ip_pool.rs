//! The l2tpns `ip_pool` file (ffdn `l2tpns.c` `initippool`, `add_to_ip_pool`):
//! one entry per line, `a.b.c.d`, `a.b.c.d/len` or `bindaddr:a.b.c.d[/len]`
//! (the line applies only when `bindaddr` equals our `bind_address`; with no
//! `bind_address` set, only `0.0.0.0:` lines apply, exactly as in l2tpns).
//!
//! Like l2tpns, every address whose last octet is 0 or 255 is left out, in
//! single addresses and in ranges of any length (a /22 loses .0 and .255 of
//! each of its four /24s; a /30 keeps all four addresses unless they end in
//! 0 or 255). Host bits of `a.b.c.d/len` are ignored (10.0.0.5/24 = 10.0.0.0/24).
//!
//! Differences, on purpose: a malformed line is an error (l2tpns skipped it
//! or added 255.255.255.255); an address given twice is added once, with a
//! warning naming both lines (l2tpns added it twice).

use std::net::Ipv4Addr;
use std::path::Path;

use ipnetwork::Ipv4Network;

use super::startup::ConfigWarning;
use super::ConfigError;

/// Upper bound on pool size; further addresses are dropped with a warning
/// (l2tpns stops at its MAXIPPOOL of 131072 the same way).
pub const MAX_POOL_ADDRESSES: usize = 1 << 20;

/// The parsed pool: ranges (for routes) and addresses (in file order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IpPoolSpec {
    /// `a.b.c.d/len` entries that apply to us, with their line numbers.
    pub networks: Vec<(usize, Ipv4Network)>,
    /// Every address to hand out, in file order, without duplicates.
    pub addresses: Vec<Ipv4Addr>,
    pub warnings: Vec<ConfigWarning>,
}

/// Reads and parses an ip_pool file.
pub fn load_ip_pool(
    path: &Path,
    bind_address: Option<Ipv4Addr>,
) -> Result<IpPoolSpec, ConfigError> {
    let text = super::read_file(path)?;
    parse_ip_pool(&text, path, bind_address)
}

/// Parses ip_pool text; `path` names the file in messages.
pub fn parse_ip_pool(
    text: &str,
    path: &Path,
    bind_address: Option<Ipv4Addr>,
) -> Result<IpPoolSpec, ConfigError> {
    let ours = bind_address.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let mut spec = IpPoolSpec::default();
    let mut covered = Covered::default();
    let mut full = false;
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let entry = raw.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        let err = |reason: String| ConfigError::new(path, line, reason);
        let range = match entry.split_once(':') {
            Some((bind, rest)) => {
                let bind: Ipv4Addr = bind
                    .trim()
                    .parse()
                    .map_err(|_| err(format!("invalid bind address \"{bind}\" before ':'")))?;
                let range = rest.trim();
                // Checked even when the line is for another node.
                parse_range(range).map_err(err)?;
                if bind != ours {
                    continue;
                }
                range
            }
            None => entry,
        };
        let (net, is_range) = parse_range(range).map_err(err)?;
        if is_range {
            spec.networks.push((line, net));
        }
        // Earlier lines' addresses, as non-overlapping ranges: a big network
        // costs its own size, not a lookup per address in a huge map.
        let (lo, hi) = (u32::from(net.network()), u32::from(net.broadcast()));
        let overlaps = covered.overlaps(lo, hi);
        let first_dup = overlaps.first().map(|o| o.2);
        let mut dups = 0usize;
        let mut added = 0usize;
        let mut next_overlap = overlaps.iter().peekable();
        let mut a = u64::from(lo);
        while a <= u64::from(hi) {
            let addr = a as u32;
            a += 1;
            while next_overlap.peek().is_some_and(|o| o.1 < addr) {
                next_overlap.next();
            }
            let last = addr & 0xff;
            if last == 0 || last == 255 {
                continue;
            }
            if next_overlap.peek().is_some_and(|o| o.0 <= addr) {
                dups += 1;
                continue;
            }
            if spec.addresses.len() >= MAX_POOL_ADDRESSES {
                full = true;
                break;
            }
            spec.addresses.push(Ipv4Addr::from(addr));
            added += 1;
        }
        covered.insert(lo, hi, line);
        let mut warn = |message: String| {
            spec.warnings.push(ConfigWarning {
                file: path.to_path_buf(),
                line,
                message,
            })
        };
        if let Some(prev) = first_dup {
            warn(format!(
                "{range}: {dups} address(es) already in the pool from line {prev}; skipped"
            ));
        }
        if !is_range && added == 0 && first_dup.is_none() {
            warn(format!(
                "{range}: addresses ending in .0 or .255 are never handed out (as in l2tpns)"
            ));
        }
        if full {
            warn(format!(
                "pool is full ({MAX_POOL_ADDRESSES} addresses); the rest of the file is ignored"
            ));
            break;
        }
    }
    Ok(spec)
}

/// Address ranges already in the pool, kept non-overlapping, each with the
/// line that brought it.
#[derive(Default)]
struct Covered {
    by_start: std::collections::BTreeMap<u32, (u32, usize)>,
}

impl Covered {
    /// The stored ranges that meet [lo, hi], in address order.
    fn overlaps(&self, lo: u32, hi: u32) -> Vec<(u32, u32, usize)> {
        let mut v: Vec<(u32, u32, usize)> = self
            .by_start
            .range(..=hi)
            .rev()
            .take_while(|(_, (end, _))| *end >= lo)
            .map(|(s, (e, l))| (*s, *e, *l))
            .collect();
        v.reverse();
        v
    }

    /// Add [lo, hi]: only the parts not already covered are stored.
    fn insert(&mut self, lo: u32, hi: u32, line: usize) {
        let mut start = u64::from(lo);
        for (s, e, _) in self.overlaps(lo, hi) {
            if u64::from(s) > start {
                self.by_start.insert(start as u32, (s - 1, line));
            }
            start = start.max(u64::from(e) + 1);
        }
        if start <= u64::from(hi) {
            self.by_start.insert(start as u32, (hi, line));
        }
    }
}

/// `a.b.c.d` or `a.b.c.d/len` (1..=32); returns the network and whether it had `/len`.
fn parse_range(s: &str) -> Result<(Ipv4Network, bool), String> {
    let (addr, len, is_range) = match s.split_once('/') {
        Some((a, l)) => {
            let len: u8 = l
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=32).contains(n))
                .ok_or_else(|| {
                    format!("invalid pool range \"{s}\": prefix length must be 1..32")
                })?;
            (a.trim(), len, true)
        }
        None => (s, 32, false),
    };
    let ip: Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("invalid pool address \"{addr}\""))?;
    let net = Ipv4Network::new(ip, len).map_err(|e| format!("invalid pool range \"{s}\": {e}"))?;
    // Host bits are dropped, as l2tpns masks the start address.
    let net = Ipv4Network::new(net.network(), len)
        .map_err(|e| format!("invalid pool range \"{s}\": {e}"))?;
    Ok((net, is_range))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, bind: Option<Ipv4Addr>) -> Result<IpPoolSpec, ConfigError> {
        parse_ip_pool(text, Path::new("/etc/l2tpns/ip_pool"), bind)
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn slash24_skips_0_and_255() {
        let p = parse("10.10.10.0/24\n", None).unwrap();
        assert_eq!(p.addresses.len(), 254);
        assert_eq!(p.addresses[0], ip("10.10.10.1"));
        assert_eq!(p.addresses[253], ip("10.10.10.254"));
        assert_eq!(p.networks, vec![(1, "10.10.10.0/24".parse().unwrap())]);
    }

    #[test]
    fn slash22_skips_every_dot0_and_dot255() {
        let p = parse("10.254.0.0/22", None).unwrap();
        assert_eq!(p.addresses.len(), 4 * 254);
        assert!(!p.addresses.contains(&ip("10.254.1.0")));
        assert!(!p.addresses.contains(&ip("10.254.0.255")));
    }

    #[test]
    fn small_ranges_and_host_bits() {
        let p = parse("10.0.0.5/30\n", None).unwrap();
        assert_eq!(
            p.addresses,
            vec![
                ip("10.0.0.4"),
                ip("10.0.0.5"),
                ip("10.0.0.6"),
                ip("10.0.0.7")
            ]
        );
        let p = parse("10.0.0.1/32\n", None).unwrap();
        assert_eq!(p.addresses, vec![ip("10.0.0.1")]);
    }

    #[test]
    fn single_addresses_comments_and_blank_lines() {
        let p = parse(
            "# pool\n\n10.0.0.1\n  10.0.0.2  # trailing\r\n10.0.0.255\n",
            None,
        )
        .unwrap();
        assert_eq!(p.addresses, vec![ip("10.0.0.1"), ip("10.0.0.2")]);
        assert!(p.networks.is_empty());
        assert_eq!(p.warnings.len(), 1, "10.0.0.255 is never used");
        assert_eq!(p.warnings[0].line, 5);
    }

    #[test]
    fn bindaddr_lines() {
        let text = "192.0.2.1:10.1.0.0/24\n192.0.2.2:10.2.0.0/24\n10.3.0.1\n0.0.0.0:10.4.0.1\n";
        let p = parse(text, Some(ip("192.0.2.2"))).unwrap();
        assert_eq!(p.addresses.len(), 255);
        assert_eq!(p.addresses[0], ip("10.2.0.1"));
        let p = parse(text, None).unwrap();
        assert_eq!(p.addresses, vec![ip("10.3.0.1"), ip("10.4.0.1")]);
    }

    #[test]
    fn duplicates_are_skipped_with_both_lines() {
        let p = parse("10.0.0.0/24\n10.0.0.7\n10.0.0.128/25\n", None).unwrap();
        assert_eq!(p.addresses.len(), 254);
        assert_eq!(p.warnings.len(), 2);
        assert_eq!(p.warnings[0].line, 2);
        assert!(
            p.warnings[0].message.contains("line 1"),
            "{}",
            p.warnings[0].message
        );
        assert!(
            p.warnings[1].message.contains("127 address"),
            "{}",
            p.warnings[1].message
        );
    }

    #[test]
    fn errors_name_the_line() {
        for (text, line) in [
            ("10.0.0.0/24\nfoo\n", 2),
            ("10.0.0.0/0\n", 1),
            ("10.0.0.0/33\n", 1),
            ("10.0.0.0/\n", 1),
            ("10.0.0.256\n", 1),
            ("\n\nbad:10.0.0.0/24\n", 3),
            ("192.0.2.9:nonsense\n", 1),
        ] {
            let e = parse(text, None).unwrap_err();
            assert_eq!(e.line, line, "{text:?}");
            assert!(e
                .to_string()
                .starts_with(&format!("/etc/l2tpns/ip_pool:{line}: ")));
        }
    }

    #[test]
    fn huge_ranges_are_capped() {
        let p = parse("10.0.0.0/8\n", None).unwrap();
        assert_eq!(p.addresses.len(), MAX_POOL_ADDRESSES);
        assert!(p
            .warnings
            .iter()
            .any(|w| w.message.contains("pool is full")));
    }

    proptest::proptest! {
        /// The range set gives exactly what a per-address set would.
        #[test]
        fn overlapping_lines_match_a_naive_model(lines in proptest::collection::vec((0u32..1024, 22u8..=32), 1..12)) {
            let text: String = lines
                .iter()
                .map(|(off, len)| format!("{}/{len}\n", Ipv4Addr::from(0x0a00_0000 + off)))
                .collect();
            let spec = parse_ip_pool(&text, Path::new("ip_pool"), None).unwrap();
            let mut seen = std::collections::HashSet::new();
            let mut want = Vec::new();
            for (off, len) in &lines {
                let net = Ipv4Network::new(Ipv4Addr::from(0x0a00_0000 + off), *len).unwrap();
                for a in net.iter() {
                    let last = a.octets()[3];
                    if last != 0 && last != 255 && seen.insert(a) {
                        want.push(a);
                    }
                }
            }
            proptest::prop_assert_eq!(spec.addresses, want);
        }
    }
}
