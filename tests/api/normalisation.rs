//! Spotify's shapes into the JSON document of `/now-playing` (README: The JSON document),
//! exactly.

use serde_json::{Value, json as j};
use wiremock::ResponseTemplate;

use crate::helpers::*;
use crate::spotify_mock::*;

async fn document_for(body: &str) -> Value {
    let app = spawn_app_with(|c| c.show_recent = false).await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, body, 1).await;
    let (status, doc) = app.get_json("/now-playing").await;
    assert_eq!(status, 200);
    doc
}

#[tokio::test]
async fn a_playing_track_is_the_whole_document() {
    let doc = document_for(TRACK).await;
    assert_eq!(
        doc,
        j!({
            "state": "playing",
            "is_playing": true,
            "playing_type": "track",
            "item": {
                "kind": "track",
                "title": "Digital Love",
                "artists": ["Daft Punk", "Todd Edwards"],
                "album": "Discovery",
                "url": "https://open.spotify.com/track/2VEZx7NWsZ1D0eJ4uv5Fym",
                "image_url": "https://i.scdn.co/image/ab67616d00001e02da5d5aeeabacacc1263c0f4b",
                "duration_ms": 301000,
                "explicit": false,
                "is_local": false
            },
            "progress_ms": 42000,
            "timestamp": "2026-11-29T03:00:00.000Z",
            "played_at": null,
            "fetched_at": "2026-11-29T03:00:00.000Z",
            "stale": false
        })
    );
}

#[tokio::test]
async fn a_paused_track_is_paused() {
    let doc = document_for(&track_with(|v| v["is_playing"] = j!(false))).await;
    assert_eq!(doc["state"], "paused");
    assert_eq!(doc["is_playing"], false);
    assert_eq!(doc["item"]["title"], "Digital Love");
}

#[tokio::test]
async fn an_episode_shows_the_show_and_publisher() {
    let doc = document_for(EPISODE).await;
    assert_eq!(doc["playing_type"], "episode");
    assert_eq!(doc["item"]["kind"], "episode");
    assert_eq!(doc["item"]["title"], "The Giant Beastcast: Episode 0");
    assert_eq!(
        doc["item"]["artists"],
        j!(["The Giant Beastcast", "Giant Bomb"])
    );
    assert_eq!(doc["item"]["album"], "The Giant Beastcast");
    assert_eq!(
        doc["item"]["url"],
        "https://open.spotify.com/episode/4GI3dxEafwap1sFiTGPKd1"
    );
    assert_eq!(
        doc["item"]["image_url"],
        "https://i.scdn.co/image/156b88e30fbeb1864e75401b619e53238e252dd5"
    );
}

#[tokio::test]
async fn an_episode_without_publisher_shows_the_show_alone() {
    let mut value: Value = serde_json::from_str(EPISODE).unwrap();
    value["item"]["show"]
        .as_object_mut()
        .unwrap()
        .remove("publisher");
    let doc = document_for(&value.to_string()).await;
    assert_eq!(doc["item"]["artists"], j!(["The Giant Beastcast"]));
}

#[tokio::test]
async fn a_local_file_has_no_url_and_no_image() {
    let doc = document_for(LOCAL).await;
    assert_eq!(doc["state"], "playing");
    assert_eq!(doc["item"]["title"], "929");
    assert_eq!(doc["item"]["artists"], j!(["Halsey"]));
    assert_eq!(doc["item"]["album"], "Manic (Deluxe)");
    assert_eq!(doc["item"]["is_local"], true);
    assert_eq!(doc["item"]["url"], Value::Null);
    assert_eq!(doc["item"]["image_url"], Value::Null);
}

#[tokio::test]
async fn an_ad_plays_with_no_item() {
    let doc = document_for(AD).await;
    assert_eq!(doc["state"], "playing");
    assert_eq!(doc["playing_type"], "ad");
    assert_eq!(doc["item"], Value::Null);
}

#[tokio::test]
async fn an_unknown_item_plays_with_no_item() {
    let doc = document_for(UNKNOWN).await;
    assert_eq!(doc["state"], "playing");
    assert_eq!(doc["playing_type"], "unknown");
    assert_eq!(doc["item"], Value::Null);
}

