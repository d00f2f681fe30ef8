//! Session tests driven with raw bytes as a telnet client sends them:
//! negotiation, login, abbreviations, `?`, TAB, history, filters, modes,
//! password echo, type-ahead, backpressure; and property tests that any
//! bytes leave the session panic-free and within its memory bounds.

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;

use super::commands::{CommandId, Mode, Privilege};
use super::editor::{MAX_HISTORY, MAX_LINE};
use super::login::LoginPolicy;
use super::session::{CliRequest, CliSession, CloseReason, Outcome, MAX_PENDING_TX};
use crate::config::parse_users;

const USERS: &str = "admin:secret\nops:$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/\nenable:en\n";

fn policy(users: &str, local: bool) -> LoginPolicy {
    LoginPolicy::new(
        Arc::new(parse_users(users, Path::new("users")).unwrap()),
        local,
    )
}

struct Client {
    s: CliSession,
    /// Everything the session sent, as text.
    seen: String,
}

impl Client {
    fn new(users: &str, local: bool) -> Self {
        let mut c = Client {
            s: CliSession::new("l2tpns", policy(users, local)),
            seen: String::new(),
        };
        c.drain();
        c
    }

    fn local() -> Self {
        Self::new("", true)
    }

    /// A remote client logged in as admin and enabled.
    fn enabled() -> Self {
        let mut c = Self::new(USERS, false);
        c.send(b"admin\rsecret\renable\ren\r");
        c.take();
        c.requests();
        c
    }

    fn drain(&mut self) -> String {
        let mut out = String::new();
        while let Some(b) = self.s.poll_transmit() {
            out.push_str(&String::from_utf8_lossy(&b));
        }
        self.seen.push_str(&out);
        out
    }

    /// Sends bytes; returns what came back.
    fn send(&mut self, bytes: &[u8]) -> String {
        let mut rest = bytes;
        let mut out = String::new();
        while !rest.is_empty() {
            let n = self.s.handle_input(rest);
            rest = &rest[n..];
            out.push_str(&self.drain());
        }
        out
    }

    fn take(&mut self) -> String {
        std::mem::take(&mut self.seen)
    }

    fn requests(&mut self) -> Vec<CliRequest> {
        std::iter::from_fn(|| self.s.poll_request()).collect()
    }

    /// The next Execute, answered with `lines`.
    fn execute(&mut self, lines: &[&str]) -> (CommandId, Vec<String>) {
        let req = self
            .requests()
            .into_iter()
            .find_map(|r| match r {
                CliRequest::Execute { command, args } => Some((command, args)),
                _ => None,
            })
            .expect("an Execute request");
        self.s.command_output(lines);
        self.s.command_done(Outcome::Done);
        self.drain();
        req
    }
}

#[test]
fn opening_negotiation_then_prompt_for_local() {
    let mut s = CliSession::new("lns1", policy("", true));
    let out = s.poll_transmit().unwrap();
    assert_eq!(
        out[..15],
        [255, 251, 1, 255, 251, 3, 255, 253, 3, 255, 254, 34, 255, 253, 31]
    );
    assert_eq!(&out[15..], b"\r\nlns1> ");
    // The client's answers produce no bytes and no keys.
    s.handle_input(&[255, 253, 1, 255, 253, 3, 255, 251, 3, 255, 251, 31]);
    s.handle_input(&[255, 250, 31, 0, 100, 0, 40, 255, 240]);
    assert_eq!(s.poll_transmit(), None);
    assert_eq!(s.window_size(), Some((100, 40)));
}

#[test]
fn login_good_hides_the_password() {
    let mut c = Client::new(USERS, false);
    assert!(c.take().ends_with("\r\nUsername: "));
    assert_eq!(c.send(b"admin\r"), "admin\r\nPassword: ");
    let out = c.send(b"secret\r");
    assert!(!out.contains("secret"), "{out:?}");
    assert!(out.ends_with("\r\nl2tpns> "), "{out:?}");
    assert_eq!(c.s.user(), Some("admin"));
    assert_eq!(
        c.requests(),
        [CliRequest::LoggedIn {
            user: "admin".into()
        }]
    );
    // MD5-crypt user too.
    let mut c = Client::new(USERS, false);
    c.send(b"ops\r\npassword\r\n");
    assert_eq!(c.s.user(), Some("ops"));
}

