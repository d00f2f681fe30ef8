//! The client's timers, fail-over and identifiers.

use super::*;

pub(super) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn retries_back_off_then_fail_over_then_time_out() {
    let (mut c, t0) = client(cfg());
    let (id, first) = submit_auth(&mut c, t0);
    assert_eq!(c.poll_timeout(), Some(t0 + secs(3)));
    c.handle_timeout(t0 + secs(2)); // early: nothing
    assert!(c.poll_transmit().is_none());
    c.handle_timeout(t0 + secs(3));
    let second = c.poll_transmit().unwrap();
    assert_eq!(second, first, "auth retransmission is identical");
    assert_eq!(c.poll_timeout(), Some(t0 + secs(9)));
    c.handle_timeout(t0 + secs(9));
    assert_eq!(c.poll_transmit().unwrap(), first);
    // 3 + 6 + min(12, 10): primary exhausted at t0+19.
    assert_eq!(c.poll_timeout(), Some(t0 + secs(19)));
    c.handle_timeout(t0 + secs(19));
    let fo = c.poll_transmit().unwrap();
    assert_eq!(fo.to, addr("10.0.0.2:1812"));
    assert_ne!(
        (fo.socket, fo.bytes[1]),
        (first.socket, first.bytes[1]),
        "fresh id on fail-over"
    );
    assert!(c.is_dead(0, t0 + secs(19)));
    assert_eq!(c.stats()[0].timeouts, 1);
    assert_eq!(c.stats()[0].retries, 2);
    assert_eq!(c.stats()[1].requests, 1);
    // An answer to the old id from the primary is now unknown.
    c.handle_datagram(
        t0 + secs(20),
        first.socket,
        first.to,
        &reply(&first.bytes, 2, &[], true, SECRET),
    );
    assert!(c.poll_event().is_none());
    // Secondary silent too: 19 s later the request times out.
    for _ in 0..2 {
        let now = c.poll_timeout().unwrap();
        c.handle_timeout(now);
        assert_eq!(c.poll_transmit().unwrap().to, fo.to);
    }
    let now = c.poll_timeout().unwrap();
    assert_eq!(now, t0 + secs(38));
    c.handle_timeout(now);
    assert!(c.poll_transmit().is_none());
    assert_eq!(c.poll_event(), Some((id, Outcome::Timeout)));
    assert_eq!(c.in_flight(), 0);
    assert_eq!(c.poll_timeout(), None);
    assert!(c.is_dead(1, now));
}

/// Let every try of the request in flight expire.
pub(super) fn run_out(c: &mut RadiusClient) -> Instant {
    let mut last = None;
    while let Some(t) = c.poll_timeout() {
        c.handle_timeout(t);
        while c.poll_transmit().is_some() {}
        last = Some(t);
    }
    last.unwrap()
}

#[test]
fn dead_server_is_skipped_then_revived() {
    let (mut c, t0) = client(cfg());
    let (_, tx) = submit_auth(&mut c, t0);
    // Primary silent for the whole request; secondary answers.
    for t in [3, 9, 19] {
        c.handle_timeout(t0 + secs(t));
    }
    let mut last = tx;
    while let Some(t) = c.poll_transmit() {
        last = t;
    }
    assert_eq!(last.to, addr("10.0.0.2:1812"));
    c.handle_datagram(
        t0 + secs(20),
        last.socket,
        last.to,
        &reply(&last.bytes, 2, &[], true, SECRET),
    );
    assert!(matches!(c.poll_event(), Some((_, Outcome::Accept(_)))));
    // While dead, new requests go straight to the secondary.
    let (_, tx) = submit_auth(&mut c, t0 + secs(25));
    assert_eq!(tx.to, addr("10.0.0.2:1812"));
    c.handle_datagram(
        t0 + secs(25),
        tx.socket,
        tx.to,
        &reply(&tx.bytes, 3, &[], true, SECRET),
    );
    // After dead_time (30 s from t0+19) the primary is tried again.
    let (_, tx) = submit_auth(&mut c, t0 + secs(50));
    assert_eq!(tx.to, addr("10.0.0.1:1812"));
    assert!(!c.is_dead(0, t0 + secs(50)));
}

#[test]
fn all_dead_still_tries_and_answer_revives() {
    let (mut c, t0) = client(cfg());
    submit_auth(&mut c, t0);
    let end = run_out(&mut c);
    assert!(matches!(c.poll_event(), Some((_, Outcome::Timeout))));
    assert!(c.is_dead(0, end) && c.is_dead(1, end));
    // Both dead: the primary is still used rather than failing at once.
    let (_, tx) = submit_auth(&mut c, end);
    assert_eq!(tx.to, addr("10.0.0.1:1812"));
    c.handle_datagram(
        end,
        tx.socket,
        tx.to,
        &reply(&tx.bytes, 2, &[], true, SECRET),
    );
    assert!(matches!(c.poll_event(), Some((_, Outcome::Accept(_)))));
    assert!(!c.is_dead(0, end));
}

#[test]
fn no_servers_times_out_immediately() {
    let (mut c, t0) = client(ClientConfig {
        servers: vec![],
        ..cfg()
    });
    let id = c.submit(t0, RequestKind::Auth(pap_request()), AUTH);
    assert_eq!(c.poll_event(), Some((id, Outcome::Timeout)));
    assert!(c.poll_transmit().is_none());
}

