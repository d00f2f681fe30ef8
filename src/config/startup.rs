//! The startup-config parser: `set VAR VALUE` lines into a typed `Config`,
//! and the other configuration-mode commands (plugins, BGP, access lists,
//! setforward) into a `Statement` list. Format and defaults follow l2tpns
//! 2.4.1 (`man 5 startup-config`; ffdn `l2tpns.c` `config_values[]`,
//! `initdata()`, `update_config()`; `cli.c` `cmd_set`).
//!
//! Unlike l2tpns (which prints an error and carries on), an unknown variable
//! or a bad value stops the load with `FILE:LINE: reason`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use super::acl::{self, AclKind, AclRule, Action};
use super::lexer::split_line;
use super::vars::{self, VARS};
use super::ConfigError;
pub use crate::radius::MessageAuthenticatorPolicy;

/// Variables whose feature exists in the daemon now. The daemon logs the
/// others once at start-up ("accepted, not implemented yet").
pub const IMPLEMENTED: &[&str] = &[
    "debug",
    "log_file",
    "pid_file",
    "hostname",
    "l2tp_secret",
    "l2tp_mtu",
    "ppp_restart_time",
    "ppp_max_configure",
    "ppp_max_failure",
    "ppp_keepalive",
    "echo_timeout",
    "idle_echo_timeout",
    "disable_sending_hello",
    "primary_dns",
    "secondary_dns",
    "peer_address",
    "radius_authtypes",
    "allow_duplicate_users",
    "guest_account",
    "disable_no_spoof",
    "bind_address",
    "iftun_address",
    "tundevicename",
    "random_device",
    "ppp_secrets_file",
    "l2tp_require_auth",
    "ip_pool_file",
    "users_file",
    "l2tp_receive_window",
    "max_tunnels",
    "max_sessions",
    "data_workers",
    "data_batch",
    "data_offload",
    "data_coalesce_usecs",
    "metrics_address",
    "nsctl_bind_address",
    "nsctl_allow",
    "cli_bind_address",
    "cli_port",
    "primary_radius",
    "secondary_radius",
    "primary_radius_port",
    "secondary_radius_port",
    "radius_secret",
    "radius_accounting",
    "radius_interim",
    "radius_dae_port",
    "radius_bind_min",
    "radius_bind_max",
    "kill_timedout_sessions",
    "radius_require_message_authenticator",
    "radius_dae_require_message_authenticator",
    "radius_source_address",
    "radius_dae_allow",
    "log_format",
    "accounting_dir",
    "account_all_origin",
    "accounting_dir_interval",
    "dump_speed",
];

/// Authentication protocol offered to clients (`radius_authtypes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    Pap,
    Chap,
}

/// A BGP neighbour sub-command (`neighbour PEER ...` after `router bgp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeighbourCmd {
    RemoteAs(u16),
    Timers { keepalive: u16, hold: u16 },
    UpdateSource(Ipv4Addr),
}

/// A configuration command other than `set`, kept in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    LoadPlugin(String),
    RemovePlugin(String),
    RouterBgp {
        asn: u16,
    },
    Neighbour {
        peer: String,
        cmd: NeighbourCmd,
    },
    NoNeighbour {
        peer: String,
    },
    AccessList {
        kind: AclKind,
        name: String,
    },
    AclRule {
        list: String,
        kind: AclKind,
        rule: AclRule,
    },
    NoAccessList {
        name: String,
    },
    SetForward {
        mask: String,
        ip: Ipv4Addr,
        port: u16,
        secret: String,
    },
}

impl Statement {
    /// Whether the daemon acts on it (plugins are loaded; BGP, access
    /// lists and forwards are not there yet).
    pub fn is_implemented(&self) -> bool {
        matches!(self, Statement::LoadPlugin(_) | Statement::RemovePlugin(_))
    }

    /// The plugins to load, in file order, after `remove plugin` lines.
    pub fn plugins(statements: &[Located]) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for l in statements {
            match &l.statement {
                Statement::LoadPlugin(n) if !v.contains(n) => v.push(n.clone()),
                Statement::RemovePlugin(n) => v.retain(|x| x != n),
                _ => {}
            }
        }
        v
    }

    /// The statement as an operator would name it in a message.
    pub fn keyword(&self) -> String {
        match self {
            Statement::LoadPlugin(n) => format!("load plugin {n}"),
            Statement::RemovePlugin(n) => format!("remove plugin {n}"),
            Statement::RouterBgp { asn } => format!("router bgp {asn}"),
            Statement::Neighbour { peer, .. } => format!("neighbour {peer}"),
            Statement::NoNeighbour { peer } => format!("no neighbour {peer}"),
            Statement::AccessList { name, .. } => format!("ip access-list {name}"),
            Statement::AclRule { list, .. } => format!("access-list {list} rule"),
            Statement::NoAccessList { name } => format!("no ip access-list {name}"),
            Statement::SetForward { mask, .. } => format!("setforward {mask}"),
        }
    }
}

/// A statement and the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub line: usize,
    pub statement: Statement,
}

