//! `/`: a live preview and snippets for this server's own address.

use now_playing::config::Config;

use crate::helpers::*;

#[tokio::test]
async fn the_landing_page_has_a_preview_and_snippets_for_this_host() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status().as_u16(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'")
            && !csp.contains("unsafe-inline")
            && csp.contains("frame-src 'self'"),
        "{csp}"
    );
    let html = response.text().await.unwrap();
    let base = app.url("");
    assert!(
        html.contains(r#"<iframe id="lp-frame" src="/embed""#),
        "{html}"
    );
    assert!(
        html.contains(&format!("&#60;iframe src=&#34;{base}/embed&#34;")),
        "the iframe snippet, escaped for display: {html}"
    );
    assert!(
        html.contains(&format!("fetch(&#34;{base}/now-playing&#34;)")),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "[![Now playing on Spotify]({base}/now-playing.svg)]({base}/now-playing/open)"
        )),
        "{html}"
    );
    assert!(html.contains(r#"<script src="/static/landing.js?v="#));
    assert_eq!(
        app.calls_to(CURRENTLY_PLAYING).await,
        0,
        "the page itself needs no Spotify call"
    );
}

#[tokio::test]
async fn the_picker_shapes_the_preview_and_the_snippets() {
    let app = spawn_app().await;
    let (status, html) = app
        .get_text("/?theme=dark&layout=compact&accent=%23ff5500&bg=theme&art=true&picked=1")
        .await;
    assert_eq!(status, 200);
    let query = "?theme=dark&#38;layout=compact&#38;accent=ff5500&#38;progress=false";
    assert!(
        html.contains(&format!(r#"src="/embed{query}""#)),
        "progress was unticked: {html}"
    );
    assert!(
        html.contains(&format!("/now-playing.svg{query})")),
        "{html}"
    );
    assert!(html.contains(r#"<option value="dark" selected>"#));
    assert!(html.contains(r##"value="#ff5500""##));
    assert_eq!(app.get_text("/?theme=neon").await.0, 400);
}

#[tokio::test]
async fn a_forged_host_header_does_not_reach_the_page() {
    let app = spawn_app().await;
    let html = app
        .http
        .get(app.url("/"))
        .header("host", "evil.example\"><script>alert(1)</script>")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("evil.example") && !html.contains("<script>alert"));
    let html = app
        .http
        .get(app.url("/"))
        .header("host", "np.example.com")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("http://np.example.com/now-playing.svg"),
        "X-Forwarded-Proto from an untrusted peer is ignored: {html}"
    );
}

#[tokio::test]
async fn the_scheme_of_the_snippets_comes_from_a_trusted_proxy() {
    let app =
        spawn_app_with(|c: &mut Config| c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()])
            .await;
    let html = app
        .http
        .get(app.url("/"))
        .header("host", "np.example.com")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("https://np.example.com/now-playing.svg"),
        "{html}"
    );
}

#[tokio::test]
async fn public_url_wins_over_the_host_header() {
    let app = spawn_app_with(|c: &mut Config| {
        c.public_url = Some("https://music.example.org".parse().unwrap())
    })
    .await;
    let (_, html) = app.get_text("/").await;
    assert!(html.contains("https://music.example.org/embed"), "{html}");
}

#[tokio::test]
async fn the_landing_page_shows_every_list_with_its_snippets_and_a_now_page() {
    let app = spawn_app_with(|c: &mut Config| {
        c.public_url = Some("https://np.example.com".parse().unwrap())
    })
    .await;
    let (status, html) = app.get_text("/?theme=dark").await;
    assert_eq!(status, 200);
    for path in ["/recently-played", "/top/tracks", "/top/artists"] {
        assert!(
            html.contains(&format!("<iframe src=\"/embed{path}?theme=dark\"")),
            "{path} previewed: {html}"
        );
        assert!(
            html.contains(&format!(
                "src=&#34;https://np.example.com/embed{path}?theme=dark&#34;"
            )),
            "{path} iframe snippet: {html}"
        );
        assert!(
            html.contains(&format!("(https://np.example.com{path}.svg?theme=dark)")),
            "{path} SVG snippet: {html}"
        );
    }
    let now_page = html.split("id=\"lp-now-page\">").nth(1).unwrap();
    let now_page = now_page.split("</code>").next().unwrap();
    for part in [
        "/embed?theme=dark",
        "/embed/top/tracks?theme=dark",
        "/embed/recently-played?theme=dark",
    ] {
        assert!(
            now_page.contains(part),
            "{part} in the /now page: {now_page}"
        );
    }
}
