//! The now-playing state: our own model of it ([`model`]), the one shared cache that asks
//! Spotify for it ([`service`]) and the built-in sample data of demo mode ([`demo`]).

pub mod demo;
pub mod events;
pub mod lists;
pub mod model;
pub mod service;

pub use model::{Item, NowPlaying, State, Unavailable, View};
pub use service::{NowPlayingService, Snapshot};
