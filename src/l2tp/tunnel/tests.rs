use super::*;
use crate::l2tp::avp::push_avp;
use crate::l2tp::wire::build_control;

const T0_CH: [u8; 16] = [0x42; 16];

fn dgram(tid: u16, sid: u16, ns: u16, nr: u16, m: &ControlMessage) -> Vec<u8> {
    build_control(tid, sid, ns, nr, &m.to_payload(Some(b"s3cret")).unwrap())
}

pub(crate) fn sccrq_msg() -> ControlMessage {
    let mut m = ControlMessage::new(MessageType::Sccrq);
    m.protocol_version = Some(ProtocolVersion {
        version: 1,
        revision: 0,
    });
    m.framing_capabilities = Some(3);
    m.host_name = Some(b"lac".to_vec());
    m.assigned_tunnel_id = Some(77);
    m
}

struct Out {
    h: Header,
    m: ControlMessage,
}

fn drain(t: &mut Tunnel, now: Instant) -> Vec<Out> {
    std::iter::from_fn(|| t.poll_transmit(now))
        .map(|d| {
            let h = Header::parse(&d).unwrap();
            let m = ControlMessage::parse(h.payload(&d), Some(b"s3cret")).unwrap();
            Out { h, m }
        })
        .collect()
}

fn events(t: &mut Tunnel) -> Vec<TunnelEvent> {
    std::iter::from_fn(|| t.poll_event()).collect()
}

fn new_tunnel(cfg: TunnelConfig, sccrq: &ControlMessage, now: Instant) -> Tunnel {
    Tunnel::from_sccrq(Arc::new(cfg), 5, &dgram(0, 0, 0, 0, sccrq), T0_CH, now).unwrap()
}

/// An established tunnel; the peer's next Ns is 2, it has acked our SCCRP.
fn established(cfg: TunnelConfig, now: Instant) -> Tunnel {
    let mut t = new_tunnel(cfg, &sccrq_msg(), now);
    let out = drain(&mut t, now);
    assert_eq!(out[0].m.message_type, MessageType::Sccrp);
    t.handle_datagram(
        now,
        &dgram(5, 0, 1, 1, &ControlMessage::new(MessageType::Scccn)),
    );
    assert_eq!(events(&mut t), vec![TunnelEvent::Established]);
    drain(&mut t, now);
    t
}

fn icrq(peer_sid: u16) -> ControlMessage {
    let mut m = ControlMessage::new(MessageType::Icrq);
    m.assigned_session_id = Some(peer_sid);
    m.call_serial_number = Some(1);
    m
}

fn stopccn_result(o: &Out) -> (u16, Option<u16>) {
    assert_eq!(o.m.message_type, MessageType::StopCcn);
    let r = o.m.result_code.clone().unwrap();
    // Error code 0 is the placeholder emitted before a message.
    (r.result, r.error.filter(|e| *e != 0))
}

#[test]
fn sccrp_contents() {
    let now = Instant::now();
    let mut t = new_tunnel(TunnelConfig::default(), &sccrq_msg(), now);
    let out = drain(&mut t, now);
    assert_eq!(out.len(), 1);
    let (h, m) = (&out[0].h, &out[0].m);
    assert_eq!((h.tunnel_id(), h.ns(), h.nr()), (77, Some(0), Some(1)));
    assert_eq!(m.assigned_tunnel_id, Some(5));
    assert_eq!(m.host_name.as_deref(), Some(&b"l2tpns"[..]));
    assert_eq!(m.receive_window_size, Some(16));
    assert_eq!(m.challenge, None);
    assert_eq!(t.peer_hostname(), "lac");
    assert!(!t.is_established());
}

#[test]
fn answers_lac_challenge() {
    let now = Instant::now();
    let cfg = TunnelConfig {
        secret: Some(b"s3cret".to_vec()),
        ..Default::default()
    };
    let mut m = sccrq_msg();
    m.challenge = Some(vec![7; 16]);
    let mut t = new_tunnel(cfg, &m, now);
    let out = drain(&mut t, now);
    assert_eq!(
        out[0].m.challenge_response,
        Some(challenge_response(2, b"s3cret", &[7; 16]))
    );
}

