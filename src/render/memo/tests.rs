use super::*;
use axum::http::StatusCode;

impl MemoKey for u32 {
    fn heap_bytes(&self) -> usize {
        0
    }
}

type Map = HashMap<u32, Kept>;

fn page(text: &str, repeat: usize) -> Rendered {
    Rendered::new(StatusCode::OK, "text/html", text.repeat(repeat), None)
}

/// What one kept page of `len` body bytes costs, uncompressed.
fn cost(rendered: &Rendered) -> usize {
    budget::weight(rendered) + size_of::<u32>() + ENTRY_OVERHEAD
}

#[test]
fn a_newer_generation_replaces_the_contents_and_an_older_one_is_not_kept() {
    let memo = Generational::<Vec<u32>>::default();
    memo.keep(1, |v| v.push(1));
    assert_eq!(memo.read(1, |v| v.first().copied()), Some(1));
    assert_eq!(memo.read(2, |v| v.first().copied()), None);
    assert!(memo.admits(2), "a newer generation starts empty");
    memo.keep(2, |v| v.push(2));
    assert_eq!(memo.read(2, |v| Some(v.clone())), Some(vec![2]));
    assert!(!memo.admits(1), "an older generation is never kept");
    memo.keep(1, |v| v.push(1));
    assert_eq!(memo.modify(1, |v| v.push(1)), None);
    assert_eq!(memo.read(2, |v| Some(v.clone())), Some(vec![2]));
}

#[tokio::test]
async fn a_representation_is_compressed_once_asked_for_a_second_time() {
    let budget = RenderBudget::new(1 << 20);
    let memo = Memo::<Map>::new(&budget);
    let first = memo.render(1, 7, || page("<p>Digital Love</p>", 50));
    assert!(
        first.encodings.br.is_none(),
        "the first request is not compressed"
    );
    assert_eq!(budget.used(), cost(&first));
    let second = memo.get(1, |t| t.get(&7), || 7).expect("kept");
    assert!(Arc::ptr_eq(&first, &second), "served as rendered meanwhile");
    budget.compressions_done().await;
    let third = memo.get(1, |t| t.get(&7), || 7).expect("still kept");
    let (gzip, br) = (third.encodings.gzip.as_ref(), third.encodings.br.as_ref());
    assert!(
        gzip.is_some() && br.is_some(),
        "compressed in the background"
    );
    assert_eq!(third.body, first.body);
    assert_eq!(
        budget.used(),
        cost(&third),
        "its compressed forms are counted"
    );
    assert!(cost(&third) > cost(&first));
}

#[tokio::test]
async fn a_small_body_is_never_compressed() {
    let budget = RenderBudget::new(1 << 20);
    let memo = Memo::<Option<Kept>>::new(&budget);
    memo.render(1, (), || page("{}", 1));
    for _ in 0..3 {
        memo.get(1, Option::as_ref, || ()).expect("kept");
        assert!(
            budget.start_compression().is_some(),
            "no compression started"
        );
    }
}

#[test]
fn every_memo_shares_one_budget_and_the_oldest_makes_room() {
    let one = cost(&page("a", 10_000));
    let budget = RenderBudget::new(3 * one);
    let (a, b) = (Memo::<Map>::new(&budget), Memo::<Map>::new(&budget));
    a.render(1, 1, || page("a", 10_000));
    b.render(1, 1, || page("b", 10_000));
    a.render(1, 2, || page("c", 10_000));
    assert_eq!(budget.used(), 3 * one);
    b.render(1, 2, || page("d", 10_000));
    assert_eq!(budget.used(), 3 * one, "never more than the budget");
    assert!(
        a.get(1, |t| t.get(&1), || 1).is_none(),
        "the oldest is gone"
    );
    for (memo, key) in [(&b, 1), (&a, 2), (&b, 2)] {
        assert!(memo.get(1, |t| t.get(&key), || key).is_some());
    }
}

#[test]
fn a_newer_state_gives_back_the_bytes_of_the_older_one() {
    let budget = RenderBudget::new(1 << 20);
    let memo = Memo::<Map>::new(&budget);
    for key in 0..10 {
        memo.render(1, key, || page("old", 1000));
    }
    let newer = memo.render(2, 0, || page("new", 10));
    assert_eq!(budget.used(), cost(&newer));
    memo.render(1, 11, || page("late", 1000));
    assert_eq!(budget.used(), cost(&newer), "an older state is not kept");
}

#[test]
fn a_representation_larger_than_the_budget_is_sent_not_kept() {
    let budget = RenderBudget::new(4096);
    let memo = Memo::<Map>::new(&budget);
    let small = memo.render(1, 1, || page("s", 1000));
    let large = memo.render(1, 2, || page("l", 10_000));
    assert_eq!(large.body.len(), 10_000, "still served");
    assert!(memo.get(1, |t| t.get(&2), || 2).is_none());
    assert_eq!(
        budget.used(),
        cost(&small),
        "nothing evicted for it in vain"
    );
}

#[test]
fn compressed_forms_of_an_entry_gone_meanwhile_evict_nothing() {
    let one = cost(&page("a", 10_000));
    let budget = RenderBudget::new(3 * one);
    let memo = Memo::<Map>::new(&budget);
    let compress = |r: &Arc<Rendered>| r.with_encodings(Encodings::of(&r.body, &r.etag));
    // Looked at without asking for them.
    let kept = |generation| memo.slot.read(generation, |t| Some(t.len())).unwrap_or(0);
    // Replaced by a newer state while it was being compressed.
    let old = memo.render(1, 7, || page("o", 10_000));
    for key in 1..=3 {
        memo.render(2, key, || page("n", 10_000));
    }
    keep_compressed(&memo.slot, &budget, 1, &7, &old, compress(&old));
    assert_eq!(
        (kept(2), budget.used()),
        (3, 3 * one),
        "the newer state's kept"
    );
    // Evicted while it was being compressed.
    let evicted = memo.render(3, 7, || page("e", 10_000));
    for key in 1..=3 {
        memo.render(3, key, || page("n", 10_000));
    }
    assert!(memo.slot.read(3, |t| t.get(&7).map(|_| ())).is_none());
    keep_compressed(&memo.slot, &budget, 3, &7, &evicted, compress(&evicted));
    assert_eq!((kept(3), budget.used()), (3, 3 * one), "nothing evicted");
}

#[test]
fn an_entry_asked_for_again_outlives_a_flood_of_entries_asked_for_once() {
    let one = cost(&page("h", 100));
    let budget = RenderBudget::new(4 * one);
    let memo = Memo::<Map>::new(&budget);
    memo.render(1, 0, || page("h", 100));
    for key in 1..=100 {
        if key % 3 == 0 {
            let hot = memo.get(1, |t| t.get(&0), || 0);
            assert!(hot.is_some(), "the entry asked for again stays ({key})");
        }
        memo.render(1, key, || page("x", 100));
        assert!(budget.used() <= 4 * one);
    }
    let kept: Vec<u32> = memo
        .slot
        .read(1, |t| Some(t.keys().copied().collect()))
        .unwrap();
    assert!(kept.contains(&0) && kept.contains(&100), "{kept:?}");
    assert_eq!(kept.len(), 4, "those asked for once evict each other");
}
