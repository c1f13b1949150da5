//! One shared cache per list, with the discipline of the now-playing cache (README: How
//! Spotify is called and cached):
//! Spotify is asked only when someone asks the server, at most once per list TTL (60 s for
//! recently played, `TOP_TTL` per top list) however many ask at once (single flight); once a
//! list has been fetched nobody waits for the next fetch (stale-while-revalidate); while
//! Spotify fails the last good list is served as `stale`; a 429's `Retry-After` is honoured;
//! a 403 is remembered as a missing scope for a whole TTL.
//!
//! The recently played list is also where the now-playing `recent` state comes from: one
//! `recently-played?limit=50` call a minute serves both.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, watch};
use tokio::time::Instant;

use super::demo;
use super::model::{
    Entry, List, ListErrorCode, ListId, ListUnavailable, ListView, Position, Subject,
};
use super::snapshot::ListSnapshot;
use crate::clock::Clock;
use crate::now_playing::model::Item;
use crate::spotify::lists::TopKind;
use crate::spotify::{SpotifyClient, SpotifyError};

/// `recently-played` is asked at most this often (or once per `CACHE_TTL` if that is longer).
const RECENT_TTL: Duration = Duration::from_secs(60);

/// After a failure (other than a missing scope) a list is asked again after this long, or
/// after `Retry-After` if that is longer: a failure is no answer to keep for a whole TTL.
pub(crate) const FAILURE_RETRY: Duration = Duration::from_secs(60);

/// What the list caches need to know of the settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListOptions {
    /// `CACHE_TTL`: recently played is reused for this long if it is over a minute.
    pub(crate) cache_ttl: Duration,
    /// `TOP_TTL`.
    pub(crate) top_ttl: Duration,
    /// `STALE_MAX`.
    pub(crate) stale_max: Duration,
    /// `/auth/login` is enabled (`ADMIN_TOKEN`), so a missing scope can be granted there.
    pub(crate) login: bool,
}

/// The seven list caches. Cheap to clone.
#[derive(Clone)]
pub struct ListsService(Arc<Inner>);

struct Inner {
    upstream: Upstream,
    clock: Clock,
    recent_ttl: Duration,
    top_ttl: Duration,
    stale_max: Duration,
    /// How the owner grants a missing scope, for the 503 message.
    grant: String,
    caches: [Cache; 7],
    generations: AtomicU64,
}

enum Upstream {
    Demo,
    Spotify(Box<SpotifyClient>),
}

struct Cache {
    latest: watch::Sender<Arc<ListSnapshot>>,
    /// Held across a fetch: the single flight.
    round: Mutex<Memory>,
    /// A background fetch is running: viewers who find the list old spawn no other.
    revalidating: AtomicBool,
}

#[derive(Default)]
struct Memory {
    last_good: Option<List>,
    forbidden_logged: bool,
}

impl ListsService {
    /// The list caches, asking Spotify through `client` (the now-playing service's, so that
    /// the token and an app-wide `Retry-After` are shared), or serving sample data when
    /// there is none (demo mode).
    pub(crate) fn new(options: ListOptions, client: Option<SpotifyClient>, clock: Clock) -> Self {
        let upstream = match client {
            Some(client) => Upstream::Spotify(Box::new(client)),
            None => Upstream::Demo,
        };
        let placeholder = |id| {
            watch::Sender::new(Arc::new(ListSnapshot {
                id,
                view: ListView::Unavailable(ListUnavailable {
                    code: ListErrorCode::Upstream,
                    message: "Spotify has not answered yet".into(),
                }),
                refresh_after: clock.now(),
                generation: 0,
                answered: false,
            }))
        };
        let caches = ListId::ALL.map(|id| Cache {
            latest: placeholder(id),
            round: Mutex::new(Memory::default()),
            revalidating: AtomicBool::new(false),
        });
        let grant = if options.login {
            "run `now-playing auth --write-env .env`, or open /auth/login on this server, and approve Spotify's consent page".to_owned()
        } else {
            "run `now-playing auth --write-env .env` and approve Spotify's consent page".to_owned()
        };
        Self(Arc::new(Inner {
            upstream,
            recent_ttl: RECENT_TTL.max(options.cache_ttl),
            top_ttl: options.top_ttl,
            stale_max: options.stale_max,
            grant,
            caches,
            generations: AtomicU64::new(1),
            clock,
        }))
    }

