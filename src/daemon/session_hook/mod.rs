//! `session_hook`: an operator's executable run as `PATH up` when a
//! session's network comes up and `PATH down` when it ends, with the
//! session's facts in its environment (Docs/HOOKS.md), like pppd's
//! ip-up/ip-down.
//!
//! The control plane only says what happened (`Io::RunHook` with the
//! `SessionFacts`); the driver hands it to the `HookRunner`, whose thread
//! starts, times out, reaps and logs the runs. Nothing here ever makes the
//! control loop or a data-plane worker wait for a script.

mod child;
mod facts;
mod runner;

use std::path::PathBuf;
use std::time::Duration;

pub use self::facts::{Ended, HookEvent, SessionFacts};
pub use self::runner::{HookCounts, HookRunner, HookStats, QUEUE_CAPACITY};

/// What the startup-config says of the hook (rebuilt at each reload; each
/// run carries the one in force when it was asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSettings {
    pub path: PathBuf,
    /// session_hook_timeout: then the run is killed with SIGKILL.
    pub timeout: Duration,
    /// session_hook_max_running: runs at once; others wait in the queue.
    pub max_running: usize,
}

impl HookSettings {
    /// None when `session_hook` is unset.
    pub fn from_config(cfg: &crate::config::Config) -> Option<HookSettings> {
        Some(HookSettings {
            path: cfg.session_hook.clone()?,
            timeout: Duration::from_secs(u64::from(cfg.session_hook_timeout.max(1))),
            max_running: cfg.session_hook_max_running.max(1) as usize,
        })
    }
}
