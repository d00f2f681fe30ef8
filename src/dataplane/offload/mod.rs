//! Linux TUN offloads for the data plane, sans-IO: the byte-level half of
//! `IFF_VNET_HDR` with `TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO_ECN | TUN_F_USO4`
//! and of UDP GSO (`UDP_SEGMENT`). The worker does the ioctls and syscalls.
//!
//! - [`vnet`]: the virtio-net header in front of every TUN frame.
//! - [`checksum`]: fast internet checksum, TCP/UDP pseudo-header, partial
//!   checksum completion.
//! - [`segment`]: TCP and UDP segmentation of GSO super-packets.
//! - [`downstream`]: [`downstream_offload`], TUN frame -> L2TP datagrams
//!   (send them with [`crate::dataplane::DownOutput::gso_batches`]).
//! - [`coalesce`]: [`Coalescer`], upstream TCP segments -> one TSO frame for
//!   the TUN (GRO).

pub mod checksum;
pub mod coalesce;
pub mod downstream;
pub mod segment;
pub mod vnet;

pub use coalesce::Coalescer;
pub use downstream::downstream_offload;
pub use vnet::{GsoKind, VnetHdr, VNET_HDR_LEN};
