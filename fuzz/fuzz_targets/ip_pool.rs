//! Fuzz the ip_pool parser and build a pool from what it accepts.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::net::Ipv4Addr;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let bind = Some(Ipv4Addr::new(192, 0, 2, 1));
    if let Ok(spec) = l2tpns::config::parse_ip_pool(&text, Path::new("/etc/l2tpns/ip_pool"), bind) {
        let mut pool = l2tpns::pool::AddressPool::from_spec(&spec);
        if let Some(a) = pool.allocate("fuzz") {
            pool.release(a);
        }
    }
});