#[test]
fn three_bad_logins_close() {
    let mut c = Client::new(USERS, false);
    for i in 0..3 {
        let out = c.send(b"admin\rwrong\r");
        assert!(out.contains("Access denied"), "{out:?}");
        assert_eq!(c.s.is_closed(), i == 2);
    }
    let r = c.requests();
    assert_eq!(r.len(), 4);
    assert_eq!(r[3], CliRequest::Close(CloseReason::LoginFailures));
    // Nothing more is taken.
    assert_eq!(c.send(b"admin\r"), "");
}

#[test]
fn remote_without_users_is_refused_local_gets_in() {
    let mut c = Client::new("", false);
    assert!(c.s.is_closed());
    assert_eq!(c.requests(), [CliRequest::Close(CloseReason::Refused)]);
    let mut c = Client::new(USERS, true);
    assert!(c.take().ends_with("l2tpns> "));
    assert_eq!(c.s.user(), None);
}

#[test]
fn abbreviated_command_runs_and_output_streams() {
    let mut c = Client::local();
    c.take();
    let out = c.send(b"sh ses 12\r");
    assert_eq!(out, "sh ses 12\r\n");
    assert!(c.s.is_busy());
    let req = c.requests();
    assert_eq!(
        req,
        [CliRequest::Execute {
            command: CommandId::ShowSession,
            args: vec!["12".into()]
        }]
    );
    c.s.command_output(["Session 12:", "\tUser:\t\tbob"]);
    c.s.command_output(vec![String::from("more")]);
    c.s.command_done(Outcome::Done);
    assert_eq!(
        c.drain(),
        "Session 12:\r\n\tUser:\t\tbob\r\nmore\r\n\r\nl2tpns> "
    );
}

#[test]
fn errors_are_printed_and_the_prompt_returns() {
    let mut c = Client::enabled();
    assert_eq!(
        c.send(b"s\r"),
        "s\r\nAmbiguous command \"s\"\r\n\r\nl2tpns# "
    );
    assert!(c.send(b"frob\r").contains("Invalid command \"frob\"\r\n"));
    assert!(c.send(b"show\r").contains("Incomplete command\r\n"));
    assert!(c.requests().is_empty());
}

#[test]
fn question_mark_helps_without_being_inserted() {
    let mut c = Client::local();
    c.take();
    let out = c.send(b"show ses?");
    assert!(out.starts_with("show ses\r\n  session "), "{out:?}");
    assert!(out.ends_with("\r\nl2tpns> show ses"), "{out:?}");
    assert_eq!(c.s.editor().text(), "show ses");
    let out = c.send(b"sion ?");
    assert!(out.contains("<1-59999>"), "{out:?}");
    assert!(out.contains("  <cr>"), "{out:?}");
    // Help in the middle of a line is for the text before the cursor.
    c.send(b"\x01\x1b[C\x1b[C\x1b[C\x1b[C?");
    assert_eq!(c.s.editor().text(), "show session ");
    assert_eq!(c.s.editor().cursor(), 4);
}

#[test]
fn tab_completes_or_lists() {
    let mut c = Client::local();
    c.take();
    assert_eq!(c.send(b"sh\t"), "show ");
    // The echo of "ver", then the rest of the word.
    assert_eq!(c.send(b"ver\t"), "version ");
    assert_eq!(c.s.editor().text(), "show version ");
    c.send(b"\x15show t\t");
    let out = c.send(b"\t");
    assert!(out.contains("tbf"), "{out:?}");
    assert!(out.contains("tunnels"), "{out:?}");
    assert!(out.ends_with("l2tpns> show t"), "{out:?}");
    // Common prefix: "show h" has only histogram.
    c.send(b"\x15show h\t");
    assert_eq!(c.s.editor().text(), "show histogram ");
    // Nothing to complete: bell.
    assert!(c.send(b"\x15frob\t").ends_with("frob\x07"));
}

