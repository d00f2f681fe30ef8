//! IPv4 fragment reassembly for the emulated clients (RFC 791 §3.2), so
//! they see what the LNS fragmented downstream as whole packets again.
//! Small and bounded: a few partial packets per client at most.

use std::collections::HashMap;
use std::net::Ipv4Addr;

type Key = (Ipv4Addr, Ipv4Addr, u16, u8);

#[derive(Default)]
pub struct Reassembly {
    partial: HashMap<Key, Partial>,
    pub reassembled: u64,
}

#[derive(Default)]
struct Partial {
    header: Vec<u8>,
    data: Vec<u8>,
    have: Vec<(usize, usize)>,
    total: Option<usize>,
}

const MAX_PARTIAL: usize = 64;

impl Reassembly {
    /// A whole packet: returned as is. A fragment: stored; the whole packet
    /// once the last missing piece arrives. None for malformed input.
    pub fn push(&mut self, p: &[u8]) -> Option<Vec<u8>> {
        if p.len() < 20 || p[0] >> 4 != 4 {
            return None;
        }
        let ihl = usize::from(p[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
        if ihl < 20 || total < ihl || total > p.len() {
            return None;
        }
        let flags_off = u16::from_be_bytes([p[6], p[7]]);
        let more = flags_off & 0x2000 != 0;
        let offset = usize::from(flags_off & 0x1fff) * 8;
        if !more && offset == 0 {
            return Some(p[..total].to_vec());
        }
        let key = (
            Ipv4Addr::new(p[12], p[13], p[14], p[15]),
            Ipv4Addr::new(p[16], p[17], p[18], p[19]),
            u16::from_be_bytes([p[4], p[5]]),
            p[9],
        );
        if !self.partial.contains_key(&key) && self.partial.len() >= MAX_PARTIAL {
            self.partial.clear();
        }
        let part = self.partial.entry(key).or_default();
        let data = &p[ihl..total];
        let end = offset + data.len();
        if end > 65535 {
            self.partial.remove(&key);
            return None;
        }
        if part.data.len() < end {
            part.data.resize(end, 0);
        }
        part.data[offset..end].copy_from_slice(data);
        part.have.push((offset, end));
        if offset == 0 {
            part.header = p[..ihl].to_vec();
        }
        if !more {
            part.total = Some(end);
        }
        let total_len = part.total?;
        if part.header.is_empty() {
            return None;
        }
        part.have.sort_unstable();
        let mut covered = 0;
        for &(a, b) in &part.have {
            if a > covered {
                return None;
            }
            covered = covered.max(b);
        }
        if covered < total_len {
            return None;
        }
        let part = self.partial.remove(&key)?;
        let mut whole = part.header;
        let hl = whole.len();
        whole.extend_from_slice(&part.data[..total_len]);
        let len = whole.len() as u16;
        whole[2..4].copy_from_slice(&len.to_be_bytes());
        whole[6] = 0;
        whole[7] = 0;
        whole[10] = 0;
        whole[11] = 0;
        let c = crate::dataplane::ipv4::checksum(&whole[..hl]);
        whole[10..12].copy_from_slice(&c.to_be_bytes());
        self.reassembled += 1;
        Some(whole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::icmp::echo_request;

    fn fragments(p: &[u8], size: usize) -> Vec<Vec<u8>> {
        let data = &p[20..];
        let mut out = Vec::new();
        let mut off = 0;
        while off < data.len() {
            let end = (off + size).min(data.len());
            let mut f = p[..20].to_vec();
            f.extend_from_slice(&data[off..end]);
            let fo = (off / 8) as u16 | if end < data.len() { 0x2000 } else { 0 };
            f[6..8].copy_from_slice(&fo.to_be_bytes());
            let len = f.len() as u16;
            f[2..4].copy_from_slice(&len.to_be_bytes());
            out.push(f);
            off = end;
        }
        out
    }

    #[test]
    fn fragments_in_any_order_give_back_the_packet() {
        let p = echo_request(
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            1,
            1,
            1000,
        );
        let mut f = fragments(&p, 296);
        assert_eq!(f.len(), 4);
        f.swap(0, 3);
        let mut r = Reassembly::default();
        let got: Vec<Vec<u8>> = f.iter().filter_map(|x| r.push(x)).collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0][20..], p[20..]);
        assert_eq!(crate::dataplane::ipv4::checksum(&got[0][..20]), 0);
        assert_eq!(r.push(&p), Some(p.clone()));
        assert_eq!(r.push(&p[..10]), None);
    }
}
