//! Throttling in the data plane: iperf3 TCP through one session (the
//! loadgen's TUN mode) holds the rate Debian's nsctl gives it through the
//! throttlectl plugin, both ways, at 2 and 50 Mbit/s; TCP keeps at least
//! 90% of the rate as goodput; unthrottling restores full speed; the CLI
//! and accounting see the throttle. A CoA changes a RADIUS-given rate live,
//! in the middle of a transfer.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::radius::{radclient, RadiusSetup, RADIUS_SECRET};
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

/// Per-second receive rates (Mbit/s of 10^6 bits) of an iperf3 `-J` run.
fn interval_mbits(json: &str) -> Vec<f64> {
    // iperf3's JSON: each interval's "sum" holds "bits_per_second"; no
    // JSON crate needed for one number a line.
    let mut rates = Vec::new();
    let mut in_sum = false;
    for line in json.lines() {
        let l = line.trim();
        if l.starts_with("\"sum\":") {
            in_sum = true;
        } else if in_sum && l.starts_with("\"bits_per_second\":") {
            let v = l
                .trim_start_matches("\"bits_per_second\":")
                .trim_end_matches(',')
                .trim();
            rates.push(v.parse::<f64>().unwrap_or(0.0) / 1e6);
            in_sum = false;
        }
    }
    rates
}

#[test]
fn a_coa_changes_the_rate_in_the_middle_of_a_transfer() {
    if skip_privileged() {
        return;
    }
    let users = "user1\tCleartext-Password := \"secret-pw\"\n\tCisco-AVPair = \"throttle=2000\"\n";
    let lns = Lns::start(&LnsSetup {
        extra_config: format!(
            "set primary_radius 127.0.0.1\nset radius_secret \"{RADIUS_SECRET}\"\nload plugin \"autothrottle\"\n"
        ),
        radius: vec![RadiusSetup::debian_stock(users.into())],
        ..LnsSetup::default()
    });
    let tc = TunClient::start(&lns, 600);
    let mut server = common::tun_client::iperf_server(&lns);
    // Downstream (-R): the LNS's side sends, the session's throttle_out holds it.
    let client = tc
        .ns
        .command("timeout")
        .args(["40", "iperf3", "-c", TUN_ADDRESS, "-R", "-J", "-t", "12"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("iperf3 client");
    std::thread::sleep(Duration::from_secs(6));
    let coa = radclient(
        &lns.ns,
        3799,
        "coa",
        RADIUS_SECRET,
        "User-Name = user1\nCisco-AVPair = \"throttle=8000\"\n",
    );
    assert!(coa.contains("Received CoA-ACK"), "{coa}");
    let out = client.wait_with_output().expect("iperf3");
    common::tun_client::kill_and_reap(&mut server, libc::SIGKILL);
    let json = String::from_utf8_lossy(&out.stdout);
    let rates = interval_mbits(&json);
    println!("per-second goodput, Mbit/s: {rates:.3?}");
    assert!(rates.len() >= 12, "{json}");
    let mean = |r: &[f64]| r.iter().sum::<f64>() / r.len() as f64;
    // Seconds 1-4 at 2,000 kbit/s, 8-11 at 8,000 (the CoA came at ~6 s);
    // goodput at least 90% of the rate, never above it by more than 5%.
    for (secs, kbps) in [(&rates[1..5], 2_000u32), (&rates[8..12], 8_000)] {
        let ip_rate = ip_mbits(kbps);
        let goodput = mean(secs);
        assert!(
            goodput >= 0.90 * ip_rate && goodput / PAYLOAD_SHARE <= 1.05 * ip_rate,
            "{kbps} kbit/s: goodput {goodput:.3} Mbit/s of {ip_rate:.3}: {rates:?}"
        );
    }
    let mut lg = tc.loadgen;
    common::tun_client::kill_and_reap(&mut lg, libc::SIGTERM);
}
