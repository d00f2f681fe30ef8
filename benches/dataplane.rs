//! Micro-benchmarks of the per-packet functions: the upstream verdict
//! (L2TP + PPP parse, session lookup, anti-spoof, counters) and downstream
//! encapsulation, at 1,000 and 100,000 sessions (lookups must stay O(1)).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use l2tpns::dataplane::downstream::{downstream, DownOutput, DownVerdict};
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
            let mut g = c.benchmark_group(format!("upstream/{n}_sessions"));
            g.throughput(Throughput::Elements(1));
            g.bench_with_input(BenchmarkId::from_parameter(size), &datagram, |b, d| {
                b.iter(|| match upstream(&t, black_box(d), 1) {
                    UpVerdict::ToTun(p) => p.len(),
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
                    match downstream(&t, black_box(p), Ipv4Addr::new(10, 255, 0, 1), &mut out) {
                        DownVerdict::ToPeer { count, .. } => count,
                        _ => panic!("not forwarded"),
                    }
                })
            });
            g.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
