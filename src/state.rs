//! What every handler shares: the settings, the domain services and the render memos. Built
//! once at start-up; cloning is cheap. Nothing here knows about HTTP routes.

use std::sync::Arc;

use axum::http::HeaderValue;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::{Config, Source};
use crate::metrics::Metrics;
use crate::now_playing::NowPlayingService;
use crate::now_playing::events::Events;
use crate::reauth::Reauth;
use crate::render::Renders;
use crate::render::budget::RenderBudget;
use crate::render::lists::ListRenders;
use crate::spotify::images::Images;

#[derive(Clone)]
pub struct AppState {
    pub(crate) config: Arc<Config>,
    pub service: NowPlayingService,
    /// `Cache-Control` of the widget routes.
    pub(crate) cache_control: HeaderValue,
    /// Cancelled when the server starts shutting down.
    pub(crate) shutdown: CancellationToken,
    /// The Prometheus registry behind `/metrics`.
    pub(crate) metrics: Metrics,
    /// Cover art for the SVG card.
    pub(crate) images: Arc<Images>,
    /// Event streams and their poller.
    pub events: Arc<Events>,
    /// Re-authorization from the browser, when `ADMIN_TOKEN` is set and Spotify is the source.
    pub(crate) reauth: Option<Arc<Reauth>>,
    /// The representations of the now-playing state, each rendered once per state.
    pub(crate) renders: Arc<Renders>,
    /// The representations of the lists (`service.lists()`), each rendered once per state.
    pub(crate) list_renders: Arc<ListRenders>,
    /// The bytes `renders` and `list_renders` hold together, within `RENDER_CACHE_MB`.
    pub render_budget: Arc<RenderBudget>,
}

impl AppState {
    pub fn new(config: Config, clock: Clock) -> Self {
        let metrics = Metrics::new();
        let reauth = match (&config.admin, &config.public_url, &config.source) {
            (Some(admin), Some(public_url), Source::Spotify(spotify)) => {
                Some(Arc::new(Reauth::new(
                    &admin.token,
                    public_url,
                    &spotify.client(),
                    clock.clone(),
                    metrics.clone(),
                )))
            }
            _ => None,
        };
        let images_url = match &config.source {
            Source::Spotify(spotify) => spotify.images_url.clone(),
            Source::Demo => None,
        };
        let images = Arc::new(Images::new(images_url, clock.clone(), metrics.clone()));
        let service = NowPlayingService::new(&config, clock, metrics.clone());
        let ttl = config.cache_ttl.as_secs();
        let render_budget = RenderBudget::new(config.render_cache_mb.saturating_mul(1 << 20));
        Self {
            list_renders: Arc::new(ListRenders::new(service.lists(), &render_budget)),
            renders: Arc::new(Renders::new(&render_budget)),
            render_budget,
            reauth,
            events: Events::new(service.clone(), config.max_event_clients, metrics.clone()),
            metrics,
            images,
            service,
            cache_control: HeaderValue::from_str(&format!(
                "public, max-age={ttl}, stale-while-revalidate={ttl}"
            ))
            .expect("digits are a valid header value"),
            config: Arc::new(config),
            shutdown: CancellationToken::new(),
        }
    }
}
