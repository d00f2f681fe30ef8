//! IPv4 fragmentation (RFC 791 §2.3 "Fragmentation and Reassembly", §3.2
//! "Fragmentation procedure"): split a packet into pieces of at most `mtu`
//! bytes, data in multiples of 8 bytes, offsets added to the packet's own
//! (a packet that is already a fragment is split further correctly); the
//! first piece keeps all options, the others only those with the "copied"
//! flag (RFC 791 §3.1, option type bit 0x80).

use super::ipv4::{self, Ipv4Packet, MIN_HEADER_LEN};

/// Why a packet cannot be fragmented to this MTU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FragmentError {
    #[error("MTU {mtu} leaves no room for 8 data bytes after a {header}-byte header")]
    MtuTooSmall { mtu: usize, header: usize },
    #[error("fragment offset would exceed 13 bits")]
    OffsetOverflow,
}

/// The header of non-first fragments: fixed part plus copied options, padded.
fn rest_header(header: &[u8], out: &mut [u8; 60]) -> usize {
    out[..MIN_HEADER_LEN].copy_from_slice(&header[..MIN_HEADER_LEN]);
    let mut len = MIN_HEADER_LEN;
    let mut i = MIN_HEADER_LEN;
    while let Some(&kind) = header.get(i) {
        match kind {
            0 => break,  // End of Option List
            1 => i += 1, // NOP: not copied
            _ => {
                let olen = header.get(i + 1).map_or(0, |&l| usize::from(l));
                let Some(opt) = header.get(i..i + olen).filter(|_| olen >= 2) else {
                    break; // malformed options: copy none of the rest
                };
                if kind & 0x80 != 0 {
                    out[len..len + olen].copy_from_slice(opt); // len + olen <= header.len() <= 60
                    len += olen;
                }
                i += olen;
            }
        }
    }
    let padded = (len + 3) & !3;
    out[len..padded].fill(0);
    out[0] = 0x40 | (padded / 4) as u8;
    padded
}

