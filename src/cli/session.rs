//! One CLI connection, sans-IO in the quinn-proto style: the daemon feeds
//! the bytes it reads (`handle_input`), writes what `poll_transmit` returns,
//! executes what `poll_request` asks, and answers with `command_output` and
//! `command_done`. Inside: telnet (telnet.rs), the line editor (editor.rs),
//! login (login.rs), the parser (parser.rs), libcli's built-in commands
//! (`enable`, `configure terminal`, `exit`...), modes and prompts, and the
//! output filters applied to each line the daemon sends.
//!
//! No sockets, no clock. Memory is bounded: the line, the history, keys
//! typed while a command runs, and input is not taken while more than
//! `MAX_PENDING_TX` bytes wait to be sent.

use std::collections::VecDeque;

use super::commands::{CommandId, Mode, Privilege, COMMANDS};
use super::editor::{EditEvent, LineEditor};
use super::filter::OutputFilter;
use super::login::{EnableRule, Entry, LoginPolicy, MAX_LOGIN_FAILURES};
use super::parser::{self, ParseError};
use super::telnet::{Telnet, TelnetEvent};

/// Input is not taken while this much output waits (backpressure).
pub const MAX_PENDING_TX: usize = 64 * 1024;
/// Keys kept while a command runs (type-ahead); more are dropped.
pub const MAX_TYPEAHEAD: usize = 4096;

const BELL: u8 = 0x07;

/// What the daemon must do for the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliRequest {
    /// Run a command and answer with `command_output` then `command_done`.
    /// `args` are the words after the command's own words, quotes removed.
    Execute {
        command: CommandId,
        args: Vec<String>,
    },
    /// For the log: a login succeeded.
    LoggedIn { user: String },
    /// For the log: a login failed.
    LoginFailed { user: String },
    /// For the log: privileged mode was entered.
    Enabled,
    /// Close the connection once `poll_transmit` is drained.
    Close(CloseReason),
}

/// Why the session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// `quit`, `logout`, or `exit` in exec mode.
    Quit,
    /// ctrl-D on an empty line.
    EndOfInput,
    /// Too many failed logins.
    LoginFailures,
    /// Remote connection and no users file (l2tpns closes it too).
    Refused,
    /// The daemon called `close`.
    Daemon,
}

/// How a command ended; a failed command does not enter the submode it
/// names (`router bgp`, `ip access-list`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Username,
    Password {
        user: String,
    },
    Command,
    EnablePassword,
    /// A command runs in the daemon; `then` is the mode to enter if it works.
    Busy {
        then: Option<Mode>,
    },
    Closed,
}

/// One telnet CLI connection.
#[derive(Debug)]
pub struct CliSession {
    hostname: String,
    policy: LoginPolicy,
    telnet: Telnet,
    editor: LineEditor,
    phase: Phase,
    mode: Mode,
    privilege: Privilege,
    user: Option<String>,
    failures: u8,
    tx: Vec<u8>,
    requests: VecDeque<CliRequest>,
    typeahead: VecDeque<u8>,
    filter: Option<OutputFilter>,
}

