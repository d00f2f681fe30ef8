//! l2tpns's accounting files (`accounting_dir`), sans-IO: the file name, the
//! text (l2tpns 2.4.1 `dump_session()`: "# dslwatch.pl dump file V1.01"
//! header, then `username ip qos uptxoctets downrxoctets [origin]`), and the
//! ledger of what was written, so each file holds the octets since the
//! previous one. The control plane feeds it samples; writing the file is
//! the caller's job, and only a successful write commits the deltas.
//! `Schedule` says which file is due when.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::dataplane::session_table::SessionKey;
use crate::fx_hash::FxHashMap;

/// Closed sessions kept for the next file at most (l2tpns keeps 8192 and
/// drops the rest); beyond, counted and dropped so an unwritable directory
/// cannot grow memory without bound.
pub const MAX_CLOSED: usize = 1 << 18;

/// A broken-down local time (l2tpns names files with `localtime()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    /// 1..=12
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// `YYYYmmddHHMMSS`, l2tpns's `strftime("%Y%m%d%H%M%S")`.
pub fn file_name(t: &LocalTime) -> String {
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// The header fields.
#[derive(Clone, Debug)]
pub struct Header<'a> {
    pub host: &'a str,
    /// The tunnel's local address (l2tpns: bind/iftun address).
    pub endpoint: Ipv4Addr,
    /// Seconds since the epoch.
    pub time: i64,
    /// Seconds since the daemon started.
    pub uptime: i64,
    /// `account_all_origin`: an origin column after the octets.
    pub all_origin: bool,
}

/// The "# endpoint:" address, by l2tpns's rule (`iftun_n_address[]`, else
/// `my_address`): the first of bind_multi_address; else bind_address when
/// iftun_address is unset (l2tpns copies it there only then); else the
/// address of the cluster interface (`interface`, looked up only then);
/// else 0.0.0.0. An iftun_address of its own is never the endpoint.
pub fn endpoint(
    bind_multi: &[Ipv4Addr],
    iftun: Option<Ipv4Addr>,
    bind: Option<Ipv4Addr>,
    interface: impl FnOnce() -> Option<Ipv4Addr>,
) -> Ipv4Addr {
    let set = |a: Option<Ipv4Addr>| a.filter(|a| !a.is_unspecified());
    bind_multi
        .iter()
        .copied()
        .find(|a| !a.is_unspecified())
        .or_else(|| match set(iftun) {
            None => set(bind),
            Some(_) => None,
        })
        .or_else(|| set(interface()))
        .unwrap_or(Ipv4Addr::UNSPECIFIED)
}

/// One session's line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub user: Arc<str>,
    pub ip: Ipv4Addr,
    /// l2tpns: 2 when the session is throttled, else 1.
    pub qos: u8,
    /// Octets from the user since the previous file.
    pub up: u64,
    /// Octets to the user since the previous file.
    pub down: u64,
}

/// The whole file: header, then one line per session. l2tpns 2.4.1 prints
/// the octets with `%llu` (64-bit); the origin is always 'L' here (every
/// session comes from a LAC; we have no remote LNS or PPPoE).
pub fn render(h: &Header<'_>, lines: &[Line]) -> String {
    let mut out = String::with_capacity(256 + lines.len() * 48);
    let format = if h.all_origin {
        "username ip qos uptxoctets downrxoctets origin(L=LAC, R=Remote LNS, P=PPPOE)"
    } else {
        "username ip qos uptxoctets downrxoctets"
    };
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "# dslwatch.pl dump file V1.01\n# host: {}\n# endpoint: {}\n# time: {}\n# uptime: {}\n# format: {format}\n",
        h.host, h.endpoint, h.time, h.uptime
    );
    for l in lines {
        let _ = write!(out, "{} {} {} {} {}", l.user, l.ip, l.qos, l.up, l.down);
        out.push_str(if h.all_origin { " L\n" } else { "\n" });
    }
    out
}

/// One session as the control plane sees it at a dump or when it closes.
#[derive(Clone, Debug)]
pub struct Sample {
    pub key: SessionKey,
    /// Tells a reused (tunnel, session) pair from the session before it.
    pub serial: u64,
    /// None before authentication.
    pub user: Option<Arc<str>>,
    pub ip: Option<Ipv4Addr>,
    /// Totals since the session opened.
    pub up: u64,
    pub down: u64,
    /// Throttled now (l2tpns writes qos 2 then, else 1).
    pub throttled: bool,
    /// In the walled garden: not written (as l2tpns).
    pub gardened: bool,
}

