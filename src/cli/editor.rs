//! The CLI's line editor, as libcli's `cli_loop` edits a line: echo,
//! backspace/DEL, ctrl-A/E/B/F and the arrow keys (ANSI CSI and SS3),
//! Home/End/Delete (`ESC [ n ~`), ctrl-U/K/W/L, history on up/down and
//! ctrl-P/N, and the keys the session acts on (Enter, `?`, TAB, ctrl-C,
//! ctrl-D, ctrl-Z) reported as events. With echo off (passwords) the keys
//! still edit the buffer but nothing is written.
//!
//! Sans-IO: `key` takes one key and appends what the terminal must show to
//! an output buffer. Memory is bounded by `MAX_LINE` and `MAX_HISTORY`.
//! Only printable ASCII is inserted, so one byte is one terminal column.

use std::collections::VecDeque;

/// Longest line kept (libcli's CLI_MAX_LINE_LENGTH less its NUL).
pub const MAX_LINE: usize = 4095;
/// Lines kept in the history (libcli's MAX_HISTORY).
pub const MAX_HISTORY: usize = 256;
/// Parameter bytes accepted in one escape sequence before it is dropped.
const MAX_ESC_PARAMS: usize = 8;

const BELL: u8 = 0x07;
const fn ctrl(c: u8) -> u8 {
    c & 0x1f
}

/// A key the session has to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditEvent {
    /// Enter: the finished line (the buffer is now empty).
    Line(String),
    /// `?` with echo on: help for the text before the cursor.
    Help,
    /// TAB with echo on and the cursor at the end of the line.
    Complete,
    /// ctrl-C: the line was discarded.
    Interrupt,
    /// ctrl-D on an empty line.
    Eof,
    /// ctrl-Z: leave configuration mode.
    Suspend,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Esc {
    None,
    /// After ESC.
    Start,
    /// After ESC [ (CSI) with the numeric parameter so far and its length.
    Csi(u16, usize),
    /// After ESC O (SS3, application cursor keys).
    Ss3,
}

/// One line being edited, and the history of finished lines.
#[derive(Debug, Clone)]
pub struct LineEditor {
    buf: Vec<u8>,
    cursor: usize,
    echo: bool,
    esc: Esc,
    history: VecDeque<String>,
    /// Which history entry is shown; `None` while editing a new line.
    hist_pos: Option<usize>,
    /// The new line, kept while the user browses the history.
    draft: Vec<u8>,
}

impl Default for LineEditor {
    fn default() -> Self {
        Self::new()
    }
}

impl LineEditor {
    pub fn new() -> Self {
        LineEditor {
            buf: Vec::new(),
            cursor: 0,
            echo: true,
            esc: Esc::None,
            history: VecDeque::new(),
            hist_pos: None,
            draft: Vec::new(),
        }
    }

    /// The text typed so far (always ASCII).
    pub fn text(&self) -> &str {
        // Only printable ASCII is ever inserted.
        std::str::from_utf8(&self.buf).unwrap_or("")
    }

