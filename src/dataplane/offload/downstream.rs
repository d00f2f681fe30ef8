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
/// `local_address` is the source of ICMP errors we generate.
pub fn downstream_offload(
    table: &SessionTable,
    frame: &mut [u8],
    local_address: Ipv4Addr,
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
        GsoKind::None => return downstream(table, ip, local_address, out),
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
        l4,
        l4_len,
        usize::from(h.gso_size),
        local_address,
        out,
    )
}

fn segment_to_peer(
    table: &SessionTable,
    p: &Ipv4Packet<'_>,
    l4: L4,
    l4_len: usize,
    gso_size: usize,
    local_address: Ipv4Addr,
    out: &mut DownOutput,
) -> DownVerdict {
    let Some(session) = table.by_destination(p.dst()) else {
        return DownVerdict::Drop(DropReason::NoSessionForDestination);
    };
    let mru = usize::from(session.mru);
    let headers = p.header_len() + l4_len;
    let c = &session.counters;
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
