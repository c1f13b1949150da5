//! Client connections: our own accept loop serving HTTP/1.1 with hyper, so that slow and
//! half-open clients cannot take the server down (SPEC 9). A connection that has not sent
//! a complete request head within `HEADER_TIMEOUT`, or idles that long between requests, is
//! closed; at most `MAX_CONNECTIONS` are open at once, and at the limit the oldest one
//! without a request in flight is closed to make room for the next.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tower::Service;

/// How long to wait before accepting again after `accept` failed (out of descriptors...).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// At the limit, how often to look again for a connection to close when none was idle.
const MAKE_ROOM_RETRY: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a request head may take to arrive, and a connection may idle between requests.
    pub header_timeout: Duration,
    /// Client connections open at once, event streams included.
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `shutdown` is cancelled; then stops accepting, closes
/// connections that wait for a request, lets in-flight requests finish and returns once
/// every connection is closed (the caller bounds how long that may take).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let open = Arc::new(Open::default());
    let mut http = http1::Builder::new();
    // Also bounds the wait for the next request head on a keep-alive connection; a response
    // being written (an event stream) is not waiting for a head, so it is never cut.
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut accept_errors = Throttle::new(Duration::from_secs(1));
    let mut at_limit = Throttle::new(Duration::from_secs(60));
    let mut next_id = 0u64;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            // The client gave up before we got to it: nothing to do.
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of descriptors or kernel memory: the connection stays in the backlog;
                // wait a little rather than spin, and say so at most once a second.
                if let Some(suppressed) = accept_errors.ready() {
                    tracing::error!(suppressed, "accept error: {e}");
                }
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                    () = shutdown.cancelled() => break,
                }
            }
        };
        // Past the limit, this one connection waits here and the next ones in the backlog.
        let permit = match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if let Some(suppressed) = at_limit.ready() {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        suppressed,
                        "MAX_CONNECTIONS reached: closing idle connections to make room, \
                         new ones wait"
                    );
                }
                match make_room(&permits, &open, &shutdown).await {
                    Some(permit) => permit,
                    None => break,
                }
            }
        };
        next_id += 1;
        let connection = open.insert(next_id);
        let conn = http.serve_connection(
            TokioIo::new(stream),
            service(router.clone(), peer, Arc::clone(&connection.state)),
        );
        tokio::spawn(run(conn, connection, permit, shutdown.clone()));
    }
    drop(listener);
    // Every connection holds a permit until it closes: all of them back means all closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
}

/// Waits for a permit, closing the oldest connection that has no request in flight to free
/// one; `None` when shutdown started meanwhile.
async fn make_room(
    permits: &Arc<Semaphore>,
    open: &Open,
    shutdown: &CancellationToken,
) -> Option<OwnedSemaphorePermit> {
    loop {
        open.close_oldest_idle();
        tokio::select! {
            permit = Arc::clone(permits).acquire_owned() => {
                return Some(permit.expect("the semaphore is never closed"));
            }
            () = tokio::time::sleep(MAKE_ROOM_RETRY) => {}
            () = shutdown.cancelled() => return None,
        }
    }
}

/// Drives one connection to its end, holding its permit and its place in [`Open`].
async fn run<S>(
    conn: http1::Connection<TokioIo<TcpStream>, S>,
    connection: Listed,
    _permit: OwnedSemaphorePermit,
    shutdown: CancellationToken,
) where
    S: hyper::service::HttpService<Incoming, ResBody = Tracked>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let state = &connection.state;
    let mut conn = pin!(conn);
    let mut draining = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("connection closed: {e}");
                }
                return;
            }
            () = shutdown.cancelled(), if !draining => {
                draining = true;
                if state.never_asked() {
                    return;
                }
                // Hyper closes an idle keep-alive connection at once and any other after
                // its response.
                conn.as_mut().graceful_shutdown();
            }
            () = state.close.notified() => {
                if state.busy.load(Ordering::Relaxed) > 0 {
                    // A request arrived meanwhile: let another connection make the room.
                    state.closing.store(false, Ordering::Relaxed);
                    continue;
                }
                tracing::debug!("connection closed to make room for a new one");
                if state.never_asked() {
                    return;
                }
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// The router as a hyper service for one connection: handlers see the peer as
/// `ConnectInfo<SocketAddr>`, and the connection counts as busy while a response is open.
fn service(
    router: Router,
    peer: SocketAddr,
    state: Arc<ConnectionState>,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = hyper::Response<Tracked>,
    Error = Infallible,
    Future: Send,
> + Send {
    service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let busy = Busy::start(&state);
        // A `Router` is always ready, so calling a clone without `poll_ready` is fine.
        let response = router.clone().call(request);
        async move {
            let response = response.await?;
            Ok(response.map(|body| Tracked { body, _busy: busy }))
        }
    })
}