    /// The state of `id` to serve now, without waiting for Spotify once it has answered for
    /// this list: a state older than the list's TTL is served as it is and starts the one
    /// background fetch, whose result goes to those who come after it. Only before the
    /// list's first answer does the caller wait, for a fetch shared with everyone waiting.
    pub(crate) async fn current(&self, id: ListId) -> Arc<ListSnapshot> {
        let cached = self.latest(id);
        if self.0.clock.now() < cached.refresh_after {
            return cached;
        }
        if cached.answered && !matches!(self.0.upstream, Upstream::Demo) {
            self.revalidate(id);
            return cached;
        }
        self.wait_for_refresh(id).await
    }

    /// The state of `id` after the fetch that is due, if one is: waits for it (sharing the
    /// one in flight). For fetches that build on a list, such as the `recent` state, and
    /// for pollers that must see each new state; viewers use [`Self::current`].
    pub(crate) async fn refreshed(&self, id: ListId) -> Arc<ListSnapshot> {
        let cached = self.latest(id);
        if self.0.clock.now() < cached.refresh_after {
            return cached;
        }
        self.wait_for_refresh(id).await
    }

    /// The last fetched state of `id`, fresh or not, without calling Spotify.
    pub(crate) fn latest(&self, id: ListId) -> Arc<ListSnapshot> {
        Arc::clone(&self.0.caches[id.index()].latest.borrow())
    }

    /// Every state of `id` fetched from now on, as it is fetched (for live widgets).
    pub fn subscribe(&self, id: ListId) -> watch::Receiver<Arc<ListSnapshot>> {
        self.0.caches[id.index()].latest.subscribe()
    }

    /// How long one answer for `id` is reused: `max(60 s, CACHE_TTL)` for recently played,
    /// `TOP_TTL` for top lists. Also the `max-age` its routes send.
    pub(crate) fn ttl(&self, id: ListId) -> Duration {
        self.0.ttl(id)
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.0.clock
    }

    pub(crate) fn is_demo(&self) -> bool {
        matches!(self.0.upstream, Upstream::Demo)
    }

    /// The last played track and when, for the now-playing `recent` state: the newest
    /// entry of the shared recently played list, after the fetch that is due (at most one a
    /// minute). `None` when there is none to show: nothing played, the scope is missing, or
    /// Spotify has failed for longer than `STALE_MAX`.
    pub(crate) async fn last_played(&self) -> Option<(Item, Option<DateTime<Utc>>)> {
        let snapshot = self.refreshed(ListId::RecentlyPlayed).await;
        let ListView::Ok(list) = &snapshot.view else {
            return None;
        };
        list.entries.iter().find_map(|entry| match entry {
            Entry {
                subject: Subject::Track(item),
                position: Position::PlayedAt(at),
                ..
            } => Some((item.clone(), *at)),
            _ => None,
        })
    }

    async fn wait_for_refresh(&self, id: ListId) -> Arc<ListSnapshot> {
        // In its own task, so that a caller who leaves cannot cancel everyone's fetch.
        let inner = Arc::clone(&self.0);
        match tokio::spawn(async move { inner.refresh(id).await }).await {
            Ok(snapshot) => snapshot,
            Err(_) => self.latest(id),
        }
    }

    fn revalidate(&self, id: ListId) {
        let cache = &self.0.caches[id.index()];
        if cache
            .revalidating
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        // Made before the spawn, so the flag is cleared however the task ends.
        let running = Revalidating(Arc::clone(&self.0), id);
        tokio::spawn(async move {
            running.0.refresh(running.1).await;
            drop(running);
        });
    }
}

/// Clears the list's `revalidating` flag when its background fetch ends, however it ends.
struct Revalidating(Arc<Inner>, ListId);

impl Drop for Revalidating {
    fn drop(&mut self) {
        self.0.caches[self.1.index()]
            .revalidating
            .store(false, Ordering::Release);
    }
}

impl Inner {
    fn ttl(&self, id: ListId) -> Duration {
        match id {
            ListId::RecentlyPlayed => self.recent_ttl,
            ListId::Top(..) => self.top_ttl,
        }
    }

