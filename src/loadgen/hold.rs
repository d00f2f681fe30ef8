//! What the load generator sees of the LNS while it holds the sessions:
//! enough to prove that an LNS restart which keeps sessions (SIGTERM, state
//! saved, started again, state restored) went unnoticed by the subscribers.
//!
//! - `--hold-ping-rate PPS`: echo requests round robin over the up
//!   sessions during hold, paced; the largest time between two replies is
//!   the outage the restart caused.
//! - After hold, every up session pings until one reply comes back.
//! - Renegotiations: PPP control packets (LCP Configure-*, Terminate-*,
//!   Code-Reject, IPCP, PAP, CHAP) from the LNS on a session that is up: a
//!   seamless restart sends none.
//! - Sessions lost during hold (CDN, StopCCN, or a tunnel given up).

use std::time::{Duration, Instant};

use super::pacing::Pacer;
use super::ping::PING_BURST;
use super::{socket, LoadGen, Phase, SessionState};
use crate::l2tp::tunnel::CloseReason;

/// Hold pings' echo sequence numbers have this bit set: their replies are
/// told apart from those of the ping phase and of the check after hold.
const HOLD_SEQ: u16 = 0x8000;
/// The check after hold gives up after this long (more with many sessions).
const CHECK_TIME: Duration = Duration::from_secs(15);

const LCP: u16 = 0xc021;
const IPCP: u16 = 0x8021;
const PAP: u16 = 0xc023;
const CHAP: u16 = 0xc223;

/// Is this PPP control packet from the LNS, on a session already up, a sign
/// that the link is being negotiated again? LCP codes 1-7 (Configure-*,
/// Terminate-*, Code-Reject), any IPCP, PAP or CHAP packet. Echo and
/// Discard requests and replies are what a live link carries.
pub fn is_renegotiation(protocol: u16, payload: &[u8]) -> bool {
    match protocol {
        LCP => matches!(payload.first(), Some(1..=7)),
        IPCP | PAP | CHAP => true,
        _ => false,
    }
}

/// The largest time between two consecutive arrivals, and when it began;
/// arrivals are times since the start of hold, in the order they came.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GapTracker {
    last: Option<Duration>,
    pub max_gap: Duration,
    pub gap_start: Duration,
}

impl GapTracker {
    pub fn record(&mut self, at: Duration) {
        if let Some(last) = self.last {
            let gap = at.saturating_sub(last);
            if gap > self.max_gap {
                self.max_gap = gap;
                self.gap_start = last;
            }
        }
        self.last = Some(self.last.map_or(at, |l| l.max(at)));
    }

    /// Another shard's: the larger gap wins, with its start.
    pub fn merge(&mut self, other: &GapTracker) {
        if other.max_gap > self.max_gap {
            self.max_gap = other.max_gap;
            self.gap_start = other.gap_start;
        }
    }
}

/// What hold saw; appended to SUMMARY.
#[derive(Debug, Default, Clone)]
pub struct HoldStats {
    /// `--hold-ping-rate` was given: `passed` looks at the figures below.
    pub checked: bool,
    pub pings_sent: u64,
    pub pings_received: u64,
    pub gaps: GapTracker,
    /// Sessions that got a reply in the check after hold.
    pub after_ok_sessions: usize,
    pub renegotiations: u64,
    pub lost_during_hold: usize,
}

impl HoldStats {
    pub fn passed(&self, sessions_up: usize) -> bool {
        !self.checked
            || (self.after_ok_sessions == sessions_up
                && self.renegotiations == 0
                && self.lost_during_hold == 0)
    }

    /// Counts add up; the largest gap wins.
    pub fn merge(&mut self, o: &HoldStats) {
        self.checked |= o.checked;
        self.pings_sent += o.pings_sent;
        self.pings_received += o.pings_received;
        self.gaps.merge(&o.gaps);
        self.after_ok_sessions += o.after_ok_sessions;
        self.renegotiations += o.renegotiations;
        self.lost_during_hold += o.lost_during_hold;
    }

