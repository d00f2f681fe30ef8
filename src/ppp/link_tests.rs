//! End-to-end tests: a ServerLink and a ClientLink wired back to back in
//! memory, time driven by hand-made Instants.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::chap::chap_md5_verify;
use super::client::{ClientConfig, ClientEvent, ClientLink};
use super::server::*;
use super::wire::{code, emit_control_frame, protocol, ControlPacket, Frame};
use crate::credentials::Credentials;

const PEER: Ipv4Addr = Ipv4Addr::new(10, 1, 2, 3);
const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DNS1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const DNS2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const SECRET: &str = "s3cret";

fn server_cfg(order: Vec<AuthProto>) -> ServerConfig {
    ServerConfig {
        mru: 1458,
        auth_order: order,
        restart_time: Duration::from_secs(3),
        max_configure: 10,
        max_failure: 5,
        echo_interval: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(240),
        echo_always: false,
        hostname: "lns".into(),
        local_address: LOCAL,
    }
}

fn client_cfg(allowed: Option<AuthProto>, dns: bool) -> ClientConfig {
    ClientConfig {
        username: "alice".into(),
        password: SECRET.into(),
        allowed_auth: allowed,
        mru: 1400,
        restart_time: Duration::from_secs(3),
        max_configure: 10,
        max_failure: 5,
        request_dns: dns,
    }
}

#[derive(Clone, Copy)]
enum Policy {
    Accept([Option<Ipv4Addr>; 2]),
    Reject,
    Hold,
}

struct Pair {
    now: Instant,
    server: ServerLink,
    client: ClientLink,
    policy: Policy,
    sev: Vec<ServerEvent>,
    cev: Vec<ClientEvent>,
    /// Deliver server->client frames (false = the client went silent).
    deliver_to_client: bool,
    deliver_to_server: bool,
    /// Every frame the server sent.
    server_sent: Vec<Vec<u8>>,
}

impl Pair {
    fn new(scfg: ServerConfig, ccfg: ClientConfig, policy: Policy) -> Pair {
        let now = Instant::now();
        let challenge: [u8; 16] = *b"0123456789abcdef";
        Pair {
            now,
            server: ServerLink::new(Arc::new(scfg), 0x5e5e_0001, challenge, now),
            client: ClientLink::new(ccfg, 0xc1c1_0002, now),
            policy,
            sev: Vec::new(),
            cev: Vec::new(),
            deliver_to_client: true,
            deliver_to_server: true,
            server_sent: Vec::new(),
        }
    }

    fn start(&mut self) {
        self.server.open(self.now);
        self.client.open(self.now);
        self.exchange();
    }

    fn exchange(&mut self) {
        for _ in 0..1000 {
            let mut moved = false;
            while let Some(f) = self.server.poll_transmit() {
                moved = true;
                self.server_sent.push(f.clone());
                if self.deliver_to_client {
                    self.client.handle_frame(self.now, &f);
                }
            }
            while let Some(f) = self.client.poll_transmit() {
                moved = true;
                if self.deliver_to_server {
                    self.server.handle_frame(self.now, &f);
                }
            }
            while let Some(e) = self.server.poll_event() {
                moved = true;
                if let ServerEvent::AuthRequest { credentials, .. } = &e {
                    self.decide(credentials.clone());
                }
                self.sev.push(e);
            }
            while let Some(e) = self.client.poll_event() {
                moved = true;
                self.cev.push(e);
            }
            if !moved {
                return;
            }
        }
        panic!("links never went quiet");
    }

    fn decide(&mut self, credentials: Credentials) {
        let ok = match &credentials {
            Credentials::Pap { password } => password == SECRET.as_bytes(),
            Credentials::Chap {
                id,
                challenge,
                response,
            } => chap_md5_verify(*id, SECRET.as_bytes(), challenge, response),
        };
        assert!(ok, "client sent bad credentials");
        match self.policy {
            Policy::Accept(dns) => self.server.auth_accept(
                self.now,
                "welcome",
                NetworkGrant {
                    peer_address: PEER,
                    dns,
                },
            ),
            Policy::Reject => self.server.auth_reject(self.now, "go away"),
            Policy::Hold => {}
        }
    }

