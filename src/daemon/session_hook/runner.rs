//! The hook runner: a thread of its own with a small tokio runtime that
//! starts the runs the driver hands over, at most `session_hook_max_running`
//! at once, the others waiting in a bounded queue (beyond it a run is
//! dropped and counted). Runs of one session, and runs for one address,
//! start in the order they were asked for and never overlap: a session's
//! `down` waits for its `up`, and a new session's `up` for the `down` of
//! the session that had its address before. Counting and logging happen
//! here, once per run; a failure is logged at warning level once per kind.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{debug, error, warn};

use super::child::{self, Finished, Outcome};
use super::{HookSettings, SessionFacts};

/// Runs waiting for a slot (or for an earlier run of their session or
/// address), at most.
pub const QUEUE_CAPACITY: usize = 4096;

/// Distinct failure kinds logged at warning level, at most (a hook that
/// fails in ever new ways must not grow the daemon).
const REPORTED_KINDS: usize = 256;

/// Counters since start-up (`hooks_*` in the status line,
/// l2tpns_session_hook_* in the metrics), and two gauges.
#[derive(Debug, Default)]
pub struct HookStats {
    pub started: AtomicU64,
    pub succeeded: AtomicU64,
    /// Non-zero exit (or killed by someone else's signal).
    pub failed: AtomicU64,
    pub timed_out: AtomicU64,
    pub failed_to_start: AtomicU64,
    /// The queue was full.
    pub dropped: AtomicU64,
    pub running: AtomicU64,
    pub queued: AtomicU64,
}

/// The figures of `HookStats` at one instant.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HookCounts {
    pub started: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub failed_to_start: u64,
    pub dropped: u64,
    pub running: u64,
    pub queued: u64,
}

impl HookStats {
    pub fn counts(&self) -> HookCounts {
        HookCounts {
            started: self.started.load(Relaxed),
            succeeded: self.succeeded.load(Relaxed),
            failed: self.failed.load(Relaxed),
            timed_out: self.timed_out.load(Relaxed),
            failed_to_start: self.failed_to_start.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            running: self.running.load(Relaxed),
            queued: self.queued.load(Relaxed),
        }
    }
}

/// One run asked for.
struct Job {
    hook: Arc<HookSettings>,
    facts: Box<SessionFacts>,
}

/// What orders runs: one session's, one address's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum OrderKey {
    Session(u16, u16),
    Address(Ipv4Addr),
}

impl Job {
    fn keys(&self) -> [OrderKey; 2] {
        let f = &self.facts;
        [
            OrderKey::Session(f.tunnel, f.session),
            OrderKey::Address(f.address),
        ]
    }
}

/// Between the driver's thread and the runner's.
struct Shared {
    stats: Arc<HookStats>,
    /// session_hook_max_running of the newest run asked for (a reload
    /// changes it for what starts next).
    max_running: AtomicUsize,
}

/// The driver's handle: `submit` never blocks.
pub struct HookRunner {
    shared: Arc<Shared>,
    capacity: usize,
    /// The runner thread's queue; the thread starts with the first run.
    tx: Option<mpsc::UnboundedSender<Job>>,
    /// A full queue was logged; quiet until it has drained.
    full_logged: bool,
}

impl HookRunner {
    pub fn new(stats: Arc<HookStats>) -> HookRunner {
        HookRunner::with_capacity(stats, QUEUE_CAPACITY)
    }

    pub fn with_capacity(stats: Arc<HookStats>, capacity: usize) -> HookRunner {
        HookRunner {
            shared: Arc::new(Shared {
                stats,
                max_running: AtomicUsize::new(1),
            }),
            capacity,
            tx: None,
            full_logged: false,
        }
    }

    pub fn stats(&self) -> &Arc<HookStats> {
        &self.shared.stats
    }

    /// Queue a run of `hook` for `facts`; dropped (counted, logged once
    /// per episode) when the queue is full.
    pub fn submit(&mut self, hook: Arc<HookSettings>, facts: Box<SessionFacts>) {
        let stats = self.shared.stats.clone();
        // The driver is the only one that adds, so no other can race us
        // past the capacity between the load and the add.
        let queued = stats.queued.load(Relaxed) as usize;
        if queued >= self.capacity {
            stats.dropped.fetch_add(1, Relaxed);
            if !self.full_logged {
                self.full_logged = true;
                warn!(
                    tunnel = facts.tunnel,
                    session = facts.session,
                    user = %facts.user,
                    "session_hook: {queued} runs already wait for one of session_hook_max_running ({}) slots: dropping this {} run and others until the queue drains (counted as hooks_dropped)",
                    hook.max_running,
                    facts.event.name()
                );
            }
            return;
        }
        if queued == 0 {
            self.full_logged = false;
        }
        self.shared
            .max_running
            .store(hook.max_running.max(1), Relaxed);
        let Some(tx) = self.sender() else {
            stats.failed_to_start.fetch_add(1, Relaxed);
            return;
        };
        stats.queued.fetch_add(1, Relaxed);
        if tx.send(Job { hook, facts }).is_err() {
            stats.queued.fetch_sub(1, Relaxed);
            stats.failed_to_start.fetch_add(1, Relaxed);
        }
    }

