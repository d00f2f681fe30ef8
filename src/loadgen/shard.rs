//! `--threads K`: the tunnels are split into K contiguous blocks, one per
//! thread, each thread a whole load generator with its own UDP socket (its
//! own local port) and the sessions of its tunnels. Session g rides tunnel
//! g mod T whatever K is, tunnel ids stay unique over the run, and the
//! shards' summaries are merged into one.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Arc;

use super::gate::Gates;
use super::{LoadGen, Options, ShardResult, Summary};

/// One thread's share.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardPart {
    /// Its first tunnel is tunnel_base (id tunnel_base + 1).
    pub tunnel_base: usize,
    pub tunnels: usize,
    /// (global session index, local tunnel index), in global order.
    pub sessions: Vec<(usize, usize)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardPlan {
    pub parts: Vec<ShardPart>,
}

impl ShardPlan {
    /// At least one tunnel; between 1 and that many threads.
    pub fn new(tunnels: usize, sessions: usize, threads: usize) -> ShardPlan {
        let t = tunnels.max(1);
        let k = threads.clamp(1, t);
        let mut parts = Vec::with_capacity(k);
        let mut base = 0;
        for i in 0..k {
            let n = t / k + usize::from(i < t % k);
            parts.push(ShardPart {
                tunnel_base: base,
                tunnels: n,
                sessions: Vec::new(),
            });
            base += n;
        }
        for g in 0..sessions {
            let tunnel = g % t;
            // Blocks are contiguous: the last one starting at or before it.
            let idx = parts
                .iter()
                .rposition(|p| p.tunnel_base <= tunnel)
                .unwrap_or(0);
            if let Some(p) = parts.get_mut(idx) {
                p.sessions.push((g, tunnel - p.tunnel_base));
            }
        }
        ShardPlan { parts }
    }
}

/// Run `opts` over `opts.threads` threads and merge what they saw.
pub fn run_all(opts: Options) -> std::io::Result<Summary> {
    let plan = ShardPlan::new(opts.tunnels, opts.sessions, opts.threads);
    let k = plan.parts.len();
    let gates = Arc::new(Gates::new(k));
    let mut gens = Vec::with_capacity(k);
    for (i, part) in plan.parts.into_iter().enumerate() {
        let mut o = opts.clone();
        o.seed = opts.seed.wrapping_add(i as u64);
        gens.push(LoadGen::shard(o, part, i, k, gates.clone())?);
    }
    let results: Vec<ShardResult> = if k == 1 {
        gens.into_iter().map(LoadGen::run_shard).collect()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = gens
                .into_iter()
                .map(|g| scope.spawn(move || g.run_shard()))
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        })
    };
    let mut merged = merge(&results);
    merged.sessions = opts.sessions;
    merged.threads = k;
    Ok(merged)
}

/// One summary out of the shards': counts add up, setup lasts as long as
/// the slowest shard, addresses must be unique over all of them.
pub fn merge(results: &[ShardResult]) -> Summary {
    let mut m = Summary {
        teardown_clean: !results.is_empty(),
        ..Summary::default()
    };
    let mut seen: HashSet<Ipv4Addr> = HashSet::new();
    for r in results {
        let s = &r.summary;
        m.tunnels_up += s.tunnels_up;
        m.sessions += s.sessions;
        m.sessions_up += s.sessions_up;
        m.auth_failed += s.auth_failed;
        m.dns_ok += s.dns_ok;
        m.setup_secs = m.setup_secs.max(s.setup_secs);
        m.pings_sent += s.pings_sent;
        m.pings_received += s.pings_received;
        m.sessions_ping_ok += s.sessions_ping_ok;
        m.teardown_clean &= s.teardown_clean;
        m.control_dropped += s.control_dropped;
        m.control_reordered += s.control_reordered;
        m.echo_answered += s.echo_answered;
        m.lcp_echoes += s.lcp_echoes;
        m.reassembled += s.reassembled;
        m.tun.add(&s.tun);
        m.tun_failed |= s.tun_failed;
        m.hold.merge(&s.hold);
        m.failures.extend(s.failures.iter().cloned());
        for a in &r.addresses {
            if !seen.insert(*a) {
                m.failures
                    .push(format!("address {a} given to two sessions"));
            }
        }
        m.traffic = match (&m.traffic, &s.traffic) {
            (Some(a), Some(b)) => Some(a.merge(b)),
            (a, b) => a.clone().or_else(|| b.clone()),
        };
    }
    m.unique_addresses = seen.len();
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::traffic::TrafficStats;

    #[test]
    fn plan_keeps_session_on_tunnel_g_mod_t() {
        let p = ShardPlan::new(10, 1000, 3);
        assert_eq!(p.parts.len(), 3);
        assert_eq!(
            p.parts
                .iter()
                .map(|x| (x.tunnel_base, x.tunnels))
                .collect::<Vec<_>>(),
            vec![(0, 4), (4, 3), (7, 3)]
        );
        let total: usize = p.parts.iter().map(|x| x.sessions.len()).sum();
        assert_eq!(total, 1000);
        for part in &p.parts {
            for &(g, local) in &part.sessions {
                assert_eq!(part.tunnel_base + local, g % 10);
                assert!(local < part.tunnels);
            }
        }
        // More threads than tunnels, zero tunnels, zero threads.
        assert_eq!(ShardPlan::new(2, 5, 8).parts.len(), 2);
        let one = ShardPlan::new(0, 3, 0);
        assert_eq!(one.parts.len(), 1);
        assert_eq!(one.parts[0].sessions, vec![(0, 0), (1, 0), (2, 0)]);
    }

    #[test]
    fn merge_adds_up_and_finds_duplicate_addresses() {
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let b = Ipv4Addr::new(10, 0, 0, 2);
        let shard = |up, addrs: Vec<Ipv4Addr>, secs| ShardResult {
            summary: Summary {
                sessions: up,
                sessions_up: up,
                setup_secs: secs,
                teardown_clean: true,
                traffic: Some(TrafficStats {
                    up_sent: 5,
                    ..TrafficStats::default()
                }),
                ..Summary::default()
            },
            addresses: addrs,
        };
        let m = merge(&[shard(1, vec![a], 1.0), shard(1, vec![b], 2.0)]);
        assert_eq!(
            (m.sessions_up, m.unique_addresses, m.setup_secs),
            (2, 2, 2.0)
        );
        assert!(m.teardown_clean && m.failures.is_empty());
        assert_eq!(m.traffic.map(|t| t.up_sent), Some(10));
        let d = merge(&[shard(1, vec![a], 1.0), shard(1, vec![a], 1.0)]);
        assert_eq!(d.unique_addresses, 1);
        assert_eq!(d.failures.len(), 1);
        assert!(!merge(&[]).teardown_clean);
    }
}