    /// Advance to the earliest timer of either side (or `limit`).
    fn step(&mut self, limit: Instant) -> bool {
        let next = [self.server.poll_timeout(), self.client.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) if t <= limit => {
                self.now = self.now.max(t);
                self.server.handle_timeout(self.now);
                self.client.handle_timeout(self.now);
                self.exchange();
                true
            }
            _ => {
                self.now = limit;
                false
            }
        }
    }

    fn run_for(&mut self, d: Duration) {
        let limit = self.now + d;
        while self.step(limit) {}
    }

    fn auth_requests(&self) -> usize {
        self.sev
            .iter()
            .filter(|e| matches!(e, ServerEvent::AuthRequest { .. }))
            .count()
    }

    fn server_closed(&self) -> Option<CloseReason> {
        self.sev.iter().find_map(|e| match e {
            ServerEvent::Closed { reason } => Some(*reason),
            _ => None,
        })
    }

    fn client_closed(&self) -> Option<CloseReason> {
        self.cev.iter().find_map(|e| match e {
            ClientEvent::Closed { reason } => Some(*reason),
            _ => None,
        })
    }

    fn sent_with(&self, proto: u16, c: u8) -> usize {
        self.server_sent
            .iter()
            .filter(|f| {
                let f = Frame::parse(f).unwrap();
                f.protocol() == proto && ControlPacket::parse(f.payload()).unwrap().code() == c
            })
            .count()
    }
}

fn assert_up(p: &Pair, dns: [Option<Ipv4Addr>; 2]) {
    assert!(p.server.is_network_up());
    assert_eq!(p.server.phase(), Phase::Network);
    assert_eq!(p.server.lcp_state(), State::Opened);
    assert_eq!(p.server.ipcp_state(), State::Opened);
    assert!(p
        .sev
        .contains(&ServerEvent::NetworkUp { peer_address: PEER }));
    assert!(p.cev.contains(&ClientEvent::Up {
        local_address: PEER,
        peer_address: LOCAL,
        dns,
    }));
    assert_eq!(p.auth_requests(), 1);
}

fn up_pair(order: Vec<AuthProto>, allowed: Option<AuthProto>) -> Pair {
    let mut p = Pair::new(
        server_cfg(order),
        client_cfg(allowed, true),
        Policy::Accept([Some(DNS1), Some(DNS2)]),
    );
    p.start();
    assert_up(&p, [Some(DNS1), Some(DNS2)]);
    p
}

#[test]
fn pap_accept_with_dns() {
    let p = up_pair(vec![AuthProto::Pap], None);
    assert!(p.sev.iter().any(|e| matches!(e,
        ServerEvent::AuthRequest { username, credentials: Credentials::Pap { .. } } if username == "alice")));
    assert_eq!(p.server.peer_mru(), 1400);
    assert_eq!(p.client.peer_mru(), 1458);
    assert_eq!(p.server.stats().malformed_frames, 0);
}

#[test]
fn chap_accept_with_dns() {
    let p = up_pair(vec![AuthProto::Chap, AuthProto::Pap], None);
    assert!(p.sev.iter().any(|e| matches!(e,
        ServerEvent::AuthRequest { credentials: Credentials::Chap { challenge, .. }, .. }
            if challenge == b"0123456789abcdef")));
}

#[test]
fn dns_absent_or_partial() {
    for dns in [[None, None], [Some(DNS1), None]] {
        let mut p = Pair::new(
            server_cfg(vec![AuthProto::Chap]),
            client_cfg(None, true),
            Policy::Accept(dns),
        );
        p.start();
        assert_up(&p, dns);
    }
    // A client that does not ask for DNS gets none.
    let mut p = Pair::new(
        server_cfg(vec![AuthProto::Pap]),
        client_cfg(None, false),
        Policy::Accept([Some(DNS1), Some(DNS2)]),
    );
    p.start();
    assert_up(&p, [None, None]);
}

