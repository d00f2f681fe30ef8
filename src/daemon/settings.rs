//! Turns the startup-config into what each part of the daemon needs: tunnel
//! and PPP parameters, the TUN address, the pool, file paths.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use ipnetwork::Ipv4Network;
use std::sync::Arc;
use std::time::Duration;

use crate::config::startup::AuthType;
use crate::config::Config;
use crate::l2tp::tunnel::TunnelConfig;
use crate::pool::AddressPool;
use crate::ppp::server::{AuthProto, ServerConfig};

use super::control::admission::SourceLimits;
use super::control::Settings;

/// IP (20) + UDP (8) + L2TP data header with room for optional fields (8) +
/// PPP (4): what a user packet carries on top of its own size.
pub const ENCAPSULATION_OVERHEAD: u32 = 40;

/// Our PPP MRU (and the TUN MTU), derived from l2tp_mtu like l2tpns.
pub fn mru(cfg: &Config) -> u16 {
    let mtu = cfg.l2tp_mtu.clamp(576, 2600);
    (mtu - ENCAPSULATION_OVERHEAD).max(576) as u16
}

/// The host name we announce: -h or `hostname`, else the system's.
pub fn hostname(cfg: &Config) -> String {
    if !cfg.hostname.is_empty() {
        return cfg.hostname.clone();
    }
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if rc == 0 {
        let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
        if let Ok(s) = std::str::from_utf8(&buf[..end]) {
            if !s.is_empty() {
                return s.to_string();
            }
        }
    }
    "l2tpns".into()
}

/// The TUN address: iftun_address, else bind_address, else l2tpns's 1.1.1.1.
pub fn tun_address(cfg: &Config) -> Ipv4Addr {
    cfg.iftun_address
        .or(cfg.bind_address)
        .unwrap_or(Ipv4Addr::new(1, 1, 1, 1))
}

pub fn secrets_path(cfg: &Config) -> PathBuf {
    cfg.ppp_secrets_file.clone()
}

/// The embedded authentication: ppp_secrets_file when no RADIUS server is
/// configured. With RADIUS it is not read at all (Debian's /etc/l2tpns has
/// RADIUS and no ppp-secrets file). At start and on every reload.
pub fn local_auth(
    cfg: &Config,
) -> Result<Option<crate::auth::secrets_file::SecretsFileAuth>, String> {
    if cfg.primary_radius.is_some() {
        return Ok(None);
    }
    crate::auth::secrets_file::SecretsFileAuth::load(secrets_path(cfg), hostname(cfg)).map(Some)
}

/// The pool, and the networks to route into the TUN device for it.
pub fn load_pool(cfg: &Config) -> Result<(AddressPool, Vec<Ipv4Network>), String> {
    let (addresses, routes) = read_pool(cfg)?;
    Ok((AddressPool::new(addresses), routes))
}

/// The ip_pool file's addresses and networks (warnings logged).
pub fn read_pool(cfg: &Config) -> Result<(Vec<Ipv4Addr>, Vec<Ipv4Network>), String> {
    let spec = crate::config::ip_pool::load_ip_pool(&cfg.ip_pool_file, cfg.bind_address)
        .map_err(|e| e.to_string())?;
    for w in &spec.warnings {
        tracing::warn!("{}:{}: {}", w.file.display(), w.line, w.message);
    }
    let routes = spec.networks.iter().map(|(_, n)| *n).collect();
    Ok((spec.addresses, routes))
}

fn auth_order(cfg: &Config) -> Vec<AuthProto> {
    let mut v: Vec<AuthProto> = cfg
        .radius_authtypes
        .iter()
        .map(|a| match a {
            AuthType::Pap => AuthProto::Pap,
            AuthType::Chap => AuthProto::Chap,
        })
        .collect();
    if v.is_empty() {
        v.push(AuthProto::Pap);
    }
    v
}

