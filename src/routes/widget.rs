//! `/now-playing.html` (the bare fragment) and `/embed` (the iframe page). Both always
//! render something valid: a neutral "unavailable" card when Spotify cannot be had.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{cached_response, error_response};
use crate::render::html::{self, PageContext};
use crate::render::{Surface, WidgetParams};
use crate::startup::AppState;

pub async fn fragment(
    state: State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    page(state, query, headers, Surface::Fragment).await
}

pub async fn embed(
    state: State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    page(state, query, headers, Surface::Embed).await
}

async fn page(
    state: State<AppState>,
    query: HashMap<String, String>,
    headers: HeaderMap,
    surface: Surface,
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
        match surface {
            Surface::Fragment => html::fragment(&snapshot.view, &params, &ctx),
            Surface::Embed => html::embed(&snapshot.view, &params, &ctx),
        }
    });
    cached_response(&state, &headers, &rendered)
}