    /// The text before the cursor.
    pub fn before_cursor(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.cursor]).unwrap_or("")
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn echo(&self) -> bool {
        self.echo
    }

    /// Echo on for commands, off for passwords. Clears the line.
    pub fn set_echo(&mut self, echo: bool) {
        self.echo = echo;
        self.clear();
    }

    /// Forgets the line being edited (not the history).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.cursor = 0;
        self.hist_pos = None;
        self.draft.clear();
        self.esc = Esc::None;
    }

    /// The history, oldest first.
    pub fn history(&self) -> impl Iterator<Item = &str> {
        self.history.iter().map(String::as_str)
    }

    /// Adds a finished line to the history, dropping the oldest when full
    /// and not repeating the newest.
    pub fn add_history(&mut self, line: &str) {
        if line.is_empty() || self.history.back().is_some_and(|l| l == line) {
            return;
        }
        if self.history.len() == MAX_HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(line.to_owned());
    }

    /// Writes the prompt and the line again, cursor where it was (after a
    /// help listing or other output).
    pub fn redraw(&self, prompt: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(prompt.as_bytes());
        if self.echo {
            out.extend_from_slice(&self.buf);
            back(out, self.buf.len() - self.cursor);
        }
    }

    /// Replaces the `len` bytes before the cursor (which must be at the end)
    /// with `text`: TAB completion.
    pub fn complete_word(&mut self, len: usize, text: &str, out: &mut Vec<u8>) {
        if self.cursor != self.buf.len() || len > self.cursor {
            return;
        }
        let keep = self.cursor - len;
        let room = MAX_LINE.saturating_sub(keep);
        let text: Vec<u8> = text
            .bytes()
            .filter(|b| (0x20..0x7f).contains(b))
            .take(room)
            .collect();
        // Rewrite only from the first byte that changes.
        let same = self.buf[keep..]
            .iter()
            .zip(&text)
            .take_while(|(a, b)| a == b)
            .count();
        let from = keep + same;
        if self.echo {
            back(out, self.cursor - from);
            out.extend_from_slice(&text[same..]);
            let stale = self.cursor.saturating_sub(keep + text.len());
            blank(out, stale);
        }
        self.buf.truncate(keep);
        self.buf.extend_from_slice(&text);
        self.cursor = self.buf.len();
    }

    /// Takes one key; returns what the session must do, if anything.
    pub fn key(&mut self, c: u8, out: &mut Vec<u8>) -> Option<EditEvent> {
        if self.esc != Esc::None {
            return self.escape(c, out);
        }
        match c {
            b'\r' => {
                let line = String::from_utf8_lossy(&self.buf).into_owned();
                self.clear();
                out.extend_from_slice(b"\r\n");
                Some(EditEvent::Line(line))
            }
            b'?' if self.echo => Some(EditEvent::Help),
            b'\t' if self.echo && self.cursor == self.buf.len() => Some(EditEvent::Complete),
            0x1b => {
                self.esc = Esc::Start;
                None
            }
            c if c == ctrl(b'C') => {
                self.clear();
                Some(EditEvent::Interrupt)
            }
            c if c == ctrl(b'D') => {
                if self.buf.is_empty() {
                    Some(EditEvent::Eof)
                } else {
                    self.delete_at_cursor(out);
                    None
                }
            }
            c if c == ctrl(b'Z') => Some(EditEvent::Suspend),
            c if c == ctrl(b'H') || c == 0x7f => {
                self.backspace(out);
                None
            }
            c if c == ctrl(b'W') => {
                self.delete_word(out);
                None
            }
            c if c == ctrl(b'U') => {
                self.kill_line(out);
                None
            }
            c if c == ctrl(b'K') => {
                self.kill_to_end(out);
                None
            }
            c if c == ctrl(b'A') => {
                self.home(out);
                None
            }
            c if c == ctrl(b'E') => {
                self.end(out);
                None
            }
            c if c == ctrl(b'B') => {
                self.left(out);
                None
            }
            c if c == ctrl(b'F') => {
                self.right(out);
                None
            }
            c if c == ctrl(b'P') => {
                self.history_up(out);
                None
            }
            c if c == ctrl(b'N') => {
                self.history_down(out);
                None
            }
            c if c == ctrl(b'L') => {
                // The session redraws with the prompt.
                None
            }
            0x20..=0x7e => {
                self.insert(c, out);
                None
            }
            _ => None,
        }
    }

    fn escape(&mut self, c: u8, out: &mut Vec<u8>) -> Option<EditEvent> {
        self.esc = match (self.esc, c) {
            (Esc::Start, b'[') => Esc::Csi(0, 0),
            (Esc::Start, b'O') => Esc::Ss3,
            (Esc::Csi(n, len), b'0'..=b'9') if len < MAX_ESC_PARAMS => Esc::Csi(
                n.saturating_mul(10).saturating_add(u16::from(c - b'0')),
                len + 1,
            ),
            (Esc::Csi(n, len), b';') if len < MAX_ESC_PARAMS => Esc::Csi(n, len + 1),
            (Esc::Csi(n, _), 0x40..=0x7e) => {
                self.esc = Esc::None;
                self.csi(n, c, out);
                return None;
            }
            (Esc::Ss3, _) => {
                self.esc = Esc::None;
                self.csi(0, c, out);
                return None;
            }
            // Anything else ends the sequence and is dropped.
            _ => Esc::None,
        };
        None
    }

    fn csi(&mut self, n: u16, fin: u8, out: &mut Vec<u8>) {
        match (fin, n) {
            (b'A', _) => self.history_up(out),
            (b'B', _) => self.history_down(out),
            (b'C', _) => self.right(out),
            (b'D', _) => self.left(out),
            (b'H', _) | (b'~', 1) | (b'~', 7) => self.home(out),
            (b'F', _) | (b'~', 4) | (b'~', 8) => self.end(out),
            (b'~', 3) => self.delete_at_cursor(out),
            _ => {}
        }
    }

    fn insert(&mut self, c: u8, out: &mut Vec<u8>) {
        if self.buf.len() >= MAX_LINE {
            out.push(BELL);
            return;
        }
        self.buf.insert(self.cursor, c);
        self.cursor += 1;
        if self.echo {
            out.extend_from_slice(&self.buf[self.cursor - 1..]);
            back(out, self.buf.len() - self.cursor);
        }
    }

    fn backspace(&mut self, out: &mut Vec<u8>) {
        if self.cursor == 0 {
            if self.echo {
                out.push(BELL);
            }
            return;
        }
        self.left(out);
        self.delete_at_cursor(out);
    }

    /// Deletes the byte under the cursor and redraws the tail.
    fn delete_at_cursor(&mut self, out: &mut Vec<u8>) {
        if self.cursor >= self.buf.len() {
            return;
        }
        self.buf.remove(self.cursor);
        if self.echo {
            out.extend_from_slice(&self.buf[self.cursor..]);
            out.push(b' ');
            back(out, self.buf.len() - self.cursor + 1);
        }
    }

    fn delete_word(&mut self, out: &mut Vec<u8>) {
        let mut start = self.cursor;
        while start > 0 && self.buf[start - 1] == b' ' {
            start -= 1;
        }
        while start > 0 && self.buf[start - 1] != b' ' {
            start -= 1;
        }
        self.delete_range(start, out);
    }

    /// Deletes from `start` to the cursor.
    fn delete_range(&mut self, start: usize, out: &mut Vec<u8>) {
        let n = self.cursor - start;
        if n == 0 {
            return;
        }
        if self.echo {
            back(out, n);
        }
        self.buf.drain(start..self.cursor);
        self.cursor = start;
        if self.echo {
            out.extend_from_slice(&self.buf[self.cursor..]);
            blank(out, n);
            back(out, self.buf.len() - self.cursor);
        }
    }

    fn kill_line(&mut self, out: &mut Vec<u8>) {
        self.end(out);
        self.delete_range(0, out);
        self.hist_pos = None;
    }

    fn kill_to_end(&mut self, out: &mut Vec<u8>) {
        let n = self.buf.len() - self.cursor;
        self.buf.truncate(self.cursor);
        if self.echo {
            blank(out, n);
        }
    }

    fn home(&mut self, out: &mut Vec<u8>) {
        if self.echo {
            back(out, self.cursor);
        }
        self.cursor = 0;
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        if self.echo {
            out.extend_from_slice(&self.buf[self.cursor..]);
        }
        self.cursor = self.buf.len();
    }

    fn left(&mut self, out: &mut Vec<u8>) {
        if self.cursor > 0 {
            self.cursor -= 1;
            if self.echo {
                out.push(b'\x08');
            }
        }
    }

    fn right(&mut self, out: &mut Vec<u8>) {
        if let Some(&c) = self.buf.get(self.cursor) {
            self.cursor += 1;
            if self.echo {
                out.push(c);
            }
        }
    }

    fn history_up(&mut self, out: &mut Vec<u8>) {
        if !self.echo || self.history.is_empty() {
            return;
        }
        let pos = match self.hist_pos {
            None => {
                self.draft = self.buf.clone();
                self.history.len() - 1
            }
            Some(0) => {
                out.push(BELL);
                return;
            }
            Some(p) => p - 1,
        };
        let line = self.history[pos].clone().into_bytes();
        self.show(&line, out);
        self.hist_pos = Some(pos);
    }

    fn history_down(&mut self, out: &mut Vec<u8>) {
        if !self.echo {
            return;
        }
        let Some(pos) = self.hist_pos else {
            return;
        };
        if pos + 1 < self.history.len() {
            let line = self.history[pos + 1].clone().into_bytes();
            self.show(&line, out);
            self.hist_pos = Some(pos + 1);
        } else {
            let draft = std::mem::take(&mut self.draft);
            self.show(&draft, out);
            self.hist_pos = None;
        }
    }

    /// Replaces the whole line on screen and in the buffer.
    fn show(&mut self, line: &[u8], out: &mut Vec<u8>) {
        back(out, self.cursor);
        out.extend_from_slice(line);
        blank(out, self.buf.len().saturating_sub(line.len()));
        self.buf = line.to_vec();
        self.buf.truncate(MAX_LINE);
        self.cursor = self.buf.len();
    }
}

