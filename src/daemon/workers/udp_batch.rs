//! UDP receive and send for the data plane, without waiting: one datagram
//! per syscall (`recvfrom(2)` with `MSG_DONTWAIT`, `sendto(2)`) or many
//! (`recvmmsg(2)` / `sendmmsg(2)` over fixed slots). The L2TP socket is
//! AF_INET, so addresses are IPv4 only.
//!
//! The sockets stay blocking: the control plane sends through a clone of
//! worker 0's socket and must not see `EAGAIN`; receives pass `MSG_DONTWAIT`
//! instead, and a full send buffer makes a worker wait (backpressure).

use std::io;
use std::mem::size_of;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::ops::Range;
use std::os::fd::RawFd;

/// Largest UDP payload over IPv4 (65535 - 20 - 8), rounded up.
const MAX_DATAGRAM: usize = 65536;
/// Distance between receive slots: not a power of two, so the heads of the
/// slots (the bytes we read) do not all land in the same cache sets.
const SLOT_STRIDE: usize = MAX_DATAGRAM + 3 * 64;

fn sockaddr_v4(a: SocketAddrV4) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = a.port().to_be();
    sa.sin_addr.s_addr = u32::from(*a.ip()).to_be();
    sa
}

fn from_sockaddr(sa: &libc::sockaddr_in, len: libc::socklen_t) -> Option<SocketAddr> {
    if (len as usize) < size_of::<libc::sockaddr_in>() || sa.sin_family != libc::AF_INET as u16 {
        return None;
    }
    Some(SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr)),
        u16::from_be(sa.sin_port),
    )))
}

