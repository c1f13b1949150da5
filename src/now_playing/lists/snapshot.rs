//! One fetched state of one list ([`ListSnapshot`]) and the view of it that widgets render
//! ([`ListPage`]).

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::model::{Entry, ListId, ListUnavailable, ListView};

/// One fetched state of one list.
pub struct ListSnapshot {
    pub id: ListId,
    pub view: ListView,
    /// No new Spotify call for this list before this instant.
    pub refresh_after: Instant,
    /// Grows with every state fetched, across all lists: representations rendered from
    /// this state can be kept under it (see `render::lists`).
    pub generation: u64,
    /// False only for the placeholder before the first fetch, which is never served while
    /// a fetch is due.
    pub(super) answered: bool,
}

/// What a template needs to show one list, limited to what it shows.
#[derive(Debug, Clone, Copy)]
pub struct ListPage<'a> {
    pub id: ListId,
    /// At most the `limit` asked for; empty when unavailable.
    pub entries: &'a [Entry],
    /// `None` when unavailable.
    pub fetched_at: Option<DateTime<Utc>>,
    /// Spotify is failing and this is the last good list.
    pub stale: bool,
    /// Why there is no list; a widget shows [`ListUnavailable::notice`] on a neutral card
    /// with HTTP 200 (the JSON answers 503).
    pub unavailable: Option<&'a ListUnavailable>,
}

impl ListSnapshot {
    /// The view of this state for a widget showing `limit` entries.
    pub fn page(&self, limit: usize) -> ListPage<'_> {
        match &self.view {
            ListView::Ok(list) => ListPage {
                id: self.id,
                entries: list.first(limit),
                fetched_at: Some(list.fetched_at),
                stale: list.stale,
                unavailable: None,
            },
            ListView::Unavailable(why) => ListPage {
                id: self.id,
                entries: &[],
                fetched_at: None,
                stale: false,
                unavailable: Some(why),
            },
        }
    }

    /// Seconds until the next fetch may be made, at least 1: the `Retry-After` of a 503.
    pub fn retry_after_secs(&self, now: Instant) -> u64 {
        (self
            .refresh_after
            .saturating_duration_since(now)
            .as_secs_f64()
            .ceil() as u64)
            .max(1)
    }
}
