//! Limits against floods and spoofing: messages for a live tunnel or
//! session from another address or port change nothing; SCCRQs beyond
//! max_tunnels or the per-source limits get a stateless StopCCN 2/4 (itself
//! rate-limited); calls beyond max_sessions get CDN 2/4.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::daemon::clock::Clock;
use crate::l2tp::lac::{LacConfig, LacEvent, LacTunnel, OutgoingCall};
use crate::l2tp::message::{ControlMessage, MessageType};
use crate::l2tp::result_code::{CdnCode, CdnResult, StopCcnCode, StopCcnResult};
use crate::l2tp::tunnel::CloseReason;
use crate::l2tp::wire::{write_data_header, Header, DATA_HEADER_LEN};
use crate::pool::AddressPool;

use super::super::io::Io;
use super::super::ControlPlane;
use super::{Bench, OneUser, TUN};

pub(super) fn control_plane(cfg: &Config, now: Instant) -> ControlPlane {
    let settings = crate::daemon::settings::control_settings(cfg, TUN);
    let pool = AddressPool::new((1..=4).map(|i| Ipv4Addr::new(10, 100, 0, i)));
    ControlPlane::new(
        settings,
        pool,
        Some(Box::new(OneUser)),
        None,
        Arc::new(Clock::new(now)),
    )
}

/// Run a LAC against the control plane at `now` for 50 rounds of
/// datagrams each way, handing every LAC event to `on_event` (which may
/// place calls).
pub(super) fn pump_lac(
    cp: &mut ControlPlane,
    lac: &mut LacTunnel,
    from: SocketAddr,
    now: Instant,
    mut on_event: impl FnMut(&mut LacTunnel, LacEvent),
) {
    for _ in 0..50 {
        while let Some(d) = lac.poll_transmit(now) {
            cp.handle_datagram(now, from, &d);
        }
        while let Some(io) = cp.poll_io() {
            if let Io::L2tp { bytes, .. } = io {
                if Header::parse(&bytes).unwrap().is_control() {
                    lac.handle_datagram(now, &bytes);
                }
            }
        }
        while let Some(ev) = lac.poll_event() {
            on_event(lac, ev);
        }
    }
}

