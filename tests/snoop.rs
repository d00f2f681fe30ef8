//! Snoop (lawful intercept) in the data plane: Debian's nsctl turns it on
//! through the snoopctl plugin; every IP packet of the session, both ways,
//! reaches contrib/l2tpns-capture as raw IP in UDP and lands in its pcap,
//! byte for byte, with a throttle on the session too; unsnoop stops it.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;

/// The IP packets of a pcap file (link type RAW).
fn pcap_packets(bytes: &[u8]) -> Vec<Vec<u8>> {
    assert!(bytes.len() >= 24, "no pcap header");
    assert_eq!(&bytes[..4], &0xA1B2_C3D4u32.to_le_bytes());
    assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 101);
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16;
        out.push(bytes[at..at + len].to_vec());
        at += len;
    }
    out
}

#[test]
fn nsctl_snoop_copies_every_packet_both_ways_into_the_collectors_pcap() {
    if skip_privileged() {
        return;
    }
    let mut lns = Lns::start(&LnsSetup {
        extra_config: "load plugin \"snoopctl\"\nload plugin \"throttlectl\"\n".into(),
        ..LnsSetup::default()
    });
    let mut held =
        lns.loadgen_holding(&["--sessions", "1", "--password", "secret-pw", "--hold", "60"]);
    let log = lns.log_text();
    let ip = log
        .lines()
        .find(|l| l.contains("session up"))
        .map(|l| status_field(l, "ip"))
        .expect("a session");
    let pcap = lns.files().join("snoop.pcap");
    let capture = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/l2tpns-capture");
    let collector = lns
        .ns
        .command("python3")
        .args([capture, "--listen", "127.0.0.1:5000", "--write"])
        .arg(&pcap)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the collector");
    // Listening once it wrote the pcap header (it binds first): copies
    // sent before would be refused by the kernel, not lost by the LNS.
    wait_for("the collector", Duration::from_secs(10), || {
        std::fs::metadata(&pcap).is_ok_and(|m| m.len() >= 24)
    });
    debian_nsctl_ok(&lns, &["throttle", "user1", "512"]);
    debian_nsctl_ok(&lns, &["snoop", "user1", "127.0.0.1", "5000"]);
    let st = lns.status();
    assert!(st.contains("sessions=1"), "{st}");
    // 20 echo requests down the session; the loadgen answers each up it.
    lns.ns.exec_ok(&[
        "ping", "-q", "-n", "-c", "20", "-i", "0.05", "-s", "100", &ip,
    ]);
    std::thread::sleep(Duration::from_millis(300));
    debian_nsctl_ok(&lns, &["unsnoop", "user1"]);
    lns.ns
        .exec_ok(&["ping", "-q", "-n", "-c", "5", "-i", "0.05", &ip]);
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: our own child, by PID.
    unsafe { libc::kill(collector.id() as libc::pid_t, libc::SIGTERM) };
    let out = collector.wait_with_output().expect("collector");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    let packets = pcap_packets(&std::fs::read(&pcap).expect("pcap"));
    let sess: std::net::Ipv4Addr = ip.parse().unwrap();
    let icmp = |p: &Vec<u8>, ty: u8| p.len() > 28 && p[9] == 1 && p[20] == ty;
    let requests: Vec<&Vec<u8>> = packets
        .iter()
        .filter(|p| icmp(p, 8) && p[16..20] == sess.octets())
        .collect();
    let replies: Vec<&Vec<u8>> = packets
        .iter()
        .filter(|p| icmp(p, 0) && p[12..16] == sess.octets())
        .collect();
    assert_eq!(
        requests.len(),
        20,
        "downstream copies: {} packets in all",
        packets.len()
    );
    assert_eq!(replies.len(), 20, "upstream copies");
    assert_eq!(packets.len(), 40, "nothing else, nothing after unsnoop");
    for p in requests.iter().chain(&replies) {
        // Whole IP packets: 20 + 8 + 100 bytes, total length as sent.
        assert_eq!(p.len(), 128);
        assert_eq!(u16::from_be_bytes([p[2], p[3]]), 128);
    }
    // Each reply carries its request's payload back: the same bytes.
    for (q, r) in requests.iter().zip(&replies) {
        assert_eq!(q[24..], r[24..], "echo payloads match");
    }
    let st = lns.status();
    assert!(
        status_field(&st, "snoop_sent").parse::<u64>().unwrap_or(0) >= 40,
        "{st}"
    );
    let _ = held.kill();
    let _ = held.wait();
}
