//! Loss inside the LNS is counted by cause. With the daemon stopped
//! (SIGSTOP), more traffic than its queues hold arrives from both sides:
//! the kernel drops the excess at the L2TP socket's receive buffer
//! (upstream) and at the TUN's queue (downstream), and after SIGCONT the
//! status line reports both counters, and the data plane goes on working.

mod common;

use common::*;

#[test]
fn kernel_drops_are_counted_per_cause_and_the_daemon_recovers() {
    if skip_privileged() {
        return;
    }
    let mut lns = Lns::start(&LnsSetup {
        users: 2,
        // The workers' socket and TUN queues overflow: the userspace path
        // (the fast path would forward the downstream blast itself).
        extra_config: "set data_workers 1\nset data_path userspace\n".into(),
        ..LnsSetup::default()
    });
    let mut held = lns.loadgen_holding(&[
        "--sessions",
        "1",
        "--password",
        "secret-pw",
        "--pings",
        "1",
        "--hold",
        "60",
    ]);
    let before = lns.status();
    assert_eq!(
        status_field(&before, "udp_receive_buffer_full"),
        "0",
        "{before}"
    );
    assert_eq!(status_field(&before, "tun_queue_full"), "0", "{before}");

    lns.signal(libc::SIGSTOP);
    // 1 s flat out at each queue: far more than 8 MiB of socket buffer and
    // the TUN's 10,000-packet queue.
    let blast = |to: &str, port: &str| {
        run_ok(lns.ns.command(LOADGEN).args([
            "source",
            "--to",
            to,
            "--sessions",
            "1",
            "--port",
            port,
            "--flat-out",
            "--size",
            "1400",
            "--duration",
            "1",
        ]))
    };
    blast("127.0.0.1/32", "1701");
    blast("10.100.0.0/20", "9000");
    lns.signal(libc::SIGCONT);

    let after = lns.status();
    let n = |f: &str| status_field(&after, f).parse::<u64>().unwrap_or(0);
    assert!(n("udp_receive_buffer_full") > 0, "{after}");
    assert!(n("tun_queue_full") > 0, "{after}");

    // Still forwarding: a fresh session logs in and pings.
    let r = lns.loadgen(&[
        "--sessions",
        "1",
        "--first-index",
        "2",
        "--password",
        "secret-pw",
        "--pings",
        "3",
    ]);
    r.assert_pass();
    assert_eq!(r.field("pings_received"), "3", "{}", r.stdout);
    // SAFETY: our own child, by PID.
    unsafe { libc::kill(held.id() as libc::pid_t, libc::SIGTERM) };
    let _ = held.wait();
}
