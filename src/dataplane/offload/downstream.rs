//! Downstream (TUN -> LAC) with TUN offloads: one frame read from an
//! `IFF_VNET_HDR` TUN (virtio-net header + IPv4 packet) in, one verdict out.
//!
//! - No GSO: complete the checksum if the kernel left it partial
//!   (`NEEDS_CSUM`), then exactly [`downstream`].
//! - TCPv4 super-packet (TSO): segment to min(`gso_size`, what the MRU leaves
//!   after the headers), so segments never exceed the MRU and never need
//!   ICMP or fragmentation; each is encapsulated as [`downstream`] does.
//! - UDP super-packet (USO): one datagram per `gso_size` bytes. Datagram
//!   boundaries are the application's, so a segment over the MRU is handled
//!   like a plain packet: DF -> one ICMP frag-needed quoting the super-packet
//!   (the UDP ports are what the local stack needs) and nothing sent; no DF ->
//!   each segment fragmented.
//! - TCPv6, UFO, unknown GSO types, lies in the header: a typed drop.
//!
//! `hdr_len` is only checked to lie inside the packet (Linux uses it as a
//! hint too); headers are read from the packet itself.

use std::net::Ipv4Addr;
use std::sync::atomic::Ordering::Relaxed;

use super::checksum::complete_partial;
use super::segment::{l4_header_len, segment, SegmentError, SegmentSink, L4};
use super::vnet::{GsoKind, VnetHdr, VNET_HDR_LEN};
use crate::dataplane::downstream::{downstream, encapsulation, DownOutput, DownVerdict, ENCAP_LEN};
use crate::dataplane::drop_reason::DropReason;
use crate::dataplane::fragment::fragment;
use crate::dataplane::icmp;
use crate::dataplane::ipv4::{self, Ipv4Error, Ipv4Packet};
use crate::dataplane::session_table::SessionTable;

/// Route, segment and encapsulate one frame read from the TUN (virtio-net
/// header then IPv4). `frame` is modified in place (checksum completion).
/// `local_address` is the source of ICMP errors we generate; `tick` as in
/// [`downstream`] (packet_limit).
pub fn downstream_offload(
    table: &SessionTable,
    frame: &mut [u8],
    local_address: Ipv4Addr,
    tick: u64,
    out: &mut DownOutput,
) -> DownVerdict {
    out.clear();
    let Ok(h) = VnetHdr::parse(frame) else {
        return DownVerdict::Drop(DropReason::BadVnetHeader);
    };
    let packet = frame.get_mut(VNET_HDR_LEN..).unwrap_or_default();
    let total = match ipv4::check(packet) {
        Ok((total, _)) => total,
        Err(Ipv4Error::NotIpv4(_)) => return DownVerdict::Drop(DropReason::NotIpv4),
        Err(_) => return DownVerdict::Drop(DropReason::Ipv4Malformed),
    };
    let ip = packet.get_mut(..total).unwrap_or_default();
    if h.needs_csum() {
        let (start, offset) = (usize::from(h.csum_start), usize::from(h.csum_offset));
        if h.gso_kind() == GsoKind::None {
            if complete_partial(ip, start, offset).is_err() {
                return DownVerdict::Drop(DropReason::BadVnetHeader);
            }
        } else if start + offset + 2 > total {
            // Segmentation recomputes the checksum; the field must still be inside.
            return DownVerdict::Drop(DropReason::BadVnetHeader);
        }
    }
    let l4 = match h.gso_kind() {
        GsoKind::None => return downstream(table, ip, local_address, tick, out),
        GsoKind::TcpV4 { .. } => L4::Tcp,
        GsoKind::UdpL4 => L4::Udp,
        GsoKind::TcpV6 { .. } | GsoKind::Ufo | GsoKind::Unknown(_) => {
            return DownVerdict::Drop(DropReason::UnsupportedGso)
        }
    };
    if h.gso_size == 0 || usize::from(h.hdr_len) > total {
        return DownVerdict::Drop(DropReason::BadVnetHeader);
    }
    let p = match Ipv4Packet::new_checked(ip) {
        Ok(p) => p,
        Err(_) => return DownVerdict::Drop(DropReason::Ipv4Malformed), // checked above
    };
    let Ok(l4_len) = l4_header_len(&p, l4) else {
        return DownVerdict::Drop(DropReason::GsoMalformed);
    };
    segment_to_peer(
        table,
        &p,
        (l4, l4_len, usize::from(h.gso_size)),
        local_address,
        tick,
        out,
    )
}

