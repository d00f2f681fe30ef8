//! Downstream steering: each packet the kernel routes into the TUN device
//! goes to the queue (worker) that owns its session, the worker the
//! reuseport program gives that session's upstream datagrams. A session is
//! then handled by one worker both ways, so its per-session state (token
//! buckets, snoop target, garden flag, packet_limit) needs no lock and no
//! atomic per packet.
//!
//! A small eBPF socket-filter program attached with TUNSETSTEERINGEBPF
//! looks the IPv4 destination up in a longest-prefix-match map (session
//! address /32 and Framed-Routes) and returns the worker; the kernel takes
//! it modulo the queues. Anything else (no session, not IPv4) goes to queue
//! 0. The control plane's driver writes the map as it publishes sessions
//! to the workers (`IoDriver::publish`).
//!
//! The program is 22 instructions assembled here and loaded with the
//! bpf(2) system call, as the reuseport program is a hand-assembled
//! classic BPF filter: a loader crate (aya, libbpf-rs) expects an ELF
//! object built by clang, a build-time toolchain this alone does not
//! justify (Docs/ARCHITECTURE.md).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use ipnetwork::Ipv4Network;

/// The worker that owns a session: what the reuseport program computes
/// from an upstream datagram's ids ((tunnel id + session id) mod workers,
/// `udp_options::tunnel_spread_program`). One formula, both directions.
pub fn owner(tunnel: u16, session: u16, workers: u32) -> u32 {
    (u32::from(tunnel) + u32::from(session)) % workers.max(1)
}

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

// Opcodes (linux/bpf.h, linux/bpf_common.h).
const MOV64_REG: u8 = 0xbf;
const MOV64_IMM: u8 = 0xb7;
const ADD64_IMM: u8 = 0x07;
const AND64_IMM: u8 = 0x57;
const LD_ABS_B: u8 = 0x30;
const ST_MEM_W: u8 = 0x62;
const LDX_MEM_W: u8 = 0x61;
const LD_IMM64: u8 = 0x18;
const JEQ_IMM: u8 = 0x15;
const JNE_IMM: u8 = 0x55;
const CALL: u8 = 0x85;
const EXIT: u8 = 0x95;
const PSEUDO_MAP_FD: u8 = 1;
const HELPER_MAP_LOOKUP_ELEM: i32 = 1;
const HELPER_SKB_LOAD_BYTES: i32 = 26;
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R6: u8 = 6;
const FP: u8 = 10;

/// The steering program for the LPM map `map_fd`: key {prefixlen 32, the
/// destination}, value the worker.
pub fn program(map_fd: RawFd) -> Vec<Insn> {
    const MISS: i16 = 20;
    // `off` of a jump at `at` to MISS (relative to the next instruction).
    let to_miss = |at: i16| MISS - at - 1;
    vec![
        insn(MOV64_REG, R6, R1, 0, 0),          // 0: r6 = skb (LD_ABS reads it)
        insn(LD_ABS_B, 0, 0, 0, 0),             // 1: r0 = version/IHL byte
        insn(AND64_IMM, R0, 0, 0, 0xf0),        // 2
        insn(JNE_IMM, R0, 0, to_miss(3), 0x40), // 3: not IPv4: queue 0
        insn(ST_MEM_W, FP, 0, -8, 32),          // 4: key.prefixlen = 32
        insn(MOV64_REG, R1, R6, 0, 0),          // 5
        insn(MOV64_IMM, R2, 0, 0, 16),          // 6: the destination's offset
        insn(MOV64_REG, R3, FP, 0, 0),          // 7
        insn(ADD64_IMM, R3, 0, 0, -4),          // 8: key.addr
        insn(MOV64_IMM, R4, 0, 0, 4),           // 9
        insn(CALL, 0, 0, 0, HELPER_SKB_LOAD_BYTES), // 10
        insn(JNE_IMM, R0, 0, to_miss(11), 0),   // 11: too short: queue 0
        insn(LD_IMM64, R1, PSEUDO_MAP_FD, 0, map_fd), // 12: r1 = the map
        insn(0, 0, 0, 0, 0),                    // 13: (second half)
        insn(MOV64_REG, R2, FP, 0, 0),          // 14
        insn(ADD64_IMM, R2, 0, 0, -8),          // 15: &key
        insn(CALL, 0, 0, 0, HELPER_MAP_LOOKUP_ELEM), // 16
        insn(JEQ_IMM, R0, 0, to_miss(17), 0),   // 17: no session: queue 0
        insn(LDX_MEM_W, R0, R0, 0, 0),          // 18: r0 = the worker
        insn(EXIT, 0, 0, 0, 0),                 // 19
        insn(MOV64_IMM, R0, 0, 0, 0),           // 20 (MISS)
        insn(EXIT, 0, 0, 0, 0),                 // 21
    ]
}

// bpf(2) commands and types.
const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_MAP_DELETE_ELEM: libc::c_long = 3;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_MAP_TYPE_LPM_TRIE: u32 = 11;
const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;
const BPF_F_NO_PREALLOC: u32 = 1;
/// _IOW('T', 224, int)
const TUNSETSTEERINGEBPF: libc::c_ulong = 0x8004_54e0;

#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
}

