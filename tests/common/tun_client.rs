//! A subscriber behind one L2TP session, as a real host: the load generator
//! (`--tun`) in a client namespace joined to the LNS's by a veth pair
//! bridges its single session to a TUN device there, so the kernel's TCP
//! (iperf3) runs through the session both ways.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::{Lns, Netns, DNS1, DNS2, LOADGEN, TUN_ADDRESS};

pub struct TunClient {
    pub ns: Netns,
    pub loadgen: Child,
    /// The loadgen's `TUN ...` line (name, address, route).
    pub tun_line: String,
}

impl TunClient {
    /// One session of `user` (password `secret-pw`), held `hold` seconds.
    pub fn start(lns: &Lns, hold: u32) -> TunClient {
        let ns = Netns::new();
        // veth names are per namespace: create both ends from the LNS's side.
        lns.ns.exec_ok(&[
            "ip", "link", "add", "vlns0", "type", "veth", "peer", "name", "vcli0", "netns",
            &ns.name,
        ]);
        lns.ns
            .exec_ok(&["ip", "addr", "add", "192.168.200.1/30", "dev", "vlns0"]);
        lns.ns.exec_ok(&["ip", "link", "set", "vlns0", "up"]);
        ns.exec_ok(&["ip", "addr", "add", "192.168.200.2/30", "dev", "vcli0"]);
        ns.exec_ok(&["ip", "link", "set", "vcli0", "up"]);
        let mut loadgen = ns
            .command(LOADGEN)
            .args(["--server", "192.168.200.1:1701", "--sessions", "1"])
            .args(["--password", "secret-pw", "--tun", "l2tc0"])
            .args(["--hold", &hold.to_string()])
            .args(["--expect-dns", &format!("{DNS1},{DNS2}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start loadgen");
        let stderr = loadgen.stderr.take().expect("stderr");
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
                kill_and_reap(&mut loadgen, libc::SIGKILL);
                panic!("the loadgen printed no TUN line");
            }
        };
        TunClient {
            ns,
            loadgen,
            tun_line,
        }
    }

    /// iperf3 TCP for `secs` through the session: a one-shot server on the
    /// LNS's TUN address, the client here (`reverse`: the LNS side sends).
    pub fn iperf(&self, lns: &Lns, reverse: bool, secs: u32) -> Iperf {
        let mut server = iperf_server(lns);
        let mut c = self.ns.command("timeout");
        let limit = (secs + 30).to_string();
        c.args([limit.as_str(), "iperf3", "-c", TUN_ADDRESS, "-f", "m"]);
        c.args(["-t", &secs.to_string()]);
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
        let line = |kind: &str| {
            text.lines()
                .find(|l| l.trim_end().ends_with(kind))
                .unwrap_or_else(|| panic!("no iperf3 {kind} line in:\n{text}"))
                .to_string()
        };
        let (sender, receiver) = (line("sender"), line("receiver"));
        println!(
            "iperf3{}: {sender}\niperf3{}: {receiver}",
            r(reverse),
            r(reverse)
        );
        Iperf {
            sender_mbits: mbits(&sender),
            receiver_mbits: mbits(&receiver),
            retransmits: retransmits(&sender),
            sender,
            receiver,
        }
    }
}

fn r(reverse: bool) -> &'static str {
    if reverse {
        " -R"
    } else {
        ""
    }
}

/// A one-shot iperf3 server on the LNS's TUN address, given time to listen.
pub fn iperf_server(lns: &Lns) -> Child {
    let server = lns
        .ns
        .command("iperf3")
        .args(["-s", "-1", "-B", TUN_ADDRESS])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start iperf3 server");
    std::thread::sleep(Duration::from_millis(500));
    server
}

/// An iperf3 run's summary.
#[derive(Debug, Clone)]
pub struct Iperf {
    pub sender_mbits: f64,
    /// Goodput: TCP payload delivered, in Mbit/s of 10^6 bits.
    pub receiver_mbits: f64,
    pub retransmits: u64,
    pub sender: String,
    pub receiver: String,
}

/// Mbit/s of an iperf3 `-f m` summary line ("... 123 Mbits/sec ... sender").
pub fn mbits(line: &str) -> f64 {
    let w: Vec<&str> = line.split_whitespace().collect();
    w.iter()
        .position(|x| *x == "Mbits/sec")
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| w.get(i))
        .and_then(|x| x.parse().ok())
        .unwrap_or(0.0)
}

/// The sender line's retransmission count (the field after the rate).
fn retransmits(line: &str) -> u64 {
    let w: Vec<&str> = line.split_whitespace().collect();
    w.iter()
        .position(|x| *x == "Mbits/sec")
        .and_then(|i| w.get(i + 1))
        .and_then(|x| x.parse().ok())
        .unwrap_or(0)
}

/// Signal our own child by PID (if it still runs) and reap it.
pub fn kill_and_reap(child: &mut Child, sig: libc::c_int) {
    if let Ok(None) = child.try_wait() {
        // SAFETY: our own child, by PID.
        unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    }
    let _ = child.wait();
}
