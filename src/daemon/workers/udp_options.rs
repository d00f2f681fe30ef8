//! Socket options of the data plane's L2TP sockets that the standard
//! library and socket2 do not carry: UDP GRO and GSO (Linux >= 4.18/5.0),
//! a reuseport program that spreads tunnels over the workers, and the
//! kernel's drop counter of a socket.

use std::io;
use std::mem::size_of;
use std::os::fd::RawFd;

/// include/uapi/linux/udp.h
pub const SOL_UDP: libc::c_int = 17;
pub const UDP_SEGMENT: libc::c_int = 103;
pub const UDP_GRO: libc::c_int = 104;
/// include/uapi/asm-generic/socket.h
const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 51;
const SO_MEMINFO: libc::c_int = 55;
/// include/uapi/linux/sock_diag.h: index of the drop counter in SO_MEMINFO.
const SK_MEMINFO_DROPS: usize = 8;

fn setsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    // SAFETY: the option value is a live c_int of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&v as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// SO_RCVBUFFORCE / SO_SNDBUFFORCE: a buffer size beyond the sysctl
/// limits (needs CAP_NET_ADMIN).
pub fn set_buffer_force(fd: RawFd, option: libc::c_int, bytes: libc::c_int) -> io::Result<()> {
    setsockopt_int(fd, libc::SOL_SOCKET, option, bytes)
}

/// Ask the kernel to coalesce datagrams of one flow into one receive (UDP
/// GRO), or not; with it, each receive says its segment size in a
/// `UDP_GRO` control message, and a reader that ignores that would take
/// several datagrams for one.
pub fn set_gro(fd: RawFd, on: bool) -> io::Result<()> {
    setsockopt_int(fd, SOL_UDP, UDP_GRO, libc::c_int::from(on))
}

/// Whether this kernel can segment a send for us (UDP GSO): reading the
/// option succeeds exactly when it knows it.
pub fn gso_supported(fd: RawFd) -> bool {
    let mut v: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: v and len are live and of the sizes passed.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            SOL_UDP,
            UDP_SEGMENT,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    rc == 0
}

/// The classic BPF program run by the kernel for each datagram arriving
/// at the port's `SO_REUSEPORT` group, with the packet starting at the UDP
/// payload: it returns the index of the socket (= worker) that gets it,
/// (tunnel id + session id) modulo `workers` (RFC 2661 §3.1: the ids sit at
/// bytes 2 and 4, or 4 and 6 when the L bit says a Length field comes
/// first). So one LAC's tunnels, and the sessions of one big tunnel,
/// spread over the workers, while each session stays on one (no
/// reordering within a session). Control messages of one tunnel may reach
/// the control plane through different workers; its control channel puts
/// them back in Ns order. A datagram too short to hold the ids fails the
/// load, which ends the program with 0: worker 0, which drops it as
/// malformed.
pub fn tunnel_spread_program(workers: u32) -> Vec<libc::sock_filter> {
    const LD_H_ABS: u16 = (libc::BPF_LD | libc::BPF_H | libc::BPF_ABS) as u16;
    const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
    const JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
    const TAX: u16 = (libc::BPF_MISC | libc::BPF_TAX) as u16;
    const ADD_X: u16 = (libc::BPF_ALU | libc::BPF_ADD | libc::BPF_X) as u16;
    const MOD_K: u16 = (libc::BPF_ALU | libc::BPF_MOD | libc::BPF_K) as u16;
    const RET_A: u16 = (libc::BPF_RET | libc::BPF_A) as u16;
    let op = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    vec![
        op(LD_H_ABS, 0, 0, 0),    // A = flags and version
        op(JSET_K, 0, 4, 0x4000), // L bit set?
        op(LD_H_ABS, 0, 0, 4),    //   yes: tunnel id after the length
        op(TAX, 0, 0, 0),
        op(LD_H_ABS, 0, 0, 6), //        session id
        op(JA, 0, 0, 3),
        op(LD_H_ABS, 0, 0, 2), //   no: tunnel id right after the flags
        op(TAX, 0, 0, 0),
        op(LD_H_ABS, 0, 0, 4), //        session id
        op(ADD_X, 0, 0, 0),
        op(MOD_K, 0, 0, workers.max(1)),
        op(RET_A, 0, 0, 0),
    ]
}

