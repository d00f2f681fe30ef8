use super::*;
use crate::l2tp::avp::push_u16;

fn sccrq() -> ControlMessage {
    ControlMessage {
        message_type: MessageType::Sccrq,
        protocol_version: Some(ProtocolVersion {
            version: 1,
            revision: 0,
        }),
        framing_capabilities: Some(3),
        host_name: Some(b"lac".to_vec()),
        assigned_tunnel_id: Some(42),
        receive_window_size: Some(8),
        ..Default::default()
    }
}

#[test]
fn round_trip_sccrq() {
    let m = sccrq();
    let p = m.to_payload(None).unwrap();
    assert_eq!(ControlMessage::parse(&p, None).unwrap(), m);
}

#[test]
fn round_trip_everything() {
    let m = ControlMessage {
        message_type: MessageType::Iccn,
        result_code: Some(ResultCode {
            result: 2,
            error: Some(8),
            message: Some(b"x".to_vec()),
        }),
        protocol_version: Some(ProtocolVersion {
            version: 1,
            revision: 0,
        }),
        framing_capabilities: Some(1),
        bearer_capabilities: Some(2),
        tie_breaker: Some([1; 8]),
        firmware_revision: Some(0x100),
        host_name: Some(b"h".to_vec()),
        vendor_name: Some(b"v".to_vec()),
        assigned_tunnel_id: Some(3),
        receive_window_size: Some(4),
        challenge: Some(vec![9; 16]),
        q931_cause: Some(Q931Cause {
            cause: 16,
            msg: 1,
            advisory: b"adv".to_vec(),
        }),
        challenge_response: Some([7; 16]),
        assigned_session_id: Some(5),
        call_serial_number: Some(6),
        minimum_bps: Some(7),
        maximum_bps: Some(8),
        bearer_type: Some(1),
        framing_type: Some(3),
        called_number: Some(b"123".to_vec()),
        calling_number: Some(b"456".to_vec()),
        sub_address: Some(b"s".to_vec()),
        tx_connect_speed: Some(1_000_000),
        physical_channel_id: Some(11),
        initial_received_lcp_confreq: Some(vec![1, 4, 5, 0xdc]),
        last_sent_lcp_confreq: Some(vec![5, 6, 1, 2, 3, 4]),
        last_received_lcp_confreq: Some(vec![3, 4, 0xc0, 0x23]),
        proxy_authen_type: Some(2),
        proxy_authen_name: Some(b"user".to_vec()),
        proxy_authen_challenge: Some(vec![1; 16]),
        proxy_authen_id: Some(9),
        proxy_authen_response: Some(vec![2; 16]),
        call_errors: Some(CallErrors {
            crc: 1,
            framing: 2,
            hardware_overruns: 3,
            buffer_overruns: 4,
            timeout: 5,
            alignment: 6,
        }),
        accm: Some(Accm {
            send: 0xffff_ffff,
            recv: 0,
        }),
        random_vector: Some(vec![0xab; 16]),
        private_group_id: Some(b"g".to_vec()),
        rx_connect_speed: Some(2_000_000),
        sequencing_required: true,
        ppp_disconnect_cause: Some(PppDisconnectCause {
            code: 3,
            protocol: 0xc021,
            direction: 1,
            message: b"bye".to_vec(),
        }),
        hidden_avps: vec![14, 30, 33],
        unknown_mandatory: None,
    };
    let p = m.to_payload(Some(b"secret")).unwrap();
    assert_eq!(ControlMessage::parse(&p, Some(b"secret")).unwrap(), m);
    assert_eq!(
        ControlMessage::parse(&p, None),
        Err(MessageError::HiddenWithoutSecret(14))
    );
    // Wrong secret: garbage or a typed error, never a panic.
    let _ = ControlMessage::parse(&p, Some(b"wrong"));
    // Hiding without a secret is refused.
    assert_eq!(m.to_payload(None), Err(EmitError::CannotHide(14)));
}

#[test]
fn zlb() {
    let m = ControlMessage::parse(&[], None).unwrap();
    assert_eq!(m.message_type, MessageType::Zlb);
    assert!(m.to_payload(None).unwrap().is_empty());
}

