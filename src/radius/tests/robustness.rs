//! Robustness: property tests, fuzz seeds, absurd inputs.

use super::dae_requests::*;
use super::timers::{run_out, secs};
use super::*;

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn client_never_panics_on_datagrams(mut bytes in proptest::collection::vec(any::<u8>(), 0..300), fix_len in any::<bool>()) {
            let (mut c, t0) = client(cfg());
            let (_, tx) = submit_auth(&mut c, t0);
            if fix_len && bytes.len() >= 20 {
                // Help the input past the length check and onto a live id.
                let l = bytes.len() as u16;
                bytes[1] = tx.bytes[1];
                bytes[2..4].copy_from_slice(&l.to_be_bytes());
            }
            c.handle_datagram(t0, tx.socket, tx.to, &bytes);
            // A random packet never passes the authenticator.
            prop_assert!(c.poll_event().is_none());
            prop_assert_eq!(c.in_flight(), 1);
        }

        #[test]
        fn dae_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), req in any::<bool>()) {
            let _ = parse_dae_request(&bytes, SECRET, req);
        }

        #[test]
        fn signed_garbage_attributes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            // Valid authenticators around arbitrary attribute bytes reach the attribute readers.
            let mut p = vec![40u8, 1, 0, 0];
            p.extend_from_slice(&[0; 16]);
            p.extend_from_slice(&body);
            let l = p.len() as u16;
            p[2..4].copy_from_slice(&l.to_be_bytes());
            let ra = md5_of(&[&p[..4], &[0; 16], &p[20..], SECRET]);
            p[4..20].copy_from_slice(&ra);
            if let Ok(r) = parse_dae_request(&p, SECRET, false) {
                let _ = build_dae_response(&p, &r, false, Some(404), SECRET);
            }
            let (mut c, t0) = client(ClientConfig { require_message_authenticator: MessageAuthenticatorPolicy::No, ..cfg() });
            let (_, tx) = submit_auth(&mut c, t0);
            let mut r = vec![2u8, tx.bytes[1], 0, 0];
            r.extend_from_slice(&tx.bytes[4..20]);
            r.extend_from_slice(&body);
            let l = r.len() as u16;
            r[2..4].copy_from_slice(&l.to_be_bytes());
            let ra = md5_of(&[&r[..4], &tx.bytes[4..20], &r[20..], SECRET]);
            r[4..20].copy_from_slice(&ra);
            c.handle_datagram(t0, tx.socket, tx.to, &r);
        }
    }
}

/// Fuzz seeds: `WRITE_FUZZ_SEEDS=1 cargo test --lib radius::tests::write_fuzz_seeds`.
/// The fuzz target's first byte selects the path (even: client reply to the
/// request `fuzz_client` sends, odd: DAE parse); the setup must match it.
#[test]
fn write_fuzz_seeds() {
    let secret = b"fuzz";
    let fcfg = ClientConfig {
        servers: vec![ServerAddrs::new(addr("127.0.0.1:1812"))],
        secret: secret.to_vec(),
        require_message_authenticator: MessageAuthenticatorPolicy::No,
        ..cfg()
    };
    let (mut c, t0) = client(fcfg);
    c.submit(t0, RequestKind::Auth(pap_request()), [7; 16]);
    let tx = c.poll_transmit().unwrap();
    assert_eq!(
        (tx.socket, tx.bytes[1]),
        (0, 0),
        "fuzz target relies on the first slot"
    );
    let mut seeds: Vec<(String, Vec<u8>)> = vec![
        ("accept_full".into(), full_accept_with(&tx.bytes, secret)),
        (
            "reject".into(),
            reply(&tx.bytes, 3, &[(18, b"no".to_vec())], true, secret),
        ),
        (
            "accept_no_ma".into(),
            reply(&tx.bytes, 2, &[(8, vec![10, 0, 0, 1])], false, secret),
        ),
    ];
    for (name, b) in [
        (
            "dae_disconnect",
            dae_request(40, &[(1, b"alice".to_vec()), (5, u32v(3))], true, secret),
        ),
        (
            "dae_coa",
            dae_request(
                43,
                &[(27, u32v(10)), vsa(9, 1, b"a=b"), (99, vec![0])],
                true,
                secret,
            ),
        ),
        (
            "dae_no_ma",
            dae_request(40, &[(8, vec![1, 2, 3, 4])], false, secret),
        ),
    ] {
        seeds.push((name.into(), b));
    }
    if std::env::var_os("WRITE_FUZZ_SEEDS").is_none() {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/radius_packet");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, b) in seeds {
        let selector = if name.starts_with("dae") { 1u8 } else { 0 };
        let mut out = vec![selector];
        out.extend(b);
        std::fs::write(dir.join(name), out).unwrap();
    }
}

