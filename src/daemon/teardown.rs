//! Why a session ended, and the L2TP result code that tells the LAC
//! (RFC 2661 §4.4.2). Later the same cause feeds Acct-Terminate-Cause.

use crate::l2tp::result_code::{CdnCode, CdnResult, ErrorCode, StopCcnCode, StopCcnResult};
use crate::ppp::server::CloseReason;

#[derive(Debug, Clone)]
pub enum Cause {
    /// PPP ended (user request, auth failure, echo timeout...).
    Ppp(CloseReason),
    /// The LAC sent CDN.
    LacDisconnect,
    /// The tunnel carrying the session went away.
    TunnelClosed,
    /// The same user logged in again (allow_duplicate_users no).
    DuplicateLogin,
    /// The daemon is shutting down.
    AdminShutdown,
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
        Cause::LacDisconnect | Cause::TunnelClosed => CdnResult::new(CdnCode::Administrative),
    }
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
