//! Tests for the nsctl codec, server, chain and client logic. Byte strings
//! were captured from Debian's `/usr/sbin/nsctl` (l2tpns 2.4.1) sending to a
//! UDP socket on 127.0.0.1, and the expected output from what it printed for
//! each reply (see Docs/NSCTL.md).

use std::net::Ipv4Addr;

use proptest::prelude::*;

use super::client::{self, CliError};
use super::server::*;
use super::wire::*;
use super::{chain::*, ControlServer};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// (command line given to Debian's nsctl, datagram it sent)
const CAPTURED_REQUESTS: &[(&[&str], &str)] = &[
    (&["help"], "90131300ff"),
    (
        &["load_plugin", "sessionctl"],
        "901311010a73657373696f6e63746cff",
    ),
    (&["unload_plugin", "garden"], "901312010667617264656eff"),
    (&["drop", "alice"], "901314020464726f7005616c696365ff"),
    (
        &["drop", "alice", "bye now"],
        "901314030464726f7005616c69636507627965206e6f77ff",
    ),
    (&["show"], "901314010473686f77ff"),
    (&["x", ""], "90131402017800ff"),
    (&["load_plugin"], "90131100ff"),
];

#[test]
fn captured_requests_parse_and_reemit_identically() {
    for (argv, bytes) in CAPTURED_REQUESTS {
        let bytes = hex(bytes);
        let req = Request::parse(&bytes).unwrap();
        let argv = strings(argv);
        assert_eq!(req, client::request_for(&argv), "{argv:?}");
        assert_eq!(req.to_bytes().unwrap(), bytes, "{argv:?}");
    }
}

#[test]
fn captured_request_kinds() {
    let kinds: Vec<_> = CAPTURED_REQUESTS
        .iter()
        .map(|(_, b)| Request::parse(&hex(b)).unwrap().kind)
        .collect();
    use RequestKind::*;
    assert_eq!(
        kinds,
        [Help, Load, Unload, Control, Control, Control, Control, Load]
    );
}

/// (reply bytes, what Debian's nsctl printed on stdout, on stderr, exit)
const CAPTURED_REPLIES: &[(&str, &str, &str, i32)] = &[
    ("90132100ff", "", "", 0),
    (
        "9013220110756e68616e646c656420616374696f6eff",
        "",
        "unhandled action\n",
        1,
    ),
    ("901321030161000162ff", "a\n\nb\n", "", 0),
    ("9013220100ff", "", "\n", 1),
    ("90132200ff", "", "", 1),
    ("9013210103780079ff", "x\n", "", 0),
];

#[test]
fn replies_print_as_debian_nsctl_printed_them() {
    for (bytes, out, err, code) in CAPTURED_REPLIES {
        let bytes = hex(bytes);
        let p = client::check_reply(&bytes).unwrap();
        let printed = client::render_reply(&p);
        assert_eq!(printed.stdout, out.as_bytes(), "{bytes:02x?}");
        assert_eq!(printed.stderr, err.as_bytes(), "{bytes:02x?}");
        assert_eq!(printed.exit, *code);
    }
}

/// (reply bytes, nsctl's complaint: "nsctl: <this>")
const BAD_REPLIES: &[(&str, &str)] = &[
    ("9014210000ff", "bad magic"),
    ("901321", "short packet"),
    ("90132100ffaa", "extra data"),
    ("90132200", "short packet"),
    ("90131400ff", "unknown error"),
    ("90133300ff", "invalid type"),
    ("9013210105616263ff", "short packet"),
    ("9013210101780141ff", "short packet"),
    (
        "901322010f756e68616e646c656420616374696f6eff",
        "short packet",
    ),
];

#[test]
fn bad_replies_get_debian_nsctl_complaints() {
    for (bytes, complaint) in BAD_REPLIES {
        let e = client::check_reply(&hex(bytes)).unwrap_err();
        assert_eq!(client::reply_error(&e), *complaint, "{bytes}");
    }
}

