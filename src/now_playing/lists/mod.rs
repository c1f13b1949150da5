//! The lists beyond this minute (SPEC 10): recently played, and top tracks and artists per
//! range. Our model of them ([`model`]) and their JSON ([`document`]), one shared cache per
//! list ([`service`]) serving [`ListSnapshot`]s and the [`ListPage`] widgets render
//! ([`snapshot`]), and demo mode's sample lists ([`demo`]).

pub mod demo;
pub mod document;
pub mod model;
pub mod service;
pub mod snapshot;

pub use crate::spotify::lists::{TopKind, TopRange};
pub use model::{Entry, List, ListErrorCode, ListId, ListUnavailable, ListView, Position, Subject};
pub use service::{ListOptions, ListsService};
pub use snapshot::{ListPage, ListSnapshot};
