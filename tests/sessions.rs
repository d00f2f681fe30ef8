//! End to end: the real daemon in its own network namespace with a TUN
//! device, driven by the real load generator. Sessions come up with CHAP and
//! PAP, get their own pool address and the DNS servers, pass traffic both
//! ways (ICMP echo to the LNS's own address, answered by the kernel through
//! the TUN), and after teardown every session, tunnel and address is free.

mod common;

use common::*;

fn many_sessions(auth: &str) {
    if skip_privileged() {
        return;
    }
    let mut lns = Lns::start(&LnsSetup {
        users: 1000,
        ..LnsSetup::default()
    });
    let free_before = status_field(&lns.status(), "free_addresses");
    assert!(
        free_before.parse::<usize>().unwrap_or(0) >= 1000,
        "pool too small: {free_before}"
    );
    let r = lns.loadgen(&[
        "--tunnels",
        "10",
        "--sessions",
        "1000",
        "--auth",
        auth,
        "--password",
        "secret-pw",
        "--pings",
        "2",
        "--timeout",
        "120",
    ]);
    r.assert_pass();
    assert_eq!(r.field("up"), "1000");
    assert_eq!(r.field("unique_ip"), "1000");
    assert_eq!(r.field("dns_ok"), "1000");
    assert_eq!(r.field("pings_received"), "2000");
    assert_eq!(r.field("lost"), "0");
    if test_data_path().as_deref() == Some("bpf") {
        // The kernel fast path carried the pings (a session's first may
        // overtake its way into the maps and take the userspace path).
        let status = lns.status();
        for f in ["fast_path_up_packets", "fast_path_down_packets"] {
            let n: u64 = status_field(&status, f).parse().unwrap_or(0);
            assert!(n >= 1000, "{f} {n}: {status}");
        }
    }
    free_after_teardown(&mut lns, &free_before);
}

#[test]
fn thousand_sessions_over_ten_tunnels_with_chap() {
    many_sessions("chap");
}

#[test]
fn thousand_sessions_over_ten_tunnels_with_pap() {
    many_sessions("pap");
}

/// 10% of the control packets lost each way, 20% reordered. At 20% loss
/// each way a message and its acknowledgement both get through 64% of the
/// time, so the protocols' retry budgets (an L2TP message given up after 5
/// retransmissions, as l2tpns does; a PPP Configure-Request after 10) ran
/// out somewhere among the run's ~1,000 exchanges in one CI run
/// (2026-12-03) and 6 of about 80 runs here, as the arithmetic says
/// (traced: each time one message was dropped by the generator's seeded
/// draw on all 6 of its copies). The run then measured bad luck, not
/// recovery. At 10% that is under one run in a thousand, and sessions
/// still need retransmissions to come up.
#[test]
fn hundred_sessions_with_ten_percent_control_loss_and_reordering() {
    if skip_privileged() {
        return;
    }
    // debug 5: a failure's log has every PPP frame in and out with the
    // link's phases (one CI run saw a session whose IPCP never opened at
    // the LNS while the client's did; not reproduced since).
    let mut lns = Lns::start(&LnsSetup {
        extra_config: "set debug 5".into(),
        ..LnsSetup::default()
    });
    let free_before = status_field(&lns.status(), "free_addresses");
    let r = lns.loadgen(&[
        "--tunnels",
        "4",
        "--sessions",
        "100",
        "--auth",
        "chap",
        "--password",
        "secret-pw",
        "--loss",
        "10",
        "--reorder",
        "20",
        "--seed",
        "42",
        "--timeout",
        "180",
    ]);
    r.assert_pass();
    assert_eq!(r.field("up"), "100");
    assert!(
        r.field("ctl_dropped").parse::<u64>().unwrap_or(0) > 0,
        "{}",
        r.stdout
    );
    free_after_teardown(&mut lns, &free_before);
}

#[test]
fn wrong_password_is_refused_and_nothing_leaks() {
    if skip_privileged() {
        return;
    }
    let mut lns = Lns::start(&LnsSetup::default());
    let free_before = status_field(&lns.status(), "free_addresses");
    for auth in ["chap", "pap"] {
        let r = lns.loadgen(&[
            "--sessions",
            "3",
            "--auth",
            auth,
            "--password",
            "wrong",
            "--pings",
            "0",
        ]);
        assert!(!r.success, "{}", r.stdout);
        assert_eq!(r.field("up"), "0", "{}", r.stdout);
        assert_eq!(r.field("auth_failed"), "3", "{}", r.stdout);
    }
    free_after_teardown(&mut lns, &free_before);
    assert!(lns.log_text().contains("authentication failed"));
}