    pub fn fields(&self) -> String {
        format!(
            " hold_pings_sent={} hold_pings_received={} hold_max_gap_ms={} hold_gap_start_ms={} \
             after_ok_sessions={} renegotiations={} lost_during_hold={}",
            self.pings_sent,
            self.pings_received,
            self.gaps.max_gap.as_millis(),
            self.gaps.gap_start.as_millis(),
            self.after_ok_sessions,
            self.renegotiations,
            self.lost_during_hold,
        )
    }
}

/// One shard's hold pings.
pub(super) struct HoldPinger {
    pacer: Pacer,
    start: Instant,
    /// Round-robin cursor over the sessions.
    next: usize,
    /// Per session: a reply came in the check after hold.
    after_ok: Vec<bool>,
}

impl LoadGen {
    /// Hold begins: start pinging if `--hold-ping-rate` asks for it.
    pub(super) fn start_hold_pings(&mut self, now: Instant) {
        let rate = self.opts.hold_ping_rate;
        if !(rate > 0.0 && rate.is_finite()) {
            return;
        }
        self.summary.hold.checked = true;
        self.hold_ping = Some(HoldPinger {
            pacer: Pacer::new(Pacer::share(Some(rate), self.shard_count), now),
            start: now,
            next: 0,
            after_ok: vec![false; self.sessions.len()],
        });
    }

    /// How long the loop may sleep before the next hold ping is due.
    pub(super) fn hold_wait(&self, now: Instant) -> Option<Duration> {
        let p = self.hold_ping.as_ref()?;
        let due = p.pacer.next_due()?;
        Some(due.saturating_duration_since(now))
    }

    /// Can session `s` carry a ping: up, with an address, and a target?
    fn pingable(&self, s: usize) -> bool {
        self.sessions.get(s).is_some_and(|sess| {
            sess.up_at.is_some()
                && sess.address.is_some()
                && matches!(sess.state, SessionState::Ppp { .. })
        })
    }

    /// The hold pings the pacer allows now, round robin over the up sessions.
    pub(super) fn hold_send(&mut self, now: Instant) {
        let Some(mut p) = self.hold_ping.take() else {
            return;
        };
        let n = self.sessions.len();
        for _ in 0..p.pacer.due(now) {
            // Counted even when no session can take it: no burst later.
            p.pacer.record(1);
            let Some(s) = (0..n).map(|k| (p.next + k) % n).find(|&s| self.pingable(s)) else {
                continue;
            };
            p.next = (s + 1) % n;
            let seq = HOLD_SEQ | self.next_echo_seq(s);
            if let Some(d) = self.echo_frame(s, seq) {
                if socket::send(&self.sock, &d) {
                    self.summary.hold.pings_sent += 1;
                }
            }
        }
        self.hold_ping = Some(p);
    }

    /// The next echo sequence number of session `s` (15 bits).
    fn next_echo_seq(&mut self, s: usize) -> u16 {
        let sess = &mut self.sessions[s];
        let seq = sess.echo_seq & !HOLD_SEQ;
        sess.echo_seq = sess.echo_seq.wrapping_add(1);
        seq
    }

    /// Hold is over: check every up session with a ping, or hang up.
    pub(super) fn end_hold(&mut self, now: Instant) {
        if self.hold_ping.is_none() {
            self.hangup(now);
            return;
        }
        if self.shard_index == 0 {
            eprintln!("HOLD CHECK");
        }
        self.phase = Phase::HoldCheck;
        self.phase_deadline = now + CHECK_TIME.max(self.ping_time());
        self.next_ping_retry = now + self.ping_retry();
        self.send_check_pings();
    }

