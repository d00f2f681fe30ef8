//! A session's policy as the data plane applies it: throttle rates, the
//! snoop (lawful intercept) destination, the walled-garden flag. Set
//! through the command layer (RADIUS via the plugins, CoA, CLI, nsctl),
//! published to the workers with the session, saved across restarts.

use std::net::SocketAddrV4;

/// Rates in kbit/s (l2tpns's unit: 1 kbit = 1,000 bits); 0 = not throttled.
/// `in` is from the user (upstream), `out` to the user (downstream), as in
/// l2tpns and Cisco's `service-policy input/output`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct SessionPolicy {
    pub throttle_in: u32,
    pub throttle_out: u32,
    /// Copy every IP packet of the session, both ways, as raw IP in UDP here.
    pub snoop: Option<SocketAddrV4>,
    /// Walled garden: only the garden and the session's DNS are reachable.
    pub garden: bool,
}

impl SessionPolicy {
    /// Token buckets it takes: one per throttled direction (throttle_buckets).
    pub fn buckets(&self) -> usize {
        usize::from(self.throttle_in != 0) + usize::from(self.throttle_out != 0)
    }

    pub fn is_throttled(&self) -> bool {
        self.throttle_in != 0 || self.throttle_out != 0
    }
}