pub fn control_settings(cfg: &Config, local_address: Ipv4Addr) -> Settings {
    let secret = (!cfg.l2tp_secret.is_empty()).then(|| cfg.l2tp_secret.clone().into_bytes());
    let tunnel = TunnelConfig {
        hostname: hostname(cfg),
        vendor_name: "l2tpns-rs".into(),
        secret,
        require_peer_auth: cfg.l2tp_require_auth,
        receive_window: cfg.l2tp_receive_window.max(1),
        hello_interval: (!cfg.disable_sending_hello).then(|| Duration::from_secs(60)),
        retransmit_initial: Duration::from_secs(1),
        retransmit_max: Duration::from_secs(8),
        max_retransmits: 5,
        max_sessions: 0,
    };
    let ppp = ServerConfig {
        mru: mru(cfg),
        auth_order: auth_order(cfg),
        restart_time: Duration::from_secs(u64::from(cfg.ppp_restart_time.max(1))),
        max_configure: cfg.ppp_max_configure.max(1),
        max_failure: cfg.ppp_max_failure.max(1),
        echo_interval: Duration::from_secs(u64::from(cfg.echo_timeout.max(1))),
        idle_timeout: Duration::from_secs(u64::from(cfg.idle_echo_timeout.max(1))),
        echo_always: !cfg.ppp_keepalive,
        hostname: hostname(cfg),
        local_address: cfg.peer_address.unwrap_or(local_address),
    };
    Settings {
        tunnel: Arc::new(tunnel),
        ppp: Arc::new(ppp),
        dns: [cfg.primary_dns, cfg.secondary_dns],
        allow_duplicate_users: cfg.allow_duplicate_users,
        guest_accounts: cfg.guest_account.clone(),
        anti_spoof: !cfg.disable_no_spoof,
        max_tunnels: cfg.max_tunnels.clamp(1, 65535) as u16,
        max_sessions: cfg.max_sessions,
        session_hook: super::session_hook::HookSettings::from_config(cfg).map(Arc::new),
        sources: SourceLimits {
            max_tunnels: cfg.max_tunnels_per_source,
            sccrq_rate: cfg.sccrq_rate_per_source,
            refusal_rate: cfg.sccrq_refusal_rate_per_source,
        },
        packet_limit: cfg.packet_limit,
        garden: Arc::new(read_garden(cfg)),
    }
}

/// The walled garden: the `garden` file next to startup-config (absent:
/// no rule) and garden_redirect. Lines it cannot read are skipped, each
/// with a warning (a rule less reaches less, never more).
pub fn read_garden(cfg: &Config) -> crate::dataplane::garden::Garden {
    use crate::dataplane::garden::Garden;
    let path = garden_path(cfg);
    let rules = match std::fs::read_to_string(&path) {
        Ok(text) => {
            let (rules, errors) = Garden::parse(&text);
            for e in errors {
                tracing::warn!(
                    "{}:{}: {} (line skipped)",
                    path.display(),
                    e.line,
                    e.message
                );
            }
            rules
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            tracing::warn!(
                "{}: {e}: the walled garden allows nothing but DNS",
                path.display()
            );
            Vec::new()
        }
    };
    Garden {
        rules,
        redirect: cfg.garden_redirect,
    }
}

/// `garden`, in the startup-config's directory.
pub fn garden_path(cfg: &Config) -> PathBuf {
    cfg.source
        .parent()
        .unwrap_or(std::path::Path::new("/etc/l2tpns"))
        .join("garden")
}

/// `accounting_dir` and its companions; None when it is not set.
pub fn acct_dir(
    cfg: &Config,
    started: std::time::SystemTime,
) -> Option<super::control::AcctDirSettings> {
    if cfg.accounting_dir.is_empty() {
        return None;
    }
    Some(super::control::AcctDirSettings {
        dir: PathBuf::from(&cfg.accounting_dir),
        interval: Duration::from_secs(u64::from(cfg.accounting_dir_interval.max(1))),
        all_origin: cfg.account_all_origin,
        host: hostname(cfg),
        endpoint: crate::daemon::usage_file::endpoint(
            &cfg.bind_multi_address,
            cfg.iftun_address,
            cfg.bind_address,
            || interface_ipv4(&cfg.cluster_interface),
        ),
        started,
    })
}

/// The first IPv4 address of interface `name`, if it has one (l2tpns's
/// `my_address`, of cluster_interface).
pub fn interface_ipv4(name: &str) -> Option<Ipv4Addr> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list`, freed below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return None;
    }
    let mut found = None;
    let mut p = list;
    while !p.is_null() && found.is_none() {
        // SAFETY: p is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*p };
        p = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: a NUL-terminated name and a sockaddr of the family it says.
        let (ifname, family) = unsafe {
            (
                std::ffi::CStr::from_ptr(ifa.ifa_name),
                (*ifa.ifa_addr).sa_family,
            )
        };
        if ifname.to_bytes() != name.as_bytes() || i32::from(family) != libc::AF_INET {
            continue;
        }
        // SAFETY: AF_INET, so the sockaddr is a sockaddr_in.
        let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
        found = Some(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
    }
    // SAFETY: the list from getifaddrs, freed once.
    unsafe { libc::freeifaddrs(list) };
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_its_address() {
        assert_eq!(interface_ipv4("lo"), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(interface_ipv4("no-such-if0"), None);
    }
}