/// What the accept loop knows of one open connection.
#[derive(Default)]
struct ConnectionState {
    /// Requests started on it whose responses are not yet fully handed to hyper.
    busy: AtomicUsize,
    /// Whether it has ever received a request head (then hyper closes it gracefully).
    asked: AtomicBool,
    /// Chosen to be closed to make room; cleared if a request arrived meanwhile.
    closing: AtomicBool,
    close: Notify,
}

impl ConnectionState {
    /// Nothing was ever read as a request or written back: closing it loses nothing.
    fn never_asked(&self) -> bool {
        !self.asked.load(Ordering::Relaxed)
    }
}

/// Marks a connection busy from the request head until its response body is done.
struct Busy(Arc<ConnectionState>);

impl Busy {
    fn start(state: &Arc<ConnectionState>) -> Self {
        state.asked.store(true, Ordering::Relaxed);
        state.busy.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(state))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that keeps its connection busy until hyper has taken all of it.
struct Tracked {
    body: Body,
    _busy: Busy,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The open connections, oldest first.
#[derive(Default)]
struct Open(Mutex<BTreeMap<u64, Arc<ConnectionState>>>);

impl Open {
    fn insert(self: &Arc<Self>, id: u64) -> Listed {
        let state = Arc::new(ConnectionState::default());
        self.lock().insert(id, Arc::clone(&state));
        Listed {
            open: Arc::clone(self),
            id,
            state,
        }
    }

    /// Asks the oldest connection without a request in flight, and not asked already, to
    /// close.
    fn close_oldest_idle(&self) {
        let open = self.lock();
        if let Some(state) = open.values().find(|state| {
            state.busy.load(Ordering::Relaxed) == 0 && !state.closing.load(Ordering::Relaxed)
        }) {
            state.closing.store(true, Ordering::Relaxed);
            state.close.notify_one();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ConnectionState>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection's entry in [`Open`], removed when the connection ends.
struct Listed {
    open: Arc<Open>,
    id: u64,
    state: Arc<ConnectionState>,
}

impl Drop for Listed {
    fn drop(&mut self) {
        self.open.lock().remove(&self.id);
    }
}

/// Lets an event through at most once per period; counts the ones held back meanwhile.
struct Throttle {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    fn new(every: Duration) -> Self {
        Self {
            every,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(events held back since the last one let through)` when this one may go through.
    fn ready(&mut self) -> Option<u64> {
        let now = Instant::now();
        match self.last {
            Some(last) if now.duration_since(last) < self.every => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// Errors that concern one connection only, not the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_lets_one_through_per_period_and_counts_the_rest() {
        let mut throttle = Throttle::new(Duration::from_secs(3600));
        assert_eq!(throttle.ready(), Some(0));
        assert_eq!(throttle.ready(), None);
        assert_eq!(throttle.ready(), None);
        throttle.last = Some(Instant::now() - Duration::from_secs(3601));
        assert_eq!(throttle.ready(), Some(2));
    }

    #[test]
    fn the_oldest_connection_without_a_request_in_flight_is_asked_to_close() {
        let open = Arc::new(Open::default());
        let first = open.insert(1);
        let second = open.insert(2);
        let third = open.insert(3);
        let fourth = open.insert(4);
        let _request = Busy::start(&first.state);
        let closing = |listed: &Listed| listed.state.closing.load(Ordering::Relaxed);

        open.close_oldest_idle();
        assert!(!closing(&first), "a request in flight");
        assert!(closing(&second), "the oldest idle");
        assert!(!closing(&third));

        open.close_oldest_idle();
        assert!(closing(&third), "the next one, the oldest still closing");
        assert!(!closing(&fourth));

        drop(second);
        drop(third);
        open.close_oldest_idle();
        assert!(closing(&fourth));
        assert!(!closing(&first));
    }
}
