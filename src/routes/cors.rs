//! CORS for the JSON, the fragment and the events, from `CORS_ALLOW_ORIGINS`. Every header
//! value is built once at start-up and the handlers add them themselves: this is the hottest
//! route, where a general-purpose middleware cost a fifth of its throughput (BENCHMARKS.md).

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Caller;
use crate::config::AllowedOrigins;

pub(crate) struct Cors {
    origins: AllowedOrigins,
    allowed: Vec<HeaderValue>,
}

const ALLOW_METHODS: HeaderValue = HeaderValue::from_static("GET, HEAD");
const ALLOW_HEADERS: HeaderValue =
    HeaderValue::from_static("if-none-match, cache-control, last-event-id");
const EXPOSE_HEADERS: HeaderValue = HeaderValue::from_static("etag, retry-after");
const MAX_AGE: HeaderValue = HeaderValue::from_static("86400");
const ANY: HeaderValue = HeaderValue::from_static("*");
const VARY_ORIGIN: HeaderValue = HeaderValue::from_static("origin");

impl Cors {
    pub(crate) fn new(origins: &AllowedOrigins) -> Arc<Self> {
        let allowed = match origins {
            AllowedOrigins::Any => Vec::new(),
            AllowedOrigins::List(list) => list
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect(),
        };
        Arc::new(Self {
            origins: origins.clone(),
            allowed,
        })
    }

    /// The `Access-Control-Allow-Origin` for a request from `origin`, if it is allowed.
    fn allow_origin(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        match self.origins {
            AllowedOrigins::Any => Some(ANY),
            AllowedOrigins::List(_) => origin.filter(|o| self.allowed.contains(o)).cloned(),
        }
    }

    /// Adds the CORS headers for a request from `origin` to a response.
    pub(crate) fn decorate(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        if let Some(allow) = self.allow_origin(origin) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS);
        }
        // With a list, the answer depends on the request's Origin; caches must know.
        if matches!(self.origins, AllowedOrigins::List(_)) {
            headers.append(header::VARY, VARY_ORIGIN);
        }
    }
}

/// Answers a preflight `OPTIONS` request.
pub(crate) async fn preflight(caller: Caller) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    caller.allow(headers);
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS);
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS);
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE);
    response
}
