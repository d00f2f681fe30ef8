//! `l2tpns-loadgen --tun`: one session bridged to a TUN device in a client
//! namespace joined to the LNS's namespace by a veth pair; iperf3 (TCP)
//! runs through the L2TP session both ways.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Mbit/s of an iperf3 `-f m` summary line ("... 123 Mbits/sec ... sender").
fn mbits(line: &str) -> f64 {
    let w: Vec<&str> = line.split_whitespace().collect();
    w.iter()
        .position(|x| *x == "Mbits/sec")
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| w.get(i))
        .and_then(|x| x.parse().ok())
        .unwrap_or(0.0)
}

/// One iperf3 run: a one-shot server on the LNS's TUN address in the LNS
/// namespace, the client in the client namespace. Returns the summary lines.
fn iperf(lns: &Lns, client: &Netns, reverse: bool) -> Vec<String> {
    let mut server = lns
        .ns
        .command("iperf3")
        .args(["-s", "-1", "-B", TUN_ADDRESS])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start iperf3 server");
    std::thread::sleep(Duration::from_millis(500));
    let mut c = client.command("timeout");
    c.args(["30", "iperf3", "-c", TUN_ADDRESS, "-t", "3", "-f", "m"]);
    if reverse {
        c.arg("-R");
    }
    let out = c.output().expect("run iperf3 client");
    kill_and_reap(&mut server, libc::SIGKILL);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "iperf3{} failed:\n{text}\n{}",
        if reverse { " -R" } else { "" },
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = text
        .lines()
        .filter(|l| l.contains("sender") || l.contains("receiver"))
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 2, "no iperf3 summary in:\n{text}");
    for l in &lines {
        println!("iperf3{}: {l}", if reverse { " -R" } else { "" });
        assert!(mbits(l) > 0.0, "zero rate: {l}");
    }
    lines
}

/// Signal our own child by PID (if it still runs) and reap it.
fn kill_and_reap(child: &mut Child, sig: libc::c_int) {
    if let Ok(None) = child.try_wait() {
        // SAFETY: our own child, by PID.
        unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    }
    let _ = child.wait();
}

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
    let client = Netns::new();
    // veth names are per namespace: create both ends from the LNS's side.
    lns.ns.exec_ok(&[
        "ip",
        "link",
        "add",
        "vlns0",
        "type",
        "veth",
        "peer",
        "name",
        "vcli0",
        "netns",
        &client.name,
    ]);
    lns.ns
        .exec_ok(&["ip", "addr", "add", "192.168.200.1/30", "dev", "vlns0"]);
    lns.ns.exec_ok(&["ip", "link", "set", "vlns0", "up"]);
    client.exec_ok(&["ip", "addr", "add", "192.168.200.2/30", "dev", "vcli0"]);
    client.exec_ok(&["ip", "link", "set", "vcli0", "up"]);

    let mut lg = client
        .command(LOADGEN)
        .args(["--server", "192.168.200.1:1701", "--sessions", "1"])
        .args(["--password", "secret-pw", "--tun", "l2tc0", "--hold", "20"])
        .args(["--expect-dns", &format!("{DNS1},{DNS2}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start loadgen");
    let stderr = lg.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            if l.starts_with("TUN ") {
                let _ = tx.send(l);
            } else {
                eprintln!("loadgen: {l}");
            }
        }
    });
    let tun_line = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(l) => l,
        Err(_) => {
            kill_and_reap(&mut lg, libc::SIGKILL);
            panic!("the loadgen printed no TUN line");
        }
    };
    println!("{tun_line}");
    assert!(tun_line.contains("name=l2tc0"), "{tun_line}");
    assert!(
        tun_line.contains(&format!("route={TUN_ADDRESS}/32")),
        "{tun_line}"
    );

    let up = iperf(&lns, &client, false);
    let down = iperf(&lns, &client, true);

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
    assert!(!up.is_empty() && !down.is_empty());
}
