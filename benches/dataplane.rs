//! Micro-benchmarks of the per-packet functions: the upstream verdict
//! (L2TP + PPP parse, session lookup, anti-spoof, counters) and downstream
//! encapsulation, at 1,000 and 100,000 sessions (lookups must stay O(1));
//! and the TUN-offload paths per byte: the checksum sum, segmenting a 64 KiB
//! TCP super-packet to a 1500-byte MRU, coalescing 44 segments.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use l2tpns::dataplane::downstream::{downstream, DownOutput, DownVerdict};
use l2tpns::dataplane::offload::checksum::{l4_checksum, sum as fast_sum};
use l2tpns::dataplane::offload::vnet::{VnetHdr, F_NEEDS_CSUM, GSO_TCPV4};
use l2tpns::dataplane::offload::{downstream_offload, Coalescer};
use l2tpns::dataplane::session_table::{
    SessionCounters, SessionEntry, SessionKey, SessionTable, TableUpdate,
};
use l2tpns::dataplane::upstream::{upstream, UpVerdict};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

fn address(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x0a00_0000 + i)
}

fn table(n: u32) -> SessionTable {
    let mut t = SessionTable::new();
    for i in 1..=n {
        t.apply(TableUpdate::Upsert(SessionEntry {
            key: SessionKey {
                tunnel: (i / 60000 + 1) as u16,
                session: (i % 60000 + 1) as u16,
            },
            peer: SocketAddr::from(([127, 0, 0, 1], 1701)),
            peer_tunnel: 7,
            peer_session: (i % 65535) as u16,
            address: address(i),
            routes: Vec::new(),
            mru: 1460,
            anti_spoof: true,
            packet_limit: 0,
            down_window: Default::default(),
            policy: Default::default(),
            dns: [None, None],
            counters: Arc::new(SessionCounters::new()),
        }));
    }
    t
}

fn ip_packet(src: Ipv4Addr, dst: Ipv4Addr, len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    let c = l2tpns::dataplane::ipv4::checksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p
}

fn bench(c: &mut Criterion) {
    for n in [1_000u32, 100_000] {
        let t = table(n);
        let i = n / 2;
        let key = SessionKey {
            tunnel: (i / 60000 + 1) as u16,
            session: (i % 60000 + 1) as u16,
        };
        for size in [64usize, 1400] {
            let mut datagram = vec![0x00, 0x02];
            datagram.extend_from_slice(&key.tunnel.to_be_bytes());
            datagram.extend_from_slice(&key.session.to_be_bytes());
            datagram.extend_from_slice(&[0xff, 0x03, 0x00, 0x21]);
            datagram.extend_from_slice(&ip_packet(address(i), Ipv4Addr::new(192, 0, 2, 1), size));
            let lac = SocketAddr::from(([127, 0, 0, 1], 1701));
            let mut g = c.benchmark_group(format!("upstream/{n}_sessions"));
            g.throughput(Throughput::Elements(1));
            g.bench_with_input(BenchmarkId::from_parameter(size), &datagram, |b, d| {
                b.iter(|| match upstream(&t, black_box(d), lac, 1) {
                    UpVerdict::ToTun(p, _) => p.len(),
                    _ => panic!("not forwarded"),
                })
            });
            g.finish();
            let packet = ip_packet(Ipv4Addr::new(192, 0, 2, 1), address(i), size);
            let mut out = DownOutput::new();
            let mut g = c.benchmark_group(format!("downstream/{n}_sessions"));
            g.throughput(Throughput::Elements(1));
            g.bench_with_input(BenchmarkId::from_parameter(size), &packet, |b, p| {
                b.iter(|| {
                    match downstream(&t, black_box(p), Ipv4Addr::new(10, 255, 0, 1), 1, &mut out) {
                        DownVerdict::ToPeer { count, .. } => count,
                        _ => panic!("not forwarded"),
                    }
                })
            });
            g.finish();
        }
    }
}