/// Attach [`tunnel_spread_program`] to the reuseport group `fd` belongs
/// to (once, on any member, after all members are bound in worker order).
pub fn attach_tunnel_spread(fd: RawFd, workers: u32) -> io::Result<()> {
    let mut prog = tunnel_spread_program(workers);
    let fprog = libc::sock_fprog {
        len: prog.len() as libc::c_ushort,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: fprog points at `prog`, alive for the call; the kernel copies it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            SO_ATTACH_REUSEPORT_CBPF,
            (&fprog as *const libc::sock_fprog).cast(),
            size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Datagrams the kernel dropped at this socket because its receive buffer
/// was full (the workers did not keep up), since it was opened.
pub fn socket_drops(fd: RawFd) -> io::Result<u64> {
    let mut info = [0u32; 16];
    let mut len = std::mem::size_of_val(&info) as libc::socklen_t;
    // SAFETY: info and len are live and of the sizes passed.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            SO_MEMINFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    if (len as usize) <= SK_MEMINFO_DROPS * 4 {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "SO_MEMINFO without drops",
        ));
    }
    Ok(u64::from(info[SK_MEMINFO_DROPS]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    #[test]
    fn gro_and_gso_are_available_on_this_kernel() {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        set_gro(s.as_raw_fd(), true).unwrap();
        assert!(gso_supported(s.as_raw_fd()));
        assert_eq!(socket_drops(s.as_raw_fd()).unwrap(), 0);
    }

    #[test]
    fn spread_program_is_accepted_by_the_kernel() {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
        s.set_reuse_port(true).unwrap();
        s.bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
        attach_tunnel_spread(s.as_raw_fd(), 2).unwrap();
    }

    #[test]
    fn one_lac_s_tunnels_and_sessions_spread_by_their_ids() {
        // Two members of one reuseport group, bound in order: index 0 and 1.
        let group: Vec<UdpSocket> = {
            let first =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
            first.set_reuse_port(true).unwrap();
            first
                .bind(
                    &"127.0.0.1:0"
                        .parse::<std::net::SocketAddr>()
                        .unwrap()
                        .into(),
                )
                .unwrap();
            let addr = first.local_addr().unwrap();
            let second =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
            second.set_reuse_port(true).unwrap();
            second.bind(&addr).unwrap();
            vec![first.into(), second.into()]
        };
        attach_tunnel_spread(group[0].as_raw_fd(), 2).unwrap();
        let to = group[0].local_addr().unwrap();
        let lac = UdpSocket::bind("127.0.0.1:0").unwrap();
        // From one source: data messages without length (ids at bytes 2
        // and 4) and control messages with length (ids at 4 and 6), for
        // (tunnel, session) = (t, s), t in 1..=3, s in 0..=1.
        for t in 1..=3u16 {
            for s in 0..=1u16 {
                let ([th, tl], [sh, sl]) = (t.to_be_bytes(), s.to_be_bytes());
                lac.send_to(&[0x00, 0x02, th, tl, sh, sl, 0xff, 0x03], to)
                    .unwrap();
                lac.send_to(&[0xc8, 0x02, 0, 12, th, tl, sh, sl, 0, 0, 0, 0], to)
                    .unwrap();
            }
        }
        for s in &group {
            s.set_read_timeout(Some(std::time::Duration::from_millis(200)))
                .unwrap();
        }
        let ids_at = |s: &UdpSocket| {
            let mut got = Vec::new();
            let mut buf = [0u8; 64];
            while let Ok(n) = s.recv(&mut buf) {
                let at = if buf[0] & 0x40 != 0 { 4 } else { 2 };
                assert!(n >= at + 4);
                let id = |i: usize| u16::from_be_bytes([buf[i], buf[i + 1]]);
                got.push((id(at), id(at + 2)));
            }
            got
        };
        // (t + s) even -> socket 0, odd -> socket 1; both encodings agree.
        assert_eq!(
            ids_at(&group[0]),
            [(1, 1), (1, 1), (2, 0), (2, 0), (3, 1), (3, 1)]
        );
        assert_eq!(
            ids_at(&group[1]),
            [(1, 0), (1, 0), (2, 1), (2, 1), (3, 0), (3, 0)]
        );
    }
}
