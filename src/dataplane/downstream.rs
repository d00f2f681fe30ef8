//! Downstream (TUN -> LAC): one IPv4 packet from the TUN in, one verdict out
//! (boringtun-style). Route by destination (session address, then the
//! longest Framed-Route), respect the peer's MRU, encapsulate in an L2TP
//! data message (RFC 2661 §3.1) carrying PPP IPv4 (RFC 1661 §2, RFC 1332).
//!
//! Where l2tpns drops a packet over the MRU silently, we follow RFC 791 /
//! RFC 1191: DF set -> ICMP Fragmentation Needed back through the TUN; DF
//! clear -> fragment to the MRU.
//!
//! Counting: `tx_packets`/`tx_bytes` count what goes to the peer, one packet
//! per fragment and the IP bytes of each fragment (L2TP/PPP overhead excluded).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;

use super::drop_reason::DropReason;
use super::fragment::fragment;
use super::icmp::{self, FRAG_NEEDED_MAX};
use super::ipv4::{Ipv4Error, Ipv4Packet};
use super::l2tp_data::{emit_data_header, DATA_HEADER_LEN};
use super::ppp_data::IPV4_FRAMING;
use super::session_table::{SessionEntry, SessionKey, SessionTable};

/// L2TP data header + PPP FF 03 00 21.
pub const ENCAP_LEN: usize = DATA_HEADER_LEN + IPV4_FRAMING.len();

/// Most datagrams one UDP GSO send may carry (Linux `UDP_MAX_SEGMENTS`; 64
/// before 6.9, 128 since: we keep to the older limit).
pub const UDP_MAX_SEGMENTS: usize = 64;
/// Most bytes one UDP GSO send may carry: one UDP/IPv4 datagram (65535 - 20 - 8).
pub const UDP_GSO_MAX_BYTES: usize = 65_507;

/// Reusable output of [`downstream`]: the encapsulated datagrams for one peer
/// and/or an ICMP packet for the TUN. Keep one per worker; its buffers grow
/// to the largest packet seen and are then reused without allocating.
pub struct DownOutput {
    buf: Vec<u8>,
    ends: Vec<usize>,
    icmp: [u8; FRAG_NEEDED_MAX],
    icmp_len: usize,
    /// Room to build one packet before fragmenting it (offload path).
    pub(crate) scratch: Vec<u8>,
    /// The session of the last `ToPeer` (its policy is the worker's to apply).
    pub(crate) session: Option<SessionKey>,
}

impl Default for DownOutput {
    fn default() -> Self {
        Self::new()
    }
}

