//! The kernel fast path's two TC programs (bpf/fastpath.c) in a namespace
//! of their own (tests/fastpath_common), mostly through BPF_PROG_TEST_RUN:
//! what they forward, byte for byte and counted in the session's slot; what
//! they hand on to userspace, unchanged and counted under exactly one pass
//! reason; what is not theirs at all, unchanged and uncounted; and, over
//! 20,000 mutated frames, that what they forward the userspace data plane
//! would have forwarded the same way.
//!
//! BPF_PROG_TEST_RUN builds the skb on lo from a frame that starts with an
//! Ethernet header, and carries out no redirect: the verdict says where the
//! packet would go. The downstream program takes an skb that is not on the
//! TUN for Ethernet-framed, so only real traffic reaches its TUN branch,
//! where it pushes the Ethernet header itself: one frame each way goes
//! through the devices in `real_frames_cross_the_devices_both_ways`.

mod common;
mod fastpath_common;

use std::net::{Ipv4Addr, SocketAddrV4};

use common::skip_privileged;
use fastpath_common::cases::*;
use fastpath_common::checks::{check_rows, forward};
use fastpath_common::frames::*;
use fastpath_common::mutate::mutate;
use fastpath_common::oracle::{fuzz_bases, fuzz_sessions, Fuzz};
use fastpath_common::*;
use l2tpns::daemon::fastpath::{FastSession, PassReason, TestProgram};

use PassReason::*;
use TestProgram::{Down, Up};

#[test]
fn upstream_data_is_decapsulated_to_the_inner_packet() {
    if skip_privileged() {
        return;
    }
    let udp = inner_udp(A_ADDR, 32);
    let with_options = with_ip_options(ipv4(A_ADDR.into(), *REMOTE.ip(), 253, &pattern(40)));
    let icmp_echo = ipv4(
        A_ADDR.into(),
        *REMOTE.ip(),
        PROTO_ICMP,
        &[8, 0, 0xf7, 0xfe, 0, 1, 0, 0],
    );
    let largest = inner_udp(A_ADDR, TUN_MTU as usize - 28);
    let cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        ("FF 03 00 21", up_a(PPP_FULL, &udp), udp.clone()),
        ("PFC", up_a(PPP_PFC, &udp), udp.clone()),
        ("ACFC", up_a(PPP_ACFC, &udp), udp.clone()),
        ("ACFC and PFC", up_a(PPP_ACFC_PFC, &udp), udp.clone()),
        (
            "right outer UDP checksum",
            up_from(LAC, &l2tp_data(1, 1, PPP_FULL, &udp), true),
            udp.clone(),
        ),
        (
            "outer DF set",
            outer(up_a(PPP_FULL, &udp), |ip| put16(ip, 6, IP_DF)),
            udp.clone(),
        ),
        (
            "outer IPv4 options",
            outer_with_options(&up_a(PPP_FULL, &udp)),
            udp.clone(),
        ),
        (
            "bytes after the outer packet (Ethernet padding) are cut",
            [up_a(PPP_FULL, &udp), vec![0; 12]].concat(),
            udp.clone(),
        ),
        (
            "TCP ACK",
            up_a(
                PPP_FULL,
                &tcp4(addr(A_ADDR, 40000), REMOTE, TCP_ACK, &pattern(100)),
            ),
            tcp4(addr(A_ADDR, 40000), REMOTE, TCP_ACK, &pattern(100)),
        ),
        ("ICMP echo", up_a(PPP_FULL, &icmp_echo), icmp_echo.clone()),
        (
            "inner IPv4 options",
            up_a(PPP_FULL, &with_options),
            with_options.clone(),
        ),
        (
            "inner packet exactly the TUN MTU",
            up_a(PPP_FULL, &largest),
            largest.clone(),
        ),
    ];
    with_lab(None, &standard_sessions(), |lab| {
        for (what, frame, inner) in &cases {
            let out = forward(lab, Up, frame, A, inner.len(), what);
            // bpf_skb_adjust_room(BPF_ADJ_ROOM_MAC) keeps the link header;
            // the redirect into the L3 TUN takes it off.
            assert_eq!(
                hex(&out[..ETH_LEN]),
                hex(&frame[..ETH_LEN]),
                "{what}: Ethernet header"
            );
            assert_eq!(
                hex(&out[ETH_LEN..]),
                hex(inner),
                "{what}: the inner packet exactly"
            );
        }
    });
}

