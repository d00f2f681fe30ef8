//! The sessions and crafted frames of tests/fastpath_programs.rs: session
//! A and one session per way the downstream route lookup can end, frames
//! built around them, and the tables of frames each program must pass on,
//! one row per pass reason (or per way of not being L2TP for us at all).

use std::net::{Ipv4Addr, SocketAddrV4};

use l2tpns::daemon::fastpath::{FastSession, PassReason};
use l2tpns::dataplane::SessionKey;

use super::frames::*;
use super::*;
use PassReason::*;

/// The session most tests use: A, on the usual LAC, with a Framed-Route.
pub const A: SessionKey = key(1, 1);
pub const A_ADDR: [u8; 4] = [10, 0, 0, 1];
pub const A_ROUTE: &str = "192.168.50.0/24";
pub const A_MRU: u16 = 1500;
/// Its LAC is on this host.
pub const LOCAL_KEY: SessionKey = key(2, 1);
/// Where subscribers' packets go to and come from.
pub const REMOTE: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 53), 53);

/// A, and one session per way the downstream route lookup can end.
pub fn standard_sessions() -> Vec<FastSession> {
    vec![
        session(A, A_ADDR, LAC, &[A_ROUTE], A_MRU),
        session(key(1, 2), [10, 0, 0, 2], UNRESOLVED_LAC, &[], 1500),
        session(key(1, 3), [10, 0, 0, 3], BLACKHOLE_LAC, &[], 1500),
        session(key(1, 4), [10, 0, 0, 4], UNREACHABLE_LAC, &[], 1500),
        session(key(1, 5), [10, 0, 0, 5], PROHIBITED_LAC, &[], 1500),
        session(key(1, 6), [10, 0, 0, 6], OFF_UPLINK_LAC, &[], 1500),
        session(key(1, 7), [10, 0, 0, 7], UNROUTED_LAC, &[], 1500),
        session(key(1, 8), [10, 0, 0, 8], OWN_ADDRESS_LAC, &[], 1500),
        session(
            LOCAL_KEY,
            [10, 0, 1, 1],
            LOCAL_LAC,
            &["172.16.0.0/12"],
            1400,
        ),
    ]
}

pub fn a_session() -> FastSession {
    standard_sessions().remove(0)
}

pub fn addr(a: [u8; 4], port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::from(a), port)
}

/// A subscriber's UDP packet from `src` with `n` bytes of payload.
pub fn inner_udp(src: [u8; 4], n: usize) -> Vec<u8> {
    udp4(addr(src, 5000), REMOTE, &pattern(n), true)
}

/// A packet from the Internet to `dst` with `n` bytes of UDP payload.
pub fn to_subscriber(dst: [u8; 4], n: usize) -> Vec<u8> {
    udp4(REMOTE, addr(dst, 5000), &pattern(n), true)
}

/// What the LAC at `from` sends to our port: `l2tp` as the UDP payload.
pub fn up_from(from: SocketAddrV4, l2tp: &[u8], with_checksum: bool) -> Vec<u8> {
    let to = SocketAddrV4::new(OUR_ADDR, L2TP_PORT);
    ethernet(
        TO_US,
        LAC_MAC,
        ETHERTYPE_IPV4,
        &udp4(from, to, l2tp, with_checksum),
    )
}

pub fn up(l2tp: &[u8]) -> Vec<u8> {
    up_from(LAC, l2tp, false)
}

/// A data message of session A carrying `inner` behind `ppp`.
pub fn up_a(ppp: &[u8], inner: &[u8]) -> Vec<u8> {
    up(&l2tp_data(A.tunnel, A.session, ppp, inner))
}

/// The frame with its outer IPv4 header (and what follows) edited; the
/// header checksum made right again.
pub fn outer(mut f: Vec<u8>, edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    edit(&mut f[OUTER_IP..]);
    fix_ipv4_checksum(&mut f[OUTER_IP..]);
    f
}

