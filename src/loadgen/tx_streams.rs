//! The upstream benchmark's per-session streams, kept compact: one template
//! frame per shard and, per session, only the bytes in which its frame
//! differs from the template (tunnel and session ids, source address, IP
//! checksum, stamp index) and its sequence number.
//!
//! Why not a ready frame per session: at 100,000 sessions those are 100,000
//! heap blocks (about 12 MB) read in turn, and on one host the generator's
//! working set shares the L3 with the LNS's. The fast path's session lines
//! (6.4 MB) then evict the frames in the forwarded windows and not in the
//! dropped ones, so the bench charged the generator's extra cache misses to
//! the LNS. Records of 24 bytes read in order stay cheap (the prefetcher
//! follows them), as a LAC on another host would be.

use super::payload::Stamp;

/// Where each varying field sits in a frame: L2TP data header (ids at 2..6),
/// FF 03 00 21, then the IPv4 header (checksum at 10, source at 12) and UDP,
/// then the stamp (index at 4, sequence at 8).
const IDS: std::ops::Range<usize> = 2..6;
const IP_AT: usize = super::DATA_HEADER_LEN + 4;
const IP_CSUM: std::ops::Range<usize> = IP_AT + 10..IP_AT + 12;
const IP_SRC: std::ops::Range<usize> = IP_AT + 12..IP_AT + 16;
const STAMP_INDEX: std::ops::Range<usize> = super::FRAME_STAMP_AT + 4..super::FRAME_STAMP_AT + 8;
/// The shortest frame the offsets fit in (header, PPP, IP, UDP, stamp).
const MIN_FRAME: usize = super::FRAME_STAMP_AT + super::payload::STAMP_LEN;

/// One session's stream: its frame's varying bytes and its next sequence.
#[derive(Debug, Clone, Copy)]
struct TxStream {
    ids: [u8; 4],
    src: [u8; 4],
    csum: [u8; 2],
    index: [u8; 4],
    seq: u64,
}

#[derive(Debug, Default)]
pub struct TxStreams {
    template: Vec<u8>,
    streams: Vec<TxStream>,
}

impl TxStreams {
    /// Add a session's ready frame. The first one becomes the template;
    /// every later one must have the same length (the same size, sink and
    /// port: one benchmark's frames differ only in the fields above).
    /// False (nothing added) for a frame too short or of another length.
    pub fn push(&mut self, frame: &[u8]) -> bool {
        if frame.len() < MIN_FRAME {
            return false;
        }
        if self.template.is_empty() {
            self.template = frame.to_vec();
        } else if frame.len() != self.template.len() {
            return false;
        }
        let mut s = TxStream {
            ids: [0; 4],
            src: [0; 4],
            csum: [0; 2],
            index: [0; 4],
            seq: 0,
        };
        s.ids.copy_from_slice(&frame[IDS]);
        s.src.copy_from_slice(&frame[IP_SRC]);
        s.csum.copy_from_slice(&frame[IP_CSUM]);
        s.index.copy_from_slice(&frame[STAMP_INDEX]);
        self.streams.push(s);
        true
    }

    pub fn len(&self) -> usize {
        self.streams.len()
    }

    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Write stream `i`'s frame with sequence `seq + ahead` into `buf`
    /// (cleared first); false when there is no stream `i`.
    pub fn write(&self, i: usize, ahead: u64, buf: &mut Vec<u8>) -> bool {
        let Some(s) = self.streams.get(i) else {
            return false;
        };
        buf.clear();
        buf.extend_from_slice(&self.template);
        // In range: every frame is the template's length, at least MIN_FRAME.
        buf[IDS].copy_from_slice(&s.ids);
        buf[IP_SRC].copy_from_slice(&s.src);
        buf[IP_CSUM].copy_from_slice(&s.csum);
        buf[STAMP_INDEX].copy_from_slice(&s.index);
        let _ = Stamp::set_seq(&mut buf[super::FRAME_STAMP_AT..], s.seq + ahead);
        true
    }

    /// Stream `i` sent one more packet.
    pub fn advance(&mut self, i: usize) {
        if let Some(s) = self.streams.get_mut(i) {
            s.seq += 1;
        }
    }

    /// The fewest and most packets any stream sent ((0, 0) for none).
    pub fn seq_range(&self) -> (u64, u64) {
        let min = self.streams.iter().map(|s| s.seq).min().unwrap_or(0);
        let max = self.streams.iter().map(|s| s.seq).max().unwrap_or(0);
        (min, max)
    }
}

#[cfg(test)]
mod tests {
    use super::super::payload::STAMP_LEN;
    use super::super::udp::{udp_packet, PAYLOAD_AT};
    use super::*;
    use crate::l2tp::wire::write_data_header;
    use std::net::{Ipv4Addr, SocketAddrV4};

    /// A frame as `session_udp_frame` builds it.
    fn frame(tunnel: u16, sid: u16, src: Ipv4Addr, index: u32, size: usize) -> Vec<u8> {
        let mut d = vec![0u8; super::super::DATA_HEADER_LEN];
        write_data_header(&mut d, tunnel, sid);
        d.extend_from_slice(&[0xff, 0x03, 0x00, 0x21]);
        let sink = SocketAddrV4::new(Ipv4Addr::new(10, 200, 0, 1), 9000);
        let mut ip = udp_packet(SocketAddrV4::new(src, 5001), sink, size);
        let mut stamp = [0u8; STAMP_LEN];
        let _ = Stamp { index, seq: 0 }.emit(&mut stamp);
        ip[PAYLOAD_AT..PAYLOAD_AT + STAMP_LEN].copy_from_slice(&stamp);
        d.extend_from_slice(&ip);
        d
    }

    #[test]
    fn each_stream_writes_its_own_frame_with_its_sequence() {
        let mut t = TxStreams::default();
        let frames: Vec<Vec<u8>> = (0..300u32)
            .map(|i| {
                let src = Ipv4Addr::from(0x0ad0_0000 + i * 7);
                frame(1 + (i % 3) as u16, 1 + i as u16, src, i, 64)
            })
            .collect();
        for f in &frames {
            assert!(t.push(f));
        }
        assert_eq!(t.len(), 300);
        let mut buf = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            assert!(t.write(i, 0, &mut buf));
            assert_eq!(&buf, f, "stream {i}");
        }
        t.advance(5);
        t.advance(5);
        assert!(t.write(5, 3, &mut buf));
        let st = Stamp::parse(&buf[super::super::FRAME_STAMP_AT..]).unwrap();
        assert_eq!((st.index, st.seq), (5, 5));
        assert_eq!(t.seq_range(), (0, 2));
        assert!(!t.write(300, 0, &mut buf));
    }

    #[test]
    fn frames_of_another_length_or_too_short_are_refused() {
        let mut t = TxStreams::default();
        assert!(!t.push(&[0u8; 10]));
        assert!(t.push(&frame(1, 1, Ipv4Addr::new(10, 0, 0, 1), 0, 64)));
        assert!(!t.push(&frame(1, 2, Ipv4Addr::new(10, 0, 0, 2), 1, 100)));
        assert_eq!(t.len(), 1);
        assert!(!t.is_empty());
    }
}