#[test]
fn chap_refused_by_pap_only_client() {
    let p = up_pair(vec![AuthProto::Chap, AuthProto::Pap], Some(AuthProto::Pap));
    assert!(p.sev.iter().any(|e| matches!(
        e,
        ServerEvent::AuthRequest {
            credentials: Credentials::Pap { .. },
            ..
        }
    )));
}

#[test]
fn no_common_auth_protocol_fails() {
    let mut p = Pair::new(
        server_cfg(vec![AuthProto::Chap]),
        client_cfg(Some(AuthProto::Pap), true),
        Policy::Reject,
    );
    p.start();
    p.run_for(Duration::from_secs(60));
    assert_eq!(p.server_closed(), Some(CloseReason::NegotiationFailed));
    assert_eq!(p.auth_requests(), 0);
}

#[test]
fn auth_reject_closes_both() {
    for order in [AuthProto::Pap, AuthProto::Chap] {
        let mut p = Pair::new(
            server_cfg(vec![order]),
            client_cfg(None, true),
            Policy::Reject,
        );
        p.start();
        p.run_for(Duration::from_secs(30));
        assert!(p.cev.contains(&ClientEvent::AuthFailed {
            message: "go away".into()
        }));
        assert_eq!(p.server_closed(), Some(CloseReason::AuthFailed));
        assert_eq!(p.client_closed(), Some(CloseReason::AuthFailed));
        assert!(!p
            .sev
            .iter()
            .any(|e| matches!(e, ServerEvent::NetworkUp { .. })));
        assert_eq!(p.server.phase(), Phase::Dead);
        assert_eq!(p.server.poll_timeout(), None);
    }
}

#[test]
fn pap_retransmission_while_pending_asks_once() {
    let mut p = Pair::new(
        server_cfg(vec![AuthProto::Pap]),
        client_cfg(None, true),
        Policy::Hold,
    );
    p.start();
    assert_eq!(p.auth_requests(), 1);
    // The client retransmits its request; RADIUS is slow.
    p.run_for(Duration::from_secs(10));
    assert_eq!(p.auth_requests(), 1);
    assert!(p.server_closed().is_none());
    assert_eq!(p.server.phase(), Phase::Authenticate);
    p.server.auth_accept(
        p.now,
        "ok",
        NetworkGrant {
            peer_address: PEER,
            dns: [None, None],
        },
    );
    p.exchange();
    assert!(p.server.is_network_up());
    // A late retransmission gets the same answer again.
    let req = super::pap::PapRequest {
        peer_id: b"alice",
        password: SECRET.as_bytes(),
    }
    .emit(42);
    let acks = p.sent_with(protocol::PAP, super::pap::code::AUTHENTICATE_ACK);
    p.server
        .handle_frame(p.now, &super::wire::emit_frame(protocol::PAP, &req));
    p.exchange();
    assert_eq!(
        p.sent_with(protocol::PAP, super::pap::code::AUTHENTICATE_ACK),
        acks + 1
    );
    assert_eq!(p.auth_requests(), 1);
}

#[test]
fn pap_never_sent_times_out() {
    let mut p = to_authenticate(vec![AuthProto::Pap], protocol::PAP);
    p.deliver_to_server = false;
    p.run_for(Duration::from_secs(29));
    assert_eq!(p.server_closed(), None);
    // 30 s wait, then two Terminate-Requests 3 s apart.
    p.run_for(Duration::from_secs(8));
    assert_eq!(p.server_closed(), Some(CloseReason::AuthTimeout));
}

#[test]
fn chap_challenge_retransmitted_then_gives_up() {
    let mut p = to_authenticate(vec![AuthProto::Chap], protocol::CHAP);
    p.deliver_to_server = false;
    p.run_for(Duration::from_secs(40));
    assert_eq!(
        p.sent_with(protocol::CHAP, super::chap::code::CHALLENGE),
        10
    );
    assert_eq!(p.server_closed(), Some(CloseReason::AuthTimeout));
}

