//! Upstream (LAC -> TUN) receive coalescing, like Linux GRO
//! (`tcp_gro_receive`) and wireguard-go's `tcpGRO`: consecutive TCP/IPv4
//! segments of one session and flow are merged into one TSO frame (virtio
//! `GSO_TCPV4`, `NEEDS_CSUM`), so the kernel's stack sees one big packet.
//!
//! Only consecutive packets merge (a packet of another flow flushes what is
//! pending), so the order of everything written to the TUN is the order of
//! arrival. A segment merges when it continues the pending one exactly:
//! same session, addresses, ports, TOS, TTL, DF, ack, window and TCP
//! options (byte-equal); IPv4 without options or fragmentation; seq
//! contiguous; IP id consecutive unless DF is set; flags ACK (PSH allowed on
//! the one that becomes the last); payload non-empty and equal to the
//! first's (`gso_size`) except a shorter last; at most
//! [`MAX_SEGMENTS`] segments and 65535 IP bytes. Both checksums of every
//! segment are verified in software: a bad one is written unmerged for the
//! kernel to drop. A lone packet is written as it came, with
//! [`VnetHdr::NONE`] (the kernel checks its checksum again).

use super::checksum::{pseudo_header_sum, tcp_checksum_ok, TCP_CSUM_OFFSET};
use super::vnet::{VnetHdr, F_NEEDS_CSUM, GSO_TCPV4, VNET_HDR_LEN};
use crate::dataplane::ipv4::{self, fill_header_checksum, fold, MIN_HEADER_LEN, PROTO_TCP};
use crate::dataplane::session_table::SessionKey;

/// Most segments merged into one frame (as Linux GRO, `MAX_GRO_SKBS`-like).
pub const MAX_SEGMENTS: usize = 64;
/// Largest merged IPv4 packet.
pub const MAX_LEN: usize = 65_535;

const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
const DF: u8 = 0x40; // in byte 6 of the IPv4 header

/// See the module comment. One per worker; reuse it for every burst.
pub struct Coalescer {
    /// The pending frame: virtio-net header, then the merged IPv4 packet.
    buf: Box<[u8]>,
    /// IPv4 bytes pending in `buf` after the header; 0 when none.
    len: usize,
    p: Pending,
}

/// What is known of the pending packet beyond its bytes.
#[derive(Clone, Copy, Default)]
struct Pending {
    session: Option<SessionKey>,
    tcp_hl: usize,
    gso_size: usize,
    segments: usize,
    next_seq: u32,
    last_id: u16,
    psh: bool,
    /// Nothing more may merge (PSH seen or a short segment).
    closed: bool,
}

/// A TCP segment that may merge, its checks passed.
struct Candidate<'a> {
    ip: &'a [u8],
    tcp_hl: usize,
    payload: usize,
    seq: u32,
    id: u16,
    psh: bool,
}

impl Default for Coalescer {
    fn default() -> Self {
        Self::new()
    }
}

impl Coalescer {
    pub fn new() -> Self {
        Self {
            buf: vec![0u8; VNET_HDR_LEN + MAX_LEN].into_boxed_slice(),
            len: 0,
            p: Pending::default(),
        }
    }

    /// Is a frame pending (call [`Self::flush`] before waiting for more)?
    pub fn is_pending(&self) -> bool {
        self.len > 0
    }

    /// Take one IPv4 packet (as the upstream verdict gives it) of `session`.
    /// `emit` receives complete TUN frames (virtio-net header + IPv4) when
    /// something must be written, in arrival order.
    pub fn push(&mut self, session: SessionKey, ip: &[u8], emit: &mut impl FnMut(&[u8])) {
        let Some(c) = candidate(ip) else {
            self.flush(emit);
            self.emit_plain(ip, emit);
            return;
        };
        if self.can_merge(session, &c) {
            self.append(&c);
        } else {
            self.flush(emit);
            self.start(session, &c);
        }
    }

