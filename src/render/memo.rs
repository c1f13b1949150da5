//! [`Renders`]: every representation of the newest now-playing state, each rendered once.
//! Keyed by the state's generation, so the domain cache knows nothing of presentation. The
//! hot path (a cached JSON) takes one read lock and clones an `Arc`: no allocation. Each
//! representation is compressed when it is rendered ([`Rendered::compressed`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::{Rendered, Surface, WidgetParams};
use crate::now_playing::Snapshot;

/// Most representations kept per state; more (many `accent` values) are rendered per request.
const MEMO_CAPACITY: usize = 64;

#[derive(Default)]
pub struct Renders {
    slot: RwLock<Slot>,
}

/// The representations of the newest state seen so far.
#[derive(Default)]
struct Slot {
    generation: u64,
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

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Slot> {
        self.slot.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The JSON document of `snapshot` (SPEC 5), or its 503.
    pub fn json(&self, snapshot: &Snapshot) -> Arc<Rendered> {
        {
            let slot = self.read();
            if slot.generation == snapshot.generation
                && let Some(json) = &slot.json
            {
                return Arc::clone(json);
            }
        }
        let rendered = Arc::new(super::json(&snapshot.view).compressed());
        self.keep(snapshot.generation, |slot| {
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
        let slot = self.read();
        if slot.generation != snapshot.generation {
            return None;
        }
        slot.others[index(surface)].get(params).cloned()
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
        let rendered = Arc::new(render().compressed());
        self.keep(snapshot.generation, |slot| {
            let others = &mut slot.others[index(surface)];
            if others.len() < MEMO_CAPACITY {
                others.insert(params.clone(), Arc::clone(&rendered));
            }
        });
        rendered
    }

    /// Stores into the slot of `generation`. A newer state replaces the older one's
    /// representations; one rendered for an older state (a request that began before the
    /// newer state landed) is not kept.
    fn keep(&self, generation: u64, store: impl FnOnce(&mut Slot)) {
        let mut slot = self.slot.write().unwrap_or_else(|e| e.into_inner());
        if slot.generation < generation {
            *slot = Slot {
                generation,
                ..Slot::default()
            };
        }
        if slot.generation == generation {
            store(&mut slot);
        }
    }
}
