//! The snapshot in the Prometheus text format, through prometheus-client's
//! encoder (names, escaping, `_total`, histogram buckets are its business).
//! A fresh registry per scrape with one collector over the snapshot: the
//! figures are read, not kept, so there are no metric objects to update.

use std::fmt::{self, Write};
use std::time::UNIX_EPOCH;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::daemon::control::{SessionState, TunnelState};
use crate::dataplane::drop_reason::DropReason;

use super::Snapshot;

/// The text exposition of one snapshot.
pub fn render(s: Snapshot) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape(s)));
    let mut out = String::with_capacity(16 * 1024);
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?;
    Ok(out)
}

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Debug)]
struct Scrape(Snapshot);

/// One family: `name` with one label, a value per label value.
fn family<'a>(
    e: &mut DescriptorEncoder,
    kind: MetricType,
    name: &str,
    help: &str,
    label: &str,
    values: impl IntoIterator<Item = (&'a str, u64)>,
) -> fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, kind)?;
    for (v, n) in values {
        let labels = [(label, v)];
        let one = m.encode_family(&labels)?;
        match kind {
            MetricType::Counter => ConstCounter::new(n).encode(one)?,
            _ => ConstGauge::new(n).encode(one)?,
        }
    }
    Ok(())
}

fn counters<'a>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    values: impl IntoIterator<Item = (&'a str, u64)>,
) -> fmt::Result {
    family(e, MetricType::Counter, name, help, label, values)
}

fn gauges<'a>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    values: impl IntoIterator<Item = (&'a str, u64)>,
) -> fmt::Result {
    family(e, MetricType::Gauge, name, help, label, values)
}

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> fmt::Result {
    ConstCounter::new(v).encode(e.encode_descriptor(name, help, None, MetricType::Counter)?)
}

