//! Refusing an SCCRQ without making a tunnel for it: one StopCCN (RFC 2661
//! §6.4) built from the SCCRQ alone, sent once, never retransmitted, so a
//! flood of SCCRQs costs no tunnel id and no state.
//!
//! - Header: the peer's Assigned Tunnel ID as tunnel id (§3.1: the
//!   recipient's id), session 0, Ns 0 (our first message), Nr 1 (it
//!   acknowledges the SCCRQ, Ns 0).
//! - AVPs: Message Type StopCCN, Assigned Tunnel ID, Result Code.
//!
//! Assigned Tunnel ID is 0. §6.4 requires the AVP in a StopCCN and §4.4.3
//! describes it as the id the sender assigned to the tunnel; we assigned
//! none, and 0 is the one value that names no tunnel of ours. A LAC that
//! acks the StopCCN (a ZLB to the tunnel id it read there) then reaches
//! tunnel 0, which the control plane ignores, instead of some live tunnel
//! of the same LAC. RFC 3931 (L2TPv3) made the AVP optional in a StopCCN
//! for this case; xl2tpd and our `l2tp::lac` take the StopCCN either way.

use super::message::{ControlMessage, MessageType};
use super::result_code::StopCcnResult;
use super::wire::build_control;

/// The StopCCN that refuses an SCCRQ whose Assigned Tunnel ID was
/// `peer_tunnel_id`, with `result` (usually 2/4, insufficient resources).
pub fn stateless_stopccn(peer_tunnel_id: u16, result: &StopCcnResult) -> Vec<u8> {
    let mut m = ControlMessage::new(MessageType::StopCcn);
    m.assigned_tunnel_id = Some(0);
    m.result_code = Some(result.to_avp());
    // Nothing hidden, so emitting cannot fail; an empty payload would be a ZLB.
    let payload = m.to_payload(None).unwrap_or_default();
    build_control(peer_tunnel_id, 0, 0, 1, &payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l2tp::lac::{LacConfig, LacEvent, LacTunnel};
    use crate::l2tp::result_code::{ErrorCode, StopCcnCode};
    use crate::l2tp::tunnel::CloseReason;
    use crate::l2tp::wire::Header;
    use std::sync::Arc;
    use std::time::Instant;

    fn no_resources() -> StopCcnResult {
        StopCcnResult::new(StopCcnCode::GeneralError)
            .with_error(ErrorCode::InsufficientResources)
            .with_message("tunnel limit")
    }

    #[test]
    fn parses_back_as_a_stopccn_2_4_that_acks_the_sccrq() {
        let d = stateless_stopccn(77, &no_resources());
        let h = Header::parse(&d).unwrap();
        assert!(h.is_control());
        assert_eq!(
            (h.tunnel_id(), h.session_id(), h.ns(), h.nr()),
            (77, 0, Some(0), Some(1))
        );
        assert_eq!(h.message_len(), d.len());
        let m = ControlMessage::parse(h.payload(&d), None).unwrap();
        assert_eq!(m.message_type, MessageType::StopCcn);
        assert_eq!(m.assigned_tunnel_id, Some(0));
        let r = m.result_code.unwrap();
        assert_eq!((r.result, r.error), (2, Some(4)));
        assert_eq!(r.message.as_deref(), Some(&b"tunnel limit"[..]));
    }

    #[test]
    fn a_lac_waiting_for_its_sccrp_takes_it_and_closes() {
        let now = Instant::now();
        let mut lac = LacTunnel::new(Arc::new(LacConfig::default()), 41, [3; 16], now);
        let sccrq = lac.poll_transmit(now).unwrap();
        assert_eq!(Header::parse(&sccrq).unwrap().ns(), Some(0));
        lac.handle_datagram(now, &stateless_stopccn(41, &no_resources()));
        let events: Vec<LacEvent> = std::iter::from_fn(|| lac.poll_event()).collect();
        assert!(
            matches!(
                events.as_slice(),
                [LacEvent::Closed { reason: CloseReason::PeerStopCcn { result: Some(r) } }]
                    if r.result == 2 && r.error == Some(4)
            ),
            "{events:?}"
        );
        // It acks the StopCCN towards tunnel 0: it never learnt an id of ours.
        let ack = lac.poll_transmit(now).unwrap();
        assert_eq!(Header::parse(&ack).unwrap().tunnel_id(), 0);
    }
}
