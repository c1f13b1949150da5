//! The one shared cache between viewers and Spotify. Every route and event client reads
//! [`NowPlayingService::current`]; it calls Spotify at most once per `CACHE_TTL` however many
//! ask at once (single flight), answers from the last state while the next one is fetched
//! (stale-while-revalidate), serves the last good answer as `stale` while Spotify fails,
//! and honours `Retry-After`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, watch};
use tokio::time::Instant;

use super::demo;
use super::lists::{ListOptions, ListsService};
use super::model::{ErrorCode, NowPlaying, Unavailable, View};
use crate::clock::Clock;
use crate::config::{Config, Source};
use crate::metrics::Metrics;
use crate::spotify::lifetime::EXPIRY_WARNING;
use crate::spotify::{SpotifyClient, SpotifyError};

/// One fetched state.
pub struct Snapshot {
    pub(crate) view: View,
    /// No new Spotify call before this instant: the TTL, or a longer `Retry-After`.
    pub refresh_after: Instant,
    /// Counts fetched states from 1 (0 is the placeholder before the first answer): what
    /// representations of this state are memoised under.
    pub(crate) generation: u64,
    /// Whether this state came from a fetch (an error counts): false only for the placeholder
    /// before the first one, which is never served while a fetch is due.
    answered: bool,
}

impl Snapshot {
    fn new(view: View, refresh_after: Instant) -> Self {
        Self {
            view,
            generation: 0,
            refresh_after,
            answered: true,
        }
    }
}

#[derive(Clone)]
pub struct NowPlayingService(Arc<Inner>);

struct Inner {
    upstream: Upstream,
    clock: Clock,
    ttl: Duration,
    stale_max: Duration,
    show_recent: bool,
    /// The last fetched state; every new one is also a change notification for event streams.
    latest: watch::Sender<Arc<Snapshot>>,
    round: Mutex<Memory>,
    /// A background refresh has been spawned and has not ended: viewers who find the state
    /// old meanwhile spawn no other.
    revalidating: AtomicBool,
    metrics: Metrics,
    /// The list caches; the recently played one also feeds the `recent` state.
    lists: ListsService,
}

enum Upstream {
    Demo,
    Spotify(Box<SpotifyClient>),
}

/// What a fetch round remembers from earlier rounds.
#[derive(Default)]
struct Memory {
    last_good: Option<(NowPlaying, Instant)>,
}

impl NowPlayingService {
    pub(crate) fn new(config: &Config, clock: Clock, metrics: Metrics) -> Self {
        let upstream = match &config.source {
            Source::Demo => Upstream::Demo,
            Source::Spotify(spotify) => Upstream::Spotify(Box::new(SpotifyClient::new(
                spotify,
                clock.clone(),
                metrics.clone(),
            ))),
        };
        // Expired from the start, so the first viewer triggers the first fetch and waits.
        let empty = Snapshot {
            answered: false,
            ..Snapshot::new(
                View::Unavailable(Unavailable {
                    code: ErrorCode::Upstream,
                    message: "Spotify has not answered yet".into(),
                    refresh_token_expires_at: None,
                }),
                clock.now(),
            )
        };
        let client = match &upstream {
            Upstream::Spotify(client) => Some(client.as_ref().clone()),
            Upstream::Demo => None,
        };
        let options = ListOptions {
            cache_ttl: config.cache_ttl,
            top_ttl: config.top_ttl,
            stale_max: config.stale_max,
            login: config.admin.is_some(),
        };
        let lists = ListsService::new(options, client, clock.clone());
        Self(Arc::new(Inner {
            lists,
            upstream,
            ttl: config.cache_ttl,
            stale_max: config.stale_max,
            show_recent: config.show_recent,
            latest: watch::Sender::new(Arc::new(empty)),
            round: Mutex::new(Memory::default()),
            revalidating: AtomicBool::new(false),
            clock,
            metrics,
        }))
    }

    pub(crate) fn is_demo(&self) -> bool {
        matches!(self.0.upstream, Upstream::Demo)
    }