/// `gso`: the L4 protocol, its header length and the segment size.
fn segment_to_peer(
    table: &SessionTable,
    p: &Ipv4Packet<'_>,
    gso: (L4, usize, usize),
    local_address: Ipv4Addr,
    tick: u64,
    out: &mut DownOutput,
) -> DownVerdict {
    let (l4, l4_len, gso_size) = gso;
    let Some(session) = table.by_destination(p.dst()) else {
        return DownVerdict::Drop(DropReason::NoSessionForDestination);
    };
    let limit = session.packet_limit;
    if !session.down_window.admits(limit, tick) {
        return DownVerdict::Drop(DropReason::PacketLimit);
    }
    let mru = usize::from(session.mru);
    let headers = p.header_len() + l4_len;
    let c = &session.counters;
    out.session = Some(session.key);
    let prefix = encapsulation(session);
    let fits = headers + gso_size.min(p.total_len() - headers) <= mru;
    let result = match l4 {
        L4::Tcp if headers >= mru => return DownVerdict::Drop(DropReason::FragmentationFailed),
        L4::Tcp => segment(
            p,
            l4,
            gso_size.min(mru - headers),
            &mut Encap { out, prefix },
        ),
        L4::Udp if fits => segment(p, l4, gso_size, &mut Encap { out, prefix }),
        L4::Udp if p.dont_frag() => {
            c.too_big_drops.fetch_add(1, Relaxed);
            if !icmp::may_answer(p) {
                return DownVerdict::Drop(DropReason::TooBigNoIcmp);
            }
            out.set_icmp(p, local_address, session.mru);
            return DownVerdict::IcmpToTun;
        }
        L4::Udp => {
            let scratch = std::mem::take(&mut out.scratch);
            let mut sink = Fragmenting {
                out,
                prefix,
                mru,
                scratch,
                failed: false,
                count: 0,
                ip_bytes: 0,
                fragmented: 0,
            };
            let r = segment(p, l4, gso_size, &mut sink);
            let (failed, count, ip_bytes, fragmented) =
                (sink.failed, sink.count, sink.ip_bytes, sink.fragmented);
            out.scratch = sink.scratch;
            if failed {
                out.clear();
                return DownVerdict::Drop(DropReason::FragmentationFailed);
            }
            c.fragmented.fetch_add(fragmented, Relaxed);
            r.map(|_| super::segment::Segments { count, ip_bytes })
        }
    };
    match result {
        Ok(s) => {
            session.down_window.count(limit, s.count);
            c.tx_packets.fetch_add(s.count as u64, Relaxed);
            c.tx_bytes.fetch_add(s.ip_bytes, Relaxed);
            DownVerdict::ToPeer {
                peer: session.peer,
                count: s.count,
            }
        }
        Err(SegmentError::ZeroSize) => {
            out.clear();
            DownVerdict::Drop(DropReason::BadVnetHeader)
        }
        Err(_) => {
            out.clear();
            DownVerdict::Drop(DropReason::GsoMalformed)
        }
    }
}

/// Segments straight into the output, encapsulated.
struct Encap<'a> {
    out: &'a mut DownOutput,
    prefix: [u8; ENCAP_LEN],
}

impl SegmentSink for Encap<'_> {
    fn push_packet(&mut self, header: &[u8], data: &[u8]) -> &mut [u8] {
        self.out.push_mut(&self.prefix, header, data)
    }
}

/// Segments built in scratch, then fragmented to the MRU into the output.
struct Fragmenting<'a> {
    out: &'a mut DownOutput,
    prefix: [u8; ENCAP_LEN],
    mru: usize,
    scratch: Vec<u8>,
    failed: bool,
    count: usize,
    ip_bytes: u64,
    fragmented: u64,
}