/// `Ok(None)` for "nothing queued"; other errors as they are.
fn would_block(rc: isize) -> io::Result<Option<usize>> {
    if rc >= 0 {
        return Ok(Some(rc as usize));
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::WouldBlock {
        Ok(None)
    } else {
        Err(e)
    }
}

/// One `recvfrom(2)` that does not wait. `Ok(None)`: nothing queued.
/// A datagram from a non-IPv4 source reads as `0.0.0.0:0`.
pub fn recv_from_now(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
    // SAFETY: plain old data, all-zero valid.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: buf and sa are valid for writes of the lengths passed.
    let rc = unsafe {
        libc::recvfrom(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
            (&mut sa as *mut libc::sockaddr_in).cast(),
            &mut len,
        )
    };
    Ok(would_block(rc)?.map(|n| {
        let from = from_sockaddr(&sa, len).unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
        (n.min(buf.len()), from)
    }))
}

/// Up to `slots` datagrams per `recvmmsg(2)` call.
pub struct RecvBatch {
    buf: Vec<u8>,
    from: Vec<libc::sockaddr_in>,
    iov: Vec<libc::iovec>,
    hdr: Vec<libc::mmsghdr>,
    /// Per slot: room for the `UDP_GRO` control message (aligned).
    ctrl: Vec<[u64; CTRL_WORDS]>,
    /// Ask for control messages (the socket has UDP GRO on).
    gro: bool,
    /// Datagrams from the last `recv`: (length, source, GRO segment size).
    got: Vec<(usize, SocketAddr, Option<usize>)>,
}

/// Room for one control message with a 4-byte value: CMSG_SPACE(4) is 24
/// on 64-bit Linux; 32 leaves slack.
const CTRL_WORDS: usize = 4;

// SAFETY: the raw pointers in `iov`/`hdr` are scratch, rewritten before
// every syscall to point into buffers this struct owns; they are never
// dereferenced outside that call, so moving the struct to another thread
// is as safe as moving its Vecs.
unsafe impl Send for RecvBatch {}

impl RecvBatch {
    pub fn new(slots: usize) -> Self {
        let slots = slots.max(1);
        // SAFETY (both zeroed): plain old data, all-zero valid.
        let sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        let hdr: libc::mmsghdr = unsafe { std::mem::zeroed() };
        RecvBatch {
            // Untouched pages of a zeroed allocation are never made resident.
            buf: vec![0; slots * SLOT_STRIDE],
            from: vec![sa; slots],
            iov: vec![
                libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0
                };
                slots
            ],
            hdr: vec![hdr; slots],
            ctrl: vec![[0; CTRL_WORDS]; slots],
            gro: false,
            got: Vec::with_capacity(slots),
        }
    }

    /// Read the `UDP_GRO` segment size of each receive (enable GRO on the
    /// socket first: see `udp_options::enable_gro`).
    pub fn with_gro(mut self) -> Self {
        self.gro = true;
        self
    }

    pub fn slots(&self) -> usize {
        self.hdr.len()
    }

    /// Receive what is queued, up to `slots()`, without waiting. Returns the
    /// number of datagrams (0: nothing queued).
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.got.clear();
        let base = self.buf.as_mut_ptr();
        // The pointers are rebuilt on every call: nothing here is self-referential.
        for (i, (((iov, hdr), from), ctrl)) in self
            .iov
            .iter_mut()
            .zip(self.hdr.iter_mut())
            .zip(self.from.iter_mut())
            .zip(self.ctrl.iter_mut())
            .enumerate()
        {
            iov.iov_base = base.wrapping_add(i * SLOT_STRIDE).cast();
            iov.iov_len = MAX_DATAGRAM;
            hdr.msg_hdr.msg_name = (from as *mut libc::sockaddr_in).cast();
            hdr.msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            hdr.msg_hdr.msg_iov = iov;
            hdr.msg_hdr.msg_iovlen = 1;
            if self.gro {
                hdr.msg_hdr.msg_control = ctrl.as_mut_ptr().cast();
                hdr.msg_hdr.msg_controllen = std::mem::size_of_val(ctrl) as _;
            } else {
                hdr.msg_hdr.msg_control = std::ptr::null_mut();
                hdr.msg_hdr.msg_controllen = 0;
            }
            hdr.msg_hdr.msg_flags = 0;
            hdr.msg_len = 0;
        }
        // SAFETY: every header points at a live iovec, slot and address of
        // this struct, each valid for the lengths given.
        let rc = unsafe {
            libc::recvmmsg(
                fd,
                self.hdr.as_mut_ptr(),
                self.hdr.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        let n = would_block(rc as isize)?.unwrap_or(0).min(self.hdr.len());
        for (hdr, from) in self.hdr.iter().zip(self.from.iter()).take(n) {
            let len = (hdr.msg_len as usize).min(MAX_DATAGRAM);
            let from = from_sockaddr(from, hdr.msg_hdr.msg_namelen)
                .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
            let seg = if self.gro {
                gro_segment(&hdr.msg_hdr)
            } else {
                None
            };
            self.got.push((len, from, seg));
        }
        Ok(n)
    }

    /// Datagram `i` of the last `recv` and its source (read-only; with GRO
    /// the buffer may hold several datagrams: see `get_mut`).
    pub fn get(&self, i: usize) -> Option<(&[u8], SocketAddr)> {
        let (at, from, _) = self.received(i)?;
        Some((self.buf.get(at)?, from))
    }

    /// Datagram `i` of the last `recv`, writable (the data plane clamps MSS
    /// in place), and with GRO the size its datagrams were coalesced at:
    /// the buffer then holds several datagrams of that size (the last may
    /// be shorter) from one source.
    pub fn get_mut(&mut self, i: usize) -> Option<(&mut [u8], SocketAddr, Option<usize>)> {
        let (at, from, seg) = self.received(i)?;
        Some((self.buf.get_mut(at)?, from, seg))
    }

    /// Where datagram `i` of the last `recv` lies in `buf`, its source and
    /// its GRO segment size.
    fn received(&self, i: usize) -> Option<(Range<usize>, SocketAddr, Option<usize>)> {
        let (len, from, seg) = *self.got.get(i)?;
        let start = i.checked_mul(SLOT_STRIDE)?;
        Some((start..start.checked_add(len)?, from, seg))
    }
}

/// The segment size of a GRO receive, from its `UDP_GRO` control message
/// (none: a single datagram).
fn gro_segment(msg: &libc::msghdr) -> Option<usize> {
    // SAFETY: msg's control pointer and length were set by us and updated by
    // the kernel; the CMSG_* macros stay inside msg_controllen.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        while !c.is_null() {
            let h = &*c;
            if h.cmsg_level == super::udp_options::SOL_UDP
                && h.cmsg_type == super::udp_options::UDP_GRO
                && h.cmsg_len as usize >= libc::CMSG_LEN(4) as usize
            {
                let v = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>());
                return usize::try_from(v).ok().filter(|v| *v > 0);
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
    }
    None
}

/// What a flush did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub datagrams: usize,
    pub errors: usize,
}

/// Datagrams collected for one `sendmmsg(2)` call (copied: the data plane
/// reuses its output buffer for the next packet).
pub struct SendBatch {
    buf: Vec<u8>,
    ends: Vec<usize>,
    /// Per entry: the UDP GSO segment size, 0 for a single datagram.
    seg: Vec<u16>,
    ctrl: Vec<[u64; CTRL_WORDS]>,
    to: Vec<libc::sockaddr_in>,
    iov: Vec<libc::iovec>,
    hdr: Vec<libc::mmsghdr>,
    max: usize,
}

// SAFETY: as for `RecvBatch`: the pointers are rebuilt in every `flush`.
unsafe impl Send for SendBatch {}

