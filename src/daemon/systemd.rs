//! systemd's notify protocol (sd_notify(3)): READY, RELOADING, STOPPING and
//! the watchdog, so the unit can be Type=notify (or notify-reload) with
//! WatchdogSec. Every call is a no-op when NOTIFY_SOCKET is unset (started
//! by hand or by the init script).

use std::time::Duration;

use sd_notify::NotifyState;
use tokio::time::{Interval, MissedTickBehavior};
use tracing::warn;

/// Sockets and TUN are up, the control loop is about to run (or a reload
/// is done).
pub fn ready() {
    send(&[NotifyState::Ready]);
}

/// On the way out: systemd then expects the exit, not a crash.
pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

/// Before a SIGHUP reload. Type=notify-reload needs MONOTONIC_USEC with
/// RELOADING=1 to tell this reload from an earlier one.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(e) => {
            warn!("systemd: no monotonic clock ({e})");
            send(&[NotifyState::Reloading]);
        }
    }
}

fn send(state: &[NotifyState]) {
    // systemd gone or the socket full must not stop the LNS.
    if let Err(e) = sd_notify::notify(state) {
        warn!("systemd notify: {e}");
    }
}

/// WATCHDOG=1 at half the interval systemd asked for (sd_watchdog_enabled(3)
/// advises this margin), from the control loop so a hung loop is caught.
pub struct Watchdog {
    every: Option<Interval>,
}

impl Watchdog {
    /// Reads WATCHDOG_USEC and WATCHDOG_PID (another process's watchdog
    /// is not ours). Must run inside the runtime.
    pub fn from_env() -> Watchdog {
        let every = sd_notify::watchdog_enabled()
            .and_then(ping_interval)
            .map(|d| {
                let mut i = tokio::time::interval(d);
                i.set_missed_tick_behavior(MissedTickBehavior::Delay);
                i
            });
        Watchdog { every }
    }

    /// Completes when a ping is due; never when there is no watchdog.
    pub async fn due(&mut self) {
        match &mut self.every {
            Some(i) => {
                i.tick().await;
            }
            None => std::future::pending().await,
        }
    }

    pub fn ping(&self) {
        send(&[NotifyState::Watchdog]);
    }
}

/// Half the watchdog timeout; none for a zero timeout (watchdog off).
fn ping_interval(timeout: Duration) -> Option<Duration> {
    Some(timeout / 2).filter(|d| !d.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_at_half_the_timeout() {
        assert_eq!(
            ping_interval(Duration::from_secs(30)),
            Some(Duration::from_secs(15))
        );
        assert_eq!(ping_interval(Duration::ZERO), None);
    }
}
