//! Demo mode: built-in sample states that follow each other on the clock, so the widget can
//! be seen and themed with no Spotify account. Nothing here touches the network.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::model::{Item, ItemKind, NowPlaying, PlayingType, State};

/// How long each sample state is shown.
pub(crate) const SCENE: Duration = Duration::from_secs(15);

/// The sample state at `now`: playing, paused, an episode, a local file, an ad, then the
/// last played track, round and round.
pub(crate) fn at(now: DateTime<Utc>) -> NowPlaying {
    let seconds = now.timestamp().max(0) as u64;
    let scene = (seconds / SCENE.as_secs()) % 6;
    let into_scene_ms =
        (seconds % SCENE.as_secs()) * 1000 + u64::from(now.timestamp_subsec_millis());
    // Fixed within a scene, so that the same sample state stays the same state.
    let scene_start =
        DateTime::from_timestamp((seconds - seconds % SCENE.as_secs()) as i64, 0).unwrap_or(now);
    let playing = |item: Item, start_ms: u64, kind: PlayingType| NowPlaying {
        state: State::Playing,
        is_playing: true,
        playing_type: Some(kind),
        progress_ms: Some(start_ms + into_scene_ms),
        timestamp: Some(now),
        item: Some(item),
        ..NowPlaying::idle(now)
    };
    match scene {
        0 => playing(
            track("Digital Love", &["Daft Punk"], "Discovery", "2VEZx7NWsZ1D0eJ4uv5Fym", 301_000),
            42_000,
            PlayingType::Track,
        ),
        1 => NowPlaying {
            state: State::Paused,
            is_playing: false,
            playing_type: Some(PlayingType::Track),
            progress_ms: Some(78_810),
            timestamp: Some(now),
            item: Some(track("Dancing Queen", &["ABBA"], "Arrival", "01iyCAUm8EvOFqVWYJ3dVX", 230_400)),
            ..NowPlaying::idle(now)
        },
        2 => playing(
            Item {
                kind: ItemKind::Episode,
                title: "The Giant Beastcast: Episode 0 — a very long episode title that does not fit on one line".into(),
                artists: vec!["The Giant Beastcast".into(), "Giant Bomb".into()],
                album: Some("The Giant Beastcast".into()),
                url: Some("https://open.spotify.com/episode/4GI3dxEafwap1sFiTGPKd1".into()),
                image_url: None,
                duration_ms: Some(8_052_140),
                explicit: false,
                is_local: false,
            },
            3_636_145,
            PlayingType::Episode,
        ),
        3 => playing(
            Item {
                url: None,
                is_local: true,
                ..track("929", &["Halsey"], "Manic (Deluxe)", "", 174_000)
            },
            2_270,
            PlayingType::Track,
        ),
        4 => NowPlaying {
            item: None,
            progress_ms: Some(14_544 + into_scene_ms),
            ..playing(track("", &[], "", "", 30_000), 0, PlayingType::Ad)
        },
        _ => NowPlaying::recent(
            track("Strobe", &["deadmau5"], "For Lack of a Better Name", "6B5SJ7Eu2wpN9r9jxfLS9z", 637_000),
            Some(scene_start - chrono::Duration::hours(2)),
            now,
        ),
    }
}

fn track(title: &str, artists: &[&str], album: &str, id: &str, duration_ms: u64) -> Item {
    Item {
        kind: ItemKind::Track,
        title: title.into(),
        artists: artists.iter().map(|a| (*a).to_owned()).collect(),
        album: Some(album.to_owned()).filter(|a| !a.is_empty()),
        url: Some(format!("https://open.spotify.com/track/{id}")).filter(|_| !id.is_empty()),
        image_url: None,
        duration_ms: Some(duration_ms),
        explicit: false,
        is_local: false,
    }
}
