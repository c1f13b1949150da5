//! `GET /now-playing/events`: Server-Sent Events. The current state at once as
//! `event: now-playing` (the JSON of `/now-playing`), then one event per change, and a
//! keep-alive comment every 15 s. 503 beyond `MAX_EVENT_CLIENTS`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::{ApiError, Caller};
use crate::state::AppState;

pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub(crate) async fn events(State(state): State<AppState>, caller: Caller) -> Response {
    let Some(client) = state.events.join() else {
        return ApiError::TooManyEventClients.into_response();
    };
    let snapshots = state.events.stream(client, state.shutdown.clone()).await;
    let renders = Arc::clone(&state.renders);
    let events = snapshots.map(move |snapshot| {
        let json = String::from_utf8_lossy(&renders.json(&snapshot).body).into_owned();
        Ok::<_, Infallible>(Event::default().event("now-playing").data(json))
    });
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
        .into_response();
    // Tell buffering reverse proxies (nginx) to pass events through at once.
    response.headers_mut().insert(
        "x-accel-buffering",
        "no".parse().expect("a valid header value"),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        "no-cache".parse().expect("a valid header value"),
    );
    caller.allow(response.headers_mut());
    response
}
