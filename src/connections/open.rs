//! What the accept loop knows of each open connection: whether it has a request in flight,
//! whether its client stopped reading, and which one to close when room is needed.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use hyper::body::{Frame, SizeHint};
use tokio::sync::Notify;

/// How long a write must have waited before its connection is closed first to make room: a
/// client on a slow link that reads on is not cut for an idle connection's sake.
const STALL_GRACE: Duration = Duration::from_secs(1);

/// The origin of [`ConnectionState`]'s stall times: an hour before it is first needed, so that
/// a time a little before that is still after it.
static EPOCH: LazyLock<Instant> = LazyLock::new(|| {
    let now = Instant::now();
    now.checked_sub(Duration::from_secs(3600)).unwrap_or(now)
});

fn millis_since_epoch(at: Instant) -> u64 {
    // At least 1: 0 means "not stalled".
    u64::try_from(at.saturating_duration_since(*EPOCH).as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// What the accept loop knows of one open connection.
#[derive(Default)]
pub(super) struct ConnectionState {
    /// Requests started on it whose responses are not yet fully handed to hyper.
    pub(super) busy: AtomicUsize,
    /// Whether it has ever received a request head (then hyper closes it gracefully).
    asked: AtomicBool,
    /// Since when a response waits for a client that takes no bytes (see
    /// [`super::watched`]): milliseconds after [`EPOCH`], 0 while it does not.
    stalled_since: AtomicU64,
    /// Chosen to be closed to make room; cleared if a request arrived meanwhile.
    pub(super) closing: AtomicBool,
    pub(super) close: Notify,
}

impl ConnectionState {
    /// A write found no room (`Some(when)`), or went through again (`None`).
    pub(super) fn set_stalled(&self, since: Option<Instant>) {
        let since = since.map_or(0, millis_since_epoch);
        self.stalled_since.store(since, Ordering::Relaxed);
    }

    pub(super) fn stalled(&self) -> bool {
        self.stalled_since.load(Ordering::Relaxed) != 0
    }

    /// Whether its client has taken nothing for at least `grace`, as of `now`.
    fn stalled_for(&self, grace: Duration, now: Instant) -> bool {
        let since = self.stalled_since.load(Ordering::Relaxed);
        since != 0 && since.saturating_add(grace.as_millis() as u64) <= millis_since_epoch(now)
    }

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

    /// Asks one connection to close, to make room: the oldest whose client has read nothing
    /// for [`STALL_GRACE`] (it is dropped at once, mid-response), else the oldest without a
    /// request in flight; never one asked already.
    pub(super) fn close_one(&self) {
        let now = Instant::now();
        let open = self.lock();
        let candidates = || {
            open.values()
                .filter(|state| !state.closing.load(Ordering::Relaxed))
        };
        let chosen = candidates()
            .find(|state| state.stalled_for(STALL_GRACE, now))
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
        let just_now = open.insert(3);
        just_now.state.set_stalled(Some(Instant::now()));
        stalled
            .state
            .set_stalled(Some(Instant::now() - STALL_GRACE));
        open.close_one();
        assert!(
            stalled.state.closing.load(Ordering::Relaxed),
            "stalled, even with a request"
        );
        assert!(!idle.state.closing.load(Ordering::Relaxed));
        open.close_one();
        assert!(
            !just_now.state.closing.load(Ordering::Relaxed),
            "a client that may be on a slow link"
        );
        assert!(
            idle.state.closing.load(Ordering::Relaxed),
            "then the oldest idle"
        );
    }
}
