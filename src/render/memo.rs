//! The memos of rendered representations. [`Generational`] holds what was rendered for the
//! newest state of one cache, keyed by the state's generation, so the domain caches know
//! nothing of presentation. [`Memo`] keeps representations there within the byte budget that
//! every memo shares ([`super::budget`]); [`Renders`] is the now-playing one
//! (`lists::ListRenders` keeps one per list). The hot path (a cached JSON) takes one read
//! lock, loads two atomics and clones an `Arc`: no allocation.
//!
//! A representation is kept as rendered, and served so. Asked for a second time, it is
//! compressed (gzip 9, brotli 11) on a blocking thread, one at a time, and its memo entry is
//! then swapped for the compressed one; until then it is sent as rendered. One that is not
//! kept (an older state's, or one the budget cannot hold) is never compressed, so no client
//! can make the server compress for it alone.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, RwLock};

use super::budget::{self, Charge, ENTRY_OVERHEAD, Permit, RenderBudget};
use super::{Encodings, Rendered, Surface, WidgetParams};
use crate::now_playing::Snapshot;

/// The contents `T` rendered for one generation of a state. A newer generation replaces the
/// older one's contents; what is rendered for an older generation (a request that began
/// before the newer state landed) is not kept.
#[derive(Default)]
pub(crate) struct Generational<T> {
    slot: RwLock<(u64, T)>,
}

impl<T: Default> Generational<T> {
    /// `look` at the contents, when they belong to `generation`.
    pub(crate) fn read<R>(&self, generation: u64, look: impl FnOnce(&T) -> Option<R>) -> Option<R> {
        let slot = self.slot.read().unwrap_or_else(|e| e.into_inner());
        (slot.0 == generation).then(|| look(&slot.1)).flatten()
    }

    /// Whether something rendered for `generation` may be kept: not for an older one.
    pub(crate) fn admits(&self, generation: u64) -> bool {
        self.slot.read().unwrap_or_else(|e| e.into_inner()).0 <= generation
    }

    /// Stores into the contents of `generation`, starting them afresh when it is newer.
    pub(crate) fn keep(&self, generation: u64, store: impl FnOnce(&mut T)) {
        let mut slot = self.slot.write().unwrap_or_else(|e| e.into_inner());
        if slot.0 < generation {
            *slot = (generation, T::default());
        }
        if slot.0 == generation {
            store(&mut slot.1);
        }
    }

    /// Changes the contents, when they still belong to `generation`.
    pub(crate) fn modify<R>(&self, generation: u64, change: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mut slot = self.slot.write().unwrap_or_else(|e| e.into_inner());
        (slot.0 == generation).then(|| change(&mut slot.1))
    }
}

/// Served once so far: the next request compresses it.
const FRESH: u8 = 0;
const COMPRESSING: u8 = 1;
/// Compressed, or not worth it.
const SETTLED: u8 = 2;

/// One kept representation, its share of the budget, and how far its compression got.
pub(crate) struct Kept {
    rendered: Arc<Rendered>,
    charge: Arc<Charge>,
    stage: AtomicU8,
}

impl Kept {
    /// Asked for again: the compression worker's turn for it, when it is due and the worker
    /// is free. Once it is compressed, one atomic load.
    fn asked_again(&self, budget: &Arc<RenderBudget>) -> Option<Permit> {
        if self.stage.load(Ordering::Acquire) != FRESH {
            return None;
        }
        let permit = budget.start_compression()?;
        self.stage
            .compare_exchange(FRESH, COMPRESSING, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        Some(permit)
    }
}

/// A key of a memo, with what it holds on the heap besides its own size.
pub(crate) trait MemoKey: Eq + Hash + Clone + Send + Sync + 'static {
    fn heap_bytes(&self) -> usize;
}

impl MemoKey for WidgetParams {
    fn heap_bytes(&self) -> usize {
        self.accent.as_ref().map_or(0, String::capacity)
    }
}

/// The kept representations of one generation: a map, or a single one.
pub(crate) trait Table: Default + Send + Sync + 'static {
    type Key: Clone + Send + Sync + 'static;
    fn find(&self, key: &Self::Key) -> Option<&Kept>;
    fn find_mut(&mut self, key: &Self::Key) -> Option<&mut Kept>;
    fn insert(&mut self, key: Self::Key, kept: Kept);
    fn remove(&mut self, key: &Self::Key) -> Option<Kept>;
    /// What a key holds, counted against the budget with its representation.
    fn key_bytes(key: &Self::Key) -> usize;
}

