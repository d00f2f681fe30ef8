//! The one TUN device all user traffic goes through, opened and configured
//! with a few ioctls (see Docs/ARCHITECTURE.md, "Why no TUN crate").
//!
//! With more than one data-plane worker the device is multi-queue
//! (`IFF_MULTI_QUEUE`, Documentation/networking/tuntap.rst): every
//! `TUNSETIFF` on a fresh /dev/net/tun fd attaches one more queue, and the
//! kernel spreads the packets it routes into the device over the queues by
//! flow hash, so each worker reads its own share.
//!
//! Address, MTU, link state and routes are set through the classic
//! SIOCSIF*/SIOCADDRT ioctls on an AF_INET datagram socket: no netlink crate,
//! no `ip` subprocess, and the same calls work on every Linux kernel.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_MULTI_QUEUE: libc::c_short = 0x0100;
const IFF_VNET_HDR: libc::c_short = 0x4000;
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
const TUN_F_CSUM: libc::c_uint = 0x01;
const TUN_F_TSO4: libc::c_uint = 0x02;
const TUN_F_TSO_ECN: libc::c_uint = 0x08;
const TUN_F_USO4: libc::c_uint = 0x20;
const TUN_F_USO6: libc::c_uint = 0x40;
const TX_QUEUE_LEN: libc::c_int = 10_000;

/// The 10-byte `struct virtio_net_hdr` in front of every packet when the
/// device has `IFF_VNET_HDR`; all zero means "a plain packet" (GSO none).
pub const VNET_HDR_LEN: usize = 10;
const PLAIN_VNET_HDR: [u8; VNET_HDR_LEN] = [0; VNET_HDR_LEN];

/// Which offloads the device runs with (chosen once, at open).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunOffload {
    /// Bare IP packets, one per read and write: works on every kernel.
    None,
    /// `IFF_VNET_HDR`: the kernel hands us TCP (and, with `uso`, UDP)
    /// super-packets of up to 64 KiB with a partial checksum, and takes
    /// them from us (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO_ECN [| TUN_F_USO4/6]).
    VnetHdr { uso: bool },
}

impl std::fmt::Display for TunOffload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TunOffload::None => f.write_str("none"),
            TunOffload::VnetHdr { uso: true } => f.write_str("vnet_hdr csum+tso4+uso"),
            TunOffload::VnetHdr { uso: false } => f.write_str("vnet_hdr csum+tso4"),
        }
    }
}

/// An open TUN device (one queue of it). Without offloads, reads return one
/// IP packet and writes take one; with [`TunOffload::VnetHdr`], reads
/// return a frame (virtio-net header + packet), [`Tun::send_frame`] takes
/// one, and [`Tun::send`] still takes a bare packet (it adds a plain header).
pub struct Tun {
    file: File,
    name: String,
    vnet: bool,
}

#[repr(C)]
struct IfReqFlags {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

#[repr(C)]
struct IfReqAddr {
    name: [libc::c_char; libc::IFNAMSIZ],
    addr: libc::sockaddr_in,
    _pad: [u8; 8],
}

#[repr(C)]
struct IfReqInt {
    name: [libc::c_char; libc::IFNAMSIZ],
    value: libc::c_int,
    _pad: [u8; 20],
}

fn ifname(name: &str) -> io::Result<[libc::c_char; libc::IFNAMSIZ]> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name {name:?}"),
        ));
    }
    let mut out = [0 as libc::c_char; libc::IFNAMSIZ];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = *b as libc::c_char;
    }
    Ok(out)
}

fn sockaddr(addr: Ipv4Addr) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_addr.s_addr = u32::from(addr).to_be();
    sa
}

