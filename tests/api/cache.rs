//! One shared cache: at most one `currently-playing` call per CACHE_TTL, whatever the traffic.

use crate::helpers::*;
use crate::spotify_mock::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_concurrent_first_requests_make_one_token_and_one_spotify_call() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;

    let requests = (0..500).map(|_| {
        let http = app.http.clone();
        let url = app.url("/now-playing");
        tokio::spawn(async move { http.get(url).send().await.map(|r| r.status().as_u16()) })
    });
    let statuses = futures_util::future::join_all(requests).await;

    assert_eq!(statuses.len(), 500);
    assert!(statuses.into_iter().all(|s| matches!(s, Ok(Ok(200)))));
    assert_eq!(app.calls_to(CURRENTLY_PLAYING).await, 1);
    assert_eq!(app.calls_to(TOKEN_PATH).await, 1);
}

#[tokio::test]
async fn second_viewer_within_ttl_is_served_from_cache() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;

    let (_, first) = app.get_json("/now-playing").await;
    app.advance(9);
    let (_, second) = app.get_json("/now-playing").await;

    assert_eq!(first, second);
    assert_eq!(app.calls_to(CURRENTLY_PLAYING).await, 1);
}

#[tokio::test]
async fn a_request_after_the_ttl_makes_exactly_one_new_call() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 2).await;

    app.get("/now-playing").await;
    app.advance(10);
    for _ in 0..5 {
        app.get("/now-playing").await;
    }
    app.refresh_landed().await;
    assert_eq!(app.calls_to(CURRENTLY_PLAYING).await, 2);
}

#[tokio::test]
async fn every_route_reads_the_same_cached_state() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;

    for path in [
        "/now-playing",
        "/now-playing.html",
        "/embed",
        "/embed?theme=dark",
        "/now-playing/open",
        "/now-playing.html?layout=compact",
    ] {
        let status = app.get(path).await.status().as_u16();
        assert!(status == 200 || status == 302, "{path} answered {status}");
    }
    assert_eq!(app.calls_to(CURRENTLY_PLAYING).await, 1);
}

#[tokio::test]
async fn the_ttl_is_the_configured_one() {
    let app = spawn_app_with(|c| c.cache_ttl = std::time::Duration::from_secs(30)).await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 2).await;

    app.get("/now-playing").await;
    app.advance(29);
    app.get("/now-playing").await;
    assert_eq!(app.calls_to(CURRENTLY_PLAYING).await, 1);
    app.advance(1);
    app.get("/now-playing").await;
    app.refresh_landed().await;
    assert_eq!(app.calls_to(CURRENTLY_PLAYING).await, 2);
}
