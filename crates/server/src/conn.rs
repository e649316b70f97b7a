//! Connections: how many at once, and how long each may sit.
//!
//! [`serve`] accepts connections itself (hyper-util's HTTP/1 + HTTP/2 builder) so that it can
//! bound them:
//!
//! - **Header read timeout** (`server.header_read_timeout`, 10 s): from the first byte of a request
//!   until its headers are complete. A client still sending headers then is disconnected.
//! - **Idle timeout** (`server.idle_timeout`, 60 s): a connection with no request in flight and no
//!   request arriving (nothing sent since it opened or since its last answer) is closed.
//! - **Connection cap** (`server.max_connections`, 10 000): a slot is taken before `accept`. With
//!   every slot taken the hub accepts nothing more: new connections wait in the kernel's listen
//!   backlog, and the hub asks its connections with no request in flight that have been open or
//!   quiet for at least a second (or the header timeout, if shorter) to close, then accepts the
//!   next one as soon as a slot frees. A request in flight is never cut for room. So `/healthz`
//!   keeps answering during a flood of idle or slow clients, at worst a second late.
//!
//! A request in flight (its body, the handler, the answer) is not timed here: bodies are bounded
//! by `server.max_body`.
//!
//! [`raise_fd_limit`] lifts the soft limit of open files to the hard one at start, so the cap,
//! not the file descriptor table, is what bounds connections.

use crate::metrics;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

/// The bounds [`serve`] applies (from `[server]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl Limits {
    pub fn from_settings(s: &crate::ServerSettings) -> Limits {
        Limits {
            header_read_timeout: s.header_read_timeout.0,
            idle_timeout: s.idle_timeout.0,
            max_connections: s.max_connections.max(1),
        }
    }

    /// How long a connection must have been open or quiet before it may be closed for room.
    fn shed_after(&self) -> Duration {
        self.header_read_timeout.min(Duration::from_secs(1))
    }
}

/// What one connection is doing; its reader, its requests and its watcher share it.
#[derive(Debug)]
struct Activity {
    state: Mutex<State>,
    /// Wakes the watcher when a deadline moved earlier (a request's first byte).
    changed: Notify,
}

#[derive(Debug, Clone, Copy)]
struct State {
    /// Requests being answered.
    in_flight: usize,
    /// When the first byte of a request not yet dispatched arrived.
    head_since: Option<Instant>,
    /// When the connection opened or last finished answering.
    quiet_since: Instant,
}

/// What the watcher finds at a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Nothing to do until this instant.
    Wait(Instant),
    HeaderTimeout,
    Idle,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            state: Mutex::new(State {
                in_flight: 0,
                head_since: None,
                quiet_since: Instant::now(),
            }),
            changed: Notify::new(),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Bytes arrived: with no request in flight they start a request's headers.
    fn read(&self) {
        let started = self.with(|s| {
            let start = s.in_flight == 0 && s.head_since.is_none();
            if start {
                s.head_since = Some(Instant::now());
            }
            start
        });
        if started {
            self.changed.notify_one();
        }
    }

    // Neither moves a deadline earlier than the one the watcher sleeps to, so neither wakes it:
    // it looks again when that deadline comes.
    fn request_started(&self) {
        self.with(|s| {
            s.in_flight += 1;
            s.head_since = None;
        });
    }

    fn request_finished(&self) {
        self.with(|s| {
            s.in_flight = s.in_flight.saturating_sub(1);
            s.quiet_since = Instant::now();
        });
    }

    fn verdict(&self, limits: &Limits, now: Instant) -> Verdict {
        let s = self.with(|s| *s);
        if s.in_flight > 0 {
            // Once it finishes, the idle deadline is later than this.
            Verdict::Wait(now + limits.idle_timeout)
        } else if let Some(t) = s.head_since {
            let at = t + limits.header_read_timeout;
            if now >= at {
                Verdict::HeaderTimeout
            } else {
                Verdict::Wait(at)
            }
        } else {
            let at = s.quiet_since + limits.idle_timeout;
            if now >= at {
                Verdict::Idle
            } else {
                Verdict::Wait(at)
            }
        }
    }

    /// May this connection be closed to make room?
    fn sheddable(&self, limits: &Limits, now: Instant) -> bool {
        let s = self.with(|s| *s);
        s.in_flight == 0 && now.saturating_duration_since(s.quiet_since) >= limits.shed_after()
    }
}

