//! `/now-playing.svg`: always a valid SVG with HTTP 200, art inlined from Spotify's image
//! hosts only, answered in time whatever happens upstream.

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::json as j;
use wiremock::ResponseTemplate;

use crate::helpers::*;
use crate::spotify_mock::*;

const COVER_PATH: &str = "/image/ab67616d00001e02da5d5aeeabacacc1263c0f4b";

/// Parses the card and checks what every card must be: SVG 1.1 in the SVG namespace, no script.
fn assert_valid_svg(body: &str) -> roxmltree::Document<'_> {
    let doc = roxmltree::Document::parse(body)
        .unwrap_or_else(|e| panic!("not well-formed XML ({e}):\n{body}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    assert_eq!(root.attribute("version"), Some("1.1"));
    assert!(root.attribute("width").is_some() && root.attribute("height").is_some());
    assert!(
        doc.descendants()
            .all(|n| n.tag_name().name() != "script" && n.tag_name().name() != "foreignObject")
    );
    doc
}

fn texts(doc: &roxmltree::Document<'_>) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.tag_name().name() == "text")
        .filter_map(|n| n.text().map(str::to_owned))
        .collect()
}

async fn card(app: &TestApp, query: &str) -> (reqwest::header::HeaderMap, String) {
    let response = app.get(&format!("/now-playing.svg{query}")).await;
    assert_eq!(response.status().as_u16(), 200);
    let headers = response.headers().clone();
    (headers, response.text().await.unwrap())
}

async fn mount_cover(app: &TestApp, response: ResponseTemplate, times: u64) {
    on_image(&app.spotify, COVER_PATH)
        .respond(response)
        .expect(times)
        .await;
}

#[tokio::test]
async fn every_state_and_option_is_a_valid_card() {
    let bodies = [
        ("track", TRACK.to_owned()),
        ("paused", track_with(|v| v["is_playing"] = j!(false))),
        ("episode", EPISODE.to_owned()),
        ("local", LOCAL.to_owned()),
        ("ad", AD.to_owned()),
        ("unknown", UNKNOWN.to_owned()),
        ("nothing", String::new()),
    ];
    for (name, body) in bodies {
        let app = spawn_app().await;
        mount_token(&app.spotify, 1).await;
        mount_playing(&app.spotify, &body, 1).await;
        mount_recent(
            &app.spotify,
            json(RECENT),
            if name == "nothing" { 1 } else { 0 },
        )
        .await;
        on_any_image(&app.spotify).respond(jpeg()).await;
        for query in [
            "",
            "?theme=dark",
            "?theme=light&layout=compact",
            "?art=false&progress=false&bg=transparent&accent=ff8800",
            "?recent=false",
        ] {
            let (headers, svg) = card(&app, query).await;
            assert_eq!(headers["content-type"], "image/svg+xml", "{name}{query}");
            assert_eq!(
                headers["cache-control"],
                "public, max-age=10, stale-while-revalidate=10"
            );
            assert!(headers.contains_key("etag"));
            assert_eq!(headers["x-content-type-options"], "nosniff");
            let doc = assert_valid_svg(&svg);
            assert!(!texts(&doc).is_empty(), "{name}{query}");
        }
    }
}

#[tokio::test]
async fn the_card_shows_title_artists_and_progress() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;
    mount_cover(&app, jpeg(), 1).await;

    let (_, svg) = card(&app, "").await;
    let doc = assert_valid_svg(&svg);
    let texts = texts(&doc);
    assert!(texts.contains(&"Digital Love".to_owned()), "{texts:?}");
    assert!(
        texts.contains(&"Daft Punk, Todd Edwards".to_owned()),
        "{texts:?}"
    );
    assert!(texts.contains(&"NOW PLAYING".to_owned()), "{texts:?}");
    assert!(
        svg.contains("@keyframes np-progress") && svg.contains("class=\"np-accent np-progress\""),
        "the progress bar moves on, in CSS so that reduced motion can stop it"
    );
    assert!(
        svg.contains("@media (prefers-reduced-motion: reduce) { .np-eq rect, .np-progress { animation: none; } }"),
        "no animation under reduced motion"
    );
    assert!(
        svg.contains("np-bounce"),
        "the equaliser is animated in CSS"
    );
}

#[tokio::test]
async fn cover_art_is_inlined_and_fetched_once() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;
    mount_cover(&app, jpeg(), 1).await;

    let expected = format!(
        "xlink:href=\"data:image/jpeg;base64,{}\"",
        base64::engine::general_purpose::STANDARD.encode(JPEG)
    );
    for query in ["", "?theme=dark", "", "?layout=compact"] {
        let (_, svg) = card(&app, query).await;
        assert!(svg.contains(&expected), "{svg}");
    }
}

