//! Logging: l2tpns's debug levels 0-5 mapped onto `tracing` levels, written
//! to stdout (the default, for init systems and journald), a file, or syslog
//! (`log_file "syslog:FACILITY"`, as l2tpns), as text or JSON (`log_format`).
//!
//! l2tpns levels: 0 critical, 1 error, 2 warning, 3 info, 4 calls, 5 packets.

use std::ffi::CString;
use std::fs::OpenOptions;
use std::io;
use std::path::Path;
use std::sync::Mutex;
use tracing::level_filters::LevelFilter;

use crate::config::startup::LogFormat;

pub fn level_for(debug: u32) -> LevelFilter {
    match debug {
        0 | 1 => LevelFilter::ERROR,
        2 => LevelFilter::WARN,
        3 => LevelFilter::INFO,
        4 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// Where the log goes.
pub enum Target<'a> {
    Stdout,
    File(&'a Path),
    Syslog(&'a str),
}

/// `format`: l2tpns-like text lines, or one JSON object per line whose
/// fields (tunnel, session, user, ...) sit beside "message" at the top level,
/// for journald and log shippers.
pub fn init(debug: u32, target: Target<'_>, format: LogFormat) -> Result<(), String> {
    use std::io::IsTerminal;
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    let (writer, ansi, time) = match target {
        Target::Stdout => (
            BoxMakeWriter::new(io::stdout),
            io::stdout().is_terminal(),
            true,
        ),
        Target::File(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("log_file {}: {e}", path.display()))?;
            (BoxMakeWriter::new(Mutex::new(file)), false, true)
        }
        Target::Syslog(facility) => {
            open_syslog(facility);
            // syslog stamps its own time.
            let w = || SyslogWriter { line: Vec::new() };
            (BoxMakeWriter::new(w), false, false)
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level_for(debug))
        .with_target(false)
        .with_writer(writer);
    match (format, time) {
        (LogFormat::Text, true) => builder.with_ansi(ansi).init(),
        (LogFormat::Text, false) => builder.with_ansi(false).without_time().init(),
        (LogFormat::Json, true) => builder.json().flatten_event(true).init(),
        (LogFormat::Json, false) => builder.json().flatten_event(true).without_time().init(),
    }
    Ok(())
}

fn facility_code(name: &str) -> libc::c_int {
    match name {
        "auth" | "security" => libc::LOG_AUTH,
        "authpriv" => libc::LOG_AUTHPRIV,
        "cron" => libc::LOG_CRON,
        "ftp" => libc::LOG_FTP,
        "kern" => libc::LOG_KERN,
        "lpr" => libc::LOG_LPR,
        "mail" => libc::LOG_MAIL,
        "news" => libc::LOG_NEWS,
        "syslog" => libc::LOG_SYSLOG,
        "user" => libc::LOG_USER,
        "uucp" => libc::LOG_UUCP,
        "local0" => libc::LOG_LOCAL0,
        "local1" => libc::LOG_LOCAL1,
        "local2" => libc::LOG_LOCAL2,
        "local3" => libc::LOG_LOCAL3,
        "local4" => libc::LOG_LOCAL4,
        "local5" => libc::LOG_LOCAL5,
        "local6" => libc::LOG_LOCAL6,
        "local7" => libc::LOG_LOCAL7,
        _ => libc::LOG_DAEMON,
    }
}

fn open_syslog(facility: &str) {
    static IDENT: &[u8] = b"l2tpns\0";
    // SAFETY: IDENT is a static NUL-terminated string, as openlog requires.
    unsafe {
        libc::openlog(
            IDENT.as_ptr() as *const libc::c_char,
            libc::LOG_PID,
            facility_code(facility),
        )
    };
}

/// Collects one formatted event and hands it to syslog(3) on drop.
struct SyslogWriter {
    line: Vec<u8>,
}

impl io::Write for SyslogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogWriter {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.line);
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        let prio = if text.contains("ERROR") {
            libc::LOG_ERR
        } else if text.contains("WARN") {
            libc::LOG_WARNING
        } else if text.contains("DEBUG") || text.contains("TRACE") {
            libc::LOG_DEBUG
        } else {
            libc::LOG_INFO
        };
        if let Ok(c) = CString::new(text.replace('\0', " ")) {
            // SAFETY: "%s" with one valid C string argument.
            unsafe { libc::syslog(prio, c"%s".as_ptr(), c.as_ptr()) };
        }
    }
}