#[test]
fn parse_errors_are_typed() {
    assert_eq!(Request::parse(&[]), Err(ParseError::Short));
    assert_eq!(Request::parse(&hex("901314")), Err(ParseError::Short));
    assert_eq!(
        Request::parse(&hex("12341400ff")),
        Err(ParseError::Magic(0x1234))
    );
    assert_eq!(Request::parse(&hex("90130100ff")), Err(ParseError::Type(1)));
    assert_eq!(Request::parse(&hex("90131400ff00")), Err(ParseError::Long));
    assert_eq!(Request::parse(&hex("90131400fe")), Err(ParseError::Short));
    assert_eq!(
        Request::parse(&hex("90132100ff")),
        Err(ParseError::Direction(MessageType::Ok))
    );
    assert_eq!(
        Request::parse(&hex("90131401 01ff ff".replace(' ', "").as_str())),
        Err(ParseError::NotUtf8 { index: 0 })
    );
    assert_eq!(
        Response::parse(&hex("90131300ff")),
        Err(ParseError::Direction(MessageType::Help))
    );
    let mut big = hex("90131401");
    big.resize(MAX_PACKET + 1, b'a');
    assert_eq!(Request::parse(&big), Err(ParseError::Long));
}

#[test]
fn an_argument_may_be_255_bytes_and_its_length_byte_0xff() {
    let req = Request {
        kind: RequestKind::Control,
        args: vec!["x".repeat(255)],
    };
    let bytes = req.to_bytes().unwrap();
    assert_eq!(&bytes[..5], &hex("90131401ff")[..]);
    assert_eq!(Request::parse(&bytes).unwrap(), req);
}

#[test]
fn emit_refuses_what_does_not_fit() {
    let long = Request {
        kind: RequestKind::Control,
        args: vec!["x".repeat(256)],
    };
    assert_eq!(
        long.to_bytes(),
        Err(EmitError::ArgTooLong { index: 0, len: 256 })
    );
    let many = Response::ok(vec!["a"; 256]);
    assert_eq!(many.to_bytes(), Err(EmitError::TooManyArgs(256)));
    let big = Response::ok(vec!["y".repeat(200); 21]);
    assert!(matches!(big.to_bytes(), Err(EmitError::NoRoom { .. })));
    let mut small = [0u8; 4];
    assert!(matches!(
        Response::ok(Vec::<String>::new()).emit(&mut small),
        Err(EmitError::NoRoom { .. })
    ));
}

fn arb_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..40)
        .prop_map(|v| v.into_iter().collect::<String>())
        .prop_filter("fits", |s| s.len() <= MAX_ARG)
}

fn arb_request() -> impl Strategy<Value = Request> {
    let kind = prop_oneof![
        Just(RequestKind::Load),
        Just(RequestKind::Unload),
        Just(RequestKind::Help),
        Just(RequestKind::Control)
    ];
    (kind, proptest::collection::vec(arb_string(), 0..20))
        .prop_map(|(kind, args)| Request { kind, args })
}

fn arb_response() -> impl Strategy<Value = Response> {
    let kind = prop_oneof![Just(ResponseKind::Ok), Just(ResponseKind::Err)];
    (kind, proptest::collection::vec(arb_string(), 0..20))
        .prop_map(|(kind, args)| Response { kind, args })
}

proptest! {
    #[test]
    fn request_round_trips(req in arb_request()) {
        let bytes = req.to_bytes().unwrap();
        prop_assert_eq!(Request::parse(&bytes).unwrap(), req);
    }

    #[test]
    fn response_round_trips(res in arb_response()) {
        let bytes = res.to_bytes().unwrap();
        prop_assert_eq!(Response::parse(&bytes).unwrap(), res);
    }

    #[test]
    fn any_bytes_parse_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Request::parse(&bytes);
        let _ = Response::parse(&bytes);
        if let Ok(p) = Packet::new_checked(&bytes) {
            prop_assert_eq!(p.args().count(), p.argc());
        }
    }
}

/// A stand-in for the daemon's plugin list: sessionctl's `drop`.
#[derive(Default)]
struct Stub {
    loaded: Vec<String>,
}

impl ControlHandler for Stub {
    fn help(&self) -> Vec<String> {
        if self.loaded.iter().any(|p| p == "sessionctl") {
            vec!["  drop USER|SID [REASON]                      Shutdown user session".into()]
        } else {
            Vec::new()
        }
    }
    fn load_plugin(&mut self, name: &str) -> LoadOutcome {
        if name == "nosuch" {
            LoadOutcome::Failed
        } else if self.loaded.iter().any(|p| p == name) {
            LoadOutcome::AlreadyLoaded
        } else {
            self.loaded.push(name.into());
            LoadOutcome::Loaded
        }
    }
    fn unload_plugin(&mut self, name: &str) -> UnloadOutcome {
        match self.loaded.iter().position(|p| p == name) {
            Some(i) => {
                self.loaded.remove(i);
                UnloadOutcome::Unloaded
            }
            None if name == "nosuch" => UnloadOutcome::NotFound,
            None => UnloadOutcome::NotLoaded,
        }
    }
    fn control(&mut self, args: &[String]) -> ControlReply {
        match args {
            [cmd, user] if cmd == "drop" && user == "alice" => ControlReply::Handled {
                kind: ResponseKind::Ok,
                additional: None,
            },
            [cmd, ..] if cmd == "drop" => ControlReply::err("session not found"),
            _ => ControlReply::Unhandled,
        }
    }
}

