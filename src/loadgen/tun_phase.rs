//! `--tun`: bridge the first session to a TUN device of this host, so the
//! kernel's own TCP and ping run through it.

use super::*;

impl LoadGen {
    /// Bridge the first up session to a TUN device (`--tun`).
    pub(super) fn open_tun(&mut self, o: &TunOptions) {
        let found = self.sessions.iter().enumerate().find_map(|(s, sess)| {
            let SessionState::Ppp {
                tunnel,
                peer_sid,
                link,
                ..
            } = &sess.state
            else {
                return None;
            };
            let mtu = self.opts.mru.min(link.peer_mru());
            let peer_tid = self.tunnels.get(*tunnel)?.lac.peer_id();
            Some((
                s,
                sess.address?,
                sess.peer_address?,
                mtu,
                peer_tid,
                *peer_sid,
            ))
        });
        let Some((s, address, peer, mtu, peer_tid, peer_sid)) = found else {
            self.summary
                .failures
                .push(format!("tun {}: no session up", o.name));
            self.summary.tun_failed = true;
            return;
        };
        match TunBridge::open(o, s, address, peer, mtu, peer_tid, peer_sid) {
            Ok((b, (net, len))) => {
                eprintln!(
                    "TUN name={} address={address} mtu={mtu} route={net}/{len}",
                    o.name
                );
                self.tun = Some(b);
            }
            Err(e) => {
                eprintln!("l2tpns-loadgen: tun {}: {e}", o.name);
                self.summary.failures.push(format!("tun {}: {e}", o.name));
                self.summary.tun_failed = true;
            }
        }
    }

    /// Kernel packets from the TUN go up the session (data is never impaired).
    pub(super) fn tun_up(&mut self) {
        let Some(b) = self.tun.as_mut() else { return };
        if !matches!(
            self.sessions.get(b.session).map(|s| &s.state),
            Some(SessionState::Ppp { .. })
        ) {
            return;
        }
        let sock = &self.sock;
        b.pump_up(|frame| socket::send(sock, frame));
    }
}
