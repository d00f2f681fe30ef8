//! `--tun NAME`: bridge one session to a TUN device in the loadgen's own
//! network namespace, so real programs (ping, iperf3) run through the
//! L2TP session. The kernel's IP packets go up the session as PPP IPv4
//! frames (RFC 1661 section 2, RFC 1332); IPv4 that comes down is written
//! to the TUN as it is (the kernel reassembles fragments).

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::l2tp::wire::{write_data_header, DATA_HEADER_LEN};
use crate::tun::Tun;

/// What `--tun` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunOptions {
    pub name: String,
    /// Route this network into the TUN (None: the LNS's IPCP address /32).
    pub route: Option<(Ipv4Addr, u8)>,
}

/// Parse `A.B.C.D/LEN` (or a bare address, meaning /32).
pub fn parse_route(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, l.parse::<u8>().map_err(|e| format!("{s}: {e}"))?),
        None => (s, 32),
    };
    if len > 32 {
        return Err(format!("{s}: prefix length above 32"));
    }
    let a = a.parse::<Ipv4Addr>().map_err(|e| format!("{s}: {e}"))?;
    Ok((a, len))
}

/// Packets and bytes (IP) each way through the TUN.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TunCounts {
    pub up_packets: u64,
    pub up_bytes: u64,
    pub down_packets: u64,
    pub down_bytes: u64,
}

impl TunCounts {
    pub fn add(&mut self, o: &TunCounts) {
        self.up_packets += o.up_packets;
        self.up_bytes += o.up_bytes;
        self.down_packets += o.down_packets;
        self.down_bytes += o.down_bytes;
    }
}

/// Most TUN reads per loop pass, so timers and the socket still get a turn.
const MAX_READS_PER_PASS: usize = 256;

/// The TUN bridged to one session.
pub struct TunBridge {
    tun: Tun,
    /// The session's index in the shard.
    pub session: usize,
    /// L2TP data header and FF 03 00 21, followed by each packet.
    frame: Vec<u8>,
    /// Length of the L2TP and PPP headers at the start of `frame`.
    head: usize,
    buf: Vec<u8>,
    pub counts: TunCounts,
}

impl TunBridge {
    /// Create, address, bring up and route the TUN. Returns the bridge and
    /// the route actually installed.
    pub fn open(
        opts: &TunOptions,
        session: usize,
        address: Ipv4Addr,
        peer: Ipv4Addr,
        mtu: u16,
        peer_tid: u16,
        peer_sid: u16,
    ) -> io::Result<(TunBridge, (Ipv4Addr, u8))> {
        let tun = Tun::open(&opts.name)?;
        tun.configure(address, u32::from(mtu))?;
        let route = opts.route.unwrap_or((peer, 32));
        tun.add_route(route.0, route.1)?;
        tun.set_nonblocking()?;
        let mut frame = vec![0u8; DATA_HEADER_LEN];
        write_data_header(&mut frame, peer_tid, peer_sid);
        frame.extend_from_slice(&[0xff, 0x03, 0x00, 0x21]);
        let head = frame.len();
        Ok((
            TunBridge {
                tun,
                session,
                frame,
                head,
                buf: vec![0u8; 65536],
                counts: TunCounts::default(),
            },
            route,
        ))
    }

    pub fn fd(&self) -> RawFd {
        self.tun.as_raw_fd()
    }

    /// Read what the kernel routed into the TUN and hand each IPv4 packet,
    /// framed for the session, to `send`. Anything else (IPv6) is dropped:
    /// the session negotiated IPCP only.
    pub fn pump_up(&mut self, mut send: impl FnMut(&[u8]) -> bool) {
        let head = self.head;
        for _ in 0..MAX_READS_PER_PASS {
            let n = match self.tun.recv(&mut self.buf) {
                Ok(n) if n > 0 => n,
                _ => return,
            };
            let Some(packet) = self.buf.get(..n) else {
                return;
            };
            if packet.first().map(|b| b >> 4) != Some(4) {
                continue;
            }
            reframe(&mut self.frame, head, packet);
            if send(&self.frame) {
                self.counts.up_packets += 1;
                self.counts.up_bytes += n as u64;
            }
        }
    }

    /// An IPv4 packet (or fragment) that came down the session.
    pub fn down(&mut self, ip: &[u8]) {
        if self.tun.send(ip).is_ok() {
            self.counts.down_packets += 1;
            self.counts.down_bytes += ip.len() as u64;
        }
    }
}

/// Replace the packet after the first `head` bytes (the L2TP and PPP
/// headers) of `frame` with `packet`.
fn reframe(frame: &mut Vec<u8>, head: usize, packet: &[u8]) {
    frame.truncate(head);
    frame.extend_from_slice(packet);
}

/// Set by SIGTERM/SIGINT in TUN mode: stop holding and hang up cleanly.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Catch SIGTERM/SIGINT so the session is torn down properly.
pub fn catch_stop_signals() {
    // SAFETY: the handler only stores to an atomic (async-signal-safe).
    unsafe {
        libc::signal(libc::SIGTERM, on_stop as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_stop as *const () as libc::sighandler_t);
    }
}

pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse() {
        assert_eq!(
            parse_route("10.99.0.0/24"),
            Ok((Ipv4Addr::new(10, 99, 0, 0), 24))
        );
        assert_eq!(
            parse_route("10.99.0.1"),
            Ok((Ipv4Addr::new(10, 99, 0, 1), 32))
        );
        assert!(parse_route("10.99.0.0/33").is_err());
        assert!(parse_route("10.99.0/24").is_err());
        assert!(parse_route("10.99.0.0/x").is_err());
    }

    #[test]
    fn each_packet_replaces_the_last_behind_the_headers() {
        let mut frame = vec![0u8; DATA_HEADER_LEN];
        write_data_header(&mut frame, 7, 9);
        frame.extend_from_slice(&[0xff, 0x03, 0x00, 0x21]);
        let head = frame.len();
        let headers = frame.clone();
        reframe(&mut frame, head, &[0x45, 1, 2, 3]);
        reframe(&mut frame, head, &[0x45, 4]);
        assert_eq!(frame.get(..head), Some(&headers[..]));
        assert_eq!(frame.get(head..), Some(&[0x45u8, 4][..]));
    }

    #[test]
    fn counts_add() {
        let mut a = TunCounts {
            up_packets: 1,
            up_bytes: 2,
            down_packets: 3,
            down_bytes: 4,
        };
        a.add(&a.clone());
        assert_eq!((a.up_packets, a.down_bytes), (2, 8));
    }
}
