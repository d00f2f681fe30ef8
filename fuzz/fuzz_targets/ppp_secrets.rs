//! Fuzz the pppd-style secrets parser and its lookup.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(s) = l2tpns::config::parse_secrets(&text, Path::new("/etc/l2tpns/ppp-secrets")) {
        let _ = s.lookup("test", "lns");
    }
});
