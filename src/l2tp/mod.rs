//! L2TPv2 (RFC 2661), sans-IO: wire codec, AVPs, reliable control channel,
//! LNS and LAC tunnel state machines.
//!
//! - `wire`: checked header view, data-header emitters (hot path).
//! - `avp`, `hidden`, `message`, `result_code`, `challenge`: control
//!   message codec (§4), AVP hiding (§4.3), tunnel authentication (§5.1.1).
//! - `control_channel`: reliable delivery (§5.8) with a reorder queue.
//! - `session_ids`: per-tunnel session id allocation.
//! - `tunnel`: the LNS side; `lac`: the LAC side (load generator, tests).
//! - `refusal`: the StopCCN that refuses an SCCRQ without a tunnel.

pub mod avp;
pub mod challenge;
pub mod control_channel;
pub mod hidden;
pub mod lac;
pub mod message;
pub mod refusal;
pub mod result_code;
pub mod session_ids;
pub mod tunnel;
pub mod wire;

pub use result_code::{CdnCode, CdnResult, ErrorCode, StopCcnCode, StopCcnResult};
pub use tunnel::{
    sccrq_assigned_tunnel_id, CallInfo, CdnInfo, CloseReason, ConnectInfo, SccrqError, Tunnel,
    TunnelConfig, TunnelEvent, TunnelStats,
};
