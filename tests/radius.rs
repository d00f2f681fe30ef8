//! RADIUS against a real FreeRADIUS (Debian's, with a private raddb in the
//! test's namespace): authentication, Access-Accept attributes with traffic
//! through them, timeouts, accounting records, failover, and Disconnect/CoA.

mod common;

use common::*;
use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

const USERS: &str = "\
alice\tCleartext-Password := \"alice-pw\"
\tFramed-IP-Address = 10.88.0.5,
\tFramed-Route = \"10.77.1.0/24\",
\tClass = \"class-alice\"
short\tCleartext-Password := \"short-pw\"
\tSession-Timeout = 3
idle\tCleartext-Password := \"idle-pw\"
\tIdle-Timeout = 3
";

fn users(n: usize) -> String {
    let mut u = USERS.to_string();
    for i in 1..=n {
        let _ = writeln!(u, "user{i}\tCleartext-Password := \"pw\"");
    }
    u
}

fn radius_config(extra: &str) -> String {
    format!(
        "set primary_radius 127.0.0.1\nset radius_secret \"{RADIUS_SECRET}\"\nset radius_accounting yes\n{extra}"
    )
}

fn lns(users_n: usize, extra: &str) -> Lns {
    Lns::start(&LnsSetup {
        users: 0,
        pool: "10.100.0.0/19\n".into(),
        extra_config: radius_config(extra),
        radius: vec![RadiusSetup {
            users: users(users_n),
            ..RadiusSetup::default()
        }],
        ..LnsSetup::default()
    })
}

/// The detail-file records (blank-line separated) that mention `needle`.
fn records<'a>(detail: &'a str, needle: &str) -> Vec<&'a str> {
    detail
        .split("\n\n")
        .filter(|r| r.contains(needle))
        .collect()
}

#[test]
fn pap_and_chap_logins_accepted_and_rejected() {
    if skip_privileged() {
        return;
    }
    let mut lns = lns(40, "");
    for auth in ["pap", "chap"] {
        let first = if auth == "pap" { "1" } else { "21" };
        let r = lns.loadgen(&[
            "--tunnels",
            "2",
            "--sessions",
            "20",
            "--first-index",
            first,
            "--auth",
            auth,
            "--password",
            "pw",
        ]);
        r.assert_pass();
        let r = lns.loadgen(&[
            "--sessions",
            "2",
            "--auth",
            auth,
            "--password",
            "wrong",
            "--pings",
            "0",
        ]);
        assert_eq!(r.field("auth_failed"), "2", "{}", r.stdout);
        // The server's Reply-Message reaches the client in the PAP/CHAP failure.
        assert!(r.stdout.contains("Access denied"), "{}", r.stdout);
    }
    let st = lns.status();
    assert_eq!(status_field(&st, "sessions"), "0", "{st}");
    let detail = lns.radius[0].detail();
    assert!(
        detail.contains("Acct-Status-Type = Accounting-On"),
        "{detail}"
    );
    assert_eq!(
        records(&detail, "Acct-Status-Type = Start").len(),
        40,
        "{detail}"
    );
    assert_eq!(records(&detail, "Acct-Status-Type = Stop").len(), 40);
    // Every request was signed (FreeRADIUS logs Message-Authenticator in detail).
    for r in records(&detail, "Acct-Status-Type = Start") {
        assert!(
            r.contains("Message-Authenticator = 0x")
                && r.contains("NAS-Port-Type = Virtual")
                && r.contains("NAS-Identifier"),
            "{r}"
        );
    }
    // A clean shutdown (SIGQUIT) ends with Accounting-Off.
    assert!(lns.stop().is_some_and(|st| st.success()));
    let detail = lns.radius[0].detail();
    assert!(
        detail.contains("Acct-Status-Type = Accounting-Off"),
        "{detail}"
    );
}

#[test]
fn framed_ip_and_framed_route_carry_traffic_and_accounting_holds_it() {
    if skip_privileged() {
        return;
    }
    let lns = lns(0, "set radius_interim 2\n");
    let child = lns.loadgen_holding(&[
        "--user-pattern",
        "alice",
        "--password",
        "alice-pw",
        "--auth",
        "pap",
        "--hold",
        "5",
    ]);
    for target in ["10.88.0.5", "10.77.1.1"] {
        let out = lns
            .ns
            .command("ping")
            .args(["-c", "2", "-W", "2", target])
            .output()
            .expect("ping");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("2 received"),
            "ping {target} through the session:\n{text}"
        );
    }
    let out = child.wait_with_output().expect("loadgen");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("echo_answered=4"), "{stdout}");
    wait_for("the Stop record", Duration::from_secs(10), || {
        records(&lns.radius[0].detail(), "Acct-Status-Type = Stop").len() == 1
    });
    let detail = lns.radius[0].detail();
    let stop = records(&detail, "Acct-Status-Type = Stop")[0];
    for want in [
        "User-Name = \"alice\"",
        "Framed-IP-Address = 10.88.0.5",
        "Class = 0x636c6173732d616c696365",
        "Acct-Terminate-Cause",
        "Acct-Input-Gigawords = 0",
    ] {
        assert!(stop.contains(want), "Stop lacks {want}:\n{stop}");
    }
    let field = |rec: &str, name: &str| -> u64 {
        rec.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name} = ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    // One loadgen ping + two from the LNS side, each way, at least.
    assert!(field(stop, "Acct-Input-Packets") >= 3, "{stop}");
    assert!(field(stop, "Acct-Output-Packets") >= 3, "{stop}");
    assert!(field(stop, "Acct-Input-Octets") >= 3 * 84, "{stop}");
    assert!(field(stop, "Acct-Session-Time") >= 4, "{stop}");
    let interims = records(&detail, "Acct-Status-Type = Interim-Update");
    assert!(
        !interims.is_empty(),
        "no Interim-Update with radius_interim 2:\n{detail}"
    );
    assert!(
        interims[0].contains("Class = 0x636c6173732d616c696365"),
        "{}",
        interims[0]
    );
}