#[test]
fn history_recalls_with_arrows() {
    let mut c = Client::local();
    c.send(b"show version\r");
    c.execute(&["l2tpns 2.4.1"]);
    c.send(b"uptime\r");
    c.execute(&[]);
    c.take();
    c.send(b"\x1b[A\x1b[A");
    assert_eq!(c.s.editor().text(), "show version");
    c.send(b"\x1b[B");
    assert_eq!(c.s.editor().text(), "uptime");
    c.send(b"\r");
    assert_eq!(c.execute(&[]).0, CommandId::Uptime);
    c.send(b"history\r");
    let out = c.take();
    assert!(
        out.contains("  0. show version\r\n  1. uptime\r\n"),
        "{out:?}"
    );
}

#[test]
fn filters_apply_to_each_line() {
    let mut c = Client::local();
    c.send(b"show users | include ^b\r");
    c.take();
    c.execute(&["alice", "bob", "barbara", "carol"]);
    let out = c.take();
    assert_eq!(out, "bob\r\nbarbara\r\n\r\nl2tpns> ");
    c.send(b"show users | exclude b | count\r");
    c.take();
    c.execute(&["alice", "bob", "carol"]);
    assert_eq!(c.take(), "2\r\n\r\nl2tpns> ");
    // Built-ins filter too.
    c.send(b"help | include ^  uptime\r");
    assert!(c.take().contains("uptime"));
}

#[test]
fn enable_configure_and_submodes() {
    let mut c = Client::new(USERS, false);
    c.send(b"admin\rsecret\r");
    c.take();
    let out = c.send(b"enable\r");
    assert_eq!(out, "enable\r\nPassword: ");
    let out = c.send(b"en\r");
    assert!(!out.contains("en\r\n\r\n"), "password echoed: {out:?}");
    assert!(out.ends_with("l2tpns# "), "{out:?}");
    assert_eq!(c.s.privilege(), Privilege::Enable);
    assert!(c.send(b"conf t\r").ends_with("l2tpns(config)# "));
    assert!(c.send(b"exit\r").ends_with("l2tpns# "));
    c.send(b"configure terminal\r");
    assert!(c.send(b"end\r").ends_with("l2tpns# "));
    c.send(b"conf t\r");
    assert!(c.send(b"\x1a").ends_with("l2tpns# "));
    assert_eq!(c.s.mode(), Mode::Exec);
    // `set` with a completed variable.
    c.send(b"conf t\rset radius_sec\t");
    assert_eq!(c.s.editor().text(), "set radius_secret ");
    c.send(b"xyz\r");
    assert_eq!(
        c.execute(&[]),
        (CommandId::Set, vec!["radius_secret".into(), "xyz".into()])
    );
    // A submode is entered only if the daemon accepts the command.
    c.send(b"router bgp 65000\r");
    c.requests();
    c.s.command_done(Outcome::Failed);
    assert_eq!(c.s.mode(), Mode::Config);
    c.send(b"router bgp 65000\r");
    c.execute(&[]);
    assert!(c.take().ends_with("l2tpns(config-router)# "));
    c.send(b"ip access-list extended web\r");
    assert_eq!(c.execute(&[]).0, CommandId::IpAccessList);
    assert_eq!(c.s.mode(), Mode::ConfigAcl { extended: true });
    assert!(c.take().ends_with("(config-ext-nacl)# "));
    assert!(c.send(b"exit\r").ends_with("l2tpns(config)# "));
    // disable drops privilege and leaves config.
    c.send(b"end\rdisable\r");
    assert_eq!((c.s.privilege(), c.s.mode()), (Privilege::User, Mode::Exec));
}

#[test]
fn wrong_enable_password_and_remote_without_one() {
    let mut c = Client::new(USERS, false);
    c.send(b"admin\rsecret\renable\rnope\r");
    assert!(c.take().contains("Access denied"));
    assert_eq!(c.s.privilege(), Privilege::User);
    assert!(!c.s.is_closed());
    let mut c = Client::new("admin:secret\n", false);
    c.send(b"admin\rsecret\renable\r");
    assert!(c.take().contains("no enable password"));
    assert_eq!(c.s.privilege(), Privilege::User);
    // Local and no enable password: granted, as libcli.
    let mut c = Client::local();
    c.send(b"enable\r");
    assert_eq!(c.s.privilege(), Privilege::Enable);
}

