//! TCP MSS clamping on SYN (RFC 9293 §3.7.1 MSS option; l2tpns clamps
//! upstream SYNs so segments fit the L2TP path): lower the MSS option in
//! place and patch the TCP checksum incrementally (RFC 1624 eqn. 3).

use super::ipv4::{self, fold, PROTO_TCP};

const TCP_SYN: u8 = 0x02;
const OPT_END: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_MSS: u8 = 2;

/// If `packet` is an unfragmented (or first-fragment) IPv4 TCP SYN whose MSS
/// option exceeds `max_mss`, set it to `max_mss` and fix the TCP checksum.
/// Returns whether the packet was changed. Anything malformed is left alone.
pub fn clamp_tcp_mss(packet: &mut [u8], max_mss: u16) -> bool {
    let Ok((total, header_len)) = ipv4::check(packet) else {
        return false;
    };
    let Some(ip) = packet.get_mut(..total) else {
        return false;
    };
    let frag_offset = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff;
    if ip[9] != PROTO_TCP || frag_offset != 0 {
        return false;
    }
    let Some(tcp) = ip.get_mut(header_len..) else {
        return false;
    };
    let (Some(&data_offset), Some(&flags)) = (tcp.get(12), tcp.get(13)) else {
        return false;
    };
    let options_end = usize::from(data_offset >> 4) * 4;
    if flags & TCP_SYN == 0 || options_end < 20 || options_end > tcp.len() {
        return false;
    }
    let mut i = 20;
    while i < options_end {
        match tcp[i] {
            OPT_END => break,
            OPT_NOP => i += 1,
            kind => {
                let len = tcp.get(i + 1).map_or(0, |&l| usize::from(l));
                if len < 2 || i + len > options_end {
                    return false;
                }
                if kind == OPT_MSS && len == 4 {
                    return lower_mss(tcp, i + 2, max_mss);
                }
                i += len;
            }
        }
    }
    false
}

/// Lower the 16-bit MSS at `at` (in bounds: checked by the caller) and update the checksum.
fn lower_mss(tcp: &mut [u8], at: usize, max_mss: u16) -> bool {
    let old = u16::from_be_bytes([tcp[at], tcp[at + 1]]);
    if old <= max_mss {
        return false;
    }
    tcp[at..at + 2].copy_from_slice(&max_mss.to_be_bytes());
    // At an odd offset the value straddles two checksum words: its bytes count swapped.
    let (m, m_new) = if at.is_multiple_of(2) {
        (old, max_mss)
    } else {
        (old.swap_bytes(), max_mss.swap_bytes())
    };
    let hc = u16::from_be_bytes([tcp[16], tcp[17]]);
    let hc_new = !fold(u64::from(!hc) + u64::from(!m) + u64::from(m_new));
    tcp[16..18].copy_from_slice(&hc_new.to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::ipv4::{fill_header_checksum, sum};

    /// TCP checksum over the pseudo-header (RFC 9293 §3.1); 0 when valid.
    fn tcp_checksum(ip: &[u8]) -> u16 {
        let hl = usize::from(ip[0] & 15) * 4;
        let tcp = &ip[hl..];
        let mut pseudo = [0u8; 12];
        pseudo[..8].copy_from_slice(&ip[12..20]);
        pseudo[9] = PROTO_TCP;
        pseudo[10..12].copy_from_slice(&(tcp.len() as u16).to_be_bytes());
        !fold(sum(&pseudo) + sum(tcp))
    }

    fn syn(options: &[u8], flags: u8) -> Vec<u8> {
        let tcp_len = 20 + options.len();
        let mut p = vec![0u8; 20 + tcp_len];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&((20 + tcp_len) as u16).to_be_bytes());
        p[8] = 64;
        p[9] = PROTO_TCP;
        p[12..16].copy_from_slice(&[10, 0, 0, 1]);
        p[16..20].copy_from_slice(&[93, 184, 216, 34]);
        fill_header_checksum(&mut p[..20]);
        let t = &mut p[20..];
        t[0..2].copy_from_slice(&40000u16.to_be_bytes());
        t[2..4].copy_from_slice(&443u16.to_be_bytes());
        t[4..8].copy_from_slice(&0x0102_0304u32.to_be_bytes());
        t[12] = ((tcp_len / 4) as u8) << 4;
        t[13] = flags;
        t[14..16].copy_from_slice(&64240u16.to_be_bytes());
        t[20..].copy_from_slice(options);
        let c = tcp_checksum(&p);
        p[36..38].copy_from_slice(&c.to_be_bytes());
        assert_eq!(tcp_checksum(&p), 0);
        p
    }

    fn mss_at(p: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([p[40 + at], p[41 + at]])
    }

    #[test]
    fn clamps_even_offset() {
        let mut p = syn(&[2, 4, 0x05, 0xb4, 1, 1, 4, 2], TCP_SYN);
        assert!(clamp_tcp_mss(&mut p, 1420));
        assert_eq!(mss_at(&p, 2), 1420);
        assert_eq!(tcp_checksum(&p), 0);
        assert!(!clamp_tcp_mss(&mut p, 1460)); // already below
    }

    #[test]
    fn clamps_odd_offset() {
        let mut p = syn(&[1, 2, 4, 0x05, 0xb4, 0, 0, 0], TCP_SYN | 0x10);
        assert!(clamp_tcp_mss(&mut p, 1000));
        assert_eq!(mss_at(&p, 3), 1000);
        assert_eq!(tcp_checksum(&p), 0);
    }

    #[test]
    fn leaves_others_alone() {
        let mut ack = syn(&[2, 4, 0x05, 0xb4], 0x10);
        let before = ack.clone();
        assert!(!clamp_tcp_mss(&mut ack, 1000));
        assert_eq!(ack, before);
        let mut no_mss = syn(&[1, 1, 1, 0], TCP_SYN);
        assert!(!clamp_tcp_mss(&mut no_mss, 1000));
        let mut bad = syn(&[2, 9, 0x05, 0xb4], TCP_SYN);
        assert!(!clamp_tcp_mss(&mut bad, 1000));
        let mut udp = syn(&[2, 4, 0x05, 0xb4], TCP_SYN);
        udp[9] = 17;
        assert!(!clamp_tcp_mss(&mut udp, 1000));
        let mut frag = syn(&[2, 4, 0x05, 0xb4], TCP_SYN);
        frag[7] = 1;
        assert!(!clamp_tcp_mss(&mut frag, 1000));
        let full = syn(&[2, 4, 0x05, 0xb4], TCP_SYN);
        for n in 0..full.len() {
            let mut t = full[..n].to_vec();
            assert!(!clamp_tcp_mss(&mut t, 1000));
        }
    }
}
