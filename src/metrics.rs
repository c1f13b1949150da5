//! Prometheus metrics, in a registry owned by the application (not a process-global
//! recorder), so every test builds its own. Served as text on `/metrics` unless `METRICS=false`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::MatchedPath;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A label value known at compile time: route templates, endpoints, outcomes.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub(crate) struct Name(pub &'static str);

impl EncodeLabelValue for Name {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.0)
    }
}

/// The route template that answered (`/now-playing`, `/static/{*path}`), or `unmatched`:
/// never the raw path, so the number of series stays bounded.
#[derive(Clone, Debug)]
pub struct Route(pub Option<MatchedPath>);

impl Route {
    fn as_str(&self) -> &str {
        self.0.as_ref().map_or("unmatched", MatchedPath::as_str)
    }
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Route {}

impl std::hash::Hash for Route {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub route: Route,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteLabels {
    pub route: Route,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CallLabels {
    pub endpoint: Name,
    pub outcome: Name,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CacheLabels {
    pub result: Name,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Cheap to clone: every handle points at the same registry.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    spotify_calls: Family<CallLabels, Counter>,
    spotify_latency: Family<CallLabels, Histogram, fn() -> Histogram>,
    cache_hits: Counter,
    cache_misses: Counter,
    token_refreshes: Counter,
    event_clients: Gauge,
    refresh_token_expiry: Gauge,
    log_lines_dropped: Counter,
    render_cache_bytes: Gauge,
}

/// Where the number of log lines dropped by the log writer comes from (set once by the
/// binary; a library user without that writer reports 0).
static DROPPED_LOG_LINES: OnceLock<Box<dyn Fn() -> u64 + Send + Sync>> = OnceLock::new();

/// Reports `source()` as `now_playing_log_lines_dropped_total`; the first call wins.
pub fn count_dropped_log_lines(source: impl Fn() -> u64 + Send + Sync + 'static) {
    let _ = DROPPED_LOG_LINES.set(Box::new(source));
}

fn latency_histogram() -> Histogram {
    // 100 µs to about 26 s.
    Histogram::new(exponential_buckets(0.0001, 4.0, 10))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("now_playing");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template and status",
            requests.clone(),
        );
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests, by route template",
            latency.clone(),
        );
        let spotify_calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "spotify_calls",
            "Calls to Spotify by endpoint (token, currently_playing, recently_played, top_tracks, top_artists, image) and outcome",
            spotify_calls.clone(),
        );
        let spotify_latency: Family<CallLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "spotify_call_duration_seconds",
            "Duration of calls to Spotify",
            spotify_latency.clone(),
        );
        let cache = Family::<CacheLabels, Counter>::default();
        registry.register("cache_lookups", "Reads of the shared now-playing state: hit (fresh) or miss (older than CACHE_TTL: a fetch was started, or waited for before the first answer)", cache.clone());
        // One statement each: the guard `get_or_create` returns holds the family's lock.
        let cache_hits = cache
            .get_or_create(&CacheLabels {
                result: Name("hit"),
            })
            .clone();
        let cache_misses = cache
            .get_or_create(&CacheLabels {
                result: Name("miss"),
            })
            .clone();
        let token_refreshes = Counter::default();
        registry.register(
            "token_refreshes",
            "Access tokens obtained from Spotify",
            token_refreshes.clone(),
        );
        let event_clients = Gauge::default();
        registry.register("event_clients", "Open event streams", event_clients.clone());
        let refresh_token_expiry = Gauge::default();
        registry.register(
            "refresh_token_expiry_timestamp_seconds",
            "When the Spotify refresh token expires (Unix time); 0 when unknown",
            refresh_token_expiry.clone(),
        );
        let log_lines_dropped = Counter::default();
        registry.register(
            "log_lines_dropped",
            "Log lines dropped because the log's destination could not keep up",
            log_lines_dropped.clone(),
        );
        let render_cache_bytes = Gauge::default();
        registry.register(
            "render_cache_bytes",
            "Bytes held by kept renders (bodies, compressed forms, keys), at most RENDER_CACHE_MB",
            render_cache_bytes.clone(),
        );
        Self(Arc::new(Inner {
            registry,
            requests,
            latency,
            spotify_calls,
            spotify_latency,
            cache_hits,
            cache_misses,
            token_refreshes,
            event_clients,
            refresh_token_expiry,
            log_lines_dropped,
            render_cache_bytes,
        }))
    }

    pub fn request(&self, route: Route, status: u16, elapsed: Duration) {
        self.0
            .latency
            .get_or_create(&RouteLabels {
                route: route.clone(),
            })
            .observe(elapsed.as_secs_f64());
        self.0
            .requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
    }

    pub(crate) fn spotify_call(
        &self,
        endpoint: &'static str,
        outcome: &'static str,
        elapsed: Duration,
    ) {
        let labels = CallLabels {
            endpoint: Name(endpoint),
            outcome: Name(outcome),
        };
        self.0.spotify_calls.get_or_create(&labels).inc();
        self.0
            .spotify_latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// A read of the shared state: `hit` when served from the cache.
    pub fn cache(&self, hit: bool) {
        if hit {
            self.0.cache_hits.inc()
        } else {
            self.0.cache_misses.inc()
        };
    }

    pub(crate) fn token_refreshed(&self) {
        self.0.token_refreshes.inc();
    }

    pub(crate) fn event_clients(&self, open: usize) {
        self.0
            .event_clients
            .set(i64::try_from(open).unwrap_or(i64::MAX));
    }

    pub(crate) fn refresh_token_expiry(&self, unix_seconds: i64) {
        self.0.refresh_token_expiry.set(unix_seconds);
    }

    pub fn render_cache_bytes(&self, bytes: usize) {
        self.0
            .render_cache_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        if let Some(source) = DROPPED_LOG_LINES.get() {
            let (now, seen) = (source(), self.0.log_lines_dropped.get());
            if now > seen {
                self.0.log_lines_dropped.inc_by(now - seen);
            }
        }
        let mut text = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.0.registry);
        text
    }
}
