//! Every startup-config variable, declared once: l2tpns 2.4.1's in its
//! `config_values[]` order (ffdn `l2tpns.c`), then ours. A row gives the
//! field, its Rust type and code default (`initdata()`), l2tpns's type, the
//! codec that reads and prints it (values.rs) and its flags:
//!
//! * `ours`: not in l2tpns;
//! * `implemented`: the daemon acts on it (else it is logged at start-up as
//!   accepted, not implemented yet);
//! * `live`: a reload (SIGHUP, CLI `set`/`reload`) applies it to new
//!   tunnels and sessions; an implemented variable without it needs a restart.
//!
//! declare.rs turns the rows into `Config`'s fields, defaults, `assign`,
//! `get` and `VARS`. Docs/CONFIGURATION.md "Adding a variable" says what
//! else a new row needs (the man page, the reference defaults test).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;

use super::values::{
    AuthType, AuthTypes, AutoYesNo, Clamped, DataPath, DataPathChoice, File, GuestAccounts, IfName,
    IfNameList, Ip, IpList, LogFile, LogFormat, MessageAuthenticatorPolicy, MetricsAddress,
    OptionalFile, OptionalIpPort, Port, PortOrZero, RadiusPort, Ranged, Text, TextOrJson, YesNo,
    U32_MAX,
};

