//! The HTTP side: one thread with its own tokio runtime, one task per
//! connection, `GET /metrics` answered and the connection closed.
//!
//! Hand-written on tokio's TcpListener (httparse parses the request head):
//! one path, one method and no keep-alive do not need an HTTP framework,
//! and here every limit is in plain sight. Each connection gets
//! [`READ_TIMEOUT`] and [`MAX_HEAD`] for its request and [`WRITE_TIMEOUT`]
//! for the answer; at most [`MAX_CONNECTIONS`] are served at once, others
//! are closed at once. Every refused request is counted and logged at
//! debug level, like the control plane's bad input.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tracing::{debug, error, info};

use crate::daemon::kernel_loss::KernelLoss;
use crate::daemon::workers::WorkerStats;
use crate::dataplane::drop_reason::DropCounters;

use super::encode::{render, CONTENT_TYPE};
use super::{DataSnapshot, ScrapeRequest, Snapshot};

pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Request line and headers; a scraper sends a few hundred bytes.
pub const MAX_HEAD: usize = 8 * 1024;
pub const MAX_CONNECTIONS: usize = 16;
/// How long a scrape waits for the control loop (busy with a login burst).
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(5);

/// How a request ended; the `result` label of l2tpns_metrics_http_requests_total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
enum Outcome {
    Ok = 0,
    NotFound,
    BadMethod,
    BadRequest,
    TooLarge,
    Timeout,
    Busy,
    Unavailable,
}

impl Outcome {
    const ALL: [Outcome; 8] = [
        Outcome::Ok,
        Outcome::NotFound,
        Outcome::BadMethod,
        Outcome::BadRequest,
        Outcome::TooLarge,
        Outcome::Timeout,
        Outcome::Busy,
        Outcome::Unavailable,
    ];

    const fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::NotFound => "not_found",
            Outcome::BadMethod => "bad_method",
            Outcome::BadRequest => "bad_request",
            Outcome::TooLarge => "too_large",
            Outcome::Timeout => "timeout",
            Outcome::Busy => "busy",
            Outcome::Unavailable => "unavailable",
        }
    }
}

/// Where the metrics thread reads the data plane's and kernel's counters.
pub struct DataSources {
    pub workers: Arc<WorkerStats>,
    pub drops: Arc<DropCounters>,
    /// Its own handles on the workers' sockets (see `KernelLoss::new`).
    pub loss: KernelLoss,
    /// session_hook's counters, kept by its runner.
    pub hooks: Arc<crate::daemon::session_hook::HookStats>,
    /// The kernel fast path's figures, when it runs.
    pub fast: Option<Arc<crate::daemon::fast_sessions::FastStats>>,
    pub started: Instant,
    pub start_time: SystemTime,
}

struct Server {
    scrapes: mpsc::Sender<ScrapeRequest>,
    data: DataSources,
    outcomes: [AtomicU64; Outcome::ALL.len()],
}

/// Bind at start-up, so a taken port stops the daemon with a clear error.
pub fn bind(addr: SocketAddr) -> Result<StdListener, String> {
    let l = StdListener::bind(addr).map_err(|e| format!("metrics_address {addr}: {e}"))?;
    l.set_nonblocking(true)
        .map_err(|e| format!("metrics_address {addr}: {e}"))?;
    Ok(l)
}

/// Serve on `listener` from a thread of its own.
pub fn spawn(
    listener: StdListener,
    scrapes: mpsc::Sender<ScrapeRequest>,
    data: DataSources,
) -> Result<(), String> {
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = Arc::new(Server {
        scrapes,
        data,
        outcomes: Default::default(),
    });
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    error!("metrics endpoint: runtime: {e}");
                    return;
                }
            };
            rt.block_on(serve(listener, server));
        })
        .map_err(|e| format!("metrics thread: {e}"))?;
    info!(%addr, "serving Prometheus metrics on http://{addr}/metrics");
    Ok(())
}

async fn serve(listener: StdListener, server: Arc<Server>) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            error!("metrics endpoint: {e}");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and the like: wait instead of spinning.
                debug!("metrics endpoint: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            server.count(Outcome::Busy, peer);
            continue; // dropping the stream closes it
        };
        let server = server.clone();
        tokio::spawn(async move {
            let outcome = server.connection(stream).await;
            server.count(outcome, peer);
            drop(permit);
        });
    }
}

impl Server {
    fn count(&self, o: Outcome, peer: SocketAddr) {
        if let Some(c) = self.outcomes.get(o as usize) {
            c.fetch_add(1, Relaxed);
        }
        if o != Outcome::Ok {
            debug!(%peer, result = o.name(), "metrics request refused");
        }
    }