fn config(vars: &[(&str, &str)]) -> Config {
    let mut cfg = Config::default();
    for (k, v) in vars {
        cfg.set(k, v).unwrap();
    }
    cfg
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A LAC whose SCCRQ names `peer_tid`, and that SCCRQ.
fn lac_and_sccrq(peer_tid: u16, now: Instant) -> (LacTunnel, Vec<u8>) {
    let mut lac = LacTunnel::new(Arc::new(LacConfig::default()), peer_tid, [5; 16], now);
    let sccrq = lac.poll_transmit(now).unwrap();
    (lac, sccrq)
}

/// What the control plane sent over L2TP, parsed.
struct Sent {
    to: SocketAddr,
    header: Header,
    message: ControlMessage,
    bytes: Vec<u8>,
}

fn sent(cp: &mut ControlPlane) -> Vec<Sent> {
    std::iter::from_fn(|| cp.poll_io())
        .filter_map(|io| match io {
            Io::L2tp { to, bytes } => {
                let header = Header::parse(&bytes).unwrap();
                let message = ControlMessage::parse(header.payload(&bytes), None).unwrap();
                Some(Sent {
                    to,
                    header,
                    message,
                    bytes,
                })
            }
            _ => None,
        })
        .collect()
}

/// A stateless StopCCN 2/4 to `peer_tid` at `to`.
fn assert_refusal(s: &Sent, to: SocketAddr, peer_tid: u16) {
    assert_eq!(s.to, to);
    let h = &s.header;
    assert_eq!(
        (h.tunnel_id(), h.session_id(), h.ns(), h.nr()),
        (peer_tid, 0, Some(0), Some(1))
    );
    assert_eq!(s.message.message_type, MessageType::StopCcn);
    assert_eq!(s.message.assigned_tunnel_id, Some(0));
    let r = s.message.result_code.as_ref().unwrap();
    assert_eq!((r.result, r.error), (2, Some(4)));
}

fn count(v: &[Sent], t: MessageType) -> usize {
    v.iter().filter(|s| s.message.message_type == t).count()
}

#[test]
fn a_stopccn_from_another_port_or_address_changes_nothing() {
    let mut b = Bench::new("pw");
    b.come_up();
    let mut stopccn = None;
    b.lac
        .close(b.now, StopCcnResult::new(StopCcnCode::ClearConnection));
    while let Some(d) = b.lac.poll_transmit(b.now) {
        stopccn = Some(d);
    }
    let stopccn = stopccn.unwrap();
    for forger in ["192.0.2.9:1702", "192.0.2.10:1701"] {
        b.cp.handle_datagram(b.now, addr(forger), &stopccn);
    }
    assert_eq!(b.cp.stats.wrong_source, 2);
    assert!(b.cp.poll_io().is_none(), "not even a ZLB to the forger");
    assert_eq!((b.cp.tunnel_count(), b.cp.closing_tunnel_count()), (1, 0));
    assert_eq!(b.cp.session_count(), 1);
    // The very same bytes from the LAC's address and port close the tunnel.
    b.cp.handle_datagram(b.now, Bench::lac_addr(), &stopccn);
    assert_eq!((b.cp.tunnel_count(), b.cp.session_count()), (0, 0));
}

#[test]
fn a_cdn_or_ppp_frame_from_another_port_changes_nothing() {
    let mut b = Bench::new("pw");
    b.come_up();
    let (local_sid, peer_sid) = b.client.as_ref().map(|c| (c.1, c.2)).unwrap();
    // LCP Terminate-Request for the session, as its client would send it.
    let mut terminate = vec![0; DATA_HEADER_LEN];
    write_data_header(&mut terminate, b.lac.peer_id(), peer_sid);
    terminate.extend_from_slice(&[0xff, 0x03, 0xc0, 0x21, 0x05, 0x09, 0x00, 0x04]);
    b.cp.handle_datagram(b.now, addr("192.0.2.9:1702"), &terminate);
    b.lac
        .hangup(b.now, local_sid, CdnResult::new(CdnCode::Administrative));
    let cdn = b.lac.poll_transmit(b.now).unwrap();
    b.cp.handle_datagram(b.now, addr("192.0.2.9:1702"), &cdn);
    b.cp.handle_datagram(b.now, addr("198.51.100.7:1701"), &cdn);
    assert_eq!(b.cp.stats.wrong_source, 3);
    assert!(b.cp.poll_io().is_none());
    assert_eq!(b.cp.session_count(), 1);
    // From the LAC itself the CDN ends the session.
    b.cp.handle_datagram(b.now, Bench::lac_addr(), &cdn);
    assert_eq!(b.cp.session_count(), 0);
    assert_eq!(b.cp.tunnel_count(), 1);
}

#[test]
fn an_sccrq_beyond_max_tunnels_gets_a_stateless_stopccn_2_4() {
    let now = Instant::now();
    let mut cp = control_plane(&config(&[("max_tunnels", "1")]), now);
    let (_, first) = lac_and_sccrq(11, now);
    cp.handle_datagram(now, addr("192.0.2.1:1701"), &first);
    assert_eq!(count(&sent(&mut cp), MessageType::Sccrp), 1);
    let (mut second_lac, second) = lac_and_sccrq(12, now);
    cp.handle_datagram(now, addr("192.0.2.2:1701"), &second);
    let out = sent(&mut cp);
    assert_eq!(out.len(), 1);
    assert_refusal(&out[0], addr("192.0.2.2:1701"), 12);
    assert_eq!(cp.tunnel_count(), 1, "no tunnel for the refused one");
    assert_eq!(cp.stats.tunnel_limit, 1);
    // The LAC reads it as the end of its tunnel, result 2 error 4.
    second_lac.handle_datagram(now, &out[0].bytes);
    assert!(matches!(
        second_lac.poll_event(),
        Some(LacEvent::Closed { reason: CloseReason::PeerStopCcn { result: Some(r) } })
            if (r.result, r.error) == (2, Some(4))
    ));
    // Its ack (a ZLB to tunnel 0) is ignored, not counted as malformed.
    while let Some(d) = second_lac.poll_transmit(now) {
        cp.handle_datagram(now, addr("192.0.2.2:1701"), &d);
    }
    assert_eq!(cp.stats.malformed, 0);
    assert!(cp.poll_io().is_none());
}

#[test]
fn tunnels_per_source_beyond_the_limit_get_a_stopccn_2_4() {
    let now = Instant::now();
    let cfg = config(&[
        ("max_tunnels_per_source", "2"),
        ("sccrq_rate_per_source", "0"),
    ]);
    let mut cp = control_plane(&cfg, now);
    // Two tunnels from one address (two ports), a third is refused...
    for (port, tid) in [(1701, 21), (1702, 22), (1703, 23)] {
        let from = SocketAddr::from(([192, 0, 2, 1], port));
        cp.handle_datagram(now, from, &lac_and_sccrq(tid, now).1);
    }
    let out = sent(&mut cp);
    assert_eq!(count(&out, MessageType::Sccrp), 2);
    assert_eq!(out.len(), 3);
    assert_refusal(&out[2], addr("192.0.2.1:1703"), 23);
    let msg = out[2].message.result_code.as_ref().unwrap().message.clone();
    assert_eq!(
        msg.as_deref(),
        Some(&b"too many tunnels from this address"[..])
    );
    // ...while another address still gets its tunnel.
    cp.handle_datagram(now, addr("192.0.2.2:1701"), &lac_and_sccrq(24, now).1);
    assert_eq!(count(&sent(&mut cp), MessageType::Sccrp), 1);
    assert_eq!(cp.tunnel_count(), 3);
    assert_eq!(cp.admission_stats().source_tunnel_limit, 1);
    assert_eq!(cp.admission_stats().refusals_sent, 1);
}

#[test]
fn an_sccrq_flood_from_one_source_is_rate_limited_and_so_are_the_refusals() {
    let now = Instant::now();
    let cfg = config(&[
        ("sccrq_rate_per_source", "3"),
        ("sccrq_refusal_rate_per_source", "2"),
    ]);
    let mut cp = control_plane(&cfg, now);
    let from = addr("192.0.2.1:1701");
    for tid in 1..=50 {
        cp.handle_datagram(now, from, &lac_and_sccrq(tid, now).1);
    }
    let out = sent(&mut cp);
    // 3 tunnels (the burst), 2 refusals answered, 45 left unanswered.
    assert_eq!(count(&out, MessageType::Sccrp), 3);
    let refusals: Vec<&Sent> = out
        .iter()
        .filter(|s| s.message.message_type == MessageType::StopCcn)
        .collect();
    assert_eq!(refusals.len(), 2);
    assert_refusal(refusals[0], from, 4);
    assert_eq!(cp.tunnel_count(), 3);
    let st = cp.admission_stats();
    assert_eq!(
        (
            st.sccrq_rate_limited,
            st.refusals_sent,
            st.refusals_unanswered
        ),
        (47, 2, 45)
    );
    // A retransmitted SCCRQ of an admitted tunnel is not a new one.
    cp.handle_datagram(now, from, &lac_and_sccrq(1, now).1);
    assert_eq!(cp.admission_stats().sccrq_rate_limited, 47);
    // A second later the source has a second's worth again.
    let later = now + Duration::from_secs(1);
    for tid in 100..110 {
        cp.handle_datagram(later, from, &lac_and_sccrq(tid, later).1);
    }
    let out = sent(&mut cp);
    assert_eq!(count(&out, MessageType::Sccrp), 3);
    assert_eq!(count(&out, MessageType::StopCcn), 2);
}

#[test]
fn a_call_beyond_max_sessions_gets_cdn_2_4() {
    let now = Instant::now();
    let mut cp = control_plane(&config(&[("max_sessions", "1")]), now);
    let mut lac = LacTunnel::new(Arc::new(LacConfig::default()), 7, [5; 16], now);
    let from = addr("192.0.2.9:1701");
    let mut events = Vec::new();
    let mut calls_placed = false;
    pump_lac(&mut cp, &mut lac, from, now, |lac, ev| {
        if ev == LacEvent::Established && !calls_placed {
            calls_placed = true;
            lac.place_call(now, OutgoingCall::default());
            lac.place_call(now, OutgoingCall::default());
        }
        events.push(ev);
    });
    let refused: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            LacEvent::CallDisconnected { info, .. } => Some((info.result, info.error)),
            _ => None,
        })
        .collect();
    assert_eq!(refused, [(2, Some(4))], "{events:?}");
    // Refused before any ICRP: only the first call ever came up.
    let up = events
        .iter()
        .filter(|e| matches!(e, LacEvent::CallUp { .. }))
        .count();
    assert_eq!(up, 1, "{events:?}");
    assert_eq!(cp.session_count(), 1);
    assert_eq!(cp.stats.session_limit, 1);
}

#[test]
fn a_freed_tunnel_gives_its_source_room_again() {
    let mut now = Instant::now();
    let cfg = config(&[
        ("max_tunnels_per_source", "1"),
        ("sccrq_rate_per_source", "0"),
    ]);
    let mut cp = control_plane(&cfg, now);
    let from = addr("192.0.2.1:1701");
    cp.handle_datagram(now, from, &lac_and_sccrq(31, now).1);
    cp.handle_datagram(now, from, &lac_and_sccrq(32, now).1);
    let out = sent(&mut cp);
    assert_eq!(count(&out, MessageType::Sccrp), 1);
    assert_refusal(&out[1], from, 32);
    // Nobody answers the SCCRP: the tunnel gives up and is freed.
    for _ in 0..120 {
        now += Duration::from_secs(1);
        cp.handle_timeouts(now);
    }
    assert_eq!(cp.tunnel_count() + cp.closing_tunnel_count(), 0);
    sent(&mut cp);
    cp.handle_datagram(now, from, &lac_and_sccrq(33, now).1);
    assert_eq!(count(&sent(&mut cp), MessageType::Sccrp), 1);
}
