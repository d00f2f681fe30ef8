//! Throttling in the data plane: iperf3 TCP through one session (the
//! loadgen's TUN mode) holds the rate Debian's nsctl gives it through the
//! throttlectl plugin, both ways, at 2 and 50 Mbit/s; TCP keeps at least
//! 90% of the rate as goodput; unthrottling restores full speed; the CLI
//! and accounting see the throttle.

mod common;

use common::tun_client::TunClient;
use common::*;

/// l2tpns's kbit/s as iperf3's Mbit/s (10^6 bits) of IP traffic.
fn ip_mbits(kbps: u32) -> f64 {
    f64::from(kbps) * 1024.0 / 1e6
}

/// TCP payload per IP byte of a full-size segment (1500 - 52 header bytes
/// with timestamps): the most goodput a rate of IP traffic can carry.
const PAYLOAD_SHARE: f64 = 1448.0 / 1500.0;

#[test]
fn nsctl_throttle_holds_tcp_at_the_rate_both_ways() {
    if skip_privileged() {
        return;
    }
    let lns = Lns::start(&LnsSetup {
        extra_config: "load plugin \"throttlectl\"\n".into(),
        ..LnsSetup::default()
    });
    let tc = TunClient::start(&lns, 600);
    let free = tc.iperf(&lns, false, 3);
    assert!(free.receiver_mbits > 150.0, "unthrottled: {free:?}");

    for kbps in [2_000u32, 50_000] {
        let out = debian_nsctl_ok(&lns, &["throttle", "user1", &kbps.to_string()]);
        assert!(!out.contains("rror"), "{out}");
        for reverse in [false, true] {
            let r = tc.iperf(&lns, reverse, 10);
            let ip_rate = ip_mbits(kbps);
            // Goodput at least 90% of the rate (TCP did not collapse), and
            // the IP rate it implies within 5% of the rate.
            let implied_ip = r.receiver_mbits / PAYLOAD_SHARE;
            println!(
                "{kbps} kbit/s{}: goodput {:.3} Mbit/s, IP {:.3} of {:.3}, retransmits {}",
                if reverse { " down" } else { " up" },
                r.receiver_mbits,
                implied_ip,
                ip_rate,
                r.retransmits
            );
            assert!(
                r.receiver_mbits >= 0.90 * ip_rate,
                "{kbps} kbit/s: goodput {r:?} under 90% of {ip_rate}"
            );
            assert!(
                (implied_ip - ip_rate).abs() <= 0.05 * ip_rate,
                "{kbps} kbit/s: IP rate {implied_ip:.3} vs {ip_rate:.3}: {r:?}"
            );
        }
        let (again, _) = debian_nsctl(&lns, &["throttle", "user1", &kbps.to_string()]);
        assert!(again.contains("already throttled"), "{again}");
        debian_nsctl_ok(&lns, &["unthrottle", "user1"]);
    }
    let back = tc.iperf(&lns, true, 3);
    assert!(back.receiver_mbits > 150.0, "unthrottled again: {back:?}");
    let mut lg = tc.loadgen;
    common::tun_client::kill_and_reap(&mut lg, libc::SIGTERM);
}
