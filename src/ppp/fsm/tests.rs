use super::*;

/// Requests option 1 = [1]; Naks peer option 1 unless it is [7];
/// Rejects option 9; fails on a Reject of its own option.
#[derive(Default, Debug)]
struct TestNeg {
    acked: u32,
}

impl Negotiator for TestNeg {
    fn build_request(&mut self, out: &mut Vec<u8>) {
        super::super::wire::emit_option(out, 1, &[1]);
    }
    fn judge(&mut self, o: &ConfigOption<'_>) -> Verdict {
        match (o.kind, o.data) {
            (1, [7]) => Verdict::Ack,
            (1, _) => Verdict::Nak(vec![7]),
            (9, _) => Verdict::Reject,
            _ => Verdict::Ack,
        }
    }
    fn peer_acked(&mut self, _: &[ConfigOption<'_>]) {
        self.acked += 1;
    }
    fn handle_nak(&mut self, _: &[ConfigOption<'_>]) -> Result<(), Unacceptable> {
        Ok(())
    }
    fn handle_reject(&mut self, _: &[ConfigOption<'_>]) -> Result<(), Unacceptable> {
        Err(Unacceptable)
    }
}

fn fsm() -> Fsm<TestNeg> {
    Fsm::new(TestNeg::default(), FsmConfig::default())
}

fn drain(f: &mut Fsm<TestNeg>) -> Vec<FsmOutput> {
    std::iter::from_fn(|| f.poll_output()).collect()
}

fn codes(out: &[FsmOutput]) -> Vec<u8> {
    out.iter()
        .filter_map(|o| match o {
            FsmOutput::Packet(p) => p.first().copied(),
            _ => None,
        })
        .collect()
}

fn layers(out: &[FsmOutput]) -> Vec<LayerEvent> {
    out.iter()
        .filter_map(|o| match o {
            FsmOutput::Layer(l) => Some(*l),
            _ => None,
        })
        .collect()
}

fn pkt(code: u8, id: u8, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    emit_packet(&mut v, code, id, data);
    v
}

fn feed(f: &mut Fsm<TestNeg>, now: Instant, bytes: &[u8]) {
    let p = ControlPacket::parse(bytes).unwrap();
    f.handle_packet(now, &p);
}

/// Bring to Req-Sent and return the id of our request.
fn started(f: &mut Fsm<TestNeg>, now: Instant) -> u8 {
    f.open(now);
    f.up(now);
    let out = drain(f);
    assert_eq!(layers(&out), vec![LayerEvent::Started]);
    assert_eq!(codes(&out), vec![code::CONFIGURE_REQUEST]);
    assert_eq!(f.state(), State::ReqSent);
    match &out[1] {
        FsmOutput::Packet(p) => p[1],
        _ => unreachable!(),
    }
}

fn opened(f: &mut Fsm<TestNeg>, now: Instant) {
    let id = started(f, now);
    feed(f, now, &pkt(code::CONFIGURE_ACK, id, &[1, 3, 1]));
    assert_eq!(f.state(), State::AckRcvd);
    feed(f, now, &pkt(code::CONFIGURE_REQUEST, 50, &[1, 3, 7]));
    assert_eq!(f.state(), State::Opened);
    let out = drain(f);
    assert_eq!(codes(&out), vec![code::CONFIGURE_ACK]);
    assert_eq!(layers(&out), vec![LayerEvent::Up]);
    assert_eq!(f.poll_timeout(), None);
}

#[test]
fn initial_up_open() {
    let now = Instant::now();
    let mut f = fsm();
    f.up(now);
    assert_eq!(f.state(), State::Closed);
    f.open(now);
    assert_eq!(f.state(), State::ReqSent);
    assert_eq!(codes(&drain(&mut f)), vec![code::CONFIGURE_REQUEST]);
    assert_eq!(f.poll_timeout(), Some(now + Duration::from_secs(3)));
}

#[test]
fn open_via_ack_sent() {
    let now = Instant::now();
    let mut f = fsm();
    let id = started(&mut f, now);
    feed(&mut f, now, &pkt(code::CONFIGURE_REQUEST, 9, &[1, 3, 7]));
    assert_eq!(f.state(), State::AckSent);
    assert_eq!(codes(&drain(&mut f)), vec![code::CONFIGURE_ACK]);
    // An Ack with the wrong id or content is discarded.
    feed(
        &mut f,
        now,
        &pkt(code::CONFIGURE_ACK, id.wrapping_add(1), &[1, 3, 1]),
    );
    feed(&mut f, now, &pkt(code::CONFIGURE_ACK, id, &[1, 3, 2]));
    assert_eq!(f.state(), State::AckSent);
    feed(&mut f, now, &pkt(code::CONFIGURE_ACK, id, &[1, 3, 1]));
    assert_eq!(f.state(), State::Opened);
    assert_eq!(layers(&drain(&mut f)), vec![LayerEvent::Up]);
    assert_eq!(f.neg.acked, 1);
}

#[test]
fn opened_paths() {
    let now = Instant::now();
    let mut f = fsm();
    opened(&mut f, now);
    // RCR in Opened: tld, scr, sca -> Ack-Sent.
    feed(&mut f, now, &pkt(code::CONFIGURE_REQUEST, 51, &[1, 3, 7]));
    let out = drain(&mut f);
    assert_eq!(layers(&out), vec![LayerEvent::Down]);
    assert_eq!(
        codes(&out),
        vec![code::CONFIGURE_REQUEST, code::CONFIGURE_ACK]
    );
    assert_eq!(f.state(), State::AckSent);
}

#[test]
fn nak_then_reject_after_max_failure() {
    let now = Instant::now();
    let mut f = fsm();
    started(&mut f, now);
    for i in 0..5 {
        feed(&mut f, now, &pkt(code::CONFIGURE_REQUEST, i, &[1, 3, 2]));
        let out = drain(&mut f);
        assert_eq!(codes(&out), vec![code::CONFIGURE_NAK]);
        assert_eq!(
            out[0],
            FsmOutput::Packet(pkt(code::CONFIGURE_NAK, i, &[1, 3, 7]))
        );
    }
    feed(&mut f, now, &pkt(code::CONFIGURE_REQUEST, 5, &[1, 3, 2]));
    let out = drain(&mut f);
    assert_eq!(
        out,
        vec![FsmOutput::Packet(pkt(
            code::CONFIGURE_REJECT,
            5,
            &[1, 3, 2]
        ))]
    );
    assert_eq!(f.state(), State::ReqSent);
}

#[test]
fn reject_wins_over_nak() {
    let now = Instant::now();
    let mut f = fsm();
    started(&mut f, now);
    feed(
        &mut f,
        now,
        &pkt(code::CONFIGURE_REQUEST, 3, &[1, 3, 2, 9, 2]),
    );
    let out = drain(&mut f);
    assert_eq!(
        out,
        vec![FsmOutput::Packet(pkt(code::CONFIGURE_REJECT, 3, &[9, 2]))]
    );
    // A malformed option list is silently discarded.
    feed(&mut f, now, &pkt(code::CONFIGURE_REQUEST, 4, &[1, 9]));
    assert!(drain(&mut f).is_empty());
}

#[test]
fn max_configure_gives_up() {
    let t0 = Instant::now();
    let mut f = fsm();
    started(&mut f, t0);
    let mut sent = 1;
    let mut now = t0;
    while let Some(t) = f.poll_timeout() {
        now = t;
        f.handle_timeout(now);
        let out = drain(&mut f);
        sent += codes(&out)
            .iter()
            .filter(|c| **c == code::CONFIGURE_REQUEST)
            .count();
        if f.state() == State::Stopped {
            assert_eq!(layers(&out), vec![LayerEvent::Finished]);
        }
    }
    assert_eq!(sent, 10);
    assert_eq!(f.state(), State::Stopped);
    assert_eq!(now, t0 + Duration::from_secs(30));
}

#[test]
fn timeout_before_deadline_is_ignored() {
    let now = Instant::now();
    let mut f = fsm();
    started(&mut f, now);
    f.handle_timeout(now + Duration::from_secs(1));
    assert!(drain(&mut f).is_empty());
}

#[test]
fn close_sends_terminate_twice_then_finishes() {
    let now = Instant::now();
    let mut f = fsm();
    opened(&mut f, now);
    f.close(now);
    let out = drain(&mut f);
    assert_eq!(layers(&out), vec![LayerEvent::Down]);
    assert_eq!(codes(&out), vec![code::TERMINATE_REQUEST]);
    assert_eq!(f.state(), State::Closing);
    let t1 = f.poll_timeout().unwrap();
    f.handle_timeout(t1);
    assert_eq!(codes(&drain(&mut f)), vec![code::TERMINATE_REQUEST]);
    let t2 = f.poll_timeout().unwrap();
    f.handle_timeout(t2);
    assert_eq!(layers(&drain(&mut f)), vec![LayerEvent::Finished]);
    assert_eq!(f.state(), State::Closed);
    assert_eq!(f.poll_timeout(), None);
}

#[test]
fn close_then_terminate_ack() {
    let now = Instant::now();
    let mut f = fsm();
    opened(&mut f, now);
    f.close(now);
    drain(&mut f);
    feed(&mut f, now, &pkt(code::TERMINATE_ACK, 1, &[]));
    assert_eq!(layers(&drain(&mut f)), vec![LayerEvent::Finished]);
    assert_eq!(f.state(), State::Closed);
    // RCR in Closed: sta.
    feed(&mut f, now, &pkt(code::CONFIGURE_REQUEST, 8, &[]));
    assert_eq!(codes(&drain(&mut f)), vec![code::TERMINATE_ACK]);
}

#[test]
fn peer_terminate_in_opened() {
    let now = Instant::now();
    let mut f = fsm();
    opened(&mut f, now);
    feed(&mut f, now, &pkt(code::TERMINATE_REQUEST, 77, &[]));
    let out = drain(&mut f);
    assert_eq!(layers(&out), vec![LayerEvent::Down]);
    assert_eq!(out[1], FsmOutput::Packet(pkt(code::TERMINATE_ACK, 77, &[])));
    assert_eq!(f.state(), State::Stopping);
    let t = f.poll_timeout().unwrap();
    assert_eq!(t, now + Duration::from_secs(3));
    f.handle_timeout(t);
    assert_eq!(layers(&drain(&mut f)), vec![LayerEvent::Finished]);
    assert_eq!(f.state(), State::Stopped);
}

#[test]
fn terminate_request_during_negotiation() {
    let now = Instant::now();
    let mut f = fsm();
    started(&mut f, now);
    feed(&mut f, now, &pkt(code::TERMINATE_REQUEST, 4, &[]));
    assert_eq!(codes(&drain(&mut f)), vec![code::TERMINATE_ACK]);
    assert_eq!(f.state(), State::ReqSent);
}

#[test]
fn nak_resends_and_reject_fails() {
    let now = Instant::now();
    let mut f = fsm();
    let id = started(&mut f, now);
    feed(&mut f, now, &pkt(code::CONFIGURE_NAK, id, &[1, 3, 5]));
    assert_eq!(codes(&drain(&mut f)), vec![code::CONFIGURE_REQUEST]);
    // A Nak for an old id is ignored.
    feed(&mut f, now, &pkt(code::CONFIGURE_NAK, id, &[1, 3, 5]));
    assert!(drain(&mut f).is_empty());
    let id = id + 1;
    feed(&mut f, now, &pkt(code::CONFIGURE_REJECT, id, &[1, 3, 1]));
    let out = drain(&mut f);
    assert_eq!(out[0], FsmOutput::NegotiationFailed);
    assert_eq!(codes(&out), vec![code::TERMINATE_REQUEST]);
    assert_eq!(f.state(), State::Closing);
}

#[test]
fn code_reject_and_unknown_code() {
    let now = Instant::now();
    let mut f = fsm();
    opened(&mut f, now);
    feed(&mut f, now, &pkt(42, 3, &[1, 2]));
    let out = drain(&mut f);
    assert_eq!(codes(&out), vec![code::CODE_REJECT]);
    // Code-Reject of Echo (RXJ+) is harmless; of Configure-Request fatal.
    feed(&mut f, now, &pkt(code::CODE_REJECT, 1, &[9, 1, 0, 4]));
    assert_eq!(f.state(), State::Opened);
    feed(&mut f, now, &pkt(code::CODE_REJECT, 1, &[1, 1, 0, 4]));
    let out = drain(&mut f);
    assert_eq!(layers(&out), vec![LayerEvent::Down]);
    assert_eq!(codes(&out), vec![code::TERMINATE_REQUEST]);
    assert_eq!(f.state(), State::Stopping);
}

#[test]
fn down_and_close_from_starting() {
    let now = Instant::now();
    let mut f = fsm();
    opened(&mut f, now);
    f.down();
    assert_eq!(f.state(), State::Starting);
    assert_eq!(layers(&drain(&mut f)), vec![LayerEvent::Down]);
    f.close(now);
    assert_eq!(f.state(), State::Initial);
    assert_eq!(layers(&drain(&mut f)), vec![LayerEvent::Finished]);
}

#[test]
fn crossed_ack_in_ack_rcvd() {
    let now = Instant::now();
    let mut f = fsm();
    let id = started(&mut f, now);
    feed(&mut f, now, &pkt(code::CONFIGURE_ACK, id, &[1, 3, 1]));
    assert_eq!(f.state(), State::AckRcvd);
    // Timer still runs in Ack-Rcvd: TO+ resends -> Req-Sent.
    let t = f.poll_timeout().unwrap();
    f.handle_timeout(t);
    assert_eq!(f.state(), State::ReqSent);
    assert_eq!(codes(&drain(&mut f)), vec![code::CONFIGURE_REQUEST]);
}

#[test]
fn retransmitted_request_keeps_identifier_and_duplicates_do_not_renegotiate() {
    let t0 = Instant::now();
    let mut f = fsm();
    let id = started(&mut f, t0);
    // TO+ in Req-Sent: the same request, same Identifier (§5.1).
    f.handle_timeout(t0 + Duration::from_secs(3));
    let out = drain(&mut f);
    assert_eq!(
        out,
        vec![FsmOutput::Packet(pkt(
            code::CONFIGURE_REQUEST,
            id,
            &[1, 3, 1]
        ))]
    );
    // The Ack of the first copy opens; the Ack of the second is a duplicate.
    feed(&mut f, t0, &pkt(code::CONFIGURE_ACK, id, &[1, 3, 1]));
    feed(&mut f, t0, &pkt(code::CONFIGURE_REQUEST, 50, &[1, 3, 7]));
    assert_eq!(f.state(), State::Opened);
    drain(&mut f);
    feed(&mut f, t0, &pkt(code::CONFIGURE_ACK, id, &[1, 3, 1]));
    assert_eq!(f.state(), State::Opened);
    assert!(drain(&mut f).is_empty());
    // The peer's copy of the request we Acked (our Ack crossed it): Ack again.
    feed(&mut f, t0, &pkt(code::CONFIGURE_REQUEST, 50, &[1, 3, 7]));
    assert_eq!(f.state(), State::Opened);
    assert_eq!(
        drain(&mut f),
        vec![FsmOutput::Packet(pkt(code::CONFIGURE_ACK, 50, &[1, 3, 7]))]
    );
    // A new request (new Identifier) still renegotiates (RFC 1661 RCR in Opened).
    feed(&mut f, t0, &pkt(code::CONFIGURE_REQUEST, 51, &[1, 3, 7]));
    assert_eq!(f.state(), State::AckSent);
    assert_eq!(layers(&drain(&mut f)), vec![LayerEvent::Down]);
}

#[test]
fn lost_naks_do_not_count_toward_max_failure() {
    let t0 = Instant::now();
    let mut f = fsm();
    started(&mut f, t0);
    drain(&mut f);
    // The same unacceptable request 20 times (our Naks lost): still Naked.
    for _ in 0..20 {
        feed(&mut f, t0, &pkt(code::CONFIGURE_REQUEST, 60, &[1, 3, 2]));
        assert_eq!(codes(&drain(&mut f)), vec![code::CONFIGURE_NAK]);
    }
    // A peer that ignores our Nak (new Identifier each time) is Rejected
    // once Max-Failure (5) Naks went unheeded.
    let mut last = Vec::new();
    for id in 61..70 {
        feed(&mut f, t0, &pkt(code::CONFIGURE_REQUEST, id, &[1, 3, 2]));
        last = codes(&drain(&mut f));
    }
    assert_eq!(last, vec![code::CONFIGURE_REJECT]);
}

#[test]
fn max_configure_timeout_is_reported() {
    let t0 = Instant::now();
    let mut f = fsm();
    started(&mut f, t0);
    for n in 1..=10 {
        f.handle_timeout(t0 + Duration::from_secs(3 * n));
    }
    assert_eq!(f.state(), State::Stopped);
    assert!(f.configure_timed_out());
}