    /// Write what is pending (end of a burst).
    pub fn flush(&mut self, emit: &mut impl FnMut(&[u8])) {
        if self.len == 0 {
            return;
        }
        let len = self.len;
        self.len = 0;
        let Some((hdr, ip)) = self.buf.split_first_chunk_mut::<VNET_HDR_LEN>() else {
            return;
        };
        if self.p.segments <= 1 {
            VnetHdr::NONE.emit(hdr);
            emit(&self.buf[..VNET_HDR_LEN + len]);
            return;
        }
        let thl = self.p.tcp_hl;
        let hl = MIN_HEADER_LEN;
        ip[2..4].copy_from_slice(&(len as u16).to_be_bytes()); // len <= MAX_LEN
        fill_header_checksum(&mut ip[..hl]);
        if self.p.psh {
            ip[hl + 13] |= PSH;
        }
        // CHECKSUM_PARTIAL: the folded pseudo-header sum, not complemented.
        let src = [ip[12], ip[13], ip[14], ip[15]];
        let dst = [ip[16], ip[17], ip[18], ip[19]];
        let psum = fold(pseudo_header_sum(src, dst, PROTO_TCP, (len - hl) as u16));
        let at = hl + TCP_CSUM_OFFSET;
        ip[at..at + 2].copy_from_slice(&psum.to_be_bytes());
        VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            hdr_len: (hl + thl) as u16,
            gso_size: self.p.gso_size as u16,
            csum_start: hl as u16,
            csum_offset: TCP_CSUM_OFFSET as u16,
        }
        .emit(hdr);
        emit(&self.buf[..VNET_HDR_LEN + len]);
    }

    /// Write `ip` alone behind a plain header (nothing is pending).
    fn emit_plain(&mut self, ip: &[u8], emit: &mut impl FnMut(&[u8])) {
        let Some(dst) = self.buf.get_mut(VNET_HDR_LEN..VNET_HDR_LEN + ip.len()) else {
            return; // over 64 KiB: cannot come from one UDP datagram
        };
        dst.copy_from_slice(ip);
        self.buf[..VNET_HDR_LEN].copy_from_slice(&VnetHdr::NONE.to_bytes());
        emit(&self.buf[..VNET_HDR_LEN + ip.len()]);
    }

    fn start(&mut self, session: SessionKey, c: &Candidate<'_>) {
        self.buf[VNET_HDR_LEN..VNET_HDR_LEN + c.ip.len()].copy_from_slice(c.ip);
        self.len = c.ip.len();
        self.p = Pending {
            session: Some(session),
            tcp_hl: c.tcp_hl,
            gso_size: c.payload,
            segments: 1,
            next_seq: c.seq.wrapping_add(c.payload as u32),
            last_id: c.id,
            psh: c.psh,
            closed: c.psh,
        };
    }

    fn can_merge(&self, session: SessionKey, c: &Candidate<'_>) -> bool {
        let p = &self.p;
        if self.len == 0
            || p.closed
            || p.session != Some(session)
            || p.segments >= MAX_SEGMENTS
            || c.tcp_hl != p.tcp_hl
            || c.seq != p.next_seq
            || c.payload > p.gso_size
            || self.len + c.payload > MAX_LEN
        {
            return false;
        }
        let h = &self.buf[VNET_HDR_LEN..VNET_HDR_LEN + MIN_HEADER_LEN + p.tcp_hl];
        let n = c.ip;
        let same = |r: std::ops::Range<usize>| h.get(r.clone()) == n.get(r);
        let df = n[6] & DF != 0;
        same(1..2) // TOS
            && same(6..9) // flags, offset (DF equal, no fragment), TTL
            && same(12..20) // addresses
            && (df || c.id == p.last_id.wrapping_add(1))
            && same(20..24) // ports
            && same(28..32) // ack
            && same(34..36) // window
            && same(40..MIN_HEADER_LEN + p.tcp_hl) // options
    }

    fn append(&mut self, c: &Candidate<'_>) {
        let start = MIN_HEADER_LEN + c.tcp_hl;
        let data = &c.ip[start..];
        let at = VNET_HDR_LEN + self.len;
        self.buf[at..at + data.len()].copy_from_slice(data);
        self.len += data.len();
        let p = &mut self.p;
        p.segments += 1;
        p.next_seq = c.seq.wrapping_add(c.payload as u32);
        p.last_id = c.id;
        p.psh = c.psh;
        p.closed = c.psh || c.payload < p.gso_size;
    }
}

