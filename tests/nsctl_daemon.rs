//! Debian's own nsctl (package l2tpns) against the real daemon in a
//! namespace: `help`, `load_plugin sessionctl`, `drop USER`; the session
//! goes with a CDN and an accounting Stop with Admin-Reset in FreeRADIUS's
//! detail file. Also `kill`, the not-found answer and a refused source.

mod common;

use common::*;
use std::time::Duration;

use common::debian_nsctl as nsctl;

#[test]
fn debian_nsctl_loads_sessionctl_and_drops_a_user() {
    if skip_privileged() {
        return;
    }
    let mut users = String::new();
    for u in ["alice", "bob"] {
        users.push_str(&format!("{u}\tCleartext-Password := \"pw\"\n"));
    }
    let mut lns = Lns::start(&LnsSetup {
        users: 0,
        extra_config: format!(
            "set primary_radius 127.0.0.1\nset radius_secret \"{RADIUS_SECRET}\"\nset radius_accounting yes\n"
        ),
        radius: vec![RadiusSetup {
            users,
            ..RadiusSetup::default()
        }],
        ..LnsSetup::default()
    });
    // Before sessionctl is loaded, drop is nobody's.
    let (out, code) = nsctl(&lns, &["drop", "alice"]);
    assert!(out.contains("unhandled action"), "{out}");
    assert_ne!(code, 0);
    let (out, code) = nsctl(&lns, &["load_plugin", "sessionctl"]);
    assert_eq!(code, 0, "{out}");
    let (out, _) = nsctl(&lns, &["help"]);
    assert!(out.contains("drop USER|SID [REASON]"), "{out}");
    assert!(out.contains("kill USER|SID [REASON]"), "{out}");

    let alice = lns.loadgen_holding(&[
        "--user-pattern",
        "alice",
        "--password",
        "pw",
        "--hold",
        "30",
        "--pings",
        "0",
    ]);
    wait_for("alice's Start", Duration::from_secs(10), || {
        lns.radius[0].detail().contains("Acct-Status-Type = Start")
    });
    let (out, code) = nsctl(&lns, &["drop", "nobody"]);
    assert!(out.contains("session not found"), "{out}");
    assert_ne!(code, 0);
    let (out, code) = nsctl(&lns, &["drop", "alice"]);
    assert_eq!(code, 0, "{out}");
    wait_for("alice's session to go", Duration::from_secs(10), || {
        status_field(&lns.status(), "sessions") == "0"
    });
    let out = alice.wait_with_output().expect("loadgen");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let _ = stderr; // the LAC saw the call end (CDN): it exits before --hold ends
    wait_for("alice's Stop", Duration::from_secs(10), || {
        lns.radius[0].detail().contains("Acct-Status-Type = Stop")
    });
    let detail = lns.radius[0].detail();
    let stop = detail
        .split("\n\n")
        .find(|r| r.contains("Acct-Status-Type = Stop"))
        .unwrap_or_default();
    assert!(
        stop.contains("Acct-Terminate-Cause = Admin-Reset"),
        "{stop}"
    );
    let log = lns.log_text();
    assert!(
        log.contains("origin=Nsctl"),
        "the command layer logs who asked:\n{log}"
    );

    // A request from outside loopback is refused and counted, not answered.
    lns.ns
        .exec_ok(&["ip", "addr", "add", "10.98.0.1/32", "dev", "lo"]);
    let out = lns
        .ns
        .command("python3")
        .arg("-c")
        .arg("import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('10.98.0.1',0)); s.sendto(bytes([0x90,0x13,0x13,0x00,0xff]), ('127.0.0.1',1702)); s.settimeout(1)\ntry:\n  s.recv(100); print('answered')\nexcept socket.timeout:\n  print('silent')")
        .output()
        .expect("python3");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "silent");
    let st = lns.status();
    assert!(st.contains("nsctl_refused_source: 1"), "{st}");

    // Garbage on the port is answered or ignored, counted, never fatal.
    let out = lns
        .ns
        .command("python3")
        .arg("-c")
        .arg("import socket,os\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor n in range(200):\n  s.sendto(os.urandom(n % 40) if n % 2 else bytes([0x90,0x13,0x14,0xff]) + os.urandom(n), ('127.0.0.1',1702))")
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (out, code) = nsctl(&lns, &["help"]);
    assert_eq!(code, 0, "{out}");
    let st = lns.status();
    let malformed: u64 = status_field(&st, "nsctl_malformed").parse().unwrap_or(0);
    assert!(malformed >= 100, "{st}");
}