#[test]
fn echo_keepalive_and_idle_timeout() {
    let mut p = up_pair(vec![AuthProto::Pap], None);
    let t0 = p.now;
    // Quiet link: an echo every 10 s, answered by the client.
    p.run_for(Duration::from_secs(25));
    assert_eq!(p.server.stats().echo_requests_sent, 2);
    assert_eq!(p.server.stats().echo_replies_received, 2);
    assert_eq!(p.client.stats().echo_requests_received, 2);
    // Data-plane traffic postpones echoes (ppp_keepalive yes).
    let before = p.server.stats().echo_requests_sent;
    for i in 1..=10u64 {
        p.server
            .note_peer_activity(t0 + Duration::from_secs(25 + 5 * i));
        p.run_for(Duration::from_secs(5));
    }
    assert_eq!(p.server.stats().echo_requests_sent, before);
    // The client vanishes: echoes continue, then the idle timeout closes.
    p.deliver_to_client = false;
    p.run_for(Duration::from_secs(300));
    assert_eq!(p.server_closed(), Some(CloseReason::EchoTimeout));
    assert!(p.sev.contains(&ServerEvent::NetworkDown));
    let echoes = p.server.stats().echo_requests_sent - before;
    assert!((23..=24).contains(&echoes), "{echoes} echoes");
}

#[test]
fn echo_always_sends_despite_traffic() {
    let mut cfg = server_cfg(vec![AuthProto::Pap]);
    cfg.echo_always = true;
    let mut p = Pair::new(cfg, client_cfg(None, true), Policy::Accept([None, None]));
    p.start();
    for _ in 0..6 {
        let t = p.now + Duration::from_secs(5);
        p.server.note_peer_activity(t);
        p.run_for(Duration::from_secs(5));
    }
    assert_eq!(p.server.stats().echo_requests_sent, 3);
}

#[test]
fn echo_request_from_peer_is_answered_with_our_magic() {
    let mut p = up_pair(vec![AuthProto::Pap], None);
    let echo = emit_control_frame(
        protocol::LCP,
        code::ECHO_REQUEST,
        77,
        &[0xc1, 0xc1, 0, 2, 9, 9],
    );
    p.server.handle_frame(p.now, &echo);
    let reply = p.server.poll_transmit().unwrap();
    assert_eq!(
        reply,
        emit_control_frame(
            protocol::LCP,
            code::ECHO_REPLY,
            77,
            &[0x5e, 0x5e, 0, 1, 9, 9]
        )
    );
}

#[test]
fn protocol_reject_of_ccp_and_ipv6cp() {
    let mut p = Pair::new(
        server_cfg(vec![AuthProto::Pap]),
        client_cfg(None, true),
        Policy::Accept([None, None]),
    );
    // Before LCP is Opened: silently discarded.
    let ccp = emit_control_frame(protocol::CCP, code::CONFIGURE_REQUEST, 1, &[]);
    p.server.open(p.now);
    while p.server.poll_transmit().is_some() {}
    p.server.handle_frame(p.now, &ccp);
    assert_eq!(p.server.poll_transmit(), None);
    assert_eq!(p.server.stats().protocol_rejects_sent, 0);

    let mut p = up_pair(vec![AuthProto::Pap], None);
    let v6cp = emit_control_frame(
        protocol::IPV6CP,
        code::CONFIGURE_REQUEST,
        2,
        &[1, 10, 0, 0, 0, 0, 0, 0, 0, 1],
    );
    for (proto, frame) in [(protocol::CCP, &ccp), (protocol::IPV6CP, &v6cp)] {
        p.server.handle_frame(p.now, frame);
        let rej = p.server.poll_transmit().unwrap();
        let f = Frame::parse(&rej).unwrap();
        assert_eq!(f.protocol(), protocol::LCP);
        let pkt = ControlPacket::parse(f.payload()).unwrap();
        assert_eq!(pkt.code(), code::PROTOCOL_REJECT);
        assert_eq!(&pkt.data()[..2], &proto.to_be_bytes());
        assert_eq!(&pkt.data()[2..], &frame[4..]);
    }
    // PFC-compressed unknown protocol too; the link stays up.
    p.server.handle_frame(p.now, &[0x3d, 1, 2]);
    assert!(p.server.poll_transmit().is_some());
    assert_eq!(p.server.stats().protocol_rejects_sent, 3);
    assert!(p.server.is_network_up());
}

