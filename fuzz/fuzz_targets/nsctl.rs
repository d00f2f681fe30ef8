//! Fuzz the nsctl path: the checked packet view, request and response
//! parsing with an emit/parse round trip, the client's reply checks and
//! printing, and the server answering arbitrary datagrams through a stub
//! plugin chain (every answer must itself be a well-formed response).
#![no_main]

use l2tpns::nsctl::chain::{collect_help, run_control};
use l2tpns::nsctl::client;
use l2tpns::nsctl::wire::{Packet, Request, Response, MAX_PACKET};
use l2tpns::nsctl::{
    ClusterRole, ControlHandler, ControlPlugin, ControlReply, ControlServer, LoadOutcome,
    PluginVerdict, ResponseKind, UnloadOutcome,
};
use libfuzzer_sys::fuzz_target;

/// Answers `drop alice`, errs on other drops, echoes `echo ARGS` back (so
/// long arguments reach the response packer).
struct Echo;

impl ControlPlugin for Echo {
    fn help(&self) -> Vec<String> {
        vec!["  drop USER".into(), "  echo ARG...".into()]
    }
    fn control(&mut self, _: ClusterRole, args: &[String]) -> PluginVerdict {
        match args.first().map(String::as_str) {
            Some("drop") if args.get(1).is_some_and(|u| u == "alice") => PluginVerdict::Stop {
                kind: ResponseKind::Ok,
                additional: None,
            },
            Some("drop") => PluginVerdict::Error(Some("session not found".into())),
            Some("echo") => PluginVerdict::Stop {
                kind: ResponseKind::Ok,
                additional: Some(args[1..].join(" ")),
            },
            Some("master") => PluginVerdict::NotMaster,
            _ => PluginVerdict::Pass,
        }
    }
}

struct Plugins(Vec<Echo>);

impl ControlHandler for Plugins {
    fn help(&self) -> Vec<String> {
        collect_help(self.0.iter().map(|p| p as &dyn ControlPlugin))
    }
    fn load_plugin(&mut self, name: &str) -> LoadOutcome {
        if name.len() % 2 == 0 {
            self.0.push(Echo);
            LoadOutcome::Loaded
        } else {
            LoadOutcome::Failed
        }
    }
    fn unload_plugin(&mut self, _: &str) -> UnloadOutcome {
        match self.0.pop() {
            Some(_) => UnloadOutcome::Unloaded,
            None => UnloadOutcome::NotLoaded,
        }
    }
    fn control(&mut self, args: &[String]) -> ControlReply {
        let role = ClusterRole {
            iam_master: args.len() % 2 == 0,
            master: None,
        };
        run_control(
            self.0.iter_mut().map(|p| p as &mut dyn ControlPlugin),
            role,
            args,
        )
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        assert_eq!(p.args().count(), p.argc());
        let _ = client::dump(&p);
    }
    if let Ok(req) = Request::parse(data) {
        let out = req.to_bytes().expect("a parsed request re-emits");
        assert_eq!(out, data);
        assert_eq!(Request::parse(&out), Ok(req));
    }
    if let Ok(res) = Response::parse(data) {
        assert_eq!(res.to_bytes().expect("a parsed response re-emits"), data);
    }
    match client::check_reply(data) {
        Ok(p) => {
            let _ = client::render_reply(&p);
        }
        Err(e) => {
            let _ = client::reply_error(&e);
        }
    }

    let mut server = ControlServer::new();
    let mut plugins = Plugins(vec![Echo]);
    let mut out = [0u8; MAX_PACKET];
    let answer = server
        .handle(data, &mut plugins, &mut out)
        .expect("a 4096-byte buffer always takes the answer");
    assert!(answer.len <= MAX_PACKET);
    assert_eq!(Response::parse(&out[..answer.len]), Ok(answer.response));
    assert_eq!(
        server.counters().malformed(),
        u64::from(answer.request.is_err())
    );
});
