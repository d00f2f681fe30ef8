//! pppd-style secrets file (chap-secrets / pap-secrets format, pppd(8)
//! "AUTHENTICATION"), our embedded authentication when no RADIUS server is
//! configured: `client server secret [address ...]` per line.
//!
//! * `*` in client or server matches anything; lookups prefer an exact client,
//!   then an exact server, then the first line (pppd `scan_authfile` ranks).
//! * Words may be quoted with `"` or `'` and use pppd's backslash escapes
//!   (`\n \r \t \s \b \f`, `\ooo` octal, `\xHH` hex, `\c` = c).
//! * Addresses: none = any address is fine; `*` = any; `-` = the user may not
//!   log in (no address allowed); a literal IPv4 address = the client gets it
//!   (further addresses are ignored with a warning).
//! * Not supported (warned and skipped): `@/path` secrets read from a file,
//!   `!a.b.c.d` exclusions, subnets and host names in the address list,
//!   `--` options. A backslash at the end of a line does not join lines.

use std::net::Ipv4Addr;
use std::path::Path;

use super::startup::ConfigWarning;
use super::ConfigError;

/// Which addresses a user may have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressRule {
    /// Any address (from the pool).
    Any,
    /// `-`: no address allowed, so the login is refused.
    Refuse,
    /// This address.
    Fixed(Ipv4Addr),
}

/// One line of the secrets file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretEntry {
    pub client: String,
    pub server: String,
    pub secret: Vec<u8>,
    pub addresses: AddressRule,
    pub line: usize,
}

/// The whole file, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    pub entries: Vec<SecretEntry>,
    pub warnings: Vec<ConfigWarning>,
}

fn is_wild(w: &str) -> bool {
    w == "*"
}

impl Secrets {
    /// The best entry for `user` authenticating to `server` (our name):
    /// exact client beats exact server beats wildcards; first line wins ties.
    pub fn lookup(&self, user: &str, server: &str) -> Option<&SecretEntry> {
        let mut best: Option<(u8, &SecretEntry)> = None;
        for e in &self.entries {
            let client_exact = e.client == user;
            let server_exact = e.server == server;
            if !(client_exact || is_wild(&e.client)) || !(server_exact || is_wild(&e.server)) {
                continue;
            }
            let rank = u8::from(client_exact) * 2 + u8::from(server_exact);
            let better = match best {
                None => true,
                Some((r, _)) => rank > r,
            };
            if better {
                best = Some((rank, e));
            }
        }
        best.map(|(_, e)| e)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Reads and parses a secrets file.
pub fn load_secrets(path: &Path) -> Result<Secrets, ConfigError> {
    let text = super::read_file(path)?;
    parse_secrets(&text, path)
}

/// Parses secrets text; `path` names the file in messages.
pub fn parse_secrets(text: &str, path: &Path) -> Result<Secrets, ConfigError> {
    let mut out = Secrets::default();
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let words = split_words(raw).map_err(|e| ConfigError::new(path, line, e))?;
        if words.is_empty() {
            continue;
        }
        let mut warn = |message: String| {
            out.warnings.push(ConfigWarning {
                file: path.to_path_buf(),
                line,
                message,
            })
        };
        let [client, server, secret, addrs @ ..] = words.as_slice() else {
            return Err(ConfigError::new(
                path,
                line,
                "expected `client server secret [address ...]`",
            ));
        };
        let client = String::from_utf8_lossy(client).into_owned();
        let server = String::from_utf8_lossy(server).into_owned();
        if secret.first() == Some(&b'@') {
            warn(format!(
                "secret for \"{client}\" read from a file (@path) is not supported; entry skipped"
            ));
            continue;
        }
        let addresses =
            parse_addresses(addrs, &mut warn).map_err(|e| ConfigError::new(path, line, e))?;
        out.entries.push(SecretEntry {
            client,
            server,
            secret: secret.clone(),
            addresses,
            line,
        });
    }
    Ok(out)
}

fn parse_addresses(
    words: &[Vec<u8>],
    warn: &mut impl FnMut(String),
) -> Result<AddressRule, String> {
    let mut rule: Option<AddressRule> = None;
    for w in words {
        let s = String::from_utf8_lossy(w);
        if s == "--" {
            warn("options after `--` are not supported; ignored".into());
            break;
        }
        if s.starts_with('!') {
            warn(format!(
                "address exclusion \"{s}\" is not supported; ignored"
            ));
            continue;
        }
        let this = match s.as_ref() {
            "*" => AddressRule::Any,
            "-" => AddressRule::Refuse,
            _ => match s.parse::<Ipv4Addr>() {
                Ok(a) => AddressRule::Fixed(a),
                Err(_) if s.contains('/') || s.chars().any(|c| c.is_ascii_alphabetic()) => {
                    warn(format!(
                        "address \"{s}\" (subnet or host name) is not supported; ignored"
                    ));
                    continue;
                }
                Err(_) => return Err(format!("invalid address \"{s}\"")),
            },
        };
        match &rule {
            None => rule = Some(this),
            Some(_) => warn(format!("only the first address is used; \"{s}\" ignored")),
        }
    }
    Ok(rule.unwrap_or(AddressRule::Any))
}

/// Splits a line into pppd words: quotes, backslash escapes, `#` comments
/// at the start of a word.
fn split_words(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let b = line.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' {
            break;
        }
        let mut word = Vec::new();
        let mut quote: Option<u8> = None;
        while i < b.len() {
            let c = b[i];
            match quote {
                Some(q) if c == q => {
                    quote = None;
                    i += 1;
                    continue;
                }
                None if c == b'"' || c == b'\'' => {
                    quote = Some(c);
                    i += 1;
                    continue;
                }
                None if c.is_ascii_whitespace() => break,
                _ => {}
            }
            if c == b'\\' {
                i += 1;
                let (byte, used) = escape(&b[i..])
                    .ok_or("backslash at end of line (line joining is not supported)")?;
                word.push(byte);
                i += used;
                continue;
            }
            word.push(c);
            i += 1;
        }
        if quote.is_some() {
            return Err("unterminated quote".into());
        }
        words.push(word);
    }
    Ok(words)
}

