//! Debian's real `/usr/sbin/nsctl` (package l2tpns) and our `nsctl` against a
//! test server on 127.0.0.1 built from `l2tpns::nsctl::ControlServer` with a
//! stub sessionctl plugin. Asserts on what each prints and its exit code.
//! The server uses an ephemeral port, so a packaged l2tpns holding UDP 1702
//! does not matter. No root needed.

use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use l2tpns::nsctl::chain::{collect_help, run_control};
use l2tpns::nsctl::wire::MAX_PACKET;
use l2tpns::nsctl::{
    ClusterRole, ControlHandler, ControlPlugin, ControlReply, ControlServer, LoadOutcome,
    PluginVerdict, ResponseKind, UnloadOutcome,
};

const DEBIAN_NSCTL: &str = "/usr/sbin/nsctl";
const OURS: &str = env!("CARGO_BIN_EXE_nsctl");

/// sessionctl's `drop`: alice has a session, nobody else does.
struct SessionCtl;

impl ControlPlugin for SessionCtl {
    fn help(&self) -> Vec<String> {
        vec!["  drop USER|SID [REASON]                      Shutdown user session".into()]
    }
    fn control(&mut self, _: ClusterRole, args: &[String]) -> PluginVerdict {
        let err = |t: &str| PluginVerdict::Stop {
            kind: ResponseKind::Err,
            additional: Some(t.into()),
        };
        match args {
            [cmd, ..] if cmd != "drop" => PluginVerdict::Pass,
            [_, user] | [_, user, _] if user == "alice" => PluginVerdict::Stop {
                kind: ResponseKind::Ok,
                additional: None,
            },
            [_, _] | [_, _, _] => err("session not found"),
            _ => err("requires username or session id and optional reason"),
        }
    }
}

/// The daemon's plugin list, in load order; only "sessionctl" exists.
struct Plugins(Vec<Box<dyn ControlPlugin + Send>>);

impl ControlHandler for Plugins {
    fn help(&self) -> Vec<String> {
        collect_help(self.0.iter().map(|p| &**p as &dyn ControlPlugin))
    }
    fn load_plugin(&mut self, name: &str) -> LoadOutcome {
        match name {
            "sessionctl" if !self.0.is_empty() => LoadOutcome::AlreadyLoaded,
            "sessionctl" => {
                self.0.push(Box::new(SessionCtl));
                LoadOutcome::Loaded
            }
            _ => LoadOutcome::Failed,
        }
    }
    fn unload_plugin(&mut self, name: &str) -> UnloadOutcome {
        match name {
            "sessionctl" if self.0.pop().is_some() => UnloadOutcome::Unloaded,
            "sessionctl" => UnloadOutcome::NotLoaded,
            _ => UnloadOutcome::NotFound,
        }
    }
    fn control(&mut self, args: &[String]) -> ControlReply {
        let plugins = self
            .0
            .iter_mut()
            .map(|p| &mut **p as &mut dyn ControlPlugin);
        run_control(plugins, ClusterRole::STANDALONE, args)
    }
}

/// A test server on an ephemeral port; stops when dropped.
struct TestServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl TestServer {
    fn start() -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let port = sock.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            let mut server = ControlServer::new();
            let mut plugins = Plugins(vec![Box::new(SessionCtl)]);
            let (mut inbuf, mut out) = ([0u8; 65536], [0u8; MAX_PACKET]);
            while !flag.load(Ordering::Relaxed) {
                let Ok((n, peer)) = sock.recv_from(&mut inbuf) else {
                    continue;
                };
                let answer = server.handle(&inbuf[..n], &mut plugins, &mut out).unwrap();
                sock.send_to(&out[..answer.len], peer).unwrap();
            }
        });
        TestServer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn debian_nsctl() -> &'static str {
    assert!(
        Path::new(DEBIAN_NSCTL).exists(),
        "{DEBIAN_NSCTL} is missing: this test needs Debian's nsctl (apt-get install l2tpns)"
    );
    DEBIAN_NSCTL
}