impl SendBatch {
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        SendBatch {
            buf: Vec::with_capacity(max * 2048),
            ends: Vec::with_capacity(max),
            seg: Vec::with_capacity(max),
            ctrl: Vec::with_capacity(max),
            to: Vec::with_capacity(max),
            iov: Vec::with_capacity(max),
            hdr: Vec::with_capacity(max),
            max,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Queue one datagram; true when the batch is full and must be flushed.
    pub fn push(&mut self, datagram: &[u8], to: SocketAddrV4) -> bool {
        self.push_segmented(datagram, to, 0)
    }

    /// Queue several datagrams of `segment` bytes each (the last may be
    /// shorter) laid end to end in `bytes`, for the kernel to cut (UDP GSO:
    /// one entry, one trip through the stack). True when the batch is full.
    pub fn push_segmented(&mut self, bytes: &[u8], to: SocketAddrV4, segment: u16) -> bool {
        self.buf.extend_from_slice(bytes);
        self.ends.push(self.buf.len());
        self.seg.push(segment);
        self.to.push(sockaddr_v4(to));
        self.ends.len() >= self.max
    }

    /// Send everything queued (waiting if the socket buffer is full). A
    /// datagram the kernel refuses is counted and skipped.
    pub fn flush(&mut self, fd: RawFd) -> Sent {
        let mut sent = Sent::default();
        let count = self.ends.len();
        self.iov.clear();
        self.hdr.clear();
        let base = self.buf.as_mut_ptr();
        let mut start = 0;
        for &end in &self.ends {
            self.iov.push(libc::iovec {
                iov_base: base.wrapping_add(start).cast(),
                iov_len: end.saturating_sub(start),
            });
            start = end;
        }
        self.ctrl.clear();
        self.ctrl.resize(count, [0; CTRL_WORDS]);
        for (i, ((to, seg), ctrl)) in self
            .to
            .iter_mut()
            .zip(self.seg.iter())
            .zip(self.ctrl.iter_mut())
            .enumerate()
        {
            // SAFETY: plain old data, all-zero valid.
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_name = (to as *mut libc::sockaddr_in).cast();
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_hdr.msg_iov = self.iov.as_mut_ptr().wrapping_add(i);
            h.msg_hdr.msg_iovlen = 1;
            if *seg > 0 {
                set_segment_cmsg(&mut h.msg_hdr, ctrl, *seg);
            }
            self.hdr.push(h);
        }
        let mut done = 0;
        while done < count {
            let Some(rest) = self.hdr.get_mut(done..) else {
                break;
            };
            // SAFETY: each header points at a live iovec (into `buf`) and
            // address of this struct; `rest.len()` headers follow the pointer.
            let rc =
                unsafe { libc::sendmmsg(fd, rest.as_mut_ptr(), rest.len() as libc::c_uint, 0) };
            if rc > 0 {
                done += rc as usize;
                sent.datagrams += rc as usize;
            } else if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                // The first entry of `rest` failed: a GSO entry is retried
                // one datagram at a time (a route or device that cannot
                // take it), anything else is counted and skipped.
                let (d, e) = self.resend_unsegmented(fd, done);
                sent.datagrams += d;
                sent.errors += e;
                done += 1;
            }
        }
        self.buf.clear();
        self.ends.clear();
        self.seg.clear();
        self.to.clear();
        sent
    }