/// One escape after a backslash: the byte and how many input bytes it used.
fn escape(rest: &[u8]) -> Option<(u8, usize)> {
    let &c = rest.first()?;
    let simple = match c {
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b's' => Some(b' '),
        b'b' => Some(0x08),
        b'f' => Some(0x0c),
        _ => None,
    };
    if let Some(s) = simple {
        return Some((s, 1));
    }
    if (b'0'..=b'7').contains(&c) {
        let mut v: u32 = 0;
        let mut n = 0;
        while n < 3 && rest.get(n).is_some_and(|d| (b'0'..=b'7').contains(d)) {
            v = v * 8 + u32::from(rest[n] - b'0');
            n += 1;
        }
        return Some(((v & 0xff) as u8, n));
    }
    if c == b'x' {
        let mut v: u32 = 0;
        let mut n = 0;
        while n < 2 && rest.get(1 + n).is_some_and(|d| d.is_ascii_hexdigit()) {
            v = v * 16 + (rest[1 + n] as char).to_digit(16).unwrap_or(0);
            n += 1;
        }
        if n > 0 {
            return Some((v as u8, 1 + n));
        }
    }
    Some((c, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<Secrets, ConfigError> {
        parse_secrets(t, Path::new("/etc/l2tpns/ppp-secrets"))
    }

    #[test]
    fn basic_entries_and_addresses() {
        let s = parse(
            "# client server secret addresses\n\nalice * alicepw\nbob * \"bob pw\" 10.9.0.5\ncarol * c -\ndave * d *\n",
        )
        .unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s.entries[0].addresses, AddressRule::Any);
        assert_eq!(s.entries[1].secret, b"bob pw");
        assert_eq!(
            s.entries[1].addresses,
            AddressRule::Fixed("10.9.0.5".parse().unwrap())
        );
        assert_eq!(s.entries[2].addresses, AddressRule::Refuse);
        assert_eq!(s.entries[3].addresses, AddressRule::Any);
        assert_eq!(s.entries[1].line, 4);
    }

    #[test]
    fn escapes_and_quotes() {
        let s = parse(r#"u * 'a b'\s\x41\101\\x"q r""#).unwrap();
        assert_eq!(s.entries[0].secret, b"a b AA\\xq r");
        let s = parse(r#"u * """#).unwrap();
        assert_eq!(s.entries[0].secret, b"");
    }

    #[test]
    fn lookup_precedence() {
        let s = parse("* * any\nbob * bob-any-server\n* lns wild-client\nbob lns exact\nbob lns second-exact\n").unwrap();
        assert_eq!(s.lookup("bob", "lns").unwrap().secret, b"exact");
        assert_eq!(s.lookup("bob", "other").unwrap().secret, b"bob-any-server");
        assert_eq!(s.lookup("eve", "lns").unwrap().secret, b"wild-client");
        assert_eq!(s.lookup("eve", "other").unwrap().secret, b"any");
        let s = parse("bob other x\n").unwrap();
        assert!(s.lookup("bob", "lns").is_none());
        assert!(s.lookup("alice", "other").is_none());
    }

    #[test]
    fn unsupported_things_are_skipped_with_warnings() {
        let s =
            parse("u * @/etc/secret\nv * pw !10.0.0.1 10.0.0.2 10.0.0.3 10.1.0.0/16 -- mtu 1400\n")
                .unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(
            s.entries[0].addresses,
            AddressRule::Fixed("10.0.0.2".parse().unwrap())
        );
        assert_eq!(s.warnings.len(), 5);
    }

    #[test]
    fn errors_name_the_line() {
        for (t, line) in [
            ("ok * pw\nonly two\n", 2),
            ("u * \"unterminated\n", 1),
            ("u * pw\\", 1),
            ("\nu * pw 10.0.0.300\n", 2),
        ] {
            let e = parse(t).unwrap_err();
            assert_eq!(e.line, line, "{t:?}");
            assert!(e
                .to_string()
                .starts_with(&format!("/etc/l2tpns/ppp-secrets:{line}: ")));
        }
    }
}
