//! `/now-playing.svg` as a README or blog would use it: an `<img>` on another origin.

use serde_json::json;
use unicode_segmentation::UnicodeSegmentation;

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

/// A title of wide CJK characters, a ZWJ emoji family and combining accents: fitted by
/// display width, each text line of the card ends inside the card as Chromium lays it out,
/// and the cut never splits a grapheme. Writes `svg-wide-text.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: .ci/run runs them with --ignored"]
async fn wide_text_is_fitted_inside_the_svg_card() {
    let title =
        "東京特許許可局長今日急遽休暇許可拒否 👨‍👩‍👧‍👦 Cafe\u{301} Cre\u{300}me Bru\u{302}le\u{301}e";
    let artist = "宇多田ヒカル 👩🏽‍🎤 と 東京事変と椎名林檎と星野源と米津玄師";
    let mut track: serde_json::Value = serde_json::from_str(TRACK).unwrap();
    track["item"]["name"] = json!(title);
    track["item"]["artists"] = json!([{ "name": artist, "external_urls": {} }]);
    let spotify = spotify_playing(&track.to_string()).await;
    let app = App::spawn(&spotify).await;
    let browser = Browser::start().await;
    let mut measured = Vec::new();
    for layout in ["card", "compact"] {
        let url = app.url(&format!("/now-playing.svg?layout={layout}&art=false"));
        browser.client.goto(&url).await.expect("the card loads");
        let (texts, _) = eventually("the card is laid out", LOAD_DEADLINE, || async {
            let texts = browser
                .js(r#"var svg = document.documentElement;
                    if (!svg || svg.tagName !== 'svg' || document.readyState !== 'complete') return null;
                    var width = svg.viewBox.baseVal.width || svg.width.baseVal.value;
                    return { width: width, texts: Array.from(svg.querySelectorAll('text')).map(function (t) {
                        var box = t.getBBox();
                        return { text: t.textContent, left: box.x, right: box.x + box.width };
                    }) };"#)
                .await;
            if texts.is_null() { Err("no SVG document yet".to_owned()) } else { Ok(texts) }
        })
        .await;
        let width = texts["width"].as_f64().unwrap();
        let all: Vec<String> = texts["texts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["text"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert!(
            all.iter().any(|t| t.starts_with("東京特許"))
                && (layout == "compact" || all.iter().any(|t| t.starts_with("宇多田"))),
            "the title (and in the card the artist) are drawn: {all:?}"
        );
        // The card's padding is the left edge of its text: the right edge keeps the same.
        let pad = texts["texts"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["left"].as_f64())
            .fold(f64::MAX, f64::min);
        for text in texts["texts"].as_array().unwrap() {
            let right = text["right"].as_f64().unwrap();
            assert!(
                right <= width - pad,
                "{layout}: {:?} ends at {right:.1} px, past the padding of the {width} px card",
                text["text"]
            );
            let drawn = text["text"].as_str().unwrap_or_default();
            if let Some(cut) = drawn.strip_suffix('…') {
                // A prefix of the whole text that ends between two grapheme clusters.
                let at_boundary = [title, artist].iter().any(|full| {
                    full.starts_with(cut)
                        && full.grapheme_indices(true).any(|(i, _)| i == cut.len())
                });
                assert!(at_boundary, "{layout}: cut inside a grapheme: {drawn:?}");
            }
        }
        measured.push(format!("{layout}: {}", texts));
        browser
            .screenshot(&format!("svg-wide-text-{layout}.png"))
            .await;
    }
    eprintln!("wide text: {}", measured.join("\n"));
    browser.close().await;
}