#[test]
fn ipv4_before_ipcp_is_discarded() {
    let mut p = Pair::new(
        server_cfg(vec![AuthProto::Pap]),
        client_cfg(None, true),
        Policy::Hold,
    );
    p.start();
    p.server
        .handle_frame(p.now, &[0xff, 0x03, 0x00, 0x21, 0x45, 0, 0, 20]);
    p.server.handle_frame(p.now, &[0x21, 0x45]);
    assert_eq!(p.server.stats().discarded_frames, 2);
    assert_eq!(p.server.poll_transmit(), None);
}

#[test]
fn client_terminates() {
    let mut p = up_pair(vec![AuthProto::Chap], None);
    p.client.close(p.now);
    p.exchange();
    assert_eq!(p.client_closed(), Some(CloseReason::AdminClose));
    assert!(p.sev.contains(&ServerEvent::NetworkDown));
    assert!(!p.server.is_network_up());
    // The server waits one restart interval after its Terminate-Ack.
    assert_eq!(p.server_closed(), None);
    p.run_for(Duration::from_secs(3));
    assert_eq!(p.server_closed(), Some(CloseReason::PeerTerminated));
}

#[test]
fn server_terminates() {
    let mut p = up_pair(vec![AuthProto::Pap], None);
    p.server.close(p.now, CloseReason::AdminClose);
    p.exchange();
    assert_eq!(p.server_closed(), Some(CloseReason::AdminClose));
    assert_eq!(
        p.sev
            .iter()
            .filter(|e| **e == ServerEvent::NetworkDown)
            .count(),
        1
    );
    p.run_for(Duration::from_secs(3));
    assert_eq!(p.client_closed(), Some(CloseReason::PeerTerminated));
    // Nothing more happens after Closed.
    assert_eq!(p.server.poll_timeout(), None);
    p.server.handle_frame(p.now, &ccp_frame());
    assert_eq!(p.server.poll_transmit(), None);
}

fn ccp_frame() -> Vec<u8> {
    emit_control_frame(protocol::CCP, code::CONFIGURE_REQUEST, 1, &[])
}

#[test]
fn terminate_from_silent_peer_still_finishes() {
    let mut p = up_pair(vec![AuthProto::Pap], None);
    p.deliver_to_client = false;
    p.server.close(p.now, CloseReason::AdminClose);
    p.run_for(Duration::from_secs(10));
    assert_eq!(p.sent_with(protocol::LCP, code::TERMINATE_REQUEST), 2);
    assert_eq!(p.server_closed(), Some(CloseReason::AdminClose));
}

#[test]
fn lcp_renegotiation_authenticates_again() {
    let mut p = up_pair(vec![AuthProto::Chap], None);
    // The peer starts LCP over (e.g. a new magic after a modem reset).
    let mut opts = Vec::new();
    super::lcp::LcpOption::MagicNumber(0x1234_5678).emit(&mut opts);
    let req = emit_control_frame(protocol::LCP, code::CONFIGURE_REQUEST, 200, &opts);
    p.server.handle_frame(p.now, &req);
    assert!(!p.server.is_network_up());
    assert_ne!(p.server.lcp_state(), State::Opened);
    p.exchange();
    assert_eq!(
        p.sev
            .iter()
            .filter(|e| **e == ServerEvent::NetworkDown)
            .count(),
        1
    );
    assert_eq!(p.auth_requests(), 2);
    assert_eq!(
        p.sev
            .iter()
            .filter(|e| matches!(e, ServerEvent::NetworkUp { .. }))
            .count(),
        2
    );
    assert!(p.server.is_network_up());
    assert_eq!(p.server_closed(), None);
}

#[test]
fn lcp_gives_up_after_max_configure() {
    let mut p = Pair::new(
        server_cfg(vec![AuthProto::Pap]),
        client_cfg(None, true),
        Policy::Hold,
    );
    p.deliver_to_client = false;
    p.server.open(p.now);
    p.exchange();
    p.run_for(Duration::from_secs(60));
    assert_eq!(p.sent_with(protocol::LCP, code::CONFIGURE_REQUEST), 10);
    assert_eq!(p.server_closed(), Some(CloseReason::ConfigureTimeout));
    assert_eq!(p.server.lcp_state(), State::Stopped);
}

