//! Telnet for the CLI: the server's opening negotiation, IAC command parsing
//! (RFC 854), option negotiation (RFC 855, with the loop rules of RFC 854
//! "don't acknowledge a mode already in effect"), ECHO (RFC 857),
//! SUPPRESS-GO-AHEAD (RFC 858), window size (NAWS, RFC 1073), LINEMODE
//! refused (RFC 1184), and CR LF / CR NUL folding into one Enter key.
//!
//! Sans-IO: `feed` takes one byte from the client, may append negotiation
//! replies to an output buffer, and returns at most one event. Its memory is
//! fixed: the subnegotiation buffer is capped and its overflow discarded.

/// Interpret As Command and the commands that follow it (RFC 854).
pub const IAC: u8 = 255;
pub const DONT: u8 = 254;
pub const DO: u8 = 253;
pub const WONT: u8 = 252;
pub const WILL: u8 = 251;
pub const SB: u8 = 250;
pub const EL: u8 = 248;
pub const EC: u8 = 247;
pub const AYT: u8 = 246;
pub const IP: u8 = 244;
pub const BRK: u8 = 243;
pub const SE: u8 = 240;

/// Options we negotiate.
pub const OPT_ECHO: u8 = 1;
pub const OPT_SGA: u8 = 3;
pub const OPT_NAWS: u8 = 31;
pub const OPT_LINEMODE: u8 = 34;

/// Longest subnegotiation kept; NAWS needs 5 bytes (option + 4).
pub const SB_MAX: usize = 32;

/// The Enter key as `feed` reports it, whatever line ending the client used.
pub const ENTER: u8 = b'\r';

/// What one input byte meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TelnetEvent {
    /// A key (data byte). CR LF, CR NUL, bare CR and bare LF all give `ENTER`.
    /// IAC IP and IAC BRK give ctrl-C, IAC EC gives DEL, IAC EL gives ctrl-U.
    Key(u8),
    /// The client's window size (NAWS); 0 means unknown.
    WindowSize { width: u16, height: u16 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Data,
    /// After a CR: a following LF or NUL belongs to it.
    AfterCr,
    Iac,
    /// After IAC WILL/WONT/DO/DONT: the option byte comes next.
    Option(u8),
    Sub,
    SubIac,
}

/// A 256-bit set of option numbers.
#[derive(Debug, Clone, Copy, Default)]
struct OptSet([u64; 4]);

impl OptSet {
    fn get(&self, o: u8) -> bool {
        self.0[usize::from(o >> 6)] & (1 << (o & 63)) != 0
    }
    fn set(&mut self, o: u8, v: bool) {
        let w = &mut self.0[usize::from(o >> 6)];
        if v {
            *w |= 1 << (o & 63);
        } else {
            *w &= !(1 << (o & 63));
        }
    }
}

/// The telnet side of one connection.
#[derive(Debug, Clone)]
pub struct Telnet {
    state: State,
    /// Options in effect on our side (we WILL) and on the client's (it WILL).
    ours: OptSet,
    theirs: OptSet,
    /// Requests we sent and not yet saw answered: an answer to them is an
    /// acknowledgement, not a request to reply to (RFC 854 loop rule).
    asked_ours: OptSet,
    asked_theirs: OptSet,
    sub: [u8; SB_MAX],
    sub_len: usize,
    sub_overflow: bool,
    window: Option<(u16, u16)>,
}

impl Default for Telnet {
    fn default() -> Self {
        Self::new()
    }
}

/// Options we agree to perform ourselves.
fn we_support(o: u8) -> bool {
    o == OPT_ECHO || o == OPT_SGA
}

/// Options we agree to let the client perform.
fn they_may(o: u8) -> bool {
    o == OPT_SGA || o == OPT_NAWS
}

impl Telnet {
    pub fn new() -> Self {
        Telnet {
            state: State::Data,
            ours: OptSet::default(),
            theirs: OptSet::default(),
            asked_ours: OptSet::default(),
            asked_theirs: OptSet::default(),
            sub: [0; SB_MAX],
            sub_len: 0,
            sub_overflow: false,
            window: None,
        }
    }

    /// The server's opening: WILL ECHO and WILL SUPPRESS-GO-AHEAD (we echo,
    /// character at a time), DO SUPPRESS-GO-AHEAD, DONT LINEMODE, DO NAWS.
    pub fn opening(&mut self, out: &mut Vec<u8>) {
        for o in [OPT_ECHO, OPT_SGA] {
            self.asked_ours.set(o, true);
            out.extend_from_slice(&[IAC, WILL, o]);
        }
        self.asked_theirs.set(OPT_SGA, true);
        out.extend_from_slice(&[IAC, DO, OPT_SGA]);
        out.extend_from_slice(&[IAC, DONT, OPT_LINEMODE]);
        self.asked_theirs.set(OPT_NAWS, true);
        out.extend_from_slice(&[IAC, DO, OPT_NAWS]);
    }

