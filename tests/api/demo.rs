//! Demo mode: no credentials, cycling sample states, marked as demo.

use std::time::Duration;

use crate::helpers::*;
use crate::spotify_mock::*;

#[tokio::test]
async fn demo_cycles_through_every_kind_of_state() {
    let app = spawn_demo().await;
    let mut seen = Vec::new();
    for _ in 0..6 {
        let (status, doc) = app.get_json("/now-playing").await;
        assert_eq!(status, 200);
        let item = &doc["item"];
        seen.push(
            match (doc["state"].as_str().unwrap(), doc["playing_type"].as_str()) {
                ("playing", Some("episode")) => "episode".to_owned(),
                ("playing", Some("ad")) => "ad".to_owned(),
                ("playing", _) if item["is_local"] == true => "local".to_owned(),
                (state, _) => state.to_owned(),
            },
        );
        app.clock.advance(Duration::from_secs(15));
    }
    assert_eq!(
        seen,
        ["playing", "paused", "episode", "local", "ad", "recent"]
    );
    assert!(
        app.spotify.received_requests().await.unwrap().is_empty(),
        "demo never calls Spotify"
    );
}

#[tokio::test]
async fn demo_is_marked_in_the_widget() {
    let app = spawn_demo().await;
    let (status, html) = app.get_text("/embed").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"<span class="np-demo""#) && html.contains(">demo</span>"));
    assert!(html.contains("Digital Love"));
}

#[tokio::test]
async fn a_spotify_server_has_no_demo_mark() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;
    let (_, html) = app.get_text("/embed").await;
    assert!(!html.contains("np-demo"));
}