#[test]
fn loopback_is_detected() {
    let now = Instant::now();
    let mut s = ServerLink::new(Arc::new(server_cfg(vec![AuthProto::Pap])), 77, [0; 16], now);
    s.open(now);
    let mut events = Vec::new();
    // Feed the server its own frames back.
    for _ in 0..50 {
        let Some(f) = s.poll_transmit() else { break };
        s.handle_frame(now, &f);
        events.extend(std::iter::from_fn(|| s.poll_event()));
    }
    let t = now + Duration::from_secs(10);
    s.handle_timeout(t);
    events.extend(std::iter::from_fn(|| s.poll_event()));
    assert!(events.contains(&ServerEvent::Closed {
        reason: CloseReason::LoopbackDetected
    }));
}

#[test]
fn malformed_frames_are_counted() {
    let mut p = up_pair(vec![AuthProto::Pap], None);
    for bad in [
        &[][..],
        &[0xff][..],
        &[0xff, 0x05, 0xc0, 0x21][..],
        &[0xc0, 0x21, 1, 1, 0][..],
        &[0xc0, 0x21, 1, 1, 0, 9, 0][..],
        &[0xc2, 0x23, 2, 1, 0, 4][..],
    ] {
        p.server.handle_frame(p.now, bad);
    }
    assert_eq!(p.server.stats().malformed_frames, 5);
    assert!(p.server.is_network_up());
}

#[test]
fn acfc_pfc_forms_are_accepted() {
    let mut p = up_pair(vec![AuthProto::Pap], None);
    // LCP Echo-Request without FF 03.
    let full = emit_control_frame(protocol::LCP, code::ECHO_REQUEST, 5, &[0, 0, 0, 0]);
    p.server.handle_frame(p.now, &full[2..]);
    assert!(p.server.poll_transmit().is_some());
    assert_eq!(p.server.stats().echo_requests_received, 1);
}

/// Client frames of a full conversation with the server configuration the
/// fuzz target uses (magic 0x5e5e0001, challenge [7; 16]).
fn fuzz_conversation(chap: bool) -> Vec<Vec<u8>> {
    let t0 = Instant::now();
    let order = if chap {
        vec![AuthProto::Chap, AuthProto::Pap]
    } else {
        vec![AuthProto::Pap]
    };
    let mut s = ServerLink::new(Arc::new(server_cfg(order)), 0x5e5e_0001, [7; 16], t0);
    let mut c = ClientLink::new(client_cfg(None, true), 0xc1c1_0002, t0);
    s.open(t0);
    c.open(t0);
    let mut sent = Vec::new();
    for _ in 0..20 {
        while let Some(f) = s.poll_transmit() {
            c.handle_frame(t0, &f);
        }
        while let Some(f) = c.poll_transmit() {
            s.handle_frame(t0, &f);
            sent.push(f);
        }
        while let Some(e) = s.poll_event() {
            if let ServerEvent::AuthRequest { .. } = e {
                let grant = NetworkGrant {
                    peer_address: Ipv4Addr::new(10, 1, 1, 1),
                    dns: [Some(Ipv4Addr::new(192, 0, 2, 1)), None],
                };
                s.auth_accept(t0, "ok", grant);
            }
        }
    }
    assert!(s.is_network_up());
    sent
}