/// The program verifies a nonzero UDP checksum itself, 512 bytes at a time
/// with the last word zero-padded: lengths around each chunk boundary.
#[test]
fn upstream_udp_checksums_are_verified_across_chunks() {
    if skip_privileged() {
        return;
    }
    // UDP length = 8 + 6 (L2TP) + 4 (PPP) + 28 (inner IPv4 + UDP) + payload.
    const OVERHEAD: usize = 46;
    let lengths = [
        47, 48, 49, 50, 511, 512, 513, 514, 515, 1023, 1024, 1025, 1536, 1537, 2045, 2046, 2047,
        2048,
    ];
    with_lab(None, &standard_sessions(), |lab| {
        for ulen in lengths {
            let inner = inner_udp(A_ADDR, ulen - OVERHEAD);
            let frame = up_from(LAC, &l2tp_data(1, 1, PPP_FULL, &inner), true);
            assert_eq!(usize::from(be16(&frame, OUTER_UDP + 4)), ulen);
            let out = forward(
                lab,
                Up,
                &frame,
                A,
                inner.len(),
                &format!("UDP length {ulen}"),
            );
            assert_eq!(hex(&out[ETH_LEN..]), hex(&inner));
            // One bit off in the last byte, then in the first byte of each
            // later chunk: the sum must see them all.
            let chunk_starts = (1..=(ulen - 1) / 512).map(|k| OUTER_UDP + 512 * k);
            for at in std::iter::once(frame.len() - 1).chain(chunk_starts) {
                let mut bad = frame.clone();
                bad[at] ^= 0x10;
                let what = format!("UDP length {ulen}, bit flipped at {at}");
                check_rows(lab, Up, &[row(&what, UpUdpChecksum, bad)]);
            }
        }
        // One byte more and the program cannot verify it: passed.
        let inner = inner_udp(A_ADDR, 2049 - OVERHEAD);
        let frame = up_from(LAC, &l2tp_data(1, 1, PPP_FULL, &inner), true);
        check_rows(
            lab,
            Up,
            &[row("UDP length 2049 with a checksum", UpUdpChecksum, frame)],
        );
    });
}

#[test]
fn upstream_pass_reasons() {
    if skip_privileged() {
        return;
    }
    let rows = upstream_pass_rows();
    with_lab(None, &standard_sessions(), |lab| {
        check_rows(lab, Up, &rows);
        assert_eq!(lab.forwarded(A), [0; 4], "nothing of A was forwarded");
    });
}

