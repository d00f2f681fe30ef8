//! The plugins that ship with the daemon, registered by the name
//! `load plugin NAME` uses (l2tpns's .so names). Each file holds one plugin;
//! the trait and its API are in src/plugin.rs.

mod sessionctl;
mod setrxspeed;
mod stripdomain;

use crate::plugin::Plugin;

/// Every plugin `load plugin` can name.
pub const AVAILABLE: &[&str] = &["sessionctl", "setrxspeed", "stripdomain"];

pub fn create(name: &str) -> Option<Box<dyn Plugin>> {
    match name {
        "sessionctl" => Some(Box::new(sessionctl::SessionCtl)),
        "setrxspeed" => Some(Box::new(setrxspeed::SetRxSpeed)),
        "stripdomain" => Some(Box::new(stripdomain::StripDomain)),
        _ => None,
    }
}
