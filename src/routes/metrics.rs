//! `GET /metrics`: Prometheus text format (absent with `METRICS=false`), compressed per
//! request.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

use super::{Caller, respond};
use crate::render::{Rendered, per_request};
use crate::state::AppState;

pub(crate) async fn metrics(State(state): State<AppState>, caller: Caller) -> Response {
    if let Some(spotify) = state.service.spotify() {
        let expiry = spotify.tokens().expires_at().map_or(0, |t| t.timestamp());
        state.metrics.refresh_token_expiry(expiry);
    }
    state.metrics.render_cache_bytes(state.render_budget.used());
    let rendered = Rendered::new(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        state.metrics.encode(),
        None,
    );
    let rendered = per_request::compressed(rendered, caller.accept_encoding.as_ref());
    respond(&caller, &rendered, HeaderValue::from_static("no-store"))
}