impl<K: MemoKey> Table for HashMap<K, Kept> {
    type Key = K;
    fn find(&self, key: &K) -> Option<&Kept> {
        self.get(key)
    }
    fn find_mut(&mut self, key: &K) -> Option<&mut Kept> {
        self.get_mut(key)
    }
    fn insert(&mut self, key: K, kept: Kept) {
        HashMap::insert(self, key, kept);
    }
    fn remove(&mut self, key: &K) -> Option<Kept> {
        HashMap::remove(self, key)
    }
    fn key_bytes(key: &K) -> usize {
        size_of::<K>() + key.heap_bytes()
    }
}

impl Table for Option<Kept> {
    type Key = ();
    fn find(&self, _: &()) -> Option<&Kept> {
        self.as_ref()
    }
    fn find_mut(&mut self, _: &()) -> Option<&mut Kept> {
        self.as_mut()
    }
    fn insert(&mut self, _: (), kept: Kept) {
        *self = Some(kept);
    }
    fn remove(&mut self, _: &()) -> Option<Kept> {
        self.take()
    }
    fn key_bytes(_: &()) -> usize {
        0
    }
}

/// Representations of the newest state of one cache, within the shared budget.
pub(crate) struct Memo<T> {
    slot: Arc<Generational<T>>,
    budget: Arc<RenderBudget>,
}

impl<T: Table> Memo<T> {
    pub(crate) fn new(budget: &Arc<RenderBudget>) -> Self {
        Self {
            slot: Arc::default(),
            budget: Arc::clone(budget),
        }
    }

    /// The kept representation that `look` finds for `generation`. The second time it is
    /// asked for, its compression is started in the background (under `key`).
    pub(crate) fn get(
        &self,
        generation: u64,
        look: impl FnOnce(&T) -> Option<&Kept>,
        key: impl FnOnce() -> T::Key,
    ) -> Option<Arc<Rendered>> {
        let (rendered, permit) = self.slot.read(generation, |table| {
            let kept = look(table)?;
            kept.charge.asked_again();
            Some((Arc::clone(&kept.rendered), kept.asked_again(&self.budget)))
        })?;
        if let Some(permit) = permit {
            self.compress(generation, key(), Arc::clone(&rendered), permit);
        }
        Some(rendered)
    }

    /// Renders the representation `key` of `generation`, and keeps it when the state is
    /// still the newest and the budget holds it (making room, see [`super::budget`]).
    pub(crate) fn render(
        &self,
        generation: u64,
        key: T::Key,
        render: impl FnOnce() -> Rendered,
    ) -> Arc<Rendered> {
        let rendered = Arc::new(render());
        if !self.slot.admits(generation) {
            return rendered;
        }
        let bytes = budget::weight(&rendered) + T::key_bytes(&key) + ENTRY_OVERHEAD;
        let Some(charge) = self.budget.reserve(bytes) else {
            return rendered;
        };
        let charge = Arc::new(charge);
        let kept = Kept {
            rendered: Arc::clone(&rendered),
            charge: Arc::clone(&charge),
            stage: AtomicU8::new(if Encodings::worth_trying(rendered.body.len()) {
                FRESH
            } else {
                SETTLED
            }),
        };
        let mut admitted = false;
        let evict_key = key.clone();
        self.slot.keep(generation, |table| {
            if table.find(&key).is_none() {
                table.insert(key, kept);
                admitted = true;
            }
        });
        if admitted {
            let (slot, owner) = (Arc::downgrade(&self.slot), Arc::downgrade(&charge));
            self.budget.admit(&charge, move || {
                let Some(slot) = slot.upgrade() else { return };
                // Dropped once the lock is released.
                let _evicted = slot.modify(generation, |table| {
                    let same = table
                        .find(&evict_key)
                        .is_some_and(|kept| Arc::as_ptr(&kept.charge) == owner.as_ptr());
                    same.then(|| table.remove(&evict_key)).flatten()
                });
            });
        }
        rendered
    }

