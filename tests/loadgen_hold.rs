//! The load generator's view of hold (`--hold-ping-rate`), which is how an
//! LNS restart that keeps sessions is proven: echo requests at a steady
//! rate through the sessions while holding, the largest gap between two
//! replies, a last reply from every session afterwards, no PPP
//! renegotiation and no session lost. Here without a restart: everything
//! must come back, with no gap worth the name. And with the LNS killed
//! during hold: the loadgen keeps its pace against a port nobody listens
//! on (ECONNREFUSED), finishes on its own and reports the failure.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn num(r: &LoadgenResult, name: &str) -> u64 {
    r.field(name)
        .parse()
        .unwrap_or_else(|_| panic!("SUMMARY field {name}: {}", r.stdout))
}

#[test]
fn steady_hold_pings_all_come_back_without_a_gap() {
    if skip_privileged() {
        return;
    }
    let lns = Lns::start(&LnsSetup::default());
    let r = lns.loadgen(&[
        "--tunnels",
        "2",
        "--sessions",
        "4",
        "--threads",
        "2",
        "--password",
        "secret-pw",
        "--hold",
        "6",
        "--hold-ping-rate",
        "200",
    ]);
    eprintln!("{}", r.stdout);
    r.assert_pass();
    let sent = num(&r, "hold_pings_sent");
    let received = num(&r, "hold_pings_received");
    // 6 s at 200 a second.
    assert!((1100..=1250).contains(&sent), "{}", r.stdout);
    // Only the last few, on their way as hold ended, may be missing.
    assert!(received + 5 >= sent && received <= sent, "{}", r.stdout);
    assert_eq!(num(&r, "after_ok_sessions"), 4, "{}", r.stdout);
    assert_eq!(num(&r, "renegotiations"), 0, "{}", r.stdout);
    assert_eq!(num(&r, "lost_during_hold"), 0, "{}", r.stdout);
    // Each of the two threads gets a reply every 10 ms; a loaded test
    // machine may stall us a little.
    let gap = num(&r, "hold_max_gap_ms");
    assert!(gap < 500, "{}", r.stdout);
    assert!(num(&r, "hold_gap_start_ms") < 6000, "{}", r.stdout);
}

#[test]
fn lns_paused_during_hold_shows_as_the_gap() {
    if skip_privileged() {
        return;
    }
    let lns = Lns::start(&LnsSetup::default());
    let t0 = Instant::now();
    let child = lns.loadgen_holding(&[
        "--sessions",
        "2",
        "--password",
        "secret-pw",
        "--hold",
        "6",
        "--hold-ping-rate",
        "200",
    ]);
    let hold_start = t0.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    // The daemon stops answering for 2 s; what arrives meanwhile waits in
    // its socket buffer and is answered late, nothing is lost.
    lns.signal(libc::SIGSTOP);
    let paused = t0.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    lns.signal(libc::SIGCONT);
    let out = child.wait_with_output().expect("loadgen");
    let r = LoadgenResult {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::new(),
    };
    eprintln!("{}", r.stdout);
    r.assert_pass();
    let gap = num(&r, "hold_max_gap_ms");
    assert!((1800..=3000).contains(&gap), "{}", r.stdout);
    // It began when the daemon stopped (the HOLDING line came a little
    // after hold started).
    let expected = paused.saturating_sub(hold_start).as_millis() as u64;
    let start = num(&r, "hold_gap_start_ms");
    assert!(
        start + 500 >= expected && start <= expected + 500,
        "gap started at {start} ms, the daemon stopped at {expected} ms: {}",
        r.stdout
    );
    assert!(
        num(&r, "hold_pings_received") + 5 >= num(&r, "hold_pings_sent"),
        "{}",
        r.stdout
    );
    assert_eq!(num(&r, "after_ok_sessions"), 2, "{}", r.stdout);
    assert_eq!(num(&r, "renegotiations"), 0, "{}", r.stdout);
}

#[test]
fn lns_killed_during_hold_is_reported_and_the_loadgen_finishes() {
    if skip_privileged() {
        return;
    }
    let lns = Lns::start(&LnsSetup::default());
    let t0 = Instant::now();
    let child = lns.loadgen_holding(&[
        "--sessions",
        "2",
        "--password",
        "secret-pw",
        "--hold",
        "6",
        "--hold-ping-rate",
        "200",
    ]);
    std::thread::sleep(Duration::from_secs(2));
    // No state saved, nothing listening on 1701 any more: every datagram
    // comes back as ICMP port unreachable.
    lns.signal(libc::SIGKILL);
    let out = child.wait_with_output().expect("loadgen");
    let r = LoadgenResult {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::new(),
    };
    eprintln!("{}\nafter {:?}", r.stdout, t0.elapsed());
    assert_eq!(out.status.code(), Some(1), "{}", r.stdout);
    assert_eq!(r.field("result"), "FAIL", "{}", r.stdout);
    // The pace held through the refusals: 6 s at 200 a second.
    let sent = num(&r, "hold_pings_sent");
    assert!((1100..=1250).contains(&sent), "{}", r.stdout);
    let received = num(&r, "hold_pings_received");
    assert!(received > 100 && received < sent / 2, "{}", r.stdout);
    assert_eq!(num(&r, "after_ok_sessions"), 0, "{}", r.stdout);
    assert_eq!(num(&r, "up"), 2, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("FAILURE user1: no echo reply in the check after hold"),
        "{}",
        r.stdout
    );
    // Hold, the 15 s check, then the LAC's own give-up on the dead peer.
    assert!(t0.elapsed() < Duration::from_secs(120));
}