/// Runs `prog -h 127.0.0.1:PORT args…`; returns (stdout, stderr, exit code).
fn nsctl(prog: &str, port: u16, args: &[&str]) -> (String, String, i32) {
    nsctl_at(prog, "127.0.0.1", port, args)
}

fn nsctl_at(prog: &str, host: &str, port: u16, args: &[&str]) -> (String, String, i32) {
    let out = Command::new(prog)
        .arg("-h")
        .arg(format!("{host}:{port}"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {prog}: {e}"));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

const HELP: &str = "Available commands:
  load_plugin PLUGIN                          Load named plugin
  unload_plugin PLUGIN                        Unload named plugin
  help                                        List available commands
  drop USER|SID [REASON]                      Shutdown user session
";

/// The same session with either client: each step's expected output.
fn session(prog: &str) {
    let server = TestServer::start();
    let p = server.port;
    let run = |args: &[&str]| nsctl(prog, p, args);
    assert_eq!(run(&["help"]), (HELP.into(), "".into(), 0), "{prog} help");
    assert_eq!(
        run(&["drop", "alice"]),
        ("".into(), "".into(), 0),
        "{prog} drop alice"
    );
    assert_eq!(
        run(&["drop", "bob", "bye"]),
        ("".into(), "session not found\n".into(), 1),
        "{prog} drop bob"
    );
    assert_eq!(
        run(&["show", "x"]),
        ("".into(), "unhandled action\n".into(), 1)
    );
    assert_eq!(
        run(&["load_plugin", "x"]),
        ("".into(), "error loading plugin\n".into(), 1)
    );
    assert_eq!(
        run(&["load_plugin", "sessionctl"]),
        ("".into(), "plugin already loaded\n".into(), 1)
    );
    assert_eq!(
        run(&["load_plugin"]),
        ("".into(), "name of plugin required\n".into(), 1)
    );
    assert_eq!(
        run(&["unload_plugin", "sessionctl"]),
        ("".into(), "".into(), 0)
    );
    assert_eq!(
        run(&["unload_plugin", "sessionctl"]),
        ("".into(), "plugin not loaded\n".into(), 1)
    );
    assert_eq!(
        run(&["drop", "alice"]),
        ("".into(), "unhandled action\n".into(), 1)
    );
    assert_eq!(
        run(&["load_plugin", "sessionctl"]),
        ("".into(), "".into(), 0)
    );
    let (out, _, code) = run(&["help"]);
    assert_eq!((out.as_str(), code), (HELP, 0));
    // Debug dumps go to stderr, in Debian's format.
    let (_, err, code) = run(&["-d", "drop", "alice"]);
    assert_eq!(
        (err.as_str(), code),
        (
            "Sending Control packet:\n\tType: 20 (NSCTL_REQ_CONTROL)\n\tArgs: 2 (\"drop\", \"alice\")\n\n\
             Received Control packet:\n\tType: 33 (NSCTL_RES_OK)\n\tArgs: 0\n\n",
            0
        )
    );
}

#[test]
fn debian_nsctl_talks_to_our_server() {
    session(debian_nsctl());
}

#[test]
fn our_nsctl_talks_to_our_server() {
    session(OURS);
}

#[test]
fn both_clients_fail_alike_without_a_server() {
    // A port nobody listens on: the kernel's ICMP makes recv fail at once.
    // A loopback address of its own, not 127.0.0.1: suites running beside
    // this one bind ephemeral ports on 127.0.0.1, and one that took this
    // port between the probe and the clients made Debian's nsctl time out.
    const QUIET: &str = "127.77.0.1";
    let port = UdpSocket::bind((QUIET, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let expected = (
        "".to_string(),
        "nsctl: error receiving response (Connection refused)\n".to_string(),
        1,
    );
    let run = |prog| nsctl_at(prog, QUIET, port, &["drop", "alice"]);
    assert_eq!(run(debian_nsctl()), expected);
    assert_eq!(run(OURS), expected);
}