#[test]
fn sccrq_refusals() {
    let now = Instant::now();
    // Challenge but no secret: StopCCN 4.
    let mut m = sccrq_msg();
    m.challenge = Some(vec![1; 16]);
    let mut t = new_tunnel(TunnelConfig::default(), &m, now);
    let out = drain(&mut t, now);
    assert_eq!(stopccn_result(&out[0]), (4, None));
    assert_eq!(out[0].m.assigned_tunnel_id, Some(5));
    assert!(
        matches!(&events(&mut t)[..], [TunnelEvent::Closed { reason: CloseReason::Refused(r) }] if r.code == StopCcnCode::NotAuthorized)
    );
    // Once acked, done.
    t.handle_datagram(now, &build_control(5, 0, 1, 1, &[]));
    assert!(t.is_closed());
    assert!(events(&mut t).is_empty());

    // Wrong protocol version: StopCCN 5.
    let mut m = sccrq_msg();
    m.protocol_version = Some(ProtocolVersion {
        version: 2,
        revision: 0,
    });
    let mut t = new_tunnel(TunnelConfig::default(), &m, now);
    assert_eq!(stopccn_result(&drain(&mut t, now)[0]), (5, None));

    // Unknown mandatory AVP: StopCCN 2/8.
    let mut p = sccrq_msg().to_payload(None).unwrap();
    push_avp(&mut p, true, false, 99, b"x");
    let d = build_control(0, 0, 0, 0, &p);
    let mut t = Tunnel::from_sccrq(Arc::new(TunnelConfig::default()), 5, &d, T0_CH, now).unwrap();
    assert_eq!(stopccn_result(&drain(&mut t, now)[0]), (2, Some(8)));
    assert_eq!(t.stats().unknown_mandatory, 1);
}

#[test]
fn sccrq_errors() {
    let now = Instant::now();
    let cfg = Arc::new(TunnelConfig::default());
    let f = |d: &[u8]| Tunnel::from_sccrq(cfg.clone(), 5, d, T0_CH, now).map(|_| ());
    assert!(matches!(f(&[0xc8, 0x02]), Err(SccrqError::Header(_))));
    assert_eq!(f(&[0, 2, 0, 0, 0, 0]), Err(SccrqError::NotControl));
    let mut m = sccrq_msg();
    m.assigned_tunnel_id = Some(0);
    assert_eq!(f(&dgram(0, 0, 0, 0, &m)), Err(SccrqError::ZeroTunnelId));
    assert_eq!(
        f(&dgram(0, 0, 3, 0, &sccrq_msg())),
        Err(SccrqError::BadNs(3))
    );
    assert_eq!(
        f(&dgram(0, 0, 0, 0, &ControlMessage::new(MessageType::Hello))),
        Err(SccrqError::NotSccrq(MessageType::Hello))
    );
    assert!(matches!(
        f(&build_control(0, 0, 0, 0, &[0x80, 0x08, 0, 0])),
        Err(SccrqError::Message(_))
    ));
}

#[test]
fn sccrq_retransmit_reacked_only() {
    let now = Instant::now();
    let sccrq = dgram(0, 0, 0, 0, &sccrq_msg());
    assert_eq!(sccrq_assigned_tunnel_id(&sccrq), Some(77));
    assert_eq!(
        sccrq_assigned_tunnel_id(&build_control(5, 0, 0, 0, &[])),
        None
    );
    let mut t = new_tunnel(TunnelConfig::default(), &sccrq_msg(), now);
    drain(&mut t, now);
    let later = now + Duration::from_millis(500);
    t.handle_datagram(later, &sccrq);
    let out = drain(&mut t, later);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].m.message_type, MessageType::Zlb);
    assert_eq!(out[0].h.nr(), Some(1));
    assert!(events(&mut t).is_empty());
    assert_eq!(t.stats().channel.duplicates, 1);
    // SCCRP is retransmitted on its own schedule.
    t.handle_timeout(now + Duration::from_secs(1));
    let out = drain(&mut t, now + Duration::from_secs(1));
    assert_eq!(out[0].m.message_type, MessageType::Sccrp);
}