#[test]
fn five_thousand_in_flight_never_share_an_id() {
    let (mut c, t0) = client(ClientConfig {
        sockets: 20,
        ..cfg()
    });
    let mut seen = HashSet::new();
    let mut txs = vec![];
    for _ in 0..5000 {
        submit_auth(&mut c, t0);
    }
    // (submit_auth already took the transmits; re-collect through retries)
    assert_eq!(c.in_flight(), 5000);
    c.handle_timeout(t0 + secs(3));
    while let Some(t) = c.poll_transmit() {
        assert!(t.socket < 20);
        assert!(seen.insert((t.socket, t.bytes[1])), "duplicate id");
        txs.push(t);
    }
    assert_eq!(txs.len(), 5000);
    // Answer all; every request gets its own event.
    for t in &txs {
        c.handle_datagram(
            t0 + secs(4),
            t.socket,
            t.to,
            &reply(&t.bytes, 2, &[], true, SECRET),
        );
    }
    let mut ids = HashSet::new();
    while let Some((id, o)) = c.poll_event() {
        assert!(matches!(o, Outcome::Accept(_)));
        ids.insert(id);
    }
    assert_eq!(ids.len(), 5000);
    assert_eq!(c.in_flight(), 0);
}

#[test]
fn requests_beyond_the_id_space_wait_for_a_free_id() {
    let (mut c, t0) = client(ClientConfig {
        sockets: 1,
        ..cfg()
    });
    let mut txs = vec![];
    for _ in 0..300 {
        c.submit(t0, RequestKind::Auth(pap_request()), AUTH);
    }
    while let Some(t) = c.poll_transmit() {
        txs.push(t);
    }
    assert_eq!(txs.len(), 256);
    assert_eq!(c.in_flight(), 300);
    let t = &txs[0];
    c.handle_datagram(t0, t.socket, t.to, &reply(&t.bytes, 2, &[], true, SECRET));
    let queued = c.poll_transmit().unwrap();
    // The only free id is the one just released.
    assert_eq!(queued.bytes[1], t.bytes[1]);
    assert!(c.poll_transmit().is_none());
    assert_eq!(c.in_flight(), 299);
}

#[test]
fn accounting_retransmission_changes_delay_and_id() {
    let (mut c, t0) = client(cfg());
    let id = c.submit(
        t0,
        RequestKind::Acct(acct_request(AcctStatus::InterimUpdate)),
        [0; 16],
    );
    let a = c.poll_transmit().unwrap();
    assert_eq!(a.to, addr("10.0.0.1:1813"));
    c.handle_timeout(t0 + secs(3));
    let b = c.poll_transmit().unwrap();
    assert_ne!((a.socket, a.bytes[1]), (b.socket, b.bytes[1]));
    for (bytes, delay) in [(&a.bytes, 0), (&b.bytes, 3)] {
        assert!(Packet::is_authentic_request(bytes, SECRET));
        assert_eq!(&bytes[22..38], &hmac_md5(bytes, &[0; 16], 20, SECRET));
        let p = Packet::decode(bytes, SECRET).unwrap();
        assert_eq!(rfc2866::lookup_acct_delay_time(&p).unwrap().unwrap(), delay);
    }
    assert_ne!(a.bytes[4..20], b.bytes[4..20]);
    // The answer to the first transmission is now stale.
    c.handle_datagram(
        t0 + secs(4),
        a.socket,
        a.to,
        &reply(&a.bytes, 5, &[], true, SECRET),
    );
    assert!(c.poll_event().is_none());
    assert_eq!(c.stats()[0].unknown_id, 1);
    c.handle_datagram(
        t0 + secs(4),
        b.socket,
        b.to,
        &reply(&b.bytes, 5, &[], true, SECRET),
    );
    assert_eq!(c.poll_event(), Some((id, Outcome::AcctAck)));
    assert_eq!(c.stats()[0].acct_responses, 1);
    // An auth-port answer or an Access-Accept is not an accounting answer.
    let id2 = c.submit(
        t0,
        RequestKind::Acct(acct_request(AcctStatus::Start)),
        [0; 16],
    );
    let t = c.poll_transmit().unwrap();
    c.handle_datagram(
        t0,
        t.socket,
        addr("10.0.0.1:1812"),
        &reply(&t.bytes, 5, &[], true, SECRET),
    );
    c.handle_datagram(t0, t.socket, t.to, &reply(&t.bytes, 2, &[], true, SECRET));
    assert!(c.poll_event().is_none());
    c.handle_datagram(t0, t.socket, t.to, &reply(&t.bytes, 5, &[], true, SECRET));
    assert_eq!(c.poll_event(), Some((id2, Outcome::AcctAck)));
}

#[test]
fn unsigned_accounting_response_is_accepted_but_a_bad_signature_is_not() {
    // FreeRADIUS 3.2 never signs Accounting-Response; Blast-RADIUS is about
    // Access-* replies, which stay required-signed.
    let (mut c, t0) = client(cfg());
    let id = c.submit(
        t0,
        RequestKind::Acct(acct_request(AcctStatus::Start)),
        [0; 16],
    );
    let t = c.poll_transmit().unwrap();
    let mut bad = reply(&t.bytes, 5, &[], true, SECRET);
    bad[25] ^= 1;
    let req_auth: [u8; 16] = t.bytes[4..20].try_into().unwrap();
    let ra = md5_of(&[&bad[..4], &req_auth, &bad[20..], SECRET]);
    bad[4..20].copy_from_slice(&ra);
    c.handle_datagram(t0, t.socket, t.to, &bad);
    assert!(c.poll_event().is_none());
    assert_eq!(c.stats()[0].bad_message_authenticator, 1);
    c.handle_datagram(t0, t.socket, t.to, &reply(&t.bytes, 5, &[], false, SECRET));
    assert_eq!(c.poll_event(), Some((id, Outcome::AcctAck)));
}
