//! The telnet CLI over real TCP with telnet negotiation (Python's telnetlib
//! as the client, in the daemon's namespace): each command's output against
//! the daemon's state, `write memory` reloading to the same running-config,
//! logins from the users file, non-local connections without one, and
//! garbage that must not hurt the daemon.

mod common;

use common::*;
use std::fs;
use std::time::Duration;

const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cli_client.py");

/// The telnet client in the daemon's namespace, talking to its CLI.
fn client_command(lns: &Lns) -> std::process::Command {
    let mut c = lns.ns.command("python3");
    c.args([
        "-W",
        "ignore::DeprecationWarning",
        CLIENT,
        "127.0.0.1",
        "23",
    ]);
    c
}

/// Runs the client in the namespace; returns what it printed.
fn cli(lns: &Lns, extra: &[&str], lines: &[&str]) -> String {
    let out = client_command(lns)
        .args(extra)
        .args(lines)
        .output()
        .expect("python3 (telnetlib)");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// The output of one command in the client's transcript.
fn section<'a>(out: &'a str, line: &str) -> &'a str {
    let start = out
        .find(&format!("=== {line}\n"))
        .unwrap_or_else(|| panic!("no output for {line:?}:\n{out}"));
    let body = &out[start + line.len() + 5..];
    body.find("\n=== ").map_or(body, |e| &body[..e])
}

#[test]
fn cli_commands_show_the_state_and_act_through_the_command_layer() {
    if skip_privileged() {
        return;
    }
    let mut lns = Lns::start(&LnsSetup {
        users: 3,
        ..LnsSetup::default()
    });
    let held = lns.loadgen_holding(&[
        "--sessions",
        "2",
        "--password",
        "secret-pw",
        "--hold",
        "30",
        "--pings",
        "1",
    ]);
    let out = cli(
        &lns,
        &[],
        &[
            "show session",
            "sh ses",
            "show users",
            "show users | include user2",
            "show tunnels",
            "show pool",
            "uptime",
            "show version",
            "show counters",
            "throttle user1 64",
        ],
    );
    let ses = section(&out, "show session");
    assert!(
        ses.contains("Username") && ses.contains("user1") && ses.contains("user2"),
        "{out}"
    );
    assert!(ses.contains("10.100.0."), "{out}");
    assert_eq!(ses, section(&out, "sh ses"), "abbreviations");
    assert_eq!(section(&out, "show users").trim(), "user1\nuser2", "{out}");
    assert_eq!(
        section(&out, "show users | include user2").trim(),
        "user2",
        "{out}"
    );
    assert!(
        section(&out, "show tunnels").contains("l2tpns-loadgen"),
        "{out}"
    );
    assert!(section(&out, "show pool").contains("Used: 2"), "{out}");
    assert!(section(&out, "uptime").contains("2 users"), "{out}");
    assert!(section(&out, "uptime").contains("Bandwidth:"), "{out}");
    assert!(section(&out, "show version").contains("l2tpns"), "{out}");
    assert!(
        section(&out, "show counters").contains("sessions_up = 2"),
        "{out}"
    );
    // Privileged: not before `enable`.
    assert!(
        section(&out, "throttle user1 64").contains("Invalid command"),
        "{out}"
    );

    // Configuration: set, write memory, and a reload of the written file
    // gives the same running-config.
    let out = cli(
        &lns,
        &[],
        &[
            "enable",
            "throttle user1 64",
            "configure terminal",
            "set primary_dns 10.99.0.66",
            "load plugin sessionctl",
            "exit",
            "write memory",
            "show running-config",
            "drop user user1",
        ],
    );
    assert!(
        section(&out, "throttle user1 64").contains("Throttling user user1"),
        "{out}"
    );
    assert!(
        section(&out, "write memory").contains("Configuration written"),
        "{out}"
    );
    let shown: Vec<&str> = section(&out, "show running-config").lines().collect();
    assert!(shown.contains(&"set primary_dns 10.99.0.66"), "{out}");
    assert!(shown.contains(&"load plugin \"sessionctl\""), "{out}");
    let written = lns.files().join("startup-config");
    let reread = l2tpns::config::Config::load(&written).expect("the written config loads");
    for l in reread.running_config() {
        assert!(shown.contains(&l.as_str()), "{l} not shown:\n{out}");
    }
    assert!(fs::read_to_string(&written)
        .unwrap()
        .contains("load plugin \"sessionctl\""));
    // The daemon reading the written file again shows the same running-config.
    lns.signal(libc::SIGHUP);
    lns.wait_for_log(
        "configuration reloaded: nothing changed",
        Duration::from_secs(5),
    );
    let again = cli(&lns, &[], &["enable", "show running-config"]);
    assert_eq!(
        section(&again, "show running-config").trim(),
        section(&out, "show running-config").trim()
    );
    wait_for("user1's session to go", Duration::from_secs(10), || {
        status_field(&lns.status(), "sessions") == "1"
    });
    assert!(
        lns.log_text().contains("origin=Cli"),
        "the command layer logs who asked"
    );
    drop(held);

    // Garbage (telnet commands cut short, long lines, control bytes) does
    // not hurt the daemon.
    let garbage = lns
        .ns
        .command("python3")
        .arg("-c")
        .arg("import socket,os\nfor n in range(20):\n  s=socket.create_connection(('127.0.0.1',23),2)\n  s.sendall(os.urandom(5000)+b'\\xff\\xfa'+b'\\x00'*300+b'\\xff')\n  s.close()")
        .output()
        .expect("python3");
    assert!(
        garbage.status.success(),
        "{}",
        String::from_utf8_lossy(&garbage.stderr)
    );
    assert_eq!(status_field(&lns.status(), "sessions"), "1");
    let out = cli(&lns, &[], &["show users"]);
    assert_eq!(section(&out, "show users").trim(), "user2", "{out}");
}