#[test]
fn downstream_packets_are_encapsulated_for_the_lac() {
    if skip_privileged() {
        return;
    }
    let sessions = standard_sessions();
    let a = &sessions[0];
    let local = sessions
        .iter()
        .find(|s| s.key == LOCAL_KEY)
        .expect("local session");
    let own_address = sessions
        .iter()
        .find(|s| s.peer == OWN_ADDRESS_LAC)
        .expect("session");
    let fits = UPLINK_MTU - ENCAP_LEN;
    let later_fragment_like_syn = {
        // Not a first fragment: its first bytes are not a TCP header.
        let mut payload = pattern(40);
        payload[13] = TCP_SYN;
        ipv4_frag(*REMOTE.ip(), A_ADDR.into(), PROTO_TCP, 185, &payload)
    };
    let cases: Vec<(&str, &FastSession, Vec<u8>)> = vec![
        ("UDP to the session's address", a, to_subscriber(A_ADDR, 32)),
        (
            "to its Framed-Route",
            a,
            to_subscriber([192, 168, 50, 7], 32),
        ),
        (
            "TCP ACK",
            a,
            tcp4(REMOTE, addr(A_ADDR, 40000), TCP_ACK, &pattern(200)),
        ),
        (
            "a later TCP fragment is not taken for a SYN",
            a,
            later_fragment_like_syn,
        ),
        (
            "the largest that fits the uplink MTU",
            a,
            to_subscriber(A_ADDR, fits - 28),
        ),
        (
            "to a LAC on this host",
            local,
            to_subscriber([10, 0, 1, 1], 32),
        ),
        (
            "to a LAC on one of our own addresses",
            own_address,
            to_subscriber([10, 0, 0, 8], 32),
        ),
        (
            "exactly the MRU, LAC on this host",
            local,
            to_subscriber([172, 16, 9, 9], usize::from(local.mru) - 28),
        ),
    ];
    with_lab(None, &sessions, |lab| {
        // The program delivers to a LAC on this host only if its socket is here.
        let _lacs =
            [LOCAL_LAC, OWN_ADDRESS_LAC].map(|a| std::net::UdpSocket::bind(a).expect("bind"));
        for (what, s, inner) in &cases {
            let out = forward(lab, Down, &down(inner), s.key, inner.len(), what);
            let e = encap_for(s, None);
            // Field by field first, for a readable failure; then every byte.
            assert_eq!(
                out[0..6],
                e.dmac,
                "{what}: destination MAC (the LAC's neighbour entry)"
            );
            assert_eq!(out[6..12], e.smac, "{what}: source MAC");
            let ip = &out[ETH_LEN..];
            assert_eq!(checksum(&ip[..20]), 0, "{what}: outer header checksum");
            assert_eq!(
                usize::from(be16(ip, 2)),
                inner.len() + ENCAP_LEN,
                "{what}: total length"
            );
            assert_eq!(
                usize::from(be16(ip, 24)),
                inner.len() + ENCAP_LEN - 20,
                "{what}: UDP length"
            );
            assert_eq!(
                (be16(ip, 20), be16(ip, 22), be16(ip, 26)),
                (L2TP_PORT, s.peer.port(), 0),
                "{what}: UDP"
            );
            assert_eq!(
                (be16(ip, 30), be16(ip, 32)),
                (s.peer_tunnel, s.peer_session),
                "{what}: L2TP ids"
            );
            assert_eq!(
                hex(&out),
                hex(&encapsulated(&e, inner)),
                "{what}: the whole frame"
            );
        }
    });
}

#[test]
fn downstream_pass_reasons() {
    if skip_privileged() {
        return;
    }
    let rows = downstream_pass_rows();
    with_lab(None, &standard_sessions(), |lab| {
        check_rows(lab, Down, &rows);
        assert_eq!(lab.forwarded(A), [0; 4], "nothing of A was forwarded");
        // The route lookup is a forwarding lookup from lo: without
        // forwarding there, every packet goes to userspace.
        lab.exec(&["sysctl", "-qw", "net.ipv4.conf.lo.forwarding=0"]);
        check_rows(
            lab,
            Down,
            &[row(
                "forwarding disabled on lo",
                DownFibFailed,
                down(&to_subscriber(A_ADDR, 32)),
            )],
        );
    });
    with_lab_where_lo_refuses_local_sources(&standard_sessions(), |lab| {
        let _lac = std::net::UdpSocket::bind(LOCAL_LAC).expect("the local LAC's socket");
        check_rows(lab, Down, &local_lac_refused_rows());
    });
}

