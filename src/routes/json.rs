//! `/now-playing` (the JSON document) and `/now-playing/open` (a redirect to Spotify).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, Caller, cached_response};
use crate::now_playing::View;
use crate::now_playing::model::ErrorCode;
use crate::state::AppState;

/// The JSON document; 503 with a `Retry-After` when Spotify asked for one.
pub(crate) async fn now_playing(state: State<AppState>, caller: Caller) -> Response {
    let snapshot = state.service.current().await;
    let mut response = cached_response(&state, &caller, &state.renders.json(&snapshot));
    caller.allow(response.headers_mut());
    if let View::Unavailable(u) = &snapshot.view
        && u.code == ErrorCode::RateLimited
    {
        let now = state.service.clock().now();
        let secs = snapshot
            .refresh_after
            .saturating_duration_since(now)
            .as_secs_f64()
            .ceil() as u64;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    }
    response
}

/// 302 to the Spotify page of the current or last track; 404 when there is none.
pub(crate) async fn open(state: State<AppState>) -> Response {
    let snapshot = state.service.current().await;
    let url = snapshot
        .view
        .now_playing()
        .and_then(|doc| doc.item.as_ref())
        .and_then(|item| item.url.clone());
    match url.and_then(|u| HeaderValue::from_str(&u).ok()) {
        Some(location) => (
            StatusCode::FOUND,
            [
                (header::LOCATION, location),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
        )
            .into_response(),
        None => ApiError::NothingToOpen.into_response(),
    }
}