    /// The last window size the client reported, if any.
    pub fn window(&self) -> Option<(u16, u16)> {
        self.window
    }

    /// Whether the client agreed that we echo (it answered DO ECHO).
    pub fn server_echo(&self) -> bool {
        self.ours.get(OPT_ECHO)
    }

    /// Takes one byte from the client.
    pub fn feed(&mut self, b: u8, out: &mut Vec<u8>) -> Option<TelnetEvent> {
        match self.state {
            State::Data => self.data(b),
            State::AfterCr => {
                self.state = State::Data;
                if b == b'\n' || b == 0 {
                    None
                } else {
                    self.data(b)
                }
            }
            State::Iac => self.command(b, out),
            State::Option(verb) => {
                self.state = State::Data;
                self.negotiate(verb, b, out);
                None
            }
            State::Sub => {
                if b == IAC {
                    self.state = State::SubIac;
                } else {
                    self.sub_push(b);
                }
                None
            }
            State::SubIac => match b {
                SE => {
                    self.state = State::Data;
                    self.sub_end()
                }
                IAC => {
                    self.state = State::Sub;
                    self.sub_push(IAC);
                    None
                }
                // IAC then anything else ends a broken subnegotiation; the
                // byte is read as the command it is.
                _ => {
                    self.sub_len = 0;
                    self.command(b, out)
                }
            },
        }
    }

    fn data(&mut self, b: u8) -> Option<TelnetEvent> {
        match b {
            IAC => {
                self.state = State::Iac;
                None
            }
            b'\r' => {
                self.state = State::AfterCr;
                Some(TelnetEvent::Key(ENTER))
            }
            b'\n' => Some(TelnetEvent::Key(ENTER)),
            0 => None,
            _ => Some(TelnetEvent::Key(b)),
        }
    }

    fn command(&mut self, b: u8, out: &mut Vec<u8>) -> Option<TelnetEvent> {
        self.state = State::Data;
        match b {
            IAC => Some(TelnetEvent::Key(IAC)),
            WILL | WONT | DO | DONT => {
                self.state = State::Option(b);
                None
            }
            SB => {
                self.state = State::Sub;
                self.sub_len = 0;
                self.sub_overflow = false;
                None
            }
            IP | BRK => Some(TelnetEvent::Key(0x03)),
            EC => Some(TelnetEvent::Key(0x7f)),
            EL => Some(TelnetEvent::Key(0x15)),
            AYT => {
                out.extend_from_slice(b"\r\n[Yes]\r\n");
                None
            }
            // NOP, DM, GA, AO, a stray SE, and values below 240: nothing to do.
            _ => None,
        }
    }

    fn negotiate(&mut self, verb: u8, o: u8, out: &mut Vec<u8>) {
        match verb {
            DO => {
                let asked = self.asked_ours.get(o);
                self.asked_ours.set(o, false);
                if !we_support(o) {
                    out.extend_from_slice(&[IAC, WONT, o]);
                } else if !self.ours.get(o) {
                    self.ours.set(o, true);
                    if !asked {
                        out.extend_from_slice(&[IAC, WILL, o]);
                    }
                }
            }
            DONT => {
                // A refusal of our WILL, or of what is off, is never answered.
                self.asked_ours.set(o, false);
                if self.ours.get(o) {
                    self.ours.set(o, false);
                    out.extend_from_slice(&[IAC, WONT, o]);
                }
            }
            WILL => {
                let asked = self.asked_theirs.get(o);
                self.asked_theirs.set(o, false);
                if !they_may(o) {
                    out.extend_from_slice(&[IAC, DONT, o]);
                } else if !self.theirs.get(o) {
                    self.theirs.set(o, true);
                    if !asked {
                        out.extend_from_slice(&[IAC, DO, o]);
                    }
                }
            }
            WONT => {
                self.asked_theirs.set(o, false);
                if self.theirs.get(o) {
                    self.theirs.set(o, false);
                    out.extend_from_slice(&[IAC, DONT, o]);
                }
            }
            _ => {}
        }
    }

    fn sub_push(&mut self, b: u8) {
        if let Some(slot) = self.sub.get_mut(self.sub_len) {
            *slot = b;
            self.sub_len += 1;
        } else {
            self.sub_overflow = true;
        }
    }