/// A throwaway AF_INET socket to carry interface ioctls.
fn ioctl_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the fd is owned right away.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn ioctl<T>(fd: libc::c_int, request: libc::c_ulong, arg: &mut T, what: &str) -> io::Result<()> {
    // SAFETY: `arg` points to a properly laid out struct for `request`.
    let rc = unsafe { libc::ioctl(fd, request as _, arg as *mut T) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(())
}

impl Tun {
    /// Create (or attach to) the TUN device `name`, without packet info
    /// headers, so reads and writes are bare IP packets.
    pub fn open(name: &str) -> io::Result<Tun> {
        Self::open_flags(name, IFF_TUN | IFF_NO_PI)
    }

    /// Open `name` with `queues` queues: one device for 1 (as [`Tun::open`]),
    /// a multi-queue device for more. Queue i is element i. With `offload`,
    /// try `IFF_VNET_HDR` with TSO (and USO where the kernel has it); a
    /// kernel that refuses gets the plain device, and the result says which.
    pub fn open_queues(
        name: &str,
        queues: usize,
        offload: bool,
    ) -> io::Result<(Vec<Tun>, TunOffload)> {
        let mut flags = IFF_TUN | IFF_NO_PI;
        if queues > 1 {
            flags |= IFF_MULTI_QUEUE;
        }
        let mut mode = TunOffload::None;
        let mut first = None;
        if offload {
            // All queues of a device share its flags, so the first queue decides.
            match Self::open_flags(name, flags | IFF_VNET_HDR) {
                Ok(mut t) => {
                    t.vnet = true;
                    match t.set_offload() {
                        Ok(uso) => {
                            mode = TunOffload::VnetHdr { uso };
                            first = Some(t);
                        }
                        Err(e) => {
                            tracing::warn!("TUN offloads refused, plain packets: {e}");
                            drop(t);
                        }
                    }
                }
                Err(e) => tracing::warn!("TUN with IFF_VNET_HDR refused, plain packets: {e}"),
            }
        }
        if mode != TunOffload::None {
            flags |= IFF_VNET_HDR;
        }
        let mut out = Vec::with_capacity(queues);
        out.extend(first);
        for i in out.len()..queues.max(1) {
            let mut t = Self::open_flags(name, flags)
                .map_err(|e| io::Error::new(e.kind(), format!("queue {i}: {e}")))?;
            t.vnet = mode != TunOffload::None;
            out.push(t);
        }
        Ok((out, mode))
    }

    /// TUNSETOFFLOAD: checksum and TCPv4 segmentation offload, plus UDP
    /// segmentation (Linux >= 6.2) when the kernel takes it. Ok(uso).
    fn set_offload(&self) -> io::Result<bool> {
        let base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO_ECN;
        let fd = self.file.as_raw_fd();
        // SAFETY: TUNSETOFFLOAD takes an unsigned int by value.
        if unsafe { libc::ioctl(fd, TUNSETOFFLOAD as _, base | TUN_F_USO4 | TUN_F_USO6) } == 0 {
            return Ok(true);
        }
        // SAFETY: as above.
        if unsafe { libc::ioctl(fd, TUNSETOFFLOAD as _, base) } == 0 {
            return Ok(false);
        }
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("TUNSETOFFLOAD: {e}")))
    }

    /// Whether reads and [`Tun::send_frame`] carry a virtio-net header.
    pub fn vnet_hdr(&self) -> bool {
        self.vnet
    }

    fn open_flags(name: &str, flags: libc::c_short) -> io::Result<Tun> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(|e| io::Error::new(e.kind(), format!("open /dev/net/tun: {e}")))?;
        let mut req = IfReqFlags {
            name: ifname(name)?,
            flags,
            _pad: [0; 22],
        };
        ioctl(file.as_raw_fd(), TUNSETIFF, &mut req, "TUNSETIFF")?;
        Ok(Tun {
            file,
            name: name.to_string(),
            vnet: false,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Give the interface its address (a /32: the pool is reached by routes),
    /// its MTU, and bring it up.
    pub fn configure(&self, address: Ipv4Addr, mtu: u32) -> io::Result<()> {
        let sock = ioctl_socket()?;
        let fd = sock.as_raw_fd();
        let name = ifname(&self.name)?;
        let mut a = IfReqAddr {
            name,
            addr: sockaddr(address),
            _pad: [0; 8],
        };
        ioctl(fd, libc::SIOCSIFADDR, &mut a, "SIOCSIFADDR")?;
        let mut m = IfReqAddr {
            name,
            addr: sockaddr(Ipv4Addr::BROADCAST),
            _pad: [0; 8],
        };
        ioctl(fd, libc::SIOCSIFNETMASK, &mut m, "SIOCSIFNETMASK")?;
        let mut mtu_req = IfReqInt {
            name,
            value: mtu as libc::c_int,
            _pad: [0; 20],
        };
        ioctl(fd, libc::SIOCSIFMTU, &mut mtu_req, "SIOCSIFMTU")?;
        // Downstream bursts (the kernel answering many sessions at once)
        // must not overflow the default 500-packet queue.
        let mut q = IfReqInt {
            name,
            value: TX_QUEUE_LEN,
            _pad: [0; 20],
        };
        ioctl(fd, libc::SIOCSIFTXQLEN, &mut q, "SIOCSIFTXQLEN")?;
        let mut f = IfReqFlags {
            name,
            flags: 0,
            _pad: [0; 22],
        };
        ioctl(fd, libc::SIOCGIFFLAGS, &mut f, "SIOCGIFFLAGS")?;
        f.flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        ioctl(fd, libc::SIOCSIFFLAGS, &mut f, "SIOCSIFFLAGS")?;
        Ok(())
    }

    /// Let the kernel take packets from this interface whose source is one
    /// of its own addresses: the ICMP fragmentation-needed we send for a
    /// subscriber whose MRU is below the TUN MTU comes from the TUN address.
    pub fn accept_local(&self) -> io::Result<()> {
        std::fs::write(
            format!("/proc/sys/net/ipv4/conf/{}/accept_local", self.name),
            "1",
        )
    }

    /// Route `net/prefix` into this interface. An existing identical route is fine.
    pub fn add_route(&self, net: Ipv4Addr, prefix: u8) -> io::Result<()> {
        self.route(libc::SIOCADDRT, net, prefix).or_else(|e| {
            if e.raw_os_error() == Some(libc::EEXIST) {
                Ok(())
            } else {
                Err(e)
            }
        })
    }

    /// Remove a route added with `add_route`; a missing route is fine.
    pub fn del_route(&self, net: Ipv4Addr, prefix: u8) -> io::Result<()> {
        self.route(libc::SIOCDELRT, net, prefix).or_else(|e| {
            if e.raw_os_error() == Some(libc::ESRCH) {
                Ok(())
            } else {
                Err(e)
            }
        })
    }

    fn route(&self, request: libc::c_ulong, net: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let sock = ioctl_socket()?;
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix.min(32)))
        };
        let net = Ipv4Addr::from(u32::from(net) & mask);
        // SAFETY: rtentry is plain old data; all-zero is valid.
        let mut rt: libc::rtentry = unsafe { std::mem::zeroed() };
        let dst = sockaddr(net);
        let msk = sockaddr(Ipv4Addr::from(mask));
        // SAFETY: sockaddr_in and sockaddr have compatible layouts (16 bytes).
        unsafe {
            rt.rt_dst = std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(dst);
            rt.rt_genmask = std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(msk);
        }
        rt.rt_flags = libc::RTF_UP;
        if prefix == 32 {
            rt.rt_flags |= libc::RTF_HOST;
        }
        let mut name: Vec<libc::c_char> = ifname(&self.name)?.to_vec();
        rt.rt_dev = name.as_mut_ptr();
        let what = if request == libc::SIOCADDRT {
            "SIOCADDRT"
        } else {
            "SIOCDELRT"
        };
        ioctl(sock.as_raw_fd(), request, &mut rt, what)
    }

    /// Reads return `WouldBlock` instead of waiting (the worker polls first).
    /// Set on the open file description, so it holds for clones too; a TUN
    /// write never waits either way.
    pub fn set_nonblocking(&self) -> io::Result<()> {
        let fd = self.file.as_raw_fd();
        // SAFETY: fcntl on a descriptor we own, with integer arguments.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// A second handle on the same queue (the control plane writes through one).
    pub fn try_clone(&self) -> io::Result<Tun> {
        Ok(Tun {
            file: self.file.try_clone()?,
            name: self.name.clone(),
            vnet: self.vnet,
        })
    }

    /// One packet, or with [`Tun::vnet_hdr`] one frame (header + packet).
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }

    /// Write one bare IP packet (with a plain virtio-net header in front
    /// when the device has them: one writev, no copy).
    pub fn send(&mut self, packet: &[u8]) -> io::Result<usize> {
        if !self.vnet {
            return self.file.write(packet);
        }
        let iov = [io::IoSlice::new(&PLAIN_VNET_HDR), io::IoSlice::new(packet)];
        let n = self.file.write_vectored(&iov)?;
        Ok(n.saturating_sub(VNET_HDR_LEN))
    }

    /// Write one frame that already starts with its virtio-net header
    /// (only on a device opened with offloads).
    pub fn send_frame(&mut self, frame: &[u8]) -> io::Result<usize> {
        self.file.write(frame)
    }
}

impl AsRawFd for Tun {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.file.as_raw_fd()
    }
}
