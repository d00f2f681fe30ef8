//! What a run found: the SUMMARY line (and the fields later phases add),
//! and whether it passed.

use super::*;

#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub tunnels_up: usize,
    pub sessions: usize,
    pub sessions_up: usize,
    pub auth_failed: usize,
    pub unique_addresses: usize,
    pub dns_ok: usize,
    pub setup_secs: f64,
    pub pings_sent: u64,
    pub pings_received: u64,
    pub sessions_ping_ok: usize,
    pub teardown_clean: bool,
    pub control_dropped: u64,
    pub control_reordered: u64,
    pub echo_answered: u64,
    /// LCP Echo-Requests the LNS sent to the sessions still up at hangup.
    pub lcp_echoes: u64,
    pub reassembled: u64,
    pub failures: Vec<String>,
    pub threads: usize,
    pub traffic: Option<TrafficStats>,
    /// IP through the `--tun` bridge.
    pub tun: TunCounts,
    /// `--tun` was asked for and the device could not be set up.
    pub tun_failed: bool,
    /// What hold saw (an LNS restart must go unnoticed).
    pub hold: HoldStats,
}

impl Summary {
    pub fn passed(&self) -> bool {
        self.sessions_up == self.sessions
            && self.unique_addresses == self.sessions
            && self.dns_ok == self.sessions
            && self.sessions_ping_ok == self.sessions
            && self.teardown_clean
            && !self.tun_failed
            && self.hold.passed(self.sessions_up)
    }

    pub fn line(&self) -> String {
        format!(
            "SUMMARY tunnels_up={} sessions={} up={} auth_failed={} unique_ip={} dns_ok={} setup_s={:.3} rate_per_s={:.0} \
             pings_sent={} pings_received={} lost={} ping_ok_sessions={} echo_answered={} reassembled={} teardown={} ctl_dropped={} ctl_reordered={} result={}",
            self.tunnels_up,
            self.sessions,
            self.sessions_up,
            self.auth_failed,
            self.unique_addresses,
            self.dns_ok,
            self.setup_secs,
            if self.setup_secs > 0.0 { self.sessions_up as f64 / self.setup_secs } else { 0.0 },
            self.pings_sent,
            self.pings_received,
            self.pings_sent.saturating_sub(self.pings_received),
            self.sessions_ping_ok,
            self.echo_answered,
            self.reassembled,
            if self.teardown_clean { "clean" } else { "incomplete" },
            self.control_dropped,
            self.control_reordered,
            if self.passed() { "PASS" } else { "FAIL" }
        ) + &self.appended_fields()
    }

    /// Fields added after `result` (older parsers look fields up by name).
    fn appended_fields(&self) -> String {
        let t = self.traffic.clone().unwrap_or_default();
        let sink_reordered = t.sink.map_or(0, |s| s.reordered);
        format!(
            " threads={} traffic_up_sent={} traffic_up_received={} traffic_down_received={} traffic_lost={} traffic_reordered={}",
            self.threads.max(1),
            t.up_sent,
            t.up_received(),
            t.down.received,
            t.up_lost() + t.down.lost,
            sink_reordered + t.down.reordered,
        ) + &format!(
            " tun_up_packets={} tun_up_bytes={} tun_down_packets={} tun_down_bytes={}",
            self.tun.up_packets, self.tun.up_bytes, self.tun.down_packets, self.tun.down_bytes,
        ) + &format!(" lcp_echoes={}", self.lcp_echoes)
            + &self.hold.fields()
    }
}