/// Something accepted but worth telling the operator (value clamped,
/// removed variable ignored...). The daemon logs these at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// The whole startup-config: one typed field per variable (l2tpns code
/// defaults), then the other statements. Strings use "" for "not set", as
/// l2tpns does; addresses use `None` for 0.0.0.0 / `::`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    // Logging and process
    pub debug: u8,
    /// "" = stderr; a path; or `syslog:FACILITY`.
    pub log_file: String,
    pub pid_file: String,
    /// "" = use the library PRNG.
    pub random_device: String,
    /// "" = the OS hostname.
    pub hostname: String,
    pub multi_hostname: String,
    pub dump_speed: bool,
    pub multi_read_count: u32,
    pub scheduler_fifo: bool,
    pub lock_pages: bool,
    // L2TP and PPP
    pub l2tp_secret: String,
    pub l2tp_mtu: u32,
    pub ppp_restart_time: u32,
    pub ppp_max_configure: u32,
    pub ppp_max_failure: u32,
    pub ppp_keepalive: bool,
    pub echo_timeout: u32,
    pub idle_echo_timeout: u32,
    pub disable_sending_hello: bool,
    pub auth_tunnel_change_addr_src: bool,
    pub primary_dns: Option<Ipv4Addr>,
    pub secondary_dns: Option<Ipv4Addr>,
    pub peer_address: Option<Ipv4Addr>,
    // RADIUS and sessions
    pub primary_radius: Option<Ipv4Addr>,
    pub secondary_radius: Option<Ipv4Addr>,
    /// Authentication port; accounting is this + 1. 0 in the file means 1812.
    pub primary_radius_port: u16,
    pub secondary_radius_port: u16,
    pub radius_secret: String,
    pub radius_authtypes: Vec<AuthType>,
    pub radius_accounting: bool,
    pub radius_interim: u32,
    pub radius_dae_port: u16,
    /// 0 = dynamic.
    pub radius_bind_min: u16,
    pub radius_bind_max: u16,
    pub allow_duplicate_users: bool,
    pub guest_account: Vec<String>,
    pub kill_timedout_sessions: bool,
    /// kbit/s.
    pub throttle_speed: u64,
    pub throttle_buckets: u32,
    pub no_throttle_local_ip: bool,
    pub packet_limit: u32,
    pub icmp_rate: u32,
    pub disable_no_spoof: bool,
    pub accounting_dir: String,
    pub account_all_origin: bool,
    // Addresses and interfaces
    pub bind_address: Option<Ipv4Addr>,
    pub bind_multi_address: Vec<Ipv4Addr>,
    pub iftun_address: Option<Ipv4Addr>,
    pub tundevicename: String,
    pub send_garp: bool,
    pub cli_bind_address: Option<Ipv4Addr>,
    /// The CLI's TCP port (l2tpns: 23, fixed).
    pub cli_port: u16,
    // Clustering
    pub cluster_address: Ipv4Addr,
    pub cluster_port: u16,
    pub cluster_interface: String,
    pub cluster_mcast_ttl: u32,
    /// Tenths of a second.
    pub cluster_hb_interval: u32,
    pub cluster_hb_timeout: u32,
    pub cluster_master_min_adv: u32,
    // BGP
    pub nexthop_address: Option<Ipv4Addr>,
    pub nexthop6_address: Option<Ipv6Addr>,
    // IPv6 and DHCPv6
    pub ipv6_prefix: Option<Ipv6Addr>,
    pub primary_ipv6_dns: Option<Ipv6Addr>,
    pub secondary_ipv6_dns: Option<Ipv6Addr>,
    pub dns6_lifetime: u32,
    pub default_ipv6_domain_list: String,
    /// 0 = not set.
    pub dhcp6_preferred_lifetime: u32,
    pub dhcp6_valid_lifetime: u32,
    pub dhcp6_server_duid: u32,
    // LAC and PPPoE
    pub disable_lac_func: bool,
    pub bind_address_remotelns: Option<Ipv4Addr>,
    pub bind_portremotelns: u16,
    pub pppoe_if_to_bind: String,
    pub pppoe_service_name: String,
    pub pppoe_ac_name: String,
    pub pppoe_only_equal_svc_name: bool,
    // Ours
    pub ppp_secrets_file: PathBuf,
    pub l2tp_require_auth: bool,
    pub ip_pool_file: PathBuf,
    pub users_file: PathBuf,
    pub l2tp_receive_window: u16,
    /// Open tunnels at most (1..65535; L2TPv2 tunnel ids are 16-bit).
    pub max_tunnels: u32,
    /// Sessions at most over all tunnels; 0 = no limit.
    pub max_sessions: u32,
    /// Data-plane workers (one thread, one TUN queue, one UDP socket each); 0 = one per core.
    pub data_workers: u32,
    /// Packets per recvmmsg/sendmmsg call in the data plane; 0 = one syscall per packet.
    pub data_batch: u32,
    /// TUN offloads (IFF_VNET_HDR, TSO/USO) and UDP GSO/GRO where the kernel has them.
    pub data_offload: bool,
    /// Receive moderation of the workers while traffic is dense (0: off).
    pub data_coalesce_usecs: u32,
    /// Seconds between accounting_dir files (l2tpns: 300, fixed).
    pub accounting_dir_interval: u32,
    /// Prometheus /metrics endpoint; None = off.
    pub metrics_address: Option<std::net::SocketAddr>,
    /// Where the nsctl port (UDP 1702) listens; l2tpns: every address.
    pub nsctl_bind_address: Ipv4Addr,
    /// Addresses besides loopback that may send nsctl requests.
    pub nsctl_allow: Vec<Ipv4Addr>,
    /// Which RADIUS replies must carry a valid Message-Authenticator
    /// (auto: those of a server that has once signed one).
    pub radius_require_message_authenticator: MessageAuthenticatorPolicy,
    /// Drop DAE requests without a Message-Authenticator (one present is always checked).
    pub radius_dae_require_message_authenticator: bool,
    /// Source address of RADIUS requests; unset: the kernel picks it, as in l2tpns.
    pub radius_source_address: Option<Ipv4Addr>,
    /// Log lines as text (l2tpns's) or one JSON object each.
    pub log_format: LogFormat,
    /// Addresses allowed to send Disconnect/CoA besides the RADIUS servers.
    pub radius_dae_allow: Vec<Ipv4Addr>,

    /// Directory of the startup-config; relative file names are resolved here.
    pub config_dir: PathBuf,
    /// Plugins, BGP, access lists and forwards, in file order.
    pub statements: Vec<Located>,
    /// Accepted-with-a-remark lines, for the log.
    pub warnings: Vec<ConfigWarning>,
    /// The startup-config this came from (names it in messages).
    pub source: PathBuf,
    /// Variables the file set explicitly, with the line of their last `set`
    /// (0 when set from elsewhere, e.g. the CLI).
    explicitly_set: BTreeMap<&'static str, usize>,
    /// The line being parsed (for `explicitly_set`); 0 outside `parse`.
    line: usize,
}

/// Where l2tpns keeps its files; the defaults of our file variables follow it.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/l2tpns";

impl Default for Config {
    fn default() -> Self {
        Config::with_dir(Path::new(DEFAULT_CONFIG_DIR))
    }
}

impl Config {
    /// All defaults, with file variables relative to `dir`.
    fn with_dir(dir: &Path) -> Self {
        Config {
            debug: 0,
            log_file: String::new(),
            pid_file: String::new(),
            random_device: "/dev/urandom".into(),
            hostname: String::new(),
            multi_hostname: String::new(),
            dump_speed: false,
            multi_read_count: 10,
            scheduler_fifo: false,
            lock_pages: false,
            l2tp_secret: String::new(),
            l2tp_mtu: 1500,
            ppp_restart_time: 3,
            ppp_max_configure: 10,
            ppp_max_failure: 5,
            ppp_keepalive: true,
            echo_timeout: 10,
            idle_echo_timeout: 240,
            disable_sending_hello: false,
            auth_tunnel_change_addr_src: false,
            primary_dns: None,
            secondary_dns: None,
            peer_address: None,
            primary_radius: None,
            secondary_radius: None,
            primary_radius_port: 1812,
            secondary_radius_port: 1812,
            radius_secret: String::new(),
            radius_authtypes: vec![AuthType::Pap],
            radius_accounting: false,
            radius_interim: 0,
            radius_dae_port: 3799,
            radius_bind_min: 0,
            radius_bind_max: 0,
            allow_duplicate_users: false,
            guest_account: Vec::new(),
            kill_timedout_sessions: true,
            throttle_speed: 28,
            throttle_buckets: 6000,
            no_throttle_local_ip: false,
            packet_limit: 0,
            icmp_rate: 0,
            disable_no_spoof: false,
            accounting_dir: String::new(),
            account_all_origin: false,
            bind_address: None,
            bind_multi_address: Vec::new(),
            iftun_address: None,
            tundevicename: "tun0".into(),
            send_garp: false,
            cli_bind_address: Some(Ipv4Addr::LOCALHOST),
            cli_port: 23,
            cluster_address: Ipv4Addr::new(239, 192, 13, 13),
            cluster_port: 32792,
            cluster_interface: "eth0".into(),
            cluster_mcast_ttl: 1,
            cluster_hb_interval: 5,
            cluster_hb_timeout: 150,
            cluster_master_min_adv: 1,
            nexthop_address: None,
            nexthop6_address: None,
            ipv6_prefix: None,
            primary_ipv6_dns: None,
            secondary_ipv6_dns: None,
            dns6_lifetime: 1200,
            default_ipv6_domain_list: String::new(),
            dhcp6_preferred_lifetime: 0,
            dhcp6_valid_lifetime: 0,
            dhcp6_server_duid: 0,
            disable_lac_func: false,
            bind_address_remotelns: None,
            bind_portremotelns: 65432,
            pppoe_if_to_bind: String::new(),
            pppoe_service_name: String::new(),
            pppoe_ac_name: "l2tpns-pppoe".into(),
            pppoe_only_equal_svc_name: false,
            ppp_secrets_file: dir.join("ppp-secrets"),
            l2tp_require_auth: false,
            ip_pool_file: dir.join("ip_pool"),
            users_file: dir.join("users"),
            l2tp_receive_window: 16,
            max_tunnels: 65535,
            max_sessions: 0,
            data_workers: 0,
            data_batch: 32,
            data_offload: true,
            data_coalesce_usecs: 100,
            accounting_dir_interval: 300,
            metrics_address: None,
            nsctl_bind_address: Ipv4Addr::LOCALHOST,
            nsctl_allow: Vec::new(),
            radius_require_message_authenticator: MessageAuthenticatorPolicy::Auto,
            radius_dae_require_message_authenticator: false,
            radius_source_address: None,
            radius_dae_allow: Vec::new(),
            log_format: LogFormat::Text,
            config_dir: dir.to_path_buf(),
            statements: Vec::new(),
            warnings: Vec::new(),
            source: dir.join("startup-config"),
            explicitly_set: BTreeMap::new(),
            line: 0,
        }
    }