impl DownOutput {
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(2048),
            ends: Vec::with_capacity(8),
            icmp: [0; FRAG_NEEDED_MAX],
            icmp_len: 0,
            scratch: Vec::new(),
            session: None,
        }
    }

    /// All datagrams of the last verdict, back to back (see [`Self::gso_segment`]).
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Can the datagrams of the last verdict go out as ONE UDP GSO send
    /// (`UDP_SEGMENT` = the returned size, buffer [`Self::bytes`])? Yes when
    /// there are 2 to [`UDP_MAX_SEGMENTS`] of them, all of the same size but
    /// the last which may be shorter, [`UDP_GSO_MAX_BYTES`] at most in all.
    /// Otherwise use [`Self::gso_batches`] or [`Self::datagrams`].
    pub fn gso_segment(&self) -> Option<u16> {
        let mut b = self.gso_batches();
        match (b.next(), b.next()) {
            (Some(one), None) if one.count >= 2 => Some(one.segment),
            _ => None,
        }
    }

    /// The datagrams of the last verdict cut into runs that each satisfy the
    /// `UDP_SEGMENT` contract (a run of one datagram is a plain send). A 64 KiB
    /// TCP super-packet segmented to a 1500-byte MRU makes 46 datagrams of
    /// 1510 bytes: two runs, since one would exceed [`UDP_GSO_MAX_BYTES`].
    pub fn gso_batches(&self) -> GsoBatches<'_> {
        GsoBatches {
            buf: &self.buf,
            ends: &self.ends,
            start: 0,
        }
    }

    /// The UDP payloads to send to the peer, in order.
    pub fn datagrams(&self) -> Datagrams<'_> {
        Datagrams {
            buf: &self.buf,
            ends: self.ends.iter(),
            start: 0,
        }
    }

    /// Patch each datagram of the last verdict in place (the garden's
    /// portal redirect), in order.
    pub fn for_each_datagram_mut(&mut self, mut f: impl FnMut(&mut [u8])) {
        let mut start = 0;
        for &end in &self.ends {
            if let Some(d) = self.buf.get_mut(start..end) {
                f(d);
            }
            start = end;
        }
    }

    /// The ICMP packet to write to the TUN (empty unless the verdict was `IcmpToTun`).
    pub fn icmp(&self) -> &[u8] {
        &self.icmp[..self.icmp_len]
    }

    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
        self.icmp_len = 0;
        self.session = None;
    }

    /// The session the datagrams of the last `ToPeer` belong to.
    pub fn session(&self) -> Option<SessionKey> {
        self.session
    }

    /// Append one datagram: encapsulation prefix, then the IP header and data.
    pub(crate) fn push(&mut self, prefix: &[u8; ENCAP_LEN], header: &[u8], data: &[u8]) {
        self.buf.extend_from_slice(prefix);
        self.buf.extend_from_slice(header);
        self.buf.extend_from_slice(data);
        self.ends.push(self.buf.len());
    }

    /// As [`Self::push`], returning the IP packet just written for patching.
    pub(crate) fn push_mut(
        &mut self,
        prefix: &[u8; ENCAP_LEN],
        header: &[u8],
        data: &[u8],
    ) -> &mut [u8] {
        let start = self.buf.len() + ENCAP_LEN;
        self.push(prefix, header, data);
        &mut self.buf[start..]
    }

    /// Fill the ICMP frag-needed answer to `p`.
    pub(crate) fn set_icmp(&mut self, p: &Ipv4Packet<'_>, local: Ipv4Addr, mru: u16) {
        self.icmp_len = icmp::frag_needed(p, local, mru, &mut self.icmp);
    }
}

/// One UDP GSO send: `count` datagrams in `bytes`, each `segment` bytes but
/// the last (<= `segment`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GsoBatch<'a> {
    pub bytes: &'a [u8],
    pub segment: u16,
    pub count: usize,
}

/// Iterator over the [`GsoBatch`]es of a [`DownOutput`].
pub struct GsoBatches<'a> {
    buf: &'a [u8],
    ends: &'a [usize],
    start: usize,
}

impl<'a> Iterator for GsoBatches<'a> {
    type Item = GsoBatch<'a>;
    fn next(&mut self) -> Option<GsoBatch<'a>> {
        let (&first_end, rest) = self.ends.split_first()?;
        let segment = first_end.checked_sub(self.start)?;
        let mut end = first_end;
        let mut count = 1;
        for &e in rest {
            let len = e.checked_sub(end)?;
            if count == UDP_MAX_SEGMENTS
                || len > segment
                || e - self.start > UDP_GSO_MAX_BYTES
                || segment > usize::from(u16::MAX)
            {
                break;
            }
            end = e;
            count += 1;
            if len < segment {
                break; // a shorter datagram ends the run
            }
        }
        let bytes = self.buf.get(self.start..end)?;
        self.ends = self.ends.get(count..)?;
        self.start = end;
        Some(GsoBatch {
            bytes,
            segment: u16::try_from(segment).unwrap_or(u16::MAX),
            count,
        })
    }
}

/// Iterator over the datagrams in a [`DownOutput`].
#[derive(Clone)]
pub struct Datagrams<'a> {
    buf: &'a [u8],
    ends: std::slice::Iter<'a, usize>,
    start: usize,
}

impl<'a> Iterator for Datagrams<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let end = *self.ends.next()?;
        let d = self.buf.get(self.start..end)?;
        self.start = end;
        Some(d)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.ends.size_hint()
    }
}

impl ExactSizeIterator for Datagrams<'_> {}

/// What the worker does with a packet read from the TUN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DownVerdict {
    /// Send `out.datagrams()` (`count` of them) to `peer`.
    ToPeer {
        peer: SocketAddr,
        count: usize,
    },
    /// The packet was too big with DF set (count it as [`DropReason::TooBigDf`]);
    /// write `out.icmp()` to the TUN.
    IcmpToTun,
    Drop(DropReason),
}

