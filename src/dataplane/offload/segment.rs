//! Software segmentation of GSO super-packets, as Linux does it when a
//! device lacks the offload: TCP (`tcp_gso_segment`, RFC 9293 §3.1 header)
//! and UDP (`__udp_gso_segment`, RFC 768). Each segment gets a copy of the
//! IPv4 header (options included) with its own total length, an IP id
//! incremented per segment and a fresh header checksum, and a full L4
//! checksum computed here. TCP: sequence number advanced by the offset, FIN
//! and PSH only on the last segment, CWR only on the first. UDP: each
//! segment is its own datagram with its own length and checksum.

use super::checksum::{addresses, fill_l4_checksum, PROTO_UDP, TCP_CSUM_OFFSET, UDP_CSUM_OFFSET};
use crate::dataplane::ipv4::{fill_header_checksum, Ipv4Packet, PROTO_TCP};

const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;
pub const UDP_HEADER_LEN: usize = 8;

/// Which L4 protocol a super-packet carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    Tcp,
    Udp,
}

/// Why a super-packet cannot be segmented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    #[error("IP protocol {0} is not the one the GSO type says")]
    WrongProtocol(u8),
    #[error("GSO super-packet is an IP fragment")]
    Fragment,
    #[error("L4 header truncated or with a bad length")]
    L4Truncated,
    #[error("segment size 0")]
    ZeroSize,
}

/// Where segments go, in order.
pub trait SegmentSink {
    /// Append a packet made of `header` then `data` and return it, exactly
    /// `header.len() + data.len()` bytes, for the segmenter to patch.
    fn push_packet(&mut self, header: &[u8], data: &[u8]) -> &mut [u8];
    /// The packet last pushed is complete.
    fn commit(&mut self) {}
}

/// Collects segments as separate packets (tests, tools).
impl SegmentSink for Vec<Vec<u8>> {
    fn push_packet(&mut self, header: &[u8], data: &[u8]) -> &mut [u8] {
        self.push([header, data].concat());
        self.last_mut().map(Vec::as_mut_slice).unwrap_or_default()
    }
}

/// What was produced: `count` packets, `ip_bytes` IP bytes in all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segments {
    pub count: usize,
    pub ip_bytes: u64,
}

/// The length of the L4 header of a super-packet carrying `l4`, after
/// checking that the packet is what it should be.
pub fn l4_header_len(p: &Ipv4Packet<'_>, l4: L4) -> Result<usize, SegmentError> {
    let (proto, min) = match l4 {
        L4::Tcp => (PROTO_TCP, 20),
        L4::Udp => (PROTO_UDP, UDP_HEADER_LEN),
    };
    if p.protocol() != proto {
        return Err(SegmentError::WrongProtocol(p.protocol()));
    }
    if p.more_frags() || p.frag_offset() != 0 {
        return Err(SegmentError::Fragment);
    }
    let seg = p.payload();
    let len = match l4 {
        L4::Tcp => usize::from(seg.get(12).ok_or(SegmentError::L4Truncated)? >> 4) * 4,
        L4::Udp => UDP_HEADER_LEN,
    };
    if len < min || len > seg.len() {
        return Err(SegmentError::L4Truncated);
    }
    Ok(len)
}

/// Cut the payload of `p` into pieces of `size` bytes (the last may be
/// shorter; an empty payload makes one segment) and push each as a complete
/// packet into `sink`. Nothing is pushed on error.
pub fn segment(
    p: &Ipv4Packet<'_>,
    l4: L4,
    size: usize,
    sink: &mut impl SegmentSink,
) -> Result<Segments, SegmentError> {
    let l4_len = l4_header_len(p, l4)?;
    if size == 0 {
        return Err(SegmentError::ZeroSize);
    }
    let hl = p.header_len();
    let (header, payload) = p.as_bytes().split_at(hl + l4_len);
    let (src, dst) = addresses(header).ok_or(SegmentError::L4Truncated)?;
    let id = p.ident();
    let seq = u32::from_be_bytes([
        header[hl + 4],
        header[hl + 5],
        header[hl + 6],
        header[hl + 7],
    ]);
    let n = payload.len().div_ceil(size).max(1);
    let mut done = Segments::default();
    for (i, chunk) in chunks(payload, size).enumerate() {
        let pkt = sink.push_packet(header, chunk);
        let total = pkt.len();
        let (Ok(total16), Some((ip, rest))) = (u16::try_from(total), pkt.split_at_mut_checked(hl))
        else {
            return Err(SegmentError::L4Truncated); // a sink that broke its contract
        };
        ip[2..4].copy_from_slice(&total16.to_be_bytes());
        ip[4..6].copy_from_slice(&id.wrapping_add(i as u16).to_be_bytes());
        fill_header_checksum(ip);
        match l4 {
            L4::Tcp => {
                let off = (i * size) as u32; // < 64 KiB
                rest[4..8].copy_from_slice(&seq.wrapping_add(off).to_be_bytes());
                if i + 1 < n {
                    rest[13] &= !(TCP_FIN | TCP_PSH);
                }
                if i > 0 {
                    rest[13] &= !TCP_CWR;
                }
                fill_l4_checksum(src, dst, PROTO_TCP, rest, TCP_CSUM_OFFSET);
            }
            L4::Udp => {
                let len = (total - hl) as u16; // < total16
                rest[4..6].copy_from_slice(&len.to_be_bytes());
                fill_l4_checksum(src, dst, PROTO_UDP, rest, UDP_CSUM_OFFSET);
            }
        }
        sink.commit();
        done.count += 1;
        done.ip_bytes += total as u64;
    }
    Ok(done)
}