#[test]
fn peer_auth_required() {
    let now = Instant::now();
    let cfg = TunnelConfig {
        secret: Some(b"s3cret".to_vec()),
        require_peer_auth: true,
        ..Default::default()
    };
    // Good response.
    let mut t = new_tunnel(cfg.clone(), &sccrq_msg(), now);
    let out = drain(&mut t, now);
    assert_eq!(out[0].m.challenge, Some(T0_CH.to_vec()));
    let mut scccn = ControlMessage::new(MessageType::Scccn);
    scccn.challenge_response = Some(challenge_response(3, b"s3cret", &T0_CH));
    t.handle_datagram(now, &dgram(5, 0, 1, 1, &scccn));
    assert_eq!(events(&mut t), vec![TunnelEvent::Established]);
    // Missing response.
    let mut t = new_tunnel(cfg.clone(), &sccrq_msg(), now);
    drain(&mut t, now);
    t.handle_datagram(
        now,
        &dgram(5, 0, 1, 1, &ControlMessage::new(MessageType::Scccn)),
    );
    assert_eq!(stopccn_result(&drain(&mut t, now)[0]), (4, None));
    assert!(!t.is_established());
    // Response computed with the wrong message type ID.
    let mut t = new_tunnel(cfg, &sccrq_msg(), now);
    drain(&mut t, now);
    scccn.challenge_response = Some(challenge_response(2, b"s3cret", &T0_CH));
    t.handle_datagram(now, &dgram(5, 0, 1, 1, &scccn));
    assert_eq!(stopccn_result(&drain(&mut t, now)[0]), (4, None));
}

#[test]
fn incoming_call_and_hidden_session_id() {
    let now = Instant::now();
    let cfg = TunnelConfig {
        secret: Some(b"s3cret".to_vec()),
        ..Default::default()
    };
    let mut t = established(cfg, now);
    let mut m = icrq(900);
    m.calling_number = Some(b"555".to_vec());
    m.random_vector = Some(vec![3; 16]);
    m.hidden_avps = vec![AvpType::AssignedSessionId as u16];
    t.handle_datagram(now, &dgram(5, 0, 2, 1, &m));
    let ev = events(&mut t);
    let [TunnelEvent::IncomingCall {
        local_sid,
        peer_sid: 900,
        call,
    }] = &ev[..]
    else {
        panic!("{ev:?}")
    };
    assert_eq!(call.calling_number.as_deref(), Some("555"));
    let out = drain(&mut t, now);
    assert_eq!(out[0].m.message_type, MessageType::Icrp);
    assert_eq!(out[0].h.session_id(), 900);
    assert_eq!(out[0].m.assigned_session_id, Some(*local_sid));
    let local_sid = *local_sid;
    // ICCN with proxy LCP.
    let mut iccn = ControlMessage::new(MessageType::Iccn);
    iccn.tx_connect_speed = Some(1000);
    iccn.framing_type = Some(1);
    iccn.last_sent_lcp_confreq = Some(vec![5, 6, 0, 0, 0, 1]);
    iccn.proxy_authen_type = Some(2);
    iccn.sequencing_required = true;
    t.handle_datagram(now, &dgram(5, local_sid, 3, 2, &iccn));
    let ev = events(&mut t);
    let [TunnelEvent::CallConnected {
        local_sid: l,
        connect,
    }] = &ev[..]
    else {
        panic!()
    };
    assert_eq!(*l, local_sid);
    assert!(connect.sequencing_required);
    assert_eq!(connect.proxy_auth.as_ref().unwrap().authen_type, Some(2));
    assert_eq!(
        connect.last_sent_lcp_confreq.as_deref(),
        Some(&[5, 6, 0, 0, 0, 1][..])
    );
    // ICCN gets a ZLB.
    let out = drain(&mut t, now);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].m.message_type, MessageType::Zlb);
    // CDN from the LAC.
    let mut cdn = ControlMessage::new(MessageType::Cdn);
    cdn.assigned_session_id = Some(900);
    cdn.result_code = Some(ResultCode {
        result: 1,
        error: None,
        message: None,
    });
    cdn.ppp_disconnect_cause = Some(PppDisconnectCause {
        code: 3,
        protocol: 0xc021,
        direction: 1,
        message: vec![],
    });
    t.handle_datagram(now, &dgram(5, local_sid, 4, 2, &cdn));
    let ev = events(&mut t);
    assert!(
        matches!(&ev[..], [TunnelEvent::CallDisconnected { info, .. }]
        if info.by_peer && info.result == 1 && info.ppp_disconnect_cause.as_ref().unwrap().code == 3)
    );
    assert_eq!(t.session_count(), 0);
    assert_eq!(t.session_peer_id(local_sid), None);
}

