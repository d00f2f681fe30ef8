//! The kernel fast path loaded in a private network namespace, for the
//! programs' tests (tests/fastpath_programs.rs): a TUN device, an Ethernet
//! uplink (a veth pair) on which the usual LAC has a permanent neighbour
//! entry, a second veth pair that is not an uplink, and routes that make
//! the downstream program's route lookup fail in each way it tells apart.
//!
//! The loader and BPF_PROG_TEST_RUN both work in the calling thread's
//! network namespace, and setns moves only the calling thread: each lab
//! runs its closure on a thread of its own that entered the namespace.

#![allow(dead_code)]

pub mod cases;
pub mod checks;
pub mod frames;
pub mod mutate;
pub mod oracle;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipnetwork::Ipv4Network;
use l2tpns::daemon::fastpath::{
    FastCounters, FastPath, FastPathConfig, FastSession, PassReason, TestProgram,
};
use l2tpns::dataplane::{SessionCounters, SessionEntry, SessionKey, SessionTable, TableUpdate};
use l2tpns::tun::Tun;

use crate::common::Netns;
use frames::Encap;

/// Verdicts (linux/pkt_cls.h).
pub const TC_ACT_OK: u32 = 0;
pub const TC_ACT_SHOT: u32 = 2;
pub const TC_ACT_REDIRECT: u32 = 7;

pub const L2TP_PORT: u16 = 1701;
pub const TUN: &str = "fpt0";
pub const TUN_ADDR: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
/// Above 2048 so that a UDP checksum too long to verify can be reached
/// below the TUN MTU, and below what BPF_PROG_TEST_RUN takes (a page).
pub const TUN_MTU: u32 = 3000;
pub const UPLINK: &str = "fpup0";
pub const UPLINK_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];
/// The uplink's other end: the wire, as the LAC's side sees it.
pub const UPLINK_PEER: &str = "fpup1";
pub const UPLINK_PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfd];
/// The uplink's MTU: outer packets beyond it need fragmenting.
pub const UPLINK_MTU: usize = 1500;
/// The uplink's address: where LACs send to, the outer source downstream.
pub const OUR_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 254);
/// A second address on the uplink, for bind_address.
pub const BIND_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 250);
/// The usual LAC: on the uplink, with a permanent neighbour entry.
pub const LAC: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 1701);
pub const LAC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x01];
/// On the uplink's subnet, without a neighbour entry.
pub const UNRESOLVED_LAC: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 77), 1701);
pub const OTHER: &str = "fpoth0";
pub const OTHER_PEER: &str = "fpoth1";
/// Behind a device that is not an uplink (with a neighbour entry there).
pub const OFF_UPLINK_LAC: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 1), 1701);
pub const BLACKHOLE_LAC: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 1), 1701);
pub const UNREACHABLE_LAC: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 129), 1701);
pub const PROHIBITED_LAC: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(100, 64, 0, 1), 1701);
/// No route at all: nothing in the namespace covers it.
pub const UNROUTED_LAC: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(100, 65, 0, 1), 1701);
/// On this host: the downstream program delivers through lo's ingress,
/// if a socket is there to take it.
pub const LOCAL_LAC: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 1702);
/// On this host at the uplink's own address.
pub const OWN_ADDRESS_LAC: SocketAddrV4 = SocketAddrV4::new(OUR_ADDR, 1703);

/// BPF_PROG_TEST_RUN builds the skb on lo, whose address is all zero:
/// only this destination makes a frame "to us" (PACKET_HOST).
pub const TO_US: [u8; 6] = [0; 6];

pub const fn key(tunnel: u16, session: u16) -> SessionKey {
    SessionKey { tunnel, session }
}

/// A session whose peer ids are recognisably derived from ours.
pub fn session(
    k: SessionKey,
    address: [u8; 4],
    lac: SocketAddrV4,
    routes: &[&str],
    mru: u16,
) -> FastSession {
    FastSession {
        key: k,
        peer: lac,
        peer_tunnel: 0x1000 + k.tunnel,
        peer_session: 0x2000 + k.session,
        address: Ipv4Addr::from(address),
        routes: routes.iter().map(|r| r.parse().expect("route")).collect(),
        mru,
    }
}