    /// Reads and parses a startup-config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = super::read_file(path)?;
        Config::parse(&text, path)
    }

    /// Parses startup-config text; `path` names the file in messages and
    /// gives the directory for relative file names.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut cfg = Config::with_dir(dir);
        cfg.source = path.to_path_buf();
        let mut mode = Mode::Config;
        for (idx, raw) in text.lines().enumerate() {
            let line = idx + 1;
            let err = |reason: String| ConfigError::new(path, line, reason);
            let split = split_line(raw).map_err(err)?;
            if split.hash_in_quotes {
                cfg.warn(
                    path,
                    line,
                    "'#' inside quotes is kept (l2tpns would have cut the line there)",
                );
            }
            if split.words.is_empty() {
                continue;
            }
            cfg.line = line;
            match cfg.command(&split.words, &mut mode).map_err(err)? {
                Flow::Continue => {}
                Flow::Quit => break,
                Flow::Warn(msg) => cfg.warn(path, line, msg),
                Flow::Statement(statement) => cfg.statements.push(Located { line, statement }),
            }
        }
        cfg.finish(path).map_err(|e| ConfigError::new(path, 0, e))?;
        Ok(cfg)
    }

    fn warn(&mut self, path: &Path, line: usize, message: impl Into<String>) {
        self.warnings.push(ConfigWarning {
            file: path.to_path_buf(),
            line,
            message: message.into(),
        });
    }

    /// One non-empty line of words.
    fn command(&mut self, words: &[String], mode: &mut Mode) -> Result<Flow, String> {
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        // Sub-mode commands first; any other command leaves the sub-mode.
        match (&*mode, w.as_slice()) {
            (Mode::Bgp, ["neighbour" | "neighbor", rest @ ..]) => return neighbour(rest),
            (Mode::Bgp, ["no", "neighbour" | "neighbor", peer]) => {
                return Ok(Flow::Statement(Statement::NoNeighbour {
                    peer: (*peer).to_string(),
                }))
            }
            (Mode::Acl { kind, name }, [a @ ("permit" | "deny"), ..]) => {
                let action = if *a == "permit" {
                    Action::Permit
                } else {
                    Action::Deny
                };
                let rule = acl::parse_rule(*kind, action, &words[1..])?;
                return Ok(Flow::Statement(Statement::AclRule {
                    list: name.clone(),
                    kind: *kind,
                    rule,
                }));
            }
            (Mode::Bgp | Mode::Acl { .. }, ["exit" | "end"]) => {
                *mode = Mode::Config;
                return Ok(Flow::Continue);
            }
            _ => {}
        }
        *mode = Mode::Config;
        match w.as_slice() {
            ["set", name, value] => self.set_from_file(name, value),
            ["set", ..] => {
                Err("`set` takes a variable and one value (quote values containing spaces)".into())
            }
            ["load", "plugin", name] => Ok(Flow::Statement(Statement::LoadPlugin((*name).into()))),
            ["remove", "plugin", name] => {
                Ok(Flow::Statement(Statement::RemovePlugin((*name).into())))
            }
            ["load" | "remove", ..] => {
                Err("expected `load plugin NAME` or `remove plugin NAME`".into())
            }
            ["router", "bgp", asn] => {
                let asn = parse_ranged(asn, 1, 65535)
                    .map_err(|e| format!("invalid autonomous system number: {e}"))?;
                *mode = Mode::Bgp;
                Ok(Flow::Statement(Statement::RouterBgp { asn: asn as u16 }))
            }
            ["ip", "access-list", kind, name] => {
                let kind = match *kind {
                    k if !k.is_empty() && "standard".starts_with(k) => AclKind::Standard,
                    k if !k.is_empty() && "extended".starts_with(k) => AclKind::Extended,
                    _ => {
                        return Err(format!(
                            "invalid access-list type \"{kind}\" (standard or extended)"
                        ))
                    }
                };
                check_acl_name(name)?;
                *mode = Mode::Acl {
                    kind,
                    name: (*name).into(),
                };
                Ok(Flow::Statement(Statement::AccessList {
                    kind,
                    name: (*name).into(),
                }))
            }
            ["no", "ip", "access-list", name] => Ok(Flow::Statement(Statement::NoAccessList {
                name: (*name).into(),
            })),
            ["setforward", mask, ip, port, secret] => Ok(Flow::Statement(Statement::SetForward {
                mask: (*mask).into(),
                ip: parse_ip4(ip)?,
                port: parse_ranged(port, 1, 65535)? as u16,
                secret: (*secret).into(),
            })),
            ["setforward", ..] => Err("expected `setforward MASK IP PORT SECRET`".into()),
            ["quit"] => Ok(Flow::Quit),
            ["exit" | "end"] => Ok(Flow::Continue),
            ["neighbour" | "neighbor", ..] => Err("`neighbour` outside `router bgp`".into()),
            ["permit" | "deny", ..] => Err("access-list rule outside `ip access-list`".into()),
            [cmd, ..] => Err(format!("unknown command \"{cmd}\"")),
            [] => Ok(Flow::Continue),
        }
    }

    fn set_from_file(&mut self, name: &str, value: &str) -> Result<Flow, String> {
        if let Some((_, why)) = vars::REMOVED.iter().find(|(n, _)| *n == name) {
            return Ok(Flow::Warn(format!("variable \"{name}\" {why}")));
        }
        let warning = self.set_inner(name, value)?;
        Ok(match warning {
            Some(w) => Flow::Warn(w),
            None => Flow::Continue,
        })
    }

    /// Sets one variable from its text value (as `set NAME VALUE` does); the
    /// CLI uses this too. Errors name the problem; the value is unchanged then.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        self.set_inner(name, value).map(|_| ())
    }

    fn set_inner(&mut self, name: &str, value: &str) -> Result<Option<String>, String> {
        let Some(info) = vars::find(name) else {
            if let Some((_, real)) = vars::RENAMED.iter().find(|(n, _)| *n == name) {
                return Err(format!(
                    "unknown variable \"{name}\" (did you mean \"{real}\"?)"
                ));
            }
            return Err(format!("unknown variable \"{name}\""));
        };
        let warning = self
            .assign(info.name, value)
            .map_err(|e| format!("{name}: {e}"))?;
        self.explicitly_set.insert(info.name, self.line);
        Ok(warning)
    }

    /// Parses `v` into the field `name`; returns an optional warning.
    fn assign(&mut self, name: &str, v: &str) -> Result<Option<String>, String> {
        match name {
            "debug" => self.debug = parse_ranged(v, 0, 5)? as u8,
            "log_file" => {
                self.log_file = v.into();
                return Ok(check_log_file(v));
            }
            "pid_file" => self.pid_file = v.into(),
            "random_device" => self.random_device = v.into(),
            "hostname" => self.hostname = v.into(),
            "multi_hostname" => self.multi_hostname = v.into(),
            "dump_speed" => self.dump_speed = parse_bool(v)?,
            "multi_read_count" => {
                self.multi_read_count = parse_ranged(v, 1, u32::MAX as u64)? as u32
            }
            "scheduler_fifo" => self.scheduler_fifo = parse_bool(v)?,
            "lock_pages" => self.lock_pages = parse_bool(v)?,
            "l2tp_secret" => self.l2tp_secret = v.into(),
            "l2tp_mtu" => {
                let mtu = parse_ranged(v, 0, u32::MAX as u64)? as u32;
                self.l2tp_mtu = mtu.clamp(576, 2600);
                if self.l2tp_mtu != mtu {
                    return Ok(Some(format!(
                        "l2tp_mtu {mtu} out of 576..2600, using {}",
                        self.l2tp_mtu
                    )));
                }
            }
            "ppp_restart_time" => self.ppp_restart_time = parse_ranged(v, 1, 3600)? as u32,
            "ppp_max_configure" => self.ppp_max_configure = parse_ranged(v, 1, 255)? as u32,
            "ppp_max_failure" => self.ppp_max_failure = parse_ranged(v, 1, 255)? as u32,
            "ppp_keepalive" => self.ppp_keepalive = parse_bool(v)?,
            "echo_timeout" => self.echo_timeout = parse_u32(v)?,
            "idle_echo_timeout" => self.idle_echo_timeout = parse_u32(v)?,
            "disable_sending_hello" => self.disable_sending_hello = parse_bool(v)?,
            "auth_tunnel_change_addr_src" => self.auth_tunnel_change_addr_src = parse_bool(v)?,
            "primary_dns" => self.primary_dns = parse_ip4_opt(v)?,
            "secondary_dns" => self.secondary_dns = parse_ip4_opt(v)?,
            "peer_address" => self.peer_address = parse_ip4_opt(v)?,
            "primary_radius" => self.primary_radius = parse_ip4_opt(v)?,
            "secondary_radius" => self.secondary_radius = parse_ip4_opt(v)?,
            "primary_radius_port" => self.primary_radius_port = parse_radius_port(v)?,
            "secondary_radius_port" => self.secondary_radius_port = parse_radius_port(v)?,
            "radius_secret" => self.radius_secret = v.into(),
            "radius_authtypes" => self.radius_authtypes = parse_authtypes(v)?,
            "radius_accounting" => self.radius_accounting = parse_bool(v)?,
            "radius_interim" => self.radius_interim = parse_u32(v)?,
            "radius_dae_port" => self.radius_dae_port = parse_port(v)?,
            "radius_bind_min" => self.radius_bind_min = parse_port_or_zero(v)?,
            "radius_bind_max" => self.radius_bind_max = parse_port_or_zero(v)?,
            "allow_duplicate_users" => self.allow_duplicate_users = parse_bool(v)?,
            "guest_account" => self.guest_account = parse_guest_accounts(v)?,
            "kill_timedout_sessions" => self.kill_timedout_sessions = parse_bool(v)?,
            "throttle_speed" => self.throttle_speed = parse_ranged(v, 0, u64::MAX)?,
            "throttle_buckets" => self.throttle_buckets = parse_u32(v)?,
            "no_throttle_local_IP" => self.no_throttle_local_ip = parse_bool(v)?,
            "packet_limit" => self.packet_limit = parse_u32(v)?,
            "icmp_rate" => self.icmp_rate = parse_u32(v)?,
            "disable_no_spoof" => self.disable_no_spoof = parse_bool(v)?,
            "accounting_dir" => self.accounting_dir = v.into(),
            "account_all_origin" => self.account_all_origin = parse_bool(v)?,
            "bind_address" => self.bind_address = parse_ip4_opt(v)?,
            "bind_multi_address" => self.bind_multi_address = parse_ip4_list(v, 4)?,
            "iftun_address" => self.iftun_address = parse_ip4_opt(v)?,
            "tundevicename" => self.tundevicename = parse_ifname(v)?,
            "send_garp" => self.send_garp = parse_bool(v)?,
            "cli_bind_address" => self.cli_bind_address = parse_ip4_opt(v)?,
            "cli_port" => self.cli_port = parse_port(v)?,
            "cluster_address" => self.cluster_address = parse_ip4(v)?,
            "cluster_port" => self.cluster_port = parse_port(v)?,
            "cluster_interface" => self.cluster_interface = v.into(),
            "cluster_mcast_ttl" => self.cluster_mcast_ttl = parse_ranged(v, 0, 255)? as u32,
            "cluster_hb_interval" => {
                self.cluster_hb_interval = parse_ranged(v, 1, u32::MAX as u64)? as u32
            }
            "cluster_hb_timeout" => self.cluster_hb_timeout = parse_u32(v)?,
            "cluster_master_min_adv" => self.cluster_master_min_adv = parse_u32(v)?,
            "nexthop_address" => self.nexthop_address = parse_ip4_opt(v)?,
            "nexthop6_address" => self.nexthop6_address = parse_ip6_opt(v)?,
            "ipv6_prefix" => self.ipv6_prefix = parse_ip6_opt(v)?,
            "primary_ipv6_dns" => self.primary_ipv6_dns = parse_ip6_opt(v)?,
            "secondary_ipv6_dns" => self.secondary_ipv6_dns = parse_ip6_opt(v)?,
            "dns6_lifetime" => self.dns6_lifetime = parse_u32(v)?,
            "default_ipv6_domain_list" => self.default_ipv6_domain_list = v.into(),
            "dhcp6_preferred_lifetime" => self.dhcp6_preferred_lifetime = parse_u32(v)?,
            "dhcp6_valid_lifetime" => self.dhcp6_valid_lifetime = parse_u32(v)?,
            "dhcp6_server_duid" => self.dhcp6_server_duid = parse_u32(v)?,
            "disable_lac_func" => self.disable_lac_func = parse_bool(v)?,
            "bind_address_remotelns" => self.bind_address_remotelns = parse_ip4_opt(v)?,
            "bind_portremotelns" => self.bind_portremotelns = parse_port(v)?,
            "pppoe_if_to_bind" => self.pppoe_if_to_bind = v.into(),
            "pppoe_service_name" => self.pppoe_service_name = v.into(),
            "pppoe_ac_name" => self.pppoe_ac_name = v.into(),
            "pppoe_only_equal_svc_name" => self.pppoe_only_equal_svc_name = parse_bool(v)?,
            "ppp_secrets_file" => self.ppp_secrets_file = self.resolve(v)?,
            "l2tp_require_auth" => self.l2tp_require_auth = parse_bool(v)?,
            "ip_pool_file" => self.ip_pool_file = self.resolve(v)?,
            "users_file" => self.users_file = self.resolve(v)?,
            "l2tp_receive_window" => self.l2tp_receive_window = parse_ranged(v, 1, 65535)? as u16,
            "max_tunnels" => self.max_tunnels = parse_ranged(v, 1, 65535)? as u32,
            "max_sessions" => self.max_sessions = parse_ranged(v, 0, u64::from(u32::MAX))? as u32,
            "data_workers" => self.data_workers = parse_ranged(v, 0, 64)? as u32,
            "data_batch" => self.data_batch = parse_ranged(v, 0, 256)? as u32,
            "data_offload" => self.data_offload = parse_bool(v)?,
            "data_coalesce_usecs" => self.data_coalesce_usecs = parse_ranged(v, 0, 10_000)? as u32,
            "accounting_dir_interval" => {
                self.accounting_dir_interval = parse_ranged(v, 1, 86_400)? as u32
            }
            "metrics_address" => self.metrics_address = super::metrics_address::parse(v)?,
            "nsctl_bind_address" => self.nsctl_bind_address = parse_ip4(v)?,
            "nsctl_allow" => self.nsctl_allow = parse_ip4_list(v, 64)?,
            "radius_require_message_authenticator" => {
                self.radius_require_message_authenticator = match v {
                    "auto" => MessageAuthenticatorPolicy::Auto,
                    _ => match parse_bool(v) {
                        Ok(true) => MessageAuthenticatorPolicy::Yes,
                        Ok(false) => MessageAuthenticatorPolicy::No,
                        Err(_) => return Err(format!("\"{v}\": expected auto, yes or no")),
                    },
                }
            }
            "radius_dae_require_message_authenticator" => {
                self.radius_dae_require_message_authenticator = parse_bool(v)?
            }
            "radius_source_address" => self.radius_source_address = parse_ip4_opt(v)?,
            "log_format" => {
                self.log_format = match v {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err(format!("\"{v}\": expected text or json")),
                }
            }
            "radius_dae_allow" => self.radius_dae_allow = parse_ip4_list(v, 64)?,
            _ => return Err("variable has no storage (internal error)".into()),
        }
        Ok(None)
    }

    /// The value of a variable as `show running-config` prints it (strings
    /// unquoted); `set(name, get(name))` gives back the same value.
    pub fn get(&self, name: &str) -> Option<String> {
        let ip4 = |a: &Option<Ipv4Addr>| a.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string();
        let ip6 = |a: &Option<Ipv6Addr>| a.unwrap_or(Ipv6Addr::UNSPECIFIED).to_string();
        let b = |x: bool| if x { "yes" } else { "no" }.to_string();
        let p = |x: &PathBuf| x.display().to_string();
        Some(match name {
            "debug" => self.debug.to_string(),
            "log_file" => self.log_file.clone(),
            "pid_file" => self.pid_file.clone(),
            "random_device" => self.random_device.clone(),
            "hostname" => self.hostname.clone(),
            "multi_hostname" => self.multi_hostname.clone(),
            "dump_speed" => b(self.dump_speed),
            "multi_read_count" => self.multi_read_count.to_string(),
            "scheduler_fifo" => b(self.scheduler_fifo),
            "lock_pages" => b(self.lock_pages),
            "l2tp_secret" => self.l2tp_secret.clone(),
            "l2tp_mtu" => self.l2tp_mtu.to_string(),
            "ppp_restart_time" => self.ppp_restart_time.to_string(),
            "ppp_max_configure" => self.ppp_max_configure.to_string(),
            "ppp_max_failure" => self.ppp_max_failure.to_string(),
            "ppp_keepalive" => b(self.ppp_keepalive),
            "echo_timeout" => self.echo_timeout.to_string(),
            "idle_echo_timeout" => self.idle_echo_timeout.to_string(),
            "disable_sending_hello" => b(self.disable_sending_hello),
            "auth_tunnel_change_addr_src" => b(self.auth_tunnel_change_addr_src),
            "primary_dns" => ip4(&self.primary_dns),
            "secondary_dns" => ip4(&self.secondary_dns),
            "peer_address" => ip4(&self.peer_address),
            "primary_radius" => ip4(&self.primary_radius),
            "secondary_radius" => ip4(&self.secondary_radius),
            "primary_radius_port" => self.primary_radius_port.to_string(),
            "secondary_radius_port" => self.secondary_radius_port.to_string(),
            "radius_secret" => self.radius_secret.clone(),
            "radius_authtypes" => self
                .radius_authtypes
                .iter()
                .map(|a| match a {
                    AuthType::Pap => "pap",
                    AuthType::Chap => "chap",
                })
                .collect::<Vec<_>>()
                .join(","),
            "radius_accounting" => b(self.radius_accounting),
            "radius_interim" => self.radius_interim.to_string(),
            "radius_dae_port" => self.radius_dae_port.to_string(),
            "radius_bind_min" => self.radius_bind_min.to_string(),
            "radius_bind_max" => self.radius_bind_max.to_string(),
            "allow_duplicate_users" => b(self.allow_duplicate_users),
            "guest_account" => self.guest_account.join(","),
            "kill_timedout_sessions" => b(self.kill_timedout_sessions),
            "throttle_speed" => self.throttle_speed.to_string(),
            "throttle_buckets" => self.throttle_buckets.to_string(),
            "no_throttle_local_IP" => b(self.no_throttle_local_ip),
            "packet_limit" => self.packet_limit.to_string(),
            "icmp_rate" => self.icmp_rate.to_string(),
            "disable_no_spoof" => b(self.disable_no_spoof),
            "accounting_dir" => self.accounting_dir.clone(),
            "account_all_origin" => b(self.account_all_origin),
            "bind_address" => ip4(&self.bind_address),
            "bind_multi_address" => self
                .bind_multi_address
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(","),
            "iftun_address" => ip4(&self.iftun_address),
            "tundevicename" => self.tundevicename.clone(),
            "send_garp" => b(self.send_garp),
            "cli_bind_address" => ip4(&self.cli_bind_address),
            "cli_port" => self.cli_port.to_string(),
            "cluster_address" => self.cluster_address.to_string(),
            "cluster_port" => self.cluster_port.to_string(),
            "cluster_interface" => self.cluster_interface.clone(),
            "cluster_mcast_ttl" => self.cluster_mcast_ttl.to_string(),
            "cluster_hb_interval" => self.cluster_hb_interval.to_string(),
            "cluster_hb_timeout" => self.cluster_hb_timeout.to_string(),
            "cluster_master_min_adv" => self.cluster_master_min_adv.to_string(),
            "nexthop_address" => ip4(&self.nexthop_address),
            "nexthop6_address" => ip6(&self.nexthop6_address),
            "ipv6_prefix" => ip6(&self.ipv6_prefix),
            "primary_ipv6_dns" => ip6(&self.primary_ipv6_dns),
            "secondary_ipv6_dns" => ip6(&self.secondary_ipv6_dns),
            "dns6_lifetime" => self.dns6_lifetime.to_string(),
            "default_ipv6_domain_list" => self.default_ipv6_domain_list.clone(),
            "dhcp6_preferred_lifetime" => self.dhcp6_preferred_lifetime.to_string(),
            "dhcp6_valid_lifetime" => self.dhcp6_valid_lifetime.to_string(),
            "dhcp6_server_duid" => self.dhcp6_server_duid.to_string(),
            "disable_lac_func" => b(self.disable_lac_func),
            "bind_address_remotelns" => ip4(&self.bind_address_remotelns),
            "bind_portremotelns" => self.bind_portremotelns.to_string(),
            "pppoe_if_to_bind" => self.pppoe_if_to_bind.clone(),
            "pppoe_service_name" => self.pppoe_service_name.clone(),
            "pppoe_ac_name" => self.pppoe_ac_name.clone(),
            "pppoe_only_equal_svc_name" => b(self.pppoe_only_equal_svc_name),
            "ppp_secrets_file" => p(&self.ppp_secrets_file),
            "l2tp_require_auth" => b(self.l2tp_require_auth),
            "ip_pool_file" => p(&self.ip_pool_file),
            "users_file" => p(&self.users_file),
            "l2tp_receive_window" => self.l2tp_receive_window.to_string(),
            "max_tunnels" => self.max_tunnels.to_string(),
            "max_sessions" => self.max_sessions.to_string(),
            "data_workers" => self.data_workers.to_string(),
            "data_batch" => self.data_batch.to_string(),
            "data_offload" => b(self.data_offload),
            "data_coalesce_usecs" => self.data_coalesce_usecs.to_string(),
            "accounting_dir_interval" => self.accounting_dir_interval.to_string(),
            "metrics_address" => super::metrics_address::show(&self.metrics_address),
            "nsctl_bind_address" => self.nsctl_bind_address.to_string(),
            "nsctl_allow" => self
                .nsctl_allow
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(","),
            "radius_require_message_authenticator" => {
                self.radius_require_message_authenticator.to_string()
            }
            "radius_dae_require_message_authenticator" => {
                b(self.radius_dae_require_message_authenticator)
            }
            "radius_source_address" => ip4(&self.radius_source_address),
            "log_format" => self.log_format.to_string(),
            "radius_dae_allow" => self
                .radius_dae_allow
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(","),
            _ => return None,
        })
    }

    /// The `set` lines of `show running-config` / `write memory`, strings
    /// quoted like l2tpns prints them.
    pub fn running_config(&self) -> Vec<String> {
        VARS.iter()
            .filter_map(|v| {
                let value = self.get(v.name)?;
                Some(if v.ty == vars::VarType::String {
                    // Single quotes when the value holds a double quote.
                    let q = if value.contains('"') { '\'' } else { '"' };
                    format!("set {} {q}{}{q}", v.name, value)
                } else {
                    format!("set {} {}", v.name, value)
                })
            })
            .collect()
    }

    /// Variables the file (or `set`) gave explicitly.
    pub fn explicitly_set(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.explicitly_set.keys().copied()
    }

    /// Variables set explicitly whose feature the daemon does not have yet.
    pub fn not_implemented_set(&self) -> Vec<&'static str> {
        VARS.iter()
            .map(|v| v.name)
            .filter(|n| self.explicitly_set.contains_key(n) && !IMPLEMENTED.contains(n))
            .collect()
    }

    /// Everything in the file the daemon accepts but does not act on yet:
    /// `(line, what)`, variables and statements in file order. Logged once
    /// at start-up so an operator knows what is silently without effect.
    pub fn not_implemented(&self) -> Vec<(usize, String)> {
        let mut v: Vec<(usize, String)> = self
            .not_implemented_set()
            .into_iter()
            .map(|n| {
                (
                    self.explicitly_set.get(n).copied().unwrap_or(0),
                    format!("set {n}"),
                )
            })
            .collect();
        v.extend(
            self.statements
                .iter()
                .filter(|l| !l.statement.is_implemented())
                .map(|l| (l.line, l.statement.keyword().to_string())),
        );
        v.sort();
        v
    }

    /// Where logs go, from `log_file`.
    pub fn log_target(&self) -> LogTarget {
        if self.log_file.is_empty() {
            LogTarget::Stderr
        } else if let Some(fac) = self.log_file.strip_prefix("syslog:") {
            let fac = if SYSLOG_FACILITIES.contains(&fac) {
                fac
            } else {
                "daemon"
            };
            LogTarget::Syslog(fac.to_string())
        } else {
            LogTarget::File(self.resolve_lossy(&self.log_file))
        }
    }

    /// The RADIUS accounting port of a server (authentication port + 1).
    pub fn radius_acct_port(auth_port: u16) -> u16 {
        auth_port.wrapping_add(1)
    }

    fn resolve(&self, v: &str) -> Result<PathBuf, String> {
        if v.is_empty() {
            return Err("file name must not be empty".into());
        }
        Ok(self.resolve_lossy(v))
    }

    fn resolve_lossy(&self, v: &str) -> PathBuf {
        let p = Path::new(v);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.config_dir.join(p)
        }
    }

    /// Cross-variable rules applied after the whole file (l2tpns `update_config`).
    fn finish(&mut self, path: &Path) -> Result<(), String> {
        let (min, max) = (self.radius_bind_min, self.radius_bind_max);
        let set = min != 0 || max != 0;
        if set && (min == 0 || max == 0 || max < min || max - min < 63) {
            return Err(format!(
                "radius_bind_min {min} / radius_bind_max {max}: the range must be at least 64 ports wide (or leave both unset)"
            ));
        }
        let floor = self
            .cluster_hb_interval
            .saturating_mul(4)
            .saturating_add(11);
        if self.cluster_hb_timeout < floor {
            self.warnings.push(ConfigWarning {
                file: path.to_path_buf(),
                line: 0,
                message: format!(
                    "cluster_hb_timeout {} raised to {floor} (4 x cluster_hb_interval + 11), as l2tpns does",
                    self.cluster_hb_timeout
                ),
            });
            self.cluster_hb_timeout = floor;
        }
        Ok(())
    }
}

