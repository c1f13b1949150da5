//! Mounting the wiremock Spotify: one `on_*` function per endpoint, narrowed by matchers where
//! a test needs them, answered with a [`ResponseTemplate`], given the test's call count, and
//! mounted by `.await`:
//!
//! ```ignore
//! on_token(&spotify).form("refresh_token", REFRESH_TOKEN).respond(json(TOKEN)).expect(1).await;
//! on_playing(&spotify).respond(json_status(401, ERROR_401)).up_to_n_times(1).await;
//! ```
//!
//! Mocks answer in the order they were mounted: one with `up_to_n_times(n)` takes the first
//! `n` matching calls, the next one the rest. Without `expect` a mock checks no call count.
//! The `mount_*` functions are the common cases in one line.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use now_playing::now_playing::lists::{TopKind, TopRange};
use wiremock::matchers::{body_string_contains, header, method, path, path_regex, query_param};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate, Times};

use crate::helpers::{CURRENTLY_PLAYING, RECENTLY_PLAYED, TOKEN, TOKEN_PATH};

/// The first bytes of a JPEG, enough for a data URI.
pub(crate) const JPEG: &[u8] = &[
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0xff, 0xd9,
];

/// Cover art as Spotify's image host sends it.
pub(crate) fn jpeg() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(JPEG.to_vec(), "image/jpeg")
}

/// A `200` with `body` as JSON.
pub(crate) fn json(body: &str) -> ResponseTemplate {
    json_status(200, body)
}

/// A `status` with `body` as JSON.
pub(crate) fn json_status(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

/// `POST /api/token`: refreshes and authorization code exchanges alike (tell them apart with
/// [`Request::form`]).
pub(crate) fn on_token(spotify: &MockServer) -> Request<'_> {
    Request::new(spotify, "POST", TOKEN_PATH)
}

/// `GET /v1/me/player/currently-playing`, whatever the query.
pub(crate) fn on_playing(spotify: &MockServer) -> Request<'_> {
    Request::new(spotify, "GET", CURRENTLY_PLAYING)
}

/// `GET /v1/me/player/recently-played`, whatever the query.
pub(crate) fn on_recent(spotify: &MockServer) -> Request<'_> {
    Request::new(spotify, "GET", RECENTLY_PLAYED)
}

/// `GET /v1/me/top/{kind}?time_range={range}_term`, whatever the `limit`.
pub(crate) fn on_top(spotify: &MockServer, kind: TopKind, range: TopRange) -> Request<'_> {
    Request::new(spotify, "GET", &format!("/v1/me/top/{}", kind.path()))
        .query("time_range", range.time_range())
}

/// `GET` of one image on the image host, by its path (`/image/{id}`).
pub(crate) fn on_image<'a>(spotify: &'a MockServer, image_path: &str) -> Request<'a> {
    Request::new(spotify, "GET", image_path)
}

/// `GET` of any image on the image host.
pub(crate) fn on_any_image(spotify: &MockServer) -> Request<'_> {
    Request {
        spotify,
        mock: Mock::given(method("GET")).and(path_regex("^/image/")),
        name: "GET /image/*".to_owned(),
    }
}

/// The token endpoint answering a refresh, expected `times` times.
pub(crate) async fn mount_token(spotify: &MockServer, times: u64) {
    on_token(spotify).respond(json(TOKEN)).expect(times).await;
}

/// `currently-playing?additional_types=track,episode` answering `body`, expected `times` times.
pub(crate) async fn mount_playing(spotify: &MockServer, body: &str, times: u64) {
    on_playing(spotify)
        .query("additional_types", "track,episode")
        .respond(json(body))
        .expect(times)
        .await;
}

/// `currently-playing` answering `body` to the first call only; later mocks take the rest.
pub(crate) async fn mount_playing_once(spotify: &MockServer, body: &str) {
    on_playing(spotify)
        .respond(json(body))
        .up_to_n_times(1)
        .await;
}

/// `recently-played` answering `response`, expected `times` times.
pub(crate) async fn mount_recent(spotify: &MockServer, response: ResponseTemplate, times: u64) {
    on_recent(spotify).respond(response).expect(times).await;
}

/// `recently-played?limit=50` (the list's one page) answering `response`, expected `times`
/// times.
pub(crate) async fn mount_history(spotify: &MockServer, response: ResponseTemplate, times: u64) {
    on_recent(spotify)
        .query("limit", "50")
        .respond(response)
        .expect(times)
        .await;
}

/// `top/{kind}?time_range={range}_term&limit=50` answering `response`, expected `times` times.
pub(crate) async fn mount_top(
    spotify: &MockServer,
    kind: TopKind,
    range: TopRange,
    response: ResponseTemplate,
    times: u64,
) {
    on_top(spotify, kind, range)
        .query("limit", "50")
        .respond(response)
        .expect(times)
        .await;
}

/// A request to the mock Spotify that a mock will answer: one endpoint, narrowed further by
/// query, header and form-body matchers.
pub(crate) struct Request<'a> {
    spotify: &'a MockServer,
    mock: MockBuilder,
    /// What the mock matches, for the message when a count fails.
    name: String,
}

impl<'a> Request<'a> {
    fn new(spotify: &'a MockServer, verb: &str, exact_path: &str) -> Self {
        Request {
            spotify,
            mock: Mock::given(method(verb)).and(path(exact_path)),
            name: format!("{verb} {exact_path}"),
        }
    }

    /// Only with the query parameter `key` = `value`.
    pub(crate) fn query(self, key: &str, value: &str) -> Self {
        let separator = if self.name.contains('?') { '&' } else { '?' };
        Request {
            name: format!("{}{separator}{key}={value}", self.name),
            mock: self.mock.and(query_param(key, value)),
            ..self
        }
    }

    /// Only with the header `name`: `value`.
    pub(crate) fn header(self, name: &str, value: &str) -> Self {
        Request {
            mock: self.mock.and(header(name, value)),
            ..self
        }
    }

    /// Only with a body containing `key=value` (`value` URL-encoded, as in the form sent).
    pub(crate) fn form(self, key: &str, value: &str) -> Self {
        Request {
            name: format!("{} [{key}={value}]", self.name),
            mock: self
                .mock
                .and(body_string_contains(format!("{key}={value}"))),
            ..self
        }
    }

    /// Answered with `response`.
    pub(crate) fn respond(self, response: ResponseTemplate) -> Stub<'a> {
        Stub {
            spotify: self.spotify,
            mock: self.mock.respond_with(response).named(self.name),
        }
    }
}

/// A mock ready to mount; `.await` mounts it on the mock Spotify.
#[must_use = "a mock is mounted only when awaited"]
pub(crate) struct Stub<'a> {
    spotify: &'a MockServer,
    mock: Mock,
}

impl Stub<'_> {
    /// Checks, when the mock Spotify drops, that the mock answered `times` calls.
    pub(crate) fn expect(self, times: impl Into<Times>) -> Self {
        Stub {
            mock: self.mock.expect(times),
            ..self
        }
    }

    /// Answers only the first `n` matching calls; later mocks take the rest.
    pub(crate) fn up_to_n_times(self, n: u64) -> Self {
        Stub {
            mock: self.mock.up_to_n_times(n),
            ..self
        }
    }
}

impl<'a> IntoFuture for Stub<'a> {
    type Output = ();
    type IntoFuture = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.mock.mount(self.spotify).await })
    }
}
