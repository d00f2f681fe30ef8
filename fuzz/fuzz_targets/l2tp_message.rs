//! Fuzz the L2TP control path: header view, AVP iterator, message parser
//! (with and without a secret, plus an emit/parse round trip), the SCCRQ
//! demultiplexer helper, and LNS/LAC tunnels fed arbitrary datagrams.
#![no_main]

use l2tpns::l2tp::avp::AvpIter;
use l2tpns::l2tp::lac::{LacConfig, LacTunnel};
use l2tpns::l2tp::message::{ControlMessage, MessageType, ProtocolVersion};
use l2tpns::l2tp::tunnel::{sccrq_assigned_tunnel_id, Tunnel, TunnelConfig};
use l2tpns::l2tp::wire::{build_control, Header};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &[u8] = b"s3cret"; // the secret of the seed exchange

fn sccrq() -> Vec<u8> {
    let mut m = ControlMessage::new(MessageType::Sccrq);
    m.protocol_version = Some(ProtocolVersion {
        version: 1,
        revision: 0,
    });
    m.framing_capabilities = Some(3);
    m.host_name = Some(b"lac".to_vec());
    m.assigned_tunnel_id = Some(77);
    build_control(0, 0, 0, 0, &m.to_payload(None).unwrap_or_default())
}

fn drain(t: &mut Tunnel, now: Instant) {
    while t.poll_transmit(now).is_some() {}
    while t.poll_event().is_some() {}
}

fn check_message(p: &[u8], secret: Option<&[u8]>) {
    for _ in AvpIter::new(p) {}
    if let Ok(mut m) = ControlMessage::parse(p, secret) {
        // emit always sets M on the Message Type; unknown AVPs are not re-emitted.
        m.unknown_mandatory = None;
        if let Ok(out) = m.to_payload(secret) {
            let mut again =
                ControlMessage::parse(&out, secret).expect("re-parse of emitted message");
            again.unknown_mandatory = None;
            assert_eq!(again, m);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Header::parse(data) {
        let p = h.payload(data);
        check_message(p, None);
        check_message(p, Some(SECRET));
    }
    check_message(data, Some(SECRET));
    let _ = sccrq_assigned_tunnel_id(data);

    let now = Instant::now();
    let cfg = Arc::new(TunnelConfig {
        secret: Some(SECRET.to_vec()),
        ..Default::default()
    });
    if let Ok(mut t) = Tunnel::from_sccrq(cfg.clone(), 5, data, [1; 16], now) {
        drain(&mut t, now);
    }
    // A tunnel waiting for SCCCN, then fed the fuzz bytes (also as a
    // follow-up once established).
    if let Ok(mut t) = Tunnel::from_sccrq(cfg, 5, &sccrq(), [1; 16], now) {
        drain(&mut t, now);
        t.handle_datagram(now, data);
        drain(&mut t, now);
        let scccn = ControlMessage::new(MessageType::Scccn)
            .to_payload(None)
            .unwrap_or_default();
        t.handle_datagram(now, &build_control(5, 0, 1, 1, &scccn));
        t.handle_datagram(now, data);
        drain(&mut t, now);
        let later = now + Duration::from_secs(100);
        t.handle_timeout(later);
        drain(&mut t, later);
    }
    let mut lac = LacTunnel::new(Arc::new(LacConfig::default()), 77, [2; 16], now);
    while lac.poll_transmit(now).is_some() {}
    lac.handle_datagram(now, data);
    while lac.poll_transmit(now).is_some() {}
    while lac.poll_event().is_some() {}
});
