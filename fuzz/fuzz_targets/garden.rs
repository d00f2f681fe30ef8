//! The walled garden: the garden file's parser on any text, then the
//! verdict and the portal translation on any packet, both ways. Nothing
//! may panic; a translated packet must stay a valid IPv4 packet.
#![no_main]

use std::net::{Ipv4Addr, SocketAddrV4};

use l2tpns::dataplane::garden::{Garden, GardenVerdict};
use l2tpns::dataplane::garden_nat::GardenNat;
use l2tpns::dataplane::ipv4;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let (text, packet) = data.split_at(split);
    let (rules, _errors) = Garden::parse(&String::from_utf8_lossy(text));
    let portal = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 80), 8080);
    let garden = Garden {
        rules,
        redirect: Some(portal),
    };
    let dns = [Some(Ipv4Addr::new(10, 0, 0, 53)), None];
    let mut nat = GardenNat::default();
    let mut p = packet.to_vec();
    if let GardenVerdict::Redirect(to) = garden.judge(&dns, &p) {
        if nat.redirect(&mut p, to, 1) {
            assert!(ipv4::check(&p).is_ok());
        }
    }
    // The same bytes as the portal's answer.
    let mut q = packet.to_vec();
    if nat.reverse(&mut q, portal, 2) {
        assert!(ipv4::check(&q).is_ok());
    }
});
