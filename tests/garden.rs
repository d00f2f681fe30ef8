//! The walled garden, end to end: FreeRADIUS refuses the login, the garden
//! plugin lets it in gardened (no accounting); the subscriber (the
//! loadgen's TUN mode, the kernel's own ping, curl and UDP) reaches what
//! the garden file allows, its DNS and the portal (garden_redirect), and
//! nothing else (ICMP administratively prohibited, counted as `gardened`).
//! Debian's nsctl `ungarden SID` lets it out: everything is reachable, and
//! a fresh Acct-Start reaches FreeRADIUS's detail file; `garden USER` puts
//! it back in, with a Stop.

mod common;

use std::process::{Child, Stdio};
use std::time::Duration;

use common::metrics::{scrape_at, value};
use common::radius::{RadiusSetup, RADIUS_SECRET};
use common::tun_client::{kill_and_reap, TunClient};
use common::*;

const ALLOWED: &str = "10.250.0.1";
const FORBIDDEN: &str = "10.250.0.2";
const PORTAL_IP: &str = "10.250.0.3";
const PORTAL_PORT: u16 = 8080;

/// A UDP echo on `addr:port` in the LNS's namespace (python3).
fn udp_echo(lns: &Lns, addr: &str, port: u16) -> Child {
    let script = format!(
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('{addr}',{port}))\n\
         while True:\n    d,a=s.recvfrom(2048)\n    s.sendto(d,a)\n"
    );
    lns.ns
        .command("python3")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("udp echo")
}

/// Servers this test started, killed even when it fails.
struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for s in &mut self.0 {
            kill_and_reap(s, libc::SIGKILL);
        }
    }
}

/// Does a UDP datagram to `addr:port` come back within 2 s?
fn udp_answers(tc: &TunClient, addr: &str, port: u16) -> bool {
    let script = format!(
        "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(2)\n\
         s.sendto(b'q',('{addr}',{port}))\ntry:\n    s.recvfrom(64)\nexcept Exception:\n    sys.exit(1)\n"
    );
    tc.ns
        .command("python3")
        .args(["-c", &script])
        .status()
        .expect("udp probe")
        .success()
}

/// One ping through the session: (replied, ping's output).
fn ping(tc: &TunClient, addr: &str) -> (bool, String) {
    let out = tc
        .ns
        .command("ping")
        .args(["-c", "1", "-W", "2", addr])
        .output()
        .expect("ping");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), text)
}

