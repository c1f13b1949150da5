//! Unit tests of `model.rs`: the normalisation of Spotify's answers and text cleaning here,
//! cover art and links in [`images`], progress and change detection in [`changes`].
mod changes;
mod images;

use serde_json::{Value, json};

use super::*;

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

fn fetched_at() -> DateTime<Utc> {
    at("2026-11-29T12:00:00Z")
}

/// A body as Spotify sends it, through the same parser as the client's.
fn normalise(payload: &Value) -> Option<NowPlaying> {
    let body = payload.to_string();
    let answer: CurrentlyPlaying = types::from_json(body.as_bytes()).unwrap();
    NowPlaying::from_spotify(answer, fetched_at())
}

fn item_of(payload: &Value) -> Item {
    normalise(payload).unwrap().item.unwrap()
}

fn images(widths: &[u32]) -> Value {
    widths
        .iter()
        .map(|w| json!({"url": format!("https://i.scdn.co/image/w{w}"), "width": w, "height": w}))
        .collect()
}

fn track() -> Value {
    json!({
        "timestamp": 1_764_385_200_000_u64,
        "context": null,
        "progress_ms": 42_000,
        "is_playing": true,
        "currently_playing_type": "track",
        "item": {
            "type": "track",
            "id": "2VEZx7NWsZ1D0eJ4uv5Fym",
            "name": "Digital Love",
            "artists": [{"name": "Daft Punk"}, {"name": "Todd Edwards"}],
            "album": {"name": "Discovery", "images": images(&[640, 300, 64])},
            "external_urls": {"spotify": "https://open.spotify.com/track/2VEZx7NWsZ1D0eJ4uv5Fym"},
            "duration_ms": 301_000,
            "explicit": true,
            "is_local": false,
            "popularity": 71
        }
    })
}

fn episode() -> Value {
    json!({
        "progress_ms": 3_636_145,
        "is_playing": true,
        "currently_playing_type": "episode",
        "item": {
            "type": "episode",
            "name": "The Giant Beastcast: Episode 0",
            "images": [
                {"url": "https://i.scdn.co/image/e580", "width": 580, "height": 327},
                {"url": "https://i.scdn.co/image/e300", "width": 300, "height": 169}
            ],
            "show": {
                "name": "The Giant Beastcast",
                "publisher": "Giant Bomb",
                "images": [{"url": "https://i.scdn.co/image/s640", "width": 640, "height": 640}]
            },
            "external_urls": {"spotify": "https://open.spotify.com/episode/4GI3dxEafwap1sFiTGPKd1"},
            "duration_ms": 8_052_140,
            "explicit": false
        }
    })
}

fn with(mut payload: Value, change: impl FnOnce(&mut Value)) -> Value {
    change(&mut payload);
    payload
}

#[test]
fn a_playing_track_is_normalised() {
    let doc = normalise(&track()).unwrap();
    assert_eq!(doc.state, State::Playing);
    assert!(doc.is_playing && !doc.stale);
    assert_eq!(doc.playing_type, Some(PlayingType::Track));
    assert_eq!(doc.progress_ms, Some(42_000));
    // Spotify's `timestamp` is when playback last changed; ours is when we measured.
    assert_eq!(doc.timestamp, Some(fetched_at()));
    assert_eq!(doc.fetched_at, fetched_at());
    assert_eq!(doc.played_at, None);
    assert_eq!(
        doc.item.unwrap(),
        Item {
            kind: ItemKind::Track,
            title: "Digital Love".into(),
            artists: vec!["Daft Punk".into(), "Todd Edwards".into()],
            album: Some("Discovery".into()),
            url: Some("https://open.spotify.com/track/2VEZx7NWsZ1D0eJ4uv5Fym".into()),
            image_url: Some("https://i.scdn.co/image/w300".into()),
            duration_ms: Some(301_000),
            explicit: true,
            is_local: false,
        }
    );
}

#[test]
fn a_paused_track_is_paused_with_its_item() {
    let doc = normalise(&with(track(), |v| v["is_playing"] = json!(false))).unwrap();
    assert_eq!(doc.state, State::Paused);
    assert!(!doc.is_playing);
    assert_eq!(doc.item.unwrap().title, "Digital Love");
}

#[test]
fn an_item_without_a_type_is_a_track_and_gives_the_playing_type() {
    let payload = with(track(), |v| {
        v["item"].as_object_mut().unwrap().remove("type");
        v.as_object_mut().unwrap().remove("currently_playing_type");
    });
    let doc = normalise(&payload).unwrap();
    assert_eq!(doc.item.unwrap().kind, ItemKind::Track);
    assert_eq!(doc.playing_type, Some(PlayingType::Track));
}

#[test]
fn an_episode_shows_its_show_and_publisher() {
    let doc = normalise(&episode()).unwrap();
    assert_eq!(doc.playing_type, Some(PlayingType::Episode));
    let item = doc.item.unwrap();
    assert_eq!(item.kind, ItemKind::Episode);
    assert_eq!(item.title, "The Giant Beastcast: Episode 0");
    assert_eq!(item.artists, ["The Giant Beastcast", "Giant Bomb"]);
    assert_eq!(item.album.as_deref(), Some("The Giant Beastcast"));
    assert_eq!(
        item.image_url.as_deref(),
        Some("https://i.scdn.co/image/e300")
    );
    assert_eq!(item.duration_ms, Some(8_052_140));
    assert!(!item.is_local);
}

