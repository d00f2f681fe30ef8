//! The l2tpns CLI users file (`/etc/l2tpns/users`, ffdn `cli.c` `init_cli`):
//! `user:password` per line; lines starting with `#` and blank lines are
//! skipped, and so (as in l2tpns) are lines without a `:`, with a warning.
//! The user `enable` holds the enable password. Passwords are plain text,
//! `$1$salt$hash` MD5-crypt, or `{crypt}HASH` DES crypt, both checked with
//! the `pwhash` crate as libcli checks them with crypt(3).

use std::path::Path;

use super::startup::ConfigWarning;
use super::ConfigError;

/// How a password is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordHash {
    Plain(String),
    /// `$1$salt$hash`, kept whole.
    Md5Crypt(String),
    /// `{crypt}` DES crypt; the text after the prefix.
    DesCrypt(String),
}

impl PasswordHash {
    fn from_field(p: &str) -> Self {
        if p.starts_with("$1$") {
            PasswordHash::Md5Crypt(p.into())
        } else if let Some(rest) = p.strip_prefix("{crypt}") {
            PasswordHash::DesCrypt(rest.into())
        } else {
            PasswordHash::Plain(p.into())
        }
    }

    /// Whether `password` matches. Comparison time does not depend on where
    /// the strings differ.
    pub fn verify(&self, password: &str) -> bool {
        match self {
            PasswordHash::Plain(p) => ct_eq(p.as_bytes(), password.as_bytes()),
            // pwhash compares in constant time.
            PasswordHash::Md5Crypt(stored) => pwhash::md5_crypt::verify(password, stored),
            // libcli hands `{crypt}` text to crypt(3), which also takes `$1$`.
            PasswordHash::DesCrypt(stored) if stored.starts_with("$1$") => {
                pwhash::md5_crypt::verify(password, stored)
            }
            PasswordHash::DesCrypt(stored) => pwhash::unix_crypt::verify(password, stored),
        }
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One CLI user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliUser {
    pub name: String,
    pub password: PasswordHash,
    pub line: usize,
}

/// The users file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CliUsers {
    /// Login users (not `enable`), in file order.
    pub users: Vec<CliUser>,
    /// The `enable` password, if given.
    pub enable: Option<PasswordHash>,
    pub warnings: Vec<ConfigWarning>,
}

impl CliUsers {
    /// Checks a login; the last line for a name wins, as libcli appends users.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        self.users
            .iter()
            .filter(|u| u.name == user)
            .any(|u| u.password.verify(password))
    }
}

/// Reads and parses a users file.
pub fn load_users(path: &Path) -> Result<CliUsers, ConfigError> {
    let text = super::read_file(path)?;
    parse_users(&text, path)
}

/// Parses users text. Never fails today (l2tpns skips what it cannot use);
/// returns `Result` so that stricter checks can be added.
pub fn parse_users(text: &str, path: &Path) -> Result<CliUsers, ConfigError> {
    let mut out = CliUsers::default();
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let l = raw.trim_end_matches('\r');
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let Some((name, pass)) = l.split_once(':') else {
            out.warnings.push(ConfigWarning {
                file: path.to_path_buf(),
                line,
                message: "no ':' (expected user:password); line ignored".into(),
            });
            continue;
        };
        let password = PasswordHash::from_field(pass);
        if name == "enable" {
            out.enable = Some(password);
        } else {
            out.users.push(CliUser {
                name: name.into(),
                password,
                line,
            });
        }
    }
    Ok(out)
}

/// FreeBSD/glibc MD5-crypt (`$1$`) through `pwhash`: returns `$1$salt$hash`,
/// or `None` when the salt holds characters crypt does not allow.
pub fn md5_crypt(pw: &[u8], salt: &[u8]) -> Option<String> {
    let salt = std::str::from_utf8(salt).ok()?;
    let setup = pwhash::HashSetup {
        salt: Some(salt),
        rounds: None,
    };
    // Deprecated only as advice against new MD5 hashes; we verify old ones.
    #[allow(deprecated)]
    pwhash::md5_crypt::hash_with(setup, pw).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_crypt_vectors_from_openssl() {
        assert_eq!(
            md5_crypt(b"password", b"saltsalt").as_deref(),
            Some("$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/")
        );
        assert_eq!(
            md5_crypt(b"", b"ab").as_deref(),
            Some("$1$ab$rn6aQS/o7141mj179E/zA.")
        );
        assert_eq!(
            md5_crypt(
                b"a very long password that is longer than sixteen bytes",
                b"12345678"
            )
            .as_deref(),
            Some("$1$12345678$4ZPu1XpOzP7yWHC/KN4Mn1")
        );
        assert_eq!(md5_crypt(b"x", b"bad:salt"), None);
    }

    #[test]
    fn parse_and_verify() {
        let u = parse_users(
            "# List username:password combinations here for cli users\nadmin:secret\r\nops:$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/\nold:{crypt}abNANd1rDfiNc\nenable:en\njunk line\n\n",
            Path::new("/etc/l2tpns/users"),
        )
        .unwrap();
        assert_eq!(u.users.len(), 3);
        assert!(u.verify("admin", "secret"));
        assert!(!u.verify("admin", "Secret"));
        assert!(u.verify("ops", "password"));
        assert!(!u.verify("ops", "passwore"));
        // DES crypt("secret", "ab"), from perl's crypt(3).
        assert!(u.verify("old", "secret"));
        assert!(!u.verify("old", "anything"));
        assert!(!u.verify("nobody", "secret"));
        assert!(u.enable.as_ref().unwrap().verify("en"));
        assert_eq!(u.warnings.len(), 1);
        assert_eq!(u.warnings[0].line, 6);
        assert_eq!(
            u.users[2].password,
            PasswordHash::DesCrypt("abNANd1rDfiNc".into())
        );
    }

    #[test]
    fn password_may_contain_colons() {
        let u = parse_users("a:b:c\n", Path::new("users")).unwrap();
        assert!(u.verify("a", "b:c"));
    }
}
