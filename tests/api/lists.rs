//! The lists beyond this minute (README: Beyond this minute) as JSON: exact shapes from realistic
//! payloads, `limit` and `range`, one Spotify call per list and TTL whatever the traffic,
//! stale-while-revalidate, the recently played list shared with the `recent` state, a 403
//! as a missing scope, 429/5xx/dead credentials, HTTP caching and CORS, demo mode, `check`.

use std::time::{Duration, Instant};

use now_playing::config::{Config, ServerSettings, Settings, Source, SpotifySettings};
use now_playing::now_playing::lists::{ListId, TopKind, TopRange};
use serde_json::{Value, json as j};
use wiremock::{MockServer, ResponseTemplate};

use crate::helpers::*;
use crate::spotify_mock::*;
use crate::token_lifecycle::{admin_config, basic};

pub(crate) const HISTORY: &str = include_str!("../fixtures/spotify/recently_played_page.json");
pub(crate) const TOP_TRACKS: &str = include_str!("../fixtures/spotify/top_tracks.json");
pub(crate) const TOP_ARTISTS: &str = include_str!("../fixtures/spotify/top_artists.json");
pub(crate) const TOP_TRACKS_PATH: &str = "/v1/me/top/tracks";
pub(crate) const TOP_ARTISTS_PATH: &str = "/v1/me/top/artists";

/// Far below the 5 s call deadline and the delays below: an answer this fast did not wait
/// for Spotify.
const AT_ONCE: Duration = Duration::from_millis(300);

fn top_path(kind: TopKind) -> &'static str {
    match kind {
        TopKind::Tracks => TOP_TRACKS_PATH,
        TopKind::Artists => TOP_ARTISTS_PATH,
    }
}

pub(crate) fn top_body(kind: TopKind) -> &'static str {
    match kind {
        TopKind::Tracks => TOP_TRACKS,
        TopKind::Artists => TOP_ARTISTS,
    }
}

/// Calls Spotify received on `path` with `time_range` = `range`.
pub(crate) async fn calls_for(app: &TestApp, kind: TopKind, range: TopRange) -> usize {
    app.spotify
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| {
            r.url.path() == top_path(kind)
                && r.url
                    .query_pairs()
                    .any(|(k, v)| k == "time_range" && v == range.time_range())
        })
        .count()
}

/// Waits until list `id` is fresh again: for the fetch that a request after its TTL started
/// in the background to land.
async fn list_landed(app: &TestApp, id: ListId) {
    let mut states = app.state.service.lists().subscribe(id);
    let landed = states.wait_for(|s| app.clock.now() < s.refresh_after);
    tokio::time::timeout(Duration::from_secs(10), landed)
        .await
        .expect("the background fetch lands within 10 s")
        .expect("the service lives");
}

/// A copy of `body` with `change` applied.
fn changed(body: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut value: Value = serde_json::from_str(body).unwrap();
    change(&mut value);
    value.to_string()
}

pub(crate) fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Every list route with every range, and a spread of limits, for load tests.
fn spread(i: usize) -> String {
    let limit = 1 + i % 50;
    let range = ["short", "medium", "long"][i / 7 % 3];
    match i % 3 {
        0 => format!("/recently-played?limit={limit}"),
        1 => format!("/top/tracks?range={range}&limit={limit}"),
        _ => format!("/top/artists?range={range}&limit={limit}"),
    }
}

/// `n` requests at once over [`spread`]; every answer is 200 and not stale.
async fn load(app: &TestApp, n: usize) -> Duration {
    let requests = (0..n).map(|i| {
        let http = app.http.clone();
        let url = app.url(&spread(i));
        tokio::spawn(async move {
            let started = Instant::now();
            let response = http.get(url).send().await.expect("an answer");
            let status = response.status().as_u16();
            let doc: Value = response.json().await.expect("JSON");
            (status, doc, started.elapsed())
        })
    });
    let mut slowest = Duration::ZERO;
    for answer in futures_util::future::join_all(requests).await {
        let (status, doc, took) = answer.expect("the request ran");
        assert_eq!(status, 200, "{doc}");
        assert_eq!(doc["stale"], false);
        slowest = slowest.max(took);
    }
    slowest
}

async fn mount_every_list(spotify: &MockServer, times: u64) {
    mount_history(spotify, json(HISTORY), times).await;
    for kind in TopKind::ALL {
        for range in TopRange::ALL {
            mount_top(spotify, kind, range, json(top_body(kind)), times).await;
        }
    }
}

