//! The daemon refuses to start on a bad file, naming file, line and reason,
//! before it touches the system (no root needed for these).

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static N: AtomicU32 = AtomicU32::new(0);

fn start_with(config: &str, extra: &[(&str, &str)]) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!(
        "l2tpns-startup-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("startup-config"), config).unwrap();
    std::fs::write(dir.join("ip_pool"), "10.0.0.0/24\n").unwrap();
    std::fs::write(dir.join("ppp-secrets"), "u * p *\n").unwrap();
    for (name, text) in extra {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_l2tpns"))
        .arg("-c")
        .arg(dir.join("startup-config"))
        .output()
        .expect("run l2tpns");
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn unknown_variable_stops_the_daemon_with_file_and_line() {
    let (code, err) = start_with("set debug 3\n\nset no_such_thing 1\n", &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("startup-config:3:"), "{err}");
    assert!(err.contains("no_such_thing"), "{err}");
}

#[test]
fn bad_value_stops_the_daemon() {
    let (code, err) = start_with("set primary_dns 10.0.0.300\n", &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("startup-config:1:"), "{err}");
}

#[test]
fn bad_ip_pool_line_stops_the_daemon() {
    let (code, err) = start_with(
        "set debug 1\n",
        &[("ip_pool", "10.0.0.0/24\nnot-an-address\n")],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("ip_pool:2:"), "{err}");
}

#[test]
fn bad_secrets_file_stops_the_daemon() {
    let (code, err) = start_with(
        "set debug 1\n",
        &[("ppp-secrets", "user * \"unterminated\n")],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("ppp-secrets:1:"), "{err}");
}

#[test]
fn missing_config_file_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_l2tpns"))
        .args(["-c", "/nonexistent/startup-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/startup-config"));
}
