//! Several data-plane workers (`set data_workers`): each with its own TUN
//! queue and SO_REUSEPORT socket. Every session must pass traffic both ways
//! (ICMP echo to the LNS address, answered by the kernel through whichever
//! TUN queue it picks) and, after teardown, everything is free again.

mod common;

use common::*;
use std::time::{Duration, Instant};

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
        // Which worker forwards is the point: the userspace path.
        extra_config: "set data_workers 2\nset data_path userspace\n".into(),
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

/// "a/b" per-worker counters of a status line.
fn per_worker(st: &str, name: &str) -> Vec<u64> {
    status_field(st, name)
        .split('/')
        .map(|n| n.parse().unwrap_or(0))
        .collect()
}

/// One worker per session, both ways: pings from the LNS side to a
/// subscriber (downstream, steered by the TUN program) and its replies
/// (upstream, the reuseport program) are all handled by the worker
/// (tunnel + session) mod 2, and the other worker sees none of them.
#[test]
fn each_session_is_handled_by_one_worker_in_both_directions() {
    if skip_privileged() {
        return;
    }
    let mut lns = Lns::start(&LnsSetup {
        users: 20,
        // Which worker forwards is the point: the userspace path.
        extra_config: "set data_workers 2\nset data_path userspace\n".into(),
        ..LnsSetup::default()
    });
    assert!(
        lns.log_text()
            .contains("steered to the worker of its upstream"),
        "{}",
        lns.log_text()
    );
    let mut child = lns.loadgen_holding(&[
        "--tunnels",
        "2",
        "--sessions",
        "20",
        "--password",
        "secret-pw",
        "--hold",
        "60",
    ]);
    let log = lns.log_text();
    let sessions: Vec<(u32, String)> = log
        .lines()
        .filter(|l| l.contains("session up"))
        .map(|l| {
            let n = |f: &str| status_field(l, f).parse::<u32>().unwrap_or(0);
            ((n("tunnel") + n("session")) % 2, status_field(l, "ip"))
        })
        .collect();
    assert_eq!(sessions.len(), 20, "{log}");
    // Every session: with flow-hash spreading, 20 sessions would land on
    // their owner by chance once in a million.
    for (owner, ip) in &sessions {
        let owner = *owner as usize;
        let before = lns.status();
        let ping = lns
            .ns
            .exec_ok(&["ping", "-n", "-c", "50", "-i", "0.002", "-W", "1", ip]);
        let ping = String::from_utf8_lossy(&ping.stdout).into_owned();
        let other = 1 - owner;
        // A worker adds its counts to the shared ones at the end of each
        // wake-up, after it wrote the replies: under load the status line
        // can come between the two, so wait for the counts to catch up.
        let t0 = Instant::now();
        let (after, down, up) = loop {
            let after = lns.status();
            let delta = |name: &str| -> Vec<u64> {
                let (b, a) = (per_worker(&before, name), per_worker(&after, name));
                a.iter().zip(&b).map(|(a, b)| a - b).collect()
            };
            let (down, up) = (delta("worker_down"), delta("worker_up"));
            if (down[owner] >= 50 && up[owner] >= 50) || t0.elapsed() > Duration::from_secs(5) {
                break (after, down, up);
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(
            down[owner] >= 50 && up[owner] >= 50,
            "{ip} on worker {owner}: down {down:?} up {up:?}\n{ping}\nbefore: {before}\nafter: {after}"
        );
        assert_eq!(
            (down[other], up[other]),
            (0, 0),
            "{ip}: the other worker saw its packets: down {down:?} up {up:?}"
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}
