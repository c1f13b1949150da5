//! Live updates: event clients share one poller that asks the shared cache once per
//! `CACHE_TTL` while at least one client is connected, and not at all when none is. Each
//! client gets the current state at once, then only the states that differ from what it
//! last saw.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::{Stream, StreamExt, stream};
use tokio::sync::Notify;
use tokio_stream::wrappers::WatchStream;
use tokio_util::sync::CancellationToken;

use super::service::{NowPlayingService, Snapshot};
use crate::metrics::Metrics;

pub struct Events {
    service: NowPlayingService,
    clients: AtomicUsize,
    max_clients: usize,
    someone_listens: Notify,
    metrics: Metrics,
}

/// One connected client; the count goes down when its stream is dropped.
pub(crate) struct Client(Arc<Events>);

impl Drop for Client {
    fn drop(&mut self) {
        let open = self.0.clients.fetch_sub(1, Ordering::AcqRel) - 1;
        self.0.metrics.event_clients(open);
    }
}

impl Events {
    pub(crate) fn new(
        service: NowPlayingService,
        max_clients: usize,
        metrics: Metrics,
    ) -> Arc<Self> {
        Arc::new(Self {
            service,
            metrics,
            clients: AtomicUsize::new(0),
            max_clients,
            someone_listens: Notify::new(),
        })
    }

    /// Open event streams now.
    pub fn clients(&self) -> usize {
        self.clients.load(Ordering::Acquire)
    }

    /// A place for one more client, or `None` at `MAX_EVENT_CLIENTS`.
    pub(crate) fn join(self: &Arc<Self>) -> Option<Client> {
        let joined = self
            .clients
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_clients).then_some(n + 1)
            })
            .is_ok();
        if !joined {
            return None;
        }
        self.metrics.event_clients(self.clients());
        self.someone_listens.notify_one();
        Some(Client(Arc::clone(self)))
    }

    /// The states `client` should see: the current one at once, then each state that
    /// differs from the last one sent. Ends when `shutdown` is cancelled.
    pub(crate) async fn stream(
        &self,
        client: Client,
        shutdown: CancellationToken,
    ) -> impl Stream<Item = Arc<Snapshot>> + use<> {
        // Subscribe first, so that nothing fetched after the first state is missed.
        let updates = WatchStream::from_changes(self.service.subscribe());
        let first = self.service.current().await;
        let mut last = Arc::clone(&first);
        let changes = updates.filter_map(move |next| {
            let changed = last.view.changed_to(&next.view);
            if changed {
                last = Arc::clone(&next);
            }
            std::future::ready(changed.then_some(next))
        });
        stream::once(std::future::ready(first))
            .chain(changes)
            .take_until(shutdown.cancelled_owned())
            .map(move |snapshot| {
                let _connected = &client;
                snapshot
            })
    }

    /// Polls the shared cache once per `CACHE_TTL` while anyone listens. Runs until `shutdown`.
    pub(crate) async fn poll(&self, shutdown: CancellationToken) {
        let clock = self.service.clock().clone();
        loop {
            if self.clients() == 0 {
                tokio::select! {
                    () = self.someone_listens.notified() => continue,
                    () = shutdown.cancelled() => return,
                }
            }
            // Waits for the fetch rather than answering from the old state: sleeping from
            // its end, the next poll finds the state older than the TTL, as it should.
            self.service.refreshed().await;
            tokio::select! {
                () = clock.sleep(self.service.ttl()) => {},
                () = shutdown.cancelled() => return,
            }
        }
    }
}
