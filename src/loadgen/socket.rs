//! The load generator's UDP socket toward the LNS, and sending on it.
//!
//! The socket is connected, so while nothing listens on the LNS's port (the
//! LNS is restarting) each datagram we send brings back an ICMP port
//! unreachable, and the next send or receive on the socket fails once with
//! ECONNREFUSED. That error is only a report: the kernel clears it as it
//! returns it, and the socket works on. Nobody must take it for a broken
//! socket; lost control messages are the LAC's retransmission's business.

use std::io;
use std::net::{SocketAddr, UdpSocket};

/// A UDP socket with buffers large enough for a thousand sessions' replies
/// arriving at once. Without `checksums` (IPv4 only) it sends a zero UDP
/// checksum, as a kernel LAC does by default; the LNS's kernel fast path
/// can then check such datagrams from this host, whose checksum would
/// otherwise be only the partial sum of an offloaded send.
pub fn udp_socket(bind: SocketAddr, checksums: bool) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(bind), Type::DGRAM, Some(Protocol::UDP))?;
    let _ = s.set_recv_buffer_size(16 << 20);
    let _ = s.set_send_buffer_size(16 << 20);
    if !checksums && bind.is_ipv4() {
        set_no_check(&s)?;
    }
    s.bind(&bind.into())?;
    Ok(s.into())
}

/// SO_NO_CHECK: send IPv4 UDP with checksum 0.
pub(crate) fn set_no_check(s: &socket2::Socket) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket and an int option of the right size.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_NO_CHECK,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Is this the ICMP-port-unreachable report of an earlier datagram (the
/// LNS is not listening just now)?
pub fn is_refused(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::ConnectionRefused
}

/// Send one datagram on the connected socket; true if it went. A pending
/// ECONNREFUSED fails the send without sending: the report is cleared by
/// then, so the datagram goes on the second try.
pub fn send(sock: &UdpSocket, d: &[u8]) -> bool {
    match sock.send(d) {
        Ok(_) => true,
        Err(e) if is_refused(&e) => sock.send(d).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::time::Duration;

    /// Aimed at a port nobody listens on, the socket reports ECONNREFUSED
    /// on later calls; `send` still sends and receiving still works.
    #[test]
    fn refused_reports_do_not_break_the_socket() {
        let lo = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let sock = udp_socket(lo, false).expect("socket");
        // A port that was bound a moment ago and is free now.
        let gone = UdpSocket::bind(lo)
            .expect("bind")
            .local_addr()
            .expect("addr");
        sock.connect(gone).expect("connect");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        for _ in 0..5 {
            assert!(send(&sock, b"hello"), "send failed");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut buf = [0u8; 16];
        let refused = match sock.recv(&mut buf) {
            Err(e) => is_refused(&e),
            Ok(_) => false,
        };
        assert!(refused, "loopback should report the closed port");
        // The report was consumed: now a plain timeout.
        let e = sock.recv(&mut buf).expect_err("nothing to read");
        assert!(!is_refused(&e), "{e}");
    }
}
