//! session_hook at its triggers: `Io::RunHook` with the session's facts
//! when its network comes up and when it ends; nothing for a login that
//! failed, nothing while the variable is unset, and no `up` again for a
//! session restored from saved state.

use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;

use crate::auth::SessionAttrs;
use crate::daemon::session_hook::{Ended, HookEvent};

use super::*;

const HOOK: &str = "/etc/l2tpns/session-hook";

fn hook_config() -> Config {
    let mut cfg = Config::default();
    cfg.set("session_hook", HOOK).unwrap();
    cfg.set("session_hook_timeout", "7").unwrap();
    cfg.set("session_hook_max_running", "3").unwrap();
    cfg
}

/// alice / pw, with two Framed-Routes.
struct RoutedUser;

impl Authenticator for RoutedUser {
    fn authenticate(&mut self, req: &AuthRequest<'_>) -> AuthDecision {
        match req.credentials {
            Credentials::Pap { password } if req.username == "alice" && password == b"pw" => {
                AuthDecision::Accept {
                    address: None,
                    message: "Welcome".into(),
                    attrs: SessionAttrs {
                        routes: vec![
                            "198.51.100.0/24".parse().unwrap(),
                            "203.0.113.8/29".parse().unwrap(),
                        ],
                        ..SessionAttrs::default()
                    },
                }
            }
            _ => AuthDecision::Reject {
                message: "no".into(),
            },
        }
    }

    fn name(&self) -> &'static str {
        "routed"
    }
}

fn drop_alice(b: &mut Bench) {
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
}

#[test]
fn up_and_down_carry_the_session_facts() {
    let mut b = Bench::build_with("pw", None, &hook_config(), Box::new(RoutedUser));
    b.call.calling_number = Some("0612345678".into());
    b.call.called_number = Some("1000".into());
    b.come_up();
    assert_eq!(b.hooks.len(), 1, "{:?}", b.hooks);
    let (hook, up) = b.hooks[0].clone();
    assert_eq!(
        *hook,
        HookSettings {
            path: PathBuf::from(HOOK),
            timeout: Duration::from_secs(7),
            max_running: 3,
        }
    );
    let entry = upserts(&b.table)[0].clone();
    let k = entry.key;
    let want_up = SessionFacts {
        event: HookEvent::Up,
        tunnel: k.tunnel,
        session: k.session,
        sid: k.nas_port(),
        user: "alice".into(),
        address: Ipv4Addr::new(10, 100, 0, 1),
        lac: Some(Bench::lac_addr()),
        calling_number: "0612345678".into(),
        called_number: "1000".into(),
        acct_session_id: up.acct_session_id.clone(),
        routes: vec![
            "198.51.100.0/24".parse().unwrap(),
            "203.0.113.8/29".parse().unwrap(),
        ],
        ended: None,
    };
    assert_eq!(up, want_up);
    assert_eq!(up.acct_session_id.len(), 16);

    // The data plane counts some traffic; the session lasts 30 s.
    let c = &entry.counters;
    c.rx_bytes.fetch_add(1234, Relaxed);
    c.rx_packets.fetch_add(5, Relaxed);
    c.tx_bytes.fetch_add(5678, Relaxed);
    c.tx_packets.fetch_add(7, Relaxed);
    for _ in 0..30 {
        b.tick(Duration::from_secs(1));
    }
    drop_alice(&mut b);
    assert_eq!(b.hooks.len(), 2, "{:?}", b.hooks);
    let (_, down) = b.hooks[1].clone();
    let ended = down.ended.clone().expect("down has the totals");
    assert_eq!(
        down,
        SessionFacts {
            event: HookEvent::Down,
            ended: Some(Ended {
                rx_bytes: 1234,
                tx_bytes: 5678,
                rx_packets: 5,
                tx_packets: 7,
                session_seconds: ended.session_seconds,
                cause: "Admin-Reset",
            }),
            ..want_up
        }
    );
    assert!((30..=31).contains(&ended.session_seconds), "{ended:?}");
}

#[test]
fn no_run_without_the_variable_nor_for_a_failed_login() {
    let mut b = Bench::new("pw");
    b.come_up();
    drop_alice(&mut b);
    assert!(b.hooks.is_empty(), "{:?}", b.hooks);

    let mut b = Bench::build_with("wrong", None, &hook_config(), Box::new(OneUser));
    b.exchange();
    for _ in 0..100 {
        b.tick(Duration::from_millis(100));
    }
    assert_eq!(b.up, None);
    assert!(b.hooks.is_empty(), "{:?}", b.hooks);
}

#[test]
fn a_reload_turns_the_hook_on_for_what_happens_next() {
    let mut b = Bench::new("pw");
    b.come_up();
    assert!(b.hooks.is_empty());
    let cfg = hook_config();
    let r = super::super::reconfigure::Reconfigure {
        settings: crate::daemon::settings::control_settings(&cfg, TUN),
        config: cfg,
        pool: None,
        auth: None,
    };
    b.cp.execute(
        b.now,
        Origin::Signal("test"),
        Command::Reconfigure(Box::new(r)),
    );
    drop_alice(&mut b);
    let events: Vec<HookEvent> = b.hooks.iter().map(|(_, f)| f.event).collect();
    assert_eq!(events, [HookEvent::Down]);
}

#[test]
fn a_restored_session_gets_no_second_up_but_its_down() {
    let mut b = Bench::build_with("pw", None, &hook_config(), Box::new(OneUser));
    b.come_up();
    assert_eq!(b.hooks.len(), 1);
    let state = b.cp.save_state(b.now);

    let cfg = hook_config();
    let settings = crate::daemon::settings::control_settings(&cfg, TUN);
    let pool = AddressPool::new((1..=4).map(|i| Ipv4Addr::new(10, 100, 0, i)));
    let mut cp = ControlPlane::new(
        settings,
        pool,
        Some(Box::new(OneUser)),
        None,
        Arc::new(Clock::new(b.now)),
    );
    let done = cp.restore_state(b.now, state, Duration::from_secs(1));
    assert_eq!(done.sessions, 1);
    b.cp = cp;
    b.hooks.clear();
    for _ in 0..10 {
        b.tick(Duration::from_secs(1));
    }
    assert!(b.hooks.is_empty(), "a restore ran up again: {:?}", b.hooks);
    drop_alice(&mut b);
    let events: Vec<HookEvent> = b.hooks.iter().map(|(_, f)| f.event).collect();
    assert_eq!(events, [HookEvent::Down]);
}
