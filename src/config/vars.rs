//! The table of startup-config variables: every `set NAME VALUE` that
//! l2tpns 2.4.1 accepts (ffdn `l2tpns.c` `config_values[]`), plus ours.
//! The typed storage and the parsing of each value live in `startup.rs`;
//! this table drives documentation, `show running-config` and the tests.

/// Value type as l2tpns declares it (`config_values[].type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarType {
    Int,
    String,
    Ipv4,
    Ipv6,
    Short,
    Bool,
    UnsignedLong,
}

/// One startup-config variable.
#[derive(Debug, Clone, Copy)]
pub struct VarInfo {
    pub name: &'static str,
    pub ty: VarType,
    /// Only in our daemon, not in l2tpns.
    pub ours: bool,
}

const fn v(name: &'static str, ty: VarType) -> VarInfo {
    VarInfo {
        name,
        ty,
        ours: false,
    }
}

const fn ours(name: &'static str, ty: VarType) -> VarInfo {
    VarInfo {
        name,
        ty,
        ours: true,
    }
}

use VarType::*;

/// Every variable, in l2tpns's `config_values[]` order, ours last.
pub const VARS: &[VarInfo] = &[
    v("debug", Int),
    v("log_file", String),
    v("pid_file", String),
    v("random_device", String),
    v("l2tp_secret", String),
    v("l2tp_mtu", Int),
    v("ppp_restart_time", Int),
    v("ppp_max_configure", Int),
    v("ppp_max_failure", Int),
    v("ppp_keepalive", Bool),
    v("primary_dns", Ipv4),
    v("secondary_dns", Ipv4),
    v("primary_radius", Ipv4),
    v("secondary_radius", Ipv4),
    v("primary_radius_port", Short),
    v("secondary_radius_port", Short),
    v("radius_accounting", Bool),
    v("radius_interim", Int),
    v("radius_secret", String),
    v("radius_authtypes", String),
    v("radius_dae_port", Short),
    v("radius_bind_min", Short),
    v("radius_bind_max", Short),
    v("allow_duplicate_users", Bool),
    v("kill_timedout_sessions", Bool),
    v("guest_account", String),
    v("bind_address", Ipv4),
    v("peer_address", Ipv4),
    v("send_garp", Bool),
    v("throttle_speed", UnsignedLong),
    v("throttle_buckets", Int),
    v("accounting_dir", String),
    v("account_all_origin", Bool),
    v("dump_speed", Bool),
    v("multi_read_count", Int),
    v("scheduler_fifo", Bool),
    v("lock_pages", Bool),
    v("icmp_rate", Int),
    v("packet_limit", Int),
    v("cluster_address", Ipv4),
    v("cluster_port", Int),
    v("cluster_interface", String),
    v("cluster_mcast_ttl", Int),
    v("cluster_hb_interval", Int),
    v("cluster_hb_timeout", Int),
    v("cluster_master_min_adv", Int),
    v("ipv6_prefix", Ipv6),
    v("cli_bind_address", Ipv4),
    v("hostname", String),
    v("nexthop_address", Ipv4),
    v("nexthop6_address", Ipv6),
    v("echo_timeout", Int),
    v("idle_echo_timeout", Int),
    v("iftun_address", Ipv4),
    v("tundevicename", String),
    v("disable_lac_func", Bool),
    v("auth_tunnel_change_addr_src", Bool),
    v("bind_address_remotelns", Ipv4),
    v("bind_portremotelns", Short),
    v("pppoe_if_to_bind", String),
    v("pppoe_service_name", String),
    v("pppoe_ac_name", String),
    v("disable_sending_hello", Bool),
    v("disable_no_spoof", Bool),
    v("bind_multi_address", String),
    v("pppoe_only_equal_svc_name", Bool),
    v("multi_hostname", String),
    v("no_throttle_local_IP", Bool),
    v("dhcp6_preferred_lifetime", Int),
    v("dhcp6_valid_lifetime", Int),
    v("dhcp6_server_duid", Int),
    v("dns6_lifetime", Int),
    v("primary_ipv6_dns", Ipv6),
    v("secondary_ipv6_dns", Ipv6),
    v("default_ipv6_domain_list", String),
    ours("ppp_secrets_file", String),
    ours("l2tp_require_auth", Bool),
    ours("ip_pool_file", String),
    ours("users_file", String),
    ours("l2tp_receive_window", Int),
    ours("max_tunnels", Int),
    ours("max_sessions", Int),
    ours("data_workers", Int),
    ours("data_batch", Int),
    ours("data_offload", Bool),
    ours("data_coalesce_usecs", Int),
    ours("metrics_address", String),
    ours("nsctl_bind_address", Ipv4),
    ours("nsctl_allow", String),
    ours("cli_port", Short),
    ours("radius_require_message_authenticator", String),
    ours("radius_dae_require_message_authenticator", Bool),
    ours("radius_source_address", Ipv4),
    ours("radius_dae_allow", String),
    ours("log_format", String),
    ours("accounting_dir_interval", Int),
];

/// Looks a variable up by its exact name (l2tpns uses `strcmp`).
pub fn find(name: &str) -> Option<&'static VarInfo> {
    VARS.iter().find(|v| v.name == name)
}

/// Variables of older or other l2tpns trees that 2.4.1 no longer has.
/// They are accepted with a warning so a migrated file still loads.
pub const REMOVED: &[(&str, &str)] = &[
    (
        "save_state",
        "removed in l2tpns 2.1.0 (use clustering to keep sessions); ignored",
    ),
    (
        "setuid",
        "removed in l2tpns 2.2.0 (it did not work); ignored - run the daemon as the user you want",
    ),
];

/// Names that were never valid but appear commented out in Debian's sample
/// startup-config; the error message names the real variable.
pub const RENAMED: &[(&str, &str)] = &[
    ("nexthop", "nexthop_address"),
    ("nexthop6", "nexthop6_address"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        for (i, a) in VARS.iter().enumerate() {
            for b in &VARS[i + 1..] {
                assert_ne!(a.name, b.name);
            }
        }
    }

    #[test]
    fn find_is_exact() {
        assert!(find("debug").is_some());
        assert!(find("DEBUG").is_none());
        assert!(find("no_throttle_local_IP").is_some());
        assert!(find("no_throttle_local_ip").is_none());
    }
}
