//! The routes this service serves (README: Routes), and their parameters.

use crate::helpers::*;
use crate::spotify_mock::*;

#[tokio::test]
async fn open_redirects_to_the_spotify_page_of_the_current_track() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;

    let response = app.get("/now-playing/open").await;
    assert_eq!(response.status().as_u16(), 302);
    assert_eq!(
        response.headers()["location"],
        "https://open.spotify.com/track/2VEZx7NWsZ1D0eJ4uv5Fym"
    );
}

#[tokio::test]
async fn open_is_404_json_when_there_is_nothing_to_open() {
    let app = spawn_app_with(|c| c.show_recent = false).await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, LOCAL, 1).await;

    let (status, body) = app.get_json("/now-playing/open").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "nothing_to_open");
}

#[tokio::test]
async fn healthz_never_calls_spotify() {
    let app = spawn_app().await;
    on_token(&app.spotify).respond(json(TOKEN)).await;
    mount_playing(&app.spotify, TRACK, 0).await;

    for _ in 0..3 {
        let (status, body) = app.get_text("/healthz").await;
        assert_eq!((status, body.as_str()), (200, "ok"));
        app.advance(60);
    }
}

#[tokio::test]
async fn static_files_are_compiled_in_and_long_cached() {
    let app = spawn_app().await;
    for (file, kind) in [
        ("widget.css", "text/css"),
        ("embed.js", "text/javascript"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let response = app.get(&format!("/static/{file}")).await;
        assert_eq!(response.status().as_u16(), 200, "{file}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert!(!response.bytes().await.unwrap().is_empty());
    }
    assert_eq!(
        app.get("/static/%2e%2e/Cargo.toml").await.status().as_u16(),
        404
    );
    assert_eq!(app.get("/static/nope.js").await.status().as_u16(), 404);
}

#[tokio::test]
async fn a_bad_widget_parameter_is_a_400_naming_it_and_its_allowed_values() {
    let app = spawn_app().await;
    let cases = [
        ("theme=neon", "theme", "auto, light, dark"),
        ("layout=grid", "layout", "card, compact"),
        ("art=maybe", "art", "true, false"),
        ("progress=2", "progress", "true, false"),
        ("recent=perhaps", "recent", "true, false"),
        ("accent=red", "accent", "RRGGBB"),
        ("accent=%3Cscript%3E", "accent", "RRGGBB"),
        ("bg=blue", "bg", "transparent, theme"),
    ];
    for route in ["/embed", "/now-playing.html"] {
        for (query, name, allowed) in cases {
            let (status, body) = app.get_json(&format!("{route}?{query}")).await;
            assert_eq!(status, 400, "{route}?{query}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(&format!("`{name}`")) && message.contains(allowed),
                "{message}"
            );
            assert!(!message.contains('<'), "the value is not echoed back");
        }
    }
    assert_eq!(
        app.calls_to(CURRENTLY_PLAYING).await,
        0,
        "a bad request never reaches Spotify"
    );
}

#[tokio::test]
async fn good_widget_parameters_shape_the_widget() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;

    let (status, html) = app.get_text("/now-playing.html?theme=dark&layout=compact&art=false&progress=false&accent=%23FF8800&bg=transparent&unknown=ignored").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("np-theme-dark")
            && html.contains("np-layout-compact")
            && html.contains("np-bg-transparent")
    );
    assert!(html.contains("--np-accent:#ff8800"));
    assert!(!html.contains(r#"class="np-art""#) && !html.contains("<progress"));

    let (_, html) = app.get_text("/now-playing.html").await;
    assert!(
        html.contains("np-theme-auto")
            && html.contains(r#"class="np-art""#)
            && html.contains("<progress")
    );
    assert!(html.contains(
        r#"<img src="https://i.scdn.co/image/ab67616d00001e02da5d5aeeabacacc1263c0f4b""#
    ));
    assert!(html.contains(r#"target="_blank" rel="noopener noreferrer""#));
    assert!(
        html.contains("np-eq"),
        "the equaliser is there while playing"
    );
    assert!(!html.starts_with("<!doctype"), "a fragment, not a page");
}

#[tokio::test]
async fn recent_false_hides_the_last_played_track() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, "", 1).await;
    mount_recent(&app.spotify, json(RECENT), 1).await;

    let (_, shown) = app.get_text("/now-playing.html").await;
    let (_, hidden) = app.get_text("/now-playing.html?recent=false").await;
    assert!(shown.contains("Solitary Daze"));
    assert!(!hidden.contains("Solitary Daze") && hidden.contains("Not playing"));
}

#[tokio::test]
async fn the_embed_page_works_without_javascript() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, EPISODE, 1).await;

    let (status, html) = app.get_text("/embed").await;
    assert_eq!(status, 200);
    assert!(html.starts_with("<!doctype html>"));
    assert!(
        html.contains("The Giant Beastcast: Episode 0"),
        "the state is in the server-rendered page"
    );
    assert!(
        html.contains(r#"<script src="/static/embed.js?v="#) && html.contains(" defer></script>")
    );
    assert!(html.contains(r#"<link rel="stylesheet" href="/static/widget.css?v="#));
    assert!(html.contains(r#"data-ttl="10""#));
    assert!(!html.contains("<script>"), "no inline script");
}

#[tokio::test]
async fn widget_routes_answer_only_get_and_head() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;

    for route in [
        "/now-playing",
        "/now-playing.html",
        "/embed",
        "/now-playing/open",
        "/healthz",
    ] {
        for verb in [
            reqwest::Method::POST,
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
            reqwest::Method::PATCH,
        ] {
            let status = app
                .http
                .request(verb.clone(), app.url(route))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status.as_u16(), 405, "{verb} {route}");
        }
        let head = app.http.head(app.url(route)).send().await.unwrap();
        assert!(
            head.status().is_success() || head.status().as_u16() == 302,
            "HEAD {route}"
        );
        assert!(head.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let app = spawn_app().await;
    assert_eq!(app.get("/wp-admin").await.status().as_u16(), 404);
}
