//! Vocabulary shared by the server and client links: the RFC 1661 §3.2
//! link phases, why a link closed, and the per-link counters.

/// RFC 1661 §3.2 phases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Dead,
    Establish,
    Authenticate,
    Network,
    Terminate,
}

/// Why LCP finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer sent a Terminate-Request.
    PeerTerminated,
    /// The authenticator refused the credentials.
    AuthFailed,
    /// No authentication exchange completed in time (Max-Configure tries).
    AuthTimeout,
    /// LCP or IPCP could not agree: an unacceptable Nak/Reject, a
    /// catastrophic Code/Protocol-Reject.
    NegotiationFailed,
    /// LCP or IPCP sent Max-Configure requests without getting one Acked
    /// (RFC 1661 §4.6 TO-): the peer is silent or the path too lossy.
    ConfigureTimeout,
    /// Nothing received from the peer for the idle timeout.
    EchoTimeout,
    /// Our own Magic-Number came back (RFC 1661 §6.4).
    LoopbackDetected,
    /// The caller asked for it.
    AdminClose,
}

/// Per-link counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct LinkStats {
    pub frames_received: u64,
    pub frames_sent: u64,
    /// Frames or control packets that failed to parse.
    pub malformed_frames: u64,
    pub protocol_rejects_sent: u64,
    pub protocol_rejects_received: u64,
    /// Frames dropped because the link is not in the right phase
    /// (NCP before Network, IPv4 before IPCP Opened...).
    pub discarded_frames: u64,
    pub echo_requests_sent: u64,
    pub echo_requests_received: u64,
    pub echo_replies_received: u64,
}
