//! `accounting_dir` in the control plane: every `accounting_dir_interval`
//! (l2tpns's ACCT_TIME, 5 minutes) a usage file of every session's octets
//! since the previous file, and every minute (ACCT_SHUT_TIME) one for the
//! sessions closed since. The text and the deltas are `usage_file`'s; this
//! file samples the sessions, keeps the timer and writes atomically (a
//! temporary name, then rename, so a collector never reads half a file).

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::{debug, error, info, warn};

use crate::daemon::usage_file::{self, Due, Header, Ledger, LocalTime, Sample, Schedule};
use crate::dataplane::session_table::SessionKey;

use super::session::Session;
use super::{ControlPlane, TimerKey};

/// l2tpns's ACCT_SHUT_TIME: closed sessions wait at most this long.
const SHUT_INTERVAL: Duration = Duration::from_secs(60);

/// What the startup-config says, resolved by the daemon.
#[derive(Clone, Debug)]
pub struct AcctDirSettings {
    pub dir: PathBuf,
    pub interval: Duration,
    /// `account_all_origin`.
    pub all_origin: bool,
    pub host: String,
    pub endpoint: Ipv4Addr,
    /// The daemon's start, for the "# uptime:" line.
    pub started: SystemTime,
}

pub(super) struct AcctDir {
    settings: AcctDirSettings,
    ledger: Ledger,
    schedule: Schedule,
}

fn sample_of(k: SessionKey, s: &Session) -> Sample {
    Sample {
        key: k,
        serial: s.acct_serial,
        user: s.username.clone(),
        ip: s.address,
        // "up" is from the user (the data plane's rx), "down" to the user.
        up: s.counters.rx_bytes(),
        down: s.counters.tx_bytes(),
        throttled: s.policy.is_throttled(),
        gardened: s.policy.garden,
    }
}

impl ControlPlane {
    /// Start writing usage files; the first is due one interval from now.
    pub fn set_accounting_dir(&mut self, settings: AcctDirSettings, now: Instant) {
        info!(
            dir = %settings.dir.display(),
            interval_secs = settings.interval.as_secs(),
            "accounting_dir: a usage file of every session's octets every {} s",
            settings.interval.as_secs()
        );
        // Told now rather than at the first file; never fatal (it may be
        // mounted later), every file retries.
        match std::fs::metadata(&settings.dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => warn!("accounting_dir {}: not a directory; usage files will fail until it is one (change accounting_dir)", settings.dir.display()),
            Err(e) => warn!("accounting_dir {}: {e}; usage files will fail until it exists (create it or change accounting_dir)", settings.dir.display()),
        }
        self.acct_dir = Some(Box::new(AcctDir {
            schedule: Schedule::new(now, settings.interval, SHUT_INTERVAL),
            settings,
            ledger: Ledger::default(),
        }));
        self.arm_acct_dir();
    }

    fn arm_acct_dir(&mut self) {
        let at = self.acct_dir.as_ref().map(|a| a.schedule.next());
        self.timers.set(TimerKey::AcctDir, at);
    }

    /// The timer: the periodic file, or the closed sessions' one.
    pub(super) fn acct_dir_tick(&mut self, now: Instant) {
        let Some(a) = self.acct_dir.as_mut() else {
            return;
        };
        let has_closed = a.ledger.has_closed();
        if let Some(due) = a.schedule.poll(now, has_closed) {
            self.write_usage_file(due == Due::All);
        }
        self.arm_acct_dir();
    }

    /// Keep a closing session's final octets for the next file.
    pub(super) fn acct_dir_session_closed(&mut self, k: SessionKey, s: &Session) {
        if let Some(a) = self.acct_dir.as_mut() {
            a.ledger.session_closed(&sample_of(k, s));
            self.stats.accounting_dir_dropped = a.ledger.closed_dropped;
        }
    }

    /// A reload (SIGHUP, CLI): the new directory, interval, origin column
    /// apply from the next file; unset, what is pending is written first.
    pub(super) fn acct_dir_reconfigure(&mut self, cfg: &crate::config::Config) {
        let now = Instant::now();
        let started = SystemTime::now() - self.started.elapsed();
        let new = crate::daemon::settings::acct_dir(cfg, started);
        match (new, self.acct_dir.as_mut()) {
            (None, None) => {}
            (Some(s), None) => self.set_accounting_dir(s, now),
            (None, Some(_)) => {
                self.write_usage_file(true);
                self.acct_dir = None;
                self.arm_acct_dir();
                info!("accounting_dir unset: no more usage files");
            }
            (Some(mut s), Some(a)) => {
                s.started = a.settings.started;
                if s.interval != a.settings.interval {
                    a.schedule = Schedule::new(now, s.interval, SHUT_INTERVAL);
                }
                a.settings = s;
                self.arm_acct_dir();
            }
        }
    }

