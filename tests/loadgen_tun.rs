//! `l2tpns-loadgen --tun`: one session bridged to a TUN device in a client
//! namespace joined to the LNS's namespace by a veth pair; iperf3 (TCP)
//! runs through the L2TP session both ways.

mod common;

use common::tun_client::TunClient;
use common::*;
use std::io::Read;

#[test]
fn iperf3_tcp_runs_through_a_tun_bridged_session() {
    if skip_privileged() {
        return;
    }
    let mut lns = Lns::start(&LnsSetup::default());
    // The offloads run by default; the log says which.
    assert!(
        lns.log_text().contains("tun_offload=vnet_hdr"),
        "{}",
        lns.log_text()
    );
    let tc = TunClient::start(&lns, 20);
    let tun_line = &tc.tun_line;
    println!("{tun_line}");
    assert!(tun_line.contains("name=l2tc0"), "{tun_line}");
    assert!(
        tun_line.contains(&format!("route={TUN_ADDRESS}/32")),
        "{tun_line}"
    );
    let up = tc.iperf(&lns, false, 3);
    let down = tc.iperf(&lns, true, 3);
    for r in [&up, &down] {
        assert!(r.sender_mbits > 0.0 && r.receiver_mbits > 0.0, "{r:?}");
    }
    let mut lg = tc.loadgen;

    // Both directions went through the offloads: downstream the kernel
    // handed over TCP super-packets that left as UDP GSO sends; upstream
    // consecutive segments of the flow (one recvmmsg burst) were merged into
    // TSO frames for the TUN. (UDP GRO receives need a NIC that batches; a
    // veth whose sender sends one datagram per call hands over one at a
    // time: the GRO path is covered by the udp_batch unit test.)
    let st = lns.status();
    println!("{st}");
    for f in ["tun_super_reads", "gso_sends", "tun_merged_writes"] {
        let v: u64 = status_field(&st, f).parse().unwrap_or(0);
        assert!(v > 0, "{f}=0 in {st}");
    }
    for f in ["tun_write_errors", "udp_send_errors"] {
        assert_eq!(status_field(&st, f), "0", "{st}");
    }
    assert!(
        !st.contains("bad-vnet-header") && !st.contains("gso-malformed"),
        "{st}"
    );

    // SIGTERM ends the hold early: the loadgen hangs up and prints SUMMARY.
    // SAFETY: our own child, by PID.
    unsafe { libc::kill(lg.id() as libc::pid_t, libc::SIGTERM) };
    let mut stdout = String::new();
    if let Some(mut o) = lg.stdout.take() {
        let _ = o.read_to_string(&mut stdout);
    }
    let status = lg.wait().expect("loadgen exit");
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("SUMMARY"))
        .unwrap_or_else(|| panic!("no SUMMARY in:\n{stdout}"))
        .to_string();
    println!("{summary}");
    assert!(status.success(), "loadgen failed:\n{stdout}");
    for f in [
        "tun_up_packets",
        "tun_up_bytes",
        "tun_down_packets",
        "tun_down_bytes",
    ] {
        let v: u64 = status_field(&summary, f).parse().unwrap_or(0);
        assert!(v > 0, "{f}=0 in {summary}");
    }
}
