//! `l2tpns-loadgen source`: the kernel-side start of downstream benchmark
//! traffic. Runs in the LNS's namespace and sends UDP to the first N
//! addresses of the pool (the addresses the LNS hands out first, in the
//! daemon's own order), round robin, each packet numbered per destination,
//! at a fixed rate or flat out, in sendmmsg batches, with UDP checksum 0.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use super::mmsg::{send_batch, BATCH};
use super::pacing::Pacer;
use super::payload::Stamp;
use super::sink::{big_udp_socket, rate};
use super::udp::{MAX_IP_LEN, PAYLOAD_AT};

#[derive(Debug, Clone)]
pub struct SourceOptions {
    pub destinations: Vec<Ipv4Addr>,
    pub port: u16,
    pub rate: Option<f64>,
    /// IP packet size.
    pub size: usize,
    pub duration: Duration,
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
    let sock = big_udp_socket(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))?;
    // Checksum 0, complete as what an LNS forwards from a NIC is. Sent from
    // this host through the offloading TUN, a computed checksum would stay
    // a partial sum for the device to finish, which the kernel fast path
    // hands to userspace (down-partial-checksum): not the case to measure.
    super::socket::set_no_check(&socket2::SockRef::from(&sock))?;
    let fd = sock.as_raw_fd();
    let size = opts
        .size
        .clamp(PAYLOAD_AT + super::payload::STAMP_LEN, MAX_IP_LEN);
    let mut bufs: Vec<Vec<u8>> = vec![vec![0u8; size - PAYLOAD_AT]; BATCH];
    let mut dests = vec![SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0); BATCH];
    let mut st = SourceStats {
        per_dest: vec![0; n],
        ..SourceStats::default()
    };
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
        for k in 0..due {
            let d = (next + k) % n;
            let seq = st.per_dest.get(d).copied().unwrap_or(0);
            if let (Some(b), Some(slot), Some(ip)) =
                (bufs.get_mut(k), dests.get_mut(k), opts.destinations.get(d))
            {
                let _ = Stamp {
                    index: d as u32,
                    seq,
                }
                .emit(b);
                *slot = SocketAddrV4::new(*ip, opts.port);
            }
        }
        match send_batch(fd, &bufs[..due], Some(&dests[..due])) {
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
                wait_writable(fd);
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

fn wait_writable(fd: libc::c_int) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, 1) };
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
    fn source_sends_round_robin_to_a_local_sink() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = rx.local_addr().unwrap().port();
        let st = run_source(&SourceOptions {
            destinations: vec![Ipv4Addr::LOCALHOST; 3],
            port,
            rate: Some(1000.0),
            size: 64,
            duration: Duration::from_millis(30),
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
