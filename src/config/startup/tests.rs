//! Tests of the startup-config parser: defaults against l2tpns's
//! documented ones (the one place that repeats them, as an independent
//! check of the table), round trips through `get`/`set` and
//! `show running-config`, typed values, warnings and errors with file and
//! line, and the other statements.

use std::net::Ipv4Addr;

use super::*;
use crate::config::acl;

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
    ("max_tunnels_per_source", "256"),
    ("sccrq_rate_per_source", "20"),
    ("sccrq_refusal_rate_per_source", "10"),
    ("data_workers", "0"),
    ("data_batch", "32"),
    ("data_offload", "yes"),
    ("data_coalesce_usecs", "250"),
    ("data_path", "userspace"),
    ("bpf_interfaces", ""),
    ("accounting_dir_interval", "300"),
    ("metrics_address", ""),
    ("nsctl_bind_address", "127.0.0.1"),
    ("nsctl_allow", ""),
    ("radius_require_message_authenticator", "auto"),
    ("radius_dae_require_message_authenticator", "no"),
    ("radius_source_address", "0.0.0.0"),
    ("radius_dae_allow", ""),
    ("log_format", "text"),
    ("throttle_filter_id", "no"),
    ("save_state", "no"),
    ("state_file", "/var/lib/l2tpns/state"),
    ("session_hook", ""),
    ("session_hook_timeout", "10"),
    ("session_hook_max_running", "32"),
    ("garden_redirect", ""),
    ("garden_icmp_rate", "100"),
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
    let c = parse("set debug 3\nset send_garp no\nload plugin \"autothrottle\"\nrouter bgp 65000\nsetforward 10.0.0.0/8 10.0.0.1 1701 s\n").unwrap();
    assert_eq!(
        c.not_implemented(),
        vec![
            (2, "set send_garp".to_string()),
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
    let c = parse("set setuid 1000\n").unwrap();
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].message.contains("setuid"));
    // save_state was removed in l2tpns 2.1.0; here it is a variable again.
    let c = parse("set save_state yes\n").unwrap();
    assert!(c.warnings.is_empty() && c.save_state);
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
fn session_hook_is_off_unset_and_relative_to_the_config_dir() {
    let dir = Path::new("etc/startup-config");
    assert_eq!(Config::parse("", dir).unwrap().session_hook, None);
    let c = Config::parse("set session_hook \"hooks/session\"\n", dir).unwrap();
    assert_eq!(c.session_hook, Some(PathBuf::from("etc/hooks/session")));
    assert_eq!(c.get("session_hook").as_deref(), Some("etc/hooks/session"));
    let c = Config::parse("set session_hook /usr/local/sbin/hook\n", dir).unwrap();
    assert_eq!(c.session_hook, Some(PathBuf::from("/usr/local/sbin/hook")));
    let c = Config::parse("set session_hook /x\nset session_hook \"\"\n", dir).unwrap();
    assert_eq!(c.session_hook, None, "\"\" turns it off again");
    assert!(Config::parse("set session_hook_timeout 0\n", dir).is_err());
    assert!(Config::parse("set session_hook_max_running 0\n", dir).is_err());
}

#[test]
fn garden_redirect_is_an_address_and_port() {
    let dir = Path::new("/etc/l2tpns");
    let c = Config::parse("set garden_redirect 192.0.2.80:8080\n", dir).unwrap();
    assert_eq!(c.garden_redirect, Some("192.0.2.80:8080".parse().unwrap()));
    assert_eq!(c.get("garden_redirect").as_deref(), Some("192.0.2.80:8080"));
    for bad in ["192.0.2.80", "192.0.2.80:0", "0.0.0.0:80", "portal:80"] {
        assert!(
            Config::parse(&format!("set garden_redirect {bad}\n"), dir).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn not_implemented_set_lists_only_explicit_unimplemented() {
    let c =
        parse("set debug 3\nset radius_accounting yes\nset send_garp no\nset throttle_speed 28\nset cluster_port 32792\n")
            .unwrap();
    assert_eq!(c.not_implemented_set(), vec!["send_garp", "cluster_port"]);
    assert!(Config::default().not_implemented_set().is_empty());
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
