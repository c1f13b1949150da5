//! The memos of rendered representations. [`Generational`] holds what was rendered for the
//! newest state of one cache, keyed by the state's generation, so the domain caches know
//! nothing of presentation; [`Renders`] is the now-playing one (`lists::ListRenders` keeps
//! one per list). The hot path (a cached JSON) takes one read lock and clones an `Arc`: no
//! allocation. A representation that is kept is compressed once, when it is rendered
//! ([`Rendered::compressed`]); one that is not kept (an older state's, or past the memo's
//! capacity) is sent as rendered, so no request can make the server compress for it alone.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::{Rendered, Surface, WidgetParams};
use crate::now_playing::Snapshot;

/// Most representations kept per state; more (many `accent` values) are rendered per request.
const MEMO_CAPACITY: usize = 64;

/// The contents `T` rendered for one generation of a state. A newer generation replaces the
/// older one's contents; what is rendered for an older generation (a request that began
/// before the newer state landed) is not kept.
#[derive(Default)]
pub struct Generational<T> {
    slot: RwLock<(u64, T)>,
}

impl<T: Default> Generational<T> {
    /// `look` at the contents, when they belong to `generation`.
    pub fn read<R>(&self, generation: u64, look: impl FnOnce(&T) -> Option<R>) -> Option<R> {
        let slot = self.slot.read().unwrap_or_else(|e| e.into_inner());
        (slot.0 == generation).then(|| look(&slot.1)).flatten()
    }

    /// Whether something rendered for `generation` would be kept, given `room` in the
    /// contents of that generation (a newer generation starts empty).
    pub fn admits(&self, generation: u64, room: impl FnOnce(&T) -> bool) -> bool {
        let slot = self.slot.read().unwrap_or_else(|e| e.into_inner());
        slot.0 < generation || (slot.0 == generation && room(&slot.1))
    }

    /// Stores into the contents of `generation`, starting them afresh when it is newer.
    pub fn keep(&self, generation: u64, store: impl FnOnce(&mut T)) {
        let mut slot = self.slot.write().unwrap_or_else(|e| e.into_inner());
        if slot.0 < generation {
            *slot = (generation, T::default());
        }
        if slot.0 == generation {
            store(&mut slot.1);
        }
    }
}

/// A representation ready to serve: with its encodings when a memo `kept` it (it will be
/// served many times), as rendered otherwise.
pub fn finish(rendered: Rendered, kept: bool) -> Arc<Rendered> {
    Arc::new(if kept {
        rendered.compressed()
    } else {
        rendered
    })
}

/// Every representation of the newest now-playing state, each rendered once.
#[derive(Default)]
pub struct Renders {
    memo: Generational<Slot>,
}

#[derive(Default)]
struct Slot {
    json: Option<Arc<Rendered>>,
    /// Per [`Surface`] (fragment, embed, SVG), by widget parameters: looked up by reference.
    others: [HashMap<WidgetParams, Arc<Rendered>>; 3],
}

fn index(surface: Surface) -> usize {
    match surface {
        Surface::Fragment => 0,
        Surface::Embed => 1,
        Surface::Svg => 2,
    }
}

impl Renders {
    pub fn new() -> Self {
        Self::default()
    }

    /// The JSON document of `snapshot` (SPEC 5), or its 503.
    pub fn json(&self, snapshot: &Snapshot) -> Arc<Rendered> {
        let generation = snapshot.generation;
        if let Some(json) = self.memo.read(generation, |slot| slot.json.clone()) {
            return json;
        }
        let kept = self.memo.admits(generation, |_| true);
        let rendered = finish(super::json(&snapshot.view), kept);
        self.memo.keep(generation, |slot| {
            slot.json = Some(Arc::clone(&rendered));
        });
        rendered
    }

    /// The representation of `snapshot` for `surface` and `params`, if rendered already.
    pub fn get(
        &self,
        snapshot: &Snapshot,
        surface: Surface,
        params: &WidgetParams,
    ) -> Option<Arc<Rendered>> {
        self.memo.read(snapshot.generation, |slot| {
            slot.others[index(surface)].get(params).cloned()
        })
    }

    /// The representation of `snapshot` for `surface` and `params`, rendered by `render` the
    /// first time it is asked for.
    pub fn get_or_render(
        &self,
        snapshot: &Snapshot,
        surface: Surface,
        params: &WidgetParams,
        render: impl FnOnce() -> Rendered,
    ) -> Arc<Rendered> {
        if let Some(found) = self.get(snapshot, surface, params) {
            return found;
        }
        let generation = snapshot.generation;
        let room = |slot: &Slot| slot.others[index(surface)].len() < MEMO_CAPACITY;
        let rendered = finish(render(), self.memo.admits(generation, room));
        self.memo.keep(generation, |slot| {
            if room(slot) {
                slot.others[index(surface)].insert(params.clone(), Arc::clone(&rendered));
            }
        });
        rendered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_generation_replaces_the_contents_and_an_older_one_is_not_kept() {
        let memo = Generational::<Vec<u32>>::default();
        memo.keep(1, |v| v.push(1));
        assert_eq!(memo.read(1, |v| v.first().copied()), Some(1));
        assert_eq!(memo.read(2, |v| v.first().copied()), None);
        assert!(memo.admits(2, |_| false), "a newer generation starts empty");
        memo.keep(2, |v| v.push(2));
        assert_eq!(memo.read(2, |v| Some(v.clone())), Some(vec![2]));
        assert!(
            !memo.admits(1, |_| true),
            "an older generation is never kept"
        );
        memo.keep(1, |v| v.push(1));
        assert_eq!(memo.read(2, |v| Some(v.clone())), Some(vec![2]));
        assert!(!memo.admits(2, |v| v.is_empty()), "no room");
    }

    #[test]
    fn only_what_is_kept_is_compressed() {
        let body = "<p>Digital Love</p>".repeat(50);
        let render = || Rendered::new(axum::http::StatusCode::OK, "text/html", body.clone(), None);
        assert!(finish(render(), true).encodings.br.is_some());
        let sent_once = finish(render(), false);
        assert!(sent_once.encodings.gzip.is_none() && sent_once.encodings.br.is_none());
    }
}
