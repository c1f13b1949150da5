//! What a Spotify call can end with, other than an answer.

use std::time::Duration;

use super::unreachable::{self, Cause, Deadlines, Unreachable};

/// A Spotify failure. Messages name no secret: tokens travel in headers and form bodies,
/// never in URLs, and bodies are never quoted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpotifyError {
    /// The token endpoint rejected the app or the refresh token; retrying will not help.
    #[error("Spotify rejected the credentials ({0})")]
    Auth(AuthFailure),
    /// HTTP 429; no call before the delay has passed.
    #[error("Spotify is rate limiting this app (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// HTTP 403 from the API: the token lacks a scope, or the user is not allowed.
    #[error("Spotify refused access (HTTP 403)")]
    Forbidden,
    /// Any other unexpected status, 5xx included.
    #[error("Spotify answered HTTP {0}")]
    Status(u16),
    /// No HTTP answer: the name did not resolve, the connection was refused, the deadline
    /// passed or TLS failed; the message names the host and the cause.
    #[error(transparent)]
    Unreachable(Unreachable),
    #[error("Spotify sent a body that could not be read: {0}")]
    Malformed(String),
}

/// Why the token endpoint refused: Spotify's `error` code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    /// The refresh token (or code) is expired, revoked or unknown.
    InvalidGrant,
    /// The client id or secret is wrong.
    InvalidClient,
}

impl AuthFailure {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidClient => "invalid_client",
        }
    }

    /// One sentence on what the owner should do.
    pub(crate) fn advice(self) -> &'static str {
        match self {
            Self::InvalidGrant => {
                "the refresh token is expired or revoked (Spotify refresh tokens last 6 months): run `now-playing auth --write-env .env`, or open /auth/login on this server, to authorize again"
            }
            Self::InvalidClient => {
                "the client id or secret is wrong: copy both again from the app's settings at https://developer.spotify.com/dashboard"
            }
        }
    }
}

impl std::fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The advice is logged once, where the credentials are found dead, not with every call.
        f.write_str(self.code())
    }
}

impl SpotifyError {
    /// A failed request to the Web API or the token endpoint.
    pub(crate) fn from_reqwest(e: reqwest::Error) -> Self {
        Self::from_reqwest_within(e, Deadlines::SPOTIFY)
    }

    /// A failed request by a client with these deadlines.
    pub(crate) fn from_reqwest_within(e: reqwest::Error, deadlines: Deadlines) -> Self {
        if e.is_decode() && !e.is_timeout() {
            // Without the URL: it only repeats a base URL from the settings.
            Self::Malformed(e.without_url().to_string())
        } else {
            Self::Unreachable(unreachable::classify(&e, deadlines))
        }
    }

    /// Why no answer came, when that is what happened.
    pub(crate) fn unreachable(&self) -> Option<&Unreachable> {
        match self {
            Self::Unreachable(u) => Some(u),
            _ => None,
        }
    }

    /// A body that is not the JSON expected. Only the kind and position of the problem are
    /// kept: serde's messages can quote the input, and the input can be a token.
    pub(crate) fn malformed(e: &serde_json::Error) -> Self {
        Self::Malformed(format!(
            "{:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ))
    }

    /// A short outcome label for logs and metrics.
    pub(crate) fn outcome(&self) -> &'static str {
        match self {
            Self::Auth(failure) => failure.code(),
            Self::RateLimited { .. } => "rate_limited",
            Self::Forbidden => "forbidden",
            Self::Status(_) => "status",
            Self::Unreachable(u) => match u.cause {
                Cause::TimedOut { .. } => "timeout",
                _ => "transport",
            },
            Self::Malformed(_) => "malformed",
        }
    }
}
