//! The daemon's side of nsctl as a pure function (l2tpns 2.4.1
//! `processcontrol()`): one request datagram in, one response datagram out.
//! Built-ins (`load_plugin`, `unload_plugin`, `help`) are answered here with
//! l2tpns's exact texts; everything else goes to a [`ControlHandler`] that
//! the daemon implements over its plugins. No socket, no clock.

use std::net::Ipv4Addr;

use super::wire::{self, EmitError, ParseError, Request, RequestKind, Response, ResponseKind};

/// l2tpns's answer to any datagram it cannot unpack (including a response
/// sent to the daemon).
pub const MSG_UNPACK: &str = "error unpacking control packet";
/// `load_plugin` / `unload_plugin` without exactly one argument.
pub const MSG_NAME_REQUIRED: &str = "name of plugin required";
/// `load_plugin` of a plugin already loaded.
pub const MSG_ALREADY_LOADED: &str = "plugin already loaded";
/// `load_plugin` that failed.
pub const MSG_LOAD_FAILED: &str = "error loading plugin";
/// `unload_plugin` of a known plugin that is not loaded.
pub const MSG_NOT_LOADED: &str = "plugin not loaded";
/// `unload_plugin` of a plugin that does not exist.
pub const MSG_NOT_FOUND: &str = "plugin not found";
/// No plugin took the command.
pub const MSG_UNHANDLED: &str = "unhandled action";
/// A plugin failed without saying why.
pub const MSG_PLUGIN_ERROR: &str = "error returned by plugin";
/// A master-only command on a slave with no master elected.
pub const MSG_NO_MASTER: &str = "must be run on master: none elected";

/// Result of `load_plugin NAME` (l2tpns's `add_plugin` 1 / 0 / -1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadOutcome {
    /// Now loaded.
    Loaded,
    /// Was loaded already.
    AlreadyLoaded,
    /// Could not be loaded (not found, bad API version, init refused).
    Failed,
}

/// Result of `unload_plugin NAME` (l2tpns's `remove_plugin` 1 / 0 / -1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnloadOutcome {
    /// Was loaded, now unloaded.
    Unloaded,
    /// Exists but was not loaded.
    NotLoaded,
    /// No such plugin.
    NotFound,
}

/// What the plugins made of a command (l2tpns's `run_plugins(PLUGIN_CONTROL)`
/// return value plus `param_control.response` / `.additional`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlReply {
    /// Every plugin passed (or none is loaded): "unhandled action".
    Unhandled,
    /// A plugin took it and answered OK or ERR, with an optional line.
    Handled {
        /// OK or ERR.
        kind: ResponseKind,
        /// One line of output, if any.
        additional: Option<String>,
    },
    /// A plugin failed (`PLUGIN_RET_ERROR`), with its text if it gave one.
    Error(Option<String>),
    /// A master-only command on a slave (`PLUGIN_RET_NOTMASTER`); the elected
    /// master's address if there is one.
    NotMaster(Option<Ipv4Addr>),
}

impl ControlReply {
    /// Success with one line.
    pub fn ok(line: impl Into<String>) -> Self {
        ControlReply::Handled {
            kind: ResponseKind::Ok,
            additional: Some(line.into()),
        }
    }

    /// Failure with one line.
    pub fn err(line: impl Into<String>) -> Self {
        ControlReply::Handled {
            kind: ResponseKind::Err,
            additional: Some(line.into()),
        }
    }

    /// The response l2tpns sends for it.
    pub fn into_response(self) -> Response {
        match self {
            ControlReply::Unhandled => Response::err(MSG_UNHANDLED),
            ControlReply::Handled { kind, additional } => Response {
                kind,
                args: additional.into_iter().collect(),
            },
            ControlReply::Error(text) => {
                Response::err(text.unwrap_or_else(|| MSG_PLUGIN_ERROR.into()))
            }
            ControlReply::NotMaster(Some(a)) => {
                Response::err(format!("must be run on master: {a}"))
            }
            ControlReply::NotMaster(None) => Response::err(MSG_NO_MASTER),
        }
    }
}

/// What the daemon plugs in: its plugin list. [`super::chain`] gives the
/// load-order semantics for `control` over a list of [`super::chain::ControlPlugin`]s.
pub trait ControlHandler {
    /// Help lines of the loaded plugins, in load order (each plugin's
    /// `plugin_control_help`). Built-ins are not listed here: nsctl prints
    /// those itself before sending the request.
    fn help(&self) -> Vec<String>;
    /// `load_plugin NAME`.
    fn load_plugin(&mut self, name: &str) -> LoadOutcome;
    /// `unload_plugin NAME`.
    fn unload_plugin(&mut self, name: &str) -> UnloadOutcome;
    /// Any other command; `args[0]` is the command word.
    fn control(&mut self, args: &[String]) -> ControlReply;
}

