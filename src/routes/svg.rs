//! `GET /now-playing.svg`: the card for README images. Always HTTP 200 with valid SVG, within
//! [`DEADLINE`] whatever Spotify or its image hosts do, because README image proxies give up
//! after about ten seconds and show a broken image.

use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use tokio::time::Instant;

use super::{Caller, Widget, cached_response};
use crate::render::{Surface, svg};
use crate::spotify::images::{Art, IMAGE_TIMEOUT};
use crate::state::AppState;

/// The whole answer, at most.
pub(crate) const DEADLINE: Duration = Duration::from_millis(3800);
/// Waiting for the state, at most: only before Spotify's first answer, as no later fetch is
/// waited for (stale-while-revalidate). The placeholder state is drawn after that.
pub(crate) const STATE_WAIT: Duration = Duration::from_millis(2500);

pub(crate) async fn card(
    state: State<AppState>,
    Widget(params): Widget,
    caller: Caller,
) -> Response {
    let started = Instant::now();
    let snapshot = match tokio::time::timeout(STATE_WAIT, state.service.current()).await {
        Ok(snapshot) => snapshot,
        Err(_) => state.service.latest(),
    };
    // A card drawn with its art already: no image lookup at all.
    if let Some(rendered) = state.renders.get(&snapshot, Surface::Svg, &params) {
        return cached_response(&state, &caller, &rendered);
    }
    let image = snapshot
        .view
        .now_playing()
        .and_then(|doc| doc.item.as_ref())
        .and_then(|item| item.image_url.as_deref())
        .filter(|_| params.art);
    let art = match image {
        Some(url) => {
            let wait = DEADLINE
                .saturating_sub(started.elapsed())
                .min(IMAGE_TIMEOUT);
            state.images.get(url, wait).await
        }
        None => Art::Unavailable,
    };
    let render = || {
        svg::card(
            &snapshot.view,
            &params,
            &art,
            state.service.clock().utc(),
            state.service.is_demo(),
        )
    };
    // A card drawn while its art is still on the way is not kept: the next one will have it.
    let rendered = match art {
        Art::Pending => std::sync::Arc::new(render()),
        Art::Ready(_) | Art::Unavailable => {
            state
                .renders
                .get_or_render(&snapshot, Surface::Svg, &params, render)
        }
    };
    cached_response(&state, &caller, &rendered)
}
