//! The plugins that ship with the daemon, registered by the name
//! `load plugin NAME` uses (l2tpns's .so names). Each file holds one plugin;
//! the trait and its API are in src/plugin.rs.

mod autosnoop;
mod autothrottle;
mod common;
mod garden;
mod sessionctl;
mod setrxspeed;
mod snoopctl;
mod stripdomain;
mod throttlectl;

use crate::plugin::Plugin;

/// Every plugin `load plugin` can name.
pub const AVAILABLE: &[&str] = &[
    "autosnoop",
    "autothrottle",
    "garden",
    "sessionctl",
    "setrxspeed",
    "snoopctl",
    "stripdomain",
    "throttlectl",
];

pub fn create(name: &str) -> Option<Box<dyn Plugin>> {
    match name {
        "autosnoop" => Some(Box::new(autosnoop::AutoSnoop)),
        "autothrottle" => Some(Box::new(autothrottle::AutoThrottle)),
        "garden" => Some(Box::new(garden::Garden)),
        "sessionctl" => Some(Box::new(sessionctl::SessionCtl)),
        "setrxspeed" => Some(Box::new(setrxspeed::SetRxSpeed)),
        "snoopctl" => Some(Box::new(snoopctl::SnoopCtl)),
        "stripdomain" => Some(Box::new(stripdomain::StripDomain)),
        "throttlectl" => Some(Box::new(throttlectl::ThrottleCtl)),
        _ => None,
    }
}