/// How log lines are written (`log_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// l2tpns-like text lines.
    Text,
    /// One JSON object per line (journald, log shippers).
    Json,
}

impl std::fmt::Display for LogFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

/// Where the daemon's log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    Stderr,
    File(PathBuf),
    Syslog(String),
}

const SYSLOG_FACILITIES: &[&str] = &[
    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "security",
    "syslog", "user", "uucp", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
    "local7",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Config,
    Bgp,
    Acl { kind: AclKind, name: String },
}

enum Flow {
    Continue,
    Quit,
    Warn(String),
    Statement(Statement),
}

fn neighbour(rest: &[&str]) -> Result<Flow, String> {
    let (peer, cmd) = match rest {
        [peer, "remote-as", asn] => (
            peer,
            NeighbourCmd::RemoteAs(
                parse_ranged(asn, 0, 65535).map_err(|e| format!("invalid autonomous system number: {e}"))? as u16,
            ),
        ),
        [peer, "timers", k, h] => (
            peer,
            NeighbourCmd::Timers {
                keepalive: parse_ranged(k, 1, 65535).map_err(|e| format!("invalid keepalive time: {e}"))?
                    as u16,
                hold: parse_ranged(h, 3, 65535).map_err(|e| format!("invalid hold time: {e}"))? as u16,
            },
        ),
        [peer, "update-source", a] => (peer, NeighbourCmd::UpdateSource(parse_ip4(a)?)),
        _ => {
            return Err(
                "expected `neighbour PEER remote-as AS`, `neighbour PEER timers KEEPALIVE HOLD` or `neighbour PEER update-source A.B.C.D`"
                    .into(),
            )
        }
    };
    Ok(Flow::Statement(Statement::Neighbour {
        peer: (*peer).to_string(),
        cmd,
    }))
}

