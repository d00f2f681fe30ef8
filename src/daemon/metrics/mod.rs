//! Prometheus metrics (`metrics_address`): a small HTTP server on a thread
//! of its own serves `GET /metrics` in the text exposition format.
//!
//! The control plane's state (tunnels, sessions, logins, RADIUS) belongs to
//! the control loop, so a scrape asks it for a [`ControlSnapshot`] over a
//! channel: the loop's part is one pass over its tables, nothing else. The
//! data plane's counters are atomics and the kernel's are syscalls: the
//! metrics thread reads those itself, and encodes and writes the answer, so
//! a slow or hostile client never holds the control loop.

mod encode;
mod http;
mod snapshot;

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::control::ControlPlane;

pub use self::encode::render;
pub use self::http::{bind, spawn, DataSources};
pub use self::snapshot::{ControlSnapshot, DataSnapshot, RadiusServer, Snapshot};

/// One scrape's question to the control loop.
pub struct ScrapeRequest(oneshot::Sender<ControlSnapshot>);

impl ScrapeRequest {
    /// Runs in the control loop: take the snapshot and hand it back.
    pub fn answer(self, cp: &ControlPlane) {
        let (started, cpu) = (Instant::now(), thread_cpu_time());
        let mut snap = ControlSnapshot::take(cp);
        snap.took = started.elapsed();
        snap.took_cpu = thread_cpu_time().saturating_sub(cpu);
        // The scrape may have given up waiting: nothing to do then.
        let _ = self.0.send(snap);
    }
}

/// CPU time of the calling thread: the snapshot's own cost, apart from
/// the time the loop's thread was descheduled (wall time has both).
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// The control loop's end of the scrape channel.
pub struct Scrapes(Option<mpsc::Receiver<ScrapeRequest>>);

impl Scrapes {
    /// No endpoint configured: `next` never yields.
    pub fn off() -> Scrapes {
        Scrapes(None)
    }

    /// The next scrape; pends forever once the endpoint is gone (a closed
    /// channel must not wake the loop again and again). Cancel-safe.
    pub async fn next(&mut self) -> ScrapeRequest {
        if let Some(rx) = &mut self.0 {
            if let Some(r) = rx.recv().await {
                return r;
            }
            self.0 = None;
        }
        std::future::pending().await
    }
}

/// A scrape channel: the sender goes to the HTTP thread.
pub fn channel() -> (mpsc::Sender<ScrapeRequest>, Scrapes) {
    // A few at once at most: more scrapes than that are answered 503.
    let (tx, rx) = mpsc::channel(4);
    (tx, Scrapes(Some(rx)))
}
