//! Every string from Spotify is data: escaped in HTML, never in a script context.

use serde_json::json as j;

use crate::helpers::*;
use crate::spotify_mock::*;

const HOSTILE: &str = "</title><script>alert(1)</script>\"'><img src=x onerror=alert(2)>&amp;";

#[tokio::test]
async fn a_hostile_title_renders_as_text_everywhere() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    let body = track_with(|v| {
        v["item"]["name"] = j!(HOSTILE);
        v["item"]["artists"][0]["name"] = j!("<b onmouseover=alert(3)>Daft</b>");
        v["item"]["album"]["name"] = j!("\" autofocus onfocus=alert(4) x=\"");
    });
    mount_playing(&app.spotify, &body, 1).await;

    let (_, doc) = app.get_json("/now-playing").await;
    assert_eq!(
        doc["item"]["title"], HOSTILE,
        "JSON carries the text as data"
    );

    for route in [
        "/embed",
        "/now-playing.html",
        "/embed?layout=compact&theme=dark",
    ] {
        let (status, html) = app.get_text(route).await;
        assert_eq!(status, 200);
        assert!(!html.contains("<script>alert"), "{route}: {html}");
        assert!(!html.contains("<img src=x"), "{route}");
        assert!(!html.contains("<b onmouseover"), "{route}");
        assert!(!html.contains("\" autofocus"), "{route}");
        assert!(
            html.contains("&#60;/title&#62;&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{route}: {html}"
        );
        assert!(html.contains("&#38;amp;"), "{route}: & is escaped too");
    }
    let (_, page) = app.get_text("/embed").await;
    assert_eq!(
        page.matches("<script").count(),
        1,
        "only our own external script"
    );
    assert_eq!(page.matches("</title>").count(), 1);
}

#[tokio::test]
async fn control_characters_and_huge_titles_are_tamed() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    let long = "x".repeat(10_000);
    let body = track_with(|v| {
        v["item"]["name"] = j!(format!("line\nbreak\u{0}{long}"));
    });
    mount_playing(&app.spotify, &body, 1).await;

    let (_, doc) = app.get_json("/now-playing").await;
    let title = doc["item"]["title"].as_str().unwrap();
    assert!(title.starts_with("line break"));
    assert!(title.chars().count() <= 500);
    assert!(!title.contains('\n') && !title.contains('\u{0}'));
    let (status, html) = app.get_text("/embed").await;
    assert_eq!(status, 200);
    assert!(html.contains("np-title"));
}