fn check_acl_name(name: &str) -> Result<(), String> {
    // l2tpns: at most 31 characters of [A-Za-z0-9_-].
    let ok = !name.is_empty()
        && name.len() <= 31
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid access-list name \"{name}\" (1-31 of A-Z a-z 0-9 _ -)"
        ))
    }
}

fn check_log_file(v: &str) -> Option<String> {
    let fac = v.strip_prefix("syslog:")?;
    if SYSLOG_FACILITIES.contains(&fac) {
        None
    } else {
        Some(format!(
            "unknown syslog facility \"{fac}\", using daemon (as l2tpns does)"
        ))
    }
}

/// A decimal integer in `min..=max`. l2tpns uses `atoi` (so "12abc" is 12);
/// we refuse anything that is not a plain number.
pub(crate) fn parse_ranged(v: &str, min: u64, max: u64) -> Result<u64, String> {
    let digits = v.strip_prefix('+').unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        if v.starts_with('-') && v.len() > 1 && v[1..].bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("\"{v}\" must not be negative (range {min}..{max})"));
        }
        return Err(format!("\"{v}\" is not a number"));
    }
    match digits.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("{v} is out of range {min}..{max}")),
    }
}

fn parse_u32(v: &str) -> Result<u32, String> {
    parse_ranged(v, 0, u32::MAX as u64).map(|n| n as u32)
}