impl CliSession {
    /// Starts a session: telnet negotiation, then the login or the prompt.
    pub fn new(hostname: &str, policy: LoginPolicy) -> Self {
        let mut s = CliSession {
            hostname: hostname.to_owned(),
            policy,
            telnet: Telnet::new(),
            editor: LineEditor::new(),
            phase: Phase::Command,
            mode: Mode::Exec,
            privilege: Privilege::User,
            user: None,
            failures: 0,
            tx: Vec::new(),
            requests: VecDeque::new(),
            typeahead: VecDeque::new(),
            filter: None,
        };
        s.telnet.opening(&mut s.tx);
        match s.policy.entry() {
            Entry::Open => s.prompt(),
            Entry::Login => s.ask_username(),
            Entry::Refused => {
                s.write_line("Access denied: no CLI users are configured for remote access");
                s.close(CloseReason::Refused);
            }
        }
        s
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn privilege(&self) -> Privilege {
        self.privilege
    }

    /// The logged-in user; `None` before login and for local connections.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The client's window size, if it sent one (NAWS).
    pub fn window_size(&self) -> Option<(u16, u16)> {
        self.telnet.window()
    }

    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Whether a command is waiting for `command_done`.
    pub fn is_busy(&self) -> bool {
        matches!(self.phase, Phase::Busy { .. })
    }

    /// The prompt text: `HOSTNAME> `, `HOSTNAME# `, `HOSTNAME(config)# `...
    /// (libcli puts a space after the sign).
    pub fn prompt_text(&self) -> String {
        let sign = if self.privilege == Privilege::Enable {
            "# "
        } else {
            "> "
        };
        format!("{}{}{}", self.hostname, self.mode.prompt_part(), sign)
    }

    /// The line editor, for tests that check its bounds.
    #[cfg(test)]
    pub(crate) fn editor(&self) -> &LineEditor {
        &self.editor
    }

    /// Keys typed while a command runs, waiting.
    pub fn typeahead_len(&self) -> usize {
        self.typeahead.len()
    }

    /// Bytes waiting to be sent.
    pub fn pending_transmit(&self) -> usize {
        self.tx.len()
    }

    /// What to send to the client next.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.tx.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.tx))
        }
    }

    /// What the daemon must do next.
    pub fn poll_request(&mut self) -> Option<CliRequest> {
        self.requests.pop_front()
    }

    /// Takes bytes read from the client. Returns how many were used: it
    /// stops early while more than `MAX_PENDING_TX` bytes wait to be sent,
    /// and the daemon passes the rest again after writing.
    pub fn handle_input(&mut self, bytes: &[u8]) -> usize {
        for (i, &b) in bytes.iter().enumerate() {
            if self.phase == Phase::Closed {
                return bytes.len();
            }
            if self.tx.len() > MAX_PENDING_TX {
                return i;
            }
            if let Some(TelnetEvent::Key(k)) = self.telnet.feed(b, &mut self.tx) {
                self.key(k);
            }
        }
        bytes.len()
    }

    /// Output lines of the running command; may be called many times.
    /// The command's `| include`-style filters apply to each line.
    pub fn command_output<I, S>(&mut self, lines: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if !self.is_busy() {
            return;
        }
        for l in lines {
            self.filtered_line(l.as_ref());
        }
    }

    /// The running command finished: the prompt comes back and keys typed
    /// meanwhile are taken.
    pub fn command_done(&mut self, outcome: Outcome) {
        let Phase::Busy { then } = self.phase else {
            return;
        };
        self.end_output();
        self.phase = Phase::Command;
        if let (Some(m), Outcome::Done) = (then, outcome) {
            self.mode = m;
        }
        self.prompt();
        let keys = std::mem::take(&mut self.typeahead);
        for k in keys {
            self.key(k);
        }
    }

    /// Lines that are not the answer to a command (console debug output):
    /// printed above the prompt, which is drawn again with the line.
    pub fn notify<I, S>(&mut self, lines: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if self.phase != Phase::Command {
            return;
        }
        self.tx.extend_from_slice(b"\r\n");
        for l in lines {
            self.write_line(l.as_ref());
        }
        self.redraw();
    }

    /// The daemon ends the session (shutdown).
    pub fn close_by_daemon(&mut self) {
        self.close(CloseReason::Daemon);
    }

    fn close(&mut self, reason: CloseReason) {
        if self.phase != Phase::Closed {
            self.phase = Phase::Closed;
            self.requests.push_back(CliRequest::Close(reason));
        }
    }

    fn key(&mut self, k: u8) {
        match self.phase {
            Phase::Closed => return,
            Phase::Busy { .. } => {
                if self.typeahead.len() < MAX_TYPEAHEAD {
                    self.typeahead.push_back(k);
                }
                return;
            }
            _ => {}
        }
        let Some(ev) = self.editor.key(k, &mut self.tx) else {
            if k == 0x0c && self.phase == Phase::Command {
                // ctrl-L: draw the line again.
                self.tx.extend_from_slice(b"\r\n");
                self.redraw();
            }
            return;
        };
        match ev {
            EditEvent::Line(l) => self.line(l),
            EditEvent::Help if self.phase == Phase::Command => self.help(),
            EditEvent::Complete if self.phase == Phase::Command => self.complete(),
            EditEvent::Help | EditEvent::Complete => {}
            EditEvent::Interrupt => self.interrupt(),
            EditEvent::Eof => self.close(CloseReason::EndOfInput),
            EditEvent::Suspend => {
                if self.phase == Phase::Command && self.mode.is_config() {
                    self.editor.clear();
                    self.mode = Mode::Exec;
                    self.tx.extend_from_slice(b"\r\n");
                    self.prompt();
                }
            }
        }
    }

    fn interrupt(&mut self) {
        self.tx.extend_from_slice(b"^C\r\n");
        match self.phase {
            Phase::Password { .. } => self.ask_username(),
            Phase::EnablePassword => {
                self.editor.set_echo(true);
                self.phase = Phase::Command;
                self.prompt();
            }
            Phase::Username => self.ask_username(),
            _ => self.prompt(),
        }
    }

    fn line(&mut self, line: String) {
        match std::mem::replace(&mut self.phase, Phase::Command) {
            Phase::Username => {
                let user = line.trim().to_owned();
                if user.is_empty() {
                    self.ask_username();
                } else {
                    self.phase = Phase::Password { user };
                    self.editor.set_echo(false);
                    self.tx.extend_from_slice(b"Password: ");
                }
            }
            Phase::Password { user } => self.password(user, &line),
            Phase::EnablePassword => {
                self.editor.set_echo(true);
                if self.policy.check_enable(&line) {
                    self.privilege = Privilege::Enable;
                    self.requests.push_back(CliRequest::Enabled);
                } else {
                    self.write_line("");
                    self.write_line("Access denied");
                }
                self.prompt();
            }
            Phase::Command => self.command(&line),
            // Keys are queued while busy and dropped once closed.
            other @ (Phase::Busy { .. } | Phase::Closed) => self.phase = other,
        }
    }

    fn password(&mut self, user: String, password: &str) {
        self.editor.set_echo(true);
        if self.policy.check_login(&user, password) {
            self.requests
                .push_back(CliRequest::LoggedIn { user: user.clone() });
            self.user = Some(user);
            self.phase = Phase::Command;
            self.prompt();
            return;
        }
        self.requests.push_back(CliRequest::LoginFailed { user });
        self.failures += 1;
        self.write_line("");
        self.write_line("Access denied");
        if self.failures >= MAX_LOGIN_FAILURES {
            self.close(CloseReason::LoginFailures);
        } else {
            self.ask_username();
        }
    }

    fn command(&mut self, line: &str) {
        let trimmed = line.trim();
        if !trimmed.is_empty() && trimmed != "history" {
            self.editor.add_history(trimmed);
        }
        let p = match parser::parse(line, self.mode, self.privilege) {
            Ok(p) => p,
            Err(ParseError::Empty) => return self.prompt(),
            Err(e) => {
                self.write_line(&e.to_string());
                return self.prompt();
            }
        };
        self.mode = p.mode;
        let id = p.spec.id;
        if id.is_builtin() {
            self.filter = p.filter;
            self.builtin(id);
            return;
        }
        let then = match id {
            CommandId::RouterBgp => Some(Mode::ConfigBgp),
            CommandId::IpAccessList => Some(Mode::ConfigAcl {
                extended: p
                    .args
                    .first()
                    .is_some_and(|a| a.to_ascii_lowercase().starts_with('e')),
            }),
            _ => None,
        };
        self.filter = p.filter;
        self.phase = Phase::Busy { then };
        self.requests.push_back(CliRequest::Execute {
            command: id,
            args: p.args,
        });
    }

    fn builtin(&mut self, id: CommandId) {
        match id {
            CommandId::Quit | CommandId::Logout => return self.close(CloseReason::Quit),
            CommandId::Exit => match self.mode {
                Mode::Exec => return self.close(CloseReason::Quit),
                Mode::Config => self.mode = Mode::Exec,
                Mode::ConfigBgp | Mode::ConfigAcl { .. } => self.mode = Mode::Config,
            },
            CommandId::End => self.mode = Mode::Exec,
            CommandId::ConfigureTerminal => self.mode = Mode::Config,
            CommandId::Disable => {
                self.privilege = Privilege::User;
                self.mode = Mode::Exec;
            }
            CommandId::Enable => return self.enable(),
            CommandId::Help => {
                self.filtered_line("");
                self.filtered_line("Commands available:");
                let lines: Vec<String> = COMMANDS
                    .iter()
                    .filter(|c| c.visible(self.mode, self.privilege))
                    .map(|c| format!("  {:<20} {}", c.name(), c.help))
                    .collect();
                for l in lines {
                    self.filtered_line(&l);
                }
            }
            CommandId::History => {
                self.filtered_line("");
                self.filtered_line("Command history:");
                let lines: Vec<String> = self
                    .editor
                    .history()
                    .enumerate()
                    .map(|(i, h)| format!("{i:3}. {h}"))
                    .collect();
                for l in lines {
                    self.filtered_line(&l);
                }
            }
            _ => {}
        }
        self.end_output();
        self.prompt();
    }

    fn enable(&mut self) {
        if self.privilege == Privilege::Enable {
            return self.prompt();
        }
        match self.policy.enable_rule() {
            EnableRule::Password => {
                self.phase = Phase::EnablePassword;
                self.editor.set_echo(false);
                self.tx.extend_from_slice(b"Password: ");
            }
            EnableRule::Granted => {
                self.privilege = Privilege::Enable;
                self.requests.push_back(CliRequest::Enabled);
                self.prompt();
            }
            EnableRule::Refused => {
                self.write_line("Access denied: no enable password is set in the users file");
                self.prompt();
            }
        }
    }

    fn help(&mut self) {
        let lines = parser::help(self.editor.before_cursor(), self.mode, self.privilege);
        if lines.is_empty() {
            self.tx.push(BELL);
            return;
        }
        self.tx.extend_from_slice(b"\r\n");
        for l in &lines {
            self.write_line(l);
        }
        self.redraw();
    }

    fn complete(&mut self) {
        let (n, cands) = parser::complete(self.editor.before_cursor(), self.mode, self.privilege);
        match cands.as_slice() {
            [] => self.tx.push(BELL),
            [one] => self
                .editor
                .complete_word(n, &format!("{one} "), &mut self.tx),
            many => {
                let common = common_prefix(many);
                if common.len() > n {
                    self.editor.complete_word(n, &common, &mut self.tx);
                } else {
                    self.list_columns(many);
                    self.redraw();
                }
            }
        }
    }

    /// Candidates in rows as wide as the window (80 if unknown).
    fn list_columns(&mut self, words: &[String]) {
        let width = match self.telnet.window() {
            Some((w, _)) if w >= 20 => usize::from(w),
            _ => 80,
        };
        let col = words.iter().map(String::len).max().unwrap_or(0) + 2;
        let per_row = (width / col).max(1);
        self.tx.extend_from_slice(b"\r\n");
        for row in words.chunks(per_row) {
            let line: String = row.iter().map(|w| format!("{w:<col$}")).collect();
            self.write_line(line.trim_end());
        }
    }

    fn filtered_line(&mut self, line: &str) {
        let show = self.filter.as_mut().is_none_or(|f| f.pass(line));
        if show {
            self.write_line(line);
        }
    }

    fn end_output(&mut self) {
        if let Some(end) = self.filter.take().and_then(|f| f.finish()) {
            self.write_line(&end);
        }
    }

    /// Writes one line and CR LF. Control characters are shown as `?` so
    /// that text from outside (user names, RADIUS replies) cannot drive the
    /// operator's terminal.
    fn write_line(&mut self, line: &str) {
        for ch in line.chars() {
            match ch {
                '\n' => self.tx.extend_from_slice(b"\r\n"),
                '\t' => self.tx.push(b'\t'),
                c if c.is_control() => self.tx.push(b'?'),
                c => {
                    let mut buf = [0; 4];
                    self.tx
                        .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        self.tx.extend_from_slice(b"\r\n");
    }

    fn ask_username(&mut self) {
        self.phase = Phase::Username;
        self.editor.set_echo(true);
        self.tx.extend_from_slice(b"\r\nUsername: ");
    }

    /// A fresh prompt on a new line, as libcli draws it.
    fn prompt(&mut self) {
        if self.phase == Phase::Closed {
            return;
        }
        self.editor.clear();
        self.tx.extend_from_slice(b"\r\n");
        let p = self.prompt_text();
        self.tx.extend_from_slice(p.as_bytes());
    }

    /// The prompt and the line being edited, cursor in place.
    fn redraw(&mut self) {
        let p = self.prompt_text();
        self.editor.redraw(&p, &mut self.tx);
    }
}

fn common_prefix(words: &[String]) -> String {
    let Some(first) = words.first() else {
        return String::new();
    };
    let mut n = first.len();
    for w in &words[1..] {
        n = first
            .bytes()
            .zip(w.bytes())
            .take(n)
            .take_while(|(a, b)| a == b)
            .count();
    }
    first[..n].to_owned()
}