fn ask(server: &mut ControlServer, stub: &mut Stub, argv: &[&str]) -> Response {
    let req = client::request_for(&strings(argv)).to_bytes().unwrap();
    let mut out = [0u8; MAX_PACKET];
    let a = server.handle(&req, stub, &mut out).unwrap();
    assert_eq!(Response::parse(&out[..a.len]).unwrap(), a.response);
    a.response
}

#[test]
fn server_answers_builtins_with_l2tpns_texts() {
    let mut s = ControlServer::new();
    let mut h = Stub::default();
    assert_eq!(
        ask(&mut s, &mut h, &["help"]),
        Response::ok(Vec::<String>::new())
    );
    assert_eq!(
        ask(&mut s, &mut h, &["load_plugin", "sessionctl"]),
        Response::ok(Vec::<String>::new())
    );
    assert_eq!(
        ask(&mut s, &mut h, &["load_plugin", "sessionctl"]),
        Response::err("plugin already loaded")
    );
    assert_eq!(
        ask(&mut s, &mut h, &["load_plugin", "nosuch"]),
        Response::err("error loading plugin")
    );
    assert_eq!(
        ask(&mut s, &mut h, &["load_plugin"]),
        Response::err("name of plugin required")
    );
    assert_eq!(
        ask(&mut s, &mut h, &["load_plugin", "a", "b"]),
        Response::err("name of plugin required")
    );
    assert_eq!(ask(&mut s, &mut h, &["help"]).args.len(), 1);
    assert_eq!(
        ask(&mut s, &mut h, &["unload_plugin", "garden"]),
        Response::err("plugin not loaded")
    );
    assert_eq!(
        ask(&mut s, &mut h, &["unload_plugin", "nosuch"]),
        Response::err("plugin not found")
    );
    assert_eq!(
        ask(&mut s, &mut h, &["unload_plugin", "sessionctl"]),
        Response::ok(Vec::<String>::new())
    );
    let c = s.counters();
    assert_eq!((c.help, c.load, c.unload, c.malformed()), (2, 5, 3, 0));
}

#[test]
fn server_passes_other_commands_to_the_handler() {
    let mut s = ControlServer::new();
    let mut h = Stub::default();
    assert_eq!(
        ask(&mut s, &mut h, &["drop", "alice"]),
        Response::ok(Vec::<String>::new())
    );
    assert_eq!(
        ask(&mut s, &mut h, &["drop", "bob"]),
        Response::err("session not found")
    );
    assert_eq!(
        ask(&mut s, &mut h, &["show"]),
        Response::err("unhandled action")
    );
    assert_eq!((s.counters().control, s.counters().unhandled), (3, 1));
}

#[test]
fn server_answers_malformed_datagrams_and_counts_them() {
    let mut s = ControlServer::new();
    let mut h = Stub::default();
    let mut out = [0u8; MAX_PACKET];
    for bad in [
        "",
        "9013",
        "12341400ff",
        "90139900ff",
        "90131400ff00",
        "90132100ff",
        "9013140101ffff",
    ] {
        let a = s.handle(&hex(bad), &mut h, &mut out).unwrap();
        assert_eq!(
            &out[..a.len],
            &hex("901322011e6572726f7220756e7061636b696e6720636f6e74726f6c207061636b6574ff")[..]
        );
        assert!(a.request.is_err());
    }
    let c = s.counters();
    assert_eq!(
        (
            c.short,
            c.bad_magic,
            c.bad_type,
            c.long,
            c.not_request,
            c.not_utf8
        ),
        (2, 1, 1, 1, 1, 1)
    );
    assert_eq!(c.malformed(), 7);
}