    /// The check after hold: resend to sessions without a reply, finish
    /// when every session that can answer has, or at the deadline.
    pub(super) fn hold_check_tick(&mut self, now: Instant) {
        let Some(p) = &self.hold_ping else {
            self.hangup(now);
            return;
        };
        let waiting = (0..self.sessions.len())
            .any(|s| self.pingable(s) && !p.after_ok.get(s).copied().unwrap_or(false));
        if !waiting || now >= self.phase_deadline {
            self.summary.hold.after_ok_sessions = p.after_ok.iter().filter(|ok| **ok).count();
            let silent: Vec<usize> = (0..self.sessions.len())
                .filter(|&s| self.sessions[s].up_at.is_some() && !p.after_ok[s])
                .collect();
            for s in silent {
                self.summary.failures.push(format!(
                    "{}: no echo reply in the check after hold",
                    self.ppp_cfg[s].username
                ));
            }
            self.hangup(now);
        } else if now >= self.next_ping_retry {
            self.next_ping_retry = now + self.ping_retry();
            self.send_check_pings();
        }
    }

    /// One echo request through every up session still without a reply,
    /// in bursts like the ping phase's.
    fn send_check_pings(&mut self) {
        let mut sent_in_burst = 0;
        for s in 0..self.sessions.len() {
            let ok = self
                .hold_ping
                .as_ref()
                .is_some_and(|p| p.after_ok.get(s).copied().unwrap_or(true));
            if ok || !self.pingable(s) {
                continue;
            }
            let seq = self.next_echo_seq(s);
            if let Some(d) = self.echo_frame(s, seq) {
                let _ = socket::send(&self.sock, &d);
            }
            sent_in_burst += 1;
            if sent_in_burst == PING_BURST {
                sent_in_burst = 0;
                std::thread::sleep(Duration::from_millis(2));
                self.receive(Instant::now());
            }
        }
    }

    /// An echo reply for session `s` came: true if it belongs to hold (a
    /// hold ping's, or any during the check after hold).
    pub(super) fn hold_reply(&mut self, now: Instant, s: usize, seq: u16) -> bool {
        let Some(p) = self.hold_ping.as_mut() else {
            return false;
        };
        if seq & HOLD_SEQ != 0 {
            self.summary.hold.pings_received += 1;
            self.summary
                .hold
                .gaps
                .record(now.saturating_duration_since(p.start));
            return true;
        }
        if self.phase == Phase::HoldCheck {
            if let Some(ok) = p.after_ok.get_mut(s) {
                *ok = true;
            }
            return true;
        }
        false
    }

    /// A PPP control packet from the LNS on session `s`.
    pub(super) fn count_renegotiation(&mut self, s: usize, protocol: u16, payload: &[u8]) {
        if self.sessions[s].up_at.is_none() || !is_renegotiation(protocol, payload) {
            return;
        }
        self.summary.hold.renegotiations += 1;
        let code = payload.first().copied().unwrap_or(0);
        let what = format!(
            "{}: PPP protocol {protocol:#06x} code {code} from the LNS after the session was up",
            self.ppp_cfg[s].username
        );
        if self.opts.verbose {
            eprintln!("RENEGOTIATION {what}");
        }
        if self.summary.hold.checked {
            self.summary.failures.push(what);
        }
    }

    fn holding(&self) -> bool {
        matches!(self.phase, Phase::Hold | Phase::HoldCheck)
    }

    /// The LNS cleared the call of session `s` (CDN).
    pub(super) fn note_lost_call(&mut self, s: usize, why: &str) {
        if !self.holding() || self.sessions[s].up_at.is_none() {
            return;
        }
        self.summary.hold.lost_during_hold += 1;
        self.summary.failures.push(format!(
            "{}: lost during hold: {why}",
            self.ppp_cfg[s].username
        ));
    }

