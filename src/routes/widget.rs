//! `/now-playing.html` (the bare fragment) and `/embed` (the iframe page). Both always
//! render something valid: a neutral "unavailable" card when Spotify cannot be had.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{cached_response, error_response};
use crate::now_playing::View;
use crate::render::html::{self, PageContext};
use crate::render::{Rendered, Surface, WidgetParams};
use crate::startup::AppState;

pub async fn fragment(
    state: State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    page(state, query, headers, Surface::Fragment, html::fragment).await
}

pub async fn embed(
    state: State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    page(state, query, headers, Surface::Embed, html::embed).await
}

async fn page(
    state: State<AppState>,
    query: HashMap<String, String>,
    headers: HeaderMap,
    surface: Surface,
    render: fn(&View, &WidgetParams, &PageContext<'_>) -> Rendered,
) -> Response {
    let params = match WidgetParams::from_query(&query) {
        Ok(params) => params,
        Err(bad) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                &bad.to_string(),
            );
        }
    };
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
