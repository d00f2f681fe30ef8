//! Per-session policy from a real FreeRADIUS: the autothrottle plugin
//! applies `Cisco-AVPair = "throttle=512"` at login, `throttle_filter_id`
//! applies accel-ppp's `Filter-Id = "2M/1M"`, the autosnoop plugin applies
//! `intercept=IP:PORT`; a CoA-Request changes the rate live (radius_reset,
//! then the CoA's pairs); the plugins echo their pairs in accounting.

mod common;

use std::time::Duration;

use common::radius::{radclient, RadiusSetup, RADIUS_SECRET};
use common::*;

/// The log's last policy line of `user`.
fn policy_of(lns: &Lns, user: &str) -> String {
    lns.log_text()
        .lines()
        .rev()
        .find(|l| l.contains("session policy") && l.contains(&format!("user=\"{user}\"")))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn radius_replies_and_coa_throttle_and_snoop_through_the_plugins() {
    if skip_privileged() {
        return;
    }
    let users = "alice\tCleartext-Password := \"pw\"\n\tCisco-AVPair = \"throttle=512\",\n\tCisco-AVPair = \"intercept=127.0.0.1:5999\"\n\
                 bob\tCleartext-Password := \"pw\"\n\tFilter-Id = \"2M/1M\"\n";
    let lns = Lns::start(&LnsSetup {
        users: 0,
        extra_config: format!(
            "set primary_radius 127.0.0.1\nset radius_secret \"{RADIUS_SECRET}\"\nset radius_accounting yes\n\
             set throttle_filter_id yes\nload plugin \"autothrottle\"\nload plugin \"autosnoop\"\n"
        ),
        radius: vec![RadiusSetup {
            users: users.into(),
            ..RadiusSetup::default()
        }],
        ..LnsSetup::default()
    });
    let mut held = Vec::new();
    for user in ["alice", "bob"] {
        held.push(lns.loadgen_holding(&[
            "--user-pattern",
            user,
            "--password",
            "pw",
            "--hold",
            "20",
            "--pings",
            "0",
        ]));
    }
    wait_for("both policies", Duration::from_secs(10), || {
        !policy_of(&lns, "alice").is_empty() && !policy_of(&lns, "bob").is_empty()
    });
    let alice = policy_of(&lns, "alice");
    assert!(
        alice.contains("throttle_in: 512, throttle_out: 512"),
        "{alice}"
    );
    assert!(alice.contains("snoop: Some(127.0.0.1:5999)"), "{alice}");
    // 1M up (from the user), 2M down, in kbit of 1,024 bits.
    let bob = policy_of(&lns, "bob");
    assert!(
        bob.contains("throttle_in: 977, throttle_out: 1954"),
        "{bob}"
    );

    // CoA: autothrottle lifts the throttle, then applies the new one.
    let coa = radclient(
        &lns.ns,
        3799,
        "coa",
        RADIUS_SECRET,
        "User-Name = alice\nCisco-AVPair = \"lcp:interface-config#1=service-policy input 256\"\nMessage-Authenticator = 0x00\n",
    );
    assert!(coa.contains("Received CoA-ACK"), "{coa}");
    wait_for("the CoA's throttle", Duration::from_secs(5), || {
        policy_of(&lns, "alice").contains("throttle_in: 256, throttle_out: 0")
    });
    // autosnoop's reset stopped the intercept (the CoA had none).
    assert!(policy_of(&lns, "alice").contains("snoop: None"));

    for mut c in held {
        let _ = c.wait();
    }
    wait_for("two Stops", Duration::from_secs(15), || {
        lns.radius[0]
            .detail()
            .matches("Acct-Status-Type = Stop")
            .count()
            == 2
    });
    let detail = lns.radius[0].detail();
    let start = detail
        .split("\n\n")
        .find(|r| r.contains("Acct-Status-Type = Start") && r.contains("alice"))
        .unwrap_or_else(|| panic!("{detail}"));
    assert!(start.contains("service-policy input 512"), "{start}");
    assert!(start.contains("service-policy output 512"), "{start}");
    assert!(start.contains("intercept=127.0.0.1:5999"), "{start}");
    let stop = detail
        .split("\n\n")
        .find(|r| r.contains("Acct-Status-Type = Stop") && r.contains("alice"))
        .unwrap();
    assert!(stop.contains("service-policy input 256"), "{stop}");
    assert!(!stop.contains("service-policy output"), "{stop}");
    assert!(!stop.contains("intercept="), "{stop}");
}
