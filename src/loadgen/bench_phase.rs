//! The traffic phase (`--traffic`): build and pace each session's UDP
//! stream, count what comes back, and ask the sink for its report.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::*;

impl LoadGen {
    /// Fast path for benchmark packets coming down a session (and the
    /// sink's report): counted without a copy. False: not one of ours.
    pub(super) fn bench_rx(&mut self, now: Instant, d: &[u8]) -> bool {
        let Some((s, ppp)) = self.data_session(d) else {
            return false;
        };
        let Some((0x0021, ip)) = strip_ppp(ppp) else {
            return false;
        };
        let Some(u) = UdpView::parse(ip) else {
            return false;
        };
        if let Ok(st) = Stamp::parse(u.payload) {
            let sess = &mut self.sessions[s];
            if sess.address == Some(*u.dst.ip()) {
                sess.down.record(st.seq, u.ip_len);
            } else {
                self.traffic.misdelivered += 1;
            }
            self.traffic.down_window.touch(now);
            if let Some(b) = self.bench.as_mut() {
                b.last_activity = now;
            }
            return true;
        }
        if let Ok(r) = SinkReport::parse(u.payload) {
            self.traffic.sink = Some(r);
            return true;
        }
        false
    }

    /// The frame of one UDP packet from session `s` (or from `spoof`, an
    /// address not the session's) to `dst` with `payload` at its start,
    /// padded to `size` bytes of IP; None if `s` is not up.
    pub(super) fn session_udp_frame(
        &self,
        s: usize,
        spoof: Option<Ipv4Addr>,
        dst: SocketAddrV4,
        port: u16,
        size: usize,
        payload: &[u8],
    ) -> Option<Vec<u8>> {
        let sess = self.sessions.get(s)?;
        let SessionState::Ppp {
            tunnel, peer_sid, ..
        } = &sess.state
        else {
            return None;
        };
        let src = SocketAddrV4::new(spoof.or(sess.address)?, port);
        let mut d = vec![0u8; DATA_HEADER_LEN];
        write_data_header(&mut d, self.tunnels.get(*tunnel)?.lac.peer_id(), *peer_sid);
        d.extend_from_slice(&[0xff, 0x03, 0x00, 0x21]);
        let mut ip = udp_packet(src, dst, size.max(PAYLOAD_AT + payload.len()));
        ip.get_mut(PAYLOAD_AT..PAYLOAD_AT + payload.len())?
            .copy_from_slice(payload);
        d.extend_from_slice(&ip);
        Some(d)
    }

    pub(super) fn start_bench(&mut self, now: Instant, t: TrafficOptions) {
        self.phase = Phase::Bench;
        self.phase_deadline = now + t.duration + MAX_DRAIN + Duration::from_secs(1);
        let mut streams = tx_streams::TxStreams::default();
        let mut report_frame = None;
        if let (true, Some(sink)) = (t.direction.up(), t.sink) {
            for s in 0..self.sessions.len() {
                let mut stamp = [0u8; STAMP_LEN];
                let index = self.sessions[s].global as u32;
                let _ = Stamp { index, seq: 0 }.emit(&mut stamp);
                let frame = self.session_udp_frame(s, t.spoof_source, sink, t.port, t.size, &stamp);
                if let Some(frame) = frame {
                    // The sink's report is asked for from the session's
                    // own address, so it comes back.
                    if report_frame.is_none() {
                        report_frame =
                            self.session_udp_frame(s, None, sink, t.port, 0, &MAGIC_REPORT_REQUEST);
                    }
                    // Every frame has the same size, sink and port.
                    let pushed = streams.push(&frame);
                    debug_assert!(pushed, "a benchmark frame of another length");
                }
            }
        }
        let cpu_start = match (self.shard_index, t.lns_pid) {
            (0, Some(pid)) => procstat::cpu_seconds(pid),
            _ => None,
        };
        if t.decoy_port.is_some() {
            decoy::catch_switch_signals();
        }
        if self.shard_index == 0 {
            eprintln!(
                "TRAFFIC START direction={} duration_s={}",
                t.direction.name(),
                t.duration.as_secs_f64()
            );
        }
        self.bench = Some(Bench {
            pacer: Pacer::new(Pacer::share(t.rate, self.shard_count), now),
            start: now,
            send_until: now + t.duration,
            streams,
            next: 0,
            bufs: vec![Vec::new(); BATCH],
            blocked: false,
            last_activity: now,
            cpu_start,
            report_frame,
            next_report_try: now,
            dests: Vec::with_capacity(BATCH),
            opts: t,
        });
    }

