//! Limits against floods and spoofing, on the real daemon: SCCRQ floods
//! from one source and from many ports are answered with a stateless
//! StopCCN 2/4 within the limits (or not at all beyond the refusal rate)
//! while held sessions keep passing pings; a StopCCN or CDN for a live
//! tunnel or session from another port changes nothing; icmp_rate answers
//! a pool address without a session.
//!
//! The flood comes from UDP sockets opened inside the daemon's namespace
//! (a thread that enters it with setns), so it reaches 127.0.0.1:1701.

mod common;

use std::collections::BTreeSet;
use std::fs::File;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::process::Child;
use std::time::{Duration, Instant};

use common::*;
use l2tpns::l2tp::message::{ControlMessage, MessageType, ProtocolVersion, ResultCode};
use l2tpns::l2tp::wire::{build_control, Header};

const SERVER: &str = "127.0.0.1:1701";

/// `n` UDP sockets bound to 127.0.0.1 inside `ns`.
fn sockets_in(ns: &Netns, n: usize) -> Vec<UdpSocket> {
    let path = format!("/run/netns/{}", ns.name);
    std::thread::scope(|s| {
        s.spawn(|| {
            let f = File::open(&path).expect("netns file");
            // SAFETY: setns on a valid namespace fd; it moves only this thread.
            let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            (0..n)
                .map(|_| {
                    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
                    s.set_nonblocking(true).expect("nonblocking");
                    s
                })
                .collect()
        })
        .join()
        .expect("socket thread")
    })
}

fn send(sock: &UdpSocket, tid: u16, sid: u16, ns: u16, m: &ControlMessage) {
    let d = build_control(tid, sid, ns, 0, &m.to_payload(None).expect("emit"));
    sock.send_to(&d, SERVER).expect("send");
}

fn sccrq(peer_tid: u16) -> ControlMessage {
    let mut m = ControlMessage::new(MessageType::Sccrq);
    m.protocol_version = Some(ProtocolVersion {
        version: 1,
        revision: 0,
    });
    m.framing_capabilities = Some(3);
    m.host_name = Some(b"flood".to_vec());
    m.assigned_tunnel_id = Some(peer_tid);
    m
}

/// The answers to a flood: the peer tunnel ids that got an SCCRP, and
/// those that got a StopCCN 2/4 (each counted once: SCCRPs are resent).
#[derive(Default, Debug)]
struct Answers {
    sccrp: BTreeSet<u16>,
    refused: BTreeSet<u16>,
    other: usize,
}

impl Answers {
    fn read(socks: &[UdpSocket], for_how_long: Duration) -> Answers {
        let mut a = Answers::default();
        let mut buf = [0u8; 2048];
        let t0 = Instant::now();
        while t0.elapsed() < for_how_long {
            for s in socks {
                while let Ok(n) = s.recv(&mut buf) {
                    let d = &buf[..n];
                    let h = Header::parse(d).expect("L2TP header");
                    let m = ControlMessage::parse(h.payload(d), None).expect("message");
                    match (m.message_type, &m.result_code) {
                        (MessageType::Sccrp, _) => {
                            a.sccrp.insert(h.tunnel_id());
                        }
                        (
                            MessageType::StopCcn,
                            Some(ResultCode {
                                result: 2,
                                error: Some(4),
                                ..
                            }),
                        ) => {
                            assert_eq!((h.ns(), h.nr()), (Some(0), Some(1)));
                            assert_eq!(m.assigned_tunnel_id, Some(0));
                            a.refused.insert(h.tunnel_id());
                        }
                        _ => a.other += 1,
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        a
    }
}

/// Session addresses from the daemon's "session up" lines.
fn session_ips(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("session up"))
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("ip=").map(str::to_string))
        })
        .collect()
}

