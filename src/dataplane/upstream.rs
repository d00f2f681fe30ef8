//! Upstream (LAC -> TUN): one UDP datagram from port 1701 in, one verdict
//! out (boringtun-style). L2TP header (RFC 2661 §3.1), PPP framing (RFC
//! 1661 §2), minimal IPv4 sanity (RFC 791 §3.1) and anti-spoofing as in
//! l2tpns `processipin`; data for a session from any address or port but
//! its tunnel's LAC is dropped (`WrongPeer`: one compare).
//!
//! The table holds only sessions whose IPCP is up, so only IPv4 needs a
//! table entry: every other PPP protocol (LCP, authentication, IPCP, IPv6...)
//! goes to the control plane even for keys the table does not know, since
//! sessions still negotiating live only there.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::Ordering::Relaxed;

use super::drop_reason::DropReason;
use super::ipv4;
use super::l2tp_data::{self, L2tpData};
use super::ppp_data::{self, PROTO_IPV4};
use super::session_table::{SessionKey, SessionTable};
use super::tcp_mss::clamp_tcp_mss;

/// What the worker does with an upstream datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpVerdict<P> {
    /// Write this IPv4 packet (a slice of the datagram, trimmed to its total
    /// length) to the TUN; it came from this session.
    ToTun(P, SessionKey),
    /// An L2TP control message or a non-IPv4 PPP frame: hand the whole datagram to the control plane.
    ToControl,
    /// Count it under this reason and forget it.
    Drop(DropReason),
}

/// [`UpVerdict`] with the packet as a range, so callers can borrow as they need.
enum Classified {
    ToTun {
        ip: Range<usize>,
        mru: u16,
        key: SessionKey,
    },
    ToControl,
    Drop(DropReason),
}

/// Classify a datagram received on the L2TP port from `from`. `tick` is
/// the worker's coarse clock, stored as the session's `last_rx_tick`.
#[inline]
pub fn upstream<'a>(
    table: &SessionTable,
    datagram: &'a [u8],
    from: SocketAddr,
    tick: u64,
) -> UpVerdict<&'a [u8]> {
    match classify(table, datagram, from, tick) {
        Classified::ToTun { ip, key, .. } => match datagram.get(ip) {
            Some(p) => UpVerdict::ToTun(p, key),
            None => UpVerdict::Drop(DropReason::Ipv4Malformed), // unreachable: the range was checked
        },
        Classified::ToControl => UpVerdict::ToControl,
        Classified::Drop(r) => UpVerdict::Drop(r),
    }
}

/// As [`upstream`], and clamp the MSS of TCP SYNs to the session's MRU minus
/// 40 (IPv4 + TCP headers) in place, so the server's segments fit the link.
/// The packet stays mutable: the worker's policy may rewrite it (garden).
pub fn upstream_clamp_mss<'a>(
    table: &SessionTable,
    datagram: &'a mut [u8],
    from: SocketAddr,
    tick: u64,
) -> UpVerdict<&'a mut [u8]> {
    match classify(table, datagram, from, tick) {
        Classified::ToTun { ip, mru, key } => match datagram.get_mut(ip) {
            Some(p) => {
                clamp_tcp_mss(p, mru.saturating_sub(40));
                UpVerdict::ToTun(p, key)
            }
            None => UpVerdict::Drop(DropReason::Ipv4Malformed),
        },
        Classified::ToControl => UpVerdict::ToControl,
        Classified::Drop(r) => UpVerdict::Drop(r),
    }
}