fn gauge<N>(e: &mut DescriptorEncoder, name: &str, help: &str, v: N) -> fmt::Result
where
    N: prometheus_client::encoding::EncodeGaugeValue,
{
    ConstGauge::new(v).encode(e.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

impl Collector for Scrape {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let s = &self.0;
        process(&mut e, s)?;
        control(&mut e, s)?;
        radius(&mut e, s)?;
        data(&mut e, s)?;
        fast_path(&mut e, s)?;
        hooks(&mut e, s)
    }
}

fn process(e: &mut DescriptorEncoder, s: &Snapshot) -> fmt::Result {
    let mut m = e.encode_descriptor(
        "l2tpns_build_info",
        "The daemon's version (value 1).",
        None,
        MetricType::Gauge,
    )?;
    ConstGauge::new(1u64).encode(m.encode_family(&[("version", env!("CARGO_PKG_VERSION"))])?)?;
    let start = s
        .start_time
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    gauge(
        e,
        "l2tpns_start_time_seconds",
        "When the daemon started, seconds since the Unix epoch.",
        start,
    )?;
    gauge(
        e,
        "l2tpns_uptime_seconds",
        "Seconds since the daemon started.",
        s.uptime.as_secs_f64(),
    )?;
    gauge(
        e,
        "l2tpns_metrics_snapshot_seconds",
        "Control-loop time this scrape's snapshot took.",
        s.control.took.as_secs_f64(),
    )?;
    gauge(
        e,
        "l2tpns_metrics_snapshot_cpu_seconds",
        "Control-loop CPU time this scrape's snapshot took (without the time the thread waited for a CPU).",
        s.control.took_cpu.as_secs_f64(),
    )?;
    counters(
        e,
        "l2tpns_metrics_http_requests",
        "Requests to the metrics endpoint, by result.",
        "result",
        s.http.iter().copied(),
    )
}

fn control(e: &mut DescriptorEncoder, s: &Snapshot) -> fmt::Result {
    let c = &s.control;
    let st = &c.control;
    gauges(
        e,
        "l2tpns_sessions",
        "Sessions by state.",
        "state",
        SessionState::ALL
            .iter()
            .map(|k| (k.name(), c.sessions[*k as usize])),
    )?;
    gauges(
        e,
        "l2tpns_tunnels",
        "Tunnels by state.",
        "state",
        TunnelState::ALL
            .iter()
            .map(|k| (k.name(), c.tunnels[*k as usize])),
    )?;
    gauge(
        e,
        "l2tpns_pool_free_addresses",
        "Addresses left in the IP pool.",
        c.free_addresses,
    )?;
    counters(
        e,
        "l2tpns_logins",
        "PPP logins by result: accepted, rejected (bad credentials, refused), no_address (accepted but the pool was empty).",
        "result",
        [
            ("accepted", st.auth_accepted),
            ("rejected", st.auth_rejected),
            ("no_address", st.no_address),
        ],
    )?;
    counter(
        e,
        "l2tpns_sessions_opened",
        "Sessions that reached IPCP up.",
        st.sessions_up,
    )?;
    counter(
        e,
        "l2tpns_sessions_closed",
        "Sessions closed.",
        st.sessions_closed,
    )?;
    counters(
        e,
        "l2tpns_control_dropped",
        "Control-plane input dropped or refused, by reason.",
        "reason",
        [
            ("malformed", st.malformed),
            ("unknown_tunnel", st.unknown_tunnel),
            ("unknown_session", st.unknown_session),
            ("wrong_source", st.wrong_source),
            ("tunnel_limit", st.tunnel_limit),
            ("session_limit", st.session_limit),
            ("tunnel_refused", st.tunnel_refused),
            ("spoofed", st.spoofed),
            ("sccrq_rate", c.admission.sccrq_rate_limited),
            ("source_tunnel_limit", c.admission.source_tunnel_limit),
        ],
    )?;
    counters(
        e,
        "l2tpns_tunnel_refusals",
        "Refused SCCRQs by answer: sent (a stateless StopCCN 2/4), unanswered (over sccrq_refusal_rate_per_source).",
        "result",
        [
            ("sent", c.admission.refusals_sent),
            ("unanswered", c.admission.refusals_unanswered),
        ],
    )?;
    counter(
        e,
        "l2tpns_tunnel_admission_overflow",
        "SCCRQs judged with the shared rate of untracked sources (the per-source table was full).",
        c.admission.overflow_sources,
    )?;
    counter(
        e,
        "l2tpns_control_send_errors",
        "Control-plane sends that failed.",
        st.send_errors,
    )?;
    counter(
        e,
        "l2tpns_control_early_ipv4",
        "Upstream IPv4 that reached the control plane before the data plane knew its session.",
        st.early_ipv4,
    )?;
    counters(
        e,
        "l2tpns_dae_requests",
        "Disconnect/CoA requests by result: ack, nak, refused_source (not a server nor allowed), bad (authenticator or format).",
        "result",
        [
            ("ack", st.dae_acks),
            ("nak", st.dae_naks),
            ("refused_source", st.dae_refused_source),
            ("bad", st.dae_bad),
        ],
    )?;
    counters(
        e,
        "l2tpns_accounting_dir_files",
        "accounting_dir usage files by result: written, failed (kept for the next file).",
        "result",
        [
            ("written", st.accounting_dir_files),
            ("failed", st.accounting_dir_errors),
        ],
    )?;
    counter(
        e,
        "l2tpns_accounting_dir_dropped_sessions",
        "Closed sessions left out of accounting_dir files: too many waited for one.",
        st.accounting_dir_dropped,
    )
}

fn radius(e: &mut DescriptorEncoder, s: &Snapshot) -> fmt::Result {
    let servers = &s.control.radius;
    let per = |f: fn(&crate::radius::ServerStats) -> u64| {
        servers.iter().map(move |r| (r.name.as_str(), f(&r.stats)))
    };
    counters(
        e,
        "l2tpns_radius_requests",
        "RADIUS requests sent to each server (first tries, fail-overs included).",
        "server",
        per(|s| s.requests),
    )?;
    counters(
        e,
        "l2tpns_radius_retries",
        "RADIUS retransmissions to each server.",
        "server",
        per(|s| s.retries),
    )?;
    counters(
        e,
        "l2tpns_radius_timeouts",
        "RADIUS requests a server left unanswered after every try.",
        "server",
        per(|s| s.timeouts),
    )?;
    let mut m = e.encode_descriptor(
        "l2tpns_radius_responses",
        "Valid RADIUS replies by server and result (accept, reject, accounting).",
        None,
        MetricType::Counter,
    )?;
    for r in servers {
        for (result, n) in [
            ("accept", r.stats.accepts),
            ("reject", r.stats.rejects),
            ("accounting", r.stats.acct_responses),
        ] {
            let labels = [("server", r.name.as_str()), ("result", result)];
            ConstCounter::new(n).encode(m.encode_family(&labels)?)?;
        }
    }
    let mut m = e.encode_descriptor(
        "l2tpns_radius_dropped_replies",
        "RADIUS datagrams dropped, by server and reason.",
        None,
        MetricType::Counter,
    )?;
    for r in servers {
        let st = &r.stats;
        for (reason, n) in [
            ("bad_authenticator", st.bad_authenticator),
            ("bad_message_authenticator", st.bad_message_authenticator),
            ("unknown_id", st.unknown_id),
            ("wrong_source", st.wrong_source),
            ("malformed", st.malformed),
        ] {
            let labels = [("server", r.name.as_str()), ("reason", reason)];
            ConstCounter::new(n).encode(m.encode_family(&labels)?)?;
        }
    }
    let mut m = e.encode_descriptor(
        "l2tpns_radius_reply_duration_seconds",
        "From sending the answered try to its valid reply, per server.",
        None,
        MetricType::Histogram,
    )?;
    for r in servers {
        let labels = [("server", r.name.as_str())];
        r.latency.histogram().encode(m.encode_family(&labels)?)?;
    }
    let mut m = e.encode_descriptor(
        "l2tpns_radius_server_up",
        "1 while a server is used, 0 while it is skipped as dead; for authentication and accounting apart.",
        None,
        MetricType::Gauge,
    )?;
    for r in servers {
        for (purpose, dead) in [("auth", r.dead_auth), ("acct", r.dead_acct)] {
            let labels = [("server", r.name.as_str()), ("purpose", purpose)];
            ConstGauge::new(u64::from(!dead)).encode(m.encode_family(&labels)?)?;
        }
    }
    gauge(
        e,
        "l2tpns_radius_in_flight",
        "RADIUS requests waiting for an answer.",
        s.control.radius_in_flight,
    )?;
    counter(
        e,
        "l2tpns_radius_stray_datagrams",
        "RADIUS datagrams from no configured server.",
        s.control.radius_stray,
    )
}

fn data(e: &mut DescriptorEncoder, s: &Snapshot) -> fmt::Result {
    let d = &s.data;
    counters(
        e,
        "l2tpns_packets",
        "User IPv4 packets forwarded: up (from the LACs to the TUN), down (to the LACs).",
        "direction",
        [("up", d.up_packets), ("down", d.down_packets)],
    )?;
    counters(
        e,
        "l2tpns_bytes",
        "User IPv4 bytes forwarded (IP total length, as accounting counts them).",
        "direction",
        [("up", d.up_bytes), ("down", d.down_bytes)],
    )?;
    let mut m = e.encode_descriptor(
        "l2tpns_worker_packets",
        "User IPv4 packets forwarded by each data-plane worker.",
        None,
        MetricType::Counter,
    )?;
    let mut name = String::new();
    for (i, (up, down)) in d.worker_up.iter().zip(&d.worker_down).enumerate() {
        name.clear();
        let _ = write!(name, "{i}");
        for (dir, n) in [("up", *up), ("down", *down)] {
            let labels = [("worker", name.as_str()), ("direction", dir)];
            ConstCounter::new(n).encode(m.encode_family(&labels)?)?;
        }
    }
    counter(
        e,
        "l2tpns_to_control_packets",
        "Datagrams the workers handed to the control plane.",
        d.to_control,
    )?;
    let kernel = [
        ("udp-receive-buffer-full", d.kernel.udp_receive_buffer_full),
        ("tun-queue-full", d.kernel.tun_queue_full),
    ];
    counters(
        e,
        "l2tpns_dropped_packets",
        "Packets dropped, by reason: the data plane's, and the kernel's on its behalf (udp-receive-buffer-full, tun-queue-full).",
        "reason",
        DropReason::ALL
            .iter()
            .map(|r| (r.name(), d.drops[*r as usize]))
            .chain(kernel),
    )?;
    counters(
        e,
        "l2tpns_io_errors",
        "Data-plane writes that failed: tun_write, udp_send.",
        "op",
        [
            ("tun_write", d.tun_write_errors),
            ("udp_send", d.udp_send_errors),
        ],
    )?;
    counters(
        e,
        "l2tpns_offload_events",
        "Offloads at work: gro_receive (UDP receives holding several datagrams), tun_merged_write, tun_super_read, gso_send.",
        "kind",
        [
            ("gro_receive", d.gro_receives),
            ("tun_merged_write", d.tun_merged_writes),
            ("tun_super_read", d.tun_super_reads),
            ("gso_send", d.gso_sends),
        ],
    )?;
    counters(
        e,
        "l2tpns_icmp_unreachables",
        "icmp_rate: host unreachables for packets no session owns, by result: sent, limited (held back by the rate).",
        "result",
        [
            ("sent", d.icmp_unreachables),
            ("limited", d.icmp_unreachables_limited),
        ],
    )?;
    counters(
        e,
        "l2tpns_snoop_copies",
        "Snoop (lawful intercept): copies of subscribers' packets, by result: sent, failed (could not be sent).",
        "result",
        [("sent", d.snoop_sent), ("failed", d.snoop_errors)],
    )?;
    counter(
        e,
        "l2tpns_garden_redirects",
        "Walled garden: TCP connections to port 80 sent to the portal (garden_redirect).",
        d.garden_redirects,
    )?;
    counters(
        e,
        "l2tpns_garden_prohibited",
        "Walled garden: refused packets answered with ICMP administratively prohibited (sent), or left unanswered by garden_icmp_rate (limited).",
        "result",
        [
            ("sent", d.garden_prohibited),
            ("limited", d.garden_prohibited_limited),
        ],
    )
}

/// Only when the kernel fast path runs (data_path bpf or auto).
fn fast_path(e: &mut DescriptorEncoder, s: &Snapshot) -> fmt::Result {
    let Some(f) = &s.data.fast else {
        return Ok(());
    };
    gauge(
        e,
        "l2tpns_fastpath_sessions",
        "Sessions the kernel fast path forwards now.",
        f.sessions,
    )?;
    gauge(
        e,
        "l2tpns_fastpath_sessions_off_line",
        "Of those, sessions upstream finds in the hash, not on the line their ids pick (slower; Docs/FASTPATH.md).",
        f.off_line,
    )?;
    gauge(
        e,
        "l2tpns_fastpath_sessions_off_index",
        "Of those, sessions downstream finds in the hash, not through the index entry their address picks (slower; Docs/FASTPATH.md).",
        f.off_index,
    )?;
    counter(
        e,
        "l2tpns_fastpath_refused",
        "Sessions the fast path's maps refused (full: max_sessions, or 131072 when that is 0), forwarded in userspace instead.",
        f.refused,
    )?;
    counters(
        e,
        "l2tpns_fastpath_packets",
        "User IPv4 packets the kernel fast path forwarded (also in l2tpns_packets_total).",
        "direction",
        [("up", f.up_packets), ("down", f.down_packets)],
    )?;
    counters(
        e,
        "l2tpns_fastpath_bytes",
        "User IPv4 bytes the kernel fast path forwarded (also in l2tpns_bytes_total).",
        "direction",
        [("up", f.up_bytes), ("down", f.down_bytes)],
    )?;
    counters(
        e,
        "l2tpns_fastpath_passed",
        "Packets the fast path's programs handed to the userspace path, by reason.",
        "reason",
        f.passed.iter().copied(),
    )
}

fn hooks(e: &mut DescriptorEncoder, s: &Snapshot) -> fmt::Result {
    let h = &s.data.hooks;
    counter(
        e,
        "l2tpns_session_hook_runs_started",
        "session_hook runs started.",
        h.started,
    )?;
    counters(
        e,
        "l2tpns_session_hook_runs",
        "session_hook runs by result: succeeded, failed (non-zero exit), timed_out (killed after session_hook_timeout), failed_to_start, dropped (the queue was full).",
        "result",
        [
            ("succeeded", h.succeeded),
            ("failed", h.failed),
            ("timed_out", h.timed_out),
            ("failed_to_start", h.failed_to_start),
            ("dropped", h.dropped),
        ],
    )?;
    gauge(
        e,
        "l2tpns_session_hook_running",
        "session_hook runs in progress.",
        h.running,
    )?;
    gauge(
        e,
        "l2tpns_session_hook_queued",
        "session_hook runs waiting for a slot or for an earlier run of their session or address.",
        h.queued,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::metrics::{ControlSnapshot, DataSnapshot};
    use std::time::{Duration, SystemTime};

    #[test]
    fn names_and_values() {
        let mut control = ControlSnapshot::default();
        control.sessions[SessionState::Up as usize] = 7;
        control.control.auth_accepted = 9;
        let data = DataSnapshot {
            up_packets: 5,
            down_bytes: 1234,
            worker_up: vec![2, 3],
            worker_down: vec![0, 0],
            hooks: crate::daemon::session_hook::HookCounts {
                timed_out: 2,
                queued: 1,
                ..Default::default()
            },
            ..DataSnapshot::default()
        };
        let text = render(Snapshot {
            control,
            data,
            start_time: SystemTime::UNIX_EPOCH + Duration::from_secs(100),
            uptime: Duration::from_secs(3),
            http: vec![("ok", 1)],
        })
        .unwrap();
        for line in [
            "l2tpns_sessions{state=\"up\"} 7\n",
            "l2tpns_logins_total{result=\"accepted\"} 9\n",
            "l2tpns_packets_total{direction=\"up\"} 5\n",
            "l2tpns_bytes_total{direction=\"down\"} 1234\n",
            "l2tpns_worker_packets_total{worker=\"1\",direction=\"up\"} 3\n",
            "l2tpns_dropped_packets_total{reason=\"tun-queue-full\"} 0\n",
            "# TYPE l2tpns_sessions gauge\n",
            "# TYPE l2tpns_logins_total counter\n",
            "l2tpns_start_time_seconds 100",
            "l2tpns_session_hook_runs_total{result=\"timed_out\"} 2\n",
            "l2tpns_session_hook_queued 1\n",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}