/// An IPv4 packet edited, its header checksum made right again.
pub fn edited(mut ip: Vec<u8>, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    edit(&mut ip);
    fix_ipv4_checksum(&mut ip);
    ip
}

/// The packet's total length changed by `by`, checksum right.
pub fn total_length_off(ip: Vec<u8>, by: i32) -> Vec<u8> {
    edited(ip, |ip| {
        let t = i32::from(be16(ip, 2)) + by;
        put16(ip, 2, t as u16);
    })
}

/// The IPv4 packet with 4 bytes of options (NOP NOP NOP EOL) in its header.
pub fn with_ip_options(mut ip: Vec<u8>) -> Vec<u8> {
    ip.splice(20..20, [1, 1, 1, 0]);
    edited(ip, |ip| {
        ip[0] = 0x46;
        let t = be16(ip, 2) + 4;
        put16(ip, 2, t);
    })
}

/// An upstream frame whose outer IPv4 header has options.
pub fn outer_with_options(f: &[u8]) -> Vec<u8> {
    [&f[..OUTER_IP], &with_ip_options(f[OUTER_IP..].to_vec())].concat()
}

/// A packet as the TUN's egress would see it, behind the Ethernet header
/// BPF_PROG_TEST_RUN needs.
pub fn down(ip: &[u8]) -> Vec<u8> {
    ethernet(TO_US, [0; 6], ETHERTYPE_IPV4, ip)
}

/// An L2TP data message of A whose header has the L, S or O field.
pub fn up_with_option(flags: u16, inner: &[u8]) -> Vec<u8> {
    let mut m = flags.to_be_bytes().to_vec();
    if flags & 0x4000 != 0 {
        m.extend_from_slice(&[0, 0]); // Length, set below
    }
    m.extend_from_slice(&A.tunnel.to_be_bytes());
    m.extend_from_slice(&A.session.to_be_bytes());
    if flags & 0x0800 != 0 {
        m.extend_from_slice(&[0, 0, 0, 0]); // Ns, Nr
    }
    if flags & 0x0200 != 0 {
        m.extend_from_slice(&[0, 0]); // Offset Size 0
    }
    m.extend_from_slice(PPP_FULL);
    m.extend_from_slice(inner);
    if flags & 0x4000 != 0 {
        let n = m.len() as u16;
        put16(&mut m, 2, n);
    }
    up(&m)
}

/// One crafted frame and the reason it must be passed for (None: not L2TP
/// for us at all, so passed uncounted).
pub struct Row {
    pub what: String,
    pub reason: Option<PassReason>,
    pub frame: Vec<u8>,
    pub gso: Option<(u32, u32)>,
}

pub fn row(what: &str, reason: PassReason, frame: Vec<u8>) -> Row {
    Row {
        what: what.to_string(),
        reason: Some(reason),
        frame,
        gso: None,
    }
}

pub fn not_ours(what: &str, frame: Vec<u8>) -> Row {
    Row {
        what: what.to_string(),
        reason: None,
        frame,
        gso: None,
    }
}

/// GRO or GSO merged several packets: (gso_segs, gso_size).
const SUPER_PACKET: Option<(u32, u32)> = Some((2, 1000));

