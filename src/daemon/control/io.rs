//! The control plane's I/O as actions (quinn-proto's `poll_transmit` for a
//! whole control plane): it queues what must be sent, written or routed,
//! and the daemon's driver (`daemon::io_driver`) performs it. The control
//! plane holds no socket nor device, so its logic runs in tests without
//! root, driven by `l2tp::lac` and `ppp::client`.

use std::net::SocketAddr;
use std::sync::Arc;

use ipnetwork::Ipv4Network;

use crate::daemon::session_hook::{HookSettings, SessionFacts};
use crate::dataplane::session_table::TableUpdate;

/// One piece of I/O for the driver.
#[derive(Debug, Clone)]
pub enum Io {
    /// A datagram to a LAC from the L2TP port (control message, PPP frame).
    L2tp { to: SocketAddr, bytes: Vec<u8> },
    /// An IPv4 packet into the TUN device (upstream, early in a session).
    Tun(Vec<u8>),
    /// A kernel route into the TUN device (Framed-Route, static address,
    /// pool network).
    Route { add: bool, net: Ipv4Network },
    /// A change of the data plane's session table, for every worker.
    Table(TableUpdate),
    /// A RADIUS request from client socket `socket`.
    Radius {
        socket: usize,
        to: SocketAddr,
        bytes: Vec<u8>,
    },
    /// A Disconnect/CoA answer from the DAE port.
    Dae { to: SocketAddr, bytes: Vec<u8> },
    /// An nsctl answer from UDP 1702.
    Nsctl { to: SocketAddr, bytes: Vec<u8> },
    /// A session_hook run: a session came up or ended (the driver queues
    /// it; nothing waits for it).
    RunHook {
        hook: Arc<HookSettings>,
        facts: Box<SessionFacts>,
    },
    /// The whole state, to be written to the state file (save_state).
    SaveState {
        path: std::path::PathBuf,
        identity: super::super::state_file::Identity,
        state: Box<super::SavedState>,
    },
}

impl super::ControlPlane {
    pub(super) fn emit(&mut self, io: Io) {
        self.io.push_back(io);
    }

    /// The next piece of I/O to perform, oldest first.
    pub fn poll_io(&mut self) -> Option<Io> {
        self.io.pop_front()
    }
}