#[test]
fn max_sessions_refused_with_cdn() {
    let now = Instant::now();
    let mut t = established(
        TunnelConfig {
            max_sessions: 1,
            ..Default::default()
        },
        now,
    );
    t.handle_datagram(now, &dgram(5, 0, 2, 1, &icrq(1)));
    t.handle_datagram(now, &dgram(5, 0, 3, 1, &icrq(2)));
    let out = drain(&mut t, now);
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].m.message_type, MessageType::Cdn);
    assert_eq!(out[1].h.session_id(), 2);
    let r = out[1].m.result_code.clone().unwrap();
    assert_eq!((r.result, r.error), (2, Some(4)));
    let ev = events(&mut t);
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[1], TunnelEvent::CallRefused { peer_sid: 2 });
    assert_eq!(t.stats().sessions_refused, 1);
}

#[test]
fn no_call_while_the_owner_takes_none() {
    let now = Instant::now();
    let mut t = established(TunnelConfig::default(), now);
    let owners = CdnResult::new(CdnCode::GeneralError)
        .with_error(ErrorCode::InsufficientResources)
        .with_message("owner's limit");
    t.set_call_refusal(Some(owners));
    t.handle_datagram(now, &dgram(5, 0, 2, 1, &icrq(1)));
    let out = drain(&mut t, now);
    // A CDN 2/4 straight away: no ICRP, no call.
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].m.message_type, MessageType::Cdn);
    let r = out[0].m.result_code.clone().unwrap();
    assert_eq!((r.result, r.error), (2, Some(4)));
    assert_eq!(r.message.as_deref(), Some(&b"owner's limit"[..]));
    assert_eq!(events(&mut t), [TunnelEvent::CallRefused { peer_sid: 1 }]);
    assert_eq!(t.session_count(), 0);
    t.set_call_refusal(None);
    t.handle_datagram(now, &dgram(5, 0, 3, 1, &icrq(2)));
    assert!(matches!(
        events(&mut t)[..],
        [TunnelEvent::IncomingCall { peer_sid: 2, .. }]
    ));
}

#[test]
fn unknown_mandatory_in_session_message_gives_cdn() {
    let now = Instant::now();
    let mut t = established(TunnelConfig::default(), now);
    t.handle_datagram(now, &dgram(5, 0, 2, 1, &icrq(9)));
    let TunnelEvent::IncomingCall { local_sid, .. } = events(&mut t)[0].clone() else {
        panic!()
    };
    drain(&mut t, now);
    let mut p = ControlMessage::new(MessageType::Iccn)
        .to_payload(None)
        .unwrap();
    push_avp(&mut p, true, false, 250, b"?");
    t.handle_datagram(now, &build_control(5, local_sid, 3, 2, &p));
    let out = drain(&mut t, now);
    assert_eq!(out[0].m.message_type, MessageType::Cdn);
    let r = out[0].m.result_code.clone().unwrap();
    assert_eq!((r.result, r.error), (2, Some(8)));
    assert!(
        matches!(&events(&mut t)[..], [TunnelEvent::CallDisconnected { info, .. }] if !info.by_peer && info.error == Some(8))
    );
    assert!(t.is_established());
    // ICRQ with unknown M AVP: CDN without a session.
    let mut p = icrq(10).to_payload(None).unwrap();
    push_avp(&mut p, true, false, 250, b"?");
    t.handle_datagram(now, &build_control(5, 0, 4, 3, &p));
    let out = drain(&mut t, now);
    assert_eq!(out[0].m.message_type, MessageType::Cdn);
    assert_eq!(out[0].h.session_id(), 10);
    assert_eq!(t.session_count(), 0);
}