    /// One fetch of `id`, unless another made it fresh while this one waited: single flight.
    async fn refresh(&self, id: ListId) -> Arc<ListSnapshot> {
        let cache = &self.caches[id.index()];
        let mut memory = cache.round.lock().await;
        let cached = Arc::clone(&cache.latest.borrow());
        if self.clock.now() < cached.refresh_after {
            return cached;
        }
        let (view, refresh_after) = self.fetch(id, &mut memory).await;
        let next = Arc::new(ListSnapshot {
            id,
            view,
            refresh_after,
            generation: self.generations.fetch_add(1, Ordering::Relaxed),
            answered: true,
        });
        cache.latest.send_replace(Arc::clone(&next));
        next
    }

    async fn fetch(&self, id: ListId, memory: &mut Memory) -> (ListView, Instant) {
        let ttl = self.ttl(id);
        let client = match &self.upstream {
            Upstream::Demo => {
                let list = demo::list(id, self.clock.utc());
                return (ListView::Ok(list), self.clock.now() + ttl);
            }
            Upstream::Spotify(client) => client,
        };
        let answer = match id {
            ListId::RecentlyPlayed => client.recently_played().await.map(Entry::from_history),
            ListId::Top(TopKind::Tracks, range) => {
                client.top_tracks(range).await.map(Entry::from_top_tracks)
            }
            ListId::Top(TopKind::Artists, range) => {
                client.top_artists(range).await.map(Entry::from_top_artists)
            }
        };
        let (now, fetched_at) = (self.clock.now(), self.clock.utc());
        match answer {
            Ok(entries) => {
                let list = List {
                    id,
                    entries: entries.into(),
                    fetched_at,
                    stale: false,
                };
                memory.last_good = Some(list.clone());
                (ListView::Ok(list), now + ttl)
            }
            Err(SpotifyError::Forbidden) => {
                if !std::mem::replace(&mut memory.forbidden_logged, true) {
                    tracing::warn!(
                        list = id.kind(),
                        scope = id.scope(),
                        "Spotify refused the {} (scope {} not granted): the list answers missing_scope; to grant it, {}",
                        id.name(),
                        id.scope(),
                        self.grant
                    );
                }
                let why = ListUnavailable {
                    code: ListErrorCode::MissingScope,
                    message: format!(
                        "Spotify refused the {}: the owner has not granted the {} scope; to grant it, {}",
                        id.name(),
                        id.scope(),
                        self.grant
                    ),
                };
                (ListView::Unavailable(why), now + ttl)
            }
            Err(e) => self.on_error(id, e, memory, now),
        }
    }

    /// The last good list as `stale` for up to `STALE_MAX` after its TTL ran out (never
    /// with dead credentials), else why there is none; asked again after
    /// [`FAILURE_RETRY`] or `Retry-After`.
    fn on_error(
        &self,
        id: ListId,
        error: SpotifyError,
        memory: &Memory,
        now: Instant,
    ) -> (ListView, Instant) {
        let (code, retry_after) = match &error {
            SpotifyError::Auth(_) => (ListErrorCode::SpotifyAuth, None),
            SpotifyError::RateLimited { retry_after } => (ListErrorCode::RateLimited, *retry_after),
            _ => (ListErrorCode::Upstream, None),
        };
        let ttl = self.ttl(id);
        let refresh_after = now + FAILURE_RETRY.min(ttl).max(retry_after.unwrap_or_default());
        let usable = memory.last_good.as_ref().filter(|list| {
            let good_until = list.fetched_at
                + chrono::Duration::from_std(ttl + self.stale_max).unwrap_or_default();
            code != ListErrorCode::SpotifyAuth && self.clock.utc() <= good_until
        });
        let view = match usable {
            Some(list) => ListView::Ok(List {
                stale: true,
                ..list.clone()
            }),
            None => ListView::Unavailable(ListUnavailable {
                code,
                message: match code {
                    ListErrorCode::SpotifyAuth => "Spotify rejected this server's credentials; the owner has to authorize again".into(),
                    ListErrorCode::RateLimited => "Spotify is rate limiting this server; try again later".into(),
                    _ => "Spotify is not answering; try again later".into(),
                },
            }),
        };
        (view, refresh_after)
    }
}
