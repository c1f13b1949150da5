//! One fetched state of one list ([`ListSnapshot`]).

use tokio::time::Instant;

use super::model::{ListId, ListView};

/// One fetched state of one list.
pub struct ListSnapshot {
    pub(crate) id: ListId,
    pub(crate) view: ListView,
    /// No new Spotify call for this list before this instant.
    pub refresh_after: Instant,
    /// Grows with every state fetched, across all lists: representations rendered from
    /// this state can be kept under it (see `render::lists`).
    pub(crate) generation: u64,
    /// False only for the placeholder before the first fetch, which is never served while
    /// a fetch is due.
    pub(super) answered: bool,
}

impl ListSnapshot {
    /// Seconds until the next fetch may be made, at least 1: the `Retry-After` of a 503.
    pub(crate) fn retry_after_secs(&self, now: Instant) -> u64 {
        (self
            .refresh_after
            .saturating_duration_since(now)
            .as_secs_f64()
            .ceil() as u64)
            .max(1)
    }
}