/// `size`-byte pieces of `payload`, or one empty piece if it is empty.
fn chunks(payload: &[u8], size: usize) -> impl Iterator<Item = &[u8]> {
    let empty: &[u8] = &[];
    payload
        .chunks(size)
        .chain(payload.is_empty().then_some(empty))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::dataplane::ipv4::flags_offset;
    use crate::dataplane::offload::checksum::tests::{reference_l4_check, reference_sum};

    /// A TCP/IPv4 packet with a valid checksum.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn tcp_packet(
        src: [u8; 4],
        dst: [u8; 4],
        ports: (u16, u16),
        seq: u32,
        ack: u32,
        flags: u8,
        options: &[u8],
        payload: &[u8],
        id: u16,
        df: bool,
    ) -> Vec<u8> {
        assert_eq!(options.len() % 4, 0);
        let thl = 20 + options.len();
        let total = 20 + thl + payload.len();
        let mut p = vec![0u8; total];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[4..6].copy_from_slice(&id.to_be_bytes());
        p[6..8].copy_from_slice(&flags_offset(df, false, 0).to_be_bytes());
        p[8] = 64;
        p[9] = PROTO_TCP;
        p[12..16].copy_from_slice(&src);
        p[16..20].copy_from_slice(&dst);
        fill_header_checksum(&mut p[..20]);
        let t = &mut p[20..];
        t[0..2].copy_from_slice(&ports.0.to_be_bytes());
        t[2..4].copy_from_slice(&ports.1.to_be_bytes());
        t[4..8].copy_from_slice(&seq.to_be_bytes());
        t[8..12].copy_from_slice(&ack.to_be_bytes());
        t[12] = ((thl / 4) as u8) << 4;
        t[13] = flags;
        t[14..16].copy_from_slice(&501u16.to_be_bytes());
        t[20..thl].copy_from_slice(options);
        t[thl..].copy_from_slice(payload);
        fill_l4_checksum(src, dst, PROTO_TCP, t, 16);
        p
    }

    pub(crate) fn payload(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    /// Check one segment independently of the code under test.
    pub(crate) fn valid_packet(p: &[u8]) {
        let hl = usize::from(p[0] & 15) * 4;
        assert_eq!(p[0] >> 4, 4);
        assert_eq!(usize::from(u16::from_be_bytes([p[2], p[3]])), p.len());
        assert_eq!(reference_sum(&p[..hl]), 0xffff, "IP header checksum");
        assert_eq!(reference_l4_check(p), 0, "L4 checksum");
        if p[9] == PROTO_UDP {
            assert_eq!(
                usize::from(u16::from_be_bytes([p[hl + 4], p[hl + 5]])),
                p.len() - hl
            );
        }
    }

    fn seq_of(p: &[u8]) -> u32 {
        u32::from_be_bytes(p[24..28].try_into().unwrap())
    }

    #[test]
    fn tcp_segments_hand_checked() {
        // 2500 bytes in 1000-byte pieces, FIN|PSH|ACK|CWR on the super-packet.
        let data = payload(2500, 1);
        let opts = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2];
        let sp = tcp_packet(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            (80, 4000),
            0xffff_fc00,
            7,
            0x80 | 0x19,
            &opts,
            &data,
            0xfffe,
            true,
        );
        let p = Ipv4Packet::new_checked(&sp).unwrap();
        let mut out: Vec<Vec<u8>> = vec![];
        let s = segment(&p, L4::Tcp, 1000, &mut out).unwrap();
        assert_eq!(s.count, 3);
        assert_eq!(s.ip_bytes, 3 * 52 + 2500);
        let lens: Vec<usize> = out.iter().map(Vec::len).collect();
        assert_eq!(lens, [1052, 1052, 552]);
        let ids: Vec<u16> = out
            .iter()
            .map(|o| u16::from_be_bytes([o[4], o[5]]))
            .collect();
        assert_eq!(ids, [0xfffe, 0xffff, 0]);
        let seqs: Vec<u32> = out.iter().map(|o| seq_of(o)).collect();
        assert_eq!(seqs, [0xffff_fc00, 0xffff_ffe8, 976]);
        let flags: Vec<u8> = out.iter().map(|o| o[33]).collect();
        assert_eq!(flags, [0x90, 0x10, 0x19]);
        let mut joined = vec![];
        for o in &out {
            valid_packet(o);
            assert_eq!(o[6] & 0x40, 0x40); // DF kept
            assert_eq!(&o[40..52], &opts); // options copied
            joined.extend_from_slice(&o[52..]);
        }
        assert_eq!(joined, data);
    }

    #[test]
    fn udp_segments() {
        let mut sp = crate::dataplane::ipv4::tests::packet(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            8 + 300,
            &[],
            false,
        );
        sp[20..22].copy_from_slice(&53u16.to_be_bytes());
        let p = Ipv4Packet::new_checked(&sp).unwrap();
        let mut out: Vec<Vec<u8>> = vec![];
        let s = segment(&p, L4::Udp, 100, &mut out).unwrap();
        assert_eq!(s.count, 3);
        for (i, o) in out.iter().enumerate() {
            valid_packet(o);
            assert_eq!(o.len(), 128);
            assert_eq!(&o[20..22], &53u16.to_be_bytes());
            assert_eq!(&o[28..], &sp[28 + 100 * i..128 + 100 * i]);
        }
    }

    #[test]
    fn empty_payload_one_segment() {
        let sp = tcp_packet(
            [1, 1, 1, 1],
            [2, 2, 2, 2],
            (1, 2),
            5,
            6,
            0x11,
            &[],
            &[],
            9,
            false,
        );
        let p = Ipv4Packet::new_checked(&sp).unwrap();
        let mut out: Vec<Vec<u8>> = vec![];
        assert_eq!(segment(&p, L4::Tcp, 100, &mut out).unwrap().count, 1);
        assert_eq!(out, [sp]);
    }

    #[test]
    fn rejects() {
        let sp = tcp_packet(
            [1, 1, 1, 1],
            [2, 2, 2, 2],
            (1, 2),
            5,
            6,
            0x10,
            &[],
            &[1; 30],
            9,
            false,
        );
        let p = Ipv4Packet::new_checked(&sp).unwrap();
        let mut out: Vec<Vec<u8>> = vec![];
        assert_eq!(
            segment(&p, L4::Udp, 10, &mut out),
            Err(SegmentError::WrongProtocol(6))
        );
        assert_eq!(
            segment(&p, L4::Tcp, 0, &mut out),
            Err(SegmentError::ZeroSize)
        );
        let mut frag = sp.clone();
        frag[6] |= 0x20;
        let f = Ipv4Packet::new_checked(&frag).unwrap();
        assert_eq!(
            segment(&f, L4::Tcp, 10, &mut out),
            Err(SegmentError::Fragment)
        );
        for doff in [0u8, 0x40, 0xf0] {
            let mut bad = sp.clone();
            bad[32] = doff;
            let b = Ipv4Packet::new_checked(&bad).unwrap();
            assert_eq!(
                segment(&b, L4::Tcp, 10, &mut out),
                Err(SegmentError::L4Truncated),
                "{doff:x}"
            );
        }
        // Truncated TCP header: total length covers only 10 bytes of it.
        let mut short = sp[..30].to_vec();
        short[2..4].copy_from_slice(&30u16.to_be_bytes());
        let s = Ipv4Packet::new_checked(&short).unwrap();
        assert_eq!(
            segment(&s, L4::Tcp, 10, &mut out),
            Err(SegmentError::L4Truncated)
        );
        assert!(out.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn prop_tcp_segment_then_verify(len in 0usize..6000, size in 1usize..2000, flags in 0u8..=255, seq in proptest::num::u32::ANY, id in proptest::num::u16::ANY, opt_words in 0usize..=10) {
            let data = payload(len, 3);
            let opts = vec![1u8; opt_words * 4];
            let sp = tcp_packet([10, 0, 0, 1], [10, 9, 0, 2], (443, 5555), seq, 1, flags, &opts, &data, id, false);
            let p = Ipv4Packet::new_checked(&sp).unwrap();
            let mut out: Vec<Vec<u8>> = vec![];
            let s = segment(&p, L4::Tcp, size, &mut out).unwrap();
            let n = len.div_ceil(size).max(1);
            proptest::prop_assert_eq!(s.count, n);
            proptest::prop_assert_eq!(out.len(), n);
            let thl = 20 + opts.len();
            let mut joined = vec![];
            for (i, o) in out.iter().enumerate() {
                valid_packet(o);
                proptest::prop_assert_eq!(seq_of(o), seq.wrapping_add((i * size) as u32));
                proptest::prop_assert_eq!(u16::from_be_bytes([o[4], o[5]]), id.wrapping_add(i as u16));
                let mut want = flags;
                if i + 1 < n { want &= !(TCP_FIN | TCP_PSH); }
                if i > 0 { want &= !TCP_CWR; }
                proptest::prop_assert_eq!(o[33], want);
                proptest::prop_assert!(o.len() - 20 - thl <= size);
                joined.extend_from_slice(&o[20 + thl..]);
            }
            proptest::prop_assert_eq!(joined, data);
            proptest::prop_assert_eq!(s.ip_bytes as usize, out.iter().map(Vec::len).sum::<usize>());
        }
    }
}