    /// The runner thread's queue, starting the thread the first time.
    fn sender(&mut self) -> Option<&mpsc::UnboundedSender<Job>> {
        if self.tx.is_none() {
            let (tx, rx) = mpsc::unbounded_channel();
            let shared = self.shared.clone();
            let spawned = std::thread::Builder::new()
                .name("hooks".into())
                .spawn(move || {
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt.block_on(dispatch(rx, shared)),
                        Err(e) => error!("session_hook: runtime: {e}: no hook will run"),
                    }
                });
            match spawned {
                Ok(_) => self.tx = Some(tx),
                Err(e) => error!("session_hook: cannot start its thread: {e}"),
            }
        }
        self.tx.as_ref()
    }

    /// Wait, at most `limit`, until no run is queued or running (at
    /// shutdown: `down` runs of the last sessions). True when idle.
    pub fn wait_idle(&self, limit: Duration) -> bool {
        let t0 = Instant::now();
        loop {
            let c = self.shared.stats.counts();
            if c.queued == 0 && c.running == 0 {
                return true;
            }
            if t0.elapsed() >= limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One finished run, for counting and the log.
struct Report {
    hook: Arc<HookSettings>,
    facts: Box<SessionFacts>,
    finished: Finished,
}

/// The runner thread: take runs, start those whose turn it is, record
/// those that finish; returns when the driver is gone and all are done.
async fn dispatch(mut rx: mpsc::UnboundedReceiver<Job>, shared: Arc<Shared>) {
    let mut pending: VecDeque<Job> = VecDeque::new();
    let mut busy: HashMap<tokio::task::Id, [OrderKey; 2]> = HashMap::new();
    let mut running: JoinSet<Report> = JoinSet::new();
    let mut reported: HashSet<String> = HashSet::new();
    let mut open = true;
    loop {
        start_ready(&mut pending, &mut busy, &mut running, &shared);
        tokio::select! {
            job = rx.recv(), if open => match job {
                Some(j) => {
                    pending.push_back(j);
                    // All that waits, so that each start sees the whole queue.
                    while let Ok(j) = rx.try_recv() {
                        pending.push_back(j);
                    }
                }
                None => open = false,
            },
            Some(done) = running.join_next_with_id() => {
                let id = match &done {
                    Ok((id, _)) => *id,
                    Err(e) => e.id(),
                };
                busy.remove(&id);
                match done {
                    Ok((_, report)) => record(&shared.stats, &mut reported, report),
                    Err(e) => {
                        // Not expected: a run's task never panics.
                        error!("session_hook: a run's task failed: {e}");
                        shared.stats.failed.fetch_add(1, Relaxed);
                    }
                }
                shared.stats.running.fetch_sub(1, Relaxed);
            }
            else => return,
        }
    }
}

/// Start queued runs, oldest first, while slots are free; a run whose
/// session or address has an earlier run running or waiting is skipped
/// (and holds back later runs of its keys).
fn start_ready(
    pending: &mut VecDeque<Job>,
    busy: &mut HashMap<tokio::task::Id, [OrderKey; 2]>,
    running: &mut JoinSet<Report>,
    shared: &Shared,
) {
    let limit = shared.max_running.load(Relaxed).max(1);
    if pending.is_empty() || running.len() >= limit {
        return;
    }
    let in_use: HashSet<OrderKey> = busy.values().flatten().copied().collect();
    let mut held: HashSet<OrderKey> = HashSet::new();
    let mut i = 0;
    while i < pending.len() && running.len() < limit {
        let keys = pending[i].keys();
        if keys.iter().any(|k| in_use.contains(k) || held.contains(k)) {
            held.extend(keys);
            i += 1;
            continue;
        }
        let Some(job) = pending.remove(i) else { break };
        // Later runs of these keys wait for this one.
        held.extend(keys);
        let stats = &shared.stats;
        stats.queued.fetch_sub(1, Relaxed);
        stats.started.fetch_add(1, Relaxed);
        stats.running.fetch_add(1, Relaxed);
        let handle = running.spawn(async move {
            let env = job.facts.env();
            let finished = child::run(
                &job.hook.path,
                job.facts.event.name(),
                &env,
                job.hook.timeout,
            )
            .await;
            Report {
                hook: job.hook,
                facts: job.facts,
                finished,
            }
        });
        busy.insert(handle.id(), keys);
    }
}

/// Count a finished run and log it: every run at debug level with its
/// output, a failure at warning level the first time it happens so.
fn record(stats: &HookStats, reported: &mut HashSet<String>, r: Report) {
    let (f, path) = (&r.facts, r.hook.path.display());
    let outcome = &r.finished.outcome;
    debug!(
        hook = %path,
        event = f.event.name(),
        tunnel = f.tunnel,
        session = f.session,
        user = %f.user,
        ?outcome,
        took_ms = r.finished.took.as_millis() as u64,
        stdout = %String::from_utf8_lossy(&r.finished.stdout).trim_end(),
        stderr = %String::from_utf8_lossy(&r.finished.stderr).trim_end(),
        "session_hook ran"
    );
    let (counter, kind) = match outcome {
        Outcome::Succeeded => (&stats.succeeded, None),
        Outcome::Failed(why) => (&stats.failed, Some(why.clone())),
        Outcome::TimedOut => (
            &stats.timed_out,
            Some(format!(
                "still running after session_hook_timeout ({} s): killed",
                r.hook.timeout.as_secs()
            )),
        ),
        Outcome::FailedToStart(e) => (&stats.failed_to_start, Some(format!("cannot run: {e}"))),
    };
    counter.fetch_add(1, Relaxed);
    let Some(kind) = kind else { return };
    let key = format!("{path}: {kind}");
    if reported.len() < REPORTED_KINDS && reported.insert(key) {
        let stderr = String::from_utf8_lossy(&r.finished.stderr);
        let first = stderr.lines().next().unwrap_or("");
        warn!(
            hook = %path,
            event = f.event.name(),
            tunnel = f.tunnel,
            session = f.session,
            user = %f.user,
            stderr = first,
            "session_hook {path} {}: {kind} (logged once; later runs like it are only counted)",
            f.event.name()
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::daemon::session_hook::facts::tests::sample;
    use crate::daemon::session_hook::HookEvent;
    use std::path::{Path, PathBuf};

    /// A directory of its own under the system's temp dir, gone on drop.
    pub(crate) struct TempDir(PathBuf);

    impl TempDir {
        pub(crate) fn new(tag: &str) -> TempDir {
            static N: AtomicU64 = AtomicU64::new(0);
            let d = std::env::temp_dir().join(format!(
                "l2tpns-hook-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            TempDir(d)
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// An executable `#!/bin/sh` script `name` in `dir` with `body`.
    pub(crate) fn script(dir: &TempDir, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.path().join(name);
        // Written under another name and renamed: a file still open for
        // writing cannot be executed (ETXTBSY).
        let tmp = dir.path().join(format!(".{name}"));
        std::fs::write(&tmp, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        p
    }

    pub(crate) fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) {
        let t0 = Instant::now();
        while !f() {
            assert!(t0.elapsed() < limit, "not within {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn settings(path: PathBuf, timeout: Duration, max_running: usize) -> Arc<HookSettings> {
        Arc::new(HookSettings {
            path,
            timeout,
            max_running,
        })
    }

    /// Session `n` (its own ids and address) at `event`.
    fn facts(event: HookEvent, n: u16) -> Box<SessionFacts> {
        let mut f = sample(event);
        f.session = n;
        f.address = Ipv4Addr::new(10, 100, 0, n as u8);
        Box::new(f)
    }

    fn lines(p: &Path) -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn the_facts_reach_the_script_as_argument_and_environment() {
        let dir = TempDir::new("env");
        let out = dir.path().join("out");
        let hook = script(
            &dir,
            "hook",
            &format!(
                "echo \"$1 $L2TPNS_USER $L2TPNS_ADDRESS $L2TPNS_SESSION $L2TPNS_CAUSE\" >> {}",
                out.display()
            ),
        );
        let mut r = HookRunner::new(Arc::default());
        let s = settings(hook, Duration::from_secs(10), 4);
        r.submit(s.clone(), facts(HookEvent::Up, 5));
        r.submit(s, facts(HookEvent::Down, 5));
        assert!(r.wait_idle(Duration::from_secs(10)));
        assert_eq!(
            lines(&out),
            [
                "up alice 10.100.0.5 5 ",
                "down alice 10.100.0.5 5 User-Request"
            ]
        );
        let c = r.stats().counts();
        assert_eq!((c.started, c.succeeded, c.running, c.queued), (2, 2, 0, 0));
    }

    #[test]
    fn no_more_than_max_running_at_once() {
        let dir = TempDir::new("concurrency");
        let d = dir.path().display();
        let hook = script(
            &dir,
            "hook",
            &format!(
                "touch {d}/running.$L2TPNS_SESSION; ls {d} | grep -c '^running' >> {d}/counts; sleep 0.5; rm {d}/running.$L2TPNS_SESSION"
            ),
        );
        let mut r = HookRunner::new(Arc::default());
        let s = settings(hook, Duration::from_secs(10), 2);
        let t0 = Instant::now();
        for n in 1..=6 {
            r.submit(s.clone(), facts(HookEvent::Up, n));
        }
        assert!(r.wait_idle(Duration::from_secs(20)));
        let counts: Vec<u32> = lines(&dir.path().join("counts"))
            .iter()
            .map(|l| l.parse().unwrap())
            .collect();
        assert_eq!(counts.len(), 6);
        assert!(counts.iter().all(|n| *n <= 2), "{counts:?}");
        // Three rounds of two, not six one after the other.
        let took = t0.elapsed();
        assert!(took >= Duration::from_millis(1500), "{took:?}");
        assert!(took < Duration::from_millis(2900), "{took:?}");
        assert_eq!(r.stats().counts().succeeded, 6);
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let dir = TempDir::new("overflow");
        let gate = dir.path().join("gate");
        std::fs::write(&gate, "").unwrap();
        let hook = script(
            &dir,
            "hook",
            &format!("while [ -e {} ]; do sleep 0.05; done", gate.display()),
        );
        let mut r = HookRunner::with_capacity(Arc::default(), 2);
        let s = settings(hook, Duration::from_secs(20), 1);
        r.submit(s.clone(), facts(HookEvent::Up, 1));
        wait_until(Duration::from_secs(5), || r.stats().counts().started == 1);
        for n in 2..=6 {
            r.submit(s.clone(), facts(HookEvent::Up, n));
        }
        let c = r.stats().counts();
        assert_eq!((c.running, c.queued, c.dropped), (1, 2, 3));
        std::fs::remove_file(&gate).unwrap();
        assert!(r.wait_idle(Duration::from_secs(10)));
        let c = r.stats().counts();
        assert_eq!((c.started, c.succeeded, c.dropped), (3, 3, 3));
    }

    #[test]
    fn a_run_past_the_timeout_is_killed_and_counted() {
        let dir = TempDir::new("timeout");
        let hook = script(&dir, "hook", "sleep 30");
        let mut r = HookRunner::new(Arc::default());
        let t0 = Instant::now();
        r.submit(
            settings(hook, Duration::from_millis(300), 4),
            facts(HookEvent::Up, 1),
        );
        assert!(r.wait_idle(Duration::from_secs(5)));
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
        let c = r.stats().counts();
        assert_eq!((c.started, c.timed_out, c.succeeded), (1, 1, 0));
    }

    #[test]
    fn failures_are_counted_by_kind() {
        let dir = TempDir::new("failures");
        let bad = script(&dir, "bad", "exit 3");
        let mut r = HookRunner::new(Arc::default());
        for n in 1..=2 {
            r.submit(
                settings(bad.clone(), Duration::from_secs(5), 4),
                facts(HookEvent::Up, n),
            );
        }
        r.submit(
            settings(dir.path().join("missing"), Duration::from_secs(5), 4),
            facts(HookEvent::Up, 3),
        );
        assert!(r.wait_idle(Duration::from_secs(10)));
        let c = r.stats().counts();
        assert_eq!((c.started, c.failed, c.failed_to_start), (3, 2, 1));
    }

    #[test]
    fn down_waits_for_up_of_its_session_and_of_its_address() {
        let dir = TempDir::new("order");
        let out = dir.path().join("out");
        // up of session 1 is slow; session 2's runs are quick.
        let hook = script(
            &dir,
            "hook",
            &format!(
                "[ \"$1 $L2TPNS_SESSION\" = 'up 1' ] && sleep 0.5; echo \"$1 $L2TPNS_SESSION\" >> {}",
                out.display()
            ),
        );
        let mut r = HookRunner::new(Arc::default());
        let s = settings(hook, Duration::from_secs(10), 8);
        r.submit(s.clone(), facts(HookEvent::Up, 1));
        r.submit(s.clone(), facts(HookEvent::Down, 1));
        // Session 3 gets session 1's address once that one is gone.
        let mut third = facts(HookEvent::Up, 3);
        third.address = Ipv4Addr::new(10, 100, 0, 1);
        r.submit(s.clone(), third);
        // Session 2 shares nothing: it does not wait.
        r.submit(s, facts(HookEvent::Up, 2));
        assert!(r.wait_idle(Duration::from_secs(10)));
        assert_eq!(lines(&out), ["up 2", "up 1", "down 1", "up 3"]);
    }
}