/// Upstream frames, one row per reason that a frame can provoke, then
/// frames that are not L2TP for us.
#[rustfmt::skip]
pub fn upstream_pass_rows() -> Vec<Row> {
    let inner = inner_udp(A_ADDR, 32);
    let good = up_a(PPP_FULL, &inner);
    let lcp_echo = [0x09, 0x01, 0x00, 0x08, 0x12, 0x34, 0x56, 0x78];
    let tcp = |flags| tcp4(addr(A_ADDR, 40000), REMOTE, flags, &[]);
    let a_ip = Ipv4Addr::from(A_ADDR);
    let to_port = |port| SocketAddrV4::new(OUR_ADDR, port);
    let mut rows = vec![
        row("outer packet longer than the frame", UpMalformed, outer(good.clone(), |ip| {
            put16(ip, 2, be16(ip, 2) + 8);
            put16(ip, 24, be16(ip, 24) + 8);
        })),
        row("UDP length one short of the IPv4 total length", UpMalformed,
            outer(good.clone(), |ip| put16(ip, 24, be16(ip, 24) - 1))),
        row("outer header checksum wrong", UpMalformed, {
            let mut f = good.clone();
            f[OUTER_IP + 10] ^= 0x01;
            f
        }),
        row("outer header with options, checksum wrong", UpMalformed, {
            let mut f = outer_with_options(&good);
            f[OUTER_IP + 22] ^= 0x01; // an option byte
            f
        }),
        row("UDP payload of one byte", UpMalformed, up(&[0x00])),
        row("L2TP data header cut after the tunnel id", UpMalformed, up(&[0x00, 0x02, 0x00, 0x01])),
        row("first fragment of the outer packet", UpOuterFragment,
            outer(good.clone(), |ip| put16(ip, 6, IP_MF))),
        Row { gso: SUPER_PACKET, ..row("GRO super-packet", UpGso, good.clone()) },
        row("L2TP version 3", UpL2tpVersion, up(&[&[0x00, 0x03][..], &good[L2TP + 2..]].concat())),
        row("L2F (version 1)", UpL2tpVersion, up(&[&[0x00, 0x01][..], &good[L2TP + 2..]].concat())),
        row("control message", UpControl, up(&[0xc8, 0x02, 0x00, 0x0c, 0, 1, 0, 0, 0, 0, 0, 0])),
        row("data with a Length field", UpL2tpOptions, up_with_option(0x4002, &inner)),
        row("data with Ns and Nr", UpL2tpOptions, up_with_option(0x0802, &inner)),
        row("data with an Offset Size", UpL2tpOptions, up_with_option(0x0202, &inner)),
        row("unknown tunnel", UpUnknownSession, up(&l2tp_data(9, A.session, PPP_FULL, &inner))),
        row("unknown session of a known tunnel", UpUnknownSession,
            up(&l2tp_data(A.tunnel, 99, PPP_FULL, &inner))),
        row("from another address", UpWrongPeer,
            up_from(addr([192, 0, 2, 2], 1701), &good[L2TP..], false)),
        row("from another port", UpWrongPeer, up_from(addr([192, 0, 2, 1], 1702), &good[L2TP..], false)),
        row("LCP echo request", UpNotIpv4, up_a(&[0xff, 0x03, 0xc0, 0x21], &lcp_echo)),
        row("LCP without address and control", UpNotIpv4, up_a(&[0xc0, 0x21], &lcp_echo)),
        row("IPCP", UpNotIpv4, up_a(&[0xff, 0x03, 0x80, 0x21], &lcp_echo)),
        row("IPv6 with PFC", UpNotIpv4, up_a(&[0xff, 0x03, 0x57], &[0x60; 40])),
        row("no PPP frame at all", UpNotIpv4, up_a(&[], &[])),
        row("PPP protocol cut short", UpNotIpv4, up_a(&[0xff, 0x03, 0x00], &[])),
        row("IPv4 framing and nothing after", UpInnerMalformed, up_a(PPP_FULL, &[])),
        row("inner packet of 19 bytes", UpInnerMalformed, up_a(PPP_FULL, &inner[..19])),
        row("inner version 6", UpInnerMalformed, up_a(PPP_FULL, &edited(inner.clone(), |ip| ip[0] = 0x65))),
        row("inner IHL 4", UpInnerMalformed, up_a(PPP_FULL, &edited(inner.clone(), |ip| ip[0] = 0x44))),
        row("a byte after the inner packet", UpInnerMalformed, up_a(PPP_FULL, &[&inner[..], &[0]].concat())),
        row("inner total length beyond the data", UpInnerMalformed,
            up_a(PPP_FULL, &total_length_off(inner.clone(), 1))),
        row("inner IHL beyond the packet", UpInnerMalformed,
            up_a(PPP_FULL, &edited(ipv4(a_ip, *REMOTE.ip(), 253, &[0; 20]), |ip| ip[0] = 0x4f))),
        row("inner TCP header cut before its flags", UpInnerMalformed,
            up_a(PPP_FULL, &ipv4(a_ip, *REMOTE.ip(), PROTO_TCP, &[0; 13]))),
        row("spoofed inner source", UpSpoofedSource, up_a(PPP_FULL, &inner_udp([10, 0, 0, 99], 32))),
        row("source in the session's own Framed-Route (userspace checks routes)", UpSpoofedSource,
            up_a(PPP_FULL, &inner_udp([192, 168, 50, 7], 32))),
        row("inner first fragment", UpInnerFragment,
            up_a(PPP_FULL, &ipv4_frag(a_ip, *REMOTE.ip(), PROTO_UDP, IP_MF, &pattern(64)))),
        row("inner later fragment", UpInnerFragment,
            up_a(PPP_FULL, &ipv4_frag(a_ip, *REMOTE.ip(), PROTO_UDP, 8, &pattern(64)))),
        row("TCP SYN", UpTcpSyn, up_a(PPP_FULL, &tcp(TCP_SYN))),
        row("TCP SYN-ACK", UpTcpSyn, up_a(PPP_FULL, &tcp(TCP_SYN | TCP_ACK))),
        row("inner packet one byte over the TUN MTU", UpOverTunMtu,
            up_a(PPP_FULL, &inner_udp(A_ADDR, TUN_MTU as usize - 28 + 1))),
        row("wrong outer UDP checksum", UpUdpChecksum,
            outer(up_from(LAC, &good[L2TP..], true), |ip| put16(ip, 26, be16(ip, 26) ^ 0x0101))),
        row("outer UDP checksum over more than 2048 bytes", UpUdpChecksum,
            up_from(LAC, &l2tp_data(1, 1, PPP_FULL, &inner_udp(A_ADDR, 2100)), true)),
    ];
    // BPF_PROG_TEST_RUN refuses IPv4 frames shorter than an IPv4 header, so
    // "ends inside the IPv4 header" is not among these.
    rows.extend([
        not_ours("ARP", ethernet(TO_US, LAC_MAC, ETHERTYPE_ARP, &[0; 28])),
        not_ours("IPv6 ethertype", ethernet(TO_US, LAC_MAC, ETHERTYPE_IPV6, &good[ETH_LEN..])),
        not_ours("to another host's MAC", [&UPLINK_PEER_MAC[..], &good[6..]].concat()),
        not_ours("broadcast", [&[0xff; 6][..], &good[6..]].concat()),
        not_ours("TCP to port 1701", ethernet(TO_US, LAC_MAC, ETHERTYPE_IPV4,
            &tcp4(LAC, to_port(L2TP_PORT), TCP_ACK, &[0; 8]))),
        not_ours("UDP to port 1702", ethernet(TO_US, LAC_MAC, ETHERTYPE_IPV4,
            &udp4(LAC, to_port(1702), &good[L2TP..], false))),
        not_ours("later fragment of an outer packet", outer(good.clone(), |ip| put16(ip, 6, 100))),
        not_ours("version 6 in the outer IPv4 header", outer(good.clone(), |ip| ip[0] = 0x65)),
        not_ours("frame ends in the UDP header", good[..OUTER_UDP + 4].to_vec()),
    ]);
    rows
}