/// The userspace data plane's table with the same sessions (anti-spoofing
/// on, as by default): the oracle for what the programs forward.
pub fn oracle_table(sessions: &[FastSession]) -> SessionTable {
    let mut t = SessionTable::new();
    for s in sessions {
        t.apply(TableUpdate::Upsert(SessionEntry {
            key: s.key,
            peer: (s.peer).into(),
            peer_tunnel: s.peer_tunnel,
            peer_session: s.peer_session,
            address: s.address,
            routes: s.routes.clone(),
            mru: s.mru,
            anti_spoof: true,
            packet_limit: 0,
            down_window: Default::default(),
            policy: Default::default(),
            dns: [None, None],
            counters: Arc::new(SessionCounters::new()),
        }));
    }
    t
}

/// What the downstream program must write for `s`, whose LAC is [`LAC`]
/// (or another host on the uplink) or on this host.
pub fn encap_for(s: &FastSession, bind: Option<Ipv4Addr>) -> Encap {
    let ip = *s.peer.ip();
    let local = ip.is_loopback() || ip == OUR_ADDR || ip == BIND_ADDR;
    Encap {
        // Local delivery has no link layer to address: all zero.
        dmac: if local { [0; 6] } else { LAC_MAC },
        smac: if local { [0; 6] } else { UPLINK_MAC },
        src: bind.unwrap_or(if local { *s.peer.ip() } else { OUR_ADDR }),
        lac: s.peer,
        peer_tunnel: s.peer_tunnel,
        peer_session: s.peer_session,
    }
}

/// The fast path started in a fresh namespace, on the thread that entered it.
pub struct Lab<'a> {
    pub fp: FastPath,
    pub ns: &'a Netns,
    /// Opened and configured as the daemon does; closing it removes it.
    pub tun: Tun,
}

/// Run `f` with the fast path started in a fresh namespace (`bind`: its
/// bind_address) and `sessions` upserted, capacity exactly for them.
/// FastPath::start failing (NotBuilt included) fails the test.
pub fn with_lab<T: Send>(
    bind: Option<Ipv4Addr>,
    sessions: &[FastSession],
    f: impl FnOnce(&mut Lab) -> T + Send,
) -> T {
    start_lab(bind, true, sessions, None, f)
}

/// As [`with_lab`], without bind_address, with room for `capacity`
/// sessions (benches/fastpath_storm.rs adds and removes its own).
pub fn with_lab_capacity<T: Send>(
    capacity: u32,
    sessions: &[FastSession],
    f: impl FnOnce(&mut Lab) -> T + Send,
) -> T {
    start_lab(None, true, sessions, Some(capacity), f)
}

/// As [`with_lab`], without bind_address, where lo refuses a local source
/// (so downstream to a LAC on this host cannot go through it).
pub fn with_lab_where_lo_refuses_local_sources<T: Send>(
    sessions: &[FastSession],
    f: impl FnOnce(&mut Lab) -> T + Send,
) -> T {
    start_lab(None, false, sessions, None, f)
}

fn start_lab<T: Send>(
    bind: Option<Ipv4Addr>,
    lo_takes_local_sources: bool,
    sessions: &[FastSession],
    capacity: Option<u32>,
    f: impl FnOnce(&mut Lab) -> T + Send,
) -> T {
    let ns = Netns::new();
    set_up(&ns, lo_takes_local_sources);
    let path = format!("/run/netns/{}", ns.name);
    let outcome = std::thread::scope(|s| {
        s.spawn(|| {
            enter(&path);
            let tun = Tun::open(TUN).expect("open the TUN device");
            tun.configure(TUN_ADDR, TUN_MTU)
                .expect("configure the TUN device");
            let tun_ifindex = ifindex(TUN);
            let cfg = FastPathConfig {
                tun_ifindex,
                tun_name: TUN.to_string(),
                uplinks: vec![UPLINK.to_string()],
                port: L2TP_PORT,
                local: bind,
                capacity: capacity
                    .unwrap_or_else(|| u32::try_from(sessions.len().max(1)).expect("capacity")),
            };
            let fp = FastPath::start(&cfg).unwrap_or_else(|e| panic!("FastPath::start: {e}"));
            let mut lab = Lab { fp, ns: &ns, tun };
            for s in sessions {
                lab.fp
                    .upsert(s)
                    .unwrap_or_else(|e| panic!("upsert {:?}: {e}", s.key));
            }
            f(&mut lab)
        })
        .join()
    });
    outcome.unwrap_or_else(|p| std::panic::resume_unwind(p))
}