startup_variables! {
    with_dir(dir);

    /// Log level 0-5 (critical .. packets).
    debug: u8 = 0, Int, Ranged(0, 5), implemented, live;
    /// "" = stderr; a path; or `syslog:FACILITY`.
    log_file: String = String::new(), String, LogFile, implemented, live;
    pid_file: String = String::new(), String, Text, implemented;
    /// "" = use the library PRNG.
    random_device: String = "/dev/urandom".into(), String, Text, implemented;
    l2tp_secret: String = String::new(), String, Text, implemented, live;
    /// l2tpns clamps it to 576..2600 (with a warning here).
    l2tp_mtu: u32 = 1500, Int, Clamped(576, 2600), implemented;
    ppp_restart_time: u32 = 3, Int, Ranged(1, 3600), implemented, live;
    ppp_max_configure: u32 = 10, Int, Ranged(1, 255), implemented, live;
    ppp_max_failure: u32 = 5, Int, Ranged(1, 255), implemented, live;
    ppp_keepalive: bool = true, Bool, YesNo, implemented, live;
    primary_dns: Option<Ipv4Addr> = None, Ipv4, Ip, implemented, live;
    secondary_dns: Option<Ipv4Addr> = None, Ipv4, Ip, implemented, live;
    primary_radius: Option<Ipv4Addr> = None, Ipv4, Ip, implemented;
    secondary_radius: Option<Ipv4Addr> = None, Ipv4, Ip, implemented;
    /// Authentication port; accounting is this + 1. 0 in the file means 1812.
    primary_radius_port: u16 = 1812, Short, RadiusPort, implemented;
    secondary_radius_port: u16 = 1812, Short, RadiusPort, implemented;
    radius_accounting: bool = false, Bool, YesNo, implemented, live;
    radius_interim: u32 = 0, Int, Ranged::U32, implemented, live;
    radius_secret: String = String::new(), String, Text, implemented;
    radius_authtypes: Vec<AuthType> = vec![AuthType::Pap], String, AuthTypes, implemented, live;
    radius_dae_port: u16 = 3799, Short, Port, implemented;
    /// 0 = dynamic.
    radius_bind_min: u16 = 0, Short, PortOrZero, implemented;
    radius_bind_max: u16 = 0, Short, PortOrZero, implemented;
    allow_duplicate_users: bool = false, Bool, YesNo, implemented, live;
    kill_timedout_sessions: bool = true, Bool, YesNo, implemented, live;
    guest_account: Vec<String> = Vec::new(), String, GuestAccounts, implemented, live;
    bind_address: Option<Ipv4Addr> = None, Ipv4, Ip, implemented;
    peer_address: Option<Ipv4Addr> = None, Ipv4, Ip, implemented, live;
    send_garp: bool = false, Bool, YesNo;
    /// kbit/s.
    /// kbit/s of `throttle=yes`, CLI `throttle USER` and nsctl `throttle USER`.
    throttle_speed: u64 = 28, UnsignedLong, Ranged(0, u64::MAX), implemented, live;
    /// At most this many buckets (one per throttled direction of a session).
    throttle_buckets: u32 = 6000, Int, Ranged::U32, implemented, live;
    accounting_dir: String = String::new(), String, Text, implemented, live;
    account_all_origin: bool = false, Bool, YesNo, implemented, live;
    dump_speed: bool = false, Bool, YesNo, implemented, live;
    multi_read_count: u32 = 10, Int, Ranged(1, U32_MAX);
    scheduler_fifo: bool = false, Bool, YesNo;
    lock_pages: bool = false, Bool, YesNo;
    /// Per second over all data workers; 0 = none sent.
    icmp_rate: u32 = 0, Int, Ranged::U32, implemented;
    /// Per session per 0.1 s, per data worker; 0 = no limit. New sessions.
    packet_limit: u32 = 0, Int, Ranged::U32, implemented, live;
    cluster_address: Ipv4Addr = Ipv4Addr::new(239, 192, 13, 13), Ipv4, Ip;
    cluster_port: u16 = 32792, Int, Port;
    cluster_interface: String = "eth0".into(), String, Text;
    cluster_mcast_ttl: u32 = 1, Int, Ranged(0, 255);
    /// Tenths of a second.
    cluster_hb_interval: u32 = 5, Int, Ranged(1, U32_MAX);
    /// Tenths of a second; raised to 4 x cluster_hb_interval + 11 if lower.
    cluster_hb_timeout: u32 = 150, Int, Ranged::U32;
    cluster_master_min_adv: u32 = 1, Int, Ranged::U32;
    ipv6_prefix: Option<Ipv6Addr> = None, Ipv6, Ip;
    /// Ours: localhost (l2tpns: every address, and open without a users file).
    cli_bind_address: Option<Ipv4Addr> = Some(Ipv4Addr::LOCALHOST), Ipv4, Ip, implemented;
    /// "" = the OS hostname.
    hostname: String = String::new(), String, Text, implemented, live;
    nexthop_address: Option<Ipv4Addr> = None, Ipv4, Ip;
    nexthop6_address: Option<Ipv6Addr> = None, Ipv6, Ip;
    echo_timeout: u32 = 10, Int, Ranged::U32, implemented, live;
    idle_echo_timeout: u32 = 240, Int, Ranged::U32, implemented, live;
    iftun_address: Option<Ipv4Addr> = None, Ipv4, Ip, implemented;
    tundevicename: String = "tun0".into(), String, IfName, implemented;
    disable_lac_func: bool = false, Bool, YesNo;
    auth_tunnel_change_addr_src: bool = false, Bool, YesNo;
    bind_address_remotelns: Option<Ipv4Addr> = None, Ipv4, Ip;
    bind_portremotelns: u16 = 65432, Short, Port;
    pppoe_if_to_bind: String = String::new(), String, Text;
    pppoe_service_name: String = String::new(), String, Text;
    pppoe_ac_name: String = "l2tpns-pppoe".into(), String, Text;
    disable_sending_hello: bool = false, Bool, YesNo, implemented, live;
    disable_no_spoof: bool = false, Bool, YesNo, implemented, live;
    bind_multi_address: Vec<Ipv4Addr> = Vec::new(), String, IpList(4);
    pppoe_only_equal_svc_name: bool = false, Bool, YesNo;
    multi_hostname: String = String::new(), String, Text;
    no_throttle_local_ip("no_throttle_local_IP"): bool = false, Bool, YesNo, implemented;
    /// 0 = not set.
    dhcp6_preferred_lifetime: u32 = 0, Int, Ranged::U32;
    dhcp6_valid_lifetime: u32 = 0, Int, Ranged::U32;
    dhcp6_server_duid: u32 = 0, Int, Ranged::U32;
    dns6_lifetime: u32 = 1200, Int, Ranged::U32;
    primary_ipv6_dns: Option<Ipv6Addr> = None, Ipv6, Ip;
    secondary_ipv6_dns: Option<Ipv6Addr> = None, Ipv6, Ip;
    default_ipv6_domain_list: String = String::new(), String, Text;

    // Ours.
    ppp_secrets_file: PathBuf = dir.join("ppp-secrets"), String, File, ours, implemented, live;
    l2tp_require_auth: bool = false, Bool, YesNo, ours, implemented, live;
    ip_pool_file: PathBuf = dir.join("ip_pool"), String, File, ours, implemented, live;
    users_file: PathBuf = dir.join("users"), String, File, ours, implemented, live;
    l2tp_receive_window: u16 = 16, Int, Ranged(1, 65535), ours, implemented, live;
    /// Open tunnels at most (1..65535; L2TPv2 tunnel ids are 16-bit).
    max_tunnels: u32 = 65535, Int, Ranged(1, 65535), ours, implemented;
    /// Sessions at most over all tunnels; 0 = no limit.
    max_sessions: u32 = 0, Int, Ranged::U32, ours, implemented, live;
    /// Tunnels from one source address at once; 0 = no limit.
    max_tunnels_per_source: u32 = 256, Int, Ranged(0, 65535), ours, implemented, live;
    /// New tunnels (SCCRQs) a second from one address, as many at once; 0 = no limit.
    sccrq_rate_per_source: u32 = 20, Int, Ranged(0, 65535), ours, implemented, live;
    /// Refusals (StopCCN 2/4) a second to one address, the rest unanswered; 0 = no limit.
    sccrq_refusal_rate_per_source: u32 = 10, Int, Ranged(0, 65535), ours, implemented, live;
    /// Data-plane workers (one thread, one TUN queue, one UDP socket each); 0 = one per core.
    data_workers: u32 = 0, Int, Ranged(0, 64), ours, implemented;
    /// Packets per recvmmsg/sendmmsg call in the data plane; 0 = one syscall per packet.
    data_batch: u32 = 32, Int, Ranged(0, 256), ours, implemented;
    /// TUN offloads (IFF_VNET_HDR, TSO/USO) and UDP GSO/GRO where the kernel has them.
    data_offload: bool = true, Bool, YesNo, ours, implemented;
    /// Receive moderation of the workers while traffic is dense (0: off).
    data_coalesce_usecs: u32 = 250, Int, Ranged(0, 10_000), ours, implemented;
    /// Where established sessions' IPv4 is forwarded: `userspace` (the
    /// workers), `bpf` (the kernel fast path; start-up fails without it) or
    /// `auto` (the fast path where the kernel takes it). Docs/FASTPATH.md.
    data_path: DataPath = DataPath::Userspace, String, DataPathChoice, ours, implemented;
    /// Interfaces the fast path takes LAC traffic from; empty = every
    /// Ethernet or loopback interface that is up, at start or later.
    bpf_interfaces: Vec<String> = Vec::new(), String, IfNameList, ours, implemented;
    /// Seconds between accounting_dir files (l2tpns: 300, fixed).
    accounting_dir_interval: u32 = 300, Int, Ranged(1, 86_400), ours, implemented, live;
    /// Prometheus /metrics endpoint; None = off.
    metrics_address: Option<SocketAddr> = None, String, MetricsAddress, ours, implemented;
    /// Where the nsctl port (UDP 1702) listens; l2tpns: every address.
    nsctl_bind_address: Ipv4Addr = Ipv4Addr::LOCALHOST, Ipv4, Ip, ours, implemented;
    /// Addresses besides loopback that may send nsctl requests.
    nsctl_allow: Vec<Ipv4Addr> = Vec::new(), String, IpList(64), ours, implemented;
    /// The CLI's TCP port (l2tpns: 23, fixed).
    cli_port: u16 = 23, Short, Port, ours, implemented;
    /// Which RADIUS replies must carry a valid Message-Authenticator
    /// (auto: those of a server that has once signed one).
    radius_require_message_authenticator: MessageAuthenticatorPolicy =
        MessageAuthenticatorPolicy::Auto, String, AutoYesNo, ours, implemented;
    /// Drop DAE requests without a Message-Authenticator (one present is always checked).
    radius_dae_require_message_authenticator: bool = false, Bool, YesNo, ours, implemented;
    /// Source address of RADIUS requests; unset: the kernel picks it, as in l2tpns.
    radius_source_address: Option<Ipv4Addr> = None, Ipv4, Ip, ours, implemented;
    /// Addresses allowed to send Disconnect/CoA besides the RADIUS servers.
    radius_dae_allow: Vec<Ipv4Addr> = Vec::new(), String, IpList(64), ours, implemented;
    /// Log lines as text (l2tpns's) or one JSON object each.
    log_format: LogFormat = LogFormat::Text, String, TextOrJson, ours, implemented;
    /// accel-ppp's rates in Filter-Id (`DOWN/UP`, kbit/s, K/M) throttle the session.
    throttle_filter_id: bool = false, Bool, YesNo, ours, implemented, live;
    /// SIGTERM/SIGINT write every tunnel and session to state_file and exit
    /// without telling any peer; the next start restores them. Off: TERM
    /// is a clean shutdown, as SIGQUIT (l2tpns had this until 2.1.0).
    save_state: bool = false, Bool, YesNo, ours, implemented, live;
    state_file: PathBuf = PathBuf::from("/var/lib/l2tpns/state"), String, File, ours, implemented, live;
    /// Executable run as `PATH up` when a session's network comes up and
    /// `PATH down` when it ends (Docs/HOOKS.md); unset = none.
    session_hook: Option<PathBuf> = None, String, OptionalFile, ours, implemented, live;
    /// Seconds a hook run may take; then it is killed (SIGKILL).
    session_hook_timeout: u32 = 10, Int, Ranged(1, 3600), ours, implemented, live;
    /// Hook runs at once; more wait in a bounded queue.
    session_hook_max_running: u32 = 32, Int, Ranged(1, 1024), ours, implemented, live;
    /// Walled garden: a gardened session's TCP to port 80 that the garden
    /// file does not allow goes to this portal (`IP:PORT`); "" = refused.
    garden_redirect: Option<SocketAddrV4> = None, String, OptionalIpPort, ours, implemented, live;
    /// Walled garden: ICMP administratively prohibited answers a second, over
    /// all workers (0 = none).
    garden_icmp_rate: u32 = 100, Int, Ranged::U32, ours, implemented;
}