/// Counts of what the server has seen, for `show counters`-style output.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counters {
    /// Well-formed requests, by kind.
    pub load: u64,
    /// `unload_plugin` requests.
    pub unload: u64,
    /// `help` requests.
    pub help: u64,
    /// Commands passed to the handler.
    pub control: u64,
    /// Commands no plugin took.
    pub unhandled: u64,
    /// Malformed: truncated, or no 0xff terminator.
    pub short: u64,
    /// Malformed: over 4096 bytes or trailing bytes.
    pub long: u64,
    /// Malformed: wrong magic.
    pub bad_magic: u64,
    /// Malformed: unknown type byte.
    pub bad_type: u64,
    /// Malformed: a response type sent to the daemon.
    pub not_request: u64,
    /// Malformed: an argument that is not UTF-8.
    pub not_utf8: u64,
    /// Responses cut to fit one datagram.
    pub truncated: u64,
}

impl Counters {
    /// All malformed requests.
    pub fn malformed(&self) -> u64 {
        self.short + self.long + self.bad_magic + self.bad_type + self.not_request + self.not_utf8
    }

    fn count_malformed(&mut self, e: &ParseError) {
        let c = match e {
            ParseError::Short => &mut self.short,
            ParseError::Long => &mut self.long,
            ParseError::Magic(_) => &mut self.bad_magic,
            ParseError::Type(_) => &mut self.bad_type,
            ParseError::Direction(_) => &mut self.not_request,
            ParseError::NotUtf8 { .. } => &mut self.not_utf8,
        };
        *c += 1;
    }
}

/// What [`ControlServer::handle`] did, for the daemon's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Bytes of the response written to the caller's buffer.
    pub len: usize,
    /// The request, or why it was refused.
    pub request: Result<Request, ParseError>,
    /// The response that was written.
    pub response: Response,
}

/// The nsctl server: counters plus the request → response function.
#[derive(Debug, Default)]
pub struct ControlServer {
    counters: Counters,
}

impl ControlServer {
    /// A server with zeroed counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counters so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Answers one request datagram: writes the response into `out` (give it
    /// [`wire::MAX_PACKET`] bytes) and says what happened. Like l2tpns, every
    /// datagram gets an answer, a malformed one "error unpacking control
    /// packet". Fails only if `out` is shorter than an empty response (5 bytes).
    pub fn handle(
        &mut self,
        datagram: &[u8],
        handler: &mut dyn ControlHandler,
        out: &mut [u8],
    ) -> Result<Answer, EmitError> {
        let request = Request::parse(datagram);
        let response = match &request {
            Ok(req) => self.dispatch(req, handler),
            Err(e) => {
                self.counters.count_malformed(e);
                Response::err(MSG_UNPACK)
            }
        };
        let (response, cut) = fit(response, out.len().min(wire::MAX_PACKET));
        if cut {
            self.counters.truncated += 1;
        }
        let len = response.emit(out)?;
        Ok(Answer {
            len,
            request,
            response,
        })
    }

    fn dispatch(&mut self, req: &Request, handler: &mut dyn ControlHandler) -> Response {
        match req.kind {
            RequestKind::Load => {
                self.counters.load += 1;
                load(req, handler)
            }
            RequestKind::Unload => {
                self.counters.unload += 1;
                unload(req, handler)
            }
            RequestKind::Help => {
                self.counters.help += 1;
                Response::ok(handler.help())
            }
            RequestKind::Control => {
                self.counters.control += 1;
                let reply = handler.control(&req.args);
                if reply == ControlReply::Unhandled {
                    self.counters.unhandled += 1;
                }
                reply.into_response()
            }
        }
    }
}

fn load(req: &Request, handler: &mut dyn ControlHandler) -> Response {
    let [name] = req.args.as_slice() else {
        return Response::err(MSG_NAME_REQUIRED);
    };
    match handler.load_plugin(name) {
        LoadOutcome::Loaded => Response::ok(Vec::<String>::new()),
        LoadOutcome::AlreadyLoaded => Response::err(MSG_ALREADY_LOADED),
        LoadOutcome::Failed => Response::err(MSG_LOAD_FAILED),
    }
}

fn unload(req: &Request, handler: &mut dyn ControlHandler) -> Response {
    let [name] = req.args.as_slice() else {
        return Response::err(MSG_NAME_REQUIRED);
    };
    match handler.unload_plugin(name) {
        UnloadOutcome::Unloaded => Response::ok(Vec::<String>::new()),
        UnloadOutcome::NotLoaded => Response::err(MSG_NOT_LOADED),
        UnloadOutcome::NotFound => Response::err(MSG_NOT_FOUND),
    }
}

/// Cuts a response to fit `room` bytes: lines over 255 bytes are shortened
/// (on a character boundary), then trailing lines that do not fit dropped.
/// l2tpns sends nothing at all in that case, which leaves nsctl to time out.
fn fit(mut r: Response, room: usize) -> (Response, bool) {
    let mut cut = false;
    if r.args.len() > wire::MAX_ARGS {
        r.args.truncate(wire::MAX_ARGS);
        cut = true;
    }
    for a in &mut r.args {
        if a.len() > wire::MAX_ARG {
            let mut end = wire::MAX_ARG;
            while !a.is_char_boundary(end) {
                end -= 1;
            }
            a.truncate(end);
            cut = true;
        }
    }
    while wire::wire_len(&r.args) > room && r.args.pop().is_some() {
        cut = true;
    }
    (r, cut)
}
