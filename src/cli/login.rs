//! Who may use the CLI, as l2tpns decides it (ffdn `cli.c` `cli_do`, libcli
//! `cli_loop`): a connection from the local host needs no login; a remote
//! one logs in with a user of the `users` file, and is refused outright when
//! that file names no user. The file's `enable` line holds the password for
//! `enable`. Three failed logins end the connection (libcli retries forever).

use std::sync::Arc;

use crate::config::CliUsers;

/// Failed logins before the connection is closed.
pub const MAX_LOGIN_FAILURES: u8 = 3;

/// The daemon's decision for one connection.
#[derive(Debug, Clone)]
pub struct LoginPolicy {
    /// The users file; empty when there is none.
    pub users: Arc<CliUsers>,
    /// The peer is the local host. l2tpns compares with 127.0.0.1 exactly;
    /// the daemon should pass `peer.ip().is_loopback()`.
    pub local: bool,
}

/// What a new connection gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Straight to the prompt, unprivileged (local connection).
    Open,
    /// `Username:` / `Password:` first.
    Login,
    /// Closed at once: remote, and no users to log in with.
    Refused,
}

/// What `enable` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnableRule {
    /// Ask for the enable password.
    Password,
    /// No password set and the connection is local: granted (as libcli).
    Granted,
    /// No password set and the connection is remote: refused. libcli would
    /// grant it, which gives every login user full control; we do not.
    Refused,
}

impl LoginPolicy {
    pub fn new(users: Arc<CliUsers>, local: bool) -> Self {
        LoginPolicy { users, local }
    }

    pub fn entry(&self) -> Entry {
        if self.local {
            Entry::Open
        } else if self.users.users.is_empty() {
            Entry::Refused
        } else {
            Entry::Login
        }
    }

    pub fn enable_rule(&self) -> EnableRule {
        match (&self.users.enable, self.local) {
            (Some(_), _) => EnableRule::Password,
            (None, true) => EnableRule::Granted,
            (None, false) => EnableRule::Refused,
        }
    }

    pub fn check_login(&self, user: &str, password: &str) -> bool {
        self.users.verify(user, password)
    }

    pub fn check_enable(&self, password: &str) -> bool {
        self.users
            .enable
            .as_ref()
            .is_some_and(|p| p.verify(password))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_users;
    use std::path::Path;

    fn users(text: &str) -> Arc<CliUsers> {
        Arc::new(parse_users(text, Path::new("users")).unwrap())
    }

    #[test]
    fn entry_follows_l2tpns() {
        let none = users("");
        let some = users("admin:pw\n");
        assert_eq!(LoginPolicy::new(none.clone(), true).entry(), Entry::Open);
        assert_eq!(LoginPolicy::new(none, false).entry(), Entry::Refused);
        assert_eq!(LoginPolicy::new(some.clone(), true).entry(), Entry::Open);
        assert_eq!(LoginPolicy::new(some, false).entry(), Entry::Login);
    }

    #[test]
    fn enable_rules() {
        let with = LoginPolicy::new(users("admin:pw\nenable:en\n"), false);
        assert_eq!(with.enable_rule(), EnableRule::Password);
        assert!(with.check_enable("en"));
        assert!(!with.check_enable("pw"));
        let without = users("admin:pw\n");
        assert_eq!(
            LoginPolicy::new(without.clone(), true).enable_rule(),
            EnableRule::Granted
        );
        assert_eq!(
            LoginPolicy::new(without, false).enable_rule(),
            EnableRule::Refused
        );
    }
}
