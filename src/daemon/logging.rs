//! Logging: l2tpns's debug levels 0-5 mapped onto `tracing` levels, written
//! to stdout (the default, for init systems and journald), a file, or syslog
//! (`log_file "syslog:FACILITY"`, as l2tpns), as text or JSON (`log_format`).
//!
//! l2tpns levels: 0 critical, 1 error, 2 warning, 3 info, 4 calls, 5 packets.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
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

/// What SIGHUP may change in the log after start-up: the level (`debug`)
/// and, for a log file, the file itself (reopened: rotation without
/// copytruncate works).
static LIVE: OnceLock<Live> = OnceLock::new();

struct Live {
    set_level: Box<dyn Fn(LevelFilter) -> Result<(), String> + Send + Sync>,
    file: Option<Arc<LogFile>>,
}

/// A log file that can be reopened under the same name.
struct LogFile {
    path: PathBuf,
    file: Mutex<File>,
}

fn open_append(path: &Path) -> Result<File, String> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("log_file {}: {e}", path.display()))
}

/// One event's write: the formatter hands over the whole line at once.
struct LogFileWriter(Arc<LogFile>);

impl io::Write for LogFileWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.file.lock() {
            Ok(mut f) => f.write(buf),
            Err(_) => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `format`: l2tpns-like text lines, or one JSON object per line whose
/// fields (tunnel, session, user, ...) sit beside "message" at the top level,
/// for journald and log shippers.
pub fn init(debug: u32, target: Target<'_>, format: LogFormat) -> Result<(), String> {
    use std::io::IsTerminal;
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    let mut file = None;
    let (writer, ansi, time) = match target {
        Target::Stdout => (
            BoxMakeWriter::new(io::stdout),
            io::stdout().is_terminal(),
            true,
        ),
        Target::File(path) => {
            let f = Arc::new(LogFile {
                path: path.to_path_buf(),
                file: Mutex::new(open_append(path)?),
            });
            file = Some(f.clone());
            let w = move || LogFileWriter(f.clone());
            (BoxMakeWriter::new(w), false, true)
        }
        Target::Syslog(facility) => {
            open_syslog(facility);
            // syslog stamps its own time.
            let w = || SyslogWriter { line: Vec::new() };
            (BoxMakeWriter::new(w), false, false)
        }
    };
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // The level filter sits right on the registry, so its reload handle
    // has one type whatever the format.
    let (filter, handle) = tracing_subscriber::reload::Layer::new(level_for(debug));
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(ConsoleLayer);
    let layer = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_writer(writer);
    match (format, time) {
        (LogFormat::Text, true) => registry.with(layer.with_ansi(ansi)).init(),
        (LogFormat::Text, false) => registry.with(layer.with_ansi(false).without_time()).init(),
        (LogFormat::Json, true) => registry.with(layer.json().flatten_event(true)).init(),
        (LogFormat::Json, false) => registry
            .with(layer.json().flatten_event(true).without_time())
            .init(),
    }
    let set_level: Box<dyn Fn(LevelFilter) -> Result<(), String> + Send + Sync> =
        Box::new(move |l| handle.reload(l).map_err(|e| e.to_string()));
    let _ = LIVE.set(Live { set_level, file });
    Ok(())
}

/// A log line for the CLI connections that asked for its level (`debug`).
#[derive(Debug, Clone)]
pub struct ConsoleLine {
    pub level: tracing::Level,
    pub text: String,
}

/// Lines sent to no receiver are dropped at once; a slow connection that
/// falls this far behind misses lines (and is told how many).
const CONSOLE_BACKLOG: usize = 1024;

fn console_sender() -> &'static tokio::sync::broadcast::Sender<ConsoleLine> {
    static CONSOLE: OnceLock<tokio::sync::broadcast::Sender<ConsoleLine>> = OnceLock::new();
    CONSOLE.get_or_init(|| tokio::sync::broadcast::channel(CONSOLE_BACKLOG).0)
}

/// The log as it is written, for one CLI connection's `debug` output.
pub fn console() -> tokio::sync::broadcast::Receiver<ConsoleLine> {
    console_sender().subscribe()
}

/// Copies each event the level filter lets through to the CLI's console
/// receivers; costs nothing while no connection has `debug` on.
struct ConsoleLayer;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ConsoleLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let tx = console_sender();
        if tx.receiver_count() == 0 {
            return;
        }
        let mut text = ConsoleText(String::new());
        event.record(&mut text);
        let level = *event.metadata().level();
        let _ = tx.send(ConsoleLine {
            level,
            text: text.0,
        });
    }
}

/// "message k=v k=v", as the text log shows an event.
struct ConsoleText(String);

impl tracing::field::Visit for ConsoleText {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, "{}={value:?}", field.name());
        }
    }
}

/// SIGHUP: the new `debug` level, and the log file reopened by name.
pub fn reload(debug: u32) -> Result<(), String> {
    let Some(live) = LIVE.get() else {
        return Ok(());
    };
    (live.set_level)(level_for(debug))?;
    if let Some(f) = &live.file {
        let fresh = open_append(&f.path)?;
        if let Ok(mut old) = f.file.lock() {
            *old = fresh;
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