/// Route and encapsulate one IPv4 packet from the TUN. `local_address` is the
/// source of ICMP errors we generate; `tick` (milliseconds) places the
/// packet in its session's `packet_limit` window.
pub fn downstream(
    table: &SessionTable,
    ip_packet: &[u8],
    local_address: Ipv4Addr,
    tick: u64,
    out: &mut DownOutput,
) -> DownVerdict {
    out.clear();
    let p = match Ipv4Packet::new_checked(ip_packet) {
        Ok(p) => p,
        Err(Ipv4Error::NotIpv4(_)) => return DownVerdict::Drop(DropReason::NotIpv4),
        Err(_) => return DownVerdict::Drop(DropReason::Ipv4Malformed),
    };
    let Some(session) = table.by_destination(p.dst()) else {
        return DownVerdict::Drop(DropReason::NoSessionForDestination);
    };
    let limit = session.packet_limit;
    if !session.down_window.admits(limit, tick) {
        return DownVerdict::Drop(DropReason::PacketLimit);
    }
    out.session = Some(session.key);
    let prefix = encapsulation(session);
    let mru = usize::from(session.mru);
    let c = &session.counters;
    if p.total_len() <= mru {
        out.push(&prefix, p.as_bytes(), &[]);
        session.down_window.count(limit, 1);
        c.tx_packets.fetch_add(1, Relaxed);
        c.tx_bytes.fetch_add(p.total_len() as u64, Relaxed);
        return DownVerdict::ToPeer {
            peer: session.peer,
            count: 1,
        };
    }
    if p.dont_frag() {
        c.too_big_drops.fetch_add(1, Relaxed);
        if !icmp::may_answer(&p) {
            return DownVerdict::Drop(DropReason::TooBigNoIcmp);
        }
        out.icmp_len = icmp::frag_needed(&p, local_address, session.mru, &mut out.icmp);
        return DownVerdict::IcmpToTun;
    }
    let mut bytes = 0u64;
    match fragment(&p, mru, |h, d| {
        out.push(&prefix, h, d);
        bytes += (h.len() + d.len()) as u64;
    }) {
        Ok(count) => {
            session.down_window.count(limit, count);
            c.fragmented.fetch_add(1, Relaxed);
            c.tx_packets.fetch_add(count as u64, Relaxed);
            c.tx_bytes.fetch_add(bytes, Relaxed);
            DownVerdict::ToPeer {
                peer: session.peer,
                count,
            }
        }
        Err(_) => DownVerdict::Drop(DropReason::FragmentationFailed),
    }
}