    pub(crate) fn spotify(&self) -> Option<&SpotifyClient> {
        match &self.0.upstream {
            Upstream::Spotify(client) => Some(client),
            Upstream::Demo => None,
        }
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.0.clock
    }

    /// The recently played and top lists, which share this service's Spotify client.
    pub fn lists(&self) -> &ListsService {
        &self.0.lists
    }

    pub(crate) fn ttl(&self) -> Duration {
        self.0.ttl
    }

    /// The state to serve now, without waiting for Spotify once it has answered: the cached
    /// state, fresh or not. One older than `CACHE_TTL` (or a `Retry-After`) also starts the
    /// one background fetch, whose result goes to those who come after it. Only before the
    /// first answer does the caller wait, for a fetch shared by everyone waiting (and in
    /// demo mode, whose fetch is instant).
    pub(crate) async fn current(&self) -> Arc<Snapshot> {
        let cached = self.latest();
        let fresh = self.0.clock.now() < cached.refresh_after;
        self.0.metrics.cache(fresh);
        if fresh {
            return cached;
        }
        // Demo mode has no Spotify to wait for: its next scene is computed at once.
        if cached.answered && !self.is_demo() {
            self.revalidate();
            return cached;
        }
        self.wait_for_refresh().await
    }

    /// The state after the fetch that is due, if one is: waits for it (sharing the one in
    /// flight) instead of answering from the old state. For the event poller, which must
    /// see each new state before it sleeps for the next `CACHE_TTL`; viewers use
    /// [`Self::current`].
    pub(crate) async fn refreshed(&self) -> Arc<Snapshot> {
        let cached = self.latest();
        let fresh = self.0.clock.now() < cached.refresh_after;
        self.0.metrics.cache(fresh);
        if fresh {
            return cached;
        }
        self.wait_for_refresh().await
    }

    async fn wait_for_refresh(&self) -> Arc<Snapshot> {
        // The round runs in its own task, so a caller who leaves mid-call cannot cancel the
        // fetch that everyone else is waiting for.
        let inner = Arc::clone(&self.0);
        match tokio::spawn(async move { inner.refresh().await }).await {
            Ok(snapshot) => snapshot,
            Err(_) => self.latest(),
        }
    }

    /// Starts the background fetch unless one is running already: one task per round,
    /// however many viewers find the state old at once.
    fn revalidate(&self) {
        if self
            .0
            .revalidating
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        // Made before the spawn, so the flag is cleared however the task ends: done,
        // panicked, or dropped with the runtime.
        let running = Revalidating(Arc::clone(&self.0));
        tokio::spawn(async move {
            running.0.refresh().await;
            drop(running);
        });
    }

    /// The last fetched state, fresh or not, without calling Spotify.
    pub(crate) fn latest(&self) -> Arc<Snapshot> {
        Arc::clone(&self.0.latest.borrow())
    }

    /// Every state fetched from now on, as it is fetched.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.0.latest.subscribe()
    }

    /// Logs a warning at start and once a day from [`EXPIRY_WARNING`] before the refresh
    /// token's six-month expiry, when the time it was authorized is known. Runs forever.
    pub(crate) async fn watch_expiry(&self, reauthorize_hint: String) {
        let Upstream::Spotify(client) = &self.0.upstream else {
            return;
        };
        let mut first = true;
        loop {
            if let Some(expires_at) = client.tokens().expires_at() {
                let left = expires_at - self.0.clock.utc();
                if left > EXPIRY_WARNING && first {
                    tracing::info!(
                        refresh_token_expires_at = %expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        days_left = left.num_days(),
                        "the Spotify refresh token expires in {} days",
                        left.num_days()
                    );
                } else if left <= EXPIRY_WARNING {
                    tracing::warn!(
                        refresh_token_expires_at = %expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        days_left = left.num_days(),
                        "the Spotify refresh token {} (Spotify ends refresh tokens 6 months after authorization); {reauthorize_hint}",
                        if left > chrono::Duration::zero() { "expires soon" } else { "has expired" }
                    );
                }
            }
            first = false;
            self.0.clock.sleep(Duration::from_secs(86_400)).await;
        }
    }

    /// Gets an access token now, outside any viewer's request, and logs the outcome.
    pub(crate) async fn warm_up(&self) {
        match &self.0.upstream {
            Upstream::Demo => {
                tracing::info!("demo mode: serving built-in sample data, Spotify is never called")
            }
            Upstream::Spotify(client) => {
                if client.tokens().access_token().await.is_ok() {
                    tracing::info!("Spotify credentials work");
                }
            }
        }
    }
}

