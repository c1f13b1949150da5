//! The byte budget that every memo of rendered representations shares (`RENDER_CACHE_MB`),
//! and the one worker that compresses them. A kept representation holds a [`Charge`] of the
//! budget (its body, its compressed forms, its key and their bookkeeping) until its memo
//! drops it: when a newer state replaces it, or when room is made for a newer
//! representation. Room is made oldest kept first, with a second chance (CLOCK): one asked
//! for again since it was queued goes to the back of the queue once instead, so that what
//! clients keep asking for outlives representations asked for only once. Reading a kept
//! representation marks its charge, and touches nothing else here.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::watch;

use super::Rendered;

/// What one kept entry costs besides its bytes and its key's heap: the entry, the
/// representation's fields and headers, the map's slot and the eviction queue's record.
pub(crate) const ENTRY_OVERHEAD: usize = 256;

/// Compressions running at once: one core at most, whatever clients ask.
const COMPRESSORS: usize = 1;

/// The budget; built once and shared by every memo.
pub struct RenderBudget {
    limit: usize,
    used: AtomicUsize,
    /// Every kept representation, oldest first, with the way to drop it from its memo;
    /// records of representations dropped already are skipped, and pruned now and then.
    tenants: Mutex<Tenants>,
    /// Compressions started and not finished.
    compressing: watch::Sender<usize>,
}

#[derive(Default)]
struct Tenants {
    queue: VecDeque<Tenant>,
    /// The queue's length at which records of dropped representations are pruned.
    prune_at: usize,
}

struct Tenant {
    charge: Weak<Charge>,
    evict: Box<dyn FnOnce() + Send>,
}

/// The bytes one kept representation holds of the budget, given back when it is dropped.
pub(crate) struct Charge {
    budget: Arc<RenderBudget>,
    bytes: AtomicUsize,
    /// Asked for again since it was queued (or last went to the back of the queue).
    asked_again: AtomicBool,
}

impl Drop for Charge {
    fn drop(&mut self) {
        let bytes = *self.bytes.get_mut();
        self.budget.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

impl Charge {
    /// Takes over `other`'s bytes (the compressed forms of the same representation).
    pub(crate) fn absorb(&self, mut other: Charge) {
        let bytes = std::mem::take(other.bytes.get_mut());
        self.bytes.fetch_add(bytes, Ordering::AcqRel);
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }

    /// Its representation was asked for again: it goes to the back of the eviction queue
    /// once when it reaches the front. A load, and a store once per turn in the queue.
    pub(crate) fn asked_again(&self) {
        if !self.asked_again.load(Ordering::Relaxed) {
            self.asked_again.store(true, Ordering::Relaxed);
        }
    }
}

/// One compression under way; the worker is free again when it is dropped.
pub(crate) struct Permit(Arc<RenderBudget>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.compressing.send_modify(|n| *n -= 1);
    }
}

impl RenderBudget {
    pub(crate) fn new(limit_bytes: usize) -> Arc<Self> {
        Arc::new(Self {
            limit: limit_bytes,
            used: AtomicUsize::new(0),
            tenants: Mutex::new(Tenants::default()),
            compressing: watch::Sender::new(0),
        })
    }

    /// Bytes held by kept representations now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// `bytes` of the budget, making room by dropping the oldest kept representations (each
    /// asked for again going to the back once instead); `None` when they cannot fit even so (more than the whole budget, or the room is held
    /// by representations being kept right now).
    pub(crate) fn reserve(self: &Arc<Self>, bytes: usize) -> Option<Charge> {
        if bytes > self.limit {
            return None;
        }
        // How many may still go to the back instead: bounded, so that readers marking every
        // entry again and again cannot keep this looping.
        let mut second_chances = None;
        loop {
            let used = self.used.load(Ordering::Acquire);
            if used + bytes <= self.limit {
                if self
                    .used
                    .compare_exchange(used, used + bytes, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return Some(Charge {
                        budget: Arc::clone(self),
                        bytes: AtomicUsize::new(bytes),
                        asked_again: AtomicBool::new(false),
                    });
                }
                continue;
            }
            // Taken out of the queue first: evicting locks a memo, and a memo that keeps a
            // representation locks the queue.
            let evict = self.lock_tenants().next_to_evict(&mut second_chances)?;
            evict();
        }
    }

    /// Records a kept representation holding `charge`, which `evict` drops from its memo.
    pub(crate) fn admit(&self, charge: &Arc<Charge>, evict: impl FnOnce() + Send + 'static) {
        let mut tenants = self.lock_tenants();
        tenants.queue.push_back(Tenant {
            charge: Arc::downgrade(charge),
            evict: Box::new(evict),
        });
        if tenants.queue.len() >= tenants.prune_at {
            tenants.queue.retain(|t| t.charge.strong_count() > 0);
            tenants.prune_at = 2 * tenants.queue.len() + 64;
        }
    }

    /// A turn of the compression worker, or `None` while it is busy: the representation is
    /// then served as it is, and tried again at its next request.
    pub(crate) fn start_compression(self: &Arc<Self>) -> Option<Permit> {
        self.compressing
            .send_if_modified(|n| {
                let free = *n < COMPRESSORS;
                if free {
                    *n += 1;
                }
                free
            })
            .then(|| Permit(Arc::clone(self)))
    }

    /// Waits until no compression is under way (tests: a representation asked for a second
    /// time is compressed in the background; after this its memo holds the compressed forms).
    pub async fn compressions_done(&self) {
        let mut compressing = self.compressing.subscribe();
        let _ = compressing.wait_for(|n| *n == 0).await;
    }

