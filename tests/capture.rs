//! A capture of an integration run, decoded by tshark, holds no malformed
//! L2TP, PPP or IP packet (and does hold all three kinds).

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

fn tshark_count(pcap: &std::path::Path, filter: &str) -> usize {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-Y", filter])
        .output()
        .expect("run tshark (apt-get install tshark)");
    let err = String::from_utf8_lossy(&out.stderr);
    // A capture stopped by SIGINT may end inside a record: tshark then says
    // "cut short in the middle of a packet" and exits 2, having read the rest.
    assert!(
        out.status.success() || err.contains("cut short"),
        "tshark -Y {filter}: {err}"
    );
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn tshark_finds_no_malformed_packet_in_a_loadgen_run() {
    if skip_privileged() {
        return;
    }
    let lns = Lns::start(&LnsSetup {
        extra_config: "set l2tp_secret \"tunnel-s3cret\"\n".into(),
        ..LnsSetup::default()
    });
    let pcap = lns.files().join("run.pcap");
    let mut cap = lns
        .ns
        .command("tshark")
        .args(["-q", "-i", "lo", "-f", "udp port 1701", "-w"])
        .arg(&pcap)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tshark (apt-get install tshark)");
    // Start the run only once tshark says it is capturing (its start-up can
    // take seconds on a loaded machine).
    let stderr = cap.stderr.take().expect("tshark stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("Capturing on") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("tshark did not start capturing within 60 s");
    // dumpcap announces itself a moment before packets are really taken.
    std::thread::sleep(Duration::from_secs(2));
    let r = lns.loadgen(&[
        "--tunnels",
        "2",
        "--sessions",
        "20",
        "--auth",
        "pap",
        "--password",
        "secret-pw",
        "--pings",
        "3",
    ]);
    r.assert_pass();
    let r = lns.loadgen(&[
        "--sessions",
        "5",
        "--auth",
        "chap",
        "--password",
        "secret-pw",
        "--tunnel-secret",
        "tunnel-s3cret",
        "--hide-avps",
        "--ping-size",
        "1400",
    ]);
    r.assert_pass();
    std::thread::sleep(Duration::from_secs(1));
    // SAFETY: our own child by PID.
    unsafe { libc::kill(cap.id() as libc::pid_t, libc::SIGINT) };
    let _ = cap.wait();
    let l2tp = tshark_count(&pcap, "l2tp");
    let ppp = tshark_count(&pcap, "ppp");
    let lcp = tshark_count(&pcap, "lcp");
    let icmp = tshark_count(&pcap, "icmp");
    let bad = tshark_count(&pcap, "_ws.malformed || _ws.expert.severity >= \"error\"");
    println!("CAPTURE l2tp={l2tp} ppp={ppp} lcp={lcp} icmp={icmp} malformed_or_error={bad}");
    assert!(
        l2tp > 100 && ppp > 100 && lcp > 50 && icmp >= 130,
        "capture too small: l2tp={l2tp} ppp={ppp} lcp={lcp} icmp={icmp}"
    );
    assert_eq!(bad, 0, "malformed or error packets in the capture");
}
