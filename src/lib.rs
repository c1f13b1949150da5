//! now-playing: shows what a Spotify account is listening to, for a blog footer.
//!
//! Data flows one way: Spotify JSON -> [`spotify::types`] -> [`now_playing::model`] ->
//! JSON, HTML, SVG and events. Handlers never call Spotify; they ask the
//! [`now_playing::NowPlayingService`], which owns the one shared cache.

pub mod auth;
pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connections;
pub mod forwarded;
pub mod limits;
pub mod metrics;
pub mod now_playing;
pub mod reauth;
pub mod render;
pub mod routes;
pub mod spotify;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