#[test]
fn tunnel_authentication_and_hidden_avps() {
    if skip_privileged() {
        return;
    }
    let mut lns = Lns::start(&LnsSetup {
        extra_config: "set l2tp_secret \"tunnel-s3cret\"\nset l2tp_require_auth yes\n".into(),
        ..LnsSetup::default()
    });
    // The LAC challenges us, we challenge it, and it hides Assigned Session ID.
    let r = lns.loadgen(&[
        "--tunnels",
        "2",
        "--sessions",
        "10",
        "--password",
        "secret-pw",
        "--tunnel-secret",
        "tunnel-s3cret",
        "--hide-avps",
    ]);
    r.assert_pass();
    // A LAC with the wrong secret gets no tunnel.
    let r = lns.loadgen(&[
        "--sessions",
        "1",
        "--password",
        "secret-pw",
        "--tunnel-secret",
        "wrong",
        "--timeout",
        "10",
    ]);
    assert!(!r.success);
    assert_eq!(r.field("tunnels_up"), "0", "{}", r.stdout);
    // Nor does one that does not authenticate at all, since we require it.
    let r = lns.loadgen(&[
        "--sessions",
        "1",
        "--password",
        "secret-pw",
        "--timeout",
        "10",
    ]);
    assert!(!r.success);
    assert_eq!(r.field("up"), "0", "{}", r.stdout);
    let free_before = status_field(&lns.status(), "free_addresses");
    free_after_teardown(&mut lns, &free_before);
}

#[test]
fn secrets_file_address_is_given_to_its_user() {
    if skip_privileged() {
        return;
    }
    let lns = Lns::start(&LnsSetup {
        users: 0,
        extra_secrets: "fixed * \"fixed-pw\" 10.77.0.9\n".into(),
        ..LnsSetup::default()
    });
    let r = lns.loadgen(&[
        "--user-pattern",
        "fixed",
        "--password",
        "fixed-pw",
        "--verbose",
    ]);
    r.assert_pass();
    assert!(r.stderr.contains("ip=10.77.0.9"), "{}", r.stderr);
}

#[test]
fn duplicate_login_drops_the_older_session() {
    if skip_privileged() {
        return;
    }
    let lns = Lns::start(&LnsSetup {
        extra_secrets: "dup * \"dup-pw\" *\n".into(),
        ..LnsSetup::default()
    });
    let r = lns.loadgen(&[
        "--user-pattern",
        "dup",
        "--sessions",
        "2",
        "--concurrency",
        "1",
        "--password",
        "dup-pw",
    ]);
    // Both logged in, but only the newer one is still there to answer pings.
    assert_eq!(r.field("up"), "2", "{}", r.stdout);
    assert_eq!(r.field("ping_ok_sessions"), "1", "{}", r.stdout);
    assert!(lns.log_text().contains("duplicate login"));
}

#[test]
fn max_sessions_refuses_calls_beyond_the_limit() {
    if skip_privileged() {
        return;
    }
    let lns = Lns::start(&LnsSetup {
        extra_config: "set max_sessions 5\n".into(),
        ..LnsSetup::default()
    });
    let r = lns.loadgen(&[
        "--sessions",
        "8",
        "--password",
        "secret-pw",
        "--concurrency",
        "8",
        "--pings",
        "0",
    ]);
    assert_eq!(r.field("up"), "5", "{}", r.stdout);
    assert!(r.stdout.contains("Session limit reached"), "{}", r.stdout);
    assert!(lns.log_text().contains("max_sessions 5 reached"));
}

#[test]
fn log_format_json_names_tunnel_session_and_user_in_every_session_line() {
    if skip_privileged() {
        return;
    }
    let mut lns = Lns::start(&LnsSetup {
        users: 2,
        extra_config: "set log_format json\n".into(),
        ..LnsSetup::default()
    });
    lns.loadgen(&["--sessions", "2", "--password", "secret-pw"])
        .assert_pass();
    // The last session line is written when the tunnel goes.
    lns.wait_for_log(
        "\"message\":\"tunnel closed\"",
        std::time::Duration::from_secs(10),
    );
    let log = lns.log_text();
    let mut session_lines = 0;
    for line in log.lines() {
        assert!(
            line.starts_with('{') && line.ends_with('}'),
            "not one JSON object per line: {line}"
        );
        for word in ["\"session up\"", "\"session closed\""] {
            if line.contains(&format!("\"message\":{word}")) {
                session_lines += 1;
                for field in ["\"tunnel\":", "\"session\":", "\"user\":\"user"] {
                    assert!(line.contains(field), "{field} missing in {line}");
                }
            }
        }
    }
    assert_eq!(session_lines, 4, "{log}");
}

#[test]
fn stripdomain_plugin_strips_the_realm_before_authentication() {
    if skip_privileged() {
        return;
    }
    let config = |plugins: &str| LnsSetup {
        users: 2,
        extra_config: plugins.into(),
        ..LnsSetup::default()
    };
    let args = [
        "--sessions",
        "2",
        "--user-pattern",
        "user%d@isp.example",
        "--password",
        "secret-pw",
    ];
    // Without the plugin "user1@isp.example" is not in the secrets file.
    let lns = Lns::start(&config(""));
    let r = lns.loadgen(&args);
    assert!(!r.success, "{}", r.stdout);
    drop(lns);
    let lns = Lns::start(&config("load plugin \"stripdomain\"\n"));
    lns.loadgen(&args).assert_pass();
    let log = lns.log_text();
    assert!(log.contains("plugin loaded plugin=stripdomain"), "{log}");
    assert!(
        log.contains("stripping off trailing domain name \"@isp.example\""),
        "{log}"
    );
}
