//! What the accept loop knows of each open connection: whether it has a request in flight,
//! whether its client stopped reading, and which one to close when room is needed.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use hyper::body::{Frame, SizeHint};
use tokio::sync::Notify;

/// What the accept loop knows of one open connection.
#[derive(Default)]
pub(super) struct ConnectionState {
    /// Requests started on it whose responses are not yet fully handed to hyper.
    pub(super) busy: AtomicUsize,
    /// Whether it has ever received a request head (then hyper closes it gracefully).
    asked: AtomicBool,
    /// A response waits for a client that takes no bytes (see [`super::watched`]).
    pub(super) stalled: AtomicBool,
    /// Chosen to be closed to make room; cleared if a request arrived meanwhile.
    pub(super) closing: AtomicBool,
    pub(super) close: Notify,
}

impl ConnectionState {
    /// Nothing was ever read as a request or written back: closing it loses nothing.
    pub(super) fn never_asked(&self) -> bool {
        !self.asked.load(Ordering::Relaxed)
    }
}

/// Marks a connection busy from the request head until its response body is done.
pub(super) struct Busy(Arc<ConnectionState>);

impl Busy {
    pub(super) fn start(state: &Arc<ConnectionState>) -> Self {
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
pub(super) struct Tracked {
    pub(super) body: Body,
    pub(super) _busy: Busy,
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
pub(super) struct Open(Mutex<BTreeMap<u64, Arc<ConnectionState>>>);

impl Open {
    pub(super) fn insert(self: &Arc<Self>, id: u64) -> Listed {
        let state = Arc::new(ConnectionState::default());
        self.lock().insert(id, Arc::clone(&state));
        Listed {
            open: Arc::clone(self),
            id,
            state,
        }
    }

    /// Asks one connection to close, to make room: the oldest whose client stopped reading
    /// (it is dropped at once, mid-response), else the oldest without a request in flight;
    /// never one asked already.
    pub(super) fn close_one(&self) {
        let open = self.lock();
        let candidates = || {
            open.values()
                .filter(|state| !state.closing.load(Ordering::Relaxed))
        };
        let chosen = candidates()
            .find(|state| state.stalled.load(Ordering::Relaxed))
            .or_else(|| candidates().find(|state| state.busy.load(Ordering::Relaxed) == 0));
        if let Some(state) = chosen {
            state.closing.store(true, Ordering::Relaxed);
            state.close.notify_one();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ConnectionState>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection's entry in [`Open`], removed when the connection ends.
pub(super) struct Listed {
    open: Arc<Open>,
    id: u64,
    pub(super) state: Arc<ConnectionState>,
}

impl Drop for Listed {
    fn drop(&mut self) {
        self.open.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_connection_without_a_request_in_flight_is_asked_to_close() {
        let open = Arc::new(Open::default());
        let first = open.insert(1);
        let second = open.insert(2);
        let third = open.insert(3);
        let fourth = open.insert(4);
        let _request = Busy::start(&first.state);
        let closing = |listed: &Listed| listed.state.closing.load(Ordering::Relaxed);

        open.close_one();
        assert!(!closing(&first), "a request in flight");
        assert!(closing(&second), "the oldest idle");
        assert!(!closing(&third));

        open.close_one();
        assert!(closing(&third), "the next one, the oldest still closing");
        assert!(!closing(&fourth));

        drop(second);
        drop(third);
        open.close_one();
        assert!(closing(&fourth));
        assert!(!closing(&first));
    }

    #[test]
    fn a_connection_whose_client_stopped_reading_is_closed_first() {
        let open = Arc::new(Open::default());
        let idle = open.insert(1);
        let stalled = open.insert(2);
        let _request = Busy::start(&stalled.state);
        stalled.state.stalled.store(true, Ordering::Relaxed);
        open.close_one();
        assert!(
            stalled.state.closing.load(Ordering::Relaxed),
            "stalled, even with a request"
        );
        assert!(!idle.state.closing.load(Ordering::Relaxed));
        open.close_one();
        assert!(
            idle.state.closing.load(Ordering::Relaxed),
            "then the oldest idle"
        );
    }
}
