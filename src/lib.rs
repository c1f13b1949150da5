//! now-playing: shows what a Spotify account is listening to, for a blog footer.
//!
//! Data flows one way: Spotify's JSON -> [`spotify`] -> [`now_playing`] (the domain and its
//! shared caches) -> [`render`] (JSON, HTML, SVG, memoised per state) -> [`routes`] (HTTP).
//! No module imports one to its left; `tests/api/architecture.rs` fails on any cycle.

pub mod auth;
pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
mod connections;
mod forwarded;
mod heads;
pub mod limits;
pub mod metrics;
pub mod now_playing;
mod reauth;
pub mod render;
mod routes;
pub mod spotify;
pub mod startup;
mod state;
pub mod storage;
pub mod telemetry;