#[test]
fn unknown_avps() {
    let mut p = sccrq().to_payload(None).unwrap();
    // Unknown non-mandatory: ignored.
    push_avp(&mut p, false, false, 200, b"zz");
    let m = ControlMessage::parse(&p, None).unwrap();
    assert_eq!(m.unknown_mandatory, None);
    // Vendor-specific mandatory: flagged.
    let mut q = p.clone();
    q.extend_from_slice(&[0x80, 0x08, 0x00, 0x09, 0x00, 0x01, 0, 0]);
    assert_eq!(
        ControlMessage::parse(&q, None).unwrap().unknown_mandatory,
        Some(1)
    );
    // Unknown IETF mandatory: flagged, first one wins.
    push_avp(&mut p, true, false, 45, b"");
    push_avp(&mut p, true, false, 20, b"");
    assert_eq!(
        ControlMessage::parse(&p, None).unwrap().unknown_mandatory,
        Some(45)
    );
    // Unknown message type with M bit.
    let mut u = Vec::new();
    push_message_type(&mut u, 99);
    let m = ControlMessage::parse(&u, None).unwrap();
    assert_eq!(m.message_type, MessageType::Unknown(99));
    assert_eq!(m.unknown_mandatory, Some(0));
}

#[test]
fn malformed() {
    // Not starting with Message Type.
    let mut p = Vec::new();
    push_u16(&mut p, true, AvpType::AssignedTunnelId, 1);
    assert_eq!(
        ControlMessage::parse(&p, None),
        Err(MessageError::MissingMessageType)
    );
    // Message Type of wrong length.
    assert_eq!(
        ControlMessage::parse(&[0x80, 0x07, 0, 0, 0, 0, 1], None),
        Err(MessageError::MissingMessageType)
    );
    // Missing Assigned Tunnel ID.
    let mut m = sccrq();
    m.assigned_tunnel_id = None;
    let p = m.to_payload(None).unwrap();
    assert_eq!(
        ControlMessage::parse(&p, None),
        Err(MessageError::MissingAvp {
            message: MessageType::Sccrq,
            attr: AvpType::AssignedTunnelId
        })
    );
    // Bad length of a known AVP.
    let mut p = Vec::new();
    push_message_type(&mut p, 10);
    push_avp(&mut p, true, false, 14, &[1, 2, 3]);
    assert_eq!(
        ControlMessage::parse(&p, None),
        Err(MessageError::BadAvpLength { attr: 14, len: 3 })
    );
    // Result code of length 3.
    let mut p = Vec::new();
    push_message_type(&mut p, 4);
    push_avp(&mut p, true, false, 1, &[0, 1, 2]);
    assert!(matches!(
        ControlMessage::parse(&p, None),
        Err(MessageError::BadAvpLength { .. })
    ));
    // Hidden AVP without Random Vector.
    let mut p = Vec::new();
    push_message_type(&mut p, 10);
    push_avp(&mut p, true, true, 14, &[1, 2, 3, 4]);
    assert_eq!(
        ControlMessage::parse(&p, Some(b"s")),
        Err(MessageError::HiddenWithoutRandomVector(14))
    );
    // AVP overrun.
    let mut p = Vec::new();
    push_message_type(&mut p, 6);
    p.extend_from_slice(&[0x80, 0x20, 0, 0, 0, 7]);
    assert!(matches!(
        ControlMessage::parse(&p, None),
        Err(MessageError::Avp(_))
    ));
}

proptest::proptest! {
    /// Whatever parses re-emits to the same representation.
    #[test]
    fn parse_emit_parse(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
                        prefix in 0usize..4) {
        // Bias towards a valid Message Type + Random Vector prefix.
        let mut p = Vec::new();
        if prefix > 0 {
            push_message_type(&mut p, 10);
        }
        if prefix > 1 {
            push_avp(&mut p, true, false, 36, &[1; 16]);
        }
        p.extend_from_slice(&bytes);
        for secret in [None, Some(&b"k"[..])] {
            if let Ok(mut m) = ControlMessage::parse(&p, secret) {
                m.unknown_mandatory = None;
                let out = m.to_payload(secret).unwrap();
                let mut again = ControlMessage::parse(&out, secret).unwrap();
                again.unknown_mandatory = None;
                proptest::prop_assert_eq!(again, m);
            }
        }
    }
}

#[test]
fn scope() {
    assert!(MessageType::Icrq.is_session_scoped());
    assert!(MessageType::Cdn.is_session_scoped());
    assert!(!MessageType::Scccn.is_session_scoped());
    assert!(!MessageType::Hello.is_session_scoped());
    for v in 0..20 {
        let t = MessageType::from_u16(v);
        if v != 0 {
            assert_eq!(t.to_u16(), v);
        }
    }
}
