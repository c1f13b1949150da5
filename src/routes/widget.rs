//! `/now-playing.html` (the bare fragment) and `/embed` (the iframe page). Both always
//! render something valid: a neutral "unavailable" card when Spotify cannot be had.

use axum::extract::State;
use axum::response::Response;

use super::{Caller, Widget, cached_response};
use crate::now_playing::View;
use crate::render::html::{self, PageContext};
use crate::render::{Rendered, Surface, WidgetParams};
use crate::state::AppState;

/// The fragment is fetched across origins, so it answers CORS; the embed page is framed.
pub(crate) async fn fragment(
    state: State<AppState>,
    Widget(params): Widget,
    caller: Caller,
) -> Response {
    let mut response = page(&state, params, &caller, Surface::Fragment, html::fragment).await;
    caller.allow(response.headers_mut());
    response
}

pub(crate) async fn embed(
    state: State<AppState>,
    Widget(params): Widget,
    caller: Caller,
) -> Response {
    page(&state, params, &caller, Surface::Embed, html::embed).await
}

async fn page(
    state: &State<AppState>,
    params: WidgetParams,
    caller: &Caller,
    surface: Surface,
    render: fn(&View, &WidgetParams, &PageContext<'_>) -> Rendered,
) -> Response {
    let snapshot = state.service.current().await;
    let rendered = state
        .renders
        .get_or_render(&snapshot, surface, &params, || {
            let ctx = PageContext {
                now: state.service.clock().utc(),
                demo: state.service.is_demo(),
                ttl: state.service.ttl(),
                frame_ancestors: &state.config.frame_ancestors,
            };
            render(&snapshot.view, &params, &ctx)
        });
    cached_response(state, caller, &rendered)
}