/// `cargo test --lib ppp::link_tests::write_fuzz_seeds -- --ignored`
/// regenerates fuzz/seeds/ppp_frame/.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/ppp_frame");
    std::fs::create_dir_all(dir).unwrap();
    for (chap, selector, name) in [
        (true, 0u8, "chap_conversation"),
        (false, 1, "pap_conversation"),
    ] {
        let frames = fuzz_conversation(chap);
        let mut seed = vec![selector];
        for (i, f) in frames.iter().enumerate() {
            if i > 0 {
                seed.push(0x7E);
            }
            seed.extend_from_slice(f);
        }
        std::fs::write(format!("{dir}/{name}"), &seed).unwrap();
        // Single frames too, by protocol.
        for f in &frames {
            let fr = Frame::parse(f).unwrap();
            let code = ControlPacket::parse(fr.payload()).unwrap().code();
            let proto = match fr.protocol() {
                protocol::LCP => "lcp",
                protocol::PAP => "pap",
                protocol::CHAP => "chap",
                protocol::IPCP => "ipcp",
                _ => "other",
            };
            let mut single = vec![selector];
            single.extend_from_slice(f);
            std::fs::write(format!("{dir}/{proto}_code{code}"), single).unwrap();
        }
    }
    let rejected = [vec![4u8], fuzz_conversation(false)[1].clone()].concat();
    std::fs::write(format!("{dir}/pap_rejected"), rejected).unwrap();
}

#[test]
fn fuzz_conversation_is_deterministic() {
    assert_eq!(fuzz_conversation(true), fuzz_conversation(true));
    assert_eq!(fuzz_conversation(false), fuzz_conversation(false));
}

mod random_input {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Arbitrary frames into an opened server and client: no panic.
        #[test]
        fn links_survive_garbage(frames in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..40), 0..12)) {
            let t0 = Instant::now();
            let mut s = ServerLink::new(Arc::new(server_cfg(vec![AuthProto::Chap, AuthProto::Pap])), 1, [7; 16], t0);
            let mut c = ClientLink::new(client_cfg(None, true), 2, t0);
            s.open(t0);
            c.open(t0);
            for (i, f) in frames.iter().enumerate() {
                let now = t0 + Duration::from_millis(500 * i as u64);
                // Bias towards PPP control protocols.
                let mut framed = vec![0xff, 0x03];
                framed.extend_from_slice(&[[0xc0, 0x21], [0xc0, 0x23], [0xc2, 0x23], [0x80, 0x21]][i % 4]);
                framed.extend_from_slice(f);
                for input in [&framed[..], &f[..]] {
                    s.handle_frame(now, input);
                    c.handle_frame(now, input);
                }
                while let Some(e) = s.poll_event() {
                    if let ServerEvent::AuthRequest { .. } = e {
                        s.auth_accept(now, "ok", NetworkGrant { peer_address: PEER, dns: [None, None] });
                    }
                }
                s.handle_timeout(now);
                c.handle_timeout(now);
                while s.poll_transmit().is_some() {}
                while c.poll_transmit().is_some() {}
            }
        }
    }
}

#[test]
fn fuzz_seed_conversation_replays_to_network_up() {
    for chap in [true, false] {
        let t0 = Instant::now();
        let order = if chap {
            vec![AuthProto::Chap, AuthProto::Pap]
        } else {
            vec![AuthProto::Pap]
        };
        let mut s = ServerLink::new(Arc::new(server_cfg(order)), 0x5e5e_0001, [7; 16], t0);
        s.open(t0);
        for (i, f) in fuzz_conversation(chap).iter().enumerate() {
            let now = t0 + Duration::from_millis(100 * i as u64);
            s.handle_frame(now, f);
            while let Some(e) = s.poll_event() {
                if let ServerEvent::AuthRequest { .. } = e {
                    let grant = NetworkGrant {
                        peer_address: Ipv4Addr::new(10, 1, 1, 1),
                        dns: [Some(Ipv4Addr::new(192, 0, 2, 1)), None],
                    };
                    s.auth_accept(now, "ok", grant);
                }
            }
            s.handle_timeout(now);
        }
        assert!(s.is_network_up());
    }
}

/// Bring LCP up with the client's authentication frames held back.
fn to_authenticate(order: Vec<AuthProto>, hold: u16) -> Pair {
    let mut p = Pair::new(server_cfg(order), client_cfg(None, true), Policy::Hold);
    p.server.open(p.now);
    p.client.open(p.now);
    for _ in 0..20 {
        while let Some(f) = p.server.poll_transmit() {
            p.server_sent.push(f.clone());
            p.client.handle_frame(p.now, &f);
        }
        while let Some(f) = p.client.poll_transmit() {
            if Frame::parse(&f).unwrap().protocol() != hold {
                p.server.handle_frame(p.now, &f);
            }
        }
    }
    assert_eq!(p.server.phase(), Phase::Authenticate);
    p
}