/// A session's totals when it was last written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    serial: u64,
    up: u64,
    down: u64,
}

/// What one file would hold, and what to record once it is written.
#[derive(Debug, Default)]
pub struct Plan {
    pub lines: Vec<Line>,
    marks: Vec<(SessionKey, Mark)>,
    /// How many of the closed sessions' lines lead `lines`.
    closed: usize,
}

/// What has been written: the marks of live sessions and the final lines
/// of sessions closed since the last file.
#[derive(Debug, Default)]
pub struct Ledger {
    marks: FxHashMap<SessionKey, Mark>,
    closed: Vec<Line>,
    /// Closed sessions dropped because MAX_CLOSED were already waiting.
    pub closed_dropped: u64,
}

impl Ledger {
    /// The line for `s` now, or None: not authenticated, no address or in
    /// the walled garden (l2tpns skips those), or nothing since the last file.
    fn line(&self, s: &Sample) -> Option<(Line, Mark)> {
        let (user, ip) = (s.user.as_ref()?, s.ip?);
        if s.gardened {
            return None;
        }
        let base = self
            .marks
            .get(&s.key)
            .filter(|m| m.serial == s.serial)
            .map_or((0, 0), |m| (m.up, m.down));
        let up = s.up.saturating_sub(base.0);
        let down = s.down.saturating_sub(base.1);
        if up == 0 && down == 0 {
            return None;
        }
        let line = Line {
            user: user.clone(),
            ip,
            qos: if s.throttled { 2 } else { 1 },
            up,
            down,
        };
        let mark = Mark {
            serial: s.serial,
            up: s.up,
            down: s.down,
        };
        Some((line, mark))
    }

    /// A session went away: keep its final deltas for the next file.
    pub fn session_closed(&mut self, s: &Sample) {
        let line = self.line(s);
        self.marks.remove(&s.key);
        if let Some((line, _)) = line {
            if self.closed.len() < MAX_CLOSED {
                self.closed.push(line);
            } else {
                self.closed_dropped += 1;
            }
        }
    }

    pub fn has_closed(&self) -> bool {
        !self.closed.is_empty()
    }

    /// The next file: the closed sessions first (as l2tpns), then, when
    /// `live` is given (the periodic dump), every live session with
    /// something to report, in session order.
    pub fn plan(&self, live: Option<Vec<Sample>>) -> Plan {
        let mut plan = Plan {
            lines: self.closed.clone(),
            marks: Vec::new(),
            closed: self.closed.len(),
        };
        if let Some(mut live) = live {
            live.sort_by_key(|s| (s.key.tunnel, s.key.session));
            for s in &live {
                if let Some((line, mark)) = self.line(s) {
                    plan.lines.push(line);
                    plan.marks.push((s.key, mark));
                }
            }
        }
        plan
    }

    /// The file of `plan` was written: its deltas are now accounted for.
    pub fn commit(&mut self, plan: Plan) {
        self.closed.drain(..plan.closed.min(self.closed.len()));
        self.marks.extend(plan.marks);
    }

    /// Live sessions with a mark (for tests and the memory estimate).
    pub fn marked(&self) -> usize {
        self.marks.len()
    }
}

/// Which file is due (l2tpns's ACCT_TIME / ACCT_SHUT_TIME in its main loop).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// The periodic file: closed sessions and every live one.
    All,
    /// Only the sessions closed since the last file.
    Closed,
}

/// When the next files are due. Like l2tpns, the next periodic file is an
/// interval after this one (no catching up after a stall), and the closed
/// sessions wait at most `shut` after any file.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    interval: Duration,
    shut: Duration,
    next_all: Instant,
    next_closed: Instant,
}

impl Schedule {
    pub fn new(now: Instant, interval: Duration, shut: Duration) -> Schedule {
        Schedule {
            interval,
            shut,
            next_all: now + interval,
            next_closed: now + shut,
        }
    }

    /// The timer's deadline.
    pub fn next(&self) -> Instant {
        self.next_all.min(self.next_closed)
    }

