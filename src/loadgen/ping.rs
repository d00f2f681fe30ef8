//! The ping phase: ICMP echo requests through every up session until each
//! has its replies. Also the echo frame the hold pings use.

use std::time::{Duration, Instant};

use super::{icmp, socket, LoadGen, Phase, SessionState};
use crate::l2tp::wire::{write_data_header, DATA_HEADER_LEN};

/// Echo requests sent back to back before the loadgen pauses to read replies.
pub(super) const PING_BURST: usize = 64;
/// How long the ping phase waits for replies, resending unanswered
/// requests every PING_RETRY.
const TRAFFIC_TIME: Duration = Duration::from_secs(8);
const PING_RETRY: Duration = Duration::from_secs(1);

impl LoadGen {
    pub(super) fn start_traffic(&mut self, now: Instant) {
        self.phase = Phase::Traffic;
        self.phase_deadline = now + self.ping_time();
        self.next_ping_retry = now + self.ping_retry();
        self.send_echoes();
    }

    /// How long the ping phase may last: TRAFFIC_TIME, plus time for a
    /// shard with many sessions (one pass of bursts takes 2 ms per
    /// PING_BURST sessions, and with a million sessions on two cores the
    /// replies lag): 200 us a session.
    pub(super) fn ping_time(&self) -> Duration {
        TRAFFIC_TIME + Duration::from_micros(200) * self.sessions.len().min(1 << 24) as u32
    }

    /// Resend unanswered requests after PING_RETRY, or after 40 us a
    /// session when that is longer (a pass over 50,000 sessions takes over
    /// 1.5 s: a 1 s retry would resend what is still on its way).
    pub(super) fn ping_retry(&self) -> Duration {
        PING_RETRY.max(Duration::from_micros(40) * self.sessions.len().min(1 << 24) as u32)
    }

    /// Echo requests through every up session that still lacks replies
    /// (all of them the first time). Like ping(8), a request without a reply
    /// is sent again a second later: a client can reach IPCP Opened before
    /// the LNS does when its Configure-Ack is lost, and what it sends in
    /// between is rightly discarded.
    pub(super) fn send_echoes(&mut self) {
        let mut sent_in_burst = 0;
        for s in 0..self.sessions.len() {
            let missing = self.opts.pings.saturating_sub(self.sessions[s].replies);
            for _ in 0..missing {
                let seq = self.sessions[s].echo_seq;
                let Some(d) = self.echo_frame(s, seq) else {
                    break;
                };
                self.sessions[s].echo_seq = seq.wrapping_add(1);
                // Data is never impaired: only control traffic is.
                if socket::send(&self.sock, &d) {
                    self.summary.pings_sent += 1;
                }
                sent_in_burst += 1;
                if sent_in_burst == PING_BURST {
                    // Pace: a burst, then drain replies, so no queue on the
                    // way (ours, the LNS's, the kernel's) overflows.
                    sent_in_burst = 0;
                    std::thread::sleep(Duration::from_millis(2));
                    self.receive(Instant::now());
                }
            }
        }
    }

    /// The L2TP data frame of an echo request with sequence number `seq`
    /// from session `s` to the ping target (default: the LNS's IPCP
    /// address); None if `s` is not up.
    pub(super) fn echo_frame(&self, s: usize, seq: u16) -> Option<Vec<u8>> {
        let sess = self.sessions.get(s)?;
        let SessionState::Ppp {
            tunnel, peer_sid, ..
        } = &sess.state
        else {
            return None;
        };
        let src = sess.address?;
        let dst = self.opts.ping_target.or(sess.peer_address)?;
        let ident = (sess.global % 65536) as u16;
        let packet = icmp::echo_request(src, dst, ident, seq, self.opts.ping_size);
        let mut d = vec![0u8; DATA_HEADER_LEN];
        write_data_header(&mut d, self.tunnels.get(*tunnel)?.lac.peer_id(), *peer_sid);
        d.extend_from_slice(&[0xff, 0x03, 0x00, 0x21]);
        d.extend_from_slice(&packet);
        Some(d)
    }
}