pub(crate) async fn spotify_calls(app: &TestApp) -> (usize, usize) {
    let top = app.calls_to(TOP_TRACKS_PATH).await + app.calls_to(TOP_ARTISTS_PATH).await;
    (app.calls_to(RECENTLY_PLAYED).await, top)
}

#[tokio::test]
async fn recently_played_is_the_item_of_spec_5_with_played_at_newest_first() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_history(&app.spotify, json(HISTORY), 1).await;

    let (status, doc) = app.get_json("/recently-played?limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(
        doc,
        j!({
            "kind": "recently-played",
            "items": [
                {
                    "kind": "track",
                    "title": "Piece of Art",
                    "artists": ["Mykket Morton"],
                    "album": "New World",
                    "url": "https://open.spotify.com/track/0gdt7dB9T58MzldUxy6Hu5",
                    "image_url": "https://i.scdn.co/image/d802f1ccb4a6c5277a3e2adc6ea9c30c6f348626",
                    "duration_ms": 257626,
                    "explicit": false,
                    "is_local": false,
                    "played_at": "2026-11-29T02:55:10.120Z"
                },
                {
                    "kind": "track",
                    "title": "Cappadocia",
                    "artists": ["Ben Böhmer", "Romain Garcia"],
                    "album": "Cappadocia",
                    "url": "https://open.spotify.com/track/4rERaNiKlILD603GJvdEvm",
                    "image_url": "https://i.scdn.co/image/ab67616d00001e0205485d230fb40824e9b5eb9b",
                    "duration_ms": 282063,
                    "explicit": false,
                    "is_local": false,
                    "played_at": "2026-11-29T02:50:41.003Z"
                }
            ],
            "fetched_at": "2026-11-29T03:00:00.000Z",
            "stale": false
        })
    );
    let (_, all) = app.get_json("/recently-played").await;
    let titles: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "Piece of Art",
            "Cappadocia",
            "More Than You Know",
            "Studiogangster",
            "Solitary Daze",
            "If Only (Mega Collab)"
        ],
        "newest first, all six under the default limit of 10"
    );
    assert_eq!(app.get_json("/recently-played?limit=50").await.1, all);
}

#[tokio::test]
async fn top_tracks_are_the_item_of_spec_5_with_rank_for_the_range_asked() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_top(
        &app.spotify,
        TopKind::Tracks,
        TopRange::Medium,
        json(TOP_TRACKS),
        1,
    )
    .await;
    mount_top(
        &app.spotify,
        TopKind::Tracks,
        TopRange::Short,
        json(TOP_TRACKS),
        1,
    )
    .await;

    let (status, doc) = app.get_json("/top/tracks?range=medium&limit=3").await;
    assert_eq!(status, 200);
    assert_eq!(
        doc,
        j!({
            "kind": "top-tracks",
            "range": "medium",
            "items": [
                {
                    "kind": "track",
                    "title": "Studiogangster",
                    "artists": ["Kollegah", "Farid Bang"],
                    "album": "Jung Brutal Gutaussehend 3",
                    "url": "https://open.spotify.com/track/1Rn0dmvcmrkM16ImY8TObH",
                    "image_url": "https://i.scdn.co/image/1b821cf90d21ab3daad0fd6410b459b842330bd0",
                    "duration_ms": 183040,
                    "explicit": true,
                    "is_local": false,
                    "rank": 1
                },
                {
                    "kind": "track",
                    "title": "More Than You Know",
                    "artists": ["Axwell /\\ Ingrosso"],
                    "album": "More Than You Know",
                    "url": "https://open.spotify.com/track/71bBFbfn2OBK5QwUJSLS44",
                    "image_url": "https://i.scdn.co/image/ed38596d8ed2b3fdf2ab9e823df4c5f29758d42f",
                    "duration_ms": 203000,
                    "explicit": false,
                    "is_local": false,
                    "rank": 2
                },
                {
                    "kind": "track",
                    "title": "Piece of Art",
                    "artists": ["Mykket Morton"],
                    "album": "New World",
                    "url": "https://open.spotify.com/track/0gdt7dB9T58MzldUxy6Hu5",
                    "image_url": "https://i.scdn.co/image/d802f1ccb4a6c5277a3e2adc6ea9c30c6f348626",
                    "duration_ms": 257626,
                    "explicit": false,
                    "is_local": false,
                    "rank": 3
                }
            ],
            "fetched_at": "2026-11-29T03:00:00.000Z",
            "stale": false
        })
    );
    let (_, short) = app.get_json("/top/tracks").await;
    assert_eq!(short["range"], "short", "short by default");
    let ranks: Vec<u64> = short["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["rank"].as_u64().unwrap())
        .collect();
    assert_eq!(ranks, [1, 2, 3, 4, 5, 6]);
}

