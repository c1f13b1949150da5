//! The HTTP surface: the one place where paths are listed, with the layers every response
//! goes through (request log, head limits, `nosniff`, CORS where it applies).

pub(crate) mod assets;
pub(crate) mod auth;
pub(crate) mod cors;
pub(crate) mod error;
pub(crate) mod events;
pub(crate) mod health;
pub(crate) mod json;
pub(crate) mod landing;
pub(crate) mod lists;
pub(crate) mod metrics;
pub(crate) mod repeated;
pub(crate) mod svg;
pub(crate) mod widget;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use ipnet::IpNet;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::forwarded::{self, Client};
use crate::heads;
use crate::metrics::{Metrics, Route};
use crate::render::{Rendered, WidgetParams};
use crate::state::AppState;
use crate::telemetry;
pub(crate) use error::ApiError;

pub(crate) fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route(
            "/now-playing",
            get(json::now_playing).options(cors::preflight),
        )
        .route(
            "/now-playing.html",
            get(widget::fragment).options(cors::preflight),
        )
        .route(
            "/now-playing/events",
            get(events::events).options(cors::preflight),
        )
        .route("/", get(landing::landing))
        .route("/embed", get(widget::embed))
        .route("/now-playing.svg", get(svg::card))
        .route("/now-playing/open", get(json::open))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/auth/login", get(auth::login))
        .route("/auth/callback", get(auth::callback))
        .route("/static/{*path}", get(assets::serve))
        .route(
            "/recently-played",
            get(lists::recently_played).options(cors::preflight),
        )
        .route(
            "/top/tracks",
            get(lists::top_tracks).options(cors::preflight),
        )
        .route(
            "/top/artists",
            get(lists::top_artists).options(cors::preflight),
        )
        .route(
            "/recently-played.html",
            get(lists::recently_played_html).options(cors::preflight),
        )
        .route(
            "/top/tracks.html",
            get(lists::top_tracks_html).options(cors::preflight),
        )
        .route(
            "/top/artists.html",
            get(lists::top_artists_html).options(cors::preflight),
        )
        .route("/recently-played.svg", get(lists::recently_played_svg))
        .route("/top/tracks.svg", get(lists::top_tracks_svg))
        .route("/top/artists.svg", get(lists::top_artists_svg))
        .route("/embed/recently-played", get(lists::recently_played_embed))
        .route("/embed/top/tracks", get(lists::top_tracks_embed))
        .route("/embed/top/artists", get(lists::top_artists_embed));
    if state.config.metrics {
        router = router.route("/metrics", get(metrics::metrics));
    }
    let cors = cors::Cors::new(&state.config.cors_allow_origins);
    let observer = Observer {
        metrics: state.metrics.clone(),
        trusted_proxies: state.config.trusted_proxies.clone().into(),
    };
    router
        .fallback(not_found)
        .layer(middleware::from_fn(heads::limit))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(middleware::from_fn_with_state(observer, observe))
        .layer(Extension(cors))
        .with_state(state)
}

/// Bytes of a request's path in its log line: a client's path of 60 KB would otherwise make
/// each line as long.
const LOGGED_PATH: usize = 256;

/// Bytes of a request's method in its log line: a method has no length limit either.
const LOGGED_METHOD: usize = 32;

#[derive(Clone)]
struct Observer {
    metrics: Metrics,
    trusted_proxies: Arc<[IpNet]>,
}

/// Finds the client behind the trusted proxies once, for the handlers and the log; then one
/// log line and one metric sample per request, health checks only at debug level. The query
/// is left out: it may carry an authorization code. The path is cut to [`LOGGED_PATH`], the
/// method to [`LOGGED_METHOD`].
async fn observe(State(observer): State<Observer>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let client = forwarded::client(peer, request.headers(), &observer.trusted_proxies);
    request.extensions_mut().insert(client);
    let route = Route(request.extensions().get::<MatchedPath>().cloned());
    let method = request.method().clone();
    let path = telemetry::cut(request.uri().path(), LOGGED_PATH).into_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    observer.metrics.request(route, status, elapsed);
    let elapsed_us = elapsed.as_micros() as u64;
    let client = client.ip;
    let method = telemetry::cut(method.as_str(), LOGGED_METHOD);
    if path == "/healthz" {
        tracing::debug!(%method, path, status, elapsed_us, %client, "request");
    } else {
        tracing::info!(%method, path, status, elapsed_us, %client, "request");
    }
    response
}

/// The client of a request, behind the trusted proxies (README: Behind a reverse proxy or
/// CDN), as found by `observe`.
pub(crate) struct ClientOf(pub Client);

impl<S: Send + Sync> FromRequestParts<S> for ClientOf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let unknown = Client {
            ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            https: None,
        };
        Ok(Self(parts.extensions.get().copied().unwrap_or(unknown)))
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// The widget parameters of a request; a bad value is a 400 naming the parameter and its
/// allowed values.
pub(crate) struct Widget(pub WidgetParams);

impl<S: Send + Sync> FromRequestParts<S> for Widget {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Query(query) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        WidgetParams::from_query(&query)
            .map(Widget)
            .map_err(IntoResponse::into_response)
    }
}

