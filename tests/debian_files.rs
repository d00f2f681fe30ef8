//! Drop-in: the daemon on Debian's own /etc/l2tpns (the l2tpns 2.4.1
//! package's startup-config, ip_pool and users, in tests/data) against
//! FreeRADIUS with Debian's stock configuration: unsigned replies, no
//! Message-Authenticator demanded, and radclient's unsigned Disconnect.
//!
//! Changed in Debian's startup-config, and nothing else: the RADIUS
//! server's address and secret (Debian's point at 10.0.0.3), and
//! `radius_accounting yes` (Debian's file leaves it at l2tpns's default,
//! off, and the test must see Start and Stop land). Its log_file and
//! pid_file stay: the daemon runs in a mount namespace whose /var/log and
//! /run are the test's own. There is no ppp-secrets file, as in the package.

mod common;

use common::*;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Duration;

const DEBIAN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/l2tpns-2.4.1/debian"
);

/// Debian's startup-config with the two RADIUS lines pointed at ours.
fn debian_startup_config() -> String {
    let text = fs::read_to_string(Path::new(DEBIAN).join("startup-config")).expect("Debian file");
    let mut out = String::new();
    for line in text.lines() {
        match line {
            "set primary_radius 10.0.0.3" => out.push_str("set primary_radius 127.0.0.1"),
            "set radius_secret \"secret\"" => {
                let _ = write!(out, "set radius_secret \"{RADIUS_SECRET}\"");
            }
            "#set radius_accounting no" => out.push_str("set radius_accounting yes"),
            l => out.push_str(l),
        }
        out.push('\n');
    }
    for changed in [
        "primary_radius 127.0.0.1",
        "radius_secret \"",
        "radius_accounting yes",
    ] {
        assert!(
            out.contains(changed),
            "Debian's startup-config changed shape: {changed}"
        );
    }
    out
}

#[test]
fn debian_etc_l2tpns_with_stock_freeradius() {
    if skip_privileged() {
        return;
    }
    let (ns, dir) = Lns::prepare();
    fs::write(dir.join("startup-config"), debian_startup_config()).expect("config");
    for f in ["ip_pool", "users"] {
        fs::copy(Path::new(DEBIAN).join(f), dir.join(f)).expect("Debian file");
    }
    assert!(!dir.join("ppp-secrets").exists());
    let mut users = String::new();
    for i in 1..=4 {
        let _ = writeln!(users, "user{i}\tCleartext-Password := \"pw\"");
    }
    let mut lns = Lns::launch(
        ns,
        dir,
        &[RadiusSetup::debian_stock(users)],
        Some("l2tpns"),
        &[],
    );
    let log = lns.log_text();
    assert!(
        log.contains("ppp_secrets_file not used while primary_radius is set"),
        "{log}"
    );
    // The pid_file is where Debian's config says, inside our private /run.
    assert!(lns.files().join("run/l2tpns.pid").exists());

    // Four PAP logins (Debian's radius_authtypes is l2tpns's default, pap),
    // with Debian's DNS servers, held for the Disconnect.
    let child = lns.loadgen_holding(&[
        "--sessions",
        "4",
        "--auth",
        "pap",
        "--password",
        "pw",
        "--expect-dns",
        "10.0.0.1,10.0.0.2",
        "--hold",
        "20",
        "--pings",
        "1",
    ]);
    assert_eq!(status_field(&lns.status(), "sessions"), "4");
    wait_for("four Start records", Duration::from_secs(10), || {
        lns.radius[0]
            .detail()
            .matches("Acct-Status-Type = Start")
            .count()
            == 4
    });

    // radclient's Disconnect-Request carries no Message-Authenticator.
    let ack = radclient(
        &lns.ns,
        3799,
        "disconnect",
        RADIUS_SECRET,
        "User-Name = user2\n",
    );
    assert!(ack.contains("Received Disconnect-ACK"), "{ack}");
    wait_for("user2's session to go", Duration::from_secs(10), || {
        status_field(&lns.status(), "sessions") == "3"
    });
    let out = child.wait_with_output().expect("loadgen");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("up=4"), "{stdout}");
    wait_for("four Stop records", Duration::from_secs(15), || {
        lns.radius[0]
            .detail()
            .matches("Acct-Status-Type = Stop")
            .count()
            == 4
    });
    let detail = lns.radius[0].detail();
    let stop2 = detail
        .split("\n\n")
        .find(|r| r.contains("Acct-Status-Type = Stop") && r.contains("\"user2\""))
        .unwrap_or_else(|| panic!("{detail}"));
    assert!(
        stop2.contains("Acct-Terminate-Cause = Admin-Reset"),
        "{stop2}"
    );
    let st = lns.status();
    assert!(st.contains("bad_message_authenticator: 0"), "{st}");
    assert!(st.contains("dae_acks: 1"), "{st}");
    assert_eq!(lns.stop().map(|s| s.success()), Some(true));
}