struct LongHelp;
impl ControlHandler for LongHelp {
    fn help(&self) -> Vec<String> {
        vec!["é".repeat(200); 30]
    }
    fn load_plugin(&mut self, _: &str) -> LoadOutcome {
        LoadOutcome::Failed
    }
    fn unload_plugin(&mut self, _: &str) -> UnloadOutcome {
        UnloadOutcome::NotFound
    }
    fn control(&mut self, _: &[String]) -> ControlReply {
        ControlReply::Unhandled
    }
}

#[test]
fn server_cuts_an_oversized_response_to_one_datagram() {
    let mut s = ControlServer::new();
    let mut out = [0u8; MAX_PACKET];
    let a = s
        .handle(&hex("90131300ff"), &mut LongHelp, &mut out)
        .unwrap();
    let r = Response::parse(&out[..a.len]).unwrap();
    assert!(
        a.len <= MAX_PACKET && r.args.len() == 16,
        "{} lines",
        r.args.len()
    );
    assert!(r.args.iter().all(|l| l.len() == 254));
    assert_eq!(s.counters().truncated, 1);
}

#[test]
fn control_replies_map_to_l2tpns_responses() {
    assert_eq!(
        ControlReply::Error(None).into_response(),
        Response::err("error returned by plugin")
    );
    assert_eq!(
        ControlReply::Error(Some("boom".into())).into_response(),
        Response::err("boom")
    );
    assert_eq!(
        ControlReply::NotMaster(Some(Ipv4Addr::new(192, 0, 2, 7))).into_response(),
        Response::err("must be run on master: 192.0.2.7")
    );
    assert_eq!(
        ControlReply::NotMaster(None).into_response(),
        Response::err("must be run on master: none elected")
    );
    assert_eq!(
        ControlReply::ok("done").into_response(),
        Response::ok(["done"])
    );
}

