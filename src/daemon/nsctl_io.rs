//! The nsctl port's I/O: the UDP socket on nsctl_bind_address:1702 and the
//! task that hands its datagrams to the control plane, which answers them
//! (`control::plugin_host`).

use std::net::{SocketAddrV4, UdpSocket};

use tracing::info;

use crate::config::Config;

use super::control::plugin_host::NsctlSettings;
use super::ControlInput;

/// l2tpns's NSCTL_PORT.
pub const NSCTL_PORT: u16 = 1702;

/// Who may ask (for the control plane), the socket the I/O driver answers
/// from, and the receiving half.
pub fn bind(cfg: &Config) -> Result<(NsctlSettings, UdpSocket, UdpSocket), String> {
    let addr = SocketAddrV4::new(cfg.nsctl_bind_address, NSCTL_PORT);
    let socket = UdpSocket::bind(addr)
        .map_err(|e| format!("nsctl socket {addr}: {e} (nsctl_bind_address)"))?;
    socket.set_nonblocking(true).map_err(|e| e.to_string())?;
    let rx = socket.try_clone().map_err(|e| e.to_string())?;
    info!(%addr, "nsctl listening");
    let allowed = cfg.nsctl_allow.iter().map(|a| (*a).into()).collect();
    Ok((NsctlSettings { allowed }, socket, rx))
}

/// One receive task (inside the runtime).
pub fn spawn(rx: UdpSocket, tx: tokio::sync::mpsc::Sender<ControlInput>) -> Result<(), String> {
    let s = tokio::net::UdpSocket::from_std(rx).map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let mut buf = vec![0u8; crate::nsctl::wire::MAX_PACKET];
        while let Ok((n, from)) = s.recv_from(&mut buf).await {
            let bytes = buf[..n].to_vec();
            if tx.send(ControlInput::Nsctl { from, bytes }).await.is_err() {
                break;
            }
        }
    });
    Ok(())
}
