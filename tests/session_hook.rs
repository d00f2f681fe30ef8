//! session_hook end to end: the daemon in a namespace runs an operator's
//! script at each session's up and down with the session's facts in its
//! environment; and a script that sleeps 30 s delays no login (setup time
//! of 50 sessions with and without it), is killed at session_hook_timeout
//! and counted.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

/// IP size of one loadgen echo request or reply (56 data bytes).
const PING_IP_BYTES: u64 = 84;

/// An executable `#!/bin/sh` script in `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("script");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
    p
}

/// Every file `EVENT.TUNNEL.SESSION` the recording hook wrote, parsed
/// into its `NAME=value` lines.
fn runs(dir: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let Ok(rd) = fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    rd.filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("up.") || n.starts_with("down."))
        // A run still writing has only its temporary file.
        .filter(|n| !n.ends_with(".tmp"))
        .map(|n| {
            let text = fs::read_to_string(dir.join(&n)).unwrap_or_default();
            let vars = text
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            (n, vars)
        })
        .collect()
}

/// A temp dir and a hook in it that writes its arguments, PATH and
/// `L2TPNS_*` variables to `EVENT.TUNNEL.SESSION` there (under a temporary
/// name, renamed: the test never reads half a file).
fn recording_hook(tag: &str) -> (PathBuf, PathBuf) {
    let out = std::env::temp_dir().join(format!("session-hook-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).expect("out dir");
    let hook = script(
        &out,
        "record",
        &format!(
            "f={o}/$1.$L2TPNS_TUNNEL.$L2TPNS_SESSION\n\
             {{ echo \"ARGS=$#:$*\"; echo \"PATH=$PATH\"; env | grep '^L2TPNS_' | sort; }} > $f.tmp && mv $f.tmp $f",
            o = out.display()
        ),
    );
    (out, hook)
}

fn field(status: &str, name: &str) -> u64 {
    status_field(status, name).parse().unwrap_or(0)
}

#[test]
fn the_hook_sees_each_sessions_facts_at_up_and_down() {
    if skip_privileged() {
        return;
    }
    let (out, hook) = recording_hook("facts");
    let mut lns = Lns::start(&LnsSetup {
        extra_config: format!("set session_hook \"{}\"\n", hook.display()),
        ..LnsSetup::default()
    });
    let r = lns.loadgen(&["--sessions", "3", "--password", "secret-pw", "--pings", "3"]);
    r.assert_pass();
    wait_for(
        "three up and three down runs",
        Duration::from_secs(10),
        || runs(&out).len() == 6,
    );
    let all = runs(&out);
    let mut addresses = Vec::new();
    for (name, up) in all.iter().filter(|(n, _)| n.starts_with("up.")) {
        let ids = name.strip_prefix("up.").unwrap();
        let down = &all[&format!("down.{ids}")];
        let (tunnel, session) = ids.split_once('.').unwrap();
        let v = |m: &BTreeMap<String, String>, k: &str| m.get(k).cloned().unwrap_or_default();
        assert_eq!(v(up, "ARGS"), "1:up", "{up:?}");
        assert_eq!(v(down, "ARGS"), "1:down", "{down:?}");
        assert_eq!(
            v(up, "PATH"),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        );
        assert_eq!(v(up, "L2TPNS_EVENT"), "up");
        assert_eq!(v(down, "L2TPNS_EVENT"), "down");
        assert_eq!(v(up, "L2TPNS_TUNNEL"), tunnel);
        assert_eq!(v(up, "L2TPNS_SESSION"), session);
        let sid: u32 = (tunnel.parse::<u32>().unwrap() << 16) | session.parse::<u32>().unwrap();
        assert_eq!(v(up, "L2TPNS_SID"), sid.to_string());
        assert!(v(up, "L2TPNS_USER").starts_with("user"), "{up:?}");
        assert!(v(up, "L2TPNS_ADDRESS").starts_with("10.100."), "{up:?}");
        assert_eq!(v(up, "L2TPNS_LAC_ADDRESS"), "127.0.0.1");
        assert!(v(up, "L2TPNS_LAC_PORT").parse::<u16>().unwrap() > 0);
        let acct = v(up, "L2TPNS_ACCT_SESSION_ID");
        assert_eq!(acct.len(), 16, "{up:?}");
        assert!(up.contains_key("L2TPNS_CALLING_NUMBER"), "{up:?}");
        assert!(up.contains_key("L2TPNS_CALLED_NUMBER"), "{up:?}");
        assert!(!up.contains_key("L2TPNS_ROUTES"), "{up:?}");
        assert!(!up.contains_key("L2TPNS_RX_BYTES"), "{up:?}");
        // The log's "session up" line names the same user and address.
        let log = lns.log_text();
        assert!(
            log.lines().any(|l| l.contains("session up")
                && l.contains(&format!("ip={}", v(up, "L2TPNS_ADDRESS")))
                && l.contains(&format!("user=\"{}\"", v(up, "L2TPNS_USER")))),
            "{log}"
        );
        // Down: the same session, with what it carried and why it ended
        for k in [
            "L2TPNS_USER",
            "L2TPNS_ADDRESS",
            "L2TPNS_TUNNEL",
            "L2TPNS_SESSION",
            "L2TPNS_SID",
            "L2TPNS_LAC_ADDRESS",
            "L2TPNS_LAC_PORT",
            "L2TPNS_ACCT_SESSION_ID",
        ] {
            assert_eq!(v(up, k), v(down, k), "{k}");
        }
        assert_eq!(v(down, "L2TPNS_RX_BYTES"), (3 * PING_IP_BYTES).to_string());
        assert_eq!(v(down, "L2TPNS_TX_BYTES"), (3 * PING_IP_BYTES).to_string());
        assert_eq!(v(down, "L2TPNS_RX_PACKETS"), "3");
        assert_eq!(v(down, "L2TPNS_TX_PACKETS"), "3");
        assert!(v(down, "L2TPNS_SESSION_SECONDS").parse::<u64>().unwrap() < 60);
        // The load generator's CDNs say 3, administrative (as the
        // accounting Stop's Acct-Terminate-Cause).
        assert_eq!(v(down, "L2TPNS_CAUSE"), "Admin-Reset", "{down:?}");
        addresses.push(v(up, "L2TPNS_ADDRESS"));
    }
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), 3, "{all:?}");
    let st = lns.status();
    assert_eq!(
        (field(&st, "hooks_started"), field(&st, "hooks_succeeded")),
        (6, 6),
        "{st}"
    );
    let _ = fs::remove_dir_all(&out);
}

