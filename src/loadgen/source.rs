//! `l2tpns-loadgen source`: the kernel-side start of downstream benchmark
//! traffic. Runs in the LNS's namespace and sends UDP to the first N
//! addresses of the pool (the addresses the LNS hands out first, in the
//! daemon's own order), round robin, each packet numbered per destination,
//! at a fixed rate or flat out, in sendmmsg batches, with UDP checksum 0.
//!
//! With `--via-tun NAME` it writes the same packets, whole, into a TUN
//! device of its own instead: the kernel receives them as from a network
//! interface and forwards them to the sessions, as an LNS's downstream
//! arrives from its core network. A socket's packets are the host's own,
//! built with just the headroom the LNS's TUN asks for (16 bytes), so the
//! kernel fast path must reallocate each one to push its L2TP headers; a
//! NIC's (and a TUN write's) have 64 bytes, enough.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use super::mmsg::{send_batch, BATCH};
use super::pacing::Pacer;
use super::payload::Stamp;
use super::sink::{big_udp_socket, rate};
use super::udp::{udp_packet, IP_HEADER_LEN, MAX_IP_LEN, PAYLOAD_AT};
use crate::dataplane::ipv4::checksum;
use crate::tun::Tun;

/// `--via-tun`'s device address and the packets' source, behind it: the
/// benchmarking range of RFC 2544 (198.18.0.0/15), no pool's.
const VIA_TUN_ADDRESS: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const VIA_TUN_SOURCE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const VIA_TUN_SOURCE_PORT: u16 = 9001;

#[derive(Debug, Clone)]
pub struct SourceOptions {
    pub destinations: Vec<Ipv4Addr>,
    pub port: u16,
    pub rate: Option<f64>,
    /// IP packet size.
    pub size: usize,
    pub duration: Duration,
    /// Write the packets into this TUN device (made here, gone at exit)
    /// instead of sending them from a socket.
    pub via_tun: Option<String>,
    /// Send to this address instead of the sessions' while switched by
    /// signal (`loadgen::decoy`).
    pub decoy_to: Option<Ipv4Addr>,
}

/// The first `n` addresses the LNS hands out from a pool written like
/// ip_pool lines ("10.100.0.0/20", comma separated): the daemon's parser,
/// so .0 and .255 are skipped the same way.
pub fn pool_addresses(spec: &str, n: usize) -> Result<Vec<Ipv4Addr>, String> {
    let text = spec.replace(',', "\n");
    let p =
        crate::config::parse_ip_pool(&text, Path::new("--to"), None).map_err(|e| e.to_string())?;
    if p.addresses.len() < n {
        return Err(format!(
            "{spec} holds {} addresses, fewer than {n}",
            p.addresses.len()
        ));
    }
    Ok(p.addresses.into_iter().take(n).collect())
}

#[derive(Debug, Default)]
pub struct SourceStats {
    pub sent: u64,
    pub per_dest: Vec<u64>,
    pub bytes: u64,
    pub secs: f64,
    pub would_block: u64,
    pub errors: u64,
}

impl SourceStats {
    pub fn line(&self) -> String {
        let min = self.per_dest.iter().min().copied().unwrap_or(0);
        let max = self.per_dest.iter().max().copied().unwrap_or(0);
        format!(
            "SOURCE sent={} bytes={} destinations={} min_per_dest={min} max_per_dest={max} \
             secs={:.3} pps={:.0} gbps={:.3} would_block={} errors={}",
            self.sent,
            self.bytes,
            self.per_dest.len(),
            self.secs,
            rate(self.sent as f64, self.secs),
            rate(self.bytes as f64 * 8.0, self.secs) / 1e9,
            self.would_block,
            self.errors,
        )
    }
}

