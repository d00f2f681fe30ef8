//! One hook run: start the executable with no shell, a clean environment
//! and its own process group; collect (a bounded part of) what it prints;
//! kill the whole group with SIGKILL when it overstays; always reap it.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};

/// The PATH a run gets (the daemon's own environment is not passed on).
pub const MINIMAL_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Bytes of stdout and of stderr kept for the log; the rest is read and
/// thrown away (a script must never block on a full pipe).
pub const OUTPUT_KEPT: usize = 4096;

/// After the script exits, how long its output may still take: a process
/// it left in the background may hold the pipes open for ever.
const OUTPUT_GRACE: Duration = Duration::from_millis(200);

/// How one run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// A non-zero exit, or killed by a signal that was not ours.
    Failed(String),
    /// Killed (with its process group) after the timeout.
    TimedOut,
    FailedToStart(String),
}

#[derive(Debug)]
pub struct Finished {
    pub outcome: Outcome,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub took: Duration,
}

/// Run `path arg` with exactly `env` (and PATH) until it exits or
/// `timeout` passes.
pub async fn run(
    path: &Path,
    arg: &str,
    env: &[(&'static str, String)],
    timeout: Duration,
) -> Finished {
    let started = Instant::now();
    let mut cmd = tokio::process::Command::new(path);
    cmd.arg(arg)
        .env_clear()
        .env("PATH", MINIMAL_PATH)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so a timeout kills what it started too.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Finished {
                outcome: Outcome::FailedToStart(e.to_string()),
                stdout: Vec::new(),
                stderr: Vec::new(),
                took: started.elapsed(),
            }
        }
    };
    let pid = child.id();
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let outcome = {
        let (out, err) = (child.stdout.take(), child.stderr.take());
        let reading = async {
            tokio::join!(drain(out, &mut stdout), drain(err, &mut stderr));
        };
        tokio::pin!(reading);
        let deadline = tokio::time::Instant::from_std(started + timeout);
        let mut read_all = false;
        let outcome = loop {
            tokio::select! {
                status = child.wait() => break match status {
                    Ok(s) if s.success() => Outcome::Succeeded,
                    Ok(s) => Outcome::Failed(describe(s)),
                    Err(e) => Outcome::Failed(format!("wait: {e}")),
                },
                _ = &mut reading, if !read_all => read_all = true,
                _ = tokio::time::sleep_until(deadline) => {
                    kill_group(pid);
                    let _ = child.start_kill();
                    // Reaped here: no zombie is left behind.
                    let _ = child.wait().await;
                    break Outcome::TimedOut;
                }
            }
        };
        if !read_all {
            let _ = tokio::time::timeout(OUTPUT_GRACE, &mut reading).await;
        }
        outcome
    };
    Finished {
        outcome,
        stdout,
        stderr,
        took: started.elapsed(),
    }
}

/// Read `r` to its end, keeping the first OUTPUT_KEPT bytes in `kept`.
async fn drain(r: Option<impl AsyncRead + Unpin>, kept: &mut Vec<u8>) {
    let Some(mut r) = r else { return };
    let mut buf = [0u8; 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let room = OUTPUT_KEPT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

/// SIGKILL to the run's process group (its id is the run's pid, still
/// ours: the leader is not reaped yet).
fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| libc::pid_t::try_from(p).ok()) {
        // SAFETY: a signal to a process group we created; no memory involved.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
}

fn describe(s: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::session_hook::runner::tests::{script, wait_until, TempDir};

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn output_is_kept_bounded_and_the_exit_status_told() {
        let dir = TempDir::new("child-output");
        let hook = script(
            &dir,
            "noisy",
            "echo \"out $1 $L2TPNS_USER\"; echo err >&2; head -c 100000 /dev/zero; exit 3",
        );
        let env = [("L2TPNS_USER", "alice".to_string())];
        let f = block_on(run(&hook, "up", &env, Duration::from_secs(10)));
        assert_eq!(f.outcome, Outcome::Failed("exit status 3".into()));
        assert!(f.stdout.starts_with(b"out up alice\n"));
        assert_eq!(f.stdout.len(), OUTPUT_KEPT);
        assert_eq!(f.stderr, b"err\n");
    }

    #[test]
    fn only_path_and_the_facts_are_in_the_environment() {
        let dir = TempDir::new("child-env");
        let hook = script(&dir, "env", "env | sort");
        let env = [("L2TPNS_EVENT", "down".to_string())];
        let f = block_on(run(&hook, "down", &env, Duration::from_secs(10)));
        assert_eq!(f.outcome, Outcome::Succeeded);
        let text = String::from_utf8(f.stdout).unwrap();
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split('=').next())
            .filter(|n| !["PWD", "SHLVL", "_"].contains(n)) // the shell's own
            .collect();
        assert_eq!(names, ["L2TPNS_EVENT", "PATH"], "{text}");
        assert!(text.contains(&format!("PATH={MINIMAL_PATH}\n")));
    }

    #[test]
    fn a_run_past_its_timeout_is_killed_with_what_it_started() {
        let dir = TempDir::new("child-timeout");
        let pidfile = dir.path().join("bg.pid");
        let hook = script(
            &dir,
            "sleepy",
            &format!("sleep 30 & echo $! > {}; wait", pidfile.display()),
        );
        let t0 = Instant::now();
        let f = block_on(run(&hook, "up", &[], Duration::from_millis(500)));
        assert_eq!(f.outcome, Outcome::TimedOut);
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        // The background sleep went with it (gone, or a zombie awaiting init).
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        let stat = format!("/proc/{}/stat", pid.trim());
        wait_until(Duration::from_secs(5), || {
            std::fs::read_to_string(&stat).map_or(true, |s| s.contains(") Z "))
        });
    }

    #[test]
    fn a_missing_executable_fails_to_start() {
        let f = block_on(run(
            Path::new("/nonexistent/hook"),
            "up",
            &[],
            Duration::from_secs(1),
        ));
        assert!(matches!(f.outcome, Outcome::FailedToStart(_)), "{f:?}");
    }
}
