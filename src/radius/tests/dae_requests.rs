//! Disconnect and CoA requests (RFC 5176): parsing, forgeries, responses.

use super::*;

/// A Disconnect/CoA-Request built by hand: MA over a zero authenticator,
/// then Request Authenticator = MD5(packet with zero auth | secret).
pub(super) fn dae_request(code: u8, list: &[(u8, Vec<u8>)], ma: bool, secret: &[u8]) -> Vec<u8> {
    let mut p = reply(&[0u8; 20], code, &[], false, secret);
    p.truncate(20);
    p[4..20].fill(0);
    if ma {
        p.extend_from_slice(&[80, 18]);
        p.extend_from_slice(&[0; 16]);
    }
    for (t, v) in list {
        p.push(*t);
        p.push(2 + v.len() as u8);
        p.extend_from_slice(v);
    }
    p[1] = 77;
    let len = p.len() as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    if ma {
        let m = hmac_md5(&p, &[0; 16], 20, secret);
        p[22..38].copy_from_slice(&m);
    }
    let ra = md5_of(&[&p[..4], &[0; 16], &p[20..], secret]);
    p[4..20].copy_from_slice(&ra);
    p
}

pub(super) fn disconnect_bytes() -> Vec<u8> {
    dae_request(
        40,
        &[
            (1, b"alice@isp".to_vec()),
            (44, b"0000002A5F000000".to_vec()),
            (8, vec![100, 64, 0, 9]),
            (5, u32v(42)),
            (4, vec![192, 0, 2, 1]),
            (32, b"lns1".to_vec()),
        ],
        true,
        SECRET,
    )
}

pub(super) fn coa_bytes() -> Vec<u8> {
    dae_request(
        43,
        &[
            (1, b"alice@isp".to_vec()),
            (27, u32v(7200)),
            (28, u32v(60)),
            (11, b"web.in".to_vec()),
            vsa(9, 1, b"throttle=1000"),
            (6, u32v(17)),
            (99, b"::/0".to_vec()),
            vsa(4242, 1, b"x"),
        ],
        true,
        SECRET,
    )
}

#[test]
fn dae_disconnect_parses() {
    let r = parse_dae_request(&disconnect_bytes(), SECRET, true).unwrap();
    assert_eq!(r.kind, DaeKind::Disconnect);
    assert_eq!(r.identifier, 77);
    assert_eq!(r.user_name.as_deref(), Some("alice@isp"));
    assert_eq!(r.acct_session_id.as_deref(), Some("0000002A5F000000"));
    assert_eq!(r.framed_ip, Some(Ipv4Addr::new(100, 64, 0, 9)));
    assert_eq!(r.nas_port, Some(42));
    assert_eq!(r.nas_ip, Some(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(r.nas_identifier.as_deref(), Some("lns1"));
    assert!(r.unsupported_attributes.is_empty());
    assert!(r.invalid_attributes.is_empty());
}

#[test]
fn dae_coa_parses_with_unsupported_attributes() {
    let r = parse_dae_request(&coa_bytes(), SECRET, true).unwrap();
    assert_eq!(r.kind, DaeKind::Coa);
    assert_eq!(r.session_timeout, Some(7200));
    assert_eq!(r.idle_timeout, Some(60));
    assert_eq!(r.filter_id, vec!["web.in".to_string()]);
    assert_eq!(
        r.cisco_avpairs,
        vec![("throttle".to_string(), "1000".to_string())]
    );
    assert_eq!(r.service_type, Some(17));
    assert_eq!(r.unsupported_attributes, vec![26, 99]);
}

#[test]
fn dae_rejects_forgeries() {
    let good = disconnect_bytes();
    assert_eq!(
        parse_dae_request(&good, b"other", true),
        Err(DaeError::BadAuthenticator)
    );
    let mut tampered = good.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert_eq!(
        parse_dae_request(&tampered, SECRET, true),
        Err(DaeError::BadAuthenticator)
    );
    let no_ma = dae_request(40, &[(1, b"bob".to_vec())], false, SECRET);
    assert_eq!(
        parse_dae_request(&no_ma, SECRET, true),
        Err(DaeError::MissingMessageAuthenticator)
    );
    assert!(parse_dae_request(&no_ma, SECRET, false).is_ok());
    // MA wrong but Request Authenticator recomputed over it.
    let mut bad_ma = good.clone();
    bad_ma[30] ^= 1;
    let ra = md5_of(&[&bad_ma[..4], &[0; 16], &bad_ma[20..], SECRET]);
    bad_ma[4..20].copy_from_slice(&ra);
    assert_eq!(
        parse_dae_request(&bad_ma, SECRET, false),
        Err(DaeError::BadMessageAuthenticator)
    );
    assert_eq!(
        parse_dae_request(&good[..19], SECRET, true),
        Err(DaeError::Truncated)
    );
    assert_eq!(
        parse_dae_request(&good[..good.len() - 1], SECRET, true),
        Err(DaeError::Truncated)
    );
    let mut short = good.clone();
    short[2..4].copy_from_slice(&10u16.to_be_bytes());
    assert_eq!(
        parse_dae_request(&short, SECRET, true),
        Err(DaeError::BadLength(10))
    );
    let acct = encode_accounting_request(&acct_request(AcctStatus::Start), 1, 0, &cfg()).unwrap();
    assert_eq!(
        parse_dae_request(&acct, SECRET, true),
        Err(DaeError::UnexpectedCode(4))
    );
}

#[test]
fn dae_invalid_attribute_values_are_reported() {
    let b = dae_request(40, &[(8, vec![1, 2, 3]), (5, u32v(1))], true, SECRET);
    let r = parse_dae_request(&b, SECRET, true).unwrap();
    assert_eq!(r.framed_ip, None);
    assert_eq!(r.invalid_attributes, vec![8]);
    assert_eq!(r.nas_port, Some(1));
}

#[test]
fn dae_responses_verify() {
    for (bytes, ack, cause, code) in [
        (disconnect_bytes(), true, None, 41u8),
        (
            disconnect_bytes(),
            false,
            Some(dae::ERROR_CAUSE_SESSION_CONTEXT_NOT_FOUND),
            42,
        ),
        (coa_bytes(), true, None, 44),
        (
            coa_bytes(),
            false,
            Some(dae::ERROR_CAUSE_UNSUPPORTED_ATTRIBUTE),
            45,
        ),
    ] {
        let req = parse_dae_request(&bytes, SECRET, true).unwrap();
        let resp = build_dae_response(&bytes, &req, ack, cause, SECRET);
        assert_eq!(resp[0], code);
        assert_eq!(resp[1], 77);
        assert!(Packet::is_authentic_response(&resp, &bytes, SECRET));
        let req_auth: [u8; 16] = bytes[4..20].try_into().unwrap();
        assert_eq!(resp[20], 80);
        assert_eq!(&resp[22..38], &hmac_md5(&resp, &req_auth, 20, SECRET));
        let p = Packet::decode(&resp, SECRET).unwrap();
        assert_eq!(
            radius::core::rfc3576::lookup_error_cause(&p).and_then(Result::ok),
            cause
        );
    }
}
