//! systemd readiness: the real daemon, with NOTIFY_SOCKET pointing at a
//! datagram socket of the test, says READY=1 once it is up, RELOADING=1
//! with MONOTONIC_USEC and then READY=1 around a SIGHUP, WATCHDOG=1 when
//! WATCHDOG_USEC asks for it, and STOPPING=1 on SIGQUIT. Needs root (TUN).

mod common;
use common::*;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

/// The daemon's datagrams, WATCHDOG=1 counted apart from the rest.
struct Notifications {
    sock: UnixDatagram,
    watchdog: usize,
}

impl Notifications {
    /// The next message that is not a watchdog ping.
    fn next(&mut self, limit: Duration) -> String {
        let t0 = Instant::now();
        let mut buf = [0u8; 4096];
        while t0.elapsed() < limit {
            let Ok(n) = self.sock.recv(&mut buf) else {
                continue; // read timeout
            };
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            if msg == "WATCHDOG=1\n" {
                self.watchdog += 1;
            } else {
                return msg;
            }
        }
        panic!("no notification in {limit:?}");
    }
}

fn monotonic_usec() -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) },
        0
    );
    i128::from(ts.tv_sec) * 1_000_000 + i128::from(ts.tv_nsec) / 1_000
}

#[test]
fn ready_reloading_watchdog_stopping() {
    if skip_privileged() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("l2tpns-notify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut n = Notifications { sock, watchdog: 0 };

    // A 400 ms watchdog: a ping every 200 ms.
    let mut lns = Lns::start(&LnsSetup {
        env: vec![
            ("NOTIFY_SOCKET".into(), path.display().to_string()),
            ("WATCHDOG_USEC".into(), "400000".into()),
        ],
        ..Default::default()
    });
    assert_eq!(n.next(Duration::from_secs(10)), "READY=1\n");

    std::thread::sleep(Duration::from_millis(1100));
    let before = monotonic_usec();
    lns.signal(libc::SIGHUP);
    let reload = n.next(Duration::from_secs(5));
    let mut lines = reload.lines();
    assert_eq!(lines.next(), Some("RELOADING=1"), "{reload:?}");
    let usec: i128 = lines
        .next()
        .and_then(|l| l.strip_prefix("MONOTONIC_USEC="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no MONOTONIC_USEC in {reload:?}"));
    assert!(
        usec >= before && usec <= monotonic_usec(),
        "MONOTONIC_USEC={usec} not between the signal and now"
    );
    assert_eq!(n.next(Duration::from_secs(5)), "READY=1\n");
    assert!(
        n.watchdog >= 3,
        "{} watchdog pings in over a second, expected one per 200 ms",
        n.watchdog
    );

    let status = lns.stop();
    assert!(status.is_some_and(|s| s.success()), "exit: {status:?}");
    assert_eq!(n.next(Duration::from_secs(2)), "STOPPING=1\n");
    let _ = std::fs::remove_dir_all(&dir);
}
