//! What the CLI's `show` commands print, laid out as l2tpns 2.4.1 prints
//! them where we have the same state (columns of `show session`, `show
//! tunnels`, `show pool`, `uptime`). Read-only views of the control plane.

use std::fmt::Write as _;
use std::time::Instant;

use crate::dataplane::session_table::SessionKey;
use crate::plugin::Sid;

use super::ControlPlane;

fn secs(now: Instant, then: Instant) -> u64 {
    now.saturating_duration_since(then).as_secs()
}

impl ControlPlane {
    /// `show session SID...`: the detail of each.
    pub(super) fn show_session_details(&self, now: Instant, ids: &[String]) -> Vec<String> {
        ids.iter()
            .flat_map(|id| match id.parse::<Sid>() {
                Ok(n) => self.show_session_detail(now, SessionKey::from_nas_port(n)),
                Err(_) => vec![format!("Invalid session id \"{id}\"")],
            })
            .collect()
    }

    /// The sessions' keys in id order: what a `show session` listing walks
    /// through, a slice at a time.
    pub(super) fn session_keys_sorted(&self) -> Vec<SessionKey> {
        let mut v: Vec<SessionKey> = self.sessions.keys().copied().collect();
        v.sort_unstable_by_key(|k| (k.tunnel, k.session));
        v
    }

    /// The header line of `show session`.
    pub(super) fn session_table_header() -> String {
        format!(
            "{:>10} {:>5} {:<32} {:<15} {} {} {} {} {:>7} {:>10} {:>10} {:>5} {:>8} {:<18} {}",
            "SID",
            "TID",
            "Username",
            "IP",
            "I",
            "T",
            "G",
            "6",
            "opened",
            "downloaded",
            "uploaded",
            "idle",
            "Rem.Time",
            "LAC",
            "CLI"
        )
    }

