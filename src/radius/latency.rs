//! Reply latency of one RADIUS server: from the try that was answered to
//! its valid reply. A Prometheus histogram (shared handle: the control
//! plane records, the metrics endpoint reads without asking the loop).

use std::time::Duration;

use prometheus_client::metrics::histogram::Histogram;

/// Seconds: a LAN server answers in a millisecond, a loaded or remote one
/// in tens to hundreds; past `radius_timeout` (3 s) the request was resent.
pub const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Clone)]
pub struct ReplyLatency(Histogram);

impl Default for ReplyLatency {
    fn default() -> Self {
        ReplyLatency(Histogram::new(BUCKETS))
    }
}

impl ReplyLatency {
    pub fn observe(&self, d: Duration) {
        self.0.observe(d.as_secs_f64());
    }

    /// The histogram to encode (a handle on the same counts).
    pub fn histogram(&self) -> &Histogram {
        &self.0
    }
}
