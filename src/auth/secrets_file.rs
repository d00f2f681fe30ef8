//! The embedded authentication back end: a pppd-style secrets file
//! (`client server secret [address ...]`), used when no RADIUS server is
//! configured, so the daemon runs on its own.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use super::{AuthDecision, AuthRequest, Authenticator};
use crate::config::secrets::{load_secrets, AddressRule, Secrets};
use crate::credentials::Credentials;
use crate::ppp::chap::chap_md5_verify;

pub struct SecretsFileAuth {
    path: PathBuf,
    secrets: Secrets,
    /// Our name as the `server` column sees it.
    server_name: String,
}

impl SecretsFileAuth {
    pub fn load(path: PathBuf, server_name: String) -> Result<SecretsFileAuth, String> {
        let secrets = load_secrets(&path).map_err(|e| e.to_string())?;
        Ok(SecretsFileAuth {
            path,
            secrets,
            server_name,
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "secrets file {} ({} entries)",
            self.path.display(),
            self.secrets.len()
        )
    }
}

/// Constant-time comparison: a PAP password check must not leak by timing.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Authenticator for SecretsFileAuth {
    fn authenticate(&mut self, req: &AuthRequest<'_>) -> AuthDecision {
        let reject = || AuthDecision::Reject {
            message: "Authentication failed".into(),
        };
        let Some(entry) = self.secrets.lookup(req.username, &self.server_name) else {
            return reject();
        };
        let ok = match req.credentials {
            Credentials::Pap { password } => same(password, &entry.secret),
            Credentials::Chap {
                id,
                challenge,
                response,
            } => chap_md5_verify(*id, &entry.secret, challenge, response),
        };
        if !ok {
            return reject();
        }
        let address: Option<Ipv4Addr> = match &entry.addresses {
            AddressRule::Refuse => return reject(),
            AddressRule::Any => None,
            AddressRule::Fixed(a) => Some(*a),
        };
        AuthDecision::Accept {
            address,
            message: "Welcome".into(),
            attrs: Default::default(),
        }
    }

    fn name(&self) -> &'static str {
        "secrets-file"
    }
}
