//! Integration tests: the real application on a random port, talking HTTP to a wiremock
//! Spotify. One binary, one file per behaviour.

mod architecture;
mod auth_command;
mod cache;
mod config;
mod demo;
mod edge;
mod encoding;
mod escaping;
mod events;
mod headers;
mod heads;
mod helpers;
mod landing;
mod list_widgets;
mod lists;
mod logs;
mod metrics;
mod normalisation;
mod operations;
mod proxies;
mod render_cache;
mod routes;
mod slow_readers;
mod spotify_client;
mod spotify_mock;
mod svg;
mod swr;
mod token_file;
mod token_lifecycle;
mod unreachable;