/// A TCP/IPv4 segment eligible for merging, or None.
fn candidate(packet: &[u8]) -> Option<Candidate<'_>> {
    let (total, hl) = ipv4::check(packet).ok()?;
    let ip = packet.get(..total)?;
    // No options, TCP, not a fragment (MF clear, offset 0), header checksum good.
    if hl != MIN_HEADER_LEN || ip[9] != PROTO_TCP || ip[6] & !DF != 0 || ip[7] != 0 {
        return None;
    }
    if ipv4::checksum(&ip[..hl]) != 0 {
        return None;
    }
    let tcp = &ip[hl..];
    let tcp_hl = usize::from(*tcp.get(12)? >> 4) * 4;
    let flags = *tcp.get(13)?;
    if tcp_hl < 20 || tcp_hl >= tcp.len() || flags & !PSH != ACK {
        return None; // also rejects an empty payload
    }
    let src = [ip[12], ip[13], ip[14], ip[15]];
    let dst = [ip[16], ip[17], ip[18], ip[19]];
    if !tcp_checksum_ok(src, dst, tcp) {
        return None;
    }
    Some(Candidate {
        ip,
        tcp_hl,
        payload: tcp.len() - tcp_hl,
        seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        id: u16::from_be_bytes([ip[4], ip[5]]),
        psh: flags & PSH != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::ipv4::{tests::packet, Ipv4Packet};
    use crate::dataplane::offload::checksum::complete_partial;
    use crate::dataplane::offload::checksum::tests::{reference_l4_check, reference_sum};
    use crate::dataplane::offload::segment::tests::{payload, tcp_packet};
    use crate::dataplane::offload::segment::{segment, L4};
    use crate::dataplane::offload::vnet::{GsoKind, GSO_NONE};

    const S1: SessionKey = SessionKey {
        tunnel: 1,
        session: 1,
    };
    const S2: SessionKey = SessionKey {
        tunnel: 1,
        session: 2,
    };
    const OPTS: [u8; 12] = [1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 8];

    /// Segment `i` of a flow with `mss`-byte segments.
    fn seg(i: u32, len: usize, flags: u8) -> Vec<u8> {
        tcp_packet(
            [10, 0, 0, 1],
            [93, 184, 216, 34],
            (40000, 443),
            1000 + i * 100,
            5,
            flags,
            &OPTS,
            &payload(len, i as u8),
            7 + i as u16,
            false,
        )
    }

    fn run(input: &[(SessionKey, Vec<u8>)]) -> Vec<Vec<u8>> {
        let mut c = Coalescer::new();
        let mut frames = vec![];
        for (s, p) in input {
            c.push(*s, p, &mut |f: &[u8]| frames.push(f.to_vec()));
        }
        c.flush(&mut |f: &[u8]| frames.push(f.to_vec()));
        assert!(!c.is_pending());
        frames
    }

    /// What the kernel would make of a frame: the original packets.
    fn resegment(frame: &[u8]) -> Vec<Vec<u8>> {
        let h = VnetHdr::parse(frame).unwrap();
        let ip = &frame[VNET_HDR_LEN..];
        match h.gso_kind() {
            GsoKind::None => {
                assert_eq!(h, VnetHdr::NONE);
                vec![ip.to_vec()]
            }
            GsoKind::TcpV4 { ecn: false } => {
                let thl = usize::from(ip[32] >> 4) * 4;
                assert_eq!(
                    (h.flags, h.csum_start, h.csum_offset),
                    (F_NEEDS_CSUM, 20, 16)
                );
                assert_eq!(usize::from(h.hdr_len), 20 + thl);
                assert_eq!(usize::from(u16::from_be_bytes([ip[2], ip[3]])), ip.len());
                assert_eq!(reference_sum(&ip[..20]), 0xffff);
                // The partial checksum completes to a valid one.
                let mut full = ip.to_vec();
                complete_partial(&mut full, 20, 16).unwrap();
                assert_eq!(reference_l4_check(&full), 0);
                let p = Ipv4Packet::new_checked(ip).unwrap();
                assert!(p.payload().len() - thl > usize::from(h.gso_size));
                let mut out: Vec<Vec<u8>> = vec![];
                segment(&p, L4::Tcp, usize::from(h.gso_size), &mut out).unwrap();
                out
            }
            k => panic!("{k:?}"),
        }
    }

    fn all(frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
        frames.iter().flat_map(|f| resegment(f)).collect()
    }

    #[test]
    fn merges_a_run() {
        let input: Vec<_> = (0..3)
            .map(|i| {
                (
                    S1,
                    seg(
                        i,
                        if i == 2 { 60 } else { 100 },
                        if i == 2 { 0x18 } else { 0x10 },
                    ),
                )
            })
            .collect();
        let frames = run(&input);
        assert_eq!(frames.len(), 1);
        let f = &frames[0];
        let h = VnetHdr::parse(f).unwrap();
        assert_eq!(
            h,
            VnetHdr {
                flags: F_NEEDS_CSUM,
                gso_type: GSO_TCPV4,
                hdr_len: 52,
                gso_size: 100,
                csum_start: 20,
                csum_offset: 16
            }
        );
        let ip = &f[VNET_HDR_LEN..];
        assert_eq!(ip.len(), 52 + 260);
        assert_eq!(ip[33], 0x18); // PSH of the last
        let expect: Vec<u8> = (0..3u32)
            .flat_map(|i| payload(if i == 2 { 60 } else { 100 }, i as u8))
            .collect();
        assert_eq!(&ip[52..], &expect[..]);
        // Not complemented: the pseudo-header sum of the merged length.
        let psum = fold(pseudo_header_sum(
            [10, 0, 0, 1],
            [93, 184, 216, 34],
            PROTO_TCP,
            292,
        ));
        assert_eq!(u16::from_be_bytes([ip[36], ip[37]]), psum);
        assert_eq!(
            all(&frames),
            input.into_iter().map(|x| x.1).collect::<Vec<_>>()
        );
    }

    #[test]
    fn single_packets_pass_unchanged() {
        let input = vec![(S1, seg(0, 100, 0x10))];
        let frames = run(&input);
        assert_eq!(frames, [[&[0u8; 10][..], &input[0].1].concat()]);
        let udp = packet([10, 0, 0, 1], [8, 8, 8, 8], 50, &[], false);
        let frames = run(&[
            (S1, seg(0, 100, 0x10)),
            (S1, seg(1, 100, 0x10)),
            (S1, udp.clone()),
            (S1, seg(2, 100, 0x10)),
        ]);
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0][1], GSO_TCPV4);
        assert_eq!(frames[1], [&[0u8; 10][..], &udp].concat());
        assert_eq!(frames[2][1], GSO_NONE);
        // Garbage passes through (the kernel judges it), even empty.
        assert_eq!(
            run(&[(S1, vec![1, 2, 3])]),
            [[&[0u8; 10][..], &[1, 2, 3]].concat()]
        );
        assert_eq!(run(&[(S1, vec![])]), [vec![0u8; 10]]);
    }

    /// Two segments that must not merge: each comes out alone and unchanged.
    fn apart(a: Vec<u8>, sa: SessionKey, b: Vec<u8>, sb: SessionKey, why: &str) {
        let frames = run(&[(sa, a.clone()), (sb, b.clone())]);
        assert_eq!(frames.len(), 2, "{why}");
        assert!(frames.iter().all(|f| f[..10] == [0; 10]), "{why}");
        assert_eq!(all(&frames), [a, b], "{why}");
    }

    fn fix(mut p: Vec<u8>) -> Vec<u8> {
        crate::dataplane::ipv4::fill_header_checksum(&mut p[..20]);
        let (src, dst) = ([p[12], p[13], p[14], p[15]], [p[16], p[17], p[18], p[19]]);
        crate::dataplane::offload::checksum::fill_l4_checksum(
            src,
            dst,
            PROTO_TCP,
            &mut p[20..],
            16,
        );
        p
    }

    #[test]
    fn does_not_merge() {
        let a = seg(0, 100, 0x10);
        let b = seg(1, 100, 0x10);
        let m = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut x = b.clone();
            f(&mut x);
            fix(x)
        };
        apart(a.clone(), S1, b.clone(), S2, "session");
        apart(a.clone(), S1, m(&|x| x[23] = 1), S1, "port");
        apart(a.clone(), S1, m(&|x| x[19] = 35), S1, "address");
        apart(a.clone(), S1, m(&|x| x[1] = 4), S1, "tos");
        apart(a.clone(), S1, m(&|x| x[8] = 63), S1, "ttl");
        apart(a.clone(), S1, m(&|x| x[6] = 0x40), S1, "df");
        apart(a.clone(), S1, m(&|x| x[5] = 9), S1, "id not consecutive");
        apart(a.clone(), S1, m(&|x| x[27] = 1), S1, "seq");
        apart(a.clone(), S1, m(&|x| x[31] = 6), S1, "ack");
        apart(a.clone(), S1, m(&|x| x[35] = 6), S1, "window");
        apart(a.clone(), S1, m(&|x| x[51] = 9), S1, "options");
        for (flag, why) in [
            (0x01, "fin"),
            (0x02, "syn"),
            (0x04, "rst"),
            (0x20, "urg"),
            (0x40, "ece"),
            (0x80, "cwr"),
        ] {
            apart(a.clone(), S1, m(&|x| x[33] |= flag), S1, why);
            let mut first = a.clone();
            first[33] |= flag;
            apart(fix(first), S1, b.clone(), S1, why);
        }
        apart(a.clone(), S1, m(&|x| x[33] = 0x00), S1, "no ack");
        apart(a.clone(), S1, seg(1, 101, 0x10), S1, "longer than gso_size");
        apart(a.clone(), S1, seg(1, 0, 0x10), S1, "empty");
        apart(seg(0, 100, 0x18), S1, b.clone(), S1, "after psh");
        let mut bad = b.clone();
        bad[60] ^= 1;
        apart(a.clone(), S1, bad, S1, "bad tcp checksum");
        let mut bad = b.clone();
        bad[10] ^= 1;
        apart(a.clone(), S1, bad, S1, "bad ip checksum");
        apart(a.clone(), S1, m(&|x| x[6] = 0x20), S1, "fragment");
        // IP options.
        let mut o = vec![0x46];
        o.extend_from_slice(&b[1..20]);
        o.extend_from_slice(&[1, 1, 1, 0]);
        o.extend_from_slice(&b[20..]);
        o[3] += 4;
        crate::dataplane::ipv4::fill_header_checksum(&mut o[..24]);
        apart(a.clone(), S1, o, S1, "ip options");
    }

    #[test]
    fn nothing_after_short() {
        let input = vec![
            (S1, seg(0, 100, 0x10)),
            (
                S1,
                tcp_packet(
                    [10, 0, 0, 1],
                    [93, 184, 216, 34],
                    (40000, 443),
                    1100,
                    5,
                    0x10,
                    &OPTS,
                    &[1; 50],
                    8,
                    false,
                ),
            ),
            (
                S1,
                tcp_packet(
                    [10, 0, 0, 1],
                    [93, 184, 216, 34],
                    (40000, 443),
                    1150,
                    5,
                    0x10,
                    &OPTS,
                    &[1; 50],
                    9,
                    false,
                ),
            ),
        ];
        let frames = run(&input);
        assert_eq!(frames.len(), 2);
        assert_eq!(
            all(&frames),
            input.into_iter().map(|x| x.1).collect::<Vec<_>>()
        );
    }

    #[test]
    fn df_ids_need_not_be_consecutive() {
        let mk = |i: u32| {
            tcp_packet(
                [10, 0, 0, 1],
                [93, 184, 216, 34],
                (1, 2),
                1000 + i * 100,
                5,
                0x10,
                &[],
                &payload(100, 1),
                0,
                true,
            )
        };
        let frames = run(&[(S1, mk(0)), (S1, mk(1)), (S1, mk(2))]);
        assert_eq!(frames.len(), 1);
        // Re-segmented, ids increment (what Linux writes without FIXEDID).
        let ids: Vec<u16> = resegment(&frames[0])
            .iter()
            .map(|p| u16::from_be_bytes([p[4], p[5]]))
            .collect();
        assert_eq!(ids, [0, 1, 2]);
    }

    #[test]
    fn limits() {
        // 64 segments at most.
        let input: Vec<_> = (0..130).map(|i| (S1, seg(i, 100, 0x10))).collect();
        let frames = run(&input);
        assert_eq!(frames.len(), 3);
        assert_eq!(
            all(&frames),
            input.into_iter().map(|x| x.1).collect::<Vec<_>>()
        );
        // 65535 bytes at most.
        let mk = |i: u32| {
            tcp_packet(
                [10, 0, 0, 1],
                [93, 184, 216, 34],
                (1, 2),
                i * 1400,
                5,
                0x10,
                &[],
                &payload(1400, 1),
                i as u16,
                false,
            )
        };
        let input: Vec<_> = (0..50).map(|i| (S1, mk(i))).collect();
        let frames = run(&input);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].len(), VNET_HDR_LEN + 40 + 46 * 1400);
        assert_eq!(
            all(&frames),
            input.into_iter().map(|x| x.1).collect::<Vec<_>>()
        );
    }

    /// One flow of the round-trip property: session, ports, mss, DF.
    #[derive(Clone, Copy)]
    struct Flow {
        session: SessionKey,
        port: u16,
        mss: usize,
        df: bool,
        seq: u32,
        id: u16,
    }

    proptest::proptest! {
        #[test]
        fn prop_coalesce_then_segment_gives_the_input(
            events in proptest::collection::vec((0usize..4, 0u8..24, 1usize..200, proptest::num::u32::ANY), 0..150),
            dfs in proptest::array::uniform4(proptest::bool::ANY),
        ) {
            let mut flows = [
                Flow { session: S1, port: 1, mss: 100, df: dfs[0], seq: 0xffff_ff00, id: 0xfff0 },
                Flow { session: S1, port: 2, mss: 37, df: dfs[1], seq: 5, id: 0 },
                Flow { session: S2, port: 1, mss: 100, df: dfs[2], seq: 9, id: 100 },
                Flow { session: S2, port: 3, mss: 1400, df: dfs[3], seq: 0, id: 7 },
            ];
            let mut input = vec![];
            for (f, kind, len, noise) in events {
                let fl = &mut flows[f];
                let (len, flags) = match kind {
                    0..=15 => (fl.mss, 0x10),
                    16 => (fl.mss, 0x18),
                    17 => (len % fl.mss + 1, 0x10),
                    18 => (fl.mss, 0x11),
                    19 => { fl.seq = fl.seq.wrapping_add(noise % 5000); (fl.mss, 0x10) }
                    20 => (0, 0x10),
                    _ => (fl.mss, 0x10),
                };
                let mut p = tcp_packet([10, 0, 0, 1], [93, 184, 216, 34], (40000, fl.port), fl.seq, 5, flags, &[], &payload(len, noise as u8), fl.id, fl.df);
                match kind {
                    21 => p[40 + (noise as usize % len.max(1)).min(len.saturating_sub(1))] ^= 0x55, // corrupt payload: checksum now bad
                    22 => { let mut u = packet([10, 0, 0, 1], [8, 8, 8, 8], len, &[], false); u[9] = 17; p = u; }
                    23 => p.truncate(30), // garbage
                    _ => {}
                }
                if kind <= 21 {
                    fl.seq = fl.seq.wrapping_add(len as u32);
                    fl.id = fl.id.wrapping_add(1);
                }
                input.push((fl.session, p));
            }
            let frames = run(&input);
            proptest::prop_assert!(frames.len() <= input.len());
            let back = all(&frames);
            let want: Vec<Vec<u8>> = input.into_iter().map(|x| x.1).collect();
            proptest::prop_assert_eq!(back, want);
        }

        #[test]
        fn prop_arbitrary_bytes_never_panic(packets in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..120), 0..10)) {
            let mut c = Coalescer::new();
            let mut n = 0;
            for p in &packets {
                let mut q = p.clone();
                if let Some(b) = q.first_mut() { *b = 0x45; }
                c.push(S1, p, &mut |_: &[u8]| n += 1);
                c.push(S1, &q, &mut |_: &[u8]| n += 1);
            }
            c.flush(&mut |_: &[u8]| n += 1);
            proptest::prop_assert_eq!(n, 2 * packets.len());
        }
    }
}