fn parse_port(v: &str) -> Result<u16, String> {
    parse_ranged(v, 1, 65535)
        .map(|n| n as u16)
        .map_err(|e| format!("invalid port: {e}"))
}

fn parse_port_or_zero(v: &str) -> Result<u16, String> {
    parse_ranged(v, 0, 65535)
        .map(|n| n as u16)
        .map_err(|e| format!("invalid port: {e}"))
}

/// 0 means the default, as in l2tpns's `update_config`.
fn parse_radius_port(v: &str) -> Result<u16, String> {
    match parse_port_or_zero(v)? {
        0 => Ok(1812),
        p => Ok(p),
    }
}

/// yes/no/true/false/on/off/1/0, any case. l2tpns takes anything that is
/// not yes/true/1 as "no"; we refuse typos instead.
pub(crate) fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(format!("\"{v}\" is not a boolean (yes/no/true/false)")),
    }
}

fn parse_ip4(v: &str) -> Result<Ipv4Addr, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("\"{v}\" is not an IPv4 address (a.b.c.d)"))
}

fn parse_ip4_opt(v: &str) -> Result<Option<Ipv4Addr>, String> {
    let a = parse_ip4(v)?;
    Ok(if a.is_unspecified() { None } else { Some(a) })
}

fn parse_ip6_opt(v: &str) -> Result<Option<Ipv6Addr>, String> {
    let a: Ipv6Addr = v
        .trim()
        .parse()
        .map_err(|_| format!("\"{v}\" is not an IPv6 address"))?;
    Ok(if a.is_unspecified() { None } else { Some(a) })
}

fn parse_ip4_list(v: &str, max: usize) -> Result<Vec<Ipv4Addr>, String> {
    let list = v
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(parse_ip4)
        .collect::<Result<Vec<_>, _>>()?;
    if list.len() > max {
        return Err(format!("at most {max} addresses"));
    }
    Ok(list)
}

