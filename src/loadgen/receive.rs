//! Datagrams from the LNS: read in batches, told apart (control, a
//! session's PPP, its IPv4), and handed to the tunnel, link or counters.

use super::*;

impl LoadGen {
    pub(super) fn receive(&mut self, now: Instant) {
        let mut held = Vec::new();
        self.impair_in.flush(now, &mut held);
        for d in held {
            self.dispatch(now, &d);
        }
        let mut batch = self
            .recv_batch
            .take()
            .unwrap_or_else(|| RecvBatch::new(BATCH));
        let fd = self.sock.as_raw_fd();
        let mut seen = 0;
        while seen < MAX_RECV_PER_PASS {
            let n = match batch.recv(fd) {
                Ok(n) if n > 0 => n,
                // The LNS is not listening (restarting): the report is
                // cleared by now, and what came after it is still to read.
                Err(e) if socket::is_refused(&e) => {
                    seen += 1;
                    continue;
                }
                _ => break,
            };
            seen += n;
            for i in 0..n {
                let Some((d, _)) = batch.get(i) else { continue };
                if self.opts.traffic.is_some() && self.bench_rx(now, d) {
                    continue;
                }
                let d = d.to_vec();
                if self.impair_in.is_active() && is_control(&d) {
                    let mut pass = Vec::new();
                    self.impair_in.pass(now, d, &mut pass);
                    for d in pass {
                        self.dispatch(now, &d);
                    }
                } else {
                    self.dispatch(now, &d);
                }
            }
            // A batch not filled: the queue was empty a moment ago. What
            // comes now is read on the next pass, not by one more call
            // that would most often find nothing (a syscall per wake-up
            // that a paced receiver would charge to the LNS it measures).
            if n < batch.slots() {
                break;
            }
        }
        self.recv_batch = Some(batch);
    }

    /// The session a data datagram belongs to, and its PPP frame.
    pub(super) fn data_session<'a>(&self, d: &'a [u8]) -> Option<(usize, &'a [u8])> {
        let h = Header::parse(d).ok()?;
        if h.is_control() {
            return None;
        }
        let t = self.tunnel_index(h.tunnel_id())?;
        let s = self.tunnels.get(t)?.calls.get(h.session_id())?;
        Some((s, d.get(h.payload_offset()..)?))
    }

    /// Our index of a tunnel from its id (ids are unique over all shards).
    pub(super) fn tunnel_index(&self, id: u16) -> Option<usize> {
        let t = usize::from(id).checked_sub(1 + self.tunnel_base)?;
        (t < self.tunnels.len()).then_some(t)
    }

    pub(super) fn dispatch(&mut self, now: Instant, d: &[u8]) {
        let Ok(h) = Header::parse(d) else { return };
        let Some(t) = self.tunnel_index(h.tunnel_id()) else {
            return;
        };
        if h.is_control() {
            self.tunnels[t].lac.handle_datagram(now, d);
            self.flush_tunnel(now, t);
            return;
        }
        let Some(s) = self.tunnels[t].calls.get(h.session_id()) else {
            return;
        };
        let ppp = d.get(h.payload_offset()..).unwrap_or(&[]);
        match strip_ppp(ppp) {
            Some((0x0021, ip)) => {
                self.ipv4_in(now, s, h.tunnel_id(), ip);
                return;
            }
            Some((protocol, payload)) => self.count_renegotiation(s, protocol, payload),
            None => {}
        }
        if let SessionState::Ppp { link, .. } = &mut self.sessions[s].state {
            link.handle_frame(now, ppp);
        }
        self.flush_link(now, s);
    }

    /// An IPv4 packet arrived for session `s`: count our echo replies,
    /// answer echo requests like a host would.
    pub(super) fn ipv4_in(&mut self, now: Instant, s: usize, tunnel_id: u16, ip: &[u8]) {
        if let Some(b) = self.tun.as_mut().filter(|b| b.session == s) {
            // The kernel behind the TUN reassembles and answers echoes.
            b.down(ip);
            return;
        }
        let Some(whole) = self.reassembly.push(ip) else {
            return;
        };
        let Some(me) = self.sessions[s].address else {
            return;
        };
        if let Some((dst, ident, seq)) = icmp::parse_echo_reply(&whole) {
            let ours = usize::from(ident) == self.sessions[s].global % 65536 && dst == me;
            if ours && !self.hold_reply(now, s, seq) {
                self.sessions[s].replies += 1;
                self.summary.pings_received += 1;
            }
        } else if let Some(reply) = icmp::answer_echo_request(&whole) {
            let t = self.tunnel_index(tunnel_id).unwrap_or(usize::MAX);
            if let (Some(tun), SessionState::Ppp { peer_sid, .. }) =
                (self.tunnels.get(t), &self.sessions[s].state)
            {
                let mut d = vec![0u8; DATA_HEADER_LEN];
                write_data_header(&mut d, tun.lac.peer_id(), *peer_sid);
                d.extend_from_slice(&[0xff, 0x03, 0x00, 0x21]);
                d.extend_from_slice(&reply);
                if socket::send(&self.sock, &d) {
                    self.summary.echo_answered += 1;
                }
            }
        }
    }
}
