//! Why a session ended: the L2TP result code that tells the LAC (RFC 2661
//! §4.4.2) and the Acct-Terminate-Cause that tells accounting (RFC 2866
//! §5.10), from one place.

use crate::l2tp::result_code::{CdnCode, CdnResult, ErrorCode, StopCcnCode, StopCcnResult};
use crate::ppp::server::CloseReason;
use crate::radius::terminate_cause as tc;

#[derive(Debug, Clone)]
pub enum Cause {
    /// PPP ended (user request, auth failure, echo timeout...).
    Ppp(CloseReason),
    /// The LAC sent CDN: its result code and the PPP Disconnect Cause
    /// Code (RFC 3145) if it gave one.
    LacDisconnect { result: u16, ppp_cause: Option<u16> },
    /// The tunnel carrying the session went away.
    TunnelClosed,
    /// The same user logged in again (allow_duplicate_users no).
    DuplicateLogin,
    /// The daemon is shutting down.
    AdminShutdown,
    /// RADIUS Session-Timeout reached.
    SessionTimeout,
    /// RADIUS Idle-Timeout reached.
    IdleTimeout,
    /// Disconnect-Request (RFC 5176) or an operator's command.
    AdminReset,
}

pub fn cdn_for(cause: &Cause) -> CdnResult {
    match cause {
        Cause::Ppp(CloseReason::EchoTimeout) => {
            CdnResult::new(CdnCode::LostCarrier).with_message("No response to LCP Echo-Request")
        }
        Cause::Ppp(CloseReason::AuthFailed) => {
            CdnResult::new(CdnCode::Administrative).with_message("Authentication failed")
        }
        Cause::Ppp(r) => {
            CdnResult::new(CdnCode::Administrative).with_message(format!("PPP closed: {r:?}"))
        }
        Cause::DuplicateLogin => {
            CdnResult::new(CdnCode::Administrative).with_message("Duplicate login")
        }
        Cause::AdminShutdown => {
            CdnResult::new(CdnCode::Administrative).with_message("LNS shutting down")
        }
        Cause::SessionTimeout => {
            CdnResult::new(CdnCode::Administrative).with_message("Session timeout")
        }
        Cause::IdleTimeout => CdnResult::new(CdnCode::Administrative).with_message("Idle timeout"),
        Cause::AdminReset => {
            CdnResult::new(CdnCode::Administrative).with_message("Administrative disconnect")
        }
        Cause::LacDisconnect { .. } | Cause::TunnelClosed => {
            CdnResult::new(CdnCode::Administrative)
        }
    }
}

/// Acct-Terminate-Cause for a session that ended for `cause`.
pub fn terminate_cause(cause: &Cause) -> u32 {
    match cause {
        Cause::Ppp(CloseReason::PeerTerminated) => tc::USER_REQUEST,
        Cause::Ppp(CloseReason::EchoTimeout) => tc::LOST_CARRIER,
        Cause::Ppp(CloseReason::AuthFailed | CloseReason::AuthTimeout) => tc::USER_ERROR,
        Cause::Ppp(CloseReason::AdminClose) => tc::ADMIN_RESET,
        Cause::Ppp(_) => tc::NAS_ERROR,
        // RFC 3145 global codes: 1 administrative disconnect, 3 normal
        // disconnection (LCP Terminate-Request); otherwise the CDN result:
        // 1 = loss of carrier, 3 = administrative.
        Cause::LacDisconnect {
            ppp_cause: Some(1), ..
        } => tc::ADMIN_RESET,
        Cause::LacDisconnect {
            ppp_cause: Some(3), ..
        } => tc::USER_REQUEST,
        Cause::LacDisconnect { result: 3, .. } => tc::ADMIN_RESET,
        Cause::LacDisconnect { result: 1, .. } => tc::LOST_CARRIER,
        Cause::LacDisconnect { .. } => tc::USER_REQUEST,
        Cause::TunnelClosed => tc::LOST_SERVICE,
        Cause::DuplicateLogin => tc::ADMIN_RESET,
        Cause::AdminShutdown => tc::ADMIN_REBOOT,
        Cause::SessionTimeout => tc::SESSION_TIMEOUT,
        Cause::IdleTimeout => tc::IDLE_TIMEOUT,
        Cause::AdminReset => tc::ADMIN_RESET,
    }
}

/// An operator closed the tunnel (CLI `drop tunnel`).
pub fn stopccn_admin() -> StopCcnResult {
    StopCcnResult::new(StopCcnCode::ClearConnection).with_message("Closed by the administrator")
}

pub fn stopccn_shutdown() -> StopCcnResult {
    StopCcnResult::new(StopCcnCode::ShuttingDown).with_message("LNS shutting down")
}

/// A call we cannot take now (max_sessions): RFC 2661 result 2, error 4.
pub fn cdn_no_resources() -> CdnResult {
    CdnResult::new(CdnCode::GeneralError)
        .with_error(ErrorCode::InsufficientResources)
        .with_message("Session limit reached")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_map_to_rfc_2866_values() {
        assert_eq!(terminate_cause(&Cause::Ppp(CloseReason::PeerTerminated)), 1);
        assert_eq!(terminate_cause(&Cause::Ppp(CloseReason::EchoTimeout)), 2);
        assert_eq!(terminate_cause(&Cause::IdleTimeout), 4);
        assert_eq!(terminate_cause(&Cause::SessionTimeout), 5);
        assert_eq!(terminate_cause(&Cause::AdminReset), 6);
        assert_eq!(
            terminate_cause(&Cause::LacDisconnect {
                result: 2,
                ppp_cause: Some(1)
            }),
            6
        );
        assert_eq!(
            terminate_cause(&Cause::LacDisconnect {
                result: 1,
                ppp_cause: None
            }),
            2
        );
        assert_eq!(terminate_cause(&Cause::TunnelClosed), 3);
    }
}