#[test]
fn unknown_mandatory_in_tunnel_message_gives_stopccn() {
    let now = Instant::now();
    let mut t = established(TunnelConfig::default(), now);
    let mut p = ControlMessage::new(MessageType::Hello)
        .to_payload(None)
        .unwrap();
    push_avp(&mut p, true, false, 250, b"?");
    t.handle_datagram(now, &build_control(5, 0, 2, 1, &p));
    assert_eq!(stopccn_result(&drain(&mut t, now)[0]), (2, Some(8)));
    assert!(matches!(
        &events(&mut t)[..],
        [TunnelEvent::Closed {
            reason: CloseReason::Refused(_)
        }]
    ));
    // Unknown message type with the M bit.
    let mut t = established(TunnelConfig::default(), now);
    t.handle_datagram(
        now,
        &build_control(5, 0, 2, 1, &[0x80, 8, 0, 0, 0, 0, 0, 99]),
    );
    assert_eq!(stopccn_result(&drain(&mut t, now)[0]), (2, Some(8)));
    // ... and without: acked and ignored.
    let mut t = established(TunnelConfig::default(), now);
    t.handle_datagram(
        now,
        &build_control(5, 0, 2, 1, &[0x00, 8, 0, 0, 0, 0, 0, 99]),
    );
    let out = drain(&mut t, now);
    assert_eq!(out[0].m.message_type, MessageType::Zlb);
    assert!(t.is_established());
}

#[test]
fn misc_messages() {
    let now = Instant::now();
    let mut t = established(TunnelConfig::default(), now);
    // OCRQ: CDN 5.
    let mut o = ControlMessage::new(MessageType::Ocrq);
    o.assigned_session_id = Some(33);
    t.handle_datagram(now, &dgram(5, 0, 2, 1, &o));
    let out = drain(&mut t, now);
    assert_eq!(out[0].m.message_type, MessageType::Cdn);
    assert_eq!(out[0].h.session_id(), 33);
    assert_eq!(out[0].m.result_code.as_ref().unwrap().result, 5);
    // WEN, SLI, HELLO, CDN for unknown session: acked, ignored.
    let mut wen = ControlMessage::new(MessageType::Wen);
    wen.call_errors = Some(Default::default());
    let mut sli = ControlMessage::new(MessageType::Sli);
    sli.accm = Some(Default::default());
    let mut cdn = ControlMessage::new(MessageType::Cdn);
    cdn.assigned_session_id = Some(4);
    for (i, m) in [wen, sli, ControlMessage::new(MessageType::Hello), cdn]
        .iter()
        .enumerate()
    {
        t.handle_datagram(now, &dgram(5, 1234, 3 + i as u16, 2, m));
        let out = drain(&mut t, now);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].m.message_type, MessageType::Zlb);
    }
    assert_eq!(t.stats().unknown_session, 1);
    assert!(events(&mut t).is_empty());
    assert!(t.is_established());
}

#[test]
fn malformed_dropped_unacked() {
    let now = Instant::now();
    let mut t = established(TunnelConfig::default(), now);
    let bad: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xc8],
        vec![0xc8, 0x03, 0, 12, 0, 5, 0, 0, 0, 2, 0, 1],
        build_control(5, 0, 2, 1, &[0x80, 0x20, 0, 0, 0, 6]),
        build_control(5, 0, 2, 1, &[0x80, 0x04, 0, 0]),
    ];
    for d in &bad {
        t.handle_datagram(now, d);
    }
    assert_eq!(t.stats().malformed, bad.len() as u64);
    t.handle_datagram(now, &[0, 2, 0, 5, 0, 1, 0xff, 3]);
    assert_eq!(t.stats().not_control, 1);
    assert!(drain(&mut t, now).is_empty());
    assert!(t.is_established());
}