/// A TCP/IPv4 packet with valid checksums and `len` bytes of payload.
fn tcp_packet(src: Ipv4Addr, dst: Ipv4Addr, seq: u32, id: u16, len: usize) -> Vec<u8> {
    let total = 40 + len;
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[4..6].copy_from_slice(&id.to_be_bytes());
    p[6] = 0x40;
    p[8] = 64;
    p[9] = 6;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    let c = l2tpns::dataplane::ipv4::checksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p[24..28].copy_from_slice(&seq.to_be_bytes());
    p[32] = 0x50;
    p[33] = 0x10;
    p[34..36].copy_from_slice(&64000u16.to_be_bytes());
    for (i, b) in p[40..].iter_mut().enumerate() {
        *b = (i * 7) as u8;
    }
    let c = l4_checksum(src.octets(), dst.octets(), 6, &p[20..]);
    p[36..38].copy_from_slice(&c.to_be_bytes());
    p
}

fn bench_offload(c: &mut Criterion) {
    let data: Vec<u8> = (0..65536u32).map(|i| (i * 13) as u8).collect();
    let mut g = c.benchmark_group("checksum_sum");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("ipv4::sum/64KiB", |b| {
        b.iter(|| l2tpns::dataplane::ipv4::sum(black_box(&data)))
    });
    g.bench_function("offload::checksum::sum/64KiB", |b| {
        b.iter(|| fast_sum(black_box(&data)))
    });
    g.finish();

    let (server, client) = (Ipv4Addr::new(192, 0, 2, 1), address(500));
    let mut t = SessionTable::new();
    t.apply(TableUpdate::Upsert(SessionEntry {
        key: SessionKey {
            tunnel: 1,
            session: 1,
        },
        peer: SocketAddr::from(([127, 0, 0, 1], 1701)),
        peer_tunnel: 7,
        peer_session: 8,
        address: client,
        routes: Vec::new(),
        mru: 1500,
        anti_spoof: true,
        packet_limit: 0,
        down_window: Default::default(),
        policy: Default::default(),
        dns: [None, None],
        counters: Arc::new(SessionCounters::new()),
    }));
    let len = 65535 - 40;
    let mut frame = VnetHdr {
        flags: F_NEEDS_CSUM,
        gso_type: GSO_TCPV4,
        hdr_len: 40,
        gso_size: 1448,
        csum_start: 20,
        csum_offset: 16,
    }
    .to_bytes()
    .to_vec();
    frame.extend_from_slice(&tcp_packet(server, client, 1, 1, len));
    let mut out = DownOutput::new();
    let mut g = c.benchmark_group("offload");
    g.throughput(Throughput::Bytes(len as u64));
    // A GSO frame is not modified (only plain NEEDS_CSUM frames are), so it is reused.
    g.bench_function("segment_tso_64KiB_mru1500", |b| {
        b.iter(|| {
            match downstream_offload(
                &t,
                black_box(&mut frame),
                Ipv4Addr::new(10, 255, 0, 1),
                1,
                &mut out,
            ) {
                DownVerdict::ToPeer { count, .. } => count,
                v => panic!("not forwarded: {v:?}"),
            }
        })
    });
    let segments: Vec<Vec<u8>> = (0..44u32)
        .map(|i| tcp_packet(client, server, 1 + i * 1448, i as u16, 1448))
        .collect();
    let key = SessionKey {
        tunnel: 1,
        session: 1,
    };
    let mut co = Coalescer::new();
    g.throughput(Throughput::Bytes(44 * 1448));
    g.bench_function("coalesce_44x1448", |b| {
        b.iter(|| {
            let mut frames = 0;
            for s in &segments {
                co.push(key, black_box(s), &mut |f: &[u8]| frames += f.len());
            }
            co.flush(&mut |f: &[u8]| frames += f.len());
            frames
        })
    });
    g.finish();
}

criterion_group!(benches, bench, bench_offload);
criterion_main!(benches);
