//! Batched UDP sends with sendmmsg(2): one system call for up to BATCH
//! datagrams, which is what lets one core push a million small packets a
//! second. Non-blocking; WouldBlock means "nothing now". Receives use the
//! data plane's `RecvBatch` (daemon::workers::udp_batch), with BATCH slots.

use std::io;
use std::net::SocketAddrV4;
use std::os::fd::RawFd;

pub const BATCH: usize = 64;

/// Send `packets` without blocking, each to `to[i]` when given (unconnected
/// socket) or to the connected peer. Returns how many went; 0 with
/// WouldBlock when the socket buffer is full.
pub fn send_batch(
    fd: RawFd,
    packets: &[Vec<u8>],
    to: Option<&[SocketAddrV4]>,
) -> io::Result<usize> {
    let n = packets.len().min(BATCH);
    if n == 0 {
        return Ok(0);
    }
    let mut iov: Vec<libc::iovec> = packets
        .iter()
        .take(n)
        .map(|p| libc::iovec {
            iov_base: p.as_ptr() as *mut libc::c_void,
            iov_len: p.len(),
        })
        .collect();
    let mut addrs: Vec<libc::sockaddr_in> = Vec::new();
    if let Some(to) = to {
        addrs = to.iter().take(n).map(|a| sockaddr(*a)).collect();
        if addrs.len() < n {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "fewer addresses than packets",
            ));
        }
    }
    // SAFETY: mmsghdr is plain old data.
    let mut msgs: Vec<libc::mmsghdr> = vec![unsafe { std::mem::zeroed() }; n];
    for (i, (m, v)) in msgs.iter_mut().zip(iov.iter_mut()).enumerate() {
        m.msg_hdr.msg_iov = v;
        m.msg_hdr.msg_iovlen = 1;
        if let Some(a) = addrs.get_mut(i) {
            m.msg_hdr.msg_name = (a as *mut libc::sockaddr_in).cast();
            m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        }
    }
    // SAFETY: every mmsghdr points at live buffers for the call; the kernel
    // only reads them.
    let r = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), n as libc::c_uint, libc::MSG_DONTWAIT) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r as usize)
}

fn sockaddr(a: SocketAddrV4) -> libc::sockaddr_in {
    // SAFETY: plain old data.
    let mut s: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    s.sin_family = libc::AF_INET as libc::sa_family_t;
    s.sin_port = a.port().to_be();
    s.sin_addr.s_addr = u32::from(*a.ip()).to_be();
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::workers::udp_batch::RecvBatch;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    #[test]
    fn batch_round_trip_over_loopback() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let SocketAddr4(to) = SocketAddr4::of(&rx);
        let packets: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 20 + usize::from(i)]).collect();
        let dests = vec![to; 10];
        assert_eq!(
            send_batch(tx.as_raw_fd(), &packets, Some(&dests)).unwrap(),
            10
        );
        assert!(send_batch(tx.as_raw_fd(), &packets, Some(&dests[..2])).is_err());
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut b = RecvBatch::new(BATCH);
        let n = b.recv(rx.as_raw_fd()).unwrap();
        assert_eq!(n, 10);
        for (i, p) in packets.iter().enumerate() {
            let (d, from) = b.get(i).unwrap();
            assert_eq!(d, &p[..]);
            assert_eq!(from.port(), SocketAddr4::of(&tx).0.port());
        }
        assert!(b.get(10).is_none());
        assert_eq!(b.recv(rx.as_raw_fd()).unwrap(), 0, "nothing queued");
    }

    struct SocketAddr4(SocketAddrV4);
    impl SocketAddr4 {
        fn of(s: &UdpSocket) -> SocketAddr4 {
            match s.local_addr().unwrap() {
                std::net::SocketAddr::V4(a) => SocketAddr4(a),
                _ => unreachable!(),
            }
        }
    }
}