/// A `field: N` of the status line's `control=ControlStats { .. }`.
fn control_stat(status: &str, name: &str) -> u64 {
    let at = status
        .find(&format!(" {name}: "))
        .unwrap_or_else(|| panic!("no {name} in {status}"));
    status[at + name.len() + 3..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad {name} in {status}"))
}

fn num(status: &str, name: &str) -> u64 {
    status_field(status, name)
        .parse()
        .unwrap_or_else(|_| panic!("no {name} in {status}"))
}

/// Pings from the LNS's namespace to every address; (sent, received).
fn ping_all(lns: &Lns, ips: &[String], count: u32) -> (u32, u32) {
    let pings: Vec<Child> = ips
        .iter()
        .map(|ip| {
            lns.ns
                .command("ping")
                .args(["-c", &count.to_string(), "-i", "0.1", "-W", "2", "-q", ip])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("ping")
        })
        .collect();
    let mut received = 0;
    for p in pings {
        let out = p.wait_with_output().expect("ping");
        let text = String::from_utf8_lossy(&out.stdout);
        received += text
            .split(',')
            .find_map(|part| part.trim().strip_suffix(" received"))
            .and_then(|n| n.trim().parse::<u32>().ok())
            .unwrap_or(0);
    }
    (count * ips.len() as u32, received)
}

/// The daemon with `extra` config and 4 sessions on 2 tunnels held up.
fn lns_with_held_sessions(extra: &str) -> (Lns, Child, Vec<String>) {
    let lns = Lns::start(&LnsSetup {
        extra_config: extra.into(),
        ..LnsSetup::default()
    });
    let held = lns.loadgen_holding(&[
        "--sessions",
        "4",
        "--tunnels",
        "2",
        "--password",
        "secret-pw",
        "--hold",
        "60",
        "--pings",
        "1",
    ]);
    let ips = session_ips(&lns.log_text());
    assert_eq!(ips.len(), 4, "{}", lns.log_text());
    (lns, held, ips)
}

#[test]
fn a_thousand_sccrqs_from_one_source_are_answered_within_the_limits() {
    if skip_privileged() {
        return;
    }
    // Defaults: sccrq_rate_per_source 20 (burst 20), refusals 10 a second.
    let (mut lns, mut held, ips) = lns_with_held_sessions("");
    let flood = sockets_in(&lns.ns, 1);
    // Pings to the held sessions while the flood goes in.
    let (sent_in, (sent, received)) = std::thread::scope(|s| {
        let pings = s.spawn(|| ping_all(&lns, &ips, 20));
        std::thread::sleep(Duration::from_millis(300));
        let t0 = Instant::now();
        for tid in 1..=1000u16 {
            send(&flood[0], 0, 0, 0, &sccrq(tid));
        }
        (t0.elapsed(), pings.join().expect("pings"))
    });
    let a = Answers::read(&flood, Duration::from_millis(500));
    let unanswered = 1000 - a.sccrp.len() - a.refused.len();
    eprintln!(
        "FLOOD one_source sccrqs=1000 sent_in_ms={} sccrp={} stopccn_2_4={} unanswered={} pings={received}/{sent}",
        sent_in.as_millis(),
        a.sccrp.len(),
        a.refused.len(),
        unanswered
    );
    assert_eq!(a.other, 0, "{a:?}");
    // The bursts (20 tunnels, 10 refusals), plus what the rates refill
    // while the daemon reads the flood (well under a second).
    assert!((20..=40).contains(&a.sccrp.len()), "{a:?}");
    assert!((10..=20).contains(&a.refused.len()), "{a:?}");
    assert!(a.sccrp.is_disjoint(&a.refused));
    // A burst of datagrams can overflow the socket's receive buffer for a
    // moment on a busy machine (counted as udp_receive_buffer_full): the
    // sessions must keep passing traffic, not lose nothing.
    assert!(
        received * 10 >= sent * 9,
        "held sessions lost pings during the flood: {received}/{sent}"
    );
    let st = lns.status();
    assert_eq!(num(&st, "sessions"), 4, "{st}");
    assert_eq!(num(&st, "refusals_sent"), a.refused.len() as u64, "{st}");
    assert_eq!(num(&st, "refusals_unanswered"), unanswered as u64, "{st}");
    assert_eq!(
        num(&st, "sccrq_rate_limited"),
        (1000 - a.sccrp.len()) as u64,
        "{st}"
    );
    let _ = held.kill();
    let _ = held.wait();
}

#[test]
fn six_hundred_sccrqs_from_six_hundred_ports_beyond_max_tunnels_500() {
    if skip_privileged() {
        return;
    }
    let (mut lns, mut held, ips) = lns_with_held_sessions(
        "set max_tunnels 500\nset max_tunnels_per_source 0\nset sccrq_rate_per_source 0\n\
         set sccrq_refusal_rate_per_source 0",
    );
    let ports = sockets_in(&lns.ns, 600);
    let (sent_in, (sent, received)) = std::thread::scope(|s| {
        let pings = s.spawn(|| ping_all(&lns, &ips, 20));
        std::thread::sleep(Duration::from_millis(300));
        let t0 = Instant::now();
        for (i, sock) in ports.iter().enumerate() {
            send(sock, 0, 0, 0, &sccrq(1 + i as u16));
        }
        (t0.elapsed(), pings.join().expect("pings"))
    });
    let a = Answers::read(&ports, Duration::from_millis(500));
    eprintln!(
        "FLOOD 600_ports sent_in_ms={} sccrp={} stopccn_2_4={} other={} pings={received}/{sent}",
        sent_in.as_millis(),
        a.sccrp.len(),
        a.refused.len(),
        a.other
    );
    // The loadgen's 2 tunnels and 498 of the flood's take the 500 ids; each
    // of the other 102 SCCRQs gets its StopCCN 2/4.
    assert_eq!(a.sccrp.len(), 498, "{a:?}");
    assert_eq!(a.refused.len(), 102, "{a:?}");
    assert_eq!(a.other, 0);
    // A burst of datagrams can overflow the socket's receive buffer for a
    // moment on a busy machine (counted as udp_receive_buffer_full): the
    // sessions must keep passing traffic, not lose nothing.
    assert!(
        received * 10 >= sent * 9,
        "held sessions lost pings during the flood: {received}/{sent}"
    );
    let st = lns.status();
    assert_eq!(num(&st, "sessions"), 4, "{st}");
    assert_eq!(num(&st, "tunnels"), 500, "{st}");
    assert_eq!(control_stat(&st, "tunnel_limit"), 102, "{st}");
    assert_eq!(num(&st, "refusals_sent"), 102, "{st}");
    let _ = held.kill();
    let _ = held.wait();
}

/// Our (tunnel, session) ids of the held sessions, from "session up".
fn held_ids(log: &str) -> Vec<(u16, u16)> {
    let field = |l: &str, k: &str| {
        l.split_whitespace().find_map(|w| {
            w.strip_prefix(&format!("{k}="))
                .and_then(|v| v.parse().ok())
        })
    };
    log.lines()
        .filter(|l| l.contains("session up"))
        .filter_map(|l| Some((field(l, "tunnel")?, field(l, "session")?)))
        .collect()
}

#[test]
fn a_stopccn_or_cdn_from_another_port_changes_nothing() {
    if skip_privileged() {
        return;
    }
    let (mut lns, mut held, ips) = lns_with_held_sessions("");
    let ids = held_ids(&lns.log_text());
    assert_eq!(ids.len(), 4);
    let forger = sockets_in(&lns.ns, 1);
    // Every plausible Ns, so that one of them is the next the tunnel
    // expects: from the LAC's port these would end the calls and tunnels.
    for &(tunnel, session) in &ids {
        let mut cdn = ControlMessage::new(MessageType::Cdn);
        cdn.assigned_session_id = Some(99);
        cdn.result_code = Some(ResultCode {
            result: 3,
            error: None,
            message: None,
        });
        for ns in 0..64 {
            send(&forger[0], tunnel, session, ns, &cdn);
        }
    }
    let tunnels: BTreeSet<u16> = ids.iter().map(|i| i.0).collect();
    for &tunnel in &tunnels {
        let mut stop = ControlMessage::new(MessageType::StopCcn);
        stop.assigned_tunnel_id = Some(1);
        stop.result_code = Some(ResultCode {
            result: 1,
            error: None,
            message: None,
        });
        for ns in 0..64 {
            send(&forger[0], tunnel, 0, ns, &stop);
        }
    }
    let forged = 64 * (ids.len() + tunnels.len()) as u64;
    let (sent, received) = ping_all(&lns, &ips, 10);
    let st = lns.status();
    eprintln!(
        "FORGED from_another_port={forged} wrong_source={} sessions={} pings={received}/{sent}",
        control_stat(&st, "wrong_source"),
        num(&st, "sessions")
    );
    assert_eq!(control_stat(&st, "wrong_source"), forged, "{st}");
    assert_eq!(num(&st, "sessions"), 4, "{st}");
    assert_eq!(num(&st, "tunnels"), 2, "{st}");
    assert_eq!(received, sent);
    assert!(Answers::read(&forger, Duration::from_millis(100)).other == 0);
    assert!(!lns.log_text().contains("LAC disconnected the call"));
    let _ = held.kill();
    let _ = held.wait();
}

#[test]
fn icmp_rate_answers_a_pool_address_without_a_session() {
    if skip_privileged() {
        return;
    }
    let ping = |lns: &Lns| {
        let out = lns
            .ns
            .command("ping")
            .args(["-c", "1", "-W", "1", "10.100.0.200"])
            .output()
            .expect("ping");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let mut quiet = Lns::start(&LnsSetup::default());
    assert!(
        !ping(&quiet).contains("Unreachable"),
        "icmp_rate 0 sends none"
    );
    assert_eq!(num(&quiet.status(), "icmp_unreachables"), 0);
    drop(quiet);
    let mut lns = Lns::start(&LnsSetup {
        extra_config: "set icmp_rate 10".into(),
        ..LnsSetup::default()
    });
    let text = ping(&lns);
    assert!(text.contains("Destination Host Unreachable"), "{text}");
    let st = lns.status();
    assert_eq!(num(&st, "icmp_unreachables"), 1, "{st}");
}
