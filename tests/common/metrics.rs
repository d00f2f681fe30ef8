//! The daemon's /metrics from a test: an HTTP client run inside the
//! namespace (no curl needed), the scrape, one series' value.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::Duration;

use super::Netns;

/// Run `f` on a thread that has entered the namespace (setns affects only
/// the calling thread): the test's own HTTP client, no curl needed.
pub fn in_netns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{}", ns.name);
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: a valid namespace fd; only this thread changes namespace.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("netns thread")
}

/// One request to `addr`, the whole answer (the server closes the connection).
pub fn http_at(ns: &Netns, addr: &str, request: &str) -> String {
    let (addr, request) = (addr.to_string(), request.to_string());
    in_netns(ns, move || {
        let mut s = TcpStream::connect(&addr).expect("connect to the metrics endpoint");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read the answer");
        out
    })
}

/// GET /metrics from `addr`: the body, after checking the head.
pub fn scrape_at(ns: &Netns, addr: &str) -> String {
    let answer = http_at(ns, addr, "GET /metrics HTTP/1.1\r\nHost: lns\r\n\r\n");
    let (head, body) = answer.split_once("\r\n\r\n").expect("HTTP head");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    body.to_string()
}

/// The value of one series (`name{labels}` exactly as printed).
pub fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}
