//! Behaviour toward Spotify: token refresh and reuse, 401, dead credentials, 429, failures.

use std::time::Duration;

use base64::Engine;
use wiremock::ResponseTemplate;

use crate::helpers::*;
use crate::spotify_mock::*;

#[tokio::test]
async fn token_refresh_uses_basic_auth_and_a_form_body() {
    let app = spawn_app().await;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    on_token(&app.spotify)
        .header("authorization", &format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .form("grant_type", "refresh_token")
        .form("refresh_token", REFRESH_TOKEN)
        .respond(json(TOKEN))
        .expect(1)
        .await;
    on_playing(&app.spotify)
        .header("authorization", &format!("Bearer {ACCESS_TOKEN}"))
        .header("user-agent", now_playing::spotify::USER_AGENT)
        .respond(json(TRACK))
        .expect(1)
        .await;

    let (status, body) = app.get_json("/now-playing").await;
    assert_eq!(status, 200);
    assert_eq!(body["item"]["title"], "Digital Love");
}

#[tokio::test]
async fn the_access_token_is_reused_until_a_minute_before_it_expires() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 2).await;
    mount_playing(&app.spotify, TRACK, 3).await;

    app.get("/now-playing").await;
    // The token lives 3600 s and is refreshed from 3540 s on.
    app.advance(3538);
    app.get("/now-playing").await;
    app.refresh_landed().await;
    assert_eq!(
        app.calls_to(TOKEN_PATH).await,
        1,
        "still valid for more than 60 s"
    );
    app.advance(10);
    app.get("/now-playing").await;
    app.refresh_landed().await;
    assert_eq!(
        app.calls_to(TOKEN_PATH).await,
        2,
        "refreshed 60 s before expiry"
    );
}

#[tokio::test]
async fn a_rotated_refresh_token_replaces_the_old_one() {
    let app = spawn_app().await;
    on_token(&app.spotify)
        .form("refresh_token", REFRESH_TOKEN)
        .respond(json(TOKEN_ROTATED))
        .expect(1)
        .await;
    on_token(&app.spotify)
        .form("refresh_token", ROTATED_REFRESH_TOKEN)
        .respond(json(TOKEN))
        .expect(1)
        .await;
    mount_playing(&app.spotify, TRACK, 2).await;

    app.get("/now-playing").await;
    app.advance(3600);
    app.get("/now-playing").await;
    app.refresh_landed().await;
}

#[tokio::test]
async fn a_refresh_without_a_new_refresh_token_keeps_the_old_one() {
    let app = spawn_app().await;
    on_token(&app.spotify)
        .form("refresh_token", REFRESH_TOKEN)
        .respond(json(TOKEN))
        .expect(2)
        .await;
    mount_playing(&app.spotify, TRACK, 2).await;

    app.get("/now-playing").await;
    app.advance(3600);
    app.get("/now-playing").await;
    app.refresh_landed().await;
}

#[tokio::test]
async fn nothing_playing_is_204_or_an_empty_body() {
    for response in [
        ResponseTemplate::new(204),
        ResponseTemplate::new(200).set_body_string(""),
    ] {
        let app = spawn_app_with(|c| c.show_recent = false).await;
        mount_token(&app.spotify, 1).await;
        on_playing(&app.spotify).respond(response).expect(1).await;

        let (status, body) = app.get_json("/now-playing").await;
        assert_eq!(status, 200);
        assert_eq!(body["state"], "idle");
        assert_eq!(body["item"], serde_json::Value::Null);
    }
}

#[tokio::test]
async fn a_401_refreshes_once_and_retries_once() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 2).await;
    on_playing(&app.spotify)
        .respond(json_status(401, ERROR_401))
        .up_to_n_times(1)
        .expect(1)
        .await;
    mount_playing(&app.spotify, TRACK, 1).await;

    let (status, body) = app.get_json("/now-playing").await;
    assert_eq!(status, 200);
    assert_eq!(body["state"], "playing");
}

#[tokio::test]
async fn a_401_after_the_retry_is_not_retried_again() {
    let app = spawn_app_with(|c| c.stale_max = Duration::ZERO).await;
    mount_token(&app.spotify, 2).await;
    on_playing(&app.spotify)
        .respond(json_status(401, ERROR_401))
        .expect(2)
        .await;

    let (status, body) = app.get_json("/now-playing").await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "upstream");
}

#[tokio::test]
async fn invalid_grant_answers_spotify_auth_and_retries_at_most_once_a_minute() {
    let app = spawn_app().await;
    on_token(&app.spotify)
        .respond(json_status(400, INVALID_GRANT))
        .expect(2)
        .await;
    mount_playing(&app.spotify, TRACK, 0).await;

    for _ in 0..5 {
        let (status, body) = app.get_json("/now-playing").await;
        assert_eq!(status, 503);
        assert_eq!(body["state"], "unavailable");
        assert_eq!(body["error"]["code"], "spotify_auth");
        app.refresh_landed().await;
        app.advance(10);
    }
    assert_eq!(
        app.calls_to(TOKEN_PATH).await,
        1,
        "no new attempt within a minute"
    );
    app.advance(20);
    app.get("/now-playing").await;
    app.refresh_landed().await;
    assert_eq!(
        app.calls_to(TOKEN_PATH).await,
        2,
        "one new attempt after a minute"
    );
}

