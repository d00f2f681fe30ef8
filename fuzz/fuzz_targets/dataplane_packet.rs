//! Fuzz the data-plane verdicts: arbitrary bytes as an upstream UDP datagram
//! (plain and MSS-clamping variants) and as a downstream IP packet, against a
//! table whose small MRUs exercise ICMP frag-needed and fragmentation. Must
//! never panic; checks the invariants the worker relies on.
#![no_main]

use std::net::Ipv4Addr;
use std::sync::{Arc, OnceLock};

use l2tpns::dataplane::ipv4::Ipv4Packet;
use l2tpns::dataplane::{
    downstream, upstream, upstream_clamp_mss, DownOutput, DownVerdict, SessionCounters,
    SessionEntry, SessionKey, SessionTable, TableUpdate, UpVerdict,
};
use libfuzzer_sys::fuzz_target;

fn session(
    tunnel: u16,
    session: u16,
    addr: [u8; 4],
    routes: &[&str],
    mru: u16,
    anti_spoof: bool,
) -> SessionEntry {
    SessionEntry {
        key: SessionKey { tunnel, session },
        peer: "192.0.2.1:1701".parse().unwrap(),
        peer_tunnel: 100 + tunnel,
        peer_session: 100 + session,
        address: Ipv4Addr::from(addr),
        routes: routes.iter().map(|r| r.parse().unwrap()).collect(),
        mru,
        anti_spoof,
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
            true,
        )));
        t.apply(TableUpdate::Upsert(session(
            1,
            2,
            [10, 0, 0, 2],
            &[],
            1500,
            false,
        )));
        t.apply(TableUpdate::Upsert(session(
            2,
            1,
            [10, 0, 0, 3],
            &["0.0.0.0/0"],
            576,
            true,
        )));
        t
    })
}

fuzz_target!(|data: &[u8]| {
    let t = table();

    let lac = "192.0.2.1:1701".parse().unwrap();
    match upstream(t, data, lac, 1) {
        UpVerdict::ToTun(ip, _) => {
            assert!(Ipv4Packet::new_checked(ip)
                .map(|p| p.total_len() == ip.len())
                .unwrap_or(false));
        }
        UpVerdict::ToControl | UpVerdict::Drop(_) => {}
    }
    let mut copy = data.to_vec();
    let _ = upstream_clamp_mss(t, &mut copy, lac, 2);

    let mut out = DownOutput::new();
    match downstream(t, data, Ipv4Addr::new(198, 51, 100, 1), 1, &mut out) {
        DownVerdict::ToPeer { count, .. } => {
            assert_eq!(out.datagrams().count(), count);
            for d in out.datagrams() {
                assert!(d.len() <= 10 + 1500);
                assert!(Ipv4Packet::new_checked(&d[10..]).is_ok());
            }
        }
        DownVerdict::IcmpToTun => {
            let icmp = Ipv4Packet::new_checked(out.icmp()).expect("valid ICMP packet");
            assert!(icmp.verify_checksum());
        }
        DownVerdict::Drop(_) => {}
    }
});