    /// Send what the pacer allows now (a few batches when flat out).
    pub(super) fn bench_send(&mut self, now: Instant) {
        let fd = self.sock.as_raw_fd();
        let lns = match self.opts.server {
            std::net::SocketAddr::V4(a) => Some(a),
            std::net::SocketAddr::V6(_) => None,
        };
        let Some(b) = self.bench.as_mut() else { return };
        let n = b.streams.len();
        if n == 0 || now >= b.send_until {
            return;
        }
        b.blocked = false;
        for _ in 0..4 {
            let due = b.pacer.due(now).min(BATCH as u64) as usize;
            if due == 0 {
                return;
            }
            for (k, buf) in b.bufs.iter_mut().take(due).enumerate() {
                // With fewer streams than the batch, a stream comes round
                // again every n packets: each occurrence gets its own number.
                b.streams.write((b.next + k) % n, (k / n) as u64, buf);
            }
            let to = match (b.opts.decoy_port, lns) {
                (Some(port), Some(lns)) => {
                    b.dests.clear();
                    b.dests.resize(due, decoy::destination(lns, port));
                    Some(b.dests.as_slice())
                }
                _ => None,
            };
            match send_batch(fd, b.bufs.get(..due).unwrap_or(&[]), to) {
                Ok(sent) => {
                    for k in 0..sent {
                        b.streams.advance((b.next + k) % n);
                    }
                    b.next = (b.next + sent) % n;
                    b.pacer.record(sent as u64);
                    self.traffic.up_sent += sent as u64;
                    self.traffic.up_bytes +=
                        (sent * b.opts.size.max(PAYLOAD_AT + STAMP_LEN)) as u64;
                    self.traffic.up_window.touch(now);
                    if sent < due {
                        b.blocked = true;
                        return;
                    }
                }
                // The LNS is not listening: nothing went, the report is cleared.
                Err(e) if socket::is_refused(&e) => continue,
                Err(_) => {
                    // WouldBlock/ENOBUFS: the socket buffer is full.
                    b.blocked = true;
                    return;
                }
            }
        }
    }

    /// Sending is over and nothing has arrived for the drain time.
    pub(super) fn bench_finished(&self, now: Instant) -> bool {
        let Some(b) = &self.bench else { return true };
        if now < b.send_until {
            return false;
        }
        let quiet_since = b.last_activity.max(b.send_until);
        now >= quiet_since + b.opts.drain || now >= b.send_until + MAX_DRAIN
    }

    pub(super) fn finish_bench(&mut self, now: Instant) {
        let Some(b) = &self.bench else { return };
        self.traffic.phase_secs = now.duration_since(b.start).as_secs_f64();
        if let (Some(c0), Some(pid)) = (b.cpu_start, b.opts.lns_pid) {
            self.traffic.lns_cpu_secs = procstat::cpu_seconds(pid).map(|c1| (c1 - c0).max(0.0));
        }
        if !b.streams.is_empty() {
            (self.traffic.up_min_session, self.traffic.up_max_session) = b.streams.seq_range();
        }
        if b.opts.direction.down() {
            self.traffic.down = FlowTotals::of(
                self.sessions
                    .iter()
                    .filter(|s| s.up_at.is_some())
                    .map(|s| &s.down),
            );
        }
    }

    pub(super) fn start_report(&mut self, now: Instant) {
        let wants = self.shard_index == 0
            && self
                .bench
                .as_ref()
                .is_some_and(|b| b.report_frame.is_some());
        if wants {
            self.phase = Phase::Report;
            self.phase_deadline = now + REPORT_TIME;
            self.send_report_request(now);
        } else {
            self.after_traffic(now);
        }
    }

    pub(super) fn send_report_request(&mut self, now: Instant) {
        let Some(b) = self.bench.as_mut() else { return };
        if now < b.next_report_try {
            return;
        }
        b.next_report_try = now + REPORT_RETRY;
        if let Some(f) = &b.report_frame {
            socket::send(&self.sock, f);
        }
    }
}
