//! The lists as accessible widgets: the `.html` fragment, the `.svg` card and the
//! `/embed/...` page of every list read the same list caches as the JSON, show `rank` or
//! `played_at`, apply `limit` and `range`, and stay a neutral 200 card when a list cannot be had.

use now_playing::now_playing::lists::{TopKind, TopRange};
use wiremock::ResponseTemplate;

use crate::helpers::*;
use crate::lists::{HISTORY, TOP_TRACKS_PATH, calls_for, header, spotify_calls, top_body};
use crate::spotify_mock::*;

/// Every form of every list, with every range, for load tests.
fn form(i: usize) -> String {
    let range = ["short", "medium", "long"][i / 12 % 3];
    let list = match i / 4 % 3 {
        0 => "/recently-played".to_owned(),
        1 => format!("/top/tracks?range={range}&"),
        _ => format!("/top/artists?range={range}&"),
    };
    let (path, query) = match list.split_once('?') {
        Some((path, query)) => (path.to_owned(), format!("?{query}")),
        None => (list.clone(), "?".to_owned()),
    };
    match i % 4 {
        0 => format!("{path}{query}limit=3"),
        1 => format!("{path}.html{query}theme=dark"),
        2 => format!("{path}.svg{query}layout=compact"),
        _ => format!("/embed{path}{query}art=false"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_form_of_every_list_shares_one_call_per_list() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_history(&app.spotify, json(HISTORY), 1).await;
    for kind in TopKind::ALL {
        for range in TopRange::ALL {
            mount_top(&app.spotify, kind, range, json(top_body(kind)), 1).await;
        }
    }
    let requests = (0..480).map(|i| {
        let http = app.http.clone();
        let url = app.url(&form(i));
        tokio::spawn(async move {
            let response = http.get(&url).send().await.unwrap();
            (url, response.status().as_u16())
        })
    });
    for answer in futures_util::future::join_all(requests).await {
        let (url, status) = answer.unwrap();
        assert_eq!(status, 200, "{url}");
    }
    assert_eq!(
        spotify_calls(&app).await,
        (1, 6),
        "480 requests over four forms of seven lists"
    );
    for kind in TopKind::ALL {
        for range in TopRange::ALL {
            assert_eq!(calls_for(&app, kind, range).await, 1, "{kind:?} {range:?}");
        }
    }
}

#[tokio::test]
async fn the_widgets_show_rank_or_when_played_with_the_limit_asked() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_history(&app.spotify, json(HISTORY), 1).await;
    mount_top(
        &app.spotify,
        TopKind::Tracks,
        TopRange::Medium,
        json(top_body(TopKind::Tracks)),
        1,
    )
    .await;

    let (status, html) = app.get_text("/top/tracks.html?range=medium&limit=3").await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("<li class=\"np-row\">").count(), 3, "{html}");
    for rank in 1..=3 {
        assert!(
            html.contains(&format!(
                "<span class=\"np-rank\" aria-hidden=\"true\">{rank}</span>"
            )),
            "{html}"
        );
    }
    assert!(html.contains("Top tracks · last 6 months"), "{html}");

    let (_, html) = app.get_text("/recently-played.html").await;
    assert_eq!(
        html.matches("<li class=\"np-row\">").count(),
        5,
        "widgets show 5 by default"
    );
    assert!(
        html.contains("<time class=\"np-row-meta\" datetime=\""),
        "{html}"
    );
    assert!(!html.contains("np-rank"), "{html}");

    let (status, page) = app.get_text("/embed/recently-played?limit=2").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("data-list-source=\"/recently-played?limit=2\""),
        "{page}"
    );
    assert!(page.contains("data-ttl=\"60\""), "{page}");
    assert_eq!(page.matches("<li class=\"np-row\">").count(), 2);

    let (status, svg) = app.get_text("/top/tracks.svg?range=medium&limit=4").await;
    assert_eq!(status, 200);
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert_eq!(doc.root_element().attribute("role"), Some("img"));
    let title = doc
        .descendants()
        .find(|n| n.has_tag_name("title"))
        .and_then(|n| n.text())
        .unwrap();
    assert!(title.starts_with("Top tracks · last 6 months: "), "{title}");
    assert_eq!(title.matches(" by ").count(), 4, "{title}");
}

#[tokio::test]
async fn without_the_scope_the_widgets_are_a_neutral_card_and_the_json_a_503() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_top(
        &app.spotify,
        TopKind::Tracks,
        TopRange::Short,
        ResponseTemplate::new(403),
        1,
    )
    .await;

    for path in ["/top/tracks.html", "/top/tracks.svg", "/embed/top/tracks"] {
        let response = app.get(path).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert_eq!(header(&response, "cache-control"), "no-cache", "{path}");
        let body = response.text().await.unwrap();
        assert!(
            body.contains("Not shared from Spotify yet"),
            "{path}: {body}"
        );
        assert!(
            !body.contains("now-playing auth"),
            "viewers are not told commands: {body}"
        );
    }
    let (status, doc) = app.get_json("/top/tracks").await;
    assert_eq!(status, 503);
    assert_eq!(doc["error"]["code"], "missing_scope");
    assert_eq!(app.calls_to(TOP_TRACKS_PATH).await, 1);
}

#[tokio::test]
async fn a_bad_limit_or_range_on_a_widget_is_a_400_naming_it() {
    let app = spawn_app().await;
    for (path, name) in [
        ("/recently-played.html?limit=0", "limit"),
        ("/top/tracks.svg?limit=51", "limit"),
        ("/embed/top/artists?range=forever", "range"),
        ("/top/artists.html?theme=neon", "theme"),
    ] {
        let (status, doc) = app.get_json(path).await;
        assert_eq!(status, 400, "{path}");
        let message = doc["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{name}`")), "{path}: {message}");
    }
    assert_eq!(spotify_calls(&app).await, (0, 0), "no list was asked for");
}

#[tokio::test]
async fn widget_forms_carry_the_list_max_age_and_a_strong_etag() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_history(&app.spotify, json(HISTORY), 1).await;
    mount_top(
        &app.spotify,
        TopKind::Artists,
        TopRange::Long,
        json(top_body(TopKind::Artists)),
        1,
    )
    .await;
    for (path, max_age) in [
        ("/recently-played.html", 60),
        ("/embed/recently-played", 60),
        ("/top/artists.svg?range=long", 3600),
    ] {
        let response = app.get(path).await;
        assert_eq!(
            header(&response, "cache-control"),
            format!("public, max-age={max_age}, stale-while-revalidate={max_age}"),
            "{path}"
        );
        let etag = header(&response, "etag");
        let again = app
            .http
            .get(app.url(path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status().as_u16(), 304, "{path}");
    }
}
