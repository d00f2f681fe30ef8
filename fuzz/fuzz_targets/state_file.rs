//! Fuzz the state file decoder (save_state): any bytes are refused with a
//! reason or decoded, never a panic, never an allocation the input does not
//! pay for (bincode's limit). The MD5 check stops most mutations at the
//! body, so the body decoder is also fed directly, behind a header the
//! target builds itself.
#![no_main]

use l2tpns::daemon::state_file::{decode, encode, Identity};
use libfuzzer_sys::fuzz_target;

fn identity() -> Identity {
    Identity {
        bind_address: None,
        local_address: std::net::Ipv4Addr::new(10, 99, 0, 1),
        mru: 1458,
    }
}

fuzz_target!(|data: &[u8]| {
    let id = identity();
    let _ = decode(data, &id);
    // The same bytes as a body with a valid header: reach the decoder of
    // every saved tunnel, session and accounting request.
    if let Ok(state) = decode_body_directly(data) {
        let bytes = encode(&id, &state).expect("a decoded state encodes");
        assert!(decode(&bytes, &id).is_ok());
    }
});

fn decode_body_directly(data: &[u8]) -> Result<l2tpns::daemon::control::SavedState, ()> {
    let cfg = bincode::config::standard().with_limit::<{ 1 << 20 }>();
    bincode::decode_from_slice(data, cfg)
        .map(|(s, _)| s)
        .map_err(drop)
}
