//! New calls get session ids whose fast-path line no other tunnel's
//! session holds (daemon::fast_lines), so that every session can sit on
//! its own line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::daemon::fast_lines::{fast_capacity, LineLayout, LINE_REST};
use crate::dataplane::session_table::SessionKey;
use crate::l2tp::lac::{LacConfig, LacEvent, LacTunnel, OutgoingCall};
use crate::l2tp::result_code::{StopCcnCode, StopCcnResult};

use super::super::ControlPlane;
use super::limits::{control_plane, pump_lac};

/// `calls` calls on each of `lacs` tunnels from their own addresses; our
/// (tunnel, session) ids of every call that came up.
fn calls(lacs: u16, calls: usize) -> Vec<SessionKey> {
    let now = Instant::now();
    let mut cp = control_plane(&Config::default(), now);
    let mut up = Vec::new();
    // One LAC at a time, so the tunnel ids follow the LACs' order.
    for i in 0..lacs {
        let (mut lac, from) = lac(i, now);
        up.extend(run(&mut cp, &mut lac, from, now, calls));
    }
    up
}

/// LAC `i` (local tunnel id 100 + i) from 192.0.2.(i + 1).
fn lac(i: u16, now: Instant) -> (LacTunnel, SocketAddr) {
    let from: SocketAddr = format!("192.0.2.{}:1701", i + 1).parse().unwrap();
    (
        LacTunnel::new(Arc::new(LacConfig::default()), 100 + i, [5; 16], now),
        from,
    )
}

#[test]
fn tunnels_sharing_a_block_of_lines_get_ids_on_free_lines() {
    let layout = LineLayout::for_capacity(fast_capacity(Config::default().max_sessions));
    assert_eq!(layout.tunnel_mask(), 1, "two blocks by default");
    let keys = calls(3, 3);
    assert_eq!(keys.len(), 9, "{keys:?}");
    let of = |t: u16| -> Vec<u16> {
        let mut s: Vec<u16> = keys
            .iter()
            .filter(|k| k.tunnel == t)
            .map(|k| k.session)
            .collect();
        s.sort_unstable();
        s
    };
    // Tunnels 1 and 3 share block 1, tunnel 2 has block 0 to itself.
    assert_eq!(of(1), [1, 2, 3]);
    assert_eq!(of(2), [1, 2, 3]);
    assert_eq!(of(3), [4, 5, 6], "past the ids tunnel 1 holds in the block");
    let mut lines: Vec<u32> = keys.iter().map(|k| layout.index(*k)).collect();
    lines.sort_unstable();
    lines.dedup();
    assert_eq!(lines.len(), keys.len(), "every session on its own line");
}

/// Run a LAC against the control plane, placing `calls` calls once its
/// tunnel is up; our ids of the calls that came up.
fn run(
    cp: &mut ControlPlane,
    lac: &mut LacTunnel,
    from: SocketAddr,
    now: Instant,
    calls: usize,
) -> Vec<SessionKey> {
    let mut up = Vec::new();
    pump_lac(cp, lac, from, now, |lac, ev| match ev {
        LacEvent::Established => {
            for _ in 0..calls {
                lac.place_call(now, OutgoingCall::default());
            }
        }
        LacEvent::CallUp { peer_sid, .. } => up.push(SessionKey {
            tunnel: lac.peer_id(),
            session: peer_sid,
        }),
        _ => {}
    });
    up
}

/// Calls that come straight back on a new tunnel (a LAC restarted) do not
/// get the lines their predecessors just left: the fast path lets those
/// rest, and a session put on one would be found in the hash all its life.
#[test]
fn calls_right_after_a_tunnel_closed_get_other_lines_until_those_rested() {
    let layout = LineLayout::for_capacity(fast_capacity(Config::default().max_sessions));
    let t0 = Instant::now();
    let mut cp = control_plane(&Config::default(), t0);
    let lines = |keys: &[SessionKey]| -> Vec<u32> {
        let mut l: Vec<u32> = keys.iter().map(|k| layout.index(*k)).collect();
        l.sort_unstable();
        l
    };
    // Tunnels 1 and 2, then tunnel 1 closes with its calls.
    let (mut a, a_from) = lac(0, t0);
    let first = run(&mut cp, &mut a, a_from, t0, 3);
    let (mut filler, filler_from) = lac(1, t0);
    run(&mut cp, &mut filler, filler_from, t0, 0);
    assert_eq!(first.len(), 3, "{first:?}");
    a.close(t0, StopCcnResult::new(StopCcnCode::ClearConnection));
    run(&mut cp, &mut a, a_from, t0, 0);
    assert_eq!(cp.session_count(), 0);
    // Tunnel 3 shares tunnel 1's block: at once, other lines.
    let (mut b, b_from) = lac(2, t0);
    let again = run(&mut cp, &mut b, b_from, t0, 3);
    assert_eq!(again.len(), 3, "{again:?}");
    assert_eq!(again[0].tunnel & 1, first[0].tunnel & 1, "the same block");
    let (old, new) = (lines(&first), lines(&again));
    assert!(
        new.iter().all(|l| !old.contains(l)),
        "resting lines {old:?} given again: {new:?}"
    );
    // Once rested (by the next control datagram after LINE_REST), they
    // are preferred again.
    assert!(first.iter().all(|k| !cp.lines.is_free(*k)));
    let (mut c, c_from) = lac(3, t0);
    run(&mut cp, &mut c, c_from, t0 + LINE_REST, 0);
    assert!(first.iter().all(|k| cp.lines.is_free(*k)));
}