#[repr(C)]
#[derive(Default)]
struct MapElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a repr(C) bpf_attr prefix, alive for the call; the
    // kernel reads (and for some commands writes) only its size.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            (attr as *mut T).cast::<libc::c_void>(),
            std::mem::size_of::<T>(),
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// An LPM key: prefix length, then the address in network order.
#[repr(C)]
struct Key {
    prefixlen: u32,
    addr: [u8; 4],
}

impl Key {
    fn of(net: Ipv4Network) -> Key {
        Key {
            prefixlen: u32::from(net.prefix()),
            addr: net.network().octets(),
        }
    }
}

/// The destination -> worker map the program reads.
pub struct SteeringMap {
    fd: OwnedFd,
}

impl SteeringMap {
    /// `max_entries`: session addresses plus Framed-Routes, at most.
    pub fn create(max_entries: u32) -> io::Result<SteeringMap> {
        let mut a = MapCreateAttr {
            map_type: BPF_MAP_TYPE_LPM_TRIE,
            key_size: std::mem::size_of::<Key>() as u32,
            value_size: 4,
            max_entries,
            map_flags: BPF_F_NO_PREALLOC,
            ..MapCreateAttr::default()
        };
        a.map_name[..9].copy_from_slice(b"l2tp_sess");
        let fd = bpf(BPF_MAP_CREATE, &mut a)?;
        // SAFETY: bpf(2) returned a new descriptor that nothing else owns.
        Ok(SteeringMap {
            fd: unsafe { OwnedFd::from_raw_fd(fd as RawFd) },
        })
    }

    /// Packets to `net` go to `worker`.
    pub fn set(&self, net: Ipv4Network, worker: u32) -> io::Result<()> {
        let key = Key::of(net);
        let mut a = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: (&key as *const Key) as u64,
            value: (&worker as *const u32) as u64,
            ..MapElemAttr::default()
        };
        bpf(BPF_MAP_UPDATE_ELEM, &mut a).map(drop)
    }

    /// Packets to `net` go to queue 0 again (no session).
    pub fn remove(&self, net: Ipv4Network) -> io::Result<()> {
        let key = Key::of(net);
        let mut a = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: (&key as *const Key) as u64,
            ..MapElemAttr::default()
        };
        match bpf(BPF_MAP_DELETE_ELEM, &mut a) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            r => r.map(drop),
        }
    }

    /// Load the program on this map and attach it to the TUN device of
    /// `tun_fd` (one queue's descriptor: the program is the device's).
    pub fn attach(&self, tun_fd: RawFd) -> io::Result<()> {
        let insns = program(self.fd.as_raw_fd());
        let license = b"GPL\0";
        let mut log = vec![0u8; 64 * 1024];
        let mut a = ProgLoadAttr {
            prog_type: BPF_PROG_TYPE_SOCKET_FILTER,
            insn_cnt: insns.len() as u32,
            insns: insns.as_ptr() as u64,
            license: license.as_ptr() as u64,
            log_level: 1,
            log_size: log.len() as u32,
            log_buf: log.as_mut_ptr() as u64,
            ..ProgLoadAttr::default()
        };
        a.prog_name[..10].copy_from_slice(b"l2tp_steer");
        let prog = match bpf(BPF_PROG_LOAD, &mut a) {
            Ok(fd) => fd as RawFd,
            Err(e) => {
                let end = log.iter().position(|b| *b == 0).unwrap_or(0);
                let why = String::from_utf8_lossy(&log[..end]);
                return Err(io::Error::new(
                    e.kind(),
                    format!("{e}; verifier: {}", why.trim()),
                ));
            }
        };
        // SAFETY: bpf(2) returned a new descriptor that nothing else owns;
        // the device keeps its own reference once attached.
        let prog = unsafe { OwnedFd::from_raw_fd(prog) };
        let raw = prog.as_raw_fd();
        // SAFETY: TUNSETSTEERINGEBPF reads one int through the pointer.
        let rc = unsafe { libc::ioctl(tun_fd, TUNSETSTEERINGEBPF as _, &raw as *const RawFd) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_is_the_reuseport_programs_choice() {
        // (tunnel + session) mod workers, on 32 bits: no 16-bit wrap.
        assert_eq!(owner(1, 1, 2), 0);
        assert_eq!(owner(1, 2, 2), 1);
        assert_eq!(owner(65535, 65535, 3), (65535 * 2) % 3);
        assert_eq!(owner(7, 9, 1), 0);
        assert_eq!(owner(7, 9, 0), 0, "no workers is one worker");
    }

    #[test]
    fn jumps_land_on_the_miss_path_and_the_map_is_a_pseudo_fd() {
        let p = program(42);
        assert_eq!(p.len(), 22);
        for (i, ins) in p.iter().enumerate() {
            if matches!(ins.code, JEQ_IMM | JNE_IMM) {
                assert_eq!(i as i16 + 1 + ins.off, 20, "jump at {i}");
            }
        }
        assert_eq!(p[12].code, LD_IMM64);
        assert_eq!(p[12].regs >> 4, PSEUDO_MAP_FD);
        assert_eq!(p[12].imm, 42);
        assert_eq!(p[20], insn(MOV64_IMM, R0, 0, 0, 0));
        assert_eq!(p.last().map(|i| i.code), Some(EXIT));
    }
}
