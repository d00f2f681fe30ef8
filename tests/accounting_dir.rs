//! accounting_dir end to end: the daemon in a namespace writes l2tpns's
//! usage files ("# dslwatch.pl dump file V1.01" header, then
//! `username ip qos uptxoctets downrxoctets [origin]`) while the load
//! generator's sessions ping through it; the octets over all files add up
//! to what the pings carried (84-byte IP packets each way). A directory
//! that is missing at first is logged, not fatal, and nothing is lost;
//! closed sessions are written at shutdown; dump_speed prints l2tpns's
//! bandwidth line; SIGHUP turns both on.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

/// IP size of one loadgen echo request or reply (56 data bytes).
const PING_IP_BYTES: u64 = 84;

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("acctdir-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    d
}

/// The usage files in `dir`, by name (temporary names start with '.').
fn usage_files(dir: &Path) -> BTreeMap<String, String> {
    let Ok(rd) = fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    rd.filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .map(|n| {
            let text = fs::read_to_string(dir.join(&n)).unwrap_or_default();
            (n, text)
        })
        .collect()
}

/// Check one file's header; return its session lines split on spaces.
fn parse(name: &str, text: &str, all_origin: bool) -> Vec<Vec<String>> {
    assert_eq!(name.len(), 14, "file name {name}");
    assert!(name.bytes().all(|b| b.is_ascii_digit()), "{name}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 6, "a file with no session line:\n{text}");
    assert_eq!(lines[0], "# dslwatch.pl dump file V1.01", "{text}");
    assert!(lines[1].starts_with("# host: "), "{text}");
    // l2tpns: iftun_address set, so the cluster interface's address.
    assert_eq!(lines[2], "# endpoint: 127.0.0.1", "{text}");
    let num = |l: &str, p: &str| -> i64 {
        l.strip_prefix(p)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{p}: {text}"))
    };
    assert!(num(lines[3], "# time: ") > 1_700_000_000, "{text}");
    assert!(num(lines[4], "# uptime: ") >= 0, "{text}");
    let format = if all_origin {
        "# format: username ip qos uptxoctets downrxoctets origin(L=LAC, R=Remote LNS, P=PPPOE)"
    } else {
        "# format: username ip qos uptxoctets downrxoctets"
    };
    assert_eq!(lines[5], format, "{text}");
    lines[6..]
        .iter()
        .map(|l| {
            let f: Vec<String> = l.split(' ').map(str::to_owned).collect();
            assert_eq!(f.len(), if all_origin { 6 } else { 5 }, "{l}");
            assert!(f[1].starts_with("10.100."), "pool address: {l}");
            assert_eq!(f[2], "1", "qos: {l}");
            if all_origin {
                assert_eq!(f[5], "L", "origin: {l}");
            }
            f
        })
        .collect()
}

/// Up and down octets per user over every file.
fn totals(dir: &Path, all_origin: bool) -> BTreeMap<String, (u64, u64)> {
    let mut t = BTreeMap::new();
    for (name, text) in usage_files(dir) {
        for f in parse(&name, &text, all_origin) {
            let (up, down): (u64, u64) = (f[3].parse().unwrap(), f[4].parse().unwrap());
            assert!(up + down > 0, "a line with no octets in {name}:\n{text}");
            let e = t.entry(f[0].clone()).or_insert((0, 0));
            e.0 += up;
            e.1 += down;
        }
    }
    t
}

#[test]
fn periodic_files_hold_the_octets_and_a_missing_directory_is_retried() {
    if skip_privileged() {
        return;
    }
    let dir = temp_dir("periodic");
    let mut lns = Lns::start(&LnsSetup {
        extra_config: format!(
            "set accounting_dir \"{}\"\nset accounting_dir_interval 2\nset cluster_interface \"lo\"\n",
            dir.display()
        ),
        ..LnsSetup::default()
    });
    let child = lns.loadgen_holding(&[
        "--sessions",
        "2",
        "--password",
        "secret-pw",
        "--pings",
        "3",
        "--hold",
        "15",
    ]);
    // The directory does not exist yet: one clear line, the daemon runs on.
    lns.wait_for_log("cannot write usage file", Duration::from_secs(10));
    lns.wait_for_log("No such file or directory", Duration::from_secs(5));
    assert!(usage_files(&dir).is_empty());
    fs::create_dir_all(&dir).expect("accounting dir");
    let want = BTreeMap::from([
        ("user1".to_string(), (3 * PING_IP_BYTES, 3 * PING_IP_BYTES)),
        ("user2".to_string(), (3 * PING_IP_BYTES, 3 * PING_IP_BYTES)),
    ]);
    wait_for(
        "usage files with every ping",
        Duration::from_secs(10),
        || totals(&dir, false) == want,
    );
    // Nothing new: the next periods write no file.
    let files = usage_files(&dir).len();
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(usage_files(&dir).len(), files, "{:?}", usage_files(&dir));
    assert_eq!(totals(&dir, false), want);
    let out = child.wait_with_output().expect("loadgen");
    assert!(out.status.success());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn closed_sessions_are_flushed_with_their_origin_at_shutdown() {
    if skip_privileged() {
        return;
    }
    let dir = temp_dir("closed");
    fs::create_dir_all(&dir).expect("accounting dir");
    let mut lns = Lns::start(&LnsSetup {
        extra_config: format!(
            "set accounting_dir \"{}\"\nset account_all_origin yes\nset cluster_interface \"lo\"\n",
            dir.display()
        ),
        ..LnsSetup::default()
    });
    let r = lns.loadgen(&["--sessions", "3", "--password", "secret-pw", "--pings", "2"]);
    r.assert_pass();
    wait_for("three sessions closed", Duration::from_secs(10), || {
        lns.log_text().matches("session closed").count() == 3
    });
    // The 5-minute file is far off: the shutdown writes the closed ones.
    assert!(usage_files(&dir).is_empty());
    lns.stop();
    let files = usage_files(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let want: BTreeMap<String, (u64, u64)> = (1..=3)
        .map(|i| (format!("user{i}"), (2 * PING_IP_BYTES, 2 * PING_IP_BYTES)))
        .collect();
    assert_eq!(totals(&dir, true), want, "{files:?}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn dump_speed_prints_the_bandwidth_every_second() {
    if skip_privileged() {
        return;
    }
    let mut lns = Lns::start(&LnsSetup {
        extra_config: "set dump_speed yes\n".into(),
        ..LnsSetup::default()
    });
    let r = lns.loadgen(&["--sessions", "2", "--password", "secret-pw", "--pings", "5"]);
    r.assert_pass();
    wait_for("three bandwidth lines", Duration::from_secs(10), || {
        lns.log_text().matches("UDP-ETH:").count() >= 3
    });
    let text = lns.log_text();
    // l2tpns's printf, alone on its line (no timestamp, no level).
    let line = text
        .lines()
        .find(|l| l.starts_with("UDP-ETH:"))
        .unwrap_or_else(|| panic!("{text}"));
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f.len(), 5, "{line}");
    assert!(
        f[0].starts_with("UDP-ETH:") && f[1].starts_with("ETH-UDP:"),
        "{line}"
    );
    assert!(
        f[2].starts_with("TOTAL:") && f[3].starts_with("IN:") && f[4].starts_with("OUT:"),
        "{line}"
    );
    // Pings and their replies went through: some second saw packets in.
    assert!(
        text.lines()
            .any(|l| l.starts_with("UDP-ETH:") && !l.contains("IN:0 ")),
        "{text}"
    );
    lns.stop();
}

#[test]
fn sighup_turns_accounting_dir_and_dump_speed_on() {
    if skip_privileged() {
        return;
    }
    let dir = temp_dir("reload");
    fs::create_dir_all(&dir).expect("accounting dir");
    let mut lns = Lns::start(&LnsSetup::default());
    let cfg_path = lns.files().join("startup-config");
    let cfg = fs::read_to_string(&cfg_path).expect("config")
        + &format!(
            "set accounting_dir \"{}\"\nset accounting_dir_interval 2\nset cluster_interface \"lo\"\nset dump_speed yes\n",
            dir.display()
        );
    fs::write(&cfg_path, cfg).expect("config");
    lns.signal(libc::SIGHUP);
    lns.wait_for_log("accounting_dir: now", Duration::from_secs(5));
    let r = lns.loadgen(&["--sessions", "1", "--password", "secret-pw", "--pings", "2"]);
    r.assert_pass();
    let want = BTreeMap::from([("user1".to_string(), (2 * PING_IP_BYTES, 2 * PING_IP_BYTES))]);
    wait_for(
        "a usage file after the reload",
        Duration::from_secs(10),
        || totals(&dir, false) == want,
    );
    assert!(lns.log_text().contains("UDP-ETH:"), "{}", lns.log_text());
    lns.stop();
    let _ = fs::remove_dir_all(&dir);
}
