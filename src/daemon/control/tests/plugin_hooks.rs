//! The plugin hooks at their real triggers: the control plane's timers, an
//! Access-Accept and a CoA-Request from a RADIUS server, and the
//! Accounting-Requests it sends, seen by a recording plugin.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cli::{CommandId, Outcome};
use crate::daemon::cli_io::CliCommand;
use crate::daemon::control::cli::CliAnswer;
use crate::plugin::{
    AcctAttributes, AcctKind, HookResult, Plugin, PluginApi, PluginControl, SessionInfo,
};

use super::super::TimerKey;
use super::radius_server::{accounting_record, dae_code, server_addr, FakeRadius};
use super::*;

/// What autothrottle will echo in accounting.
const ECHO: &str = "lcp:interface-config#1=service-policy input 512";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Timer(u64),
    Response {
        user: Option<String>,
        key: String,
        value: String,
    },
    Reset(Option<String>),
    NewSession,
    KillSession,
    Account(AcctKind, Option<String>),
}

type Calls = Arc<Mutex<Vec<Call>>>;

/// Records every hook; adds `ECHO` to every accounting record.
struct Recorder(Calls);

impl Recorder {
    fn note(&self, c: Call) -> HookResult {
        self.0.lock().unwrap().push(c);
        HookResult::Continue
    }
}

impl Plugin for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn radius_response(
        &mut self,
        _api: &mut dyn PluginControl,
        s: &SessionInfo,
        key: &str,
        value: &str,
    ) -> HookResult {
        self.note(Call::Response {
            user: s.user.clone(),
            key: key.into(),
            value: value.into(),
        })
    }

    fn radius_reset(&mut self, _api: &mut dyn PluginControl, s: &SessionInfo) -> HookResult {
        self.note(Call::Reset(s.user.clone()))
    }

    fn new_session(&mut self, _api: &dyn PluginApi, _s: &SessionInfo) -> HookResult {
        self.note(Call::NewSession)
    }

    fn kill_session(&mut self, _api: &dyn PluginApi, _s: &SessionInfo) -> HookResult {
        self.note(Call::KillSession)
    }

    fn radius_account(
        &mut self,
        _api: &dyn PluginApi,
        s: &SessionInfo,
        kind: AcctKind,
        add: &mut AcctAttributes,
    ) -> HookResult {
        add.cisco_avpair(ECHO);
        // Acct-Status-Type is the LNS's own.
        assert!(add.standard(40, &[0, 0, 0, 9]).is_err());
        self.note(Call::Account(kind, s.user.clone()))
    }

    fn timer(&mut self, _api: &dyn PluginApi, now_unix_secs: u64) -> HookResult {
        self.note(Call::Timer(now_unix_secs))
    }
}

/// Ends the chain for the Cisco-AVPair `private=...` only.
struct Gate;

impl Plugin for Gate {
    fn name(&self) -> &'static str {
        "gate"
    }

    fn radius_response(
        &mut self,
        _api: &mut dyn PluginControl,
        _s: &SessionInfo,
        key: &str,
        _value: &str,
    ) -> HookResult {
        if key == "private" {
            HookResult::Stop
        } else {
            HookResult::Continue
        }
    }
}

fn load_recorder(b: &mut Bench) -> Calls {
    let calls = Calls::default();
    b.cp.load_boxed_plugin(b.now, Box::new(Recorder(calls.clone())));
    calls
}

/// The calls other than `timer`, which runs through everything.
fn events(calls: &Calls) -> Vec<Call> {
    let calls = calls.lock().unwrap();
    calls
        .iter()
        .filter(|c| !matches!(c, Call::Timer(_)))
        .cloned()
        .collect()
}

fn timer_ticks(calls: &Calls) -> Vec<u64> {
    let calls = calls.lock().unwrap();
    calls
        .iter()
        .filter_map(|c| match c {
            Call::Timer(t) => Some(*t),
            _ => None,
        })
        .collect()
}

fn response(key: &str, value: &str) -> Call {
    Call::Response {
        user: Some("alice".into()),
        key: key.into(),
        value: value.into(),
    }
}

fn cli(b: &mut Bench, command: CommandId, args: &[&str]) -> Outcome {
    let c = CliCommand {
        user: "test".into(),
        from: "127.0.0.1:23".parse().unwrap(),
        command,
        args: args.iter().map(|a| a.to_string()).collect(),
        reply: tokio::sync::mpsc::unbounded_channel().0,
    };
    match b.cp.cli_command(b.now, &c, Default::default()) {
        CliAnswer::Now(_, outcome) => outcome,
        CliAnswer::Sessions(_) => panic!("not a listing"),
    }
}

