//! [`ApiError`]: every error the HTTP surface answers itself, as one JSON shape,
//! `{"error":{"code":..,"message":..}}`, never cached. Errors of the now-playing and list
//! states are documents of their own (README: The JSON document), rendered in `render`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::render::params::BadParam;

#[derive(Debug)]
pub(crate) enum ApiError {
    /// No such route, or a route that is off (`/auth/*` without `ADMIN_TOKEN`).
    NotFound,
    NoSuchStaticFile,
    /// A query parameter with a value outside the allowed ones.
    BadParam(BadParam),
    /// `/now-playing/open` with nothing that has a Spotify page.
    NothingToOpen,
    /// Every event stream slot is taken.
    TooManyEventClients,
    /// Too many wrong admin passwords from this client; seconds to wait.
    TooManyAttempts {
        wait: u64,
    },
    /// Something of ours failed; what goes to the log, not to the client.
    Internal(&'static str),
}

impl From<BadParam> for ApiError {
    fn from(bad: BadParam) -> Self {
        Self::BadParam(bad)
    }
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found", "no such page".into()),
            Self::NoSuchStaticFile => (
                StatusCode::NOT_FOUND,
                "not_found",
                "no such static file".into(),
            ),
            Self::BadParam(bad) => (
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                bad.to_string(),
            ),
            Self::NothingToOpen => (
                StatusCode::NOT_FOUND,
                "nothing_to_open",
                "nothing with a Spotify page is playing or was played recently".into(),
            ),
            Self::TooManyEventClients => (
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_clients",
                "too many open event streams; poll /now-playing instead".into(),
            ),
            Self::TooManyAttempts { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "too many wrong passwords; wait a minute".into(),
            ),
            Self::Internal(what) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                (*what).into(),
            ),
        }
    }

    /// Seconds a client should wait before trying again, when that is known.
    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooManyEventClients => Some(30),
            Self::TooManyAttempts { wait } => Some(*wait),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        let body = serde_json::json!({ "error": { "code": code, "message": message } });
        let mut response = (
            status,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(body),
        )
            .into_response();
        if let Some(wait) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        }
        response
    }
}

impl IntoResponse for BadParam {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn every_error_is_the_same_uncached_json_shape() {
        let response = ApiError::TooManyAttempts { wait: 42 }.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "42");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let json = body(response).await;
        assert_eq!(json["error"]["code"], "too_many_attempts");

        let response = ApiError::NotFound.into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
        assert_eq!(body(response).await["error"]["message"], "no such page");
    }
}
