//! Acct-Terminate-Cause values (RFC 2866 §5.10) and their names for logs.

pub const USER_REQUEST: u32 = 1;
pub const LOST_CARRIER: u32 = 2;
pub const LOST_SERVICE: u32 = 3;
pub const IDLE_TIMEOUT: u32 = 4;
pub const SESSION_TIMEOUT: u32 = 5;
pub const ADMIN_RESET: u32 = 6;
pub const ADMIN_REBOOT: u32 = 7;
pub const PORT_ERROR: u32 = 8;
pub const NAS_ERROR: u32 = 9;
pub const NAS_REQUEST: u32 = 10;
pub const NAS_REBOOT: u32 = 11;
pub const PORT_UNNEEDED: u32 = 12;
pub const PORT_PREEMPTED: u32 = 13;
pub const PORT_SUSPENDED: u32 = 14;
pub const SERVICE_UNAVAILABLE: u32 = 15;
pub const CALLBACK: u32 = 16;
pub const USER_ERROR: u32 = 17;
pub const HOST_REQUEST: u32 = 18;

/// The RFC 2866 name of a cause, "Unknown" for anything else.
pub fn terminate_cause_name(code: u32) -> &'static str {
    match code {
        USER_REQUEST => "User-Request",
        LOST_CARRIER => "Lost-Carrier",
        LOST_SERVICE => "Lost-Service",
        IDLE_TIMEOUT => "Idle-Timeout",
        SESSION_TIMEOUT => "Session-Timeout",
        ADMIN_RESET => "Admin-Reset",
        ADMIN_REBOOT => "Admin-Reboot",
        PORT_ERROR => "Port-Error",
        NAS_ERROR => "NAS-Error",
        NAS_REQUEST => "NAS-Request",
        NAS_REBOOT => "NAS-Reboot",
        PORT_UNNEEDED => "Port-Unneeded",
        PORT_PREEMPTED => "Port-Preempted",
        PORT_SUSPENDED => "Port-Suspended",
        SERVICE_UNAVAILABLE => "Service-Unavailable",
        CALLBACK => "Callback",
        USER_ERROR => "User-Error",
        HOST_REQUEST => "Host-Request",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_radius_rs_dictionary() {
        use radius::core::rfc2866 as d;
        assert_eq!(ADMIN_RESET, d::ACCT_TERMINATE_CAUSE_ADMIN_RESET);
        assert_eq!(HOST_REQUEST, d::ACCT_TERMINATE_CAUSE_HOST_REQUEST);
        assert_eq!(terminate_cause_name(ADMIN_RESET), "Admin-Reset");
        assert_eq!(terminate_cause_name(0), "Unknown");
        assert_eq!(terminate_cause_name(99), "Unknown");
    }
}
