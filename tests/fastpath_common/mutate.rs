//! Deterministic mutations of valid frames for the fuzz oracle test: bit
//! flips (mostly in the headers), truncation, extension, header fields set
//! to edge values, bytes inserted or removed inside the headers; then, half
//! of the time, the lengths and checksums made consistent again, so that
//! the programs' deeper checks are reached and not only the first length
//! test.

use super::frames::{
    be16, fix_ipv4_checksum, ihl_bytes, put16, XorShift, ETH_LEN, OUTER_IP, PROTO_UDP,
};

/// BPF_PROG_TEST_RUN takes at most about a page minus the skb's overhead.
pub const MAX_FRAME: usize = 3300;

/// Offsets of header fields in an upstream frame (outer IPv4 without
/// options, plain L2TP header, FF 03 00 21) and in a downstream one.
const UP_FIELDS: &[usize] = &[
    0, 12, 14, 16, 20, 23, 26, 30, 34, 36, 38, 40, 42, 43, 44, 46, 48, 49, 50, 51, 52, 54, 58, 61,
    64, 68, 72, 85,
];
const DOWN_FIELDS: &[usize] = &[12, 14, 16, 20, 23, 26, 30, 34, 36, 38, 47];

const EDGE_VALUES: &[u16] = &[
    0, 1, 2, 0x21, 0xff, 0x0100, 0x0800, 0x2000, 0x4000, 0x7fff, 0x8000, 0xffff,
];

/// A mutated copy of `base` (which starts with an Ethernet header).
pub fn mutate(base: &[u8], rng: &mut XorShift, upstream: bool) -> Vec<u8> {
    let mut f = base.to_vec();
    for _ in 0..1 + rng.below(3) {
        match rng.below(6) {
            0 | 1 => flip_bits(&mut f, rng),
            2 => {
                let n = ETH_LEN + rng.below(f.len() - ETH_LEN + 1);
                f.truncate(n);
            }
            3 => {
                for _ in 0..1 + rng.below(64) {
                    f.push(rng.byte());
                }
            }
            4 => set_field(&mut f, rng, if upstream { UP_FIELDS } else { DOWN_FIELDS }),
            _ => shift_bytes(&mut f, rng),
        }
    }
    f.truncate(MAX_FRAME);
    if rng.chance(2) {
        if upstream {
            repair_upstream(&mut f, rng);
        } else {
            repair_ipv4(&mut f[ETH_LEN..]);
        }
    }
    f
}

fn flip_bits(f: &mut [u8], rng: &mut XorShift) {
    for _ in 0..1 + rng.below(4) {
        // Three in four in the headers, where the decisions are.
        let span = if rng.chance(4) {
            f.len()
        } else {
            f.len().min(96)
        };
        let at = rng.below(span);
        f[at] ^= 1 << rng.below(8);
    }
}

fn set_field(f: &mut [u8], rng: &mut XorShift, fields: &[usize]) {
    let at = fields[rng.below(fields.len())];
    if at + 2 > f.len() {
        return;
    }
    let v = if rng.chance(2) {
        EDGE_VALUES[rng.below(EDGE_VALUES.len())]
    } else {
        let old = be16(f, at);
        match rng.below(3) {
            0 => old.wrapping_add(1),
            1 => old.wrapping_sub(1),
            _ => rng.next() as u16,
        }
    };
    put16(f, at, v);
}

/// Insert or remove a few bytes after the Ethernet header: every later
/// layer moves.
fn shift_bytes(f: &mut Vec<u8>, rng: &mut XorShift) {
    let n = 1 + rng.below(4);
    let span = f.len().min(80);
    if span <= ETH_LEN {
        return;
    }
    let at = ETH_LEN + rng.below(span - ETH_LEN);
    if rng.chance(2) && at + n <= f.len() {
        f.drain(at..at + n);
    } else {
        for _ in 0..n {
            f.insert(at, rng.byte());
        }
    }
}

/// Total length to the end of the bytes, header checksum right: the IPv4
/// packet at the start of `ip` (if its header is there at all).
fn repair_ipv4(ip: &mut [u8]) {
    if ip.len() < 20 || ip.len() > usize::from(u16::MAX) {
        return;
    }
    let n = ip.len() as u16;
    put16(ip, 2, n);
    fix_ipv4_checksum(ip);
}

/// Outer IPv4 and UDP lengths to the end of the frame; the inner IPv4
/// packet's too, where the PPP framing says it starts; then the outer UDP
/// checksum computed, zeroed or left wrong.
fn repair_upstream(f: &mut [u8], rng: &mut XorShift) {
    if f.len() < OUTER_IP + 20 {
        return;
    }
    let hl = ihl_bytes(&f[OUTER_IP..]);
    let udp = OUTER_IP + hl;
    if hl < 20 || f.len() < udp + 8 || f[OUTER_IP + 9] != PROTO_UDP {
        return;
    }
    let ulen = (f.len() - udp) as u16;
    put16(f, udp + 4, ulen);
    let ppp = udp + 8 + 6;
    if let Some(framing) = f.get(ppp..).map(ppp_framing) {
        let inner = ppp + framing;
        if framing > 0 && f.len() >= inner + 20 {
            repair_ipv4(&mut f[inner..]);
        }
    }
    repair_ipv4(&mut f[OUTER_IP..]);
    match rng.below(3) {
        0 => put16(f, udp + 6, 0),
        1 => {
            put16(f, udp + 6, 0);
            let c = udp_checksum(&f[OUTER_IP..]);
            put16(f, udp + 6, c);
        }
        _ => {}
    }
}

/// Bytes of PPP framing in front of IPv4 (0: not IPv4 framing).
fn ppp_framing(p: &[u8]) -> usize {
    match p {
        [0xff, 0x03, 0x00, 0x21, ..] => 4,
        [0xff, 0x03, 0x21, ..] => 3,
        [0x00, 0x21, ..] => 2,
        [0x21, ..] => 1,
        _ => 0,
    }
}

/// The UDP checksum field the datagram in IPv4 packet `ip` needs (its own
/// checksum field zero).
fn udp_checksum(ip: &[u8]) -> u16 {
    let hl = ihl_bytes(ip);
    let udp = &ip[hl..];
    let mut pseudo = Vec::with_capacity(12 + udp.len());
    pseudo.extend_from_slice(&ip[12..20]);
    pseudo.extend_from_slice(&[0, PROTO_UDP]);
    pseudo.extend_from_slice(&(udp.len() as u16).to_be_bytes());
    pseudo.extend_from_slice(udp);
    match super::frames::checksum(&pseudo) {
        0 => 0xffff,
        c => c,
    }
}
