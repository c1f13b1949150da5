//! Progress between fetches, and which differences between two states are a change worth
//! an event.
use super::*;

fn playing(progress_ms: u64, at_time: &str) -> NowPlaying {
    let mut doc = normalise(&track()).unwrap();
    doc.progress_ms = Some(progress_ms);
    doc.timestamp = Some(at(at_time));
    doc.fetched_at = at(at_time);
    doc
}

#[test]
fn progress_runs_on_while_playing_up_to_the_duration() {
    let doc = playing(10_000, "2026-11-29T12:00:00Z");
    assert_eq!(doc.progress_at(at("2026-11-29T12:00:05Z")), Some(15_000));
    assert_eq!(doc.progress_at(at("2026-11-29T13:00:00Z")), Some(301_000));
    // A clock that went back does not rewind.
    assert_eq!(doc.progress_at(at("2026-11-29T11:59:00Z")), Some(10_000));
    let paused = NowPlaying {
        is_playing: false,
        state: State::Paused,
        ..doc
    };
    assert_eq!(paused.progress_at(at("2026-11-29T12:00:05Z")), Some(10_000));
}

#[test]
fn progress_moving_on_as_expected_is_no_change() {
    let before = View::Ok(playing(10_000, "2026-11-29T12:00:00Z"));
    let after = View::Ok(playing(15_000, "2026-11-29T12:00:05Z"));
    assert!(!before.changed_to(&after));
    assert!(!before.changed_to(&before.clone()));
}

#[test]
fn a_jump_of_more_than_three_seconds_is_a_seek() {
    let before = View::Ok(playing(10_000, "2026-11-29T12:00:00Z"));
    let at_5s = |progress| View::Ok(playing(progress, "2026-11-29T12:00:05Z"));
    assert!(!before.changed_to(&at_5s(15_000 + SEEK_THRESHOLD_MS)));
    assert!(!before.changed_to(&at_5s(15_000 - SEEK_THRESHOLD_MS)));
    assert!(before.changed_to(&at_5s(15_000 + SEEK_THRESHOLD_MS + 1)));
    assert!(before.changed_to(&at_5s(15_000 - SEEK_THRESHOLD_MS - 1)));
    assert!(before.changed_to(&at_5s(0)));
}

#[test]
fn what_plays_changing_is_a_change() {
    let before = playing(10_000, "2026-11-29T12:00:00Z");
    let later = || playing(15_000, "2026-11-29T12:00:05Z");
    let other_item = NowPlaying {
        item: Some(Item {
            title: "One More Time".into(),
            ..before.item.clone().unwrap()
        }),
        ..later()
    };
    let paused = NowPlaying {
        is_playing: false,
        state: State::Paused,
        ..later()
    };
    let stale = NowPlaying {
        stale: true,
        ..later()
    };
    let ad = NowPlaying {
        playing_type: Some(PlayingType::Ad),
        item: None,
        ..later()
    };
    let idle = NowPlaying::idle(at("2026-11-29T12:00:05Z"));
    for (name, after) in [
        ("another item", other_item),
        ("paused", paused),
        ("stale", stale),
        ("an ad", ad),
        ("idle", idle),
    ] {
        assert!(
            View::Ok(before.clone()).changed_to(&View::Ok(after)),
            "{name}"
        );
    }
}

#[test]
fn another_last_played_time_is_a_change() {
    let item = normalise(&track()).unwrap().item.unwrap();
    let recent = |played_at: &str| {
        View::Ok(NowPlaying::recent(
            item.clone(),
            Some(at(played_at)),
            fetched_at(),
        ))
    };
    let before = recent("2026-11-29T11:50:00Z");
    assert!(!before.changed_to(&recent("2026-11-29T11:50:00Z")));
    assert!(before.changed_to(&recent("2026-11-29T11:55:00Z")));
}

#[test]
fn availability_changing_is_a_change_but_the_same_failure_is_not() {
    let failure = |code| {
        View::Unavailable(Unavailable {
            code,
            message: format!("{code:?}"),
            refresh_token_expires_at: None,
        })
    };
    let ok = View::Ok(playing(10_000, "2026-11-29T12:00:00Z"));
    assert!(ok.changed_to(&failure(ErrorCode::Upstream)));
    assert!(failure(ErrorCode::Upstream).changed_to(&ok));
    assert!(!failure(ErrorCode::Upstream).changed_to(&failure(ErrorCode::Upstream)));
    assert!(failure(ErrorCode::Upstream).changed_to(&failure(ErrorCode::RateLimited)));
    assert!(failure(ErrorCode::RateLimited).changed_to(&failure(ErrorCode::SpotifyAuth)));
}

#[test]
fn progress_appearing_or_going_is_a_change() {
    let before = playing(10_000, "2026-11-29T12:00:00Z");
    let without = NowPlaying {
        progress_ms: None,
        ..playing(15_000, "2026-11-29T12:00:05Z")
    };
    assert!(View::Ok(before.clone()).changed_to(&View::Ok(without.clone())));
    assert!(View::Ok(without.clone()).changed_to(&View::Ok(before)));
    assert!(!View::Ok(without.clone()).changed_to(&View::Ok(without)));
}
