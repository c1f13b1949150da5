//! `GET /`: the landing page, with snippets for the address the visitor used (or `PUBLIC_URL`).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::{Caller, ClientOf, cached_response};
use crate::forwarded::Client;
use crate::render::{WidgetParams, landing, per_request};
use crate::state::AppState;

pub(crate) async fn landing(
    state: State<AppState>,
    Query(mut query): Query<HashMap<String, String>>,
    ClientOf(client): ClientOf,
    caller: Caller,
    headers: HeaderMap,
) -> Response {
    // The picker's form sends checkboxes only when ticked.
    if query.remove("picked").is_some() {
        for flag in ["art", "progress"] {
            query
                .entry(flag.to_owned())
                .or_insert_with(|| "false".into());
        }
    }
    let params = match WidgetParams::from_query(&query) {
        Ok(params) => params,
        Err(bad) => return bad.into_response(),
    };
    let base = base_url(&state, &headers, client);
    let rendered = landing::page(&base, &params, state.service.is_demo());
    // Made per request (the snippets name the host asked for), so compressed per request.
    let rendered = per_request::compressed(rendered, caller.accept_encoding.as_ref());
    let mut response = cached_response(&state, &caller, &rendered);
    // The snippets depend on the Host header: no shared cache may keep them.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        "no-cache".parse().expect("a valid header value"),
    );
    response
}

/// `PUBLIC_URL`, or the scheme and host this request came in on (the scheme as a trusted
/// proxy reports it). The host is checked so that a forged `Host` header cannot put markup
/// into the snippets.
fn base_url(state: &AppState, headers: &HeaderMap, client: Client) -> String {
    if let Some(public) = &state.config.public_url {
        return public.as_str().trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
        })
        .unwrap_or("localhost:8080");
    let scheme = if client.https == Some(true) {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}
