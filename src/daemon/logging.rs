//! Logging: l2tpns's debug levels 0-5 mapped onto `tracing` levels, written
//! to stdout (the default, for init systems and journald), a file, or syslog
//! (`log_file "syslog:FACILITY"`, as l2tpns).
//!
//! l2tpns levels: 0 critical, 1 error, 2 warning, 3 info, 4 calls, 5 packets.

use std::ffi::CString;
use std::fs::OpenOptions;
use std::io;
use std::path::Path;
use std::sync::Mutex;
use tracing::level_filters::LevelFilter;

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

pub fn init(debug: u32, target: Target<'_>) -> Result<(), String> {
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_max_level(level_for(debug))
        .with_target(false)
        .with_ansi(io::stdout().is_terminal());
    match target {
        Target::Stdout => builder.with_writer(io::stdout).init(),
        Target::File(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("log_file {}: {e}", path.display()))?;
            builder
                .with_ansi(false)
                .with_writer(Mutex::new(file))
                .init();
        }
        Target::Syslog(facility) => {
            open_syslog(facility);
            builder
                .with_ansi(false)
                .without_time()
                .with_level(true)
                .with_writer(|| SyslogWriter { line: Vec::new() })
                .init();
        }
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