#[tokio::test]
async fn urls_off_spotify_or_not_https_are_dropped() {
    let body = track_with(|v| {
        v["item"]["external_urls"]["spotify"] = j!("http://open.spotify.com/track/x");
        v["item"]["album"]["images"] = j!([
            { "url": "https://evil.example/i.png", "width": 300, "height": 300 },
            { "url": "https://i.scdn.co.evil.example/i.png", "width": 300, "height": 300 },
            { "url": "javascript:alert(1)", "width": 300, "height": 300 }
        ]);
    });
    let doc = document_for(&body).await;
    assert_eq!(doc["item"]["url"], Value::Null);
    assert_eq!(doc["item"]["image_url"], Value::Null);

    let body = track_with(|v| {
        v["item"]["external_urls"]["spotify"] = j!("https://open.spotify.com.evil.example/track/x")
    });
    assert_eq!(document_for(&body).await["item"]["url"], Value::Null);
}

#[tokio::test]
async fn the_image_closest_to_300_px_is_chosen() {
    let body = track_with(|v| {
        v["item"]["album"]["images"] = j!([
            { "url": "https://i.scdn.co/image/big", "width": 640, "height": 640 },
            { "url": "https://i.scdn.co/image/small", "width": 64, "height": 64 },
            { "url": "https://i.scdn.co/image/near", "width": 320, "height": 320 }
        ]);
    });
    assert_eq!(
        document_for(&body).await["item"]["image_url"],
        "https://i.scdn.co/image/near"
    );
}

#[tokio::test]
async fn nothing_playing_shows_the_last_played_track_as_recent() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, "", 1).await;
    mount_recent(&app.spotify, json(RECENT), 1).await;

    let (status, doc) = app.get_json("/now-playing").await;
    assert_eq!(status, 200);
    assert_eq!(doc["state"], "recent");
    assert_eq!(doc["is_playing"], false);
    assert_eq!(doc["playing_type"], Value::Null);
    assert_eq!(doc["played_at"], "2026-11-29T01:00:00.000Z");
    assert_eq!(doc["item"]["title"], "Solitary Daze");
    assert_eq!(doc["item"]["artists"], j!(["Maceo Plex", "Gabriel Ananda"]));
    let (_, html) = app.get_text("/now-playing.html").await;
    assert!(html.contains("Last played · 2 h ago"), "{html}");
}

#[tokio::test]
async fn recently_played_is_asked_at_most_once_a_minute() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, "", 7).await;
    mount_recent(&app.spotify, json(RECENT), 2).await;

    for _ in 0..6 {
        assert_eq!(app.get_json("/now-playing").await.1["state"], "recent");
        app.refresh_landed().await;
        app.advance(10);
    }
    assert_eq!(app.calls_to(RECENTLY_PLAYED).await, 1);
    app.get("/now-playing").await;
    app.refresh_landed().await;
    assert_eq!(
        app.calls_to(RECENTLY_PLAYED).await,
        2,
        "asked again after 60 s"
    );
}

#[tokio::test]
async fn recently_played_without_the_scope_gives_idle() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, "", 1).await;
    mount_recent(&app.spotify, ResponseTemplate::new(403), 1).await;

    let (status, doc) = app.get_json("/now-playing").await;
    assert_eq!(status, 200);
    assert_eq!(doc["state"], "idle");
    assert_eq!(doc["item"], Value::Null);
}

#[tokio::test]
async fn show_recent_off_never_asks_for_recently_played() {
    let app = spawn_app_with(|c| c.show_recent = false).await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, "", 1).await;
    mount_recent(&app.spotify, json(RECENT), 0).await;

    assert_eq!(app.get_json("/now-playing").await.1["state"], "idle");
}

#[tokio::test]
async fn a_paused_state_with_nothing_loaded_is_nothing_playing() {
    let body = track_with(|v| {
        v["item"] = Value::Null;
        v["is_playing"] = j!(false);
    });
    assert_eq!(document_for(&body).await["state"], "idle");
}