impl SegmentSink for Fragmenting<'_> {
    fn push_packet(&mut self, header: &[u8], data: &[u8]) -> &mut [u8] {
        self.scratch.clear();
        self.scratch.extend_from_slice(header);
        self.scratch.extend_from_slice(data);
        &mut self.scratch
    }

    fn commit(&mut self) {
        let Ok(p) = Ipv4Packet::new_checked(&self.scratch) else {
            self.failed = true;
            return;
        };
        if p.total_len() <= self.mru {
            self.out.push(&self.prefix, p.as_bytes(), &[]);
            self.count += 1;
            self.ip_bytes += p.total_len() as u64;
            return;
        }
        let (out, prefix) = (&mut *self.out, &self.prefix);
        let mut bytes = 0u64;
        match fragment(&p, self.mru, |h, d| {
            out.push(prefix, h, d);
            bytes += (h.len() + d.len()) as u64;
        }) {
            Ok(n) => {
                self.count += n;
                self.ip_bytes += bytes;
                self.fragmented += 1;
            }
            Err(_) => self.failed = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::downstream::{UDP_GSO_MAX_BYTES, UDP_MAX_SEGMENTS};
    use crate::dataplane::fragment::tests::reassemble;
    use crate::dataplane::ipv4::fold;
    use crate::dataplane::ipv4::PROTO_TCP;
    use crate::dataplane::offload::checksum::{pseudo_header_sum, PROTO_UDP};
    use crate::dataplane::offload::segment::tests::{payload, tcp_packet, valid_packet};
    use crate::dataplane::offload::vnet::*;
    use crate::dataplane::session_table::tests::entry;
    use crate::dataplane::session_table::{CounterSnapshot, SessionKey, TableUpdate};

    const LOCAL: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
    const PREFIX: [u8; ENCAP_LEN] = [0x00, 0x02, 0x03, 0xef, 0x03, 0xf1, 0xff, 0x03, 0x00, 0x21];
    const SERVER: [u8; 4] = [93, 184, 216, 34];
    const CLIENT: [u8; 4] = [10, 0, 0, 1];

    fn table(mru: u16) -> SessionTable {
        let mut t = SessionTable::new();
        let mut a = entry(7, 9, CLIENT, &[]);
        a.mru = mru;
        t.apply(TableUpdate::Upsert(a));
        t
    }

    fn counters(t: &SessionTable) -> CounterSnapshot {
        t.by_key(SessionKey {
            tunnel: 7,
            session: 9,
        })
        .unwrap()
        .counters
        .snapshot()
    }

    fn frame(h: VnetHdr, ip: &[u8]) -> Vec<u8> {
        [&h.to_bytes()[..], ip].concat()
    }

    /// Put the pseudo-header sum in the L4 checksum field, as the kernel leaves it.
    fn make_partial(ip: &mut [u8], proto: u8) -> VnetHdr {
        let at = 20 + if proto == PROTO_UDP { 6 } else { 16 };
        let src = ip[12..16].try_into().unwrap();
        let dst = ip[16..20].try_into().unwrap();
        let psum = fold(pseudo_header_sum(src, dst, proto, (ip.len() - 20) as u16));
        ip[at..at + 2].copy_from_slice(&psum.to_be_bytes());
        VnetHdr {
            flags: F_NEEDS_CSUM,
            csum_start: 20,
            csum_offset: (at - 20) as u16,
            ..VnetHdr::NONE
        }
    }

    fn tso(gso_size: u16, ecn: bool) -> VnetHdr {
        VnetHdr {
            gso_type: GSO_TCPV4 | if ecn { GSO_ECN } else { 0 },
            gso_size,
            hdr_len: 52,
            ..VnetHdr::NONE
        }
    }

    fn run(t: &SessionTable, mut f: Vec<u8>) -> (DownVerdict, DownOutput) {
        let mut out = DownOutput::new();
        let v = downstream_offload(t, &mut f, LOCAL, 1, &mut out);
        (v, out)
    }

    fn ips(out: &DownOutput) -> Vec<Vec<u8>> {
        out.datagrams()
            .map(|d| {
                assert_eq!(d[..ENCAP_LEN], PREFIX);
                d[ENCAP_LEN..].to_vec()
            })
            .collect()
    }

    fn super_tcp(len: usize, flags: u8, df: bool) -> Vec<u8> {
        let opts = [1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8];
        tcp_packet(
            SERVER,
            CLIENT,
            (443, 40000),
            1_000_000,
            77,
            flags,
            &opts,
            &payload(len, 9),
            100,
            df,
        )
    }

    #[test]
    fn plain_is_downstream() {
        let t = table(1500);
        let ip = super_tcp(500, 0x18, true);
        let (v, out) = run(&t, frame(VnetHdr::NONE, &ip));
        let peer = "192.0.2.1:1701".parse().unwrap();
        assert_eq!(v, DownVerdict::ToPeer { peer, count: 1 });
        assert_eq!(ips(&out), std::slice::from_ref(&ip));
        assert_eq!(out.gso_segment(), None);
        // Too big with DF: ICMP as today.
        let t = table(400);
        let (v, out) = run(&t, frame(VnetHdr::NONE, &ip));
        assert_eq!(v, DownVerdict::IcmpToTun);
        assert!(!out.icmp().is_empty());
    }

    #[test]
    fn plain_needs_csum_completed() {
        let t = table(1500);
        let good = super_tcp(333, 0x18, true);
        let mut ip = good.clone();
        let h = make_partial(&mut ip, PROTO_TCP);
        assert_ne!(ip, good);
        let (v, out) = run(&t, frame(h, &ip));
        assert!(matches!(v, DownVerdict::ToPeer { count: 1, .. }));
        assert_eq!(ips(&out), [good]);
        // Completed before fragmenting, too.
        let t = table(200);
        let mut udp = crate::dataplane::ipv4::tests::packet(SERVER, CLIENT, 8 + 500, &[], false);
        udp[24..26].copy_from_slice(&508u16.to_be_bytes());
        let h = make_partial(&mut udp, PROTO_UDP);
        let (v, out) = run(&t, frame(h, &udp));
        assert!(matches!(v, DownVerdict::ToPeer { count: 3, .. }), "{v:?}");
        valid_packet(&reassemble(&ips(&out)));
    }

    #[test]
    fn tso_64k_to_mru_1500() {
        let t = table(1500);
        let len = 65535 - 20 - 32;
        let ip = super_tcp(len, 0x18, true);
        let (v, out) = run(&t, frame(tso(1448, false), &ip));
        let segs = ips(&out);
        // MRU leaves 1500 - 52 = 1448 bytes of payload per segment.
        assert_eq!(segs.len(), len.div_ceil(1448));
        assert!(matches!(v, DownVerdict::ToPeer { count, .. } if count == segs.len()));
        let mut joined = vec![];
        for (i, s) in segs.iter().enumerate() {
            valid_packet(s);
            assert!(s.len() <= 1500);
            assert_eq!(s[6] & 0x40, 0x40);
            assert_eq!(u16::from_be_bytes([s[4], s[5]]), 100 + i as u16);
            assert_eq!(s[33], if i + 1 == segs.len() { 0x18 } else { 0x10 });
            joined.extend_from_slice(&s[52..]);
        }
        assert_eq!(joined, payload(len, 9));
        let c = counters(&t);
        assert_eq!(c.tx_packets, segs.len() as u64);
        assert_eq!(c.tx_bytes, segs.iter().map(|s| s.len() as u64).sum::<u64>());
        assert_eq!((c.fragmented, c.too_big_drops), (0, 0));
        // 46 datagrams, two GSO sends: 43 of 1510 bytes fit 65507, then the rest.
        assert_eq!(out.gso_segment(), None);
        let b: Vec<(u16, usize, usize)> = out
            .gso_batches()
            .map(|b| (b.segment, b.count, b.bytes.len()))
            .collect();
        let last = ENCAP_LEN + segs.last().unwrap().len();
        assert_eq!(b, [(1510, 43, 43 * 1510), (1510, 3, 2 * 1510 + last)]);
        assert_eq!(b.iter().map(|x| x.2).sum::<usize>(), out.bytes().len());
    }

    #[test]
    fn tso_small_gso_size_and_mru_clamp() {
        let t = table(1500);
        let ip = super_tcp(3000, 0x10, false);
        let (_, out) = run(&t, frame(tso(1000, false), &ip));
        let segs = ips(&out);
        assert_eq!(
            segs.iter().map(Vec::len).collect::<Vec<_>>(),
            [1052, 1052, 1052]
        );
        assert_eq!(out.gso_segment(), Some(1062));
        // A smaller MRU wins over gso_size.
        let t = table(576);
        let (_, out) = run(&t, frame(tso(1448, false), &ip));
        let segs = ips(&out);
        assert_eq!(segs.len(), 3000usize.div_ceil(576 - 52));
        assert!(segs.iter().all(|s| s.len() <= 576));
        assert_eq!(out.gso_segment(), Some(586));
    }

    #[test]
    fn tso_ecn_cwr_first_only() {
        let t = table(1500);
        let ip = super_tcp(4000, 0x80 | 0x40 | 0x19, true); // CWR ECE ACK PSH FIN
        let (_, out) = run(&t, frame(tso(1448, true), &ip));
        let flags: Vec<u8> = ips(&out).iter().map(|s| s[33]).collect();
        assert_eq!(flags, [0xd0, 0x50, 0x59]);
    }

    #[test]
    fn tso_with_partial_checksum_and_single_segment() {
        let t = table(1500);
        let good = super_tcp(100, 0x18, true);
        let mut ip = good.clone();
        let mut h = make_partial(&mut ip, PROTO_TCP);
        h.gso_type = GSO_TCPV4;
        h.gso_size = 1448;
        let (_, out) = run(&t, frame(h, &ip));
        assert_eq!(ips(&out), [good]);
    }

    fn super_udp(len: usize, df: bool) -> Vec<u8> {
        let mut ip = crate::dataplane::ipv4::tests::packet(SERVER, CLIENT, 8 + len, &[], df);
        ip[20..24].copy_from_slice(&[0x30, 0x39, 0x04, 0xd2]);
        ip[24..26].copy_from_slice(&((8 + len) as u16).to_be_bytes());
        ip
    }

    fn uso(gso_size: u16) -> VnetHdr {
        VnetHdr {
            gso_type: GSO_UDP_L4,
            gso_size,
            flags: F_NEEDS_CSUM,
            csum_start: 20,
            csum_offset: 6,
            hdr_len: 28,
        }
    }

    #[test]
    fn uso_segments() {
        let t = table(1500);
        let ip = super_udp(3000, true);
        let (v, out) = run(&t, frame(uso(1200), &ip));
        assert!(matches!(v, DownVerdict::ToPeer { count: 3, .. }));
        let segs = ips(&out);
        assert_eq!(
            segs.iter().map(Vec::len).collect::<Vec<_>>(),
            [1228, 1228, 628]
        );
        for (i, s) in segs.iter().enumerate() {
            valid_packet(s);
            assert_eq!(s[20..24], [0x30, 0x39, 0x04, 0xd2]);
            assert_eq!(
                s[28..],
                ip[28 + 1200 * i..(28 + 1200 * (i + 1)).min(ip.len())]
            );
        }
        assert_eq!(out.gso_segment(), Some(1238));
    }

    #[test]
    fn uso_over_mru() {
        // DF: one ICMP frag-needed quoting the super-packet, nothing sent.
        let t = table(1000);
        let ip = super_udp(3000, true);
        let (v, out) = run(&t, frame(uso(1200), &ip));
        assert_eq!(v, DownVerdict::IcmpToTun);
        assert_eq!(out.datagrams().count(), 0);
        let icmp = out.icmp();
        assert_eq!(icmp[20..22], [3, 4]);
        assert_eq!(u16::from_be_bytes([icmp[26], icmp[27]]), 1000);
        assert_eq!(icmp[48..56], ip[20..28]);
        assert_eq!(counters(&t).too_big_drops, 1);
        // No DF: every segment fragmented; each reassembles to a valid datagram.
        let t = table(1000);
        let ip = super_udp(3000, false);
        let (v, out) = run(&t, frame(uso(1200), &ip));
        let frags = ips(&out);
        assert!(matches!(v, DownVerdict::ToPeer { count: 5, .. }), "{v:?}");
        assert!(frags.iter().all(|f| f.len() <= 1000));
        let first = reassemble(&frags[..2]);
        valid_packet(&first);
        assert_eq!(first.len(), 1228);
        assert_eq!(first[28..], ip[28..1228]);
        let c = counters(&t);
        assert_eq!((c.tx_packets, c.fragmented), (5, 2));
        assert_eq!(
            c.tx_bytes,
            frags.iter().map(|f| f.len() as u64).sum::<u64>()
        );
    }

    #[test]
    fn typed_drops() {
        let t = table(1500);
        let tcp = super_tcp(3000, 0x10, true);
        let drop = |h: VnetHdr, ip: &[u8]| match run(&t, frame(h, ip)).0 {
            DownVerdict::Drop(r) => r,
            v => panic!("{v:?}"),
        };
        let with = |gso_type| VnetHdr {
            gso_type,
            ..tso(1000, false)
        };
        assert_eq!(drop(with(GSO_TCPV6), &tcp), DropReason::UnsupportedGso);
        assert_eq!(drop(with(GSO_UDP), &tcp), DropReason::UnsupportedGso);
        assert_eq!(drop(with(0x42), &tcp), DropReason::UnsupportedGso);
        assert_eq!(drop(with(GSO_ECN), &tcp), DropReason::UnsupportedGso);
        assert_eq!(drop(tso(0, false), &tcp), DropReason::BadVnetHeader);
        let lying = VnetHdr {
            hdr_len: 3053,
            ..tso(1000, false)
        };
        assert_eq!(drop(lying, &tcp), DropReason::BadVnetHeader);
        let csum_out = VnetHdr {
            flags: F_NEEDS_CSUM,
            csum_start: 3000,
            csum_offset: 51,
            ..tso(1000, false)
        };
        assert_eq!(drop(csum_out, &tcp), DropReason::BadVnetHeader);
        let csum_out = VnetHdr {
            flags: F_NEEDS_CSUM,
            csum_start: 65535,
            csum_offset: 65535,
            ..VnetHdr::NONE
        };
        assert_eq!(drop(csum_out, &tcp), DropReason::BadVnetHeader);
        assert_eq!(drop(uso(1000), &tcp), DropReason::GsoMalformed);
        assert_eq!(
            drop(tso(1000, false), &super_udp(100, false)),
            DropReason::GsoMalformed
        );
        let mut frag = tcp.clone();
        frag[6] = 0x20;
        crate::dataplane::ipv4::fill_header_checksum(&mut frag[..20]);
        assert_eq!(drop(tso(1000, false), &frag), DropReason::GsoMalformed);
        let mut v6 = vec![0u8; 60];
        v6[0] = 0x60;
        assert_eq!(drop(tso(1000, false), &v6), DropReason::NotIpv4);
        assert_eq!(drop(VnetHdr::NONE, &v6), DropReason::NotIpv4);
        assert_eq!(
            drop(tso(1000, false), &tcp[..100]),
            DropReason::Ipv4Malformed
        );
        let mut elsewhere = tcp.clone();
        elsewhere[16..20].copy_from_slice(&[10, 9, 9, 9]);
        assert_eq!(
            drop(tso(1000, false), &elsewhere),
            DropReason::NoSessionForDestination
        );
        let mut out = DownOutput::new();
        for n in 0..VNET_HDR_LEN {
            let v = downstream_offload(&t, &mut vec![0; n], LOCAL, 1, &mut out);
            assert_eq!(v, DownVerdict::Drop(DropReason::BadVnetHeader));
        }
        // Headers alone fill the MRU.
        let tiny = table(52);
        let v = downstream_offload(
            &tiny,
            &mut frame(tso(1000, false), &tcp),
            LOCAL,
            1,
            &mut out,
        );
        assert_eq!(v, DownVerdict::Drop(DropReason::FragmentationFailed));
        assert_eq!(out.datagrams().count(), 0);
        assert_eq!(counters(&tiny).tx_packets, 0);
    }

    #[test]
    fn gso_batch_limits() {
        // 200 tiny segments: runs of UDP_MAX_SEGMENTS.
        let t = table(1500);
        let ip = super_tcp(200 * 10, 0x10, true);
        let (_, out) = run(&t, frame(tso(10, false), &ip));
        let b: Vec<(u16, usize)> = out.gso_batches().map(|b| (b.segment, b.count)).collect();
        assert_eq!(
            b,
            [
                (72, UDP_MAX_SEGMENTS),
                (72, UDP_MAX_SEGMENTS),
                (72, UDP_MAX_SEGMENTS),
                (72, 8)
            ]
        );
        assert_eq!(out.gso_segment(), None);
        // Every batch obeys the UDP_SEGMENT contract.
        for b in out.gso_batches() {
            assert!(b.bytes.len() <= UDP_GSO_MAX_BYTES);
            let seg = usize::from(b.segment);
            assert_eq!(b.bytes.len().div_ceil(seg), b.count);
        }
    }

    #[test]
    fn fuzz_seeds_do_what_they_say() {
        // The fuzz seeds, against the fuzz target's sessions.
        let mut t = SessionTable::new();
        for (s, a, mru) in [
            (1, [10, 0, 0, 1], 68),
            (2, [10, 0, 0, 2], 1500),
            (3, [10, 0, 0, 3], 576),
        ] {
            let mut e = entry(1, s, a, &[]);
            e.mru = mru;
            t.apply(TableUpdate::Upsert(e));
        }
        type Expect<'a> = &'a dyn Fn(DownVerdict) -> bool;
        let seeds: [(&[u8], Expect); 5] = [
            (
                include_bytes!("../../../fuzz/seeds/dataplane_offload/tso_mru1500"),
                &|v| matches!(v, DownVerdict::ToPeer { count: 4, .. }),
            ),
            (
                include_bytes!("../../../fuzz/seeds/dataplane_offload/tso_ecn_mru68"),
                &|v| matches!(v, DownVerdict::ToPeer { count: 22, .. }),
            ),
            (
                include_bytes!("../../../fuzz/seeds/dataplane_offload/uso_fragmented"),
                &|v| matches!(v, DownVerdict::ToPeer { count: 5, .. }),
            ),
            (
                include_bytes!("../../../fuzz/seeds/dataplane_offload/uso_df_icmp"),
                &|v| v == DownVerdict::IcmpToTun,
            ),
            (
                include_bytes!("../../../fuzz/seeds/dataplane_offload/plain_needs_csum"),
                &|v| matches!(v, DownVerdict::ToPeer { count: 1, .. }),
            ),
        ];
        for (bytes, ok) in seeds {
            let mut out = DownOutput::new();
            let v = downstream_offload(&t, &mut bytes.to_vec(), LOCAL, 1, &mut out);
            assert!(ok(v), "{v:?}");
            out.datagrams()
                .for_each(|d| valid_or_fragment(&d[ENCAP_LEN..]));
        }
    }

    fn valid_or_fragment(p: &[u8]) {
        if p[6] & 0x3f == 0 && p[7] == 0 {
            valid_packet(p);
        }
    }

    proptest::proptest! {
        #[test]
        fn prop_tso_segments_valid(len in 1usize..20000, gso in 1u16..3000, mru in 60u16..1600, flags in 0u8..=255) {
            let t = table(mru);
            let ip = super_tcp(len, flags, true);
            let (v, out) = run(&t, frame(tso(gso, flags & 0x80 != 0), &ip));
            let segs = ips(&out);
            let DownVerdict::ToPeer { count, .. } = v else { panic!("{v:?}") };
            proptest::prop_assert_eq!(count, segs.len());
            let mut joined = vec![];
            for s in &segs {
                valid_packet(s);
                proptest::prop_assert!(s.len() <= usize::from(mru));
                proptest::prop_assert!(s.len() - 52 <= usize::from(gso));
                joined.extend_from_slice(&s[52..]);
            }
            proptest::prop_assert_eq!(joined, payload(len, 9));
            let total: usize = out.gso_batches().map(|b| { assert!(b.bytes.len() <= UDP_GSO_MAX_BYTES && b.count <= UDP_MAX_SEGMENTS); b.count }).sum();
            proptest::prop_assert_eq!(total, count);
        }

        #[test]
        fn prop_arbitrary_frames_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300), hdr in proptest::array::uniform10(proptest::num::u8::ANY), mru in 0u16..200) {
            let t = table(mru);
            let mut out = DownOutput::new();
            let _ = downstream_offload(&t, &mut bytes.clone(), LOCAL, 1, &mut out);
            // A real-looking packet behind an arbitrary header.
            let mut ip = super_tcp(bytes.len(), 0x10, false);
            ip[52..].copy_from_slice(&bytes);
            let _ = downstream_offload(&t, &mut [&hdr[..], &ip].concat(), LOCAL, 1, &mut out);
            let mut udp = super_udp(bytes.len(), false);
            udp[28..].copy_from_slice(&bytes);
            let _ = downstream_offload(&t, &mut [&hdr[..], &udp].concat(), LOCAL, 1, &mut out);
        }
    }
}
