//! L2TPv2 (RFC 2661), sans-IO: wire codec, AVPs, reliable control channel,
//! LNS and LAC tunnel state machines.

pub mod avp;
pub mod challenge;
pub mod control_channel;
pub mod hidden;
pub mod lac;
pub mod message;
pub mod result_code;
pub mod session_ids;
pub mod tunnel;
pub mod wire;
