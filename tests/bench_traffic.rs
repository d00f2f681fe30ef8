//! Benchmark traffic end to end: 20 sessions through the real daemon in a
//! namespace, 2 s of upstream (loadgen -> sink on the LNS's TUN address)
//! and 2 s of downstream (source in the namespace -> session addresses ->
//! loadgen) at a modest fixed rate, with no loss and every session counted;
//! and upstream with a spoofed inner source, all dropped and counted. Both
//! run on either data path (contrib/run-tests.sh runs this file again with
//! L2TPNS_TEST_DATA_PATH=bpf).

mod common;

use common::metrics::{scrape_at, value};
use common::*;
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::Duration;

fn field(line: &str, name: &str) -> u64 {
    status_field(line, name)
        .parse()
        .unwrap_or_else(|_| panic!("no numeric {name} in {line}"))
}

/// `l2tpns-loadgen sink` on `addr` in the LNS's namespace, given a moment
/// to bind; SIGTERM makes it print its line.
fn start_sink(lns: &Lns, addr: &str, extra: &[&str]) -> std::process::Child {
    let sink = lns
        .ns
        .command(LOADGEN)
        .args(["sink", "--bind", addr, "--duration", "120"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sink");
    std::thread::sleep(Duration::from_millis(300));
    sink
}

/// Where the LNS serves its metrics, in its namespace.
const METRICS: &str = "127.0.0.1:9100";

/// The LNS with its metrics on [`METRICS`], and the sink's address (on its
/// TUN address).
fn start_lns() -> (Lns, String) {
    let lns = Lns::start(&LnsSetup {
        extra_config: format!("set metrics_address \"{METRICS}\"\n"),
        ..LnsSetup::default()
    });
    (lns, format!("{TUN_ADDRESS}:9000"))
}

#[test]
fn twenty_sessions_carry_two_seconds_each_way_without_loss() {
    if skip_privileged() {
        return;
    }
    let (lns, sink_addr) = start_lns();
    let sink = start_sink(&lns, &sink_addr, &["--per-source"]);
    let pid = lns.pid().to_string();
    let mut lg = lns
        .ns
        .command(LOADGEN)
        .args(["--server", "127.0.0.1:1701"])
        .args(["--expect-dns", &format!("{DNS1},{DNS2}")])
        .args([
            "--tunnels",
            "2",
            "--sessions",
            "20",
            "--password",
            "secret-pw",
        ])
        .args(["--threads", "2", "--traffic", "both", "--rate", "2000"])
        .args(["--duration", "2", "--sink", &sink_addr, "--lns-pid", &pid])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start loadgen");
    let stderr = lg.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("TRAFFIC START") => break,
            Some(Ok(_)) => {}
            _ => panic!("loadgen ended before its traffic phase"),
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let source = lns
        .ns
        .command(LOADGEN)
        .args(["source", "--to", "10.100.0.0/20", "--sessions", "20"])
        .args(["--rate", "2000", "--size", "200", "--duration", "2"])
        .output()
        .expect("run source");
    let source_out = String::from_utf8_lossy(&source.stdout).into_owned();
    assert!(source.status.success(), "source: {source_out}");
    let mut out = String::new();
    lg.stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("loadgen output");
    let st = lg.wait().expect("loadgen exit");
    // SAFETY: our own child by PID; the sink prints its line on SIGTERM.
    unsafe { libc::kill(sink.id() as libc::pid_t, libc::SIGTERM) };
    let sink_out = sink.wait_with_output().expect("sink output");
    let sink_out = String::from_utf8_lossy(&sink_out.stdout).into_owned();
    assert!(st.success(), "loadgen failed:\n{out}");

    let summary = out.lines().find(|l| l.starts_with("SUMMARY")).unwrap_or("");
    let traffic = out.lines().find(|l| l.starts_with("TRAFFIC")).unwrap_or("");
    let source_line = source_out
        .lines()
        .find(|l| l.starts_with("SOURCE"))
        .unwrap_or("");
    eprintln!("{out}{source_line}\n{sink_out}");
    assert_eq!(status_field(summary, "up"), "20", "{out}");
    assert_eq!(status_field(summary, "threads"), "2", "{out}");

    // Upstream: everything sent reached the sink, evenly over 20 sources.
    let up_sent = field(traffic, "up_sent");
    assert!((3900..=4100).contains(&up_sent), "{traffic}");
    assert_eq!(status_field(traffic, "sink_report"), "yes", "{traffic}");
    assert_eq!(field(traffic, "up_received"), up_sent, "{traffic}");
    assert_eq!(field(traffic, "up_lost"), 0, "{traffic}");
    assert_eq!(field(traffic, "sink_sources"), 20, "{traffic}");
    let (lo, hi) = (
        field(traffic, "sink_min_source"),
        field(traffic, "sink_max_source"),
    );
    assert!(
        hi - lo <= 1 && lo * 20 <= up_sent && hi * 20 >= up_sent,
        "{traffic}"
    );
    let per_source: Vec<&str> = sink_out
        .lines()
        .filter(|l| l.starts_with("SINK_SOURCE"))
        .collect();
    assert_eq!(per_source.len(), 20, "{sink_out}");
    for l in per_source {
        assert!((lo..=hi).contains(&field(l, "packets")), "{l}");
        assert_eq!(field(l, "lost"), 0, "{l}");
    }

    // Downstream: every packet the source sent arrived on its session.
    let down_sent = field(source_line, "sent");
    assert!((3900..=4100).contains(&down_sent), "{source_line}");
    assert_eq!(
        field(traffic, "down_received"),
        down_sent,
        "{traffic}\n{source_line}"
    );
    assert_eq!(field(traffic, "down_lost"), 0, "{traffic}");
    assert_eq!(field(traffic, "misdelivered"), 0, "{traffic}");
    assert_eq!(
        field(traffic, "down_min_session"),
        field(source_line, "min_per_dest"),
        "{traffic}"
    );
    assert_eq!(
        field(traffic, "down_max_session"),
        field(source_line, "max_per_dest"),
        "{traffic}"
    );
    assert_eq!(field(summary, "traffic_lost"), 0, "{summary}");
    assert!(status_field(traffic, "lns_cpu_s") != "-", "{traffic}");

    // On the kernel fast path the programs carried all of it, both ways
    // (the counts also hold the loadgen's pings): the source's datagrams
    // (checksum 0, as complete as what comes from a NIC) are not taken for
    // a local socket's partial checksum (down-partial-checksum, which the
    // sink's reports to the loadgen do take).
    if test_data_path().as_deref() == Some("bpf") {
        let text = scrape_at(&lns.ns, METRICS);
        let fast = |d: &str| {
            value(
                &text,
                &format!("l2tpns_fastpath_packets_total{{direction=\"{d}\"}}"),
            )
        };
        assert!(fast("up") >= up_sent as f64, "up {up_sent}:\n{text}");
        assert!(
            fast("down") >= down_sent as f64,
            "down {down_sent}:\n{text}"
        );
    }
}

/// Anti-spoofing: upstream whose inner source is not its session's address
/// never reaches the sink, and every packet is counted as dropped for it.
/// On the kernel fast path the programs hand such packets to userspace
/// (`up-spoofed-source`), which drops them the same way.
#[test]
fn spoofed_upstream_is_dropped_and_counted() {
    if skip_privileged() {
        return;
    }
    let (lns, sink_addr) = start_lns();
    let sink = start_sink(&lns, &sink_addr, &[]);
    let r = lns.loadgen(&[
        "--sessions",
        "4",
        "--password",
        "secret-pw",
        "--traffic",
        "up",
        "--rate",
        "1000",
        "--duration",
        "1",
        "--sink",
        &sink_addr,
        "--spoof-source",
        "10.99.99.99",
    ]);
    // SAFETY: our own child by PID; the sink prints its line on SIGTERM.
    unsafe { libc::kill(sink.id() as libc::pid_t, libc::SIGTERM) };
    let sink_out = sink.wait_with_output().expect("sink output");
    let sink_out = String::from_utf8_lossy(&sink_out.stdout).into_owned();
    let traffic = r
        .stdout
        .lines()
        .find(|l| l.starts_with("TRAFFIC"))
        .unwrap_or("")
        .to_string();
    eprintln!("{}\n{sink_out}", r.stdout);
    let sent = field(&traffic, "up_sent");
    assert!((900..=1100).contains(&sent), "{traffic}");
    // The sink answered (its report is asked for from a real address) and
    // saw none of them.
    assert_eq!(status_field(&traffic, "sink_report"), "yes", "{traffic}");
    assert_eq!(field(&traffic, "up_received"), 0, "{traffic}");
    let series = "l2tpns_dropped_packets_total{reason=\"spoofed-source\"}";
    let mut text = String::new();
    wait_for(&format!("{series} {sent}"), Duration::from_secs(10), || {
        text = scrape_at(&lns.ns, METRICS);
        value(&text, series) == sent as f64
    });
    if test_data_path().as_deref() == Some("bpf") {
        let passed = value(
            &text,
            "l2tpns_fastpath_passed_total{reason=\"up-spoofed-source\"}",
        );
        assert!(passed >= sent as f64, "{passed} < {sent}:\n{text}");
    }
}
