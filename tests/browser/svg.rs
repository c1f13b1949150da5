//! `/now-playing.svg` as a README or blog would use it: an `<img>` on another origin.

use serde_json::json;

use crate::harness::{
    App, Browser, LOAD_DEADLINE, OtherOrigin, TRACK, eventually, spotify_playing,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: .ci/run runs them with --ignored"]
async fn the_svg_card_renders_as_an_img_on_another_origin() {
    let spotify = spotify_playing(TRACK).await;
    let app = App::spawn(&spotify).await;
    let origin = OtherOrigin::start().await;

    // The route exists and answers an SVG document (a 404 fails here, not later as a
    // broken image).
    let response = reqwest::get(app.url("/now-playing.svg"))
        .await
        .expect("the app answers");
    assert_eq!(response.status().as_u16(), 200, "GET /now-playing.svg");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("image/svg+xml"),
        "content-type {content_type:?}"
    );
    let body = response.text().await.unwrap();
    let doc = roxmltree::Document::parse(&body).expect("the card is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");

    let page = origin.page(
        "/",
        &format!(
            r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A README</title></head>
<body style="font-family: sans-serif; margin: 16px; background: #f4f1ea">
<p>Light:</p><img id="light" alt="Now playing" src="{card}?theme=light">
<p>Dark:</p><img id="dark" alt="Now playing" src="{card}?theme=dark">
</body></html>"#,
            card = app.url("/now-playing.svg")
        ),
    );
    let browser = Browser::start().await;
    browser.client.goto(&page).await.expect("the page loads");
    let (sizes, _) = eventually("both cards are loaded", LOAD_DEADLINE, || async {
        let sizes = browser
            .js(r#"return Array.from(document.images).map(function (img) {
                return { id: img.id, complete: img.complete,
                         width: img.naturalWidth, height: img.naturalHeight };
            });"#)
            .await;
        let all_complete = sizes
            .as_array()
            .is_some_and(|imgs| imgs.iter().all(|img| img["complete"] == json!(true)));
        if all_complete {
            Ok(sizes)
        } else {
            Err(sizes.to_string())
        }
    })
    .await;
    for img in sizes.as_array().unwrap() {
        let width = img["width"].as_u64().unwrap_or_default();
        let height = img["height"].as_u64().unwrap_or_default();
        assert!(
            width > 0 && height > 0,
            "the card did not render as an image (a broken image has no natural size): {img}"
        );
    }
    eprintln!("svg cards: {sizes}");
    browser.screenshot("svg-img.png").await;
    browser.close().await;
}