#[tokio::test]
async fn top_artists_are_ranked_with_name_url_image_and_genres() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_top(
        &app.spotify,
        TopKind::Artists,
        TopRange::Long,
        json(TOP_ARTISTS),
        1,
    )
    .await;

    let (status, doc) = app.get_json("/top/artists?range=long&limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(
        doc,
        j!({
            "kind": "top-artists",
            "range": "long",
            "items": [
                {
                    "kind": "artist",
                    "rank": 1,
                    "name": "San Holo",
                    "url": "https://open.spotify.com/artist/0jNDKefhfSbLR9sFvcPLHo",
                    "image_url": "https://i.scdn.co/image/2715054e6248aa3b1b40dfbe3f8245bc92ce99d4",
                    "genres": ["bass trap", "brostep", "catstep", "edm", "electro house",
                               "electronic trap", "tracestep", "tropical house", "vapor twitch"]
                },
                {
                    "kind": "artist",
                    "rank": 2,
                    "name": "Kollegah",
                    "url": "https://open.spotify.com/artist/6gto7HVNhu4ARE3P3g8Y5Y",
                    "image_url": "https://i.scdn.co/image/aea835f0bef07b177f2cc0ab0c74512d986b9b90",
                    "genres": ["german hip hop"]
                }
            ],
            "fetched_at": "2026-11-29T03:00:00.000Z",
            "stale": false
        })
    );
    let (_, all) = app.get_json("/top/artists?range=long&limit=50").await;
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    assert_eq!(items[3]["name"], "SXTN");
    assert_eq!(
        items[3]["image_url"], "https://i.scdn.co/image/31a91649e012a8cf9f8e1acc61883e0859e24f6a",
        "the image closest to 300 px"
    );
}

#[tokio::test]
async fn list_text_and_urls_are_cleaned_like_the_now_playing_item() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    let artists = changed(TOP_ARTISTS, |v| {
        v["items"][0]["name"] = j!("San\u{0} Holo\u{1b}[31m");
        v["items"][0]["external_urls"]["spotify"] = j!("http://open.spotify.com/artist/x");
        v["items"][0]["images"] = j!([{ "url": "https://evil.example/a.jpg", "width": 300 }]);
        v["items"][1]["name"] = Value::Null;
        v["items"][2]["genres"] = Value::Null;
    });
    mount_top(
        &app.spotify,
        TopKind::Artists,
        TopRange::Short,
        json(&artists),
        1,
    )
    .await;
    let tracks = changed(TOP_TRACKS, |v| {
        v["items"][0]["external_urls"]["spotify"] = j!("https://open.spotify.com.evil.example/t");
        v["items"][0]["album"]["images"] = Value::Null;
        v["items"][1]["name"] = j!("line\u{2028}\u{FFFF}break");
    });
    mount_top(
        &app.spotify,
        TopKind::Tracks,
        TopRange::Short,
        json(&tracks),
        1,
    )
    .await;

    let (_, doc) = app.get_json("/top/artists").await;
    let first = &doc["items"][0];
    assert_eq!(first["name"], "San  Holo [31m");
    assert_eq!(first["url"], Value::Null, "not https");
    assert_eq!(first["image_url"], Value::Null, "not Spotify's image host");
    assert_eq!(
        doc["items"][1]["name"], "Tiësto",
        "a nameless artist is left out and the ranks close up"
    );
    assert_eq!(doc["items"][1]["rank"], 2);
    assert_eq!(doc["items"][1]["genres"], j!([]));

    let (_, doc) = app.get_json("/top/tracks").await;
    assert_eq!(doc["items"][0]["url"], Value::Null);
    assert_eq!(doc["items"][0]["image_url"], Value::Null);
    assert_eq!(doc["items"][1]["title"], "line\u{2028} break");
}