    /// At shutdown: write what the last sessions did (l2tpns loses it).
    /// One retry a second later: a periodic file may hold this second's name.
    pub fn flush_accounting_dir(&mut self) {
        if self.acct_dir.is_some() && !self.write_usage_file(true) {
            std::thread::sleep(Duration::from_secs(1));
            self.write_usage_file(true);
        }
    }

    /// False when a file was due and could not be written.
    fn write_usage_file(&mut self, all: bool) -> bool {
        let live: Option<Vec<Sample>> = match &self.acct_dir {
            Some(_) if all => Some(
                self.sessions
                    .iter()
                    .map(|(k, s)| sample_of(*k, s))
                    .collect(),
            ),
            Some(_) => None,
            None => return true,
        };
        let Some(a) = self.acct_dir.as_mut() else {
            return true;
        };
        let plan = a.ledger.plan(live);
        // l2tpns opens a file only for a first line to write.
        if plan.lines.is_empty() {
            return true;
        }
        let now = SystemTime::now();
        let Some(local) = local_time(now) else {
            self.stats.accounting_dir_errors += 1;
            error!("accounting_dir: the local time is unknown; no usage file written (the octets are kept for the next one)");
            return false;
        };
        let s = &a.settings;
        let epoch = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        };
        let header = Header {
            host: &s.host,
            endpoint: s.endpoint,
            time: epoch(now),
            uptime: epoch(now) - epoch(s.started),
            all_origin: s.all_origin,
        };
        let text = usage_file::render(&header, &plan.lines);
        let name = usage_file::file_name(&local);
        let written = write_atomically(&s.dir, &name, &text);
        match &written {
            Ok(path) => {
                // l2tpns logs this at level 3 (info).
                info!(
                    sessions = plan.lines.len(),
                    "dumping accounting information to {}",
                    path.display()
                );
                self.stats.accounting_dir_files += 1;
                a.ledger.commit(plan);
            }
            Err(e) => {
                self.stats.accounting_dir_errors += 1;
                error!(
                    "accounting_dir {}: cannot write usage file {name}: {e}; the octets are kept and retried at the next file (make the directory writable or change accounting_dir)",
                    s.dir.display()
                );
            }
        }
        debug!(sessions_marked = a.ledger.marked(), "accounting_dir ledger");
        written.is_ok()
    }
}

/// Write `dir/.name.tmp`, flush it to disk, and rename it to `dir/name`.
/// An existing `dir/name` is never replaced (two files in one second).
fn write_atomically(dir: &Path, name: &str, text: &str) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    if path.exists() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists", path.display()),
        ));
    }
    let tmp = dir.join(format!(".{name}.tmp"));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        // A collector may bill from it: on disk before it has its name.
        f.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&tmp, &path)) {
        Ok(()) => Ok(path),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// l2tpns names the files in local time (`localtime()`), so do we.
fn local_time(t: SystemTime) -> Option<LocalTime> {
    let secs = t.duration_since(UNIX_EPOCH).ok()?.as_secs() as libc::time_t;
    // SAFETY: tm is plain data; localtime_r writes it and keeps no pointer.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::localtime_r(&secs, &mut tm) };
    if r.is_null() {
        return None;
    }
    Some(LocalTime {
        year: tm.tm_year + 1900,
        month: u32::try_from(tm.tm_mon + 1).ok()?,
        day: u32::try_from(tm.tm_mday).ok()?,
        hour: u32::try_from(tm.tm_hour).ok()?,
        minute: u32::try_from(tm.tm_min).ok()?,
        second: u32::try_from(tm.tm_sec).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_atomically_and_never_replaces() {
        let dir = std::env::temp_dir().join(format!("acctdir-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let p = write_atomically(&dir, "20260101000000", "a\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a\n");
        let e = write_atomically(&dir, "20260101000000", "b\n").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a\n");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
        let missing = write_atomically(&dir.join("missing"), "x", "c\n").unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn local_time_is_a_valid_calendar_time() {
        let t = local_time(SystemTime::now()).unwrap();
        assert!(t.year >= 2024 && (1..=12).contains(&t.month) && (1..=31).contains(&t.day));
        assert_eq!(usage_file::file_name(&t).len(), 14);
    }
}