fn full_accept_with(req: &[u8], secret: &[u8]) -> Vec<u8> {
    let full = full_accept(req);
    let body: Vec<(u8, Vec<u8>)> = attrs(&full).into_iter().filter(|a| a.0 != 80).collect();
    reply(req, 2, &body, true, secret)
}

#[test]
fn absurd_durations_do_not_panic() {
    let (mut c, t0) = client(ClientConfig {
        timeout: Duration::MAX,
        dead_time: Duration::MAX,
        retries: 0,
        sockets: 0,
        ..cfg()
    });
    submit_auth(&mut c, t0);
    let t = c.poll_timeout().unwrap();
    c.handle_timeout(t);
    assert_eq!(c.in_flight(), 1);
}

/// Answer the newest transmission with an Access-Accept, signed or not.
fn answer_accept(c: &mut RadiusClient, now: Instant, tx: &Transmit, signed: bool) {
    c.handle_datagram(
        now,
        tx.socket,
        tx.to,
        &reply(&tx.bytes, 2, &[], signed, SECRET),
    );
}

#[test]
fn auto_accepts_unsigned_until_the_server_signs_once() {
    let (mut c, t0) = client(cfg());
    assert_eq!(
        ClientConfig::default().require_message_authenticator,
        MessageAuthenticatorPolicy::Auto
    );
    // FreeRADIUS 3.2.1 as Debian ships it: unsigned replies, accepted.
    for _ in 0..2 {
        let (_, tx) = submit_auth(&mut c, t0);
        answer_accept(&mut c, t0, &tx, false);
        assert!(matches!(c.poll_event(), Some((_, Outcome::Accept(_)))));
    }
    // The server signs one reply.
    let (_, tx) = submit_auth(&mut c, t0);
    answer_accept(&mut c, t0, &tx, true);
    assert!(matches!(c.poll_event(), Some((_, Outcome::Accept(_)))));
    // From now on its unsigned replies are dropped...
    let (_, tx) = submit_auth(&mut c, t0);
    answer_accept(&mut c, t0, &tx, false);
    assert!(c.poll_event().is_none());
    assert_eq!(c.stats()[0].bad_message_authenticator, 1);
    // ...and its signed ones accepted.
    answer_accept(&mut c, t0, &tx, true);
    assert!(matches!(c.poll_event(), Some((_, Outcome::Accept(_)))));
    // A present but wrong Message-Authenticator is dropped under every policy.
    for policy in [
        MessageAuthenticatorPolicy::Auto,
        MessageAuthenticatorPolicy::No,
    ] {
        let (mut c, t0) = client(ClientConfig {
            require_message_authenticator: policy,
            ..cfg()
        });
        let (_, tx) = submit_auth(&mut c, t0);
        let mut bad = reply(&tx.bytes, 2, &[], true, SECRET);
        bad[25] ^= 1;
        let req_auth: [u8; 16] = tx.bytes[4..20].try_into().unwrap();
        let ra = md5_of(&[&bad[..4], &req_auth, &bad[20..], SECRET]);
        bad[4..20].copy_from_slice(&ra);
        c.handle_datagram(t0, tx.socket, tx.to, &bad);
        assert!(c.poll_event().is_none(), "{policy}");
        assert_eq!(c.stats()[0].bad_message_authenticator, 1);
    }
}