#[inline]
fn classify(table: &SessionTable, datagram: &[u8], from: SocketAddr, tick: u64) -> Classified {
    let (key, payload) = match l2tp_data::parse(datagram) {
        Ok(L2tpData::Data {
            tunnel,
            session,
            payload,
        }) => (SessionKey { tunnel, session }, payload),
        Ok(L2tpData::Control) => return Classified::ToControl,
        Err(_) => return Classified::Drop(DropReason::MalformedL2tp),
    };
    let frame = datagram.get(payload.clone()).unwrap_or_default();
    let info = match ppp_data::parse(frame) {
        Ok((PROTO_IPV4, info)) => info,
        Ok(_) => return Classified::ToControl,
        Err(_) => return Classified::Drop(DropReason::BadPpp),
    };
    // Not in this worker's table: the session may have just finished IPCP
    // with the update still on its way (the client's first packet can
    // overtake it), so the control plane decides; it drops and counts
    // packets of sessions that are really unknown.
    let Some(entry) = table.by_key(key) else {
        return Classified::ToControl;
    };
    // Only the tunnel's LAC, address and port, may send the session's data.
    if entry.peer != from {
        return Classified::Drop(DropReason::WrongPeer);
    }
    let start = payload.start + info;
    let ip = frame.get(info..).unwrap_or_default();
    let Ok((total, _)) = ipv4::check(ip) else {
        return Classified::Drop(DropReason::Ipv4Malformed);
    };
    let c = &entry.counters;
    if entry.anti_spoof {
        // check() guarantees at least 20 bytes.
        let src = std::net::Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
        if !entry.owns_source(src) {
            c.spoof_drops.fetch_add(1, Relaxed);
            return Classified::Drop(DropReason::SpoofedSource);
        }
    }
    c.rx_packets.fetch_add(1, Relaxed);
    c.rx_bytes.fetch_add(total as u64, Relaxed);
    c.last_rx_tick.store(tick, Relaxed);
    Classified::ToTun {
        ip: start..start + total,
        mru: entry.mru,
        key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::ipv4::tests::packet;
    use crate::dataplane::session_table::tests::entry;
    use crate::dataplane::session_table::TableUpdate;

    const SESSION_ADDR: [u8; 4] = [10, 0, 0, 1];

    /// The LAC of the test table's sessions (`session_table::tests::entry`).
    fn lac() -> SocketAddr {
        "192.0.2.1:1701".parse().unwrap()
    }

    fn table() -> SessionTable {
        let mut t = SessionTable::new();
        t.apply(TableUpdate::Upsert(entry(
            7,
            9,
            SESSION_ADDR,
            &["192.168.10.0/24"],
        )));
        let mut open = entry(7, 10, [10, 0, 0, 2], &[]);
        open.anti_spoof = false;
        t.apply(TableUpdate::Upsert(open));
        t
    }

    fn dgram(header: &[u8], ppp: &[u8], ip: &[u8]) -> Vec<u8> {
        [header, ppp, ip].concat()
    }

    const HDR_7_9: [u8; 6] = [0x00, 0x02, 0x00, 0x07, 0x00, 0x09];
    const FF03_IPV4: [u8; 4] = [0xff, 0x03, 0x00, 0x21];

    fn key(tunnel: u16, session: u16) -> SessionKey {
        SessionKey { tunnel, session }
    }

    fn counters(t: &SessionTable, s: u16) -> crate::dataplane::session_table::CounterSnapshot {
        t.by_key(SessionKey {
            tunnel: 7,
            session: s,
        })
        .unwrap()
        .counters
        .snapshot()
    }

    #[test]
    fn control_message() {
        let t = table();
        let sccrq = [0xc8, 0x02, 0x00, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(upstream(&t, &sccrq, lac(), 1), UpVerdict::ToControl);
    }

    #[test]
    fn known_session_ipv4_exact_slice() {
        let t = table();
        let ip = packet(SESSION_ADDR, [8, 8, 8, 8], 50, &[], false);
        let mut d = dgram(&HDR_7_9, &FF03_IPV4, &ip);
        d.extend_from_slice(&[0xee; 3]); // trailing bytes beyond the IP total length
        assert_eq!(
            upstream(&t, &d, lac(), 42),
            UpVerdict::ToTun(&ip[..], key(7, 9))
        );
        let c = counters(&t, 9);
        assert_eq!(
            (c.rx_packets, c.rx_bytes, c.last_rx_tick, c.spoof_drops),
            (1, 70, 42, 0)
        );
    }

    #[test]
    fn data_from_another_address_or_port_is_dropped_and_not_counted() {
        let t = table();
        let ip = packet(SESSION_ADDR, [8, 8, 8, 8], 50, &[], false);
        let d = dgram(&HDR_7_9, &FF03_IPV4, &ip);
        for other in ["192.0.2.1:1702", "192.0.2.2:1701"] {
            assert_eq!(
                upstream(&t, &d, other.parse().unwrap(), 1),
                UpVerdict::Drop(DropReason::WrongPeer)
            );
        }
        assert_eq!(counters(&t, 9).rx_packets, 0);
        assert_eq!(
            upstream(&t, &d, lac(), 1),
            UpVerdict::ToTun(&ip[..], key(7, 9))
        );
    }

    #[test]
    fn pfc_acfc_variants() {
        let t = table();
        let ip = packet(SESSION_ADDR, [8, 8, 8, 8], 10, &[], false);
        for ppp in [
            &[0xff, 0x03, 0x00, 0x21][..],
            &[0xff, 0x03, 0x21],
            &[0x00, 0x21],
            &[0x21],
        ] {
            let d = dgram(&HDR_7_9, ppp, &ip);
            assert_eq!(
                upstream(&t, &d, lac(), 1),
                UpVerdict::ToTun(&ip[..], key(7, 9)),
                "{ppp:02x?}"
            );
        }
        // With L, S and O set in the L2TP header too.
        let len = (16 + 4 + ip.len()) as u16;
        let mut h = vec![0x4a, 0x02];
        h.extend_from_slice(&len.to_be_bytes());
        h.extend_from_slice(&[0, 7, 0, 9, 0, 1, 0, 2, 0, 2, 0xaa, 0xbb]);
        let d = dgram(&h, &FF03_IPV4, &ip);
        assert_eq!(
            upstream(&t, &d, lac(), 1),
            UpVerdict::ToTun(&ip[..], key(7, 9))
        );
        assert_eq!(counters(&t, 9).rx_packets, 5);
    }

    #[test]
    fn malformed_headers() {
        let t = table();
        let ip = packet(SESSION_ADDR, [8, 8, 8, 8], 10, &[], false);
        let h = [
            0x4a, 0x02, 0x00, 0x10, 0, 7, 0, 9, 0, 1, 0, 2, 0, 2, 0xaa, 0xbb,
        ];
        for n in 0..h.len() {
            assert_eq!(
                upstream(&t, &h[..n], lac(), 1),
                UpVerdict::Drop(DropReason::MalformedL2tp),
                "len {n}"
            );
        }
        let bad_version = dgram(&[0x00, 0x03, 0, 7, 0, 9], &FF03_IPV4, &ip);
        assert_eq!(
            upstream(&t, &bad_version, lac(), 1),
            UpVerdict::Drop(DropReason::MalformedL2tp)
        );
        let long = dgram(&[0x40, 0x02, 0x01, 0x00, 0, 7, 0, 9], &FF03_IPV4, &ip);
        assert_eq!(
            upstream(&t, &long, lac(), 1),
            UpVerdict::Drop(DropReason::MalformedL2tp)
        );
        let offset = dgram(&[0x02, 0x02, 0, 7, 0, 9, 0x10, 0x00], &FF03_IPV4, &ip);
        assert_eq!(
            upstream(&t, &offset, lac(), 1),
            UpVerdict::Drop(DropReason::MalformedL2tp)
        );
        assert_eq!(counters(&t, 9).rx_packets, 0);
    }

    #[test]
    fn l2tp_length_cuts_the_ip_packet() {
        let t = table();
        let ip = packet(SESSION_ADDR, [8, 8, 8, 8], 10, &[], false);
        let len = (8 + 4 + ip.len() - 1) as u16;
        let mut h = vec![0x40, 0x02];
        h.extend_from_slice(&len.to_be_bytes());
        h.extend_from_slice(&[0, 7, 0, 9]);
        let d = dgram(&h, &FF03_IPV4, &ip);
        assert_eq!(
            upstream(&t, &d, lac(), 1),
            UpVerdict::Drop(DropReason::Ipv4Malformed)
        );
    }

    #[test]
    fn bad_ppp() {
        let t = table();
        for ppp in [&[][..], &[0xff, 0x03], &[0xff, 0x03, 0x00], &[0x00, 0x20]] {
            let d = dgram(&HDR_7_9, ppp, &[]);
            assert_eq!(
                upstream(&t, &d, lac(), 1),
                UpVerdict::Drop(DropReason::BadPpp),
                "{ppp:02x?}"
            );
        }
    }

    #[test]
    fn unknown_session() {
        let t = table();
        let ip = packet(SESSION_ADDR, [8, 8, 8, 8], 10, &[], false);
        let d = dgram(&[0x00, 0x02, 0x00, 0x07, 0x00, 0x63], &FF03_IPV4, &ip);
        // IPv4 of a session not in the table goes to the control plane,
        // which forwards it if IPCP just came up and drops it otherwise.
        assert_eq!(upstream(&t, &d, lac(), 1), UpVerdict::ToControl);
        // LCP Configure-Request for a session still negotiating: the control plane's.
        let lcp = dgram(
            &[0x00, 0x02, 0x00, 0x07, 0x00, 0x63],
            &[0xff, 0x03, 0xc0, 0x21],
            &[1, 1, 0, 4],
        );
        assert_eq!(upstream(&t, &lcp, lac(), 1), UpVerdict::ToControl);
        let lcp_acfc = dgram(
            &[0x00, 0x02, 0x01, 0x07, 0x00, 0x63],
            &[0xc0, 0x21],
            &[1, 1, 0, 4],
        );
        assert_eq!(upstream(&t, &lcp_acfc, lac(), 1), UpVerdict::ToControl);
    }

    #[test]
    fn non_ipv4_frames_go_to_control() {
        let t = table();
        let v6 = dgram(&HDR_7_9, &[0xff, 0x03, 0x00, 0x57], &[0x60, 0, 0, 0]);
        assert_eq!(upstream(&t, &v6, lac(), 1), UpVerdict::ToControl);
        let v6_pfc = dgram(&HDR_7_9, &[0x57], &[0x60, 0, 0, 0]);
        assert_eq!(upstream(&t, &v6_pfc, lac(), 1), UpVerdict::ToControl);
        let ipcp = dgram(&HDR_7_9, &[0x80, 0x21], &[1, 1, 0, 4]);
        assert_eq!(upstream(&t, &ipcp, lac(), 1), UpVerdict::ToControl);
        assert_eq!(counters(&t, 9).rx_packets, 0);
    }

    #[test]
    fn malformed_ipv4() {
        let t = table();
        let ip = packet(SESSION_ADDR, [8, 8, 8, 8], 10, &[], false);
        for n in 0..ip.len() {
            let d = dgram(&HDR_7_9, &FF03_IPV4, &ip[..n]);
            assert_eq!(
                upstream(&t, &d, lac(), 1),
                UpVerdict::Drop(DropReason::Ipv4Malformed),
                "len {n}"
            );
        }
        let mut v6_as_v4 = ip.clone();
        v6_as_v4[0] = 0x60;
        let d = dgram(&HDR_7_9, &FF03_IPV4, &v6_as_v4);
        assert_eq!(
            upstream(&t, &d, lac(), 1),
            UpVerdict::Drop(DropReason::Ipv4Malformed)
        );
    }

    #[test]
    fn spoofed_source_dropped_and_counted() {
        let t = table();
        let ip = packet([10, 0, 0, 66], [8, 8, 8, 8], 10, &[], false);
        let d = dgram(&HDR_7_9, &FF03_IPV4, &ip);
        assert_eq!(
            upstream(&t, &d, lac(), 5),
            UpVerdict::Drop(DropReason::SpoofedSource)
        );
        assert_eq!(
            upstream(&t, &d, lac(), 6),
            UpVerdict::Drop(DropReason::SpoofedSource)
        );
        let c = counters(&t, 9);
        assert_eq!((c.spoof_drops, c.rx_packets, c.last_rx_tick), (2, 0, 0));
    }

    #[test]
    fn routed_source_allowed() {
        let t = table();
        let ip = packet([192, 168, 10, 77], [8, 8, 8, 8], 10, &[], false);
        let d = dgram(&HDR_7_9, &FF03_IPV4, &ip);
        assert_eq!(
            upstream(&t, &d, lac(), 1),
            UpVerdict::ToTun(&ip[..], key(7, 9))
        );
    }

    #[test]
    fn anti_spoof_disabled() {
        let t = table();
        let ip = packet([1, 2, 3, 4], [8, 8, 8, 8], 10, &[], false);
        let d = dgram(&[0x00, 0x02, 0x00, 0x07, 0x00, 0x0a], &FF03_IPV4, &ip);
        assert_eq!(
            upstream(&t, &d, lac(), 1),
            UpVerdict::ToTun(&ip[..], key(7, 10))
        );
        assert_eq!(counters(&t, 10).rx_packets, 1);
    }

    #[test]
    fn clamp_variant_rewrites_syn_mss() {
        let t = table(); // mru 1500 -> MSS 1460
        let mut ip = packet(SESSION_ADDR, [8, 8, 8, 8], 24, &[], false);
        ip[9] = ipv4::PROTO_TCP;
        ipv4::fill_header_checksum(&mut ip[..20]);
        ip[32] = 0x60; // data offset 6 words
        ip[33] = 0x02; // SYN
        ip[40..44].copy_from_slice(&[2, 4, 0x20, 0x00]); // MSS 8192
        let mut d = dgram(&HDR_7_9, &FF03_IPV4, &ip);
        match upstream_clamp_mss(&t, &mut d, lac(), 1) {
            UpVerdict::ToTun(p, k) => {
                assert_eq!(&p[42..44], &1460u16.to_be_bytes());
                assert_eq!(k, key(7, 9));
            }
            v => panic!("{v:?}"),
        }
        let mut lcp = dgram(&HDR_7_9, &[0xc0, 0x21], &[1, 1, 0, 4]);
        assert_eq!(
            upstream_clamp_mss(&t, &mut lcp, lac(), 1),
            UpVerdict::ToControl
        );
    }
}