    fn sub_end(&mut self) -> Option<TelnetEvent> {
        let body = &self.sub[..self.sub_len];
        let ev = match body {
            [OPT_NAWS, w1, w2, h1, h2] if !self.sub_overflow => {
                let width = u16::from_be_bytes([*w1, *w2]);
                let height = u16::from_be_bytes([*h1, *h2]);
                self.window = Some((width, height));
                Some(TelnetEvent::WindowSize { width, height })
            }
            _ => None,
        };
        self.sub_len = 0;
        self.sub_overflow = false;
        ev
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: &mut Telnet, input: &[u8]) -> (Vec<TelnetEvent>, Vec<u8>) {
        let mut out = Vec::new();
        let ev = input.iter().filter_map(|&b| t.feed(b, &mut out)).collect();
        (ev, out)
    }

    fn keys(ev: &[TelnetEvent]) -> Vec<u8> {
        ev.iter()
            .filter_map(|e| match e {
                TelnetEvent::Key(k) => Some(*k),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn opening_is_will_echo_will_sga_do_sga_dont_linemode_do_naws() {
        let mut t = Telnet::new();
        let mut out = Vec::new();
        t.opening(&mut out);
        assert_eq!(
            out,
            [255, 251, 1, 255, 251, 3, 255, 253, 3, 255, 254, 34, 255, 253, 31]
        );
        // The client's agreement is an acknowledgement: no reply.
        let (_, out) = run(
            &mut t,
            &[255, 253, 1, 255, 253, 3, 255, 251, 3, 255, 251, 31],
        );
        assert!(out.is_empty());
        assert!(t.server_echo());
        // Asked again while already on: still no reply (no loops).
        let (_, out) = run(&mut t, &[255, 253, 1, 255, 251, 31]);
        assert!(out.is_empty());
    }

    #[test]
    fn unknown_options_are_refused() {
        let mut t = Telnet::new();
        let (ev, out) = run(&mut t, &[255, 253, 24, 255, 251, 24, 255, 251, 34]);
        assert!(ev.is_empty());
        assert_eq!(out, [255, 252, 24, 255, 254, 24, 255, 254, 34]);
        // WONT/DONT for what is off is never answered.
        let (_, out) = run(&mut t, &[255, 252, 24, 255, 254, 24]);
        assert!(out.is_empty());
    }

    #[test]
    fn dont_echo_turns_it_off_once() {
        let mut t = Telnet::new();
        let (_, out) = run(&mut t, &[255, 253, 1]);
        assert_eq!(out, [255, 251, 1]);
        let (_, out) = run(&mut t, &[255, 254, 1, 255, 254, 1]);
        assert_eq!(out, [255, 252, 1]);
        assert!(!t.server_echo());
    }

    #[test]
    fn naws_sets_the_window() {
        let mut t = Telnet::new();
        let (ev, _) = run(&mut t, &[255, 250, 31, 0, 132, 0, 50, 255, 240, b'a']);
        assert_eq!(
            ev,
            [
                TelnetEvent::WindowSize {
                    width: 132,
                    height: 50
                },
                TelnetEvent::Key(b'a')
            ]
        );
        // A 255 in the size is doubled inside SB.
        let (ev, _) = run(&mut t, &[255, 250, 31, 0, 255, 255, 0, 24, 255, 240]);
        assert_eq!(
            ev,
            [TelnetEvent::WindowSize {
                width: 255,
                height: 24
            }]
        );
        assert_eq!(t.window(), Some((255, 24)));
    }

    #[test]
    fn long_or_short_subnegotiation_is_discarded() {
        let mut t = Telnet::new();
        let mut input = vec![255, 250, 31];
        input.extend(std::iter::repeat_n(7, 10_000));
        input.extend([255, 240, b'x']);
        let (ev, _) = run(&mut t, &input);
        assert_eq!(ev, [TelnetEvent::Key(b'x')]);
        let (ev, _) = run(&mut t, &[255, 250, 31, 0, 80, 255, 240]);
        assert!(ev.is_empty());
        assert_eq!(t.window(), None);
        // IAC followed by a command inside SB ends it; the command counts.
        let (ev, _) = run(&mut t, &[255, 250, 31, 1, 255, 244, b'y']);
        assert_eq!(keys(&ev), [3, b'y']);
    }

    #[test]
    fn line_endings_fold_to_one_enter() {
        let mut t = Telnet::new();
        let (ev, _) = run(&mut t, b"a\r\nb\r\0c\rd\ne\r\r\n");
        assert_eq!(keys(&ev), b"a\rb\rc\rd\re\r\r");
    }

    #[test]
    fn iac_iac_is_a_data_byte_and_commands_map_to_keys() {
        let mut t = Telnet::new();
        let (ev, out) = run(
            &mut t,
            &[255, 255, 255, 244, 255, 247, 255, 248, 255, 241, 0],
        );
        assert_eq!(keys(&ev), [255, 3, 0x7f, 0x15]);
        assert!(out.is_empty());
        let (_, out) = run(&mut t, &[255, 246]);
        assert_eq!(out, b"\r\n[Yes]\r\n");
    }
}
