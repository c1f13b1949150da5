//! Everything about Spotify and nothing about our pages: its settings ([`settings`]), the
//! accounts service ([`accounts`]), the access-token cache ([`token_cache`]) with its file
//! ([`token_store`]) and lifetimes ([`lifetime`]), the API calls ([`client`], [`lists`]) and
//! what every call shares ([`call`]), serde mirrors of its JSON ([`types`]), cover art
//! ([`images`]), its hosts ([`hosts`]) and what can go wrong ([`error`], [`mod@unreachable`]).

pub(crate) mod accounts;
pub(crate) mod authorize;
pub(crate) mod call;
pub(crate) mod client;
pub(crate) mod error;
pub(crate) mod hosts;
pub mod images;
pub(crate) mod lifetime;
pub(crate) mod lists;
pub(crate) mod settings;
pub(crate) mod token_cache;
pub(crate) mod token_store;
pub(crate) mod types;
pub(crate) mod unreachable;

pub(crate) use client::SpotifyClient;
pub(crate) use error::SpotifyError;

/// The `User-Agent` of every request to Spotify.
pub const USER_AGENT: &str = concat!(
    "now-playing/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/now-playing)"
);

/// Connect deadline and whole-call deadline of every Spotify request.
pub(crate) const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The shared HTTP client for Spotify: rustls, timeouts, our `User-Agent`, no redirects.
///
/// # Panics
/// When TLS cannot be set up, which in practice means no CA certificates were found; the
/// message says so and how to fix it. `check` asks [`try_http_client`] first.
pub(crate) fn http_client() -> reqwest::Client {
    try_http_client().unwrap_or_else(|e| panic!("{e}"))
}

/// [`http_client`], or why TLS cannot be set up (no CA certificates, typically in a bare
/// container), in words that say what to fix.
pub fn try_http_client() -> Result<reqwest::Client, String> {
    build(
        reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT),
    )
}

/// Builds a client with our `User-Agent` and no redirects.
pub(crate) fn build(builder: reqwest::ClientBuilder) -> Result<reqwest::Client, String> {
    builder
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| {
            // rustls-platform-verifier refuses to start without a single CA certificate.
            let cause = std::iter::successors(std::error::Error::source(&e), |&e| e.source())
                .last()
                .map_or_else(|| e.to_string(), ToString::to_string);
            format!(
                "cannot set up TLS for Spotify: {cause}. Install CA certificates (the ca-certificates package; in a container, copy /etc/ssl/certs/ca-certificates.crt into the image) or point SSL_CERT_FILE at a PEM bundle"
            )
        })
}