    /// `show session` rows of these sessions (those gone meanwhile are skipped).
    pub(super) fn session_rows(&self, now: Instant, keys: &[SessionKey]) -> Vec<String> {
        let mut out = Vec::with_capacity(keys.len());
        for &k in keys {
            let Some(s) = self.sessions.get(&k) else {
                continue;
            };
            let c = &s.counters;
            let lac = self
                .tunnels
                .get(&k.tunnel)
                .map(|t| t.peer.ip().to_string())
                .unwrap_or_default();
            let remaining = s
                .attrs
                .session_timeout
                .filter(|t| *t > 0)
                .zip(s.up_at)
                .map(|(t, up)| u64::from(t).saturating_sub(secs(now, up)).to_string())
                .unwrap_or_else(|| "-".into());
            out.push(format!(
                "{:>10} {:>5} {:<32} {:<15} {} {} {} {} {:>7} {:>10} {:>10} {:>5} {:>8} L{:<17} {}",
                k.nas_port(),
                k.tunnel,
                s.username.as_deref().unwrap_or("*"),
                s.address
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "0.0.0.0".into()),
                yn(s.policy.snoop.is_some()),
                yn(s.policy.is_throttled()),
                yn(s.policy.garden),
                "N",
                secs(now, s.opened),
                c.tx_bytes(),
                c.rx_bytes(),
                secs(now, s.last_activity),
                remaining,
                lac,
                s.calling_station_id.as_deref().unwrap_or(""),
            ));
        }
        out
    }

    fn show_session_detail(&self, now: Instant, k: SessionKey) -> Vec<String> {
        let Some(s) = self.sessions.get(&k) else {
            return vec![format!("Session {} not found", k.nas_port())];
        };
        let c = &s.counters;
        let mut out = Vec::new();
        let mut line = |l: String| out.push(l);
        line(format!("Session {}:", k.nas_port()));
        line(format!(
            "\tUser:\t\t{}",
            s.username.as_deref().unwrap_or("")
        ));
        line(format!(
            "\tCalling Num:\t{}",
            s.calling_station_id.as_deref().unwrap_or("")
        ));
        line(format!(
            "\tCalled Num:\t{}",
            s.called_station_id.as_deref().unwrap_or("")
        ));
        line(format!("\tTunnel ID:\t{}", k.tunnel));
        line(format!("\tPPP Phase:\t{:?}", s.link.phase()));
        line(format!("\tLCP state:\t{:?}", s.link.lcp_state()));
        line(format!(
            "\tIP address:\t{}",
            s.address.map(|a| a.to_string()).unwrap_or_default()
        ));
        line(format!("\tUnique SID:\t{}", s.acct_session_id()));
        line(format!("\tOpened:\t\t{} seconds ago", secs(now, s.opened)));
        line(format!(
            "\tIdle time:\t{} seconds",
            secs(now, s.last_activity)
        ));
        if let Some(t) = s.attrs.session_timeout {
            line(format!("\tSession timeout: {t} seconds"));
        }
        if let Some(t) = s.attrs.idle_timeout {
            line(format!("\tIdle timeout:\t{t} seconds"));
        }
        line(format!(
            "\tBytes In/Out:\t{}/{}",
            c.rx_bytes(),
            c.tx_bytes()
        ));
        line(format!(
            "\tPkts In/Out:\t{}/{}",
            c.rx_packets(),
            c.tx_packets()
        ));
        line(format!("\tRx Speed:\t{}", s.rx_connect_speed));
        line(format!("\tTx Speed:\t{}", s.tx_connect_speed));
        line(format!("\tMRU:\t\t{}", s.link.peer_mru()));
        let p = s.policy;
        line(match p.snoop {
            Some(to) => format!("\tIntercepted:\t{to}"),
            None => "\tIntercepted:\tno".into(),
        });
        line(format!(
            "\tWalled Garden:\t{}",
            if p.garden { "YES" } else { "no" }
        ));
        line(if p.is_throttled() {
            let rate = |r: u32| {
                if r == 0 {
                    "-".to_string()
                } else {
                    format!("{r}kbps")
                }
            };
            format!(
                "\tThrottled:\tYES ({}/{})",
                rate(p.throttle_in),
                rate(p.throttle_out)
            )
        } else {
            "\tThrottled:\tno".into()
        });
        out
    }

    /// `show tunnels`.
    pub(super) fn show_tunnels(&self) -> Vec<String> {
        let mut out = vec![format!(
            "{:>5} {:<24} {:<15} {:>5} {:<8} {:>8} {}",
            "TID", "Hostname", "IP", "Port", "State", "Sessions", "Session ids"
        )];
        let mut tids: Vec<&u16> = self.tunnels.keys().collect();
        tids.sort();
        for tid in tids {
            let Some(e) = self.tunnels.get(tid) else {
                continue;
            };
            let mut sids: Vec<u16> = e.sessions.iter().copied().collect();
            sids.sort_unstable();
            let list: Vec<String> = sids.iter().map(|s| s.to_string()).collect();
            out.push(format!(
                "{:>5} {:<24} {:<15} {:>5} {:<8} {:>8} {}",
                tid,
                e.tunnel.peer_hostname(),
                e.peer.ip(),
                e.peer.port(),
                if e.tunnel.is_closing() {
                    "Closing"
                } else {
                    "Open"
                },
                sids.len(),
                list.join(" ")
            ));
        }
        out
    }

    /// `show users`: the user names; with names, their sessions' detail.
    pub(super) fn show_users(&self, now: Instant, names: &[String]) -> Vec<String> {
        if names.is_empty() {
            let mut users: Vec<&str> = self.by_user.keys().map(|u| &**u).collect();
            users.sort_unstable();
            return users.into_iter().map(str::to_string).collect();
        }
        let mut out = Vec::new();
        for n in names {
            let keys: Vec<SessionKey> = self
                .by_user
                .get(n.as_str())
                .map(|v| v.iter().collect())
                .unwrap_or_default();
            if keys.is_empty() {
                out.push(format!("User {n} is not connected"));
            }
            for k in keys {
                out.extend(self.show_session_detail(now, k));
            }
        }
        out
    }

    /// `show pool`: totals, then the addresses in use.
    pub(super) fn show_pool(&self) -> Vec<String> {
        let mut used: Vec<(std::net::Ipv4Addr, SessionKey)> =
            self.by_address.iter().map(|(a, k)| (*a, *k)).collect();
        used.sort_by_key(|(a, _)| *a);
        let mut out = vec![format!("{:<15} {:>10} {}", "IP Address", "SID", "Username")];
        for (a, k) in used {
            let user = self.user_of(k);
            out.push(format!("{:<15} {:>10} {}", a, k.nas_port(), user));
        }
        out.push(String::new());
        out.push(format!(
            "Free: {}  Used: {}  Total: {}",
            self.pool.free_count(),
            self.pool.used_count(),
            self.pool.len()
        ));
        out
    }

    /// `show radius`: per server, what was asked and answered.
    pub(super) fn show_radius(&self) -> Vec<String> {
        let Some(aaa) = self.aaa.as_ref() else {
            return vec!["RADIUS is not configured (primary_radius)".into()];
        };
        let mut out = vec![format!("Requests in flight: {}", aaa.client().in_flight())];
        for (i, st) in aaa.client().stats().iter().enumerate() {
            let mut l = String::new();
            let _ = write!(
                l,
                "Server {i}: requests {} accepts {} rejects {} acct-responses {} timeouts {} retries {} bad-authenticator {} bad-message-authenticator {}",
                st.requests,
                st.accepts,
                st.rejects,
                st.acct_responses,
                st.timeouts,
                st.retries,
                st.bad_authenticator,
                st.bad_message_authenticator
            );
            out.push(l);
        }
        out
    }

    /// `show counters`: the control plane's own counters, one per line.
    pub(super) fn show_counters(&self) -> Vec<String> {
        let text = format!("{:#?}", self.stats);
        let mut out: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("    "))
            .map(|l| l.trim().trim_end_matches(',').replace(": ", " = "))
            .collect();
        let n = self.nsctl_counters();
        out.push(format!(
            "nsctl_requests = {}",
            n.load + n.unload + n.help + n.control
        ));
        out.push(format!("nsctl_malformed = {}", n.malformed()));
        out
    }
}

/// l2tpns's Y/N columns.
fn yn(b: bool) -> &'static str {
    if b {
        "Y"
    } else {
        "N"
    }
}
