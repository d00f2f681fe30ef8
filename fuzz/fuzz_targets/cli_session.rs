//! Fuzz a telnet CLI session: arbitrary client bytes, split where the first
//! byte says, into a session that logs in, with a stub executor that answers
//! every command. Checks the session's bounds after every piece.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use std::sync::Arc;

use l2tpns::cli::session::{MAX_PENDING_TX, MAX_TYPEAHEAD};
use l2tpns::cli::{CliRequest, CliSession, LoginPolicy, Outcome};
use l2tpns::config::parse_users;

const USERS: &str = "admin:secret\nops:$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/\nenable:en\n";

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, input)) = data.split_first() else {
        return;
    };
    let users = parse_users(USERS, Path::new("users")).expect("fixed users text parses");
    let local = ctl & 1 == 1;
    let chunk = usize::from(ctl >> 1).max(1);
    let mut s = CliSession::new("fuzz", LoginPolicy::new(Arc::new(users), local));
    for piece in input.chunks(chunk) {
        let mut rest = piece;
        while !rest.is_empty() && !s.is_closed() {
            let n = s.handle_input(rest);
            rest = &rest[n..];
            assert!(s.pending_transmit() <= MAX_PENDING_TX + 16 * 1024);
            while s.poll_transmit().is_some() {}
            while let Some(r) = s.poll_request() {
                if let CliRequest::Execute { command, args } = r {
                    s.command_output([format!("{command:?}"), args.join(" ")]);
                    s.command_done(if args.len() % 2 == 0 {
                        Outcome::Done
                    } else {
                        Outcome::Failed
                    });
                }
            }
        }
        assert!(s.typeahead_len() <= MAX_TYPEAHEAD);
    }
});