#[tokio::test]
async fn a_bad_limit_or_range_is_a_400_naming_it_and_its_allowed_values() {
    let app = spawn_app().await;
    on_token(&app.spotify).respond(json(TOKEN)).await;
    for (route, name, allowed) in [
        ("/recently-played?limit=0", "limit", "1 to 50"),
        ("/recently-played?limit=51", "limit", "1 to 50"),
        ("/recently-played?limit=x", "limit", "1 to 50"),
        ("/top/tracks?limit=0", "limit", "1 to 50"),
        ("/top/tracks?limit=51&range=short", "limit", "1 to 50"),
        ("/top/artists?limit=x", "limit", "1 to 50"),
        ("/top/tracks?range=week", "range", "short"),
        ("/top/artists?range=year&limit=5", "range", "long"),
        ("/top/artists?range=", "range", "medium"),
    ] {
        let response = app.get(route).await;
        assert_eq!(response.status().as_u16(), 400, "{route}");
        assert_eq!(header(&response, "cache-control"), "no-store", "{route}");
        assert_eq!(
            header(&response, "access-control-allow-origin"),
            "*",
            "{route}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_parameter", "{route}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("`{name}`")) && message.contains(allowed),
            "{route}: {message}"
        );
    }
    assert_eq!(
        spotify_calls(&app).await,
        (0, 0),
        "nothing asked of Spotify"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_requests_over_every_list_make_one_call_per_list_and_ttl() {
    let app = spawn_app().await;
    // The access token lives an hour: refreshed once more before the top lists expire.
    mount_token(&app.spotify, 2).await;
    mount_history(&app.spotify, json(HISTORY), 3).await;
    for kind in TopKind::ALL {
        for range in TopRange::ALL {
            mount_top(&app.spotify, kind, range, json(top_body(kind)), 2).await;
        }
    }

    // Before any answer: everyone waits for the one call per list.
    load(&app, 1000).await;
    assert_eq!(
        spotify_calls(&app).await,
        (1, 6),
        "1,000 requests: one recently-played call and one per type and range"
    );
    for kind in TopKind::ALL {
        for range in TopRange::ALL {
            assert_eq!(calls_for(&app, kind, range).await, 1, "{kind:?} {range:?}");
        }
    }

    app.advance(59);
    load(&app, 200).await;
    assert_eq!(spotify_calls(&app).await, (1, 6), "within every TTL: none");

    // Recently played is a minute old: one call; the top lists are not due for an hour.
    app.advance(1);
    load(&app, 200).await;
    list_landed(&app, ListId::RecentlyPlayed).await;
    load(&app, 200).await;
    assert_eq!(spotify_calls(&app).await, (2, 6));

    // An hour on, every list once more, answered at once from the old lists meanwhile.
    app.advance(3540);
    let slowest = load(&app, 200).await;
    for id in ListId::ALL {
        list_landed(&app, id).await;
    }
    load(&app, 200).await;
    let calls = spotify_calls(&app).await;
    assert_eq!(calls, (3, 12), "after TOP_TTL, one more call per list");
    eprintln!(
        "2,000 requests over the list routes in an hour: {} calls to Spotify; slowest after the TTL {slowest:?}",
        calls.0 + calls.1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_its_ttl_a_list_is_answered_at_once_from_the_old_one_then_the_new_one() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 2).await;
    on_top(&app.spotify, TopKind::Tracks, TopRange::Short)
        .respond(json(TOP_TRACKS))
        .up_to_n_times(1)
        .await;
    let newer = changed(TOP_TRACKS, |v| {
        v["items"].as_array_mut().unwrap().swap(0, 5);
    });
    mount_top(
        &app.spotify,
        TopKind::Tracks,
        TopRange::Short,
        json(&newer).set_delay(Duration::from_secs(2)),
        1,
    )
    .await;
    on_recent(&app.spotify)
        .respond(json(HISTORY))
        .up_to_n_times(1)
        .await;
    mount_history(
        &app.spotify,
        json(&changed(HISTORY, |v| {
            v["items"].as_array_mut().unwrap().remove(0);
        }))
        .set_delay(Duration::from_secs(2)),
        1,
    )
    .await;

    let (_, first) = app.get_json("/top/tracks").await;
    let (_, recent) = app.get_json("/recently-played").await;
    app.advance(3600);
    let started = Instant::now();
    let answers = futures_util::future::join_all((0..20).map(|i| {
        let http = app.http.clone();
        let url = app.url(if i % 2 == 0 {
            "/top/tracks"
        } else {
            "/recently-played"
        });
        async move {
            let response = http.get(url).send().await.unwrap();
            (response.json::<Value>().await.unwrap(), started.elapsed())
        }
    }))
    .await;
    for (i, (doc, took)) in answers.iter().enumerate() {
        assert!(*took < Duration::from_secs(1), "answered after {took:?}");
        let old = if i % 2 == 0 { &first } else { &recent };
        assert_eq!(doc, old, "the old list, as it was, not stale");
    }
    let slowest = answers.iter().map(|(_, t)| *t).max().unwrap();
    assert!(slowest < AT_ONCE * 3, "slowest {slowest:?}");

    list_landed(&app, ListId::Top(TopKind::Tracks, TopRange::Short)).await;
    list_landed(&app, ListId::RecentlyPlayed).await;
    assert!(started.elapsed() >= Duration::from_secs(2));
    let (_, now) = app.get_json("/top/tracks").await;
    assert_eq!(now["items"][0]["title"], "Unforgettable");
    let (_, now) = app.get_json("/recently-played").await;
    assert_eq!(now["items"][0]["title"], "Cappadocia");
    assert_eq!(spotify_calls(&app).await, (2, 2));
}

#[tokio::test]
async fn top_ttl_is_the_configured_one_and_sets_max_age() {
    let app = spawn_app_with(|c| c.top_ttl = Duration::from_secs(120)).await;
    mount_token(&app.spotify, 1).await;
    mount_top(
        &app.spotify,
        TopKind::Artists,
        TopRange::Medium,
        json(TOP_ARTISTS),
        2,
    )
    .await;

    let response = app.get("/top/artists?range=medium").await;
    assert_eq!(
        header(&response, "cache-control"),
        "public, max-age=120, stale-while-revalidate=120"
    );
    app.advance(119);
    app.get("/top/artists?range=medium").await;
    assert_eq!(calls_for(&app, TopKind::Artists, TopRange::Medium).await, 1);
    app.advance(1);
    app.get("/top/artists?range=medium").await;
    list_landed(&app, ListId::Top(TopKind::Artists, TopRange::Medium)).await;
    assert_eq!(calls_for(&app, TopKind::Artists, TopRange::Medium).await, 2);
}

#[tokio::test]
async fn the_recent_state_and_the_recently_played_list_share_one_call() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, "", 1).await;
    mount_history(&app.spotify, json(HISTORY), 1).await;

    let (status, doc) = app.get_json("/now-playing").await;
    assert_eq!(status, 200);
    assert_eq!(doc["state"], "recent");
    assert_eq!(
        doc["item"]["title"], "Piece of Art",
        "the newest of the list"
    );
    assert_eq!(doc["played_at"], "2026-11-29T02:55:10.120Z");
    app.advance(30);
    let (status, list) = app.get_json("/recently-played").await;
    assert_eq!(status, 200);
    assert_eq!(list["items"][0]["title"], "Piece of Art");
    assert_eq!(app.calls_to(RECENTLY_PLAYED).await, 1);
}

