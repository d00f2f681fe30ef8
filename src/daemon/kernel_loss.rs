//! Packets the kernel dropped on the data plane's behalf, by cause: the
//! L2TP sockets' receive buffers were full (upstream: the workers did not
//! keep up), or the TUN's queues were (downstream: the kernel routed more
//! into the device than the workers read). Together with the data plane's
//! own drop reasons this accounts for every packet lost inside the LNS.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;

use super::workers::udp_options::socket_drops;

pub struct KernelLoss {
    /// Second handles on the workers' sockets (same sockets, own fds).
    sockets: Vec<UdpSocket>,
    tun_stats: String,
}

/// Loss counters since start-up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LossSnapshot {
    /// Datagrams dropped at a full L2TP socket receive buffer.
    pub udp_receive_buffer_full: u64,
    /// Packets routed into the TUN while its queue was full.
    pub tun_queue_full: u64,
}

impl KernelLoss {
    pub fn new(sockets: &[UdpSocket], tun_name: &str) -> Self {
        KernelLoss {
            sockets: sockets.iter().filter_map(|s| s.try_clone().ok()).collect(),
            tun_stats: format!("/sys/class/net/{tun_name}/statistics/tx_dropped"),
        }
    }

    pub fn snapshot(&self) -> LossSnapshot {
        LossSnapshot {
            udp_receive_buffer_full: self
                .sockets
                .iter()
                .filter_map(|s| socket_drops(s.as_raw_fd()).ok())
                .sum(),
            tun_queue_full: std::fs::read_to_string(&self.tun_stats)
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0),
        }
    }
}