/// The socket, noting when bytes arrive.
struct Tracked {
    io: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Counts a request in flight until its answer is ready (or the connection drops it).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(activity: Arc<Activity>) -> InFlight {
        activity.request_started();
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// The app for one connection: adds the peer address (`ConnectInfo`) and counts requests.
#[derive(Clone)]
struct ConnService {
    app: Router,
    remote: SocketAddr,
    activity: Arc<Activity>,
}

type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<axum::response::Response, Infallible>> + Send>>;

impl hyper::service::Service<http::Request<Incoming>> for ConnService {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, mut req: http::Request<Incoming>) -> ServiceFuture {
        let in_flight = InFlight::new(self.activity.clone());
        req.extensions_mut().insert(ConnectInfo(self.remote));
        let app = self.app.clone();
        Box::pin(async move {
            let resp = app.oneshot(req).await;
            drop(in_flight);
            resp
        })
    }
}

/// Keeps `cartback_http_connections` right however the connection's task ends.
struct Open;

impl Open {
    fn new() -> Open {
        metrics::connections(1.0);
        Open
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        metrics::connections(-1.0);
    }
}

/// Signals every connection task listens to.
#[derive(Clone)]
struct Signals {
    /// `true`: the server is stopping; finish the request in flight and close.
    stop: watch::Receiver<bool>,
    /// Bumped when every slot is taken: close if idle (see [`Activity::sheddable`]).
    shed: watch::Receiver<u64>,
}

async fn connection(
    builder: Arc<Builder<TokioExecutor>>,
    stream: TcpStream,
    remote: SocketAddr,
    app: Router,
    limits: Limits,
    mut signals: Signals,
    _slot: OwnedSemaphorePermit,
) {
    let _open = Open::new();
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        io: stream,
        activity: activity.clone(),
    });
    let service = ConnService {
        app,
        remote,
        activity: activity.clone(),
    };
    let conn = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(conn);
    // Once closing: `Some(deadline)` past which the connection is dropped (None: stopping, where
    // `serve`'s drain deadline rules).
    let mut closing: Option<Option<Instant>> = None;
    loop {
        let now = Instant::now();
        let deadline = match closing {
            Some(Some(at)) => at,
            Some(None) => now + Duration::from_secs(3600),
            None => match activity.verdict(&limits, now) {
                Verdict::Wait(at) => at,
                verdict => {
                    if verdict == Verdict::HeaderTimeout {
                        // Mid-headers: nothing to finish; close now.
                        metrics::connection_closed("header_timeout");
                        tracing::debug!(%remote, "Closed a connection: headers too slow.");
                        break;
                    }
                    metrics::connection_closed("idle");
                    conn.as_mut().graceful_shutdown();
                    closing = Some(Some(now + limits.header_read_timeout));
                    continue;
                }
            },
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(%remote, error = %err, "Connection ended with an error.");
                }
                break;
            }
            () = tokio::time::sleep_until(deadline) => {
                if matches!(closing, Some(Some(at)) if Instant::now() >= at) {
                    break;
                }
            }
            () = activity.changed.notified(), if closing.is_none() => {}
            Ok(()) = signals.stop.changed(), if closing.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing = Some(None);
            }
            Ok(()) = signals.shed.changed(), if closing.is_none() => {
                if activity.sheddable(&limits, Instant::now()) {
                    metrics::connection_closed("shed");
                    conn.as_mut().graceful_shutdown();
                    closing = Some(Some(Instant::now() + limits.header_read_timeout));
                }
            }
        }
    }
}