#[test]
fn session_timeout_and_idle_timeout_end_sessions_on_time() {
    if skip_privileged() {
        return;
    }
    let mut lns = lns(0, "");
    let a = lns.loadgen_holding(&[
        "--user-pattern",
        "short",
        "--password",
        "short-pw",
        "--hold",
        "9",
        "--pings",
        "0",
    ]);
    let b = lns.loadgen_holding(&[
        "--user-pattern",
        "idle",
        "--password",
        "idle-pw",
        "--hold",
        "9",
        "--pings",
        "0",
    ]);
    wait_for("both sessions to end", Duration::from_secs(8), || {
        status_field(&lns.status(), "sessions") == "0"
    });
    let log = lns.log_text();
    assert!(log.contains("Session-Timeout 3 s reached"), "{log}");
    assert!(log.contains("Idle-Timeout 3 s reached"), "{log}");
    drop((a.wait_with_output(), b.wait_with_output()));
    let detail = lns.radius[0].detail();
    let short = records(&detail, "User-Name = \"short\"")
        .into_iter()
        .find(|r| r.contains("Stop"))
        .expect("short Stop");
    assert!(
        short.contains("Acct-Terminate-Cause = Session-Timeout"),
        "{short}"
    );
    assert!(short.contains("Acct-Session-Time = 3"), "{short}");
    let idle = records(&detail, "User-Name = \"idle\"")
        .into_iter()
        .find(|r| r.contains("Stop"))
        .expect("idle Stop");
    assert!(
        idle.contains("Acct-Terminate-Cause = Idle-Timeout"),
        "{idle}"
    );
    assert!(idle.contains("Acct-Session-Time = 3"), "{idle}");
}

#[test]
fn secondary_server_takes_over_and_no_server_means_a_clean_refusal() {
    if skip_privileged() {
        return;
    }
    // The primary points at a port nobody answers on.
    let lns = Lns::start(&LnsSetup {
        users: 0,
        extra_config: format!(
            "set primary_radius 127.0.0.1\nset primary_radius_port 1912\nset secondary_radius 127.0.0.1\n\
             set secondary_radius_port 1812\nset radius_secret \"{RADIUS_SECRET}\"\n"
        ),
        radius: vec![RadiusSetup { users: users(2), ..RadiusSetup::default() }],
        ..LnsSetup::default()
    });
    let t0 = Instant::now();
    let r = lns.loadgen(&[
        "--sessions",
        "2",
        "--auth",
        "pap",
        "--password",
        "pw",
        "--timeout",
        "60",
    ]);
    r.assert_pass();
    // 3 tries on the primary (3 + 6 + 10 s) and then the secondary.
    assert!(
        t0.elapsed() < Duration::from_secs(40),
        "failover took {:?}",
        t0.elapsed()
    );

    let mut lns = Lns::start(&LnsSetup {
        users: 0,
        extra_config: format!(
            "set primary_radius 127.0.0.1\nset primary_radius_port 1912\nset secondary_radius 127.0.0.1\n\
             set secondary_radius_port 1914\nset radius_secret \"{RADIUS_SECRET}\"\n"
        ),
        ..LnsSetup::default()
    });
    let free_before = status_field(&lns.status(), "free_addresses");
    let r = lns.loadgen(&[
        "--sessions",
        "2",
        "--auth",
        "chap",
        "--password",
        "pw",
        "--pings",
        "0",
        "--timeout",
        "90",
    ]);
    assert_eq!(r.field("up"), "0", "{}", r.stdout);
    // Either our CHAP Failure ("server unreachable") or the client giving up
    // first (its 10 x 3 s of CHAP Responses end before our 2 x 19 s of RADIUS
    // retries): a clean refusal both ways.
    assert!(
        r.field("auth_failed") == "2" || r.stdout.matches("AuthTimeout").count() == 2,
        "{}",
        r.stdout
    );
    let st = lns.status();
    assert_eq!(status_field(&st, "sessions"), "0", "{st}");
    assert_eq!(status_field(&st, "free_addresses"), free_before, "{st}");
    // And the RADIUS side gives up too, with nothing left in flight.
    wait_for("RADIUS to give up", Duration::from_secs(45), || {
        lns.status().contains("in_flight=0")
    });
    let st = lns.status();
    assert!(st.contains("timeouts: 2"), "{st}");
}