    /// Compresses `rendered` on a blocking thread, then swaps the memo's entry `key` for the
    /// compressed one, its compressed forms counted, if it is still kept.
    fn compress(&self, generation: u64, key: T::Key, rendered: Arc<Rendered>, permit: Permit) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (slot, budget) = (Arc::downgrade(&self.slot), Arc::clone(&self.budget));
        runtime.spawn_blocking(move || {
            // The worker is free again once the memo holds the result.
            let _permit = permit;
            let compressed = rendered.with_encodings(Encodings::of(&rendered.body, &rendered.etag));
            if let Some(slot) = slot.upgrade() {
                keep_compressed(&slot, &budget, generation, &key, &rendered, compressed);
            }
        });
    }
}

/// Swaps the entry `key` of `generation`, while it still holds `rendered`, for `compressed`,
/// its compressed forms counted when the budget holds them.
fn keep_compressed<T: Table>(
    slot: &Generational<T>,
    budget: &Arc<RenderBudget>,
    generation: u64,
    key: &T::Key,
    rendered: &Arc<Rendered>,
    compressed: Rendered,
) {
    let holds = |table: &T| {
        table
            .find(key)
            .is_some_and(|kept| Arc::ptr_eq(&kept.rendered, rendered))
    };
    // Looked at before room is made: making room evicts, and an entry gone meanwhile (a
    // newer state, or evicted itself) must not cost others theirs. Not inside `modify`:
    // evicting locks the slot of the memo it evicts from, this one too.
    if slot
        .read(generation, |table| holds(table).then_some(()))
        .is_none()
    {
        return;
    }
    let extra = budget::weight(&compressed) - budget::weight(rendered);
    let grown = (extra > 0).then(|| budget.reserve(extra)).flatten();
    // When the entry went while room was made, `grown` is dropped with the closure, and its
    // bytes given back.
    slot.modify(generation, |table| {
        let kept = table
            .find_mut(key)
            .filter(|kept| Arc::ptr_eq(&kept.rendered, rendered))?;
        // Settled even when the budget cannot hold the compressed forms: brotli at quality
        // 11 is not paid for again.
        kept.stage.store(SETTLED, Ordering::Release);
        kept.charge.absorb(grown?);
        kept.rendered = Arc::new(compressed);
        Some(())
    });
}

/// Every representation of the newest now-playing state, each rendered once.
pub(crate) struct Renders {
    json: Memo<Option<Kept>>,
    /// Per [`Surface`] (fragment, embed, SVG), by widget parameters: looked up by reference.
    others: [Memo<HashMap<WidgetParams, Kept>>; 3],
}

fn index(surface: Surface) -> usize {
    match surface {
        Surface::Fragment => 0,
        Surface::Embed => 1,
        Surface::Svg => 2,
    }
}

impl Renders {
    pub(crate) fn new(budget: &Arc<RenderBudget>) -> Self {
        Self {
            json: Memo::new(budget),
            others: [(); 3].map(|_| Memo::new(budget)),
        }
    }

    /// The JSON document of `snapshot` (README: The JSON document), or its 503.
    pub(crate) fn json(&self, snapshot: &Snapshot) -> Arc<Rendered> {
        let generation = snapshot.generation;
        match self.json.get(generation, Option::as_ref, || ()) {
            Some(json) => json,
            None => self
                .json
                .render(generation, (), || super::json(&snapshot.view)),
        }
    }

    /// The representation of `snapshot` for `surface` and `params`, if rendered already.
    pub(crate) fn get(
        &self,
        snapshot: &Snapshot,
        surface: Surface,
        params: &WidgetParams,
    ) -> Option<Arc<Rendered>> {
        self.others[index(surface)].get(
            snapshot.generation,
            |table| table.get(params),
            || params.clone(),
        )
    }

    /// The representation of `snapshot` for `surface` and `params`, rendered by `render` the
    /// first time it is asked for.
    pub(crate) fn get_or_render(
        &self,
        snapshot: &Snapshot,
        surface: Surface,
        params: &WidgetParams,
        render: impl FnOnce() -> Rendered,
    ) -> Arc<Rendered> {
        match self.get(snapshot, surface, params) {
            Some(found) => found,
            None => self.others[index(surface)].render(snapshot.generation, params.clone(), render),
        }
    }
}

#[cfg(test)]
mod tests;
