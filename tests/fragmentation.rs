//! Downstream packets larger than a session's MRU: fragmented when DF is
//! clear (the client reassembles and answers), answered with ICMP
//! fragmentation-needed carrying the session MRU when DF is set. l2tpns
//! 2.4.1 drops both silently.

mod common;

use common::*;

#[test]
fn big_packets_are_fragmented_or_answered_with_frag_needed() {
    if skip_privileged() {
        return;
    }
    let lns = Lns::start(&LnsSetup::default());
    // One client announcing MRU 1000 (below the TUN MTU of 1460), held up.
    let child = lns.loadgen_holding(&[
        "--sessions",
        "1",
        "--password",
        "secret-pw",
        "--mru",
        "1000",
        "--hold",
        "6",
    ]);
    // The first pool address goes to the only session.
    let ip = "10.100.0.1";
    let ping = |df: &str| {
        let out = lns
            .ns
            .command("ping")
            .args(["-c", "2", "-W", "2", "-M", df, "-s", "1200", ip])
            .output()
            .expect("ping");
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    let dont = ping("dont");
    assert!(dont.contains("2 received"), "DF clear: {dont}");
    let df = ping("do");
    assert!(
        df.contains("mtu = 1000") || df.contains("mtu=1000"),
        "DF set: {df}"
    );
    let out = child.wait_with_output().expect("loadgen");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("echo_answered=2"), "{stdout}");
    assert!(stdout.contains("reassembled=2"), "{stdout}");
}