#[tokio::test]
async fn invalid_client_answers_spotify_auth_even_with_a_last_good_answer() {
    let app = spawn_app().await;
    on_token(&app.spotify)
        .respond(json(TOKEN))
        .up_to_n_times(1)
        .await;
    on_token(&app.spotify)
        .respond(json_status(401, INVALID_CLIENT))
        .await;
    mount_playing(&app.spotify, TRACK, 1).await;

    assert_eq!(app.get_json("/now-playing").await.0, 200);
    app.advance(3600);
    // Answered at once from the last state; the fetch it starts meets invalid_client.
    assert_eq!(app.get_json("/now-playing").await.0, 200);
    app.refresh_landed().await;
    let (status, body) = app.get_json("/now-playing").await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "spotify_auth");
    // The widget forms stay valid pages.
    let (status, html) = app.get_text("/embed").await;
    assert_eq!(status, 200);
    assert!(html.contains("unavailable"));
}

#[tokio::test]
async fn a_429_stops_calls_until_retry_after_has_passed() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    on_playing(&app.spotify)
        .respond(json(TRACK))
        .up_to_n_times(1)
        .await;
    on_playing(&app.spotify)
        .respond(json_status(429, ERROR_429).insert_header("retry-after", "120"))
        .up_to_n_times(1)
        .await;
    mount_playing(&app.spotify, EPISODE, 1).await;

    app.get("/now-playing").await;
    app.advance(10);
    app.get("/now-playing").await;
    app.refresh_landed().await;
    let (status, body) = app.get_json("/now-playing").await;
    assert_eq!(status, 200);
    assert_eq!(
        body["stale"], true,
        "the last good answer is served while rate limited"
    );
    assert_eq!(body["item"]["title"], "Digital Love");
    assert_eq!(app.calls_to(CURRENTLY_PLAYING).await, 2);

    for _ in 0..11 {
        app.advance(10);
        app.get("/now-playing").await;
        app.refresh_landed().await;
    }
    assert_eq!(
        app.calls_to(CURRENTLY_PLAYING).await,
        2,
        "no call inside the Retry-After window"
    );
    app.advance(10);
    let (_, meanwhile) = app.get_json("/now-playing").await;
    assert_eq!(
        meanwhile["stale"], true,
        "answered at once from the last state"
    );
    app.refresh_landed().await;
    let (_, body) = app.get_json("/now-playing").await;
    assert_eq!(app.calls_to(CURRENTLY_PLAYING).await, 3);
    assert_eq!(body["stale"], false);
    assert_eq!(body["item"]["kind"], "episode");
}

#[tokio::test]
async fn a_429_without_a_last_good_answer_is_a_503_with_retry_after() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    on_playing(&app.spotify)
        .respond(json_status(429, ERROR_429).insert_header("retry-after", "30"))
        .expect(1)
        .await;

    let response = app.get("/now-playing").await;
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "30");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
}

#[tokio::test]
async fn server_errors_serve_the_last_good_answer_as_stale_until_stale_max() {
    let app = spawn_app_with(|c| c.stale_max = Duration::from_secs(60)).await;
    mount_token(&app.spotify, 1).await;
    on_playing(&app.spotify)
        .respond(json(TRACK))
        .up_to_n_times(1)
        .await;
    on_playing(&app.spotify)
        .respond(ResponseTemplate::new(502))
        .await;

    let (_, fresh) = app.get_json("/now-playing").await;
    assert_eq!(fresh["stale"], false);
    app.advance(10);
    let (_, meanwhile) = app.get_json("/now-playing").await;
    assert_eq!(meanwhile, fresh, "answered at once from the last state");
    app.refresh_landed().await;
    let (status, stale) = app.get_json("/now-playing").await;
    assert_eq!(status, 200);
    assert_eq!(stale["stale"], true);
    assert_eq!(stale["item"], fresh["item"]);
    assert_eq!(stale["fetched_at"], fresh["fetched_at"]);

    app.advance(51);
    let (status, _) = app.get_json("/now-playing").await;
    assert_eq!(status, 200, "the last state, while the next is fetched");
    app.refresh_landed().await;
    let (status, body) = app.get_json("/now-playing").await;
    assert_eq!(status, 503, "past STALE_MAX");
    assert_eq!(body["error"]["code"], "upstream");
    assert_eq!(
        app.calls_to(CURRENTLY_PLAYING).await,
        3,
        "one call per TTL while failing"
    );
}

#[tokio::test]
async fn malformed_json_is_served_as_stale() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    on_playing(&app.spotify)
        .respond(json(TRACK))
        .up_to_n_times(1)
        .await;
    on_playing(&app.spotify)
        .respond(json("{\"is_playing\": tru"))
        .await;

    app.get("/now-playing").await;
    app.advance(10);
    app.get("/now-playing").await;
    app.refresh_landed().await;
    let (status, body) = app.get_json("/now-playing").await;
    assert_eq!(status, 200);
    assert_eq!(body["stale"], true);
}