/// Split `packet` into fragments of at most `mtu` bytes. `emit(header, data)`
/// is called once per fragment in order, with a complete header (length,
/// flags, offset, checksum set); the fragment is `header` followed by `data`.
/// Nothing is emitted on error. Returns the number of fragments. DF is
/// written clear: call this only for packets that may be fragmented.
pub fn fragment(
    packet: &Ipv4Packet<'_>,
    mtu: usize,
    mut emit: impl FnMut(&[u8], &[u8]),
) -> Result<usize, FragmentError> {
    let header = packet.header();
    let data = packet.payload();
    let mut first = [0u8; 60];
    let first_len = header.len();
    first[..first_len].copy_from_slice(header);
    let mut rest = [0u8; 60];
    let rest_len = rest_header(header, &mut rest);

    let room = |hl: usize| mtu.saturating_sub(hl) & !7;
    let (first_chunk, rest_chunk) = (room(first_len), room(rest_len));
    if first_chunk == 0 || (data.len() > first_chunk && rest_chunk == 0) {
        return Err(FragmentError::MtuTooSmall {
            mtu,
            header: first_len,
        });
    }
    // Where the last fragment starts, to check its offset fits in 13 bits.
    let last_start = if data.len() <= first_chunk {
        0
    } else {
        first_chunk + (data.len() - first_chunk - 1) / rest_chunk * rest_chunk
    };
    let base = usize::from(packet.frag_offset());
    if base + last_start / 8 > 0x1fff {
        return Err(FragmentError::OffsetOverflow);
    }

    let mut start = 0;
    let mut count = 0;
    while count == 0 || start < data.len() {
        let (hdr, hl, chunk) = if count == 0 {
            (&mut first, first_len, first_chunk)
        } else {
            (&mut rest, rest_len, rest_chunk)
        };
        let end = data.len().min(start + chunk);
        let last = end == data.len();
        let offset = (base + start / 8) as u16; // checked above
        let mf = !last || packet.more_frags();
        let h = &mut hdr[..hl];
        ipv4::patch_header(
            h,
            (hl + end - start) as u16,
            ipv4::flags_offset(false, mf, offset),
        );
        emit(h, &data[start..end]);
        start = end;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::dataplane::ipv4::tests::packet;

    /// Reassemble fragments of one datagram (test-only): the first piece's
    /// header with the total length, offset and MF of the whole.
    pub(crate) fn reassemble(frags: &[Vec<u8>]) -> Vec<u8> {
        let mut data = vec![];
        let (mut header, mut base, mut last_mf) = (None, None, false);
        for f in frags {
            let p = Ipv4Packet::new_checked(f).unwrap();
            assert!(p.verify_checksum());
            let off = usize::from(p.frag_offset()) * 8;
            let b = *base.get_or_insert(off);
            if off == b {
                header = Some(p.header().to_vec());
            }
            let rel = off - b;
            let end = rel + p.payload().len();
            if data.len() <= end {
                data.resize(end, 0);
                last_mf = p.more_frags();
            }
            data[rel..end].copy_from_slice(p.payload());
        }
        let mut out = header.unwrap();
        let hl = out.len();
        let b = base.unwrap() / 8;
        ipv4::patch_header(
            &mut out,
            (hl + data.len()) as u16,
            ipv4::flags_offset(false, last_mf, b as u16),
        );
        out.extend_from_slice(&data);
        out
    }

    pub(crate) fn split(p: &[u8], mtu: usize) -> Result<Vec<Vec<u8>>, FragmentError> {
        let v = Ipv4Packet::new_checked(p).unwrap();
        let mut frags = vec![];
        let n = fragment(&v, mtu, |h, d| frags.push([h, d].concat()))?;
        assert_eq!(n, frags.len());
        Ok(frags)
    }

    /// Compare a reassembled packet with the original, ignoring the fields fragmentation rewrites.
    pub(crate) fn same_datagram(orig: &[u8], re: &[u8], mf: bool, offset: u16) {
        assert_eq!(orig.len(), re.len());
        assert_eq!(
            orig[6..8],
            ipv4::flags_offset(false, mf, offset).to_be_bytes()
        );
        let mut o = orig.to_vec();
        o[6..8].copy_from_slice(&ipv4::flags_offset(false, mf, offset).to_be_bytes());
        let hl = usize::from(o[0] & 15) * 4;
        ipv4::fill_header_checksum(&mut o[..hl]);
        assert!(o == re, "reassembled datagram differs");
    }

    #[test]
    fn splits_and_reassembles() {
        let p = packet([10, 0, 0, 1], [10, 0, 0, 2], 3000, &[], false);
        let frags = split(&p, 1400).unwrap();
        assert_eq!(frags.len(), 3);
        assert_eq!(
            frags.iter().map(Vec::len).collect::<Vec<_>>(),
            [1396, 1396, 268]
        );
        let offs: Vec<_> = frags
            .iter()
            .map(|f| Ipv4Packet::new_checked(f).unwrap().frag_offset())
            .collect();
        assert_eq!(offs, [0, 172, 344]);
        let mfs: Vec<_> = frags
            .iter()
            .map(|f| Ipv4Packet::new_checked(f).unwrap().more_frags())
            .collect();
        assert_eq!(mfs, [true, true, false]);
        same_datagram(&p, &reassemble(&frags), false, 0);
    }

    #[test]
    fn already_a_fragment() {
        // A middle fragment: offset 100 (800 bytes), MF set; after splitting, the last piece keeps MF.
        let mut p = packet([10, 0, 0, 1], [10, 0, 0, 2], 2000, &[], false);
        p[6..8].copy_from_slice(&ipv4::flags_offset(false, true, 100).to_be_bytes());
        let frags = split(&p, 576).unwrap();
        for f in &frags {
            let v = Ipv4Packet::new_checked(f).unwrap();
            assert!(v.more_frags());
            assert!(v.frag_offset() >= 100);
            assert!(f.len() <= 576);
        }
        assert_eq!(
            Ipv4Packet::new_checked(&frags[1]).unwrap().frag_offset(),
            100 + 556 / 8
        );
        same_datagram(&p, &reassemble(&frags), true, 100);
        // A last fragment (MF clear) at an offset: the pieces end with MF clear.
        p[6..8].copy_from_slice(&ipv4::flags_offset(false, false, 100).to_be_bytes());
        let frags = split(&p, 576).unwrap();
        assert!(!Ipv4Packet::new_checked(frags.last().unwrap())
            .unwrap()
            .more_frags());
        same_datagram(&p, &reassemble(&frags), false, 100);
    }

    #[test]
    fn options_copied_only_when_flagged() {
        // Security (0x82, len 11, copied) + NOP + Record Route (0x07, len 7, not copied) + EOL pad.
        let mut opts = vec![
            0x82, 11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 0x07, 7, 4, 0, 0, 0, 0,
        ];
        opts.resize(20, 0);
        let p = packet([10, 0, 0, 1], [10, 0, 0, 2], 1000, &opts, false);
        let frags = split(&p, 300).unwrap();
        let first = Ipv4Packet::new_checked(&frags[0]).unwrap();
        assert_eq!(first.header_len(), 40);
        assert_eq!(&first.header()[20..], &opts[..]);
        for f in &frags[1..] {
            let v = Ipv4Packet::new_checked(f).unwrap();
            assert_eq!(v.header_len(), 32);
            assert_eq!(&v.header()[20..31], &opts[..11]);
            assert_eq!(v.header()[31], 0);
            assert!(f.len() <= 300);
        }
        same_datagram(&p, &reassemble(&frags), false, 0);
    }

    #[test]
    fn malformed_options_copy_nothing_further() {
        let opts = [0x83, 0x00, 0x00, 0x00]; // zero-length option
        let p = packet([10, 0, 0, 1], [10, 0, 0, 2], 200, &opts, false);
        let frags = split(&p, 100).unwrap();
        assert_eq!(Ipv4Packet::new_checked(&frags[1]).unwrap().header_len(), 20);
        same_datagram(&p, &reassemble(&frags), false, 0);
    }

    #[test]
    fn mtu_too_small() {
        let p = packet([10, 0, 0, 1], [10, 0, 0, 2], 200, &[], false);
        assert_eq!(
            split(&p, 27),
            Err(FragmentError::MtuTooSmall {
                mtu: 27,
                header: 20
            })
        );
        assert_eq!(
            split(&p, 0),
            Err(FragmentError::MtuTooSmall { mtu: 0, header: 20 })
        );
        assert_eq!(split(&p, 28).unwrap().len(), 25);
    }

    #[test]
    fn offset_overflow() {
        let mut p = packet([10, 0, 0, 1], [10, 0, 0, 2], 200, &[], false);
        p[6..8].copy_from_slice(&ipv4::flags_offset(false, true, 0x1fff).to_be_bytes());
        assert_eq!(split(&p, 100), Err(FragmentError::OffsetOverflow));
        // The same packet still "fits" when no split point moves past the limit.
        p[6..8].copy_from_slice(&ipv4::flags_offset(false, true, 0x1feb).to_be_bytes());
        assert!(split(&p, 100).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn prop_reassembles(len in 0usize..9000, mtu in 28usize..2000, opt_words in 0usize..=10, base in 0u16..64, mf: bool) {
            let opts: Vec<u8> = std::iter::repeat_n([0x01u8, 0x01, 0x01, 0x01], opt_words).flatten().collect();
            let mut p = packet([10, 0, 0, 1], [10, 0, 0, 2], len, &opts, false);
            p[6..8].copy_from_slice(&ipv4::flags_offset(false, mf, base).to_be_bytes());
            match split(&p, mtu) {
                Ok(frags) => {
                    for f in &frags {
                        proptest::prop_assert!(f.len() <= mtu);
                    }
                    for f in &frags[..frags.len() - 1] {
                        proptest::prop_assert_eq!(Ipv4Packet::new_checked(f).unwrap().payload().len() % 8, 0);
                    }
                    same_datagram(&p, &reassemble(&frags), mf, base);
                }
                Err(e) => {
                    let hl = 20 + opts.len();
                    proptest::prop_assert_eq!(e, FragmentError::MtuTooSmall { mtu, header: hl });
                    proptest::prop_assert!(mtu < hl + 8);
                }
            }
        }
    }
}
