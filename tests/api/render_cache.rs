//! What one client can make the server keep and compute, whatever parameters it sends: every
//! kept render together within `RENDER_CACHE_MB`, compression only for a representation
//! asked for a second time, and list rows drawn from Spotify's small image.

use now_playing::config::{Config, ServerSettings, Settings, Source, SpotifySettings};
use now_playing::now_playing::lists::{TopKind, TopRange};
use serde_json::Value;

use crate::helpers::*;
use crate::lists::TOP_TRACKS;
use crate::spotify_mock::*;

/// `now_playing_render_cache_bytes` from `/metrics`.
async fn render_cache_bytes(app: &TestApp) -> usize {
    let (_, text) = app.get_text("/metrics").await;
    text.lines()
        .find_map(|line| line.strip_prefix("now_playing_render_cache_bytes "))
        .expect("the gauge is exported")
        .parse()
        .unwrap()
}

#[tokio::test]
async fn unique_accents_keep_every_render_within_render_cache_mb() {
    let app = spawn_app_with(|c| c.render_cache_mb = 1).await;
    mount_token(&app.spotify, 1).await;
    mount_history(&app.spotify, json(crate::lists::HISTORY), 1).await;
    mount_top(
        &app.spotify,
        TopKind::Tracks,
        TopRange::Short,
        json(TOP_TRACKS),
        1,
    )
    .await;
    on_any_image(&app.spotify).respond(jpeg()).await;
    let budget = 1 << 20;
    let mut sent = 0;
    for i in 0..200 {
        let accent = format!("{:06x}", 0x10_0000 + i * 0x3141);
        for path in [
            format!("/top/tracks.svg?limit=50&accent={accent}"),
            format!("/recently-played.html?limit=50&accent={accent}"),
            format!("/embed/recently-played?limit=50&accent={accent}"),
        ] {
            let response = app.get(&path).await;
            assert_eq!(response.status(), 200, "{path}");
            sent += response.bytes().await.unwrap().len();
        }
        assert!(app.state.render_budget.used() <= budget, "after {i}");
    }
    assert!(sent > 2 * budget, "more was rendered than it holds: {sent}");
    let held = render_cache_bytes(&app).await;
    assert!(held <= budget, "{held} bytes kept");
    assert!(
        held > budget / 2,
        "the budget is used, not left empty: {held}"
    );
    // The newest renders are the ones kept: asked again, they are compressed.
    let newest = format!(
        "/top/tracks.svg?limit=50&accent={:06x}",
        0x10_0000 + 199 * 0x3141
    );
    app.get(&newest).await;
    app.state.render_budget.compressions_done().await;
    let response = app
        .http
        .get(app.url(&newest))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "br");
    assert!(app.state.render_budget.used() <= budget);
}

#[tokio::test]
async fn a_representation_is_compressed_from_its_second_request_on() {
    let app = spawn_demo().await;
    let get = |path: &'static str| {
        app.http
            .get(app.url(path))
            .header("accept-encoding", "gzip, deflate, br, zstd")
            .send()
    };
    for path in ["/embed", "/now-playing.svg", "/top/artists.svg?theme=dark"] {
        let first = get(path).await.unwrap();
        assert!(
            !first.headers().contains_key("content-encoding"),
            "{path}: the first request is answered as rendered"
        );
        let identity_etag = first.headers()["etag"].clone();
        let before = app.state.render_budget.used();
        let second = get(path).await.unwrap();
        assert_eq!(second.headers()["etag"], identity_etag, "{path}");
        app.state.render_budget.compressions_done().await;
        let third = get(path).await.unwrap();
        assert_eq!(third.headers()["content-encoding"], "br", "{path}");
        assert_ne!(third.headers()["etag"], identity_etag);
        assert!(
            app.state.render_budget.used() > before,
            "{path}: the compressed forms are counted"
        );
    }
}