#[tokio::test]
async fn the_list_asked_first_serves_the_recent_state_too() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, "", 2).await;
    mount_history(&app.spotify, json(HISTORY), 1).await;

    assert_eq!(app.get_json("/recently-played").await.0, 200);
    app.advance(20);
    assert_eq!(app.get_json("/now-playing").await.1["state"], "recent");
    app.advance(20);
    app.get("/now-playing").await;
    app.refresh_landed().await;
    assert_eq!(app.get_json("/now-playing").await.1["state"], "recent");
    assert_eq!(app.calls_to(RECENTLY_PLAYED).await, 1);
}

#[tokio::test]
async fn a_403_is_a_missing_scope_naming_it_and_the_command_and_is_not_asked_again_within_the_ttl()
{
    let app = spawn_app().await;
    mount_token(&app.spotify, 2).await;
    mount_playing(&app.spotify, TRACK, 1).await;
    mount_top(
        &app.spotify,
        TopKind::Tracks,
        TopRange::Short,
        ResponseTemplate::new(403),
        2,
    )
    .await;
    mount_history(&app.spotify, ResponseTemplate::new(403), 1).await;

    for _ in 0..3 {
        let response = app.get("/top/tracks").await;
        assert_eq!(response.status().as_u16(), 503);
        assert_eq!(header(&response, "cache-control"), "no-store");
        assert_eq!(header(&response, "access-control-allow-origin"), "*");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "missing_scope");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("user-top-read") && message.contains("now-playing auth"),
            "{message}"
        );
        assert!(!message.contains("/auth/login"), "not enabled: {message}");
    }
    let (status, body) = app.get_json("/recently-played").await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "missing_scope");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("user-read-recently-played")
    );
    let (status, doc) = app.get_json("/now-playing").await;
    assert_eq!((status, &doc["state"]), (200, &j!("playing")), "unaffected");

    app.advance(3599);
    assert_eq!(app.get("/top/tracks").await.status().as_u16(), 503);
    assert_eq!(
        calls_for(&app, TopKind::Tracks, TopRange::Short).await,
        1,
        "the 403 is remembered for TOP_TTL"
    );
    app.advance(1);
    app.get("/top/tracks").await;
    list_landed(&app, ListId::Top(TopKind::Tracks, TopRange::Short)).await;
    assert_eq!(calls_for(&app, TopKind::Tracks, TopRange::Short).await, 2);
    let metrics = app.get_text("/metrics").await.1;
    assert!(
        metrics.contains(
            r#"now_playing_spotify_calls_total{endpoint="top_tracks",outcome="forbidden"} 2"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn with_admin_login_the_missing_scope_names_auth_login_which_asks_for_user_top_read() {
    let spotify = MockServer::start().await;
    let config = admin_config(&spotify);
    let app = spawn_with_config(spotify, config).await;
    mount_token(&app.spotify, 1).await;
    mount_top(
        &app.spotify,
        TopKind::Artists,
        TopRange::Short,
        ResponseTemplate::new(403),
        1,
    )
    .await;

    let (status, body) = app.get_json("/top/artists").await;
    assert_eq!(status, 503);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("now-playing auth") && message.contains("/auth/login"),
        "{message}"
    );
    let login = app
        .http
        .get(app.url("/auth/login"))
        .header("authorization", basic(ADMIN_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 302);
    let location = reqwest::Url::parse(&header(&login, "location")).unwrap();
    let scope = location
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .unwrap()
        .1
        .into_owned();
    assert!(
        scope.split(' ').any(|s| s == "user-top-read"),
        "the login asks for the lists' scope: {scope}"
    );
}

#[tokio::test]
async fn a_429_holds_a_list_until_retry_after_and_serves_the_last_one_as_stale() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 2).await;
    let id = ListId::Top(TopKind::Artists, TopRange::Short);
    on_top(&app.spotify, TopKind::Artists, TopRange::Short)
        .respond(json(TOP_ARTISTS))
        .up_to_n_times(1)
        .await;
    on_top(&app.spotify, TopKind::Artists, TopRange::Short)
        .respond(json_status(429, ERROR_429).insert_header("retry-after", "240"))
        .up_to_n_times(1)
        .await;
    mount_top(
        &app.spotify,
        TopKind::Artists,
        TopRange::Short,
        json(TOP_ARTISTS),
        1,
    )
    .await;

    assert_eq!(app.get_json("/top/artists").await.1["stale"], false);
    app.advance(3600);
    app.get("/top/artists").await;
    list_landed(&app, id).await;
    let (status, doc) = app.get_json("/top/artists").await;
    assert_eq!((status, &doc["stale"]), (200, &j!(true)), "the last list");
    assert_eq!(doc["items"][0]["name"], "San Holo");

    app.advance(239);
    assert_eq!(app.get_json("/top/artists").await.1["stale"], true);
    assert_eq!(
        calls_for(&app, TopKind::Artists, TopRange::Short).await,
        2,
        "nothing before Retry-After"
    );
    app.advance(1);
    app.get("/top/artists").await;
    list_landed(&app, id).await;
    assert_eq!(app.get_json("/top/artists").await.1["stale"], false);
    assert_eq!(calls_for(&app, TopKind::Artists, TopRange::Short).await, 3);
}

