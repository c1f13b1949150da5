//! `GET /metrics`: Prometheus text format (absent with `METRICS=false`).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

pub async fn metrics(State(state): State<AppState>) -> Response {
    if let Some(spotify) = state.service.spotify() {
        let expiry = spotify.tokens().expires_at().map_or(0, |t| t.timestamp());
        state.metrics.refresh_token_expiry(expiry);
    }
    state.metrics.render_cache_bytes(state.render_budget.used());
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        state.metrics.encode(),
    )
        .into_response()
}