/// The path on the image host of `item`'s album image `width` px wide.
fn image_path(item: &Value, width: u64) -> String {
    let url = item["album"]["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["width"] == width)
        .expect("Spotify's sizes")["url"]
        .as_str()
        .unwrap();
    url.strip_prefix("https://i.scdn.co").unwrap().to_owned()
}

#[tokio::test]
async fn list_rows_show_spotify_s_64_px_image() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_top(
        &app.spotify,
        TopKind::Tracks,
        TopRange::Short,
        json(TOP_TRACKS),
        1,
    )
    .await;
    let fixture: Value = serde_json::from_str(TOP_TRACKS).unwrap();
    let items = fixture["items"].as_array().unwrap();
    for item in items {
        on_image(&app.spotify, &image_path(item, 64))
            .respond(jpeg())
            .expect(1)
            .await;
        on_image(&app.spotify, &image_path(item, 300))
            .respond(jpeg())
            .expect(0)
            .await;
    }
    let (status, svg) = app.get_text("/top/tracks.svg?limit=50").await;
    assert_eq!(status, 200);
    assert_eq!(
        svg.matches("data:image/jpeg;base64,").count(),
        items.len(),
        "every row's art is inlined"
    );
    let (_, html) = app.get_text("/top/tracks.html?limit=50").await;
    let (_, doc) = app.get_json("/top/tracks?limit=50").await;
    for (item, entry) in items.iter().zip(doc["items"].as_array().unwrap()) {
        let small = format!("https://i.scdn.co{}", image_path(item, 64));
        let medium = format!("https://i.scdn.co{}", image_path(item, 300));
        assert!(html.contains(&format!("src=\"{small}\"")), "{html}");
        assert!(!html.contains(&medium));
        assert_eq!(
            entry["image_url"],
            medium.as_str(),
            "the JSON's item is the one `/now-playing` shows"
        );
    }
}

#[tokio::test]
async fn render_cache_mb_is_a_setting_from_1_to_4096() {
    let settings = |value: &str| Settings {
        server: ServerSettings {
            render_cache_mb: Some(value.into()),
            ..ServerSettings::default()
        },
        spotify: SpotifySettings::default(),
    };
    assert_eq!(settings("16").resolve(true).unwrap().render_cache_mb, 16);
    assert_eq!(Config::default().render_cache_mb, 64);
    for bad in ["0", "4097", "lots"] {
        let error = settings(bad).resolve(true).unwrap_err().to_string();
        assert!(
            error.contains(&format!("RENDER_CACHE_MB={bad:?}")) && error.contains("1 to 4096"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn what_is_asked_for_again_stays_compressed_while_unique_accents_flood_the_memo() {
    let spotify = wiremock::MockServer::start().await;
    let config = Config {
        source: Source::Demo,
        port: 0,
        render_cache_mb: 1,
        ..Config::default()
    };
    let app = spawn_with_config(spotify, config).await;
    let br = |path: &str| {
        app.http
            .get(app.url(path))
            .header("accept-encoding", "br")
            .send()
    };
    let hot = "/now-playing.svg";
    br(hot).await.unwrap();
    br(hot).await.unwrap();
    app.state.render_budget.compressions_done().await;
    let compressed = br(hot).await.unwrap();
    assert_eq!(compressed.headers()["content-encoding"], "br");
    let etag = compressed.headers()["etag"].clone();
    let mut flooded = 0;
    for i in 0..200 {
        let accent = format!("{:06x}", 0x10_0000 + i * 0x3141);
        for route in [
            "/top/tracks.svg",
            "/recently-played.svg",
            "/embed/top/artists",
        ] {
            let response = br(&format!("{route}?limit=50&accent={accent}"))
                .await
                .unwrap();
            assert!(!response.headers().contains_key("content-encoding"));
            flooded += response.bytes().await.unwrap().len();
        }
        if i % 10 == 9 {
            // Evicted, it would be rendered again and sent as rendered, with the identity's
            // `ETag`, until compressed again.
            let response = br(hot).await.unwrap();
            assert_eq!(response.headers()["etag"], etag, "after {} accents", i + 1);
            assert_eq!(response.headers()["content-encoding"], "br");
        }
    }
    assert!(flooded > 2 << 20, "more than the budget holds: {flooded}");
    assert!(app.state.render_budget.used() <= 1 << 20);
}