struct Word(&'static str, PluginVerdict);
impl ControlPlugin for Word {
    fn help(&self) -> Vec<String> {
        vec![format!("  {}", self.0)]
    }
    fn control(&mut self, role: ClusterRole, args: &[String]) -> PluginVerdict {
        match args.first() {
            Some(w) if w == self.0 && !role.iam_master => PluginVerdict::NotMaster,
            Some(w) if w == self.0 => self.1.clone(),
            _ => PluginVerdict::Pass,
        }
    }
}

#[test]
fn chain_asks_plugins_in_load_order_and_first_answer_wins() {
    let stop = |t: &str| PluginVerdict::Stop {
        kind: ResponseKind::Ok,
        additional: Some(t.into()),
    };
    let mut a = Word("drop", stop("first"));
    let mut b = Word("drop", stop("second"));
    let mut c = Word("garden", PluginVerdict::Error(None));
    let role = ClusterRole::STANDALONE;
    {
        let plugins: Vec<&mut dyn ControlPlugin> = vec![&mut a, &mut b, &mut c];
        assert_eq!(
            run_control(plugins, role, &strings(&["drop", "x"])),
            ControlReply::ok("first")
        );
    }
    let plugins: Vec<&mut dyn ControlPlugin> = vec![&mut b, &mut c];
    assert_eq!(
        run_control(plugins, role, &strings(&["garden"])),
        ControlReply::Error(None)
    );
    let plugins: Vec<&mut dyn ControlPlugin> = vec![&mut a, &mut c];
    assert_eq!(
        run_control(plugins, role, &strings(&["show"])),
        ControlReply::Unhandled
    );
    assert_eq!(run_control(Vec::new(), role, &[]), ControlReply::Unhandled);
    let slave = ClusterRole {
        iam_master: false,
        master: Some(Ipv4Addr::new(10, 0, 0, 1)),
    };
    let plugins: Vec<&mut dyn ControlPlugin> = vec![&mut a];
    assert_eq!(
        run_control(plugins, slave, &strings(&["drop", "x"])),
        ControlReply::NotMaster(Some(Ipv4Addr::new(10, 0, 0, 1)))
    );
    let all: Vec<&dyn ControlPlugin> = vec![&a, &b, &c];
    assert_eq!(
        collect_help(all),
        strings(&["  drop", "  drop", "  garden"])
    );
}

fn cli(v: &[&str]) -> Result<client::Invocation, CliError> {
    client::parse_command_line(&strings(v))
}

#[test]
fn command_line_follows_nsctl_getopt() {
    let i = cli(&["drop", "alice"]).unwrap();
    assert_eq!((i.host.as_str(), i.port, i.debug), ("127.0.0.1", 1702, 0));
    assert_eq!(i.timeout, Some(std::time::Duration::from_secs(2)));
    // GNU getopt permutes: options after the command still count.
    let i = cli(&["drop", "-t", "1", "alice"]).unwrap();
    assert_eq!(
        (i.command, i.timeout.map(|d| d.as_secs())),
        (strings(&["drop", "alice"]), Some(1))
    );
    let i = cli(&["-dd", "-t1", "-h", "10.0.0.1:1234", "x", "-"]).unwrap();
    assert_eq!((i.debug, i.host.as_str(), i.port), (2, "10.0.0.1", 1234));
    assert_eq!(i.command, strings(&["x", "-"]));
    assert_eq!(
        cli(&["drop", "--", "-5"]).unwrap().command,
        strings(&["drop", "-5"])
    );
    assert_eq!(cli(&["-t", "0", "x"]).unwrap().timeout, None);
    assert_eq!(cli(&["-hlocalhost:99x", "x"]).unwrap().port, 99);
    assert_eq!(cli(&[]), Err(CliError::Usage));
    assert_eq!(cli(&["-z", "x"]), Err(CliError::Usage));
    assert_eq!(cli(&["x", "-h"]), Err(CliError::Usage));
    assert_eq!(cli(&[""]), Err(CliError::Usage));
    assert_eq!(
        cli(&["-h", "127.0.0.1:0", "x"]),
        Err(CliError::InvalidPort("0".into()))
    );
    assert_eq!(
        cli(&["-h", "127.0.0.1:abc", "x"]),
        Err(CliError::InvalidPort("abc".into()))
    );
    assert_eq!(
        client::usage("nsctl"),
        "Usage: nsctl [-d] [-h HOST[:PORT]] [-t TIMEOUT] COMMAND [ARG ...]\n"
    );
}

#[test]
fn debug_dumps_match_debian_nsctl() {
    let req = hex("901314020464726f7005616c696365ff");
    assert_eq!(
        client::dump(&Packet::new_checked(&req).unwrap()),
        b"Control packet:\n\tType: 20 (NSCTL_REQ_CONTROL)\n\tArgs: 2 (\"drop\", \"alice\")\n\n"
    );
    let res = hex("90132100ff");
    assert_eq!(
        client::dump(&Packet::new_checked(&res).unwrap()),
        b"Control packet:\n\tType: 33 (NSCTL_RES_OK)\n\tArgs: 0\n\n"
    );
}

#[test]
fn builtin_help_is_debian_text() {
    assert_eq!(
        client::builtin_help(),
        "Available commands:\n  load_plugin PLUGIN                          Load named plugin\n  unload_plugin PLUGIN                        Unload named plugin\n  help                                        List available commands\n"
    );
}

/// Help lines of sessionctl, throttlectl and snoopctl, as Debian's l2tpns
/// 2.4.1 sent them.
const REAL_HELP: [&str; 6] = [
    "  drop USER|SID [REASON]                      Shutdown user session",
    "  kill USER|SID [REASON]                      Kill user session",
    "  throttle USER|SID [RATE|[in|out] RATE ...]  Throttle user traffic",
    "  unthrottle USER|SID                         Stop throttling user",
    "  snoop USER|SID IP PORT                      Intercept user traffic",
    "  unsnoop USER|SID                            Stop intercepting user",
];

/// The three control plugins as l2tpns ships them, with no sessions.
struct RealPlugins {
    role: ClusterRole,
}

impl ControlHandler for RealPlugins {
    fn help(&self) -> Vec<String> {
        strings(&REAL_HELP)
    }
    fn load_plugin(&mut self, name: &str) -> LoadOutcome {
        match name {
            "sessionctl" | "throttlectl" | "snoopctl" => LoadOutcome::AlreadyLoaded,
            _ => LoadOutcome::Failed,
        }
    }
    fn unload_plugin(&mut self, name: &str) -> UnloadOutcome {
        match name {
            "garden" => UnloadOutcome::NotLoaded,
            _ => UnloadOutcome::NotFound,
        }
    }
    fn control(&mut self, args: &[String]) -> ControlReply {
        let words = ["drop", "kill", "throttle", "unthrottle", "snoop", "unsnoop"];
        let Some(w) = args.first().filter(|w| words.contains(&w.as_str())) else {
            return ControlReply::Unhandled;
        };
        if !self.role.iam_master {
            return ControlReply::NotMaster(self.role.master);
        }
        match (w.as_str(), args.len()) {
            ("drop" | "kill", 2..=3) | ("throttle" | "unthrottle" | "unsnoop", 2..) => {
                ControlReply::err("session not found")
            }
            ("drop" | "kill", _) => {
                ControlReply::err("requires username or session id and optional reason")
            }
            _ => ControlReply::err("requires username or session id and host, port"),
        }
    }
}

/// (role is master, request, the reply Debian's l2tpns 2.4.1 daemon sent),
/// captured in a network namespace with sessionctl, throttlectl and snoopctl
/// loaded, before and after it declared itself master.
const REAL_DAEMON: &[(bool, &str, &str)] = &[
    (true, "90131300ff", "9013210643202064726f7020555345527c534944205b524541534f4e5d2020202020202020202020202020202020202020202053687574646f776e20757365722073657373696f6e3f20206b696c6c20555345527c534944205b524541534f4e5d202020202020202020202020202020202020202020204b696c6c20757365722073657373696f6e4320207468726f74746c6520555345527c534944205b524154457c5b696e7c6f75745d2052415445202e2e2e5d20205468726f74746c6520757365722074726166666963422020756e7468726f74746c6520555345527c5349442020202020202020202020202020202020202020202020202053746f70207468726f74746c696e672075736572442020736e6f6f7020555345527c53494420495020504f525420202020202020202020202020202020202020202020496e7465726365707420757365722074726166666963442020756e736e6f6f7020555345527c5349442020202020202020202020202020202020202020202020202020202053746f7020696e74657263657074696e672075736572ff"),
    (false, "901314020464726f70066e6f73756368ff", "90132201236d7573742062652072756e206f6e206d61737465723a206e6f6e6520656c6563746564ff"),
    (false, "90131402046b696c6c0130ff", "90132201236d7573742062652072756e206f6e206d61737465723a206e6f6e6520656c6563746564ff"),
    (true, "901314020464726f70066e6f73756368ff", "901322011173657373696f6e206e6f7420666f756e64ff"),
    (true, "90131402046b696c6c0130ff", "901322011173657373696f6e206e6f7420666f756e64ff"),
    (true, "901314010464726f70ff", "9013220133726571756972657320757365726e616d65206f722073657373696f6e20696420616e64206f7074696f6e616c20726561736f6eff"),
    (true, "9013140105736e6f6f70ff", "901322012e726571756972657320757365726e616d65206f722073657373696f6e20696420616e6420686f73742c20706f7274ff"),
    (true, "901314020a756e7468726f74746c65066e6f73756368ff", "901322011173657373696f6e206e6f7420666f756e64ff"),
    (true, "901314010473686f77ff", "9013220110756e68616e646c656420616374696f6eff"),
    (true, "90131400ff", "9013220110756e68616e646c656420616374696f6eff"),
    (true, "90131100ff", "90132201176e616d65206f6620706c7567696e207265717569726564ff"),
    (true, "901311010a73657373696f6e63746cff", "9013220115706c7567696e20616c7265616479206c6f61646564ff"),
    (true, "90131101066e6f73756368ff", "90132201146572726f72206c6f6164696e6720706c7567696eff"),
    (true, "90131201066e6f73756368ff", "9013220110706c7567696e206e6f7420666f756e64ff"),
    (true, "901312010667617264656eff", "9013220111706c7567696e206e6f74206c6f61646564ff"),
    (true, "12341400ff", "901322011e6572726f7220756e7061636b696e6720636f6e74726f6c207061636b6574ff"),
    (true, "9013", "901322011e6572726f7220756e7061636b696e6720636f6e74726f6c207061636b6574ff"),
    (true, "90132100ff", "901322011e6572726f7220756e7061636b696e6720636f6e74726f6c207061636b6574ff"),
];

#[test]
fn server_replies_byte_for_byte_as_debians_daemon() {
    let mut s = ControlServer::new();
    let mut out = [0u8; MAX_PACKET];
    for (iam_master, req, reply) in REAL_DAEMON {
        let mut h = RealPlugins {
            role: ClusterRole {
                iam_master: *iam_master,
                master: None,
            },
        };
        let a = s.handle(&hex(req), &mut h, &mut out).unwrap();
        assert_eq!(
            &out[..a.len],
            &hex(reply)[..],
            "request {req}: {:?}",
            a.response
        );
    }
}