#[test]
fn pap_after_chap_negotiated_is_accepted() {
    let mut p = to_authenticate(vec![AuthProto::Chap, AuthProto::Pap], protocol::CHAP);
    let req = super::pap::PapRequest {
        peer_id: b"alice",
        password: SECRET.as_bytes(),
    }
    .emit(1);
    p.server
        .handle_frame(p.now, &super::wire::emit_frame(protocol::PAP, &req));
    assert!(matches!(
        p.server.poll_event(),
        Some(ServerEvent::AuthRequest {
            credentials: Credentials::Pap { .. },
            ..
        })
    ));
    // Not when CHAP is the only protocol allowed.
    let mut p = to_authenticate(vec![AuthProto::Chap], protocol::CHAP);
    p.server
        .handle_frame(p.now, &super::wire::emit_frame(protocol::PAP, &req));
    assert_eq!(p.server.poll_event(), None);
}

#[test]
fn early_ipcp_request_is_answered_after_auth() {
    let mut p = to_authenticate(vec![AuthProto::Pap], protocol::PAP);
    let mut opts = Vec::new();
    super::ipcp::IpcpOption::IpAddress(Ipv4Addr::UNSPECIFIED).emit(&mut opts);
    let ipcp = emit_control_frame(protocol::IPCP, code::CONFIGURE_REQUEST, 9, &opts);
    p.server.handle_frame(p.now, &ipcp);
    assert_eq!(p.server.poll_transmit(), None);
    let req = super::pap::PapRequest {
        peer_id: b"alice",
        password: SECRET.as_bytes(),
    }
    .emit(1);
    p.server
        .handle_frame(p.now, &super::wire::emit_frame(protocol::PAP, &req));
    assert!(p.server.poll_event().is_some());
    let grant = NetworkGrant {
        peer_address: PEER,
        dns: [None, None],
    };
    p.server.auth_accept(p.now, "ok", grant);
    let sent: Vec<Vec<u8>> = std::iter::from_fn(|| p.server.poll_transmit()).collect();
    let mut nak = Vec::new();
    super::ipcp::IpcpOption::IpAddress(PEER).emit(&mut nak);
    assert_eq!(sent.len(), 3, "PAP Ack, IPCP Configure-Request, IPCP Nak");
    assert_eq!(
        sent[2],
        emit_control_frame(protocol::IPCP, code::CONFIGURE_NAK, 9, &nak)
    );
}

#[test]
fn activity_span_only_when_every_deadline_counts_from_activity() {
    // Negotiating: retransmissions are due whatever the peer sends.
    let mut p = Pair::new(
        server_cfg(vec![AuthProto::Pap]),
        client_cfg(None, true),
        Policy::Accept([None, None]),
    );
    p.server.open(p.now);
    assert_eq!(p.server.activity_span(), None);
    // Established: the echo check, counted from the last frame.
    let mut p = up_pair(vec![AuthProto::Pap], None);
    assert_eq!(p.server.activity_span(), Some(Duration::from_secs(10)));
    let deadline = p.server.poll_timeout().unwrap();
    p.server.note_peer_activity(p.now + Duration::from_secs(3));
    assert!(p.server.poll_timeout().unwrap() >= deadline + Duration::from_secs(3));
    // echo_always: echoes come whatever the traffic.
    let mut cfg = server_cfg(vec![AuthProto::Pap]);
    cfg.echo_always = true;
    let mut p = Pair::new(cfg, client_cfg(None, true), Policy::Accept([None, None]));
    p.start();
    assert_eq!(p.server.activity_span(), None);
    // Only the idle check: its span.
    let mut cfg = server_cfg(vec![AuthProto::Pap]);
    cfg.echo_interval = Duration::ZERO;
    let mut p = Pair::new(cfg, client_cfg(None, true), Policy::Accept([None, None]));
    p.start();
    assert_eq!(p.server.activity_span(), Some(Duration::from_secs(240)));
}
