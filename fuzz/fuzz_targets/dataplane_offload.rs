//! Fuzz the TUN-offload data plane: arbitrary bytes as a frame read from an
//! IFF_VNET_HDR TUN (virtio-net header + IPv4) through `downstream_offload`,
//! against sessions whose MRUs exercise segmentation, ICMP and
//! fragmentation; and the same bytes, split in packets, through the
//! upstream `Coalescer`. Must never panic; checks the invariants the worker
//! relies on.
#![no_main]

use std::net::Ipv4Addr;
use std::sync::{Arc, OnceLock};

use l2tpns::dataplane::ipv4::Ipv4Packet;
use l2tpns::dataplane::offload::{downstream_offload, Coalescer, VnetHdr, VNET_HDR_LEN};
use l2tpns::dataplane::{
    DownOutput, DownVerdict, SessionCounters, SessionEntry, SessionKey, SessionTable, TableUpdate,
};
use libfuzzer_sys::fuzz_target;

fn session(tunnel: u16, session: u16, addr: [u8; 4], routes: &[&str], mru: u16) -> SessionEntry {
    SessionEntry {
        key: SessionKey { tunnel, session },
        peer: "192.0.2.1:1701".parse().unwrap(),
        peer_tunnel: 100 + tunnel,
        peer_session: 100 + session,
        address: Ipv4Addr::from(addr),
        routes: routes.iter().map(|r| r.parse().unwrap()).collect(),
        mru,
        anti_spoof: true,
        packet_limit: 0,
        down_window: Default::default(),
        policy: Default::default(),
        dns: [None, None],
        counters: Arc::new(SessionCounters::new()),
    }
}

fn table() -> &'static SessionTable {
    static TABLE: OnceLock<SessionTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = SessionTable::new();
        t.apply(TableUpdate::Upsert(session(
            1,
            1,
            [10, 0, 0, 1],
            &["192.168.0.0/16"],
            68,
        )));
        t.apply(TableUpdate::Upsert(session(1, 2, [10, 0, 0, 2], &[], 1500)));
        t.apply(TableUpdate::Upsert(session(
            2,
            1,
            [10, 0, 0, 3],
            &["0.0.0.0/0"],
            576,
        )));
        t
    })
}

fuzz_target!(|data: &[u8]| {
    let t = table();
    let mut frame = data.to_vec();
    let mut out = DownOutput::new();
    match downstream_offload(t, &mut frame, Ipv4Addr::new(198, 51, 100, 1), 1, &mut out) {
        DownVerdict::ToPeer { count, .. } => {
            assert_eq!(out.datagrams().count(), count);
            for d in out.datagrams() {
                assert!(d.len() <= 10 + 1500);
                assert!(Ipv4Packet::new_checked(&d[10..]).is_ok());
            }
            let total: usize = out.gso_batches().map(|b| b.count).sum();
            assert_eq!(total, count);
            for b in out.gso_batches() {
                assert!(b.count <= 64 && b.bytes.len() <= 65_507 || b.count == 1);
            }
        }
        DownVerdict::IcmpToTun => {
            let icmp = Ipv4Packet::new_checked(out.icmp()).expect("valid ICMP packet");
            assert!(icmp.verify_checksum());
        }
        DownVerdict::Drop(_) => {}
    }

    // Upstream: the bytes cut into packets at each 0xff, alternating sessions.
    let mut c = Coalescer::new();
    let mut frames = 0usize;
    let mut pushed = 0usize;
    let mut emit = |f: &[u8]| {
        assert!(VnetHdr::parse(f).is_ok() && f.len() >= VNET_HDR_LEN);
        frames += 1;
    };
    for (i, p) in data.split(|&b| b == 0xff).enumerate() {
        let key = SessionKey {
            tunnel: 1,
            session: (i % 2) as u16,
        };
        c.push(key, p, &mut emit);
        pushed += 1;
    }
    c.flush(&mut emit);
    assert!(frames <= pushed);
});