#[tokio::test]
async fn a_429_before_any_list_is_a_503_with_retry_after() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_history(
        &app.spotify,
        json_status(429, ERROR_429).insert_header("retry-after", "120"),
        1,
    )
    .await;

    let response = app.get("/recently-played").await;
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(header(&response, "retry-after"), "120");
    assert_eq!(header(&response, "cache-control"), "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    app.advance(60);
    let response = app.get("/recently-played").await;
    assert_eq!(header(&response, "retry-after"), "60");
    assert_eq!(app.calls_to(RECENTLY_PLAYED).await, 1);
}

#[tokio::test]
async fn while_spotify_fails_the_last_list_is_stale_for_stale_max_then_503_upstream() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    on_recent(&app.spotify)
        .respond(json(HISTORY))
        .up_to_n_times(1)
        .await;
    mount_history(&app.spotify, ResponseTemplate::new(502), 7).await;

    assert_eq!(app.get_json("/recently-played").await.1["stale"], false);
    // The list expires at 60 s; STALE_MAX (300 s) from then it is still served, stale.
    for at in [60, 120, 180, 240, 300, 360] {
        app.advance(60);
        app.get("/recently-played").await;
        list_landed(&app, ListId::RecentlyPlayed).await;
        let (status, doc) = app.get_json("/recently-played").await;
        assert_eq!(status, 200, "at {at} s");
        assert_eq!(doc["stale"], true, "at {at} s");
        assert_eq!(doc["items"][0]["title"], "Piece of Art");
        assert_eq!(doc["fetched_at"], "2026-11-29T03:00:00.000Z");
    }
    app.advance(60);
    app.get("/recently-played").await;
    list_landed(&app, ListId::RecentlyPlayed).await;
    let response = app.get("/recently-played").await;
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(header(&response, "cache-control"), "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upstream");
    assert_eq!(app.calls_to(RECENTLY_PLAYED).await, 8);
}