/// A memoised representation as a response, or `304` when the client has it already.
/// The three request headers the widget routes read, taken without copying the header map
/// (each of the first two across all its lines), and the CORS policy that answers the
/// `Origin`.
pub(crate) struct Caller {
    pub if_none_match: Option<HeaderValue>,
    pub accept_encoding: Option<HeaderValue>,
    pub origin: Option<HeaderValue>,
    cors: Option<Arc<cors::Cors>>,
}

impl Caller {
    /// Adds the CORS headers this caller's `Origin` is allowed.
    pub(crate) fn allow(&self, headers: &mut axum::http::HeaderMap) {
        if let Some(cors) = &self.cors {
            cors.decorate(self.origin.as_ref(), headers);
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            if_none_match: repeated::combined(&parts.headers, header::IF_NONE_MATCH),
            accept_encoding: repeated::combined(&parts.headers, header::ACCEPT_ENCODING),
            origin: parts.headers.get(header::ORIGIN).cloned(),
            cors: parts.extensions.get().cloned(),
        })
    }
}

pub(crate) fn cached_response(
    state: &State<AppState>,
    caller: &Caller,
    rendered: &Rendered,
) -> Response {
    respond(caller, rendered, state.cache_control.clone())
}

/// A rendered representation in the encoding the caller prefers, with `cache_control` when
/// it succeeded, or `304` when the caller has that encoding already.
pub(crate) fn respond(
    caller: &Caller,
    rendered: &Rendered,
    cache_control: HeaderValue,
) -> Response {
    // An error is not cached by anyone, and never answered with 304 (RFC 9110 13.2.1).
    let success = rendered.status.is_success();
    let cache_control = if success {
        cache_control
    } else {
        HeaderValue::from_static("no-store")
    };
    let coding = rendered
        .encodings
        .negotiate(caller.accept_encoding.as_ref());
    let (body, etag) = rendered.encoded(coding);
    if success && etag_matches(caller.if_none_match.as_ref(), etag) {
        return (
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag.clone()),
                (header::CACHE_CONTROL, cache_control),
                (header::VARY, VARY_ENCODING),
            ],
        )
            .into_response();
    }
    let mut response = (
        rendered.status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(rendered.content_type),
            ),
            (header::ETAG, etag.clone()),
            (header::CACHE_CONTROL, cache_control),
            (header::VARY, VARY_ENCODING),
        ],
        body.clone(),
    )
        .into_response();
    let headers = response.headers_mut();
    if let Some(encoding) = coding.header() {
        headers.insert(header::CONTENT_ENCODING, encoding);
    }
    if let Some(csp) = &rendered.csp {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp.clone());
    }
    response
}

/// Sent with every memoised representation, compressed forms or not, so that a cache keeps
/// apart what it got for each `Accept-Encoding`.
const VARY_ENCODING: HeaderValue = HeaderValue::from_static("accept-encoding");

/// `If-None-Match` with weak comparison, as RFC 9110 asks for GET.
fn etag_matches(if_none_match: Option<&HeaderValue>, etag: &HeaderValue) -> bool {
    let Some(ours) = etag.to_str().ok() else {
        return false;
    };
    if_none_match
        .and_then(|v| v.to_str().ok())
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = "\"5d41402abc4b2a76b9719d911017c592\"";

    fn matches(if_none_match: &str) -> bool {
        let theirs = HeaderValue::from_str(if_none_match).unwrap();
        etag_matches(Some(&theirs), &HeaderValue::from_static(OURS))
    }

    #[test]
    fn no_if_none_match_never_matches() {
        assert!(!etag_matches(None, &HeaderValue::from_static(OURS)));
    }

    #[test]
    fn the_same_tag_matches() {
        assert!(matches(OURS));
        assert!(matches(&format!("  {OURS}  ")));
    }

    #[test]
    fn a_star_matches_any_tag() {
        assert!(matches("*"));
        assert!(matches("\"other\", *"));
    }

    #[test]
    fn any_tag_of_a_list_matches() {
        assert!(matches(&format!("\"a\", {OURS}, \"b\"")));
        assert!(matches(&format!("\"a\",{OURS}")));
        assert!(!matches("\"a\", \"b\""));
    }

    #[test]
    fn a_weak_tag_matches_its_strong_form() {
        // If-None-Match compares weakly (RFC 9110 13.1.2): proxies that compress weaken tags.
        assert!(matches(&format!("W/{OURS}")));
        assert!(matches(&format!("\"a\", W/{OURS}")));
    }

    #[test]
    fn other_or_malformed_tags_do_not_match() {
        let unquoted = OURS.trim_matches('"');
        for theirs in [
            "",
            ",",
            "\"other\"",
            unquoted,
            "\"5d41402abc4b2a76b9719d911017c59\"",
            "\"5d41402abc4b2a76b9719d911017c592x\"",
            "w/\"5d41402abc4b2a76b9719d911017c592\"",
            "**",
        ] {
            assert!(!matches(theirs), "{theirs:?}");
        }
    }

    #[test]
    fn a_header_that_is_not_text_does_not_match() {
        let theirs = HeaderValue::from_bytes(b"\"\xff\"").unwrap();
        assert!(!etag_matches(
            Some(&theirs),
            &HeaderValue::from_static(OURS)
        ));
    }
}