#[test]
fn a_clean_shutdown_runs_down_for_every_session_before_exiting() {
    if skip_privileged() {
        return;
    }
    let (out, hook) = recording_hook("shutdown");
    let mut lns = Lns::start(&LnsSetup {
        extra_config: format!("set session_hook \"{}\"\n", hook.display()),
        ..LnsSetup::default()
    });
    let mut held =
        lns.loadgen_holding(&["--sessions", "2", "--password", "secret-pw", "--hold", "30"]);
    wait_for("two up runs", Duration::from_secs(10), || {
        runs(&out).len() == 2
    });
    let status = lns.stop().expect("the daemon exits");
    assert!(status.success(), "{status}");
    // Written before the daemon exited, not after.
    let all = runs(&out);
    let downs: Vec<_> = all.iter().filter(|(n, _)| n.starts_with("down.")).collect();
    assert_eq!(downs.len(), 2, "{all:?}");
    for (_, d) in downs {
        assert_eq!(d["L2TPNS_CAUSE"], "Admin-Reboot", "{d:?}");
    }
    let _ = held.kill();
    let _ = held.wait();
    let _ = fs::remove_dir_all(&out);
}

#[test]
fn a_hook_that_sleeps_delays_no_login_and_is_killed_at_its_timeout() {
    if skip_privileged() {
        return;
    }
    let mut lns = Lns::start(&LnsSetup::default());
    let args = [
        "--tunnels",
        "5",
        "--sessions",
        "50",
        "--password",
        "secret-pw",
        "--pings",
        "1",
    ];
    let setup = |r: &LoadgenResult| -> f64 {
        r.assert_pass();
        assert_eq!(r.field("up"), "50", "{}", r.stdout);
        r.field("setup_s").parse().unwrap()
    };
    let without = setup(&lns.loadgen(&args));

    // The same daemon, told by SIGHUP to run a hook that sleeps 30 s and
    // to kill it after 2.
    let hook = script(lns.files(), "sleepy", "sleep 30");
    let cfg_path = lns.files().join("startup-config");
    let cfg = fs::read_to_string(&cfg_path).expect("config")
        + &format!(
            "set session_hook \"{}\"\nset session_hook_timeout 2\n",
            hook.display()
        );
    fs::write(&cfg_path, cfg).expect("config");
    lns.signal(libc::SIGHUP);
    lns.wait_for_log("session_hook_timeout: now 2", Duration::from_secs(5));
    let with = setup(&lns.loadgen(&args));
    eprintln!(
        "SESSION_HOOK_LATENCY setup_s without_hook={without:.3} with_sleeping_hook={with:.3}"
    );
    assert!(
        with < 2.0 * without + 1.0,
        "50 logins took {with:.3} s with a sleeping hook, {without:.3} s without"
    );
    // At most 32 runs at once (session_hook_max_running), the others
    // waiting; each session's down after its up; every one killed at 2 s.
    let mut most_at_once = 0;
    wait_for("100 runs killed", Duration::from_secs(40), || {
        let st = lns.status();
        most_at_once = most_at_once.max(field(&st, "hooks_running"));
        field(&st, "hooks_timed_out") == 100
    });
    eprintln!("SESSION_HOOK_CONCURRENCY most_running_seen={most_at_once}");
    assert!((2..=32).contains(&most_at_once), "{most_at_once}");
    let st = lns.status();
    assert_eq!(
        (
            field(&st, "hooks_started"),
            field(&st, "hooks_succeeded"),
            field(&st, "hooks_running"),
            field(&st, "hooks_queued"),
            field(&st, "hooks_dropped"),
        ),
        (100, 0, 0, 0, 0),
        "{st}"
    );
    let log = lns.log_text();
    assert_eq!(
        log.matches("still running after session_hook_timeout (2 s): killed")
            .count(),
        1,
        "a warning the first time only:\n{log}"
    );
}