/// The 10 bytes in front of every downstream IP packet for this session.
#[inline]
pub(crate) fn encapsulation(s: &SessionEntry) -> [u8; ENCAP_LEN] {
    let mut prefix = [0u8; ENCAP_LEN];
    let mut header = [0u8; DATA_HEADER_LEN];
    emit_data_header(&mut header, s.peer_tunnel, s.peer_session);
    prefix[..DATA_HEADER_LEN].copy_from_slice(&header);
    prefix[DATA_HEADER_LEN..].copy_from_slice(&IPV4_FRAMING);
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::fragment::tests::{reassemble, same_datagram};
    use crate::dataplane::ipv4::{self, tests::packet, PROTO_ICMP};
    use crate::dataplane::session_table::tests::entry;
    use crate::dataplane::session_table::{CounterSnapshot, SessionKey, TableUpdate};
    use crate::dataplane::upstream::{upstream, UpVerdict};

    const LOCAL: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

    fn table(mru: u16) -> SessionTable {
        let mut t = SessionTable::new();
        let mut a = entry(7, 9, [10, 0, 0, 1], &["192.168.0.0/16"]);
        a.mru = mru;
        t.apply(TableUpdate::Upsert(a));
        let mut b = entry(7, 10, [10, 0, 0, 2], &["192.168.1.0/24"]);
        b.peer = "192.0.2.2:1701".parse().unwrap();
        t.apply(TableUpdate::Upsert(b));
        t
    }

    fn counters(t: &SessionTable, s: u16) -> CounterSnapshot {
        t.by_key(SessionKey {
            tunnel: 7,
            session: s,
        })
        .unwrap()
        .counters
        .snapshot()
    }

    fn run(t: &SessionTable, ip: &[u8]) -> (DownVerdict, Vec<Vec<u8>>, Vec<u8>) {
        let mut out = DownOutput::new();
        let v = downstream(t, ip, LOCAL, 1, &mut out);
        (
            v,
            out.datagrams().map(<[u8]>::to_vec).collect(),
            out.icmp().to_vec(),
        )
    }

    #[test]
    fn exact_encapsulation_bytes() {
        let t = table(1500);
        let ip = packet([8, 8, 8, 8], [10, 0, 0, 1], 30, &[], false);
        let (v, dgrams, icmp) = run(&t, &ip);
        let peer = "192.0.2.1:1701".parse().unwrap();
        assert_eq!(v, DownVerdict::ToPeer { peer, count: 1 });
        // peer_tunnel = 1007, peer_session = 1009
        let expected = [
            &[0x00, 0x02, 0x03, 0xef, 0x03, 0xf1, 0xff, 0x03, 0x00, 0x21][..],
            &ip,
        ]
        .concat();
        assert_eq!(dgrams, [expected]);
        assert!(icmp.is_empty());
        let c = counters(&t, 9);
        assert_eq!(
            (c.tx_packets, c.tx_bytes, c.fragmented, c.too_big_drops),
            (1, 50, 0, 0)
        );
    }

    #[test]
    fn packet_limit_per_tenth_of_a_second() {
        let mut t = table(1000);
        let mut e = entry(7, 9, [10, 0, 0, 1], &[]);
        (e.mru, e.packet_limit) = (1000, 3);
        t.apply(TableUpdate::Upsert(e));
        let small = packet([8, 8, 8, 8], [10, 0, 0, 1], 30, &[], false);
        let mut out = DownOutput::new();
        let mut send = |ip: &[u8], tick| downstream(&t, ip, LOCAL, tick, &mut out);
        let verdicts: Vec<_> = (0..10).map(|_| send(&small, 1_000)).collect();
        let sent = verdicts
            .iter()
            .filter(|v| matches!(v, DownVerdict::ToPeer { .. }))
            .count();
        assert_eq!(sent, 3);
        assert_eq!(verdicts[9], DownVerdict::Drop(DropReason::PacketLimit));
        // The next tenth: a packet cut in two fragments counts as two.
        let big = packet([8, 8, 8, 8], [10, 0, 0, 1], 1400, &[], false);
        assert!(matches!(
            send(&big, 1_100),
            DownVerdict::ToPeer { count: 2, .. }
        ));
        assert!(matches!(
            send(&small, 1_150),
            DownVerdict::ToPeer { count: 1, .. }
        ));
        assert_eq!(
            send(&small, 1_199),
            DownVerdict::Drop(DropReason::PacketLimit)
        );
        // Other sessions are not limited.
        let other = packet([8, 8, 8, 8], [10, 0, 0, 2], 30, &[], false);
        assert!(matches!(send(&other, 1_199), DownVerdict::ToPeer { .. }));
        assert_eq!(counters(&t, 9).tx_packets, 6);
    }

    #[test]
    fn trailing_bytes_not_sent() {
        let t = table(1500);
        let ip = packet([8, 8, 8, 8], [10, 0, 0, 1], 30, &[], false);
        let padded = [&ip[..], &[0xee; 4]].concat();
        let (_, dgrams, _) = run(&t, &padded);
        assert_eq!(&dgrams[0][ENCAP_LEN..], &ip[..]);
    }

    #[test]
    fn route_longest_prefix() {
        let t = table(1500);
        let to = |d: [u8; 4]| run(&t, &packet([8, 8, 8, 8], d, 10, &[], false)).0;
        let p1: SocketAddr = "192.0.2.1:1701".parse().unwrap();
        let p2: SocketAddr = "192.0.2.2:1701".parse().unwrap();
        assert_eq!(
            to([192, 168, 1, 5]),
            DownVerdict::ToPeer { peer: p2, count: 1 }
        );
        assert_eq!(
            to([192, 168, 2, 5]),
            DownVerdict::ToPeer { peer: p1, count: 1 }
        );
        assert_eq!(
            to([10, 0, 0, 2]),
            DownVerdict::ToPeer { peer: p2, count: 1 }
        );
        assert_eq!(
            to([10, 0, 0, 3]),
            DownVerdict::Drop(DropReason::NoSessionForDestination)
        );
    }

    #[test]
    fn not_ipv4_or_malformed() {
        let t = table(1500);
        let mut v6 = vec![0u8; 40];
        v6[0] = 0x60;
        assert_eq!(run(&t, &v6).0, DownVerdict::Drop(DropReason::NotIpv4));
        let ip = packet([8, 8, 8, 8], [10, 0, 0, 1], 30, &[], false);
        assert_eq!(
            run(&t, &ip[..40]).0,
            DownVerdict::Drop(DropReason::Ipv4Malformed)
        );
        assert_eq!(run(&t, &[]).0, DownVerdict::Drop(DropReason::Ipv4Malformed));
    }

    #[test]
    fn df_too_big_answers_icmp() {
        let t = table(1400);
        let ip = packet([8, 8, 8, 8], [10, 0, 0, 1], 1480, &[], true);
        let (v, dgrams, icmp) = run(&t, &ip);
        assert_eq!(v, DownVerdict::IcmpToTun);
        assert!(dgrams.is_empty());
        let i = Ipv4Packet::new_checked(&icmp).unwrap();
        assert!(i.verify_checksum());
        assert_eq!(
            (i.src(), i.dst(), i.protocol()),
            (LOCAL, Ipv4Addr::new(8, 8, 8, 8), PROTO_ICMP)
        );
        let body = i.payload();
        assert_eq!(ipv4::checksum(body), 0);
        assert_eq!(&body[..2], &[3, 4]);
        assert_eq!(u16::from_be_bytes([body[6], body[7]]), 1400);
        assert_eq!(&body[8..], &ip[..28]);
        let c = counters(&t, 9);
        assert_eq!((c.tx_packets, c.too_big_drops), (0, 1));
        // Exactly the MRU is fine.
        let fits = packet([8, 8, 8, 8], [10, 0, 0, 1], 1380, &[], true);
        assert!(matches!(
            run(&t, &fits).0,
            DownVerdict::ToPeer { count: 1, .. }
        ));
    }

    #[test]
    fn df_too_big_icmp_error_not_answered() {
        let t = table(576);
        let mut ip = packet([8, 8, 8, 8], [10, 0, 0, 1], 1000, &[], true);
        ip[9] = PROTO_ICMP;
        ip[20] = 11; // time exceeded
        let (v, _, icmp) = run(&t, &ip);
        assert_eq!(v, DownVerdict::Drop(DropReason::TooBigNoIcmp));
        assert!(icmp.is_empty());
    }

    #[test]
    fn fragments_reassemble() {
        let t = table(576);
        let ip = packet([8, 8, 8, 8], [10, 0, 0, 1], 2000, &[], false);
        let (v, dgrams, _) = run(&t, &ip);
        assert!(matches!(v, DownVerdict::ToPeer { count: 4, .. }), "{v:?}");
        let frags: Vec<Vec<u8>> = dgrams
            .iter()
            .map(|d| {
                assert_eq!(
                    &d[..ENCAP_LEN],
                    &[0x00, 0x02, 0x03, 0xef, 0x03, 0xf1, 0xff, 0x03, 0x00, 0x21]
                );
                d[ENCAP_LEN..].to_vec()
            })
            .collect();
        for f in &frags {
            assert!(f.len() <= 576);
        }
        same_datagram(&ip, &reassemble(&frags), false, 0);
        let c = counters(&t, 9);
        let ip_bytes: usize = frags.iter().map(Vec::len).sum();
        assert_eq!(
            (c.tx_packets, c.tx_bytes, c.fragmented),
            (4, ip_bytes as u64, 1)
        );
        assert_eq!(ip_bytes, 2020 + 3 * 20);
    }

    #[test]
    fn already_fragmented_input() {
        let t = table(576);
        let mut ip = packet([8, 8, 8, 8], [10, 0, 0, 1], 1480, &[], false);
        ip[6..8].copy_from_slice(&ipv4::flags_offset(false, true, 185).to_be_bytes());
        let (v, dgrams, _) = run(&t, &ip);
        assert!(matches!(v, DownVerdict::ToPeer { count: 3, .. }), "{v:?}");
        let frags: Vec<Vec<u8>> = dgrams.iter().map(|d| d[ENCAP_LEN..].to_vec()).collect();
        assert!(frags
            .iter()
            .all(|f| Ipv4Packet::new_checked(f).unwrap().more_frags()));
        same_datagram(&ip, &reassemble(&frags), true, 185);
    }

    #[test]
    fn mru_too_small_to_fragment() {
        let t = table(24);
        let ip = packet([8, 8, 8, 8], [10, 0, 0, 1], 100, &[], false);
        assert_eq!(
            run(&t, &ip).0,
            DownVerdict::Drop(DropReason::FragmentationFailed)
        );
        assert_eq!(counters(&t, 9).tx_packets, 0);
    }

    #[test]
    fn output_is_reused() {
        let t = table(576);
        let mut out = DownOutput::new();
        let big = packet([8, 8, 8, 8], [10, 0, 0, 1], 3000, &[], false);
        let small = packet([8, 8, 8, 8], [10, 0, 0, 1], 10, &[], false);
        assert!(matches!(
            downstream(&t, &big, LOCAL, 1, &mut out),
            DownVerdict::ToPeer { count: 6, .. }
        ));
        let cap = out.buf.capacity();
        assert!(matches!(
            downstream(&t, &small, LOCAL, 1, &mut out),
            DownVerdict::ToPeer { count: 1, .. }
        ));
        assert_eq!(out.datagrams().len(), 1);
        assert_eq!(out.buf.capacity(), cap);
        assert_eq!(
            downstream(&t, &[], LOCAL, 1, &mut out),
            DownVerdict::Drop(DropReason::Ipv4Malformed)
        );
        assert_eq!(out.datagrams().count(), 0);
    }

    #[test]
    fn down_then_up_round_trip() {
        // What we send a peer, echoed back as if from the session, passes upstream unchanged.
        let t = table(1500);
        let ip = packet([10, 0, 0, 1], [10, 0, 0, 1], 64, &[], false);
        let (_, dgrams, _) = run(&t, &ip);
        let mut d = dgrams[0].clone();
        d[2..6].copy_from_slice(&[0, 7, 0, 9]); // our ids instead of the peer's
        let peer = "192.0.2.1:1701".parse().unwrap();
        assert_eq!(
            upstream(&t, &d, peer, 1),
            UpVerdict::ToTun(
                &ip[..],
                SessionKey {
                    tunnel: 7,
                    session: 9
                }
            )
        );
    }

    proptest::proptest! {
        #[test]
        fn prop_downstream_fragments_reassemble(len in 0usize..4000, mru in 20u16..1600, opt_words in 0usize..=10) {
            let t = table(mru);
            let opts: Vec<u8> = std::iter::repeat_n([0x01u8; 4], opt_words).flatten().collect();
            let ip = packet([8, 8, 8, 8], [10, 0, 0, 1], len, &opts, false);
            let (v, dgrams, _) = run(&t, &ip);
            let hl = 20 + opts.len();
            match v {
                DownVerdict::ToPeer { count, .. } => {
                    proptest::prop_assert_eq!(count, dgrams.len());
                    let frags: Vec<Vec<u8>> = dgrams.iter().map(|d| d[ENCAP_LEN..].to_vec()).collect();
                    for f in &frags {
                        proptest::prop_assert!(f.len() <= usize::from(mru));
                    }
                    if count == 1 {
                        proptest::prop_assert_eq!(&frags[0], &ip);
                    } else {
                        same_datagram(&ip, &reassemble(&frags), false, 0);
                    }
                    let c = counters(&t, 9);
                    proptest::prop_assert_eq!(c.tx_packets, count as u64);
                    proptest::prop_assert_eq!(c.tx_bytes, frags.iter().map(|f| f.len() as u64).sum::<u64>());
                }
                DownVerdict::Drop(DropReason::FragmentationFailed) => {
                    proptest::prop_assert!(usize::from(mru) < hl + 8 && ip.len() > usize::from(mru));
                }
                other => proptest::prop_assert!(false, "{:?}", other),
            }
        }

        #[test]
        fn prop_arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let t = table(68);
            let _ = run(&t, &bytes);
            let peer = "192.0.2.1:1701".parse().unwrap();
            let _ = upstream(&t, &bytes, peer, 1);
            let mut up = bytes.clone();
            let _ = crate::dataplane::upstream::upstream_clamp_mss(&t, &mut up, peer, 1);
            let mut as_v4 = bytes.clone();
            if let Some(b) = as_v4.first_mut() {
                *b = 0x45;
            }
            let _ = run(&t, &as_v4);
        }
    }
}