#[tokio::test]
async fn a_hanging_spotify_is_cut_off_after_five_seconds_and_served_as_stale() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    on_playing(&app.spotify)
        .respond(json(TRACK))
        .up_to_n_times(1)
        .await;
    on_playing(&app.spotify)
        .respond(json(TRACK).set_delay(Duration::from_secs(30)))
        .await;

    app.get("/now-playing").await;
    app.advance(10);
    let started = std::time::Instant::now();
    let (status, body) = app.get_json("/now-playing").await;
    let answered = started.elapsed();
    assert_eq!((status, &body["stale"]), (200, &false.into()));
    assert!(
        answered < Duration::from_millis(300),
        "answered at once from the last state, in {answered:?}"
    );
    app.refresh_landed().await;
    let cut_off = started.elapsed();
    assert!(
        cut_off >= Duration::from_millis(4900) && cut_off < Duration::from_secs(7),
        "cut off after {cut_off:?}"
    );
    let (status, body) = app.get_json("/now-playing").await;
    assert_eq!(status, 200);
    assert_eq!(body["stale"], true);
}

#[tokio::test]
async fn unknown_fields_and_removed_fields_do_not_break_parsing() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    let body = track_with(|v| {
        v["brand_new_field"] = serde_json::json!({"nested": [1, 2, 3]});
        v["item"]["another_new_field"] = serde_json::json!(true);
        v["item"].as_object_mut().unwrap().remove("popularity");
        v["item"]
            .as_object_mut()
            .unwrap()
            .remove("available_markets");
        v["item"]["explicit"] = serde_json::Value::Null;
        v["item"]["album"]["images"] = serde_json::Value::Null;
    });
    mount_playing(&app.spotify, &body, 1).await;

    let (status, doc) = app.get_json("/now-playing").await;
    assert_eq!(status, 200);
    assert_eq!(doc["item"]["title"], "Digital Love");
    assert_eq!(doc["item"]["explicit"], false);
    assert_eq!(doc["item"]["image_url"], serde_json::Value::Null);
}

#[tokio::test]
async fn dead_credentials_stay_dead_when_the_retry_fails_otherwise() {
    let app = spawn_app().await;
    on_token(&app.spotify)
        .respond(json(TOKEN))
        .up_to_n_times(1)
        .await;
    on_token(&app.spotify)
        .respond(json_status(400, INVALID_GRANT))
        .up_to_n_times(1)
        .await;
    on_token(&app.spotify)
        .respond(ResponseTemplate::new(500))
        .await;
    mount_playing(&app.spotify, TRACK, 1).await;

    assert_eq!(app.get_json("/now-playing").await.0, 200);
    app.advance(3600); // the access token needs a refresh: invalid_grant
    app.get("/now-playing").await;
    app.refresh_landed().await;
    assert_eq!(
        app.get_json("/now-playing").await.1["error"]["code"],
        "spotify_auth"
    );
    for _ in 0..12 {
        app.advance(10); // the retry a minute later meets a 500
        let (status, body) = app.get_json("/now-playing").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (503, Some("spotify_auth")),
            "not stale data"
        );
        app.refresh_landed().await;
    }
    assert_eq!(
        app.calls_to(TOKEN_PATH).await,
        4,
        "one refresh, then one try a minute"
    );
}

#[tokio::test]
async fn an_absurd_retry_after_or_token_lifetime_cannot_break_the_cache() {
    let app = spawn_app().await;
    on_token(&app.spotify)
        .respond(json(
            r#"{"access_token":"a","token_type":"Bearer","expires_in":18446744073709551615}"#,
        ))
        .expect(1)
        .await;
    on_playing(&app.spotify)
        .respond(json_status(429, ERROR_429).insert_header("retry-after", "18446744073709551615"))
        .expect(1)
        .await;

    for _ in 0..5 {
        let response = app.get("/now-playing").await;
        assert_eq!(response.status().as_u16(), 503);
        let wait: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(wait > 0 && wait <= 86_400, "capped at a day: {wait}");
        app.advance(60);
    }
}

#[tokio::test]
async fn a_429_on_recently_played_holds_every_call_until_retry_after() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, "", 2).await;
    // Asked at the start and once more when the window has passed.
    mount_recent(
        &app.spotify,
        json_status(429, ERROR_429).insert_header("retry-after", "300"),
        2,
    )
    .await;

    assert_eq!(app.get_json("/now-playing").await.1["state"], "idle");
    for _ in 0..29 {
        app.advance(10);
        app.get("/now-playing").await;
        app.refresh_landed().await;
    }
    assert_eq!(
        app.calls_to(CURRENTLY_PLAYING).await,
        1,
        "the app-wide limit holds currently-playing too"
    );
    app.advance(10);
    app.get("/now-playing").await;
    app.refresh_landed().await;
    assert_eq!(app.calls_to(CURRENTLY_PLAYING).await, 2);
}
