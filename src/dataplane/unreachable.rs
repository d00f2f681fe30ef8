//! icmp_rate (l2tpns): a downstream packet that no session owns is
//! answered with ICMP host unreachable, at most `icmp_rate` a second; 0
//! sends none (l2tpns's default).
//!
//! Trigger: "no session for this destination". The TUN holds routes only
//! for the pool's networks, for static addresses and for the Framed-Routes
//! of sessions that are up, so such a packet is for a pool address with no
//! session (or a route whose session has just gone). l2tpns answers the
//! same packets: it looks the destination up and answers when there is no
//! session. Routes an operator points at the TUN by hand are answered too.
//!
//! Each data worker has its own limiter with `icmp_rate / workers` a
//! second (a token bucket holding a second's worth, at least one): no lock
//! per packet, and `icmp_rate` a second over all workers on average.
//! Sans-IO: time comes in as the worker's tick (milliseconds).

use std::net::Ipv4Addr;

use super::icmp::{self, UNREACHABLE_MAX};
use super::ipv4::Ipv4Packet;
use crate::token_bucket::{Rate, TokenBucket};

/// One worker's share of `icmp_rate` and the answer it builds.
pub struct HostUnreachables {
    rate: Rate,
    bucket: TokenBucket,
    /// The source of the ICMP errors (the TUN address).
    local: Ipv4Addr,
    buf: [u8; UNREACHABLE_MAX],
    /// Answers sent, and ones the rate held back.
    pub sent: u64,
    pub limited: u64,
}

impl HostUnreachables {
    /// One of `workers` shares of `icmp_rate`; None when it is 0.
    pub fn share(icmp_rate: u32, workers: usize, local: Ipv4Addr) -> Option<HostUnreachables> {
        if icmp_rate == 0 {
            return None;
        }
        let rate = Rate::shared(icmp_rate, workers, icmp_rate);
        Some(HostUnreachables {
            rate,
            bucket: TokenBucket::full(rate, 0),
            local,
            buf: [0; UNREACHABLE_MAX],
            sent: 0,
            limited: 0,
        })
    }

    /// The ICMP packet to write to the TUN for `ip_packet`, which no session
    /// owns, if one may be sent now (RFC 1122 §3.2.2, and the rate).
    pub fn answer(&mut self, ip_packet: &[u8], tick: u64) -> Option<&[u8]> {
        let p = Ipv4Packet::new_checked(ip_packet).ok()?;
        let dst = p.dst();
        if !icmp::may_answer(&p) || dst.is_multicast() || dst.is_broadcast() {
            return None;
        }
        if !self.bucket.take(self.rate, tick) {
            self.limited += 1;
            return None;
        }
        self.sent += 1;
        let n = icmp::host_unreachable(&p, self.local, &mut self.buf);
        self.buf.get(..n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::ipv4::tests::packet;
    use crate::dataplane::ipv4::PROTO_ICMP;

    const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);

    fn to_pool() -> Vec<u8> {
        packet([192, 0, 2, 9], [10, 100, 0, 7], 40, &[], false)
    }

    #[test]
    fn at_most_the_rate_a_second() {
        let mut u = HostUnreachables::share(5, 1, LOCAL).unwrap();
        let p = to_pool();
        let sent = (0..100).filter(|_| u.answer(&p, 1_000).is_some()).count();
        assert_eq!(sent, 5);
        assert_eq!((u.sent, u.limited), (5, 95));
        assert!(u.answer(&p, 1_199).is_none(), "one every 200 ms");
        assert!(u.answer(&p, 1_200).is_some());
        assert!(u.answer(&p, 1_201).is_none());
        let answer = u.answer(&p, 2_000).unwrap().to_vec();
        let icmp = Ipv4Packet::new_checked(&answer).unwrap();
        assert_eq!(
            (icmp.src(), icmp.dst()),
            (LOCAL, Ipv4Addr::new(192, 0, 2, 9))
        );
        assert_eq!(&icmp.payload()[..2], &[3, 1]);
    }

    #[test]
    fn workers_share_the_rate() {
        // 4 a second over 2 workers: 2 each, a bucket of 2 each.
        let mut a = HostUnreachables::share(4, 2, LOCAL).unwrap();
        let p = to_pool();
        assert_eq!((0..10).filter(|_| a.answer(&p, 0).is_some()).count(), 2);
        assert!(a.answer(&p, 499).is_none());
        assert!(a.answer(&p, 500).is_some());
    }

    #[test]
    fn zero_sends_none_and_errors_are_never_answered() {
        assert!(HostUnreachables::share(0, 1, LOCAL).is_none());
        let mut u = HostUnreachables::share(1000, 1, LOCAL).unwrap();
        let mut err = to_pool();
        err[9] = PROTO_ICMP;
        err[20] = 3; // an ICMP error itself
        crate::dataplane::ipv4::fill_header_checksum(&mut err[..20]);
        assert!(u.answer(&err, 0).is_none());
        let bcast = packet([192, 0, 2, 9], [255, 255, 255, 255], 40, &[], false);
        assert!(u.answer(&bcast, 0).is_none());
        let mcast = packet([192, 0, 2, 9], [224, 0, 0, 5], 40, &[], false);
        assert!(u.answer(&mcast, 0).is_none());
        assert!(u.answer(b"not ip", 0).is_none());
        assert_eq!((u.sent, u.limited), (0, 0));
    }
}
