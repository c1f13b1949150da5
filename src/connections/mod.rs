//! Client connections: our own accept loop serving HTTP/1.1 with hyper, so that slow and
//! half-open clients cannot take the server down (README: Slow clients and
//! connection limits). A connection that has not sent
//! a complete request head within `HEADER_TIMEOUT`, or idles that long between requests, is
//! closed, and so is one whose client takes no bytes of a response for that long
//! ([`watched`]); at most `MAX_CONNECTIONS` are open at once, and at the limit one whose
//! client stopped reading, else the oldest one without a request in flight, is closed to
//! make room for the next. hyper itself answers 431 to a request head larger than
//! [`MAX_HEAD`] (the router never sees it), and buffers no more than that of responses.

mod open;
mod watched;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tower::Service;

use crate::heads::MAX_HEAD;
use open::{Busy, ConnectionState, Listed, Open, Tracked};
use watched::Watched;

/// The kernel's send buffer per client socket. Left to itself Linux grows it to 4 MiB for
/// a client that reads nothing; a widget's responses are tens of kilobytes. Linux counts it
/// double and lets a write through again once a third has drained, so a client shows that
/// it reads by taking about 40 KB per `HEADER_TIMEOUT`, and one connection still carries a
/// megabyte a second at 100 ms of round trip.
const SEND_BUFFER: usize = 64 * 1024;

/// How long to wait before accepting again after `accept` failed (out of descriptors...).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// At the limit, how often to look again for a connection to close when none was idle.
const MAKE_ROOM_RETRY: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// How long a request head may take to arrive, and a connection may idle between requests.
    pub header_timeout: Duration,
    /// Client connections open at once, event streams included.
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `shutdown` is cancelled; then stops accepting, closes
/// connections that wait for a request, lets in-flight requests finish and returns once
/// every connection is closed (the caller bounds how long that may take).
pub(crate) async fn serve(
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
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD)
        .max_header_size(MAX_HEAD);
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
        if let Err(e) = socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER) {
            tracing::debug!("cannot set the send buffer of a client socket: {e}");
        }
        next_id += 1;
        let connection = open.insert(next_id);
        let io = Watched::new(stream, Arc::clone(&connection.state), limits.header_timeout);
        let conn = http.serve_connection(
            TokioIo::new(io),
            service(router.clone(), peer, Arc::clone(&connection.state)),
        );
        tokio::spawn(run(conn, connection, permit, shutdown.clone()));
    }
    drop(listener);
    // Every connection holds a permit until it closes: all of them back means all closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
}

/// Waits for a permit, closing a connection to free one ([`Open::close_one`]); `None` when
/// shutdown started meanwhile.
async fn make_room(
    permits: &Arc<Semaphore>,
    open: &Open,
    shutdown: &CancellationToken,
) -> Option<OwnedSemaphorePermit> {
    loop {
        open.close_one();
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
    conn: http1::Connection<TokioIo<Watched<TcpStream>>, S>,
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
                if state.stalled() {
                    tracing::debug!(
                        "connection whose client stopped reading closed to make room"
                    );
                    return;
                }
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
}