fn back(out: &mut Vec<u8>, n: usize) {
    out.extend(std::iter::repeat_n(b'\x08', n));
}

/// Overwrites `n` columns with spaces and comes back.
fn blank(out: &mut Vec<u8>, n: usize) {
    out.extend(std::iter::repeat_n(b' ', n));
    back(out, n);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn type_keys(e: &mut LineEditor, keys: &[u8]) -> (Vec<EditEvent>, Vec<u8>) {
        let mut out = Vec::new();
        let ev = keys.iter().filter_map(|&k| e.key(k, &mut out)).collect();
        (ev, out)
    }

    #[test]
    fn typing_echoes_and_enter_returns_the_line() {
        let mut e = LineEditor::new();
        let (ev, out) = type_keys(&mut e, b"show\r");
        assert_eq!(ev, [EditEvent::Line("show".into())]);
        assert_eq!(out, b"show\r\n");
        assert_eq!(e.text(), "");
    }

    #[test]
    fn backspace_delete_and_cursor_moves() {
        let mut e = LineEditor::new();
        let (_, out) = type_keys(&mut e, b"shox\x7f");
        assert_eq!(out, b"shox\x08 \x08");
        type_keys(&mut e, b"w");
        assert_eq!(e.text(), "show");
        // Left twice, insert, then ctrl-A / ctrl-E.
        type_keys(&mut e, b"\x1b[D\x1b[DX");
        assert_eq!(e.text(), "shXow");
        assert_eq!(e.cursor(), 3);
        type_keys(&mut e, b"\x01");
        assert_eq!(e.cursor(), 0);
        type_keys(&mut e, b"\x05\x08\x08");
        assert_eq!(e.text(), "shX");
        // Delete key (ESC [ 3 ~) under the cursor.
        type_keys(&mut e, b"\x01\x1b[3~");
        assert_eq!(e.text(), "hX");
        // Right arrow in SS3 form.
        type_keys(&mut e, b"\x1bOC\x7f");
        assert_eq!(e.text(), "X");
    }

    #[test]
    fn ctrl_u_and_ctrl_w() {
        let mut e = LineEditor::new();
        type_keys(&mut e, b"show session  \x17");
        assert_eq!(e.text(), "show ");
        type_keys(&mut e, b"x\x15");
        assert_eq!(e.text(), "");
        type_keys(&mut e, b"abc def\x1b[D\x1b[D\x0b");
        assert_eq!(e.text(), "abc d");
    }

    #[test]
    fn history_up_down_restores_the_draft() {
        let mut e = LineEditor::new();
        e.add_history("one");
        e.add_history("two");
        e.add_history("two");
        assert_eq!(e.history().count(), 2);
        type_keys(&mut e, b"dr");
        type_keys(&mut e, b"\x1b[A");
        assert_eq!(e.text(), "two");
        type_keys(&mut e, b"\x10");
        assert_eq!(e.text(), "one");
        let (_, out) = type_keys(&mut e, b"\x1b[A");
        assert_eq!(out, [BELL]);
        type_keys(&mut e, b"\x1b[B\x0e");
        assert_eq!(e.text(), "dr");
    }

    #[test]
    fn history_is_bounded() {
        let mut e = LineEditor::new();
        for i in 0..1000 {
            e.add_history(&i.to_string());
        }
        assert_eq!(e.history().count(), MAX_HISTORY);
        assert_eq!(e.history().next(), Some("744"));
    }

    #[test]
    fn line_is_bounded() {
        let mut e = LineEditor::new();
        let (_, out) = type_keys(&mut e, &[b'a'; MAX_LINE + 10]);
        assert_eq!(e.text().len(), MAX_LINE);
        assert_eq!(out.iter().filter(|&&b| b == BELL).count(), 10);
    }

    #[test]
    fn password_mode_does_not_echo() {
        let mut e = LineEditor::new();
        e.set_echo(false);
        let (ev, out) = type_keys(&mut e, b"se?\tx\x7fcret\r");
        assert_eq!(ev, [EditEvent::Line("se?cret".into())]);
        assert_eq!(out, b"\r\n");
    }

    #[test]
    fn special_keys_are_events() {
        let mut e = LineEditor::new();
        let (ev, _) = type_keys(&mut e, b"sh?\t\x1a\x03\x04");
        assert_eq!(
            ev,
            [
                EditEvent::Help,
                EditEvent::Complete,
                EditEvent::Suspend,
                EditEvent::Interrupt,
                EditEvent::Eof
            ]
        );
    }

    #[test]
    fn complete_word_rewrites_the_end() {
        let mut e = LineEditor::new();
        type_keys(&mut e, b"show ses");
        let mut out = Vec::new();
        e.complete_word(3, "session ", &mut out);
        assert_eq!(e.text(), "show session ");
        assert_eq!(out, b"sion ");
    }
}
