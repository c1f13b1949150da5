//! The lists beyond this minute (README: Beyond this minute): recently played, and top tracks and
//! artists per range. Our model of them ([`model`]) and their JSON ([`document`]), one shared cache
//! per list ([`service`]) serving [`ListSnapshot`]s ([`snapshot`]), and demo mode's sample lists
//! ([`demo`]).

pub(crate) mod demo;
pub(crate) mod document;
pub(crate) mod model;
pub(crate) mod service;
pub(crate) mod snapshot;

pub use crate::spotify::lists::{TopKind, TopRange};
pub use model::ListId;
pub(crate) use model::{ListErrorCode, ListView};
pub(crate) use service::{ListOptions, ListsService};
pub(crate) use snapshot::ListSnapshot;
