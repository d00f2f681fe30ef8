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
    }
}