    /// Entry `i` as separate sendto calls. (datagrams sent, errors)
    fn resend_unsegmented(&self, fd: RawFd, i: usize) -> (usize, usize) {
        let seg = usize::from(self.seg.get(i).copied().unwrap_or(0));
        let start = if i == 0 {
            0
        } else {
            self.ends.get(i - 1).copied().unwrap_or(0)
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        let (Some(bytes), Some(to)) = (self.buf.get(start..end), self.to.get(i)) else {
            return (0, 1);
        };
        if seg == 0 {
            return (0, 1);
        }
        let (mut ok, mut bad) = (0, 0);
        for d in bytes.chunks(seg) {
            // SAFETY: d and to are live for the lengths passed.
            let rc = unsafe {
                libc::sendto(
                    fd,
                    d.as_ptr().cast(),
                    d.len(),
                    0,
                    (to as *const libc::sockaddr_in).cast(),
                    size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            };
            if rc < 0 {
                bad += 1;
            } else {
                ok += 1;
            }
        }
        (ok, bad)
    }
}

/// Put a `UDP_SEGMENT` control message (the GSO size, a u16) into `ctrl`
/// and point `msg` at it.
fn set_segment_cmsg(msg: &mut libc::msghdr, ctrl: &mut [u64; CTRL_WORDS], seg: u16) {
    msg.msg_control = ctrl.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE of 2 bytes (24) fits in `ctrl` (32 bytes); the
    // header is written through CMSG_FIRSTHDR inside that space.
    unsafe {
        msg.msg_controllen = libc::CMSG_SPACE(2) as _;
        let c = libc::CMSG_FIRSTHDR(msg);
        if c.is_null() {
            msg.msg_control = std::ptr::null_mut();
            msg.msg_controllen = 0;
            return;
        }
        (*c).cmsg_level = super::udp_options::SOL_UDP;
        (*c).cmsg_type = super::udp_options::UDP_SEGMENT;
        (*c).cmsg_len = libc::CMSG_LEN(2) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), seg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    fn pair() -> (UdpSocket, UdpSocket, SocketAddrV4) {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let SocketAddr::V4(b_addr) = b.local_addr().unwrap() else {
            panic!("v4")
        };
        (a, b, b_addr)
    }

    #[test]
    fn batch_round_trip_keeps_order_lengths_and_sources() {
        let (a, b, to) = pair();
        let mut tx = SendBatch::new(8);
        for i in 0..5u8 {
            let d = vec![i; 10 + usize::from(i)];
            assert!(!tx.push(&d, to));
        }
        assert!(!tx.is_empty());
        assert_eq!(
            tx.flush(a.as_raw_fd()),
            Sent {
                datagrams: 5,
                errors: 0
            }
        );
        assert!(tx.is_empty());
        let mut rx = RecvBatch::new(4);
        let mut seen = Vec::new();
        for _ in 0..100 {
            let n = rx.recv(b.as_raw_fd()).unwrap();
            for i in 0..n {
                let (d, from, seg) = rx.get_mut(i).unwrap();
                assert_eq!(seg, None);
                assert_eq!(from, a.local_addr().unwrap());
                seen.push(d.to_vec());
            }
            if seen.len() == 5 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(seen.len(), 5);
        for (i, d) in seen.iter().enumerate() {
            assert_eq!(d.len(), 10 + i);
            assert!(d.iter().all(|&x| usize::from(x) == i));
        }
        assert!(rx.get_mut(4).is_none());
        assert_eq!(rx.recv(b.as_raw_fd()).unwrap(), 0, "nothing left, no wait");
    }

    #[test]
    fn full_batch_says_so_and_plain_receive_does_not_wait() {
        let (a, b, to) = pair();
        let mut tx = SendBatch::new(2);
        assert!(!tx.push(b"x", to));
        assert!(tx.push(b"yy", to));
        assert_eq!(tx.flush(a.as_raw_fd()).datagrams, 2);
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        for _ in 0..100 {
            if let Some((n, from)) = recv_from_now(b.as_raw_fd(), &mut buf).unwrap() {
                assert_eq!(from, a.local_addr().unwrap());
                got.push(n);
                if got.len() == 2 {
                    break;
                }
            } else {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        assert_eq!(got, vec![1, 2]);
        assert!(recv_from_now(b.as_raw_fd(), &mut buf).unwrap().is_none());
    }

    #[test]
    fn a_large_datagram_is_not_truncated() {
        let (a, b, to) = pair();
        let big = vec![7u8; 9000];
        a.send_to(&big, to).unwrap();
        let mut rx = RecvBatch::new(2);
        let mut n = 0;
        for _ in 0..100 {
            n = rx.recv(b.as_raw_fd()).unwrap();
            if n > 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(n, 1);
        assert_eq!(rx.get_mut(0).unwrap().0.len(), 9000);
    }

    #[test]
    fn gso_send_arrives_as_one_gro_receive_and_cuts_back_apart() {
        let (a, b, to) = pair();
        super::super::udp_options::set_gro(b.as_raw_fd(), true).unwrap();
        // 5 datagrams of 1000 bytes and one of 300, each filled with its index.
        let mut bytes = Vec::new();
        for i in 0..6u8 {
            let len = if i == 5 { 300 } else { 1000 };
            bytes.extend(std::iter::repeat_n(i, len));
        }
        let mut tx = SendBatch::new(4);
        tx.push(b"single", to);
        tx.push_segmented(&bytes, to, 1000);
        assert_eq!(
            tx.flush(a.as_raw_fd()),
            Sent {
                datagrams: 2,
                errors: 0
            }
        );
        let mut rx = RecvBatch::new(4).with_gro();
        let mut got: Vec<Vec<u8>> = Vec::new();
        for _ in 0..100 {
            let n = rx.recv(b.as_raw_fd()).unwrap();
            for i in 0..n {
                let (d, _, seg) = rx.get_mut(i).unwrap();
                match seg {
                    Some(seg) => got.extend(d.chunks(seg).map(<[u8]>::to_vec)),
                    None => got.push(d.to_vec()),
                }
            }
            if got.len() >= 7 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(got.len(), 7);
        assert_eq!(got[0], b"single");
        for (i, d) in got[1..].iter().enumerate() {
            assert_eq!(d.len(), if i == 5 { 300 } else { 1000 });
            assert!(d.iter().all(|&x| usize::from(x) == i));
        }
    }
}