/// Downstream frames for the standard sessions, one row per reason. (An
/// IPv4 frame shorter than an IPv4 header is refused by BPF_PROG_TEST_RUN.)
#[rustfmt::skip]
pub fn downstream_pass_rows() -> Vec<Row> {
    let to_a = to_subscriber(A_ADDR, 32);
    let a_ip = Ipv4Addr::from(A_ADDR);
    // The largest inner packet whose encapsulation fits the uplink MTU.
    let fits = UPLINK_MTU - ENCAP_LEN;
    let to = |a: [u8; 4]| down(&to_subscriber(a, 32));
    vec![
        row("IPv6", DownNotIpv4, ethernet(TO_US, [0; 6], ETHERTYPE_IPV6, &[0x60; 48])),
        row("ARP", DownNotIpv4, ethernet(TO_US, [0; 6], ETHERTYPE_ARP, &[0; 28])),
        Row { gso: SUPER_PACKET, ..row("GSO super-packet", DownGso, down(&to_a)) },
        row("version 6 in an IPv4 frame", DownMalformed, down(&edited(to_a.clone(), |ip| ip[0] = 0x65))),
        row("IHL 4", DownMalformed, down(&edited(to_a.clone(), |ip| ip[0] = 0x44))),
        row("a byte after the packet", DownMalformed, down(&[&to_a[..], &[0]].concat())),
        row("total length beyond the data", DownMalformed, down(&total_length_off(to_a.clone(), 1))),
        row("IHL beyond the total length", DownMalformed,
            down(&edited(ipv4(*REMOTE.ip(), a_ip, 253, &[0; 20]), |ip| ip[0] = 0x4f))),
        row("TCP header cut before its flags", DownMalformed,
            down(&ipv4(*REMOTE.ip(), a_ip, PROTO_TCP, &[0; 13]))),
        row("no session owns the destination", DownNoRoute, to([10, 9, 9, 9])),
        row("just outside the Framed-Route", DownNoRoute, to([192, 168, 51, 1])),
        row("one byte over the MRU", DownOverMru,
            down(&to_subscriber(A_ADDR, usize::from(A_MRU) - 28 + 1))),
        row("TCP SYN", DownTcpSyn, down(&tcp4(REMOTE, addr(A_ADDR, 40000), TCP_SYN, &[]))),
        row("TCP from a local socket, checksum left for the device", DownPartialChecksum,
            down(&with_partial_checksum(tcp4(REMOTE, addr(A_ADDR, 40000), TCP_ACK, &pattern(100))))),
        row("UDP from a local socket, checksum left for the device", DownPartialChecksum,
            down(&with_partial_checksum(udp4(REMOTE, addr(A_ADDR, 40000), &pattern(100), true)))),
        row("LAC without a neighbour entry", DownNoNeigh, to([10, 0, 0, 2])),
        row("outer packet one byte over the uplink MTU", DownFragNeeded,
            down(&to_subscriber(A_ADDR, fits - 28 + 1))),
        row("LAC in a blackhole route", DownFibFailed, to([10, 0, 0, 3])),
        row("LAC in an unreachable route", DownFibFailed, to([10, 0, 0, 4])),
        row("LAC in a prohibit route", DownFibFailed, to([10, 0, 0, 5])),
        row("no route to the LAC at all", DownFibFailed, to([10, 0, 0, 7])),
        row("LAC on this host without its socket", DownFibFailed, to([10, 0, 1, 1])),
        row("route to the LAC by a device that is not an uplink", DownNotUplink, to([10, 0, 0, 6])),
    ]
}

/// Downstream in a lab where lo refuses local sources (the LAC on this
/// host has its socket there).
pub fn local_lac_refused_rows() -> Vec<Row> {
    vec![row(
        "LAC on this host while lo refuses local sources",
        DownLocalLac,
        down(&to_subscriber([10, 0, 1, 1], 32)),
    )]
}

/// Reasons no crafted frame can provoke, and why.
pub const UNPRODUCIBLE: &[(PassReason, &str)] = &[
    (
        UpDecapFailed,
        "bpf_skb_change_tail and bpf_skb_adjust_room fail only for GSO or \
         encapsulated skbs (passed before) or when memory runs out",
    ),
    (
        DownEncapFailed,
        "bpf_skb_adjust_room and bpf_skb_change_head fail on a linear non-GSO \
         skb only when memory runs out",
    ),
];
