//! LNS <-> LAC in memory, through a shim that can drop and reorder.
use super::*;
use crate::l2tp::result_code::CdnCode;
use crate::l2tp::tunnel::{Tunnel, TunnelConfig, TunnelEvent};

#[derive(Default)]
struct Shim {
    drop_every: Option<usize>,
    swap_pairs: bool,
    count: usize,
    held: [Option<Vec<u8>>; 2],
}

impl Shim {
    /// Messages to deliver now for `dir` (0: LAC->LNS, 1: LNS->LAC).
    fn pass(&mut self, dir: usize, d: Vec<u8>) -> Vec<Vec<u8>> {
        self.count += 1;
        if let Some(n) = self.drop_every {
            if self.count.is_multiple_of(n) {
                return vec![];
            }
        }
        if !self.swap_pairs {
            return vec![d];
        }
        match self.held[dir].take() {
            Some(h) => vec![d, h],
            None => {
                self.held[dir] = Some(d);
                vec![]
            }
        }
    }
    fn flush(&mut self, dir: usize) -> Option<Vec<u8>> {
        self.held[dir].take()
    }
}

struct Net {
    now: Instant,
    lns_cfg: Arc<TunnelConfig>,
    lns: Option<Tunnel>,
    lac: LacTunnel,
    shim: Shim,
    lns_events: Vec<TunnelEvent>,
    lac_events: Vec<LacEvent>,
    /// Every datagram either side sent.
    log: Vec<Vec<u8>>,
}

impl Net {
    fn new(lns_cfg: TunnelConfig, lac_cfg: LacConfig, shim: Shim) -> Net {
        let now = Instant::now();
        Net {
            now,
            lns_cfg: Arc::new(lns_cfg),
            lns: None,
            lac: LacTunnel::new(Arc::new(lac_cfg), 77, [0x11; 16], now),
            shim,
            lns_events: vec![],
            lac_events: vec![],
            log: vec![],
        }
    }

    fn deliver_to_lns(&mut self, d: Vec<u8>) {
        match &mut self.lns {
            Some(t) => t.handle_datagram(self.now, &d),
            None => {
                let t = Tunnel::from_sccrq(self.lns_cfg.clone(), 5, &d, [0x22; 16], self.now);
                self.lns = Some(t.expect("first datagram is a valid SCCRQ"));
            }
        }
    }