#[test]
fn an_episode_by_its_own_show_names_it_once() {
    let item = item_of(&with(episode(), |v| {
        v["item"]["show"]["publisher"] = json!("The Giant Beastcast")
    }));
    assert_eq!(item.artists, ["The Giant Beastcast"]);
}

#[test]
fn an_episode_without_images_takes_its_shows() {
    let item = item_of(&with(episode(), |v| v["item"]["images"] = json!([])));
    assert_eq!(
        item.image_url.as_deref(),
        Some("https://i.scdn.co/image/s640")
    );
    let item = item_of(&with(episode(), |v| v["item"]["images"] = json!(null)));
    assert_eq!(
        item.image_url.as_deref(),
        Some("https://i.scdn.co/image/s640")
    );
}

#[test]
fn a_local_file_keeps_its_text_but_no_link_or_art() {
    // As Spotify sends it: no id, no link, nulls in the album; an https link or art on a
    // local file would not be the owner's file either, so both are dropped.
    let payload = json!({
        "progress_ms": 2270,
        "is_playing": true,
        "currently_playing_type": "track",
        "item": {
            "type": "track",
            "id": null,
            "name": "929",
            "artists": [{"name": "Halsey", "id": null}],
            "album": {"name": "Manic (Deluxe)", "images": images(&[300]), "id": null},
            "external_urls": {"spotify": "https://open.spotify.com/track/x"},
            "duration_ms": 174_000,
            "is_local": true,
            "uri": "spotify:local:Halsey:Manic+%28Deluxe%29:929:174"
        }
    });
    let item = item_of(&payload);
    assert!(item.is_local);
    assert_eq!(item.kind, ItemKind::Track);
    assert_eq!(item.title, "929");
    assert_eq!(item.artists, ["Halsey"]);
    assert_eq!(item.album.as_deref(), Some("Manic (Deluxe)"));
    assert_eq!((item.url, item.image_url), (None, None));
}

#[test]
fn an_ad_plays_without_an_item() {
    let doc = normalise(&json!({
        "progress_ms": 14_544,
        "is_playing": true,
        "currently_playing_type": "ad",
        "item": null
    }))
    .unwrap();
    assert_eq!(doc.state, State::Playing);
    assert_eq!(doc.playing_type, Some(PlayingType::Ad));
    assert_eq!(doc.item, None);
}

#[test]
fn an_unknown_type_plays_something_not_shown() {
    for kind in ["unknown", "audiobook"] {
        let doc = normalise(&json!({
            "progress_ms": 0,
            "is_playing": true,
            "currently_playing_type": kind,
            "item": null
        }))
        .unwrap();
        assert_eq!(doc.playing_type, Some(PlayingType::Unknown), "{kind}");
        assert_eq!(doc.item, None);
    }
}

#[test]
fn an_item_of_an_unknown_type_is_not_shown() {
    let payload = with(track(), |v| {
        v["currently_playing_type"] = json!("chapter");
        v["item"]["type"] = json!("chapter");
    });
    let doc = normalise(&payload).unwrap();
    assert_eq!(doc.playing_type, Some(PlayingType::Unknown));
    assert_eq!(doc.item, None);
    // Announced as a track but shaped as something else: nothing known plays.
    let payload = with(track(), |v| v["item"]["type"] = json!("chapter"));
    assert_eq!(normalise(&payload), None);
}

#[test]
fn nothing_playing_is_none() {
    for payload in [
        json!({}),
        json!({"is_playing": false, "item": null, "currently_playing_type": "track"}),
        json!({"is_playing": true, "item": null, "progress_ms": null}),
        json!({"is_playing": null, "item": null, "currently_playing_type": null}),
    ] {
        assert_eq!(normalise(&payload), None, "{payload}");
    }
}

#[test]
fn hostile_and_long_text_is_cleaned_and_bounded_but_not_escaped() {
    let hostile = "</title><script>alert(1)</script><img src=x onerror=alert(2)>";
    let payload = with(track(), |v| {
        v["item"]["name"] = json!(format!("{hostile}\n\u{0}{}", "x".repeat(600)));
        v["item"]["artists"] = json!([{"name": " "}, {"name": null}, {"name": "A\u{7}B"}]);
        v["item"]["album"]["name"] = json!("\t");
    });
    let item = item_of(&payload);
    // Escaping is the renderers' job; the model keeps the text as it is.
    assert!(item.title.starts_with(hostile), "{}", item.title);
    assert!(!item.title.contains(['\n', '\0']));
    assert_eq!(item.title.chars().count(), MAX_TEXT);
    assert_eq!(item.artists, ["A B"]);
    assert_eq!(item.album, None);
}

#[test]
fn an_item_without_a_name_has_an_empty_title() {
    let item = item_of(&with(track(), |v| v["item"]["name"] = json!(null)));
    assert_eq!(item.title, "");
}

#[test]
fn clean_removes_what_xml_forbids_and_keeps_the_rest() {
    let dirty = "a\u{0}b\u{1f}c\td\ne\u{FFFE}f\u{FFFF}g\u{7f}h \u{1F600} 東京 <&>";
    assert_eq!(clean(dirty), "a b c d e f g h \u{1F600} 東京 <&>");
}

#[test]
fn clean_trims_and_bounds_length() {
    assert_eq!(clean("  title \u{0} "), "title");
    assert_eq!(clean(&"x".repeat(MAX_TEXT + 50)).chars().count(), MAX_TEXT);
}
