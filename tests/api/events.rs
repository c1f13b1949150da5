//! `/now-playing/events`: the current state at once, then one event per change, polling
//! Spotify only while someone listens.

use std::time::Duration;

use serde_json::json as j;

use crate::helpers::*;
use crate::spotify_mock::*;

/// Moves the clock one TTL on and waits until the poller has asked Spotify `calls` times
/// and the answer has landed.
async fn next_poll(app: &TestApp, calls: usize) {
    app.advance(10);
    eventually("the poller asks Spotify", || async {
        app.calls_to(CURRENTLY_PLAYING).await >= calls
    })
    .await;
    app.refresh_landed().await;
}

#[tokio::test]
async fn the_first_event_is_the_current_state_at_once() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;

    let response = app
        .http
        .get(app.url("/now-playing/events"))
        .header("origin", "https://blog.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let mut events = EventReader::from(response);
    let (name, doc) = events.next().await.unwrap();
    assert_eq!(name, "now-playing");
    assert_eq!(
        doc,
        app.get_json("/now-playing").await.1,
        "the same document as /now-playing"
    );
    assert_eq!(doc["item"]["title"], "Digital Love");
}

#[tokio::test]
async fn a_new_item_sends_one_event_and_an_unchanged_poll_sends_none() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing_once(&app.spotify, TRACK).await;
    mount_playing_once(&app.spotify, &track_with(|v| v["progress_ms"] = j!(52_000))).await;
    mount_playing(&app.spotify, EPISODE, 1).await;

    let mut events = EventReader::connect(&app).await;
    assert_eq!(
        events.next().await.unwrap().1["item"]["title"],
        "Digital Love"
    );
    next_poll(&app, 2).await; // the same track, 10 s further: no event
    next_poll(&app, 3).await; // an episode
    let (_, doc) = events.next().await.unwrap();
    assert_eq!(
        doc["item"]["kind"], "episode",
        "the unchanged poll sent nothing before this"
    );
}

#[tokio::test]
async fn a_seek_and_a_pause_are_changes() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing_once(&app.spotify, TRACK).await; // 42 s
    mount_playing_once(&app.spotify, &track_with(|v| v["progress_ms"] = j!(53_500))).await; // 10 s later, 1.5 s off: not a seek
    mount_playing_once(
        &app.spotify,
        &track_with(|v| v["progress_ms"] = j!(200_000)),
    )
    .await; // a seek
    mount_playing(
        &app.spotify,
        &track_with(|v| {
            v["progress_ms"] = j!(200_000);
            v["is_playing"] = j!(false);
        }),
        1,
    )
    .await;

    let mut events = EventReader::connect(&app).await;
    assert_eq!(events.next().await.unwrap().1["progress_ms"], 42_000);
    next_poll(&app, 2).await;
    next_poll(&app, 3).await;
    let (_, sought) = events.next().await.unwrap();
    assert_eq!(
        sought["progress_ms"], 200_000,
        "the small drift sent nothing"
    );
    next_poll(&app, 4).await;
    let (_, paused) = events.next().await.unwrap();
    assert_eq!(paused["state"], "paused");
}

#[tokio::test]
async fn spotify_is_polled_only_while_someone_listens() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 2).await;

    app.get("/healthz").await;
    for _ in 0..6 {
        app.advance(10);
        tokio::task::yield_now().await;
    }
    assert_eq!(
        app.calls_to(CURRENTLY_PLAYING).await,
        0,
        "no clients, no calls"
    );

    let mut events = EventReader::connect(&app).await;
    events.next().await.unwrap();
    next_poll(&app, 2).await;
    drop(events);
    eventually("the server notices the client left", || async {
        app.state.events.clients() == 0
    })
    .await;
    for _ in 0..6 {
        app.advance(10);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        app.calls_to(CURRENTLY_PLAYING).await,
        2,
        "no calls after the last client left"
    );
}

#[tokio::test]
async fn streams_beyond_max_event_clients_get_503() {
    let app = spawn_app_with(|c| c.max_event_clients = 2).await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;

    let first = EventReader::connect(&app).await;
    let _second = EventReader::connect(&app).await;
    let (status, body) = app.get_json("/now-playing/events").await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "too_many_clients");
    drop(first);
    eventually("a place is free again", || async {
        app.state.events.clients() < 2
    })
    .await;
    let _third = EventReader::connect(&app).await;
}

#[tokio::test]
async fn shutdown_ends_open_streams_at_once() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;

    let mut events = EventReader::connect(&app).await;
    events.next().await.unwrap();
    let took = app.stop().await;
    assert!(
        took < Duration::from_secs(2),
        "an open stream held the shutdown for {took:?}"
    );
    assert!(events.next().await.is_none(), "the stream ended");
}
