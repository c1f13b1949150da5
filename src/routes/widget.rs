//! `/now-playing.html` (the bare fragment) and `/embed` (the iframe page). Both always
//! render something valid: a neutral "unavailable" card when Spotify cannot be had.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::{Widget, cached_response};
use crate::now_playing::View;
use crate::render::html::{self, PageContext};
use crate::render::{Rendered, Surface, WidgetParams};
use crate::startup::AppState;

pub async fn fragment(
    state: State<AppState>,
    Widget(params): Widget,
    headers: HeaderMap,
) -> Response {
    page(state, params, headers, Surface::Fragment, html::fragment).await
}

pub async fn embed(state: State<AppState>, Widget(params): Widget, headers: HeaderMap) -> Response {
    page(state, params, headers, Surface::Embed, html::embed).await
}

async fn page(
    state: State<AppState>,
    params: WidgetParams,
    headers: HeaderMap,
    surface: Surface,
    render: fn(&View, &WidgetParams, &PageContext<'_>) -> Rendered,
) -> Response {
    let snapshot = state.service.current().await;
    let rendered = snapshot.renders.get_or_render(surface, &params, || {
        let ctx = PageContext {
            now: state.service.clock().utc(),
            demo: state.service.is_demo(),
            ttl: state.service.ttl(),
            frame_ancestors: &state.config.frame_ancestors,
        };
        render(&snapshot.view, &params, &ctx)
    });
    cached_response(&state, &headers, &rendered)
}