    /// Tunnel `t` closed (StopCCN from the LNS, or it stopped answering).
    pub(super) fn note_lost_tunnel(&mut self, t: usize, reason: &CloseReason) {
        if !self.holding() {
            return;
        }
        let lost = self.tunnels[t]
            .calls
            .values()
            .filter(|&s| self.sessions[s].up_at.is_some())
            .count();
        self.summary.hold.lost_during_hold += lost;
        self.summary.failures.push(format!(
            "tunnel {} closed during hold ({lost} sessions lost): {reason:?}",
            t + 1
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn largest_gap_between_consecutive_arrivals() {
        let mut g = GapTracker::default();
        assert_eq!((g.max_gap, g.gap_start), (ms(0), ms(0)));
        // One arrival: no gap yet.
        g.record(ms(100));
        assert_eq!(g.max_gap, ms(0));
        // Steady 5 ms, then a 1.2 s outage, then steady again.
        for t in (105..=500).step_by(5) {
            g.record(ms(t));
        }
        assert_eq!((g.max_gap, g.gap_start), (ms(5), ms(100)));
        g.record(ms(1700));
        for t in (1705..=2000).step_by(5) {
            g.record(ms(t));
        }
        assert_eq!((g.max_gap, g.gap_start), (ms(1200), ms(500)));
        // A smaller outage later does not replace it.
        g.record(ms(2500));
        assert_eq!((g.max_gap, g.gap_start), (ms(1200), ms(500)));
        // An arrival stamped earlier than the last (same batch) is no gap.
        g.record(ms(2400));
        g.record(ms(2505));
        assert_eq!((g.max_gap, g.gap_start), (ms(1200), ms(500)));
    }

    #[test]
    fn merged_gap_keeps_the_larger_with_its_start() {
        let mut a = GapTracker::default();
        a.record(ms(0));
        a.record(ms(300));
        let mut b = GapTracker::default();
        b.record(ms(1000));
        b.record(ms(1900));
        a.merge(&b);
        assert_eq!((a.max_gap, a.gap_start), (ms(900), ms(1000)));
        let mut c = GapTracker::default();
        c.merge(&a);
        assert_eq!((c.max_gap, c.gap_start), (ms(900), ms(1000)));
        let mut s = HoldStats {
            pings_sent: 3,
            gaps: a,
            ..HoldStats::default()
        };
        s.merge(&HoldStats {
            checked: true,
            pings_sent: 4,
            lost_during_hold: 1,
            ..HoldStats::default()
        });
        assert!(s.checked);
        assert_eq!((s.pings_sent, s.lost_during_hold), (7, 1));
        assert!(s
            .fields()
            .contains(" hold_max_gap_ms=900 hold_gap_start_ms=1000 "));
    }

    #[test]
    fn renegotiation_classifier() {
        for code in 1..=7u8 {
            assert!(is_renegotiation(LCP, &[code, 1, 0, 4]), "LCP code {code}");
        }
        // Protocol-Reject, Echo-Request, Echo-Reply, Discard-Request: a live link.
        for code in [8u8, 9, 10, 11] {
            assert!(!is_renegotiation(LCP, &[code, 1, 0, 8]), "LCP code {code}");
        }
        assert!(!is_renegotiation(LCP, &[]));
        assert!(is_renegotiation(IPCP, &[1, 1, 0, 4]));
        assert!(is_renegotiation(IPCP, &[2]));
        assert!(is_renegotiation(CHAP, &[1, 1, 0, 4]));
        assert!(is_renegotiation(PAP, &[2, 1, 0, 4]));
        // IPv4 data, IPV6CP, CCP: not ours to count.
        assert!(!is_renegotiation(0x0021, &[0x45]));
        assert!(!is_renegotiation(0x8057, &[1]));
        assert!(!is_renegotiation(0x80fd, &[1]));
    }

    #[test]
    fn passed_only_checks_when_asked() {
        let bad = HoldStats {
            renegotiations: 2,
            lost_during_hold: 1,
            ..HoldStats::default()
        };
        assert!(bad.passed(5));
        let checked = |after_ok, reneg, lost| HoldStats {
            checked: true,
            after_ok_sessions: after_ok,
            renegotiations: reneg,
            lost_during_hold: lost,
            ..HoldStats::default()
        };
        assert!(checked(5, 0, 0).passed(5));
        assert!(!checked(4, 0, 0).passed(5));
        assert!(!checked(5, 1, 0).passed(5));
        assert!(!checked(5, 0, 1).passed(5));
    }
}
