//! The control plane's deadlines (`l2tpns::timers`) in the pattern of
//! established sessions with traffic: every session's echo check comes
//! round once per echo_timeout and is re-armed one echo_timeout on.
//! Reported per check, at 1,000 and 100,000 sessions (it must not grow
//! with them: at 100,000 it runs 10,000 times a second).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use l2tpns::timers::Timers;
use std::time::{Duration, Instant};

/// The default echo_timeout.
const ECHO: Duration = Duration::from_secs(10);
/// The control loop's wake-up step under load (its timer slack).
const STEP: Duration = Duration::from_millis(10);

fn echo_checks(c: &mut Criterion) {
    let mut g = c.benchmark_group("timers_echo_check");
    for sessions in [1_000u32, 100_000] {
        // Deadlines spread over one echo_timeout, as logins spread them.
        let t0 = Instant::now();
        let mut timers = Timers::default();
        for k in 0..sessions {
            timers.set(k, Some(t0 + ECHO * k / sessions));
        }
        let mut now = t0;
        // One step's worth of checks per iteration.
        let per_step =
            (u64::from(sessions) * STEP.as_millis() as u64 / ECHO.as_millis() as u64).max(1);
        g.throughput(Throughput::Elements(per_step));
        g.bench_with_input(BenchmarkId::from_parameter(sessions), &sessions, |b, _| {
            b.iter(|| {
                now += STEP;
                for k in timers.expired(now) {
                    timers.set(black_box(k), Some(now + ECHO));
                }
                black_box(timers.next())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, echo_checks);
criterion_main!(benches);
