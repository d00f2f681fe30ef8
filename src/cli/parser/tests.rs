//! Parser tests: abbreviations, ambiguity, errors, arguments, filters, help
//! and completion, in each mode and privilege.

use super::*;
use crate::cli::commands::CommandId as C;

const U: Privilege = Privilege::User;
const P: Privilege = Privilege::Enable;

fn id(line: &str, mode: Mode, p: Privilege) -> Result<(C, Vec<String>), ParseError> {
    parse(line, mode, p).map(|x| (x.spec.id, x.args))
}

fn ok(line: &str, mode: Mode, p: Privilege) -> (C, Vec<String>) {
    match id(line, mode, p) {
        Ok(x) => x,
        Err(e) => panic!("{line}: {e}"),
    }
}

#[test]
fn abbreviations_and_case() {
    assert_eq!(ok("sh ses", Mode::Exec, U), (C::ShowSession, vec![]));
    assert_eq!(
        ok("SHOW Session 12", Mode::Exec, U),
        (C::ShowSession, vec!["12".into()])
    );
    assert_eq!(ok("sho ses 1 2", Mode::Exec, P).1, ["1", "2"]);
    assert_eq!(ok("sh hist i", Mode::Exec, U).0, C::ShowHistogramIdle);
    assert_eq!(
        ok("dr u bob", Mode::Exec, P),
        (C::DropUser, vec!["bob".into()])
    );
    assert_eq!(ok("no deb all", Mode::Exec, U).0, C::NoDebug);
    assert_eq!(ok("conf t", Mode::Exec, P).0, C::ConfigureTerminal);
    assert_eq!(ok("  show   version  ", Mode::Exec, U).0, C::ShowVersion);
}

#[test]
fn ambiguity_depends_on_what_is_visible() {
    // As a user only `show` starts with s; enabled, shutdown/snoop/suspend too.
    assert_eq!(id("s", Mode::Exec, U), Err(ParseError::Incomplete));
    assert_eq!(
        id("s", Mode::Exec, P),
        Err(ParseError::Ambiguous("s".into()))
    );
    assert_eq!(
        id("sh ses", Mode::Exec, P),
        Err(ParseError::Ambiguous("sh".into()))
    );
    assert_eq!(
        id("show t", Mode::Exec, U),
        Err(ParseError::Ambiguous("show t".into()))
    );
    assert_eq!(
        id("s", Mode::Exec, P).unwrap_err().to_string(),
        "Ambiguous command \"s\""
    );
}

#[test]
fn errors_read_like_libcli() {
    let e = |l: &str, p| id(l, Mode::Exec, p).unwrap_err().to_string();
    assert_eq!(e("frobnicate", U), "Invalid command \"frobnicate\"");
    assert_eq!(e("show frob", U), "Invalid command \"show frob\"");
    assert_eq!(e("show", U), "Incomplete command");
    assert_eq!(e("drop user", P), "Incomplete command");
    assert_eq!(e("show version now", U), "Invalid argument \"now\"");
    // Privileged commands do not exist for a user.
    assert_eq!(e("shutdown", U), "Invalid command \"shutdown\"");
    assert_eq!(e("drop user bob", U), "Invalid command \"drop\"");
    // Config commands do not exist in exec mode.
    assert_eq!(e("set debug 3", P), "Invalid command \"set\"");
    assert_eq!(id("", Mode::Exec, U), Err(ParseError::Empty));
    assert_eq!(e("| include x", U), "Invalid command \"|\"");
}