fn set_up(ns: &Netns, lo_takes_local_sources: bool) {
    // No IPv6: the kernel's own router solicitations and MLD reports out of
    // the TUN would meet the downstream program at random moments.
    for conf in ["all", "default"] {
        ns.exec_ok(&[
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{conf}.disable_ipv6=1"),
        ]);
    }
    let ip = |args: &str| {
        let mut argv = vec!["ip"];
        argv.extend(args.split_whitespace());
        ns.exec_ok(&argv);
    };
    let mac = |m: [u8; 6]| {
        m.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    ip(&format!(
        "link add {UPLINK} address {} mtu {UPLINK_MTU} type veth peer name {UPLINK_PEER} address {}",
        mac(UPLINK_MAC),
        mac(UPLINK_PEER_MAC)
    ));
    ip(&format!("addr add {OUR_ADDR}/24 dev {UPLINK}"));
    ip(&format!("addr add {BIND_ADDR}/32 dev {UPLINK}"));
    ip(&format!("link set {UPLINK} up"));
    ip(&format!("link set {UPLINK_PEER} up"));
    ip(&format!(
        "neigh replace {} lladdr {} dev {UPLINK} nud permanent",
        LAC.ip(),
        mac(LAC_MAC)
    ));
    for c in other_device() {
        ip(&c);
    }
    ip("route add blackhole 203.0.113.0/25");
    ip("route add unreachable 203.0.113.128/25");
    ip("route add prohibit 100.64.0.0/24");
    // The downstream route lookup is a forwarding lookup (from lo): an LNS
    // forwards anyway, a fresh namespace does not.
    ns.exec_ok(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    // Delivery to a LAC on this host goes through lo's ingress, which takes
    // a local source only with both of these (read at start).
    let on = u8::from(lo_takes_local_sources);
    for conf in ["all", "lo"] {
        for what in ["accept_local", "route_localnet"] {
            let setting = format!(
                "net.ipv4.conf.{conf}.{what}={}",
                if conf == "lo" { on } else { 0 }
            );
            ns.exec_ok(&["sysctl", "-qw", &setting]);
        }
    }
}

/// The `ip` commands that make [`OTHER`], the device that is not an
/// uplink, with [`OFF_UPLINK_LAC`]'s neighbour entry behind it (at set-up,
/// and again when a test makes it anew).
pub fn other_device() -> Vec<String> {
    vec![
        format!("link add {OTHER} type veth peer name {OTHER_PEER}"),
        format!("addr add 198.51.100.254/24 dev {OTHER}"),
        format!("link set {OTHER} up"),
        format!("link set {OTHER_PEER} up"),
        format!(
            "neigh replace {} lladdr 02:00:00:00:02:01 dev {OTHER} nud permanent",
            OFF_UPLINK_LAC.ip()
        ),
    ]
}

/// Move this thread into the namespace at `path`.
pub fn enter(path: &str) {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // SAFETY: setns on a valid namespace fd; it moves only this thread.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
}

pub fn ifindex(name: &str) -> u32 {
    let c = std::ffi::CString::new(name).expect("name");
    // SAFETY: a NUL-terminated name.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    assert_ne!(
        i,
        0,
        "no device {name}: {}",
        std::io::Error::last_os_error()
    );
    i
}

impl Lab<'_> {
    /// One BPF_PROG_TEST_RUN: the verdict and the frame as the program left it.
    pub fn run(
        &self,
        program: TestProgram,
        frame: &[u8],
        gso: Option<(u32, u32)>,
    ) -> (u32, Vec<u8>) {
        self.fp
            .test_run(program, frame, gso)
            .unwrap_or_else(|e| panic!("test_run {program:?} on {}: {e}", frames::hex(frame)))
    }

    /// As [`Lab::run`], None for a frame BPF_PROG_TEST_RUN refuses.
    pub fn try_run(&self, program: TestProgram, frame: &[u8]) -> Option<(u32, Vec<u8>)> {
        self.fp.test_run(program, frame, None).ok()
    }

    /// The pass counters, indexed by reason.
    pub fn passed(&self) -> Vec<u64> {
        let all = self.fp.passed();
        assert_eq!(all.len(), PassReason::COUNT);
        for (i, (r, _)) in all.iter().enumerate() {
            assert_eq!(*r as usize, i, "passed() out of order");
        }
        all.into_iter().map(|(_, n)| n).collect()
    }

    /// The session's slot: up packets, up bytes, down packets, down bytes.
    pub fn forwarded(&self, k: SessionKey) -> [u64; 4] {
        let c = self
            .fp
            .slot_counters(k)
            .unwrap_or_else(|| panic!("{k:?} has no slot"))
            .1;
        self.forwarded_slot(c)
    }

    /// A slot's counts, whoever holds it now.
    pub fn forwarded_slot(&self, c: &FastCounters) -> [u64; 4] {
        use std::sync::atomic::Ordering::Relaxed;
        [&c.up_packets, &c.up_bytes, &c.down_packets, &c.down_bytes].map(|a| a.load(Relaxed))
    }

    pub fn exec(&self, argv: &[&str]) {
        self.ns.exec_ok(argv);
    }
}

