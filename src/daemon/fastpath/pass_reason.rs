//! Why the kernel fast path handed a packet on to the userspace path: the
//! index of the BPF `passed` per-CPU counters and the metric label of each.
//!
//! Declared once here; `enum pass_reason` in bpf/fastpath_maps.h MUST use the same
//! numbers in the same order (the loader refuses an object whose `passed`
//! map has another size, and tests/fastpath_programs.rs provokes each
//! reason and checks the counter of that number).

/// See the module comment. The discriminant is the C enum's value.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PassReason {
    /// Upstream: outer IPv4 header checksum wrong, IPv4/UDP lengths
    /// inconsistent, or L2TP header truncated.
    UpMalformed = 0,
    /// Upstream: the outer IPv4 packet is a (first) fragment.
    UpOuterFragment = 1,
    /// Upstream: GRO merged several datagrams into one skb.
    UpGso = 2,
    UpL2tpVersion = 3,
    /// Upstream: an L2TP control message (T bit).
    UpControl = 4,
    /// Upstream: L, S or O bit set: a data header the program does not parse.
    UpL2tpOptions = 5,
    UpUnknownSession = 6,
    /// Upstream: not from the tunnel's LAC address and port.
    UpWrongPeer = 7,
    /// Upstream: a PPP protocol other than IPv4 (LCP, IPCP, IPv6...) or bad framing.
    UpNotIpv4 = 8,
    UpInnerMalformed = 9,
    /// Upstream: source is not the session address (userspace checks its routes).
    UpSpoofedSource = 10,
    UpInnerFragment = 11,
    /// Upstream: a TCP SYN, whose MSS userspace clamps.
    UpTcpSyn = 12,
    /// Upstream: UDP checksum wrong, not verifiable in BPF, or the datagram too long to check.
    UpUdpChecksum = 13,
    /// Upstream: larger than the TUN MTU, which the redirect would drop.
    UpOverTunMtu = 14,
    UpDecapFailed = 15,
    /// Downstream: a GSO super-packet, which userspace segments.
    DownGso = 16,
    DownNotIpv4 = 17,
    DownMalformed = 18,
    /// Downstream: no session owns the destination.
    DownNoRoute = 19,
    /// Downstream: over the session's MRU (userspace fragments or answers ICMP).
    DownOverMru = 20,
    DownTcpSyn = 21,
    /// Downstream: the LAC's next hop has no neighbour entry yet.
    DownNoNeigh = 22,
    /// Downstream: the outer packet exceeds the route's MTU.
    DownFragNeeded = 23,
    /// Downstream: no usable route to the LAC (none at all, blackhole,
    /// unreachable, forwarding disabled, no source address, a LAC on this
    /// host without its socket, older kernel...).
    DownFibFailed = 24,
    /// Downstream: the route to the LAC leaves by a device that is not an uplink.
    DownNotUplink = 25,
    DownEncapFailed = 26,
    /// Downstream: the LAC is on this host and lo would drop a packet from
    /// a local source (net.ipv4.conf.lo.accept_local and route_localnet
    /// were not both 1 at start).
    DownLocalLac = 27,
    /// Downstream: TCP or UDP from a sender on this host whose checksum a
    /// device is still to finish (CHECKSUM_PARTIAL): userspace finishes it.
    DownPartialChecksum = 28,
}

impl PassReason {
    /// Every reason, in discriminant order.
    pub const ALL: [PassReason; 29] = [
        PassReason::UpMalformed,
        PassReason::UpOuterFragment,
        PassReason::UpGso,
        PassReason::UpL2tpVersion,
        PassReason::UpControl,
        PassReason::UpL2tpOptions,
        PassReason::UpUnknownSession,
        PassReason::UpWrongPeer,
        PassReason::UpNotIpv4,
        PassReason::UpInnerMalformed,
        PassReason::UpSpoofedSource,
        PassReason::UpInnerFragment,
        PassReason::UpTcpSyn,
        PassReason::UpUdpChecksum,
        PassReason::UpOverTunMtu,
        PassReason::UpDecapFailed,
        PassReason::DownGso,
        PassReason::DownNotIpv4,
        PassReason::DownMalformed,
        PassReason::DownNoRoute,
        PassReason::DownOverMru,
        PassReason::DownTcpSyn,
        PassReason::DownNoNeigh,
        PassReason::DownFragNeeded,
        PassReason::DownFibFailed,
        PassReason::DownNotUplink,
        PassReason::DownEncapFailed,
        PassReason::DownLocalLac,
        PassReason::DownPartialChecksum,
    ];
    /// Number of reasons: the size of the BPF `passed` array.
    pub const COUNT: usize = Self::ALL.len();

    /// Stable metric label (the style of `DropReason::name`).
    pub const fn name(self) -> &'static str {
        match self {
            PassReason::UpMalformed => "up-malformed",
            PassReason::UpOuterFragment => "up-outer-fragment",
            PassReason::UpGso => "up-gso",
            PassReason::UpL2tpVersion => "up-l2tp-version",
            PassReason::UpControl => "up-control",
            PassReason::UpL2tpOptions => "up-l2tp-options",
            PassReason::UpUnknownSession => "up-unknown-session",
            PassReason::UpWrongPeer => "up-wrong-peer",
            PassReason::UpNotIpv4 => "up-not-ipv4",
            PassReason::UpInnerMalformed => "up-inner-malformed",
            PassReason::UpSpoofedSource => "up-spoofed-source",
            PassReason::UpInnerFragment => "up-inner-fragment",
            PassReason::UpTcpSyn => "up-tcp-syn",
            PassReason::UpUdpChecksum => "up-udp-checksum",
            PassReason::UpOverTunMtu => "up-over-tun-mtu",
            PassReason::UpDecapFailed => "up-decap-failed",
            PassReason::DownGso => "down-gso",
            PassReason::DownNotIpv4 => "down-not-ipv4",
            PassReason::DownMalformed => "down-malformed",
            PassReason::DownNoRoute => "down-no-route",
            PassReason::DownOverMru => "down-over-mru",
            PassReason::DownTcpSyn => "down-tcp-syn",
            PassReason::DownNoNeigh => "down-no-neigh",
            PassReason::DownFragNeeded => "down-frag-needed",
            PassReason::DownFibFailed => "down-fib-failed",
            PassReason::DownNotUplink => "down-not-uplink",
            PassReason::DownEncapFailed => "down-encap-failed",
            PassReason::DownLocalLac => "down-local-lac",
            PassReason::DownPartialChecksum => "down-partial-checksum",
        }
    }
}

impl std::fmt::Display for PassReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_discriminant_order() {
        for (i, r) in PassReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = PassReason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PassReason::COUNT);
    }

    /// The C enum ends with PASS_REASON_COUNT, which sizes the `passed`
    /// map of the compiled object: it must be our COUNT.
    #[test]
    fn count_matches_the_c_enum() {
        let object = super::super::object::bytes();
        if object.is_empty() {
            panic!(
                "the BPF object was not built ({}); install clang",
                super::super::object::build_error()
            );
        }
        let parsed = aya_obj::Object::parse(object).expect("the BPF object parses");
        let passed = parsed.maps.get("passed").expect("a map named passed");
        assert_eq!(passed.max_entries() as usize, PassReason::COUNT);
    }
}