#[test]
fn refused_replies_never_make_a_server_dead() {
    let (mut c, t0) = client(ClientConfig {
        require_message_authenticator: MessageAuthenticatorPolicy::Yes,
        ..cfg()
    });
    let (id, first) = submit_auth(&mut c, t0);
    // Every try of the request is answered, unsigned, by both servers.
    answer_accept(&mut c, t0, &first, false);
    let mut last = t0;
    loop {
        while let Some(tx) = c.poll_transmit() {
            answer_accept(&mut c, last, &tx, false);
        }
        let Some(t) = c.poll_timeout() else { break };
        c.handle_timeout(t);
        last = t;
    }
    assert_eq!(c.poll_event(), Some((id, Outcome::Timeout)));
    assert!(!c.is_dead(0, last) && !c.is_dead(1, last));
    assert_eq!(c.stats()[0].bad_message_authenticator, 3);
    assert_eq!(c.stats()[1].bad_message_authenticator, 3);
}

#[test]
fn unanswered_accounting_does_not_stop_authentication() {
    let (mut c, t0) = client(cfg());
    let id = c.submit(t0, RequestKind::Acct(acct_request(AcctStatus::Start)), AUTH);
    let end = run_out(&mut c);
    assert_eq!(c.poll_event(), Some((id, Outcome::Timeout)));
    assert!(c.is_dead_for_accounting(0, end) && c.is_dead_for_accounting(1, end));
    // Authentication still goes to the primary first, and is answered.
    assert!(!c.is_dead(0, end));
    let (_, tx) = submit_auth(&mut c, end);
    assert_eq!(tx.to, addr("10.0.0.1:1812"));
    answer_accept(&mut c, end, &tx, false);
    assert!(matches!(c.poll_event(), Some((_, Outcome::Accept(_)))));
}

#[test]
fn accounting_cannot_take_every_identifier() {
    let (mut c, t0) = client(ClientConfig {
        sockets: 1,
        ..cfg()
    });
    // 300 Accounting-Requests nobody answers: at most 3/4 of the 256
    // identifiers go to them, the rest wait.
    for _ in 0..300 {
        c.submit(
            t0,
            RequestKind::Acct(acct_request(AcctStatus::InterimUpdate)),
            AUTH,
        );
    }
    let mut sent = 0;
    while c.poll_transmit().is_some() {
        sent += 1;
    }
    assert_eq!(sent, 192);
    // A login is sent at once, not queued behind them.
    let (_, tx) = submit_auth(&mut c, t0);
    answer_accept(&mut c, t0, &tx, false);
    assert!(matches!(c.poll_event(), Some((_, Outcome::Accept(_)))));
    assert_eq!(c.in_flight(), 300);
}

#[test]
fn reply_latency_counts_from_the_answered_try() {
    let (mut c, t0) = client(cfg());
    let (_, first) = submit_auth(&mut c, t0);
    c.handle_timeout(t0 + secs(3)); // the retry goes out at t0 + 3 s
    let retry = c.poll_transmit().unwrap();
    let at = t0 + secs(3) + Duration::from_millis(200);
    c.handle_datagram(at, retry.socket, retry.to, &full_accept(&first.bytes));
    assert!(matches!(c.poll_event(), Some((_, Outcome::Accept(_)))));
    let mut reg = prometheus_client::registry::Registry::default();
    reg.register("lat", "", c.latency()[0].histogram().clone());
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, &reg).unwrap();
    // 0.2 s: above the 0.1 bucket, within 0.25; not 3.2 s from the first try.
    assert!(text.contains("lat_bucket{le=\"0.1\"} 0\n"), "{text}");
    assert!(text.contains("lat_bucket{le=\"0.25\"} 1\n"), "{text}");
    assert!(text.contains("lat_count 1\n"), "{text}");
    assert_eq!(c.latency().len(), 2);
}