#[test]
fn an_uplink_attached_after_start_carries_downstream() {
    if skip_privileged() {
        return;
    }
    with_lab(None, &standard_sessions(), |lab| {
        let k = key(1, 6);
        let inner = to_subscriber([10, 0, 0, 6], 32);
        let to_it = down(&inner);
        check_rows(lab, Down, &[row("before", DownNotUplink, to_it.clone())]);
        lab.fp.add_uplink(OTHER).expect("attach to the new device");
        assert!(lab.fp.uplinks().iter().any(|(n, _)| n == OTHER));
        forward(
            lab,
            Down,
            &to_it,
            k,
            inner.len(),
            "after the device is attached",
        );
        // Made again (a new ifindex): attached again, the old one let go.
        lab.exec(&["ip", "link", "del", OTHER]);
        for c in other_device() {
            let argv: Vec<&str> = std::iter::once("ip").chain(c.split_whitespace()).collect();
            lab.exec(&argv);
        }
        check_rows(
            lab,
            Down,
            &[row("made again", DownNotUplink, to_it.clone())],
        );
        lab.fp
            .add_uplink(OTHER)
            .expect("attach to the device made again");
        assert_eq!(
            lab.fp.uplinks().iter().filter(|(n, _)| n == OTHER).count(),
            1
        );
        forward(
            lab,
            Down,
            &to_it,
            k,
            inner.len(),
            "after the device made again is attached",
        );
    });
}

#[test]
fn removed_session_is_passed_and_comes_back_with_zeroed_counters() {
    if skip_privileged() {
        return;
    }
    let a = a_session();
    let inner = inner_udp(A_ADDR, 32);
    let from_a = up_a(PPP_FULL, &inner);
    let reply = to_subscriber(A_ADDR, 32);
    let routed = to_subscriber([192, 168, 50, 7], 32);
    with_lab(None, &standard_sessions(), |lab| {
        forward(lab, Up, &from_a, A, inner.len(), "before removal, up");
        forward(
            lab,
            Down,
            &down(&reply),
            A,
            reply.len(),
            "before removal, down",
        );
        let (_, old_slot) = lab.fp.slot_counters(A).expect("slot");

        lab.fp.remove(A);
        assert!(lab.fp.slot_counters(A).is_none());
        check_rows(
            lab,
            Up,
            &[row("after removal", UpUnknownSession, from_a.clone())],
        );
        check_rows(
            lab,
            Down,
            &[
                row("to the address after removal", DownNoRoute, down(&reply)),
                row("to the route after removal", DownNoRoute, down(&routed)),
            ],
        );
        assert_eq!(
            lab.forwarded_slot(old_slot),
            [1, inner.len() as u64, 1, reply.len() as u64],
            "the old slot keeps its counts until reused"
        );

        // A's line rests (a program run may still be reading it): back at
        // once, A takes a slot past the lines and is found in the hash.
        lab.fp.upsert(&a).expect("upsert again");
        let (_, hash_slot) = lab.fp.slot_counters(A).expect("slot");
        assert!(
            !std::ptr::eq(old_slot, hash_slot),
            "a resting line is not reused"
        );
        assert_eq!(lab.forwarded(A), [0; 4]);
        forward(lab, Up, &from_a, A, inner.len(), "from the hash, up");

        // Two ticks later the line is free again: A is back on it, and its
        // counts start from zero.
        lab.fp.remove(A);
        lab.fp.tick();
        lab.fp.tick();
        lab.fp.upsert(&a).expect("upsert on the line");
        let (_, new_slot) = lab.fp.slot_counters(A).expect("slot");
        assert!(
            std::ptr::eq(old_slot, new_slot),
            "the rested line is reused"
        );
        assert_eq!(lab.forwarded(A), [0; 4], "a reused slot starts from zero");
        forward(lab, Up, &from_a, A, inner.len(), "after upsert, up");
        forward(
            lab,
            Down,
            &down(&routed),
            A,
            routed.len(),
            "after upsert, to the route",
        );

        // Upserted without its route: the route goes, the address stays,
        // and the slot with its counts is kept.
        let mut without_route = a.clone();
        without_route.routes.clear();
        lab.fp
            .upsert(&without_route)
            .expect("upsert without the route");
        check_rows(
            lab,
            Down,
            &[row("to the dropped route", DownNoRoute, down(&routed))],
        );
        forward(
            lab,
            Down,
            &down(&reply),
            A,
            reply.len(),
            "to the address after the route went",
        );
        assert_eq!(
            lab.forwarded(A),
            [
                1,
                inner.len() as u64,
                2,
                (routed.len() + reply.len()) as u64
            ]
        );
    });
}