    /// What to write at `now`, if anything; advances the deadlines.
    pub fn poll(&mut self, now: Instant, has_closed: bool) -> Option<Due> {
        if now >= self.next_all {
            self.next_all = now + self.interval;
            self.next_closed = now + self.shut;
            Some(Due::All)
        } else if now >= self.next_closed {
            self.next_closed = now + self.shut;
            has_closed.then_some(Due::Closed)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_periodic_files_and_the_closed_sessions_minute() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let mut sch = Schedule::new(t0, Duration::from_secs(300), Duration::from_secs(60));
        assert_eq!(sch.next(), s(60));
        assert_eq!(sch.poll(s(30), true), None);
        // Nothing closed: no file, but the minute starts again.
        assert_eq!(sch.poll(s(60), false), None);
        assert_eq!(sch.next(), s(120));
        assert_eq!(sch.poll(s(120), true), Some(Due::Closed));
        assert_eq!(sch.poll(s(300), true), Some(Due::All));
        assert_eq!(sch.next(), s(360));
        // A stalled loop: one file, the next an interval later.
        assert_eq!(sch.poll(s(1000), true), Some(Due::All));
        assert_eq!(sch.poll(s(1001), true), None);
        assert_eq!(sch.next(), s(1060));
        // An interval under a minute: only periodic files.
        let mut short = Schedule::new(t0, Duration::from_secs(2), Duration::from_secs(60));
        assert_eq!(short.next(), s(2));
        assert_eq!(short.poll(s(2), true), Some(Due::All));
        assert_eq!(short.next(), s(4));
    }

    fn sample(session: u16, user: Option<&str>, up: u64, down: u64) -> Sample {
        Sample {
            key: SessionKey { tunnel: 1, session },
            serial: u64::from(session),
            user: user.map(Arc::from),
            ip: user.map(|_| Ipv4Addr::new(10, 0, 0, session as u8)),
            up,
            down,
            // Session 7 is throttled: its lines say qos 2.
            throttled: session == 7,
            // Session 9 is in the walled garden: never written.
            gardened: session == 9,
        }
    }

    #[test]
    fn a_gardened_session_is_not_written() {
        let l = Ledger::default();
        let plan = l.plan(Some(vec![
            sample(9, Some("g"), 100, 200),
            sample(8, Some("u"), 1, 2),
        ]));
        assert_eq!(plan.lines.len(), 1);
        assert_eq!(&*plan.lines[0].user, "u");
    }

    #[test]
    fn a_throttled_session_is_written_with_qos_2() {
        let l = Ledger::default();
        let (line, _) = l.line(&sample(7, Some("t"), 10, 20)).unwrap();
        assert_eq!(line.qos, 2);
        let (line, _) = l.line(&sample(8, Some("u"), 10, 20)).unwrap();
        assert_eq!(line.qos, 1);
    }

    fn header(all_origin: bool) -> Header<'static> {
        Header {
            host: "lns1",
            endpoint: Ipv4Addr::new(192, 0, 2, 1),
            time: 1_700_000_000,
            uptime: 3600,
            all_origin,
        }
    }

    #[test]
    fn endpoint_follows_l2tpns() {
        let a = |n: u8| Ipv4Addr::new(192, 0, 2, n);
        let eth0 = || Some(a(9));
        assert_eq!(endpoint(&[a(1), a(2)], Some(a(3)), Some(a(4)), eth0), a(1));
        assert_eq!(endpoint(&[], None, Some(a(4)), eth0), a(4));
        // iftun_address set: l2tpns leaves iftun_n_address[0] at 0.
        assert_eq!(endpoint(&[], Some(a(3)), Some(a(4)), eth0), a(9));
        assert_eq!(endpoint(&[], None, Some(Ipv4Addr::UNSPECIFIED), eth0), a(9));
        assert_eq!(endpoint(&[], None, None, || None), Ipv4Addr::UNSPECIFIED);
    }

    #[test]
    fn file_name_is_strftime_ymdhms() {
        let t = LocalTime {
            year: 2026,
            month: 1,
            day: 2,
            hour: 3,
            minute: 4,
            second: 5,
        };
        assert_eq!(file_name(&t), "20260102030405");
    }

    #[test]
    fn renders_l2tpns_header_and_lines() {
        let lines = [Line {
            user: Arc::from("alice"),
            ip: Ipv4Addr::new(10, 0, 0, 7),
            qos: 1,
            up: 1234,
            down: 5678,
        }];
        assert_eq!(
            render(&header(false), &lines),
            "# dslwatch.pl dump file V1.01\n# host: lns1\n# endpoint: 192.0.2.1\n\
             # time: 1700000000\n# uptime: 3600\n\
             # format: username ip qos uptxoctets downrxoctets\n\
             alice 10.0.0.7 1 1234 5678\n"
        );
        assert_eq!(
            render(&header(true), &lines),
            "# dslwatch.pl dump file V1.01\n# host: lns1\n# endpoint: 192.0.2.1\n\
             # time: 1700000000\n# uptime: 3600\n\
             # format: username ip qos uptxoctets downrxoctets origin(L=LAC, R=Remote LNS, P=PPPOE)\n\
             alice 10.0.0.7 1 1234 5678 L\n"
        );
    }