#[test]
fn peer_stopccn_acked_and_lingers() {
    let now = Instant::now();
    let mut t = established(TunnelConfig::default(), now);
    t.handle_datagram(now, &dgram(5, 0, 2, 1, &icrq(9)));
    events(&mut t);
    drain(&mut t, now);
    let mut s = ControlMessage::new(MessageType::StopCcn);
    s.assigned_tunnel_id = Some(77);
    s.result_code = Some(ResultCode {
        result: 6,
        error: None,
        message: None,
    });
    let d = dgram(5, 0, 3, 2, &s);
    t.handle_datagram(now, &d);
    assert_eq!(drain(&mut t, now)[0].m.message_type, MessageType::Zlb);
    assert!(
        matches!(&events(&mut t)[..], [TunnelEvent::Closed { reason: CloseReason::PeerStopCcn { result: Some(r) } }] if r.result == 6)
    );
    assert_eq!(t.session_count(), 0);
    // Retransmitted StopCCN is re-acked.
    let later = now + Duration::from_secs(2);
    t.handle_datagram(later, &d);
    assert_eq!(drain(&mut t, later)[0].m.message_type, MessageType::Zlb);
    assert!(!t.is_closed());
    assert!(t.is_lingering());
    let until = t.poll_timeout().unwrap();
    assert_eq!(until, now + Duration::from_secs(31));
    t.handle_timeout(until);
    assert!(t.is_closed());
    assert!(events(&mut t).is_empty());
}

#[test]
fn local_close_reports_when_acked() {
    let now = Instant::now();
    let mut t = established(TunnelConfig::default(), now);
    t.close(
        now,
        StopCcnResult::new(StopCcnCode::ShuttingDown).with_message("bye"),
    );
    let out = drain(&mut t, now);
    assert_eq!(stopccn_result(&out[0]), (6, None));
    assert!(events(&mut t).is_empty());
    t.handle_datagram(now, &build_control(5, 0, 2, 2, &[]));
    assert!(t.is_closed());
    assert!(
        matches!(&events(&mut t)[..], [TunnelEvent::Closed { reason: CloseReason::Local(r) }] if r.message.as_deref() == Some("bye"))
    );
}

#[test]
fn local_close_gives_up() {
    let now = Instant::now();
    let mut t = established(TunnelConfig::default(), now);
    t.close(now, StopCcnResult::new(StopCcnCode::ClearConnection));
    drain(&mut t, now);
    while let Some(at) = t.poll_timeout() {
        t.handle_timeout(at);
        drain(&mut t, at);
    }
    assert!(t.is_closed());
    assert!(matches!(
        &events(&mut t)[..],
        [TunnelEvent::Closed {
            reason: CloseReason::Local(_)
        }]
    ));
}

#[test]
fn out_of_order_session_messages() {
    let now = Instant::now();
    let mut t = established(TunnelConfig::default(), now);
    // ICCN (Ns 3) arrives before its ICRQ (Ns 2): queued, then both in order.
    let mut iccn = ControlMessage::new(MessageType::Iccn);
    iccn.tx_connect_speed = Some(1);
    iccn.framing_type = Some(1);
    t.handle_datagram(now, &dgram(5, 1, 3, 1, &iccn));
    assert!(events(&mut t).is_empty());
    t.handle_datagram(now, &dgram(5, 0, 2, 1, &icrq(9)));
    let ev = events(&mut t);
    assert!(
        matches!(
            &ev[..],
            [
                TunnelEvent::IncomingCall { local_sid: 1, .. },
                TunnelEvent::CallConnected { local_sid: 1, .. }
            ]
        ),
        "{ev:?}"
    );
}
