//! Benchmark traffic that a bench can switch, in the middle of one run,
//! between the LNS and a decoy where the kernel drops it as it would at a
//! stopped LNS: SIGUSR1 sends it to the decoy, SIGUSR2 back.
//! benches/paired-cost.sh compares the machine's CPU in the two kinds of
//! window, so what the LNS adds per packet is measured with everything
//! else (the generator, the sessions' keepalives, the machine's drift) the
//! same in both.
//!
//! - Upstream (`--decoy-port`): the LNS's address at another port, where
//!   a socket nobody reads is full. While the option is given every packet
//!   names its destination, in both kinds of window, so the generator's
//!   own cost is the same in each (a connected socket's send skips the
//!   route lookup that a named one does).
//! - Downstream (`source --decoy-to`): one address routed to a TUN device
//!   nobody reads, instead of each session's.

use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, Ordering};

static TO_DECOY: AtomicBool = AtomicBool::new(false);

extern "C" fn to_decoy(_: libc::c_int) {
    TO_DECOY.store(true, Ordering::Relaxed);
}

extern "C" fn to_lns(_: libc::c_int) {
    TO_DECOY.store(false, Ordering::Relaxed);
}

/// Catch SIGUSR1 and SIGUSR2 (once the traffic starts: before it, they
/// would end the process, as they do without the option).
pub fn catch_switch_signals() {
    // SAFETY: the handlers only store to an atomic (async-signal-safe).
    unsafe {
        libc::signal(libc::SIGUSR1, to_decoy as *const () as libc::sighandler_t);
        libc::signal(libc::SIGUSR2, to_lns as *const () as libc::sighandler_t);
    }
}

/// Switched to the decoy (SIGUSR1 last)?
pub fn switched() -> bool {
    TO_DECOY.load(Ordering::Relaxed)
}

/// Where the next batch goes: the LNS, or its decoy port while switched.
pub fn destination(lns: SocketAddrV4, decoy_port: u16) -> SocketAddrV4 {
    destination_when(switched(), lns, decoy_port)
}

fn destination_when(decoy: bool, lns: SocketAddrV4, decoy_port: u16) -> SocketAddrV4 {
    if decoy {
        SocketAddrV4::new(*lns.ip(), decoy_port)
    } else {
        lns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decoy_is_the_same_address_at_its_own_port() {
        let lns: SocketAddrV4 = "127.0.0.1:1701".parse().unwrap();
        assert_eq!(destination_when(false, lns, 1799), lns);
        assert_eq!(
            destination_when(true, lns, 1799),
            "127.0.0.1:1799".parse::<SocketAddrV4>().unwrap()
        );
    }
}
