//! End-to-end tests of the RADIUS core: encodings checked with radius-rs
//! decoding and independent MD5/HMAC computations, replies built by hand,
//! and the client state machine driven with hand-made Instants.

mod dae_requests;
mod robustness;
mod timers;

use super::authenticator::HEADER_LEN;
use super::request::{encode_access_request, encode_accounting_request, split_gigawords};
use super::*;
use crate::credentials::Credentials;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use radius::core::packet::Packet;
use radius::core::{rfc2865, rfc2866, rfc2869};
use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &[u8] = b"testing123";
const AUTH: [u8; 16] = [0x11; 16];

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn cfg() -> ClientConfig {
    ClientConfig {
        servers: vec![
            ServerAddrs::new(addr("10.0.0.1:1812")),
            ServerAddrs::new(addr("10.0.0.2:1812")),
        ],
        secret: SECRET.to_vec(),
        nas_ip: Ipv4Addr::new(192, 0, 2, 1),
        nas_identifier: "lns1".into(),
        ..ClientConfig::default()
    }
}

fn pap_request() -> AccessRequest {
    AccessRequest {
        user_name: "alice@isp".into(),
        credentials: Credentials::Pap {
            password: b"arctangent".to_vec(),
        },
        nas_port: 42,
        calling_station_id: Some("0123456789".into()),
        called_station_id: Some("lac1".into()),
        acct_session_id: "0000002A5F000000".into(),
        framed_ip: None,
    }
}

fn acct_request(status: AcctStatus) -> AccountingRequest {
    AccountingRequest {
        status,
        user_name: Some("alice@isp".into()),
        acct_session_id: "0000002A5F000000".into(),
        nas_port: Some(42),
        framed_ip: Some(Ipv4Addr::new(100, 64, 0, 9)),
        session_time: Some(600),
        input_octets: (5u64 << 32) | 7,
        output_octets: 1234,
        input_packets: 10,
        output_packets: 20,
        terminate_cause: Some(terminate_cause::ADMIN_RESET),
        class: vec![b"class-a".to_vec()],
        extra: vec![ExtraAttribute::cisco_avpair("disc-cause-ext=1000")],
        ..AccountingRequest::default()
    }
}

/// Independent HMAC-MD5 over `bytes` with `auth` in the header and the
/// 16 MA value bytes at `off+2` zeroed.
fn hmac_md5(bytes: &[u8], auth: &[u8; 16], off: usize, secret: &[u8]) -> [u8; 16] {
    let mut copy = bytes.to_vec();
    copy[4..20].copy_from_slice(auth);
    copy[off + 2..off + 18].fill(0);
    let mut m = Hmac::<Md5>::new_from_slice(secret).unwrap();
    m.update(&copy);
    m.finalize().into_bytes().into()
}