pub fn run_source(opts: &SourceOptions) -> io::Result<SourceStats> {
    let n = opts.destinations.len();
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no destinations",
        ));
    }
    let size = opts
        .size
        .clamp(PAYLOAD_AT + super::payload::STAMP_LEN, MAX_IP_LEN);
    let mut out = match &opts.via_tun {
        None => Out::Socket(SocketOut::new(size)?),
        Some(name) => Out::Tun(TunOut::new(name, size)?),
    };
    let mut st = SourceStats {
        per_dest: vec![0; n],
        ..SourceStats::default()
    };
    if opts.decoy_to.is_some() {
        super::decoy::catch_switch_signals();
    }
    let start = Instant::now();
    let end = start + opts.duration;
    let mut pacer = Pacer::new(opts.rate, start);
    let mut next = 0usize;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let due = pacer.due(now).min(BATCH as u64) as usize;
        if due == 0 {
            sleep_until(pacer.next_due().unwrap_or(now).min(end));
            continue;
        }
        let decoy = opts.decoy_to.filter(|_| super::decoy::switched());
        match out.send(
            &opts.destinations,
            next,
            due,
            opts.port,
            &st.per_dest,
            decoy,
        ) {
            Ok(sent) => {
                for k in 0..sent {
                    if let Some(c) = st.per_dest.get_mut((next + k) % n) {
                        *c += 1;
                    }
                }
                next = (next + sent) % n;
                st.sent += sent as u64;
                st.bytes += (sent * size) as u64;
                pacer.record(sent as u64);
            }
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.raw_os_error() == Some(libc::ENOBUFS) =>
            {
                st.would_block += 1;
                out.wait_writable();
            }
            Err(_) => {
                // E.g. no route yet: count, back off a little.
                st.errors += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    st.secs = start
        .elapsed()
        .as_secs_f64()
        .min(opts.duration.as_secs_f64().max(1e-9));
    Ok(st)
}

fn sleep_until(t: Instant) {
    let d = t.saturating_duration_since(Instant::now());
    if !d.is_zero() {
        std::thread::sleep(d);
    }
}

/// Where the packets go: a socket, or a TUN device the kernel receives
/// them from.
enum Out {
    Socket(SocketOut),
    Tun(TunOut),
}

impl Out {
    /// Packets `next..next + due` of the round robin (destination
    /// `(next + k) % n`, each numbered by what was sent to it so far, or
    /// `decoy` instead of each's address): how many went.
    fn send(
        &mut self,
        dests: &[Ipv4Addr],
        next: usize,
        due: usize,
        port: u16,
        per_dest: &[u64],
        decoy: Option<Ipv4Addr>,
    ) -> io::Result<usize> {
        let stamp = |k: usize| {
            let d = (next + k) % dests.len();
            let seq = per_dest.get(d).copied().unwrap_or(0);
            (
                Stamp {
                    index: d as u32,
                    seq,
                },
                decoy.or_else(|| dests.get(d).copied()),
            )
        };
        match self {
            Out::Socket(s) => {
                for k in 0..due {
                    let (st, ip) = stamp(k);
                    if let (Some(b), Some(slot), Some(ip)) =
                        (s.bufs.get_mut(k), s.dests.get_mut(k), ip)
                    {
                        let _ = st.emit(b);
                        *slot = SocketAddrV4::new(ip, port);
                    }
                }
                send_batch(s.fd(), &s.bufs[..due], Some(&s.dests[..due]))
            }
            Out::Tun(t) => {
                for k in 0..due {
                    let (st, ip) = stamp(k);
                    if let Some(ip) = ip {
                        match t.send(ip, port, st) {
                            Ok(()) => {}
                            Err(e) if k > 0 => {
                                tracing::debug!("source: TUN write: {e}");
                                return Ok(k);
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
                Ok(due)
            }
        }
    }

    fn wait_writable(&self) {
        let fd = match self {
            Out::Socket(s) => s.fd(),
            Out::Tun(t) => t.tun.as_raw_fd(),
        };
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, 1) };
    }
}

struct SocketOut {
    sock: std::net::UdpSocket,
    /// UDP payloads, one per packet of a batch.
    bufs: Vec<Vec<u8>>,
    dests: Vec<SocketAddrV4>,
}

impl SocketOut {
    fn new(size: usize) -> io::Result<SocketOut> {
        let sock = big_udp_socket(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))?;
        // Checksum 0, complete as what an LNS forwards from a NIC is. Sent
        // from this host through the offloading TUN, a computed checksum
        // would stay a partial sum for the device to finish, which the
        // kernel fast path hands to userspace (down-partial-checksum): not
        // the case to measure.
        super::socket::set_no_check(&socket2::SockRef::from(&sock))?;
        Ok(SocketOut {
            sock,
            bufs: vec![vec![0u8; size - PAYLOAD_AT]; BATCH],
            dests: vec![SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0); BATCH],
        })
    }

    fn fd(&self) -> libc::c_int {
        self.sock.as_raw_fd()
    }
}

struct TunOut {
    tun: Tun,
    /// The whole IPv4/UDP packet (checksum 0), rewritten for each one.
    packet: Vec<u8>,
}

impl TunOut {
    /// Make the device, up, with a route back to the packets' source (so
    /// strict reverse-path filtering takes them) and forwarding on: what
    /// arrives on it is routed on like a NIC's traffic.
    fn new(name: &str, size: usize) -> io::Result<TunOut> {
        let tun = Tun::open(name)?;
        tun.configure(VIA_TUN_ADDRESS, MAX_IP_LEN as u32)?;
        tun.add_route(VIA_TUN_SOURCE, 32)?;
        std::fs::write(format!("/proc/sys/net/ipv4/conf/{name}/forwarding"), "1")
            .map_err(|e| io::Error::new(e.kind(), format!("{name}: forwarding: {e}")))?;
        let packet = udp_packet(
            SocketAddrV4::new(VIA_TUN_SOURCE, VIA_TUN_SOURCE_PORT),
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
            size,
        );
        Ok(TunOut { tun, packet })
    }

    fn send(&mut self, dst: Ipv4Addr, port: u16, stamp: Stamp) -> io::Result<()> {
        readdress(&mut self.packet, dst, port, stamp);
        self.tun.send(&self.packet).map(|_| ())
    }
}

/// Point a packet built by `udp_packet` at `dst:port` with `stamp` as its
/// payload's start, its IP checksum made good again (UDP's stays 0).
fn readdress(p: &mut [u8], dst: Ipv4Addr, port: u16, stamp: Stamp) {
    if p.len() < PAYLOAD_AT {
        return;
    }
    p[16..20].copy_from_slice(&dst.octets());
    p[22..24].copy_from_slice(&port.to_be_bytes());
    p[10..12].fill(0);
    let c = checksum(&p[..IP_HEADER_LEN]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    let _ = stamp.emit(&mut p[PAYLOAD_AT..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_order_matches_the_daemon() {
        let a = pool_addresses("10.100.0.0/20", 3).unwrap();
        assert_eq!(
            a,
            ["10.100.0.1", "10.100.0.2", "10.100.0.3"].map(|s| s.parse::<Ipv4Addr>().unwrap())
        );
        let b = pool_addresses("10.0.0.254/31,10.0.1.7", 2).unwrap();
        assert_eq!(
            b,
            ["10.0.0.254", "10.0.1.7"].map(|s| s.parse::<Ipv4Addr>().unwrap())
        );
        assert!(pool_addresses("10.0.0.1", 2).is_err());
        assert!(pool_addresses("nonsense", 1).is_err());
    }

    #[test]
    fn a_tun_packet_is_readdressed_whole() {
        let mut p = udp_packet(
            SocketAddrV4::new(VIA_TUN_SOURCE, VIA_TUN_SOURCE_PORT),
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
            100,
        );
        let stamp = Stamp { index: 7, seq: 42 };
        readdress(&mut p, Ipv4Addr::new(10, 208, 0, 9), 9000, stamp);
        let v = super::super::udp::UdpView::parse(&p).unwrap();
        assert_eq!(v.dst, SocketAddrV4::new(Ipv4Addr::new(10, 208, 0, 9), 9000));
        assert_eq!(
            v.src,
            SocketAddrV4::new(VIA_TUN_SOURCE, VIA_TUN_SOURCE_PORT)
        );
        assert_eq!(
            (v.ip_len, &p[26..28]),
            (100, &[0u8, 0][..]),
            "UDP checksum 0"
        );
        assert_eq!(Stamp::parse(v.payload).unwrap(), stamp);
        // A header whose checksum holds sums to zero.
        assert_eq!(checksum(&p[..IP_HEADER_LEN]), 0);
        // Readdressed again, the old destination leaves no trace.
        readdress(&mut p, Ipv4Addr::new(10, 208, 1, 1), 9000, stamp);
        assert_eq!(checksum(&p[..IP_HEADER_LEN]), 0);
    }

    #[test]
    fn source_sends_round_robin_to_a_local_sink() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = rx.local_addr().unwrap().port();
        let st = run_source(&SourceOptions {
            destinations: vec![Ipv4Addr::LOCALHOST; 3],
            port,
            rate: Some(1000.0),
            size: 64,
            duration: Duration::from_millis(30),
            via_tun: None,
            decoy_to: None,
        })
        .unwrap();
        assert!(st.sent >= 25 && st.sent <= 40, "{}", st.line());
        let max = st.per_dest.iter().max().unwrap();
        let min = st.per_dest.iter().min().unwrap();
        assert!(max - min <= 1);
        let mut b = [0u8; 100];
        let n = rx.recv(&mut b).unwrap();
        assert_eq!(n, 36);
        assert_eq!(Stamp::parse(&b[..n]).unwrap(), Stamp { index: 0, seq: 0 });
    }
}
