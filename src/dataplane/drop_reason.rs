//! Why the data plane dropped a packet: one enum that indexes the drop
//! counters and names each drop in logs and the CLI (house style §3).

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a packet was not forwarded. The discriminant indexes [`DropCounters`].
#[repr(usize)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// L2TP header truncated, wrong version, Length or Offset beyond the datagram.
    MalformedL2tp = 0,
    /// An IPv4 frame for a (tunnel, session) that has no IPCP-up entry in the table.
    UnknownSession,
    /// PPP frame empty, only an address/control field, or an invalid protocol field.
    BadPpp,
    /// Downstream: the TUN handed us something that is not IPv4.
    NotIpv4,
    /// Upstream: the source address is neither the session's nor in its routes.
    SpoofedSource,
    /// IPv4 header invalid (version, IHL, total length).
    Ipv4Malformed,
    /// Downstream: no session owns the destination address or a covering route.
    NoSessionForDestination,
    /// Downstream: larger than the session MRU with DF set; answered with ICMP frag-needed.
    TooBigDf,
    /// Downstream: larger than the MRU with DF set, but RFC 1122 §3.2.2 forbids
    /// an ICMP error (the packet is an ICMP error or a non-first fragment).
    TooBigNoIcmp,
    /// Downstream: the MRU is too small to fragment this packet (or the
    /// fragment offset would overflow), or to hold one segment of a GSO
    /// super-packet after its headers.
    FragmentationFailed,
    /// The worker could not pass a frame to the control plane (channel full).
    ControlQueueFull,
    /// Downstream (TUN offloads): the virtio-net header is truncated or lies
    /// (checksum field outside the packet, `gso_size` 0, `hdr_len` beyond it).
    BadVnetHeader,
    /// Downstream (TUN offloads): a GSO type we did not enable (TCPv6, UFO, unknown).
    UnsupportedGso,
    /// Downstream (TUN offloads): a GSO super-packet that is not what its
    /// header says (not TCP/UDP, a fragment, L4 header truncated).
    GsoMalformed,
    /// Upstream: data for a session from an address or port other than its
    /// tunnel's LAC.
    WrongPeer,
    /// Downstream: over the session's `packet_limit` in this 0.1 s.
    PacketLimit,
    /// Beyond the session's throttle rate with its bucket's queue full
    /// (either direction).
    Throttled,
    /// Upstream: a walled-garden session sent to what its garden does not
    /// allow (answered with ICMP administratively prohibited).
    Gardened,
}

impl DropReason {
    /// Every reason, in discriminant order.
    pub const ALL: [DropReason; 18] = [
        DropReason::MalformedL2tp,
        DropReason::UnknownSession,
        DropReason::BadPpp,
        DropReason::NotIpv4,
        DropReason::SpoofedSource,
        DropReason::Ipv4Malformed,
        DropReason::NoSessionForDestination,
        DropReason::TooBigDf,
        DropReason::TooBigNoIcmp,
        DropReason::FragmentationFailed,
        DropReason::ControlQueueFull,
        DropReason::BadVnetHeader,
        DropReason::UnsupportedGso,
        DropReason::GsoMalformed,
        DropReason::WrongPeer,
        DropReason::PacketLimit,
        DropReason::Throttled,
        DropReason::Gardened,
    ];
    /// Number of reasons (length of the counter array).
    pub const COUNT: usize = Self::ALL.len();

    /// Short stable name for logs and the CLI.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::MalformedL2tp => "malformed-l2tp",
            DropReason::UnknownSession => "unknown-session",
            DropReason::BadPpp => "bad-ppp",
            DropReason::NotIpv4 => "not-ipv4",
            DropReason::SpoofedSource => "spoofed-source",
            DropReason::Ipv4Malformed => "ipv4-malformed",
            DropReason::NoSessionForDestination => "no-session-for-destination",
            DropReason::TooBigDf => "too-big-df",
            DropReason::TooBigNoIcmp => "too-big-no-icmp",
            DropReason::FragmentationFailed => "fragmentation-failed",
            DropReason::ControlQueueFull => "control-queue-full",
            DropReason::BadVnetHeader => "bad-vnet-header",
            DropReason::UnsupportedGso => "unsupported-gso",
            DropReason::GsoMalformed => "gso-malformed",
            DropReason::WrongPeer => "wrong-peer",
            DropReason::PacketLimit => "packet-limit",
            DropReason::Throttled => "throttled",
            DropReason::Gardened => "gardened",
        }
    }
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One counter per [`DropReason`], shared between a worker (increments) and
/// the control plane / CLI (reads). Relaxed: these are statistics.
#[derive(Debug, Default)]
pub struct DropCounters {
    counts: [AtomicU64; DropReason::COUNT],
}

impl DropCounters {
    pub fn new() -> Self {
        Self::default()
    }

    /// Count one drop.
    #[inline]
    pub fn count(&self, reason: DropReason) {
        self.counts[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Current value for one reason.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.counts[reason as usize].load(Ordering::Relaxed)
    }

    /// All counters, indexed by `reason as usize`.
    pub fn snapshot(&self) -> [u64; DropReason::COUNT] {
        std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed))
    }

    /// (name, count) pairs for display.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DropReason::ALL.iter().map(|r| (r.name(), self.get(*r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_discriminant_order() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::COUNT);
    }

    #[test]
    fn count_and_snapshot() {
        let c = DropCounters::new();
        c.count(DropReason::SpoofedSource);
        c.count(DropReason::SpoofedSource);
        c.count(DropReason::ControlQueueFull);
        let s = c.snapshot();
        assert_eq!(s[DropReason::SpoofedSource as usize], 2);
        assert_eq!(s[DropReason::ControlQueueFull as usize], 1);
        assert_eq!(s.iter().sum::<u64>(), 3);
        assert_eq!(c.get(DropReason::MalformedL2tp), 0);
        assert!(c.named().any(|(n, v)| n == "spoofed-source" && v == 2));
    }
}
