//! Fuzz the startup-config parser (and `set`/`get` round trip) on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(cfg) = l2tpns::config::Config::parse(&text, Path::new("/etc/l2tpns/startup-config")) {
        let _ = cfg.not_implemented_set();
        // What we print must load again.
        let again = cfg.running_config().join("\n");
        let _ = l2tpns::config::Config::parse(&again, Path::new("/etc/l2tpns/startup-config"));
    }
});