/// A free slot; with none, asks idle connections to make room and waits.
async fn slot(
    slots: &Arc<Semaphore>,
    shed: &watch::Sender<u64>,
    limits: &Limits,
) -> OwnedSemaphorePermit {
    loop {
        if let Ok(permit) = slots.clone().try_acquire_owned() {
            return permit;
        }
        metrics::connections_at_cap();
        shed.send_modify(|n| *n = n.wrapping_add(1));
        if let Ok(Ok(permit)) =
            tokio::time::timeout(limits.shed_after(), slots.clone().acquire_owned()).await
        {
            return permit;
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves; then stops accepting,
/// lets requests in flight finish for at most `drain`, and closes what is left.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> io::Result<()> {
    let builder = Arc::new(Builder::new(TokioExecutor::new()));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop) = watch::channel(false);
    let (shed_tx, shed) = watch::channel(0u64);
    let signals = Signals { stop, shed };
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while tasks.try_join_next().is_some() {}
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = slot(&slots, &shed_tx, &limits) => permit,
        };
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(err) => {
                    accept_error(err).await;
                    continue;
                }
            },
        };
        // Answers go out as soon as they are written (no Nagle delay behind an unacknowledged
        // segment).
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "Could not set TCP_NODELAY on a connection.");
        }
        tasks.spawn(connection(
            builder.clone(),
            stream,
            remote,
            app.clone(),
            limits,
            signals.clone(),
            permit,
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // The shutdown signal fired: give in-flight requests `drain` to finish.
    let drained =
        tokio::time::timeout(drain, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            drain_secs = drain.as_secs(),
            "Drain deadline passed; closing remaining connections."
        );
        tasks.abort_all();
    }
    Ok(())
}

/// A failed `accept`: a connection reset before it was accepted is nothing; anything else (out of
/// file descriptors) is logged and waited out for a moment.
async fn accept_error(err: io::Error) {
    if matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %err, "Could not accept a connection; retrying in 1 s.");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Raises the soft limit of open files to the hard limit (Unix), logs the result at info, and
/// warns when it leaves less room than `max_connections` needs. Returns the soft limit in force.
pub fn raise_fd_limit(max_connections: usize) -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource};
        let limit = getrlimit(Resource::Nofile);
        let before = limit.current;
        let mut raised = limit;
        raised.current = limit.maximum;
        let now = if raised.current != before {
            match setrlimit(Resource::Nofile, raised) {
                Ok(()) => limit.maximum,
                Err(err) => {
                    tracing::warn!(error = %err, "Could not raise the open-file limit.");
                    before
                }
            }
        } else {
            before
        };
        let shown = |v: Option<u64>| v.map_or("unlimited".to_string(), |n| n.to_string());
        tracing::info!(
            soft = %shown(now),
            was = %shown(before),
            "Open-file limit (RLIMIT_NOFILE)."
        );
        // Each connection holds one descriptor; the store, logs and journal need some more.
        if let Some(n) = now {
            if n < max_connections as u64 + 256 {
                tracing::warn!(
                    limit = n,
                    max_connections,
                    "The open-file limit is below server.max_connections + 256: raise it (ulimit -n, LimitNOFILE=) or lower max_connections."
                );
            }
        }
        now
    }
    #[cfg(not(unix))]
    {
        let _ = max_connections;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10,
        }
    }

    #[test]
    fn deadlines_follow_what_the_connection_does() {
        let l = limits();
        let a = Activity::new();
        let t0 = Instant::now();
        let quiet =
            |v: Verdict| matches!(v, Verdict::Wait(at) if at <= t0 + l.idle_timeout && at > t0);
        assert!(quiet(a.verdict(&l, t0)));
        assert_eq!(a.verdict(&l, t0 + l.idle_timeout), Verdict::Idle);
        // A first byte starts the header clock.
        a.read();
        let t1 = Instant::now();
        assert!(matches!(a.verdict(&l, t1), Verdict::Wait(at) if at <= t1 + l.header_read_timeout));
        assert_eq!(
            a.verdict(&l, t1 + l.header_read_timeout),
            Verdict::HeaderTimeout
        );
        // A request in flight is never timed out here, nor shed.
        a.request_started();
        let late = t1 + Duration::from_secs(3600);
        assert!(matches!(a.verdict(&l, late), Verdict::Wait(_)));
        assert!(!a.sheddable(&l, late));
        a.request_finished();
        let t2 = Instant::now();
        assert!(matches!(a.verdict(&l, t2), Verdict::Wait(at) if at > t2 + l.header_read_timeout));
        assert!(a.sheddable(&l, t2 + Duration::from_secs(1)));
        assert_eq!(a.verdict(&l, t2 + l.idle_timeout), Verdict::Idle);
    }

    #[test]
    fn the_fd_limit_is_raised_to_the_hard_limit() {
        #[cfg(unix)]
        {
            let now = raise_fd_limit(10);
            let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
            assert_eq!(now, limit.current);
            assert_eq!(limit.current, limit.maximum);
        }
    }
}
