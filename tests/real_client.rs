//! Real PPP clients: xl2tpd + pppd on a real Linux kernel (the QEMU VM of
//! tests/peer) bring up 20 PAP and 20 CHAP sessions against the daemon
//! and ping through each (contrib/test-real-client.sh does the work); with
//! save_state, their sessions survive a restart of the daemon; a refused
//! real client comes up in the walled garden and, let out and throttled,
//! holds the rate both ways; and on the kernel fast path (`data_path bpf`)
//! the programs carry the real clients' pings both ways, tshark clean.

mod common;

/// One VM at a time: under TCG two would share two cores and time out.
static VM: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(mode: &[&str]) {
    let _one_at_a_time = VM.lock().unwrap_or_else(|e| e.into_inner());
    let root = env!("CARGO_MANIFEST_DIR");
    let peer = std::path::Path::new(root).join("tests/peer/lac-vm.sh");
    assert!(
        peer.exists(),
        "the real-client harness {} is missing",
        peer.display()
    );
    let out = std::process::Command::new("bash")
        .arg(format!("{root}/contrib/test-real-client.sh"))
        .args(mode)
        .env("L2TPNS_BIN", common::DAEMON)
        .output()
        .expect("run contrib/test-real-client.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("REAL-CLIENT PASS"),
        "real-client test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if mode == ["--restart"] {
        assert!(stdout.contains("SUMMARY sessions=4 up=4"), "{stdout}");
        assert!(
            stdout.contains("after_ok=4 renegotiation_packets=0"),
            "{stdout}"
        );
    } else if mode == ["--policy"] {
        for line in [
            "PROBE phase=before kind=ping target=10.250.0.2 result=fail",
            "PROBE phase=before kind=http target=10.250.0.2:80 result=ok detail=PORTAL",
            "PROBE phase=before kind=dns target=10.200.0.53:portal.test result=ok",
            "PROBE phase=after kind=ping target=10.250.0.2 result=ok",
            "acct_starts_while_gardened=0 acct_starts_after_ungarden=1",
            "THROTTLE reverse=0 kbps=2000",
            "THROTTLE reverse=1 kbps=2000",
            "THROTTLE reverse=0 kbps=50000",
            "THROTTLE reverse=1 kbps=50000",
        ] {
            assert!(stdout.contains(line), "{line} missing:\n{stdout}");
        }
    } else {
        assert!(stdout.contains("SUMMARY sessions=20 up=20"), "{stdout}");
        if mode == ["--fast-path"] {
            assert!(stdout.contains("FASTPATH up_packets="), "{stdout}");
        }
    }
}

#[test]
fn xl2tpd_and_pppd_in_a_vm_bring_up_pap_and_chap_sessions() {
    if common::skip_privileged() {
        return;
    }
    run(&[]);
}

#[test]
fn xl2tpd_and_pppd_in_a_vm_authenticate_through_freeradius() {
    if common::skip_privileged() {
        return;
    }
    run(&["--radius"]);
}

/// save_state: pppd's sessions outlive a SIGTERM and a new start of the
/// daemon, and ping again with no PPP packet negotiated in pppd's log.
#[test]
fn xl2tpd_and_pppd_sessions_survive_a_restart() {
    if common::skip_privileged() {
        return;
    }
    run(&["--restart"]);
}

/// The walled garden and the throttle with a real client: FreeRADIUS
/// refuses the CHAP login, the garden plugin lets it in gardened; pppd's
/// host reaches the garden's host, its DNS and the portal (port 80), not a
/// host outside; Debian's nsctl ungardens it (an Acct-Start follows) and
/// throttles it at 2,000 then 50,000 kbit/s: iperf3 holds each rate up and
/// down for 10 s.
#[test]
fn xl2tpd_and_pppd_in_the_walled_garden_and_throttled() {
    if common::skip_privileged() {
        return;
    }
    run(&["--policy"]);
}

/// The kernel fast path with real clients: 20 PAP sessions whose pings
/// both ways the programs carry (the status line's fast-path counts), the
/// capture clean.
#[test]
fn xl2tpd_and_pppd_sessions_through_the_kernel_fast_path() {
    if common::skip_privileged() {
        return;
    }
    run(&["--fast-path"]);
}