#[tokio::test]
async fn art_off_spotify_hosts_is_never_fetched() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    let body = track_with(|v| {
        v["item"]["album"]["images"] = j!([
            { "url": "https://evil.example/image/x", "width": 300, "height": 300 },
            { "url": "http://i.scdn.co/image/plain-http", "width": 300, "height": 300 }
        ]);
    });
    mount_playing(&app.spotify, &body, 1).await;
    on_any_image(&app.spotify).respond(jpeg()).expect(0).await;

    let (_, svg) = card(&app, "").await;
    assert_valid_svg(&svg);
    assert!(!svg.contains("data:image"), "a placeholder instead");

    let images = now_playing::spotify::images::Images::new(
        Some(app.spotify.uri().parse().unwrap()),
        app.clock.clone(),
        now_playing::metrics::Metrics::new(),
    );
    for url in [
        "https://evil.example/image/x",
        "http://i.scdn.co/image/x",
        "https://i.scdn.co.evil.example/image/x",
        "javascript:alert(1)",
    ] {
        assert_eq!(
            images.get(url, Duration::from_secs(1)).await,
            now_playing::spotify::images::Art::Unavailable,
            "{url}"
        );
    }
}

#[tokio::test]
async fn art_that_is_too_large_or_not_a_raster_image_gives_a_placeholder() {
    for response in [
        ResponseTemplate::new(200).set_body_raw(vec![0u8; 1024 * 1024 + 1], "image/jpeg"),
        ResponseTemplate::new(200).set_body_raw(
            b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec(),
            "image/svg+xml",
        ),
        ResponseTemplate::new(404),
    ] {
        let app = spawn_app().await;
        mount_token(&app.spotify, 1).await;
        mount_playing(&app.spotify, TRACK, 1).await;
        mount_cover(&app, response, 1).await;
        let (_, svg) = card(&app, "").await;
        assert_valid_svg(&svg);
        assert!(!svg.contains("data:image"), "placeholder");
        assert!(svg.contains("url(#np-ph)"));
    }
}

#[tokio::test]
async fn a_slow_image_host_gives_a_placeholder_in_time() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;
    mount_cover(&app, jpeg().set_delay(Duration::from_secs(10)), 1).await;

    let started = Instant::now();
    let (_, svg) = card(&app, "").await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    assert_valid_svg(&svg);
    assert!(svg.contains("url(#np-ph)"));
}

#[tokio::test]
async fn a_hanging_spotify_still_gets_a_card_in_time() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    on_playing(&app.spotify)
        .respond(json(TRACK).set_delay(Duration::from_secs(20)))
        .await;

    let started = Instant::now();
    let (_, svg) = card(&app, "").await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    let doc = assert_valid_svg(&svg);
    assert!(
        texts(&doc).iter().any(|t| t.contains("unavailable")),
        "{svg}"
    );
}

#[tokio::test]
async fn dead_credentials_and_rate_limits_give_a_neutral_card() {
    for response in [
        json_status(400, INVALID_GRANT),
        json_status(429, ERROR_429).insert_header("retry-after", "60"),
        json_status(500, "{}"),
    ] {
        let app = spawn_app().await;
        on_token(&app.spotify).respond(response).await;
        let (_, svg) = card(&app, "").await;
        let doc = assert_valid_svg(&svg);
        assert!(
            texts(&doc).contains(&"Now playing is unavailable".to_owned()),
            "{svg}"
        );
    }
}

#[tokio::test]
async fn a_hostile_title_is_text_in_the_card() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    let hostile = "</text><script>alert(1)</script>&\"'<";
    mount_playing(
        &app.spotify,
        &track_with(|v| v["item"]["name"] = j!(hostile)),
        1,
    )
    .await;
    let (_, svg) = card(&app, "").await;
    let doc = assert_valid_svg(&svg);
    assert!(texts(&doc).iter().any(|t| t == hostile), "{svg}");
    let title = doc
        .descendants()
        .find(|n| n.tag_name().name() == "title")
        .unwrap();
    assert!(title.text().unwrap().contains(hostile));
}

#[tokio::test]
async fn characters_xml_forbids_never_make_an_invalid_card() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    // Raw JSON text: escapes for C0 controls, U+FFFE, U+FFFF and a lone surrogate, which
    // serde alone refuses.
    let body = track_with(|v| v["item"]["name"] = j!("TITLE_HERE")).replace(
        "TITLE_HERE",
        r"Bell\u0007 and\u0000 nul\uFFFE\uFFFF lone\ud800 end",
    );
    mount_playing(&app.spotify, &body, 1).await;
    let (_, svg) = card(&app, "").await;
    let doc = assert_valid_svg(&svg);
    let title = doc
        .descendants()
        .find(|n| n.tag_name().name() == "title")
        .unwrap()
        .text()
        .unwrap()
        .to_owned();
    assert!(title.contains("Bell  and  nul   lone  end"), "{title}");
    let (status, json) = app.get_json("/now-playing").await;
    assert_eq!(status, 200);
    assert_eq!(json["item"]["title"], "Bell  and  nul   lone  end");
    assert_eq!(json["stale"], false);
}

#[tokio::test]
async fn a_long_title_is_cut_with_an_ellipsis() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    let long = "A title that goes on and on and on, far longer than any card is wide";
    mount_playing(
        &app.spotify,
        &track_with(|v| v["item"]["name"] = j!(long)),
        1,
    )
    .await;
    let (_, svg) = card(&app, "").await;
    let doc = assert_valid_svg(&svg);
    let shown = texts(&doc)
        .into_iter()
        .find(|t| t.starts_with("A title"))
        .unwrap();
    assert!(
        shown.ends_with('…') && shown.chars().count() < long.chars().count(),
        "{shown}"
    );
}
