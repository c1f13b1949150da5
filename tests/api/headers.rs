//! Caching, validators, content security and CORS headers of the routes (README: Routes).

use crate::helpers::*;
use crate::spotify_mock::*;

#[tokio::test]
async fn widget_routes_are_cacheable_for_the_ttl() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;

    for route in ["/now-playing", "/now-playing.html", "/embed"] {
        let response = app.get(route).await;
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=10, stale-while-revalidate=10",
            "{route}"
        );
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{route}"
        );
        let etag = response.headers()["etag"].to_str().unwrap();
        assert!(
            etag.starts_with('"') && !etag.starts_with("W/"),
            "strong etag on {route}"
        );
    }
}

#[tokio::test]
async fn a_matching_if_none_match_gets_304_without_a_body() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;

    for route in ["/now-playing", "/now-playing.html", "/embed?theme=dark"] {
        let first = app.get(route).await;
        let etag = first.headers()["etag"].clone();
        let again = app
            .http
            .get(app.url(route))
            .header("if-none-match", etag.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(again.status().as_u16(), 304, "{route}");
        assert_eq!(again.headers()["etag"], etag);
        assert!(again.bytes().await.unwrap().is_empty());

        let other = app
            .http
            .get(app.url(route))
            .header("if-none-match", "\"something-else\"")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status().as_u16(), 200);
    }
}

#[tokio::test]
async fn the_etag_changes_with_the_state() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    on_playing(&app.spotify)
        .respond(json(TRACK))
        .up_to_n_times(1)
        .await;
    mount_playing(&app.spotify, EPISODE, 1).await;

    let first = app.get("/now-playing").await.headers()["etag"].clone();
    app.advance(10);
    let meanwhile = app.get("/now-playing").await.headers()["etag"].clone();
    assert_eq!(
        first, meanwhile,
        "answered from the old state while it is fetched"
    );
    app.refresh_landed().await;
    let second = app.get("/now-playing").await.headers()["etag"].clone();
    assert_ne!(first, second);
}

#[tokio::test]
async fn html_has_a_strict_content_security_policy() {
    let app =
        spawn_app_with(|c| c.frame_ancestors = "'self' https://blog.example.com".into()).await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;

    let embed = app.get("/embed").await;
    let csp = embed.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(
        csp.ends_with("frame-ancestors 'self' https://blog.example.com"),
        "{csp}"
    );

    let fragment = app.get("/now-playing.html").await;
    let csp = fragment.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(
        csp.starts_with("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
}

#[tokio::test]
async fn an_accent_style_is_allowed_by_its_hash_only() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;

    let response = app.get("/embed?accent=ff0066").await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = response.text().await.unwrap();
    let style = ".np{--np-accent:#ff0066}";
    assert!(html.contains(&format!("<style>{style}</style>")));
    assert!(csp.contains(&now_playing::render::csp_hash(style)), "{csp}");
}

#[tokio::test]
async fn cors_allows_the_configured_origins_on_json_and_fragment() {
    let app = spawn_app_with(|c| {
        c.cors_allow_origins =
            now_playing::config::AllowedOrigins::List(vec!["https://blog.example.com".into()])
    })
    .await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;

    for route in ["/now-playing", "/now-playing.html"] {
        let allowed = app
            .http
            .get(app.url(route))
            .header("origin", "https://blog.example.com")
            .send()
            .await
            .unwrap();
        assert_eq!(
            allowed.headers()["access-control-allow-origin"],
            "https://blog.example.com"
        );
        let other = app
            .http
            .get(app.url(route))
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert!(other.headers().get("access-control-allow-origin").is_none());

        let preflight = app
            .http
            .request(reqwest::Method::OPTIONS, app.url(route))
            .header("origin", "https://blog.example.com")
            .header("access-control-request-method", "GET")
            .send()
            .await
            .unwrap();
        assert!(preflight.status().is_success(), "preflight on {route}");
        assert_eq!(
            preflight.headers()["access-control-allow-origin"],
            "https://blog.example.com"
        );
        assert!(
            preflight.headers()["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains("GET")
        );
    }
}

#[tokio::test]
async fn cors_star_by_default() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;
    let response = app
        .http
        .get(app.url("/now-playing"))
        .header("origin", "https://anyone.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn responses_are_compressed_when_the_client_accepts_it() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;
    // Compressed once asked for a second time, in the background.
    app.get("/embed").await;
    app.get("/embed").await;
    app.state.render_budget.compressions_done().await;
    let response = app
        .http
        .get(app.url("/embed"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let response = app
        .http
        .get(app.url("/static/widget.css"))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "br");
}

#[tokio::test]
async fn an_error_is_never_cached_nor_answered_with_304() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    on_playing(&app.spotify)
        .respond(json_status(429, ERROR_429).insert_header("retry-after", "60"))
        .await;
    let first = app.get("/now-playing").await;
    assert_eq!(first.status().as_u16(), 503);
    assert_eq!(first.headers()["cache-control"], "no-store");
    let etag = first.headers()["etag"].clone();
    let again = app
        .http
        .get(app.url("/now-playing"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 503);
}
