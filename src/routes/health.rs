//! `/healthz` (the process serves; never calls Spotify) and `/readyz` (the Spotify
//! credentials work, read from the one shared cache).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::SecondsFormat;
use serde_json::json;

use crate::now_playing::View;
use crate::spotify::token_cache::TokenOutcome;
use crate::state::AppState;

pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// 200 when the credentials work; 503 with `reason` (`invalid_grant`, `invalid_client`,
/// `upstream`) when they do not, and for `upstream` a `detail` naming what failed (such as
/// `cannot reach api.spotify.com: name not resolved`): this is an operator's endpoint.
/// With `TOKEN_FILE`, `token_file` is `unsaved` while the token in use lives in memory only
/// (writing it failed; it is retried), `saved` otherwise. Asks Spotify no more than the
/// shared cache does.
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let Some(spotify) = state.service.spotify() else {
        return ready(StatusCode::OK, json!({ "status": "ready", "demo": true }));
    };
    let snapshot = state.service.current().await;
    let tokens = spotify.tokens();
    let expires_at = tokens
        .expires_at()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true));
    let reason = match tokens.last_outcome() {
        Some(TokenOutcome::Rejected(failure)) => Some(failure.code()),
        _ => match &snapshot.view {
            View::Unavailable(_) => Some("upstream"),
            View::Ok(doc) if doc.stale => Some("upstream"),
            View::Ok(_) => None,
        },
    };
    let (status, mut body) = match reason {
        None => (
            StatusCode::OK,
            json!({ "status": "ready", "refresh_token_expires_at": expires_at }),
        ),
        Some(reason) => {
            let mut body = json!({ "status": "unavailable", "reason": reason, "refresh_token_expires_at": expires_at });
            if reason == "upstream"
                && let Some(detail) = spotify.last_failure()
            {
                body["detail"] = detail.into();
            }
            (StatusCode::SERVICE_UNAVAILABLE, body)
        }
    };
    if let Some(file) = tokens.token_file() {
        body["token_file"] = file.as_str().into();
    }
    ready(status, body)
}

fn ready(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}
