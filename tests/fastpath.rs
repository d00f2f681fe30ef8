//! The kernel fast path (`data_path bpf`, Docs/FASTPATH.md) in the real
//! daemon: plain sessions go into its maps and their pings both ways are
//! forwarded by the programs, counted exactly once; a throttle takes a
//! session out to its worker and an unthrottle puts it back; a restart with
//! save_state keeps fast-path sessions forwarding; sessions coming and
//! going cost the others no packet; upstream the programs forward
//! postpones the LCP echoes as userspace traffic does; and nothing stays
//! loaded once the daemon is gone, even after SIGKILL.
//!
//! These tests set `data_path bpf` themselves, whatever
//! L2TPNS_TEST_DATA_PATH says: the other suites run on either path.

mod common;

use std::time::Duration;

use common::metrics::{scrape_at, value};
use common::*;

const ADDR: &str = "127.0.0.1:9100";

fn sum_of(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

fn fast_lns(users: usize, extra: &str) -> Lns {
    Lns::start(&LnsSetup {
        users,
        extra_config: format!("set data_path bpf\nset metrics_address \"{ADDR}\"\n{extra}"),
        ..LnsSetup::default()
    })
}

/// Wait until the series has the value (the fast path's figures are
/// refreshed once a second).
fn wait_value(lns: &Lns, series: &str, want: f64) -> String {
    let mut text = String::new();
    wait_for(&format!("{series} {want}"), Duration::from_secs(10), || {
        text = scrape_at(&lns.ns, ADDR);
        value(&text, series) == want
    });
    text
}

#[test]
fn plain_sessions_are_forwarded_by_the_programs_and_a_throttle_takes_one_out() {
    if skip_privileged() {
        return;
    }
    let lns = fast_lns(10, "load plugin \"throttlectl\"\n");
    let log = lns.log_text();
    assert!(
        log.contains("data path: kernel fast path"),
        "one start-up line names the path:\n{log}"
    );
    let held = lns.loadgen_holding(&[
        "--sessions",
        "10",
        "--password",
        "secret-pw",
        "--pings",
        "3",
        "--hold",
        "40",
        "--hold-ping-rate",
        "50",
    ]);
    let text = wait_value(&lns, "l2tpns_fastpath_sessions", 10.0);
    std::thread::sleep(Duration::from_secs(2));
    let text2 = scrape_at(&lns.ns, ADDR);
    let fast = |t: &str, d: &str| {
        value(
            t,
            &format!("l2tpns_fastpath_packets_total{{direction=\"{d}\"}}"),
        )
    };
    // 50 echo requests a second and their replies, in the programs.
    assert!(fast(&text2, "up") - fast(&text, "up") >= 50.0, "{text2}");
    assert!(
        fast(&text2, "down") - fast(&text, "down") >= 50.0,
        "{text2}"
    );
    // The loadgen sends zero UDP checksums, as a kernel LAC does.
    assert_eq!(
        value(
            &text2,
            "l2tpns_fastpath_passed_total{reason=\"up-udp-checksum\"}"
        ),
        0.0,
        "{text2}"
    );
    // Each packet is counted once: by a worker or by the programs.
    for d in ["up", "down"] {
        let label = format!("direction=\"{d}\"");
        let of = |prefix: &str| -> f64 {
            text2
                .lines()
                .filter(|l| l.starts_with(prefix) && l.contains(&label))
                .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
                .sum()
        };
        assert_eq!(
            of("l2tpns_worker_packets_total{") + of("l2tpns_fastpath_packets_total{"),
            of("l2tpns_packets_total{"),
            "{d}: {text2}"
        );
    }

    // A throttle is the worker's business: user1 leaves the maps, and
    // comes back when unthrottled. Its counts carry on through both moves.
    let before = debian_nsctl_ok(&lns, &["throttle", "user1", "1000"]);
    assert!(!before.contains("rror"), "{before}");
    wait_value(&lns, "l2tpns_fastpath_sessions", 9.0);
    debian_nsctl_ok(&lns, &["unthrottle", "user1"]);
    wait_value(&lns, "l2tpns_fastpath_sessions", 10.0);

    let summary = held_summary(held);
    assert_eq!(status_field(&summary, "lost_during_hold"), "0", "{summary}");
    assert_eq!(status_field(&summary, "result"), "PASS", "{summary}");
    // Hung up: out of the maps, every count folded into the totals.
    let end = wait_value(&lns, "l2tpns_fastpath_sessions", 0.0);
    assert_eq!(
        sum_of(&end, "l2tpns_worker_packets_total{")
            + sum_of(&end, "l2tpns_fastpath_packets_total{"),
        sum_of(&end, "l2tpns_packets_total{"),
        "{end}"
    );
}

/// Hold `sessions` for `secs`, pinging up through them at `ping_rate` (0:
/// quiet); the LCP echoes the LNS sent them meanwhile.
fn lcp_echoes_while_held(lns: &Lns, sessions: usize, secs: u32, ping_rate: u32) -> u64 {
    let (n, hold) = (sessions.to_string(), secs.to_string());
    let rate = ping_rate.to_string();
    let mut args = vec!["--sessions", &n, "--password", "secret-pw", "--hold", &hold];
    if ping_rate > 0 {
        args.extend(["--hold-ping-rate", &rate]);
    }
    let summary = held_summary(lns.loadgen_holding(&args));
    status_field(&summary, "lcp_echoes")
        .parse()
        .unwrap_or_else(|_| panic!("no lcp_echoes: {summary}"))
}

#[test]
fn upstream_through_the_programs_postpones_the_lcp_echoes() {
    if skip_privileged() {
        return;
    }
    // An echo after 3 s without hearing from a session (ppp_keepalive yes).
    let lns = fast_lns(5, "set echo_timeout 3\n");
    // Quiet sessions: about three echoes each in 10 s.
    let quiet = lcp_echoes_while_held(&lns, 5, 10, 0);
    assert!(quiet >= 10, "{quiet} echoes to 5 quiet sessions in 10 s");
    // Pings up through the programs (5 a second a session): the daemon
    // sees their counters move once a second and sends no echo once they
    // flow (one each at most, while the logins finish).
    let busy = lcp_echoes_while_held(&lns, 5, 10, 25);
    let text = scrape_at(&lns.ns, ADDR);
    assert!(
        value(&text, "l2tpns_fastpath_packets_total{direction=\"up\"}") >= 200.0,
        "the pings went up through the programs: {text}"
    );
    assert!(
        busy <= 5,
        "{busy} echoes to 5 sessions with traffic in 10 s"
    );
}

#[test]
fn sessions_keep_the_fast_path_through_a_save_state_restart() {
    if skip_privileged() {
        return;
    }
    let mut lns = fast_lns(
        100,
        "set save_state yes\nset state_file \"state/l2tpns.state\"\n",
    );
    let child = lns.loadgen_holding(&[
        "--tunnels",
        "2",
        "--sessions",
        "100",
        "--password",
        "secret-pw",
        "--hold",
        "12",
        "--hold-ping-rate",
        "200",
    ]);
    wait_value(&lns, "l2tpns_fastpath_sessions", 100.0);
    std::thread::sleep(Duration::from_secs(2));
    let status = lns.terminate_and_restart(2);
    assert!(
        status.success(),
        "SIGTERM with save_state exits 0: {status}"
    );
    lns.wait_for_log("state restored", Duration::from_secs(10));
    lns.wait_for_log("data path: kernel fast path", Duration::from_secs(5));
    // The restored sessions are back in the new daemon's maps, and the
    // programs forward their pings again.
    let first = wait_value(&lns, "l2tpns_fastpath_sessions", 100.0);
    std::thread::sleep(Duration::from_secs(2));
    let later = scrape_at(&lns.ns, ADDR);
    let up = |t: &str| value(t, "l2tpns_fastpath_packets_total{direction=\"up\"}");
    assert!(up(&later) - up(&first) >= 200.0, "{later}");

    let summary = held_summary(child);
    assert_eq!(status_field(&summary, "renegotiations"), "0", "{summary}");
    assert_eq!(status_field(&summary, "lost_during_hold"), "0", "{summary}");
    assert_eq!(
        status_field(&summary, "after_ok_sessions"),
        "100",
        "{summary}"
    );
    assert_eq!(status_field(&summary, "result"), "PASS", "{summary}");
}

/// Sessions that come and go (their map entries written and deleted,
/// their slots reused) cost the sessions already in the fast path no
/// packet.
#[test]
fn sessions_coming_and_going_cost_the_others_no_packet() {
    if skip_privileged() {
        return;
    }
    let lns = fast_lns(120, "");
    let held = lns.loadgen_holding(&[
        "--sessions",
        "20",
        "--password",
        "secret-pw",
        "--hold",
        "12",
        "--hold-ping-rate",
        "400",
    ]);
    wait_value(&lns, "l2tpns_fastpath_sessions", 20.0);
    let before = scrape_at(&lns.ns, ADDR);
    for round in 0..5 {
        let r = lns.loadgen(&[
            "--sessions",
            "100",
            "--first-index",
            "21",
            "--password",
            "secret-pw",
            "--pings",
            "2",
        ]);
        assert!(r.success, "churn round {round}: {}", r.stdout);
        assert_eq!(r.field("pings_received"), "200", "{}", r.stdout);
    }
    let after = scrape_at(&lns.ns, ADDR);
    assert_eq!(value(&after, "l2tpns_fastpath_sessions"), 20.0, "{after}");
    // The held pings and most of the churn's own went through the programs.
    let up = |t: &str| value(t, "l2tpns_fastpath_packets_total{direction=\"up\"}");
    assert!(up(&after) - up(&before) >= 500.0, "{after}");

    let summary = held_summary(held);
    let f = |n: &str| status_field(&summary, n);
    let sent: u64 = f("hold_pings_sent").parse().unwrap_or(0);
    assert!(sent >= 2000, "{summary}");
    assert_eq!(f("hold_pings_received"), f("hold_pings_sent"), "{summary}");
    assert_eq!(f("lost_during_hold"), "0", "{summary}");
    assert_eq!(f("renegotiations"), "0", "{summary}");
    assert_eq!(f("result"), "PASS", "{summary}");
}

/// The BPF program ids a process holds (its fds' fdinfo: programs and
/// the TCX links that attach them).
fn prog_ids(pid: u32) -> Vec<u32> {
    let mut ids = Vec::new();
    let dir = format!("/proc/{pid}/fdinfo");
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap_or_default();
        for l in text.lines() {
            if let Some(v) = l.strip_prefix("prog_id:") {
                ids.extend(v.trim().parse::<u32>().ok());
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Is a BPF program of this id still loaded (BPF_PROG_GET_FD_BY_ID)?
fn prog_loaded(id: u32) -> bool {
    const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
    let mut attr = [0u32; 4];
    attr[0] = id;
    // SAFETY: bpf(2) reads `size` bytes of attr, which is that large.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_GET_FD_BY_ID,
            attr.as_mut_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    if fd >= 0 {
        // SAFETY: our own new fd.
        unsafe { libc::close(fd as i32) };
        return true;
    }
    let e = std::io::Error::last_os_error();
    assert_eq!(
        e.raw_os_error(),
        Some(libc::ENOENT),
        "bpf(BPF_PROG_GET_FD_BY_ID, {id}): {e}"
    );
    false
}

fn wait_unloaded(ids: &[u32], how: &str) {
    // The kernel frees a program after an RCU grace period.
    wait_for(
        &format!("programs {ids:?} unloaded after {how}"),
        Duration::from_secs(5),
        || !ids.iter().any(|&id| prog_loaded(id)),
    );
}

#[test]
fn nothing_stays_loaded_after_quit_or_sigkill() {
    if skip_privileged() {
        return;
    }
    for signal in [libc::SIGQUIT, libc::SIGKILL] {
        let mut lns = fast_lns(1, "");
        let ids = prog_ids(lns.pid());
        assert!(ids.len() >= 2, "the daemon holds both programs: {ids:?}");
        assert!(ids.iter().all(|&id| prog_loaded(id)));
        if signal == libc::SIGQUIT {
            let st = lns.stop().expect("stopped");
            assert!(st.success(), "clean exit: {st}\n{}", lns.log_text());
        } else {
            lns.signal(libc::SIGKILL);
            let _ = lns.stop();
        }
        wait_unloaded(
            &ids,
            if signal == libc::SIGQUIT {
                "QUIT"
            } else {
                "SIGKILL"
            },
        );
        // No cls_bpf filter left behind either (the fallback on old kernels).
        for dir in ["ingress", "egress"] {
            let out = lns.ns.exec_ok(&["tc", "filter", "show", "dev", "lo", dir]);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(!text.contains("l2tpns"), "{dir}: {text}");
        }
    }
}

#[test]
fn a_device_that_comes_up_after_start_is_attached() {
    if skip_privileged() {
        return;
    }
    // bpf_interfaces unset: every Ethernet device that is up, then or later.
    let mut lns = fast_lns(1, "");
    lns.wait_for_log("data path: kernel fast path", Duration::from_secs(5));
    lns.ns.exec_ok(&[
        "ip", "link", "add", "late0", "type", "veth", "peer", "name", "late1",
    ]);
    lns.ns.exec_ok(&["ip", "link", "set", "late1", "up"]);
    lns.ns.exec_ok(&["ip", "link", "set", "late0", "up"]);
    lns.wait_for_log(
        "the fast path now takes upstream on late0",
        Duration::from_secs(15),
    );
    // Made again: a new device under the same name is attached again.
    lns.ns.exec_ok(&["ip", "link", "del", "late0"]);
    lns.ns.exec_ok(&[
        "ip", "link", "add", "late0", "type", "veth", "peer", "name", "late1",
    ]);
    lns.ns.exec_ok(&["ip", "link", "set", "late0", "up"]);
    wait_for("late0 attached twice", Duration::from_secs(15), || {
        lns.log_text()
            .matches("the fast path now takes upstream on late0")
            .count()
            == 2
    });
}