#[test]
fn bind_address_is_the_only_destination_and_the_outer_source() {
    if skip_privileged() {
        return;
    }
    let a = a_session();
    let inner = inner_udp(A_ADDR, 32);
    let l2tp = l2tp_data(1, 1, PPP_FULL, &inner);
    let to_bind = ethernet(
        TO_US,
        LAC_MAC,
        ETHERTYPE_IPV4,
        &udp4(LAC, SocketAddrV4::new(BIND_ADDR, L2TP_PORT), &l2tp, true),
    );
    let reply = to_subscriber(A_ADDR, 32);
    with_lab(Some(BIND_ADDR), std::slice::from_ref(&a), |lab| {
        // To another of our addresses: not the daemon's socket, not ours.
        check_rows(
            lab,
            Up,
            &[not_ours("to the uplink's other address", up(&l2tp))],
        );
        forward(lab, Up, &to_bind, A, inner.len(), "to the bind address");
        let out = forward(
            lab,
            Down,
            &down(&reply),
            A,
            reply.len(),
            "down with a bind address",
        );
        assert_eq!(
            hex(&out),
            hex(&encapsulated(&encap_for(&a, Some(BIND_ADDR)), &reply))
        );
    });
}

/// Once each way through the real devices, which BPF_PROG_TEST_RUN does
/// not reach: the downstream program on the TUN itself (no link header, so
/// it pushes the Ethernet header too) and both redirects carried out.
#[test]
fn real_frames_cross_the_devices_both_ways() {
    if skip_privileged() {
        return;
    }
    let a = a_session();
    with_lab(None, std::slice::from_ref(&a), |lab| {
        lab.tun
            .add_route(Ipv4Addr::new(10, 0, 0, 0), 24)
            .expect("route into the TUN");
        let wire = PacketSocket::bind(UPLINK_PEER);
        let wait = std::time::Duration::from_secs(3);

        // A datagram routed into the TUN leaves the uplink encapsulated.
        let sender = std::net::UdpSocket::bind(SocketAddrV4::new(TUN_ADDR, 0)).expect("bind");
        let message = b"down the fast path";
        sender.send_to(message, addr(A_ADDR, 5000)).expect("send");
        let is_ours = |f: &[u8]| {
            f.len() > ETH_LEN + ENCAP_LEN
                && be16(f, 12) == ETHERTYPE_IPV4
                && f[OUTER_IP + 12..OUTER_IP + 16] == OUR_ADDR.octets()
                && be16(f, OUTER_UDP) == L2TP_PORT
        };
        let frame = wire
            .receive(wait, is_ours)
            .expect("no L2TP frame left the uplink");
        let inner = &frame[ETH_LEN + ENCAP_LEN..];
        assert_eq!(hex(&frame), hex(&encapsulated(&encap_for(&a, None), inner)));
        assert_eq!(
            inner[12..20],
            [TUN_ADDR.octets(), A_ADDR].concat()[..],
            "inner addresses"
        );
        assert!(inner.ends_with(message));
        assert_eq!(lab.forwarded(A), [0, 0, 1, inner.len() as u64]);

        // The LAC's data message on the wire reaches a local socket
        // through the TUN's ingress.
        let receiver = std::net::UdpSocket::bind(SocketAddrV4::new(TUN_ADDR, 7000)).expect("bind");
        receiver.set_read_timeout(Some(wait)).expect("timeout");
        let message = b"up the fast path";
        let inner = udp4(
            addr(A_ADDR, 5000),
            SocketAddrV4::new(TUN_ADDR, 7000),
            message,
            true,
        );
        let l2tp = l2tp_data(A.tunnel, A.session, PPP_FULL, &inner);
        let ip = udp4(LAC, SocketAddrV4::new(OUR_ADDR, L2TP_PORT), &l2tp, false);
        wire.send(&ethernet(UPLINK_MAC, LAC_MAC, ETHERTYPE_IPV4, &ip));
        let mut buf = [0u8; 2048];
        let (n, from) = receiver
            .recv_from(&mut buf)
            .expect("the inner datagram did not arrive");
        assert_eq!(&buf[..n], message);
        assert_eq!(from, addr(A_ADDR, 5000).into());
        assert_eq!(lab.forwarded(A)[..2], [1, inner.len() as u64]);
    });
}

