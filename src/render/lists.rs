//! Representations of the lists (recently played, top tracks and artists): the JSON documents, and
//! [`ListRenders`], which keeps every representation of a list state (the JSON here; the fragment,
//! the embed page and the SVG card too) so that each is rendered once per fetched state, `limit`
//! and widget parameters, within the budget every memo shares. The memo is keyed by the state's
//! generation, so the list caches know nothing of presentation.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode};

use super::budget::RenderBudget;
use super::memo::{Kept, Memo, MemoKey};
use super::{Rendered, WidgetParams};
use crate::now_playing::lists::{ListId, ListSnapshot, ListView, ListsService};

/// Which representation of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ListSurface {
    Json,
    Fragment,
    Embed,
    Svg,
}

/// What one representation depends on besides the list state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ListRenderKey {
    pub surface: ListSurface,
    pub limit: usize,
    /// The widget parameters; `None` for the JSON.
    pub params: Option<WidgetParams>,
}

impl MemoKey for ListRenderKey {
    fn heap_bytes(&self) -> usize {
        self.params.as_ref().map_or(0, MemoKey::heap_bytes)
    }
}

/// The memo of every list's representations, and the `Cache-Control` of its routes.
pub(crate) struct ListRenders {
    /// Per list, the representations of its newest state seen so far.
    memos: [Memo<HashMap<ListRenderKey, Kept>>; 7],
    cache_control: [HeaderValue; 7],
}

impl ListRenders {
    pub(crate) fn new(lists: &ListsService, budget: &Arc<RenderBudget>) -> Self {
        Self {
            memos: ListId::ALL.map(|_| Memo::new(budget)),
            cache_control: ListId::ALL.map(|id| {
                let ttl = lists.ttl(id).as_secs();
                HeaderValue::from_str(&format!(
                    "public, max-age={ttl}, stale-while-revalidate={ttl}"
                ))
                .expect("digits are a valid header value")
            }),
        }
    }

    /// `public, max-age=TTL, stale-while-revalidate=TTL` with the list's own TTL: 60 s for
    /// recently played, `TOP_TTL` for top lists.
    pub(crate) fn cache_control(&self, id: ListId) -> &HeaderValue {
        &self.cache_control[id.index()]
    }

    /// The representation `key` of `snapshot`, if it was rendered already.
    pub(crate) fn get(
        &self,
        snapshot: &ListSnapshot,
        key: &ListRenderKey,
    ) -> Option<Arc<Rendered>> {
        self.memos[snapshot.id.index()].get(
            snapshot.generation,
            |renders| renders.get(key),
            || key.clone(),
        )
    }

    /// The representation `key` of `snapshot`, rendered by `render` the first time it is
    /// asked for. A newer state of the list replaces the older one's representations; one
    /// asked for an older state (a request that began before the newer state landed) is
    /// rendered and not kept.
    pub(crate) fn get_or_render(
        &self,
        snapshot: &ListSnapshot,
        key: ListRenderKey,
        render: impl FnOnce() -> Rendered,
    ) -> Arc<Rendered> {
        match self.get(snapshot, &key) {
            Some(found) => found,
            None => self.memos[snapshot.id.index()].render(snapshot.generation, key, render),
        }
    }

    /// The JSON of `snapshot` showing `limit` entries, or its 503.
    pub(crate) fn json(&self, snapshot: &ListSnapshot, limit: usize) -> Arc<Rendered> {
        let key = ListRenderKey {
            surface: ListSurface::Json,
            limit,
            params: None,
        };
        self.get_or_render(snapshot, key, || json(snapshot, limit))
    }
}

/// The JSON document of a list with the first `limit` entries, or the 503 body
/// `{"error":{"code":..,"message":..}}`.
pub(crate) fn json(snapshot: &ListSnapshot, limit: usize) -> Rendered {
    let (status, body) = match &snapshot.view {
        ListView::Ok(list) => (StatusCode::OK, serde_json::to_vec(&list.document(limit))),
        ListView::Unavailable(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::to_vec(&why.document()),
        ),
    };
    match body {
        Ok(body) => Rendered::new(status, "application/json", body, None),
        Err(e) => Rendered::failed("a list's JSON document", e),
    }
}
