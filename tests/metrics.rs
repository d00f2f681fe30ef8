//! The Prometheus endpoint (`metrics_address`) of the real daemon in its
//! namespace: figures against the state the load generator made (sessions,
//! tunnels, logins, packets after pings), `promtool check metrics` on the
//! scrape, the HTTP edges (404, 405, 400, HEAD), a silent client that must
//! not stall scrapes, and a taken port refused at start-up.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::metrics::{http_at, in_netns, scrape_at, value};
use common::*;

const ADDR: &str = "127.0.0.1:9100";

/// One request to the endpoint, the whole answer.
fn http(ns: &Netns, request: &str) -> String {
    http_at(ns, ADDR, request)
}

fn scrape(ns: &Netns) -> String {
    scrape_at(ns, ADDR)
}

fn sum_of(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; contrib/run-tests.sh installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}\n---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn scrape_matches_the_sessions_logins_and_packets() {
    if skip_privileged() {
        return;
    }
    let mut lns = Lns::start(&LnsSetup {
        users: 20,
        extra_config: format!("set metrics_address \"{ADDR}\"\n"),
        ..LnsSetup::default()
    });
    lns.wait_for_log("serving Prometheus metrics", Duration::from_secs(5));
    let idle = scrape(&lns.ns);
    assert_eq!(value(&idle, "l2tpns_sessions{state=\"up\"}"), 0.0);
    assert_eq!(value(&idle, "l2tpns_build_info{version=\"0.1.0\"}"), 1.0);

    let mut held = lns.loadgen_holding(&[
        "--tunnels",
        "2",
        "--sessions",
        "20",
        "--password",
        "secret-pw",
        "--pings",
        "3",
        "--hold",
        "60",
    ]);
    // Two wrong passwords: rejected logins.
    let r = lns.loadgen(&[
        "--sessions",
        "2",
        "--first-index",
        "3",
        "--password",
        "wrong",
        "--pings",
        "0",
    ]);
    assert_eq!(r.field("auth_failed"), "2", "{}", r.stdout);

    let status = lns.status();
    let text = scrape(&lns.ns);
    promtool_check(&text);
    assert_eq!(value(&text, "l2tpns_sessions{state=\"up\"}"), 20.0);
    assert_eq!(sum_of(&text, "l2tpns_sessions{"), 20.0, "{text}");
    assert_eq!(value(&text, "l2tpns_tunnels{state=\"established\"}"), 2.0);
    // The wrong-password LAC's tunnel may still linger, closing.
    assert_eq!(
        sum_of(&text, "l2tpns_tunnels{") - value(&text, "l2tpns_tunnels{state=\"closing\"}"),
        2.0,
        "{text}"
    );
    assert_eq!(
        value(&text, "l2tpns_logins_total{result=\"accepted\"}"),
        20.0
    );
    assert_eq!(
        value(&text, "l2tpns_logins_total{result=\"rejected\"}"),
        2.0
    );
    assert_eq!(value(&text, "l2tpns_sessions_opened_total"), 20.0);
    let num = |name: &str| status_field(&status, name).parse::<f64>().unwrap_or(-1.0);
    assert_eq!(
        value(&text, "l2tpns_pool_free_addresses"),
        num("free_addresses")
    );
    // 3 pings per session, each answered by the kernel through the TUN.
    let up = value(&text, "l2tpns_packets_total{direction=\"up\"}");
    let down = value(&text, "l2tpns_packets_total{direction=\"down\"}");
    assert!(up >= 60.0 && down >= 60.0, "up {up} down {down}");
    assert_eq!(up, num("up_packets"), "{status}");
    assert_eq!(down, num("down_packets"), "{status}");
    // An echo of 56 bytes of data is an 84-byte IPv4 packet.
    assert!(value(&text, "l2tpns_bytes_total{direction=\"up\"}") >= up * 84.0);
    assert!(value(&text, "l2tpns_bytes_total{direction=\"down\"}") >= down * 84.0);
    // The workers and the kernel fast path (data_path bpf) share the total.
    let fast = sum_of(&text, "l2tpns_fastpath_packets_total{");
    assert_eq!(
        sum_of(&text, "l2tpns_worker_packets_total{") + fast,
        up + down,
        "{text}"
    );
    if test_data_path().as_deref() == Some("bpf") {
        // The pings and their replies are plain IPv4 of plain sessions
        // (the fast path's figures are refreshed once a second).
        let fast_ok = |t: &str| {
            value(t, "l2tpns_fastpath_sessions") == 20.0
                && value(t, "l2tpns_fastpath_packets_total{direction=\"up\"}") >= 40.0
                && value(t, "l2tpns_fastpath_packets_total{direction=\"down\"}") >= 40.0
        };
        let mut t = text.clone();
        for _ in 0..20 {
            if fast_ok(&t) {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
            t = scrape(&lns.ns);
        }
        assert!(fast_ok(&t), "the fast path forwarded too little:\n{t}");
    }
    assert!(value(&text, "l2tpns_uptime_seconds") > 0.0);
    assert!(value(&text, "l2tpns_metrics_snapshot_seconds") < 0.1);
    assert!(value(&text, "l2tpns_metrics_snapshot_cpu_seconds") < 0.1);
    assert_eq!(
        value(
            &text,
            "l2tpns_dropped_packets_total{reason=\"udp-receive-buffer-full\"}"
        ),
        0.0
    );

    let _ = held.kill();
    let _ = held.wait();
}

#[test]
fn bad_requests_are_answered_counted_and_do_not_stall_scrapes() {
    if skip_privileged() {
        return;
    }
    let mut lns = Lns::start(&LnsSetup {
        extra_config: "set metrics_address \"9100\"\n".into(), // bare port: 127.0.0.1
        ..LnsSetup::default()
    });
    lns.wait_for_log("serving Prometheus metrics", Duration::from_secs(5));
    let first_line = |a: String| a.lines().next().unwrap_or("").to_string();
    assert_eq!(
        first_line(http(&lns.ns, "GET /nope HTTP/1.1\r\n\r\n")),
        "HTTP/1.1 404 Not Found"
    );
    assert_eq!(
        first_line(http(&lns.ns, "POST /metrics HTTP/1.1\r\n\r\n")),
        "HTTP/1.1 405 Method Not Allowed"
    );
    assert_eq!(
        first_line(http(&lns.ns, "\x16\x03\x01 not http\r\n\r\n")),
        "HTTP/1.1 400 Bad Request"
    );
    let big = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(9000));
    assert_eq!(
        first_line(http(&lns.ns, &big)),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    let head = http(&lns.ns, "HEAD /metrics HTTP/1.0\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.ends_with("\r\n\r\n"), "HEAD has no body: {head}");

    // A client that connects and says nothing holds one connection until
    // the read limit (5 s); scrapes meanwhile are answered at once.
    let silent = in_netns(&lns.ns, || {
        let s = TcpStream::connect(ADDR).expect("connect");
        std::thread::spawn(move || {
            let mut s = s;
            let t0 = Instant::now();
            let mut buf = Vec::new();
            let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
            let _ = s.read_to_end(&mut buf);
            (t0.elapsed(), buf)
        })
    });
    let t0 = Instant::now();
    let text = scrape(&lns.ns);
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    promtool_check(&text);
    let (held_for, said) = silent.join().unwrap();
    assert!(said.is_empty(), "{}", String::from_utf8_lossy(&said));
    assert!(
        held_for >= Duration::from_secs(4) && held_for < Duration::from_secs(15),
        "{held_for:?}"
    );
    let text = scrape(&lns.ns);
    let count = |result: &str| {
        value(
            &text,
            &format!("l2tpns_metrics_http_requests_total{{result=\"{result}\"}}"),
        )
    };
    assert_eq!(count("not_found"), 1.0);
    assert_eq!(count("bad_method"), 1.0);
    assert_eq!(count("bad_request"), 1.0);
    assert_eq!(count("too_large"), 1.0);
    assert_eq!(count("timeout"), 1.0);
    assert_eq!(count("ok"), 2.0, "HEAD and the first scrape");
}

#[test]
fn a_taken_port_stops_the_start_up_naming_metrics_address() {
    // No root needed: the port is bound before the TUN is opened.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = std::env::temp_dir().join(format!("l2tpns-metrics-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("startup-config"),
        format!("set metrics_address \"{addr}\"\nset tundevicename \"l2tpmx0\"\n"),
    )
    .unwrap();
    std::fs::write(dir.join("ip_pool"), "10.0.0.0/24\n").unwrap();
    std::fs::write(dir.join("ppp-secrets"), "u * p *\n").unwrap();
    let out = Command::new(DAEMON)
        .arg("-c")
        .arg(dir.join("startup-config"))
        .output()
        .expect("run l2tpns");
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("metrics_address {addr}")) && stderr.contains("in use"),
        "{stderr}"
    );
}

