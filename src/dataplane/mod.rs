//! Per-packet work between UDP (L2TP data, RFC 2661 §3.1) and the TUN device.
//!
//! Sans-IO and allocation-free per packet: each function takes bytes and the
//! worker's [`SessionTable`] and returns a verdict (boringtun-style) that the
//! worker loop executes: write to the TUN, hand to the control plane, send to
//! a peer, or drop with a [`DropReason`] that indexes the drop counters.
//!
//! - [`upstream`]: LAC -> TUN (L2TP data header, PPP, IPv4 sanity, anti-spoof).
//! - [`downstream`]: TUN -> LAC (route lookup, MRU, ICMP frag-needed or
//!   fragmentation, L2TP encapsulation).
//! - [`offload`]: the same with TUN offloads (virtio-net header, TSO/USO
//!   segmentation, GRO-style coalescing).
//! - [`packet_limit`] and [`unreachable`]: l2tpns's `packet_limit` and
//!   `icmp_rate`.
//! - [`policy`], [`shaper`], [`garden`], [`garden_nat`]: a session's
//!   throttle, snoop and walled garden, applied by the worker that owns it.

pub mod downstream;
pub mod drop_reason;
pub mod fragment;
pub mod garden;
pub mod garden_nat;
pub mod icmp;
pub mod ipv4;
pub mod l2tp_data;
pub mod offload;
pub mod packet_limit;
pub mod policy;
pub mod ppp_data;
pub mod session_counters;
pub mod session_table;
pub mod shaper;
pub mod tcp_mss;
pub mod unreachable;
pub mod upstream;

pub use downstream::{downstream, DownOutput, DownVerdict, GsoBatch};
pub use drop_reason::{DropCounters, DropReason};
pub use session_table::{SessionCounters, SessionEntry, SessionKey, SessionTable, TableUpdate};
pub use tcp_mss::clamp_tcp_mss;
pub use upstream::{upstream, upstream_clamp_mss, UpVerdict};