    #[test]
    fn octets_past_four_gib_are_not_truncated() {
        let mut l = Ledger::default();
        let plan = l.plan(Some(vec![sample(1, Some("u"), 5 << 32, 1)]));
        assert_eq!(plan.lines[0].up, 5 << 32);
        let text = render(&header(false), &plan.lines);
        assert!(text.ends_with("u 10.0.0.1 1 21474836480 1\n"), "{text}");
        l.commit(plan);
    }

    #[test]
    fn deltas_since_the_previous_file_and_idle_sessions_skipped() {
        let mut l = Ledger::default();
        let plan = l.plan(Some(vec![
            sample(2, Some("b"), 100, 200),
            sample(1, Some("a"), 10, 20),
        ]));
        // Session order, whatever order the map gave.
        let users: Vec<&str> = plan.lines.iter().map(|x| &*x.user).collect();
        assert_eq!(users, ["a", "b"]);
        l.commit(plan);
        let plan = l.plan(Some(vec![
            sample(1, Some("a"), 10, 20),
            sample(2, Some("b"), 150, 260),
        ]));
        assert_eq!(plan.lines.len(), 1, "a had nothing new");
        assert_eq!((plan.lines[0].up, plan.lines[0].down), (50, 60));
        l.commit(plan);
        assert!(l
            .plan(Some(vec![sample(2, Some("b"), 150, 260)]))
            .lines
            .is_empty());
    }

    #[test]
    fn unauthenticated_sessions_are_skipped() {
        let l = Ledger::default();
        assert!(l.plan(Some(vec![sample(1, None, 10, 10)])).lines.is_empty());
        let mut s = sample(2, Some("a"), 10, 10);
        s.ip = None;
        assert!(l.plan(Some(vec![s])).lines.is_empty());
    }

    #[test]
    fn a_failed_write_loses_nothing() {
        let mut l = Ledger::default();
        let _unwritten = l.plan(Some(vec![sample(1, Some("a"), 10, 20)]));
        l.session_closed(&sample(2, Some("b"), 5, 5));
        let _unwritten = l.plan(Some(vec![sample(1, Some("a"), 30, 40)]));
        let plan = l.plan(Some(vec![sample(1, Some("a"), 35, 45)]));
        let got: Vec<(&str, u64, u64)> = plan
            .lines
            .iter()
            .map(|x| (&*x.user, x.up, x.down))
            .collect();
        assert_eq!(got, [("b", 5, 5), ("a", 35, 45)]);
        l.commit(plan);
        assert!(!l.has_closed());
    }

    #[test]
    fn closed_sessions_flush_their_final_deltas_once() {
        let mut l = Ledger::default();
        let plan = l.plan(Some(vec![sample(1, Some("a"), 10, 20)]));
        l.commit(plan);
        l.session_closed(&sample(1, Some("a"), 15, 26));
        // A session that closes with nothing new leaves no line.
        l.session_closed(&sample(3, Some("c"), 0, 0));
        assert_eq!(l.marked(), 0);
        // The one-minute flush holds only the closed sessions.
        let plan = l.plan(None);
        assert_eq!(plan.lines.len(), 1);
        assert_eq!((plan.lines[0].up, plan.lines[0].down), (5, 6));
        l.commit(plan);
        assert!(!l.has_closed());
        assert!(l.plan(None).lines.is_empty());
    }

    #[test]
    fn a_reused_session_id_starts_from_zero() {
        let mut l = Ledger::default();
        let plan = l.plan(Some(vec![sample(1, Some("a"), 1000, 1000)]));
        l.commit(plan);
        let mut next = sample(1, Some("b"), 10, 10);
        next.serial = 99;
        let plan = l.plan(Some(vec![next]));
        assert_eq!((plan.lines[0].up, plan.lines[0].down), (10, 10));
    }

    #[test]
    fn closed_sessions_beyond_the_cap_are_counted() {
        let line = Line {
            user: Arc::from("x"),
            ip: Ipv4Addr::LOCALHOST,
            qos: 1,
            up: 1,
            down: 1,
        };
        let mut l = Ledger {
            closed: vec![line; MAX_CLOSED],
            ..Ledger::default()
        };
        l.session_closed(&sample(1, Some("a"), 1, 1));
        assert_eq!(l.closed_dropped, 1);
        assert_eq!(l.closed.len(), MAX_CLOSED);
    }
}
