//! SIGHUP: startup-config and ip_pool are read again while a session is up.
//! A changed primary_dns and a changed pool apply to new sessions, the
//! session that was up keeps passing traffic (its address left the pool and
//! stays until it ends), and a variable that cannot change live is named.

mod common;

use common::*;
use std::fs;
use std::time::Duration;

fn session_ip(log: &str, user: &str) -> String {
    log.lines()
        .filter(|l| l.contains("session up") && l.contains(&format!("user=\"{user}\"")))
        .find_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("ip=").map(str::to_string))
        })
        .unwrap_or_else(|| panic!("no session up for {user}:\n{log}"))
}

#[test]
fn hup_applies_dns_and_pool_to_new_sessions_and_keeps_the_old_one() {
    if skip_privileged() {
        return;
    }
    let mut lns = Lns::start(&LnsSetup {
        users: 4,
        pool: "10.100.0.0/24\n".into(),
        ..LnsSetup::default()
    });
    let held = lns.loadgen_holding(&[
        "--sessions",
        "1",
        "--password",
        "secret-pw",
        "--hold",
        "25",
        "--pings",
        "1",
    ]);
    let old_ip = session_ip(&lns.log_text(), "user1");
    assert!(old_ip.starts_with("10.100.0."), "{old_ip}");

    let cfg_path = lns.files().join("startup-config");
    let cfg = fs::read_to_string(&cfg_path).expect("config");
    let cfg = cfg.replace(
        &format!("set primary_dns {DNS1}"),
        "set primary_dns 10.99.0.77",
    ) + "set data_workers 1\n";
    fs::write(&cfg_path, cfg).expect("config");
    fs::write(lns.files().join("ip_pool"), "10.101.0.0/24\n").expect("pool");
    lns.signal(libc::SIGHUP);
    lns.wait_for_log("primary_dns: now 10.99.0.77", Duration::from_secs(5));
    let log = lns.log_text();
    // The session's 10.100.0.1 is not in the new pool: all 254 are free.
    assert!(log.contains("ip pool: 254 addresses, 254 free"), "{log}");
    assert!(
        log.contains(
            "data_workers changed in the configuration: it cannot change while the daemon runs"
        ),
        "{log}"
    );

    // The session that was up still carries traffic both ways.
    let ping = lns
        .ns
        .command("ping")
        .args(["-c", "3", "-i", "0.2", "-W", "2", &old_ip])
        .output()
        .expect("ping");
    assert!(
        ping.status.success(),
        "{}",
        String::from_utf8_lossy(&ping.stdout)
    );
    // A new session gets the new DNS server and an address of the new pool.
    let r = lns.loadgen(&[
        "--sessions",
        "1",
        "--user-pattern",
        "user2",
        "--password",
        "secret-pw",
        "--expect-dns",
        &format!("10.99.0.77,{DNS2}"),
    ]);
    r.assert_pass();
    let new_ip = session_ip(&lns.log_text(), "user2");
    assert!(new_ip.starts_with("10.101.0."), "{new_ip}");
    assert_eq!(status_field(&lns.status(), "sessions"), "1");
    drop(held);
}