#[test]
fn timer_runs_once_a_second_of_injected_time_and_only_while_a_plugin_is_loaded() {
    let mut b = Bench::new("pw");
    b.exchange();
    assert_eq!(b.cp.timers.deadline(TimerKey::PluginTimer), None);

    let calls = load_recorder(&mut b);
    assert_eq!(
        b.cp.timers.deadline(TimerKey::PluginTimer),
        Some(b.now + Duration::from_secs(1))
    );
    for _ in 0..55 {
        b.tick(Duration::from_millis(100));
    }
    let ticks = timer_ticks(&calls);
    assert_eq!(ticks.len(), 5, "{ticks:?}");
    assert!(ticks.windows(2).all(|w| w[1] == w[0] + 1), "{ticks:?}");
    let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    assert!(ticks[0].abs_diff(wall.as_secs()) <= 10, "{ticks:?}");

    // The last plugin gone, the daemon no longer wakes up for them.
    assert_eq!(
        cli(&mut b, CommandId::RemovePlugin, &["recorder"]),
        Outcome::Done
    );
    assert_eq!(b.cp.timers.deadline(TimerKey::PluginTimer), None);
    for _ in 0..30 {
        b.tick(Duration::from_millis(100));
    }
    assert_eq!(timer_ticks(&calls).len(), 5);
}

#[test]
fn radius_account_adds_a_cisco_avpair_to_start_interim_and_stop() {
    let mut b = Bench::with_radius(FakeRadius::new(&[], 60));
    let calls = load_recorder(&mut b);
    b.come_up();
    for _ in 0..65 {
        b.tick(Duration::from_secs(1));
    }
    let r = b.cp.execute(
        b.now,
        Origin::Signal("test"),
        Command::Drop {
            target: Target::User("alice".into()),
            cause: Cause::AdminReset,
        },
    );
    assert!(r.is_done(), "{r:?}");
    b.until_disconnected();

    let server = b.radius.as_ref().unwrap();
    let records: Vec<(u32, Vec<String>)> = server
        .accounting
        .iter()
        .map(|r| accounting_record(r))
        .collect();
    // Start (1), Interim-Update (3), Stop (2), each with the plugin's pair.
    let echo = vec![ECHO.to_string()];
    assert_eq!(
        records,
        vec![(1, echo.clone()), (3, echo.clone()), (2, echo)],
        "{records:?}"
    );
    let alice = Some("alice".to_string());
    let kinds: Vec<Call> = events(&calls)
        .into_iter()
        .filter(|c| matches!(c, Call::Account(..) | Call::KillSession))
        .collect();
    assert_eq!(
        kinds,
        vec![
            Call::Account(AcctKind::Start, alice.clone()),
            Call::Account(AcctKind::InterimUpdate, alice.clone()),
            Call::KillSession,
            Call::Account(AcctKind::Stop, alice),
        ]
    );
}

#[test]
fn cisco_avpairs_of_an_access_accept_and_a_coa_reach_radius_response_in_order() {
    let accept = [
        "throttle=yes",
        "private=1",
        "lcp:interface-config#1=service-policy input 512",
        "novalue",
    ];
    let mut b = Bench::with_radius(FakeRadius::new(&accept, 0));
    b.cp.load_boxed_plugin(b.now, Box::new(Gate));
    let calls = load_recorder(&mut b);
    b.come_up();
    let before_up: Vec<Call> = events(&calls)
        .into_iter()
        .take_while(|c| *c != Call::NewSession)
        .filter(|c| matches!(c, Call::Response { .. }))
        .collect();
    // `private` stopped at the gate; the pairs after it went on.
    assert_eq!(
        before_up,
        vec![
            response("throttle", "yes"),
            response("lcp:interface-config#1", "service-policy input 512"),
            response("novalue", ""),
        ]
    );

    calls.lock().unwrap().clear();
    let server = b.radius.as_mut().unwrap();
    let coa = server.coa("alice", &["throttle=no", "intercept=10.0.0.1:5000"]);
    b.cp.handle_dae(b.now, server_addr(), &coa);
    b.exchange();
    assert_eq!(b.dae_answers.len(), 1);
    assert_eq!(dae_code(&b.dae_answers[0]), 44, "CoA-ACK");
    assert_eq!(
        events(&calls),
        vec![
            Call::Reset(Some("alice".into())),
            response("throttle", "no"),
            response("intercept", "10.0.0.1:5000"),
        ]
    );
}
