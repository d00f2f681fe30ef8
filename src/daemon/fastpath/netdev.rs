//! What the loader needs to know about a network device: its index, MTU
//! and link type, by ioctl on a socket of the calling thread's network
//! namespace (sysfs would show the namespace it was mounted in).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// ARPHRD_ETHER and ARPHRD_LOOPBACK: devices whose packets start with a
/// 14-byte Ethernet header at TC (lo's is all zero), as the programs expect.
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;

#[repr(C)]
struct IfReqAddr {
    name: [libc::c_char; libc::IFNAMSIZ],
    addr: libc::sockaddr,
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
            "not a valid interface name",
        ));
    }
    let mut out = [0 as libc::c_char; libc::IFNAMSIZ];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = *b as libc::c_char;
    }
    Ok(out)
}

fn socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned right away.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The device's index (0 is never a valid one).
pub fn ifindex(name: &str) -> io::Result<u32> {
    let c = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "not a valid interface name"))?;
    // SAFETY: c is a valid NUL-terminated string.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(io::Error::last_os_error()),
        i => Ok(i),
    }
}

pub fn mtu(name: &str) -> io::Result<u32> {
    let mut req = IfReqInt {
        name: ifname(name)?,
        value: 0,
        _pad: [0; 20],
    };
    let s = socket()?;
    // SAFETY: SIOCGIFMTU writes an int into an ifreq we own.
    if unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCGIFMTU, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u32::try_from(req.value).unwrap_or(0))
}

/// Ok if the device frames packets with Ethernet (or is lo), else why not.
pub fn check_ethernet(name: &str) -> io::Result<()> {
    // SAFETY: an all-zero sockaddr is valid.
    let mut req = IfReqAddr {
        name: ifname(name)?,
        addr: unsafe { std::mem::zeroed() },
        _pad: [0; 8],
    };
    let s = socket()?;
    // SAFETY: SIOCGIFHWADDR writes a sockaddr into an ifreq we own.
    if unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    match req.addr.sa_family {
        ARPHRD_ETHER | ARPHRD_LOOPBACK => Ok(()),
        t => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("link type {t} is not Ethernet: the fast path's uplinks must be Ethernet devices (or lo)"),
        )),
    }
}

/// Does lo take a packet whose source is one of our addresses, 127.0.0.1
/// included (accept_local and route_localnet, each on lo or on all)? Read
/// once at start: the down program's way to a LAC on this host.
pub fn lo_takes_local_sources() -> bool {
    ["accept_local", "route_localnet"]
        .iter()
        .all(|w| ipv4_conf_on("lo", w) || ipv4_conf_on("all", w))
}

/// Does lo forward? The down program routes as if forwarding from lo, and
/// the kernel's fib helper refuses that while lo does not.
pub fn lo_forwards() -> bool {
    ipv4_conf_on("lo", "forwarding")
}

/// net.ipv4.conf.DEV.WHAT is set (not 0); false when unreadable.
fn ipv4_conf_on(dev: &str, what: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv4/conf/{dev}/{what}"))
        .is_ok_and(|v| v.trim() != "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lo_is_ethernet_framed_and_has_index_1() {
        assert_eq!(ifindex("lo").unwrap(), 1);
        check_ethernet("lo").unwrap();
        assert!(mtu("lo").unwrap() >= 1500);
    }

    #[test]
    fn bad_names_are_errors_not_panics() {
        assert!(ifindex("").is_err());
        assert!(ifindex("a\0b").is_err());
        assert!(mtu("this-name-is-far-too-long").is_err());
        assert!(check_ethernet("nosuchdevice0").is_err());
    }
}
