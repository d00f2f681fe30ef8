//! Several data-plane workers (`set data_workers`): each with its own TUN
//! queue and SO_REUSEPORT socket. Every session must pass traffic both ways
//! (ICMP echo to the LNS address, answered by the kernel through whichever
//! TUN queue it picks) and, after teardown, everything is free again.

mod common;

use common::*;

fn workers_pass_traffic_for_every_session(extra_config: &str, log_mode: &str) {
    if skip_privileged() {
        return;
    }
    let mut lns = Lns::start(&LnsSetup {
        users: 500,
        extra_config: extra_config.into(),
        ..LnsSetup::default()
    });
    assert!(lns.log_text().contains(log_mode), "{}", lns.log_text());
    let free_before = status_field(&lns.status(), "free_addresses");
    let r = lns.loadgen(&[
        "--tunnels",
        "10",
        "--sessions",
        "500",
        "--auth",
        "chap",
        "--password",
        "secret-pw",
        "--pings",
        "3",
        "--timeout",
        "120",
    ]);
    r.assert_pass();
    assert_eq!(r.field("up"), "500", "{}", r.stdout);
    assert_eq!(r.field("unique_ip"), "500", "{}", r.stdout);
    assert_eq!(r.field("ping_ok_sessions"), "500", "{}", r.stdout);
    assert_eq!(r.field("pings_received"), "1500", "{}", r.stdout);
    assert_eq!(r.field("lost"), "0", "{}", r.stdout);
    let st = free_after_teardown(&mut lns, &free_before);
    assert!(
        status_field(&st, "up_packets").parse::<u64>().unwrap_or(0) >= 1500,
        "{st}"
    );
    assert!(
        status_field(&st, "down_packets")
            .parse::<u64>()
            .unwrap_or(0)
            >= 1500,
        "{st}"
    );
}

#[test]
fn two_workers_ten_tunnels_fifty_sessions_each() {
    workers_pass_traffic_for_every_session(
        "set data_workers 2\n",
        "data plane: 2 worker thread(s)",
    );
}

/// One LAC, one tunnel: the reuseport BPF spreads its sessions over both
/// workers by (tunnel, session), and every session passes traffic.
#[test]
fn one_tunnel_s_sessions_spread_over_both_workers() {
    if skip_privileged() {
        return;
    }
    let mut lns = Lns::start(&LnsSetup {
        users: 100,
        extra_config: "set data_workers 2\n".into(),
        ..LnsSetup::default()
    });
    assert!(
        lns.log_text()
            .contains("spread over workers by tunnel and session id"),
        "{}",
        lns.log_text()
    );
    let r = lns.loadgen(&[
        "--tunnels",
        "1",
        "--sessions",
        "100",
        "--password",
        "secret-pw",
        "--pings",
        "5",
    ]);
    r.assert_pass();
    assert_eq!(r.field("pings_received"), "500", "{}", r.stdout);
    let st = lns.status();
    let per: Vec<u64> = status_field(&st, "worker_up")
        .split('/')
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    assert_eq!(per.len(), 2, "{st}");
    // 500 echo requests over 100 sessions, (tunnel + session) mod 2.
    assert!(per.iter().all(|n| *n >= 100), "{st}");
    assert!(per.iter().sum::<u64>() >= 500, "{st}");
}

/// The plain path every kernel has: bare packets on the TUN, no GSO/GRO.
#[test]
fn one_worker_without_offloads() {
    workers_pass_traffic_for_every_session(
        "set data_workers 1\nset data_offload no\n",
        "tun_offload=none udp_offload=gro=off gso=off",
    );
}

#[test]
fn two_workers_without_batching() {
    workers_pass_traffic_for_every_session(
        "set data_workers 2\nset data_batch 0\n",
        "udp=recvfrom/sendto",
    );
}
