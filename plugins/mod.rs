//! The plugins that ship with the daemon, registered by the name
//! `load plugin NAME` uses (l2tpns's .so names). Each file holds one plugin;
//! the trait and its API are in src/plugin.rs.

mod autothrottle;
mod sessionctl;
mod setrxspeed;
mod stripdomain;
mod throttlectl;

use crate::plugin::Plugin;

/// Every plugin `load plugin` can name.
pub const AVAILABLE: &[&str] = &[
    "autothrottle",
    "sessionctl",
    "setrxspeed",
    "stripdomain",
    "throttlectl",
];

pub fn create(name: &str) -> Option<Box<dyn Plugin>> {
    match name {
        "autothrottle" => Some(Box::new(autothrottle::AutoThrottle)),
        "sessionctl" => Some(Box::new(sessionctl::SessionCtl)),
        "setrxspeed" => Some(Box::new(setrxspeed::SetRxSpeed)),
        "stripdomain" => Some(Box::new(stripdomain::StripDomain)),
        "throttlectl" => Some(Box::new(throttlectl::ThrottleCtl)),
        _ => None,
    }
}
