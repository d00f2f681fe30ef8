//! Control-plane counters: every refused or dropped input is counted here
//! (and logged at debug level where it happens).

#[derive(Debug, Default, Clone, bincode::Encode, bincode::Decode)]
pub struct ControlStats {
    pub malformed: u64,
    pub unknown_tunnel: u64,
    pub unknown_session: u64,
    pub wrong_source: u64,
    pub tunnel_limit: u64,
    pub session_limit: u64,
    pub tunnel_refused: u64,
    pub send_errors: u64,
    pub auth_accepted: u64,
    pub auth_rejected: u64,
    pub no_address: u64,
    pub sessions_up: u64,
    pub sessions_closed: u64,
    /// Upstream IPv4 that reached us before the data plane knew the session.
    pub early_ipv4: u64,
    pub spoofed: u64,
    /// No longer counted (LCP starts on a call's first PPP frame, so none
    /// is dropped before the ICCN); kept so state files of format 1 read.
    pub early_frames_dropped: u64,
    pub dae_requests: u64,
    pub dae_acks: u64,
    pub dae_naks: u64,
    /// DAE requests from an address that is not a RADIUS server nor in radius_dae_allow.
    pub dae_refused_source: u64,
    /// DAE requests with a bad authenticator, Message-Authenticator or format.
    pub dae_bad: u64,
    /// nsctl requests from an address that is not loopback nor in nsctl_allow.
    pub nsctl_refused_source: u64,
    /// accounting_dir: usage files written, writes that failed, closed
    /// sessions dropped while too many waited for a file.
    pub accounting_dir_files: u64,
    pub accounting_dir_errors: u64,
    pub accounting_dir_dropped: u64,
}
