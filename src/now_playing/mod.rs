//! The now-playing state: our own model of it ([`model`]), the one shared cache that asks
//! Spotify for it ([`service`]) and the built-in sample data of demo mode ([`demo`]).

pub(crate) mod demo;
pub(crate) mod events;
pub mod lists;
pub(crate) mod model;
pub(crate) mod service;

pub(crate) use model::{NowPlaying, State, View};
pub(crate) use service::{NowPlayingService, Snapshot};
