//! `/metrics`: the counters move with the traffic that should move them, and nothing else.

use wiremock::ResponseTemplate;

use crate::helpers::*;
use crate::spotify_mock::*;

/// The value of one series, `0` when it is absent.
async fn metric(app: &TestApp, series: &str) -> f64 {
    let (status, text) = app.get_text("/metrics").await;
    assert_eq!(status, 200);
    text.lines()
        .find_map(|line| {
            line.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

#[tokio::test]
async fn requests_are_counted_by_route_template_and_status() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;
    for _ in 0..3 {
        app.get("/now-playing").await;
    }
    app.get("/static/widget.css").await;
    app.get("/static/nope.js").await;
    app.get("/wp-login.php").await;

    assert_eq!(
        metric(
            &app,
            r#"now_playing_http_requests_total{route="/now-playing",status="200"}"#
        )
        .await,
        3.0
    );
    assert_eq!(
        metric(
            &app,
            r#"now_playing_http_requests_total{route="/static/{*path}",status="200"}"#
        )
        .await,
        1.0
    );
    assert_eq!(
        metric(
            &app,
            r#"now_playing_http_requests_total{route="/static/{*path}",status="404"}"#
        )
        .await,
        1.0
    );
    assert_eq!(
        metric(
            &app,
            r#"now_playing_http_requests_total{route="unmatched",status="404"}"#
        )
        .await,
        1.0,
        "raw paths never become labels"
    );
    assert_eq!(
        metric(
            &app,
            r#"now_playing_http_request_duration_seconds_count{route="/now-playing"}"#
        )
        .await,
        3.0
    );
}

#[tokio::test]
async fn spotify_calls_cache_lookups_and_refreshes_are_counted() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 2).await;
    on_playing(&app.spotify)
        .respond(json_status(401, ERROR_401))
        .up_to_n_times(1)
        .await;
    mount_playing(&app.spotify, TRACK, 2).await;

    for _ in 0..4 {
        app.get("/now-playing").await;
    }
    app.advance(10);
    app.get("/now-playing.html").await;
    app.refresh_landed().await;

    assert_eq!(
        metric(
            &app,
            r#"now_playing_spotify_calls_total{endpoint="token",outcome="ok"}"#
        )
        .await,
        2.0
    );
    assert_eq!(
        metric(
            &app,
            r#"now_playing_spotify_calls_total{endpoint="currently_playing",outcome="status"}"#
        )
        .await,
        1.0,
        "the 401"
    );
    assert_eq!(
        metric(
            &app,
            r#"now_playing_spotify_calls_total{endpoint="currently_playing",outcome="ok"}"#
        )
        .await,
        2.0
    );
    assert_eq!(metric(&app, "now_playing_token_refreshes_total").await, 2.0);
    assert_eq!(
        metric(&app, r#"now_playing_cache_lookups_total{result="miss"}"#).await,
        2.0
    );
    assert_eq!(
        metric(&app, r#"now_playing_cache_lookups_total{result="hit"}"#).await,
        3.0
    );
}

#[tokio::test]
async fn cover_art_fetches_are_counted_as_image_calls() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;
    let jpeg = ResponseTemplate::new(200).set_body_raw(vec![0xff, 0xd8, 0xff, 0xd9], "image/jpeg");
    on_image(
        &app.spotify,
        "/image/ab67616d00001e02da5d5aeeabacacc1263c0f4b",
    )
    .respond(jpeg)
    .expect(1)
    .await;
    app.get("/now-playing.svg").await;
    app.get("/now-playing.svg?theme=dark").await;
    assert_eq!(
        metric(
            &app,
            r#"now_playing_spotify_calls_total{endpoint="image",outcome="ok"}"#
        )
        .await,
        1.0
    );
}

#[tokio::test]
async fn open_event_streams_are_a_gauge() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;
    let mut first = EventReader::connect(&app).await;
    first.next().await.unwrap();
    let mut second = EventReader::connect(&app).await;
    second.next().await.unwrap();
    assert_eq!(metric(&app, "now_playing_event_clients").await, 2.0);
    drop(first);
    drop(second);
    eventually("the gauge falls to 0", || async {
        metric(&app, "now_playing_event_clients").await == 0.0
    })
    .await;
}

#[tokio::test]
async fn the_refresh_token_expiry_is_exposed_when_known() {
    let obtained: chrono::DateTime<chrono::Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
    let app = spawn_app_with(|c| {
        if let now_playing::config::Source::Spotify(s) = &mut c.source {
            s.refresh_token_obtained_at = Some(obtained);
        }
    })
    .await;
    let expires: chrono::DateTime<chrono::Utc> = "2027-05-01T00:00:00Z".parse().unwrap();
    assert_eq!(
        metric(&app, "now_playing_refresh_token_expiry_timestamp_seconds").await,
        expires.timestamp() as f64
    );

    let unknown = spawn_app().await;
    assert_eq!(
        metric(
            &unknown,
            "now_playing_refresh_token_expiry_timestamp_seconds"
        )
        .await,
        0.0
    );
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let app = spawn_app_with(|c| c.metrics = false).await;
    assert_eq!(app.get("/metrics").await.status().as_u16(), 404);
}