#[tokio::test]
async fn dead_credentials_are_a_503_spotify_auth_for_every_list() {
    let app = spawn_app().await;
    on_token(&app.spotify)
        .respond(json_status(400, INVALID_GRANT))
        .await;
    mount_every_list(&app.spotify, 0).await;

    for route in ["/recently-played", "/top/tracks?range=long", "/top/artists"] {
        let (status, body) = app.get_json(route).await;
        assert_eq!(status, 503, "{route}");
        assert_eq!(body["error"]["code"], "spotify_auth", "{route}");
    }
    assert!(
        app.calls_to(TOKEN_PATH).await <= 2,
        "dead credentials are not retried in a loop"
    );
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_retries_once() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 2).await;
    on_top(&app.spotify, TopKind::Tracks, TopRange::Long)
        .respond(json_status(401, ERROR_401))
        .up_to_n_times(1)
        .await;
    mount_top(
        &app.spotify,
        TopKind::Tracks,
        TopRange::Long,
        json(TOP_TRACKS),
        1,
    )
    .await;

    let (status, doc) = app.get_json("/top/tracks?range=long").await;
    assert_eq!(status, 200);
    assert_eq!(doc["items"][0]["title"], "Studiogangster");
    assert_eq!(calls_for(&app, TopKind::Tracks, TopRange::Long).await, 2);
}

