//! Sessions survive a restart (save_state): with sessions up and pings
//! flowing both ways through them, SIGTERM, then a fresh start of the same
//! binary on the same files. The load generator is the LAC and the PPP
//! clients; it must see every session carry on, with no LCP, IPCP or
//! authentication packet and no L2TP teardown, and it never sends a new
//! SCCRQ or ICRQ (it cannot redial). Accounting carries on under the same
//! Acct-Session-Id with no new Start, with a real FreeRADIUS.

mod common;

use std::time::{Duration, Instant};

use common::radius::RadiusSetup;
use common::*;

fn log_field(line: &str, name: &str) -> String {
    status_field(line, name)
}

fn restart_config() -> String {
    "set save_state yes\nset state_file \"state/l2tpns.state\"\n".into()
}

#[test]
fn a_thousand_sessions_survive_sigterm_and_a_fresh_start() {
    if skip_privileged() {
        return;
    }
    let mut lns = Lns::start(&LnsSetup {
        users: 1000,
        extra_config: restart_config(),
        ..LnsSetup::default()
    });
    let child = lns.loadgen_holding(&[
        "--tunnels",
        "10",
        "--sessions",
        "1000",
        "--auth",
        "pap",
        "--password",
        "secret-pw",
        "--concurrency",
        "200",
        "--hold",
        "25",
        "--hold-ping-rate",
        "500",
    ]);
    // Pings have been flowing for a moment; then the restart.
    std::thread::sleep(Duration::from_secs(3));
    let t0 = Instant::now();
    let status = lns.terminate_and_restart(2);
    let restart_ms = t0.elapsed().as_millis();
    assert!(
        status.success(),
        "SIGTERM with save_state exits 0: {status}"
    );
    let first_log = std::fs::read_to_string(lns.files().join("lns.log")).unwrap();
    let saved = first_log
        .lines()
        .find(|l| l.contains("state saved"))
        .unwrap_or_else(|| panic!("no 'state saved' line:\n{first_log}"));
    assert_eq!(log_field(saved, "sessions"), "1000", "{saved}");
    assert_eq!(log_field(saved, "tunnels"), "10", "{saved}");
    assert!(
        !first_log.contains("closing every tunnel"),
        "a save tells no peer"
    );
    lns.wait_for_log("state restored", Duration::from_secs(10));
    let log = lns.log_text();
    let restored = log.lines().find(|l| l.contains("state restored")).unwrap();
    assert_eq!(log_field(restored, "sessions"), "1000", "{restored}");
    assert_eq!(log_field(restored, "tunnels"), "10", "{restored}");
    assert!(
        !lns.files().join("state/l2tpns.state").exists(),
        "the state file is consumed"
    );

    let out = child.wait_with_output().expect("loadgen");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("SUMMARY"))
        .unwrap_or_else(|| panic!("no SUMMARY:\n{stdout}"));
    let f = |n: &str| log_field(summary, n);
    eprintln!("restart took {restart_ms} ms; {summary}");
    assert_eq!(f("renegotiations"), "0", "{summary}");
    assert_eq!(f("lost_during_hold"), "0", "{summary}");
    assert_eq!(f("after_ok_sessions"), "1000", "{summary}");
    assert_eq!(f("teardown"), "clean", "{summary}");
    assert_eq!(f("result"), "PASS", "{summary}");
    assert!(out.status.success(), "{summary}");
    let gap: u64 = f("hold_max_gap_ms").parse().unwrap();
    assert!(
        gap < 10_000,
        "the outage is the restart, not more: {summary}"
    );
    // The new daemon saw no tunnel or call set up: no SCCRQ, no ICRQ.
    let log = lns.log_text();
    assert!(!log.contains("new tunnel"), "an SCCRQ after the restart");
    assert!(
        !log.contains("session up"),
        "a session negotiated again after the restart"
    );
}

#[test]
fn accounting_carries_on_under_the_same_session_id_with_no_new_start() {
    if skip_privileged() {
        return;
    }
    let users = (1..=3)
        .map(|i| format!("user{i} Cleartext-Password := \"secret-pw\"\n"))
        .collect::<String>();
    let mut lns = Lns::start(&LnsSetup {
        users: 3,
        extra_config: format!(
            "{}set primary_radius 127.0.0.1\nset primary_radius_port 1812\nset radius_secret \"{}\"\nset radius_accounting yes\n",
            restart_config(),
            common::radius::RADIUS_SECRET
        ),
        radius: vec![RadiusSetup::debian_stock(users)],
        ..LnsSetup::default()
    });
    let child = lns.loadgen_holding(&[
        "--sessions",
        "3",
        "--auth",
        "pap",
        "--password",
        "secret-pw",
        "--hold",
        "12",
        "--hold-ping-rate",
        "20",
    ]);
    let detail = |lns: &Lns| lns.radius[0].detail();
    wait_for("three Starts", Duration::from_secs(10), || {
        detail(&lns).matches("Acct-Status-Type = Start").count() == 3
    });
    std::thread::sleep(Duration::from_secs(2));
    lns.terminate_and_restart(2);
    lns.wait_for_log("state restored", Duration::from_secs(10));
    let out = child.wait_with_output().expect("loadgen");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    wait_for("three Stops", Duration::from_secs(15), || {
        detail(&lns).matches("Acct-Status-Type = Stop").count() == 3
    });
    let d = detail(&lns);
    assert_eq!(d.matches("Acct-Status-Type = Start").count(), 3, "{d}");
    assert_eq!(
        d.matches("Accounting-On").count(),
        1,
        "only the first start says Accounting-On:\n{d}"
    );
    // Every Stop names a session id that a Start named, and carries the
    // octets of the whole session: more than the pings after the restart.
    let ids = |status: &str| -> Vec<String> {
        d.split("\n\n")
            .filter(|r| r.contains(&format!("Acct-Status-Type = {status}")))
            .filter_map(|r| {
                r.lines()
                    .find(|l| l.trim_start().starts_with("Acct-Session-Id = "))
                    .map(|l| l.split('"').nth(1).unwrap_or("").to_string())
            })
            .collect()
    };
    let mut starts = ids("Start");
    let mut stops = ids("Stop");
    starts.sort();
    stops.sort();
    assert_eq!(starts.len(), 3, "{d}");
    assert_eq!(starts, stops, "{d}");
    for r in d
        .split("\n\n")
        .filter(|r| r.contains("Acct-Status-Type = Stop"))
    {
        let time: u64 = r
            .lines()
            .find_map(|l| l.trim().strip_prefix("Acct-Session-Time = "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        assert!(time >= 12, "Acct-Session-Time spans the restart: {r}");
    }
}