fn parse_authtypes(v: &str) -> Result<Vec<AuthType>, String> {
    let mut out = Vec::new();
    for tok in v
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
    {
        let t = match tok.to_ascii_lowercase().as_str() {
            "pap" => AuthType::Pap,
            "chap" => AuthType::Chap,
            _ => {
                return Err(format!(
                    "unknown authentication type \"{tok}\" (pap or chap)"
                ))
            }
        };
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.is_empty() {
        // l2tpns: "Defaulting to PAP authentication".
        out.push(AuthType::Pap);
    }
    Ok(out)
}

fn parse_guest_accounts(v: &str) -> Result<Vec<String>, String> {
    let list: Vec<String> = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if list.len() > 10 {
        return Err("at most 10 guest accounts".into());
    }
    Ok(list)
}

fn parse_ifname(v: &str) -> Result<String, String> {
    // Linux IFNAMSIZ is 16 including the NUL.
    let ok = !v.is_empty()
        && v.len() <= 15
        && v != "."
        && v != ".."
        && !v
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0);
    if ok {
        Ok(v.into())
    } else {
        Err(format!(
            "\"{v}\" is not a valid interface name (1-15 characters, no '/', ':' or spaces)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/l2tpns/startup-config"))
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    /// Every variable's code default, from the reference tables (section 1.4),
    /// in `show running-config` form.
    const REFERENCE_DEFAULTS: &[(&str, &str)] = &[
        ("debug", "0"),
        ("log_file", ""),
        ("pid_file", ""),
        ("random_device", "/dev/urandom"),
        ("l2tp_secret", ""),
        ("l2tp_mtu", "1500"),
        ("ppp_restart_time", "3"),
        ("ppp_max_configure", "10"),
        ("ppp_max_failure", "5"),
        ("ppp_keepalive", "yes"),
        ("primary_dns", "0.0.0.0"),
        ("secondary_dns", "0.0.0.0"),
        ("primary_radius", "0.0.0.0"),
        ("secondary_radius", "0.0.0.0"),
        ("primary_radius_port", "1812"),
        ("secondary_radius_port", "1812"),
        ("radius_accounting", "no"),
        ("radius_interim", "0"),
        ("radius_secret", ""),
        ("radius_authtypes", "pap"),
        ("radius_dae_port", "3799"),
        ("radius_bind_min", "0"),
        ("radius_bind_max", "0"),
        ("allow_duplicate_users", "no"),
        ("kill_timedout_sessions", "yes"),
        ("guest_account", ""),
        ("bind_address", "0.0.0.0"),
        ("peer_address", "0.0.0.0"),
        ("send_garp", "no"),
        ("throttle_speed", "28"),
        ("throttle_buckets", "6000"),
        ("accounting_dir", ""),
        ("account_all_origin", "no"),
        ("dump_speed", "no"),
        ("multi_read_count", "10"),
        ("scheduler_fifo", "no"),
        ("lock_pages", "no"),
        ("icmp_rate", "0"),
        ("packet_limit", "0"),
        ("cluster_address", "239.192.13.13"),
        ("cluster_port", "32792"),
        ("cluster_interface", "eth0"),
        ("cluster_mcast_ttl", "1"),
        ("cluster_hb_interval", "5"),
        ("cluster_hb_timeout", "150"),
        ("cluster_master_min_adv", "1"),
        ("ipv6_prefix", "::"),
        // Ours: localhost (l2tpns: every address, and open without a users file).
        ("cli_bind_address", "127.0.0.1"),
        ("cli_port", "23"),
        ("hostname", ""),
        ("nexthop_address", "0.0.0.0"),
        ("nexthop6_address", "::"),
        ("echo_timeout", "10"),
        ("idle_echo_timeout", "240"),
        ("iftun_address", "0.0.0.0"),
        ("tundevicename", "tun0"),
        ("disable_lac_func", "no"),
        ("auth_tunnel_change_addr_src", "no"),
        ("bind_address_remotelns", "0.0.0.0"),
        ("bind_portremotelns", "65432"),
        ("pppoe_if_to_bind", ""),
        ("pppoe_service_name", ""),
        ("pppoe_ac_name", "l2tpns-pppoe"),
        ("disable_sending_hello", "no"),
        ("disable_no_spoof", "no"),
        ("bind_multi_address", ""),
        ("pppoe_only_equal_svc_name", "no"),
        ("multi_hostname", ""),
        ("no_throttle_local_IP", "no"),
        ("dhcp6_preferred_lifetime", "0"),
        ("dhcp6_valid_lifetime", "0"),
        ("dhcp6_server_duid", "0"),
        ("dns6_lifetime", "1200"),
        ("primary_ipv6_dns", "::"),
        ("secondary_ipv6_dns", "::"),
        ("default_ipv6_domain_list", ""),
        ("ppp_secrets_file", "/etc/l2tpns/ppp-secrets"),
        ("l2tp_require_auth", "no"),
        ("ip_pool_file", "/etc/l2tpns/ip_pool"),
        ("users_file", "/etc/l2tpns/users"),
        ("l2tp_receive_window", "16"),
        ("max_tunnels", "65535"),
        ("max_sessions", "0"),
        ("data_workers", "0"),
        ("data_batch", "32"),
        ("data_offload", "yes"),
        ("data_coalesce_usecs", "100"),
        ("accounting_dir_interval", "300"),
        ("metrics_address", ""),
        ("nsctl_bind_address", "127.0.0.1"),
        ("nsctl_allow", ""),
        ("radius_require_message_authenticator", "auto"),
        ("radius_dae_require_message_authenticator", "no"),
        ("radius_source_address", "0.0.0.0"),
        ("radius_dae_allow", ""),
        ("log_format", "text"),
    ];

    #[test]
    fn every_default_matches_the_reference() {
        let c = Config::default();
        assert_eq!(REFERENCE_DEFAULTS.len(), VARS.len());
        for v in VARS {
            let want = REFERENCE_DEFAULTS
                .iter()
                .find(|(n, _)| *n == v.name)
                .unwrap_or_else(|| panic!("{} missing from reference table", v.name));
            assert_eq!(
                c.get(v.name).as_deref(),
                Some(want.1),
                "default of {}",
                v.name
            );
        }
        // An empty file at the standard place gives exactly the defaults.
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn every_variable_round_trips_through_get_and_set() {
        let c = Config::default();
        for v in VARS {
            let mut d = Config::default();
            let value = c.get(v.name).unwrap();
            // Empty file names are refused; skip those (defaults are never empty).
            d.set(v.name, &value)
                .unwrap_or_else(|e| panic!("{}: {e}", v.name));
            assert_eq!(d.get(v.name), Some(value), "{}", v.name);
        }
    }

    #[test]
    fn running_config_reloads_to_the_same_values() {
        let mut c = parse("set debug 4\nset l2tp_secret \"a b\"\nset radius_authtypes \"chap, pap\"\nset guest_account \"g1,g2\"\nset bind_multi_address \"10.0.0.1, 10.0.0.2\"\n").unwrap();
        c.warnings.clear();
        let text = c.running_config().join("\n");
        let mut d = parse(&text).unwrap();
        d.warnings.clear();
        for v in VARS {
            assert_eq!(c.get(v.name), d.get(v.name), "{}", v.name);
        }
    }

    #[test]
    fn message_authenticator_policy_and_log_format() {
        let c = parse("").unwrap();
        assert_eq!(
            c.radius_require_message_authenticator,
            MessageAuthenticatorPolicy::Auto
        );
        assert!(!c.radius_dae_require_message_authenticator);
        assert_eq!(c.log_format, LogFormat::Text);
        for (v, want) in [
            ("auto", MessageAuthenticatorPolicy::Auto),
            ("yes", MessageAuthenticatorPolicy::Yes),
            ("no", MessageAuthenticatorPolicy::No),
            ("true", MessageAuthenticatorPolicy::Yes),
        ] {
            let c = parse(&format!("set radius_require_message_authenticator {v}\n")).unwrap();
            assert_eq!(c.radius_require_message_authenticator, want);
        }
        assert!(err("set radius_require_message_authenticator maybe\n").contains("auto, yes or no"));
        let c = parse("set log_format \"json\"\nset radius_source_address 192.0.2.7\n").unwrap();
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.radius_source_address, Some(Ipv4Addr::new(192, 0, 2, 7)));
        assert!(err("set log_format xml\n").contains("text or json"));
    }

    #[test]
    fn not_implemented_names_file_lines() {
        let c = parse("set debug 3\nset throttle_speed 64\nload plugin \"autothrottle\"\nrouter bgp 65000\nsetforward 10.0.0.0/8 10.0.0.1 1701 s\n").unwrap();
        assert_eq!(
            c.not_implemented(),
            vec![
                (2, "set throttle_speed".to_string()),
                (4, "router bgp 65000".to_string()),
                (5, "setforward 10.0.0.0/8".to_string()),
            ]
        );
    }

    #[test]
    fn plugins_in_file_order_after_removals() {
        let c = parse("load plugin \"a\"\nload plugin \"b\"\nremove plugin \"a\"\nload plugin \"c\"\nload plugin \"b\"\n").unwrap();
        assert_eq!(Statement::plugins(&c.statements), vec!["b", "c"]);
        assert!(c.not_implemented().is_empty());
    }

    #[test]
    fn typed_values() {
        let c = parse(
            "# comment\n! other comment\n\n  set debug 3\nset l2tp_secret \"my secret\"\nset primary_dns 10.0.0.1\nset secondary_dns 0.0.0.0\nset radius_authtypes \"chap pap\"\nset send_garp TRUE\nset lock_pages 0\nset ipv6_prefix 2001:db8::\nset throttle_speed 1024\nset guest_account \"guest, test\"\nset primary_radius_port 0\n",
        )
        .unwrap();
        assert_eq!(c.debug, 3);
        assert_eq!(c.l2tp_secret, "my secret");
        assert_eq!(c.primary_dns, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(c.secondary_dns, None);
        assert_eq!(c.radius_authtypes, vec![AuthType::Chap, AuthType::Pap]);
        assert!(c.send_garp);
        assert!(!c.lock_pages);
        assert_eq!(c.ipv6_prefix, Some("2001:db8::".parse().unwrap()));
        assert_eq!(c.throttle_speed, 1024);
        assert_eq!(c.guest_account, vec!["guest", "test"]);
        assert_eq!(c.primary_radius_port, 1812);
        assert_eq!(Config::radius_acct_port(c.primary_radius_port), 1813);
    }

    #[test]
    fn mtu_is_clamped_with_a_warning() {
        let c = parse("set l2tp_mtu 9000\n").unwrap();
        assert_eq!(c.l2tp_mtu, 2600);
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0]
            .to_string()
            .starts_with("/etc/l2tpns/startup-config:1: "));
        assert_eq!(parse("set l2tp_mtu 100\n").unwrap().l2tp_mtu, 576);
    }

    #[test]
    fn error_paths_name_file_and_line() {
        let f = "/etc/l2tpns/startup-config";
        let cases: &[(&str, usize, &str)] = &[
            ("set bogus 1\n", 1, "unknown variable \"bogus\""),
            (
                "\nset nexthop 1.2.3.4\n",
                2,
                "did you mean \"nexthop_address\"",
            ),
            ("set debug x\n", 1, "not a number"),
            ("set debug 9\n", 1, "out of range"),
            ("set debug -1\n", 1, "negative"),
            ("set l2tp_mtu 1500abc\n", 1, "not a number"),
            ("set primary_dns 10.0.0.300\n", 1, "not an IPv4 address"),
            ("set ipv6_prefix 10.0.0.1\n", 1, "not an IPv6 address"),
            ("set send_garp maybe\n", 1, "not a boolean"),
            ("set radius_dae_port 70000\n", 1, "invalid port"),
            ("set cluster_port 0\n", 1, "invalid port"),
            ("set l2tp_secret \"abc\n", 1, "unterminated quote"),
            ("set debug\n", 1, "takes a variable and one value"),
            (
                "set radius_authtypes \"pap,mschap\"\n",
                1,
                "unknown authentication type",
            ),
            ("set tundevicename \"a/b\"\n", 1, "interface name"),
            (
                "set tundevicename averyveryverylongname\n",
                1,
                "interface name",
            ),
            (
                "set bind_multi_address \"1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5\"\n",
                1,
                "at most 4",
            ),
            ("set ppp_secrets_file \"\"\n", 1, "must not be empty"),
            ("frobnicate\n", 1, "unknown command"),
            ("load plugin\n", 1, "load plugin NAME"),
            ("router bgp 0\n", 1, "autonomous system"),
            (
                "router bgp 65000\n neighbour 10.0.0.1 timers 10 1\n",
                2,
                "hold time",
            ),
            (
                "router bgp 65000\n neighbour 10.0.0.1 frob\n",
                2,
                "expected `neighbour",
            ),
            (
                "neighbour 10.0.0.1 remote-as 1\n",
                1,
                "outside `router bgp`",
            ),
            ("permit ip any any\n", 1, "outside `ip access-list`"),
            (
                "ip access-list sideways foo\n",
                1,
                "invalid access-list type",
            ),
            (
                "ip access-list extended bad.name\n",
                1,
                "invalid access-list name",
            ),
            (
                "ip access-list extended x\n permit icmp any any\n",
                2,
                "invalid protocol",
            ),
            (
                "setforward /x@y 1.2.3.4 1701\n",
                1,
                "setforward MASK IP PORT SECRET",
            ),
            ("setforward /x@y 1.2.3.4 0 s\n", 1, "out of range"),
        ];
        for (text, line, needle) in cases {
            let e = err(text);
            let prefix = format!("{f}:{line}: ");
            assert!(e.starts_with(&prefix), "{text:?}: {e}");
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn radius_bind_range_must_be_wide_enough() {
        assert!(err("set radius_bind_min 2000\nset radius_bind_max 2010\n").contains("at least 64"));
        let c = parse("set radius_bind_min 2000\nset radius_bind_max 2063\n").unwrap();
        assert_eq!((c.radius_bind_min, c.radius_bind_max), (2000, 2063));
    }

    #[test]
    fn removed_variables_are_accepted_with_a_warning() {
        let c = parse("set save_state yes\nset setuid 1000\n").unwrap();
        assert_eq!(c.warnings.len(), 2);
        assert!(c.warnings[1].message.contains("setuid"));
    }

    #[test]
    fn statements() {
        let c = parse(
            "load plugin \"sessionctl\"\nremove plugin garden\nrouter bgp 65001\n neighbour 10.0.0.2 remote-as 65002\n neighbour 10.0.0.2 timers 10 30\n neighbour 10.0.0.2 update-source 10.0.0.1\n no neighbour 10.0.0.3\nip access-list extended web\n permit tcp any any eq 80\n deny ip any any\nset debug 2\nip access-list standard lan\n permit 192.168.0.0 0.0.255.255\nno ip access-list old\nsetforward /isp@example.com 192.0.2.7 1701 s3cret\n",
        )
        .unwrap();
        let s: Vec<&Statement> = c.statements.iter().map(|l| &l.statement).collect();
        assert_eq!(s.len(), 14);
        assert_eq!(*s[0], Statement::LoadPlugin("sessionctl".into()));
        assert_eq!(*s[1], Statement::RemovePlugin("garden".into()));
        assert_eq!(*s[2], Statement::RouterBgp { asn: 65001 });
        assert_eq!(
            *s[4],
            Statement::Neighbour {
                peer: "10.0.0.2".into(),
                cmd: NeighbourCmd::Timers {
                    keepalive: 10,
                    hold: 30
                }
            }
        );
        assert_eq!(
            *s[6],
            Statement::NoNeighbour {
                peer: "10.0.0.3".into()
            }
        );
        match s[8] {
            Statement::AclRule { list, rule, .. } => {
                assert_eq!(list, "web");
                assert_eq!(rule.dst_ports, acl::PortMatch::Eq(80));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(c.debug, 2, "set after an access-list leaves the sub-mode");
        assert_eq!(c.statements[8].line, 9);
        assert_eq!(
            *s[13],
            Statement::SetForward {
                mask: "/isp@example.com".into(),
                ip: Ipv4Addr::new(192, 0, 2, 7),
                port: 1701,
                secret: "s3cret".into()
            }
        );
    }

    #[test]
    fn write_memory_output_loads() {
        // What l2tpns's `write memory` writes: leading-space rules, quoted strings.
        let text = "# Current configuration:\nset debug 3\nset log_file \"\"\nset primary_dns 0.0.0.0\nset radius_authtypes \"pap\"\n# Plugins\nload plugin \"sessionctl\"\n# BGP\nrouter bgp 65000\n neighbour 10.1.1.1 remote-as 65001\n# Filters\nip access-list extended x\n permit tcp any any established\n# end\n";
        let c = parse(text).unwrap();
        assert_eq!(c.statements.len(), 5);
    }

    #[test]
    fn file_paths_are_relative_to_the_config_dir() {
        let c = Config::parse(
            "set ppp_secrets_file \"ppp-secrets\"\nset users_file /abs/users\n",
            Path::new("etc/startup-config"),
        )
        .unwrap();
        assert_eq!(c.ppp_secrets_file, PathBuf::from("etc/ppp-secrets"));
        assert_eq!(c.ip_pool_file, PathBuf::from("etc/ip_pool"));
        assert_eq!(c.users_file, PathBuf::from("/abs/users"));
        let c = Config::parse("", Path::new("startup-config")).unwrap();
        assert_eq!(c.ip_pool_file, PathBuf::from("./ip_pool"));
    }

    #[test]
    fn not_implemented_set_lists_only_explicit_unimplemented() {
        let c = parse(
            "set debug 3\nset radius_accounting yes\nset send_garp no\nset throttle_speed 28\n",
        )
        .unwrap();
        assert_eq!(c.not_implemented_set(), vec!["send_garp", "throttle_speed"]);
        assert!(Config::default().not_implemented_set().is_empty());
        for name in IMPLEMENTED {
            assert!(vars::find(name).is_some(), "{name}");
        }
    }

    #[test]
    fn log_targets() {
        let mut c = Config::default();
        assert_eq!(c.log_target(), LogTarget::Stderr);
        c.set("log_file", "syslog:local5").unwrap();
        assert_eq!(c.log_target(), LogTarget::Syslog("local5".into()));
        c.set("log_file", "/var/log/l2tpns").unwrap();
        assert_eq!(c.log_target(), LogTarget::File("/var/log/l2tpns".into()));
        let c = parse("set log_file \"syslog:nope\"\n").unwrap();
        assert_eq!(c.warnings.len(), 1);
        assert_eq!(c.log_target(), LogTarget::Syslog("daemon".into()));
    }

    #[test]
    fn quit_stops_reading() {
        let c = parse("set debug 1\nquit\nset bogus 1\n").unwrap();
        assert_eq!(c.debug, 1);
    }

    #[test]
    fn set_leaves_value_unchanged_on_error() {
        let mut c = Config::default();
        assert!(c.set("l2tp_mtu", "abc").is_err());
        assert_eq!(c.l2tp_mtu, 1500);
        assert!(c.set("nope", "1").is_err());
    }
}