/// BPF_PROG_TEST_RUN (Linux 6.18 at least) refuses an IPv4 or IPv6 frame
/// shorter than the network header: the programs never see those here.
pub fn refused_by_test_run(frame: &[u8]) -> bool {
    match frames::be16(frame, 12) {
        frames::ETHERTYPE_IPV4 => frame.len() < frames::ETH_LEN + 20,
        frames::ETHERTYPE_IPV6 => frame.len() < frames::ETH_LEN + 40,
        _ => false,
    }
}

/// `after - before`, per reason; only the reasons that moved.
pub fn moved(before: &[u64], after: &[u64]) -> Vec<(PassReason, u64)> {
    PassReason::ALL
        .iter()
        .zip(before.iter().zip(after))
        .filter(|(_, (b, a))| a != b)
        .map(|(r, (b, a))| (*r, a - b))
        .collect()
}

pub fn network(s: &str) -> Ipv4Network {
    s.parse().expect("network")
}

/// A raw AF_PACKET socket on one device: whole Ethernet frames out, and
/// the frames the device receives in.
pub struct PacketSocket(OwnedFd);

const ETH_P_ALL_BE: u16 = (libc::ETH_P_ALL as u16).to_be();

impl PacketSocket {
    pub fn bind(device: &str) -> PacketSocket {
        // SAFETY: plain socket(2); the fd is owned right away.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_ALL_BE),
            )
        };
        assert!(
            fd >= 0,
            "AF_PACKET socket: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL_BE;
        sll.sll_ifindex = ifindex(device) as i32;
        // SAFETY: binding our socket to a sockaddr_ll of the right size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(
            rc,
            0,
            "bind to {device}: {}",
            std::io::Error::last_os_error()
        );
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 100_000,
        };
        // SAFETY: SO_RCVTIMEO takes a timeval.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        assert_eq!(rc, 0, "SO_RCVTIMEO: {}", std::io::Error::last_os_error());
        PacketSocket(fd)
    }

    pub fn send(&self, frame: &[u8]) {
        // SAFETY: sending from a buffer we own, on our socket.
        let n = unsafe { libc::send(self.0.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        assert_eq!(
            n,
            frame.len() as isize,
            "send: {}",
            std::io::Error::last_os_error()
        );
    }

    /// The first frame received (not sent) by the device within `limit`
    /// for which `wanted` holds.
    pub fn receive(&self, limit: Duration, wanted: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
        let deadline = Instant::now() + limit;
        let mut buf = vec![0u8; 65536];
        while Instant::now() < deadline {
            // SAFETY: all-zero is a valid sockaddr_ll.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            // SAFETY: receiving into buffers we own, with their sizes.
            let n = unsafe {
                libc::recvfrom(
                    self.0.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&mut sll as *mut libc::sockaddr_ll).cast(),
                    &mut len,
                )
            };
            if n <= 0 || sll.sll_pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            let frame = &buf[..n as usize];
            if wanted(frame) {
                return Some(frame.to_vec());
            }
        }
        None
    }
}