fn md5_of(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Attributes (type, value) of a packet, by hand.
fn attrs(pkt: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = vec![];
    let mut i = HEADER_LEN;
    while i < pkt.len() {
        let l = pkt[i + 1] as usize;
        out.push((pkt[i], pkt[i + 2..i + l].to_vec()));
        i += l;
    }
    out
}

fn u32v(v: u32) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

fn vsa(vendor: u32, typ: u8, v: &[u8]) -> (u8, Vec<u8>) {
    let mut b = vendor.to_be_bytes().to_vec();
    b.push(typ);
    b.push(2 + v.len() as u8);
    b.extend_from_slice(v);
    (26, b)
}

/// A server's reply built by hand: MA (optional, first) then `attrs`,
/// Response Authenticator over the request's authenticator.
fn reply(request: &[u8], code: u8, list: &[(u8, Vec<u8>)], ma: bool, secret: &[u8]) -> Vec<u8> {
    let mut p = vec![code, request[1], 0, 0];
    p.extend_from_slice(&request[4..20]);
    if ma {
        p.extend_from_slice(&[80, 18]);
        p.extend_from_slice(&[0; 16]);
    }
    for (t, v) in list {
        p.push(*t);
        p.push(2 + v.len() as u8);
        p.extend_from_slice(v);
    }
    let len = p.len() as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    let req_auth: [u8; 16] = request[4..20].try_into().unwrap();
    if ma {
        let m = hmac_md5(&p, &req_auth, 20, secret);
        p[22..38].copy_from_slice(&m);
    }
    let ra = md5_of(&[&p[..4], &req_auth, &p[20..], secret]);
    p[4..20].copy_from_slice(&ra);
    p
}

fn client(c: ClientConfig) -> (RadiusClient, Instant) {
    let t0 = Instant::now();
    (RadiusClient::new(Arc::new(c), t0), t0)
}

// ---------- encoding ----------

#[test]
fn access_request_pap_layout_and_integrity() {
    let c = cfg();
    let bytes = encode_access_request(&pap_request(), 7, AUTH, &c).unwrap();
    assert_eq!(bytes[0], 1);
    assert_eq!(bytes[1], 7);
    assert_eq!(
        u16::from_be_bytes([bytes[2], bytes[3]]) as usize,
        bytes.len()
    );
    assert_eq!(&bytes[4..20], &AUTH);
    let a = attrs(&bytes);
    // Message-Authenticator first, verified independently.
    assert_eq!(a[0].0, 80);
    assert_eq!(a[0].1, hmac_md5(&bytes, &AUTH, 20, SECRET).to_vec());
    let types: Vec<u8> = a.iter().map(|x| x.0).collect();
    assert_eq!(types, vec![80, 1, 2, 4, 32, 5, 61, 6, 7, 30, 31, 44]);
    // radius-rs agrees on every value, including the hidden password.
    let p = Packet::decode(&bytes, SECRET).unwrap();
    assert_eq!(rfc2865::lookup_user_name(&p).unwrap().unwrap(), "alice@isp");
    assert_eq!(
        rfc2865::lookup_user_password(&p).unwrap().unwrap(),
        b"arctangent"
    );
    assert_eq!(
        rfc2865::lookup_nas_ip_address(&p).unwrap().unwrap(),
        c.nas_ip
    );
    assert_eq!(rfc2865::lookup_nas_identifier(&p).unwrap().unwrap(), "lns1");
    assert_eq!(rfc2865::lookup_nas_port(&p).unwrap().unwrap(), 42);
    assert_eq!(rfc2865::lookup_nas_port_type(&p).unwrap().unwrap(), 5);
    assert_eq!(rfc2865::lookup_service_type(&p).unwrap().unwrap(), 2);
    assert_eq!(rfc2865::lookup_framed_protocol(&p).unwrap().unwrap(), 1);
    assert_eq!(
        rfc2865::lookup_calling_station_id(&p).unwrap().unwrap(),
        "0123456789"
    );
    assert_eq!(
        rfc2865::lookup_called_station_id(&p).unwrap().unwrap(),
        "lac1"
    );
    assert_eq!(
        rfc2866::lookup_acct_session_id(&p).unwrap().unwrap(),
        "0000002A5F000000"
    );
    // PAP hiding by hand: c1 = p1 xor MD5(secret | RA).
    let b1 = md5_of(&[SECRET, &AUTH]);
    let mut p1 = [0u8; 16];
    p1[..10].copy_from_slice(b"arctangent");
    let c1: Vec<u8> = p1.iter().zip(b1).map(|(x, y)| x ^ y).collect();
    assert_eq!(a[2].1, c1);
}

#[test]
fn pap_hiding_matches_rfc2865_example() {
    // RFC 2865 §7.1: secret "xyzzy5461", "arctangent" under this authenticator.
    let auth = [
        0x0f, 0x40, 0x3f, 0x94, 0x73, 0x97, 0x80, 0x57, 0xbd, 0x83, 0xd5, 0xcb, 0x98, 0xf4, 0x22,
        0x7a,
    ];
    let c = ClientConfig {
        secret: b"xyzzy5461".to_vec(),
        ..cfg()
    };
    let bytes = encode_access_request(&pap_request(), 0, auth, &c).unwrap();
    let pw = attrs(&bytes).into_iter().find(|a| a.0 == 2).unwrap().1;
    assert_eq!(
        pw,
        vec![
            0x0d, 0xbe, 0x70, 0x8d, 0x93, 0xd4, 0x13, 0xce, 0x31, 0x96, 0xe4, 0x3f, 0x78, 0x2a,
            0x0a, 0xee
        ]
    );
}

#[test]
fn long_password_and_huge_values_are_clamped() {
    let mut r = pap_request();
    r.credentials = Credentials::Pap {
        password: vec![b'x'; 300],
    };
    r.user_name = "u".repeat(400);
    let bytes = encode_access_request(&r, 1, AUTH, &cfg()).unwrap();
    let a = attrs(&bytes);
    assert_eq!(a.iter().find(|x| x.0 == 2).unwrap().1.len(), 128);
    assert_eq!(a.iter().find(|x| x.0 == 1).unwrap().1.len(), 253);
    let mut acct = acct_request(AcctStatus::Stop);
    acct.extra = vec![ExtraAttribute::cisco_avpair(&("k=".to_string() + &"v".repeat(300))); 40];
    let bytes = encode_accounting_request(&acct, 1, 0, &cfg()).unwrap();
    assert!(bytes.len() <= 4096);
    assert!(Packet::decode(&bytes, SECRET).is_ok());
}

#[test]
fn access_request_chap() {
    let mut r = pap_request();
    r.credentials = Credentials::Chap {
        id: 9,
        challenge: vec![0xAB; 16],
        response: vec![0xCD; 16],
    };
    r.framed_ip = Some(Ipv4Addr::new(100, 64, 1, 1));
    let bytes = encode_access_request(&r, 3, AUTH, &cfg()).unwrap();
    let p = Packet::decode(&bytes, SECRET).unwrap();
    let mut want = vec![9u8];
    want.extend([0xCD; 16]);
    assert_eq!(rfc2865::lookup_chap_password(&p).unwrap(), want);
    assert_eq!(rfc2865::lookup_chap_challenge(&p).unwrap(), vec![0xAB; 16]);
    assert!(rfc2865::lookup_user_password(&p).is_none());
    assert_eq!(
        rfc2865::lookup_framed_ip_address(&p).unwrap().unwrap(),
        Ipv4Addr::new(100, 64, 1, 1)
    );
}

#[test]
fn accounting_request_stop_and_gigawords() {
    assert_eq!(split_gigawords((5u64 << 32) | 7), (7, 5));
    assert_eq!(split_gigawords(u64::MAX), (u32::MAX, u32::MAX));
    let bytes = encode_accounting_request(&acct_request(AcctStatus::Stop), 9, 4, &cfg()).unwrap();
    // Request Authenticator = MD5(header with zero auth | attrs | secret).
    let ra = md5_of(&[&bytes[..4], &[0; 16], &bytes[20..], SECRET]);
    assert_eq!(&bytes[4..20], &ra);
    assert!(Packet::is_authentic_request(&bytes, SECRET));
    // MA first, computed over a zero authenticator.
    assert_eq!(bytes[20], 80);
    assert_eq!(&bytes[22..38], &hmac_md5(&bytes, &[0; 16], 20, SECRET));
    let p = Packet::decode(&bytes, SECRET).unwrap();
    assert_eq!(rfc2866::lookup_acct_status_type(&p).unwrap().unwrap(), 2);
    assert_eq!(rfc2866::lookup_acct_delay_time(&p).unwrap().unwrap(), 4);
    assert_eq!(rfc2866::lookup_acct_input_octets(&p).unwrap().unwrap(), 7);
    assert_eq!(
        rfc2869::lookup_acct_input_gigawords(&p).unwrap().unwrap(),
        5
    );
    assert_eq!(
        rfc2866::lookup_acct_output_octets(&p).unwrap().unwrap(),
        1234
    );
    assert_eq!(
        rfc2869::lookup_acct_output_gigawords(&p).unwrap().unwrap(),
        0
    );
    assert_eq!(rfc2866::lookup_acct_input_packets(&p).unwrap().unwrap(), 10);
    assert_eq!(
        rfc2866::lookup_acct_output_packets(&p).unwrap().unwrap(),
        20
    );
    assert_eq!(rfc2866::lookup_acct_session_time(&p).unwrap().unwrap(), 600);
    assert_eq!(
        rfc2866::lookup_acct_terminate_cause(&p).unwrap().unwrap(),
        6
    );
    assert_eq!(rfc2865::lookup_all_class(&p), vec![b"class-a".to_vec()]);
    assert_eq!(
        rfc2865::lookup_framed_ip_address(&p).unwrap().unwrap(),
        Ipv4Addr::new(100, 64, 0, 9)
    );
    assert_eq!(rfc2865::lookup_nas_port_type(&p).unwrap().unwrap(), 5);
    assert_eq!(rfc2865::lookup_nas_identifier(&p).unwrap().unwrap(), "lns1");
    assert_eq!(p.lookup_all(26).len(), 1);
    let cisco = attrs(&bytes).into_iter().find(|a| a.0 == 26).unwrap().1;
    assert_eq!(&cisco[..6], &[0, 0, 0, 9, 1, 21]);
    assert_eq!(&cisco[6..], b"disc-cause-ext=1000");
}

#[test]
fn accounting_start_has_no_counters_and_on_off_have_no_session() {
    let bytes = encode_accounting_request(&acct_request(AcctStatus::Start), 1, 0, &cfg()).unwrap();
    let types: HashSet<u8> = attrs(&bytes).iter().map(|a| a.0).collect();
    assert!(!types.contains(&42) && !types.contains(&49) && !types.contains(&52));
    assert!(types.contains(&41) && types.contains(&6));
    let on = AccountingRequest {
        status: AcctStatus::AccountingOn,
        acct_session_id: "on-1".into(),
        ..Default::default()
    };
    let bytes = encode_accounting_request(&on, 1, 0, &cfg()).unwrap();
    let p = Packet::decode(&bytes, SECRET).unwrap();
    assert_eq!(rfc2866::lookup_acct_status_type(&p).unwrap().unwrap(), 7);
    assert_eq!(
        rfc2866::lookup_acct_session_id(&p).unwrap().unwrap(),
        "on-1"
    );
    assert!(rfc2865::lookup_service_type(&p).is_none());
    assert!(rfc2865::lookup_nas_ip_address(&p).is_some());
    let off = AccountingRequest {
        status: AcctStatus::AccountingOff,
        event_timestamp: Some(1_700_000_000),
        ..on
    };
    let bytes = encode_accounting_request(&off, 1, 0, &cfg()).unwrap();
    let p = Packet::decode(&bytes, SECRET).unwrap();
    assert_eq!(rfc2866::lookup_acct_status_type(&p).unwrap().unwrap(), 8);
    assert!(rfc2869::lookup_event_timestamp(&p).is_some());
}

// ---------- client: replies ----------

/// Submit an Access-Request and return its first transmission.
fn submit_auth(c: &mut RadiusClient, now: Instant) -> (RequestId, Transmit) {
    let id = c.submit(now, RequestKind::Auth(pap_request()), AUTH);
    (id, c.poll_transmit().unwrap())
}

fn full_accept(req: &[u8]) -> Vec<u8> {
    reply(
        req,
        2,
        &[
            (8, vec![100, 64, 3, 4]),
            (22, b"10.9.0.0/16 100.64.3.4 1".to_vec()),
            (22, b"192.168.50.0".to_vec()),
            (22, b"garbage".to_vec()),
            (27, u32v(3600)),
            (28, u32v(300)),
            (25, b"cls1".to_vec()),
            (25, b"cls2".to_vec()),
            (85, u32v(900)),
            (18, b"Welcome".to_vec()),
            (135, vec![8, 8, 8, 8]),
            vsa(311, 29, &[9, 9, 9, 9]),
            vsa(9, 1, b"lcp:interface-config=ip mtu 1400"),
            vsa(9, 1, b"throttle=yes"),
            vsa(4242, 1, b"ignored"),
            (11, b"acl.in".to_vec()),
        ],
        true,
        SECRET,
    )
}

#[test]
fn accept_with_every_attribute() {
    let (mut c, t0) = client(cfg());
    let (id, tx) = submit_auth(&mut c, t0);
    assert_eq!(tx.to, addr("10.0.0.1:1812"));
    c.handle_datagram(t0, tx.socket, tx.to, &full_accept(&tx.bytes));
    let (got, outcome) = c.poll_event().unwrap();
    assert_eq!(got, id);
    let Outcome::Accept(r) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        r.framed_ip,
        Some(FramedIp::Address(Ipv4Addr::new(100, 64, 3, 4)))
    );
    let routes: Vec<String> = r.framed_routes.iter().map(|n| n.to_string()).collect();
    assert_eq!(routes, vec!["10.9.0.0/16", "192.168.50.0/24"]);
    assert_eq!(r.session_timeout, Some(3600));
    assert_eq!(r.idle_timeout, Some(300));
    assert_eq!(r.class, vec![b"cls1".to_vec(), b"cls2".to_vec()]);
    assert_eq!(r.acct_interim_interval, Some(900));
    assert_eq!(r.reply_message.as_deref(), Some("Welcome"));
    assert_eq!(
        r.dns,
        [
            Some(Ipv4Addr::new(8, 8, 8, 8)),
            Some(Ipv4Addr::new(9, 9, 9, 9))
        ]
    );
    assert_eq!(
        r.cisco_avpairs,
        vec![
            (
                "lcp:interface-config".to_string(),
                "ip mtu 1400".to_string()
            ),
            ("throttle".to_string(), "yes".to_string())
        ]
    );
    assert_eq!(r.filter_id, vec!["acl.in".to_string()]);
    assert_eq!(c.in_flight(), 0);
    assert_eq!(c.stats()[0].accepts, 1);
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn framed_ip_specials_and_ascend_vsa_dns() {
    let (mut c, t0) = client(cfg());
    let (_, tx) = submit_auth(&mut c, t0);
    let rep = reply(
        &tx.bytes,
        2,
        &[
            (8, vec![255, 255, 255, 254]),
            vsa(529, 135, &[1, 1, 1, 1]),
            vsa(529, 136, &[2, 2, 2, 2]),
        ],
        true,
        SECRET,
    );
    c.handle_datagram(t0, tx.socket, tx.to, &rep);
    let Some((_, Outcome::Accept(r))) = c.poll_event() else {
        panic!()
    };
    assert_eq!(r.framed_ip, Some(FramedIp::FromPool));
    assert_eq!(
        r.dns,
        [
            Some(Ipv4Addr::new(1, 1, 1, 1)),
            Some(Ipv4Addr::new(2, 2, 2, 2))
        ]
    );
    assert_eq!(
        FramedIp::from(Ipv4Addr::BROADCAST),
        FramedIp::NegotiatedByUser
    );
}

#[test]
fn reject_and_challenge() {
    let (mut c, t0) = client(cfg());
    let (_, tx) = submit_auth(&mut c, t0);
    c.handle_datagram(
        t0,
        tx.socket,
        tx.to,
        &reply(
            &tx.bytes,
            3,
            &[(18, b"Bad password".to_vec())],
            true,
            SECRET,
        ),
    );
    let Some((_, Outcome::Reject(r))) = c.poll_event() else {
        panic!()
    };
    assert_eq!(r.reply_message.as_deref(), Some("Bad password"));
    let (_, tx) = submit_auth(&mut c, t0);
    c.handle_datagram(
        t0,
        tx.socket,
        tx.to,
        &reply(&tx.bytes, 11, &[(24, b"state".to_vec())], true, SECRET),
    );
    assert!(matches!(c.poll_event(), Some((_, Outcome::Reject(_)))));
    assert_eq!(c.stats()[0].rejects, 2);
}

#[test]
fn forged_replies_are_dropped_and_counted() {
    let (mut c, t0) = client(ClientConfig {
        require_message_authenticator: MessageAuthenticatorPolicy::Yes,
        ..cfg()
    });
    let (_, tx) = submit_auth(&mut c, t0);
    let good = reply(&tx.bytes, 2, &[], true, SECRET);
    // Wrong secret -> bad Response Authenticator.
    c.handle_datagram(
        t0,
        tx.socket,
        tx.to,
        &reply(&tx.bytes, 2, &[], true, b"other"),
    );
    // Valid authenticator but no Message-Authenticator (Blast-RADIUS shape).
    c.handle_datagram(
        t0,
        tx.socket,
        tx.to,
        &reply(&tx.bytes, 2, &[], false, SECRET),
    );
    // Message-Authenticator that does not verify (authenticator recomputed).
    let mut bad_ma = good.clone();
    bad_ma[25] ^= 1;
    let req_auth: [u8; 16] = tx.bytes[4..20].try_into().unwrap();
    let ra = md5_of(&[&bad_ma[..4], &req_auth, &bad_ma[20..], SECRET]);
    bad_ma[4..20].copy_from_slice(&ra);
    c.handle_datagram(t0, tx.socket, tx.to, &bad_ma);
    // Unknown id, other socket, wrong source, truncated, bad length, wrong code.
    let mut other_id = good.clone();
    other_id[1] = other_id[1].wrapping_add(1);
    c.handle_datagram(t0, tx.socket, tx.to, &other_id);
    c.handle_datagram(t0, tx.socket + 1, tx.to, &good);
    c.handle_datagram(t0, tx.socket, addr("10.0.0.2:1812"), &good);
    c.handle_datagram(t0, tx.socket, addr("10.0.0.1:9999"), &good);
    c.handle_datagram(t0, tx.socket, tx.to, &good[..19]);
    let mut long = good.clone();
    long[3] = 200;
    c.handle_datagram(t0, tx.socket, tx.to, &long);
    let mut short = good.clone();
    short[3] = 5;
    c.handle_datagram(t0, tx.socket, tx.to, &short);
    c.handle_datagram(
        t0,
        tx.socket,
        tx.to,
        &reply(&tx.bytes, 5, &[], true, SECRET),
    );
    c.handle_datagram(t0, tx.socket, addr("203.0.113.1:1812"), &[1, 2, 3]);
    // Bad attribute framing under a valid authenticator.
    let mut broken = reply(&tx.bytes, 2, &[(18, b"xx".to_vec())], true, SECRET);
    let last = broken.len() - 3;
    broken[last] = 1; // attribute length 1
    let ra = md5_of(&[&broken[..4], &req_auth, &broken[20..], SECRET]);
    broken[4..20].copy_from_slice(&ra);
    c.handle_datagram(t0, tx.socket, tx.to, &broken);
    assert!(c.poll_event().is_none());
    let s = c.stats()[0];
    assert_eq!(s.bad_authenticator, 1);
    assert_eq!(s.bad_message_authenticator, 3); // missing, invalid, and the broken one's MA
    assert_eq!(s.unknown_id, 2);
    // Counted against the server the request went to.
    assert_eq!(s.wrong_source, 2);
    assert_eq!(c.stats()[1].wrong_source, 0);
    assert_eq!(s.malformed, 4);
    assert_eq!(c.stray_datagrams(), 1);
    // The request is still waiting and takes the real answer.
    assert_eq!(c.in_flight(), 1);
    c.handle_datagram(t0, tx.socket, tx.to, &good);
    assert!(matches!(c.poll_event(), Some((_, Outcome::Accept(_)))));
}

#[test]
fn message_authenticator_optional_when_not_required() {
    let (mut c, t0) = client(ClientConfig {
        require_message_authenticator: MessageAuthenticatorPolicy::No,
        ..cfg()
    });
    let (_, tx) = submit_auth(&mut c, t0);
    c.handle_datagram(
        t0,
        tx.socket,
        tx.to,
        &reply(&tx.bytes, 3, &[], false, SECRET),
    );
    assert!(matches!(c.poll_event(), Some((_, Outcome::Reject(_)))));
}
