//! The Spotify HTTP client: the access-token cache ([`token`]), the calls ([`client`]), serde
//! mirrors of Spotify's JSON ([`types`]) and what can go wrong ([`error`]).

pub mod authorize;
pub mod client;
pub mod error;
pub mod images;
pub mod token;
pub mod types;

pub use client::SpotifyClient;
pub use error::{AuthFailure, SpotifyError};
pub use token::TokenManager;

/// The `User-Agent` of every request to Spotify.
pub const USER_AGENT: &str = concat!(
    "now-playing/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/now-playing)"
);

/// Connect deadline and whole-call deadline of every Spotify request.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The shared HTTP client for Spotify: rustls, timeouts, our `User-Agent`, no redirects.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("the TLS backend is compiled in")
}