#[test]
fn cli_logins_follow_the_users_file() {
    if skip_privileged() {
        return;
    }
    let mut lns = Lns::start(&LnsSetup::default());
    lns.ns
        .exec_ok(&["ip", "addr", "add", "10.98.0.1/32", "dev", "lo"]);
    let remote = ["--source", "10.98.0.1"];
    // No users file: a non-local connection gets nothing.
    let out = cli(&lns, &remote, &["show version"]);
    assert!(!out.contains("=== show version"), "{out}");
    // A users file (plain and MD5-crypt), then SIGHUP: remote logins work
    // with the right password only.
    fs::write(
        lns.files().join("users"),
        "admin:s3cret\nops:$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/\n",
    )
    .expect("users");
    lns.signal(libc::SIGHUP);
    lns.wait_for_log(
        "configuration reloaded: nothing changed",
        Duration::from_secs(5),
    );
    let out = cli(
        &lns,
        &[remote[0], remote[1], "--login", "admin", "wrong"],
        &["show version"],
    );
    assert!(
        out.contains("LOGIN-REFUSED") || out.contains("CLOSED"),
        "{out}"
    );
    assert!(!out.contains("=== show version"), "{out}");
    let out = cli(
        &lns,
        &[remote[0], remote[1], "--login", "admin", "s3cret"],
        &["show version"],
    );
    assert!(
        out.contains("LOGGED-IN") && section(&out, "show version").contains("l2tpns"),
        "{out}"
    );
    let out = cli(
        &lns,
        &[remote[0], remote[1], "--login", "ops", "password"],
        &["show version"],
    );
    assert!(out.contains("LOGGED-IN"), "MD5-crypt: {out}");
    assert!(
        lns.log_text().contains("CLI login failed"),
        "{}",
        lns.log_text()
    );
}

#[test]
fn setrxspeed_fills_the_rx_speed_shown_by_show_session() {
    if skip_privileged() {
        return;
    }
    let lns = Lns::start(&LnsSetup {
        users: 1,
        extra_config: "load plugin \"setrxspeed\"\n".into(),
        ..LnsSetup::default()
    });
    let held = lns.loadgen_holding(&[
        "--sessions",
        "1",
        "--password",
        "secret-pw",
        "--hold",
        "20",
        "--pings",
        "0",
        "--connect-speed",
        "512",
    ]);
    let sid = {
        let out = cli(&lns, &[], &["show session"]);
        let row = section(&out, "show session")
            .lines()
            .find(|l| l.contains("user1"))
            .unwrap_or_else(|| panic!("{out}"))
            .to_string();
        row.split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let line = format!("show session {sid}");
    let out = cli(&lns, &[], &[&line]);
    let detail = section(&out, &line);
    assert!(detail.contains("Tx Speed:\t512"), "{out}");
    assert!(detail.contains("Rx Speed:\t128"), "{out}");
    drop(held);
}

#[test]
fn debug_shows_the_log_on_the_connection_that_asked() {
    if skip_privileged() {
        return;
    }
    let lns = Lns::start(&LnsSetup {
        users: 1,
        ..LnsSetup::default()
    });
    let ready = lns.files().join("cli.ready");
    let mut client = client_command(&lns)
        .args(["--wait", "user=\"user1\"", "debug info", "debug"])
        .env("CLI_READY_FILE", &ready)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    wait_for("the CLI client", Duration::from_secs(10), || ready.exists());
    lns.loadgen(&["--sessions", "1", "--password", "secret-pw"])
        .assert_pass();
    let out = client.wait_with_output().expect("client");
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(
        section(&out, "debug").contains("Currently debugging: info"),
        "{out}"
    );
    assert!(out.contains("SAW: session up"), "{out}");
    client = client_command(&lns)
        .args(["no debug", "debug"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let out = client.wait_with_output().expect("client");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Debugging is off"));
}