    #[cfg(test)]
    fn queued(&self) -> usize {
        self.lock_tenants().queue.len()
    }

    fn lock_tenants(&self) -> std::sync::MutexGuard<'_, Tenants> {
        self.tenants.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Tenants {
    /// The eviction of the oldest kept representation not asked for again since it was
    /// queued; those asked for again go to the back, their mark cleared, while
    /// `second_chances` (at first the queue's length) lasts. Records of dropped ones go.
    fn next_to_evict(
        &mut self,
        second_chances: &mut Option<usize>,
    ) -> Option<Box<dyn FnOnce() + Send>> {
        let chances = second_chances.get_or_insert(self.queue.len());
        while let Some(tenant) = self.queue.pop_front() {
            let Some(charge) = tenant.charge.upgrade() else {
                continue;
            };
            if *chances > 0 && charge.asked_again.swap(false, Ordering::Relaxed) {
                *chances -= 1;
                self.queue.push_back(tenant);
                continue;
            }
            return Some(tenant.evict);
        }
        None
    }
}

/// The bytes a kept representation holds: body, compressed forms and headers (each body
/// allocated to its length, see [`super::IntoBody`]).
pub(crate) fn weight(rendered: &Rendered) -> usize {
    let encodings = &rendered.encodings;
    rendered.body.len()
        + rendered.etag.len()
        + rendered.csp.as_ref().map_or(0, |c| c.len())
        + [&encodings.gzip, &encodings.br]
            .into_iter()
            .flatten()
            .map(|e| e.body.len() + e.etag.len())
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_are_given_back_when_dropped_and_grow_by_what_they_absorb() {
        let budget = RenderBudget::new(1000);
        let a = budget.reserve(600).expect("fits");
        assert_eq!(budget.used(), 600);
        let extra = budget.reserve(300).expect("fits");
        a.absorb(extra);
        assert_eq!((a.bytes(), budget.used()), (900, 900));
        assert!(budget.reserve(101).is_none(), "nothing to evict");
        drop(a);
        assert_eq!(budget.used(), 0);
        assert!(budget.reserve(1001).is_none(), "more than the whole budget");
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn room_is_made_by_evicting_the_oldest_first() {
        let budget = RenderBudget::new(1000);
        let evicted = Arc::new(Mutex::new(Vec::new()));
        // Three kept representations of 300 bytes, each dropped by its eviction.
        let kept: Vec<Arc<Mutex<Option<Arc<Charge>>>>> = (0..3)
            .map(|i| {
                let charge = Arc::new(budget.reserve(300).unwrap());
                let slot = Arc::new(Mutex::new(Some(Arc::clone(&charge))));
                let (slot2, evicted) = (Arc::clone(&slot), Arc::clone(&evicted));
                budget.admit(&charge, move || {
                    slot2.lock().unwrap().take();
                    evicted.lock().unwrap().push(i);
                });
                slot
            })
            .collect();
        assert_eq!(budget.used(), 900);
        let fourth = budget.reserve(300).expect("the oldest makes room");
        assert_eq!(*evicted.lock().unwrap(), vec![0]);
        assert_eq!(budget.used(), 900);
        // One dropped by its memo (a newer state) is skipped, not evicted twice.
        kept[1].lock().unwrap().take();
        assert_eq!(budget.used(), 600);
        let fifth = budget.reserve(700).expect("the next live one makes room");
        assert_eq!(*evicted.lock().unwrap(), vec![0, 2]);
        assert_eq!(budget.used(), 1000);
        drop((fourth, fifth));
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn one_asked_for_again_goes_to_the_back_once_instead_of_out() {
        let budget = RenderBudget::new(900);
        let evicted = Arc::new(Mutex::new(Vec::new()));
        let kept: Vec<Arc<Charge>> = (0..3)
            .map(|i| {
                let charge = Arc::new(budget.reserve(300).unwrap());
                let (held, evicted) = (
                    Arc::new(Mutex::new(Some(Arc::clone(&charge)))),
                    Arc::clone(&evicted),
                );
                budget.admit(&charge, move || {
                    held.lock().unwrap().take();
                    evicted.lock().unwrap().push(i);
                });
                charge
            })
            .collect();
        kept[0].asked_again();
        kept[0].asked_again();
        drop(kept);
        let fourth = budget.reserve(300).expect("room is made");
        assert_eq!(*evicted.lock().unwrap(), vec![1], "the oldest went back");
        let fifth = budget.reserve(600).expect("room is made");
        assert_eq!(
            *evicted.lock().unwrap(),
            vec![1, 2, 0],
            "its mark is cleared: it goes at its next turn"
        );
        assert_eq!(budget.queued(), 0);
        drop((fourth, fifth));
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn records_of_dropped_representations_do_not_pile_up() {
        let budget = RenderBudget::new(1 << 20);
        for _ in 0..10_000 {
            let charge = Arc::new(budget.reserve(10).unwrap());
            budget.admit(&charge, || {});
        }
        assert_eq!(budget.used(), 0);
        assert!(budget.lock_tenants().queue.len() < 100);
    }

    #[tokio::test]
    async fn one_compression_at_a_time_and_its_end_can_be_awaited() {
        let budget = RenderBudget::new(1000);
        let permit = budget.start_compression().expect("the worker is free");
        assert!(budget.start_compression().is_none(), "busy: skipped");
        let done = tokio::spawn({
            let budget = Arc::clone(&budget);
            async move { budget.compressions_done().await }
        });
        tokio::task::yield_now().await;
        assert!(!done.is_finished());
        drop(permit);
        done.await.unwrap();
        assert!(budget.start_compression().is_some());
    }
}