#[test]
fn unsigned_replies_are_accepted_only_when_relaxed() {
    if skip_privileged() {
        return;
    }
    // A pre-Blast-RADIUS server (no Message-Authenticator in its replies).
    let lns = Lns::start(&LnsSetup {
        users: 0,
        extra_config: radius_config("set radius_require_message_authenticator no\n"),
        radius: vec![RadiusSetup {
            users: users(1),
            sign_replies: false,
            ..RadiusSetup::default()
        }],
        ..LnsSetup::default()
    });
    lns.loadgen(&["--sessions", "1", "--password", "pw"])
        .assert_pass();
    assert!(lns
        .log_text()
        .contains("radius_require_message_authenticator no"));
}

#[test]
fn disconnect_and_coa_requests() {
    if skip_privileged() {
        return;
    }
    let mut lns = lns(0, "");
    let child = lns.loadgen_holding(&[
        "--user-pattern",
        "alice",
        "--password",
        "alice-pw",
        "--hold",
        "20",
        "--pings",
        "0",
    ]);
    let ma = "Message-Authenticator = 0x00\n";
    // CoA: a new Session-Timeout takes effect.
    let coa = radclient(
        &lns.ns,
        3799,
        "coa",
        RADIUS_SECRET,
        &format!("User-Name = alice\nSession-Timeout = 600\n{ma}"),
    );
    assert!(coa.contains("Received CoA-ACK"), "{coa}");
    // Unknown session: NAK with Error-Cause 503.
    let nak = radclient(
        &lns.ns,
        3799,
        "disconnect",
        RADIUS_SECRET,
        &format!("User-Name = nobody\n{ma}"),
    );
    assert!(nak.contains("Received Disconnect-NAK"), "{nak}");
    assert!(nak.contains("Session-Context-Not-Found"), "{nak}");
    // A wrong secret (bad authenticator): ignored, no answer.
    let bad = radclient(
        &lns.ns,
        3799,
        "disconnect",
        "not-the-secret",
        &format!("User-Name = alice\n{ma}"),
    );
    assert!(!bad.contains("Received"), "{bad}");
    // Not from a RADIUS server nor radius_dae_allow: ignored.
    let out = Command::new("ip")
        .args(["netns", "exec", &lns.ns.name, "python3", "-c"])
        .arg("import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.2',0)); s.sendto(b'\\x28\\x01\\x00\\x14' + bytes(16), ('127.0.0.1',3799))")
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The named session is dropped.
    let ack = radclient(
        &lns.ns,
        3799,
        "disconnect",
        RADIUS_SECRET,
        &format!("User-Name = alice\n{ma}"),
    );
    assert!(ack.contains("Received Disconnect-ACK"), "{ack}");
    wait_for("alice's session to go", Duration::from_secs(10), || {
        status_field(&lns.status(), "sessions") == "0"
    });
    let st = lns.status();
    assert!(st.contains("dae_refused_source: 1"), "{st}");
    assert!(st.contains("dae_bad: 1"), "{st}");
    drop(child.wait_with_output());
    wait_for("the Stop record", Duration::from_secs(10), || {
        records(&lns.radius[0].detail(), "Acct-Status-Type = Stop").len() == 1
    });
    let detail = lns.radius[0].detail();
    assert!(
        records(&detail, "Acct-Status-Type = Stop")[0]
            .contains("Acct-Terminate-Cause = Admin-Reset"),
        "{detail}"
    );
}

#[test]
fn five_thousand_logins_at_once_through_freeradius() {
    if skip_privileged() {
        return;
    }
    let mut lns = lns(5000, "");
    let r = lns.loadgen(&[
        "--tunnels",
        "10",
        "--sessions",
        "5000",
        "--auth",
        "pap",
        "--password",
        "pw",
        "--concurrency",
        "5000",
        "--timeout",
        "240",
    ]);
    r.assert_pass();
    assert_eq!(r.field("up"), "5000");
    println!("{}", r.stdout.lines().last().unwrap_or(""));
    let st = lns.status();
    assert_eq!(status_field(&st, "sessions"), "0", "{st}");
}

#[test]
fn unsigned_replies_under_yes_are_named_in_the_log_and_never_make_the_server_dead() {
    if skip_privileged() {
        return;
    }
    // Debian's stock FreeRADIUS (unsigned replies) with the strict policy.
    let lns = Lns::start(&LnsSetup {
        users: 0,
        extra_config: radius_config("set radius_require_message_authenticator yes\n"),
        radius: vec![RadiusSetup::debian_stock(users(1))],
        ..LnsSetup::default()
    });
    let r = lns.loadgen(&["--sessions", "1", "--password", "pw", "--timeout", "40"]);
    assert!(!r.success, "{}", r.stdout);
    let log = lns.log_text();
    assert_eq!(
        log.matches("radius_require_message_authenticator is yes")
            .count(),
        1,
        "logged once per server, naming the setting:\n{log}"
    );
    assert!(!log.contains("did not answer authentication"), "{log}");
}
