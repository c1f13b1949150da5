//! `/recently-played`, `/top/tracks` and `/top/artists`: the lists as JSON (SPEC 10), from
//! the shared list caches, with the list's own `Cache-Control`, a strong `ETag`, and CORS
//! like `/now-playing`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::{Caller, cached_response};
use crate::now_playing::lists::{ListErrorCode, ListId, ListView, TopKind};
use crate::render::list_params::{ListForm, ListParams};
use crate::startup::AppState;

type RawQuery = Query<HashMap<String, String>>;

/// `{"kind":"recently-played","items":[..],..}`, newest first; `?limit=1..50` (default 10).
pub async fn recently_played(state: State<AppState>, query: RawQuery, caller: Caller) -> Response {
    let response = match ListParams::recent(&query, ListForm::Json) {
        Ok(params) => json(&state, &caller, ListId::RecentlyPlayed, params.limit).await,
        Err(bad) => bad.into_response(),
    };
    with_cors(&state, &caller, response)
}

/// `{"kind":"top-tracks","range":..,"items":[..],..}`; `?range=short|medium|long&limit=1..50`.
pub async fn top_tracks(state: State<AppState>, query: RawQuery, caller: Caller) -> Response {
    top(state, query, caller, TopKind::Tracks).await
}

/// `{"kind":"top-artists","range":..,"items":[..],..}`; `?range=short|medium|long&limit=1..50`.
pub async fn top_artists(state: State<AppState>, query: RawQuery, caller: Caller) -> Response {
    top(state, query, caller, TopKind::Artists).await
}

async fn top(state: State<AppState>, query: RawQuery, caller: Caller, kind: TopKind) -> Response {
    let response = match ListParams::top(&query, ListForm::Json) {
        Ok(params) => {
            json(
                &state,
                &caller,
                ListId::Top(kind, params.range),
                params.limit,
            )
            .await
        }
        Err(bad) => bad.into_response(),
    };
    with_cors(&state, &caller, response)
}

/// The memoised JSON of the list's current state, or `304`; a 503 when there is no list,
/// with `Retry-After` when Spotify asked for one.
async fn json(state: &State<AppState>, caller: &Caller, id: ListId, limit: usize) -> Response {
    let lists = state.service.lists();
    let snapshot = lists.current(id).await;
    let rendered = state.list_renders.json(&snapshot, limit);
    let mut response = cached_response(state, caller, &rendered);
    if rendered.status.is_success() {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            state.list_renders.cache_control(id).clone(),
        );
    } else if let ListView::Unavailable(why) = &snapshot.view
        && why.code == ListErrorCode::RateLimited
    {
        let secs = snapshot.retry_after_secs(lists.clock().now());
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn with_cors(state: &State<AppState>, caller: &Caller, mut response: Response) -> Response {
    state
        .cors
        .decorate(caller.origin.as_ref(), response.headers_mut());
    response
}