#[test]
fn ways_to_leave() {
    for (keys, reason) in [
        (&b"quit\r"[..], CloseReason::Quit),
        (b"logout\r", CloseReason::Quit),
        (b"exit\r", CloseReason::Quit),
        (b"\x04", CloseReason::EndOfInput),
        (b"ab\x03\x04", CloseReason::EndOfInput),
    ] {
        let mut c = Client::local();
        c.send(keys);
        assert!(c.s.is_closed(), "{keys:?}");
        assert_eq!(c.requests().last(), Some(&CliRequest::Close(reason)));
    }
    // ctrl-C clears the line and keeps the session.
    let mut c = Client::local();
    c.take();
    assert_eq!(c.send(b"show\x03"), "show^C\r\n\r\nl2tpns> ");
    assert!(!c.s.is_closed());
}

#[test]
fn keys_typed_while_busy_run_after() {
    let mut c = Client::local();
    c.send(b"show version\rshow pool\r");
    assert_eq!(c.s.typeahead_len(), 10);
    assert_eq!(c.execute(&["v"]).0, CommandId::ShowVersion);
    assert_eq!(c.execute(&[]).0, CommandId::ShowPool);
}

#[test]
fn output_is_sanitised() {
    let mut c = Client::local();
    c.send(b"show users\r");
    c.take();
    c.execute(&["evil\x1b[2Jname\rx"]);
    assert!(c.take().starts_with("evil?[2Jname?x\r\n"));
}

#[test]
fn input_waits_while_output_is_not_sent() {
    let mut c = Client::local();
    // Each `?` on an empty line lists every command: a lot of output.
    let input = vec![b'?'; 10_000];
    let n = c.s.handle_input(&input);
    assert!(n < input.len());
    assert!(c.s.pending_transmit() <= MAX_PENDING_TX + 16 * 1024);
}

#[test]
fn long_lines_and_many_lines_stay_bounded() {
    let mut c = Client::local();
    c.send(&vec![b'a'; 100_000]);
    assert_eq!(c.s.editor().text().len(), MAX_LINE);
    c.send(b"\x15");
    for i in 0..1000 {
        c.send(format!("x{i}\r").as_bytes());
    }
    assert_eq!(c.s.editor().history().count(), MAX_HISTORY);
}

/// Byte pieces a fuzzer would take long to find: telnet commands, escape
/// sequences, and words the parser knows.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..16),
        Just(vec![255]),
        Just(vec![255, 250, 31]),
        Just(vec![255, 240]),
        Just(vec![255, 253]),
        Just(b"\x1b[".to_vec()),
        Just(b"\x1b[A".to_vec()),
        Just(b"?".to_vec()),
        Just(b"\t".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"admin\rsecret\r".to_vec()),
        Just(b"enable\ren\r".to_vec()),
        Just(b"conf t\r".to_vec()),
        Just(b"router bgp 1\r".to_vec()),
        Just(b"show ".to_vec()),
        Just(b"| include (".to_vec()),
        Just(b"| count".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\x1a".to_vec()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes_never_panic_and_stay_bounded(
        pieces in prop::collection::vec(piece(), 0..64),
        local in any::<bool>(),
    ) {
        let mut s = CliSession::new("l2tpns", policy(USERS, local));
        for p in &pieces {
            let mut rest = &p[..];
            while !rest.is_empty() && !s.is_closed() {
                let n = s.handle_input(rest);
                rest = &rest[n..];
                // Output per call stays bounded even when not drained at once.
                prop_assert!(s.pending_transmit() <= MAX_PENDING_TX + 16 * 1024);
                while s.poll_transmit().is_some() {}
                while let Some(r) = s.poll_request() {
                    if let CliRequest::Execute { .. } = r {
                        s.command_output(["line one", "line two"]);
                        s.command_done(Outcome::Done);
                    }
                }
            }
            prop_assert!(s.editor().text().len() <= MAX_LINE);
            prop_assert!(s.editor().history().count() <= MAX_HISTORY);
            prop_assert!(s.typeahead_len() <= super::session::MAX_TYPEAHEAD);
        }
    }
}