/// Every reason is provoked by a row above or explained in UNPRODUCIBLE:
/// a reason added to the programs needs a row here.
#[test]
fn every_pass_reason_has_a_row_or_an_explanation() {
    let mut covered: Vec<PassReason> = upstream_pass_rows()
        .iter()
        .chain(&downstream_pass_rows())
        .chain(&local_lac_refused_rows())
        .filter_map(|r| r.reason)
        .chain(UNPRODUCIBLE.iter().map(|(r, _)| *r))
        .collect();
    covered.sort_by_key(|r| *r as u32);
    covered.dedup();
    assert_eq!(covered, PassReason::ALL.to_vec());
    for (r, _) in UNPRODUCIBLE {
        assert!(
            !upstream_pass_rows()
                .iter()
                .chain(&downstream_pass_rows())
                .any(|row| row.reason == Some(*r)),
            "{r} has a row now: take it out of UNPRODUCIBLE"
        );
    }
}

#[test]
fn fuzzed_frames_are_passed_unchanged_or_forwarded_as_userspace_would() {
    if skip_privileged() {
        return;
    }
    const MUTANTS: u64 = 20_000;
    let sessions = fuzz_sessions();
    let (ups, downs) = fuzz_bases(&sessions);
    with_lab(None, &sessions, |lab| {
        // The program delivers to a LAC on this host only if its socket is here.
        let _lac = std::net::UdpSocket::bind(LOCAL_LAC).expect("the local LAC's socket");
        let mut fz = Fuzz::new(lab, &sessions);
        let start = lab.passed();
        for f in &ups {
            assert!(fz.run(Up, f), "a base frame was refused");
        }
        for f in &downs {
            assert!(fz.run(Down, f), "a base frame was refused");
        }
        let mut rng = XorShift::new(0x5eed_f457_9a7b_0001);
        let mut mutants = 0;
        while mutants < MUTANTS {
            let (program, bases) = if mutants % 2 == 0 {
                (Up, &ups)
            } else {
                (Down, &downs)
            };
            let base = &bases[rng.below(bases.len())];
            let f = mutate(base, &mut rng, matches!(program, Up));
            if fz.run(program, &f) {
                mutants += 1;
            }
        }

        let reasons = moved(&start, &lab.passed());
        let passed: u64 = reasons.iter().map(|(_, n)| n).sum();
        let forwarded: u64 = sessions
            .iter()
            .map(|s| lab.forwarded(s.key))
            .map(|c| c[0] + c[2])
            .sum();
        eprintln!(
            "fuzz: {} runs: {forwarded} forwarded, {passed} passed {reasons:?}, {} not L2TP for us, \
             {} dropped; {} more refused by test_run",
            fz.runs, fz.not_ours, fz.dropped, fz.refused
        );
        // A drop is counted as down-encap-failed too: it is in `passed`.
        assert_eq!(passed + forwarded + fz.not_ours, fz.runs);
        assert_eq!(forwarded, fz.redirected);
        // Not a degenerate run: plenty forwarded both ways, most reasons met.
        assert!(forwarded > 2_000, "only {forwarded} forwarded");
        assert!(
            reasons.len() >= 18,
            "only {} pass reasons met",
            reasons.len()
        );
    });
}