    /// Exchange datagrams; when nothing moves, advance the clock.
    /// Returns false if nothing happens any more.
    fn step(&mut self) -> bool {
        let mut moved = false;
        while let Some(d) = self.lac.poll_transmit(self.now) {
            moved = true;
            self.log.push(d.clone());
            for d in self.shim.pass(0, d) {
                self.deliver_to_lns(d);
            }
        }
        if let Some(t) = &mut self.lns {
            let mut out = vec![];
            while let Some(d) = t.poll_transmit(self.now) {
                out.push(d);
            }
            for d in out {
                moved = true;
                self.log.push(d.clone());
                for d in self.shim.pass(1, d) {
                    self.lac.handle_datagram(self.now, &d);
                }
            }
        }
        self.collect();
        if moved {
            return true;
        }
        if let Some(d) = self.shim.flush(0) {
            self.deliver_to_lns(d);
            return true;
        }
        if let Some(d) = self.shim.flush(1) {
            self.lac.handle_datagram(self.now, &d);
            return true;
        }
        let next = [
            self.lac.poll_timeout(),
            self.lns.as_ref().and_then(|t| t.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { return false };
        self.now = self.now.max(next);
        self.lac.handle_timeout(self.now);
        if let Some(t) = &mut self.lns {
            t.handle_timeout(self.now);
        }
        true
    }

    fn collect(&mut self) {
        while let Some(e) = self.lac.poll_event() {
            self.lac_events.push(e);
        }
        if let Some(t) = &mut self.lns {
            while let Some(e) = t.poll_event() {
                self.lns_events.push(e);
            }
        }
    }

    fn run_until(&mut self, mut cond: impl FnMut(&Net) -> bool) {
        for _ in 0..10_000 {
            self.collect();
            if cond(self) {
                return;
            }
            if !self.step() {
                break;
            }
        }
        self.collect();
        assert!(
            cond(self),
            "did not converge: lns {:?}\nlac {:?}",
            self.lns_events,
            self.lac_events
        );
    }

    fn lns(&self) -> &Tunnel {
        self.lns.as_ref().unwrap()
    }
}

fn full_exchange(lns_cfg: TunnelConfig, lac_cfg: LacConfig, shim: Shim) -> Net {
    let mut n = Net::new(lns_cfg, lac_cfg, shim);
    n.run_until(|n| n.lac.is_established() && n.lns.as_ref().is_some_and(|t| t.is_established()));
    assert_eq!(n.lns().peer_hostname(), "lac");
    assert_eq!(n.lns().peer_id(), 77);
    assert_eq!(n.lac.peer_id(), 5);
    assert_eq!(n.lns_events, vec![TunnelEvent::Established]);

    // Call 1: placed, connected, hung up by the LAC.
    let call = OutgoingCall {
        calling_number: Some("0123".into()),
        ..Default::default()
    };
    let sid = n.lac.place_call(n.now, call).unwrap();
    n.run_until(|n| {
        n.lns_events
            .iter()
            .any(|e| matches!(e, TunnelEvent::CallConnected { .. }))
    });
    let TunnelEvent::IncomingCall {
        local_sid,
        peer_sid,
        call,
    } = n.lns_events[1].clone()
    else {
        panic!("{:?}", n.lns_events)
    };
    assert_eq!(peer_sid, sid);
    assert_eq!(call.calling_number.as_deref(), Some("0123"));
    assert!(
        matches!(&n.lns_events[2], TunnelEvent::CallConnected { local_sid: l, connect }
        if *l == local_sid && connect.tx_connect_speed == Some(100_000_000))
    );
    assert_eq!(n.lns().session_peer_id(local_sid), Some(sid));
    assert!(n.lac_events.contains(&LacEvent::CallUp {
        local_sid: sid,
        peer_sid: local_sid
    }));
    let now = n.now;
    n.lac
        .hangup(now, sid, CdnResult::new(CdnCode::Administrative));
    n.run_until(|n| n.lns().session_count() == 0);
    assert!(
        matches!(&n.lns_events[3], TunnelEvent::CallDisconnected { local_sid: l, info }
        if *l == local_sid && info.by_peer && info.result == 3)
    );

    // Call 2: disconnected by the LNS.
    let sid2 = n.lac.place_call(n.now, OutgoingCall::default()).unwrap();
    n.run_until(|n| n.lns_events.len() == 6);
    let TunnelEvent::CallConnected { local_sid: l2, .. } = n.lns_events[5] else {
        panic!()
    };
    let now = n.now;
    n.lns
        .as_mut()
        .unwrap()
        .disconnect_session(now, l2, CdnResult::new(CdnCode::LostCarrier));
    assert_eq!(n.lns().session_count(), 0);
    n.run_until(|n| n.lac.call_count() == 0);
    assert!(n.lac_events.iter().any(
        |e| matches!(e, LacEvent::CallDisconnected { local_sid, info }
        if *local_sid == sid2 && info.result == 1)
    ));

    // The LAC closes the tunnel.
    let now = n.now;
    n.lac
        .close(now, StopCcnResult::new(StopCcnCode::ClearConnection));
    n.run_until(|n| n.lac.is_closed() && n.lns().is_closed());
    assert!(
        matches!(n.lns_events.last(), Some(TunnelEvent::Closed { reason: CloseReason::PeerStopCcn { result: Some(r) } }) if r.result == 1)
    );
    assert!(matches!(
        n.lac_events.last(),
        Some(LacEvent::Closed {
            reason: CloseReason::Local(_)
        })
    ));
    n
}

fn secret_cfgs(require: bool) -> (TunnelConfig, LacConfig) {
    (
        TunnelConfig {
            secret: Some(b"s3cret".to_vec()),
            require_peer_auth: require,
            ..Default::default()
        },
        LacConfig {
            secret: Some(b"s3cret".to_vec()),
            challenge_lns: true,
            hide_avps: true,
            ..Default::default()
        },
    )
}

#[test]
fn clean_exchange() {
    let n = full_exchange(
        TunnelConfig::default(),
        LacConfig::default(),
        Shim::default(),
    );
    assert_eq!(n.lns().stats().channel.retransmits, 0);
}

#[test]
fn with_auth_and_hidden_avps() {
    let (l, c) = secret_cfgs(true);
    full_exchange(l, c, Shim::default());
    let (l, c) = secret_cfgs(false);
    full_exchange(l, c, Shim::default());
}

#[test]
fn lossy_reordering_link_converges() {
    let (l, c) = secret_cfgs(true);
    let shim = Shim {
        drop_every: Some(3),
        swap_pairs: true,
        ..Default::default()
    };
    let n = full_exchange(l, c, shim);
    let s = n.lns().stats().channel;
    assert!(s.retransmits > 0 || n.lac.stats().retransmits > 0);
    let shim = Shim {
        drop_every: Some(3),
        ..Default::default()
    };
    full_exchange(TunnelConfig::default(), LacConfig::default(), shim);
    let shim = Shim {
        swap_pairs: true,
        ..Default::default()
    };
    full_exchange(TunnelConfig::default(), LacConfig::default(), shim);
}

#[test]
fn wrong_secret_refused() {
    let (l, mut c) = secret_cfgs(true);
    c.secret = Some(b"other".to_vec());
    c.hide_avps = false;
    let mut n = Net::new(l, c, Shim::default());
    n.run_until(|n| n.lac.is_closed());
    // The LAC sees a bad response to its challenge and refuses.
    assert!(
        matches!(&n.lac_events[..], [LacEvent::Closed { reason: CloseReason::Refused(r) }]
        if r.code == StopCcnCode::NotAuthorized)
    );
    assert!(matches!(
        n.lns_events.last(),
        Some(TunnelEvent::Closed { .. })
    ));
}

#[test]
fn lns_challenge_wrong_response_refused() {
    let (l, mut c) = secret_cfgs(true);
    c.secret = Some(b"other".to_vec());
    c.challenge_lns = false;
    c.hide_avps = false;
    let mut n = Net::new(l, c, Shim::default());
    n.run_until(|n| n.lns.as_ref().is_some_and(|t| t.is_closed()));
    assert!(
        matches!(&n.lns_events[..], [TunnelEvent::Closed { reason: CloseReason::Refused(r) }]
        if r.code == StopCcnCode::NotAuthorized)
    );
    assert!(
        matches!(n.lac_events.last(), Some(LacEvent::Closed { reason: CloseReason::PeerStopCcn { result: Some(r) } }) if r.result == 4)
    );
}

#[test]
fn lns_closes_tunnel() {
    let mut n = Net::new(
        TunnelConfig::default(),
        LacConfig::default(),
        Shim::default(),
    );
    n.run_until(|n| n.lac.is_established() && n.lns.as_ref().is_some_and(|t| t.is_established()));
    n.lac.place_call(n.now, OutgoingCall::default());
    n.run_until(|n| n.lns().session_count() == 1 && n.lac_events.len() == 2);
    let now = n.now;
    n.lns
        .as_mut()
        .unwrap()
        .close(now, StopCcnResult::new(StopCcnCode::ShuttingDown));
    assert_eq!(n.lns().session_count(), 0);
    n.run_until(|n| n.lns().is_closed());
    assert!(
        matches!(n.lns_events.last(), Some(TunnelEvent::Closed { reason: CloseReason::Local(r) }) if r.code == StopCcnCode::ShuttingDown)
    );
    assert!(
        matches!(n.lac_events.last(), Some(LacEvent::Closed { reason: CloseReason::PeerStopCcn { result: Some(r) } }) if r.result == 6)
    );
    // The LAC lingers, then is done.
    assert!(!n.lac.is_closed());
    n.run_until(|n| n.lac.is_closed());
}

#[test]
fn peer_silent_gives_up() {
    let mut n = Net::new(
        TunnelConfig::default(),
        LacConfig::default(),
        Shim::default(),
    );
    n.run_until(|n| n.lns.as_ref().is_some_and(|t| t.is_established()));
    // The LAC vanishes: only the LNS is driven from now on.
    let mut lns = n.lns.take().unwrap();
    let mut now = n.now;
    while let Some(t) = lns.poll_timeout() {
        now = t;
        lns.handle_timeout(now);
        while lns.poll_transmit(now).is_some() {}
    }
    assert!(lns.is_closed());
    let ev: Vec<_> = std::iter::from_fn(|| lns.poll_event()).collect();
    assert_eq!(
        ev,
        vec![TunnelEvent::Closed {
            reason: CloseReason::PeerUnreachable
        }]
    );
    // HELLO at 60 s, then 1+2+4+8+8+8 s of retransmission.
    assert_eq!(now - n.now, Duration::from_secs(60 + 31));
}

/// Regenerate the fuzz corpus seeds:
/// `cargo test --lib l2tp::lac::tests::write_fuzz_seeds -- --ignored`
#[test]
#[ignore]
fn write_fuzz_seeds() {
    use crate::l2tp::message::ControlMessage;
    use crate::l2tp::wire::Header;
    let (l, c) = secret_cfgs(false);
    let n = full_exchange(l, c, Shim::default());
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/l2tp_message");
    std::fs::create_dir_all(dir).unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut log = n.log.clone();
    let mut hello = Vec::new();
    crate::l2tp::avp::push_message_type(&mut hello, 6);
    log.push(crate::l2tp::wire::build_control(5, 0, 7, 7, &hello));
    for d in log {
        let h = Header::parse(&d).unwrap();
        let m = ControlMessage::parse(h.payload(&d), Some(b"s3cret")).unwrap();
        let name = format!("{:?}", m.message_type).to_lowercase();
        if seen.insert(name.clone()) {
            std::fs::write(format!("{dir}/{name}.bin"), &d).unwrap();
        }
    }
    assert!(seen.len() >= 8, "{seen:?}");
}
