//! Fuzz the RADIUS input paths: odd first byte -> parse_dae_request (and,
//! when it parses, build_dae_response); even -> a reply datagram to a
//! pending Access-Request and a pending Accounting-Request. Never panics.
//! The setup matches `radius::tests::write_fuzz_seeds` (secret "fuzz",
//! authenticator [7; 16], first request on socket 0 id 0).
#![no_main]
use l2tpns::credentials::Credentials;
use l2tpns::radius::{
    build_dae_response, parse_dae_request, AccessRequest, AccountingRequest, ClientConfig,
    MessageAuthenticatorPolicy, RadiusClient, RequestKind, ServerAddrs,
};
use libfuzzer_sys::fuzz_target;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let secret = b"fuzz";
    if selector & 1 == 1 {
        if let Ok(req) = parse_dae_request(bytes, secret, selector & 2 == 2) {
            let _ = build_dae_response(bytes, &req, selector & 4 == 4, Some(404), secret);
        }
        return;
    }
    let server: SocketAddr = ([127, 0, 0, 1], 1812).into();
    let cfg = ClientConfig {
        servers: vec![ServerAddrs::new(server)],
        secret: secret.to_vec(),
        require_message_authenticator: match selector & 6 {
            0 => MessageAuthenticatorPolicy::No,
            2 => MessageAuthenticatorPolicy::Yes,
            _ => MessageAuthenticatorPolicy::Auto,
        },
        nas_ip: Ipv4Addr::new(192, 0, 2, 1),
        nas_identifier: "lns1".into(),
        ..ClientConfig::default()
    };
    let now = Instant::now();
    let mut c = RadiusClient::new(Arc::new(cfg), now);
    c.submit(
        now,
        RequestKind::Auth(AccessRequest {
            user_name: "alice@isp".into(),
            credentials: Credentials::Pap {
                password: b"arctangent".to_vec(),
            },
            nas_port: 42,
            calling_station_id: Some("0123456789".into()),
            called_station_id: Some("lac1".into()),
            acct_session_id: "0000002A5F000000".into(),
            framed_ip: None,
        }),
        [7; 16],
    );
    c.submit(
        now,
        RequestKind::Acct(AccountingRequest::default()),
        [0; 16],
    );
    while c.poll_transmit().is_some() {}
    let from = if selector & 4 == 4 {
        ServerAddrs::new(server).acct
    } else {
        server
    };
    c.handle_datagram(now, usize::from(selector >> 4), from, bytes);
    c.handle_timeout(now + Duration::from_secs(u64::from(selector)));
    while c.poll_event().is_some() {}
});