#[test]
fn config_mode_and_submodes() {
    assert_eq!(
        ok("set debug 3", Mode::Config, P),
        (C::Set, vec!["debug".into(), "3".into()])
    );
    assert_eq!(ok("loa pl garden", Mode::Config, P).0, C::LoadPlugin);
    // `logout` exists in every mode.
    assert_eq!(
        id("lo", Mode::Config, P),
        Err(ParseError::Ambiguous("lo".into()))
    );
    assert_eq!(ok("exit", Mode::Config, P).0, C::Exit);
    assert_eq!(ok("end", Mode::Config, P).0, C::End);
    // A config command in a submode runs in config mode.
    let p = parse("set hostname x", Mode::ConfigBgp, P).unwrap();
    assert_eq!((p.spec.id, p.mode), (C::Set, Mode::Config));
    let p = parse("neighbour a remote-as 5", Mode::ConfigBgp, P).unwrap();
    assert_eq!((p.spec.id, p.mode), (C::BgpNeighbour, Mode::ConfigBgp));
    assert_eq!(
        ok(
            "permit 10.0.0.0 0.0.0.255",
            Mode::ConfigAcl { extended: false },
            P
        )
        .0,
        C::AccessListPermit
    );
    assert!(parse("permit x", Mode::Config, P).is_err());
}

#[test]
fn quotes_and_pipes() {
    let t = tokenize(r#"drop user "a b"|inc x"#);
    let words: Vec<_> = t.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(words, ["drop", "user", "a b", "|", "inc", "x"]);
    assert!(t[3].pipe);
    assert_eq!(ok(r#"drop user "a|b""#, Mode::Exec, P).1, ["a|b"]);
    let p = parse("show session | include bob | count", Mode::Exec, U).unwrap();
    assert!(p.filter.is_some());
    assert_eq!(p.args, Vec::<String>::new());
    assert_eq!(
        id("show session | sort", Mode::Exec, U)
            .unwrap_err()
            .to_string(),
        "Invalid filter \"sort\""
    );
    assert_eq!(
        id("show session |", Mode::Exec, U).unwrap_err().to_string(),
        "Missing filter"
    );
}

#[test]
fn help_lists_words_arguments_and_cr() {
    let h = help("", Mode::Exec, U);
    assert!(h.iter().any(|l| l.starts_with("  show ")), "{h:?}");
    assert!(!h.iter().any(|l| l.contains("shutdown")));
    let h = help("show ", Mode::Exec, U);
    assert!(h
        .iter()
        .any(|l| l.starts_with("  session") && l.contains("Show a list of sessions")));
    let h = help("show se", Mode::Exec, U);
    assert_eq!(
        h,
        ["  session              Show a list of sessions or details for a single session"]
    );
    let h = help("show session ", Mode::Exec, U);
    assert_eq!(
        h,
        [
            "  <1-59999>            Show specific session by id",
            "  <cr>"
        ]
    );
    let h = help("show version ", Mode::Exec, U);
    assert_eq!(h, ["  <cr>"]);
    let h = help("set debu", Mode::Config, P);
    assert_eq!(h, ["  debug"]);
    let h = help("show session | ", Mode::Exec, U);
    assert!(h.iter().any(|l| l.starts_with("  include")));
    let h = help("show session | inc ", Mode::Exec, U);
    assert_eq!(h, ["  WORD", "  <cr>"]);
    let h = help("frob ", Mode::Exec, U);
    assert_eq!(h, ["% Invalid command \"frob\""]);
}

#[test]
fn completion_candidates() {
    assert_eq!(complete("sh", Mode::Exec, U), (2, vec!["show".into()]));
    assert_eq!(
        complete("show t", Mode::Exec, U),
        (1, vec!["tbf".into(), "throttle".into(), "tunnels".into()])
    );
    assert_eq!(
        complete("set radius_sec", Mode::Config, P),
        (10, vec!["radius_secret".into()])
    );
    assert_eq!(
        complete("show pool ", Mode::Exec, U),
        (0, vec!["all".into()])
    );
    assert_eq!(complete("drop user b", Mode::Exec, P), (1, vec![]));
    assert_eq!(
        complete("show session | inc", Mode::Exec, U),
        (3, vec!["include".into()])
    );
    assert_eq!(
        complete("debug cr", Mode::Exec, U),
        (2, vec!["critical".into()])
    );
}
