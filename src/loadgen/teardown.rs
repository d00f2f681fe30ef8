//! The end of a run: the check after traffic or hold, each session's
//! verdict, and the clean hang-up (CDN for every call, then StopCCN).

use super::*;

impl LoadGen {
    /// Pings (and benchmark traffic) done: hold the sessions or hang up.
    pub(super) fn after_traffic(&mut self, now: Instant) {
        if let Some(o) = self.opts.tun.clone() {
            self.open_tun(&o);
        }
        if self.opts.hold.is_zero() {
            self.hangup(now);
        } else {
            if self.shard_index == 0 {
                eprintln!("HOLDING {} s", self.opts.hold.as_secs());
            }
            self.phase = Phase::Hold;
            self.phase_deadline = now + self.opts.hold;
            self.start_hold_pings(now);
        }
    }

    pub(super) fn check_sessions(&mut self) {
        let mut seen = HashSet::new();
        for (i, s) in self.sessions.iter().enumerate() {
            if let Some(a) = s.address {
                if seen.insert(a) {
                    self.by_address.insert(a, i);
                } else {
                    self.summary.failures.push(format!(
                        "{} got duplicate address {a}",
                        self.ppp_cfg[i].username
                    ));
                }
            }
            let dns: Vec<Ipv4Addr> = s.dns.iter().flatten().copied().collect();
            match &self.opts.expect_dns {
                _ if s.up_at.is_none() => {}
                Some(want) if dns != *want => self.summary.failures.push(format!(
                    "{}: DNS {dns:?}, expected {want:?}",
                    self.ppp_cfg[i].username
                )),
                _ => self.summary.dns_ok += 1,
            }
            if let SessionState::Failed(r) = &s.state {
                self.summary
                    .failures
                    .push(format!("{}: {r}", self.ppp_cfg[i].username));
            } else if s.up_at.is_none() {
                self.summary
                    .failures
                    .push(format!("{}: not up", self.ppp_cfg[i].username));
            }
        }
        self.summary.unique_addresses = seen.len();
    }

    pub(super) fn hangup(&mut self, now: Instant) {
        self.phase = Phase::Hangup;
        self.phase_deadline = now + Duration::from_secs(15);
        for s in 0..self.sessions.len() {
            let (tunnel, local_sid) = match &self.sessions[s].state {
                SessionState::Ppp {
                    tunnel,
                    local_sid,
                    link,
                    ..
                } => {
                    self.summary.lcp_echoes += link.stats().echo_requests_received;
                    (*tunnel, *local_sid)
                }
                SessionState::Calling { tunnel, local_sid } => (*tunnel, *local_sid),
                _ => continue,
            };
            self.tunnels[tunnel].lac.hangup(
                now,
                local_sid,
                CdnResult::new(CdnCode::Administrative),
            );
            self.tunnels[tunnel].calls.remove(local_sid);
            self.sessions[s].state = SessionState::Done;
            self.timers.set(Key::Link(s), None);
            self.flush_tunnel(now, tunnel);
        }
    }
}