/// Clears [`Inner::revalidating`] when the background fetch ends, however it ends.
struct Revalidating(Arc<Inner>);

impl Drop for Revalidating {
    fn drop(&mut self) {
        self.0.revalidating.store(false, Ordering::Release);
    }
}

impl Inner {
    /// One fetch round, unless another one made the state fresh while this one waited for
    /// the lock: the single flight.
    async fn refresh(&self) -> Arc<Snapshot> {
        let mut memory = self.round.lock().await;
        let cached = Arc::clone(&self.latest.borrow());
        if self.clock.now() < cached.refresh_after {
            return cached;
        }
        let mut next = self.fetch(&mut memory).await;
        next.generation = cached.generation + 1;
        let next = Arc::new(next);
        self.latest.send_replace(Arc::clone(&next));
        next
    }

    async fn fetch(&self, memory: &mut Memory) -> Snapshot {
        let client = match &self.upstream {
            Upstream::Demo => {
                tracing::debug!("demo mode: next sample state");
                return Snapshot::new(
                    View::Ok(demo::at(self.clock.utc())),
                    self.clock.now() + self.ttl,
                );
            }
            Upstream::Spotify(client) => client,
        };
        let answer = client.currently_playing().await;
        let (now, fetched_at) = (self.clock.now(), self.clock.utc());
        match answer {
            Ok(answer) => {
                let doc = match answer.and_then(|a| NowPlaying::from_spotify(a, fetched_at)) {
                    Some(doc) => doc,
                    None => self.nothing_playing(fetched_at).await,
                };
                memory.last_good = Some((doc.clone(), now));
                Snapshot::new(View::Ok(doc), now + self.ttl)
            }
            Err(e) => {
                let expires_at = client.tokens().expires_at();
                self.on_error(e, memory, now, expires_at)
            }
        }
    }

    /// The last played track, or idle; from the shared recently played list, which asks
    /// Spotify at most once a minute.
    async fn nothing_playing(&self, fetched_at: DateTime<Utc>) -> NowPlaying {
        if !self.show_recent {
            return NowPlaying::idle(fetched_at);
        }
        match self.lists.last_played().await {
            Some((item, played_at)) => NowPlaying::recent(item, played_at, fetched_at),
            None => NowPlaying::idle(fetched_at),
        }
    }

    fn on_error(
        &self,
        error: SpotifyError,
        memory: &Memory,
        now: Instant,
        refresh_token_expires_at: Option<DateTime<Utc>>,
    ) -> Snapshot {
        let (code, retry_after) = match &error {
            SpotifyError::Auth(_) => (ErrorCode::SpotifyAuth, None),
            SpotifyError::RateLimited { retry_after } => (ErrorCode::RateLimited, *retry_after),
            _ => (ErrorCode::Upstream, None),
        };
        let refresh_after = now + self.ttl.max(retry_after.unwrap_or_default());
        let usable = memory.last_good.as_ref().filter(|(_, at)| {
            code != ErrorCode::SpotifyAuth && now.duration_since(*at) <= self.stale_max
        });
        let view = match usable {
            Some((doc, _)) => View::Ok(NowPlaying { stale: true, ..doc.clone() }),
            None => View::Unavailable(Unavailable {
                code,
                message: match code {
                    ErrorCode::SpotifyAuth => "Spotify rejected this server's credentials; the owner has to authorize again".into(),
                    ErrorCode::RateLimited => "Spotify is rate limiting this server; try again later".into(),
                    ErrorCode::Upstream => "Spotify is not answering; try again later".into(),
                },
                refresh_token_expires_at,
            }),
        };
        Snapshot::new(view, refresh_after)
    }
}