    async fn connection(&self, mut stream: TcpStream) -> Outcome {
        let mut head = Vec::with_capacity(1024);
        let target =
            match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream, &mut head)).await {
                Err(_) => return Outcome::Timeout,
                Ok(Err(o)) => {
                    let _ = respond(&mut stream, o, "").await;
                    return o;
                }
                Ok(Ok(t)) => t,
            };
        let (outcome, body) = match target {
            Target::Metrics { head_only } => match self.scrape().await {
                Some(text) if head_only => (Outcome::Ok, Body::HeadOf(text)),
                Some(text) => (Outcome::Ok, Body::Text(text)),
                None => (Outcome::Unavailable, Body::Text(String::new())),
            },
            Target::Other(o) => (o, Body::Text(String::new())),
        };
        let written = match &body {
            Body::Text(t) => respond(&mut stream, outcome, t).await,
            Body::HeadOf(t) => respond_head(&mut stream, outcome, t.len()).await,
        };
        match written {
            Ok(()) => outcome,
            Err(_) => Outcome::Timeout,
        }
    }

    /// Ask the control loop, read the rest ourselves, encode.
    async fn scrape(&self) -> Option<String> {
        let (tx, rx) = oneshot::channel();
        // Full: a few scrapes already wait for a busy loop; don't queue more.
        self.scrapes.try_send(ScrapeRequest(tx)).ok()?;
        let control = tokio::time::timeout(SNAPSHOT_TIMEOUT, rx)
            .await
            .ok()?
            .ok()?;
        let d = &self.data;
        let snap = Snapshot {
            control,
            data: DataSnapshot::take(&d.workers, &d.drops, &d.loss, &d.hooks, d.fast.as_deref()),
            start_time: d.start_time,
            uptime: d.started.elapsed(),
            http: Outcome::ALL
                .iter()
                .map(|o| (o.name(), self.outcomes[*o as usize].load(Relaxed)))
                .collect(),
        };
        render(snap).ok()
    }
}

enum Target {
    Metrics { head_only: bool },
    Other(Outcome),
}

enum Body {
    Text(String),
    /// HEAD: the length of this text, no body.
    HeadOf(String),
}

/// Read until the end of the request head (a body, if any, is ignored).
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Target, Outcome> {
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| Outcome::BadRequest)?;
        if n == 0 {
            return Err(Outcome::BadRequest);
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(buf) {
            Ok(httparse::Status::Complete(_)) => return Ok(route(&req)),
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => continue,
            Ok(httparse::Status::Partial) => return Err(Outcome::TooLarge),
            Err(httparse::Error::TooManyHeaders) => return Err(Outcome::TooLarge),
            Err(_) => return Err(Outcome::BadRequest),
        }
    }
}

fn route(req: &httparse::Request) -> Target {
    let path = req.path.unwrap_or("");
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    if path != "/metrics" {
        return Target::Other(Outcome::NotFound);
    }
    match req.method {
        Some("GET") => Target::Metrics { head_only: false },
        Some("HEAD") => Target::Metrics { head_only: true },
        _ => Target::Other(Outcome::BadMethod),
    }
}

fn status_line(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "200 OK",
        Outcome::NotFound => "404 Not Found",
        Outcome::BadMethod => "405 Method Not Allowed",
        Outcome::TooLarge => "431 Request Header Fields Too Large",
        Outcome::Unavailable | Outcome::Busy => "503 Service Unavailable",
        Outcome::BadRequest | Outcome::Timeout => "400 Bad Request",
    }
}

fn header(o: Outcome, len: usize) -> String {
    let ctype = if o == Outcome::Ok {
        CONTENT_TYPE
    } else {
        "text/plain; charset=utf-8"
    };
    let allow = if o == Outcome::BadMethod {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    format!(
        "HTTP/1.1 {}\r\nContent-Type: {ctype}\r\nContent-Length: {len}\r\n{allow}Connection: close\r\n\r\n",
        status_line(o)
    )
}

async fn respond(stream: &mut TcpStream, o: Outcome, body: &str) -> std::io::Result<()> {
    let body = if o == Outcome::Ok || !body.is_empty() {
        body
    } else {
        status_line(o)
    };
    let write = async {
        stream.write_all(header(o, body.len()).as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    };
    tokio::time::timeout(WRITE_TIMEOUT, write)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

async fn respond_head(stream: &mut TcpStream, o: Outcome, len: usize) -> std::io::Result<()> {
    let write = async {
        stream.write_all(header(o, len).as_bytes()).await?;
        stream.shutdown().await
    };
    tokio::time::timeout(WRITE_TIMEOUT, write)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}