/// curl http://addr:port/ through the session: the body, or None.
fn http_get(tc: &TunClient, addr: &str, port: u16) -> Option<String> {
    let out = tc
        .ns
        .command("curl")
        .args(["-s", "--max-time", "4", &format!("http://{addr}:{port}/")])
        .output()
        .expect("curl");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A series of the daemon's /metrics (`name` with its labels, as printed).
fn metric(lns: &Lns, series: &str) -> u64 {
    value(&scrape_at(&lns.ns, "127.0.0.1:9331"), series) as u64
}

fn drop_count(lns: &Lns) -> u64 {
    metric(lns, "l2tpns_dropped_packets_total{reason=\"gardened\"}")
}

#[test]
fn a_refused_login_is_gardened_and_ungarden_lets_it_out() {
    if skip_privileged() {
        return;
    }
    // FreeRADIUS knows no user1: every login is refused.
    let mut lns = Lns::start(&LnsSetup {
        extra_config: format!(
            "set primary_radius 127.0.0.1\nset radius_secret \"{RADIUS_SECRET}\"\nset radius_accounting yes\n\
             set garden_redirect {PORTAL_IP}:{PORTAL_PORT}\nset metrics_address 127.0.0.1:9331\n\
             load plugin \"garden\"\n"
        ),
        radius: vec![RadiusSetup::debian_stock(String::new())],
        ..LnsSetup::default()
    });
    // The garden file arrives by a reload (HUP reads it again). Written
    // only once the start-up has read the configuration (the plugin loads
    // after that): written earlier, the start read it, the reload found
    // nothing changed and never said "garden: 2 rules" (seen in CI).
    lns.wait_for_log("plugin loaded", Duration::from_secs(10));
    std::fs::write(
        lns.dir.join("garden"),
        format!("# test garden\n{ALLOWED}/32\n{FORBIDDEN}/32 udp 7\nnot-a-network\n"),
    )
    .unwrap();
    lns.signal(libc::SIGHUP);
    lns.wait_for_log("garden: 2 rules", Duration::from_secs(10));
    assert!(lns.log_text().contains("line skipped"), "bad line warned");
    for a in [ALLOWED, FORBIDDEN, PORTAL_IP, DNS1] {
        lns.ns
            .exec_ok(&["ip", "addr", "add", &format!("{a}/32"), "dev", "lo"]);
    }
    let www = lns.dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "PORTAL\n").unwrap();
    let _servers = Servers(vec![
        lns.ns
            .command("python3")
            .args([
                "-m",
                "http.server",
                &PORTAL_PORT.to_string(),
                "--bind",
                PORTAL_IP,
            ])
            .current_dir(&www)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("portal"),
        lns.ns
            .command("python3")
            .args(["-m", "http.server", "80", "--bind", FORBIDDEN])
            .current_dir(&lns.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("web server"),
        udp_echo(&lns, DNS1, 53),
        udp_echo(&lns, FORBIDDEN, 7),
        udp_echo(&lns, FORBIDDEN, 9),
        udp_echo(&lns, FORBIDDEN, 53),
    ]);
    std::thread::sleep(Duration::from_millis(800));

    let tc = TunClient::start(&lns, 120);
    for net in ["10.250.0.0/24", &format!("{DNS1}/32")] {
        tc.ns.exec_ok(&["ip", "route", "add", net, "dev", "l2tc0"]);
    }
    let up = lns
        .log_text()
        .lines()
        .find(|l| l.contains("session up"))
        .unwrap_or_default()
        .to_string();
    assert!(up.contains("garden=true"), "{up}");
    let tunnel: u32 = status_field(&up, "tunnel").parse().unwrap();
    let session: u32 = status_field(&up, "session").parse().unwrap();
    let sid = ((tunnel << 16) | session).to_string();

    // Gardened: the allowed host, DNS, a rule's port and the portal.
    assert!(ping(&tc, ALLOWED).0, "the garden's host answers pings");
    assert!(udp_answers(&tc, DNS1, 53), "DNS is reachable");
    assert!(
        udp_answers(&tc, FORBIDDEN, 7),
        "udp 7 is allowed by its rule"
    );
    assert_eq!(
        http_get(&tc, FORBIDDEN, 80).as_deref(),
        Some("PORTAL\n"),
        "port 80 goes to the portal, answered from the address asked for"
    );
    // Nothing else.
    let before = drop_count(&lns);
    let (ok, text) = ping(&tc, FORBIDDEN);
    assert!(!ok && text.contains("Packet filtered"), "{text}");
    assert!(!udp_answers(&tc, FORBIDDEN, 9), "udp 9 is refused");
    assert!(
        !udp_answers(&tc, FORBIDDEN, 53),
        "DNS only to the session's servers"
    );
    wait_for("3 refusals counted", Duration::from_secs(5), || {
        drop_count(&lns) >= before + 3
    });
    assert!(metric(&lns, "l2tpns_garden_redirects_total") >= 1);
    assert!(metric(&lns, "l2tpns_garden_prohibited_total{result=\"sent\"}") >= 1);
    let detail = lns.radius[0].detail();
    assert!(
        !detail.contains("Acct-Status-Type = Start"),
        "no accounting while gardened:\n{detail}"
    );

    // Out of the garden, through Debian's nsctl and the plugin.
    let (text, _) = debian_nsctl(&lns, &["ungarden", "user1"]);
    assert!(
        text.contains("session not found"),
        "ungarden takes a SID: {text}"
    );
    debian_nsctl_ok(&lns, &["ungarden", &sid]);
    let (again, _) = debian_nsctl(&lns, &["ungarden", &sid]);
    assert!(again.contains("not in walled garden"), "{again}");
    wait_for("the Acct-Start", Duration::from_secs(10), || {
        lns.radius[0].detail().contains("Acct-Status-Type = Start")
    });
    let (ok, text) = ping(&tc, FORBIDDEN);
    assert!(ok, "out of the garden: {text}");
    assert!(udp_answers(&tc, FORBIDDEN, 9));
    assert!(udp_answers(&tc, FORBIDDEN, 53));
    assert!(http_get(&tc, FORBIDDEN, 80).is_some_and(|b| !b.contains("PORTAL")));

    // And back in, by name: a Stop closes the record.
    debian_nsctl_ok(&lns, &["garden", "user1"]);
    wait_for("the Stop", Duration::from_secs(10), || {
        lns.radius[0].detail().contains("Acct-Status-Type = Stop")
    });
    assert!(!ping(&tc, FORBIDDEN).0, "gardened again");

    let mut lg = tc.loadgen;
    kill_and_reap(&mut lg, libc::SIGTERM);
}
