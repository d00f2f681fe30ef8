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
