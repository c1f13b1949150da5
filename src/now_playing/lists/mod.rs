//! The lists beyond this minute (SPEC 10): recently played, and top tracks and artists per
//! range. Our model of them ([`model`]), one shared cache per list ([`service`]) and demo
//! mode's sample lists ([`demo`]).

pub mod demo;
pub mod model;
pub mod service;

pub use crate::spotify::lists::{TopKind, TopRange};
pub use model::{Entry, List, ListErrorCode, ListId, ListUnavailable, ListView, Position, Subject};
pub use service::{ListOptions, ListPage, ListSnapshot, ListsService};
