//! Fuzz the PPP input path: frame parsing, control packets, option
//! iterators and option reprs, then a ServerLink and a ClientLink fed the
//! input split into several frames. Nothing may panic.
//! Input: one selector byte (bit 0: PAP-only server, bit 1: echo_always,
//! bit 2: reject authentication), then frames separated by 0x7E.
#![no_main]

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use l2tpns::ppp::ipcp::IpcpOption;
use l2tpns::ppp::lcp::LcpOption;
use l2tpns::ppp::wire::{ConfigOptions, ControlPacket, Frame};
use l2tpns::ppp::{
    AuthProto, ClientConfig, ClientLink, NetworkGrant, ServerConfig, ServerEvent, ServerLink,
};
use libfuzzer_sys::fuzz_target;

fn parse_all(bytes: &[u8]) {
    if let Ok(frame) = Frame::parse(bytes) {
        if let Ok(packet) = ControlPacket::parse(frame.payload()) {
            for o in ConfigOptions::new(packet.data()).flatten() {
                let _ = LcpOption::parse(&o);
                let _ = IpcpOption::parse(&o);
            }
        }
    }
    for o in ConfigOptions::new(bytes).flatten() {
        let _ = LcpOption::parse(&o);
        let _ = IpcpOption::parse(&o);
    }
}

fn server_cfg(first: u8) -> ServerConfig {
    let auth_order = if first & 1 == 0 {
        vec![AuthProto::Chap, AuthProto::Pap]
    } else {
        vec![AuthProto::Pap]
    };
    ServerConfig {
        mru: 1458,
        auth_order,
        restart_time: Duration::from_secs(3),
        max_configure: 10,
        max_failure: 5,
        echo_interval: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(240),
        echo_always: first & 2 != 0,
        hostname: "lns".into(),
        local_address: Ipv4Addr::new(10, 0, 0, 1),
    }
}

fuzz_target!(|data: &[u8]| {
    parse_all(data);
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let t0 = Instant::now();
    let mut server = ServerLink::new(Arc::new(server_cfg(first)), 0x5e5e_0001, [7; 16], t0);
    let mut client = ClientLink::new(
        ClientConfig {
            username: "u".into(),
            password: "p".into(),
            allowed_auth: None,
            mru: 1500,
            restart_time: Duration::from_secs(3),
            max_configure: 10,
            max_failure: 5,
            request_dns: true,
        },
        0xc1c1_0002,
        t0,
    );
    server.open(t0);
    client.open(t0);
    // Frames are separated by 0x7E (HDLC flag byte, never meaningful here),
    // 100 ms apart, so a captured client conversation replays exactly.
    for (i, chunk) in rest.split(|b| *b == 0x7E).enumerate() {
        let now = t0 + Duration::from_millis(100 * i as u64);
        server.handle_frame(now, chunk);
        client.handle_frame(now, chunk);
        while let Some(ev) = server.poll_event() {
            if let ServerEvent::AuthRequest { .. } = ev {
                if first & 4 == 0 {
                    let grant = NetworkGrant {
                        peer_address: Ipv4Addr::new(10, 1, 1, 1),
                        dns: [Some(Ipv4Addr::new(192, 0, 2, 1)), None],
                    };
                    server.auth_accept(now, "ok", grant);
                } else {
                    server.auth_reject(now, "no");
                }
            }
        }
        while client.poll_event().is_some() {}
        while server.poll_transmit().is_some() {}
        while client.poll_transmit().is_some() {}
        server.handle_timeout(now);
        client.handle_timeout(now);
        let _ = (server.peer_mru(), server.stats(), server.phase());
    }
    let late = t0 + Duration::from_secs(300);
    server.handle_timeout(late);
    client.handle_timeout(late);
    server.close(late, l2tpns::ppp::CloseReason::AdminClose);
    while server.poll_transmit().is_some() {}
});