#[tokio::test]
async fn each_list_has_a_strong_etag_304_its_own_max_age_head_and_cors() {
    let app = spawn_app_with(|c| {
        c.cors_allow_origins =
            now_playing::config::AllowedOrigins::List(vec!["https://blog.example.com".into()])
    })
    .await;
    mount_token(&app.spotify, 1).await;
    mount_history(&app.spotify, json(HISTORY), 1).await;
    mount_top(
        &app.spotify,
        TopKind::Artists,
        TopRange::Short,
        json(TOP_ARTISTS),
        1,
    )
    .await;

    for (route, max_age) in [("/recently-played", 60), ("/top/artists", 3600)] {
        let response = app
            .http
            .get(app.url(route))
            .header("origin", "https://blog.example.com")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(
            header(&response, "cache-control"),
            format!("public, max-age={max_age}, stale-while-revalidate={max_age}")
        );
        assert_eq!(header(&response, "content-type"), "application/json");
        assert_eq!(
            header(&response, "access-control-allow-origin"),
            "https://blog.example.com"
        );
        let vary: Vec<_> = response.headers().get_all("vary").iter().collect();
        assert!(vary.iter().any(|v| *v == "origin"), "{vary:?}");
        assert!(vary.iter().any(|v| *v == "accept-encoding"), "{vary:?}");
        let etag = header(&response, "etag");
        assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");

        let again = app
            .http
            .get(app.url(route))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status().as_u16(), 304, "{route}");
        assert_eq!(header(&again, "etag"), etag);
        assert_eq!(
            header(&again, "cache-control"),
            format!("public, max-age={max_age}, stale-while-revalidate={max_age}")
        );

        let other = app.get(&format!("{route}?limit=1")).await;
        assert_ne!(header(&other, "etag"), etag, "another limit, another body");

        let head = app.http.head(app.url(route)).send().await.unwrap();
        assert_eq!(head.status().as_u16(), 200);
        assert_eq!(header(&head, "etag"), etag);

        let preflight = app
            .http
            .request(reqwest::Method::OPTIONS, app.url(route))
            .header("origin", "https://blog.example.com")
            .header("access-control-request-method", "GET")
            .send()
            .await
            .unwrap();
        assert_eq!(preflight.status().as_u16(), 204);
        assert_eq!(
            header(&preflight, "access-control-allow-origin"),
            "https://blog.example.com"
        );

        let post = app.http.post(app.url(route)).send().await.unwrap();
        assert_eq!(post.status().as_u16(), 405);
    }
    let stranger = app
        .http
        .get(app.url("/top/artists"))
        .header("origin", "https://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert!(
        stranger
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn list_calls_are_counted_per_endpoint_and_outcome() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_every_list(&app.spotify, 1).await;
    for i in 0..21 {
        app.get(&spread(i)).await;
    }
    let metrics = app.get_text("/metrics").await.1;
    for line in [
        r#"now_playing_spotify_calls_total{endpoint="recently_played",outcome="ok"} 1"#,
        r#"now_playing_spotify_calls_total{endpoint="top_tracks",outcome="ok"} 3"#,
        r#"now_playing_spotify_calls_total{endpoint="top_artists",outcome="ok"} 3"#,
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
}

#[tokio::test]
async fn demo_mode_serves_every_list_with_at_least_five_items_and_never_calls_spotify() {
    let spotify = MockServer::start().await;
    let app = spawn_with_config(
        spotify,
        Config {
            source: Source::Demo,
            port: 0,
            ..Config::default()
        },
    )
    .await;

    let mut routes = vec!["/recently-played?limit=50".to_owned()];
    for kind in ["tracks", "artists"] {
        for range in ["short", "medium", "long"] {
            routes.push(format!("/top/{kind}?range={range}&limit=50"));
        }
    }
    let mut firsts = Vec::new();
    for route in &routes {
        let (status, doc) = app.get_json(route).await;
        assert_eq!(status, 200, "{route}");
        let items = doc["items"].as_array().unwrap();
        assert!(items.len() >= 5, "{route}: {} items", items.len());
        assert_eq!(doc["stale"], false);
        firsts.push(items[0].clone());
        if route.starts_with("/recently-played") {
            let played: Vec<chrono::DateTime<chrono::Utc>> = items
                .iter()
                .map(|i| i["played_at"].as_str().unwrap().parse().unwrap())
                .collect();
            assert!(played.windows(2).all(|w| w[0] >= w[1]), "newest first");
            assert!(
                played[0] < start_time() && played[0] > start_time() - chrono::Duration::hours(1)
            );
        } else {
            assert_eq!(items[0]["rank"], 1, "{route}");
        }
    }
    assert_ne!(firsts[1], firsts[2], "each range its own order");
    assert_eq!(firsts[4]["kind"], "artist");

    // A day later, played_at has moved with the clock.
    app.advance(86_400);
    let (_, later) = app.get_json("/recently-played").await;
    let played: chrono::DateTime<chrono::Utc> = later["items"][0]["played_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(played > start_time() + chrono::Duration::hours(23));
    assert!(
        app.spotify.received_requests().await.unwrap().is_empty(),
        "demo never calls Spotify"
    );
}

#[tokio::test]
async fn top_ttl_is_a_setting_from_60_to_86400_seconds() {
    let settings = |value: &str| Settings {
        server: ServerSettings {
            top_ttl: Some(value.into()),
            ..ServerSettings::default()
        },
        spotify: SpotifySettings::default(),
    };
    assert_eq!(
        settings("900").resolve(true).unwrap().top_ttl,
        Duration::from_secs(900)
    );
    assert_eq!(Config::default().top_ttl, Duration::from_secs(3600));
    for bad in ["59", "86401", "hourly"] {
        let error = settings(bad).resolve(true).unwrap_err().to_string();
        assert!(
            error.contains(&format!("TOP_TTL={bad:?}")) && error.contains("60 to 86400"),
            "{error}"
        );
    }
}

async fn check_with_scope(scope: &str) -> (Option<i32>, String) {
    let spotify = MockServer::start().await;
    let token = j!({
        "access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600, "scope": scope
    });
    on_token(&spotify).respond(json(&token.to_string())).await;
    mount_playing(&spotify, TRACK, 1).await;
    let env = spotify_env(&spotify);
    let output = binary(&["check"], &as_env(&env)).output().await.unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn check_says_which_lists_the_granted_scopes_allow() {
    let (code, out) =
        check_with_scope("user-read-currently-playing user-read-recently-played user-top-read")
            .await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("✓ lists: recently played, top tracks, top artists"),
        "{out}"
    );

    let (code, out) =
        check_with_scope("user-read-currently-playing user-read-recently-played").await;
    assert_eq!(
        code,
        Some(0),
        "the footer works; the lists are optional: {out}"
    );
    assert!(
        out.contains("! lists: recently played (top tracks and top artists need user-top-read)")
            && out.contains("now-playing auth"),
        "{out}"
    );
}