#[test]
fn radius_requests_and_reply_latency_per_server() {
    if skip_privileged() {
        return;
    }
    let mut lns = Lns::start(&LnsSetup {
        users: 0,
        extra_config: format!(
            "set metrics_address \"{ADDR}\"\nset primary_radius 127.0.0.1\n\
             set radius_secret \"{RADIUS_SECRET}\"\nset radius_accounting yes\n"
        ),
        radius: vec![RadiusSetup {
            users: "bob\tCleartext-Password := \"bob-pw\"\n".into(),
            ..RadiusSetup::default()
        }],
        ..LnsSetup::default()
    });
    lns.wait_for_log("serving Prometheus metrics", Duration::from_secs(5));
    let r = lns.loadgen(&[
        "--user-pattern",
        "bob",
        "--password",
        "bob-pw",
        "--pings",
        "1",
    ]);
    r.assert_pass();
    let text = scrape(&lns.ns);
    promtool_check(&text);
    let server = "server=\"127.0.0.1:1812\"";
    assert_eq!(
        value(
            &text,
            &format!("l2tpns_radius_responses_total{{{server},result=\"accept\"}}")
        ),
        1.0
    );
    // Accounting-On, Start and Stop may still be on their way; the login's
    // Access-Request and its reply are done.
    assert!(value(&text, &format!("l2tpns_radius_requests_total{{{server}}}")) >= 2.0);
    let replies = value(
        &text,
        &format!("l2tpns_radius_reply_duration_seconds_count{{{server}}}"),
    );
    let answered = sum_of(&text, "l2tpns_radius_responses_total{");
    assert_eq!(replies, answered, "{text}");
    assert!(
        value(
            &text,
            &format!("l2tpns_radius_reply_duration_seconds_sum{{{server}}}")
        ) < replies * 3.0
    );
    assert_eq!(
        value(
            &text,
            &format!("l2tpns_radius_server_up{{{server},purpose=\"auth\"}}")
        ),
        1.0
    );
    assert_eq!(
        value(&text, "l2tpns_logins_total{result=\"accepted\"}"),
        1.0
    );
}
